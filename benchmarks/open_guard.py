"""What walking untrusted HDF5 files in a child process first costs (k2p_keras/io/guard.py).

    python benchmarks/open_guard.py                 # 7 rounds
    python benchmarks/open_guard.py --repeats 15

Each run is a fresh process running the command line, as a user pays it, in three variants
timed in turn with the order rotating every round (benchmarks/timing.py):

- ``off``: the guard's walk replaced by nothing (the run as it was without the guard);
- ``fork``: the guard as it runs (a forked child per file, h5py already imported);
- ``fresh``: the guard with a fresh interpreter per file that imports only h5py (what runs when
  TensorFlow is loaded, e.g. in the callback).

Two commands: ``MODEL --base 2`` (exact PWMs at a fixed base: the model file only, the run in
which the guard weighs most) and ``MODEL SEQS`` (the bundled .h5 model and 20,000 sequences in
HDF5: two files walked, then the scan). Printed: median wall seconds and each variant's ratio
to ``off`` in the same rounds.
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import interleaved  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "example_models", "deepbind.h5")
SEQS = os.path.join(REPO, "data", "example_seqs.h5")

SETUP = {
    "off": "guard._walk = lambda path, kind, what: None",
    "fork": "",
    "fresh": "guard._fork_safe = lambda: False",
}


def command(variant, args):
    code = ("import sys\nfrom k2p_keras.io import guard\n" + SETUP[variant]
            + "\nfrom k2p_keras.cli.group import cli\ncli(sys.argv[1:], prog_name='k2p-keras')")
    return [sys.executable, "-c", code, *args]


def run(variant, args):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(command(variant, args), env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{variant} {' '.join(args)} failed: {done.stderr.decode()[-500:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    cases = {"MODEL --base 2": [MODEL, "--base", "2", "-q", "-o", os.devnull],
             "MODEL SEQS (HDF5)": [MODEL, SEQS, "-q", "-o", os.devnull]}
    for label, argv in cases.items():
        run("off", argv)  # numba's cache and the OS's file cache warm before timing
        times, _ = interleaved({v: (lambda v=v: run(v, argv)) for v in SETUP}, args.repeats)
        base = statistics.median(times["off"])
        print(f"{label}: {args.repeats} rounds, median wall s")
        for variant in SETUP:
            median = statistics.median(times[variant])
            print(f"  {variant:6s} {median:7.3f} s   x{median / base:.3f} of off")


if __name__ == "__main__":
    main()
