"""From a motif Conv1D and sequences to exact PWMs: the path the CLI and the callback share.

    ConvSpec + SequenceSource --scan--> ScanStats --MLE--> ln b --transform--> PWMs -> Motifs
    ConvSpec + SequenceSource --scan--> letter counts --normalise--> heuristic PWMs (heuristic.py)
"""
import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from .errors import K2PError, PatternError
from .heuristic import heuristic_from_stats, heuristic_pwms, preactivation_threshold
from .mle import BaseEstimate, estimate_base
from .motifset import MotifSet
from .sites import SCORE_BINS, site_rule, site_sums
from .transform import check_base, kernel_constant, kernel_to_pwm
from .validate import check_sequence_length


@dataclass
class Extraction(MotifSet):
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
        Sequences whose best windows went into the MLE (0 with a fixed base).
    stats : ScanStats or None
    estimate : BaseEstimate or None
    shared_base : bool
    sites : str
        Which best windows the MLE counted as sites (:mod:`k2p_keras.sites`).
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
    stats: object = None
    estimate: BaseEstimate = None
    shared_base: bool = False
    sites: str = "all"

    kind = "exact"
    figure_columns = ("ln_b", "base", "se_ln_b", "log_likelihood", "sequences_used", "constant_d")

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


def _fallback_to_shared(estimate, kernel, sums):
    """Per-filter estimates that failed take the shared estimate, with a warning each.

    Returns a new :class:`BaseEstimate`; ``estimate`` is left as it was.
    """
    if estimate.ok.all():
        return estimate
    shared = estimate_base(kernel, sums.score_sum, sums.row_weight, shared=True, on_degenerate="nan")
    if not shared.ok.all():
        raise K2PError(f"cannot estimate the base: {shared.problems[0]}")
    failed = ~estimate.ok
    for t in np.flatnonzero(failed):
        warnings.warn(f"filter {t}: {estimate.problems[t]}; using the shared base ln b = "
                      f"{shared.ln_base[t]:.6g} for it")
    merged = {name: np.where(failed, getattr(shared, name), getattr(estimate, name))
              for name in ("ln_base", "base", "se", "loglik")}
    return replace(estimate, **merged)


def extract_pwms(spec, batches=None, *, base="mle", shared_base=True, both_strands=False,
                 exclude_inactive=False, letter_threshold=None, force=False, progress=None, sites="all",
                 strategy=None):
    """Exact PWMs for every filter of a motif Conv1D.

    Parameters
    ----------
    spec : ConvSpec
        The layer as :func:`k2p_keras.graph.find_motif_conv` describes it.
    batches : iterable of numpy.ndarray (B, length, 4), optional
        The training sequences; needed unless ``base`` is a number.
    base : "mle" or float
        Estimate ``b`` by maximum likelihood, or use this base for every filter.
    shared_base : bool
        One base for all filters (the default: k2p-1.0's choice, and the one that recovers
        planted motifs better in benchmarks/paper) instead of one per filter.
    both_strands : bool
        The model scans the reverse complement too: the best window is over both strands.
    exclude_inactive : bool
        Leave out of the MLE the sequences whose best window does not pass the activation
        (the same as ``sites="active"``).
    letter_threshold : float or numpy.ndarray of shape (F,), optional
        Have the MLE's scan also count the letters of the best windows whose
        ``conv + bias`` exceeds it (``extraction.stats.letter_counts``, for the heuristic).
    force : bool
        Estimate the base even when the layers after the conv break the MLE's assumption
        (:func:`check_pattern`), with a warning; without it that raises ``PatternError``.
    progress : callable, optional
        Receives the number of sequences in each scanned batch.
    sites : {"all", "active", "strong"} or float
        Which best windows the MLE counts as sites of the motif (:mod:`k2p_keras.sites`):
        every sequence's (k2p-1.0), those that pass the activation, or those whose
        activation exceeds half (or this fraction) of the filter's largest. Ignored with a
        fixed base.
    strategy : tf.distribute.Strategy, optional
        Scan on the strategy's devices (:func:`k2p_keras.scan.scan_best_windows`).

    Returns
    -------
    Extraction
    """
    estimating = isinstance(base, str) and base == "mle"
    check_pattern(spec, estimating=estimating, force=force)
    kernel, bias = spec.kernel, spec.bias
    rule = site_rule(sites, exclude_inactive)
    n_filters = kernel.shape[2]
    stats = estimate = None
    if estimating:
        if batches is None:
            raise K2PError("sequences are needed to estimate the base; or give a fixed base")
        from .scan import scan_best_windows  # TensorFlow loads only when a scan is needed

        stats = scan_best_windows(batches, kernel, bias, padding=spec.padding, strides=spec.strides,
                                  both_strands=both_strands, exclude_inactive=rule.kind == "active",
                                  active_threshold=spec.active_threshold,
                                  letter_threshold=letter_threshold, progress=progress, strategy=strategy,
                                  score_bins=SCORE_BINS if rule.kind == "strong" else None)
        sums = site_sums(stats, rule, bias, spec.activation, spec.active_threshold)
        estimate = estimate_base(kernel, sums.score_sum, sums.row_weight, shared=shared_base,
                                 on_degenerate="raise" if shared_base else "nan")
        estimate = _fallback_to_shared(estimate, kernel, sums)
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
        pwms = kernel_to_pwm(kernel, base_value).transpose(2, 0, 1)
        constants = kernel_constant(kernel, base_value, bias)
    else:
        pwms = np.stack([kernel_to_pwm(kernel[:, :, t], math.exp(ln_base[t])) for t in range(n_filters)])
        constants = np.array([kernel_constant(kernel[:, :, t], math.exp(ln_base[t]), bias[t])
                              for t in range(n_filters)])
    return Extraction(layer_name=spec.layer_name, kernel=kernel, bias=bias, ln_base=ln_base, se=se,
                      loglik=loglik, pwms=pwms, constants=constants, n_used=np.asarray(n_used),
                      stats=stats, estimate=estimate, shared_base=bool(shared_base), sites=rule.label)


def check_pattern(spec, *, estimating, force=False, path=None):
    """Refuse an MLE whose assumption (conv -> non-decreasing activation -> global max) fails.

    Parameters
    ----------
    spec : ConvSpec
    estimating : bool
        The base is to be estimated; a fixed base needs no assumption (a warning only).
    force : bool
        Estimate anyway, with a warning.
    path : str, optional
        The model file, for the error message.

    Raises
    ------
    PatternError
        When the base is to be estimated, the pattern breaks and ``force`` is not set.
    """
    if spec.pattern_ok:
        return
    if not estimating:
        warnings.warn(f"{spec.problem}; the PWMs use the fixed base given")
    elif force:
        warnings.warn(f"{spec.problem}; estimating the base anyway: the MLE's assumption does not hold")
    else:
        raise PatternError(f"{spec.report()}; the MLE of the base assumes conv -> non-decreasing activation "
                           f"-> global max-pool. Layers found: {', '.join(spec.layers_found)}.", path=path)


def open_sequences_for(spec, sequences, *, dataset=None, n_encoding="zero"):
    """Open the sequences a Conv1D will scan, checking that they fit the layer.

    Parameters
    ----------
    spec : ConvSpec
    sequences : path, numpy.ndarray or SequenceSource
        See :func:`k2p_keras.sequences.open_sequences`.
    dataset, n_encoding
        As for :func:`k2p_keras.sequences.open_sequences`.

    Returns
    -------
    SequenceSource
        Sequences shorter than an unpadded kernel are refused; a length other than the
        model's fixed input length gets a warning.
    """
    from .sequences import open_sequences

    # The reader gives canonical (B, length, 4) batches whatever the layout stored (it
    # recognises (N, 4, length) by its shape); the scan works in that layout for every model.
    n_rows = spec.kernel.shape[0]
    if spec.input_length:
        fits_length, wanted = (lambda n: n == spec.input_length), f"the model's input (N, {spec.input_length}, 4)"
    else:
        fits_length = (lambda n: n >= n_rows) if spec.padding == "valid" else None
        wanted = f"layer {spec.layer_name!r}: one-hot (N, length, 4)" + (f", length >= {n_rows}" if fits_length else "")
    source = open_sequences(sequences, dataset=dataset, n_encoding=n_encoding, fits_length=fits_length,
                            wanted=wanted)
    path = getattr(source, "path", None)
    if spec.padding == "valid" and source.min_length < spec.kernel.shape[0]:
        raise K2PError(f"sequences of length {source.min_length} are shorter than the kernel of "
                       f"{spec.layer_name!r} ({spec.kernel.shape[0]})", path=path)
    check_sequence_length(source.max_length, "the longest sequence", spec.input_length, path=path)
    if spec.input_length and source.length != spec.input_length:
        # Mixed lengths (FASTA) are scanned as they are, like any other length: one warning says so.
        where = f"{path}: " if path else ""
        lengths = (f"length {source.length}" if source.length is not None
                   else f"lengths from {source.min_length} to {source.max_length}")
        warnings.warn(f"{where}sequences have {lengths}, the model's input {spec.input_length}")
    return source


def format_summary(rows, columns, header=True):
    """Tab-separated text with a header line (unless ``header`` is False); floats at full precision."""
    def cell(value):
        if isinstance(value, float) or isinstance(value, np.floating):
            return repr(float(value))
        return str(value)

    lines = ["\t".join(columns)] if header else []
    lines += ["\t".join(cell(row[c]) for c in columns) for row in rows]
    return "\n".join(lines) + "\n" if lines else ""


METHODS = ("exact", "heuristic", "both")


def scans_needed(method, mle, threshold_fraction=None):
    """How many passes over the sequences :func:`extract_motif_sets` makes (for a progress bar)."""
    exact_scan = method in ("exact", "both") and mle
    if method == "exact":
        return int(exact_scan)
    # An absolute threshold rides on the MLE's scan; a fraction needs the maxima first.
    heuristic_scans = (1 if threshold_fraction is None else 2) - int(exact_scan)
    return int(exact_scan) + heuristic_scans


def extract_motif_sets(spec, open_batches, *, method="exact", base="mle", shared_base=True, sites="all",
                       both_strands=False, exclude_inactive=False, threshold=0.0, threshold_fraction=None,
                       force=False, progress=None, strategy=None):
    """Exact PWMs, heuristic PWMs or both, sharing the scans between them.

    Parameters
    ----------
    spec : ConvSpec
    open_batches : callable or None
        Returns a fresh iterable of one-hot batches ``(B, length, 4)`` on each call, e.g.
        ``lambda: source.iter_batches(512)``; None only for the exact method with a fixed base.
    method : {"exact", "heuristic", "both"}
    base, shared_base, sites, both_strands, exclude_inactive, force
        As for :func:`extract_pwms` (the exact method).
    threshold, threshold_fraction
        As for :func:`k2p_keras.heuristic.heuristic_pwms` (the heuristic method).
    progress : callable, optional
        Receives the number of sequences in each scanned batch, over all
        :func:`scans_needed` passes.
    strategy : tf.distribute.Strategy, optional
        Every scan on the strategy's devices (:func:`k2p_keras.scan.scan_best_windows`).

    Returns
    -------
    tuple of (Extraction or None, HeuristicPWMs or None)
    """
    if method not in METHODS:
        raise K2PError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    want_exact, want_heuristic = method in ("exact", "both"), method in ("heuristic", "both")
    mle = isinstance(base, str) and base == "mle"
    if open_batches is None and (mle or want_heuristic):
        raise K2PError("sequences are needed to estimate the base and for the heuristic")
    exact = heuristic = None
    if want_exact:
        ride_along = None
        if want_heuristic and mle and threshold_fraction is None:
            ride_along = preactivation_threshold(spec.activation, threshold, spec.active_threshold)
        exact = extract_pwms(spec, open_batches() if mle else None, base=base, shared_base=shared_base,
                             sites=sites, both_strands=both_strands, exclude_inactive=exclude_inactive,
                             letter_threshold=ride_along, force=force, progress=progress, strategy=strategy)
        if ride_along is not None:
            heuristic = heuristic_from_stats(spec.layer_name, exact.stats, ride_along,
                                             output_threshold=float(threshold))
    if want_heuristic and heuristic is None:
        first_pass = exact.stats.max_preactivation if exact is not None and exact.stats is not None else None
        heuristic = heuristic_pwms(spec, open_batches, threshold=threshold,
                                   threshold_fraction=threshold_fraction, both_strands=both_strands,
                                   max_preactivation=first_pass, progress=progress, strategy=strategy)
    return exact, heuristic
