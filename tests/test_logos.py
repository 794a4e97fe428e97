"""Sequence logos: one valid PNG per filter, exact and heuristic side by side with --method both."""
import os

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")
pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402
from keras import layers  # noqa: E402

from k2p_keras.cli.group import cli  # noqa: E402
from k2p_keras.annotate.draw.logos import logo_figure, write_logo  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTERS = 3


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    return image


@pytest.fixture(scope="module")
def model_and_sequences(tmp_path_factory):
    folder = tmp_path_factory.mktemp("logos")
    model = keras.Sequential([keras.Input((30, 4)), layers.Conv1D(FILTERS, 6, activation="relu", name="conv"),
                              layers.GlobalMaxPooling1D(), layers.Dense(1)])
    rng = np.random.default_rng(0)
    model.get_layer("conv").set_weights([rng.normal(0, 1.5, (6, 4, FILTERS)).astype("float32"),
                                         np.zeros(FILTERS, "float32")])
    model.save(folder / "model.keras")
    np.save(folder / "seqs.npy", np.eye(4, dtype=np.float32)[rng.integers(0, 4, (60, 30))])
    return folder / "model.keras", folder / "seqs.npy"


@pytest.mark.parametrize("method, panels", [("exact", 1), ("both", 2)])
def test_cli_logos_writes_one_png_per_filter(model_and_sequences, tmp_path, method, panels):
    model, seqs = model_and_sequences
    folder = tmp_path / "logos"
    result = CliRunner().invoke(cli, [str(model), str(seqs), "--method", method, "--logos", str(folder),
                                      "-o", str(tmp_path / "m.meme"), "-q"])
    assert result.exit_code == 0, result.output
    pngs = sorted(folder.iterdir())
    assert [p.name for p in pngs] == [f"conv_{t}.png" for t in range(FILTERS)]
    widths = [assert_png(p).shape[1] for p in pngs]
    single = assert_png(_single_logo(tmp_path)).shape[1]
    # Two panels side by side make a figure about twice as wide as one.
    assert all(w > 1.5 * single for w in widths) if panels == 2 else all(w < 1.5 * single for w in widths)


def _single_logo(tmp_path):
    path = tmp_path / "single.png"
    write_logo(path, np.full((6, 4), 0.25))
    return path


def test_letter_heights_follow_information_content():
    # A certain row (2 bits) fills the axis; a uniform row (0 bits) draws nothing.
    pwm = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    fig = logo_figure([("t", pwm)])
    # The letters are one collection per logo.
    paths = [path for c in fig.axes[0].collections for path in c.get_paths()]
    colours = [colour for c in fig.axes[0].collections for colour in c.get_facecolors()]
    tops = sorted(round(path.get_extents().y1, 6) for path in paths)
    assert len(paths) == 3  # A at position 1; A and C at position 3
    assert tops == [0.5, 1.0, 2.0]
    colors = {tuple(np.round(c[:3], 3)) for c in colours}
    assert len(colors) == 2


def test_logo_files_sort_in_filter_order(tmp_path):
    """The index zero-padded: motif_conv_02.png before motif_conv_10.png, as a file browser sorts."""
    from dataclasses import dataclass

    from k2p_keras.annotate.draw.logos import write_filter_logos
    from k2p_keras.motifs.motifset import MotifSet

    @dataclass
    class Drawn(MotifSet):
        layer_name: str
        pwms: np.ndarray

        def logo_label(self, index):
            return ""

    pwms = np.random.default_rng(1).dirichlet(np.ones(4), size=(12, 5))
    written = write_filter_logos(tmp_path, [Drawn("motif_conv", pwms)], dpi=20)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"motif_conv_{t:02d}.png" for t in range(12)] == [os.path.basename(w) for w in written]
