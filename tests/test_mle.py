"""The MLE of the base agrees with a brute-force search of the same likelihood."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from k2p_keras.errors import K2PError
from k2p_keras.mle import estimate_base, log_likelihood
from k2p_keras.transform import kernel_to_pwm


def best_window_stats(kernel, sequences):
    """Independent numpy: per filter, the summed best-window score and the window count."""
    length = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(sequences, (length, 4), axis=(1, 2))[:, :, 0]
    scores = np.einsum("npla,laf->npf", windows, kernel)
    return scores.max(axis=1).sum(axis=0), sequences.shape[0]


def brute_force_ln_base(kernel, score, n):
    """Maximise the likelihood written directly from the PWM's probabilities, by 1-D search."""
    def negative(v):
        pwm = kernel_to_pwm(kernel, math.exp(v), warn=False)
        # sum over windows of ln P(window) = v * S - n * sum_i ln Z_i, with P from the softmax
        log_z = v * kernel - np.log(pwm)  # equal across letters: ln Z_i
        return -(v * score - n * log_z[:, 0].sum())

    grid = np.linspace(1e-3, 30, 3001)
    start = grid[np.argmin([negative(v) for v in grid])]
    found = minimize_scalar(negative, bracket=(max(start - 0.02, 1e-6), start, start + 0.02),
                            tol=1e-14)
    return found.x


def planted_data(rng, filters, n=300, length=40, kernel_length=6):
    kernel = rng.normal(size=(kernel_length, 4, filters))
    sequences = np.eye(4)[rng.integers(0, 4, size=(n, length))]
    return kernel, sequences


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_per_filter_base_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    kernel, sequences = planted_data(rng, 3)
    score, n = best_window_stats(kernel, sequences)
    est = estimate_base(kernel, score, n)
    for t in range(3):
        assert est.ln_base[t] == pytest.approx(brute_force_ln_base(kernel[:, :, t], score[t], n), abs=1e-6)
    assert not est.shared and all(p is None for p in est.problems)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_shared_base_matches_brute_force_on_the_summed_likelihood(seed):
    rng = np.random.default_rng(seed)
    kernel, sequences = planted_data(rng, 3)
    score, n = best_window_stats(kernel, sequences)
    est = estimate_base(kernel, score, n, shared=True)
    grid = np.linspace(0.01, 20, 4001)
    totals = [log_likelihood(v, kernel, score, n).sum() for v in grid]
    v0 = grid[int(np.argmax(totals))]
    found = minimize_scalar(lambda v: -log_likelihood(v, kernel, score, n).sum(),
                            bracket=(v0 - 0.01, v0, v0 + 0.01), tol=1e-14)
    assert np.all(est.ln_base == est.ln_base[0])
    assert est.ln_base[0] == pytest.approx(found.x, abs=1e-6)


def test_standard_error_is_the_inverse_root_curvature():
    rng = np.random.default_rng(3)
    kernel, sequences = planted_data(rng, 1, n=500)
    score, n = best_window_stats(kernel, sequences)
    est = estimate_base(kernel, score, n)
    v, h = est.ln_base[0], 1e-4
    second = (log_likelihood(v + h, kernel, score, n) - 2 * log_likelihood(v, kernel, score, n)
              + log_likelihood(v - h, kernel, score, n)) / h**2
    assert est.se[0] == pytest.approx(1 / math.sqrt(-second[0]), rel=1e-4)


def test_row_weights_for_n_rows_change_only_those_positions():
    rng = np.random.default_rng(4)
    kernel, sequences = planted_data(rng, 2)
    score, n = best_window_stats(kernel, sequences)
    full = estimate_base(kernel, score, np.full((2, 6), float(n)))
    np.testing.assert_allclose(full.ln_base, estimate_base(kernel, score, n).ln_base, atol=1e-12)


def test_unbounded_likelihood_is_a_clear_error():
    kernel = np.array([[0.0, 1.0, 0.0, 0.0]])[:, :, None].repeat(1, axis=2)
    with pytest.raises(K2PError, match="grows without bound"):
        estimate_base(kernel, [10.0], 10)  # every best window hit the best letter


def test_no_base_above_one_is_a_clear_error():
    kernel = np.array([[0.0, 1.0, 0.0, 0.0]])[:, :, None]
    with pytest.raises(K2PError, match="no base > 1"):
        estimate_base(kernel, [1.0], 10)  # mean score 0.1 is below the average 0.25


def test_degenerate_filters_become_nan_when_asked():
    rng = np.random.default_rng(5)
    kernel, sequences = planted_data(rng, 2)
    kernel[:, :, 1] = 0.0  # a dead filter: the likelihood is flat
    score, n = best_window_stats(kernel, sequences)
    est = estimate_base(kernel, score, n, on_degenerate="nan")
    assert np.isfinite(est.ln_base[0]) and np.isnan(est.ln_base[1])
    assert est.problems[1] and est.ok.tolist() == [True, False]
    with pytest.raises(K2PError, match="filter 1"):
        estimate_base(kernel, score, n)


def test_no_sequences_is_a_clear_error():
    with pytest.raises(K2PError, match="no sequences"):
        estimate_base(np.ones((2, 4, 1)), [0.0], 0)
