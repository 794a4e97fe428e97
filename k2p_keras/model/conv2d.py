"""Conv2D on one-hot DNA, read as the Conv1D it computes.

Some genomics CNNs treat a one-hot sequence as an image. Four layouts compute exactly a
Conv1D scan (Keras stores a Conv2D kernel as ``(height, width, in, F)`` in both data formats;
Keras 1's ``(F, in, height, width)`` of ``dim_ordering='th'`` is brought to it, and Theano's
flip undone, where the file is read: :mod:`k2p_keras.model.files`):

=============================  =====================  ==================  ======================
layout                         model input (no batch) kernel              Conv1D kernel (L, 4, F)
=============================  =====================  ==================  ======================
``keras-genomics``             ``(4, 1, L)``          ``(1, k, 4, F)``    ``K[0]``
(``channels_first``)
``image``                      ``(4, L, 1)``          ``(4, k, 1, F)``    ``K[:, :, 0]``, axes
(``channels_last``)                                                       swapped to ``(k, 4, F)``
``image-channels-first``       ``(1, 4, L)``          ``(4, k, 1, F)``    as ``image``
(``channels_first``; Keras 1
``dim_ordering='th'``)
``row``                        ``(1, L, 4)``          ``(1, k, 4, F)``    ``K[0]``
(``channels_last``)
=============================  =====================  ==================  ======================

The sequence runs along the width, so ``strides``, ``dilation_rate`` and ``padding`` are read
off the width (:func:`k2p_keras.model.settings.conv_settings`); the image layouts need
``valid`` padding so that the kernel's four rows meet the four bases once. Reads configs and arrays only.
"""

from typing import NamedTuple

import numpy as np

from ..errors import K2PError
from .config import is_builtin

CONV2D_CLASSES = frozenset({"Conv2D", "Convolution2D"})

# name -> (data format, model input without batch, what the kernel looks like)
LAYOUTS = {
    "keras-genomics": ("channels_first", "(4, 1, L)", "(1, k, 4, F)"),
    "image": ("channels_last", "(4, L, 1)", "(4, k, 1, F)"),
    "image-channels-first": ("channels_first", "(1, 4, L)", "(4, k, 1, F)"),
    "row": ("channels_last", "(1, L, 4)", "(1, k, 4, F)"),
}


class Conv2DReading(NamedTuple):
    """How a Conv2D on one-hot DNA reads as a Conv1D.

    Attributes
    ----------
    layout : str
        A key of :data:`LAYOUTS`.
    kernel : numpy.ndarray
        ``(k, 4, F)`` float64 Conv1D kernel, cross-correlation orientation.
    """

    layout: str
    kernel: np.ndarray


def is_conv2d(entry):
    """A built-in Keras Conv2D (registered subclasses are not: their call may differ)."""
    return is_builtin(entry) and str(entry.get("class_name", "")) in CONV2D_CLASSES


def kernel_layout(kernel_shape, channels_first):
    """The layout (a key of :data:`LAYOUTS`) of a Conv2D kernel ``(height, width, in, F)``, or None.

    The one rule for the reading of a stored kernel and for the feeding of a live model (influence).
    """
    height, channels = kernel_shape[0], kernel_shape[2]
    if (height, channels) == (4, 1):
        return "image-channels-first" if channels_first else "image"
    if (height, channels) == (1, 4):
        return "keras-genomics" if channels_first else "row"
    return None


def conv2d_as_conv1d(name, settings, kernel):
    """Read a stored Conv2D kernel ``(height, width, in, F)`` as a Conv1D kernel ``(k, 4, F)``.

    Returns
    -------
    Conv2DReading

    Raises
    ------
    K2PError
        When the kernel is in none of the four layouts of one-hot DNA, with what was found.
    """
    if kernel.ndim != 4:
        raise K2PError(f"Conv2D {name!r} has a kernel of shape {kernel.shape}, expected "
                       "(height, width, channels, filters)")
    height, _, channels, _ = kernel.shape
    if settings["groups"] != 1:
        raise K2PError(f"Conv2D {name!r} has groups={settings['groups']}, expected 1")
    layout = kernel_layout(kernel.shape, settings["channels_first"])
    if layout in ("image", "image-channels-first"):
        if settings["padding"] != "valid":
            raise K2PError(f"Conv2D {name!r} spans the 4 bases along the height with padding "
                           f"{settings['padding']!r}: the padded rows shift the bases; expected "
                           "valid padding")
        conv1d = kernel[:, :, 0].transpose(1, 0, 2)
    elif layout is not None:
        conv1d = kernel[0]
    else:
        raise K2PError(f"Conv2D {name!r} ({'channels_first' if settings['channels_first'] else 'channels_last'},"
                       f" kernel {kernel.shape}) is not a scan of one-hot DNA; expected one of "
                       + "; ".join(f"{d} input {i} with kernel {k}" for d, i, k in LAYOUTS.values()))
    if layout.startswith("image") and settings["height_steps"][1] != 1:
        raise K2PError(f"Conv2D {name!r} dilates along the bases, expected 1")
    return Conv2DReading(layout, np.ascontiguousarray(conv1d, dtype=np.float64))


def sequence_length(layout, batch_shape):
    """The sequence length of a model input ``batch_shape`` in ``layout``, or None."""
    if batch_shape is None or len(batch_shape) != 4:
        return None
    length = batch_shape[3] if LAYOUTS[layout][0] == "channels_first" else batch_shape[2]
    return int(length) if isinstance(length, int) else None


def to_layout(batch, layout):
    """Canonical ``(B, L, 4)`` batches in a Conv2D's own layout (for checks against Keras).

    ``keras-genomics`` gives ``(B, 4, 1, L)``, ``image`` ``(B, 4, L, 1)``, ``image-channels-first``
    ``(B, 1, 4, L)``, ``row`` ``(B, 1, L, 4)``.
    """
    batch = np.asarray(batch)
    if layout == "keras-genomics":
        return batch.transpose(0, 2, 1)[:, :, None, :]
    if layout == "image-channels-first":
        return batch.transpose(0, 2, 1)[:, None, :, :]
    if layout == "image":
        return batch.transpose(0, 2, 1)[:, :, :, None]
    return batch[:, None, :, :]
