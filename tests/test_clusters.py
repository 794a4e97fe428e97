"""Redundancy clusters (k2p_keras/annotate/group/clusters.py): the filters that learned one planted motif
share a cluster, and Tomtom's offsets are given between whole PWMs."""
import sys

import numpy as np
import pytest

memelite = pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")

from conftest import JASPAR, REPO  # noqa: E402
from k2p_keras import extract  # noqa: E402
from k2p_keras.annotate.group.clusters import cluster_motifs  # noqa: E402
from k2p_keras.annotate.match.tomtom import annotate_motifs, MotifDatabase  # noqa: E402
from k2p_keras.axes import reverse_complement  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme  # noqa: E402

if str(REPO) not in sys.path:  # benchmarks/ is not installed; plain `pytest` does not add the root
    sys.path.insert(0, str(REPO))
from benchmarks.influence import planted_labels  # noqa: E402  (the planted-motif rule)

# The bundled example's planted motifs (example_models/make_examples.py).
PLANTED = {"MA0099.2": "FOS::JUN", "MA0139.1": "CTCF", "MA0035.3": "Gata1", "MA0079.3": "SP1"}


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    result = extract(REPO / "example_models" / "deepbind.h5", REPO / "data" / "example_seqs.h5")
    result.find_clusters(JASPAR)
    return result


def test_the_filters_of_one_planted_motif_share_a_cluster_and_no_cluster_mixes_two(example):
    labels = planted_labels(example.motifs(), PLANTED, JASPAR)
    clusters = example.clusters
    planted = {}
    for f, label in enumerate(labels):
        if label is not None:
            planted.setdefault(PLANTED[label], []).append(f)
    assert planted == {"CTCF": [0, 13], "FOS::JUN": [5], "Gata1": [7, 10], "SP1": [11, 15]}
    for filters in planted.values():
        assert len({clusters.labels[f] for f in filters}) == 1
    for c in clusters.ids:
        assert len({labels[f] for f in clusters.members(c)} - {None}) <= 1
    # Every member of a cluster of several is linked to another; one under 8 bits only as a leaf: to
    # members of 8 bits or more, never to another weak filter.
    weak = clusters.bits < 8
    for c in clusters.ids:
        members = clusters.members(c)
        if len(members) > 1:
            assert all(clusters.linked[i, members].any() for i in members)
            assert not any(clusters.linked[i][weak].any() for i in members if weak[i])
    # A weak filter linked to anything matches that filter (q <= 0.05) or shares its best database motif.
    for i in np.flatnonzero(weak):
        for j in np.flatnonzero(clusters.linked[i]):
            assert clusters.q[i, j] <= 0.05 or (clusters.database_match[i] is not None
                                                 and clusters.database_match[i] == clusters.database_match[j])
    # The background filters under 8 bits with no significant match to an informative filter stay alone.
    assert all(len(clusters.members(clusters.labels[f])) == 1 for f in (2, 8, 12, 14))
    assert clusters.archetypes[clusters.labels[0]] in (0, 13)


def test_each_archetype_has_the_most_bits_of_its_cluster_in_the_report_s_table(example):
    """The rule ("most informative member") and the number the report shows beside it agree."""
    bits = [report.info_bits for report in example.filter_reports()]
    clusters = example.clusters
    assert any(len(clusters.members(c)) > 1 for c in clusters.ids)
    for c in clusters.ids:
        members = clusters.members(c)
        assert bits[clusters.archetypes[c]] == max(bits[f] for f in members), (c, members)


def test_archetypes_are_written_as_meme_and_read_back(example, tmp_path):
    path = tmp_path / "archetypes.meme"
    example.write_archetypes(path)
    clusters = example.clusters
    ours = read_meme(path)
    assert [m.name for m in ours.motifs] == [f"motif_conv_{clusters.archetypes[c]}" for c in clusters.informative_ids]
    np.testing.assert_allclose(ours.motifs[0].pwm, example.exact.pwms[clusters.archetypes[0]], atol=1e-5)
    theirs = memelite.io.read_meme(str(path))
    assert len(theirs) == len(clusters.informative_ids)
    assert "# cluster 0: motif_conv_0 motif_conv_13 (archetype motif_conv_" in path.read_text()


def test_the_summary_gains_the_cluster_column(example):
    row = example.summary_rows()[13]
    assert example.summary_columns[-1] == "cluster" and row["cluster"] == example.clusters.labels[0]


def flanked(pwm, left, right):
    flat = np.full((1, 4), 0.25)
    return np.concatenate([np.repeat(flat, left, 0), pwm, np.repeat(flat, right, 0)])


@pytest.mark.filterwarnings("ignore:tomtom was given 1 target")  # annotation against one motif, for its offset
def test_offsets_and_strands_are_tomtoms_between_whole_pwms():
    """A filter holding a piece of another's reverse complement, each with flat flanks: the
    offsets are those annotation reports against the whole target."""
    ctcf = read_meme(JASPAR).get("MA0139.1").pwm
    target = flanked(ctcf, 3, 2)
    query = flanked(reverse_complement(ctcf)[2:15], 4, 1)
    motifs = [Motif("target", target), Motif("query", query), Motif("flat", np.full((12, 4), 0.25))]
    clusters = cluster_motifs(motifs, JASPAR)
    match = annotate_motifs([motifs[1]], MotifDatabase("one", (motifs[0],))).best_match("query")
    assert (clusters.offsets[1, 0], clusters.strands[1, 0]) == (match.offset, 1) and match.orientation == "-"
    # The query's reverse complement holds ctcf[4:17] from its column 1: it starts at the target's column 6.
    assert len(target) - clusters.offsets[1, 0] - len(query) == 6
    assert clusters.labels.tolist() == [0, 0, 1] and not clusters.informative[2]  # the flat filter: on its own
    assert clusters.ids == [0, 1] and clusters.informative_ids == [0] and clusters.q[2, 0] == 1.0
    assert clusters.archetypes == {0: 0, 1: 2}  # the whole motif holds more information than its piece


# ----------------------------------------------------------------------------- one learned motif, one cluster

def flat_padded(pwm, width):
    """A PWM centred in ``width`` columns, uniform around it, and no zero (a kernel needs a logarithm)."""
    pwm = (np.asarray(pwm) + 0.01) / (1 + 0.04)
    left = (width - len(pwm)) // 2
    return flanked(pwm, left, width - len(pwm) - left)


def model_of_motifs(path, pwms):
    """A real Keras model whose conv filters are the PWMs (W = ln P: base e gives them back), saved."""
    import keras

    from k2p_keras.initializer import set_conv_from_meme

    width = len(pwms[0])
    model = keras.Sequential([keras.Input((60, 4)), keras.layers.Conv1D(len(pwms), width, name="motif_conv"),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    set_conv_from_meme(model.get_layer("motif_conv"), [Motif(f"m{i}", p) for i, p in enumerate(pwms)], base=np.e)
    model.save(path)
    return path


def test_a_motif_its_reverse_complement_shifted_copy_and_half_sites_make_one_cluster(tmp_path):
    """CTCF whole, reverse complement, shifted, and both halves (which do not match each other,
    so complete linkage split them) in one cluster; Gata1 and FOS::JUN each in one of their own."""
    jaspar = read_meme(JASPAR)
    ctcf, gata, fos = (jaspar.get(i).pwm for i in ("MA0139.1", "MA0035.3", "MA0099.2"))
    width = 21
    pwms = [flat_padded(p, width) for p in (ctcf, reverse_complement(ctcf), ctcf[5:], ctcf[:10], ctcf[9:], gata, fos)]
    pwms[2] = flanked(pwms[2][5:], 0, 5)  # the shifted copy sits at the kernel's left edge
    result = extract(model_of_motifs(tmp_path / "ctcf.keras", pwms), base=np.e, cluster=JASPAR)
    np.testing.assert_allclose(result.exact.pwms, np.array(pwms), atol=1e-5)  # the filters are these motifs
    clusters = result.clusters
    assert len(set(clusters.labels[:5])) == 1 and len(set(clusters.labels)) == 3, clusters.labels
    assert clusters.q[3, 4] > 0.05  # the two halves alone: no significant match, yet one cluster
    assert clusters.database_match[:5] == ["MA0139.1"] * 5
    assert clusters.archetypes[clusters.labels[0]] in (0, 1)  # a whole CTCF: the most informative member
    archetypes = tmp_path / "archetypes.meme"
    result.write_archetypes(archetypes)
    assert len(read_meme(archetypes).motifs) == 3
    assert "# cluster 0: motif_conv_0 motif_conv_1 motif_conv_2 motif_conv_3 motif_conv_4 (archetype" \
        in archetypes.read_text()


def test_two_unrelated_motifs_do_not_merge_through_a_low_information_filter(tmp_path):
    """A filter of under 8 bits blending a piece of Gata1 with FOS::JUN matches both significantly;
    single linkage over every significant match would chain the two motifs through it."""
    jaspar = read_meme(JASPAR)
    gata, fos = (jaspar.get(i).pwm for i in ("MA0035.3", "MA0099.2"))
    blend = (0.5 * gata[4:11] + 0.5 * fos) ** 1.3
    blend /= blend.sum(axis=1, keepdims=True)
    pwms = [flat_padded(p, 15) for p in (gata, fos, blend)]
    clusters = extract(model_of_motifs(tmp_path / "two.keras", pwms), base=np.e, cluster=JASPAR).clusters
    assert clusters.bits[2] < 8 and clusters.q[2, 0] <= 0.05 and clusters.q[2, 1] <= 0.05, (clusters.bits, clusters.q)
    assert clusters.q[0, 1] > 0.05
    assert len(set(clusters.labels)) == 3 and not clusters.linked.any()


def test_a_weaker_copy_of_a_learned_motif_joins_its_cluster(tmp_path):
    """Mid-training, most copies of a learned motif hold under 8 bits: one matching only the
    filters of one cluster joins it as a leaf (it was left on its own); the blend above, which
    matches two clusters, still does not."""
    jaspar = read_meme(JASPAR)
    fos = jaspar.get("MA0099.2").pwm
    weak = fos ** 0.6
    weak /= weak.sum(axis=1, keepdims=True)
    pwms = [flat_padded(p, 15) for p in (fos, weak)]
    clusters = extract(model_of_motifs(tmp_path / "copy.keras", pwms), base=np.e, cluster=JASPAR).clusters
    assert clusters.bits[1] < 8 <= clusters.bits[0], clusters.bits
    assert clusters.q[0, 1] <= 0.05 or clusters.database_match[1] == clusters.database_match[0]
    assert clusters.labels[0] == clusters.labels[1] and clusters.linked[0, 1]


def test_a_weak_background_filter_does_not_ride_into_a_motif_s_cluster_on_one_link(example):
    """With the newest JASPAR (what a user gets without --db), the example's background filter 6
    (8.3 bits, no database match) links to the CTCF filters; weak background filters (3: no
    database match, 8: NFIB's at best) match filter 6 alone. Joining on that one link put ten of
    the sixteen filters in the CTCF cluster; a leaf needs at least half of a cluster's strong
    filters."""
    clusters = cluster_motifs(example.motifs())
    ctcf = clusters.labels[0]
    assert clusters.labels[13] == ctcf
    strong = np.flatnonzero((clusters.bits >= clusters.low_bits) & (clusters.labels == ctcf))
    for w in np.flatnonzero((clusters.bits < clusters.low_bits) & (clusters.labels == ctcf)):
        assert 2 * clusters.linked[w, strong].sum() >= len(strong), (w, clusters.linked[w, strong])
    assert clusters.labels[3] != ctcf and clusters.labels[8] != ctcf, clusters.labels
