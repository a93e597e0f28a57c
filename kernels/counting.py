"""The vote of one sample, one source for the CPU (idrs_fast/_counting.py) and CUDA
(idrs_fast/_cuda.py)."""
from ._jit import kernel


@kernel
def top_class(scores, r):
    """The first maximum of row r of scores (rows, classes), or `classes` where a score
    of the row is NaN or infinite (a sample that votes for no class)."""
    classes = scores.shape[1]
    best = 0
    high = scores[r, 0]
    finite = high - high == 0.0
    for c in range(1, classes):
        value = scores[r, c]
        finite = finite and value - value == 0.0
        if value > high:
            best, high = c, value
    return best if finite else classes
