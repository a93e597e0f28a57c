"""The noncentral chi-square where its parameters are astronomically large: the
Lugannani-Rice saddlepoint approximation (Lugannani & Rice, Adv. Appl. Prob. 12,
1980), whose relative error falls like 1/(df + nc): its tails are within 3e-11 of the
ball integral's from df = 4e6 to 1e7 and within 3e-17 of mpmath at df = 1e13, and it
answers where df or nc exceed the ball integral's range (kernels/ball.py MAX_DIM,
kernels/ncx2.py CORE_MAX_NC, CORE_MAX_X); for huge x with small df and nc it keeps the logarithm of
the (underflowing) tail to many digits.

With the cumulant generating function K(t) = -(df/2) log(1 - 2t) + nc t / (1 - 2t)
and u = 1 / (1 - 2t), the saddlepoint K'(t) = x is df u + nc u^2 = x, and with
delta = u - 1 every quantity is written without cancellation:

    w^2 = df (delta - log1p delta) + nc delta^2,        sign(w) = sign(delta),
    v   = delta sqrt(df / 2 + nc u),                    (t sqrt K''(t))
    1/v - 1/w = (df g(delta) - nc) / (A B (A + B)),
        A = |v / delta|, B = |w / delta|, g(delta) = (delta - log1p delta - delta^2/2) / delta^3,

so that P(X > x) = Phi(-w) + phi(w) (1/v - 1/w) stays exact through x = mean.
"""
import math

from ._jit import kernel
from .normal import log1m_exp, log_norm_pdf, mills_ratio

LOG_2PI = 1.8378770664093453
SERIES_DELTA = 0.1


@kernel
def _g(delta, log_u):
    """(delta - log1p(delta) - delta^2 / 2) / delta^3 = -1/3 + delta/4 - delta^2/5 + ...,
    log_u = log1p(delta) = log(u)."""
    if abs(delta) >= SERIES_DELTA:
        return ((1.0 - log_u / delta) / delta - 0.5) / delta   # no overflow
    total = 0.0
    power = 1.0
    for j in range(3, 40):
        total += power / j if j % 2 == 0 else -power / j
        power *= delta
    return total


@kernel
def _saddlepoint(x, df, nc):
    """(u, log u, delta, w, A, B, g(delta)) at the saddlepoint of x (x > 0, df > 0,
    nc >= 0)."""
    root = math.hypot(df, 2.0 * math.sqrt(nc) * math.sqrt(x))      # sqrt(df^2 + 4 nc x)
    u = x / (0.5 * df + 0.5 * root)
    delta = ((x - df) - nc) / (df + nc * u + nc)
    # log u from u itself where delta ~ -1 (u tiny: delta = u - 1 has lost it)
    log_u = math.log(x) - math.log(0.5 * df + 0.5 * root) if delta < -0.5 else math.log1p(delta)
    g = _g(delta, log_u)
    a = math.hypot(math.sqrt(0.5 * df), math.sqrt(nc) * math.sqrt(u))   # |v / delta|
    if abs(delta) >= SERIES_DELTA:
        # w from its two nonnegative parts (b's form loses digits for |delta| large)
        w = math.hypot(math.sqrt(df * (delta - log_u)), math.sqrt(nc) * abs(delta))
        b = w / abs(delta)
    else:
        b = math.sqrt(0.5 * df + nc + df * delta * g)               # |w / delta|
        w = abs(delta) * b
    if delta < 0.0:
        w = -w
    return u, log_u, delta, w, a, b, g


@kernel
def saddlepoint_log_tail(x, df, nc, upper):
    """log P(X <= x) (upper=False) or log P(X > x), X ~ chi'^2_df(nc), x > 0 finite."""
    u, log_u, delta, w, a, b, g = _saddlepoint(x, df, nc)
    if u == math.inf:               # x ~ 1e308 >> df, nc: log P(X > x) = -x / 2 + o(x)
        return -0.5 * x if upper else 0.0
    correction = (df * g - nc) / a / b / (a + b)                   # 1/v - 1/w < 0
    # the tail on the far side of the mean from x is the small one
    small_is_upper = w >= 0.0
    mills = mills_ratio(abs(w))
    if small_is_upper:
        factor = mills + correction
    else:
        factor = mills - correction
    if not factor > 0.0:            # outside the approximation's reach: normal tail
        factor = mills
    small = min(log_norm_pdf(w) + math.log(factor), 0.0)
    if small_is_upper == upper:
        return small
    return log1m_exp(small)


@kernel
def saddlepoint_log_pdf(x, df, nc):
    """log density of chi'^2_df(nc) at x > 0 (the saddlepoint density,
    exp(K(t) - t x) / sqrt(2 pi K''(t)), K'' = 2 u^2 (df + 2 nc u))."""
    u, log_u, delta, w, a, b, g = _saddlepoint(x, df, nc)
    if u == math.inf:
        return -0.5 * x
    log_k2 = (0.6931471805599453 + 2.0 * log_u
              + 2.0 * math.log(math.hypot(math.sqrt(df), math.sqrt(2.0 * nc) * math.sqrt(u))))
    value = -0.5 * w * w - 0.5 * (LOG_2PI + log_k2)
    if value != value:              # u = 0 or inf, w infinite: the density underflows
        return -math.inf
    return value
