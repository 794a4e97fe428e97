"""Importing the package's TensorFlow modules has no side effect; the first scan loads TF quietly;
a CPU scan with numba (the command line on a machine without a GPU) never loads it."""
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# Written last by every script: fd 2 and sys.stderr must still reach the real stderr.
STILL_THERE = ("os.write(2, b'fd 2 still reaches the terminal\\n')\n"
               "print('and sys.stderr too', file=sys.stderr)\n")


def stdout_of_a_quiet_run(code):
    """Run ``code`` in a fresh Python without TF_CPP_MIN_LOG_LEVEL; stderr must hold only our lines."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", "import os, sys\n" + code + STILL_THERE],
                          capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "fd 2 still reaches the terminal\nand sys.stderr too\n"
    return done.stdout


def test_importing_scan_loads_nothing_and_leaves_stderr_alone():
    assert stdout_of_a_quiet_run("import k2p_keras.scan\n"
                                 "print('tensorflow' in sys.modules)\n") == "False\n"


def test_the_first_tensorflow_scan_loads_tensorflow_quietly_and_gives_fd_2_back():
    assert stdout_of_a_quiet_run("import numpy as np\n"
                                 "from k2p_keras.scan.best_windows import scan_best_windows\n"
                                 "stats = scan_best_windows([np.eye(4)[None]], np.eye(4)[:, :, None],\n"
                                 "                          rescore='tensorflow')\n"
                                 "print('tensorflow' in sys.modules, stats.score_sum.tolist())\n") == "True [4.0]\n"


# The command line run in a fresh process; at exit, which heavy packages it had imported.
CLI_THEN_MODULES = """import atexit, sys
atexit.register(lambda: print("IMPORTED", *sorted(m for m in ("tensorflow", "keras", "numba") if m in sys.modules)))
from k2p_keras.cli import main
main(sys.argv[1:])
"""


def modules_the_command_line_imports(args, tmp_path, **environ):
    env = {**os.environ, "PYTHONPATH": str(REPO), **environ}
    done = subprocess.run([sys.executable, "-c", CLI_THEN_MODULES, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[1:]


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba not installed")
@pytest.mark.parametrize("hide", ["CUDA_VISIBLE_DEVICES=", "CUDA_VISIBLE_DEVICES=-1", "--devices cpu"])
def test_the_command_line_on_a_cpu_with_numba_never_imports_tensorflow(hide, tmp_path):
    environ, extra = {}, []
    if hide.startswith("--"):
        extra = hide.split()
    else:
        name, value = hide.split("=")
        environ[name] = value
    args = [REPO / "example_models" / "deepbind.h5", REPO / "data" / "example_seqs.h5", "-o", "m.meme", *extra]
    assert modules_the_command_line_imports(args, tmp_path, **environ) == ["numba"]
    assert (tmp_path / "m.meme").read_text().count("MOTIF") == 16
