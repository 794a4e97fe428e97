"""What the HTML reports share: the style sheet, escaping, numbers, inlined images, bars, the page.

Both reports (:mod:`.report`, one model's filters; :mod:`.emergence`, a training run) are
one file that needs nothing but itself: images are PNGs inlined as ``data:`` URIs, the style
sheet is inline, there is no script, no link and no external resource, so a report opens
from disk or from a mail attachment without a network. Text from files (motif names,
database names) goes through :func:`escape`.
"""
import base64
import html
import math
import re

__all__ = ["STYLE", "anchor", "bar", "escape", "number", "page", "png_image", "table"]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 72em;
       color: #222; padding: 0 1em; line-height: 1.35; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin: 0 0 0.4em 0; } h3 { font-size: 0.95em; margin: 0.8em 0 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
th[title] { text-decoration: underline dotted #999; cursor: help; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
/* "monospace, monospace": browsers shrink a lone generic monospace font to 13px. */
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace, monospace; font-size: 0.92em; }
section { border: 1px solid #ccc; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
section.cluster { border: 2px solid #8aa3c8; background: #f8faff; }
section.cluster section { background: #fff; }
details > summary { cursor: pointer; color: #1d4d8f; margin: 0.5em 0; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.badge { font-size: 0.8em; padding: 0.15em 0.5em; border-radius: 4px; margin-left: 0.5em; font-weight: normal;
         white-space: nowrap; }
.match { background: #d8f0dc; color: #14532d; }
.weak { background: #eee; color: #777; border: 1px dashed #aaa; }
.nomatch { background: #eee; color: #555; }
.bits { background: #fff; color: #444; border: 1px solid #bbb; }
.grey, tr.grey td { color: #888; }
.note { background: #fff8e1; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; margin: 0.6em 0;
        font-size: 0.9em; }
.note.whole { background: #eef7ef; border-left-color: #3c8d4f; }
.guide { background: #f6f6f6; padding: 0.6em 1em; border-radius: 6px; font-size: 0.9em; }
.guide p { margin: 0.35em 0; }
.barbox { display: inline-block; width: 8em; height: 0.8em; background: #eee; vertical-align: middle;
          border-radius: 2px; }
.barbox span { display: block; height: 100%; background: #4a78b5; border-radius: 2px; }
img.logo { max-width: 100%; }
img.thumb { display: block; margin: 0 auto; }
table.grid td, table.strip td { text-align: center; }
table.strip th { text-align: right; } table.strip td { padding: 0.2em 0.3em; } table.strip .barbox { width: 4.5em; }
.small { font-size: 0.85em; }
.scroll { overflow-x: auto; }
footer { font-size: 0.8em; color: #555; margin-top: 2em; border-top: 1px solid #ccc; padding-top: 0.5em; }
"""


def escape(value):
    """Text for HTML, attributes included."""
    return html.escape(str(value), quote=True)


def number(value, digits=3):
    """A figure with ``digits`` significant digits; empty for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}g}"


def anchor(name, prefix="f-"):
    """An ``id`` for a motif name (names may hold characters an id should not)."""
    return prefix + re.sub(r"[^A-Za-z0-9_-]", "_", str(name))


def png_image(png, alt, css_class="logo"):
    """An ``<img>`` holding the PNG bytes itself (a ``data:`` URI)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{css_class}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def bar(value, maximum):
    """A horizontal bar, ``value / maximum`` of its box filled (no script: a styled span)."""
    share = 0.0 if not maximum or value is None or not math.isfinite(value) else max(0.0, min(1.0, value / maximum))
    return f'<span class="barbox" title="{number(value)}"><span style="width:{100 * share:.1f}%"></span></span>'


def table(rows, head=None, css_class=None):
    """A ``<table>`` from rows of already formatted cells; ``head`` a row of ``(label, tooltip)`` or labels."""
    parts = [f'<table class="{css_class}">' if css_class else "<table>"]
    if head:
        cells = []
        for cell in head:
            label, tip = cell if isinstance(cell, tuple) else (cell, None)
            cells.append(f'<th title="{escape(tip)}">{escape(label)}</th>' if tip else f"<th>{escape(label)}</th>")
        parts.append(f"<tr>{''.join(cells)}</tr>")
    parts += [f"<tr>{''.join(row)}</tr>" if not isinstance(row, str) else row for row in rows]
    parts.append("</table>")
    return "".join(parts)


def page(title, body, credits=()):
    """The whole document: ``title``, ``body`` (HTML) and a footer of credits (text)."""
    footer = "<br>".join(escape(c) for c in credits)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
{body}
<footer>{footer}</footer>
</body></html>
"""
