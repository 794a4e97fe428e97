"""Whole text inputs and outputs: a path, or an open file (stdin, stdout); one-line errors."""
import os

from .atomic import atomic_open
from .errors import K2PError


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
        text = source.read()
    else:
        name = os.fspath(source)
        try:
            with open(name, "rb") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise K2PError("file not found", path=name) from None
        except IsADirectoryError:
            raise K2PError(f"is a folder, expected a file in {expected}", path=name) from None
        except OSError as err:
            raise K2PError(f"cannot read the file ({err.strerror})", path=name) from None
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
