"""MEME format: what k2p-1.0 wrote is reproduced byte for byte, and what we write reads back exactly."""
import io
import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from k2p_keras.errors import K2PError
from k2p_keras.io.meme import MemeFile, Motif, format_meme, read_meme, write_meme

from conftest import JASPAR

TOY_PWM = np.array([
    [0.1, 0.2, 0.3, 0.4],
    [0.05, 0.90, 0.025, 0.025],
    [0.6, 0.2, 0.1, 0.1],
    [0.4, 0.3, 0.2, 0.1],
    [0.2, 0.3, 0.3, 0.2],
    [0.25, 0.25, 0.25, 0.25],
])

MATRIX = "letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n"
ROWS = "0.1 0.2 0.3 0.4\n0.25 0.25 0.25 0.25\n"


def parse(text):
    return read_meme(io.StringIO(text))


def error_of(text):
    with pytest.raises(K2PError) as caught:
        parse(text)
    return str(caught.value)


# ----------------------------------------------------------------------------- golden files

def test_reads_the_toy_pwm_with_its_header_and_url(golden):
    meme = read_meme(golden / "toy_PWM.meme")
    assert meme.names == ["toy_PWM"]
    motif = meme.motifs[0]
    np.testing.assert_array_equal(motif.pwm, TOY_PWM)
    assert motif.pwm.dtype == np.float64
    assert (motif.nsites, motif.evalue, motif.url) == (20, 0.0, "http://example.toy.com")
    assert (meme.alphabet, meme.strands, meme.version) == ("ACGT", "+ -", "4")
    np.testing.assert_array_equal(meme.background, [0.25] * 4)


def test_reads_zero_probabilities(golden):
    motif = read_meme(golden / "toy_PWM_2_with_zero.meme").get("toy_PWM_2_invalid")
    np.testing.assert_array_equal(motif.pwm[1], [0, 1, 0, 0])


def test_rewrites_k2p_output_byte_for_byte(golden, tmp_path):
    original = (golden / "toy_kernel_transformed_PWM.meme").read_bytes()
    meme = read_meme(golden / "toy_kernel_transformed_PWM.meme")
    assert meme.names == ["temp_motif"] and meme.motifs[0].width == 7
    out = tmp_path / "out.meme"
    write_meme(out, meme.motifs, header=False, precision=None)
    assert out.read_bytes() == original
    # Bare arrays and a Motif built by hand give the same bytes.
    stream = io.StringIO()
    write_meme(stream, [Motif("temp_motif", meme.motifs[0].pwm)], header=False)
    assert stream.getvalue().encode() == original


@pytest.mark.skipif(not JASPAR.is_file(), reason="JASPAR CORE 2016 not found in data/jaspar")
def test_reads_jaspar_core_2016():
    meme = read_meme(JASPAR)
    assert len(meme) > 500
    for motif in meme:
        assert motif.pwm.shape[1] == 4
        np.testing.assert_allclose(motif.pwm.sum(axis=1), 1, atol=1e-4)
    first = meme.motifs[0]
    assert (first.name, first.alt_name, first.nsites) == ("MA0001.2", "AGL3", 95)
    assert first.url.startswith("http://jaspar.genereg.net")
    assert meme.get("AGL3") is first


# ----------------------------------------------------------------------------- round trips

def pwms():
    """Random probability matrices, including exact zeros and tiny values."""
    cells = st.one_of(st.floats(1e-300, 1.0), st.just(0.0))
    return st.integers(1, 25).flatmap(
        lambda width: hnp.arrays(np.float64, (width, 4), elements=cells)
    ).filter(lambda m: np.all(m.sum(axis=1) > 0)).map(lambda m: m / m.sum(axis=1, keepdims=True))


@settings(max_examples=60, deadline=None)
@given(matrices=st.lists(pwms(), min_size=1, max_size=4), header=st.booleans())
def test_write_then_read_gives_identical_arrays(matrices, header):
    motifs = [Motif(f"m{i}", pwm, alt_name=f"alt{i}" if i % 2 else None, nsites=i + 1,
                    evalue=1.7e-12 * i, url="http://x.org/?id=1" if i == 1 else None)
              for i, pwm in enumerate(matrices)]
    back = parse(format_meme(motifs, header=header))
    assert back.motifs == motifs
    for original, read in zip(motifs, back.motifs):
        assert np.array_equal(original.pwm, read.pwm)


def test_full_header_round_trip(tmp_path):
    background = np.array([0.3, 0.2, 0.2, 0.3])
    out = tmp_path / "m.meme"
    write_meme(out, [Motif("a", TOY_PWM)], background=background, strands="+")
    text = out.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: +\n\nBackground letter frequencies\n"
                           "A 0.3 C 0.2 G 0.2 T 0.3\n\nMOTIF a\n\n"
                           "letter-probability matrix: alength= 4 w= 6\n")  # nothing invented
    back = read_meme(out)
    np.testing.assert_array_equal(back.background, background)
    assert back.strands == "+"
    assert back.motifs[0] == Motif("a", TOY_PWM, nsites=None, evalue=None)


def test_alternative_names_may_hold_equals_signs():
    motif = Motif("conv1d_0", TOY_PWM, alt_name="ln_b=2.50251,SE=0.0123", nsites=2999, evalue=0)
    assert parse(format_meme([motif])).motifs == [motif]


def test_fixed_precision():
    text = format_meme([Motif("a", TOY_PWM, url="http://u")], precision=3)
    assert "\n0.050 0.900 0.025 0.025\n" in text
    assert "A 0.250 C 0.250" in text
    assert text.endswith("0.250 0.250 0.250 0.250\n\nURL http://u\n\n")


def test_accepts_arrays_and_rna():
    stack = np.stack([TOY_PWM, TOY_PWM[::-1]])
    back = parse(format_meme(stack, alphabet="ACGU"))
    assert back.names == ["motif_1", "motif_2"] and back.alphabet == "ACGU"
    np.testing.assert_array_equal(back.motifs[1].pwm, TOY_PWM[::-1])


def test_writer_refuses_bad_motifs_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "m.meme"
    out.write_text("old")
    for bad in ([Motif("two words", TOY_PWM)], [Motif("a", TOY_PWM[:, :3])],
                [Motif("a", TOY_PWM * np.nan)], []):
        with pytest.raises(K2PError):
            write_meme(out, bad)
    assert out.read_text() == "old"
    assert os.listdir(tmp_path) == ["m.meme"]


# ----------------------------------------------------------------------------- tolerant reading

def test_minimal_file_without_header_w_nsites_or_e():
    meme = parse("MOTIF x\nletter-probability matrix:\n" + ROWS)
    assert meme.motifs[0].width == 2
    assert meme.motifs[0].nsites is None and meme.motifs[0].evalue is None
    np.testing.assert_array_equal(meme.background, [0.25] * 4)


def test_tabs_crlf_blank_lines_and_several_motifs():
    text = ("MEME version 5.0.1\r\n\r\n\r\nALPHABET= ACGT\r\n\r\n"
            "Background letter frequencies (from file):\r\nA 0.1 C 0.4\r\nG 0.4 T 0.1\r\n\r\n"
            "MOTIF one\tONE\r\n\r\n" + MATRIX.replace(" ", "\t") + "\r\n"
            "\t0.1\t0.2\t0.3\t0.4\t\r\n  0.25  0.25  0.25  0.25  \r\n\r\n"
            "URL http://one\r\n\r\n\r\nMOTIF two\r\n" + MATRIX + ROWS.replace("\n", "\r\n"))
    meme = parse(text)
    assert meme.names == ["one", "two"] and meme.version == "5.0.1"
    assert meme.motifs[0].alt_name == "ONE" and meme.motifs[0].url == "http://one"
    assert meme.motifs[1].url is None
    np.testing.assert_array_equal(meme.background, [0.1, 0.4, 0.4, 0.1])
    np.testing.assert_array_equal(meme.motifs[1].pwm, [[0.1, 0.2, 0.3, 0.4], [0.25] * 4])


def test_alphabet_blocks():
    dna = ('ALPHABET "DNA" DNA-LIKE\nA "Adenine" CC0000 ~ T "Thymine" 008000\n'
           'C "Cytosine" 0000CC ~ G "Guanine" FFB300\nN "Any base" = ACGT\nEND ALPHABET\n\n')
    assert parse(dna + "MOTIF x\n" + MATRIX + ROWS).alphabet == "ACGT"
    rna = 'ALPHABET "RNA" RNA-LIKE\nA\nC\nG\nU\nN = ACGU\nEND ALPHABET\nBackground letter frequencies\n'
    meme = parse(rna + "A 0.1 C 0.2 G 0.3 U 0.4\nMOTIF x\n" + MATRIX + ROWS)
    assert meme.alphabet == "ACGU"
    np.testing.assert_array_equal(meme.background, [0.1, 0.2, 0.3, 0.4])
    assert parse("ALPHABET= ACGU\nMOTIF x\n" + MATRIX + ROWS).alphabet == "ACGU"


def test_meme_text_output_with_log_odds_sections():
    text = ("MOTIF GGA MEME-1\twidth =   2  sites =  20  llr = 30  E-value = 1.1e-007\n"
            "log-odds matrix: alength= 4 w= 2 n= 100 bayes= 1 E= 1.1e-007\n"
            " -100  200  -3  1\n 5 5 5 5\n-----\n"
            "letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 1.1e-007\n"
            + ROWS + "--------------------\nTime  0.01 secs.\n")
    motif = parse(text).motifs[0]
    assert (motif.name, motif.alt_name, motif.evalue) == ("GGA", "MEME-1", 1.1e-7)
    np.testing.assert_array_equal(motif.pwm[0], [0.1, 0.2, 0.3, 0.4])


def test_rounded_rows_warn_but_are_kept():
    with pytest.warns(UserWarning, match="sums to 1.003"):
        meme = parse("MOTIF x\n" + MATRIX + "0.101 0.202 0.3 0.4\n0.25 0.25 0.25 0.25\n")
    assert meme.motifs[0].pwm[0, 0] == 0.101
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse("MOTIF x\n" + MATRIX + "0.10001 0.2 0.3 0.4\n0.25 0.25 0.25 0.25\n")


def test_reads_from_a_stream_and_gets_by_name():
    meme = read_meme(io.StringIO("MOTIF a\n" + MATRIX + ROWS + "MOTIF b\n" + MATRIX + ROWS))
    assert isinstance(meme, MemeFile) and meme.get("b").name == "b"
    with pytest.raises(K2PError, match="no motif named 'c'; the file has: a, b"):
        meme.get("c")


# ----------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("  \n\n", "empty file"),
    ("MEME version 4\n\nALPHABET= ACGT\n", "no MOTIF found"),
    ("ALPHABET= ACDEFGHIKLMNPQRSTVWY\nMOTIF x\n" + MATRIX + ROWS, "line 1: expected a DNA or RNA alphabet"),
    ('ALPHABET "Protein" PROTEIN-LIKE\nA\nEND ALPHABET\n', "line 1: expected a DNA or RNA alphabet"),
    ('ALPHABET "DNA" DNA-LIKE\nA\nC\n', "no 'END ALPHABET'"),
    ("MOTIF x\n" + MATRIX + "0.1 0.2 0.3\n0.25 0.25 0.25 0.25\n", "line 3: expected 4 probabilities"),
    ("MOTIF x\n" + MATRIX + "0.1 0.2 0.3 0.2 0.2\n", "found 5 values"),
    ("MOTIF x\n" + MATRIX + "0.1 0.2 abc 0.4\n0.25 0.25 0.25 0.25\n", "line 3: expected 4 numbers"),
    ("MOTIF x\n" + MATRIX + "0.1 0.2 nan 0.4\n0.25 0.25 0.25 0.25\n", "line 3: .*NaN or infinity"),
    ("MOTIF x\n" + MATRIX + "0.25 0.25 0.25 0.25\n1.5 -0.5 0 0\n", "line 4: .*expected probabilities in"),
    ("MOTIF x\n" + MATRIX + "0.5 0.5 0.5 0.5\n0.25 0.25 0.25 0.25\n", "sums to 2"),
    ("MOTIF x\n" + MATRIX + "0.25 0.25 0.25 0.25\n", "says w= 2 but 1 rows follow"),
    ("MOTIF x\n" + MATRIX + ROWS + ROWS, "says w= 2 but 4 rows follow"),
    ("MOTIF x\nletter-probability matrix: alength= 20 w= 2\n" + ROWS, "expected alength= 4"),
    ("MOTIF x\nletter-probability matrix: w= two\n" + ROWS, "expected a number after 'w='"),
    ("MOTIF x\n" + MATRIX + "\nMOTIF y\n", "no rows of numbers"),
    ("MOTIF x\nMOTIF y\n" + MATRIX + ROWS, "line 1: MOTIF x has no letter-probability matrix"),
    ("MOTIF x\n", "MOTIF x has no letter-probability matrix"),
    (MATRIX + ROWS, "comes before any MOTIF"),
    ("MOTIF\n" + MATRIX + ROWS, "expected a motif name"),
    ("Background letter frequencies\nA 0.5 C 0.5\n\nMOTIF x\n" + MATRIX + ROWS, "lack G T"),
])
def test_refuses_what_is_not_a_dna_motif(text, message):
    assert error_of(text).startswith("<stdin>: ")
    with pytest.raises(K2PError, match=message):
        parse(text)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(K2PError, match="file not found") as caught:
        read_meme(tmp_path / "absent.meme")
    assert caught.value.path == str(tmp_path / "absent.meme")
    binary = tmp_path / "b.meme"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(K2PError, match="not a text file"):
        read_meme(binary)
