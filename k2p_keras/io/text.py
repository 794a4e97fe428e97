"""Whole text inputs and outputs, and atomic writes: a reader never sees half a file.

Output goes to a temporary file in the destination's folder and is renamed over the
destination only when writing finished without an exception (``os.replace`` is atomic
on POSIX and Windows). On any error the temporary file is removed. Text comes from a path
or an open file (stdin, stdout); problems are one-line errors.
"""
import contextlib
import os
import tempfile

import numpy as np

from ..errors import K2PError
from ..validate import MAX_TEXT_BYTES


@contextlib.contextmanager
def atomic_path(path, suffix=".part"):
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    Use this for writers that want a file name (h5py, numpy). ``suffix`` ends the
    temporary name, for writers that go by the extension (Keras' ``model.save``).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=suffix, dir=folder)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Open a temporary file next to ``path`` for writing; rename it to ``path`` on success."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def read_text(source, expected):
    """Return ``(text, name)`` from a path or an open text (or binary) file.

    Parameters
    ----------
    source : str, os.PathLike or file object
    expected : str
        What the file should hold, for the error messages (e.g. ``"MEME format"``).
    """
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        name = name if isinstance(name, str) else "<stdin>"
        text = source.read(MAX_TEXT_BYTES + 1)
    else:
        name = os.fspath(source)
        try:
            with open(name, "rb") as handle:
                text = handle.read(MAX_TEXT_BYTES + 1)
        except FileNotFoundError:
            raise K2PError("file not found", path=name) from None
        except IsADirectoryError:
            raise K2PError(f"is a folder, expected a file in {expected}", path=name) from None
        except OSError as err:
            raise K2PError(f"cannot read the file ({err.strerror})", path=name) from None
    if len(text) > MAX_TEXT_BYTES:
        # Read no further (/dev/zero, a pipe without end): no matrix or motif file comes near it.
        raise K2PError(f"larger than {MAX_TEXT_BYTES:,} bytes, expected a file in {expected}", path=name)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise K2PError(f"not a text file (expected {expected})", path=name) from None
    return text, name


def write_text(dest, text):
    """Write ``text`` to an open file (stdout), or to a path atomically (never half a file)."""
    if hasattr(dest, "write"):
        dest.write(text)
        return
    try:
        with atomic_open(dest, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as err:
        raise K2PError(f"cannot write the file ({err.strerror})", path=os.fspath(dest)) from None


#: Significant digits of a summary's floats: what a float32 model's weights hold (about 7), so
#: no figure claims more than its source; ln b to 1e-6 and more, far under its standard error.
SUMMARY_DIGITS = 7


def format_summary(rows, columns, header=True):
    """Tab-separated text with a header line (unless ``header`` is False); floats to
    :data:`SUMMARY_DIGITS` significant digits."""
    def cell(value):
        if isinstance(value, float) or isinstance(value, np.floating):
            return f"{float(value):.{SUMMARY_DIGITS}g}"
        return str(value)

    lines = ["\t".join(columns)] if header else []
    lines += ["\t".join(cell(row[c]) for c in columns) for row in rows]
    return "\n".join(lines) + "\n" if lines else ""


def _summary_value(text):
    """A summary cell back as what :func:`format_summary` wrote: int, float (``nan`` too) or text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_summary(source):
    """Read a tab-separated summary written by :func:`format_summary` (``--summary``, the callback's).

    Parameters
    ----------
    source : str, os.PathLike or file object

    Returns
    -------
    (tuple of str, list of dict)
        The columns, and one dict per row; numbers come back as int or float, empty cells as "".

    Raises
    ------
    K2PError
        An empty file, or a row with another number of cells than the header.
    """
    text, name = read_text(source, "a tab-separated summary")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise K2PError("empty summary: expected a header line of tab-separated column names", path=name)
    columns = tuple(lines[0].split("\t"))
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(columns):
            raise K2PError(f"line {number} has {len(cells)} cells, the header {len(columns)}", path=name)
        rows.append({c: _summary_value(v) for c, v in zip(columns, cells)})
    return columns, rows
