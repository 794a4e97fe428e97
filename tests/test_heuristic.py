"""The heuristic (DeepBind) PWMs: letters of the most activating windows, counted by the scan.

The counts are checked against an independent numpy implementation on real Keras models
saved to real files: best window per sequence by a float64 sliding dot product, the
threshold on the activation output, one-hot rows summed.
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
from k2p_keras.motifs.heuristic import counts_to_pwms, heuristic_pwms
from k2p_keras.model.activations import preactivation_threshold, threshold_from_fraction
from k2p_keras.io.meme import read_meme  # noqa: E402

LENGTH, FILTERS, WIDTH = 30, 3, 5


def random_sequences(n=80, length=LENGTH, seed=1, n_rows=0.03, fill=0.0):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))]
    x[rng.random((n, length)) < n_rows] = fill
    return x


def small_model(activation="relu", bias=(0.5, -0.5, 0.0), seed=0, padding="valid"):
    inputs = keras.Input((LENGTH, 4), name="dna")
    h = layers.Conv1D(FILTERS, WIDTH, activation=activation, padding=padding, name="motif_conv")(inputs)
    h = layers.GlobalMaxPooling1D()(h)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    rng = np.random.default_rng(seed)
    conv = model.get_layer("motif_conv")
    conv.set_weights([rng.normal(0, 1, size=(WIDTH, 4, FILTERS)).astype("float32"),
                      np.array(bias, dtype="float32")])
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heuristic")
    paths = {}
    for name, model in {"relu": small_model(), "sigmoid": small_model("sigmoid", seed=3),
                        "silent": small_model(bias=(0.0, -100.0, 0.0), seed=5)}.items():
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    x = random_sequences()
    np.save(folder / "seqs.npy", x)
    return paths, x, folder / "seqs.npy"


def numpy_best_windows(x, kernel, bias):
    """Every sequence's best window per filter, by an independent float64 sliding dot product."""
    x = x.astype(np.float64)
    length = kernel.shape[0]
    windows = np.stack([x[:, p:p + length] for p in range(x.shape[1] - length + 1)], axis=1)  # (N, P, L, 4)
    conv = np.einsum("npla,laf->npf", windows, kernel) + bias
    best = conv.argmax(axis=1)  # (N, F)
    best_windows = windows[np.arange(len(x))[:, None], best]  # (N, F, L, 4)
    return conv.max(axis=1), best_windows


def numpy_counts(x, kernel, bias, activation, output_threshold=None, fraction=None):
    top, best_windows = numpy_best_windows(x, kernel, bias)
    act = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[activation]
    output = act(top)
    threshold = output_threshold if fraction is None else fraction * output.max(axis=0)
    used = output > threshold  # (N, F)
    return np.einsum("nf,nfla->fla", used.astype(float), best_windows), used.sum(axis=0)


def test_counts_equal_an_independent_numpy_implementation(saved):
    paths, x, _ = saved
    spec = find_motif_conv_in_file(paths["relu"])
    result = heuristic_pwms(spec, [x[:50], x[50:]])
    counts, n = numpy_counts(x, spec.kernel, spec.bias, "relu", output_threshold=0.0)
    assert np.array_equal(result.counts, counts)
    assert np.array_equal(result.n_windows, n)
    assert 0 < n.min() and n.max() <= len(x)
    np.testing.assert_allclose(result.pwms, (counts + 1e-5) / (counts + 1e-5).sum(axis=2, keepdims=True),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9])
def test_threshold_fraction_takes_two_passes_and_matches_numpy(saved, fraction):
    paths, x, _ = saved
    spec = find_motif_conv_in_file(paths["relu"])
    result = heuristic_pwms(spec, lambda: iter([x[:37], x[37:]]), threshold_fraction=fraction)
    counts, n = numpy_counts(x, spec.kernel, spec.bias, "relu", fraction=fraction)
    assert np.array_equal(result.counts, counts) and np.array_equal(result.n_windows, n)
    assert result.threshold_fraction == fraction


def test_threshold_on_a_sigmoid_output_is_converted_to_the_preactivation(saved):
    paths, x, _ = saved
    spec = find_motif_conv_in_file(paths["sigmoid"])
    assert spec.activation == "sigmoid"
    result = heuristic_pwms(spec, [x], threshold=0.7)
    counts, n = numpy_counts(x, spec.kernel, spec.bias, "sigmoid", output_threshold=0.7)
    assert np.array_equal(result.counts, counts) and np.array_equal(result.n_windows, n)
    np.testing.assert_allclose(result.preactivation_threshold, math.log(0.7 / 0.3))


def test_quarter_encoded_n_rows_count_a_quarter_of_each_letter(saved):
    paths, _, _ = saved
    x = random_sequences(seed=7, n_rows=0.2, fill=0.25)
    spec = find_motif_conv_in_file(paths["relu"])
    result = heuristic_pwms(spec, [x])
    counts, _ = numpy_counts(x, spec.kernel, spec.bias, "relu", output_threshold=0.0)
    assert np.array_equal(result.counts, counts)
    assert np.any(result.counts % 1 == 0.25)


def test_a_filter_no_sequence_activates_is_kept_uniform_with_a_warning(saved):
    paths, x, _ = saved
    spec = find_motif_conv_in_file(paths["silent"])
    with pytest.warns(UserWarning, match="motif_conv_1"):
        result = heuristic_pwms(spec, [x])
    assert result.n_windows[1] == 0 and result.n_windows[0] > 0
    np.testing.assert_allclose(result.pwms[1], 0.25)
    assert [m.nsites for m in result.motifs()][1] == 0


def test_preactivation_thresholds_of_monotone_activations():
    assert preactivation_threshold("relu", 0.0) == 0.0
    assert preactivation_threshold("relu", -1.0) == -math.inf  # every window passes a ReLU at -1
    assert preactivation_threshold("relu", 0.5, active_threshold=2.0) == 2.0
    assert preactivation_threshold("linear", -3.0) == -3.0
    assert preactivation_threshold("sigmoid", 1.0) == math.inf
    assert preactivation_threshold("tanh", 0.5) == pytest.approx(math.atanh(0.5))
    assert preactivation_threshold("softplus", math.log(2.0)) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(K2PError, match="non-decreasing"):
        preactivation_threshold("gelu", 0.0)
    with pytest.raises(K2PError, match=">= 0"):
        preactivation_threshold("leaky_relu", -0.1)
    np.testing.assert_allclose(threshold_from_fraction("relu", [4.0, -1.0], 0.5), [2.0, 0.0])
    with pytest.raises(K2PError, match=r"\[0, 1\)"):
        threshold_from_fraction("relu", [1.0], 1.5)


def test_counts_to_pwms_adds_the_pseudocount_and_normalises():
    pwms = counts_to_pwms(np.array([[[3.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]))
    np.testing.assert_allclose(pwms.sum(axis=-1), 1.0)
    np.testing.assert_allclose(pwms[0, 1], 0.25)
    assert pwms[0, 0, 2] == pytest.approx(1e-5 / (4 + 4e-5))


# ----------------------------------------------------------------------------- CLI

def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_both_writes_exact_and_heuristic_sets_in_one_meme(saved, tmp_path):
    paths, x, seqs = saved
    out, summary = tmp_path / "both.meme", tmp_path / "summary.tsv"
    result = run(paths["relu"], seqs, "--method", "both", "-o", out, "--summary", summary)
    assert result.exit_code == 0, result.output
    meme = read_meme(out)
    names = [f"motif_conv_{t}" for t in range(FILTERS)]
    assert meme.names == [n + "_exact" for n in names] + [n + "_heuristic" for n in names]
    spec = find_motif_conv_in_file(paths["relu"])
    counts, n = numpy_counts(x, spec.kernel, spec.bias, "relu", output_threshold=0.0)
    for t in range(FILTERS):
        heuristic = meme.get(f"motif_conv_{t}_heuristic")
        assert heuristic.nsites == n[t]
        np.testing.assert_allclose(heuristic.pwm, counts_to_pwms(counts[t]), rtol=5e-6, atol=1e-15)  # 6 digits
    header = summary.read_text().splitlines()[1].split("\t")  # after "# pattern: ..."
    assert "heuristic_windows_used" in header and "ln_b" in header
    assert "windows per filter" in result.output


def test_cli_heuristic_alone_needs_no_base_and_names_motifs_plainly(saved, tmp_path):
    paths, _, seqs = saved
    out = tmp_path / "h.meme"
    result = run(paths["relu"], seqs, "--method", "heuristic", "--threshold-fraction", "0.5", "-o", out, "-q")
    assert result.exit_code == 0, result.output
    assert read_meme(out).names == [f"motif_conv_{t}" for t in range(FILTERS)]


@pytest.mark.parametrize("args, message", [
    (["--threshold", "1"], "'--threshold': applies to the heuristic PWMs (method 'heuristic' or 'both')"),
    (["--method", "both", "--threshold", "1", "--threshold-fraction", "0.5"], "not both"),
    (["--method", "heuristic", "--base", "2"], "'--base': a fixed base applies to the exact PWMs"),
    (["--method", "heuristic", "--threshold-fraction", "2"], "[0, 1)"),
])
def test_cli_refuses_contradictory_options_in_one_line(saved, tmp_path, args, message):
    paths, _, seqs = saved
    out = tmp_path / "never.meme"
    result = run(paths["relu"], seqs, *args, "-o", out)
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1  # refused before anything is read or printed
    assert not out.exists()
