"""What :func:`k2p_keras.extract` returns: the PWM sets, where they come from, and their writers.

:class:`ExtractionResult` writes the MEME file (:meth:`~ExtractionResult.write_meme`), the summary
table, the archetypes, the logos and the HTML report, and runs the analyses that take the PWMs
(annotation, clusters) or the model (influence) after the extraction.
"""
from __future__ import annotations

from dataclasses import dataclass
import os
from typing import Any, Callable, Optional, TextIO, Union

import numpy as np

from ._version import __version__
from .annotate.describe.diagnostics import Diagnostics
from .annotate.describe.layer import layer_verdict, LayerVerdict
from .annotate.draw.filters import attach_model_figures, FilterReport
from .annotate.draw.logos import write_filter_logos
from .annotate.draw.report import write_report
from .annotate.group.clusters import cluster_motifs, Clusters, DEFAULT_CLUSTER_Q
from .annotate.match.tomtom import Annotation, annotate_motifs, MotifDatabase
from .annotate.run.influence import checked_runnable_model, Influence, influence_of_filters
from .axes import complement
from .errors import K2PError
from .io.labels import open_labels
from .io.meme import Motif, write_meme
from .io.sequences import open_batches_for
from .io.text import format_summary, write_text
from .model.conv import ConvSpec
from .motifs.exact import ExactPWMs
from .motifs.heuristic import HeuristicPWMs
from .motifs.motifset import MotifSet
from .options import Options

__all__ = ["ExtractionResult", "MEME_DIGITS"]

#: Significant digits of the probabilities in the MEME files written (rows sum to 1 within 1e-5).
MEME_DIGITS = 6


@dataclass
class ExtractionResult:
    """What :func:`extract` made: the PWM sets, the layer they came from, and how.

    Attributes
    ----------
    spec : ConvSpec
        The motif conv: kernel, bias, settings and the pattern check (``spec.report()``).
    options : Options
        The options used.
    exact : ExactPWMs or None
        Exact PWMs with ``ln b``, its SE, the constants ``d`` and the scan's statistics.
    heuristic : HeuristicPWMs or None
        Heuristic PWMs with their window counts.
    model : str
        The model file, or a description of the in-memory model.
    sequences : str or None
        The sequence file, or a description of the in-memory sequences.
    n_sequences : int or None
        Sequences scanned (None when nothing was scanned).
    annotation : Annotation or None
        Set by :meth:`annotate`: every PWM's matches in a motif database.
    influence : Influence or None
        Set by ``influence=True`` or :meth:`measure_influence`: each filter's influence
        (:class:`~k2p_keras.annotate.run.influence.Influence`).
    clusters : Clusters or None
        Set by ``cluster=True`` or :meth:`find_clusters`: the filters grouped by the motif they
        learned (:class:`~k2p_keras.annotate.group.clusters.Clusters`).
    diagnostics : Diagnostics or None
        Set by ``diagnostics=True``: each filter's activations on the sequences
        (:class:`~k2p_keras.annotate.describe.diagnostics.Diagnostics`).
    """

    spec: ConvSpec
    options: Options
    exact: Optional[ExactPWMs] = None
    heuristic: Optional[HeuristicPWMs] = None
    model: str = ""
    sequences: Optional[str] = None
    n_sequences: Optional[int] = None
    annotation: Optional[Annotation] = None
    influence: Optional[Influence] = None
    clusters: Optional[Clusters] = None
    diagnostics: Optional[Diagnostics] = None

    @property
    def sets(self) -> list[MotifSet]:
        """The PWM sets made, exact first."""
        return [s for s in (self.exact, self.heuristic) if s is not None]

    @property
    def layer_name(self) -> str:
        return self.spec.layer_name

    @property
    def site_scope(self) -> str:
        """Which windows were the sites: ``"sequence"``, ``"block"`` or ``"anywhere"`` (``spec.scope``)."""
        return self.spec.scope

    @property
    def pattern(self) -> str:
        """The pattern line of the MEME and summary headers and of the report: the chain of layers after
        the conv, whether the MLE's assumption holds, and the sites, e.g. ``motif_conv (Conv1D, relu) ->
        GlobalMaxPooling1D (assumption holds; sites: strong, each sequence's best window)``."""
        spec = self.spec
        holds = "assumption holds" if spec.pattern_ok else f"assumption does not hold: {spec.problem}"
        if self.options.estimating:
            sites = f"{self.options.sites}, {spec.sites_text}"
        else:
            sites = "none (heuristic PWMs only)" if self.options.method == "heuristic" else "none (fixed base)"
        return f"{spec.chain()} ({holds}; sites: {sites})"

    def suffix(self, motif_set: MotifSet) -> str:
        """``_exact`` / ``_heuristic`` when both sets are written, else nothing."""
        return f"_{motif_set.kind}" if len(self.sets) > 1 else ""

    def motifs(self) -> list[Motif]:
        """Every PWM as a :class:`~k2p_keras.io.meme.Motif`, named ``<layer>_<index>[_<set>]``."""
        return [m for s in self.sets for m in s.motifs(self.suffix(s))]

    def background(self) -> Optional[np.ndarray]:
        """Letter frequencies A C G T of the scanned sequences, or None when none were scanned.

        For a both-strand model the counts are averaged with their reverse complement, as
        the MEME suite does for a background of both strands.
        """
        for motif_set in self.sets:
            stats = getattr(motif_set, "stats", None)
            totals = getattr(motif_set, "letter_totals", None) if stats is None else stats.letter_totals
            if totals is not None and totals.sum() > 0:
                if self.options.both_strands:
                    totals = (totals + complement(totals)) / 2
                return totals / totals.sum()
        return None

    def write_meme(self, dest: Union[str, os.PathLike, TextIO]) -> None:
        """Write :meth:`motifs` as MEME (a path, written atomically, or an open text file).

        Probabilities at 6 significant digits; ``strands:`` as the model scans; the
        sequences' letter frequencies as background (uniform when none were scanned); a
        ``#`` comment header saying where the motifs come from (:meth:`header`).
        """
        self._write_motifs(dest, self.motifs())

    def _write_motifs(self, dest, motifs, comments=()):
        header = self.header()
        comments = [header["tool"]] + [f"{key}: {header[key]}"
                                       for key in ("model", "layer", "pattern", "base", "sequences")] + list(comments)
        write_meme(dest, motifs, background=self.background(), significant=MEME_DIGITS,
                   strands="+ -" if self.options.both_strands else "+", comments=comments)

    def archetype_motifs(self) -> list[Motif]:
        """One motif per cluster of informative filters, its archetype (the most informative
        member), in cluster order."""
        if self.clusters is None:
            raise K2PError("the archetypes stand for clusters: find them first (cluster=True, find_clusters)")
        first = self.sets[0]
        motifs = first.motifs(self.suffix(first))
        return [motifs[self.clusters.archetypes[c]] for c in self.clusters.informative_ids]

    def write_archetypes(self, dest: Union[str, os.PathLike, TextIO]) -> None:
        """Write :meth:`archetype_motifs` as MEME, as :meth:`write_meme` writes, the clusters'
        members listed in the ``#`` header."""
        motifs = self.archetype_motifs()
        clusters, names = self.clusters, self.clusters.names
        lines = [f"cluster {c}: {' '.join(names[i] for i in clusters.members(c))} "
                 f"(archetype {names[clusters.archetypes[c]]})" for c in clusters.informative_ids]
        self._write_motifs(dest, motifs, comments=lines)

    def _analysis_columns(self):
        """The columns of influence, clusters and diagnostics, when measured: one value per filter."""
        influence = () if self.influence is None else self.influence.columns
        diagnostics = () if self.diagnostics is None else self.diagnostics.columns
        return influence + (() if self.clusters is None else ("cluster",)) + diagnostics

    def _rows_of_set(self, motif_set):
        """One set's summary rows, with its best database match when annotated."""
        rows = motif_set.summary_rows()
        if self.annotation is not None:
            for t, row in enumerate(rows):
                row.update(self.annotation.summary_columns(motif_set.motif_name(t) + self.suffix(motif_set)))
        return rows

    @property
    def summary_columns(self) -> tuple[str, ...]:
        """Columns of :meth:`summary_rows`: the first set's, then the others' prefixed by their kind."""
        first, *others = self.sets
        # The annotation's columns are the same for every motif: the first one's names them.
        added = () if self.annotation is None else tuple(
            self.annotation.summary_columns(first.motif_name(0) + self.suffix(first)))
        columns = first.summary_columns + added
        for other in others:
            columns += tuple(f"{other.kind}_{c}" for c in other.summary_columns + added if c != "filter")
        return columns + self._analysis_columns()

    def summary_rows(self) -> list[dict[str, Any]]:
        """Per filter: the figures of every set side by side (see :attr:`summary_columns`), and
        each set's best database match (``best_match_id``, ..., ``annotation``) once annotated."""
        first, *others = self.sets
        rows = self._rows_of_set(first)
        for other in others:
            for row, extra in zip(rows, self._rows_of_set(other)):
                row.update({f"{other.kind}_{k}": v for k, v in extra.items() if k != "filter"})
        for f, row in enumerate(rows):
            for analysis in (self.influence, self.clusters, self.diagnostics):
                if analysis is not None:
                    row.update(analysis.summary_columns(f))
        return rows

    def annotate(self, database: Union[str, os.PathLike, MotifDatabase, None] = None, **options: Any) -> Annotation:
        """Compare every PWM with a motif database (Tomtom, via memelite); sets :attr:`annotation`.

        Parameters
        ----------
        database : str, os.PathLike or MotifDatabase, optional
            A MEME file or a JASPAR release name (pyjaspar); default the newest JASPAR CORE
            release pyjaspar holds, vertebrates (see :func:`k2p_keras.annotate.match.tomtom.load_database`).
        **options
            As for :func:`k2p_keras.annotate.match.tomtom.annotate_motifs` (``taxon``, ``q_threshold``,
            ``min_overlap``, ``top``, ``trim_ic``).

        Returns
        -------
        Annotation
        """
        self.annotation = annotate_motifs(self.motifs(), database, **options)
        return self.annotation

    def measure_influence(self, model: Any, sequences: Any, labels: Any = None, *, null: Optional[str] = None,
                          progress: Optional[Callable[[int], Any]] = None) -> Influence:
        """Each filter's influence (Basset's nullification); sets :attr:`influence`.

        Parameters
        ----------
        model : str, os.PathLike or keras.Model
            The model these PWMs come from: a file (loaded by Keras in safe mode, so a model
            with a Lambda or a custom class cannot be run from its file) or the live model.
        sequences
            What :func:`extract` takes.
        labels : optional
            An array ``(N,)`` or ``(N, outputs)``, or a dataset of the sequences' HDF5 file;
            by default ``y`` or ``labels`` beside the sequences, when there is one
            (:func:`k2p_keras.io.labels.open_labels`). Adds the change of the loss.
        null : {"auto", "pooled", "map"}, optional
            The constant [default: ``options.influence_null``]; see
            :mod:`k2p_keras.annotate.run.influence`.
        progress : callable, optional
            Receives the number of sequences in each batch read.

        Returns
        -------
        Influence
        """
        null = null or self.options.influence_null
        opened = open_batches_for(self.spec, sequences, dataset=self.options.dataset,
                                  n_encoding=self.options.n_encoding)
        runnable = checked_runnable_model(self.spec, model, self.options.weights, opened, null)
        values, source = open_labels(labels, opened.source or sequences, opened.count)
        self.influence = influence_of_filters(self.spec, runnable, opened, values, source,
                                              null=null, progress=progress)
        return self.influence

    def find_clusters(self, database: Union[str, os.PathLike, MotifDatabase, None] = None, *,
                      q_threshold: float = DEFAULT_CLUSTER_Q, **options: Any) -> Clusters:
        """Group the filters that learned the same motif; sets :attr:`clusters`.

        The first set's PWMs (the exact ones when there are both) are compared with each other
        by Tomtom on both strands, ``database`` serving as the background
        (:func:`k2p_keras.annotate.group.clusters.cluster_motifs`: filters of 8 bits or more linked by a
        match at ``q_threshold`` among them or a shared significant best database motif, clusters
        the connected components; a filter under 8 bits joins the one cluster all its matches lie in).

        Parameters
        ----------
        database : str, os.PathLike or MotifDatabase, optional
            Default: the newest JASPAR CORE vertebrates release pyjaspar holds.
        q_threshold : float
        **options
            ``taxon``, ``min_overlap``, ``trim_ic``, as for annotation.

        Returns
        -------
        Clusters
        """
        first = self.sets[0]
        self.clusters = cluster_motifs(first.motifs(self.suffix(first)), database, q_threshold=q_threshold, **options)
        return self.clusters

    def layer_verdict(self) -> Optional[LayerVerdict]:
        """Whether the first layer holds whole or partial motifs
        (:func:`k2p_keras.annotate.describe.layer.layer_verdict`): the share of the influence (when measured) or
        of the compared filters in filters whose exact PWM (the first set's) matches a database motif.
        None until :meth:`annotate` has run.

        Returns
        -------
        LayerVerdict or None
        """
        if self.annotation is None:
            return None
        first = self.sets[0]
        verdicts = [self.annotation.verdict(first.motif_name(t) + self.suffix(first)) for t in range(first.n_filters)]
        return layer_verdict(verdicts, None if self.influence is None else self.influence.total)

    def filter_reports(self) -> list[FilterReport]:
        """One :class:`~k2p_keras.annotate.draw.filters.FilterReport` per filter: its PWMs side by side and figures.

        With the filters' influence or clusters (attributes ``influence``, ``clusters`` when
        computed) the report orders filters by influence and groups them by cluster.
        """
        first, *others = self.sets
        reports = []
        for t in range(first.n_filters):
            figures = {}
            for motif_set in self.sets:
                prefix = "" if motif_set is first else f"{motif_set.kind}: "
                figures.update({prefix + k: v for k, v in motif_set.report_figures(t).items()})
            second = others[0] if others else None
            reports.append(FilterReport(
                name=first.motif_name(t) + self.suffix(first), exact=first.pwms[t],
                heuristic=None if second is None else second.pwms[t],
                heuristic_name=None if second is None else second.motif_name(t) + self.suffix(second),
                figures=figures))
        return attach_model_figures(reports, getattr(self, "influence", None), getattr(self, "clusters", None),
                                    getattr(self, "diagnostics", None))

    def write_report(self, path: Union[str, os.PathLike]) -> None:
        """Write the HTML report (logos, best matches aligned, tables); needs :meth:`annotate` first."""
        if self.annotation is None:
            raise K2PError("the report shows database matches: annotate the result first")
        write_report(path, self.filter_reports(), self.annotation, header=self.header(), layer=self.layer_verdict())

    def write_summary(self, path: Union[str, os.PathLike]) -> None:
        """Write :meth:`summary_rows` as a tab-separated table (atomically), after the comment line
        ``# pattern: ...`` (:attr:`pattern`), ``# influence: on ...`` when influence fed the model each
        sequence's centre, and, once annotated, ``# first layer: ...`` (:meth:`layer_verdict`;
        ``pandas.read_csv(path, sep="\\t", comment="#")`` reads it)."""
        verdict = self.layer_verdict()
        fed = getattr(self.influence, "input_note", None)
        comments = (f"# pattern: {self.pattern}\n" + (f"# influence: on {fed}\n" if fed else "")
                    + ("" if verdict is None else f"# {verdict.text()}\n"))
        write_text(path, comments + format_summary(self.summary_rows(), self.summary_columns))

    def write_logos(self, folder: Union[str, os.PathLike], dpi: int = 100) -> list[str]:
        """One PNG logo per filter into ``folder``, the sets side by side; returns the paths."""
        return write_filter_logos(folder, self.sets, dpi=dpi)

    def describe(self) -> list[str]:
        """A line per set, for people: the bases estimated, the windows the heuristic counted."""
        lines = []
        if self.exact is not None and self.options.estimating:
            lnb = self.exact.ln_base
            estimate = self.exact.estimate
            bases = (f"ln b {lnb[0]:.4g} (shared)" if self.exact.shared_base
                     else f"ln b from {lnb.min():.4g} to {lnb.max():.4g} (per filter"
                     + (f", shrunk toward the shared one; tau {estimate.tau:.3g})"
                        if estimate.estimator == "shrunk" else ")"))
            lines.append(f"{self.exact.n_filters} motifs; {bases}, {int(self.exact.stats.n_sequences):,} sequences")
        elif self.exact is not None:
            lines.append(f"{self.exact.n_filters} motifs; base {self.options.base_mode()}")
        if self.heuristic is not None:
            h = self.heuristic
            rule = (f"activation > {h.output_threshold:g}" if h.threshold_fraction is None
                    else f"activation > {h.threshold_fraction:g} x its maximum")
            windows = ", ".join(str(int(n)) for n in h.n_windows)
            lines.append(f"heuristic ({rule}): windows per filter {windows} of {h.n_sequences} sequences")
        lines += [analysis.describe() for analysis in (self.influence, self.clusters, self.diagnostics)
                  if analysis is not None]
        verdict = self.layer_verdict()
        return lines + ([] if verdict is None else [verdict.text()])

    def header(self) -> dict[str, str]:
        """Where these PWMs come from, as ``{label: text}`` (for a report or a file header)."""
        return {
            "model": self.model,
            "layer": self.spec.layer_name,
            "pattern": self.pattern,
            "sequences": (f"{self.sequences} ({self.n_sequences} sequences)" if self.n_sequences
                          else (self.sequences or "none")),
            "base": self.options.base_mode() + (f", tau = {self.exact.estimate.tau:.3g}" if self.exact is not None
                                                and self.exact.estimated and self.exact.estimate.estimator == "shrunk"
                                                else ""),
            "strands": "both" if self.options.both_strands else "forward only",
            "tool": f"k2p-keras {__version__}",
        }
