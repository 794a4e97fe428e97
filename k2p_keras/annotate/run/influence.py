"""How much does each filter matter to the model's predictions? Nullification, as Basset measured it.

    model file --(runnable_model: Keras, safe mode)--> keras.Model    (a live model as it is)
    keras.Model --(split_at_activation)--> ModelSplit: upstream = the input -> the filters' map
                                           (and its global pool), downstream = the layers after it
    ModelSplit + batches (+ labels) --(filter_influence)--> Influence: per filter, how far the
                                           outputs (and the loss) move when its map is a constant

Each filter's activation map is replaced by a constant, one filter at a time, and the model's
outputs are compared with the untouched model's, sequence by sequence (Kelley et al. 2016,
Basset). A filter's influence is the mean over sequences of the squared change of the outputs,
averaged over each output's units; with labels also the mean change of the loss.

**The constant** (``null=``):

- ``"map"``, Basset's: the map's mean over sequences and positions;
- ``"pooled"``, when a global max or average pool reads the map: the constant that pools to
  the mean over sequences of the pooled value, i.e. of what the next layer reads. A filter that
  is on in every sequence at about the same level then changes nothing. With Basset's constant
  it shifts every prediction alike, which the squared change counts as influence: on the
  bundled example four filters without a planted motif then rank above a CTCF filter
  (planted-motif filters against the rest: AUROC 0.937, against 1.000 with the pooled constant;
  ``benchmarks/paper/results/influence.md``);
- ``"auto"`` (the default): pooled when a global pool follows the map, else map.

**The map** is the conv's output after every per-channel, position-wise layer that follows it
(BatchNormalization, the activation, Dropout): what the next layer reads. Where the model is cut,
and how it is fed (its input length: each longer sequence's centre; a Conv2D's image layout), is
:mod:`k2p_keras.annotate.run.model_split`'s.

**Cost.** With a global pool, the model up to the pool runs once per sequence and the pooled
``(N, F)`` matrix is kept (up to :data:`POOLED_CACHE_BYTES`); only the layers after the pool run
once per filter, on all filters' nullified copies stacked. Without one (the map route), the
model up to the map runs twice (the constants first), the layers after it once per filter.
TensorFlow and Keras load when a model is run.
"""
import dataclasses
import os

import numpy as np

from ..._tf import import_tensorflow
from ...axes import acgt_to_channels, ALPHABET
from ...errors import K2PError, OptionError
from .model_split import check_sequence_lengths, crop_note, model_batches, split_at_activation

__all__ = ["NULLS", "Influence", "filter_influence", "in_model_order", "influence_batch_size", "influence_of_filters",
           "influence_passes", "resolve_null", "runnable_model"]

#: The constants a filter's map may be replaced by (see the module's docstring).
NULLS = ("auto", "pooled", "map")
#: Bytes of activation map per batch run up to the split: the influence's batch size.
MAP_BATCH_BYTES = 64 * 2**20
#: The pooled matrix (N x F float32) is kept between the passes up to this many bytes.
POOLED_CACHE_BYTES = 256 * 2**20
#: Bytes of nullified copies per call of the layers after the pool (filters stacked).
STACK_BYTES = 64 * 2**20

# Losses by the output's activation; a clipped log keeps a saturated sigmoid finite.
_EPSILON = 1e-7
# Characters of Keras's reason for refusing a file that a one-line error quotes.
_REASON_CHARS = 240


def runnable_model(model, weights=None):
    """The Keras model influence runs: a live model as it is; a file loaded by Keras in safe mode.

    Safe mode never runs a Lambda's code nor imports a custom class: such a model cannot be
    loaded from its file (give the live model instead, e.g. ``PWMCallback(influence=True)``).
    An architecture JSON is loaded with its ``weights``.

    Raises
    ------
    K2PError
        In one line, why Keras cannot load the file.
    """
    if isinstance(model, (str, os.PathLike)):
        from ...initializer import load_keras_model  # it subclasses Keras: TensorFlow loads with it

        try:
            return load_keras_model(model, weights)
        except K2PError as err:
            # Keras may quote a whole model config in its first line.
            reason = err.message if len(err.message) <= _REASON_CHARS else err.message[:_REASON_CHARS] + "...)"
            raise K2PError(f"influence runs the model, but {reason}; a live model "
                           f"(extract(model, ...), PWMCallback) can be run", path=err.path) from None
    if hasattr(model, "get_config") and hasattr(model, "layers"):
        return model
    raise K2PError(f"influence runs the model: expected a model file or a keras.Model, got {type(model).__name__}")


def checked_runnable_model(spec, model, weights=None, opened=None, null=None):
    """The model influence runs, after every check that can fail before the scan.

    The sequences' lengths (``opened``: an OpenedSequences, or None) against the model file's
    input first, before Keras loads; then the model loaded (:func:`runnable_model`), cut at
    ``spec``'s layer, ``null`` resolved on that cut when given, and the lengths against the cut
    model's own input when it differs. Both :func:`k2p_keras.extract.plan_extraction` and
    :meth:`k2p_keras.result.ExtractionResult.measure_influence` prepare influence here.
    """
    if opened is not None:
        check_sequence_lengths(spec.input_length, opened.min_length, opened.max_length, path=opened.label)
    runnable = runnable_model(model, weights)
    split = split_at_activation(runnable, spec.layer_name)
    if null is not None:
        resolve_null(null, split)
    if opened is not None and split.input_length != spec.input_length:
        check_sequence_lengths(split.input_length, opened.min_length, opened.max_length, path=opened.label)
    return runnable

def influence_batch_size(length, n_filters):
    """Sequences per batch for influence: :data:`MAP_BATCH_BYTES` of activation map, 16 to 4,096."""
    per_sequence = max(int(length or 1000), 1) * max(int(n_filters), 1) * 4
    return int(min(4096, max(16, MAP_BATCH_BYTES // per_sequence)))



def influence_passes(split, n_sequences):
    """How many times :func:`filter_influence` reads the sequences (1 when the pooled matrix is kept)."""
    if split.pooled and not split.reads_input and n_sequences is not None and \
            n_sequences * split.n_filters * 4 <= POOLED_CACHE_BYTES:
        return 1
    return 2


def resolve_null(null, split):
    """The constant ``null`` stands for on this split: ``"pooled"`` or ``"map"`` (OptionError when impossible)."""
    if null not in NULLS:
        raise OptionError(f"expected one of {', '.join(NULLS)}, got {null!r}", "influence_null")
    if null == "auto":
        return "pooled" if split.pooled else "map"
    if null == "pooled" and not split.pooled:
        raise OptionError(f"no global pool reads the map of {split.layer!r} ({split.describe()}): "
                          "use the map's mean ('map')", "influence_null")
    return null


# ----------------------------------------------------------------------------- labels

def _labels_per_output(labels, split):
    """Labels ``(N, k)`` as one float64 array ``(N, units)`` per output (columns in output order).

    ``(N, 1)`` integer classes of a single softmax output become one-hot rows.
    """
    labels = np.asarray(labels, dtype=np.float64)
    labels = labels[:, None] if labels.ndim == 1 else labels
    units = split.output_units
    if len(units) == 1 and split.output_activations[0] == "softmax" and units[0] > 1 and labels.shape[1] == 1:
        classes = labels[:, 0]
        if np.any((classes != np.round(classes)) | (classes < 0) | (classes >= units[0])):
            raise K2PError(f"labels of one column for a softmax output of {units[0]} classes must be class indices "
                           f"0..{units[0] - 1}")
        return [np.eye(units[0])[classes.astype(int)]]
    if labels.shape[1] != sum(units):
        outputs = ", ".join(f"{name} {n}" for name, n in zip(split.outputs, units))
        raise K2PError(f"labels have {labels.shape[1]} column(s); the model's outputs have {sum(units)} value(s) "
                       f"per sequence ({outputs})")
    bounds = np.cumsum((0,) + units)
    return [labels[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


# ----------------------------------------------------------------------------- the result

@dataclasses.dataclass(eq=False)
class Influence:
    """How far each filter's nullification moves the model's outputs (and its loss).

    Attributes
    ----------
    msq : numpy.ndarray, shape (F,) or (F, outputs)
        Per filter, the mean over sequences of the squared change of the outputs, averaged
        over each output's units; one column per output for a multi-output model.
    delta_loss : numpy.ndarray, shape (F,) or (F, outputs), or None
        With labels: the mean change of the loss per sequence (positive: the model does worse
        without the filter). The loss follows each output's activation: binary cross-entropy
        for sigmoid, categorical cross-entropy for softmax, squared error otherwise.
    base_loss : numpy.ndarray, shape (outputs,), or None
        The untouched model's mean loss per output.
    null : str
        ``"pooled"`` or ``"map"``: which constant replaced the maps.
    null_values : numpy.ndarray, shape (F,)
        The constant of each filter.
    route : str
        ``"pooled"`` (the layers after the global pool were run) or ``"map"``.
    outputs : tuple of str
        The output layers' names (the columns of ``msq``).
    msq_per_unit : list of numpy.ndarray
        Per output, ``(F, units)``: the squared change of every output unit.
    n_sequences : int
    layer : str
    split : str
        Where the model was cut (:meth:`ModelSplit.describe`).
    labels : str or None
        Where the labels came from.
    input_note : str or None
        How the sequences were fed when not as they are: longer than the model's fixed input,
        each one's centre (:func:`k2p_keras.annotate.run.model_split.crop_note`).
    """

    msq: np.ndarray
    delta_loss: np.ndarray | None
    base_loss: np.ndarray | None
    null: str
    null_values: np.ndarray
    route: str
    outputs: tuple
    msq_per_unit: list
    n_sequences: int
    layer: str
    split: str
    labels: str | None = None
    input_note: str | None = None

    @property
    def total(self):
        """Per filter, ``msq`` averaged over the outputs: shape (F,)."""
        return self.msq if self.msq.ndim == 1 else self.msq.mean(axis=1)

    @property
    def total_delta_loss(self):
        """Per filter, the change of the loss summed over the outputs (as Keras sums them), or None."""
        if self.delta_loss is None:
            return None
        return self.delta_loss if self.delta_loss.ndim == 1 else self.delta_loss.sum(axis=1)

    @property
    def columns(self):
        """The summary columns: ``influence``, ``influence_<output>`` (several outputs), ``influence_dloss``."""
        names = ("influence",)
        if self.msq.ndim == 2:
            names += tuple(f"influence_{name}" for name in self.outputs)
        return names + (("influence_dloss",) if self.delta_loss is not None else ())

    def summary_columns(self, f):
        """Filter ``f``'s figures, keyed by :attr:`columns`."""
        values = [self.total[f]] + (list(self.msq[f]) if self.msq.ndim == 2 else [])
        if self.delta_loss is not None:
            values.append(self.total_delta_loss[f])
        return {name: float(v) for name, v in zip(self.columns, values)}

    def describe(self):
        """One line for people: the null, the route, the most influential filters."""
        # Each ranking names its figure: the outputs' change (column influence) and, with labels,
        # the loss's (influence_dloss) rank filters differently and differ in size.
        def top(values):
            return ", ".join(f"{self.layer}_{f} ({values[f]:.3g})" for f in np.argsort(-values, kind="stable")[:3])

        null = "pooled value's" if self.null == "pooled" else "map's"
        fed = f", on {self.input_note}" if self.input_note else ""
        text = (f"influence (each filter replaced by its {null} mean, {self.n_sequences} sequences{fed}): "
                f"most influential by the outputs' mean squared change {top(self.total)}")
        if self.delta_loss is not None:
            labels = f" (labels {self.labels})" if self.labels else ""
            text += f"; by the loss's change{labels} {top(self.total_delta_loss)}"
        return text


# ----------------------------------------------------------------------------- running it

def _as_open_batches(sequences, batch_size):
    if callable(sequences):
        return sequences
    array = np.asarray(sequences, dtype=np.float32)
    if array.ndim != 3:
        raise K2PError(f"expected one-hot sequences (N, length, 4) or a callable returning batches, "
                       f"got shape {array.shape}")
    return lambda: (array[s:s + batch_size] for s in range(0, len(array), batch_size))


def _steps(split):
    """The traced steps of a split, made once (a callback calls them at every dump)."""
    if split._steps:
        return split._steps
    tf = import_tensorflow()
    f64 = tf.float64

    def run_down(cut, x):
        out = split.downstream([cut, x] if split.reads_input else cut, training=False)
        return [tf.cast(o, f64) for o in (out if isinstance(out, (list, tuple)) else [out])]

    def loss(kind, y, p):
        # Per sequence (the last axis holds the output's units), broadcasting over copies.
        if kind == "sigmoid":
            p = tf.clip_by_value(p, _EPSILON, 1 - _EPSILON)
            return -tf.reduce_mean(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p), axis=-1)
        if kind == "softmax":
            return -tf.reduce_sum(y * tf.math.log(tf.clip_by_value(p, _EPSILON, 1.0)), axis=-1)
        return tf.reduce_mean(tf.square(y - p), axis=-1)

    def flat(o, leading):
        return tf.reshape(o, tf.concat([leading, [-1]], 0))

    @tf.function(reduce_retracing=True)
    def up(x):
        found = split.upstream(x, training=False)
        cut_map, pooled = (found[0], found[1]) if split.pooled else (found, found)
        axes = list(range(cut_map.shape.rank - 1))
        return (pooled, tf.reduce_sum(tf.cast(cut_map, f64), axis=axes),
                tf.cast(tf.reduce_prod(tf.shape(cut_map)[:-1]), f64))

    @tf.function(reduce_retracing=True)
    def base(cut, x, ys):
        out = run_down(cut, x)
        n = tf.shape(cut)[:1]
        losses = [tf.reduce_sum(loss(kind, y, flat(o, n))) for kind, y, o in zip(split.output_activations, ys, out)]
        return out, losses

    @tf.function(reduce_retracing=True)
    def nulled_pooled(pooled, x, out0, ys, filters, constants):
        # Every filter of ``filters`` nullified in its own copy of the batch, copies stacked.
        copies, rows = tf.shape(filters)[0], tf.shape(pooled)[0]
        mask = tf.one_hot(filters, split.n_filters, dtype=pooled.dtype)[:, None, :]
        stacked = pooled[None] * (1 - mask) + tf.cast(constants, pooled.dtype)[None, None, :] * mask
        stacked = tf.reshape(stacked, [-1, split.n_filters])
        xs = tf.tile(x, tf.concat([[copies], tf.ones([tf.rank(x) - 1], tf.int32)], 0)) if split.reads_input else x
        out = run_down(stacked, xs)
        squares, changes = [], []
        for k, (kind, o, b) in enumerate(zip(split.output_activations, out, out0)):
            o, b = flat(o, [copies, rows]), flat(b, [1, rows])
            squares.append(tf.reduce_sum(tf.square(o - b), axis=1))
            if ys:
                changes.append(tf.reduce_sum(loss(kind, ys[k][None], o) - loss(kind, ys[k][None], b), axis=1))
        return squares, changes

    @tf.function(reduce_retracing=True)
    def nulled_map(cut_map, x, out0, ys, f, constant):
        mask = tf.one_hot(f, split.n_filters, dtype=cut_map.dtype)
        out = run_down(cut_map * (1 - mask) + tf.cast(constant, cut_map.dtype) * mask, x)
        n = tf.shape(cut_map)[:1]
        squares, changes = [], []
        for k, (kind, o, b) in enumerate(zip(split.output_activations, out, out0)):
            o, b = flat(o, n), flat(b, n)
            squares.append(tf.reduce_sum(tf.square(o - b), axis=0))
            if ys:
                changes.append(tf.reduce_sum(loss(kind, ys[k], o) - loss(kind, ys[k], b)))
        return squares, changes

    split._steps.update(up=up, base=base, nulled_pooled=nulled_pooled, nulled_map=nulled_map, tf=tf)
    return split._steps


def filter_influence(model, sequences, labels=None, *, layer=None, null="auto", batch_size=None, progress=None,
                     labels_source=None):
    """Each filter's influence: the outputs' mean squared change when its map is a constant.

    Parameters
    ----------
    model : keras.Model or str
        A live model, or a model file (loaded by :func:`runnable_model`, safe mode).
    sequences : numpy.ndarray or callable
        One-hot sequences ``(N, length, 4)`` in the model's channel order, or a callable
        returning fresh batches of them (it is called once or twice: :func:`influence_passes`).
        Fed as the model reads them: longer than its fixed input, each one's centre; in its
        Conv2D layout (:func:`k2p_keras.annotate.run.model_split.model_batches`).
    labels : numpy.ndarray, optional
        ``(N,)`` or ``(N, k)``, in the order of the sequences: ``k`` is the outputs' values per
        sequence (columns in output order), or 1 with class indices for one softmax output.
        Adds the change of the loss.
    layer : str, optional
        The conv [default: the motif conv].
    null : {"auto", "pooled", "map"}
        The constant (see the module's docstring).
    batch_size : int, optional
        Sequences per batch for an array [default: :func:`influence_batch_size`].
    progress : callable, optional
        Receives the number of sequences of every batch read.
    labels_source : str, optional
        Where the labels came from, for :attr:`Influence.labels`.

    Returns
    -------
    Influence
    """
    model = runnable_model(model)
    split = split_at_activation(model, layer)
    null = resolve_null(null, split)
    if batch_size is None:
        length = split.input_length or (np.shape(sequences)[1] if not callable(sequences) else None)
        batch_size = influence_batch_size(length, split.n_filters)
    open_batches = model_batches(split, _as_open_batches(sequences, batch_size))
    per_output = None if labels is None else _labels_per_output(labels, split)
    steps = _steps(split)
    tf = steps["tf"]
    n_filters, n_out = split.n_filters, len(split.outputs)

    # Pass 1: the constants (and, on the pooled route, the pooled matrix, kept when it fits).
    pooled_sum, map_sum, positions, n = np.zeros(n_filters), np.zeros(n_filters), 0.0, 0
    kept, keep = [], split.pooled and not split.reads_input
    lengths = [np.inf, 0]  # the sequences' own shortest and longest (before a crop)
    for batch, length in open_batches():
        lengths = [min(lengths[0], length), max(lengths[1], length)]
        pooled, sums, count = steps["up"](tf.constant(batch))
        map_sum += sums.numpy()
        positions += float(count)
        n += len(batch)
        if split.pooled:
            pooled = pooled.numpy()
            pooled_sum += pooled.sum(axis=0, dtype=np.float64)
        if keep:
            kept.append(pooled)
            keep = n * n_filters * 4 <= POOLED_CACHE_BYTES
        if progress is not None:
            progress(len(batch))
    if n == 0:
        raise K2PError("no sequences to measure influence on")
    if not keep:
        kept = None
    if per_output is not None and len(per_output[0]) != n:
        raise K2PError(f"{len(per_output[0])} labels for {n} sequences")
    constants = pooled_sum / n if null == "pooled" else map_sum / positions

    # Pass 2: the layers after the split, once per filter.
    squares = [np.zeros((n_filters, units)) for units in split.output_units]
    changes = np.zeros((n_filters, n_out))
    base_loss = np.zeros(n_out)
    offset = 0
    batches = ((None, p) for p in kept) if kept is not None else ((b, None) for b, _ in open_batches())
    for batch, pooled in batches:
        x = tf.zeros([0]) if batch is None else tf.constant(batch)
        cut = steps["up"](x)[0] if pooled is None else tf.constant(pooled)
        rows = int(cut.shape[0])
        ys = [] if per_output is None else [tf.constant(y[offset:offset + rows]) for y in per_output]
        out0, losses = steps["base"](cut, x, ys)
        if ys:
            base_loss += [float(v) for v in losses]
        if split.pooled:
            row_bytes = 4 * n_filters + (4 * int(np.prod(batch.shape[1:])) if split.reads_input else 0)
            chunk = max(1, min(n_filters, STACK_BYTES // max(rows * row_bytes, 1)))
            for start in range(0, n_filters, chunk):
                filters = tf.range(start, min(start + chunk, n_filters))
                sq, dl = steps["nulled_pooled"](cut, x, out0, ys, filters, tf.constant(constants, tf.float32))
                for k in range(n_out):
                    squares[k][start:start + chunk] += sq[k].numpy()
                    if ys:
                        changes[start:start + chunk, k] += dl[k].numpy()
        else:
            for f in range(n_filters):
                sq, dl = steps["nulled_map"](cut, x, out0, ys, tf.constant(f),
                                             tf.constant(constants[f], tf.float32))
                for k in range(n_out):
                    squares[k][f] += sq[k].numpy()
                    if ys:
                        changes[f, k] += float(dl[k])
        offset += rows
        if progress is not None and kept is None:
            progress(rows)

    per_unit = [s / n for s in squares]
    msq = np.stack([s.mean(axis=1) for s in per_unit], axis=1)
    delta = None if per_output is None else changes / n
    single = n_out == 1
    return Influence(
        msq=msq[:, 0] if single else msq, delta_loss=None if delta is None else (delta[:, 0] if single else delta),
        base_loss=None if per_output is None else base_loss / n, null=null, null_values=constants,
        route="pooled" if split.pooled else "map", outputs=split.outputs, msq_per_unit=per_unit, n_sequences=n,
        layer=split.layer, split=split.describe(),
        labels=labels_source if labels_source is not None else (None if labels is None else "<array>"),
        input_note=crop_note(split.input_length, int(lengths[0]), int(lengths[1])))


def in_model_order(spec, open_batches):
    """Fresh batches (A C G T) in the model's own channel order (``spec.alphabet``), to run the model."""
    if spec.alphabet == ALPHABET:
        return open_batches
    order = acgt_to_channels(spec.alphabet)
    return lambda: (batch[:, :, order] for batch in open_batches())


def influence_of_filters(spec, model, opened, labels=None, labels_source=None, *, null="auto", progress=None):
    """:func:`filter_influence` of the filters of ``spec`` on sequences opened for the scan: the one
    place the extraction (``influence=True``) and ``ExtractionResult.measure_influence`` run it.

    Parameters
    ----------
    spec : ConvSpec
    model : keras.Model
        The model, runnable (:func:`runnable_model`).
    opened : OpenedSequences
        As :func:`k2p_keras.io.sequences.open_batches_for` opens them: canonical batches, read in
        batches of :func:`influence_batch_size` and fed in the model's channel order.
    labels, labels_source, null, progress
        As for :func:`filter_influence`.

    Returns
    -------
    Influence
    """
    size = influence_batch_size(opened.max_length, spec.kernel.shape[2])
    return filter_influence(model, in_model_order(spec, lambda: opened.batches_of_size(size)), labels,
                            layer=spec.layer_name, null=null, progress=progress, labels_source=labels_source)
