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
import math
import os
import warnings
from dataclasses import dataclass, fields, replace

import numpy as np

from . import __version__
from .errors import K2PError, OptionError
from .pipeline import METHODS, extract_motif_sets, format_summary, open_sequences_for, scans_needed
from .sites import DEFAULT_SITES, site_rule
from .validate import check_batch_size

N_ENCODINGS = ("zero", "quarter")
#: Sequences per batch when batch_size="auto" meets sequences of unknown length.
FALLBACK_BATCH_SIZE = 512
#: Significant digits of the probabilities in the MEME files written (rows sum to 1 within 1e-5).
MEME_DIGITS = 6


def _option_error(err, option):
    """A validation error of :mod:`k2p_keras.validate` as the OptionError of ``option``."""
    message = err.message
    for prefix in (f"{option}: ", "base: ", "threshold fraction: ", "fraction: "):
        if message.startswith(prefix):
            message = message[len(prefix):]
            break
    return OptionError(message, option)


@dataclass(frozen=True)
class Options:
    """How PWMs are made; the defaults here are the defaults everywhere (CLI, callback, API).

    Attributes
    ----------
    method : {"exact", "heuristic", "both"}
        Exact PWMs (k2p's transformation), heuristic ones (DeepBind: letters of each
        sequence's most activating window), or both.
    base : "mle" or float
        Estimate the logarithm's base by maximum likelihood on the sequences, or use this
        base ``b > 1`` for every filter (no sequences needed for the exact PWMs).
    shared_base : bool
        One base for all filters (k2p-1.0's choice) instead of one per filter.
    sites : {"strong", "active", "all"}, "strong=F", float or None
        Which best windows the MLE treats as binding sites (:mod:`k2p_keras.sites`): those
        activating the filter at least half (or F) as much as its strongest window
        ("strong", the default, chosen by benchmarks/paper), those that switch it on
        ("active"), or every sequence's ("all": k2p-1.0 and the paper). The base only sets
        how sharp the PWMs are; every base reproduces the filter exactly. None: the default,
        or "active" when ``exclude_inactive`` is set.
    both_strands : bool
        The model scans the reverse complement too: a sequence's best window is the best
        over both strands.
    exclude_inactive : bool
        The older spelling of ``sites="active"``.
    threshold : float or None
        Heuristic: a sequence counts when its maximal activation output exceeds this
        (None: 0, DeepBind's rule).
    threshold_fraction : float or None
        Heuristic, instead of ``threshold``: a sequence counts when its maximal activation
        exceeds this fraction of the filter's largest activation over the data (Basset: 0.5).
    force : bool
        Estimate the base even when the layers after the conv break the MLE's assumption.
    layer : str or None
        The Conv1D to transform; by default the first one reading the one-hot input.
    dataset : str or None
        For an HDF5 sequence file: the dataset holding the sequences.
    n_encoding : {"zero", "quarter"}
        How N and IUPAC codes in FASTA are encoded, as in training.
    batch_size : int or "auto"
        Sequences per scanned batch. "auto": as many as the scan's route keeps within a
        byte budget (:func:`k2p_keras.scan.auto_batch_size`: 16 MB of one-hot rows for the
        CPU's compiled lookups, about 10,000 sequences of 101 bp and 1,000 of 1,000 bp; for
        TensorFlow's convolution 256 MB on a CPU, an eighth of a GPU's memory).
    strategy : tf.distribute.Strategy or None
        Scan on several devices: each batch is split among the strategy's replicas
        (``tf.distribute.MirroredStrategy()`` over a machine's GPUs; across machines
        ``MultiWorkerMirroredStrategy``, each worker scanning its share; :mod:`k2p_keras.devices`).
        The best windows are then rescored by TensorFlow, not numba. None: one device,
        TensorFlow's choice.
    """

    method: str = "exact"
    base: object = "mle"
    shared_base: bool = True
    sites: object = None
    both_strands: bool = False
    exclude_inactive: bool = False
    threshold: float = None
    threshold_fraction: float = None
    force: bool = False
    layer: str = None
    dataset: str = None
    n_encoding: str = "zero"
    batch_size: object = "auto"
    strategy: object = None

    @property
    def estimating(self):
        """The exact PWMs' base is estimated (rather than given)."""
        return isinstance(self.base, str) and self.method != "heuristic"

    @property
    def needs_sequences(self):
        return self.estimating or self.method != "exact"

    def checked(self):
        """These options after checking each value; raises :class:`OptionError` naming the option."""
        from .transform import check_base

        if self.method not in METHODS:
            raise OptionError(f"expected one of {', '.join(METHODS)}, got {self.method!r}", "method")
        base = self.base
        if isinstance(base, str):
            if base != "mle":
                raise OptionError(f"expected 'mle' or a number greater than 1, got {base!r}", "base")
        else:
            try:
                base = check_base(base)
            except K2PError as err:
                raise _option_error(err, "base") from None
            if self.method == "heuristic":
                raise OptionError("a fixed base applies to the exact PWMs (method 'exact' or 'both')", "base")
        if self.threshold is not None and self.threshold_fraction is not None:
            raise OptionError("give threshold or threshold_fraction, not both", "threshold_fraction")
        if self.method == "exact":
            for name in ("threshold", "threshold_fraction"):
                if getattr(self, name) is not None:
                    raise OptionError("applies to the heuristic PWMs (method 'heuristic' or 'both')", name)
        if self.threshold is not None and not math.isfinite(float(self.threshold)):
            raise OptionError(f"expected a finite number, got {self.threshold!r}", "threshold")
        fraction = self.threshold_fraction
        if fraction is not None:
            from .activations import check_threshold_fraction

            try:
                fraction = check_threshold_fraction(fraction)
            except K2PError as err:
                raise _option_error(err, "threshold_fraction") from None
        if self.n_encoding not in N_ENCODINGS:
            raise OptionError(f"expected one of {', '.join(N_ENCODINGS)}, got {self.n_encoding!r}", "n_encoding")
        try:
            size = check_batch_size(self.batch_size)
        except K2PError as err:
            raise _option_error(err, "batch_size") from None
        if self.strategy is not None:
            from .devices import check_strategy

            try:
                check_strategy(self.strategy)
            except K2PError as err:
                raise _option_error(err, "strategy") from None
        sites = self.sites
        if sites is None:
            sites = "active" if self.exclude_inactive else DEFAULT_SITES
        try:
            sites = site_rule(sites, self.exclude_inactive).label
        except K2PError as err:
            raise _option_error(err, "sites") from None
        return replace(self, base=base, batch_size=size, threshold_fraction=fraction, sites=sites)

    def base_mode(self):
        """In words: how the base of the exact PWMs is chosen."""
        if not self.estimating:
            return "none (heuristic PWMs)" if self.method == "heuristic" else f"fixed, b = {self.base:g}"
        return (f"maximum likelihood on {self.sites} sites, "
                + ("one shared base" if self.shared_base else "one base per filter"))


#: The defaults, for callers that show them (``--help``).
DEFAULTS = Options()


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
        """Every PWM as a :class:`~k2p_keras.meme.Motif`, named ``<layer>_<index>[_<set>]``."""
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
                    totals = (totals + totals[::-1]) / 2
                return totals / totals.sum()
        return None

    def write_meme(self, dest):
        """Write :meth:`motifs` as MEME (a path, written atomically, or an open text file).

        Probabilities at 6 significant digits; ``strands:`` as the model scans; the
        sequences' letter frequencies as background (uniform when none were scanned); a
        ``#`` comment header saying where the motifs come from (:meth:`header`).
        """
        from .meme import write_meme

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
            release pyjaspar holds, vertebrates (see :func:`k2p_keras.annotate.load_database`).
        **options
            As for :func:`k2p_keras.annotate.annotate_motifs` (``taxon``, ``q_threshold``,
            ``min_overlap``, ``top``, ``trim_ic``).

        Returns
        -------
        Annotation
        """
        from .annotate import annotate_motifs

        self.annotation = annotate_motifs(self.motifs(), database, **options)
        return self.annotation

    def filter_reports(self):
        """One :class:`~k2p_keras.report.FilterReport` per filter: its PWMs side by side and figures."""
        from .report import FilterReport

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
        from .report import write_report

        if self.annotation is None:
            raise K2PError("the report shows database matches: annotate the result first")
        write_report(path, self.filter_reports(), self.annotation, header=self.header())

    def write_summary(self, path):
        """Write :meth:`summary_rows` as a tab-separated table (atomically)."""
        from .textio import write_text

        write_text(path, format_summary(self.summary_rows(), self.summary_columns))

    def write_logos(self, folder, dpi=100):
        """One PNG logo per filter into ``folder``, the sets side by side; returns the paths."""
        from .logos import write_filter_logos

        return write_filter_logos(folder, self.sets, dpi=dpi)

    def describe(self):
        """A line per set, for people: the bases estimated, the windows the heuristic counted."""
        lines = []
        if self.exact is not None and self.options.estimating:
            lnb = self.exact.ln_base
            mode = "shared" if self.exact.shared_base else "per filter"
            lines.append(f"{self.exact.n_filters} motifs; ln b from {lnb.min():.4g} to {lnb.max():.4g} "
                         f"({mode}), {int(self.exact.stats.n_sequences)} sequences")
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


# ------------------------------------------------------------------------------ inputs

def _model_spec(model, layer):
    """The ConvSpec of a model file, an in-memory Keras model, or a ConvSpec given as is."""
    from .graph import ConvSpec, find_motif_conv_in_file, find_motif_conv_in_model

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


def as_batch(x):
    """One batch from an iterable or a dataset as canonical float32 ``(B, length, 4)``.

    A single sequence ``(length, 4)`` becomes a batch of one; ``(B, 4, length)`` (a
    channels-first layout) is transposed, by the sequence reader's rule.
    """
    from .sequences import stored_channels_first

    if isinstance(x, (tuple, list)):
        if not x:
            raise K2PError("expected sequence batches, got an empty tuple")
        x = x[0]  # (x, y) or (x, y, sample_weight), as Keras's fit() takes them
    if isinstance(x, dict):
        raise K2PError("expected one-hot batches or (x, y) tuples, got a dict of inputs")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise K2PError(f"expected one-hot batches (B, length, 4) or sequences (length, 4), got shape {x.shape}")
    if stored_channels_first(x.shape):
        x = x.transpose(0, 2, 1)
    if x.shape[2] != 4:
        raise K2PError(f"expected one-hot batches (B, length, 4), got shape {x.shape}")
    return np.ascontiguousarray(x)


def _iterable_batches(sequences):
    """``(batches_of_size, count, label)`` for a tf.data.Dataset, a callable or an iterable of batches."""
    if hasattr(sequences, "element_spec"):  # a tf.data.Dataset, without importing TensorFlow
        dataset = sequences
        spec = dataset.element_spec
        first = spec[0] if isinstance(spec, (tuple, list)) else spec
        if getattr(first, "shape", None) is not None and first.shape.rank == 2:
            # Single sequences: scan them in batches.
            return (lambda size: (as_batch(e) for e in dataset.batch(size))), None, "<tf.data.Dataset>"
        return (lambda size: (as_batch(e) for e in dataset)), None, "<tf.data.Dataset>"
    if callable(sequences):
        return (lambda size: (as_batch(b) for b in sequences())), None, "<batches>"
    if isinstance(sequences, (list, tuple)):
        return (lambda size: (as_batch(b) for b in sequences)), None, "<batches>"
    if iter(sequences) is sequences:  # a generator or an iterator: one pass only
        state = {"used": False}

        def once(size):
            if state["used"]:
                raise K2PError("the sequences were given as an iterator, which can be read once; this "
                               "extraction needs a second pass: give a list, an array, a file or a "
                               "callable returning fresh batches")
            state["used"] = True
            return (as_batch(b) for b in sequences)

        return once, None, "<batches>"
    raise K2PError(f"expected sequences as a file, an array, a tf.data.Dataset or batches, "
                   f"got {type(sequences).__name__}")


def _open_batches(spec, sequences, options):
    """``(batches_of_size, count, label, max_length)``: a callable giving fresh canonical batches
    of a given size, how many sequences, their description and the longest's length."""
    from .sequences import SequenceSource

    if hasattr(sequences, "numpy") and not hasattr(sequences, "element_spec"):
        sequences = sequences.numpy()  # a tf.Tensor
    if isinstance(sequences, (str, os.PathLike, np.ndarray, SequenceSource)):
        source = open_sequences_for(spec, sequences, dataset=options.dataset, n_encoding=options.n_encoding)
        label = source.path or "<array>"
        return source.iter_batches, source.count, label, source.max_length
    if options.dataset is not None:
        raise OptionError("names an HDF5 dataset, but the sequences are not a file", "dataset")
    return (*_iterable_batches(sequences), spec.input_length)


def resolved_batch_size(spec, options, length):
    """The batch size ``options.batch_size`` stands for on sequences of at most ``length`` rows.

    "auto" asks :func:`k2p_keras.scan.auto_batch_size` (the route's byte budget); without a
    known length (batches of single sequences from a dataset of any length), 512.
    """
    if options.batch_size != "auto":
        return options.batch_size
    if length is None:
        return FALLBACK_BATCH_SIZE
    from .scan import auto_batch_size

    return auto_batch_size(length, spec.kernel.shape[0], spec.kernel.shape[2], both_strands=options.both_strands,
                           strides=spec.strides, strategy=options.strategy)


# ------------------------------------------------------------------------------ the job

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
    """

    spec: object
    options: Options
    batches_of_size: object = None
    max_length: int = None
    n_sequences: int = None
    model: str = ""
    sequences: str = None

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
        exact, heuristic = extract_motif_sets(
            self.spec, self.open_batches if self.passes else None, method=o.method, base=o.base,
            shared_base=o.shared_base, sites=o.sites, both_strands=o.both_strands, exclude_inactive=False,
            threshold=0.0 if o.threshold is None else o.threshold, threshold_fraction=o.threshold_fraction,
            force=o.force, progress=progress, strategy=o.strategy)
        scanned = None
        if exact is not None and exact.stats is not None:
            scanned = int(exact.stats.n_sequences)
        elif heuristic is not None:
            scanned = int(heuristic.n_sequences)
        return ExtractionResult(spec=self.spec, options=o, exact=exact, heuristic=heuristic, model=self.model,
                                sequences=self.sequences if self.passes else None, n_sequences=scanned)


def make_options(**options):
    """:class:`Options` from keyword arguments, unknown names refused, every value checked."""
    known = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    return Options(**options).checked()


def plan_extraction(model, sequences=None, **options):
    """Read the model, check the options and the pattern, open the sequences; scan nothing.

    Takes the arguments of :func:`extract`. Everything that can fail before the long work
    fails here, in one line.

    Returns
    -------
    ExtractionPlan
    """
    from .pipeline import check_pattern

    opts = make_options(**options)
    spec, model_label = _model_spec(model, opts.layer)
    if opts.estimating and not opts.force:
        # Fail before the sequences are opened; a forced run warns when the PWMs are made.
        check_pattern(spec, estimating=True, path=model_label if isinstance(model, (str, os.PathLike)) else None)
    batches_of_size, count, label, max_length = None, None, None, None
    if sequences is not None and opts.needs_sequences:
        batches_of_size, count, label, max_length = _open_batches(spec, sequences, opts)
    elif opts.needs_sequences:
        what = "the heuristic PWMs" if opts.method != "exact" else "estimating the base (or give a fixed base)"
        raise K2PError(f"sequences are needed for {what}")
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
                          n_sequences=count, model=model_label, sequences=label)


def extract(model, sequences=None, **options):
    """Exact (and heuristic) PWMs of the motif Conv1D of a Keras model.

    Parameters
    ----------
    model : str, os.PathLike, keras.Model or ConvSpec
        A saved model (``.h5`` or ``.keras``; read, never run), a model in memory, or a
        layer already described by :func:`k2p_keras.graph.find_motif_conv`.
    sequences : optional
        The training sequences: a file (HDF5 or ``.npy`` one-hot ``(N, length, 4)`` or
        ``(N, 4, length)``, FASTA / FASTA.gz), a numpy array, a ``tf.data.Dataset``
        yielding ``x`` or ``(x, y[, w])``, a list of batches, or a callable returning a
        fresh iterable of batches. Not needed for exact PWMs at a fixed ``base``.
    **options
        Any attribute of :class:`Options` (``method``, ``base``, ``shared_base``,
        ``both_strands``, ``exclude_inactive``, ``threshold``, ``threshold_fraction``,
        ``force``, ``layer``, ``dataset``, ``n_encoding``, ``batch_size``, ``strategy``), and
        ``progress``: a callable receiving the number of sequences in each scanned batch.

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
