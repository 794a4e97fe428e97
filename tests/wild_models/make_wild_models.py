"""Build the model files of docs/models-in-the-wild.md, each saved by the Keras that writes its format.

    python tests/wild_models/make_wild_models.py OUT_DIR [MODEL ...]

Keras 3 writes the ``.keras`` zips, model folders and Keras 3 ``.h5`` files; tf_keras (Keras 2,
``pip install tf_keras``) writes the Keras 2 files. Every model is trained for two short epochs
on :func:`planted_sequences`, so that its filters are not random. ``tests/test_wild_models.py``
builds them into a temporary folder (a few seconds each) and checks every row of the table.
"""

import os
import sys

import numpy as np

LENGTH, FILTERS, WIDTH = 40, 3, 5


def planted_sequences(n=160, length=LENGTH, seed=0):
    """One-hot ``(n, length, 4)`` sequences, every other one with a planted TGACTCA."""
    rng = np.random.default_rng(seed)
    letters = rng.integers(0, 4, size=(n, length))
    site = np.array(["ACGT".index(c) for c in "TGACTCA"])
    for s in range(0, n, 2):
        start = rng.integers(0, length - len(site))
        letters[s, start:start + len(site)] = site
    return np.eye(4, dtype=np.float32)[letters]


def layout_of(x, shape):
    """Canonical (N, L, 4) sequences in a model's input layout (one of the Conv2D ones)."""
    if len(shape) == 2:
        return x
    if shape[0] == 4 and shape[1] == 1:
        return x.transpose(0, 2, 1)[:, :, None, :]
    if shape[0] == 4:
        return x.transpose(0, 2, 1)[:, :, :, None]
    return x[:, None]


def _train(keras, model, x):
    y = np.zeros(len(x), dtype=np.float32)
    y[::2] = 1
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    return model


def _head(keras, h):
    return keras.layers.Dense(1, activation="sigmoid")(h)


# ------------------------------------------------------------------ Keras 3: strand merges

def _strand_model(keras, merge, reverse="flip", pool="global"):
    """One Conv1D on the sequence and on its reverse complement, merged before pooling."""
    from keras import layers, ops

    inputs = keras.Input((LENGTH, 4), name="dna")
    conv = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="shared_conv")
    if reverse == "flip":
        second = ops.flip(inputs, axis=(1, 2))
    elif reverse == "positions_only":
        second = ops.flip(inputs, axis=1)
    else:  # a Lambda, which k2p-keras reads but never runs
        second = layers.Lambda(lambda t: t[:, ::-1, ::-1], name="revcomp")(inputs)
    merged = merge([conv(inputs), conv(second)])
    pooled = layers.GlobalMaxPooling1D()(merged) if pool == "global" else ops.max(merged, axis=1)
    return keras.Model(inputs, _head(keras, pooled))


def strands_maximum_flip(keras):
    return _strand_model(keras, keras.layers.Maximum())


def strands_maximum_lambda(keras):
    return _strand_model(keras, keras.layers.Maximum(), reverse="lambda")


def strands_concatenate_positions_ops_max(keras):
    return _strand_model(keras, keras.layers.Concatenate(axis=1), pool="ops.max")


def strands_add(keras):
    return _strand_model(keras, keras.layers.Add())


def strands_average(keras):
    return _strand_model(keras, keras.layers.Average())


def strands_concatenate_filters(keras):
    return _strand_model(keras, keras.layers.Concatenate(axis=-1))


def strands_reverse_without_complement(keras):
    return _strand_model(keras, keras.layers.Maximum(), reverse="positions_only")


# ------------------------------------------------------------------ Keras 3: layers and ops

def ops_max_pool(keras):
    """A global max over positions written as ``keras.ops.max`` in a functional model."""
    from keras import layers, ops

    inputs = keras.Input((LENGTH, 4), name="dna")
    h = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv")(inputs)
    return keras.Model(inputs, _head(keras, ops.max(h, axis=1)))


def ops_max_over_filters(keras):
    from keras import layers, ops

    inputs = keras.Input((LENGTH, 4), name="dna")
    h = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv")(inputs)
    return keras.Model(inputs, _head(keras, ops.max(h, axis=-1)))


def relu_layer_parameters(keras):
    """ReLU(max_value, threshold, negative_slope) after a linear Conv1D."""
    from keras import layers

    return keras.Sequential([keras.Input((LENGTH, 4)),
                             layers.Conv1D(FILTERS, WIDTH, name="motif_conv"),
                             layers.ReLU(max_value=4.0, threshold=0.5, negative_slope=0.1),
                             layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])


def basset_like(keras):
    """Basset's first block: conv -> BatchNorm -> ReLU -> MaxPooling1D(3) -> more convs."""
    from keras import layers

    return keras.Sequential([keras.Input((LENGTH, 4)),
                             layers.Conv1D(FILTERS, WIDTH, name="motif_conv"),
                             layers.BatchNormalization(), layers.ReLU(),
                             layers.MaxPooling1D(3), layers.Conv1D(4, 3, activation="relu"),
                             layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])


def danq_like(keras):
    """DanQ: conv -> MaxPooling1D -> BiLSTM -> dense."""
    from keras import layers

    return keras.Sequential([keras.Input((LENGTH, 4)),
                             layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
                             layers.MaxPooling1D(4), layers.Bidirectional(layers.LSTM(4)),
                             layers.Dense(1, activation="sigmoid")])


# ------------------------------------------------------------------ Keras 3: Conv2D on one-hot DNA

def conv2d_keras_genomics(keras):
    """keras-genomics: input (4, 1, L) channels_first, kernel (1, k), GlobalMaxPooling2D."""
    from keras import layers

    return keras.Sequential([keras.Input((4, 1, LENGTH)),
                             layers.Conv2D(FILTERS, (1, WIDTH), activation="relu",
                                           data_format="channels_first", name="motif_conv"),
                             layers.GlobalMaxPooling2D(data_format="channels_first"),
                             layers.Dense(1, activation="sigmoid")])


def conv2d_image(keras):
    """Image style: input (4, L, 1) channels_last, kernel (4, k), valid padding."""
    from keras import layers

    return keras.Sequential([keras.Input((4, LENGTH, 1)),
                             layers.Conv2D(FILTERS, (4, WIDTH), activation="relu", name="motif_conv"),
                             layers.GlobalMaxPooling2D(), layers.Dense(1, activation="sigmoid")])


def conv2d_row(keras):
    """Input (1, L, 4) channels_last, kernel (1, k), same padding."""
    from keras import layers

    return keras.Sequential([keras.Input((1, LENGTH, 4)),
                             layers.Conv2D(FILTERS, (1, WIDTH), padding="same", name="motif_conv"),
                             layers.BatchNormalization(), layers.ReLU(),
                             layers.GlobalMaxPooling2D(), layers.Dense(1, activation="sigmoid")])


# ------------------------------------------------------------------ tf_keras (Keras 2)

def tf_keras_reverse_reduce_max(tf_keras):
    """tf.keras idioms: ``tf.reverse`` for the reverse complement, ``tf.reduce_max`` to pool."""
    import tensorflow as tf

    layers = tf_keras.layers
    inputs = tf_keras.Input((LENGTH, 4), name="dna")
    conv = layers.Conv1D(FILTERS, WIDTH, activation="relu", name="shared_conv")
    merged = layers.Maximum()([conv(inputs), conv(tf.reverse(inputs, axis=[1, 2]))])
    return tf_keras.Model(inputs, _head(tf_keras, tf.reduce_max(merged, axis=1)))


def tf_keras_plain(tf_keras):
    layers = tf_keras.layers
    return tf_keras.Sequential([tf_keras.Input((LENGTH, 4)),
                                layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
                                layers.GlobalMaxPooling1D(), layers.Dense(1, activation="sigmoid")])


# name -> (builder, writer, file name); writer "keras" is Keras 3, "tf_keras" Keras 2.
MODELS = {
    "strands_maximum_flip": (strands_maximum_flip, "keras", "strands_maximum_flip.keras"),
    "strands_maximum_lambda": (strands_maximum_lambda, "keras", "strands_maximum_lambda.keras"),
    "strands_concatenate_positions_ops_max": (strands_concatenate_positions_ops_max, "keras",
                                              "strands_concatenate_positions_ops_max.keras"),
    "strands_add": (strands_add, "keras", "strands_add.keras"),
    "strands_average": (strands_average, "keras", "strands_average.keras"),
    "strands_concatenate_filters": (strands_concatenate_filters, "keras",
                                    "strands_concatenate_filters.keras"),
    "strands_reverse_without_complement": (strands_reverse_without_complement, "keras",
                                           "strands_reverse_without_complement.keras"),
    "ops_max_pool": (ops_max_pool, "keras", "ops_max_pool.keras"),
    "ops_max_over_filters": (ops_max_over_filters, "keras", "ops_max_over_filters.keras"),
    "relu_layer_parameters": (relu_layer_parameters, "keras", "relu_layer_parameters.h5"),
    "basset_like": (basset_like, "keras", "basset_like.keras"),
    "danq_like": (danq_like, "keras", "danq_like.h5"),
    "keras3_folder": (ops_max_pool, "keras", "keras3_folder"),
    "conv2d_keras_genomics": (conv2d_keras_genomics, "keras", "conv2d_keras_genomics.keras"),
    "conv2d_image": (conv2d_image, "keras", "conv2d_image.keras"),
    "conv2d_row": (conv2d_row, "keras", "conv2d_row.h5"),
    "tf_keras_strands_h5": (tf_keras_reverse_reduce_max, "tf_keras", "tf_keras_strands.h5"),
    "tf_keras_strands_keras": (tf_keras_reverse_reduce_max, "tf_keras", "tf_keras_strands.keras"),
    "tf_keras_plain_keras": (tf_keras_plain, "tf_keras", "tf_keras_plain.keras"),
}


def _writer(name):
    if name == "tf_keras":
        import tf_keras

        return tf_keras
    import keras

    return keras


def build_model(name, folder, x=None, seed=5):
    """Build, train briefly and save one model of :data:`MODELS`; return its path."""
    builder, writer, file_name = MODELS[name]
    keras = _writer(writer)
    keras.utils.set_random_seed(seed)
    x = planted_sequences() if x is None else x
    model = builder(keras)
    if name == "conv2d_keras_genomics":
        # TensorFlow runs no channels-first convolution on a CPU: this one keeps its
        # initial weights, with a bias added so that it is not zero.
        kernel, bias = model.get_layer("motif_conv").get_weights()
        model.get_layer("motif_conv").set_weights([kernel, np.linspace(-0.2, 0.2, len(bias))])
    else:
        shape = model.inputs[0].shape[1:]
        model = _train(keras, model, layout_of(x, tuple(shape)))
    path = os.path.join(folder, file_name)
    if name == "keras3_folder":
        model.save(path, zipped=False)
    else:
        model.save(path)
    return path


def main(folder, names=None):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "seqs.npy"), planted_sequences())
    for name in names or MODELS:
        print(build_model(name, folder))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "wild_models", sys.argv[2:])
