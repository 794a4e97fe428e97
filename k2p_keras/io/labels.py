"""The sequences' labels from a file of their own: a table keyed by FASTA record id, or rows in order.

Influence's change of the loss and the diagnostics' AUROC need one label row per sequence.
An HDF5 file carries them beside the sequences (:func:`open_labels`);
a FASTA user keeps them apart, as the field's tools do (a BED/TSV of targets beside the
sequences, Selene's and Janggu's way; a table of ids and classes, gkm-SVM's and DeepSTARR's).
The file read here is

- a text table (tab-, comma- or space-separated; ``#`` comments, blank lines skipped): a row per
  sequence, ``ID  label [label ...]``, ID the FASTA record's name (the header's first word), in
  any order, rows for other records ignored; or, without ids (every field a number), a row per
  sequence in the sequences' order. A first row whose last field is not a number is a header
  (``id  label``);
- a ``.npy`` array ``(N,)`` or ``(N, outputs)``, in the sequences' order.

The first column is taken as ids when it holds every record's name (so numeric ids work too),
or when any of its fields is not a number.

Without a file, FASTA headers may carry the labels themselves, ``>seq1 label=1`` (``label=1,0``
for several outputs), as the bundled example's do: read by default, when every record has one.
"""
import os
import re

import h5py
import numpy as np

from ..errors import K2PError
from ..validate import check_numeric_dtype
from .fasta import EXPECTED, FastaSequences
from .formats import file_kind
from .guard import check_answers
from .matrices import hdf5_damage, resolve_dataset
from .sequences import detect_format

__all__ = ["checked_labels", "labelled_batches", "labels_from_headers", "open_labels", "read_labels_file"]

#: Datasets beside the sequences in an HDF5 file taken as their labels when none is named (in this order).
LABEL_DATASETS = ("y", "labels")

# A label in a FASTA header, ``>seq1 label=1`` (several outputs: ``label=1,0``).
_HEADER_LABEL = re.compile(r"(?:^|\s)label=(\S+)")

_FIELDS = {"\t": "\t", ",": ","}


def checked_labels(values, count, what, path):
    """Labels as float32 ``(N, k)``: numbers, finite, one row per sequence."""
    labels = np.asarray(values)
    check_numeric_dtype(labels.dtype, what, path=path)
    if labels.ndim not in (1, 2) or labels.shape[0] == 0:
        raise K2PError(f"{what} have shape {labels.shape}, expected (N,) or (N, outputs)", path=path)
    labels = labels.astype(np.float32).reshape(len(labels), -1)
    if count is not None and len(labels) != count:
        raise K2PError(f"{what} number {len(labels)}, the sequences {count}", path=path)
    if not np.all(np.isfinite(labels)):
        raise K2PError(f"{what} hold NaN or infinity", path=path)
    return labels


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _rows(path):
    """``(line number, fields)`` of every row of a text table, its header left out."""
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for lineno, line in enumerate(handle, start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                sep = next((s for s in _FIELDS if s in line), None)
                fields = [f.strip() for f in line.split(sep)] if sep else line.split()
                rows.append((lineno, fields))
    except OSError as err:
        raise K2PError(f"cannot read the labels ({err.strerror or err})", path=path) from None
    if rows and not _is_number(rows[0][1][-1]):
        rows = rows[1:]
    if not rows:
        raise K2PError("no labels found (expected a row per sequence: ID, then its label(s))", path=path)
    return rows


def read_labels_file(path, names=None, count=None):
    """One label row per sequence, in the sequences' order, from a labels file.

    Parameters
    ----------
    path : str or os.PathLike
        A text table or a ``.npy`` array (the module's docstring gives the format).
    names : list of str, optional
        The FASTA records' names, in order (None for sequences without names: HDF5, ``.npy``).
    count : int, optional
        Sequences expected.

    Returns
    -------
    tuple of (numpy.ndarray, str)
        float32 labels ``(N, k)`` and where they came from, e.g. ``"labels.tsv (by record id)"``.

    Raises
    ------
    K2PError
        A row that is not numbers, a record without a row, an id given twice, rows or columns
        that do not match, ids beside sequences that have none.
    """
    path = os.fspath(path)
    if path.endswith(".npy"):
        try:
            values = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise K2PError(f"not a readable .npy array of labels ({err})", path=path) from None
        return checked_labels(values, count, "the labels", path), path
    rows = _rows(path)
    first = [fields[0] for _, fields in rows]
    by_id = names is not None and set(names) <= set(first) or not all(_is_number(f) for f in first)
    width = len(rows[0][1])
    for lineno, fields in rows:
        if len(fields) != width or width == by_id:
            raise K2PError(f"line {lineno}: expected {'an id and ' if by_id else ''}the same number of labels "
                           "on every row", path=path)
    for lineno, fields in rows:
        bad = next((f for f in fields[int(by_id):] if not _is_number(f)), None)
        if bad is not None:
            raise K2PError(f"line {lineno}: label {bad!r} is not a number", path=path)
    if not by_id:
        return checked_labels([[float(f) for f in fields] for _, fields in rows], count, "the labels", path), path
    if names is None:
        raise K2PError(f"the first column holds ids ({first[0]!r}), but the sequences are not FASTA records "
                       "to match them with: give a row per sequence, in order, without ids", path=path)
    table = {}
    for lineno, fields in rows:
        if fields[0] in table:
            raise K2PError(f"line {lineno}: id {fields[0]!r} is given twice", path=path)
        table[fields[0]] = [float(f) for f in fields[1:]]
    missing = [name for name in names if name not in table]
    if missing:
        raise K2PError(f"no labels for record {missing[0]!r} ({len(missing):,} of {len(names):,} records have "
                       "none; the ids are the FASTA headers' first words)", path=path)
    return checked_labels([table[name] for name in names], count, "the labels", path), f"{path} (by record id)"



def labels_from_headers(headers, count=None, path=None):
    """The ``label=`` fields of FASTA headers (:data:`_HEADER_LABEL`), or ``(None, None)`` when no
    header has one.

    Returns
    -------
    tuple of (numpy.ndarray or None, str or None)
        float32 labels ``(N, k)`` and ``"label= in the FASTA headers"``.

    Raises
    ------
    K2PError
        Some headers with a label and others without, or a label that is not a number.
    """
    found = [_HEADER_LABEL.search(header) for header in headers]
    if not any(found):
        return None, None
    missing = next((i for i, m in enumerate(found) if m is None), None)
    if missing is not None:
        raise K2PError(f"record {missing + 1} ({headers[missing].split()[0] if headers[missing].split() else ''!r}) "
                       "has no label= in its header, unlike others: label every record or none", path=path)
    rows = []
    for header, match in zip(headers, found):
        fields = match.group(1).split(",")
        bad = next((f for f in fields if not _is_number(f)), None)
        if bad is not None:
            raise K2PError(f"header {header[:40]!r}: label {bad!r} is not a number", path=path)
        rows.append([float(f) for f in fields])
    if len({len(r) for r in rows}) != 1:
        raise K2PError("the headers' label= fields hold different numbers of labels", path=path)
    return checked_labels(rows, count, "the headers' labels", path), "label= in the FASTA headers"


def open_labels(labels, sequences=None, count=None):
    """The labels of the sequences, one row per sequence, in their order.

    Parameters
    ----------
    labels : None, False, str or array-like
        An array ``(N,)`` or ``(N, outputs)``; the name of a dataset in the sequences' HDF5
        file (``"y"``); a labels file of its own, a table keyed by FASTA record id or rows in
        order (:mod:`k2p_keras.io.labels`); None (FASTA: the headers' ``label=`` fields, when
        every record has one) to take the one dataset of :data:`LABEL_DATASETS` (``y``, then
        ``labels``) stored beside the sequences, when there is one of the right length; False
        for none.
    sequences : path or SequenceSource, optional
        Where the sequences are, for a dataset name or None.
    count : int, optional
        Sequences expected (checked against the labels).

    Returns
    -------
    tuple of (numpy.ndarray or None, str or None)
        float32 labels ``(N, k)`` and where they came from (``"y in data/seqs.h5"``,
        ``"<array>"``), or ``(None, None)``.

    Raises
    ------
    K2PError
        A named dataset that is absent or not an HDF5 file's, labels that are not numbers,
        not finite, not one row per sequence.
    """
    if labels is False:
        return None, None
    if labels is not None and not isinstance(labels, (str, os.PathLike)):
        return checked_labels(labels, count, "the labels", "<array>"), "<array>"
    path = getattr(sequences, "path", sequences)
    hdf5 = isinstance(path, (str, os.PathLike)) and os.path.isfile(path) and file_kind(path, EXPECTED) == "hdf5"
    if isinstance(sequences, FastaSequences):
        fasta = sequences
    elif not hdf5 and isinstance(path, (str, os.PathLike)) and os.path.isfile(path) and detect_format(path) == "fasta":
        fasta = FastaSequences(path)
    else:
        fasta = None
    if labels is not None and os.path.isfile(labels) and not (hdf5 and _holds_dataset(path, labels)):
        return read_labels_file(labels, None if fasta is None else fasta.record_names(), count)
    if not hdf5:
        if labels is None:
            return labels_from_headers(fasta.record_headers(), count, fasta.path) if fasta is not None else (None, None)
        raise K2PError(f"labels {labels!r} name an HDF5 dataset, but the sequences are not an HDF5 file",
                       path=path if isinstance(path, (str, os.PathLike)) else "<array>")
    check_answers(path, "hdf5", "the sequences file")
    with h5py.File(path, "r") as h5file, hdf5_damage(path):
        if labels is None:
            found = [name for name in LABEL_DATASETS if isinstance(h5file.get(name), h5py.Dataset)
                     and h5file[name].ndim in (1, 2) and (count is None or h5file[name].shape[0] == count)]
            if not found:
                return None, None
            labels = found[0]
        data = resolve_dataset(h5file, labels, path)
        return checked_labels(data[()], count, f"the labels {labels!r}", path), f"{labels} in {os.fspath(path)}"


def _holds_dataset(path, name):
    with h5py.File(path, "r") as h5file:
        return name in h5file


def labelled_batches(batches, labels):
    """Each batch with its sequences' labels: ``(x, y)`` pairs, ``y`` the next ``len(x)`` rows of ``labels``.

    Parameters
    ----------
    batches : iterable of numpy.ndarray (B, length, 4)
        In the order of the labels' rows, e.g. ``SequenceSource.iter_batches(size)``.
    labels : numpy.ndarray, shape (N, ...)

    Yields
    ------
    tuple of (numpy.ndarray, numpy.ndarray)

    Raises
    ------
    K2PError
        When the labels run out before the batches, or are left over after the last one.
    """
    offset = 0
    for x in batches:
        y = labels[offset:offset + len(x)]
        offset += len(x)
        if len(y) < len(x):
            raise K2PError(f"{len(labels)} labels for more sequences than that")
        yield x, y
    if offset != len(labels):
        raise K2PError(f"{len(labels)} labels for {offset} sequences")
