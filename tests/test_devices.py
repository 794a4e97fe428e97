"""The scan on several devices: a tf.distribute strategy gives the sums,
ln b and PWMs of the one-device scan; ``--devices`` fails fast in one line.

Two logical CPUs must be set up before TensorFlow starts its devices, so the mirrored
comparison runs in a fresh interpreter (tests/mirrored_scan_run.py).
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from k2p_keras import extract
from k2p_keras.cli.group import cli
from k2p_keras.scan.devices import as_travelling, parse_devices
from k2p_keras.errors import K2PError, OptionError
from k2p_keras.io.meme import read_meme
from k2p_keras.scan.best_windows import scan_best_windows
from k2p_keras.scan.route import numba_available

from conftest import REPO
from test_scan import sequences

HERE = REPO / "tests"
MODEL = REPO / "example_models" / "deepbind.h5"


@pytest.mark.slow  # a fresh TensorFlow with two logical CPUs scans the example: half a minute
def test_mirrored_strategy_on_two_cpus_equals_one_device():
    # oneDNN on, as TensorFlow sets it by default on many x86 CPUs (not on this AMD one): a replica
    # handed no sequence made its kernels fail ("Incompatible shapes: [0,4,9] vs. [1,5,9]").
    done = subprocess.run([sys.executable, str(HERE / "mirrored_scan_run.py")], capture_output=True, text=True,
                          timeout=900, cwd=HERE,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "replicas=2" in done.stdout and "OK" in done.stdout


def one_device_strategy():
    tf = pytest.importorskip("tensorflow")
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def test_a_one_device_strategy_gives_the_sums_of_no_strategy():
    rng = np.random.default_rng(5)
    batches = [sequences(rng, 9, 30, "quarter"), sequences(rng, 4, 30, "soft")]
    kernel, bias = rng.normal(size=(5, 4, 3)), rng.normal(size=3)
    options = dict(both_strands=True, letter_threshold=0.0, score_bins=20)
    plain = scan_best_windows(batches, kernel, bias, rescore="tensorflow", **options)
    mine = scan_best_windows(batches, kernel, bias, strategy=one_device_strategy(), **options)
    for name in ("score_sum", "row_weight", "max_preactivation", "letter_counts"):
        np.testing.assert_allclose(getattr(mine, name), getattr(plain, name), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mine.score_histogram.row_weight, plain.score_histogram.row_weight, atol=1e-12)


def test_numba_is_refused_under_a_strategy():
    if not numba_available():
        pytest.skip("numba not installed")
    with pytest.raises(K2PError, match="numba"):
        scan_best_windows([np.eye(4)[None]], np.ones((2, 4, 1)), rescore="numba", strategy=one_device_strategy())


def test_a_strategy_that_is_not_one_is_refused_naming_the_option():
    with pytest.raises(OptionError, match="tf.distribute.Strategy") as err:
        extract(MODEL, base=2.0, strategy="mirrored")
    assert err.value.option == "strategy"


def test_one_hot_and_n_rows_travel_as_uint8_quarters_soft_rows_as_float32():
    rng = np.random.default_rng(6)
    for n_encoding in ("zero", "quarter"):
        x = sequences(rng, 3, 20, n_encoding).astype(np.float32)
        travelling = as_travelling(x)
        assert travelling.dtype == np.uint8
        np.testing.assert_array_equal(travelling.astype(np.float32) * 0.25, x)
    soft = sequences(rng, 3, 20, "soft").astype(np.float32)
    assert as_travelling(soft).dtype == np.float32


@pytest.mark.parametrize("text, value", [("all", "all"), ("ALL", "all"), ("cpu", "cpu"), ("2", 2)])
def test_devices_spellings(text, value):
    assert parse_devices(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "gpu", "1.5", "mirrored", ""])
def test_bad_devices_are_refused(text):
    with pytest.raises(OptionError, match="all .* N .* cpu"):
        parse_devices(text)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result):
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "--devices" in lines[0], result.output
    return lines[0]


def test_a_bad_devices_value_fails_in_one_line_before_the_model_is_read(tmp_path):
    # A model that is not one: the option is refused first.
    (tmp_path / "model.h5").write_text("not a model")
    assert "'gpu'" in one_line_error(run(tmp_path / "model.h5", "--base", "2", "--devices", "gpu"))


def test_more_devices_than_gpus_fails_in_one_line():
    tf = pytest.importorskip("tensorflow")
    n = len(tf.config.list_physical_devices("GPU")) + 1
    assert f"sees {n - 1}" in one_line_error(run(MODEL, "--base", "2", "--devices", n))


@pytest.fixture(scope="module")
def few_sequences(tmp_path_factory):
    import h5py

    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        x = np.asarray(f["x"][:301], dtype=np.float32)
    path = tmp_path_factory.mktemp("seqs") / "seqs.npy"
    np.save(path, x)
    return path


def test_devices_all_writes_the_pwms_of_one_device(few_sequences, tmp_path):
    # Without a GPU, "all" leaves the scan on the CPU (no strategy), as "cpu" does.
    for name, extra in (("one", []), ("all", ["--devices", "all"]), ("cpu", ["--devices", "cpu"])):
        result = run(MODEL, few_sequences, "-q", "--batch-size", 100, "-o", tmp_path / f"{name}.meme", *extra)
        assert result.exit_code == 0, result.output
    one = read_meme(tmp_path / "one.meme")
    assert len(one) == 16
    for other in ("all", "cpu"):
        for a, b in zip(one, read_meme(tmp_path / f"{other}.meme"), strict=True):
            np.testing.assert_array_equal(a.pwm, b.pwm)


def test_devices_is_in_help():
    assert "--devices [all|N|cpu]" in run("extract", "--help").output


@pytest.mark.slow  # two TensorFlow processes start and meet over gRPC
def test_two_workers_of_a_multiworker_strategy_each_end_with_the_one_device_sums():
    """Two MultiWorkerMirroredStrategy workers on this machine: each scans its share, all-reduced."""
    import socket

    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [str(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = [subprocess.Popen([sys.executable, str(HERE / "multiworker_run.py"), str(i), *ports], cwd=HERE,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, out[-2000:] + err[-3000:]
            assert "replicas=2" in out and "OK" in out
    finally:
        for worker in workers:
            if worker.poll() is None:  # the other worker waits for a collective that will not come
                worker.kill()
