"""Plain Keras model configs (dicts) turned into a graph of layer calls; nothing is executed.

A saved or live Keras model describes its architecture as nested dicts. Their shape has
changed across Keras 1, Keras 2 / tf.keras and Keras 3 (docs/models-in-the-wild.md);
this module hides those differences:

- :func:`model_layers` lists the layer entries of a Sequential or Functional config;
- :func:`iter_layers` walks every layer, nested models included;
- :func:`build_layer_graph` inlines nested models into one graph of layer *calls*, so that
  a shared layer (one Conv1D applied to a sequence and its reverse complement) shows up as
  several calls of the same layer.

Both :mod:`k2p_keras.model.files` and :mod:`k2p_keras.model.conv` use it; it does no I/O.
"""
from dataclasses import dataclass, field

from ..errors import K2PError


# Top-level class names that hold other layers. Keras 1/2 wrote "Model", tf.keras >= 2.4
# and Keras 3 write "Functional".
MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})

INPUT_CLASSES = frozenset({"InputLayer"})

# The 1-D convolutions whose kernel is (length, channels, filters) applied as a
# cross-correlation: Keras 2/3 Conv1D, and the Keras 1 names of the same layer.
CONV1D_CLASSES = frozenset({"Conv1D", "Convolution1D", "AtrousConvolution1D"})


@dataclass
class LayerCall:
    """One application of a layer (or Keras op) to tensors, after nested models are inlined.

    Attributes
    ----------
    index : int
        Position in :attr:`LayerGraph.calls` (calls are in an order where inputs come first).
    name : str
        The layer's name (several calls share it when the layer is shared).
    class_name : str
        The class name as stored, e.g. ``"Conv1D"`` or ``"my>RevComp"``.
    entry : dict
        The layer's config entry (``{"class_name", "config", ...}``).
    inputs : list of tuple
        The tensors it reads, as ``(call index, tensor index)`` pairs.
    scope : tuple of str
        Names of the models it sits in, outermost first (empty at the top level).
    """

    index: int
    name: str
    class_name: str
    entry: dict
    inputs: list
    scope: tuple = ()


@dataclass
class LayerGraph:
    """Every layer call of a model, with the model inputs and outputs.

    Attributes
    ----------
    calls : list of LayerCall
        All calls; model inputs are calls of class ``InputLayer`` with no inputs.
    inputs : list of int
        Indices of the calls that are the model's inputs.
    outputs : list of tuple
        The model's output tensors as ``(call index, tensor index)``.
    layers : list of tuple
        ``(scope, entry)`` for every layer entry found, nested ones included, in order.
    """

    calls: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    layers: list = field(default_factory=list)

    def consumers(self, tensor):
        """Return the calls that read ``tensor`` (a ``(call index, tensor index)`` pair)."""
        return [call for call in self.calls if tensor in call.inputs]

    def calls_of(self, name):
        """Return every call of the layer called ``name``."""
        return [call for call in self.calls if call.name == name]


def entry_name(entry):
    """Return a layer entry's name (Keras 1 Sequential entries keep it only in ``config``)."""
    name = entry.get("name")
    if name is None and isinstance(entry.get("config"), dict):
        name = entry["config"].get("name")
    return None if name is None else str(name)


def entry_config(entry):
    """Return a layer entry's ``config`` dict (an empty dict when absent)."""
    config = entry.get("config")
    return config if isinstance(config, dict) else {}


def is_conv1d(entry):
    """A built-in Keras Conv1D (registered subclasses are not: their call may differ)."""
    return is_builtin(entry) and str(entry.get("class_name", "")) in CONV1D_CLASSES


def is_builtin(entry):
    """Tell whether an entry is a class that ships with Keras (not a registered custom one).

    Custom classes show as ``"my>RevComp"`` in legacy HDF5 configs, and with a
    ``registered_name`` other than the class name (or a non-Keras ``module``) in Keras 3.
    """
    class_name = str(entry.get("class_name", ""))
    if ">" in class_name:
        return False
    registered = entry.get("registered_name")
    if registered not in (None, class_name):
        return False
    return is_keras_module(entry.get("module"))


def is_keras_module(module):
    """A config's ``module`` that is Keras's own (or absent, as in Keras 1 and 2 configs)."""
    return module is None or str(module).split(".")[0] in ("keras", "tf_keras", "tensorflow")


def foreign_classes(config):
    """Every ``module.class_name`` a config names outside Keras (a custom activation from
    ``os``, say), anywhere in it: what loading the model would import."""
    found, stack = [], [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "class_name" in value and not is_keras_module(value.get("module")):
                found.append(f"{value.get('module')}.{value.get('class_name')}")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def is_model_entry(entry):
    """Tell whether a layer entry is itself a model (Sequential or Functional) to follow into."""
    config = entry.get("config")
    if isinstance(config, list):  # Keras 1 to 2.2.2 Sequential: a bare list of layers
        return True
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return False
    class_name = str(entry.get("class_name", "")).split(">")[-1]
    return class_name in MODEL_CLASSES or "input_layers" in config


def is_functional(entry):
    """Tell a Functional (graph) model config from a Sequential one, by its structure.

    The class name is not enough: subclasses keep their own names, and a live model's
    ``get_config()`` comes without one. Functional layer entries carry ``inbound_nodes``.
    """
    config = entry.get("config")
    if not isinstance(config, dict):
        return False
    if "input_layers" in config:
        return True
    return any(isinstance(layer, dict) and "inbound_nodes" in layer
               for layer in config.get("layers") or [])


def model_layers(entry):
    """Return the list of layer entries of a model entry.

    Raises
    ------
    K2PError
        When the config lists no layers (e.g. a subclassed Model).
    """
    config = entry.get("config")
    layers = config if isinstance(config, list) else (
        config.get("layers") if isinstance(config, dict) else None)
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise K2PError(f"model config of class {entry.get('class_name')!r} has no list of "
                       "layers (a subclassed Model cannot be read without running it)")
    return layers


def iter_layers(entry, scope=()):
    """Yield ``(scope, layer entry)`` for every layer of a model, nested models included.

    A nested model is yielded itself, then its layers (with its name appended to scope).
    """
    for layer in model_layers(entry):
        yield scope, layer
        if is_model_entry(layer):
            yield from iter_layers(layer, scope + (entry_name(layer),))


def input_shape(entry):
    """Return the batch shape (list, batch dimension first) an entry declares, or None.

    Reads ``batch_shape`` (Keras 3 InputLayer), ``batch_input_shape`` (Keras 1/2), the
    Keras 1 ``input_length`` / ``input_dim`` pair, or a Sequential's ``build_input_shape``.
    """
    config = entry_config(entry)
    for key in ("batch_shape", "batch_input_shape", "build_input_shape"):
        shape = config.get(key)
        if isinstance(shape, (list, tuple)):
            return list(shape)
    if config.get("input_shape") is not None:
        return [None] + list(config["input_shape"])
    if config.get("input_dim") is not None:
        return [None, config.get("input_length"), config["input_dim"]]
    return None


def _is_legacy_ref(obj):
    """``[name, node, tensor]`` (Keras 1) or ``[name, node, tensor, kwargs]`` (Keras 2)."""
    return (isinstance(obj, (list, tuple)) and len(obj) in (3, 4)
            and isinstance(obj[0], str) and isinstance(obj[1], int)
            and isinstance(obj[2], int) and (len(obj) == 3 or isinstance(obj[3], dict)))


def _keras3_refs(obj):
    """Yield the ``keras_history`` of every ``__keras_tensor__`` found in args/kwargs."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            history = entry_config(obj).get("keras_history")
            if _is_legacy_ref(history):
                yield tuple(history[:3])
            return
        for value in obj.values():
            yield from _keras3_refs(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _keras3_refs(value)


def _legacy_refs(obj):
    """Yield refs from a Keras 1/2 node; tf.keras may nest more refs in the kwargs."""
    if _is_legacy_ref(obj):
        yield tuple(obj[:3])
        if len(obj) == 4:
            yield from _legacy_refs(obj[3])
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _legacy_refs(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _legacy_refs(value)


def node_refs(node):
    """Return the ``(layer name, node index, tensor index)`` refs one inbound node reads.

    Keras 3 nodes are ``{"args": [...], "kwargs": {...}}`` with ``__keras_tensor__`` dicts
    anywhere inside (merge layers nest a list); Keras 1/2 nodes are lists of refs.
    """
    if isinstance(node, dict) and ("args" in node or "kwargs" in node):
        return list(_keras3_refs([node.get("args"), node.get("kwargs")]))
    return list(_legacy_refs(node))


def _structure_refs(obj):
    """Refs in ``input_layers`` / ``output_layers``: one ref, a list of them, or a dict."""
    if _is_legacy_ref(obj):
        return [tuple(obj[:3])]
    values = obj.values() if isinstance(obj, dict) else (obj or [])
    return [ref for value in values for ref in _structure_refs(value)]


class _GraphBuilder:
    """Inline nested models so that every call sees the tensors it really reads."""

    def __init__(self):
        self.graph = LayerGraph()

    def add_call(self, entry, inputs, scope):
        call = LayerCall(index=len(self.graph.calls), name=entry_name(entry),
                         class_name=str(entry.get("class_name")), entry=entry,
                         inputs=list(inputs), scope=scope)
        self.graph.calls.append(call)
        return call.index

    def add_input(self, entry, scope):
        """A model input, as a call of class InputLayer reading nothing."""
        index = self.add_call(entry, [], scope)
        self.graph.calls[index].class_name = "InputLayer"
        self.graph.inputs.append(index)
        return (index, 0)

    def model(self, entry, scope, inputs=None):
        """Inline one model; ``inputs`` are the tensors a nested model is called on."""
        if is_functional(entry):
            return self.functional(entry, scope, inputs)
        return self.sequential(entry, scope, inputs)

    def sequential(self, entry, scope, inputs):
        current = inputs[0] if inputs else None
        layers = model_layers(entry)
        for position, layer in enumerate(layers):
            if str(layer.get("class_name")) in INPUT_CLASSES:
                if current is None:
                    current = self.add_input(layer, scope)
                continue
            if current is None:
                current = self.add_input(self._implicit_input(entry, layer), scope)
            if is_model_entry(layer):
                current = self.model(layer, scope + (entry_name(layer),), [current])[0]
            else:
                current = (self.add_call(layer, [current], scope), 0)
        if current is None:
            raise K2PError(f"Sequential model {entry_name(entry)!r} has no layers")
        return [current]

    @staticmethod
    def _implicit_input(entry, first_layer):
        """A Sequential without an InputLayer: its shape is on the first layer (Keras 1/2)."""
        shape = input_shape(first_layer) or input_shape(entry)
        name = f"{entry_name(entry) or 'model'}_input"
        return {"class_name": "InputLayer", "config": {"name": name, "batch_shape": shape},
                "name": name}

    def functional(self, entry, scope, inputs):
        config = entry_config(entry)
        layers = model_layers(entry)
        # (layer name, node index) -> the call index of a plain layer, or the list of output
        # tensors of an inlined nested model or of a nested model's input
        produced = {}
        input_refs = _structure_refs(config.get("input_layers"))
        if inputs is not None:
            if len(inputs) != len(input_refs):
                raise K2PError(f"nested model {entry_name(entry)!r} is called on "
                               f"{len(inputs)} tensors but declares {len(input_refs)} inputs")
            for ref, tensor in zip(input_refs, inputs):
                produced[(ref[0], ref[1])] = [tensor]
        counts = {entry_name(layer): len(layer.get("inbound_nodes") or [])
                  for layer in layers if is_model_entry(layer)}
        offsets = _node_offsets(layers, counts)
        pending = []
        for layer in layers:
            name = entry_name(layer)
            if str(layer.get("class_name")) in INPUT_CLASSES:
                if (name, 0) not in produced:
                    produced[(name, 0)] = self.add_input(layer, scope)[0]
                continue
            for node_index, node in enumerate(layer.get("inbound_nodes") or []):
                pending.append((layer, node_index, node_refs(node)))

        def resolve(ref, output=False):
            name, node_index, tensor_index = ref
            if name in counts:
                node_index -= offsets.get(name, 0)
                if output and node_index >= counts[name] > 0:
                    # Keras 3 counts a nested Functional's construction node in
                    # output_layers only, not in the args of the calls
                    node_index -= 1
            out = produced.get((name, node_index))
            if out is None:
                return None
            if isinstance(out, list):
                return out[tensor_index] if tensor_index < len(out) else None
            return (out, tensor_index)

        # Configs list layers roughly in order, but a shared layer's later call may read a
        # layer listed after it: keep going round until nothing is left.
        while pending:
            left = []
            for layer, node_index, refs in pending:
                tensors = [resolve(ref) for ref in refs]
                if any(tensor is None for tensor in tensors):
                    left.append((layer, node_index, refs))
                    continue
                name = entry_name(layer)
                if is_model_entry(layer):
                    produced[(name, node_index)] = self.model(layer, scope + (name,), tensors)
                else:
                    produced[(name, node_index)] = self.add_call(layer, tensors, scope)
            if len(left) == len(pending):
                raise _unresolved(entry, left, layers)
            pending = left
        outputs = [resolve(ref, output=True)
                   for ref in _structure_refs(config.get("output_layers"))]
        if inputs is not None and (not outputs or any(out is None for out in outputs)):
            raise K2PError(f"nested model {entry_name(entry)!r} has no resolvable outputs")
        return [out for out in outputs if out is not None]


def _unresolved(entry, left, layers):
    """The error for calls whose inputs never appear: unknown layers, or a cycle."""
    defined = {entry_name(layer) for layer in layers}
    for layer, _, refs in left:
        for ref in refs:
            if ref[0] not in defined:
                return K2PError(f"model config of {entry_name(entry)!r} is inconsistent: "
                                f"{entry_name(layer)!r} reads {ref[0]!r}, which is not in the "
                                "model")
    names = ", ".join(sorted({repr(entry_name(layer)) for layer, _, _ in left}))
    return K2PError(f"model config of {entry_name(entry)!r} is inconsistent: layers {names} "
                    "wait on each other (a cycle or a bad node index)")


def _node_offsets(layers, counts):
    """Per nested model, the first node index its callers use (0 or 1).

    Keras 1, Keras 2 and tf.keras count a nested model's own construction node, so refs to
    its first call use node index 1; Keras 3 args count from 0. Infer it from the refs.
    """
    seen = {name: [] for name in counts}
    keras3 = False
    for layer in layers:
        for node in layer.get("inbound_nodes") or []:
            keras3 = keras3 or isinstance(node, dict)
            for ref in node_refs(node):
                if ref[0] in seen:
                    seen[ref[0]].append(ref[1])
    offsets = {}
    for name, indices in seen.items():
        if not indices:
            continue
        if max(indices) >= counts[name]:
            offsets[name] = 1
        elif 0 in indices or keras3:
            offsets[name] = 0
        else:
            offsets[name] = 1
    return offsets


def build_layer_graph(model_config):
    """Turn a top-level model config into a :class:`LayerGraph` of layer calls.

    Parameters
    ----------
    model_config : dict
        ``{"class_name": ..., "config": ...}`` as stored in a model file (``model_config``
        attribute of a legacy ``.h5``, ``config.json`` of a ``.keras``), or built from a live
        model as ``{"class_name": type(model).__name__, "config": model.get_config()}``.
        Sequential (list or dict form), Functional / Model, nested models, Keras 1 to 3.

    Returns
    -------
    LayerGraph
        Nested models are inlined: a layer inside a model called twice has two calls.

    Raises
    ------
    K2PError
        When the config is not a model config or its graph does not hold together.
    """
    if not isinstance(model_config, dict) or "config" not in model_config:
        raise K2PError("expected a model config {'class_name': ..., 'config': ...}, found "
                       f"{type(model_config).__name__}")
    builder = _GraphBuilder()
    builder.graph.layers = list(iter_layers(model_config))
    builder.graph.outputs = builder.model(model_config, ())
    return builder.graph


def _tf_op_kwargs(entry):
    """The kwargs of a tf.keras TFOpLambda call (the 4th item of its inbound ref)."""
    # tf.keras writes a TFOpLambda's node as one ref ``[name, node, tensor, kwargs]``;
    # older writers wrap it in a list of refs.
    for node in entry.get("inbound_nodes") or []:
        refs = [node] if node and isinstance(node[0], str) else node
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, list) and len(ref) == 4 and isinstance(ref[3], dict):
                return ref[3]
    return {}


def reduce_axes(call):
    """The axes a max op reduces (list of int), or None when they cannot be read.

    Keras 3 keeps them in the op's config (``axis``); tf.keras's TFOpLambda in the kwargs
    of its call. ``None`` as the axis means all axes, which pools over the filters too.
    """
    if call.class_name == "TFOpLambda":
        axis = _tf_op_kwargs(call.entry).get("axis")
    else:
        axis = entry_config(call.entry).get("axis")
    if axis is None:
        return None
    try:
        return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else [int(axis)]
    except (TypeError, ValueError):
        return None
