"""The base estimators side by side on a paper-benchmark run (strong sites): naming and recovery.

    python -m benchmarks.paper.estimators RUN_FOLDER [--out FILE.md]

RUN_FOLDER holds a run's ``<negatives>.csv`` and ``<negatives>_annotation.csv`` (``python -m
benchmarks.paper`` then its annotation step). Per estimator of :data:`ESTIMATOR_SETS`: the
motifs whose best filter's top JASPAR match is the planted motif (and significantly so), the
mean recovery distance, the best filter's ``ln b``, and paired tests against the default's set
(McNemar exact for naming, Wilcoxon signed-rank for the distance); the spread ``tau`` the
shrunk estimator assumed.
"""
import csv
import pathlib

import click
import numpy as np
from scipy.stats import wilcoxon

from k2p_keras.motifs.mle import DEFAULT_BASE_ESTIMATOR

from .annotation import mcnemar
from .report import command_line, now_utc

# (estimator, PWM set of benchmarks.paper.pwm_sets), all from the strong sites (the default rule).
ESTIMATOR_SETS = (("shared", "exact_strong_shared"), ("per-filter", "exact_strong_per_filter"),
                  ("shrunk", "exact_strong_shrunk"))


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def estimator_table(folder):
    """Markdown lines of the table, for the run in ``folder``."""
    folder = pathlib.Path(folder)
    annotation = next(folder.glob("*_annotation.csv"))
    negatives = annotation.name.split("_annotation")[0]
    runs = {r["motif"]: r for r in _rows(folder / f"{negatives}.csv")}
    named = {}
    for r in _rows(annotation):
        named[(r["motif"], r["set"])] = (r["top_is_planted"] == "True", r["top_is_planted_significant"] == "True")
    motifs = sorted(m for m in runs if all((m, s) in named for _, s in ESTIMATOR_SETS))
    default = dict(ESTIMATOR_SETS)[DEFAULT_BASE_ESTIMATOR]
    lines = [f"| base estimator ({negatives} negatives, {len(motifs)} motifs, strong sites) | top match is the "
             f"planted motif | vs default: gained/lost (McNemar p) | ... and significant | recovery distance "
             f"(mean) | closer/tie/farther than default (Wilcoxon p) | ln b of the best filter (mean) |",
             "|---|---|---|---|---|---|---|"]
    base_named = [named[(m, default)][0] for m in motifs]
    base_distance = np.array([float(runs[m][f"recovery_distance_{default}"]) for m in motifs])
    for estimator, set_name in ESTIMATOR_SETS:
        top = [named[(m, set_name)][0] for m in motifs]
        significant = sum(named[(m, set_name)][1] for m in motifs)
        distance = np.array([float(runs[m][f"recovery_distance_{set_name}"]) for m in motifs])
        ln_b = np.mean([float(runs[m][f"ln_b_best_filter_{set_name}"]) for m in motifs])
        if set_name == default:
            versus = closer = "(default)"
        else:
            gained, lost, p = mcnemar(base_named, top)
            versus = f"{gained}/{lost} (p = {p:.2g})"
            diff = distance - base_distance
            tests = wilcoxon(distance, base_distance).pvalue if np.any(diff != 0) else 1.0
            closer = (f"{int(np.sum(diff < -1e-12))}/{int(np.sum(np.abs(diff) <= 1e-12))}/"
                      f"{int(np.sum(diff > 1e-12))} (p = {tests:.2g})")
        lines.append(f"| {estimator} | {sum(top)}/{len(motifs)} | {versus} | {significant}/{len(motifs)} | "
                     f"{distance.mean():.3f} | {closer} | {ln_b:.2f} |")
    tau = np.array([float(runs[m]["tau_strong"]) for m in motifs])
    shrunk = np.array([float(runs[m]["ln_b_best_filter_exact_strong_shrunk"]) for m in motifs])
    own = np.array([float(runs[m]["ln_b_best_filter_exact_strong_per_filter"]) for m in motifs])
    lines += ["", f"tau (the spread of ln b between filters the shrunk estimator found): median {np.median(tau):.2f}, "
              f"range {tau.min():.2f} to {tau.max():.2f}; |ln b shrunk - ln b per-filter| of the best filter: "
              f"median {np.median(np.abs(shrunk - own)):.3g}, largest {np.abs(shrunk - own).max():.3g}."]
    return lines, motifs


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the table here too.")
def main(folder, out):
    """Compare the base estimators on a paper-benchmark run."""
    lines, _ = estimator_table(folder)
    text = "\n".join([f"<!-- {command_line('benchmarks.paper.estimators')}, {now_utc()} -->"] + lines) + "\n"
    click.echo(text)
    if out:
        pathlib.Path(out).write_text(text)


if __name__ == "__main__":
    main(prog_name="python -m benchmarks.paper.estimators")
