"""Noncentral chi-square distribution on top of the ball mass (kernels/ball.py).

X ~ chi'^2_N(lambda) is ||Z - c||^2 with ||c|| = sqrt(lambda), so
F_N(lambda; x) = ball mass with d = sqrt(lambda), radius sqrt(x), margin
m = (x - lambda) / (sqrt(x) + sqrt(lambda)). Quantiles are solved for the margin,
so callers that know the geometry (the xi functions) never round through x.
For lambda <= POISSON_MAX_NC the Poisson mixture (kernels/poisson.py) is cheaper
and is used instead, with x and lambda as given. Beyond the range that the
mpmath references cover (df > MAX_DIM, nc > CORE_MAX_NC, x > CORE_MAX_X, df = inf) the
saddlepoint approximation (kernels/saddlepoint.py) takes over; its error falls like
1 / (df + nc) (3e-11 at df = 4e6, 3e-17 at 1e13).
"""
import math

from ._jit import kernel
from .ball import (ball_log_mass, ball_log_mass_and_density, ball_log_mass_radius,
                   ball_log_mass_squared_radius, ball_log_surface_density, dim_supported,
                   MIN_DIM_ABOVE_ONE)
from .normal import log_norm_pdf, norm_ppf_from_log, square_residual
from .poisson import poisson_applies, poisson_log_pdf, poisson_log_tail
from .saddlepoint import saddlepoint_log_pdf, saddlepoint_log_tail
from .sankaran import model_margin, model_score

MAX_QUANTILE_STEPS = 100
MAX_BISECTIONS = 80     # each phase of the out-of-core quantile
CORE_MAX_NC = 1e16  # nc up to here: the ball integral / Poisson mixture (mpmath-tested)
CORE_MAX_X = 1e17   # x up to here (the tested tails of nc = 1e16 reach 1.0000002e16)
# 0 < df < 1 and 1 < df < MIN_DIM_ABOVE_ONE are outside the ball integral; up to this
# nc scipy answers them (the facade), above it the saddlepoint: at nc = 1e10 the two
# agree to 3e-12, at nc = 1e12 scipy's cdf at the mean is 0.57 (wrong)
SCIPY_MAX_NC = 1e10


@kernel
def needs_scipy(x, df, nc):
    """Where the kernels give NaN for the caller to ask scipy: a df outside the ball
    integral (0 < df < MIN_DIM_ABOVE_ONE, df != 1) with nc <= SCIPY_MAX_NC and x <=
    CORE_MAX_X (for a quantile, pass x = 0)."""
    return (0.0 < df < MIN_DIM_ABOVE_ONE and not dim_supported(df) and nc <= SCIPY_MAX_NC
            and x <= CORE_MAX_X)


@kernel
def _in_core(x, df, nc):
    """Inside the range of the ball integral and the Poisson mixture."""
    return dim_supported(df) and nc <= CORE_MAX_NC and x <= CORE_MAX_X
LOG_2 = 0.69314718055994530942


@kernel
def ncx2_log_tail(x, df, nc, upper):
    """log F_df(nc; x) (upper=False) or log(1 - F) (upper=True), df > 0, nc >= 0.

    NaN for NaN input, df <= 0, nc < 0 or where needs_scipy (the caller maps those
    to its convention).
    """
    if x != x or nc != nc or not df > 0.0 or nc < 0.0 or needs_scipy(x, df, nc):
        return math.nan
    if x <= 0.0:
        return 0.0 if upper else -math.inf
    if x == math.inf:
        return -math.inf if upper else 0.0
    if nc == math.inf or df == math.inf:
        return 0.0 if upper else -math.inf
    if not _in_core(x, df, nc):
        return saddlepoint_log_tail(x, df, nc, upper)
    if poisson_applies(df, nc):
        value, terms = poisson_log_tail(x, df, nc, upper)
        if value <= 0.0:
            return value
    d = math.sqrt(nc)
    rho = math.sqrt(x)
    margin = (x - nc) / (rho + d)
    value, evaluations = ball_log_mass_squared_radius(d, margin, rho, square_residual(x, rho), df, upper)
    if not value <= 0.0:            # never a non-probability: the approximation instead
        return saddlepoint_log_tail(x, df, nc, upper)
    return value


@kernel
def _normal_score(log_p, upper):
    """Phi^-1(P) of a lower tail log P, or -Phi^-1(Q) of an upper tail log Q: the
    score that rises with the margin for both."""
    if upper:
        return -norm_ppf_from_log(log_p)
    return norm_ppf_from_log(log_p)


@kernel
def ball_score(d, margin, dim, upper):
    """Normal score of the ball mass: Phi^-1(P) (lower) or -Phi^-1(Q) (upper)."""
    log_p, evaluations = ball_log_mass(d, margin, dim, upper)
    return _normal_score(log_p, upper)


@kernel
def ball_score_and_slope(d, margin, dim, upper):
    """(ball_score, its derivative in the margin, that derivative's relative error
    bound): d score / dm = |dP/dm| / phi(score) for either tail, the derivative
    from the mass's own nodes (ball_log_mass_and_density); NaN and inf where the
    mass has no derivative from them."""
    log_p, log_density, density_error, evaluations = ball_log_mass_and_density(d, margin, dim, upper)
    score = _normal_score(log_p, upper)
    return score, math.exp(log_density - log_norm_pdf(score)), density_error


@kernel
def _start_margin(d, dim, z, log_p, upper):
    """(margin, score slope there): Sankaran's model margin (kernels/sankaran.py, ~1e-6
    in score at N = 3072), or far in the lower tail, where the Wilson-Hilferty base
    of the two-moment scaled chi-square c chi2_f is below 0.2, the power law
    P ~ (x / 2c)^(f/2) / Gamma(f/2 + 1) with the slope of a normal score."""
    lam = d * d
    c = (dim + 2.0 * lam) / (dim + lam)
    f = (dim + lam) / c
    k = 2.0 / (9.0 * f)
    base = 1.0 - k + z * math.sqrt(k)
    if base > 0.2 or upper:
        m = model_margin(d, z, dim)
        if d + m > 0.0:
            score, slope = model_score(d, m, dim)
            if 0.0 < slope < math.inf:
                return m, slope
        x = c * f * max(base, 0.2) ** 3
    else:
        x = 2.0 * c * math.exp((2.0 / f) * (log_p + math.lgamma(0.5 * f + 1.0)))
    m = (x - lam) / (math.sqrt(x) + d)
    return m, _normal_slope(d, m, dim)


@kernel
def _normal_slope(d, m, dim):
    """Slope of the score in m from the normal approximation: d x / d m / sd(X) =
    2 rho / sqrt(2 (N + 2 lambda))."""
    return 2.0 * max(d + m, 1e-3) / math.sqrt(2.0 * (dim + 2.0 * d * d))


@kernel
def _margin_tolerance(d, m):
    """Resolution of the solved margin: 4e-16 of the radius (what x = rho^2 can
    hold) but never coarser than 1e-13 (1 + |m|), which the xi functions need when
    the ball is almost a half-space (d >> 1)."""
    return min(4e-16 * abs(d + m), 1e-13 * (1.0 + abs(m))) + 1e-300


@kernel
def ball_margin_quantile(d, log_p, dim, upper):
    """The margin m with ball_log_mass(d, m, dim, upper) = log_p; d finite >= 0."""
    return ball_margin_quantile_from(d, log_p, dim, upper, math.nan)


@kernel
def ball_margin_quantile_from(d, log_p, dim, upper, m_start):
    """ball_margin_quantile started at m_start (NaN: a Wilson-Hilferty start); a
    caller solving nearby problems in sequence passes the previous answer.

    Solves score(m) = z* (score: the normal score of the mass, nearly linear in m)
    by secant steps kept inside a bracket, to |dm| <= _margin_tolerance(d, m). The
    first mass comes with its exact slope where the ball integral gives it
    (ball_score_and_slope): a Newton step from the start (Sankaran's model, ~1e-8
    in score at lambda >= 1e5) then often lands within the tolerance (its error
    C step^2 bounded as below), and the answer takes one mass instead of two.
    NaN where dim is not dim_supported.
    """
    if not dim_supported(dim):
        return math.nan
    z = _normal_score(log_p, upper)
    m0 = m_start
    if m0 == m0 and d + m0 >= 0.0:
        score, slope = model_score(d, m0, dim)
        if not 0.0 < slope < math.inf:
            slope = _normal_slope(d, m0, dim)
    else:
        m0, slope = _start_margin(d, dim, z, log_p, upper)
    score, exact_slope, slope_error = ball_score_and_slope(d, m0, dim, upper)
    g0 = score - z
    if 0.0 < exact_slope < math.inf and abs(g0) < math.inf:
        slope = exact_slope
        step = -g0 / slope
        # Newton's error is C step^2, C the score's curvature over twice its slope:
        # at most 0.48 / (2 rho) wherever the ball integral applies (lambda > 1e3,
        # N <= MAX_DIM, tails to 1e-300; tests/test_ncx2_reference.py), taken as 16
        # times 1 / (2 rho); plus the step times the slope's relative error
        rho = d + m0 + step
        predicted = abs(step) * (min(8.0 * abs(step) / rho, 1.0) + slope_error + 1e-12)
        if rho > 0.0 and predicted <= _margin_tolerance(d, m0 + step):
            return m0 + step
    have_lo = False
    have_hi = False
    m_lo = -d
    m_hi = math.inf
    g_lo = -math.inf
    g_hi = math.inf
    # the first step at most quarters or doubles (+1) the radius
    m1 = min(max(m0 - g0 / slope, -d + 0.25 * (d + m0)), m0 + (d + m0) + 1.0)
    for _ in range(MAX_QUANTILE_STEPS):
        if g0 < 0.0:
            if (not have_lo) or m0 > m_lo:
                m_lo, g_lo, have_lo = m0, g0, True
        else:
            if (not have_hi) or m0 < m_hi:
                m_hi, g_hi, have_hi = m0, g0, True
        if g0 == 0.0:
            return m0
        # keep the proposal inside the bracket; near rho = 0 move geometrically
        if m1 <= m_lo or m1 >= m_hi or m1 != m1:
            if have_lo and have_hi:
                m1 = 0.5 * (m_lo + m_hi)
            elif have_hi:
                m1 = -d + 0.25 * (d + m_hi)           # shrink the radius
            else:
                m1 = m_lo + (d + m_lo) + 1.0                # double the radius
        g1 = ball_score(d, m1, dim, upper) - z
        if abs(m1 - m0) <= _margin_tolerance(d, m1):
            return m1
        if have_lo and have_hi and (m_hi - m_lo) <= _margin_tolerance(d, m_hi):
            return m_hi if abs(g_hi) < abs(g_lo) else m_lo
        # the score increases with m: a secant slope that says otherwise is noise
        # at the floor of the mass's precision, so fall back on the slope estimate
        secant = (g1 - g0) / (m1 - m0)
        valid = 0.0 < secant < math.inf and abs(g1) < math.inf
        step = -g1 / secant if valid else -g1 / slope
        # secant: the error after this step is C |step| |previous step| with C the
        # score's curvature over twice its slope, nearly 0 (taken as 16); without a
        # valid secant the step itself must be 16 times below the tolerance
        predicted = abs(step) * min(16.0 * abs(m1 - m0), 1.0) if valid else 16.0 * abs(step)
        if abs(g1) < math.inf and predicted <= _margin_tolerance(d, m1):
            return m1 + step
        m0, g0 = m1, g1
        m1 = m0 + step
    return m0


@kernel
def ncx2_quantile(log_p, df, nc, upper):
    """x with log F_df(nc; x) = log_p (upper=False) or log(1 - F) = log_p: the ball's
    radius quantile squared, or, outside the core range (saddlepoint tails),
    bisection in log x between bounds that bracket every float64 quantile."""
    if not df > 0.0 or not nc >= 0.0 or nc == math.inf or not log_p < 0.0 \
            or needs_scipy(0.0, df, nc):
        return math.nan
    if df == math.inf:
        return math.inf
    if dim_supported(df) and nc <= CORE_MAX_NC:
        rho = ncx2_radius_quantile(math.sqrt(nc), log_p, df, upper)
        x = rho * rho
        if x <= CORE_MAX_X:
            return x
    # bisection in log x over the float64 range down to a 1e-3 bracket, then in x
    # down to adjacent floats (log x's own rounding is too coarse for x ~ 1e20)
    lo, hi = -745.0, 709.78
    for _ in range(MAX_BISECTIONS):
        if hi - lo <= 1e-3:
            break
        mid = 0.5 * (lo + hi)
        if (ncx2_log_tail(math.exp(mid), df, nc, upper) < log_p) == upper:
            hi = mid              # the lower tail grows with x, the upper falls
        else:
            lo = mid
    lo, hi = math.exp(lo), math.exp(hi)
    for _ in range(MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if (ncx2_log_tail(mid, df, nc, upper) < log_p) == upper:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@kernel
def ncx2_radius_quantile(d, log_p, dim, upper):
    """The radius rho = sqrt(x) with F_dim(d^2; rho^2) = exp(log_p) (lower tail) or
    1 - F = exp(log_p) (upper). Solved for the margin, except for a tiny ball
    (rho < 1/10 and rho < d / 10, where rho = d + m cancels): there
    it is solved in u = log rho with the radius passed exactly, starting from the
    small-ball law P ~ V_N rho^N phi_N(d), in which log P is linear in u. NaN where
    dim is not dim_supported."""
    if not dim_supported(dim):
        return math.nan
    if not upper:
        u = (log_p + 0.5 * dim * LOG_2 + math.lgamma(0.5 * dim + 1.0) + 0.5 * d * d) / dim
        if u < math.log(0.1) and u < math.log(0.1 * max(d, 1.0)):
            return math.exp(_small_ball_log_radius(d, log_p, dim, u))
    return d + ball_margin_quantile(d, log_p, dim, upper)


@kernel
def _small_ball_log_radius(d, log_p, dim, u0):
    """Secant steps in u = log rho on log P(u) = log_p, slope ~ dim."""
    f0 = _log_mass_at_radius(d, u0, dim) - log_p
    u1 = u0 - f0 / dim
    for _ in range(MAX_QUANTILE_STEPS):
        f1 = _log_mass_at_radius(d, u1, dim) - log_p
        if abs(u1 - u0) <= 4e-16 * abs(u1) + 1e-300 or f1 == 0.0:
            return u1
        slope = (f1 - f0) / (u1 - u0)
        if not slope > 0.0:
            slope = dim
        u0, f0 = u1, f1
        u1 = u0 - f0 / slope
    return u0


@kernel
def _log_mass_at_radius(d, u, dim):
    rho = math.exp(u)
    value, evaluations = ball_log_mass_radius(d, rho - d, rho, dim, False)
    return value


@kernel
def ncx2_log_pdf(x, df, nc):
    """log density of chi'^2_df(nc) at x, df >= 1, nc >= 0: the Poisson mixture for
    small nc (kernels/poisson.py), else dF/dx = (dP/drho) / (2 rho) with the ball's
    surface density (kernels/ball.py); NaN for bad parameters."""
    if x != x or nc != nc or not df > 0.0 or nc < 0.0 or needs_scipy(x, df, nc):
        return math.nan
    if x < 0.0 or x == math.inf or nc == math.inf or df == math.inf:
        return -math.inf
    if x == 0.0:
        if df == 2.0:
            return -0.5 * nc - LOG_2
        return math.inf if df < 2.0 else -math.inf
    if not _in_core(x, df, nc):
        return saddlepoint_log_pdf(x, df, nc)
    if poisson_applies(df, nc):
        value, terms = poisson_log_pdf(x, df, nc)
        if value == value:
            return value
    d = math.sqrt(nc)
    rho = math.sqrt(x)
    margin = (x - nc) / (rho + d)
    value, evaluations = ball_log_surface_density(d, margin, rho, df)
    value = value - LOG_2 - math.log(rho)
    if value != value or value == math.inf:
        return saddlepoint_log_pdf(x, df, nc)
    return value
