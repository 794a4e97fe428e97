"""The heuristic baseline: PWMs counted from the windows that activate a filter most.

DeepBind's recipe (the seed's ``transform_Deepbind``), the comparison the k2p paper makes:
for every sequence whose maximal activation for a filter exceeds a threshold, take the
argmax window, add its one-hot rows into a count matrix, add a pseudocount of 1e-5 and
normalise the rows. Basset thresholds at a fraction (one half) of the filter's largest
activation over the data instead, which needs that maximum first: two passes.

The letters are counted by the one scan, :func:`k2p_keras.scan.best_windows.scan_best_windows`; this
module turns a threshold on the activation's *output* into the threshold on ``conv + bias``
the scan takes, and counts into probabilities.

    ConvSpec + batches --scan (letter_threshold)--> letter counts --normalise--> PWMs
"""
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..model.activations import check_threshold_fraction, preactivation_threshold, threshold_from_fraction
from ..scan.request import ScanRequest
from .motifset import MotifSet

__all__ = ["DEEPBIND_THRESHOLD", "PSEUDOCOUNT", "HeuristicPWMs", "counts_to_pwms", "heuristic_from_stats",
           "heuristic_pwms"]

PSEUDOCOUNT = 1e-5
#: DeepBind's rule: a sequence counts when its largest activation output is above 0.
DEEPBIND_THRESHOLD = 0.0


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
    letter_totals : numpy.ndarray, shape (4,), or None
        Letters of every scanned sequence (the data's background).
    """

    layer_name: str
    pwms: np.ndarray
    counts: np.ndarray
    n_windows: np.ndarray
    preactivation_threshold: np.ndarray
    output_threshold: float = None
    threshold_fraction: float = None
    n_sequences: int = 0
    letter_totals: np.ndarray = None

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

    def report_figures(self, index):
        return {"windows counted": f"{int(self.n_windows[index])} of {self.n_sequences}"}


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
                         n_sequences=int(stats.n_sequences), letter_totals=stats.letter_totals)


def heuristic_pwms(spec, batches, *, threshold=DEEPBIND_THRESHOLD, threshold_fraction=None, both_strands=False,
                   max_preactivation=None, pseudocount=PSEUDOCOUNT, progress=None, strategy=None):
    """Heuristic (DeepBind / Basset) PWMs for every filter of a motif Conv1D.

    Parameters
    ----------
    spec : ConvSpec
        The layer as :func:`k2p_keras.model.conv.find_motif_conv` describes it; its
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
    strategy : tf.distribute.Strategy, optional
        Scan on the strategy's devices (:func:`k2p_keras.scan.best_windows.scan_best_windows`).

    Returns
    -------
    HeuristicPWMs
    """
    from ..scan.best_windows import run_scan  # numba (or TensorFlow) loads with the first scan

    request = ScanRequest(spec.kernel, spec.bias, padding=spec.padding, strides=spec.strides,
                          both_strands=both_strands, strategy=strategy)

    def fresh():
        return batches() if callable(batches) else batches

    def scan(letter_threshold):
        return run_scan(fresh(), replace(request, letter_threshold=letter_threshold), progress)

    if threshold_fraction is None:
        thresholds = preactivation_threshold(spec.activation, threshold, spec.active_threshold)
        output_threshold = float(threshold)
    else:
        check_threshold_fraction(threshold_fraction)
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
