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
