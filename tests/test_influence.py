"""Influence (k2p_keras/annotate/influence.py): nullifying a filter is rerunning the model with that
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
from k2p_keras.annotate.influence import (filter_influence, influence_passes, runnable_model,  # noqa: E402
    split_at_activation)
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
    with pytest.raises(K2PError, match=r"one-hot sequences \(N, length, 4\) only"):
        split_at_activation(runnable_model(WILD / "conv2d_image.keras"))  # a Conv2D's (N, 4, length, 1)
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
