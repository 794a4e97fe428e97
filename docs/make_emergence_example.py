"""Rebuild docs/emergence_example.png: the bundled example's model trained afresh with PWMCallback, its report.

    python docs/make_emergence_example.py [--epochs 6] [--keep DIR]

Trains the example's DeepBind-shaped model (example_models/make_examples.py's `build_models`,
fresh weights, seed 7) on data/example_seqs.h5 with PWMCallback(every=1, annotate=True) (the
newest JASPAR CORE vertebrates release pyjaspar holds), runs `k2p-keras report` on the folder,
and screenshots the report with Debian's chromium, network disabled, as a user would open it.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs"))
from make_report_example import take_screenshot  # noqa: E402  (the same browser, the same flags)


def train(folder, epochs):
    import h5py
    import keras

    sys.path.insert(0, str(REPO / "example_models"))
    from make_examples import build_models
    from k2p_keras import PWMCallback

    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        x, y = f["x"][()].astype("float32"), f["y"][()].astype("float32")
    keras.utils.set_random_seed(7)
    model = build_models(x.shape[1], 16, 15)["deepbind"]
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0,
              callbacks=[PWMCallback(x, folder, every=1, annotate=True)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--keep", type=pathlib.Path, default=None, help="Keep the callback folder and report here.")
    args = parser.parse_args()
    folder = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="k2p_emergence_"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    train(folder / "pwms", args.epochs)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "k2p_keras", "report", str(folder / "pwms"), "-o",
                    str(folder / "emergence.html"), "-q"], cwd=REPO, env=env, check=True)
    screenshot = REPO / "docs" / "emergence_example.png"
    take_screenshot(folder / "emergence.html", screenshot, (1100, 1600))
    print(f"wrote {screenshot} (callback folder and report in {folder})", file=sys.stderr)


if __name__ == "__main__":
    main()
