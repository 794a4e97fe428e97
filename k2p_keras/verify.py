"""The exactness check: does ``log_b P(window) + constant`` reproduce the filter on every window?

Theorem 1 (and Theorem 3 for windows with N) says the exact PWM's log-likelihood plus the
window constant equals the convolution ``conv + bias`` on *every* window, for any base. This
module checks it the honest way: the convolution is computed by the model's own Conv1D
layer (loaded with Keras in safe mode, its activation set aside, then any BatchNormalization
that was folded applied in inference mode), and compared with

    window_log_likelihood(P, window, b) + window_constant(W, window, b, bias)

on every window of every sequence, padding windows and N rows included. When Keras cannot
rebuild the model (custom or unknown classes, a Lambda refused in safe mode), TensorFlow's
conv on the weights read from the file stands in, and the result says so: that still checks
the transformation, but no longer the reading of the file.

PWMs from a MEME file (heuristic ones, say) get the same treatment with the model's kernel
for the constant and the base recorded in the motif (``ln_b=...``), else a given base: the
exact PWMs agree to float32 rounding, heuristic ones do not.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Callable, TYPE_CHECKING

import numpy as np

from .axes import ALPHABET, acgt_to_channels
from .errors import K2PError, OptionError
from .extract import extract
from .io.meme import MemeFile, read_meme, recorded_ln_base
from .io.sequences import open_sequences_for
from .model.config import foreign_classes
from .model.conv import find_live_layer, find_motif_conv_in_file
from .model.conv2d import to_layout
from .model.files import read_model
from .scan.tf_steps import conv_preactivation
from .scan.windows import padding_amounts
from .transform import window_constant, window_log_likelihood
from .validate import check_alphabet, check_base, check_kernel

if TYPE_CHECKING:  # names for the type hints only
    from .io.source import SequenceSource
    from .model.conv import ConvSpec

DEFAULT_TOLERANCE = 1e-3


@dataclass
class Verification:
    """The largest difference between the layer and each PWM, over all windows.

    Attributes
    ----------
    layer_name : str
    names : list of str
        The PWMs checked (motif names).
    filters : numpy.ndarray of int, shape (K,)
        The filter each PWM stands for.
    ln_base : numpy.ndarray, shape (K,)
        The base used for each PWM.
    max_abs_diff : numpy.ndarray, shape (K,)
        ``max |conv + bias - (log_b P + constant)|`` over all windows (inf when the PWM
        gives a window probability 0).
    scale : numpy.ndarray, shape (K,)
        ``max |conv + bias|`` of the filter over all windows.
    n_sequences, n_windows : int
        Sequences scanned, windows per filter compared.
    reference : str
        ``"model"`` (Keras computed the layer) or ``"weights"`` (TensorFlow's conv on the
        weights read from the file, because Keras could not load the model).
    tolerance : float
    """

    layer_name: str
    names: list
    filters: np.ndarray
    ln_base: np.ndarray
    max_abs_diff: np.ndarray
    scale: np.ndarray
    n_sequences: int
    n_windows: int
    reference: str
    tolerance: float = DEFAULT_TOLERANCE

    @property
    def relative_diff(self):
        """``max_abs_diff / max(1, scale)``: what the tolerance is compared with."""
        return self.max_abs_diff / np.maximum(1.0, self.scale)

    @property
    def passed(self):
        """Per PWM: whether it reproduces the layer within the tolerance."""
        return self.relative_diff <= self.tolerance

    @property
    def ok(self):
        return bool(np.all(self.passed))

    def failure(self):
        """One line saying how many PWMs differ, which differs most and by how much (None when all pass)."""
        if self.ok:
            return None
        failed = ~self.passed
        relative = np.where(np.isnan(self.relative_diff), np.inf, self.relative_diff)
        worst = int(np.argmax(np.where(failed, relative, -1.0)))
        amount = self.max_abs_diff[worst]
        how = ("by NaN (the layer's output or the PWM's log-likelihood is not a number)" if np.isnan(amount)
               else f"by {amount:.3g} ({self.relative_diff[worst]:.3g} x max(1, scale {self.scale[worst]:.3g}), "
                    f"tolerance {self.tolerance:g})")
        return (f"{int(failed.sum())} of {len(self.names)} PWMs differ from layer {self.layer_name!r} by more "
                f"than the tolerance; the worst, {self.names[worst]} (filter {int(self.filters[worst])}), {how}")

    def report(self):
        """A table, one line per PWM, then a verdict line."""
        lines = ["motif\tfilter\tln_b\tmax_abs_diff\tscale\tverdict"]
        for k, name in enumerate(self.names):
            lines.append(f"{name}\t{int(self.filters[k])}\t{self.ln_base[k]:.6g}\t{self.max_abs_diff[k]:.3g}\t"
                         f"{self.scale[k]:.3g}\t{'OK' if self.passed[k] else 'DIFFERS'}")
        source = ("the model's own layer" if self.reference == "model"
                  else "TensorFlow's conv on the weights read from the file (a check of the transformation, "
                       "not of how the file was read)")
        lines.append(f"# {self.n_windows} windows per filter in {self.n_sequences} sequences, "
                     f"conv + bias computed by {source}; tolerance {self.tolerance:g} x max(1, scale)")
        return "\n".join(lines) + "\n"


def exact_pwm_set(spec, base=math.e):
    """The exact PWMs of every filter at one base: ``(names, filters, pwms, ln_bases)``.

    Made by :func:`k2p_keras.extract` at that base, as the model command makes them.
    """
    exact = extract(spec, base=check_base(base)).exact
    names = [exact.motif_name(t) for t in range(exact.n_filters)]
    return names, np.arange(exact.n_filters), exact.pwms, exact.ln_base


def meme_pwm_set(meme, spec, base=math.e, path=None):
    """Match a MEME file's motifs to the layer's filters: ``(names, filters, pwms, ln_bases)``.

    A motif named ``<layer>_<index>`` (with any suffix, e.g. ``_exact``, ``_heuristic``)
    stands for that filter; a file whose motifs name no filter but number as many as the
    filters is matched in order. The base is the motif's ``ln_b=...`` (the alternate name
    k2p-keras writes), else ``base``.
    """
    base = check_base(base)
    n_filters, length = spec.kernel.shape[2], spec.kernel.shape[0]
    pattern = re.compile(rf"^{re.escape(spec.layer_name)}_(\d+)(?:_\w+)?$")
    found = [pattern.match(m.name) for m in meme.motifs]
    if not any(found) and len(meme.motifs) == n_filters:
        warnings.warn(f"no motif is named after a filter of {spec.layer_name!r}; matching them in file order")
        filters = list(range(n_filters))
    else:
        filters = []
        for motif, match in zip(meme.motifs, found):
            if match is None or int(match.group(1)) >= n_filters:
                raise K2PError(f"motif {motif.name!r} names no filter of layer {spec.layer_name!r} "
                               f"(expected {spec.layer_name}_<0..{n_filters - 1}>, optionally suffixed)",
                               path=path)
            filters.append(int(match.group(1)))
    ln_bases = []
    for motif in meme.motifs:
        if motif.width != length:
            raise K2PError(f"motif {motif.name!r} has {motif.width} positions, the kernel of "
                           f"{spec.layer_name!r} {length}", path=path)
        recorded = recorded_ln_base(motif)
        ln_bases.append(math.log(base) if recorded is None else recorded)
    ln_bases = np.array(ln_bases)
    if not np.all(np.isfinite(ln_bases) & (ln_bases > 0)):
        raise K2PError("a motif records ln_b <= 0 or not a number; expected a base b > 1", path=path)
    pwms = np.stack([m.pwm for m in meme.motifs])
    return [m.name for m in meme.motifs], np.array(filters), pwms, ln_bases


def sequence_windows(batch, length, padding="valid", strides=1):
    """Every window the layer sees: ``(B, positions, length, 4)`` float64, padding rows zero."""
    batch = np.asarray(batch, dtype=np.float64)
    left, right = padding_amounts(batch.shape[1], length, padding, strides)
    padded = np.pad(batch, [(0, 0), (left, right), (0, 0)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, length, axis=1)  # (B, P, 4, L)
    return windows[:, ::strides].transpose(0, 1, 3, 2)


def keras_preactivation(model_path, spec, weights=None):
    """``conv + bias`` as the model's own layers compute it, or None when Keras cannot load the file.

    The Conv1D is rebuilt from its own config with its activation set to linear and given
    its own weights; BatchNormalization layers folded into the spec are applied after it in
    inference mode. Returns ``(function, None)`` or ``(None, reason)``; the function maps a
    batch ``(B, length, 4)`` (A C G T) to ``(B, positions, F)`` float64, feeding the layer
    its channels in the model's order (``spec.alphabet``) and nothing else: a model with
    several inputs is not run, only the layer on the one-hot input.

    An architecture JSON with its ``weights`` is loaded as the whole model file the two
    stand for (:func:`k2p_keras.model.files.write_whole_model`, in a temporary folder).
    """
    model, reason = _load_with_keras(model_path, weights)
    if model is None:
        return None, reason
    compute = _layer_preactivation(model, spec)
    if compute is None:
        return None, f"Keras built the model without a layer {spec.layer_name!r}"
    if spec.alphabet == ALPHABET:
        return compute, None
    order = acgt_to_channels(spec.alphabet)
    return (lambda batch: compute(np.asarray(batch)[:, :, order])), None


def _load_with_keras(model_path, weights):
    """The model loaded by Keras in safe mode, or ``(None, why not)``."""
    from .initializer import load_keras_model  # it subclasses Keras: TensorFlow loads with it

    model_file = read_model(model_path, weights=weights)
    try:
        return load_keras_model(model_path, weights), None
    except K2PError as err:
        reason = err.message
        if str(model_file.keras_version or "").startswith("1."):
            reason += f"; Keras 3 does not rebuild Keras {model_file.keras_version} configs"
        elif isinstance(model_file.config.get("config"), list):
            reason += "; Keras 3 does not rebuild the Sequential configs of Keras 1 to 2.2.2 (a bare list of layers)"
        return None, reason


def _layer_preactivation(model, spec):
    """The conv's linear twin (and the folded BatchNormalizations) on canonical batches, or None."""
    import keras  # TensorFlow loads when verify runs the model, not with the package

    conv = find_live_layer(model, spec.layer_name)
    if conv is None:
        return None
    config = conv.get_config()
    config["activation"] = "linear"
    # TensorFlow has no channels-first convolution on the CPU: a channels-first layer is
    # computed by its channels-last twin (same config and weights: Keras stores the kernel
    # as (k, 4, F) in both layouts), and its output put back in the layer's layout for the
    # BatchNormalization that follows it.
    config["data_format"] = "channels_last"
    linear = type(conv).from_config(config)
    norms = [find_live_layer(model, name) for name in spec.folded_batchnorms]
    if spec.conv2d_layout is not None:
        return _conv2d_preactivation(conv, linear, norms, spec)
    linear.build((None, None, 4))
    linear.set_weights(conv.get_weights())

    def compute(batch):
        y = linear(np.asarray(batch, dtype=np.float32))
        if spec.channels_first and norms:
            y = keras.ops.transpose(y, (0, 2, 1))
        for norm in norms:
            y = norm(y, training=False)
        y = keras.ops.convert_to_numpy(y).astype(np.float64)
        return y.transpose(0, 2, 1) if spec.channels_first and norms else y

    return compute


def _conv2d_preactivation(conv, linear, norms, spec):
    """A Conv2D on one-hot DNA, computed by its channels-last twin on the batch in its layout.

    The keras-genomics layout ``(4, 1, L)`` channels-first is the same convolution as
    ``(1, L, 4)`` channels-last with the same kernel ``(1, k, 4, F)``, and the channels-first
    image ``(1, 4, L)`` as the image ``(4, L, 1)``.
    """
    import keras  # TensorFlow loads when verify runs the model, not with the package

    layout = {"keras-genomics": "row", "image-channels-first": "image"}.get(spec.conv2d_layout,
                                                                          spec.conv2d_layout)
    linear.build({"row": (None, 1, None, 4), "image": (None, 4, None, 1)}[layout])
    linear.set_weights(conv.get_weights())

    def compute(batch):
        y = linear(to_layout(np.asarray(batch, dtype=np.float32), layout))  # (B, 1, P, F)
        if spec.channels_first and norms:
            y = keras.ops.transpose(y, (0, 3, 1, 2))
        for norm in norms:
            y = norm(y, training=False)
        y = keras.ops.convert_to_numpy(y).astype(np.float64)
        return y[:, :, 0, :].transpose(0, 2, 1) if spec.channels_first and norms else y[:, 0]

    return compute


def verify_pwms(spec, batches, pwm_set, preactivation=None, tolerance=DEFAULT_TOLERANCE, progress=None):
    """Compare ``conv + bias`` with ``log_b P + window constant`` on every window.

    Parameters
    ----------
    spec : ConvSpec
    batches : iterable of numpy.ndarray (B, length, 4)
    pwm_set : tuple
        ``(names, filters, pwms, ln_bases)`` from :func:`exact_pwm_set` or :func:`meme_pwm_set`.
    preactivation : callable, optional
        Batch -> ``(B, positions, F)`` ``conv + bias`` (e.g. from :func:`keras_preactivation`);
        TensorFlow's conv on ``spec``'s kernel and bias when None.
    tolerance : float
        A PWM passes when its largest difference is at most ``tolerance * max(1, scale)``,
        ``scale`` being the filter's largest ``|conv + bias|``. The default 1e-3 leaves room
        for the float32 rounding of a model's conv (differences of about 1e-6 x scale) and
        none for a PWM that is not the filter's.
    progress : callable, optional

    Returns
    -------
    Verification
    """
    names, filters, pwms, ln_bases = pwm_set
    reference = "model" if preactivation is not None else "weights"
    if preactivation is None:
        def preactivation(batch):
            return conv_preactivation(batch, spec.kernel, spec.bias, padding=spec.padding, strides=spec.strides)

    kernel, bias, length = spec.kernel, spec.bias, spec.kernel.shape[0]
    worst = np.zeros(len(names))
    scale = np.zeros(spec.kernel.shape[2])
    n_sequences = n_windows = 0
    for batch in batches:
        conv = preactivation(batch)
        windows = sequence_windows(batch, length, spec.padding, spec.strides)
        if conv.shape[:2] != windows.shape[:2]:
            raise K2PError(f"the layer gives {conv.shape[1]} positions per sequence, the windows "
                           f"{windows.shape[1]}: padding or strides were not read correctly")
        scale = np.maximum(scale, np.abs(conv).max(axis=(0, 1)))
        for k, (t, pwm, v) in enumerate(zip(filters, pwms, ln_bases)):
            b = math.exp(v)
            predicted = window_log_likelihood(pwm, windows, b) + window_constant(kernel[:, :, t], windows, b, bias[t])
            with np.errstate(invalid="ignore"):
                # NaN (a NaN in the layer's output) wins: it is never within the tolerance.
                worst[k] = np.maximum(worst[k], np.abs(conv[:, :, t] - predicted).max())
        n_sequences += len(batch)
        n_windows += windows.shape[0] * windows.shape[1]
        if progress is not None:
            progress(len(batch))
    if n_sequences == 0:
        raise K2PError("no sequences to verify on")
    return Verification(layer_name=spec.layer_name, names=list(names), filters=np.asarray(filters),
                        ln_base=np.asarray(ln_bases, dtype=np.float64), max_abs_diff=worst,
                        scale=scale[np.asarray(filters)], n_sequences=n_sequences, n_windows=n_windows,
                        reference=reference, tolerance=float(tolerance))


@dataclass
class VerificationInputs:
    """What :func:`verify_pwms` needs, gathered by :func:`prepare_verification`."""

    spec: ConvSpec
    source: SequenceSource
    pwm_set: tuple
    preactivation: Callable | None


@dataclass(frozen=True)
class VerifyRequest:
    """How :func:`verify_model` reads the model, the PWMs and the sequences, and how it checks them.

    Attributes
    ----------
    layer : str, optional
        The Conv1D to check [default: the first on the one-hot input].
    pwms : str, os.PathLike or MemeFile, optional
        PWMs to check (see :func:`meme_pwm_set`); by default the exact PWMs at ``base``.
    base : float
        The base of the exact PWMs, and of file PWMs that do not record one. Theorem 1
        holds for every base, so any ``b > 1`` makes a fair check.
    tolerance : float
        See :func:`verify_pwms`.
    dataset, n_encoding, batch_size
        How the sequences are read (N rows: ``"zero"`` or ``"quarter"``).
    use_keras : bool
        Compute the layer with Keras (the default); False, or a model Keras cannot load,
        uses TensorFlow's conv on the weights read from the file, with a warning for the latter.
    weights : str or os.PathLike, optional
        The weights file of an architecture JSON.
    alphabet : str
        The order of the model's one-hot channels (e.g. ``"ATCG"``); the layer is fed in it.
    """

    layer: str | None = None
    pwms: "str | os.PathLike | MemeFile | None" = None
    base: float = math.e
    tolerance: float = DEFAULT_TOLERANCE
    dataset: str | None = None
    n_encoding: str = "zero"
    batch_size: int = 512
    use_keras: bool = True
    weights: "str | os.PathLike | None" = None
    alphabet: str = ALPHABET


def prepare_verification(model_path, sequences, request=None):
    """Read the model, the PWMs to check and the sequences, as ``request`` (a :class:`VerifyRequest`) says."""
    request = VerifyRequest() if request is None else request
    layer, pwms, base, weights, alphabet = request.layer, request.pwms, request.base, request.weights, request.alphabet
    try:
        alphabet = check_alphabet(alphabet)
    except K2PError as err:
        raise OptionError(err.message.removeprefix("alphabet: "), "alphabet") from None
    spec = find_motif_conv_in_file(model_path, layer=layer, weights=weights, alphabet=alphabet)
    try:
        # The layer computes in float32: a kernel past its range gives inf and NaN, not a check.
        check_kernel(spec.kernel, f"the kernel of {spec.layer_name!r}", float32=True)
    except K2PError as err:
        raise K2PError(err.message, path=model_path) from None
    bad_bias = ~np.isfinite(spec.bias)
    if bad_bias.any():
        raise K2PError(f"the bias of {spec.layer_name!r} is NaN or infinite for {int(bad_bias.sum())} of "
                       f"{bad_bias.size} filters: conv + bias is not a number, so there is nothing to "
                       "compare the PWMs with", path=model_path)
    preactivation = None
    if request.use_keras:
        # First: a model Keras refuses as unsafe fails before anything else is said about it.
        preactivation, reason = keras_preactivation(model_path, spec, weights)
        foreign = foreign_classes(read_model(model_path, weights=weights).config) if preactivation is None else []
        if foreign:
            raise K2PError(f"{reason}, and its config names code outside Keras ({', '.join(sorted(set(foreign))[:3])}): "
                           "a model that cannot be loaded safely is not verified", path=model_path)
        if preactivation is None:
            warnings.warn(f"{model_path}: {reason}; checking against TensorFlow's conv "
                          "on the weights read from the file instead")
    if pwms is None:
        pwm_set = exact_pwm_set(spec, base)
    else:
        meme = pwms if isinstance(pwms, MemeFile) else read_meme(pwms)
        pwm_set = meme_pwm_set(meme, spec, base, path=None if isinstance(pwms, MemeFile) else pwms)
    source = open_sequences_for(spec, sequences, dataset=request.dataset, n_encoding=request.n_encoding)
    return VerificationInputs(spec, source, pwm_set, preactivation)


def verify_model(model_path, sequences, *, progress=None, **options):
    """Check PWMs against a saved model's motif Conv1D on every window of some sequences.

    Parameters
    ----------
    model_path : str or os.PathLike
        A ``.h5`` or ``.keras`` model (file or folder), or an architecture JSON with ``weights``.
    sequences : str, os.PathLike, numpy.ndarray or SequenceSource
        One-hot sequences or FASTA (see :func:`k2p_keras.io.sequences.open_sequences`); stored
        tensors and arrays in the model's channel order (``alphabet``).
    progress : callable, optional
    **options
        The fields of :class:`VerifyRequest`: ``layer``, ``pwms``, ``base``, ``tolerance``,
        ``dataset``, ``n_encoding``, ``batch_size``, ``use_keras``, ``weights``, ``alphabet``.

    Returns
    -------
    Verification
    """
    request = VerifyRequest(**options)
    inputs = prepare_verification(model_path, sequences, request)
    return verify_pwms(inputs.spec, inputs.source.iter_batches(request.batch_size), inputs.pwm_set,
                       inputs.preactivation, request.tolerance, progress)
