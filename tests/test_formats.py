"""File types are told by content: real files written by h5py, numpy, zipfile and gzip."""
import gzip
import zipfile

import h5py
import numpy as np
import pytest

from k2p_keras.errors import K2PError
from k2p_keras.io.formats import file_kind
from k2p_keras.io.matrices import read_hdf5_tensor
from k2p_keras.model.files import read_model
from k2p_keras.io.sequences import open_sequences

EXPECTED = "something"


def write_all(folder):
    """One file of each kind, with names that say nothing (or mislead) about the content."""
    with h5py.File(folder / "data.txt", "w") as f:
        f["x"] = np.ones((2, 3, 4))
    # A user block puts the HDF5 signature at offset 512, not 0.
    with h5py.File(folder / "offset.bin", "w", userblock_size=512) as f:
        f["x"] = np.ones((2, 3, 4))
    np.save(folder / "array.npy", np.ones((2, 3, 4)))
    (folder / "array.npy").rename(folder / "array.h5")
    with zipfile.ZipFile(folder / "model.h5", "w") as z:
        z.writestr("config.json", "{}")
    (folder / "seqs.h5").write_bytes(gzip.compress(b">a\nACGT\n"))
    (folder / "plain.npy").write_text(">a\nACGT\n")
    (folder / "empty.fa").write_bytes(b"")
    return {"data.txt": "hdf5", "offset.bin": "hdf5", "array.h5": "npy", "model.h5": "zip",
            "seqs.h5": "gzip", "plain.npy": "text", "empty.fa": "empty"}


def test_each_kind_is_recognised_from_its_bytes_not_its_name(tmp_path):
    for name, kind in write_all(tmp_path).items():
        assert file_kind(tmp_path / name, EXPECTED) == kind, name


def test_missing_files_and_directories_say_what_was_expected(tmp_path):
    with pytest.raises(K2PError, match="file not found, expected something") as caught:
        file_kind(tmp_path / "absent", EXPECTED)
    assert caught.value.path == str(tmp_path / "absent")
    with pytest.raises(K2PError, match="is a directory, expected something"):
        file_kind(tmp_path, EXPECTED)


def test_the_three_readers_agree_on_what_a_file_is(tmp_path):
    write_all(tmp_path)
    # HDF5 whatever the name: the matrix reader and the sequence reader both take it.
    np.testing.assert_array_equal(read_hdf5_tensor(tmp_path / "data.txt"), np.ones((2, 3, 4)))
    np.testing.assert_array_equal(read_hdf5_tensor(tmp_path / "offset.bin"), np.ones((2, 3, 4)))
    assert open_sequences(tmp_path / "offset.bin").count == 2
    assert open_sequences(tmp_path / "array.h5").format == "npy"
    assert open_sequences(tmp_path / "seqs.h5").format == "fasta"
    assert open_sequences(tmp_path / "plain.npy").format == "fasta"
    with pytest.raises(K2PError, match="not an HDF5 file"):
        read_hdf5_tensor(tmp_path / "array.h5")
    # A zip is what a .keras model is; an HDF5 file without a model config is not a model.
    with pytest.raises(K2PError, match="not a Keras model file"):
        read_model(tmp_path / "plain.npy")
    with pytest.raises(K2PError) as caught:
        read_model(tmp_path / "model.h5")
    assert "config" in str(caught.value) and "neither HDF5 nor" not in str(caught.value)
