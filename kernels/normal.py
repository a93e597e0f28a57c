"""Standard normal distribution: log-density, log-cdf, quantile from a log-probability,
and the mass of a 1-D "ball" (an interval |Z + d| <= s) and of its complement.

All results are logarithms so that tails down to 1e-300 and beyond keep full
relative precision.
"""
import math

from ._jit import kernel, vector_kernel

LOG_SQRT_2PI = 0.91893853320467274178  # log(sqrt(2 pi))
INV_SQRT2 = 0.70710678118654752440
LOG_HALF = -0.69314718055994530942
NEGLIGIBLE_LOG_RATIO = 40.0  # a term below exp(-40) of another is below its rounding

# Gauss-Legendre nodes and weights on [-1, 1], 8 points (only the positive half).
_GL8_X0, _GL8_X1, _GL8_X2, _GL8_X3 = (
    0.18343464249564980494, 0.52553240991632898582,
    0.79666647741362673959, 0.96028985649753623168)
_GL8_W0, _GL8_W1, _GL8_W2, _GL8_W3 = (
    0.36268378337836198297, 0.31370664587788728734,
    0.22238103445337447054, 0.10122853629037625915)


SPLIT = 134217729.0   # 2^27 + 1, Veltkamp's splitting constant


@vector_kernel
def square_residual(x, r):
    """x - r^2 exactly (r^2 by Dekker's exact product; x - r^2 then by Sterbenz when
    r ~ sqrt(x)), without fma."""
    c = SPLIT * r
    high = c - (c - r)
    low = r - high
    square = r * r
    error = ((high * high - square) + 2.0 * high * low) + low * low
    return (x - square) - error


@vector_kernel
def two_sum(a, b):
    """(s, e) with s = fl(a + b) and e = a + b - s exactly (Knuth's TwoSum)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


@kernel
def polynomial(x, c):
    """c[0] + c[1] x + ... + c[11] x^11 (c: 12 coefficients, zero-padded) by Estrin's
    scheme: the same terms as Horner's rule, in a dependency chain of 4 multiply-adds
    instead of 11 (each node of the ball integral waits on its polynomials)."""
    x2 = x * x
    x4 = x2 * x2
    q0 = (c[0] + c[1] * x) + (c[2] + c[3] * x) * x2
    q1 = (c[4] + c[5] * x) + (c[6] + c[7] * x) * x2
    q2 = (c[8] + c[9] * x) + (c[10] + c[11] * x) * x2
    return (q0 + q1 * x4) + q2 * (x4 * x4)


# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp.
# 23 (1969) 631-638, as in his CALERF (netlib specfun): erf on |y| <= 0.46875 (in y^2),
# erfcx on 0.46875 <= y <= 4 and on y > 4 (in 1 / y^2); numerators and denominators
# in ascending powers, zero-padded for `polynomial`
ERF_SMALL_MAX = 0.46875
_ERF_NUM = (3.20937758913846947e03, 3.77485237685302021e02, 1.13864154151050156e02,
            3.16112374387056560e00, 1.85777706184603153e-1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_ERF_DEN = (2.84423683343917062e03, 1.28261652607737228e03, 2.44024637934444173e02,
            2.36012909523441209e01, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_ERFCX_MID_NUM = (1.23033935479799725e03, 2.05107837782607147e03, 1.71204761263407058e03,
                  8.81952221241769090e02, 2.98635138197400131e02, 6.61191906371416295e01,
                  8.88314979438837594e00, 5.64188496988670089e-1, 2.15311535474403846e-8,
                  0.0, 0.0, 0.0)
_ERFCX_MID_DEN = (1.23033935480374942e03, 3.43936767414372164e03, 4.36261909014324716e03,
                  3.29079923573345963e03, 1.62138957456669019e03, 5.37181101862009858e02,
                  1.17693950891312499e02, 1.57449261107098347e01, 1.0, 0.0, 0.0, 0.0)
_ERFCX_FAR_NUM = (6.58749161529837803e-4, 1.60837851487422766e-2, 1.25781726111229246e-1,
                  3.60344899949804439e-1, 3.05326634961232344e-1, 1.63153871373020978e-2,
                  0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_ERFCX_FAR_DEN = (2.33520497626869185e-3, 6.05183413124413191e-2, 5.27905102951428412e-1,
                  1.87295284992346047e00, 2.56852019228982242e00, 1.0,
                  0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
INV_SQRT_PI = 0.56418958354775628695


@kernel
def erf_small(y):
    """erf(y) for |y| <= ERF_SMALL_MAX (Cody 1969)."""
    y2 = y * y
    return y * polynomial(y2, _ERF_NUM) / polynomial(y2, _ERF_DEN)


@kernel
def erfcx_large(y):
    """exp(y^2) erfc(y) for y >= ERF_SMALL_MAX (Cody 1969); no exponential is taken,
    so a caller that works with logarithms can add -y^2 to its own exponent."""
    if y <= 4.0:
        return polynomial(y, _ERFCX_MID_NUM) / polynomial(y, _ERFCX_MID_DEN)
    inv2 = 1.0 / (y * y)
    return (INV_SQRT_PI - inv2 * polynomial(inv2, _ERFCX_FAR_NUM)
            / polynomial(inv2, _ERFCX_FAR_DEN)) / y


@kernel
def half_erfc_scaled(y):
    """(c, e) with erfc(y) / 2 = c exp(e) for real y with |y| < 26: e = -fl(y^2) where
    y >= ERF_SMALL_MAX (c then carries erfcx and y^2's rounding error, so no
    exponential is taken and a caller in logarithms adds e to its own exponent),
    else e = 0 and c is erfc(y) / 2 itself."""
    if y >= ERF_SMALL_MAX:
        square = y * y
        return 0.5 * erfcx_large(y) * (1.0 + square_residual(square, y)), -square
    if y > -ERF_SMALL_MAX:
        return 0.5 - 0.5 * erf_small(y), 0.0
    return 1.0 - 0.5 * math.exp(-y * y) * erfcx_large(-y), 0.0


@kernel
def log_norm_pdf(x):
    """log phi(x)."""
    return -0.5 * x * x - LOG_SQRT_2PI


@kernel
def _mills_series(x):
    """x Phi(-x) / phi(x) for x >= 20: sum_k (-1)^k (2k-1)!! / x^(2k) (A&S 26.2.12)."""
    inv_x2 = 1.0 / (x * x)
    term = 1.0
    total = 1.0
    for k in range(1, 14):
        term *= -(2.0 * k - 1.0) * inv_x2
        total += term
    return total


@kernel
def mills_ratio(x):
    """Phi(-x) / phi(x) for x >= 0 (asymptotic series above 20)."""
    if x < 20.0:
        return math.exp(math.log(0.5 * math.erfc(x * INV_SQRT2)) - log_norm_pdf(x))
    return _mills_series(x) / x


@kernel
def log_norm_cdf(x):
    """log Phi(x), relative precision in both tails (asymptotic series below -20)."""
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x * INV_SQRT2))
    if x > -20.0:
        return math.log(0.5 * math.erfc(-x * INV_SQRT2))
    return log_norm_pdf(x) - math.log(-x) + math.log(_mills_series(-x))


@kernel
def log_add_exp(a, b):
    """log(exp(a) + exp(b)) without overflow."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


@kernel
def log1m_exp(a):
    """log(1 - exp(a)) for a <= 0 (Maechler's switch at log 1/2)."""
    if a > LOG_HALF:
        return math.log(-math.expm1(a))
    return math.log1p(-math.exp(a))


@kernel
def norm_ppf_from_log(log_p):
    """Phi^-1(exp(log_p)): Wichura's AS 241 (PPND16), ~1e-16 relative.

    Taking log p lets the far tail reach any probability, 1e-300 and beyond.
    """
    if log_p == -math.inf:
        return -math.inf
    if log_p >= 0.0:
        return math.inf
    p = math.exp(log_p)
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                    + 6.7265770927008700853e4) * r + 4.5921953931549871457e4) * r
                  + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
                + 1.3314166789178437745e2) * r + 3.3871328727963666080e0)
        den = (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                    + 3.9307895800092710610e4) * r + 2.1213794301586595867e4) * r
                  + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
                + 4.2313330701600911252e1) * r + 1.0)
        return q * num / den
    if q < 0.0:
        r = math.sqrt(-log_p)
    else:
        r = math.sqrt(-log1m_exp(log_p))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                    + 2.41780725177450611770e-1) * r + 1.27045825245236838258e0) * r
                  + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
                + 4.63033784615654529590e0) * r + 1.42343711074968357734e0)
        den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                    + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                  + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
                + 2.05319162663775882187e0) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                  + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
                + 5.46378491116411436990e0) * r + 6.65790464350110377720e0)
        den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                    + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                  + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                + 5.99832206555887937690e-1) * r + 1.0)
    z = num / den
    if q < 0.0:
        return -z
    return z


@kernel
def log_interval_inside(s, d, s_minus_d):
    """log P(|Z + d| <= s) for Z ~ N(0, 1), s >= 0, d >= 0; s_minus_d = s - d
    formed by the caller without cancellation.

    The mass of the 1-D ball of radius s whose centre lies d from the mean.
    """
    if s <= 0.0:
        return -math.inf
    if s_minus_d >= 0.0:
        # straddles the mean: two positive erf terms, no cancellation
        return math.log(0.5 * (math.erf(s_minus_d * INV_SQRT2) + math.erf((s + d) * INV_SQRT2)))
    # the interval (-s-d, s-d) lies below the mean; Phi(-s-d) <= exp(-(s+d)^2/2)
    upper = log_norm_cdf(s_minus_d)
    if -0.5 * (s + d) * (s + d) < upper - NEGLIGIBLE_LOG_RATIO:
        return upper
    gap = log_norm_cdf(-s - d) - upper
    if gap < -0.7:
        return upper + log1m_exp(gap)
    # narrow interval (s * d < ~0.6): phi(d) * int_{-s}^{s} exp(d t - t^2 / 2) dt by 8-point Gauss-Legendre
    total = 0.0
    for i in range(4):
        if i == 0:
            x, w = _GL8_X0, _GL8_W0
        elif i == 1:
            x, w = _GL8_X1, _GL8_W1
        elif i == 2:
            x, w = _GL8_X2, _GL8_W2
        else:
            x, w = _GL8_X3, _GL8_W3
        t = s * x
        total += 2.0 * w * math.exp(-0.5 * t * t) * math.cosh(d * t)
    return log_norm_pdf(d) + math.log(s * total)


@kernel
def log_interval_outside(s, d, s_minus_d):
    """log P(|Z + d| > s) for Z ~ N(0, 1), s >= 0, d >= 0: two positive tails
    (the far one, at most exp(-(s+d)^2/2), skipped when it cannot matter)."""
    near = log_norm_cdf(-s_minus_d)
    if -0.5 * (s + d) * (s + d) < near - NEGLIGIBLE_LOG_RATIO:
        return near
    return log_add_exp(near, log_norm_cdf(-s - d))
