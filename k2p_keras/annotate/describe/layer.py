"""Does the first layer hold whole motifs? One verdict on the layer, from its filters' database matches.

    each filter's verdict (:func:`match_verdict`: Tomtom's, weighed by its bits)
      + its influence (when measured), else one vote per compared filter
      --(layer_verdict)--> LayerVerdict: the share in matching filters, "whole motifs" or "partial motifs"

A filter's exact PWM is what it computes, whatever it learned; whether that is a motif a
biologist would name depends on the model. Koo & Eddy (2019) showed that a CNN whose first
max-pool is small (4 or less) spreads motifs over several filters, each a partial motif, and
builds the whole ones deeper; a large first pool (25) makes first-layer filters learn whole
motifs. So the per-filter answers mean little when few filters match a database motif: the
layer as a whole gets a verdict, and, when it holds partial motifs, the literature's advice.

The share counts the filters whose best database match is a **match** (significant, 8 bits or
more: weak matches do not count). Weighed by influence (the mean squared change of the
outputs without the filter) when it was measured: how much of what the layer passes on comes
from filters naming a motif. Otherwise each filter compared with the database counts once
(filters too flat to compare are left out: a model with dead filters may still hold whole
motifs in the others).

**Threshold** (:data:`WHOLE_MOTIF_SHARE`, a quarter): on Koo & Eddy's benchmark, the CNN with
a first pool of 4 has 1 to 4 of its 30 filters matching a planted motif (3-13 %), by every
method; the one with a pool of 25 has 20 to 29 of 30 (67-97 %), and the bundled example, whose
16 filters learned 4 planted motifs beside background, 7 of 16 (44 %; nearly all its influence).
A quarter lies between the two groups with room on either side.
"""
import dataclasses
import math

import numpy as np

from ...errors import K2PError
__all__ = ["ADVICE", "LAYER_VERDICTS", "LOW_INFORMATION_BITS", "LayerVerdict", "SIGNIFICANT_VERDICTS", "VERDICTS",
           "WHOLE_MOTIF_SHARE", "format_bits", "has_few_bits", "layer_verdict", "match_verdict"]

#: A PWM of I bits expects a chance site every 2^I positions (Schneider's R_frequency): under
#: 8 bits, once per 256 bp, about once in every sequence of a ChIP-seq model's length. Such a
#: filter cannot single out a factor's sites, so its significant database matches are
#: "weak matches" (greyed in the reports).
LOW_INFORMATION_BITS = 8.0


def format_bits(bits):
    """A PWM's bits as every table and report shows them: one decimal."""
    return f"{bits:.1f}"


def has_few_bits(bits, low_bits=LOW_INFORMATION_BITS):
    """Under ``low_bits`` as shown (:func:`format_bits`): the one rule for "weak match" and the reports'
    grey, so a figure and its verdict never disagree (7.98 bits shows as 8.0 and counts as 8.0)."""
    return float(format_bits(bits)) < low_bits


#: What a filter's best database match says, strongest first.
VERDICTS = ("match", "weak match", "no match", "not compared")
#: The verdicts of a significant best match (q-value at or under the threshold).
SIGNIFICANT_VERDICTS = VERDICTS[:2]


def match_verdict(significant, compared, bits, low_bits=LOW_INFORMATION_BITS):
    """One of :data:`VERDICTS`: Tomtom's verdict weighed by the filter's information content.

    Parameters
    ----------
    significant : bool
        The best database match is significant (q-value at or under the threshold).
    compared : bool
        The PWM had an informative span to compare (see :mod:`k2p_keras.annotate.match.tomtom`).
    bits : float
        The PWM's information content, summed over its columns.
    low_bits : float
        Under this, a significant match is a "weak match" (:data:`LOW_INFORMATION_BITS`).
    """
    if not compared:
        return "not compared"
    if significant:
        return "weak match" if has_few_bits(bits, low_bits) else "match"
    return "no match"

#: Under this share (of the influence, or of the compared filters) in filters matching a
#: database motif, the layer's filters look like partial motifs.
WHOLE_MOTIF_SHARE = 0.25
#: What a layer holds, by the share of its filters that match a database motif.
LAYER_VERDICTS = ("whole motifs", "partial motifs")
#: What the literature advises when a first layer holds partial motifs.
ADVICE = ("a larger first-layer max-pool (Koo & Eddy 2019, PLoS Comput Biol 15:e1007560) or an exponential "
          "activation in the first layer (Koo & Ploenzke 2021, Nat Mach Intell 3:258-266) make first-layer "
          "filters learn whole motifs")


@dataclasses.dataclass(eq=False)
class LayerVerdict:
    """What the first layer holds, as a whole.

    Attributes
    ----------
    verdict : str
        One of :data:`LAYER_VERDICTS`.
    share : float
        The share of the influence (``basis`` "influence") or of the compared filters
        ("informative filters") in filters whose verdict is "match".
    basis : str
        ``"influence"`` or ``"informative filters"``.
    matched : int
        Filters whose best database match is a match.
    counted : int
        Filters the share is over: every filter under influence, the compared ones otherwise.
    n_filters : int
    threshold : float
    """

    verdict: str
    share: float
    basis: str
    matched: int
    counted: int
    n_filters: int
    threshold: float = WHOLE_MOTIF_SHARE

    @property
    def partial(self):
        """Whether the filters look like partial motifs (the advice applies)."""
        return self.verdict == LAYER_VERDICTS[1]

    @property
    def measure(self):
        """What was measured, in words: ``45% of the influence sits in the 7 of 16 filters ...``."""
        percent = f"{100 * self.share:.0f}%"
        if self.basis == "influence":
            return (f"{percent} of the influence sits in the {self.matched} of {self.n_filters} filters that match "
                    f"a database motif")
        return f"{self.matched} of {self.counted} informative filters ({percent}) match a database motif"

    @property
    def conclusion(self):
        """The verdict and, for partial motifs, the advice."""
        if not self.partial:
            return "the filters hold whole motifs"
        return (f"under {100 * self.threshold:.0f}%: the filters look like partial motifs, so their matches "
                f"(and missing matches) say little about which motifs the model learned; {ADVICE}")

    def text(self):
        """One line for a terminal or a file header."""
        return f"first layer: {self.verdict}: {self.measure}; {self.conclusion}"


def layer_verdict(verdicts, influence=None, threshold=WHOLE_MOTIF_SHARE):
    """The first layer's verdict from its filters' verdicts.

    Parameters
    ----------
    verdicts : sequence of str
        Each filter's :data:`~k2p_keras.annotate.describe.layer.VERDICTS` entry (its exact PWM's, in
        filter order).
    influence : array-like, shape (F,), optional
        Each filter's influence (non-negative; averaged over outputs). Without it, or when it
        is 0 everywhere, each compared filter counts once.
    threshold : float
        Under this share, the verdict is "partial motifs" (:data:`WHOLE_MOTIF_SHARE`).

    Returns
    -------
    LayerVerdict
    """
    verdicts = list(verdicts)
    unknown = sorted(set(verdicts) - set(VERDICTS))
    if not verdicts or unknown:
        raise K2PError(f"expected one verdict per filter among {', '.join(VERDICTS)}, got {unknown or 'none'}")
    matched = np.array([v == VERDICTS[0] for v in verdicts])
    compared = np.array([v != VERDICTS[-1] for v in verdicts])
    weights = None if influence is None else np.clip(np.asarray(influence, dtype=np.float64), 0.0, None)
    if weights is not None and weights.shape != matched.shape:
        raise K2PError(f"influence: expected one value per filter ({len(verdicts)}), got shape {weights.shape}")
    if weights is not None and np.isfinite(weights).all() and weights.sum() > 0:
        share, basis, counted = float(weights[matched].sum() / weights.sum()), "influence", len(verdicts)
    else:
        counted = int(compared.sum())
        share, basis = (float(matched.sum() / counted) if counted else 0.0), "informative filters"
    verdict = LAYER_VERDICTS[0] if share >= threshold and not math.isnan(share) else LAYER_VERDICTS[1]
    return LayerVerdict(verdict=verdict, share=share, basis=basis, matched=int(matched.sum()), counted=counted,
                        n_filters=len(verdicts), threshold=float(threshold))
