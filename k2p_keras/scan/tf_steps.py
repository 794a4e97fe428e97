"""The scan's TensorFlow steps: each batch's best windows by float32 convolution, and their sums.

Used on a GPU (``locate``: the convolution finds the windows, numba rescores them), for
batches that are not letter codes, without numba, and under a ``tf.distribute`` strategy
(``tensorflow``: the convolution and gathers do everything). TensorFlow is imported by the
first step, not by this module.
"""
import functools
from dataclasses import dataclass

import numpy as np

from .._tf import import_tensorflow
from ..axes import reverse_complement
from ..validate import check_kernel, check_one_hot_batch
from .codes import CODE_COMPLEMENT, N_CODES, QUARTER_CODE, ZERO_CODE
from .devices import from_travelling
from .windows import padding_amounts


# Letter codes: every row of a one-hot batch is A, C, G, T, an all-zero row (N or padding)
# or a 0.25 row (N). The best windows are rescored from these codes by F x L lookups in
# a float64 table instead of a (B, F, L, 4) float64 product, which at 101 bp cost as much
# as the convolution itself. Rows of any other value take the product route.
_CODE_ROWS = ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0), (0.25, 0.25, 0.25, 0.25))


def _one_hot_to_codes(x):
    """Letter codes (B, length) of a float32 one-hot batch, and whether they restore it exactly."""
    tf = import_tensorflow()
    codes = tf.argmax(x, axis=-1, output_type=tf.int32)
    codes = tf.where(tf.reduce_all(x == 0.25, axis=-1), QUARTER_CODE, codes)
    codes = tf.where(tf.reduce_all(x == 0.0, axis=-1), ZERO_CODE, codes)
    exact = tf.reduce_all(tf.gather(tf.constant(_CODE_ROWS, tf.float32), codes) == x)
    return codes, exact


def _best_starts(x, kernel32, strides, left, right, blocks=None):
    """Best window per (sequence, filter) on one strand: its pre-bias float32 score and first row.

    ``blocks``: ``(block_lo, block_hi)`` (M,) int32 (:func:`k2p_keras.scan.windows.pool_blocks`): the
    best window of each block instead, scores and first rows (B, M, F).
    """
    tf = import_tensorflow()
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]])
    conv = tf.nn.conv1d(padded, kernel32, stride=strides, padding="VALID")  # (B, P, F)
    if blocks is None:
        best = tf.argmax(conv, axis=1, output_type=tf.int32)  # (B, F)
        return tf.reduce_max(conv, axis=1), best * strides
    block_lo, block_hi = blocks
    position = block_lo[:, None] + tf.range(tf.reduce_max(block_hi - block_lo))[None, :]  # (M, p)
    inside = position < block_hi[:, None]
    # Positions past a block's end (a short block of "same" pooling) never win, as TensorFlow's -inf padding.
    gathered = tf.gather(conv, tf.minimum(position, tf.shape(conv)[1] - 1), axis=1)  # (B, M, p, F)
    gathered = tf.where(inside[None, :, :, None], gathered, -np.inf)
    best = tf.argmax(gathered, axis=2, output_type=tf.int32)  # (B, M, F)
    return tf.reduce_max(gathered, axis=2), (block_lo[None, :, None] + best) * strides


def _block_sites(top, starts, rc_top, rc_starts, score_floor):
    """Each block's best window over the strands, and whether it is a site: (starts, take_rc, site), each (B, M, F).

    A block's window is no site when it is the previous block's (overlapping blocks: a piece of
    sequence is one draw, however many blocks it wins) or scores below ``score_floor`` (F,).
    """
    tf = import_tensorflow()
    take_rc = tf.zeros_like(starts, tf.bool)
    if rc_starts is not None:
        take_rc = rc_top > top  # the forward strand wins ties
        starts, top = tf.where(take_rc, rc_starts, starts), tf.maximum(top, rc_top)
    first = tf.range(tf.shape(starts)[1])[None, :, None] == 0
    repeat = (starts == tf.roll(starts, 1, axis=1)) & (take_rc == tf.roll(take_rc, 1, axis=1)) & ~first
    return starts, take_rc, ~repeat & (top >= score_floor)


def _window_rows(starts, length):
    tf = import_tensorflow()
    return starts[:, :, None] + tf.range(length)[None, None, :]  # (B, F, L)


def _windows_from_codes(codes, starts, rc_starts, take_rc, left, right, length):
    """The best windows' letter codes (B, F, L), from the forward or the reverse strand."""
    tf = import_tensorflow()
    padded = tf.pad(codes, [[0, 0], [left, right]], constant_values=ZERO_CODE)
    windows = tf.gather(padded, _window_rows(starts, length), batch_dims=1)
    if take_rc is not None:
        rc_padded = tf.gather(tf.constant(CODE_COMPLEMENT, tf.int32), tf.pad(
            codes[:, ::-1], [[0, 0], [left, right]], constant_values=ZERO_CODE))
        rc_windows = tf.gather(rc_padded, _window_rows(rc_starts, length), batch_dims=1)
        windows = tf.where(take_rc[:, :, None], rc_windows, windows)
    return windows


def _windows_from_rows(x, starts, rc_starts, take_rc, left, right, length):
    """The best windows' one-hot rows (B, F, L, 4) in float64, for batches not made of codes."""
    tf = import_tensorflow()
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]])
    windows = tf.gather(padded, _window_rows(starts, length), batch_dims=1)
    if take_rc is not None:
        rc_padded = tf.pad(reverse_complement(x), [[0, 0], [left, right], [0, 0]])
        rc_windows = tf.gather(rc_padded, _window_rows(rc_starts, length), batch_dims=1)
        windows = tf.where(take_rc[:, :, None, None], rc_windows, windows)
    return tf.cast(windows, tf.float64)


def _code_sums(codes, starts, rc_starts, take_rc, left, right, table64):
    """Score (B, F), row weights (B, F, L) and table entries (B, F, L) of code windows.

    With blocks, ``starts`` are (B, M F) and the windows come back as (B M) rows of F.

    ``table64`` (F, L, 6) is :func:`k2p_keras.scan.codes.code_table`; an entry is also the
    window row's (filter, position, code) segment for the letter counts.
    """
    tf = import_tensorflow()
    n_filters, length = tf.shape(table64)[0], tf.shape(table64)[1]
    windows = _windows_from_codes(codes, starts, rc_starts, take_rc, left, right, length)
    windows = tf.reshape(windows, [-1, n_filters, length])  # blocks' windows (B, M F, L) as rows (B M, F, L)
    entry = (tf.range(n_filters)[None, :, None] * length + tf.range(length)[None, None, :]) * N_CODES + windows
    score = tf.reduce_sum(tf.gather(tf.reshape(table64, [-1]), entry), axis=-1)
    row_weight = tf.cast(windows != ZERO_CODE, tf.float64)
    return score, row_weight, entry


def _letters_from_segments(weights, segment, n_filters, length):
    """Letter counts (F, L, 4) from per-window weights (B, F) on code segments (B, F, L)."""
    tf = import_tensorflow()
    data = tf.broadcast_to(weights[:, :, None], tf.shape(segment))
    by_code = tf.reshape(tf.math.unsorted_segment_sum(data, segment, n_filters * length * N_CODES),
                         [n_filters, length, N_CODES])
    return by_code[:, :, :4] + 0.25 * by_code[:, :, QUARTER_CODE:]


def _locate_step(x, pads, kernel32, blocks=None, score_floor=None, *, strides, both_strands):
    """One batch's best windows: first rows (B, F), strand (B, F), letter codes (B, length), exactness.

    With ``blocks`` (:func:`_best_starts`): each block's, (B, M, F), the first row -1 where the
    block's window is no site (:func:`_block_sites`).
    """
    tf = import_tensorflow()
    top, starts = _best_starts(x, kernel32, strides, pads[0], pads[1], blocks)
    take_rc = tf.zeros_like(starts, tf.bool)
    rc_top = rc_starts = None
    if both_strands:
        rc_top, rc_starts = _best_starts(reverse_complement(x), kernel32, strides, pads[0], pads[1], blocks)
        if blocks is None:
            take_rc = rc_top > top
            starts = tf.where(take_rc, rc_starts, starts)
    if blocks is not None:
        starts, take_rc, site = _block_sites(top, starts, rc_top, rc_starts, score_floor)
        starts = tf.where(site, starts, -1)
    codes, exact = _one_hot_to_codes(x)
    return starts, take_rc, tf.cast(codes, tf.uint8), exact


def _scan_step(x, pads, weights, blocks, score_floor, diagnostics, labels, settings):
    """Per-filter sums of one batch; the kernel is an argument so one trace serves every kernel.

    ``weights``: the tensors ``(kernel32, kernel64, table64, bias64, letter_threshold, bin_low,
    bin_width)``; ``settings``: the :class:`StepSettings` the step was traced for. With ``blocks``
    (:func:`_best_starts`) the sums run over each block's best window that is a site
    (:func:`_block_sites`), the blocks' windows taken as (B M) rows of F. With ``settings.diagnose``,
    also the diagnostics' sums (:func:`_diagnostics_step`): ``diagnostics`` is then
    ``(diag_width, activation, label_bins)`` and ``labels`` the batch's labels.
    """
    tf = import_tensorflow()
    kernel32, kernel64, table64, bias64, letter_threshold, bin_low, bin_width = weights
    strides, both_strands = settings.strides, settings.both_strands
    left, right = pads[0], pads[1]
    length, n_filters = tf.shape(kernel32)[0], tf.shape(kernel32)[2]
    top, starts = _best_starts(x, kernel32, strides, left, right, blocks)
    rc_top = rc_starts = take_rc = None
    if both_strands:
        rc_top, rc_starts = _best_starts(reverse_complement(x), kernel32, strides, left, right, blocks)
        take_rc = rc_top > top  # the forward strand wins ties
    site = None
    if blocks is not None:
        starts, take_rc, site = _block_sites(top, starts, rc_top, rc_starts, score_floor)
        site = tf.reshape(tf.cast(site, tf.float64), [-1, n_filters])
        starts = tf.reshape(starts, [tf.shape(x)[0], -1])
        rc_starts, take_rc = (starts, tf.reshape(take_rc, tf.shape(starts))) if both_strands else (None, None)
    codes, exact = _one_hot_to_codes(x)

    def windows_from_rows():
        windows = _windows_from_rows(x, starts, rc_starts, take_rc, left, right, length)
        return tf.reshape(windows, [-1, n_filters, length, 4])

    def from_codes():
        return _code_sums(codes, starts, rc_starts, take_rc, left, right, table64)

    def from_rows():
        windows = windows_from_rows()
        return (tf.einsum("bfla,laf->bf", windows, kernel64), tf.reduce_sum(windows, axis=-1),
                tf.zeros([0, 0, 0], tf.int32))

    score, row_weight, segment = tf.cond(exact, from_codes, from_rows)
    preact = score + bias64
    if settings.active_only:
        used = tf.cast(preact > settings.active_threshold, tf.float64)
    else:
        used = tf.ones_like(score)
    if site is not None:
        used *= site
    out = {
        "score_sum": tf.reduce_sum(used * score, axis=0),
        "row_weight": tf.einsum("bf,bfl->fl", used, row_weight),
        "n_used": tf.reduce_sum(used, axis=0),
        "max_preactivation": tf.reduce_max(preact if site is None else tf.where(site > 0, preact, -np.inf), axis=0),
    }
    if settings.count_letters:
        counted = tf.cast(preact > letter_threshold, tf.float64)
        if site is not None:
            counted *= site
        out["letter_counts"] = tf.cond(
            exact, lambda: _letters_from_segments(counted, segment, n_filters, length),
            lambda: tf.einsum("bf,bfla->fla", counted, windows_from_rows()))
        out["n_letter_windows"] = tf.reduce_sum(counted, axis=0)
    if settings.score_bins:
        out.update(_histogram_step(score, row_weight, bin_low, bin_width, settings.score_bins, site))
    if settings.diagnose:
        n_positions = (tf.shape(x)[1] + left + right - length) // strides + 1
        chosen = starts if take_rc is None or blocks is not None else tf.where(take_rc, rc_starts, starts)
        out.update(_diagnostics_step(score, chosen, take_rc, site, n_positions, strides, bin_low, diagnostics,
                                     labels))
    return out


def _diagnostics_step(score, starts, take_rc, site, n_positions, strides, low, diagnostics, labels):
    """Each sequence's best window over its blocks, summed as :func:`k2p_keras.scan.rescore._add_sequence_best` sums it.

    ``diagnostics``: ``(width, activation, label_bins)``, the grid's bin widths (F,) from ``low`` (F,).
    ``score`` (B M, F) float64, ``starts`` and ``take_rc`` (B, M F) or (B, F) (``take_rc`` None:
    the forward strand), ``site`` (B M, F) 1.0 or 0.0, or None; ``activation`` (F, K + 1) at the
    grid's bin edges; ``labels`` (B, J). The per-label histograms are a sparse one-hot of the
    bins times the labels: no (B, F, J) array.
    """
    tf = import_tensorflow()
    width, activation, label_bins = diagnostics
    n_sequences, n_filters = tf.shape(labels)[0], tf.shape(score)[1]
    shape = [n_sequences, -1, n_filters]
    score = tf.reshape(score, shape)  # (B, M, F)
    starts = tf.reshape(starts, shape)
    rc = tf.zeros_like(starts, tf.bool) if take_rc is None else tf.reshape(take_rc, shape)
    if site is not None:
        score = tf.where(tf.reshape(site, shape) > 0, score, -np.inf)
    # The best block; the forward strand wins ties, then the first block (as rescore's loop).
    tied = score == tf.reduce_max(score, axis=1, keepdims=True)
    forward = tied & ~rc
    pick = tf.where(tf.reduce_any(forward, axis=1), tf.argmax(tf.cast(forward, tf.int32), axis=1),
                    tf.argmax(tf.cast(tied, tf.int32), axis=1))
    chosen = tf.one_hot(pick, tf.shape(score)[1], on_value=True, off_value=False, axis=1)  # (B, M, F)
    best = tf.reduce_max(tf.where(chosen, score, -np.inf), axis=1)  # (B, F)
    position = tf.reduce_sum(tf.where(chosen, starts, 0), axis=1) // strides
    strand = tf.cast(tf.reduce_any(chosen & rc, axis=1), tf.int32)
    n_bins = tf.shape(activation)[1] - 1
    at = (best - low) / width
    k = tf.clip_by_value(tf.floor(at), 0.0, tf.cast(n_bins, tf.float64) - 1.0)
    inside = tf.clip_by_value(at - k, 0.0, 1.0)
    k = tf.cast(k, tf.int32)
    filters = tf.range(n_filters)[None, :]
    flat = tf.reshape(activation, [-1])
    edge = filters * (n_bins + 1) + k
    value = tf.gather(flat, edge) + inside * (tf.gather(flat, edge + 1) - tf.gather(flat, edge))
    ones = tf.ones_like(best)
    coarse = k // (n_bins // label_bins)
    one_hot_bins = tf.sparse.SparseTensor(
        tf.cast(tf.reshape(tf.stack([tf.broadcast_to(tf.range(n_sequences)[:, None], tf.shape(k)),
                                     filters * label_bins + coarse], axis=-1), [-1, 2]), tf.int64),
        tf.reshape(ones, [-1]), tf.cast(tf.stack([n_sequences, n_filters * label_bins]), tf.int64))
    label_count = tf.sparse.sparse_dense_matmul(one_hot_bins, labels, adjoint_a=True)  # (F K', J)
    return {
        "diag_count": tf.reshape(tf.math.unsorted_segment_sum(ones, filters * n_bins + k, n_filters * n_bins),
                                 [n_filters, n_bins]),
        "diag_label_count": tf.transpose(tf.reshape(label_count, [n_filters, label_bins, -1]), [0, 2, 1]),
        "diag_activation_sum": tf.reduce_sum(value, axis=0),
        "diag_label_activation_sum": tf.matmul(value, labels, transpose_a=True),
        "diag_positions": tf.reshape(tf.math.unsorted_segment_sum(
            ones, (filters * n_positions + position) * 2 + strand, n_filters * n_positions * 2),
            [n_filters, n_positions, 2]),
    }


def _histogram_step(score, row_weight, bin_low, bin_width, score_bins, site=None):
    """One batch's best windows (score (B, F), row weights (B, F, L)) summed per score bin.

    Counts and score sums come per bin. Row weights would be a (F, K, L) array per batch,
    whose copying cost as much as the rest of the scan; nearly every row weighs 1 (one-hot
    or 0.25 N rows), so only the windows with another row weight (all-zero N or padding
    rows) are returned, with their bin and ``1 - row weight``, for the caller to add up.
    ``site`` (B, F), 1.0 or 0.0, leaves out the windows that are no sites (blocks' repeats).
    """
    tf = import_tensorflow()
    n_filters = tf.shape(score)[1]
    index = tf.clip_by_value(tf.floor((score - bin_low) / bin_width), 0.0, score_bins - 1.0)
    # Filter t's bins are segments t * K ... t * K + K - 1 of one flat segment sum.
    segment = tf.reshape(tf.cast(index, tf.int32) + tf.range(n_filters)[None, :] * score_bins, [-1])
    n_segments = n_filters * score_bins
    deficit = tf.reshape(1.0 - row_weight, [-1, tf.shape(row_weight)[2]])
    light = tf.reduce_any(deficit != 0.0, axis=1)
    count, weighted = tf.ones_like(segment, tf.float64), tf.reshape(score, [-1])
    if site is not None:
        count = tf.reshape(site, [-1])
        weighted *= count
        light &= count > 0
    return {"bin_count": tf.math.unsorted_segment_sum(count, segment, n_segments),
            "bin_score_sum": tf.math.unsorted_segment_sum(weighted, segment, n_segments),
            "deficit_segment": tf.boolean_mask(segment, light), "deficit_rows": tf.boolean_mask(deficit, light)}


# One traced step per static setting. A callback scans a new kernel every epoch; tracing a
# fresh tf.function each time cost more than the scan itself and made TensorFlow warn about
# retracing, so kernels, bias and thresholds are arguments rather than captured constants.
# The steps branch with tf.cond and on Python settings only: autograph's rewriting of their
# source (1.6 s at the first scan of a process) is not needed.
_TRACED_STEPS = {}


@dataclass(frozen=True)
class StepSettings:
    """The Python settings a scan step is traced for (one trace per value: a dict key).

    ``pooled``: the step takes ``block_lo``, ``block_hi`` (M,) int32 and ``score_floor`` (F,) float32
    too (:func:`_scan_step`'s blocks); ``diagnose``: then the diagnostics' grid width (F,),
    activation (F, K + 1), label bins (int32) and, last, the batch's labels (B, J) float64.
    """

    strides: int
    both_strands: bool
    active_only: bool
    active_threshold: float
    count_letters: bool
    score_bins: int
    pooled: bool = False
    diagnose: bool = False


def traced_step(settings):
    """The traced scan step for ``settings`` (:class:`StepSettings`)."""
    tf = import_tensorflow()
    if settings not in _TRACED_STEPS:
        signature = [
            tf.TensorSpec([None, None, 4], tf.float32), tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([None, 4, None], tf.float32), tf.TensorSpec([None, 4, None], tf.float64),
            tf.TensorSpec([None, None, N_CODES], tf.float64), tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64),
            tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64)]
        n_plain = len(signature)
        if settings.pooled:
            signature += _block_signature()
        if settings.diagnose:
            signature += [tf.TensorSpec([None], tf.float64), tf.TensorSpec([None, None], tf.float64),
                          tf.TensorSpec([], tf.int32), tf.TensorSpec([None, None], tf.float64)]

        def step(*args):
            rest = args[n_plain:]
            blocks = score_floor = diagnostics = labels = None
            if settings.pooled:
                (block_lo, block_hi, score_floor), rest = rest[:3], rest[3:]
                blocks = (block_lo, block_hi)
            if settings.diagnose:
                diagnostics, labels = rest[:3], rest[3]
            return _scan_step(args[0], args[1], args[2:n_plain], blocks, score_floor, diagnostics, labels, settings)

        _TRACED_STEPS[settings] = tf.function(step, input_signature=signature, reduce_retracing=True, autograph=False)
    return _TRACED_STEPS[settings]


def _block_signature():
    tf = import_tensorflow()
    return [tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32)]


def traced_locate(strides, both_strands, travelling=False, pooled=False):
    """The traced locate step; ``travelling``: it takes uint8 quarter units (:func:`k2p_keras.scan.devices.as_travelling`),
    a quarter of float32's bytes to send to a GPU, and converts them there; ``pooled``: as :func:`traced_step`."""
    tf = import_tensorflow()
    key = ("locate", strides, both_strands, travelling, pooled)
    if key not in _TRACED_STEPS:
        locate = functools.partial(_locate_step, strides=strides, both_strands=both_strands)
        signature = [tf.TensorSpec([None, None, 4], tf.uint8 if travelling else tf.float32),
                     tf.TensorSpec([2], tf.int32), tf.TensorSpec([None, 4, None], tf.float32)]
        if pooled:
            def step(x, pads, kernel32, block_lo, block_hi, score_floor):
                return locate(from_travelling(x), pads, kernel32, (block_lo, block_hi), score_floor)

            signature += _block_signature()
        else:
            def step(x, pads, kernel32):
                return locate(from_travelling(x), pads, kernel32)

        _TRACED_STEPS[key] = tf.function(step, input_signature=signature, reduce_retracing=True, autograph=False)
    return _TRACED_STEPS[key]


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
