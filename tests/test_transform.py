"""Theorems 1 and 3: the convolution equals the PWM log-likelihood plus a constant."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k2p_keras.errors import K2PError
from k2p_keras.validate import check_pwm
from k2p_keras.transform import consensus, information_content, kernel_constant, kernel_to_pwm, pwm_to_kernel, window_constant, window_log_likelihood

seeds = st.integers(0, 2**32 - 1)
bases = st.floats(1.05, 50.0)


def random_windows(rng, count, length, n_encoding):
    """One-hot windows with about 15% N positions encoded as zero or 0.25 rows."""
    windows = np.eye(4)[rng.integers(0, 4, size=(count, length))]
    is_n = rng.random((count, length)) < 0.15
    windows[is_n] = 0.0 if n_encoding == "zero" else 0.25
    return windows


def correlate(windows, kernel, bias):
    """Keras Conv1D on whole windows: a cross-correlation plus the bias."""
    return np.einsum("nla,laf->nf", windows, kernel) + bias


@settings(max_examples=60, deadline=None)
@given(seed=seeds, base=bases, n_encoding=st.sampled_from(["zero", "quarter"]))
def test_convolution_equals_log_likelihood_plus_constant(seed, base, n_encoding):
    rng = np.random.default_rng(seed)
    length, filters = int(rng.integers(1, 20)), int(rng.integers(1, 6))
    kernel = rng.normal(scale=rng.uniform(0.1, 3.0), size=(length, 4, filters))
    bias = rng.normal(size=filters)
    windows = random_windows(rng, 50, length, n_encoding)
    pwm = kernel_to_pwm(kernel, base, warn=False)
    rebuilt = window_log_likelihood(pwm, windows, base) + window_constant(kernel, windows, base, bias)
    np.testing.assert_allclose(rebuilt, correlate(windows, kernel, bias), rtol=0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, base=bases)
def test_constant_d_of_theorem_1_for_windows_without_n(seed, base):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(8, 4, 3))
    bias = rng.normal(size=3)
    windows = random_windows(rng, 20, 8, "zero")
    windows[:] = np.eye(4)[rng.integers(0, 4, size=(20, 8))]
    pwm = kernel_to_pwm(kernel, base)
    d = kernel_constant(kernel, base, bias)
    np.testing.assert_allclose(window_log_likelihood(pwm, windows, base) + d,
                               correlate(windows, kernel, bias), atol=1e-9)
    np.testing.assert_allclose(kernel_constant(kernel, base), d - bias, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, base=bases)
def test_pwm_to_kernel_to_pwm_round_trips(seed, base):
    rng = np.random.default_rng(seed)
    pwm = rng.dirichlet(np.ones(4), size=int(rng.integers(1, 25)))
    for convention in ("correlation", "convolution"):
        kernel = pwm_to_kernel(pwm, base, convention=convention, shift=rng.normal())
        np.testing.assert_allclose(kernel_to_pwm(kernel, base, convention=convention), pwm, atol=1e-12)


def test_bias_and_row_shifts_leave_the_pwm_alone():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(6, 4))
    shifted = kernel + rng.normal(size=(6, 1))
    np.testing.assert_allclose(kernel_to_pwm(kernel, 3.0), kernel_to_pwm(shifted, 3.0), atol=1e-14)


def test_convolution_convention_reverses_rows():
    kernel = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(kernel_to_pwm(kernel, 2.0, convention="convolution"),
                                  kernel_to_pwm(kernel, 2.0)[::-1])


def test_whole_keras_kernel_is_transformed_filter_by_filter():
    kernel = np.random.default_rng(2).normal(size=(5, 4, 3))
    pwms = kernel_to_pwm(kernel, 4.0)
    for f in range(3):
        np.testing.assert_array_equal(pwms[:, :, f], kernel_to_pwm(kernel[:, :, f], 4.0))


def test_the_transforms_return_the_layout_they_are_given():
    """The one axis rule of transform.py: a whole Keras kernel (L, 4, F) in, (L, 4, F) PWMs out
    (per filter: (F,) constants, (..., F) likelihoods); axes.keras_kernel_to_filters makes them
    the package's (F, L, 4). L, 4 and F differ, so a transposed result cannot pass."""
    from k2p_keras.axes import keras_kernel_to_filters

    rng = np.random.default_rng(7)
    length, filters, base = 7, 3, 2.5
    kernel, bias = rng.normal(size=(length, 4, filters)), rng.normal(size=filters)
    windows = random_windows(rng, 11, length, "zero")
    pwms = kernel_to_pwm(kernel, base)
    assert pwms.shape == (length, 4, filters)
    np.testing.assert_allclose(pwms.sum(axis=1), 1.0, atol=1e-12)
    assert kernel_constant(kernel, base, bias).shape == (filters,)
    assert window_log_likelihood(pwms, windows, base).shape == (11, filters)
    assert window_constant(kernel, windows, base, bias).shape == (11, filters)
    by_filter = keras_kernel_to_filters(pwms)
    assert by_filter.shape == (filters, length, 4)
    for t in range(filters):
        one = kernel_to_pwm(kernel[:, :, t], base)
        assert one.shape == (length, 4)
        np.testing.assert_array_equal(by_filter[t], one)
        np.testing.assert_allclose(window_log_likelihood(pwms, windows, base)[:, t],
                                   window_log_likelihood(one, windows, base), rtol=1e-12)


def test_large_base_underflows_with_a_warning_not_a_crash():
    kernel = np.array([[0.0, 100.0, 0.0, 0.0]])
    with pytest.warns(UserWarning, match="underflow"):
        pwm = kernel_to_pwm(kernel, 1e300)
    assert np.all(np.isfinite(pwm)) and pwm[0, 1] == 1.0


def test_base_near_one_flattens_rows_with_a_warning():
    with pytest.warns(UserWarning, match="flat"):
        pwm = kernel_to_pwm(np.array([[0.0, 1e-3, 0.0, 0.0]]), 1.0 + 1e-9)
    np.testing.assert_allclose(pwm, 0.25, atol=1e-9)


def test_uniform_kernel_rows_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernel_to_pwm(np.full((3, 4), 0.25), 2.0)


@pytest.mark.parametrize("base", [1.0, 0.5, -2, float("inf"), float("nan"), "abc"])
def test_base_must_exceed_one(base):
    with pytest.raises(K2PError, match="base"):
        kernel_to_pwm(np.zeros((2, 4)), base)


def test_zero_probabilities_get_delta_with_a_warning():
    pwm = np.array([[0.0, 1.0, 0.0, 0.0], [0.6, 0.3, 0.0, 0.1]])
    with pytest.warns(UserWarning, match="delta = 0.01"):
        kernel = pwm_to_kernel(pwm)
    assert kernel[0, 0] == pytest.approx(math.log(0.01))
    with pytest.warns(UserWarning):
        assert pwm_to_kernel(pwm, delta=1e-3)[0, 0] == pytest.approx(math.log(1e-3))


def test_shift_by_minimum_makes_the_smallest_entry_zero():
    pwm = np.array([[0.1, 0.2, 0.3, 0.4]])
    kernel = pwm_to_kernel(pwm, base=2.0, shift_by_minimum=True)
    assert kernel.min() == pytest.approx(0.0) and kernel.max() == pytest.approx(2.0)


@pytest.mark.parametrize("bad, message", [
    (np.array([[0.5, 0.5, 0.5, 0.5]]), "sums to 2"),
    (np.array([[1.5, -0.5, 0.0, 0.0]]), "outside"),
    (np.array([[np.nan, 0.5, 0.25, 0.25]]), "NaN"),
    (np.ones((2, 3)) / 3, "shape"),
])
def test_invalid_pwms_are_refused(bad, message):
    with pytest.raises(K2PError, match=message):
        pwm_to_kernel(bad)


def test_slightly_unnormalised_rows_warn():
    with pytest.warns(UserWarning, match="sums to"):
        check_pwm(np.array([[0.25, 0.25, 0.25, 0.2505]]))


def test_information_content_and_consensus():
    pwm = np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0, 0, 0.5, 0.5]])
    np.testing.assert_allclose(information_content(pwm), [2.0, 0.0, 1.0])
    assert consensus(pwm) == "ANG"


def test_js_divergence_is_zero_for_equal_rows_one_for_disjoint_and_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    from k2p_keras.transform import js_divergence

    rng = np.random.default_rng(5)
    a, b = rng.dirichlet(np.ones(4), size=(3, 7)), rng.dirichlet(np.ones(4), size=(3, 7))
    a[0, 0] = [1, 0, 0, 0]
    b[0, 0] = [0, 0.5, 0.5, 0]
    got = js_divergence(a, b)
    assert got.shape == (3, 7)
    assert got[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(got, jensenshannon(a, b, base=2, axis=-1) ** 2, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(got, js_divergence(b, a))
    np.testing.assert_array_equal(js_divergence(a, a), 0.0)
    with pytest.raises(K2PError, match="same shape"):
        js_divergence(a, b[:, :6])


def test_rounding_just_outside_zero_and_one_is_clipped_as_the_meme_reader_allows():
    pwm = np.array([[-5e-7, 1.0000005, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    checked = check_pwm(pwm)
    assert checked.min() == 0.0 and checked.max() == 1.0
    with pytest.warns(UserWarning, match="delta"):
        assert np.all(np.isfinite(pwm_to_kernel(pwm)))
    with pytest.raises(K2PError, match="outside"):
        check_pwm(np.array([[-1e-3, 1.001, 0.0, 0.0]]))
