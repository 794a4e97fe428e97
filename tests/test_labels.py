"""Labels for FASTA users (k2p_keras/io/labels.py): a table keyed by record id gives the same AUROC
and the same change of the loss as the labels stored beside the same sequences in HDF5."""
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO
from k2p_keras import extract
from k2p_keras.cli.group import cli
from k2p_keras.errors import K2PError
from k2p_keras.io.labels import read_labels_file
from k2p_keras.io.labels import open_labels

MODEL = REPO / "example_models" / "deepbind.h5"
N = 400


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The example's first N sequences as HDF5 (x, y) and as FASTA, and their labels as a table
    in another order than the FASTA's, with a header and a record the FASTA does not hold."""
    folder = tmp_path_factory.mktemp("labels")
    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        x, y = f["x"][:N], f["y"][:N]
    with h5py.File(folder / "seqs.h5", "w") as f:
        f["x"], f["y"] = x, y
    letters = np.array(list("ACGT"))
    names = [f"chr1:{1000 * i}-{1000 * i + 100}" for i in range(N)]
    (folder / "seqs.fa").write_text("".join(f">{name} peak {i}\n{''.join(letters[s.argmax(1)])}\n"
                                            for i, (name, s) in enumerate(zip(names, x))))
    order = np.random.default_rng(0).permutation(N)
    rows = [f"{names[i]}\t{int(y[i])}" for i in order] + ["chr9:1-100\t1"]
    (folder / "labels.tsv").write_text("id\tlabel\n# shuffled\n" + "\n".join(rows) + "\n")
    return folder, names, y


def test_a_table_keyed_by_record_id_is_put_in_the_sequences_order(small):
    folder, names, y = small
    labels, source = read_labels_file(folder / "labels.tsv", names, N)
    np.testing.assert_array_equal(labels[:, 0], y)
    assert source.endswith("labels.tsv (by record id)")
    ordered = folder / "ordered.csv"
    ordered.write_text("\n".join(f"{v},{1 - v}" for v in y) + "\n")
    np.testing.assert_array_equal(read_labels_file(ordered, names, N)[0], np.stack([y, 1 - y], 1))
    np.save(folder / "y.npy", y)
    np.testing.assert_array_equal(read_labels_file(folder / "y.npy", None, N)[0][:, 0], y)


@pytest.mark.parametrize("text, problem", [
    ("chr1:0-100\t1\n", "no labels for record 'chr1:1000-1100' (399 of 400 records have none"),
    ("chr1:0-100\t1\nchr1:0-100\t0\n", "line 2: id 'chr1:0-100' is given twice"),
    ("id\tlabel\nchr1:0-100\tyes\n", "line 2: label 'yes' is not a number"),
    ("a\t1\nb\t1\t0\n", "line 2: expected an id and the same number of labels on every row"),
    ("1\n0\n", "the labels number 2, the sequences 400"),
])
def test_a_labels_file_that_does_not_fit_says_where_in_one_line(small, text, problem):
    folder, names, _ = small
    (folder / "bad.tsv").write_text(text)
    with pytest.raises(K2PError, match=r"bad\.tsv") as info:
        read_labels_file(folder / "bad.tsv", names, N)
    assert problem in str(info.value)


def test_ids_beside_sequences_without_names_are_refused(small):
    folder, _, _ = small
    with pytest.raises(K2PError, match="not FASTA records"):
        extract(MODEL, folder / "seqs.h5", labels=str(folder / "labels.tsv"), diagnostics=True, base=2.0)


def test_fasta_with_a_labels_file_gives_the_hdf5_labels_auroc_and_loss_change(small):
    folder, _, _ = small
    summaries = {}
    for name, seqs, labels in (("h5", "seqs.h5", []), ("fa", "seqs.fa", ["--labels", str(folder / "labels.tsv")])):
        out = folder / f"{name}.tsv"
        result = CliRunner().invoke(cli, [str(MODEL), str(folder / seqs), "--base", "2", "--diagnostics",
                                          "--influence", *labels, "-o", str(folder / f"{name}.meme"),
                                          "--summary", str(out)])
        assert result.exit_code == 0, result.output
        header, *rows = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")]
        summaries[name] = [dict(zip(header, row)) for row in rows]
    assert "labels " + str(folder / "labels.tsv") + " (by record id)" in result.output
    for column in ("auroc", "influence_dloss"):
        h5, fa = (np.array([float(r[column]) for r in summaries[k]]) for k in ("h5", "fa"))
        np.testing.assert_allclose(fa, h5, rtol=1e-5, err_msg=column)


def test_fasta_headers_label_fields_are_the_default_labels(tmp_path):
    """The bundled example's FASTA carries `>seq0 label=0`: the same labels as y in its HDF5 twin."""
    with h5py.File(REPO / "data" / "example_seqs.h5") as f:
        y = f["y"][()]
    labels, source = open_labels(None, str(REPO / "data" / "example_seqs.fa.gz"), len(y))
    np.testing.assert_array_equal(labels[:, 0], y)
    assert source == "label= in the FASTA headers"
    two = tmp_path / "two.fa"
    two.write_text(">a label=1,0 peak\nACGT\n>b label=0,1\nACGA\n")
    np.testing.assert_array_equal(open_labels(None, str(two), 2)[0], [[1, 0], [0, 1]])
    none = tmp_path / "none.fa"
    none.write_text(">a\nACGT\n>b\nACGA\n")
    assert open_labels(None, str(none), 2) == (None, None)
    mixed = tmp_path / "mixed.fa"
    mixed.write_text(">a label=1\nACGT\n>b\nACGA\n")
    with pytest.raises(K2PError, match=r"mixed\.fa: record 2 \('b'\) has no label= in its header"):
        open_labels(None, str(mixed), 2)
