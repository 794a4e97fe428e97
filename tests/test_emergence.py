"""Emergence over training: a real PWMCallback folder from a short fit, and its report as a browser shows it."""
import re
import warnings

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")
pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")
pytest.importorskip("matplotlib")
import matplotlib.colors  # noqa: E402

from conftest import assert_self_contained, JASPAR, REPO, render_in_chromium  # noqa: E402
from k2p_keras import PWMCallback  # noqa: E402
from k2p_keras.annotate.draw.emergence import (annotate_epochs, EpochState, FilterHistory,  # noqa: E402
    filter_histories)
from k2p_keras.annotate.draw.filters import match_rank  # noqa: E402
from k2p_keras.annotate.draw.logos import COLORS  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.initializer import PWMInitializer  # noqa: E402
from k2p_keras.io.callback_folder import read_callback_folder  # noqa: E402

EPOCHS, FILTERS = 3, 4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short fit of a tiny model on the bundled example, two callbacks: one annotating its dumps, one not.

    Filter 0 starts as CTCF (planted in the example), so that one filter matches from the first dump.
    """
    folder = tmp_path_factory.mktemp("emergence")
    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        x, y = f["x"][:2000].astype("float32"), f["y"][:2000].astype("float32")
    keras.utils.set_random_seed(3)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="motif MA0139.1 has zero probabilities")  # CTCF's zeros, floored
        ctcf = PWMInitializer(JASPAR, base=4.0, motifs=["MA0139.1"])
        model = keras.Sequential([keras.Input((100, 4)),
                                  keras.layers.Conv1D(FILTERS, 19, activation="relu", name="motif_conv",
                                                      kernel_initializer=ctcf),
                                  keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    callbacks = [PWMCallback(x, folder / "annotated", every=1, annotate=str(JASPAR)),
                 PWMCallback(x, folder / "plain", every=1)]
    model.fit(x, y, epochs=EPOCHS, batch_size=64, verbose=0, callbacks=callbacks)
    return folder


def test_a_callback_folder_reads_back_as_the_callback_wrote_it(run):
    plain, annotated = read_callback_folder(run / "plain"), read_callback_folder(run / "annotated")
    assert plain.epochs == annotated.epochs == [1, 2, 3]
    assert plain.names == [f"motif_conv_{t}" for t in range(FILTERS)]
    assert annotated.annotated and not plain.annotated
    # The same model dumped by both: the same PWMs, the same figures.
    for epoch in plain.epochs:
        assert np.allclose([m.pwm for m in plain.motifs[epoch]], [m.pwm for m in annotated.motifs[epoch]])
    assert plain.rows[(2, "motif_conv_1")]["pwm_change"] == annotated.rows[(2, "motif_conv_1")]["pwm_change"] > 0


def test_matches_annotated_here_equal_the_callbacks_own(run):
    own = filter_histories(read_callback_folder(run / "annotated"))
    plain = read_callback_folder(run / "plain")
    here = filter_histories(plain, annotate_epochs(plain, JASPAR))
    assert [h.name for h in own] == [h.name for h in here]
    for a, b in zip(own, here):
        assert [s.target_id for s in a.states] == [s.target_id for s in b.states]
        assert [s.significant for s in a.states] == [s.significant for s in b.states]
        # The callback annotated its float64 PWMs, the command the MEME files' six digits.
        assert np.allclose([s.q_value for s in a.states], [s.q_value for s in b.states], rtol=1e-3, equal_nan=True)


def test_filters_are_ordered_as_in_the_last_epochs_report(run):
    folder = read_callback_folder(run / "annotated")
    histories = filter_histories(folder)
    last = [h.last for h in histories]
    keys = [match_rank(s.significant, s.compared, s.bits, s.q_value) for s in last]
    assert keys == sorted(keys)
    # Each state is the summary's row of that dump.
    for history in histories:
        for state in history.states:
            row = folder.rows[(state.epoch, history.name)]
            assert state.target_id == row["best_match_id"] and state.significant == (row["annotation"] in ("match", "weak match"))
            assert state.change == row["pwm_change"] or (np.isnan(state.change) and state.epoch == 1)


@pytest.fixture(scope="module")
def page(run):
    out = run / "emergence.html"
    result = CliRunner().invoke(cli, ["report", str(run / "annotated"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_the_report_shows_every_filter_at_every_dump_in_one_file(page, run):
    text = page.read_text()
    sources = assert_self_contained(text)
    assert len(sources) == EPOCHS * FILTERS  # a logo per filter and dump
    assert "own, at each dump (summary.tsv" in text and "CC BY 4.0" in text
    order = [h.name for h in filter_histories(read_callback_folder(run / "annotated"))]
    assert re.findall(r'<section id="f-([^"]+)"', text) == order
    assert re.findall(r'<a href="#f-([^"]+)"', text) == order  # the grid, in the same order
    assert "epoch 1" in text and "epoch 3" in text
    ctcf = text[text.index('<section id="f-motif_conv_0"'):]
    assert ctcf.index("match: MA0139.1 CTCF") < ctcf.index("CTCF since epoch 1") < ctcf.index("</h2>")


def test_a_folder_the_callback_did_not_annotate_is_annotated_by_the_command(run, tmp_path):
    out = tmp_path / "plain.html"
    result = CliRunner().invoke(cli, ["report", str(run / "plain"), "-o", str(out), "--db", str(JASPAR)])
    assert result.exit_code == 0, result.output
    assert "annotated by this report" in out.read_text() and "JASPAR_CORE_2016.meme" in out.read_text()
    assert f"{FILTERS} filters over {EPOCHS} dumps" in result.output


def test_asking_for_another_threshold_annotates_the_dumps_again(run, tmp_path, monkeypatch):
    import k2p_keras.cli.report as command

    calls = []

    def annotate_here(folder, database, **options):  # the default database, swapped for the bundled file
        calls.append((database, options["q_threshold"]))
        return annotate_epochs(folder, JASPAR, **options)

    monkeypatch.setattr(command, "annotate_epochs", annotate_here)
    runner = CliRunner()
    assert runner.invoke(cli, ["report", str(run / "annotated"), "-o", str(tmp_path / "own.html"), "-q"]).exit_code == 0
    assert calls == []  # the callback's own matches
    out = tmp_path / "strict.html"
    result = runner.invoke(cli, ["report", str(run / "annotated"), "-o", str(out), "--q-threshold", "1e-12", "-q"])
    assert result.exit_code == 0, result.output
    assert calls == [(None, 1e-12)]
    text = out.read_text()
    assert "annotated by this report; match: q-value &lt;= 1e-12" in text
    assert "0 of 4 filters match" in text  # CTCF's q of about 1e-8 is no match at 1e-12


def test_the_report_renders_in_a_headless_browser(page, tmp_path):
    image = render_in_chromium(page, tmp_path / "emergence.png", size=(1200, 1800))
    for letter in "ACGT":
        colour = np.array(matplotlib.colors.to_rgb(COLORS[letter]))
        assert np.sum(np.all(np.abs(image - colour) < 0.02, axis=2)) > 20, letter
    # The change bars of epochs 2 and 3 are drawn.
    blue = np.array(matplotlib.colors.to_rgb("#4a78b5"))
    assert np.sum(np.all(np.abs(image - blue) < 0.03, axis=2)) > 20


@pytest.mark.parametrize("args, message", [
    (["report", "{tmp}", "-o", "{tmp}/r.html"], "no epoch_NNNN.meme in the folder"),
    (["report", "{tmp}/missing", "-o", "{tmp}/r.html"], "does not exist"),
    (["report", "{tmp}"], "Missing option '-o'"),
])
def test_a_folder_that_is_not_a_callbacks_fails_in_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) <= 3 and not (tmp_path / "r.html").exists()


def test_since_is_the_start_of_the_last_matchs_unbroken_run():
    def state(epoch, name, significant, bits=12.0):
        return EpochState(epoch, np.full((8, 4), 0.25), bits, 0.0, "MA0000.1" if name else "", name, 0.01,
                          significant, True)

    assert FilterHistory("f", [state(1, "SP1", True), state(2, "SP1", True)]).since() == 1
    # A weak match (few bits), a break, a turn from CTCF into SP1, or a paralog start the run again.
    assert FilterHistory("f", [state(1, "SP1", True, bits=6.0), state(2, "SP1", True)]).since() == 2
    assert FilterHistory("f", [state(1, "SP1", True), state(2, "SP1", False), state(3, "SP1", True)]).since() == 3
    assert FilterHistory("f", [state(1, "CTCF", True), state(2, "SP1", True), state(3, "SP1", True)]).since() == 2
    assert FilterHistory("f", [state(1, "SP2", True), state(2, "KLF8", True)]).since() == 2
    assert FilterHistory("f", [state(1, "SP1", True), state(2, "SP1", False)]).since() is None
