"""Where a Conv1D's windows lie on a sequence (padding and strides), and the blocks a max-pool takes
over them, as Keras computes them."""
import math
from dataclasses import dataclass

import numpy as np

from ..errors import K2PError


PADDINGS = ("valid", "same", "causal")


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


def window_count(n_padded, width, strides):
    """Windows of ``width`` rows starting every ``strides`` rows in a padded strand of ``n_padded`` rows.

    Plain arithmetic, so that numba's compiled scan uses this very function.
    """
    return (n_padded - width) // strides + 1


def windows_per_sequence(length, width, padding="valid", strides=1):
    """Windows a conv scans in one strand of a sequence of ``length`` (0 when it is too short)."""
    left, right = padding_amounts(length, width, padding, strides)
    return max(window_count(length + left + right, width, strides), 0)


POOL_PADDINGS = ("valid", "same")


@dataclass(frozen=True)
class PoolSpec:
    """A max-pool over the conv's output positions: each block passes on its best window.

    Attributes
    ----------
    size : int
        Positions per block (Keras's ``pool_size``).
    strides : int
        Positions between the starts of consecutive blocks (Keras: ``pool_size`` when not given).
    padding : {"valid", "same"}
        As the pooling layer pads: ``valid`` drops the positions past the last whole block,
        ``same`` pads both ends with -inf (padding never wins a block).
    """

    size: int
    strides: int
    padding: str = "valid"

    def __post_init__(self):
        if not (isinstance(self.size, int) and isinstance(self.strides, int) and self.size >= 1 and self.strides >= 1):
            raise K2PError(f"a max-pool needs whole pool size and strides >= 1, got {self.size!r} and {self.strides!r}")
        if self.padding not in POOL_PADDINGS:
            raise K2PError(f"pool padding: expected one of {', '.join(POOL_PADDINGS)}, got {self.padding!r}")

    @property
    def label(self):
        """E.g. ``3, strides 3, valid``."""
        return f"{self.size}, strides {self.strides}, {self.padding}"


#: Every window its own block: the scan then returns every window (the sites "anywhere").
EVERY_WINDOW = PoolSpec(1, 1, "valid")


def pool_blocks(n_positions, pool):
    """The blocks a max-pool takes over ``n_positions`` conv outputs, as TensorFlow's max pool places them.

    Parameters
    ----------
    n_positions : int
        Conv output positions (windows) of one strand, ``P``.
    pool : PoolSpec or None
        None: one block holding every position (a global max-pool).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``lo`` and ``hi`` (int32, shape (M,)): block ``m`` holds positions ``lo[m] <= j < hi[m]``.
        ``valid``: ``M = (P - size) // strides + 1`` whole blocks (none when ``P < size``);
        ``same``: ``M = ceil(P / strides)``, the first block starting ``left`` positions before
        position 0 (TensorFlow's split of the padding, :func:`padding_amounts`), cut to ``[0, P)``.
    """
    if pool is None:
        return np.array([0], dtype=np.int32), np.array([n_positions], dtype=np.int32)
    if pool.padding == "valid":
        n_blocks, left = max((n_positions - pool.size) // pool.strides + 1, 0), 0
    else:
        n_blocks = math.ceil(n_positions / pool.strides)
        left = padding_amounts(n_positions, pool.size, "same", pool.strides)[0]
    starts = np.arange(n_blocks, dtype=np.int64) * pool.strides - left
    lo = np.clip(starts, 0, n_positions).astype(np.int32)
    hi = np.clip(starts + pool.size, 0, n_positions).astype(np.int32)
    return lo, hi
