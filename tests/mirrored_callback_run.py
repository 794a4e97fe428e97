"""Train under tf.distribute.MirroredStrategy on two logical CPUs with PWMCallback.

    python tests/mirrored_callback_run.py OUTPUT_DIR

Run by tests/test_callback.py in a fresh interpreter: the logical devices must be set up
before TensorFlow initialises its devices. Exits non-zero (an assertion) when the last
dump is not the exact transform of the trained, BatchNorm-folded kernel.
"""
import math
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from k2p_keras._tf import import_tensorflow  # noqa: E402

tf = import_tensorflow()
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from k2p_keras import PWMCallback, kernel_to_pwm, read_meme  # noqa: E402


def main(out):
    rng = np.random.default_rng(1)
    letters = rng.integers(0, 4, size=(256, 40))
    letters[:128, 5:11] = [0, 1, 2, 3, 3, 0]
    x = np.eye(4, dtype=np.float32)[letters]
    y = (np.arange(256) < 128).astype(np.float32)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print(f"replicas={strategy.num_replicas_in_sync}")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((40, 4)),
            keras.layers.Conv1D(4, 6, name="motif_conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Activation("relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[PWMCallback(x, out, every=1)])
    assert len(history.history["k2p_mean_ln_b"]) == 2, history.history

    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    bn = model.get_layer("bn")
    gamma, _, _, moving_var = (w.astype(np.float64) for w in bn.get_weights())
    folded = kernel * (gamma / np.sqrt(moving_var + bn.epsilon))
    lines = pathlib.Path(out, "summary.tsv").read_text().splitlines()
    summary_ln_b = [float(line.split("\t")[2]) for line in lines[1:] if line.startswith("2\t")]
    motifs = read_meme(os.path.join(out, "epoch_0002.meme"))
    # The MEME file holds ln b at full precision, the summary 7 significant digits of it.
    ln_b = [float(motif.alt_name.split(",")[0].removeprefix("ln_b=")) for motif in motifs]
    np.testing.assert_allclose(summary_ln_b, ln_b, rtol=5e-7, atol=0)
    for t, motif in enumerate(motifs):
        expected = kernel_to_pwm(folded[:, :, t], math.exp(ln_b[t]))
        np.testing.assert_allclose(motif.pwm, expected, rtol=5e-6, atol=1e-12)  # MEME: 6 digits
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
