"""What a file is, from its first bytes: the one place that recognises file types.

Model files, sequence files and matrix files are told apart by content, never by name:
a ``.h5`` may hold a model or sequences, a FASTA file may be called ``seqs.txt``.
:func:`file_kind` answers for all three readers (``model.files``, ``io.sequences``,
``matrices``); each reader then decides what the kinds it accepts mean.
"""
import os
import stat
import zipfile

import h5py

from ..errors import K2PError

KINDS = ("hdf5", "zip", "npy", "gzip", "text", "empty")

_SIGNATURES = (
    ("hdf5", (b"\x89HDF\r\n\x1a\n",)),
    # A local file header, or the end record of an empty archive.
    ("zip", (b"PK\x03\x04", b"PK\x05\x06")),
    ("npy", (b"\x93NUMPY",)),
    ("gzip", (b"\x1f\x8b",)),
)


def file_kind(path, expected):
    """Say what a file is: ``"hdf5"``, ``"zip"``, ``"npy"``, ``"gzip"``, ``"text"`` or ``"empty"``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    expected : str
        What the caller wants, for the error message, e.g.
        ``"a Keras model file (.h5 or .keras)"``.

    Returns
    -------
    str
        One of :data:`KINDS`. ``"text"`` means none of the binary signatures (the caller
        looks further); an HDF5 file with a user block before its signature and a zip
        archive with data before its first member are recognised too.

    Raises
    ------
    K2PError
        When the path does not exist, is a directory or cannot be read.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise K2PError(f"is a directory, expected {expected}", path=path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise K2PError(f"file not found, expected {expected}", path=path) from None
    except OSError as err:
        raise K2PError(f"cannot read the file ({err.strerror}), expected {expected}", path=path) from None
    kind = head_kind(head)
    if kind != "text":
        return kind
    # h5py finds a superblock after a user block; zipfile reads the archive's end record.
    if h5py.is_hdf5(path):
        return "hdf5"
    if zipfile.is_zipfile(path):
        return "zip"
    return "text"


def head_kind(head):
    """What a file's first bytes say, by the signatures alone: one of :data:`KINDS` (a stream's
    head cannot be read twice, nor searched for a user block)."""
    if not head:
        return "empty"
    for kind, signatures in _SIGNATURES:
        if head.startswith(signatures):
            return kind
    return "text"


def stream_type(path):
    """``None`` for a regular file, a folder or a path that does not exist; otherwise what the
    path is, in words: ``"a pipe"`` (a FIFO, ``<(...)``, ``/dev/stdin``), ``"a device"``
    (``/dev/zero``), ``"a socket"``. Such a file can be read once, front to back, and never sought in."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def require_regular_file(path, what, reason):
    """Refuse a path that is a pipe, a device or a socket, before anything opens it (opening a
    FIFO without a writer would wait forever): ``"{path}: {what} must be a regular file: {reason}"``."""
    kind = stream_type(path)
    if kind is not None:
        raise K2PError(f"{what} must be a regular file, not {kind}: {reason}", path=os.fspath(path))
