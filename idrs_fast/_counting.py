"""Top-class counting on the CPU: the argmax of every row of scores and its tally
per input in one compiled pass (torch's argmax + bincount cost about as much as the
forward pass of a small model).

A row with a NaN or infinite score votes for no class: it is tallied in an extra
last column (index `classes`), so it can only lower the count of the top class."""
import numpy as np
from numba import njit, prange

from .kernels.counting import top_class


@njit(parallel=True, cache=True, nogil=True)
def _top_classes(scores, owner, flat_top):
    """flat_top[r] = owner[r] * (classes + 1) + the first maximum of scores[r], or
    + classes where a score of the row is not finite."""
    rows, classes = scores.shape
    for r in prange(rows):
        flat_top[r] = owner[r] * (classes + 1) + top_class(scores, r)


@njit(cache=True, nogil=True)
def _tally(flat_top, counts):
    for r in range(flat_top.size):
        counts[flat_top[r]] += 1


def count_top_classes(scores, owner, counts, flat_top):
    """counts[owner[r] * (classes + 1) + argmax scores[r]] += 1 for every row r, or
    at column `classes` where row r has a non-finite score.

    scores (rows, classes) float32/float64, owner (rows,) int64 in [0, inputs),
    counts (inputs * (classes + 1),) int64 updated in place, flat_top (>= rows,)
    int64 scratch. Shapes and owner's range are checked: the compiled loops index
    without bounds checks."""
    rows, classes = scores.shape
    inputs, rest = divmod(counts.size, classes + 1)
    if not (owner.shape == (rows,) and owner.dtype == flat_top.dtype == counts.dtype == np.int64
            and rest == 0 and flat_top.size >= rows and scores.dtype in (np.float32, np.float64)):
        raise ValueError(f"count_top_classes: inconsistent arrays (scores {scores.shape} "
                         f"{scores.dtype}, owner {owner.shape}, counts {counts.shape}, "
                         f"scratch {flat_top.shape})")
    if rows and not (0 <= owner.min() and owner.max() < inputs):
        raise ValueError(f"count_top_classes: owner outside [0, {inputs})")
    _top_classes(scores, owner, flat_top[:rows])
    _tally(flat_top[:rows], counts)
