"""Noncentral chi-square distribution: a drop-in for ``scipy.stats.ncx2``.

``pdf, logpdf, cdf, sf, logcdf, logsf, ppf, isf`` take ``(x or q, df, nc)`` with NumPy
broadcasting, compute in float64 and follow scipy's conventions: NaN for df <= 0,
nc < 0 or NaN input; cdf(x <= 0) = 0, cdf(inf) = 1; ppf(0) = 0, ppf(1) = inf and NaN
outside [0, 1]. Scalars in, scalars out.

The smaller tail is always computed directly (kernels/ball.py), so cdf and sf both
keep full relative precision down to 1e-300 and below, at a cost that does not grow
with df or nc. For 0 < df < 1, outside the geometric representation, and for
1 < df < 1.01, where chi_(df-1) piles its mass at 0 beyond the quadrature's reach
(kernels/ball.py, MIN_DIM_ABOVE_ONE), the values come from scipy up to nc = 1e10
and from the saddlepoint approximation above (scipy's are wrong there: its cdf at the
mean is 0.57 at nc = 1e12). Beyond the mpmath-verified core (df > 4e6, nc > 1e16,
x > 1e17, df = inf) the kernels use the saddlepoint approximation
(kernels/saddlepoint.py): every value over the float64 range is a probability.
"""
import numpy as np
import scipy.stats

from ._checks import broadcast, finish
from ._target import current, elementwise

__all__ = ["pdf", "logpdf", "cdf", "sf", "logcdf", "logsf", "ppf", "isf", "chndtrinc"]

ncx2_function = elementwise("x", "df", "nc")
quantile_function = elementwise("q", "df", "nc")


def _broadcast(x, df, nc):
    flat, values, shape, scalar = broadcast(x=x, df=df, nc=nc)
    return list(flat.values()), shape, scalar


def _with_scipy(out, at, df, nc, answer, x=None):
    """out where the kernels leave the answer to scipy (0 < df < 1 and 1 < df < 1.01
    with nc <= 1e10, kernels/ncx2.needs_scipy; above, the saddlepoint) replaced by
    answer(scipy.stats.ncx2(df, nc), at) there (x: the point that decides where, default
    `at`; NaN: nowhere). On a GPU only those elements travel to
    the host and back."""
    target = current()
    small = target.run("needs_scipy", at if x is None else x, df, nc)
    if bool(small.any()):
        host = [target.to_host(a[small]) for a in (at, df, nc)]
        with np.errstate(all="ignore"):     # scipy's internal overflows (values stay right)
            out[small] = target.from_host(answer(scipy.stats.ncx2(host[1], host[2]), host[0]))
    return out


def _log_tail(x, df, nc, upper):
    (x, df, nc), shape, scalar = _broadcast(x, df, nc)
    out = current().run("ncx2_log_tail", x, df, nc, upper=upper)
    out = _with_scipy(out, x, df, nc, lambda dist, v: dist.logsf(v) if upper else dist.logcdf(v))
    return out, shape, scalar


def _logpdf(x, df, nc):
    (x, df, nc), shape, scalar = _broadcast(x, df, nc)
    out = current().run("ncx2_log_pdf", x, df, nc)
    return finish(_with_scipy(out, x, df, nc, lambda dist, v: dist.logpdf(v)), shape, scalar)


@ncx2_function
def logpdf(x, df, nc):
    """log density; -inf below the support, as scipy. At x = 0 and x = inf the true
    limits (scipy gives 0 at x = 0 for every df and NaN at inf)."""
    return _logpdf(x, df, nc)


@ncx2_function
def pdf(x, df, nc):
    """Probability density."""
    return current().xp.exp(_logpdf(x, df, nc))


@ncx2_function
def logcdf(x, df, nc):
    """log P(X <= x)."""
    return finish(*_log_tail(x, df, nc, False))


@ncx2_function
def logsf(x, df, nc):
    """log P(X > x)."""
    return finish(*_log_tail(x, df, nc, True))


@ncx2_function
def cdf(x, df, nc):
    """P(X <= x)."""
    out, shape, scalar = _log_tail(x, df, nc, False)
    return finish(current().xp.exp(out), shape, scalar)


@ncx2_function
def sf(x, df, nc):
    """P(X > x)."""
    out, shape, scalar = _log_tail(x, df, nc, True)
    return finish(current().xp.exp(out), shape, scalar)


def _quantile(p, df, nc, upper):
    """Quantile of the lower (upper=False) or upper tail probability p."""
    xp = current().xp
    (p, df, nc), shape, scalar = _broadcast(p, df, nc)
    valid = (df > 0.0) & (nc >= 0.0) & xp.isfinite(nc) & (p > 0.0) & (p < 1.0)
    # the smaller tail carries the digits: ppf(q > 1/2) = isf(1 - q), exact in float64
    flip = valid & (p > 0.5)
    use_upper = flip != upper
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = xp.log(xp.where(flip, 1.0 - p, xp.where(valid, p, 0.5)))
    out = current().run("ncx2_quantile", log_p, df, nc, use_upper)
    ok_params = (df > 0.0) & (nc >= 0.0)
    low_end, high_end = (p == 1.0, p == 0.0) if upper else (p == 0.0, p == 1.0)
    out = xp.where(valid, out, xp.where(ok_params & low_end, 0.0,
                                        xp.where(ok_params & high_end, np.inf, np.nan)))
    out = _with_scipy(out, p, df, nc, lambda dist, v: dist.isf(v) if upper else dist.ppf(v),
                      x=xp.where(valid, 0.0, np.nan))
    return finish(out, shape, scalar)


@quantile_function
def ppf(q, df, nc):
    """Quantile: the x with cdf(x) = q."""
    return _quantile(q, df, nc, False)


@quantile_function
def isf(q, df, nc):
    """Inverse survival function: the x with sf(x) = q."""
    return _quantile(q, df, nc, True)


BRACKET_STEPS = 560           # factor-4 steps of the upper bracket: past 1e308 from 1
BISECTION_STEPS = 120         # halvings of the bracket in sqrt(nc): far below 1 ulp


@elementwise("x", "df", "p")
def chndtrinc(x, df, p):
    """The noncentrality nc with cdf(x, df, nc) = p (scipy.special.chndtrinc's name
    and argument order; the cdf falls as nc grows). 0 where even nc = 0 gives a cdf
    below p (scipy answers its search's lower end, ~0, there); NaN for x <= 0,
    df <= 0, p outside (0, 1) or NaN, as scipy. The smaller tail is matched (log cdf
    for p <= 1/2, log sf above), by bisection in sqrt(nc) after a bracket by factors
    of 4: every step a batched tail evaluation, so any float64 nc is reached."""
    xp = current().xp
    (x, df, p), shape, scalar = _broadcast(x, df, p)
    valid = (x > 0.0) & (df > 0.0) & (p > 0.0) & (p < 1.0) & xp.isfinite(x) & xp.isfinite(df)
    out = xp.full(x.shape, np.nan)
    for upper in (False, True):
        pick = valid & ((p > 0.5) == upper)
        if bool(pick.any()):
            with np.errstate(divide="ignore"):
                target = xp.log1p(-p[pick]) if upper else xp.log(p[pick])
            out[pick] = _noncentrality(x[pick], df[pick], target, upper)
    return finish(out, shape, scalar)


def _noncentrality(x, df, target, upper):
    """chndtrinc for one tail: log sf (upper) or log cdf equal to `target`."""
    xp = current().xp

    def above(nc):
        """Where cdf(x, df, nc) > p: the root lies at a larger nc."""
        tail = _log_tail(x, df, nc, upper)[0]
        return tail < target if upper else tail > target
    solvable = above(xp.zeros_like(x))
    high = xp.maximum(x, 1.0)
    for _ in range(BRACKET_STEPS):
        grow = solvable & above(high)
        if not bool(grow.any()):
            break
        high = xp.where(grow, 4.0 * high, high)
    low, high = xp.zeros_like(x), xp.sqrt(high)
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        step = above(middle * middle)
        low, high = xp.where(step, middle, low), xp.where(step, high, middle)
        if not bool((solvable & (high - low > 2.3e-16 * high)).any()):
            break
    return xp.where(solvable, high * high, 0.0)
