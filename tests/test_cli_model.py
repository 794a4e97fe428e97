"""`k2p-keras MODEL SEQS`: real Keras models saved to real files, checked against numpy.

For every model the test computes, independently of the package: the effective kernel
(BatchNorm folded, dilation expanded), every sequence's best window with the layer's own
padding and strides, the maximum-likelihood ln b by a bounded 1-D search, and then checks
that the MEME file holds softmax(ln b * W) and that the model's own Conv1D output equals
log_b P + d on every window.
"""
import math
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.optimize import minimize_scalar

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402
from k2p_keras.transform import kernel_to_pwm, window_constant, window_log_likelihood  # noqa: E402

LENGTH, FILTERS, WIDTH = 40, 3, 5


def planted_sequences(n=150, length=LENGTH, seed=0, n_rows=True):
    """One-hot sequences with a planted TGACTCA and (optionally) a few all-zero N rows."""
    rng = np.random.default_rng(seed)
    letters = rng.integers(0, 4, size=(n, length))
    site = np.array(["ACGT".index(c) for c in "TGACTCA"])
    for s in range(0, n, 2):
        start = rng.integers(0, length - len(site))
        letters[s, start:start + len(site)] = site
    x = np.eye(4, dtype=np.float32)[letters]
    if n_rows:
        x[rng.random((n, length)) < 0.02] = 0.0
    return x


def train_briefly(model, x):
    y = np.zeros(len(x), dtype=np.float32)
    y[::2] = 1
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model


# ----------------------------------------------------------------------------- models

def functional_relu():
    inputs = keras.Input((LENGTH, 4), name="dna")
    h = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv")(inputs)
    h = layers.GlobalMaxPooling1D()(h)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))


def sequential_separate_activation():
    return keras.Sequential([
        keras.Input((LENGTH, 4)),
        layers.Conv1D(FILTERS, WIDTH, name="motif_conv"),
        layers.Activation("relu"),
        layers.Dropout(0.2),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ])


def batchnorm_model():
    return keras.Sequential([
        keras.Input((LENGTH, 4)),
        layers.Conv1D(FILTERS, WIDTH, name="motif_conv"),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.GlobalMaxPooling1D(),
        layers.Dense(1, activation="sigmoid"),
    ])


def nested_model():
    inner = keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(FILTERS, WIDTH, activation="relu",
                                                                       name="motif_conv"),
                              layers.GlobalMaxPooling1D()], name="motif_block")
    inputs = keras.Input((LENGTH, 4))
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(inner(inputs)))


def same_padding_dilated():
    inputs = keras.Input((LENGTH, 4))
    h = layers.Conv1D(FILTERS, WIDTH, padding="same", dilation_rate=2, name="motif_conv")(inputs)
    h = layers.GlobalMaxPooling1D()(layers.LeakyReLU(negative_slope=0.1)(h))
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))


def causal_strided():
    inputs = keras.Input((LENGTH, 4))
    h = layers.Conv1D(FILTERS, WIDTH, padding="causal", name="motif_conv")(inputs)
    h = layers.GlobalMaxPooling1D()(layers.Activation("softplus")(h))
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(h))


def strided_same():
    inputs = keras.Input((LENGTH, 4))
    h = layers.Conv1D(FILTERS, WIDTH, strides=3, padding="same", activation="relu", name="motif_conv")(inputs)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(layers.GlobalMaxPooling1D()(h)))


BUILDERS = [functional_relu, sequential_separate_activation, batchnorm_model, nested_model,
            same_padding_dilated, causal_strided, strided_same]


def conv_layer(model):
    for layer in model.layers:
        if layer.name == "motif_conv":
            return layer
        if hasattr(layer, "layers"):
            found = conv_layer(layer)
            if found is not None:
                return found
    return None


def effective_kernel(model):
    """Kernel and bias as the numpy reference sees them: BatchNorm folded, dilation expanded."""
    conv = conv_layer(model)
    kernel, bias = [w.astype(np.float64) for w in conv.get_weights()]
    rate = conv.dilation_rate[0]
    expanded = np.zeros(((kernel.shape[0] - 1) * rate + 1, 4, kernel.shape[2]))
    expanded[::rate] = kernel
    bn = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if bn:
        gamma, beta, mean, var = [w.astype(np.float64) for w in bn[0].get_weights()]
        scale = gamma / np.sqrt(var + bn[0].epsilon)
        expanded, bias = expanded * scale, (bias - mean) * scale + beta
    return expanded, bias, conv


def padded_windows(x, length, padding, strides):
    """All windows the layer sees, TensorFlow's padding rule, zero rows as padding."""
    if padding == "same":
        out = math.ceil(x.shape[1] / strides)
        total = max((out - 1) * strides + length - x.shape[1], 0)
        pads = (total // 2, total - total // 2)
    elif padding == "causal":
        pads = (length - 1, 0)
    else:
        pads = (0, 0)
    x = np.pad(x.astype(np.float64), ((0, 0), pads, (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (length, 4), axis=(1, 2))[:, :, 0]
    return windows[:, ::strides]


def numpy_mle(kernel, windows, shared):
    """ln b per filter from best windows, by bounded search of the written-out likelihood."""
    scores = np.einsum("npla,laf->npf", windows, kernel)
    best = scores.argmax(axis=1)

    def loglik(v, t):
        chosen = windows[np.arange(len(windows)), best[:, t]]  # (N, L, 4)
        scaled = v * kernel[:, :, t]
        top = scaled.max(axis=1)
        lse = np.log(np.exp(scaled - top[:, None]).sum(axis=1)) + top
        return v * np.einsum("nla,la->", chosen, kernel[:, :, t]) - chosen.sum(axis=(0, 2)) @ lse

    def search(negative):
        return minimize_scalar(negative, bounds=(1e-4, 60), method="bounded", options={"xatol": 1e-10}).x

    filters = range(kernel.shape[2])
    if shared:
        return np.full(kernel.shape[2], search(lambda v: -sum(loglik(v, t) for t in filters)))
    return np.array([search(lambda v, t=t: -loglik(v, t)) for t in filters])


@pytest.fixture(scope="module")
def sequences_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("seqs") / "seqs.h5"
    with h5py.File(path, "w") as f:
        f["onehot"] = planted_sequences()
    return path


def read_summary(path):
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]  # "# pattern: ..."
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_pwms_are_exact_and_the_base_is_the_mle(builder, suffix, sequences_file, tmp_path):
    keras.utils.set_random_seed(1)
    with h5py.File(sequences_file) as f:
        x = f["onehot"][()]
    model = train_briefly(builder(), x)
    bn = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if bn:  # make the folding non-trivial and recognisable
        rng = np.random.default_rng(7)
        bn[0].set_weights([rng.uniform(0.5, 2, FILTERS), rng.normal(size=FILTERS),
                           rng.normal(size=FILTERS), rng.uniform(0.5, 2, FILTERS)])
    model_path = tmp_path / f"model{suffix}"
    model.save(model_path)
    kernel, bias, conv = effective_kernel(model)
    windows = padded_windows(x, kernel.shape[0], conv.padding, conv.strides[0])
    for option, shared in (([], True), (["--per-filter-base"], False)):  # the default is shared
        out, summary = tmp_path / "motifs.meme", tmp_path / "summary.tsv"
        # The reference counts every sequence's best window: --sites all (k2p-1.0's MLE);
        # the default, strong sites, is checked against its own reference in test_sites.py.
        result = CliRunner().invoke(cli, [str(model_path), str(sequences_file), "-o", str(out), "--sites", "all",
                                          "--summary", str(summary), "-q", *option])
        assert result.exit_code == 0, result.output
        rows = read_summary(summary)
        ln_b = np.array([float(r["ln_b"]) for r in rows])
        np.testing.assert_allclose(ln_b, numpy_mle(kernel, windows, shared), rtol=0, atol=1e-6)

        motifs = read_meme(out).motifs
        assert [m.name for m in motifs] == [f"motif_conv_{t}" for t in range(FILTERS)]
        for t, motif in enumerate(motifs):
            # The MEME file holds 6 significant digits.
            np.testing.assert_allclose(motif.pwm, kernel_to_pwm(kernel[:, :, t], math.exp(ln_b[t])),
                                       rtol=5e-6, atol=1e-12)
            assert motif.nsites == len(x)

    # For every model, the model's own layers (conv without its activation, then its
    # BatchNormalization) equal log_b P + d on every window of random sequences, N rows included.
    probe = planted_sequences(n=20, seed=3)
    conv_out = keras_preactivation(conv, bn, probe)
    probe_windows = padded_windows(probe, kernel.shape[0], conv.padding, conv.strides[0])
    assert conv_out.shape[:2] == probe_windows.shape[:2]
    for t, motif in enumerate(motifs):
        base = math.exp(ln_b[t])
        rebuilt = (window_log_likelihood(motif.pwm, probe_windows, base)
                   + window_constant(kernel[:, :, t], probe_windows, base, bias[t]))
        scale = np.abs(conv_out[:, :, t]).max()
        np.testing.assert_allclose(rebuilt, conv_out[:, :, t], rtol=0, atol=1e-5 * max(scale, 1))


def keras_preactivation(conv, batchnorms, x):
    """What reaches the activation, computed by Keras: the conv rebuilt from its own config
    with a linear activation and its trained weights, then the model's BatchNormalization."""
    linear = layers.Conv1D.from_config({**conv.get_config(), "activation": "linear"})
    linear.build((None, LENGTH, 4))
    linear.set_weights(conv.get_weights())
    out = linear(x)
    for bn in batchnorms:
        out = bn(out, training=False)
    return keras.ops.convert_to_numpy(out).astype(np.float64)


def test_batchnorm_folding_reproduces_the_batchnorm_output(tmp_path):
    """The folded kernel's correlation equals what the model's BatchNormalization layer outputs."""
    keras.utils.set_random_seed(2)
    model = batchnorm_model()
    rng = np.random.default_rng(8)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2, FILTERS), rng.normal(size=FILTERS), rng.normal(size=FILTERS),
                    rng.uniform(0.5, 2, FILTERS)])
    path = tmp_path / "bn.keras"
    model.save(path)
    from k2p_keras.model.conv import find_motif_conv_in_file

    spec = find_motif_conv_in_file(path)
    probe = planted_sequences(n=10, seed=4)
    bn_out = keras.Model(model.inputs, bn.output).predict(probe, verbose=0)
    windows = padded_windows(probe, spec.kernel.shape[0], "valid", 1)
    mine = np.einsum("npla,laf->npf", windows, spec.kernel) + spec.bias
    np.testing.assert_allclose(mine, bn_out, atol=1e-4)


def test_pattern_report_and_the_example_model(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "motifs.meme"
    result = CliRunner().invoke(cli, [os.path.join(repo, "example_models", "bn_model.h5"),
                                      os.path.join(repo, "data", "example_seqs.h5"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "GlobalMaxPooling1D" in result.output and "OK" in result.output
    assert len(read_meme(out).motifs) == 16  # make_examples.py trains 16 filters


def test_fasta_input_gives_the_same_motifs_as_hdf5(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model = os.path.join(repo, "example_models", "deepbind.keras")
    outs = []
    for name in ("example_seqs.h5", "example_seqs.fa.gz"):
        out = tmp_path / (name + ".meme")
        result = CliRunner().invoke(cli, [model, os.path.join(repo, "data", name), "-o", str(out), "-q"])
        assert result.exit_code == 0, result.output
        outs.append(read_meme(out).motifs)
    for a, b in zip(*outs):
        np.testing.assert_allclose(a.pwm, b.pwm, atol=1e-12)


CUSTOM_SCRIPT = textwrap.dedent("""
    import sys, keras, numpy as np
    from keras import layers

    @keras.saving.register_keras_serializable(package="lab")
    class Scale(layers.Layer):
        def call(self, x):
            return 2.0 * x

    inputs = keras.Input((40, 4))
    h = layers.Conv1D(3, 5, activation="relu", name="motif_conv")(inputs)
    h = Scale(name="scale")(layers.GlobalMaxPooling1D()(h))
    h = layers.Lambda(lambda t: t * 0.5, name="half")(h)
    model = keras.Model(inputs, layers.Dense(1)(h))
    for path in sys.argv[1:]:
        model.save(path)
""")


@pytest.fixture(scope="module")
def custom_models(tmp_path_factory):
    """The model saved as .h5 and .keras by one interpreter that defines its custom class (one TensorFlow start)."""
    folder = tmp_path_factory.mktemp("custom")
    subprocess.run([sys.executable, "-c", CUSTOM_SCRIPT, str(folder / "custom.h5"), str(folder / "custom.keras")],
                   check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True)
    return folder


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_custom_and_lambda_layers_are_read_not_run(tmp_path, custom_models, sequences_file, suffix):
    """The custom class is not importable when k2p-keras reads the file: nothing is executed."""
    model = custom_models / f"custom{suffix}"
    assert model.exists()
    out = tmp_path / "motifs.meme"
    proc = subprocess.run([sys.executable, "-m", "k2p_keras", str(model), str(sequences_file), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(read_meme(out).motifs) == 3


# ----------------------------------------------------------------------------- bad input

def one_line_failure(args, out):
    result = CliRunner().invoke(cli, [str(a) for a in args] + ["-o", str(out)])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".") and p.name.endswith(".part")]
    return result.output


@pytest.fixture(scope="module")
def no_conv_model(tmp_path_factory):
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Flatten(), layers.Dense(1)])
    path = tmp_path_factory.mktemp("m") / "dense.h5"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def twenty_channel_model(tmp_path_factory):
    model = keras.Sequential([keras.Input((LENGTH, 20)), layers.Conv1D(3, 5), layers.GlobalMaxPooling1D()])
    path = tmp_path_factory.mktemp("m") / "protein.keras"
    model.save(path)
    return path


def test_model_without_conv1d(no_conv_model, sequences_file, tmp_path):
    message = one_line_failure([no_conv_model, sequences_file], tmp_path / "o.meme")
    assert "Conv1D" in message and str(no_conv_model) in message


def test_conv1d_on_twenty_channels(twenty_channel_model, sequences_file, tmp_path):
    message = one_line_failure([twenty_channel_model, sequences_file], tmp_path / "o.meme")
    assert "20" in message


def test_sequences_of_the_wrong_width(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    seqs = tmp_path / "wide.h5"
    with h5py.File(seqs, "w") as f:
        f["x"] = np.zeros((5, LENGTH, 5), np.float32)
    message = one_line_failure([os.path.join(repo, "example_models", "deepbind.h5"), seqs], tmp_path / "o.meme")
    assert "sequences have shape (5, 40, 5), expected (sequences, length, 4)" in message and str(seqs) in message


@pytest.mark.parametrize("kind", ["truncated", "text"])
def test_broken_model_files(kind, sequences_file, tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    model = tmp_path / "broken.h5"
    if kind == "truncated":
        data = open(os.path.join(repo, "example_models", "deepbind.h5"), "rb").read()
        model.write_bytes(data[: len(data) // 2])
    else:
        model.write_text("this is not a model\n")
    message = one_line_failure([model, sequences_file], tmp_path / "o.meme")
    assert str(model) in message


def test_empty_fasta(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fasta = tmp_path / "empty.fa"
    fasta.write_text("")
    message = one_line_failure([os.path.join(repo, "example_models", "deepbind.h5"), fasta], tmp_path / "o.meme")
    assert str(fasta) in message


def test_sequences_shorter_than_the_kernel(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fasta = tmp_path / "short.fa"
    fasta.write_text(">a\nACGT\n")
    message = one_line_failure([os.path.join(repo, "example_models", "deepbind.h5"), fasta], tmp_path / "o.meme")
    assert str(fasta) in message and "shorter than the kernel" in message


def test_both_strands_model_gets_the_mle_over_both_strands(sequences_file, tmp_path):
    """One Conv1D shared by the sequence and its reverse complement (keras.ops.flip)."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((LENGTH, 4))
    conv = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv")
    forward = layers.GlobalMaxPooling1D()(conv(inputs))
    reverse = layers.GlobalMaxPooling1D()(conv(keras.ops.flip(inputs, axis=(1, 2))))
    with h5py.File(sequences_file) as f:
        x = f["onehot"][()]
    model = train_briefly(keras.Model(inputs, layers.Dense(1, activation="sigmoid")(
        layers.Maximum()([forward, reverse]))), x)
    path = tmp_path / "rc.keras"
    model.save(path)
    summary = tmp_path / "summary.tsv"
    result = CliRunner().invoke(cli, [str(path), str(sequences_file), "--both-strands", "-q", "--sites", "all",
                                      "--summary", str(summary), "-o", str(tmp_path / "m.meme")])
    assert result.exit_code == 0, result.output
    kernel, _, _ = effective_kernel(model)
    both = np.concatenate([padded_windows(x, WIDTH, "valid", 1), padded_windows(x[:, ::-1, ::-1], WIDTH, "valid", 1)],
                          axis=1)
    ln_b = np.array([float(r["ln_b"]) for r in read_summary(summary)])
    np.testing.assert_allclose(ln_b, numpy_mle(kernel, both, shared=True), rtol=0, atol=1e-6)
    forward_only = numpy_mle(kernel, padded_windows(x, WIDTH, "valid", 1), shared=True)
    assert abs(forward_only[0] - ln_b[0]) > 1e-6  # the strands matter on this data

    result = CliRunner().invoke(cli, [str(path), str(sequences_file), "-o", str(tmp_path / "f.meme")])
    assert result.exit_code == 0 and "--both-strands" in result.output  # a warning, not silence


def test_a_broken_pattern_warns_in_one_line_and_strict_refuses_unless_the_base_is_fixed(sequences_file, tmp_path):
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(FILTERS, WIDTH, activation="relu"),
                              layers.AveragePooling1D(2), layers.GlobalMaxPooling1D(), layers.Dense(1)])
    path = tmp_path / "pool.h5"
    model.save(path)
    out = tmp_path / "default.meme"
    result = CliRunner().invoke(cli, [str(path), str(sequences_file), "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "does not hold" in line]
    assert len(warned) == 1 and "AveragePooling1D" in warned[0] and "strong windows anywhere" in warned[0]
    assert len(read_meme(out).motifs) == FILTERS
    message = one_line_failure([path, sequences_file, "-q", "--strict"], tmp_path / "o.meme")
    assert "AveragePooling1D" in message and "--strict" in message and "--base" in message
    out = tmp_path / "fixed.meme"
    result = CliRunner().invoke(cli, [str(path), str(sequences_file), "-q", "-o", str(out), "--base", "2",
                                      "--strict"])
    assert result.exit_code == 0 and "does not hold" not in result.output  # a fixed base needs no sites
    assert len(read_meme(out).motifs) == FILTERS


# ----------------------------------------------------------------------------- influence, clusters

def test_influence_and_clusters_of_the_example_join_the_summary(tmp_path):
    pytest.importorskip("memelite")
    from conftest import JASPAR, REPO

    summary, archetypes = tmp_path / "summary.tsv", tmp_path / "archetypes.meme"
    example = [str(REPO / "example_models" / "deepbind.h5"), str(REPO / "data" / "example_seqs.h5")]
    result = CliRunner().invoke(cli, example + ["--influence", "--db", str(JASPAR), "--archetypes",
                                                str(archetypes), "--summary", str(summary),
                                                "-o", str(tmp_path / "motifs.meme")])
    assert result.exit_code == 0, result.output
    assert ("influence: each filter's output replaced by a constant after motif_conv (Conv1D), before max_pool "
            "(GlobalMaxPooling1D); labels y in") in result.output
    lines = summary.read_text().splitlines()
    header, *rows = [line for line in lines if not line.startswith("#")]  # after the '# pattern:' line
    assert header.split("\t")[-3:] == ["influence", "influence_dloss", "cluster"]
    clusters = [row.split("\t")[-1] for row in rows]
    assert clusters[0] == clusters[13] and clusters[7] == clusters[10] and clusters[11] == clusters[15]
    assert len(read_meme(archetypes).motifs) <= len(set(clusters))


def test_diagnostics_of_the_example_join_the_summary_with_their_labels(tmp_path):
    from conftest import REPO

    summary = tmp_path / "summary.tsv"
    example = [str(REPO / "example_models" / "deepbind.h5"), str(REPO / "data" / "example_seqs.h5")]
    result = CliRunner().invoke(cli, example + ["--diagnostics", "--labels", "y", "--summary", str(summary),
                                                "-o", str(tmp_path / "motifs.meme")])
    assert result.exit_code == 0, result.output
    assert "diagnostics: each sequence's best window; labels y in" in result.output
    assert "diagnostics: 20000 sequences' best windows; AUROC alone (y in" in result.output
    header, *rows = [line for line in summary.read_text().splitlines() if not line.startswith("#")]
    assert header.split("\t")[-6:] == ["mean_activation", "central_share", "central_enrichment", "auroc",
                                        "mean_activation_0", "mean_activation_1"]
    auroc = [float(row.split("\t")[-3]) for row in rows]
    assert min(auroc[t] for t in (0, 5, 7, 10, 11, 13, 15)) > max(auroc[t] for t in (1, 2, 3, 4, 6, 8, 9, 12, 14))
    missing = one_line_failure(example + ["--diagnostics", "--labels", "nope"], tmp_path / "o.meme")
    assert "nope" in missing


def test_influence_of_a_model_keras_refuses_in_safe_mode_fails_in_one_line(tmp_path):
    from conftest import REPO

    wild = REPO / "tests" / "wild_models"
    output = one_line_failure([wild / "strands_maximum_lambda.keras", wild / "seqs.npy", "--influence"],
                              tmp_path / "motifs.meme")
    assert "influence runs the model, but Keras cannot load this model in safe mode" in output
