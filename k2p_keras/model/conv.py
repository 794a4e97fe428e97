"""Find the motif Conv1D of a model, and which of its windows are the motif's sites.

The MLE for the base (docs/base-estimation.md) assumes ``input -> Conv1D -> non-decreasing activation
-> global max-pool``: a non-decreasing activation commutes with the max, so every sequence
has one best window per filter (a local max-pool: one per pooling block). This module walks a
model's config (plain dicts, from a file or a live model), finds the first Conv1D reading the
one-hot input, folds a BatchNormalization that sits between the conv and its activation into
the kernel and bias, and reports the site scope (:mod:`.after_conv`): whether the pattern
holds, and if not, which layer breaks it and why.

No TensorFlow and no file I/O here: weights come through a ``get_weights(layer_name)``
callable. :func:`find_motif_conv_in_file` and :func:`find_motif_conv_in_model` wire it to a
model file or a live Keras model.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..axes import ALPHABET, channels_to_acgt
from ..errors import K2PError
from ..scan.windows import PoolSpec
from ..validate import check_alphabet, check_kernel_length
from .after_conv import conv_activation, effective_activation, pattern_after_conv, SITE_SCOPES
from .config import build_layer_graph, entry_name, input_shape, is_builtin, is_conv1d
from .conv2d import conv2d_as_conv1d, is_conv2d, sequence_length
from .files import read_model
from .settings import conv_settings
from .strands import reverse_complement_source


_MAX_LISTED = 40


@dataclass(frozen=True, eq=False)
class ConvSpec:
    """The motif convolution, ready for the scan, and how the layers after it look.

    Attributes
    ----------
    layer_name : str
        The Conv1D layer's name.
    kernel : numpy.ndarray
        ``(L_eff, 4, F)`` float64 kernel in cross-correlation orientation, with a
        BatchNormalization folded in and dilation expanded (zero rows in the gaps,
        ``L_eff = (k - 1) * dilation_rate + 1``).
    bias : numpy.ndarray
        ``(F,)`` float64 bias (zeros when the layer has none), BatchNormalization folded in.
    padding : str
        ``"valid"``, ``"same"`` or ``"causal"``.
    strides : int
        Step between windows.
    dilation_rate : int
        As in the layer (the kernel is already expanded).
    channels_first : bool
        True when the layer reads ``(batch, 4, length)``.
    activation : str
        Normalised name of the first non-linear activation after the conv (``"linear"``
        when there is none), e.g. ``"relu"``, ``"sigmoid"``, ``"leaky_relu"``.
    active_threshold : float
        Pre-activation value above which a unit counts as active (ReLU's ``threshold``).
    input_length : int or None
        Sequence length of the model input, when fixed.
    pattern : list of str
        The chain of layers from the conv to the global (or local) max-pool, or to the first
        layer that breaks the pattern.
    pattern_ok : bool
        Whether the MLE's assumption holds: conv -> non-decreasing activation -> global
        max-pool, or a local max-pool (the PWMs are exact either way).
    problem : str or None
        Why it does not hold.
    scope : str
        Which windows are the motif's sites (a key of :data:`k2p_keras.model.after_conv.SITE_SCOPES`):
        ``"sequence"`` (each sequence's best window: a global max-pool), ``"block"`` (each
        pooling block's best window: a local max-pool, ``pool``) or ``"anywhere"`` (no window
        is selected: the pattern does not hold).
    pool : PoolSpec or None
        The local max-pool's blocks, for the ``block`` scope.
    folded_batchnorms : tuple of str
        Names of the BatchNormalization layers folded into kernel and bias (empty if none).
    layers_found : list of str
        ``"name (Class)"`` for every layer of the model, for messages.
    both_strands_hint : bool
        True when the conv layer is called more than once (e.g. on a sequence and on its
        reverse complement).
    both_strands : bool
        True when the graph itself scans both strands: the conv's calls on the sequence and
        on its reverse complement merged by Maximum (or Concatenate along positions) before
        the global max-pool.
    strand_note : str or None
        How the reverse complement was seen (checked through Flip ops, or assumed through a
        Lambda or custom layer that is not run), when ``both_strands``.
    conv2d_layout : str or None
        For a Conv2D on one-hot DNA read as a Conv1D: its layout, a key of
        :data:`k2p_keras.model.conv2d.LAYOUTS` (``kernel`` is then the equivalent Conv1D kernel).
    alphabet : str
        The order of the model's one-hot channels (``"ACGT"``, ``"ATCG"``, ...). ``kernel`` is
        in A C G T order whatever it is; the layer itself reads this order.
    """

    layer_name: str
    kernel: np.ndarray
    bias: np.ndarray
    padding: str
    strides: int
    dilation_rate: int
    channels_first: bool
    activation: str
    active_threshold: float
    input_length: int | None
    pattern: list = field(default_factory=list)
    pattern_ok: bool = True
    problem: str | None = None
    scope: str = "sequence"
    pool: PoolSpec | None = None
    folded_batchnorms: tuple = ()
    layers_found: list = field(default_factory=list)
    both_strands_hint: bool = False
    both_strands: bool = False
    strand_note: str | None = None
    conv2d_layout: str | None = None
    alphabet: str = ALPHABET

    @property
    def filters(self):
        """Number of filters F."""
        return int(self.kernel.shape[2])

    @classmethod
    def from_kernel(cls, kernel, bias=None, name="kernel"):
        """A bare kernel as a layer: valid padding, stride 1, linear, the pattern taken as given.

        For kernels without a model (k2p-1.0's ``kernel2pwm-mle``): whoever passes them
        vouches that they were used as conv -> non-decreasing activation -> global max.

        Parameters
        ----------
        kernel : numpy.ndarray, shape (L, 4, F)
            Cross-correlation kernel (Keras orientation).
        bias : numpy.ndarray, shape (F,), optional
        name : str
            Names the motifs ``<name>_<index>``.
        """
        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.ndim != 3 or kernel.shape[1] != 4 or 0 in kernel.shape:
            raise K2PError(f"expected a kernel of shape (L, 4, F) with L, F >= 1, got {kernel.shape}")
        bias = np.zeros(kernel.shape[2]) if bias is None else np.asarray(bias, dtype=np.float64)
        return cls(layer_name=name, kernel=kernel, bias=bias, padding="valid", strides=1, dilation_rate=1,
                   channels_first=False, activation="linear", active_threshold=0.0, input_length=None,
                   pattern=[f"{name} (kernel)"], layers_found=[f"{name} (kernel)"])

    @property
    def sites_text(self):
        """The windows that are the sites, in words: ``each sequence's best window``, ..."""
        return SITE_SCOPES[self.scope]

    def chain(self):
        """The layers from the conv to the pool, joined by arrows (with the strands merged, if so)."""
        chain = " -> ".join(self.pattern)
        if self.both_strands and self.pattern_ok:
            chain += f" [both strands: {self.strand_note}]"
        return chain

    def report(self):
        """One line: the chain of layers, whether the MLE's assumption holds, and the sites when not each sequence's.

        Returns
        -------
        str
            E.g. ``motif_conv (Conv1D, relu) -> GlobalMaxPooling1D: OK``, ``... ->
            MaxPooling1D(3, strides 3, valid) [sites: each pooling block's best window]: OK``.
        """
        chain = self.chain()
        if self.scope != "sequence":
            chain += f" [sites: {self.sites_text}]"
        return f"{chain}: OK" if self.pattern_ok else f"{chain}: NOT OK ({self.problem})"


def find_motif_conv(model_config, get_weights, layer=None, alphabet=ALPHABET):
    """Find the Conv1D reading the one-hot input and check conv -> activation -> max-pool.

    Parameters
    ----------
    model_config : dict
        Top-level ``{"class_name": ..., "config": ...}`` of a model file, or of a live
        Keras model (``{"class_name": type(m).__name__, "config": m.get_config()}``).
    get_weights : callable
        ``get_weights(layer_name)`` returns that layer's weights (list of arrays, Keras
        order), e.g. :meth:`k2p_keras.model.model_file.ModelFile.weights`.
    layer : str, optional
        Name of the Conv1D to use instead of the first one on the input.
    alphabet : str
        The order of the model's one-hot channels; the kernel is put in A C G T order.

    Returns
    -------
    ConvSpec
        A broken pattern does not raise: ``pattern_ok`` is False, ``problem`` says why, and
        the sites are the windows anywhere (``scope``).

    Raises
    ------
    K2PError
        When there is no suitable Conv1D (none at all, none on the input, a custom conv on
        the input, ``layer`` not found or not a Conv1D), it does not read 4 channels (extra
        channels beside A C G T included), it is grouped, or its settings or weights cannot
        be used.
    """
    alphabet = check_alphabet(alphabet)
    graph = build_layer_graph(model_config)
    layers_found = _layers_found(graph)
    conv_calls = _choose_conv_calls(graph, layer, layers_found)
    first = conv_calls[0]
    layout = None
    if is_conv2d(first.entry):
        settings = conv_settings(first.entry, first.name, rank=2)
        weights = _stored_weights(first.name, get_weights)
        reading = conv2d_as_conv1d(first.name, settings, weights[0])
        layout, kernel = reading.layout, reading.kernel
        bias = _bias(first.name, settings, weights, kernel.shape[2])
    else:
        settings = conv_settings(first.entry, first.name)
        kernel, bias = _conv_weights(first.name, settings, get_weights)
    kernel = kernel[:, channels_to_acgt(alphabet), :]

    conv_act = conv_activation(first.entry)
    end = _strands_in_alphabet(graph, conv_calls, settings, alphabet,
                               pattern_after_conv(graph, conv_calls, settings, get_weights, conv_act))
    for _, scale, mean, beta in end.folds:
        kernel = kernel * scale[np.newaxis, np.newaxis, :]
        bias = (bias - mean) * scale + beta
    input_length = _input_length(graph, conv_calls, settings["channels_first"], layout)
    # Before the dilation is expanded into zero rows: a forged dilation would allocate terabytes.
    check_kernel_length(kernel.shape[0], settings["dilation_rate"], input_length,
                        what=f"{first.class_name} {first.name!r}")
    activation, threshold = effective_activation(conv_act, end)
    conv_label = f"{first.name} ({first.class_name}, {conv_act.name})"
    if layout is not None:
        conv_label = f"{first.name} ({first.class_name} on one-hot DNA as Conv1D, {layout} layout, {conv_act.name})"
    return ConvSpec(
        layer_name=first.name,
        kernel=_expand_dilation(kernel, settings["dilation_rate"]),
        bias=bias,
        padding=settings["padding"],
        strides=settings["strides"],
        dilation_rate=settings["dilation_rate"],
        channels_first=settings["channels_first"],
        activation=activation,
        active_threshold=threshold,
        input_length=input_length,
        pattern=[conv_label] + list(end.chain),
        pattern_ok=end.ok,
        problem=end.problem,
        scope=end.scope,
        pool=end.pool,
        folded_batchnorms=tuple(fold[0] for fold in end.folds),
        layers_found=layers_found,
        both_strands_hint=len(graph.calls_of(first.name)) >= 2,
        both_strands=end.ok and end.strands is not None,
        strand_note=end.strands,
        conv2d_layout=layout,
        alphabet=alphabet,
    )


def _strands_in_alphabet(graph, conv_calls, settings, alphabet, end):
    """A second strand made by flipping the channels is the complement only when the channel order
    reversed is its complement (A C G T -> T G C A; not A T C G -> G C T A)."""
    complemented = alphabet.translate(str.maketrans("ACGT", "TGCA"))
    if not end.ok or end.strands is None or alphabet[::-1] == complemented:
        return end
    kinds = [reverse_complement_source(graph, call, settings["channels_first"])[0] for call in conv_calls[1:]]
    if "checked" not in kinds:
        return end
    return end.fail(f"the second strand flips the channels, which in the channel order {alphabet} gives "
                    f"{alphabet[::-1]}, not the complement {complemented}: the model does not scan the "
                    "reverse complement")


def _layers_found(graph):
    seen, found = set(), []
    for _, entry in graph.layers:
        name = entry_name(entry)
        if name not in seen:
            seen.add(name)
            found.append(f"{name} ({entry.get('class_name')})")
    return found


def _listing(items):
    items = list(items)
    if len(items) > _MAX_LISTED:
        items = items[:_MAX_LISTED] + [f"... {len(items) - _MAX_LISTED} more"]
    return ", ".join(items) if items else "none"


def _reads_input(graph, call):
    return any(graph.calls[tensor[0]].class_name == "InputLayer" for tensor in call.inputs)


def _may_read_one_hot(graph, call):
    """Whether the model input a conv call reads may be one-hot DNA: its shape says 4 channels,
    or says nothing.

    A Conv1D's input is ``(length, channels)`` (``(channels, length)`` channels-first); a
    Conv2D's is one of :data:`k2p_keras.model.conv2d.LAYOUTS`: one axis of 4 bases, one of 1.
    """
    for tensor in call.inputs:
        source = graph.calls[tensor[0]]
        shape = input_shape(source.entry) if source.class_name == "InputLayer" else None
        if shape is None:
            continue
        if len(shape) == 4:
            return 4 in shape[1:] and 1 in shape[1:]
        if len(shape) == 3:
            try:
                channels_first = conv_settings(call.entry, call.name)["channels_first"]
            except K2PError:
                return True  # its settings are refused, with the reason, once it is chosen
            return (shape[1] if channels_first else shape[2]) in (4, None)
    return True


def _is_custom_conv(entry):
    """A registered custom class named like a convolution (``my>MaskedConv1D``)."""
    bare = str(entry.get("class_name", "")).split(">")[-1]
    return not is_builtin(entry) and "conv" in bare.lower()


def _custom_conv_problem(call):
    return (f"layer {call.name!r} ({call.class_name}) reads the one-hot input but is a custom class: "
            "k2p-keras reads the model without running it, so it cannot tell that the layer computes "
            "a plain convolution (a mask, tied or constrained weights, another padding would change "
            "it) and the PWMs would not be exact; what works: copy its kernel and bias into a "
            "keras.layers.Conv1D in its place and save that model, or name a built-in Conv1D (--layer)")


def _choose_conv_calls(graph, layer, layers_found):
    """The calls of the motif conv: the first Conv1D on a one-hot input, or the named one.

    With several inputs, a conv reading an input of four channels (or of unstated shape) is
    preferred to one reading another input, whichever comes first.
    """
    # Config order is the order of model.layers, what model.summary() shows
    conv_names = []
    for _, entry in graph.layers:
        name = entry_name(entry)
        if (is_conv1d(entry) or is_conv2d(entry)) and name not in conv_names and graph.calls_of(name):
            conv_names.append(name)
    listed = _listing(repr(name) for name in conv_names)
    if layer is not None:
        calls = graph.calls_of(layer)
        if not calls:
            raise K2PError(f"no layer named {layer!r}; Conv1D layers: {listed}")
        if _is_custom_conv(calls[0].entry):
            raise K2PError(_custom_conv_problem(calls[0]))
        if not (is_conv1d(calls[0].entry) or is_conv2d(calls[0].entry)):
            raise K2PError(f"layer {layer!r} is a {calls[0].class_name}, not a Conv1D; "
                           f"Conv1D layers: {listed}")
        on_input = [call for call in calls if _reads_input(graph, call)]
        return on_input + [call for call in calls if call not in on_input]
    custom = [call for call in graph.calls if _is_custom_conv(call.entry) and _reads_input(graph, call)]
    candidates = []
    for name in conv_names:
        calls = graph.calls_of(name)
        on_input = [call for call in calls if _reads_input(graph, call)]
        if on_input:
            candidates.append(on_input + [call for call in calls if call not in on_input])
    for calls in candidates:
        if _may_read_one_hot(graph, calls[0]):
            return calls
    if custom:
        raise K2PError(_custom_conv_problem(custom[0]))
    if candidates:
        return candidates[0]  # reads another number of channels: its weights say how many
    if not conv_names:
        raise K2PError(f"no Conv1D layer found; layers: {_listing(layers_found)}")
    first = graph.calls_of(conv_names[0])[0]
    source = graph.calls[first.inputs[0][0]] if first.inputs else None
    reads = f"{source.name!r} ({source.class_name})" if source else "nothing"
    raise K2PError(f"no Conv1D reads the one-hot model input: the first, {first.name!r}, "
                   f"reads {reads} (name the layer explicitly to use it anyway); "
                   f"layers: {_listing(layers_found)}")


def _stored_weights(name, get_weights):
    weights = [np.asarray(w, dtype=np.float64) for w in get_weights(name)]
    if not weights:
        raise K2PError(f"no weights found for conv layer {name!r}, expected a kernel and a bias")
    return weights


def _contradiction(name, said, stored):
    """A config that contradicts the stored weights: the weights are what the model computed with."""
    warnings.warn(f"conv layer {name!r}: the config says {said} but the file stores {stored}; "
                  "trusting the stored weights")


def _bias(name, settings, weights, filters):
    """The stored bias ``(F,)``, zeros without one (whatever ``use_bias`` says)."""
    if len(weights) < 2:
        if settings["use_bias"]:
            _contradiction(name, "use_bias=True", "no bias (using 0)")
        return np.zeros(filters)
    if weights[1].shape != (filters,):
        raise K2PError(f"conv layer {name!r} stores a bias of shape {weights[1].shape}, "
                       f"expected ({filters},), one per filter of its kernel")
    if not settings["use_bias"]:
        _contradiction(name, "use_bias=False", "a bias")
    return weights[1]


def _conv_weights(name, settings, get_weights):
    """Kernel ``(k, 4, F)`` and bias ``(F,)`` as float64, after checking channels and groups."""
    weights = _stored_weights(name, get_weights)
    kernel = weights[0]
    if kernel.ndim != 3:
        raise K2PError(f"Conv1D {name!r} has a kernel of shape {kernel.shape}, expected "
                       "(length, channels, filters)")
    channels = kernel.shape[1] * settings["groups"]
    if channels > 4:
        # e.g. A C G T plus conservation or accessibility tracks: the PWM would be exact for
        # the bases' part of each window's score only.
        raise K2PError(f"Conv1D {name!r} reads {channels} channels, expected 4 (one-hot A C G T): a PWM "
                       f"holds the four bases only and cannot hold what {channels - 4} more channels add "
                       "to the filter's output (log_b P + d would not equal the conv); what works: a conv "
                       "reading the four bases alone, other tracks joined after it or through an input "
                       "of their own")
    if channels != 4:
        raise K2PError(f"Conv1D {name!r} reads {channels} channels, expected 4 "
                       "(one-hot A C G T)")
    if settings["groups"] != 1:
        raise K2PError(f"Conv1D {name!r} has groups={settings['groups']}: each filter sees "
                       "only some of the four bases, so it has no PWM; expected groups=1")
    size = settings["kernel_size"]
    if size is not None and kernel.shape[0] != size:
        _contradiction(name, f"kernel_size={size}", f"a kernel of length {kernel.shape[0]}")
    filters = settings["filters"]
    if filters is not None and filters != kernel.shape[2]:
        _contradiction(name, f"filters={filters}", f"{kernel.shape[2]} filters")
    return kernel, _bias(name, settings, weights, kernel.shape[2])


def _expand_dilation(kernel, dilation):
    """Insert ``dilation - 1`` zero rows between kernel rows: same output, plain kernel."""
    if dilation == 1:
        return kernel
    length = (kernel.shape[0] - 1) * dilation + 1
    expanded = np.zeros((length,) + kernel.shape[1:])
    expanded[::dilation] = kernel
    return expanded


def _input_length(graph, conv_calls, channels_first, layout=None):
    for call in conv_calls:
        for tensor in call.inputs:
            source = graph.calls[tensor[0]]
            if source.class_name != "InputLayer":
                continue
            shape = input_shape(source.entry)
            if layout is not None:
                return sequence_length(layout, shape)
            if shape is None or len(shape) != 3:
                return None
            channels = shape[1] if channels_first else shape[2]
            if channels not in (None, 4):
                _contradiction(call.name, f"the model input has {channels} channels", "a kernel reading 4")
            length = shape[2] if channels_first else shape[1]
            return int(length) if isinstance(length, int) else None
    return None


def find_motif_conv_in_file(path, layer=None, weights=None, alphabet=ALPHABET):
    """Read a model file and find its motif conv (see :func:`find_motif_conv`).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.h5`` or ``.keras`` model file or folder, or an architecture JSON with
        ``weights``; nothing in it is executed.
    layer : str, optional
        Name of the Conv1D to use.
    weights : str or os.PathLike, optional
        The weights file of an architecture JSON (see :func:`k2p_keras.model.files.read_model`).
    alphabet : str
        The order of the model's one-hot channels.

    Returns
    -------
    ConvSpec
    """
    model_file = read_model(path, weights=weights)
    try:
        return find_motif_conv(model_file.config, model_file.weights, layer=layer, alphabet=alphabet)
    except K2PError as exc:
        if exc.path is None:
            raise K2PError(exc.message, path=model_file.path) from exc
        raise


def find_motif_conv_in_model(keras_model, layer=None, alphabet=ALPHABET):
    """Find the motif conv of a live Keras model (see :func:`find_motif_conv`).

    Parameters
    ----------
    keras_model : keras.Model
        A Sequential or Functional model (nested models are searched too).
    layer : str, optional
        Name of the Conv1D to use.
    alphabet : str
        The order of the model's one-hot channels.

    Returns
    -------
    ConvSpec
    """
    try:
        config = keras_model.get_config()
    except NotImplementedError as exc:
        raise K2PError(f"model {keras_model.name!r} has no config (a subclassed Model?); "
                       "expected a Sequential or Functional model") from exc
    model_config = {"class_name": type(keras_model).__name__, "config": config}

    def get_weights(name):
        found = find_live_layer(keras_model, name)
        if found is None:
            raise K2PError(f"no layer named {name!r} in model {keras_model.name!r}")
        return [np.array(w, dtype=np.float64) for w in found.get_weights()]

    return find_motif_conv(model_config, get_weights, layer=layer, alphabet=alphabet)


def find_live_layer(model, name):
    """The layer called ``name`` in a live Keras model, nested models included, or None.

    Breadth-first through ``model.layers`` and the layers of nested models.
    """
    queue = list(getattr(model, "layers", []))
    while queue:
        candidate = queue.pop(0)
        if candidate.name == name:
            return candidate
        queue.extend(getattr(candidate, "layers", None) or [])
    return None
