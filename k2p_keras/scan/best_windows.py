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
from ..validate import check_one_hot_batch
from .accumulator import BatchScanner
from .devices import WorkerWatch, check_strategy, worker_share
from .lookup import one_hot_to_best_windows
from .rescore import accumulate_window_sums
from .request import ScanRequest
from .route import scan_route
from .windows import padding_amounts


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


def scan_best_windows(batches, kernel, bias=None, *, progress=None, **options):
    """Scan sequences with a Conv1D kernel and sum what the MLE and the heuristic need.

    The keyword form of :func:`run_scan`: ``kernel``, ``bias`` and ``options`` are the fields of
    a :class:`~k2p_keras.scan.request.ScanRequest` (``padding``, ``strides``, ``both_strands``,
    ``active_only``, ``active_threshold``, ``letter_threshold``, ``score_bins``, ``rescore``,
    ``strategy``, ``pool``, ``score_floor``, ``diagnostics``, ``activation``, ``n_labels``).

    Returns
    -------
    ScanStats
    """
    return run_scan(batches, ScanRequest(kernel, bias, **options), progress)


def run_scan(batches, request, progress=None):
    """Scan sequences as ``request`` (a :class:`~k2p_keras.scan.request.ScanRequest`) asks.

    Parameters
    ----------
    batches : iterable of numpy.ndarray, each (B, length, 4), or of (x, y) pairs
        One-hot sequences (N rows all-zero or 0.25), e.g. ``SequenceSource.iter_batches()``;
        with labels for the diagnostics, pairs of such a batch and its labels ``y`` (B, n_labels)
        (:func:`k2p_keras.io.labels.labelled_batches`).
    request : ScanRequest
    progress : callable, optional
        Called with the number of sequences in each finished batch.

    Returns
    -------
    ScanStats
    """
    if not isinstance(request, ScanRequest):
        raise K2PError(f"request: expected a ScanRequest, got {type(request).__name__}")
    n_rows, padding, strides, n_labels = request.kernel.shape[0], request.padding, request.strides, request.n_labels
    strategy = request.strategy
    scanner = BatchScanner(request, scan_route(request.rescore, strategy), check_strategy(strategy))
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
