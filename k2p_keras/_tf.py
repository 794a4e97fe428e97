"""Import TensorFlow once, without the C++ start-up chatter on stderr.

TensorFlow 2.21 logs oneDNN and CUDA-probe lines through absl before
``TF_CPP_MIN_LOG_LEVEL`` is honoured, so file descriptor 2 is pointed at a temporary file
while TensorFlow loads and enumerates its devices; what it wrote is replayed only if the
import fails.
"""
import contextlib
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _stderr_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield sink
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Return the ``tensorflow`` module, imported and with its devices listed, quietly."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        stderr_fd_ok = sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        stderr_fd_ok = False
    guard = _stderr_captured() if stderr_fd_ok else contextlib.nullcontext()
    with guard:
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf
