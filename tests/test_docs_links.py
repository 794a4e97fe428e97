"""Every path the README, CONTRIBUTING and docs/ name resolves in the checkout, and so does every
docs/ page a docstring sends the reader to: a page moved or a module renamed without its
references fails here, not in a reader's hands. And no page or module names the issue that asked
for it."""
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md"] + sorted((REPO / "docs").rglob("*.md"))
# A path in the repository as the pages write it (`docs/x.md`, `k2p_keras/scan/lookup.py`, ...):
# relative to the checkout's root, not preceded by another path character; a set of names
# or a pattern (`data/example_seqs.{h5,fa}`, `data/example_seqs.*`) is left out.
TOP = "docs|k2p_keras|benchmarks|tests|examples|example_models|data"
REPO_PATH = re.compile(rf"(?<![\w./$-])((?:{TOP})/[\w./-]*\w)(?![\w./-]*[{{*])")
# A Markdown link's target, relative to the page: [text](target) or ![image](target).
LINK = re.compile(r"\]\(([^)#\s]+)")
# Placeholders the pages use for the reader's own files (tests/wild_models/FILE).
PLACEHOLDER = re.compile(r"/[A-Z_]+$")


def named_paths(page):
    text = page.read_text()
    for match in REPO_PATH.finditer(text):
        path = match.group(1)
        if not PLACEHOLDER.search(path):
            yield path, REPO / path
    for match in LINK.finditer(text):
        target = match.group(1)
        if not re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            yield target, page.parent / target


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_path_a_page_names_exists(page):
    missing = sorted({name for name, path in named_paths(page) if not path.exists()})
    assert not missing, f"{page.relative_to(REPO)} names paths that do not exist: {missing}"


def test_every_docs_page_a_docstring_names_exists():
    missing = set()
    for source in sorted((REPO / "k2p_keras").rglob("*.py")) + sorted((REPO / "benchmarks").rglob("*.py")):
        for page in re.findall(r"docs/[\w./-]*\.md", source.read_text()):
            if not (REPO / page).exists():
                missing.add(f"{source.relative_to(REPO)}: {page}")
    assert not missing, sorted(missing)


def test_the_readme_lists_every_reference_page_of_docs():
    """A newcomer finds the docs from the README: each page of docs/ (not the notes) is listed."""
    readme = (REPO / "README.md").read_text()
    unlisted = [page.name for page in sorted((REPO / "docs").glob("*.md")) if f"docs/{page.name}" not in readme]
    assert not unlisted, unlisted


def test_the_checker_sees_a_broken_link(tmp_path):
    """The checks above can fail: a page naming a missing file is caught, both ways of naming it."""
    page = tmp_path / "page.md"
    page.write_text("See `docs/no-such-page.md` and [this](no-such-image.png); `tests/wild_models/FILE`.\n")
    missing = sorted(name for name, path in named_paths(page) if not path.exists())
    assert missing == ["docs/no-such-page.md", "no-such-image.png"]


def test_no_issue_numbers_in_the_docs_or_the_package():
    """Pages and code say what things do; which issue asked for them is the CHANGELOG's and git's."""
    sources = sorted((REPO / "docs").rglob("*.md")) + sorted((REPO / "k2p_keras").rglob("*.py"))
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in sources for number, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"\bissues? #?[0-9]", line, flags=re.I)]
    assert not found, found
