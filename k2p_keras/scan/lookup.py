"""The compiled lookup scan: each sequence's best window per filter, from letter codes (numba).

On the CPU, TensorFlow's float32 convolution spends most of the scan's time on windows
that are thrown away by the argmax. Here a window's score is a few float32 table lookups:
the kernel is cut into blocks of ``q`` rows, and each block holds the summed weights of
every ``q``-letter word (``q``-mer), one row of ``F`` filters per word, so the loop over
filters reads contiguous memory and vectorises. The argmax runs in the same loop, and
sequences are spread over the cores. Only the best windows' positions leave this module;
:mod:`k2p_keras.scan.rescore` rescores them in float64. After a max-pool the loop runs block
by block (:func:`k2p_keras.scan.windows.pool_blocks`), keeping each block's best window; a
global max is the one block of every window, so its loop is the plain scan.

Windows of A C G T only use 4-letter words (``q`` = 4: 256 rows per block); the windows
holding an N or padding row (codes 4 and 5) use 3-letter words over all six codes (216
rows per block). Ties keep the first best window on each strand, as TensorFlow's argmax
does, and the forward strand when both strands tie (:func:`k2p_keras.scan.tf_steps._best_starts`).
"""
import numpy as np

from .._numba import import_numba
from .codes import CODE_COMPLEMENT, N_CODES, QUARTER_CODE, ZERO_CODE
from .windows import window_count

# numba (None without it: the TensorFlow route stands in), its cache in the per-user folder;
# this module is imported when a scan starts (k2p_keras.scan.route), not with the package.
numba = import_numba()

#: Letters per word: 4 for windows of A C G T (4**4 rows per block), 3 when a window holds N codes (6**3).
LETTER_WORD, CODE_WORD = 4, 3


def code_table_to_word_tables(table):
    """Word tables of a code table (F, L, 6) (:func:`k2p_keras.scan.codes.code_table`).

    Returns
    -------
    letters : numpy.ndarray, shape (ceil(L / 4), 4**4, F), float32
        Block ``k``, word ``w`` (letters ``w`` in base 4, first letter most significant):
        the summed weights of kernel rows ``4k ... 4k + 3`` for those letters.
    codes : numpy.ndarray, shape (ceil(L / 3), 6**3, F), float32
        The same for words of 3 codes (N rows included).
    """
    return _word_table(table, 4, LETTER_WORD), _word_table(table, N_CODES, CODE_WORD)


def _word_table(table, base, word):
    n_filters, length, _ = table.shape
    # An odd number of blocks, at least 3 (see _scan_run): blocks past the kernel's end weigh 0.
    n_blocks = max(-(-length // word) | 1, 3)
    # Rows past the kernel's end weigh 0 for every code, so the last block may be short.
    rows = np.zeros((n_filters, n_blocks * word, N_CODES))
    rows[:, :length] = table
    letters = np.unravel_index(np.arange(base ** word), (base,) * word)  # word j's j-th letter
    out = np.zeros((n_blocks, base ** word, n_filters))
    for k in range(n_blocks):
        for j in range(word):
            out[k] += rows[:, k * word + j, letters[j]].T
    return out.astype(np.float32)


def _sequence_to_codes(x, b, codes, counts):
    """Fill ``codes[b]`` and ``counts[b]`` (rows per code) from sequence ``b`` of a float32
    batch; False if a row is none of the six code rows (any value: a row with a negative,
    a NaN or a value above 1 is not one, so the batch goes to the checks of TensorFlow's route)."""
    for i in range(x.shape[1]):
        a, c, g, t = x[b, i, 0], x[b, i, 1], x[b, i, 2], x[b, i, 3]
        if not (a >= 0 and c >= 0 and g >= 0 and t >= 0):  # NaN too
            return False
        total = a + c + g + t
        if total == 1.0 and (a == 1.0 or c == 1.0 or g == 1.0 or t == 1.0):
            code = 0 if a == 1.0 else 1 if c == 1.0 else 2 if g == 1.0 else 3
        elif total == 0.0:
            code = ZERO_CODE
        elif a == 0.25 and c == 0.25 and g == 0.25 and t == 0.25:
            code = QUARTER_CODE
        else:
            return False
        codes[b, i] = code
        counts[b, code] += 1
    return True


def _scan_run(words, table, word, first, stop, strides, score, next_score, best, best_window):
    """Windows ``first ... stop - 1`` of one strand against every filter, keeping each filter's best.

    The table has an odd number of blocks, at least 3: blocks two by two, then the last one
    in the loop that keeps the best. Two windows go through each loop over the filters (each
    such loop costs a start per window: twice the speed with two); an odd run's last window
    goes through as its own pair, where its copy cannot be strictly better.
    """
    n_blocks, _, n_filters = table.shape
    last = n_blocks - 1
    for w in range(first, stop, 2):
        following = w + 1 if w + 1 < stop else w
        start, next_start = w * strides, following * strides
        a, b = words[start], words[start + word]
        c, d = words[next_start], words[next_start + word]
        for f in range(n_filters):
            score[f] = table[0, a, f] + table[1, b, f]
            next_score[f] = table[0, c, f] + table[1, d, f]
        for k in range(2, last, 2):
            a, b = words[start + k * word], words[start + (k + 1) * word]
            c, d = words[next_start + k * word], words[next_start + (k + 1) * word]
            for f in range(n_filters):
                score[f] += table[k, a, f] + table[k + 1, b, f]
                next_score[f] += table[k, c, f] + table[k + 1, d, f]
        a, c = words[start + last * word], words[next_start + last * word]
        # Strictly better only, the earlier window first: the first best window wins ties. The
        # window index is a float32 (exact below 2**24) so that the lanes all have the scores' width.
        index, next_index = np.float32(w), np.float32(following)
        for f in range(n_filters):
            total = score[f] + table[last, a, f]
            next_total = next_score[f] + table[last, c, f]
            top, window = best[f], best_window[f]
            better = total > top
            top = total if better else top
            window = index if better else window
            better = next_total > top
            best[f] = next_total if better else top
            best_window[f] = next_index if better else window


def _strand_words(rows, width, n_windows, strides, letter_words, code_words, n_odd):
    """One strand's words and running count of N rows; ``rows`` are its padded codes (zero codes past the end)."""
    n_rows = rows.shape[0]
    # Each row's word is the last word shifted by one letter: the word ending at row i
    # starts at row i - LETTER_WORD + 1. An N's letter word is never read: its windows use codes.
    word = 0
    n_odd[0] = 0
    for i in range(n_rows):
        word = (word * 4 + min(rows[i], 3)) % 4 ** LETTER_WORD
        letter_words[max(i - LETTER_WORD + 1, 0)] = word
        n_odd[i + 1] = n_odd[i] + (rows[i] >= ZERO_CODE)
    if n_odd[(n_windows - 1) * strides + width] > 0:  # code words only for a strand with N or padding
        word = 0
        for i in range(n_rows):
            word = (word * N_CODES + rows[i]) % N_CODES ** CODE_WORD
            code_words[max(i - CODE_WORD + 1, 0)] = word


def _best_in_range(first, stop, width, strides, letter_table, code_table, letter_words, code_words, n_odd,
                   score, next_score, best, best_window):
    """The best of windows ``first ... stop - 1`` of a strand (:func:`_strand_words`), per filter."""
    for f in range(best.shape[0]):
        best[f] = -np.inf
        best_window[f] = 0.0
    # Runs of windows with and without N rows, in order, so that the first best still wins ties.
    while first < stop:
        odd = n_odd[first * strides + width] > n_odd[first * strides]
        end = first + 1
        while end < stop and (n_odd[end * strides + width] > n_odd[end * strides]) == odd:
            end += 1
        if odd:
            _scan_run(code_words, code_table, CODE_WORD, first, end, strides, score, next_score, best, best_window)
        else:
            _scan_run(letter_words, letter_table, LETTER_WORD, first, end, strides, score, next_score, best,
                      best_window)
        first = end


def _sequence_best_windows(codes, left, strides, width, n_windows, block_lo, block_hi, score_floor, letter_table,
                           code_table, both_strands, rows, words, scores, block_best, starts, take_rc):
    """One sequence's best window of each block: fills ``starts`` (M, F) and ``take_rc`` (M, F).

    A block whose best window is the previous block's (overlapping blocks), or scores below
    ``score_floor``, gets the start -1: not a site. The rest are working arrays.
    """
    length = codes.shape[0]
    letter_words, code_words, n_odd = words
    score, next_score, best, best_window = scores
    n_blocks, n_filters = starts.shape
    for i in range(length):
        rows[left + i] = codes[i]
    _strand_words(rows, width, n_windows, strides, letter_words, code_words, n_odd)
    for m in range(n_blocks):
        _best_in_range(block_lo[m], block_hi[m], width, strides, letter_table, code_table, letter_words, code_words,
                       n_odd, score, next_score, best, best_window)
        for f in range(n_filters):
            starts[m, f] = int(best_window[f]) * strides
            take_rc[m, f] = False
            block_best[m, f] = best[f]
    if both_strands:
        # The reverse complement, padded as the forward strand is (TensorFlow pads x[:, ::-1] alike);
        # its window j meets the forward strand's window j in the model's Maximum, so in the same block.
        for i in range(length):
            rows[left + i] = CODE_COMPLEMENT[codes[length - 1 - i]]
        _strand_words(rows, width, n_windows, strides, letter_words, code_words, n_odd)
        for m in range(n_blocks):
            _best_in_range(block_lo[m], block_hi[m], width, strides, letter_table, code_table, letter_words,
                           code_words, n_odd, score, next_score, best, best_window)
            for f in range(n_filters):
                if best[f] > block_best[m, f]:  # the forward strand wins ties
                    starts[m, f] = int(best_window[f]) * strides
                    take_rc[m, f] = True
                    block_best[m, f] = best[f]
    # Blocks are intervals with increasing ends, so a window best in blocks m and m + k is best in
    # every block between: comparing with the previous block finds every repeat. Backwards, so that
    # block m - 1 still holds its own window when block m is compared with it.
    for m in range(n_blocks - 1, 0, -1):
        for f in range(n_filters):
            if starts[m, f] == starts[m - 1, f] and take_rc[m, f] == take_rc[m - 1, f]:
                starts[m, f] = -1
    for m in range(n_blocks):
        for f in range(n_filters):
            if block_best[m, f] < score_floor[f]:
                starts[m, f] = -1


def _one_hot_to_best_windows(x, left, right, strides, width, block_lo, block_hi, score_floor, letter_table,
                             code_table, both_strands, codes, code_counts, starts, take_rc):
    """Each sequence's best window of each block per filter, from a float32 one-hot batch ``x`` (B, length, 4).

    Parameters
    ----------
    x : numpy.ndarray, shape (B, length, 4), float32
        Any values: rows other than the six code rows make the result False.
    left, right : int
        Zero rows padded before and after each sequence (:func:`k2p_keras.scan.windows.padding_amounts`).
    strides : int
        Windows start at multiples of ``strides`` in the padded strand.
    width : int
        Kernel rows (dilation expanded).
    block_lo, block_hi : numpy.ndarray, shape (M,), int32
        Block ``m`` holds windows ``block_lo[m] ... block_hi[m] - 1`` (:func:`k2p_keras.scan.windows.pool_blocks`;
        one block of every window for a global max).
    score_floor : numpy.ndarray, shape (F,), float32
        A block's best window scoring below it (``x . W``, no bias) is no site (-inf: every one is).
    letter_table, code_table : numpy.ndarray
        :func:`code_table_to_word_tables` of the kernel.
    both_strands : bool
    codes : numpy.ndarray, shape (B, length), uint8
        Filled with the letter codes, for :mod:`k2p_keras.scan.rescore`.
    code_counts : numpy.ndarray, shape (B, 6), int64
        Filled with each sequence's rows per code (its letter totals).
    starts, take_rc : numpy.ndarray, shape (B, M, F), int32 and bool
        Filled as :func:`k2p_keras.scan.tf_steps._locate_step` returns them: the first row of each
        block's best window in the padded strand it was found on (-1: a repeat of the previous
        block's, or below the floor), and whether that strand is the reverse complement.

    Returns
    -------
    bool
        False when a row is none of the six code rows: then nothing is meaningful, and
        the batch must be scanned from its rows.
    """
    n_sequences, length = codes.shape
    n_filters = letter_table.shape[2]
    n_blocks = block_lo.shape[0]
    n_padded = left + length + right
    n_windows = _window_count(n_padded, width, strides)
    # Blocks may reach past the last window's end (rows that weigh 0): zero codes there.
    n_rows = n_padded + max(letter_table.shape[0] * LETTER_WORD, code_table.shape[0] * CODE_WORD)
    exact = np.zeros(n_sequences, dtype=np.bool_)
    # Sequences in chunks, each with its own working arrays: allocating them per sequence cost
    # as much as a few filters.
    n_chunks = min(n_sequences, 64)
    for chunk in numba.prange(n_chunks):
        rows = np.full(n_rows, ZERO_CODE, dtype=np.uint8)
        words = (np.zeros(n_rows, dtype=np.int32), np.zeros(n_rows, dtype=np.int32), np.zeros(n_rows + 1, np.int32))
        scores = (np.empty(n_filters, dtype=np.float32), np.empty(n_filters, dtype=np.float32),
                  np.empty(n_filters, dtype=np.float32), np.empty(n_filters, dtype=np.float32))
        block_best = np.empty((n_blocks, n_filters), dtype=np.float32)
        for b in range(chunk * n_sequences // n_chunks, (chunk + 1) * n_sequences // n_chunks):
            # Converting and scanning in one parallel loop: a second loop cost its own start
            # and wait on a busy machine.
            exact[b] = _sequence_to_codes(x, b, codes, code_counts)
            if exact[b]:
                _sequence_best_windows(codes[b], left, strides, width, n_windows, block_lo, block_hi, score_floor,
                                       letter_table, code_table, both_strands, rows, words, scores, block_best,
                                       starts[b], take_rc[b])
    return exact.all()


if numba is None:
    one_hot_to_best_windows = None
else:
    _inner = numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=True)
    _window_count = numba.njit(cache=True, nogil=True)(window_count)
    # Without fastmath: its checks must see NaN (fastmath lets the compiler assume there is none).
    _sequence_to_codes = numba.njit(cache=True, nogil=True, boundscheck=False)(_sequence_to_codes)
    _scan_run = _inner(_scan_run)
    _strand_words = _inner(_strand_words)
    _best_in_range = _inner(_best_in_range)
    _sequence_best_windows = _inner(_sequence_best_windows)
    one_hot_to_best_windows = numba.njit(cache=True, nogil=True, parallel=True)(_one_hot_to_best_windows)
