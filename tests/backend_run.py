"""A small CNN trained with PWMCallback under one Keras 3 backend, then extract() on the live model.

    KERAS_BACKEND=jax python tests/backend_run.py OUT_DIR

Run by tests/test_backends.py in a fresh interpreter (Keras reads KERAS_BACKEND once, when it is
first imported). Writes OUT_DIR/pwms/ (the callback's folder), OUT_DIR/weights.npz (the conv's
kernel and bias after training) and OUT_DIR/live.npz (extract's ln b and PWMs on the live model),
which the test compares with the TensorFlow backend's on the same weights.
"""
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras  # noqa: E402

from k2p_keras import PWMCallback, extract  # noqa: E402

EPOCHS = 3


def planted_data(n=400, length=50, seed=0):
    """One-hot sequences, half with ACGTGA planted at a random place, labelled 1."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length))
    y = np.zeros((n, 1), np.float32)
    for i in range(n // 2):
        at = rng.integers(0, length - 6)
        codes[i, at:at + 6] = [0, 1, 2, 3, 2, 0]
        y[i] = 1
    return np.eye(4, dtype=np.float32)[codes], y


def small_model():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((50, 4)), keras.layers.Conv1D(4, 8, name="motif_conv"),
                             keras.layers.Activation("relu"), keras.layers.GlobalMaxPooling1D(),
                             keras.layers.Dense(1, activation="sigmoid")])


def main(out):
    out = pathlib.Path(out)
    x, y = planted_data()
    model = small_model()
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=[PWMCallback(x, out / "pwms", every=1)])
    kernel, bias = (np.asarray(keras.ops.convert_to_numpy(w)) for w in model.get_layer("motif_conv").weights)
    np.savez(out / "weights.npz", kernel=kernel, bias=bias)
    result = extract(model, x)
    np.savez(out / "live.npz", ln_base=np.asarray(result.exact.ln_base), pwms=np.asarray(result.exact.pwms))
    print(f"backend={keras.backend.backend()}")


if __name__ == "__main__":
    main(sys.argv[1])
