"""Where influence cuts a Keras model, and how it feeds the model the sequences.

    keras.Model --(split_at_activation)--> ModelSplit: upstream = the input -> the filters' map
                                           (and its global pool), downstream = the layers after it
    canonical batches --(model_batches)--> batches as the model reads them (its length, its layout)

**The cut** is where the next layer reads the motif conv's map: after every per-channel,
position-wise layer that follows the conv (BatchNormalization, the activation, Dropout); a conv
called on both strands whose calls an element-wise merge (Maximum, Average, Add) joins is cut
after the merge. The model must be Sequential or Functional, read one input, and call the conv
at its top level.

**The input.** The scan reads the conv alone, so it takes sequences of any length; influence
runs the whole model, which reads its own input:

- one-hot ``(N, length, 4)`` in the model's channel order, or a Conv2D's layout on one-hot DNA
  (``(4, L, 1)`` image, ``(1, L, 4)`` row; :data:`k2p_keras.model.conv2d.LAYOUTS`), the layout
  read off the conv's kernel as the scan reads it (:func:`k2p_keras.model.conv2d.kernel_layout`);
- a fixed input length ``M``: each longer sequence is cropped to its centre ``M`` positions
  (from ``(length - M) // 2``), as the scores of a fixed-window model are usually read off a
  longer region; the crop is said in a warning and in the result. A sequence shorter than ``M``
  is refused in one line before the scan (:func:`check_sequence_lengths`): padding would feed
  the model positions it never saw.

Keras (and TensorFlow) load when a model is cut.
"""
from __future__ import annotations

import dataclasses
import warnings
import weakref
from typing import TYPE_CHECKING

import numpy as np

from ...errors import K2PError
from ...model.after_conv import layer_kind
from ...model.conv import find_live_layer, find_motif_conv_in_model
from ...model.conv2d import CONV2D_CLASSES, LAYOUTS, kernel_layout, sequence_length, to_layout

if TYPE_CHECKING:  # a type hint's name only: Keras loads in the functions that build the split
    import keras

__all__ = ["ModelSplit", "check_sequence_lengths", "crop_note", "model_batches", "split_at_activation"]

_GLOBAL_POOLS = frozenset({"GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D",
                           "GlobalMaxPooling2D", "GlobalMaxPool2D", "GlobalAveragePooling2D", "GlobalAvgPool2D"})
# Merges that keep a constant map constant, per channel and position.
_ELEMENTWISE_MERGES = frozenset({"Maximum", "Minimum", "Average", "Add"})


@dataclasses.dataclass(eq=False)
class ModelSplit:
    """A model cut where its motif conv's map is read, ready to run in two parts.

    Attributes
    ----------
    layer : str
        The conv.
    chain : tuple of str
        The layers from the conv to the split, e.g. ``('motif_conv (Conv1D)', 'relu (Activation)')``.
    pool : str or None
        The global pool reading the map (the pooled route), or None (the map route).
    upstream : keras.Model
        The input -> the map (and, on the pooled route, the pooled ``(B, F)`` matrix).
    downstream : keras.Model
        The map (pooled route: the pooled matrix), and the input when the layers after the split
        read it too, -> the model's outputs.
    reads_input : bool
        Whether ``downstream`` reads the model's input besides the split.
    n_filters : int
    outputs : tuple of str
        The output layers' names.
    output_units : tuple of int
        Values per sequence of each output.
    output_activations : tuple of str
        Each output layer's activation (``sigmoid``, ``softmax``, ``linear``, ...): it chooses the loss.
    input_shape : tuple
        The model's input without the batch axis, e.g. ``(201, 4)`` or ``(4, 200, 1)``.
    input_length : int or None
        The sequence length the model reads, when fixed.
    input_layout : str or None
        A Conv2D's layout on one-hot DNA (a key of :data:`k2p_keras.model.conv2d.LAYOUTS`), or None
        for ``(length, 4)``.
    """

    layer: str
    chain: tuple
    pool: str | None
    upstream: keras.Model
    downstream: keras.Model
    reads_input: bool
    n_filters: int
    outputs: tuple
    output_units: tuple
    output_activations: tuple
    input_shape: tuple = ()
    input_length: int | None = None
    input_layout: str | None = None
    _steps: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def pooled(self):
        return self.pool is not None

    def describe(self):
        """E.g. ``motif_conv (Conv1D) -> relu (Activation) | max_pool (GlobalMaxPooling1D)``."""
        text = " -> ".join(self.chain)
        return text + (f" | {self.pool}" if self.pool else " | the layers after it")


# A callback measures influence at every dump: the split (and its traced steps) is made once per model.
_SPLITS = weakref.WeakKeyDictionary()


def _graph_of(model):
    """The Functional graph to cut: the model's own, or a Sequential's functional twin."""
    import keras  # Keras runs the model: TensorFlow loads with it

    if isinstance(model, keras.Sequential):
        # Keras 3 builds the functional twin once the input shape is known; its tensors are the graph.
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise K2PError(f"Sequential model {model.name!r} has no known input shape: influence cannot cut it "
                           "(build it on an Input first)")
        return graph
    if getattr(model, "_nodes_by_depth", None) is None:
        raise K2PError(f"model {getattr(model, 'name', '?')!r} is subclassed: influence cuts Sequential and "
                       "Functional models only")
    return model


def _graph_nodes(graph):
    return [node for nodes in graph._nodes_by_depth.values() for node in nodes]


def _consumers(nodes, tensor):
    return [node for node in nodes if node.operation is not None and any(t is tensor for t in node.input_tensors)]


def _live_entry(op):
    """A live layer as the config entry :func:`k2p_keras.model.after_conv.layer_kind` reads."""
    try:
        config = op.get_config()
    except Exception:  # noqa: BLE001 - an op without a config is simply not per channel
        config = {}
    return {"class_name": type(op).__name__, "module": type(op).__module__, "config": config}


def _keeps_channels(op, rank):
    """Whether a layer maps a constant map of ``rank`` axes to a constant map, filter by filter (so the
    split may pass it)."""
    kind = type(op).__name__
    if kind == "Flip":  # keras.ops.flip along positions only: a constant stays a constant
        axis = getattr(op, "axis", None)
        axis = [] if axis is None else (axis if isinstance(axis, (list, tuple)) else [axis])
        flipped = {int(a) % rank for a in axis}
        return bool(flipped) and flipped <= set(range(1, rank - 1))
    found = layer_kind(_live_entry(op))
    if found == "activation":
        activation = getattr(op, "activation", None)
        return kind != "Softmax" and getattr(activation, "__name__", "") != "softmax"
    if found == "batchnorm":
        return getattr(op, "axis", -1) in (-1, rank - 1)
    return found == "pass"


def _follow(nodes, tensor, chain):
    """Down the single consumers that keep channels: the tensor the next layer reads, and the chain."""
    while True:
        consumers = _consumers(nodes, tensor)
        if len(consumers) != 1 or len(consumers[0].input_tensors) != 1 or \
                not _keeps_channels(consumers[0].operation, len(tensor.shape)):
            return tensor, chain
        op = consumers[0].operation
        tensor, chain = consumers[0].output_tensors[0], chain + (f"{op.name} ({type(op).__name__})",)


def _reads_inputs(graph, stops):
    """Whether the outputs reach a model input without passing through the ``stops`` tensors."""
    stop = {id(t) for t in stops}
    inputs = {id(t) for t in graph.inputs}
    seen, stack = set(), list(graph.outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in stop or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if id(tensor) in inputs:
            return True
        op, node_index, _ = tensor._keras_history
        stack.extend(op._inbound_nodes[node_index].input_tensors)
    return False


def _output_activation(tensor):
    op = tensor._keras_history[0]
    if type(op).__name__ == "Softmax":
        return "softmax"
    activation = getattr(op, "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"


def _sequence_input(model, graph, conv):
    """``(shape, length, layout)`` of the one input the model reads, or a one-line K2PError.

    A 4-axis input is a Conv2D's layout on one-hot DNA, read off its kernel as the scan reads it.
    """
    if len(graph.inputs) != 1:
        inputs = ", ".join(f"{t.name} {tuple(t.shape[1:])}" for t in graph.inputs)
        raise K2PError(f"model {model.name!r} reads {len(graph.inputs)} inputs ({inputs}); influence runs it on "
                       "the sequences alone: give a model whose one input is the one-hot sequence (the other "
                       "inputs fixed inside it), or leave out influence")
    shape = tuple(graph.inputs[0].shape[1:])
    layout = None
    if len(shape) == 3 and type(conv).__name__ in CONV2D_CLASSES:
        layout = kernel_layout(tuple(conv.kernel.shape), getattr(conv, "data_format", "") == "channels_first")
    if layout is not None:
        return shape, sequence_length(layout, (None,) + shape), layout
    if len(shape) == 2 and shape[-1] == 4:
        return shape, shape[0] if isinstance(shape[0], int) else None, None
    accepted = "; ".join(f"{name} {inputs}" for name, (_, inputs, _) in LAYOUTS.items())
    raise K2PError(f"model {model.name!r} reads {shape}; influence feeds it one-hot sequences (length, 4), or a "
                   f"Conv2D's layouts of them ({accepted})")


def split_at_activation(model, layer=None):
    """Cut a Keras model where the next layer reads its motif conv's activation map.

    Parameters
    ----------
    model : keras.Model
        Sequential or Functional, one input (one-hot ``(length, 4)`` or a Conv2D's layout of it), the
        conv at its top level (not in a nested model).
    layer : str, optional
        The conv [default: the motif conv :func:`k2p_keras.model.conv.find_motif_conv_in_model` finds].

    Returns
    -------
    ModelSplit

    Raises
    ------
    K2PError
        In one line, why the model cannot be cut (subclassed, several inputs, an input that is
        not one-hot DNA, a nested conv, calls of the conv not merged element-wise, channels first).
    """
    import keras  # Keras runs the model: TensorFlow loads with it

    layer = layer if layer is not None else find_motif_conv_in_model(model).layer_name
    cached = _SPLITS.get(model, {})
    if layer in cached:
        return cached[layer]
    graph = _graph_of(model)
    conv = next((op for op in graph.operations if op.name == layer), None)
    if conv is None:
        where = "inside a nested model" if find_live_layer(model, layer) is not None else "not in the model"
        raise K2PError(f"layer {layer!r} is {where}: influence cuts the model's top-level graph only")
    shape, length, layout = _sequence_input(model, graph, conv)
    nodes = _graph_nodes(graph)
    ends = [_follow(nodes, node.output_tensors[0], (f"{conv.name} ({type(conv).__name__})",))
            for node in conv._inbound_nodes if node in nodes]
    if len(ends) > 1:
        merges = {id(c): c for tensor, _ in ends for c in _consumers(nodes, tensor)}
        merge = next(iter(merges.values())) if len(merges) == 1 else None
        if merge is None or type(merge.operation).__name__ not in _ELEMENTWISE_MERGES or \
                {id(t) for t in merge.input_tensors} != {id(t) for t, _ in ends}:
            raise K2PError(f"layer {layer!r} is called {len(ends)} times and its outputs are not merged element-wise "
                           "(Maximum, Average, Add): influence cannot replace one filter's map in one place")
        label = f"{merge.operation.name} ({type(merge.operation).__name__} of {len(ends)} calls)"
        ends = [_follow(nodes, merge.output_tensors[0], ends[0][1] + (label,))]
    split, chain = ends[0]
    n_filters = int(conv.filters)
    if split.shape[-1] != n_filters:
        raise K2PError(f"layer {layer!r}'s map holds its {n_filters} filters on another axis than the last "
                       "(channels first): influence needs channels last")
    pool = None
    consumers = _consumers(nodes, split)
    if len(consumers) == 1:
        op = consumers[0].operation
        if type(op).__name__ in _GLOBAL_POOLS and not getattr(op, "keepdims", False) and \
                getattr(op, "data_format", "channels_last") == "channels_last":
            pool = (op, consumers[0].output_tensors[0])
    cut = split if pool is None else pool[1]
    reads_input = _reads_inputs(graph, [cut])
    upstream = keras.Model(graph.inputs, split if pool is None else [split, pool[1]], name="k2p_upstream")
    downstream = keras.Model([cut] + (list(graph.inputs) if reads_input else []), graph.outputs,
                             name="k2p_downstream")
    result = ModelSplit(
        layer=layer, chain=chain, pool=None if pool is None else f"{pool[0].name} ({type(pool[0]).__name__})",
        upstream=upstream, downstream=downstream, reads_input=reads_input, n_filters=n_filters,
        outputs=tuple(t._keras_history[0].name for t in graph.outputs),
        output_units=tuple(int(np.prod([d for d in t.shape[1:]])) for t in graph.outputs),
        output_activations=tuple(_output_activation(t) for t in graph.outputs),
        input_shape=shape, input_length=length, input_layout=layout)
    _SPLITS.setdefault(model, {})[layer] = result
    return result



# ----------------------------------------------------------------------------- feeding the model

def _shorter(input_length, length):
    return (f"influence runs the model on its input of {input_length} bp: sequences of {length} bp are shorter; "
            f"give sequences of at least {input_length} bp (longer ones are cropped to their centre {input_length} bp)")


def crop_note(input_length, min_length, max_length):
    """A line for people when sequences longer than the model's fixed input are cropped, else None."""
    if input_length is None or max_length is None or max_length <= input_length:
        return None
    given = f"{max_length:,}" if min_length in (None, max_length) else f"{min_length:,} to {max_length:,}"
    return f"each sequence's centre {input_length} bp, the model's input length (the sequences have {given} bp)"


def check_sequence_lengths(input_length, min_length, max_length, path=None):
    """Before the scan: refuse sequences shorter than the model's fixed input (one line), warn of a crop.

    ``input_length`` is :attr:`ModelSplit.input_length`, or the same read off the model's file
    (:attr:`k2p_keras.model.conv.ConvSpec.input_length`) before Keras loads. Lengths unknown
    (None; batches from a generator) are checked batch by batch as they are fed.
    """
    if input_length is None:
        return
    if min_length is not None and min_length < input_length:
        raise K2PError(_shorter(input_length, min_length), path=path)
    note = crop_note(input_length, min_length, max_length)
    if note is not None:
        warnings.warn(f"{path + ': ' if path else ''}influence runs the model on {note}")


def model_batches(split, open_batches):
    """Fresh batches as the model reads them, from canonical ones ``(B, length, 4)`` in its channel order.

    Each batch is cropped to its centre ``split.input_length`` positions when the model's input
    is fixed and the sequences longer, then put in the Conv2D's layout when there is one.

    Returns
    -------
    callable
        Returning ``(batch, length)`` pairs: the batch fed and the sequences' own length.
    """
    wanted, layout = split.input_length, split.input_layout

    def fed():
        for batch in open_batches():
            length = batch.shape[1]
            if wanted is not None and length != wanted:
                if length < wanted:
                    raise K2PError(_shorter(wanted, length))
                start = (length - wanted) // 2
                batch = batch[:, start:start + wanted]
            yield (batch if layout is None else to_layout(batch, layout)), length

    return fed
