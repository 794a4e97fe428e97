"""What PWMCallback costs per epoch, against the epoch itself.

    python benchmarks/callback_overhead.py [--epochs 6] [--repeats 3] [--batch-size 32] [--max-sequences N]

Retrains the architecture of ``example_models/deepbind.keras`` (fresh weights, same seed)
on ``data/example_seqs.h5``, alternately without callback and with
``PWMCallback(x, tmpdir)`` dumping after every epoch (MLE scan over all training sequences,
or ``--max-sequences`` of them), ``--repeats`` times each so that a busy machine weighs on
both alike. Reports medians over the epochs after the first of each fit (the first
includes tracing): the epoch without callback, the epoch with it, the dump alone (scan +
MLE + MEME + summary, timed inside the same epochs), and the ratio of the two epoch times.
"""
import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from k2p_keras._tf import import_tensorflow  # noqa: E402

tf = import_tensorflow()
import keras  # noqa: E402

from k2p_keras.callback import PWMCallback  # noqa: E402


class Clock(keras.callbacks.Callback):
    """Records perf_counter at epoch begin and at its own place in on_epoch_end."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.begin.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.end.append(time.perf_counter())


def fresh_model(seed):
    """The deepbind architecture with newly initialised weights."""
    keras.utils.set_random_seed(seed)
    saved = keras.models.load_model(REPO / "example_models" / "deepbind.keras", compile=False)
    model = keras.models.clone_model(saved)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    return model


def timed_fit(x, y, args, callback=None):
    """Per-epoch seconds of one fit; with a callback also the seconds of its on_epoch_end."""
    before, after = Clock(), Clock()
    callbacks = [before, after] if callback is None else [before, callback, after]
    fresh_model(args.seed).fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                               callbacks=callbacks)
    epoch = [e - b for b, e in zip(after.begin, after.end)]
    dump = [a - b for b, a in zip(before.end, after.end)]
    return epoch, dump


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-sequences", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is left out)")

    with h5py.File(REPO / "data" / "example_seqs.h5", "r") as handle:
        x = handle["x"][:].astype(np.float32)
        y = handle["y"][:].astype(np.float32)
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"{x.shape[0]} sequences of length {x.shape[1]}, batch size {args.batch_size}, "
          f"{args.epochs} epochs; devices: {devices}")

    plain, with_cb, dump, first = [], [], [], []
    for _ in range(args.repeats):
        epochs, _ = timed_fit(x, y, args)
        plain += epochs[1:]
        with tempfile.TemporaryDirectory() as out:
            callback = PWMCallback(x, out, max_sequences=args.max_sequences)
            epochs, dumps = timed_fit(x, y, args, callback)
            scanned = callback.last_extraction.stats.n_sequences
        with_cb += epochs[1:]
        dump += dumps[1:]
        first.append(dumps[0])

    median = statistics.median
    print(f"epoch without callback: {median(plain):.3f} s (median of {len(plain)} epochs: "
          f"epochs 2-{args.epochs} of {args.repeats} fits)")
    print(f"epoch with PWMCallback: {median(with_cb):.3f} s")
    print(f"  of which the dump:    {median(dump):.3f} s (scan of {scanned} sequences, MLE, MEME, summary)")
    print(f"  the rest (training):  {median([e - d for e, d in zip(with_cb, dump)]):.3f} s")
    print(f"ratio with / without:   {median(with_cb) / median(plain):.3f}")
    print(f"first dump (tracing):   {median(first):.3f} s")


if __name__ == "__main__":
    main()
