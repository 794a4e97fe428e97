"""Activation diagnostics: what each filter's best window says about the sequences, from the scan's own pass.

    labels (N, k) --binary_labels--> LabelColumns (1/0 indicators of the binary columns)
    ScanStats.diagnostics (ActivationSums) --activation_diagnostics--> Diagnostics

Per filter, the scan that estimates the base also sums each sequence's best window (the
filter's largest ``conv + bias`` in the sequence, the per-sequence feature a global max-pool
passes on, that Basset and ExplaiNN read): its score sorted into the scan's 1000 bins, per
label column too, its position along the sequence and its activation
(:class:`k2p_keras.scan.stats.ActivationSums`). No second pass, memory independent of the
number of sequences. From those sums:

``auroc``
    the filter's AUROC alone: how well the best ``conv + bias`` ranks a binary label's
    positives above its negatives, from the two classes' histograms on one grid (pairs in one
    bin count one half). It ranks ``conv + bias`` before the activation: a ReLU's zeros would
    tie every inactive sequence.
``mean_activation_<class>``
    the mean activation of the best window in each class (all sequences: ``mean_activation``).
``central_share``, ``central_enrichment``
    the share of sequences whose best window is centred in the middle fifth of the sequence,
    and that share over the share of the window positions centred there: about 1 when the
    best windows lie anywhere, above 1 when they gather at the centre (peak summits).

After a local max-pool the best window is the best of the pooling blocks' best windows: the
sequence's best, except for windows that no block holds (valid pooling leaves out the last
windows when the blocks do not fill the sequence), which the model never sees either.
"""
import math
from dataclasses import dataclass

import numpy as np

from ...errors import K2PError
from ...scan.stats import ActivationSums
from ...scan.windows import padding_amounts

#: The centre the best windows are counted in: the middle fifth of the sequence.
CENTRAL_FRACTION = 0.2

#: Bins of the report's histogram of best activations, at most.
DISPLAY_BINS = 40


@dataclass
class LabelColumns:
    """The binary columns of the sequences' labels, as the scan sums them.

    Attributes
    ----------
    indicators : numpy.ndarray, shape (N, J), float64
        1.0 where a sequence is in the column's positive class (its larger value), else 0.0.
    names : list of str
        Each column's name in the summary: ``""`` for labels of one column, else its index.
    classes : list of (str, str)
        Each column's negative and positive class, e.g. ``("0", "1")``.
    skipped : list of int
        Columns that are not binary (continuous outputs, class indices): no AUROC.
    source : str or None
        Where the labels came from.
    """

    indicators: np.ndarray
    names: list
    classes: list
    skipped: list
    source: str = None

    @property
    def n_columns(self):
        return self.indicators.shape[1]


def binary_labels(labels, source=None):
    """The binary columns of ``labels`` as 1/0 indicators; None for no labels.

    A column is binary when it holds at most two values; the larger is the positive class.
    Other columns are listed in ``skipped``.

    Parameters
    ----------
    labels : numpy.ndarray, shape (N,) or (N, k), or None
        As :func:`k2p_keras.io.labels.open_labels` returns them.
    source : str, optional

    Returns
    -------
    LabelColumns or None
    """
    if labels is None:
        return None
    labels = np.asarray(labels, dtype=np.float64)
    labels = labels.reshape(len(labels), -1)
    columns, names, classes, skipped = [], [], [], []
    for j in range(labels.shape[1]):
        values = np.unique(labels[:, j])
        if len(values) > 2:
            skipped.append(j)
            continue
        negative, positive = (values[0], values[-1]) if len(values) == 2 else (min(values[0], 0.0), max(values[0], 1.0))
        columns.append(labels[:, j] == positive)
        names.append("" if labels.shape[1] == 1 else str(j))
        classes.append((f"{negative:g}", f"{positive:g}"))
    indicators = np.stack(columns, axis=1).astype(np.float64) if columns else np.zeros((len(labels), 0))
    return LabelColumns(indicators, names, classes, skipped, source)


def auroc_from_histograms(positive, negative):
    """AUROC of a score from its positives' and negatives' histograms on one grid.

    The probability that a positive scores above a negative, pairs in the same bin counting
    one half (the AUROC of the scores rounded to their bins).

    Parameters
    ----------
    positive, negative : numpy.ndarray, shape (K,)
        Counts per bin, lowest bin first.

    Returns
    -------
    float
        NaN when a class is empty.
    """
    positive, negative = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    n_positive, n_negative = positive.sum(), negative.sum()
    if n_positive == 0 or n_negative == 0:
        return math.nan
    below = np.cumsum(negative) - negative
    return float((positive * (below + 0.5 * negative)).sum() / (n_positive * n_negative))


def _coarse(counts, n_bins):
    """Counts (..., K) summed into ``n_bins`` bins of equal span (K a multiple of it)."""
    return counts.reshape(*counts.shape[:-1], n_bins, -1).sum(axis=-1)


@dataclass
class Diagnostics:
    """Per filter: its best activation's distribution, its AUROC alone, its best windows' positions.

    Attributes
    ----------
    sums : ActivationSums
        The scan's sums (:class:`k2p_keras.scan.stats.ActivationSums`).
    bias : numpy.ndarray, shape (F,)
    labels : LabelColumns or None
    auroc : numpy.ndarray, shape (F, J)
        Each filter's AUROC alone, per binary label column.
    class_means : numpy.ndarray, shape (F, J, 2)
        The mean activation of the best window in each column's negative and positive class.
    mean_activation : numpy.ndarray, shape (F,)
        Over all sequences.
    central_share, central_enrichment : numpy.ndarray, shape (F,)
        The share of best windows centred in the middle fifth, and that over the share of the
        window positions centred there; NaN for sequences of several lengths.
    activation : str
        What was averaged, e.g. ``"relu(conv + bias)"``.
    """

    sums: ActivationSums
    bias: np.ndarray
    labels: LabelColumns = None
    auroc: np.ndarray = None
    class_means: np.ndarray = None
    mean_activation: np.ndarray = None
    central_share: np.ndarray = None
    central_enrichment: np.ndarray = None
    activation: str = "conv + bias"

    @property
    def n_sequences(self):
        return int(self.sums.count[0].sum()) if len(self.sums.count) else 0

    @property
    def columns(self):
        """The summary's columns: ``mean_activation``, the centre's two, then per label column
        ``auroc[_j]`` and ``mean_activation[_j]_<class>`` for both classes."""
        columns = ("mean_activation", "central_share", "central_enrichment")
        for name, classes in self._label_columns():
            columns += (f"auroc{name}",) + tuple(f"mean_activation{name}_{c}" for c in classes)
        return columns

    def _label_columns(self):
        if self.labels is None:
            return []
        return [("_" + name if name else "", classes) for name, classes in zip(self.labels.names, self.labels.classes)]

    def summary_columns(self, f):
        """Filter ``f``'s figures, named as :attr:`columns`."""
        row = {"mean_activation": float(self.mean_activation[f]), "central_share": float(self.central_share[f]),
               "central_enrichment": float(self.central_enrichment[f])}
        for j, (name, classes) in enumerate(self._label_columns()):
            row[f"auroc{name}"] = float(self.auroc[f, j])
            for c, label in enumerate(classes):
                row[f"mean_activation{name}_{label}"] = float(self.class_means[f, j, c])
        return row

    def describe(self):
        """One line for people: the filters that tell the classes apart best, and what was skipped."""
        line = f"diagnostics: {self.n_sequences} sequences' best windows"
        if self.labels is not None and self.labels.n_columns:
            best = np.nanmax(self.auroc, axis=1) if self.auroc.size else np.full(len(self.bias), np.nan)
            order = [t for t in np.argsort(-np.nan_to_num(best, nan=-1.0)) if np.isfinite(best[t])][:3]
            line += f"; AUROC alone ({self.labels.source or 'labels'}): " + ", ".join(
                f"filter {t} {best[t]:.3f}" for t in order)
        if self.labels is not None and self.labels.skipped:
            line += f"; label columns {', '.join(map(str, self.labels.skipped))} are not binary: no AUROC"
        return line

    def activation_histogram(self, f, column=0, max_bins=DISPLAY_BINS):
        """``(edges, {class: counts})`` of filter ``f``'s best ``conv + bias`` over its occupied range
        (all sequences without labels, else the two classes of label column ``column``)."""
        sums = self.sums
        n_bins = sums.label_count.shape[2] if self.labels is not None and self.labels.n_columns else sums.count.shape[1]
        total = _coarse(sums.count[f], n_bins)
        if self.labels is not None and self.labels.n_columns:
            positive = sums.label_count[f, column]
            negative_name, positive_name = self.labels.classes[column]
            prefix = f"{self.labels.names[column]} = " if self.labels.names[column] else ""
            by_class = {prefix + negative_name: total - positive, prefix + positive_name: positive}
        else:
            by_class = {"all": total}
        used = np.flatnonzero(total)
        first, last = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, n_bins)
        step = -(-(last - first) // max_bins)
        n_shown = -(-(last - first) // step)
        width = sums.width[f] * (sums.count.shape[1] // n_bins)
        edges = sums.low[f] + self.bias[f] + width * (first + step * np.arange(n_shown + 1))
        # The last shown bin may reach past the grid: empty there.
        return edges, {name: _coarse(np.pad(counts, (0, step * n_shown))[first:first + step * n_shown], n_shown)
                       for name, counts in by_class.items()}

    def position_histogram(self, f):
        """Filter ``f``'s best windows per position: (P, 2), forward and reverse strand each in its own
        strand's order, or (P,) when none lies on the reverse strand (a forward-only scan)."""
        positions = self.sums.positions[f]
        return positions if positions[:, 1].any() else positions[:, 0]

    def report_fields(self, f):
        """The :class:`~k2p_keras.annotate.draw.filters.FilterReport` fields of filter ``f``: with labels of several
        columns, the AUROC and class means of its best column, the others in a figure."""
        fields = {"position_histogram": self.position_histogram(f), "figures": {
            "mean activation": f"{self.mean_activation[f]:.4g} ({self.activation})",
            "best windows in the middle fifth": f"{self.central_share[f]:.1%} (x {self.central_enrichment[f]:.2f})"}}
        column = 0
        if self.labels is not None and self.labels.n_columns:
            scores = np.nan_to_num(self.auroc[f], nan=-1.0)
            column = int(np.argmax(scores))
            name, classes = self.labels.names[column], self.labels.classes[column]
            prefix = f"{name} = " if name else ""
            fields["auroc"] = float(self.auroc[f, column])
            fields["class_means"] = {prefix + c: float(self.class_means[f, column, i]) for i, c in enumerate(classes)}
            if self.labels.n_columns > 1:
                fields["figures"]["AUROC alone per label column"] = ", ".join(
                    f"{n}: {a:.3f}" for n, a in zip(self.labels.names, self.auroc[f]))
        fields["activation_histogram"] = self.activation_histogram(f, column)
        return fields


def _central(sums, kernel_rows, padding, strides):
    """Share of the best windows centred in the middle fifth, and the share of window positions centred there."""
    n_filters, n_positions = sums.positions.shape[:2]
    if sums.min_length != sums.max_length:
        return np.full(n_filters, np.nan), np.full(n_filters, np.nan)
    length = sums.max_length
    left, _ = padding_amounts(length, kernel_rows, padding, strides)
    # The reverse strand is padded as the forward one, so its window p lies as far from the centre.
    centre = np.arange(n_positions) * strides - left + (kernel_rows - 1) / 2
    held = np.abs(centre - (length - 1) / 2) <= CENTRAL_FRACTION * length / 2
    counts = sums.positions.sum(axis=2)
    share = counts @ held / np.maximum(counts.sum(axis=1), 1)
    return share, share / held.mean() if held.any() else np.full(n_filters, np.nan)


def activation_diagnostics(sums, bias, labels=None, *, kernel_rows, padding="valid", strides=1,
                           activation="conv + bias"):
    """The activation diagnostics from the scan's sums.

    Parameters
    ----------
    sums : ActivationSums
        ``ScanStats.diagnostics`` of a scan with ``diagnostics=True`` (and the labels' indicators).
    bias : numpy.ndarray, shape (F,)
    labels : LabelColumns, optional
        The label columns the scan summed (``labels.indicators`` travelled with the batches).
    kernel_rows : int
        The conv's window (dilation expanded), ``padding`` and ``strides``: where each position's window lies.
    activation : str
        What the activation sums are of, for people.

    Returns
    -------
    Diagnostics
    """
    if labels is not None and labels.n_columns != sums.n_labels:
        raise K2PError(f"the scan summed {sums.n_labels} label column(s), the labels have {labels.n_columns}")
    n_filters = sums.count.shape[0]
    n = np.maximum(sums.count.sum(axis=1), 1)
    n_columns = sums.n_labels
    auroc = np.full((n_filters, n_columns), np.nan)
    class_means = np.full((n_filters, n_columns, 2), np.nan)
    if n_columns:
        total = _coarse(sums.count, sums.label_count.shape[2])
        for f in range(n_filters):
            for j in range(n_columns):
                positive = sums.label_count[f, j]
                auroc[f, j] = auroc_from_histograms(positive, total[f] - positive)
                n_positive = positive.sum()
                with np.errstate(invalid="ignore", divide="ignore"):
                    class_means[f, j] = [(sums.activation_sum[f] - sums.label_activation_sum[f, j]) / (n[f] - n_positive),
                                         sums.label_activation_sum[f, j] / n_positive]
    share, enrichment = _central(sums, kernel_rows, padding, strides)
    return Diagnostics(sums=sums, bias=np.asarray(bias, dtype=np.float64), labels=labels, auroc=auroc,
                       class_means=class_means, mean_activation=sums.activation_sum / n, central_share=share,
                       central_enrichment=enrichment, activation=activation)
