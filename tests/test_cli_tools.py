"""k2p-1.0's three tools, run as `k2p-keras` subcommands, reproduce the original's outputs."""
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from k2p_keras.cli.group import cli
from k2p_keras.io.meme import read_meme


def run(*args, stdin=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], input=stdin)
    return result


def test_kernel2pwm_reproduces_the_golden_meme(golden, tmp_path):
    out = tmp_path / "pwm.meme"
    result = run("kernel2pwm", golden / "toy_kernel_matrix.txt", out)
    assert result.exit_code == 0, result.output
    mine, theirs = read_meme(out).motifs[0], read_meme(golden / "toy_kernel_transformed_PWM.meme").motifs[0]
    assert mine.name == theirs.name == "temp_motif"
    np.testing.assert_allclose(mine.pwm, theirs.pwm, rtol=0, atol=1e-12)
    # Same layout too: only the last digits of the probabilities may differ.
    def layout(text):
        return [line if not line[:1].isdigit() else len(line.split()) for line in text.splitlines()]

    assert layout(out.read_text()) == layout((golden / "toy_kernel_transformed_PWM.meme").read_text())


def test_kernel2pwm_reads_stdin_and_writes_stdout(golden):
    text = (golden / "toy_kernel_matrix.txt").read_text()
    result = run("kernel2pwm", "-", "--base", 2, "--motif-name", "m1", "--use-meme-header", stdin=text)
    assert result.exit_code == 0
    assert result.output.startswith("MEME version 4") and "MOTIF m1" in result.output


def test_kernel2pwm_save_matrix_only_writes_rows(golden):
    result = run("kernel2pwm", golden / "toy_kernel_matrix.txt", "--save-matrix-only")
    rows = np.loadtxt(result.output.splitlines())
    assert rows.shape == (7, 4)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)


def test_kernel2pwm_correlation_convention_keeps_row_order(golden):
    result = run("kernel2pwm", golden / "toy_kernel_matrix.txt", "--save-matrix-only", "--convention", "correlation")
    rows = np.loadtxt(result.output.splitlines())
    assert rows[0].argmax() == 3  # kernel row 0 is "1 2 3 4": T is the most likely letter


@pytest.mark.parametrize("name", ["toy_PWM", "toy_PWM_2_with_zero"])
def test_pwm2kernel_reproduces_the_golden_kernels(golden, tmp_path, name):
    out = tmp_path / "kernel.txt"
    result = run("pwm2kernel", golden / f"{name}.meme", out)
    assert result.exit_code == 0, result.output
    expected = np.loadtxt(golden / f"{name}_transformed_kernel.txt")
    np.testing.assert_allclose(np.loadtxt(out), expected, rtol=0, atol=1e-12)


def test_pwm2kernel_warns_about_zeros_on_stderr(golden):
    proc = subprocess.run([sys.executable, "-m", "k2p_keras", "pwm2kernel", golden / "toy_PWM_2_with_zero.meme"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert "delta = 0.01" in proc.stderr and proc.stderr.count("\n") == 1
    assert len(proc.stdout.splitlines()) == 6


def test_pwm2kernel_converts_one_motif_of_several_with_motif(golden, tmp_path):
    two = tmp_path / "two.meme"
    text = (golden / "toy_PWM.meme").read_text()
    two.write_text(text + "\n" + text[text.index("MOTIF"):].replace("MOTIF toy_PWM", "MOTIF second"))
    result = run("pwm2kernel", two, "--motif", "second")
    assert result.exit_code == 0
    np.testing.assert_allclose(np.loadtxt(result.output.splitlines()), np.loadtxt(
        golden / "toy_PWM_transformed_kernel.txt"), rtol=1e-12)  # every motif by default: test_cli_usage.py


def test_kernel2pwm_mle_reproduces_the_golden_pwm_tensor(golden, tmp_path):
    out = tmp_path / "pwm.h5"
    result = run("kernel2pwm-mle", golden / "for.3..1.kernel.tensor.hdf5",
                 golden / "for.3..1.sequence.tensor.hdf5", out)
    assert result.exit_code == 0, result.output
    assert "ln b = 2.502513" in result.output
    with h5py.File(out) as mine, h5py.File(golden / "for.3..1.PWM.tensor.hdf5") as theirs:
        np.testing.assert_allclose(mine["PWM_tensor"][()], theirs["PWM_tensor"][()], rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- bad input

def bad(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("content, problem", [
    ("1 2 3\n4 5 6\n", "4"),
    ("1 2 3 x\n", "x"),
    ("1 2 3 nan\n", "finite"),
    ("", "empty"),
])
def test_bad_kernel_files_get_one_line_and_no_output(tmp_path, content, problem):
    kernel = bad(tmp_path, "kernel.txt", content)
    out = tmp_path / "out.meme"
    result = run("kernel2pwm", kernel, out)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert str(kernel) in result.output and problem in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == [kernel]


@pytest.mark.parametrize("content, problem", [
    ("MEME version 4\n\nALPHABET= ACGT\n", "no MOTIF"),
    ("MOTIF m\nletter-probability matrix: alength= 4 w= 1\n1.5 -0.5 0 0\n", "[0, 1]"),
    ("", "empty"),
])
def test_bad_meme_files_get_one_line_and_no_output(tmp_path, content, problem):
    meme = bad(tmp_path, "in.meme", content)
    out = tmp_path / "out.txt"
    result = run("pwm2kernel", meme, out)
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert str(meme) in result.output and problem in result.output
    assert not out.exists()


@pytest.mark.parametrize("base", ["1", "0.5", "-3", "inf"])
def test_base_at_or_below_one_is_refused(golden, base):
    result = run("kernel2pwm", golden / "toy_kernel_matrix.txt", "--base", base)
    assert result.exit_code != 0 and "greater than 1" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_mle_refuses_sequences_shorter_than_the_kernel(golden, tmp_path):
    seqs = tmp_path / "short.h5"
    with h5py.File(seqs, "w") as f:
        f["x"] = np.eye(4)[np.zeros((5, 10), int)]
    out = tmp_path / "out.h5"
    result = run("kernel2pwm-mle", golden / "for.3..1.kernel.tensor.hdf5", seqs, out)
    assert result.exit_code != 0 and "shorter than the kernel" in result.output
    assert not out.exists()


def test_mle_names_the_missing_dataset(golden, tmp_path):
    out = tmp_path / "out.h5"
    result = run("kernel2pwm-mle", golden / "for.3..1.kernel.tensor.hdf5", golden / "for.3..1.sequence.tensor.hdf5",
                 out, "--sequence-tensor-name", "nope")
    assert result.exit_code != 0 and "nope" in result.output and "temp_sequence_tensor" in result.output
    assert not out.exists()
