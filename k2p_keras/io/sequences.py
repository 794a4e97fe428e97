"""One-hot DNA sequences, streamed in batches from HDF5, ``.npy``, FASTA or memory.

The maximum-likelihood base needs one pass over the training sequences, which can be
far larger than memory. :func:`open_sequences` therefore only looks at a file's shape
(or, for FASTA, counts its records in a first pass that keeps no sequence), and
:meth:`SequenceSource.iter_batches` reads one batch at a time: memory stays the size
of a batch whatever the number of sequences.

Every batch is float32 with shape ``(B, length, 4)``, channels A C G T, whatever the layout
stored: the one layout the package computes in (see ``docs/ARCHITECTURE.md``). A model
trained on another channel order (``alphabet="ATCG"``) has its stored tensors, arrays and
batches taken in that order and put in A C G T order as they are read; FASTA letters are
encoded in A C G T order directly.
"""
import contextlib
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Optional
import tokenize
import warnings

import h5py
import numpy as np

from ..axes import ALPHABET, channels_to_acgt
from ..errors import K2PError, OptionError
from ..validate import check_numeric_dtype, check_sequence_length, first_outside_unit_interval
from .fasta import EXPECTED, FastaSequences, N_ENCODINGS, open_stream, STDIN, text_format
from .formats import file_kind, stream_type
from .guard import check_answers
from .matrices import hdf5_damage, resolve_dataset
from .source import SequenceSource


__all__ = ["OpenedSequences", "TensorSequences", "open_batches_for", "open_sequences"]

# A subset far from contiguous is read one row at a time instead of as one block.
_SPAN_FACTOR = 4


def stored_channels_first(shape):
    """Whether a stored one-hot tensor ``shape`` is ``(N, 4, length)`` rather than ``(N, length, 4)``.

    The layout is read off the shape: the axis of size 4 holds the channels. Only length 4
    is ambiguous, and counts as canonical ``(N, length, 4)``.
    """
    return len(shape) == 3 and shape[2] != 4 and shape[1] == 4


def sequence_layout(shape, dtype, channels_first=None, name=None):
    """How a stored tensor holds one-hot sequences: ``(squeeze_axis, channels_first, count, length)``.

    Conv2D models on one-hot DNA are trained on ``(N, 4, 1, L)``, ``(N, 4, L, 1)`` or
    ``(N, 1, L, 4)``: the axis of size 1 (``squeeze_axis``, else None) goes, the rest is read
    as ``(N, 4, L)`` / ``(N, L, 4)``.

    Raises
    ------
    K2PError
        When ``shape`` and ``dtype`` cannot hold one-hot sequences (naming ``name``).
    """
    squeeze_axis = None
    if len(shape) == 4 and 1 in tuple(shape[1:]):
        squeeze_axis = 1 + tuple(shape[1:]).index(1)
        shape = tuple(shape[:squeeze_axis]) + tuple(shape[squeeze_axis + 1:])
    if len(shape) != 3:
        raise K2PError(f"expected a rank-3 tensor (sequences, length, 4), found shape {tuple(shape)}", path=name)
    if channels_first is None:
        channels_first = stored_channels_first(shape)
    channels = shape[1] if channels_first else shape[2]
    if channels != 4:
        raise K2PError(f"sequences have shape {tuple(shape)}, expected (sequences, length, 4) or "
                       f"(sequences, 4, length): one-hot A C G T", path=name)
    check_numeric_dtype(dtype, "the sequences", path=name)
    count, length = shape[0], (shape[2] if channels_first else shape[1])
    check_sequence_length(length, "each sequence", path=name)
    if count == 0:
        raise K2PError("no sequences (the tensor's first axis is 0)", path=name)
    if length == 0:
        raise K2PError("sequences have length 0", path=name)
    return squeeze_axis, channels_first, int(count), int(length)


class TensorSequences(SequenceSource):
    """Sequences stored as one tensor: an HDF5 dataset, a ``.npy`` file or an array.

    Only the shape is checked when it is opened; values (no NaN, within [0, 1]) are
    checked batch by batch as they are read, so opening a huge file stays instant.
    """

    def __init__(self, path, shape, dtype, *, format, channels_first=None, dataset=None, array=None,
                 alphabet=ALPHABET):
        name = path if path is not None else "<array>"
        self._squeeze_axis, channels_first, count, length = sequence_layout(shape, dtype, channels_first, name)
        super().__init__(path, count, length, length)
        self.format = format
        self.channels_first = channels_first
        self.alphabet = alphabet
        self.dataset = dataset
        self._array = array
        self._dtype = np.dtype(dtype)

    @contextlib.contextmanager
    def _open(self):
        if self.format != "hdf5":
            yield self._array
            return
        # Opened per pass, not kept open: a source can be kept around (by a callback)
        # without holding the file, and each pass sees a consistent handle.
        check_answers(self.path, "hdf5", "the sequences file")  # walked once per process, when first opened
        try:
            h5file = h5py.File(self.path, "r")
        except OSError as err:
            raise K2PError(f"cannot open the HDF5 file ({err})", path=self.path) from None
        with h5file, hdf5_damage(self.path):
            yield h5file[self.dataset]

    def _batches(self, batch_size, indices):
        with self._open() as data:
            if indices is None:
                for start in range(0, self.count, batch_size):
                    stop = min(start + batch_size, self.count)
                    yield self._prepare(data[start:stop], np.arange(start, stop))
                return
            for start in range(0, len(indices), batch_size):
                chunk = indices[start:start + batch_size]
                low, high = int(chunk[0]), int(chunk[-1]) + 1
                if high - low <= _SPAN_FACTOR * len(chunk):
                    # One contiguous read is much faster than a point selection in HDF5.
                    block = np.asarray(data[low:high])[chunk - low]
                else:
                    block = np.asarray(data[chunk])
                yield self._prepare(block, chunk)

    def _prepare(self, block, positions):
        with np.errstate(over="ignore"):
            # A value past float32's range becomes inf, which the check below refuses in one line.
            batch = np.asarray(block, dtype=np.float32)
        if self._squeeze_axis is not None:
            batch = batch.squeeze(axis=self._squeeze_axis)
        if self.channels_first:
            batch = batch.transpose(0, 2, 1)
        if self.alphabet != ALPHABET:
            batch = batch[:, :, channels_to_acgt(self.alphabet)]
        batch = np.ascontiguousarray(batch)
        if self._dtype.kind != "b":
            bad = first_outside_unit_interval(batch)
            if bad is not None:
                raise K2PError(f"sequence {int(positions[bad[0]])} (counting from 0) holds {bad[1]!r}; "
                               f"expected one-hot values in [0, 1]", path=self.path or "<array>")
        return batch


def detect_format(path):
    """Return ``'hdf5'``, ``'npy'`` or ``'fasta'`` from the file's first bytes, not its name."""
    kind = file_kind(path, EXPECTED)
    if kind in ("hdf5", "npy"):
        return kind
    if kind == "gzip":
        return "fasta"
    if kind == "empty":
        raise K2PError("empty file (expected sequences: HDF5, .npy or FASTA)", path=path)
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return text_format(head, path)


def holds_sequences(path):
    """Whether a file reads as sequences: FASTA (plain or gzip) by its first bytes, HDF5 or
    ``.npy`` by a tensor shaped like one-hot sequences (a file given in the wrong place, say)."""
    if path == STDIN or stream_type(path) is not None:
        return False  # a stream is read once: by its reader, not by a guess
    try:
        return detect_format(path) == "fasta" or open_sequences(path).count > 0
    except K2PError:
        return False


def open_sequences(source, *, dataset=None, n_encoding="zero", channels_first=None, fits_length=None,
                   wanted="one-hot sequences (N, length, 4)", alphabet=ALPHABET, input_length=None):
    """Open one-hot sequences for streaming, without loading them.

    Parameters
    ----------
    source : str, os.PathLike or numpy.ndarray
        A file or an in-memory array. Files are recognised by content, not name. ``"-"``
        (standard input), a FIFO, a process substitution ``<(...)`` or a device is read once,
        as FASTA or FASTA.gz (copied to an unlinked temporary file for the later passes);
        HDF5 and ``.npy`` must be regular files:

        - HDF5: a tensor ``(N, length, 4)`` of floats, ints or bools (one-hot A C G T),
          or ``(N, 4, length)``, or a Conv2D model's ``(N, 4, 1, length)``,
          ``(N, 4, length, 1)`` or ``(N, 1, length, 4)`` (the axis of size 1 is dropped);
        - ``.npy``: the same tensor, memory-mapped;
        - FASTA, plain or gzip-compressed: letters A C G T (U is read as T), any case;
          N and the IUPAC ambiguity codes R Y S W K M B D H V (and '-') become
          "no base" rows (see ``n_encoding``). ``;`` comment lines and blank lines are
          skipped.
    dataset : str, optional
        For HDF5: the dataset to read. By default the one top-level dataset shaped like
        one-hot sequences (whose length passes ``fits_length``); when several or none are,
        the error lists them with their shapes.
    n_encoding : {'zero', 'quarter'}
        How FASTA's N and ambiguity codes are encoded: all-zero rows (they add
        nothing to a filter's output) or 0.25 in every channel.
    channels_first : bool, optional
        The stored tensor is ``(N, 4, length)`` (the layout of channels-first models and
        PyTorch); batches are transposed to ``(B, length, 4)``. By default the layout is
        read off the shape: the axis of size 4 holds the channels (``(N, 4, 4)`` counts
        as ``(N, length, 4)``).
    fits_length : callable, optional
        For choosing an HDF5 dataset: whether sequences of this length fit (e.g. a model's
        input length), preferred over sequence tensors of other lengths; ``wanted`` says
        so in words for the error message.
    alphabet : str
        The order of the channels of stored tensors and arrays (checked by the caller,
        :func:`k2p_keras.validate.check_alphabet`), e.g. ``"ATCG"``; their batches come out
        in A C G T order. FASTA is read in A C G T order whatever it is.
    input_length : int, optional
        The model's fixed input length: a FASTA record longer than
        :data:`~k2p_keras.validate.MAX_LENGTH_FACTOR` times it is refused as it is read.

    Returns
    -------
    SequenceSource
        With ``.count``, ``.length`` (``None`` when lengths differ), ``.min_length``
        and ``.iter_batches(batch_size, indices=None)``.

    Raises
    ------
    K2PError
        For a missing, empty or unrecognised file, a tensor that is not
        ``(N, length, 4)``, a letter that is not a nucleotide (naming the record and
        position), or no sequences at all.
    """
    if n_encoding not in N_ENCODINGS:
        raise ValueError(f"n_encoding must be one of {', '.join(N_ENCODINGS)}, not {n_encoding!r}")
    if isinstance(source, SequenceSource):
        return source
    if not isinstance(source, (str, os.PathLike)):
        if dataset is not None:
            raise K2PError(f"a dataset name ({dataset!r}) was given but the sequences are an array, "
                           f"not an HDF5 file", path="<array>")
        array = np.asarray(source)
        return TensorSequences(None, array.shape, array.dtype, format="array",
                               channels_first=channels_first, array=array, alphabet=alphabet)
    path = os.fspath(source)
    if path == STDIN or stream_type(path) is not None:
        return open_stream(path, dataset=dataset, n_encoding=n_encoding, channels_first=channels_first,
                            input_length=input_length)
    kind = detect_format(path)
    if dataset is not None and kind != "hdf5":
        raise K2PError(f"a dataset name ({dataset!r}) was given but the file is {kind}, not HDF5",
                       path=path)
    if kind == "fasta":
        if channels_first:
            raise K2PError("channels_first applies to stored tensors (HDF5, .npy), not FASTA", path=path)
        return FastaSequences(path, n_encoding=n_encoding, input_length=input_length)
    if kind == "npy":
        try:
            with np.errstate(over="ignore"):  # a forged shape's size overflows; mmap then refuses it
                array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError, OverflowError, SyntaxError, tokenize.TokenError) as err:
            # A forged header: numpy parses it as a Python literal, mmap takes its shape as given.
            raise K2PError(f"not a readable .npy file ({type(err).__name__}: {err})", path=path) from None
        return TensorSequences(path, array.shape, array.dtype, format="npy",
                               channels_first=channels_first, array=array, alphabet=alphabet)
    check_answers(path, "hdf5", "the sequences file")
    try:
        h5file = h5py.File(path, "r")
    except OSError as err:
        raise K2PError(f"not a readable HDF5 file ({err})", path=path) from None
    with h5file, hdf5_damage(path):
        def length(data):
            try:
                return sequence_layout(data.shape, data.dtype, channels_first)[3]
            except K2PError:
                return None

        fits = (lambda d: length(d) is not None and (fits_length is None or fits_length(length(d))),
                lambda d: length(d) is not None)
        data = resolve_dataset(h5file, dataset, path, fits=fits, wanted=wanted)
        return TensorSequences(path, data.shape, data.dtype, format="hdf5",
                               channels_first=channels_first, dataset=data.name, alphabet=alphabet)


def open_sequences_for(spec, sequences, *, dataset=None, n_encoding="zero"):
    """Open the sequences a Conv1D will scan, checking that they fit the layer.

    Parameters
    ----------
    spec : ConvSpec
    sequences : path, numpy.ndarray or SequenceSource
        See :func:`k2p_keras.io.sequences.open_sequences`.
    dataset, n_encoding
        As for :func:`k2p_keras.io.sequences.open_sequences`.

    Returns
    -------
    SequenceSource
        Sequences shorter than an unpadded kernel are refused; a length other than the
        model's fixed input length gets a warning. Stored tensors are taken in the
        layer's channel order (``spec.alphabet``).
    """
    # The reader gives canonical (B, length, 4) batches whatever the layout stored (it
    # recognises (N, 4, length) by its shape); the scan works in that layout for every model.
    n_rows = spec.kernel.shape[0]
    if spec.input_length:
        fits_length, wanted = (lambda n: n == spec.input_length), f"the model's input (N, {spec.input_length}, 4)"
    else:
        fits_length = (lambda n: n >= n_rows) if spec.padding == "valid" else None
        wanted = f"layer {spec.layer_name!r}: one-hot (N, length, 4)" + (f", length >= {n_rows}" if fits_length else "")
    source = open_sequences(sequences, dataset=dataset, n_encoding=n_encoding, fits_length=fits_length,
                            wanted=wanted, alphabet=spec.alphabet, input_length=spec.input_length)
    path = getattr(source, "path", None)
    if spec.padding == "valid" and source.min_length < spec.kernel.shape[0]:
        raise K2PError(f"sequences of length {source.min_length} are shorter than the kernel of "
                       f"{spec.layer_name!r} ({spec.kernel.shape[0]}): give sequences of at least "
                       f"{spec.kernel.shape[0]} bp", path=path)
    check_sequence_length(source.max_length, "the longest sequence", spec.input_length, path=path)
    if spec.input_length and source.length != spec.input_length:
        # Mixed lengths (FASTA) are scanned as they are, like any other length: one warning says so.
        where = f"{path}: " if path else ""
        lengths = (f"length {source.length}" if source.length is not None
                   else f"lengths from {source.min_length} to {source.max_length}")
        warnings.warn(f"{where}sequences have {lengths}, the model's input {spec.input_length}: each is scanned "
                      "whole, over its own windows")
    return source


def as_batch(x, alphabet=ALPHABET):
    """One batch from an iterable or a dataset as canonical float32 ``(B, length, 4)``.

    A single sequence ``(length, 4)`` becomes a batch of one; ``(B, 4, length)`` (a
    channels-first layout) is transposed, by the sequence reader's rule; channels in the
    order ``alphabet`` are put in A C G T order.
    """
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
    if alphabet != ALPHABET:
        x = x[:, :, channels_to_acgt(alphabet)]
    return np.ascontiguousarray(x)


def iterable_batches(sequences, alphabet=ALPHABET):
    """``(batches_of_size, count, label)`` for a tf.data.Dataset, a callable or an iterable of batches
    (channels in the order ``alphabet``, put in A C G T order)."""
    if hasattr(sequences, "element_spec"):  # a tf.data.Dataset, without importing TensorFlow
        dataset = sequences
        spec = dataset.element_spec
        first = spec[0] if isinstance(spec, (tuple, list)) else spec
        if getattr(first, "shape", None) is not None and first.shape.rank == 2:
            # Single sequences: scan them in batches.
            return (lambda size: (as_batch(e, alphabet) for e in dataset.batch(size))), None, "<tf.data.Dataset>"
        return (lambda size: (as_batch(e, alphabet) for e in dataset)), None, "<tf.data.Dataset>"
    if callable(sequences):
        return (lambda size: (as_batch(b, alphabet) for b in sequences())), None, "<batches>"
    if isinstance(sequences, (list, tuple)):
        return (lambda size: (as_batch(b, alphabet) for b in sequences)), None, "<batches>"
    if iter(sequences) is sequences:  # a generator or an iterator: one pass only
        state = {"used": False}

        def once(size):
            if state["used"]:
                raise K2PError("the sequences were given as an iterator, which can be read once; this "
                               "extraction needs a second pass: give a list, an array, a file or a "
                               "callable returning fresh batches")
            state["used"] = True
            return (as_batch(b, alphabet) for b in sequences)

        return once, None, "<batches>"
    raise K2PError(f"expected sequences as a file, an array, a tf.data.Dataset or batches, "
                   f"got {type(sequences).__name__}")


def dataset_to_array(dataset, max_sequences):
    """The first ``max_sequences`` one-hot sequences of a ``tf.data.Dataset``, as one float32 array.

    Elements are read as :func:`as_batch` reads a batch: one-hot batches ``(B, length, 4)``,
    single sequences ``(length, 4)`` or tuples whose first item is one of those.
    """
    if max_sequences is None and int(dataset.cardinality()) == -1:  # tf.data.INFINITE_CARDINALITY
        raise K2PError("the dataset repeats forever; give max_sequences to take that many from it")
    parts, total = [], 0
    for element in dataset:
        x = as_batch(element)
        if parts and x.shape[1:] != parts[0].shape[1:]:
            raise K2PError(f"dataset sequences differ in shape ({parts[0].shape[1:]} and {x.shape[1:]}); "
                           "one length is needed")
        if max_sequences is not None:
            x = x[:max_sequences - total]
        parts.append(x)
        total += x.shape[0]
        if max_sequences is not None and total >= max_sequences:
            break
    if total == 0:
        raise K2PError("the dataset yielded no sequences")
    return np.concatenate(parts)


@dataclass(frozen=True)
class OpenedSequences:
    """Sequences opened for a scan, whatever they were given as (:func:`open_batches_for`).

    Attributes
    ----------
    batches_of_size : callable
        ``batches_of_size(batch_size)`` returns a fresh iterable of canonical batches ``(B, length, 4)``.
    count : int or None
        Sequences per pass (None when the input does not say, e.g. a generator).
    label : str
        Their description: the file, ``"<array>"``, ``"<batches>"``, ``"<tf.data.Dataset>"``.
    max_length : int or None
        The longest sequence's length, when known.
    note : str or None
        A line for people on how a FASTA file's N and IUPAC codes were encoded (None otherwise).
    source : SequenceSource or None
        The file or array opened (None for batches or a dataset given as they are): the labels
        are read from it, not from the path again (a FASTA file counted once, a stream's spooled copy).
    """

    batches_of_size: Callable[[int], Iterable[np.ndarray]]
    count: Optional[int]
    label: str
    max_length: Optional[int]
    note: Optional[str] = None
    source: Optional[SequenceSource] = None

    @property
    def min_length(self):
        """The shortest sequence's length when the sequences say, else None (batches of any length,
        checked as they come)."""
        return getattr(self.source, "min_length", None)


def open_batches_for(spec, sequences, *, dataset=None, n_encoding="zero"):
    """Open the sequences a Conv1D will scan, whatever they are given as.

    Files and arrays through :func:`open_sequences_for` (checked against the layer); a
    ``tf.data.Dataset``, a callable or an iterable of batches as they are (:func:`iterable_batches`).

    Returns
    -------
    OpenedSequences
    """
    if hasattr(sequences, "numpy") and not hasattr(sequences, "element_spec"):
        sequences = sequences.numpy()  # a tf.Tensor
    if isinstance(sequences, (str, os.PathLike, np.ndarray, SequenceSource)):
        source = open_sequences_for(spec, sequences, dataset=dataset, n_encoding=n_encoding)
        note = source.encoding_note() if isinstance(source, FastaSequences) else None
        return OpenedSequences(source.iter_batches, source.count, source.path or "<array>", source.max_length,
                               note, source)
    if dataset is not None:
        raise OptionError("names an HDF5 dataset, but the sequences are not a file", "dataset")
    batches_of_size, count, label = iterable_batches(sequences, spec.alphabet)
    return OpenedSequences(batches_of_size, count, label, spec.input_length)
