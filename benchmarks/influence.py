"""Influence and redundancy clusters where the truth is known: which constant ranks the
planted-motif filters first, whether a planted motif's filters share a cluster, and the cost.

    python benchmarks/influence.py                     # the bundled example (a few minutes)
    python benchmarks/influence.py --paper 12          # + 12 of the paper's simulations, one motif each
    python benchmarks/influence.py --multi 4           # + 4 simulations like the example: 4 motifs, 16 filters
    python benchmarks/influence.py --cost --repeats 3  # + `k2p-keras --influence --cluster` against a plain run
    python benchmarks/influence.py --paper 12 --multi 4 --cost --out benchmarks/paper/results/influence.md

**Planted-motif rule** (the truth): a filter learned a planted motif when that motif's own ID
is among its significant Tomtom matches (``k2p_keras.annotate.match.tomtom.annotate_motifs``:
memelite, both strands, flanks under 0.5 bits trimmed, overlap >= 5, Benjamini-Hochberg
q <= 0.05 over all 1,082 motifs) against the whole of JASPAR CORE 2016, the database the
motifs were drawn from (``data/jaspar``); the smallest p-value wins when several qualify.

**Influence** (``k2p_keras.annotate.run.influence``): each filter's map replaced by the pooled
mean (``pooled``, the default when a global pool follows) or the map's mean over sequences
and positions (``map``, Basset's); the AUROC ranks planted-motif filters against the rest by
the outputs' mean squared change (``msq``) or the loss change (``dloss``), on the training
sequences. **Clusters** (``k2p_keras.annotate.group.clusters``): Tomtom between the filters, JASPAR
CORE 2016 as the background, the library's rule (one cluster per learned motif: filters of 8
bits or more linked by a match at q <= 0.05 or a shared best database motif).

- ``--paper K``: benchmarks/paper's own simulation and model, unchanged (one motif planted in
  2,000 x 100 bp, Conv1D(8 filters, motif width + 4) -> ReLU -> global max -> Dense(sigmoid),
  20 epochs), on K motifs spread through JASPAR CORE 2016, the k-th model seeded k;
- ``--multi K``: the bundled example's design on other motifs: 4 JASPAR CORE 2016 motifs of
  distinct factors (width 6 to 15) drawn with seed k, one site per positive, 10,000 x 100 bp,
  Conv1D(16, 15, relu) -> global max -> Dense(sigmoid), 15 epochs;
- ``--cost``: fresh ``k2p-keras`` processes on the bundled example, interleaved (order
  rotating), plain against ``--influence``, ``--cluster`` and both (``--cluster``'s background
  is the newest JASPAR CORE vertebrates, loaded by pyjaspar).
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.timing import interleaved  # noqa: E402
from k2p_keras import extract  # noqa: E402
from k2p_keras.annotate.match.tomtom import annotate_motifs  # noqa: E402
from k2p_keras.io.meme import read_meme  # noqa: E402
from k2p_keras.io.text import write_text  # noqa: E402

JASPAR2016 = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"
EXAMPLE_MODEL = REPO / "example_models" / "deepbind.h5"
EXAMPLE_SEQS = REPO / "data" / "example_seqs.h5"
# example_models/make_examples.py plants these.
EXAMPLE_PLANTED = ("MA0099.2", "MA0139.1", "MA0035.3", "MA0079.3")
NULLS = ("pooled", "map")


def planted_labels(motifs, planted, database=JASPAR2016, q_threshold=0.05):
    """Per motif, the planted motif ID it learned (the rule of the module's docstring), or None."""
    annotation = annotate_motifs(motifs, database, q_threshold=q_threshold, top=2000)
    labels = []
    for motif in motifs:
        hits = [m for m in annotation.matches(motif.name, significant_only=True) if m.target_id in planted]
        labels.append(min(hits, key=lambda m: m.p_value).target_id if hits else None)
    return labels


def auroc(scores, positive):
    """Planted-motif filters against the rest (ties count half); NaN without both kinds."""
    scores, positive = np.asarray(scores, float), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg)))


def evaluate(model, x, y, planted, tag):
    """Influence with both constants and the clusters of one trained model: a table row."""
    result = extract(model, x)
    motifs = result.motifs()
    labels = planted_labels(motifs, planted)
    positive = np.array([label is not None for label in labels])
    row = {"data": tag, "filters": len(labels), "planted filters": int(positive.sum())}
    for null in NULLS:
        found = result.measure_influence(model, x, y, null=null)
        row[f"msq {null}"] = auroc(found.msq, positive)
        row[f"dloss {null}"] = auroc(found.delta_loss, positive)
        row[f"top {null}"] = bool(positive[int(np.argmax(found.msq))])
    clusters = result.find_clusters(JASPAR2016)
    shared = [[f for f, label in enumerate(labels) if label == p] for p in sorted(set(labels) - {None})]
    shared = [filters for filters in shared if len(filters) > 1]
    row["motifs in one cluster"] = (sum(len({clusters.labels[f] for f in filters}) == 1 for filters in shared),
                                    len(shared))
    row["mixed clusters"] = sum(len({labels[f] for f in clusters.members(c)} - {None}) > 1 for c in clusters.ids)
    row["clusters"] = " ".join("{" + ",".join(map(str, clusters.members(c))) + "}" for c in clusters.ids
                               if len(clusters.members(c)) > 1 or labels[clusters.members(c)[0]])
    row["labels"] = labels
    return row


def example_row():
    with h5py.File(EXAMPLE_SEQS) as f:
        x, y = f["x"][()].astype("float32"), f["y"][()].astype("float32")
    return evaluate(str(EXAMPLE_MODEL), x, y, EXAMPLE_PLANTED, "bundled example (20,000 x 100 bp, 16 filters)")


def paper_rows(n_motifs):
    from benchmarks.paper.model import ModelSettings, train_model  # loads Keras
    from benchmarks.paper.simulate import select_motifs, simulate_dataset

    meme = read_meme(JASPAR2016)
    for k, motif in enumerate(select_motifs(meme, (), n_motifs)):
        data = simulate_dataset(meme, motif, n_train=2000, n_test=2, length=100)
        model = train_model(data.x_train, data.y_train, ModelSettings(kernel_length=min(motif.width + 4, 100)), seed=k)
        yield evaluate(model, data.x_train, data.y_train, (motif.name,), f"paper: {motif.name} {motif.alt_name}")


def multi_rows(n_models, n=10000, length=100, epochs=15):
    from benchmarks.paper.simulate import plant_sites, random_background
    from k2p_keras._tf import import_tensorflow

    import_tensorflow()
    import keras  # after TensorFlow, loaded quietly

    pool = [m for m in read_meme(JASPAR2016).motifs if 6 <= m.width <= 15]
    for seed in range(1, n_models + 1):
        rng = np.random.default_rng(1000 + seed)
        chosen = []
        while len(chosen) < 4:
            motif = pool[int(rng.integers(len(pool)))]
            if all(motif.alt_name != c.alt_name for c in chosen):
                chosen.append(motif)
        half = n // 2
        positives = random_background(half, length, rng)
        group = np.arange(half) % 4
        for k, motif in enumerate(chosen):
            positives[group == k] = plant_sites(positives[group == k], motif.pwm, rng)
        x = np.concatenate([positives, random_background(n - half, length, rng)])
        y = np.concatenate([np.ones(half), np.zeros(n - half)]).astype("float32")
        order = rng.permutation(n)
        x, y = x[order], y[order]
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((length, 4))
        h = keras.layers.Conv1D(16, 15, activation="relu", name="motif_conv")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalMaxPooling1D()(h)))
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
        model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
        names = ", ".join(f"{m.name} {m.alt_name}" for m in chosen)
        yield evaluate(model, x, y, tuple(m.name for m in chosen), f"multi, seed {seed}: {names}")


def cost_rows(repeats):
    """Seconds of fresh `k2p-keras` processes on the bundled example, interleaved."""
    folder = tempfile.mkdtemp(prefix="k2p_influence_cost_")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    base = [sys.executable, "-m", "k2p_keras", str(EXAMPLE_MODEL), str(EXAMPLE_SEQS), "-q",
            "-o", os.path.join(folder, "m.meme")]
    configs = {"plain": [], "--influence": ["--influence"], "--cluster": ["--cluster"],
               "--influence --cluster": ["--influence", "--cluster"]}

    def run(extra):
        return lambda: subprocess.run(base + extra, env=env, check=True, capture_output=True)

    run(["--influence", "--cluster"])()  # warm the disk caches (numba, the files) outside the timing
    times, _ = interleaved({name: run(extra) for name, extra in configs.items()}, repeats)
    plain = statistics.median(times["plain"])
    return [{"command": f"k2p-keras deepbind.h5 example_seqs.h5 {name}".replace(" plain", ""),
             "seconds (median)": statistics.median(t), "range": f"{min(t):.1f}-{max(t):.1f}",
             "ratio to plain": statistics.median(t) / plain} for name, t in times.items()]


def _cell(value):
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:.3f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return f"{value[0]}/{value[1]}"
    return str(value)


def table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


COLUMNS = ["data", "planted filters", "msq pooled", "msq map", "dloss pooled", "dloss map", "top pooled", "top map",
           "motifs in one cluster", "mixed clusters", "clusters"]


def summary(rows, label):
    """Mean and median AUROC over the models with planted and other filters (the others have none)."""
    ranked = [r for r in rows if not np.isnan(r["msq pooled"])]
    out = {"data": f"**{label}: mean (median) over the {len(ranked)} models with planted and other filters**",
           "planted filters": ""}
    for key in ("msq pooled", "msq map", "dloss pooled", "dloss map"):
        values = [r[key] for r in ranked]
        out[key] = f"**{np.mean(values):.3f}** ({np.median(values):.3f})" if values else "n/a"
    for key in ("top pooled", "top map"):
        out[key] = f"{sum(r[key] for r in ranked)}/{len(ranked)}"
    out["motifs in one cluster"] = (sum(r["motifs in one cluster"][0] for r in rows),
                                    sum(r["motifs in one cluster"][1] for r in rows))
    out["mixed clusters"] = sum(r["mixed clusters"] for r in rows)
    out["clusters"] = ""
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paper", type=int, default=0, metavar="K", help="paper simulations (one motif each)")
    parser.add_argument("--multi", type=int, default=0, metavar="K", help="simulations like the example")
    parser.add_argument("--cost", action="store_true", help="time the command line with and without the analyses")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="write the tables as markdown here")
    args = parser.parse_args()
    started, load = time.time(), os.getloadavg()
    sections = []
    row = example_row()
    print(table([row], COLUMNS), end="", flush=True)
    sections.append("## The bundled example\n\n" + table([row], COLUMNS) + "\nPlanted-motif filters: " + ", ".join(
        f"{f} {label}" for f, label in enumerate(row["labels"]) if label) + ".\n")
    for label, rows_of, count in (("paper simulations", paper_rows, args.paper),
                                  ("simulations like the example", multi_rows, args.multi)):
        if not count:
            continue
        rows = []
        for row in rows_of(count):
            rows.append(row)
            print(table([row], COLUMNS).splitlines()[-1], flush=True)
        sections.append(f"## {label.capitalize()}\n\n" + table(rows + [summary(rows, label)], COLUMNS))
    if args.cost:
        rows = cost_rows(args.repeats)
        text = table(rows, ["command", "seconds (median)", "range", "ratio to plain"])
        print(text, flush=True)
        sections.append(f"## Cost (fresh processes, {args.repeats} interleaved repeats)\n\n" + text)
    command = "python benchmarks/influence.py " + " ".join(sys.argv[1:])
    header = (f"# Influence and redundancy clusters where the truth is known\n\n"
              f"`{command.strip()}`, {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC, "
              f"{(time.time() - started) / 60:.1f} min on {os.cpu_count()} CPUs (load average at the start "
              f"{load[0]:.1f}). How each figure is made: the docstring of `benchmarks/influence.py`. AUROC: "
              f"planted-motif filters against the rest, ranked by the outputs' mean squared change (msq) or the "
              f"loss change (dloss) when each filter's map is replaced by the pooled mean (pooled) or the map's "
              f"mean (map, Basset's); top: the most influential filter learned a planted motif; motifs in one "
              f"cluster: planted motifs learned by several filters whose filters all share one cluster.\n\n")
    text = header + "\n".join(sections)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
