"""The command line as people use it on real data (issue 12): fail fast, unambiguous inputs,
honest progress, clean interruption, the k2p-1.0 tools pointing to the model command.

The model is the bundled example (a real Keras file); sequence files are written here.
"""
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from k2p_keras.cli import cli

from conftest import REPO

MODEL = REPO / "example_models" / "deepbind.h5"
MODEL_KERAS = REPO / "example_models" / "deepbind.keras"
SEQS = REPO / "data" / "example_seqs.h5"
FASTA = REPO / "data" / "example_seqs.fa.gz"


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def one_line_error(result):
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture(scope="module")
def x():
    with h5py.File(SEQS) as f:
        return np.asarray(f[list(f)[0]][()])


# ----------------------------------------------------------------------------- HDF5 datasets

def test_the_dataset_that_fits_the_model_is_chosen_whatever_its_name(x, tmp_path):
    path = tmp_path / "seqs.h5"
    with h5py.File(path, "w") as f:
        f["A_labels"] = np.zeros(len(x))  # first alphabetically
        f["X_train"] = x
        f["X_short"] = x[:20, :50]  # sequences, but not of the model's input length
    out = tmp_path / "m.meme"
    result = run(MODEL, path, "-q", "-o", out)
    assert result.exit_code == 0, result.output
    assert f"{path} ({len(x)} sequences)" in out.read_text()


def test_several_fitting_datasets_are_refused_and_listed(x, tmp_path):
    path = tmp_path / "seqs.h5"
    with h5py.File(path, "w") as f:
        f["X_test"] = x[:100]
        f["X_train"] = x
    line = one_line_error(run(MODEL, path, "-q", "-o", tmp_path / "m.meme"))
    assert "X_test (100, 100, 4)" in line and f"X_train ({len(x)}, 100, 4)" in line and "--dataset" in line
    assert not (tmp_path / "m.meme").exists()
    result = run(MODEL, path, "-q", "--dataset", "X_train", "-o", tmp_path / "m.meme")
    assert result.exit_code == 0 and f"({len(x)} sequences)" in (tmp_path / "m.meme").read_text()


def test_no_fitting_dataset_lists_what_is_there(tmp_path):
    path = tmp_path / "seqs.h5"
    with h5py.File(path, "w") as f:
        f["labels"] = np.zeros(30)
        f["embedding"] = np.zeros((30, 8))
    line = one_line_error(run(MODEL, path, "-q"))
    assert str(path) in line and "labels (30,)" in line and "embedding (30, 8)" in line and "--dataset" in line
