"""model/files.py: saved Keras models read with zipfile/json/h5py only, nothing executed.

Keras 3 writes real files here; Keras 1 and Keras 2 files are built by hand with h5py,
following the layouts those versions wrote (../shared/notes/keras-file-formats.md).
"""

import json
import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from k2p_keras.errors import K2PError  # noqa: E402
from k2p_keras.model.conv import find_motif_conv_in_file  # noqa: E402
from k2p_keras.model.files import read_model  # noqa: E402
from k2p_keras.model.keras3 import keras3_weight_paths  # noqa: E402

RNG = np.random.default_rng(7)


def _randomize(model):
    """Random weights everywhere, BatchNorm variances positive, so nothing is trivial."""
    for layer in model.layers:
        for sub in [layer] + list(getattr(layer, "layers", [])):
            values = [RNG.normal(size=w.shape) for w in sub.get_weights()]
            if isinstance(sub, keras.layers.BatchNormalization):
                values[-1] = RNG.uniform(0.5, 2.0, size=values[-1].shape)
            sub.set_weights(values)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A Functional model with BatchNorm and a nested Sequential head, in both formats."""
    folder = tmp_path_factory.mktemp("modelfile")
    dna = keras.Input((30, 4), name="dna")
    x = keras.layers.Conv1D(3, 5, activation="relu", name="motif_conv")(dna)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.BatchNormalization(name="bn_plain", center=False, scale=False)(x)
    x = keras.layers.GlobalMaxPooling1D(name="gmp")(x)
    head = keras.Sequential([keras.layers.Dense(4, name="d1"),
                             keras.layers.BatchNormalization(name="inner_bn"),
                             keras.layers.Dense(1, name="d2")], name="head")
    model = keras.Model(dna, head(x), name="deepbind")
    # Trained a step, so that optimizer state sits in the files beside the weights
    model.compile(optimizer="adam", loss="mse")
    model.fit(RNG.normal(size=(8, 30, 4)), RNG.normal(size=(8, 1)), epochs=1, verbose=0)
    _randomize(model)
    paths = {fmt: folder / f"model.{fmt}" for fmt in ("h5", "keras")}
    for path in paths.values():
        model.save(path)
    model.save_weights(folder / "model.weights.h5")
    return model, paths, folder


def _live_weights(model, name):
    for layer in model.layers:
        for sub in [layer] + list(getattr(layer, "layers", [])):
            if sub.name == name:
                return sub.get_weights()
    raise KeyError(name)


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_weights_equal_the_live_layers_at_any_depth(saved, fmt):
    model, paths, _ = saved
    model_file = read_model(paths[fmt])
    assert model_file.format == fmt
    assert model_file.keras_version == keras.__version__
    assert model_file.config["class_name"] == "Functional"
    assert not model_file.kernel_flipped
    for name in ("motif_conv", "bn", "bn_plain", "d1", "inner_bn", "d2"):
        stored = model_file.weights(name)
        live = _live_weights(model, name)
        assert len(stored) == len(live), name
        for got, want in zip(stored, live):
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, want)
    assert model_file.weights("gmp") == []


def test_h5_says_backend(saved):
    _, paths, _ = saved
    assert read_model(paths["h5"]).backend == "tensorflow"


def test_keras_zip_without_name_attributes_maps_paths_from_config(saved, tmp_path):
    """Keras < 3.6 wrote no layer names on vars groups: paths come from class names."""
    model, paths, _ = saved
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(paths["keras"]) as source:
        source.extract("model.weights.h5", tmp_path)
        with h5py.File(tmp_path / "model.weights.h5", "a") as h5:
            named = []
            h5.visititems(lambda name, item: named.append(item) if "name" in item.attrs else None)
            for item in named:
                del item.attrs["name"]
        with zipfile.ZipFile(old, "w") as target:
            for name in ("metadata.json", "config.json"):
                target.writestr(name, source.read(name))
            target.write(tmp_path / "model.weights.h5", "model.weights.h5")
    model_file = read_model(old)
    np.testing.assert_array_equal(model_file.weights("inner_bn")[0],
                                  _live_weights(model, "inner_bn")[0])
    np.testing.assert_array_equal(model_file.weights("motif_conv")[0],
                                  _live_weights(model, "motif_conv")[0])


def test_keras_zip_with_moved_groups_maps_names_from_attributes(saved, tmp_path):
    """Where a path computed from the config is absent, the vars ``name`` attribute decides."""
    model, paths, _ = saved
    moved = tmp_path / "moved.keras"
    with zipfile.ZipFile(paths["keras"]) as source:
        source.extract("model.weights.h5", tmp_path)
        with h5py.File(tmp_path / "model.weights.h5", "a") as h5:
            h5.move("layers/conv1d", "layers/conv1d_renamed")
        with zipfile.ZipFile(moved, "w") as target:
            for name in ("metadata.json", "config.json"):
                target.writestr(name, source.read(name))
            target.write(tmp_path / "model.weights.h5", "model.weights.h5")
    np.testing.assert_array_equal(read_model(moved).weights("motif_conv")[1],
                                  _live_weights(model, "motif_conv")[1])


def test_keras3_paths_follow_class_names_and_repeats(saved):
    _, paths, _ = saved
    layout = keras3_weight_paths(read_model(paths["keras"]).config)
    assert layout["motif_conv"] == "layers/conv1d"
    assert layout["bn"] == "layers/batch_normalization"
    assert layout["bn_plain"] == "layers/batch_normalization_1"
    assert layout["gmp"] == "layers/global_max_pooling1d"
    assert layout["inner_bn"] == "layers/sequential/layers/batch_normalization"


@pytest.fixture(scope="module")
def custom_saved(tmp_path_factory):
    """A registered custom class and a Lambda; the class is unregistered after saving."""
    folder = tmp_path_factory.mktemp("custom")

    @keras.saving.register_keras_serializable(package="k2ptest")
    class RevComp(keras.layers.Layer):
        def call(self, x):
            return keras.ops.flip(x, axis=[1, 2])

    # The Lambda leaves a marker whenever it runs: reading the file must never run it
    marker = folder / "lambda_ran"
    where = str(marker)  # the closure is serialized with the Lambda: keep it JSON-able
    dna = keras.Input((30, 4), name="dna")
    scaled = keras.layers.Lambda(lambda t: t * float(open(where, "w").write("ran") > 0),
                                 name="lam")(dna)
    conv = keras.layers.Conv1D(2, 4, activation="relu", name="motif_conv")
    pooled = [keras.layers.GlobalMaxPooling1D()(conv(t)) for t in (dna, RevComp(name="rc")(scaled))]
    model = keras.Model(dna, keras.layers.Maximum()(pooled))
    _randomize(model)
    paths = {fmt: folder / f"custom.{fmt}" for fmt in ("h5", "keras")}
    for path in paths.values():
        model.save(path)
    keras.saving.get_custom_objects().pop("k2ptest>RevComp")
    marker.unlink()
    return model, paths, marker


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_custom_and_lambda_layers_stay_config_dicts(custom_saved, fmt):
    model, paths, marker = custom_saved
    model_file = read_model(paths[fmt])
    entries = model_file.layer_entries()
    assert "RevComp" in entries["rc"][1]["class_name"]
    # The Lambda's marshalled bytecode is carried as text, never loaded
    assert isinstance(entries["lam"][1]["config"]["function"], dict)
    np.testing.assert_array_equal(model_file.weights("motif_conv")[0],
                                  model.get_layer("motif_conv").get_weights()[0])
    spec = find_motif_conv_in_file(paths[fmt])
    assert spec.layer_name == "motif_conv" and spec.both_strands_hint and spec.pattern_ok
    assert not marker.exists()


def test_keras_itself_cannot_load_the_custom_model(custom_saved):
    _, paths, _ = custom_saved
    with pytest.raises(Exception):
        keras.models.load_model(paths["keras"], safe_mode=True)


def test_reading_imports_neither_keras_nor_tensorflow(saved):
    _, paths, _ = saved
    code = ("import sys; from k2p_keras.model.conv import find_motif_conv_in_file; "
            f"find_motif_conv_in_file({str(paths['keras'])!r}); "
            f"find_motif_conv_in_file({str(paths['h5'])!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('keras', 'tensorflow', 'tf_keras')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------
# Keras 1 and Keras 2 files, written the way those versions wrote them

def write_legacy_h5(path, config, weights, root_attrs, split_names=False):
    """``weights``: {top-level layer: [(weight name, array), ...]} as Keras 1/2 stored them."""
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config).encode()
        for key, value in root_attrs.items():
            h5.attrs[key] = value
        write_layer_groups(h5.create_group("model_weights"), weights, split_names)
    return path


def write_layer_groups(group, weights, split_names=False):
    """``layer_names`` and one group per layer with its ``weight_names``: a whole model's
    ``model_weights`` group, or the root of what ``save_weights`` wrote."""
    group.attrs["layer_names"] = [name.encode() for name in weights]
    for layer, pairs in weights.items():
        layer_group = group.create_group(layer)
        names = [name.encode() for name, _ in pairs]
        if split_names and len(names) > 1:
            layer_group.attrs["weight_names0"] = names[:1]
            layer_group.attrs["weight_names1"] = names[1:]
        else:
            layer_group.attrs["weight_names"] = names
        for name, array in pairs:
            layer_group.create_dataset(name, data=array)


def write_weights_only_h5(path, weights, root_attrs=()):
    """What Keras 1/2 ``save_weights`` wrote: the layer groups at the root, no architecture."""
    with h5py.File(path, "w") as h5:
        for key, value in dict(root_attrs).items():
            h5.attrs[key] = value
        write_layer_groups(h5, weights)
    return path


def keras1_sequential(conv_name="convolution1d_1", length=40):
    return {"class_name": "Sequential", "config": [
        {"class_name": "Convolution1D", "config": {
            "name": conv_name, "trainable": True, "batch_input_shape": [None, length, 4],
            "input_dtype": "float32", "nb_filter": 3, "filter_length": 5,
            "init": "glorot_uniform", "activation": "relu", "border_mode": "valid",
            "subsample_length": 1, "bias": True, "input_dim": 4, "input_length": length}},
        {"class_name": "GlobalMaxPooling1D", "config": {"name": "globalmaxpooling1d_1",
                                                       "trainable": True}},
        {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 1,
                                           "activation": "sigmoid", "bias": True}}]}


KERNEL = RNG.normal(size=(5, 4, 3))
BIAS = RNG.normal(size=3)


@pytest.mark.parametrize("layout", ["1.1", "1.0"])
def test_keras1_theano_kernels_are_reshaped_and_flipped(tmp_path, layout):
    # Keras 1.1+ stored W as (k, 1, 4, F), 1.0.x as (F, 4, k, 1); Theano names lack ":0"
    stored = KERNEL[:, np.newaxis]
    if layout == "1.0":
        stored = stored.transpose(3, 2, 0, 1)
    path = write_legacy_h5(tmp_path / "k1.h5", keras1_sequential(), {
        "convolution1d_1": [("convolution1d_1_W", stored),
                            ("convolution1d_1_b", BIAS)],
        "globalmaxpooling1d_1": [],
        "dense_1": [("dense_1_W", np.ones((3, 1))), ("dense_1_b", np.zeros(1))]},
        {"keras_version": b"1.2.2"})
    model_file = read_model(path)
    assert model_file.kernel_flipped and model_file.backend is None
    kernel, bias = model_file.weights("convolution1d_1")
    np.testing.assert_array_equal(kernel, KERNEL[::-1])
    np.testing.assert_array_equal(bias, BIAS)
    spec = find_motif_conv_in_file(path)
    assert spec.report() == ("convolution1d_1 (Convolution1D, relu) -> GlobalMaxPooling1D: OK")
    assert spec.input_length == 40 and spec.padding == "valid"


def test_keras1_tensorflow_kernels_are_not_flipped(tmp_path):
    path = write_legacy_h5(tmp_path / "k1tf.h5", keras1_sequential(), {
        "convolution1d_1": [("convolution1d_1_W:0", KERNEL[:, np.newaxis]),
                            ("convolution1d_1_b:0", BIAS)]}, {})
    model_file = read_model(path)
    assert not model_file.kernel_flipped and model_file.keras_version is None
    np.testing.assert_array_equal(model_file.weights("convolution1d_1")[0], KERNEL)


def test_keras2_theano_backend_flips(tmp_path):
    config = keras1_sequential()
    config["config"][0] = {"class_name": "Conv1D", "config": {
        "name": "conv1d_1", "batch_input_shape": [None, 40, 4], "filters": 3,
        "kernel_size": [5], "strides": [1], "padding": "valid", "dilation_rate": [1],
        "activation": "linear", "use_bias": True}}
    config = {"class_name": "Sequential", "config": {"name": "sequential_1",
                                                      "layers": config["config"]}}
    path = write_legacy_h5(tmp_path / "k2th.h5", config, {
        "conv1d_1": [("conv1d_1/kernel", KERNEL), ("conv1d_1/bias", BIAS)]},
        {"keras_version": b"2.2.4", "backend": b"theano"}, split_names=True)
    model_file = read_model(path)
    assert model_file.kernel_flipped and model_file.backend == "theano"
    np.testing.assert_array_equal(model_file.weights("conv1d_1")[0], KERNEL[::-1])


def keras1_model_with_nested_sequential():
    inner = keras1_sequential()["config"][:1] + [
        {"class_name": "Activation", "config": {"name": "activation_1", "activation": "relu"}}]
    inner[0]["config"]["activation"] = "linear"
    return {"class_name": "Model", "config": {
        "name": "model_1",
        "layers": [
            {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 40, 4], "input_dtype": "float32",
                        "sparse": False, "name": "input_1"}},
            {"class_name": "Sequential", "name": "sequential_1", "config": inner,
             "inbound_nodes": [[["input_1", 0, 0]]]},
            {"class_name": "GlobalMaxPooling1D", "name": "globalmaxpooling1d_1",
             "config": {"name": "globalmaxpooling1d_1"},
             # Keras 1 counted the nested model's own node: its first call is node 1
             "inbound_nodes": [[["sequential_1", 1, 0]]]}],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["globalmaxpooling1d_1", 0, 0]]}}


def test_nested_keras1_weights_are_picked_by_layer_prefix(tmp_path):
    path = write_legacy_h5(tmp_path / "nested.h5", keras1_model_with_nested_sequential(), {
        "sequential_1": [("convolution1d_1_W:0", KERNEL[:, np.newaxis]),
                         ("convolution1d_1_b:0", BIAS)]}, {"keras_version": b"1.2.2"})
    model_file = read_model(path)
    np.testing.assert_array_equal(model_file.weights("convolution1d_1")[1], BIAS)
    spec = find_motif_conv_in_file(path)
    assert spec.pattern_ok and spec.activation == "relu"
    assert spec.pattern == ["convolution1d_1 (Convolution1D, linear)", "Activation(relu)",
                            "GlobalMaxPooling1D"]


def test_nested_tf_keras_weights_are_picked_by_path_component(tmp_path):
    config = keras1_model_with_nested_sequential()
    config["class_name"] = "Functional"
    path = write_legacy_h5(tmp_path / "nested2.h5", config, {
        "sequential_1": [("convolution1d_1/kernel:0", KERNEL[:, np.newaxis]),
                         ("dense_9/kernel:0", np.ones((3, 1))),
                         ("convolution1d_1/bias:0", BIAS)]},
        {"keras_version": b"2.4.0", "backend": b"tensorflow"})
    kernel, bias = read_model(path).weights("convolution1d_1")
    np.testing.assert_array_equal(kernel, KERNEL)
    np.testing.assert_array_equal(bias, BIAS)


# ---------------------------------------------------------------------------------------
# Files we refuse, with one line that says why

def _refused(path, *words):
    with pytest.raises(K2PError) as caught:
        read_model(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message
    return message


def test_missing_file_and_directory(tmp_path):
    _refused(tmp_path / "nope.h5", "not found")
    _refused(tmp_path, "directory")


def test_text_file_is_not_a_model(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("conv1d relu maxpool\n")
    _refused(path, "neither HDF5 nor a .keras zip")


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_truncated_files(saved, tmp_path, fmt):
    _, paths, _ = saved
    data = paths[fmt].read_bytes()
    path = tmp_path / f"half.{fmt}"
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "truncated or corrupt")


def test_keras3_weights_only_file(saved):
    _, _, folder = saved
    _refused(folder / "model.weights.h5", "weights-only file", "architecture JSON", "--weights", "model.save(")


def test_legacy_weights_only_file(tmp_path):
    path = tmp_path / "legacy.weights.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["layer_names"] = [b"conv1d_1"]
        h5.attrs["backend"] = b"tensorflow"
        h5.create_group("conv1d_1").attrs["weight_names"] = [b"conv1d_1/kernel:0"]
        h5["conv1d_1"].create_dataset("conv1d_1/kernel:0", data=KERNEL)
    _refused(path, "weights-only file", "give its architecture JSON (model.to_json()) as MODEL and this file "
             "as --weights")


def test_keras0_file_says_why_and_what_works(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["nb_layers"] = 3
    _refused(path, "Keras 0.x", "numbered, not named", "save it again with Keras 1 or later")


def test_hdf5_without_model(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.zeros(3)
    _refused(path, "no model_config")


@pytest.mark.parametrize("kind", ["soft", "external", "virtual"])
def test_hdf5_links_and_virtual_datasets_are_refused(tmp_path, kind):
    path = write_legacy_h5(tmp_path / f"{kind}.h5", keras1_sequential(), {
        "convolution1d_1": [("convolution1d_1_W:0", KERNEL[:, np.newaxis]),
                            ("convolution1d_1_b:0", BIAS)]}, {})
    with h5py.File(path, "a") as h5:
        if kind == "soft":
            h5["model_weights/alias"] = h5py.SoftLink("/model_weights/convolution1d_1")
        elif kind == "external":
            h5["model_weights/outside"] = h5py.ExternalLink("/etc/passwd", "/")
        else:
            layout = h5py.VirtualLayout(shape=(3,), dtype="f8")
            layout[:] = h5py.VirtualSource("other.h5", "x", shape=(3,))
            h5.create_virtual_dataset("model_weights/virtual", layout)
    _refused(path, "refusing")


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def keras_members(saved):
    _, paths, _ = saved
    with zipfile.ZipFile(paths["keras"]) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_zip_bomb_is_refused(keras_members, tmp_path):
    members = dict(keras_members, **{"assets/padding.bin": bytes(20 * 1024 ** 2)})
    path = _zip(tmp_path / "bomb.keras", members, zipfile.ZIP_DEFLATED)
    _refused(path, "zip bomb")


def test_oversized_member_is_refused(keras_members, tmp_path, monkeypatch):
    from k2p_keras.model import keras3

    monkeypatch.setattr(keras3, "MAX_MEMBER_BYTES", 1000)
    _refused(_zip(tmp_path / "big.keras", keras_members), "would inflate")


def test_zip_without_config_or_weights(keras_members, tmp_path):
    no_config = {k: v for k, v in keras_members.items() if k != "config.json"}
    _refused(_zip(tmp_path / "a.keras", no_config), "no config.json")
    npz = {k: v for k, v in keras_members.items() if k != "model.weights.h5"}
    _refused(_zip(tmp_path / "b.keras", npz), "no model.weights.h5")
    npz["model.weights.npz"] = b"PK"
    _refused(_zip(tmp_path / "c.keras", npz), "unpickling")


def test_corrupt_config_json(keras_members, tmp_path):
    members = dict(keras_members, **{"config.json": b"{not json"})
    _refused(_zip(tmp_path / "bad.keras", members), "invalid JSON")


def test_missing_layer_weights(tmp_path):
    path = write_legacy_h5(tmp_path / "gone.h5", keras1_sequential(), {"dense_1": []}, {})
    model_file = read_model(path)
    with pytest.raises(K2PError, match="no weights for layer 'convolution1d_1'"):
        model_file.weights("convolution1d_1")
    with pytest.raises(K2PError, match="no layer named 'nothing'"):
        model_file.weights("nothing")
    with pytest.raises(K2PError, match="no weights for layer"):
        find_motif_conv_in_file(path)


# ---------------------------------------------------------------------------------------
# Keras 1 Convolution2D: the kernel's layout and orientation follow dim_ordering

def keras1_conv2d_sequential(dim_ordering, length=40):
    """A Keras 1.2 Sequential: Convolution2D spanning the 4 bases -> GlobalMaxPooling2D -> Dense."""
    shape = [None, 4, length, 1] if dim_ordering == "tf" else [None, 1, 4, length]
    return {"class_name": "Sequential", "keras_version": "1.2.1", "config": [
        {"class_name": "Convolution2D", "config": {
            "name": "convolution2d_1", "trainable": True, "dim_ordering": dim_ordering, "nb_col": 5,
            "subsample": [1, 1], "init": "glorot_uniform", "bias": True, "nb_filter": 3,
            "border_mode": "valid", "batch_input_shape": shape, "activation": "relu", "nb_row": 4}},
        {"class_name": "GlobalMaxPooling2D", "config": {"name": "globalmaxpooling2d_1", "trainable": True,
                                                       "dim_ordering": dim_ordering}},
        {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 1, "activation": "sigmoid",
                                           "bias": True, "input_dim": 3}}]}


def keras1_conv2d_kernel(dim_ordering, theano):
    """KERNEL (k, 4, F) as Keras 1 stored it: 'tf' (4, k, 1, F); 'th' (F, 1, 4, k), flipped on both
    axes (positions and bases) when Theano's true convolution computed with it."""
    image = KERNEL.transpose(1, 0, 2)[:, :, np.newaxis, :]
    if dim_ordering == "tf":
        return image
    stored = image.transpose(3, 2, 0, 1)
    return stored[:, :, ::-1, ::-1] if theano else stored


@pytest.mark.parametrize("dim_ordering", ["tf", "th"])
@pytest.mark.parametrize("theano", [True, False], ids=["theano-names", "tensorflow-names"])
def test_keras1_convolution2d_orientation_follows_dim_ordering(tmp_path, dim_ordering, theano):
    """'th' kernels from Theano are flipped on both axes; 'tf' ones never, even without ':0' in
    their names (the DeepLIFT files: tf-ordered TensorFlow kernels saved from Theano)."""
    suffix = "" if theano else ":0"
    path = write_legacy_h5(tmp_path / "k1.h5", keras1_conv2d_sequential(dim_ordering), {
        "convolution2d_1": [(f"convolution2d_1_W{suffix}", keras1_conv2d_kernel(dim_ordering, theano)),
                            (f"convolution2d_1_b{suffix}", BIAS)],
        "globalmaxpooling2d_1": [],
        "dense_1": [(f"dense_1_W{suffix}", np.ones((3, 1))), (f"dense_1_b{suffix}", np.zeros(1))]},
        {"keras_version": b"1.2.0"})
    spec = find_motif_conv_in_file(path)
    np.testing.assert_array_equal(spec.kernel, KERNEL)
    np.testing.assert_array_equal(spec.bias, BIAS)
    layout = "image" if dim_ordering == "tf" else "image-channels-first"
    assert spec.conv2d_layout == layout and spec.channels_first == (dim_ordering == "th")
    assert spec.input_length == 40
    assert spec.report() == (f"convolution2d_1 (Convolution2D on one-hot DNA as Conv1D, {layout} layout, relu) "
                             "-> GlobalMaxPooling2D: OK")


def test_keras2_theano_conv2d_is_flipped_on_both_axes(tmp_path):
    """Keras 2 on Theano stored (height, width, in, F) kernels of a true convolution."""
    config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
        {"class_name": "Conv2D", "config": {
            "name": "conv2d_1", "batch_input_shape": [None, 4, 40, 1], "filters": 3, "kernel_size": [4, 5],
            "strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1], "data_format": "channels_last",
            "activation": "relu", "use_bias": True}},
        {"class_name": "GlobalMaxPooling2D", "config": {"name": "gmp", "data_format": "channels_last"}}]}}
    stored = KERNEL.transpose(1, 0, 2)[:, :, np.newaxis, :][::-1, ::-1]
    path = write_legacy_h5(tmp_path / "k2th.h5", config, {
        "conv2d_1": [("conv2d_1/kernel", stored), ("conv2d_1/bias", BIAS)], "gmp": []},
        {"keras_version": b"2.2.4", "backend": b"theano"})
    np.testing.assert_array_equal(find_motif_conv_in_file(path).kernel, KERNEL)


# ---------------------------------------------------------------------------------------
# An architecture JSON with its weights apart: model.to_json() + model.save_weights(...)

def test_keras3_json_and_weights_read_as_the_whole_model(saved, tmp_path):
    model, paths, folder = saved
    json_path = tmp_path / "model.json"
    json_path.write_text(model.to_json())
    pair = read_model(json_path, weights=folder / "model.weights.h5")
    whole = read_model(paths["keras"])
    assert pair.format == "json" and pair.weights_path == str(folder / "model.weights.h5")
    for name in ("motif_conv", "bn", "bn_plain", "d1", "inner_bn", "d2"):
        for mine, theirs in zip(pair.weights(name), whole.weights(name), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    spec = find_motif_conv_in_file(json_path, weights=folder / "model.weights.h5")
    assert spec.report() == find_motif_conv_in_file(paths["keras"]).report()


def test_keras1_json_and_save_weights(tmp_path):
    """Keras 1.2.1 JSON + save_weights: only the JSON says the version; names without ':0' say Theano."""
    json_path = tmp_path / "k1.json"
    json_path.write_text(json.dumps({**keras1_sequential(), "keras_version": "1.2.1"}))
    weights = write_weights_only_h5(tmp_path / "k1_weights.h5", {
        "convolution1d_1": [("convolution1d_1_W", KERNEL[:, np.newaxis]), ("convolution1d_1_b", BIAS)],
        "globalmaxpooling1d_1": [],
        "dense_1": [("dense_1_W", np.ones((3, 1))), ("dense_1_b", np.zeros(1))]})
    model_file = read_model(json_path, weights=weights)
    assert model_file.kernel_flipped and model_file.keras_version == "1.2.1"
    np.testing.assert_array_equal(model_file.weights("convolution1d_1")[0], KERNEL[::-1])
    np.testing.assert_array_equal(find_motif_conv_in_file(json_path, weights=weights).kernel, KERNEL[::-1])


def test_tf_keras_json_and_save_weights(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    model = tf_keras.Sequential([tf_keras.Input((30, 4)), tf_keras.layers.Conv1D(3, 5, name="motif_conv"),
                                 tf_keras.layers.GlobalMaxPooling1D()])
    (tmp_path / "model.json").write_text(model.to_json())
    model.save_weights(tmp_path / "model_weights.h5")
    model_file = read_model(tmp_path / "model.json", weights=tmp_path / "model_weights.h5")
    assert model_file.backend == "tensorflow" and not model_file.kernel_flipped
    np.testing.assert_array_equal(model_file.weights("motif_conv")[0], model.get_layer("motif_conv").get_weights()[0])


def _refused_pair(model, weights, *words):
    with pytest.raises(K2PError) as caught:
        read_model(model, weights=weights)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_json_without_weights_says_what_to_add(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(keras1_sequential()))
    _refused(path, "architecture JSON", "holds no weights", "--weights FILE.h5")


def test_pairs_that_are_no_json_and_weights(saved, tmp_path):
    _, paths, folder = saved
    json_path = tmp_path / "model.json"
    json_path.write_text(json.dumps(keras1_sequential()))
    _refused_pair(paths["h5"], folder / "model.weights.h5", str(paths["h5"]), "whole model file", "alone")
    _refused_pair(json_path, paths["h5"], "a whole model file, not a weights-only file")
    text = tmp_path / "weights.txt"
    text.write_text("1 2 3\n")
    _refused_pair(json_path, text, "expected an HDF5 weights file")
    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as h5:
        h5.attrs["nb_layers"] = 3
    _refused_pair(json_path, old, "Keras 0.x")
    data = tmp_path / "data.h5"
    with h5py.File(data, "w") as h5:
        h5["x"] = np.zeros(3)
    _refused_pair(json_path, data, "without Keras weights")
    bad = tmp_path / "bad.json"
    bad.write_text('{"class_name": "Sequential"')
    _refused_pair(bad, folder / "model.weights.h5", "invalid JSON")
