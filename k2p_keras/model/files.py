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
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Callable

import h5py
import numpy as np

from ..errors import K2PError
from ..io.formats import file_kind, require_regular_file
from ..io.guard import check_answers
from ..io.matrices import read_numeric_dataset
from ..validate import check_declared_size, check_json_depth
from .config import (entry_config, entry_name, is_conv1d, is_functional, is_model_entry, iter_layers,
    model_layers)
from .conv2d import is_conv2d

# Limits against zip bombs: no genomics CNN comes near them (the compression ratio is
# validate.MAX_COMPRESSION_RATIO, shared with HDF5 datasets).
MAX_MEMBER_BYTES = 4 * 1024 ** 3
MAX_CONFIG_BYTES = 256 * 1024 ** 2
_MAX_HDF5_DEPTH = 64
# Why a model cannot come through a pipe (checked before anything opens it: a FIFO without a
# writer would block the open forever, /dev/zero would be read without end).
SEEKING = "HDF5 and .keras zips are read by seeking in them, which a pipe or a device cannot do; save it to a file"

KERAS0 = ("Keras 0.x file (attribute nb_layers): its layers are numbered, not named, and its "
          "architecture was saved apart in a format Keras 1 changed, so the weights cannot be matched to "
          "layers; load it with Keras 0.x and save it again with Keras 1 or later (model.save(...))")
WEIGHTS_ONLY = ("weights-only file (save_weights: no architecture): give its architecture JSON "
                "(model.to_json()) as MODEL and this file as --weights (weights= in Python), "
                "or save the whole model with model.save(...)")
JSON_WITHOUT_WEIGHTS = ("an architecture JSON (model.to_json()) holds no weights: give the file "
                        "save_weights wrote for it too (--weights FILE.h5; weights= in Python)")


@dataclass
class ModelFile:
    """A model file's architecture (config dicts) and a way to read its weights.

    Attributes
    ----------
    path : str
        The file that was read.
    format : str
        ``"h5"`` (legacy HDF5) or ``"keras"`` (Keras 3 zip).
    keras_version : str or None
        The Keras version that wrote the file, when it says.
    backend : str or None
        The backend that wrote the file (``"tensorflow"``, ``"theano"``, ...), when it says.
    config : dict
        The top-level model config as stored, ``{"class_name": ..., "config": ...}``.
    kernel_flipped : bool
        True when the file came from Theano, whose true convolution stored kernels reversed
        along their length; :meth:`weights` then returns them reversed back.
    weights_path : str or None
        The weights file, when the architecture is a JSON file with its weights apart
        (``format`` ``"json"``).
    """

    path: str
    format: str
    keras_version: str | None
    backend: str | None
    config: dict
    kernel_flipped: bool = False
    weights_path: str | None = None
    # (layer name, scope) -> the layer's weight arrays, or None when the file stores none for it.
    _reader: Callable[[str, str], list[np.ndarray] | None] | None = field(default=None, repr=False, compare=False)

    def layer_entries(self):
        """Return ``{layer name: (scope, entry)}`` for every layer, nested ones included."""
        return {entry_name(entry): (scope, entry) for scope, entry in iter_layers(self.config)}

    def weights(self, layer_name):
        """Return one layer's weights, in Keras order, as float64 arrays.

        Parameters
        ----------
        layer_name : str
            The layer's name, at any nesting depth (names are unique in a Keras model).

        Returns
        -------
        list of numpy.ndarray
            E.g. ``[kernel, bias]`` for Conv1D (kernel ``(k, in, F)``, cross-correlation
            orientation) or ``[gamma, beta, moving_mean, moving_variance]`` for
            BatchNormalization (without gamma / beta when ``scale`` / ``center`` is False).
            Layers without weights give an empty list. (For a nested model itself, a
            legacy ``.h5`` gives all its layers' weights, a ``.keras`` none: ask for the
            inner layers instead.)

        Raises
        ------
        K2PError
            When the layer does not exist or the file holds no weights for it.
        """
        entries = self.layer_entries()
        if not isinstance(layer_name, str):
            raise K2PError(f"a layer's name in the config is {layer_name!r}, expected text", path=self.path)
        if layer_name not in entries:
            known = ", ".join(repr(name) for name in entries)
            raise K2PError(f"no layer named {layer_name!r} in the model (layers: {known})",
                           path=self.path)
        scope, entry = entries[layer_name]
        arrays = self._reader(layer_name, scope)
        if arrays is None and _is_weightless(entry):
            arrays = []
        if arrays is None:
            raise K2PError(f"the file stores no weights for layer {layer_name!r} "
                           f"({entry.get('class_name')})", path=self.path)
        arrays = [np.array(array, dtype=np.float64) for array in arrays]
        # Keras 1 layouts and the Theano flip are undone for a convolution's kernel, so that
        # callers always get (k, in, F) / (height, width, in, F) cross-correlation kernels.
        if arrays and is_conv1d(entry):
            arrays[0] = self._conv_kernel(layer_name, arrays[0])
        elif arrays and is_conv2d(entry):
            arrays[0] = self._conv2d_kernel(entry, layer_name, arrays[0])
        return arrays

    def _conv_kernel(self, layer_name, kernel):
        """Bring a stored Conv1D kernel to ``(k, in, F)`` cross-correlation orientation."""
        if kernel.ndim == 4:
            # Keras 1 built Conv1D on a 2-D convolution: W is (k, 1, in, F) from 1.1 on,
            # (F, in, k, 1) in 1.0.x.
            if kernel.shape[1] == 1:
                kernel = kernel[:, 0]
            elif kernel.shape[3] == 1:
                kernel = kernel.transpose(2, 3, 1, 0)[:, 0]
        if kernel.ndim != 3:
            raise K2PError(f"Conv1D {layer_name!r} has a kernel of shape {kernel.shape}, "
                           "expected (length, channels, filters)", path=self.path)
        return np.ascontiguousarray(kernel[::-1]) if self.kernel_flipped else kernel

    def _conv2d_kernel(self, entry, layer_name, kernel):
        """Bring a stored Conv2D kernel to ``(height, width, in, F)`` cross-correlation orientation.

        Keras 1 stored ``(F, in, height, width)`` with ``dim_ordering='th'``. Theano's conv2d
        is a true convolution, so its kernels are flipped along both spatial axes (for a
        kernel spanning the four bases, the bases too). Keras 1 files name the ordering:
        ``'tf'`` kernels are TensorFlow's, unflipped, even in files written from Theano
        without ``:0`` in their weight names (Keras 1's ``convert_kernel`` workflow; the
        DeepLIFT files in docs/models-in-the-wild.md); ``'th'`` kernels are flipped when the
        file came from Theano. Keras 2 files say their backend.
        """
        if kernel.ndim != 4:
            raise K2PError(f"Conv2D {layer_name!r} has a kernel of shape {kernel.shape}, expected "
                           "(height, width, channels, filters)", path=self.path)
        ordering = str(entry_config(entry).get("dim_ordering") or "").lower()
        if ordering == "th":
            kernel = kernel.transpose(2, 3, 1, 0)
        if self.kernel_flipped and ordering != "tf":
            kernel = kernel[::-1, ::-1]
        return np.ascontiguousarray(kernel)


def _is_weightless(entry):
    """Input layers and Keras ops never own weights; files may leave them out entirely."""
    return (entry.get("class_name") == "InputLayer"
            or str(entry.get("module") or "").startswith("keras.src.ops"))


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
        return _read_keras_folder(path)
    if os.path.isdir(path):
        raise K2PError("a directory without config.json: not a Keras model folder "
                       "(model.save(path, zipped=False))", path=path)
    kind = file_kind(path, "a Keras model file (.h5 or .keras)")
    if kind == "hdf5":
        return _read_h5_model(path)
    if kind == "zip":
        return _read_keras_zip(path)
    if kind == "text" and _starts_like_json(path):
        raise K2PError(JSON_WITHOUT_WEIGHTS, path=path)
    raise K2PError("not a Keras model file (neither HDF5 nor a .keras zip, nor an architecture "
                   "JSON given with --weights)", path=path)


# ---------------------------------------------------------------------------------------
# Small HDF5 helpers

def _decode(value):
    """HDF5 attributes come back as bytes, str, numpy scalars or arrays of them."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _decode(value.item())
        return [_decode(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return _decode(value.item())
    return value


def _split_attr(attrs, name):
    """Read a list attribute that Keras may have split into ``name0``, ``name1``, ..."""
    if name in attrs:
        values = _decode(attrs[name])
        return [str(v) for v in values] if isinstance(values, list) else [str(values)]
    values, chunk = [], 0
    while f"{name}{chunk}" in attrs:
        values.extend(str(v) for v in _decode(attrs[f"{name}{chunk}"]))
        chunk += 1
    return values


def _has_split_attr(attrs, name):
    return name in attrs or f"{name}0" in attrs


def _check_hdf5_safe(group, path, depth=0, seen=None):
    """Refuse links to other files or places and virtual or external datasets.

    Following them would let a model file read arbitrary files on this machine.
    """
    seen = set() if seen is None else seen
    if depth > _MAX_HDF5_DEPTH:
        raise K2PError(f"HDF5 groups nested deeper than {_MAX_HDF5_DEPTH} levels; refusing "
                       "a file that looks crafted", path=path)
    for key in group.keys():
        link = group.get(key, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise K2PError(f"HDF5 external link {group.name}/{key} -> {link.filename}: "
                           "refusing to follow links out of the model file", path=path)
        if not isinstance(link, h5py.HardLink):
            raise K2PError(f"HDF5 soft or user-defined link {group.name}/{key}: refusing "
                           "to follow links inside a model file", path=path)
        item = group[key]
        if isinstance(item, h5py.Dataset):
            if item.is_virtual or item.external:
                raise K2PError(f"HDF5 dataset {item.name} is virtual or stored in external "
                               "files: refusing to read data from outside the model file",
                               path=path)
        elif isinstance(item, h5py.Group):
            if item.id in seen:
                continue
            seen.add(item.id)
            _check_hdf5_safe(item, path, depth + 1, seen)


def _open_h5(source, path, what="HDF5 file"):
    if isinstance(source, (str, os.PathLike)):
        check_answers(source, "hdf5", what if what.startswith("the ") else f"the {what}", shown=source)
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise K2PError(f"truncated or corrupt {what} ({_first_line(exc)})", path=path) from exc


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _parse_config(value, path, where):
    """The model config from an attribute or a zip member: UTF-8 JSON text, nested sanely."""
    if isinstance(value, np.void):
        value = value.tobytes()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bytes, np.bytes_)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise K2PError(f"{where} is not UTF-8 text, expected a JSON model config", path=path) from None
    if not isinstance(value, str):
        raise K2PError(f"{where} holds {type(value).__name__} data, expected a JSON model config (text)",
                       path=path)
    check_json_depth(value, where, path=path)
    try:
        config = json.loads(value)
    except ValueError as exc:
        raise K2PError(f"corrupt model config in {where} (invalid JSON: {_first_line(exc)})",
                       path=path) from exc
    if not isinstance(config, dict) or "config" not in config or "class_name" not in config:
        raise K2PError(f"{where} is not a Keras model config (expected a dict with "
                       "'class_name' and 'config')", path=path)
    return config


# ---------------------------------------------------------------------------------------
# Legacy HDF5

def _read_h5_model(path):
    with _open_h5(path, path) as h5:
        try:
            attrs = h5.attrs
            if "nb_layers" in attrs:
                raise K2PError(KERAS0, path=path)
            if "model_config" not in attrs:
                if (_has_split_attr(attrs, "layer_names")
                        or any(k in h5 for k in ("layers", "vars",
                                                  "_layer_checkpoint_dependencies"))):
                    raise K2PError(WEIGHTS_ONLY, path=path)
                raise K2PError("HDF5 file without a Keras model (no model_config attribute)",
                               path=path)
            _check_hdf5_safe(h5, path)
            config = _parse_config(attrs["model_config"], path, "model_config")
            weights_group = h5.get("model_weights")
            group_attrs = weights_group.attrs if weights_group is not None else {}
            version = _decode(attrs.get("keras_version", group_attrs.get("keras_version")))
            backend = _decode(attrs.get("backend", group_attrs.get("backend")))
            flipped = _theano_kernels(backend, version, weights_group)
        except (OSError, RuntimeError, KeyError, UnicodeDecodeError, TypeError) as exc:
            raise K2PError(f"truncated or corrupt HDF5 file ({_first_line(exc)})",
                           path=path) from exc
    reader = _LegacyH5Reader(path, config)
    return ModelFile(path=path, format="h5", keras_version=_str_or_none(version),
                     backend=_str_or_none(backend), config=config, kernel_flipped=flipped,
                     _reader=reader)


def _str_or_none(value):
    return None if value is None else str(value)


def _theano_kernels(backend, version, weights_group):
    """Tell whether stored conv kernels are Theano's (reversed along their length).

    Keras 2 writes ``backend``; Keras 1 does not, but TensorFlow variable names always end
    in ``:0`` and Theano's never do.
    """
    if backend is not None:
        return str(backend).lower() == "theano"
    if version is not None and not str(version).startswith("1"):
        return False
    if weights_group is None:
        return False
    names = [name for key in weights_group
             if isinstance(weights_group.get(key, getlink=True), h5py.HardLink)
             for name in _split_attr(weights_group[key].attrs, "weight_names")]
    return bool(names) and not any(":0" in name for name in names)


class _LegacyH5Reader:
    """Weights of a legacy ``.h5``: ``model_weights/<top-level layer>`` + ``weight_names``.

    ``root`` is the group holding the layer groups: ``model_weights`` in a whole model, the
    file's root (None) in what ``save_weights`` wrote.
    """

    def __init__(self, path, config, root="model_weights"):
        self.path = path
        self.config = config
        self.root = root

    def __call__(self, layer_name, scope):
        with _open_h5(self.path, self.path) as h5:
            try:
                return self._read(h5, layer_name, scope)
            except (OSError, RuntimeError, KeyError, ValueError) as exc:
                raise K2PError(f"truncated or corrupt HDF5 file while reading weights of "
                               f"{layer_name!r} ({_first_line(exc)})", path=self.path) from exc

    def _read(self, h5, layer_name, scope):
        weights_group = h5 if self.root is None else h5.get(self.root)
        if weights_group is None:
            return None
        # A nested model's weights all sit in the group of the top-level layer holding it.
        top = scope[0] if scope else layer_name
        if top not in weights_group:
            return None
        group = weights_group[top]
        names = _split_attr(group.attrs, "weight_names")
        if scope:
            # A nested layer without weights (InputLayer, pooling) owns no names here.
            names = _names_of_nested_layer(names, layer_name)
        return [read_numeric_dataset(group[name], f"weight {name!r} of layer {layer_name!r}", self.path)
                for name in names]


# Keras 1 weight names are "<layer>_<suffix>" with these suffixes.
_KERAS1_SUFFIXES = frozenset({"W", "b", "gamma", "beta", "running_mean", "running_std",
                              "alphas", "U", "alpha"})


def _names_of_nested_layer(names, layer_name):
    """Pick one inner layer's weights out of a nested model's ``weight_names``.

    Names carry the owning layer as a path component (``head/d1/kernel`` in Keras 3,
    ``d1/kernel:0`` in tf.keras) or as a prefix (``convolution1d_1_W`` in Keras 1). The
    stored order is kept: it is the layer's own order among the model's weights.
    """
    def components(name):
        return name.split("/")[:-1]

    owned = [n for n in names if components(n)[-1:] == [layer_name]]
    if not owned:
        owned = [n for n in names if layer_name in components(n)]
    if not owned:
        prefix = f"{layer_name}_"
        owned = [n for n in names if "/" not in n and n.startswith(prefix)
                 and n[len(prefix):].split(":")[0] in _KERAS1_SUFFIXES]
    return owned


# ---------------------------------------------------------------------------------------
# Keras 3 .keras zip

def _check_zip_members(archive, path):
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size > MAX_MEMBER_BYTES or total > 2 * MAX_MEMBER_BYTES:
            raise K2PError(f"zip member {info.filename!r} would inflate to {info.file_size} "
                           f"bytes (limit {MAX_MEMBER_BYTES}); refusing", path=path)
        check_declared_size(info.file_size, info.compress_size,
                            info.compress_type != zipfile.ZIP_STORED, f"zip member {info.filename!r}",
                            path=path, bomb="zip bomb")


def _read_member(archive, name, path, limit):
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise K2PError(f"zip member {name!r} is {info.file_size} bytes, expected at most "
                       f"{limit}", path=path)
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise K2PError(f"zip member {name!r} inflates beyond {limit} bytes", path=path)
    return data


def _open_zip(path):
    check_answers(path, "zip", "the .keras zip")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise K2PError(f"truncated or corrupt .keras zip ({_first_line(exc)})",
                       path=path) from exc


def _read_keras_zip(path):
    with _open_zip(path) as archive:
        try:
            _check_zip_members(archive, path)
            names = set(archive.namelist())
            if "config.json" not in names:
                raise K2PError("the zip has no config.json: not a .keras model file", path=path)
            config = _parse_config(_read_member(archive, "config.json", path,
                                                MAX_CONFIG_BYTES), path, "config.json")
            metadata = {}
            if "metadata.json" in names:
                try:
                    metadata = json.loads(_read_member(archive, "metadata.json", path,
                                                       MAX_CONFIG_BYTES))
                except (ValueError, RecursionError):
                    metadata = {}
            _check_weights_member(archive, names, path)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise K2PError(f"truncated or corrupt .keras zip ({_first_line(exc)})",
                           path=path) from exc
    metadata = metadata if isinstance(metadata, dict) else {}
    return ModelFile(path=path, format="keras",
                     keras_version=_str_or_none(metadata.get("keras_version")),
                     backend=_str_or_none(metadata.get("backend")), config=config,
                     _reader=_KerasZipReader(path, config))


def _check_weights_member(archive, names, path):
    if "model.weights.h5" not in names:
        if "model.weights.npz" in names:
            raise K2PError("weights stored as model.weights.npz, which needs unpickling to "
                           "read; save the model with the default HDF5 weights", path=path)
        raise K2PError("the .keras zip has no model.weights.h5", path=path)
    with _weights_h5(archive, path) as h5:
        try:
            _check_hdf5_safe(h5, path)
        except (OSError, RuntimeError, KeyError) as exc:
            raise K2PError(f"corrupt model.weights.h5 ({_first_line(exc)})", path=path) from exc


def _weights_h5(archive, path):
    info = archive.getinfo("model.weights.h5")
    if info.compress_type == zipfile.ZIP_STORED:
        # Keras stores it uncompressed: h5py can seek in the member without inflating it.
        source = archive.open(info)
    else:
        source = io.BytesIO(_read_member(archive, "model.weights.h5", path, MAX_MEMBER_BYTES))
    return _open_h5(source, path, what="model.weights.h5 inside the .keras zip")


def _snake_case(class_name):
    """Keras 3's weight paths: ``GlobalMaxPooling1D`` -> ``global_max_pooling1d``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def keras3_weight_paths(model_entry, prefix=""):
    """Map layer names to their ``.keras`` weight paths, the way Keras 3 lays them out.

    Each model's ``layers`` list gives paths ``layers/<snake_case class>`` with ``_1``,
    ``_2`` for repeats, in layer order; a Sequential's InputLayer and Keras ops (Flip,
    GetItem, ...) are not in that list. Nested models continue under their own path.

    Parameters
    ----------
    model_entry : dict
        A model config ``{"class_name": ..., "config": ...}``.
    prefix : str
        Path of the enclosing model, ending in ``/`` (empty at the top).

    Returns
    -------
    dict
        ``{layer name: path}``, e.g. ``{"motif_conv": "layers/conv1d"}``.
    """
    paths, used = {}, {}
    sequential = not is_functional(model_entry)
    for layer in model_layers(model_entry):
        class_name = str(layer.get("class_name", "")).split(">")[-1]
        if sequential and class_name == "InputLayer":
            continue
        if str(layer.get("module") or "").startswith("keras.src.ops"):
            continue
        snake = _snake_case(class_name)
        if snake in used:
            used[snake] += 1
            snake = f"{snake}_{used[snake]}"
        else:
            used[snake] = 0
        path = f"{prefix}layers/{snake}"
        paths[entry_name(layer)] = path
        if is_model_entry(layer):
            paths.update(keras3_weight_paths(layer, path + "/"))
    return paths


_LAYER_VARS = re.compile(r"^(layers/[^/]+/)+vars$")


class _KerasZipReader:
    """Weights of a ``.keras`` zip: ``<path>/vars/0``, ``vars/1``, ... per layer."""

    def __init__(self, path, config):
        self.path = path
        self.config = config

    def __call__(self, layer_name, scope):
        with _open_zip(self.path) as archive:
            try:
                with _weights_h5(archive, self.path) as h5:
                    return self._read_vars(h5, layer_name)
            except (zipfile.BadZipFile, OSError, RuntimeError, KeyError, EOFError, NotImplementedError) as exc:
                raise K2PError(f"corrupt model.weights.h5 while reading weights of "
                               f"{layer_name!r} ({_first_line(exc)})", path=self.path) from exc

    def _read_vars(self, h5, layer_name):
        group = self._vars_group(h5, layer_name)
        if group is None and "_layer_checkpoint_dependencies" in h5:
            raise K2PError(f"no weights for {layer_name!r} in this tf.keras 2.13-2.15 layout "
                           "(_layer_checkpoint_dependencies); save the model again as .h5 "
                           "or with Keras 3", path=self.path)
        if group is None:
            return None
        keys = sorted((k for k in group.keys() if k.isdigit()), key=int)
        return [read_numeric_dataset(group[k], f"weight {k} of layer {layer_name!r}", self.path) for k in keys]

    def _vars_group(self, h5, layer_name):
        # The path computed from the config is right for every Keras 3 writer; Keras >= 3.6
        # also stores the layer's name on each vars group, which settles any doubt.
        path = keras3_weight_paths(self.config).get(layer_name)
        if path is not None and f"{path}/vars" not in h5 and "_layer_checkpoint_dependencies" in h5:
            # tf.keras 2.13-2.15 wrote the same paths with "layers" called
            # "_layer_checkpoint_dependencies"; Keras 3 reads them the same way.
            path = path.replace("layers", "_layer_checkpoint_dependencies")
        if path is not None and f"{path}/vars" in h5:
            group = h5[f"{path}/vars"]
            stored = _decode(group.attrs.get("name"))
            if stored is None or stored == layer_name:
                return group
        by_name = {}

        def visit(name, item):
            if isinstance(item, h5py.Group) and _LAYER_VARS.match(name):
                stored_name = _decode(item.attrs.get("name"))
                if stored_name is not None:
                    by_name.setdefault(str(stored_name), name)

        h5.visititems(visit)
        return h5[by_name[layer_name]] if layer_name in by_name else None


# ---------------------------------------------------------------------------------------
# Keras 3 model folders: model.save(path, zipped=False)

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
            return ("model_config" in h5.attrs or _has_split_attr(h5.attrs, "layer_names")
                    or any(k in h5 for k in ("model_weights", "layers", "vars", "_layer_checkpoint_dependencies")))
    except (OSError, RuntimeError, KeyError, TypeError, ValueError):
        # A damaged file: not recognisably a model; the reader that follows says what is wrong.
        return False


def is_keras_folder(path):
    """Tell whether ``path`` is a Keras 3 model folder (an unzipped ``.keras``)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json"))


def _read_keras_folder(path):
    """The members of a ``.keras`` zip, as files in a folder (``zipped=False``)."""
    def member(name):
        member_path = os.path.join(path, name)
        if not os.path.isfile(member_path):
            return None
        if os.path.getsize(member_path) > MAX_CONFIG_BYTES:
            raise K2PError(f"{name} is larger than {MAX_CONFIG_BYTES} bytes", path=path)
        with open(member_path, "rb") as handle:
            return handle.read()

    config = _parse_config(member("config.json"), path, "config.json")
    try:
        metadata = json.loads(member("metadata.json") or b"{}")
    except (ValueError, RecursionError):
        metadata = {}
    weights = os.path.join(path, "model.weights.h5")
    if not os.path.isfile(weights):
        raise K2PError("the model folder has no model.weights.h5", path=path)
    with _open_h5(weights, path, what="model.weights.h5 in the model folder") as h5:
        _check_hdf5_safe(h5, path)
    metadata = metadata if isinstance(metadata, dict) else {}
    return ModelFile(path=path, format="keras-folder",
                     keras_version=_str_or_none(metadata.get("keras_version")),
                     backend=_str_or_none(metadata.get("backend")), config=config,
                     _reader=_KerasH5Reader(path, config, weights))


class _KerasH5Reader(_KerasZipReader):
    """Weights of a Keras 3 ``.weights.h5`` file: the layout of the zip's ``model.weights.h5``
    (a model folder's, or one that ``save_weights`` wrote)."""

    def __init__(self, path, config, weights_path):
        super().__init__(path, config)
        self.weights_path = weights_path

    def __call__(self, layer_name, scope):
        name = os.path.basename(self.weights_path)
        try:
            with _open_h5(self.weights_path, self.path, what=name) as h5:
                return self._read_vars(h5, layer_name)
        except (OSError, RuntimeError, KeyError) as exc:
            raise K2PError(f"corrupt {name} while reading weights of "
                           f"{layer_name!r} ({_first_line(exc)})", path=self.path) from exc


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
        config = _parse_config(handle.read(), path, "the architecture JSON")
    if file_kind(weights_path, "a weights file (save_weights: .h5)") != "hdf5":
        raise K2PError("expected an HDF5 weights file (what save_weights wrote, .h5 or .weights.h5)",
                       path=weights_path)
    with _open_h5(weights_path, weights_path) as h5:
        try:
            attrs = h5.attrs
            if "model_config" in attrs:
                raise K2PError("a whole model file, not a weights-only file: give it as the model, "
                               "alone", path=weights_path)
            if "nb_layers" in attrs:
                raise K2PError(KERAS0, path=weights_path)
            legacy = _has_split_attr(attrs, "layer_names")
            if not legacy and not any(k in h5 for k in ("layers", "vars", "_layer_checkpoint_dependencies")):
                raise K2PError("HDF5 file without Keras weights (no layer_names attribute, no layers "
                               "group); expected what save_weights wrote", path=weights_path)
            _check_hdf5_safe(h5, weights_path)
            # Keras 1 weights files say nothing of their version or backend: the JSON does.
            version = _decode(config.get("keras_version", attrs.get("keras_version")))
            backend = _decode(config.get("backend", attrs.get("backend")))
            flipped = legacy and _theano_kernels(backend, version, h5)
        except (OSError, RuntimeError, KeyError, UnicodeDecodeError, TypeError) as exc:
            raise K2PError(f"truncated or corrupt HDF5 file ({_first_line(exc)})",
                           path=weights_path) from exc
    reader = (_LegacyH5Reader(weights_path, config, root=None) if legacy
              else _KerasH5Reader(weights_path, config, weights_path))
    return ModelFile(path=path, format="json", keras_version=_str_or_none(version),
                     backend=_str_or_none(backend), config=config, kernel_flipped=bool(flipped),
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
    if isinstance(model_file._reader, _LegacyH5Reader):
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
