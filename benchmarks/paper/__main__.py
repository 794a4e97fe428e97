"""``python -m benchmarks.paper``: run the benchmark and write its results (see ``__init__``)."""
import os
import pathlib
import time

import click

from k2p_keras.io.meme import read_meme, write_meme

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_MEME = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"  # CC BY 4.0, see its README
RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def _names(values):
    return [name for value in values for name in value.replace(",", " ").split()]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--meme", "meme_path", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_MEME),
              show_default=True, help="MEME file with the motifs to plant.")
@click.option("--motifs", multiple=True, help="Motif IDs or names (repeat, or separate by commas).")
@click.option("--n-motifs", type=click.IntRange(min=1), default=150, show_default=True,
              help="Without --motifs: this many motifs spread evenly through the file.")
@click.option("--negatives", type=click.Choice(["random", "decoy"]), default="random", show_default=True,
              help="Background-only negatives, or negatives carrying a site of another motif.")
@click.option("--quick", is_flag=True, help="3 motifs, small data: a few minutes on two cores.")
@click.option("--n-train", type=click.IntRange(min=20), default=2000, show_default=True)
@click.option("--n-test", type=click.IntRange(min=20), default=1000, show_default=True)
@click.option("--length", type=click.IntRange(min=10), default=100, show_default=True, help="Sequence length.")
@click.option("--filters", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--kernel-length", type=click.IntRange(min=1), default=None,
              help="Filter length; default each motif's width + 4.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help=f"Output folder [default: {RESULTS.relative_to(REPO)}, or its quick/ for --quick].")
def main(meme_path, motifs, n_motifs, negatives, quick, n_train, n_test, length, filters, kernel_length,
         epochs, seed, out_dir):
    """Reproduce the paper's claims: exact vs heuristic PWMs of trained motif detectors."""
    from .model import ModelSettings
    from .run import QUICK, BenchmarkConfig, run_motif
    from .simulate import select_motifs
    from . import report

    started = time.perf_counter()
    if quick:
        n_motifs, n_train, n_test, epochs = 3, QUICK["n_train"], QUICK["n_test"], QUICK["epochs"]
    out = pathlib.Path(out_dir) if out_dir else (RESULTS / "quick" if quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    meme_file = read_meme(meme_path)
    chosen = select_motifs(meme_file, _names(motifs), n_motifs)
    config = BenchmarkConfig(n_train=n_train, n_test=n_test, length=length, negatives=negatives, seed=seed,
                             kernel_length=kernel_length,
                             model=ModelSettings(n_filters=filters, epochs=epochs))
    paths = {kind: out / f"{negatives}{suffix}" for kind, suffix in
             (("csv", ".csv"), ("md", ".md"), ("png", "_auroc.png"), ("recovery", "_recovery.png"),
                                         ("meme", "_best_filters.meme"))}
    rows, best_filters = [], []
    for i, motif in enumerate(chosen, 1):
        row, best = run_motif(meme_file, motif, config)
        rows.append(row)
        best_filters += best
        report.write_csv(rows, paths["csv"])  # partial results survive an interrupted run
        write_meme(paths["meme"], best_filters)
        click.echo(f"[{i}/{len(chosen)}] {motif.name} {motif.alt_name or ''}: AUROC model {row['model_auroc']:.3f}, "
                   f"exact {row['auroc_exact_shared']:.3f}, heuristic {row['auroc_heuristic']:.3f}; MAPE exact "
                   f"{row['mape_exact_shared']:.1e}, heuristic {row['mape_heuristic']:.1e}; recovery distance "
                   f"all/strong/heuristic {row['recovery_distance_exact_shared']:.3f}/"
                   f"{row['recovery_distance_exact_strong_shared']:.3f}/{row['recovery_distance_heuristic']:.3f} "
                   f"({row['seconds']:.1f} s, "
                   f"{(time.perf_counter() - started) / 60:.1f} min)", err=True)
    summary = report.summarise(rows)
    settings = config.model
    header = {
        "negatives": negatives, "command": report.command_line(), "finished": report.now_utc(),
        "runtime_min": (time.perf_counter() - started) / 60, "machine": report.machine_info(),
        "meme": os.path.basename(meme_path),
        "data": (f"{n_train} train / {n_test} test sequences of length {length} per motif (half positives), "
                 f"uniform background, one site per positive (random position and strand), seed {seed}"),
        "model": (f"Conv1D({settings.n_filters} filters, length "
                  f"{kernel_length or 'motif width + 4'}, valid, forward strand) -> ReLU -> "
                  f"GlobalMaxPooling1D -> Dense(1, sigmoid); Adam({settings.learning_rate}), batch "
                  f"{settings.batch_size}, {settings.epochs} epochs"),
    }
    report.write_table(rows, summary, header, paths["md"])
    report.plot_auroc(rows, paths["png"], f"{len(rows)} motifs, {negatives} negatives")
    report.plot_recovery(rows, paths["recovery"], f"{len(rows)} motifs, {negatives} negatives")
    click.echo(f"wrote {paths['md']}, {paths['csv']}, {paths['png']}, {paths['recovery']}, {paths['meme']} in "
               f"{header['runtime_min']:.1f} min", err=True)
    from k2p_keras.annotate.match.tomtom import require_annotate
    from k2p_keras.errors import K2PError

    from .annotation import annotate_best_filters

    try:
        require_annotate()
    except K2PError as error:  # the annotate extra (memelite, pyjaspar) is optional
        click.echo(f"annotation measure skipped: {error}", err=True)
    else:
        _, md_path, _ = annotate_best_filters(paths["meme"], meme_path,
                                              command=f"python -m benchmarks.paper.annotation {paths['meme']}")
        click.echo(f"wrote {md_path}", err=True)


if __name__ == "__main__":
    main(prog_name="python -m benchmarks.paper")
