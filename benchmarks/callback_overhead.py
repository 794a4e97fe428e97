"""What PWMCallback costs per epoch, against the epoch itself.

    python benchmarks/callback_overhead.py [--epochs 6] [--repeats 3] [--batch-size 32] [--max-sequences N]
    python benchmarks/callback_overhead.py --model realistic [--length 101] [--n 15600]
    python benchmarks/callback_overhead.py --model realistic --wall [--pairs 4] [--epochs 16] [--callback JSON]
    python benchmarks/callback_overhead.py --model realistic --epochs 16 --repeats 1 --versus-full

``--model toy`` (the default) retrains the architecture of ``example_models/deepbind.keras`` (fresh weights, same seed)
on ``data/example_seqs.h5``, alternately without callback and with
``PWMCallback(x, tmpdir, every=1)`` dumping after every epoch (MLE scan over all training
sequences, or ``--max-sequences`` of them), ``--repeats`` times each so that a busy machine
weighs on both alike. Reports medians over the epochs after the first of each fit (the
first includes tracing): the epoch without callback, the epoch with it, the dump alone
(scan + MLE + MEME + summary, timed inside the same epochs), and the ratio of the two.

``--model realistic``: N (default 15,600) random one-hot sequences
of ``--length`` bp (101; a 1,000 bp variant with ``--length 1000 --n 4000``), half
of them carrying one of two planted 10 bp motifs (label 1), ``Conv1D(64, 19, relu) ->
GlobalMaxPooling1D -> Dense(32, relu) -> Dense(1, sigmoid)``, batch 128, 4 epochs.
Fits without and with ``PWMCallback(x, tmpdir)`` at its defaults (``--every``,
``--max-sequences`` to change them) alternate, ``--repeats`` (2) times each. Printed per
fit: the epochs written and the callback's own seconds (its ``on_epoch_end``) against the
training seconds; then the medians: the callback's share of training over the whole fit
(the goal: under 0.10), over epochs 2-E (the first epoch's tracing left out),
and one dump against one epoch. With a subset (``--max-sequences``), also how far its ln b
lies from all the sequences' on the trained weights, in the subset's standard errors.

``--versus-full`` (realistic): after each fit with the callback, every epoch's ln b and SE in
``summary.tsv`` (on the subsample, except the last epoch) against the MLE on all the sequences
with that epoch's weights (kept by a callback listed after PWMCallback), in the subsample's SEs.

``--wall`` measures what a user's script sees instead: each fit in a fresh process (TensorFlow
imported and the data made before the clock starts), timed from ``PWMCallback(...)`` (or
from ``fit`` without it) to the end of ``fit``, in ``--pairs`` pairs without and with the
callback (``PWMCallback(x, folder, **JSON)``, ``--callback '{"every": "auto", "max_sequences": null}'``
for the defaults before every epoch was written), the order alternating. Whatever the callback's own clock might leave out (its
set-up, numba's start-up, contention with training) counts here. Printed per pair: both
wall times, the processes' CPU seconds, the callback's own clock (``time_spent``), the
epochs, and where the callback's time went (its hooks, numba's start-up); then the ratios
with / without - 1 (median and range over the pairs) and the difference in seconds.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
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
from k2p_keras.extract import extract  # noqa: E402

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


def subsample(option):
    """PWMCallback's max_sequences from --max-sequences: its default when not given, None for "all"."""
    return {} if option is None else {"max_sequences": None if option == "all" else option}


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
    """Conv1D(64, 19, relu) -> GlobalMaxPooling1D -> Dense(32, relu) -> Dense(1): the realistic model."""
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


class KeepWeights(keras.callbacks.Callback):
    """Each epoch's weights, as PWMCallback (listed before this one) saw them."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def versus_full(model, x, weights, summary):
    """Per epoch: the callback's ln b and SE (summary.tsv) against the MLE on all of ``x``, same weights."""
    from k2p_keras.io.text import read_summary

    _, rows = read_summary(summary)
    print("  epoch  scanned  ln b (callback)  SE      ln b (all)  SE (all)  difference / SE  [mean over filters]")
    for epoch, epoch_weights in enumerate(weights, start=1):
        mine = [r for r in rows if int(r["epoch"]) == epoch]
        if not mine:
            continue
        model.set_weights(epoch_weights)
        full = extract(model, x).exact
        ln_b, se = (np.array([float(r[c]) for r in mine]) for c in ("ln_b", "se_ln_b"))
        print(f"  {epoch:5d}  {int(mine[0]['sequences_scanned']):7,d}  {ln_b.mean():15.4f}  {se.mean():.4f}  "
              f"{full.ln_base.mean():10.4f}  {full.se.mean():.4f}    {np.mean((ln_b - full.ln_base) / se):+.2f}")


def realistic(args):
    """The realistic model: the callback's own time against training time, fits with and without it."""
    x, y = realistic_data(args.n, args.length, args.seed)
    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"realistic model: {x.shape[0]:,} sequences of {x.shape[1]} bp, Conv1D(64, 19) -> max-pool -> "
          f"Dense(32) -> Dense(1), batch {args.batch_size}, {args.epochs} epochs; PWMCallback(every={args.every!r}, "
          f"max_sequences={args.max_sequences or 'default'!r}); devices: {devices}; load average {os.getloadavg()[0]:.1f}")

    def fit(callback=None, kept=None):
        before, after = Clock(), Clock()
        callbacks = [before, after] if callback is None else [before, callback, after, kept]
        model = realistic_model(args.length, args.seed)
        model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0, callbacks=callbacks)
        epochs = [e - b for b, e in zip(after.begin, after.end)]
        dumps = [a - b for b, a in zip(before.end, after.end)]
        return model, epochs, dumps

    runs = []
    for repeat in range(args.repeats):
        _, plain, _ = fit()
        with tempfile.TemporaryDirectory() as out:
            out = args.out or out  # --out: the last fit's folder is kept (k2p-keras report OUT)
            callback = PWMCallback(x, out, every=args.every, **subsample(args.max_sequences))
            kept = KeepWeights()
            model, epochs, dumps = fit(callback, kept)
            if args.versus_full:
                versus_full(model, x, kept.weights, os.path.join(out, "summary.tsv"))
        # The callback's share of training: its own seconds against the training seconds of
        # the same fit (its epochs without its time) and of the fit without it.
        trained = sum(epochs) - sum(dumps)
        runs.append(dict(plain=plain, epochs=epochs, dumps=dumps, written=list(callback.dumped_epochs),
                         share=sum(dumps) / trained, share_plain=sum(dumps) / sum(plain),
                         share_late=sum(dumps[1:]) / (sum(epochs[1:]) - sum(dumps[1:])),
                         per_dump=[dumps[e - 1] for e in callback.dumped_epochs if e > 1],
                         epoch=statistics.mean(e - d for e, d in zip(epochs[1:], dumps[1:]))))
        run = runs[-1]
        print(f"  fit {repeat + 1}: epochs written {run['written']}; callback {sum(dumps):.2f} s of "
              f"{trained:.2f} s training ({run['share']:.3f}; {run['share_plain']:.3f} of the fit without it, "
              f"{sum(plain):.2f} s); per epoch {', '.join(f'{d:.2f}' for d in dumps)} s; "
              f"load {os.getloadavg()[0]:.1f}")
    scanned = callback.last_extraction.stats.n_sequences
    median = statistics.median
    print(f"sequences a dump scans: {scanned:,} of {len(x):,}")
    print(f"RATIO callback / training, whole fit:  {median(r['share'] for r in runs):.3f} "
          f"(median of {len(runs)} fits; goal < 0.10)")
    print(f"RATIO callback / training, epochs 2-{args.epochs}: {median(r['share_late'] for r in runs):.3f} "
          "(the first epoch's tracing left out)")
    per_dump = [d / r["epoch"] for r in runs for d in r["per_dump"]]
    if per_dump:
        print(f"RATIO one dump / one epoch (epochs 2-{args.epochs}): {median(per_dump):.3f} "
              f"(median of {len(per_dump)} dumps)")

    if callback.sequence_indices is None:
        return
    # A subset: its ln b against all the sequences', on the same (trained) weights, outside training.
    chosen = x[callback.sequence_indices]
    timed = {}
    for name, sequences in (("subset", chosen), ("full", x)):
        extract(model, sequences)  # traced once
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            exact = extract(model, sequences).exact
            seconds.append(time.perf_counter() - start)
        timed[name] = (exact, min(seconds))
    (subset, t_subset), (full, t_full) = timed["subset"], timed["full"]
    moved = np.abs(subset.ln_base - full.ln_base) / subset.se
    print(f"dump on the trained weights (best of 3, outside training): subset {t_subset:.3f} s "
          f"({len(chosen):,} sequences), all {t_full:.3f} s ({len(x):,})")
    # What a dump costs per sequence and filter (and per window and filter): the slope between the two
    # sizes, and the fixed part (the model read, Newton's steps, the MEME file) it leaves.
    filters, windows = full.pwms.shape[0], x.shape[1] - full.pwms.shape[1] + 1
    slope = (t_full - t_subset) / (len(x) - len(chosen))
    print(f"dump cost: {slope / filters * 1e6:.3f} us per sequence and filter "
          f"({slope / filters / windows * 1e9:.2f} ns per window and filter), "
          f"plus {t_full - slope * len(x):.3f} s per dump")
    print(f"ln b, subset against all: largest |difference| {np.abs(subset.ln_base - full.ln_base).max():.4f}, "
          f"{moved.max():.2f} standard errors of the subset's dump (ln b {subset.ln_base.mean():.3f}, "
          f"SE {subset.se.mean():.4f})")


# One fit in a fresh process, as a user's script runs it; prints one JSON line.
WALL_CHILD = """
import json, sys, tempfile, threading, time
from benchmarks.callback_overhead import Clock, realistic_data, realistic_model
with_callback, epochs, n, length, seed = sys.argv[1] == "with", int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), 2017
kwargs = json.loads(sys.argv[5])
x, y = realistic_data(n, length, seed)
model = realistic_model(length, seed)
events = []
with tempfile.TemporaryDirectory() as folder:
    start, cpu_start = time.perf_counter(), time.process_time()
    clock = Clock()
    callbacks = [clock]
    if with_callback:
        import k2p_keras.callback as module
        real_warm_up = module._load_compiled_kernels
        def timed_warm_up(*args):
            began, cpu = time.perf_counter(), time.thread_time()
            real_warm_up(*args)
            events.append(["numba's start-up", began - start, time.perf_counter() - began, time.thread_time() - cpu])
        module._load_compiled_kernels = timed_warm_up
        callback = module.PWMCallback(x, folder, **kwargs)
        events.append(["constructor", 0.0, time.perf_counter() - start, None])
        for hook in ("on_train_begin", "on_epoch_end", "on_train_end"):
            def timed(*args, _real=getattr(callback, hook), _hook=hook, **kwargs):
                began = time.perf_counter()
                _real(*args, **kwargs)
                events.append([_hook, began - start, time.perf_counter() - began, None])
            setattr(callback, hook, timed)
        callbacks = [callback, clock]
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=callbacks)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    written = list(callback.dumped_epochs) if with_callback else []
    spent = getattr(callback, "time_spent", float("nan")) if with_callback else 0.0
epochs = [end - begin for begin, end in zip(clock.begin, clock.end)]
print("JSON", json.dumps({"wall": wall, "cpu": cpu, "spent": spent, "events": events, "written": written,
                         "epochs": epochs}))
"""


def wall_clock(args):
    """Fits in fresh processes, without and with PWMCallback at its defaults: the wall-clock ratio."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2"}

    def fit(kind):
        done = subprocess.run([sys.executable, "-c", WALL_CHILD, kind, str(args.epochs), str(args.n),
                               str(args.length), args.callback], capture_output=True, text=True, env=env, cwd=REPO)
        lines = [line for line in done.stdout.splitlines() if line.startswith("JSON ")]
        if done.returncode != 0 or not lines:
            raise SystemExit(done.stderr[-3000:])
        return json.loads(lines[-1][5:])

    print(f"realistic model, wall-clock: {args.n:,} sequences of {args.length} bp, {args.epochs} epochs, batch 128; "
          f"PWMCallback(x, folder, **{args.callback}); {args.pairs} pairs of fresh processes; "
          f"load average {os.getloadavg()[0]:.1f}")
    pairs = []
    for p in range(args.pairs):
        order = ("without", "with") if p % 2 == 0 else ("with", "without")
        got = {kind: fit(kind) for kind in order}
        pairs.append(got)
        without, with_cb = got["without"]["wall"], got["with"]["wall"]
        print(f"pair {p + 1} ({order[0]} first): {without:.2f} s without, {with_cb:.2f} s with "
              f"(+{with_cb / without - 1:.3f}, {with_cb - without:+.2f} s); CPU {got['without']['cpu']:.2f} / "
              f"{got['with']['cpu']:.2f} s (+{got['with']['cpu'] / got['without']['cpu'] - 1:.3f}); the callback's "
              f"own clock {got['with']['spent']:.2f} s; epochs written {got['with']['written']}; "
              f"load {os.getloadavg()[0]:.1f}")
        print("    epochs (to the end of on_epoch_end), without: " + ", ".join(f"{e:.2f}" for e in got["without"]["epochs"])
              + "; with: " + ", ".join(f"{e:.2f}" for e in got["with"]["epochs"]))
        hooks = {}
        for name, at, seconds, cpu in got["with"]["events"]:
            hooks.setdefault(name, []).append(seconds)
            if not args.brief:
                print(f"    {at:7.2f} s  {name}: {seconds:.3f} s" + ("" if cpu is None else f" ({cpu:.3f} s CPU)"))
        print("    the callback's hooks: " + "; ".join(f"{name} {sum(v):.2f} s" + (f" ({', '.join(f'{s:.2f}' for s in v)})"
                                                                                 if len(v) > 1 else "")
                                                 for name, v in hooks.items()))
    ratio = [q["with"]["wall"] / q["without"]["wall"] - 1 for q in pairs]
    difference = [q["with"]["wall"] - q["without"]["wall"] for q in pairs]
    print(f"RATIO wall-clock with / without - 1: {statistics.median(ratio):.3f} "
          f"(pairs: {', '.join(f'{r:.3f}' for r in ratio)}; goal < 0.10)")
    print(f"wall-clock difference: {statistics.median(difference):.2f} s (range {min(difference):.2f} to "
          f"{max(difference):.2f}); fit without it {statistics.median(q['without']['wall'] for q in pairs):.2f} s")
    cpu = [q["with"]["cpu"] / q["without"]["cpu"] - 1 for q in pairs]
    print(f"RATIO process CPU with / without - 1: {statistics.median(cpu):.3f} "
          f"(pairs: {', '.join(f'{r:.3f}' for r in cpu)})")
    own = [q["with"]["spent"] / q["without"]["wall"] for q in pairs]
    print(f"the callback's own clock (time_spent) / fit without it: {statistics.median(own):.3f} "
          f"(pairs: {', '.join(f'{r:.3f}' for r in own)})")
    later = [sum(q["with"]["epochs"][1:]) / sum(q["without"]["epochs"][1:]) - 1 for q in pairs]
    print(f"epochs 2-{args.epochs} (dumps included), with / without - 1: {statistics.median(later):.3f} "
          f"(pairs: {', '.join(f'{r:.3f}' for r in later)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("toy", "realistic"), default="toy")
    parser.add_argument("--epochs", type=int, default=None, help="[toy 6, realistic 4]")
    parser.add_argument("--repeats", type=int, default=None, help="[toy 3, realistic 2]")
    parser.add_argument("--batch-size", type=int, default=None, help="[toy 32, realistic 128]")
    parser.add_argument("--max-sequences", default=None,
                        type=lambda v: v if v in ("auto", "all") else int(v),
                        help="the callback's max_sequences: N, auto or all [toy: all; realistic: the callback's default]")
    parser.add_argument("--every", default=1, type=lambda v: v if v == "auto" else int(v),
                        help="realistic: the callback's every [1, the default]")
    parser.add_argument("--n", type=int, default=15_600, help="realistic: sequences [15600]")
    parser.add_argument("--length", type=int, default=101, help="realistic: sequence length [101]")
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--wall", action="store_true",
                        help="realistic: wall-clock of fresh processes with and without the callback")
    parser.add_argument("--pairs", type=int, default=4, help="with --wall: pairs of fits [4]")
    parser.add_argument("--callback", default="{}", help="with --wall: PWMCallback's keywords as JSON [{} = defaults]")
    parser.add_argument("--brief", action="store_true", help="with --wall: the hooks' sums, not every call")
    parser.add_argument("--out", help="realistic: keep the callback's folder here (for k2p-keras report)")
    parser.add_argument("--versus-full", action="store_true",
                        help="realistic: every epoch's ln b against the MLE on all the sequences")
    args = parser.parse_args()
    toy = args.model == "toy"
    for key, toy_value, realistic_value in (("epochs", 6, 4), ("repeats", 3, 2), ("batch_size", 32, 128)):
        if getattr(args, key) is None:
            setattr(args, key, toy_value if toy else realistic_value)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is left out)")
    if not toy:
        wall_clock(args) if args.wall else realistic(args)
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
            callback = PWMCallback(x, out, every=1, **subsample(args.max_sequences or "all"))
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
