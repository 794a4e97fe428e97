"""Importing the package's TensorFlow modules has no side effect; the first scan loads TF quietly."""
import os
import pathlib
import subprocess
import sys

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


def test_the_first_scan_loads_tensorflow_quietly_and_gives_fd_2_back():
    assert stdout_of_a_quiet_run("import numpy as np\n"
                                 "from k2p_keras.scan.best_windows import scan_best_windows\n"
                                 "stats = scan_best_windows([np.eye(4)[None]], np.eye(4)[:, :, None])\n"
                                 "print('tensorflow' in sys.modules, stats.score_sum.tolist())\n") == "True [4.0]\n"
