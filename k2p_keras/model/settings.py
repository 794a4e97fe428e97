"""A convolution's or a pooling layer's settings, read from its config whatever Keras wrote it.

Keras 1 spelled the same settings differently; this module is the one reader of both
spellings (``model.conv`` and ``model.conv2d`` read convolutions through it, the walker
after the conv reads pooling layers through it):

=================  ==================  ========================  =========================
setting            Keras 2 and 3       Keras 1 convolutions      Keras 1 pooling
=================  ==================  ========================  =========================
filters            ``filters``         ``nb_filter``
kernel size        ``kernel_size``     ``filter_length`` (1-D),
                                       ``nb_row``, ``nb_col`` (2-D)
strides            ``strides``         ``subsample_length``      ``stride`` (1-D),
                                       (1-D), ``subsample``      ``strides`` (2-D)
dilation           ``dilation_rate``   ``atrous_rate``
padding            ``padding``         ``border_mode``           ``border_mode``
data format        ``data_format``     ``dim_ordering``: 'th' =  ``dim_ordering``
                                       channels first, 'tf' =
                                       channels last (2-D only)
bias               ``use_bias``        ``bias``
pool size                                                        ``pool_length`` (1-D),
                                                                 ``pool_size`` (2-D)
=================  ==================  ========================  =========================

The sequence runs along the last spatial axis (a Conv2D on one-hot DNA reads it along the
width, ``model.conv2d``), so a 2-D layer's settings are reported for the width, with the
height's kept apart (``height_steps``, ``height_pool``). Reads configs only.
"""
from ..errors import K2PError
from .config import entry_config

#: Paddings a convolution may use; pooling layers know no "causal".
PADDINGS = ("valid", "same", "causal")

#: Keras 1's ``dim_ordering`` as Keras 2's ``data_format``.
DIM_ORDERINGS = {"th": "channels_first", "tf": "channels_last"}


def _first(config, *keys):
    """The value of the first key present (Keras 2/3 spelling first, then Keras 1's)."""
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return None


def _ints(value, rank, default):
    """A setting as a tuple of ``rank`` integers; a single number stands for every axis."""
    if value is None:
        return None if default is None else (default,) * rank
    if isinstance(value, (list, tuple)):
        if len(value) != rank:
            raise ValueError(value)
        return tuple(int(v) for v in value)
    return (int(value),) * rank


def data_format(config):
    """``"channels_last"`` or ``"channels_first"`` from ``data_format`` or Keras 1's ``dim_ordering``.

    Raises
    ------
    ValueError
        For any other value.
    """
    value = config.get("data_format")
    if value is None and config.get("dim_ordering") is not None:
        value = DIM_ORDERINGS.get(str(config["dim_ordering"]).lower(), str(config["dim_ordering"]))
    value = str(value or "channels_last").lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format {value!r}")
    return value


def conv_settings(entry, name, rank=1):
    """A Conv1D's (``rank=1``) or Conv2D's (``rank=2``) settings, Keras 1 names included.

    Parameters
    ----------
    entry : dict
        The layer's config entry.
    name : str
        The layer's name, for messages.
    rank : {1, 2}

    Returns
    -------
    dict
        ``kernel_size`` (int or None), ``strides``, ``dilation_rate``, ``groups``, ``filters``
        (int or None), ``padding``, ``channels_first``, ``use_bias``; for ``rank=2`` the
        width's, and ``height_steps`` = ``(height stride, height dilation)``.

    Raises
    ------
    K2PError
        When a setting cannot be read, the padding or data format is unknown, or a step
        is not a positive integer.
    """
    config = entry_config(entry)
    what = "Conv1D" if rank == 1 else "Conv2D"
    try:
        if rank == 2 and config.get("kernel_size") is None and config.get("nb_row") is not None:
            kernel_size = (int(config["nb_row"]), int(config["nb_col"]))
        else:
            kernel_size = _ints(_first(config, "kernel_size", "filter_length"), rank, None)
        strides = _ints(_first(config, "strides", "subsample_length", "subsample"), rank, 1)
        dilation = _ints(_first(config, "dilation_rate", "atrous_rate"), rank, 1)
        groups = int(config.get("groups") or 1)
        filters = _first(config, "filters", "nb_filter")
        filters = None if filters is None else int(filters)
        layout = data_format(config)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise K2PError(f"{what} {name!r} has unreadable settings ({exc!r}), expected integers (or "
                       f"{rank}-tuples) for kernel_size, strides, dilation_rate, groups and a data_format "
                       "of channels_last or channels_first") from exc
    padding = str(_first(config, "padding", "border_mode") or "valid").lower()
    allowed = PADDINGS if rank == 1 else PADDINGS[:2]
    if padding not in allowed:
        raise K2PError(f"{what} {name!r} uses padding {padding!r}, expected {' or '.join(allowed)}")
    if min(strides + dilation) < 1 or groups < 1:
        raise K2PError(f"{what} {name!r} has strides {_shown(strides)}, dilation {_shown(dilation)} and "
                       f"groups {groups}, expected positive integers")
    settings = {"kernel_size": None if kernel_size is None else kernel_size[-1], "strides": strides[-1],
                "dilation_rate": dilation[-1], "groups": groups, "filters": filters, "padding": padding,
                "channels_first": layout == "channels_first",
                "use_bias": bool(_first(config, "use_bias", "bias") is not False)}
    if rank == 2:
        settings["height_steps"] = (strides[0], dilation[0])
    return settings


def _shown(values):
    return values[0] if len(values) == 1 else values


def pool_settings(entry, rank=1):
    """A local pooling layer's settings, Keras 1 names included (``pool_length``, ``stride``,
    ``border_mode``, ``dim_ordering``).

    Returns
    -------
    dict
        ``pool_size``, ``strides`` (Keras's default: the pool size), ``padding``,
        ``channels_first``; for ``rank=2`` the width's, and ``height_pool`` =
        ``(height pool size, height stride)``.

    Raises
    ------
    K2PError
        When a setting cannot be read.
    """
    config = entry_config(entry)
    try:
        size = _ints(_first(config, "pool_size", "pool_length"), rank, 2)
        strides = _ints(_first(config, "strides", "stride"), rank, None) or size
        layout = data_format(config)
    except (TypeError, ValueError, OverflowError) as exc:
        raise K2PError(f"pooling layer {entry_config(entry).get('name')!r} has unreadable settings "
                       f"({exc!r}), expected integers for pool_size and strides") from exc
    padding = str(_first(config, "padding", "border_mode") or "valid").lower()
    settings = {"pool_size": size[-1], "strides": strides[-1], "padding": padding,
                "channels_first": layout == "channels_first"}
    if rank == 2:
        settings["height_pool"] = (size[0], strides[0])
    return settings
