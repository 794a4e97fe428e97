"""One self-contained HTML report: each filter's logos beside the known motif it resembles.

    FilterReport per filter (.filters) + Annotation --(format_report)--> HTML text --(write_report)--> file

The file needs nothing but itself (:mod:`.html`: inline PNGs and style, no script, no
external resource). What a reader sees, top to bottom: where the PWMs come from, how to read
the page, a table of every filter (its bits, verdict, best match, q-value; the heuristic's
beside it), then one section per filter: its logos cropped to the alignment with its best
database match, its figures, and the match tables.

Optional per-filter figures, shown when present
(:func:`k2p_keras.annotate.draw.filters.attach_model_figures` fills them from an extraction's
``influence`` and ``clusters``):

- **influence**: filters are ordered by it, with a bar each;
- **clusters**: filters that learned the same motif are grouped, the archetype's section
  first and the others folded under it (``<details>``), with the cluster's best match;
- **diagnostics**: the AUROC of the filter's best activation alone, its mean per class, the
  distribution of each sequence's best activation, the best windows' positions.

Logos are drawn by :func:`k2p_keras.annotate.draw.logos.logo_png`, the code ``--logos`` uses,
rather than with logomaker: the report's logos look like the PNGs the model command writes,
and a database motif drawn at Tomtom's offset is only both PWMs padded with uniform rows
(which draw nothing) and cropped to the columns they share.
"""
import numpy as np

from ..._version import __version__
from ...errors import K2PError
from ...io.text import write_text
from .filters import match_rank
from .html import anchor, bar, escape, number, page, png_image, table
from .logos import figure_png, logo_png, require_matplotlib
from ..describe.layer import format_bits, has_few_bits, LOW_INFORMATION_BITS, match_verdict, SIGNIFICANT_VERDICTS
from ..match.tomtom import Annotation

__all__ = ["ALIGNMENT_MARGIN", "JASPAR_CREDIT", "align_pwms", "alignment_window", "format_report", "verdict_badge",
           "write_report"]

JASPAR_CREDIT = ("Database motifs from JASPAR (https://jaspar.elixir.no), distributed under the Creative Commons "
                 "Attribution 4.0 International licence (CC BY 4.0, "
                 "https://creativecommons.org/licenses/by/4.0/); cite the JASPAR release used.")
#: Columns shown on each side of the columns a filter and its database match share.
ALIGNMENT_MARGIN = 3
# Best-match rows shown per table; the TSV (--matches / -o) has every significant one.
_TABLE_ROWS = 5
_UNIFORM = np.full(4, 0.25)
_WEAK_TIP = (f"under {LOW_INFORMATION_BITS:g} bits: a chance site about every {2 ** LOW_INFORMATION_BITS:.0f} bp, "
             "weak evidence for any factor")
_Q_TIP = "false discovery rate over every motif of the database (Benjamini-Hochberg); match at q <= the threshold"


# ----------------------------------------------------------------------------- alignment

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


def alignment_window(query_width, target_width, offset, span=None, margin=ALIGNMENT_MARGIN):
    """The columns of :func:`align_pwms`' output worth drawing: the overlap plus ``margin``.

    A filter of 15 columns facing the end of a 33-column CTCF profile would otherwise be a
    small logo at the right of a long, mostly unrelated axis.

    Parameters
    ----------
    query_width, target_width, offset : int
        As for :func:`align_pwms`.
    span : (int, int), optional
        The query columns compared (Tomtom's trimmed span), always kept in view.
    margin : int
        Columns kept on each side.

    Returns
    -------
    (int, int)
        ``start, stop`` in the aligned coordinates.
    """
    query_left, target_left = max(0, offset), max(0, -offset)
    width = max(query_left + query_width, target_left + target_width)
    start = max(query_left, target_left)
    stop = min(query_left + query_width, target_left + target_width)
    if span is not None:
        start, stop = min(start, query_left + span[0]), max(stop, query_left + span[1])
    start, stop = max(0, start - margin), min(width, stop + margin)
    # The filter is shown whole unless that adds more than the margin again on a side.
    query_stop = query_left + query_width
    if start > query_left and start - query_left <= margin:
        start = query_left
    if stop < query_stop and query_stop - stop <= margin:
        stop = query_stop
    return start, stop


def _columns(left, width, window):
    """1-based column numbers of a PWM placed at ``left``, over the window (None where padded)."""
    return [i - left + 1 if 0 <= i - left < width else None for i in range(*window)]


def _shown(columns, width):
    numbered = [c for c in columns if c is not None]
    if numbered and (numbered[0] > 1 or numbered[-1] < width):
        return f", columns {numbered[0]}-{numbered[-1]} of {width}"
    return ""


def _panels(report, best, span):
    """The logo panels of one filter: exact, heuristic, best match, cropped to their alignment."""
    own = "exact PWM" if report.heuristic is not None else "PWM"
    if best is None:
        panels = [(own, report.exact)]
        if report.heuristic is not None:
            panels.append(("heuristic PWM", report.heuristic))
        return panels
    offset, width, target_width = best.offset, len(report.exact), len(best.target_pwm)
    window = alignment_window(width, target_width, offset, span)
    exact, target = align_pwms(report.exact, best.target_pwm, offset)
    query_columns = _columns(max(0, offset), width, window)
    target_columns = _columns(max(0, -offset), target_width, window)
    cut = slice(*window)
    panels = [(own + _shown(query_columns, width), exact[cut], query_columns)]
    if report.heuristic is not None:
        # Same filter, same columns: the heuristic sits exactly where the exact PWM does.
        panels.append(("heuristic PWM", align_pwms(report.heuristic, best.target_pwm, offset)[0][cut], query_columns))
    label = "best match" if best.significant else "nearest database motif (not significant)"
    strand = ", reverse complement" if best.orientation == "-" else ""
    panels.append((f"{label}: {best.target_id} {best.target_name or ''}{strand}{_shown(target_columns, target_width)}",
                   target[cut], target_columns))
    return panels


# ----------------------------------------------------------------------------- verdicts

def _rank(annotation, name, bits):
    best = annotation.best_match(name)
    if best is None:
        return match_rank(False, annotation.is_informative(name), bits)
    return match_rank(best.significant, True, bits, best.q_value, best.p_value)


def verdict_badge(verdict, target="", q_value=None):
    """The badge both reports show for a verdict (:data:`~k2p_keras.annotate.describe.layer.VERDICTS`).

    ``target`` is the best database motif as text ("MA0139.1 CTCF"; empty when no alignment
    was admissible), ``q_value`` its q-value.
    """
    if verdict == "not compared":
        return ('<span class="badge nomatch" title="no span of enough informative columns to compare">'
                "not compared: too flat</span>")
    if not target:
        return '<span class="badge nomatch">no match: no admissible alignment</span>'
    target, q = escape(target), number(q_value)
    if verdict == "match":
        return f'<span class="badge match">match: {target} (q = {q})</span>'
    if verdict == "weak match":
        return f'<span class="badge weak" title="{_WEAK_TIP}">weak match (few bits): {target} (q = {q})</span>'
    return f'<span class="badge nomatch">no match (nearest: {target}, q = {q})</span>'


def _verdict_of(annotation, name, bits):
    """:func:`~k2p_keras.annotate.describe.layer.match_verdict` of one annotated PWM."""
    best = annotation.best_match(name)
    return match_verdict(best is not None and best.significant, annotation.is_informative(name), bits)


def _verdict_html(annotation, name, bits):
    """Verdict badge of one PWM: its best match (greyed under LOW_INFORMATION_BITS), the nearest, or why none."""
    best = annotation.best_match(name)
    verdict = _verdict_of(annotation, name, bits)
    if best is None:
        return verdict_badge(verdict)
    return verdict_badge(verdict, f"{best.target_id} {best.target_name or ''}".strip(), best.q_value)


def _bits(bits):
    grey = " grey" if has_few_bits(bits) else ""
    return f'<span class="badge bits{grey}" title="information content of the PWM">{format_bits(bits)} bits</span>'


def _disagree(annotation, report):
    """Whether one of a filter's exact and heuristic PWMs matches a database motif (not weakly) and the
    other does not, or each names a motif the other's significant matches lack (a paralog is no disagreement)."""
    if report.heuristic_name is None:
        return False
    a, b = annotation.best_match(report.name), annotation.best_match(report.heuristic_name)
    a_match = _verdict_of(annotation, report.name, report.info_bits) == "match"
    b_match = _verdict_of(annotation, report.heuristic_name, report.heuristic_info_bits) == "match"
    if a_match != b_match:
        return True
    if not a_match:
        return False
    a_ids = {m.target_id for m in annotation.matches(report.name, significant_only=True)}
    b_ids = {m.target_id for m in annotation.matches(report.heuristic_name, significant_only=True)}
    return a.target_id not in b_ids and b.target_id not in a_ids


def _disagreement_note(report):
    counted = report.figures.get("heuristic: windows counted")
    windows = f" (here {escape(counted)} sequences)" if counted else ""
    return (f'<p class="note"><b>Exact and heuristic disagree.</b> The model\'s scores follow the exact PWM exactly: '
            f"it reproduces this filter's score on every window. The heuristic PWM is a count of the letters in "
            f"the windows that activated the filter{windows}; when nearly every sequence counts, it is mostly "
            f"background.</p>")


# ----------------------------------------------------------------------------- tables

def _match_table(annotation, name, bits):
    matches = annotation.matches(name)[:_TABLE_ROWS]
    if not annotation.is_informative(name):
        return (f"<p>Not compared: no span of {annotation.min_overlap} columns holds {annotation.trim_ic:g} bits "
                f"or more per column (too little information for any database motif).</p>")
    if not matches:
        return "<p>No admissible alignment with any database motif (no match).</p>"
    head = ["target", "name", ("p-value", "chance of so good an alignment with this database motif"),
            ("E-value", "p-value x the number of database motifs"), ("q-value", _Q_TIP),
            ("offset", "the database motif's column facing the filter's first column (Tomtom's Optimal_offset)"),
            ("overlap", "columns compared"), ("strand", "- : the database motif's reverse complement matched"),
            ("database motif consensus", "most probable letters, in the orientation matched"), "verdict"]
    rows = []
    weak = has_few_bits(bits)
    for m in matches:
        if m.significant and weak:
            verdict = '<span class="badge weak">match, few bits</span>'
        elif m.significant:
            verdict = '<span class="badge match">match</span>'
        else:
            verdict = '<span class="grey">not significant</span>'
        rows.append([f"<td><code>{escape(m.target_id)}</code></td>", f"<td>{escape(m.target_name or '')}</td>",
                     f"<td class=num>{number(m.p_value)}</td>", f"<td class=num>{number(m.e_value)}</td>",
                     f"<td class=num>{number(m.q_value)}</td>", f"<td class=num>{m.offset}</td>",
                     f"<td class=num>{m.overlap}</td>", f"<td>{escape(m.orientation)}</td>",
                     f"<td><code>{escape(m.target_consensus)}</code></td>", f"<td>{verdict}</td>"])
    return table(rows, head)


def _match_cells(annotation, name, bits, note=""):
    """Summary-table cells of one PWM: bits, verdict with the best (or nearest) motif (and ``note``), q-value."""
    best = annotation.best_match(name)
    grey = ' class="num grey"' if has_few_bits(bits) else " class=num"
    cells = [f"<td{grey}>{format_bits(bits)}</td>"]
    if not annotation.is_informative(name):
        return cells + [f'<td class="grey">not compared (too flat){note}</td>', '<td class="num grey">n/a</td>']
    if best is None:
        return cells + [f'<td class="grey">no admissible alignment{note}</td>', '<td class="num grey">n/a</td>']
    target = f"{escape(best.target_id)} {escape(best.target_name or '')}"
    verdict = _verdict_of(annotation, name, bits)
    if verdict == "match":
        shown = f'<span class="badge match">match</span> {target}'
    elif verdict == "weak match":
        shown = f'<span class="badge weak" title="{_WEAK_TIP}">weak</span> <span class="grey">{target}</span>'
    else:
        shown = f'<span class="grey">no match (nearest {target})</span>'
    css = "num" if verdict == "match" else "num grey"
    return cells + [f"<td>{shown}{note}</td>", f'<td class="{css}">{number(best.q_value)}</td>']


def _summary_table(groups, annotation):
    filters = [r for _, members in groups for r in members]
    heuristic = any(r.heuristic_name for r in filters)
    influence = any(r.influence is not None for r in filters)
    clustered = any(r.cluster is not None for r in filters)
    diagnostics = any(r.auroc is not None for r in filters)
    largest = max((r.influence for r in filters if r.influence is not None), default=0.0)
    head = ["filter"]
    if clustered:
        head.append(("cluster", "filters that learned one motif; * marks the archetype"))
    if influence:
        head.append(("influence", "how much the model's output depends on the filter"))
    head += [("bits", "information content of the PWM"), "exact PWM: verdict, best database motif" if heuristic
             else "verdict, best database motif", ("q-value", _Q_TIP)]
    if heuristic:
        head += [("bits", "of the heuristic PWM"), "heuristic PWM: verdict, best database motif", ("q-value", _Q_TIP)]
    if diagnostics:
        head.append(("AUROC alone", "the filter's best activation alone against the labels"))
    rows = []
    for report in filters:
        cells = [f'<td><a href="#{anchor(report.name)}">{escape(report.name)}</a></td>']
        if clustered:
            star = " *" if report.is_archetype else ""
            cells.append(f"<td>{'' if report.cluster is None else escape(report.cluster)}{star}</td>")
        if influence:
            cells.append(f"<td class=num>{bar(report.influence, largest)} {number(report.influence)}</td>")
        cells += _match_cells(annotation, report.name, report.info_bits)
        if heuristic:
            if report.heuristic_name is None:
                cells.append('<td colspan=3 class="grey">no heuristic PWM</td>')
            else:
                note = (f' <a class="badge nomatch" href="#{anchor(report.name)}" title="the exact and heuristic '
                        f'PWMs name different motifs: the model follows the exact one">disagree</a>'
                        if _disagree(annotation, report) else "")
                cells += _match_cells(annotation, report.heuristic_name, report.heuristic_info_bits, note)
        if diagnostics:
            cells.append(f"<td class=num>{number(report.auroc)}</td>")
        rows.append(cells)
    return table(rows, head)


# ----------------------------------------------------------------------------- sections

def _diagnostics_png(report):
    """Two small plots: each sequence's best activation by class, and where the best windows start."""
    from matplotlib.figure import Figure  # matplotlib loads when a report is drawn

    panels = [p for p in (report.activation_histogram, report.position_histogram) if p is not None]
    fig = Figure(figsize=(3.4 * len(panels), 1.9), layout="constrained")
    axes = list(fig.subplots(1, len(panels), squeeze=False)[0])
    if report.activation_histogram is not None:
        ax = axes.pop(0)
        edges, by_class = report.activation_histogram
        edges = np.asarray(edges, dtype=np.float64)
        for label, counts in by_class.items():
            counts = np.asarray(counts, dtype=np.float64)
            ax.stairs(counts / max(counts.sum(), 1), edges, label=str(label))
        if edges[0] < 0 < edges[-1]:  # where a ReLU switches on
            ax.axvline(0.0, color="0.6", linewidth=0.6, linestyle="--")
        ax.set_xlabel("best conv + bias per sequence", fontsize=8)
        ax.set_ylabel("share", fontsize=8)
        ax.legend(fontsize=7, title="class", title_fontsize=7, frameon=False)
    if report.position_histogram is not None:
        ax = axes.pop(0)
        counts = np.asarray(report.position_histogram, dtype=np.float64)
        counts = counts[:, None] if counts.ndim == 1 else counts
        for column, label in zip(counts.T, ("forward", "reverse")):
            ax.plot(np.arange(1, len(column) + 1), column, label=label if counts.shape[1] > 1 else None)
        ax.set_xlabel("position of the best window", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("sequences", fontsize=8)
        if counts.shape[1] > 1:
            ax.legend(fontsize=7, frameon=False)
    for ax in fig.axes:
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return figure_png(fig)


def _section(report, annotation, largest_influence=0.0, cluster_line=""):
    best = annotation.best_match(report.name)
    bits = report.info_bits
    figures = {}
    if report.influence is not None:
        figures["influence"] = number(report.influence)
    if report.delta_loss is not None:
        figures["loss change without it"] = number(report.delta_loss)
    figures.update(report.figures)
    figures["information content"] = f"{bits:.2f} bits"
    if report.heuristic is not None:
        figures["heuristic: information content"] = f"{report.heuristic_info_bits:.2f} bits"
    span = annotation.spans.get(report.name)
    figures["columns compared with the database"] = "none (too flat)" if span is None else f"{span[0] + 1}-{span[1]}"
    if report.auroc is not None:
        figures["AUROC alone"] = number(report.auroc)
    for label, mean in (report.class_means or {}).items():
        figures[f"mean best activation, class {label}"] = number(mean)
    figure_rows = [[f"<th>{escape(k)}</th>", f"<td>{escape(v)}</td>"] for k, v in figures.items()]
    influence = "" if report.influence is None else f" {bar(report.influence, largest_influence)}"
    parts = [f'<section id="{anchor(report.name)}"><h2>{escape(report.name)}'
             f"{_verdict_html(annotation, report.name, bits)}{_bits(bits)}{influence}</h2>", cluster_line,
             '<div class="row">', png_image(logo_png(_panels(report, best, span)), f"logos of {report.name}"),
             table(figure_rows), "</div>"]
    if _disagree(annotation, report):
        parts.append(_disagreement_note(report))
    if report.activation_histogram is not None or report.position_histogram is not None:
        parts.append(png_image(_diagnostics_png(report), f"activation diagnostics of {report.name}", "plot"))
    parts += [f"<h3>Matches of the {'exact ' if report.heuristic is not None else ''}PWM</h3>",
              _match_table(annotation, report.name, bits)]
    if report.heuristic_name is not None:
        hbits = report.heuristic_info_bits
        parts += [f"<h3>Matches of the heuristic PWM {_verdict_html(annotation, report.heuristic_name, hbits)}"
                  f"{_bits(hbits)}</h3>", _match_table(annotation, report.heuristic_name, hbits)]
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _cluster_section(cluster, members, annotation, largest_influence):
    """An archetype's section with the cluster's best match, the other members folded under it."""
    archetype, others = members[0], members[1:]
    ranked = sorted(members, key=lambda r: _rank(annotation, r.name, r.info_bits))
    best_member = ranked[0]
    best = annotation.best_match(best_member.name)
    if best is not None and best.significant:
        said = (f"best database match of the cluster: {escape(best.target_id)} {escape(best.target_name or '')} "
                f"(q = {number(best.q_value)}, by {escape(best_member.name)})")
    else:
        said = "no member matches a database motif"
    line = (f"<p>Cluster {escape(cluster)}: {len(members)} filters that learned one motif (matching each other or "
            f"sharing a database motif); "
            f"archetype {escape(archetype.name)}; {said}.</p>")
    names = ", ".join(escape(r.name) for r in others)
    folded = "\n".join(_section(r, annotation, largest_influence) for r in others)
    return (f'<section class="cluster" id="{anchor(cluster, "cluster-")}">\n'
            f"{_section(archetype, annotation, largest_influence, cluster_line=line)}\n"
            f"<details><summary>{len(others)} other member{'s' if len(others) > 1 else ''}: {names}</summary>\n"
            f"{folded}\n</details></section>")


def _groups(filters, annotation):
    """Filters in report order, grouped by cluster: ``[(cluster or None, [archetype, others...]), ...]``.

    By influence when given, else by match strength (:func:`match_rank`); a cluster sits
    where its first member would, its archetype first.
    """
    if any(r.influence is not None for r in filters):
        def key(r):
            return (r.influence is None, -(r.influence or 0.0))
    else:
        def key(r):
            return _rank(annotation, r.name, r.info_bits)
    ordered = sorted(filters, key=key)  # stable: file order within ties
    groups, seen = [], set()
    for report in ordered:
        if report.cluster is None:
            groups.append((None, [report]))
        elif report.cluster not in seen:
            seen.add(report.cluster)
            members = [r for r in ordered if r.cluster == report.cluster]
            members.sort(key=lambda r: not r.is_archetype)
            groups.append((report.cluster, members))
    return groups


def _layer_note(layer):
    """The first layer's verdict as a paragraph: partial motifs stand out, with the advice."""
    if layer is None:
        return ""
    css = "note" if layer.partial else "note whole"
    return (f'<p class="{css}" id="first-layer"><b>First layer: {escape(layer.verdict)}.</b> '
            f"{escape(layer.measure)}; {escape(layer.conclusion)}.</p>")


def _guide(filters, annotation, groups):
    heuristic = any(r.heuristic is not None for r in filters)
    paragraphs = [
        "<b>Logos</b>: a column's letters stack to its information content (2 bits: one certain letter). Each "
        "filter's PWM is drawn over its best database motif as Tomtom aligned them, cropped to the columns they "
        f"share and {ALIGNMENT_MARGIN} more on each side; the numbers under a logo are its own columns.",
        f"<b>Verdict</b>: <i>match</i> when the best database motif's q-value (the false discovery rate over all "
        f"{annotation.n_targets} motifs of the database) is at most {annotation.q_threshold:g}. A PWM of fewer than "
        f"{LOW_INFORMATION_BITS:g} bits expects a chance site every {2 ** LOW_INFORMATION_BITS:.0f} bp, about once per "
        "sequence: its matches are greyed, weak evidence for any factor. <i>Nearest</i>: the best database motif "
        "when it is not significant.",
    ]
    if any("ln b" in r.figures for r in filters):
        paragraphs.append(
            "<b>ln b</b>: the logarithm's base of the exact PWM (log<sub>b</sub>), estimated by maximum likelihood "
            "on the sequences (or fixed, --base). Every base reproduces the filter's scores; it sets only how sharp "
            "the logo is.")
    if heuristic:
        paragraphs.append(
            "<b>Exact or heuristic?</b> The exact PWM reproduces the filter's score on every window "
            "(log<sub>b</sub> P(window) + d equals the filter's output; Ding et al.): the model's scores follow it "
            "exactly. The heuristic PWM (DeepBind's) counts the letters of the windows that activated the filter: "
            "a summary of where it fires, blurred toward the background when it fires in nearly every sequence. "
            "Where the two disagree, the exact PWM is what the model computes.")
    if any(r.influence is not None for r in filters):
        paragraphs.append("<b>Influence</b>: how much the model's output changes when the filter's output is "
                          "replaced by a constant; filters are ordered by it, the bar relative to the largest.")
    if any(cluster is not None and len(members) > 1 for cluster, members in groups):
        paragraphs.append("<b>Clusters</b>: one per learned motif: filters of 8 bits or more whose PWMs match each "
                          "other at any offset or strand (Tomtom among the filters), or that share their best "
                          "database motif; a filter under 8 bits joins as a leaf when it matches at least half of "
                          "one cluster's filters of 8 bits or more. Each cluster shows its archetype (its "
                          "most informative member); the others are folded under it (click to open).")
    return '<div class="guide">' + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>"


def format_report(filters, annotation, header=None, title="k2p-keras motif report", layer=None):
    """The report as HTML text.

    Parameters
    ----------
    filters : list of FilterReport
        Their names (and ``heuristic_name``) must be queries of ``annotation``. Influence,
        clusters and diagnostics are shown when the reports carry them.
    annotation : Annotation
    header : dict of str to str, optional
        Shown first, as given (model file, layer, pattern check, sequences, base mode, ...).
    title : str
    layer : LayerVerdict, optional
        The first layer's verdict (:func:`k2p_keras.annotate.describe.layer.layer_verdict`), shown under
        the header: whole motifs, or partial ones with the literature's advice.

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
    import memelite  # loads numba: only when a report is written (annotation needed it already)

    info = dict(header or {})
    info.setdefault("tool", f"k2p-keras {__version__}")
    info["database"] = f"{annotation.database} ({annotation.n_targets} motifs)"
    info["comparison"] = (f"Tomtom (memelite {memelite.__version__}, Euclidean distance, both strands); "
                          f"match: q-value <= {annotation.q_threshold:g} (Benjamini-Hochberg over the database); "
                          f"overlap >= {annotation.min_overlap} columns; flanks under {annotation.trim_ic:g} bits "
                          f"not compared")
    header_rows = [[f"<th>{escape(k)}</th>", f"<td>{escape(v)}</td>"] for k, v in info.items()]
    groups = _groups(filters, annotation)
    matched = [r for r in filters if annotation.verdict(r.name) in SIGNIFICANT_VERDICTS]
    weak = sum(has_few_bits(r.info_bits) for r in matched)
    weak_text = f" ({weak} of them with fewer than {LOW_INFORMATION_BITS:g} bits: greyed)" if weak else ""
    order = ("by influence" if any(r.influence is not None for r in filters) else
             "by the strength of their best match (informative matches first, then weak ones, then no match)")
    if any(len(members) > 1 for _, members in groups):
        order += ", a cluster's members together where its first would be, its archetype (*) first"
    largest = max((r.influence for r in filters if r.influence is not None), default=0.0)
    body = [f"{table(header_rows)}", _layer_note(layer), _guide(filters, annotation, groups),
            f"<p>{len(matched)} of {len(filters)} filters match a database motif{weak_text}. Filters are ordered "
            f"{order}.</p>", _summary_table(groups, annotation)]
    for cluster, members in groups:
        if len(members) == 1:  # a cluster of one is a filter like any other (its id is in the table)
            body.append(_section(members[0], annotation, largest))
        else:
            body.append(_cluster_section(cluster, members, annotation, largest))
    credits = ["Motif comparison: memelite's implementation of Tomtom (Gupta et al. 2007, Genome Biology 8:R24)."]
    if annotation.is_jaspar:
        credits.append(JASPAR_CREDIT)
    return page(title, "\n".join(body), credits)


def write_report(path, filters, annotation, header=None, title="k2p-keras motif report", layer=None):
    """Write :func:`format_report` to ``path`` atomically (nothing is written when drawing fails)."""
    write_text(path, format_report(filters, annotation, header=header, title=title, layer=layer))
