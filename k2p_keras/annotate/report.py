"""One self-contained HTML report: each filter's logos beside the known motif it resembles.

    FilterReport per filter + Annotation --(format_report)--> HTML text --(write_report)--> file

The file needs nothing but itself: logos are PNGs inlined as ``data:`` URIs, the style sheet
is inline, there is no script and no external resource, so it opens from disk (or from a
mail attachment) without a network.

Logos are drawn by :func:`k2p_keras.annotate.logos.draw_logo`, the code ``--logos`` uses, rather than
with logomaker: the report's logos then look exactly like the PNGs the model command writes,
and the only thing the report needs beyond them (a database motif drawn at Tomtom's offset)
is done by padding both PWMs with uniform rows, which carry no information and draw nothing.
logomaker would add pandas for no feature we use.
"""
import base64
import dataclasses
import html
import io
import math
import re

import numpy as np

from .._version import __version__
from ..errors import K2PError
from ..io.text import write_text
from ..transform import information_content
from .logos import draw_logo, require_matplotlib
from .tomtom import Annotation

__all__ = ["FilterReport", "JASPAR_CREDIT", "align_pwms", "filter_reports_from_motifs", "format_report",
           "write_report"]

JASPAR_CREDIT = ("Database motifs from JASPAR (https://jaspar.elixir.no), distributed under the Creative Commons "
                 "Attribution 4.0 International licence (CC BY 4.0, "
                 "https://creativecommons.org/licenses/by/4.0/); cite the JASPAR release used.")
# Best-match rows shown per table; the TSV (--matches / -o) has every significant one.
_TABLE_ROWS = 5
_UNIFORM = np.full(4, 0.25)


@dataclasses.dataclass(eq=False)
class FilterReport:
    """What the report shows for one filter.

    Attributes
    ----------
    name : str
        The filter's motif name, as in the annotation (``motif_conv_3`` or ``..._exact``).
    exact : numpy.ndarray, shape (L, 4)
        The exact PWM (or, for a MEME file of other origin, its PWM).
    heuristic : numpy.ndarray or None
        The heuristic PWM of the same filter, when computed.
    heuristic_name : str or None
        Its name in the annotation, to show its own best matches.
    figures : dict of str to str
        Shown as given, e.g. ``{"ln b": "2.38 (SE 0.0063)", "sequences used": "4000"}``;
        the information content is added from the PWM.
    """

    name: str
    exact: np.ndarray
    heuristic: np.ndarray | None = None
    heuristic_name: str | None = None
    figures: dict = dataclasses.field(default_factory=dict)


def align_pwms(query, target, offset):
    """Pad two PWMs with uniform rows so that query column 0 sits over target column ``offset``.

    Parameters
    ----------
    query, target : numpy.ndarray, shapes (Lq, 4) and (Lt, 4)
    offset : int
        Tomtom's offset: the target column facing the query's first column.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Both of the same width; uniform rows carry 0 bits and draw as empty columns.
    """
    query = np.asarray(query, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    # Target column j faces query column j - offset: whichever starts first sits at column 0.
    query_left, target_left = max(0, offset), max(0, -offset)
    width = max(query_left + len(query), target_left + len(target))

    def pad(pwm, left):
        return np.vstack([np.tile(_UNIFORM, (left, 1)), pwm, np.tile(_UNIFORM, (width - left - len(pwm), 1))])

    return pad(query, query_left), pad(target, target_left)


# ----------------------------------------------------------------------------- from a MEME file

_SUFFIXES = ("_exact", "_heuristic")


def _figures_from_alt_name(motif, prefix=""):
    """The figures k2p-keras records in a motif's alternate name and nsites, as display strings."""
    figures = {}
    fields = dict(re.findall(r"([A-Za-z_]+)=([^,]+)", motif.alt_name or ""))
    if "ln_b" in fields:
        text = f"{float(fields['ln_b']):.4g}"
        if "SE" in fields:
            text += f" (SE {fields['SE']})"
        figures[prefix + "ln b"] = text
    if "windows" in fields:
        figures[prefix + "windows counted"] = fields["windows"]
    elif motif.nsites is not None:
        figures[prefix + "sequences used"] = str(motif.nsites)
    return figures


def filter_reports_from_motifs(motifs):
    """One :class:`FilterReport` per filter of a MEME file written by k2p-keras (or any MEME file).

    Motifs named ``<stem>_exact`` and ``<stem>_heuristic`` (``--method both``) share one
    entry; ``ln_b=...,SE=...`` in an alternate name and ``nsites`` become figures.

    Parameters
    ----------
    motifs : list of Motif

    Returns
    -------
    list of FilterReport
        In file order of the first motif of each filter.
    """
    motifs = list(motifs)
    by_name = {m.name: m for m in motifs}
    reports, done = [], set()
    for motif in motifs:
        if motif.name in done:
            continue
        stem = motif.name[:-len("_exact")] if motif.name.endswith("_exact") else None
        partner = by_name.get(f"{stem}_heuristic") if stem else None
        if motif.name.endswith("_heuristic") and motif.name[:-len("_heuristic")] + "_exact" in by_name:
            continue  # drawn with its exact partner
        figures = _figures_from_alt_name(motif)
        if partner is not None:
            figures.update(_figures_from_alt_name(partner, prefix="heuristic: "))
            done.add(partner.name)
        reports.append(FilterReport(name=motif.name, exact=motif.pwm,
                                    heuristic=None if partner is None else partner.pwm,
                                    heuristic_name=None if partner is None else partner.name, figures=figures))
        done.add(motif.name)
    return reports


# ----------------------------------------------------------------------------- drawing

def _logo_png(panels):
    """PNG bytes of stacked logos, one ``(title, pwm)`` panel per row, all of one width."""
    from matplotlib.figure import Figure  # matplotlib loads when a report is drawn

    width = max(len(pwm) for _, pwm in panels)
    fig = Figure(figsize=(max(3.5, 0.32 * width + 0.9), 1.35 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (title, pwm) in zip(axes, panels):
        draw_logo(ax, pwm, title)
        ax.set_xticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    return buffer.getvalue()


def _panels(report, best):
    """The logo panels of one filter: exact, heuristic, best match, aligned at Tomtom's offset."""
    exact, heuristic = report.exact, report.heuristic
    panels = []
    if best is None:
        panels.append(("exact PWM" if heuristic is not None else report.name, exact))
        if heuristic is not None:
            panels.append(("heuristic PWM", heuristic))
        return panels
    exact_aligned, target_aligned = align_pwms(exact, best.target_pwm, best.offset)
    panels.append(("exact PWM" if heuristic is not None else report.name, exact_aligned))
    if heuristic is not None:
        # Same filter, same columns: the heuristic sits exactly where the exact PWM does.
        panels.append(("heuristic PWM", align_pwms(heuristic, best.target_pwm, best.offset)[0]))
    label = "best match" if best.significant else "nearest (not significant)"
    panels.append((f"{label}: {best.target_id} {best.target_name or ''} (strand {best.orientation}, "
                   f"offset {best.offset})", target_aligned))
    return panels


# ----------------------------------------------------------------------------- HTML

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 70em;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 0; } h3 { font-size: 0.95em; margin-bottom: 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.95em; }
section { border: 1px solid #ccc; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.badge { font-size: 0.8em; padding: 0.15em 0.5em; border-radius: 4px; margin-left: 0.5em; font-weight: normal; }
.match { background: #d8f0dc; color: #14532d; } .nomatch { background: #eee; color: #555; }
img.logo { max-width: 100%; }
footer { font-size: 0.8em; color: #555; margin-top: 2em; border-top: 1px solid #ccc; padding-top: 0.5em; }
"""


def _e(value):
    return html.escape(str(value), quote=True)


def _number(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _anchor(name):
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _strength(annotation, report):
    """Sort key: significant matches first, then by q- and p-value; no match last, in file order."""
    best = annotation.best_match(report.name)
    if best is None:
        return (2, 1.0, 1.0)
    return (0 if best.significant else 1, best.q_value, best.p_value)


def _match_table(annotation, name):
    matches = annotation.matches(name)[:_TABLE_ROWS]
    if not annotation.is_informative(name):
        return (f"<p>No column span of {annotation.min_overlap} columns holds {annotation.trim_ic:g} bits or more: "
                f"too little information to compare (no match).</p>")
    if not matches:
        return "<p>No admissible alignment with any database motif (no match).</p>"
    head = ("<tr><th>target</th><th>name</th><th>p-value</th><th>E-value</th><th>q-value</th><th>offset</th>"
            "<th>overlap</th><th>strand</th><th>target consensus</th><th>verdict</th></tr>")
    rows = []
    for m in matches:
        verdict = '<span class="badge match">match</span>' if m.significant else "-"
        rows.append(f"<tr><td><code>{_e(m.target_id)}</code></td><td>{_e(m.target_name or '')}</td>"
                    f"<td class=num>{_number(m.p_value)}</td><td class=num>{_number(m.e_value)}</td>"
                    f"<td class=num>{_number(m.q_value)}</td><td class=num>{m.offset}</td>"
                    f"<td class=num>{m.overlap}</td><td>{_e(m.orientation)}</td>"
                    f"<td><code>{_e(m.target_consensus)}</code></td><td>{verdict}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _badge(annotation, name):
    best = annotation.best_match(name)
    if best is not None and best.significant:
        return (f'<span class="badge match">match: {_e(best.target_id)} {_e(best.target_name or "")} '
                f"(q = {_number(best.q_value)})</span>")
    return '<span class="badge nomatch">no match</span>'


def _section(report, annotation):
    best = annotation.best_match(report.name)
    figures = dict(report.figures)
    figures["information content"] = f"{information_content(report.exact).sum():.2f} bits"
    if report.heuristic is not None:
        figures["heuristic: information content"] = f"{information_content(report.heuristic).sum():.2f} bits"
    span = annotation.spans.get(report.name)
    figures["columns compared"] = "none (uninformative)" if span is None else f"{span[0] + 1}-{span[1]}"
    figure_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in figures.items())
    png = base64.b64encode(_logo_png(_panels(report, best))).decode("ascii")
    parts = [f'<section id="{_anchor(report.name)}"><h2>{_e(report.name)}{_badge(annotation, report.name)}</h2>',
             '<div class="row">',
             f'<img class="logo" alt="logos of {_e(report.name)}" src="data:image/png;base64,{png}">',
             f"<table>{figure_rows}</table></div>",
             f"<h3>Matches of the {'exact ' if report.heuristic is not None else ''}PWM</h3>",
             _match_table(annotation, report.name)]
    if report.heuristic_name is not None:
        parts += [f"<h3>Matches of the heuristic PWM {_badge(annotation, report.heuristic_name)}</h3>",
                  _match_table(annotation, report.heuristic_name)]
    parts.append("</section>")
    return "\n".join(parts)


def _summary_table(reports, annotation):
    rows = []
    for report in reports:
        cells = []
        for name in (report.name, report.heuristic_name):
            if name is None:
                continue
            best = annotation.best_match(name)
            shown = f"{best.target_id} {best.target_name or ''}" if best is not None and best.significant else "-"
            cells.append(f"<td>{_e(shown)}</td><td class=num>{_number(best.q_value) if best else ''}</td>")
        rows.append(f'<tr><td><a href="#{_anchor(report.name)}">{_e(report.name)}</a></td>{"".join(cells)}</tr>')
    heuristic = any(r.heuristic_name for r in reports)
    head = "<tr><th>filter</th><th>best match</th><th>q-value</th>"
    if heuristic:
        head += "<th>heuristic: best match</th><th>q-value</th>"
    return f"<table>{head}</tr>{''.join(rows)}</table>"


def format_report(filters, annotation, header=None, title="k2p-keras motif report"):
    """The report as HTML text.

    Parameters
    ----------
    filters : list of FilterReport
        Their names (and ``heuristic_name``) must be queries of ``annotation``.
    annotation : Annotation
    header : dict of str to str, optional
        Shown first, as given (model file, layer, pattern check, sequences, base mode, ...).
    title : str

    Returns
    -------
    str
        One HTML document with every image inline; no script, no external resource.
    """
    require_matplotlib()
    if not isinstance(annotation, Annotation):
        raise K2PError("format_report needs the Annotation of the filters' motifs")
    if not filters:
        raise K2PError("no filters to report")
    for report in filters:
        for name in (report.name, report.heuristic_name):
            if name is not None:
                annotation.matches(name)  # raises for a name the annotation lacks
    ordered = sorted(filters, key=lambda r: _strength(annotation, r))  # stable: file order within ties
    import memelite  # loads numba: only when a report is written (annotation needed it already)

    info = dict(header or {})
    info.setdefault("tool", f"k2p-keras {__version__}")
    info["database"] = f"{annotation.database} ({annotation.n_targets} motifs)"
    info["comparison"] = (f"Tomtom (memelite {memelite.__version__}, Euclidean distance, both strands); "
                          f"match: q-value <= {annotation.q_threshold:g} (Benjamini-Hochberg over the database); "
                          f"overlap >= {annotation.min_overlap} columns; flanks under {annotation.trim_ic:g} bits "
                          f"not compared")
    header_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in info.items())
    n_match = sum(annotation.verdict(r.name) == "match" for r in filters)
    credits = [f"Motif comparison: memelite's implementation of Tomtom (Gupta et al. 2007, Genome Biology 8:R24)."]
    if annotation.is_jaspar:
        credits.append(JASPAR_CREDIT)
    body = "\n".join(_section(r, annotation) for r in ordered)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<table>{header_rows}</table>
<p>{n_match} of {len(filters)} filters match a database motif. Filters are ordered by the strength of their
best match; each shows its logo(s) and the best match's logo aligned at Tomtom's offset and strand.</p>
{_summary_table(ordered, annotation)}
{body}
<footer>{"<br>".join(_e(c) for c in credits)}</footer>
</body></html>
"""


def write_report(path, filters, annotation, header=None, title="k2p-keras motif report"):
    """Write :func:`format_report` to ``path`` atomically (nothing is written when drawing fails)."""
    write_text(path, format_report(filters, annotation, header=header, title=title))
