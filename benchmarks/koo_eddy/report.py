"""The results table: a CSV with every row, a markdown page with the header and the headline."""
import csv
import pathlib

from k2p_keras.io.text import atomic_open

from .pwm_sets import SET_NAMES, set_label

COLUMNS = ("model", "pool", "seed", "snapshot", "epoch", "test_auroc", "set", "filters", "match", "match_any",
           "coverage", "motifs_covered", "clusters", "purity", "completeness", "assignment", "cluster_labels", "note")


def write_csv(rows, path):
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path):
    """The rows written by :func:`write_csv`, numbers back as numbers."""
    rows = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            row = {k: v for k, v in row.items() if v != ""}
            for key in ("pool", "seed", "epoch", "filters", "match", "match_any", "coverage", "clusters"):
                if key in row:
                    row[key] = int(row[key])
            row["test_auroc"] = float(row["test_auroc"])
            rows.append(row)
    return rows


def _cell(row):
    if row is None:
        return ""
    if "match" not in row:
        return "n/a"
    return f"{row['match']}/{row['filters']} ({row['coverage']})"


def _key(row):
    return (-row["pool"], row["seed"], row["snapshot"] != "mid")


def write_markdown(rows, header, path):
    sets = [s for s in SET_NAMES if any(r["set"] == s for r in rows)]
    runs = sorted({(r["pool"], r["seed"], r["snapshot"]): r for r in rows}.values(), key=_key)
    by = {(r["pool"], r["seed"], r["snapshot"], r["set"]): r for r in rows}
    lines = [
        "# Koo & Eddy (2019) planted-motif benchmark: which filters name a planted motif?", "",
        f"- Command: `{header['command']}`",
        f"- Date: {header['date']}; runtime {header['seconds']:.0f} s (evaluation; training: see the models' "
        f"info.json); machine load (1, 5, 15 min) at the start {header['load_start']}, at the end {header['load_end']}",
        f"- Machine: {header['machine']}",
        f"- Models and data: `{header['cache']}` (rebuilt from the seeds when missing: "
        "`python -m benchmarks.koo_eddy train`)",
        "- Data: 12 JASPAR CORE 2016 motifs and their reverse complements in grammars of 1-5 motifs, uniform "
        f"background, {header['n_sequences']} x {header['length']} bp, 70/10/20, data seed {header['data_seed']}. "
        "PWMs from the test set's sequences.",
        f"- Training: {header['training']}",
        f"- Mid-training snapshot: {header['mid_rule']}",
        "- Statistic: PWMs clipped to the columns over 0.5 bits (first to last) +-3; Tomtom (memelite, through "
        "k2p_keras.annotate.match.tomtom) against JASPAR 2016 CORE vertebrates (519), a hit is E < 0.1. "
        "**match**: filters whose hits include a planted motif's JASPAR ids; **coverage**: planted motifs "
        "(of 12) some filter's best planted hit names.",
        "- Clusters: the library's (k2p_keras.annotate.group.clusters.cluster_motifs, on the unclipped PWMs); "
        "purity: clusters whose planted-matching filters all match one motif; completeness: planted motifs "
        "whose matching filters all fall in one cluster (in the CSV, with each filter's planted motif).",
        "", "Cells: filters matching a planted motif / filters (coverage of the 12).", "",
        "| model | seed | snapshot (epoch, test AUROC) | " + " | ".join(set_label(s) for s in sets) + " |",
        "|---" * (3 + len(sets)) + "|",
    ]
    for run in runs:
        cells = [run["model"], str(run["seed"]), f"{run['snapshot']} ({run['epoch']}, {run['test_auroc']:.3f})"]
        cells += [_cell(by.get((run["pool"], run["seed"], run["snapshot"], s))) for s in sets]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Over the seeds (mean filters matching a planted motif; coverage, fewest to most):", "",
              "| model | snapshot | seeds | " + " | ".join(set_label(s) for s in sets) + " |",
              "|---" * (3 + len(sets)) + "|"]
    for pool in sorted({r["pool"] for r in rows}, reverse=True):
        for snapshot in ("mid", "converged"):
            group = [r for r in rows if r["pool"] == pool and r["snapshot"] == snapshot]
            seeds = sorted({r["seed"] for r in group})
            cells = [f"CNN-{pool}", snapshot, ",".join(str(s) for s in seeds)]
            for s in sets:
                scored = [r for r in group if r["set"] == s and "match" in r]
                if not scored:
                    cells.append("n/a")
                    continue
                cov = [r["coverage"] for r in scored]
                mean = sum(r["match"] for r in scored) / len(scored)
                cells.append(f"{mean:.1f}/{scored[0]['filters']} ({min(cov)}-{max(cov)})")
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Cluster purity / completeness (same rows):", "",
              "| model | seed | snapshot | " + " | ".join(set_label(s) for s in sets) + " |",
              "|---" * (3 + len(sets)) + "|"]
    for run in runs:
        cells = [run["model"], str(run["seed"]), run["snapshot"]]
        for s in sets:
            r = by.get((run["pool"], run["seed"], run["snapshot"], s))
            cells.append(f"{r['purity']}, {r['completeness']}" if r and "purity" in r else "")
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({(r["set"], r["note"]) for r in rows if r.get("note")})
    if notes:
        lines += ["", "Sets the library refused (n/a):", ""] + [f"- {set_label(s)}: {n}" for s, n in notes]
    with atomic_open(path) as handle:
        handle.write("\n".join(lines) + "\n")
