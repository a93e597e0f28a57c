"""Regularized incomplete gamma ratios (kernels/gamma.py) against mpmath
(tests/reference.log_gamma_ratios), in each of the three expansions' domains, and
the Poisson-mixture path of the noncentral chi-square against the ball integral."""
import math

import mpmath as mp
import numpy as np
import pytest
from numba import njit

import reference
from idrs_fast.kernels.gamma import log_gamma_ratios



@njit(cache=True)
def _ratios(b, y):
    # called from njit code, as the backend calls kernels
    return log_gamma_ratios(b, y)


TEMME = [(b, b * (1 + s)) for b in (25.0, 150.0, 3000.0, 98304.0)
         for s in (-0.29, -0.05, 0.0, 1e-3, 0.2, 0.29)]
SERIES = [(b, b * f) for b in (0.5, 1.0, 5.0, 20.0, 150.0, 3000.0) for f in (1e-7, 0.3, 0.69, 0.98)]
FRACTION = [(b, b * f + 0.5) for b in (0.5, 1.0, 5.0, 20.0, 150.0, 3000.0, 98304.0) for f in (1.02, 1.31, 3.0, 20.0)]
# y >> b: the continued fraction's factors settle one ulp away from 1 (its stopping
# test once asked for less than that and gave NaN; the ball's P(W > rho) at lam ~ 1e15)
FRACTION += [(1535.5, 1838543416976585.0), (391.5, 1064910408849.1905), (6.7288, 2144946326169.0527)]


@pytest.mark.parametrize("b, y", TEMME + SERIES + FRACTION)
def test_smaller_ratio_matches_mpmath(b, y):
    """Relative error of the smaller ratio within 1e-14, what rounding y costs
    (|d log S / d log y| = b g(b, y) / S times 2^-53), or 2e-15 |log S| (the log's
    own rounding); the larger within 1e-15."""
    mp.mp.dps = 40
    ref_p, ref_q = reference.log_gamma_ratios(b, y)
    log_p, log_q = _ratios(b, y)
    small_is_q = ref_q < ref_p
    ref, ours, large_ref, large = (ref_q, log_q, ref_p, log_p) if small_is_q else (ref_p, log_p, ref_q, log_q)
    log_g = b * mp.log(y) - y - mp.loggamma(b + 1)
    slope = b * mp.exp(log_g - ref)
    allowed = max(1e-14, 2.0 * 1.1e-16 * float(slope), 2e-15 * abs(float(ref)))
    assert abs(float(mp.expm1(ours - ref))) <= allowed
    assert abs(float(mp.expm1(large - large_ref))) <= 1e-15


def test_edges():
    assert _ratios(3.0, 0.0) == (-math.inf, 0.0)
    assert _ratios(3.0, math.inf) == (0.0, -math.inf)
    # far beyond the expansions' reach the result is still a finite log
    log_p, log_q = _ratios(98304.0, 1e7)
    assert np.isfinite(log_q) and log_q < -9e6 and log_p == 0.0
