"""The scan on several devices: a ``tf.distribute`` strategy splits each batch among replicas.

The scan's sums are additive over sequences, so each replica scans its shard of a batch
and hands back the same per-batch sums a single device would; :mod:`k2p_keras.scan` adds
them up with the code that adds a whole batch's. TensorFlow is imported only when a
strategy is built or used.

Supported: strategies whose replicas are all on this machine (``MirroredStrategy`` over
its GPUs, or over logical CPUs; ``OneDeviceStrategy``). A strategy spanning several
machines (``MultiWorkerMirroredStrategy`` with more than one worker) is refused: each
worker would have to scan its own share and the sums be all-reduced, which is not built.
"""
from .errors import K2PError, OptionError

#: What ``--devices`` accepts, for ``--help`` and error messages.
DEVICES_HELP = "all (every GPU), N (the first N GPUs) or cpu (no GPU)"


def parse_devices(text):
    """``--devices`` as ``"all"``, ``"cpu"`` or a positive int; checks the spelling only (no TensorFlow)."""
    value = str(text).strip().lower()
    if value in ("all", "cpu"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise OptionError(f"expected {DEVICES_HELP}, got {text!r}", "devices")


def strategy_for_devices(devices):
    """The strategy ``--devices`` asks for, or None to leave TensorFlow's placement alone.

    Parameters
    ----------
    devices : "all", "cpu" or int
        As :func:`parse_devices` returns it. ``"all"``: a ``MirroredStrategy`` over every
        GPU (over the CPU when there is none); N: over the first N GPUs; ``"cpu"``: the
        GPUs hidden from TensorFlow, no strategy (so numba's rescoring stays available).

    Returns
    -------
    tf.distribute.Strategy or None
    """
    from ._tf import import_tensorflow

    tf = import_tensorflow()
    if devices == "cpu":
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow has set up its devices already (a notebook)
            raise OptionError("cpu: TensorFlow has started its devices already; hide the GPUs before it "
                              "does (CUDA_VISIBLE_DEVICES=)", "devices") from None
        return None
    gpus = [f"/gpu:{i}" for i in range(len(tf.config.list_physical_devices("GPU")))]
    if devices == "all":
        return tf.distribute.MirroredStrategy(gpus or ["/cpu:0"])
    if devices > len(gpus):
        raise OptionError(f"{devices} GPUs asked for, TensorFlow sees {len(gpus)}", "devices")
    return tf.distribute.MirroredStrategy(gpus[:devices])


def check_strategy(strategy):
    """None, or a ``tf.distribute.Strategy`` whose replicas are all on this machine."""
    if strategy is None:
        return None
    from ._tf import import_tensorflow

    tf = import_tensorflow()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise K2PError(f"expected a tf.distribute.Strategy or None, got {type(strategy).__name__}")
    local = len(strategy.extended.worker_devices)
    if strategy.num_replicas_in_sync != local:
        raise K2PError(f"the strategy has {strategy.num_replicas_in_sync} replicas, {local} on this machine: "
                       "a scan across machines is not supported; scan on one machine (MirroredStrategy)")
    return strategy


def _as_travelling(batch):
    """A batch as it travels to the devices: in quarter units as uint8 when exact (a quarter of float32's bytes)."""
    import numpy as np

    quarters = batch * 4  # one-hot, zero and 0.25 rows are 0, 1 and 4 quarters
    small = quarters.astype(np.uint8)
    return small if np.array_equal(small, quarters) else batch


# One replicated function per (strategy, step), traced once: strategy.run called eagerly costs
# a thread hand-off per replica and per op (TensorFlow warns about it).
_REPLICATED = {}


def _replicated(strategy, step):
    from ._tf import import_tensorflow

    tf = import_tensorflow()
    key = (id(strategy), id(step))
    if key not in _REPLICATED:
        def on_replica(x, *args):
            if x.dtype == tf.uint8:
                x = tf.cast(x, tf.float32) * 0.25  # converted on the device
            return step(x, *args)

        _REPLICATED[key] = (strategy, step, tf.function(
            lambda x, *args: strategy.run(on_replica, args=(x, *args)), reduce_retracing=True))
    return _REPLICATED[key][2]


def run_on_replicas(strategy, step, batch, *args):
    """``step(shard, *args)`` on each replica's shard of ``batch`` (B, length, 4), under ``strategy.run``.

    The shards are consecutive and differ in size by at most one sequence; replicas left
    without a sequence (a batch smaller than the replicas) scan an empty shard, whose sums
    are zero and maximum -inf.

    Returns
    -------
    list
        Each replica's output of ``step`` (dicts of tensors), in replica order.
    """
    import numpy as np

    from ._tf import import_tensorflow

    tf = import_tensorflow()
    devices = strategy.extended.worker_devices
    shards = np.array_split(_as_travelling(batch), len(devices))

    def shard_on_device(context):
        i = context.replica_id_in_sync_group
        with tf.device(devices[i]):
            return tf.constant(shards[i])

    values = strategy.experimental_distribute_values_from_function(shard_on_device)
    out = _replicated(strategy, step)(values, *args)
    local = {key: strategy.experimental_local_results(value) for key, value in out.items()}
    return [{key: local[key][i] for key in local} for i in range(len(devices))]
