"""The simulated data of Koo & Eddy (2019), rebuilt from the paper's description.

Twelve JASPAR CORE 2016 motifs and their reverse complements are planted in "grammars" of 1-5
motifs on a uniform background: each sequence draws k motifs (with replacement, either strand),
splits the remaining length into k + 1 random gaps and samples every position from its column.
The label of a sequence is the set of motifs it carries (12 binary columns, either strand).
Everything follows from one seed; the arrays are cached (they are 25,000 x 200 x 4).
"""
import pathlib
import zipfile

import numpy as np

from k2p_keras.errors import K2PError
from k2p_keras.io.meme import read_meme

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DB = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"  # CC BY 4.0, see its README

# The planted motifs (JASPAR 2016's name) and, per motif, every JASPAR ID that counts as a hit
# on it: the paper's lists, except that MEF2B (MA0660.1) and MEF2D (MA0773.1), which the notes
# list under STAT1, are MEF2 factors: a filter hitting them learned MEF2A, so they count there.
PLANTED = {
    "Arid3a": ("MA0151.1", "MA0601.1", "PB0001.1"),
    "CEBPB": ("MA0466.1", "MA0466.2"),
    "FOSL1": ("MA0477.1",),
    "Gabpa": ("MA0062.1", "MA0062.2"),
    "MAFK": ("MA0496.1", "MA0496.2"),
    "MAX": ("MA0058.1", "MA0058.2", "MA0058.3"),
    "MEF2A": ("MA0052.1", "MA0052.2", "MA0052.3", "MA0660.1", "MA0773.1"),
    "NFYB": ("MA0502.1", "MA0060.1", "MA0060.2"),
    "SP1": ("MA0079.1", "MA0079.2", "MA0079.3"),
    "SRF": ("MA0083.1", "MA0083.2", "MA0083.3"),
    "STAT1": ("MA0137.1", "MA0137.2", "MA0137.3"),
    "YY1": ("MA0095.1", "MA0095.2"),
}
MOTIF_NAMES = tuple(PLANTED)
# How many motifs a grammar holds (1..5), as in the paper.
N_MOTIF_PROBS = (0.5, 0.25, 0.17, 0.05, 0.03)
SPLIT = (0.7, 0.1, 0.2)


def planted_motifs(db=DEFAULT_DB):
    """The 12 planted motifs (MemeMotif, by their JASPAR name in ``db``), in MOTIF_NAMES order."""
    by_alt = {}
    for motif in read_meme(db).motifs:
        by_alt.setdefault(motif.alt_name, motif)
    missing = [name for name in MOTIF_NAMES if name not in by_alt]
    if missing:
        raise K2PError(f"{db}: no motif named {', '.join(missing)} (expected JASPAR CORE 2016)")
    return [by_alt[name] for name in MOTIF_NAMES]


def id_to_planted():
    """JASPAR ID -> planted motif name, for every ID that counts as a hit on a planted motif."""
    return {jid: name for name, ids in PLANTED.items() for jid in ids}


def simulate(pwms, n_sequences, length, rng):
    """One-hot uint8 ``(N, length, 4)`` and labels ``(N, len(pwms))``; ``pwms``: (w, 4) arrays."""
    # Plant a PWM or its reverse complement (the matrix reversed, A<->T, C<->G in ACGT order).
    stranded = [(i, np.asarray(p, float)) for i, p in enumerate(pwms)]
    stranded += [(i, np.asarray(p, float)[::-1, ::-1]) for i, p in enumerate(pwms)]
    probs = np.full((n_sequences, length, 4), 0.25)
    labels = np.zeros((n_sequences, len(pwms)), dtype=np.uint8)
    counts = rng.choice(np.arange(1, 6), size=n_sequences, p=N_MOTIF_PROBS)
    for s, k in enumerate(counts):
        chosen = [stranded[j] for j in rng.integers(0, len(stranded), size=k)]
        free = length - sum(p.shape[0] for _, p in chosen)
        if free < 0:
            raise K2PError(f"sequence length {length} is too short for {k} motifs")
        cuts = np.sort(rng.integers(0, free + 1, size=k))
        gaps = np.diff(np.concatenate([[0], cuts]))  # the k gaps before each motif; the rest trails
        at = 0
        for gap, (label, pwm) in zip(gaps, chosen):
            at += gap
            probs[s, at:at + pwm.shape[0]] = pwm
            at += pwm.shape[0]
            labels[s, label] = 1
    # Sample every position at once from its column's cumulative probabilities.
    draws = rng.random((n_sequences, length, 1))
    letters = (draws > np.cumsum(probs, axis=2)[:, :, :3]).sum(axis=2)
    onehot = np.zeros((n_sequences, length, 4), dtype=np.uint8)
    np.put_along_axis(onehot, letters[:, :, None], 1, axis=2)
    return onehot, labels


class Data:
    """The train / validation / test splits (one-hot float32 on access, labels float32)."""

    def __init__(self, arrays):
        self.arrays = arrays

    def x(self, split):
        return self.arrays[f"x_{split}"].astype(np.float32)

    def y(self, split):
        return self.arrays[f"y_{split}"].astype(np.float32)


def data_path(cache, seed, n_sequences, length):
    return pathlib.Path(cache) / f"data_seed{seed}_n{n_sequences}_L{length}.npz"


def build_data(seed, n_sequences, length, db=DEFAULT_DB):
    """Simulate and split (70/10/20, a random permutation from the same seed)."""
    rng = np.random.default_rng(int(seed))
    x, y = simulate([m.pwm for m in planted_motifs(db)], n_sequences, length, rng)
    order = rng.permutation(n_sequences)
    n_train, n_valid = int(SPLIT[0] * n_sequences), int(SPLIT[1] * n_sequences)
    parts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid],
             "test": order[n_train + n_valid:]}
    arrays = {}
    for split, idx in parts.items():
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[idx], y[idx]
    return arrays


def load_data(cache, seed, n_sequences, length, db=DEFAULT_DB):
    """The cached data, simulated and saved (temp file, then rename) when missing or unreadable."""
    path = data_path(cache, seed, n_sequences, length)
    if path.exists():
        try:
            with np.load(path) as stored:
                return Data({key: stored[key] for key in stored.files})
        except (OSError, ValueError, zipfile.BadZipFile):
            pass  # a partial file from an interrupted run: rebuild it
    arrays = build_data(seed, n_sequences, length, db)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return Data(arrays)
