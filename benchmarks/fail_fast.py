"""What a mistake on the command line costs: a failing run against a successful one.

    python benchmarks/fail_fast.py               # 100,000 sequences of 100 bp, the example model
    python benchmarks/fail_fast.py --n 20000     # smaller

An HDF5 file of N random one-hot sequences (the bundled example model's input length) is
written to a temporary folder. Then, each in a fresh ``python -m k2p_keras`` process (as a
user pays it: imports, model, scan), in the same run and in turn for ``--repeats`` rounds:

- the baseline: a successful run ``MODEL SEQS -o OUT -q``;
- ``-o`` in a folder that does not exist;
- ``--summary`` in a folder that does not exist;
- ``--method both --threshold-fraction 2`` (out of range).

Each failing case must exit non-zero with one line naming the problem and write nothing.
The printed figures are median wall times and each failing case's ratio to the baseline.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "example_models", "deepbind.h5")
LENGTH = 100  # the example model's input


def write_sequences(path, n, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        data = f.create_dataset("x", shape=(n, LENGTH, 4), dtype="uint8", chunks=(min(n, 10_000), LENGTH, 4))
        for start in range(0, n, 10_000):
            stop = min(start + 10_000, n)
            data[start:stop] = np.eye(4, dtype="uint8")[rng.integers(0, 4, size=(stop - start, LENGTH))]


def timed(args):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "k2p_keras", *args], capture_output=True, text=True, env=env)
    return time.perf_counter() - start, proc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="sequences [default: 100,000]")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        seqs = os.path.join(folder, "seqs.h5")
        write_sequences(seqs, args.n)
        out = os.path.join(folder, "m.meme")
        missing = os.path.join(folder, "missing")
        cases = {
            "success (baseline)": [MODEL, seqs, "-o", out, "-q"],
            "-o in a missing folder": [MODEL, seqs, "-o", os.path.join(missing, "m.meme"), "-q"],
            "--summary in a missing folder": [MODEL, seqs, "-o", out, "--summary", os.path.join(missing, "s.tsv"),
                                              "-q"],
            "--threshold-fraction 2": [MODEL, seqs, "-o", out, "--method", "both", "--threshold-fraction", "2", "-q"],
        }
        times = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, case in cases.items():  # in turn: a busy machine weighs on every case alike
                if os.path.exists(out):
                    os.remove(out)
                seconds, proc = timed(case)
                if name.startswith("success"):
                    assert proc.returncode == 0 and os.path.exists(out), proc.stderr
                else:
                    lines = proc.stderr.strip().splitlines()
                    assert proc.returncode != 0 and len(lines) == 1 and not os.path.exists(out), proc.stderr
                    assert not os.path.exists(missing)
                times[name].append(seconds)
        last_error = {name: timed(case)[1].stderr.strip() for name, case in cases.items() if not name.startswith("s")}
    load = os.getloadavg()[0]
    base = statistics.median(times["success (baseline)"])
    print(f"{args.n:,} sequences of {LENGTH} bp, example model; median of {args.repeats}; load average {load:.2f}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:32s} {median:6.2f} s   ratio to success {median / base:5.2f}")
    for name, message in last_error.items():
        print(f"  {name}: {message}")


if __name__ == "__main__":
    main()
