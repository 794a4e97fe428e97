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
from .annotate.logos import write_filter_logos
from .annotate.report import FilterReport, write_report
from .annotate.tomtom import annotate_motifs
from .axes import complement
from .errors import K2PError, OptionError
from .io.meme import write_meme
from .io.sequences import open_batches_for
from .io.text import format_summary, write_text
from .model.activations import preactivation_threshold
from .model.conv import ConvSpec, find_motif_conv_in_file, find_motif_conv_in_model
from .motifs.exact import check_pattern, extract_pwms
from .motifs.heuristic import DEEPBIND_THRESHOLD, heuristic_from_stats, heuristic_pwms
from .options import make_options, Options
from .scan.route import auto_batch_size


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
    exact : Extraction or None
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
    """

    spec: object
    options: Options
    exact: object = None
    heuristic: object = None
    model: str = ""
    sequences: str = None
    n_sequences: int = None
    annotation: object = None

    @property
    def sets(self):
        """The PWM sets made, exact first."""
        return [s for s in (self.exact, self.heuristic) if s is not None]

    @property
    def layer_name(self):
        return self.spec.layer_name

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
        header = self.header()
        comments = [header["tool"]] + [f"{key}: {header[key]}" for key in ("model", "layer", "base", "sequences")]
        write_meme(dest, self.motifs(), background=self.background(), significant=MEME_DIGITS,
                   strands="+ -" if self.options.both_strands else "+", comments=comments)

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
        return columns

    def summary_rows(self):
        """Per filter: the figures of every set side by side (see :attr:`summary_columns`), and
        each set's best database match (``best_match_id``, ..., ``annotation``) once annotated."""
        first, *others = self.sets
        rows = self._set_rows(first)
        for other in others:
            for row, extra in zip(rows, self._set_rows(other)):
                row.update({f"{other.kind}_{k}": v for k, v in extra.items() if k != "filter"})
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

    def filter_reports(self):
        """One :class:`~k2p_keras.annotate.report.FilterReport` per filter: its PWMs side by side and figures."""
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
        return reports

    def write_report(self, path):
        """Write the HTML report (logos, best matches aligned, tables); needs :meth:`annotate` first."""
        if self.annotation is None:
            raise K2PError("the report shows database matches: annotate the result first")
        write_report(path, self.filter_reports(), self.annotation, header=self.header())

    def write_summary(self, path):
        """Write :meth:`summary_rows` as a tab-separated table (atomically)."""
        write_text(path, format_summary(self.summary_rows(), self.summary_columns))

    def write_logos(self, folder, dpi=100):
        """One PNG logo per filter into ``folder``, the sets side by side; returns the paths."""
        return write_filter_logos(folder, self.sets, dpi=dpi)

    def describe(self):
        """A line per set, for people: the bases estimated, the windows the heuristic counted."""
        lines = []
        if self.exact is not None and self.options.estimating:
            lnb = self.exact.ln_base
            bases = (f"ln b {lnb[0]:.4g} (shared)" if self.exact.shared_base
                     else f"ln b from {lnb.min():.4g} to {lnb.max():.4g} (per filter)")
            lines.append(f"{self.exact.n_filters} motifs; {bases}, {int(self.exact.stats.n_sequences):,} sequences")
        if self.heuristic is not None:
            h = self.heuristic
            rule = (f"activation > {h.output_threshold:g}" if h.threshold_fraction is None
                    else f"activation > {h.threshold_fraction:g} x its maximum")
            windows = ", ".join(str(int(n)) for n in h.n_windows)
            lines.append(f"heuristic ({rule}): windows per filter {windows} of {h.n_sequences} sequences")
        return lines

    def header(self):
        """Where these PWMs come from, as ``{label: text}`` (for a report or a file header)."""
        return {
            "model": self.model,
            "layer": self.spec.layer_name,
            "pattern": self.spec.report(),
            "sequences": (f"{self.sequences} ({self.n_sequences} sequences)" if self.n_sequences
                          else (self.sequences or "none")),
            "base": self.options.base_mode(),
            "strands": "both" if self.options.both_strands else "forward only",
            "tool": f"k2p-keras {__version__}",
        }


def _model_spec(model, layer):
    """The ConvSpec of a model file, an in-memory Keras model, or a ConvSpec given as is."""
    if isinstance(model, ConvSpec):
        if layer is not None and layer != model.layer_name:
            raise OptionError(f"the ConvSpec given is layer {model.layer_name!r}, not {layer!r}", "layer")
        return model, f"<layer {model.layer_name}>"
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise K2PError("file not found", path=path)
        return find_motif_conv_in_file(path, layer=layer), path
    if hasattr(model, "get_config") and hasattr(model, "layers"):
        return find_motif_conv_in_model(model, layer=layer), f"<keras model {getattr(model, 'name', '?')}>"
    raise K2PError(f"expected a model file (.h5, .keras), a keras.Model or a ConvSpec, "
                   f"got {type(model).__name__}")


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
                           strides=spec.strides, strategy=options.strategy)


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
        return scans_needed(o.method, o.estimating, o.threshold_fraction)

    @property
    def total(self):
        """Sequences read over all passes (for a progress bar), or None when unknown."""
        return None if self.n_sequences is None else self.n_sequences * self.passes

    @property
    def steps(self):
        """What each pass over the sequences does, in order (a progress bar's labels)."""
        return ["scanning", "heuristic: second pass"][:self.passes]

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
        o = self.options
        exact, heuristic = extract_motif_sets(self.spec, self.open_batches if self.passes else None, o, progress)
        scanned = None
        if exact is not None and exact.stats is not None:
            scanned = int(exact.stats.n_sequences)
        elif heuristic is not None:
            scanned = int(heuristic.n_sequences)
        return ExtractionResult(spec=self.spec, options=o, exact=exact, heuristic=heuristic, model=self.model,
                                sequences=self.sequences if self.passes else None, n_sequences=scanned)


def plan_extraction(model, sequences=None, **options):
    """Read the model, check the options and the pattern, open the sequences; scan nothing.

    Takes the arguments of :func:`extract`. Everything that can fail before the long work
    fails here, in one line.

    Returns
    -------
    ExtractionPlan
    """
    opts = make_options(**options)
    spec, model_label = _model_spec(model, opts.layer)
    if opts.estimating and not opts.force:
        # Fail before the sequences are opened; a forced run warns when the PWMs are made.
        check_pattern(spec, estimating=True, path=model_label if isinstance(model, (str, os.PathLike)) else None)
    batches_of_size, count, label, max_length, note = None, None, None, None, None
    if sequences is not None and opts.needs_sequences:
        batches_of_size, count, label, max_length, note = open_batches_for(spec, sequences, opts)
    elif opts.needs_sequences:
        raise K2PError("sequences are needed for the heuristic PWMs" if opts.method != "exact"
                       else "sequences are needed to estimate the base: give sequences, or a fixed base")
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
    return ExtractionPlan(spec=spec, options=opts, batches_of_size=batches_of_size, max_length=max_length,
                          n_sequences=count, model=model_label, sequences=label, notes=[note] if note else [])


def extract(model, sequences=None, **options):
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
    **options
        Any attribute of :class:`~k2p_keras.options.Options` (``method``, ``base``,
        ``shared_base``, ``sites``, ``both_strands``, ``threshold``, ``threshold_fraction``,
        ``force``, ``layer``, ``dataset``, ``n_encoding``, ``batch_size``, ``strategy``), with
        its defaults; and ``progress``: a callable receiving the number of sequences in each
        scanned batch.

    Returns
    -------
    ExtractionResult
        With ``.exact`` / ``.heuristic`` PWM sets, ``.write_meme(path)``,
        ``.summary_rows()``, ``.write_summary(path)``, ``.write_logos(folder)``.

    Raises
    ------
    K2PError
        For bad input (one line, naming the file); :class:`~k2p_keras.errors.PatternError`
        when the layers after the conv break the MLE's assumption (give a fixed ``base`` or
        ``force=True``); :class:`~k2p_keras.errors.OptionError` for a bad option value.

    Examples
    --------
    >>> result = extract("example_models/deepbind.h5", "data/example_seqs.h5")  # doctest: +SKIP
    >>> result.write_meme("motifs.meme")                                          # doctest: +SKIP
    """
    progress = options.pop("progress", None)
    return plan_extraction(model, sequences, **options).run(progress)


def scans_needed(method, mle, threshold_fraction=None):
    """How many passes over the sequences :func:`extract_motif_sets` makes (for a progress bar)."""
    exact_scan = method in ("exact", "both") and mle
    if method == "exact":
        return int(exact_scan)
    # An absolute threshold rides on the MLE's scan; a fraction needs the maxima first.
    heuristic_scans = (1 if threshold_fraction is None else 2) - int(exact_scan)
    return int(exact_scan) + heuristic_scans


def extract_motif_sets(spec, open_batches, options, progress=None):
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

    Returns
    -------
    tuple of (Extraction or None, HeuristicPWMs or None)
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
        if want_heuristic and mle and o.threshold_fraction is None:
            ride_along = preactivation_threshold(spec.activation, threshold, spec.active_threshold)
        exact = extract_pwms(spec, open_batches() if mle else None, base=o.base, shared_base=o.shared_base,
                             sites=o.sites, both_strands=o.both_strands, force=o.force,
                             letter_threshold=ride_along, progress=progress, strategy=o.strategy)
        if ride_along is not None:
            heuristic = heuristic_from_stats(spec.layer_name, exact.stats, ride_along,
                                             output_threshold=float(threshold))
    if want_heuristic and heuristic is None:
        first_pass = exact.stats.max_preactivation if exact is not None and exact.stats is not None else None
        heuristic = heuristic_pwms(spec, open_batches, threshold=threshold,
                                   threshold_fraction=o.threshold_fraction, both_strands=o.both_strands,
                                   max_preactivation=first_pass, progress=progress, strategy=o.strategy)
    return exact, heuristic
