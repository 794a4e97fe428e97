"""Results on disk: a per-motif CSV, a markdown table with a summary, the AUROC plot."""
import csv
import datetime
import os
import platform
import sys

import numpy as np
from scipy.stats import wilcoxon

from k2p_keras.io.text import atomic_open, atomic_path

from .pwm_sets import BASELINE, SET_LABELS, SET_NAMES, SHORT_LABELS

# AUROCs closer than this count as a tie in the win/tie/loss tally.
TIE = 1e-3


def machine_info():
    """Platform, CPUs and library versions, for the table's header."""
    import sklearn

    from k2p_keras._tf import import_tensorflow

    tf = import_tensorflow()  # quietly, before Keras loads it
    import keras

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return (f"{platform.platform()}, {os.cpu_count()} CPUs ({usable} usable), Python "
            f"{platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
            f"numpy {np.__version__}, scikit-learn {sklearn.__version__}")


def write_csv(rows, path):
    """Every measured value, one row per motif, full precision."""
    if not rows:
        return
    with atomic_open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path):
    """The rows :func:`write_csv` wrote, numbers as floats."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = float(value)
            except ValueError:
                pass
    return rows


def _column(rows, key):
    return np.array([row[key] for row in rows], dtype=np.float64)


def paired_test(a, b):
    """Wins, ties and losses of ``a`` against ``b`` and the two-sided Wilcoxon signed-rank p."""
    diff = a - b
    tally = (int((diff > TIE).sum()), int((np.abs(diff) <= TIE).sum()), int((diff < -TIE).sum()))
    try:
        p = float(wilcoxon(a, b).pvalue)
    except ValueError:  # every difference is zero, or too few motifs
        p = float("nan")
    return {"wins": tally[0], "ties": tally[1], "losses": tally[2], "mean_diff": float(diff.mean()),
            "p": p}


def summarise(rows):
    """Per PWM set: means of every measure; paired tests against the heuristic (AUROC, AUPRC)
    and, for recovery, against today's default (exact, shared base, every best window)."""
    summary = {"n_motifs": len(rows), "model_auroc": float(_column(rows, "model_auroc").mean()), "sets": {}}
    for name in SET_NAMES:
        entry = {key: float(_column(rows, f"{key}_{name}").mean())
                 for key in ("auroc", "auprc", "mape", "mse", "recovery", "recovery_distance")}
        entry["mape_max"] = float(_column(rows, f"mape_{name}").max())
        if name != "heuristic":
            for key in ("auroc", "auprc"):
                entry[f"{key}_vs_heuristic"] = paired_test(_column(rows, f"{key}_{name}"),
                                                           _column(rows, f"{key}_heuristic"))
            entry["ln_b_best_filter"] = float(_column(rows, f"ln_b_best_filter_{name}").mean())
        if name != BASELINE:
            entry["recovery_vs_baseline"] = paired_test(_column(rows, f"recovery_{name}"),
                                                        _column(rows, f"recovery_{BASELINE}"))
            # Lower distance is better: baseline minus this set, so that a "win" is this set closer.
            entry["distance_vs_baseline"] = paired_test(_column(rows, f"recovery_distance_{BASELINE}"),
                                                        _column(rows, f"recovery_distance_{name}"))
        summary["sets"][name] = entry
    return summary


def _g(value, digits=4):
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def _f(value):
    return f"{value:.3f}"


def _vs(test):
    return f"{test['wins']}/{test['ties']}/{test['losses']} (mean {test['mean_diff']:+.4f}, p = {_g(test['p'], 3)})"


def _summary_table(summary):
    lines = [
        "| PWM set | mean AUROC | mean AUPRC | AUROC vs heuristic: W/T/L (mean diff, Wilcoxon p) | "
        "fidelity MAPE mean (max) | recovery r | r vs default: W/T/L (mean diff, p) | recovery distance | "
        "distance vs default: W/T/L (mean closer by, p) | mean ln b of the best filter |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SET_NAMES:
        s = summary["sets"][name]
        auroc_vs = _vs(s["auroc_vs_heuristic"]) if name != "heuristic" else ""
        r_vs = _vs(s["recovery_vs_baseline"]) if name != BASELINE else "(default)"
        d_vs = _vs(s["distance_vs_baseline"]) if name != BASELINE else "(default)"
        ln_b = _f(s["ln_b_best_filter"]) if name != "heuristic" else ""
        lines.append(f"| {SET_LABELS[name]} | {_f(s['auroc'])} | {_f(s['auprc'])} | {auroc_vs} | "
                     f"{_g(s['mape'], 3)} ({_g(s['mape_max'], 3)}) | {_f(s['recovery'])} | {r_vs} | "
                     f"{_f(s['recovery_distance'])} | {d_vs} | {ln_b} |")
    return lines


def _motif_table(rows):
    head = ["motif", "name", "width", "decoy", "model AUROC", "AUROC exact", "AUROC heur", "MAPE exact",
            "MAPE heur"]
    head += [f"distance {SHORT_LABELS[n]}" for n in SET_NAMES]
    head += ["ln b sh", "ln b str sh"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["motif"], row["name"], str(int(row["width"])), row["decoy"] or "-", _f(row["model_auroc"]),
                 _f(row[f"auroc_{BASELINE}"]), _f(row["auroc_heuristic"]), _g(row[f"mape_{BASELINE}"], 2),
                 _g(row["mape_heuristic"], 2)]
        cells += [_f(row[f"recovery_distance_{n}"]) for n in SET_NAMES]
        cells += [f"{row['ln_b_shared']:.2f}", f"{row['ln_b_best_filter_exact_strong_shared']:.2f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def write_table(rows, summary, header, path):
    """The markdown results: how it was run, the summary, then one line per motif."""
    lines = [f"# Paper benchmark: {header['negatives']} negatives", ""]
    lines += [f"- Command: `{header['command']}`",
              f"- Finished: {header['finished']}; runtime {header['runtime_min']:.1f} min",
              f"- Machine: {header['machine']}",
              f"- Data: {summary['n_motifs']} motifs from `{header['meme']}`; {header['data']}",
              f"- Model: {header['model']}",
              f"- Mean AUROC of the model itself on the test split: {_f(summary['model_auroc'])}",
              "", "## Summary", ""]
    lines += _summary_table(summary)
    lines += ["",
              "Sites: which best windows the MLE of the base counts (k2p_keras.motifs.sites): every sequence's "
              "(the default, k2p-1.0's), the active ones (ReLU output > 0), or the strong ones (activation "
              "above half the filter's largest). Every exact set classifies and rebuilds the model alike: "
              "the base changes only how sharp the PWMs are.",
              "",
              "Columns: AUROC/AUPRC of a logistic regression retrained on each PWM set's best-window "
              "log-likelihoods (test split); W/T/L counts motifs where the set beats, ties "
              f"(|difference| <= {TIE}) or loses to the heuristic; \"vs default\" compares with the exact "
              "PWMs of today's default (shared base, every best window), two-sided Wilcoxon signed-rank "
              "test, a distance win being a closer PWM. Fidelity: the model's test-split "
              "probabilities rebuilt from the PWMs (exact: relu(log_b P(best window) + d) into the "
              "model's own dense layer; heuristic: dense layer refitted on relu(best-window log-odds)). "
              "Recovery: best filter's mean per-position Pearson correlation with the planted motif "
              "(best offset and strand), and the mean Euclidean distance of the rows there; ln b of that "
              "filter (the base behind its sharpness).",
              "", "## Per motif", ""]
    lines += _motif_table(rows)
    with atomic_open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def plot_auroc(rows, path, title):
    """Exact against heuristic AUROC, one point per motif (per-filter filled, shared hollow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heuristic = _column(rows, "auroc_heuristic")
    per_filter = _column(rows, "auroc_exact_per_filter")
    shared = _column(rows, "auroc_exact_shared")
    low = max(0.0, min(heuristic.min(), per_filter.min(), shared.min()) - 0.02)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([low, 1], [low, 1], color="grey", lw=1, zorder=0)
    ax.scatter(heuristic, per_filter, s=18, label="exact, per-filter base")
    ax.scatter(heuristic, shared, s=40, facecolors="none", edgecolors="C1", label="exact, shared base")
    ax.set_xlim(low, 1.005)
    ax.set_ylim(low, 1.005)
    ax.set_xlabel("AUROC, heuristic PWMs")
    ax.set_ylabel("AUROC, exact PWMs")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def command_line(module="benchmarks.paper"):
    """How this run was started, to paste back into a shell."""
    import shlex

    return " ".join([f"python -m {module}"] + [shlex.quote(a) for a in sys.argv[1:]])


def plot_recovery(rows, path, title):
    """Distance of each set's best filter to the planted motif, one box per PWM set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([_column(rows, f"recovery_distance_{name}") for name in SET_NAMES], vert=False,
               tick_labels=[SET_LABELS[name] for name in SET_NAMES])
    ax.invert_yaxis()
    ax.set_xlabel("mean per-position distance to the planted motif (lower is closer)")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
