"""The folder :class:`~k2p_keras.callback.PWMCallback` writes while a model trains, and reading it back.

    folder/epoch_0001.meme, epoch_0002.meme, ...   one MEME file per dump (1-based epochs)
    folder/summary.tsv                              one row per filter and dump

The callback writes with :func:`meme_name` and :data:`SUMMARY_NAME`; ``k2p-keras report
FOLDER`` reads with :func:`read_callback_folder`. Both sides take the names from here.
"""
import dataclasses
import os
import re

from ..errors import K2PError
from .meme import read_meme
from .text import read_summary

__all__ = ["CallbackFolder", "SUMMARY_NAME", "meme_name", "read_callback_folder"]

#: The per-filter, per-dump table in a callback folder.
SUMMARY_NAME = "summary.tsv"
_MEME_NAME = re.compile(r"epoch_(\d+)\.meme")


def meme_name(epoch):
    """File name of the dump after 1-based epoch ``epoch``: ``epoch_0001.meme``."""
    return f"epoch_{int(epoch):04d}.meme"


@dataclasses.dataclass(eq=False)
class CallbackFolder:
    """A callback folder read back.

    Attributes
    ----------
    path : str
    epochs : list of int
        The dumped epochs, in order (``every="auto"`` may skip some).
    motifs : dict
        Epoch -> list of :class:`~k2p_keras.io.meme.Motif`, in filter order.
    columns : tuple of str
        The summary's columns.
    rows : dict
        ``(epoch, filter name)`` -> the summary row (a dict of its columns).
    """

    path: str
    epochs: list
    motifs: dict
    columns: tuple
    rows: dict

    @property
    def annotated(self):
        """Whether the callback annotated its dumps (``PWMCallback(annotate=...)``)."""
        return "best_match_id" in self.columns

    @property
    def names(self):
        """The filters' motif names, as the last dump has them."""
        return [m.name for m in self.motifs[self.epochs[-1]]]


def read_callback_folder(path):
    """Read every ``epoch_NNNN.meme`` and ``summary.tsv`` of a PWMCallback folder.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    CallbackFolder

    Raises
    ------
    K2PError
        Not a folder, no dump in it, no summary, dumps of different filters, or a dump the
        summary does not list.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise K2PError("expected the folder a PWMCallback wrote (epoch_0001.meme, ..., summary.tsv)", path=path)
    found = sorted((int(m.group(1)), name) for name in os.listdir(path) if (m := _MEME_NAME.fullmatch(name)))
    if not found:
        raise K2PError("no epoch_NNNN.meme in the folder: is it the output folder of a PWMCallback?", path=path)
    summary = os.path.join(path, SUMMARY_NAME)
    if not os.path.exists(summary):
        raise K2PError(f"no {SUMMARY_NAME} beside the epoch_NNNN.meme files", path=path)
    columns, table = read_summary(summary)
    missing = {"epoch", "filter"} - set(columns)
    if missing:
        raise K2PError(f"not a PWMCallback summary: no column {', '.join(sorted(missing))}", path=summary)
    rows = {(row["epoch"], row["filter"]): row for row in table}
    motifs = {}
    for epoch, name in found:
        motifs[epoch] = list(read_meme(os.path.join(path, name)).motifs)
        names = [m.name for m in motifs[epoch]]
        if names != [m.name for m in motifs[found[0][0]]]:
            raise K2PError(f"{name} holds other filters than {found[0][1]}: one folder per model and layer",
                           path=path)
        if not all((epoch, n) in rows for n in names):
            raise K2PError(f"{SUMMARY_NAME} has no rows for epoch {epoch} ({name}): was the training cut short "
                           "while writing?", path=path)
    return CallbackFolder(path=path, epochs=[e for e, _ in found], motifs=motifs, columns=columns, rows=rows)
