"""``k2p-keras report FOLDER -o report.html``: how each filter's motif emerged while the model trained."""
import click
from click.core import ParameterSource

from ..annotate.draw.emergence import annotate_epochs, write_emergence_report
from ..annotate.draw.logos import require_matplotlib
from ..annotate.match.tomtom import require_annotate
from ..io.callback_folder import read_callback_folder
from .group import cli, output_path_callback, progress_bar, q_threshold_option, taxon_option


@cli.command("report")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, callback=output_path_callback,
              help="The HTML file to write (one self-contained file).")
@click.option("--db", default=None, metavar="DB",
              help="Annotate every dump against DB, a MEME file or a JASPAR release (e.g. JASPAR2024) "
                   "[default: the callback's own matches in summary.tsv (PWMCallback(annotate=...)); "
                   "without them, the newest JASPAR CORE release pyjaspar holds].")
@taxon_option()
@q_threshold_option("When this command annotates: a match at or below this q-value.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def report(folder, output, db, taxon, q_threshold, quiet):
    """Emergence over training, from the FOLDER a PWMCallback wrote (epoch_NNNN.meme, summary.tsv).

    Per filter: its logo at every dump, its best database match and q-value, its information
    content and how far its PWM moved since the previous dump; filters in the order of the last
    dump's report. The matches are the callback's own when it annotated its dumps; with --db,
    --taxon or --q-threshold, or without them, the dumps are annotated here (Tomtom, memelite).
    Needs matplotlib, and pip install 'k2p-keras[annotate]' to annotate.
    """
    require_matplotlib()
    run = read_callback_folder(folder)
    annotations = None
    # Asking for a taxon or a threshold is asking for matches other than the callback's.
    ctx = click.get_current_context()
    asked = any(ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in ("taxon", "q_threshold"))
    if db is not None or asked or not run.annotated:
        require_annotate()  # a missing extra fails in one line, before any work
        with progress_bar(len(run.epochs), quiet, label="annotating", unit="dumps") as progress:
            annotations = annotate_epochs(run, db, taxon=taxon, q_threshold=q_threshold, progress=progress)
    write_emergence_report(output, run, annotations)
    if not quiet:
        click.echo(f"wrote {output}: {len(run.names)} filters over {len(run.epochs)} dumps", err=True)
