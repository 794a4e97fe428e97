"""Untrusted HDF5 files and ``.keras`` zips are first opened by a child process, with a time limit.

libhdf5 is C: on a damaged file it can spin for good (once over 10 minutes in
``H5HG__cache_heap_deserialize``, docs/fuzzing.md) or crash, and no Python signal handler runs
until it returns. So before the main process opens such a file, a child walks it
(:mod:`.hdf5_probe`: every link, header, attribute, small dataset, large datasets' ends). A child
that does not finish within the time limit is killed and the file named in one line; one that
crashes names the signal; in both cases the main process never opens the file. A child that
finishes lets the readers go on, with their own one-line errors for a file that raises.

The child is a fork of this process when it can be (a few milliseconds: h5py is imported
already, and h5py takes its lock around fork), or a fresh interpreter that imports only h5py
(when TensorFlow's threads are running, or without ``os.fork``). A file passed is remembered
(by device, inode, size and modification time): a file read on every pass or every epoch is
walked once per process. docs/fuzzing.md has the cost.
"""
import contextlib
import faulthandler
import os
import select
import signal
import subprocess
import sys

from ..errors import K2PError
from . import hdf5_probe

#: Seconds a child may take to walk one file, unless set otherwise (``open_timeout``, ``--open-timeout``).
DEFAULT_OPEN_TIMEOUT = 60.0

_state = {"timeout": DEFAULT_OPEN_TIMEOUT}
_passed = set()
_refused = {}  # (identity, kind) -> the problem, said again at once if the file is asked for again


@contextlib.contextmanager
def open_timeout(seconds):
    """Within this block, a child may take ``seconds`` to walk a file (None: the current limit)."""
    before = _state["timeout"]
    if seconds is not None:
        _state["timeout"] = float(seconds)
    try:
        yield
    finally:
        _state["timeout"] = before


def current_timeout():
    return _state["timeout"]


def _identity(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _fork_safe():
    """Fork unless TensorFlow runs threads that might hold locks the child would need."""
    return hasattr(os, "fork") and "tensorflow" not in sys.modules


def _walk_forked(path, kind, timeout):
    """``(finished, exit status)`` of a forked child walking the file."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: walk, then leave without running the parent's exit handlers
        status = 0
        try:
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            faulthandler.disable()  # a crash is the parent's to tell, in its one line
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            hdf5_probe.walk(path, kind)
        except BaseException:  # noqa: BLE001 (any failure: the exit status says so)
            status = 3
        finally:
            os._exit(status)
    os.close(write_end)
    finished = False
    try:
        # The child holds the pipe's write end until it exits: end of file means it is done.
        finished = bool(select.select([read_end], [], [], timeout)[0])
    finally:  # on time, or interrupted (Ctrl-C): no child is left behind
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(read_end)
    return finished, status


def _walk_spawned(path, kind, timeout):
    """``(finished, exit status)`` of a fresh interpreter walking the file (it imports only h5py)."""
    child = subprocess.Popen([sys.executable, hdf5_probe.__file__, os.fspath(path), kind],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child.wait(timeout)
    except BaseException as err:  # on time, or interrupted (Ctrl-C): no child is left behind
        child.kill()
        child.wait()
        if not isinstance(err, subprocess.TimeoutExpired):
            raise
        return False, 0
    code = child.returncode
    return True, ((-code) & 0x7F if code < 0 else code << 8)


def check_answers(path, kind, what="the file", shown=None):
    """Walk ``path`` (``kind``: ``"hdf5"`` or ``"zip"``) in a child process first; raise
    :class:`~k2p_keras.errors.K2PError` naming ``shown`` (default ``path``) when the child did not
    finish within the time limit or crashed. ``what`` names the file in the message."""
    identity = _identity(path)
    name = os.fspath(shown if shown is not None else path)
    if identity is not None and (identity, kind) in _passed:
        return
    if identity is not None and (identity, kind) in _refused:
        raise K2PError(_refused[identity, kind], path=name)
    try:
        _walk(path, kind, what)
    except K2PError as err:
        if identity is not None:
            _refused[identity, kind] = err.message
        raise K2PError(err.message, path=name) from None
    if identity is not None:
        _passed.add((identity, kind))


def _walk(path, kind, what):
    timeout = _state["timeout"]
    finished, status = (_walk_forked if _fork_safe() else _walk_spawned)(path, kind, timeout)
    if not finished:
        raise K2PError(f"{what} did not answer within {timeout:g} s: libhdf5 was still reading it (a damaged "
                       f"file?); it was not opened. Give more time with --open-timeout (open_timeout=)")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        raise K2PError(f"reading {what} crashed libhdf5 ({signal.Signals(number).name}) in a child process: a "
                       f"damaged file; it was not opened")
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
        raise K2PError(f"{what} could not be walked in a child process (exit status {os.WEXITSTATUS(status)}); "
                       f"it was not opened")
