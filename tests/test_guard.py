"""Untrusted HDF5 files and .keras zips are walked by a child process first (io/guard.py): a file
that does not answer within the time limit, or crashes the child, is named in one line and never
opened by the main process. A real non-answering file: a FIFO without a writer, on which
libhdf5's open waits for ever; a real child, forked or a fresh interpreter, killed on time.
"""
import os
import signal
import time
import zipfile

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from k2p_keras import extract
from k2p_keras.cli.group import cli
from k2p_keras.errors import K2PError, OptionError
from k2p_keras.io import guard, hdf5_probe
from k2p_keras.io.sequences import open_sequences

from conftest import REPO

MODEL_H5 = REPO / "example_models" / "deepbind.h5"
MODEL_KERAS = REPO / "example_models" / "deepbind.keras"
SEQS = REPO / "data" / "example_seqs.h5"


@pytest.fixture(autouse=True)
def fresh_guard(monkeypatch):
    """Every test walks its files anew (the guard remembers the files that passed)."""
    monkeypatch.setattr(guard, "_passed", set())
    monkeypatch.setattr(guard, "_refused", {})


@pytest.mark.parametrize("child", ["fork", "fresh interpreter"])
def test_a_file_that_does_not_answer_is_named_in_one_line_on_time(tmp_path, monkeypatch, child):
    if child == "fresh interpreter":
        monkeypatch.setattr(guard, "_fork_safe", lambda: False)
    fifo = tmp_path / "weights.h5"
    os.mkfifo(fifo)  # h5py's open in the child waits for a writer that never comes
    start = time.perf_counter()
    with guard.open_timeout(1.5), pytest.raises(K2PError) as err:
        guard.check_answers(fifo, "hdf5", "the model file")
    print(f"{child}: the one line after {time.perf_counter() - start:.2f} s (limit 1.5 s)")
    assert str(err.value) == (f"{fifo}: the model file did not answer within 1.5 s: libhdf5 was still reading it "
                              f"(a damaged file?); it was not opened. Give more time with --open-timeout "
                              f"(open_timeout=)")


def never_answers(path, kind):
    time.sleep(3600)


def forked_child_walks_with(monkeypatch, walk):
    """The guard's child is a fork running ``walk``: a fresh interpreter (the guard's choice once
    TensorFlow is loaded, as it is after other tests in the same run) would not see the patch."""
    monkeypatch.setattr(guard, "_fork_safe", lambda: True)
    monkeypatch.setattr(hdf5_probe, "walk", walk)


def test_the_command_line_names_the_model_and_never_opens_it(tmp_path, monkeypatch):
    # The forked child runs this walk: a model file on which libhdf5 would spin.
    forked_child_walks_with(monkeypatch, never_answers)
    opened = []
    real_open = h5py.File

    def recording_open(name, *args, **kwargs):
        opened.append(os.fspath(name) if isinstance(name, (str, os.PathLike)) else name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", recording_open)
    start = time.perf_counter()
    result = CliRunner().invoke(cli, [str(MODEL_H5), str(SEQS), "--open-timeout", "2", "-o",
                                      str(tmp_path / "m.meme")])
    print(f"time to the one line: {time.perf_counter() - start:.2f} s with --open-timeout 2")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {MODEL_H5}: the HDF5 file did not answer within 2 s: libhdf5 was still reading it (a damaged "
        "file?); it was not opened. Give more time with --open-timeout (open_timeout=)"]
    assert str(MODEL_H5) not in opened and not (tmp_path / "m.meme").exists()


def spinning_keras(folder):
    """The bundled .keras model with one byte of its weights' global heap changed (the size field of
    the heap's first object, 24 bytes past "GCOL"): libhdf5 1.14 then loops for good on the file
    (found by a search of one- to four-byte changes; over 120 s in a plain h5py walk)."""
    with zipfile.ZipFile(MODEL_KERAS) as source:
        weights = bytearray(source.read("model.weights.h5"))
        heap = weights.find(b"GCOL")
        assert heap > 0
        weights[heap + 24] = 0xAB
        path = folder / "spin.keras"
        with zipfile.ZipFile(path, "w") as out:
            for info in source.infolist():
                out.writestr(info, bytes(weights) if info.filename == "model.weights.h5" else source.read(info))
    return path


def test_a_real_file_on_which_libhdf5_spins_ends_in_one_line(tmp_path):
    model = spinning_keras(tmp_path)
    start = time.perf_counter()
    result = CliRunner().invoke(cli, [str(model), "--base", "2", "--open-timeout", "3", "-o", str(tmp_path / "m.meme")])
    print(f"a spinning .keras: the one line after {time.perf_counter() - start:.2f} s with --open-timeout 3")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: {model}: the .keras zip did not answer within 3 s: libhdf5 was still reading it (a damaged "
        "file?); it was not opened. Give more time with --open-timeout (open_timeout=)"]
    assert not (tmp_path / "m.meme").exists()


def crashes(path, kind):
    os.kill(os.getpid(), signal.SIGSEGV)


@pytest.mark.parametrize("model, what", [(MODEL_H5, "the HDF5 file"), (MODEL_KERAS, "the .keras zip")])
def test_a_file_that_crashes_the_child_is_named_with_the_signal(monkeypatch, model, what):
    forked_child_walks_with(monkeypatch, crashes)
    with pytest.raises(K2PError) as err:
        extract(model, base=2.0)
    assert str(err.value) == (f"{model}: reading {what} crashed libhdf5 (SIGSEGV) in a child process: a damaged "
                              "file; it was not opened")


def test_a_file_is_walked_once_however_often_it_is_read(monkeypatch):
    walked = []
    real = guard._walk_forked

    def counting(path, kind, timeout):
        walked.append((os.fspath(path), kind))
        return real(path, kind, timeout)

    monkeypatch.setattr(guard, "_walk_forked", counting)
    monkeypatch.setattr(guard, "_fork_safe", lambda: True)
    source = open_sequences(SEQS)
    for _ in range(2):
        assert sum(len(b) for b in source.iter_batches(4096)) == source.count
    assert walked == [(str(SEQS), "hdf5")]


def test_the_walk_reaches_every_object_of_a_real_file(tmp_path):
    # What the child touches, counted: every dataset read (small whole, large by its ends).
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.attrs["root"] = "r"
        f["a/b/small"] = np.arange(10)
        f["a"].attrs["x"] = 1
        f.create_dataset("large", shape=(hdf5_probe.SMALL_DATASET_BYTES // 8 + 1,), dtype="f8")
    reads = []
    real = h5py.Dataset.__getitem__

    def recording(self, key):
        reads.append((self.name, key))
        return real(self, key)

    h5py.Dataset.__getitem__ = recording
    try:
        hdf5_probe.walk(path, "hdf5")
    finally:
        h5py.Dataset.__getitem__ = real
    n = hdf5_probe.SMALL_DATASET_BYTES // 8 + 1
    assert sorted(reads) == sorted([("/a/b/small", ()), ("/large", 0), ("/large", n - 1)])


def test_a_damaged_file_that_answers_gets_the_readers_own_error(tmp_path):
    damaged = tmp_path / "cut.h5"
    damaged.write_bytes(MODEL_H5.read_bytes()[:3000])
    with pytest.raises(K2PError, match="truncated or corrupt"):
        extract(damaged, base=2.0)


def test_the_time_limit_is_an_option_checked_before_any_file_is_read():
    with pytest.raises(OptionError, match="open_timeout: expected a number > 0, got -1"):
        extract(MODEL_H5, SEQS, open_timeout=-1)
    result = CliRunner().invoke(cli, [str(MODEL_H5), str(SEQS), "--open-timeout", "0"])
    assert result.exit_code == 2 and "--open-timeout" in result.output
