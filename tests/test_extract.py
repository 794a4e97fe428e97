"""``k2p_keras.extract``: the one call behind the CLI, the callback and verify.

Every input kind the API takes gives the MEME file the command line writes, byte for byte;
the options the CLI does not exercise elsewhere (channels-first models, active sites,
N as 0.25 rows, the per-filter fallback to the shared base) are checked end to end against
the numpy reference of ``test_cli_model``.
"""
import gzip
import math
import typing

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

import k2p_keras  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.errors import K2PError, OptionError, PatternError  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402
from k2p_keras.result import ExtractionResult  # noqa: E402
from k2p_keras.transform import kernel_to_pwm  # noqa: E402
from test_cli_model import (LENGTH, WIDTH, functional_relu, numpy_mle, padded_windows,  # noqa: E402
                            planted_sequences, read_summary, train_briefly)

FILTERS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small trained model saved as .h5 and .keras, its sequences as HDF5 and as an array."""
    folder = tmp_path_factory.mktemp("extraction")
    keras.utils.set_random_seed(3)
    x = planted_sequences(n=120, n_rows=False)
    model = train_briefly(functional_relu(), x)
    paths = {"h5": folder / "m.h5", "keras": folder / "m.keras", "seqs": folder / "seqs.h5"}
    model.save(paths["h5"])
    model.save(paths["keras"])
    with h5py.File(paths["seqs"], "w") as f:
        f["x"] = x.astype(np.uint8)
    return model, x, paths


def copy_of(model):
    """The module's model, copied, so that a test may change its weights."""
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def cli_meme(tmp_path, *args):
    out = tmp_path / "cli.meme"
    result = CliRunner().invoke(cli, [str(a) for a in args] + ["-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_every_input_kind_writes_the_clis_meme_byte_for_byte(trained, tmp_path):
    model, x, paths = trained
    expected = cli_meme(tmp_path, paths["h5"], paths["seqs"])
    batches = [x[i:i + 50] for i in range(0, len(x), 50)]
    import tensorflow as tf

    inputs = {
        "file + hdf5": (paths["h5"], paths["seqs"]),
        ".keras + hdf5": (paths["keras"], paths["seqs"]),
        "loaded model + array": (model, x),
        "file + array": (str(paths["h5"]), x),
        "file + list of batches": (paths["h5"], batches),
        "file + callable": (paths["h5"], lambda: iter(batches)),
        "file + tf.data (x, y)": (paths["h5"], tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(32)),
        "file + tf.data unbatched": (paths["h5"], tf.data.Dataset.from_tensor_slices(x)),
        "file + channels-first array": (paths["h5"], x.transpose(0, 2, 1)),
    }
    def motifs_part(text):
        """The file after its '#' header, which names the inputs (a path, '<array>', ...)."""
        return text[text.index(b"MEME version"):]

    for label, (model_in, seqs_in) in inputs.items():
        out = tmp_path / f"{len(label)}.meme"
        k2p_keras.extract(model_in, seqs_in).write_meme(out)
        assert motifs_part(out.read_bytes()) == motifs_part(expected), label


def test_result_carries_what_the_cli_reports(trained, tmp_path):
    _, x, paths = trained
    result = k2p_keras.extract(paths["h5"], x, method="both")
    assert [s.kind for s in result.sets] == ["exact", "heuristic"]
    assert [m.name for m in result.motifs()][:2] == ["motif_conv_0_exact", "motif_conv_1_exact"]
    assert result.header()["pattern"] == result.pattern == (
        "motif_conv (Conv1D, relu) -> GlobalMaxPooling1D (assumption holds; sites: strong, each sequence's best window)")
    assert result.site_scope == "sequence"
    assert result.n_sequences == len(x)
    summary = tmp_path / "s.tsv"
    result.write_summary(summary)
    cli_summary = tmp_path / "cli.tsv"
    CliRunner().invoke(cli, [str(paths["h5"]), str(paths["seqs"]), "--method", "both", "-q",
                             "-o", str(tmp_path / "x.meme"), "--summary", str(cli_summary)])
    assert summary.read_text() == cli_summary.read_text()


def test_options_are_checked_before_anything_is_read(trained):
    _, x, paths = trained
    with pytest.raises(OptionError, match="^threshold_fraction: "):
        k2p_keras.extract(paths["h5"], x, method="both", threshold_fraction=1.5)
    with pytest.raises(OptionError, match="^base: "):
        k2p_keras.extract(paths["h5"], x, base=0.5)
    with pytest.raises(TypeError, match="unknown option"):
        k2p_keras.extract(paths["h5"], x, shared=True)
    with pytest.raises(K2PError, match="sequences are needed"):
        k2p_keras.extract(paths["h5"])
    with pytest.warns(UserWarning, match="sequences are not used"):
        k2p_keras.extract(paths["h5"], x, base=2.0)


def test_an_iterator_is_read_once_and_a_second_pass_is_refused(trained):
    _, x, paths = trained
    once = iter([x[:60], x[60:]])
    with pytest.raises(K2PError, match="can be read once"):
        k2p_keras.extract(paths["h5"], once, method="heuristic", threshold_fraction=0.5)


def test_a_broken_pattern_warns_and_strict_raises_pattern_error_without_cli_advice(tmp_path):
    model = keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(FILTERS, WIDTH, name="motif_conv"),
                              layers.Flatten(name="flat"), layers.Dense(1)])
    x = planted_sequences(n=20)
    with pytest.raises(PatternError) as err:
        k2p_keras.extract(model, x, strict=True)
    assert "flat (Flatten)" in str(err.value) and "--" not in str(err.value)
    with pytest.warns(UserWarning, match="strong windows anywhere"):
        result = k2p_keras.extract(model, x)
    assert result.exact.n_filters == FILTERS and result.site_scope == "anywhere"
    with pytest.raises(TypeError, match="unknown option.*force"):
        k2p_keras.extract(model, x, force=True)  # removed: the default now does what it did


# ----------------------------------------------------------------------------- options end to end

def test_channels_first_model_reads_fasta_and_both_tensor_layouts(tmp_path):
    """A channels-first Conv1D: the same PWMs from FASTA, (N, length, 4) and (N, 4, length)."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((4, LENGTH))
    h = layers.Conv1D(FILTERS, WIDTH, activation="relu", data_format="channels_first", name="motif_conv")(inputs)
    model = keras.Model(inputs, layers.Dense(1)(layers.GlobalMaxPooling1D(data_format="channels_first")(h)))
    model.save(tmp_path / "cf.h5")
    x = planted_sequences(n=60, n_rows=False)
    fasta = tmp_path / "seqs.fa.gz"
    with gzip.open(fasta, "wt") as f:
        for i, s in enumerate(x):
            f.write(f">s{i}\n" + "".join("ACGT"[k] for k in s.argmax(axis=1)) + "\n")
    with h5py.File(tmp_path / "cf_seqs.h5", "w") as f:
        f["x"] = x.transpose(0, 2, 1)  # as the model was trained
    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    expected = numpy_mle(kernel, padded_windows(x, WIDTH, "valid", 1), shared=True)
    for seqs in (fasta, tmp_path / "cf_seqs.h5", x):
        result = k2p_keras.extract(tmp_path / "cf.h5", seqs, sites="all")
        np.testing.assert_allclose(result.exact.ln_base, expected, rtol=0, atol=1e-6)
        for t in range(FILTERS):
            np.testing.assert_allclose(result.exact.pwms[t], kernel_to_pwm(kernel[:, :, t], math.exp(expected[t])),
                                       atol=1e-6)


def test_active_sites_leave_out_sequences_whose_relu_is_zero(trained, tmp_path):
    model, x, paths = copy_of(trained[0]), trained[1], trained[2]
    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    windows = padded_windows(x, WIDTH, "valid", 1)
    best_score = np.einsum("npla,laf->npf", windows, kernel).max(axis=1)  # (N, F)
    bias = -np.median(best_score, axis=0)  # about half the sequences pass the ReLU
    model.get_layer("motif_conv").set_weights([kernel, bias])
    model.save(tmp_path / "shifted.h5")
    best = best_score + bias
    assert 0 < (best > 0).sum() < best.size
    expected = [numpy_mle(kernel[:, :, t:t + 1], windows[best[:, t] > 0], shared=False)[0]
                for t in range(FILTERS)]
    summary = tmp_path / "s.tsv"
    cli_meme(tmp_path, tmp_path / "shifted.h5", paths["seqs"], "--sites", "active", "--per-filter-base",
             "--summary", summary)
    rows = read_summary(summary)
    # The summary holds 7 significant digits (io.text.SUMMARY_DIGITS): these ln b are over 10.
    np.testing.assert_allclose([float(r["ln_b"]) for r in rows], expected, rtol=1e-6, atol=1e-6)
    assert [int(r["sequences_used"]) for r in rows] == list((best > 0).sum(axis=0))


def test_n_as_quarter_rows_end_to_end(trained, tmp_path):
    model, x, paths = trained
    rng = np.random.default_rng(0)
    letters = x.argmax(axis=2)
    is_n = rng.random(letters.shape) < 0.05
    fasta = tmp_path / "n.fa"
    fasta.write_text("".join(f">s{i}\n" + "".join("N" if n else "ACGT"[k] for k, n in zip(row, nrow)) + "\n"
                             for i, (row, nrow) in enumerate(zip(letters, is_n))))
    quarter = x.astype(np.float64)
    quarter[is_n] = 0.25
    kernel = model.get_layer("motif_conv").get_weights()[0].astype(np.float64)
    expected = numpy_mle(kernel, padded_windows(quarter, WIDTH, "valid", 1), shared=True)
    zero_rows = numpy_mle(kernel, padded_windows(np.where(is_n[..., None], 0.0, x), WIDTH, "valid", 1), shared=True)
    assert abs(expected[0] - zero_rows[0]) > 1e-4  # the encoding matters on this data
    summary = tmp_path / "s.tsv"
    cli_meme(tmp_path, paths["h5"], fasta, "--n-encoding", "quarter", "--sites", "all", "--summary", summary)
    np.testing.assert_allclose([float(r["ln_b"]) for r in read_summary(summary)], expected, rtol=0, atol=1e-6)


def test_a_filter_without_a_per_filter_estimate_takes_the_shared_base(trained, tmp_path):
    model, x = copy_of(trained[0]), trained[1]
    kernel, bias = [w.astype(np.float64) for w in model.get_layer("motif_conv").get_weights()]
    kernel[:, :, 1] = 0.25  # every window scores the same: no per-filter maximum exists
    model.get_layer("motif_conv").set_weights([kernel, bias])
    windows = padded_windows(x, WIDTH, "valid", 1)
    shared = numpy_mle(kernel, windows, shared=True)[0]
    per_filter = [numpy_mle(kernel[:, :, t:t + 1], windows, shared=False)[0] for t in (0, 2)]
    with pytest.warns(UserWarning, match="filter 1: .* using the shared base"):
        result = k2p_keras.extract(model, x, shared_base=False, sites="all")
    np.testing.assert_allclose(result.exact.ln_base, [per_filter[0], shared, per_filter[1]], rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- batch_size="auto"

def test_auto_batch_size_follows_each_routes_byte_budget(monkeypatch):
    from k2p_keras.scan import route as scan

    monkeypatch.setattr(scan, "gpu_visible", lambda: False)
    monkeypatch.setattr(scan, "numba_available", lambda: True)
    # numba's lookups: 16 MB of float32 one-hot rows.
    assert scan.auto_batch_size(101, 19, 64) == 16 * 2 ** 20 // (16 * 101) == 10381
    assert scan.auto_batch_size(1000, 19, 64) == 1048
    assert scan.auto_batch_size(10, 5, 2) == scan.MAX_AUTO_BATCH
    assert scan.auto_batch_size(10 ** 7, 19, 64) == 1
    # TensorFlow on a CPU: the conv output of each strand and the best windows' float64 rows in 256 MB.
    monkeypatch.setattr(scan, "numba_available", lambda: False)
    one = 4 * 1001 * 64 + 8 * 4 * 19 * 64
    assert scan.auto_batch_size(1000, 19, 64) == 256 * 2 ** 20 // one
    assert scan.auto_batch_size(1000, 19, 64, both_strands=True) == 256 * 2 ** 20 // (2 * one)
    assert scan.auto_batch_size(1000, 19, 64, strides=4) == 256 * 2 ** 20 // (4 * 251 * 64 + 8 * 4 * 19 * 64)
    # A GPU: an eighth of its memory, for the conv alone (numba rescores on the CPU).
    monkeypatch.setattr(scan, "numba_available", lambda: True)
    monkeypatch.setattr(scan, "gpu_visible", lambda: True)
    assert scan.auto_batch_size(1000, 19, 64, gpu_memory=8 * 2 ** 30) == 2 ** 30 // (4 * 1001 * 64)
    monkeypatch.setattr(scan, "smallest_gpu_memory", lambda: None)  # TensorFlow does not say: the CPU's budget
    assert scan.auto_batch_size(1000, 19, 64) == 256 * 2 ** 20 // (4 * 1001 * 64)


def test_auto_batch_size_is_settled_when_the_batches_are_opened(trained, monkeypatch):
    """The plan's batches take the size of the options as they are when the scan starts: a
    strategy set after planning (as --devices does) makes them TensorFlow's size."""
    from dataclasses import replace

    from k2p_keras.scan import route as scan

    _, x, paths = trained
    many = np.concatenate([x] * 100)  # 12,000 sequences
    length = x.shape[1]
    monkeypatch.setattr(scan, "gpu_visible", lambda: False)
    # Budgets small enough for this small model's batches to show them.
    monkeypatch.setattr(scan, "LOOKUP_BATCH_BYTES", 16 * length * 1000)  # 1,000 sequences
    plan = k2p_keras.plan_extraction(paths["h5"], many)
    rows, filters = plan.spec.kernel.shape[0], plan.spec.kernel.shape[2]
    tensorflow_bytes = 4 * (length + 1) * filters + 32 * rows * filters
    monkeypatch.setattr(scan, "TENSORFLOW_BATCH_BYTES", tensorflow_bytes * 3000)  # 3,000 sequences
    size = max(len(batch) for batch in plan.open_batches())
    assert size == (1000 if scan.numba_available() else 3000)
    tf = pytest.importorskip("tensorflow")
    plan.options = replace(plan.options, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert max(len(batch) for batch in plan.open_batches()) == 3000
    plan.options = replace(plan.options, batch_size=700)
    assert max(len(batch) for batch in plan.open_batches()) == 700


@pytest.mark.parametrize("bad", [0, -3, 2.5, "big", True])
def test_bad_batch_sizes_are_refused_naming_the_option(trained, bad):
    _, x, paths = trained
    with pytest.raises(OptionError, match=r"^batch_size: expected 'auto' or a whole number >= 1"):
        k2p_keras.extract(paths["h5"], x, batch_size=bad)


def test_summary_columns_name_the_rows_keys(trained):
    """summary_columns is worked out without making the rows (a dump of the callback makes them
    once); it must still name every row's keys, in order, for each method."""
    _, x, paths = trained
    for method in ("exact", "heuristic", "both"):
        result = k2p_keras.extract(paths["h5"], x, method=method)
        assert all(tuple(row) == result.summary_columns for row in result.summary_rows()), method


def test_gpu_memory_is_the_smallest_gpu_nvidia_smi_reports(tmp_path, monkeypatch):
    """A stand-in nvidia-smi on PATH (this machine has none): its smallest GPU, in bytes; without
    the tool (or when it fails) None, and auto_batch_size keeps the CPU's budget."""
    import os
    import stat

    from k2p_keras.scan import route as scan

    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\nprintf '24576\\n8192\\n'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    scan.smallest_gpu_memory.cache_clear()
    assert scan.smallest_gpu_memory() == 8192 * 2 ** 20
    tool.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    scan.smallest_gpu_memory.cache_clear()
    assert scan.smallest_gpu_memory() is None
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    scan.smallest_gpu_memory.cache_clear()
    assert scan.smallest_gpu_memory() is None
    scan.smallest_gpu_memory.cache_clear()


# ----------------------------------------------------------------------------- base estimators

def test_each_base_estimator_writes_pwms_that_verify_reproduces_the_model_with(trained, tmp_path):
    """Every estimator only sets one base per filter: the MEME file it writes passes verify on the
    saved model, its header names the estimator, and the shrunk bases lie between the per-filter
    ones and the shared one."""
    _, _, paths = trained
    found = {}
    for estimator in ("shared", "per-filter", "shrunk"):
        out = tmp_path / f"{estimator}.meme"
        run = CliRunner().invoke(cli, [str(paths["h5"]), str(paths["seqs"]), "--sites", "all",
                                       "--base-estimator", estimator, "-o", str(out)])
        assert run.exit_code == 0, run.output
        checked = CliRunner().invoke(cli, ["verify", str(paths["h5"]), str(paths["seqs"]), "--pwms", str(out), "-q"])
        assert checked.exit_code == 0, checked.output
        rows = [line for line in checked.output.splitlines() if line.startswith("motif_conv_")]
        assert len(rows) == FILTERS and all(row.endswith("OK") for row in rows), checked.output
        base_line = [line for line in out.read_text().splitlines() if line.startswith("# base: ")]
        words = {"shared": "one shared base", "per-filter": "one base per filter,",
                 "shrunk": "shrunk toward the shared one"}[estimator]
        assert len(base_line) == 1 and words in base_line[0] + ",", base_line
        found[estimator] = np.array([float(m.alt_name.split(",")[0].removeprefix("ln_b="))
                                     for m in read_meme(out).motifs])
    assert len(set(found["per-filter"])) == FILTERS and len(set(found["shared"])) == 1
    low = np.minimum(found["per-filter"], found["shared"])
    high = np.maximum(found["per-filter"], found["shared"])
    assert np.all((low <= found["shrunk"]) & (found["shrunk"] <= high))
    assert "tau = " in [line for line in (tmp_path / "shrunk.meme").read_text().splitlines()
                        if line.startswith("# base: ")][0]


def test_the_older_shared_base_spellings_stand_for_two_estimators(trained, tmp_path):
    _, x, paths = trained
    flag = cli_meme(tmp_path, paths["h5"], paths["seqs"], "--per-filter-base")
    assert flag == cli_meme(tmp_path, paths["h5"], paths["seqs"], "--base-estimator", "per-filter")
    assert cli_meme(tmp_path, paths["h5"], paths["seqs"], "--shared-base") == cli_meme(
        tmp_path, paths["h5"], paths["seqs"], "--base-estimator", "shared")
    keyword = k2p_keras.extract(paths["h5"], x, shared_base=False)
    np.testing.assert_array_equal(keyword.exact.ln_base,
                                  k2p_keras.extract(paths["h5"], x, base_estimator="per-filter").exact.ln_base)
    assert keyword.options.base_estimator == "per-filter"
    with pytest.raises(OptionError, match="base_estimator.*give one"):
        k2p_keras.plan_extraction(paths["h5"], x, shared_base=True, base_estimator="shrunk")
    with pytest.raises(OptionError, match="base_estimator.*expected one of shared, per-filter, shrunk, got 'pooled'"):
        k2p_keras.plan_extraction(paths["h5"], x, base_estimator="pooled")
    clash = CliRunner().invoke(cli, [str(paths["h5"]), str(paths["seqs"]), "--shared-base", "--base-estimator",
                                     "shrunk"])
    assert clash.exit_code != 0 and "give one" in clash.output


def test_extract_and_its_result_have_type_hints_that_resolve():
    """The public call and what it returns say their types, and every name in them resolves (no
    forward reference to a module that is not imported)."""
    for function in (k2p_keras.extract, k2p_keras.plan_extraction):
        hints = typing.get_type_hints(function)
        assert hints["return"] in (ExtractionResult, k2p_keras.extract.__globals__["ExtractionPlan"])
        assert {"model", "sequences", "labels"} <= set(hints)
    fields = typing.get_type_hints(ExtractionResult)
    assert {"spec", "options", "exact", "heuristic", "influence", "clusters", "diagnostics"} <= set(fields)
    assert object not in fields.values()
    public = [name for name in vars(ExtractionResult) if not name.startswith("_")]
    for name in public:
        member = getattr(ExtractionResult, name)
        member = getattr(member, "fget", member)
        if callable(member):
            assert "return" in typing.get_type_hints(member), f"ExtractionResult.{name} says no return type"
