"""What is measured on held-out sequences: classification, fidelity to the model, recovery.

Features are best-window log-likelihoods: for each sequence and PWM, the largest
``ln P(window)`` over the positions the model's conv scans (forward strand, ``valid``).
For an exact PWM that window is the conv's own best window and ``log_b P + d`` is the
conv's output there (Theorem 1), which is what the fidelity check rebuilds the model from.
"""
import math

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from k2p_keras.transform import window_log_likelihood

# Keeps log(0) finite when locating windows; the value itself comes from window_log_likelihood.
_TINY = 1e-300


def best_window_log_likelihood(pwms, x):
    """Per sequence and PWM, the largest natural-log likelihood of a window.

    Parameters
    ----------
    pwms : numpy.ndarray, shape (F, L, 4)
    x : numpy.ndarray, shape (N, length, 4)
        One-hot sequences.

    Returns
    -------
    numpy.ndarray, shape (N, F)
    """
    pwms = np.asarray(pwms, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    n_filters, width, _ = pwms.shape
    n_positions = x.shape[1] - width + 1
    log_p = np.log(np.maximum(pwms, _TINY)).transpose(1, 2, 0)  # (L, 4, F)
    # A sum of L small matrix products locates the best windows ten times faster than
    # scoring every window with window_log_likelihood, which then scores the winners.
    scores = np.zeros((x.shape[0], n_positions, n_filters))
    for i in range(width):
        scores += x[:, i:i + n_positions, :] @ log_p[i]
    best = scores.argmax(axis=1)  # (N, F)
    rows = best[:, :, None] + np.arange(width)[None, None, :]
    windows = x[np.arange(x.shape[0])[:, None, None], rows]  # (N, F, L, 4)
    return np.stack([window_log_likelihood(pwms[t], windows[:, t]) for t in range(n_filters)], axis=1)


def _logistic_regression(c=1.0):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))


def classification(train_features, y_train, test_features, y_test):
    """AUROC and AUPRC on the test split of a logistic regression fitted on the training split."""
    classifier = _logistic_regression().fit(train_features, y_train)
    score = classifier.predict_proba(test_features)[:, 1]
    return {"auroc": roc_auc_score(y_test, score), "auprc": average_precision_score(y_test, score)}


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def exact_reconstruction(log_likelihood, ln_base, constants, dense_kernel, dense_bias):
    """The model's output rebuilt from exact PWMs: ``sigmoid(relu(log_b P(best) + d) . w + c)``.

    ``log_likelihood`` is natural-log ``(N, F)``; ``ln_base`` and ``constants`` are per filter.
    """
    activation = np.maximum(log_likelihood / ln_base + constants, 0.0)
    return _sigmoid(activation @ dense_kernel + dense_bias)


def heuristic_reconstruction(train_log_likelihood, train_prediction, test_log_likelihood, width):
    """The model's output rebuilt from heuristic PWMs, which have no constant ``d``.

    The features are ``relu`` of the best window's log-odds against the uniform background
    (``ln P + L ln 4``, the usual PWM score, positive for a window the PWM prefers), and the
    dense layer is refitted: a logistic regression trained on the training split to
    reproduce the model's own probabilities (cross-entropy with soft targets, written as
    each sequence twice, once per label, weighted by the model's probability).
    """
    def features(log_likelihood):
        return np.maximum(log_likelihood + width * math.log(4.0), 0.0)

    train = features(train_log_likelihood)
    n = train.shape[0]
    doubled = np.concatenate([train, train])
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    weights = np.concatenate([train_prediction, 1.0 - train_prediction])
    refit = _logistic_regression(c=1e4).fit(doubled, labels, logisticregression__sample_weight=weights)
    return refit.predict_proba(features(test_log_likelihood))[:, 1]


def fidelity(reconstruction, prediction):
    """MAPE (mean of ``|rebuilt - model| / model``) and MSE against the model's probabilities."""
    error = reconstruction - prediction
    return {"mape": float(np.mean(np.abs(error) / np.abs(prediction))), "mse": float(np.mean(error ** 2))}


def _rowwise_pearson(a, b):
    """Pearson correlation of matching rows; 0 where a row is flat (no correlation defined)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
    numerator = (a * b).sum(axis=1)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 1e-12)


def min_overlap(width):
    """Overlap an alignment needs: half the motif, at least 5 positions (never more than it has)."""
    return min(width, max(5, math.ceil(width / 2)))


def motif_similarity(pwm, motif_pwm):
    """How well a filter's PWM matches a motif, at their best alignment.

    Every offset (partial overlaps of at least :func:`min_overlap` motif positions) and both
    strands of the motif are tried; an alignment scores the mean Pearson correlation of the
    overlapping rows.

    Returns
    -------
    (float, float)
        The best mean correlation, and the mean Euclidean distance of the rows there.
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    motif_pwm = np.asarray(motif_pwm, dtype=np.float64)
    width, motif_width = pwm.shape[0], motif_pwm.shape[0]
    overlap = min_overlap(motif_width) if motif_width <= width else min_overlap(width)
    best = (-np.inf, np.nan)
    for strand in (motif_pwm, motif_pwm[::-1, ::-1]):
        # Motif row j sits on filter row j + offset.
        for offset in range(overlap - motif_width, width - overlap + 1):
            first, last = max(0, -offset), min(motif_width, width - offset)
            a, b = strand[first:last], pwm[first + offset:last + offset]
            score = float(_rowwise_pearson(a, b).mean())
            if score > best[0]:
                best = (score, float(np.linalg.norm(a - b, axis=1).mean()))
    return best


def recovery(pwms, motif_pwm):
    """The best filter's :func:`motif_similarity` to the planted motif.

    Returns
    -------
    (float, float, int)
        Correlation and distance of the filter with the highest correlation, and its index.
    """
    scores = [motif_similarity(pwm, motif_pwm) for pwm in pwms]
    best = max(range(len(scores)), key=lambda t: scores[t][0])
    return scores[best] + (best,)
