"""Motifs into Conv1D filters: the inverse transformation applied to a Keras layer.

Each motif's PWM becomes a kernel ``W[i, a] = log_b P[i, a] + shift``
(:func:`k2p_keras.transform.pwm_to_kernel`, Keras cross-correlation order: PWM row ``i`` is
kernel row ``i``), so that, with a zero bias, the filter scores every window by
``log_b P(window) + width * shift``: transforming the layer back with the same base gives the
motif again. A motif shorter than the kernel is padded with zero kernel rows, which are
uniform PWM rows (a constant row's softmax is 0.25 everywhere) and add nothing to the
filter's output; ``align`` says where the motif sits.

:func:`set_conv_from_meme` seeds an existing layer; :class:`PWMInitializer` is a Keras
kernel initializer for a layer being built (serialisable: the motifs travel in its config).
"""
import contextlib
import math
import os
import tempfile
import warnings

import numpy as np

from ._tf import import_tensorflow
from .errors import K2PError
from .io.meme import MemeFile, Motif, motif_base, read_meme
from .io.text import atomic_path
from .model.activations import ACTIVATIONS
from .model.files import read_model, write_whole_model
from .model.conv import find_live_layer, find_motif_conv_in_model
from .transform import pwm_to_kernel
from .validate import check_base

# Subclassing Keras needs Keras now; TensorFlow's start-up lines are hidden while it loads
# (nothing happens when it is loaded already, as in a notebook that built a model).
import_tensorflow()
import keras  # noqa: E402

ALIGNMENTS = ("center", "left", "right")


def _as_motifs(source, names=None):
    """A MEME path, MemeFile, Motif, list of Motifs / (L, 4) arrays -> list of Motif (``names`` picks)."""
    if isinstance(source, (str, os.PathLike)):
        source = read_meme(source)
    if isinstance(source, MemeFile):
        meme = source
    else:
        items = [source] if isinstance(source, Motif) or np.ndim(source) == 2 else list(source)
        meme = MemeFile(motifs=[m if isinstance(m, Motif) else Motif(f"motif_{k + 1}", np.asarray(m, float))
                                for k, m in enumerate(items)])
    if names is None:
        return list(meme.motifs)
    if isinstance(names, str):
        names = [names]
    return [meme.get(name) for name in names]


def motifs_to_kernel(motifs, kernel_length, base=None, shift=0.0, align="center", delta=None,
                     shift_by_minimum=False):
    """Kernel columns for some motifs: ``(kernel_length, 4, len(motifs))`` float64.

    Parameters
    ----------
    motifs : list of Motif
    kernel_length : int
        The layer's kernel size; longer motifs are refused.
    base : float, optional
        The logarithm's base ``b > 1``. By default each motif's own: the ``ln_b``
        k2p-keras recorded in its alternate name (``ln_b=...,SE=...``), else e.
    shift : float
        Added to every motif row (not to the padding rows, which stay zero).
    align : {"center", "left", "right"}
        Where a shorter motif sits in the kernel (``"center"`` puts an odd leftover row
        on the right).
    delta, shift_by_minimum
        As for :func:`k2p_keras.transform.pwm_to_kernel`.

    Returns
    -------
    numpy.ndarray
    """
    bases = [check_base(motif_base(m, base)) for m in motifs]
    if align not in ALIGNMENTS:
        raise K2PError(f"align must be one of {', '.join(ALIGNMENTS)}, got {align!r}")
    kernel = np.zeros((kernel_length, 4, len(motifs)))
    for f, (motif, b) in enumerate(zip(motifs, bases)):
        if motif.width > kernel_length:
            raise K2PError(f"motif {motif.name!r} has {motif.width} positions, more than the kernel's "
                           f"{kernel_length}; use a layer with kernel_size >= {motif.width}")
        rows = pwm_to_kernel(motif.pwm, b, delta=delta, shift=shift, shift_by_minimum=shift_by_minimum,
                             name=f"motif {motif.name}")
        spare = kernel_length - motif.width
        start = {"left": 0, "right": spare, "center": spare // 2}[align]
        kernel[start:start + motif.width, :, f] = rows
    return kernel


def _check_room(n_motifs, n_filters, what):
    if n_motifs > n_filters:
        raise K2PError(f"{n_motifs} motifs but {what} has only {n_filters} filters; "
                       "choose fewer motifs or use more filters")
    if n_motifs == 0:
        raise K2PError("no motifs to set")


def set_conv_from_meme(layer, meme, base=None, shift=0.0, align="center", motifs=None, delta=None,
                       shift_by_minimum=False):
    """Set the first filters of a built Conv1D layer to motifs from a MEME file.

    Filter ``k`` gets motif ``k`` (``W = log_b P + shift``) and a **bias of 0**; the filters
    after the last motif keep the weights they have (the layer's own initialisation, or
    training).

    Parameters
    ----------
    layer : keras.layers.Conv1D
        Built (part of a model, or called once), 4 input channels, no dilation.
    meme : str, os.PathLike, MemeFile or list of Motif
        The motifs.
    base : float, optional
        Base ``b > 1`` of the logarithm; transforming the layer back with the same base
        gives the motifs back. By default each motif's own: the ``ln_b`` recorded in the
        MEME files k2p-keras writes (so the filters come back as the model had them), else e.
    shift : float
        Added to every motif entry, e.g. to keep a ReLU from zeroing the signal.
    align : {"center", "left", "right"}
        Where a motif shorter than the kernel sits; the other rows are zero (uniform).
    motifs : str or list of str, optional
        Names of the motifs to use, in filter order [default: all, in file order].
    delta, shift_by_minimum
        As for :func:`k2p_keras.transform.pwm_to_kernel` (zero probabilities, shifting).

    Returns
    -------
    list of str
        The names of the motifs set, filter ``k`` holding the ``k``-th.

    Raises
    ------
    K2PError
        More motifs than filters, a motif longer than the kernel, a layer that is not a
        built Conv1D on 4 channels, or a dilated one.
    """
    if not isinstance(layer, keras.layers.Conv1D):
        raise K2PError(f"expected a Conv1D layer, got {type(layer).__name__} {getattr(layer, 'name', '')!r}")
    if not layer.built:
        raise K2PError(f"layer {layer.name!r} is not built yet: add it to a model (or call it) first, "
                       "or give it kernel_initializer=PWMInitializer(...)")
    dilation = tuple(np.ravel(layer.dilation_rate))
    if any(d != 1 for d in dilation) or getattr(layer, "groups", 1) != 1:
        raise K2PError(f"layer {layer.name!r} is dilated or grouped; motifs fill contiguous, "
                       "ungrouped kernels only")
    weights = layer.get_weights()
    kernel = weights[0]
    if kernel.shape[1] != 4:
        raise K2PError(f"layer {layer.name!r} reads {kernel.shape[1]} channels, expected 4 (one-hot A C G T)")
    chosen = _as_motifs(meme, motifs)
    _check_room(len(chosen), kernel.shape[2], f"layer {layer.name!r}")
    columns = motifs_to_kernel(chosen, kernel.shape[0], base, shift, align, delta, shift_by_minimum)
    kernel = kernel.copy()
    kernel[:, :, :len(chosen)] = columns
    weights[0] = kernel
    if layer.use_bias:
        bias = weights[1].copy()
        bias[:len(chosen)] = 0.0
        weights[1] = bias
    layer.set_weights(weights)
    _warn_if_never_on(layer, kernel[:, :, :len(chosen)], shift)
    return [m.name for m in chosen]


def _warn_if_never_on(layer, kernel, shift):
    """One warning when the layer's activation (ReLU) would keep filters set to motifs at 0 on
    every window: ``W = log_b P + shift`` with a bias of 0 gives no window a positive score."""
    name = getattr(getattr(layer, "activation", None), "__name__", "linear")
    rule = ACTIVATIONS.get(name)
    if rule is None or not rule.low_attained or rule.forward(np.zeros(1))[0] != rule.low:
        return  # an activation that does not sit at its floor for every score <= 0
    best = kernel.max(axis=1).sum(axis=0)  # each filter's best window, bias 0
    dead = np.flatnonzero(best <= 0)
    if len(dead):
        rows = np.maximum((kernel[:, :, dead] != 0).any(axis=1).sum(axis=0), 1)  # the motif's rows, not the padding
        needed = shift + float((-best[dead] / rows).max())
        warnings.warn(f"layer {layer.name!r}: {len(dead)} of the {kernel.shape[2]} filters set to motifs score at most "
                      f"{best[dead].max():.3g} on their best window, so its {name} keeps them at 0 on every "
                      f"sequence (W = log_b P + shift, bias 0): a shift above {needed:.3g} (shift=, --shift) lets "
                      "their best windows through", stacklevel=3)


def load_keras_model(path, weights=None):
    """Load a model file with Keras, in safe mode (no Lambda bytecode, no arbitrary imports).

    An architecture JSON with its ``weights`` is loaded as the whole model file the two stand
    for (:func:`k2p_keras.model.files.write_whole_model`, in a temporary folder).

    Raises
    ------
    K2PError
        Whatever stops Keras (custom or unknown classes, a Lambda refused in safe mode, a
        damaged file), in one line.
    """
    if weights is not None:
        model_file = read_model(path, weights=weights)
        with tempfile.TemporaryDirectory(prefix="k2p-keras-") as folder:
            try:
                return load_keras_model(write_whole_model(model_file, folder))
            except K2PError as err:
                raise K2PError(err.message, path=path) from None
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - any reason Keras refuses is reported the same way
        first = str(err).splitlines()[0] if str(err) else ""
        raise K2PError(f"Keras cannot load this model in safe mode ({type(err).__name__}: {first})",
                       path=path) from None


@contextlib.contextmanager
def _quiet_absl():
    """Keras logs through absl that .h5 is a legacy format; the user chose it, so say nothing."""
    from absl import logging as absl_logging  # TensorFlow's logger, loaded with Keras above

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


def set_model_file_from_meme(model_path, meme, output, *, layer=None, base=None, shift=0.0, align="center",
                             motifs=None, delta=None, shift_by_minimum=False):
    """Load a model file, set its Conv1D's filters to motifs, save it to ``output`` (atomically).

    Parameters
    ----------
    model_path : str or os.PathLike
        The user's ``.h5`` or ``.keras`` model; Keras loads it in safe mode.
    meme, base, shift, align, motifs, delta, shift_by_minimum
        As for :func:`set_conv_from_meme`.
    output : str or os.PathLike
        The new model file, ``.keras`` or ``.h5`` (Keras picks the format by extension).
    layer : str, optional
        The Conv1D to set [default: the first on the one-hot input].

    Returns
    -------
    tuple of (str, list of str)
        The layer's name and the motifs set, filter ``k`` holding the ``k``-th.
    """
    suffix = os.path.splitext(os.fspath(output))[1].lower()
    if suffix not in (".keras", ".h5"):
        raise K2PError("expected a model file name ending in .keras or .h5", path=output)
    model = load_keras_model(model_path)
    name = layer if layer is not None else find_motif_conv_in_model(model).layer_name
    target = find_live_layer(model, name)
    if target is None:
        raise K2PError(f"no layer named {name!r}", path=model_path)
    chosen = set_conv_from_meme(target, meme, base=base, shift=shift, align=align, motifs=motifs, delta=delta,
                                shift_by_minimum=shift_by_minimum)
    try:
        with atomic_path(output, suffix=".part" + suffix) as tmp, _quiet_absl():
            model.save(tmp)
    except OSError as err:
        raise K2PError(f"cannot write the model ({err.strerror})", path=output) from None
    return name, chosen


@keras.saving.register_keras_serializable(package="k2p_keras")
class PWMInitializer(keras.initializers.Initializer):
    """A Conv1D kernel initializer that starts the first filters as motifs.

    Filter ``k`` gets motif ``k`` (``W = log_b P + shift``, shorter motifs padded with zero
    rows as ``align`` says); the remaining filters come from ``fallback``. The bias is not
    an initializer's business: keep the Conv1D's default ``bias_initializer="zeros"`` for
    filters that score ``log_b P(window) + width * shift`` exactly.

    Parameters
    ----------
    meme_path_or_motifs : str, os.PathLike, MemeFile, list of Motif, or list of dict
        The motifs; a path is read once, when the initializer is made, and the motifs are
        kept in its config (a saved model does not need the file to load).
    base, shift, align, delta, shift_by_minimum
        As for :func:`set_conv_from_meme`.
    motifs : str or list of str, optional
        Names of the motifs to use [default: all].
    fallback : str, dict or keras.initializers.Initializer
        Initializer of the filters without a motif.

    Examples
    --------
    >>> layer = keras.layers.Conv1D(16, 12, kernel_initializer=PWMInitializer("jaspar.meme"))  # doctest: +SKIP
    """

    def __init__(self, meme_path_or_motifs, base=math.e, shift=0.0, align="center", motifs=None, delta=None,
                 shift_by_minimum=False, fallback="glorot_uniform"):
        if isinstance(meme_path_or_motifs, (list, tuple)) and meme_path_or_motifs \
                and isinstance(meme_path_or_motifs[0], dict):
            meme_path_or_motifs = [Motif(d["name"], np.asarray(d["pwm"], dtype=np.float64))
                                   for d in meme_path_or_motifs]
        self.motifs = _as_motifs(meme_path_or_motifs, motifs)
        if not self.motifs:
            raise K2PError("no motifs to set")
        self.base = check_base(base)
        self.shift = float(shift)
        if align not in ALIGNMENTS:
            raise K2PError(f"align must be one of {', '.join(ALIGNMENTS)}, got {align!r}")
        self.align = align
        self.delta = delta
        self.shift_by_minimum = bool(shift_by_minimum)
        self.fallback = keras.initializers.get(fallback)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(n) for n in shape)
        if len(shape) != 3 or shape[1] != 4:
            raise K2PError(f"PWMInitializer fills Conv1D kernels (length, 4, filters), got shape {shape}")
        _check_room(len(self.motifs), shape[2], "the layer")
        kernel = np.array(keras.ops.convert_to_numpy(self.fallback(shape, dtype=dtype)), dtype=np.float64)
        kernel[:, :, :len(self.motifs)] = motifs_to_kernel(self.motifs, shape[0], self.base, self.shift,
                                                           self.align, self.delta, self.shift_by_minimum)
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or keras.config.floatx())

    def get_config(self):
        return {
            "meme_path_or_motifs": [{"name": m.name, "pwm": np.asarray(m.pwm).tolist()} for m in self.motifs],
            "base": self.base, "shift": self.shift, "align": self.align, "motifs": None,
            "delta": self.delta, "shift_by_minimum": self.shift_by_minimum,
            "fallback": keras.initializers.serialize(self.fallback),
        }
