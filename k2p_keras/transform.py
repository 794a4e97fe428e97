"""The exact transformation between Conv1D kernels and position weight matrices.

Pure numpy, float64 throughout. Notation follows the paper (Ding et al., bioRxiv 163220;
the axes: ``docs/conventions.md``): a filter ``w`` has shape ``(L, 4)`` (positions x A C G T),
a whole Keras kernel ``(L, 4, F)``; ``v = ln b`` for a base ``b > 1``.

Theorem 1: with ``P[i, a] = softmax_a(v * w[i, a])`` and
``d = sum_i log_b sum_a b**w[i, a]`` (plus the bias ``c`` when kept),
the convolution on any window equals ``log_b P(window) + d``.
Theorem 3 (supplementary notes) extends this to windows with N positions: a row ``x_i``
of the window contributes ``sum_a x_i[a] log_b P[i, a] + (sum_a x_i[a]) log_b Z_i``,
so all-zero rows contribute nothing and 0.25 rows contribute a quarter of every letter.

**Axes: a transform returns the layout it is given.** The transforms mirror the kernel they
take, in Keras's layout: one filter ``(L, 4)`` gives one PWM ``(L, 4)``; a whole kernel
``(L, 4, F)`` gives its F PWMs as ``(L, 4, F)`` (and ``F`` constants), filter ``t`` in
``[:, :, t]`` as in the kernel. The package's own per-filter arrays are filter-first
``(F, L, 4)`` (``k2p_keras/axes.py``): :func:`k2p_keras.axes.keras_kernel_to_filters` turns a
kernel's PWMs into that layout (``extract`` takes the same numbers as a transposed view).
"""
from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp, softmax

from .errors import K2PError
from .validate import check_base, check_kernel, check_pwm

__all__ = ["CONVENTIONS", "consensus", "information_content", "js_divergence",
           "kernel_constant", "kernel_to_pwm", "pwm_to_kernel", "window_constant", "window_log_likelihood"]

CONVENTIONS = ("correlation", "convolution")
# Softmax entries below this are reported as underflow; rows within this of uniform as flat.
_UNDERFLOW = 1e-300
_FLAT = 1e-9
Convention = Literal["correlation", "convolution"]


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise K2PError(f"convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")


def _orient(matrix: np.ndarray, convention: str) -> np.ndarray:
    """Rows in the cross-correlation order Keras uses; k2p-1.0 files store them reversed."""
    _check_convention(convention)
    return matrix[::-1] if convention == "convolution" else matrix


def kernel_to_pwm(kernel: ArrayLike, base: float = math.e, convention: Convention = "correlation",
                  warn: bool = True) -> np.ndarray:
    """Transform a Conv1D kernel into the PWM of Theorem 1.

    Parameters
    ----------
    kernel : array_like, shape (L, 4) or (L, 4, F)
        One filter, or a whole Keras kernel (positions x A C G T x filters).
    base : float
        The logarithm's base ``b > 1``; ``e`` by default.
    convention : {"correlation", "convolution"}
        ``"correlation"`` (Keras Conv1D, the default) pairs PWM row ``i`` with kernel row
        ``i``; ``"convolution"`` (k2p-1.0's files) pairs it with kernel row ``L - 1 - i``.
    warn : bool
        Warn when entries underflow to 0 (base too large) or rows are flat (base too small).

    Returns
    -------
    numpy.ndarray
        Same shape as ``kernel`` (the module's axis rule: ``(L, 4, F)`` in, ``(L, 4, F)`` out);
        every row (over the 4 letters, axis 1) sums to 1.
    """
    kernel = check_kernel(kernel)
    v = math.log(check_base(base))
    scaled = v * _orient(kernel, convention)
    # scipy subtracts the row maximum, so exp() stays finite for any base and kernel scale.
    pwm = softmax(scaled, axis=1)
    if warn:
        _warn_degenerate(scaled, pwm, base)
    return pwm


def _warn_degenerate(scaled, pwm, base):
    if np.any(pwm < _UNDERFLOW):
        warnings.warn(f"base {base:g} is so large that some PWM entries underflow to 0", stacklevel=3)
    # A row is flattened when the kernel row has spread but its softmax has (almost) none.
    flattened = (np.ptp(pwm, axis=1) < _FLAT) & (np.ptp(scaled, axis=1) > 0)
    if np.any(flattened):
        warnings.warn(f"base {base:g} is so close to 1 that some PWM rows are flat (0.25 everywhere)", stacklevel=3)


def kernel_constant(kernel: ArrayLike, base: float = math.e, bias: float | ArrayLike | None = None,
                    convention: Convention = "correlation") -> float | np.ndarray:
    """The constant ``d`` of Theorem 1: ``conv(window) = log_b P(window) + d``.

    Parameters
    ----------
    kernel : array_like, shape (L, 4) or (L, 4, F)
    base : float
    bias : float or array_like of shape (F,), optional
        The filter's bias; ``d`` includes it when given.
    convention : {"correlation", "convolution"}
        Does not change ``d`` (a sum over rows), accepted for symmetry.

    Returns
    -------
    float or numpy.ndarray of shape (F,)
    """
    kernel = _orient(check_kernel(kernel), convention)
    v = math.log(check_base(base))
    d = logsumexp(v * kernel, axis=1).sum(axis=0) / v
    if bias is not None:
        d = d + np.asarray(bias, dtype=np.float64)
    return float(d) if np.ndim(d) == 0 else d


def window_log_likelihood(pwm: ArrayLike, windows: ArrayLike, base: float = math.e) -> np.ndarray:
    """``log_b P(window)`` for one-hot windows, N rows included (Theorem 3).

    Parameters
    ----------
    pwm : array_like, shape (L, 4) or (L, 4, F)
    windows : array_like, shape (..., L, 4)
        One-hot rows; an N position is an all-zero row or a row of 0.25.
    base : float

    Returns
    -------
    numpy.ndarray
        Shape ``windows.shape[:-2]`` for one PWM, ``windows.shape[:-2] + (F,)`` for F of them.
        A zero row adds nothing; a 0.25 row adds ``0.25 * sum_a log_b P[i, a]``.
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_p = np.log(pwm) / math.log(check_base(base))
    # 0 * log(0) must count as 0: a letter absent from the window says nothing of P there.
    log_p = np.where(pwm > 0, log_p, -np.inf)
    if pwm.ndim == 2:
        return _weighted_sum(windows, log_p, "...ia,ia->...")
    return _weighted_sum(windows, log_p, "...ia,iaf->...f")


def _weighted_sum(windows, log_p, spec):
    finite = np.where(np.isfinite(log_p), log_p, 0.0)
    total = np.einsum(spec, windows, finite)
    hits_zero = np.einsum(spec, windows, (~np.isfinite(log_p)).astype(np.float64)) > 0
    return np.where(hits_zero, -np.inf, total)


def window_constant(kernel: ArrayLike, windows: ArrayLike, base: float = math.e,
                    bias: float | ArrayLike | None = None) -> np.ndarray:
    """The window-dependent constant of Theorem 3 (``d`` for windows without N).

    ``conv(window) = window_log_likelihood(P, window) + window_constant(W, window)``,
    where each row ``x_i`` adds ``(sum_a x_i[a]) * log_b sum_a b**w[i, a]``.

    Parameters
    ----------
    kernel : array_like, shape (L, 4) or (L, 4, F)
    windows : array_like, shape (..., L, 4)
    base : float
    bias : float or array_like of shape (F,), optional
    """
    kernel = check_kernel(kernel)
    v = math.log(check_base(base))
    log_z = logsumexp(v * kernel, axis=1) / v  # (L,) or (L, F)
    row_weight = np.asarray(windows, dtype=np.float64).sum(axis=-1)  # (..., L)
    const = np.tensordot(row_weight, log_z, axes=([-1], [0]))
    if bias is not None:
        const = const + np.asarray(bias, dtype=np.float64)
    return const


def pwm_to_kernel(pwm: ArrayLike, base: float = math.e, delta: float | None = None, shift: float = 0.0,
                  shift_by_minimum: bool = False, convention: Convention = "correlation",
                  name: str = "PWM") -> np.ndarray:
    """The inverse transformation: ``W[i, a] = log_b P[i, a] + shift``.

    Parameters
    ----------
    pwm : array_like, shape (L, 4)
        Probabilities, rows summing to 1.
    base : float
        The logarithm's base ``b > 1``.
    delta : float, optional
        Replaces zero probabilities before the logarithm (no renormalisation, with a
        warning). Default: one tenth of the smallest positive entry, as k2p-1.0 did.
    shift : float
        Added to every entry (e.g. to keep a ReLU from zeroing the signal).
    shift_by_minimum : bool
        Add ``|min W|`` (after ``shift``) so the smallest entry becomes 0.
    convention : {"correlation", "convolution"}
        Row order of the returned kernel, see :func:`kernel_to_pwm`.
    name : str
        Used in warnings and errors.

    Returns
    -------
    numpy.ndarray, shape (L, 4)
    """
    pwm = check_pwm(pwm, what=name)
    v = math.log(check_base(base))
    if np.any(pwm == 0):
        if delta is None:
            positive = pwm[pwm > 0]
            delta = positive.min() / 10.0
        delta = float(delta)
        if not (math.isfinite(delta) and delta > 0):
            raise K2PError(f"delta: expected a positive number, got {delta!r}")
        warnings.warn(f"{name} has zero probabilities; replaced by delta = {delta:g} "
                      "before the logarithm (rows not renormalised)", stacklevel=2)
        pwm = np.where(pwm == 0, delta, pwm)
    kernel = np.log(pwm) / v + float(shift)
    if shift_by_minimum:
        kernel = kernel + abs(kernel.min())
    return _orient(kernel, convention).copy()


def information_content(pwm: ArrayLike, background: ArrayLike | None = None) -> np.ndarray:
    """Information content of each PWM row in bits (2 minus the entropy for a uniform background)."""
    pwm = np.asarray(pwm, dtype=np.float64)
    background = np.full(4, 0.25) if background is None else np.asarray(background, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pwm > 0, pwm * np.log2(pwm / background), 0.0)
    return terms.sum(axis=-1)


def consensus(pwm: ArrayLike, alphabet: str = "ACGT") -> str:
    """The most probable letter of each row; IUPAC N where the row is flat."""
    pwm = np.asarray(pwm, dtype=np.float64)
    letters = [alphabet[i] for i in pwm.argmax(axis=1)]
    flat = np.ptp(pwm, axis=1) < 1e-9
    return "".join("N" if f else c for c, f in zip(letters, flat))


def js_divergence(pwm_a: ArrayLike, pwm_b: ArrayLike) -> np.ndarray:
    """Jensen-Shannon divergence (bits, 0 to 1) between matching rows of two PWMs.

    Parameters
    ----------
    pwm_a, pwm_b : array-like, shape (..., L, 4)
        Probability rows of the same shape, columns A C G T.

    Returns
    -------
    numpy.ndarray, shape (..., L)
        ``JS(a_i, b_i) = (KL(a_i || m_i) + KL(b_i || m_i)) / 2`` with ``m_i = (a_i + b_i) / 2``;
        0 for identical rows, 1 for rows with no letter in common.
    """
    pwm_a = np.asarray(pwm_a, dtype=np.float64)
    pwm_b = np.asarray(pwm_b, dtype=np.float64)
    if pwm_a.shape != pwm_b.shape or pwm_a.ndim < 2 or pwm_a.shape[-1] != 4:
        raise K2PError(f"expected two PWMs of the same shape (..., L, 4), got {pwm_a.shape} and {pwm_b.shape}")
    middle = 0.5 * (pwm_a + pwm_b)

    def kl_to_middle(pwm):
        # 0 log 0 = 0; where pwm > 0 the middle is > 0 too.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pwm > 0, pwm * np.log2(pwm / middle), 0.0).sum(axis=-1)

    return np.clip(0.5 * (kl_to_middle(pwm_a) + kl_to_middle(pwm_b)), 0.0, 1.0)
