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
from k2p_keras.errors import PatternError  # noqa: E402
from k2p_keras.model.conv import find_motif_conv_in_file  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402

HERE = pathlib.Path(__file__).parent / "wild_models"
sys.path.insert(0, str(HERE))
from make_wild_models import WIDTH, planted_sequences  # noqa: E402

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


REFUSED_STRANDS = {
    "strands_add.keras": "combines the strands' scores window by window",
    "strands_average.keras": "combines the strands' scores window by window",
    "strands_concatenate_filters.keras": "each strand is pooled on its own",
    "strands_reverse_without_complement.keras": "not a reverse complement",
    "ops_max_over_filters.keras": "expected the positions axis (1) only",
}


@pytest.mark.parametrize("name", sorted(REFUSED_STRANDS))
def test_merges_that_mix_strands_are_refused_with_the_reason(name, x, tmp_path):
    path = HERE / name
    with pytest.raises(PatternError, match="NOT OK") as err:
        k2p_keras.extract(path, x)
    assert REFUSED_STRANDS[name] in str(err.value) and str(path) in str(err.value)
    result = CliRunner().invoke(cli, [str(path), str(SEQS), "-o", str(tmp_path / "m.meme")])
    assert result.exit_code != 0 and REFUSED_STRANDS[name] in result.output
    assert not (tmp_path / "m.meme").exists()
    # A fixed base needs no assumption about the pooling: the export works, with a warning.
    with pytest.warns(UserWarning, match="fixed base"):
        fixed = k2p_keras.extract(path, base=2.0)
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

@pytest.mark.parametrize("name, breaks", [
    ("basset_like.keras", "MaxPooling1D 'max_pooling1d': local pooling"),
    ("danq_like.h5", "MaxPooling1D 'max_pooling1d_1': local pooling"),
])
def test_basset_and_danq_name_what_breaks_and_export_at_a_fixed_base(name, breaks, tmp_path):
    path = HERE / name
    result = CliRunner().invoke(cli, [str(path), str(SEQS), "-o", str(tmp_path / "m.meme")])
    assert result.exit_code != 0 and breaks in result.output
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
