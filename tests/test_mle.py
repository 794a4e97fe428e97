"""The MLE of the base maximises the likelihood of docs/base-estimation.md, written out here independently.

The reference treats each sequence's best window as a draw from the PWMs and adds up
``ln P_v(window)`` with ``P_v = softmax(v * W)`` computed in plain numpy, N rows weighted as
Theorem 3 says (an all-zero row adds nothing, a 0.25 row a quarter of every letter). The
package sees only the sums its scan would give (``score_sum``, ``row_weight``), so the two
share no code. The standard error is checked against the spread of estimates over data
sets simulated from a known base.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from k2p_keras.errors import K2PError
from k2p_keras.motifs.mle import (between_filter_variance, estimate_base, estimate_bases, shrink_bases)

KERNEL_LENGTH = 6


def planted_data(rng, filters, n=300, length=40):
    kernel = rng.normal(size=(KERNEL_LENGTH, 4, filters))
    sequences = np.eye(4)[rng.integers(0, 4, size=(n, length))]
    return kernel, sequences


def with_n_rows(rng, sequences, encoding, fraction=0.15):
    """The same sequences with a random ``fraction`` of positions made N."""
    out = sequences.copy()
    out[rng.random(sequences.shape[:2]) < fraction] = 0.0 if encoding == "zero" else 0.25
    return out


def best_windows(kernel, sequences):
    """Per filter, every sequence's highest-scoring window: (F, N, L, 4)."""
    windows = np.lib.stride_tricks.sliding_window_view(sequences, (KERNEL_LENGTH, 4), axis=(1, 2))[:, :, 0]
    scores = np.einsum("npla,laf->npf", windows, kernel)
    best = scores.argmax(axis=1)  # (N, F)
    return np.stack([windows[np.arange(len(windows)), best[:, t]] for t in range(kernel.shape[2])])


def window_loglik(v, filter_kernel, windows):
    """sum over windows of ln P_v(window) (Theorem 3 weights), P_v = softmax(v * W) row by row."""
    weights = np.exp(v * filter_kernel)
    log_p = np.log(weights / weights.sum(axis=1, keepdims=True))
    return float(np.einsum("nla,la->", windows, log_p))


def maximise(negative):
    return minimize_scalar(negative, bounds=(1e-4, 30), method="bounded", options={"xatol": 1e-11}).x


def package_stats(kernel, windows):
    """What the scan hands the MLE: summed scores x . W and summed row weights, per filter."""
    score_sum = np.einsum("fnla,laf->f", windows, kernel)
    row_weight = windows.sum(axis=(1, 3))  # (F, L)
    return score_sum, row_weight


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_per_filter_base_maximises_the_window_likelihood(seed):
    rng = np.random.default_rng(seed)
    kernel, sequences = planted_data(rng, 3)
    windows = best_windows(kernel, sequences)
    est = estimate_base(kernel, *package_stats(kernel, windows))
    for t in range(3):
        reference = maximise(lambda v, t=t: -window_loglik(v, kernel[:, :, t], windows[t]))
        assert est.ln_base[t] == pytest.approx(reference, abs=1e-6)
        assert est.loglik[t] == pytest.approx(window_loglik(reference, kernel[:, :, t], windows[t]), rel=1e-9)
    assert not est.shared and all(p is None for p in est.problems)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_shared_base_maximises_the_likelihood_summed_over_filters(seed):
    rng = np.random.default_rng(seed)
    kernel, sequences = planted_data(rng, 3)
    windows = best_windows(kernel, sequences)
    est = estimate_base(kernel, *package_stats(kernel, windows), shared=True)
    reference = maximise(lambda v: -sum(window_loglik(v, kernel[:, :, t], windows[t]) for t in range(3)))
    assert np.all(est.ln_base == est.ln_base[0])
    assert est.ln_base[0] == pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize("encoding", ["zero", "quarter"])
def test_n_rows_count_as_theorem_3_says_in_both_encodings(encoding):
    rng = np.random.default_rng(4)
    kernel, sequences = planted_data(rng, 2)
    windows = best_windows(kernel, with_n_rows(rng, sequences, encoding))
    n_rows = np.isclose(windows.max(axis=-1), 0.0 if encoding == "zero" else 0.25)
    assert n_rows.sum() > 50  # the best windows really hold N rows
    score_sum, row_weight = package_stats(kernel, windows)
    est = estimate_base(kernel, score_sum, row_weight)
    for t in range(2):
        reference = maximise(lambda v, t=t: -window_loglik(v, kernel[:, :, t], windows[t]))
        assert est.ln_base[t] == pytest.approx(reference, abs=1e-6)
    if encoding == "zero":
        # Counting the empty rows as letters would give another answer.
        counted = estimate_base(kernel, score_sum, np.full_like(row_weight, windows.shape[1]))
        assert np.all(np.abs(counted.ln_base - est.ln_base) > 1e-3)
    else:
        np.testing.assert_array_equal(row_weight, windows.shape[1])


def simulated_windows(rng, pwm, n):
    """n windows drawn letter by letter from the PWM, one-hot: (n, L, 4)."""
    cumulative = pwm.cumsum(axis=1)
    letters = (rng.random((n, pwm.shape[0], 1)) > cumulative[None]).sum(axis=2)
    return np.eye(4)[np.minimum(letters, 3)]


def test_standard_error_matches_the_spread_of_estimates_and_the_curvature():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(KERNEL_LENGTH, 4, 1))
    true_v, n, repeats = 0.9, 400, 300
    weights = np.exp(true_v * kernel[:, :, 0])
    pwm = weights / weights.sum(axis=1, keepdims=True)
    estimates, errors = [], []
    for _ in range(repeats):
        windows = simulated_windows(rng, pwm, n)[None]
        est = estimate_base(kernel, *package_stats(kernel, windows))
        estimates.append(est.ln_base[0])
        errors.append(est.se[0])
    # The spread of the estimate over data sets is what its standard error claims.
    assert np.std(estimates) == pytest.approx(np.mean(errors), rel=0.15)
    assert np.mean(estimates) == pytest.approx(true_v, abs=3 * np.std(estimates) / math.sqrt(repeats))
    # And on the last data set it is 1 / sqrt(-second derivative) of the reference likelihood.
    v, h = estimates[-1], 1e-3
    curvature = (window_loglik(v + h, kernel[:, :, 0], windows[0]) - 2 * window_loglik(v, kernel[:, :, 0], windows[0])
                 + window_loglik(v - h, kernel[:, :, 0], windows[0])) / h ** 2
    assert errors[-1] == pytest.approx(1 / math.sqrt(-curvature), rel=1e-4)


def test_unbounded_likelihood_is_a_clear_error():
    kernel = np.array([[0.0, 1.0, 0.0, 0.0]])[:, :, None]
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
    score_sum, row_weight = package_stats(kernel, best_windows(kernel, sequences))
    est = estimate_base(kernel, score_sum, row_weight, on_degenerate="nan")
    assert np.isfinite(est.ln_base[0]) and np.isnan(est.ln_base[1])
    assert est.problems[1] and est.ok.tolist() == [True, False]
    with pytest.raises(K2PError, match="filter 1"):
        estimate_base(kernel, score_sum, row_weight)


def test_no_sequences_and_bad_inputs_are_clear_errors():
    with pytest.raises(K2PError, match="no sequences"):
        estimate_base(np.ones((2, 4, 1)), [0.0], 0)
    with pytest.raises(K2PError, match=r"kernel: expected shape \(L, 4\) or \(L, 4, F\)"):
        estimate_base(np.ones((2, 5, 1)), [0.0], 1)
    with pytest.raises(K2PError, match="row_weight: expected weights >= 0"):
        estimate_base(np.ones((2, 4, 1)), [0.0], -1)


# ----------------------------------------------------------------------------- shrunk bases

def few_sites_stats(seed, filters=6, n=25):
    """Best windows of few sequences per filter: per-filter SEs comparable to their spread,
    so that the shrinkage moves the estimates visibly."""
    rng = np.random.default_rng(seed)
    kernel, sequences = planted_data(rng, filters, n=n)
    kernel *= rng.uniform(0.3, 3.0, size=filters)  # filters of different sharpness
    return kernel, package_stats(kernel, best_windows(kernel, sequences))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_shrunk_base_lies_between_the_filters_own_and_the_shared_one(seed):
    kernel, sums = few_sites_stats(seed)
    per_filter = estimate_base(kernel, *sums, on_degenerate="nan")
    shared = estimate_base(kernel, *sums, shared=True)
    shrunk = estimate_bases(kernel, *sums, estimator="shrunk")
    own = per_filter.ok
    low = np.minimum(per_filter.ln_base, shared.ln_base)[own]
    high = np.maximum(per_filter.ln_base, shared.ln_base)[own]
    assert np.all((low - 1e-12 <= shrunk.ln_base[own]) & (shrunk.ln_base[own] <= high + 1e-12))
    assert shrunk.estimator == "shrunk" and not shrunk.shared
    # Its log-likelihood is the filter's own at the shrunk base, never above the filter's maximum.
    assert np.all(shrunk.loglik[own] <= per_filter.loglik[own] + 1e-9)
    for t in np.flatnonzero(own):
        windows_loglik = estimate_base(kernel[:, :, t:t + 1], sums[0][t:t + 1], sums[1][t:t + 1]).loglik
        assert windows_loglik[0] >= shrunk.loglik[t] - 1e-9


def test_tau_zero_gives_the_shared_base_and_a_huge_tau_the_per_filter_one():
    kernel, sums = few_sites_stats(11)
    per_filter = estimate_base(kernel, *sums)
    shared = estimate_base(kernel, *sums, shared=True)
    at_zero = shrink_bases(per_filter, shared, tau2=0.0)
    np.testing.assert_array_equal(at_zero.ln_base, shared.ln_base)
    np.testing.assert_allclose(at_zero.se, shared.se, rtol=1e-12)
    at_inf = shrink_bases(per_filter, shared, tau2=math.inf)
    np.testing.assert_allclose(at_inf.ln_base, per_filter.ln_base, rtol=1e-12)
    np.testing.assert_allclose(at_inf.se, per_filter.se, rtol=1e-12)
    huge = shrink_bases(per_filter, shared, tau2=1e12)
    np.testing.assert_allclose(huge.ln_base, per_filter.ln_base, rtol=1e-9)
    with pytest.raises(K2PError, match="tau"):
        shrink_bases(per_filter, shared, tau2=-1.0)


def test_the_shrinkage_is_the_normal_posterior_mean_and_weighs_few_sites_less():
    """The brief's precision-weighted rule, written out: ln b* = (v/se^2 + mu/tau^2) / (1/se^2 + 1/tau^2);
    a filter whose estimate is less precise moves a larger share of the way to the shared base."""
    kernel, sums = few_sites_stats(5)
    per_filter = estimate_base(kernel, *sums)
    shared = estimate_base(kernel, *sums, shared=True)
    tau2 = 0.05
    shrunk = shrink_bases(per_filter, shared, tau2=tau2)
    v, se, mu = per_filter.ln_base, per_filter.se, shared.ln_base[0]
    expected = (v / se ** 2 + mu / tau2) / (1 / se ** 2 + 1 / tau2)
    np.testing.assert_allclose(shrunk.ln_base, expected, rtol=1e-12)
    moved = (shrunk.ln_base - v) / (mu - v)  # the share of the way to the shared base
    assert np.all(np.diff(moved[np.argsort(se)]) > 0)
    assert shrunk.tau == pytest.approx(math.sqrt(tau2))


def test_between_filter_variance_recovers_a_known_spread_on_average():
    """Per-filter estimates drawn as N(theta_t, se_t^2), theta_t ~ N(mu, tau^2): the method of
    moments is unbiased (clipping at 0 aside, rare at this spread); no spread gives about 0."""
    rng = np.random.default_rng(0)
    se = rng.uniform(0.1, 0.5, size=30)
    draws = [between_filter_variance(2.0 + rng.normal(0, 0.6, 30) + rng.normal(0, se), se) for _ in range(3000)]
    assert np.mean(draws) == pytest.approx(0.36, rel=0.05)
    flat = [between_filter_variance(2.0 + rng.normal(0, se), se) for _ in range(500)]
    assert np.mean(flat) < 0.01 and min(flat) == 0.0
    assert between_filter_variance([2.0], [0.1]) == 0.0  # one filter: no spread to see


def test_a_filter_without_its_own_estimate_takes_the_shared_base_when_shrinking():
    kernel, sums = few_sites_stats(3, filters=3)
    score_sum, row_weight = sums
    kernel[:, :, 1] = 0.25  # every window scores the same: filter 1 has no maximum of its own
    score_sum = score_sum.copy()
    score_sum[1] = 0.25 * row_weight[1].sum()
    shared = estimate_base(kernel, score_sum, row_weight, shared=True)
    with pytest.warns(UserWarning, match="filter 1: .* using the shared base"):
        shrunk = estimate_bases(kernel, score_sum, row_weight, estimator="shrunk")
    assert shrunk.ln_base[1] == shared.ln_base[1] and np.all(np.isfinite(shrunk.ln_base))
    with pytest.raises(K2PError, match="base estimator.*shared, per-filter, shrunk"):
        estimate_bases(kernel, score_sum, row_weight, estimator="pooled")
