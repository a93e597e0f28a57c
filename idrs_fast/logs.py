"""Certification logs: one TSV per run in Cohen et al.'s format
(``idx label predict radius correct time``) plus ``sigma`` and ``pA``.

The first line, ``# idrs-fast <json>``, records the run's settings. Rows are written
one at a time (one write, flush, fsync), so a killed run leaves at most one partial
last line; reopening the same run drops it and continues after the last complete
row. Opening a log of another run raises ValueError.
"""
import json
import os
import pathlib

import numpy as np
from scipy.special import ndtr

COLUMNS = ("idx", "label", "predict", "radius", "correct", "time", "sigma", "pA")
MAGIC = "# idrs-fast "


class CertifyLog:
    def __init__(self, path, settings):
        self.path = pathlib.Path(path)
        self.settings = json.loads(json.dumps(settings, sort_keys=True))
        self.done = []
        if self.path.exists() and self.path.stat().st_size > 0:
            self._resume()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write(MAGIC + json.dumps(self.settings, sort_keys=True) + "\n"
                        + "\t".join(COLUMNS) + "\n", mode="w")

    def _resume(self):
        text = self.path.read_text()
        lines = text.split("\n")
        if not lines[0].startswith(MAGIC):
            raise ValueError(f"{self.path} is not an idrs-fast certification log")
        recorded = json.loads(lines[0][len(MAGIC):])
        if recorded != self.settings:
            changed = sorted(k for k in set(recorded) | set(self.settings)
                             if recorded.get(k) != self.settings.get(k))
            raise ValueError(f"{self.path} belongs to another run (settings differ: {changed}); "
                             "choose another file or the same settings")
        rows = lines[2:-1]          # the last element is '' or a partial row: dropped
        kept = [r for r in rows if len(r.split("\t")) == len(COLUMNS)]
        self.done = [int(r.split("\t")[0]) for r in kept]
        # rewrite without a partial last line, atomically
        clean = "\n".join(lines[:2] + kept) + "\n"
        if clean != text:
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(clean)
            os.replace(tmp, self.path)

    def _write(self, text, mode="a"):
        with self.path.open(mode) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def write(self, idx, label, predict, radius, correct, seconds, sigma, p_a):
        self._write(f"{idx}\t{label}\t{predict}\t{radius:.6g}\t{int(correct)}\t{seconds:.4f}\t"
                    f"{sigma:.6g}\t{p_a:.10g}\n")
        self.done.append(int(idx))


def read_log(path):
    """The rows of a log (ours or Cohen et al.'s) as a dict of string lists by column."""
    lines = [line for line in pathlib.Path(path).read_text().split("\n")
             if line and not line.startswith("#")]
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:] if len(line.split("\t")) == len(header)]
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def load_log(path):
    """idx, label, predict, radius, correct of a log (ours or Cohen et al.'s) as
    NumPy arrays (the time column is left out: Cohen's is sometimes H:MM:SS)."""
    rows = read_log(path)
    missing = [c for c in COLUMNS[:5] if c not in rows]
    if missing:
        raise ValueError(f"{path} is not a certification log: no column(s) {missing}")
    out = {c: np.asarray(rows[c], dtype=np.float64) for c in COLUMNS[:5]}
    for c in ("idx", "label", "predict", "correct"):
        out[c] = out[c].astype(np.int64)
    return out


def pa_from_log(log, sigma):
    """pA_lower of every row of a constant-sigma log: Cohen's radius is
    sigma Phi^-1(pA), so pA = Phi(radius / sigma) (to the printed digits); 1/2 for
    abstentions (predict = -1)."""
    return np.where(log["predict"] < 0, 0.5, ndtr(log["radius"] / sigma))
