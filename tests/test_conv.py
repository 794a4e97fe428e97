"""model/conv.py: the motif Conv1D of real Keras models, its settings, and the pattern check.

"The effective kernel reproduces the layer": for every setting (padding, strides,
dilation, channels_first, BatchNorm folding) a numpy cross-correlation with the ConvSpec
kernel and bias equals what Keras computes.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
layers = keras.layers

from k2p_keras.errors import K2PError  # noqa: E402
from k2p_keras.model.conv import find_motif_conv, find_motif_conv_in_file, find_motif_conv_in_model
from k2p_keras.scan.windows import PoolSpec

RNG = np.random.default_rng(11)
LENGTH = 30


def one_hot(n, length=LENGTH):
    return np.eye(4)[RNG.integers(0, 4, size=(n, length))].astype("float32")


def numpy_conv(x, kernel, bias, padding="valid", strides=1):
    """Keras Conv1D as a plain cross-correlation, TensorFlow's padding rules."""
    length, k = x.shape[1], kernel.shape[0]
    left = right = 0
    if padding == "causal":
        left = k - 1
    elif padding == "same":
        out = -(-length // strides)
        total = max((out - 1) * strides + k - length, 0)
        left, right = total // 2, total - total // 2
    padded = np.pad(x, ((0, 0), (left, right), (0, 0)))
    starts = range(0, padded.shape[1] - k + 1, strides)
    windows = np.stack([padded[:, s:s + k] for s in starts], axis=1)
    return np.einsum("npka,kaf->npf", windows, kernel) + bias


def randomize(model, negative_gamma=()):
    """Random weights; BatchNorm variances positive, gammas negative where asked."""
    for layer in _all_layers(model):
        values = [RNG.normal(size=w.shape) for w in layer.get_weights()]
        if isinstance(layer, layers.BatchNormalization):
            values[0] = RNG.uniform(0.5, 2.0, size=values[0].shape)
            values[-1] = RNG.uniform(0.5, 2.0, size=values[-1].shape)
            if layer.name in negative_gamma:
                values[0][1] = -0.7
        layer.set_weights(values)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def save_both(model, folder, stem):
    paths = {fmt: folder / f"{stem}.{fmt}" for fmt in ("h5", "keras")}
    for path in paths.values():
        model.save(path)
    return paths


# ---------------------------------------------------------------------------------------
# DeepBind-like models

@pytest.fixture(scope="module")
def deepbind(tmp_path_factory):
    model = keras.Sequential([keras.Input((LENGTH, 4)),
                              layers.Conv1D(3, 5, activation="relu", name="motif_conv"),
                              layers.GlobalMaxPooling1D(), layers.Dense(1)])
    randomize(model)
    return model, save_both(model, tmp_path_factory.mktemp("deepbind"), "deepbind")


@pytest.mark.parametrize("fmt", ["h5", "keras", "live"])
def test_sequential_deepbind(deepbind, fmt):
    model, paths = deepbind
    spec = (find_motif_conv_in_model(model) if fmt == "live"
            else find_motif_conv_in_file(paths[fmt]))
    kernel, bias = model.get_layer("motif_conv").get_weights()
    np.testing.assert_array_equal(spec.kernel, kernel)
    np.testing.assert_array_equal(spec.bias, bias)
    assert spec.kernel.dtype == np.float64 and spec.filters == 3
    assert spec.report() == "motif_conv (Conv1D, relu) -> GlobalMaxPooling1D: OK"
    assert (spec.activation, spec.active_threshold, spec.input_length) == ("relu", 0.0, LENGTH)
    assert (spec.padding, spec.strides, spec.dilation_rate) == ("valid", 1, 1)
    assert not spec.channels_first and not spec.both_strands_hint
    assert spec.folded_batchnorms == () and spec.problem is None
    assert "motif_conv (Conv1D)" in spec.layers_found


@pytest.fixture(scope="module")
def with_batchnorm(tmp_path_factory):
    dna = keras.Input((LENGTH, 4), name="dna")
    x = layers.Conv1D(4, 6, name="motif_conv")(dna)
    x = layers.Dropout(0.2)(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    model = keras.Model(dna, layers.Dense(1)(x))
    randomize(model)
    return model, save_both(model, tmp_path_factory.mktemp("bn"), "bn")


@pytest.mark.parametrize("fmt", ["h5", "keras", "live"])
def test_batchnorm_is_folded_exactly(with_batchnorm, fmt):
    model, paths = with_batchnorm
    spec = (find_motif_conv_in_model(model) if fmt == "live"
            else find_motif_conv_in_file(paths[fmt]))
    assert spec.pattern_ok and spec.folded_batchnorms == ("bn",)
    assert spec.activation == "relu"
    assert spec.pattern == ["motif_conv (Conv1D, linear)", "Dropout",
                            "BatchNormalization (folded)", "Activation(relu)",
                            "GlobalMaxPooling1D"]
    x = one_hot(6)
    expected = keras.Model(model.inputs, model.get_layer("bn").output).predict(x, verbose=0)
    np.testing.assert_allclose(numpy_conv(x, spec.kernel, spec.bias), expected,
                               rtol=1e-4, atol=1e-4)
    assert not np.allclose(spec.kernel, model.get_layer("motif_conv").get_weights()[0])


# ---------------------------------------------------------------------------------------
# Conv settings: one model, one branch per setting

SETTINGS = {
    "same_s2": dict(padding="same", strides=2),
    "causal_d2": dict(padding="causal", dilation_rate=2),
    "valid_d3": dict(padding="valid", dilation_rate=3),
    "valid_s3": dict(padding="valid", strides=3),
    "same_d2": dict(padding="same", dilation_rate=2),
    "nobias": dict(use_bias=False),
}


@pytest.fixture(scope="module")
def branches(tmp_path_factory):
    dna = keras.Input((LENGTH, 4), name="dna")
    dna_cf = keras.Input((4, LENGTH), name="dna_cf")
    pooled, outputs = [], {}
    for name, kwargs in SETTINGS.items():
        outputs[name] = layers.Conv1D(3, 4, name=name, **kwargs)(dna)
        pooled.append(layers.GlobalMaxPooling1D()(outputs[name]))
    outputs["cfirst"] = layers.Conv1D(3, 4, data_format="channels_first", name="cfirst")(dna_cf)
    pooled.append(layers.GlobalMaxPooling1D(data_format="channels_first")(outputs["cfirst"]))
    model = keras.Model([dna, dna_cf], layers.Dense(1)(layers.Concatenate()(pooled)))
    randomize(model)
    x, x_cf = one_hot(5), one_hot(5)
    # TensorFlow's CPU kernels have no channels-first convolution: the reference for
    # "cfirst" is its channels-last twin, the same layer config and weights.
    cfirst = outputs.pop("cfirst")
    got = keras.Model(dna, outputs).predict(x, verbose=0)
    twin_config = {**model.get_layer("cfirst").get_config(), "data_format": "channels_last", "name": "twin"}
    twin = layers.Conv1D.from_config(twin_config)
    twin.build((None, LENGTH, 4))
    twin.set_weights(model.get_layer("cfirst").get_weights())
    got["cfirst"] = keras.ops.convert_to_numpy(twin(x_cf)).transpose(0, 2, 1)  # as the layer's (B, F, P)
    outputs["cfirst"] = cfirst
    paths = save_both(model, tmp_path_factory.mktemp("branches"), "branches")
    return model, paths, (x, x_cf), got


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_expanded_kernel_reproduces_the_layer(branches, name):
    model, paths, (x, _), got = branches
    spec = find_motif_conv_in_file(paths["keras"], layer=name)
    kwargs = SETTINGS[name]
    dilation = kwargs.get("dilation_rate", 1)
    assert spec.kernel.shape == ((4 - 1) * dilation + 1, 4, 3)
    assert spec.dilation_rate == dilation and spec.strides == kwargs.get("strides", 1)
    assert spec.padding == kwargs.get("padding", "valid")
    np.testing.assert_array_equal(spec.kernel[::dilation],
                                  model.get_layer(name).get_weights()[0])
    if kwargs.get("use_bias", True) is False:
        np.testing.assert_array_equal(spec.bias, np.zeros(3))
    mine = numpy_conv(x, spec.kernel, spec.bias, spec.padding, spec.strides)
    np.testing.assert_allclose(mine, got[name], rtol=1e-4, atol=1e-5)


def test_channels_first(branches):
    model, paths, (_, x_cf), got = branches
    spec = find_motif_conv_in_file(paths["h5"], layer="cfirst")
    assert spec.channels_first and spec.pattern_ok and spec.input_length == LENGTH
    mine = numpy_conv(x_cf, spec.kernel, spec.bias)
    np.testing.assert_allclose(mine, got["cfirst"].transpose(0, 2, 1), rtol=1e-4, atol=1e-5)


def test_first_conv_on_the_input_is_chosen(branches):
    _, paths, _, _ = branches
    assert find_motif_conv_in_file(paths["h5"]).layer_name == "same_s2"


# ---------------------------------------------------------------------------------------
# Nested models and both strands

@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    inner_in = keras.Input((LENGTH, 4), name="inner_in")
    motif = keras.Model(inner_in, layers.Conv1D(3, 5, activation="relu",
                                                name="motif_conv")(inner_in), name="motifs")
    dna = keras.Input((LENGTH, 4), name="dna")
    strands = [dna, keras.ops.flip(dna, axis=[1, 2])]
    pooled = [layers.GlobalMaxPooling1D()(motif(strand)) for strand in strands]
    model = keras.Model(dna, layers.Dense(1)(layers.Maximum()(pooled)))
    stacked = keras.Sequential([keras.Input((LENGTH, 4)),
                                keras.Sequential([layers.Conv1D(2, 3, name="inner_conv"),
                                                  layers.ReLU(threshold=0.5)], name="block"),
                                layers.GlobalMaxPooling1D()])
    randomize(model)
    randomize(stacked)
    folder = tmp_path_factory.mktemp("nested")
    return model, stacked, save_both(model, folder, "shared"), save_both(stacked, folder, "seq")


@pytest.mark.parametrize("fmt", ["h5", "keras", "live"])
def test_conv_in_a_nested_model_applied_to_both_strands(nested, fmt):
    model, _, paths, _ = nested
    spec = (find_motif_conv_in_model(model) if fmt == "live"
            else find_motif_conv_in_file(paths[fmt]))
    assert spec.layer_name == "motif_conv" and spec.both_strands_hint
    assert spec.report() == "motif_conv (Conv1D, relu) -> GlobalMaxPooling1D: OK"
    np.testing.assert_array_equal(
        spec.kernel, model.get_layer("motifs").get_layer("motif_conv").get_weights()[0])


@pytest.mark.parametrize("fmt", ["h5", "keras", "live"])
def test_sequential_inside_sequential(nested, fmt):
    _, stacked, _, paths = nested
    spec = (find_motif_conv_in_model(stacked) if fmt == "live"
            else find_motif_conv_in_file(paths[fmt]))
    assert spec.layer_name == "inner_conv" and spec.pattern_ok
    assert spec.activation == "relu" and spec.active_threshold == 0.5
    np.testing.assert_array_equal(
        spec.bias, stacked.get_layer("block").get_layer("inner_conv").get_weights()[1])


# ---------------------------------------------------------------------------------------
# Patterns that break the MLE's assumption: one model, one branch each

@keras.saving.register_keras_serializable(package="k2pgraph")
class Squash(layers.Layer):
    def call(self, x):
        return x * x


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    dna = keras.Input((LENGTH, 4), name="dna")
    conv = {name: layers.Conv1D(3, 4, name=name, **kwargs)(dna) for name, kwargs in [
        ("c_gelu", dict(activation="gelu")), ("c_pool", {}), ("c_bn", {}),
        ("c_gap", {}), ("c_custom", {}), ("c_fork", dict(activation="relu")),
        ("c_bn_after", dict(activation="relu")), ("c_leaky", {})]}
    ends = [
        layers.GlobalMaxPooling1D()(conv["c_gelu"]),
        layers.GlobalMaxPooling1D()(layers.MaxPooling1D(2)(conv["c_pool"])),
        layers.GlobalMaxPooling1D()(layers.BatchNormalization(name="bn_neg")(conv["c_bn"])),
        layers.GlobalAveragePooling1D()(conv["c_gap"]),
        layers.GlobalMaxPooling1D()(Squash(name="squash")(conv["c_custom"])),
        layers.GlobalMaxPooling1D()(conv["c_fork"]),
        layers.Dense(1)(layers.Flatten(name="fork_flatten")(conv["c_fork"])),
        layers.GlobalMaxPooling1D()(layers.BatchNormalization(name="bn_after")(conv["c_bn_after"])),
        layers.GlobalMaxPooling1D()(layers.LeakyReLU(0.1)(conv["c_leaky"])),
    ]
    model = keras.Model(dna, layers.Dense(1)(layers.Concatenate()(ends)))
    randomize(model, negative_gamma=("bn_neg",))
    return model, save_both(model, tmp_path_factory.mktemp("broken"), "broken")["keras"]


@pytest.mark.parametrize("layer, words", [
    ("c_gelu", ["c_gelu (Conv1D, gelu) [sites: windows anywhere]: NOT OK", "gelu is not non-decreasing"]),
    ("c_bn", ["BatchNormalization", "'bn_neg'", "scale <= 0", "[1]"]),
    ("c_gap", ["GlobalAveragePooling1D", "average pooling"]),
    ("c_custom", ["Squash 'squash': a custom layer"]),
    ("c_fork", ["Flatten 'fork_flatten'"]),
])
def test_broken_patterns_say_why(broken, layer, words):
    _, path = broken
    spec = find_motif_conv_in_file(path, layer=layer)
    assert not spec.pattern_ok and spec.problem and spec.scope == "anywhere" and spec.pool is None
    report = spec.report()
    assert "[sites: windows anywhere]: NOT OK" in report and "\n" not in report
    for word in words:
        assert word in report, report


def test_a_local_max_pool_takes_each_block_s_best_window(broken):
    _, path = broken
    spec = find_motif_conv_in_file(path, layer="c_pool")
    assert spec.pattern_ok and spec.scope == "block" and spec.pool == PoolSpec(2, 2, "valid")
    assert spec.report() == ("c_pool (Conv1D, linear) -> MaxPooling1D(2, strides 2, valid) "
                             "[sites: each pooling block's best window]: OK")


def test_negative_gamma_is_not_folded(broken):
    model, path = broken
    spec = find_motif_conv_in_file(path, layer="c_bn")
    assert spec.folded_batchnorms == ()
    np.testing.assert_array_equal(spec.kernel, model.get_layer("c_bn").get_weights()[0])


def test_positive_batchnorm_after_the_activation_is_accepted(broken):
    _, path = broken
    spec = find_motif_conv_in_file(path, layer="c_bn_after")
    assert spec.pattern_ok and spec.folded_batchnorms == () and spec.activation == "relu"


def test_leaky_relu_layer(broken):
    _, path = broken
    spec = find_motif_conv_in_file(path, layer="c_leaky")
    assert spec.pattern_ok and spec.activation == "leaky_relu"


def test_layer_override_errors(broken):
    _, path = broken
    with pytest.raises(K2PError, match="no layer named 'nope'; Conv1D layers: .*'c_gelu'"):
        find_motif_conv_in_file(path, layer="nope")
    with pytest.raises(K2PError, match="'bn_neg' is a BatchNormalization, not a Conv1D"):
        find_motif_conv_in_file(path, layer="bn_neg")


# ---------------------------------------------------------------------------------------
# Models without a usable motif conv (live models: nothing to save)

def test_no_conv1d():
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Flatten(name="flat"),
                              layers.Dense(1, name="out")])
    with pytest.raises(K2PError, match=r"no Conv1D layer found; layers: .*flat \(Flatten\)"):
        find_motif_conv_in_model(model)


def test_conv_on_twenty_channels():
    model = keras.Sequential([keras.Input((LENGTH, 20)), layers.Conv1D(2, 3, name="prot"),
                              layers.GlobalMaxPooling1D()])
    with pytest.raises(K2PError, match=r"Conv1D 'prot' reads 20 channels, expected 4 "
                                       r"\(one-hot A C G T\)"):
        find_motif_conv_in_model(model)


def test_extra_channels_beside_the_bases_say_why_and_what_works():
    """A conv reading A C G T plus a conservation track: the PWM would not hold the track's share."""
    model = keras.Sequential([keras.Input((LENGTH, 5)), layers.Conv1D(2, 3, name="with_track"),
                              layers.GlobalMaxPooling1D()])
    with pytest.raises(K2PError) as caught:
        find_motif_conv_in_model(model)
    message = str(caught.value)
    assert "reads 5 channels, expected 4" in message and "cannot hold what 1 more channels add" in message
    assert "a conv reading the four bases alone" in message


def test_a_custom_conv_on_the_input_says_why_and_what_works():
    """``my>MaskedConv1D`` is never run, so it cannot be taken for a Conv1D; one line says so."""
    def config(with_builtin_after):
        conv = {"class_name": "my>MaskedConv1D", "name": "masked", "inbound_nodes": [[["dna", 0, 0, {}]]],
                "config": dict(name="masked", **CONV)}
        after = [k2_layer("Conv1D", "conv1d", [[("masked", 0)]], **CONV)] if with_builtin_after else []
        last = after[-1]["name"] if after else "masked"
        return {"class_name": "Functional", "config": {
            "name": "m", "input_layers": [["dna", 0, 0]], "output_layers": [["gmp", 0, 0]],
            "layers": [{"class_name": "InputLayer", "name": "dna", "inbound_nodes": [],
                        "config": {"name": "dna", "batch_input_shape": [None, LENGTH, 4]}},
                       conv] + after + [k2_layer("GlobalMaxPooling1D", "gmp", [[(last, 0)]])]}}

    for with_builtin_after in (False, True):
        with pytest.raises(K2PError) as caught:
            find_motif_conv(config(with_builtin_after), WEIGHTS.__getitem__)
        message = str(caught.value)
        assert "layer 'masked' (my>MaskedConv1D) reads the one-hot input but is a custom class" in message
        assert "copy its kernel and bias into a keras.layers.Conv1D" in message
    with pytest.raises(K2PError, match="is a custom class"):
        find_motif_conv(config(False), WEIGHTS.__getitem__, layer="masked")


def test_the_conv_on_the_one_hot_input_is_found_whichever_input_it_is():
    """Two inputs, the features' (L, 6) conv listed first: the conv on the (L, 4) input is the motif conv."""
    tracks = keras.Input((LENGTH, 6), name="tracks")
    dna = keras.Input((LENGTH, 4), name="dna")
    t = layers.GlobalMaxPooling1D()(layers.Conv1D(2, 3, name="track_conv")(tracks))
    d = layers.GlobalMaxPooling1D()(layers.Conv1D(3, 5, activation="relu", name="motif_conv")(dna))
    model = keras.Model([tracks, dna], layers.Dense(1)(layers.Concatenate()([t, d])))
    spec = find_motif_conv_in_model(model)
    assert spec.layer_name == "motif_conv" and spec.report() == "motif_conv (Conv1D, relu) -> GlobalMaxPooling1D: OK"
    np.testing.assert_array_equal(spec.kernel, model.get_layer("motif_conv").get_weights()[0])


@pytest.mark.parametrize("alphabet", ["ACGT", "ATCG", "TGCA", "gatc"])
def test_the_kernel_is_put_in_acgt_order(alphabet):
    """Channel j of a model in ``alphabet``'s order holds letter alphabet[j]: column A C G T comes from it."""
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(3, 5, name="motif_conv"),
                              layers.GlobalMaxPooling1D()])
    stored = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    spec = find_motif_conv_in_model(model, alphabet=alphabet)
    assert spec.alphabet == alphabet.upper()
    for column, letter in enumerate("ACGT"):
        np.testing.assert_array_equal(spec.kernel[:, column], stored[:, alphabet.upper().index(letter)])
    # the scores are the same: an A C G T window scored by the spec is the model's window in its order
    x = one_hot(6)
    in_model_order = x[:, :, ["ACGT".index(letter) for letter in alphabet.upper()]]
    np.testing.assert_allclose(numpy_conv(x, spec.kernel, spec.bias),
                               numpy_conv(in_model_order, stored, spec.bias), atol=1e-12)


@pytest.mark.parametrize("alphabet", ["ACG", "ACGU", "AACG", "ACGTN", 4])
def test_an_alphabet_that_is_no_order_of_acgt_is_refused(alphabet):
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(3, 5), layers.GlobalMaxPooling1D()])
    with pytest.raises(K2PError, match="alphabet: expected the order of the model's one-hot channels"):
        find_motif_conv_in_model(model, alphabet=alphabet)


def test_grouped_conv_is_refused():
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(4, 3, groups=2),
                              layers.GlobalMaxPooling1D()])
    with pytest.raises(K2PError, match="groups=2"):
        find_motif_conv_in_model(model)


def test_conv_not_on_the_input():
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Dense(4, name="embed"),
                              layers.Conv1D(2, 3, name="late"), layers.GlobalMaxPooling1D()])
    with pytest.raises(K2PError, match="the first, 'late', reads 'embed' \\(Dense\\)"):
        find_motif_conv_in_model(model)


# ---------------------------------------------------------------------------------------
# Plain config dicts: Keras 1 and 2 graphs and activation layers

def k2_layer(class_name, name, inbound, **config):
    nodes = [[[ref, index, 0, {}] for ref, index in node] for node in inbound]
    return {"class_name": class_name, "name": name, "inbound_nodes": nodes,
            "config": dict(name=name, **config)}


CONV = dict(filters=3, kernel_size=[5], strides=[1], padding="valid", dilation_rate=[1],
            activation="linear", use_bias=True)
WEIGHTS = {"conv1d": [RNG.normal(size=(5, 4, 3)), RNG.normal(size=3)],
           "prelu_0": [np.full((1, 3), 0.2)], "prelu_neg": [np.array([[0.2, -0.1, 0.3]])]}


def tf_keras_model(after):
    """tf.keras 2.x: conv and the ``after`` layers shared by both strands (two nodes each);
    the reverse complement is a TFOpLambda, whose node is a bare ref."""
    reverse = {"class_name": "TFOpLambda", "name": "tf.reverse",
               "config": {"name": "tf.reverse", "function": "reverse"},
               "inbound_nodes": [["input_1", 0, 0, {"axis": [1, 2]}]]}
    tail, previous = [], "conv1d"
    for position, (class_name, config) in enumerate(after):
        name = f"{class_name.lower()}_{position}"
        tail.append(k2_layer(class_name, name, [[(previous, 0)], [(previous, 1)]], **config))
        previous = name
    return {"class_name": "Functional", "config": {
        "name": "model",
        "layers": [{"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
                    "config": {"batch_input_shape": [None, 50, 4], "name": "input_1"}},
                   reverse,
                   k2_layer("Conv1D", "conv1d", [[("input_1", 0)], [("tf.reverse", 0)]], **CONV),
                   *tail],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [[previous, 0, 0], [previous, 1, 0]]}}


@pytest.mark.parametrize("after, ok, activation, threshold", [
    ([("ReLU", dict(threshold=0.25)), ("GlobalMaxPooling1D", {})], True, "relu", 0.25),
    ([("LeakyReLU", dict(alpha=0.3)), ("GlobalMaxPool1D", {})], True, "leaky_relu", 0.0),
    ([("LeakyReLU", dict(alpha=-0.3)), ("GlobalMaxPooling1D", {})], False, None, None),
    ([("ReLU", dict(max_value=6.0)), ("GlobalMaxPooling1D", {})], True, "relu6", 0.0),
    ([("Activation", dict(activation="relu")), ("ReLU", dict(threshold=0.5)),
      ("GlobalMaxPooling1D", {})], True, "relu", 0.5),
    ([("ThresholdedReLU", dict(theta=1.5)), ("GlobalMaxPooling1D", {})], True, "relu", 1.5),
    ([("ELU", dict(alpha=1.0)), ("GaussianNoise", dict(stddev=0.1)),
      ("GlobalMaxPooling1D", {})], True, "elu", 0.0),
    ([("Activation", dict(activation="my>act")), ("GlobalMaxPooling1D", {})],
     False, None, None),
    ([("Activation", dict(activation={"module": "keras.activations", "class_name": "function",
                                      "config": "softplus", "registered_name": "function"})),
      ("GlobalMaxPooling1D", {})], True, "softplus", 0.0),
    ([("BatchNormalization", dict(axis=1)), ("GlobalMaxPooling1D", {})], False, None, None),
    ([("MaxPooling1D", dict(pool_size=[3], strides=None, padding="same")), ("Flatten", {})], True, "linear", 0.0),
    ([("AveragePooling1D", {}), ("GlobalMaxPooling1D", {})], False, None, None),
    ([("Activation", dict(activation="swish")), ("GlobalMaxPooling1D", {})], False, None, None),
    ([("Activation", dict(activation="sigmoid")), ("SpatialDropout1D", {}),
      ("GlobalMaxPooling1D", dict(keepdims=True))], True, "sigmoid", 0.0),
    ([("PReLU", {}), ("GlobalMaxPooling1D", {})], True, "leaky_relu", 0.0),
    ([("Softmax", {}), ("GlobalMaxPooling1D", {})], False, None, None),
    ([("GlobalMaxPooling1D", dict(data_format="channels_first"))], False, None, None),
])
def test_tf_keras_graph_activations(after, ok, activation, threshold):
    spec = find_motif_conv(tf_keras_model(after), WEIGHTS.__getitem__)
    assert spec.layer_name == "conv1d" and spec.both_strands_hint
    assert spec.input_length == 50
    assert spec.pattern_ok is ok, spec.report()
    if ok:
        assert (spec.activation, spec.active_threshold) == (activation, threshold)


@pytest.mark.parametrize("pool, expected", [
    (("MaxPooling1D", dict(pool_length=4, stride=2, border_mode="same")), PoolSpec(4, 2, "same")),  # Keras 1
    (("MaxPooling1D", dict(pool_size=[3], strides=[1], padding="valid")), PoolSpec(3, 1, "valid")),
    (("MaxPool1D", dict(pool_size=5)), PoolSpec(5, 5, "valid")),
    (("MaxPooling1D", dict(pool_size=[3], data_format="channels_first")), None),  # over the filters
    (("MaxPooling1D", dict(pool_size=[0])), None),
])
def test_max_pool_settings_are_read_as_keras_writes_them(pool, expected):
    spec = find_motif_conv(tf_keras_model([("ReLU", {}), pool, ("Flatten", {})]), WEIGHTS.__getitem__)
    assert (spec.pool, spec.scope, spec.pattern_ok) == (expected, "block" if expected else "anywhere", bool(expected))


def test_paths_pooled_differently_take_the_windows_anywhere():
    config = tf_keras_model([("MaxPooling1D", dict(pool_size=[2])), ("Flatten", {})])
    config["config"]["layers"].append(k2_layer("GlobalMaxPooling1D", "gmp_rc", [[("conv1d", 1)]]))
    spec = find_motif_conv(config, WEIGHTS.__getitem__)
    assert spec.scope == "anywhere" and "pooled differently" in spec.problem


def test_negative_prelu_breaks_the_pattern():
    config = tf_keras_model([("PReLU", {}), ("GlobalMaxPooling1D", {})])
    weights = dict(WEIGHTS, prelu_0=WEIGHTS["prelu_neg"])
    spec = find_motif_conv(config, weights.__getitem__)
    assert not spec.pattern_ok and "PReLU" in spec.problem


def test_unused_conv_output_is_reported():
    config = tf_keras_model([])
    spec = find_motif_conv(config, WEIGHTS.__getitem__)
    assert not spec.pattern_ok and "without a global max-pool" in spec.problem


def test_keras1_sequential_list_config():
    config = {"class_name": "Sequential", "config": [
        {"class_name": "Convolution1D", "config": {
            "name": "conv1d", "batch_input_shape": [None, 60, 4], "nb_filter": 3,
            "filter_length": 5, "border_mode": "same", "subsample_length": 2,
            "activation": "tanh", "bias": False}},
        {"class_name": "MaxPooling1D", "config": {"name": "pool", "pool_length": 2}},
        {"class_name": "GlobalMaxPooling1D", "config": {"name": "gmp"}}]}
    # Keras 1 stored no bias for "bias": False.
    spec = find_motif_conv(config, lambda name: WEIGHTS[name][:1])
    assert (spec.padding, spec.strides, spec.input_length) == ("same", 2, 60)
    np.testing.assert_array_equal(spec.bias, np.zeros(3))
    assert spec.report() == ("conv1d (Convolution1D, tanh) -> MaxPooling1D(2, strides 2, valid) "
                             "[sites: each pooling block's best window]: OK")
    assert spec.pool == PoolSpec(2, 2, "valid")


def test_bad_config_is_a_clear_error():
    with pytest.raises(K2PError, match="expected a model config"):
        find_motif_conv({"layers": []}, WEIGHTS.__getitem__)
    broken = tf_keras_model([("GlobalMaxPooling1D", {})])
    broken["config"]["layers"][2]["inbound_nodes"] = [[["ghost", 0, 0, {}]]]
    with pytest.raises(K2PError, match="'conv1d' reads 'ghost', which is not in the model"):
        find_motif_conv(broken, WEIGHTS.__getitem__)
    cycle = tf_keras_model([("GlobalMaxPooling1D", {})])
    cycle["config"]["layers"][2]["inbound_nodes"] = [[["globalmaxpooling1d_0", 0, 0, {}]]]
    with pytest.raises(K2PError, match="cycle or a bad node index"):
        find_motif_conv(cycle, WEIGHTS.__getitem__)


def test_different_paths_per_strand_are_not_ok():
    config = tf_keras_model([("ReLU", {}), ("GlobalMaxPooling1D", {})])
    config["config"]["layers"].append(k2_layer("GlobalMaxPooling1D", "gmp_rc",
                                               [[("conv1d", 1)]]))
    spec = find_motif_conv(config, WEIGHTS.__getitem__)
    assert not spec.pattern_ok and "different activations" in spec.problem


def test_tf_keras_nested_functional_counts_its_own_node():
    """tf.keras numbered a nested Functional's calls from 1 (node 0 is its own graph)."""
    inner = {"class_name": "Functional", "name": "inner", "config": {
        "name": "inner",
        "layers": [{"class_name": "InputLayer", "name": "inner_in", "inbound_nodes": [],
                    "config": {"batch_input_shape": [None, 50, 4], "name": "inner_in"}},
                   k2_layer("Conv1D", "conv1d", [[("inner_in", 0)]], **CONV),
                   k2_layer("ReLU", "relu", [[("conv1d", 0)]])],
        "input_layers": [["inner_in", 0, 0]], "output_layers": [["relu", 0, 0]]},
        "inbound_nodes": [[["input_1", 0, 0, {}]], [["tf.reverse", 0, 0, {}]]]}
    config = tf_keras_model([])
    config["config"]["layers"][2] = inner
    config["config"]["layers"] += [k2_layer("GlobalMaxPooling1D", "gmp_a", [[("inner", 1)]]),
                                   k2_layer("GlobalMaxPooling1D", "gmp_b", [[("inner", 2)]])]
    config["config"]["output_layers"] = [["gmp_a", 0, 0], ["gmp_b", 0, 0]]
    spec = find_motif_conv(config, WEIGHTS.__getitem__)
    assert spec.both_strands_hint and spec.input_length == 50
    assert spec.report() == ("conv1d (Conv1D, linear) -> ReLU(relu) -> GlobalMaxPooling1D: OK")


def test_config_contradicting_the_weights_warns_and_the_weights_win():
    """use_bias=False with a stored bias, filters and kernel_size off: the stored weights are used."""
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 60, 5], "name": "dna"}},
        {"class_name": "Conv1D", "config": dict(CONV, name="conv1d", filters=10 ** 9, kernel_size=[7],
                                                use_bias=False)},
        {"class_name": "GlobalMaxPooling1D", "config": {"name": "gmp"}}]}}
    with pytest.warns(UserWarning) as caught:
        spec = find_motif_conv(config, WEIGHTS.__getitem__)
    said = " ".join(str(w.message) for w in caught)
    for claim in ("use_bias=False", "filters=1000000000", "kernel_size=7", "5 channels"):
        assert claim in said
    np.testing.assert_array_equal(spec.bias, WEIGHTS["conv1d"][1])
    assert spec.kernel.shape == (5, 4, 3)


@pytest.mark.parametrize("dilation, input_shape, found", [
    (10 ** 9, [None, 60, 4], "more than the model's input length 60"),
    (3000, [None, None, 4], "more than the limit 10000"),
])
def test_a_kernel_spanning_more_than_the_input_is_refused_before_expanding(dilation, input_shape, found):
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": input_shape, "name": "dna"}},
        {"class_name": "Conv1D", "config": dict(CONV, name="conv1d", dilation_rate=[dilation])},
        {"class_name": "GlobalMaxPooling1D", "config": {"name": "gmp"}}]}}
    with pytest.raises(K2PError, match=found):
        find_motif_conv(config, WEIGHTS.__getitem__)
