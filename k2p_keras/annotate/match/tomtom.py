"""Which known motifs did the model learn? Motifs against a database, compared as Tomtom does.

    motifs --(load_database)--> MotifDatabase (a MEME file, or a JASPAR release from pyjaspar)
    motifs + database --(annotate_motifs, memelite.tomtom)--> Annotation (per query: its matches)
    Annotation --(format_matches_tsv)--> Tomtom's own TSV columns, plus the target's name

The comparison itself is ``memelite.tomtom`` (a maintained numba implementation of Tomtom's
"complete score" with Euclidean column distances); nothing of Tomtom is re-implemented here.
What this module adds around it:

- **p-value**: memelite's, over both strands of the target (``1 - (1 - min(p+, p-))^2``);
- **E-value**: ``p x`` the number of targets in the database;
- **q-value**: Benjamini-Hochberg over the query's p-values against *every* target of the
  database (not only the reported ones), so the verdict does not depend on ``top``;
- **minimum overlap**: memelite scores every offset and returns the best one, whatever its
  overlap. A best alignment overlapping fewer than ``min_overlap`` columns (or the whole
  target when it is shorter) is not admissible: its p-value is set to 1. MEME's Tomtom would
  instead look for the best admissible offset, so such a target may still match there; at
  the default of 5 columns and filter widths of 8 or more this is rare;
- **trimmed flanks**: a filter's PWM often has near-uniform columns at its ends, and Tomtom's
  Euclidean column distance scores uninformative columns best against the uninformative
  columns of long profiles (CTCF, zinc fingers), so a dead filter would "match" them with a
  tiny p-value. Each query is compared from its first to its last column holding at least
  ``trim_ic`` bits (0.5 by default; 0 compares it whole); a query with no such span as wide
  as ``min_overlap`` is *uninformative*: it is not compared and gets the verdict "not compared";
- **offset and strand** follow Tomtom's TSV: ``Optimal_offset`` is the column of the target,
  in the orientation ``Orientation`` gives (``-``: reverse complement), that faces the
  query's first column; negative when the query starts before the target. The query
  ``P[2:9]`` of a target ``P`` has offset 2 and ``+``; ``reverse_complement(P)[1:8]`` has
  offset 1 and ``-`` (``tests/test_annotate.py`` checks both). Offsets count from the
  query's own first column, trimmed or not; ``Overlap`` counts the columns compared.

memelite and pyjaspar are optional: ``pip install 'k2p-keras[annotate]'``.
"""
import dataclasses
import functools
import importlib
import math
import os
import re
import warnings

import numpy as np

from ..._numba import compiled_on_disk, import_numba
from ...axes import pwm_to_memelite, reverse_complement
from ...errors import K2PError
from ...io.meme import MemeFile, Motif, read_meme
from ...io.text import write_text
from ...transform import consensus, information_content
from ..describe.layer import format_bits, match_verdict
from ...validate import check_fraction, check_positive_int, check_pwm

__all__ = [
    "DEFAULT_MIN_OVERLAP", "DEFAULT_Q_THRESHOLD", "DEFAULT_TAXON", "DEFAULT_TOP", "DEFAULT_TRIM_IC", "INSTALL_HINT",
    "MATCH_COLUMNS", "Annotation", "Match", "MotifDatabase", "annotate_motifs", "benjamini_hochberg", "default_release",
    "format_matches_tsv", "informative_span", "jaspar_releases", "load_database", "require_annotate",
    "TOMTOM_COMPILE_SECONDS", "tomtom_compiled", "warm_up_tomtom",
]

INSTALL_HINT = "pip install 'k2p-keras[annotate]'"
# A significant match at this false discovery rate earns the verdict "match".
DEFAULT_Q_THRESHOLD = 0.05
# A filter resembling a database motif on fewer columns than this is no evidence for that
# factor (the memes R package's runTomTom uses 5 too; MEME's command line defaults to 1).
DEFAULT_MIN_OVERLAP = 5
# Query flanks with less information than this (bits) are left out of the comparison.
DEFAULT_TRIM_IC = 0.5
# Matches kept per query besides the significant ones (for the report's tables).
DEFAULT_TOP = 5
# Chromatin and TF ChIP-seq CNNs are trained on human or mouse data, so the default is
# JASPAR's vertebrate CORE set (the latest version of each profile, JASPAR's "non-redundant").
DEFAULT_TAXON = "vertebrates"
JASPAR_COLLECTION = "CORE"
JASPAR_TAXA = ("vertebrates", "plants", "insects", "nematodes", "fungi", "urochordates")
# Tomtom's TSV columns (MEME suite 5), in its order; Target_name is ours.
MATCH_COLUMNS = ("Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value", "Overlap",
                 "Query_consensus", "Target_consensus", "Orientation", "Target_name")
_RELEASE_NAME = re.compile(r"JASPAR\d{4}", re.IGNORECASE)


def require_annotate():
    """Import the optional dependencies of annotation, or fail at once with the install command.

    Call it before any costly work (a scan) whose result would then be annotated.

    Returns
    -------
    tuple of module
        ``(memelite, pyjaspar)``.

    Raises
    ------
    K2PError
        When memelite or pyjaspar cannot be imported.
    """
    import_numba()  # memelite's kernels are cached in k2p-keras's per-user folder too, not in site-packages
    modules = []
    for name in ("memelite", "pyjaspar"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            raise K2PError(f"annotation needs {name}: {INSTALL_HINT}") from None
    return tuple(modules)


# ----------------------------------------------------------------------------- databases

@dataclasses.dataclass(eq=False)
class MotifDatabase:
    """The target motifs annotation compares with.

    Attributes
    ----------
    label : str
        Where the motifs come from, e.g. ``'JASPAR2026 CORE vertebrates'`` or a file path.
    motifs : tuple of Motif
        Name = the database ID (``MA0099.3``), alt_name = the factor (``FOS::JUN``).
    release : str or None
        The JASPAR release name when the motifs come from pyjaspar.
    """

    label: str
    motifs: tuple
    release: str | None = None

    def __len__(self):
        return len(self.motifs)

    @property
    def is_jaspar(self):
        """Whether the motifs are JASPAR's (a pyjaspar release, or a file of ``MAxxxx.y`` IDs)."""
        return self.release is not None or any(re.fullmatch(r"MA\d{4}\.\d+", m.name) for m in self.motifs)


def jaspar_releases():
    """The JASPAR releases the installed pyjaspar holds, oldest first (``['JASPAR2014', ...]``)."""
    _, pyjaspar = require_annotate()
    return sorted(pyjaspar.jaspar_releases)


def default_release():
    """The newest JASPAR release the installed pyjaspar holds."""
    return jaspar_releases()[-1]


def _counts_to_pwm(counts):
    """A Biopython count matrix (``counts['A'][i]`` ...) as an ``(L, 4)`` float64 PWM."""
    matrix = np.array([counts[letter] for letter in "ACGT"], dtype=np.float64).T
    return matrix / matrix.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=4)
def _jaspar_motifs(release, taxon):
    # Cached: fetching a release through pyjaspar takes seconds, and a training callback
    # annotates again every few epochs.
    _, pyjaspar = require_annotate()
    database = pyjaspar.jaspardb(release=release)
    with warnings.catch_warnings():
        # An empty selection is reported by load_database, in one line that names the taxa.
        warnings.filterwarnings("ignore", message="Zero motifs returned")
        fetched = database.fetch_motifs(collection=JASPAR_COLLECTION,
                                        tax_group=None if taxon == "all" else [taxon])
    return tuple(Motif(name=m.matrix_id, pwm=_counts_to_pwm(m.counts), alt_name=m.name) for m in fetched)


def load_database(db=None, taxon=DEFAULT_TAXON):
    """Load the motifs to annotate against.

    Parameters
    ----------
    db : str, os.PathLike or MotifDatabase, optional
        A MEME file, or a JASPAR release name served offline by pyjaspar (``'JASPAR2024'``;
        case does not matter). Default: the newest release pyjaspar holds.
    taxon : str
        For a JASPAR release: the taxonomic group of its CORE collection
        (``'vertebrates'``, the default; ``'plants'``, ``'insects'``, ...; ``'all'`` for every one).

    Returns
    -------
    MotifDatabase

    Raises
    ------
    K2PError
        For a ``db`` that is neither an existing MEME file nor a release name, an unknown
        release, a file with no motifs, or a taxon without motifs.
    """
    if isinstance(db, MotifDatabase):
        return db
    if db is not None and os.path.exists(db):
        meme = read_meme(db)
        return MotifDatabase(label=os.fspath(db), motifs=tuple(meme.motifs))
    if db is not None and not (isinstance(db, str) and _RELEASE_NAME.fullmatch(db)):
        raise K2PError(f"neither an existing MEME file nor a JASPAR release name (pyjaspar holds "
                       f"{', '.join(jaspar_releases())})", path=os.fspath(db))
    releases = jaspar_releases()
    release = releases[-1] if db is None else db.upper()
    if release not in releases:
        raise K2PError(f"unknown JASPAR release {db!r}: the installed pyjaspar holds {', '.join(releases)}")
    taxon = str(taxon).lower()
    motifs = _jaspar_motifs(release, taxon)
    if not motifs:
        raise K2PError(f"{release} has no {JASPAR_COLLECTION} motifs for the taxon {taxon!r} "
                       f"(JASPAR's taxa: {', '.join(JASPAR_TAXA)}; 'all' for every one)")
    label = f"{release} {JASPAR_COLLECTION} {'all taxa' if taxon == 'all' else taxon}"
    return MotifDatabase(label=label, motifs=motifs, release=release)


# ----------------------------------------------------------------------------- matches

@dataclasses.dataclass(eq=False)
class Match:
    """One query against one database motif, at Tomtom's best alignment.

    Attributes
    ----------
    query_id, target_id : str
    target_name : str or None
        The factor, e.g. ``'FOS::JUN'`` (the target's alternative name).
    p_value, e_value, q_value : float
        See the module's docstring.
    offset : int
        Tomtom's ``Optimal_offset``: the target column (in ``orientation``) facing the
        query's first column; negative when the query starts before the target.
    overlap : int
        Columns the query and the target share in the alignment.
    orientation : str
        ``'+'``, or ``'-'`` when the target's reverse complement matched.
    query_consensus, target_consensus : str
        Most probable letters; the target's in ``orientation``.
    significant : bool
        ``q_value <= q_threshold``.
    target_pwm : numpy.ndarray, shape (L_t, 4)
        The target's PWM in ``orientation`` (for drawing it aligned under the query).
    """

    query_id: str
    target_id: str
    target_name: str | None
    p_value: float
    e_value: float
    q_value: float
    offset: int
    overlap: int
    orientation: str
    query_consensus: str
    target_consensus: str
    significant: bool
    target_pwm: np.ndarray = dataclasses.field(repr=False)

    def row(self):
        """The match as a dict keyed by :data:`MATCH_COLUMNS` (Tomtom's TSV names)."""
        values = (self.query_id, self.target_id, self.offset, self.p_value, self.e_value, self.q_value,
                  self.overlap, self.query_consensus, self.target_consensus, self.orientation,
                  self.target_name or "")
        return dict(zip(MATCH_COLUMNS, values))


def _format_value(value):
    # Tomtom writes six significant digits.
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_matches_tsv(matches):
    """Matches as TSV text with Tomtom's column names (:data:`MATCH_COLUMNS`), header first."""
    lines = ["\t".join(MATCH_COLUMNS)]
    for match in matches:
        lines.append("\t".join(_format_value(v) for v in match.row().values()))
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(eq=False)
class Annotation:
    """The matches of every query motif against a database.

    Attributes
    ----------
    queries : list of str
        Query names, in input order.
    database : str
        The database's label.
    n_targets : int
    q_threshold : float
        Matches with a q-value at or below it are significant (verdict ``'match'``).
    min_overlap : int
    is_jaspar : bool
        Whether the database is JASPAR's (its CC BY 4.0 licence asks for credit).
    spans : dict
        Query name -> ``(start, stop)``, the columns compared after trimming, or ``None``
        for an uninformative query (not compared).
    trim_ic : float
    bits : dict
        Query name -> the PWM's information content (bits, summed over its columns), which
        weighs the verdict (:func:`match_verdict`); empty: every match counts in full.
    """

    queries: list
    database: str
    n_targets: int
    q_threshold: float
    min_overlap: int
    is_jaspar: bool
    spans: dict
    trim_ic: float
    _matches: dict = dataclasses.field(repr=False)
    bits: dict = dataclasses.field(default_factory=dict)

    def matches(self, name, significant_only=False):
        """A query's kept matches, best (smallest p-value) first.

        Every significant match is kept, and at least the ``top`` best admissible ones.
        """
        try:
            found = self._matches[name]
        except KeyError:
            raise K2PError(f"no query motif named {name!r}") from None
        return [m for m in found if m.significant] if significant_only else list(found)

    def best_match(self, name):
        """The query's best match (significant or not), or ``None`` when no alignment was admissible."""
        found = self.matches(name)
        return found[0] if found else None

    def verdict(self, name):
        """One of :data:`~k2p_keras.annotate.describe.layer.VERDICTS`: ``'match'`` when the best match's q-value is at most
        ``q_threshold``, ``'weak match'`` when so but the PWM holds under :data:`~k2p_keras.annotate.describe.layer.LOW_INFORMATION_BITS`,
        ``'no match'``, or ``'not compared'`` (no informative span)."""
        best = self.best_match(name)
        return match_verdict(best is not None and best.significant, self.is_informative(name),
                             self.bits.get(name, math.inf))

    def is_informative(self, name):
        """Whether the query had a span of ``min_overlap`` columns with ``trim_ic`` bits to compare."""
        self.matches(name)
        return self.spans[name] is not None

    def summary_columns(self, name):
        """The best match as columns for a per-filter summary table (stable keys)."""
        best = self.best_match(name)
        return {
            "best_match_id": best.target_id if best else "",
            "best_match_name": (best.target_name or "") if best else "",
            "best_match_q_value": best.q_value if best else math.nan,
            "best_match_offset": best.offset if best else "",
            "best_match_orientation": best.orientation if best else "",
            "annotation": self.verdict(name),
        }

    def rows(self, significant_only=True):
        """Every kept match (by default only the significant ones), query by query."""
        return [m for name in self.queries for m in self.matches(name, significant_only)]

    def format_tsv(self, significant_only=True):
        """The matches as Tomtom-style TSV text (see :func:`format_matches_tsv`)."""
        return format_matches_tsv(self.rows(significant_only))

    def write_tsv(self, path, significant_only=True):
        """Write :meth:`format_tsv` to ``path`` atomically (or to an open file)."""
        write_text(path, self.format_tsv(significant_only))

    def format_summary(self):
        """One line per query: its best match, q-value and verdict (for a terminal)."""
        width = max([len("query")] + [len(n) for n in self.queries])
        lines = [f"{'query':<{width}}  {'bits':>5}  {'best match':<24} {'q-value':>9}  verdict"]
        for name in self.queries:
            best = self.best_match(name)
            target = f"{best.target_id} {best.target_name or ''}".strip() if best else "-"
            q = f"{best.q_value:9.3g}" if best else f"{'-':>9}"
            note = "" if self.is_informative(name) else f" (uninformative: no {self.min_overlap} columns " \
                f"with {self.trim_ic:g} bits)"
            bits = format_bits(self.bits[name]) if name in self.bits else "-"
            lines.append(f"{name:<{width}}  {bits:>5}  {target:<24} {q}  {self.verdict(name)}{note}")
        return "\n".join(lines) + "\n"


def benjamini_hochberg(p):
    """q-values of each row of p-values (Benjamini-Hochberg step-up, capped at 1)."""
    n = p.shape[1]
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1) * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[:, ::-1], axis=1)[:, ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=1)
    return q


def informative_span(pwm, trim_ic=DEFAULT_TRIM_IC):
    """The columns from the first to the last holding at least ``trim_ic`` bits, as ``(start, stop)``.

    ``None`` when no column does; ``(0, L)`` when ``trim_ic`` is 0.
    """
    ic = information_content(pwm)
    keep = np.flatnonzero(ic >= trim_ic)
    if keep.size == 0:
        return None
    return int(keep[0]), int(keep[-1]) + 1


def _as_query_motifs(motifs):
    """A MEME path, MemeFile or list of Motif as ``(list of Motif, path or None)``."""
    path = None
    if isinstance(motifs, (str, os.PathLike)):
        path = os.fspath(motifs)
        motifs = read_meme(path)
    if isinstance(motifs, MemeFile):
        motifs = motifs.motifs
    motifs = list(motifs)
    if not all(isinstance(m, Motif) for m in motifs):
        raise K2PError("expected k2p_keras.io.meme.Motif objects (name, pwm (L, 4)) to annotate")
    return motifs, path


#: Query motifs compared per memelite call (a progress bar moves between calls).
ANNOTATE_CHUNK = 16


def annotate_motifs(motifs, database=None, *, taxon=DEFAULT_TAXON, q_threshold=DEFAULT_Q_THRESHOLD,
                    min_overlap=DEFAULT_MIN_OVERLAP, top=DEFAULT_TOP, trim_ic=DEFAULT_TRIM_IC, n_jobs=-1,
                    source=None, progress=None):
    """Compare every query motif with every database motif (Tomtom, via memelite).

    Parameters
    ----------
    motifs : str, os.PathLike, MemeFile or list of Motif
        The query motifs (e.g. a filter's exact PWMs), ``(L, 4)`` rows summing to 1.
    database : str, os.PathLike or MotifDatabase, optional
        What :func:`load_database` accepts; default the newest JASPAR CORE vertebrates.
    taxon : str
        The JASPAR taxon when ``database`` is a release name (or None).
    q_threshold : float
        In (0, 1]: a match at or below this q-value is significant.
    min_overlap : int
        Columns an alignment must share (or the whole target, when shorter); a query
        narrower than this is refused.
    top : int
        Best admissible matches kept per query besides the significant ones.
    trim_ic : float
        Bits a flank column needs to be compared (see the module's docstring); 0 keeps all.
    n_jobs : int
        Threads for memelite (-1: numba's default).
    source : str, optional
        The file the motifs came from, named in error messages (a path in ``motifs`` is named anyway).
    progress : callable, optional
        Receives the number of query motifs compared, chunk by chunk (for a progress bar).

    Returns
    -------
    Annotation

    Raises
    ------
    K2PError
        No query motifs, duplicate query names, a query narrower than ``min_overlap``, or
        a database :func:`load_database` refuses.
    """
    queries, path = _as_query_motifs(motifs)
    path = path if path is not None else source
    if not queries:
        raise K2PError("no motifs to annotate", path=path)
    names = [m.name for m in queries]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise K2PError(f"motif names must be unique to annotate them; repeated: {', '.join(duplicated[:5])}",
                       path=path)
    q_threshold = check_fraction(q_threshold, "q_threshold")
    min_overlap = check_positive_int(min_overlap, "min_overlap")
    top = check_positive_int(top, "top")
    if not (isinstance(trim_ic, (int, float)) and 0 <= trim_ic <= 2):
        raise K2PError(f"trim_ic must be in [0, 2] bits, got {trim_ic!r}")
    for motif in queries:
        if motif.width < min_overlap:
            raise K2PError(f"motif {motif.name!r} is {motif.width} columns wide, shorter than the minimum "
                           f"overlap of {min_overlap} (lower it, e.g. --min-overlap {motif.width})", path=path)
    memelite, _ = require_annotate()
    database = load_database(database, taxon=taxon)
    query_pwms = [check_pwm(m.pwm, what=f"motif {m.name!r}") for m in queries]
    target_pwms = [check_pwm(m.pwm, what=f"database motif {m.name!r}") for m in database.motifs]
    spans = {}
    for motif, pwm in zip(queries, query_pwms):
        span = informative_span(pwm, trim_ic)
        spans[motif.name] = span if span is not None and span[1] - span[0] >= min_overlap else None
    compared = [i for i, m in enumerate(queries) if spans[m.name] is not None]
    matches = {m.name: [] for m in queries}
    # In chunks, for a progress bar: each query's p- and q-values depend on the database only.
    for start in range(0, len(compared), ANNOTATE_CHUNK):
        chunk = compared[start:start + ANNOTATE_CHUNK]
        found = _tomtom_matches([queries[i] for i in chunk], [query_pwms[i] for i in chunk],
                                [spans[queries[i].name] for i in chunk], database, target_pwms,
                                q_threshold, min_overlap, top, n_jobs, memelite)
        matches.update(found)
        if progress is not None:
            progress(len(chunk))
    if progress is not None and len(compared) < len(queries):
        progress(len(queries) - len(compared))  # flat motifs: nothing to compare
    return Annotation(queries=names, database=database.label, n_targets=len(target_pwms),
                      q_threshold=float(q_threshold), min_overlap=min_overlap, is_jaspar=database.is_jaspar,
                      spans=spans, trim_ic=float(trim_ic), _matches=matches,
                      bits={name: float(information_content(pwm).sum()) for name, pwm in zip(names, query_pwms)})


#: How long memelite takes to compile Tomtom, once per install, in seconds (fewest, most): 74 s on
#: 2 quiet cores, 5 minutes on 2 shared ones (docs/annotation.md); 9 to 20 under a load of 5 to 10.
TOMTOM_COMPILE_SECONDS = (60, 300)


def tomtom_compiled():
    """Whether memelite's Tomtom is compiled and cached on disk: False when the first comparison
    will compile it (:data:`TOMTOM_COMPILE_SECONDS`); None when numba cannot say."""
    require_annotate()
    module = importlib.import_module("memelite.tomtom")
    kernels = [f for f in vars(module).values() if hasattr(f, "py_func") and hasattr(f, "_cache")]
    # Any kernel on disk: a call compiles only those its inputs reach, so "all" would never be true.
    cached = [compiled_on_disk(kernel) for kernel in kernels]
    return None if not kernels or None in cached else any(cached)


def warm_up_tomtom(database, width=12):
    """Compile memelite's Tomtom now: two motifs of ``width`` columns compared with ``database``.

    Run in a thread while a scan runs, so that the scan and the one-time compilation overlap;
    the scan's own kernels should be loaded first (numba compiles under one lock). Errors are
    left to the real comparison, which meets them again.
    """
    pwm = np.full((max(int(width), DEFAULT_MIN_OVERLAP), 4), 0.1)
    pwm[np.arange(len(pwm)), np.arange(len(pwm)) % 4] = 0.7  # 0.64 bits a column: nothing trimmed
    try:
        annotate_motifs([Motif("warm_up_a", pwm), Motif("warm_up_b", pwm[::-1].copy())], database)
    except Exception:  # noqa: BLE001 - the real comparison reports it
        pass


def _tomtom_matches(queries, query_pwms, spans, database, target_pwms, q_threshold, min_overlap, top, n_jobs,
                    memelite):
    """memelite's Tomtom on the queries' spans; per query its kept matches, best first."""
    p, _scores, offsets, overlaps, strands = memelite.tomtom(
        [pwm_to_memelite(pwm[start:stop]) for pwm, (start, stop) in zip(query_pwms, spans)],
        [pwm_to_memelite(t) for t in target_pwms], n_jobs=n_jobs)
    # memelite's p-values can come out a few ulp below 0 for identical motifs.
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    target_widths = np.array([len(t) for t in target_pwms])
    admissible = overlaps >= np.minimum(min_overlap, target_widths)[None, :]
    p = np.where(admissible, p, 1.0)
    q = benjamini_hochberg(p)
    n_targets = len(target_pwms)
    matches = {}
    for i, query in enumerate(queries):
        order = np.argsort(p[i], kind="stable")
        keep = [j for rank, j in enumerate(order) if admissible[i, j] and (rank < top or q[i, j] <= q_threshold)]
        found = []
        for j in keep:
            strand = "-" if strands[i, j] else "+"
            target = target_pwms[j] if strand == "+" else reverse_complement(np.asarray(target_pwms[j]))
            found.append(Match(
                query_id=query.name, target_id=database.motifs[j].name, target_name=database.motifs[j].alt_name,
                p_value=float(p[i, j]), e_value=float(p[i, j] * n_targets), q_value=float(q[i, j]),
                # memelite aligns the span; Tomtom's offset counts from the query's own first column.
                offset=int(offsets[i, j]) - spans[i][0], overlap=int(overlaps[i, j]), orientation=strand,
                query_consensus=consensus(query_pwms[i]), target_consensus=consensus(target),
                significant=bool(q[i, j] <= q_threshold), target_pwm=np.ascontiguousarray(target)))
        matches[query.name] = found
    return matches
