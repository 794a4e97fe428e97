"""``python -m benchmarks.koo_eddy``: train the models, evaluate the PWM sets, write the table."""
import os
import pathlib
import sys
import time

import click

# Models and data live outside the repository (about 1 GB with every epoch's snapshot).
DEFAULT_CACHE = pathlib.Path(os.environ.get("K2P_KOO_EDDY_CACHE",
                                            pathlib.Path.home() / ".cache" / "k2p-keras" / "koo_eddy"))
RESULTS = pathlib.Path(__file__).resolve().parent / "results"
SEEDS = (0, 1, 2)
# Per pool, the epoch cap (CNN-1's second conv reads 200 positions: the slowest; see results).
EPOCHS = {25: 30, 4: 12, 1: 8}
FULL = {"n_sequences": 25000, "length": 200, "data_seed": 0}
QUICK = {"n_sequences": 600, "length": 200, "data_seed": 0}


def _profile(quick):
    return QUICK if quick else FULL


def data_tag(profile):
    return f"data{profile['data_seed']}_n{profile['n_sequences']}"


def training_order(pools, seeds):
    """CNN-25's seeds first (the headline), then CNN-4 and CNN-1 seed by seed, so that a short
    budget still leaves every design with a model."""
    order = [(25, s) for s in seeds if 25 in pools]
    for s in seeds:
        order += [(p, s) for p in pools if p != 25]
    return order


def ensure_models(cache, quick, pools, seeds, log=print, train_missing=True):
    """Train every (pool, seed) whose final model is missing (or, without ``train_missing``, leave
    it out, saying so); return the data and {(pool, seed): folder}."""
    from .data import load_data
    from .model import TrainSettings, model_folder, train

    profile = _profile(quick)
    data = load_data(cache, profile["data_seed"], profile["n_sequences"], profile["length"])
    folders = {}
    for pool, seed in training_order(pools, seeds):
        folder = model_folder(cache, data_tag(profile), pool, seed)
        if (folder / "info.json").exists():
            folders[(pool, seed)] = folder
            continue
        if not train_missing:
            log(f"CNN-{pool} seed {seed} is not trained in {cache}: left out (train it: python -m "
                f"benchmarks.koo_eddy train --cache {cache} --pools {pool} --seeds {seed})")
            continue
        folders[(pool, seed)] = folder
        settings = TrainSettings(epochs=2 if quick else EPOCHS[pool], n_filters=30)
        log(f"training CNN-{pool} seed {seed} ({settings.epochs} epochs at most) in {folder}")
        info = train(data, pool, seed, folder, settings)
        log(f"CNN-{pool} seed {seed}: test AUROC {info['test_auroc']:.4f}, best epoch {info['best_epoch']}, "
            f"{info['train_seconds']:.0f} s")
    return data, folders


def _pools(value):
    pools = tuple(int(v) for v in value.split(","))
    bad = [p for p in pools if p not in (1, 4, 25)]
    if bad:
        raise click.BadParameter(f"pools are 1, 4 and 25, got {bad}")
    return pools


common = [
    click.option("--cache", type=click.Path(file_okay=False), default=str(DEFAULT_CACHE), show_default=True,
                 help="Where the data and models are kept (rebuilt from the seeds when missing)."),
    click.option("--quick", is_flag=True, help="Tiny data, 2 epochs: a smoke run of the whole pipeline."),
    click.option("--pools", default="25,4,1", show_default=True, help="First-layer pools (CNN-N)."),
    click.option("--seeds", default="0,1,2", show_default=True, help="Training seeds."),
]


def with_common(f):
    for option in reversed(common):
        f = option(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Koo & Eddy (2019)'s planted-motif benchmark: which filters name a planted motif?"""


@main.command("train")
@with_common
def train_command(cache, quick, pools, seeds):
    """Simulate the data and train CNN-N for every pool and seed (skips the trained ones)."""
    ensure_models(pathlib.Path(cache), quick, _pools(pools), tuple(int(s) for s in seeds.split(",")),
                  log=lambda m: click.echo(m, err=True))


def _kept_rows(path, evaluated):
    """The rows of an earlier table for the models not evaluated now (``--merge``)."""
    from .report import read_csv

    if not path.exists():
        return []
    return [r for r in read_csv(path) if (r["pool"], r["seed"]) not in evaluated]


def evaluate_all(cache, quick, pools, seeds, sets, out, command, log, merge=False, train_missing=True):
    """Score every set of every model and snapshot (training the missing models, or leaving them
    out), write the table."""
    import os

    from benchmarks.paper.report import machine_info

    from .evaluate import MID_AUROC, evaluate_model
    from .model import TrainSettings
    from .pwm_sets import SET_NAMES
    from .report import write_csv, write_markdown
    from .scoring import database

    unknown = [s for s in sets if s not in SET_NAMES]
    if unknown:
        raise click.BadParameter(f"unknown set(s) {', '.join(unknown)}; the sets: {', '.join(SET_NAMES)}",
                                 param_hint="--sets")
    out.mkdir(parents=True, exist_ok=True)
    started, load_start = time.perf_counter(), os.getloadavg()
    data, folders = ensure_models(cache, quick, pools, seeds, log, train_missing)
    if not folders:
        raise click.ClickException(f"no trained models in {cache}: run python -m benchmarks.koo_eddy run")
    db = database()
    rows = []
    for (pool, seed), folder in sorted(folders.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        rows += evaluate_model(folder, data, db, sets, log)
    if merge:
        rows += _kept_rows(out / "koo_eddy.csv", set(folders))
        command += "  (merged with the rows of the earlier run for the other models)"
    profile = _profile(quick)
    settings = TrainSettings()
    header = {
        "command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": time.perf_counter() - started, "machine": machine_info(), "cache": cache,
        "load_start": " ".join(f"{v:.1f}" for v in load_start),
        "load_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "n_sequences": profile["n_sequences"], "length": profile["length"], "data_seed": profile["data_seed"],
        "training": (f"Adam {settings.learning_rate:g}, batch {settings.batch_size}, L2 {settings.l2:g}, early "
                     f"stopping on the validation AUROC (patience {settings.patience}, best epoch kept); at most "
                     + ("2 epochs (quick)" if quick else
                        ", ".join(f"{EPOCHS[p]} epochs for CNN-{p}" for p in sorted(EPOCHS, reverse=True)))),
        "mid_rule": (f"the first epoch whose validation AUROC reaches {MID_AUROC}, when it comes before the "
                     "converged (best) epoch; otherwise half the best epoch"),
    }
    write_csv(rows, out / "koo_eddy.csv")
    write_markdown(rows, header, out / "koo_eddy.md")
    log(f"wrote {out / 'koo_eddy.md'} and {out / 'koo_eddy.csv'} ({header['seconds']:.0f} s)")
    return rows


def _evaluate_options(f):
    f = click.option("--merge", is_flag=True, help="Keep the table's rows of the models not evaluated now.")(f)
    f = click.option("--sets", default=None, help="PWM sets to score, comma-separated [default: all].")(f)
    f = click.option("--out", type=click.Path(file_okay=False), default=None,
                     help=f"Where the table goes [default: {RESULTS}, or its quick/ for --quick].")(f)
    return with_common(f)


def _run(cache, quick, pools, seeds, sets, out, merge, train_missing):
    from .pwm_sets import SET_NAMES

    command = "python -m benchmarks.koo_eddy " + " ".join(sys.argv[1:])
    out = pathlib.Path(out) if out else (RESULTS / "quick" if quick else RESULTS)
    sets = tuple(sets.split(",")) if sets else SET_NAMES
    evaluate_all(pathlib.Path(cache), quick, _pools(pools), tuple(int(s) for s in seeds.split(",")), sets, out,
                 command, log=lambda m: click.echo(m, err=True), merge=merge, train_missing=train_missing)


@main.command("evaluate")
@_evaluate_options
def evaluate_command(cache, quick, pools, seeds, sets, out, merge):
    """Score every PWM set of the cached models and write the table (models not trained yet are
    left out: `run` trains them)."""
    _run(cache, quick, pools, seeds, sets, out, merge, train_missing=False)


@main.command("run")
@_evaluate_options
def run_command(cache, quick, pools, seeds, sets, out, merge):
    """Train (what is missing) and evaluate: the whole benchmark in one command."""
    _run(cache, quick, pools, seeds, sets, out, merge, train_missing=True)


if __name__ == "__main__":
    main(prog_name="python -m benchmarks.koo_eddy")
