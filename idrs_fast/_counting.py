"""Top-class counting on the CPU: the argmax of every row of scores and its tally
per input in one compiled pass (torch's argmax + bincount cost about as much as the
forward pass of a small model)."""
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def _top_classes(scores, owner, flat_top):
    """flat_top[r] = owner[r] * classes + argmax of scores[r] (torch's convention:
    the first maximum, a NaN counting as the maximum)."""
    rows, classes = scores.shape
    for r in prange(rows):
        best = 0
        high = scores[r, 0]
        for c in range(1, classes):
            value = scores[r, c]
            if value > high or (value != value and high == high):
                best, high = c, value
        flat_top[r] = owner[r] * classes + best


@njit(cache=True, nogil=True)
def _tally(flat_top, counts):
    for r in range(flat_top.size):
        counts[flat_top[r]] += 1


def count_top_classes(scores, owner, counts, flat_top):
    """counts[owner[r], argmax scores[r]] += 1 for every row r.

    scores (rows, classes) float32/float64, owner (rows,) int64, counts
    (inputs * classes,) int64 updated in place, flat_top (>= rows,) int64 scratch."""
    rows = scores.shape[0]
    _top_classes(scores, owner, flat_top[:rows])
    _tally(flat_top[:rows], counts)
