"""The TensorFlow scan against a plain numpy scan of every window.

Checks each statistic the MLE and the heuristic read: the best window's score and row
weights (N rows weigh 0 or 1), the active-only sums, the letter counts, for every padding,
strides and both strands, on each route (numba's lookups, TensorFlow then numba, TensorFlow).
"""
import sys
import zlib

import numpy as np
import pytest

from k2p_keras.scan import accumulator, route
from k2p_keras.errors import K2PError
from k2p_keras.scan.tf_steps import conv_preactivation
from k2p_keras.scan.windows import padding_amounts, pool_blocks, PoolSpec
from k2p_keras.scan.best_windows import scan_best_windows
from k2p_keras.scan.route import numba_available

NEEDS_NUMBA = pytest.mark.skipif(not numba_available(), reason="numba not installed")


@pytest.fixture(params=[pytest.param("lookup", marks=NEEDS_NUMBA), pytest.param("locate", marks=NEEDS_NUMBA),
                        "tensorflow"])
def rescore(request, monkeypatch):
    """Each route, as ``scan_best_windows(rescore=...)`` reaches it: numba's lookups, TensorFlow's
    convolution then numba's sums (what "auto" takes on a GPU), TensorFlow alone."""
    if request.param == "locate":
        monkeypatch.setattr(route, "gpu_visible", lambda: True)
        return "auto"
    return {"lookup": "numba", "tensorflow": "tensorflow"}[request.param]


def sequences(rng, n, length, n_encoding="zero"):
    """One-hot sequences with 5% N rows: all-zero, 0.25, or ("soft") random letter probabilities."""
    x = np.eye(4)[rng.integers(0, 4, size=(n, length))]
    n_rows = rng.random((n, length)) < 0.05
    if n_encoding == "soft":
        # Not letter codes: the batch is rescored from its rows, on either route.
        x[n_rows] = rng.dirichlet(np.ones(4), size=int(n_rows.sum()))
    else:
        x[n_rows] = 0.0 if n_encoding == "zero" else 0.25
    return x


def numpy_best_windows(x, kernel, padding, strides):
    """Every window the layer sees, and each sequence's best one per filter."""
    left, right = padding_amounts(x.shape[1], kernel.shape[0], padding, strides)
    padded = np.pad(x, ((0, 0), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(1, 2))[:, :, 0]
    windows = windows[:, ::strides]  # (N, P, L, 4)
    scores = np.einsum("npla,laf->npf", windows, kernel)
    best = scores.argmax(axis=1)  # (N, F)
    chosen = np.stack([windows[np.arange(len(x)), best[:, t]] for t in range(kernel.shape[2])], axis=1)
    return chosen, scores.max(axis=1)  # (N, F, L, 4), (N, F)


def both_strand_best(x, kernel, padding, strides):
    forward, forward_score = numpy_best_windows(x, kernel, padding, strides)
    reverse, reverse_score = numpy_best_windows(x[:, ::-1, ::-1], kernel, padding, strides)
    take = reverse_score > forward_score
    return np.where(take[:, :, None, None], reverse, forward), np.maximum(forward_score, reverse_score)


def stable_seed(*case):
    """A seed per test case, the same in every process (``hash`` of a string is not: PYTHONHASHSEED).

    With a seed that changed from run to run, a soft-row case now and then drew two windows
    whose float32 scores tie, and the float32 scan rightly picked the other one than numpy.
    """
    return zlib.crc32(repr(case).encode())


@pytest.mark.parametrize("padding, strides", [("valid", 1), ("same", 1), ("causal", 1), ("valid", 3),
                                              ("same", 2), ("causal", 4)])
@pytest.mark.parametrize("both_strands", [False, True])
@pytest.mark.parametrize("n_encoding", ["zero", "quarter", "soft"])
def test_scan_sums_equal_numpy(padding, strides, both_strands, n_encoding, rescore):
    rng = np.random.default_rng(stable_seed(padding, strides, both_strands, n_encoding))
    x = sequences(rng, 60, 37, n_encoding)
    kernel = rng.normal(size=(7, 4, 3))
    bias = rng.normal(size=3)
    best = both_strand_best if both_strands else numpy_best_windows
    windows, _ = best(x, kernel, padding, strides)
    score = np.einsum("nfla,laf->nf", windows, kernel)
    preact = score + bias
    stats = scan_best_windows([x[:25], x[25:]], kernel, bias, padding=padding, strides=strides,
                              both_strands=both_strands, letter_threshold=0.3, rescore=rescore)
    assert stats.n_sequences == 60 and stats.n_used.tolist() == [60, 60, 60]
    np.testing.assert_allclose(stats.letter_totals, x.sum(axis=(0, 1)), atol=1e-9)
    np.testing.assert_allclose(stats.score_sum, score.sum(axis=0), atol=1e-9)
    np.testing.assert_allclose(stats.row_weight, windows.sum(axis=(0, 3)), atol=1e-12)
    np.testing.assert_allclose(stats.max_preactivation, preact.max(axis=0), atol=1e-9)
    counted = preact > 0.3
    np.testing.assert_allclose(stats.letter_counts, np.einsum("nf,nfla->fla", counted, windows), atol=1e-12)
    assert stats.n_letter_windows.tolist() == counted.sum(axis=0).tolist()


@pytest.mark.parametrize("padding, strides, both_strands", [("valid", 1, False), ("same", 2, True),
                                                          ("causal", 1, True)])
@pytest.mark.parametrize("n_encoding", ["zero", "quarter", "soft"])
def test_score_histogram_bins_every_best_window_as_numpy_does(padding, strides, both_strands, n_encoding,
                                                              rescore):
    rng = np.random.default_rng(stable_seed(padding, strides, both_strands, n_encoding, "bins"))
    x = sequences(rng, 70, 33, n_encoding)
    kernel = rng.normal(size=(6, 4, 3))
    best = both_strand_best if both_strands else numpy_best_windows
    windows, _ = best(x, kernel, padding, strides)
    score = np.einsum("nfla,laf->nf", windows, kernel)
    # The grid written out here, not taken from the module: bins of equal width between the
    # lowest and highest score a window of one-hot, zero or quarter rows can have.
    n_bins = 40
    low = np.minimum(kernel.min(axis=1), 0).sum(axis=0)
    width = (np.maximum(kernel.max(axis=1), 0).sum(axis=0) - low) / n_bins
    # The best possible score itself falls in the last bin.
    index = np.minimum(np.floor((score - low) / width).astype(int), n_bins - 1)
    stats = scan_best_windows([x[:30], x[30:]], kernel, rng.normal(size=3), padding=padding, strides=strides,
                              both_strands=both_strands, score_bins=n_bins, rescore=rescore)
    histogram = stats.score_histogram
    np.testing.assert_allclose(histogram.low, low, atol=1e-12)
    np.testing.assert_allclose(histogram.width, width, atol=1e-12)
    for t in range(3):
        in_bin = index[:, t, None] == np.arange(n_bins)[None, :]  # (N, K)
        np.testing.assert_array_equal(histogram.count[t], in_bin.sum(axis=0))
        np.testing.assert_allclose(histogram.score_sum[t], score[:, t] @ in_bin, atol=1e-9)
        np.testing.assert_allclose(histogram.row_weight[t], in_bin.T.astype(float) @ windows[:, t].sum(axis=2),
                                   atol=1e-12)
    # Summed over the bins, the histogram is the scan's every-window sums.
    np.testing.assert_allclose(histogram.score_sum.sum(axis=1), stats.score_sum, atol=1e-9)
    np.testing.assert_allclose(histogram.row_weight.sum(axis=1), stats.row_weight, atol=1e-9)
    assert scan_best_windows([x], kernel).score_histogram is None


def test_active_only_leaves_out_sequences_below_the_threshold(rescore):
    rng = np.random.default_rng(5)
    x = sequences(rng, 80, 30)
    kernel = rng.normal(size=(5, 4, 4))
    bias = np.array([-3.0, -1.0, 0.0, 2.0])
    windows, _ = numpy_best_windows(x, kernel, "valid", 1)
    score = np.einsum("nfla,laf->nf", windows, kernel)
    active = score + bias > 0.5
    stats = scan_best_windows([x], kernel, bias, active_only=True, active_threshold=0.5, rescore=rescore)
    assert stats.n_used.tolist() == active.sum(axis=0).tolist()
    np.testing.assert_allclose(stats.score_sum, (score * active).sum(axis=0), atol=1e-9)
    np.testing.assert_allclose(stats.row_weight, np.einsum("nf,nfla->fl", active, windows), atol=1e-12)


def test_per_filter_letter_thresholds(rescore):
    rng = np.random.default_rng(6)
    x = sequences(rng, 50, 30)
    kernel = rng.normal(size=(5, 4, 2))
    windows, best = numpy_best_windows(x, kernel, "valid", 1)
    thresholds = np.array([np.inf, -np.inf])  # no window, every window
    stats = scan_best_windows([x], kernel, letter_threshold=thresholds, rescore=rescore)
    assert stats.n_letter_windows.tolist() == [0, 50]
    np.testing.assert_allclose(stats.letter_counts[1], windows[:, 1].sum(axis=0), atol=1e-12)


def test_conv_preactivation_is_the_correlation_plus_bias():
    rng = np.random.default_rng(7)
    x = sequences(rng, 4, 20)
    kernel, bias = rng.normal(size=(6, 4, 3)), rng.normal(size=3)
    out = conv_preactivation(x, kernel, bias, padding="same", strides=2)
    left, right = padding_amounts(20, 6, "same", 2)
    padded = np.pad(x, ((0, 0), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (6, 4), axis=(1, 2))[:, ::2, 0]
    np.testing.assert_allclose(out, np.einsum("npla,laf->npf", windows, kernel) + bias, atol=1e-5)


def test_padding_follows_tensorflow():
    assert padding_amounts(10, 4, "valid") == (0, 0)
    assert padding_amounts(10, 4, "causal") == (3, 0)
    assert padding_amounts(10, 4, "same") == (1, 2)
    assert padding_amounts(10, 4, "same", strides=3) == (1, 2)
    assert padding_amounts(11, 4, "same", strides=3) == (1, 1)


@pytest.mark.parametrize("problem, kwargs, batches", [
    ("shorter than the kernel", {}, [np.zeros((2, 3, 4))]),
    ("no sequences", {}, []),
    ("shape", {}, [np.zeros((2, 10, 5))]),
    ("padding", {"padding": "reflect"}, [np.zeros((2, 10, 4))]),
])
def test_bad_scans_are_refused(problem, kwargs, batches):
    with pytest.raises(K2PError, match=problem):
        scan_best_windows(batches, np.ones((5, 4, 2)), **kwargs)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides, dilation", [(1, 1), (2, 1), (3, 1), (1, 2)])
@pytest.mark.parametrize("length", [10, 11])
def test_windows_are_the_ones_keras_conv1d_sees(padding, strides, dilation, length):
    """Padding, strides and dilation (expanded into zero kernel rows) as Keras computes them."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(length * 100 + strides * 10 + dilation)
    layer = keras.layers.Conv1D(3, 4, strides=strides, padding=padding, dilation_rate=dilation)
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(2, length))]
    expected = layer(x).numpy()
    kernel, bias = layer.get_weights()
    expanded = np.zeros(((4 - 1) * dilation + 1, 4, 3))
    expanded[::dilation] = kernel
    mine = conv_preactivation(x, expanded, bias, padding=padding, strides=strides)
    assert mine.shape == expected.shape
    np.testing.assert_allclose(mine, expected, atol=1e-5)


@pytest.mark.parametrize("padding, strides, dilation", [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 3),
                                                       ("same", 3, 2)])
def test_tied_windows_are_counted_as_numpy_argmax_and_the_forward_strand_pick_them(padding, strides, dilation,
                                                                                   rescore):
    """Integer weights: windows tie exactly; the letters and row weights counted are the first best window's."""
    rng = np.random.default_rng(strides * 10 + dilation)
    x = sequences(rng, 80, 40, "quarter")
    x[rng.random(x.shape[:2]) < 0.05] = 0.0
    kernel = np.zeros(((5 - 1) * dilation + 1, 4, 6))
    kernel[::dilation] = rng.integers(-1, 2, size=(5, 4, 6))
    windows, _ = both_strand_best(x, kernel, padding, strides)
    stats = scan_best_windows([x[:50], x[50:]], kernel, padding=padding, strides=strides, both_strands=True,
                              letter_threshold=-np.inf, rescore=rescore)
    np.testing.assert_array_equal(stats.letter_counts, windows.sum(axis=0))
    np.testing.assert_array_equal(stats.row_weight, windows.sum(axis=(0, 3)))


def test_numba_and_tensorflow_rescoring_give_the_same_stats_on_mixed_batches():
    """A one-hot batch, a batch with N rows and a soft batch: both routes sum the same (float64)."""
    if not numba_available():
        pytest.skip("numba not installed")
    rng = np.random.default_rng(21)
    batches = [sequences(rng, 40, 50, "zero"), sequences(rng, 40, 50, "quarter"), sequences(rng, 40, 50, "soft")]
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)
    options = dict(padding="same", both_strands=True, letter_threshold=0.0, score_bins=50, active_only=True)
    fast = scan_best_windows(batches, kernel, bias, rescore="numba", **options)
    plain = scan_best_windows(batches, kernel, bias, rescore="tensorflow", **options)
    for name in ("score_sum", "row_weight", "max_preactivation", "letter_counts"):
        np.testing.assert_allclose(getattr(fast, name), getattr(plain, name), rtol=1e-13, atol=1e-12)
    assert fast.n_used.tolist() == plain.n_used.tolist()
    assert fast.n_letter_windows.tolist() == plain.n_letter_windows.tolist()
    for name in ("count", "score_sum", "row_weight"):
        np.testing.assert_allclose(getattr(fast.score_histogram, name), getattr(plain.score_histogram, name),
                                   rtol=1e-13, atol=1e-12)


def test_unknown_rescore_is_refused():
    with pytest.raises(K2PError, match="rescore"):
        scan_best_windows([np.eye(4)[None]], np.ones((2, 4, 1)), rescore="gpu")


def test_batches_of_any_size_and_length_give_the_same_sums(rescore):
    """The compiled sums run on queued batches (accumulator.PENDING_SEQUENCES at a time; a new length or
    padding empties the queue): small and large batches, two lengths in turn, give the sums of
    one-sequence batches, added in the same order, to the last bit."""
    rng = np.random.default_rng(stable_seed("queue"))
    kernel, bias = rng.normal(size=(7, 4, 6)), rng.normal(size=6)
    short, long_ = sequences(rng, 60, 30), sequences(rng, 45, 80)
    one_by_one = [s[None] for s in short[:30]] + [s[None] for s in long_] + [s[None] for s in short[30:]]
    in_batches = [short[:7], short[7:30], long_[:1], long_[1:], short[30:]]
    options = dict(padding="same", both_strands=True, letter_threshold=0.0, score_bins=40, active_only=True)
    a = scan_best_windows(one_by_one, kernel, bias, rescore=rescore, **options)
    b = scan_best_windows(in_batches, kernel, bias, rescore=rescore, **options)
    # TensorFlow sums each batch before adding it: the same sums up to float64 rounding there.
    same = (np.testing.assert_array_equal if rescore != "tensorflow" else
            lambda x, y, err_msg="": np.testing.assert_allclose(x, y, rtol=1e-14, atol=1e-12, err_msg=err_msg))
    for name in ("score_sum", "row_weight", "n_used", "max_preactivation", "letter_counts", "n_letter_windows"):
        same(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("count", "score_sum", "row_weight"):
        same(getattr(a.score_histogram, name), getattr(b.score_histogram, name), err_msg=name)
    assert a.n_sequences == b.n_sequences == 105


@NEEDS_NUMBA
def test_loading_the_compiled_kernels_loads_the_ones_a_scan_calls():
    """load_compiled_kernels (the callback's warm-up) must leave nothing for a real scan to load:
    every argument type of the compiled kernels is the same whatever the shapes and options (the
    diagnostics' two kernels, with and without them, both loaded)."""
    from k2p_keras.scan import best_windows, lookup as window_search, rescore as window_sums

    best_windows.load_compiled_kernels(diagnostics=True)
    before = (list(window_search.one_hot_to_best_windows.signatures),
              list(window_sums.accumulate_window_sums.signatures))
    assert all(before)
    rng = np.random.default_rng(3)
    for options in (dict(), dict(score_bins=100, both_strands=True, padding="same"),
                    dict(letter_threshold=np.zeros(8), active_only=True, strides=2),
                    dict(diagnostics=True, activation=np.tanh, pool=PoolSpec(3, 2, "same"))):
        scan_best_windows([sequences(rng, 20, 40)], rng.normal(size=(5, 4, 8)).astype(np.float32),
                          rng.normal(size=8), rescore="numba", **options)
    after = (list(window_search.one_hot_to_best_windows.signatures),
             list(window_sums.accumulate_window_sums.signatures))
    assert after == before


@pytest.mark.parametrize("row", [(1.0, 1.0, -1.0, 0.0), (0.5, -0.5, 0.0, 0.0), (np.nan, 0.0, 0.0, 0.0),
                                 (2.0, 0.0, 0.0, 0.0), (1.0, 0.0, 0.0, np.inf)])
def test_values_outside_zero_to_one_are_refused_on_every_route(row, rescore):
    """Rows that sum like a letter or an N row but hold a negative, NaN or too large value: the
    compiled route does not take them for codes, and the check before TensorFlow refuses them."""
    x = np.eye(4)[np.random.default_rng(0).integers(0, 4, (3, 12))]
    x[1, 5] = row
    with pytest.raises(K2PError, match=r"expected one-hot values in \[0, 1\]"):
        scan_best_windows([x], np.ones((3, 4, 2)), rescore=rescore)


def test_the_gpu_route_sends_one_hot_batches_as_uint8(monkeypatch):
    """On a GPU (the locate route) one-hot, zero and 0.25 rows travel as uint8 quarters and are
    converted on the device; the sums are those of the float32 batch."""
    if not numba_available():
        pytest.skip("numba not installed")
    monkeypatch.setattr(route, "gpu_visible", lambda: True)
    sent = []
    traced = accumulator.traced_locate

    def spy(strides, both_strands, travelling=False, pooled=False):
        sent.append(travelling)
        return traced(strides, both_strands, travelling, pooled)

    monkeypatch.setattr(accumulator, "traced_locate", spy)
    rng = np.random.default_rng(stable_seed("uint8"))
    kernel = rng.normal(size=(6, 4, 3))
    batches = [sequences(rng, 20, 30, "quarter"), sequences(rng, 20, 30, "soft")]
    on_gpu = scan_best_windows(batches, kernel, both_strands=True, score_bins=30, rescore="auto")
    assert sent == [True, False]
    plain = scan_best_windows(batches, kernel, both_strands=True, score_bins=30, rescore="tensorflow")
    np.testing.assert_allclose(on_gpu.score_sum, plain.score_sum, rtol=1e-13)
    np.testing.assert_allclose(on_gpu.score_histogram.row_weight, plain.score_histogram.row_weight, atol=1e-12)


def test_queued_sums_keep_the_batches_order_when_tensorflow_batches_come_between(rescore, monkeypatch):
    """Letter-code batches wait in a queue for the compiled sums; a batch of soft rows (summed by
    TensorFlow) must not overtake them: with and without the queue the sums agree to the bit."""
    rng = np.random.default_rng(stable_seed("mixed queue"))
    kernel, bias = rng.normal(size=(7, 4, 5)) * np.logspace(-3, 3, 5), rng.normal(size=5)
    batches = [sequences(rng, 30, 40, kind) for kind in ("zero", "soft", "quarter", "soft", "zero")]
    options = dict(both_strands=True, letter_threshold=0.0, score_bins=4, active_only=True)
    queued = scan_best_windows(batches, kernel, bias, rescore=rescore, **options)
    monkeypatch.setattr(accumulator, "PENDING_SEQUENCES", 1)  # each batch summed as it comes
    at_once = scan_best_windows(batches, kernel, bias, rescore=rescore, **options)
    for name in ("score_sum", "row_weight", "n_used", "max_preactivation", "letter_counts"):
        np.testing.assert_array_equal(getattr(queued, name), getattr(at_once, name), err_msg=name)
    for name in ("count", "score_sum", "row_weight"):
        np.testing.assert_array_equal(getattr(queued.score_histogram, name), getattr(at_once.score_histogram, name))


# ----------------------------------------------------------------------------- max-pool blocks

@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pool_blocks_are_tensorflow_s_max_pool_blocks(padding):
    """Positions of distinct values: each block's max is TensorFlow's pooled value, for every size."""
    tf = pytest.importorskip("tensorflow")
    for n_positions in range(1, 14):
        values = np.random.default_rng(n_positions).permutation(n_positions).astype(np.float32)
        for size in range(1, 6):
            for strides in range(1, 6):
                lo, hi = pool_blocks(n_positions, PoolSpec(size, strides, padding))
                if padding == "valid" and size > n_positions:
                    assert len(lo) == 0  # TensorFlow refuses: the model pools nothing
                    continue
                pooled = tf.nn.max_pool1d(values[None, :, None], size, strides, padding.upper()).numpy()[0, :, 0]
                assert (hi > lo).all()
                np.testing.assert_array_equal([values[a:b].max() for a, b in zip(lo, hi)], pooled)


def numpy_block_windows(x, kernel, padding, strides, pool, both_strands):
    """Every block's best window over the strands, a window best in several blocks once: (K, F, L, 4) per filter."""
    left, right = padding_amounts(x.shape[1], kernel.shape[0], padding, strides)

    def windows_and_scores(strand):
        padded = np.pad(strand, ((0, 0), (left, right), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(1, 2))[:, ::strides, 0]
        return windows, np.einsum("npla,laf->npf", windows, kernel)

    strands = [windows_and_scores(x)] + ([windows_and_scores(x[:, ::-1, ::-1])] if both_strands else [])
    lo_hi = list(zip(*pool_blocks(strands[0][1].shape[1], pool)))
    per_filter = []
    for t in range(kernel.shape[2]):
        chosen = {}
        for n in range(len(x)):
            for lo, hi in lo_hi:
                best = max((strands[k][1][n, lo:hi, t].max(), -k, lo + int(strands[k][1][n, lo:hi, t].argmax()))
                           for k in range(len(strands)))  # forward wins ties
                chosen[(n, -best[1], best[2])] = strands[-best[1]][0][n, best[2]]
        per_filter.append(np.stack(list(chosen.values())))
    return per_filter


@pytest.mark.parametrize("pool, padding, strides, both_strands", [
    (PoolSpec(3, 3, "valid"), "valid", 1, False), (PoolSpec(4, 2, "same"), "same", 1, True),
    (PoolSpec(5, 2, "valid"), "causal", 2, True), (PoolSpec(2, 3, "same"), "valid", 1, False),
    (PoolSpec(1, 1, "valid"), "same", 1, True)], ids=str)
@pytest.mark.parametrize("n_encoding", ["zero", "soft"])
def test_block_sums_equal_numpy_on_every_route(pool, padding, strides, both_strands, n_encoding, rescore):
    rng = np.random.default_rng(stable_seed(pool, padding, strides, both_strands, n_encoding, "blocks"))
    x = sequences(rng, 40, 31, n_encoding)
    kernel, bias = rng.normal(size=(6, 4, 3)), rng.normal(size=3)
    n_bins = 30
    stats = scan_best_windows([x[:15], x[15:]], kernel, bias, padding=padding, strides=strides,
                              both_strands=both_strands, letter_threshold=0.3, score_bins=n_bins, rescore=rescore,
                              pool=pool)
    low = np.minimum(kernel.min(axis=1), 0).sum(axis=0)
    width = (np.maximum(kernel.max(axis=1), 0).sum(axis=0) - low) / n_bins
    for t, windows in enumerate(numpy_block_windows(x, kernel, padding, strides, pool, both_strands)):
        score = np.einsum("kla,la->k", windows, kernel[:, :, t])
        assert stats.n_used[t] == len(windows)
        np.testing.assert_allclose(stats.score_sum[t], score.sum(), atol=1e-9)
        np.testing.assert_allclose(stats.row_weight[t], windows.sum(axis=(0, 2)), atol=1e-12)
        np.testing.assert_allclose(stats.max_preactivation[t], score.max() + bias[t], atol=1e-9)
        counted = score + bias[t] > 0.3
        np.testing.assert_allclose(stats.letter_counts[t], windows[counted].sum(axis=0), atol=1e-12)
        index = np.minimum(np.floor((score - low[t]) / width[t]).astype(int), n_bins - 1)
        np.testing.assert_array_equal(stats.score_histogram.count[t], np.bincount(index, minlength=n_bins))
        np.testing.assert_allclose(stats.score_histogram.row_weight[t].sum(axis=0), windows.sum(axis=(0, 2)),
                                   atol=1e-12)


def test_a_score_floor_keeps_the_windows_above_it_on_every_route(rescore):
    rng = np.random.default_rng(stable_seed("floor"))
    x = sequences(rng, 30, 40)
    kernel = rng.normal(size=(5, 4, 3))
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel.shape[:2], axis=(1, 2))[:, :, 0]
    score = np.einsum("npla,laf->npf", windows, kernel)
    floor = np.quantile(score.reshape(-1, 3), 0.9, axis=0)
    stats = scan_best_windows([x], kernel, pool=PoolSpec(1, 1, "valid"), score_floor=floor, rescore=rescore)
    kept = score >= floor
    assert stats.n_used.tolist() == kept.sum(axis=(0, 1)).tolist()
    np.testing.assert_allclose(stats.score_sum, (score * kept).sum(axis=(0, 1)), atol=1e-9)


def test_sequences_too_short_for_one_block_are_refused_in_one_line():
    x = np.eye(4)[np.zeros((3, 10), int)]
    with pytest.raises(K2PError, match="length 10 give the conv 6 positions, fewer than the max-pool's size"):
        scan_best_windows([x], np.ones((5, 4, 2)), pool=PoolSpec(8, 8, "valid"))


# ----------------------------------------------------------------------------- diagnostics

def numpy_sequence_best(x, kernel, padding, strides, both_strands, pool=None):
    """Each sequence's best window per filter over the positions the blocks hold (all of them without
    a pool): its score (N, F), position (the window's index on its strand) and strand, the
    forward strand winning ties, then the first position."""
    left, right = padding_amounts(x.shape[1], kernel.shape[0], padding, strides)

    def scores(strand):
        padded = np.pad(strand, ((0, 0), (left, right), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(1, 2))[:, ::strides, 0]
        return np.einsum("npla,laf->npf", windows, kernel)

    forward = scores(x)
    held = np.ones(forward.shape[1], bool)
    if pool is not None:
        held[:] = False
        for lo, hi in zip(*pool_blocks(forward.shape[1], pool)):
            held[lo:hi] = True
    forward = np.where(held[None, :, None], forward, -np.inf)
    best, position, strand = forward.max(axis=1), forward.argmax(axis=1), np.zeros(forward.shape[::2], int)
    if both_strands:
        reverse = np.where(held[None, :, None], scores(x[:, ::-1, ::-1]), -np.inf)
        take = reverse.max(axis=1) > best
        best = np.where(take, reverse.max(axis=1), best)
        position, strand = np.where(take, reverse.argmax(axis=1), position), take.astype(int)
    return best, position, strand


@pytest.mark.parametrize("padding, strides, both_strands, pool", [
    ("valid", 1, False, None), ("same", 2, True, None), ("causal", 1, True, None),
    ("valid", 1, True, PoolSpec(3, 3, "valid")), ("same", 1, False, PoolSpec(4, 2, "same"))], ids=str)
@pytest.mark.parametrize("n_encoding", ["zero", "soft"])
def test_diagnostics_sum_each_sequence_s_best_window_as_numpy_does(padding, strides, both_strands, pool, n_encoding,
                                                                   rescore):
    """The score histogram (per label column too), the activation's sums and the positions of each
    sequence's best window; after a max-pool, the best of its blocks' (ties: forward, then first)."""
    rng = np.random.default_rng(stable_seed(padding, strides, both_strands, pool, n_encoding, "diagnostics"))
    x = sequences(rng, 70, 35, n_encoding)
    kernel, bias = rng.normal(size=(6, 4, 3)), rng.normal(size=3)
    labels = (rng.random((70, 2)) < 0.4).astype(float)
    stats = scan_best_windows([(x[:30], labels[:30]), (x[30:], labels[30:])], kernel, bias, padding=padding,
                              strides=strides, both_strands=both_strands, pool=pool, rescore=rescore,
                              diagnostics=True, n_labels=2)
    score, position, strand = numpy_sequence_best(x, kernel, padding, strides, both_strands, pool)
    sums = stats.diagnostics
    low = np.minimum(kernel.min(axis=1), 0).sum(axis=0)
    width = (np.maximum(kernel.max(axis=1), 0).sum(axis=0) - low) / 1000
    index = np.minimum(np.floor((score - low) / width).astype(int), 999)
    for t in range(3):
        np.testing.assert_array_equal(sums.count[t], np.bincount(index[:, t], minlength=1000))
        for j in range(2):
            np.testing.assert_array_equal(sums.label_count[t, j], np.bincount(index[:, t], labels[:, j], 1000))
        expected = np.zeros((sums.positions.shape[1], 2))
        np.add.at(expected, (position[:, t], strand[:, t]), 1)
        np.testing.assert_array_equal(sums.positions[t], expected)
    # No activation given: conv + bias itself, read off the bin edges exactly (it is linear); soft
    # rows are float32 in the scan, as the kernel (the scan's other sums' tolerance).
    np.testing.assert_allclose(sums.activation_sum, (score + bias).sum(axis=0), rtol=1e-7)
    np.testing.assert_allclose(sums.label_activation_sum, np.einsum("nf,nj->fj", score + bias, labels), rtol=1e-7)
    assert (sums.min_length, sums.max_length) == (35, 35)


def test_a_relu_s_mean_is_read_off_the_grid_within_a_bin(rescore):
    rng = np.random.default_rng(stable_seed("relu grid"))
    x = sequences(rng, 200, 40)
    kernel, bias = rng.normal(size=(8, 4, 4)), np.array([-4.0, -2.0, 0.0, 1.0])
    stats = scan_best_windows([x], kernel, bias, rescore=rescore, diagnostics=True,
                              activation=lambda v: np.maximum(v, 0.0))
    score, _, _ = numpy_sequence_best(x, kernel, "valid", 1, False)
    # Linear in every bin but the one holding the kink, where it is off by at most a quarter bin.
    exact = np.maximum(score + bias, 0.0).sum(axis=0)
    assert np.all(np.abs(stats.diagnostics.activation_sum - exact) <= stats.diagnostics.width / 4 * 200)
    np.testing.assert_allclose(stats.diagnostics.activation_sum, exact, rtol=1e-3)


def test_the_diagnostics_routes_agree_on_mixed_batches():
    """One-hot, N and soft batches with labels: numba's sums and TensorFlow's are the same."""
    if not numba_available():
        pytest.skip("numba not installed")
    rng = np.random.default_rng(22)
    batches = [(sequences(rng, 40, 50, kind), (rng.random((40, 3)) < 0.5).astype(float))
               for kind in ("zero", "quarter", "soft")]
    kernel, bias = rng.normal(size=(9, 4, 5)), rng.normal(size=5)
    options = dict(padding="same", both_strands=True, score_bins=50, diagnostics=True, n_labels=3,
                   activation=np.tanh)
    fast = scan_best_windows(batches, kernel, bias, rescore="numba", **options).diagnostics
    plain = scan_best_windows(batches, kernel, bias, rescore="tensorflow", **options).diagnostics
    for name in ("count", "label_count", "activation_sum", "label_activation_sum", "positions"):
        np.testing.assert_allclose(getattr(fast, name), getattr(plain, name), rtol=1e-13, atol=1e-12, err_msg=name)


def test_positions_grow_with_the_longest_sequence_and_labels_must_come_with_every_batch(rescore):
    rng = np.random.default_rng(stable_seed("lengths"))
    kernel = rng.normal(size=(5, 4, 2))
    stats = scan_best_windows([sequences(rng, 5, 20), sequences(rng, 5, 30), sequences(rng, 5, 25)], kernel,
                              rescore=rescore, diagnostics=True)
    assert stats.diagnostics.positions.shape == (2, 26, 2) and stats.diagnostics.positions.sum() == 30
    assert (stats.diagnostics.min_length, stats.diagnostics.max_length) == (20, 30)
    with pytest.raises(K2PError, match=r"\(x, y\) pairs with 2 label column"):
        scan_best_windows([sequences(rng, 5, 20)], kernel, diagnostics=True, n_labels=2, rescore=rescore)
    with pytest.raises(K2PError, match=r"labels of shape \(5, 1\), expected \(5, 2\)"):
        scan_best_windows([(sequences(rng, 5, 20), np.zeros((5, 1)))], kernel, diagnostics=True, n_labels=2,
                          rescore=rescore)
    with pytest.raises(K2PError, match="no score_floor"):
        scan_best_windows([sequences(rng, 5, 20)], kernel, pool=PoolSpec(1, 1, "valid"), score_floor=np.zeros(2),
                          diagnostics=True)
# ----------------------------------------------------------------------------- a GPU, asked without TensorFlow

@pytest.mark.parametrize("value, hidden", [(None, False), ("", True), (" ", True), ("-1", True), ("-1,0", True),
                                           (",0", True), ("0", False), ("0,1", False), ("1,-1", False),
                                           ("GPU-8932f937", False), ("MIG-GPU-1/2/0", False)])
def test_cuda_visible_devices_hides_every_gpu_when_empty_or_starting_negative(value, hidden):
    assert route.cuda_devices_hidden(value) is hidden


def machine(tmp_path, *paths):
    """A root folder holding these device files ("dir/" for a folder)."""
    for path in paths:
        full = tmp_path / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.mkdir(exist_ok=True) if path.endswith("/") else full.touch()
    return str(tmp_path)


def test_no_gpu_is_said_only_when_none_can_be_there(tmp_path, monkeypatch):
    monkeypatch.setattr(route, "_installed", lambda name: False)
    driver_only = machine(tmp_path / "a", "dev/null", "dev/nvidiactl", "proc/driver/nvidia/gpus/")
    assert route.gpu_may_be_visible({}, driver_only)[0] is False
    gpu = machine(tmp_path / "b", "dev/nvidia0")
    assert route.gpu_may_be_visible({}, gpu)[0] is True
    assert route.gpu_may_be_visible({"CUDA_VISIBLE_DEVICES": "0"}, gpu)[0] is True
    for hidden in ("", "-1"):
        assert route.gpu_may_be_visible({"CUDA_VISIBLE_DEVICES": hidden}, gpu) == (
            False, f"CUDA_VISIBLE_DEVICES={hidden!r}")
    assert route.gpu_may_be_visible({}, machine(tmp_path / "c", "proc/driver/nvidia/gpus/0000:01:00.0/"))[0]
    assert route.gpu_may_be_visible({}, machine(tmp_path / "d", "dev/dxg"))[0]  # WSL2
    monkeypatch.setattr(route, "_installed", lambda name: name == "tensorflow-metal")
    assert route.gpu_may_be_visible({}, driver_only) == (True, "tensorflow-metal installed")


def test_without_a_possible_gpu_the_route_is_chosen_without_tensorflow(monkeypatch):
    monkeypatch.setattr(route, "gpu_may_be_visible", lambda: (False, "no device file"))
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # as in a fresh process
    monkeypatch.setattr(route, "import_tensorflow", lambda: pytest.fail("TensorFlow was asked"))
    assert route.gpu_visible() is False
