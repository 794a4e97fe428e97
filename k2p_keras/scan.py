"""The scan: each sequence's best window for every filter.

This is the only costly step (sequences x positions x filters x kernel length); everything
downstream works on the small per-filter sums it returns. The best window is found in
float32 (as the model itself computes it), then rescored in float64 so that the MLE sees
exact sums. Three routes, chosen by :func:`_scan_route`:

- ``lookup`` (numba installed, no GPU): one-hot batches become letter codes once; a
  compiled loop of table lookups finds the best windows (:mod:`k2p_keras.window_search`)
  and another sums them (:mod:`k2p_keras.window_sums`);
- ``locate`` (numba installed, a GPU): a TensorFlow float32 convolution finds the best
  windows, the compiled loop sums them;
- ``tensorflow``: TensorFlow does both, in one ``tf.function`` per batch.

Batches that are not letter codes (soft rows) always take the ``tensorflow`` route.
TensorFlow places its ops on a GPU when it sees one; it is imported by the first scan,
not when this module is imported.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np

from ._tf import import_tensorflow
from .devices import as_travelling, check_strategy, from_travelling, run_on_replicas, sum_over_workers, worker_share
from .errors import K2PError
from .sites import ScoreHistogram, histogram_grid
from .window_search import code_table_to_word_tables, one_hot_to_best_windows
from .window_sums import (CODE_COMPLEMENT, N_CODES, QUARTER_CODE, ZERO_CODE, accumulate_window_sums, code_table,
                          numba_available)
from .validate import check_bias, check_kernel, check_one_hot_batch, check_one_hot_values, check_positive_int

PADDINGS = ("valid", "same", "causal")


@dataclass
class ScanStats:
    """Per-filter sums over the scanned sequences.

    Attributes
    ----------
    n_sequences : int
        Sequences scanned.
    score_sum : numpy.ndarray, shape (F,)
        Sum of the best window's score ``x . W`` (no bias) over the sequences used for the MLE.
    row_weight : numpy.ndarray, shape (F, L)
        Summed row weight (sum over letters) of each kernel position in those windows.
    n_used : numpy.ndarray, shape (F,)
        Sequences used for the MLE (all, or the active ones with ``exclude_inactive``).
    max_preactivation : numpy.ndarray, shape (F,)
        Largest best-window ``conv + bias`` over all sequences.
    letter_counts : numpy.ndarray, shape (F, L, 4), or None
        Summed one-hot rows of the best windows whose ``conv + bias`` exceeds
        ``letter_threshold`` (the heuristic's counts); None when not requested.
    n_letter_windows : numpy.ndarray, shape (F,), or None
        How many windows went into ``letter_counts``.
    score_histogram : ScoreHistogram or None
        Every sequence's best window sorted into score bins (count, score sum, row
        weights per bin), for the ``strong`` sites of :mod:`k2p_keras.sites`; None when
        not requested.
    letter_totals : numpy.ndarray, shape (4,), or None
        Summed one-hot rows of every scanned sequence (float64): the data's letter
        frequencies once normalised (MEME's background).
    """

    n_sequences: int
    score_sum: np.ndarray
    row_weight: np.ndarray
    n_used: np.ndarray
    max_preactivation: np.ndarray
    letter_counts: np.ndarray = None
    n_letter_windows: np.ndarray = None
    score_histogram: ScoreHistogram = None
    letter_totals: np.ndarray = None


def padding_amounts(length, kernel_length, padding="valid", strides=1):
    """Zero rows Keras adds before and after a sequence of ``length`` (TensorFlow's rule)."""
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return kernel_length - 1, 0
    if padding == "same":
        out = math.ceil(length / strides)
        total = max((out - 1) * strides + kernel_length - length, 0)
        return total // 2, total - total // 2
    raise K2PError(f"padding: expected one of {', '.join(PADDINGS)}, got {padding!r}")


# Letter codes: every row of a one-hot batch is A, C, G, T, an all-zero row (N or padding)
# or a 0.25 row (N). The best windows are rescored from these codes by F x L lookups in
# a float64 table instead of a (B, F, L, 4) float64 product, which at 101 bp cost as much
# as the convolution itself (issue 15). Rows of any other value take the product route.
_CODE_ROWS = ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0), (0.25, 0.25, 0.25, 0.25))


def _one_hot_to_codes(x):
    """Letter codes (B, length) of a float32 one-hot batch, and whether they restore it exactly."""
    tf = import_tensorflow()
    codes = tf.argmax(x, axis=-1, output_type=tf.int32)
    codes = tf.where(tf.reduce_all(x == 0.25, axis=-1), QUARTER_CODE, codes)
    codes = tf.where(tf.reduce_all(x == 0.0, axis=-1), ZERO_CODE, codes)
    exact = tf.reduce_all(tf.gather(tf.constant(_CODE_ROWS, tf.float32), codes) == x)
    return codes, exact


def _best_starts(x, kernel32, strides, left, right):
    """Best window per (sequence, filter) on one strand: its pre-bias float32 score and first row."""
    tf = import_tensorflow()
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]])
    conv = tf.nn.conv1d(padded, kernel32, stride=strides, padding="VALID")  # (B, P, F)
    best = tf.argmax(conv, axis=1, output_type=tf.int32)  # (B, F)
    return tf.reduce_max(conv, axis=1), best * strides


def _window_rows(starts, length):
    tf = import_tensorflow()
    return starts[:, :, None] + tf.range(length)[None, None, :]  # (B, F, L)


def _windows_from_codes(codes, starts, rc_starts, take_rc, left, right, length):
    """The best windows' letter codes (B, F, L), from the forward or the reverse strand."""
    tf = import_tensorflow()
    padded = tf.pad(codes, [[0, 0], [left, right]], constant_values=ZERO_CODE)
    windows = tf.gather(padded, _window_rows(starts, length), batch_dims=1)
    if take_rc is not None:
        rc_padded = tf.gather(tf.constant(CODE_COMPLEMENT, tf.int32), tf.pad(
            codes[:, ::-1], [[0, 0], [left, right]], constant_values=ZERO_CODE))
        rc_windows = tf.gather(rc_padded, _window_rows(rc_starts, length), batch_dims=1)
        windows = tf.where(take_rc[:, :, None], rc_windows, windows)
    return windows


def _windows_from_rows(x, starts, rc_starts, take_rc, left, right, length):
    """The best windows' one-hot rows (B, F, L, 4) in float64, for batches not made of codes."""
    tf = import_tensorflow()
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]])
    windows = tf.gather(padded, _window_rows(starts, length), batch_dims=1)
    if take_rc is not None:
        # Reverse complement: reverse the positions, and A C G T -> T G C A reverses channels.
        rc_padded = tf.pad(x[:, ::-1, ::-1], [[0, 0], [left, right], [0, 0]])
        rc_windows = tf.gather(rc_padded, _window_rows(rc_starts, length), batch_dims=1)
        windows = tf.where(take_rc[:, :, None, None], rc_windows, windows)
    return tf.cast(windows, tf.float64)


def _code_sums(codes, starts, rc_starts, take_rc, left, right, table64):
    """Score (B, F), row weights (B, F, L) and table entries (B, F, L) of code windows.

    ``table64`` (F, L, 6) is :func:`k2p_keras.window_sums.code_table`; an entry is also the
    window row's (filter, position, code) segment for the letter counts.
    """
    tf = import_tensorflow()
    n_filters, length = tf.shape(table64)[0], tf.shape(table64)[1]
    windows = _windows_from_codes(codes, starts, rc_starts, take_rc, left, right, length)
    entry = (tf.range(n_filters)[None, :, None] * length + tf.range(length)[None, None, :]) * N_CODES + windows
    score = tf.reduce_sum(tf.gather(tf.reshape(table64, [-1]), entry), axis=-1)
    row_weight = tf.cast(windows != ZERO_CODE, tf.float64)
    return score, row_weight, entry


def _letters_from_segments(weights, segment, n_filters, length):
    """Letter counts (F, L, 4) from per-window weights (B, F) on code segments (B, F, L)."""
    tf = import_tensorflow()
    data = tf.broadcast_to(weights[:, :, None], tf.shape(segment))
    by_code = tf.reshape(tf.math.unsorted_segment_sum(data, segment, n_filters * length * N_CODES),
                         [n_filters, length, N_CODES])
    return by_code[:, :, :4] + 0.25 * by_code[:, :, QUARTER_CODE:]


def _locate_step(x, pads, kernel32, *, strides, both_strands):
    """One batch's best windows: first rows (B, F), strand (B, F), letter codes (B, length), exactness."""
    tf = import_tensorflow()
    top, starts = _best_starts(x, kernel32, strides, pads[0], pads[1])
    take_rc = tf.zeros_like(starts, tf.bool)
    if both_strands:
        rc_top, rc_starts = _best_starts(x[:, ::-1, ::-1], kernel32, strides, pads[0], pads[1])
        take_rc = rc_top > top
        starts = tf.where(take_rc, rc_starts, starts)
    codes, exact = _one_hot_to_codes(x)
    return starts, take_rc, tf.cast(codes, tf.uint8), exact


def _scan_step(x, pads, kernel32, kernel64, table64, bias64, letter_threshold, bin_low, bin_width, *, strides,
               both_strands, exclude_inactive, active_threshold, count_letters, score_bins):
    """Per-filter sums of one batch; the kernel is an argument so one trace serves every kernel."""
    tf = import_tensorflow()
    left, right = pads[0], pads[1]
    length, n_filters = tf.shape(kernel32)[0], tf.shape(kernel32)[2]
    top, starts = _best_starts(x, kernel32, strides, left, right)
    rc_starts = take_rc = None
    if both_strands:
        rc_top, rc_starts = _best_starts(x[:, ::-1, ::-1], kernel32, strides, left, right)
        take_rc = rc_top > top
    codes, exact = _one_hot_to_codes(x)

    def from_codes():
        return _code_sums(codes, starts, rc_starts, take_rc, left, right, table64)

    def from_rows():
        windows = _windows_from_rows(x, starts, rc_starts, take_rc, left, right, length)
        return (tf.einsum("bfla,laf->bf", windows, kernel64), tf.reduce_sum(windows, axis=-1),
                tf.zeros([0, 0, 0], tf.int32))

    score, row_weight, segment = tf.cond(exact, from_codes, from_rows)
    preact = score + bias64
    if exclude_inactive:
        used = tf.cast(preact > active_threshold, tf.float64)
    else:
        used = tf.ones_like(score)
    out = {
        "score_sum": tf.reduce_sum(used * score, axis=0),
        "row_weight": tf.einsum("bf,bfl->fl", used, row_weight),
        "n_used": tf.reduce_sum(used, axis=0),
        "max_preactivation": tf.reduce_max(preact, axis=0),
    }
    if count_letters:
        counted = tf.cast(preact > letter_threshold, tf.float64)
        out["letter_counts"] = tf.cond(
            exact, lambda: _letters_from_segments(counted, segment, n_filters, length),
            lambda: tf.einsum("bf,bfla->fla", counted,
                              _windows_from_rows(x, starts, rc_starts, take_rc, left, right, length)))
        out["n_letter_windows"] = tf.reduce_sum(counted, axis=0)
    if score_bins:
        out.update(_histogram_step(score, row_weight, bin_low, bin_width, score_bins))
    return out


def _histogram_step(score, row_weight, bin_low, bin_width, score_bins):
    """One batch's best windows (score (B, F), row weights (B, F, L)) summed per score bin.

    Counts and score sums come per bin. Row weights would be a (F, K, L) array per batch,
    whose copying cost as much as the rest of the scan; nearly every row weighs 1 (one-hot
    or 0.25 N rows), so only the windows with another row weight (all-zero N or padding
    rows) are returned, with their bin and ``1 - row weight``, for the caller to add up.
    """
    tf = import_tensorflow()
    n_filters = tf.shape(score)[1]
    index = tf.clip_by_value(tf.floor((score - bin_low) / bin_width), 0.0, score_bins - 1.0)
    # Filter t's bins are segments t * K ... t * K + K - 1 of one flat segment sum.
    segment = tf.reshape(tf.cast(index, tf.int32) + tf.range(n_filters)[None, :] * score_bins, [-1])
    n_segments = n_filters * score_bins
    deficit = tf.reshape(1.0 - row_weight, [-1, tf.shape(row_weight)[2]])
    light = tf.reduce_any(deficit != 0.0, axis=1)
    return {"bin_count": tf.math.unsorted_segment_sum(tf.ones_like(segment, tf.float64), segment, n_segments),
            "bin_score_sum": tf.math.unsorted_segment_sum(tf.reshape(score, [-1]), segment, n_segments),
            "deficit_segment": tf.boolean_mask(segment, light), "deficit_rows": tf.boolean_mask(deficit, light)}


# One traced step per static setting. A callback scans a new kernel every epoch; tracing a
# fresh tf.function each time cost more than the scan itself and made TensorFlow warn about
# retracing, so kernels, bias and thresholds are arguments rather than captured constants.
# The steps branch with tf.cond and on Python settings only: autograph's rewriting of their
# source (1.6 s at the first scan of a process) is not needed.
_TRACED_STEPS = {}


def _traced_step(strides, both_strands, exclude_inactive, active_threshold, count_letters, score_bins):
    tf = import_tensorflow()
    key = (strides, both_strands, exclude_inactive, active_threshold, count_letters, score_bins)
    if key not in _TRACED_STEPS:
        step = functools.partial(_scan_step, strides=strides, both_strands=both_strands,
                                 exclude_inactive=exclude_inactive, active_threshold=active_threshold,
                                 count_letters=count_letters, score_bins=score_bins)
        _TRACED_STEPS[key] = tf.function(step, input_signature=[
            tf.TensorSpec([None, None, 4], tf.float32), tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([None, 4, None], tf.float32), tf.TensorSpec([None, 4, None], tf.float64),
            tf.TensorSpec([None, None, N_CODES], tf.float64), tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64),
            tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64)],
            reduce_retracing=True, autograph=False)
    return _TRACED_STEPS[key]


def _traced_locate(strides, both_strands, travelling=False):
    """The traced locate step; ``travelling``: it takes uint8 quarter units (:func:`k2p_keras.devices.as_travelling`),
    a quarter of float32's bytes to send to a GPU, and converts them there."""
    tf = import_tensorflow()
    key = ("locate", strides, both_strands, travelling)
    if key not in _TRACED_STEPS:
        locate = functools.partial(_locate_step, strides=strides, both_strands=both_strands)

        def step(x, pads, kernel32):
            return locate(from_travelling(x), pads, kernel32)

        _TRACED_STEPS[key] = tf.function(step, input_signature=[
            tf.TensorSpec([None, None, 4], tf.uint8 if travelling else tf.float32), tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([None, 4, None], tf.float32)], reduce_retracing=True, autograph=False)
    return _TRACED_STEPS[key]


RESCORERS = ("auto", "numba", "tensorflow")
#: Sequences whose best windows the compiled kernel sums in one call (:meth:`_BatchScanner._add_compiled`).
PENDING_SEQUENCES = 4096
ROUTES = ("lookup", "locate", "tensorflow")


class _BatchScanner:
    """Holds the kernel as TensorFlow tensors, the traced per-batch functions and the running sums."""

    def __init__(self, kernel, bias, padding, strides, both_strands, exclude_inactive,
                 active_threshold, letter_threshold, score_bins, route, strategy=None):
        tf = import_tensorflow()
        self.strategy = strategy
        n_rows, _, n_filters = kernel.shape
        self.kernel64 = tf.constant(kernel, tf.float64)
        self.kernel32 = tf.constant(kernel, tf.float32)
        self.table = code_table(kernel)
        self.table64 = tf.constant(self.table)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.bias64 = tf.constant(self.bias)
        self.padding, self.strides = padding, strides
        self.exclude_inactive, self.active_threshold = bool(exclude_inactive), float(active_threshold)
        # A scalar, or one threshold per filter (F,); +-inf let no window or every window through.
        self.count_letters = letter_threshold is not None
        self.letter_threshold = np.broadcast_to(np.asarray(
            letter_threshold if self.count_letters else 0.0, dtype=np.float64), (n_filters,)).copy()
        # The score bins' grid (unused, but the traced signature wants it, without score_bins).
        self.bin_low, self.bin_width = histogram_grid(kernel, max(score_bins, 1))
        self.score_bins = score_bins
        self.route, self.both_strands = route, bool(both_strands)
        self._traced = _traced_step(int(strides), bool(both_strands), self.exclude_inactive,
                                    self.active_threshold, self.count_letters, int(score_bins))
        self.word_tables = code_table_to_word_tables(self.table) if route == "lookup" else None
        # Running sums; letters by code (F, L, 6) from the compiled kernel, as letters (F, L, 4) from TensorFlow.
        self.totals = {"score_sum": np.zeros(n_filters), "row_weight": np.zeros((n_filters, n_rows)),
                       "n_used": np.zeros(n_filters), "max_preactivation": np.full(n_filters, -np.inf)}
        if self.count_letters:
            self.totals.update(letter_counts=np.zeros((n_filters, n_rows, 4)), n_letter_windows=np.zeros(n_filters))
        if score_bins:
            self.totals.update(bin_count=np.zeros(n_filters * score_bins), bin_score_sum=np.zeros(n_filters * score_bins))
        self.letters_by_code = np.zeros((n_filters if self.count_letters else 0, n_rows, N_CODES))
        self.deficit = np.zeros((n_filters * score_bins, n_rows))  # see _histogram_step
        self._pending = []  # batches' (codes, starts, take_rc, left) waiting for the compiled sums

    def add(self, x, pads):
        """Add one batch ``x`` (B, length, 4) padded by ``pads`` (left, right) to the sums.

        Returns the batch's summed rows (4,), float64: its letter totals.
        """
        if self.route == "lookup":
            letter_totals = self._add_looked_up(x, pads)
            if letter_totals is not None:
                return letter_totals
        check_one_hot_values(x)  # the compiled lookups took only the six code rows: here, any other
        letter_totals = x.sum(axis=(0, 1), dtype=np.float64)
        tf = import_tensorflow()
        tf_pads = tf.constant(pads, tf.int32)
        if self.route == "locate":
            # One-hot, zero and 0.25 rows travel to the device (a GPU) as uint8: a quarter of the bytes.
            sent = as_travelling(x)
            locate = _traced_locate(int(self.strides), self.both_strands, travelling=sent.dtype == np.uint8)
            starts, take_rc, codes, exact = locate(tf.constant(sent), tf_pads, self.kernel32)
            if bool(exact):
                self._add_compiled(codes.numpy(), starts.numpy(), take_rc.numpy(), pads[0])
                return letter_totals
        args = (tf_pads, self.kernel32, self.kernel64, self.table64, self.bias64,
                tf.constant(self.letter_threshold), tf.constant(self.bin_low), tf.constant(self.bin_width))
        if self.strategy is None:
            self._accumulate(self._traced(tf.constant(x, tf.float32), *args))
        else:  # each replica's shard of the batch (placed by run_on_replicas), summed like a batch of its own
            for out in run_on_replicas(self.strategy, self._traced, x, *args):
                self._accumulate(out)
        return letter_totals

    def _accumulate(self, out):
        """Add one traced step's sums (a batch's, or a replica's shard's) to the running sums."""
        self._flush()  # the queued batches first: the sums are added in the batches' order
        if self.score_bins:
            np.add.at(self.deficit, out.pop("deficit_segment").numpy(), out.pop("deficit_rows").numpy())
        for key, value in out.items():
            if key == "max_preactivation":
                np.maximum(self.totals[key], value.numpy(), out=self.totals[key])
            else:
                self.totals[key] += value.numpy()

    def _add_looked_up(self, x, pads):
        """The lookup route: the batch's letter totals, or None (nothing added) when it is not letter codes."""
        codes = np.empty(x.shape[:2], dtype=np.uint8)
        code_counts = np.zeros((x.shape[0], N_CODES), dtype=np.int64)
        starts = np.empty((x.shape[0], self.table.shape[0]), dtype=np.int32)
        take_rc = np.empty(starts.shape, dtype=np.bool_)
        if not one_hot_to_best_windows(x, int(pads[0]), int(pads[1]), int(self.strides), self.table.shape[1],
                                       *self.word_tables, self.both_strands, codes, code_counts, starts, take_rc):
            return None
        self._add_compiled(codes, starts, take_rc, pads[0])
        counts = code_counts.sum(axis=0)
        return counts[:4] + 0.25 * counts[QUARTER_CODE]

    def sum_over_workers(self, n_sequences, letter_totals):
        """Every worker's sums added up (a strategy across machines: each scanned its share)."""
        self._flush()
        mine = {**self.totals, "deficit": self.deficit, "letters_by_code": self.letters_by_code,
                "n_sequences": np.array([float(n_sequences)]), "letter_totals": letter_totals}
        every = sum_over_workers(self.strategy, mine, maxima=("max_preactivation",))
        self.totals = {key: every[key] for key in self.totals}
        self.deficit, self.letters_by_code = every["deficit"], every["letters_by_code"]
        return int(every["n_sequences"][0]), every["letter_totals"]

    def _add_compiled(self, codes, starts, take_rc, left):
        """Queue a batch's best windows for the compiled sums, which run on ``PENDING_SEQUENCES`` at a time.

        Each call of the compiled kernel starts and joins threads (about a millisecond, more on
        a busy machine); on short sequences that cost as much as the sums of a 512-sequence
        batch. The queue holds letter codes and positions only (under 2 MB at 1,000 bp).
        """
        if self._pending and (self._pending[0][0].shape[1], self._pending[0][3]) != (codes.shape[1], left):
            self._flush()  # another length or padding: the queue holds one shape
        self._pending.append((codes, starts, take_rc, left))
        if sum(len(batch[0]) for batch in self._pending) >= PENDING_SEQUENCES:
            self._flush()

    def _flush(self):
        """Add the queued batches' best windows to the running sums."""
        if not self._pending:
            return
        codes, starts, take_rc = (np.concatenate([batch[i] for batch in self._pending]) for i in range(3))
        left = self._pending[0][3]
        self._pending = []
        t = self.totals
        n_filters = self.table.shape[0]
        empty = np.zeros(0)
        bins = self.score_bins
        accumulate_window_sums(
            codes, starts, take_rc, int(left), self.table, self.bias, self.exclude_inactive, self.active_threshold,
            self.letter_threshold, self.bin_low, self.bin_width, t["score_sum"], t["row_weight"], t["n_used"],
            t["max_preactivation"], self.letters_by_code, t.get("n_letter_windows", empty),
            t["bin_count"].reshape(n_filters, bins) if bins else np.zeros((n_filters, 0)),
            t["bin_score_sum"].reshape(n_filters, bins) if bins else np.zeros((n_filters, 0)), self.deficit)

    def stats(self, n_sequences, letter_totals=None):
        self._flush()
        t = self.totals
        letter_counts = None
        if self.count_letters:
            by_code = self.letters_by_code
            letter_counts = t["letter_counts"] + by_code[:, :, :4] + 0.25 * by_code[:, :, QUARTER_CODE:]
        return ScanStats(
            n_sequences=n_sequences, score_sum=t["score_sum"], row_weight=t["row_weight"],
            n_used=t["n_used"].astype(np.int64), max_preactivation=t["max_preactivation"],
            letter_counts=letter_counts,
            n_letter_windows=t["n_letter_windows"].astype(np.int64) if self.count_letters else None,
            score_histogram=self._histogram() if self.score_bins else None, letter_totals=letter_totals)

    def _histogram(self):
        n_filters, bins = self.table.shape[0], self.score_bins
        count = self.totals["bin_count"].reshape(n_filters, bins)
        return ScoreHistogram(low=self.bin_low, width=self.bin_width, count=count,
                              score_sum=self.totals["bin_score_sum"].reshape(n_filters, bins),
                              row_weight=count[:, :, None] - self.deficit.reshape(n_filters, bins, -1))


def load_compiled_kernels():
    """Load the lookup route's compiled kernels now: numba's one-time start-up in a process.

    The first call of a numba kernel in a process loads numba's registries and the kernel
    cached on disk (about half a second here; minutes when the cache must be compiled). The
    callback runs this in a thread while the first epoch trains, so that its first dump does
    not pay it. Does nothing where the scan takes another route (no numba, or a GPU).
    """
    if _scan_route("auto") != "lookup":
        return
    # Every argument of the compiled kernels has one type whatever the shapes and options
    # (float32 batches, float64 tables, 2-D arrays for the optional sums), so one tiny scan
    # loads the very kernels the real scans call.
    scan_best_windows([np.zeros((1, 2, 4), np.float32)], np.ones((2, 4, 1), np.float32), score_bins=1,
                      letter_threshold=0.0, rescore="numba")


def _gpu_visible():
    return bool(import_tensorflow().config.get_visible_devices("GPU"))  # --devices cpu hides them


def _scan_route(rescore, strategy=None):
    """The route of one-hot batches (one of ``ROUTES``) for ``scan_best_windows(rescore=...)``.

    "auto" takes the compiled lookups when numba is installed, except on a GPU, where
    TensorFlow's convolution finds the best windows faster than the CPU's cores. Under a
    ``tf.distribute`` strategy the devices find and rescore the windows (TensorFlow).
    """
    if rescore not in RESCORERS:
        raise K2PError(f"rescore: expected one of {', '.join(RESCORERS)}, got {rescore!r}")
    if rescore == "numba" and not numba_available():
        raise K2PError("rescore='numba' needs numba: pip install 'k2p-keras[fast]'")
    if rescore == "numba" and strategy is not None:
        raise K2PError("rescore='numba' rescores on this machine's CPU: it does not run under a strategy")
    if rescore == "tensorflow" or strategy is not None or not numba_available():
        return "tensorflow"
    if rescore == "auto" and _gpu_visible():
        return "locate"
    return "lookup"


#: What a batch of ``batch_size="auto"`` may hold. The lookup route: its float32 one-hot rows
#: (each parallel call costs a start, about a millisecond, so short sequences want large
#: batches). TensorFlow's routes: the float32 convolution's output of every strand, and
#: on the "tensorflow" route the best windows' float64 rows too; on a CPU this many bytes,
#: on a GPU an eighth of its memory (the smallest GPU's, as ``nvidia-smi`` reports it).
LOOKUP_BATCH_BYTES = 16 * 2 ** 20
TENSORFLOW_BATCH_BYTES = 256 * 2 ** 20
GPU_MEMORY_SHARE = 1 / 8
MAX_AUTO_BATCH = 16384


def auto_batch_size(length, kernel_rows, n_filters, *, both_strands=False, strides=1, strategy=None,
                    rescore="auto", gpu_memory=None):
    """Sequences per batch for ``batch_size="auto"``: as many as the route's byte budget holds.

    Parameters
    ----------
    length : int
        The longest sequence.
    kernel_rows, n_filters : int
        The kernel's rows (dilation expanded) and filters.
    both_strands : bool
    strides : int
    strategy : tf.distribute.Strategy, optional
        Each replica takes a share of the batch: the budget is each device's.
    rescore : {"auto", "numba", "tensorflow"}
        The route, as :func:`scan_best_windows` takes it.
    gpu_memory : int, optional
        Bytes of one GPU; by default, when TensorFlow sees a GPU, the smallest GPU's memory
        as ``nvidia-smi`` reports it (:func:`_gpu_memory`; the CPU's budget when it cannot say).

    Returns
    -------
    int
        Between 1 and ``MAX_AUTO_BATCH``.
    """
    route = _scan_route(rescore, strategy)
    if route == "lookup":
        per_sequence, budget = 16 * length, LOOKUP_BATCH_BYTES
    else:
        strands = 2 if both_strands else 1
        windows = length // strides + 1  # padding included, at most
        per_sequence = 4 * windows * n_filters * strands
        if route == "tensorflow":
            per_sequence += 8 * 4 * kernel_rows * n_filters * strands
        if gpu_memory is None and _gpu_visible():
            gpu_memory = _gpu_memory()
        budget = TENSORFLOW_BATCH_BYTES if gpu_memory is None else int(gpu_memory * GPU_MEMORY_SHARE)
        if strategy is not None:  # each of this machine's devices takes a share (other machines: other batches)
            budget *= len(strategy.extended.worker_devices)
    return int(min(max(budget // max(per_sequence, 1), 1), MAX_AUTO_BATCH))


@functools.lru_cache(maxsize=None)
def _gpu_memory():
    """Bytes of the smallest GPU on this machine (``nvidia-smi``), or None when it does not say.

    TensorFlow has no public call for a device's memory (``device_lib.list_local_devices``
    creates a context on every GPU, the hidden ones too), so the driver's tool is asked, once
    per process; the smallest GPU, so the size fits whichever device the scan uses.
    """
    import subprocess

    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=20)
        totals = [int(line) for line in done.stdout.split() if line.strip().isdigit()]
    except (OSError, subprocess.SubprocessError):
        return None
    return min(totals) * 2 ** 20 if done.returncode == 0 and totals else None  # MiB


def scan_best_windows(batches, kernel, bias=None, *, padding="valid", strides=1, both_strands=False,
                      exclude_inactive=False, active_threshold=0.0, letter_threshold=None,
                      score_bins=None, progress=None, rescore="auto", strategy=None):
    """Scan sequences with a Conv1D kernel and sum what the MLE and the heuristic need.

    Parameters
    ----------
    batches : iterable of numpy.ndarray, each (B, length, 4)
        One-hot sequences (N rows all-zero or 0.25), e.g. ``SequenceSource.iter_batches()``.
    kernel : numpy.ndarray, shape (L, 4, F)
        Cross-correlation kernel with dilation already expanded (zero rows in the gaps).
    bias : numpy.ndarray, shape (F,), optional
    padding : {"valid", "same", "causal"}
        As the Conv1D layer pads: padding rows are zero rows (N).
    strides : int
        Only windows starting at multiples of ``strides`` (in the padded sequence) count.
    both_strands : bool
        Also scan the reverse complement and keep the better of the two best windows.
    exclude_inactive : bool
        Leave out of the MLE sums the sequences whose best ``conv + bias`` is not above
        ``active_threshold`` (a ReLU's zero output).
    active_threshold : float
    letter_threshold : float or numpy.ndarray of shape (F,), optional
        When given, also count the letters of best windows with ``conv + bias`` above it
        (one threshold for all filters, or one per filter).
    score_bins : int, optional
        When given, also sort every sequence's best window into this many bins of its score
        (``ScanStats.score_histogram``; :func:`k2p_keras.sites.histogram_grid` places them).
    progress : callable, optional
        Called with the number of sequences in each finished batch.
    rescore : {"auto", "numba", "tensorflow"}
        Where the best windows of one-hot batches are found and rescored in float64 from
        their letter codes: numba's compiled table lookups (:mod:`k2p_keras.window_search`,
        :mod:`k2p_keras.window_sums`) or TensorFlow's float32 convolution and gathers.
        "auto" picks numba when it is installed; on a GPU, the convolution then finds the
        windows and numba rescores them. The routes give the same sums up to float64
        rounding (and the same windows unless two scores differ by float32 rounding);
        batches with other values than one-hot, zero and 0.25 rows are always scanned by
        TensorFlow from their rows.
    strategy : tf.distribute.Strategy, optional
        Split each batch among the strategy's replicas (e.g. ``MirroredStrategy`` over a
        machine's GPUs, :mod:`k2p_keras.devices`); the sums are the same up to float64
        rounding. The best windows are then found and rescored by TensorFlow on each
        device. Across machines, each worker (given the same batches) scans every n-th
        batch and the sums are all-reduced: every worker returns the stats of all the sequences.

    Returns
    -------
    ScanStats
    """
    kernel = check_kernel(kernel, single=False, float32=True)
    n_rows, _, n_filters = kernel.shape
    bias = check_bias(bias, n_filters)
    if padding not in PADDINGS:
        raise K2PError(f"padding: expected one of {', '.join(PADDINGS)}, got {padding!r}")
    strides = check_positive_int(strides, "strides")
    score_bins = 0 if score_bins is None else check_positive_int(score_bins, "score_bins")
    scanner = _BatchScanner(kernel, bias, padding, strides, both_strands, exclude_inactive,
                            active_threshold, letter_threshold, score_bins, _scan_route(rescore, strategy),
                            check_strategy(strategy))
    n_sequences = 0
    letter_totals = np.zeros(4)
    worker, n_workers = worker_share(strategy)
    for i, batch in enumerate(batches):
        batch = check_one_hot_batch(batch, values=False)  # values: in scanner.add, on the route that reads them
        left, right = padding_amounts(batch.shape[1], n_rows, padding, strides)
        if batch.shape[1] + left + right < n_rows:
            raise K2PError(f"sequences of length {batch.shape[1]} are shorter than the kernel ({n_rows})")
        if i % n_workers != worker:  # another worker's share (every worker checks every batch alike)
            continue
        letter_totals += scanner.add(batch, [left, right])
        n_sequences += batch.shape[0]
        if progress is not None:
            progress(batch.shape[0])
    if n_workers > 1:
        n_sequences, letter_totals = scanner.sum_over_workers(n_sequences, letter_totals)
    if n_sequences == 0:
        raise K2PError("no sequences to scan")
    return scanner.stats(n_sequences, letter_totals)


def conv_preactivation(batch, kernel, bias=None, *, padding="valid", strides=1):
    """``conv + bias`` on every window, as a Conv1D computes it (float32 TensorFlow conv).

    Parameters
    ----------
    batch : numpy.ndarray, shape (B, length, 4)
    kernel : numpy.ndarray, shape (L, 4, F)
        Cross-correlation kernel, dilation expanded.
    bias : numpy.ndarray, shape (F,), optional
    padding : {"valid", "same", "causal"}
    strides : int

    Returns
    -------
    numpy.ndarray, shape (B, positions, F), float64
        Window ``p`` starts at row ``p * strides`` of the sequence padded with zero rows.
    """
    tf = import_tensorflow()
    kernel = check_kernel(kernel, single=False, float32=True)
    batch = check_one_hot_batch(batch)
    left, right = padding_amounts(batch.shape[1], kernel.shape[0], padding, strides)
    padded = tf.pad(tf.constant(batch, tf.float32), [[0, 0], [left, right], [0, 0]])
    conv = tf.nn.conv1d(padded, tf.constant(kernel, tf.float32), stride=int(strides), padding="VALID")
    if bias is not None:
        conv = conv + tf.constant(bias, tf.float32)
    return conv.numpy().astype(np.float64)
