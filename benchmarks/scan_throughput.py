"""Throughput and peak memory of the best-window scan.

    python benchmarks/scan_throughput.py            # N = 10,000 x 1,000 bp; memory at N = 10,000 and 200,000
    python benchmarks/scan_throughput.py --quick    # the same at a small scale, about a minute
    python benchmarks/scan_throughput.py --skip-memory --skip-throughput   # the ratios only

Memory (run first, see ``main``): for each N in ``--memory-n``, an HDF5 file of N random
one-hot sequences (uint8, lzf, written in chunks) is scanned by a fresh subprocess that
reads it once alone (``iter_batches``, to time the reading), then runs
``open_sequences(path).iter_batches(B)`` -> ``scan_best_windows`` -> ``estimate_base``, B
being ``batch_size="auto"``'s size (``--memory-batch-size``).
Its peak resident memory is the child's ``VmHWM`` (also ``ru_maxrss`` from ``os.wait4``),
and ``VmHWM`` after the imports tells the scan's own share.

Throughput: on the same random one-hot sequences, in the same process, repeat by repeat
(the order rotating, so that a busy machine weighs on every method alike), it times

- ours: ``k2p_keras.scan.best_windows.scan_best_windows`` over in-memory float32 batches (the scanner
  is built and traced inside the timed call, as a user pays it);
- (a) k2p-1.0's algorithm, re-implemented: a Python loop over sequences and kernels, one
  ``scipy.signal.correlate(sequence, kernel, mode="valid")`` and one ``max`` each (kernels
  stored in k2p-1.0's convolution convention, so each call flips one back). It is timed on
  the first ``--original-subset`` sequences and its rate extrapolated: the loop's cost is
  the same for every sequence of a given length. Once, for context, also with scipy's
  ``method="direct"``;
- (b) Keras: a sub-model whose output is the Conv1D layer (linear activation; the model's
  ReLU is a separate layer), ``predict(batch, batch_size=B)`` on each batch, then numpy
  ``max`` and ``argmax`` over positions; (b') the same with ``predict_on_batch``, Keras'
  leanest call;
- the ceiling: float32 matrix multiplication (2048 x 2048, numpy and ``tf.matmul``, the
  faster in each repeat), as FLOP/s. The scan's useful work is
  ``2 * positions * filters * L * 4`` FLOPs;
- a profile of ours: the float32 ``tf.nn.conv1d`` alone, and with the ``argmax`` over
  positions, on the same batches.

Length ratio: ``scan_best_windows`` with 64 filters of width 19 (the callback's
defaults: the strong sites' score histogram), on 101 bp and on 1,000 bp sequences holding
the same number of windows (``--ratio-n`` sequences of 1,000 bp, 11.8x as many of 101 bp),
repeats interleaved, for each rescoring route ("numba" when installed, "tensorflow"), in the
batches ``batch_size="auto"`` gives each route and length (``--ratio-batch-size``): the
per-window rate at 1,000 bp over that at 101 bp (goal: at most 1.5).

Against memelite's FIMO: ``memelite.fimo`` scores every window of every motif
on both strands with numba-compiled table lookups, the nearest peer to our scan. Both get
the same ``--fimo-n`` random sequences of 1,000 bp and the same 64 filters of width 19
(FIMO the PWMs ``kernel_to_pwm`` makes of them, ``return_counts=True``: its leanest
output), both strands, repeats interleaved with each route of ``scan_best_windows``:
"lookup" (numba finds and sums the best windows, the default on a CPU), "locate"
(TensorFlow's conv finds them and numba sums them: the default on a CPU before the lookups, and on a
GPU) and "tensorflow". Printed: the per-window rate of each route over FIMO's in the same
run (goal for the default: at least 1.5), and over the earlier routes; and the lookup route
over FIMO with numba on one thread each (per core: what a machine whose other cores are
busy leaves of the comparison).

All methods must agree on the summed best scores before anything is timed. Throughput is
"positions x filters per second", positions being the windows scanned
(``N * (length - L + 1)``). Figures are medians over ``--repeats`` repeats; a ratio is the
ratio of two medians, with its range over the repeats (each repeat's pair of times).
"""
import argparse
import json
import os
import pathlib
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.timing import interleaved  # noqa: E402

GEMM_SIZE = 2048


def _vm_status(field):
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def random_one_hot(rng, n, length, dtype=np.float32):
    """``n`` uniformly random one-hot sequences, shape (n, length, 4)."""
    return np.eye(4, dtype=dtype)[rng.integers(0, 4, (n, length))]


def random_kernel(rng, kernel_length, n_filters):
    """A Keras cross-correlation kernel (L, 4, F) at the scale of a trained first layer."""
    return rng.normal(0.0, 0.5, (kernel_length, 4, n_filters))


# --- the methods compared -------------------------------------------------------------------

def original_best_scores(sequences, kernels_convolution, method="auto"):
    """k2p-1.0's scan: the best window score of every (sequence, kernel), summed.

    ``kernels_convolution`` is (F, L, 4) in k2p-1.0's convolution convention, so each call
    flips its kernel back before correlating, as the original had to. ``method`` is
    scipy's: "auto" (the default, FFT at these sizes) or "direct".
    """
    from scipy.signal import correlate

    total = 0.0
    for sequence in sequences:
        for kernel in kernels_convolution:
            total += np.max(correlate(sequence, np.flipud(kernel), mode="valid", method=method)[:, 0])
    return total


def keras_submodel(kernel, sequence_length):
    """A conv -> ReLU -> global max-pool -> dense model, and its sub-model ending at the Conv1D."""
    import keras

    n_rows, _, n_filters = kernel.shape
    inputs = keras.Input((sequence_length, 4))
    conv = keras.layers.Conv1D(n_filters, n_rows, activation="linear", name="motifs")
    hidden = keras.layers.GlobalMaxPooling1D()(keras.layers.ReLU()(conv(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    conv.set_weights([kernel.astype(np.float32), np.zeros(n_filters, np.float32)])
    return keras.Model(model.inputs, model.get_layer("motifs").output)


def keras_predict(submodel, batches, batch_size):
    """(b): ``predict`` per batch, then numpy max and argmax over positions; returns the summed max."""
    total = 0.0
    for batch in batches:
        out = submodel.predict(batch, batch_size=batch_size, verbose=0)
        total += float(out.max(axis=1).sum(dtype=np.float64))
        out.argmax(axis=1)
    return total


def keras_predict_on_batch(submodel, batches):
    """(b'): ``predict_on_batch`` per batch, then numpy max and argmax over positions."""
    total = 0.0
    for batch in batches:
        out = np.asarray(submodel.predict_on_batch(batch))
        total += float(out.max(axis=1).sum(dtype=np.float64))
        out.argmax(axis=1)
    return total


def conv_profile(kernel):
    """Traced functions for the profile: the float32 conv alone, and the conv with its argmax."""
    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()

    kernel32 = tf.constant(kernel, tf.float32)
    spec = [tf.TensorSpec([None, None, 4], tf.float32)]

    @tf.function(input_signature=spec)
    def conv_only(x):
        # A slice of the output keeps the whole conv alive without copying it out.
        return tf.nn.conv1d(x, kernel32, stride=1, padding="VALID")[:, :1, :]

    @tf.function(input_signature=spec)
    def conv_argmax(x):
        return tf.argmax(tf.nn.conv1d(x, kernel32, stride=1, padding="VALID"), axis=1,
                         output_type=tf.int32)

    def run(function, batches):
        for batch in batches:
            function(tf.constant(batch)).numpy()

    return (lambda batches: run(conv_only, batches)), (lambda batches: run(conv_argmax, batches))


def gemm_seconds(size=GEMM_SIZE, calls=5):
    """Median seconds of one float32 (size x size) @ (size x size), numpy and tf.matmul."""
    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()

    rng = np.random.default_rng(1)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    ta, tb = tf.constant(a), tf.constant(b)
    out = {}
    for name, call in (("numpy", lambda: a @ b), ("tf.matmul", lambda: tf.matmul(ta, tb).numpy())):
        call()
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times)
    return out


# --- throughput --------------------------------------------------------------------------------

def throughput(n_filters, args):
    """Time every method on the same data; return a dict of medians and ratios."""
    from k2p_keras.scan.best_windows import scan_best_windows

    rng = np.random.default_rng(n_filters)
    x = random_one_hot(rng, args.n, args.length)
    kernel = random_kernel(rng, args.kernel_length, n_filters)
    batches = [x[i:i + args.batch_size] for i in range(0, args.n, args.batch_size)]
    windows = args.length - args.kernel_length + 1
    work = args.n * windows * n_filters  # positions x filters
    subset = min(args.original_subset, args.n)
    subset_x = x[:subset].astype(np.float64)
    kernels_convolution = np.ascontiguousarray(kernel.transpose(2, 0, 1)[:, ::-1, :])
    submodel = keras_submodel(kernel, args.length)
    conv_only, conv_argmax = conv_profile(kernel)

    # Untimed warm-up, and the check that all methods compute the same best scores.
    ours_total = scan_best_windows(batches, kernel).score_sum.sum()
    checks = {
        "keras predict": keras_predict(submodel, batches, args.batch_size),
        "keras predict_on_batch": keras_predict_on_batch(submodel, batches),
    }
    subset_ours = scan_best_windows([x[:subset]], kernel).score_sum.sum()
    subset_original = original_best_scores(subset_x[:2], kernels_convolution)  # warm-up
    subset_original = original_best_scores(subset_x, kernels_convolution)
    for name, total in checks.items():
        _check_close(name, total, ours_total)
    _check_close("k2p-1.0 loop", subset_original, subset_ours)
    conv_only(batches)
    conv_argmax(batches)
    # Once, for context only: scipy's direct method, which scipy < 0.19 always used.
    direct_subset = min(subset, 20)
    start = time.perf_counter()
    original_best_scores(subset_x[:direct_subset], kernels_convolution, method="direct")
    direct_rate = direct_subset * windows * n_filters / (time.perf_counter() - start)

    methods = {
        "ours": lambda: scan_best_windows(batches, kernel),
        "keras predict": lambda: keras_predict(submodel, batches, args.batch_size),
        "keras predict_on_batch": lambda: keras_predict_on_batch(submodel, batches),
        "k2p-1.0 loop": lambda: original_best_scores(subset_x, kernels_convolution),
        "conv only": lambda: conv_only(batches),
        "conv + argmax": lambda: conv_argmax(batches),
        "gemm": gemm_seconds,
    }
    names = list(methods)
    times, results = interleaved(methods, args.repeats)
    gemm = {"numpy": [], "tf.matmul": []}
    for result in results["gemm"]:
        for key, value in result.items():
            gemm[key].append(value)
    print(f"  ours, each repeat: {', '.join(f'{t:.2f}' for t in times['ours'])} s", file=sys.stderr)

    gemm_flops = 2.0 * GEMM_SIZE ** 3
    ceiling = statistics.median(gemm_flops / min(a, b) for a, b in zip(gemm["numpy"], gemm["tf.matmul"]))
    seconds = {name: statistics.median(values) for name, values in times.items()}
    # The k2p-1.0 loop ran on `subset` sequences: its times are scaled up to the whole work.
    scale = {name: 1.0 for name in names}
    scale["k2p-1.0 loop"] = work / (subset * windows * n_filters)
    rate = {name: work / (seconds[name] * scale[name]) for name in names if name != "gemm"}
    flops_per_unit = 2.0 * args.kernel_length * 4

    def speedup(other):
        """Ours over ``other``: the ratio of the medians, and its range over paired repeats."""
        paired = [t * scale[other] / o for t, o in zip(times[other], times["ours"])]
        return rate["ours"] / rate[other], (min(paired), max(paired))

    result = {
        "n_filters": n_filters, "work": work, "subset": subset, "seconds": seconds, "rate": rate,
        "gemm_gflops": {key: gemm_flops / statistics.median(values) / 1e9 for key, values in gemm.items()},
        "ceiling_gflops": ceiling / 1e9,
        "direct_subset": direct_subset, "original_direct_rate": direct_rate,
        "fraction_of_ceiling": rate["ours"] * flops_per_unit / ceiling,
        "conv_fraction_of_ceiling": rate["conv only"] * flops_per_unit / ceiling,
        "conv_time_over_ours": seconds["conv only"] / seconds["ours"],
        "conv_argmax_time_over_ours": seconds["conv + argmax"] / seconds["ours"],
    }
    for key, other in (("ratio_vs_original", "k2p-1.0 loop"), ("ratio_vs_keras_predict", "keras predict"),
                       ("ratio_vs_keras_predict_on_batch", "keras predict_on_batch")):
        result[key], result[key + "_range"] = speedup(other)
    return result


def _check_close(name, total, reference):
    """The methods must agree on the summed best scores (float32 conv vs float64 sums)."""
    if not np.isclose(total, reference, rtol=1e-5, atol=1e-3):
        raise SystemExit(f"{name} disagrees with ours on the summed best scores: {total!r} vs {reference!r}")


def print_throughput(result, args):
    rate, seconds = result["rate"], result["seconds"]
    print(f"\n## {result['n_filters']} filters of length {args.kernel_length}, N = {args.n:,} sequences of "
          f"{args.length:,} bp, batch {args.batch_size}; {result['work']:.3g} positions x filters")
    print(f"{'method':<34}{'median s':>10}{'pos*filters/s':>15}{'useful GFLOP/s':>16}")
    flops_per_unit = 2.0 * args.kernel_length * 4
    rows = [("ours (scan_best_windows)", "ours"),
            (f"(a) k2p-1.0 loop, {result['subset']} seqs", "k2p-1.0 loop"),
            ("(b) keras predict + max/argmax", "keras predict"),
            ("(b') keras predict_on_batch", "keras predict_on_batch"),
            ("profile: conv1d alone", "conv only"),
            ("profile: conv1d + argmax", "conv + argmax")]
    for label, key in rows:
        print(f"{label:<34}{seconds[key]:>10.3f}{rate[key]:>15.4g}{rate[key] * flops_per_unit / 1e9:>16.2f}")
    gemm = result["gemm_gflops"]
    print(f"ceiling: float32 GEMM {GEMM_SIZE}^3: numpy {gemm['numpy']:.1f} GFLOP/s, "
          f"tf.matmul {gemm['tf.matmul']:.1f} GFLOP/s (per-repeat best, median {result['ceiling_gflops']:.1f})")

    def ratio_line(label, key, target):
        low, high = result[key + "_range"]
        print(f"RATIO ours / {label:<27}: {result[key]:7.2f}x   (repeats {low:.2f}..{high:.2f}){target}")

    ratio_line("(a) k2p-1.0 loop", "ratio_vs_original", "; target >= 300x")
    ratio_line("(b) keras predict", "ratio_vs_keras_predict", "; target >= 2x")
    ratio_line("(b') keras predict_on_batch", "ratio_vs_keras_predict_on_batch", "")
    print(f"      ours / k2p-1.0 loop with scipy method='direct' ({result['direct_subset']} seqs, timed once): "
          f"{rate['ours'] / result['original_direct_rate']:.0f}x")
    print(f"ours at {100 * result['fraction_of_ceiling']:.1f}% of the GEMM ceiling, the conv alone at "
          f"{100 * result['conv_fraction_of_ceiling']:.1f}%; of ours' time, the conv takes "
          f"{100 * result['conv_time_over_ours']:.0f}% and conv + argmax "
          f"{100 * result['conv_argmax_time_over_ours']:.0f}%")


# --- 101 bp against 1,000 bp ------------------------------------------------------------------

def length_ratio(args):
    """Per-window rate of the scan at 1,000 bp over its rate at 101 bp, per rescoring route."""
    from k2p_keras.scan.route import auto_batch_size
    from k2p_keras.scan.best_windows import scan_best_windows
    from k2p_keras.scan.stats import SCORE_BINS
    from k2p_keras.scan.route import numba_available

    rng = np.random.default_rng(15)
    kernel = random_kernel(rng, 19, 64)
    windows_long = 1000 - 19 + 1
    n_short = round(args.ratio_n * windows_long / (101 - 19 + 1))
    data = {101: random_one_hot(rng, n_short, 101), 1000: random_one_hot(rng, args.ratio_n, 1000)}
    routes = (["numba"] if numba_available() else []) + ["tensorflow"]
    runs = [(route, length) for route in routes for length in data]

    def size(route, length):
        if args.ratio_batch_size == "auto":  # the default of extract, the CLI and the callback
            return auto_batch_size(length, 19, 64, rescore=route)
        return int(args.ratio_batch_size)

    def scan(route, length):
        x, step = data[length], size(route, length)
        batches = [x[i:i + step] for i in range(0, len(x), step)]
        return scan_best_windows(batches, kernel, rescore=route, score_bins=SCORE_BINS)

    for run in runs:
        scan(*run)  # compiled and traced, untimed
    times, _ = interleaved({run: (lambda run=run: scan(*run)) for run in runs}, args.repeats)
    sizes = ", ".join(f"{route} {size(route, 101)} / {size(route, 1000)}" for route in routes)
    print(f"\n## 101 bp against 1,000 bp: 64 filters of width 19, score histogram, batches of 101 / 1,000 bp "
          f"sequences: {sizes}; "
          f"{n_short:,} x 101 bp and {args.ratio_n:,} x 1,000 bp ({args.ratio_n * windows_long:.3g} windows each); "
          f"load average {os.getloadavg()[0]:.1f}")
    result = {}
    for route in routes:
        rate = {length: len(data[length]) * (length - 18) * 64 / statistics.median(times[(route, length)])
                for length in data}
        result[route] = {"rate_101": rate[101], "rate_1000": rate[1000], "ratio": rate[1000] / rate[101]}
        print(f"rescore={route:<11} window-filters/s: 101 bp {rate[101]:.3g}, 1,000 bp {rate[1000]:.3g}; "
              f"RATIO 1,000 / 101 bp per window: {rate[1000] / rate[101]:.2f} (goal <= 1.5)")
    return result


# --- against memelite's FIMO --------------------------------------------------------------------

def scan_route(route, batches, kernel):
    """``scan_best_windows`` on both strands by one route: "lookup", "locate" or "tensorflow"."""
    from k2p_keras.scan import best_windows, route as scan

    if route == "locate":  # what rescore="auto" takes on a GPU (and took on the CPU before the lookups)
        visible, scan.gpu_visible = scan.gpu_visible, lambda: True
        try:
            return best_windows.scan_best_windows(batches, kernel, both_strands=True, rescore="auto")
        finally:
            scan.gpu_visible = visible
    return best_windows.scan_best_windows(batches, kernel, both_strands=True,
                                         rescore={"lookup": "numba", "tensorflow": "tensorflow"}[route])


def fimo_ratio(args):
    """Per-window rate of each scan route over memelite's FIMO, on the same sequences and motifs."""
    from memelite import fimo

    from k2p_keras.axes import keras_kernel_to_filters, pwm_to_memelite
    from k2p_keras.transform import kernel_to_pwm
    from k2p_keras.scan.route import numba_available

    rng = np.random.default_rng(14)
    kernel = random_kernel(rng, 19, 64)
    x = random_one_hot(rng, args.fimo_n, 1000)
    batches = [x[i:i + args.batch_size] for i in range(0, len(x), args.batch_size)]
    x_memelite = np.ascontiguousarray(x.transpose(0, 2, 1))  # memelite's (N, 4, length)
    motifs = {f"filter_{t}": pwm_to_memelite(pwm)
              for t, pwm in enumerate(keras_kernel_to_filters(kernel_to_pwm(kernel)))}
    import numba

    routes = (["lookup", "locate"] if numba_available() else []) + ["tensorflow"]
    runs = {route: (lambda route=route: scan_route(route, batches, kernel)) for route in routes}
    runs["fimo"] = lambda: fimo(motifs, x_memelite, reverse_complement=True, return_counts=True)
    totals = {route: run().score_sum.sum() for route, run in runs.items() if route != "fimo"}  # compiled, traced
    runs["fimo"]()
    for route, total in totals.items():
        _check_close(f"rescore route {route}", total, totals[routes[0]])

    def one_thread(run):
        """``run`` with numba on one thread: the two compiled scans per core, whatever else runs."""
        def call():
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                return run()
            finally:
                numba.set_num_threads(threads)
        return call

    one_core = routes[:1] if routes[0] == "lookup" else []
    for name in one_core + ["fimo"]:
        runs[f"{name}, 1 thread"] = one_thread(runs[name])
    times, _ = interleaved(runs, args.repeats)
    print(f"\n## Against memelite's FIMO: {args.fimo_n:,} x 1,000 bp, 64 filters of width 19, both strands, "
          f"batch {args.batch_size}; load average {os.getloadavg()[0]:.1f}")
    result = {"seconds": {name: statistics.median(t) for name, t in times.items()}}

    def ratio(slow, fast):
        """Per-window rate of ``fast`` over ``slow`` (the same windows): median ratio, range over repeats."""
        each = [a / b for a, b in zip(times[slow], times[fast])]
        return statistics.median(times[slow]) / statistics.median(times[fast]), min(each), max(each)

    for route in routes:
        result[f"{route}_over_fimo"] = ratio("fimo", route)
        value, low, high = result[f"{route}_over_fimo"]
        print(f"RATIO {route:<10} / memelite fimo per window: {value:5.2f}x (repeats {low:.2f}..{high:.2f})"
              f"{'; goal >= 1.5' if route == routes[0] else ''}")
    for name in one_core:
        result[f"{name}_over_fimo_1_thread"] = ratio("fimo, 1 thread", f"{name}, 1 thread")
        value, low, high = result[f"{name}_over_fimo_1_thread"]
        print(f"RATIO {name} / memelite fimo per window, numba on 1 thread each: {value:5.2f}x "
              f"(repeats {low:.2f}..{high:.2f})")
    for slow in routes[1:]:
        result[f"{routes[0]}_over_{slow}"] = ratio(slow, routes[0])
        value, low, high = result[f"{routes[0]}_over_{slow}"]
        print(f"RATIO {routes[0]} / {slow} per window: {value:5.2f}x (repeats {low:.2f}..{high:.2f})")
    return result


# --- memory -----------------------------------------------------------------------------------

def write_hdf5(path, n, length, seed, chunk=10_000, compression="lzf"):
    """N random one-hot sequences as uint8 (``compression``: h5py's, or None), written ``chunk`` rows at a time."""
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset("sequences", shape=(n, length, 4), dtype=np.uint8,
                                     chunks=(min(256, n), length, 4), compression=compression)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            data[start:stop] = random_one_hot(rng, stop - start, length, dtype=np.uint8)


def memory_child(path, n_filters, kernel_length, batch_size):
    """Run in the subprocess: the streamed pipeline, printing one JSON line of measurements."""
    from k2p_keras.motifs.mle import estimate_base
    from k2p_keras.scan.best_windows import scan_best_windows
    from k2p_keras.io.sequences import open_sequences

    kernel = random_kernel(np.random.default_rng(7), kernel_length, n_filters)
    if batch_size == "auto":  # the default of extract and the CLI
        from k2p_keras.scan.route import auto_batch_size

        batch_size = auto_batch_size(open_sequences(path).max_length, kernel_length, n_filters)
    hwm_imports = _vm_status("VmHWM")
    start = time.perf_counter()
    for _ in open_sequences(path).iter_batches(batch_size):
        pass
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    source = open_sequences(path)
    stats = scan_best_windows(source.iter_batches(batch_size), kernel)
    estimate = estimate_base(kernel, stats.score_sum, stats.row_weight, on_degenerate="nan")
    print(json.dumps({
        "n_sequences": stats.n_sequences,
        "seconds": time.perf_counter() - start,
        "read_seconds": read_seconds,
        "hwm_imports_mib": hwm_imports,
        "hwm_mib": _vm_status("VmHWM"),
        "ru_maxrss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "finite_estimates": int(np.isfinite(estimate.ln_base).sum()),
    }))


def memory_batch_text(args):
    """The memory run's batch size, as printed: the number, and what "auto" made of it."""
    if args.memory_batch_size != "auto":
        return args.memory_batch_size
    from k2p_keras.scan.route import auto_batch_size

    return f"{auto_batch_size(args.length, args.kernel_length, args.memory_filters)} (auto)"


def run_memory_child(path, args):
    """Start the child, wait for it with ``os.wait4`` and return its measurements and peak RSS."""
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--memory-child", str(path),
               "--memory-filters", str(args.memory_filters), "--kernel-length", str(args.kernel_length),
               "--batch-size", str(args.batch_size), "--memory-batch-size", args.memory_batch_size]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the memory child failed (exit {child.returncode}) on {path}")
    measured = json.loads(output.strip().splitlines()[-1])
    measured["ru_maxrss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    return measured


def memory(args):
    tmp_root = args.tmpdir or tempfile.gettempdir()
    needed = max(args.memory_n) * args.length * 4 * 1.1  # uncompressed, as a safe upper bound
    free = shutil.disk_usage(tmp_root).free
    print(f"\n## Peak memory: {args.memory_filters} filters of length {args.kernel_length}, sequences of "
          f"{args.length:,} bp streamed from HDF5 (uint8, lzf) in batches of {memory_batch_text(args)}")
    print(f"temp dir {tmp_root}: {free / 2**30:.1f} GiB free, at most {needed / 2**30:.2f} GiB needed")
    if free < needed:
        raise SystemExit(f"not enough free space in {tmp_root}; give --tmpdir")
    results = []
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="k2p_scan_bench_") as folder:
        for n in args.memory_n:
            path = pathlib.Path(folder) / f"seqs_{n}.h5"
            start = time.perf_counter()
            write_hdf5(path, n, args.length, seed=n)
            written = time.perf_counter() - start
            measured = run_memory_child(path, args)
            measured.update(n=n, file_mib=path.stat().st_size / 2**20, write_seconds=written,
                            float32_data_mib=n * args.length * 4 * 4 / 2**20)
            results.append(measured)
            path.unlink()
    print(f"{'N':>9}{'file MiB':>10}{'as float32 MiB':>16}{'read s':>8}{'pipeline s':>12}{'seq/s':>9}"
          f"{'peak VmHWM MiB':>16}{'wait4 maxrss':>14}{'after imports':>15}{'scan adds':>11}")
    for r in results:
        print(f"{r['n']:>9,}{r['file_mib']:>10.1f}{r['float32_data_mib']:>16,.0f}{r['read_seconds']:>8.1f}"
              f"{r['seconds']:>12.1f}"
              f"{r['n'] / r['seconds']:>9,.0f}{r['hwm_mib']:>16.0f}{r['ru_maxrss_mib']:>14.0f}"
              f"{r['hwm_imports_mib']:>15.0f}{r['hwm_mib'] - r['hwm_imports_mib']:>11.0f}")
    first, last = results[0], results[-1]
    print(f"RATIO peak RSS N={last['n']:,} / N={first['n']:,}: {last['hwm_mib'] / first['hwm_mib']:.3f} "
          f"(scan's own part: {last['hwm_mib'] - last['hwm_imports_mib']:.0f} / "
          f"{first['hwm_mib'] - first['hwm_imports_mib']:.0f} MiB) for {last['n'] / first['n']:.0f}x the "
          f"sequences (target: flat, 1.0)")
    return results


# --- main ------------------------------------------------------------------------------------

def environment():
    """Versions and CPU, read without importing TensorFlow (see ``main`` for why)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"python": platform.python_version(), "tensorflow": installed("tensorflow"),
            "keras": installed("keras"), "numpy": np.__version__, "scipy": installed("scipy"),
            "h5py": installed("h5py"), "numba": installed("numba"), "memelite": installed("memelite"), "cpu": cpu,
            "cores": len(os.sched_getaffinity(0))}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small scale, about a minute")
    parser.add_argument("--filters", type=int, nargs="+", default=None, help="filter counts [64 16]")
    parser.add_argument("--n", type=int, default=None, help="sequences for throughput [10000; quick 500]")
    parser.add_argument("--length", type=int, default=1000, help="sequence length [1000]")
    parser.add_argument("--kernel-length", type=int, default=24, help="filter length L [24]")
    parser.add_argument("--batch-size", type=int, default=512, help="batch size, ours and Keras [512]")
    parser.add_argument("--original-subset", type=int, default=None,
                        help="sequences the k2p-1.0 loop is timed on [200; quick 10]")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats [5; quick 3]")
    parser.add_argument("--memory-n", type=int, nargs="+", default=None,
                        help="sequence counts for the memory run [10000 200000; quick 1000 5000]")
    parser.add_argument("--memory-filters", type=int, default=64, help="filters in the memory run [64]")
    parser.add_argument("--memory-batch-size", default="auto",
                        help="batch size of the memory run: auto (the default of extract and the CLI) or a number [auto]")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-length-ratio", action="store_true")
    parser.add_argument("--skip-fimo", action="store_true")
    parser.add_argument("--fimo-n", type=int, default=None,
                        help="1,000 bp sequences against memelite's FIMO [4000; quick 500]")
    parser.add_argument("--ratio-n", type=int, default=None,
                        help="1,000 bp sequences in the length ratio [2000; quick 300]")
    parser.add_argument("--ratio-batch-size", default="auto",
                        help="batch size of the length ratio: auto (each route's auto size, the default of "
                             "extract and the CLI) or a number [auto]")
    parser.add_argument("--tmpdir", default=None, help="where the HDF5 files go [the system temp dir]")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {"filters": [64, 16], "n": 500 if quick else 10_000, "original_subset": 10 if quick else 200,
                "repeats": 3 if quick else 5, "ratio_n": 300 if quick else 2000,
                "fimo_n": 500 if quick else 4000, "memory_n": [1000, 5000] if quick else [10_000, 200_000]}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.memory_child:
        size = args.memory_batch_size
        memory_child(args.memory_child, args.memory_filters, args.kernel_length, size if size == "auto" else int(size))
        return
    if not args.skip_fimo:
        import importlib.util

        missing = [name for name in ("memelite", "numba") if importlib.util.find_spec(name) is None]
        if missing:  # before the long phases, not after them
            sys.exit(f"the FIMO comparison needs {' and '.join(missing)}: pip install '.[bench]' "
                     "(or give --skip-fimo)")
    began = time.perf_counter()
    env = environment()
    print(f"# scan throughput{' (--quick)' if args.quick else ''}: Python {env['python']}, "
          f"TensorFlow {env['tensorflow']}, Keras {env['keras']}, numpy {env['numpy']}, scipy {env['scipy']}, "
          f"h5py {env['h5py']}, numba {env['numba']}, memelite {env['memelite']}")
    print(f"# {env['cores']} CPU cores ({env['cpu']}); medians of {args.repeats} interleaved repeats")
    report = {"environment": env, "args": vars(args), "throughput": [], "memory": None, "length_ratio": None,
              "fimo": None}
    # Memory first: a child forked from a parent that holds TensorFlow and the throughput data
    # inherits that parent's resident size in its ru_maxrss, which would hide the child's own peak.
    if not args.skip_memory:
        report["memory"] = memory(args)
    if not args.skip_throughput:
        from k2p_keras._tf import import_tensorflow

        tf = import_tensorflow()
        env["tf_devices"] = [d.device_type for d in tf.config.list_physical_devices()]
        print(f"\n# TensorFlow devices: {env['tf_devices']}")
        for n_filters in args.filters:
            result = throughput(n_filters, args)
            print_throughput(result, args)
            report["throughput"].append(result)
    if not args.skip_length_ratio:
        report["length_ratio"] = length_ratio(args)
    if not args.skip_fimo:
        report["fimo"] = fimo_ratio(args)
    print(f"\n(total {time.perf_counter() - began:.0f} s)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1, default=float)


if __name__ == "__main__":
    main()
