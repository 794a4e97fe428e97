"""The scan on several devices: a ``tf.distribute`` strategy splits each batch among replicas.

The scan's sums are additive over sequences, so each replica scans its shard of a batch
and hands back the same per-batch sums a single device would; :mod:`k2p_keras.scan` adds
them up with the code that adds a whole batch's. TensorFlow is imported only when a
strategy is built or used.

Across machines (``MultiWorkerMirroredStrategy``), every worker runs the same program on
the same sequences: worker ``w`` of ``n`` scans batches ``w, w + n, ...`` (its share), and
the workers' sums are then all-reduced (:func:`sum_over_workers`), so every worker ends
with the sums of all the sequences.

A worker that dies must not leave the others waiting. During the scan each worker asks the
others whether they answer, at most every :data:`WATCH_SECONDS` (:class:`WorkerWatch`: a
refused connection answers at once; a silent machine is given :data:`HEARTBEAT_SECONDS`);
in the all-reduce, TensorFlow's coordination service declares a worker dead after
:data:`HEARTBEAT_SECONDS` without its heartbeat and aborts the collective. Either way the
others fail in one line naming the worker (:func:`lost_worker_message`).
"""
import functools
import os
import re
import sys
import time

import numpy as np

from .._tf import import_tensorflow
from ..errors import K2PError, OptionError
from .route import gpu_may_be_visible

#: What ``--devices`` accepts, for ``--help`` and error messages.
DEVICES_HELP = "all (every GPU), N (the first N GPUs) or cpu (no GPU)"
#: TensorFlow's coordination service declares a task dead after this long without its heartbeat
#: (its default, used when ``heartbeat_timeout_in_ms`` is 0).
HEARTBEAT_SECONDS = 10
#: During the scan, a worker asks the others whether they answer at most this often.
WATCH_SECONDS = 5
# Tries before a worker that does not answer counts as gone (TensorFlow's own health check makes 3).
_WATCH_TRIES = 3


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
        GPU (none without a GPU: the CPU scan, numba's when installed); N: over the first N GPUs; ``"cpu"``: the
        GPUs hidden from TensorFlow, no strategy (so numba's rescoring stays available).
        Neither "cpu" nor "all" on a machine without a GPU imports TensorFlow: before it
        loads, "cpu" hides the GPUs by ``CUDA_VISIBLE_DEVICES=-1`` (this process and the
        ones it starts), which :func:`k2p_keras.scan.route.gpu_may_be_visible` reads.

    Returns
    -------
    tf.distribute.Strategy or None
    """
    if "tensorflow" not in sys.modules:
        if devices == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
            return None
        if devices == "all" and not gpu_may_be_visible()[0]:
            return None
    tf = import_tensorflow()
    if devices == "cpu":
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow has set up its devices already (a notebook)
            raise OptionError("cpu: TensorFlow has started its devices already; hide the GPUs before it "
                              "does (CUDA_VISIBLE_DEVICES=)", "devices") from None
        return None
    gpus = [f"/gpu:{i}" for i in range(len(tf.config.get_visible_devices("GPU")))]
    if devices == "all":
        # Without a GPU a one-replica strategy would only force the slower TensorFlow route.
        return tf.distribute.MirroredStrategy(gpus) if gpus else None
    if devices > len(gpus):
        raise OptionError(f"{devices} GPUs asked for, TensorFlow sees {len(gpus)}", "devices")
    return tf.distribute.MirroredStrategy(gpus[:devices])


def check_strategy(strategy):
    """None, or a ``tf.distribute.Strategy``."""
    if strategy is None:
        return None

    tf = import_tensorflow()
    if not isinstance(strategy, tf.distribute.Strategy):
        raise K2PError(f"expected a tf.distribute.Strategy or None, got {type(strategy).__name__}")
    return strategy


def worker_share(strategy):
    """``(index, count)``: this worker among the strategy's workers, ``(0, 1)`` on one machine."""
    if strategy is None:
        return 0, 1
    local = len(strategy.extended.worker_devices)
    return _first_local_replica(strategy) // local, strategy.num_replicas_in_sync // local


@functools.lru_cache(maxsize=None)
def _first_local_replica(strategy):
    """The global id of this worker's first replica (its replicas are numbered in a row).

    Asked once per strategy (it runs a function on every replica), not at every batch.
    """
    ids = []

    def note(context):
        ids.append(context.replica_id_in_sync_group)
        return 0

    strategy.experimental_distribute_values_from_function(note)
    return min(ids)


def as_travelling(batch):
    """A batch as it travels to the devices: in quarter units as uint8 when exact (a quarter of float32's bytes)."""
    quarters = batch * 4  # one-hot, zero and 0.25 rows are 0, 1 and 4 quarters
    small = quarters.astype(np.uint8)
    return small if np.array_equal(small, quarters) else batch


def from_travelling(x):
    """Inside a traced function: a batch of :func:`as_travelling` back as float32, on the device."""
    tf = import_tensorflow()
    return tf.cast(x, tf.float32) * 0.25 if x.dtype == tf.uint8 else x


# One replicated function per (strategy, step), traced once: strategy.run called eagerly costs
# a thread hand-off per replica and per op (TensorFlow warns about it).
_REPLICATED = {}


def _replicated(strategy, step):
    tf = import_tensorflow()
    key = (id(strategy), id(step))
    if key not in _REPLICATED:
        def on_replica(x, *args):
            return step(from_travelling(x), *args)

        _REPLICATED[key] = (strategy, step, tf.function(
            lambda x, *args: strategy.run(on_replica, args=(x, *args)), reduce_retracing=True))
    return _REPLICATED[key][2]


def run_on_replicas(strategy, step, batch, *args, labels=None):
    """``step(shard, *args)`` on each replica's shard of ``batch`` (B, length, 4), under ``strategy.run``.

    The shards are consecutive and differ in size by at most one sequence. No replica gets an
    empty shard: a batch smaller than this worker's replicas (a last short batch, or one
    sequence) runs whole on the worker's first device, outside the strategy, since TensorFlow's
    oneDNN kernels (on by default on many x86 CPUs) fail on a zero-sequence shard. The sums are
    additive over sequences, so either way they are the one-device sums. ``labels`` (B, J),
    when given, are split alike and passed last: ``step(shard, *args, shard_labels)``.

    Returns
    -------
    list
        The output of ``step`` (dicts of tensors) for each shard that holds sequences, in replica
        order: none for an empty batch.
    """

    tf = import_tensorflow()
    devices = strategy.extended.worker_devices
    if len(batch) < len(devices):
        if len(batch) == 0:
            return []
        with tf.device(devices[0]):
            whole = () if labels is None else (tf.constant(labels),)
            return [step(tf.constant(batch, tf.float32), *args, *whole)]
    first = _first_local_replica(strategy)

    def distribute(array):
        shards = np.array_split(array, len(devices))

        def shard_on_device(context):
            i = context.replica_id_in_sync_group - first
            with tf.device(devices[i]):
                return tf.constant(shards[i])

        return strategy.experimental_distribute_values_from_function(shard_on_device)

    sharded = () if labels is None else (distribute(labels),)
    out = _replicated(strategy, step)(distribute(as_travelling(batch)), *args, *sharded)
    local = {key: strategy.experimental_local_results(value) for key, value in out.items()}
    return [{key: local[key][i] for key in local} for i in range(len(devices))]


def sum_over_workers(strategy, arrays, maxima=()):
    """Each array summed over the strategy's workers (the largest value for the names in ``maxima``).

    Parameters
    ----------
    strategy : tf.distribute.Strategy
    arrays : dict of str to numpy.ndarray (float64)
        This worker's sums; every worker must call with the same names and shapes.
    maxima : tuple of str

    Returns
    -------
    dict of str to numpy.ndarray
        The same names, reduced over the workers; ``arrays`` itself on one machine.
    """

    tf = import_tensorflow()
    if worker_share(strategy)[1] == 1:
        return arrays
    names = [name for name, value in arrays.items() if np.size(value)]  # empty arrays stay as they are
    first = _first_local_replica(strategy)

    def on_replica(context):
        # This worker's sums on its first replica; its other replicas add nothing (zero, -inf).
        mine = context.replica_id_in_sync_group == first
        return [tf.constant(arrays[name] if mine else np.full_like(arrays[name], -np.inf if name in maxima else 0.0))
                for name in names]

    def reduce_on_replica(values):
        context = tf.distribute.get_replica_context()
        values = [tf.identity(v) for v in values]  # on the replica's device: collectives need one
        return [tf.reduce_max(context.all_gather(v[None], axis=0), axis=0) if name in maxima
                else context.all_reduce(tf.distribute.ReduceOp.SUM, v) for name, v in zip(names, values)]

    values = strategy.experimental_distribute_values_from_function(on_replica)
    start = time.monotonic()
    try:
        reduced = tf.function(lambda v: strategy.run(reduce_on_replica, args=(v,)))(values)
        return {**arrays, **{name: strategy.experimental_local_results(value)[0].numpy()
                             for name, value in zip(names, reduced)}}
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.AbortedError) as err:
        # TensorFlow's reason spans lines and quotes its RPCs: one line naming the worker instead.
        raise K2PError(lost_worker_message(strategy, err.message, f"found after {time.monotonic() - start:.0f} s in "
                                           "the all-reduce of the scan's sums")) from None


def _context():
    """TensorFlow's eager context (what its own health checks use; not public API), or None."""
    try:
        from tensorflow.python.eager import context  # loaded with TensorFlow by now; not public API

        return context.context()
    except (ImportError, AttributeError):
        return None


def heartbeat_seconds():
    """Seconds without a heartbeat after which TensorFlow's coordination service declares a worker dead."""
    timeout = getattr(getattr(_context(), "coordination_service", None), "heartbeat_timeout_in_ms", 0)
    return timeout / 1000 if timeout else HEARTBEAT_SECONDS


class WorkerWatch:
    """Called after every batch of a scan across machines: every :data:`WATCH_SECONDS` at most, asks
    the other workers whether they answer, and raises a one-line K2PError for one that does not."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.due = time.monotonic() + WATCH_SECONDS
        resolver = getattr(strategy, "cluster_resolver", None)
        jobs = resolver.cluster_spec().as_dict() if resolver is not None else {}
        me = (getattr(resolver, "task_type", None), getattr(resolver, "task_id", None))
        self.peers = [(job, task) for job, tasks in jobs.items() for task in range(len(tasks)) if (job, task) != me]
        self.check = getattr(_context(), "check_collective_ops_peer_health", None)

    def __call__(self):
        if self.check is None or time.monotonic() < self.due:
            return
        tf = import_tensorflow()
        for job, task in self.peers:
            for attempt in range(_WATCH_TRIES):
                try:
                    self.check(f"/job:{job}/replica:0/task:{task}", timeout_in_ms=int(heartbeat_seconds() * 1000))
                    break
                except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                        tf.errors.FailedPreconditionError) as err:
                    if attempt + 1 == _WATCH_TRIES:
                        raise K2PError(lost_worker_message(self.strategy, f"/job:{job}/replica:0/task:{task} "
                                                           + err.message, "found during the scan")) from None
        self.due = time.monotonic() + WATCH_SECONDS


def lost_worker_message(strategy, reason, when):
    """One line for a worker that lost another: which worker is gone, and when that was found.

    ``reason`` is TensorFlow's message: tasks named as unhealthy (their heartbeats stopped),
    the coordination service's leader (the first worker) out of reach, or a peer refusing.
    """
    worker, n_workers = worker_share(strategy)
    tasks = ", ".join(f"{job} {task}" for job, task in
                      dict.fromkeys(re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", reason)))
    if "leader" in reason:
        gone = f"{tasks or 'the first worker'}, the leader of TensorFlow's coordination service, cannot be reached"
    elif "heartbeat" in reason:
        gone = f"{tasks} stopped answering (no heartbeat for {heartbeat_seconds():g} s)"
    elif tasks:
        said = re.sub(r"^/job:\w+/replica:\d+/task:\d+ ", "", reason.strip()).splitlines()[0][:120]
        gone = f"{tasks} does not answer ({'connection refused' if 'refused' in reason else said})"
    else:
        gone = "a worker stopped answering (" + reason.strip().splitlines()[0][:200] + ")"
    return f"worker {worker} of {n_workers}: {gone}, {when}; the PWMs need every worker's share: restart every worker"
