"""The first layer's verdict (k2p_keras.annotate.describe.layer) on every cached CNN-N of the benchmark.

    python -m benchmarks.koo_eddy.verdicts [--cache DIR] [--out FILE]

Each converged model's exact PWMs (the default options, the test set's sequences) are annotated
against JASPAR CORE 2016 (data/jaspar) and :meth:`ExtractionResult.layer_verdict` says whether
the first layer holds whole or partial motifs: what a user of ``--annotate`` reads.
"""
import pathlib
import time
import warnings

import click

from k2p_keras import extract
from k2p_keras.annotate.match.tomtom import load_database

from .__main__ import DEFAULT_CACHE, FULL, RESULTS, SEEDS
from .data import DEFAULT_DB, load_data

POOLS = (25, 4, 1)


@click.command()
@click.option("--cache", type=click.Path(file_okay=False), default=str(DEFAULT_CACHE), show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=str(RESULTS / "verdicts.md"), show_default=True)
def main(cache, out):
    start = time.time()
    data = load_data(cache, FULL["data_seed"], FULL["n_sequences"], FULL["length"])
    x = data.x("test")
    database = load_database(str(DEFAULT_DB))
    rows = []
    for pool in POOLS:
        for seed in SEEDS:
            path = pathlib.Path(cache) / f"data{FULL['data_seed']}_n{FULL['n_sequences']}" / f"cnn{pool}_seed{seed}" / "final.keras"
            if not path.exists():
                click.echo(f"CNN-{pool} seed {seed}: not trained in {cache}, left out", err=True)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = extract(str(path), x, labels=False)
                result.annotate(database)
            verdict = result.layer_verdict()
            click.echo(f"CNN-{pool} seed {seed}: {verdict.text()}")
            rows.append(f"| CNN-{pool} | {seed} | {verdict.text().split(':')[1].strip()} | {verdict.text().split(':', 2)[2].split(';')[0].strip()} |")
    text = ("# The first layer's verdict on the Koo & Eddy models\n\n"
            f"- Command: `python -m benchmarks.koo_eddy.verdicts` ({time.time() - start:.0f} s); the converged models "
            "(`final.keras`), exact PWMs with the default options from the test set's 5,000 sequences, annotated "
            "against JASPAR CORE 2016 (`data/jaspar`).\n"
            "- Rule: `k2p_keras/annotate/describe/layer.py` (under a quarter of the informative filters matching a database "
            "motif: partial motifs, with the literature's advice).\n\n"
            "| model | seed | verdict | share |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    pathlib.Path(out).write_text(text)
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
