"""Which best windows count as sites: the estimators of the base (k2p_keras.motifs.sites).

Read like the issue: sequences without the motif add background best windows that flatten
the PWM when every best window counts; counting only the strong ones recovers the base
the sites were drawn with, within its standard error. The references here are written
from the definitions (a softmax PWM, a window's log-probability, numpy's own best
windows), never from the module's likelihood.
"""
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from conftest import REPO

from k2p_keras.errors import K2PError
from k2p_keras.motifs.mle import estimate_base
from k2p_keras.scan.best_windows import scan_best_windows
from k2p_keras.scan.stats import SCORE_BINS
from k2p_keras.motifs.sites import SiteRule, site_rule, site_sums


def softmax_pwm(kernel, v):
    scaled = v * kernel
    weights = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def best_windows(x, kernel):
    """Every sequence's best valid window per filter: rows (N, F, L, 4) and score (N, F)."""
    length = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(x, (length, 4), axis=(1, 2))[:, :, 0]
    scores = np.einsum("npla,laf->npf", windows, kernel)
    best = scores.argmax(axis=1)
    rows = np.stack([windows[np.arange(len(x)), best[:, t]] for t in range(kernel.shape[2])], axis=1)
    return rows, scores.max(axis=1)


def log_probability(windows, kernel, v):
    """Natural-log probability of each window (n, L, 4) under the PWM softmax(v W); zero rows add 0."""
    return np.einsum("nla,la->n", windows, np.log(softmax_pwm(kernel, v)))


def direct_mle(windows_per_filter, kernels):
    """Maximise the summed log-probability of the given windows over one shared v by 1-D search."""
    def negative(v):
        return -sum(log_probability(w, k, v).sum() for w, k in zip(windows_per_filter, kernels))

    grid = np.linspace(0.01, 15, 1500)
    v0 = grid[np.argmin([negative(v) for v in grid])]
    return minimize_scalar(negative, bracket=(v0 - 0.01, v0, v0 + 0.01), tol=1e-14).x, negative


def strong_selection(x, kernel, bias, fraction):
    """numpy's strong sites: best windows whose relu(conv + bias) exceeds fraction x its maximum,
    the threshold moved down to the start of its score bin as the module documents."""
    rows, score = best_windows(x, kernel)
    preact = score + bias
    threshold = fraction * np.maximum(preact, 0).max(axis=0)
    exact = preact > threshold
    low = np.minimum(kernel.min(axis=1), 0).sum(axis=0)
    width = (np.maximum(kernel.max(axis=1), 0).sum(axis=0) - low) / SCORE_BINS
    first = np.floor((threshold - bias - low) / width)
    binned = np.minimum(np.floor((score - low) / width), SCORE_BINS - 1) >= first
    return rows, score, exact, binned, width


def planted(rng, kernel, v, n_pos, n_neg, length):
    """Positives carry one site drawn from softmax(v W) of filter 0; negatives are background."""
    x = np.eye(4)[rng.integers(0, 4, size=(n_pos + n_neg, length))]
    pwm = softmax_pwm(kernel[:, :, 0], v)
    width = kernel.shape[0]
    letters = (rng.random((n_pos, width, 1)) > np.cumsum(pwm, axis=1)[None]).sum(axis=2)
    starts = rng.integers(0, length - width + 1, size=n_pos)
    for n in range(n_pos):
        x[n, starts[n]:starts[n] + width] = np.eye(4)[np.minimum(letters[n], 3)]
    return x


@pytest.mark.parametrize("sites, expected", [
    ("all", SiteRule("all")), ("active", SiteRule("active")), ("Strong", SiteRule("strong", 0.5)),
    ("strong=0.3", SiteRule("strong", 0.3)), (0.7, SiteRule("strong", 0.7)),
])
def test_site_rules_are_named_by_a_word_or_a_fraction(sites, expected):
    assert site_rule(sites) == expected


@pytest.mark.parametrize("sites, problem", [
    ("best", "must be one of all, active, strong"), ("all=0.5", "must be one of"),
    (1.5, r"in \(0, 1\)"), ("strong=x", "must be a number"), (True, "must be one of"),
])
def test_bad_site_rules_are_refused_in_one_line(sites, problem):
    with pytest.raises(K2PError, match=problem):
        site_rule(sites)


def test_strong_sums_are_those_of_the_windows_above_half_the_maximum():
    rng = np.random.default_rng(11)
    kernel, bias = rng.normal(size=(6, 4, 3)), np.array([-2.0, 0.0, 1.0])
    x = np.eye(4)[rng.integers(0, 4, size=(300, 40))]
    x[rng.random((300, 40)) < 0.03] = 0.0  # N rows weigh 0
    rows, score, exact, binned, width = strong_selection(x, kernel, bias, 0.5)
    stats = scan_best_windows([x[:100], x[100:]], kernel, bias, score_bins=SCORE_BINS)
    sums = site_sums(stats, SiteRule("strong", 0.5), bias)
    assert sums.n_used.tolist() == binned.sum(axis=0).tolist()
    np.testing.assert_allclose(sums.score_sum, (score * binned).sum(axis=0), atol=1e-9)
    np.testing.assert_allclose(sums.row_weight, np.einsum("nf,nfla->fl", binned, rows), atol=1e-9)
    # The bins add at most the windows within one bin width below the exact threshold.
    assert np.all(binned >= exact)
    threshold = 0.5 * np.maximum(score + bias, 0).max(axis=0)
    assert np.all(~binned | (score + bias > threshold - width))


@pytest.mark.parametrize("shared", [False, True])
def test_strong_estimate_maximises_the_likelihood_of_the_strong_windows(shared):
    rng = np.random.default_rng(12)
    kernel, bias = rng.normal(size=(6, 4, 3)), rng.normal(size=3)
    x = np.eye(4)[rng.integers(0, 4, size=(400, 30))]
    rows, _, _, binned, _ = strong_selection(x, kernel, bias, 0.5)
    stats = scan_best_windows([x], kernel, bias, score_bins=SCORE_BINS)
    sums = site_sums(stats, SiteRule("strong", 0.5), bias)
    estimate = estimate_base(kernel, sums.score_sum, sums.row_weight, shared=shared)
    groups = [[0, 1, 2]] if shared else [[0], [1], [2]]
    for group in groups:
        v, negative = direct_mle([rows[binned[:, t], t] for t in group], [kernel[:, :, t] for t in group])
        assert estimate.ln_base[group[0]] == pytest.approx(v, abs=1e-6)
        # SE: the inverse root of the curvature of that same likelihood, by finite differences.
        h = 1e-4
        curvature = (negative(v + h) - 2 * negative(v) + negative(v - h)) / h**2
        assert estimate.se[group[0]] == pytest.approx(1 / math.sqrt(curvature), rel=1e-3)


def test_strong_sites_recover_the_base_the_sites_were_drawn_with_and_every_window_does_not():
    rng = np.random.default_rng(13)
    width, v_true = 20, math.log(27) / 2  # each site letter is the motif's with probability 0.9
    kernel = 2.0 * np.eye(4)[rng.integers(0, 4, size=width)][:, :, None]
    x = planted(rng, kernel, v_true, n_pos=1000, n_neg=1000, length=100)
    stats = scan_best_windows([x[:700], x[700:]], kernel, np.zeros(1), score_bins=SCORE_BINS)
    # 0.65 of the best score: about 14 of 20 letters, which sites reach and background rarely does.
    strong = site_sums(stats, SiteRule("strong", 0.65), np.zeros(1))
    found = estimate_base(kernel, strong.score_sum, strong.row_weight)
    # Nearly every site, and the few background windows that reach 13 letters (26, on the threshold).
    assert 990 < strong.n_used[0] < 1030
    assert abs(found.ln_base[0] - v_true) < 3 * found.se[0]
    every = site_sums(stats, SiteRule("all"), np.zeros(1))
    flat = estimate_base(kernel, every.score_sum, every.row_weight)
    assert flat.ln_base[0] < v_true - 20 * found.se[0]  # the background windows flatten the PWM


def test_a_filter_no_window_activates_has_no_strong_sites():
    rng = np.random.default_rng(14)
    kernel, bias = rng.normal(size=(5, 4, 2)), np.array([0.0, -100.0])
    x = np.eye(4)[rng.integers(0, 4, size=(200, 30))]
    stats = scan_best_windows([x], kernel, bias, score_bins=SCORE_BINS)
    sums = site_sums(stats, SiteRule("strong", 0.5), bias)
    assert sums.n_used[0] > 0 and sums.n_used[1] == 0
    estimate = estimate_base(kernel, sums.score_sum, sums.row_weight, on_degenerate="nan")
    assert np.isfinite(estimate.ln_base[0]) and "no sequences" in estimate.problems[1]
    with pytest.raises(K2PError, match="filter 1: no sequences"):
        estimate_base(kernel, sums.score_sum, sums.row_weight)


def test_strong_sites_need_the_score_histogram():
    stats = scan_best_windows([np.eye(4)[np.zeros((3, 10), int)]], np.ones((4, 4, 1)))
    with pytest.raises(K2PError, match="histogram"):
        site_sums(stats, SiteRule("strong", 0.5), np.zeros(1))


EXAMPLE_MODEL = REPO / "example_models" / "deepbind.h5"
EXAMPLE_SEQS = REPO / "data" / "example_seqs.h5"


@pytest.fixture(scope="module")
def example():
    from k2p_keras.model.conv import find_motif_conv_in_file
    from k2p_keras.io.sequences import open_sequences_for

    spec = find_motif_conv_in_file(EXAMPLE_MODEL)
    return spec, open_sequences_for(spec, EXAMPLE_SEQS)


# Each verification checks every window of the example's 20,000 sequences (about 15 s): the
# default estimator's runs everywhere, the two others in CI.
@pytest.mark.parametrize("sites", [pytest.param("all", marks=pytest.mark.slow),
                                   pytest.param("active", marks=pytest.mark.slow), "strong"])
def test_pwms_of_every_estimator_reproduce_the_models_layer(example, sites, tmp_path):
    """The base changes how sharp the PWMs are, never their exactness: verify passes."""
    from k2p_keras.io.meme import write_meme
    from k2p_keras.motifs.exact import ExactRequest, extract_pwms
    from k2p_keras.verify import verify_model

    spec, source = example
    extraction = extract_pwms(spec, source.iter_batches(1000), ExactRequest(base_estimator="per-filter", sites=sites))
    assert extraction.sites == sites and np.all(np.isfinite(extraction.se))
    write_meme(tmp_path / "pwms.meme", extraction.motifs())
    assert verify_model(EXAMPLE_MODEL, EXAMPLE_SEQS, pwms=tmp_path / "pwms.meme").passed.all()


def test_strong_sites_are_fewer_and_give_sharper_pwms_on_the_example(example):
    from k2p_keras.motifs.exact import ExactRequest, extract_pwms

    spec, source = example
    every = extract_pwms(spec, source.iter_batches(1000), ExactRequest(base_estimator="per-filter", sites="all"))
    strong = extract_pwms(spec, source.iter_batches(1000), ExactRequest(base_estimator="per-filter", sites="strong"))
    assert np.all(strong.n_used < every.n_used) and np.all(every.n_used == len(source))
    assert np.all(strong.ln_base > every.ln_base)


def test_a_filter_without_strong_sites_takes_the_shared_base_with_a_warning(example):
    from dataclasses import replace

    from k2p_keras.motifs.exact import ExactRequest, extract_pwms

    spec, source = example
    bias = spec.bias.copy()
    bias[2] = -1000.0  # filter 2 never activates
    dead = replace(spec, bias=bias)
    with pytest.warns(UserWarning, match="filter 2: no sequences.*shared base"):
        extraction = extract_pwms(dead, source.iter_batches(1000),
                                  ExactRequest(base_estimator="per-filter", sites="strong"))
    assert extraction.n_used[2] == 0 and np.isfinite(extraction.ln_base[2])
    shared = extract_pwms(dead, source.iter_batches(1000), ExactRequest(base_estimator="shared", sites="strong"))
    assert extraction.ln_base[2] == pytest.approx(shared.ln_base[0])
