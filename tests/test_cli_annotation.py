"""Annotation from the model command and the callback: a model whose filters hold known JASPAR
motifs must have them named, for the exact and the heuristic PWMs alike."""
import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")
keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from conftest import JASPAR, REPO  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.initializer import set_conv_from_meme  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402

LENGTH, WIDTH = 120, 21
# CTCF, FOS::JUN (AP-1), GATA1 and REST: distinct, well-known motifs.
SEEDED = ["MA0139.1", "MA0099.2", "MA0035.3", "MA0138.2"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A model whose filters are JASPAR motifs at base 2, and sequences carrying a site of each.

    Every sequence holds one site drawn from each motif (in its own 30-bp slot), so each
    filter's best window is a site nearly always, and the bias lets those windows through the ReLU.
    """
    folder = tmp_path_factory.mktemp("seeded")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((LENGTH, 4))
    h = layers.Conv1D(len(SEEDED), WIDTH, activation="relu", name="motif_conv")(inputs)
    model = keras.Model(inputs, layers.Dense(1)(layers.GlobalMaxPooling1D()(h)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JASPAR's zero counts are replaced by a small delta
        set_conv_from_meme(model.get_layer("motif_conv"), JASPAR, motifs=SEEDED, base=2.0)
    by_id = {m.name: m for m in read_meme(JASPAR).motifs}
    rng = np.random.default_rng(0)
    letters = rng.integers(0, 4, size=(300, LENGTH))
    for s in range(300):
        for k, motif_id in enumerate(SEEDED):
            motif = by_id[motif_id].pwm
            start = 30 * k + rng.integers(0, 30 - len(motif) + 1)
            letters[s, start:start + len(motif)] = [rng.choice(4, p=row / row.sum()) for row in motif]
    x = np.eye(4, dtype=np.uint8)[letters]
    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (WIDTH, 4), axis=(1, 2))[:, :, 0]
    best = np.einsum("npla,laf->npf", windows, kernel).max(axis=1)
    model.get_layer("motif_conv").set_weights([kernel, -np.quantile(best, 0.05, axis=0)])
    model.save(folder / "seeded.keras")
    with h5py.File(folder / "seqs.h5", "w") as f:
        f["x"] = x
    return folder


def test_model_command_names_the_seeded_motifs(seeded, tmp_path):
    out = {k: tmp_path / f for k, f in (("meme", "m.meme"), ("summary", "s.tsv"), ("matches", "m.tsv"),
                                         ("report", "r.html"))}
    result = CliRunner().invoke(cli, [str(seeded / "seeded.keras"), str(seeded / "seqs.h5"), "--method", "both",
                                      "--annotate", "--db", str(JASPAR), "-o", str(out["meme"]), "--summary",
                                      str(out["summary"]), "--matches", str(out["matches"]), "--report",
                                      str(out["report"])])
    assert result.exit_code == 0, result.output
    lines = [line for line in out["summary"].read_text().splitlines() if not line.startswith("#")]
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert [r["best_match_id"] for r in rows] == SEEDED
    assert [r["heuristic_best_match_id"] for r in rows] == SEEDED
    assert all(r["annotation"] == "match" and r["heuristic_annotation"] == "match" for r in rows)
    matches = out["matches"].read_text().splitlines()
    assert matches[0].split("\t")[:6] == ["Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value"]
    found = {(line.split("\t")[0], line.split("\t")[1]) for line in matches[1:]}
    assert {(f"motif_conv_{t}_exact", motif_id) for t, motif_id in enumerate(SEEDED)} <= found
    html = out["report"].read_text()
    assert "MA0139.1" in html and "CC BY 4.0" in html and "motif_conv (Conv1D, relu)" in html


def test_callback_annotates_every_dump(seeded, tmp_path):
    from k2p_keras.callback import PWMCallback

    model = keras.models.load_model(seeded / "seeded.keras")
    with h5py.File(seeded / "seqs.h5") as f:
        x = f["x"][()].astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(1e-6), loss="mse")
    callback = PWMCallback(x, tmp_path, every=1, annotate=str(JASPAR))
    model.fit(x, np.zeros(len(x)), epochs=2, verbose=0, callbacks=[callback])
    lines = (tmp_path / "summary.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert header[-2:] == ["pwm_change", "sequences_scanned"] and "best_match_id" in header
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert [r["best_match_id"] for r in rows] == SEEDED * 2


@pytest.mark.parametrize("extra, message", [
    (["--db", "JASPAR1999"], "JASPAR1999"),
    (["--annotate", "--db", "no_such_file.meme"], "no_such_file.meme"),
])
def test_a_bad_database_fails_before_the_scan(seeded, tmp_path, extra, message):
    out = tmp_path / "m.meme"
    result = CliRunner().invoke(cli, [str(seeded / "seeded.keras"), str(seeded / "seqs.h5"), *extra, "-o", str(out)])
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_without_the_extra_annotate_fails_before_the_scan(seeded, tmp_path):
    code = ("import sys; sys.modules['memelite'] = None; from k2p_keras.cli import main; "
            f"main([{str(seeded / 'seeded.keras')!r}, {str(seeded / 'seqs.h5')!r}, '--annotate', "
            f"'-o', {str(tmp_path / 'm.meme')!r}])")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "pip install 'k2p-keras[annotate]'" in done.stderr
    assert "scanning" not in done.stderr and not (tmp_path / "m.meme").exists()


def test_the_bundled_example_learned_the_four_planted_motifs(tmp_path):
    """example_models/make_examples.py plants FOS::JUN, CTCF, Gata1 and SP1 (JASPAR 2016); the
    trained model's filters are annotated against JASPAR's newest vertebrate release, and each
    planted factor is a significant match of some filter, exact and heuristic alike."""
    matches = tmp_path / "matches.tsv"
    result = CliRunner().invoke(cli, [str(REPO / "example_models" / "deepbind.h5"),
                                      str(REPO / "data" / "example_seqs.h5"), "--method", "both", "-q",
                                      "-o", str(tmp_path / "m.meme"), "--matches", str(matches)])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in matches.read_text().splitlines()[1:]]
    for method in ("exact", "heuristic"):
        named = {row[10] for row in rows if row[0].endswith(f"_{method}")}
        for factor in ("FOS::JUN", "CTCF", "GATA1", "SP1"):
            assert factor in named, (method, factor, sorted(named))
