"""The heuristic baseline: PWMs counted from the windows that activate a filter most.

DeepBind's recipe (the seed's ``transform_Deepbind``), the comparison the k2p paper makes:
for every sequence whose maximal activation for a filter exceeds a threshold, take the
argmax window, add its one-hot rows into a count matrix, add a pseudocount of 1e-5 and
normalise the rows. Basset thresholds at a fraction (one half) of the filter's largest
activation over the data instead, which needs that maximum first: two passes.

The letters are counted by the one scan, :func:`k2p_keras.scan.scan_best_windows`; this
module turns a threshold on the activation's *output* into the threshold on ``conv + bias``
the scan takes, and counts into probabilities.

    ConvSpec + batches --scan (letter_threshold)--> letter counts --normalise--> PWMs
"""
import math
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import K2PError
from .motifset import MotifSet

PSEUDOCOUNT = 1e-5

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def _inverse_sigmoid(t):
    return math.log(t / (1.0 - t))


def _inverse_softsign(t):
    return t / (1.0 - abs(t))


# For each non-decreasing activation f: (lowest output, highest output, inverse on the open
# range between them). ``f(x) > t`` then holds exactly when ``x > inverse(t)``; below the
# range every window passes (-inf), at or above it none does (+inf).
_INVERSES = {
    "linear": (-math.inf, math.inf, lambda t: t),
    "relu": (0.0, math.inf, lambda t: t),
    "relu6": (0.0, 6.0, lambda t: t),
    "sigmoid": (0.0, 1.0, _inverse_sigmoid),
    "hard_sigmoid": (0.0, 1.0, lambda t: 6.0 * t - 3.0),
    "tanh": (-1.0, 1.0, math.atanh),
    "softsign": (-1.0, 1.0, _inverse_softsign),
    "softplus": (0.0, math.inf, lambda t: math.log(math.expm1(t))),
    "exponential": (0.0, math.inf, math.log),
    "elu": (-1.0, math.inf, lambda t: t if t >= 0 else math.log1p(t)),
    "hard_tanh": (-1.0, 1.0, lambda t: t),
    "log_sigmoid": (-math.inf, 0.0, lambda t: -math.log(math.expm1(-t))),
    "selu": (-_SELU_SCALE * _SELU_ALPHA, math.inf,
             lambda t: t / _SELU_SCALE if t >= 0 else math.log1p(t / (_SELU_SCALE * _SELU_ALPHA))),
    # Whatever the negative slope, the positive part is the identity.
    "leaky_relu": (0.0, math.inf, lambda t: t),
}
_ALIASES = {None: "linear", "": "linear", "identity": "linear", "none": "linear"}
# Activations whose negative part has a parameter the spec does not carry (slope, alpha):
# only thresholds >= 0, where they are the identity, can be converted.
_POSITIVE_PART_ONLY = ("leaky_relu", "elu")


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
        not be the most activating one), or a leaky ReLU with a negative threshold
        (the slope is not known here).
    """
    name = _ALIASES.get(activation, activation)
    t = float(output_threshold)
    if not math.isfinite(t):
        raise K2PError(f"the heuristic's threshold must be a finite number, got {output_threshold!r}")
    if name not in _INVERSES:
        raise K2PError(f"cannot turn a threshold on the output of activation {activation!r} into one "
                       f"on the convolution: expected a non-decreasing activation "
                       f"({', '.join(sorted(_INVERSES))})")
    low, high, inverse = _INVERSES[name]
    if name in _POSITIVE_PART_ONLY and t < 0:
        raise K2PError(f"a negative threshold on the output of {name} depends on its negative "
                       "part's parameter; use a threshold >= 0")
    if t < low:
        result = -math.inf
    elif t >= high:
        result = math.inf
    else:
        result = inverse(t)
    if name in ("relu", "relu6", "leaky_relu") and t >= 0:
        # A ReLU with threshold theta outputs 0 (or less) up to theta.
        result = max(result, float(active_threshold))
    return result


def activation_output(activation, preactivation, active_threshold=0.0):
    """A non-decreasing activation applied to pre-activation values (numpy, float64).

    Only what :func:`threshold_from_fraction` needs: the largest activation of each filter
    from its largest ``conv + bias``.
    """
    name = _ALIASES.get(activation, activation)
    x = np.asarray(preactivation, dtype=np.float64)
    if name in ("relu", "leaky_relu"):
        # Above the threshold the output is x; the maximum of interest is never below it.
        return np.where(x > active_threshold, x, 0.0)
    functions = {
        "linear": lambda v: v,
        "relu6": lambda v: np.clip(v, 0.0, 6.0),
        "sigmoid": lambda v: 0.5 * (1.0 + np.tanh(0.5 * v)),
        "hard_sigmoid": lambda v: np.clip((v + 3.0) / 6.0, 0.0, 1.0),
        "tanh": np.tanh,
        "softsign": lambda v: v / (1.0 + np.abs(v)),
        "softplus": lambda v: np.logaddexp(0.0, v),
        "exponential": np.exp,
        "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0))),
        "hard_tanh": lambda v: np.clip(v, -1.0, 1.0),
        "log_sigmoid": lambda v: -np.logaddexp(0.0, -v),
        "selu": lambda v: _SELU_SCALE * np.where(v > 0, v, _SELU_ALPHA * np.expm1(np.minimum(v, 0.0))),
    }
    if name not in functions:
        preactivation_threshold(activation, 0.0)  # raises the message for unknown activations
    return functions[name](x)


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
    fraction = _check_fraction(fraction)
    top = activation_output(activation, max_preactivation, active_threshold)
    return np.array([preactivation_threshold(activation, fraction * m, active_threshold) for m in top])


def _check_fraction(fraction):
    try:
        fraction = float(fraction)
    except (TypeError, ValueError):
        raise K2PError(f"threshold fraction must be a number in [0, 1), got {fraction!r}") from None
    if not (0.0 <= fraction < 1.0):
        raise K2PError(f"threshold fraction must be in [0, 1), got {fraction!r}")
    return fraction


def counts_to_pwms(letter_counts, pseudocount=PSEUDOCOUNT):
    """Letter counts ``(..., L, 4)`` to probabilities: add the pseudocount, normalise rows.

    A filter without windows (all counts 0) comes out uniform.
    """
    counts = np.asarray(letter_counts, dtype=np.float64) + float(pseudocount)
    return counts / counts.sum(axis=-1, keepdims=True)


@dataclass
class HeuristicPWMs(MotifSet):
    """Heuristic (DeepBind) PWMs of one Conv1D layer, with what went into them.

    Attributes
    ----------
    layer_name : str
    pwms : numpy.ndarray, shape (F, L, 4)
        Normalised counts; uniform for a filter that no sequence activated.
    counts : numpy.ndarray, shape (F, L, 4)
        Summed one-hot rows of the windows used (0.25 for N rows encoded so).
    n_windows : numpy.ndarray of int, shape (F,)
        Sequences whose best window passed the threshold, one window each.
    preactivation_threshold : numpy.ndarray, shape (F,)
        The threshold on ``conv + bias`` each filter's windows had to exceed.
    output_threshold : float or None
        The absolute threshold on the activation output, when one was given.
    threshold_fraction : float or None
        The fraction of the maximal activation, when that was the rule.
    n_sequences : int
        Sequences scanned.
    """

    layer_name: str
    pwms: np.ndarray
    counts: np.ndarray
    n_windows: np.ndarray
    preactivation_threshold: np.ndarray
    output_threshold: float = None
    threshold_fraction: float = None
    n_sequences: int = 0

    kind = "heuristic"
    figure_columns = ("windows_used", "preactivation_threshold")

    def figures(self, index):
        return {"windows_used": int(self.n_windows[index]),
                "preactivation_threshold": float(self.preactivation_threshold[index])}

    def alt_name(self, index):
        return f"heuristic,windows={int(self.n_windows[index])}"

    def nsites(self, index):
        return int(self.n_windows[index])

    def logo_label(self, index):
        return f"heuristic ({int(self.n_windows[index])} windows)"


def heuristic_from_stats(layer_name, stats, thresholds, *, output_threshold=None, threshold_fraction=None,
                         pseudocount=PSEUDOCOUNT):
    """Heuristic PWMs from a scan that counted letters (``letter_threshold`` given).

    Filters that no sequence activated are kept, as uniform PWMs, with a warning.

    Parameters
    ----------
    layer_name : str
    stats : ScanStats
        With ``letter_counts`` and ``n_letter_windows``.
    thresholds : array_like, shape (F,)
        The ``letter_threshold`` the scan used.
    output_threshold, threshold_fraction : float, optional
        Recorded for the report.
    pseudocount : float

    Returns
    -------
    HeuristicPWMs
    """
    if stats.letter_counts is None:
        raise ValueError("the scan did not count letters: give scan_best_windows a letter_threshold")
    counts = np.ascontiguousarray(stats.letter_counts)
    n_windows = np.asarray(stats.n_letter_windows, dtype=np.int64)
    idle = np.flatnonzero(n_windows == 0)
    if idle.size:
        names = ", ".join(f"{layer_name}_{t}" for t in idle)
        warnings.warn(f"heuristic: no sequence activates filter(s) {names} above the threshold; "
                      "written as uniform PWMs")
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), n_windows.shape).copy()
    return HeuristicPWMs(layer_name=layer_name, pwms=counts_to_pwms(counts, pseudocount), counts=counts,
                         n_windows=n_windows, preactivation_threshold=thresholds,
                         output_threshold=output_threshold, threshold_fraction=threshold_fraction,
                         n_sequences=int(stats.n_sequences))


def heuristic_pwms(spec, batches, *, threshold=0.0, threshold_fraction=None, both_strands=False,
                   max_preactivation=None, pseudocount=PSEUDOCOUNT, progress=None):
    """Heuristic (DeepBind / Basset) PWMs for every filter of a motif Conv1D.

    Parameters
    ----------
    spec : ConvSpec
        The layer as :func:`k2p_keras.graph.find_motif_conv` describes it; its
        ``activation`` turns thresholds on the output into thresholds on ``conv + bias``.
    batches : iterable of numpy.ndarray (B, length, 4), or callable
        The sequences. With ``threshold_fraction`` and no ``max_preactivation`` two passes
        are needed: give a callable returning a fresh iterable each time, e.g.
        ``lambda: source.iter_batches(512)``.
    threshold : float
        A sequence counts when its maximal activation *output* exceeds this (DeepBind: 0).
    threshold_fraction : float, optional
        Instead of ``threshold``: a sequence counts when its maximal activation exceeds
        this fraction of the filter's largest activation over all sequences (Basset: 0.5).
    both_strands : bool
        The best window is over both strands.
    max_preactivation : array_like of shape (F,), optional
        Each filter's largest ``conv + bias`` from an earlier scan of the same sequences
        (``ScanStats.max_preactivation``), which saves the first pass.
    pseudocount : float
    progress : callable, optional
        Receives the number of sequences in each scanned batch (of every pass).

    Returns
    -------
    HeuristicPWMs
    """
    from .scan import scan_best_windows  # TensorFlow loads only when a scan is needed

    def fresh():
        return batches() if callable(batches) else batches

    def scan(letter_threshold):
        return scan_best_windows(fresh(), spec.kernel, spec.bias, padding=spec.padding,
                                 strides=spec.strides, both_strands=both_strands,
                                 letter_threshold=letter_threshold, progress=progress)

    if threshold_fraction is None:
        thresholds = preactivation_threshold(spec.activation, threshold, spec.active_threshold)
        output_threshold = float(threshold)
    else:
        _check_fraction(threshold_fraction)
        if max_preactivation is None:
            if not callable(batches):
                raise ValueError("threshold_fraction needs two passes: give batches as a callable")
            max_preactivation = scan(None).max_preactivation
        thresholds = threshold_from_fraction(spec.activation, max_preactivation, threshold_fraction,
                                             spec.active_threshold)
        output_threshold = None
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (spec.kernel.shape[2],)).copy()
    stats = scan(thresholds)
    return heuristic_from_stats(spec.layer_name, stats, thresholds, output_threshold=output_threshold,
                                threshold_fraction=threshold_fraction, pseudocount=pseudocount)
