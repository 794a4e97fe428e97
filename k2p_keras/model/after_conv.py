"""What the layers after the motif conv say about its sites: the windows the MLE of the base learns from.

The PWMs are exact for the conv whatever follows it; the layers after it only decide which
windows the model picks out, and so which windows are the motif's sites (its *site scope*,
:data:`SITE_SCOPES`). The MLE of the base (docs/base-estimation.md) needs sites that do not
depend on the base: windows the model itself selects by a max. Everything between the conv
and the max must then be a per-unit non-decreasing map: activations such as ReLU or sigmoid,
inference-time identities such as Dropout, and a BatchNormalization with positive scale
(folded exactly into kernel and bias when it comes before any non-linearity).

- a global max-pool: each sequence's best window (``sequence``);
- a local max-pool (``MaxPooling1D``, or ``MaxPooling2D`` along the positions after a Conv2D
  on one-hot DNA): each pooling block's best window (``block``);
- anything else (average pooling, Flatten, Dense, another conv, a recurrent layer, a merge
  with other tensors, a custom layer, a decreasing activation or BatchNorm scale, no pooling
  at all): no window is selected, so the MLE's assumption does not hold; the sites are then
  the strong windows anywhere (``anywhere``), and the run says so.
"""
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from ..errors import K2PError
from ..scan.windows import PoolSpec
from .activations import activation_rule
from .config import CONV1D_CLASSES, entry_config, is_builtin, reduce_axes
from .settings import data_format as layer_data_format, pool_settings
from .strands import conv_output_through, position_axis, reverse_complement_source, strand_merge


#: The windows the MLE counts as sites for each site scope, in words (reports, file headers).
SITE_SCOPES = {
    "sequence": "each sequence's best window",
    "block": "each pooling block's best window",
    "anywhere": "windows anywhere",
}


# Identities at inference time.
_PASS_THROUGH = frozenset({"Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
                           "AlphaDropout", "ActivityRegularization", "Identity"})

# The 2-D ones follow a Conv2D on one-hot DNA (see conv2d.py), whose output has one row.
_GLOBAL_MAX = frozenset({"GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalMaxPooling2D",
                         "GlobalMaxPool2D"})

_ACTIVATION_LAYERS = frozenset({"Activation", "ReLU", "LeakyReLU", "ELU", "PReLU",
                                "ThresholdedReLU", "Softmax"})

# Local max-pools: each block passes on its best window (Keras 1 to 3 share these names).
_MAX_POOLS = frozenset({"MaxPooling1D", "MaxPool1D", "MaxPooling2D", "MaxPool2D"})

_KINDS = {
    "local_pool": _MAX_POOLS | {"AveragePooling1D", "AvgPool1D", "AveragePooling2D", "AvgPool2D"},
    "average": {"GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalAveragePooling2D",
                "GlobalAvgPool2D"},
    "dense": {"Flatten", "Dense", "Reshape", "LSTM", "GRU", "SimpleRNN", "Bidirectional",
              "TimeDistributed"},
    "conv": CONV1D_CLASSES | {"SeparableConv1D", "DepthwiseConv1D", "Conv1DTranspose",
                              "LocallyConnected1D", "Conv2D", "Convolution2D"},
    "merge": {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
              "Dot", "Merge"},
}

# A max written as an op in a functional model: Keras 3 ``keras.ops.max`` and tf.keras's
# ``tf.reduce_max`` / ``tf.math.reduce_max`` (a TFOpLambda naming the function).
_MAX_OPS = frozenset({"Max", "Amax"})

_TF_REDUCE_MAX = frozenset({"math.reduce_max", "reduce_max", "compat.v1.reduce_max"})


class Activation(NamedTuple):
    """A normalised activation: name, pre-activation threshold, and why it is refused."""

    name: str
    threshold: float = 0.0
    problem: str | None = None


@dataclass(frozen=True)
class PatternEnd:
    """Where one path from the conv ends up, with what was seen on the way.

    Attributes
    ----------
    ok : bool
        False once a layer breaks the pattern: no window is selected by a max, so the
        MLE's assumption does not hold (site scope ``anywhere``).
    problem : str or None
        Why it broke.
    chain : tuple of str
        Labels of the layers after the conv.
    activation : Activation or None
        The first non-linear activation layer on the path.
    nonlinear : bool
        Whether a non-linearity (the conv's own included) came before this point.
    threshold : float
        The highest activation threshold seen (a ReLU's ``threshold``), the conv's own
        included.
    folds : tuple
        ``(name, scale, moving_mean, beta)`` of BatchNormalizations to fold, in order.
    strands : str or None
        Set once the path went through a merge of both strands (see :mod:`k2p_keras.model.strands`).
    scope : str
        The site scope where the path ends (a key of :data:`SITE_SCOPES`).
    pool : PoolSpec or None
        The local max-pool, for the ``block`` scope.
    """

    ok: bool
    problem: str | None = None
    chain: tuple = ()
    activation: Activation | None = None
    nonlinear: bool = False
    threshold: float = 0.0
    folds: tuple = ()
    strands: str | None = None
    scope: str = "sequence"
    pool: PoolSpec | None = None

    def step(self, label, **changes):
        """The state after one more acceptable layer."""
        return replace(self, chain=self.chain + (label,), **changes)

    def fail(self, problem, label=None):
        """The state at a layer that breaks the pattern: the sites are the windows anywhere."""
        chain = self.chain + ((label,) if label else ())
        return replace(self, ok=False, problem=problem, chain=chain, scope="anywhere", pool=None)


def _bare_class(entry):
    return str(entry.get("class_name", ""))


def layer_kind(entry):
    """Classify a layer after the conv: pass, activation, batchnorm, global_max, or why not.

    Returns
    -------
    str
        ``"pass"``, ``"activation"``, ``"batchnorm"``, ``"global_max"``, one of the keys
        of the breaking kinds (``"local_pool"``, ``"average"``, ``"dense"``, ``"conv"``,
        ``"merge"``), ``"reduce_max"`` (a max written as an op, see :func:`reduce_axes`),
        ``"custom"`` (a registered custom class) or ``"other"``.
    """
    if not is_builtin(entry):
        return "custom"
    class_name = _bare_class(entry)
    if class_name in _MAX_OPS and str(entry.get("module") or "").startswith("keras.src.ops"):
        return "reduce_max"
    if class_name == "TFOpLambda" and str(entry_config(entry).get("function")) in _TF_REDUCE_MAX:
        return "reduce_max"
    if class_name in _PASS_THROUGH:
        return "pass"
    if class_name in _GLOBAL_MAX:
        return "global_max"
    if class_name in _ACTIVATION_LAYERS:
        return "activation"
    if class_name == "BatchNormalization":
        return "batchnorm"
    for kind, classes in _KINDS.items():
        if class_name in classes:
            return kind
    return "other"


def normalize_activation(value):
    """Turn an ``activation`` config value into an :class:`Activation`.

    Built-ins are strings (``"relu"``); Keras 3 may write a dict naming a function;
    anything custom is refused, since we cannot tell that it is non-decreasing.
    """
    name = "" if value is None else value  # "" and "identity" name linear too
    if isinstance(value, dict):
        module = str(value.get("module") or "keras")
        config = value.get("config")
        if not (module.startswith("keras") and isinstance(config, str)):
            return Activation(str(value.get("class_name", "custom")),
                              problem="a custom activation cannot be checked to be "
                                      "non-decreasing")
        name = config
    name = str(name)
    rule = activation_rule(name)
    if rule is not None and rule.monotone:
        return Activation(rule.name)
    if rule is not None:
        return Activation(name, problem=f"{name} is not non-decreasing, so the best window "
                                        "before and after it can differ")
    return Activation(name, problem=f"activation {name!r} is unknown or custom; it cannot be "
                                    "checked to be non-decreasing")


def conv_activation(entry):
    """The conv layer's own activation (Keras 1 to 3 all call the key ``activation``)."""
    return normalize_activation(entry_config(entry).get("activation"))


def _relu_layer(config):
    slope = float(config.get("negative_slope") or 0.0)
    threshold = float(config.get("threshold") or 0.0)
    max_value = config.get("max_value")
    if slope < 0 or threshold < 0:
        return Activation("relu", threshold, "a ReLU with negative_slope < 0 or "
                                             "threshold < 0 is not non-decreasing")
    if slope > 0:
        return Activation("leaky_relu", threshold)
    if max_value is not None and float(max_value) == 6.0:
        return Activation("relu6", threshold)
    return Activation("relu", threshold)


def _slope_layer(name, slope):
    if slope is not None and float(slope) < 0:
        return Activation(name, problem=f"{name} with a negative slope ({slope}) is not "
                                        "non-decreasing")
    return Activation(name)


def layer_activation(call, get_weights):
    """The :class:`Activation` an activation layer applies, with its parameters checked."""
    config = entry_config(call.entry)
    class_name = _bare_class(call.entry)
    if class_name == "Activation":
        return normalize_activation(config.get("activation"))
    if class_name == "ReLU":
        return _relu_layer(config)
    if class_name == "LeakyReLU":
        # Keras 2 calls the slope alpha, Keras 3 negative_slope
        return _slope_layer("leaky_relu", config.get("negative_slope", config.get("alpha")))
    if class_name == "ELU":
        return _slope_layer("elu", config.get("alpha"))
    if class_name == "ThresholdedReLU":
        theta = float(config.get("theta", 1.0))
        return Activation("relu", theta, None if theta >= 0 else
                          "a ThresholdedReLU with theta < 0 is not non-decreasing")
    if class_name == "PReLU":
        alphas = [np.asarray(w, dtype=np.float64) for w in get_weights(call.name)]
        if alphas and np.all(alphas[0] >= 0):
            return Activation("leaky_relu")
        return Activation("prelu", problem="a PReLU with a negative learned slope is not "
                                           "non-decreasing")
    return normalize_activation(class_name.lower())


def check_activation_layer(call, state, get_weights):
    """Accept a non-decreasing activation layer, or fail with the reason."""
    activation = layer_activation(call, get_weights)
    label = f"{call.class_name}({activation.name})"
    if activation.problem:
        return state.fail(f"{call.class_name} {call.name!r}: {activation.problem}", label)
    if activation.name == "linear":
        return state.step(label)
    first = state.activation if state.activation is not None or state.nonlinear else activation
    # Chained ReLUs: a unit passes them all only above the highest threshold.
    return state.step(label, activation=first, nonlinear=True,
                      threshold=max(state.threshold, activation.threshold))


def _channel_axis_ok(axis, channels_first):
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            return False
        axis = axis[0]
    valid = (1, -2) if channels_first else (2, -1)
    return axis in valid


def fold_batchnorm(call, state, channels_first, get_weights):
    """Fold a BatchNormalization into the conv, or accept it as a positive-scale map.

    At inference it computes ``(x - moving_mean) * scale + beta`` per filter with
    ``scale = gamma / sqrt(moving_variance + epsilon)``. Before any non-linearity this is
    folded exactly into kernel and bias; after one it is accepted when every scale is
    positive (a non-decreasing map). A scale <= 0 reverses or flattens the filter's order.
    """
    config = entry_config(call.entry)
    name = call.name
    if not _channel_axis_ok(config.get("axis", -1), channels_first):
        return state.fail(f"BatchNormalization {name!r} normalises axis {config.get('axis')},"
                          " not the filter axis", call.class_name)
    if config.get("mode", 0) not in (0, None):
        return state.fail(f"BatchNormalization {name!r} uses Keras 1 mode "
                          f"{config.get('mode')}, which normalises per batch",
                          call.class_name)
    scale_on = bool(config.get("scale", True))
    center_on = bool(config.get("center", True))
    weights = [np.asarray(w, dtype=np.float64) for w in get_weights(name)]
    if len(weights) != 2 + scale_on + center_on:
        return state.fail(f"BatchNormalization {name!r} has {len(weights)} weights, expected "
                          f"{2 + scale_on + center_on}", call.class_name)
    gamma = weights.pop(0) if scale_on else 1.0
    beta = weights.pop(0) if center_on else 0.0
    mean, variance = weights
    scale = gamma / np.sqrt(variance + float(config.get("epsilon", 1e-3)))
    scale = np.broadcast_to(scale, mean.shape).astype(np.float64)
    beta = np.broadcast_to(beta, mean.shape).astype(np.float64)
    if np.any(~(scale > 0)):
        bad = [int(i) for i in np.flatnonzero(~(scale > 0))]
        return state.fail(f"BatchNormalization {name!r} has scale <= 0 (gamma <= 0) for "
                          f"filters {bad[:10]}: it reverses or flattens their order, so it "
                          "cannot be folded", call.class_name)
    if state.nonlinear:
        return state.step(f"{call.class_name} (after activation, positive scale)")
    return state.step(f"{call.class_name} (folded)",
                      folds=state.folds + ((name, scale, mean, beta),))


def pattern_after_conv(graph, conv_calls, settings, get_weights, conv_act):
    """Follow every call of the motif conv to the model's output: how the layers after it look.

    Parameters
    ----------
    graph : LayerGraph
    conv_calls : list of LayerCall
        The motif conv's calls, the one on the input first.
    settings : dict
        The conv's settings (``channels_first`` is read).
    get_weights : callable
        ``get_weights(layer_name)``, for BatchNormalization layers to fold.
    conv_act : Activation
        The conv's own activation (:func:`conv_activation`).

    Returns
    -------
    PatternEnd
        OK when every path reaches a global max-pool (scope ``sequence``) or the same local
        max-pool (``block``) through layers that keep each filter's best window; else the
        first layer that breaks the MLE's assumption, and why (``anywhere``).
    """
    start = PatternEnd(ok=True, nonlinear=conv_act.name != "linear", threshold=conv_act.threshold)
    if conv_act.problem:
        first = conv_calls[0]
        return start.fail(f"{first.class_name} {first.name!r}: {conv_act.problem}")
    conv_indices = frozenset(call.index for call in conv_calls)
    end = _merge_ends([end for call in conv_calls
                       for end in _follow(graph, (call.index, 0), settings, get_weights, start, conv_indices)])
    return _check_strands(graph, conv_calls, settings, end)


def _follow(graph, tensor, settings, get_weights, state, conv_indices=frozenset()):
    """Walk every consumer path from ``tensor`` to a global or local max-pool.

    Returns one :class:`PatternEnd` per path: OK at a max-pool, not OK at the first layer
    that breaks the MLE's assumption. ``conv_indices`` are the motif conv's calls, whose
    outputs a strand merge may combine. The walk stops at a local max-pool: what follows
    it does not change which windows it selected.
    """
    consumers = graph.consumers(tensor)
    producer = graph.calls[tensor[0]].name
    if not consumers:
        return [state.fail(f"the output of {producer!r} reaches the model output without a "
                           "global max-pool")]
    ends = []
    for call in consumers:
        kind = layer_kind(call.entry)
        if len(call.inputs) != 1 and kind not in ("other", "custom", "merge"):
            ends.append(state.fail(f"{call.class_name} {call.name!r} reads several tensors",
                                   call.class_name))
        elif kind == "global_max":
            ends.append(_global_max(call, state, settings))
        elif kind == "pass":
            ends.extend(_follow(graph, (call.index, 0), settings, get_weights,
                                state.step(call.class_name), conv_indices))
        elif kind == "activation":
            step = check_activation_layer(call, state, get_weights)
            ends.extend([step] if not step.ok else
                        _follow(graph, (call.index, 0), settings, get_weights, step,
                                conv_indices))
        elif kind == "batchnorm":
            step = fold_batchnorm(call, state, settings["channels_first"], get_weights)
            ends.extend([step] if not step.ok else
                        _follow(graph, (call.index, 0), settings, get_weights, step,
                                conv_indices))
        elif kind == "reduce_max":
            ends.append(_reduce_max(call, state, settings))
        elif kind == "local_pool" and _bare_class(call.entry) in _MAX_POOLS:
            ends.append(_local_max(call, state, settings))
        elif kind == "merge":
            from_conv = [conv_output_through(graph, t, conv_indices, layer_kind)
                         for t in call.inputs]
            merge = strand_merge(call, from_conv, settings["channels_first"])
            if not merge.ok:
                ends.append(state.fail(merge.problem, merge.label))
            else:
                ends.extend(_follow(graph, (call.index, 0), settings, get_weights,
                                    state.step(merge.label, strands="merged"), conv_indices))
        else:
            ends.append(state.fail(_breaking_reason(call, kind), call.class_name))
    return ends


def _reduce_max(call, state, settings):
    """A max over positions written as an op (``keras.ops.max``, ``tf.reduce_max``)."""
    axes = reduce_axes(call)
    wanted = position_axis(settings["channels_first"])
    if axes is not None and sorted({a % 3 for a in axes}) == [wanted]:
        label = call.name if call.class_name == "TFOpLambda" else call.class_name
        return state.step(f"{label}(axis={wanted})")
    return state.fail(f"{call.class_name} {call.name!r} takes the max over axes {axes}, "
                      f"expected the positions axis ({wanted}) only", call.class_name)


def _check_strands(graph, conv_calls, settings, end):
    """A strand merge needs its second input to be the reverse complement of the first."""
    if not end.ok or end.strands is None:
        return end
    notes = []
    for call in conv_calls[1:]:
        kind, text = reverse_complement_source(graph, call, settings["channels_first"])
        if kind == "wrong":
            return end.fail(f"{call.name!r} is merged as a second strand, but {text}")
        notes.append(text)
    return replace(end, strands="; ".join(notes) or "both strands")


def _global_max(call, state, settings):
    try:
        data_format = layer_data_format(entry_config(call.entry))  # Keras 1: dim_ordering
    except ValueError as err:
        return state.fail(f"{call.class_name} {call.name!r} has an unknown {err}", call.class_name)
    conv_format = "channels_first" if settings["channels_first"] else "channels_last"
    if data_format != conv_format:
        return state.fail(f"{call.class_name} {call.name!r} uses {data_format} but the conv "
                          f"writes {conv_format}: it would pool over the filters",
                          call.class_name)
    return state.step(call.class_name)


def pool_of(entry, channels_first):
    """A max-pooling layer as the :class:`PoolSpec` of its blocks along the positions.

    The settings come from :func:`.settings.pool_settings` (Keras 1 to 3 spellings). A
    MaxPooling2D follows a Conv2D on one-hot DNA, whose output has one row and the positions
    along its width: its height must be 1, or its padding ``same`` (one row either way).

    Returns
    -------
    (PoolSpec or None, str or None)
        The pool, or why its blocks cannot be read.
    """
    two_d = _bare_class(entry).endswith("2D")
    try:
        settings = pool_settings(entry, rank=2 if two_d else 1)
    except K2PError as err:
        return None, f"its settings cannot be read ({err.message})"
    conv_format = "channels_first" if channels_first else "channels_last"
    if settings["channels_first"] != channels_first:
        layout = "channels_first" if settings["channels_first"] else "channels_last"
        return None, f"it uses {layout} but the conv writes {conv_format}: it would pool over the filters"
    rows = settings["height_pool"][0] if two_d else 1
    if rows != 1 and settings["padding"] != "same":
        return None, f"it pools {rows} rows, but the conv's output has one row"
    try:
        return PoolSpec(settings["pool_size"], settings["strides"], settings["padding"]), None
    except K2PError as err:
        return None, f"its settings cannot be read ({err.message})"


def _local_max(call, state, settings):
    """A local max-pool: each block passes on its best window (scope ``block``); the walk stops here."""
    pool, problem = pool_of(call.entry, settings["channels_first"])
    if pool is None:
        return state.fail(f"{call.class_name} {call.name!r}: {problem}", call.class_name)
    return state.step(f"{call.class_name}({pool.label})", scope="block", pool=pool)


_REASONS = {
    "local_pool": "average pooling uses every window of each block, not only the best one",
    "average": "average pooling uses every window, not only the best one",
    "dense": "it uses every position, not only the best window",
    "conv": "another convolution before the global max-pool mixes windows",
    "merge": "it merges the conv output with other tensors before the global max-pool",
    "custom": "a custom layer cannot be checked to keep each filter's best window",
}


def _breaking_reason(call, kind):
    reason = _REASONS.get(kind, "the MLE assumes conv -> activation -> global max-pool")
    return f"{call.class_name} {call.name!r}: {reason}"


def _merge_ends(ends):
    """One end for every path: the paths must agree on what was folded, the activation and the pooling.

    Paths that fold different BatchNormalizations leave the kernel unfolded (the PWMs are the
    conv's own); paths through different activations, or pooled differently, select no one
    window: the sites are then the windows anywhere.
    """
    first = ends[0]
    if any([fold[0] for fold in end.folds] != [fold[0] for fold in first.folds] for end in ends[1:]):
        return replace(first.fail("the conv outputs go through different BatchNormalization layers, which "
                                  "cannot all be folded into one kernel: the PWMs are the conv's own"),
                       folds=(), activation=None, threshold=0.0)
    for end in ends:
        if not end.ok:
            return end
    if any(end.activation != first.activation for end in ends[1:]):
        return replace(first.fail("the conv outputs go through different activations"), activation=None,
                       threshold=0.0)
    if any((end.scope, end.pool) != (first.scope, first.pool) for end in ends[1:]):
        return first.fail("the conv outputs are pooled differently on different paths")
    return first


def effective_activation(conv_act, end):
    """The first non-linear activation (the conv's own, else the first layer after it),
    and the highest threshold a unit must pass to be active."""
    if conv_act.name != "linear":
        return conv_act.name, float(end.threshold)
    if end.activation is not None:
        return end.activation.name, float(end.threshold)
    return "linear", 0.0
