"""Simulated data: uniform random DNA, one site sampled from a motif in every positive.

This is the paper's simulation: positives carry one site drawn from the motif's PWM at a
random position on a random strand; negatives are background only, or (the ``decoy``
variant) carry one site of a different motif, so that any motif at all is not enough:
the classifier must tell the two apart. (In our runs it came out easier, not harder:
model AUROC 0.968 against 0.882, presumably because a decoy site is a second signal,
evidence against, that the model learns too.)
"""
import zlib
from dataclasses import dataclass

import numpy as np

from k2p_keras.errors import K2PError

NEGATIVES = ("random", "decoy")


@dataclass
class Dataset:
    """One motif's simulated train and test splits, one-hot float32 ``(N, length, 4)``.

    Labels are 1 for positives, 0 for negatives; each split is half and half, shuffled.
    ``decoy`` is the motif planted in the negatives (None for background-only negatives).
    """

    motif: object
    decoy: object
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def motif_rng(seed, name):
    """A generator seeded by the run's seed and the motif's name, whatever else is selected."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


def select_motifs(meme_file, names=(), n_motifs=None):
    """The motifs to benchmark: those named (ID or alternative name), else ``n_motifs`` spread
    evenly through the file (so that every family of the database is represented)."""
    if names:
        return [meme_file.get(name) for name in names]
    total = len(meme_file.motifs)
    if n_motifs is None or n_motifs >= total:
        return list(meme_file.motifs)
    if n_motifs < 1:
        raise K2PError(f"--n-motifs must be at least 1, got {n_motifs}")
    picks = np.unique(np.linspace(0, total - 1, n_motifs).round().astype(int))
    return [meme_file.motifs[i] for i in picks]


def choose_decoy(meme_file, motif, rng):
    """A random motif of the file for another factor (different ID and alternative name)."""
    others = [m for m in meme_file.motifs if m.name != motif.name
              and (m.alt_name is None or m.alt_name != motif.alt_name)]
    if not others:
        raise K2PError("the decoy variant needs a second motif in the MEME file")
    return others[int(rng.integers(len(others)))]


def reverse_complement(onehot):
    """Reverse the positions; A C G T -> T G C A reverses the channels."""
    return onehot[..., ::-1, ::-1]


def sample_sites(pwm, n, rng):
    """``n`` one-hot sites ``(n, L, 4)`` whose letters are drawn from the PWM's rows."""
    pwm = np.asarray(pwm, dtype=np.float64)
    # JASPAR rows are rounded: renormalise so the last letter's share is what is left.
    cumulative = np.cumsum(pwm / pwm.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((n, pwm.shape[0]))
    letters = np.minimum((draws[:, :, None] > cumulative[None, :, :]).sum(axis=2), 3)
    return np.eye(4, dtype=np.float32)[letters]


def random_background(n, length, rng):
    """``n`` uniform random one-hot sequences ``(n, length, 4)``."""
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))]


def plant_sites(sequences, pwm, rng):
    """Overwrite one window of every sequence with a site of ``pwm`` (random position and strand)."""
    n, length, _ = sequences.shape
    width = np.shape(pwm)[0]
    if width > length:
        raise K2PError(f"a motif of width {width} does not fit in sequences of length {length}")
    sites = sample_sites(pwm, n, rng)
    minus = rng.random(n) < 0.5
    sites[minus] = reverse_complement(sites[minus])
    starts = rng.integers(0, length - width + 1, size=n)
    rows = starts[:, None] + np.arange(width)[None, :]
    sequences[np.arange(n)[:, None], rows] = sites
    return sequences


def _split(n, length, motif, decoy, rng):
    n_pos = n // 2
    positives = plant_sites(random_background(n_pos, length, rng), motif.pwm, rng)
    negatives = random_background(n - n_pos, length, rng)
    if decoy is not None:
        negatives = plant_sites(negatives, decoy.pwm, rng)
    x = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(n_pos), np.zeros(n - n_pos)]).astype(np.float32)
    order = rng.permutation(n)
    return x[order], y[order]


def simulate_dataset(meme_file, motif, *, n_train, n_test, length, negatives="random", seed=0):
    """Simulate one motif's train and test splits.

    Parameters
    ----------
    meme_file : MemeFile
        Where decoys come from.
    motif : Motif
        The motif planted in the positives.
    n_train, n_test : int
        Sequences per split (half positives).
    length : int
        Sequence length.
    negatives : {"random", "decoy"}
        Background-only negatives, or negatives carrying a site of another motif.
    seed : int
        With the motif's name, fixes every random draw.

    Returns
    -------
    Dataset
    """
    if negatives not in NEGATIVES:
        raise K2PError(f"negatives must be one of {', '.join(NEGATIVES)}, got {negatives!r}")
    rng = motif_rng(seed, motif.name)
    decoy = choose_decoy(meme_file, motif, rng) if negatives == "decoy" else None
    x_train, y_train = _split(n_train, length, motif, decoy, rng)
    x_test, y_test = _split(n_test, length, motif, decoy, rng)
    return Dataset(motif=motif, decoy=decoy, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
