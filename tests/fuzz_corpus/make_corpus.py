"""Rebuild tests/fuzz_corpus: the valid seeds and the inputs that once broke k2p-keras.

    python tests/fuzz_corpus/make_corpus.py

``seeds/`` holds one small valid input of every kind we read (a Keras model as ``.h5`` and
``.keras``, one-hot sequences as HDF5, ``.npy``, FASTA and FASTA.gz, a MEME file, a kernel
text matrix and a k2p-1.0 kernel tensor); the fuzz tests mutate them. ``cases/`` holds the
inputs that broke a command when the fuzzing began (and those it found since), each made from a seed by one edit.
``MANIFEST.tsv`` says per case the command (``{file}`` is the case, ``{out}`` a fresh output
path, ``seeds/...`` a seed) and the promise: ``ok`` (exit 0) or ``error`` (non-zero exit,
one line on stderr, no traceback, no output file). ``guard`` is ``subprocess`` for the few
cases that need a memory or hang guard (run in a child with an address-space limit and a
timeout), ``inprocess`` for the rest.

The files are rebuilt byte for byte only up to HDF5 and zip timestamps; the tests do not
depend on their exact bytes.
"""
import gzip
import json
import os
import pathlib
import shutil
import struct
import zipfile

import h5py
import numpy as np

import fuzzing
from fuzzing import rewrite_keras

HERE = pathlib.Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
CASES = HERE / "cases"
LENGTH, FILTERS, WIDTH, N_SEQUENCES = 50, 4, 6, 16

# One line per case: (file, promise, guard, command, stderr says, what once went wrong).
MANIFEST = []


def case(name, promise, command, note, guard="inprocess", says=""):
    """Register a case; ``says`` is a piece of the one stderr line (error or warning) it must print."""
    MANIFEST.append((name, promise, guard, command, says, note))
    return CASES / name


# ----------------------------------------------------------------------------- seeds

def one_hot(rng, n=N_SEQUENCES, length=LENGTH):
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, length))]


def make_seeds():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    rng = np.random.default_rng(16)
    keras.utils.set_random_seed(16)
    model = keras.Sequential([
        keras.Input((LENGTH, 4)),
        keras.layers.Conv1D(FILTERS, WIDTH, activation="relu", name="motif_conv"),
        keras.layers.GlobalMaxPooling1D(name="pool"),
        keras.layers.Dense(1, activation="sigmoid", name="out"),
    ])
    model.layers[0].set_weights([rng.normal(0, 1, (WIDTH, 4, FILTERS)).astype("float32"),
                                 rng.normal(0, 0.1, FILTERS).astype("float32")])
    model.save(SEEDS / "model.keras")
    model.save(SEEDS / "model.h5")
    seqs = one_hot(rng)
    with h5py.File(SEEDS / "seqs.h5", "w") as h5:
        h5.create_dataset("x", data=seqs)
    np.save(SEEDS / "seqs.npy", seqs)
    letters = np.array(list("ACGT"))[seqs.argmax(axis=2)]
    fasta = "".join(f">s{i} seed\n{''.join(row[:30])}\n{''.join(row[30:])}\n" for i, row in enumerate(letters))
    (SEEDS / "seqs.fa").write_text(fasta)
    with gzip.open(SEEDS / "seqs.fa.gz", "wt") as handle:
        handle.write(fasta)
    pwm = rng.dirichlet(np.ones(4), size=WIDTH)
    rows = "".join(" ".join(f"{p:.6f}" for p in row) + "\n" for row in pwm)
    (SEEDS / "motif.meme").write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n"
        "A 0.25 C 0.25 G 0.25 T 0.25\n\nMOTIF seed_motif\n"
        f"letter-probability matrix: alength= 4 w= {WIDTH} nsites= 20 E= 0\n{rows}\n")
    kernel = rng.normal(0, 1, (WIDTH, 4))
    (SEEDS / "kernel.txt").write_text("".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in kernel))
    with h5py.File(SEEDS / "kernels.hdf5", "w") as h5:
        h5.create_dataset("kernel_tensor", data=rng.normal(0, 1, (FILTERS, WIDTH, 4)))


# ----------------------------------------------------------------------------- editing helpers

def h5_config(path):
    with h5py.File(path, "r") as h5:
        value = h5.attrs["model_config"]
    return json.loads(value.decode() if isinstance(value, bytes) else value)


def conv_entry(config):
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv1D")


def h5_with_config(name, edit):
    """A copy of the seed .h5 whose model_config is ``edit(config)`` (or the attribute value edit returns)."""
    target = CASES / name
    shutil.copy(SEEDS / "model.h5", target)
    config = h5_config(target)
    value = edit(config)
    with h5py.File(target, "r+") as h5:
        h5.attrs["model_config"] = json.dumps(config) if value is None else value
    return target


def h5_conv_weights(h5):
    group = h5["model_weights/motif_conv"]
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    return group, names


def h5_with_weight(name, index, edit):
    """A copy of the seed .h5 whose conv weight ``index`` (0 kernel, 1 bias) is replaced by ``edit(group, key, old)``."""
    target = CASES / name
    shutil.copy(SEEDS / "model.h5", target)
    with h5py.File(target, "r+") as h5:
        group, names = h5_conv_weights(h5)
        key = names[index]
        old = group[key][()]
        del group[key]
        edit(group, key, old)
    return target


def keras_with(name, config_edit=None, weights_edit=None, config_text=None):
    """A copy of the seed .keras zip with its config.json or model.weights.h5 edited."""
    def edit_config(text):
        if config_text is not None:
            return config_text.encode()
        config = json.loads(text)
        config_edit(config)
        return json.dumps(config).encode()

    target = CASES / name
    rewrite_keras(SEEDS / "model.keras", target,
                  edit_config if config_text is not None or config_edit is not None else None, weights_edit)
    return target


def npy_with_header(name, header_text, data=b"", pad=True):
    """A .npy file with a hand-written header (version 1.0); ``pad=False`` leaves its length unaligned."""
    header = header_text.encode("latin1")
    if pad:
        header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    (CASES / name).write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data)


# ----------------------------------------------------------------------------- cases

EXTRACT_FIXED = "extract {file} --base 2 -q -o {out}"
EXTRACT_SEQS = "extract seeds/model.h5 {file} -q -o {out}"
VERIFY = "verify {file} seeds/seqs.h5 -q"


def make_cases():
    # 1. kernel tensors without filters or positions (TensorFlow: "filter must not have zero elements").
    for name, shape in (("kernels_no_filters.hdf5", (0, WIDTH, 4)), ("kernels_no_positions.hdf5", (1, 0, 4))):
        with h5py.File(case(name, "error", "kernel2pwm-mle {file} seeds/seqs.h5 {out}",
                            f"kernel tensor of shape {shape}: TensorFlow traceback", says="at least one position and one filter"), "w") as h5:
            h5.create_dataset("kernel_tensor", data=np.zeros(shape))

    # Found by the fuzz campaign: a kernel entry past float32's range (the scan is float32).
    kernels = np.random.default_rng(3).normal(0, 1, (FILTERS, WIDTH, 4))
    kernels[1, 2, 3] = 4e303
    # (Since: any filter whose output can pass float32's range, e.g. entries of 1e38 in verify.)
    with h5py.File(case("kernels_beyond_float32.hdf5", "error", "kernel2pwm-mle {file} seeds/seqs.h5 {out}",
                        "an entry of 4e303: an overflow warning, then an error naming the sequences",
                        says="float32"), "w") as h5:
        h5.create_dataset("kernel_tensor", data=kernels)

    # 2. A dilation that expands the kernel to 2.56 TiB.
    def dilate(config):
        conv_entry(config)["config"]["dilation_rate"] = [1000000000]
    h5_with_config(case("dilation_1e9.h5", "error", EXTRACT_FIXED, "dilation_rate 1e9: numpy allocates 2.56 TiB",
                        guard="subprocess", says="more than the model's input length").name, dilate)

    # 3. Kernels stored as strings.
    h5_with_weight(case("kernel_strings.h5", "error", EXTRACT_FIXED, "kernel stored as S3: ValueError", says="expected numbers").name, 0,
                   lambda g, k, old: g.create_dataset(k, data=np.full(old.shape, b"abc", dtype="S3")))

    def strings_keras(h5):
        group = h5["layers/conv1d/vars"]
        shape = group["0"].shape
        del group["0"]
        group.create_dataset("0", data=np.full(shape, b"abc", dtype="S3"))
    keras_with(case("kernel_strings.keras", "error", EXTRACT_FIXED, "kernel stored as S3: ValueError",
                    says="expected numbers").name,
               weights_edit=strings_keras)

    # 4. The kernel dataset replaced by an empty group.
    h5_with_weight(case("kernel_group.h5", "error", EXTRACT_FIXED, "kernel is an empty group: h5py TypeError", says="group")
                   .name,
                   0, lambda g, k, old: g.create_group(k))

    # 5, 6. model_config as opaque bytes, or as an integer array.
    h5_with_config(case("config_bytes.h5", "error", EXTRACT_FIXED, "model_config opaque bytes: UnicodeDecodeError", says="not UTF-8")
                   .name, lambda c: np.void(b"\xff\xfe\x00\x01garbage"))
    h5_with_config(case("config_ints.h5", "error", EXTRACT_FIXED, "model_config an int array: json TypeError", says="expected a JSON")
                   .name,
                   lambda c: np.arange(12, dtype=np.int64))

    # 7. kernel_size nested 10,000 lists deep.
    deep = "[" * 10000 + "6" + "]" * 10000
    seed_text = json.dumps(json.loads(zipfile.ZipFile(SEEDS / "model.keras").read("config.json")))
    text = seed_text.replace('"kernel_size": [6]', f'"kernel_size": {deep}', 1)
    assert text != seed_text
    keras_with(case("config_deep.keras", "error", EXTRACT_FIXED, "kernel_size 10,000 lists deep: RecursionError", says="levels deep")
               .name, config_text=text)
    h5_with_config(case("config_deep.h5", "error", EXTRACT_FIXED,
                        "kernel_size 10,000 lists deep: refused as a corrupt HDF5 file", says="levels deep").name,
                   lambda c: json.dumps(c).replace('"kernel_size": [6]', f'"kernel_size": {deep}', 1))

    # 8, 9. Forged .npy headers.
    npy_with_header(case("npy_negative_shape.npy", "error", EXTRACT_SEQS, "shape (-300, 100, 4): OverflowError", says="not a readable .npy")
                    .name, "{'descr': '<f4', 'fortran_order': False, 'shape': (-300, 100, 4), }")
    npy_with_header(case("npy_unpadded_header.npy", "error", EXTRACT_SEQS, "header edited, not re-padded: "
                         "tokenize.TokenError", says="not a readable .npy").name, "{'descr': '<f4', 'fortran_order': False, 'shape': (16, 5",
                    pad=False)
    npy_with_header(case("npy_unclosed_header.npy", "error", EXTRACT_SEQS, "header cut short: tokenize.TokenError", says="not a readable .npy")
                    .name, "{'descr': '<f4', 'fortran_order': False, 'shape': (16, 50, 4), 'x': '''\n", pad=False)

    # Runaways: sizes declared that the file's bytes cannot hold, one FASTA record of 2e7 bases.
    with h5py.File(case("seqs_unwritten_1e8.h5", "error", EXTRACT_SEQS,
                        "(1e8, 100, 4) declared, no data written: scanned zeros for minutes",
                        guard="subprocess", says="stores 0"), "w") as h5:
        h5.create_dataset("x", shape=(100_000_000, 100, 4), dtype="f4")
    with h5py.File(case("seqs_one_1e9.h5", "error", EXTRACT_SEQS,
                        "(1, 1e9, 4) float32 declared: passed 6 GiB", guard="subprocess",
                        says="stores 0"), "w") as h5:
        h5.create_dataset("x", shape=(1, 1_000_000_000, 4), dtype="f4")
    with gzip.open(case("fasta_one_2e7.fa.gz", "error", EXTRACT_SEQS,
                        "one record longer than any training sequence (the 1e9-base one passed 6 GiB)",
                        guard="subprocess", says="more than 100 x the model's input length"), "wb", compresslevel=9) as handle:
        handle.write(b">chr_huge\n")
        line = b"ACGT" * 25 + b"\n"
        for _ in range(200_000):
            handle.write(line)

    long = np.zeros((1, 6000, 4), dtype=np.uint8)
    long[0, :, 0] = 1
    with h5py.File(case("seqs_120x_model_input.h5", "error", EXTRACT_SEQS,
                        "one sequence 120 x the model's input length: went on after a warning",
                        says="the model's input length"), "w") as h5:
        h5.create_dataset("x", data=long, compression="gzip")

    seqs = np.eye(4)[np.random.default_rng(4).integers(0, 4, size=(N_SEQUENCES, LENGTH))]
    seqs[2, 7, 1] = 1e300
    with h5py.File(case("seqs_float64_1e300.h5", "error", EXTRACT_SEQS, "a value of 1e300 in float64 sequences: "
                        "numpy's overflow warning, then the error (found by the long profile)", says="holds inf"),
                   "w") as h5:
        h5.create_dataset("x", data=seqs)

    # Found by the long profile: the campaign's own mutations, kept as they were made.
    for kind, mutation, number, name, says in (
            ("kernel tensor HDF5", fuzzing.flip_bytes, 1071, "kernels_damaged_dtype.hdf5", "damaged HDF5"),
            ("kernel tensor HDF5", fuzzing.flip_bytes, 1546, "kernels_damaged_name.hdf5", "damaged HDF5"),
            (".npy", fuzzing.forge_npy_header, 1585, "npy_shape_overflows.npy", "not a readable .npy"),
            (".keras model", fuzzing.flip_bytes, 3461, "keras_zip_version.keras", "corrupt .keras zip")):
        path, argv, _ = fuzzing.make_input(kind, mutation, number, CASES)
        command = " ".join("{file}" if part == str(path) else "{out}" if part.startswith(str(CASES / "out"))
                           else part.replace(str(SEEDS), "seeds") for part in argv)
        path.rename(case(name, "error", command, f"fuzzing.{mutation.__name__} #{number} of {kind}: "
                         "a traceback or a numpy warning before the error", says=says))

    # Accepted though wrong.
    h5_with_weight(case("bias_nan.h5", "error", VERIFY, "all-NaN bias: verify said 'largest difference 0'",
                        says="NaN").name, 1,
                   lambda g, k, old: g.create_dataset(k, data=np.full(old.shape, np.nan, dtype=old.dtype)))
    h5_with_weight(case("kernel_complex.h5", "error", EXTRACT_FIXED, "complex kernel: cast with numpy's warning", says="complex")
                   .name, 0, lambda g, k, old: g.create_dataset(k, data=old.astype(np.complex128) * (1 + 1j)))

    def filters_1e9(config):
        conv_entry(config)["config"]["filters"] = 10 ** 9
    h5_with_config(case("config_filters_1e9.h5", "ok", EXTRACT_FIXED, "filters 10**9 in the config: silent",
                        says="filters=1000000000").name,
                   filters_1e9)

    def no_bias(config):
        conv_entry(config)["config"]["use_bias"] = False
    h5_with_config(case("config_use_bias_false.h5", "ok", EXTRACT_FIXED,
                        "use_bias false with a stored bias: silent", says="use_bias=False").name, no_bias)

    def five_channels(config):
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, LENGTH, 5]
    h5_with_config(case("config_input_5_channels.h5", "ok", EXTRACT_FIXED, "input of 5 channels: silent", says="5 channels").name,
                   five_channels)

    def os_system(config):
        conv_entry(config)["config"]["activation"] = {"module": "os", "class_name": "system",
                                                      "config": {"command": "echo pwned"}, "registered_name": None}
    h5_with_config(case("activation_os_system.h5", "error", VERIFY,
                        "activation class os.system: verify exited 0 after a safe-mode warning",
                        says="outside Keras").name, os_system)

    # Found by the fuzzing since.
    h5_with_weight(case("kernel_1e38_verify.h5", "error", VERIFY, "kernel entries of 1e38 (float32): verify's "
                        "conv overflowed, a warning per filter, then 'differ by NaN'", says="float32").name, 0,
                   lambda g, k, old: g.create_dataset(k, data=(old * 1e38).astype(old.dtype)))

    def name_none(config):
        conv_entry(config)["config"]["name"] = None
    h5_with_config(case("config_layer_name_none.h5", "error", EXTRACT_FIXED, "a layer named null: h5py TypeError",
                        says="expected text").name, name_none)

    def kernel_size_string(config):
        conv_entry(config)["config"]["kernel_size"] = "six"
    h5_with_config(case("config_kernel_size_string.h5", "error", EXTRACT_FIXED,
                        "kernel_size a string: refused (kept as a regression case)").name, kernel_size_string)


def main():
    for folder in (SEEDS, CASES):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    make_seeds()
    make_cases()
    lines = ["# file\tpromise\tguard\tcommand\tstderr says\twhat once went wrong"]
    lines += ["\t".join(row) for row in MANIFEST]
    (HERE / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"{len(MANIFEST)} cases, {total / 1024:.0f} kB in {HERE}")


if __name__ == "__main__":
    main()
