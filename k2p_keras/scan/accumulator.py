"""The scan's running sums: each batch's best windows, found on its route, added in order."""
import numpy as np

from .._tf import import_tensorflow
from ..validate import check_one_hot_values
from .codes import code_table, N_CODES, QUARTER_CODE
from .devices import as_travelling, run_on_replicas, sum_over_workers
from .lookup import code_table_to_word_tables, one_hot_to_best_windows
from .rescore import accumulate_window_sums
from .stats import histogram_grid, ScanStats, ScoreHistogram
from .tf_steps import traced_locate, traced_step


#: Sequences whose best windows the compiled kernel sums in one call (:meth:`BatchScanner._add_compiled`).
PENDING_SEQUENCES = 4096


class BatchScanner:
    """Holds the kernel's tables, the running sums and, once a batch needs TensorFlow, its tensors."""

    def __init__(self, kernel, bias, padding, strides, both_strands, active_only,
                 active_threshold, letter_threshold, score_bins, route, strategy=None):
        self.strategy = strategy
        n_rows, _, n_filters = kernel.shape
        self.kernel = kernel
        self.table = code_table(kernel)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.padding, self.strides = padding, strides
        self.active_only, self.active_threshold = bool(active_only), float(active_threshold)
        # A scalar, or one threshold per filter (F,); +-inf let no window or every window through.
        self.count_letters = letter_threshold is not None
        self.letter_threshold = np.broadcast_to(np.asarray(
            letter_threshold if self.count_letters else 0.0, dtype=np.float64), (n_filters,)).copy()
        # The score bins' grid (unused, but the traced signature wants it, without score_bins).
        self.bin_low, self.bin_width = histogram_grid(kernel, max(score_bins, 1))
        self.score_bins = score_bins
        self.route, self.both_strands = route, bool(both_strands)
        self._tf = None  # the kernel as TensorFlow tensors and the traced step: see _tensorflow
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

    def _tensorflow(self):
        """The kernel, code table and bias as TensorFlow constants, and the traced step.

        Made when a batch first needs TensorFlow: on the lookup route only a batch that is
        not letter codes does, so a CPU scan of one-hot sequences never loads TensorFlow.
        """
        if self._tf is None:
            tf = import_tensorflow()
            self._tf = {
                "tf": tf, "kernel32": tf.constant(self.kernel, tf.float32),
                "kernel64": tf.constant(self.kernel, tf.float64), "table64": tf.constant(self.table),
                "bias64": tf.constant(self.bias),
                "step": traced_step(int(self.strides), self.both_strands, self.active_only, self.active_threshold,
                                    self.count_letters, int(self.score_bins))}
        return self._tf

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
        t = self._tensorflow()
        tf = t["tf"]
        tf_pads = tf.constant(pads, tf.int32)
        if self.route == "locate":
            # One-hot, zero and 0.25 rows travel to the device (a GPU) as uint8: a quarter of the bytes.
            sent = as_travelling(x)
            locate = traced_locate(int(self.strides), self.both_strands, travelling=sent.dtype == np.uint8)
            starts, take_rc, codes, exact = locate(tf.constant(sent), tf_pads, t["kernel32"])
            if bool(exact):
                self._add_compiled(codes.numpy(), starts.numpy(), take_rc.numpy(), pads[0])
                return letter_totals
        args = (tf_pads, t["kernel32"], t["kernel64"], t["table64"], t["bias64"],
                tf.constant(self.letter_threshold), tf.constant(self.bin_low), tf.constant(self.bin_width))
        if self.strategy is None:
            self._accumulate(t["step"](tf.constant(x, tf.float32), *args))
        else:  # each replica's shard of the batch (placed by run_on_replicas), summed like a batch of its own
            for out in run_on_replicas(self.strategy, t["step"], x, *args):
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
            codes, starts, take_rc, int(left), self.table, self.bias, self.active_only, self.active_threshold,
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
