"""Build look-alikes of Keras genomics models as people publish them.

    python tests/wild_models/make_published_like.py OUT_DIR [NAME ...]

Small versions (a few filters, 100 bp) of the shapes the issue lists, each saved by the Keras
that writes its format, trained for a few epochs on :func:`planted_sequences` so that the
filters are not random:

=====================  ===========  =============================================================
name                   writer       shape
=====================  ===========  =============================================================
``avgpool_then_gmp``   tf_keras     Conv1D(relu) -> AveragePooling1D(4) -> GlobalMaxPooling1D
                                    -> Dense (``.h5``)
``basset_atcg``        Keras 3      Sequential, [Conv1D(same, relu) -> BatchNormalization ->
                                    MaxPooling1D(3) -> Dropout] x 3 -> Flatten -> Dense, trained
                                    on one-hot channels in the order **A, T, C, G** (``.keras``)
``conv2d_gap``         tf_keras     Conv2D((4, k), relu) on (4, L, 1) -> GlobalAveragePooling2D
                                    -> Dense (``.h5``)
``two_inputs``         Keras 3      one-hot (L, 4) + 6 features: Conv1D(same, relu) ->
                                    MaxPooling1D(10) -> Conv1D -> MaxPooling1D -> Flatten,
                                    concatenated with the features -> Dense (``.keras``)
``json_weights``       tf_keras     ``model.to_json()`` + ``model.save_weights(...h5)`` of the
                                    DeepLIFT-like network: Conv1D -> ReLU -> Conv1D -> ReLU ->
                                    AveragePooling1D -> Flatten -> Dense -> ... (2 outputs)
``keras1_tf``          json + h5py  the same network, trained weights, as a Keras 1.2.0 whole
                                    model: Convolution2D(nb_row=4) ``dim_ordering='tf'`` on
                                    (4, L, 1), kernels (4, k, 1, F), not flipped
``keras1_th``          json + h5py  the same network as Keras 1.2.1 JSON + ``save_weights``:
                                    Convolution2D ``dim_ordering='th'`` on (1, 4, L), kernels
                                    (F, 1, 4, k) flipped on both axes as Theano stores them
=====================  ===========  =============================================================

Keras 1 cannot be installed here: its two files are written with ``json`` and ``h5py`` to
the layout of the real Keras 1.2 files in ``../shared/data/published/deeplift_sim`` (attribute
names and string types, ``layer_names`` / ``weight_names``, weight names ``convolution2d_1_W``
without ``:0``, layer config keys and their order). Their weights are those of
``json_weights``, so the truth is known: ``deeplift_like_truth.npz`` holds its first conv's
cross-correlation kernel ``(k, 4, F)`` (A, C, G, T) and bias, which all three serialisations
must give back.

The sequences are written too: ``published_seqs.npy`` (uint8 one-hot, A C G T order),
``published_seqs_atcg.npy`` (the same in the A T C G order ``basset_atcg`` was trained on),
``published_seqs.fa``, ``published_features.npy`` (the 6 features of ``two_inputs``) and
``published_labels.npy`` (which sequences carry which planted motif).

All of them take a minute or so (65 to 81 s on two busy cores; most of it TensorFlow's start
and the training); one model alone, 30 to 55 s.
"""

import functools
import json
import os
import sys

import h5py
import numpy as np

LENGTH, N_SEQUENCES, N_FEATURES = 100, 200, 6
# An SP1-like G-run motif (read in the wrong channel order it turns into T-runs) and AP-1.
MOTIFS = {"sp1": "GGGGCGGGG", "ap1": "TGACTCA"}
ATCG = [0, 3, 1, 2]  # canonical A C G T columns in the order A T C G
EPOCHS = 15


def planted_sequences(n=N_SEQUENCES, length=LENGTH, seed=0):
    """One-hot ``(n, length, 4)`` uint8 A C G T sequences and labels ``(n, 2)`` (sp1, ap1).

    Every other sequence carries GGGGCGGGG; an independent half carries TGACTCA; both at
    random places that do not overlap.
    """
    rng = np.random.default_rng(seed)
    letters = rng.integers(0, 4, size=(n, length))
    labels = np.zeros((n, 2), dtype=np.float32)
    labels[::2, 0] = 1
    labels[rng.permutation(n)[: n // 2], 1] = 1
    sites = [np.array(["ACGT".index(c) for c in MOTIFS[m]]) for m in ("sp1", "ap1")]
    for s in range(n):
        taken = np.zeros(length, dtype=bool)
        for k, site in enumerate(sites):
            if not labels[s, k]:
                continue
            while True:
                start = int(rng.integers(0, length - len(site) + 1))
                if not taken[start:start + len(site)].any():
                    break
            taken[start:start + len(site)] = True
            letters[s, start:start + len(site)] = site
    return np.eye(4, dtype=np.uint8)[letters], labels


def features(labels, seed=1):
    """Six per-sequence features (like mRNA half-life features): noise, the first one mildly informative."""
    rng = np.random.default_rng(seed)
    out = rng.normal(size=(len(labels), N_FEATURES)).astype(np.float32)
    out[:, 0] += labels[:, 0]
    return out


def write_fasta(path, x, labels):
    with open(path, "w") as out:
        for s, (row, label) in enumerate(zip(x, labels)):
            out.write(f">seq_{s:03d} sp1={int(label[0])} ap1={int(label[1])}\n")
            out.write("".join("ACGT"[i] for i in row.argmax(axis=1)) + "\n")


def _train(keras, model, x, y, epochs=EPOCHS):
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def _save_without_optimizer(keras, model, path):
    """Keras 3 saves the optimizer's state with the model; a copy that was never compiled has none
    (the files stay small enough to commit)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.save(path)


def _fresh(keras, seed):
    """Reset the layer name counters (so a model's auto names do not depend on what was built
    before it in the process) and the random seeds."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def _data():
    x, labels = planted_sequences()
    return x.astype(np.float32), labels


# ------------------------------------------------------------------ tf_keras (Keras 2)

def avgpool_then_gmp(folder):
    """Conv1D(relu) -> AveragePooling1D(4) -> GlobalMaxPooling1D -> Dense (as in a Keras 2.2 -tf model)."""
    import tf_keras

    _fresh(tf_keras, 3)
    layers = tf_keras.layers
    x, labels = _data()
    model = tf_keras.Sequential([tf_keras.Input((LENGTH, 4)),
                                 layers.Conv1D(4, 9, activation="relu", name="motif_conv"),
                                 layers.AveragePooling1D(4), layers.GlobalMaxPooling1D(),
                                 layers.Dense(1, activation="sigmoid")])
    _train(tf_keras, model, x, labels[:, 0])
    path = os.path.join(folder, "avgpool_then_gmp.h5")
    model.save(path, include_optimizer=False)
    return [path]


def conv2d_gap(folder):
    """Conv2D((4, k), relu) on a (4, L, 1) image -> GlobalAveragePooling2D -> Dense."""
    import tf_keras

    _fresh(tf_keras, 4)
    layers = tf_keras.layers
    x, labels = _data()
    model = tf_keras.Sequential([tf_keras.Input((4, LENGTH, 1)),
                                 layers.Conv2D(3, (4, 9), activation="relu", name="motif_conv"),
                                 layers.GlobalAveragePooling2D(), layers.Dense(1, activation="sigmoid")])
    _train(tf_keras, model, x.transpose(0, 2, 1)[:, :, :, None], labels[:, 0])
    path = os.path.join(folder, "conv2d_gap.h5")
    model.save(path, include_optimizer=False)
    return [path]


# The DeepLIFT-like network of json_weights, keras1_tf and keras1_th (one set of weights).
DL_FILTERS, DL_WIDTH, DL_FILTERS2, DL_HIDDEN = 4, 9, 4, 8


@functools.lru_cache(maxsize=None)
def deeplift_like():
    """The trained tf_keras network, named as Keras 2.1 named it: Conv1D -> ReLU -> Conv1D -> ReLU
    -> AveragePooling1D (over every position) -> Flatten -> Dense -> ReLU -> Dropout -> Dense
    -> sigmoid, two outputs (one per planted motif)."""
    import tf_keras

    _fresh(tf_keras, 7)
    layers = tf_keras.layers
    x, labels = _data()
    pooled = LENGTH - 2 * (DL_WIDTH - 1)
    model = tf_keras.Sequential([
        tf_keras.Input((LENGTH, 4)),
        layers.Conv1D(DL_FILTERS, DL_WIDTH, name="conv1d_1"), layers.Activation("relu", name="activation_1"),
        layers.Conv1D(DL_FILTERS2, DL_WIDTH, name="conv1d_2"), layers.Activation("relu", name="activation_2"),
        layers.AveragePooling1D(pooled, name="average_pooling1d_1"), layers.Flatten(name="flatten_1"),
        layers.Dense(DL_HIDDEN, name="dense_1"), layers.Activation("relu", name="activation_3"),
        layers.Dropout(0.5, name="dropout_1"), layers.Dense(2, name="dense_2"),
        layers.Activation("sigmoid", name="activation_4")])
    return _train(tf_keras, model, x, labels, epochs=2 * EPOCHS)


def _deeplift_weights():
    """name -> [kernel, bias] of the trained network, float32."""
    model = deeplift_like()
    return {name: [np.asarray(w, np.float32) for w in model.get_layer(name).get_weights()]
            for name in ("conv1d_1", "conv1d_2", "dense_1", "dense_2")}


def json_weights(folder):
    """Architecture JSON (``to_json()``) + ``save_weights`` HDF5, the pair kipoi and DeepLIFT ship."""
    model = deeplift_like()
    json_path = os.path.join(folder, "json_weights.json")
    weights_path = os.path.join(folder, "json_weights_weights.h5")
    with open(json_path, "w") as out:
        out.write(model.to_json())
    model.save_weights(weights_path)
    return [json_path, weights_path, _write_truth(folder)]


def _write_truth(folder):
    """The first conv's kernel (k, 4, F) and bias, as the writer's Keras holds them (float64)."""
    path = os.path.join(folder, "deeplift_like_truth.npz")
    kernel, bias = _deeplift_weights()["conv1d_1"]
    np.savez(path, kernel=kernel.astype(np.float64), bias=bias.astype(np.float64))
    return path


# ------------------------------------------------------------------ Keras 3

def basset_atcg(folder):
    """Basset-like Sequential on one-hot channels in the order A, T, C, G."""
    import keras

    _fresh(keras, 11)  # a seed whose first conv has a G-run filter (GGCGGTGGG)
    layers = keras.layers
    x, labels = _data()
    blocks = []
    for i, (filters, width) in enumerate([(4, 9), (4, 5), (4, 3)]):
        blocks += [layers.Conv1D(filters, width, padding="same", activation="relu",
                                 name="motif_conv" if i == 0 else None),
                   layers.BatchNormalization(), layers.MaxPooling1D(3), layers.Dropout(0.2)]
    model = keras.Sequential([keras.Input((LENGTH, 4))] + blocks
                             + [layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    _train(keras, model, x[:, :, ATCG], labels[:, 0])
    gamma = model.layers[1].get_weights()[0]
    if not np.all(gamma > 0):  # the first BatchNormalization must be a non-decreasing map
        raise RuntimeError(f"basset_atcg: a BatchNormalization scale is not positive ({gamma})")
    path = os.path.join(folder, "basset_atcg.keras")
    _save_without_optimizer(keras, model, path)
    return [path]


def two_inputs(folder):
    """One-hot sequence + 6 features: Conv1D(same) -> MaxPooling1D(10) -> Conv1D -> MaxPooling1D -> ...
    the sequence branch concatenated with the features before the dense layers."""
    import keras

    _fresh(keras, 6)
    layers = keras.layers
    x, labels = _data()
    sequence = keras.Input((LENGTH, 4), name="promoter")
    extra = keras.Input((N_FEATURES,), name="features")
    h = layers.Conv1D(4, 6, padding="same", activation="relu", name="motif_conv")(sequence)
    h = layers.MaxPooling1D(10)(h)
    h = layers.Conv1D(4, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling1D(5)(h)
    h = layers.Concatenate()([layers.Flatten()(h), extra])
    h = layers.Dropout(0.2)(layers.Dense(8, activation="relu")(h))
    model = keras.Model([sequence, extra], layers.Dense(1, activation="sigmoid")(h))
    _train(keras, model, [x, features(labels)], labels[:, 0])
    path = os.path.join(folder, "two_inputs.keras")
    _save_without_optimizer(keras, model, path)
    return [path]


# ------------------------------------------------------------------ Keras 1, written by hand
# Layer configs as Keras 1.2 wrote them, key for key and in the real files' order
# (../shared/data/published/deeplift_sim: 1.2.0 in a whole model's model_config, 1.2.1 in JSON).

def _k1_conv(name, dim_ordering, nb_filter, nb_row, nb_col, batch_input_shape=None):
    if batch_input_shape is not None:  # the first layer
        return {"b_regularizer": None, "W_constraint": None, "b_constraint": None, "name": name,
                "activity_regularizer": None, "trainable": True, "dim_ordering": dim_ordering,
                "nb_col": nb_col, "subsample": [1, 1], "init": "glorot_uniform", "bias": True,
                "nb_filter": nb_filter, "input_dtype": "float32", "border_mode": "valid",
                "batch_input_shape": batch_input_shape, "W_regularizer": None, "activation": "linear",
                "nb_row": nb_row}
    return {"W_constraint": None, "b_constraint": None, "name": name, "activity_regularizer": None,
            "trainable": True, "dim_ordering": dim_ordering, "nb_col": nb_col, "subsample": [1, 1],
            "init": "glorot_uniform", "bias": True, "nb_filter": nb_filter, "border_mode": "valid",
            "b_regularizer": None, "W_regularizer": None, "activation": "linear", "nb_row": nb_row}


def _k1_dense(name, input_dim, output_dim, whole_model):
    if whole_model:  # 1.2.0's model_config: input_dtype and batch_input_shape too
        return {"W_constraint": None, "b_constraint": None, "name": name, "output_dim": output_dim,
                "activity_regularizer": None, "trainable": True, "init": "glorot_uniform", "bias": True,
                "input_dtype": "float32", "input_dim": input_dim, "b_regularizer": None,
                "W_regularizer": None, "activation": "linear", "batch_input_shape": [None, input_dim]}
    return {"W_constraint": None, "b_constraint": None, "name": name, "activity_regularizer": None,
            "trainable": True, "init": "glorot_uniform", "bias": True, "input_dim": input_dim,
            "b_regularizer": None, "W_regularizer": None, "activation": "linear", "output_dim": output_dim}


def _k1_activation(name, activation):
    return {"class_name": "Activation", "config": {"activation": activation, "trainable": True, "name": name}}


def keras1_config(dim_ordering, whole_model):
    """The Keras 1.2 Sequential config of the DeepLIFT-like network."""
    shape = [None, 4, LENGTH, 1] if dim_ordering == "tf" else [None, 1, 4, LENGTH]
    pooled = LENGTH - 2 * (DL_WIDTH - 1)
    layers = [
        {"class_name": "Convolution2D",
         "config": _k1_conv("convolution2d_1", dim_ordering, DL_FILTERS, 4, DL_WIDTH, shape)},
        _k1_activation("activation_1", "relu"),
        {"class_name": "Convolution2D",
         "config": _k1_conv("convolution2d_2", dim_ordering, DL_FILTERS2, 1, DL_WIDTH)},
        _k1_activation("activation_2", "relu"),
        {"class_name": "AveragePooling2D",
         "config": {"name": "averagepooling2d_1", "trainable": True, "dim_ordering": dim_ordering,
                    "pool_size": [1, pooled], "strides": [1, 1], "border_mode": "valid"}},
        {"class_name": "Flatten", "config": {"trainable": True, "name": "flatten_1"}},
        {"class_name": "Dense", "config": _k1_dense("dense_1", DL_FILTERS2, DL_HIDDEN, whole_model)},
        _k1_activation("activation_3", "relu"),
        {"class_name": "Dropout", "config": {"p": 0.5, "trainable": True, "name": "dropout_1"}},
        {"class_name": "Dense", "config": _k1_dense("dense_2", DL_HIDDEN, 2, whole_model)},
        _k1_activation("activation_4", "sigmoid"),
    ]
    if whole_model:
        return {"class_name": "Sequential", "config": layers}
    return {"class_name": "Sequential", "keras_version": "1.2.1", "config": layers}


def keras1_weights(dim_ordering):
    """``[(layer name, [(weight name, array)])]`` in Keras 1's layouts.

    Convolution2D's W is ``(nb_row, nb_col, stack, nb_filter)`` with ``'tf'`` and
    ``(nb_filter, stack, nb_row, nb_col)`` with ``'th'``; Theano's conv2d is a true
    convolution, so a ``'th'`` kernel is stored flipped along both nb_row and nb_col.
    """
    weights = _deeplift_weights()
    kernel1, bias1 = weights["conv1d_1"]  # (k, 4, F): the cross-correlation truth
    kernel2, bias2 = weights["conv1d_2"]  # (k, F, F2)
    tf1 = kernel1.transpose(1, 0, 2)[:, :, None, :]  # (4, k, 1, F): rows are the bases
    tf2 = kernel2[None]  # (1, k, F, F2)
    if dim_ordering == "tf":
        w1, w2 = tf1, tf2
    else:
        w1 = tf1.transpose(3, 2, 0, 1)[:, :, ::-1, ::-1]  # (F, 1, 4, k), flipped
        w2 = tf2.transpose(3, 2, 0, 1)[:, :, ::-1, ::-1]  # (F2, F, 1, k), flipped
    named = {"convolution2d_1": [w1, bias1], "convolution2d_2": [w2, bias2],
             "dense_1": weights["dense_1"], "dense_2": weights["dense_2"]}
    order = ["convolution2d_1", "activation_1", "convolution2d_2", "activation_2", "averagepooling2d_1",
             "flatten_1", "dense_1", "activation_3", "dropout_1", "dense_2", "activation_4"]
    return [(name, [(f"{name}_{suffix}", np.ascontiguousarray(array, dtype=np.float32))
                    for suffix, array in zip("Wb", named.get(name, []))]) for name in order]


def _ascii(group, name, text):
    """A scalar variable-length ASCII string attribute, as h5py wrote Python 2 ``str``."""
    group.attrs.create(name, text, dtype=h5py.string_dtype("ascii"))


def _fixed(names):
    """Fixed-length byte strings (``|S<longest>``), as Keras 1 wrote ``layer_names`` / ``weight_names``."""
    return np.array([name.encode("utf8") for name in names])


def _write_keras1_layers(group, layers):
    group.attrs["layer_names"] = _fixed(name for name, _ in layers)
    for name, weights in layers:
        layer = group.create_group(name)
        # An empty list is stored as an empty float64 array, as in the real files.
        layer.attrs["weight_names"] = _fixed(w for w, _ in weights) if weights else np.array([])
        for weight_name, array in weights:
            layer.create_dataset(weight_name, data=array)


def keras1_tf(folder):
    """Keras 1.2.0 ``model.save``: model_config + model_weights, Convolution2D ``dim_ordering='tf'``."""
    path = os.path.join(folder, "keras1_tf.h5")
    with h5py.File(path, "w") as h5:
        _ascii(h5, "keras_version", "1.2.0")
        _ascii(h5, "model_config", json.dumps(keras1_config("tf", whole_model=True)))
        _write_keras1_layers(h5.create_group("model_weights"), keras1_weights("tf"))
    return [path, _write_truth(folder)]


def keras1_th(folder):
    """Keras 1.2.1 ``to_json()`` + ``save_weights``: Convolution2D ``dim_ordering='th'``, Theano's flipped kernels."""
    json_path = os.path.join(folder, "keras1_th.json")
    with open(json_path, "w") as out:
        out.write(json.dumps(keras1_config("th", whole_model=False)))  # one line, no newline
    path = os.path.join(folder, "keras1_th_weights.h5")
    with h5py.File(path, "w") as h5:
        _write_keras1_layers(h5, keras1_weights("th"))
    return [json_path, path, _write_truth(folder)]


# name -> builder(folder) returning the paths it wrote
MODELS = {
    "avgpool_then_gmp": avgpool_then_gmp,
    "basset_atcg": basset_atcg,
    "conv2d_gap": conv2d_gap,
    "two_inputs": two_inputs,
    "json_weights": json_weights,
    "keras1_tf": keras1_tf,
    "keras1_th": keras1_th,
}


def write_sequences(folder):
    x, labels = planted_sequences()
    paths = [os.path.join(folder, name) for name in
             ("published_seqs.npy", "published_seqs_atcg.npy", "published_seqs.fa", "published_features.npy",
              "published_labels.npy")]
    np.save(paths[0], x)
    np.save(paths[1], x[:, :, ATCG])
    write_fasta(paths[2], x, labels)
    np.save(paths[3], features(labels))
    np.save(paths[4], labels)
    return paths


def main(folder, names=None):
    names = list(names or MODELS)
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; expected some of {', '.join(MODELS)}")
    os.makedirs(folder, exist_ok=True)
    for path in write_sequences(folder):
        print(path)
    for name in names:
        for path in MODELS[name](folder):
            print(path)  # the truth file may print more than once


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "published_like", sys.argv[2:])
