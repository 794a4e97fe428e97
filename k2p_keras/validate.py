"""Checks at the public entry points: each says what it expected and what it got.

After these checks the numeric code trusts its inputs (as scikit-learn's ``check_array``
and logomaker's ``validate.py`` do). Every check raises :class:`~k2p_keras.errors.K2PError`
with an "expected X, got Y" message and returns the value in the form the code uses
(float64 arrays, a float, an int).

The probability bounds live here too, the one rule for what counts as a PWM row, used by
``transform.check_pwm`` and by the MEME reader.
"""
import math
import re
import warnings

import numpy as np

from .errors import K2PError

# Probabilities as files round them: entries may stray RANGE_TOLERANCE outside [0, 1] (and
# are clipped); rows summing up to SUM_WARN away from 1 pass quietly, up to SUM_REFUSE with a
# warning, further are refused.
RANGE_TOLERANCE = 1e-6
SUM_WARN = 1e-4
SUM_REFUSE = 0.1
_LETTERS = "ACGT"

# What a file may declare. Each bound is far above any genomics CNN and far below
# what would exhaust memory or time before the user hears of it; past it we refuse.
# - A motif conv spans at most MAX_KERNEL_LENGTH positions, dilation included
#   ((k - 1) * dilation + 1), and never more than the model's input when it states one.
MAX_KERNEL_LENGTH = 10_000
# - One sequence holds at most MAX_SEQUENCE_LENGTH bases (a one-hot batch of it is 160 MB
#   as float32), and at most MAX_LENGTH_FACTOR times the model's stated input length.
MAX_SEQUENCE_LENGTH = 10_000_000
MAX_LENGTH_FACTOR = 100
# - A FASTA line is read up to the longest record allowed plus LINE_SLACK bytes (line ends,
#   spaces, a header's description), never further: a file without line ends fails there.
LINE_SLACK = 4096
# - A whole text input (MEME, kernel matrices, summaries) is read up to MAX_TEXT_BYTES: every
#   JASPAR collection together is a few MB.
MAX_TEXT_BYTES = 256 * 1024 ** 2
# - JSON (model configs) nests at most MAX_JSON_DEPTH brackets deep: Keras configs of nested
#   models reach about 20, and Python's json recursion fails near 1,000.
MAX_JSON_DEPTH = 100
# - A dataset or zip member declaring more than COMPRESSION_FLOOR_BYTES must store its
#   bytes: all of them when uncompressed, a MAX_COMPRESSION_RATIO-th when compressed.
MAX_COMPRESSION_RATIO = 200
COMPRESSION_FLOOR_BYTES = 16 * 1024 ** 2
# - Arrays read from files hold numbers: bool, int, unsigned or float (not complex, text,
#   dates, objects or compound records).
NUMERIC_KINDS = "biuf"


def _shape_text(value):
    shape = np.shape(value)
    return f"shape {shape}" if shape else f"{value!r}"


def check_base(base, what="base"):
    """Return ``base`` as a float after checking ``1 < base < inf``; ``"e"`` is Euler's number."""
    if isinstance(base, str) and base.strip().lower() == "e":
        return math.e
    try:
        value = float(base)
    except (TypeError, ValueError):
        raise K2PError(f"{what}: expected a number greater than 1, got {base!r}") from None
    if not math.isfinite(value) or value <= 1.0:
        raise K2PError(f"{what}: expected a finite number greater than 1, got {base!r}")
    return value


def check_alphabet(alphabet, what="alphabet"):
    """Return ``alphabet`` upper-cased after checking it orders the four letters A, C, G, T once each.

    It is the order of a model's one-hot channels (``"ATCG"``: channel 1 holds T).
    """
    text = alphabet.upper() if isinstance(alphabet, str) else None
    if text is None or len(text) != 4 or sorted(text) != sorted(_LETTERS):
        raise K2PError(f"{what}: expected the order of the model's one-hot channels, the four letters "
                       f"A, C, G, T once each (e.g. ACGT, ATCG), got {alphabet!r}")
    return text


def check_positive_int(value, what):
    """Return ``value`` as an int after checking that it is a whole number >= 1."""
    try:
        number = int(value)
        whole = number == value
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or isinstance(value, bool) or number < 1:
        raise K2PError(f"{what}: expected a whole number >= 1, got {value!r}")
    return number


def check_batch_size(value, what="batch_size"):
    """``"auto"``, or a whole number >= 1 (a command line's digits too) as an int."""
    if value == "auto":
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    try:
        return check_positive_int(value, what)
    except K2PError:
        raise K2PError(f"{what}: expected 'auto' or a whole number >= 1, got {value!r}") from None


def check_positive_number(value, what):
    """Return ``value`` as a float after checking that it is a Python number > 0 (inf allowed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise K2PError(f"{what}: expected a number > 0, got {value!r}")
    return float(value)


def check_fraction(value, what="fraction", *, include_zero=False, include_one=True):
    """Return ``value`` as a float in (0, 1] (the bounds' inclusion is configurable)."""
    low, high = "[" if include_zero else "(", "]" if include_one else ")"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise K2PError(f"{what}: expected a number in {low}0, 1{high}, got {value!r}") from None
    above = number >= 0.0 if include_zero else number > 0.0
    below = number <= 1.0 if include_one else number < 1.0
    if not (above and below):
        raise K2PError(f"{what}: expected a number in {low}0, 1{high}, got {value!r}")
    return number


def check_kernel(kernel, what="kernel", *, single=True, float32=False):
    """A Keras kernel ``(L, 4, F)`` (or one filter ``(L, 4)`` when ``single``), finite, as float64.

    ``float32``: also every filter's largest output within float32's range, for a float32
    convolution (the scan's, the model's own).
    """
    expected = "(L, 4) or (L, 4, F)" if single else "(L, 4, F)"
    try:
        array = np.asarray(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise K2PError(f"{what}: expected numbers of shape {expected}, got {type(kernel).__name__}") from None
    if array.ndim not in ((2, 3) if single else (3,)) or array.shape[1] != 4:
        raise K2PError(f"{what}: expected shape {expected} (positions x A C G T x filters), "
                       f"got {_shape_text(array)}")
    if array.shape[0] == 0 or (array.ndim == 3 and array.shape[2] == 0):
        raise K2PError(f"{what}: expected at least one position and one filter, got {_shape_text(array)}")
    if not np.all(np.isfinite(array)):
        raise K2PError(f"{what}: expected finite numbers, got NaN or infinity")
    # The largest |conv| a filter can reach: its rows' largest entries added up.
    reach = float(np.abs(array).max(axis=1).sum(axis=0).max()) if float32 else 0.0
    if not reach < float(np.finfo(np.float32).max):
        raise K2PError(f"{what}: expected a filter output within float32's range (convolutions compute in "
                       f"float32), got a filter reaching {reach:.3g}")
    return array


def check_bias(bias, n_filters, what="bias"):
    """One finite bias per filter as float64 ``(F,)``; ``None`` means no bias (zeros)."""
    if bias is None:
        return np.zeros(n_filters)
    array = np.asarray(bias, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n_filters, float(array))
    if array.shape != (n_filters,):
        raise K2PError(f"{what}: expected one value per filter, shape ({n_filters},), got {_shape_text(array)}")
    if not np.all(np.isfinite(array)):
        raise K2PError(f"{what}: expected finite numbers, got NaN or infinity")
    return array


def check_one_hot_batch(batch, what="sequence batch", values=True):
    """A batch of one-hot sequences ``(B, length, 4)`` with values in [0, 1], as float32.

    N rows may be all-zero or 0.25 in every channel; values are not required to be 0 or 1.
    ``values=False`` checks the shape only (the scan's compiled route checks each row itself,
    and leaves the batches with other rows to :func:`check_one_hot_values`).
    """
    array = np.asarray(batch, dtype=np.float32)
    if array.ndim != 3 or array.shape[2] != 4:
        raise K2PError(f"{what}: expected shape (B, length, 4), one-hot A C G T, got {_shape_text(array)}")
    return check_one_hot_values(array, what) if values else array


def check_one_hot_values(array, what="sequence batch"):
    """``array`` if its values lie in [0, 1] (no NaN); raises K2PError naming the first other value."""
    bad = first_outside_unit_interval(array)
    if bad is not None:
        raise K2PError(f"{what}: expected one-hot values in [0, 1], got {bad[1]!r}")
    return array


def first_outside_unit_interval(array):
    """``(index along axis 0, value)`` of the first value of ``array`` that is NaN or outside
    [0, 1], or None. Two reductions without temporaries: NaN propagates through min and max."""
    if array.size == 0 or (array.min() >= 0 and array.max() <= 1):
        return None
    bad = np.isnan(array) | (array < 0) | (array > 1)
    row = int(np.argwhere(bad.reshape(len(array), -1).any(axis=1))[0, 0])
    return row, float(array[row][bad[row]][0])


def check_pwm(pwm, what="PWM", *, tolerance=SUM_WARN, row_name=None, path=None):
    """Validate a PWM ``(L, 4)`` and return it as float64 with rounding noise clipped.

    Parameters
    ----------
    pwm : array_like, shape (L, 4)
        Probabilities, columns A C G T.
    what : str
        Names the matrix in messages.
    tolerance : float
        Rows summing further than this from 1 give a warning (up to ``SUM_REFUSE``, beyond
        which they are refused: they cannot be probabilities).
    row_name : callable, optional
        ``row_name(i)`` names row ``i`` (0-based) in messages, e.g. with its line in a file;
        by default ``"{what} row {i + 1}"``.
    path : str, optional
        The file, for the error.

    Returns
    -------
    numpy.ndarray, shape (L, 4)
        Entries clipped to [0, 1].
    """
    name = row_name or (lambda i: f"{what} row {i + 1}")
    array = np.asarray(pwm, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4 or array.shape[0] == 0:
        raise K2PError(f"{what}: expected shape (L, 4) with L >= 1 (columns A C G T), got "
                       f"{_shape_text(array)}", path=path)
    if not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise K2PError(f"{name(row)}: expected probabilities, got NaN or infinity", path=path)
    outside = (array < -RANGE_TOLERANCE) | (array > 1 + RANGE_TOLERANCE)
    if np.any(outside):
        row, col = (int(i) for i in np.argwhere(outside)[0])
        raise K2PError(f"{name(row)}: expected probabilities in [0, 1], got {_LETTERS[col]} = "
                       f"{array[row, col]!r} (outside [0, 1])", path=path)
    array = np.clip(array, 0.0, 1.0)
    off = np.abs(array.sum(axis=1) - 1.0)
    worst = int(np.argmax(off))
    total = array[worst].sum()
    if off[worst] > SUM_REFUSE:
        raise K2PError(f"{name(worst)}: expected probabilities summing to 1, got a row that sums to "
                       f"{total:.6g}", path=path)
    if off[worst] > tolerance:
        where = f"{path}: " if path else ""
        warnings.warn(f"{where}{name(worst)} sums to {total:.6g}, not 1; used as it is", stacklevel=3)
    return array


def check_numeric_dtype(dtype, what, path=None):
    """Refuse a stored dtype that is not real numbers (:data:`NUMERIC_KINDS`)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in NUMERIC_KINDS:
        kind = "complex numbers" if dtype.kind == "c" else str(dtype)
        raise K2PError(f"{what} holds {kind}, expected numbers (float, int or bool)", path=path)


def check_kernel_length(kernel_size, dilation, input_length=None, what="Conv1D", path=None):
    """Refuse a conv whose kernel, dilation included, spans more than :data:`MAX_KERNEL_LENGTH`
    positions or more than the model's input length (when known). Plain ints: nothing is allocated."""
    span = (int(kernel_size) - 1) * int(dilation) + 1
    limit, reason = MAX_KERNEL_LENGTH, f"the limit {MAX_KERNEL_LENGTH}"
    if input_length and input_length < limit:
        limit, reason = int(input_length), f"the model's input length {input_length}"
    if span > limit:
        raise K2PError(f"{what} spans {span:,} positions (kernel {kernel_size}, dilation {dilation}), more than "
                       f"{reason}", path=path)
    return span


def record_limit(input_length=None):
    """``(bases, reason)``: the most bases one sequence may hold, :data:`MAX_SEQUENCE_LENGTH` or
    :data:`MAX_LENGTH_FACTOR` times the model's input length (when known), whichever is smaller."""
    if input_length and MAX_LENGTH_FACTOR * input_length < MAX_SEQUENCE_LENGTH:
        return MAX_LENGTH_FACTOR * int(input_length), f"{MAX_LENGTH_FACTOR} x the model's input length {input_length}"
    return MAX_SEQUENCE_LENGTH, f"the limit {MAX_SEQUENCE_LENGTH:,}"


def line_limit(bases):
    """The longest FASTA line read for records of at most ``bases`` bases: :data:`LINE_SLACK` more."""
    return int(bases) + LINE_SLACK


def check_sequence_length(length, what="a sequence", input_length=None, path=None):
    """Refuse a sequence longer than :data:`MAX_SEQUENCE_LENGTH` bases or than
    :data:`MAX_LENGTH_FACTOR` times the model's input length (when known)."""
    limit, reason = record_limit(input_length)
    if length > limit:
        raise K2PError(f"{what} has {length:,} bases, more than {reason}; training sequences are "
                       f"expected, not chromosomes", path=path)


def check_declared_size(declared, stored, compressed, what, path=None, bomb="decompression bomb"):
    """Refuse data declaring far more bytes than the file stores for it (unwritten, or a ``bomb``)."""
    if declared <= COMPRESSION_FLOOR_BYTES:
        return
    if not compressed and stored < declared:
        raise K2PError(f"{what} declares {declared:,} bytes but the file stores {stored:,} of them "
                       f"(unwritten or truncated data)", path=path)
    if compressed and declared > MAX_COMPRESSION_RATIO * max(stored, 1):
        raise K2PError(f"{what} declares {declared:,} bytes from {stored:,} stored, more than "
                       f"{MAX_COMPRESSION_RATIO}-fold; refusing a likely {bomb}", path=path)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def check_json_depth(text, what, path=None):
    """Refuse JSON text nested deeper than :data:`MAX_JSON_DEPTH` before parsing it."""
    code = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    steps = (np.isin(code, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(code, (ord("]"), ord("}"))).astype(np.int64))
    deepest = int(np.cumsum(steps).max()) if steps.size else 0
    if deepest > MAX_JSON_DEPTH:
        raise K2PError(f"{what} nests JSON {deepest:,} levels deep, expected at most {MAX_JSON_DEPTH}",
                       path=path)
