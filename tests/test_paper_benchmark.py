"""The paper benchmark (benchmarks/paper): its measures, and its quick run end to end.

The quick run checks the paper's exactness claim where it matters to a user: the model's
own predictions, rebuilt from exact PWM log-likelihoods plus the constants, agree to
float32 rounding; rebuilt from heuristic PWMs, they do not.
"""
import importlib.util
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import JASPAR, REPO

pytest.importorskip("sklearn", reason="the benchmark needs scikit-learn (pip install -e '.[test]')")
if str(REPO) not in sys.path:  # benchmarks/ is not installed; plain `pytest` does not add the root
    sys.path.insert(0, str(REPO))
from benchmarks.paper import metrics  # noqa: E402
from benchmarks.paper.report import read_csv  # noqa: E402
from benchmarks.paper.simulate import plant_sites, random_background, reverse_complement  # noqa: E402


def _random_pwm(rng, width):
    return rng.dirichlet(np.full(4, 0.3), size=width)


def test_best_window_log_likelihood_is_the_largest_over_all_windows():
    rng = np.random.default_rng(1)
    pwms = np.stack([_random_pwm(rng, 6) for _ in range(3)])
    x = random_background(5, 30, rng)
    found = metrics.best_window_log_likelihood(pwms, x)
    for n in range(5):
        for t in range(3):
            every = [np.log(pwms[t][np.arange(6), x[n, p:p + 6].argmax(axis=1)]).sum() for p in range(25)]
            assert found[n, t] == pytest.approx(max(every), rel=1e-12)


def test_a_motif_is_its_own_best_match_on_either_strand_and_inside_a_longer_filter():
    rng = np.random.default_rng(2)
    motif = _random_pwm(rng, 8)
    longer = np.concatenate([np.full((3, 4), 0.25), reverse_complement(motif), np.full((2, 4), 0.25)])
    correlation, distance = metrics.motif_similarity(longer, motif)
    assert correlation == pytest.approx(1.0)
    assert distance == pytest.approx(0.0, abs=1e-12)
    assert metrics.motif_similarity(_random_pwm(rng, 12), motif)[0] < 0.9


def test_partial_overlaps_need_half_the_motif_and_at_least_five_positions():
    assert metrics.min_overlap(6) == 5
    assert metrics.min_overlap(15) == 8
    assert metrics.min_overlap(4) == 4


def test_every_positive_carries_one_site():
    rng = np.random.default_rng(3)
    pwm = np.eye(4)[[0, 1, 2, 3, 3, 3]]  # ACGTTT, no freedom: the site is that word or its complement
    seqs = plant_sites(random_background(50, 40, rng), pwm, rng)
    letters = ["".join("ACGT"[i] for i in s.argmax(axis=1)) for s in seqs]
    assert all("ACGTTT" in s or "AAACGT" in s for s in letters)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    if not JASPAR.is_file():
        pytest.skip(f"JASPAR motifs not found at {JASPAR}")
    out = tmp_path_factory.mktemp("paper")
    subprocess.run([sys.executable, "-m", "benchmarks.paper", "--quick", "--meme", str(JASPAR), "--out", str(out)],
                   cwd=REPO, check=True, timeout=600)
    return out


@pytest.mark.slow  # the benchmark's quick run (the module's fixture) trains and scores every PWM set
def test_quick_run_writes_the_table_the_csv_and_the_plot(quick_run):
    table = (quick_run / "random.md").read_text()
    assert "python -m benchmarks.paper --quick" in table
    assert "TensorFlow" in table and "CPUs" in table and "runtime" in table
    rows = read_csv(quick_run / "random.csv")
    assert len(rows) == 3
    for row in rows:
        assert f"| {row['motif']} |" in table
    for label in ("exact, per-filter base", "exact, shared base", "exact, shared base, strong sites",
                  "exact, per-filter base, active sites", "heuristic (DeepBind)"):
        assert f"| {label} |" in table
    assert (quick_run / "random_auroc.png").stat().st_size > 1000
    assert (quick_run / "random_recovery.png").stat().st_size > 1000
    if importlib.util.find_spec("memelite"):  # the annotation measure runs when the annotate extra is there
        assert "top match is the planted motif" in (quick_run / "random_annotation.md").read_text()


@pytest.mark.slow  # the benchmark's quick run (the module's fixture) trains and scores every PWM set
def test_quick_run_exact_pwms_rebuild_the_model_and_heuristic_ones_do_not(quick_run):
    for row in read_csv(quick_run / "random.csv"):
        assert row["mape_exact_per_filter"] < 1e-4
        assert row["mape_exact_shared"] < 1e-4
        assert row["mape_heuristic"] > 1e-3
        assert row["mape_heuristic"] > 100 * row["mape_exact_per_filter"]
        for name in ("exact_per_filter", "exact_shared", "heuristic"):
            assert 0.0 <= row[f"auroc_{name}"] <= 1.0
            assert math.isfinite(row[f"recovery_{name}"])


@pytest.mark.slow  # the benchmark's quick run (the module's fixture) trains and scores every PWM set
def test_quick_run_saves_each_sets_best_filter_for_a_database_search(quick_run):
    from benchmarks.paper.pwm_sets import SET_NAMES
    from k2p_keras.io.meme import read_meme

    planted = read_meme(JASPAR)
    saved = read_meme(quick_run / "random_best_filters.meme")
    rows = read_csv(quick_run / "random.csv")
    assert len(saved.motifs) == len(rows) * len(SET_NAMES)
    for row in rows:
        for name in SET_NAMES:
            motif = saved.get(f"{row['motif']}__{name}")
            # The saved PWM is the one the table's recovery was measured on.
            correlation, distance = metrics.motif_similarity(motif.pwm, planted.get(row["motif"]).pwm)
            assert correlation == pytest.approx(row[f"recovery_{name}"], abs=1e-9)
            assert distance == pytest.approx(row[f"recovery_distance_{name}"], abs=1e-9)


@pytest.mark.slow  # the benchmark's annotation step runs Tomtom against JASPAR in a fresh interpreter
def test_annotation_measure_counts_the_planted_motif_as_top_match_only_when_it_is(tmp_path):
    """benchmarks.paper.annotation on best filters made of JASPAR motifs: planted ones count, others not."""
    pytest.importorskip("memelite", reason="the annotation measure needs the annotate extra")
    from benchmarks.paper.pwm_sets import SET_NAMES
    from k2p_keras.io.meme import Motif, read_meme, write_meme

    planted = read_meme(JASPAR).motifs
    chosen = [planted[10], planted[200], planted[400]]
    queries = []
    for i, motif in enumerate(chosen):
        flank = np.full((2, 4), 0.25)
        as_filter = np.vstack([flank, motif.pwm, flank])  # a filter 4 columns wider, as in the benchmark
        other = chosen[(i + 1) % len(chosen)].pwm  # the heuristic's slot holds another motif
        for name in SET_NAMES:
            queries.append(Motif(name=f"{motif.name}__{name}", pwm=other if name == "heuristic" else as_filter))
    path = tmp_path / "random_best_filters.meme"
    write_meme(path, queries)
    subprocess.run([sys.executable, "-m", "benchmarks.paper.annotation", str(path), "--db", str(JASPAR)],
                   cwd=REPO, check=True, timeout=600)
    table = (tmp_path / "random_annotation.md").read_text()
    rows = read_csv(tmp_path / "random_annotation.csv")
    assert len(rows) == 3 * len(SET_NAMES)
    for row in rows:
        assert row["top_is_planted"] == str(row["set"] != "heuristic")
    assert "| exact, shared base | 3/3 | (default) |" in table
    assert "| heuristic (DeepBind) | 0/3 | 0/3 (p = 0.25) |" in table
