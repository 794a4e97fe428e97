"""What one scan is asked to do: :class:`ScanRequest`, checked once and read by every layer of the scan.

The motif stage builds one request per pass (:func:`dataclasses.replace` for a pass's variant);
:func:`k2p_keras.scan.best_windows.run_scan` hands it to the running sums
(:class:`~k2p_keras.scan.accumulator.BatchScanner`), which give the TensorFlow step its
static part (:class:`~k2p_keras.scan.tf_steps.StepSettings`) and the compiled kernels their
arrays. A new scan option is a field here, not a parameter in every layer.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import K2PError
from ..validate import check_bias, check_kernel, check_positive_int
from .windows import PADDINGS, PoolSpec


@dataclass(frozen=True, eq=False)
class ScanRequest:
    """One scan: the kernel and what to sum over each sequence's (or block's) best window.

    Checked when built; the checked values are the fields (``kernel`` float32, ``bias`` (F,),
    ``score_floor`` (F,) float64).

    Attributes
    ----------
    kernel : numpy.ndarray, shape (L, 4, F)
        Cross-correlation kernel with dilation already expanded (zero rows in the gaps).
    bias : numpy.ndarray, shape (F,), optional
    padding : {"valid", "same", "causal"}
        As the Conv1D layer pads: padding rows are zero rows (N).
    strides : int
        Only windows starting at multiples of ``strides`` (in the padded sequence) count.
    both_strands : bool
        Also scan the reverse complement and keep the better of the two best windows.
    active_only : bool
        Leave out of the MLE sums the sequences whose best ``conv + bias`` is not above
        ``active_threshold`` (a ReLU's zero output).
    active_threshold : float
    letter_threshold : float or numpy.ndarray of shape (F,), optional
        When given, also count the letters of best windows with ``conv + bias`` above it
        (one threshold for all filters, or one per filter).
    score_bins : int, optional
        When given, also sort every sequence's best window into this many bins of its score
        (``ScanStats.score_histogram``; :func:`k2p_keras.scan.stats.histogram_grid` places them).
    rescore : {"auto", "numba", "tensorflow"}
        Where the best windows of one-hot batches are found and rescored in float64 from
        their letter codes: numba's compiled table lookups (:mod:`k2p_keras.scan.lookup`,
        :mod:`k2p_keras.scan.rescore`) or TensorFlow's float32 convolution and gathers.
        "auto" picks numba when it is installed; on a GPU, the convolution then finds the
        windows and numba rescores them. The routes give the same sums up to float64
        rounding (and the same windows unless two scores differ by float32 rounding);
        batches with other values than one-hot, zero and 0.25 rows are always scanned by
        TensorFlow from their rows.
    strategy : tf.distribute.Strategy, optional
        Split each batch among the strategy's replicas (e.g. ``MirroredStrategy`` over a
        machine's GPUs, :mod:`k2p_keras.scan.devices`); the sums are the same up to float64
        rounding. The best windows are then found and rescored by TensorFlow on each
        device. Across machines, each worker (given the same batches) scans every n-th
        batch and the sums are all-reduced: every worker returns the stats of all the sequences.
    pool : PoolSpec, optional
        The model max-pools the conv's output in blocks (:class:`k2p_keras.scan.windows.PoolSpec`;
        :data:`~k2p_keras.scan.windows.EVERY_WINDOW` for every window): the sums run over
        each block's best window instead of each sequence's, a window that is the best of
        several overlapping blocks counted once. Both strands: the better of the strands'
        best windows in each block (the model's Maximum meets them position by position).
    score_floor : numpy.ndarray, shape (F,), optional
        With ``pool``: leave out the blocks whose best window scores (``x . W``, no bias, in
        float32) below it, so that only windows near the sites reach the float64 sums.
    diagnostics : bool
        Also sum each sequence's best window over the whole sequence (with ``pool``, the best
        of its blocks') for the activation diagnostics (``ScanStats.diagnostics``,
        :class:`~k2p_keras.scan.stats.ActivationSums`): its score by bin, its position and
        strand, its activation, and these per label column. Not with ``score_floor``.
    activation : callable, optional
        The layer's activation on float64 ``conv + bias`` arrays, for the diagnostics
        [default: none, ``conv + bias`` itself].
    n_labels : int
        Label columns each batch comes with (1.0 or 0.0 per sequence), for the diagnostics.
    """

    kernel: np.ndarray
    bias: np.ndarray | None = None
    padding: str = "valid"
    strides: int = 1
    both_strands: bool = False
    active_only: bool = False
    active_threshold: float = 0.0
    letter_threshold: float | np.ndarray | None = None
    score_bins: int | None = None
    rescore: str = "auto"
    strategy: "tf.distribute.Strategy | None" = None
    pool: PoolSpec | None = None
    score_floor: np.ndarray | None = None
    diagnostics: bool = False
    activation: Callable[[np.ndarray], np.ndarray] | None = None
    n_labels: int = 0

    def __post_init__(self):
        # Frozen: the checked values replace the given ones through object.__setattr__. Every
        # check takes its own output unchanged, so dataclasses.replace re-checks a request safely.
        def checked(name, value):
            object.__setattr__(self, name, value)

        kernel = check_kernel(self.kernel, single=False, float32=True)
        checked("kernel", kernel)
        n_filters = kernel.shape[2]
        checked("bias", check_bias(self.bias, n_filters))
        if self.padding not in PADDINGS:
            raise K2PError(f"padding: expected one of {', '.join(PADDINGS)}, got {self.padding!r}")
        checked("strides", check_positive_int(self.strides, "strides"))
        if self.score_bins is not None:
            checked("score_bins", check_positive_int(self.score_bins, "score_bins"))
        if self.pool is not None and not isinstance(self.pool, PoolSpec):
            raise K2PError(f"pool: expected a PoolSpec or None, got {type(self.pool).__name__}")
        if self.score_floor is not None:
            if self.pool is None:
                raise K2PError("score_floor applies to the blocks of a pool (give pool)")
            if self.diagnostics:
                raise K2PError("the diagnostics need every block's best window: no score_floor")
            checked("score_floor", np.broadcast_to(np.asarray(self.score_floor, dtype=np.float64), (n_filters,)))
        checked("n_labels", 0 if not self.n_labels else check_positive_int(self.n_labels, "n_labels"))
        if self.n_labels and not self.diagnostics:
            raise K2PError("labels are summed for the diagnostics only (give diagnostics=True)")
