"""What the activation diagnostics cost the scan: the MLE's scan without them, with
them, and with them and one label column, interleaved.

    NUMBA_NUM_THREADS=1 python benchmarks/diagnostics_cost.py [--repeats 15]

Two cases: the bundled example (20,000 sequences of 100 bp, 16 filters of 15 rows, its labels)
and 4,000 random sequences of 1,000 bp with 64 random filters of 19 rows. Each call is
``scan_best_windows`` as the strong sites' MLE runs it (the lookup route, the score histogram),
on batches held in memory. On a shared machine numba's threads wait for each other's cores,
so the work is best compared on one thread (``NUMBA_NUM_THREADS=1``). Prints each variant's
median and fastest time and their ratios to the scan without diagnostics.
"""
import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from k2p_keras.model.activations import activation_forward  # noqa: E402
from k2p_keras.model.conv import find_motif_conv_in_file  # noqa: E402
from k2p_keras.scan.best_windows import scan_best_windows  # noqa: E402
from k2p_keras.scan.stats import SCORE_BINS  # noqa: E402
from timing import interleaved  # noqa: E402

BATCH = 512


def example_case():
    spec = find_motif_conv_in_file(REPO / "example_models" / "deepbind.h5")
    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        x, y = f["x"][()].astype(np.float32), f["y"][()].astype(np.float64)[:, None]
    return "example: 20,000 x 100 bp, 16 filters", spec.kernel, spec.bias, x, y


def long_case(rng):
    kernel, bias = rng.normal(size=(19, 4, 64)).astype(np.float32), rng.normal(size=64)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (4000, 1000))]
    return "random: 4,000 x 1,000 bp, 64 filters", kernel, bias, x, (rng.random((4000, 1)) < 0.5).astype(np.float64)


def scan(kernel, bias, x, y, **options):
    def run():
        n_labels = options.get("n_labels", 0)
        batches = [(x[i:i + BATCH], y[i:i + BATCH]) if n_labels else x[i:i + BATCH] for i in range(0, len(x), BATCH)]
        return scan_best_windows(batches, kernel, bias, score_bins=SCORE_BINS, rescore="numba",
                                 activation=activation_forward("relu"), **options)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"numba threads: {os.environ.get('NUMBA_NUM_THREADS', 'all')}; load {os.getloadavg()[0]:.1f}")
    for name, kernel, bias, x, y in (example_case(), long_case(np.random.default_rng(0))):
        calls = {"without": scan(kernel, bias, x, y), "with": scan(kernel, bias, x, y, diagnostics=True),
                 "with, 1 label column": scan(kernel, bias, x, y, diagnostics=True, n_labels=1)}
        for call in calls.values():
            call()  # numba's kernels loaded, TensorFlow started
        times, _ = interleaved(calls, args.repeats)
        median, fastest = np.median(times["without"]), np.min(times["without"])
        print(name)
        for variant, t in times.items():
            print(f"  {variant:22s} median {np.median(t):6.3f} s (x {np.median(t) / median:.2f}), "
                  f"fastest {np.min(t):6.3f} s (x {np.min(t) / fastest:.2f})")


if __name__ == "__main__":
    main()
