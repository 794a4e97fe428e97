"""Conv2D on one-hot DNA, read as the Conv1D it computes.

Some genomics CNNs treat a one-hot sequence as an image. Three layouts compute exactly a
Conv1D scan (Keras stores a Conv2D kernel as ``(height, width, in, F)`` in both data formats):

========================  =====================  ==================  ======================
layout                    model input (no batch) kernel              Conv1D kernel (L, 4, F)
========================  =====================  ==================  ======================
``keras-genomics``        ``(4, 1, L)``          ``(1, k, 4, F)``    ``K[0]``
(``channels_first``)
``image``                 ``(4, L, 1)``          ``(4, k, 1, F)``    ``K[:, :, 0]``, axes
(``channels_last``)                                                  swapped to ``(k, 4, F)``
``row``                   ``(1, L, 4)``          ``(1, k, 4, F)``    ``K[0]``
(``channels_last``)
========================  =====================  ==================  ======================

The sequence runs along the width, so ``strides``, ``dilation_rate`` and ``padding`` are read
off the width; the image layout needs ``valid`` padding so that the kernel's four rows meet
the four bases once. Reads configs and arrays only.
"""

from typing import NamedTuple

import numpy as np

from ..errors import K2PError
from .config import entry_config, is_builtin

CONV2D_CLASSES = frozenset({"Conv2D", "Convolution2D"})

# name -> (data format, model input without batch, what the kernel looks like)
LAYOUTS = {
    "keras-genomics": ("channels_first", "(4, 1, L)", "(1, k, 4, F)"),
    "image": ("channels_last", "(4, L, 1)", "(4, k, 1, F)"),
    "row": ("channels_last", "(1, L, 4)", "(1, k, 4, F)"),
}


class Conv2DReading(NamedTuple):
    """How a Conv2D on one-hot DNA reads as a Conv1D.

    Attributes
    ----------
    layout : str
        A key of :data:`LAYOUTS`.
    kernel : numpy.ndarray
        ``(k, 4, F)`` float64 Conv1D kernel, cross-correlation orientation.
    """

    layout: str
    kernel: np.ndarray


def is_conv2d(entry):
    """A built-in Keras Conv2D (registered subclasses are not: their call may differ)."""
    return is_builtin(entry) and str(entry.get("class_name", "")) in CONV2D_CLASSES


def _pair(value, default=1):
    if value is None:
        return (default, default)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(value)
        return int(value[0]), int(value[1])
    return int(value), int(value)


def conv2d_settings(entry, name):
    """The width settings of a Conv2D, as the Conv1D settings :mod:`.conv` reads.

    Raises
    ------
    K2PError
        When the settings cannot be read, or the layer strides or dilates along the height.
    """
    config = entry_config(entry)
    try:
        kernel_size = _pair(config.get("kernel_size"), None)
        strides = _pair(config.get("strides"))
        dilation = _pair(config.get("dilation_rate"))
        groups = int(config.get("groups") or 1)
    except (TypeError, ValueError) as exc:
        raise K2PError(f"Conv2D {name!r} has unreadable settings ({exc!r}), expected pairs of "
                       "integers for kernel_size, strides, dilation_rate") from exc
    padding = str(config.get("padding", "valid")).lower()
    data_format = str(config.get("data_format") or "channels_last").lower()
    if padding not in ("valid", "same") or data_format not in ("channels_last", "channels_first"):
        raise K2PError(f"Conv2D {name!r} uses padding {padding!r} and data_format "
                       f"{data_format!r}, expected valid or same, channels_last or channels_first")
    if min(strides + dilation) < 1:
        raise K2PError(f"Conv2D {name!r} has strides {strides} and dilation {dilation}, "
                       "expected positive integers")
    return {"kernel_size": kernel_size[1], "strides": strides[1], "dilation_rate": dilation[1],
            "height_steps": (strides[0], dilation[0]), "groups": groups, "padding": padding,
            "channels_first": data_format == "channels_first",
            "use_bias": bool(config.get("use_bias", True))}


def conv2d_as_conv1d(name, settings, kernel):
    """Read a stored Conv2D kernel ``(height, width, in, F)`` as a Conv1D kernel ``(k, 4, F)``.

    Returns
    -------
    Conv2DReading

    Raises
    ------
    K2PError
        When the kernel is in none of the three layouts of one-hot DNA, with what was found.
    """
    if kernel.ndim != 4:
        raise K2PError(f"Conv2D {name!r} has a kernel of shape {kernel.shape}, expected "
                       "(height, width, channels, filters)")
    height, _, channels, _ = kernel.shape
    if settings["groups"] != 1:
        raise K2PError(f"Conv2D {name!r} has groups={settings['groups']}, expected 1")
    if settings["channels_first"] and (height, channels) == (1, 4):
        layout, conv1d = "keras-genomics", kernel[0]
    elif not settings["channels_first"] and (height, channels) == (4, 1):
        if settings["padding"] != "valid":
            raise K2PError(f"Conv2D {name!r} spans the 4 bases along the height with padding "
                           f"{settings['padding']!r}: the padded rows shift the bases; expected "
                           "valid padding")
        layout, conv1d = "image", kernel[:, :, 0].transpose(1, 0, 2)
    elif not settings["channels_first"] and (height, channels) == (1, 4):
        layout, conv1d = "row", kernel[0]
    else:
        raise K2PError(f"Conv2D {name!r} ({'channels_first' if settings['channels_first'] else 'channels_last'},"
                       f" kernel {kernel.shape}) is not a scan of one-hot DNA; expected one of "
                       + "; ".join(f"{d} input {i} with kernel {k}" for d, i, k in LAYOUTS.values()))
    if layout == "image" and settings["height_steps"][1] != 1:
        raise K2PError(f"Conv2D {name!r} dilates along the bases, expected 1")
    return Conv2DReading(layout, np.ascontiguousarray(conv1d, dtype=np.float64))


def sequence_length(layout, batch_shape):
    """The sequence length of a model input ``batch_shape`` in ``layout``, or None."""
    if batch_shape is None or len(batch_shape) != 4:
        return None
    length = batch_shape[3] if layout == "keras-genomics" else batch_shape[2]
    return int(length) if isinstance(length, int) else None


def to_layout(batch, layout):
    """Canonical ``(B, L, 4)`` batches in a Conv2D's own layout (for checks against Keras).

    ``keras-genomics`` gives ``(B, 4, 1, L)``, ``image`` ``(B, 4, L, 1)``, ``row`` ``(B, 1, L, 4)``.
    """
    batch = np.asarray(batch)
    if layout == "keras-genomics":
        return batch.transpose(0, 2, 1)[:, :, None, :]
    if layout == "image":
        return batch.transpose(0, 2, 1)[:, :, :, None]
    return batch[:, None, :, :]
