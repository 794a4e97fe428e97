"""The main job in one call: a Keras model and its training sequences in, PWMs out.

    result = k2p_keras.extract("model.h5", "seqs.h5")
    result.write_meme("motifs.meme")

:func:`extract` is what the command line (``k2p-keras MODEL SEQS``), the training callback
(:class:`~k2p_keras.callback.PWMCallback`), ``verify`` and the benchmarks run. It is two
steps, which callers that need to report between them (the CLI prints the pattern check and
sizes a progress bar) take one at a time:

    plan = plan_extraction(model, sequences, **options)   # everything that can fail fast
    result = plan.run(progress)                           # the scan, the MLE, the transform

Every default is stated once, in :class:`Options`.
"""
import os
import warnings
from dataclasses import dataclass, field, replace

from ._version import __version__
from .annotate.clusters import cluster_motifs, DEFAULT_CLUSTER_Q
from .annotate.diagnostics import activation_diagnostics, binary_labels
from .annotate.influence import filter_influence, influence_batch_size, influence_passes, resolve_null, runnable_model
from .annotate.model_split import check_sequence_lengths, split_at_activation
from .annotate.logos import write_filter_logos
from .annotate.filters import attach_model_figures, FilterReport
from .annotate.layer import layer_verdict
from .annotate.report import write_report
from .annotate.tomtom import annotate_motifs, require_annotate
from .axes import acgt_to_channels, ALPHABET, complement
from .errors import K2PError, OptionError
from .io.guard import open_timeout
from .io.meme import write_meme
from .io.sequences import labelled_batches, open_batches_for, open_labels
from .io.text import format_summary, write_text
from .model.activations import activation_forward, preactivation_threshold
from .model.conv import ConvSpec, find_motif_conv_in_file, find_motif_conv_in_model
from .motifs.exact import check_pattern, check_sites_for_scope, conv_scan_request, ExactRequest, extract_pwms
from .motifs.heuristic import DEEPBIND_THRESHOLD, heuristic_from_stats, heuristic_pwms
from .motifs.sites import site_rule
from .options import make_options, Options
from .scan.route import auto_batch_size
from .scan.windows import EVERY_WINDOW, pool_blocks, windows_per_sequence


#: Sequences per batch when batch_size="auto" meets sequences of unknown length.
FALLBACK_BATCH_SIZE = 512

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
        Set by ``influence=True`` or :meth:`measure_influence`
        (:class:`~k2p_keras.annotate.influence.Influence`): per filter, how far the model's
        outputs move when its activation map is replaced by a constant: ``.msq`` ``(F,)``, or
        ``(F, outputs)`` for a multi-output model (``.total``: averaged over outputs),
        ``.delta_loss`` (with labels, else None), ``.null`` (``"pooled"`` or ``"map"``),
        ``.null_values``, ``.outputs``.
    clusters : Clusters or None
        Set by ``cluster=True`` or :meth:`find_clusters`
        (:class:`~k2p_keras.annotate.clusters.Clusters`): one cluster per learned motif, from the
        first set's PWMs: ``.labels`` ``(F,)`` (cluster ids from 0; a filter too flat to compare,
        ``.informative`` False, is a cluster of its own; one under 8 bits, ``.bits``, joins only one cluster), ``.ids``,
        ``.members(cluster)``, ``.archetypes`` (cluster -> filter index), the links ``.linked``
        and each filter's significant best database motif ``.database_match``, the Tomtom
        matrices ``.q``, ``.p``, ``.offsets``, ``.strands``.
    diagnostics : Diagnostics or None
        Set by ``diagnostics=True`` (:class:`~k2p_keras.annotate.diagnostics.Diagnostics`): per
        filter, from each sequence's best window: ``.mean_activation``, ``.central_share``,
        ``.central_enrichment`` ``(F,)``; with binary labels ``.auroc`` ``(F, J)`` (the filter's
        AUROC alone per label column) and ``.class_means`` ``(F, J, 2)``; the histograms in ``.sums``.
    """

    spec: object
    options: Options
    exact: object = None
    heuristic: object = None
    model: str = ""
    sequences: str = None
    n_sequences: int = None
    annotation: object = None
    influence: object = None
    clusters: object = None
    diagnostics: object = None

    @property
    def sets(self):
        """The PWM sets made, exact first."""
        return [s for s in (self.exact, self.heuristic) if s is not None]

    @property
    def layer_name(self):
        return self.spec.layer_name

    @property
    def site_scope(self):
        """Which windows were the sites: ``"sequence"``, ``"block"`` or ``"anywhere"`` (``spec.scope``)."""
        return self.spec.scope

    @property
    def pattern(self):
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

    def suffix(self, motif_set):
        """``_exact`` / ``_heuristic`` when both sets are written, else nothing."""
        return f"_{motif_set.kind}" if len(self.sets) > 1 else ""

    def motifs(self):
        """Every PWM as a :class:`~k2p_keras.io.meme.Motif`, named ``<layer>_<index>[_<set>]``."""
        return [m for s in self.sets for m in s.motifs(self.suffix(s))]

    def background(self):
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

    def write_meme(self, dest):
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

    def archetype_motifs(self):
        """One motif per cluster of informative filters, its archetype (the most informative
        member), in cluster order."""
        if self.clusters is None:
            raise K2PError("the archetypes stand for clusters: find them first (cluster=True, find_clusters)")
        first = self.sets[0]
        motifs = first.motifs(self.suffix(first))
        return [motifs[self.clusters.archetypes[c]] for c in self.clusters.informative_ids]

    def write_archetypes(self, dest):
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

    def _set_rows(self, motif_set):
        """One set's summary rows, with its best database match when annotated."""
        rows = motif_set.summary_rows()
        if self.annotation is not None:
            for t, row in enumerate(rows):
                row.update(self.annotation.summary_columns(motif_set.motif_name(t) + self.suffix(motif_set)))
        return rows

    @property
    def summary_columns(self):
        """Columns of :meth:`summary_rows`: the first set's, then the others' prefixed by their kind."""
        first, *others = self.sets
        # The annotation's columns are the same for every motif: the first one's names them.
        added = () if self.annotation is None else tuple(
            self.annotation.summary_columns(first.motif_name(0) + self.suffix(first)))
        columns = first.summary_columns + added
        for other in others:
            columns += tuple(f"{other.kind}_{c}" for c in other.summary_columns + added if c != "filter")
        return columns + self._analysis_columns()

    def summary_rows(self):
        """Per filter: the figures of every set side by side (see :attr:`summary_columns`), and
        each set's best database match (``best_match_id``, ..., ``annotation``) once annotated."""
        first, *others = self.sets
        rows = self._set_rows(first)
        for other in others:
            for row, extra in zip(rows, self._set_rows(other)):
                row.update({f"{other.kind}_{k}": v for k, v in extra.items() if k != "filter"})
        for f, row in enumerate(rows):
            for analysis in (self.influence, self.clusters, self.diagnostics):
                if analysis is not None:
                    row.update(analysis.summary_columns(f))
        return rows

    def annotate(self, database=None, **options):
        """Compare every PWM with a motif database (Tomtom, via memelite); sets :attr:`annotation`.

        Parameters
        ----------
        database : str, os.PathLike or MotifDatabase, optional
            A MEME file or a JASPAR release name (pyjaspar); default the newest JASPAR CORE
            release pyjaspar holds, vertebrates (see :func:`k2p_keras.annotate.tomtom.load_database`).
        **options
            As for :func:`k2p_keras.annotate.tomtom.annotate_motifs` (``taxon``, ``q_threshold``,
            ``min_overlap``, ``top``, ``trim_ic``).

        Returns
        -------
        Annotation
        """
        self.annotation = annotate_motifs(self.motifs(), database, **options)
        return self.annotation

    def measure_influence(self, model, sequences, labels=None, *, null=None, progress=None):
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
            (:func:`k2p_keras.io.sequences.open_labels`). Adds the change of the loss.
        null : {"auto", "pooled", "map"}, optional
            The constant [default: ``options.influence_null``]; see
            :mod:`k2p_keras.annotate.influence`.
        progress : callable, optional
            Receives the number of sequences in each batch read.

        Returns
        -------
        Influence
        """
        runnable = runnable_model(model, self.options.weights)
        batches_of_size, count, label, max_length, _ = open_batches_for(self.spec, sequences, self.options)
        check_sequence_lengths(split_at_activation(runnable, self.layer_name).input_length,
                               _shortest(batches_of_size), max_length, path=label)
        values, source = open_labels(labels, _opened_source(batches_of_size) or sequences, count)
        size = influence_batch_size(max_length, self.spec.kernel.shape[2])
        self.influence = filter_influence(runnable, in_model_order(self.spec, lambda: batches_of_size(size)), values,
                                          layer=self.layer_name, null=null or self.options.influence_null,
                                          progress=progress, labels_source=source)
        return self.influence

    def find_clusters(self, database=None, *, q_threshold=DEFAULT_CLUSTER_Q, **options):
        """Group the filters that learned the same motif; sets :attr:`clusters`.

        The first set's PWMs (the exact ones when there are both) are compared with each other
        by Tomtom on both strands, ``database`` serving as the background
        (:func:`k2p_keras.annotate.clusters.cluster_motifs`: filters of 8 bits or more linked by a
        match at ``q_threshold`` among them or a shared significant best database motif, clusters
        the connected components).

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

    def layer_verdict(self):
        """Whether the first layer holds whole or partial motifs
        (:func:`k2p_keras.annotate.layer.layer_verdict`): the share of the influence (when measured) or
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

    def filter_reports(self):
        """One :class:`~k2p_keras.annotate.filters.FilterReport` per filter: its PWMs side by side and figures.

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

    def write_report(self, path):
        """Write the HTML report (logos, best matches aligned, tables); needs :meth:`annotate` first."""
        if self.annotation is None:
            raise K2PError("the report shows database matches: annotate the result first")
        write_report(path, self.filter_reports(), self.annotation, header=self.header(), layer=self.layer_verdict())

    def write_summary(self, path):
        """Write :meth:`summary_rows` as a tab-separated table (atomically), after the comment line
        ``# pattern: ...`` (:attr:`pattern`), ``# influence: on ...`` when influence fed the model each
        sequence's centre, and, once annotated, ``# first layer: ...`` (:meth:`layer_verdict`;
        ``pandas.read_csv(path, sep="\\t", comment="#")`` reads it)."""
        verdict = self.layer_verdict()
        fed = getattr(self.influence, "input_note", None)
        comments = (f"# pattern: {self.pattern}\n" + (f"# influence: on {fed}\n" if fed else "")
                    + ("" if verdict is None else f"# {verdict.text()}\n"))
        write_text(path, comments + format_summary(self.summary_rows(), self.summary_columns))

    def write_logos(self, folder, dpi=100):
        """One PNG logo per filter into ``folder``, the sets side by side; returns the paths."""
        return write_filter_logos(folder, self.sets, dpi=dpi)

    def describe(self):
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

    def header(self):
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


def _model_spec(model, options):
    """The ConvSpec of a model file, an in-memory Keras model, or a ConvSpec given as is."""
    layer, weights, alphabet = options.layer, options.weights, options.alphabet
    if weights is not None and not isinstance(model, (str, os.PathLike)):
        raise OptionError("applies to a model given as an architecture JSON file", "weights")
    if isinstance(model, ConvSpec):
        if layer is not None and layer != model.layer_name:
            raise OptionError(f"the ConvSpec given is layer {model.layer_name!r}, not {layer!r}", "layer")
        if alphabet not in (ALPHABET, model.alphabet):
            raise OptionError(f"the ConvSpec given reads channels in the order {model.alphabet}, not "
                              f"{alphabet}", "alphabet")
        return model, f"<layer {model.layer_name}>"
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        for given in (path, weights):
            if given is not None and not os.path.exists(given):
                raise K2PError("file not found", path=os.fspath(given))
        label = path if weights is None else f"{path} (weights {os.fspath(weights)})"
        return find_motif_conv_in_file(path, layer=layer, weights=weights, alphabet=alphabet), label
    if hasattr(model, "get_config") and hasattr(model, "layers"):
        return (find_motif_conv_in_model(model, layer=layer, alphabet=alphabet),
                f"<keras model {getattr(model, 'name', '?')}>")
    raise K2PError(f"expected a model file (.h5, .keras), a keras.Model or a ConvSpec, "
                   f"got {type(model).__name__}")


def _opened_source(batches_of_size):
    """The SequenceSource already open behind ``batches_of_size`` (a file or an array: its
    ``iter_batches``), else None (batches or a dataset given as they are)."""
    return getattr(batches_of_size, "__self__", None)


def _shortest(batches_of_size):
    """The shortest sequence's length when the sequences say, else None (batches of any length,
    checked as they come)."""
    return getattr(_opened_source(batches_of_size), "min_length", None)


def in_model_order(spec, open_batches):
    """Fresh batches (A C G T) in the model's own channel order (``spec.alphabet``), to run the model."""
    if spec.alphabet == ALPHABET:
        return open_batches
    order = acgt_to_channels(spec.alphabet)
    return lambda: (batch[:, :, order] for batch in open_batches())


def resolved_batch_size(spec, options, length):
    """The batch size ``options.batch_size`` stands for on sequences of at most ``length`` rows.

    "auto" asks :func:`k2p_keras.scan.route.auto_batch_size` (the route's byte budget); without a
    known length (batches of single sequences from a dataset of any length), 512.
    """
    if options.batch_size != "auto":
        return options.batch_size
    if length is None:
        return FALLBACK_BATCH_SIZE

    return auto_batch_size(length, spec.kernel.shape[0], spec.kernel.shape[2], both_strands=options.both_strands,
                           strides=spec.strides, strategy=options.strategy, blocks=_blocks_per_sequence(spec, length))


def _blocks_per_sequence(spec, length):
    """Blocks whose best windows the scan keeps per sequence of ``length``: 1 for each sequence's best
    window, the pool's blocks, or every window for the sites anywhere."""
    pool = {"sequence": None, "block": spec.pool, "anywhere": EVERY_WINDOW}[spec.scope]
    if pool is None:
        return 1
    return max(len(pool_blocks(windows_per_sequence(length, spec.kernel.shape[0], spec.padding, spec.strides),
                               pool)[0]), 1)


@dataclass
class ExtractionPlan:
    """A checked extraction, ready to run: the model read, the sequences opened.

    Attributes
    ----------
    spec : ConvSpec
    options : Options
    batches_of_size : callable or None
        ``batches_of_size(batch_size)`` returns a fresh iterable of canonical batches.
    max_length : int or None
        The longest sequence's length, when known (for ``batch_size="auto"``).
    n_sequences : int or None
        Sequences per pass (None when the input does not say, e.g. a generator).
    model, sequences : str
        Descriptions of the inputs, for the result.
    runnable : keras.Model or None
        With ``influence``: the model to run (a file loaded by Keras in safe mode).
    labels : numpy.ndarray or None
        The sequences' labels ``(N, k)``, when given or found beside them.
    labels_source : str or None
        Where the labels came from.
    notes : list of str
        Lines for people about the inputs (how a FASTA file's N and IUPAC codes were
        encoded); the command line prints them.
    """

    spec: object
    options: Options
    batches_of_size: object = None
    max_length: int = None
    n_sequences: int = None
    model: str = ""
    sequences: str = None
    runnable: object = None
    labels: object = None
    labels_source: str = None
    notes: list = field(default_factory=list)

    @property
    def open_batches(self):
        """A callable returning fresh batches of the size the options stand for (None without sequences).

        The size is settled when the batches are opened, so that options changed after
        planning (a strategy, both strands found in the graph) count.
        """
        if self.batches_of_size is None:
            return None
        size = resolved_batch_size(self.spec, self.options, self.max_length)
        return lambda: self.batches_of_size(size)

    @property
    def passes(self):
        """How many times the sequences are read (0 for exact PWMs at a fixed base)."""
        o = self.options
        return scans_needed(o.method, o.estimating, o.threshold_fraction, self.spec.scope, o.diagnostics)

    @property
    def total(self):
        """Sequences read over all passes (for a progress bar), or None when unknown."""
        return None if self.n_sequences is None else self.n_sequences * self.passes

    @property
    def steps(self):
        """What each pass over the sequences does, in order (a progress bar's labels)."""
        own_diagnostics = self.options.diagnostics and not self.options.estimating  # a pass of their own
        if not self.options.estimating:
            steps = ["scanning", "heuristic: second pass"][:self.passes - own_diagnostics]
        else:
            exact = ["largest activations", "windows anywhere"] if self.spec.scope == "anywhere" else ["scanning"]
            heuristic = {0: [], 1: ["heuristic: second pass"] if self.spec.scope != "block" else ["heuristic"],
                         2: ["heuristic: first pass", "heuristic: second pass"]}[self.passes - len(exact)]
            steps = exact + heuristic
        if own_diagnostics:
            steps.append("diagnostics")
        if self.options.influence:
            split = split_at_activation(self.runnable, self.spec.layer_name)
            steps += (["influence"] if influence_passes(split, self.n_sequences) == 1
                      else ["influence: the constants", "influence: nullified"])
        return steps

    def _diagnose(self, exact, open_batches, labels, progress):
        """The diagnostics from the MLE's scan, or from a scan of their own when there was none."""
        spec, o = self.spec, self.options
        forward = activation_forward(spec.activation, spec.active_threshold)
        sums = exact.stats.diagnostics if exact is not None and exact.stats is not None else None
        if sums is None:
            from .scan.best_windows import run_scan  # numba (or TensorFlow) loads with the first scan

            request = conv_scan_request(spec, both_strands=o.both_strands, strategy=o.strategy,
                                        pool=spec.pool if spec.scope == "block" else None, diagnostics=True,
                                        activation=forward, n_labels=0 if labels is None else labels.n_columns)
            sums = run_scan(open_batches(), request, progress).diagnostics
        what = "conv + bias" if forward is None or spec.activation in (None, "linear") else f"{spec.activation}(conv + bias)"
        return activation_diagnostics(sums, spec.bias, labels, kernel_rows=spec.kernel.shape[0], padding=spec.padding,
                                      strides=spec.strides, activation=what)

    def run(self, progress=None):
        """Scan, estimate, transform.

        Parameters
        ----------
        progress : callable, optional
            Receives the number of sequences in each scanned batch.

        Returns
        -------
        ExtractionResult
        """
        with open_timeout(self.options.open_timeout):  # an HDF5 file opened first now (labels) gets the run's limit
            return self._run(progress)

    def _run(self, progress):
        o = self.options
        labels = binary_labels(self.labels, self.labels_source) if o.diagnostics else None
        n_labels = 0 if labels is None else labels.n_columns
        open_batches = self.open_batches if self.passes else None
        if n_labels and open_batches is not None:
            # The labels travel with the batches: every pass gets (x, y), the diagnostics' scan reads y.
            plain = open_batches
            open_batches = lambda: labelled_batches(plain(), labels.indicators)  # noqa: E731
        exact, heuristic = extract_motif_sets(self.spec, open_batches, o, progress, n_labels=n_labels)
        scanned = None
        if exact is not None and exact.stats is not None:
            scanned = int(exact.stats.n_sequences)
        elif heuristic is not None:
            scanned = int(heuristic.n_sequences)
        result = ExtractionResult(spec=self.spec, options=o, exact=exact, heuristic=heuristic, model=self.model,
                                  sequences=self.sequences if self.passes or o.influence else None,
                                  n_sequences=scanned)
        if o.diagnostics:
            result.diagnostics = self._diagnose(exact, open_batches, labels, progress)
            if result.n_sequences is None:
                result.n_sequences = result.diagnostics.n_sequences
        if o.influence:
            size = influence_batch_size(self.max_length, self.spec.kernel.shape[2])
            result.influence = filter_influence(
                self.runnable, in_model_order(self.spec, lambda: self.batches_of_size(size)), self.labels,
                layer=self.spec.layer_name, null=o.influence_null, progress=progress, labels_source=self.labels_source)
            if result.n_sequences is None:
                result.n_sequences = result.influence.n_sequences
        if o.cluster is not False:
            result.find_clusters(None if o.cluster is True else o.cluster)
        return result


def plan_extraction(model, sequences=None, labels=None, **options):
    """Read the model, check the options and the pattern, open the sequences; scan nothing.

    Takes the arguments of :func:`extract`. Everything that can fail before the long work
    fails here, in one line.

    Returns
    -------
    ExtractionPlan
    """
    opts = make_options(**options)
    with open_timeout(opts.open_timeout):
        return _plan(model, sequences, labels, opts)


def _plan(model, sequences, labels, opts):
    spec, model_label = _model_spec(model, opts)
    if opts.estimating:
        # Fail before the sequences are opened; without strict, the scan warns (once) when the PWMs are made.
        if opts.strict:
            check_pattern(spec, estimating=True, strict=True,
                          path=model_label if isinstance(model, (str, os.PathLike)) else None)
        check_sites_for_scope(spec, site_rule(opts.sites))
    batches_of_size, count, label, max_length, note = None, None, None, None, None
    if sequences is not None and opts.needs_sequences:
        batches_of_size, count, label, max_length, note = open_batches_for(spec, sequences, opts)
    elif opts.needs_sequences:
        raise K2PError(opts.missing_sequences())
    elif sequences is not None:
        warnings.warn("the sequences are not used: the exact PWMs at a fixed base need none")
    if getattr(spec, "both_strands", False) and not opts.both_strands:
        # The graph merges both strands' scans by Maximum: it is the both-strand scan.
        opts = replace(opts, both_strands=True)
    elif opts.both_strands and not spec.both_strands_hint and spec.pattern_ok and spec.pattern[1:]:
        warnings.warn(f"both_strands is set, but the model calls {spec.layer_name!r} once, on the "
                      f"forward strand only ({spec.report()}); scanning both strands anyway")
    if spec.both_strands_hint and not opts.both_strands:
        warnings.warn(f"layer {spec.layer_name!r} is applied to more than one input (a reverse complement?); "
                      "if the model scans both strands, say so (both_strands=True, "
                      "--both-strands on the command line)")
    runnable = values = source = None
    if opts.influence:
        if isinstance(model, ConvSpec):
            raise K2PError("influence runs the model: give the model (a file or a keras.Model), not a ConvSpec")
        # Sequences the model cannot read, a model influence cannot cut or feed, or a constant it
        # cannot use fail before the scan; lengths first, from the file's input, before Keras loads.
        if batches_of_size is not None:
            check_sequence_lengths(spec.input_length, _shortest(batches_of_size), max_length, path=label)
        runnable = runnable_model(model, opts.weights)
        split = split_at_activation(runnable, spec.layer_name)
        resolve_null(opts.influence_null, split)
        if batches_of_size is not None and split.input_length != spec.input_length:
            check_sequence_lengths(split.input_length, _shortest(batches_of_size), max_length, path=label)
    if opts.influence or opts.diagnostics or (labels is not None and labels is not False):
        # The source already open (FASTA counted once; a stream's spooled copy), not the path again.
        values, source = open_labels(labels, _opened_source(batches_of_size) or sequences, count)
    if opts.cluster is not False:
        require_annotate()
    return ExtractionPlan(spec=spec, options=opts, batches_of_size=batches_of_size, max_length=max_length,
                          n_sequences=count, model=model_label, sequences=label, runnable=runnable, labels=values,
                          labels_source=source, notes=[note] if note else [])


def extract(model, sequences=None, labels=None, **options):
    """Exact (and heuristic) PWMs of the motif Conv1D of a Keras model.

    Parameters
    ----------
    model : str, os.PathLike, keras.Model or ConvSpec
        A saved model (``.h5`` or ``.keras``; read, never run), a model in memory, or a
        layer already described by :func:`k2p_keras.model.conv.find_motif_conv`.
    sequences : optional
        The training sequences: a file (HDF5 or ``.npy`` one-hot ``(N, length, 4)`` or
        ``(N, 4, length)``, FASTA / FASTA.gz), a numpy array, a ``tf.data.Dataset``
        yielding ``x`` or ``(x, y[, w])``, a list of batches, or a callable returning a
        fresh iterable of batches. Not needed for exact PWMs at a fixed ``base``.
    labels : optional
        The sequences' labels, for influence's change of the loss and the diagnostics' AUROC:
        an array ``(N,)`` or ``(N, outputs)``, or the name of a dataset in the sequences' HDF5
        file; by default ``y`` or ``labels`` stored beside the sequences, when there is one;
        False for none.
    **options
        Any attribute of :class:`~k2p_keras.options.Options` (``method``, ``base``,
        ``base_estimator`` (or ``shared_base=True/False``), ``sites``, ``both_strands``,
        ``threshold``, ``threshold_fraction``,
        ``strict``, ``layer``, ``dataset``, ``n_encoding``, ``batch_size``, ``strategy``,
        ``influence``, ``influence_null``, ``diagnostics``, ``cluster``), with its defaults; and
        ``progress``: a callable receiving the number of sequences in each batch read.

    Returns
    -------
    ExtractionResult
        With ``.exact`` / ``.heuristic`` PWM sets, ``.write_meme(path)``,
        ``.summary_rows()``, ``.write_summary(path)``, ``.write_logos(folder)``; with
        ``influence=True`` ``.influence``, with ``cluster=True`` ``.clusters`` and
        ``.write_archetypes(path)``, with ``diagnostics=True`` ``.diagnostics``.

    Raises
    ------
    K2PError
        For bad input (one line, naming the file); :class:`~k2p_keras.errors.PatternError`
        with ``strict=True`` when the layers after the conv break the MLE's assumption (without
        it, a warning: the base comes from the strong windows anywhere);
        :class:`~k2p_keras.errors.OptionError` for a bad option value.

    Examples
    --------
    >>> result = extract("example_models/deepbind.h5", "data/example_seqs.h5")  # doctest: +SKIP
    >>> result.write_meme("motifs.meme")                                          # doctest: +SKIP
    """
    progress = options.pop("progress", None)
    return plan_extraction(model, sequences, labels, **options).run(progress)


def scans_needed(method, mle, threshold_fraction=None, scope="sequence", diagnostics=False):
    """How many passes over the sequences :func:`extract_motif_sets` makes (for a progress bar).

    The sites anywhere take two (each filter's largest activation, then the windows near it).
    The diagnostics ride on the MLE's scan, or take a pass of their own when there is none.
    """
    exact_scan = method in ("exact", "both") and mle
    exact_scans = (2 if scope == "anywhere" else 1) * int(exact_scan)
    exact_scans += int(diagnostics and not exact_scan)
    if method == "exact":
        return exact_scans
    # An absolute threshold rides on the MLE's (first) scan of each sequence's best window; a
    # fraction needs the maxima first. Blocks' best windows are not the heuristic's.
    heuristic_scans = (1 if threshold_fraction is None else 2) - int(exact_scan and scope != "block")
    return exact_scans + heuristic_scans


def extract_motif_sets(spec, open_batches, options, progress=None, n_labels=0):
    """Exact PWMs, heuristic PWMs or both, sharing the scans between them.

    Parameters
    ----------
    spec : ConvSpec
    open_batches : callable or None
        Returns a fresh iterable of one-hot batches ``(B, length, 4)`` on each call, e.g.
        ``lambda: source.iter_batches(512)``; None only for the exact method with a fixed base.
    options : Options
        Checked options (:func:`k2p_keras.options.make_options`).
    progress : callable, optional
        Receives the number of sequences in each scanned batch, over all
        :func:`scans_needed` passes.
    n_labels : int
        With ``options.diagnostics``: the label columns the batches come with (``(x, y)`` pairs).

    Returns
    -------
    tuple of (ExactPWMs or None, HeuristicPWMs or None)
        With ``options.diagnostics``, the exact set's ``stats.diagnostics`` hold the diagnostics' sums.
    """
    o = options
    want_exact, want_heuristic = o.method in ("exact", "both"), o.method in ("heuristic", "both")
    mle = o.estimating
    threshold = DEEPBIND_THRESHOLD if o.threshold is None else o.threshold
    if open_batches is None and (mle or want_heuristic):
        raise K2PError("sequences are needed to estimate the base and for the heuristic")
    exact = heuristic = None
    if want_exact:
        ride_along = None
        # The heuristic counts each sequence's best window: not a pooling block's.
        if want_heuristic and mle and o.threshold_fraction is None and spec.scope != "block":
            ride_along = preactivation_threshold(spec.activation, threshold, spec.active_threshold)
        request = ExactRequest(base=o.base, base_estimator=o.base_estimator, sites=o.sites,
                               both_strands=o.both_strands, strict=o.strict, letter_threshold=ride_along,
                               strategy=o.strategy, diagnostics=o.diagnostics, n_labels=n_labels)
        exact = extract_pwms(spec, open_batches if mle else None, request, progress)
        if ride_along is not None:
            heuristic = heuristic_from_stats(spec.layer_name, exact.stats, ride_along,
                                             output_threshold=float(threshold))
    if want_heuristic and heuristic is None:
        first_pass = None
        if exact is not None and exact.stats is not None and spec.scope != "block":
            first_pass = exact.stats.max_preactivation  # the largest window anywhere
        heuristic = heuristic_pwms(spec, open_batches, threshold=threshold,
                                   threshold_fraction=o.threshold_fraction, both_strands=o.both_strands,
                                   max_preactivation=first_pass, progress=progress, strategy=o.strategy)
    return exact, heuristic
