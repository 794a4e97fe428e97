"""Inputs as shell pipelines give them: SEQS through standard input, a FIFO or a process
substitution, read once (FASTA and FASTA.gz, gzip told by its bytes); HDF5, .npy and model files
through a pipe refused in one line; a stream without line ends or with an endless record stops
at a stated limit. Real FIFOs (os.mkfifo) with a writer thread, real pipes in subprocesses.
"""
import gzip
import os
import subprocess
import sys
import tempfile
import threading

import h5py
import numpy as np
import pytest

from k2p_keras.errors import K2PError
from k2p_keras.io.sequences import open_sequences
from k2p_keras.model.files import read_model
from k2p_keras.validate import LINE_SLACK, MAX_LENGTH_FACTOR, MAX_SEQUENCE_LENGTH

from conftest import REPO

MODEL = REPO / "example_models" / "deepbind.keras"
FASTA_GZ = REPO / "data" / "example_seqs.fa.gz"
SEQS_H5 = REPO / "data" / "example_seqs.h5"


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    """The first 300 records of the bundled FASTA, in lines of 60 letters (several lines a record)."""
    records = gzip.decompress(FASTA_GZ.read_bytes()).decode().split(">")[1:301]
    text = "".join(">" + r.split("\n", 1)[0] + "\n"
                   + "\n".join(s[i:i + 60] for s in [r.split("\n", 1)[1].replace("\n", "")]
                               for i in range(0, len(s), 60)) + "\n" for r in records)
    path = tmp_path_factory.mktemp("streams") / "seqs.fa"
    path.write_text(text)
    return path


def fifo_fed(folder, chunks, name="fifo"):
    """A real FIFO at ``folder/name`` and a thread writing ``chunks`` (an iterable of bytes) into it,
    stopping quietly when the reader closes its end."""
    path = folder / name
    os.mkfifo(path)

    def write():
        try:
            with open(path, "wb") as pipe:
                for chunk in chunks:
                    pipe.write(chunk)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return path, thread


def batches(source, size=64):
    return [b.copy() for b in source.iter_batches(size)]


# ----------------------------------------------------------------------------- the reader

@pytest.mark.parametrize("compress", [False, True])
def test_a_fifo_is_read_once_and_every_pass_gives_the_files_batches(fasta, tmp_path, compress):
    data = fasta.read_bytes()
    data = gzip.compress(data) if compress else data
    # Named like plain FASTA either way: gzip is told by its first bytes.
    fifo, writer = fifo_fed(tmp_path, [data[i:i + 1000] for i in range(0, len(data), 1000)], "seqs.fa")
    stream = open_sequences(fifo)
    writer.join(10)
    assert not writer.is_alive()  # the writer finished: the stream was read to its end, once
    from_file = open_sequences(fasta)
    assert (stream.count, stream.min_length, stream.max_length) == (from_file.count, from_file.min_length,
                                                                    from_file.max_length)
    expected = batches(from_file)
    first, second = stream.iter_batches(64), stream.iter_batches(64)
    interleaved = [(a.copy(), b.copy()) for a, b in zip(first, second)]  # two passes at once
    assert len(interleaved) == len(expected)
    for (a, b), want in zip(interleaved, expected):
        np.testing.assert_array_equal(a, want)
        np.testing.assert_array_equal(b, want)
    for got, want in zip(batches(stream), expected):  # and a third
        np.testing.assert_array_equal(got, want)


def test_the_spooled_copy_of_a_stream_is_never_left_on_disk(fasta, tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    fifo, writer = fifo_fed(tmp_path, [fasta.read_bytes()])
    source = open_sequences(fifo)
    assert os.listdir(spool) == []  # unlinked from the start: gone with the process, however it ends
    assert os.fstat(source._spool.fileno()).st_size == fasta.stat().st_size
    writer.join(10)


@pytest.mark.parametrize("kind", ["hdf5", "npy"])
def test_hdf5_and_npy_through_a_pipe_are_refused_in_one_line(tmp_path, kind):
    if kind == "hdf5":
        data = SEQS_H5.read_bytes()
    else:
        np.save(tmp_path / "s.npy", np.eye(4, dtype=np.float32)[None])
        data = (tmp_path / "s.npy").read_bytes()
    fifo, writer = fifo_fed(tmp_path, [data])
    with pytest.raises(K2PError) as err:
        open_sequences(fifo)
    assert str(err.value) == (f"{fifo}: sequences in {'HDF5' if kind == 'hdf5' else '.npy'} must be a regular "
                              f"file, not a pipe: HDF5 and .npy are read by seeking in them, which a pipe or a "
                              f"device cannot do; save it to a file")
    writer.join(10)


def endless(first, chunk):
    yield first
    while True:
        yield chunk


@pytest.mark.parametrize("input_length", [None, 101])
def test_a_stream_without_line_ends_stops_at_the_line_limit(tmp_path, input_length):
    # A header, then zeros without end (what `(echo '>a'; cat /dev/zero)` gives).
    fifo, writer = fifo_fed(tmp_path, endless(b">a\n", bytes(1 << 16)))
    record = MAX_LENGTH_FACTOR * input_length if input_length else MAX_SEQUENCE_LENGTH
    with pytest.raises(K2PError) as err:
        open_sequences(fifo, input_length=input_length)
    assert str(err.value) == (f"{fifo}: line 2 is longer than {record + LINE_SLACK:,} bytes, the longest line a "
                              f"record of {record:,} bases needs; is this FASTA?")
    writer.join(10)


def test_an_endless_record_is_refused_naming_the_record_past_the_models_input_length(tmp_path):
    fifo, writer = fifo_fed(tmp_path, endless(b">chr1 a chromosome\n", b"ACGT" * 15 + b"\n"))
    with pytest.raises(K2PError) as err:
        open_sequences(fifo, input_length=101)
    assert str(err.value).startswith(f"{fifo}: record 'chr1' (line 1) has 10,140 bases, more than "
                                     f"{MAX_LENGTH_FACTOR} x the model's input length 101")
    writer.join(10)


def test_a_long_line_in_a_regular_file_is_refused_the_same_way(tmp_path):
    path = tmp_path / "one_line.fa"
    path.write_bytes(b">a\n" + b"A" * (MAX_LENGTH_FACTOR * 20 + LINE_SLACK + 1) + b"\n")
    with pytest.raises(K2PError, match=r"one_line.fa: line 2 is longer than 6,096 bytes"):
        open_sequences(path, input_length=20)
    assert open_sequences(path).max_length == MAX_LENGTH_FACTOR * 20 + LINE_SLACK + 1  # no model: 10 M allowed


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_sequences_fails_on_its_first_bytes(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(K2PError, match=f"^{device}: "):
        open_sequences(device)


def test_a_pipe_or_a_device_as_the_model_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)  # no writer: opening it would wait forever
    for path, what in ((fifo, "a pipe"), ("/dev/zero", "a device")):
        with pytest.raises(K2PError) as err:
            read_model(path)
        assert str(err.value) == (f"{path}: the model must be a regular file, not {what}: HDF5 and .keras zips "
                                  f"are read by seeking in them, which a pipe or a device cannot do; save it to a file")
    with pytest.raises(K2PError, match="the weights file must be a regular file, not a pipe"):
        read_model(MODEL, weights=fifo)


# ----------------------------------------------------------------------------- the command line

def meme_body(path):
    """A MEME file without the line naming the sequences' path (the one line a stream changes)."""
    lines = path.read_text().splitlines()
    named = [line for line in lines if line.startswith("# sequences: ")]
    assert len(named) == 1
    return [line for line in lines if not line.startswith("# sequences: ")], named[0]


def command(*args):
    return [sys.executable, "-m", "k2p_keras", str(MODEL), *map(str, args), "-q"]


@pytest.mark.parametrize("how, options", [
    ("stdin", []),
    ("process substitution", []),
    ("gzip through stdin", ["--method", "both", "--threshold-fraction", "0.5"]),  # three passes
])
def test_a_streamed_run_writes_the_files_pwms_byte_for_byte(fasta, tmp_path, how, options):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    reference = tmp_path / "file.meme"
    subprocess.run(command(fasta, "-o", reference, *options), check=True, env=env, timeout=600)
    out = tmp_path / "stream.meme"
    if how == "stdin":
        done = subprocess.run(command("-", "-o", out, *options), input=fasta.read_bytes(), env=env,
                              capture_output=True, timeout=600)
        label = "<stdin>"
    elif how == "gzip through stdin":
        done = subprocess.run(command("-", "-o", out, *options), input=gzip.compress(fasta.read_bytes()),
                              env=env, capture_output=True, timeout=600)
        label = "<stdin>"
    else:
        line = " ".join(f"'{a}'" for a in command("<(cat '%s')" % fasta, "-o", out, *options))
        line = line.replace(f"'<(cat '{fasta}')'", f"<(cat '{fasta}')")
        done = subprocess.run(["bash", "-c", line], env=env, capture_output=True, timeout=600)
        label = "/dev/fd/"
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""  # no warning (an unclosed pipe, say)
    body, named = meme_body(out)
    assert body == meme_body(reference)[0]
    assert named.startswith(f"# sequences: {label}") and named.endswith("(300 sequences)")


def test_a_fifo_as_the_model_fails_in_one_line_without_waiting_for_a_writer(fasta, tmp_path):
    fifo = tmp_path / "model.h5"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-m", "k2p_keras", str(fifo), str(fasta)], env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [f"Error: {fifo}: the model must be a regular file, not a pipe: "
                                                 "HDF5 and .keras zips are read by seeking in them, which a pipe or "
                                                 "a device cannot do; save it to a file"]


def test_hdf5_on_standard_input_is_refused_in_one_line():
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(command("-"), input=SEQS_H5.read_bytes(), env=env, capture_output=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        "Error: <stdin>: sequences in HDF5 must be a regular file, not standard input: HDF5 and .npy are read by "
        "seeking in them, which a pipe or a device cannot do; save it to a file"]


def test_header_labels_through_stdin_equal_the_files(fasta, tmp_path):
    """The FASTA headers' label= fields are read from the source already open (the stream's
    spooled copy), so --diagnostics' per-label columns through stdin equal the file run's."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    reference, out = tmp_path / "file.tsv", tmp_path / "stream.tsv"
    subprocess.run(command(fasta, "--diagnostics", "--summary", reference, "-o", tmp_path / "f.meme"),
                   check=True, env=env, timeout=600)
    done = subprocess.run(command("-", "--diagnostics", "--summary", out, "-o", tmp_path / "s.meme"),
                          input=fasta.read_bytes(), env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    header = next(line for line in reference.read_text().splitlines() if not line.startswith("#"))
    assert "auroc" in header.split("\t")  # the labels were read from the file's headers
    assert out.read_text() == reference.read_text()
