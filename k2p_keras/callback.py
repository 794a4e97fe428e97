"""A Keras callback that writes the exact PWMs of the motif Conv1D while a model trains.

    model.fit(x, y, epochs=20, callbacks=[PWMCallback(x, "pwms/")])

At the end of every ``every``-th epoch the callback reads the live model's current weights
(:func:`k2p_keras.graph.find_motif_conv_in_model`, BatchNormalization folded with its
current moving statistics), estimates the base on a fixed set of training sequences and
transforms the kernels (:func:`k2p_keras.pipeline.extract_pwms`, the same path as the
command line), then writes ``epoch_0001.meme``, ``epoch_0002.meme``, ... and rewrites
``summary.tsv``. Every file is replaced atomically, so an interrupted training leaves only
whole files behind.
"""
import math
import os
import warnings

import numpy as np

from ._tf import import_tensorflow
from .errors import K2PError
from .graph import find_motif_conv_in_model
from .meme import write_meme
from .pipeline import check_pattern, extract_pwms, format_summary, open_sequences_for
from .textio import write_text
from .transform import check_base, js_divergence

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow has been imported quietly)

__all__ = ["PWMCallback", "SUMMARY_COLUMNS", "pwm_change"]

SUMMARY_COLUMNS = ("epoch", "filter", "ln_b", "se_ln_b", "sequences_used", "information_content",
                   "consensus", "pwm_change")
SUMMARY_NAME = "summary.tsv"


def meme_name(epoch):
    """File name of the dump after 1-based epoch ``epoch``: ``epoch_0001.meme``."""
    return f"epoch_{int(epoch):04d}.meme"


def pwm_change(previous, current):
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


def _dataset_to_array(dataset, max_sequences):
    """The first ``max_sequences`` one-hot sequences of a ``tf.data.Dataset``, as float32.

    Elements may be batches ``(B, length, 4)``, single sequences ``(length, 4)`` or tuples
    whose first item is one of those (``(x, y)`` or ``(x, y, weights)``).
    """
    cardinality = int(dataset.cardinality())
    if max_sequences is None and cardinality == int(tf.data.INFINITE_CARDINALITY):
        raise K2PError("the dataset repeats forever; give max_sequences to take that many from it")
    parts, total = [], 0
    for element in dataset:
        if isinstance(element, (tuple, list)):
            element = element[0]
        if isinstance(element, dict):
            raise K2PError("dataset elements are dicts; pass a dataset of one-hot batches or (x, y) "
                           "tuples, or the one-hot array itself")
        x = np.asarray(element, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3:
            raise K2PError(f"dataset elements must be one-hot batches (B, length, 4) or sequences "
                           f"(length, 4), got shape {x.shape}")
        if parts and x.shape[1:] != parts[0].shape[1:]:
            raise K2PError(f"dataset sequences differ in shape ({parts[0].shape[1:]} and {x.shape[1:]}); "
                           "the callback needs sequences of one length")
        if max_sequences is not None:
            x = x[:max_sequences - total]
        parts.append(x)
        total += x.shape[0]
        if max_sequences is not None and total >= max_sequences:
            break
    if total == 0:
        raise K2PError("the dataset yielded no sequences")
    return np.concatenate(parts)


def _positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise K2PError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


class PWMCallback(keras.callbacks.Callback):
    """Write the motif Conv1D's exact PWMs (MEME) every ``every`` epochs while a model trains.

    Parameters
    ----------
    sequences : numpy.ndarray, str, os.PathLike, tf.data.Dataset or None
        The sequences the base is estimated on, normally the training sequences:

        - an array ``(N, length, 4)``, a file (HDF5, ``.npy``, FASTA / FASTA.gz) or a
          :class:`~k2p_keras.sequences.SequenceSource`, read with
          :func:`k2p_keras.sequences.open_sequences` and streamed in batches at each dump;
        - a ``tf.data.Dataset`` of one-hot batches, single sequences, or ``(x, y[, w])``
          tuples (``x`` is taken). It is iterated once, when the callback is made, and at
          most ``max_sequences`` sequences are kept in memory: the first ones it yields
          (so a shuffled dataset gives a random subset). An endless (repeated) dataset
          needs ``max_sequences``.

        May be None when ``base`` is a number.
    output_dir : str or os.PathLike
        Folder for ``epoch_0001.meme``, ``epoch_0002.meme``, ... and ``summary.tsv``;
        created if missing. Files of the same names there are replaced.
    every : int
        Write after every ``every``-th epoch (epochs counted from 1, as Keras prints them).
    base : "mle" or float
        Estimate the base by maximum likelihood at every dump, or use this base ``b > 1``.
    layer : str, optional
        Name of the Conv1D to transform; by default the first one on the one-hot input.
    max_sequences : int, optional
        Estimate on a random subset of this many sequences, drawn once (with ``seed``)
        when training first begins, so that every dump sees the same sequences.
    shared_base : bool
        One base for all filters (the default, as for `k2p-keras MODEL SEQS`: it recovers
        planted motifs better in benchmarks/paper) instead of one per filter.
    both_strands : bool
        The model scans the reverse complement too.
    exclude_inactive : bool
        Leave out of the MLE the sequences whose best window does not pass the activation.
    seed : int
        Seed of the subset drawn with ``max_sequences`` (arrays and files only).
    batch_size : int
        Sequences per scanned batch.
    dataset : str, optional
        For an HDF5 file: the dataset holding the sequences (default: the only or first).
    n_encoding : {"zero", "quarter"}
        How N is encoded when ``sequences`` is FASTA, as in training.

    Attributes
    ----------
    last_extraction : k2p_keras.pipeline.Extraction or None
        The most recent dump (PWMs, bases, scan statistics).
    dumped_epochs : list of int
        The 1-based epochs written so far.

    Notes
    -----
    At each dump the epoch's ``logs`` get ``k2p_mean_ln_b`` (mean ``ln b`` over filters)
    and ``k2p_mean_pwm_change`` (mean over filters of ``pwm_change``; NaN at the first
    dump), so they reach ``History`` and any callback placed after this one in the list
    (put ``TensorBoard`` after it). Epochs without a dump get neither key.

    ``summary.tsv`` has one row per filter and dump: ``epoch``, ``filter``, ``ln_b``,
    ``se_ln_b``, ``sequences_used``, ``information_content`` (bits, summed over positions),
    ``consensus`` and ``pwm_change``: the Jensen-Shannon divergence (bits, 0 to 1) between
    each row of the filter's PWM and the same row at the previous dump, averaged over rows.

    The MLE assumes conv -> non-decreasing activation -> global max-pool. When the model
    breaks that pattern, :meth:`on_train_begin` raises :class:`~k2p_keras.errors.K2PError`
    before the first epoch, unless ``base`` is a number. A problem found at a dump (a
    sequence file that cannot be read, a base that cannot be estimated) raises too and
    stops the training; the files written by earlier dumps stay whole.

    Examples
    --------
    >>> cb = PWMCallback(x_train, "pwms/", every=5, max_sequences=20000)   # doctest: +SKIP
    >>> model.fit(x_train, y_train, epochs=50, callbacks=[cb])             # doctest: +SKIP
    """

    def __init__(self, sequences, output_dir, every=1, base="mle", layer=None, max_sequences=None,
                 shared_base=True, both_strands=False, exclude_inactive=False, seed=0, batch_size=512,
                 *, dataset=None, n_encoding="zero"):
        super().__init__()
        self.every = _positive_int(every, "every")
        self.max_sequences = _positive_int(max_sequences, "max_sequences", allow_none=True)
        self.batch_size = _positive_int(batch_size, "batch_size")
        if isinstance(base, str):
            if base != "mle":
                raise K2PError(f"base must be 'mle' or a number greater than 1, got {base!r}")
        else:
            base = check_base(base)
        self.base = base
        if n_encoding not in ("zero", "quarter"):
            raise K2PError(f"n_encoding must be 'zero' or 'quarter', got {n_encoding!r}")
        self.layer = layer
        self.shared_base = bool(shared_base)
        self.both_strands = bool(both_strands)
        self.exclude_inactive = bool(exclude_inactive)
        self.seed = seed
        self.dataset = dataset
        self.n_encoding = n_encoding
        self.output_dir = os.fspath(output_dir)
        self.last_extraction = None
        self.dumped_epochs = []
        self._sequences = self._check_sequences(sequences)
        self._source = None
        self._indices = None
        self._layer_name = None
        self._previous_pwms = None
        self._rows = []

    @property
    def _estimating(self):
        return isinstance(self.base, str)

    def _check_sequences(self, sequences):
        """Validate what can be validated before the model is known; materialise a Dataset."""
        if sequences is None:
            if self._estimating:
                raise K2PError("sequences are needed to estimate the base; or give a fixed base")
            return None
        if isinstance(sequences, tf.data.Dataset):
            return _dataset_to_array(sequences, self.max_sequences)
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

    # ------------------------------------------------------------------ hooks

    def on_train_begin(self, logs=None):
        """Find the motif conv on the live model, check the pattern, open the sequences."""
        spec = find_motif_conv_in_model(self.model, layer=self.layer)
        check_pattern(spec, estimating=self._estimating,
                      remedy="Give PWMCallback a fixed base=B to write PWMs anyway")
        if self._layer_name is not None and spec.layer_name != self._layer_name:
            raise K2PError(f"this callback followed layer {self._layer_name!r}; the model's motif conv is "
                           f"now {spec.layer_name!r}: use a new PWMCallback for a new model")
        self._layer_name = spec.layer_name
        if spec.both_strands_hint and not self.both_strands:
            warnings.warn(f"layer {spec.layer_name!r} is applied to more than one input (a reverse "
                          "complement?); pass both_strands=True if the model scans both strands")
        if self._estimating and self._source is None:
            self._open_source(spec)
        try:
            os.makedirs(self.output_dir, exist_ok=True)
        except OSError as err:
            raise K2PError(f"cannot create the output folder ({err.strerror})",
                           path=self.output_dir) from None
        summary = os.path.join(self.output_dir, SUMMARY_NAME)
        if not self._rows and os.path.exists(summary):
            warnings.warn(f"{summary}: replacing the summary of an earlier run (and its epoch_*.meme "
                          "files as the same epochs are written)")

    def on_epoch_end(self, epoch, logs=None):
        """Every ``every`` epochs: write ``epoch_NNNN.meme``, rewrite ``summary.tsv``, fill ``logs``."""
        number = epoch + 1
        if number % self.every:
            return
        extraction = self.extract()
        change = pwm_change(self._previous_pwms, extraction.pwms)
        write_meme(os.path.join(self.output_dir, meme_name(number)), extraction.motifs())
        for row, filter_change in zip(extraction.summary_rows(), change):
            self._rows.append({**row, "epoch": number, "pwm_change": float(filter_change)})
        self._write_summary()
        self._previous_pwms = extraction.pwms
        self.last_extraction = extraction
        self.dumped_epochs.append(number)
        if logs is not None:
            logs["k2p_mean_ln_b"] = float(np.mean(extraction.ln_base))
            logs["k2p_mean_pwm_change"] = float(np.mean(change)) if np.all(np.isfinite(change)) else math.nan

    # ------------------------------------------------------------------ pieces

    def extract(self):
        """Exact PWMs of the motif conv from the model's current weights.

        Returns
        -------
        k2p_keras.pipeline.Extraction
        """
        if self.model is None or self._layer_name is None:
            raise K2PError("the callback has no model yet: it is set up when training begins")
        spec = find_motif_conv_in_model(self.model, layer=self._layer_name)
        batches = None
        if self._estimating:
            batches = self._source.iter_batches(self.batch_size, indices=self._indices)
        return extract_pwms(spec, batches, base=self.base, shared_base=self.shared_base,
                            both_strands=self.both_strands, exclude_inactive=self.exclude_inactive)

    def _open_source(self, spec):
        source = open_sequences_for(spec, self._sequences, dataset=self.dataset, n_encoding=self.n_encoding)
        indices = None
        if self.max_sequences is not None and self.max_sequences < source.count:
            rng = np.random.default_rng(self.seed)
            indices = np.sort(rng.choice(source.count, size=self.max_sequences, replace=False))
        self._source, self._indices = source, indices

    def _write_summary(self):
        # The whole table is rewritten and renamed into place: a reader (or a crash) never
        # sees a half-written line, which an append could leave.
        path = os.path.join(self.output_dir, SUMMARY_NAME)
        write_text(path, format_summary(self._rows, SUMMARY_COLUMNS))
