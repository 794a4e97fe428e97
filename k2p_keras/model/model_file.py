"""A model file's architecture and weights (:class:`ModelFile`), and the helpers its readers share:
HDF5 attributes and safety checks, the config's JSON, the limits against zip bombs.

The readers: :mod:`k2p_keras.model.legacy_h5` (``.h5``), :mod:`k2p_keras.model.keras3` (``.keras``
zips and folders); :func:`k2p_keras.model.files.read_model` picks one.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Callable

import h5py
import numpy as np

from ..errors import K2PError
from ..io.guard import check_answers
from ..validate import check_json_depth
from .config import entry_config, entry_name, is_conv1d, iter_layers
from .conv2d import is_conv2d

# The largest config a model file may hold (config.json, an architecture JSON): no genomics CNN
# comes near it. The zips' member limit is keras3.MAX_MEMBER_BYTES.
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


# ---------------------------------------------------------------------------------------
# Small HDF5 helpers

def decode(value):
    """HDF5 attributes come back as bytes, str, numpy scalars or arrays of them."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return decode(value.item())
        return [decode(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return decode(value.item())
    return value


def split_attr(attrs, name):
    """Read a list attribute that Keras may have split into ``name0``, ``name1``, ..."""
    if name in attrs:
        values = decode(attrs[name])
        return [str(v) for v in values] if isinstance(values, list) else [str(values)]
    values, chunk = [], 0
    while f"{name}{chunk}" in attrs:
        values.extend(str(v) for v in decode(attrs[f"{name}{chunk}"]))
        chunk += 1
    return values


def has_split_attr(attrs, name):
    return name in attrs or f"{name}0" in attrs


def check_hdf5_safe(group, path, depth=0, seen=None):
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
            check_hdf5_safe(item, path, depth + 1, seen)


def open_h5(source, path, what="HDF5 file"):
    if isinstance(source, (str, os.PathLike)):
        check_answers(source, "hdf5", what if what.startswith("the ") else f"the {what}", shown=source)
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise K2PError(f"truncated or corrupt {what} ({first_line(exc)})", path=path) from exc


def first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def parse_config(value, path, where):
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
        raise K2PError(f"corrupt model config in {where} (invalid JSON: {first_line(exc)})",
                       path=path) from exc
    if not isinstance(config, dict) or "config" not in config or "class_name" not in config:
        raise K2PError(f"{where} is not a Keras model config (expected a dict with "
                       "'class_name' and 'config')", path=path)
    return config


def str_or_none(value):
    return None if value is None else str(value)
