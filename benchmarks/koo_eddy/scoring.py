"""The paper's statistics on one PWM set: which filters name a planted motif, and the clusters.

Each PWM is clipped to its columns over 0.5 bits (first to last) plus 3 on each side, and
compared with JASPAR CORE 2016 vertebrates by the library's Tomtom
(:func:`k2p_keras.annotate.match.tomtom.annotate_motifs`, memelite); a hit is E < 0.1 (E = p x the
number of targets). The clusters are the library's (:func:`k2p_keras.annotate.group.clusters.cluster_motifs`)
on the unclipped PWMs, as ``cluster=True`` makes them.
"""
import numpy as np

from k2p_keras.annotate.group.clusters import cluster_motifs
from k2p_keras.annotate.match.tomtom import annotate_motifs, load_database
from k2p_keras.io.meme import Motif
from k2p_keras.transform import information_content

from .data import MOTIF_NAMES, id_to_planted

CLIP_BITS = 0.5
CLIP_FLANK = 3
E_THRESHOLD = 0.1
MIN_OVERLAP = 5
DATABASE = ("JASPAR2016", "vertebrates")


def database():
    return load_database(DATABASE[0], taxon=DATABASE[1])


def clip(pwm, bits=CLIP_BITS, flank=CLIP_FLANK):
    """The columns from the first to the last over ``bits``, ``flank`` more each side; None when none."""
    keep = np.flatnonzero(information_content(pwm) > bits)
    if keep.size == 0:
        return None
    return pwm[max(0, keep[0] - flank):min(len(pwm), keep[-1] + 1 + flank)]


def filter_hits(pwms, db):
    """Per filter: its hits (JASPAR id -> E-value, E < 0.1), {} when it has too few informative columns."""
    clipped = [clip(np.asarray(p, dtype=np.float64)) for p in pwms]
    queries = [Motif(name=f"f{i}", pwm=c) for i, c in enumerate(clipped)
               if c is not None and len(c) >= MIN_OVERLAP]
    hits = [{} for _ in pwms]
    if not queries:
        return hits
    # Every admissible alignment is kept (top = all targets); the clipping replaces the library's trim.
    annotation = annotate_motifs(queries, db, top=len(db), trim_ic=0.0, min_overlap=MIN_OVERLAP)
    for query in queries:
        i = int(query.name[1:])
        hits[i] = {m.target_id: m.e_value for m in annotation.matches(query.name) if m.e_value < E_THRESHOLD}
    return hits


def assign(hits):
    """Per filter: the planted motif of its best (smallest E) planted hit, or None."""
    planted = id_to_planted()
    out = []
    for found in hits:
        ranked = sorted((e, jid) for jid, e in found.items() if jid in planted)
        out.append(planted[ranked[0][1]] if ranked else None)
    return out


def cluster_scores(labels, assignment):
    """Purity: of the clusters holding filters that match a planted motif, the fraction whose such
    filters all match one motif; completeness: of the planted motifs matched at all, the fraction
    whose matching filters all sit in one cluster. (n, n_total) pairs."""
    by_cluster, by_motif = {}, {}
    for label, motif in zip(labels, assignment):
        if motif is not None:
            by_cluster.setdefault(int(label), set()).add(motif)
            by_motif.setdefault(motif, set()).add(int(label))
    pure = sum(len(m) == 1 for m in by_cluster.values())
    complete = sum(len(c) == 1 for c in by_motif.values())
    return (pure, len(by_cluster)), (complete, len(by_motif))


def score_set(pwms, db):
    """The statistics of one PWM set; with the per-filter assignment and clusters kept for later use."""
    hits = filter_hits(pwms, db)
    assignment = assign(hits)
    clusters = cluster_motifs([Motif(name=f"filter_{i}", pwm=np.asarray(p, dtype=np.float64))
                               for i, p in enumerate(pwms)], db)
    (pure, n_clusters), (complete, n_motifs) = cluster_scores(clusters.labels, assignment)
    matched = [a is not None for a in assignment]
    return {
        "filters": len(pwms),
        "match": int(sum(matched)),
        "match_any": int(sum(bool(h) for h in hits)),
        "coverage": len({a for a in assignment if a is not None}),
        "motifs_covered": " ".join(m for m in MOTIF_NAMES if m in set(assignment)),
        "clusters": len(clusters.ids),
        "purity": f"{pure}/{n_clusters}",
        "completeness": f"{complete}/{n_motifs}",
        "assignment": " ".join(a or "-" for a in assignment),
        "cluster_labels": " ".join(str(int(c)) for c in clusters.labels),
    }
