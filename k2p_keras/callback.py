"""A Keras callback that writes the exact PWMs of the motif Conv1D while a model trains.

    model.fit(x, y, epochs=20, callbacks=[PWMCallback(x, "pwms/")])

At the end of every epoch (``every=N``: every N-th; ``every="auto"``: as often as keeps its
own time under a tenth of the training time) the callback runs :func:`k2p_keras.extract` on
the live model (its current weights, BatchNormalization folded with its current moving
statistics, the pattern checked again), the same call as the command line, then writes
``epoch_0001.meme``, ``epoch_0002.meme``, ... and rewrites ``summary.tsv``. The PWMs are
exact at every epoch; only their base is estimated, by default on a fixed random subsample
of the sequences at the intermediate epochs and on all of them at the last. Every file is
replaced atomically, so an interrupted training leaves only whole files behind. What a dump
costs, measured: docs/callback-overhead.md.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._tf import import_tensorflow
from .annotate.run.model_split import check_sequence_lengths
from .annotate.match.tomtom import load_database, require_annotate
from .errors import K2PError, PatternError
from .extract import plan_extraction, resolved_batch_size
from .io.callback_folder import meme_name, SUMMARY_NAME
from .io.guard import open_timeout
from .io.labels import open_labels
from .io.sequences import dataset_to_array, open_sequences_for
from .io.text import format_summary, write_text
from .model.conv import find_motif_conv_in_model
from .options import make_options
from .scan.windows import windows_per_sequence
from .transform import js_divergence
from .validate import check_positive_number

# Subclassing Keras needs Keras now; TensorFlow's start-up lines are hidden while it loads
# (nothing happens when it is loaded already, as during fit()).
tf = import_tensorflow()
import keras  # noqa: E402

if TYPE_CHECKING:  # names for the type hints only
    from .result import ExtractionResult
    from .io.source import SequenceSource
    from .motifs.exact import ExactPWMs

__all__ = ["PWMCallback", "SUMMARY_COLUMNS", "pwm_change", "auto_dump_due"]

#: ``summary.tsv``: the epoch, the columns of ``k2p-keras --summary``, the change, the sequences scanned.
SUMMARY_COLUMNS = ("epoch", "filter", "ln_b", "base", "se_ln_b", "log_likelihood", "sequences_used", "constant_d",
                   "information_content", "consensus", "pwm_change", "sequences_scanned")
#: Options of extract() the callback does not take: it writes exact PWMs, scanned on this machine,
#: of the model it trains (no weights file).
NOT_IN_CALLBACK = ("method", "threshold", "threshold_fraction", "strategy", "weights")

#: ``max_sequences="auto"`` (the intermediate epochs' subsample): a tenth of the sequences, but at
#: least this many windows (sequences x positions of the conv) when there are so many; fewer
#: sequences are all scanned.
AUTO_FRACTION, AUTO_MIN_WINDOWS = 0.1, 100_000

#: ``every="auto"``: the callback's own time (its dumps, and a cut-short first try) stays under
#: this share of the training time so far; the last epoch is always written.
AUTO_TIME_BUDGET = 0.10


class DumpOverBudget(Exception):
    """Raised inside a dump's scan once it would cost more than ``every="auto"`` allows.

    ``estimate`` is the projected seconds of a whole dump (None when too early to tell).
    """

    def __init__(self, estimate: float | None):
        super().__init__(estimate)
        self.estimate = estimate


def auto_dump_due(trained: float, spent: float, estimate: float | None, budget: float = AUTO_TIME_BUDGET,
                  fit_total: float | None = None, last_estimate: float | None = None) -> bool:
    """Whether ``every="auto"`` writes now, when the last epoch is not yet reached.

    A dump now (``estimate`` seconds; None before the first measurement: then one is tried while
    any time is left, and :class:`BudgetProbe` cuts it short) must fit, with the ``spent``
    seconds so far, in ``budget`` of the ``trained`` seconds (the callback's own time left out),
    and, when the whole fit's training seconds ``fit_total`` are known, leave room in its
    share for the dump after the last epoch (which is always written; ``last_estimate`` seconds,
    on all the sequences, by default ``estimate``).
    """
    if estimate is None:
        return spent < budget * trained
    last_estimate = estimate if last_estimate is None else last_estimate
    if fit_total is not None and spent + estimate + last_estimate > budget * fit_total:
        return False
    return spent + estimate <= budget * trained


class BudgetProbe:
    """``progress`` hook of a dump that may be cut short: raises :class:`DumpOverBudget`.

    After the first batch (which carries any one-time start-up) the dump is given up only if
    it has used the whole ``allowance`` (seconds); after later batches, once the time so far
    plus the steady per-sequence rate over the sequences left would exceed it. The estimate
    is that rate times ``total``. A scan that has read all ``total`` sequences is kept.
    """

    def __init__(self, total: int, allowance: float, clock=time.perf_counter):
        self.total, self.allowance, self.clock = total, allowance, clock
        self.start = clock()
        self.seen = self.first_seen = 0
        self.first_elapsed = None

    def __call__(self, n: int) -> None:
        self.seen += n
        elapsed = self.clock() - self.start
        if self.seen >= self.total:  # the scan is done: its PWMs are kept
            return
        if self.first_elapsed is None:
            self.first_elapsed, self.first_seen = elapsed, self.seen
            if elapsed > self.allowance:  # an upper bound: the first batch carries the start-up
                raise DumpOverBudget(elapsed / self.seen * self.total)
            return
        rate = (elapsed - self.first_elapsed) / (self.seen - self.first_seen)
        if elapsed + rate * (self.total - self.seen) > self.allowance:
            raise DumpOverBudget(rate * self.total)


def _load_compiled_kernels(diagnostics=False):
    """:func:`k2p_keras.scan.best_windows.load_compiled_kernels`, quiet: a problem it meets shows in the dump itself."""
    from .scan.best_windows import load_compiled_kernels  # numba loads at the first epoch's end, not with the package

    try:
        load_compiled_kernels(diagnostics)
    except Exception:  # noqa: BLE001 - the dump runs the same code and reports the error
        pass


def auto_sequence_count(count: int, windows_per_sequence: int) -> int:
    """How many of ``count`` sequences ``max_sequences="auto"`` scans at the intermediate epochs.

    A tenth of them, but at least enough for :data:`AUTO_MIN_WINDOWS` windows, and at most
    all: enough best windows that ln b's standard error stays small (docs/callback.md gives
    it against all the sequences' ln b, epoch by epoch).
    """
    wanted = max(math.ceil(AUTO_FRACTION * count), math.ceil(AUTO_MIN_WINDOWS / max(windows_per_sequence, 1)))
    return min(count, wanted)


def pwm_change(previous: np.ndarray | None, current: np.ndarray) -> np.ndarray:
    """Per filter: the mean over positions of the Jensen-Shannon divergence (bits).

    Parameters
    ----------
    previous, current : numpy.ndarray, shape (F, L, 4), or None
        Two dumps of the same layer's PWMs.

    Returns
    -------
    numpy.ndarray, shape (F,)
        0 for an unchanged filter, at most 1; NaN when there is no previous dump.
    """
    current = np.asarray(current, dtype=np.float64)
    if previous is None or np.shape(previous) != current.shape:
        return np.full(current.shape[0], np.nan)
    return js_divergence(previous, current).mean(axis=-1)


def _positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise K2PError(f"{name} must be a whole number >= 1 or \"auto\", got {value!r}")
    return int(value)


class PWMCallback(keras.callbacks.Callback):
    """Write the motif Conv1D's exact PWMs (MEME) while a model trains.

    Parameters
    ----------
    sequences : numpy.ndarray, str, os.PathLike, tf.data.Dataset or None
        The sequences the base is estimated on, normally the training sequences:

        - an array ``(N, length, 4)``, a file (HDF5, ``.npy``, FASTA / FASTA.gz) or a
          :class:`~k2p_keras.io.source.SequenceSource`, read with
          :func:`k2p_keras.io.sequences.open_sequences` and streamed in batches at each dump;
        - a ``tf.data.Dataset`` of one-hot batches, single sequences, or ``(x, y[, w])``
          tuples (``x`` is taken). It is iterated once, when the callback is made, and at
          most ``max_sequences`` sequences are kept in memory: the first ones it yields
          (so a shuffled dataset gives a random subset). An endless (repeated) dataset
          needs ``max_sequences``.

        May be None when ``base`` is a number.
    output_dir : str or os.PathLike
        Folder for ``epoch_0001.meme``, ``epoch_0002.meme``, ... and ``summary.tsv``;
        created if missing. Files of the same names there are replaced.
    every : int or "auto"
        Write after every ``every``-th epoch (epochs counted from 1, as Keras prints them);
        1 (the default) writes every epoch. "auto" writes after an epoch only when that keeps
        the callback's own time (its set-up, numba's one-time start-up, its dumps) under
        ``time_budget`` of the training time so far, with room left for the dump after the
        last epoch, which it always writes (:func:`auto_dump_due`); the first time it skips
        an epoch one line on stderr says so and what a dump costs. Before its first
        measurement it tries a dump and gives it up, unwritten, as soon as it would run over.
        Which epochs were written: :attr:`dumped_epochs` and ``summary.tsv``. With
        ``EarlyStopping``, list it before this callback, so the epoch it stops at is the last
        (written on all the sequences). "auto" times the epochs through ``fit``; driven by
        hand, call :meth:`extract_result` instead. Logs get ``k2p_mean_*`` on written epochs only.
    max_sequences : "auto", int or None
        The sequences the intermediate epochs' base is estimated on: "auto" (the default) a
        fixed random subsample, a tenth of them but at least 100,000 windows' worth
        (:func:`auto_sequence_count`; all of a small set); an int that many; None all of
        them. The subsample is drawn once (with ``seed``) when training first begins, so
        every epoch sees the same sequences. The last epoch of ``fit`` is estimated on all
        the sequences whatever this says (the dump at its ``on_epoch_end``, or again at
        ``on_train_end`` when ``fit`` ended otherwise), so its PWMs equal ``k2p-keras`` on
        the same weights and sequences. Every epoch's PWMs are the exact transform of that
        epoch's kernel; the subsample only moves the base (its SE is in ``summary.tsv``; on
        the realistic benchmark, docs/callback.md gives it against all the sequences' ln b).
        ``summary.tsv``'s ``sequences_scanned`` and each MEME file's ``# sequences:`` line say
        how many went in; :attr:`sequence_indices` which.
    seed : int
        Seed of the subset drawn with ``max_sequences`` (arrays and files only).
    annotate : str, os.PathLike, True or None
        Off by default (and then nothing of annotation is loaded or run). Otherwise every
        dump's PWMs are compared with a motif database (Tomtom, via memelite) and
        ``summary.tsv`` gains each filter's best match (``best_match_id``,
        ``best_match_name``, ``best_match_q_value``, ``best_match_offset``,
        ``best_match_orientation``, ``annotation``): a MEME file, a JASPAR release name, or
        True for the default (the newest JASPAR CORE vertebrates release pyjaspar holds).
        The database is loaded once, when training begins (what it costs per dump:
        docs/annotation.md). Needs ``pip install 'k2p-keras[annotate]'``.
    annotate_options : dict, optional
        Passed to :func:`k2p_keras.annotate.match.tomtom.annotate_motifs` (``q_threshold``, ``taxon``, ...).
    time_budget : float
        With ``every="auto"``: the largest share of the training time the callback may take
        (default 0.10). Training time is measured from ``on_epoch_begin`` to this callback's
        ``on_epoch_end``.
    labels : numpy.ndarray or str, optional
        With ``influence=True`` or ``diagnostics=True``: the sequences' labels ``(N,)`` or
        ``(N, outputs)`` (or a dataset of their HDF5 file; by default ``y`` or ``labels`` beside
        them), for the change of the loss and each filter's AUROC alone
        (:func:`k2p_keras.io.labels.open_labels`).
    **options
        How the exact PWMs are made, as for :func:`k2p_keras.extract`, with the same
        defaults (:class:`k2p_keras.options.Options`): ``base`` ("mle", or a number ``b > 1``
        for a fixed base; then ``sequences`` may be None), ``layer``, ``base_estimator`` (or
        ``shared_base=True/False``), ``sites``, ``both_strands``, ``strict``, ``batch_size``, ``dataset``, ``n_encoding``;
        ``influence=True`` measures each filter's influence on the live model at every dump
        (a Lambda layer is no obstacle there), ``cluster=True`` groups the filters,
        ``diagnostics=True`` describes their best windows; their columns join ``summary.tsv``
        (docs/annotation.md).

    Attributes
    ----------
    last_result : k2p_keras.result.ExtractionResult or None
        The most recent dump, as :func:`k2p_keras.extract` returns it.
    last_extraction : k2p_keras.motifs.exact.ExactPWMs or None
        Its exact PWMs (PWMs, bases, scan statistics).
    dumped_epochs : list of int
        The 1-based epochs written so far.
    time_spent : float
        Seconds the callback has taken from training: its set-up, numba's start-up, its
        dumps and cut-short tries (what ``every="auto"`` keeps under ``time_budget``).
    dump_estimate : float or None
        ``every="auto"``: the seconds a dump is expected to take (the last dump's, or a
        cut-short try's projection).
    sequence_indices : numpy.ndarray of int or None
        The subsample the intermediate epochs scan (sorted positions in ``sequences``), set
        when training begins; None when they scan all.

    Notes
    -----
    At each dump the epoch's ``logs`` get ``k2p_mean_ln_b`` (mean ``ln b`` over filters)
    and ``k2p_mean_pwm_change`` (mean over filters of ``pwm_change``; NaN at the first
    dump), so they reach ``History`` and any callback placed after this one in the list
    (put ``TensorBoard`` after it). Epochs without a dump get neither key.

    ``summary.tsv`` has one row per filter and written epoch (:data:`SUMMARY_COLUMNS`;
    ``pwm_change``: :func:`pwm_change` against the previous dump; docs/callback.md).

    The MLE assumes conv -> non-decreasing activation -> global (or local) max-pool. The
    pattern is checked when training begins and again at every dump (a BatchNormalization
    whose scale turns negative during training breaks it): the base then comes from the strong
    windows anywhere, with a warning; with ``strict=True`` (and no fixed ``base``),
    :class:`~k2p_keras.errors.PatternError` stops the training instead. Other problems found at
    a dump (a sequence file that cannot be read, a base that cannot be estimated) raise too;
    the files written by earlier dumps stay whole.

    Examples
    --------
    >>> cb = PWMCallback(x_train, "pwms/")                                  # doctest: +SKIP
    >>> model.fit(x_train, y_train, epochs=50, callbacks=[cb])             # doctest: +SKIP
    """

    def __init__(self, sequences: np.ndarray | str | os.PathLike | SequenceSource | tf.data.Dataset | None,
                 output_dir: str | os.PathLike, every: int | Literal["auto"] = 1, *,
                 max_sequences: int | Literal["auto"] | None = "auto", seed: int = 0,
                 annotate: str | os.PathLike | bool | None = None, annotate_options: dict[str, Any] | None = None,
                 time_budget: float = AUTO_TIME_BUDGET, labels: np.ndarray | str | None = None, **options: Any):
        super().__init__()
        self.every = _positive_int(every, "every")
        self.time_budget = check_positive_number(time_budget, "time_budget (a share of the training time)")
        self.max_sequences = _positive_int(max_sequences, "max_sequences", allow_none=True)
        # The options extract() takes, checked now so that a typo fails before training starts.
        unsupported = sorted(set(options) & set(NOT_IN_CALLBACK))
        if unsupported:
            raise TypeError(f"PWMCallback writes exact PWMs of the model it trains on this machine's devices; "
                            f"it does not take {', '.join(unsupported)}")
        self.options = make_options(**options)
        self.base = self.options.base
        self.layer = self.options.layer
        self.annotate = annotate
        self.annotate_options = dict(annotate_options or {})
        self._database = None
        self.seed = seed
        self.output_dir = os.fspath(output_dir)
        self.last_extraction = None
        self.last_result = None
        self.dumped_epochs = []
        self._sequences = self._check_sequences(sequences)
        self._labels, self._label_values = labels, None  # the labels of every sequence, once read
        self._source = self._source_spec = self._indices = self._layer_name = None
        self._previous_pwms = self._before_previous = None
        self._last_epoch, self._last_subsampled = None, False  # the last epoch seen; its dump on the subsample
        self._rows = []
        # every="auto": seconds of training and of the callback's own work so far.
        self._epoch_started = None
        self._trained = self._spent = 0.0
        self._epochs_timed = 0
        self.dump_estimate = None
        self._said_skipping = False
        self._kernels_loaded = False
        self._batch_size = None
        self._summary_columns, self._summary_text = None, ""

    @property
    def sequence_indices(self) -> np.ndarray | None:
        return self._indices

    def _check_sequences(self, sequences):
        """Validate what can be validated before the model is known; materialise a Dataset."""
        if sequences is None:
            if self.options.needs_sequences:
                raise K2PError(self.options.missing_sequences("give PWMCallback sequences", "a fixed base=B"))
            return None
        if isinstance(sequences, tf.data.Dataset):
            # "auto" subsamples like an array, once the dataset's size is known.
            limit = None if self.max_sequences == "auto" else self.max_sequences
            return dataset_to_array(sequences, limit)
        if isinstance(sequences, (str, os.PathLike)):
            path = os.fspath(sequences)
            if not os.path.exists(path):
                raise K2PError("file not found", path=path)
            if os.path.isdir(path):
                raise K2PError("is a folder, expected a sequence file", path=path)
            return path
        if isinstance(sequences, tf.Tensor):
            return sequences.numpy()
        return sequences

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Check the model's motif conv and its pattern, open the sequences, make the folder."""
        began = time.perf_counter()
        plan = self._plan(self.layer)
        spec = plan.spec
        if self._layer_name is not None and spec.layer_name != self._layer_name:
            raise K2PError(f"this callback followed layer {self._layer_name!r}; the model's motif conv is "
                           f"now {spec.layer_name!r}: use a new PWMCallback for a new model")
        self._layer_name = spec.layer_name
        if self.annotate is not None and self.annotate is not False and self._database is None:
            require_annotate()
            taxon = self.annotate_options.pop("taxon", None)
            db = None if self.annotate is True else self.annotate
            self._database = load_database(db) if taxon is None else load_database(db, taxon=taxon)
        try:
            os.makedirs(self.output_dir, exist_ok=True)
        except OSError as err:
            raise K2PError(f"cannot create the output folder ({err.strerror})",
                           path=self.output_dir) from None
        summary = os.path.join(self.output_dir, SUMMARY_NAME)
        if not self._rows and os.path.exists(summary):
            warnings.warn(f"{summary}: replacing the summary of an earlier run (and its epoch_*.meme "
                          "files as the same epochs are written)")
        # What the callback costs counts against its budget wherever it is spent, not only in its dumps.
        self._spent += time.perf_counter() - began

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Write ``epoch_NNNN.meme``, rewrite ``summary.tsv``, fill ``logs`` (when ``every`` says so)."""
        number = epoch + 1
        self._last_epoch = number
        if self._epoch_started is not None:
            self._trained += time.perf_counter() - self._epoch_started
            self._epochs_timed += 1
            self._epoch_started = None
        # The last epoch of fit, or one after which a callback before this one (EarlyStopping) stops it:
        # its base comes from all the sequences.
        epochs = (self.params or {}).get("epochs")
        last = number == epochs or bool(getattr(self.model, "stop_training", False))
        if self.every != "auto":
            if number % self.every == 0:
                self._load_kernels_once()
                started = time.perf_counter()
                self._dump(number, logs, everything=last)
                self._spent += time.perf_counter() - started
            return
        self._load_kernels_once()
        fit_total = None  # the training seconds expected by the end of this fit
        if epochs and self._epochs_timed:
            fit_total = self._trained / self._epochs_timed * (self._epochs_timed + max(epochs - number, 0))
        # The last dump reads all the sequences: its scan grows by their share over the subsample's.
        scale = self._source.count / max(self._scan_count(), 1) if self._indices is not None else 1
        last_estimate = None if self.dump_estimate is None else self.dump_estimate * scale
        if not last and not auto_dump_due(self._trained, self._spent, self.dump_estimate, self.time_budget,
                                          fit_total, last_estimate):
            self._say_skipping()
            return
        started = time.perf_counter()
        probe = None
        if not last and self.dump_estimate is None:
            probe = BudgetProbe(self._scan_count(), self.time_budget * self._trained - self._spent)
        try:
            self._dump(number, logs, progress=probe, everything=last)
        except DumpOverBudget as over:
            self.dump_estimate = over.estimate
            self._say_skipping()
        else:
            self.dump_estimate = time.perf_counter() - started
        finally:
            self._spent += time.perf_counter() - started

    def on_train_end(self, logs: dict | None = None) -> None:
        """The last epoch's base on all the sequences, when its dump took the subsample (``fit`` was
        stopped by a callback listed after this one, or the callback is driven by hand)."""
        if self._last_subsampled and self.dumped_epochs and self.dumped_epochs[-1] == self._last_epoch:
            started = time.perf_counter()
            self._dump(self._last_epoch, None, everything=True)
            self._spent += time.perf_counter() - started

    def _load_kernels_once(self):
        """numba's one-time start-up (its import, registries and cached kernels), at the first
        epoch's end, counted as the callback's time. Not in a thread beside training: the GIL is
        shared with Keras's Python training loop (docs/callback-overhead.md)."""
        if self.options.needs_sequences and not self._kernels_loaded:
            started = time.perf_counter()
            _load_compiled_kernels(self.options.diagnostics)
            self._kernels_loaded = True
            self._spent += time.perf_counter() - started

    @property
    def time_spent(self) -> float:
        """Seconds the callback has taken from training so far: its set-up, numba's start-up and its dumps."""
        return self._spent

    def _say_skipping(self):
        """One line on stderr, the first time ``every="auto"`` skips an epoch."""
        if self._said_skipping:
            return
        self._said_skipping = True
        epoch = self._trained / max(self._epochs_timed, 1)
        cost = ("" if self.dump_estimate is None or not self._scan_count() else
                f" (a dump of {self._scan_count():,} sequences takes about {self.dump_estimate:.2g} s, "
                f"{self.dump_estimate / epoch:.2g} of an epoch)")
        print(f"k2p-keras PWMCallback: writing PWMs only after the epochs that keep its time under "
              f"{self.time_budget:.2g} of the training time, and after the last one{cost}; "
              "every=1 writes every epoch", file=sys.stderr)

    def _scan_count(self):
        """Sequences a dump scans."""
        if self._indices is not None:
            return len(self._indices)
        return self._source.count if self._source is not None else 0

    def _dump(self, number, logs, progress=None, everything=False):
        """Write epoch ``number``: on all the sequences with ``everything``, else on the subsample.

        The same epoch dumped again (on all the sequences, at ``on_train_end``) replaces its file and rows.
        """
        indices = None if everything else self._indices
        again = bool(self.dumped_epochs) and self.dumped_epochs[-1] == number
        result = self._plan(self._layer_name, indices).run(progress=progress)
        if self._database is not None:
            result.annotate(self._database, **self.annotate_options)
        if self.options.needs_sequences:
            result.sequences = self._sequences_label(indices)
        extraction = result.exact
        change = pwm_change(self._before_previous if again else self._previous_pwms, extraction.pwms)
        scanned = extraction.stats.n_sequences if extraction.stats is not None else 0
        result.write_meme(os.path.join(self.output_dir, meme_name(number)))
        new_rows = [{**row, "epoch": number, "sequences_scanned": scanned, "pwm_change": float(filter_change)}
                    for row, filter_change in zip(result.summary_rows(), change)]
        if again:  # the whole table is formatted again without the epoch's subsample rows
            self._rows = [row for row in self._rows if row["epoch"] != number]
            self._summary_columns = None
        else:
            self._before_previous = self._previous_pwms
            self.dumped_epochs.append(number)
        self._rows += new_rows
        self._write_summary(result, new_rows)
        self._previous_pwms = extraction.pwms
        self._last_subsampled = indices is not None
        self.last_result, self.last_extraction = result, extraction
        if logs is not None:
            logs["k2p_mean_ln_b"] = float(np.mean(extraction.ln_base))
            logs["k2p_mean_pwm_change"] = float(np.mean(change)) if np.all(np.isfinite(change)) else math.nan

    def _plan(self, layer, indices=None):
        """:func:`k2p_keras.extract.plan_extraction` on the live model and the sequences at ``indices`` (all: None)."""
        if self.options.needs_sequences and self._source is None:
            self._open_source(self.model, layer)
        batches = None
        labels = self._label_values
        if self.options.needs_sequences:
            source = self._source

            def batches():
                return source.iter_batches(self._settled_batch_size(), indices=indices)

            if labels is not None and indices is not None:
                labels = labels[indices]
        try:
            return plan_extraction(self.model, batches, labels, **{**self._option_values(), "layer": layer})
        except PatternError as err:
            raise PatternError(f"{err.message} Give PWMCallback a fixed base=B to write PWMs anyway, "
                               "or leave out strict=True to estimate it from the strong windows anywhere",
                               path=err.path) from None

    def _option_values(self):
        # The size the sequences are read in, once settled (_settled_batch_size): "auto" is not worked out again;
        # the batches come from the callback's own source (its dataset already chosen).
        size = self.options.batch_size if self._batch_size is None else self._batch_size
        return replace(self.options, batch_size=size, dataset=None).keywords()

    def extract_result(self) -> ExtractionResult:
        """:func:`k2p_keras.extract` on the model's current weights (and the subsample, if any): an
        :class:`~k2p_keras.result.ExtractionResult`. The pattern is checked at every call, as at a dump."""
        if self.model is None or self._layer_name is None:
            raise K2PError("the callback has no model yet: it is set up when training begins")
        return self._plan(self._layer_name, self._indices).run()

    def extract(self) -> ExactPWMs:
        """The exact PWMs from the model's current weights: ``extract_result().exact``, an
        :class:`~k2p_keras.motifs.exact.ExactPWMs`."""
        return self.extract_result().exact

    def _open_source(self, model, layer):
        # The source keeps the model's channel order: plan_extraction puts its batches in
        # A C G T order (the alphabet option), once.
        spec = find_motif_conv_in_model(model, layer=layer)
        with open_timeout(self.options.open_timeout):  # an HDF5 file is walked in a child first (io/guard.py)
            source = open_sequences_for(spec, self._sequences, dataset=self.options.dataset,
                                        n_encoding=self.options.n_encoding)
        if self.options.influence:  # the model runs on its own input: sequences too short fail before training
            check_sequence_lengths(spec.input_length, source.min_length, source.max_length, path=source.path)
        wanted = self.max_sequences
        if wanted == "auto":
            wanted = auto_sequence_count(source.count, windows_per_sequence(source.min_length, spec.kernel.shape[0],
                                                                         spec.padding, spec.strides))
        indices = None
        if wanted is not None and wanted < source.count:
            rng = np.random.default_rng(self.seed)
            indices = np.sort(rng.choice(source.count, size=wanted, replace=False))
        self._source, self._indices, self._source_spec = source, indices, spec
        if self.options.influence or self.options.diagnostics or self._labels is not None:
            self._label_values, _ = open_labels(self._labels, source, source.count)

    def _sequences_label(self, indices):
        """The MEME header's ``# sequences:`` line: all the sequences, or the subsample and its size."""
        count = self._source.count
        if indices is None:
            return f"all {count:,} training sequences"
        return f"a fixed random subsample of {len(indices):,} of the {count:,} training sequences (seed {self.seed})"

    def _settled_batch_size(self):
        """The size the sequences are read in, worked out at the first dump (not ``on_train_begin``: it loads numba)."""
        if self._batch_size is None:
            self._batch_size = resolved_batch_size(self._source_spec, self.options, self._source.max_length)
        return self._batch_size

    def _write_summary(self, result, new_rows):
        # The whole table is rewritten and renamed into place: a reader (or a crash) never
        # sees a half-written line, which an append could leave. The earlier rows' text is
        # kept, so that a dump formats its own rows only (not epochs x filters of them).
        path = os.path.join(self.output_dir, SUMMARY_NAME)
        columns = ("epoch",) + result.summary_columns + ("pwm_change", "sequences_scanned")
        if columns != self._summary_columns:
            self._summary_columns, self._summary_text = columns, format_summary(self._rows, columns)
        else:
            self._summary_text += format_summary(new_rows, columns, header=False)
        write_text(path, self._summary_text)
