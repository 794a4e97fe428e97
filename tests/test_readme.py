"""Every Python snippet in README.md runs as written, from a folder holding the bundled example,
without TensorFlow's start-up lines or Keras's optimizer warnings on stderr."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
# What TensorFlow's C++ libraries print as they load (glog's "I0000 00:00:..." lines, absl's
# preamble, the CUDA probe), and Keras's complaint about a saved optimizer's state.
NOISE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cuda|cuInit|Skipping variable loading|optimizer",
                   flags=re.M | re.I)


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs_as_written(code, tmp_path):
    for folder in ("example_models", "data"):
        os.symlink(REPO / folder, tmp_path / folder)
    # As a user runs it: TF_CPP_MIN_LOG_LEVEL unset, so the snippet itself must keep TensorFlow quiet.
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not NOISE.search(done.stderr), done.stderr[-3000:]
