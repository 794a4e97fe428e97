"""The scan: each sequence's best window for every filter (or each max-pool block's).

This is the only costly step (sequences x positions x filters x kernel length); everything
downstream works on the small per-filter sums it returns. The best window is found in
float32 (as the model itself computes it), then rescored in float64 so that the MLE sees
exact sums. Three routes, chosen by :func:`scan_route`:

- ``lookup`` (numba installed, no GPU): one-hot batches become letter codes once; a
  compiled loop of table lookups finds the best windows (:mod:`k2p_keras.scan.lookup`)
  and another sums them (:mod:`k2p_keras.scan.rescore`);
- ``locate`` (numba installed, a GPU): a TensorFlow float32 convolution finds the best
  windows, the compiled loop sums them;
- ``tensorflow``: TensorFlow does both, in one ``tf.function`` per batch.

Batches that are not letter codes (soft rows) always take the ``tensorflow`` route.
TensorFlow places its ops on a GPU when it sees one; it is imported by the first scan,
not when this module is imported.
"""
import numpy as np

from .._numba import compiled_on_disk
from ..errors import K2PError
from ..validate import check_bias, check_kernel, check_one_hot_batch, check_positive_int
from .accumulator import BatchScanner
from .devices import WorkerWatch, check_strategy, worker_share
from .lookup import one_hot_to_best_windows
from .rescore import accumulate_window_sums
from .route import scan_route
from .windows import padding_amounts, PADDINGS, PoolSpec


#: About how long numba takes to compile the lookup route's kernels, once per install: 47 s on 2
#: shared cores under a load of 3, 85-95 s under 5 to 9 (4 minutes under 10).
COMPILE_SECONDS = 60


def compiled_kernels_cached(strategy=None, diagnostics=False):
    """Whether the scan's compiled kernels are cached on disk (:mod:`k2p_keras._numba`): False when
    the first scan will compile them (about :data:`COMPILE_SECONDS`); None when the scan does
    not take the lookup route here (no numba, a GPU, a strategy) or numba cannot say. With
    ``diagnostics``, the sums' kernel is needed with them (its last argument a tuple) and
    without them (``None``): :func:`_sums_variants`."""
    if scan_route("auto", strategy) != "lookup":
        return None
    cached = [compiled_on_disk(one_hot_to_best_windows)] + [
        compiled_on_disk(accumulate_window_sums, signature=lambda types, d=diagnose: (str(types[-1]) != "none") == d)
        for diagnose in _sums_variants(diagnostics)]
    return None if None in cached else all(cached)


def _sums_variants(diagnostics):
    """The variants of the sums' kernel a run calls: without the diagnostics always (with them,
    a run's other passes, the heuristic's or the second pass for windows anywhere, go without)."""
    return (False, True) if diagnostics else (False,)


def load_compiled_kernels(diagnostics=False):
    """Load the lookup route's compiled kernels now: numba's one-time start-up in a process.

    The first call of a numba kernel in a process loads numba's registries and the kernel
    cached on disk (about half a second here; minutes when the cache must be compiled). The
    callback runs this at the first epoch's end, the command line before the scan (so that
    Tomtom's compilation beside the scan does not hold numba's compiler lock first). Does nothing where the scan takes another route (no numba, or a GPU).
    ``diagnostics``: the run asks for the activation diagnostics (:func:`_sums_variants`).
    """
    if scan_route("auto") != "lookup":
        return
    # Every argument of the compiled kernels has one type whatever the shapes and options
    # (float32 batches, float64 tables, 2-D arrays for the optional sums), but for the
    # diagnostics (None or a tuple of arrays: two kernels), so two tiny scans load the very
    # kernels the real scans call.
    for diagnose in _sums_variants(diagnostics):
        scan_best_windows([np.zeros((1, 2, 4), np.float32)], np.ones((2, 4, 1), np.float32), score_bins=1,
                          letter_threshold=0.0, rescore="numba", diagnostics=diagnose)


def scan_best_windows(batches, kernel, bias=None, *, padding="valid", strides=1, both_strands=False,
                      active_only=False, active_threshold=0.0, letter_threshold=None,
                      score_bins=None, progress=None, rescore="auto", strategy=None, pool=None, score_floor=None,
                      diagnostics=False, activation=None, n_labels=0):
    """Scan sequences with a Conv1D kernel and sum what the MLE and the heuristic need.

    Parameters
    ----------
    batches : iterable of numpy.ndarray, each (B, length, 4), or of (x, y) pairs
        One-hot sequences (N rows all-zero or 0.25), e.g. ``SequenceSource.iter_batches()``;
        with labels for the diagnostics, pairs of such a batch and its labels ``y`` (B, n_labels)
        (:func:`k2p_keras.io.labels.labelled_batches`).
    kernel : numpy.ndarray, shape (L, 4, F)
        Cross-correlation kernel with dilation already expanded (zero rows in the gaps).
    bias : numpy.ndarray, shape (F,), optional
    padding : {"valid", "same", "causal"}
        As the Conv1D layer pads: padding rows are zero rows (N).
    strides : int
        Only windows starting at multiples of ``strides`` (in the padded sequence) count.
    both_strands : bool
        Also scan the reverse complement and keep the better of the two best windows.
    active_only : bool
        Leave out of the MLE sums the sequences whose best ``conv + bias`` is not above
        ``active_threshold`` (a ReLU's zero output).
    active_threshold : float
    letter_threshold : float or numpy.ndarray of shape (F,), optional
        When given, also count the letters of best windows with ``conv + bias`` above it
        (one threshold for all filters, or one per filter).
    score_bins : int, optional
        When given, also sort every sequence's best window into this many bins of its score
        (``ScanStats.score_histogram``; :func:`k2p_keras.scan.stats.histogram_grid` places them).
    progress : callable, optional
        Called with the number of sequences in each finished batch.
    rescore : {"auto", "numba", "tensorflow"}
        Where the best windows of one-hot batches are found and rescored in float64 from
        their letter codes: numba's compiled table lookups (:mod:`k2p_keras.scan.lookup`,
        :mod:`k2p_keras.scan.rescore`) or TensorFlow's float32 convolution and gathers.
        "auto" picks numba when it is installed; on a GPU, the convolution then finds the
        windows and numba rescores them. The routes give the same sums up to float64
        rounding (and the same windows unless two scores differ by float32 rounding);
        batches with other values than one-hot, zero and 0.25 rows are always scanned by
        TensorFlow from their rows.
    strategy : tf.distribute.Strategy, optional
        Split each batch among the strategy's replicas (e.g. ``MirroredStrategy`` over a
        machine's GPUs, :mod:`k2p_keras.scan.devices`); the sums are the same up to float64
        rounding. The best windows are then found and rescored by TensorFlow on each
        device. Across machines, each worker (given the same batches) scans every n-th
        batch and the sums are all-reduced: every worker returns the stats of all the sequences.
    pool : PoolSpec, optional
        The model max-pools the conv's output in blocks (:class:`k2p_keras.scan.windows.PoolSpec`;
        :data:`~k2p_keras.scan.windows.EVERY_WINDOW` for every window): the sums run over
        each block's best window instead of each sequence's, a window that is the best of
        several overlapping blocks counted once. Both strands: the better of the strands'
        best windows in each block (the model's Maximum meets them position by position).
    score_floor : numpy.ndarray, shape (F,), optional
        With ``pool``: leave out the blocks whose best window scores (``x . W``, no bias, in
        float32) below it, so that only windows near the sites reach the float64 sums.
    diagnostics : bool
        Also sum each sequence's best window over the whole sequence (with ``pool``, the best
        of its blocks') for the activation diagnostics (``ScanStats.diagnostics``,
        :class:`~k2p_keras.scan.stats.ActivationSums`): its score by bin, its position and
        strand, its activation, and these per label column. Not with ``score_floor``.
    activation : callable, optional
        The layer's activation on float64 ``conv + bias`` arrays, for the diagnostics
        [default: none, ``conv + bias`` itself].
    n_labels : int
        Label columns each batch comes with (1.0 or 0.0 per sequence), for the diagnostics.

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
    if pool is not None and not isinstance(pool, PoolSpec):
        raise K2PError(f"pool: expected a PoolSpec or None, got {type(pool).__name__}")
    if score_floor is not None:
        if pool is None:
            raise K2PError("score_floor applies to the blocks of a pool (give pool)")
        if diagnostics:
            raise K2PError("the diagnostics need every block's best window: no score_floor")
        score_floor = np.broadcast_to(np.asarray(score_floor, dtype=np.float64), (n_filters,))
    n_labels = 0 if not n_labels else check_positive_int(n_labels, "n_labels")
    if n_labels and not diagnostics:
        raise K2PError("labels are summed for the diagnostics only (give diagnostics=True)")
    scanner = BatchScanner(kernel, bias, padding, strides, both_strands, active_only,
                            active_threshold, letter_threshold, score_bins, scan_route(rescore, strategy),
                            check_strategy(strategy), pool, score_floor, diagnostics, activation, n_labels)
    n_sequences = 0
    letter_totals = np.zeros(4)
    worker, n_workers = worker_share(strategy)
    watch = WorkerWatch(strategy) if n_workers > 1 else None  # a worker that dies ends the others' scans too
    for i, batch in enumerate(batches):
        if watch is not None:
            watch()
        batch, labels = batch if isinstance(batch, tuple) else (batch, None)
        if n_labels and labels is None:
            raise K2PError(f"expected batches with their labels, (x, y) pairs with {n_labels} label column(s)")
        batch = check_one_hot_batch(batch, values=False)  # values: in scanner.add, on the route that reads them
        left, right = padding_amounts(batch.shape[1], n_rows, padding, strides)
        if batch.shape[1] + left + right < n_rows:
            raise K2PError(f"sequences of length {batch.shape[1]} are shorter than the kernel ({n_rows})")
        scanner.see_length(batch.shape[1], (left, right))
        if i % n_workers != worker:  # another worker's share (every worker checks every batch alike)
            continue
        letter_totals += scanner.add(batch, [left, right], labels)
        n_sequences += batch.shape[0]
        if progress is not None:
            progress(batch.shape[0])
    if n_workers > 1:
        n_sequences, letter_totals = scanner.sum_over_workers(n_sequences, letter_totals)
    if n_sequences == 0:
        raise K2PError("no sequences to scan")
    return scanner.stats(n_sequences, letter_totals)
