"""One convolutional filter as the reports show it: :class:`FilterReport`, and how strong its match is.

    ExtractionResult.filter_reports() / filter_reports_from_motifs(MEME motifs) --> [FilterReport]
    attach_model_figures(reports, influence, clusters)   fills the optional figures
    match_verdict(...), match_rank(...)                   a match weighed by its bits; the reports' order

A :class:`FilterReport` holds a filter's PWMs (exact, and heuristic when made), display
figures, and what later stages may add: its influence on the model's output, its cluster,
activation diagnostics. :func:`match_rank` weighs a database match by the filter's
information content (:data:`LOW_INFORMATION_BITS`).
"""
import dataclasses
import math
import re

import numpy as np

from ...errors import K2PError
from ...transform import information_content
from .html import number
from ..describe.layer import LOW_INFORMATION_BITS, match_verdict, VERDICTS

__all__ = ["FilterReport", "attach_model_figures", "filter_reports_from_motifs", "match_rank"]

@dataclasses.dataclass(eq=False)
class FilterReport:
    """What the report shows for one filter.

    Attributes
    ----------
    name : str
        The filter's motif name, as in the annotation (``motif_conv_3`` or ``..._exact``).
    exact : numpy.ndarray, shape (L, 4)
        The exact PWM (or, for a MEME file of other origin, its PWM).
    heuristic : numpy.ndarray or None
        The heuristic PWM of the same filter, when computed.
    heuristic_name : str or None
        Its name in the annotation, to show its own best matches.
    figures : dict of str to str
        Shown as given, e.g. ``{"ln b": "2.38 (SE 0.0063)", "sequences used": "4000"}``;
        the information content is added from the PWM.
    influence : float or None
        How much the model's output depends on the filter (e.g. the mean squared change of
        the output when the filter is replaced by a constant); filters are ordered by it.
    delta_loss : float or None
        The loss's change under the same replacement, shown beside it.
    cluster : int or None
        The filter's cluster (the filters that learned one motif); None: not clustered.
    is_archetype : bool
        Whether the filter stands for its cluster (drawn first, the others folded under it).
    auroc : float or None
        AUROC of the filter's best ``conv + bias`` per sequence alone against the labels (with
        several label columns, the column it separates best).
    class_means : dict or None
        Class label -> mean best activation of the sequences of that class.
    activation_histogram : tuple or None
        ``(edges, {class label: counts})``: the distribution of each sequence's best ``conv +
        bias``, ``len(edges) == len(counts) + 1``.
    position_histogram : numpy.ndarray or None
        Best windows per position along the sequence (the conv's output index), ``(P,)``, or
        ``(P, 2)`` for the forward and reverse strands.
    """

    name: str
    exact: np.ndarray
    heuristic: np.ndarray | None = None
    heuristic_name: str | None = None
    figures: dict = dataclasses.field(default_factory=dict)
    influence: float | None = None
    delta_loss: float | None = None
    cluster: int | None = None
    is_archetype: bool = False
    auroc: float | None = None
    class_means: dict | None = None
    activation_histogram: tuple | None = None
    position_histogram: np.ndarray | None = None

    @property
    def info_bits(self):
        """Information content of the exact PWM, summed over its columns (bits)."""
        return float(information_content(self.exact).sum())

    @property
    def heuristic_info_bits(self):
        """Information content of the heuristic PWM (bits), or None."""
        return None if self.heuristic is None else float(information_content(self.heuristic).sum())


def _per_filter(values, n_filters, what):
    """An extraction's per-filter figure, ``(F,)`` or ``(F, outputs)``, as F floats (mean over outputs)."""
    if values is None:
        return [None] * n_filters
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[0] != n_filters:
        raise K2PError(f"{what}: expected one value per filter ({n_filters}), or ({n_filters}, outputs), "
                       f"got shape {array.shape}")
    return [float(v) for v in (array if array.ndim == 1 else array.mean(axis=1))]


def attach_model_figures(reports, influence=None, clusters=None, diagnostics=None):
    """Fill the reports' influence, cluster and diagnostics fields from an extraction's results.

    Parameters
    ----------
    reports : list of FilterReport
        One per filter, in filter order.
    influence : k2p_keras.annotate.run.influence.Influence, optional
        Read for its ``msq`` (``(F,)``, or ``(F, outputs)``: averaged over outputs), ``delta_loss``
        (same shapes, or None) and ``null`` (what a filter is replaced by: a description,
        or one value per filter).
    clusters : k2p_keras.annotate.group.clusters.Clusters, optional
        Read for its ``labels`` (``(F,)`` cluster ids) and ``archetypes`` (cluster id -> filter index).
    diagnostics : k2p_keras.annotate.describe.diagnostics.Diagnostics, optional
        Read for its ``report_fields(f)``: filter ``f``'s diagnostics fields (``auroc``,
        ``class_means``, ``activation_histogram``, ``position_histogram``; ``figures`` added to
        its figures).

    Returns
    -------
    list of FilterReport
        The same objects.
    """
    n = len(reports)
    if influence is not None:
        msq = _per_filter(influence.msq, n, "influence")
        loss = _per_filter(getattr(influence, "delta_loss", None), n, "influence's delta_loss")
        null = getattr(influence, "null", None)
        nulls = [null] * n if null is None or isinstance(null, str) else _per_filter(null, n, "influence's null")
        for report, m, d, z in zip(reports, msq, loss, nulls):
            report.influence, report.delta_loss = m, d
            if z is not None:
                report.figures["influence null (the filter replaced by)"] = z if isinstance(z, str) else number(z)
    if clusters is not None:
        labels = np.asarray(clusters.labels)
        if labels.shape != (n,):
            raise K2PError(f"clusters: expected one label per filter ({n}), got shape {labels.shape}")
        archetypes = {int(k): int(v) for k, v in dict(clusters.archetypes).items()}
        for t, report in enumerate(reports):
            report.cluster = int(labels[t])
            report.is_archetype = archetypes.get(report.cluster) == t
    if diagnostics is not None:
        for t, report in enumerate(reports):
            fields = dict(diagnostics.report_fields(t))
            report.figures.update(fields.pop("figures", {}))
            for name, value in fields.items():
                setattr(report, name, value)
    return reports


def match_rank(significant, compared, bits, q_value=1.0, p_value=1.0, low_bits=LOW_INFORMATION_BITS):
    """Sort key of a filter's best match, strongest first.

    Informative matches first, then matches of filters under ``low_bits``, then compared
    filters without a match, then filters too flat to compare (:data:`VERDICTS`' order);
    by q- then p-value within. Both reports order filters by it.
    """
    q = 1.0 if q_value is None or math.isnan(q_value) else q_value
    return (VERDICTS.index(match_verdict(significant, compared, bits, low_bits)), q, p_value)


def _figures_from_alt_name(motif, prefix=""):
    """The figures k2p-keras records in a motif's alternate name and nsites, as display strings."""
    figures = {}
    fields = dict(re.findall(r"([A-Za-z_]+)=([^,]+)", motif.alt_name or ""))
    if "ln_b" in fields:
        text = f"{float(fields['ln_b']):.4g}"
        if "SE" in fields:
            text += f" (SE {fields['SE']})"
        figures[prefix + "ln b"] = text
    if "windows" in fields:
        figures[prefix + "windows counted"] = fields["windows"]
    elif motif.nsites is not None:
        figures[prefix + "sequences used"] = str(motif.nsites)
    return figures


def filter_reports_from_motifs(motifs):
    """One :class:`FilterReport` per filter of a MEME file written by k2p-keras (or any MEME file).

    Motifs named ``<stem>_exact`` and ``<stem>_heuristic`` (``--method both``) share one
    entry; ``ln_b=...,SE=...`` in an alternate name and ``nsites`` become figures.

    Parameters
    ----------
    motifs : list of Motif

    Returns
    -------
    list of FilterReport
        In file order of the first motif of each filter.
    """
    motifs = list(motifs)
    by_name = {m.name: m for m in motifs}
    reports, done = [], set()
    for motif in motifs:
        if motif.name in done:
            continue
        stem = motif.name[:-len("_exact")] if motif.name.endswith("_exact") else None
        partner = by_name.get(f"{stem}_heuristic") if stem else None
        if motif.name.endswith("_heuristic") and motif.name[:-len("_heuristic")] + "_exact" in by_name:
            continue  # drawn with its exact partner
        figures = _figures_from_alt_name(motif)
        if partner is not None:
            figures.update(_figures_from_alt_name(partner, prefix="heuristic: "))
            done.add(partner.name)
        reports.append(FilterReport(name=motif.name, exact=motif.pwm,
                                    heuristic=None if partner is None else partner.pwm,
                                    heuristic_name=None if partner is None else partner.name, figures=figures))
        done.add(motif.name)
    return reports
