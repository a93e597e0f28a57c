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
mean is 0.57 at nc = 1e12). Beyond the mpmath-verified core (df > 1e12, nc > 1e16,
x > 1e17, df = inf) the kernels use the saddlepoint approximation
(kernels/saddlepoint.py): every value over the float64 range is a probability.
"""
import numpy as np
import scipy.stats

from . import _backend
from ._checks import broadcast, finish

__all__ = ["pdf", "logpdf", "cdf", "sf", "logcdf", "logsf", "ppf", "isf"]


def _broadcast(x, df, nc):
    flat, values, shape, scalar = broadcast(x=x, df=df, nc=nc)
    return list(flat.values()), shape, scalar


def _scipy_range(x, df, nc):
    """0 < df < 1 and 1 < df < 1.01 with nc <= 1e10: outside the kernels (NaN there),
    answered by scipy (kernels/ncx2.needs_scipy; above, the saddlepoint)."""
    return _backend.needs_scipy(x, df, nc)


def _log_tail(x, df, nc, upper):
    (x, df, nc), shape, scalar = _broadcast(x, df, nc)
    out = _backend.ncx2_log_tail(x, df, nc, upper)
    small = _scipy_range(x, df, nc)
    if small.any():
        with np.errstate(all="ignore"):     # scipy's internal overflows (values stay right)
            dist = scipy.stats.ncx2(df[small], nc[small])
            out[small] = dist.logsf(x[small]) if upper else dist.logcdf(x[small])
    return out, shape, scalar


def logpdf(x, df, nc):
    """log density; -inf below the support, as scipy. At x = 0 and x = inf the true
    limits (scipy gives 0 at x = 0 for every df and NaN at inf)."""
    (x, df, nc), shape, scalar = _broadcast(x, df, nc)
    out = _backend.ncx2_log_pdf(x, df, nc)
    small = _scipy_range(x, df, nc)
    if small.any():
        with np.errstate(all="ignore"):
            out[small] = scipy.stats.ncx2(df[small], nc[small]).logpdf(x[small])
    return finish(out, shape, scalar)


def pdf(x, df, nc):
    """Probability density."""
    return np.exp(logpdf(x, df, nc))


def logcdf(x, df, nc):
    """log P(X <= x)."""
    return finish(*_log_tail(x, df, nc, False))


def logsf(x, df, nc):
    """log P(X > x)."""
    return finish(*_log_tail(x, df, nc, True))


def cdf(x, df, nc):
    """P(X <= x)."""
    out, shape, scalar = _log_tail(x, df, nc, False)
    return finish(np.exp(out), shape, scalar)


def sf(x, df, nc):
    """P(X > x)."""
    out, shape, scalar = _log_tail(x, df, nc, True)
    return finish(np.exp(out), shape, scalar)


def _quantile(p, df, nc, upper):
    """Quantile of the lower (upper=False) or upper tail probability p."""
    (p, df, nc), shape, scalar = _broadcast(p, df, nc)
    valid = (df > 0.0) & (nc >= 0.0) & np.isfinite(nc) & (p > 0.0) & (p < 1.0)
    # the smaller tail carries the digits: ppf(q > 1/2) = isf(1 - q), exact in float64
    flip = valid & (p > 0.5)
    use_upper = np.where(flip, not upper, upper)
    tail = np.where(flip, 1.0 - p, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log(tail)
    out = np.full(p.shape, np.nan)
    for side in (False, True):
        pick = valid & (use_upper == side)
        if pick.any():
            out[pick] = _backend.ncx2_quantile(log_p[pick], df[pick], nc[pick], side)
    ok_params = (df > 0.0) & (nc >= 0.0)
    low_end, high_end = (p == 1.0, p == 0.0) if upper else (p == 0.0, p == 1.0)
    out[ok_params & low_end] = 0.0
    out[ok_params & high_end] = np.inf
    small = valid & _scipy_range(np.zeros_like(p), df, nc)
    if small.any():
        with np.errstate(all="ignore"):
            dist = scipy.stats.ncx2(df[small], nc[small])
            out[small] = dist.isf(p[small]) if upper else dist.ppf(p[small])
    return finish(out, shape, scalar)


def ppf(q, df, nc):
    """Quantile: the x with cdf(x) = q."""
    return _quantile(q, df, nc, False)


def isf(q, df, nc):
    """Inverse survival function: the x with sf(x) = q."""
    return _quantile(q, df, nc, True)
