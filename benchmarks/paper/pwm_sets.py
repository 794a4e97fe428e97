"""The three PWM sets compared: exact (per-filter base), exact (shared base), heuristic."""
import warnings
from dataclasses import dataclass

import numpy as np

from k2p_keras.heuristic import heuristic_pwms
from k2p_keras.pipeline import extract_pwms

SET_NAMES = ("exact_per_filter", "exact_shared", "heuristic")
SET_LABELS = {"exact_per_filter": "exact, per-filter base", "exact_shared": "exact, shared base",
              "heuristic": "heuristic (DeepBind)"}
_BATCH = 256


@dataclass
class PwmSet:
    """One PWM per filter, ``(F, L, 4)``; the exact sets also carry ``ln b`` and ``d`` per filter."""

    name: str
    pwms: np.ndarray
    ln_base: np.ndarray = None
    constants: np.ndarray = None
    n_warnings: int = 0

    @property
    def exact(self):
        return self.constants is not None


def _batches(x):
    return [x[i:i + _BATCH] for i in range(0, len(x), _BATCH)]


def exact_pwm_set(spec, x_train, shared_base):
    """Exact PWMs (Theorem 1) with the base(s) estimated by MLE on the training sequences."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        extraction = extract_pwms(spec, _batches(x_train), base="mle", shared_base=shared_base)
    name = "exact_shared" if shared_base else "exact_per_filter"
    return PwmSet(name=name, pwms=extraction.pwms, ln_base=extraction.ln_base,
                  constants=extraction.constants, n_warnings=len(caught))


def heuristic_pwm_set(spec, x_train):
    """DeepBind's PWMs: letters of the best windows whose activation passes 0, row-normalised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = heuristic_pwms(spec, _batches(x_train), threshold=0.0)
    return PwmSet(name="heuristic", pwms=found.pwms, n_warnings=len(caught))


def pwm_sets(spec, x_train):
    """All three sets, in ``SET_NAMES`` order, as a dict."""
    sets = [exact_pwm_set(spec, x_train, shared_base=False), exact_pwm_set(spec, x_train, shared_base=True),
            heuristic_pwm_set(spec, x_train)]
    return {s.name: s for s in sets}
