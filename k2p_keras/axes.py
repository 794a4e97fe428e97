"""The package's one axis convention, and the named converters at its boundaries.

Inside k2p-keras, every per-filter array puts the **filter axis first**, then positions,
then letters A C G T:

==============================  =============  ==========================================
what                            shape          where it comes from or goes to
==============================  =============  ==========================================
PWMs of a layer                 ``(F, L, 4)``  ``ExactPWMs.pwms``, MEME files
one PWM / one kernel            ``(L, 4)``     ``kernel_to_pwm``, ``pwm_to_kernel``
PWMs of a whole Keras kernel    ``(L, 4, F)``  ``kernel_to_pwm(kernel)``: see below
per-position statistics         ``(F, L)``     ``ScanStats.row_weight``
letter counts                   ``(F, L, 4)``  ``ScanStats.letter_counts``
sequences                       ``(N, L, 4)``  every batch a reader yields
==============================  =============  ==========================================

Two layouts live outside and are converted only here:

- **Keras kernels** are ``(L, 4, F)`` (``Conv1D.kernel``, cross-correlation orientation), and
  stay so where the scan and the layer code use them (``ConvSpec.kernel``); convert with
  :func:`keras_kernel_to_filters` and :func:`filters_to_keras_kernel`. The transforms
  (``k2p_keras/transform.py``) work in that layout and **return the layout they are given**:
  ``kernel_to_pwm`` on a whole ``(L, 4, F)`` kernel gives ``(L, 4, F)`` PWMs (filter ``t`` in
  ``[:, :, t]``), which :func:`keras_kernel_to_filters` puts filter-first.
- **memelite** (Tomtom, FIMO) takes one motif as ``(4, L)``: :func:`pwm_to_memelite` and
  :func:`memelite_to_pwm`.

k2p-1.0's files flip the row order (the convolution convention): that is a convention,
not a layout, and is handled by ``convention=`` where those files are read.

The other strand of anything with letters on its last axis is :func:`complement` (A C G T
-> T G C A: the letter axis reversed) and, with positions on the axis before,
:func:`reverse_complement`; both take numpy arrays and TensorFlow tensors alike.

A model may order its one-hot channels otherwise (``alphabet="ATCG"``). Its kernel and the
sequences stored in its order are put in A C G T order where they are read
(:func:`channels_to_acgt`), so that the letters, the reverse complement and the MEME files
never see another order; only code that feeds the model's own layer goes back
(:func:`acgt_to_channels`).
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

from .errors import K2PError

# numpy arrays and TensorFlow tensors alike: the strand helpers return what they are given.
Rows = TypeVar("Rows")

#: The package's letter order (MEME's too): the columns of every PWM and sequence batch.
ALPHABET = "ACGT"


def complement(letters: Rows) -> Rows:
    """Letters on the last axis (A C G T) of the other strand: T G C A, the axis reversed."""
    return letters[..., ::-1]


def reverse_complement(rows: Rows) -> Rows:
    """Rows ``(..., L, 4)`` (one-hot sequences, PWMs) of the other strand: positions reversed, complemented."""
    return complement(rows[..., ::-1, :])


def keras_kernel_to_filters(kernel: ArrayLike) -> np.ndarray:
    """A Keras Conv1D kernel ``(L, 4, F)`` as per-filter matrices ``(F, L, 4)``."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 3:
        raise ValueError(f"expected a Keras kernel (L, 4, F), got shape {kernel.shape}")
    return np.ascontiguousarray(kernel.transpose(2, 0, 1))


def filters_to_keras_kernel(filters: ArrayLike) -> np.ndarray:
    """Per-filter matrices ``(F, L, 4)`` as a Keras Conv1D kernel ``(L, 4, F)``."""
    filters = np.asarray(filters)
    if filters.ndim != 3:
        raise ValueError(f"expected per-filter matrices (F, L, 4), got shape {filters.shape}")
    return np.ascontiguousarray(filters.transpose(1, 2, 0))


def pwm_to_memelite(pwm: ArrayLike) -> np.ndarray:
    """One PWM ``(L, 4)`` as memelite's ``(4, L)`` float64, C-contiguous (memelite compiles its
    kernels once per array layout)."""
    pwm = np.asarray(pwm, dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[1] != 4:
        raise K2PError(f"expected a PWM of shape (L, 4), got {pwm.shape}")
    return np.ascontiguousarray(pwm.T)


def memelite_to_pwm(matrix: ArrayLike) -> np.ndarray:
    """memelite's ``(4, L)`` motif as our PWM ``(L, 4)`` float64."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != 4:
        raise ValueError(f"expected a memelite motif (4, L), got shape {matrix.shape}")
    return np.ascontiguousarray(matrix.T)


def channels_to_acgt(alphabet: str) -> np.ndarray:
    """Indices that put a model's channels (in ``alphabet``'s order) in A C G T order: ``x[..., index]``.

    ``alphabet`` is checked (:func:`k2p_keras.validate.check_alphabet`) by the caller.
    """
    return np.array([alphabet.index(letter) for letter in ALPHABET])


def acgt_to_channels(alphabet: str) -> np.ndarray:
    """Indices that put A C G T columns in a model's channel order: ``x[..., index]`` (the inverse)."""
    return np.array([ALPHABET.index(letter) for letter in alphabet])
