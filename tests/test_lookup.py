"""The compiled lookup scan finds the windows numpy's argmax finds.

Real sequences (``data/example_seqs.fa.gz``) with N rows put in, JASPAR motifs as kernels:
each sequence's best window per filter must be the one a float64 numpy scan of every
window picks, for every padding, strides, dilation (zero kernel rows) and both strands;
with integer kernels, where many windows tie exactly, the first best window and the
forward strand must win.
"""
import numpy as np
import pytest

from conftest import JASPAR, REPO
from k2p_keras.io.meme import read_meme
from k2p_keras.scan.windows import padding_amounts, pool_blocks, PoolSpec, window_count
from k2p_keras.io.sequences import open_sequences
from k2p_keras.scan.lookup import code_table_to_word_tables, one_hot_to_best_windows
from k2p_keras.scan.codes import QUARTER_CODE, ZERO_CODE, code_table
from k2p_keras.scan.route import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="numba not installed")


def real_sequences(n, seed, n_fraction=0.05):
    """The first ``n`` example sequences (100 bp) with a few N rows, all-zero or 0.25, some in runs."""
    x = next(open_sequences(REPO / "data" / "example_seqs.fa.gz").iter_batches(n)).astype(np.float32)
    rng = np.random.default_rng(seed)
    n_rows = rng.random(x.shape[:2]) < n_fraction
    n_rows[:5, 40:52] = True  # a run of N longer than the kernels
    x[n_rows] = 0.0
    quarter = n_rows & (rng.random(x.shape[:2]) < 0.5)
    x[quarter] = 0.25
    return x


def jaspar_kernel(n_filters=12, length=10):
    """Log-probabilities of the first JASPAR motifs of ``length`` rows, as a kernel (L, 4, F).

    Rounded to multiples of 2**-12, so that every window's sum is exact in float32 and in
    float64, in any order: numpy's argmax then ranks windows as exactly as the lookups do,
    and windows of equal weights (letters of equal probability, N on a zero row) tie.
    """
    pwms = [m.pwm for m in read_meme(JASPAR).motifs if m.pwm.shape[0] == length][:n_filters]
    return np.round(np.log(np.stack(pwms, axis=2) + 1e-3) * 2**12) / 2**12


def dilated(kernel, dilation):
    """A kernel's dilation expanded into zero rows, as the graph reader stores it."""
    out = np.zeros(((kernel.shape[0] - 1) * dilation + 1,) + kernel.shape[1:])
    out[::dilation] = kernel
    return out


def numpy_best_starts(x, kernel, padding, strides, both_strands):
    """First row of each best window (B, F) in its padded strand, and whether it is the reverse one."""
    left, right = padding_amounts(x.shape[1], kernel.shape[0], padding, strides)

    def best(strand):
        padded = np.pad(strand.astype(np.float64), ((0, 0), (left, right), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(1, 2))[:, ::strides, 0]
        scores = np.einsum("npla,laf->npf", windows, kernel)
        return scores.argmax(axis=1) * strides, scores.max(axis=1)

    starts, top = best(x)
    take_rc = np.zeros_like(starts, dtype=bool)
    if both_strands:
        rc_starts, rc_top = best(x[:, ::-1, ::-1])
        take_rc = rc_top > top
        starts = np.where(take_rc, rc_starts, starts)
    return starts, take_rc


def compiled_best_starts(x, kernel, padding="valid", strides=1, both_strands=True, codes=None, code_counts=None,
                         pool=None, score_floor=None):
    """What ``one_hot_to_best_windows`` finds, or None when it refuses the batch: (B, F), or (B, M, F) with a pool."""
    left, right = padding_amounts(x.shape[1], kernel.shape[0], padding, strides)
    codes = np.empty(x.shape[:2], dtype=np.uint8) if codes is None else codes
    code_counts = np.zeros((x.shape[0], 6), dtype=np.int64) if code_counts is None else code_counts
    block_lo, block_hi = pool_blocks(window_count(x.shape[1] + left + right, kernel.shape[0], strides), pool)
    starts = np.empty((x.shape[0], len(block_lo), kernel.shape[2]), dtype=np.int32)
    take_rc = np.empty(starts.shape, dtype=bool)
    floor = np.full(kernel.shape[2], -np.inf, np.float32) if score_floor is None else score_floor.astype(np.float32)
    if not one_hot_to_best_windows(x, left, right, strides, kernel.shape[0], block_lo, block_hi, floor,
                                   *code_table_to_word_tables(code_table(kernel)), both_strands, codes,
                                   code_counts, starts, take_rc):
        return None
    return (starts[:, 0], take_rc[:, 0]) if pool is None else (starts, take_rc)


def numpy_block_starts(x, kernel, padding, strides, pool):
    """Each max-pool block's best window over both strands (B, M, F), -1 for a repeat of the previous block's."""
    left, right = padding_amounts(x.shape[1], kernel.shape[0], padding, strides)

    def scores(strand):
        padded = np.pad(strand.astype(np.float64), ((0, 0), (left, right), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(1, 2))[:, ::strides, 0]
        return np.einsum("npla,laf->npf", windows, kernel)

    forward, reverse = scores(x), scores(x[:, ::-1, ::-1])
    chosen = []
    for lo, hi in zip(*pool_blocks(forward.shape[1], pool)):
        f_best, r_best = forward[:, lo:hi].max(axis=1), reverse[:, lo:hi].max(axis=1)
        take_rc = r_best > f_best
        start = np.where(take_rc, lo + reverse[:, lo:hi].argmax(axis=1), lo + forward[:, lo:hi].argmax(axis=1))
        chosen.append((start * strides, take_rc))
    starts = np.stack([c[0] for c in chosen], axis=1)
    take_rc = np.stack([c[1] for c in chosen], axis=1)
    repeat = np.zeros_like(take_rc)
    repeat[:, 1:] = (starts[:, 1:] == starts[:, :-1]) & (take_rc[:, 1:] == take_rc[:, :-1])
    return np.where(repeat, -1, starts), take_rc


SETTINGS = [("valid", 1, 1), ("same", 1, 1), ("causal", 1, 1), ("valid", 3, 1), ("same", 2, 1),
            ("causal", 4, 1), ("valid", 1, 2), ("same", 2, 3)]


@pytest.mark.parametrize("padding, strides, dilation", SETTINGS)
@pytest.mark.parametrize("both_strands", [False, True])
def test_best_windows_of_jaspar_motifs_on_real_sequences_are_numpy_argmax(padding, strides, dilation,
                                                                          both_strands):
    x = real_sequences(200, seed=strides * 10 + dilation)
    kernel = dilated(jaspar_kernel(), dilation)
    expected = numpy_best_starts(x, kernel, padding, strides, both_strands)
    found = compiled_best_starts(x, kernel, padding, strides, both_strands)
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])


@pytest.mark.parametrize("padding, strides, dilation", SETTINGS)
def test_ties_keep_the_first_best_window_and_the_forward_strand(padding, strides, dilation):
    """Integer weights sum exactly in float32 and float64: windows tie, and only the rule decides."""
    x = real_sequences(300, seed=7)
    rng = np.random.default_rng(strides * 10 + dilation)
    kernel = dilated(rng.integers(-1, 2, size=(5, 4, 16)).astype(float), dilation)
    kernel[:, :, 0] = 0.0  # every window ties: the first one, forward strand
    expected = numpy_best_starts(x, kernel, padding, strides, True)
    found = compiled_best_starts(x, kernel, padding, strides, True)
    assert expected[1].any() and not expected[1].all()  # both strands win somewhere
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])
    assert (found[0][:, 0] == 0).all() and not found[1][:, 0].any()


POOLS = [PoolSpec(3, 3, "valid"), PoolSpec(3, 3, "same"), PoolSpec(4, 2, "valid"), PoolSpec(4, 2, "same"),
         PoolSpec(2, 3, "valid"), PoolSpec(5, 1, "same"), PoolSpec(1, 1, "valid")]


@pytest.mark.parametrize("pool", POOLS, ids=lambda p: p.label)
@pytest.mark.parametrize("padding, strides, dilation", [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 2)])
def test_each_pooling_block_s_best_window_is_numpy_s_and_a_repeat_counts_once(pool, padding, strides, dilation):
    """Integer weights: windows tie inside blocks, and the first best window, the forward strand win there too."""
    x = real_sequences(120, seed=11)
    rng = np.random.default_rng(strides * 10 + dilation + pool.size)
    kernel = dilated(rng.integers(-1, 2, size=(5, 4, 6)).astype(float), dilation)
    expected = numpy_block_starts(x, kernel, padding, strides, pool)
    found = compiled_best_starts(x, kernel, padding, strides, True, pool=pool)
    np.testing.assert_array_equal(found[0], expected[0])
    kept = expected[0] >= 0
    np.testing.assert_array_equal(found[1][kept], expected[1][kept])
    if pool.strides < pool.size:
        assert (expected[0] < 0).any()  # overlapping blocks share windows


def test_blocks_below_the_score_floor_are_no_sites():
    x = real_sequences(50, seed=5)
    kernel = jaspar_kernel(n_filters=4)
    every = compiled_best_starts(x, kernel, both_strands=False, pool=PoolSpec(1, 1, "valid"))[0]
    assert (every == np.arange(every.shape[1])[None, :, None]).all()  # every window its own block
    floor = np.array([-np.inf, np.inf, -3.0, 0.0])
    kept = compiled_best_starts(x, kernel, both_strands=False, pool=PoolSpec(1, 1, "valid"), score_floor=floor)[0]
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), kernel.shape[:2], axis=(1, 2))[:, :, 0]
    score = np.einsum("npla,laf->npf", windows, kernel)
    np.testing.assert_array_equal(kept >= 0, score >= floor)


def test_letter_codes_read_letters_and_both_n_rows_and_soft_rows_are_refused():
    x = real_sequences(20, seed=3)
    kernel = jaspar_kernel(n_filters=2)
    codes = np.empty(x.shape[:2], dtype=np.uint8)
    counts = np.zeros((20, 6), dtype=np.int64)
    assert compiled_best_starts(x, kernel, codes=codes, code_counts=counts) is not None
    expected = np.where(x.sum(axis=2) == 0, ZERO_CODE, np.where(x[:, :, 0] == 0.25, QUARTER_CODE, x.argmax(axis=2)))
    np.testing.assert_array_equal(codes, expected)
    np.testing.assert_array_equal(counts, [np.bincount(row, minlength=6) for row in expected])
    soft = x.copy()
    soft[3, 10] = (0.5, 0.5, 0.0, 0.0)
    assert compiled_best_starts(soft, kernel) is None
    soft[3, 10] = (1.0, 0.0, 0.0, 1.0)  # sums to 2: not a letter
    assert compiled_best_starts(soft, kernel) is None


def test_word_tables_sum_the_kernel_rows_of_each_word():
    kernel = jaspar_kernel(n_filters=3)  # 10 rows: blocks of 4, 4, 2 letters and 3, 3, 3, 1 codes
    table = code_table(kernel)
    letters, codes = code_table_to_word_tables(table)
    assert letters.shape == (3, 4 ** 4, 3) and codes.shape == (5, 6 ** 3, 3)  # an odd number of blocks
    word = (2 * 4 + 0) * 16 + 3 * 4 + 1  # G A T C in block 1 (rows 4-7)
    np.testing.assert_allclose(letters[1, word], table[:, 4, 2] + table[:, 5, 0] + table[:, 6, 3] + table[:, 7, 1],
                               rtol=1e-6)
    word = (1 * 6 + ZERO_CODE) * 6 + QUARTER_CODE  # C N N in block 3: rows 9 (C), then past the end
    np.testing.assert_allclose(codes[3, word], table[:, 9, 1], rtol=1e-6)
