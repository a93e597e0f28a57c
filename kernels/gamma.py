"""Regularized incomplete gamma ratios P(b, y), Q(b, y) = 1 - P, as logarithms with
full relative precision in the smaller one (the larger is log(1 - smaller)).

The smaller ratio comes from one of three expansions, each with a bounded loop:
- Temme's uniform expansion in erfc (b > 20, |y - b| < 0.3 b), in log form so that
  it also holds where erfc underflows (Gil, Segura & Temme, ACM TOMS 38(3), 2012,
  eq. 2.13; coefficients in temme_coefficients.py);
- the power series P = g (1 + y/(b+1) + y^2/((b+1)(b+2)) + ...) for y < b;
- the continued fraction Q = b g / (y + 1 - b - 1 (1 - b) / (y + 3 - b - ...))
  (modified Lentz) for y > b;
with g(b, y) = y^b e^-y / Gamma(b + 1) (log_gamma_term). NaN if a loop did not
converge within its bound.
"""
import math

from ._jit import kernel
from .chi import log1p_minus_x, stirling_error
from .normal import log1m_exp, log_norm_cdf, log_norm_pdf
from .temme_coefficients import TEMME, TEMME_K, TEMME_N

LOG_2PI = 1.8378770664093454836
TEMME_MIN_B = 20.0
TEMME_MAX_SIGMA = 0.3
MAX_SERIES_TERMS = 400     # y < 0.7 b or b <= 20: ratio y / (b + n) decays fast enough
MAX_FRACTION_TERMS = 400
EPS = 1.1e-16
TINY = 1e-300


@kernel
def log_gamma_term(b, y):
    """log(y^b e^-y / Gamma(b + 1)), b > -1, y > 0: the Poisson-like term of the
    incomplete gamma recurrences (the Poisson pmf when b is an integer).

    For b > 0 written b (log r - r + 1) - log sqrt(2 pi b) - stirling_error(b),
    r = y / b, so that nothing of size b log b cancels (b reaches 1e5); for b <= 0
    nothing cancels and it is taken as written.
    """
    if b <= 0.0:
        return b * math.log(y) - y - math.lgamma(b + 1.0)
    r = y / b
    if abs(r - 1.0) <= 0.25:
        deviance = log1p_minus_x((y - b) / b)
    elif r > 1e-300:
        deviance = math.log(r) - (r - 1.0)
    else:
        deviance = (math.log(y) - math.log(b)) - (r - 1.0)
    return b * deviance - 0.5 * (LOG_2PI + math.log(b)) - stirling_error(b)


@kernel
def _temme_log_smaller(b, y):
    """(log of the smaller ratio, True if it is Q) from Temme's expansion
    Q = Phi(-u) + phi(u) / sqrt(b) sum_k C_k(eta) b^-k, P = Phi(u) - (same), u = eta sqrt b."""
    sigma = (y - b) / b
    eta = math.sqrt(max(-2.0 * log1p_minus_x(sigma), 0.0))
    if sigma < 0.0:
        eta = -eta
    total = 0.0
    factor = 1.0
    previous = math.inf
    for k in range(TEMME_K):
        ck = TEMME[k * TEMME_N]
        power = 1.0
        for n in range(1, TEMME_N):
            power *= eta
            term = TEMME[k * TEMME_N + n] * power
            ck += term
            if abs(term) < EPS * abs(ck):
                break
        term = ck * factor
        if abs(term) > previous:            # the series is asymptotic
            break
        total += term
        if abs(term) < EPS * abs(total):
            break
        previous = abs(term)
        factor /= b
    root_b = math.sqrt(b)
    u = eta * root_b
    if sigma > 0.0:
        head = log_norm_cdf(-u)
        return head + math.log1p(math.exp(log_norm_pdf(u) - head) * total / root_b), True
    head = log_norm_cdf(u)
    return head + math.log1p(-math.exp(log_norm_pdf(u) - head) * total / root_b), False


@kernel
def _series_log_p(b, y):
    """log P(b, y) from its power series (y < b, or small y)."""
    term = 1.0
    total = 1.0
    for n in range(1, MAX_SERIES_TERMS + 1):
        term *= y / (b + n)
        total += term
        if term < EPS * total:
            return log_gamma_term(b, y) + math.log(total)
    return math.nan


@kernel
def _fraction_log_q(b, y):
    """log Q(b, y) from its continued fraction (y > b), modified Lentz."""
    denominator = y + 1.0 - b
    c = 1.0 / TINY
    d = 1.0 / denominator
    h = d
    for i in range(1, MAX_FRACTION_TERMS + 1):
        numerator = -i * (i - b)
        denominator += 2.0
        d = numerator * d + denominator
        if abs(d) < TINY:
            d = TINY
        c = denominator + numerator / c
        if abs(c) < TINY:
            c = TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= 2.0 * EPS:      # one ulp above 1 is 2.2e-16
            return log_gamma_term(b, y) + math.log(b * h)
    return math.nan


@kernel
def log_gamma_ratios(b, y):
    """(log P(b, y), log Q(b, y)) for b > 0, y >= 0; NaN on non-convergence."""
    if y <= 0.0:
        return -math.inf, 0.0
    if y == math.inf:
        return 0.0, -math.inf
    if b > TEMME_MIN_B and abs(y - b) < TEMME_MAX_SIGMA * b:
        small, is_q = _temme_log_smaller(b, y)
    elif y < b or y < 1.0:
        small, is_q = _series_log_p(b, y), False
    else:
        small, is_q = _fraction_log_q(b, y), True
    if small != small:
        return math.nan, math.nan
    small = min(small, 0.0)
    if is_q:
        return log1m_exp(small), small
    return small, log1m_exp(small)
