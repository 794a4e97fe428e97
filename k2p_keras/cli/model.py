"""``k2p-keras MODEL SEQS``: exact (and heuristic) PWMs of a saved Keras model's motif Conv1D.

A thin shell over :func:`k2p_keras.extraction.plan_extraction` and its ``run``: parse the
options, print the pattern check, show progress, write the files.
"""
import sys
from dataclasses import replace

import click

from .group import MODEL_COMMAND, cli, output_path, progress_bar
from ..scan.devices import DEVICES_HELP, parse_devices
from ..errors import K2PError, OptionError, PatternError
from ..options import DEFAULTS, N_ENCODINGS
from ..annotate.tomtom import DEFAULT_Q_THRESHOLD, DEFAULT_TAXON  # plain constants: memelite loads only when used
from ..options import METHODS
from ..motifs.sites import SITES_HELP
from ..validate import check_batch_size

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


@cli.command(MODEL_COMMAND)
@click.argument("model", type=click.Path(exists=True))  # a Keras 3 model folder too
@click.argument("sequences", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              callback=output_path, help="MEME file to write [default: stdout].")
@click.option("--layer", default=DEFAULTS.layer,
              help="Name of the Conv1D to transform [default: the first on the one-hot input].")
@click.option("--base", "fixed_base", type=float, default=None,
              help="Use this base b > 1 for every filter instead of the MLE (SEQUENCES not needed).")
@click.option("--shared-base/--per-filter-base", default=DEFAULTS.shared_base, show_default=True,
              help="One base for all filters (k2p-1.0; recovers planted motifs better in "
                   "benchmarks/paper) or one per filter.")
@click.option("--sites", default=None, metavar="[strong|active|all]",
              help=SITES_HELP + " 'strong=F' sets the fraction. [default: strong; active with --exclude-inactive]")
@click.option("--both-strands", is_flag=True, help="The model scans the reverse complement too.")
@click.option("--exclude-inactive", is_flag=True, help="The older spelling of --sites active.")
@click.option("--dataset", default=DEFAULTS.dataset,
              help="HDF5 dataset holding the sequences [default: the one shaped like the model's input].")
@click.option("--n-encoding", type=click.Choice(N_ENCODINGS), default=DEFAULTS.n_encoding, show_default=True,
              help="How N and other IUPAC codes in FASTA are encoded, as in training: zero rows or 0.25 rows.")
@click.option("--batch-size", default=DEFAULTS.batch_size, show_default=True, metavar="[auto|N]",
              callback=batch_size_option,
              help="Sequences per scanned batch; auto: as many as 16 MB of one-hot rows (numba's CPU scan) "
                   "or TensorFlow's convolution in 256 MB (CPU) or an eighth of a GPU's memory.")
@click.option("--devices", default=None, metavar="[all|N|cpu]", callback=devices_option,
              help=f"Scan on several devices, each batch split among them (tf.distribute.MirroredStrategy): "
                   f"{DEVICES_HELP}. Under a strategy the windows are rescored by TensorFlow, not numba "
                   f"[default: one device, TensorFlow's choice].")
@click.option("--summary", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Also write a per-filter table (TSV): ln b, base, SE, log-likelihood, sequences used, "
                   "d, IC, consensus (and the heuristic's figures with --method both).")
@click.option("--force", is_flag=True, help="Estimate the base even when the layer pattern breaks the MLE's assumption.")
@click.option("--method", type=click.Choice(METHODS), default=DEFAULTS.method, show_default=True,
              help="Exact PWMs (k2p), heuristic ones (DeepBind: letters of the most activating windows), "
                   "or both in one MEME file (names suffixed _exact / _heuristic).")
@click.option("--threshold", type=float, default=None,
              help="Heuristic: a sequence counts when its maximal activation output exceeds this [default: 0].")
@click.option("--threshold-fraction", type=float, default=None,
              help="Heuristic: instead, count sequences whose maximal activation exceeds this fraction "
                   "of the filter's largest activation over the data (Basset: 0.5).")
@click.option("--logos", "logos_dir", type=click.Path(file_okay=False), default=None, callback=output_path,
              help="Also draw an information-content logo per filter into this folder (PNG; needs matplotlib).")
@click.option("--annotate", "annotate_db", is_flag=False, flag_value=DEFAULT_DB, default=None, metavar="[DB]",
              help="Name the known motif each PWM resembles: Tomtom (memelite) against DB, a MEME file or "
                   "a JASPAR release (e.g. JASPAR2024) [default DB: the newest JASPAR CORE release pyjaspar "
                   "holds, --taxon vertebrates]. Adds the best match to --summary. Needs "
                   "pip install 'k2p-keras[annotate]'.")
@click.option("--taxon", default=DEFAULT_TAXON, show_default=True,
              help="With a JASPAR release: the CORE taxon (vertebrates, plants, insects, nematodes, fungi, "
                   "urochordates; 'all').")
@click.option("--q-threshold", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_Q_THRESHOLD,
              show_default=True, help="A database match at or below this q-value is called a match.")
@click.option("--matches", "matches_out", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Write every significant database match as TSV with Tomtom's columns (implies --annotate).")
@click.option("--report", "report_out", type=click.Path(dir_okay=False), default=None, callback=output_path,
              help="Write one self-contained HTML report: logos, best matches aligned, tables "
                   "(implies --annotate; needs matplotlib).")
@click.option("-q", "--quiet", is_flag=True, help="No pattern report, no progress bar.")
def extract(model, sequences, output, layer, fixed_base, shared_base, sites, both_strands, exclude_inactive,
            dataset, n_encoding, batch_size, devices, summary, force, method, threshold, threshold_fraction,
            logos_dir, annotate_db, taxon, q_threshold, matches_out, report_out, quiet):
    """Exact PWMs for every filter of the model's motif Conv1D, written as MEME.

    MODEL is a saved Keras model (.h5 or .keras; it is read, never run). SEQUENCES are the
    training sequences (HDF5 or .npy one-hot (N, length, 4), or FASTA / FASTA.gz) on which
    the base of the logarithm is estimated by maximum likelihood. --method heuristic (or
    both) also counts the letters of each sequence's most activating window, as DeepBind did.
    """
    from ..scan.devices import strategy_for_devices
    from ..extract import plan_extraction

    if logos_dir is not None or report_out is not None:
        from ..annotate.logos import require_matplotlib

        require_matplotlib()
    database = None
    if annotate_db is not None or matches_out is not None or report_out is not None:
        from ..annotate.tomtom import load_database, require_annotate

        require_annotate()  # a missing extra or an unknown database fails before the scan
        database = load_database(None if annotate_db in (None, DEFAULT_DB) else annotate_db, taxon=taxon)
    options = dict(method=method, base="mle" if fixed_base is None else fixed_base, shared_base=shared_base,
                   sites=sites, both_strands=both_strands, exclude_inactive=exclude_inactive, threshold=threshold,
                   threshold_fraction=threshold_fraction, force=force, layer=layer, dataset=dataset,
                   n_encoding=n_encoding, batch_size=batch_size)
    try:
        plan = plan_extraction(model, sequences, **options)
    except PatternError as err:
        raise PatternError(f"{err.message} Export with a fixed --base B, or estimate anyway with --force",
                           path=err.path) from None
    if devices is not None:  # after the checks that need no TensorFlow, before the scan
        plan.options = replace(plan.options, strategy=strategy_for_devices(devices))
    if not quiet:
        click.echo(plan.spec.report(), err=True)
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
