"""Certification logs: one TSV per run in Cohen et al.'s format
(``idx label predict radius correct time``) plus ``sigma`` and ``pA``.

The first line, ``# idrs-fast <json>``, records the run's settings (among them the
model's fingerprint, sources.model_fingerprint). Rows are written one at a time (one write,
flush, fsync), so a killed run leaves at most one partial last line; reopening the
same run drops it and continues after the last complete row. A CertifyLog holds an
advisory lock on its file while it is open, so a second process on the same log
gets a ValueError instead of writing every row twice. Opening a log of another run
(other settings or another model) raises ValueError.

Readers (read_log, load_log) accept our logs and Cohen et al.'s; they ignore a
torn last line (no newline), and refuse a malformed row or an index written twice.
"""
import decimal
import fcntl
import json
import os
import pathlib

import numpy as np
from scipy.special import ndtr

COLUMNS = ("idx", "label", "predict", "radius", "correct", "time", "sigma", "pA")
MAGIC = "# idrs-fast "
HEADER = "\t".join(COLUMNS) + "\n"


ENVIRONMENT = "environment"          # recorded on the settings line, never compared


class CertifyLog:
    """A resumable, locked certification log at `path` for the run `settings` (a
    JSON-able dict). `environment` (package versions, device) is recorded beside
    them when the log is created and not compared: a run may resume on other
    hardware. `done` lists the indices already written. Use as a context manager or
    call close(); close(discard_if_empty=True) removes a log this object created
    when no row was written (a failed run leaves nothing behind)."""

    def __init__(self, path, settings, environment=None):
        self.path = pathlib.Path(path)
        self.settings = json.loads(json.dumps(settings, sort_keys=True))
        if ENVIRONMENT in self.settings:
            raise ValueError(f"settings may not use the key {ENVIRONMENT!r}")
        self.environment = json.loads(json.dumps(environment or {}, sort_keys=True))
        self.done = []
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory, not a log file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+b")
        try:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise ValueError(f"{self.path} is being written by another process "
                             "(two runs on one log would duplicate its rows)") from None
        try:
            self._handle.seek(0)
            text = self._handle.read()
            self.created = not text
            self._open(text)
        except BaseException:
            self._handle.close()
            raise

    def _start_text(self):
        recorded = {**self.settings, ENVIRONMENT: self.environment} if self.environment else self.settings
        return MAGIC + json.dumps(recorded, sort_keys=True) + "\n" + HEADER

    def _open(self, data):
        start = self._start_text()
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise ValueError(f"{self.path} is not an idrs-fast certification log "
                             "(not a text file)") from None
        if start.startswith(text):          # new, or killed inside its first lines
            self._replace_from(0, start)
            return
        lines = text.split("\n")
        if "\n" not in text:
            raise ValueError(f"{self.path}:1: not an idrs-fast certification log")
        recorded = _settings_line(self.path, lines[0])
        self.environment = recorded.pop(ENVIRONMENT, {})
        if recorded != self.settings:
            changed = sorted(k for k in set(recorded) | set(self.settings)
                             if recorded.get(k) != self.settings.get(k))
            raise ValueError(f"{self.path} belongs to another run (settings differ: {changed}); "
                             "choose another file or the same settings")
        if len(lines) == 2:                 # killed while writing the header
            if not HEADER.startswith(lines[1]):
                raise ValueError(f"{self.path}:2: expected the column header {COLUMNS}")
            self._replace_from(len(lines[0].encode()) + 1, HEADER)
            return
        if lines[1] + "\n" != HEADER:
            raise ValueError(f"{self.path}:2: expected the column header {COLUMNS}")
        rows = lines[2:]
        complete, torn = rows[:-1], rows[-1]          # '' or a partial last row
        for number, row in enumerate(complete, start=3):
            fields = row.split("\t")
            if len(fields) != len(COLUMNS) or not fields[0].isdigit():
                raise ValueError(f"{self.path}:{number}: malformed row {row[:60]!r}")
            self.done.append(int(fields[0]))
        if torn:                            # drop a partial last line, in place
            self._replace_from(len(data) - len(torn.encode()), "")

    def _replace_from(self, offset, text):
        """Truncate the file at byte `offset` and append `text` (under the lock)."""
        self._handle.truncate(offset)
        self._write(text)

    def _write(self, text):
        if text:
            self._handle.seek(0, os.SEEK_END)
            self._handle.write(text.encode())
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def write(self, idx, label, predict, radius, correct, seconds, sigma, p_a):
        self._write(f"{idx}\t{label}\t{predict}\t{radius:.6g}\t{int(correct)}\t{seconds:.4f}\t"
                    f"{sigma:.6g}\t{p_a:.10g}\n")
        self.done.append(int(idx))

    def write_fields(self, fields):
        """Write a row given as its text fields (as read_log returns them)."""
        self._write("\t".join(fields) + "\n")
        self.done.append(int(fields[0]))

    def close(self, discard_if_empty=False):
        """Release the lock; with discard_if_empty, delete the file if this object
        created it and wrote no row."""
        if self._handle.closed:
            return
        if discard_if_empty and self.created and not self.done:
            self.path.unlink(missing_ok=True)
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        self.close(discard_if_empty=kind is not None)


def _settings_line(path, line):
    if not line.startswith(MAGIC):
        raise ValueError(f"{path}:1: not an idrs-fast certification log")
    try:
        return json.loads(line[len(MAGIC):])
    except json.JSONDecodeError:
        raise ValueError(f"{path}:1: the settings line is not valid JSON") from None


def read_settings(path):
    """(settings, environment) of one of our logs; ValueError for anything else."""
    text = _text(path)
    recorded = _settings_line(path, text.split("\n", 1)[0])
    return recorded, recorded.pop(ENVIRONMENT, {})


def _text(path):
    path = pathlib.Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a log file")
    try:
        return path.read_bytes().decode()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a certification log (not a text file)") from None


def read_log(path):
    """The rows of a log (ours or Cohen et al.'s) as a dict of string lists by
    column, plus "_line": each row's line number. Comment lines (#) are skipped and
    a torn last line (no newline) is ignored; any other row whose field count
    differs from the header's is a ValueError naming its line."""
    lines = _text(path).split("\n")
    torn = lines.pop()                    # '' when the file ends with a newline
    numbered = [(n, line) for n, line in enumerate(lines, start=1)
                if line and not line.startswith("#")]
    if not numbered:
        raise ValueError(f"{path} is empty: no column header" if not torn else
                         f"{path}:{len(lines) + 1}: no complete line")
    (_, head), rows = numbered[0], numbered[1:]
    header = head.split("\t")
    out = {name: [] for name in header}
    out["_line"] = []
    for number, line in rows:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ValueError(f"{path}:{number}: {len(fields)} fields where the header has "
                             f"{len(header)}")
        for name, field in zip(header, fields):
            out[name].append(field)
        out["_line"].append(number)
    return out


def rounding_floor(text):
    """The lower end of the rounding interval of a printed decimal (half a unit of
    its last digit below it), rounded down to a float64."""
    return _rounding_end(text, -1)


def rounding_ceiling(text):
    """The upper end of the rounding interval of a printed decimal, rounded up to a
    float64 (the largest value the printed digits allow)."""
    return _rounding_end(text, 1)


def _rounding_end(text, side):
    value = decimal.Decimal(text)
    exponent = value.as_tuple().exponent
    end = value + side * decimal.Decimal(5).scaleb(exponent - 1)
    as_float = float(end)
    if side < 0 and decimal.Decimal(as_float) > end:
        return float(np.nextafter(as_float, -np.inf))
    if side > 0 and decimal.Decimal(as_float) < end:
        return float(np.nextafter(as_float, np.inf))
    return as_float


def load_log(path):
    """idx, label, predict, radius, correct of a log (ours or Cohen et al.'s) as
    NumPy arrays (the time column is left out: Cohen's is sometimes H:MM:SS), and
    radius_low: the lower end of each printed radius's rounding interval (from the
    digits actually present), for pa_from_log. ValueError naming the file and line
    for a missing column, a field that is not a number, or an index written twice."""
    rows = read_log(path)
    missing = [c for c in COLUMNS[:5] if c not in rows]
    if missing:
        raise ValueError(f"{path} is not a certification log: no column(s) {missing}")
    out = {}
    for c in COLUMNS[:5]:
        kind = np.float64 if c == "radius" else np.int64
        try:
            out[c] = np.array([kind(v) for v in rows[c]], dtype=kind)
        except ValueError:
            bad = next(i for i, v in enumerate(rows[c]) if not _parses(kind, v))
            raise ValueError(f"{path}:{rows['_line'][bad]}: {c} = {rows[c][bad]!r} is not "
                             f"{'a number' if kind is np.float64 else 'an integer'}") from None
    if not np.all(np.isfinite(out["radius"]) & (out["radius"] >= 0)):
        bad = int(np.argmax(~(np.isfinite(out["radius"]) & (out["radius"] >= 0))))
        raise ValueError(f"{path}:{rows['_line'][bad]}: radius = {rows['radius'][bad]} is not a "
                         "finite radius >= 0")
    values, first, counts = np.unique(out["idx"], return_index=True, return_counts=True)
    if np.any(counts > 1):
        twice = values[counts > 1][0]
        lines = [rows["_line"][i] for i in np.flatnonzero(out["idx"] == twice)]
        raise ValueError(f"{path}: index {twice} is written {len(lines)} times (lines "
                         f"{', '.join(map(str, lines))}); {int(np.sum(counts > 1))} duplicated "
                         "index(es): was the log written by two runs?")
    out["radius_low"] = np.array([rounding_floor(v) for v in rows["radius"]], dtype=np.float64)
    return out


def _parses(kind, text):
    try:
        kind(text)
        return True
    except ValueError:
        return False


def pa_from_log(log, sigma):
    """A lower bound of pA_lower for every row of a constant-sigma log (load_log's):
    Cohen's radius is sigma Phi^-1(pA), printed to 3 significant digits, so the
    printed value stands for any radius in its rounding interval; inverting its lower
    end, pA = Phi(radius_low / sigma), rounded down, never exceeds the bound the run
    proved (inverting the printed value itself could exceed it by up to 7e-4). 1/2
    (abstain) for predict = -1 and where the interval reaches 0."""
    if "radius_low" not in log:
        raise ValueError("pa_from_log needs the radius_low column of load_log")
    z = np.maximum(log["radius_low"], 0.0) / sigma
    upper_tail = ndtr(-z) * (1.0 + 1e-14)          # ndtr's relative error, rounded up
    p_a = np.nextafter(1.0 - upper_tail, 0.0)
    return np.where((log["predict"] < 0) | (z <= 0.0), 0.5, p_a)
