"""Motifs into Conv1D filters, and back: the exact transformation is its own round trip.

A model seeded from a MEME file, saved, read back from the file and transformed with the
seeding base gives the motifs again (to float32 rounding); a motif shorter than the kernel
comes back with uniform rows around it.
"""
import math

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.errors import K2PError  # noqa: E402
from k2p_keras.model.conv import find_motif_conv_in_file  # noqa: E402
from k2p_keras.initializer import PWMInitializer, motifs_to_kernel, set_conv_from_meme  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme, write_meme  # noqa: E402
from k2p_keras.motifs.exact import ExactRequest, extract_pwms  # noqa: E402

WIDTH, FILTERS, BASE = 8, 4, 2.0


def motif(name, width, seed):
    # Dirichlet rows bounded away from 0: no delta replaces a zero, so the round trip is exact.
    rng = np.random.default_rng(seed)
    pwm = rng.dirichlet(np.ones(4), size=width) + 0.02
    return Motif(name, pwm / pwm.sum(axis=1, keepdims=True))


@pytest.fixture(scope="module")
def meme_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("init") / "motifs.meme"
    write_meme(path, [motif("full", WIDTH, 1), motif("short", 5, 2), motif("tiny", 3, 3)])
    return path


def conv_model(kernel_initializer="glorot_uniform", kernel_size=WIDTH):
    return keras.Sequential([
        keras.Input((40, 4)),
        layers.Conv1D(FILTERS, kernel_size, activation="relu", name="motif_conv",
                      kernel_initializer=kernel_initializer, bias_initializer="ones"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ])


def exact_pwms_from_file(path, base=BASE):
    return extract_pwms(find_motif_conv_in_file(path), request=ExactRequest(base=base)).pwms


def test_seeded_model_transformed_back_gives_the_motifs(meme_path, tmp_path):
    model = conv_model()
    conv = model.get_layer("motif_conv")
    untouched = conv.get_weights()[0][:, :, 3].copy()
    with pytest.warns(UserWarning, match="keeps them at 0 on every sequence"):  # see the next test
        names = set_conv_from_meme(conv, meme_path, base=BASE, shift=0.5)
    assert names == ["full", "short", "tiny"]
    model.save(tmp_path / "seeded.keras")
    pwms = exact_pwms_from_file(tmp_path / "seeded.keras")
    motifs = read_meme(meme_path)
    np.testing.assert_allclose(pwms[0], motifs.get("full").pwm, rtol=0, atol=1e-6)
    # 5 rows in 8, centred: rows 1..5, uniform elsewhere.
    np.testing.assert_allclose(pwms[1, 1:6], motifs.get("short").pwm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pwms[1, [0, 6, 7]], 0.25, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pwms[2, 2:5], motifs.get("tiny").pwm, rtol=0, atol=1e-6)
    weights = keras.models.load_model(tmp_path / "seeded.keras").get_layer("motif_conv").get_weights()
    np.testing.assert_array_equal(weights[1][:3], 0.0)
    assert weights[1][3] == 1.0
    np.testing.assert_array_equal(weights[0][:, :, 3], untouched)
    # Zero padding rows: the shift goes only to the motif's own rows.
    np.testing.assert_array_equal(weights[0][[0, 6, 7], :, 1], 0.0)


@pytest.mark.parametrize("align, rows", [("left", slice(0, 5)), ("right", slice(3, 8)), ("center", slice(1, 6))])
def test_align_places_a_short_motif(meme_path, align, rows):
    kernel = motifs_to_kernel([read_meme(meme_path).get("short")], WIDTH, base=BASE, align=align)
    placed = np.zeros(WIDTH, dtype=bool)
    placed[rows] = True
    assert np.all(kernel[placed, :, 0] != 0) and np.all(kernel[~placed, :, 0] == 0)
    np.testing.assert_allclose(kernel[rows, :, 0], np.log2(read_meme(meme_path).get("short").pwm))


def test_too_many_or_too_long_motifs_are_refused(meme_path, tmp_path):
    model = conv_model(kernel_size=4)
    with pytest.raises(K2PError, match="more than the kernel's 4"):
        set_conv_from_meme(model.get_layer("motif_conv"), meme_path, motifs=["full"])
    many = tmp_path / "many.meme"
    write_meme(many, [motif(f"m{k}", 3, k) for k in range(FILTERS + 1)])
    with pytest.raises(K2PError, match="5 motifs but layer 'motif_conv' has only 4 filters"):
        set_conv_from_meme(model.get_layer("motif_conv"), many)


def log2_likelihood(pwm, letters):
    """log2 P(window) written out: the sum over rows of log2 of the letter's probability."""
    return np.log2(pwm[np.arange(len(letters)), letters]).sum()


def test_pwm_initializer_seeds_a_new_layer_and_survives_save_and_load(meme_path, tmp_path):
    init = PWMInitializer(meme_path, base=BASE, motifs=["short", "full"], align="left")
    motifs = read_meme(meme_path)
    # Keras's own layer scores every window by log_2 P(window): zero rows beyond a short motif
    # add nothing, and the default bias is 0.
    layer = layers.Conv1D(FILTERS, WIDTH, kernel_initializer=init)
    letters = np.random.default_rng(9).integers(0, 4, size=(3, 40))
    out = keras.ops.convert_to_numpy(layer(np.eye(4, dtype="float32")[letters]))
    for s in range(3):
        for p in range(out.shape[1]):
            window = letters[s, p:p + WIDTH]
            assert out[s, p, 0] == pytest.approx(log2_likelihood(motifs.get("short").pwm, window[:5]), abs=1e-5)
            assert out[s, p, 1] == pytest.approx(log2_likelihood(motifs.get("full").pwm, window), abs=1e-5)
    model = conv_model(kernel_initializer=init)
    kernel = model.get_layer("motif_conv").get_weights()[0]
    assert np.all(kernel[:, :, 2:] != 0)  # glorot_uniform fills the rest
    clone = PWMInitializer.from_config(init.get_config())
    assert [m.name for m in clone.motifs] == ["short", "full"] and clone.align == "left"
    path = tmp_path / "with_initializer.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.get_layer("motif_conv").kernel_initializer, PWMInitializer)
    np.testing.assert_array_equal(reloaded.get_layer("motif_conv").get_weights()[0], kernel)


def test_cli_pwm2kernel_to_keras_writes_a_model_that_extracts_back(meme_path, tmp_path):
    original = tmp_path / "model.h5"
    conv_model().save(original)
    seeded = tmp_path / "seeded.h5"
    result = CliRunner().invoke(cli, ["pwm2kernel", str(meme_path), "--to-keras", str(original),
                                      "--base", str(BASE), "--align", "right", "-o", str(seeded)])
    assert result.exit_code == 0, result.output
    assert "3 motifs set in layer 'motif_conv'" in result.output
    out = tmp_path / "back.meme"
    back = CliRunner().invoke(cli, [str(seeded), "--base", str(BASE), "-o", str(out), "-q"])
    assert back.exit_code == 0, back.output
    motifs = read_meme(out)
    np.testing.assert_allclose(motifs.motifs[0].pwm, read_meme(meme_path).get("full").pwm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(motifs.motifs[2].pwm[5:], read_meme(meme_path).get("tiny").pwm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(motifs.motifs[2].pwm[:5], 0.25, rtol=0, atol=1e-12)
    assert math.isclose(float(motifs.motifs[0].alt_name.split("=")[1]), math.log(BASE), rel_tol=1e-5)


@pytest.mark.parametrize("extra, message", [
    (["OUT.txt"], "not to OUT"),
    (["--convention", "correlation", "-o", "x.keras"], "--convention does not apply"),
    (["-o", "x.txt"], ".keras or .h5"),
    ([], "needs -o NEW_MODEL"),
])
def test_cli_to_keras_refuses_bad_combinations(meme_path, tmp_path, extra, message):
    original = tmp_path / "model.keras"
    conv_model().save(original)
    result = CliRunner().invoke(cli, ["pwm2kernel", str(meme_path), *extra, "--to-keras", str(original)])
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_to_keras_refuses_a_model_keras_cannot_load(meme_path, tmp_path):
    inputs = keras.Input((40, 4))
    h = layers.Conv1D(FILTERS, WIDTH, name="motif_conv")(inputs)
    h = layers.Lambda(lambda t: t + 1.0)(h)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, layers.GlobalMaxPooling1D()(h)).save(path)
    out = tmp_path / "never.keras"
    result = CliRunner().invoke(cli, ["pwm2kernel", str(meme_path), "--to-keras", str(path), "-o", str(out)])
    assert result.exit_code != 0 and "cannot load this model in safe mode" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_filters_a_relu_would_keep_at_zero_are_named_with_the_shift_that_frees_them(meme_path):
    """W = log_b P <= 0 and a bias of 0: before a ReLU no window scores above 0, so the seeded
    filters never fire. One warning says so and names the shift above which they do."""
    import re
    import warnings

    conv = conv_model().get_layer("motif_conv")
    with pytest.warns(UserWarning, match="3 of the 3 filters set to motifs") as caught:
        set_conv_from_meme(conv, meme_path, base=BASE)
    needed = float(re.search(r"a shift above (\S+) ", str(caught[0].message)).group(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at the shift it names
        set_conv_from_meme(conv, meme_path, base=BASE, shift=needed * 1.01 + 1e-3)
    kernel, bias = conv.get_weights()
    assert (kernel[:, :, :3].max(axis=1).sum(axis=0) + bias[:3] > 0).all()
    linear = keras.Sequential([keras.Input((40, 4)), layers.Conv1D(FILTERS, WIDTH, name="linear")]).get_layer("linear")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a linear conv passes negative scores on: nothing to say
        set_conv_from_meme(linear, meme_path, base=BASE)
