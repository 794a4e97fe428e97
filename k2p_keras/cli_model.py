"""``k2p-keras MODEL SEQS``: exact (and heuristic) PWMs of a saved Keras model's motif Conv1D."""
import contextlib
import sys
import warnings

import click

from .cli import cli, MODEL_COMMAND
from .errors import K2PError
from .pipeline import METHODS


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
@click.option("--shared-base/--per-filter-base", default=True, show_default=True,
              help="One base for all filters (k2p-1.0; recovers planted motifs better in "
                   "benchmarks/paper) or one per filter.")
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
@click.option("--method", type=click.Choice(METHODS), default="exact", show_default=True,
              help="Exact PWMs (k2p), heuristic ones (DeepBind: letters of the most activating windows), "
                   "or both in one MEME file (names suffixed _exact / _heuristic).")
@click.option("--threshold", type=float, default=None,
              help="Heuristic: a sequence counts when its maximal activation output exceeds this [default: 0].")
@click.option("--threshold-fraction", type=float, default=None,
              help="Heuristic: instead, count sequences whose maximal activation exceeds this fraction "
                   "of the filter's largest activation over the data (Basset: 0.5).")
@click.option("--logos", "logos_dir", type=click.Path(file_okay=False), default=None,
              help="Also draw an information-content logo per filter into this folder (PNG; needs matplotlib).")
@click.option("-q", "--quiet", is_flag=True, help="No pattern report, no progress bar.")
def extract(model, sequences, output, layer, fixed_base, shared_base, both_strands, exclude_inactive,
            dataset, n_encoding, batch_size, summary, force, method, threshold, threshold_fraction, logos_dir,
            quiet):
    """Exact PWMs for every filter of the model's motif Conv1D, written as MEME.

    MODEL is a saved Keras model (.h5 or .keras; it is read, never run). SEQUENCES are the
    training sequences (HDF5 or .npy one-hot (N, length, 4), or FASTA / FASTA.gz) on which
    the base of the logarithm is estimated by maximum likelihood. --method heuristic (or
    both) also counts the letters of each sequence's most activating window, as DeepBind did.
    """
    from .graph import find_motif_conv_in_file
    from .pipeline import check_pattern, extract_motif_sets, scans_needed
    from .transform import check_base

    if threshold is not None and threshold_fraction is not None:
        raise click.UsageError("give --threshold or --threshold-fraction, not both")
    if method == "exact" and (threshold is not None or threshold_fraction is not None):
        raise click.UsageError("--threshold and --threshold-fraction apply to --method heuristic or both")
    if method == "heuristic" and fixed_base is not None:
        raise click.UsageError("--base applies to the exact PWMs (--method exact or both)")
    if fixed_base is not None:
        try:
            fixed_base = check_base(fixed_base)
        except K2PError as err:
            raise click.BadParameter(err.message, param_hint="--base") from None
    if sequences is None and (fixed_base is None or method != "exact"):
        what = "the heuristic" if method != "exact" else "estimating the base (or give a fixed --base B)"
        raise click.UsageError(f"SEQUENCES are needed for {what}")
    if logos_dir is not None:
        from .logos import require_matplotlib

        require_matplotlib()
    spec = find_motif_conv_in_file(model, layer=layer)
    # Sequences are opened before anything is printed: a bad file fails in one line.
    mle = fixed_base is None and method != "heuristic"
    open_batches, total = None, 0
    if sequences is not None and (mle or method != "exact"):
        from .pipeline import open_sequences_for

        source = open_sequences_for(spec, sequences, dataset=dataset, n_encoding=n_encoding)

        def open_batches():
            return source.iter_batches(batch_size)

        total = source.count * scans_needed(method, mle, threshold_fraction)
    if not quiet:
        click.echo(spec.report(), err=True)
    if method != "heuristic":
        check_pattern(spec, estimating=fixed_base is None, force=force, path=model,
                      remedy="Export with a fixed --base B, or estimate anyway with --force")
    if spec.both_strands_hint and not both_strands:
        warnings.warn(f"layer {spec.layer_name!r} is applied to more than one input (a reverse complement?); "
                      "add --both-strands if the model scans both strands")
    with progress_bar(total, quiet) as progress:
        exact, heuristic = extract_motif_sets(
            spec, open_batches, method=method, base="mle" if fixed_base is None else fixed_base,
            shared_base=shared_base, both_strands=both_strands, exclude_inactive=exclude_inactive,
            threshold=0.0 if threshold is None else threshold, threshold_fraction=threshold_fraction,
            progress=progress)
    write_outputs(exact, heuristic, output, summary, logos_dir)
    if not quiet:
        report_sets(exact, heuristic, fixed_base is None)


def write_outputs(exact, heuristic, output, summary, logos_dir):
    """The MEME file (both sets suffixed when there are two), the summary table and the logos."""
    from .meme import write_meme
    from .pipeline import format_summary
    from .textio import write_text

    both = exact is not None and heuristic is not None
    motifs = []
    if exact is not None:
        motifs += exact.motifs("_exact" if both else "")
    if heuristic is not None:
        motifs += heuristic.motifs("_heuristic" if both else "")
    if summary:
        rows, columns = summary_table(exact, heuristic)
        write_text(summary, format_summary(rows, columns))
    if logos_dir is not None:
        from .logos import write_filter_logos

        write_filter_logos(logos_dir, exact, heuristic)
    write_meme(sys.stdout if output in (None, "-") else output, motifs)


def summary_table(exact, heuristic):
    """Rows and columns of ``--summary``: the exact figures, the heuristic's, or both side by side."""
    from .pipeline import SUMMARY_COLUMNS

    if heuristic is None:
        return exact.summary_rows(), SUMMARY_COLUMNS
    heuristic_rows = heuristic.summary_rows()
    heuristic_columns = tuple(heuristic_rows[0])
    if exact is None:
        return heuristic_rows, heuristic_columns
    extra = tuple(f"heuristic_{c}" for c in heuristic_columns if c != "filter")
    rows = [{**row, **{f"heuristic_{k}": v for k, v in h.items() if k != "filter"}}
            for row, h in zip(exact.summary_rows(), heuristic_rows)]
    return rows, SUMMARY_COLUMNS + extra


def report_sets(exact, heuristic, estimated):
    """One stderr line per set: the bases estimated, the windows the heuristic counted."""
    if exact is not None and estimated:
        lnb = exact.ln_base
        click.echo(f"{exact.n_filters} motifs; ln b from {lnb.min():.4g} to {lnb.max():.4g} "
                   f"({'shared' if exact.shared_base else 'per filter'}), {int(exact.stats.n_sequences)} sequences",
                   err=True)
    if heuristic is not None:
        rule = (f"activation > {heuristic.output_threshold:g}" if heuristic.threshold_fraction is None
                else f"activation > {heuristic.threshold_fraction:g} x its maximum")
        windows = ", ".join(str(int(n)) for n in heuristic.n_windows)
        click.echo(f"heuristic ({rule}): windows per filter {windows} of {heuristic.n_sequences} sequences",
                   err=True)
