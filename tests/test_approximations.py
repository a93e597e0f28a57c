"""The two approximations the fast paths stand on: Cody's erfcx (kernels/normal.py),
which the ball integral's nodes use in place of erfc, against scipy and mpmath; and
Sankaran's closed-form model of the ball mass (kernels/sankaran.py), which only
proposes starting points, against the exact (mpmath-validated) ball score."""
import math

import mpmath as mp
import numpy as np
import pytest
import scipy.special
from numba import njit

from idrs_fast import _backend
from idrs_fast.kernels.normal import ERF_SMALL_MAX, erf_small, erfcx_large, half_erfc_scaled
from idrs_fast.kernels.sankaran import model_margin, model_score


@njit(cache=True)
def _half_erfc(y):
    return half_erfc_scaled(y)


def test_cody_erfcx_matches_scipy():
    y = np.concatenate([np.linspace(ERF_SMALL_MAX, 4.0, 2001), np.linspace(4.0, 30.0, 2001),
                        np.geomspace(30.0, 1e8, 200)])
    ours = np.array([erfcx_large(v) for v in y])
    np.testing.assert_allclose(ours, scipy.special.erfcx(y), rtol=1e-15, atol=0)   # 4 ulp
    small = np.linspace(-ERF_SMALL_MAX, ERF_SMALL_MAX, 1001)
    np.testing.assert_allclose([erf_small(v) for v in small], scipy.special.erf(small),
                               rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("y", [-25.0, -3.7, -1.0, -0.46875, -1e-9, 0.0, 0.3, 0.46875,
                               0.5, 1.35, 2.742, 3.99, 4.0, 4.01, 10.0, 14.1, 25.9])
def test_half_erfc_scaled_against_mpmath(y):
    """c exp(e) = erfc(y) / 2 to 1e-15 (compiled, as the nodes call it), e = -y^2 only
    where the exponential is folded into the caller's exponent."""
    c, e = _half_erfc(y)
    with mp.workdps(40):
        exact = mp.erfc(mp.mpf(y)) / 2
        assert abs(mp.mpf(c) * mp.exp(mp.mpf(e)) / exact - 1) < 1e-15
    assert (e == -y * y) if y >= ERF_SMALL_MAX else e == 0.0


def _exact_score(d, m, dim):
    log_p, work = _backend.run("ball_log_mass", np.array([d]), np.array([m]),
                               np.array([dim]), upper=False)
    return float(scipy.special.ndtri(np.exp(log_p[0]))) if log_p[0] > -700 else math.nan


@pytest.mark.parametrize("dim, bound", [(64.0, 2e-2), (3072.0, 3e-4), (150528.0, 1e-5)])
def test_sankaran_model_is_close_to_the_exact_score(dim, bound):
    """Measured: 1.5e-2 (N = 64), 2.5e-4 (3072), 5.4e-6 (150528) at the worst of these
    points; the radius and quantile searches need only a start, but a model that got
    worse would cost them steps."""
    worst = 0.0
    for d in (0.0, 10.0, 200.0, 2e4):
        for z in (-3.7, -2.3, 0.0, 2.3):
            m = model_margin(d, z, dim)
            exact = _exact_score(d, m, dim)
            worst = max(worst, abs(exact - z))
    assert worst < bound


def test_sankaran_model_inverts_and_has_the_half_space_limit():
    for dim in (2.0, 64.0, 3072.0, 196608.0):
        for d in (0.0, 1.0, 300.0, 1e7):
            for z in (-5.0, -1.0, 0.0, 2.0, 6.0):
                m = model_margin(d, z, dim)
                if d + m <= 0.0:
                    continue
                score, slope = model_score(d, m, dim)
                assert abs(score - z) < 1e-9 * (1 + abs(z))
                h = 1e-6 * (1 + abs(m))
                numeric = (model_score(d, m + h, dim)[0] - model_score(d, m - h, dim)[0]) / (2 * h)
                assert abs(slope / numeric - 1) < 1e-5
    # d -> inf with the margin fixed: the ball is the half-space, P = Phi(m) (the
    # score's first correction is -N / (2 d))
    for m in (-3.0, 0.5, 4.0):
        assert abs(model_score(1e13, m, 3072.0)[0] - m) < 1e-9
        assert model_score(1e120, m, 3072.0) == (m, 1.0)
