"""The TensorFlow scan: each sequence's best window for every filter.

This is the only costly step (sequences x positions x filters x kernel length); everything
downstream works on the small per-filter sums it returns. Batches stream through one
``tf.function``: a float32 convolution (as the model itself computes it) picks the best
window, whose score is then recomputed in float64 from the gathered window so that the
MLE sees exact sums. TensorFlow places the ops on a GPU when it sees one, on the CPU
otherwise; nothing here chooses a device. TensorFlow is imported by the first scan, not
when this module is imported.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np

from ._tf import import_tensorflow
from .errors import K2PError
from .sites import ScoreHistogram, histogram_grid
from .validate import check_bias, check_kernel, check_one_hot_batch, check_positive_int

PADDINGS = ("valid", "same", "causal")


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
        Sequences used for the MLE (all, or the active ones with ``exclude_inactive``).
    max_preactivation : numpy.ndarray, shape (F,)
        Largest best-window ``conv + bias`` over all sequences.
    letter_counts : numpy.ndarray, shape (F, L, 4), or None
        Summed one-hot rows of the best windows whose ``conv + bias`` exceeds
        ``letter_threshold`` (the heuristic's counts); None when not requested.
    n_letter_windows : numpy.ndarray, shape (F,), or None
        How many windows went into ``letter_counts``.
    score_histogram : ScoreHistogram or None
        Every sequence's best window sorted into score bins (count, score sum, row
        weights per bin), for the ``strong`` sites of :mod:`k2p_keras.sites`; None when
        not requested.
    """

    n_sequences: int
    score_sum: np.ndarray
    row_weight: np.ndarray
    n_used: np.ndarray
    max_preactivation: np.ndarray
    letter_counts: np.ndarray = None
    n_letter_windows: np.ndarray = None
    score_histogram: ScoreHistogram = None


def padding_amounts(length, kernel_length, padding="valid", strides=1):
    """Zero rows Keras adds before and after a sequence of ``length`` (TensorFlow's rule)."""
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return kernel_length - 1, 0
    if padding == "same":
        out = math.ceil(length / strides)
        total = max((out - 1) * strides + kernel_length - length, 0)
        return total // 2, total - total // 2
    raise K2PError(f"padding: expected one of {', '.join(PADDINGS)}, got {padding!r}")


def _gather_best(x, kernel32, strides, left, right, length):
    """Best window per (sequence, filter) on one strand: its pre-bias float32 score and rows."""
    tf = import_tensorflow()
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]])
    conv = tf.nn.conv1d(padded, kernel32, stride=strides, padding="VALID")  # (B, P, F)
    best = tf.argmax(conv, axis=1, output_type=tf.int32)  # (B, F)
    rows = best[:, :, None] * strides + tf.range(length)[None, None, :]  # (B, F, L)
    windows = tf.gather(padded, rows, batch_dims=1)  # (B, F, L, 4)
    return tf.reduce_max(conv, axis=1), windows


def _scan_step(x, pads, kernel32, kernel64, bias64, letter_threshold, bin_low, bin_width, *, strides,
               both_strands, exclude_inactive, active_threshold, count_letters, score_bins):
    """Per-filter sums of one batch; the kernel is an argument so one trace serves every kernel."""
    tf = import_tensorflow()
    left, right = pads[0], pads[1]
    length = tf.shape(kernel32)[0]
    top, windows = _gather_best(x, kernel32, strides, left, right, length)
    if both_strands:
        # Reverse complement: reverse the positions, and A C G T -> T G C A reverses channels.
        rc_top, rc_windows = _gather_best(x[:, ::-1, ::-1], kernel32, strides, left, right, length)
        take_rc = rc_top > top
        windows = tf.where(take_rc[:, :, None, None], rc_windows, windows)
    windows = tf.cast(windows, tf.float64)
    score = tf.einsum("bfla,laf->bf", windows, kernel64)
    preact = score + bias64
    if exclude_inactive:
        used = tf.cast(preact > active_threshold, tf.float64)
    else:
        used = tf.ones_like(score)
    out = {
        "score_sum": tf.reduce_sum(used * score, axis=0),
        "row_weight": tf.einsum("bf,bfl->fl", used, tf.reduce_sum(windows, axis=-1)),
        "n_used": tf.reduce_sum(used, axis=0),
        "max_preactivation": tf.reduce_max(preact, axis=0),
    }
    if count_letters:
        counted = tf.cast(preact > letter_threshold, tf.float64)
        out["letter_counts"] = tf.einsum("bf,bfla->fla", counted, windows)
        out["n_letter_windows"] = tf.reduce_sum(counted, axis=0)
    if score_bins:
        out.update(_histogram_step(score, tf.reduce_sum(windows, axis=-1), bin_low, bin_width, score_bins))
    return out


def _histogram_step(score, row_weight, bin_low, bin_width, score_bins):
    """One batch's best windows (score (B, F), row weights (B, F, L)) summed per score bin.

    Counts and score sums come per bin. Row weights would be a (F, K, L) array per batch,
    whose copying cost as much as the rest of the scan; nearly every row weighs 1 (one-hot
    or 0.25 N rows), so only the windows with another row weight (all-zero N or padding
    rows) are returned, with their bin and ``1 - row weight``, for the caller to add up.
    """
    tf = import_tensorflow()
    n_filters = tf.shape(score)[1]
    index = tf.clip_by_value(tf.floor((score - bin_low) / bin_width), 0.0, score_bins - 1.0)
    # Filter t's bins are segments t * K ... t * K + K - 1 of one flat segment sum.
    segment = tf.reshape(tf.cast(index, tf.int32) + tf.range(n_filters)[None, :] * score_bins, [-1])
    n_segments = n_filters * score_bins
    deficit = tf.reshape(1.0 - row_weight, [-1, tf.shape(row_weight)[2]])
    light = tf.reduce_any(deficit != 0.0, axis=1)
    return {"bin_count": tf.math.unsorted_segment_sum(tf.ones_like(segment, tf.float64), segment, n_segments),
            "bin_score_sum": tf.math.unsorted_segment_sum(tf.reshape(score, [-1]), segment, n_segments),
            "deficit_segment": tf.boolean_mask(segment, light), "deficit_rows": tf.boolean_mask(deficit, light)}


# One traced step per static setting. A callback scans a new kernel every epoch; tracing a
# fresh tf.function each time cost more than the scan itself and made TensorFlow warn about
# retracing, so kernels, bias and thresholds are arguments rather than captured constants.
_TRACED_STEPS = {}


def _traced_step(strides, both_strands, exclude_inactive, active_threshold, count_letters, score_bins):
    tf = import_tensorflow()
    key = (strides, both_strands, exclude_inactive, active_threshold, count_letters, score_bins)
    if key not in _TRACED_STEPS:
        step = functools.partial(_scan_step, strides=strides, both_strands=both_strands,
                                 exclude_inactive=exclude_inactive, active_threshold=active_threshold,
                                 count_letters=count_letters, score_bins=score_bins)
        _TRACED_STEPS[key] = tf.function(step, input_signature=[
            tf.TensorSpec([None, None, 4], tf.float32), tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([None, 4, None], tf.float32), tf.TensorSpec([None, 4, None], tf.float64),
            tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64),
            tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64)],
            reduce_retracing=True)
    return _TRACED_STEPS[key]


class _BatchScanner:
    """Holds the kernel as TensorFlow tensors and the traced per-batch function."""

    def __init__(self, kernel, bias, padding, strides, both_strands, exclude_inactive,
                 active_threshold, letter_threshold, score_bins=0):
        tf = import_tensorflow()
        n_filters = kernel.shape[2]
        self.kernel64 = tf.constant(kernel, tf.float64)
        self.kernel32 = tf.constant(kernel, tf.float32)
        self.bias64 = tf.constant(bias, tf.float64)
        self.padding, self.strides = padding, strides
        # A scalar, or one threshold per filter (F,); +-inf let no window or every window through.
        count_letters = letter_threshold is not None
        self.letter_threshold = tf.constant(np.broadcast_to(
            np.asarray(letter_threshold if count_letters else 0.0, dtype=np.float64), (n_filters,)))
        # The score bins' grid (unused, but the traced signature wants it, without score_bins).
        self.bin_low, self.bin_width = (tf.constant(a) for a in histogram_grid(kernel, max(score_bins, 1)))
        self._traced = _traced_step(int(strides), bool(both_strands), bool(exclude_inactive),
                                    float(active_threshold), count_letters, int(score_bins))

    def step(self, x, pads):
        """Per-filter sums of one batch ``x`` (B, length, 4) padded by ``pads`` (left, right)."""
        tf = import_tensorflow()
        x, pads = tf.constant(x, tf.float32), tf.constant(pads, tf.int32)
        return self._traced(x, pads, self.kernel32, self.kernel64, self.bias64, self.letter_threshold,
                            self.bin_low, self.bin_width)


def scan_best_windows(batches, kernel, bias=None, *, padding="valid", strides=1, both_strands=False,
                      exclude_inactive=False, active_threshold=0.0, letter_threshold=None,
                      score_bins=None, progress=None):
    """Scan sequences with a Conv1D kernel and sum what the MLE and the heuristic need.

    Parameters
    ----------
    batches : iterable of numpy.ndarray, each (B, length, 4)
        One-hot sequences (N rows all-zero or 0.25), e.g. ``SequenceSource.iter_batches()``.
    kernel : numpy.ndarray, shape (L, 4, F)
        Cross-correlation kernel with dilation already expanded (zero rows in the gaps).
    bias : numpy.ndarray, shape (F,), optional
    padding : {"valid", "same", "causal"}
        As the Conv1D layer pads: padding rows are zero rows (N).
    strides : int
        Only windows starting at multiples of ``strides`` (in the padded sequence) count.
    both_strands : bool
        Also scan the reverse complement and keep the better of the two best windows.
    exclude_inactive : bool
        Leave out of the MLE sums the sequences whose best ``conv + bias`` is not above
        ``active_threshold`` (a ReLU's zero output).
    active_threshold : float
    letter_threshold : float or numpy.ndarray of shape (F,), optional
        When given, also count the letters of best windows with ``conv + bias`` above it
        (one threshold for all filters, or one per filter).
    score_bins : int, optional
        When given, also sort every sequence's best window into this many bins of its score
        (``ScanStats.score_histogram``; :func:`k2p_keras.sites.histogram_grid` places them).
    progress : callable, optional
        Called with the number of sequences in each finished batch.

    Returns
    -------
    ScanStats
    """
    kernel = check_kernel(kernel, single=False, float32=True)
    n_rows, _, n_filters = kernel.shape
    bias = check_bias(bias, n_filters)
    if padding not in PADDINGS:
        raise K2PError(f"padding: expected one of {', '.join(PADDINGS)}, got {padding!r}")
    strides = check_positive_int(strides, "strides")
    score_bins = 0 if score_bins is None else check_positive_int(score_bins, "score_bins")
    scanner = _BatchScanner(kernel, bias, padding, strides, both_strands, exclude_inactive,
                            active_threshold, letter_threshold, score_bins)
    totals = {}
    deficit = np.zeros((n_filters * score_bins, n_rows))  # see _histogram_step
    n_sequences = 0
    for batch in batches:
        batch = check_one_hot_batch(batch)
        left, right = padding_amounts(batch.shape[1], n_rows, padding, strides)
        if batch.shape[1] + left + right < n_rows:
            raise K2PError(f"sequences of length {batch.shape[1]} are shorter than the kernel ({n_rows})")
        out = scanner.step(batch, [left, right])
        if score_bins:
            np.add.at(deficit, out.pop("deficit_segment").numpy(), out.pop("deficit_rows").numpy())
        for key, value in out.items():
            value = value.numpy()
            if key not in totals:
                totals[key] = value
            elif key == "max_preactivation":
                totals[key] = np.maximum(totals[key], value)
            else:
                totals[key] = totals[key] + value
        n_sequences += batch.shape[0]
        if progress is not None:
            progress(batch.shape[0])
    if n_sequences == 0:
        raise K2PError("no sequences to scan")
    return ScanStats(
        n_sequences=n_sequences,
        score_sum=totals["score_sum"],
        row_weight=totals["row_weight"],
        n_used=totals["n_used"].astype(np.int64),
        max_preactivation=totals["max_preactivation"],
        letter_counts=totals.get("letter_counts"),
        n_letter_windows=None if "n_letter_windows" not in totals else totals["n_letter_windows"].astype(np.int64),
        score_histogram=None if not score_bins else _histogram(scanner, totals, deficit, n_filters, score_bins),
    )


def _histogram(scanner, totals, deficit, n_filters, score_bins):
    count = totals["bin_count"].reshape(n_filters, score_bins)
    return ScoreHistogram(low=scanner.bin_low.numpy(), width=scanner.bin_width.numpy(), count=count,
                          score_sum=totals["bin_score_sum"].reshape(n_filters, score_bins),
                          row_weight=count[:, :, None] - deficit.reshape(n_filters, score_bins, -1))


def conv_preactivation(batch, kernel, bias=None, *, padding="valid", strides=1):
    """``conv + bias`` on every window, as a Conv1D computes it (float32 TensorFlow conv).

    Parameters
    ----------
    batch : numpy.ndarray, shape (B, length, 4)
    kernel : numpy.ndarray, shape (L, 4, F)
        Cross-correlation kernel, dilation expanded.
    bias : numpy.ndarray, shape (F,), optional
    padding : {"valid", "same", "causal"}
    strides : int

    Returns
    -------
    numpy.ndarray, shape (B, positions, F), float64
        Window ``p`` starts at row ``p * strides`` of the sequence padded with zero rows.
    """
    tf = import_tensorflow()
    kernel = check_kernel(kernel, single=False, float32=True)
    batch = check_one_hot_batch(batch)
    left, right = padding_amounts(batch.shape[1], kernel.shape[0], padding, strides)
    padded = tf.pad(tf.constant(batch, tf.float32), [[0, 0], [left, right], [0, 0]])
    conv = tf.nn.conv1d(padded, tf.constant(kernel, tf.float32), stride=int(strides), padding="VALID")
    if bias is not None:
        conv = conv + tf.constant(bias, tf.float32)
    return conv.numpy().astype(np.float64)
