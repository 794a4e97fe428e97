"""Streaming one-hot sequences: batches put together are the data, and memory stays one batch."""
import gzip
import time
import tracemalloc

import h5py
import numpy as np
import pytest

from k2p_keras.errors import K2PError
from k2p_keras.io.fasta import FastaSequences
from k2p_keras.io.labels import open_labels
from k2p_keras.io.sequences import holds_sequences, iterable_batches, open_sequences, TensorSequences

EYE = np.eye(4, dtype=np.float32)


def one_hot(count, length, seed=0):
    return EYE[np.random.default_rng(seed).integers(0, 4, size=(count, length))]


def gather(source, batch_size=512, indices=None):
    batches = list(source.iter_batches(batch_size, indices=indices))
    for batch in batches:
        assert batch.dtype == np.float32 and batch.ndim == 3 and batch.shape[2] == 4
        assert batch.flags.c_contiguous and len(batch) <= batch_size
    return batches


def write_h5(path, data, name="seqs"):
    with h5py.File(path, "w") as h5file:
        h5file.create_dataset(name, data=data)
    return path


# ----------------------------------------------------------------------------- tensors

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int8, np.uint8, bool])
def test_hdf5_batches_put_together_are_the_data(tmp_path, dtype):
    data = one_hot(103, 17).astype(dtype)
    source = open_sequences(write_h5(tmp_path / "s.h5", data))
    assert isinstance(source, TensorSequences)
    assert (source.count, source.length, source.min_length, len(source)) == (103, 17, 17, 103)
    batches = gather(source, 10)
    assert [len(b) for b in batches] == [10] * 10 + [3]
    np.testing.assert_array_equal(np.concatenate(batches), data.astype(np.float32))


def test_golden_sequence_tensor(golden):
    source = open_sequences(golden / "for.3..1.sequence.tensor.hdf5")
    assert (source.count, source.length, source.dataset) == (3000, 50, "/temp_sequence_tensor")
    total = sum(batch.sum(axis=(0, 2)) for batch in source.iter_batches(1000))
    np.testing.assert_array_equal(total, np.full(50, 3000.0))


def test_hdf5_dataset_by_name_or_by_shape_never_alphabetically(tmp_path):
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as h5file:
        h5file.create_dataset("a_first", data=one_hot(3, 5, seed=1))
        h5file.create_dataset("b_second", data=one_hot(4, 6, seed=2))
        h5file.create_dataset("labels", data=np.zeros(4))
    with pytest.raises(K2PError, match=r"2 datasets fit .*a_first \(3, 5, 4\), b_second \(4, 6, 4\); "
                                       r"choose one with --dataset"):
        open_sequences(path)
    assert open_sequences(path, fits_length=lambda n: n == 6).count == 4
    source = open_sequences(path, dataset="b_second")
    np.testing.assert_array_equal(np.concatenate(gather(source)), one_hot(4, 6, seed=2))
    with pytest.raises(K2PError, match="no dataset named 'c'; datasets in the file: a_first, b_second"):
        open_sequences(path, dataset="c")


def test_npy_is_memory_mapped_and_arrays_work(tmp_path):
    data = one_hot(50, 9)
    np.save(tmp_path / "s.npy", data)
    for source in (open_sequences(tmp_path / "s.npy"), open_sequences(data), open_sequences(data.tolist())):
        np.testing.assert_array_equal(np.concatenate(gather(source, 7)), data)
    assert isinstance(open_sequences(tmp_path / "s.npy")._array, np.memmap)
    assert open_sequences(data).path is None


def test_channels_first_is_transposed(tmp_path):
    data = one_hot(20, 11)
    stored = np.ascontiguousarray(data.transpose(0, 2, 1))
    # Named, or read off the shape: the axis of size 4 holds the channels.
    for source in (open_sequences(write_h5(tmp_path / "s.h5", stored), channels_first=True),
                   open_sequences(stored, channels_first=True), open_sequences(stored),
                   open_sequences(write_h5(tmp_path / "auto.h5", stored))):
        assert source.length == 11
        np.testing.assert_array_equal(np.concatenate(gather(source, 6)), data)
        np.testing.assert_array_equal(np.concatenate(gather(source, 6, indices=[3, 19])), data[[3, 19]])


@pytest.mark.parametrize("alphabet", ["ATCG", "TGCA", "CAGT"])
def test_tensors_in_a_model_s_channel_order_come_out_in_acgt(tmp_path, alphabet):
    """Stored tensors, arrays and batches are taken in the model's order (alphabet) and put in A C G T;
    FASTA letters are A C G T whatever the model's order."""
    data = one_hot(30, 12)
    stored = data[:, :, ["ACGT".index(letter) for letter in alphabet]]  # channel j holds alphabet[j]
    np.save(tmp_path / "s.npy", stored)
    channels_first = np.ascontiguousarray(stored.transpose(0, 2, 1))
    for source in (open_sequences(tmp_path / "s.npy", alphabet=alphabet),
                   open_sequences(write_h5(tmp_path / "s.h5", stored), alphabet=alphabet),
                   open_sequences(write_h5(tmp_path / "cf.h5", channels_first), alphabet=alphabet),
                   open_sequences(stored, alphabet=alphabet)):
        np.testing.assert_array_equal(np.concatenate(gather(source, 7)), data)
        np.testing.assert_array_equal(np.concatenate(gather(source, 7, indices=[2, 29])), data[[2, 29]])
    batches_of_size, _, _ = iterable_batches([stored[:10], stored[10:]], alphabet)
    np.testing.assert_array_equal(np.concatenate(list(batches_of_size(8))), data)
    (tmp_path / "s.fa").write_text(">s\nACGTTGCA\n")
    fasta = gather(open_sequences(tmp_path / "s.fa", alphabet=alphabet))
    np.testing.assert_array_equal(fasta[0][0], EYE[[0, 1, 2, 3, 3, 2, 1, 0]])


@pytest.mark.parametrize("indices", [[0], [5, 3, 3, 99], list(range(10, 40)), [0, 50, 99],
                                     np.arange(0, 100, 9)])
def test_indices_select_a_subset_in_file_order(tmp_path, indices):
    data = one_hot(100, 8)
    np.save(tmp_path / "s.npy", data)
    expected = data[np.unique(indices)]
    for source in (open_sequences(write_h5(tmp_path / "s.h5", data)), open_sequences(tmp_path / "s.npy")):
        np.testing.assert_array_equal(np.concatenate(gather(source, 4, indices=indices)), expected)
    assert gather(open_sequences(data), 4, indices=[]) == []


def test_indices_out_of_range_and_bad_batch_size():
    source = open_sequences(one_hot(5, 3))
    with pytest.raises(K2PError, match="indices must lie in 0..4, found 5"):
        source.iter_batches(2, indices=[1, 5])
    with pytest.raises(K2PError, match="found -1"):
        source.iter_batches(2, indices=[-1])
    with pytest.raises(K2PError, match="batch_size: expected a whole number >= 1, got 0"):
        source.iter_batches(0)


@pytest.mark.parametrize("data, message", [
    (np.zeros((5, 10, 20)), "shape \\(5, 10, 20\\), expected \\(sequences, length, 4\\) or "
                            "\\(sequences, 4, length\\): one-hot A C G T$"),
    (np.zeros((10, 4)), "expected a rank-3 tensor"),
    (np.zeros((0, 10, 4)), "no sequences"),
    (np.zeros((3, 0, 4)), "length 0"),
    (np.array([[["A", "C", "G", "T"]]]), "expected numbers"),
])
def test_tensor_shape_refusals(tmp_path, data, message):
    with pytest.raises(K2PError, match=message):
        open_sequences(data)
    with pytest.raises(K2PError, match=message):
        open_sequences(write_h5(tmp_path / "s.h5", data.astype("S1") if data.dtype.kind == "U" else data))


def test_channels_first_checks_the_second_axis():
    with pytest.raises(K2PError, match=r"shape \(2, 10, 4\), expected"):
        open_sequences(np.zeros((2, 10, 4)), channels_first=True)


@pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (2.0, "2.0"), (-0.5, "-0.5")])
def test_values_are_checked_as_batches_are_read(tmp_path, bad, shown):
    data = one_hot(30, 6)
    data[17, 2, 1] = bad
    source = open_sequences(write_h5(tmp_path / "s.h5", data))
    batches = source.iter_batches(10)
    next(batches)
    with pytest.raises(K2PError, match=f"sequence 17 \\(counting from 0\\) holds {shown}; expected one-hot"):
        next(batches)


# ----------------------------------------------------------------------------- FASTA

FASTA = (";a comment first\n>seq1 first record\nACGT\nacgu\n\n>seq2\r\nNNRY\r\nSWKM-T\r\n"
         ">seq3 third\nBDHVnt\nGG\n")


def test_fasta_encoding_multiline_case_u_and_comments(tmp_path):
    path = tmp_path / "s.fa"
    path.write_text(FASTA)
    source = open_sequences(path)
    assert isinstance(source, FastaSequences) and not source.gzipped
    assert (source.count, source.length, source.min_length, source.max_length) == (3, None, 8, 10)
    batches = gather(source)
    assert [b.shape for b in batches] == [(1, 8, 4), (1, 10, 4), (1, 8, 4)]
    np.testing.assert_array_equal(batches[0][0], EYE[[0, 1, 2, 3, 0, 1, 2, 3]])
    np.testing.assert_array_equal(batches[1][0], np.zeros((10, 4)) + EYE[3] * (np.arange(10) == 9)[:, None])
    quarter = gather(open_sequences(path, n_encoding="quarter"))
    np.testing.assert_array_equal(quarter[1][0, :9], np.full((9, 4), 0.25))
    np.testing.assert_array_equal(quarter[2][0, :5], np.full((5, 4), 0.25))
    np.testing.assert_array_equal(quarter[2][0, 5:], EYE[[3, 2, 2]])
    np.testing.assert_array_equal(quarter[0], batches[0])


def test_fasta_batches_hold_one_length_and_flush_when_full(tmp_path):
    lengths = [5, 5, 5, 7, 7, 5, 5, 5, 5, 5]
    rng = np.random.default_rng(3)
    records = ["".join(rng.choice(list("ACGT"), size=n)) for n in lengths]
    path = tmp_path / "s.fasta"
    path.write_text("".join(f">r{i}\n{seq[:3]}\n{seq[3:]}\n" for i, seq in enumerate(records)))
    source = open_sequences(path)
    assert (source.count, source.length, source.min_length) == (10, None, 5)
    batches = gather(source, 3)
    assert [b.shape[:2] for b in batches] == [(3, 5), (2, 7), (3, 5), (2, 5)]
    decoded = ["".join("ACGT"[i] for i in row.argmax(axis=1)) for batch in batches for row in batch]
    assert decoded == records
    subset = gather(source, 3, indices=[9, 0, 4, 3, 5])
    assert [b.shape[:2] for b in subset] == [(1, 5), (2, 7), (2, 5)]
    np.testing.assert_array_equal(subset[2][1], batches[3][1])


def test_gzip_is_detected_by_content_not_name(tmp_path):
    disguised = tmp_path / "plain_name.fa"
    disguised.write_bytes(gzip.compress(FASTA.encode()))
    honest = tmp_path / "not_really.fa.gz"
    honest.write_text(FASTA)
    plain = tmp_path / "s.fa"
    plain.write_text(FASTA)
    expected = np.concatenate([b.reshape(-1, 4) for b in gather(open_sequences(plain))])
    for path, gzipped in ((disguised, True), (honest, False)):
        source = open_sequences(path)
        assert source.gzipped is gzipped and source.count == 3
        np.testing.assert_array_equal(np.concatenate([b.reshape(-1, 4) for b in gather(source)]), expected)


@pytest.mark.parametrize("text, message", [
    (">a\nACGT\n>b\nACXGT\n", "record 'b' \\(line 4\\), position 3: 'X' is not a nucleotide letter"),
    (">a\nACGT\nAC*\n", "record 'a' \\(line 3\\), position 7: '\\*'"),
    ("ACGT\n>a\nACGT\n", "line 1: expected a FASTA header"),
    (">a\nACGT\n>b\n\n>c\nA\n", "record 'b' \\(line 3\\) has no sequence"),
    (";just a comment\n", "no sequences found"),
    ("\n\n  \n", "empty file"),
    ("", "empty file"),
    ("id\tvalue\n1\t2\n", "not a sequence file: expected HDF5, .npy or FASTA"),
])
def test_fasta_refusals(tmp_path, text, message):
    path = tmp_path / "s.fa"
    path.write_text(text)
    with pytest.raises(K2PError, match=message) as caught:
        open_sequences(path)
    assert caught.value.path == str(path)
    path.write_bytes(gzip.compress(text.encode()))
    if text.strip() and not text.startswith("id"):
        with pytest.raises(K2PError, match=message):
            open_sequences(path)


def test_damaged_gzip_and_option_misuse(tmp_path):
    path = tmp_path / "s.fa.gz"
    path.write_bytes(gzip.compress((FASTA * 50).encode())[:-30])
    with pytest.raises(K2PError, match="damaged gzip file"):
        open_sequences(path)
    plain = tmp_path / "s.fa"
    plain.write_text(FASTA)
    with pytest.raises(K2PError, match="channels_first applies to stored tensors"):
        open_sequences(plain, channels_first=True)
    with pytest.raises(K2PError, match="dataset name \\('x'\\) was given but the file is fasta"):
        open_sequences(plain, dataset="x")
    with pytest.raises(K2PError, match="the sequences are an array"):
        open_sequences(np.zeros((1, 3, 4)), dataset="x")
    with pytest.raises(ValueError, match="n_encoding"):
        open_sequences(plain, n_encoding="half")
    with pytest.raises(K2PError, match="file not found"):
        open_sequences(tmp_path / "absent.h5")
    with pytest.raises(K2PError, match="is a directory"):
        open_sequences(tmp_path)


# ----------------------------------------------------------------------------- memory

def test_streaming_a_large_file_keeps_memory_to_one_batch(tmp_path):
    """20,000 x 1,000 x 4 float32 (320 MB on disk) streamed with a peak far below that."""
    path = tmp_path / "big.h5"
    count, length, block = 20_000, 1_000, 2_000
    rows = one_hot(block, length)
    with h5py.File(path, "w") as h5file:
        dataset = h5file.create_dataset("seqs", shape=(count, length, 4), dtype=np.float32)
        for start in range(0, count, block):
            dataset[start:start + block] = rows
    del rows
    source = open_sequences(path)
    started = time.perf_counter()
    tracemalloc.start()
    try:
        seen, checksum = 0, 0.0
        for batch in source.iter_batches(512):
            seen += len(batch)
            checksum += float(batch[:, 0, 0].sum())
            del batch
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert checksum == 10 * one_hot(block, length)[:, 0, 0].sum()
    # One batch is 512 x 1000 x 4 x 4 bytes = 8 MB; a few copies of it are fine, the file is not.
    assert peak < 40e6, f"peak traced memory {peak / 1e6:.0f} MB while streaming a 320 MB file"
    assert time.perf_counter() - started < 30


# ----------------------------------------------------------------------------- labels

def test_labels_beside_the_sequences_are_found_named_or_given(tmp_path):
    path = tmp_path / "seqs.h5"
    with h5py.File(path, "w") as h5file:
        h5file["x"] = one_hot(6, 20)
        h5file["y"] = np.arange(6, dtype=np.uint8) % 2
        h5file["labels"] = np.ones((6, 3))
        h5file["short"] = np.ones(5)
    found, source = open_labels(None, path, 6)
    assert found.shape == (6, 1) and found.dtype == np.float32 and found[:, 0].tolist() == [0, 1, 0, 1, 0, 1]
    assert source == f"y in {path}"
    assert open_labels("labels", open_sequences(path, dataset="x"), 6)[0].shape == (6, 3)
    assert open_labels(False, path, 6) == (None, None)
    assert open_labels(np.zeros((6, 2)), None, 6)[1] == "<array>"
    with pytest.raises(K2PError, match="number 5, the sequences 6"):
        open_labels("short", path, 6)
    with pytest.raises(K2PError, match="no dataset named 'z'"):
        open_labels("z", path, 6)


def test_labels_are_not_looked_for_outside_hdf5_and_must_be_finite_rows(tmp_path):
    npy = tmp_path / "seqs.npy"
    np.save(npy, one_hot(4, 10))
    assert open_labels(None, npy, 4) == (None, None)
    assert open_labels(None, one_hot(4, 10), 4) == (None, None)
    with pytest.raises(K2PError, match="not an HDF5 file"):
        open_labels("y", npy, 4)
    with pytest.raises(K2PError, match="NaN or infinity"):
        open_labels(np.array([0.0, np.nan, 1.0, 1.0]), None, 4)
    with pytest.raises(K2PError, match=r"expected \(N,\) or \(N, outputs\)"):
        open_labels(np.zeros((4, 2, 2)), None, 4)
def test_n_and_iupac_positions_are_counted_once_with_their_encoding(tmp_path):
    path = tmp_path / "n.fa"
    path.write_text(">a\nACGTNNRY\nacgt\n>b\nACGTACGT\n>c\nnNwsACGT\n")
    for encoding, rows in (("zero", "all-zero rows"), ("quarter", "0.25 rows")):
        source = FastaSequences(str(path), n_encoding=encoding)
        assert (source.n_ambiguous, source.n_ambiguous_records) == (8, 2)
        assert source.encoding_note() == (f"{path}: 8 N/IUPAC positions in 2 of 3 sequences, encoded as {rows} "
                                          f"(--n-encoding {encoding}; use the model's training encoding)")
    clean = tmp_path / "clean.fa"
    clean.write_text(">a\nACGT\n")
    assert FastaSequences(str(clean)).encoding_note() is None


def test_a_file_holding_sequences_is_told_from_a_model(tmp_path):
    from conftest import REPO

    np.save(tmp_path / "x.npy", np.eye(4, dtype=np.float32)[np.zeros((3, 10), dtype=int)])
    (tmp_path / "notes.txt").write_text("not a sequence file\n")
    for path, expected in ((REPO / "data" / "example_seqs.h5", True), (REPO / "data" / "example_seqs.fa.gz", True),
                           (tmp_path / "x.npy", True), (REPO / "example_models" / "deepbind.h5", False),
                           (REPO / "example_models" / "deepbind.keras", False), (tmp_path / "notes.txt", False)):
        assert holds_sequences(path) is expected, path
