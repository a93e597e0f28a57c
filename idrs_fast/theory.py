"""The curse of dimensionality of input-dependent sigma (Theorem 2.4, Corollary 2.5,
Table 1, Figure 3) and the Renyi-divergence certificate (Appendix B.1, Theorem B.5).

Theorem 2.4: x1 cannot be certified w.r.t. x0 at any distance if
  (s1 < s0)  log(t) + 1 - t < 2 log(1 - pA) / N,         t = s1^2 / s0^2,
  (s1 > s0)  log(z) + 1 - z < 2 log(1 - pA) / N,         z = t (N - 1) / N.
Both left sides are u -> log u + 1 - u, increasing below 1 and decreasing above, so
each case gives one threshold for s1 / s0.
"""
import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from . import ncx2
from ._checks import as_float_array, broadcast, finish, require

__all__ = ["smoothed_ball_radius", "sigma_ratio_threshold", "sigma_ratio_upper_threshold", "cannot_certify",
           "max_certifiable_radius", "practical_sigma_ratio_threshold",
           "renyi_divergence", "renyi_radius"]


def _check(p_a, dim):
    p_a = as_float_array("pA", p_a)
    dim = as_float_array("dim", dim)
    require("pA", p_a, (p_a > 0.5) & (p_a < 1.0), "must be in (1/2, 1)")
    require("dim", dim, (dim >= 2.0) & np.isfinite(dim), "must be a finite dimension >= 2")
    return np.broadcast_arrays(p_a, dim)


def _log_deviance_root(c, above_one):
    """y = log u with log u + 1 - u = c < 0, i.e. y - expm1(y) = c, below 1 (y < 0) or
    above 1 (y > 0). Solved in y so that u = e^y keeps its digits when it is tiny
    (pA -> 1, small N) and y - expm1(y) = -y^2/2 - y^3/6 - ... by its series when
    |y| is small (huge N)."""
    def f(y):
        if abs(y) < 1e-3:
            return -y * y * (0.5 + y * (1 / 6 + y * (1 / 24 + y / 120))) - c
        return y - np.expm1(y) - c

    width = np.sqrt(-2.0 * c)          # y - expm1(y) <= -y^2/2 for y > 0
    if width < 1e-10:                  # y = +-width - width^2 / 3, error O(width^3)
        return (width if above_one else -width) - width * width / 3.0
    if above_one:
        return brentq(f, 0.0, 1.01 * width + 1e-300, xtol=1e-300, rtol=1e-15)
    return brentq(f, min(c - 1.0, -width), 0.0, xtol=1e-300, rtol=1e-15)


def _map(function, p_a, dim):
    p_a, dim = _check(p_a, dim)
    out = np.vectorize(function, otypes=[np.float64])(p_a, dim)
    return out[()] if out.ndim == 0 else out


def sigma_ratio_threshold(pA, dim):
    """Lower threshold for s1 / s0 of Theorem 2.4's first case (Table 1): below it,
    no adversary with that smaller sigma can be certified at any distance."""
    return _map(lambda p, n: np.exp(0.5 * _log_deviance_root(2.0 * np.log1p(-p) / n, False)), pA, dim)


def sigma_ratio_upper_threshold(pA, dim):
    """Upper threshold for s1 / s0 of Theorem 2.4's second case: above it, no
    adversary with that larger sigma can be certified at any distance."""
    return _map(lambda p, n: np.exp(0.5 * _log_deviance_root(2.0 * np.log1p(-p) / n, True))
                * np.sqrt(n / (n - 1.0)), pA, dim)


def cannot_certify(pA, sigma_ratio, dim):
    """Theorem 2.4: True where s1 / s0 = sigma_ratio is outside the thresholds."""
    ratio = as_float_array("sigma_ratio", sigma_ratio)
    require("sigma_ratio", ratio, (ratio > 0.0) & np.isfinite(ratio), "must be finite and > 0")
    return (ratio < sigma_ratio_threshold(pA, dim)) | (ratio > sigma_ratio_upper_threshold(pA, dim))


def max_certifiable_radius(pA, rate, dim):
    """Corollary 2.5: with an r-semi-elastic sigma, s1 / s0 can reach e^{-rR} and
    e^{rR} at distance R, so no radius reaches min(-log t_low, log t_high) / r
    (t: the Theorem 2.4 thresholds). An upper bound of every certified radius."""
    rate = as_float_array("rate", rate)
    require("rate", rate, (rate > 0.0) & np.isfinite(rate), "must be finite and > 0")
    low = -np.log(sigma_ratio_threshold(pA, dim))
    high = np.log(sigma_ratio_upper_threshold(pA, dim))
    return np.minimum(low, high) / rate


def practical_sigma_ratio_threshold(pA, dim, pB=None):
    """Figure 3: the s1 / s0 < 1 at which xi_>(0) = 1/2, i.e. even an adversary at
    distance 0 with that sigma wins: (s0/s1)^2 F_N^-1(0; pB) = median of chi^2_N."""
    p_a, dim = _check(pA, dim)
    p_b = 1.0 - p_a if pB is None else as_float_array("pB", pB)
    require("pB", p_b, (p_b > 0.0) & (p_b <= 1.0 - p_a), "must be in (0, 1 - pA]")
    out = np.sqrt(ncx2.ppf(p_b, dim, 0.0) / ncx2.ppf(0.5, dim, 0.0))
    return out[()] if np.ndim(out) == 0 else out


def renyi_divergence(alpha, a, sigma0, sigma1, dim):
    """D_alpha(N(x1, s1^2 I) || N(x0, s0^2 I)), ||x1 - x0|| = a, alpha > 1 (Gil et
    al.'s closed form for Gaussians); inf where alpha s0^2 + (1 - alpha) s1^2 <= 0."""
    alpha, a, s0, s1, n = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64)
                                                for v in (alpha, a, sigma0, sigma1, dim)])
    mix = alpha * s0 ** 2 + (1.0 - alpha) * s1 ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_det = (np.log(mix) - (1.0 - alpha) * np.log(s1 ** 2) - alpha * np.log(s0 ** 2))
        out = alpha * a ** 2 / (2.0 * mix) - n / (2.0 * (alpha - 1.0)) * log_det
    return np.where(mix > 0.0, out, np.inf)


def _renyi_bound(alpha, p_a, p_b):
    """Li et al.'s (2019) bound: the prediction holds when D_alpha is below
    -log(1 - pA - pB + 2 ((pA^(1-alpha) + pB^(1-alpha)) / 2)^(1 / (1 - alpha)))
    (the power mean formed in logs: pB^(1-alpha) overflows for large alpha)."""
    k = 1.0 - alpha
    log_mean = (np.logaddexp(k * np.log(p_a), k * np.log(p_b)) - np.log(2.0)) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -np.log1p(-p_a - p_b + 2.0 * np.exp(log_mean))
    return np.where(np.isnan(bound), -np.inf, bound)


ALPHAS = np.concatenate([1.0 + np.logspace(-4, 0, 200), np.logspace(np.log10(2.01), 3, 200)])


def renyi_radius(pA, sigma0, rate, dim, pB=None, sigma1=None):
    """Theorem B.5 for every element (broadcast); see _renyi_radius. ValueError
    naming a bad argument; inf where pA = 1 and pB = 0; 0 where pA <= 1/2."""
    named = dict(pA=pA, sigma0=sigma0, rate=rate, dim=dim)
    named["pB"] = 1.0 - as_float_array("pA", pA) if pB is None else pB
    if sigma1 is not None:
        named["sigma1"] = sigma1
    flat, values, shape, scalar = broadcast(**named)
    require("pA", values["pA"], (values["pA"] >= 0.0) & (values["pA"] <= 1.0), "must be a probability in [0, 1]")
    require("pB", values["pB"], (values["pB"] >= 0.0) & (values["pB"] <= 1.0 - values["pA"] + 1e-15),
            "must be in [0, 1 - pA]")
    for name in ("sigma0",) + (("sigma1",) if sigma1 is not None else ()):
        require(name, values[name], (values[name] > 0.0) & np.isfinite(values[name]), "must be finite and > 0")
    require("rate", values["rate"], (values["rate"] >= 0.0) & np.isfinite(values["rate"]), "must be finite and >= 0")
    require("dim", values["dim"], (values["dim"] >= 1.0) & np.isfinite(values["dim"]), "must be a finite dimension >= 1")
    out = np.array([_renyi_radius(*(flat[k][i] for k in ("pA", "sigma0", "rate", "dim", "pB")),
                                  flat["sigma1"][i] if sigma1 is not None else None)
                    for i in range(flat["pA"].size)], dtype=np.float64)
    return finish(out, shape, scalar)


def _renyi_radius(pA, sigma0, rate, dim, pB, sigma1):
    """Theorem B.5: the largest R at which, for some alpha > 1, D_alpha against both
    adversary sigmas s0 e^{-rR} and s0 e^{rR} (or against a fixed sigma1, as in
    Figure 11) stays below Li et al.'s bound (alpha on a fixed grid of 400 values, R
    by bisection to 1e-12: a lower bound of the supremum over alpha)."""
    p_a, p_b = float(pA), float(pB)
    if not p_a > 0.5:
        return 0.0
    if p_a == 1.0 and p_b == 0.0:
        return np.inf
    bound = _renyi_bound(ALPHAS, p_a, p_b)

    def certified(radius):
        if sigma1 is not None:
            return bool(np.any(renyi_divergence(ALPHAS, radius, sigma0, sigma1, dim) < bound))
        worst = np.maximum(
            renyi_divergence(ALPHAS, radius, sigma0, sigma0 * np.exp(-rate * radius), dim),
            renyi_divergence(ALPHAS, radius, sigma0, sigma0 * np.exp(rate * radius), dim))
        return bool(np.any(worst < bound))

    lo, hi = 0.0, float(sigma0) * max(1.0, float(ndtri(p_a)))
    while certified(hi) and hi < 1e6:
        lo, hi = hi, 2.0 * hi
    if not certified(lo):
        return 0.0
    for _ in range(200):
        if hi - lo <= 1e-12 * hi:
            break
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if certified(mid) else (lo, mid)
    return lo


def smoothed_ball_radius(rho, sigma, dim):
    """Mohapatra et al.'s shrinking, exactly: a ball-shaped class {||x|| <= rho} smoothed
    with a constant sigma in `dim` dimensions keeps the points with P(||x + sigma Z||
    <= rho) > 1/2, the ball of radius r* with ncx2.cdf(rho^2/sigma^2, dim,
    r*^2/sigma^2) = 1/2 (ncx2.chndtrinc); 0 once rho^2/sigma^2 is below the median of
    chi^2_dim (the class vanishes)."""
    rho, sigma = np.asarray(rho, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    ratio = (rho / sigma) ** 2
    return sigma * np.sqrt(ncx2.chndtrinc(ratio, dim, 0.5))
