"""What a scan returns: per-filter sums over the sequences' best windows.

The scan (:func:`k2p_keras.scan.best_windows.scan_best_windows`) reduces sequences x
positions x filters to these small arrays; the sites, the MLE and the heuristic read them.
"""
from dataclasses import dataclass

import numpy as np


#: Bins of the score histogram the scan keeps for the strong sites (:mod:`k2p_keras.motifs.sites`)
#: and for the activation diagnostics (:class:`ActivationSums`).
SCORE_BINS = 1000

#: Most bytes the diagnostics' score histograms per label column may take, (F, J, K) float64:
#: with many columns the grid is coarsened (:func:`label_bins`).
LABEL_HISTOGRAM_BYTES = 256 * 2 ** 20


def score_range(kernel):
    """The lowest and highest score ``x . W`` a window can have, per filter.

    Rows are one-hot, all-zero (N, padding) or 0.25 in every letter, so each row adds
    between ``min(0, min_a W[i, a])`` and ``max(0, max_a W[i, a])``.

    Parameters
    ----------
    kernel : numpy.ndarray, shape (L, 4, F)

    Returns
    -------
    (numpy.ndarray, numpy.ndarray), each shape (F,)
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    low = np.minimum(kernel.min(axis=1), 0.0).sum(axis=0)
    high = np.maximum(kernel.max(axis=1), 0.0).sum(axis=0)
    return low, high


def histogram_grid(kernel, n_bins=SCORE_BINS):
    """Where the scan's score bins of each filter start, and how wide they are.

    Bin ``k`` of filter ``t`` holds the best windows with ``low[t] + k * width[t] <= score
    < low[t] + (k + 1) * width[t]``; scores outside the range (rows that are not one-hot,
    zero or quarter) go to the first or last bin.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray), each shape (F,)
        ``low`` and ``width``; a filter whose every window scores the same gets width 1.
    """
    low, high = score_range(kernel)
    width = (high - low) / int(n_bins)
    return low, np.where(width > 0, width, 1.0)


def label_bins(n_filters, n_labels):
    """Bins of the per-label score histograms: :data:`SCORE_BINS`, or a divisor of it small enough
    that ``(F, J, bins)`` float64 fit :data:`LABEL_HISTOGRAM_BYTES` (at least 10).

    Bin ``k`` of the coarse grid merges the fine bins ``k * r ... k * r + r - 1``, ``r = SCORE_BINS / bins``.
    """
    divisors = [k for k in range(SCORE_BINS, 0, -1) if SCORE_BINS % k == 0]
    fits = [k for k in divisors if 8 * n_filters * max(n_labels, 1) * k <= LABEL_HISTOGRAM_BYTES]
    return max(fits[0] if fits else 10, 10)


@dataclass
class ActivationSums:
    """Each sequence's best window over the whole sequence, summed per filter: the activation
    diagnostics' inputs (:mod:`k2p_keras.annotate.describe.diagnostics`).

    The best window is the filter's largest ``conv + bias`` in the sequence, the per-sequence
    feature a global max-pool passes on; after a local max-pool, the best of the blocks' best
    windows (the same window, except for windows no block holds). The scores are the float64
    ``x . W`` the MLE sums, without the bias.

    Attributes
    ----------
    low, width : numpy.ndarray, shape (F,)
        The grid of :data:`SCORE_BINS` bins (:func:`histogram_grid`).
    count : numpy.ndarray, shape (F, K)
        Sequences per bin of their best window's score.
    label_count : numpy.ndarray, shape (F, J, K')
        The labels (J columns, 1 or 0) summed per bin, on the grid coarsened to ``K'``
        bins (:func:`label_bins`); J = 0 without labels.
    activation_sum : numpy.ndarray, shape (F,)
        The activation of each sequence's best window, summed (read off its values at the
        bins' edges, linearly in between).
    label_activation_sum : numpy.ndarray, shape (F, J)
        The same, each sequence weighted by its label.
    positions : numpy.ndarray, shape (F, P, 2)
        Best windows per position (the window's index among the conv's outputs: its first
        row over the strides, in the padded strand it lies on) and strand (forward, reverse).
    min_length, max_length : int
        The shortest and longest sequence scanned.
    """

    low: np.ndarray
    width: np.ndarray
    count: np.ndarray
    label_count: np.ndarray
    activation_sum: np.ndarray
    label_activation_sum: np.ndarray
    positions: np.ndarray
    min_length: int = 0
    max_length: int = 0

    @property
    def n_labels(self):
        return self.label_count.shape[1]


@dataclass
class ScoreHistogram:
    """The scan's best windows sorted by score into bins, per filter.

    Attributes
    ----------
    low, width : numpy.ndarray, shape (F,)
        The bins' grid (:func:`histogram_grid`).
    count : numpy.ndarray, shape (F, K)
        Best windows in each bin.
    score_sum : numpy.ndarray, shape (F, K)
        Sum of their scores ``x . W`` (no bias).
    row_weight : numpy.ndarray, shape (F, K, L)
        Their summed row weights per kernel position.
    """

    low: np.ndarray
    width: np.ndarray
    count: np.ndarray
    score_sum: np.ndarray
    row_weight: np.ndarray

    @property
    def n_bins(self):
        return self.count.shape[1]


@dataclass
class ScanStats:
    """Per-filter sums over the scanned sequences.

    Attributes
    ----------
    n_sequences : int
        Sequences scanned.
    score_sum : numpy.ndarray, shape (F,)
        Sum of the best window's score ``x . W`` (no bias) over the sequences used for the MLE.
    row_weight : numpy.ndarray, shape (F, L)
        Summed row weight (sum over letters) of each kernel position in those windows.
    n_used : numpy.ndarray, shape (F,)
        Sequences used for the MLE (all, or the active ones with ``active_only``).
    max_preactivation : numpy.ndarray, shape (F,)
        Largest best-window ``conv + bias`` over all sequences.
    letter_counts : numpy.ndarray, shape (F, L, 4), or None
        Summed one-hot rows of the best windows whose ``conv + bias`` exceeds
        ``letter_threshold`` (the heuristic's counts); None when not requested.
    n_letter_windows : numpy.ndarray, shape (F,), or None
        How many windows went into ``letter_counts``.
    score_histogram : ScoreHistogram or None
        Every sequence's best window sorted into score bins (count, score sum, row
        weights per bin), for the ``strong`` sites of :mod:`k2p_keras.motifs.sites`; None when
        not requested.
    letter_totals : numpy.ndarray, shape (4,), or None
        Summed one-hot rows of every scanned sequence (float64): the data's letter
        frequencies once normalised (MEME's background).
    diagnostics : ActivationSums or None
        Each sequence's best window summed for the activation diagnostics; None when not requested.
    """

    n_sequences: int
    score_sum: np.ndarray
    row_weight: np.ndarray
    n_used: np.ndarray
    max_preactivation: np.ndarray
    letter_counts: np.ndarray = None
    n_letter_windows: np.ndarray = None
    score_histogram: ScoreHistogram = None
    letter_totals: np.ndarray = None
    diagnostics: ActivationSums = None
