"""From a motif Conv1D and sequences to exact PWMs: the path the CLI and the callback share.

    ConvSpec + SequenceSource --scan--> ScanStats --MLE--> ln b --transform--> PWMs -> Motifs
    ConvSpec + SequenceSource --scan--> letter counts --normalise--> heuristic PWMs (heuristic.py)

The scan sums the sites of the conv's site scope (``ConvSpec.scope``): each sequence's best
window, each pooling block's, or, where the model selects no window, the strong windows
anywhere (two passes: the filters' largest activations, then the windows near them).
"""
import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..errors import K2PError, OptionError, PatternError
from ..model.activations import activation_forward
from ..scan.request import ScanRequest
from ..scan.stats import histogram_grid, SCORE_BINS, ScanStats
from ..scan.windows import EVERY_WINDOW
from ..transform import kernel_constant, kernel_to_pwm
from ..validate import check_base
from .mle import BaseEstimate, check_base_estimator, DEFAULT_BASE_ESTIMATOR, estimate_bases
from .motifset import MotifSet
from .sites import DEFAULT_SITES, site_rule, site_sums, STRONG_FRACTION, strong_threshold


@dataclass
class ExactPWMs(MotifSet):
    """Exact PWMs of one Conv1D layer, with everything that went into them.

    Attributes
    ----------
    layer_name : str
    kernel : numpy.ndarray, shape (L, 4, F)
        The effective cross-correlation kernel (BatchNorm folded, dilation expanded).
    bias : numpy.ndarray, shape (F,)
    ln_base, se, loglik : numpy.ndarray, shape (F,)
        The base used for each filter (``ln b``), its standard error and log-likelihood
        (NaN when the base was fixed rather than estimated).
    pwms : numpy.ndarray, shape (F, L, 4)
    constants : numpy.ndarray, shape (F,)
        ``d`` of Theorem 1, bias included: ``conv = log_b P + d`` on windows without N.
    n_used : numpy.ndarray of int, shape (F,)
        Sites that went into the MLE (0 with a fixed base): sequences' best windows, or
        with a local max-pool the blocks' (a window once however many blocks it wins), or
        the strong windows anywhere.
    stats : ScanStats or None
    estimate : BaseEstimate or None
    base_estimator : str
        How the filters share the base (:data:`k2p_keras.motifs.mle.BASE_ESTIMATORS`).
    sites : str
        Which best windows the MLE counted as sites (:mod:`k2p_keras.motifs.sites`).
    """

    layer_name: str
    kernel: np.ndarray
    bias: np.ndarray
    ln_base: np.ndarray
    se: np.ndarray
    loglik: np.ndarray
    pwms: np.ndarray
    constants: np.ndarray
    n_used: np.ndarray
    stats: ScanStats | None = None
    estimate: BaseEstimate = None
    base_estimator: str = "per-filter"
    sites: str = "all"

    kind = "exact"
    figure_columns = ("ln_b", "base", "se_ln_b", "log_likelihood", "sequences_used", "constant_d")

    @property
    def shared_base(self):
        """One base for all filters (estimated so, or fixed)."""
        return self.base_estimator == "shared" or not self.estimated

    @property
    def estimated(self):
        """Whether the base was estimated (by maximum likelihood) rather than given."""
        return self.estimate is not None

    def figures(self, index):
        return {"ln_b": float(self.ln_base[index]), "base": math.exp(self.ln_base[index]),
                "se_ln_b": float(self.se[index]), "log_likelihood": float(self.loglik[index]),
                "sequences_used": int(self.n_used[index]), "constant_d": float(self.constants[index])}

    def alt_name(self, index):
        alt = f"ln_b={float(self.ln_base[index])!r}"  # full precision: verify re-reads it
        if np.isfinite(self.se[index]):
            alt += f",SE={self.se[index]:.3g}"
        return alt

    def nsites(self, index):
        return int(self.n_used[index]) if self.n_used[index] > 0 else None

    def logo_label(self, index):
        return f"exact (ln b = {self.ln_base[index]:.3g})"

    def report_figures(self, index):
        lnb = f"{self.ln_base[index]:.4g}"
        if np.isfinite(self.se[index]):
            lnb += f" (SE {self.se[index]:.2g})"
        else:
            lnb += " (fixed)"
        figures = {"ln b": lnb}
        if self.n_used[index] > 0:
            figures["sequences used"] = str(int(self.n_used[index]))
        return figures


@dataclass(frozen=True, eq=False)
class ExactRequest:
    """What :func:`extract_pwms` is asked for; the caller (``extract``, from ``Options``) passes every value.

    The defaults are this stage's own (:data:`k2p_keras.motifs.mle.DEFAULT_BASE_ESTIMATOR`,
    :data:`k2p_keras.motifs.sites.DEFAULT_SITES`), the ones ``Options`` takes.

    Attributes
    ----------
    base : "mle" or float
        Estimate ``b`` by maximum likelihood, or use this base for every filter.
    base_estimator : {"shared", "per-filter", "shrunk"}
        One base for all filters, one per filter, or one per filter shrunk toward the shared
        one by its standard error (:func:`k2p_keras.motifs.mle.estimate_bases`).
    sites : {"all", "active", "strong"}, "strong=F" or float
        Which best windows the MLE counts as sites of the motif (:mod:`k2p_keras.motifs.sites`):
        every sequence's (k2p-1.0) or pooling block's, those that pass the activation, or
        those whose activation exceeds half (or this fraction) of the filter's largest; only
        ``strong`` for the windows anywhere. Ignored with a fixed base.
    both_strands : bool
        The model scans the reverse complement too: the best window is over both strands.
    strict : bool
        Refuse (``PatternError``) to estimate the base when the layers after the conv break
        the MLE's assumption (:func:`check_pattern`); by default the base comes from the
        strong windows anywhere, with a warning.
    letter_threshold : float or numpy.ndarray of shape (F,), optional
        Have the MLE's scan also count the letters of the best windows whose
        ``conv + bias`` exceeds it (``exact.stats.letter_counts``, for the heuristic).
    strategy : tf.distribute.Strategy, optional
        Scan on the strategy's devices (:class:`k2p_keras.scan.request.ScanRequest`).
    diagnostics : bool
        Have the scan also sum each sequence's best window for the activation diagnostics
        (``exact.stats.diagnostics``, :mod:`k2p_keras.annotate.describe.diagnostics`); with the sites
        anywhere, the first pass's.
    n_labels : int
        Label columns the batches come with (``(x, y)`` pairs), for the diagnostics.
    """

    base: str | float = "mle"
    base_estimator: str = DEFAULT_BASE_ESTIMATOR
    sites: str | float = DEFAULT_SITES
    both_strands: bool = False
    strict: bool = False
    letter_threshold: float | np.ndarray | None = None
    strategy: "tf.distribute.Strategy | None" = None
    diagnostics: bool = False
    n_labels: int = 0


def extract_pwms(spec, batches=None, request=None, progress=None):
    """Exact PWMs for every filter of a motif Conv1D.

    Parameters
    ----------
    spec : ConvSpec
        The layer as :func:`k2p_keras.model.conv.find_motif_conv` describes it; its ``scope``
        says which windows are the sites.
    batches : iterable of numpy.ndarray (B, length, 4), or a callable returning one, optional
        The training sequences; needed unless ``request.base`` is a number. The sites anywhere
        (``spec.scope == "anywhere"``) take two passes: give a callable returning fresh batches.
    request : ExactRequest, optional
        The base, its estimator, the sites and the scan's options [default: ``ExactRequest()``].
    progress : callable, optional
        Receives the number of sequences in each scanned batch.

    Returns
    -------
    ExactPWMs
    """
    request = ExactRequest() if request is None else request
    base, base_estimator = request.base, request.base_estimator
    estimating = isinstance(base, str) and base == "mle"
    kernel, bias = spec.kernel, spec.bias
    check_base_estimator(base_estimator)
    rule = site_rule(request.sites)
    if estimating:
        check_pattern(spec, estimating=True, strict=request.strict, rule=rule)
        check_sites_for_scope(spec, rule)
    n_filters = kernel.shape[2]
    stats = estimate = None
    if estimating:
        if batches is None:
            raise K2PError("sequences are needed to estimate the base; or give a fixed base")
        stats = _scan_sites(spec, batches, rule, request, progress)
        sums = site_sums(stats, rule, bias, spec.activation, spec.active_threshold)
        estimate = estimate_bases(kernel, sums.score_sum, sums.row_weight, base_estimator)
        ln_base, se, loglik, n_used = estimate.ln_base, estimate.se, estimate.loglik, sums.n_used
    else:
        ln_base = np.full(n_filters, math.log(check_base(base)))
        se = np.full(n_filters, np.nan)
        loglik = np.full(n_filters, np.nan)
        n_used = np.zeros(n_filters, dtype=np.int64)
    if np.all(ln_base == ln_base[0]):
        # One base for every filter: one call on the whole kernel. Per filter, scipy's
        # softmax and logsumexp cost ~2 ms each in argument checks, half a callback's dump.
        base_value = math.exp(ln_base[0])
        # (L, 4, F) -> (F, L, 4) as a view: the contiguous copy of axes.keras_kernel_to_filters
        # holds the same numbers but changes the last bits of later float sums over them.
        pwms = kernel_to_pwm(kernel, base_value).transpose(2, 0, 1)
        constants = kernel_constant(kernel, base_value, bias)
    else:
        pwms = np.stack([kernel_to_pwm(kernel[:, :, t], math.exp(ln_base[t])) for t in range(n_filters)])
        constants = np.array([kernel_constant(kernel[:, :, t], math.exp(ln_base[t]), bias[t])
                              for t in range(n_filters)])
    return ExactPWMs(layer_name=spec.layer_name, kernel=kernel, bias=bias, ln_base=ln_base, se=se,
                      loglik=loglik, pwms=pwms, constants=constants, n_used=np.asarray(n_used),
                      stats=stats, estimate=estimate, base_estimator=base_estimator, sites=rule.label)


def _scan_sites(spec, batches, rule, request, progress):
    """The scan's sums over the sites of ``spec.scope``: each sequence's or pooling block's best window,
    or the windows anywhere near the strong ones (a first pass finds each filter's largest activation).
    ``request``: the :class:`ExactRequest`; its diagnostics go to the scan that sees each sequence's best
    window."""
    from ..scan.best_windows import run_scan  # numba (or TensorFlow) loads with the first scan

    fresh = batches if callable(batches) else (lambda: batches)
    # The one scan request of this stage; each pass is a variant of it.
    scan = conv_scan_request(spec, both_strands=request.both_strands, strategy=request.strategy)
    with_diagnostics = dict(diagnostics=request.diagnostics, n_labels=request.n_labels,
                            activation=activation_forward(spec.activation, spec.active_threshold))
    if spec.scope != "anywhere":
        return run_scan(fresh(), replace(scan, active_only=rule.kind == "active", pool=spec.pool,
                                         letter_threshold=request.letter_threshold,
                                         score_bins=SCORE_BINS if rule.kind == "strong" else None,
                                         **with_diagnostics), progress)
    if not callable(batches):
        raise K2PError("the sites anywhere take two passes over the sequences: give a callable returning "
                       "fresh batches")
    # Pass 1: each sequence's best window gives each filter's largest activation over all windows.
    first = run_scan(fresh(), replace(scan, letter_threshold=request.letter_threshold, **with_diagnostics), progress)
    threshold = strong_threshold(first.max_preactivation, rule, spec.activation, spec.active_threshold)
    # Pass 2: every window whose float32 score comes within two score bins of the threshold (the
    # histogram keeps one bin below it; the other covers float32's rounding), summed in float64.
    _, bin_width = histogram_grid(spec.kernel, SCORE_BINS)
    with np.errstate(invalid="ignore"):
        floor = np.where(np.isnan(threshold), np.inf, threshold - spec.bias - 2 * bin_width)
    second = run_scan(fresh(), replace(scan, pool=EVERY_WINDOW, score_floor=floor, score_bins=SCORE_BINS), progress)
    second.n_sequences = first.n_sequences
    second.letter_counts, second.n_letter_windows = first.letter_counts, first.n_letter_windows
    second.diagnostics = first.diagnostics
    return second


def conv_scan_request(spec, **fields):
    """The :class:`~k2p_keras.scan.request.ScanRequest` of ``spec``'s conv (kernel, bias, padding, strides and
    activation threshold as the model computes them), with ``fields`` (both strands, strategy, ...)."""
    return ScanRequest(spec.kernel, spec.bias, padding=spec.padding, strides=spec.strides,
                       active_threshold=spec.active_threshold, **fields)


def check_sites_for_scope(spec, rule):
    """The sites anywhere are the strong windows only: ``all`` and ``active`` would count every window."""
    if spec.scope == "anywhere" and rule.kind != "strong":
        raise OptionError(f"{rule.label!r} would count every window as a site: the model selects no window "
                          f"({spec.problem}), so only strong[=F] sites apply", "sites")


def check_pattern(spec, *, estimating, strict=False, path=None, rule=None):
    """Warn, or refuse when ``strict``, when the MLE's assumption (conv -> non-decreasing activation -> max) fails.

    The PWMs are exact whatever follows the conv; the assumption only says that the model
    selects the sites (each sequence's or pooling block's best window). Without it the base
    comes from the strong windows anywhere: one warning line says so.

    Parameters
    ----------
    spec : ConvSpec
    estimating : bool
        The base is to be estimated; a fixed base needs no assumption (nothing is said).
    strict : bool
        Refuse instead of warning.
    path : str, optional
        The model file, for the error message.
    rule : SiteRule, optional
        The strong sites' rule, for the warning's fraction (default one half).

    Raises
    ------
    PatternError
        When the base is to be estimated, the pattern breaks and ``strict`` is set.
    """
    if spec.pattern_ok or not estimating:
        return
    if strict:
        raise PatternError(f"{spec.report()}; the MLE of the base assumes conv -> non-decreasing activation "
                           f"-> max-pool. Layers found: {', '.join(spec.layers_found)}.", path=path)
    fraction = STRONG_FRACTION if rule is None or rule.fraction is None else rule.fraction
    warnings.warn(f"{spec.problem}: the MLE's assumption (conv -> non-decreasing activation -> max-pool) does "
                  f"not hold; the base is estimated from the strong windows anywhere (activation >= {fraction:g} "
                  f"x the filter's largest over the data)")
