"""numba, imported with its on-disk cache in a per-user folder, and what that cache holds.

numba's ``@njit(cache=True)`` writes its compiled kernels beside the module's source (its
``__pycache__``) when that folder is writable. In site-packages those files outlive
``pip uninstall``: the folder ``k2p_keras/scan/__pycache__`` left behind then makes
``k2p_keras`` an empty namespace package that shadows a later editable install (``ImportError:
cannot import name '__version__' from 'k2p_keras' (unknown location)``). So the package's
kernels, and memelite's (imported after :func:`import_numba`), are cached in
``$XDG_CACHE_HOME/k2p-keras/numba`` (``~/.cache/k2p-keras/numba`` by default), unless the user
chose a folder with ``NUMBA_CACHE_DIR``. numba picks a function's cache folder when the
function is decorated, so the folder is set before the modules holding kernels are imported;
numba files each source folder's kernels under its own subfolder (named after the folder and a
hash of its path), so two installs never share a cache.
"""
import os


def numba_cache_folder(environ=None):
    """The folder numba's compiled kernels are cached in: ``NUMBA_CACHE_DIR`` when set, else
    ``$XDG_CACHE_HOME/k2p-keras/numba`` (``~/.cache/k2p-keras/numba`` without XDG_CACHE_HOME)."""
    environ = os.environ if environ is None else environ
    if environ.get("NUMBA_CACHE_DIR"):
        return environ["NUMBA_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "k2p-keras", "numba")


def import_numba():
    """Return ``numba`` with its cache folder set (:func:`numba_cache_folder`), or None without numba.

    Call it before a module decorates kernels with ``cache=True``. Kernels decorated later in
    this process (a notebook's own) are cached in the same folder, each source folder apart.
    """
    try:
        import numba  # the one place numba is imported: with the first scan, not with the package
    except ImportError:
        return None
    if not numba.config.CACHE_DIR:  # NUMBA_CACHE_DIR unset (numba reads it when imported)
        numba.config.CACHE_DIR = numba_cache_folder()
    return numba


def parallel_launches_from_threads_safe():
    """Whether two threads may run numba's parallel kernels at once: numba's threading layer is
    OpenMP or TBB. Its own ``workqueue`` layer (where neither is installed, as with pip on macOS)
    aborts the process ("not threadsafe ... concurrent access"). None before a parallel kernel
    has run in this process (numba chooses its layer then) or without numba."""
    numba = import_numba()
    try:
        return None if numba is None else numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet
        return None


def compiled_on_disk(*kernels, signature=None):
    """Whether every kernel (an ``njit(cache=True)`` function) has a compiled version cached for
    its current source; None when numba's cache cannot say (a numba without these internals).
    ``signature``: a test of a cached version's argument types (a tuple of numba types), for a
    kernel compiled once per kind of argument: only a version that passes counts.

    False means the next call compiles it: seconds to minutes, once per install and machine.
    """
    try:
        # numba has no public call for it: the cache index (empty when missing or stale) is read,
        # its keys ((argument types), target, ...).
        return all(any(signature is None or signature(key[0]) for key in kernel._cache._cache_file._load_index())
                   for kernel in kernels)
    except Exception:  # noqa: BLE001 - numba's internals moved: say nothing rather than fail
        return None
