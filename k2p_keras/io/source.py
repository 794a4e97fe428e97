"""The interface of every sequence reader: a count, the lengths, batches on demand."""
import numpy as np

from ..errors import K2PError
from ..validate import check_positive_int


class SequenceSource:
    """Sequences that can be read in batches of one-hot float32 arrays.

    Attributes
    ----------
    path : str or None
        The file (``None`` for an in-memory array).
    count : int
        Number of sequences.
    min_length, max_length : int
        Shortest and longest sequence.
    """

    format = None

    def __init__(self, path, count, min_length, max_length):
        self.path = path
        self.count = int(count)
        self.min_length = int(min_length)
        self.max_length = int(max_length)

    @property
    def length(self):
        """The common sequence length, or ``None`` when the lengths differ."""
        return self.min_length if self.min_length == self.max_length else None

    def __len__(self):
        return self.count

    def __repr__(self):
        length = self.length if self.length is not None else f"{self.min_length}..{self.max_length}"
        return f"<{type(self).__name__} {self.path or '<array>'}: {self.count} sequences of length {length}>"

    def iter_batches(self, batch_size=512, indices=None):
        """Yield the sequences as one-hot batches, in file order.

        Parameters
        ----------
        batch_size : int
            Most sequences per batch. Sequences of different lengths never share a
            batch, so a FASTA file with mixed lengths gives smaller batches.
        indices : array-like of int, optional
            Only these sequences (0-based positions in the file), e.g. a random subset.
            They are sorted and duplicates dropped; batches follow file order.

        Yields
        ------
        numpy.ndarray
            float32 ``(B, length, 4)``, channels A C G T.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        if indices is not None:
            indices = np.unique(np.asarray(indices, dtype=np.int64).ravel())
            if indices.size and (indices[0] < 0 or indices[-1] >= self.count):
                raise K2PError(f"sequence indices must lie in 0..{self.count - 1}, found "
                               f"{indices[0] if indices[0] < 0 else indices[-1]}", path=self.path)
        # The checks above run now; the generator below runs on the first next().
        return self._batches(batch_size, indices)

    def _batches(self, batch_size, indices):
        raise NotImplementedError
