"""Reverse-complement designs: which merges of the motif conv's calls are a both-strand scan.

A common genomics design applies one Conv1D to a sequence ``x`` and to its reverse
complement, and merges the two outputs before the global max-pool. ``Maximum`` (or
``Concatenate`` along positions) followed by a global max over positions computes, per
filter, the best window over both strands: exactly the both-strand scan the MLE can model
(``scan_best_windows(..., both_strands=True)``). ``Add``, ``Average`` and the rest mix the
two strands' scores, so a window's score is no longer one PWM's log-likelihood.

Used by :mod:`k2p_keras.model.conv`; reads configs only, runs nothing.
"""

from typing import NamedTuple

from .config import entry_config, is_builtin, reduce_axes

# Merges of the strands that keep "max over windows of both strands".
_STRAND_MAX = frozenset({"Maximum"})
_CONCATENATE = frozenset({"Concatenate"})
# Per-unit layers through which a tensor still is "the conv's output" (before a merge).
_PER_UNIT_KINDS = ("pass", "activation", "batchnorm")
# The ops that reverse a tensor along some axes: Keras 3 ``keras.ops.flip`` and tf.keras's
# ``tf.reverse`` (a TFOpLambda naming the function).
_FLIP_OPS = frozenset({"Flip"})
_TF_REVERSE = frozenset({"reverse", "reverse_v2", "compat.v1.reverse", "compat.v2.reverse"})


class StrandMerge(NamedTuple):
    """What a merge of the motif conv's outputs means.

    Attributes
    ----------
    ok : bool
        The merge keeps each filter's best window over both strands.
    label : str
        How the merge appears in the pattern line.
    problem : str or None
        Why a refused merge breaks the MLE's assumption.
    """

    ok: bool
    label: str
    problem: str | None = None


def _axis_list(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


def _normalised_axes(axes, ndim=3):
    return sorted({axis % ndim for axis in axes})


def position_axis(channels_first):
    """The positions axis of a conv output ``(batch, positions, filters)`` or channels-first."""
    return 2 if channels_first else 1


def strand_merge(call, from_conv, channels_first):
    """Judge a merge layer reading the motif conv's outputs.

    Parameters
    ----------
    call : LayerCall
        The merge.
    from_conv : list of bool
        For each input tensor of the merge: whether it is the motif conv's output (through
        per-unit layers only).
    channels_first : bool
        The conv's data format.

    Returns
    -------
    StrandMerge
    """
    class_name = call.class_name
    where = f"{class_name} {call.name!r}"
    if not all(from_conv) or len(from_conv) < 2:
        return StrandMerge(False, class_name, f"{where}: it merges the conv output with other "
                                              "tensors before the global max-pool")
    if class_name in _STRAND_MAX:
        return StrandMerge(True, f"{class_name} (both strands)")
    if class_name in _CONCATENATE:
        axis = entry_config(call.entry).get("axis", -1)
        try:
            axis = _normalised_axes(_axis_list(axis))
        except (TypeError, ValueError):
            axis = None
        if axis == [position_axis(channels_first)]:
            return StrandMerge(True, f"{class_name} (positions, both strands)")
        return StrandMerge(False, class_name, f"{where}: it concatenates along axis {axis} "
                                              "(the filters), so each strand is pooled on its "
                                              "own; concatenate along positions or merge with "
                                              "Maximum")
    return StrandMerge(False, class_name, f"{where}: it combines the strands' scores "
                                          "window by window, so a window's score is no longer "
                                          "one PWM's log-likelihood; only Maximum (or "
                                          "Concatenate along positions) before the global "
                                          "max-pool is a both-strand scan")


def _flip_axes(call):
    """The axes a Flip op or a tf.reverse reverses, or None when the call is neither."""
    config = entry_config(call.entry)
    if call.class_name in _FLIP_OPS and is_builtin(call.entry):
        return _axis_list(config.get("axis"))
    if call.class_name == "TFOpLambda" and str(config.get("function")) in _TF_REVERSE:
        return reduce_axes(call)
    return None


def reverse_complement_source(graph, call, channels_first):
    """How the second strand reaches a conv call that does not read the model input.

    Follows Flip ops (``keras.ops.flip``) and ``tf.reverse`` back to the model input: a
    reverse complement reverses the positions and the channels (A C G T -> T G C A).

    Returns
    -------
    tuple
        ``(kind, text)``: ``"checked"`` (flips of positions and channels back to the input),
        ``"assumed"`` (a Lambda or custom layer we do not run), or ``"wrong"`` with why.
    """
    flipped = []
    tensor = call.inputs[0] if call.inputs else None
    steps = []
    while tensor is not None:
        source = graph.calls[tensor[0]]
        if source.class_name == "InputLayer":
            break
        axes = _flip_axes(source)
        if axes is None:
            what = "Lambda" if source.class_name == "Lambda" else f"{source.class_name}"
            return "assumed", (f"reverse complement assumed: {what} {source.name!r} is "
                               "not run")
        flipped.extend(axes)
        steps.append(source.name)
        tensor = source.inputs[0] if source.inputs else None
    if tensor is None:
        return "assumed", "reverse complement assumed"
    # An axis flipped twice is not flipped.
    net = sorted(a for a in set(_normalised_axes(flipped)) if
                 sum(1 for b in flipped if b % 3 == a) % 2 == 1)
    expected = [1, 2]
    if net == expected:
        return "checked", f"reverse complement checked: {' + '.join(steps)} flips positions and bases"
    if not steps:
        return "wrong", "the second call reads the model input itself, not its reverse complement"
    return "wrong", (f"{' + '.join(steps)} flips axes {net}, not positions and bases "
                     f"({expected}): not a reverse complement")


def conv_output_through(graph, tensor, conv_indices, kind_of):
    """Whether ``tensor`` is a motif conv call's output, through per-unit layers only."""
    while True:
        source = graph.calls[tensor[0]]
        if source.index in conv_indices:
            return True
        if len(source.inputs) != 1 or kind_of(source.entry) not in _PER_UNIT_KINDS:
            return False
        tensor = source.inputs[0]
