"""Mutations of valid inputs, and the promise every command keeps on them.

Shared by the property-based tests (``tests/test_fuzz.py``) and the campaign that prints
the outcome table (``tests/fuzz_corpus/fuzz_table.py``). A mutation is a function
``mutate(seed_path, target_path, rng)`` that writes one damaged copy of a seed; a kind
(``KINDS``) names the seed, the mutations that apply to it and the command that reads it.

The promise (:func:`outcome`): exit 0, or a non-zero exit with exactly one line on stderr,
no traceback and no output file.
"""
import io
import json
import os
import pathlib
import shutil
import signal
import struct
import warnings
import zipfile

import h5py
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
OUTCOMES = ("exit 0", "one-line error", "traceback", "timeout", "partial output", "not one line")

NASTY_TEXT = ["nan", "inf", "-inf", "-1", "1e308", "-1e308", "", "0", "1e-320", "\u00ff", "A", ">", "MOTIF",
              "\x00", "9" * 400, "-0", "0x10", "1,5", "w=", "letter-probability", "#", ";", "N" * 70]
NASTY_JSON = [10 ** 9, -1, 0, "x", None, [], {}, [[[[1]]]], True, 1.5, 10 ** 30, -10 ** 9, "../../etc/passwd",
              {"module": "os", "class_name": "system", "config": {}}, "channels_first", "same", [1, 2], 1e308]
NASTY_DIMS = [0, 1, 3, 4, 5, 2, 50, 10 ** 8, 10 ** 9]
NPY_DESCR = ["<f4", "<f8", "|b1", "|u1", "<i8", "|O", "<c16", "|S3", "<U4", "|V8", ">f4", "<f2", "<M8[s]"]
H5_DTYPES = ["f4", "f8", "i1", "u1", "b1", "S3", "c16", "f2", "i8"]


# ----------------------------------------------------------------------------- byte-level mutations

def flip_bytes(seed, target, rng):
    data = bytearray(seed.read_bytes())
    for _ in range(int(rng.integers(1, 9))):
        position = int(rng.integers(0, len(data)))
        data[position] ^= 1 << int(rng.integers(0, 8))
    target.write_bytes(bytes(data))


def truncate(seed, target, rng):
    data = seed.read_bytes()
    target.write_bytes(data[:int(rng.integers(0, len(data)))])


def insert_junk(seed, target, rng):
    data = seed.read_bytes()
    position = int(rng.integers(0, len(data) + 1))
    junk = bytes(rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8))
    target.write_bytes(data[:position] + junk + data[position:])


def zero_block(seed, target, rng):
    data = bytearray(seed.read_bytes())
    start = int(rng.integers(0, len(data)))
    stop = min(len(data), start + int(rng.integers(1, 512)))
    data[start:stop] = bytes(stop - start)
    target.write_bytes(bytes(data))


BYTES = [flip_bytes, truncate, insert_junk, zero_block]


# ----------------------------------------------------------------------------- text mutations

def _lines(seed):
    return seed.read_bytes().decode("latin1").split("\n")


def _write_lines(target, lines):
    target.write_bytes("\n".join(lines).encode("latin1", "replace"))


def replace_token(seed, target, rng):
    lines = _lines(seed)
    row = int(rng.integers(0, len(lines)))
    words = lines[row].split(" ") or [""]
    words[int(rng.integers(0, len(words)))] = NASTY_TEXT[int(rng.integers(0, len(NASTY_TEXT)))]
    lines[row] = " ".join(words)
    _write_lines(target, lines)


def edit_lines(seed, target, rng):
    lines = _lines(seed)
    row = int(rng.integers(0, len(lines)))
    action = int(rng.integers(0, 4))
    if action == 0:
        del lines[row]
    elif action == 1:
        lines.insert(row, lines[row])
    elif action == 2:
        other = int(rng.integers(0, len(lines)))
        lines[row], lines[other] = lines[other], lines[row]
    else:
        lines[row] = lines[row] * int(rng.integers(2, 50))
    _write_lines(target, lines)


TEXT = [replace_token, edit_lines]


# ----------------------------------------------------------------------------- .npy headers

def forge_npy_header(seed, target, rng):
    """A header with a random dtype, shape or order, re-padded or not, over the seed's data."""
    data = seed.read_bytes()
    header_length = struct.unpack("<H", data[8:10])[0]
    body = data[10 + header_length:]
    descr = NPY_DESCR[int(rng.integers(0, len(NPY_DESCR)))] if rng.random() < 0.5 else "<f4"
    shape = (16, 50, 4)
    if rng.random() < 0.7:
        shape = tuple(int(rng.choice(NASTY_DIMS)) * (-1 if rng.random() < 0.1 else 1)
                      for _ in range(int(rng.integers(0, 5))))
    header = f"{{'descr': '{descr}', 'fortran_order': {bool(rng.random() < 0.2)}, 'shape': {shape}, }}"
    if rng.random() < 0.2:
        header = header[:int(rng.integers(0, len(header)))]
    encoded = header.encode("latin1")
    if rng.random() < 0.8:
        encoded += b" " * (-(10 + len(encoded) + 1) % 64) + b"\n"
    if rng.random() < 0.3:
        body = body[:int(rng.integers(0, len(body) + 1))]
    target.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(encoded)) + encoded + body)


# ----------------------------------------------------------------------------- HDF5 tensors

def forge_h5_tensor(seed, target, rng):
    """The seed's first dataset rewritten with a random shape, dtype, storage or node kind."""
    with h5py.File(seed, "r") as h5:
        name = next(iter(h5))
        data = h5[name][()]
    with h5py.File(target, "w") as h5:
        choice = int(rng.integers(0, 6))
        if choice == 0:
            h5.create_group(name)
        elif choice == 1:
            shape = tuple(int(rng.choice(NASTY_DIMS)) for _ in range(int(rng.integers(1, 5))))
            kwargs = {"chunks": True, "compression": "gzip"} if rng.random() < 0.5 else {}
            if np.prod(shape, dtype=float) == 0:
                kwargs = {}
            h5.create_dataset(name, shape=shape, dtype=str(rng.choice(H5_DTYPES)), **kwargs)
        elif choice == 2:
            dtype = str(rng.choice(H5_DTYPES))
            if dtype == "S3":
                h5.create_dataset(name, data=np.full(data.shape, b"abc", dtype="S3"))
            else:
                h5.create_dataset(name, data=data.astype(dtype))
        elif choice == 3:
            values = data.astype("f8").copy()
            values.flat[int(rng.integers(0, values.size))] = rng.choice([np.nan, np.inf, -1.0, 2.0, 1e300])
            h5.create_dataset(name, data=values)
        elif choice == 4:
            axes = list(range(data.ndim))
            rng.shuffle(axes)
            h5.create_dataset(name, data=np.ascontiguousarray(data.transpose(axes)[..., :int(rng.integers(0, 6))]))
        else:
            # Only a link at the top: links are not followed.
            h5.create_dataset(f"inner/{name}", data=data)
            h5[name] = h5py.SoftLink(f"/inner/{name}")


# ----------------------------------------------------------------------------- model configs and weights

def _nodes(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, path + (index,))


_DEEP = "__nested_3000_deep__"


def dump_config(config):
    """JSON text of a mutated config; the deep-nesting marker becomes 3,000 nested lists
    (written as text: building them as Python lists would hit the recursion limit here)."""
    return json.dumps(config).replace(f'"{_DEEP}"', "[" * 3000 + "1" + "]" * 3000)


def mutate_config(config, rng):
    """Replace, delete or deeply nest one node of a model config (in place; returns the config)."""
    paths = [p for p in _nodes(config) if p]
    path = paths[int(rng.integers(0, len(paths)))]
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    action = rng.random()
    if action < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action < 0.2:
        parent[path[-1]] = _DEEP
    else:
        parent[path[-1]] = NASTY_JSON[int(rng.integers(0, len(NASTY_JSON)))]
    return config


def _weight_replacement(old, rng):
    choice = int(rng.integers(0, 7))
    if choice == 0:
        return np.full(old.shape, b"abc", dtype="S3")
    if choice == 1:
        return old.astype(np.complex128)
    if choice == 2:
        return np.full(old.shape, np.nan, dtype=old.dtype)
    if choice == 3:
        return np.zeros(tuple(int(rng.choice([0, 1, 3, 4, 5])) for _ in range(int(rng.integers(0, 4)))))
    if choice == 4:
        return old.astype(str(rng.choice(["i1", "f2", "b1", "u8"])))
    if choice == 5:
        return None  # an empty group in its place
    return np.asarray(old * float(rng.choice([1e300, -1e38, 0.0])))


def _replace_dataset(group, key, rng):
    old = group[key][()]
    del group[key]
    new = _weight_replacement(np.asarray(old), rng)
    if new is None:
        group.create_group(key)
    else:
        group.create_dataset(key, data=new)


def h5_config_edit(seed, target, rng):
    shutil.copy(seed, target)
    with h5py.File(target, "r+") as h5:
        raw = h5.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        if rng.random() < 0.1:
            h5.attrs["model_config"] = [np.void(b"\xff\xfe\x00junk"), np.arange(5), "not json", "[]"][
                int(rng.integers(0, 4))]
        else:
            h5.attrs["model_config"] = dump_config(mutate_config(config, rng))


def h5_weight_edit(seed, target, rng):
    shutil.copy(seed, target)
    with h5py.File(target, "r+") as h5:
        datasets = []
        h5["model_weights"].visititems(lambda n, item: datasets.append(n) if isinstance(item, h5py.Dataset) else None)
        name = datasets[int(rng.integers(0, len(datasets)))]
        group_name, key = name.rsplit("/", 1)
        _replace_dataset(h5["model_weights"][group_name], key, rng)


def rewrite_keras(seed, target, edit_config=None, edit_weights=None):
    """A copy of a ``.keras`` zip: ``edit_config(bytes) -> bytes`` on config.json,
    ``edit_weights(h5py.File)`` on model.weights.h5 (kept uncompressed, as Keras writes it)."""
    with zipfile.ZipFile(seed) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    if edit_config is not None:
        members["config.json"] = edit_config(members["config.json"])
    if edit_weights is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "r+") as h5:
            edit_weights(h5)
        members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as out:
        for member, data in members.items():
            out.writestr(member, data, compress_type=zipfile.ZIP_STORED if member.endswith(".h5")
                         else zipfile.ZIP_DEFLATED)


def keras_config_edit(seed, target, rng):
    def edit(text):
        if rng.random() < 0.1:
            return bytes(rng.integers(0, 256, size=64, dtype=np.uint8))
        return dump_config(mutate_config(json.loads(text), rng)).encode()
    rewrite_keras(seed, target, edit_config=edit)


def keras_weight_edit(seed, target, rng):
    def edit(h5):
        datasets = []
        h5.visititems(lambda n, item: datasets.append(n) if isinstance(item, h5py.Dataset) else None)
        name = datasets[int(rng.integers(0, len(datasets)))]
        group_name, key = name.rsplit("/", 1)
        _replace_dataset(h5[group_name], key, rng)
    rewrite_keras(seed, target, edit_weights=edit)


# ----------------------------------------------------------------------------- kinds

EXTRACT_WITH = ["extract", str(SEEDS / "model.h5"), "{file}", "-q", "-o", "{out}"]
MODEL_FIXED = ["extract", "{file}", "--base", "2", "-q", "-o", "{out}"]

# kind: (seed file, mutations, command)
KINDS = {
    "MEME": ("motif.meme", TEXT + BYTES, ["pwm2kernel", "{file}", "{out}"]),
    "kernel text": ("kernel.txt", TEXT + BYTES, ["kernel2pwm", "{file}", "{out}"]),
    "kernel tensor HDF5": ("kernels.hdf5", [forge_h5_tensor] + BYTES,
                           ["kernel2pwm-mle", "{file}", str(SEEDS / "seqs.h5"), "{out}"]),
    "FASTA": ("seqs.fa", TEXT + BYTES, EXTRACT_WITH),
    "FASTA.gz": ("seqs.fa.gz", BYTES, EXTRACT_WITH),
    ".npy": ("seqs.npy", [forge_npy_header] + BYTES, EXTRACT_WITH),
    "HDF5 sequences": ("seqs.h5", [forge_h5_tensor] + BYTES, EXTRACT_WITH),
    ".h5 model": ("model.h5", [h5_weight_edit] + BYTES, MODEL_FIXED),
    ".h5 model config": ("model.h5", [h5_config_edit], MODEL_FIXED),
    ".keras model": ("model.keras", [keras_weight_edit] + BYTES, MODEL_FIXED),
    ".keras config.json": ("model.keras", [keras_config_edit], MODEL_FIXED),
    "verify .h5 model": ("model.h5", [h5_config_edit, h5_weight_edit],
                         ["verify", "{file}", str(SEEDS / "seqs.h5"), "-q"]),
}


def make_input(kind, mutation, seed_number, folder):
    """Write one mutated input of ``kind`` into ``folder``; return ``(path, argv, output path)``."""
    seed_name, _, command = KINDS[kind]
    seed = SEEDS / seed_name
    target = pathlib.Path(folder) / f"fuzz{seed_number}_{seed_name}"
    out = pathlib.Path(folder) / f"out{seed_number}"
    mutation(seed, target, np.random.default_rng(seed_number))
    argv = [part.replace("{file}", str(target)).replace("{out}", str(out)) for part in command]
    return target, argv, out


# ----------------------------------------------------------------------------- the promise

class Hang(Exception):
    """Raised by the alarm when a command runs past its time bound."""


def _alarm(signum, frame):
    raise Hang()


def run_in_process(argv, timeout=60):
    """Run ``k2p-keras argv`` with click's CliRunner; return ``(exit code, stdout, stderr, exception)``.

    A SIGALRM after ``timeout`` seconds stops a runaway (a hang guard, not a speed test).
    """
    from click.testing import CliRunner

    from k2p_keras.cli.group import cli

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with warnings.catch_warnings():
            # Every run shows its warnings, not only the first run in this process.
            warnings.simplefilter("always")
            result = CliRunner().invoke(cli, argv, catch_exceptions=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, exception


def outcome(exit_code, stderr, exception, out):
    """Which of :data:`OUTCOMES` a run ended in."""
    if isinstance(exception, Hang):
        return "timeout"
    if exception is not None or "Traceback" in stderr:
        return "traceback"
    if exit_code == 0:
        return "exit 0"
    if out is not None and os.path.exists(out):
        return "partial output"
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "one-line error" if len(lines) == 1 else "not one line"


def kept_promise(result):
    return result in ("exit 0", "one-line error")
