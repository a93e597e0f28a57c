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
from scipy.stats import chi2

from ._checks import as_float_array, require

__all__ = ["sigma_ratio_threshold", "sigma_ratio_upper_threshold", "cannot_certify",
           "max_certifiable_radius", "practical_sigma_ratio_threshold",
           "renyi_divergence", "renyi_radius"]


def _check(p_a, dim):
    p_a = as_float_array("pA", p_a)
    dim = as_float_array("dim", dim)
    require("pA", p_a, (p_a > 0.5) & (p_a < 1.0), "must be in (1/2, 1)")
    require("dim", dim, (dim >= 2.0) & np.isfinite(dim), "must be a finite dimension >= 2")
    return np.broadcast_arrays(p_a, dim)


def _deviance_root(c, above_one):
    """u with log u + 1 - u = c < 0: below 1 (u = 1 - delta) or above 1 (u = 1 + delta);
    written with log1p so that tiny |c| (large N) keeps full precision."""
    sign = 1.0 if above_one else -1.0

    def f(delta):
        with np.errstate(divide="ignore"):
            return np.log1p(sign * delta) - sign * delta - c

    upper = 1.0 if not above_one else 2.0
    while above_one and f(upper) > 0.0:
        upper *= 2.0
    lower = min(np.sqrt(-2.0 * c), upper) * 1e-3
    delta = brentq(f, lower, upper, xtol=1e-300, rtol=1e-15)
    return 1.0 + sign * delta


def _map(function, p_a, dim):
    p_a, dim = _check(p_a, dim)
    out = np.vectorize(function, otypes=[np.float64])(p_a, dim)
    return out[()] if out.ndim == 0 else out


def sigma_ratio_threshold(pA, dim):
    """Lower threshold for s1 / s0 of Theorem 2.4's first case (Table 1): below it,
    no adversary with that smaller sigma can be certified at any distance."""
    return _map(lambda p, n: np.sqrt(_deviance_root(2.0 * np.log1p(-p) / n, False)), pA, dim)


def sigma_ratio_upper_threshold(pA, dim):
    """Upper threshold for s1 / s0 of Theorem 2.4's second case: above it, no
    adversary with that larger sigma can be certified at any distance."""
    return _map(lambda p, n: np.sqrt(_deviance_root(2.0 * np.log1p(-p) / n, True) * n / (n - 1.0)),
                pA, dim)


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
    out = np.sqrt(chi2.ppf(p_b, dim) / chi2.median(dim))
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
    """Theorem B.5: the largest R at which, for some alpha > 1, D_alpha against both
    adversary sigmas s0 e^{-rR} and s0 e^{rR} (or against a fixed sigma1, as in
    Figure 11) stays below Li et al.'s bound (alpha on a fixed grid of 400 values, R
    by bisection to 1e-12: a lower bound of the supremum over alpha)."""
    p_a = float(pA)
    p_b = 1.0 - p_a if pB is None else float(pB)
    if not 0.5 < p_a <= 1.0:
        return 0.0
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
