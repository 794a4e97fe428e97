import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("K2P_SHARED", REPO.parent / "shared"))
GOLDEN = SHARED / "data" / "k2p-1.0"
# JASPAR (CC BY 4.0) ships in the repo: tests that use it never skip.
JASPAR = REPO / "data" / "jaspar" / "JASPAR_CORE_2016.meme"
# CI's services set CI=true (.ci/run sets it too): there the README's command runs every test.
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_configure(config):
    """The README's command leaves out the tests marked slow, except in CI or when -m is given.

    Set on the options, which pytest's own -m selection reads: every pytest-xdist worker runs this
    hook in the same environment and selects the same tests.
    """
    if not config.option.markexpr and not IN_CI:
        config.option.markexpr = "not slow"
        config._k2p_left_out_slow = True


def pytest_terminal_summary(terminalreporter, config):
    if getattr(config, "_k2p_left_out_slow", False):
        terminalreporter.write_line("tests marked slow were left out: CI=true (as .ci/run sets) runs them too, "
                                    "-m slow alone")


@pytest.fixture
def golden():
    """The k2p-1.0 toy inputs and outputs; tests that need them skip when ../shared is absent."""
    if not GOLDEN.is_dir():
        pytest.skip(f"needs k2p-1.0's own files (the original toolbox's toy inputs and outputs, not "
                    f"shipped in this repository), not found at {GOLDEN}; set K2P_SHARED to the shared folder")
    return GOLDEN


def assert_self_contained(html):
    """An HTML report needs nothing but itself: every image a data URI, links only within the page."""
    import re

    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), sources[:3]
    links = re.findall(r'\bhref="([^"]*)"', html)
    assert all(link.startswith("#") for link in links), [link for link in links if not link.startswith("#")]
    for forbidden in ("<script", "<link", "url(", "@import", "<iframe", "<object", "<embed"):
        assert forbidden not in html, forbidden
    return sources


def render_in_chromium(page, screenshot, size=(1200, 1600)):
    """Screenshot an HTML file as Debian's headless chromium shows it, with every host unreachable.

    Returns the image as an (height, width, 3) float array; skips when chromium is missing.
    """
    import shutil
    import subprocess
    import tempfile

    import matplotlib.image

    if shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        # No network: any request for a resource outside the file would fail to resolve.
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                        f"--screenshot={screenshot}", f"--window-size={size[0]},{size[1]}",
                        pathlib.Path(page).as_uri()],
                       check=True, capture_output=True, timeout=180)
    image = matplotlib.image.imread(screenshot)[:, :, :3]
    assert image.shape[:2] == (size[1], size[0])
    return image
