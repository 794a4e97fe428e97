"""Models as they exist in the wild (docs/models-in-the-wild.md): every row of the table.

The model files in tests/wild_models/ were built by ``make_wild_models.py`` there, each saved by
the Keras that writes its format (Keras 3 for ``.keras``, folders and Keras 3 ``.h5``; tf_keras
for the Keras 2 files). Every accepted model is checked against numpy and against the model
itself: the PWMs are ``softmax(ln b * W)`` of the kernel the writer's Keras holds, and the
model's own pooled output (the tensor its head reads) equals the max over windows (over both
strands where the graph merges them) of the activation of ``log_b P + d``.
"""

import os
import pathlib
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

import k2p_keras  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.cli.extract import progress_steps  # noqa: E402
from k2p_keras.errors import PatternError  # noqa: E402
from k2p_keras.model.conv import find_motif_conv_in_file  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402

HERE = pathlib.Path(__file__).parent / "wild_models"
sys.path.insert(0, str(HERE))
from make_wild_models import FILTERS, WIDTH, planted_sequences  # noqa: E402

SEQS = HERE / "seqs.npy"


# ----------------------------------------------------------------------------- numpy references

def numpy_pwms(kernel, ln_b):
    """Row-wise softmax of ``ln b * W``, written out: (L, 4, F)."""
    scaled = ln_b * kernel
    e = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def windows_of(x, length=WIDTH):
    """All valid windows (N, P, L, 4)."""
    return np.lib.stride_tricks.sliding_window_view(x, length, axis=1).transpose(0, 1, 3, 2)


def log_b_p_plus_d(kernel, bias, ln_b, windows):
    """``log_b P(window) + d`` on every window, from the PWMs alone (no convolution): (N, P, F)."""
    pwms = numpy_pwms(kernel, ln_b)
    loglik = np.einsum("npla,laf->npf", windows, np.log(pwms)) / ln_b
    # d, row by row: a padding row (all zero) adds nothing (Theorem 3)
    lse = np.log(np.exp(ln_b * kernel).sum(axis=1)) / ln_b  # (L, F)
    return loglik + np.einsum("npl,lf->npf", windows.sum(axis=-1), lse) + bias


def numpy_mle(kernel, windows):
    """Shared ln b from the best windows, by a bounded search of the likelihood written out."""
    from scipy.optimize import minimize_scalar

    best = np.einsum("npla,laf->npf", windows, kernel).argmax(axis=1)
    chosen = np.stack([windows[np.arange(len(windows)), best[:, t]] for t in range(kernel.shape[2])])

    def negative(v):
        total = 0.0
        for t in range(kernel.shape[2]):
            w = kernel[:, :, t]
            lse = np.log(np.exp(v * w).sum(axis=1))
            # padding rows are all zero and add no log-sum-exp term
            total += v * np.einsum("nla,la->", chosen[t], w) - chosen[t].sum(axis=(0, 2)) @ lse
        return -total

    return minimize_scalar(negative, bounds=(1e-4, 60), method="bounded", options={"xatol": 1e-10}).x


# ----------------------------------------------------------------------------- the writers' own view

def load_with_writer(path):
    """The model loaded by the Keras that wrote it (tf_keras for Keras 2 files)."""
    if path.name.startswith("tf_keras"):
        tf_keras = pytest.importorskip("tf_keras")
        return tf_keras.models.load_model(path, compile=False)
    return keras.models.load_model(path, compile=False, safe_mode=False)


def conv_weights(model, name):
    kernel, bias = [w.astype(np.float64) for w in model.get_layer(name).get_weights()]
    return kernel, bias


def pooled_output(model, x):
    """What the model's head reads: the tensor after merging and pooling, as the model computes it."""
    api = sys.modules["tf_keras"] if type(model).__module__.startswith("tf_keras") else keras
    sub = api.Model(model.inputs, model.layers[-1].input)
    return np.asarray(sub(x.astype(np.float32)), dtype=np.float64)


@pytest.fixture(scope="module")
def x():
    return np.load(SEQS)


def test_the_committed_sequences_are_the_script_s():
    np.testing.assert_array_equal(np.load(SEQS), planted_sequences())


# ----------------------------------------------------------------------------- strand merges

ACCEPTED_STRANDS = {
    "strands_maximum_flip.keras": "checked",
    "strands_maximum_lambda.keras": "assumed",
    "strands_concatenate_positions_ops_max.keras": "checked",
    "tf_keras_strands.h5": "checked",
    "tf_keras_strands.keras": "checked",
}


@pytest.mark.parametrize("name", sorted(ACCEPTED_STRANDS))
def test_strands_merged_before_pooling_are_a_both_strand_scan(name, x):
    path = HERE / name
    spec = find_motif_conv_in_file(path)
    assert spec.pattern_ok and spec.both_strands
    assert f"reverse complement {ACCEPTED_STRANDS[name]}" in spec.report()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no flag needed, and no warning asking for one
        result = k2p_keras.extract(path, x, sites="all")  # the reference below counts every best window
    assert result.options.both_strands

    model = load_with_writer(path)
    kernel, bias = conv_weights(model, "shared_conv")
    both = np.concatenate([windows_of(x), windows_of(x[:, ::-1, ::-1])], axis=1)
    ln_b = result.exact.ln_base[0]
    np.testing.assert_allclose(ln_b, numpy_mle(kernel, both), rtol=0, atol=1e-6)
    assert abs(numpy_mle(kernel, windows_of(x)) - ln_b) > 1e-6  # the reverse strand matters here
    np.testing.assert_allclose(result.exact.pwms, np.moveaxis(numpy_pwms(kernel, ln_b), 2, 0), atol=1e-12)

    # The model's own merge and pool: ReLU of the best log_b P + d over both strands.
    predicted = np.maximum(log_b_p_plus_d(kernel, bias, ln_b, both).max(axis=1), 0)
    np.testing.assert_allclose(pooled_output(model, x), predicted, rtol=1e-5, atol=1e-5)


ANYWHERE_STRANDS = {
    "strands_add.keras": "combines the strands' scores window by window",
    "strands_average.keras": "combines the strands' scores window by window",
    "strands_concatenate_filters.keras": "each strand is pooled on its own",
    "strands_reverse_without_complement.keras": "not a reverse complement",
    "ops_max_over_filters.keras": "expected the positions axis (1) only",
}


@pytest.mark.parametrize("name", sorted(ANYWHERE_STRANDS))
def test_merges_that_mix_strands_take_the_windows_anywhere_and_strict_refuses(name, x, tmp_path):
    path = HERE / name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = k2p_keras.extract(path, x)
    said = [str(w.message) for w in caught if "does not hold" in str(w.message)]
    assert len(said) == 1 and ANYWHERE_STRANDS[name] in said[0]
    assert result.site_scope == "anywhere" and not result.options.both_strands
    with pytest.raises(PatternError, match="NOT OK") as err:
        k2p_keras.extract(path, x, strict=True)
    assert ANYWHERE_STRANDS[name] in str(err.value) and str(path) in str(err.value)
    result = CliRunner().invoke(cli, [str(path), str(SEQS), "--strict", "-o", str(tmp_path / "m.meme")])
    assert result.exit_code != 0 and ANYWHERE_STRANDS[name] in result.output
    assert not (tmp_path / "m.meme").exists()
    # A fixed base needs no assumption about the pooling.
    fixed = k2p_keras.extract(path, base=2.0, strict=True)
    kernel = find_motif_conv_in_file(path).kernel
    np.testing.assert_allclose(fixed.exact.pwms, np.moveaxis(numpy_pwms(kernel, np.log(2.0)), 2, 0),
                               atol=1e-12)


def test_the_both_strands_flag_on_a_forward_only_model_warns(x):
    with pytest.warns(UserWarning, match="forward strand only"):
        k2p_keras.extract(HERE / "ops_max_pool.keras", x, both_strands=True)


# ----------------------------------------------------------------------------- ops and ReLU

@pytest.mark.parametrize("name", ["ops_max_pool.keras", "keras3_folder"])
def test_a_global_max_written_as_an_op(name, x, tmp_path):
    path = HERE / name
    out = tmp_path / "m.meme"
    result = CliRunner().invoke(cli, [str(path), str(SEQS), "-o", str(out), "--sites", "all"])
    assert result.exit_code == 0, result.output
    assert "motif_conv (Conv1D, relu) -> Max(axis=1): OK" in result.output
    model = keras.models.load_model(path, compile=False)
    kernel, bias = conv_weights(model, "motif_conv")
    ln_b = numpy_mle(kernel, windows_of(x))
    meme = read_meme(out)
    for t, motif in enumerate(meme.motifs):
        np.testing.assert_allclose(motif.pwm, numpy_pwms(kernel, ln_b)[:, :, t], atol=1e-5)  # MEME text: 6 digits
    predicted = np.maximum(log_b_p_plus_d(kernel, bias, ln_b, windows_of(x)).max(axis=1), 0)
    np.testing.assert_allclose(pooled_output(model, x), predicted, rtol=1e-5, atol=1e-5)


def test_relu_layer_parameters(x):
    """ReLU(max_value=4, threshold=0.5, negative_slope=0.1): non-decreasing, active above 0.5."""
    path = HERE / "relu_layer_parameters.h5"
    spec = find_motif_conv_in_file(path)
    assert spec.pattern_ok and spec.activation == "leaky_relu" and spec.active_threshold == 0.5
    result = k2p_keras.extract(path, x, sites="all")
    model = keras.models.load_model(path, compile=False)
    kernel, bias = conv_weights(model, "motif_conv")
    ln_b = result.exact.ln_base[0]
    np.testing.assert_allclose(ln_b, numpy_mle(kernel, windows_of(x)), rtol=0, atol=1e-6)
    best = log_b_p_plus_d(kernel, bias, ln_b, windows_of(x)).max(axis=1)
    # Keras's ReLU, written out: x above the threshold, slope * (x - threshold) below, clipped at 4.
    relu = np.minimum(np.where(best >= 0.5, best, 0.1 * (best - 0.5)), 4.0)
    np.testing.assert_allclose(pooled_output(model, x), relu, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- patterns that break

@pytest.mark.parametrize("name, pool", [
    ("basset_like.keras", "MaxPooling1D(3, strides 3, valid)"),
    ("danq_like.h5", "MaxPooling1D(4, strides 4, valid)"),
])
def test_basset_and_danq_take_each_pooling_block_s_best_window(name, pool, tmp_path):
    path = HERE / name
    out = tmp_path / "m.meme"
    result = CliRunner().invoke(cli, [str(path), str(SEQS), "-o", str(out), "--strict"])
    assert result.exit_code == 0, result.output
    assert f"-> {pool} [sites: each pooling block's best window]: OK" in result.output
    assert "Warning" not in result.output
    assert any(line.startswith("# pattern: ") and line.endswith("sites: strong, each pooling block's best window)")
               for line in out.read_text().splitlines())
    out = tmp_path / "fixed.meme"
    result = CliRunner().invoke(cli, [str(path), "--base", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = keras.models.load_model(path, compile=False)
    kernel, bias = conv_weights(model, "motif_conv")
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if norms:  # Basset's BatchNorm sits before the ReLU: folded into the kernel
        gamma, beta, mean, var = [w.astype(np.float64) for w in norms[0].get_weights()]
        kernel = kernel * (gamma / np.sqrt(var + norms[0].epsilon))
    for t, motif in enumerate(read_meme(out).motifs):
        np.testing.assert_allclose(motif.pwm, numpy_pwms(kernel, np.log(2.0))[:, :, t], atol=1e-5)


# ----------------------------------------------------------------------------- file formats

def test_keras3_model_folder_reads_like_its_zip():
    folder = find_motif_conv_in_file(HERE / "keras3_folder")
    zipped = find_motif_conv_in_file(HERE / "ops_max_pool.keras")
    model = keras.models.load_model(HERE / "keras3_folder", compile=False)
    np.testing.assert_array_equal(folder.kernel, conv_weights(model, "motif_conv")[0])
    assert folder.report() == zipped.report()


def test_a_folder_that_is_no_model_is_refused(tmp_path):
    result = CliRunner().invoke(cli, [str(tmp_path), str(SEQS)])
    assert result.exit_code != 0 and "not a Keras model folder" in result.output


def test_tf_keras_keras_files_are_read(x):
    path = HERE / "tf_keras_plain.keras"
    model = load_with_writer(path)
    spec = find_motif_conv_in_file(path)
    np.testing.assert_array_equal(spec.kernel, conv_weights(model, "motif_conv")[0])
    assert spec.report() == "motif_conv (Conv1D, relu) -> GlobalMaxPooling1D: OK"


# ----------------------------------------------------------------------------- Conv2D on one-hot DNA

from make_wild_models import layout_of  # noqa: E402

CONV2D = {"conv2d_keras_genomics.keras": (4, 1, 40), "conv2d_image.keras": (4, 40, 1),
          "conv2d_row.h5": (1, 40, 4)}


def padded(x, padding):
    if padding == "same":
        return np.pad(x, [(0, 0), (WIDTH // 2, WIDTH // 2), (0, 0)])
    return x


@pytest.mark.parametrize("name", sorted(CONV2D))
def test_conv2d_on_one_hot_dna_reads_as_its_conv1d(name, x, tmp_path):
    path = HERE / name
    spec = find_motif_conv_in_file(path)
    assert spec.pattern_ok and spec.conv2d_layout is not None and spec.input_length == 40
    in_layout = tmp_path / "seqs_in_layout.npy"
    np.save(in_layout, layout_of(x, CONV2D[name]))
    assert np.load(in_layout).shape[1:] == CONV2D[name]
    canonical = k2p_keras.extract(path, x, sites="all")
    own = k2p_keras.extract(path, str(in_layout), sites="all")  # the layout the model was trained on
    np.testing.assert_array_equal(own.exact.ln_base, canonical.exact.ln_base)
    np.testing.assert_array_equal(own.exact.pwms, canonical.exact.pwms)

    windows = windows_of(padded(x, spec.padding))
    ln_b = canonical.exact.ln_base[0]
    np.testing.assert_allclose(ln_b, numpy_mle(spec.kernel, windows), rtol=0, atol=1e-6)
    np.testing.assert_allclose(canonical.exact.pwms, np.moveaxis(numpy_pwms(spec.kernel, ln_b), 2, 0),
                               atol=1e-12)
    # The model's own layer: verify computes it with Keras on every window.
    result = CliRunner().invoke(cli, ["verify", str(path), str(in_layout)])
    assert result.exit_code == 0, result.output
    assert "model" in result.output or "Keras" in result.output
    if CONV2D[name][0] == 4 and CONV2D[name][1] == 1:
        return  # channels-first: TensorFlow cannot run the whole model on a CPU
    # The whole model, as Keras runs it: its pooled output is the best log_b P + d, activated.
    model = keras.models.load_model(path, compile=False)
    best = log_b_p_plus_d(spec.kernel, spec.bias, ln_b, windows).max(axis=1)
    np.testing.assert_allclose(pooled_output(model, layout_of(x, CONV2D[name])), np.maximum(best, 0),
                               rtol=1e-5, atol=1e-5)


def test_conv2d_image_layout_kernel_is_the_transposed_conv1d_kernel():
    """(4, k, 1, F) rows are the bases: the Conv1D kernel is its transpose, checked on Keras's weights."""
    model = keras.models.load_model(HERE / "conv2d_image.keras", compile=False)
    stored = model.get_layer("motif_conv").get_weights()[0]
    spec = find_motif_conv_in_file(HERE / "conv2d_image.keras")
    for base in range(4):
        np.testing.assert_array_equal(spec.kernel[:, base, :], stored[base, :, 0, :])


def test_tf_keras_2_13_weight_layout_is_read(tmp_path):
    """tf.keras 2.13-2.15 wrote ``_layer_checkpoint_dependencies/...`` where later writers write
    ``layers/...`` (Keras 3 reads them by that renaming). No such Keras installs on Python 3.11,
    so the file is tf_keras 2.21's ``.keras`` with its weight groups renamed that way."""
    import shutil
    import zipfile

    import h5py

    source = HERE / "tf_keras_plain.keras"
    with zipfile.ZipFile(source) as archive:
        archive.extractall(tmp_path / "members")
    weights = tmp_path / "members" / "model.weights.h5"
    with h5py.File(weights, "r+") as h5:
        h5.move("layers", "_layer_checkpoint_dependencies")
    old_layout = tmp_path / "tf_keras_2_13.keras"
    with zipfile.ZipFile(old_layout, "w") as archive:
        for member in ("metadata.json", "config.json", "model.weights.h5"):
            archive.write(tmp_path / "members" / member, member)
    shutil.rmtree(tmp_path / "members")
    spec = find_motif_conv_in_file(old_layout)
    np.testing.assert_array_equal(spec.kernel, find_motif_conv_in_file(source).kernel)


@pytest.mark.parametrize("name", ["strands_maximum_flip.keras", "conv2d_image.keras", "ops_max_pool.keras"])
def test_a_live_model_reads_as_its_file(name, x):
    """The callback's path: the model in memory gives the PWMs of its saved file."""
    live = k2p_keras.extract(keras.models.load_model(HERE / name, compile=False), x)
    saved = k2p_keras.extract(HERE / name, x)
    assert live.spec.report() == saved.spec.report()
    assert live.options.both_strands == saved.options.both_strands
    np.testing.assert_allclose(live.exact.pwms, saved.exact.pwms, rtol=0, atol=1e-12)


def test_a_channel_flip_is_no_complement_in_every_channel_order():
    """ops.flip over positions and channels is the reverse complement in A C G T (and A G C T) order, not in
    A T C G: there the model's second strand is another sequence."""
    path = HERE / "strands_maximum_flip.keras"
    assert find_motif_conv_in_file(path, alphabet="AGCT").both_strands
    spec = find_motif_conv_in_file(path, alphabet="ATCG")
    assert not spec.pattern_ok and not spec.both_strands
    assert "in the channel order ATCG gives GCTA, not the complement TAGC" in spec.problem


# ----------------------------------------------------------------------------- site scopes
#
# What follows the conv decides which windows are the sites. The references below take the
# windows from Keras itself (the model's own MaxPooling layer's choice, its activations), and
# the strong rule as docs/base-estimation.md states it: activation >= half the filter's
# largest over the data, windows up to one score bin (1/1000 of the filter's score range)
# below that threshold included.

from keras import layers  # noqa: E402

from k2p_keras.errors import OptionError  # noqa: E402
from k2p_keras.scan import route  # noqa: E402
from k2p_keras.scan.windows import PoolSpec  # noqa: E402

POOLED_LENGTH = 60


def sites_mle(kernel, sites):
    """Shared ln b over given sites (per filter: windows (K, L, 4)), the likelihood written out."""
    from scipy.optimize import minimize_scalar

    def negative(v):
        total = 0.0
        for t, windows in enumerate(sites):
            w = kernel[:, :, t]
            lse = np.log(np.exp(v * w).sum(axis=1))
            total += v * np.einsum("kla,la->", windows, w) - windows.sum(axis=(0, 2)) @ lse
        return -total

    return minimize_scalar(negative, bounds=(1e-4, 60), method="bounded", options={"xatol": 1e-10}).x


def strong(score, bias, largest_activation, kernel_t, fraction=0.5):
    """Which windows are strong: their score's bin at or above the bin of ``fraction`` x the largest
    activation (ReLU or linear: the threshold on conv + bias is that activation itself)."""
    low = np.minimum(kernel_t.min(axis=1), 0).sum()
    width = (np.maximum(kernel_t.max(axis=1), 0).sum() - low) / 1000
    first = np.floor((fraction * largest_activation - bias - low) / width)
    return np.minimum(np.floor((score - low) / width), 999) >= first


def conv_windows(x, padding):
    left = (WIDTH - 1) // 2 if padding == "same" else 0
    return windows_of(np.pad(x, [(0, 0), (left, WIDTH - 1 - left), (0, 0)]) if padding == "same" else x)


def folded(model):
    """The conv's kernel and bias with a BatchNormalization right after it folded in (numpy)."""
    kernel, bias = conv_weights(model, "motif_conv")
    after = model.layers[model.layers.index(model.get_layer("motif_conv")) + 1]
    if isinstance(after, layers.BatchNormalization):
        gamma, beta, mean, var = [w.astype(np.float64) for w in after.get_weights()]
        scale = gamma / np.sqrt(var + after.epsilon)
        kernel, bias = kernel * scale, (bias - mean) * scale + beta
    return kernel, bias


def random_weights(model, seed, negative_gamma=False):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = [rng.normal(size=w.shape) for w in layer.get_weights()]
        if isinstance(layer, layers.BatchNormalization):
            values[0] = rng.uniform(0.5, 2.0, size=values[0].shape) * (-1 if negative_gamma else 1)
            values[-1] = rng.uniform(0.5, 2.0, size=values[-1].shape)
        layer.set_weights(values)
    return model


def basset_block(conv_padding, pool, strides, pool_padding, bn_after=False):
    """Basset's first block: Conv1D -> BatchNorm -> ReLU (or ReLU -> BatchNorm) -> MaxPooling1D -> Flatten -> Dense."""
    norm = [layers.ReLU(name="relu"), layers.BatchNormalization()] if bn_after else \
        [layers.BatchNormalization(), layers.ReLU(name="relu")]
    return random_weights(keras.Sequential(
        [keras.Input((POOLED_LENGTH, 4)), layers.Conv1D(FILTERS, WIDTH, padding=conv_padding, name="motif_conv")]
        + norm + [layers.Dropout(0.1), layers.MaxPooling1D(pool, strides=strides, padding=pool_padding, name="pool"),
                  layers.Flatten(), layers.Dense(1, activation="sigmoid")]), seed=pool * 10 + strides)


def keras_block_sites(model, x, before=None):
    """Per filter, the windows the model's own MaxPooling layer passes on ((sequence, position) pairs,
    a window that wins several blocks once), and their activations (the ReLU's output).

    ``before``: pool the output of that layer instead, with the pool's settings (the pre-activation:
    where every window of a block has ReLU output 0, the model's choice is a tie)."""
    tf = pytest.importorskip("tensorflow")
    pool = model.get_layer("pool")
    entering = keras.Model(model.inputs[0], pool.input if before is None else model.get_layer(before).output)(x)
    size, strides = pool.pool_size[0], pool.strides[0]
    values, argmax = tf.nn.max_pool_with_argmax(entering[:, None], [1, 1, size, 1], [1, 1, strides, 1],
                                                pool.padding.upper())
    if before is None:
        np.testing.assert_array_equal(values.numpy()[:, 0], keras.Model(model.inputs[0], pool.output)(x))
    position = argmax.numpy()[:, 0] // FILTERS  # (N, M, F): flat index (position * F + filter)
    activation = np.asarray(keras.Model(model.inputs[0], model.get_layer("relu").output)(x), dtype=np.float64)
    chosen = []
    for t in range(FILTERS):
        pairs = sorted({(n, int(j)) for n in range(len(x)) for j in position[n, :, t]})
        chosen.append((np.array(pairs), np.array([activation[n, j, t] for n, j in pairs])))
    return chosen


@pytest.fixture(scope="module")
def long_x():
    return planted_sequences(n=120, length=POOLED_LENGTH, seed=3)


def run_on_route(monkeypatch, name):
    if name == "locate":
        monkeypatch.setattr(route, "gpu_visible", lambda: True)
    elif name == "tensorflow":
        monkeypatch.setattr(route, "numba_available", lambda: False)


@pytest.mark.parametrize("conv_padding, pool, strides, pool_padding, bn_after", [
    ("same", 3, 3, "valid", False), ("valid", 3, 3, "same", False), ("same", 4, 2, "valid", False),
    ("valid", 5, 2, "same", True), ("valid", 2, 3, "valid", False)])
@pytest.mark.parametrize("route_name", ["lookup", "locate", "tensorflow"])
def test_a_local_max_pool_s_sites_are_the_windows_the_model_s_pool_selects(
        conv_padding, pool, strides, pool_padding, bn_after, route_name, long_x, tmp_path, monkeypatch):
    model = basset_block(conv_padding, pool, strides, pool_padding, bn_after)
    path = tmp_path / "basset_block.keras"
    model.save(path)
    run_on_route(monkeypatch, route_name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the MLE's assumption holds: no warning
        result = k2p_keras.extract(path, long_x)
    assert result.site_scope == "block" and result.spec.pattern_ok
    assert f"MaxPooling1D({pool}, strides {strides}, {pool_padding}) [sites: each pooling block's best window]: OK" \
        in result.spec.report()
    assert result.pattern.endswith("(assumption holds; sites: strong, each pooling block's best window)")

    kernel, bias = folded(model)
    windows = conv_windows(long_x, conv_padding)
    sites = []
    for t, (pairs, activation) in enumerate(keras_block_sites(model, long_x)):
        chosen = windows[pairs[:, 0], pairs[:, 1]]
        score = np.einsum("kla,la->k", chosen, kernel[:, :, t])
        np.testing.assert_allclose(np.maximum(score + bias[t], 0), activation, atol=1e-4)  # the fold, checked
        sites.append(chosen[strong(score, bias[t], activation.max(), kernel[:, :, t])])
    assert result.exact.n_used.tolist() == [len(s) for s in sites]
    np.testing.assert_allclose(result.exact.ln_base[0], sites_mle(kernel, sites), rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.exact.pwms, np.moveaxis(numpy_pwms(kernel, result.exact.ln_base[0]), 2, 0),
                               atol=1e-12)


def test_a_pooled_model_s_pwms_pass_verify_and_its_header_says_the_sites(long_x, tmp_path):
    model = basset_block("same", 4, 2, "same")
    path = tmp_path / "basset_block.keras"
    model.save(path)
    seqs = tmp_path / "seqs.npy"
    np.save(seqs, long_x)
    out, summary = tmp_path / "m.meme", tmp_path / "s.tsv"
    done = CliRunner().invoke(cli, [str(path), str(seqs), "-o", str(out), "--summary", str(summary)])
    assert done.exit_code == 0, done.output
    pattern = ("# pattern: motif_conv (Conv1D, linear) -> BatchNormalization (folded) -> ReLU(relu) -> Dropout -> "
               "MaxPooling1D(4, strides 2, same) (assumption holds; sites: strong, each pooling block's best window)")
    assert pattern in out.read_text().splitlines()
    assert summary.read_text().splitlines()[0] == pattern
    done = CliRunner().invoke(cli, ["verify", str(path), str(seqs), "--pwms", str(out)])
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize("sites", ["all", "active"])
def test_all_and_active_count_every_block_s_best_window_or_the_active_ones(sites, long_x, tmp_path):
    model = basset_block("same", 3, 3, "valid")
    result = k2p_keras.extract(model, long_x, sites=sites)
    kernel, bias = folded(model)
    windows = conv_windows(long_x, "same")
    chosen = []
    # Blocks whose every window has ReLU output 0 tie in the model: the sites take the best conv + bias there.
    before_relu = model.layers[model.layers.index(model.get_layer("relu")) - 1].name
    for t, (pairs, activation) in enumerate(keras_block_sites(model, long_x, before=before_relu)):
        keep = activation > 0 if sites == "active" else np.ones(len(pairs), bool)
        chosen.append(windows[pairs[keep, 0], pairs[keep, 1]])
    assert result.exact.n_used.tolist() == [len(c) for c in chosen]
    np.testing.assert_allclose(result.exact.ln_base[0], sites_mle(kernel, chosen), rtol=0, atol=1e-6)


def anywhere_model(kind):
    """A conv whose output no max selects windows of: what follows it, by kind."""
    conv = dict(activation="gelu") if kind == "gelu" else dict(activation="relu")
    head = {
        "average_pool": [layers.AveragePooling1D(3), layers.Flatten()],
        "global_average": [layers.GlobalAveragePooling1D()],
        "flatten": [layers.Flatten()],
        "gelu": [layers.GlobalMaxPooling1D()],
        "negative_batchnorm": [layers.BatchNormalization(), layers.GlobalMaxPooling1D()],
        "lstm": [layers.LSTM(2)],
    }[kind]
    return random_weights(keras.Sequential(
        [keras.Input((POOLED_LENGTH, 4)), layers.Conv1D(FILTERS, WIDTH, name="motif_conv", **conv)] + head
        + [layers.Dense(1, activation="sigmoid")]), seed=len(kind), negative_gamma=kind == "negative_batchnorm")


ANYWHERE = {
    "average_pool": "AveragePooling1D", "global_average": "GlobalAveragePooling1D", "flatten": "Flatten",
    "gelu": "gelu is not non-decreasing", "negative_batchnorm": "scale <= 0", "lstm": "LSTM",
}


@pytest.mark.parametrize("kind", sorted(ANYWHERE))
def test_without_a_max_the_sites_are_the_strong_windows_anywhere_with_one_warning(kind, long_x, tmp_path):
    model = anywhere_model(kind)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = k2p_keras.extract(path, long_x)
    said = [str(w.message) for w in caught if "does not hold" in str(w.message)]
    assert len(said) == 1 and ANYWHERE[kind] in said[0] and "strong windows anywhere" in said[0], said
    assert result.site_scope == "anywhere" and not result.spec.pattern_ok
    assert "(assumption does not hold: " in result.pattern and result.pattern.endswith("sites: strong, windows anywhere)")

    kernel, bias = conv_weights(model, "motif_conv")  # nothing folded: a negative scale stays out of the kernel
    windows = windows_of(long_x)
    layer = model.get_layer("motif_conv")
    # The conv's own output (its activation set aside by a linear twin): conv + bias on every window.
    pre = np.einsum("npla,laf->npf", windows, kernel) + bias
    sites = []
    for t in range(FILTERS):
        score = pre[:, :, t].ravel() - bias[t]
        # ReLU: half the largest ReLU output; GELU is not non-decreasing: half the largest conv + bias.
        sites.append(windows[:, :, :, :].reshape(-1, WIDTH, 4)[strong(score, bias[t], pre[:, :, t].max(),
                                                                     kernel[:, :, t])])
    assert layer.get_config()["activation"] in ("relu", "gelu")
    assert result.exact.n_used.tolist() == [len(s) for s in sites]
    np.testing.assert_allclose(result.exact.ln_base[0], sites_mle(kernel, sites), rtol=0, atol=1e-6)


@pytest.mark.parametrize("route_name", ["lookup", "locate", "tensorflow"])
def test_the_windows_anywhere_are_the_same_on_every_route(route_name, long_x, monkeypatch):
    model = anywhere_model("average_pool")
    with pytest.warns(UserWarning, match="does not hold"):
        reference = k2p_keras.extract(model, long_x)
    run_on_route(monkeypatch, route_name)
    with pytest.warns(UserWarning, match="does not hold"):
        result = k2p_keras.extract(model, long_x)
    assert result.exact.n_used.tolist() == reference.exact.n_used.tolist()
    np.testing.assert_allclose(result.exact.ln_base, reference.exact.ln_base, rtol=0, atol=1e-9)


def test_strict_refuses_and_all_or_active_sites_are_refused_anywhere(long_x, tmp_path):
    path = tmp_path / "average_pool.keras"
    anywhere_model("average_pool").save(path)
    with pytest.raises(PatternError, match="AveragePooling1D") as err:
        k2p_keras.extract(path, long_x, strict=True)
    assert "[sites: windows anywhere]: NOT OK" in str(err.value)
    for sites in ("all", "active"):
        with pytest.raises(OptionError, match="only strong") as err:
            k2p_keras.extract(path, long_x, sites=sites)
        assert err.value.option == "sites"
    seqs = tmp_path / "seqs.npy"
    np.save(seqs, long_x)
    done = CliRunner().invoke(cli, [str(path), str(seqs), "--strict", "-o", str(tmp_path / "m.meme")])
    assert done.exit_code != 0 and "--strict" in done.output and not (tmp_path / "m.meme").exists()
    done = CliRunner().invoke(cli, [str(path), str(seqs), "--force"])
    assert done.exit_code != 0 and "No such option '--force'" in done.output
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fixed base needs no sites: nothing to say
        k2p_keras.extract(path, base=2.0, strict=True)


def test_a_conv2d_s_max_pooling_2d_takes_its_blocks_along_the_positions(long_x):
    """Conv2D on (1, L, 4) -> MaxPooling2D((1, 3)) reads as the Conv1D -> MaxPooling1D(3) it computes."""
    conv2d = random_weights(keras.Sequential([
        keras.Input((1, POOLED_LENGTH, 4)), layers.Conv2D(FILTERS, (1, WIDTH), activation="relu", name="motif_conv"),
        layers.MaxPooling2D((1, 3)), layers.Flatten(), layers.Dense(1)]), seed=7)
    conv1d = keras.Sequential([
        keras.Input((POOLED_LENGTH, 4)), layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
        layers.MaxPooling1D(3), layers.Flatten(), layers.Dense(1)])
    kernel, bias = conv2d.get_layer("motif_conv").get_weights()
    conv1d.get_layer("motif_conv").set_weights([kernel[0], bias])
    two, one = k2p_keras.extract(conv2d, long_x), k2p_keras.extract(conv1d, long_x)
    assert two.spec.pool == one.spec.pool == PoolSpec(3, 3, "valid") and two.site_scope == "block"
    np.testing.assert_array_equal(two.exact.n_used, one.exact.n_used)
    np.testing.assert_allclose(two.exact.ln_base, one.exact.ln_base, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["block", "anywhere"])
@pytest.mark.parametrize("fraction", [None, 0.5])
def test_the_heuristic_counts_each_sequence_s_best_window_whatever_the_scope(kind, fraction, long_x):
    """The site scope is the MLE's: the heuristic (DeepBind, Basset) keeps its own windows, and the
    passes over the sequences are as many as the plan says."""
    model = basset_block("same", 3, 3, "valid") if kind == "block" else anywhere_model("flatten")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the windows anywhere: the warning is tested above
        plan = k2p_keras.plan_extraction(model, long_x, method="both", threshold_fraction=fraction)
        read = []
        both = plan.run(read.append)
        alone = k2p_keras.extract(model, long_x, method="heuristic", threshold_fraction=fraction)
    assert sum(read) == plan.passes * len(long_x) and len(progress_steps(plan)) == plan.passes
    assert plan.passes == {("block", None): 2, ("block", 0.5): 3, ("anywhere", None): 2, ("anywhere", 0.5): 3}[
        (kind, fraction)]
    np.testing.assert_array_equal(both.heuristic.pwms, alone.heuristic.pwms)
    np.testing.assert_array_equal(both.heuristic.n_windows, alone.heuristic.n_windows)
