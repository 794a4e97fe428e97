"""Which best windows count as sites of the motif: the windows the MLE of the base learns from.

Any base ``b`` gives an exact PWM (the filter's scores are reproduced whatever ``b`` is);
``b`` only sets how sharp the PWM is, that is how sharp its logo looks. The MLE of k2p-1.0
and of the paper (section 5 of the supplementary notes) treats *every* sequence's best
window as a draw from the PWM. In a sequence without the motif, though, the best window is
background that merely scored highest: mixing those non-sites with the sites flattens the
estimated PWM. Each rule here names the best windows that count as sites:

``all``
    every sequence's best window (k2p-1.0 and the paper);
``active``
    the best windows that pass the filter's activation (a ReLU's ``conv + bias > 0``;
    section 5 of the notes suggests it);
``strong``
    the best windows whose activation exceeds a fraction (one half, :data:`STRONG_FRACTION`)
    of the filter's largest activation over the data, the windows Basset's heuristic
    counts; a number in (0, 1) as ``sites`` picks another fraction.

``all`` and ``active`` are summed exactly by the scan. ``strong`` needs the largest
activation, known only once every sequence has been seen; instead of a second pass the
scan sorts each best window into one of :data:`SCORE_BINS` bins of its score
(:class:`ScoreHistogram`), and the rule keeps the bins from the one holding the threshold
upwards: windows up to one bin width (1/1000 of the filter's score range) below the
threshold count too. The scan stays one pass, with memory independent of the number of
sequences.

"Each sequence's best window" is the global max-pool's choice. What follows the conv sets the
scope of the rules (``ConvSpec.scope``, :mod:`k2p_keras.model.after_conv`): after a local
max-pool they read "each pooling block's best window" (a window that wins several
overlapping blocks counts once); where the model selects no window, the sites are the strong
windows anywhere (``all`` and ``active`` would take every window, and are refused).

    ScanStats --site_sums(rule)--> SiteSums --mle.estimate_base--> ln b and its SE
"""
from dataclasses import dataclass

import numpy as np

from ..errors import K2PError
from ..model.activations import activation_rule, threshold_from_fraction


SITES = ("all", "active", "strong")

# Chosen by benchmarks/paper: with a shared base, the strong sites' PWMs came closest to the
# planted motifs (benchmarks/paper/results/README.md).
DEFAULT_SITES = "strong"

STRONG_FRACTION = 0.5

# The help of the ``sites`` option (k2p_keras.options.Options).
SITES_HELP = (
    "Which best windows count as binding sites for the base's estimate (the base sets only how "
    "sharp a PWM is, never its scores): 'strong' (default), each sequence's best window if it "
    "reaches half of the filter's strongest ('strong=F': that fraction); 'active', if it switches "
    "the filter on; 'all', every sequence's, as k2p-1.0 and the paper did (docs/base-estimation.md).")


@dataclass(frozen=True)
class SiteRule:
    """A rule naming the best windows that count as sites.

    Attributes
    ----------
    kind : {"all", "active", "strong"}
    fraction : float or None
        For ``strong``: the fraction of the filter's largest activation a window must exceed.
    """

    kind: str
    fraction: float = None

    @property
    def label(self):
        """``all``, ``active``, ``strong``, or ``strong=0.3`` for another fraction."""
        if self.kind == "strong" and self.fraction != STRONG_FRACTION:
            return f"strong={self.fraction:g}"
        return self.kind


def site_rule(sites):
    """Validate a ``sites`` argument into a :class:`SiteRule`.

    Parameters
    ----------
    sites : str, float or SiteRule
        One of :data:`SITES`, ``"strong=F"``, or a fraction ``F`` in (0, 1) meaning
        ``strong`` with that fraction.

    Returns
    -------
    SiteRule
    """
    if isinstance(sites, SiteRule):
        rule = sites
    elif isinstance(sites, str):
        kind, _, value = sites.strip().lower().partition("=")
        if kind not in SITES or (value and kind != "strong"):
            raise K2PError(f"sites must be one of {', '.join(SITES)} (or strong=FRACTION), got {sites!r}")
        rule = SiteRule(kind, _fraction(value) if value else STRONG_FRACTION) if kind == "strong" \
            else SiteRule(kind)
    elif isinstance(sites, (int, float)) and not isinstance(sites, bool):
        rule = SiteRule("strong", _fraction(sites))
    else:
        raise K2PError(f"sites must be one of {', '.join(SITES)} or a fraction in (0, 1), got {sites!r}")
    return rule


def _fraction(value):
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise K2PError(f"the strong sites' fraction must be a number in (0, 1), got {value!r}") from None
    if not (0.0 < fraction < 1.0):
        raise K2PError(f"the strong sites' fraction must be in (0, 1), got {value!r}")
    return fraction


@dataclass
class SiteSums:
    """The MLE's inputs summed over the windows a rule counts as sites.

    Attributes
    ----------
    rule : SiteRule
    score_sum : numpy.ndarray, shape (F,)
        Sum of the sites' scores ``x . W`` (no bias).
    row_weight : numpy.ndarray, shape (F, L)
        Summed row weight of each kernel position over the sites.
    n_used : numpy.ndarray of int, shape (F,)
        Sites per filter (one best window per sequence, or per pooling block, at most; or windows anywhere).
    threshold : numpy.ndarray, shape (F,), or None
        For ``strong``: the ``conv + bias`` a window had to exceed (up to one bin width).
    """

    rule: SiteRule
    score_sum: np.ndarray
    row_weight: np.ndarray
    n_used: np.ndarray
    threshold: np.ndarray = None


def strong_threshold(max_preactivation, rule, activation="relu", active_threshold=0.0):
    """The ``conv + bias`` a strong site must reach: its activation at ``rule.fraction`` of the filter's largest.

    An activation that is not non-decreasing (the windows anywhere of a model whose activation
    after the conv is, say, GELU) has no such threshold: the fraction is then read on
    ``conv + bias`` itself.

    Parameters
    ----------
    max_preactivation : numpy.ndarray, shape (F,)
        Each filter's largest ``conv + bias`` over the data.
    rule : SiteRule
        A ``strong`` rule.
    activation : str
    active_threshold : float

    Returns
    -------
    numpy.ndarray, shape (F,)
    """
    known = activation_rule(activation)
    if known is None or not known.monotone:
        activation = "linear"
    return threshold_from_fraction(activation, max_preactivation, rule.fraction, active_threshold)


def site_sums(stats, rule, bias, activation="relu", active_threshold=0.0):
    """Sum the scan's best windows that ``rule`` counts as sites.

    Parameters
    ----------
    stats : ScanStats
        From :func:`k2p_keras.scan.best_windows.scan_best_windows`, scanned with
        ``active_only=True`` for ``active`` and with ``score_bins`` for ``strong``.
    rule : SiteRule
    bias : numpy.ndarray, shape (F,)
    activation : str
        The layer's (non-decreasing) activation, to read "a fraction of the largest
        activation" on its output as a threshold on ``conv + bias``.
    active_threshold : float
        A ReLU's own threshold (``ConvSpec.active_threshold``).

    Returns
    -------
    SiteSums
        For ``all`` and ``active``, the scan's own sums (the same arrays).
    """
    if rule.kind in ("all", "active"):
        return SiteSums(rule, stats.score_sum, stats.row_weight, stats.n_used)
    histogram = getattr(stats, "score_histogram", None)
    if histogram is None:
        raise K2PError("the strong sites need the scan's score histogram (scan with score_bins)")
    threshold = strong_threshold(stats.max_preactivation, rule, activation, active_threshold)
    n_filters, n_bins = histogram.count.shape
    # The bin holding the threshold on the score; below the first bin every window passes,
    # past the last none does (a filter that never activates). Each filter keeps its bins
    # from there on: slices, not a mask over every bin and row.
    with np.errstate(invalid="ignore"):
        first = np.floor((threshold - bias - histogram.low) / histogram.width)
    score_sum, n_used = np.zeros(n_filters), np.zeros(n_filters)
    row_weight = np.zeros(histogram.row_weight.shape[::2])
    for t in range(n_filters):
        if first[t] < n_bins:  # False for NaN too
            kept = slice(0 if first[t] < 0 else int(first[t]), None)
            score_sum[t] = histogram.score_sum[t, kept].sum()
            row_weight[t] = histogram.row_weight[t, kept].sum(axis=0)
            n_used[t] = histogram.count[t, kept].sum()
    return SiteSums(rule, score_sum=score_sum, row_weight=row_weight, n_used=np.rint(n_used).astype(np.int64),
                    threshold=threshold)
