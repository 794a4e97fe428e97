"""Keras 3 on JAX and PyTorch: PWMCallback during fit and extract() on the live model.

Each backend runs in a fresh interpreter (tests/backend_run.py): Keras reads KERAS_BACKEND
once. Its PWMs are compared with the TensorFlow backend's on the same weights, here. A backend
that is not installed is skipped, saying so; CI installs both (the ``backends`` extra).
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from k2p_keras import extract
from k2p_keras.io.meme import read_meme

from conftest import REPO

sys.path.insert(0, str(REPO / "tests"))
from backend_run import EPOCHS, planted_data, small_model  # noqa: E402

#: extract's PWMs on the same weights agree to float64 rounding of the MLE's Newton steps; the
#: MEME files hold 6 significant digits.
RTOL, MEME_RTOL = 1e-9, 2e-6


@pytest.mark.parametrize("backend, module", [("jax", "jax"), ("torch", "torch")])
def test_callback_and_extract_under_another_backend_equal_tensorflows(backend, module, tmp_path):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[backends]')")
    done = subprocess.run([sys.executable, str(REPO / "tests" / "backend_run.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"backend={backend}" in done.stdout

    written = sorted(os.listdir(tmp_path / "pwms"))
    assert written == [f"epoch_{e:04d}.meme" for e in range(1, EPOCHS + 1)] + ["summary.tsv"]

    weights = np.load(tmp_path / "weights.npz")
    live = np.load(tmp_path / "live.npz")
    model = small_model()  # the TensorFlow backend, here
    model.get_layer("motif_conv").set_weights([weights["kernel"], weights["bias"]])
    x, _ = planted_data()
    ours = extract(model, x)
    np.testing.assert_allclose(live["ln_base"], ours.exact.ln_base, rtol=RTOL)
    np.testing.assert_allclose(live["pwms"], ours.exact.pwms, rtol=RTOL, atol=1e-12)
    # The callback's last epoch is extract on those weights and every sequence.
    last = read_meme(tmp_path / "pwms" / f"epoch_{EPOCHS:04d}.meme")
    np.testing.assert_allclose(np.stack([m.pwm for m in last]), ours.exact.pwms, rtol=MEME_RTOL, atol=1e-6)
