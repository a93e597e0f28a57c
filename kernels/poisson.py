"""The noncentral chi-square as a Poisson mixture of central ones, for small lambda:

    F_N(lambda; x) = sum_j w_j P(a + j, y),   1 - F = sum_j w_j Q(a + j, y),
    f_N(lambda; x) = 1/2 sum_j w_j g(a + j - 1, y),
    w_j = e^-mu mu^j / j! = g(j, mu),  a = N / 2,  mu = lambda / 2,  y = x / 2.

One incomplete gamma ratio (kernels/gamma.py) starts each sum and the others follow
from P(b, y) = P(b + 1, y) + g(b, y) and Q(b + 1, y) = Q(b, y) + g(b, y), with
g(b, y) = y^b e^-y / Gamma(b + 1), each run in the direction where it only adds
positive terms (P downwards from the top index, Q upwards from the bottom), so the
smaller tail keeps full relative precision. Where to cut the sums follows from
term-ratio bounds (below); the number of terms grows like sqrt(lambda), so this path
is used for lambda <= POISSON_MAX_NC only, where it is faster than the ball integral.
NaN when a bound on the number of terms is hit (the caller falls back).
"""
import math

from ._jit import kernel
from .gamma import log_gamma_ratios, log_gamma_term
from .normal import log1m_exp

POISSON_MAX_NC = 1e3
MAX_TERMS = 3000
CUT = 1e-17         # relative size of the neglected terms
RESCALE_ABOVE = 1e150
RESCALE_LOG = 345.38776394910684  # log(1e150)
LOG_2 = 0.69314718055994530942


@kernel
def poisson_applies(df, nc):
    """Whether poisson_log_tail is the cheaper path (N = 1 has a closed form)."""
    return nc <= POISSON_MAX_NC and df > 1.0


@kernel
def _lower_top(a, y, mu):
    """Last index of the lower sum. Its terms t_j = w_j P(a + j, y) satisfy
    t_{j+1} <= r_j t_j with r_j = mu / (j + 1) min(1, y / (a + j + 1)) (P decreases
    in b, and P(b + 1, y) / P(b, y) <= y / (b + 1) termwise from the series); from the
    first j0 with r < 1, the terms past `top` sum to at most
    t_j0 prod_{j0..top} r_j / (1 - r_top), which is below CUT of the sum."""
    product = 1.0
    for j in range(MAX_TERMS):
        ratio = mu / (j + 1.0) * min(1.0, y / (a + j + 1.0))
        if ratio < 1.0:
            product *= ratio
            if product <= CUT * (1.0 - ratio):
                return j
    return -1


@kernel
def _keep_in_range(t, v, total, scale):
    """Move a factor 1e150 from the running sum (t, v, total share one scale) into
    its log scale once the current term passes 1e150, so nothing overflows."""
    if t > RESCALE_ABOVE:
        return t / RESCALE_ABOVE, v / RESCALE_ABOVE, total / RESCALE_ABOVE, scale + RESCALE_LOG
    return t, v, total, scale


@kernel
def _first_term(j, a, y, mu, upper):
    """(log t_j, v_j / t_j) that start a sum at index j: t_j = w_j P(a + j, y) and
    v_j = w_j g(a + j - 1, y) for the lower sum, t_j = w_j Q(a + j, y) and
    v_j = w_j g(a + j, y) for the upper; NaN if the gamma ratio failed."""
    log_p, log_q = log_gamma_ratios(a + j, y)
    log_tail = log_q if upper else log_p
    index = a + j if upper else a + j - 1.0
    ratio = math.exp(log_gamma_term(index, y) - log_tail)
    return log_gamma_term(float(j), mu) + log_tail, ratio


@kernel
def _lower_log_sum(a, y, mu):
    """log sum_j w_j P(a + j, y), summed downwards from the top index: the term
    t_j = w_j P(a + j, y) and v_j = w_j g(a + j - 1, y) follow
    t_{j-1} = (j / mu) (t_j + v_j), v_{j-1} = (j / mu) (a + j - 1) / y v_j, in one scale.

    The sum stops once the rest is below CUT of it: the ratio
    r_j = t_{j-1} / t_j = (j / mu) (1 + v_j / t_j) falls as j falls (v_j / t_j =
    g(b - 1, y) / P(b, y) = 1 / int_0^1 u^(b-1) e^(y (1 - u)) du, b = a + j, falls with
    b), so once r_j < 1 the terms below t_j add at most t_j r_j / (1 - r_j), that is
    t_{j-1} t_j / (t_j - t_{j-1}): no division needed."""
    top = _lower_top(a, y, mu)
    if top < 0:
        return math.nan, 0
    scale, v = _first_term(top, a, y, mu, False)
    if scale != scale:
        return math.nan, 0
    t = 1.0
    total = t
    inv_mu = 1.0 / mu
    inv_y = 1.0 / y
    for j in range(top, 0, -1):
        step = j * inv_mu
        following = step * (t + v)
        if following < t and following * t <= CUT * (t - following) * total:
            return scale + math.log(total), top + 1 - j
        t = following
        v *= step * (a + j - 1.0) * inv_y
        total += t
        t, v, total, scale = _keep_in_range(t, v, total, scale)
    return scale + math.log(total), top + 1


@kernel
def _upper_log_sum(a, y, mu):
    """log sum_j w_j Q(a + j, y), summed upwards: t_j = w_j Q(a + j, y) and
    v_j = w_j g(a + j, y) follow t_{j+1} = mu / (j + 1) (t_j + v_j),
    v_{j+1} = mu / (j + 1) y / (a + j + 1) v_j, in one scale.

    Terms below `bottom` add at most Q(a + m, y) sum_{j < bottom} w_j <= CUT t_m
    (m = floor(mu); Q increases in b). Above, the sum stops once
    t_j r / (1 - r) < CUT (sum), where r = mu / (j + 1) (1 + v_j / t_j) bounds the
    later term ratios (g(b, y) / Q(b, y) decreases in b)."""
    bottom = int(mu)
    product = 1.0
    for _ in range(MAX_TERMS):
        if bottom == 0:
            break
        ratio = bottom / mu                     # w_{bottom-1} / w_bottom
        product *= ratio
        bottom -= 1
        if product <= CUT * (1.0 - ratio):
            break
    scale, v = _first_term(bottom, a, y, mu, True)
    if scale != scale:
        return math.nan, 0
    t = 1.0
    total = t
    for j in range(bottom, bottom + MAX_TERMS):
        step = mu / (j + 1.0)
        following = step * (t + v)          # t r, as in _lower_log_sum
        if following < t and following * t <= CUT * (t - following) * total:
            return scale + math.log(total), j - bottom + 1
        t = following
        v *= step * y / (a + j + 1.0)
        total += t
        t, v, total, scale = _keep_in_range(t, v, total, scale)
    return math.nan, MAX_TERMS


@kernel
def poisson_log_pdf(x, df, nc):
    """(log density, number of terms) at x > 0 finite, df > 1, 0 <= nc <=
    POISSON_MAX_NC. The terms u_j = w_j g(a + j - 1, y) are log-concave in j
    (u_{j+1} / u_j = mu y / ((j + 1)(a + j)) decreases), so the sum starts at the
    largest and walks both ways until the geometric bound on the rest is below CUT."""
    a = 0.5 * df
    y = 0.5 * x
    mu = 0.5 * nc
    if mu == 0.0:
        return log_gamma_term(a - 1.0, y) - LOG_2, 1
    # (j + 1)(a + j) = mu y at the largest term
    root = 0.5 * (-(a + 1.0) + math.sqrt((a - 1.0) * (a - 1.0) + 4.0 * mu * y))
    if root > MAX_TERMS:
        return math.nan, 0
    peak = max(int(root), 0)
    scale = log_gamma_term(float(peak), mu) + log_gamma_term(a + peak - 1.0, y)
    total = 1.0
    terms = 1
    u = 1.0
    for j in range(peak, peak + MAX_TERMS):          # upwards: u_{j+1} from u_j
        ratio = mu * y / ((j + 1.0) * (a + j))
        u *= ratio
        total += u
        terms += 1
        if ratio < 1.0 and u * ratio <= CUT * (1.0 - ratio) * total:
            break
    u = 1.0
    for j in range(peak, max(peak - MAX_TERMS, 0), -1):   # downwards: u_{j-1} from u_j
        ratio = j * (a + j - 1.0) / (mu * y)
        u *= ratio
        total += u
        terms += 1
        if ratio < 1.0 and u * ratio <= CUT * (1.0 - ratio) * total:
            break
    return scale + math.log(total) - LOG_2, terms


@kernel
def poisson_log_tail(x, df, nc, upper):
    """(log F_df(nc; x) or log(1 - F) if upper, number of terms), x > 0 finite,
    df > 1, 0 <= nc <= POISSON_MAX_NC; NaN if a sum did not converge."""
    a = 0.5 * df
    y = 0.5 * x
    mu = 0.5 * nc
    lower_is_small = x - nc < df
    if mu == 0.0:
        log_p, log_q = log_gamma_ratios(a, y)
        return (log_q if upper else log_p), 1
    if lower_is_small:
        small, terms = _lower_log_sum(a, y, mu)
    else:
        small, terms = _upper_log_sum(a, y, mu)
    if small != small:
        return math.nan, terms
    small = min(small, 0.0)
    if lower_is_small != upper:
        return small, terms
    return log1m_exp(small), terms
