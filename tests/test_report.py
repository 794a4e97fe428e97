"""The HTML report, as a user sees it: self-contained, ordered by match strength, rendered by a real browser."""
import re
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")
pytest.importorskip("matplotlib")
import matplotlib.colors  # noqa: E402

from conftest import assert_self_contained, JASPAR, render_in_chromium  # noqa: E402
from k2p_keras.axes import reverse_complement  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.annotate.draw.logos import COLORS  # noqa: E402
from k2p_keras.annotate.draw.filters import (attach_model_figures, filter_reports_from_motifs,  # noqa: E402
    FilterReport)
from k2p_keras.annotate.draw.report import align_pwms, alignment_window, format_report  # noqa: E402
from k2p_keras.annotate.describe.layer import LOW_INFORMATION_BITS  # noqa: E402
from k2p_keras.annotate.match.tomtom import annotate_motifs  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme, write_meme  # noqa: E402
from k2p_keras.transform import information_content  # noqa: E402

BY_ID = {m.name: m for m in read_meme(JASPAR).motifs}
BAR_BLUE = np.array(matplotlib.colors.to_rgb("#4a78b5"))


def test_align_pwms_puts_query_column_0_over_target_column_offset():
    query, target = np.eye(4)[[0, 1, 2]], np.eye(4)[[3, 3, 3, 3, 3]]
    q, t = align_pwms(query, target, 2)     # query starts at the target's third column
    assert q.shape == t.shape == (5, 4)
    assert np.array_equal(q[2:5], query) and np.array_equal(t, target)
    q, t = align_pwms(query, target, -1)    # query starts one column before the target
    assert q.shape == (6, 4) and np.array_equal(q[:3], query) and np.array_equal(t[1:6], target)
    assert np.allclose(q[3:], 0.25) and np.allclose(t[0], 0.25)


def test_a_short_filter_on_a_long_database_motif_is_drawn_on_their_overlap_plus_three_columns():
    # A 15-column filter facing columns 19-33 of a 33-column profile: 16 columns, not 33.
    assert alignment_window(15, 33, 18) == (15, 33)
    # A 30-column filter whose compared span is columns 10-20, facing an 8-column motif at its column 12:
    # the overlap (aligned 11-19) widened to the span, 3 more on each side; the rest of the filter is cut.
    assert alignment_window(30, 8, -11, span=(9, 20)) == (6, 23)
    # Cutting the filter by no more than the margin would hide a column or two for nothing: it stays whole.
    assert alignment_window(15, 20, -4, span=(4, 12)) == (0, 18)


def test_exact_and_heuristic_motifs_of_one_filter_share_an_entry():
    pwm = BY_ID["MA0139.1"].pwm
    motifs = [Motif("conv_0_exact", pwm, alt_name="ln_b=2.5,SE=0.01", nsites=300),
              Motif("conv_1_exact", pwm, alt_name="ln_b=2.5,SE=0.01"),
              Motif("conv_0_heuristic", pwm, alt_name="heuristic,windows=280"),
              Motif("other", pwm)]
    reports = filter_reports_from_motifs(motifs)
    assert [r.name for r in reports] == ["conv_0_exact", "conv_1_exact", "other"]
    assert reports[0].heuristic_name == "conv_0_heuristic" and reports[1].heuristic is None
    assert reports[0].figures == {"ln b": "2.5 (SE 0.01)", "sequences used": "300",
                                  "heuristic: windows counted": "280"}


def _few_bits(pwm, bits):
    """``pwm`` flattened toward uniform until it holds about ``bits`` bits (its consensus kept)."""
    for w in np.linspace(1, 0, 201):
        mixed = w * pwm + (1 - w) * 0.25
        if information_content(mixed).sum() <= bits:
            return mixed
    raise AssertionError("unreachable")


def _section(text, name):
    start = text.index(f'<section id="f-{name}"')
    return text[start:text.index("</section>", start)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    ctcf, fos_jun = BY_ID["MA0139.1"].pwm, BY_ID["MA0099.2"].pwm
    motifs = [Motif("flat_exact", np.full((10, 4), 0.25)),
              Motif("ap1_exact", fos_jun, alt_name="ln_b=2.4,SE=0.006", nsites=4000),
              Motif("ap1_heuristic", fos_jun, alt_name="heuristic,windows=3990"),
              Motif("ctcf_rc_exact", reverse_complement(ctcf)[2:14]),
              # The exact PWM a sharp Gata1, its heuristic blurred to background: they disagree.
              Motif("gata_exact", BY_ID["MA0035.3"].pwm, alt_name="ln_b=2.4,SE=0.006"),
              Motif("gata_heuristic", np.full((11, 4), 0.25), alt_name="heuristic,windows=19990")]
    write_meme(folder / "motifs.meme", motifs)
    result = CliRunner().invoke(cli, ["annotate", str(folder / "motifs.meme"), "--db", str(JASPAR),
                                      "--report", str(folder / "report.html")])
    assert result.exit_code == 0, result.output
    return folder / "report.html"


def test_report_is_self_contained_and_ordered_by_match_strength(report):
    text = report.read_text()
    assert len(assert_self_contained(text)) == 4  # one logo figure per filter
    sections = re.findall(r'<section id="f-([^"]+)"', text)
    assert sections == ["ctcf_rc_exact", "ap1_exact", "gata_exact", "flat_exact"]  # strongest first, no match last
    assert "match: MA0139.1 CTCF" in text and "match: MA0099.2 FOS::JUN" in text
    assert "Not compared: no span of 5 columns holds 0.5 bits" in text
    assert "CC BY 4.0" in text and "JASPAR" in text
    assert "2.4 (SE 0.006)" in text and "heuristic PWM" in text


def test_every_verdict_says_what_it_is_and_shows_the_bits(report):
    text = report.read_text()
    summary = text[text.index("<th>filter</th>"):text.index("<section")]
    # No bare "-" where a match or a q-value would be: the nearest motif, or why there is none.
    assert ">-<" not in summary and "<td></td>" not in summary
    assert "not compared (too flat)" in summary and "n/a" in summary
    assert re.search(r"<h2>ap1_exact<span class=\"badge match\">[^<]*</span><span class=\"badge bits\"[^>]*>9.2 bits",
                     text)


def test_exact_and_heuristic_disagreeing_say_which_one_the_model_follows(report):
    text = report.read_text()
    gata = _section(text, "gata_exact")
    assert "Exact and heuristic disagree." in gata and "follow the exact PWM exactly" in gata
    assert "here 19990 sequences" in gata
    ap1 = _section(text, "ap1_exact")
    assert "disagree" not in ap1
    assert "The exact PWM reproduces the filter's score on every window" in text  # the guide, once


def test_the_weak_rule_reads_the_bits_as_shown_everywhere():
    """One rounding rule (format_bits, has_few_bits): 7.98 bits shows as 8.0 and is a match; 7.94
    shows as 7.9 and is a weak match, in the terminal's table and in the report alike."""
    from scipy.optimize import brentq

    ctcf = BY_ID["MA0139.1"].pwm

    def with_bits(bits):
        w = brentq(lambda w: information_content(w * ctcf + (1 - w) * 0.25).sum() - bits, 0.0, 1.0, xtol=1e-12)
        return w * ctcf + (1 - w) * 0.25

    motifs = [Motif("almost", with_bits(7.98)), Motif("under", with_bits(7.94))]
    annotation = annotate_motifs(motifs, JASPAR)
    assert (annotation.verdict("almost"), annotation.verdict("under")) == ("match", "weak match")
    table = annotation.format_summary()
    assert re.search(r"^almost\s+8\.0\s+MA0139\.\d CTCF\s+\S+\s+match$", table, flags=re.M), table
    assert re.search(r"^under\s+7\.9\s+MA0139\.\d CTCF\s+\S+\s+weak match$", table, flags=re.M), table
    text = format_report(filter_reports_from_motifs(motifs), annotation)
    almost, under = _section(text, "almost"), _section(text, "under")
    assert ">8.0 bits</span>" in almost and "badge weak" not in almost and "bits grey" not in almost
    assert ">7.9 bits</span>" in under and "badge weak" in under and "bits grey" in under


def test_a_match_of_a_filter_with_few_bits_is_greyed(tmp_path):
    weak = _few_bits(BY_ID["MA0139.1"].pwm, LOW_INFORMATION_BITS - 1)
    motifs = [Motif("weak", weak), Motif("strong", BY_ID["MA0139.1"].pwm)]
    annotation = annotate_motifs(motifs, JASPAR)
    # Tomtom calls both significant; the verdict weighs the bits, in every output alike.
    assert annotation.verdict("weak") == "weak match" and annotation.verdict("strong") == "match"
    assert annotation.summary_columns("weak")["annotation"] == "weak match"
    assert re.search(r"^weak\s+7\.0\s+MA0139\.\d CTCF\s+\S+\s+weak match$", annotation.format_summary(), flags=re.M)
    text = format_report(filter_reports_from_motifs(motifs), annotation)
    assert re.findall(r'<section id="f-([^"]+)"', text) == ["strong", "weak"]
    weak_section = _section(text, "weak")
    assert 'class="badge weak"' in weak_section and "weak match (few bits)" in weak_section
    assert 'class="badge match"' not in weak_section
    assert "1 of them with fewer than 8 bits: greyed" in text


@pytest.mark.parametrize("fixture", ["report"])
def test_report_renders_in_a_headless_browser(fixture, request, tmp_path):
    image = render_in_chromium(request.getfixturevalue(fixture), tmp_path / "report.png")
    # The logos were decoded and drawn: the letters' colours are on screen.
    for letter in "ACGT":
        colour = np.array(matplotlib.colors.to_rgb(COLORS[letter]))
        assert np.sum(np.all(np.abs(image - colour) < 0.02, axis=2)) > 50, letter


# ----------------------------------------------------------------------------- influence, clusters, diagnostics

@pytest.fixture(scope="module")
def model_figures_report(tmp_path_factory):
    """Four filters with hand-made influence, clusters and diagnostics, as an extraction would give them."""
    folder = tmp_path_factory.mktemp("figures")
    ctcf = BY_ID["MA0139.1"].pwm
    motifs = [Motif("conv_0", ctcf[:15]), Motif("conv_1", ctcf[3:18]), Motif("conv_2", BY_ID["MA0099.2"].pwm),
              Motif("conv_3", np.full((12, 4), 0.25))]
    annotation = annotate_motifs(motifs, JASPAR)
    influence = SimpleNamespace(msq=np.array([[0.2, 0.2], [0.8, 0.6], [0.4, 0.4], [0.05, 0.03]]),
                                delta_loss=np.array([0.01, 0.05, 0.02, 0.0]), null="pooled mean")
    clusters = SimpleNamespace(labels=np.array([0, 0, 1, 2]), archetypes={0: 1, 1: 2, 2: 3})
    reports = attach_model_figures(filter_reports_from_motifs(motifs), influence, clusters)
    rng = np.random.default_rng(0)
    reports[2].auroc, reports[2].class_means = 0.91, {"0": 0.4, "1": 2.2}
    reports[2].activation_histogram = (np.linspace(0, 5, 21), {"0": rng.poisson(20, 20), "1": rng.poisson(9, 20)})
    reports[2].position_histogram = rng.poisson(30, (94, 2))
    page = folder / "report.html"
    page.write_text(format_report(reports, annotation))
    return page, reports


def test_influence_and_clusters_come_from_the_extraction_objects(model_figures_report):
    _, reports = model_figures_report
    assert [r.influence for r in reports] == pytest.approx([0.2, 0.7, 0.4, 0.04])  # mean over two outputs
    assert [r.cluster for r in reports] == [0, 0, 1, 2] and [r.is_archetype for r in reports] == [0, 1, 1, 1]
    assert reports[1].figures["influence null (the filter replaced by)"] == "pooled mean"
    with pytest.raises(Exception, match="one value per filter"):
        attach_model_figures(reports[:2], SimpleNamespace(msq=np.ones(3)))


def test_filters_are_ordered_by_influence_and_grouped_by_cluster(model_figures_report):
    page, _ = model_figures_report
    text = page.read_text()
    assert_self_contained(text)
    # The cluster of the most influential filter first, its archetype before the member folded under it.
    assert re.findall(r'<section id="f-([^"]+)"', text) == ["conv_1", "conv_0", "conv_2", "conv_3"]
    cluster = text[text.index('<section class="cluster"'):text.index('<section id="f-conv_2"')]
    assert "<details><summary>1 other member: conv_0</summary>" in cluster
    assert "best database match of the cluster: MA0139.1 CTCF" in cluster
    summary = text[text.index("<th>filter</th>"):text.index("<section")]
    assert re.findall(r'href="#f-([^"]+)"', summary) == ["conv_1", "conv_0", "conv_2", "conv_3"]
    assert "AUROC alone" in summary and "0.91" in summary
    assert text.count('class="plot"') == 1  # conv_2's diagnostics


def _bars(image):
    """Lengths (pixels) of the influence bars in the summary table, top to bottom."""
    blue = np.all(np.abs(image - BAR_BLUE) < 0.03, axis=2)
    rows = np.flatnonzero(blue.sum(axis=1) > 0)
    bars, start = [], None
    for k, row in enumerate(rows):
        if start is None:
            start = row
        if k + 1 == len(rows) or rows[k + 1] != row + 1:
            bars.append(int(blue[(start + row) // 2].sum()))
            start = None
    return bars


def test_bars_and_folded_members_as_the_browser_draws_them(model_figures_report, tmp_path):
    page, _ = model_figures_report
    image = render_in_chromium(page, tmp_path / "folded.png", size=(1200, 5000))
    # In the summary table (conv_1, its cluster's conv_0, conv_2, conv_3), each as long as its filter's influence.
    bars = _bars(image[:1400])
    assert len(bars) >= 4
    assert np.allclose(np.array(bars[1:4]) / bars[0], [0.2 / 0.7, 0.4 / 0.7, 0.04 / 0.7], atol=0.03)

    def page_length(img):
        return int(np.flatnonzero((img < 0.98).any(axis=(1, 2))).max())

    opened = page.with_name("opened.html")
    opened.write_text(page.read_text().replace("<details>", "<details open>"))
    unfolded = render_in_chromium(opened, tmp_path / "opened.png", size=(1200, 5000))
    # The member's section (logos and tables) shows only once its cluster is opened.
    assert page_length(unfolded) > page_length(image) + 300


def test_without_influence_or_clusters_the_report_has_neither_bars_nor_groups(report):
    text = report.read_text()
    # Past the header, which names files (a folder's name may hold "cluster").
    after_header = text.split("</style>")[1].split("</table>", 1)[1]
    assert "barbox" not in after_header and "<details>" not in text and "cluster" not in after_header


def test_a_report_needs_the_figures_to_fit_the_filters():
    reports = [FilterReport("a", np.full((6, 4), 0.25))]
    with pytest.raises(Exception, match="one label per filter"):
        attach_model_figures(reports, clusters=SimpleNamespace(labels=np.zeros(2), archetypes={}))
