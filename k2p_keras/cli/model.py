"""``k2p-keras MODEL SEQS``: exact (and heuristic) PWMs of a saved Keras model's motif Conv1D.

A thin shell over :func:`k2p_keras.extract.plan_extraction` and its ``run``: parse the
options, print the pattern check, show progress, write the files.
"""
import sys
from dataclasses import fields, replace

import click

from ..annotate.influence import NULLS, split_at_activation
from ..annotate.logos import require_matplotlib
from ..annotate.tomtom import load_database, require_annotate
from ..errors import K2PError, OptionError, PatternError
from ..extract import plan_extraction
from ..io.sequences import N_ENCODINGS
from ..options import METHODS, Options
from ..scan.devices import DEVICES_HELP, parse_devices, strategy_for_devices
from ..validate import check_base, check_batch_size
from .group import cli, MODEL_COMMAND, output_path, progress_bar, q_threshold_option, taxon_option

# What --annotate given without a value stands for: the default database.
DEFAULT_DB = "default"


def devices_option(ctx, param, value):
    """Click callback for --devices: its spelling checked before TensorFlow loads."""
    try:
        return None if value is None else parse_devices(value)
    except OptionError as err:
        raise click.BadParameter(err.detail) from None


def batch_size_option(ctx, param, value):
    """Click callback for --batch-size: "auto" or a whole number >= 1."""
    try:
        return check_batch_size(value, "--batch-size")
    except K2PError as err:
        raise click.BadParameter(err.message.removeprefix("--batch-size: ")) from None


def base_option(ctx, param, value):
    """Click callback for --base: "mle" or a number greater than 1."""
    if value.strip().lower() == "mle":
        return "mle"
    try:
        return check_base(float(value))
    except ValueError:
        raise click.BadParameter(f"expected 'mle' or a number greater than 1, got {value!r}") from None
    except K2PError as err:
        raise click.BadParameter(err.message.removeprefix("base: ")) from None


# How each option of Options is spelled on the command line; its default and help come from
# Options. ``strategy`` has no flag: --devices makes one.
FLAGS = {
    "method": dict(type=click.Choice(METHODS)),
    "base": dict(metavar="[mle|B]", callback=base_option),
    "shared_base": dict(decls=("--shared-base/--per-filter-base",)),
    "sites": dict(metavar="[strong|active|all|strong=F]"),
    "both_strands": dict(is_flag=True),
    "threshold": dict(type=float),
    "threshold_fraction": dict(type=float),
    "strict": dict(is_flag=True),
    "layer": dict(),
    "weights": dict(type=click.Path(exists=True, dir_okay=False)),
    "alphabet": dict(metavar="[ACGT|ATCG|...]"),
    "dataset": dict(),
    "n_encoding": dict(type=click.Choice(N_ENCODINGS)),
    "batch_size": dict(metavar="[auto|N]", callback=batch_size_option),
    "influence": dict(is_flag=True),
    "influence_null": dict(type=click.Choice(NULLS)),
    "diagnostics": dict(is_flag=True),
    "cluster": dict(is_flag=True),
}


def options_of_extract(command):
    """Add a click option for every field of :class:`~k2p_keras.options.Options` in :data:`FLAGS`."""
    for field in reversed(fields(Options)):
        if field.name not in FLAGS:
            continue
        spec = dict(FLAGS[field.name])
        decls = spec.pop("decls", ("--" + field.name.replace("_", "-"),))
        command = click.option(*decls, field.name, default=field.default, help=field.metadata["help"],
                               show_default=field.default is not None and not spec.get("is_flag"),
                               **spec)(command)
    return command


@cli.command(MODEL_COMMAND)
@click.argument("model", type=click.Path(exists=True))  # a Keras 3 model folder too
@click.argument("sequences", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              callback=output_path, help="MEME file to write [default: stdout].")
@options_of_extract
@click.option("--devices", default=None, metavar="[all|N|cpu]", callback=devices_option,
              help=f"Scan on several devices, each batch split among them: {DEVICES_HELP} "
                   f"[default: one device] (docs/distributed.md).")
@click.option("--summary", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Also write a per-filter table (TSV): ln b, base, SE, log-likelihood, sequences used, "
                   "d, IC, consensus (and the heuristic's figures with --method both).")
@click.option("--logos", "logos_dir", type=click.Path(file_okay=False), default=None, callback=output_path,
              help="Also draw an information-content logo per filter into this folder (PNG; needs matplotlib).")
@click.option("--annotate", "annotate_db", is_flag=False, flag_value=DEFAULT_DB, default=None, metavar="[DB]",
              help="Name the known motif each PWM resembles: Tomtom (memelite) against DB, a MEME file or "
                   "a JASPAR release (e.g. JASPAR2024) [default DB: the newest JASPAR CORE release pyjaspar "
                   "holds, --taxon vertebrates]. Adds the best match to --summary. Needs "
                   "pip install 'k2p-keras[annotate]'.")
@taxon_option()
@q_threshold_option("A database match at or below this q-value is called a match.")
@click.option("--matches", "matches_out", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Write every significant database match as TSV with Tomtom's columns (implies --annotate).")
@click.option("--report", "report_out", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Write one self-contained HTML report: logos, best matches aligned, tables "
                   "(implies --annotate; needs matplotlib).")
@click.option("--labels", default=None, metavar="DATASET",
              help="With --influence or --diagnostics: the HDF5 dataset of the sequences' labels, for the change "
                   "of the loss and each filter's AUROC alone [default: 'y' or 'labels' beside the sequences, "
                   "when there is one].")
@click.option("--archetypes", "archetypes_out", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Write one PWM per redundancy cluster, its most informative filter, as MEME (implies --cluster).")
@click.option("-q", "--quiet", is_flag=True, help="No pattern report, no progress bar.")
def extract(model, sequences, output, devices, summary, logos_dir, annotate_db, taxon, q_threshold, matches_out,
            report_out, labels, archetypes_out, quiet, **options):
    """Exact PWMs for every filter of the model's motif Conv1D, written as MEME.

    MODEL is a saved Keras model (.h5, .keras or its folder; or an architecture JSON with
    --weights); it is read, never run, except by --influence, which runs it loaded by Keras in
    safe mode. SEQUENCES are the training sequences (HDF5 or .npy one-hot (N, length, 4) in the
    model's channel order, or FASTA / FASTA.gz) on which the base of the logarithm is estimated
    by maximum likelihood. --method heuristic (or both) also counts the letters of each
    sequence's most activating window, as DeepBind did.
    """
    if logos_dir is not None or report_out is not None:
        require_matplotlib()
    database = None
    if archetypes_out is not None:
        options["cluster"] = True
    if annotate_db is not None or matches_out is not None or report_out is not None:
        require_annotate()  # a missing extra or an unknown database fails before the scan
        database = load_database(None if annotate_db in (None, DEFAULT_DB) else annotate_db, taxon=taxon)
    if options["cluster"] and database is not None:
        options["cluster"] = database  # the annotation's database is Tomtom's background for the clusters too
    try:
        plan = plan_extraction(model, sequences, labels, **options)
    except PatternError as err:
        raise PatternError(f"{err.message} Export with a fixed --base B, or leave out --strict to estimate it "
                           "from the strong windows anywhere",
                           path=err.path) from None
    if devices is not None:  # after the checks that need no TensorFlow, before the scan
        plan.options = replace(plan.options, strategy=strategy_for_devices(devices))
    if not quiet:
        click.echo(plan.spec.report(), err=True)
        if plan.options.influence:
            click.echo(f"influence: cut at {split_at_activation(plan.runnable, plan.spec.layer_name).describe()}"
                       + (f"; labels {plan.labels_source}" if plan.labels_source else ""), err=True)
        if plan.options.diagnostics:
            click.echo("diagnostics: each sequence's best window" + (f"; labels {plan.labels_source}"
                                                                     if plan.labels_source else ", no labels"), err=True)
    with progress_bar(plan.n_sequences, quiet, steps=plan.steps) as progress:
        result = plan.run(progress)
    if database is not None:
        n_motifs = len(result.motifs())
        if not quiet:
            click.echo(f"annotating {n_motifs} PWMs against {database.label} "
                       f"({len(database.motifs)} motifs)", err=True)
        with progress_bar(n_motifs, quiet, label="annotating", unit="PWMs") as progress:
            result.annotate(database, q_threshold=q_threshold, progress=progress)
    if matches_out is not None:
        result.annotation.write_tsv(matches_out)
    if report_out is not None:
        result.write_report(report_out)
    if archetypes_out is not None:
        result.write_archetypes(archetypes_out)
    if summary:
        result.write_summary(summary)
    if logos_dir is not None:
        result.write_logos(logos_dir)
    result.write_meme(sys.stdout if output in (None, "-") else output)
    if not quiet:
        for line in result.describe():
            click.echo(line, err=True)
        if result.annotation is not None:
            click.echo(result.annotation.format_summary(), nl=False, err=True)
