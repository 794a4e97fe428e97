"""TensorFlow, imported when a scan or a model first needs it, without its start-up lines.

No module of the package imports TensorFlow when it is itself imported: ``import
k2p_keras.scan`` changes nothing in the process. :func:`import_tensorflow` loads it on first
use. ``TF_CPP_MIN_LOG_LEVEL`` (default 2 here) and absl's verbosity silence what TensorFlow
logs once it runs, but TensorFlow 2.21's C++ libraries print their CUDA probe ("Could not
find cuda drivers", "failed call to cuInit") from static initialisers, before any setting is
read, even with ``TF_CPP_MIN_LOG_LEVEL=3``. So, while TensorFlow loads and lists its devices,
and only then, file descriptor 2 points at a temporary file; what was written there is
replayed if the import fails. When TensorFlow is already loaded (a notebook that built its
model with Keras, the callback during ``fit``) nothing at all is done.
"""
import contextlib
import os
import sys
import tempfile


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


def _stderr_is_fd_2():
    try:
        return sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def import_tensorflow():
    """Return the ``tensorflow`` module, importing it quietly the first time.

    Returns
    -------
    module
        ``tensorflow``, with its devices listed (a GPU is used when TensorFlow sees one).
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    guard = _stderr_captured() if _stderr_is_fd_2() else contextlib.nullcontext()
    with guard:
        import tensorflow as tf  # the one place TensorFlow is imported, on first use

        tf.config.list_physical_devices()
    from absl import logging as absl_logging  # TensorFlow's logger, loaded with it

    absl_logging.set_verbosity(absl_logging.ERROR)
    return tf
