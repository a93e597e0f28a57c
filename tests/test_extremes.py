"""The whole float64 range: ncx2 answers a probability (or the true limit) for every
x, df and nc, the radius refuses dimensions it cannot stand by (it used to answer
Cohen's radius at dim = 1e50), and the saddlepoint range meets independent values
(the incomplete gamma by mpmath quadrature, the leading large-deviation terms)."""
import warnings

import numpy as np
import pytest
import scipy.stats

import idrs_fast
from idrs_fast import ncx2
from idrs_fast.kernels.ball import MAX_DIM
from reference import central_log_tails

XS = np.array([1e-300, 1e-100, 1e-10, 0.5, 5, 1e4, 1e8, 1e12, 1e16, 3e18, 1e20, 1e50, 1e100,
               1e200, 1e300, 1.7e308])
DFS = np.array([0.5, 1, 1.005, 1.5, 2, 3, 1e3, 1e6, 1e12, 1e13, 1e16, 1e18, 1e50, 1e100, 1e300])
NCS = np.array([0, 1e-300, 1e-10, 1, 1e3, 1.1e3, 1e6, 1e16, 1e20, 1e100, 1e200, 1e300, 1.7e308])


def test_every_value_is_a_probability_over_the_float64_range():
    """sf(3e18, 2, 1) was inf, logsf(1e20, 3, 1) +inf, cdf(5, 2, 1e200) inf."""
    x, df, nc = (a.ravel() for a in np.meshgrid(XS, DFS, NCS, indexing="ij"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cdf, sf = ncx2.cdf(x, df, nc), ncx2.sf(x, df, nc)
        log_cdf, log_sf = ncx2.logcdf(x, df, nc), ncx2.logsf(x, df, nc)
        pdf, log_pdf = ncx2.pdf(x, df, nc), ncx2.logpdf(x, df, nc)
    for name, p in (("cdf", cdf), ("sf", sf)):
        bad = ~((p >= 0) & (p <= 1))
        assert not bad.any(), (name, x[bad][:3], df[bad][:3], nc[bad][:3], p[bad][:3])
    assert np.all(np.abs(cdf + sf - 1) < 1e-12)
    assert np.all(log_cdf <= 0) and np.all(log_sf <= 0)
    assert np.all((pdf >= 0) & np.isfinite(pdf)) and not np.isnan(log_pdf).any()


def test_far_tails_follow_their_leading_large_deviation_term():
    """log P = -(sqrt(x) - sqrt(nc))^2 / 2 + O(log x) far from the mean."""
    def lead(x, nc):
        return -0.5 * (np.sqrt(x) - np.sqrt(nc)) ** 2
    assert ncx2.sf(3e18, 2, 1) == 0.0
    assert ncx2.logsf(3e18, 2, 1) == pytest.approx(lead(3e18, 1), rel=1e-15)
    assert ncx2.logsf(1e20, 3, 1) == pytest.approx(lead(1e20, 1), rel=1e-17)
    assert ncx2.cdf(5, 2, 1e200) == 0.0
    assert ncx2.logcdf(5, 2, 1e200) == pytest.approx(lead(5, 1e200), rel=1e-15)


@pytest.mark.parametrize("df, x", [(1e13, 1e13 + 3e6), (1e13, 1e13 - 4.5e7), (1e15, 1e15 - 1e8)])
def test_saddlepoint_range_against_mpmath_incomplete_gamma(df, x):
    """Above MAX_DIM (kernels/ball.py) the saddlepoint approximation answers; at nc = 0 the law
    is the central chi-square, its two tails by mpmath quadrature of the density."""
    lower, upper = central_log_tails(df, x)
    assert ncx2.logsf(x, df, 0.0) == pytest.approx(upper, rel=1e-12, abs=1e-14)
    assert ncx2.logcdf(x, df, 0.0) == pytest.approx(lower, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("df, nc", [(1e13, 1e14), (5.0, 1e300), (1e300, 1e300), (2.0, 1e20)])
def test_quantiles_invert_the_tails_at_extreme_parameters(df, nc):
    """q lies between the tail probabilities at the float64 neighbours of the
    quantile (at nc = 1e300 one ulp of x is 1e134 standard deviations)."""
    q = np.array([1e-300, 1e-10, 0.3, 0.5, 0.9999])
    for quantile, tail, rising in ((ncx2.ppf, ncx2.cdf, True), (ncx2.isf, ncx2.sf, False)):
        x = quantile(q, df, nc)
        below, above = tail(np.nextafter(x, 0) * (1 - 2e-16), df, nc), tail(np.nextafter(x, np.inf) * (1 + 2e-16), df, nc)
        if not rising:
            below, above = above, below
        assert np.all((below <= q * (1 + 1e-9)) & (q <= above * (1 + 1e-9))), (x, below, above)


def test_infinite_df_gives_the_limits():
    assert ncx2.cdf(1e300, np.inf, 1.0) == 0.0 and ncx2.sf(1e300, np.inf, 1.0) == 1.0
    assert ncx2.pdf(5.0, np.inf, 1.0) == 0.0 and ncx2.ppf(0.5, np.inf, 1.0) == np.inf


def test_quantile_of_nan_or_negative_q_is_a_silent_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ncx2.ppf([np.nan, -0.5, 1.5], 3, 1.0), ncx2.isf([np.nan, -0.5], 3, 1.0)
    assert np.isnan(out[0]).all() and np.isnan(out[1]).all()


@pytest.mark.parametrize("df", [3.9e6, 4.1e6, 1e7, 1e8, 1e9, 1e10])
def test_tails_at_huge_df_and_small_nc_match_scipy(df):
    """Above ~1e7 with nc << df the ball integral missed the chord's sharp cut-off and
    passed its own error test: logcdf(1000151368.5605808, 1e9, 163234.92710261824) was
    -0.9279368 against -0.9278680 (relative errors 7e-5 at df = 1e8, 1e-2 at 1e11).
    scipy (Boost's series) is right here: it agrees with the saddlepoint to 1e-14 (at
    1e11 it is not: its cdf is NaN above the mean and its sf at the mean 0.4999955)."""
    nc = np.array([1e3, 1e4, 163234.92710261824, 1e6])[:, None]
    z = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    x = df + nc + z * np.sqrt(2 * (df + 2 * nc))
    for ours, theirs in ((ncx2.cdf, scipy.stats.ncx2.cdf), (ncx2.sf, scipy.stats.ncx2.sf)):
        np.testing.assert_allclose(ours(x, df, nc), theirs(x, df, nc), rtol=1e-10, atol=0)
    assert ncx2.logcdf(1000151368.5605808, 1e9, 163234.92710261824) == pytest.approx(
        scipy.stats.ncx2.logcdf(1000151368.5605808, 1e9, 163234.92710261824), rel=1e-12)


def test_the_radius_falls_with_dim_and_is_refused_beyond_the_verified_range():
    """certified_radius(0.999, .25, .01, 1e50) returned Cohen's 0.7726; above ~1e15 the
    radius was not monotone and xi_greater(0, .25, .24, 1e20, .001) was NaN; from ~1e7
    its masses were wrong (the test above), so it is refused above MAX_DIM = 4e6."""
    dims = np.geomspace(1e3, MAX_DIM, 200)
    radius = idrs_fast.certified_radius(0.999, 0.25, 0.01, dims)
    assert np.all(np.diff(radius) < 0)
    steps = np.diff(radius * np.sqrt(dims))    # R ~ c / sqrt(N) for large N: R sqrt(N)
    assert np.all(steps > 0) and steps[-1] < steps.max() / 5   # rises to its limit
    for call in (lambda: idrs_fast.certified_radius(0.999, .25, .01, 1e50),
                 lambda: idrs_fast.certified_radius(0.999, .25, .01, [3072, 1e13]),
                 lambda: idrs_fast.certified_radius(0.999, .25, .01, 1e8),
                 lambda: idrs_fast.certified_radius(0.999, .25, .01, 1.005),
                 lambda: idrs_fast.xi_greater(0, .25, .24, 1e20, .001),
                 lambda: idrs_fast.xi_smaller(0, .25, .26, 1e20, .001)):
        with pytest.raises(ValueError, match="dim"):
            call()


def test_one_element_arrays_raise_no_numba_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert idrs_fast.certified_radius([0.999], .25, .01, 3072).shape == (1,)
        assert ncx2.cdf([5.0], 3, 1.0).shape == (1,)


@pytest.mark.parametrize("df", [0.5, 1.005])
@pytest.mark.parametrize("nc", [1e12, 1e14])
def test_fractional_df_at_large_nc_is_nearly_normal(df, nc):
    """For 0 < df < 1.01 the values came from scipy, whose cdf at the mean is 0.57 at
    nc = 1e12 and 0.65 at 1e14; the law is normal to within its skewness ~1.5/sqrt(nc)."""
    from scipy.stats import norm
    z = np.array([-5.0, -1.0, 0.0, 1.0, 5.0])
    x = nc + df + z * np.sqrt(2 * df + 4 * nc)
    np.testing.assert_allclose(ncx2.cdf(x, df, nc), norm.cdf(z), atol=1e-5)
    np.testing.assert_allclose(ncx2.logsf(x, df, nc), norm.logsf(z), rtol=1e-4)
