"""Which route a scan takes on this machine, and how large its batches are.

Routes of one-hot batches (:data:`ROUTES`): ``lookup`` (numba's compiled lookups, on a
CPU), ``locate`` (TensorFlow's convolution finds the windows on a GPU, numba rescores
them), ``tensorflow`` (TensorFlow does both: without numba, under a strategy). The batch
size of ``batch_size="auto"`` follows the route's byte budget.

Whether a GPU can be used is first asked of the machine, not of TensorFlow
(:func:`gpu_may_be_visible`), so that a CPU scan with numba never loads TensorFlow.
"""
import functools
import glob
import importlib.metadata
import os
import re
import subprocess
import sys

from .._tf import import_tensorflow
from ..errors import K2PError
from .windows import EVERY_WINDOW, pool_blocks, windows_per_sequence


RESCORERS = ("auto", "numba", "tensorflow")

ROUTES = ("lookup", "locate", "tensorflow")


def numba_available():
    """True when numba is installed: the compiled routes are open."""
    from . import rescore  # numba loads when a route is chosen, not with the package

    return rescore.numba is not None


#: Packages that give TensorFlow a GPU other than through CUDA's device files (Apple's Metal, DirectML).
GPU_PLUGINS = ("tensorflow-metal", "tensorflow-directml-plugin")


def cuda_devices_hidden(value):
    """Whether ``CUDA_VISIBLE_DEVICES=value`` hides every GPU.

    Unset (None) hides nothing; empty hides all. CUDA reads the list up to its first
    invalid entry, so a list starting with a negative number ("-1") hides all. UUIDs
    ("GPU-...", "MIG-...") cannot be checked without the driver: they count as visible.
    """
    if value is None:
        return False
    first = value.split(",")[0].strip()
    return first == "" or re.fullmatch(r"-\d+", first) is not None


def _installed(name):
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def gpu_may_be_visible(environ=None, root="/"):
    """Whether TensorFlow may find a GPU here, decided without importing it.

    One-sided on purpose: False only when no GPU can be used (CUDA_VISIBLE_DEVICES hides
    them all, or no NVIDIA, WSL2 or ROCm device file exists and no GPU plugin is
    installed); then the CPU route runs without TensorFlow. True means "ask TensorFlow"
    (:func:`gpu_visible`), so a wrong True costs TensorFlow's start-up, never a GPU.

    Parameters
    ----------
    environ : mapping, optional
        The environment (default ``os.environ``).
    root : str
        Where ``/dev`` and ``/proc`` are looked for (tests).

    Returns
    -------
    (bool, str)
        The answer and its reason, e.g. ``(False, "CUDA_VISIBLE_DEVICES=''")``.
    """
    environ = os.environ if environ is None else environ
    hidden = environ.get("CUDA_VISIBLE_DEVICES")
    if cuda_devices_hidden(hidden):
        return False, f"CUDA_VISIBLE_DEVICES={hidden!r}"
    plugins = [name for name in GPU_PLUGINS if _installed(name)]
    if plugins:
        return True, f"{', '.join(plugins)} installed"
    if not sys.platform.startswith("linux"):
        return False, f"{sys.platform}: TensorFlow's wheels use a GPU through CUDA on Linux (and WSL2) only"
    nodes = glob.glob(os.path.join(root, "dev", "nvidia[0-9]*"))
    if nodes:
        return True, f"{len(nodes)} NVIDIA device file(s) in /dev"
    gpus = os.path.join(root, "proc", "driver", "nvidia", "gpus")
    if os.path.isdir(gpus) and os.listdir(gpus):
        return True, "a GPU in /proc/driver/nvidia/gpus"
    if os.path.exists(os.path.join(root, "dev", "dxg")):
        return True, "/dev/dxg (WSL2's GPU)"
    if os.path.exists(os.path.join(root, "dev", "kfd")) and _installed("tensorflow-rocm"):
        return True, "/dev/kfd and tensorflow-rocm (ROCm)"
    return False, "no NVIDIA, WSL2 or ROCm GPU device file"


def gpu_visible():
    """Whether the scan runs on a GPU: TensorFlow is asked, and imported, only when one may be there."""
    if "tensorflow" not in sys.modules and not gpu_may_be_visible()[0]:
        return False
    return bool(import_tensorflow().config.get_visible_devices("GPU"))  # --devices cpu hides them


def scan_route(rescore, strategy=None):
    """The route of one-hot batches (one of ``ROUTES``) for ``scan_best_windows(rescore=...)``.

    "auto" takes the compiled lookups when numba is installed, except on a GPU, where
    TensorFlow's convolution finds the best windows faster than the CPU's cores. Under a
    ``tf.distribute`` strategy the devices find and rescore the windows (TensorFlow).
    """
    if rescore not in RESCORERS:
        raise K2PError(f"rescore: expected one of {', '.join(RESCORERS)}, got {rescore!r}")
    if rescore == "numba" and not numba_available():
        raise K2PError("rescore='numba' needs numba (a dependency of k2p-keras): pip install numba")
    if rescore == "numba" and strategy is not None:
        raise K2PError("rescore='numba' rescores on this machine's CPU: it does not run under a strategy")
    if rescore == "tensorflow" or strategy is not None or not numba_available():
        return "tensorflow"
    if rescore == "auto" and gpu_visible():
        return "locate"
    return "lookup"


#: What a batch of ``batch_size="auto"`` may hold. The lookup route: its float32 one-hot rows
#: (each parallel call costs a start, about a millisecond, so short sequences want large
#: batches). TensorFlow's routes: the float32 convolution's output of every strand, and
#: on the "tensorflow" route the best windows' float64 rows too; on a CPU this many bytes,
#: on a GPU an eighth of its memory (the smallest GPU's, as ``nvidia-smi`` reports it).
LOOKUP_BATCH_BYTES = 16 * 2 ** 20

TENSORFLOW_BATCH_BYTES = 256 * 2 ** 20

GPU_MEMORY_SHARE = 1 / 8

MAX_AUTO_BATCH = 16384


def auto_batch_size(length, kernel_rows, n_filters, *, both_strands=False, strides=1, strategy=None,
                    rescore="auto", gpu_memory=None, blocks=1):
    """Sequences per batch for ``batch_size="auto"``: as many as the route's byte budget holds.

    Parameters
    ----------
    length : int
        The longest sequence.
    kernel_rows, n_filters : int
        The kernel's rows (dilation expanded) and filters.
    both_strands : bool
    strides : int
    strategy : tf.distribute.Strategy, optional
        Each replica takes a share of the batch: the budget is each device's.
    rescore : {"auto", "numba", "tensorflow"}
        The route, as :func:`scan_best_windows` takes it.
    gpu_memory : int, optional
        Bytes of one GPU; by default, when TensorFlow sees a GPU, the smallest GPU's memory
        as ``nvidia-smi`` reports it (:func:`smallest_gpu_memory`; the CPU's budget when it cannot say).
    blocks : int
        Best windows kept per sequence and filter: 1 for each sequence's, a max-pool's blocks
        (``scan_best_windows(pool=...)``), whose positions and windows the batch holds too.

    Returns
    -------
    int
        Between 1 and ``MAX_AUTO_BATCH``.
    """
    route = scan_route(rescore, strategy)
    # One best window per sequence and filter fits in the budget of its rows; a block's each costs
    # its start and strand (5 bytes), and on TensorFlow's routes the gathered blocks and their windows.
    pooled = blocks > 1
    if route == "lookup":
        per_sequence, budget = 16 * length + pooled * 5 * blocks * n_filters, LOOKUP_BATCH_BYTES
    else:
        strands = 2 if both_strands else 1
        windows = length // strides + 1  # padding included, at most
        per_sequence = (1 + pooled) * 4 * windows * n_filters * strands
        if route == "tensorflow":
            per_sequence += 8 * 4 * kernel_rows * n_filters * strands * blocks
        elif pooled:
            per_sequence += 5 * blocks * n_filters
        if gpu_memory is None and gpu_visible():
            gpu_memory = smallest_gpu_memory()
        budget = TENSORFLOW_BATCH_BYTES if gpu_memory is None else int(gpu_memory * GPU_MEMORY_SHARE)
        if strategy is not None:  # each of this machine's devices takes a share (other machines: other batches)
            budget *= len(strategy.extended.worker_devices)
    return int(min(max(budget // max(per_sequence, 1), 1), MAX_AUTO_BATCH))


@functools.lru_cache(maxsize=None)
def smallest_gpu_memory():
    """Bytes of the smallest GPU on this machine (``nvidia-smi``), or None when it does not say.

    TensorFlow has no public call for a device's memory (``device_lib.list_local_devices``
    creates a context on every GPU, the hidden ones too), so the driver's tool is asked, once
    per process; the smallest GPU, so the size fits whichever device the scan uses.
    """
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=20)
        totals = [int(line) for line in done.stdout.split() if line.strip().isdigit()]
    except (OSError, subprocess.SubprocessError):
        return None
    return min(totals) * 2 ** 20 if done.returncode == 0 and totals else None  # MiB


#: Sequences per batch when batch_size="auto" meets sequences of unknown length.
FALLBACK_BATCH_SIZE = 512


def resolved_batch_size(spec, batch_size, length, *, both_strands=False, strategy=None):
    """The batch size ``batch_size`` (a number, or "auto") stands for when scanning the layer ``spec``
    on sequences of at most ``length`` rows.

    "auto" asks :func:`auto_batch_size` (the route's byte budget); without a known length (batches
    of single sequences from a dataset of any length), :data:`FALLBACK_BATCH_SIZE`.
    """
    if batch_size != "auto":
        return batch_size
    if length is None:
        return FALLBACK_BATCH_SIZE
    return auto_batch_size(length, spec.kernel.shape[0], spec.kernel.shape[2], both_strands=both_strands,
                           strides=spec.strides, strategy=strategy, blocks=_blocks_per_sequence(spec, length))


def _blocks_per_sequence(spec, length):
    """Blocks whose best windows the scan keeps per sequence of ``length``: 1 for each sequence's best
    window, the pool's blocks, or every window for the sites anywhere."""
    pool = {"sequence": None, "block": spec.pool, "anywhere": EVERY_WINDOW}[spec.scope]
    if pool is None:
        return 1
    return max(len(pool_blocks(windows_per_sequence(length, spec.kernel.shape[0], spec.padding, spec.strides),
                               pool)[0]), 1)
