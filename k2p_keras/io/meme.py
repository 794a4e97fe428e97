"""Read and write motifs in MEME format (MEME suite, JASPAR and HOMER all speak it).

A file holds a header (version, alphabet, strands, background letter frequencies),
then per motif a ``MOTIF`` line, a ``letter-probability matrix:`` line and one row of
four probabilities (A C G T) per position. The reader is tolerant of what real files
contain (tabs, blank lines, CRLF, rounding, missing header fields, ``URL`` lines, MEME's
text output with ``log-odds matrix:`` sections) and strict about what would silently
change a motif. The writer reproduces k2p-1.0's kernel2PWM.py output byte for byte
(``header=False``) or writes a complete MEME v4 file.
"""
import dataclasses
import io
import math
import re

import numpy as np

from ..errors import K2PError
from ..validate import check_pwm
from .text import read_text, write_text

__all__ = ["Motif", "MemeFile", "read_meme", "write_meme", "format_meme"]

_LETTERS = "ACGT"


@dataclasses.dataclass
class Motif:
    """One motif: a name and a position probability matrix.

    Attributes
    ----------
    name : str
        The motif identifier (first word after ``MOTIF``), e.g. ``MA0001.2``.
    pwm : numpy.ndarray
        ``(L, 4)`` float64 probabilities, one row per position, columns A C G T.
    alt_name : str, optional
        The second word after ``MOTIF``, e.g. the factor name ``AGL3``.
    nsites : int, optional
        Number of sites the matrix was built from (``nsites=``).
    evalue : float, optional
        The motif's E-value (``E=``).
    url : str, optional
        A link written on a ``URL`` line after the matrix.
    """

    name: str
    pwm: np.ndarray
    alt_name: str | None = None
    nsites: int | None = None
    evalue: float | None = None
    url: str | None = None

    @property
    def width(self):
        """Number of positions (rows) in the motif."""
        return int(np.shape(self.pwm)[0])

    def __eq__(self, other):
        # The generated __eq__ would compare arrays element-wise and fail on bool().
        if not isinstance(other, Motif):
            return NotImplemented
        return (self.name, self.alt_name, self.nsites, self.evalue, self.url) == (
            other.name, other.alt_name, other.nsites, other.evalue, other.url
        ) and np.array_equal(self.pwm, other.pwm)


# k2p-keras records each exact PWM's base in its alternate name: "ln_b=1.86,SE=0.0063".
_LN_B = re.compile(r"(?:^|,)ln_b=([-+0-9.eE]+)")


def recorded_ln_base(motif):
    """The ``ln b`` k2p-keras recorded in a motif's alternate name (``ln_b=...,SE=...``), or None."""
    found = _LN_B.search(motif.alt_name or "")
    return None if found is None else float(found.group(1))


def motif_base(motif, base=None):
    """The base to turn ``motif`` into a kernel with: ``base`` when given, else the one
    k2p-keras recorded in the motif (:func:`recorded_ln_base`), else e."""
    if base is not None:
        return base
    ln_base = recorded_ln_base(motif)
    return math.e if ln_base is None else math.exp(ln_base)


def _uniform_background():
    return np.full(4, 0.25)


@dataclasses.dataclass(eq=False)
class MemeFile:
    """The content of a MEME file: its motifs and header fields.

    Attributes
    ----------
    motifs : list of Motif
        The motifs in file order.
    alphabet : str
        ``'ACGT'`` for DNA or ``'ACGU'`` for RNA; matrix columns are A C G T(U) either way.
    strands : str
        The ``strands:`` field, e.g. ``'+ -'``.
    background : numpy.ndarray
        ``(4,)`` background letter frequencies (A C G T), uniform unless the file says.
    version : str
        The MEME format version (``'4'`` when the file has no version line).
    """

    motifs: list
    alphabet: str = "ACGT"
    strands: str = "+ -"
    background: np.ndarray = dataclasses.field(default_factory=_uniform_background)
    version: str = "4"

    def __len__(self):
        return len(self.motifs)

    def __iter__(self):
        return iter(self.motifs)

    @property
    def names(self):
        """The motif names, in file order."""
        return [motif.name for motif in self.motifs]

    def get(self, name):
        """Return the motif called ``name`` (its identifier, or else its alternative name).

        Raises
        ------
        K2PError
            When no motif has that name; the message lists the names there are.
        """
        for motif in self.motifs:
            if motif.name == name:
                return motif
        for motif in self.motifs:
            if motif.alt_name == name:
                return motif
        names = self.names
        shown = ", ".join(names[:10]) + (f", ... ({len(names)} motifs in all)" if len(names) > 10 else "")
        raise K2PError(f"no motif named {name!r}; the file has: {shown}")


# ----------------------------------------------------------------------------- reading

def _is_number(token):
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_fields(text, lineno, name):
    """Parse ``key= value`` pairs from a ``letter-probability matrix:`` line."""
    fields = dict(re.findall(r"([A-Za-z]+)\s*=\s*(\S+)", text))

    def number(key, kind):
        if key not in fields:
            return None
        try:
            value = float(fields[key])
        except ValueError:
            raise K2PError(f"line {lineno}: expected a number after '{key}=', found {fields[key]!r}",
                           path=name) from None
        if kind is int:
            if not math.isfinite(value) or value != int(value) or value < 0:
                raise K2PError(f"line {lineno}: expected a whole number after '{key}=', "
                               f"found {fields[key]!r}", path=name)
            return int(value)
        return value

    return {"alength": number("alength", int), "w": number("w", int),
            "nsites": number("nsites", float), "E": number("E", float)}


def _parse_alphabet_symbols(letters, lineno, name):
    letters = letters.upper()
    if sorted(letters) == sorted("ACGT"):
        return "ACGT"
    if sorted(letters) == sorted("ACGU"):
        return "ACGU"
    raise K2PError(f"line {lineno}: expected a DNA or RNA alphabet (A C G T or A C G U), "
                   f"found {letters!r}", path=name)


def _parse_alphabet_block(lines, start, name):
    """Parse an ``ALPHABET ... END ALPHABET`` block; return ``(alphabet, next_index)``.

    Core symbols are those not defined with ``=`` (which declares an ambiguity code or
    an alias); ``A ... ~ T ...`` declares two complementary core symbols. MEME orders a
    DNA/RNA alphabet's core symbols alphabetically, so the columns are A C G T(U).
    """
    header = lines[start]
    if "PROTEIN-LIKE" in header.upper():
        raise K2PError(f"line {start + 1}: expected a DNA or RNA alphabet, found a protein one "
                       f"({header.strip()!r})", path=name)
    core = []
    for index in range(start + 1, len(lines)):
        line = re.sub(r'"[^"]*"', "", lines[index]).strip()
        if re.match(r"END\s+ALPHABET\b", line, re.IGNORECASE):
            return _parse_alphabet_symbols("".join(core), start + 1, name), index + 1
        if not line or line.startswith("#") or "=" in line:
            continue
        for part in line.split("~"):
            tokens = part.split()
            if tokens:
                core.append(tokens[0])
    raise K2PError(f"line {start + 1}: the ALPHABET block has no 'END ALPHABET' line", path=name)


def _parse_background(lines, start, name):
    """Read ``A 0.25 C 0.25 G 0.25 T 0.25`` pairs after the background line.

    Returns ``(frequencies or None, next_index)``. The pairs may span several lines.
    """
    found = {}
    index = start
    while index < len(lines) and len(found) < 4:
        tokens = lines[index].split()
        if not tokens:
            if found:
                break
            index += 1
            continue
        if len(tokens) % 2 or not all(_is_number(t) for t in tokens[1::2]):
            break
        for letter, value in zip(tokens[::2], tokens[1::2]):
            letter = letter.upper().replace("U", "T")
            if letter in _LETTERS:
                found[letter] = float(value)
        index += 1
    if not found:
        return None, index
    if len(found) < 4:
        missing = " ".join(a for a in _LETTERS if a not in found)
        raise K2PError(f"line {start}: background letter frequencies lack {missing}", path=name)
    background = np.array([found[a] for a in _LETTERS])
    if not np.all(np.isfinite(background)) or np.any(background < 0):
        raise K2PError(f"line {start}: background letter frequencies must be non-negative numbers, "
                       f"found {background.tolist()}", path=name)
    return background, index


def _parse_matrix(lines, start, header_line, fields, motif_name, name):
    """Read the rows of a letter-probability matrix; return ``(pwm, next_index)``."""
    alength = fields["alength"]
    if alength is not None and alength != 4:
        raise K2PError(f"line {header_line}: expected alength= 4 (A C G T), found alength= {alength}",
                       path=name)
    index = start
    # Files are allowed a blank line between the matrix line and its rows.
    while index < len(lines) and not lines[index].strip():
        index += 1
    rows = []
    first_row = index + 1
    while index < len(lines):
        tokens = lines[index].split()
        if not tokens or not _is_number(tokens[0]):
            break
        if len(tokens) != 4:
            raise K2PError(f"line {index + 1}: expected 4 probabilities (A C G T) in motif "
                           f"{motif_name!r}, found {len(tokens)} values: {lines[index].strip()!r}",
                           path=name)
        try:
            rows.append([float(t) for t in tokens])
        except ValueError:
            raise K2PError(f"line {index + 1}: expected 4 numbers in motif {motif_name!r}, "
                           f"found {lines[index].strip()!r}", path=name) from None
        index += 1
    width = fields["w"]
    if not rows:
        raise K2PError(f"line {header_line}: motif {motif_name!r} has a letter-probability matrix "
                       f"line but no rows of numbers after it", path=name)
    if width is not None and width != len(rows):
        raise K2PError(f"line {header_line}: motif {motif_name!r} says w= {width} but "
                       f"{len(rows)} rows follow", path=name)
    pwm = np.array(rows, dtype=np.float64)
    _check_probabilities(pwm, motif_name, first_row, name)
    return pwm, index


def _check_probabilities(pwm, motif_name, first_row, name):
    """Rows may be rounded (JASPAR keeps 6 decimals): the one rule of ``validate.check_pwm``.

    The motif keeps the numbers as the file has them; only the check is shared.
    """
    # first_row is the line number of row 1; the rows of a matrix are consecutive lines.
    check_pwm(pwm, f"motif {motif_name!r}", path=name,
              row_name=lambda row: f"line {first_row + row}: motif {motif_name!r} row {row + 1}")


def read_meme(source):
    """Read every motif of a MEME file.

    Accepts the full MEME v4 format (as written by the MEME suite and JASPAR) and the
    minimal form written by k2p-1.0 (just ``MOTIF`` and ``letter-probability matrix:``
    blocks, no header).

    Parameters
    ----------
    source : str, os.PathLike or file object
        A path, or an open text file such as ``sys.stdin``.

    Returns
    -------
    MemeFile
        The motifs (each an ``(L, 4)`` probability matrix, columns A C G T) and the
        header fields; missing header fields get MEME's defaults (uniform background,
        both strands).

    Raises
    ------
    K2PError
        For an empty file, a file without motifs, a protein alphabet, rows that do not
        have 4 numbers, a ``w=`` that disagrees with the rows, or values that are not
        probabilities. Rows that sum to 1 only within 0.1 (rounded files) give a warning.
    """
    text, name = read_text(source, "MEME format")
    if not text.strip():
        raise K2PError("empty file (expected MEME motifs)", path=name)
    lines = text.splitlines()
    result = MemeFile(motifs=[])
    current = None  # (name, alt_name, line number) of a MOTIF line still waiting for its matrix
    last = None     # the motif a following URL line belongs to
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        lineno = index + 1
        index += 1
        if not line:
            continue
        word = line.split()[0]
        if word == "MOTIF":
            if current is not None:
                raise K2PError(f"line {current[2]}: MOTIF {current[0]} has no letter-probability "
                               f"matrix before the next MOTIF line", path=name)
            tokens = line.split()
            if len(tokens) < 2:
                raise K2PError(f"line {lineno}: expected a motif name after MOTIF, found nothing",
                               path=name)
            # Any second word is the alternative name (k2p-keras puts "ln_b=...,SE=..." there).
            current = (tokens[1], tokens[2] if len(tokens) > 2 else None, lineno)
        elif re.match(r"letter-probability\s+matrix", line):
            if current is None:
                raise K2PError(f"line {lineno}: letter-probability matrix comes before any MOTIF line",
                               path=name)
            fields = _parse_fields(line.partition(":")[2], lineno, name)
            pwm, index = _parse_matrix(lines, index, lineno, fields, current[0], name)
            nsites = fields["nsites"]
            last = Motif(name=current[0], pwm=pwm, alt_name=current[1],
                         nsites=None if nsites is None else int(round(nsites)), evalue=fields["E"])
            # A motif is stored as soon as its last row is read, so what follows (URL lines,
            # MEME's site lists, log-odds sections) cannot disturb it.
            result.motifs.append(last)
            current = None
        elif word == "URL":
            if last is not None:
                last.url = line[3:].strip() or None
        elif word == "MEME" and line.split()[1:2] == ["version"]:
            result.version = (line.split()[2:3] or ["4"])[0]
        elif re.match(r"ALPHABET\s*=", line):
            result.alphabet = _parse_alphabet_symbols(line.partition("=")[2].strip(), lineno, name)
        elif word == "ALPHABET":
            result.alphabet, index = _parse_alphabet_block(lines, index - 1, name)
        elif line.startswith("strands:"):
            result.strands = line.partition(":")[2].strip() or result.strands
        elif re.match(r"Background\s+letter\s+frequencies", line):
            background, index = _parse_background(lines, index, name)
            if background is not None:
                result.background = background
    if current is not None:
        raise K2PError(f"line {current[2]}: MOTIF {current[0]} has no letter-probability matrix",
                       path=name)
    if not result.motifs:
        raise K2PError("no MOTIF found (expected 'MOTIF name' followed by a "
                       "'letter-probability matrix:' block)", path=name)
    return result


# ----------------------------------------------------------------------------- writing

def _format_number(value):
    """Shortest text that reads back as the same float; whole numbers without '.0'."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _as_motifs(motifs):
    """Accept a MemeFile, one Motif, a list of Motifs/arrays, or an (L, 4) / (F, L, 4) array."""
    if isinstance(motifs, MemeFile):
        motifs = motifs.motifs
    elif isinstance(motifs, Motif):
        motifs = [motifs]
    elif isinstance(motifs, np.ndarray):
        motifs = [motifs] if motifs.ndim == 2 else list(motifs)
    result = []
    for number, motif in enumerate(motifs, start=1):
        if not isinstance(motif, Motif):
            motif = Motif(name=f"motif_{number}", pwm=motif)
        pwm = np.asarray(motif.pwm, dtype=np.float64)
        # What is written must read back: the reader's probability rule applies.
        check_pwm(pwm, f"motif {motif.name!r}")
        if not motif.name or any(c.isspace() for c in motif.name):
            raise K2PError(f"motif name {motif.name!r}: expected one word without spaces")
        if motif.alt_name is not None and any(c.isspace() for c in motif.alt_name):
            raise K2PError(f"alternative name {motif.alt_name!r}: expected one word without spaces")
        result.append(dataclasses.replace(motif, pwm=pwm))
    if not result:
        raise K2PError("no motifs to write")
    return result


def format_meme(motifs, *, header=True, background=None, strands="+ -", precision=None,
                alphabet="ACGT", layout=None, significant=None, comments=()):
    """Return motifs as MEME text (what :func:`write_meme` writes).

    Parameters
    ----------
    motifs : MemeFile, Motif, list of Motif, or numpy.ndarray
        The motifs. Bare ``(L, 4)`` arrays (or an ``(F, L, 4)`` stack) are named
        ``motif_1``, ``motif_2``, ...
    header : bool
        Write the MEME v4 header (version, alphabet, strands, background). Without it
        the text has k2p-1.0's layout unless ``layout`` says otherwise.
    background : array-like of 4 floats, optional
        Background letter frequencies A C G T; uniform by default.
    strands : str
        The ``strands:`` field.
    precision : int, optional
        Decimals per probability. ``None`` writes every digit (``%.18e``, as k2p-1.0
        and ``numpy.savetxt`` do), so reading the file back gives the same floats.
    significant : int, optional
        Instead of ``precision``: significant digits per probability (``%.6g`` for 6),
        which keeps small probabilities non-zero; rows still sum to 1 within 1e-5.
    alphabet : str
        ``'ACGT'`` (DNA) or ``'ACGU'`` (RNA), for the header's ``ALPHABET=`` line.
    layout : {'meme', 'k2p-1.0'}, optional
        ``'meme'``: ``MOTIF`` line, blank line, matrix line, rows. ``'k2p-1.0'``:
        ``MOTIF`` line, matrix line, blank line, rows, as kernel2PWM.py wrote them.
        Default: ``'meme'`` with a header, ``'k2p-1.0'`` without.
    comments : sequence of str
        Lines written as ``# line`` before ``MEME version`` (where MEME suite tools,
        Biopython and memelite skip them), e.g. the tool and the model the motifs come from.

    Returns
    -------
    str
    """
    motifs = _as_motifs(motifs)
    layout = layout or ("meme" if header else "k2p-1.0")
    if layout not in ("meme", "k2p-1.0"):
        raise K2PError(f"layout: expected 'meme' or 'k2p-1.0', got {layout!r}")
    if alphabet not in ("ACGT", "ACGU"):
        raise K2PError(f"alphabet: expected 'ACGT' or 'ACGU', got {alphabet!r}")
    if precision is not None and significant is not None:
        raise K2PError("give precision (decimals) or significant (digits), not both")
    if significant is not None:
        cell = f"%.{int(significant)}g".__mod__
    elif precision is None:
        cell = "%.18e".__mod__
    else:
        cell = f"%.{int(precision)}f".__mod__
    out = io.StringIO()
    if header:
        for line in comments:
            out.write("# " + " ".join(str(line).split()) + "\n")
        background = _uniform_background() if background is None else np.asarray(background, float)
        if background.shape != (4,) or not np.all(np.isfinite(background)) or np.any(background < 0):
            raise K2PError(f"background: expected 4 non-negative frequencies (A C G T), "
                           f"found {np.asarray(background).tolist()}")
        freq = _format_number if precision is None and significant is None else cell
        out.write(f"MEME version 4\n\nALPHABET= {alphabet}\n\nstrands: {strands}\n\n")
        out.write("Background letter frequencies\n")
        out.write(" ".join(f"{a} {freq(f)}" for a, f in zip(alphabet, background)) + "\n\n")
    for number, motif in enumerate(motifs):
        title = motif.name if motif.alt_name is None else f"{motif.name} {motif.alt_name}"
        nsites, evalue = motif.nsites, motif.evalue
        if layout == "k2p-1.0":
            # k2p-1.0 wrote nsites= 20 E= 0 whatever the motif; its layout keeps that default.
            nsites, evalue = (20 if nsites is None else nsites), (0 if evalue is None else evalue)
        # Otherwise what is not known is left out (MEME's readers have defaults), never invented.
        matrix_line = f"letter-probability matrix: alength= 4 w= {motif.width}"
        if nsites is not None:
            matrix_line += f" nsites= {int(nsites)}"
        if evalue is not None:
            matrix_line += f" E= {_format_number(evalue)}"
        rows = "".join(" ".join(cell(x) for x in row) + "\n" for row in motif.pwm.tolist())
        url = f"\nURL {motif.url}\n" if motif.url else ""
        if layout == "meme":
            out.write(f"MOTIF {title}\n\n{matrix_line}\n{rows}{url}\n")
        else:
            # Blank lines separate motifs, so a single motif matches k2p-1.0's bytes exactly.
            out.write(("\n" if number else "") + f"MOTIF {title}\n{matrix_line}\n\n{rows}{url}")
    return out.getvalue()


def write_meme(dest, motifs, *, header=True, background=None, strands="+ -", precision=None,
               alphabet="ACGT", layout=None, significant=None, comments=()):
    """Write motifs to a MEME file.

    Parameters
    ----------
    dest : str, os.PathLike or file object
        A path (written atomically: a reader never sees half a file) or an open text
        file such as ``sys.stdout``.
    motifs, header, background, strands, precision, alphabet, layout, significant, comments
        As for :func:`format_meme`. ``header=False, precision=None`` reproduces
        k2p-1.0's kernel2PWM.py output byte for byte.

    Examples
    --------
    >>> write_meme("motifs.meme", [Motif("filter_0", pwm)])        # doctest: +SKIP
    """
    text = format_meme(motifs, header=header, background=background, strands=strands,
                       precision=precision, alphabet=alphabet, layout=layout, significant=significant,
                       comments=comments)
    write_text(dest, text)
