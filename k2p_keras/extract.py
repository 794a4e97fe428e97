"""The main job in one call: a Keras model and its training sequences in, PWMs out.

    result = k2p_keras.extract("model.h5", "seqs.h5")
    result.write_meme("motifs.meme")

:func:`extract` is what the command line (``k2p-keras MODEL SEQS``), the training callback
(:class:`~k2p_keras.callback.PWMCallback`), ``verify`` and the benchmarks run. It is two
steps, which callers that need to report between them (the CLI prints the pattern check and
sizes a progress bar) take one at a time:

    plan = plan_extraction(model, sequences, **options)   # everything that can fail fast
    result = plan.run(progress)                           # the scan, the MLE, the transform

Every default is stated once, in :class:`Options`. What the run returns, and writes, is
:class:`~k2p_keras.result.ExtractionResult`.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Protocol, Union

from .annotate.describe.diagnostics import activation_diagnostics, binary_labels
from .annotate.run.influence import checked_runnable_model, influence_of_filters
from .annotate.match.tomtom import require_annotate
from .axes import ALPHABET
from .errors import K2PError, OptionError
from .io.guard import open_timeout
from .io.labels import labelled_batches, open_labels
from .io.sequences import open_batches_for, OpenedSequences
from .model.activations import activation_forward, preactivation_threshold
from .model.conv import ConvSpec, find_motif_conv_in_file, find_motif_conv_in_model
from .motifs.exact import check_pattern, check_sites_for_scope, conv_scan_request, ExactRequest, extract_pwms
from .motifs.heuristic import DEEPBIND_THRESHOLD, heuristic_from_stats, heuristic_pwms
from .motifs.sites import site_rule
from .options import make_options, Options
from .result import ExtractionResult
from .scan.route import resolved_batch_size as batch_size_for

__all__ = ["ExtractionPlan", "extract", "extract_motif_sets", "plan_extraction", "resolved_batch_size",
           "scans_needed"]


class KerasModelLike(Protocol):
    """A live ``keras.Model`` as :func:`extract` tells one (Keras loads only when a model is given)."""

    layers: list

    def get_config(self) -> dict: ...


#: What :func:`extract` reads a model from: a file, a live Keras model, or a layer already described.
ModelLike = Union[str, os.PathLike, KerasModelLike, ConvSpec]


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


def resolved_batch_size(spec, options, length):
    """The batch size ``options.batch_size`` stands for on sequences of at most ``length`` rows
    (:func:`k2p_keras.scan.route.resolved_batch_size`, with the options' strands and strategy)."""
    return batch_size_for(spec, options.batch_size, length, both_strands=options.both_strands,
                          strategy=options.strategy)


@dataclass
class ExtractionPlan:
    """A checked extraction, ready to run: the model read, the sequences opened.

    Attributes
    ----------
    spec : ConvSpec
    options : Options
    opened : OpenedSequences or None
        The sequences opened (None when none are read): fresh canonical batches of any size,
        their count, their longest length (for ``batch_size="auto"``).
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

    spec: ConvSpec
    options: Options
    opened: Optional[OpenedSequences] = None
    n_sequences: Optional[int] = None
    model: str = ""
    sequences: Optional[str] = None
    runnable: Any = None
    labels: Any = None
    labels_source: Optional[str] = None
    notes: list = field(default_factory=list)

    @property
    def open_batches(self) -> Optional[Callable]:
        """A callable returning fresh batches of the size the options stand for (None without sequences).

        The size is settled when the batches are opened, so that options changed after
        planning (a strategy, both strands found in the graph) count.
        """
        if self.opened is None:
            return None
        size = resolved_batch_size(self.spec, self.options, self.opened.max_length)
        return lambda: self.opened.batches_of_size(size)

    @property
    def passes(self):
        """How many times the sequences are read (0 for exact PWMs at a fixed base)."""
        o = self.options
        return scans_needed(o.method, o.estimating, o.threshold_fraction, self.spec.scope, o.diagnostics)

    @property
    def total(self):
        """Sequences read over all passes (for a progress bar), or None when unknown."""
        return None if self.n_sequences is None else self.n_sequences * self.passes

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

    def run(self, progress: Optional[Callable[[int], Any]] = None) -> ExtractionResult:
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
            result.influence = influence_of_filters(self.spec, self.runnable, self.opened, self.labels,
                                                    self.labels_source, null=o.influence_null, progress=progress)
            if result.n_sequences is None:
                result.n_sequences = result.influence.n_sequences
        if o.cluster is not False:
            result.find_clusters(None if o.cluster is True else o.cluster)
        return result


def plan_extraction(model: ModelLike, sequences: Any = None, labels: Any = None, **options: Any) -> ExtractionPlan:
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
    opened = None
    if sequences is not None and opts.needs_sequences:
        opened = open_batches_for(spec, sequences, dataset=opts.dataset, n_encoding=opts.n_encoding)
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
        # cannot use fail before the scan.
        runnable = checked_runnable_model(spec, model, opts.weights, opened, opts.influence_null)
    if opts.influence or opts.diagnostics or (labels is not None and labels is not False):
        # The source already open (FASTA counted once; a stream's spooled copy), not the path again.
        values, source = open_labels(labels, (opened and opened.source) or sequences,
                                     None if opened is None else opened.count)
    if opts.cluster is not False:
        require_annotate()
    return ExtractionPlan(spec=spec, options=opts, opened=opened, n_sequences=None if opened is None else opened.count,
                          model=model_label, sequences=None if opened is None else opened.label, runnable=runnable,
                          labels=values, labels_source=source, notes=[opened.note] if opened and opened.note else [])


def extract(model: ModelLike, sequences: Any = None, labels: Any = None, **options: Any) -> ExtractionResult:
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
