"""Does the best filter's top database match name the planted motif?

    python -m benchmarks.paper.annotation benchmarks/paper/results/random_best_filters.meme

The benchmark keeps, per planted motif and PWM set, the PWM of the filter that recovers the
motif best (``<negatives>_best_filters.meme``, motifs named ``<motif ID>__<set>``). This
command annotates each against the database the motifs were planted from (JASPAR CORE 2016,
memelite's Tomtom through :func:`k2p_keras.annotate.match.tomtom.annotate_motifs`, the tool's own
defaults) and counts, per set, the motifs whose **top match is the planted motif** (its ID),
and those where that match is also significant (q <= the tool's threshold). A McNemar exact
test compares each set with the baseline (exact, shared base, every best window): on the
motifs where exactly one of the two names the planted motif, a binomial test of the split.

Writes ``<negatives>_annotation.md`` and ``.csv`` beside the MEME file.
"""
import collections
import csv
import pathlib
import time

import click
import numpy as np
from scipy.stats import binomtest

from k2p_keras.annotate.match.tomtom import DEFAULT_Q_THRESHOLD, annotate_motifs, load_database
from k2p_keras.io.meme import read_meme

from .pwm_sets import BASELINE, SET_LABELS, SET_NAMES
from .report import command_line, machine_info, now_utc

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DB = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"


def _split(name):
    motif, _, set_name = name.partition("__")
    return motif, set_name


def planted_ranks(annotation, queries):
    """Per query: (rank of the planted motif among its kept matches or None, top match, its q-value)."""
    found = {}
    for query in queries:
        motif, set_name = _split(query.name)
        matches = annotation.matches(query.name)
        ids = [m.target_id for m in matches]
        top = matches[0] if matches else None
        found[(motif, set_name)] = {
            "motif": motif, "set": set_name, "top_id": top.target_id if top else "",
            "top_name": (top.target_name or "") if top else "",
            "top_q": top.q_value if top else float("nan"),
            "planted_rank": ids.index(motif) + 1 if motif in ids else None,
            "top_is_planted": bool(top is not None and top.target_id == motif),
            "top_is_planted_significant": bool(top is not None and top.target_id == motif and top.significant),
        }
    return found


def mcnemar(baseline, other):
    """(other only, baseline only, two-sided exact p) over paired booleans."""
    baseline, other = np.asarray(baseline), np.asarray(other)
    gained = int(np.sum(other & ~baseline))
    lost = int(np.sum(baseline & ~other))
    p = binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0
    return gained, lost, p


def summarise(found):
    """Per set: counts of planted top matches and the McNemar test against the baseline."""
    motifs = sorted({motif for motif, _ in found})
    rows = []
    for set_name in SET_NAMES:
        if not all((m, set_name) in found for m in motifs):
            continue
        row = {"set": set_name, "motifs": len(motifs)}
        for key in ("top_is_planted", "top_is_planted_significant"):
            values = [found[(m, set_name)][key] for m in motifs]
            base = [found[(m, BASELINE)][key] for m in motifs]
            row[key] = int(sum(values))
            row[key + "_vs_baseline"] = mcnemar(base, values)
        ranks = [found[(m, set_name)]["planted_rank"] for m in motifs]
        row["planted_in_kept"] = sum(r is not None for r in ranks)
        rows.append(row)
    return rows


def write_results(found, rows, header, md_path, csv_path):
    with open(csv_path, "w", newline="") as handle:
        fields = ["motif", "set", "top_id", "top_name", "top_q", "planted_rank", "top_is_planted",
                  "top_is_planted_significant"]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for key in sorted(found):
            writer.writerow(found[key])
    lines = [f"# Paper benchmark: does the best filter's top match name the planted motif? ({header['negatives']})",
             "", f"- Command: `{header['command']}`", f"- Finished: {header['finished']}; runtime "
             f"{header['seconds']:.0f} s", f"- Machine: {header['machine']}",
             f"- Queries: `{header['queries']}` (the best filter per motif and PWM set, from the benchmark run)",
             f"- Database: {header['database']} ({header['n_targets']} motifs, the file the motifs were planted "
             f"from); memelite's Tomtom with k2p-keras's annotation defaults (q-value threshold "
             f"{header['q_threshold']}, Benjamini-Hochberg over the database)", "",
             "| PWM set | top match is the planted motif | vs default: gained/lost (McNemar p) | "
             "... and significant | vs default: gained/lost (p) | planted motif among the kept matches |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        n = row["motifs"]
        cells = [SET_LABELS[row["set"]]]
        for key in ("top_is_planted", "top_is_planted_significant"):
            gained, lost, p = row[key + "_vs_baseline"]
            cells.append(f"{row[key]}/{n}")
            cells.append("(default)" if row["set"] == BASELINE else f"{gained}/{lost} (p = {p:.2g})")
        cells.append(f"{row['planted_in_kept']}/{n}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Per motif and set: the csv beside this file (top match ID and name, its q-value, the rank "
              "of the planted motif among the kept matches)."]
    pathlib.Path(md_path).write_text("\n".join(lines) + "\n")


def annotate_best_filters(best_filters, db=DEFAULT_DB, command=None):
    """Annotate ``<negatives>_best_filters.meme``; write the table and csv beside it; return the rows."""
    started = time.perf_counter()
    best_filters = pathlib.Path(best_filters)
    negatives = best_filters.name.split("_best_filters")[0]
    queries = read_meme(best_filters).motifs
    database = load_database(str(db))
    annotation = annotate_motifs(queries, database)
    found = planted_ranks(annotation, queries)
    rows = summarise(found)
    header = {"negatives": negatives, "command": command or command_line("benchmarks.paper.annotation"),
              "finished": now_utc(), "seconds": time.perf_counter() - started, "machine": machine_info(),
              "queries": best_filters.name, "database": pathlib.Path(db).name, "n_targets": len(database),
              "q_threshold": DEFAULT_Q_THRESHOLD}
    md_path = best_filters.with_name(f"{negatives}_annotation.md")
    csv_path = best_filters.with_name(f"{negatives}_annotation.csv")
    write_results(found, rows, header, md_path, csv_path)
    return rows, md_path, csv_path


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("best_filters", type=click.Path(exists=True, dir_okay=False))
@click.option("--db", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_DB), show_default=True,
              help="The MEME file the motifs were planted from.")
def main(best_filters, db):
    """Count, per PWM set, the planted motifs named by the best filter's top database match."""
    rows, md_path, csv_path = annotate_best_filters(best_filters, db)
    counts = collections.OrderedDict((r["set"], r["top_is_planted"]) for r in rows)
    click.echo(f"top match is the planted motif: {dict(counts)}; wrote {md_path}, {csv_path}", err=True)


if __name__ == "__main__":
    main(prog_name="python -m benchmarks.paper.annotation")
