"""Models as people publish them (docs/models-in-the-wild.md "Models as published").

``tests/wild_models/published/`` holds small look-alikes of six published shapes, built by
``make_published_like.py`` there and saved by the Keras that writes each format (Keras 1's
files by hand, to the layout of real Keras 1.2 files). Each is checked end to end: the exact
PWMs are the row-wise softmax of ``ln b`` times the kernel the writer holds (in A C G T order),
``verify`` passes, and the MEME file's header says where they come from.

The real network behind the Keras 1 look-alikes (``../shared/data/published/deeplift_sim``, one
DeepLIFT model in three serialisations) must give the same PWMs from each file; those tests
skip without ``../shared``.
"""

import dataclasses
import pathlib
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

import k2p_keras  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402
from k2p_keras.model.conv import find_motif_conv_in_file  # noqa: E402

from conftest import SHARED  # noqa: E402

HERE = pathlib.Path(__file__).parent / "wild_models"
PUBLISHED = HERE / "published"
sys.path.insert(0, str(HERE))
from make_published_like import ATCG, write_sequences  # noqa: E402

REAL = SHARED / "data" / "published" / "deeplift_sim"

# name -> (model, weights, motif conv's label in the pattern line, who computes the layer in verify,
#          the windows the base is estimated on: what follows the conv in that design)
POOL_BLOCKS, ANYWHERE = "sites: strong, each pooling block's best window", "sites: strong, windows anywhere"
CASES = {
    "avgpool_then_gmp": ("avgpool_then_gmp.h5", None, "motif_conv (Conv1D, relu)", "model", ANYWHERE),
    "basset_atcg": ("basset_atcg.keras", None, "motif_conv (Conv1D, relu)", "model", POOL_BLOCKS),
    "conv2d_gap": ("conv2d_gap.h5", None,
                   "motif_conv (Conv2D on one-hot DNA as Conv1D, image layout, relu)", "model", ANYWHERE),
    "two_inputs": ("two_inputs.keras", None, "motif_conv (Conv1D, relu)", "model", POOL_BLOCKS),
    "json_weights": ("json_weights.json", "json_weights_weights.h5", "conv1d_1 (Conv1D, linear)", "model",
                     ANYWHERE),
    # Keras 3 cannot rebuild Keras 1 configs: verify says it checks TensorFlow's conv instead
    "keras1_tf": ("keras1_tf.h5", None,
                  "convolution2d_1 (Convolution2D on one-hot DNA as Conv1D, image layout, linear)", "weights",
                  ANYWHERE),
    "keras1_th": ("keras1_th.json", "keras1_th_weights.h5",
                  "convolution2d_1 (Convolution2D on one-hot DNA as Conv1D, image-channels-first layout, "
                  "linear)", "weights", ANYWHERE),
}
REFERENCES = {"model": "computed by the model's own layer",
              "weights": "computed by TensorFlow's conv on the weights read from the file"}


@pytest.fixture(scope="module")
def seqs(tmp_path_factory):
    """The script's sequences: published_seqs.npy (A C G T), _atcg.npy (A T C G), .fa."""
    folder = tmp_path_factory.mktemp("published_seqs")
    write_sequences(folder)
    return folder


def test_the_committed_fasta_is_the_script_s(seqs):
    assert (PUBLISHED / "published_seqs.fa").read_text() == (seqs / "published_seqs.fa").read_text()


def numpy_pwms(kernel, ln_b):
    """Row-wise softmax of ``ln b * W``, written out: (L, 4, F)."""
    scaled = ln_b * kernel
    e = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def writer_kernel(name):
    """The motif conv's kernel (k, 4, F), A C G T columns, as the Keras that wrote the file holds it."""
    if name in ("json_weights", "keras1_tf", "keras1_th"):
        return np.load(PUBLISHED / "deeplift_like_truth.npz")["kernel"]
    path = PUBLISHED / CASES[name][0]
    if path.suffix == ".h5":
        tf_keras = pytest.importorskip("tf_keras")
        model = tf_keras.models.load_model(path, compile=False)
    else:
        model = keras.models.load_model(path, compile=False)
    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    if kernel.ndim == 4:  # the image layout (4, k, 1, F): rows are the bases
        kernel = kernel[:, :, 0].transpose(1, 0, 2)
    if name == "basset_atcg":  # trained on channels A T C G: column c of A C G T is channel ATCG[c]
        kernel = kernel[:, np.argsort(ATCG), :]
    return kernel


def model_args(name):
    model, weights = CASES[name][:2]
    args = [str(PUBLISHED / model)]
    if weights:
        args += ["--weights", str(PUBLISHED / weights)]
    if name == "basset_atcg":
        args += ["--alphabet", "ATCG"]
    return args


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_shape_end_to_end(name, seqs, tmp_path):
    """The default run on each published design: PWMs at the base it estimated and recorded, its
    pattern line and site rule in the header, and verify passing on the file it wrote."""
    out = tmp_path / "motifs.meme"
    stored = "published_seqs_atcg.npy" if name == "basset_atcg" else "published_seqs.npy"
    result = CliRunner().invoke(cli, model_args(name)[:1] + [str(seqs / stored)] + model_args(name)[1:]
                                + ["-o", str(out)])
    assert result.exit_code == 0, result.output
    label, sites = CASES[name][2], CASES[name][4]
    assert label in result.output  # the pattern line, naming the conv as it was read
    header = out.read_text().splitlines()[:6]
    model, weights = CASES[name][:2]
    where = str(PUBLISHED / model) + ("" if weights is None else f" (weights {PUBLISHED / weights})")
    assert header[1:3] == [f"# model: {where}", f"# layer: {label.split(' ')[0]}"]
    assert header[3].startswith(f"# pattern: {label}") and header[3].endswith(f"; {sites})"), header[3]
    assert header[4] == "# base: maximum likelihood on strong sites, one shared base"
    kernel = writer_kernel(name)
    meme = read_meme(out)
    assert len(meme.motifs) == kernel.shape[2]
    ln_b = {float(m.alt_name.split("ln_b=")[1].split(",")[0]) for m in meme.motifs}
    assert len(ln_b) == 1 and 0 < min(ln_b) < 60  # one shared base, estimated
    for t, motif in enumerate(meme.motifs):
        np.testing.assert_allclose(motif.pwm, numpy_pwms(kernel, min(ln_b))[:, :, t], atol=1e-5)  # 6 digits

    checked = CliRunner().invoke(cli, ["verify"] + model_args(name)[:1] + [str(seqs / stored)]
                                 + model_args(name)[1:] + ["--pwms", str(out), "-q"])
    assert checked.exit_code == 0, checked.output
    assert REFERENCES[CASES[name][3]] in checked.output and "DIFFERS" not in checked.output


# ----------------------------------------------------------------------------- the channel order

def consensus_of(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pattern's warning at a fixed base
        result = k2p_keras.extract(path, base=2.0, **options)
    return [row["consensus"] for row in result.summary_rows()]


def test_alphabet_turns_the_t_run_back_into_the_g_run():
    """basset_atcg was trained on channels A T C G: read as A C G T its G-run filter is a T-run."""
    path = PUBLISHED / "basset_atcg.keras"
    assert consensus_of(path)[1] == "TTGTTCTTT"
    assert consensus_of(path, alphabet="ATCG")[1] == "GGCGGTGGG"
    assert consensus_of(path, alphabet="atcg") == consensus_of(path, alphabet="ATCG")


def test_fasta_and_sequences_stored_in_the_model_s_order_agree(seqs):
    """FASTA is encoded in A C G T; an array in the model's order is put in A C G T: the same scan."""
    path = PUBLISHED / "basset_atcg.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = {source: k2p_keras.extract(path, seqs / source, alphabet="ATCG")
                for source in ("published_seqs.fa", "published_seqs_atcg.npy", "published_seqs.npy")}
    fasta, stored, wrong = (runs[s].exact for s in ("published_seqs.fa", "published_seqs_atcg.npy",
                                                      "published_seqs.npy"))
    np.testing.assert_array_equal(fasta.ln_base, stored.ln_base)
    np.testing.assert_array_equal(fasta.pwms, stored.pwms)
    # A C G T arrays given to a model of another order are taken as in its order: other windows
    assert not np.allclose(wrong.ln_base, fasta.ln_base)
    # the background is the sequences' own, in A C G T
    x = np.load(seqs / "published_seqs.npy").astype(np.float64)
    np.testing.assert_allclose(runs["published_seqs_atcg.npy"].background(), x.sum(axis=(0, 1)) / x.sum(),
                               atol=1e-12)


def test_both_strands_are_complemented_in_a_c_g_t(seqs):
    """The reverse complement is taken after the channels are put in A C G T order."""
    path = PUBLISHED / "basset_atcg.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atcg = k2p_keras.extract(path, seqs / "published_seqs_atcg.npy", alphabet="ATCG", both_strands=True)
        # the same kernel, already in A C G T, on A C G T sequences: an A C G T model
        acgt_spec = dataclasses.replace(atcg.spec, alphabet="ACGT")
        acgt = k2p_keras.extract(acgt_spec, np.load(seqs / "published_seqs.npy"), both_strands=True)
    np.testing.assert_array_equal(atcg.exact.ln_base, acgt.exact.ln_base)
    np.testing.assert_array_equal(atcg.exact.pwms, acgt.exact.pwms)


def test_verify_feeds_the_layer_in_the_model_s_order(seqs):
    """With FASTA the layer is fed A T C G channels: the exact PWMs (in A C G T) agree with it."""
    result = CliRunner().invoke(cli, ["verify", str(PUBLISHED / "basset_atcg.keras"), str(seqs / "published_seqs.fa"),
                                      "--alphabet", "ATCG", "-q"])
    assert result.exit_code == 0, result.output
    assert REFERENCES["model"] in result.output


@pytest.mark.parametrize("command", [[], ["verify"]])
def test_an_alphabet_that_is_no_order_of_acgt_is_one_line(command, seqs):
    result = CliRunner().invoke(cli, command + [str(PUBLISHED / "basset_atcg.keras"), str(seqs / "published_seqs.fa"),
                                                "--alphabet", "ACGN"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--alphabet" in lines[0] and "A, C, G, T once each" in lines[0]


# ----------------------------------------------------------------------------- architecture JSON + weights

@pytest.mark.parametrize("model, words", [
    ("json_weights.json", "holds no weights: give the file save_weights wrote for it too (--weights FILE.h5"),
    ("keras1_th.json", "holds no weights"),
    ("json_weights_weights.h5", "weights-only file (save_weights: no architecture): give its architecture JSON "
                                "(model.to_json()) as MODEL and this file as --weights"),
    ("keras1_th_weights.h5", "weights-only file"),
])
def test_half_a_pair_says_what_to_add(model, words):
    result = CliRunner().invoke(cli, [str(PUBLISHED / model), "--base", "2"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.output


def test_the_three_look_alike_serialisations_read_the_same_kernel():
    truth = np.load(PUBLISHED / "deeplift_like_truth.npz")
    specs = [find_motif_conv_in_file(PUBLISHED / "keras1_tf.h5"),
             find_motif_conv_in_file(PUBLISHED / "keras1_th.json", weights=PUBLISHED / "keras1_th_weights.h5"),
             find_motif_conv_in_file(PUBLISHED / "json_weights.json", weights=PUBLISHED / "json_weights_weights.h5")]
    for spec in specs:
        np.testing.assert_array_equal(spec.kernel, truth["kernel"])
        np.testing.assert_array_equal(spec.bias, truth["bias"])
        assert spec.input_length == 100


def test_two_inputs_reads_the_conv_on_the_one_hot_input():
    spec = find_motif_conv_in_file(PUBLISHED / "two_inputs.keras")
    assert spec.layer_name == "motif_conv" and spec.input_length == 100 and spec.padding == "same"


# ----------------------------------------------------------------------------- the real network, three ways

REAL_FILES = {
    "keras 2.1.6 JSON + weights": ("keras2_conv1d_record_5_model_PQzyq_modelJson.json",
                                   "keras2_conv1d_record_5_model_PQzyq_modelWeights.h5"),
    "keras 1.2.0 'tf' whole model": ("tf_order_record_5_model_PQzyq_modelWeights.h5", None),
    "keras 1.2.1 'th' JSON + weights": ("record_5_model_PQzyq_modelJson.json", "record_5_model_PQzyq_modelWeights.h5"),
}


@pytest.fixture(scope="module")
def real():
    if not REAL.is_dir():
        pytest.skip(f"needs the published DeepLIFT network (not shipped in this repository), not found at {REAL}; "
                    "set K2P_SHARED to the shared folder")
    return {name: (REAL / model, None if weights is None else REAL / weights)
            for name, (model, weights) in REAL_FILES.items()}


def test_the_real_network_gives_the_same_pwms_from_each_serialisation(real):
    sequences = REAL / "test_sequences_200bp.fa"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = {name: k2p_keras.extract(model, base=2.0, weights=weights) for name, (model, weights) in real.items()}
        # The MLE scans the 800 sequences: the same windows, so the same base, whatever the file.
        estimated = {name: k2p_keras.extract(model, sequences, weights=weights)
                  for name, (model, weights) in real.items()}
    first = next(iter(real))
    for name in real:
        assert fixed[name].spec.kernel.shape == (11, 4, 50)
        assert np.abs(fixed[name].exact.pwms - fixed[first].exact.pwms).max() <= 1e-6
        assert np.abs(estimated[name].exact.pwms - estimated[first].exact.pwms).max() <= 1e-6
        np.testing.assert_allclose(estimated[name].exact.ln_base, estimated[first].exact.ln_base, rtol=0, atol=1e-9)


def test_verify_passes_on_each_real_serialisation(real, tmp_path):
    # The first 100 of the 800 sequences: enough windows (19,000 per filter), a third of the time.
    lines = (REAL / "test_sequences_200bp.fa").read_text().splitlines()
    fasta = tmp_path / "first_100.fa"
    fasta.write_text("\n".join(lines[:200]) + "\n")
    for name, (model, weights) in real.items():
        args = ["verify", str(model), str(fasta), "-q"] + ([] if weights is None else ["--weights", str(weights)])
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, (name, result.output)
        assert "DIFFERS" not in result.output and "19000 windows per filter in 100 sequences" in result.output


def test_influence_runs_on_the_conv2d_image_layout_and_the_two_inputs_are_refused_before_the_scan(tmp_path):
    """--influence on the published Conv2D (4, L, 1) look-alike: fed in its layout; on the model of two
    inputs: one line naming them, no output."""
    summary, out = tmp_path / "summary.tsv", tmp_path / "motifs.meme"
    fasta = str(PUBLISHED / "published_seqs.fa")
    ran = CliRunner().invoke(cli, [str(PUBLISHED / "conv2d_gap.h5"), fasta, "--influence", "--summary", str(summary),
                                   "-o", str(out)])
    assert ran.exit_code == 0, ran.output
    rows = [line.split("\t") for line in summary.read_text().splitlines()[1:]]
    influence = [float(r[rows[0].index("influence")]) for r in rows[1:]]
    assert len(influence) == 3 and max(influence) > 0
    refused_out = tmp_path / "refused.meme"
    refused = CliRunner().invoke(cli, [str(PUBLISHED / "two_inputs.keras"), fasta, "--influence", "-o",
                                       str(refused_out)])
    assert refused.exit_code == 1
    error = [line for line in refused.output.splitlines() if line.startswith("Error")]
    assert len(error) == 1 and "reads 2 inputs" in error[0], refused.output
    assert not refused_out.exists()
