"""Letter codes: the six rows a one-hot batch may hold, as small integers.

Codes 0-3 are A C G T, 4 an all-zero row (N, or padding), 5 a 0.25 row (N). The compiled
routes read sequences as codes, and rescore a window by F x L lookups in a float64 table.
"""
import numpy as np


ZERO_CODE, QUARTER_CODE = 4, 5

N_CODES = 6

#: The code of each code's reverse complement: A C G T -> T G C A; N stays N.
CODE_COMPLEMENT = np.array([3, 2, 1, 0, ZERO_CODE, QUARTER_CODE], dtype=np.uint8)


def code_table(kernel):
    """The float64 lookup table (F, L, 6) of a kernel (L, 4, F): its 4 weights, 0, their quarter sum."""
    kernel = np.asarray(kernel, dtype=np.float64)
    table = np.empty((kernel.shape[2], kernel.shape[0], N_CODES))
    table[:, :, :4] = kernel.transpose(2, 0, 1)
    table[:, :, ZERO_CODE] = 0.0
    table[:, :, QUARTER_CODE] = 0.25 * kernel.sum(axis=1).T
    return table
