"""Kernel text and HDF5 tensors: the numbers read are the numbers stored, and k2p-1.0's files are reproduced."""
import io
import os

import h5py
import numpy as np
import pytest

from k2p_keras.errors import K2PError
from k2p_keras.io.matrices import read_hdf5_tensor, read_kernel_text, write_hdf5_tensor, write_kernel_text

TOY_KERNEL = np.array([[1, 2, 3, 4], [-1, -2, -3, -4], [-2, 0, 2, 4], [0.1, 0.2, 0.3, 0.4],
                       [0.25, 0.25, 0.25, 0.25], [-3, -3, 3, 3], [-1, -1, 1, 1]], dtype=float)


# ----------------------------------------------------------------------------- kernel text

def test_reads_the_toy_kernel(golden):
    kernel = read_kernel_text(golden / "toy_kernel_matrix.txt")
    assert kernel.dtype == np.float64
    np.testing.assert_array_equal(kernel, TOY_KERNEL)


@pytest.mark.parametrize("name", ["toy_PWM_transformed_kernel.txt",
                                  "toy_PWM_2_with_zero_transformed_kernel.txt"])
def test_writes_k2p_kernel_text_byte_for_byte(golden, tmp_path, name):
    original = (golden / name).read_bytes()
    kernel = np.loadtxt(golden / name)
    np.testing.assert_array_equal(read_kernel_text(golden / name), kernel)
    write_kernel_text(tmp_path / name, kernel)
    assert (tmp_path / name).read_bytes() == original
    stream = io.StringIO()
    write_kernel_text(stream, kernel)
    assert stream.getvalue().encode() == original


def test_float32_kernels_print_their_exact_value():
    kernel = np.full((1, 4), 0.1, dtype=np.float32)
    stream = io.StringIO()
    write_kernel_text(stream, kernel)
    assert np.float32(read_kernel_text(io.StringIO(stream.getvalue()))[0, 0]) == np.float32(0.1)
    assert stream.getvalue().split()[0] == "%.18e" % float(np.float32(0.1))


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_separators_round_trip(sep):
    stream = io.StringIO()
    write_kernel_text(stream, TOY_KERNEL, sep=sep)
    assert sep in stream.getvalue()
    np.testing.assert_array_equal(read_kernel_text(io.StringIO(stream.getvalue()), sep=sep), TOY_KERNEL)


def test_tolerates_blank_lines_comments_tabs_and_crlf():
    text = "# kernel of filter 3\r\n\r\n1\t2  3 4\r\n\r\n -1 -2 -3 -4 \r\n"
    np.testing.assert_array_equal(read_kernel_text(io.StringIO(text)), TOY_KERNEL[:2])
    np.testing.assert_array_equal(read_kernel_text(io.StringIO("1, 2 ,3,4\n"), sep=","), TOY_KERNEL[:1])


@pytest.mark.parametrize("text, sep, message", [
    ("", None, "empty file"),
    ("# only a comment\n\n", None, "empty file"),
    ("1 2 3 4\n1 2 3\n", None, "line 2: expected 4 columns \\(A C G T\\), found 3"),
    ("1 2 3 4 5\n", None, "line 1: expected 4 columns .* found 5"),
    ("1 2 3 4\n1 2 x 4\n", None, "line 2, column 3: expected a number, found 'x'"),
    ("1 2 3 nan\n", None, "line 1, column 4: expected a finite number"),
    ("1 2 -inf 4\n", None, "line 1, column 3: expected a finite number"),
    ("1 2 3 4\n", ",", "line 1: expected 4 columns .* found 1"),
])
def test_kernel_text_refusals(text, sep, message):
    with pytest.raises(K2PError, match=message) as caught:
        read_kernel_text(io.StringIO(text), sep=sep)
    assert caught.value.path == "<stdin>"


def test_kernel_text_file_errors(tmp_path):
    with pytest.raises(K2PError, match="file not found"):
        read_kernel_text(tmp_path / "absent.txt")
    with pytest.raises(K2PError, match="expected an \\(L, 4\\) kernel matrix"):
        write_kernel_text(tmp_path / "k.txt", np.zeros((3, 5)))
    assert not os.listdir(tmp_path)


# ----------------------------------------------------------------------------- HDF5

def test_reads_the_k2p_tensors(golden):
    kernels = read_hdf5_tensor(golden / "for.3..1.kernel.tensor.hdf5")
    assert kernels.shape == (1, 18, 4) and kernels.dtype == np.float32
    pwms = read_hdf5_tensor(golden / "for.3..1.PWM.tensor.hdf5", "PWM_tensor")
    np.testing.assert_allclose(pwms.sum(axis=2), 1)


def test_hdf5_round_trip_and_first_dataset(tmp_path):
    path = tmp_path / "t.h5"
    data = np.random.default_rng(0).normal(size=(3, 5, 4))
    write_hdf5_tensor(path, "PWM_tensor", data)
    np.testing.assert_array_equal(read_hdf5_tensor(path), data)
    with h5py.File(path, "a") as h5file:
        h5file.create_group("group").create_dataset("inner", data=np.ones(2))
        h5file.create_dataset("zeta", data=np.zeros(2))
    np.testing.assert_array_equal(read_hdf5_tensor(path, "group/inner"), np.ones(2))
    np.testing.assert_array_equal(read_hdf5_tensor(path, "/zeta"), np.zeros(2))
    with pytest.raises(K2PError, match="no dataset named 'kernel'; datasets in the file: PWM_tensor, zeta"):
        read_hdf5_tensor(path, "kernel")
    with pytest.raises(K2PError, match="'group' is a group, expected a dataset; it holds: inner"):
        read_hdf5_tensor(path, "group")


def test_hdf5_links_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    write_hdf5_tensor(other, "secret", np.arange(3))
    path = tmp_path / "links.h5"
    with h5py.File(path, "w") as h5file:
        h5file["external"] = h5py.ExternalLink(str(other), "secret")
        h5file.create_dataset("real", data=np.ones(3))
        h5file["soft"] = h5py.SoftLink("/real")
    with pytest.raises(K2PError, match="'external' is an external link"):
        read_hdf5_tensor(path)
    for name, kind in (("external", "an external link"), ("soft", "a soft link")):
        with pytest.raises(K2PError, match=f"'{name}' goes through {kind}; links are not followed"):
            read_hdf5_tensor(path, name)
    np.testing.assert_array_equal(read_hdf5_tensor(path, "real"), np.ones(3))


def test_hdf5_refusals(tmp_path):
    text = tmp_path / "not.h5"
    text.write_text("1 2 3 4\n")
    with pytest.raises(K2PError, match="not an HDF5 file"):
        read_hdf5_tensor(text)
    with pytest.raises(K2PError, match="file not found"):
        read_hdf5_tensor(tmp_path / "absent.h5")
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as h5file:
        h5file.create_group("g")
    with pytest.raises(K2PError, match="no dataset at the top level"):
        read_hdf5_tensor(empty)
    strings = tmp_path / "strings.h5"
    with h5py.File(strings, "w") as h5file:
        h5file.create_dataset("names", data=np.array([b"ACGT"]))
    with pytest.raises(K2PError, match="expected numbers"):
        read_hdf5_tensor(strings)


def test_failed_hdf5_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "t.h5"
    write_hdf5_tensor(path, "a", np.ones(2))
    with pytest.raises(K2PError, match="expected numbers"):
        write_hdf5_tensor(path, "a", np.array(["x"]))
    np.testing.assert_array_equal(read_hdf5_tensor(path), np.ones(2))
    assert os.listdir(tmp_path) == ["t.h5"]
