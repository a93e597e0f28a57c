"""The chi distribution with nu degrees of freedom (the length of a nu-dimensional
standard Gaussian vector), written so that its log-density keeps full precision at
nu = 2e5, where log-gamma and the power terms would each be ~1e6 and cancel.
"""
import math

from ._jit import kernel, vector_kernel
from .normal import polynomial, square_residual

LOG_SQRT_2PI = 0.91893853320467274178
_ATANH_SERIES = tuple([1.0 / (2 * k + 3) for k in range(11)] + [0.0])   # 1/3, 1/5, ..., 1/23


@vector_kernel
def log1p_minus_x(x):
    """log(1 + x) - x, accurate near x = 0.

    For |x| <= 1/4: log(1 + x) = 2 atanh(r), r = x / (2 + x), |r| <= 1/7, and
    x - 2 r = r x, so log1p(x) - x = 2 (r^3/3 + r^5/5 + ...) - r x (11 terms).
    """
    if abs(x) > 0.25:
        return math.log1p(x) - x
    r = x / (2.0 + x)
    r2 = r * r
    series = polynomial(r2, _ATANH_SERIES)
    return 2.0 * r * r2 * series - r * x


@kernel
def stirling_error(a):
    """log Gamma(a) - [(a - 1/2) log a - a + log sqrt(2 pi)], a > 0."""
    if a >= 15.0:
        inv = 1.0 / a
        inv2 = inv * inv
        return inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (
            1.0 / 1680.0 - inv2 * (1.0 / 1188.0 - inv2 * (691.0 / 360360.0))))))
    return math.lgamma(a) - (a - 0.5) * math.log(a) + a - LOG_SQRT_2PI


@kernel
def chi_constants(nu):
    """(sqrt nu, its rounding error sqrt nu - fl(sqrt nu), log nu,
    log sqrt(nu / pi) - stirling_error(nu / 2)) for log_chi_pdf."""
    root_nu = math.sqrt(nu)
    root_nu_low = square_residual(nu, root_nu) / (2.0 * root_nu)
    return root_nu, root_nu_low, math.log(nu), 0.5 * math.log(nu / math.pi) - stirling_error(0.5 * nu)


@vector_kernel
def root_offset(w, root_nu, root_nu_low):
    """w - sqrt(nu) with sqrt(nu) carried to twice float64's precision (root_nu,
    root_nu_low from chi_constants): its half-ulp would shift every node's
    log-density by a (t - 1) 2 w / nu times it, a bias that cost up to 2.3 float64
    floors of x at N ~ 2e5 (1.35 at a point of tests/data/ncx2_random_reference.json)."""
    return (w - root_nu) - root_nu_low


@vector_kernel
def chi_deviance(w, offset, log_w, nu, root_nu, log_nu):
    """t - 1 - log t with t = w^2 / nu, formed from offset (w + sqrt nu) / nu with
    offset = w - sqrt(nu) to absolute precision (root_offset, or a caller's better
    form). log_w = log w, or NaN to take log(w) only where the series does not apply
    (w then is a float well above the underflow range, or the term is 0 anyway)."""
    t_minus_1 = offset * (w + root_nu) / nu
    if abs(t_minus_1) <= 0.5:
        return -log1p_minus_x(t_minus_1)
    if log_w != log_w:
        log_w = math.log(w)
    return t_minus_1 - (2.0 * log_w - log_nu)


@kernel
def log_chi_pdf(w, offset, log_w, nu, root_nu, log_nu, log_norm):
    """log of the chi density with nu > 0 degrees of freedom at w > 0 (offset =
    w - sqrt(nu) as for chi_deviance, log_w = log w, the others from chi_constants):

        log f = -(nu / 2) chi_deviance - log w + log sqrt(nu / pi) - stirling_error(nu / 2).
    """
    return -0.5 * nu * chi_deviance(w, offset, log_w, nu, root_nu, log_nu) - log_w + log_norm
