"""The scan on one device against the scan under tf.distribute.MirroredStrategy.

    python benchmarks/distributed_scan.py            # 4,000 x 1,000 bp, 64 filters of width 19
    python benchmarks/distributed_scan.py --quick    # 1,000 sequences, 3 repeats

The CPU is split into ``--replicas`` logical devices (before TensorFlow starts its devices),
and the same in-memory float32 batches are scanned, repeats interleaved with the order
rotating, by:

- ``one device, numba``: no strategy, the default route when numba is installed;
- ``one device, tensorflow``: no strategy, ``rescore="tensorflow"`` (the route a strategy
  forces: the windows are rescored on the device);
- ``mirrored x1``: ``MirroredStrategy`` over one logical CPU (the strategy's own cost);
- ``mirrored xR``: ``MirroredStrategy`` over R logical CPUs, each batch split among them.

Logical CPUs share the machine's cores and TensorFlow's thread pools: on a CPU, the split
cannot be faster than one device; this measures what the strategy costs, not a GPU's gain.
Every run must give the one-device sums (float64 rounding) before anything is timed.
Figures are medians over the repeats; ratios are ratios of medians in the same run, with their
range over the repeats (each repeat's pair of times).
"""
import argparse
import os
import pathlib
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.timing import interleaved  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sequences, 3 repeats")
    parser.add_argument("--n", type=int, default=4000, help="sequences [4000]")
    parser.add_argument("--length", type=int, default=1000, help="sequence length [1000]")
    parser.add_argument("--batch-size", type=int, default=512, help="[512]")
    parser.add_argument("--replicas", type=int, default=2, help="logical CPUs [2]")
    parser.add_argument("--repeats", type=int, default=5, help="[5]")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = 1000, 3
    return args


def main(argv=None):
    args = parse_args(argv)
    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas)
    import numpy as np

    from k2p_keras.scan.best_windows import scan_best_windows
    from k2p_keras.scan.stats import SCORE_BINS
    from k2p_keras.scan.route import numba_available

    rng = np.random.default_rng(14)
    kernel = rng.normal(size=(19, 4, 64)) / 2
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(args.n, args.length))]
    batches = [x[i:i + args.batch_size] for i in range(0, len(x), args.batch_size)]
    devices = [f"/cpu:{i}" for i in range(args.replicas)]
    runs = {"one device, tensorflow": dict(rescore="tensorflow"),
            "mirrored x1": dict(strategy=tf.distribute.MirroredStrategy(devices[:1])),
            f"mirrored x{args.replicas}": dict(strategy=tf.distribute.MirroredStrategy(devices))}
    if numba_available():
        runs = {"one device, numba": dict(rescore="numba"), **runs}

    def scan(name):
        return scan_best_windows(batches, kernel, both_strands=True, score_bins=SCORE_BINS, **runs[name])

    reference = scan("one device, tensorflow")
    for name in runs:  # traced (and compiled), untimed; every run must agree first
        stats = scan(name)
        for field in ("score_sum", "row_weight", "max_preactivation"):
            np.testing.assert_allclose(getattr(stats, field), getattr(reference, field), rtol=1e-12, atol=1e-9)
    names = list(runs)
    times, _ = interleaved({name: (lambda name=name: scan(name)) for name in names}, args.repeats)
    windows = args.n * (args.length - 19 + 1) * 64 * 2
    print(f"## {args.n:,} x {args.length:,} bp, 64 filters of width 19, both strands, score histogram, "
          f"batch {args.batch_size}; {os.cpu_count()} cores, {args.replicas} logical CPUs; "
          f"TensorFlow {tf.__version__}; {args.repeats} repeats; load average {os.getloadavg()[0]:.1f}")
    base = times["one device, tensorflow"]
    for name in names:
        median = statistics.median(times[name])
        pairs = [t / b for t, b in zip(times[name], base)]  # each repeat's pair of times
        print(f"{name:<24} {median:7.3f} s  {windows / median:.3g} window-filters/s  time / one device "
              f"(tensorflow): {median / statistics.median(base):.2f} (repeats {min(pairs):.2f}-{max(pairs):.2f})")


if __name__ == "__main__":
    main()
