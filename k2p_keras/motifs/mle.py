"""Maximum-likelihood estimate of the logarithm's base (section 5 of the supplementary notes).

Each sequence ``s`` has, for filter ``t``, a best window whose position does not depend
on the base (a non-decreasing activation commutes with the global max). Treating those
windows as draws from the PWMs of Theorem 1 gives, with ``v = ln b``,

    ln q(v) = v * sum_t S_t - sum_t sum_i n_ti * logsumexp_a(v * W_t[i, a])

where ``S_t`` is the sum over sequences of the best-window score ``x . W_t`` (bias left
out: it cancels) and ``n_ti`` the summed row weight of position ``i`` in those windows
(the number of windows when they are all one-hot; an all-zero N row weighs 0 and a 0.25
row weighs 1, Theorem 3). ``ln q`` is concave, its derivative is
``sum_t S_t - sum n_ti E_v[W_t[i]]`` and its second derivative ``-sum n_ti Var_v(W_t[i])``,
so a safeguarded Newton iteration finds the unique optimum in a few steps, and
``1 / sqrt(sum n_ti Var_v(W_t[i]))`` is the standard error of ``ln b``.

How the filters share ``v`` is the estimator (:data:`BASE_ESTIMATORS`, :func:`estimate_bases`):
one ``v`` for all filters (``shared``: the sum above), one per filter (``per-filter``: each
``ln q_t`` on its own), or each filter's own estimate shrunk toward the shared one by how
precisely its sites determine it (``shrunk``, :func:`shrink_bases`). Every choice keeps the
PWMs exact: the base is the transformation's only freedom, one per filter.
"""
import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import logsumexp, softmax

from ..errors import K2PError
from ..validate import check_kernel

_MAX_ITER = 200
_TOL = 1e-13

#: How the filters share the base: one for all, one each, or one each shrunk toward the shared one.
BASE_ESTIMATORS = ("shared", "per-filter", "shrunk")

#: The estimator every entry point uses unless told otherwise (Options.base_estimator reads it).
DEFAULT_BASE_ESTIMATOR = "shared"


@dataclass
class BaseEstimate:
    """The base chosen for each filter.

    Attributes
    ----------
    ln_base, base, se : numpy.ndarray, shape (F,)
        ``ln b``, ``b`` and the standard error of ``ln b``; equal across filters when
        ``shared``. NaN for a filter whose likelihood has no maximum with ``b > 1``.
    loglik : numpy.ndarray, shape (F,)
        Each filter's share of the log-likelihood (natural log) at the estimate.
    shared : bool
        One base for all filters (k2p-1.0's choice) or one per filter.
    problems : list of (str or None)
        Why a filter's estimate is NaN, else None.
    estimator : str
        One of :data:`BASE_ESTIMATORS` (default: ``shared`` or ``per-filter``, from ``shared``).
    tau : float
        For ``shrunk``: the spread (standard deviation) of ``ln b`` between filters that the
        shrinkage assumed; NaN otherwise.
    """

    ln_base: np.ndarray
    base: np.ndarray
    se: np.ndarray
    loglik: np.ndarray
    shared: bool
    problems: list
    estimator: str = None
    tau: float = math.nan

    def __post_init__(self):
        if self.estimator is None:
            self.estimator = "shared" if self.shared else "per-filter"

    @property
    def ok(self):
        """Boolean mask of the filters with a finite estimate."""
        return np.isfinite(self.ln_base)


def _row_moments(v, kernel, with_logsumexp=True):
    """Per filter: sum-over-rows pieces of logsumexp, E and Var of ``W[i]`` under ``P_v``.

    ``v`` has shape (F,); ``kernel`` (L, 4, F). Returns three arrays of shape (L, F) (the
    first None when ``with_logsumexp`` is False: Newton's steps need only the moments).
    """
    scaled = kernel * v
    prob = softmax(scaled, axis=1)  # P_v of Theorem 1, row by row
    mean = (prob * kernel).sum(axis=1)
    var = (prob * (kernel - mean[:, None, :]) ** 2).sum(axis=1)
    return (logsumexp(scaled, axis=1) if with_logsumexp else None), mean, var


def log_likelihood(ln_base, kernel, score_sum, row_weight):
    """Each filter's ``ln q(v)`` at ``v = ln_base`` (scalar or (F,)); returns shape (F,)."""
    kernel, score_sum, row_weight = _check_inputs(kernel, score_sum, row_weight)
    v = np.broadcast_to(np.asarray(ln_base, dtype=np.float64), score_sum.shape)
    lse, _, _ = _row_moments(v, kernel)
    return v * score_sum - (row_weight.T * lse).sum(axis=0)


def _check_inputs(kernel, score_sum, row_weight):
    kernel = check_kernel(kernel)
    if kernel.ndim == 2:
        kernel = kernel[:, :, None]
    n_rows, _, n_filters = kernel.shape
    score_sum = np.asarray(score_sum, dtype=np.float64).reshape(-1)
    if score_sum.shape != (n_filters,):
        raise K2PError(f"score_sum: expected one value per filter, shape ({n_filters},), got {score_sum.shape}")
    row_weight = np.asarray(row_weight, dtype=np.float64)
    if row_weight.ndim <= 1:
        row_weight = np.broadcast_to(row_weight.reshape(-1, 1), (n_filters, n_rows))
    if row_weight.shape != (n_filters, n_rows):
        raise K2PError(f"row_weight: expected shape (F, L) = {(n_filters, n_rows)} or one that broadcasts "
                       f"to it, got {row_weight.shape}")
    if not (np.all(np.isfinite(score_sum)) and np.all(np.isfinite(row_weight))):
        raise K2PError("score_sum and row_weight: expected finite numbers, got NaN or infinity")
    if np.any(row_weight < 0):
        raise K2PError(f"row_weight: expected weights >= 0, got {row_weight.min()!r}")
    return kernel, score_sum, np.array(row_weight)


def _degenerate(score, row_weight, kernel):
    """Why ``ln q`` has no maximiser with ``v > 0``, or None.

    The derivative falls from ``S - sum n_i mean_a W[i]`` at ``v = 0`` to
    ``S - sum n_i max_a W[i]`` as ``v -> inf``; the optimum is finite and positive only
    when the first is positive and the second negative.
    """
    total = row_weight.sum()
    if total <= 0:
        return "no sequences to estimate the base from"
    at_zero = score - (row_weight * kernel.mean(axis=-1)).sum()
    at_inf = score - (row_weight * kernel.max(axis=-1)).sum()
    windows = max(row_weight.max(), 1.0)
    if at_inf >= -1e-12 * (1 + abs(score)):
        return (f"the mean best-window score ({score / windows:.6g}) reaches the best possible score "
                f"({(score - at_inf) / windows:.6g}): the likelihood grows without bound as the base grows")
    if at_zero <= 1e-12 * (1 + abs(score)):
        return (f"the mean best-window score ({score / windows:.6g}) is not above the kernel's average score "
                f"({(score - at_zero) / windows:.6g}): no base > 1 maximises the likelihood")
    return None


def _newton(kernel, score, row_weight):
    """Maximise a concave ``ln q`` over ``v > 0``; inputs already summed into one group.

    ``kernel`` (L, 4, G), ``row_weight`` (G, L) and the scalar ``score`` describe G filters
    sharing one ``v``. Newton steps are kept inside a bracket ``[lo, hi]`` that always holds
    the root of the decreasing derivative, so the iteration cannot diverge.
    """
    def derivs(v):
        _, mean, var = _row_moments(np.full(kernel.shape[2], v), kernel, with_logsumexp=False)
        return score - (row_weight.T * mean).sum(), (row_weight.T * var).sum()

    lo, hi = 0.0, 1.0
    while derivs(hi)[0] > 0:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            raise K2PError("the base's likelihood keeps growing; no finite estimate")
    v = 0.5 * (lo + hi)
    for _ in range(_MAX_ITER):
        grad, curvature = derivs(v)
        if grad > 0:
            lo = v
        else:
            hi = v
        step = grad / curvature if curvature > 0 else math.inf
        candidate = v + step
        if not (lo < candidate < hi):
            candidate = 0.5 * (lo + hi)
        if abs(candidate - v) <= _TOL * max(1.0, v) or hi - lo <= _TOL * max(1.0, v):
            v = candidate
            break
        v = candidate
    _, curvature = derivs(v)
    return v, 1.0 / math.sqrt(curvature) if curvature > 0 else math.inf


def estimate_base(kernel, score_sum, row_weight, shared=False, on_degenerate="raise"):
    """Maximum-likelihood ``ln b`` for a Conv1D kernel from best-window statistics.

    Parameters
    ----------
    kernel : array_like, shape (L, 4, F) or (L, 4)
        Cross-correlation kernel (bias excluded: it cancels from the likelihood).
    score_sum : array_like, shape (F,)
        Per filter, the sum over sequences of the best window's score ``x . W`` (no bias).
    row_weight : float or array_like, shape (F,) or (F, L)
        Per filter (and position), the summed row weight of the best windows: the number
        of windows for one-hot windows; see the module docstring for N rows.
    shared : bool
        Estimate one base for all filters (k2p-1.0) instead of one per filter.
    on_degenerate : {"raise", "nan"}
        What to do when a likelihood has no maximum with ``b > 1``: raise ``K2PError``, or
        return NaN for that filter and say why in ``problems``.

    Returns
    -------
    BaseEstimate
    """
    if on_degenerate not in ("raise", "nan"):
        raise K2PError(f"on_degenerate: expected 'raise' or 'nan', got {on_degenerate!r}")
    kernel, score_sum, row_weight = _check_inputs(kernel, score_sum, row_weight)
    n_filters = kernel.shape[2]
    if shared:
        groups = [np.arange(n_filters)]
    else:
        groups = [np.array([t]) for t in range(n_filters)]
    ln_base = np.full(n_filters, np.nan)
    se = np.full(n_filters, np.nan)
    problems = [None] * n_filters
    for group in groups:
        sub_kernel, sub_weight, score = kernel[:, :, group], row_weight[group], score_sum[group].sum()
        problem = _degenerate(score, sub_weight, sub_kernel.transpose(2, 0, 1))
        if problem is not None:
            where = "all filters (shared base)" if shared else f"filter {group[0]}"
            if on_degenerate == "raise":
                raise K2PError(f"cannot estimate the base for {where}: {problem}")
            for t in group:
                problems[t] = problem
            continue
        ln_base[group], se[group] = _newton(sub_kernel, score, sub_weight)
    with np.errstate(invalid="ignore"):
        loglik = np.where(np.isfinite(ln_base),
                          log_likelihood(np.nan_to_num(ln_base, nan=1.0), kernel, score_sum, row_weight),
                          np.nan)
    return BaseEstimate(ln_base=ln_base, base=np.exp(ln_base), se=se, loglik=loglik,
                        shared=bool(shared), problems=problems)


def check_base_estimator(estimator):
    """``estimator`` if it is one of :data:`BASE_ESTIMATORS`, else a one-line :class:`K2PError`."""
    if estimator not in BASE_ESTIMATORS:
        raise K2PError(f"base estimator: expected one of {', '.join(BASE_ESTIMATORS)}, got {estimator!r}")
    return estimator


def between_filter_variance(ln_base, se):
    """The variance ``tau^2`` of the filters' true ``ln b`` about their common mean (method of moments).

    DerSimonian and Laird's estimator (Controlled Clinical Trials 7:177, 1986): with weights
    ``w_t = 1 / se_t^2`` and their weighted mean ``m``, Cochran's ``Q = sum_t w_t (v_t - m)^2``
    has expectation ``(k - 1) + tau^2 (sum w - sum w^2 / sum w)`` over ``k`` filters, so

        tau^2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w)).

    Filters without a finite estimate and SE are left out; fewer than two left give 0.

    Parameters
    ----------
    ln_base, se : array_like, shape (F,)
        Per-filter estimates of ``ln b`` and their standard errors.

    Returns
    -------
    float
    """
    ln_base, se = np.asarray(ln_base, dtype=np.float64), np.asarray(se, dtype=np.float64)
    ok = np.isfinite(ln_base) & np.isfinite(se) & (se > 0)
    if ok.sum() < 2:
        return 0.0
    v, w = ln_base[ok], 1.0 / se[ok] ** 2
    mean = (w * v).sum() / w.sum()
    q = (w * (v - mean) ** 2).sum()
    scale = w.sum() - (w ** 2).sum() / w.sum()
    return max(0.0, (q - (ok.sum() - 1)) / scale) if scale > 0 else 0.0


def shrink_bases(per_filter, shared, tau2=None):
    """Each filter's ``ln b`` shrunk toward the shared one by its standard error (empirical Bayes).

    Each per-filter MLE ``v_t`` is, for many sites, normal about the filter's true ``theta_t``
    with variance ``se_t^2`` (the inverse of ``ln q_t``'s curvature). Let the filters' true
    values spread about a common ``mu`` with variance ``tau^2``. The posterior of ``theta_t``
    is then normal, with mean and standard deviation

        theta_t* = (v_t / se_t^2 + mu / tau^2) / (1 / se_t^2 + 1 / tau^2)
                 = mu + lambda_t (v_t - mu),     lambda_t = tau^2 / (tau^2 + se_t^2),
        sd_t*    = sqrt(lambda_t) * se_t.

    ``mu`` is the shared MLE: with ``tau = 0`` every filter has one base, and the shared
    estimate is that base's MLE (to second order in the ``ln q_t`` it is also the precision-
    weighted mean of the ``v_t``). ``tau^2`` comes from the spread of the ``v_t`` themselves
    (:func:`between_filter_variance`). So ``theta_t*`` lies between ``v_t`` and the shared
    estimate; a filter with few sites (a large ``se_t``) moves far toward the shared base, one
    with many stays near its own; ``tau = 0`` gives the shared estimate, ``tau -> inf`` the
    per-filter one. The PWMs stay exact: any ``ln b > 0`` per filter reproduces the filter.
    The standard error recorded is ``sqrt(lambda_t se_t^2 + (1 - lambda_t)^2 se_mu^2)``: the
    posterior's, plus what the shared estimate's own error ``se_mu`` carries into the shrunk one.

    Parameters
    ----------
    per_filter : BaseEstimate
        Per-filter estimates (NaN where a filter has none: it stays NaN).
    shared : BaseEstimate
        The shared estimate of the same filters.
    tau2 : float, optional
        ``tau^2``; by default estimated from ``per_filter``.

    Returns
    -------
    BaseEstimate
        ``estimator="shrunk"``, ``tau``; ``loglik`` is left as ``per_filter``'s (callers that
        hold the sums recompute it, as :func:`estimate_bases` does).
    """
    v, se = per_filter.ln_base, per_filter.se
    mu = float(shared.ln_base[0])
    if tau2 is None:
        tau2 = between_filter_variance(v, se)
    if not tau2 >= 0:
        raise K2PError(f"tau^2: expected a number >= 0, got {tau2!r}")
    own = np.isfinite(v)
    if tau2 == 0:
        weight = np.zeros_like(v)
    elif math.isinf(tau2):
        weight = np.where(np.isinf(se), 0.0, 1.0)
    else:
        weight = tau2 / (tau2 + se ** 2)  # 0 for an infinite SE
    weight = np.where(own, weight, 0.0)
    ln_base = np.where(own, mu + weight * np.where(own, v - mu, 0.0), np.nan)
    # The posterior's variance lambda * se^2, plus what the shared estimate's own SE adds through
    # the (1 - lambda) share of it: se_shared at tau = 0, se_t at tau = inf.
    own_part = np.where(weight > 0, weight * np.where(own, se, 0.0) ** 2, 0.0)
    shrunk_se = np.where(own, np.sqrt(own_part + (1.0 - weight) ** 2 * float(shared.se[0]) ** 2), np.nan)
    return BaseEstimate(ln_base=ln_base, base=np.exp(ln_base), se=shrunk_se, loglik=per_filter.loglik.copy(),
                        shared=False, problems=list(per_filter.problems), estimator="shrunk",
                        tau=math.sqrt(tau2))


def _fallback_to_shared(estimate, shared):
    """Per-filter estimates that failed take the shared estimate, with a warning each."""
    if estimate.ok.all():
        return estimate
    failed = ~estimate.ok
    for t in np.flatnonzero(failed):
        warnings.warn(f"filter {t}: {estimate.problems[t]}; using the shared base ln b = "
                      f"{shared.ln_base[t]:.6g} for it")
    merged = {name: np.where(failed, getattr(shared, name), getattr(estimate, name))
              for name in ("ln_base", "base", "se", "loglik")}
    return replace(estimate, **merged)


def estimate_bases(kernel, score_sum, row_weight, estimator=DEFAULT_BASE_ESTIMATOR):
    """The base of each filter by one of :data:`BASE_ESTIMATORS`: what :func:`k2p_keras.extract` uses.

    ``shared`` raises :class:`K2PError` when the shared likelihood has no maximum with
    ``b > 1``; with ``per-filter`` and ``shrunk``, a filter whose own likelihood has none takes
    the shared estimate, with a warning naming it.

    Parameters
    ----------
    kernel, score_sum, row_weight
        As for :func:`estimate_base`.
    estimator : {"shared", "per-filter", "shrunk"}

    Returns
    -------
    BaseEstimate
    """
    check_base_estimator(estimator)
    if estimator == "shared":
        return estimate_base(kernel, score_sum, row_weight, shared=True)
    per_filter = estimate_base(kernel, score_sum, row_weight, shared=False, on_degenerate="nan")
    if per_filter.ok.all() and estimator == "per-filter":
        return per_filter
    shared = estimate_base(kernel, score_sum, row_weight, shared=True, on_degenerate="nan")
    if not shared.ok.all():
        raise K2PError(f"cannot estimate the base: {shared.problems[0]}")
    if estimator == "shrunk":
        shrunk = shrink_bases(per_filter, shared)
        with np.errstate(invalid="ignore"):
            loglik = log_likelihood(np.nan_to_num(shrunk.ln_base, nan=1.0), kernel, score_sum, row_weight)
        per_filter = replace(shrunk, loglik=np.where(shrunk.ok, loglik, np.nan))
    return _fallback_to_shared(per_filter, shared)
