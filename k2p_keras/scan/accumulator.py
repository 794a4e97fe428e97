"""The scan's running sums: each batch's best windows, found on its route, added in order."""
import numpy as np

from .._tf import import_tensorflow
from ..errors import K2PError
from ..validate import check_one_hot_values
from .codes import code_table, N_CODES, QUARTER_CODE
from .devices import as_travelling, run_on_replicas, sum_over_workers
from .lookup import code_table_to_word_tables, one_hot_to_best_windows
from .rescore import accumulate_window_sums
from .stats import ActivationSums, histogram_grid, label_bins, SCORE_BINS, ScanStats, ScoreHistogram
from .tf_steps import StepSettings, traced_locate, traced_step
from .windows import pool_blocks, window_count


#: Sequences (sequences x blocks, with a max-pool's blocks) whose best windows the compiled kernel
#: sums in one call (:meth:`BatchScanner._add_compiled`).
PENDING_SEQUENCES = 4096


class BatchScanner:
    """Holds the kernel's tables, the running sums and, once a batch needs TensorFlow, its tensors."""

    def __init__(self, request, route, strategy=None):
        """``request``: the scan's :class:`~k2p_keras.scan.request.ScanRequest` (checked); ``route``: where
        one-hot batches go (:func:`k2p_keras.scan.route.scan_route`); ``strategy``: the checked strategy."""
        self.strategy = strategy
        kernel, score_bins = request.kernel, request.score_bins or 0
        n_rows, _, n_filters = kernel.shape
        # A max-pool's blocks (None: one block of every window, the global max) and the float32
        # score below which a block's best window is no site.
        self.pool = request.pool
        self.score_floor = np.full(n_filters, -np.inf, np.float32) if request.score_floor is None else \
            np.asarray(request.score_floor, dtype=np.float32)
        self._blocks = {}  # padded length -> (block_lo, block_hi)
        self.kernel = kernel
        self.table = code_table(kernel)
        self.bias = np.asarray(request.bias, dtype=np.float64)
        self.padding, self.strides = request.padding, request.strides
        self.active_only, self.active_threshold = bool(request.active_only), float(request.active_threshold)
        # A scalar, or one threshold per filter (F,); +-inf let no window or every window through.
        self.count_letters = request.letter_threshold is not None
        self.letter_threshold = np.broadcast_to(np.asarray(
            request.letter_threshold if self.count_letters else 0.0, dtype=np.float64), (n_filters,)).copy()
        # The score bins' grid (unused, but the traced signature wants it, without score_bins).
        self.bin_low, self.bin_width = histogram_grid(kernel, max(score_bins, 1))
        self.score_bins = score_bins
        self.route, self.both_strands = route, bool(request.both_strands)
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
        self._start_diagnostics(kernel, bool(request.diagnostics), request.activation, int(request.n_labels))
        self._pending = []  # batches' (codes, starts, take_rc, left, labels) waiting for the compiled sums

    def _start_diagnostics(self, kernel, diagnose, activation, n_labels):
        """Each sequence's best window's sums (:class:`ActivationSums`); arrays of size 0 when not asked for.

        The activation is tabulated at the grid's bin edges (``conv + bias`` there), read off
        linearly in between by both routes.
        """
        n_filters = self.table.shape[0]
        self.diagnose, self.n_labels = diagnose, n_labels if diagnose else 0
        self.diag_low, self.diag_width = histogram_grid(kernel, SCORE_BINS)
        bins = SCORE_BINS if diagnose else 0
        edges = self.diag_low[:, None] + self.diag_width[:, None] * np.arange(bins + 1 if diagnose else 0)[None, :]
        preactivation = edges + self.bias[:, None]
        self.activation_table = np.ascontiguousarray(
            preactivation if activation is None else activation(preactivation), dtype=np.float64)
        self.label_bins = label_bins(n_filters, self.n_labels) if diagnose else 1
        self.diag = {"count": np.zeros((n_filters, bins)),
                     "label_count": np.zeros((n_filters, self.n_labels, self.label_bins)),
                     "activation_sum": np.zeros(n_filters if diagnose else 0),
                     "label_activation_sum": np.zeros((n_filters, self.n_labels)),
                     "positions": np.zeros((n_filters, 0, 2))}
        self.lengths = [None, 0]  # the shortest and longest sequence seen

    def see_length(self, length, pads):
        """Make room in the positions' histogram for sequences of ``length`` padded by ``pads``.

        Called for every batch, another worker's too, so that every worker's arrays have one shape.
        """
        self.lengths = [length if self.lengths[0] is None else min(self.lengths[0], length),
                        max(self.lengths[1], length)]
        if not self.diagnose:
            return
        n_positions = max(window_count(length + pads[0] + pads[1], self.table.shape[1], self.strides), 0)
        grow = n_positions - self.diag["positions"].shape[1]
        if grow > 0:
            self._flush()  # the compiled sums hold the array they were given
            self.diag["positions"] = np.pad(self.diag["positions"], ((0, 0), (0, grow), (0, 0)))

    def _labels_of(self, x, labels):
        """A batch's labels as float64 (B, J), checked against the batch; (B, 0) when there are none."""
        if not self.n_labels:
            return np.zeros((x.shape[0], 0))
        labels = np.ascontiguousarray(labels, dtype=np.float64)
        if labels.shape != (x.shape[0], self.n_labels):
            raise K2PError(f"a batch of {x.shape[0]} sequences came with labels of shape {labels.shape}, "
                           f"expected ({x.shape[0]}, {self.n_labels})")
        return labels

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
                "step": traced_step(StepSettings(int(self.strides), self.both_strands, self.active_only,
                                                 self.active_threshold, self.count_letters, int(self.score_bins),
                                                 self.pool is not None, self.diagnose))}
        return self._tf

    def add(self, x, pads, labels=None):
        """Add one batch ``x`` (B, length, 4) padded by ``pads`` (left, right) to the sums; ``labels``
        (B, J): its sequences' labels, for the diagnostics.

        Returns the batch's summed rows (4,), float64: its letter totals.
        """
        labels = self._labels_of(x, labels)
        if self.route == "lookup":
            letter_totals = self._add_looked_up(x, pads, labels)
            if letter_totals is not None:
                return letter_totals
        check_one_hot_values(x)  # the compiled lookups took only the six code rows: here, any other
        letter_totals = x.sum(axis=(0, 1), dtype=np.float64)
        t = self._tensorflow()
        tf = t["tf"]
        tf_pads = tf.constant(pads, tf.int32)
        pooled = self.pool is not None
        blocks = (*(tf.constant(b) for b in self.blocks(x.shape[1], pads)), tf.constant(self.score_floor)) \
            if pooled else ()
        if self.route == "locate":
            # One-hot, zero and 0.25 rows travel to the device (a GPU) as uint8: a quarter of the bytes.
            sent = as_travelling(x)
            locate = traced_locate(int(self.strides), self.both_strands, travelling=sent.dtype == np.uint8,
                                   pooled=pooled)
            starts, take_rc, codes, exact = locate(tf.constant(sent), tf_pads, t["kernel32"], *blocks)
            if bool(exact):
                starts, take_rc = starts.numpy(), take_rc.numpy()
                if not pooled:  # one block: the global max
                    starts, take_rc = starts[:, None, :], take_rc[:, None, :]
                self._add_compiled(codes.numpy(), starts, take_rc, pads[0], labels)
                return letter_totals
        args = (tf_pads, t["kernel32"], t["kernel64"], t["table64"], t["bias64"],
                tf.constant(self.letter_threshold), tf.constant(self.bin_low), tf.constant(self.bin_width), *blocks)
        if self.diagnose:
            args += (tf.constant(self.diag_width), tf.constant(self.activation_table),
                     tf.constant(self.label_bins, tf.int32))
        if self.strategy is None:
            self._accumulate(t["step"](tf.constant(x, tf.float32), *args,
                                       *((tf.constant(labels),) if self.diagnose else ())))
        else:  # each replica's shard of the batch (placed by run_on_replicas), summed like a batch of its own
            for out in run_on_replicas(self.strategy, t["step"], x, *args, labels=labels if self.diagnose else None):
                self._accumulate(out)
        return letter_totals

    def _accumulate(self, out):
        """Add one traced step's sums (a batch's, or a replica's shard's) to the running sums."""
        self._flush()  # the queued batches first: the sums are added in the batches' order
        if self.score_bins:
            np.add.at(self.deficit, out.pop("deficit_segment").numpy(), out.pop("deficit_rows").numpy())
        for key in [key for key in out if key.startswith("diag_")]:
            value, total = out.pop(key).numpy(), self.diag[key[len("diag_"):]]
            total[tuple(slice(0, n) for n in value.shape)] += value  # a batch's positions: its own length's
        for key, value in out.items():
            if key == "max_preactivation":
                np.maximum(self.totals[key], value.numpy(), out=self.totals[key])
            else:
                self.totals[key] += value.numpy()

    def blocks(self, length, pads):
        """``(block_lo, block_hi)`` (M,) int32 of a sequence of ``length`` rows padded by ``pads``."""
        key = length + pads[0] + pads[1]
        if key not in self._blocks:
            n_positions = max(window_count(key, self.table.shape[1], self.strides), 0)
            self._blocks[key] = pool_blocks(n_positions, self.pool)
            if len(self._blocks[key][0]) == 0:
                raise K2PError(f"sequences of length {length} give the conv {n_positions} positions, fewer than "
                               f"the max-pool's size ({self.pool.size}, valid padding): the model pools nothing")
        return self._blocks[key]

    def _add_looked_up(self, x, pads, labels):
        """The lookup route: the batch's letter totals, or None (nothing added) when it is not letter codes."""
        block_lo, block_hi = self.blocks(x.shape[1], pads)
        codes = np.empty(x.shape[:2], dtype=np.uint8)
        code_counts = np.zeros((x.shape[0], N_CODES), dtype=np.int64)
        starts = np.empty((x.shape[0], len(block_lo), self.table.shape[0]), dtype=np.int32)
        take_rc = np.empty(starts.shape, dtype=np.bool_)
        if not one_hot_to_best_windows(x, int(pads[0]), int(pads[1]), int(self.strides), self.table.shape[1],
                                       block_lo, block_hi, self.score_floor, *self.word_tables, self.both_strands,
                                       codes, code_counts, starts, take_rc):
            return None
        self._add_compiled(codes, starts, take_rc, pads[0], labels)
        counts = code_counts.sum(axis=0)
        return counts[:4] + 0.25 * counts[QUARTER_CODE]

    def sum_over_workers(self, n_sequences, letter_totals):
        """Every worker's sums added up (a strategy across machines: each scanned its share)."""
        self._flush()
        mine = {**self.totals, "deficit": self.deficit, "letters_by_code": self.letters_by_code,
                "n_sequences": np.array([float(n_sequences)]), "letter_totals": letter_totals,
                **{"diag_" + key: value for key, value in self.diag.items()}}
        every = sum_over_workers(self.strategy, mine, maxima=("max_preactivation",))
        self.totals = {key: every[key] for key in self.totals}
        self.deficit, self.letters_by_code = every["deficit"], every["letters_by_code"]
        self.diag = {key: every["diag_" + key] for key in self.diag}
        return int(every["n_sequences"][0]), every["letter_totals"]

    def _add_compiled(self, codes, starts, take_rc, left, labels):
        """Queue a batch's best windows for the compiled sums, which run on ``PENDING_SEQUENCES`` at a time.

        Each call of the compiled kernel starts and joins threads (about a millisecond, more on
        a busy machine); on short sequences that cost as much as the sums of a 512-sequence
        batch. The queue holds letter codes and positions only (under 2 MB at 1,000 bp; a
        max-pool's blocks count as sequences, so that the positions stay as few).
        """
        if self._pending and (self._pending[0][0].shape[1], self._pending[0][3]) != (codes.shape[1], left):
            self._flush()  # another length or padding: the queue holds one shape
        self._pending.append((codes, starts, take_rc, left, labels))
        if sum(batch[1].shape[0] * batch[1].shape[1] for batch in self._pending) >= PENDING_SEQUENCES:
            self._flush()

    def _flush(self):
        """Add the queued batches' best windows to the running sums."""
        if not self._pending:
            return
        codes, starts, take_rc, labels = (np.concatenate([batch[i] for batch in self._pending]) for i in (0, 1, 2, 4))
        left = self._pending[0][3]
        self._pending = []
        t = self.totals
        n_filters = self.table.shape[0]
        empty = np.zeros(0)
        bins = self.score_bins
        accumulate_window_sums(
            codes, starts.reshape(-1, n_filters), take_rc.reshape(-1, n_filters), int(left), self.table, self.bias, self.active_only, self.active_threshold,
            self.letter_threshold, self.bin_low, self.bin_width, t["score_sum"], t["row_weight"], t["n_used"],
            t["max_preactivation"], self.letters_by_code, t.get("n_letter_windows", empty),
            t["bin_count"].reshape(n_filters, bins) if bins else np.zeros((n_filters, 0)),
            t["bin_score_sum"].reshape(n_filters, bins) if bins else np.zeros((n_filters, 0)), self.deficit,
            int(self.strides), labels,
            (self.diag_width, self.activation_table, *self.diag.values()) if self.diagnose else None)

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
            score_histogram=self._histogram() if self.score_bins else None, letter_totals=letter_totals,
            diagnostics=ActivationSums(low=self.diag_low, width=self.diag_width, **self.diag,
                                       min_length=self.lengths[0] or 0, max_length=self.lengths[1])
            if self.diagnose else None)

    def _histogram(self):
        n_filters, bins = self.table.shape[0], self.score_bins
        count = self.totals["bin_count"].reshape(n_filters, bins)
        return ScoreHistogram(low=self.bin_low, width=self.bin_width, count=count,
                              score_sum=self.totals["bin_score_sum"].reshape(n_filters, bins),
                              row_weight=count[:, :, None] - self.deficit.reshape(n_filters, bins, -1))
