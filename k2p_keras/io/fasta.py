"""FASTA and FASTA.gz, from a file or a stream, one-hot encoded on the fly.

A first pass counts the records, measures them and checks every letter; the scan's passes
read the file again. A stream (``-``, a FIFO, ``<(...)``, a device) is read once: the first
pass copies what it reads into an unlinked temporary file, which the later passes read.
Lines are read up to a bound (:func:`k2p_keras.validate.line_limit`), records refused as
they grow past :func:`k2p_keras.validate.record_limit`: memory stays bounded on any input.
"""
import contextlib
import gzip
import io
import os
import sys
import tempfile
import zlib

import numpy as np

from ..errors import K2PError
from ..validate import check_sequence_length, line_limit, record_limit
from .formats import file_kind, head_kind, stream_type
from .source import SequenceSource

_WHITESPACE = b" \t\r\n\v\f"

#: How N and the other IUPAC codes in FASTA become rows: all-zero rows, or 0.25 in every letter.
N_ENCODINGS = ("zero", "quarter")
_BASES = {"A": 0, "C": 1, "G": 2, "T": 3, "U": 3}

# IUPAC ambiguity codes (and N, and '-' for a gap): no single base, encoded like N.
_AMBIGUOUS = "RYSWKMBDHVN-"

_VALID = bytes(sorted(set((("".join(_BASES) + _AMBIGUOUS).upper()
                           + ("".join(_BASES) + _AMBIGUOUS).lower()).encode())))
_UNAMBIGUOUS = ("".join(_BASES).upper() + "".join(_BASES).lower()).encode()

#: How each encoding writes an N or IUPAC position, in words.
N_ENCODING_ROWS = {"zero": "all-zero rows", "quarter": "0.25 rows"}

#: What a sequence file may be, for the messages.
EXPECTED = "a sequence file (HDF5, .npy or FASTA)"

# Bytes per read from a file, a pipe or a stream's spooled copy.
_READ_CHUNK = 1 << 16

#: What SEQS given as "-" means: standard input.
STDIN = "-"

#: Why sequences in HDF5 or .npy cannot come through a pipe.
SEEKING = "HDF5 and .npy are read by seeking in them, which a pipe or a device cannot do; save it to a file"


class _Tee(io.RawIOBase):
    """A stream's bytes, ``head`` (already read, to tell the format) first, each also written to ``copy``."""

    def __init__(self, head, stream, copy):
        super().__init__()
        self._head, self._stream, self._copy = memoryview(head), stream, copy
        copy.write(head)

    def readable(self):
        return True

    def readinto(self, buffer):
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read1(len(buffer)) if hasattr(self._stream, "read1") else self._stream.read(len(buffer))
        self._copy.write(data)
        buffer[:len(data)] = data
        return len(data)


class _PositionalReader(io.RawIOBase):
    """Reads an open file descriptor from the start with its own position (``os.pread``): any
    number of passes, even interleaved, over one unlinked temporary file. Never closes ``fd``."""

    def __init__(self, fd):
        super().__init__()
        self._fd, self._position = fd, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if hasattr(os, "pread"):
            data = os.pread(self._fd, len(buffer), self._position)
        else:  # Windows: seek and read in one call, which no other pass interrupts
            os.lseek(self._fd, self._position, os.SEEK_SET)
            data = os.read(self._fd, len(buffer))
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)


def _one_hot_table(n_encoding):
    """Map every byte to its row: one-hot for A C G T/U, zeros or 0.25 for N and IUPAC codes."""
    table = np.zeros((256, 4), dtype=np.float32)
    fill = 0.25 if n_encoding == "quarter" else 0.0
    for letter in _AMBIGUOUS:
        table[ord(letter.upper())] = table[ord(letter.lower())] = fill
    for letter, column in _BASES.items():
        table[ord(letter)] = table[ord(letter.lower())] = np.eye(4, dtype=np.float32)[column]
    return table


class FastaSequences(SequenceSource):
    """Sequences in a FASTA file (plain or gzip-compressed), one-hot encoded on the fly.

    A first pass counts the records, measures their lengths and checks every letter,
    so a bad file fails when it is opened rather than halfway through a scan.
    """

    format = "fasta"

    def __init__(self, path, *, n_encoding="zero", input_length=None, stream=None):
        self.path = path  # the counting pass below reports errors with it
        self.n_encoding = n_encoding
        self._table = _one_hot_table(n_encoding)
        #: The longest record read (bases), the model's input length counted (validate.record_limit).
        self.record_limit = record_limit(input_length)[0]
        self._input_length = input_length
        self._spool = None
        if stream is None:
            self.gzipped = file_kind(path, EXPECTED) == "gzip"
            first_pass = None
        else:
            # A pipe is read once: the counting pass copies what it reads into a temporary file,
            # unlinked from the start (gone with the process, however it ends), and every later
            # pass reads that copy. It is kept as it came (gzip stays compressed).
            head, rest = stream
            self.gzipped = head_kind(head) == "gzip"
            self._spool = tempfile.TemporaryFile(prefix="k2p-keras-stream-")
            first_pass = io.BufferedReader(_Tee(head, rest, self._spool), buffer_size=_READ_CHUNK)
        count, shortest, longest = 0, None, 0
        #: N and IUPAC positions, and the records holding any (:meth:`encoding_note`).
        self.n_ambiguous = self.n_ambiguous_records = 0
        for _, _, length, ambiguous in self._records(keep_sequence=False, handle=first_pass):
            count += 1
            shortest = length if shortest is None else min(shortest, length)
            longest = max(longest, length)
            self.n_ambiguous += ambiguous
            self.n_ambiguous_records += ambiguous > 0
        if count == 0:
            raise K2PError("no sequences found (expected FASTA records starting with '>')", path=path)
        if self._spool is not None:
            self._spool.flush()
        super().__init__(path, count, shortest, longest)

    def encoding_note(self):
        """One line on the N and IUPAC positions and how they were encoded, or None when there are none."""
        if not self.n_ambiguous:
            return None
        return (f"{self.path}: {self.n_ambiguous:,} N/IUPAC positions in {self.n_ambiguous_records:,} of "
                f"{self.count:,} sequences, encoded as {N_ENCODING_ROWS[self.n_encoding]} "
                f"(--n-encoding {self.n_encoding}; use the model's training encoding)")

    def record_names(self):
        """The records' names (each header's first word), in order."""
        return [name for name, _, _, _ in self._records(keep_sequence=False)]

    def record_headers(self):
        """The records' header lines, without their '>', in order."""
        return [line[1:].decode("utf-8", "replace").strip() for _, line in self._lines() if line.startswith(b">")]

    def _raw(self):
        """The file's bytes, from the start: the file itself, or the spooled copy of a stream."""
        if self._spool is None:
            return open(self.path, "rb")
        return io.BufferedReader(_PositionalReader(self._spool.fileno()), buffer_size=_READ_CHUNK)

    def _lines(self, handle=None):
        """Yield ``(line number, bytes)``, turning gzip damage into a K2PError.

        A line is read up to :func:`line_limit` bytes, never further: a file without line ends
        (``/dev/zero``, a binary file) fails after that many bytes instead of filling memory.
        """
        limit = line_limit(self.record_limit)
        try:
            with (handle if handle is not None else self._raw()) as raw:
                with (gzip.GzipFile(fileobj=raw, mode="rb") if self.gzipped else contextlib.nullcontext(raw)) as text:
                    lineno = 0
                    for line in iter(lambda: text.readline(limit + 1), b""):
                        lineno += 1
                        if len(line) > limit:
                            raise K2PError(f"line {lineno} is longer than {limit:,} bytes, the longest line a "
                                           f"record of {self.record_limit:,} bases needs; is this FASTA?",
                                           path=self.path)
                        yield lineno, line
        except (OSError, EOFError, zlib.error) as err:
            what = "damaged gzip file" if self.gzipped else "cannot read the file"
            raise K2PError(f"{what} ({err})", path=self.path) from None

    def _records(self, keep_sequence, handle=None):
        """Yield ``(record name, header line number, sequence bytes or length, N/IUPAC positions)``.

        With ``keep_sequence=False`` only lengths (and N/IUPAC positions) are kept, so the
        counting pass holds no sequence at all, not even one long chromosome; the N/IUPAC
        positions are counted in that pass only (0 otherwise).
        """
        name, header_line, parts, length, ambiguous = None, None, [], 0, 0
        for lineno, line in self._lines(handle):
            if line.startswith(b">"):
                if name is not None:
                    yield self._finish(name, header_line, parts, length, keep_sequence) + (ambiguous,)
                words = line[1:].decode("utf-8", "replace").split()
                name, header_line, parts, length = (words[0] if words else f"line {lineno}"), lineno, [], 0
                ambiguous = 0
                continue
            if line.startswith(b";"):
                continue
            letters = line.translate(None, _WHITESPACE)
            if not letters:
                continue
            if name is None:
                shown = line[:40].decode("utf-8", "replace").strip()
                raise K2PError(f"line {lineno}: expected a FASTA header starting with '>', found {shown!r}",
                               path=self.path)
            if letters.translate(None, _VALID):
                position = next(i for i, c in enumerate(letters) if c not in _VALID)
                raise K2PError(f"record {name!r} (line {lineno}), position {length + position + 1}: "
                               f"{chr(letters[position])!r} is not a nucleotide letter (expected "
                               f"A C G T U, or N and IUPAC codes)", path=self.path)
            length += len(letters)
            # Refused as it grows: one huge record is never held, nor counted to its end.
            check_sequence_length(length, f"record {name!r} (line {header_line})", self._input_length, path=self.path)
            if keep_sequence:
                parts.append(letters)
            else:
                ambiguous += len(letters.translate(None, _UNAMBIGUOUS))
        if name is not None:
            yield self._finish(name, header_line, parts, length, keep_sequence) + (ambiguous,)

    def _finish(self, name, header_line, parts, length, keep_sequence):
        if length == 0:
            raise K2PError(f"record {name!r} (line {header_line}) has no sequence", path=self.path)
        return name, header_line, (b"".join(parts) if keep_sequence else length)

    def _batches(self, batch_size, indices):
        wanted = None if indices is None else iter(indices.tolist())
        target = None if wanted is None else next(wanted, None)
        if wanted is not None and target is None:
            return
        batch, batch_length = [], None
        for index, (_, _, sequence, _) in enumerate(self._records(keep_sequence=True)):
            if wanted is not None:
                if index != target:
                    continue
                target = next(wanted, None)
            # Correctness over speed: a batch holds sequences of one length only.
            if batch and (len(sequence) != batch_length or len(batch) == batch_size):
                yield self._encode(batch, batch_length)
                batch = []
            batch_length = len(sequence)
            batch.append(sequence)
            if wanted is not None and target is None:
                break
        if batch:
            yield self._encode(batch, batch_length)

    def _encode(self, sequences, length):
        # One table lookup for the whole batch is far faster than one per record.
        codes = np.frombuffer(b"".join(sequences), dtype=np.uint8)
        return self._table[codes].reshape(len(sequences), length, 4)


def text_format(head, path):
    """``'fasta'`` when a text file's first 4 kB start like FASTA (or bare letters), else a K2PError."""
    text = head.lstrip()
    if not text:
        raise K2PError("empty file (expected sequences: HDF5, .npy or FASTA)", path=path)
    first_line = text.splitlines()[0].translate(None, _WHITESPACE)
    if text.startswith((b">", b";")) or not first_line.translate(None, _VALID):
        # Bare sequence letters: FASTA that lost its header; the reader says which line.
        return "fasta"
    shown = text.splitlines()[0][:40].decode("utf-8", "replace")
    raise K2PError(f"not a sequence file: expected HDF5, .npy or FASTA ('>' headers), "
                   f"found {shown!r}", path=path)


def open_stream(path, *, dataset, n_encoding, channels_first, input_length):
    """FASTA (plain or gzip, told by its first bytes) from standard input (``"-"``), a FIFO, a
    process substitution ``<(...)`` or a device, read once (:class:`FastaSequences` spools it);
    HDF5 and ``.npy``, which are read by seeking, refused in one line."""
    name = "<stdin>" if path == STDIN else path
    what = "standard input" if path == STDIN else stream_type(path)
    try:
        stream = sys.stdin.buffer if path == STDIN else open(path, "rb")
    except OSError as err:
        raise K2PError(f"cannot read the file ({err.strerror})", path=name) from None
    try:
        return _read_stream(stream, name, what, dataset=dataset, n_encoding=n_encoding,
                            channels_first=channels_first, input_length=input_length)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()  # read to its end (or to the error): the spooled copy serves the later passes


def _read_stream(stream, name, what, *, dataset, n_encoding, channels_first, input_length):
    try:
        head = stream.read(4096)
    except OSError as err:
        raise K2PError(f"cannot read the file ({err.strerror})", path=name) from None
    kind = head_kind(head)
    if kind in ("hdf5", "npy"):
        raise K2PError(f"sequences in {'HDF5' if kind == 'hdf5' else '.npy'} must be a regular file, not {what}: "
                       f"{SEEKING}", path=name)
    if kind == "empty":
        raise K2PError("empty input (expected sequences: FASTA)", path=name)
    if kind == "text":
        text_format(head, name)
    elif kind != "gzip":
        raise K2PError(f"not a sequence file: expected FASTA or FASTA.gz through {what}, found a {kind} "
                       f"file", path=name)
    if dataset is not None:
        raise K2PError(f"a dataset name ({dataset!r}) was given but the input is FASTA, not HDF5", path=name)
    if channels_first:
        raise K2PError("channels_first applies to stored tensors (HDF5, .npy), not FASTA", path=name)
    return FastaSequences(name, n_encoding=n_encoding, input_length=input_length, stream=(head, stream))
