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


# The README's shell lines (indented, starting with a command) and its inline `k2p-keras ...` ones.
README = (REPO / "README.md").read_text()
COMMANDS = re.findall(r"^    ((?:pip|k2p-keras) .*)$", README, flags=re.M)
INLINE = re.findall(r"`(k2p-keras [^`]*)`", README)
WRITES = ("-o", "--output", "--summary", "--report", "--logos", "--archetypes", "--matches")


def test_readme_starts_with_the_two_commands_of_a_newcomer():
    first = [line for line in (REPO / "README.md").read_text().splitlines()[1:] if line.strip()][:2]
    assert first[0].strip().startswith("pip install . && k2p-keras ") and " -o " in first[0]
    assert first[1].strip() == "pip install -e '.[test]' && python -m pytest -q"


def test_ci_runs_the_readmes_test_command_with_the_slow_tests():
    """The README says CI runs its test command with the slow tests: .ci/run does, and conftest
    keeps them in when CI is true (the collection of a CI=true run holds them, a plain one not)."""
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    runs = [line for line in lines if "pytest" in line and not line.startswith("#")]
    assert runs == ["CI=true python -m pytest -q"], runs
    assert "CI=true" in README and "slow" in README.split("## ")[0]

    def collected(ci):
        env = {**os.environ, "CI": ci}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "--collect-only",
                               "tests/test_install.py", "tests/test_layout.py"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return [line for line in done.stdout.splitlines() if "::" in line]

    everything, local = collected("true"), collected("")
    assert any("test_install.py::" in line for line in everything)
    assert local and not any("test_install.py::" in line for line in local)
    assert set(local) < set(everything)


def test_every_model_command_of_the_readme_writes_a_file_not_the_terminal():
    """A MEME file of a real model is hundreds of lines: the README's lines name -o."""
    model_lines = [line for line in COMMANDS if line.startswith("k2p-keras MODEL")]
    assert len(model_lines) >= 5
    for line in model_lines:
        assert " -o " in line.split("#")[0], line


def test_what_the_readme_writes_in_a_checkout_is_ignored_by_git():
    ignored = {line.strip() for line in (REPO / ".gitignore").read_text().splitlines()}
    written = set()
    for line in COMMANDS + INLINE:
        words = line.split("#")[0].replace("[", " ").replace("]", " ").split()
        written |= {words[i + 1] for i, word in enumerate(words[:-1]) if word in WRITES}
    assert {"motifs.meme", "emergence.html", "s.tsv", "archetypes.meme"} <= written
    for path in written:
        assert f"/{path.rstrip('/')}" in ignored or f"/{path.rstrip('/')}/" in ignored, path


def test_the_readme_never_installs_an_extra_over_the_editable_test_install():
    """`pip install '.[annotate]'` after `pip install -e '.[test]'` replaces the editable install."""
    for line in COMMANDS[2:]:
        if line.startswith("pip install") and "[" in line:
            assert "-e " in line, line
