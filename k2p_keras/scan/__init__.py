"""Stage 2, the scan: each sequence's best window per filter, summed for the MLE and the heuristic.

- :mod:`.request`: :class:`~.request.ScanRequest`, what one scan is asked (checked once);
- :mod:`.best_windows`: :func:`~.best_windows.run_scan` (and its keyword form
  :func:`~.best_windows.scan_best_windows`), the entry;
- :mod:`.route`: which route a scan takes here (numba lookups, TensorFlow) and its batch size;
- :mod:`.accumulator`: the running sums, batch after batch;
- :mod:`.lookup`: numba's compiled lookup scan (best windows on a CPU);
- :mod:`.rescore`: numba's compiled float64 sums over the best windows;
- :mod:`.tf_steps`: the TensorFlow steps (GPU, soft rows, strategies);
- :mod:`.codes`: letter codes and their lookup table;
- :mod:`.windows`: padding and strides, as Keras places windows;
- :mod:`.stats`: what a scan returns (:class:`~.stats.ScanStats`);
- :mod:`.devices`: the scan on several devices (``tf.distribute``).
"""
