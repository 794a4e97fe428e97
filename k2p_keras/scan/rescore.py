"""The compiled kernel that rescores each best window from letter codes (numba).

The scan finds each sequence's best window per filter (:mod:`k2p_keras.scan.lookup`'s
lookups, or TensorFlow's convolution on a GPU); what the MLE, the sites' score histogram
and the heuristic need from those windows is then a few sums over F x L table lookups per
sequence. TensorFlow's gathers make those lookups cost as much as the convolution on short
(101 bp) sequences; a loop compiled by numba costs a fraction of it, with the filters
spread over the cores. numba is a dependency; where it cannot be imported
the scan rescores in TensorFlow, with the same sums (:mod:`k2p_keras.scan`).

Codes: 0-3 are A C G T, 4 an all-zero row (N, or padding), 5 a 0.25 row (N).
"""
import numpy as np

from .._numba import import_numba
from .codes import CODE_COMPLEMENT, ZERO_CODE

# numba (None without it: the TensorFlow route stands in), its cache in the per-user folder;
# this module is imported when a scan starts (k2p_keras.scan.route), not with the package.
numba = import_numba()


def _accumulate(codes, starts, take_rc, left, table, bias, active_only, active_threshold,
                letter_threshold, bin_low, bin_width, score_sum, row_weight, n_used, max_preactivation,
                letters, n_letter_windows, bin_count, bin_score_sum, deficit, strides, labels, diagnostics):
    """Add one batch's best windows to the running sums (arrays updated in place).

    ``starts`` (B M, F) are the first rows of each block's best window in the padded strand
    it was found on, sequence ``b``'s ``M`` blocks in rows ``b M ... b M + M - 1`` (``take_rc``
    (B M, F): the reverse complement); -1 marks a block whose window is no site (a repeat, or
    below the scan's floor). ``letters`` (F, L, 6) and the histogram arrays may have size 0
    when not requested.

    ``diagnostics`` (:class:`k2p_keras.scan.stats.ActivationSums`' arrays), or None when not
    requested: ``(width (F,), activation (F, K + 1), count (F, K), label_count (F, J, K'),
    activation_sum (F,), label_activation_sum (F, J), positions (F, P, 2))``, summed over each
    sequence's best window over its blocks (:func:`_add_sequence_best`); ``labels`` (B, J) are
    the sequences' labels and ``strides`` turns a window's first row into its position. numba
    compiles a kernel for None apart, without the diagnostics' branches: the scan without them
    runs as fast as before they existed.
    """
    n_sequences, length = codes.shape
    n_rows = starts.shape[0]
    n_blocks = n_rows // n_sequences
    n_filters, width, _ = table.shape
    count_letters = letters.shape[0] > 0
    n_bins = bin_count.shape[1]
    # Filters over the cores: each filter's sums are its own, added in the order of the
    # sequences whatever the number of cores, so the sums do not depend on it.
    for f in numba.prange(n_filters):
        window = np.empty(width, dtype=np.uint8)
        n_whole = 0.0  # used windows without a zero row: each adds 1 to every row's weight, at the end
        top = max_preactivation[f]
        # The sequence's best window over its blocks so far (the diagnostics').
        best_score, best_start, best_rc = -np.inf, -1, False
        for row in range(n_rows):
            start = starts[row, f]
            b = row if n_blocks == 1 else row // n_blocks  # a global max's one block: no division
            if start >= 0:
                rc = take_rc[row, f]
                n_zero = _window_codes(codes, b, start - left, rc, window)
                # The score in float64, row by row in the kernel's order (the same sum on every route).
                score = 0.0
                for i in range(width):
                    score += table[f, i, window[i]]
                preactivation = score + bias[f]
                top = max(top, preactivation)
                if not active_only or preactivation > active_threshold:
                    score_sum[f] += score
                    n_used[f] += 1.0
                    if n_zero == 0:
                        n_whole += 1.0
                    else:
                        for i in range(width):
                            if window[i] != ZERO_CODE:
                                row_weight[f, i] += 1.0
                if count_letters and preactivation > letter_threshold[f]:
                    n_letter_windows[f] += 1.0
                    for i in range(width):
                        letters[f, i, window[i]] += 1.0
                if n_bins > 0:
                    # The bin exactly as the TensorFlow route computes it (float64, floor, clipped).
                    k = int(min(max(np.floor((score - bin_low[f]) / bin_width[f]), 0.0), n_bins - 1.0))
                    bin_count[f, k] += 1.0
                    bin_score_sum[f, k] += score
                    if n_zero > 0:
                        for i in range(width):
                            if window[i] == ZERO_CODE:
                                deficit[f * n_bins + k, i] += 1.0
                if diagnostics is not None:
                    # The forward strand wins ties, then the first block: the sequence's argmax
                    # (tf_steps._best_starts).
                    if score > best_score or (score == best_score and best_rc and not rc):
                        best_score, best_start, best_rc = score, start, rc
            if diagnostics is not None:
                if (n_blocks == 1 or row % n_blocks == n_blocks - 1) and best_start >= 0:
                    # The sequence's last block: its best window is known.
                    _add_sequence_best(f, b, best_score, best_start // strides, best_rc, bin_low, labels, diagnostics)
                    best_score, best_start = -np.inf, -1
        max_preactivation[f] = top
        for i in range(width):
            row_weight[f, i] += n_whole


def _add_sequence_best(f, b, score, position, rc, low, labels, diagnostics):
    """Add sequence ``b``'s best window (its score ``x . W``, position and strand) to filter ``f``'s diagnostics.

    The bins are the scan's grid of :data:`k2p_keras.scan.stats.SCORE_BINS` (float64, floor,
    clipped: as the TensorFlow route bins); the activation is read off its values at the
    bins' edges, linearly in between (exact where it is linear within the bin).
    """
    width, activation, count, label_count, activation_sum, label_activation_sum, positions = diagnostics
    n_bins = count.shape[1]
    at = (score - low[f]) / width[f]
    k = int(min(max(np.floor(at), 0.0), n_bins - 1.0))
    inside = min(max(at - k, 0.0), 1.0)
    value = activation[f, k] + inside * (activation[f, k + 1] - activation[f, k])
    count[f, k] += 1.0
    activation_sum[f] += value
    n_labels = labels.shape[1]
    if n_labels > 0:
        coarse = k // (n_bins // label_count.shape[2])
        for j in range(n_labels):
            label_count[f, j, coarse] += labels[b, j]
            label_activation_sum[f, j] += labels[b, j] * value
    if position < positions.shape[1]:
        positions[f, position, 1 if rc else 0] += 1.0


def _window_codes(codes, b, first, rc, window):
    """Fill ``window`` with the codes of sequence ``b``'s window starting at row ``first`` of
    its unpadded strand (``rc``: the reverse complement; rows outside the sequence are
    padding, the zero code). Returns how many rows hold the zero code."""
    length, width = codes.shape[1], window.shape[0]
    n_zero = 0
    if 0 <= first and first + width <= length:  # inside the sequence: no test per row
        if rc:
            last = length - 1 - first
            for i in range(width):
                code = CODE_COMPLEMENT[codes[b, last - i]]
                window[i] = code
                n_zero += code == ZERO_CODE
        else:
            for i in range(width):
                code = codes[b, first + i]
                window[i] = code
                n_zero += code == ZERO_CODE
        return n_zero
    for i in range(width):
        position = first + i
        if position < 0 or position >= length:
            code = ZERO_CODE
        elif rc:
            code = CODE_COMPLEMENT[codes[b, length - 1 - position]]
        else:
            code = codes[b, position]
        window[i] = code
        n_zero += code == ZERO_CODE
    return n_zero


if numba is None:
    accumulate_window_sums = None
else:
    _window_codes = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")(_window_codes)
    _add_sequence_best = numba.njit(cache=True, nogil=True, boundscheck=False)(_add_sequence_best)
    accumulate_window_sums = numba.njit(cache=True, nogil=True, parallel=True, boundscheck=False)(_accumulate)
