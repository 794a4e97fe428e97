"""Emergence over training: each filter's motif, dump by dump, from a PWMCallback folder.

    read_callback_folder(DIR) --> CallbackFolder (epoch_NNNN.meme files, summary.tsv)
    annotate_epochs(folder, database) --> {epoch: Annotation}     when the callback did not annotate
    filter_histories(folder, annotations) --> [FilterHistory]     ordered as the last epoch's report
    format_emergence_report(histories) --> HTML text --(write_emergence_report)--> one file

Per filter and dump: its logo, its best database match and q-value (the callback's own,
``summary.tsv``'s ``best_match_*`` columns, from ``PWMCallback(annotate=...)``; else annotated
here), its information content, and how far its PWM moved since the previous dump
(``pwm_change``: the Jensen-Shannon divergence of each column from the same column at the
previous dump, averaged over columns; 0 unchanged, 1 at most). The verdicts and the order of
the filters are the model report's (:func:`k2p_keras.annotate.draw.filters.match_rank`), applied to
the last dump. The file is self-contained like the model report (:mod:`.html`).
"""
import dataclasses
import math
import os
import re

import numpy as np

from ..._version import __version__
from ...errors import K2PError
from ...io.text import write_text
from ...transform import information_content
from .filters import match_rank
from .html import anchor, bar, escape, number, page, png_image, table
from .logos import logo_png, require_matplotlib
from .report import JASPAR_CREDIT, verdict_badge
from ..describe.layer import format_bits, has_few_bits, LOW_INFORMATION_BITS, match_verdict, SIGNIFICANT_VERDICTS
from ..match.tomtom import annotate_motifs, load_database

__all__ = ["EpochState", "FilterHistory", "annotate_epochs", "filter_histories", "format_emergence_report",
           "write_emergence_report"]

# Thumbnail size: inches per logo column and the logo's height.
_THUMB_COLUMN, _THUMB_HEIGHT = 0.075, 0.5
_JASPAR_ID = re.compile(r"MA\d{4}\.\d+")


@dataclasses.dataclass(eq=False)
class EpochState:
    """One filter at one dump.

    Attributes
    ----------
    epoch : int
    pwm : numpy.ndarray, shape (L, 4)
    bits : float
        Information content, summed over columns.
    change : float
        ``pwm_change`` since the previous dump (NaN at the first).
    target_id, target_name : str
        The best database match ("" when none was admissible or the PWM was too flat).
    q_value : float
        Its q-value (NaN when none).
    significant : bool
        The callback's (or the annotation's) verdict was "match".
    compared : bool
        The PWM had an informative span to compare.
    """

    epoch: int
    pwm: np.ndarray
    bits: float
    change: float
    target_id: str
    target_name: str
    q_value: float
    significant: bool
    compared: bool

    @property
    def verdict(self):
        """One of :data:`k2p_keras.annotate.describe.layer.VERDICTS`."""
        return match_verdict(self.significant, self.compared, self.bits)

    @property
    def factor(self):
        """What the match names: the factor's name, else the database ID."""
        return self.target_name or self.target_id


@dataclasses.dataclass(eq=False)
class FilterHistory:
    """One filter over the dumps of a training run.

    Attributes
    ----------
    name : str
    states : list of EpochState
        One per dump, in epoch order.
    """

    name: str
    states: list

    @property
    def last(self):
        return self.states[-1]

    def rank(self):
        """The last dump's :func:`~k2p_keras.annotate.draw.filters.match_rank`."""
        last = self.last
        return match_rank(last.significant, last.compared, last.bits, last.q_value)

    def since(self):
        """The first epoch from which the last dump's match (its factor, not weakly) was the best match
        at every dump up to the last; None when the last dump is no match.

        Strict on purpose: a filter whose best match moves between paralogs sharing a motif
        (SP2, KLF8, PATZ1: the GC box) starts again at each move, and so does one that turned
        from CTCF into SP2; the grid shows which, dump by dump.
        """
        last = self.last
        if last.verdict != "match":
            return None
        first = last.epoch
        for state in reversed(self.states):
            if state.verdict != "match" or state.factor != last.factor:
                break
            first = state.epoch
        return first


def annotate_epochs(folder, database=None, *, taxon=None, progress=None, **options):
    """Compare every dump's PWMs with a motif database (Tomtom, via memelite).

    Parameters
    ----------
    folder : CallbackFolder
    database : str, os.PathLike or MotifDatabase, optional
        As for :func:`k2p_keras.annotate.match.tomtom.load_database`; loaded once.
    taxon : str, optional
        With a JASPAR release name.
    progress : callable, optional
        Receives 1 after each dump.
    **options
        As for :func:`k2p_keras.annotate.match.tomtom.annotate_motifs` (``q_threshold``, ...).

    Returns
    -------
    dict
        Epoch -> Annotation.
    """
    database = load_database(database) if taxon is None else load_database(database, taxon=taxon)
    annotations = {}
    for epoch in folder.epochs:
        annotations[epoch] = annotate_motifs(folder.motifs[epoch], database, **options)
        if progress is not None:
            progress(1)
    return annotations


def _number_or_nan(value):
    return float(value) if isinstance(value, (int, float)) else math.nan


def _state(folder, annotations, epoch, motif):
    row = folder.rows[(epoch, motif.name)]
    bits = float(information_content(motif.pwm).sum())
    change = _number_or_nan(row.get("pwm_change"))
    if annotations is not None:
        annotation = annotations[epoch]
        best = annotation.best_match(motif.name)
        return EpochState(epoch, motif.pwm, bits, change, best.target_id if best else "",
                          (best.target_name or "") if best else "", best.q_value if best else math.nan,
                          bool(best and best.significant), annotation.is_informative(motif.name))
    target = str(row.get("best_match_id", ""))
    return EpochState(epoch, motif.pwm, bits, change, target, str(row.get("best_match_name", "")),
                      _number_or_nan(row.get("best_match_q_value")), row.get("annotation") in SIGNIFICANT_VERDICTS,
                      bool(target))


def filter_histories(folder, annotations=None):
    """Each filter's state at every dump, filters ordered as the last dump's model report orders them.

    Parameters
    ----------
    folder : CallbackFolder
    annotations : dict, optional
        Epoch -> Annotation (:func:`annotate_epochs`); without it, the callback's own
        ``best_match_*`` columns of ``summary.tsv``.

    Returns
    -------
    list of FilterHistory
    """
    if annotations is None and not folder.annotated:
        raise K2PError("the callback did not annotate its dumps (no best_match_* columns in summary.tsv): "
                       "annotate them first (annotate_epochs)", path=folder.path)
    histories = []
    for t, name in enumerate(folder.names):
        states = [_state(folder, annotations, epoch, folder.motifs[epoch][t]) for epoch in folder.epochs]
        histories.append(FilterHistory(name=name, states=states))
    return sorted(histories, key=FilterHistory.rank)  # stable: filter order within ties


# ----------------------------------------------------------------------------- HTML

_CSS = {"match": "match", "weak match": "weak", "no match": "nomatch", "not compared": "nomatch"}


def _cell(state):
    """A grid cell: the best match of one dump, coloured by its verdict."""
    verdict = state.verdict
    if verdict == "not compared":
        return '<td class="grey">too flat</td>'
    if not state.target_id:
        return '<td class="grey">no alignment</td>'
    q = f'<br><span class="small">q {number(state.q_value, 2)}</span>'
    if verdict in SIGNIFICANT_VERDICTS:
        return f'<td><span class="badge {_CSS[verdict]}">{escape(state.factor)}</span>{q}</td>'
    return f'<td class="grey">({escape(state.factor)}){q}</td>'


def _grid(histories, epochs):
    head = ["filter", ("bits", "information content at the last dump")] + [f"epoch {e}" for e in epochs] + [
        ("since", "first epoch from which the last dump's match has been the best match at every dump")]
    rows = []
    for history in histories:
        since = history.since()
        bits = history.last.bits
        rows.append([f'<td><a href="#{anchor(history.name)}">{escape(history.name)}</a></td>',
                     f'<td class="num{" grey" if has_few_bits(bits) else ""}">{format_bits(bits)}</td>',
                     *[_cell(s) for s in history.states], f"<td class=num>{'' if since is None else since}</td>"])
    return f'<div class="scroll">{table(rows, head, css_class="grid")}</div>'


def _strip(history, largest_change):
    """One filter's section: a column per dump with its logo, match, bits and change."""
    states = history.states
    logos = []
    for s in states:
        png = logo_png([(None, s.pwm)], column_width=_THUMB_COLUMN, panel_height=_THUMB_HEIGHT, frame=False)
        logos.append(f"<td>{png_image(png, f'{history.name} at epoch {s.epoch}', 'thumb')}</td>")
    rows = [
        '<tr><th>epoch</th>' + "".join(f"<th>{s.epoch}</th>" for s in states) + "</tr>",
        '<tr><th>logo</th>' + "".join(logos) + "</tr>",
        '<tr><th>best match</th>' + "".join(_cell(s) for s in states) + "</tr>",
        '<tr><th>bits</th>' + "".join(f'<td class="num{" grey" if has_few_bits(s.bits) else ""}">'
                                       f"{format_bits(s.bits)}</td>" for s in states) + "</tr>",
        '<tr><th title="mean Jensen-Shannon divergence of each column from the previous dump (0 to 1)">'
        "change</th>" + "".join(f"<td>{'' if math.isnan(s.change) else bar(s.change, largest_change)}<br>"
                                f'<span class="small">{number(s.change, 2)}</span></td>' for s in states) + "</tr>",
    ]
    last, since = history.last, history.since()
    badge = verdict_badge(last.verdict, f"{last.target_id} {last.target_name}".strip(), last.q_value)
    said = "" if since is None else f'<span class="badge bits">{escape(last.factor)} since epoch {since}</span>'
    return (f'<section id="{anchor(history.name)}"><h2>{escape(history.name)}{badge}'
            f'<span class="badge bits">{format_bits(last.bits)} bits</span>{said}</h2>'
            f'<div class="scroll">{table(rows, css_class="strip")}</div></section>')


def format_emergence_report(histories, header=None, title="k2p-keras: motifs over training", jaspar=False):
    """The emergence report as HTML text.

    Parameters
    ----------
    histories : list of FilterHistory
        In the order shown (:func:`filter_histories` orders them as the last dump's report).
    header : dict of str to str, optional
        Shown first, as given (folder, database, ...).
    title : str
    jaspar : bool
        Whether the matches are JASPAR's (the footer then credits it).

    Returns
    -------
    str
    """
    require_matplotlib()
    if not histories:
        raise K2PError("no filters to report")
    epochs = [s.epoch for s in histories[0].states]
    info = dict(header or {})
    info.setdefault("tool", f"k2p-keras {__version__}")
    info["dumps"] = f"{len(epochs)}: epochs {', '.join(str(e) for e in epochs)}"
    header_rows = [[f"<th>{escape(k)}</th>", f"<td>{escape(v)}</td>"] for k, v in info.items()]
    changes = [s.change for h in histories for s in h.states if not math.isnan(s.change)]
    largest = max(changes, default=0.0)
    last = [h.last.verdict for h in histories]
    guide = (
        '<div class="guide">'
        "<p><b>The grid</b>: a row per filter, a column per dump (the epochs the callback wrote); each cell is the "
        "filter's best database match at that dump: green a <i>match</i> (q-value at most the threshold), grey "
        f"dashed a <i>weak match</i> (a PWM under {LOW_INFORMATION_BITS:g} bits, which expects a chance site every "
        f"{2 ** LOW_INFORMATION_BITS:.0f} bp), in brackets the nearest motif when none is significant. "
        "<i>Since</i>: the first epoch from which the last dump's match (not weak) has been the best match at every "
        "dump. It is strict: a best match moving between paralogs that share a motif (SP2, KLF8, PATZ1: the GC box) "
        "starts it again, as a filter turning from one motif into another does; the row shows which. "
        "Filters are in the order of the last dump's report: matches first, by q-value.</p>"
        "<p><b>Each filter</b>: its logo at every dump (letters stacked to their bits, 2 at most), its best match, "
        "its information content, and how far its PWM moved since the previous dump: the Jensen-Shannon "
        "divergence of each column from the same column at the previous dump, averaged over columns (0 unchanged, "
        "1 at most), the bar relative to the largest change in this run.</p></div>")
    body = [table(header_rows), guide,
            f"<p>At the last dump (epoch {epochs[-1]}), {last.count('match')} of {len(histories)} filters match a "
            f"database motif, {last.count('weak match')} more weakly (few bits).</p>",
            _grid(histories, epochs)]
    body += [_strip(h, largest) for h in histories]
    credits = []
    if jaspar:
        credits.append(JASPAR_CREDIT)
    return page(title, "\n".join(body), credits)


def write_emergence_report(path, folder, annotations=None, header=None):
    """Write the emergence report of a callback folder to ``path`` (atomically).

    Parameters
    ----------
    path : str or os.PathLike
    folder : CallbackFolder
    annotations : dict, optional
        Epoch -> Annotation; without it, the callback's own matches (``summary.tsv``).
    header : dict, optional
        Shown first; the folder and the matches' origin are added.
    """
    histories = filter_histories(folder, annotations)
    info = {"folder": os.fspath(folder.path)}
    if annotations is not None:
        some = next(iter(annotations.values()))
        info["matches"] = (f"{some.database} ({some.n_targets} motifs), annotated by this report; match: "
                           f"q-value <= {some.q_threshold:g}")
        jaspar = some.is_jaspar
    else:
        info["matches"] = "the callback's own, at each dump (summary.tsv: best_match_*, annotation)"
        jaspar = any(_JASPAR_ID.fullmatch(s.target_id) for h in histories for s in h.states)
    info.update(header or {})
    write_text(path, format_emergence_report(histories, header=info, jaspar=jaspar))
