"""PWMCallback: each epoch's MEME file is the exact transform of that epoch's kernel."""
import math
import os
import pathlib
import re
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from k2p_keras.errors import K2PError, PatternError
from k2p_keras.io.meme import read_meme
from k2p_keras.transform import kernel_to_pwm

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from k2p_keras.callback import PWMCallback, SUMMARY_COLUMNS  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
N_SEQUENCES, LENGTH, FILTERS, WIDTH = 300, 40, 4, 6
PLANTED = [0, 1, 2, 3, 3, 0]  # ACGTTA
# The MEME files hold probabilities at 6 significant digits.
MEME_RTOL = 5e-6


@pytest.fixture(scope="module")
def data():
    """300 one-hot sequences of length 40; half carry ACGTTA at a random position."""
    rng = np.random.default_rng(7)
    letters = rng.integers(0, 4, size=(N_SEQUENCES, LENGTH))
    labels = np.zeros(N_SEQUENCES, dtype=np.float32)
    for s in range(N_SEQUENCES // 2):
        start = rng.integers(0, LENGTH - len(PLANTED) + 1)
        letters[s, start:start + len(PLANTED)] = PLANTED
        labels[s] = 1
    return np.eye(4, dtype=np.float32)[letters], labels



def motifs_part(path):
    """A MEME file after its '#' header, which names the inputs (a file, a live model)."""
    text = path.read_bytes()
    return text[text.index(b"MEME version"):]

# Tracing a new model's train step takes seconds, a whole fit of these small models about a
# tenth of that: each test gets the module's one compiled model of its kind, put back as a new
# one is (the seed's initial weights, Adam's step count and moments at zero, the seed reset for
# the shuffles), so fit traces once per module and each test still trains from scratch.
_COMPILED = {}


def _new_model(kind, seed, layers):
    if (kind, seed) not in _COMPILED:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((LENGTH, 4)), *layers()])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        _COMPILED[kind, seed] = model, model.get_weights()
    model, initial = _COMPILED[kind, seed]
    model.set_weights(initial)
    learning_rate = model.optimizer._learning_rate  # a variable: the only optimizer state a new model does not zero
    for variable in model.optimizer.variables:
        if variable is not learning_rate:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    model.stop_training = False
    keras.utils.set_random_seed(seed)
    return model


def deepbind_model(seed=0):
    return _new_model("deepbind", seed, lambda: [
        keras.layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
        keras.layers.GlobalMaxPooling1D(name="max_pool"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])


def batchnorm_model(seed=0):
    return _new_model("batchnorm", seed, lambda: [
        keras.layers.Conv1D(FILTERS, WIDTH, name="motif_conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Activation("relu", name="relu"),
        keras.layers.GlobalMaxPooling1D(name="max_pool"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])


def test_the_shared_model_trains_as_a_new_one(data):
    """The sharing above changes no test: a reset model ends a fit with a new model's weights."""
    x, y = data
    keras.utils.set_random_seed(0)
    new = keras.Sequential([keras.Input((LENGTH, 4)),
                            keras.layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
                            keras.layers.GlobalMaxPooling1D(name="max_pool"),
                            keras.layers.Dense(1, activation="sigmoid", name="output")])
    new.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    new.fit(x, y, epochs=2, batch_size=32, verbose=0)
    deepbind_model().fit(x, y, epochs=1, batch_size=32, verbose=0)  # leaves trained weights and Adam's state
    shared = deepbind_model()
    shared.fit(x, y, epochs=2, batch_size=32, verbose=0)
    for a, b in zip(new.get_weights(), shared.get_weights()):
        np.testing.assert_array_equal(a, b)


class WeightSnapshot(keras.callbacks.Callback):
    """Keeps the named layers' weights as they are at the end of each epoch.

    It is placed after PWMCallback: no training step runs between two callbacks'
    ``on_epoch_end``, so this sees the weights the PWMs were made from, and would catch a
    PWMCallback that changed them.
    """

    def __init__(self, *names):
        super().__init__()
        self.names = names
        self.by_epoch = {}

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch[epoch + 1] = {name: [np.array(w, dtype=np.float64)
                                           for w in self.model.get_layer(name).get_weights()]
                                    for name in self.names}


class InterruptAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at one training step, as Ctrl-C would."""

    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step, self.current = epoch, step, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.step:
            raise KeyboardInterrupt


def read_summary(path):
    lines = pathlib.Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert all(len(line.split("\t")) == len(header) for line in lines[1:])
    return header, rows


def ln_b_by_epoch(rows):
    """{epoch: array of ln b, one per filter in file order}."""
    out = {}
    for row in rows:
        out.setdefault(int(row["epoch"]), []).append(float(row["ln_b"]))
    return {epoch: np.array(values) for epoch, values in out.items()}


def best_window_scores(x, kernel):
    """Each sequence's best valid-window score x . W per filter, in float64 numpy."""
    width = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), width, axis=1)
    scores = np.einsum("npal,laf->npf", windows, kernel)  # (N, positions, F)
    return scores.max(axis=1)


def assert_only_whole_files(folder):
    names = os.listdir(folder)
    assert not [n for n in names if n.endswith(".part") or n.startswith(".")], names
    for name in names:
        if name.endswith(".meme"):
            assert len(read_meme(os.path.join(folder, name))) == FILTERS
    read_summary(os.path.join(folder, "summary.tsv"))


# ---------------------------------------------------------------------------------------

def test_each_epoch_file_is_the_exact_transform_of_that_epochs_kernel(data, tmp_path):
    x, y = data
    model = deepbind_model()
    snapshot = WeightSnapshot("motif_conv")
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0,
                        callbacks=[PWMCallback(x, tmp_path, every=1, shared_base=False, sites="all"), snapshot])

    assert sorted(os.listdir(tmp_path)) == ["epoch_0001.meme", "epoch_0002.meme", "epoch_0003.meme",
                                            "summary.tsv"]
    header, rows = read_summary(tmp_path / "summary.tsv")
    assert tuple(header) == SUMMARY_COLUMNS
    assert [(int(r["epoch"]), r["filter"]) for r in rows] == [
        (epoch, f"motif_conv_{t}") for epoch in (1, 2, 3) for t in range(FILTERS)]
    ln_b = ln_b_by_epoch(rows)
    previous = None
    for epoch in (1, 2, 3):
        kernel = snapshot.by_epoch[epoch]["motif_conv"][0]
        motifs = read_meme(tmp_path / f"epoch_{epoch:04d}.meme")
        assert motifs.names == [f"motif_conv_{t}" for t in range(FILTERS)]
        # ln b at full precision is the MEME file's (pwm2kernel reads it back); the summary
        # holds 7 significant digits of it. pwm_change is computed on the PWMs at full
        # precision (the files' matrices hold 6 digits).
        full = [float(re.match(r"ln_b=([^,]+),SE=", m.alt_name).group(1)) for m in motifs]
        np.testing.assert_allclose(ln_b[epoch], full, rtol=5e-7, atol=0)
        pwms = np.stack([kernel_to_pwm(kernel[:, :, t], math.exp(full[t])) for t in range(FILTERS)])
        for t, motif in enumerate(motifs):
            np.testing.assert_allclose(motif.pwm, pwms[t], rtol=MEME_RTOL, atol=1e-12)
            # The MLE's stationarity condition: the mean best-window score equals the
            # expected score under the PWM, sum_i E_P[w_i] (so the sequences and this
            # epoch's kernel went into ln b).
            mean_best = best_window_scores(x, kernel[:, :, t : t + 1]).mean()
            np.testing.assert_allclose(mean_best, (motif.pwm * kernel[:, :, t]).sum(), rtol=1e-6)
        change = np.array([float(r["pwm_change"]) for r in rows if int(r["epoch"]) == epoch])
        if previous is None:
            assert np.isnan(change).all()
        else:
            # scipy's jensenshannon is the distance, the square root of the divergence.
            js = jensenshannon(previous, pwms, base=2, axis=-1) ** 2
            np.testing.assert_allclose(change, js.mean(axis=1), rtol=5e-7, atol=1e-15)  # 7 digits
            assert (change > 0).all()
        previous = pwms

    logs = history.history
    assert len(logs["loss"]) == 3
    np.testing.assert_allclose(logs["k2p_mean_ln_b"], [ln_b[e].mean() for e in (1, 2, 3)], rtol=5e-7)  # the summary holds 7 digits
    assert np.isnan(logs["k2p_mean_pwm_change"][0])
    means = [np.mean([float(r["pwm_change"]) for r in rows if int(r["epoch"]) == e]) for e in (2, 3)]
    np.testing.assert_allclose(logs["k2p_mean_pwm_change"][1:], means, rtol=5e-7)


def test_every_second_epoch(data, tmp_path):
    x, y = data
    callback = PWMCallback(x, tmp_path, every=2, max_sequences=120, seed=3, sites="all")
    history = deepbind_model().fit(x, y, epochs=5, batch_size=64, verbose=0, callbacks=[callback])

    assert sorted(os.listdir(tmp_path)) == ["epoch_0002.meme", "epoch_0004.meme", "summary.tsv"]
    _, rows = read_summary(tmp_path / "summary.tsv")
    assert [int(r["epoch"]) for r in rows] == [2] * FILTERS + [4] * FILTERS
    assert {int(r["sequences_used"]) for r in rows} == {120}
    assert callback.dumped_epochs == [2, 4]
    assert len(history.history["loss"]) == 5
    assert len(history.history["k2p_mean_ln_b"]) == 2
    # The pwm_change at epoch 4 compares with epoch 2, the previous dump.
    assert all(math.isfinite(float(r["pwm_change"])) for r in rows if r["epoch"] == "4")


def test_array_file_and_dataset_sources_agree(data, tmp_path):
    x, y = data
    h5_path = tmp_path / "seqs.h5"
    with h5py.File(h5_path, "w") as handle:
        handle.create_dataset("labels", data=y)
        handle.create_dataset("onehot", data=x.astype(np.uint8))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    callbacks = {
        "array": PWMCallback(x, tmp_path / "array"),
        "hdf5": PWMCallback(h5_path, tmp_path / "hdf5", dataset="onehot"),
        "first_100": PWMCallback(x[:100], tmp_path / "first_100"),
        "dataset_100": PWMCallback(dataset, tmp_path / "dataset_100", max_sequences=100),
        "fixed": PWMCallback(None, tmp_path / "fixed", base=2.0),
    }
    deepbind_model().fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=list(callbacks.values()))

    got = {name: cb.last_extraction for name, cb in callbacks.items()}
    assert got["array"].stats.n_sequences == got["hdf5"].stats.n_sequences == N_SEQUENCES
    np.testing.assert_allclose(got["hdf5"].ln_base, got["array"].ln_base, rtol=1e-12)
    assert got["dataset_100"].stats.n_sequences == 100
    np.testing.assert_allclose(got["dataset_100"].ln_base, got["first_100"].ln_base, rtol=1e-12)
    np.testing.assert_allclose(got["fixed"].ln_base, math.log(2.0))
    motifs = read_meme(tmp_path / "fixed" / "epoch_0001.meme")
    kernel = got["array"].kernel
    for t, motif in enumerate(motifs):
        np.testing.assert_allclose(motif.pwm, kernel_to_pwm(kernel[:, :, t], 2.0), rtol=MEME_RTOL, atol=1e-12)


def test_a_pattern_breaking_model_fails_before_the_first_epoch_when_strict(data, tmp_path):
    x, y = data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((LENGTH, 4)),
        keras.layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    weights_before = model.get_layer("motif_conv").get_weights()[0].copy()

    with pytest.raises(K2PError) as err:
        model.fit(x, y, epochs=2, verbose=0, callbacks=[PWMCallback(x, tmp_path / "out", strict=True)])
    message = str(err.value)
    assert "motif_conv (Conv1D)" in message and "flat (Flatten)" in message and "output (Dense)" in message
    assert "base=" in message
    assert not (tmp_path / "out").exists()
    np.testing.assert_array_equal(model.get_layer("motif_conv").get_weights()[0], weights_before)

    # A fixed base needs no assumption, strict or not.
    model.fit(x, y, epochs=1, verbose=0, callbacks=[PWMCallback(None, tmp_path / "fixed", base=math.e, strict=True)])
    assert len(read_meme(tmp_path / "fixed" / "epoch_0001.meme")) == FILTERS
    # Without strict: the strong windows anywhere, with a warning.
    with pytest.warns(UserWarning, match="strong windows anywhere"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[PWMCallback(x, tmp_path / "anywhere")])
    assert len(read_meme(tmp_path / "anywhere" / "epoch_0001.meme")) == FILTERS


def test_batchnorm_is_folded_with_the_current_moving_statistics(data, tmp_path):
    x, y = data
    model = batchnorm_model()
    snapshot = WeightSnapshot("motif_conv", "bn")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[PWMCallback(x, tmp_path, every=1), snapshot])

    _, rows = read_summary(tmp_path / "summary.tsv")
    ln_b = ln_b_by_epoch(rows)
    epsilon = model.get_layer("bn").epsilon
    for epoch in (1, 2):
        (kernel, _), (gamma, _, _moving_mean, moving_var) = (snapshot.by_epoch[epoch]["motif_conv"],
                                                            snapshot.by_epoch[epoch]["bn"])
        folded = kernel * (gamma / np.sqrt(moving_var + epsilon))
        for t, motif in enumerate(read_meme(tmp_path / f"epoch_{epoch:04d}.meme")):
            expected = kernel_to_pwm(folded[:, :, t], math.exp(ln_b[epoch][t]))
            np.testing.assert_allclose(motif.pwm, expected, rtol=MEME_RTOL, atol=1e-12)
    # The moving statistics did move between the two dumps, so epoch 2 used its own.
    assert not np.allclose(snapshot.by_epoch[1]["bn"][3], snapshot.by_epoch[2]["bn"][3])


def test_interrupted_training_leaves_only_whole_files(data, tmp_path):
    x, y = data
    out = tmp_path / "mid_epoch"
    with pytest.raises(KeyboardInterrupt):
        deepbind_model().fit(x, y, epochs=3, batch_size=32, verbose=0,
                             callbacks=[PWMCallback(x, out, every=1), InterruptAt(epoch=2, step=4)])
    assert sorted(os.listdir(out)) == ["epoch_0001.meme", "summary.tsv"]
    assert_only_whole_files(out)
    assert len(read_summary(out / "summary.tsv")[1]) == FILTERS


class InterruptAfterDump(keras.callbacks.Callback):
    """Raises KeyboardInterrupt in on_epoch_end after PWMCallback of the same epoch wrote."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == 2:
            raise KeyboardInterrupt


def test_interrupt_right_after_a_dump_keeps_it_whole(data, tmp_path):
    x, y = data
    callback = PWMCallback(x, tmp_path, every=1)
    model = deepbind_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[callback, InterruptAfterDump()])
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001.meme", "epoch_0002.meme", "summary.tsv"]
    assert_only_whole_files(tmp_path)
    # Training again with the same callback carries on with the summary and pwm_change.
    model.fit(x, y, epochs=4, initial_epoch=2, batch_size=32, verbose=0, callbacks=[callback])
    _, rows = read_summary(tmp_path / "summary.tsv")
    assert [int(r["epoch"]) for r in rows] == [e for e in (1, 2, 3, 4) for _ in range(FILTERS)]
    assert all(math.isfinite(float(r["pwm_change"])) for r in rows[FILTERS:])


@pytest.mark.parametrize("kwargs, match", [
    ({"every": 0}, "every"),
    ({"every": "sometimes"}, "every"),
    ({"time_budget": 0}, "time_budget"),
    ({"max_sequences": 0}, "max_sequences"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"base": "heuristic"}, "base"),
    ({"base": 1.0}, "greater than 1"),
])
def test_bad_options_are_refused_when_made(data, tmp_path, kwargs, match):
    with pytest.raises(K2PError, match=match):
        PWMCallback(data[0], tmp_path, **kwargs)


def test_bad_sequences_are_refused_when_made(tmp_path):
    with pytest.raises(K2PError, match="sequences are needed"):
        PWMCallback(None, tmp_path)
    with pytest.raises(K2PError, match="file not found"):
        PWMCallback(tmp_path / "missing.h5", tmp_path)
    endless = tf.data.Dataset.from_tensor_slices(np.zeros((4, LENGTH, 4), np.float32)).repeat()
    with pytest.raises(K2PError, match="max_sequences"):
        PWMCallback(endless, tmp_path)
    assert PWMCallback(endless, tmp_path, max_sequences=10)._sequences.shape == (10, LENGTH, 4)


def test_package_import_leaves_tensorflow_alone():
    code = ("import sys, k2p_keras; assert 'tensorflow' not in sys.modules; "
            "from k2p_keras import PWMCallback; import keras; "
            "assert issubclass(PWMCallback, keras.callbacks.Callback); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=HERE.parent, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


@pytest.mark.slow  # a fresh TensorFlow with two logical CPUs trains
def test_works_under_mirrored_strategy(tmp_path):
    # Two logical CPUs must be configured before TensorFlow starts its devices, so the
    # training runs in a fresh interpreter.
    done = subprocess.run([sys.executable, str(HERE / "mirrored_callback_run.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=HERE.parent,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "replicas=2" in done.stdout
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001.meme", "epoch_0002.meme", "summary.tsv"]
    assert_only_whole_files(tmp_path)


class FlipBatchNormScale(keras.callbacks.Callback):
    """At the end of one epoch, turns one BatchNormalization scale negative, as training might."""

    def __init__(self, epoch, layer="bn", unit=0):
        super().__init__()
        self.epoch, self.layer, self.unit = epoch, layer, unit

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            gamma, *rest = self.model.get_layer(self.layer).get_weights()
            gamma[self.unit] = -abs(gamma[self.unit]) - 0.5
            self.model.get_layer(self.layer).set_weights([gamma, *rest])


def test_a_pattern_broken_during_training_changes_the_sites_or_stops_a_strict_dump(data, tmp_path):
    """A negative BatchNorm scale makes that filter's output decreasing: the MLE's assumption fails."""
    x, y = data
    model = batchnorm_model()
    with pytest.raises(PatternError, match="bn") as err:
        model.fit(x, y, epochs=3, batch_size=32, verbose=0,
                  callbacks=[FlipBatchNormScale(epoch=2), PWMCallback(x, tmp_path, every=1, strict=True)])
    assert "base=B" in str(err.value) and "strict=True" in str(err.value)
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001.meme", "summary.tsv"]

    # By default the dump that sees it takes the strong windows anywhere, with a warning, and says so.
    model = batchnorm_model()
    callback = PWMCallback(x, tmp_path / "default", every=1)
    with pytest.warns(UserWarning, match="strong windows anywhere"):
        model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[FlipBatchNormScale(epoch=2), callback])
    assert callback.dumped_epochs == [1, 2]
    headers = [[line for line in (tmp_path / "default" / f"epoch_000{e}.meme").read_text().splitlines()
                if line.startswith("# pattern:")][0] for e in (1, 2)]
    assert "(assumption holds; sites: strong, each sequence's best window)" in headers[0]
    assert "sites: strong, windows anywhere)" in headers[1]


def test_callback_pwms_equal_the_clis_on_the_same_weights(data, tmp_path):
    """The callback is a shell over extract(): its last dump equals the CLI on the saved model."""
    from click.testing import CliRunner

    from k2p_keras.cli.group import cli

    x, y = data
    model = deepbind_model()
    callback = PWMCallback(x, tmp_path / "dumps")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    result = CliRunner().invoke(cli, [str(tmp_path / "m.keras"), str(tmp_path / "x.npy"), "-q",
                                      "-o", str(tmp_path / "cli.meme")])
    assert result.exit_code == 0, result.output
    assert motifs_part(tmp_path / "cli.meme") == motifs_part(tmp_path / "dumps" / "epoch_0001.meme")


def test_a_model_on_another_channel_order_writes_its_pwms_in_acgt(data, tmp_path):
    """alphabet= reaches the callback through Options: the model trains on A T C G channels, the
    dumps are the CLI's on the same weights and sequences with --alphabet ATCG (MEME in A C G T)."""
    from click.testing import CliRunner

    from k2p_keras.cli.group import cli

    x, y = data
    atcg = x[:, :, [0, 3, 1, 2]]  # A C G T columns in the order A T C G
    model = deepbind_model()
    callback = PWMCallback(atcg, tmp_path / "dumps", alphabet="ATCG")
    model.fit(atcg, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "atcg.npy", atcg)
    result = CliRunner().invoke(cli, [str(tmp_path / "m.keras"), str(tmp_path / "atcg.npy"), "--alphabet", "ATCG",
                                      "-q", "-o", str(tmp_path / "cli.meme")])
    assert result.exit_code == 0, result.output
    assert motifs_part(tmp_path / "cli.meme") == motifs_part(tmp_path / "dumps" / "epoch_0001.meme")
    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)[:, [0, 2, 3, 1]]
    ln_b = callback.last_extraction.ln_base[0]
    np.testing.assert_allclose(callback.last_extraction.pwms[0], kernel_to_pwm(kernel[:, :, 0], math.exp(ln_b)),
                               atol=1e-12)


def test_a_weights_file_is_no_option_of_the_callback(data, tmp_path):
    with pytest.raises(TypeError, match="does not take weights"):
        PWMCallback(data[0], tmp_path, weights="w.h5")


class StopAfter(keras.callbacks.Callback):
    """Stops training at the end of one epoch, as EarlyStopping does."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            self.model.stop_training = True


class SaveModelEachEpoch(keras.callbacks.Callback):
    """Saves the model after each epoch (listed after PWMCallback: the weights its dump was made from)."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.folder / f"epoch_{epoch + 1}.keras")


def meme_sequences_line(path):
    return next(line for line in pathlib.Path(path).read_text().splitlines() if line.startswith("# sequences:"))


def test_default_subsample_then_all_sequences_each_epoch_verified_and_equal_to_the_cli(tmp_path, capfd):
    """By default every epoch is written, silently; the intermediate epochs on a fixed random subsample
    ("auto": >= 100,000 windows here), its size in summary.tsv and the MEME header, the last on all the
    sequences. Each epoch's file is the CLI's on the same sequences and that epoch's saved model, and
    passes ``k2p-keras verify`` against it (and not against another epoch's)."""
    from click.testing import CliRunner

    from k2p_keras.callback import auto_sequence_count
    from k2p_keras.cli.group import cli

    rng = np.random.default_rng(11)
    n = 4000  # 4,000 x 35 windows: "auto" keeps ceil(100,000 / 35) = 2,858, not a tenth (400)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, LENGTH))]
    y = rng.integers(0, 2, n).astype(np.float32)
    expected = auto_sequence_count(n, LENGTH - WIDTH + 1)
    assert expected == 2858
    callback = PWMCallback(x, tmp_path / "dumps")
    capfd.readouterr()
    deepbind_model().fit(x, y, epochs=3, batch_size=256, verbose=0,
                         callbacks=[callback, SaveModelEachEpoch(tmp_path)])
    assert "PWMCallback" not in capfd.readouterr().err  # nothing skipped, nothing said
    assert callback.dumped_epochs == [1, 2, 3]
    assert sorted(os.listdir(tmp_path / "dumps")) == [f"epoch_000{e}.meme" for e in (1, 2, 3)] + ["summary.tsv"]
    chosen = callback.sequence_indices
    assert chosen is not None and len(chosen) == expected and np.all(np.diff(chosen) > 0)
    _, rows = read_summary(tmp_path / "dumps" / "summary.tsv")
    assert [(int(r["epoch"]), int(r["sequences_scanned"])) for r in rows] == \
        [(1, expected)] * FILTERS + [(2, expected)] * FILTERS + [(3, n)] * FILTERS
    assert f"subsample of {expected:,} of the {n:,}" in meme_sequences_line(tmp_path / "dumps" / "epoch_0002.meme")
    assert f"all {n:,} training sequences" in meme_sequences_line(tmp_path / "dumps" / "epoch_0003.meme")

    np.save(tmp_path / "chosen.npy", x[chosen])
    np.save(tmp_path / "all.npy", x)
    runner = CliRunner()
    for epoch, sequences in ((1, "chosen.npy"), (2, "chosen.npy"), (3, "all.npy")):
        model, dump = str(tmp_path / f"epoch_{epoch}.keras"), tmp_path / "dumps" / f"epoch_000{epoch}.meme"
        result = runner.invoke(cli, [model, str(tmp_path / sequences), "-q", "-o", str(tmp_path / "cli.meme")])
        assert result.exit_code == 0, result.output
        assert motifs_part(tmp_path / "cli.meme") == motifs_part(dump), epoch
        verified = runner.invoke(cli, ["verify", model, str(tmp_path / "all.npy"), "--pwms", str(dump)])
        assert verified.exit_code == 0, verified.output
    other = runner.invoke(cli, ["verify", str(tmp_path / "epoch_3.keras"), str(tmp_path / "all.npy"),
                                "--pwms", str(tmp_path / "dumps" / "epoch_0001.meme")])
    assert other.exit_code == 1, other.output

    # None scans every sequence at every epoch.
    everything = PWMCallback(x, tmp_path / "all", max_sequences=None)
    deepbind_model().fit(x, y, epochs=2, batch_size=256, verbose=0, callbacks=[everything])
    assert everything.sequence_indices is None
    _, rows = read_summary(tmp_path / "all" / "summary.tsv")
    assert {int(r["sequences_scanned"]) for r in rows} == {n}


def test_a_fit_stopped_after_the_callback_has_its_last_epoch_rewritten_on_all_sequences(data, tmp_path):
    """A callback listed after PWMCallback stops fit: the epoch was dumped on the subsample, and
    on_train_end writes it again on all the sequences, replacing its file and its rows, its
    pwm_change still against the epoch before."""
    x, y = data
    callback = PWMCallback(x, tmp_path, max_sequences=100, seed=5, sites="all")
    deepbind_model().fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[callback, StopAfter(2)])
    assert callback.dumped_epochs == [1, 2]
    _, rows = read_summary(tmp_path / "summary.tsv")
    assert [(int(r["epoch"]), int(r["sequences_scanned"])) for r in rows] == \
        [(1, 100)] * FILTERS + [(2, N_SEQUENCES)] * FILTERS
    assert callback.last_extraction.stats.n_sequences == N_SEQUENCES
    assert "all 300 training sequences" in meme_sequences_line(tmp_path / "epoch_0002.meme")
    pwms = {e: np.array([m.pwm for m in read_meme(tmp_path / f"epoch_000{e}.meme")]) for e in (1, 2)}
    change = [float(r["pwm_change"]) for r in rows if r["epoch"] == "2"]
    expected = [np.mean(jensenshannon(a, b, axis=1, base=2) ** 2) for a, b in zip(pwms[1], pwms[2])]
    np.testing.assert_allclose(change, expected, atol=1e-5)
    assert_only_whole_files(tmp_path)


# ------------------------------------------------------------------ every="auto"

def test_auto_schedule_always_writes_the_last_epoch_and_says_it_skips(data, tmp_path, capfd):
    """With no time to spare, "auto" skips, says so once, and writes the last epoch; a first try that
    would run over is given up unwritten."""
    x, y = data
    callback = PWMCallback(x, tmp_path / "tight", every="auto", time_budget=1e-9, batch_size=64)
    deepbind_model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[callback])
    assert callback.dumped_epochs == [3]
    assert sorted(os.listdir(tmp_path / "tight")) == ["epoch_0003.meme", "summary.tsv"]
    assert_only_whole_files(tmp_path / "tight")
    said = [line for line in capfd.readouterr().err.splitlines() if "PWMCallback" in line]
    assert len(said) == 1 and "every=1" in said[0] and "last" in said[0]
    assert callback.dump_estimate > 0  # the last dump's time

    # An epoch after which a callback listed before this one stops training is written too.
    stopped = PWMCallback(x, tmp_path / "stopped", every="auto", time_budget=1e-9, batch_size=64)
    deepbind_model().fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[StopAfter(2), stopped])
    assert stopped.dumped_epochs == [2]
    capfd.readouterr()

    # With time to spare every epoch is written, silently, and the estimate is the last dump's.
    roomy = PWMCallback(x, tmp_path / "roomy", every="auto", time_budget=1e9)
    deepbind_model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[roomy])
    assert roomy.dumped_epochs == [1, 2, 3] and roomy.dump_estimate > 0
    assert "PWMCallback" not in capfd.readouterr().err

    # A first try that would run over is given up unwritten: batches of 64, and a millisecond of room
    # (a try that reads every sequence in one batch is a whole dump, and is kept). At the first
    # epoch's end numba's start-up uses up the room; the try comes at the second.
    tried = PWMCallback(x, tmp_path / "tried", every="auto", time_budget=1e-9, batch_size=64)
    tries = []

    class NothingSpentYet(keras.callbacks.Callback):  # a millisecond of room: "auto" tries a dump of unknown cost
        def on_epoch_end(self, epoch, logs=None):
            tried._spent = -1e-3
            tries.append(tried.dump_estimate)

    deepbind_model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[NothingSpentYet(), tried])
    assert tried.dumped_epochs == [3] and tries[2] > 0  # epoch 2's try was given up, with its projection
    assert sorted(os.listdir(tmp_path / "tried")) == ["epoch_0003.meme", "summary.tsv"]
    assert_only_whole_files(tmp_path / "tried")
    capfd.readouterr()


def test_the_callbacks_own_time_counts_its_set_up_and_numbas_start_up(data, tmp_path, monkeypatch):
    import k2p_keras.callback as module

    loads = []
    monkeypatch.setattr(module, "_load_compiled_kernels", lambda *args: loads.append(time.sleep(0.2)))
    x, y = data
    callback = PWMCallback(x, tmp_path, every="auto", time_budget=1e-9)  # nothing but the last epoch is written
    deepbind_model().fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[callback])
    assert callback.dumped_epochs == [3] and len(loads) == 1  # numba's start-up once, at the first epoch's end
    assert callback.time_spent >= 0.2 + callback.dump_estimate


def test_auto_dump_due_keeps_the_callback_within_its_share():
    from k2p_keras.callback import auto_dump_due

    assert auto_dump_due(trained=10.0, spent=0.5, estimate=0.5, budget=0.1)       # 1.0 <= 1.0
    assert not auto_dump_due(trained=10.0, spent=0.6, estimate=0.5, budget=0.1)   # 1.1 > 1.0
    assert auto_dump_due(trained=10.0, spent=0.9, estimate=None, budget=0.1)      # unknown: try
    assert not auto_dump_due(trained=10.0, spent=1.0, estimate=None, budget=0.1)  # nothing left
    # Room is kept for the dump after the last epoch: 20 s of training in all, 2 s to share.
    assert auto_dump_due(trained=10.0, spent=0.5, estimate=0.5, budget=0.1, fit_total=20.0)     # 1.5 <= 2
    assert not auto_dump_due(trained=10.0, spent=0.5, estimate=0.8, budget=0.1, fit_total=20.0)  # 2.1 > 2
    # The last dump reads all the sequences, the others a subsample: room is kept for its own cost.
    assert auto_dump_due(trained=10.0, spent=0.5, estimate=0.1, budget=0.1, fit_total=20.0, last_estimate=1.3)
    assert not auto_dump_due(trained=10.0, spent=0.5, estimate=0.1, budget=0.1, fit_total=20.0, last_estimate=1.5)


def test_budget_probe_projects_from_the_steady_batches():
    """The first batch (tracing) is left out of the rate; the projection decides; it carries rate x total."""
    from k2p_keras.callback import BudgetProbe, DumpOverBudget

    def clock(times):
        it = iter(times)
        return lambda: next(it)

    # 1,000 sequences in batches of 100: start at 0 s, batch 1 done at 0.5 s, batch 2 at 0.52 s.
    # Rate 0.02 s / 100 sequences; projected 0.52 + 8 x 0.02 = 0.68 s.
    roomy = BudgetProbe(1000, allowance=0.7, clock=clock([0.0, 0.5, 0.52]))
    roomy(100)
    roomy(100)
    tight = BudgetProbe(1000, allowance=0.6, clock=clock([0.0, 0.5, 0.52]))
    tight(100)
    with pytest.raises(DumpOverBudget) as over:
        tight(100)
    assert over.value.estimate == pytest.approx(0.2)  # 1,000 sequences at the steady rate
    # A first batch that alone uses up the allowance stops at once; its rate bounds the estimate.
    spent = BudgetProbe(1000, allowance=0.4, clock=clock([0.0, 0.5]))
    with pytest.raises(DumpOverBudget) as over:
        spent(100)
    assert over.value.estimate == pytest.approx(5.0)
    # A scan that has read every sequence is kept, however long it took.
    done = BudgetProbe(100, allowance=0.1, clock=clock([0.0, 0.5]))
    done(100)


def test_influence_on_the_live_model_needs_no_safe_loading_and_follows_the_training(data, tmp_path):
    """A Lambda after the head (Keras would not load it from a file in safe mode): the live model runs."""
    x, y = data
    keras.utils.set_random_seed(0)
    inputs = keras.Input((LENGTH, 4))
    h = keras.layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv")(inputs)
    h = keras.layers.GlobalMaxPooling1D()(h)
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 1.0)(keras.layers.Dense(1, activation="sigmoid")(h)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    callback = PWMCallback(x, tmp_path, every=1, influence=True, labels=y)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    influence = callback.last_result.influence
    assert influence.null == "pooled" and influence.n_sequences == N_SEQUENCES and influence.delta_loss is not None
    header, *rows = [line for line in (tmp_path / "summary.tsv").read_text().splitlines() if not line.startswith("#")]
    assert {"influence", "influence_dloss"} <= set(header.split("\t")) and len(rows) == 2 * FILTERS
