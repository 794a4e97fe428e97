"""Activation diagnostics (k2p_keras/annotate/describe/diagnostics.py): what the scan's own pass says about each
filter's best window equals what numpy and scikit-learn say from every window, and on the bundled
example the planted-motif filters tell the classes apart best."""
import warnings

import h5py
import numpy as np
import pytest

from conftest import assert_self_contained, JASPAR, REPO
from k2p_keras import extract
from k2p_keras.annotate.describe.diagnostics import auroc_from_histograms, binary_labels, CENTRAL_FRACTION
from k2p_keras.errors import K2PError
from k2p_keras.io.labels import labelled_batches
from k2p_keras.model.conv import find_motif_conv_in_file

MODEL = REPO / "example_models" / "deepbind.h5"
SEQS = REPO / "data" / "example_seqs.h5"
# The bundled example's filters that learned a planted motif (tests/test_influence.py):
# CTCF 0, 13; FOS::JUN 5; Gata1 7, 10; SP1 11, 15.
PLANTED = [0, 5, 7, 10, 11, 13, 15]


@pytest.fixture(scope="module")
def example():
    """The example's sequences, labels, each sequence's best conv + bias per filter and its position
    (numpy over every window, independent of the scan), and the extraction with diagnostics."""
    with h5py.File(SEQS) as f:
        x, y = f["x"][()].astype(np.float64), f["y"][()]
    spec = find_motif_conv_in_file(MODEL)
    windows = np.lib.stride_tricks.sliding_window_view(x, spec.kernel.shape[:2], axis=(1, 2))[:, :, 0]
    conv = np.einsum("npla,laf->npf", windows, spec.kernel.astype(np.float64)) + spec.bias
    result = extract(MODEL, SEQS, diagnostics=True)
    return x, y, conv.max(axis=1), conv.argmax(axis=1), result


def test_auroc_alone_from_the_scan_s_histograms_equals_scikit_learn_s_on_every_best_window(example):
    roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score
    _, y, best, _, result = example
    exact = np.array([roc_auc_score(y, best[:, t]) for t in range(16)])
    np.testing.assert_allclose(result.diagnostics.auroc[:, 0], exact, atol=1e-3)
    # The prep study's figure: the 1000-bin grid within 6e-5 of the exact AUROC.
    assert np.abs(result.diagnostics.auroc[:, 0] - exact).max() < 1e-4


def test_the_best_windows_positions_are_numpy_s_argmax(example):
    _, _, _, position, result = example
    positions = result.diagnostics.sums.positions
    assert positions.shape == (16, 86, 2) and positions[:, :, 1].sum() == 0  # forward strand only
    for t in range(16):
        np.testing.assert_array_equal(positions[t, :, 0], np.bincount(position[:, t], minlength=86))


def test_the_mean_activation_per_class_is_the_relu_of_the_best_window(example):
    _, y, best, _, result = example
    relu = np.maximum(best, 0.0)
    d = result.diagnostics
    np.testing.assert_allclose(d.class_means[:, 0, 0], relu[y == 0].mean(axis=0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(d.class_means[:, 0, 1], relu[y == 1].mean(axis=0), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(d.mean_activation, relu.mean(axis=0), rtol=1e-3, atol=1e-4)
    assert d.activation == "relu(conv + bias)"


def test_the_planted_motif_filters_tell_the_classes_apart_best(example):
    """A quarter of the positives hold each of the four planted motifs: a perfect detector of one has
    AUROC 0.625; the background filters fire as often in either class."""
    auroc = example[4].diagnostics.auroc[:, 0]
    planted = np.isin(np.arange(16), PLANTED)
    assert auroc[planted].min() > auroc[~planted].max()
    assert auroc[planted].min() > 0.52 and auroc[~planted].max() < 0.5


def test_the_summary_and_the_report_carry_the_diagnostics(example, tmp_path):
    result = example[4]
    columns = ("mean_activation", "central_share", "central_enrichment", "auroc", "mean_activation_0",
               "mean_activation_1")
    assert result.summary_columns[-len(columns):] == columns
    row = result.summary_rows()[13]
    assert row["auroc"] == pytest.approx(result.diagnostics.auroc[13, 0])
    assert row["mean_activation_1"] > row["mean_activation_0"]
    # Best windows anywhere along the example's sequences: about as many in the middle fifth as positions there.
    assert np.all(np.abs(result.diagnostics.central_enrichment - 1) < 0.1)
    report = result.filter_reports()[13]
    assert report.auroc == pytest.approx(row["auroc"]) and set(report.class_means) == {"0", "1"}
    edges, by_class = report.activation_histogram
    assert len(edges) == len(by_class["1"]) + 1 <= 41
    assert sum(by_class["0"]) + sum(by_class["1"]) == 20000
    assert "best windows in the middle fifth" in report.figures
    assert report.position_histogram.shape == (86,)  # forward only: one strand drawn
    assert any(line.startswith("diagnostics: 20000 sequences' best windows; AUROC alone") for line in result.describe())


def test_the_report_shows_each_filter_s_diagnostics(example, tmp_path):
    pytest.importorskip("memelite")
    result = example[4]
    result.annotate(JASPAR)
    result.write_report(tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text()
    assert_self_contained(text)
    summary = text[text.index("<th>filter</th>"):text.index("<section")]
    assert "AUROC alone" in summary and f"{result.diagnostics.auroc[13, 0]:.3g}" in summary
    assert text.count('class="plot"') == 16 and text.count("best windows in the middle fifth") == 16
    assert "mean best activation, class 1" in text


def test_central_enrichment_finds_motifs_planted_at_the_centre():
    rng = np.random.default_rng(0)
    x = np.eye(4)[rng.integers(0, 4, (400, 101))]
    motif = np.eye(4)[[0, 1, 2, 3, 3, 2, 1, 0]]
    kernel = (4 * motif - 1)[:, :, None]  # (8, 4, 1): matches the motif
    starts = rng.integers(44, 50, 400)  # centred within the middle fifth
    for n, s in enumerate(starts):
        x[n, s:s + 8] = motif
    result = extract(_relu_max_model(kernel), x, diagnostics=True, base=2.0)
    d = result.diagnostics
    centre = starts + 3.5
    held = np.abs(np.arange(94) + 3.5 - 50) <= CENTRAL_FRACTION * 101 / 2
    assert d.central_share[0] == pytest.approx(np.mean(np.abs(centre - 50) <= CENTRAL_FRACTION * 101 / 2)) == 1.0
    assert d.central_enrichment[0] == pytest.approx(1 / held.mean()) and d.central_enrichment[0] > 4
    # A fixed base scans nothing for the PWMs: the diagnostics take a pass of their own.
    assert result.n_sequences == 400 and d.labels is None and d.columns[-1] == "central_enrichment"


def _relu_max_model(kernel):
    """A bare conv -> ReLU -> global max-pool with an (L, 4, F) kernel and no bias."""
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((101, 4)), keras.layers.Conv1D(kernel.shape[2], kernel.shape[0],
                                                                         activation="relu", name="motif_conv"),
                              keras.layers.GlobalMaxPooling1D()])
    model.get_layer("motif_conv").set_weights([kernel.astype(np.float32), np.zeros(kernel.shape[2], np.float32)])
    return model


def test_binary_columns_get_an_auroc_continuous_ones_a_note():
    labels = np.stack([[0, 1, 1, 0], [-1, 1, -1, 1], [0.2, 0.5, 0.9, 0.1], [1, 1, 1, 1]], axis=1)
    columns = binary_labels(labels, "y")
    assert columns.names == ["0", "1", "3"] and columns.skipped == [2]
    assert columns.classes == [("0", "1"), ("-1", "1"), ("0", "1")]
    np.testing.assert_array_equal(columns.indicators, [[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    single = binary_labels(np.array([3.0, 5.0, 5.0]))
    assert single.names == [""] and single.classes == [("3", "5")]
    assert binary_labels(None) is None


def test_multi_column_labels_name_each_column(example):
    x, y, best, _, _ = example
    roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score
    labels = np.stack([y, 1 - y, np.linspace(0, 1, len(y))], axis=1)[:4000]
    result = extract(MODEL, x[:4000].astype(np.float32), labels=labels, diagnostics=True)
    d = result.diagnostics
    assert d.columns[3:] == ("auroc_0", "mean_activation_0_0", "mean_activation_0_1",
                             "auroc_1", "mean_activation_1_0", "mean_activation_1_1")
    np.testing.assert_allclose(d.auroc[:, 0], [roc_auc_score(y[:4000], best[:4000, t]) for t in range(16)], atol=1e-3)
    np.testing.assert_allclose(d.auroc[:, 0] + d.auroc[:, 1], 1.0, atol=1e-12)
    assert "label columns 2 are not binary: no AUROC" in d.describe()
    report = result.filter_reports()[13]
    assert "AUROC alone per label column" in report.figures and set(report.class_means) == {"0 = 0", "0 = 1"}


def test_labels_travel_with_the_batches_and_must_match_them():
    batches = [np.zeros((3, 5, 4)), np.zeros((2, 5, 4))]
    labels = np.arange(5.0)[:, None]
    pairs = list(labelled_batches(batches, labels))
    np.testing.assert_array_equal(pairs[1][1], [[3.0], [4.0]])
    with pytest.raises(K2PError, match="4 labels for more sequences"):
        list(labelled_batches(batches, labels[:4]))
    with pytest.raises(K2PError, match="6 labels for 5 sequences"):
        list(labelled_batches(batches, np.arange(6.0)[:, None]))
    with pytest.raises(K2PError, match="labels number 19999, the sequences 20000"):
        extract(MODEL, SEQS, labels=np.zeros(19999), diagnostics=True)


def test_auroc_from_histograms_counts_ties_in_a_bin_one_half():
    assert auroc_from_histograms([0, 0, 2], [2, 0, 0]) == 1.0
    assert auroc_from_histograms([0, 2, 0], [0, 2, 0]) == 0.5
    assert auroc_from_histograms([1, 1, 0], [0, 1, 1]) == 0.125  # one tie of four pairs
    assert np.isnan(auroc_from_histograms([0, 0], [1, 1]))


def test_a_local_max_pool_s_diagnostics_are_the_best_of_its_blocks(tmp_path):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    model = keras.Sequential([keras.Input((60, 4)), keras.layers.Conv1D(3, 7, activation="relu", name="motif_conv"),
                              keras.layers.MaxPooling1D(5), keras.layers.Flatten(), keras.layers.Dense(1)])
    x = np.eye(4)[rng.integers(0, 4, (300, 60))].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = extract(model, x, labels=(rng.random(300) < 0.5).astype(float), diagnostics=True)
    kernel, bias = model.get_layer("motif_conv").get_weights()
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (7, 4), axis=(1, 2))[:, :, 0]
    conv = np.einsum("npla,laf->npf", windows, kernel.astype(np.float64)) + bias
    held = conv[:, :50]  # 54 windows, blocks of 5: the last 4 windows are in no block
    for t in range(3):
        np.testing.assert_array_equal(result.diagnostics.sums.positions[t, :, 0],
                                      np.bincount(held[:, :, t].argmax(axis=1), minlength=54))
    np.testing.assert_allclose(result.diagnostics.mean_activation, np.maximum(held.max(axis=1), 0).mean(axis=0),
                               rtol=1e-3, atol=1e-4)


def test_a_pass_of_their_own_gives_the_mle_scan_s_diagnostics(example):
    x, y, _, _, _ = example
    x, y = x[:3000].astype(np.float32), y[:3000]
    riding = extract(MODEL, x, labels=y, diagnostics=True).diagnostics
    for alone in (extract(MODEL, x, labels=y, diagnostics=True, base=2.0),
                  extract(MODEL, x, labels=y, diagnostics=True, method="heuristic")):
        assert alone.n_sequences == 3000
        for name in ("auroc", "class_means", "mean_activation", "central_share"):
            np.testing.assert_array_equal(getattr(alone.diagnostics, name), getattr(riding, name), err_msg=name)


def test_without_a_max_pool_the_diagnostics_ride_on_the_first_of_the_two_passes():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    model = keras.Sequential([keras.Input((50, 4)), keras.layers.Conv1D(2, 6, activation="relu", name="motif_conv"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    x = np.eye(4)[rng.integers(0, 4, (200, 50))].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the sites anywhere: the pattern's warning
        result = extract(model, x, diagnostics=True)
    assert result.site_scope == "anywhere"
    kernel, bias = model.get_layer("motif_conv").get_weights()
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (6, 4), axis=(1, 2))[:, :, 0]
    conv = np.einsum("npla,laf->npf", windows, kernel.astype(np.float64)) + bias
    for t in range(2):
        np.testing.assert_array_equal(result.diagnostics.position_histogram(t), np.bincount(conv[:, :, t].argmax(axis=1),
                                                                                             minlength=45))
    assert result.diagnostics.n_sequences == 200
