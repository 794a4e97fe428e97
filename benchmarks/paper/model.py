"""The paper's model in Keras: Conv1D -> ReLU -> global max-pool -> Dense(1, sigmoid)."""
from dataclasses import dataclass

import numpy as np

from k2p_keras._tf import import_tensorflow
from k2p_keras.model.conv import find_motif_conv_in_model

tf = import_tensorflow()
# Every motif builds a new model and scanner; their tf.function retracing notices are expected.
tf.get_logger().setLevel("ERROR")
import keras  # noqa: E402  (after TensorFlow, which import_tensorflow loads quietly)

CONV_NAME = "motif_conv"
DENSE_NAME = "output"


@dataclass
class ModelSettings:
    """Architecture and training of the model; the conv scans the forward strand only."""

    n_filters: int = 8
    kernel_length: int = 24
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3


def build_model(length, settings):
    """An untrained model for one-hot sequences of ``length``."""
    return keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(settings.n_filters, settings.kernel_length, activation="relu", name=CONV_NAME),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(1, activation="sigmoid", name=DENSE_NAME),
    ])


def train_model(x_train, y_train, settings, seed=0):
    """Build and train the model with every random draw (weights, batch order) fixed by ``seed``."""
    keras.utils.set_random_seed(int(seed))
    model = build_model(x_train.shape[1], settings)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="binary_crossentropy")
    model.fit(x_train, y_train, epochs=settings.epochs, batch_size=settings.batch_size, shuffle=True,
              verbose=0)
    return model


def predict(model, x):
    """The model's probabilities, shape (N,), float64 (computed in float32 by the model)."""
    return np.asarray(model.predict(x, batch_size=512, verbose=0), dtype=np.float64)[:, 0]


def motif_conv_spec(model):
    """The motif conv as k2p-keras sees it (kernel (L, 4, F), bias, activation)."""
    return find_motif_conv_in_model(model, layer=CONV_NAME)


def dense_weights(model):
    """The output layer's weights ``(F,)`` and bias, float64."""
    kernel, bias = model.get_layer(DENSE_NAME).get_weights()
    return np.asarray(kernel, dtype=np.float64)[:, 0], float(bias[0])
