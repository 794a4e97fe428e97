"""What exact and heuristic PWMs have in common: one PWM per filter of one layer.

:class:`~k2p_keras.motifs.exact.ExactPWMs` (exact PWMs) and
:class:`~k2p_keras.motifs.heuristic.HeuristicPWMs` (DeepBind's counts) both derive from
:class:`MotifSet`, so the MEME writer, the summary table, the logos and the report treat
them alike: each set only says what its own per-filter figures are.
"""
import numpy as np

from ..io.meme import Motif
from ..transform import consensus, information_content


class MotifSet:
    """One PWM per filter of a layer, named ``<layer>_<index>``.

    Subclasses are dataclasses with at least ``layer_name`` (str) and ``pwms``
    (``(F, L, 4)`` float64, rows summing to 1), and define ``kind``, :meth:`figures`,
    :meth:`alt_name`, :meth:`nsites` and :meth:`logo_label`.
    """

    kind = None
    #: Keys of :meth:`figures`, in the order of the summary table.
    figure_columns = ()

    @property
    def n_filters(self):
        """Number of filters F."""
        return int(np.shape(self.pwms)[0])

    def motif_name(self, index):
        """``<layer>_<index>``: the name that ties a motif to its filter (``verify`` reads it back)."""
        return f"{self.layer_name}_{index}"

    def figures(self, index):
        """The set's own per-filter figures, keyed by :attr:`figure_columns`."""
        raise NotImplementedError

    def alt_name(self, index):
        """The MEME alternate name: what a reader of the file needs to know about this PWM."""
        raise NotImplementedError

    def nsites(self, index):
        """Sequences (or windows) behind this PWM, or None when none were counted."""
        raise NotImplementedError

    def logo_label(self, index):
        """A short title for the filter's logo, e.g. ``exact (ln b = 2.38)``."""
        raise NotImplementedError

    def report_figures(self, index):
        """Display strings for the report, e.g. ``{"ln b": "2.38 (SE 0.0063)"}``."""
        raise NotImplementedError

    def motifs(self, suffix=""):
        """One :class:`~k2p_keras.io.meme.Motif` per filter, its name suffixed with ``suffix``."""
        return [Motif(name=self.motif_name(t) + suffix, pwm=self.pwms[t], alt_name=self.alt_name(t),
                      nsites=self.nsites(t))
                for t in range(self.n_filters)]

    @property
    def summary_columns(self):
        """Columns of :meth:`summary_rows`."""
        return ("filter",) + tuple(self.figure_columns) + ("information_content", "consensus")

    def summary_rows(self):
        """Per filter: its name, the set's figures, information content (bits) and consensus."""
        return [{"filter": self.motif_name(t), **self.figures(t),
                 "information_content": float(information_content(self.pwms[t]).sum()),
                 "consensus": consensus(self.pwms[t])}
                for t in range(self.n_filters)]
