"""k2p-keras: exact position weight matrices from the motif-detector filters of Keras CNNs.

The main job, in one call (reads the model without running it; the scan loads TensorFlow):

- :func:`extract` (``model``, ``sequences``, ``**options``) -> :class:`ExtractionResult`,
  whose ``.write_meme``, ``.write_summary`` and ``.write_logos`` write the files the
  command line writes; :class:`Options` states every default once.

The pure-numpy core (no TensorFlow import):

- :func:`kernel_to_pwm`, :func:`pwm_to_kernel`, :func:`kernel_constant` (Theorem 1)
- :func:`window_log_likelihood`, :func:`window_constant` (Theorem 3, N rows)
- :func:`estimate_base` (the MLE of the base)
- :func:`read_meme`, :func:`write_meme`

and, imported only when asked for (it loads TensorFlow and Keras):

- :class:`PWMCallback` (``k2p_keras.callback``): PWMs written at the end of every epoch

Axis convention (``k2p_keras.axes``): per-filter arrays are filter-first, PWMs ``(F, L, 4)``;
Keras kernels stay ``(L, 4, F)``; sequences are ``(N, L, 4)``, letters A C G T.
"""
import importlib

from ._version import __version__
from .errors import K2PError, OptionError, PatternError
from .extract import extract, plan_extraction
from .options import Options
from .result import ExtractionResult
from .io.meme import MemeFile, Motif, read_meme, write_meme
from .motifs.mle import BaseEstimate, estimate_base
from .transform import kernel_constant, kernel_to_pwm, pwm_to_kernel, window_constant, window_log_likelihood

__all__ = [
    "__version__", "BaseEstimate", "ExtractionResult", "K2PError", "MemeFile", "Motif", "OptionError", "Options",
    "PatternError", "estimate_base", "extract", "kernel_constant", "kernel_to_pwm", "plan_extraction",
    "pwm_to_kernel", "read_meme", "window_constant", "window_log_likelihood", "write_meme",
]

# Names that load TensorFlow and Keras, imported on first use (PEP 562) so that
# ``import k2p_keras`` stays light: name -> module in this package.
_LAZY = {"PWMCallback": "callback"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
