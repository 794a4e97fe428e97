"""Koo & Eddy's planted-motif benchmark (benchmarks/koo_eddy): the grammars, the scoring of a
filter set built from the true motifs, and the quick profile end to end (train, evaluate, table)."""
import csv
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

pytest.importorskip("sklearn", reason="the benchmark needs scikit-learn (pip install -e '.[test]')")
pytest.importorskip("memelite", reason="the benchmark's Tomtom needs the annotate extra")
pytest.importorskip("pyjaspar", reason="the benchmark's database (JASPAR 2016) needs the annotate extra")
if str(REPO) not in sys.path:  # benchmarks/ is not installed; plain `pytest` does not add the root
    sys.path.insert(0, str(REPO))
from benchmarks.koo_eddy import data as kdata  # noqa: E402
from benchmarks.koo_eddy import scoring  # noqa: E402


def _letters(onehot):
    return "".join("ACGT"[i] for i in onehot.argmax(axis=1))


def test_grammars_plant_the_labelled_motifs_on_either_strand():
    rng = np.random.default_rng(0)
    words = ["AACCGGTA", "GATTACAG"]
    pwms = [np.eye(4)[["ACGT".index(c) for c in w]] for w in words]
    x, y = kdata.simulate(pwms, 200, 60, rng)
    complements = [w[::-1].translate(str.maketrans("ACGT", "TGCA")) for w in words]
    assert x.shape == (200, 60, 4) and (x.sum(axis=2) == 1).all()
    for seq, labels in zip(x, y):
        text = _letters(seq)
        for j in range(2):
            present = words[j] in text or complements[j] in text
            if labels[j]:
                assert present
    assert y.sum(axis=1).min() >= 1  # every sequence holds 1 to 5 motifs
    strands = [sum(w in _letters(s) for s in x) for w in words + complements]
    assert min(strands) > 10  # both strands are planted


def test_split_is_70_10_20_and_the_seed_fixes_the_data():
    a = kdata.build_data(3, 100, 120)
    b = kdata.build_data(3, 100, 120)
    assert [len(a[f"x_{s}"]) for s in ("train", "valid", "test")] == [70, 10, 20]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(kdata.build_data(4, 100, 120)["x_test"], a["x_test"])


def test_clip_keeps_the_informative_columns_and_three_more_each_side():
    pwm = np.full((19, 4), 0.25)
    pwm[8:11] = np.eye(4)[[0, 1, 2]] * 0.97 + 0.01
    clipped = scoring.clip(pwm)
    assert len(clipped) == 3 + 3 + 3
    assert scoring.clip(np.full((19, 4), 0.25)) is None


def test_purity_and_completeness_from_cluster_labels():
    labels = [0, 0, 1, 2, 2, 3]
    assignment = ["MAX", "MAX", "MAX", "SP1", "YY1", None]
    (pure, n_clusters), (complete, n_motifs) = scoring.cluster_scores(labels, assignment)
    assert (pure, n_clusters) == (2, 3)  # cluster 2 mixes SP1 and YY1
    assert (complete, n_motifs) == (2, 3)  # MAX is split over clusters 0 and 1


def test_filters_set_to_the_planted_motifs_name_them(tmp_path):
    """A CNN-25 whose first 12 filters are the planted motifs' log-probabilities (the rest zero):
    the exact default PWMs and Koo's heuristic recover them, and the scoring names them."""
    import keras

    from benchmarks.koo_eddy.model import CONV_NAME, TrainSettings, build_model
    from benchmarks.koo_eddy.pwm_sets import koo_set, library_set
    from k2p_keras.initializer import motifs_to_kernel

    motifs = kdata.planted_motifs()
    rng = np.random.default_rng(5)
    x, _ = kdata.simulate([m.pwm for m in motifs], 400, 200, rng)
    x = x.astype(np.float32)
    model = build_model(25, 200, 12, TrainSettings())
    conv = model.get_layer(CONV_NAME)
    kernel = np.zeros(conv.kernel.shape)
    kernel[:, :, :12] = motifs_to_kernel(motifs, 19, base=np.e, delta=1e-3)
    # The consensus scores 8: windows within 8 nats of it pass the ReLU, within 4 count for Koo.
    bias = np.zeros(conv.bias.shape)
    bias[:12] = 8.0 - kernel[:, :, :12].max(axis=1).sum(axis=0)
    conv.set_weights([kernel, bias])
    path = tmp_path / "planted.keras"
    model.save(path)
    db = scoring.database()
    for name, pwms in (("default", library_set(path, x, "default")[0]), ("koo", koo_set(path, x, CONV_NAME))):
        found = scoring.score_set(pwms, db)
        named = found["assignment"].split()
        assert found["match"] >= 10, (name, found)
        assert found["coverage"] >= 10, (name, found)
        assert sum(named[i] == kdata.MOTIF_NAMES[i] for i in range(12)) >= 10, (name, named)
        assert all(a == "-" for a in named[12:]), (name, named)  # the zero filters name nothing


@pytest.mark.slow  # the benchmark's quick run trains a CNN-25 and evaluates it
def test_quick_run_trains_evaluates_and_writes_the_table(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    subprocess.run([sys.executable, "-m", "benchmarks.koo_eddy", "run", "--quick", "--cache", str(cache),
                    "--pools", "25", "--seeds", "0", "--sets", "default,per_filter,heuristic,koo",
                    "--out", str(out)], cwd=REPO, check=True)
    with open(out / "koo_eddy.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["snapshot"], r["set"]) for r in rows} == {
        (snap, s) for snap in ("converged", "mid") for s in ("default", "per_filter", "heuristic", "koo")}
    for row in rows:
        assert row["filters"] == "30"
        assert int(row["match"]) <= int(row["match_any"]) <= 30
        assert len(row["assignment"].split()) == 30 and len(row["cluster_labels"].split()) == 30
    text = (out / "koo_eddy.md").read_text()
    assert "python -m benchmarks.koo_eddy run --quick" in text and "| CNN-25 | 0 | mid" in text
    assert (cache / "data0_n600" / "cnn25_seed0" / "final.keras").exists()
