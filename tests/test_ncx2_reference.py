"""idrs_fast.ncx2 against the 40-digit mpmath references in tests/data (written by
tests/make_reference.py): cdf/sf relative error, quantile relative error, no NaN,
no warning, bounded work."""
import json
import pathlib
import warnings

import numba
import numpy as np
import pytest
import scipy.stats

from idrs_fast import _backend, ncx2
from idrs_fast.kernels import ball
from idrs_fast.kernels import ncx2 as ncx2_kernels
from idrs_fast.kernels.poisson import POISSON_MAX_NC

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "ncx2_reference.json").read_text())
DF = np.array([r["df"] for r in DATA], dtype=float)
NC = np.array([r["nc"] for r in DATA])
X = np.array([r["x"] for r in DATA])
UPPER = np.array([r["upper"] for r in DATA])
LOG_P = np.array([float(r["log_p"]) for r in DATA])
P = np.array([r["p"] for r in DATA])


def float64_floor(x, df, nc):
    """What rounding x to float64 costs a tail probability: |dlog P / dlog x| * 2^-53,
    with the normal approximation |z| * x / sd(X) for the log-slope (NCX2_NOTES.md)."""
    sd = np.sqrt(2.0 * (df + 2.0 * nc))
    z = np.abs(x - df - nc) / sd
    return 1.1e-16 * np.maximum(z, 1.0) * x / sd


def test_reference_covers_the_box():
    assert set(DF) >= {1, 2, 3, 64, 3072, 196608}
    assert NC.max() >= 1e16 and NC.min() == 0.0
    assert np.exp(LOG_P).min() <= 1e-299



def _relative_errors():
    ours = np.where(UPPER, ncx2.logsf(X, DF, NC), ncx2.logcdf(X, DF, NC))
    return np.abs(np.expm1(ours - LOG_P)), ours


def test_tail_probabilities_match_mpmath():
    errors, ours = _relative_errors()
    assert np.all(np.isfinite(ours))
    # 1e-13, the float64 floor, or in the far tails 2e-15 |log P| (the relative
    # error of P is the absolute error of log P, which float64 carries to ~eps |log P|)
    allowed = np.maximum.reduce([np.full(X.shape, 1e-13), float64_floor(X, DF, NC), 2e-15 * np.abs(LOG_P)])
    worst = np.argsort(errors / allowed)[-5:]
    report = [(DF[i], NC[i], X[i], UPPER[i], errors[i], allowed[i]) for i in worst]
    assert np.all(errors <= allowed), report


def _off_grid(name):
    return json.loads((pathlib.Path(__file__).parent / "data" / name).read_text())


@pytest.mark.parametrize("name", ["ncx2_random_reference.json", "ncx2_near_one_reference.json"])
def test_off_grid_points_match_mpmath(name):
    """Off-grid points (tests/make_reference.py --random: lam log-uniform in [1e-3, 1e8],
    N from 1.5 to 196608; --near-one: N uniform in [1.01, 1.6), lam up to 1e12; x from
    -35 to +35 standard deviations, the smaller tail), all by mpmath's Z1 integral:
    the same bound as on the grid. (Before the ball integral took x - rho^2 into
    account, rho = sqrt(x)'s own rounding cost it 2.3 floors at N ~ 2e5; before the
    trapezoid's reach grew and its tolerance tightened below N = 2, N = 1.0003 was
    off by a factor 1.7 and N = 1.5 by 7 floors; before the chi density carried
    sqrt(nu) to twice float64's precision, N = 196608 reached 1.35 floors.)"""
    records = _off_grid(name)
    df, nc, x = (np.array([r[k] for r in records], dtype=float) for k in ("df", "nc", "x"))
    upper = np.array([r["upper"] for r in records])
    log_p = np.array([float(r["log_p"]) for r in records])
    ours = np.where(upper, ncx2.logsf(x, df, nc), ncx2.logcdf(x, df, nc))
    errors = np.abs(np.expm1(ours - log_p))
    allowed = np.maximum.reduce([np.full(x.shape, 1e-13), float64_floor(x, df, nc), 2e-15 * np.abs(log_p)])
    worst = np.argsort(errors / allowed)[-5:]
    assert np.all(errors <= allowed), [(df[i], nc[i], x[i], upper[i], errors[i], allowed[i]) for i in worst]


def test_large_dimension_nodes_agree_with_mpmath_to_1e13():
    """N >= 150528 at the points where chi's w - sqrt(N - 1) once came from w's own
    rounding (tests/make_reference.py LARGE_N_REGRESSIONS: errors of 2.5-4.6e-13,
    inside the float64 floor there): from the gap rho - w, chi and chord see the
    same node and every error is within 1e-13 (at most 6.4e-14 when written)."""
    records = _off_grid("ncx2_large_n_reference.json")
    assert len(records) == 16
    df, nc, x = (np.array([r[k] for r in records], dtype=float) for k in ("df", "nc", "x"))
    upper = np.array([r["upper"] for r in records])
    log_p = np.array([float(r["log_p"]) for r in records])
    ours = np.where(upper, ncx2.logsf(x, df, nc), ncx2.logcdf(x, df, nc))
    errors = np.abs(np.expm1(ours - log_p))
    assert errors.max() <= 1e-13, [(df[i], nc[i], x[i], errors[i]) for i in np.argsort(errors)[-3:]]


@pytest.mark.parametrize("df", [1.0001, 1.005])
def test_df_just_above_one_comes_from_scipy(df):
    """1 < df < 1.01 is outside the kernels (NaN there: chi_(df-1) piles its mass at
    w = 0 beyond the quadrature's reach); the facade returns scipy's values, which
    agree with mpmath here."""
    x, nc = np.array([2900.0, 3100.0, 3700.0]), np.full(3, 3283.8)
    assert np.all(np.isnan(_backend.run("ncx2_log_tail", x, np.full(3, df), nc, upper=False)))
    np.testing.assert_array_equal(ncx2.logcdf(x, df, nc), scipy.stats.ncx2.logcdf(x, df, nc))
    np.testing.assert_array_equal(ncx2.isf(1e-3, df, nc), scipy.stats.ncx2.isf(1e-3, df, nc))


def test_cdf_and_sf_agree_with_their_logs_and_each_other():
    cdf, sf = ncx2.cdf(X, DF, NC), ncx2.sf(X, DF, NC)
    np.testing.assert_allclose(cdf, np.exp(ncx2.logcdf(X, DF, NC)), rtol=1e-15, atol=0)
    np.testing.assert_allclose(cdf + sf, 1.0, rtol=0, atol=4e-16)


def test_quantiles_match_mpmath():
    """x = ppf(p) is the stored point; mpmath's log P(x) differs from log p by
    kappa * (relative error of x), kappa = d log P / d log x (from our own cdf, which
    the test above validates), so the quantile's relative error is that ratio."""
    ours = np.where(UPPER, ncx2.isf(P, DF, NC), ncx2.ppf(P, DF, NC))
    step = 1e-7
    logf = lambda x: np.where(UPPER, ncx2.logsf(x, DF, NC), ncx2.logcdf(x, DF, NC))
    kappa = np.abs(logf(X * (1 + step)) - logf(X * (1 - step))) / (2 * step)
    relative = np.abs(LOG_P - np.log(P)) / kappa + np.abs(ours / X - 1.0)
    worst = np.argsort(relative)[-5:]
    assert np.all(relative <= 1e-12), [(DF[i], NC[i], P[i], UPPER[i], relative[i]) for i in worst]


def test_ppf_of_the_complement_uses_the_small_tail():
    # ppf(1 - p) = isf(p) for p that 1 - p represents exactly
    small = P <= 1e-5
    p = np.where(small, 2.0 ** -20, P)
    np.testing.assert_allclose(ncx2.ppf(1.0 - p, DF, NC), ncx2.isf(p, DF, NC), rtol=1e-13)


def test_no_warning_and_no_nan_anywhere_in_the_box():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            values = [ncx2.logcdf(X, DF, NC), ncx2.logsf(X, DF, NC), ncx2.ppf(P, DF, NC), ncx2.isf(P, DF, NC)]
    assert all(np.all(~np.isnan(v)) for v in values)


@pytest.mark.parametrize("dim", [1.0, 2.0, 64.0, 3072.0, 196608.0])
def test_work_is_bounded_and_flat_in_lambda(dim):
    """Work per ball mass from lambda = 0 to 1e16, from the centre to the 1e-300 tails.
    Up to POISSON_MAX_NC the Poisson mixture's terms grow like sqrt(lambda) (at most
    20 (10 + sqrt(lambda)), ~830 at the switch); above it the integral's evaluations
    stay under a fixed bound and do not grow with lambda."""
    lam = np.concatenate([[0.0], np.logspace(-3, 16, 39), [POISSON_MAX_NC]])
    z = np.linspace(-30.0, 30.0, 13)
    lam, z = [a.ravel() for a in np.meshgrid(lam, z)]
    x = dim + lam + z * np.sqrt(2 * (dim + 2 * lam))
    keep = x > 0
    lam, x = lam[keep], x[keep]
    d = np.sqrt(lam)
    margin = (x - lam) / (np.sqrt(x) + d)
    series = (lam <= POISSON_MAX_NC) & (dim > 1)
    for upper in (False, True):
        log_p, work = _backend.run("ball_log_mass", d, margin, np.full_like(d, dim), upper=upper)
        assert np.all(np.isfinite(log_p) | (log_p == -np.inf))
        assert np.all(work[series] <= 20 * (10 + np.sqrt(lam[series])))
        assert work[~series].max() <= 450
        assert work[lam >= 1e8].max() <= work[~series & (lam <= 1e4)].max()



@pytest.mark.parametrize("dim", [2.0, 64.0, 3072.0, 196608.0])
def test_lower_poisson_sum_stops_where_its_terms_end(dim):
    """Below the mean the Poisson mixture sums w_j P(a + j, y) downwards; the terms past
    mu - O(sqrt mu) are below its cut, and the sum stops there (18 sqrt(mu) terms at
    most; summing down to j = 0, as before, took up to 32 sqrt(mu) at lambda = 1e3)."""
    lam = POISSON_MAX_NC
    x = dim + lam + np.linspace(-8.0, -0.3, 12) * np.sqrt(2 * (dim + 2 * lam))
    x = x[x > 0]
    d = np.full_like(x, np.sqrt(lam))
    margin = (x - lam) / (np.sqrt(x) + d)
    log_p, work = _backend.run("ball_log_mass", d, margin, np.full_like(d, dim), upper=False)
    assert np.all(work <= 18 * np.sqrt(lam / 2))
    np.testing.assert_allclose(log_p, scipy.stats.ncx2.logcdf(x, dim, lam), rtol=1e-11)


PDF = json.loads((pathlib.Path(__file__).parent / "data" / "ncx2_pdf_reference.json").read_text())


def test_density_matches_mpmath():
    """logpdf at the same x against the 40-digit density (Poisson mixture, or the Z1
    integral of the chi-square density at lam > 1e3): within 1e-13, the float64
    floor of x, or 2e-15 |log f| in the far tails."""
    df, nc, x = (np.array([r[k] for r in PDF], dtype=float) for k in ("df", "nc", "x"))
    log_f = np.array([float(r["log_pdf"]) for r in PDF])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = ncx2.logpdf(x, df, nc)
    errors = np.abs(np.expm1(ours - log_f))
    allowed = np.maximum.reduce([np.full(x.shape, 1e-13), float64_floor(x, df, nc), 2e-15 * np.abs(log_f)])
    worst = np.argsort(errors / allowed)[-5:]
    assert np.all(errors <= allowed), [(df[i], nc[i], x[i], errors[i], allowed[i]) for i in worst]
    np.testing.assert_allclose(ncx2.pdf(x, df, nc), np.exp(log_f), rtol=1e-11, atol=0)


def test_density_edges():
    """scipy's NaN for bad parameters and 0 below the support; at x = 0 and x = inf
    the true limits (scipy returns 0 at x = 0 for every df and NaN at inf):
    inf for df < 2, exp(-nc/2) / 2 for df = 2 (chi2 with nc = 0: 1/2), 0 above."""
    import scipy.stats
    x = np.array([-1.0, 1.0, 1.0, np.nan, 0.0, 0.0, 0.0, 0.0, np.inf])
    df = np.array([2.0, 0.0, 2.0, 2.0, 1.0, 2.0, 2.0, 3.0, 2.0])
    nc = np.array([1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    expected = [0.0, np.nan, np.nan, np.nan, np.inf, 0.5 * np.exp(-0.5), 0.0, 0.0, 0.0]
    expected[6] = scipy.stats.chi2.pdf(0.0, 2)
    np.testing.assert_allclose(ncx2.pdf(x, df, nc), expected, rtol=4e-16, atol=0)   # exp() may round by an ulp
    np.testing.assert_array_equal(ncx2.pdf(x[:4], df[:4], nc[:4]), scipy.stats.ncx2.pdf(x[:4], df[:4], nc[:4]))
    assert np.isscalar(ncx2.logpdf(3.0, 4, 2.0))


@numba.njit
def _masses_and_derivatives(d, margin, dim, upper):
    out = np.empty((d.size, 4))
    for i in range(d.size):
        log_p, log_density, error, evaluations = ball.ball_log_mass_and_density(d[i], margin[i], dim[i], upper)
        out[i] = log_p, log_density, error, ball.ball_log_surface_density(d[i], margin[i], d[i] + margin[i], dim[i])[0]
    return out


def test_mass_derivative_from_the_same_nodes_matches_the_surface_density():
    """ball_log_mass_and_density's dP/dm (the mass's own nodes, kernels/ball.py) against
    dP/drho from its own integral (ball_log_surface_density, checked against mpmath by
    the test above) on 3000 masses, lambda 1e3 to 1e12, +-30 sd: within 1e-12 (plus
    4e-15 |log|), with the same mass bit for bit and an error bound that covers the
    difference."""
    rng = np.random.default_rng(18)
    dim = rng.choice([2.0, 64.0, 784.0, 3072.0, 150528.0, 196608.0, 4e6], 3000)
    lam = 10.0 ** rng.uniform(3.01, 12, dim.size)
    x = dim + lam + rng.uniform(-30, 30, dim.size) * np.sqrt(2 * (dim + 2 * lam))
    x = np.maximum(x, 1e-3 * lam)
    d = np.sqrt(lam)
    margin = (x - lam) / (np.sqrt(x) + d)
    for upper in (False, True):
        out = _masses_and_derivatives(d, margin, dim, upper)
        log_p, work = _backend.run("ball_log_mass", d, margin, dim, upper=upper)
        np.testing.assert_array_equal(out[:, 0], log_p)
        settled = np.isfinite(out[:, 1])
        assert settled.mean() > 0.99
        difference = np.abs(np.expm1(out[settled, 1] - out[settled, 3]))
        floor = 1e-13 + 4e-15 * np.abs(out[settled, 3])       # the logs' own rounding
        assert np.all(difference <= 1e-12 + floor) and np.all(difference <= out[settled, 2] + floor)


@numba.njit
def _scores(d, margin, dim, upper):
    return np.array([ncx2_kernels.ball_score(d, m, dim, upper) for m in margin])


@pytest.mark.parametrize("dim", [2.0, 784.0, 3072.0, 196608.0, 4e6])
def test_score_curvature_is_below_one_over_two_rho(dim):
    """The quantile's Newton step from one mass (kernels/ncx2.ball_margin_quantile_from)
    bounds its error by C step^2 with C = |score''| / (2 score') taken as 16 / (2 rho):
    by finite differences of the score (the ball integral, lambda > 1e3), C <= 0.5 /
    (2 rho) from the 1e-300 lower tail to the 1e-300 upper one (max ~0.48 at N = 784,
    lambda = 1e3; 1/3 as lambda / N -> 0, where h -> 1/3 in Sankaran's model; 0 as
    lambda / N -> inf)."""
    for lam in (1.01e3, 1e4, 1e6, 1e10):
        d = np.sqrt(lam)
        for z in (-37.0, -8.0, 0.0, 8.0, 37.0):
            upper = z > 0
            log_p = scipy.stats.norm.logsf(abs(z))
            m = _backend.run("ball_margin_quantile", *(np.array([v]) for v in (d, log_p, dim)), upper=upper)[0]
            rho = d + m
            if rho < 0.05 * d:              # a tiny ball: its own solver (ncx2_radius_quantile)
                continue
            h = 0.02 * np.sqrt(2 * (dim + 2 * lam)) / (2 * rho)    # 1/50 of the margin's sd
            low, mid, high = _scores(d, m + h * np.array([-1.0, 0.0, 1.0]), dim, upper)
            curvature = abs(high - 2 * mid + low) / h**2 / (2 * (high - low) / (2 * h))
            assert curvature * 2 * rho <= 0.5, (lam, z, curvature * 2 * rho)


@pytest.mark.parametrize("dim", [64.0, 3072.0, 196608.0])
def test_quantile_from_one_mass_inverts_the_tail(dim, monkeypatch):
    """At lambda >= 1e5 the start (Sankaran's model) is ~1e-8 in score near the centre
    and the Newton step with the mass's exact slope lands within the margin
    tolerance: one mass a quantile there (two before; in the 1e-300 and 1e-13 tails
    at lambda = 1e5 two or three), and every answer still inverts the tail (the
    kernels run as Python with their masses counted)."""
    masses = {"count": 0}
    for name in ("ball_score", "ball_score_and_slope"):
        def counted(*args, original=getattr(ncx2_kernels, name)):
            masses["count"] += 1
            return original(*args)
        monkeypatch.setattr(ncx2_kernels, name, counted)
    cases, work = [], []
    for lam in (1e5, 1e7, 1e10):
        for log_p in (-690.0, -30.0, -2.0, -0.1):
            for upper in (False, True):
                masses["count"] = 0
                m = ncx2_kernels.ball_margin_quantile(np.sqrt(lam), log_p, dim, upper)
                cases.append((lam, log_p, upper, (np.sqrt(lam) + m) ** 2))
                work.append(masses["count"])
    monkeypatch.undo()
    central = [w for (lam, log_p, upper, x), w in zip(cases, work) if log_p >= -2.0]
    assert max(central) == 1 and max(work) <= 3 and np.mean(work) <= 1.5, work
    for lam, log_p, upper, x in cases:
        tail = ncx2.logsf if upper else ncx2.logcdf
        slope = abs(tail(x * (1 + 1e-9), dim, lam) - tail(x * (1 - 1e-9), dim, lam)) / 2e-9
        assert abs(tail(x, dim, lam) - log_p) <= 2e-15 * slope + 1e-13 * abs(log_p), (lam, log_p, upper)
