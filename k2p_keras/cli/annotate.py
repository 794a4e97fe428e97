"""``k2p-keras annotate MOTIFS.meme``: which known motifs do these PWMs resemble?"""
import sys

import click

from ..annotate.draw.logos import require_matplotlib
from ..annotate.draw.filters import filter_reports_from_motifs
from ..annotate.draw.report import format_report
from ..annotate.match.tomtom import annotate_motifs, DEFAULT_MIN_OVERLAP, DEFAULT_TOP, DEFAULT_TRIM_IC, require_annotate
from ..io.meme import read_meme
from ..io.text import write_text
from .group import cli, output_path_callback, q_threshold_option, taxon_option


@cli.command("annotate")
@click.argument("motifs", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--db", default=None, metavar="DB",
              help="A MEME file, or a JASPAR release served offline by pyjaspar (e.g. JASPAR2024) "
                   "[default: the newest release pyjaspar holds, CORE collection].")
@taxon_option()
@click.option("-o", "--matches", "matches_out", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              callback=output_path_callback,
              help="Write every significant match as TSV with Tomtom's columns (plus Target_name).")
@click.option("--report", "report_out", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
              help="Write a self-contained HTML report: logos, best match aligned, match tables (needs matplotlib).")
@q_threshold_option()
@click.option("--min-overlap", type=click.IntRange(1), default=DEFAULT_MIN_OVERLAP, show_default=True,
              help="Columns an alignment must share (or the whole database motif when it is shorter).")
@click.option("--trim-ic", type=click.FloatRange(0, 2), default=DEFAULT_TRIM_IC, show_default=True,
              help="Compare each motif from its first to its last column with this many bits (0: whole).")
@click.option("--top", type=click.IntRange(1), default=DEFAULT_TOP, show_default=True,
              help="Matches per motif shown in the report besides the significant ones.")
def annotate(motifs, db, taxon, matches_out, report_out, q_threshold, min_overlap, trim_ic, top):
    """Compare every motif of MOTIFS (a MEME file, ours or another tool's) with a motif database.

    Motifs are compared as Tomtom does (memelite's implementation), on both strands; each gets
    its best match and a verdict: 'match' at --q-threshold, 'weak match' for a PWM under 8 bits,
    'no match', or 'not compared' (too flat). A summary goes to
    stdout (to stderr when -o is '-'). Needs: pip install 'k2p-keras[annotate]'.
    JASPAR is distributed under CC BY 4.0: cite the release you use.
    """
    require_annotate()  # before any work: a missing extra is a one-line error with the pip command
    if report_out is not None:
        require_matplotlib()
    meme = read_meme(sys.stdin if motifs == "-" else motifs)
    annotation = annotate_motifs(meme, db, taxon=taxon, q_threshold=q_threshold, min_overlap=min_overlap,
                                 top=top, trim_ic=trim_ic, source="<stdin>" if motifs == "-" else motifs)
    # Everything is computed before anything is written: an error leaves no partial output.
    html = None
    if report_out is not None:
        header = {"motifs": "<stdin>" if motifs == "-" else motifs, "motifs in file": str(len(meme.motifs))}
        html = format_report(filter_reports_from_motifs(meme.motifs), annotation, header=header)
    if matches_out is not None:
        annotation.write_tsv(sys.stdout if matches_out == "-" else matches_out)
    if html is not None:
        write_text(report_out, html)
    click.echo(annotation.format_summary(), nl=False, err=matches_out == "-")
