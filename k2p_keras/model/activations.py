"""Activations after the motif conv: the one table of what each one is and how to invert it.

Two parts of the package ask questions about the activation that follows the conv:

- the exact path (:mod:`.after_conv`) asks whether it is non-decreasing, because only then
  does it commute with the global max-pool, so each sequence's best window does not depend
  on the base (docs/base-estimation.md);
- the heuristic (:mod:`k2p_keras.motifs.heuristic`) asks which ``conv + bias`` threshold is the same as a
  threshold ``t`` on the activation's output: for a non-decreasing ``f``,
  ``f(x) > t`` holds exactly when ``x > sup{x' : f(x') <= t}``.

Both read :data:`ACTIVATIONS`, so every activation the exact path accepts has the inverse
the heuristic needs. The functions follow Keras 3's definitions with their default
parameters (``keras.activations.get(name)``); the tests compare them with Keras itself.
"""
import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit, log_expit

from ..errors import K2PError
from ..validate import check_fraction

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_SHRINK = 0.5      # hard_shrink's and soft_shrink's default threshold in Keras
_SQUAREPLUS_B = 4.0


@dataclass(frozen=True)
class ActivationRule:
    """What one activation is, as the MLE and the heuristic need to know it.

    Attributes
    ----------
    name : str
        Keras's name, e.g. ``"relu"``.
    monotone : bool
        Non-decreasing, so it commutes with the max-pool and the exact MLE applies.
    low, high : float
        The infimum and supremum of its output. An output threshold below ``low`` lets
        every window through, one at or above ``high`` none.
    forward : callable or None
        The activation on a float64 numpy array (monotone activations only).
    inverse : callable or None
        For ``low <= t < high``: ``sup{x : forward(x) <= t}``, so that
        ``forward(x) > t`` exactly when ``x > inverse(t)`` (monotone activations only).
    low_attained : bool
        Some input gives ``low`` (ReLU's 0), so a threshold at ``low`` is inverted; when
        ``low`` is only approached (sigmoid's 0), every window passes it.
    positive_part_only : bool
        Its negative part has a parameter a layer may change (ELU's alpha, a leaky ReLU's
        slope) that the model's pattern check does not carry: only thresholds ``>= 0``,
        where it is the identity, can be inverted.
    """

    name: str
    monotone: bool
    low: float = -math.inf
    high: float = math.inf
    forward: Callable | None = None
    inverse: Callable | None = None
    low_attained: bool = False
    positive_part_only: bool = False


def _identity(t):
    return t


def _invert_numerically(forward, t):
    """``sup{x : forward(x) <= t}`` for a continuous increasing ``forward`` without a closed inverse."""
    from scipy.optimize import brentq  # 2 s of start-up on a busy machine: only for the activations that need it

    lo, hi = -1.0, 1.0
    while float(forward(np.float64(lo))) > t:
        lo *= 2.0
    while float(forward(np.float64(hi))) <= t:
        hi *= 2.0
    return brentq(lambda x: float(forward(np.float64(x))) - t, lo, hi, xtol=1e-14, rtol=1e-15)


def _tanh_shrink(x):
    return x - np.tanh(x)


def _sparse_plus(x):
    return np.where(x <= -1.0, 0.0, np.where(x >= 1.0, x, 0.25 * (x + 1.0) ** 2))


def _hard_shrink(x):
    return np.where(np.abs(x) > _SHRINK, x, 0.0)


def _soft_shrink(x):
    return np.where(x > _SHRINK, x - _SHRINK, np.where(x < -_SHRINK, x + _SHRINK, 0.0))


def _rule(name, low, high, forward, inverse, *, low_attained=False, positive_part_only=False):
    return ActivationRule(name, True, low, high, forward, inverse, low_attained, positive_part_only)


_MONOTONE_RULES = [
    _rule("linear", -math.inf, math.inf, _identity, _identity),
    # relu's own threshold parameter (a ReLU layer's ``threshold``) travels separately as
    # ``active_threshold``; see preactivation_threshold.
    _rule("relu", 0.0, math.inf, lambda x: np.maximum(x, 0.0), _identity, low_attained=True),
    _rule("relu6", 0.0, 6.0, lambda x: np.clip(x, 0.0, 6.0), _identity, low_attained=True),
    _rule("leaky_relu", -math.inf, math.inf, lambda x: np.where(x > 0, x, 0.2 * x), _identity,
          positive_part_only=True),
    _rule("elu", -1.0, math.inf, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
          lambda t: t if t >= 0 else math.log1p(t), positive_part_only=True),
    # Keras has no CELU layer, so "celu" always has its default alpha = 1.
    _rule("celu", -1.0, math.inf, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
          lambda t: t if t >= 0 else math.log1p(t)),
    _rule("selu", -_SELU_SCALE * _SELU_ALPHA, math.inf,
          lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
          lambda t: t / _SELU_SCALE if t >= 0 else math.log1p(t / (_SELU_SCALE * _SELU_ALPHA))),
    _rule("sigmoid", 0.0, 1.0, expit, lambda t: math.log(t / (1.0 - t))),
    # Keras 3's hard_sigmoid, relu6(x + 3) / 6 (Keras 2's had slope 0.2).
    _rule("hard_sigmoid", 0.0, 1.0, lambda x: np.clip((x + 3.0) / 6.0, 0.0, 1.0),
          lambda t: 6.0 * t - 3.0, low_attained=True),
    _rule("sparse_sigmoid", 0.0, 1.0, lambda x: np.clip(0.5 * (x + 1.0), 0.0, 1.0),
          lambda t: 2.0 * t - 1.0, low_attained=True),
    _rule("log_sigmoid", -math.inf, 0.0, log_expit, lambda t: -math.log(math.expm1(-t))),
    _rule("tanh", -1.0, 1.0, np.tanh, math.atanh),
    _rule("hard_tanh", -1.0, 1.0, lambda x: np.clip(x, -1.0, 1.0), _identity, low_attained=True),
    _rule("tanh_shrink", -math.inf, math.inf, _tanh_shrink,
          lambda t: _invert_numerically(_tanh_shrink, t)),
    _rule("softsign", -1.0, 1.0, lambda x: x / (1.0 + np.abs(x)),
          lambda t: t / (1.0 - abs(t))),
    _rule("softplus", 0.0, math.inf, lambda x: np.logaddexp(0.0, x),
          lambda t: math.log(math.expm1(t))),
    _rule("squareplus", 0.0, math.inf, lambda x: 0.5 * (x + np.sqrt(x * x + _SQUAREPLUS_B)),
          lambda t: t - _SQUAREPLUS_B / (4.0 * t)),
    _rule("sparse_plus", 0.0, math.inf, _sparse_plus,
          lambda t: t if t >= 1.0 else 2.0 * math.sqrt(t) - 1.0, low_attained=True),
    _rule("exponential", 0.0, math.inf, np.exp, math.log),
    # Non-decreasing with jumps at +-threshold: sup{x : f(x) <= t} reads off the pieces.
    _rule("hard_shrink", -math.inf, math.inf, _hard_shrink,
          lambda t: t if t >= _SHRINK or t < -_SHRINK else (_SHRINK if t >= 0 else -_SHRINK)),
    _rule("soft_shrink", -math.inf, math.inf, _soft_shrink,
          lambda t: t + _SHRINK if t >= 0 else t - _SHRINK),
]

# Known, and not non-decreasing: the best window before and after them can differ.
_NOT_MONOTONE = ("gelu", "swish", "silu", "mish", "softmax", "log_softmax", "hard_swish",
                 "hard_silu", "glu", "sparsemax")

ACTIVATIONS = {rule.name: rule for rule in _MONOTONE_RULES}
ACTIVATIONS.update({name: ActivationRule(name, False) for name in _NOT_MONOTONE})

# Names configs use for "no activation".
_ALIASES = {None: "linear", "": "linear", "identity": "linear", "none": "linear"}


def activation_rule(name):
    """The :class:`ActivationRule` for an activation name (aliases of linear included), or None."""
    return ACTIVATIONS.get(_ALIASES.get(name, name))


def _monotone_rule(activation):
    rule = activation_rule(activation)
    if rule is None or not rule.monotone:
        accepted = ", ".join(name for name, r in ACTIVATIONS.items() if r.monotone)
        raise K2PError(f"cannot turn a threshold on the output of activation {activation!r} into one "
                       f"on the convolution: expected a non-decreasing activation ({accepted})")
    return rule


def preactivation_threshold(activation, output_threshold, active_threshold=0.0):
    """The threshold on ``conv + bias`` equivalent to ``activation(conv + bias) > output_threshold``.

    Parameters
    ----------
    activation : str
        Normalised name of a non-decreasing activation (``ConvSpec.activation``), e.g.
        ``"relu"``, ``"linear"``, ``"sigmoid"``.
    output_threshold : float
        Threshold on the activation's output.
    active_threshold : float
        A ReLU's own ``threshold`` (``ConvSpec.active_threshold``): below it the ReLU
        outputs 0, so a window must pass it too.

    Returns
    -------
    float
        ``-inf`` when every window passes (a threshold below the activation's range),
        ``+inf`` when none can.

    Raises
    ------
    K2PError
        For an activation that is not known to be non-decreasing (the best window would
        not be the most activating one), or a leaky ReLU / ELU with a negative threshold
        (the negative part's parameter is not known here).
    """
    rule = _monotone_rule(activation)
    t = float(output_threshold)
    if not math.isfinite(t):
        raise K2PError(f"the heuristic's threshold: expected a finite number, got {output_threshold!r}")
    if rule.positive_part_only and t < 0:
        raise K2PError(f"a negative threshold on the output of {rule.name} depends on its negative "
                       "part's parameter; use a threshold >= 0")
    if t < rule.low or (t == rule.low and not rule.low_attained):
        result = -math.inf
    elif t >= rule.high:
        result = math.inf
    else:
        result = float(rule.inverse(t))
    if rule.name in ("relu", "relu6", "leaky_relu") and t >= 0:
        # A ReLU with threshold theta outputs 0 (or less) up to theta.
        result = max(result, float(active_threshold))
    return result


def activation_output(activation, preactivation, active_threshold=0.0):
    """A non-decreasing activation applied to pre-activation values (numpy, float64).

    What :func:`threshold_from_fraction` needs: the largest activation of each filter from
    its largest ``conv + bias``. A ReLU (or leaky ReLU) with a threshold ``theta`` passes
    values above ``theta`` and gives 0 below, the maximum of interest never being below it.
    """
    rule = _monotone_rule(activation)
    x = np.asarray(preactivation, dtype=np.float64)
    if rule.name in ("relu", "leaky_relu"):
        return np.where(x > active_threshold, x, 0.0)
    return rule.forward(x)


def threshold_from_fraction(activation, max_preactivation, fraction, active_threshold=0.0):
    """Per-filter ``conv + bias`` thresholds for "activation above ``fraction`` of its maximum".

    Parameters
    ----------
    activation : str
    max_preactivation : array_like, shape (F,)
        Each filter's largest best-window ``conv + bias`` over the data
        (``ScanStats.max_preactivation``).
    fraction : float
        In [0, 1); Basset uses 0.5.
    active_threshold : float

    Returns
    -------
    numpy.ndarray, shape (F,)
    """
    fraction = check_threshold_fraction(fraction)
    top = activation_output(activation, max_preactivation, active_threshold)
    return np.array([preactivation_threshold(activation, fraction * m, active_threshold) for m in top])


def check_threshold_fraction(fraction):
    """A fraction of the maximal activation in [0, 1) (1 would let no window through)."""
    return check_fraction(fraction, "threshold fraction", include_zero=True, include_one=False)



def activation_forward(activation, active_threshold=0.0):
    """:func:`activation_output` as a function of ``conv + bias`` alone, or None for an activation
    that is not non-decreasing or not known (``conv + bias`` then stands for it)."""
    rule = activation_rule(activation)
    if rule is None or not rule.monotone:
        return None
    return functools.partial(activation_output, rule.name, active_threshold=active_threshold)
