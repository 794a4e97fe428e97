"""``k2p-keras MODEL SEQS``: exact PWMs of a saved Keras model's motif Conv1D."""
import contextlib
import sys
import warnings

import click

from .cli import cli, MODEL_COMMAND
from .errors import K2PError


def check_pattern(spec, model, fixed_base, force):
    """Refuse an MLE whose assumption (conv -> monotone activation -> global max) fails.

    A fixed base needs no assumption; ``force`` estimates anyway, with a warning.
    """
    if spec.pattern_ok:
        return
    if fixed_base:
        warnings.warn(f"{spec.problem}; the PWMs use the fixed base given")
    elif force:
        warnings.warn(f"{spec.problem}; estimating the base anyway (--force): the MLE's assumption does not hold")
    else:
        raise K2PError(f"{spec.problem}. Export with a fixed --base B, or estimate anyway with --force",
                       path=model)


@contextlib.contextmanager
def progress_bar(total, quiet, label="scanning"):
    """A click progress bar on stderr when it is a terminal; yields a callable taking a count."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@cli.command(MODEL_COMMAND)
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("sequences", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="MEME file to write [default: stdout].")
@click.option("--layer", default=None, help="Name of the Conv1D to transform [default: the first on the one-hot input].")
@click.option("--base", "fixed_base", type=float, default=None,
              help="Use this base b > 1 for every filter instead of the MLE (SEQUENCES not needed).")
@click.option("--shared-base/--per-filter-base", default=False, show_default=True,
              help="One base for all filters (k2p-1.0) or one per filter.")
@click.option("--both-strands", is_flag=True, help="The model scans the reverse complement too.")
@click.option("--exclude-inactive", is_flag=True,
              help="Leave out sequences whose best window does not pass the activation (e.g. ReLU output 0).")
@click.option("--dataset", default=None, help="HDF5 dataset holding the sequences [default: the only or first].")
@click.option("--n-encoding", type=click.Choice(["zero", "quarter"]), default="zero", show_default=True,
              help="How N and other IUPAC codes in FASTA are encoded, as in training: zero rows or 0.25 rows.")
@click.option("--batch-size", type=click.IntRange(1), default=512, show_default=True)
@click.option("--summary", type=click.Path(dir_okay=False), default=None,
              help="Also write a per-filter table (TSV): ln b, base, SE, log-likelihood, IC, consensus, d.")
@click.option("--force", is_flag=True, help="Estimate the base even when the layer pattern breaks the MLE's assumption.")
@click.option("-q", "--quiet", is_flag=True, help="No pattern report, no progress bar.")
def extract(model, sequences, output, layer, fixed_base, shared_base, both_strands, exclude_inactive,
            dataset, n_encoding, batch_size, summary, force, quiet):
    """Exact PWMs for every filter of the model's motif Conv1D, written as MEME.

    MODEL is a saved Keras model (.h5 or .keras; it is read, never run). SEQUENCES are the
    training sequences (HDF5 or .npy one-hot (N, length, 4), or FASTA / FASTA.gz) on which
    the base of the logarithm is estimated by maximum likelihood.
    """
    from .atomic import atomic_open
    from .graph import find_motif_conv_in_file
    from .meme import write_meme
    from .pipeline import extract_pwms, format_summary
    from .transform import check_base

    if fixed_base is not None:
        try:
            fixed_base = check_base(fixed_base)
        except K2PError as err:
            raise click.BadParameter(err.message, param_hint="--base") from None
    elif sequences is None:
        raise click.UsageError("SEQUENCES are needed to estimate the base (or give a fixed --base B)")
    spec = find_motif_conv_in_file(model, layer=layer)
    if not quiet:
        click.echo(spec.report(), err=True)
    check_pattern(spec, model, fixed_base is not None, force)
    if spec.both_strands_hint and not both_strands:
        warnings.warn(f"layer {spec.layer_name!r} is applied to more than one input (a reverse complement?); "
                      "add --both-strands if the model scans both strands")
    batches, total = None, 0
    if fixed_base is None:
        from .sequences import open_sequences

        source = open_sequences(sequences, dataset=dataset, n_encoding=n_encoding,
                                channels_first=spec.channels_first)
        if spec.input_length and source.length and source.length != spec.input_length:
            warnings.warn(f"{sequences}: sequences have length {source.length}, the model's input "
                          f"{spec.input_length}")
        batches, total = source.iter_batches(batch_size), source.count
    with progress_bar(total, quiet) as progress:
        extraction = extract_pwms(spec, batches, base="mle" if fixed_base is None else fixed_base,
                                  shared_base=shared_base, both_strands=both_strands,
                                  exclude_inactive=exclude_inactive, progress=progress)
    if summary:
        with atomic_open(summary, "w") as handle:
            handle.write(format_summary(extraction.summary_rows()))
    write_meme(sys.stdout if output in (None, "-") else output, extraction.motifs())
    if not quiet and fixed_base is None:
        lnb = extraction.ln_base
        click.echo(f"{extraction.n_filters} motifs; ln b from {lnb.min():.4g} to {lnb.max():.4g} "
                   f"({'shared' if shared_base else 'per filter'}), {int(extraction.stats.n_sequences)} sequences",
                   err=True)
