"""Garbage in, one line out: every input we read, damaged, keeps the promise.

The promise: exit 0, or a non-zero exit with exactly one line on stderr (naming the file),
no traceback and no output file. Two halves:

- the corpus (``tests/fuzz_corpus/``, rebuilt by ``make_corpus.py``): the inputs that once
  broke us, each with its command and expected outcome in ``MANIFEST.tsv``;
- property-based tests (hypothesis) that damage the valid seeds of every kind we read.

Profiles: the default ``fast`` one runs a few derandomised examples per kind (CI);
``K2P_FUZZ=long`` runs 200 random examples per kind. See ``docs/fuzzing.md``.
"""
import os
import pathlib
import resource
import shlex
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import k2p_keras
from fuzz_corpus import fuzzing

CORPUS = pathlib.Path(__file__).resolve().parent / "fuzz_corpus"
# The children import the k2p_keras this test imports.
PACKAGE_ROOT = pathlib.Path(k2p_keras.__file__).resolve().parents[1]
# Hang and memory guards of the subprocess cases: far above what a refusal takes.
TIMEOUT_SECONDS = 120
MEMORY_BYTES = 3 * 1024 ** 3

settings.register_profile("fast", max_examples=10, derandomize=True, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("long", max_examples=200, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
PROFILE = "long" if os.environ.get("K2P_FUZZ") == "long" else "fast"


def manifest():
    rows = []
    for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]:
        name, promise, guard, command, says, _ = line.split("\t")
        rows.append(pytest.param(name, promise, guard, command, says, id=name))
    return rows


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_subprocess(argv):
    """A child with an address-space limit and a timeout: a runaway fails the test, not the machine."""
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    try:
        done = subprocess.run([sys.executable, "-m", "k2p_keras", *argv], capture_output=True, text=True,
                              timeout=TIMEOUT_SECONDS, preexec_fn=_limit_memory, env=env)
    except subprocess.TimeoutExpired:
        return None, "", "", fuzzing.Hang()
    return done.returncode, done.stdout, done.stderr, None


@pytest.mark.parametrize("name, promise, guard, command, says", manifest())
def test_corpus_case_keeps_its_promise(name, promise, guard, command, says, tmp_path):
    case = CORPUS / "cases" / name
    out = tmp_path / "out"
    argv = [part.replace("{file}", str(case)).replace("{out}", str(out)).replace("seeds/", f"{CORPUS}/seeds/")
            for part in shlex.split(command)]
    if guard == "subprocess":
        code, _, stderr, exception = run_subprocess(argv)
    else:
        code, _, stderr, exception = fuzzing.run_in_process(argv, timeout=TIMEOUT_SECONDS)
    result = fuzzing.outcome(code, stderr, exception, out)
    assert result == ("exit 0" if promise == "ok" else "one-line error"), (result, stderr[-2000:], exception)
    assert says in stderr
    if promise == "error":
        assert name in stderr, "the error names the file"
        assert not out.exists()


def test_corpus_matches_its_manifest():
    listed = {row.values[0] for row in manifest()}
    assert listed == {p.name for p in (CORPUS / "cases").iterdir()}


@pytest.mark.parametrize("kind", list(fuzzing.KINDS))
def test_damaged_inputs_keep_the_promise(kind):
    mutations = fuzzing.KINDS[kind][1]

    @settings(settings.get_profile(PROFILE))
    @given(number=st.integers(0, 2 ** 31 - 1), which=st.integers(0, len(mutations) - 1))
    def damaged(number, which):
        with tempfile.TemporaryDirectory() as folder:
            try:
                path, argv, out = fuzzing.make_input(kind, mutations[which], number, folder)
            except (ValueError, TypeError, OSError):
                return  # a mutation h5py refuses to write is no input
            code, _, stderr, exception = fuzzing.run_in_process(argv, timeout=TIMEOUT_SECONDS)
            result = fuzzing.outcome(code, stderr, exception, out)
            assert fuzzing.kept_promise(result), (mutations[which].__name__, number, result, stderr[-2000:],
                                                  exception)

    damaged()
