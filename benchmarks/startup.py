"""Time to first result of the command line, against importing TensorFlow.

    python benchmarks/startup.py                      # 100, 1,000 and 100,000 sequences, 5 repeats
    python benchmarks/startup.py --quick              # 100 and 1,000 sequences, 3 repeats
    python benchmarks/startup.py --cold               # each CLI run with an empty numba cache
    python benchmarks/startup.py --cli "k2p-keras" --cli "/other/venv/bin/k2p-keras"   # two installs, same loop
    python benchmarks/startup.py --cli "env PYTHONPATH=/tmp/old python -P -m k2p_keras" \
                                 --cli "env PYTHONPATH=$PWD python -P -m k2p_keras"     # two checkouts

Everything timed is a fresh process (``subprocess``), so this keeps working whatever the
package looks like inside: the command line is the only thing it uses. In one loop of
interleaved repeats (the order rotating, so that a busy machine weighs on each alike):

- ``python -m k2p_keras MODEL SEQS -o OUT.meme`` (run in the repository, so the checkout's
  package; ``--cli`` to run another command, e.g. an installed ``k2p-keras``, and given
  several times to time several commands in the same loop) with the
  bundled ``example_models/deepbind.h5`` (Conv1D(16, 24) on 100 bp) on HDF5 files of
  random one-hot sequences stored as uint8 (``benchmarks.scan_throughput.write_hdf5``,
  uncompressed; ``--lzf`` to compress), one file per ``--sizes``: the wall time of the
  process, start to exit, with its defaults (pattern report and progress on stderr,
  captured);
- ``python -c "import tensorflow"``: what TensorFlow's start-up alone costs;
- ``python -c "import numpy, h5py, numba"``: the start-up a CPU run without TensorFlow
  cannot avoid;
- ``python -c "pass"``: the interpreter.

Printed: the medians (and ranges) of the wall times, then per file the ratios of the CLI
to each baseline in the same repeat (median and range); with several ``--cli``, also each
one's times against the first's. Before the timed loop, each file
is run once untimed (numba's cache and the OS's file cache warm: what every run after a
user's first sees; ``--cold`` instead gives every CLI run an empty ``NUMBA_CACHE_DIR``, the
first run after an install), and once under ``python -X importtime`` to say whether the
command imported TensorFlow (the goal: not on a machine without a GPU, when
numba is installed) and what its imports cost.
"""
import argparse
import os
import pathlib
import shlex
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.scan_throughput import write_hdf5  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402

MODEL = REPO / "example_models" / "deepbind.h5"
LENGTH = 100  # the example model's input length
BASELINES = {
    "import tensorflow": "import tensorflow",
    "import numpy, h5py, numba": "import numpy, h5py, numba",
    "python (nothing)": "pass",
}


def run(command, env, cwd=REPO):
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(map(str, command))}\n{done.stderr[-3000:]}")
    return done


def cli_command(cli, model, sequences, out):
    return [*shlex.split(cli), str(model), str(sequences), "-o", str(out)]


# The CLI's module run as ``python -m`` runs it, with one line on stdout at exit: the
# heavy packages the process had imported. (``-X importtime`` cannot tell: the package
# points file descriptor 2 elsewhere while TensorFlow loads, to hide its C++ start-up lines.)
PROBE = """import atexit, runpy, sys
HEAVY = ("tensorflow", "keras", "numba", "scipy", "h5py", "matplotlib", "memelite")
atexit.register(lambda: print("IMPORTED", *[m for m in HEAVY if m in sys.modules], file=sys.__stdout__))
runpy.run_module(MODULE, run_name="__main__", alter_sys=True)  # sys.argv[0] becomes the module's file
"""


def imported_packages(cli, model, sequences, out, env):
    """The heavy packages the CLI imported in one run (None when ``cli`` is not ``[...] python [-P] -m MODULE``)."""
    command = cli_command(cli, model, sequences, out)
    if "-m" not in command[:-1]:
        return None
    at = command.index("-m")
    code = PROBE.replace("MODULE", repr(command[at + 1]))
    done = run([*command[:at], "-c", code, *command[at + 2:]], env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("IMPORTED")]
    return lines[-1].split()[1:] if lines else None


def spread(values, scale=1.0, digits=2):
    values = [v * scale for v in values]
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default=None, help="sequences per file, comma-separated [100,1000,100000; quick 100,1000]")
    parser.add_argument("--repeats", type=int, default=None, help="[5; quick 3]")
    parser.add_argument("--model", type=pathlib.Path, default=MODEL)
    parser.add_argument("--length", type=int, default=LENGTH, help="sequence length: the model's input [100]")
    parser.add_argument("--cli", action="append", default=None,
                        help="a command to time, run in the repository; may be repeated [this python -m k2p_keras]")
    parser.add_argument("--lzf", action="store_true", help="store the sequences with lzf compression")
    parser.add_argument("--cold", action="store_true", help="every CLI run with an empty NUMBA_CACHE_DIR")
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,100000")).split(",")]
    repeats = args.repeats or (3 if args.quick else 5)
    clis = args.cli or [f"{shlex.quote(sys.executable)} -m k2p_keras"]
    labels = ["k2p-keras"] if len(clis) == 1 else [f"cli{i + 1}" for i in range(len(clis))]
    env = dict(os.environ)

    with tempfile.TemporaryDirectory(dir=args.tmpdir) as folder:
        folder = pathlib.Path(folder)
        files = {}
        for seed, n in enumerate(sizes):
            files[n] = folder / f"seqs_{n}.h5"
            write_hdf5(files[n], n, args.length, seed=seed, compression="lzf" if args.lzf else None)

        def cli_call(cli, n):
            def call():
                cli_env = env
                if args.cold:
                    cli_env = {**env, "NUMBA_CACHE_DIR": tempfile.mkdtemp(dir=folder, prefix="numba_")}
                run(cli_command(cli, args.model, files[n], folder / f"out_{n}.meme"), cli_env)
            return call

        calls = {name: (lambda code=code: run([sys.executable, "-c", code], env)) for name, code in BASELINES.items()}
        for cli, label in zip(clis, labels):
            calls.update({f"{label} {n:,} seqs": cli_call(cli, n) for n in sizes})
        for call in calls.values():  # untimed: caches warm (numba's, unless --cold; the OS's files)
            call()
        imported = [imported_packages(cli, args.model, files[sizes[0]], folder / "probe.meme", env) for cli in clis]
        times, _ = interleaved(calls, repeats)

    print(f"# {args.model.name} SEQS -o OUT.meme; SEQS: uint8 HDF5 ({'lzf' if args.lzf else 'uncompressed'}) "
          f"of {', '.join(f'{n:,}' for n in sizes)} random sequences of {args.length} bp; numba cache "
          f"{'empty at every run (--cold)' if args.cold else 'warm'}; {repeats} interleaved repeats; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}")
    for cli, label, packages in zip(clis, labels, imported):
        print(f"{label}: {cli}")
        if packages is not None:
            print(f"  imports TensorFlow: {'yes' if 'tensorflow' in packages else 'no'} "
                  f"(packages loaded on {sizes[0]:,} sequences: {', '.join(packages) or 'none of the heavy ones'})")
    print("wall time of each process, s, median (range):")
    for name in calls:
        print(f"  {name:28s} {spread(times[name])}")
    for label in labels:
        for n in sizes:
            cli = times[f"{label} {n:,} seqs"]
            for base in ("import tensorflow", "import numpy, h5py, numba"):
                ratios = [c / b for c, b in zip(cli, times[base])]
                print(f"RATIO {label} {n:,} seqs / {base}: {spread(ratios)} (median of {repeats} repeats, range)")
        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            per_seq = [(b - a) / (large - small) for a, b in zip(times[f"{label} {small:,} seqs"],
                                                                times[f"{label} {large:,} seqs"])]
            print(f"{label}: marginal cost per sequence ({small:,} -> {large:,}): {spread(per_seq, 1e6, 1)} us")
        fixed = [c - b for c, b in zip(times[f"{label} {sizes[0]:,} seqs"], times["import tensorflow"])]
        print(f"{label} {sizes[0]:,} seqs minus import tensorflow: {spread(fixed)} s")
    for label in labels[1:]:
        for n in sizes:
            ratios = [b / a for a, b in zip(times[f"{labels[0]} {n:,} seqs"], times[f"{label} {n:,} seqs"])]
            print(f"RATIO {label} / {labels[0]}, {n:,} seqs: {spread(ratios)}")


if __name__ == "__main__":
    main()
