"""`k2p-keras verify`: the exact PWMs reproduce the model's own Conv1D on every window.

"The log-likelihood plus the window constant equals the convolution" (Theorems 1 and 3),
checked against the layer as Keras computes it from a real saved file: padding windows,
N rows encoded as zeros or as quarters, a folded BatchNormalization. Heuristic PWMs do not
pass the same check.
"""
import gzip

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.errors import K2PError  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme, write_meme  # noqa: E402
from k2p_keras.verify import verify_model  # noqa: E402

LENGTH, FILTERS, WIDTH = 24, 3, 5


def relu_same_padding():
    inputs = keras.Input((LENGTH, 4), name="dna")
    h = layers.Conv1D(FILTERS, WIDTH, activation="relu", padding="same", name="motif_conv")(inputs)
    h = layers.GlobalMaxPooling1D()(h)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))


def batchnorm_strided():
    return keras.Sequential([
        keras.Input((LENGTH, 4)),
        layers.Conv1D(FILTERS, WIDTH, strides=2, dilation_rate=1, name="motif_conv"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("relu"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ])


def lambda_after_pool():
    """Keras refuses to load a Python lambda in safe mode; the file's weights still read."""
    inputs = keras.Input((LENGTH, 4), name="dna")
    h = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv")(inputs)
    h = layers.GlobalMaxPooling1D()(h)
    h = layers.Lambda(lambda t: t * 2.0, name="double")(h)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))


def randomise(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = weights
            weights = [rng.uniform(0.5, 2, gamma.shape), rng.normal(0, 1, beta.shape),
                       rng.normal(0, 1, mean.shape), rng.uniform(0.5, 3, var.shape)]
        elif weights:
            weights = [rng.normal(0, 1, w.shape) for w in weights]
        layer.set_weights([np.asarray(w, dtype="float32") for w in weights])
    return model


def write_fasta(path, n=40, seed=2):
    """Random sequences with N and other IUPAC codes sprinkled in."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))[rng.integers(0, 4, size=(n, LENGTH))]
    letters[rng.random((n, LENGTH)) < 0.05] = "N"
    letters[rng.random((n, LENGTH)) < 0.02] = "R"
    with gzip.open(path, "wt") as handle:
        for s, row in enumerate(letters):
            handle.write(f">s{s}\n{''.join(row)}\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    paths = {}
    for seed, (name, build) in enumerate({"relu": relu_same_padding, "bn": batchnorm_strided,
                                          "lambda": lambda_after_pool}.items()):
        paths[name] = folder / f"{name}.keras"
        randomise(build(), seed).save(paths[name])
    paths["relu_h5"] = folder / "relu.h5"
    keras.models.load_model(paths["relu"]).save(paths["relu_h5"])
    paths["fasta"] = folder / "seqs.fa.gz"
    write_fasta(paths["fasta"])
    return paths


@pytest.mark.parametrize("model", ["relu", "relu_h5", "bn"])
@pytest.mark.parametrize("n_encoding", ["zero", "quarter"])
def test_exact_pwms_reproduce_the_models_own_layer_on_every_window(files, model, n_encoding):
    result = verify_model(files[model], files["fasta"], n_encoding=n_encoding, base=3.0)
    assert result.reference == "model"
    assert result.ok
    assert np.all(result.max_abs_diff < 1e-5 * np.maximum(1, result.scale))
    assert result.n_sequences == 40
    per_sequence = LENGTH if model.startswith("relu") else (LENGTH - WIDTH) // 2 + 1
    assert result.n_windows == 40 * per_sequence


def test_a_model_keras_cannot_load_is_checked_against_the_file_weights(files):
    with pytest.warns(UserWarning, match="Keras cannot load"):
        result = verify_model(files["lambda"], files["fasta"])
    assert result.reference == "weights" and result.ok


def test_pwms_from_a_file_use_their_recorded_base(files, tmp_path):
    out = tmp_path / "both.meme"
    result = CliRunner().invoke(cli, [str(files["relu"]), str(files["fasta"]), "--method", "both", "-o", str(out),
                                      "-q"])
    assert result.exit_code == 0, result.output
    checked = verify_model(files["relu"], files["fasta"], pwms=out)
    exact = [k for k, name in enumerate(checked.names) if name.endswith("_exact")]
    heuristic = [k for k, name in enumerate(checked.names) if name.endswith("_heuristic")]
    assert len(exact) == len(heuristic) == FILTERS
    assert np.all(checked.passed[exact])
    assert not np.any(checked.passed[heuristic])
    assert checked.max_abs_diff[heuristic].min() > 100 * checked.max_abs_diff[exact].max()


def test_cli_verify_prints_one_line_per_pwm_and_exits_non_zero_when_one_differs(files, tmp_path):
    good = CliRunner().invoke(cli, ["verify", str(files["bn"]), str(files["fasta"])])
    assert good.exit_code == 0, good.output
    rows = [line for line in good.output.splitlines() if line.startswith("motif_conv_")]
    assert len(rows) == FILTERS and all(row.endswith("OK") for row in rows)

    rng = np.random.default_rng(0)
    wrong = tmp_path / "wrong.meme"
    write_meme(wrong, [Motif(f"motif_conv_{t}", rng.dirichlet(np.ones(4), size=WIDTH)) for t in range(FILTERS)])
    bad = CliRunner().invoke(cli, ["verify", str(files["bn"]), str(files["fasta"]), "--pwms", str(wrong)])
    assert bad.exit_code == 1
    last = bad.output.strip().splitlines()[-1]
    assert "DIFFERS" in bad.output and last.startswith(f"Error: {files['bn']}: 3 of 3 PWMs differ")
    # What differs and by how much: the worst PWM, its difference, relative to its scale.
    worst = max(bad.output.splitlines()[1:4], key=lambda row: float(row.split("\t")[3]) / max(1.0, float(row.split("\t")[4])))
    name, _, _, diff, scale, _ = worst.split("\t")
    assert f"the worst, {name} " in last and f"by {diff} (" in last and f"scale {scale}), tolerance 0.001" in last


def test_motifs_that_name_no_filter_or_have_the_wrong_width_are_refused(files, tmp_path):
    odd = tmp_path / "odd.meme"
    write_meme(odd, [Motif("MA0001.1", np.full((WIDTH, 4), 0.25)), Motif("motif_conv_0", np.full((WIDTH, 4), 0.25))])
    with pytest.raises(K2PError, match="names no filter"):
        verify_model(files["relu"], files["fasta"], pwms=odd)
    short = tmp_path / "short.meme"
    write_meme(short, [Motif("motif_conv_0", np.full((WIDTH - 1, 4), 0.25))])
    with pytest.raises(K2PError, match="positions"):
        verify_model(files["relu"], files["fasta"], pwms=short)
    assert read_meme(short).motifs[0].width == WIDTH - 1


@pytest.mark.parametrize("alphabet", ["TGCA", "ATCG"])
def test_the_layer_is_fed_in_the_model_s_channel_order(files, alphabet):
    """The PWMs are in A C G T; the layer reads the model's order: verify compares the two on one input."""
    result = verify_model(files["bn"], files["fasta"], alphabet=alphabet)
    assert result.reference == "model" and result.ok
    assert np.all(result.max_abs_diff < 1e-5 * np.maximum(1, result.scale))


def test_an_architecture_json_and_its_weights_are_the_model_s_own_layer(files, tmp_path):
    """Keras 3's to_json() + save_weights(): loaded as the .keras file the two stand for."""
    model = keras.models.load_model(files["bn"])
    (tmp_path / "bn.json").write_text(model.to_json())
    model.save_weights(tmp_path / "bn.weights.h5")
    result = verify_model(tmp_path / "bn.json", files["fasta"], weights=tmp_path / "bn.weights.h5")
    assert result.reference == "model" and result.ok
    whole = verify_model(files["bn"], files["fasta"])
    np.testing.assert_array_equal(result.max_abs_diff, whole.max_abs_diff)
