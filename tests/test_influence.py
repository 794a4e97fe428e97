"""Influence (k2p_keras/annotate/run/influence.py): nullifying a filter is rerunning the model with that
filter's map a constant, and on the bundled example the planted-motif filters matter most."""
import re
import warnings

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from conftest import REPO  # noqa: E402
from k2p_keras import extract  # noqa: E402
from k2p_keras.extract import plan_extraction  # noqa: E402
from k2p_keras.annotate.run.influence import filter_influence, influence_passes, runnable_model  # noqa: E402
from k2p_keras.annotate.run.model_split import split_at_activation  # noqa: E402
from k2p_keras.errors import K2PError, OptionError  # noqa: E402

EXAMPLE = REPO / "example_models"
WILD = REPO / "tests" / "wild_models"
# The bundled example's filters that learned a planted motif, by the planted-motif rule
# (tests/test_clusters.py checks the rule gives these): CTCF 0, 13; FOS::JUN 5; Gata1 7, 10; SP1 11, 15.
PLANTED = [0, 5, 7, 10, 11, 13, 15]


@pytest.fixture(scope="module")
def example():
    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        return f["x"][()].astype("float32"), f["y"][()].astype("float32")


def auroc(scores, positive):
    pos, neg = scores[positive], scores[~positive]
    return ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))


def constant_map_outputs(model, conv_name, f, constant, x):
    """The whole model rerun with filter f's map the constant: kernel 0, bias = constant (ReLU keeps c >= 0)."""
    conv = model.get_layer(conv_name)
    kernel, bias = conv.get_weights()
    edited_kernel, edited_bias = kernel.copy(), bias.copy()
    edited_kernel[..., f], edited_bias[f] = 0.0, constant
    conv.set_weights([edited_kernel, edited_bias])
    try:
        out = model.predict(x, verbose=0, batch_size=1000)
    finally:
        conv.set_weights([kernel, bias])
    return [np.asarray(o, np.float64) for o in (out if isinstance(out, list) else [out])]


@pytest.mark.parametrize("null", ["pooled", "map"])
def test_nullifying_a_filter_is_rerunning_the_model_with_its_map_a_constant(example, null):
    x = example[0][:2000]
    model = runnable_model(EXAMPLE / "deepbind.keras")
    found = filter_influence(model, x, null=null)
    assert found.route == "pooled" and found.null == null and found.msq.shape == (16,)
    base = np.asarray(model.predict(x, verbose=0, batch_size=1000), np.float64)
    for f in range(16):
        (out,) = constant_map_outputs(model, "motif_conv", f, found.null_values[f], x)
        assert found.msq[f] == pytest.approx(np.mean((out - base) ** 2), rel=1e-4, abs=1e-9)


def test_the_null_constants_are_the_pooled_mean_and_the_map_mean(example):
    x = example[0][:1000]
    model = runnable_model(EXAMPLE / "deepbind.keras")
    conv = keras.Model(model.inputs, model.get_layer("motif_conv").output)
    activation_map = np.asarray(conv.predict(x, verbose=0), np.float64)
    pooled = filter_influence(model, x, null="pooled").null_values
    mapped = filter_influence(model, x, null="map").null_values
    np.testing.assert_allclose(pooled, activation_map.max(axis=1).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(mapped, activation_map.mean(axis=(0, 1)), rtol=1e-5)


def test_the_planted_motif_filters_of_the_bundled_example_are_the_most_influential(example):
    """The prep's evidence: AUROC 1.000 with the pooled null, 0.937 with Basset's map null."""
    x, y = example
    model = runnable_model(EXAMPLE / "deepbind.h5")
    planted = np.isin(np.arange(16), PLANTED)
    pooled = filter_influence(model, x, y, null="auto")
    mapped = filter_influence(model, x, y, null="map")
    assert pooled.null == "pooled"
    assert auroc(pooled.msq, planted) == 1.0 and auroc(pooled.delta_loss, planted) == 1.0
    assert auroc(mapped.msq, planted) == pytest.approx(0.937, abs=0.01)
    assert np.all(pooled.delta_loss[planted] > 0)  # the model does worse without a motif detector
    # The line for people names each figure beside its ranking: the outputs' change, the loss's.
    line = pooled.describe()
    outputs, loss = re.search(r"outputs' mean squared change (.*); by the loss's change \(labels <array>\) (.*)$", line).groups()
    for text, values in ((outputs, pooled.msq), (loss, pooled.delta_loss)):
        f = int(np.argmax(values))
        assert text.startswith(f"motif_conv_{f} ({values[f]:.3g})"), line


def multi_output_model():
    """Conv -> ReLU -> local max-pool -> two heads (no global pool: the map route)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((40, 4))
    h = layers.Conv1D(4, 6, activation="relu", name="motif_conv")(inputs)
    h = layers.Flatten()(layers.MaxPooling1D(5)(h))
    return keras.Model(inputs, [layers.Dense(2, activation="sigmoid", name="bound")(h),
                                layers.Dense(1, name="signal")(h)])


def test_the_map_route_per_output_and_the_loss_change_match_a_rerun():
    x = np.load(WILD / "seqs.npy")
    rng = np.random.default_rng(0)
    labels = np.concatenate([rng.integers(0, 2, (len(x), 2)), rng.normal(size=(len(x), 1))], axis=1)
    model = multi_output_model()
    found = filter_influence(model, x, labels, batch_size=64)
    assert found.route == "map" and found.null == "map" and found.msq.shape == (4, 2)
    assert found.outputs == ("bound", "signal")
    base = [np.asarray(o, np.float64) for o in model.predict(x, verbose=0)]

    def losses(out):
        p = np.clip(out[0], 1e-7, 1 - 1e-7)
        bce = -np.mean(labels[:, :2] * np.log(p) + (1 - labels[:, :2]) * np.log(1 - p), axis=1)
        return np.array([bce.mean(), np.mean((labels[:, 2:] - out[1]) ** 2)])

    np.testing.assert_allclose(found.base_loss, losses(base), rtol=1e-5)
    for f in range(4):
        out = constant_map_outputs(model, "motif_conv", f, found.null_values[f], x)
        expected = [np.mean((o - b) ** 2) for o, b in zip(out, base)]
        np.testing.assert_allclose(found.msq[f], expected, rtol=1e-4, atol=1e-10)
        np.testing.assert_allclose(found.delta_loss[f], losses(out) - losses(base), rtol=1e-3, atol=1e-8)


def test_extract_adds_influence_columns_per_output_and_reads_the_sequences_at_a_fixed_base():
    x = np.load(WILD / "seqs.npy")
    labels = np.tile([1.0, 0.0, 0.5], (len(x), 1))
    result = extract(multi_output_model(), x, labels=labels, base=2.0, influence=True)
    assert result.summary_columns[-4:] == ("influence", "influence_bound", "influence_signal", "influence_dloss")
    row = result.summary_rows()[1]
    assert row["influence"] == pytest.approx((row["influence_bound"] + row["influence_signal"]) / 2)
    assert result.influence.labels == "<array>" and result.n_sequences == len(x)


def test_both_strands_merged_by_maximum_are_cut_after_the_merge():
    x = np.load(WILD / "seqs.npy")
    model = runnable_model(WILD / "strands_maximum_flip.keras")
    split = split_at_activation(model)
    assert split.pooled and "Maximum of 2 calls" in split.describe()
    found = filter_influence(model, x)
    base = np.asarray(model.predict(x, verbose=0), np.float64)
    for f in range(split.n_filters):
        (out,) = constant_map_outputs(model, "shared_conv", f, found.null_values[f], x)
        assert found.msq[f] == pytest.approx(np.mean((out - base) ** 2), rel=1e-4, abs=1e-10)


def test_the_map_cut_passes_batchnorm_the_activation_and_dropout():
    split = split_at_activation(runnable_model(EXAMPLE / "bn_model.keras"))
    assert split.describe() == ("motif_conv (Conv1D) -> bn (BatchNormalization) -> relu (Activation) -> "
                                "dropout (Dropout) | max_pool (GlobalMaxPooling1D)")
    assert influence_passes(split, 20000) == 1 and influence_passes(split, 10**8) == 2


def test_a_model_keras_refuses_in_safe_mode_is_one_line_and_only_when_influence_is_asked(tmp_path):
    path = WILD / "strands_maximum_lambda.keras"
    x = np.load(WILD / "seqs.npy")
    with pytest.raises(K2PError) as err:
        runnable_model(path)
    assert "safe mode" in str(err.value) and "\n" not in str(err.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert extract(path, x).influence is None  # nothing is attempted
        with pytest.raises(K2PError, match="influence runs the model"):
            extract(path, x, influence=True)


def test_models_influence_cannot_cut_and_an_impossible_null_are_refused_in_one_line():
    inner_in = keras.Input((40, 4))
    inner = keras.Model(inner_in, layers.Conv1D(3, 5, activation="relu", name="motif_conv")(inner_in), name="inner")
    outer_in = keras.Input((40, 4))
    nested = keras.Model(outer_in, layers.Dense(1)(layers.GlobalMaxPooling1D()(inner(outer_in))))
    with pytest.raises(K2PError, match="inside a nested model"):
        split_at_activation(nested, "motif_conv")
    with pytest.raises(OptionError, match="no global pool"):
        filter_influence(multi_output_model(), np.load(WILD / "seqs.npy"), null="pooled")
    with pytest.raises(K2PError, match="channels first"):
        split_at_activation(runnable_model(WILD / "conv2d_keras_genomics.keras"))  # a Conv2D's (N, 4, 1, length)
    with pytest.raises(K2PError, match="not merged element-wise"):
        split_at_activation(runnable_model(WILD / "strands_concatenate_filters.keras"))


def test_a_model_reading_another_channel_order_is_fed_its_own_order(example):
    """--alphabet ATCG: the sequences are read in A C G T, the model is run in its own order."""
    x = example[0][:1000]
    acgt = keras.models.load_model(EXAMPLE / "deepbind.keras", compile=False)
    atcg = keras.models.clone_model(acgt)
    order = [0, 3, 1, 2]  # the A C G T columns as A T C G
    for layer, source in zip(atcg.layers, acgt.layers):
        weights = source.get_weights()
        if layer.name == "motif_conv":
            weights[0] = weights[0][:, order, :]
        layer.set_weights(weights)
    expected = extract(acgt, x, influence=True).influence.msq
    found = extract(atcg, x[:, :, order], alphabet="ATCG", influence=True).influence.msq
    np.testing.assert_allclose(found, expected, rtol=1e-5)


# ----------------------------------------------------------------------------- models that read their own input

def g4_like_model(length=201):
    """A G-quadruplex-like CNN: a fixed input of ``length`` (Flatten reads that many positions only)."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((length, 4))
    h = layers.Conv1D(4, 12, activation="relu", name="motif_conv")(inputs)
    h = layers.Flatten()(layers.MaxPooling1D(10)(h))
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))


def random_one_hot(n, length, seed):
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (n, length))]


def write_fasta(path, *arrays):
    rows = [row for x in arrays for row in x.argmax(axis=2)]
    path.write_text("".join(f">s{k}\n" + "".join("ACGT"[i] for i in row) + "\n" for k, row in enumerate(rows)))
    return path


def test_a_fixed_length_model_runs_on_each_longer_sequence_s_centre_and_says_so(tmp_path):
    """600 and 301 bp for a 201 bp model: each one's centre (from 199 and 50), in a warning, the line and the summary."""
    model = g4_like_model()
    model.save(tmp_path / "g4.keras")
    long, odd = random_one_hot(12, 600, 1), random_one_hot(8, 301, 2)
    fasta = write_fasta(tmp_path / "long.fa", long, odd)
    with pytest.warns(UserWarning, match="influence runs the model on each sequence's centre 201 bp"):
        result = extract(tmp_path / "g4.keras", fasta, influence=True)
    expected = filter_influence(model, np.concatenate([long[:, 199:400], odd[:, 50:251]]))
    np.testing.assert_allclose(result.influence.msq, expected.msq, rtol=1e-5, atol=1e-12)
    assert expected.input_note is None
    assert result.influence.input_note == ("each sequence's centre 201 bp, the model's input length "
                                           "(the sequences have 301 to 600 bp)")
    assert result.influence.input_note in result.influence.describe()
    result.write_summary(tmp_path / "summary.tsv")
    assert (tmp_path / "summary.tsv").read_text().splitlines()[1] == f"# influence: on {result.influence.input_note}"


def test_sequences_shorter_than_a_fixed_input_are_refused_in_one_line_before_the_scan(tmp_path):
    model = g4_like_model()
    model.save(tmp_path / "g4.keras")
    short = random_one_hot(5, 150, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scan's "each is scanned whole"
        with pytest.raises(K2PError) as err:
            plan_extraction(tmp_path / "g4.keras", write_fasta(tmp_path / "short.fa", short), influence=True)
    message = str(err.value)
    assert "sequences of 150 bp are shorter; give sequences of at least 201 bp" in message and "\n" not in message
    assert "short.fa" in message
    # The callback: when training begins, not at the first dump.
    from k2p_keras.callback import PWMCallback

    model.compile(loss="binary_crossentropy")
    callback = PWMCallback(short, str(tmp_path / "pwms"), influence=True, base=2.0)
    with pytest.raises(K2PError, match="sequences of 150 bp are shorter; give sequences of at least 201 bp"):
        model.fit(random_one_hot(4, 201, 4), np.zeros((4, 1)), epochs=1, verbose=0, callbacks=[callback])
    # Batches whose lengths nothing says beforehand are checked as they come.
    with pytest.raises(K2PError, match="at least 201 bp"):
        filter_influence(model, lambda: iter([short]))


def test_a_conv2d_in_image_layout_is_fed_its_layout_and_nullifying_is_rerunning_it():
    x = np.load(WILD / "seqs.npy")
    model = runnable_model(WILD / "conv2d_image.keras")
    split = split_at_activation(model)
    assert (split.input_layout, split.input_length, split.input_shape) == ("image", 40, (4, 40, 1))
    found = filter_influence(model, x)
    image = x.transpose(0, 2, 1)[..., None]  # (N, 4, length, 1): the bases down, the positions across
    base = np.asarray(model.predict(image, verbose=0), np.float64)
    for f in range(split.n_filters):
        (out,) = constant_map_outputs(model, "motif_conv", f, found.null_values[f], image)
        assert found.msq[f] == pytest.approx(np.mean((out - base) ** 2), rel=1e-4, abs=1e-10)
    assert extract(model, x, influence=True).influence.msq == pytest.approx(found.msq, rel=1e-5)


def test_a_conv2d_in_row_layout_is_cut_after_its_batchnorm_and_relu():
    split = split_at_activation(runnable_model(WILD / "conv2d_row.h5"))
    assert split.input_layout == "row" and split.pooled
    assert split.describe().startswith("motif_conv (Conv2D) -> batch_normalization (BatchNormalization) -> re_lu")
    assert filter_influence(runnable_model(WILD / "conv2d_row.h5"), np.load(WILD / "seqs.npy")).msq.shape == (3,)


def test_a_model_of_several_inputs_is_refused_in_one_line_naming_them():
    with pytest.raises(K2PError) as err:
        split_at_activation(runnable_model(WILD / "published" / "two_inputs.keras"))
    message = str(err.value)
    assert "reads 2 inputs" in message and "(100, 4)" in message and "(6,)" in message and "\n" not in message
