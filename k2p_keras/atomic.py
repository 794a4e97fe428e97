"""Write files so that a reader never sees half of one.

Output goes to a temporary file in the destination's folder and is renamed over the
destination only when writing finished without an exception (``os.replace`` is atomic
on POSIX and Windows). On any error the temporary file is removed.
"""
import contextlib
import os
import tempfile


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
