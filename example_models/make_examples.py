"""Rebuild data/ and example_models/: simulated sequences with planted motifs, small trained models.

    python example_models/make_examples.py

Four known motifs from JASPAR CORE 2016 (shipped in data/jaspar, CC BY 4.0) are planted,
one site per positive sequence drawn from the motif's PWM, at a random position and strand:
FOS::JUN (MA0099.2, the AP-1 site), CTCF (MA0139.1), Gata1 (MA0035.3) and SP1 (MA0079.3, the
GC box). Negatives are uniform background only. ``k2p-keras ... --annotate`` should name
them (README, "Which known motifs did the model learn?"). Two small models are trained on them and saved as .h5 and .keras:

- ``deepbind``: Conv1D(relu) -> GlobalMaxPooling1D -> Dense(sigmoid), the DeepBind shape;
- ``bn_model``: Conv1D(linear) -> BatchNormalization -> Activation(relu) -> Dropout
  -> GlobalMaxPooling1D -> Dense(sigmoid), which k2p-keras folds exactly.

The model files hold the models only (architecture and weights): no optimizer and no
training configuration, so that Keras loads them without a warning about optimizer state
(compile a model before training it). ``--strip-only`` strips the files already here and
retrains nothing (their weights stay bit for bit).

Seeds are fixed; TensorFlow's CPU kernels may still differ in the last bits between machines.
"""
import argparse
import gzip
import json
import os
import pathlib
import shutil
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
ALPHABET = "ACGT"

JASPAR = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"
PLANTED = ("MA0099.2", "MA0139.1", "MA0035.3", "MA0079.3")  # FOS::JUN, CTCF, Gata1, SP1


def planted_pwms():
    """The planted motifs' PWMs (L, 4), read from the shipped JASPAR file."""
    from k2p_keras.io.meme import read_meme

    jaspar = read_meme(JASPAR)
    pwms = [jaspar.get(motif_id).pwm for motif_id in PLANTED]
    return [pwm / pwm.sum(axis=1, keepdims=True) for pwm in pwms]


def simulate(n, length, rng):
    """One-hot sequences (n, length, 4) uint8 and labels; half carry one planted motif."""
    letters = rng.integers(0, 4, size=(n, length))
    labels = np.zeros(n, dtype=np.uint8)
    pwms = planted_pwms()
    for s in range(n // 2):
        pwm = pwms[s % len(pwms)]
        site = np.array([rng.choice(4, p=row) for row in pwm])
        if rng.random() < 0.5:
            site = 3 - site[::-1]  # reverse complement: A<->T, C<->G
        start = rng.integers(0, length - len(site) + 1)
        letters[s, start:start + len(site)] = site
        labels[s] = 1
    order = rng.permutation(n)
    return np.eye(4, dtype=np.uint8)[letters[order]], labels[order]


def write_fasta_gz(path, onehot, labels):
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        for s, (row, label) in enumerate(zip(onehot, labels)):
            seq = "".join(ALPHABET[i] for i in row.argmax(axis=1))
            handle.write(f">seq{s} label={label}\n{seq}\n".encode())


def build_models(length, filters, kernel_length):
    import keras
    from keras import layers

    inputs = keras.Input(shape=(length, 4), name="dna")
    x = layers.Conv1D(filters, kernel_length, activation="relu", name="motif_conv")(inputs)
    x = layers.GlobalMaxPooling1D(name="max_pool")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="output")(x)
    deepbind = keras.Model(inputs, outputs, name="deepbind")

    bn_model = keras.Sequential([
        keras.Input(shape=(length, 4), name="dna"),
        layers.Conv1D(filters, kernel_length, name="motif_conv"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("relu", name="relu"),
        layers.Dropout(0.1, name="dropout"),
        layers.GlobalMaxPooling1D(name="max_pool"),
        layers.Dense(1, activation="sigmoid", name="output"),
    ], name="bn_model")
    return {"deepbind": deepbind, "bn_model": bn_model}


def _copy_without_optimizer(source, dest):
    """Copy an HDF5 model file without its optimizer weights and training configuration."""
    with h5py.File(source, "r") as old, h5py.File(dest, "w") as new:
        for key, value in old.attrs.items():
            if key != "training_config":
                new.attrs[key] = value
        for name in old:
            if name not in ("optimizer_weights", "optimizer"):
                old.copy(old[name], new, name=name)


def strip_optimizer(path):
    """Rewrite a saved model (.h5 or .keras) without optimizer state or training configuration.

    The layers' weights are copied as stored, so every PWM k2p-keras reads from the file
    stays the same; Keras then loads the model uncompiled, without warnings.
    """
    path = pathlib.Path(path)
    with tempfile.TemporaryDirectory() as folder:
        stripped = pathlib.Path(folder) / path.name
        if path.suffix == ".h5":
            _copy_without_optimizer(path, stripped)
        else:
            with zipfile.ZipFile(path) as old, zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as new:
                for info in old.infolist():
                    data = old.read(info)
                    if info.filename == "config.json":
                        config = json.loads(data)
                        config.pop("compile_config", None)
                        data = json.dumps(config).encode()
                    elif info.filename == "model.weights.h5":
                        weights = pathlib.Path(folder) / "weights.h5"
                        weights_stripped = pathlib.Path(folder) / "weights_stripped.h5"
                        weights.write_bytes(data)
                        _copy_without_optimizer(weights, weights_stripped)
                        data = weights_stripped.read_bytes()
                    new.writestr(info, data)
        shutil.move(stripped, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", type=int, default=20000)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--kernel-length", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--strip-only", action="store_true",
                        help="only strip the optimizer state from the model files here (no retraining)")
    args = parser.parse_args()
    if args.strip_only:
        for path in sorted((REPO / "example_models").glob("*.h5")) + sorted((REPO / "example_models").glob("*.keras")):
            strip_optimizer(path)
            print(f"{path.name}: optimizer state and training configuration removed")
        return

    import keras

    rng = np.random.default_rng(2017)
    keras.utils.set_random_seed(2017)
    onehot, labels = simulate(args.sequences, args.length, rng)
    (REPO / "data").mkdir(exist_ok=True)
    with h5py.File(REPO / "data" / "example_seqs.h5", "w") as f:
        f.create_dataset("x", data=onehot, compression="gzip", compression_opts=9, shuffle=True)
        f.create_dataset("y", data=labels)
    write_fasta_gz(REPO / "data" / "example_seqs.fa.gz", onehot, labels)

    x, y = onehot.astype("float32"), labels.astype("float32")
    for name, model in build_models(args.length, args.filters, args.kernel_length).items():
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["AUC"])
        history = model.fit(x, y, epochs=args.epochs, batch_size=64, validation_split=0.2, verbose=0)
        auc = history.history["val_AUC"][-1] if "val_AUC" in history.history else float("nan")
        for suffix in (".h5", ".keras"):
            model.save(REPO / "example_models" / f"{name}{suffix}")
            strip_optimizer(REPO / "example_models" / f"{name}{suffix}")
        print(f"{name}: validation AUC {auc:.3f}")


if __name__ == "__main__":
    main()
