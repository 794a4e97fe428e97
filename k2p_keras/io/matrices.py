"""Numeric matrices and tensors on disk: k2p-1.0 kernel text and HDF5 tensors.

These readers return the numbers exactly as stored. They do not reorder rows: the
k2p-1.0 files use the convolution convention (rows reversed), and converting that is
the caller's choice (see ``docs/ARCHITECTURE.md``).
"""
import contextlib
import math
import os

import h5py
import numpy as np

from ..errors import K2PError
from ..validate import check_declared_size, check_numeric_dtype
from .formats import file_kind
from .guard import check_answers
from .text import atomic_path, read_text, write_text

__all__ = ["read_kernel_text", "write_kernel_text", "read_hdf5_tensor", "write_hdf5_tensor", "resolve_dataset",
           "read_numeric_dataset"]


# ----------------------------------------------------------------------------- kernel text

def read_kernel_text(source, sep=None):
    """Read a kernel matrix from text (k2p-1.0's ``KERNEL.txt``).

    One row per kernel position, four numbers per row for the channels A C G T.
    Blank lines and lines starting with ``#`` are skipped.

    Parameters
    ----------
    source : str, os.PathLike or file object
        A path, or an open text file such as ``sys.stdin``.
    sep : str, optional
        The column separator, e.g. ``','`` or ``'\\t'``. ``None`` (default): any run
        of spaces or tabs.

    Returns
    -------
    numpy.ndarray
        ``(L, 4)`` float64, rows as they appear in the file.

    Raises
    ------
    K2PError
        For an empty file, a row without exactly 4 columns, a cell that is not a
        number, or NaN/infinity (each names the line).
    """
    text, name = read_text(source, "a kernel matrix with 4 columns A C G T")
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = stripped.split() if sep is None else [c.strip() for c in stripped.split(sep)]
        if len(cells) != 4:
            raise K2PError(f"line {lineno}: expected 4 columns (A C G T), found {len(cells)}: "
                           f"{stripped!r}", path=name)
        row = []
        for column, cell in enumerate(cells, start=1):
            try:
                value = float(cell)
            except ValueError:
                raise K2PError(f"line {lineno}, column {column}: expected a number, found {cell!r}",
                               path=name) from None
            if not math.isfinite(value):
                raise K2PError(f"line {lineno}, column {column}: expected a finite number, "
                               f"found {cell!r}", path=name)
            row.append(value)
        rows.append(row)
    if not rows:
        raise K2PError("empty file (expected a kernel matrix: one row per position, "
                       "4 columns A C G T)", path=name)
    return np.array(rows, dtype=np.float64)


def write_kernel_text(dest, kernel, sep=" "):
    """Write a kernel matrix as text, every digit kept (``%.18e``, as numpy.savetxt).

    Parameters
    ----------
    dest : str, os.PathLike or file object
        A path (written atomically) or an open text file such as ``sys.stdout``.
    kernel : array-like or dict
        ``(L, 4)`` numbers, columns A C G T; or ``{name: (L, 4) kernel}``, written as blocks
        each led by a ``# name`` line and separated by a blank line (one block per motif;
        :func:`read_kernel_text` reads one block per file).
    sep : str
        Column separator.
    """
    if isinstance(kernel, dict):
        text = "\n".join(f"# {name}\n" + _kernel_rows(k, sep) for name, k in kernel.items())
    else:
        text = _kernel_rows(kernel, sep)
    write_text(dest, text)


def _kernel_rows(kernel, sep):
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.shape[1] != 4:
        raise K2PError(f"expected an (L, 4) kernel matrix (columns A C G T), found shape {kernel.shape}")
    # float() of each cell, as numpy.savetxt does, so float32 kernels print their exact value.
    return "".join(sep.join("%.18e" % float(x) for x in row) + "\n" for row in kernel.tolist())


# ----------------------------------------------------------------------------- HDF5

def _open_hdf5(path):
    """Open an HDF5 file for reading, turning every failure into a K2PError."""
    path = os.fspath(path)
    if file_kind(path, "an HDF5 file") != "hdf5":
        raise K2PError("not an HDF5 file", path=path)
    check_answers(path, "hdf5", "the HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise K2PError("not an HDF5 file (or a damaged one)", path=path) from None


def _link_kind(link):
    return "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"


def _dataset_names(h5file):
    return [key for key in h5file if isinstance(h5file.get(key, getlink=True), h5py.HardLink)
            and isinstance(h5file[key], h5py.Dataset)]


def _dataset_that_fits(h5file, fits, wanted, path):
    """The one top-level dataset ``fits`` accepts; several or none: a K2PError listing them.

    ``fits`` may be a tuple of predicates, strictest first: the first that accepts any
    dataset decides (so a file's only sequence tensor is used even at another length).
    """
    names = _dataset_names(h5file)
    if len(names) == 1:
        return h5file[names[0]]  # the only dataset: its reader says what is wrong with it, if anything
    chosen, level = [], 0
    for level, predicate in enumerate(fits if isinstance(fits, tuple) else (fits,)):
        chosen = [key for key in names if predicate(h5file[key])]
        if chosen:
            break
    if len(chosen) == 1:
        return h5file[chosen[0]]

    def listed(keys):
        return ", ".join(f"{key} {tuple(h5file[key].shape)}" for key in keys)

    if chosen:
        what = f"fit {wanted}" if level == 0 else f"hold one-hot sequences, none fits {wanted}"
        raise K2PError(f"{len(chosen)} datasets {what}: {listed(chosen)}; choose one with --dataset "
                       f"(dataset= in Python)", path=path)
    raise K2PError(f"no dataset fits {wanted}; the file holds: {listed(names) or 'no top-level dataset'} "
                   f"(name one with --dataset, dataset= in Python)", path=path)


def resolve_dataset(h5file, name=None, path=None, fits=None, wanted="what is read"):
    """Return a dataset of an open HDF5 file: ``name``, or else the one that fits, or the first.

    Without ``name``: when ``fits`` (a predicate on an h5py dataset, or a tuple of them,
    strictest first) is given, the one top-level dataset it accepts; several or none are
    refused, listing the datasets with their shapes (``wanted`` says what was looked for).
    Without ``fits``, the first dataset in h5py's iteration order over the top-level names
    (what k2p-1.0 read).
    Soft and external links are refused: an external link would silently read another
    file. ``name`` may be a path inside the file, such as ``"group/sequences"``.

    Raises
    ------
    K2PError
        When the name is absent (the message lists the datasets), is a link or a group,
        or when the file holds no dataset.
    """
    if name is None and fits is not None:
        dataset = _dataset_that_fits(h5file, fits, wanted, path)
        check_dataset_size(dataset, path)
        return dataset
    if name is None:
        for key in h5file:
            link = h5file.get(key, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                raise K2PError(f"'{key}' is {_link_kind(link)}; links are not followed "
                               f"(name a dataset stored in this file)", path=path)
            if isinstance(h5file[key], h5py.Dataset):
                check_dataset_size(h5file[key], path)
                return h5file[key]
        groups = ", ".join(h5file) or "nothing"
        raise K2PError(f"no dataset at the top level of the file (found: {groups}); "
                       f"name one, e.g. group/dataset", path=path)
    node = h5file
    for part in [p for p in name.split("/") if p]:
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            names = ", ".join(_dataset_names(h5file)) or "none"
            raise K2PError(f"no dataset named {name!r}; datasets in the file: {names}", path=path)
        if not isinstance(link, h5py.HardLink):
            raise K2PError(f"{name!r} goes through {_link_kind(link)}; links are not followed "
                           f"(name a dataset stored in this file)", path=path)
        node = node[part]
    if not isinstance(node, h5py.Dataset):
        raise K2PError(f"{name!r} is a group, expected a dataset; it holds: {', '.join(node) or 'nothing'}",
                       path=path)
    check_dataset_size(node, path)
    return node


def check_dataset_size(dataset, path):
    """Refuse a dataset whose declared size the file's bytes cannot hold (see ``validate``).

    HDF5 allocates nothing for data never written: a 1 kB file may declare terabytes of
    zeros, which reading (or scanning) would then produce.
    """
    try:
        stored = dataset.id.get_storage_size()
        compressed = dataset.id.get_create_plist().get_nfilters() > 0
    except (OSError, RuntimeError, ValueError):
        return
    declared = int(dataset.size or 0) * dataset.dtype.itemsize
    check_declared_size(declared, stored, compressed, f"dataset {dataset.name!r} {dataset.shape}", path)


def read_numeric_dataset(node, what, path):
    """Read a whole HDF5 dataset of real numbers, refusing groups, text, complex and unwritten data.

    Parameters
    ----------
    node : h5py.Dataset or h5py.Group
        What the file holds where a dataset is expected.
    what : str
        Names it in messages, e.g. ``"weight 'motif_conv/kernel:0'"``.
    path : str
        The file, for the error.
    """
    if not isinstance(node, h5py.Dataset):
        raise K2PError(f"{what} is an HDF5 {type(node).__name__.lower()}, expected a dataset of numbers",
                       path=path)
    check_numeric_dtype(node.dtype, what, path)
    check_dataset_size(node, path)
    return np.asarray(node[()])


def read_hdf5_tensor(path, name=None):
    """Read a whole numeric dataset (tensor) from an HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
        The HDF5 file.
    name : str, optional
        The dataset; by default the first one in the file (k2p-1.0's rule).

    Returns
    -------
    numpy.ndarray
        The data with the dtype it is stored in (e.g. float32 kernels stay float32).
    """
    path = os.fspath(path)
    with _open_hdf5(path) as h5file, hdf5_damage(path):
        dataset = resolve_dataset(h5file, name, path)
        return read_numeric_dataset(dataset, f"dataset {dataset.name!r}", path)


@contextlib.contextmanager
def hdf5_damage(path):
    """Turn what h5py raises on a damaged file (after opening it) into one K2PError."""
    try:
        yield
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
        # ValueError: a damaged datatype or name (h5py cannot map it to numpy, or decode it).
        raise K2PError(f"damaged HDF5 file ({type(err).__name__}: {err})", path=path) from None


def write_hdf5_tensor(path, name, array):
    """Write one array as dataset ``name`` of a new HDF5 file (replacing the file atomically).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create.
    name : str
        The dataset name, e.g. ``'PWM_tensor'`` as k2p-1.0 wrote.
    array : array-like
        The numbers.
    """
    array = np.asarray(array)
    check_numeric_dtype(array.dtype, "the array", os.fspath(path))
    try:
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as h5file:
                h5file.create_dataset(name, data=array)
    except OSError as err:
        raise K2PError(f"cannot write the file ({err})", path=os.fspath(path)) from None
