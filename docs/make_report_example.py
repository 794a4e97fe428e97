"""Rebuild docs/report_example.png: the bundled example annotated, its report rendered by headless chromium.

    python docs/make_report_example.py [--keep DIR]

Runs the model command on example_models/deepbind.h5 with --method both --report and the
analyses that add to it (--influence, --cluster, --diagnostics; labels: the example's y),
against the default database (the newest JASPAR CORE vertebrates in pyjaspar), and screenshots
the report with Debian's chromium, network disabled, as a user would open it.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]


def take_screenshot(page, png, size):
    """Screenshot an HTML file as Debian's headless chromium shows it, every host unreachable."""
    with tempfile.TemporaryDirectory() as profile:  # a fresh browser profile, removed afterwards
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
                        f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", pathlib.Path(page).as_uri()],
                       check=True, capture_output=True, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=pathlib.Path, default=None, help="Keep the MEME, TSV and HTML files here.")
    args = parser.parse_args()
    folder = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="k2p_report_"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    tool = [sys.executable, "-m", "k2p_keras"]
    subprocess.run([*tool, "example_models/deepbind.h5", "data/example_seqs.h5", "--method", "both", "-q",
                    "--influence", "--cluster", "--diagnostics",
                    "-o", str(folder / "example.meme"), "--matches", str(folder / "matches.tsv"),
                    "--report", str(folder / "report.html")], cwd=REPO, env=env, check=True)
    screenshot = REPO / "docs" / "report_example.png"
    take_screenshot(folder / "report.html", screenshot, (1100, 1900))
    print(f"wrote {screenshot} (report and tables in {folder})", file=sys.stderr)


if __name__ == "__main__":
    main()
