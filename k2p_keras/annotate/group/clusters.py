"""Which filters learned the same motif? Redundancy clusters of a model's own PWMs.

    PWMs (F, L, 4) --(memelite.tomtom, spans against spans + a database)--> p (F, F), query-centred
    p --(max(p_ij, p_ji), Benjamini-Hochberg over the pairs)--> q (F, F)
    the same call's database columns --> each filter's significant best database motif (F,)
    links between filters of LOW_INFORMATION_BITS or more: q <= q_threshold, or the same best
    database motif; a weaker filter linked as a leaf to one cluster's filters it matches
    --(connected components: single linkage)--> Clusters: labels (F,), archetypes

1. Each PWM is compared on its informative span, as :mod:`k2p_keras.annotate.match.tomtom` compares
   it with a database: from its first to its last column with at least 0.5 bits. A PWM
   without such a span of 5 columns is *uninformative*: it is compared with nothing and
   forms a cluster of its own (flagged in ``informative``), because Tomtom's Euclidean
   distance matches flat columns to flat columns and two dead filters would otherwise
   "cluster".
2. Tomtom (memelite) on both strands, each span against every span; the targets also hold
   a motif database (by default the newest JASPAR CORE vertebrates pyjaspar holds). The
   database is only a background: Tomtom's null distribution is built from the target
   columns, and with a model's 16 PWMs alone the p-values would depend on which filters the
   model happens to have (memelite warns under 25 targets). The filter-against-filter block
   gives the pairs; the database block, each filter's best database motif (4.). An alignment
   overlapping fewer than 5 columns (or the whole shorter span) gets p = 1, as in annotation.
3. Tomtom's p-value is query-centred (the query's columns make the null), so the two
   directions differ (by up to 10x on the bundled example): ``p = max(p_ij, p_ji)``; then
   Benjamini-Hochberg over the F(F-1)/2 pairs of informative filters gives ``q``.
4. Each filter's best database motif comes from the same Tomtom call (the database columns):
   significant when its q-value (Benjamini-Hochberg over the database's motifs, as annotation
   computes it) is at most ``q_threshold``. The p-values may differ from annotation's in the
   last digits: the model's own PWMs are among the targets here.
5. Two filters are **linked** when both hold at least :data:`LOW_INFORMATION_BITS` (8 bits, the
   rule that makes a database match "weak") and either their Tomtom match is significant
   (``q <= q_threshold``, 0.05) or they share a significant best database motif. A cluster is
   a connected component of the links (single linkage): one learned motif, one cluster, its
   reverse complement, shifted copies and half-sites included, which complete linkage split
   (every pair had to match: a left and a right half-site of CTCF do not, yet both match the
   whole). A filter under 8 bits is linked only as a leaf: to the filters of 8 bits or more it
   matches (by the same two rules) when they all lie in one cluster and are at least half of
   that cluster's filters of 8 bits or more; otherwise (it matches none, filters of two
   clusters, or one member of a larger cluster) it forms a cluster of its own, as an
   uninformative one does. So it cannot chain two motifs through a short core they share
   (``docs/annotation.md`` says why), nor ride into a motif's cluster on one chance link to a
   single member, and a weaker copy of a learned motif, which matches most of its copies,
   still joins it.
6. The **archetype** of a cluster is its most informative member (information content
   summed over all its columns, the bits the reports show; the lower index on a tie): a real
   filter's exact PWM, whose scores
   are the filter's own, rather than an average of shifted, partial members
   (``docs/annotation.md`` gives the evidence).

memelite and pyjaspar are optional: ``pip install 'k2p-keras[annotate]'``.
"""
import dataclasses
import os
import warnings

import numpy as np

from ...axes import pwm_to_memelite
from ...errors import K2PError
from ...io.meme import MemeFile, read_meme
from ...transform import information_content
from ...validate import check_fraction, check_pwm
from ..describe.layer import LOW_INFORMATION_BITS
from ..match.tomtom import (benjamini_hochberg, DEFAULT_MIN_OVERLAP, DEFAULT_TAXON, DEFAULT_TRIM_IC, informative_span,
    load_database, require_annotate)

__all__ = ["DEFAULT_CLUSTER_Q", "LINKAGE", "Clusters", "cluster_motifs"]

#: Two filters are linked by a Tomtom match (or a shared best database motif) at this q-value or below.
DEFAULT_CLUSTER_Q = 0.05
#: A cluster is a connected component of the links (each member linked to one other at least).
LINKAGE = "single"


@dataclasses.dataclass(eq=False)
class Clusters:
    """A model's filters grouped by the motif they learned.

    Attributes
    ----------
    labels : numpy.ndarray of int, shape (F,)
        Each filter's cluster, numbered from 0 in the order of their first filter (what a
        benchmark compares with the motifs planted). An uninformative filter (no span of
        ``min_overlap`` columns with ``trim_ic`` bits), or one under ``low_bits`` matching no
        cluster's filters or those of two, is a cluster of its own, its own archetype.
    archetypes : dict
        Cluster -> the filter standing for it (its most informative member).
    names : list of str
        The motifs' names, one per filter.
    q : numpy.ndarray, shape (F, F)
        Symmetric q-values of every pair (Benjamini-Hochberg over the pairs of informative
        filters); 0 on the diagonal, 1 for pairs with an uninformative filter.
    p : numpy.ndarray, shape (F, F)
        The symmetrised Tomtom p-values ``max(p_ij, p_ji)``.
    offsets, strands : numpy.ndarray of int, shape (F, F)
        Filter ``i`` (query) against filter ``j`` (target) at Tomtom's best alignment, in the
        whole PWMs' columns: ``offsets[i, j]`` is the column of ``j``, in the orientation
        ``strands[i, j]`` gives (1: reverse complement), that faces the first column of ``i``,
        negative when ``i`` starts before ``j`` (Tomtom's ``Optimal_offset``). To draw ``i``
        under ``j``: on strand 0 it starts at column ``offsets[i, j]`` of ``j``; on strand 1 its
        reverse complement starts at column ``len(j) - offsets[i, j] - len(i)``.
    informative : numpy.ndarray of bool, shape (F,)
        Whether the filter had a span to compare.
    bits : numpy.ndarray, shape (F,)
        Each PWM's information content (bits, summed over its columns); filters under
        ``low_bits`` are linked only as leaves of one cluster.
    database_match : list
        Each filter's significant best database motif (its ID), or None.
    linked : numpy.ndarray of bool, shape (F, F)
        The links the clusters are the connected components of (symmetric; False on the diagonal).
    spans : list
        Each PWM's compared columns ``(start, stop)``, or None.
    q_threshold : float
    linkage : str
    background : str
        The database that served as Tomtom's background, and whose motifs link filters.
    low_bits : float
    """

    labels: np.ndarray
    archetypes: dict
    names: list
    q: np.ndarray
    p: np.ndarray
    offsets: np.ndarray
    strands: np.ndarray
    informative: np.ndarray
    bits: np.ndarray
    database_match: list
    linked: np.ndarray
    spans: list
    q_threshold: float
    linkage: str
    background: str
    low_bits: float = LOW_INFORMATION_BITS

    @property
    def ids(self):
        """The clusters, in order."""
        return sorted(int(c) for c in set(self.labels.tolist()))

    @property
    def informative_ids(self):
        """The clusters of informative filters (those an archetypes file holds)."""
        return [c for c in self.ids if self.informative[self.archetypes[c]]]

    def members(self, cluster):
        """The filters of a cluster, in filter order."""
        return [int(i) for i in np.flatnonzero(self.labels == cluster)]

    def summary_columns(self, f):
        """Filter ``f``'s cluster, for a per-filter summary table."""
        return {"cluster": int(self.labels[f])}

    def describe(self):
        """One line for people: how many clusters, those with several filters."""
        shared = [self.members(c) for c in self.ids if len(self.members(c)) > 1]
        groups = " ".join("filters {" + ", ".join(str(i) for i in m) + "}" for m in shared) or "none"
        dead = int((~self.informative).sum())
        weak = int((self.informative & (self.bits < self.low_bits)).sum())
        alone = int((self.informative & (self.bits < self.low_bits) & ~self.linked.any(axis=1)).sum())
        return (f"clusters (filters of {self.low_bits:g} bits or more linked by a Tomtom match among them or a "
                f"shared best database motif, q <= {self.q_threshold:g}, weaker ones only to most of one cluster; "
                f"{self.background}): {len(self.ids)} from {len(self.labels)} filters; shared by several: {groups}"
                + (f"; {alone} of the {weak} under {self.low_bits:g} bits and {dead} uninformative on their own"
                   if alone or dead else ""))


def _full_offsets(offsets, strands, spans, widths):
    """memelite's offsets between spans as offsets between whole PWMs (Tomtom's convention)."""
    start = np.array([s[0] for s in spans])
    stop = np.array([s[1] for s in spans])
    # The target's span begins at column start (forward) or width - stop (reverse complement).
    target_start = np.where(strands == 0, start[None, :], (widths - stop)[None, :])
    return (offsets + target_start - start[:, None]).astype(int)


def _embed(block, idx, n, fill, dtype=float):
    full = np.full((n, n), fill, dtype=dtype)
    full[np.ix_(idx, idx)] = block
    return full


def _components(linked):
    """Connected components of a symmetric boolean matrix: a component id per node, from 0 in node order."""
    n = len(linked)
    labels = np.full(n, -1)
    for seed in range(n):
        if labels[seed] >= 0:
            continue
        labels[seed] = label = labels.max() + 1
        frontier = [seed]
        while frontier:
            reached = np.flatnonzero(linked[frontier].any(axis=0) & (labels < 0))
            labels[reached] = label
            frontier = reached.tolist()
    return labels


def _best_database_matches(p, overlaps, database, min_overlap, q_threshold):
    """Each query's significant best database motif (its ID) or None, from Tomtom's database columns."""
    widths = np.array([len(m.pwm) for m in database.motifs])
    p = np.where(overlaps >= np.minimum(min_overlap, widths)[None, :], p, 1.0)
    q = benjamini_hochberg(p)
    best = np.argmin(p, axis=1)
    return [database.motifs[j].name if q[i, j] <= q_threshold else None for i, j in enumerate(best)]


def cluster_motifs(motifs, database=None, *, q_threshold=DEFAULT_CLUSTER_Q, taxon=DEFAULT_TAXON,
                   min_overlap=DEFAULT_MIN_OVERLAP, trim_ic=DEFAULT_TRIM_IC, low_bits=LOW_INFORMATION_BITS, n_jobs=-1):
    """Group motifs (a model's filters) that learned the same motif, Tomtom on both strands.

    Parameters
    ----------
    motifs : list of Motif, MemeFile, or a MEME file's path
        One PWM per filter, in filter order.
    database : str, os.PathLike or MotifDatabase, optional
        Tomtom's background and the motifs that link filters sharing one as their best match
        (see the module's docstring): what :func:`k2p_keras.annotate.match.tomtom.load_database`
        accepts; default the newest JASPAR CORE vertebrates release pyjaspar holds.
    q_threshold : float
        Two filters are linked by a Tomtom match at this q-value or below, or by a best
        database motif significant at it.
    low_bits : float
        Filters holding fewer bits are linked only as leaves of one cluster (:data:`LOW_INFORMATION_BITS`).
    taxon, min_overlap, trim_ic, n_jobs
        As for :func:`k2p_keras.annotate.match.tomtom.annotate_motifs`.

    Returns
    -------
    Clusters
    """
    if isinstance(motifs, (str, os.PathLike)):
        motifs = read_meme(motifs)
    motifs = list(motifs.motifs if isinstance(motifs, MemeFile) else motifs)
    if not motifs:
        raise K2PError("no motifs to cluster")
    q_threshold = check_fraction(q_threshold, "q_threshold")
    memelite, _ = require_annotate()
    database = load_database(database, taxon=taxon)
    pwms = [check_pwm(m.pwm, what=f"motif {m.name!r}") for m in motifs]
    n = len(pwms)
    spans = []
    for pwm in pwms:
        span = informative_span(pwm, trim_ic)
        spans.append(span if span is not None and span[1] - span[0] >= min_overlap else None)
    informative = np.array([s is not None for s in spans])
    idx = np.flatnonzero(informative)
    trimmed = [pwm_to_memelite(pwms[i][spans[i][0]:spans[i][1]]) for i in idx]
    k = len(idx)
    p = np.ones((k, k))
    offsets = strands = np.zeros((k, k))
    database_match = [None] * n
    if k:
        targets = trimmed + [pwm_to_memelite(m.pwm) for m in database.motifs]
        with warnings.catch_warnings():
            # Under 25 targets memelite warns that its p-values are rough; the database is there for that.
            warnings.filterwarnings("ignore", message=".*target motifs.*")
            found = memelite.tomtom(trimmed, targets, n_jobs=n_jobs)
        # memelite's p-values can come out a few ulp below 0 for identical motifs.
        p_all = np.clip(np.asarray(found[0], dtype=np.float64), 0.0, 1.0)
        overlaps_all = np.asarray(found[3])
        for i, match in zip(idx, _best_database_matches(p_all[:, k:], overlaps_all[:, k:], database, min_overlap,
                                                        q_threshold)):
            database_match[i] = match
        _, _, offsets, overlaps, strands = (np.asarray(a)[:, :k] for a in found)
        widths = np.array([t.shape[1] for t in trimmed])
        p = np.where(overlaps >= np.minimum(min_overlap, widths)[None, :], p_all[:, :k], 1.0)
        offsets = _full_offsets(offsets, strands, [spans[i] for i in idx], np.array([len(pwms[i]) for i in idx]))
    p_sym = np.maximum(p, p.T)
    np.fill_diagonal(p_sym, 0.0)
    q = np.zeros((k, k))
    if k > 1:
        upper = np.triu_indices(k, 1)
        q[upper] = benjamini_hochberg(p_sym[upper][None, :])[0]
        q += q.T
    off_diagonal = 1 - np.eye(n)
    q_full = _embed(q, idx, n, 1.0) * off_diagonal
    bits = np.array([information_content(pwm).sum() for pwm in pwms])
    # A filter under low_bits has a chance site in nearly every sequence: a link through it could
    # join two motifs that merely share a short core.
    strong = informative & (bits >= low_bits)
    matched = np.array([m is not None for m in database_match])
    same_match = np.array([[a is not None and a == b for b in database_match] for a in database_match])
    matches = off_diagonal.astype(bool) & ((q_full <= q_threshold) | (same_match & matched[:, None]))
    linked = strong[:, None] & strong[None, :] & matches
    labels = _components(linked)
    # A weak filter joins a cluster only as a leaf: when every strong filter it matches lies in that
    # one cluster, and they are at least half of its strong filters. It then never joins two
    # clusters (a blend of two motifs' cores matches both and stays alone), nor a cluster through
    # one chance link (a few-bit background filter matches some member of a large cluster by
    # chance; on the bundled example three did), while a weaker copy of a learned motif
    # (mid-training, most copies are under low_bits) matches most of the motif's filters and
    # sits with them.
    for w in np.flatnonzero(informative & ~strong):
        partners = np.flatnonzero(strong & matches[w])
        if partners.size and np.unique(labels[partners]).size == 1:
            strong_members = np.flatnonzero(strong & (labels == labels[partners[0]]))
            if 2 * partners.size >= strong_members.size:
                linked[w, partners] = linked[partners, w] = True
    labels = _components(linked)
    # The whole PWM's bits, the figure the reports' tables show beside each filter: the archetype
    # is the member with the most of them there too (its span's bits leave out flank columns).
    ic = bits
    archetypes = {}
    for c in range(labels.max() + 1):
        members = np.flatnonzero(labels == c)
        archetypes[c] = int(members[np.argmax(ic[members])])
    return Clusters(
        labels=labels, archetypes=archetypes, names=[m.name for m in motifs], q=q_full,
        p=_embed(p_sym, idx, n, 1.0) * off_diagonal, offsets=_embed(offsets, idx, n, 0, int),
        strands=_embed(strands, idx, n, 0, int), informative=informative, bits=bits, database_match=database_match,
        linked=linked, spans=spans, q_threshold=float(q_threshold), linkage=LINKAGE, background=database.label,
        low_bits=float(low_bits))
