"""Annotation: JASPAR motifs name themselves, shifts and reverse complements come back as Tomtom reports them."""
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")

from conftest import JASPAR, REPO  # noqa: E402
from k2p_keras.annotate.match.tomtom import (MATCH_COLUMNS, annotate_motifs, informative_span, load_database,
                                      tomtom_compiled, warm_up_tomtom)
from k2p_keras.axes import reverse_complement
from k2p_keras.axes import pwm_to_memelite
from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.errors import K2PError  # noqa: E402
from k2p_keras.io.meme import Motif, read_meme, write_meme  # noqa: E402

DB = load_database(JASPAR)
BY_ID = {m.name: m for m in DB.motifs}
# Well-known factors with distinct motifs, of several widths.
KNOWN = ["MA0099.2", "MA0139.1", "MA0079.3", "MA0058.3", "MA0112.3", "MA0080.4", "MA0106.3", "MA0007.3"]


def test_converter_puts_letters_on_the_first_axis():
    pwm = BY_ID["MA0139.1"].pwm
    converted = pwm_to_memelite(pwm)
    assert converted.shape == (4, pwm.shape[0]) and converted.flags.c_contiguous
    assert np.array_equal(converted[:, 3], pwm[3])
    with pytest.raises(K2PError, match=r"\(L, 4\)"):
        pwm_to_memelite(pwm.T)


def test_jaspar_motifs_name_themselves_in_the_file():
    annotation = annotate_motifs([BY_ID[i] for i in KNOWN], JASPAR)
    assert annotation.n_targets == 1082
    for motif_id in KNOWN:
        best = annotation.best_match(motif_id)
        assert best.target_id == motif_id and annotation.verdict(motif_id) == "match"
        # Itself, whole, on its own strand; offsets count from the query's first column even
        # when low-information flanks were left out of the comparison.
        assert (best.offset, best.orientation) == (0, "+")
        start, stop = annotation.spans[motif_id]
        assert best.overlap == stop - start
        assert best.target_name == BY_ID[motif_id].alt_name
        assert best.e_value == pytest.approx(best.p_value * 1082)


def test_jaspar_motifs_name_themselves_in_pyjaspar_release():
    database = load_database("jaspar2016", taxon="all")
    assert database.label == "JASPAR2016 CORE all taxa" and len(database) == 1082
    annotation = annotate_motifs([BY_ID[i] for i in KNOWN[:4]], database)
    for motif_id in KNOWN[:4]:
        assert annotation.best_match(motif_id).target_id == motif_id
        assert annotation.best_match(motif_id).target_name == BY_ID[motif_id].alt_name


def test_shift_and_reverse_complement_come_back_as_tomtom_reports_them():
    ctcf = BY_ID["MA0139.1"].pwm  # 19 columns, informative throughout its core
    queries = [
        Motif("shifted", ctcf[3:13]),
        Motif("reverse", reverse_complement(ctcf)[2:12]),
        Motif("padded", np.vstack([np.full((2, 4), 0.25), ctcf])),
    ]
    annotation = annotate_motifs(queries, DB)
    shifted, reverse, padded = (annotation.best_match(q.name) for q in queries)
    assert (shifted.target_id, shifted.offset, shifted.orientation, shifted.overlap) == ("MA0139.1", 3, "+", 10)
    assert (reverse.target_id, reverse.offset, reverse.orientation) == ("MA0139.1", 2, "-")
    assert np.allclose(reverse.target_pwm, reverse_complement(ctcf))
    # Uniform rows carry no information: trimmed, yet the offset counts them.
    assert annotation.spans["padded"][0] >= 2
    assert (padded.target_id, padded.offset, padded.orientation) == ("MA0139.1", -2, "+")


def test_q_values_are_benjamini_hochberg_over_the_whole_database():
    from scipy.stats import false_discovery_control

    from k2p_keras.annotate.match.tomtom import benjamini_hochberg

    p = np.random.default_rng(0).uniform(0, 1, (3, 200)) ** 3
    assert np.allclose(benjamini_hochberg(p), false_discovery_control(p, axis=1, method="bh"))


def test_uninformative_motif_is_no_match_not_an_error():
    flat = Motif("flat", np.full((10, 4), 0.25))
    annotation = annotate_motifs([flat, BY_ID["MA0139.1"]], DB)
    assert annotation.spans["flat"] is None and annotation.best_match("flat") is None
    assert annotation.verdict("flat") == "not compared" and annotation.verdict("MA0139.1") == "match"
    assert "uninformative" in annotation.format_summary()


@pytest.mark.parametrize("kwargs, message", [
    ({"motifs": []}, "no motifs to annotate"),
    ({"min_overlap": 20}, "shorter than the minimum overlap of 20"),
    ({"database": "JASPAR1999"}, "unknown JASPAR release 'JASPAR1999'"),
    ({"database": "no_such_db"}, "neither an existing MEME file nor a JASPAR release name"),
    ({"database": "JASPAR2016", "taxon": "martians"}, "no CORE motifs for the taxon 'martians'"),
])
def test_bad_input_is_one_clear_error(kwargs, message):
    arguments = {"motifs": [BY_ID["MA0139.1"], BY_ID["MA0007.3"]], "database": DB, **kwargs}
    with pytest.raises(K2PError, match=message):
        annotate_motifs(**arguments)


def test_informative_span():
    pwm = np.vstack([np.full((2, 4), 0.25), np.eye(4), np.full((3, 4), 0.25)])
    assert informative_span(pwm, 0.5) == (2, 6)
    assert informative_span(pwm, 0) == (0, 9)
    assert informative_span(np.full((4, 4), 0.25), 0.5) is None


# ----------------------------------------------------------------------------- the command

@pytest.fixture(scope="module")
def queries(tmp_path_factory):
    path = tmp_path_factory.mktemp("annotate") / "queries.meme"
    write_meme(path, [BY_ID["MA0099.2"], BY_ID["MA0139.1"], Motif("flat", np.full((9, 4), 0.25))])
    return path


def test_cli_writes_tomtom_columns_and_a_summary(queries, tmp_path):
    out = tmp_path / "matches.tsv"
    result = CliRunner().invoke(cli, ["annotate", str(queries), "--db", str(JASPAR), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == list(MATCH_COLUMNS)
    rows = [dict(zip(MATCH_COLUMNS, line.split("\t"))) for line in lines[1:]]
    assert {r["Query_ID"] for r in rows} == {"MA0099.2", "MA0139.1"}  # flat: no match, no rows
    assert all(float(r["q-value"]) <= 0.05 for r in rows)
    first_ctcf = next(r for r in rows if r["Query_ID"] == "MA0139.1")
    assert (first_ctcf["Target_ID"], first_ctcf["Optimal_offset"], first_ctcf["Orientation"]) == ("MA0139.1", "0", "+")
    summary = result.output.splitlines()
    assert any(line.startswith("flat") and "not compared" in line for line in summary)
    assert any(line.startswith("MA0099.2") and line.endswith("match") and "FOS::JUN" in line for line in summary)


@pytest.mark.parametrize("extra, message", [
    (["--db", "neither.txt"], "neither.txt: neither an existing MEME file nor a JASPAR release name"),
    (["--db", "JASPAR2077"], "unknown JASPAR release 'JASPAR2077'"),
    (["--min-overlap", "20"], "shorter than the minimum overlap of 20"),
])
def test_cli_bad_input_one_line_no_output(queries, tmp_path, extra, message):
    out, report = tmp_path / "m.tsv", tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["annotate", str(queries), "-o", str(out), "--report", str(report), *extra])
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not report.exists() and os.listdir(tmp_path) == []


def test_cli_meme_without_motifs(tmp_path):
    empty = tmp_path / "empty.meme"
    empty.write_text("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n")
    result = CliRunner().invoke(cli, ["annotate", str(empty), "--db", str(JASPAR), "-o", str(tmp_path / "m.tsv")])
    assert result.exit_code == 1 and "empty.meme: no MOTIF found" in result.output
    assert not (tmp_path / "m.tsv").exists()


@pytest.mark.parametrize("missing", ["memelite", "pyjaspar"])
def test_without_the_extra_the_command_fails_at_once(tmp_path, missing):
    # The motif file does not exist: the missing extra must be reported before anything is read.
    code = (f"import sys; sys.modules[{missing!r}] = None; from k2p_keras.cli import main; "
            f"main(['annotate', 'missing.meme', '-o', 'out.tsv'])")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: annotation needs {missing}: pip install 'k2p-keras[annotate]'"
    assert os.listdir(tmp_path) == []


def test_meme_files_of_other_tools_are_annotated(tmp_path):
    # JASPAR's own MEME export (URL lines, nsites, no k2p-keras alternate names) works as a query file.
    path = tmp_path / "two.meme"
    text = JASPAR.read_text()
    start = text.index("MOTIF MA0139.1")
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\n" + text[start:text.index("MOTIF", start + 5)])
    assert len(read_meme(path)) == 1
    annotation = annotate_motifs(path, DB)
    assert annotation.best_match("MA0139.1").target_name == "CTCF"


def test_the_warm_up_compiles_what_a_comparison_calls(monkeypatch):
    # Its two motifs are informative end to end, so nothing is trimmed and memelite runs.
    calls = []
    real = annotate_motifs.__globals__["_tomtom_matches"]
    monkeypatch.setitem(annotate_motifs.__globals__, "_tomtom_matches",
                        lambda queries, *rest: calls.append(len(queries)) or real(queries, *rest))
    warm_up_tomtom(load_database(JASPAR), width=19)
    assert calls == [2]
    assert tomtom_compiled() is True  # and numba cached what it compiled
