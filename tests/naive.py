"""Straightforward references written on scipy.stats, as the paper's code does it.

Used by tests (where scipy is known to be right: moderate lambda) and by
benchmarks/ (the alternative idrs_fast is timed against). Formulas: MATH.md,
"Worst case" and "Certified radius"; Algorithm 3 with the squared-step search and
the sigma_t / sigma_T clamping of Appendix D.
"""
import numpy as np
from scipy.stats import ncx2, norm


def xi_greater(a, s0, s1, dim, p_b):
    """xi_>(a) = F_N(lam1; (s0^2/s1^2) F_N^-1(lam0; pB)), s1 < s0."""
    gap = s0 ** 2 - s1 ** 2
    lam0, lam1 = s0 ** 2 * a ** 2 / gap ** 2, s1 ** 2 * a ** 2 / gap ** 2
    return ncx2.cdf(s0 ** 2 / s1 ** 2 * ncx2.ppf(p_b, dim, lam0), dim, lam1)


def xi_smaller(a, s0, s1, dim, p_b):
    """xi_<(a) = 1 - F_N(lam1; (s0^2/s1^2) F_N^-1(lam0; 1 - pB)), s1 > s0."""
    gap = s0 ** 2 - s1 ** 2
    lam0, lam1 = s0 ** 2 * a ** 2 / gap ** 2, s1 ** 2 * a ** 2 / gap ** 2
    return ncx2.sf(s0 ** 2 / s1 ** 2 * ncx2.ppf(1.0 - p_b, dim, lam0), dim, lam1)


def cifar10_sigma_t(p_b):
    return 0.9993 + 0.001 * np.log10(p_b)


def certifies(radius, p_a, s0, rate, dim, sigma_t):
    """Both xi < 1/2 at `radius`, adversary sigmas clamped as in Appendix D."""
    p_b = 1.0 - p_a
    s_small = min(sigma_t * s0, s0 * np.exp(-rate * radius))
    s_large = max(s0 / sigma_t, s0 * np.exp(rate * radius))
    return (xi_greater(radius, s0, s_small, dim, p_b) < 0.5
            and xi_smaller(radius, s0, s_large, dim, p_b) < 0.5)


def algorithm3(p_a, s0, rate, dim, step=1e-3, sigma_t=None):
    """The paper's Algorithm 3: grid k * step, squared steps i^2 until a failure, then
    a linear scan of the last interval; the last grid radius that passed."""
    if p_a <= 0.5:
        return 0.0
    if sigma_t is None:
        sigma_t = cifar10_sigma_t(1.0 - p_a)
    i = 1
    if not certifies(step, p_a, s0, rate, dim, sigma_t):
        return 0.0
    while certifies((i + 1) ** 2 * step, p_a, s0, rate, dim, sigma_t):
        i += 1
    k = i * i
    while k + 1 < (i + 1) ** 2 and certifies((k + 1) * step, p_a, s0, rate, dim, sigma_t):
        k += 1
    return k * step


def cohen_radius(p_a, sigma):
    return sigma * norm.isf(1.0 - p_a) if p_a > 0.5 else 0.0
