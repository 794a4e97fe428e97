"""The PWM sets compared: exact PWMs with each site rule and base estimator (shared, per-filter, shrunk), heuristic.

Every exact set reproduces the model exactly; they differ only in the base, that is in how
sharp their PWMs are, which is chosen by which best windows the MLE counts as sites
(:mod:`k2p_keras.motifs.sites`): every sequence's (k2p-1.0, today's default), the active ones, or
the strong ones (activation above half the filter's largest).
"""
import warnings
from dataclasses import dataclass

import numpy as np

from k2p_keras.motifs.heuristic import heuristic_pwms
from k2p_keras.motifs.exact import ExactRequest, extract_pwms

# (set name, sites, base estimator); the first is k2p-1.0's estimate, the baseline of the paired tests.
EXACT_SETS = (
    ("exact_shared", "all", "shared"),
    ("exact_per_filter", "all", "per-filter"),
    ("exact_active_shared", "active", "shared"),
    ("exact_active_per_filter", "active", "per-filter"),
    ("exact_strong_shared", "strong", "shared"),
    ("exact_strong_per_filter", "strong", "per-filter"),
    ("exact_strong_shrunk", "strong", "shrunk"),
)
BASELINE = "exact_shared"
SET_NAMES = tuple(name for name, _, _ in EXACT_SETS) + ("heuristic",)
SET_LABELS = {
    "exact_shared": "exact, shared base", "exact_per_filter": "exact, per-filter base",
    "exact_active_shared": "exact, shared base, active sites",
    "exact_active_per_filter": "exact, per-filter base, active sites",
    "exact_strong_shared": "exact, shared base, strong sites",
    "exact_strong_per_filter": "exact, per-filter base, strong sites",
    "exact_strong_shrunk": "exact, per-filter base shrunk toward the shared one, strong sites",
    "heuristic": "heuristic (DeepBind)",
}
SHORT_LABELS = {"exact_shared": "sh", "exact_per_filter": "pf", "exact_active_shared": "act sh",
                "exact_active_per_filter": "act pf", "exact_strong_shared": "str sh",
                "exact_strong_per_filter": "str pf", "exact_strong_shrunk": "str shr", "heuristic": "heur"}
_BATCH = 256


@dataclass
class PwmSet:
    """One PWM per filter, ``(F, L, 4)``; the exact sets also carry ``ln b`` and ``d`` per filter."""

    name: str
    pwms: np.ndarray
    ln_base: np.ndarray = None
    constants: np.ndarray = None
    n_warnings: int = 0
    tau: float = float("nan")

    @property
    def exact(self):
        return self.constants is not None


def _batches(x):
    return [x[i:i + _BATCH] for i in range(0, len(x), _BATCH)]


def exact_pwm_set(spec, x_train, name, sites, base_estimator):
    """Exact PWMs (Theorem 1) with the base(s) estimated by MLE on the training sequences."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request = ExactRequest(base="mle", base_estimator=base_estimator, sites=sites)
        extraction = extract_pwms(spec, _batches(x_train), request)
    return PwmSet(name=name, pwms=extraction.pwms, ln_base=extraction.ln_base,
                  constants=extraction.constants, n_warnings=len(caught), tau=extraction.estimate.tau)


def heuristic_pwm_set(spec, x_train):
    """DeepBind's PWMs: letters of the best windows whose activation passes 0, row-normalised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = heuristic_pwms(spec, _batches(x_train), threshold=0.0)
    return PwmSet(name="heuristic", pwms=found.pwms, n_warnings=len(caught))


def pwm_sets(spec, x_train):
    """Every set, in ``SET_NAMES`` order, as a dict."""
    sets = [exact_pwm_set(spec, x_train, *args) for args in EXACT_SETS] + [heuristic_pwm_set(spec, x_train)]
    return {s.name: s for s in sets}
