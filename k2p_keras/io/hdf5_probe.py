"""The walk a child process makes through an untrusted HDF5 file or ``.keras`` zip (:mod:`.guard`).

It touches what the readers will touch, and more: every link, every object's header and
attributes, every dataset's shape and type, small datasets whole and the first and last row of
large ones. A damaged file on which libhdf5 spins or crashes does so here, in a child that can
be killed, before the main process opens it. Errors are caught and the walk goes on: a file that
raises is the readers' to report (in one line), only a file that does not answer is the guard's.

Imports only h5py and the standard library: the guard may run this file as a script in a fresh
interpreter (``python hdf5_probe.py PATH KIND``), where importing k2p-keras would cost more
than the walk. Keep it so.
"""
import io
import sys
import zipfile

import h5py

# Datasets up to this size are read whole (a model's weights); larger ones (sequences) by their
# first and last rows, which reach the chunk index at both ends.
SMALL_DATASET_BYTES = 64 * 1024 ** 2
# A compressed model.weights.h5 is inflated for the walk only within the readers' own limits
# (model.keras3.MAX_MEMBER_BYTES, validate.MAX_COMPRESSION_RATIO); past them the reader refuses it unread.
MAX_MEMBER_BYTES = 4 * 1024 ** 3
MAX_COMPRESSION_RATIO = 200


def _quietly(action, *args):
    try:
        return action(*args)
    except Exception:  # noqa: BLE001 (a damaged file raises anything; the readers say what)
        return None


def _touch(name, item):
    for key in _quietly(list, item.attrs) or ():
        _quietly(item.attrs.__getitem__, key)
    if isinstance(item, h5py.Group):
        for key in _quietly(list, item) or ():
            _quietly(item.get, key, None, False, True)  # the link itself, not followed
    elif isinstance(item, h5py.Dataset):
        shape = _quietly(lambda: item.shape)
        size = _quietly(lambda: item.size * item.dtype.itemsize)
        if shape is None or size is None:
            return
        if size <= SMALL_DATASET_BYTES:
            _quietly(item.__getitem__, ())
        elif shape and shape[0]:
            _quietly(item.__getitem__, 0)
            _quietly(item.__getitem__, shape[0] - 1)


def walk_hdf5(source):
    """Open ``source`` (a path or a file object) with h5py and touch everything in it."""
    handle = _quietly(h5py.File, source, "r")
    if handle is None:
        return
    with handle:
        _touch("/", handle)
        _quietly(handle.visititems, _touch)


def walk_keras_zip(path):
    """Open a ``.keras`` zip, read its member list and walk its ``model.weights.h5``."""
    archive = _quietly(zipfile.ZipFile, path)
    if archive is None:
        return
    with archive:
        info = _quietly(archive.getinfo, "model.weights.h5")
        if info is None:
            return
        if info.compress_type == zipfile.ZIP_STORED:
            member = _quietly(archive.open, info)
            if member is not None:
                with member:
                    walk_hdf5(member)
            return
        if info.file_size > min(MAX_MEMBER_BYTES, MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
            return
        data = _quietly(lambda: archive.read(info))
        if data is not None:
            walk_hdf5(io.BytesIO(data))


def walk(path, kind):
    """``kind``: ``"hdf5"`` or ``"zip"`` (a ``.keras`` model)."""
    (walk_keras_zip if kind == "zip" else walk_hdf5)(path)


if __name__ == "__main__":
    walk(sys.argv[1], sys.argv[2])
