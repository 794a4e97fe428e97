"""What PWMCallback costs per epoch, against the epoch itself.

    python benchmarks/callback_overhead.py [--epochs 6] [--repeats 3] [--batch-size 32] [--max-sequences N]
    python benchmarks/callback_overhead.py --model realistic [--length 101] [--n 15600]

``--model toy`` (the default) retrains the architecture of ``example_models/deepbind.keras`` (fresh weights, same seed)
on ``data/example_seqs.h5``, alternately without callback and with
``PWMCallback(x, tmpdir)`` dumping after every epoch (MLE scan over all training sequences,
or ``--max-sequences`` of them), ``--repeats`` times each so that a busy machine weighs on
both alike. Reports medians over the epochs after the first of each fit (the first
includes tracing): the epoch without callback, the epoch with it, the dump alone (scan +
MLE + MEME + summary, timed inside the same epochs), and the ratio of the two epoch times.

``--model realistic`` is the model of issue 15: N (default 15,600) random one-hot sequences
of ``--length`` bp (101; the issue's 1,000 bp variant with ``--length 1000 --n 4000``), half
of them carrying one of two planted 10 bp motifs (label 1), ``Conv1D(64, 19, relu) ->
GlobalMaxPooling1D -> Dense(32, relu) -> Dense(1, sigmoid)``, batch 128, 4 epochs.
Fits without and with ``PWMCallback(x, tmpdir)`` at its defaults alternate, ``--repeats``
(2) times each; each fit's epochs after the first are averaged and the best (lowest) fit of
each kind kept. Printed: both epoch times and their ratio, the dump alone against the epoch
without callback (the goal of issue 15: under 0.10), and, on the trained weights, a
full-data dump (``max_sequences=None``) against the default one: their times and how far
ln b moved, in units of the default dump's standard error.
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
from k2p_keras.extraction import extract  # noqa: E402

REALISTIC_MOTIFS = ("TGACGTCATC", "GGGGCGGGGC")  # CREB-like and SP1-like, planted in the positives


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


def realistic_data(n, length, seed):
    """``n`` random one-hot sequences of ``length`` bp; half carry a planted motif (label 1)."""
    rng = np.random.default_rng(seed)
    letters = rng.integers(0, 4, size=(n, length))
    labels = np.zeros(n, dtype=np.float32)
    codes = [np.array(["ACGT".index(c) for c in motif]) for motif in REALISTIC_MOTIFS]
    for s in range(0, n, 2):
        motif = codes[rng.integers(len(codes))]
        start = rng.integers(0, length - len(motif) + 1)
        letters[s, start:start + len(motif)] = motif
        labels[s] = 1.0
    return np.eye(4, dtype=np.float32)[letters], labels


def realistic_model(length, seed):
    """Conv1D(64, 19, relu) -> GlobalMaxPooling1D -> Dense(32, relu) -> Dense(1), as issue 15."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((length, 4)),
        keras.layers.Conv1D(64, 19, activation="relu", name="motifs"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


def realistic(args):
    """The realistic model: best-of-``repeats`` epoch times without and with the callback."""
    x, y = realistic_data(args.n, args.length, args.seed)
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"realistic model: {x.shape[0]:,} sequences of {x.shape[1]} bp, Conv1D(64, 19) -> max-pool -> "
          f"Dense(32) -> Dense(1), batch {args.batch_size}, {args.epochs} epochs; devices: {devices}; "
          f"load average {os.getloadavg()[0]:.1f}")

    def fit(callback=None):
        before, after = Clock(), Clock()
        callbacks = [before, after] if callback is None else [before, callback, after]
        model = realistic_model(args.length, args.seed)
        model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0, callbacks=callbacks)
        epochs = [e - b for b, e in zip(after.begin, after.end)][1:]
        dumps = [a - b for b, a in zip(before.end, after.end)][1:]
        return model, statistics.mean(epochs), statistics.mean(dumps)

    plain, with_cb, dump = [], [], []
    for repeat in range(args.repeats):
        plain.append(fit()[1])
        with tempfile.TemporaryDirectory() as out:
            callback = PWMCallback(x, out, max_sequences=args.max_sequences)
            model, epoch, dumped = fit(callback)
        with_cb.append(epoch)
        dump.append(dumped)
        print(f"  repeat {repeat + 1}: without {plain[-1]:.2f} s, with {with_cb[-1]:.2f} s "
              f"(dump {dump[-1]:.3f} s); load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    scanned = callback.last_extraction.stats.n_sequences
    best_plain, best_with, best_dump = min(plain), min(with_cb), min(dump)
    print(f"epoch without callback: {best_plain:.3f} s (best of {args.repeats} fits, mean of epochs 2-{args.epochs})")
    print(f"epoch with PWMCallback: {best_with:.3f} s")
    print(f"  of which the dump:    {best_dump:.3f} s (scan of {scanned:,} of {len(x):,} sequences, MLE, MEME, "
          "summary)")
    print(f"RATIO with / without:   {best_with / best_plain:.3f}")
    print(f"RATIO dump / epoch:     {best_dump / best_plain:.3f} (goal < 0.10)")

    # The same weights, the dump's sequences against all of them (outside training).
    chosen = x if callback.sequence_indices is None else x[callback.sequence_indices]
    timed = {}
    for name, sequences in (("default", chosen), ("full", x)):
        extract(model, sequences)  # traced once
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            exact = extract(model, sequences).exact
            seconds.append(time.perf_counter() - start)
        timed[name] = (exact, min(seconds))
    (default, t_default), (full, t_full) = timed["default"], timed["full"]
    moved = np.abs(default.ln_base - full.ln_base) / default.se
    print(f"dump on the trained weights (best of 3, outside training): default {t_default:.3f} s ({len(chosen):,} sequences), "
          f"full data {t_full:.3f} s ({len(x):,}): {t_full / best_plain:.3f} of an epoch")
    print(f"ln b, default against full data: largest |difference| {np.abs(default.ln_base - full.ln_base).max():.4f}, "
          f"{moved.max():.2f} standard errors of the default dump (ln b {default.ln_base.mean():.3f}, "
          f"SE {default.se.mean():.4f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("toy", "realistic"), default="toy")
    parser.add_argument("--epochs", type=int, default=None, help="[toy 6, realistic 4]")
    parser.add_argument("--repeats", type=int, default=None, help="[toy 3, realistic 2]")
    parser.add_argument("--batch-size", type=int, default=None, help="[toy 32, realistic 128]")
    parser.add_argument("--max-sequences", default="auto", type=lambda v: v if v == "auto" else int(v),
                        help="the callback's max_sequences [auto]")
    parser.add_argument("--n", type=int, default=15_600, help="realistic: sequences [15600]")
    parser.add_argument("--length", type=int, default=101, help="realistic: sequence length [101]")
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    toy = args.model == "toy"
    for key, toy_value, realistic_value in (("epochs", 6, 4), ("repeats", 3, 2), ("batch_size", 32, 128)):
        if getattr(args, key) is None:
            setattr(args, key, toy_value if toy else realistic_value)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is left out)")
    if not toy:
        realistic(args)
        return

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
