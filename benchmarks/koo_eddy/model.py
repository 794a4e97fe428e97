"""Koo & Eddy's CNN-N in Keras, trained with a snapshot of every epoch kept.

conv 30 x 19 (same) -> batch norm -> ReLU -> max-pool N -> dropout 0.1 -> conv 128 x 5 (same)
-> batch norm -> ReLU -> max-pool 100/N (the two pools cover 100 positions) -> dropout 0.1 ->
dense 512 -> batch norm -> ReLU -> dropout 0.5 -> 12 sigmoids; L2 1e-6 on the weights.
"""
import csv
import json
import pathlib
import time
from dataclasses import asdict, dataclass

import numpy as np

from k2p_keras._tf import import_tensorflow

tf = import_tensorflow()
# Each snapshot is a new model; their tf.function retracing notices are expected.
tf.get_logger().setLevel("ERROR")
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow loads quietly)

CONV_NAME = "conv1"
POOLS = (1, 4, 25)
POOL_COVER = 100


@dataclass
class TrainSettings:
    """Adam at 1e-3 (the paper's 3e-4 is too slow for our compute budget); early stopping on the
    validation AUROC (mean over the labels) with the best epoch's weights kept: the validation loss
    is too noisy here (batch norm), it stopped a CNN-25 at epoch 14 while its AUROC still rose."""

    epochs: int = 15
    patience: int = 3
    learning_rate: float = 1e-3
    batch_size: int = 100
    l2: float = 1e-6
    n_filters: int = 30
    kernel_length: int = 19


def build_model(pool, length, n_labels, settings):
    reg = keras.regularizers.l2(settings.l2)
    layers = keras.layers
    return keras.Sequential([
        keras.Input((length, 4)),
        layers.Conv1D(settings.n_filters, settings.kernel_length, padding="same", kernel_regularizer=reg,
                      name=CONV_NAME),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling1D(pool),
        layers.Dropout(0.1),
        layers.Conv1D(128, 5, padding="same", kernel_regularizer=reg),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling1D(max(1, POOL_COVER // pool)),
        layers.Dropout(0.1),
        layers.Flatten(),
        layers.Dense(512, kernel_regularizer=reg),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Dropout(0.5),
        layers.Dense(n_labels, activation="sigmoid"),
    ], name=f"cnn{pool}")


def mean_auroc(y, p):
    """Mean over labels of the AUROC (labels with one class only are skipped)."""
    from sklearn.metrics import roc_auc_score

    scores = [roc_auc_score(y[:, j], p[:, j]) for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    return float(np.mean(scores)) if scores else float("nan")


def predict(model, x):
    return np.asarray(model.predict(x, batch_size=500, verbose=0), dtype=np.float64)


class EpochSnapshots(keras.callbacks.Callback):
    """Save the model after every epoch (``epoch_NN.keras``) and log its validation AUROC."""

    def __init__(self, folder, x_valid, y_valid):
        super().__init__()
        self.folder, self.x_valid, self.y_valid = pathlib.Path(folder), x_valid, y_valid
        self.rows, self.started = [], time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        auroc = mean_auroc(self.y_valid, predict(self.model, self.x_valid))
        logs["val_auroc"] = auroc  # what the early stopping after this callback watches
        self.model.save(self.folder / f"epoch_{epoch + 1:02d}.keras")
        row = {"epoch": epoch + 1, "loss": logs.get("loss"), "val_loss": logs.get("val_loss"),
               "val_auroc": auroc, "seconds": time.perf_counter() - self.started}
        self.rows.append(row)
        with open(self.folder / "history.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
            writer.writerows(self.rows)
        print(f"{self.model.name} epoch {epoch + 1}: val_loss {row['val_loss']:.4f} val AUROC {auroc:.4f} "
              f"({row['seconds']:.0f} s)", flush=True)


def model_folder(cache, data_tag, pool, seed):
    return pathlib.Path(cache) / data_tag / f"cnn{pool}_seed{seed}"


def train(data, pool, seed, folder, settings):
    """Train CNN-``pool`` from ``seed``; keep every epoch, the best (``final.keras``) and its test AUROC."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(int(seed))
    x_train, y_train = data.x("train"), data.y("train")
    x_valid, y_valid = data.x("valid"), data.y("valid")
    model = build_model(pool, x_train.shape[1], y_train.shape[1], settings)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="binary_crossentropy")
    snapshots = EpochSnapshots(folder, x_valid, y_valid)
    stop = keras.callbacks.EarlyStopping(monitor="val_auroc", mode="max", patience=settings.patience,
                                         restore_best_weights=True)
    started = time.perf_counter()
    model.fit(x_train, y_train, validation_data=(x_valid, y_valid), epochs=settings.epochs,
              batch_size=settings.batch_size, shuffle=True, callbacks=[snapshots, stop], verbose=0)
    best = int(np.argmax([row["val_auroc"] for row in snapshots.rows])) + 1
    test_auroc = mean_auroc(data.y("test"), predict(model, data.x("test")))
    tmp = folder / "final.tmp.keras"
    model.save(tmp)
    tmp.replace(folder / "final.keras")
    info = {"pool": pool, "seed": seed, "best_epoch": best, "epochs_run": len(snapshots.rows),
            "test_auroc": test_auroc, "train_seconds": time.perf_counter() - started,
            "settings": asdict(settings)}
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    return info
