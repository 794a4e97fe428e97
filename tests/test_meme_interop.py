"""The MEME files `k2p-keras MODEL SEQS` writes, read back by other people's parsers.

Biopython (``Bio.motifs.parse(..., "minimal")``), memelite's reader and the MEME suite's own
C parser (through pymemesuite) read the same file; each must see our motifs, our background
and our site counts. Expected values are computed here from the model's weights and the
sequence file with numpy, not with the package.
"""
import math
import re

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import softmax

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from k2p_keras.cli.group import cli  # noqa: E402

from conftest import REPO  # noqa: E402

MODEL = REPO / "example_models" / "deepbind.h5"
SEQS = REPO / "data" / "example_seqs.h5"
# Probabilities are written with 6 significant digits: each is off by at most 5e-7 relative.
DIGITS_RTOL = 5e-6


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def read_tsv(path):
    """The summary's rows, past its ``# pattern:`` comment line."""
    header, *rows = [line.split("\t") for line in path.read_text().splitlines() if not line.startswith("#")]
    return [dict(zip(header, row)) for row in rows]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The example model's exact PWMs (MLE) as MEME, its summary, and what numpy expects."""
    folder = tmp_path_factory.mktemp("interop")
    meme, summary = folder / "m.meme", folder / "s.tsv"
    run(MODEL, SEQS, "-q", "-o", meme, "--summary", summary)
    conv = keras.models.load_model(MODEL, compile=False).get_layer("motif_conv")
    kernel = np.asarray(conv.get_weights()[0], dtype=np.float64)  # (L, 4, F), cross-correlation
    rows = read_tsv(summary)
    ln_b = np.array([float(r["ln_b"]) for r in rows])
    pwms = np.stack([softmax(ln_b[t] * kernel[:, :, t], axis=1) for t in range(kernel.shape[2])])
    with h5py.File(SEQS) as f:
        x = np.asarray(f[list(f)[0]][()], dtype=np.float64)
    letters = x.sum(axis=(0, 1))
    return {"meme": meme, "rows": rows, "pwms": pwms, "background": letters / letters.sum(),
            "names": [r["filter"] for r in rows]}


def test_biopython_reads_our_motifs_sites_and_background(written):
    from Bio import motifs

    with open(written["meme"]) as handle:
        record = motifs.parse(handle, "minimal")
    assert [m.name for m in record] == written["names"]
    background = np.array([record.background[a] for a in "ACGT"])
    np.testing.assert_allclose(background, written["background"], rtol=DIGITS_RTOL)
    assert abs(written["background"] - 0.25).max() > 1e-3  # not the uniform default
    for motif, row, pwm in zip(record, written["rows"], written["pwms"]):
        assert motif.num_occurrences == int(row["sequences_used"])
        # Biopython keeps counts: each probability times nsites rounded to a whole site, the
        # row renormalised: up to four half-sites of difference.
        got = np.array([motif.pwm[a] for a in "ACGT"]).T
        np.testing.assert_allclose(got, pwm, rtol=0, atol=2 / motif.num_occurrences)


def test_memelite_reads_our_motifs(written):
    from memelite.io import read_meme

    found = read_meme(str(written["meme"]))
    assert [key.split()[0] for key in found] == written["names"]
    for matrix, pwm in zip(found.values(), written["pwms"]):
        np.testing.assert_allclose(np.asarray(matrix).T, pwm, rtol=DIGITS_RTOL, atol=1e-12)


def test_the_meme_suites_parser_reads_our_motifs(written):
    pytest.importorskip("pymemesuite")
    from pymemesuite.common import MotifFile

    with MotifFile(str(written["meme"])) as handle:
        found = list(handle)
    # pymemesuite 0.1.0a4 calls the MOTIF line's first word the accession.
    assert [m.accession.decode() for m in found] == written["names"]
    for motif, pwm in zip(found, written["pwms"]):
        assert motif.width == pwm.shape[0]
        # MEME adds a small pseudocount (0.1 / nsites of the background) when it reads a file.
        np.testing.assert_allclose(np.array([list(r) for r in motif.frequencies]), pwm, atol=1e-3)


def test_probabilities_have_six_significant_digits_and_rows_sum_to_one(written):
    text = written["meme"].read_text()
    blocks = re.findall(r"letter-probability matrix:[^\n]*\n((?:[0-9.e+-]+(?: [0-9.e+-]+){3}\n)+)", text)
    assert len(blocks) == len(written["names"])
    for block in blocks:
        cells = block.split()
        assert max(len(c.split("e")[0].replace(".", "").lstrip("0")) for c in cells) <= 6
        sums = np.array([sum(map(float, line.split())) for line in block.splitlines()])
        # The MEME suite accepts rows summing to 1 within 0.1; ours are far closer.
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)


def test_header_names_tool_model_layer_and_base_and_invents_no_evalue(written):
    text = written["meme"].read_text()
    comments = text.split("MEME version 4")[0]
    assert comments.startswith("# k2p-keras ")
    assert str(MODEL) in comments and "layer: motif_conv" in comments and "maximum likelihood" in comments
    assert not re.search(r"\bE=", text)
    assert re.search(r"^strands: \+$", text, re.M)  # the example model scans the forward strand


def test_a_fixed_base_writes_no_site_count(tmp_path):
    out = tmp_path / "fixed.meme"
    run(MODEL, "--base", 3, "-q", "-o", out)
    text = out.read_text()
    assert "nsites=" not in text and not re.search(r"\bE=", text) and "fixed, b = 3" in text
    assert "A 0.25 C 0.25 G 0.25 T 0.25" in text  # no sequences: nothing to count, MEME's default


def test_a_both_strand_model_says_both_strands(tmp_path):
    length, width = 30, 5
    rng = np.random.default_rng(3)
    x = np.eye(4, dtype=np.float32)[rng.choice(4, size=(200, length), p=[0.4, 0.1, 0.1, 0.4])]
    with h5py.File(tmp_path / "seqs.h5", "w") as f:
        f["x"] = x
    keras.utils.set_random_seed(2)
    inputs = keras.Input((length, 4))
    conv = layers.Conv1D(3, width, activation="relu", name="motif_conv")
    forward = layers.GlobalMaxPooling1D()(conv(inputs))
    reverse = layers.GlobalMaxPooling1D()(conv(keras.ops.flip(inputs, axis=(1, 2))))
    model = keras.Model(inputs, layers.Dense(1)(layers.Maximum()([forward, reverse])))
    model.save(tmp_path / "rc.keras")
    out = tmp_path / "rc.meme"
    run(tmp_path / "rc.keras", tmp_path / "seqs.h5", "--both-strands", "-q", "--sites", "all", "-o", out)
    text = out.read_text()
    assert re.search(r"^strands: \+ -$", text, re.M)
    from Bio import motifs

    with open(out) as handle:
        background = motifs.parse(handle, "minimal").background
    # Both strands: A pairs with T and C with G, so the background is their average.
    counts = x.sum(axis=(0, 1)).astype(np.float64)
    expected = (counts + counts[::-1]) / 2 / counts.sum()
    np.testing.assert_allclose([background[a] for a in "ACGT"], expected, rtol=DIGITS_RTOL)
    assert math.isclose(background["A"], background["T"])
