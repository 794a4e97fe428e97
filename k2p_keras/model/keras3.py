"""Keras 3 ``.keras`` zips (``config.json`` and ``model.weights.h5``, whose ``<path>/vars/<i>`` groups are
mapped back to layer names) and their unzipped folders (``model.save(path, zipped=False)``)."""

import io
import json
import os
import re
import zipfile

import h5py

from ..errors import K2PError
from ..io.guard import check_answers
from ..io.matrices import read_numeric_dataset
from ..validate import check_declared_size
from .config import entry_name, is_functional, is_model_entry, model_layers
from .model_file import (check_hdf5_safe, decode, first_line, MAX_CONFIG_BYTES, ModelFile,
                         open_h5, parse_config, str_or_none)

# Limits against zip bombs: no genomics CNN comes near them (the compression ratio is
# validate.MAX_COMPRESSION_RATIO, shared with HDF5 datasets).
MAX_MEMBER_BYTES = 4 * 1024 ** 3


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
        raise K2PError(f"truncated or corrupt .keras zip ({first_line(exc)})",
                       path=path) from exc


def read_keras_zip(path):
    with _open_zip(path) as archive:
        try:
            _check_zip_members(archive, path)
            names = set(archive.namelist())
            if "config.json" not in names:
                raise K2PError("the zip has no config.json: not a .keras model file", path=path)
            config = parse_config(_read_member(archive, "config.json", path,
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
            raise K2PError(f"truncated or corrupt .keras zip ({first_line(exc)})",
                           path=path) from exc
    metadata = metadata if isinstance(metadata, dict) else {}
    return ModelFile(path=path, format="keras",
                     keras_version=str_or_none(metadata.get("keras_version")),
                     backend=str_or_none(metadata.get("backend")), config=config,
                     _reader=KerasZipReader(path, config))


def _check_weights_member(archive, names, path):
    if "model.weights.h5" not in names:
        if "model.weights.npz" in names:
            raise K2PError("weights stored as model.weights.npz, which needs unpickling to "
                           "read; save the model with the default HDF5 weights", path=path)
        raise K2PError("the .keras zip has no model.weights.h5", path=path)
    with _weights_h5(archive, path) as h5:
        try:
            check_hdf5_safe(h5, path)
        except (OSError, RuntimeError, KeyError) as exc:
            raise K2PError(f"corrupt model.weights.h5 ({first_line(exc)})", path=path) from exc


def _weights_h5(archive, path):
    info = archive.getinfo("model.weights.h5")
    if info.compress_type == zipfile.ZIP_STORED:
        # Keras stores it uncompressed: h5py can seek in the member without inflating it.
        source = archive.open(info)
    else:
        source = io.BytesIO(_read_member(archive, "model.weights.h5", path, MAX_MEMBER_BYTES))
    return open_h5(source, path, what="model.weights.h5 inside the .keras zip")


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


class KerasZipReader:
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
                               f"{layer_name!r} ({first_line(exc)})", path=self.path) from exc

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
            stored = decode(group.attrs.get("name"))
            if stored is None or stored == layer_name:
                return group
        by_name = {}

        def visit(name, item):
            if isinstance(item, h5py.Group) and _LAYER_VARS.match(name):
                stored_name = decode(item.attrs.get("name"))
                if stored_name is not None:
                    by_name.setdefault(str(stored_name), name)

        h5.visititems(visit)
        return h5[by_name[layer_name]] if layer_name in by_name else None


# Keras 3 model folders: model.save(path, zipped=False)

def is_keras_folder(path):
    """Tell whether ``path`` is a Keras 3 model folder (an unzipped ``.keras``)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json"))


def read_keras_folder(path):
    """The members of a ``.keras`` zip, as files in a folder (``zipped=False``)."""
    def member(name):
        member_path = os.path.join(path, name)
        if not os.path.isfile(member_path):
            return None
        if os.path.getsize(member_path) > MAX_CONFIG_BYTES:
            raise K2PError(f"{name} is larger than {MAX_CONFIG_BYTES} bytes", path=path)
        with open(member_path, "rb") as handle:
            return handle.read()

    config = parse_config(member("config.json"), path, "config.json")
    try:
        metadata = json.loads(member("metadata.json") or b"{}")
    except (ValueError, RecursionError):
        metadata = {}
    weights = os.path.join(path, "model.weights.h5")
    if not os.path.isfile(weights):
        raise K2PError("the model folder has no model.weights.h5", path=path)
    with open_h5(weights, path, what="model.weights.h5 in the model folder") as h5:
        check_hdf5_safe(h5, path)
    metadata = metadata if isinstance(metadata, dict) else {}
    return ModelFile(path=path, format="keras-folder",
                     keras_version=str_or_none(metadata.get("keras_version")),
                     backend=str_or_none(metadata.get("backend")), config=config,
                     _reader=KerasH5Reader(path, config, weights))


class KerasH5Reader(KerasZipReader):
    """Weights of a Keras 3 ``.weights.h5`` file: the layout of the zip's ``model.weights.h5``
    (a model folder's, or one that ``save_weights`` wrote)."""

    def __init__(self, path, config, weights_path):
        super().__init__(path, config)
        self.weights_path = weights_path

    def __call__(self, layer_name, scope):
        name = os.path.basename(self.weights_path)
        try:
            with open_h5(self.weights_path, self.path, what=name) as h5:
                return self._read_vars(h5, layer_name)
        except (OSError, RuntimeError, KeyError) as exc:
            raise K2PError(f"corrupt {name} while reading weights of "
                           f"{layer_name!r} ({first_line(exc)})", path=self.path) from exc
