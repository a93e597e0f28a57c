"""ncx2.chndtrinc (the noncentrality of a given cdf) against the mpmath references of
tests/data (N from 1 to 196608, lambda up to 1e16): the nc that mpmath's tail value
came from is found again, to within what the float64 rounding of p allows; and
scipy.special.chndtrinc's conventions."""
import json
import pathlib

import mpmath as mp
import numpy as np
import pytest
import scipy.special

from idrs_fast import ncx2

DATA = pathlib.Path(__file__).with_name("data")


def _cases():
    rows = []
    for name in ("ncx2_reference.json", "ncx2_random_reference.json"):
        rows += json.loads((DATA / name).read_text())
    out = []
    for r in rows:
        log_p = mp.mpf(r["log_p"])
        tail = float(mp.exp(log_p))
        if r["nc"] <= 0 or tail <= 1e-300 or (r["upper"] and tail < 1e-13):
            continue
        p = float(-mp.expm1(log_p)) if r["upper"] else tail
        if 0.0 < p < 1.0:
            out.append((r["x"], r["df"], r["nc"], p))
    return [np.array(v) for v in zip(*out)]


def test_chndtrinc_recovers_the_noncentrality_of_mpmaths_tail_values():
    x, df, nc, p = _cases()
    assert nc.max() >= 1e12 and df.max() == 196608 and x.size > 250
    got = ncx2.chndtrinc(x, df, p)
    # what the inputs allow: the tail's relative error (1e-12: ncx2's verified accuracy
    # in the far tails, plus the float64 rounding of p near 1) over the tail's
    # sensitivity to nc (|d log tail / d log nc|, by a difference quotient)
    upper = p > 0.5
    tail = np.where(upper, 1.0 - p, p)
    log_tail = lambda v: np.where(upper, ncx2.logsf(x, df, v), ncx2.logcdf(x, df, v))  # noqa: E731
    sensitivity = np.abs(log_tail(nc * (1 + 1e-6)) - log_tail(nc * (1 - 1e-6))) / 2e-6
    allowed = 2 * (1e-12 + 1.2e-16 * upper / tail) / np.maximum(sensitivity, 1e-300) + 1e-13
    relative = np.abs(got / nc - 1.0)
    assert np.all(relative <= allowed), (x[relative > allowed], df[relative > allowed])
    assert np.median(relative) < 1e-14


def test_chndtrinc_follows_scipys_conventions():
    assert ncx2.chndtrinc(5.0, 3.0, 0.1) == pytest.approx(scipy.special.chndtrinc(5.0, 3.0, 0.1), rel=1e-13)
    assert ncx2.chndtrinc(5.0, 3.0, 0.99) == 0.0              # cdf(5; 3, 0) = 0.83 < 0.99
    for bad in ((0.0, 3.0, 0.5), (5.0, -1.0, 0.5), (5.0, 3.0, 0.0), (5.0, 3.0, 1.0),
                (5.0, 3.0, 1.5), (5.0, 3.0, np.nan)):
        assert np.isnan(ncx2.chndtrinc(*bad)) and np.isnan(scipy.special.chndtrinc(*bad))
    out = ncx2.chndtrinc([[1e3], [1e4]], 64, [0.2, 0.5, 0.8])
    assert out.shape == (2, 3) and np.all(np.diff(out, axis=1) < 0)   # larger p: smaller nc
