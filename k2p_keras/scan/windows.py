"""Where a Conv1D's windows lie on a sequence: padding and strides, as Keras computes them."""
import math

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
