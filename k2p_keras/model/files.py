"""Read a saved Keras model's architecture and weights without running anything from it.

Supported files (docs/models-in-the-wild.md lists them with real examples):

- legacy HDF5 ``.h5`` written by Keras 1, Keras 2, tf.keras or Keras 3 (root attribute
  ``model_config``; weights under ``model_weights/<layer>`` in the order of the attribute
  ``weight_names``);
- Keras 3 ``.keras`` zips (``config.json`` and ``model.weights.h5``, whose ``<path>/vars/<i>``
  groups are mapped back to layer names), and their unzipped folders;
- an architecture JSON (``model.to_json()`` of Keras 1, 2 or 3) with the weights file that
  ``save_weights`` wrote for it: a legacy weights-only ``.h5`` (root attribute ``layer_names``,
  one group per layer) or a Keras 3 ``.weights.h5``.

Only :mod:`zipfile`, :mod:`json` and :mod:`h5py` touch the file. Loading a model with Keras
would run code from it (Lambda bytecode, imported modules), so nothing is unmarshalled,
unpickled, imported or executed; custom and Lambda layers stay plain config dicts.
"""

import contextlib
import json
import os
import zipfile

import h5py

from ..errors import K2PError
from ..io.formats import file_kind, require_regular_file
from ..io.guard import check_answers
from .keras3 import is_keras_folder, KerasH5Reader, read_keras_folder, read_keras_zip
from .legacy_h5 import LegacyH5Reader, read_h5_model, theano_kernels
from .model_file import (check_hdf5_safe, decode, first_line, has_split_attr, JSON_WITHOUT_WEIGHTS, KERAS0,
                         MAX_CONFIG_BYTES, ModelFile, open_h5, parse_config, SEEKING, str_or_none)


def read_model(path, weights=None):
    """Read a Keras model file's config and prepare access to its weights.

    Parameters
    ----------
    path : str or os.PathLike
        A legacy ``.h5`` model file, a Keras 3 ``.keras`` zip, a Keras 3 model folder
        (``model.save(path, zipped=False)``: the zip's members as files), or an
        architecture JSON (``model.to_json()``) when ``weights`` is given.
    weights : str or os.PathLike, optional
        The weights of an architecture JSON: the file ``save_weights`` wrote (a legacy
        weights-only ``.h5``, or Keras 3's ``.weights.h5``).

    Returns
    -------
    ModelFile
        Nothing from the file is executed; weights are read when asked for.

    Raises
    ------
    K2PError
        For a missing, truncated or corrupt file, a file that is not a Keras model, a
        weights-only file given alone, a JSON given without its weights, a Keras 0.x file,
        HDF5 links or virtual datasets, or zip members that would inflate beyond sane sizes.
    """
    path = os.fspath(path)
    require_regular_file(path, "the model", SEEKING)
    if weights is not None:
        require_regular_file(weights, "the weights file", SEEKING)
        return _read_json_and_weights(path, os.fspath(weights))
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        raise K2PError("a TensorFlow SavedModel directory cannot be read without running "
                       "it; save the model with model.save('model.keras')", path=path)
    if is_keras_folder(path):
        return read_keras_folder(path)
    if os.path.isdir(path):
        raise K2PError("a directory without config.json: not a Keras model folder "
                       "(model.save(path, zipped=False))", path=path)
    kind = file_kind(path, "a Keras model file (.h5 or .keras)")
    if kind == "hdf5":
        return read_h5_model(path)
    if kind == "zip":
        return read_keras_zip(path)
    if kind == "text" and _starts_like_json(path):
        raise K2PError(JSON_WITHOUT_WEIGHTS, path=path)
    raise K2PError("not a Keras model file (neither HDF5 nor a .keras zip, nor an architecture "
                   "JSON given with --weights)", path=path)


def is_keras_model_file(path):
    """Tell whether ``path`` holds a Keras model or its weights (``.keras``, ``.h5``, a folder).

    For the k2p-1.0 tools, which read kernel matrices and would otherwise report a Keras
    file as a malformed matrix. Looks at the container only; reads no weights.
    """
    path = os.fspath(path)
    if is_keras_folder(path):
        return True
    if not os.path.isfile(path):
        return False
    kind = file_kind(path, "a model file")
    if kind == "zip":
        check_answers(path, "zip", "the .keras zip")
        with contextlib.suppress(zipfile.BadZipFile, OSError):
            with zipfile.ZipFile(path) as archive:
                return "config.json" in archive.namelist()
        return False
    if kind != "hdf5":
        return False
    check_answers(path, "hdf5", "the HDF5 file")
    try:
        with h5py.File(path, "r") as h5:
            return ("model_config" in h5.attrs or has_split_attr(h5.attrs, "layer_names")
                    or any(k in h5 for k in ("model_weights", "layers", "vars", "_layer_checkpoint_dependencies")))
    except (OSError, RuntimeError, KeyError, TypeError, ValueError):
        # A damaged file: not recognisably a model; the reader that follows says what is wrong.
        return False


# ---------------------------------------------------------------------------------------
# An architecture JSON with its weights apart: model.to_json() + model.save_weights(...)

def _starts_like_json(path):
    """A text file whose first non-blank byte opens a JSON object."""
    with open(path, "rb") as handle:
        return handle.read(4096).lstrip()[:1] == b"{"


def _read_json_and_weights(path, weights_path):
    if os.path.isdir(path) or file_kind(path, "an architecture JSON (model.to_json())") != "text" \
            or not _starts_like_json(path):
        raise K2PError("--weights (weights=) is for an architecture JSON (model.to_json()) given as the "
                       "model; a whole model file holds its own weights: give it alone", path=path)
    if os.path.getsize(path) > MAX_CONFIG_BYTES:
        raise K2PError(f"the architecture JSON is larger than {MAX_CONFIG_BYTES} bytes", path=path)
    with open(path, "rb") as handle:
        config = parse_config(handle.read(), path, "the architecture JSON")
    if file_kind(weights_path, "a weights file (save_weights: .h5)") != "hdf5":
        raise K2PError("expected an HDF5 weights file (what save_weights wrote, .h5 or .weights.h5)",
                       path=weights_path)
    with open_h5(weights_path, weights_path) as h5:
        try:
            attrs = h5.attrs
            if "model_config" in attrs:
                raise K2PError("a whole model file, not a weights-only file: give it as the model, "
                               "alone", path=weights_path)
            if "nb_layers" in attrs:
                raise K2PError(KERAS0, path=weights_path)
            legacy = has_split_attr(attrs, "layer_names")
            if not legacy and not any(k in h5 for k in ("layers", "vars", "_layer_checkpoint_dependencies")):
                raise K2PError("HDF5 file without Keras weights (no layer_names attribute, no layers "
                               "group); expected what save_weights wrote", path=weights_path)
            check_hdf5_safe(h5, weights_path)
            # Keras 1 weights files say nothing of their version or backend: the JSON does.
            version = decode(config.get("keras_version", attrs.get("keras_version")))
            backend = decode(config.get("backend", attrs.get("backend")))
            flipped = legacy and theano_kernels(backend, version, h5)
        except (OSError, RuntimeError, KeyError, UnicodeDecodeError, TypeError) as exc:
            raise K2PError(f"truncated or corrupt HDF5 file ({first_line(exc)})",
                           path=weights_path) from exc
    reader = (LegacyH5Reader(weights_path, config, root=None) if legacy
              else KerasH5Reader(weights_path, config, weights_path))
    return ModelFile(path=path, format="json", keras_version=str_or_none(version),
                     backend=str_or_none(backend), config=config, kernel_flipped=bool(flipped),
                     weights_path=weights_path, _reader=reader)


def write_whole_model(model_file, folder):
    """Write the whole model file an architecture JSON and its weights stand for, for Keras to load.

    A legacy ``.h5`` (``model_config`` + ``model_weights``, the weights file's groups copied)
    or a Keras 3 ``.keras`` zip (``config.json`` + ``model.weights.h5``): what ``model.save``
    would have written. Only the JSON text and HDF5 groups are copied; nothing is run.

    Parameters
    ----------
    model_file : ModelFile
        From :func:`read_model` with ``weights``.
    folder : str
        Where to write it (a temporary folder).

    Returns
    -------
    str
        The file written.
    """
    with open(model_file.path, "rb") as handle:
        text = handle.read().decode("utf-8")
    if isinstance(model_file._reader, LegacyH5Reader):
        path = os.path.join(folder, "model.h5")
        with h5py.File(path, "w") as whole, h5py.File(model_file.weights_path, "r") as weights:
            whole.attrs["model_config"] = text
            for key in ("keras_version", "backend"):
                value = getattr(model_file, key)
                if value is not None:
                    whole.attrs[key] = value
            group = whole.create_group("model_weights")
            for key, value in weights.attrs.items():
                group.attrs[key] = value
            for key in weights:
                weights.copy(weights[key], group, name=key)
        return path
    path = os.path.join(folder, "model.keras")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", text)
        archive.writestr("metadata.json", json.dumps({"keras_version": model_file.keras_version or ""}))
        archive.write(model_file.weights_path, "model.weights.h5")
    return path
