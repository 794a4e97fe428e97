"""The first layer's verdict (k2p_keras/annotate/describe/layer.py): a layer of whole JASPAR motifs holds
whole motifs; a layer of random kernels beside one motif looks like partial motifs, and says what
the literature advises; influence weighs the filters by what the model reads of them."""
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")
keras = pytest.importorskip("keras")

from conftest import assert_self_contained, JASPAR, render_in_chromium  # noqa: E402
from k2p_keras import extract  # noqa: E402
from k2p_keras.annotate.describe.layer import layer_verdict, WHOLE_MOTIF_SHARE  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.initializer import set_conv_from_meme  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme  # noqa: E402

WIDTH, LENGTH = 15, 60
WHOLE = ["MA0139.1", "MA0035.3", "MA0099.2", "MA0079.3", "MA0138.2"]  # CTCF, Gata1, FOS::JUN, SP1, REST
ADVICE = ("a larger first-layer max-pool (Koo & Eddy 2019", "an exponential activation in the first layer "
          "(Koo & Ploenzke 2021")


def centred(pwm, width=WIDTH):
    """The PWM's most informative ``width`` columns (or all), centred, no zeros (a kernel needs a log)."""
    pwm = (np.asarray(pwm) + 0.01) / 1.04
    if len(pwm) > width:
        bits = 2 + (pwm * np.log2(pwm)).sum(axis=1)
        start = int(np.argmax(np.convolve(bits, np.ones(width), "valid")))
        pwm = pwm[start:start + width]
    left = (width - len(pwm)) // 2
    flat = np.full((1, 4), 0.25)
    return np.concatenate([np.repeat(flat, left, 0), pwm, np.repeat(flat, width - len(pwm) - left, 0)])


def save_model(path, kernel, dense):
    """A real Keras model: conv (linear) -> global max-pool -> one sigmoid, the conv's kernel given."""
    model = keras.Sequential([keras.Input((LENGTH, 4)), keras.layers.Conv1D(kernel.shape[2], WIDTH, name="motif_conv"),
                              keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    model.get_layer("motif_conv").set_weights([kernel, np.zeros(kernel.shape[2])])
    model.layers[-1].set_weights([np.asarray(dense, dtype=np.float32)[:, None], np.zeros(1)])
    model.save(path)
    return path


def motif_kernel(pwms):
    """The kernel ``W = ln P`` of the PWMs (base e gives them back), through the package's initializer."""
    layer = keras.layers.Conv1D(len(pwms), WIDTH)
    layer.build((None, LENGTH, 4))
    set_conv_from_meme(layer, [Motif(f"m{i}", p) for i, p in enumerate(pwms)], base=np.e)
    return layer.get_weights()[0]


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layers")
    jaspar = read_meme(JASPAR)
    whole = motif_kernel([centred(jaspar.get(i).pwm) for i in WHOLE])
    rng = np.random.default_rng(1)
    # Random kernels: a few bits a filter (15 columns, 0.5-1 bit each), no motif of any factor.
    partial = np.concatenate([motif_kernel([centred(jaspar.get("MA0035.3").pwm)]),
                              rng.normal(0.0, 1.5, size=(WIDTH, 4, 11))], axis=2)
    return {"whole": save_model(folder / "whole.keras", whole, np.ones(len(WHOLE))),
            # The model reads the Gata1 filter; the random ones hardly.
            "partial": save_model(folder / "partial.keras", partial, [3.0] + [0.01] * 11)}


def run_cli(model, folder):
    out = {k: folder / f for k, f in (("summary", "s.tsv"), ("report", "r.html"), ("meme", "m.meme"))}
    result = CliRunner().invoke(cli, [str(model), "--base", "e", "--annotate", str(JASPAR), "-o", str(out["meme"]),
                                      "--summary", str(out["summary"]), "--report", str(out["report"])])
    assert result.exit_code == 0, result.output
    return result.output, out["summary"].read_text().splitlines(), out["report"].read_text()


def test_a_layer_of_whole_jaspar_motifs_holds_whole_motifs(layers, tmp_path):
    output, summary, html = run_cli(layers["whole"], tmp_path)
    line = [t for t in output.splitlines() if t.startswith("first layer:")]
    assert line == [f"first layer: whole motifs: {len(WHOLE)} of {len(WHOLE)} informative filters (100%) match a "
                    f"database motif; the filters hold whole motifs"], output
    assert summary[1] == "# " + line[0] and summary[0].startswith("# pattern:")
    assert '<b>First layer: whole motifs.</b>' in html and "Koo &amp; Eddy" not in html  # no advice
    assert_self_contained(html)


def test_random_kernels_beside_one_motif_look_like_partial_motifs_with_the_advice(layers, tmp_path):
    output, summary, html = run_cli(layers["partial"], tmp_path)
    line = [t for t in output.splitlines() if t.startswith("first layer:")]
    assert len(line) == 1 and line[0].startswith("first layer: partial motifs: 1 of 12 informative filters (8%)")
    assert f"under {100 * WHOLE_MOTIF_SHARE:.0f}%: the filters look like partial motifs" in line[0]
    assert all(a in line[0] for a in ADVICE)
    assert summary[1] == "# " + line[0]
    assert '<p class="note" id="first-layer"><b>First layer: partial motifs.</b> 1 of 12' in html
    assert all(a.replace("&", "&amp;") in html for a in ADVICE)
    image = render_in_chromium(tmp_path / "r.html", tmp_path / "r.png", size=(1200, 700))
    # The note's amber (#fff8e1, its border #e0a800) is drawn near the top of the page.
    amber = (np.abs(image - np.array([0xe0, 0xa8, 0x00]) / 255).max(axis=2) < 0.05)
    assert amber.any(axis=1)[:700].sum() >= 10


def test_influence_weighs_the_filters_by_what_the_model_reads(layers, tmp_path):
    """Counted per filter the layer above looks partial (1 of 12); the model reads almost only the
    Gata1 filter, so by influence it holds a whole motif."""
    rng = np.random.default_rng(2)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(200, LENGTH))]
    np.save(tmp_path / "x.npy", x)
    result = extract(layers["partial"], tmp_path / "x.npy", base=np.e, influence=True, labels=False)
    assert result.layer_verdict() is None  # not annotated: nothing to say
    result.annotate(JASPAR)
    verdict = result.layer_verdict()
    assert verdict.basis == "influence" and verdict.verdict == "whole motifs" and verdict.share > 0.9, verdict.text()
    assert verdict.text().startswith("first layer: whole motifs: ")
    assert "of the influence sits in the 1 of 12 filters that match a database motif" in verdict.text()
    counted = layer_verdict([result.annotation.verdict(f"motif_conv_{t}") for t in range(12)])
    assert counted.verdict == "partial motifs" and counted.basis == "informative filters"


def test_filters_too_flat_to_compare_do_not_count():
    verdict = layer_verdict(["match", "not compared", "not compared", "no match", "weak match"])
    assert (verdict.matched, verdict.counted, verdict.verdict) == (1, 3, "whole motifs")
    assert layer_verdict(["not compared"] * 3).verdict == "partial motifs"
