"""Read the certification logs of Cohen et al.'s `smoothing` code (TSV with header
``idx label predict radius correct time``) and recover pA from them.

Their radius is sigma Phi^-1(pA_lower), so pA_lower = Phi(radius / sigma); the logs
print 3 significant figures, so the recovered pA is that precise. An abstention
(predict = -1) gets pA = 1/2 (radius 0 under any certificate).
"""
import csv
import pathlib

import numpy as np
from scipy.special import ndtr

COLUMNS = ("idx", "label", "predict", "radius", "correct")


def read_cohen_log(path):
    """Columns idx, label, predict, radius, correct of one log as NumPy arrays."""
    path = pathlib.Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} is not a certification log: no column(s) {missing}")
        rows = list(reader)
    out = {c: np.array([row[c] for row in rows], dtype=np.float64) for c in COLUMNS}
    for c in ("idx", "label", "predict", "correct"):
        out[c] = out[c].astype(np.int64)
    return out


def pa_from_log(log, sigma):
    """pA_lower of every row: Phi(radius / sigma), 1/2 for abstentions."""
    p_a = ndtr(log["radius"] / sigma)
    return np.where(log["predict"] < 0, 0.5, p_a)
