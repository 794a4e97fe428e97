"""The PWM sets compared: every base estimator of k2p-keras, our heuristic, and Koo's.

Each set is made by :func:`k2p_keras.extract` with one :class:`~k2p_keras.options.Options`
variant, from the test set's sequences; only Koo's heuristic (the benchmark's baseline) is
computed here, as the paper describes it. A new estimator of the library is one line of
:data:`ESTIMATORS`.
"""
import warnings

import numpy as np

from k2p_keras import extract
from k2p_keras.errors import K2PError
from k2p_keras.io.meme import Motif
from k2p_keras.motifs.sites import DEFAULT_SITES, SITES

# key -> extract()'s options. The exact sets: the default (one base shared by the filters, the
# MLE on strong sites), one base per filter, the other site rules, and fixed bases.
ESTIMATORS = {
    "default": {},
    "per_filter": {"base_estimator": "per-filter"},
    "shrunk": {"base_estimator": "shrunk"},
    **{f"sites_{s}": {"sites": s} for s in SITES if s != DEFAULT_SITES},
    **{f"base_{b}": {"base": b} for b in (2, 8, 50)},
}
# Our heuristics (DeepBind's threshold, the library's default; Basset's half of the maximum).
HEURISTICS = {
    "heuristic": {"method": "heuristic"},
    "heuristic_half": {"method": "heuristic", "threshold_fraction": 0.5},
}
KOO = "koo"
SET_NAMES = tuple(ESTIMATORS) + tuple(HEURISTICS) + (KOO,)
SET_LABELS = {
    "default": "shared MLE, strong sites (default)",
    "per_filter": "per-filter MLE, strong sites",
    "shrunk": "per-filter MLE shrunk toward the shared one, strong sites",
    "heuristic": "our heuristic (DeepBind: best window > 0)",
    "heuristic_half": "our heuristic, threshold half the max (Basset)",
    KOO: "Koo's heuristic (windows > half the max, averaged)",
}
KOO_FRACTION = 0.5


def set_label(name):
    if name in SET_LABELS:
        return SET_LABELS[name]
    if name.startswith("sites_"):
        return f"shared MLE, sites {name[6:]}"
    if name.startswith("base_"):
        return f"fixed base {name[5:]}"
    return name


def library_set(model_path, x, name):
    """One set's PWMs (F, L, 4) from :func:`extract`; None when the library refuses the options for
    this model (e.g. per-block sites where the model picks no window), with the reason."""
    options = {**ESTIMATORS, **HEURISTICS}[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = extract(str(model_path), x, labels=False, **options)
    except K2PError as err:
        return None, str(err)
    motif_set = result.sets[0]
    return np.stack([m.pwm for m in motif_set.motifs()]), ""


def koo_activations(model, x, layer_index, batch_size=500):
    """The first layer's activations after its ReLU, (N, positions, F), float32."""
    import keras

    sub = keras.Model(model.inputs, model.layers[layer_index].output)
    return np.concatenate([np.asarray(sub(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def koo_pwms(activations, x, kernel_length, fraction=KOO_FRACTION):
    """Koo & Eddy's filter PWMs: every position (any sequence) whose activation exceeds
    ``fraction`` of the filter's largest activation; the one-hot windows of ``kernel_length``
    centred there (zero beyond the ends) averaged, each column then normalised over its letters
    (a column that only ever saw padding is uniform). A filter never active: uniform."""
    n, positions, n_filters = activations.shape
    left = (kernel_length - 1) // 2  # 'same' padding: output i reads inputs i - left ..
    padded = np.zeros((n, x.shape[1] + kernel_length - 1, 4), dtype=np.float32)
    padded[:, left:left + x.shape[1]] = x
    offsets = np.arange(kernel_length)
    pwms = np.full((n_filters, kernel_length, 4), 0.25)
    for f in range(n_filters):
        top = activations[:, :, f].max()
        if top <= 0:
            continue
        seqs, pos = np.nonzero(activations[:, :, f] > fraction * top)
        counts = np.zeros((kernel_length, 4))
        for start in range(0, len(seqs), 20000):  # bounded memory on very active filters
            s, p = seqs[start:start + 20000], pos[start:start + 20000]
            counts += padded[s[:, None], p[:, None] + offsets[None, :]].sum(axis=0)
        totals = counts.sum(axis=1, keepdims=True)
        pwms[f] = np.where(totals > 0, counts / np.maximum(totals, 1e-300), 0.25)
    return pwms


def koo_set(model_path, x, conv_name):
    """Koo's heuristic PWMs of the model's first conv (the ReLU after it located in the model)."""
    import keras

    model = keras.models.load_model(str(model_path), compile=False)
    names = [layer.name for layer in model.layers]
    conv = names.index(conv_name)
    relu = next(i for i in range(conv, len(names))
                if getattr(model.layers[i], "activation", None) is keras.activations.relu
                or type(model.layers[i]).__name__ == "ReLU")
    activations = koo_activations(model, x, relu)
    kernel_length = model.layers[conv].kernel_size[0]
    return koo_pwms(activations, x, kernel_length)


def as_motifs(pwms, prefix="filter"):
    return [Motif(name=f"{prefix}_{i}", pwm=np.asarray(p, dtype=np.float64)) for i, p in enumerate(pwms)]
