"""The HTML report, as a user sees it: self-contained, ordered by match strength, rendered by a real browser."""
import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")
pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402

from conftest import JASPAR  # noqa: E402
from k2p_keras.axes import reverse_complement  # noqa: E402
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.annotate.logos import COLORS  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme, write_meme  # noqa: E402
from k2p_keras.annotate.report import align_pwms, filter_reports_from_motifs  # noqa: E402

BY_ID = {m.name: m for m in read_meme(JASPAR).motifs}


def test_align_pwms_puts_query_column_0_over_target_column_offset():
    query, target = np.eye(4)[[0, 1, 2]], np.eye(4)[[3, 3, 3, 3, 3]]
    q, t = align_pwms(query, target, 2)     # query starts at the target's third column
    assert q.shape == t.shape == (5, 4)
    assert np.array_equal(q[2:5], query) and np.array_equal(t, target)
    q, t = align_pwms(query, target, -1)    # query starts one column before the target
    assert q.shape == (6, 4) and np.array_equal(q[:3], query) and np.array_equal(t[1:6], target)
    assert np.allclose(q[3:], 0.25) and np.allclose(t[0], 0.25)


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


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    ctcf, fos_jun = BY_ID["MA0139.1"].pwm, BY_ID["MA0099.2"].pwm
    motifs = [Motif("flat_exact", np.full((10, 4), 0.25)),
              Motif("ap1_exact", fos_jun, alt_name="ln_b=2.4,SE=0.006", nsites=4000),
              Motif("ap1_heuristic", fos_jun, alt_name="heuristic,windows=3990"),
              Motif("ctcf_rc_exact", reverse_complement(ctcf)[2:14])]
    write_meme(folder / "motifs.meme", motifs)
    result = CliRunner().invoke(cli, ["annotate", str(folder / "motifs.meme"), "--db", str(JASPAR),
                                      "--report", str(folder / "report.html")])
    assert result.exit_code == 0, result.output
    return folder / "report.html"


def test_report_is_self_contained_and_ordered_by_match_strength(report):
    text = report.read_text()
    # No resource from anywhere but the file itself: every image is a data URI, no script, no stylesheet link.
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in text and "<link" not in text and "url(" not in text
    sections = re.findall(r'<section id="f-([^"]+)"', text)
    assert sections == ["ctcf_rc_exact", "ap1_exact", "flat_exact"]  # strongest match first, no match last
    assert "match: MA0139.1 CTCF" in text and "match: MA0099.2 FOS::JUN" in text
    assert "too little information to compare (no match)" in text
    assert "CC BY 4.0" in text and "JASPAR" in text
    assert "2.4 (SE 0.006)" in text and "heuristic PWM" in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_report_renders_in_a_headless_browser(report, tmp_path):
    screenshot = tmp_path / "report.png"
    # No network: any request for a resource outside the file would fail to resolve.
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
                    f"--screenshot={screenshot}", "--window-size=1200,1600", report.as_uri()],
                   check=True, capture_output=True, timeout=120)
    image = matplotlib.image.imread(screenshot)[:, :, :3]
    assert image.shape[:2] == (1600, 1200)
    # The logos were decoded and drawn: the letters' colours are on screen.
    for letter in "ACGT":
        colour = np.array(matplotlib.colors.to_rgb(COLORS[letter]))
        assert np.sum(np.all(np.abs(image - colour) < 0.02, axis=2)) > 50, letter
