"""Information-content sequence logos of PWMs, drawn with letter glyphs (matplotlib).

Each position is a stack of the letters A C G T, each as tall as ``P[i, a] * IC_i`` bits,
where ``IC_i = 2 - H(P[i])`` is the row's information content against a uniform
background; the most probable letter sits on top. Colours are the usual ones: A green,
C blue, G orange, T red.

matplotlib is optional (``pip install matplotlib``): it is imported inside the functions,
and a clear :class:`~k2p_keras.errors.K2PError` says so when it is missing. Figures are
drawn on matplotlib's ``Figure`` object directly, never through ``pyplot``, so nothing
global (backend, open figures) is touched.
"""
import functools
import io
import os
import re

import numpy as np

from ...errors import K2PError
from ...io.text import atomic_path
from ...transform import information_content
from ...validate import check_pwm

LETTERS = "ACGT"
COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
# Fraction of a position's width a letter takes; the rest separates neighbouring stacks.
_LETTER_WIDTH = 0.9


def require_matplotlib():
    """Import matplotlib, or raise a K2PError that says how to get it."""
    try:
        import matplotlib  # noqa: F401  (matplotlib loads only when logos are drawn)
    except ImportError:
        raise K2PError("drawing logos needs matplotlib: pip install matplotlib "
                       "(or pip install 'k2p-keras[plots]')") from None


@functools.lru_cache(maxsize=1)
def _glyphs():
    """Each letter's outline as a path in its own units, and its bounding box (made once: a report draws hundreds)."""
    from matplotlib.font_manager import FontProperties  # matplotlib loads only when logos are drawn
    from matplotlib.textpath import TextPath  # (likewise)

    font = FontProperties(family="DejaVu Sans", weight="bold")
    glyphs = {}
    for letter in LETTERS:
        path = TextPath((0, 0), letter, size=1, prop=font)
        glyphs[letter] = (path, path.get_extents())
    return glyphs


def draw_logo(ax, pwm, title=None, columns=None, frame=True):
    """Draw an information-content logo of one PWM into matplotlib axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    pwm : array_like, shape (L, 4)
        Probabilities, columns A C G T.
    title : str, optional
    columns : sequence of (int or None), optional
        The number shown under each column (e.g. the column of the filter or of the
        database motif that a cropped, aligned logo shows); None leaves a column unnumbered
        (padding). Default: 1 to L.
    frame : bool
        Axes, ticks and the "bits" label; False draws the letters alone (a thumbnail).
    """
    from matplotlib.collections import PatchCollection  # matplotlib loads only when logos are drawn
    from matplotlib.patches import PathPatch  # (likewise)
    from matplotlib.transforms import Affine2D  # (likewise)

    pwm = check_pwm(pwm)
    heights = pwm * information_content(pwm)[:, None]
    glyphs = _glyphs()
    letters = []
    for i, row in enumerate(heights):
        bottom = 0.0
        # Smallest at the bottom, so the consensus letter tops the stack.
        for a in np.argsort(row, kind="stable"):
            height = row[a]
            if height <= 0:
                continue
            letter = LETTERS[a]
            path, box = glyphs[letter]
            place = (Affine2D().translate(-box.x0, -box.y0)
                     .scale(_LETTER_WIDTH / box.width, height / box.height)
                     .translate(i + 1 - _LETTER_WIDTH / 2, bottom))
            letters.append(PathPatch(place.transform_path(path), facecolor=COLORS[letter], edgecolor="none"))
            bottom += height
    # One collection, its limits not computed: the axes' limits are fixed below, and adding
    # letters one patch at a time spent most of a report's time measuring their outlines.
    ax.add_collection(PatchCollection(letters, match_original=True), autolim=False)
    ax.set_xlim(0.5, len(pwm) + 0.5)
    ax.set_ylim(0, 2)
    if not frame:
        ax.set_axis_off()
    else:
        _number_columns(ax, range(1, len(pwm) + 1) if columns is None else columns)
        ax.set_ylabel("bits", fontsize=8, labelpad=1)
        ax.tick_params(axis="y", labelsize=7, length=2, pad=1)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, pad=3)


def _number_columns(ax, columns):
    """Ticks under the numbered columns: every one up to 25, else the first and every fifth."""
    numbered = [(i + 1, n) for i, n in enumerate(columns) if n is not None]
    if len(numbered) > 25:
        numbered = [(i, n) for k, (i, n) in enumerate(numbered) if k == 0 or n % 5 == 0]
    ax.set_xticks([i for i, _ in numbered], [str(n) for _, n in numbered], fontsize=7)
    ax.tick_params(axis="x", length=2, pad=1)


# Inches around each stacked logo (fixed: a layout engine cost a second per figure).
_LEFT, _RIGHT, _TITLE, _TICKS = 0.42, 0.08, 0.24, 0.2
# Inches per character of a 9-point title, to keep long titles inside the figure.
_TITLE_CHAR = 0.066


def logo_png(panels, dpi=100, column_width=0.3, panel_height=1.2, frame=True):
    """PNG bytes of logos stacked in one column, all of one width, as the HTML report shows them.

    Parameters
    ----------
    panels : list of tuple
        ``(title, pwm)`` or ``(title, pwm, columns)`` (see :func:`draw_logo`); the PWMs of
        one figure should have the same length, so that their columns line up.
    dpi : int
    column_width, panel_height : float
        Inches per logo column and per panel: figures of different widths keep one scale.
    frame : bool
        False: letters only, no axes, ticks or titles (a thumbnail).

    Returns
    -------
    bytes
    """
    require_matplotlib()
    from matplotlib.figure import Figure  # matplotlib loads only when logos are drawn

    if not panels:
        raise K2PError("no PWM to draw")
    width = max(np.shape(panel[1])[0] for panel in panels)
    left, right, ticks = (_LEFT, _RIGHT, _TICKS) if frame else (0.02, 0.02, 0.02)
    titled = frame and any(panel[0] for panel in panels)
    top = _TITLE if titled else 0.04
    longest = max((len(panel[0] or "") for panel in panels), default=0) if titled else 0
    fig_width = max(column_width * width + left + right, longest * _TITLE_CHAR + 0.2)
    fig_height = panel_height * len(panels)
    fig = Figure(figsize=(fig_width, fig_height))
    plot_width = column_width * width
    for k, panel in enumerate(panels):
        title, pwm, columns = (tuple(panel) + (None,))[:3]
        bottom = fig_height - (k + 1) * panel_height + ticks
        # Centred when a long title widened the figure; one scale per column either way.
        x0 = left + (fig_width - left - right - plot_width) / 2
        ax = fig.add_axes([x0 / fig_width, bottom / fig_height, plot_width / fig_width,
                           (panel_height - ticks - top) / fig_height])
        draw_logo(ax, pwm, title if frame else None, columns=columns, frame=frame)
    return figure_png(fig, dpi)


def figure_png(fig, dpi=100):
    """A matplotlib figure as PNG bytes (for a ``data:`` URI)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def logo_figure(panels):
    """A figure with one logo per panel, side by side.

    Parameters
    ----------
    panels : list of (str, array_like)
        ``(title, pwm)`` pairs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_matplotlib()
    from matplotlib.figure import Figure  # matplotlib loads only when logos are drawn

    if not panels:
        raise K2PError("no PWM to draw")
    width = max(np.shape(pwm)[0] for _, pwm in panels)
    fig = Figure(figsize=(len(panels) * max(3.0, 0.35 * width + 1.0), 2.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, (title, pwm) in zip(axes, panels):
        draw_logo(ax, pwm, title)
    return fig


def write_logo(path, panels, dpi=100):
    """Write a logo figure (see :func:`logo_figure`) as a PNG, atomically.

    Parameters
    ----------
    path : str or os.PathLike
    panels : list of (str, array_like)
        ``(title, pwm)`` pairs drawn side by side; or one ``(L, 4)`` array.
    dpi : int
    """
    if isinstance(panels, np.ndarray):
        panels = [("", panels)]
    fig = logo_figure(panels)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    except OSError as err:
        raise K2PError(f"cannot write the logo ({err.strerror})", path=os.fspath(path)) from None


def _file_name(name, index, n_filters):
    """A motif name as a safe file name (layer names may hold characters a path cannot), its
    filter index zero-padded to the widest (``motif_conv_02.png``) so that files sort in filter order."""
    suffix = f"_{index}"
    if name.endswith(suffix):
        name = f"{name[:-len(suffix)]}_{index:0{len(str(n_filters - 1))}d}"
    return re.sub(r"[^A-Za-z0-9_.+=-]", "_", name) + ".png"


def write_filter_logos(folder, sets, dpi=100):
    """One PNG per filter, ``<layer>_<index>.png`` (the index zero-padded: ``_02`` of 16), the sets'
    PWMs of that filter side by side.

    Parameters
    ----------
    folder : str or os.PathLike
        Created when missing.
    sets : list of MotifSet
        PWMs of the same layer (exact, heuristic, ...), each drawn as one panel.
    dpi : int

    Returns
    -------
    list of str
        The files written, in filter order.
    """
    require_matplotlib()
    if not sets:
        raise K2PError("no PWMs to draw")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise K2PError(f"cannot create the logo folder ({err.strerror})", path=os.fspath(folder)) from None
    written = []
    for t in range(sets[0].n_filters):
        panels = [(f"{s.motif_name(t)} {s.logo_label(t)}", s.pwms[t]) for s in sets]
        path = os.path.join(folder, _file_name(sets[0].motif_name(t), t, sets[0].n_filters))
        write_logo(path, panels, dpi=dpi)
        written.append(path)
    return written
