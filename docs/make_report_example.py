"""Rebuild docs/report_example.png: the bundled example annotated, its report rendered by headless chromium.

    python docs/make_report_example.py [--keep DIR]

Runs the model command on example_models/deepbind.h5 (--method both), `k2p-keras annotate
--report` on its output (default database: the newest JASPAR CORE vertebrates in pyjaspar),
and screenshots the report with Debian's chromium, network disabled, as a user would open it.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=pathlib.Path, default=None, help="Keep the MEME, TSV and HTML files here.")
    args = parser.parse_args()
    folder = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="k2p_report_"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    tool = [sys.executable, "-m", "k2p_keras"]
    subprocess.run([*tool, "example_models/deepbind.h5", "data/example_seqs.h5", "--method", "both", "-q",
                    "-o", str(folder / "example.meme")], cwd=REPO, env=env, check=True)
    subprocess.run([*tool, "annotate", str(folder / "example.meme"), "-o", str(folder / "matches.tsv"),
                    "--report", str(folder / "report.html")], cwd=REPO, env=env, check=True)
    screenshot = REPO / "docs" / "report_example.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--host-resolver-rules=MAP * ~NOTFOUND", f"--screenshot={screenshot}",
                    "--window-size=1100,1500", (folder / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    print(f"wrote {screenshot} (report and tables in {folder})", file=sys.stderr)


if __name__ == "__main__":
    main()
