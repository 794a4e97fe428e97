"""The whole command line against k2p-1.0's loop, per sequence.

    python benchmarks/cli_marginal.py                 # 4,000 and 44,000 x 1,000 bp, 5 repeats
    python benchmarks/cli_marginal.py --quick         # 500 and 5,000, 3 repeats

A saved model (``Conv1D(64, 19, relu) -> GlobalMaxPooling1D -> Dense(1)``, random weights
at a trained layer's scale) and two HDF5 files of random one-hot sequences stored as uint8
(``--small`` and ``--large`` sequences of ``--length`` bp; uncompressed, or lzf with ``--lzf``,
whose decompression is part of the marginal cost: 90.7 against 63.2 us per 1,000 bp sequence
in one pair of runs here). In the same loop of interleaved
repeats (the order rotating, so that a busy machine weighs on each alike):

- ``k2p-keras MODEL SEQS -o OUT -q`` in a fresh process (its defaults: strong sites, one
  shared base, ``batch_size="auto"``) on each file. The **marginal cost per sequence** is
  the difference of the two runs of a repeat over the difference of the sizes (what one
  more sequence costs once TensorFlow, the model and the compiled kernels are loaded),
  the median over the repeats. A process's start-up (TensorFlow's import, about 10 s here)
  varies by a second from run to run on a shared machine, so the files differ by 40,000
  sequences (4,000 against 24,000 were swamped by it);
- k2p-1.0's algorithm, re-implemented (:func:`benchmarks.scan_throughput.original_best_scores`:
  a Python loop over sequences and kernels, one ``scipy.signal.correlate`` and one ``max``
  each) on the first ``--original-subset`` sequences: its cost per sequence.

Printed: both per-sequence costs and their ratio (goal: at least 500): the median of the
repeats' ratios, and their range.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.scan_throughput import original_best_scores, random_kernel, write_hdf5  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402


def write_model(path, length, width, filters, seed):
    """The saved model: its conv kernel at a trained layer's scale (random_kernel)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(filters, width, activation="relu", name="motifs"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    kernel = random_kernel(np.random.default_rng(seed), width, filters)
    model.get_layer("motifs").set_weights([kernel.astype(np.float32), np.zeros(filters, np.float32)])
    model.save(path)
    return kernel


def run_cli(model, sequences, out):
    done = subprocess.run([sys.executable, "-m", "k2p_keras", str(model), str(sequences), "-o", str(out), "-q"],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        raise SystemExit(f"k2p-keras failed on {sequences}:\n{done.stderr[-2000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--small", type=int, default=None, help="sequences in the smaller file [4000; quick 500]")
    parser.add_argument("--large", type=int, default=None, help="sequences in the larger file [44000; quick 5000]")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--width", type=int, default=19)
    parser.add_argument("--repeats", type=int, default=None, help="[5; quick 3]")
    parser.add_argument("--original-subset", type=int, default=None,
                        help="sequences the k2p-1.0 loop scans per repeat [20; quick 5]")
    parser.add_argument("--lzf", action="store_true", help="store the sequences with lzf compression")
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    small = args.small or (500 if args.quick else 4000)
    large = args.large or (5000 if args.quick else 44000)
    repeats = args.repeats or (3 if args.quick else 5)
    subset = args.original_subset or (5 if args.quick else 20)
    if large <= small:
        raise SystemExit("--large must be more sequences than --small")

    rng = np.random.default_rng(14)
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as folder:
        folder = pathlib.Path(folder)
        kernel = write_model(folder / "model.h5", args.length, args.width, args.filters, seed=14)
        for seed, (name, n) in enumerate((("small", small), ("large", large))):
            write_hdf5(folder / f"{name}.h5", n, args.length, seed=seed, compression="lzf" if args.lzf else None)
        loop_sequences = np.eye(4)[rng.integers(0, 4, (subset, args.length))]
        kernels_convolution = np.flip(kernel, axis=0).transpose(2, 0, 1)  # k2p-1.0's files: (F, L, 4), flipped
        calls = {name: (lambda name=name: run_cli(folder / "model.h5", folder / f"{name}.h5", folder / f"{name}.meme"))
                 for name in ("small", "large")}
        calls["k2p-1.0 loop"] = lambda: original_best_scores(loop_sequences, kernels_convolution)
        run_cli(folder / "model.h5", folder / "small.h5", folder / "warm.meme")  # numba's cache, the OS's file cache
        times, _ = interleaved(calls, repeats)

    per_repeat = [(t_large - t_small) / (large - small) for t_small, t_large in zip(times["small"], times["large"])]
    marginal = statistics.median(per_repeat)
    loop = statistics.median(times["k2p-1.0 loop"]) / subset
    ratios = [(t_loop / subset) / m for t_loop, m in zip(times["k2p-1.0 loop"], per_repeat)]
    print(f"# k2p-keras on {small:,} and {large:,} uint8 HDF5 sequences of {args.length:,} bp "
          f"({'lzf' if args.lzf else 'uncompressed'}), "
          f"{args.filters} filters of width {args.width}; {repeats} interleaved repeats; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"k2p-keras whole runs: {statistics.median(times['small']):.2f} s and {statistics.median(times['large']):.2f} s "
          f"(medians); marginal cost {marginal * 1e6:.1f} us per sequence (median of the repeats; "
          f"{', '.join(f'{m * 1e6:.0f}' for m in per_repeat)})")
    print(f"k2p-1.0 loop: {loop * 1e3:.2f} ms per sequence ({subset} sequences per repeat)")
    print(f"RATIO k2p-1.0 loop / k2p-keras per sequence: {statistics.median(ratios):.0f}x "
          f"(repeats {min(ratios):.0f}x to {max(ratios):.0f}x; goal >= 500x)")


if __name__ == "__main__":
    main()
