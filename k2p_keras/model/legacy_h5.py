"""Legacy HDF5 ``.h5`` model files (Keras 1, 2, tf.keras, Keras 3's legacy format): the root attribute
``model_config``, weights under ``model_weights/<layer>`` in the order of ``weight_names``."""

import h5py

from ..errors import K2PError
from ..io.matrices import read_numeric_dataset
from .model_file import (check_hdf5_safe, decode, first_line, has_split_attr, KERAS0, ModelFile, open_h5,
                         parse_config, split_attr, str_or_none, WEIGHTS_ONLY)

def read_h5_model(path):
    with open_h5(path, path) as h5:
        try:
            attrs = h5.attrs
            if "nb_layers" in attrs:
                raise K2PError(KERAS0, path=path)
            if "model_config" not in attrs:
                if (has_split_attr(attrs, "layer_names")
                        or any(k in h5 for k in ("layers", "vars",
                                                  "_layer_checkpoint_dependencies"))):
                    raise K2PError(WEIGHTS_ONLY, path=path)
                raise K2PError("HDF5 file without a Keras model (no model_config attribute)",
                               path=path)
            check_hdf5_safe(h5, path)
            config = parse_config(attrs["model_config"], path, "model_config")
            weights_group = h5.get("model_weights")
            group_attrs = weights_group.attrs if weights_group is not None else {}
            version = decode(attrs.get("keras_version", group_attrs.get("keras_version")))
            backend = decode(attrs.get("backend", group_attrs.get("backend")))
            flipped = theano_kernels(backend, version, weights_group)
        except (OSError, RuntimeError, KeyError, UnicodeDecodeError, TypeError) as exc:
            raise K2PError(f"truncated or corrupt HDF5 file ({first_line(exc)})",
                           path=path) from exc
    reader = LegacyH5Reader(path, config)
    return ModelFile(path=path, format="h5", keras_version=str_or_none(version),
                     backend=str_or_none(backend), config=config, kernel_flipped=flipped,
                     _reader=reader)


def theano_kernels(backend, version, weights_group):
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
             for name in split_attr(weights_group[key].attrs, "weight_names")]
    return bool(names) and not any(":0" in name for name in names)


class LegacyH5Reader:
    """Weights of a legacy ``.h5``: ``model_weights/<top-level layer>`` + ``weight_names``.

    ``root`` is the group holding the layer groups: ``model_weights`` in a whole model, the
    file's root (None) in what ``save_weights`` wrote.
    """

    def __init__(self, path, config, root="model_weights"):
        self.path = path
        self.config = config
        self.root = root

    def __call__(self, layer_name, scope):
        with open_h5(self.path, self.path) as h5:
            try:
                return self._read(h5, layer_name, scope)
            except (OSError, RuntimeError, KeyError, ValueError) as exc:
                raise K2PError(f"truncated or corrupt HDF5 file while reading weights of "
                               f"{layer_name!r} ({first_line(exc)})", path=self.path) from exc

    def _read(self, h5, layer_name, scope):
        weights_group = h5 if self.root is None else h5.get(self.root)
        if weights_group is None:
            return None
        # A nested model's weights all sit in the group of the top-level layer holding it.
        top = scope[0] if scope else layer_name
        if top not in weights_group:
            return None
        group = weights_group[top]
        names = split_attr(group.attrs, "weight_names")
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
