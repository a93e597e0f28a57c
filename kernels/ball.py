"""Gaussian mass of a ball: the geometric core of the noncentral chi-square.

Let Z ~ N(0, I_N) and a ball of radius rho whose centre lies at distance d from
the origin (both in units of the Gaussian's sigma). With margin m = rho - d,

    P(Z in ball) = F_N(lambda = d^2; x = rho^2)        (noncentral chi-square cdf).

Split Z into its component Z1 along the centre's direction and the remaining
nu = N - 1 coordinates, whose length W has the chi distribution with nu degrees
of freedom. Given W = w < rho, Z is in the ball iff |Z1 - d| <= s(w) with
s(w) = sqrt(rho^2 - w^2), so

    inside  = int_0^rho  chi_nu(w) P(|Z1 + d| <= s(w)) dw
    outside = int_0^rho  chi_nu(w) P(|Z1 + d| >  s(w)) dw  +  P(W > rho),

P(W > rho) = Q(nu / 2, rho^2 / 2) being a regularized incomplete gamma ratio
(kernels/gamma.py). Every integrand is positive, so both tails keep full relative
precision. The 1-D
probabilities need s - d, which is formed as (m (rho + d) - w^2) / (s + d): the
margin m enters directly, never rho - d, so the result stays accurate when the
ball grows into a half-space (d -> inf with m fixed, where the mass tends to
Phi(m)); d = inf is accepted and gives that limit exactly. Where w^2 is the larger
term (w near rho, d small) it is formed as (s^2 - d^2) / (s + d) instead, with
s^2 = (rho - w)(rho + w) free of cancellation. A caller that knows the squared
radius exactly (the noncentral chi-square's x) passes its residual x - rho^2, which
is added to s^2 and to the gamma ratio's argument, so the half-ulp of rho = sqrt(x)
does not cost twice x's own float64 floor.

Each integral is evaluated by the trapezoidal rule after mapping its range to the
real line (logit of w / rho) and centring a
v = v* + 3 S sinh(t / 3) substitution on the integrand's mode v* with S its
Gaussian width: the rule converges geometrically, the node count does not depend on
N or lambda, and the far tails are reached in a few steps. Every loop has a fixed
bound; the work done (integrand evaluations) is returned for tests of that bound.
"""
import math

from ._jit import kernel, vector_kernel
from .chi import chi_constants, chi_deviance, log_chi_pdf, root_offset
from .normal import (INV_SQRT2, half_erfc_scaled, two_sum, log_add_exp, log_interval_inside,
                     log_interval_outside,
                     log_norm_cdf, log_norm_pdf, log1m_exp)
from .gamma import log_gamma_ratios
from .poisson import poisson_applies, poisson_log_tail

INSIDE = 0          # chi(w) P(|Z1 + d| <= s(w)) on 0 < w < rho, logit variable
OUTSIDE_NEAR = 1    # chi(w) P(|Z1 + d| >  s(w)) on 0 < w < rho, logit variable
DENSITY = 3         # chi(w) (phi(s - d) + phi(s + d)) / s on 0 < w < rho, logit variable

MAX_BRACKET_STEPS = 60
MAX_MODE_STEPS = 60
# the mode search stops once its bracket is below this many Gaussian widths: the
# trapezoid only centres its grid there (and takes its scale from the bracket's
# slopes); where the centre is off, its own a posteriori test still decides the step
MODE_BRACKET = 1.0
MAX_NODES_PER_SIDE = 64   # at the coarse step
MAX_HALVINGS = 4
COARSE_STEP = 0.5   # trapezoid step in t for nu < 1; v = v* + 4 S sinh(t / 4)
# nu = 1 (N = 2, the tanh map): COARSE_STEP_LIMIT (error 1e-9 at 0.8 over 36 integrals);
# nu > 1: the coarse step max(MIN_COARSE_STEP, COARSE_STEP_LIMIT - COARSE_STEP_SLOPE /
# sqrt(nu)), so that the first halving already passes REFINE_TOL: the sum's error at
# step h falls like exp(-c / h) with c from ~7 (nu = 2) to ~16 (nu >= 3000), measured
# against a step of 1/8 over 36 integrals per N (N = 1.5 to 196608, lambda 0 to 1e12,
# x from -8 to +20 sd); this step keeps error(2h) below ~3e-9
COARSE_STEP_LIMIT = 0.75
COARSE_STEP_SLOPE = 0.65
MIN_COARSE_STEP = 0.3
REFINE_TOL = 1e-8   # geometric convergence: error(h) ~ error(2h)^2
# 1 < N < 2: chi's density w^(N-2) is not analytic at w = 0 and T(2h) is not yet in
# the geometric regime: at N = 1.5 the 1e-8 test passed with errors of 7e-13 (mpmath)
REFINE_TOL_FRACTIONAL = 1e-13
# 1 < N < MIN_DIM_ABOVE_ONE: chi_(N-1) piles its mass up at w ~ 0 and the integrand's
# tail, exp((N - 1) v) in the logit variable, outruns the rule's reach (relative
# errors up to 1 at N = 1.0003 against mpmath; none from 1.01 on). Those dimensions
# get NaN; the ncx2 facade asks scipy instead
MIN_DIM_ABOVE_ONE = 1.01
# above MAX_DIM the radius and xi searches are refused (the facade says so) and the
# noncentral chi-square takes the saddlepoint approximation (kernels/saddlepoint.py).
# Beyond ~1e7 with lambda << N the chord's cut-off (width ~2 / d in v) is far sharper
# than chi's mode, the trapezoid's scale misses it and passes its own test wrongly:
# relative errors 2e-11 at N = 1e7, 7e-5 at 1e8, 1e-2 at 1e11 against scipy and the
# saddlepoint, which agree there to 1e-14 (tests/test_extremes.py); up to 1e7 none
# above 3e-12, and the saddlepoint's tails are within 3e-11 from 4e6 to 1e7
MAX_DIM = 4e6
STRETCH = 4.0
MAX_SCALE = 0.5     # the mapped variables have poles pi/2 off the real axis
TAIL_CUT = 1e-16    # stop a side once a term is below this fraction of the sum (the
                    # neglected terms fall double-exponentially: ~1e-16 of it in all)
LOG_4 = 1.3862943611198906
LOG_SQRT_2PI = 0.91893853320467274178
EVEN_PROBE = 0.01    # N = 2: the curvature at the mode v = 0 from the slope here


@kernel
def _log_chord_density(s_minus_d, psi):
    """log(phi(s - d) + phi(s + d)) = log phi(s - d) + log(1 + psi), psi = exp(-2 s d):
    the density of |Z1 + d| at s, i.e. d/ds P(|Z1 + d| <= s)."""
    return log_norm_pdf(s_minus_d) + math.log1p(psi)


@vector_kernel
def _far_end_ratio(s, d):
    """psi = exp(-2 s d) = phi(s + d) / phi(s - d), the chord density's far end
    relative to its near one; 0 once below e^-40."""
    return math.exp(-2.0 * s * d) if s * d < 20.0 else 0.0


@vector_kernel
def _logistic(v):
    """(sigma(v), sigma(-v), exp(-|v|)) from one exp: the logistic map w = rho sigma(v)."""
    e = math.exp(-abs(v))
    if v >= 0.0:
        return 1.0 / (1.0 + e), e / (1.0 + e), e
    return e / (1.0 + e), 1.0 / (1.0 + e), e


@vector_kernel
def _chord(w, gap, d, margin, rho, residual):
    """(s, s - d) at w, gap = rho - w: s^2 = gap (rho + w) + residual, free of
    cancellation, and s - d = (m (rho + d) - w^2) / (s + d) = (s^2 - d^2) / (s + d),
    whichever numerator has the smaller terms (the smaller rounding error)."""
    s_squared = gap * (rho + w) + residual
    s = math.sqrt(s_squared)
    if abs(margin) * (rho + d) + w * w <= s_squared + d * d:
        return s, (margin * (rho + d) - w * w) / (s + d)
    return s, (s_squared - d * d) / (s + d)


@vector_kernel
def _chord_probability(kind, s, d, s_minus_d):
    """(p, log f) with P(|Z1 + d| <= s) (INSIDE) or P(|Z1 + d| > s) (OUTSIDE_NEAR) =
    p f: where the far end Phi(-s - d) is below exp(-2 s d) < e^-40 of the near one
    and |s - d| < 20, the near end alone from half_erfc_scaled (Cody's rational
    erfcx, its exp(-y^2) left to the caller's exponent); elsewhere p = 1 and
    log f = log_interval_inside / _outside."""
    if kind == INSIDE:
        if s <= 0.0:
            return 0.0, 0.0
        if s * d > 20.0 and s_minus_d > -20.0:      # Phi(s - d) = erfc(-(s - d) / sqrt 2) / 2
            return half_erfc_scaled(-s_minus_d * INV_SQRT2)
        return 1.0, log_interval_inside(s, d, s_minus_d)
    if s * d > 20.0 and s_minus_d < 20.0:           # Phi(d - s)
        return half_erfc_scaled(s_minus_d * INV_SQRT2)
    return 1.0, log_interval_outside(s, d, s_minus_d)


@vector_kernel
def _tanh_map(v, rho):
    """(|w|, rho - |w|, e = exp(-2|v|)) of the map w = rho tanh(v) used at N = 2,
    from one exp (dw/dv = rho sech^2 v = 4 rho e / (1 + e)^2)."""
    one_minus_e = -math.expm1(-2.0 * abs(v))
    e = 1.0 - one_minus_e
    return rho * one_minus_e / (1.0 + e), rho * 2.0 * e / (1.0 + e), e


@kernel
def _integrand_constants(rho, residual, nu):
    """chi_constants(nu) + (log rho, residual, rho - sqrt(nu) as a double-double)
    for the integrands; rho^2 + residual is the exact squared radius."""
    root_nu, root_nu_low, log_nu, log_norm = chi_constants(nu)
    rho_root, low = two_sum(rho, -root_nu)
    return root_nu, root_nu_low, log_nu, log_norm, math.log(rho), residual, rho_root, low - root_nu_low


@vector_kernel
def _root_offset(v, w, gap, root_nu, root_nu_low, rho_root, rho_root_low):
    """w - sqrt(nu) to absolute precision. Where w > rho / 2 (v > 0) it is
    (rho - sqrt nu) - gap, rho - sqrt(nu) carried as a double-double: the gap's
    rounding is e^-v times w's, and the chord is formed from the gap too, so chi and
    chord see the same node (from w's own rounding, N ~ 2e5 nodes lay ~1e-13 apart
    in log). Elsewhere root_offset."""
    if v > 0.0:
        return (rho_root - gap) + rho_root_low
    return root_offset(w, root_nu, root_nu_low)


@vector_kernel
def _relative_integrand(kind, v, d, margin, rho, nu, chi, peak, with_density):
    """(exp(log integrand - peak) at v (the value of _integrand), the same for the
    integrand of the mass's derivative in the margin if with_density, else 0).

    chi_nu(w) times the logistic map's dw/dv = w sigma(-v) is
    exp(log_norm - nu/2 chi_deviance) sigma(-v) (N = 2: phi(w) times the tanh map's
    4 rho e / (1 + e)^2); the chord probability comes without a logarithm where it
    can (_chord_probability), and the density's phi(s - d) (1 + psi) / s needs none.
    The derivative of either tail's integral in m (rho = d + m) is
    -+ int chi_nu(w) (phi(s - d) + phi(s + d)) rho / s dw (the boundary terms at
    w = rho vanish, or cancel against P(W > rho)'s): with_density gives its
    integrand as this node's value times that chord density over the chord
    probability (one more exp)."""
    root_nu, root_nu_low, log_nu, log_norm, log_rho, residual, rho_root, rho_root_low = chi
    if nu == 1.0:
        w, gap, e = _tanh_map(v, rho)
        exponent = log_rho - 0.5 * w * w - LOG_SQRT_2PI
        factor = 4.0 * e / ((1.0 + e) * (1.0 + e))
    else:
        sig, factor, e = _logistic(v)
        w = rho * sig
        gap = rho * factor
        offset = _root_offset(v, w, gap, root_nu, root_nu_low, rho_root, rho_root_low)
        exponent = log_norm - 0.5 * nu * chi_deviance(w, offset, math.nan, nu, root_nu, log_nu)
    s, s_minus_d = _chord(w, gap, d, margin, rho, residual)
    ratio = 0.0
    if kind == DENSITY:
        psi = _far_end_ratio(s, d)
        exponent -= 0.5 * s_minus_d * s_minus_d + LOG_SQRT_2PI
        factor *= (1.0 + psi) / s
    else:
        prob, log_factor = _chord_probability(kind, s, d, s_minus_d)
        exponent += log_factor
        factor *= prob
        if with_density:
            psi = _far_end_ratio(s, d)
            ratio = (math.exp(-0.5 * s_minus_d * s_minus_d - LOG_SQRT_2PI - log_factor)
                     * (1.0 + psi) * rho / (s * prob))
    exponent -= peak
    if exponent > 700.0:            # the product is representable, the factor is not
        value = math.exp(exponent + math.log(factor))
    else:
        value = math.exp(exponent) * factor
    return value, value * ratio


@kernel
def _integrand(kind, v, d, margin, rho, nu, chi, with_density):
    """(log integrand, log of the derivative's integrand over it if with_density, else
    0) at v in the mapped variable of `kind` (as in _relative_integrand), in
    logarithms throughout (the trapezoid's peak, which normalises the nodes of
    _relative_integrand); chi = _integrand_constants(rho, residual, nu)."""
    root_nu, root_nu_low, log_nu, log_norm, log_rho, residual, rho_root, rho_root_low = chi
    if nu == 1.0:
        # N = 2: chi_1 is the half-normal 2 phi(w), smooth and nonzero at w = 0, so
        # integrate phi over (-rho, rho) with w = rho tanh(v): the integrand is even
        # in v with its mode at 0 and no slow tail (tanh, sech^2 from one exp)
        w, gap, e = _tanh_map(v, rho)
        log_gap = math.log(2.0 * rho) - 2.0 * abs(v) - math.log1p(e)
        log_map = log_rho + LOG_4 - 2.0 * abs(v) - 2.0 * math.log1p(e)
        log_chi = log_norm_pdf(w)
    else:
        # logistic map w = rho sigma(v): sigma(v), sigma(-v) and their logs from one exp
        sig, sig_neg, e = _logistic(v)
        log1p_e = math.log1p(e)
        if v >= 0.0:
            log_sig, log_sig_neg = -log1p_e, -v - log1p_e
        else:
            log_sig, log_sig_neg = v - log1p_e, -log1p_e
        log_w = log_rho + log_sig
        w = rho * sig
        gap = rho * sig_neg                      # rho - w, without cancellation
        log_gap = log_rho + log_sig_neg
        log_map = log_w + log_sig_neg
        offset = _root_offset(v, w, gap, root_nu, root_nu_low, rho_root, rho_root_low)
        log_chi = log_chi_pdf(w, offset, log_w, nu, root_nu, log_nu, log_norm)
    s, s_minus_d = _chord(w, gap, d, margin, rho, residual)
    if kind == INSIDE:
        log_prob = log_interval_inside(s, d, s_minus_d)
    elif kind == OUTSIDE_NEAR:
        log_prob = log_interval_outside(s, d, s_minus_d)
    if kind == DENSITY or with_density:
        # log(s) from log(rho - w): gap underflows long before the integrand
        log_s = 0.5 * (log_gap + math.log(rho + w))
        log_density = _log_chord_density(s_minus_d, math.exp(-2.0 * s * d))
        if kind == DENSITY:
            log_prob = log_density - log_s
        else:
            return log_chi + log_prob + log_map, log_density + log_rho - log_s - log_prob
    return log_chi + log_prob + log_map, 0.0


@kernel
def _log_slope(kind, v, d, margin, rho, nu, chi):
    """d/dv of the log integrand of `kind` at v, all the mode search needs: no
    logarithm of chi or of the map is taken. The chord's d log P / ds is its density
    phi(s - d) (1 + psi) (psi = exp(-2 s d)) over its probability p exp(log f)
    (_chord_probability), where the erfcx branch's exp(-(s - d)^2 / 2 - log f) is 1
    up to rounding; -(s - d) - 2 d psi / (1 + psi) - 1 / s for DENSITY."""
    root_nu, root_nu_low, log_nu, log_norm, log_rho, residual, rho_root, rho_root_low = chi
    if nu == 1.0:
        w, gap, e = _tanh_map(v, rho)
    else:
        sig, sig_neg, e = _logistic(v)
        w = rho * sig
        gap = rho * sig_neg
    s, s_minus_d = _chord(w, gap, d, margin, rho, residual)
    psi = _far_end_ratio(s, d)
    if kind == DENSITY:
        d_log_ds = -s_minus_d - d * 2.0 * psi / (1.0 + psi) - 1.0 / s
    else:
        prob, log_factor = _chord_probability(kind, s, d, s_minus_d)
        d_log_ds = (1.0 + psi) * math.exp(log_norm_pdf(s_minus_d) - log_factor) / prob
        if kind == OUTSIDE_NEAR:
            d_log_ds = -d_log_ds
    if nu == 1.0:
        # d|w|/dv = rho sech^2 v sign(v), ds/d|w| = -|w| / s
        sign = 1.0 if v >= 0.0 else -1.0
        dw_dv = rho * 4.0 * e / ((1.0 + e) * (1.0 + e)) * sign
        return -w * dw_dv * (1.0 + d_log_ds / s) - 2.0 * sign * (1.0 - e) / (1.0 + e)
    # ds/dv = -w^2 s / (rho (rho + w))
    return (((nu - 1.0) - w * w) * sig_neg
            - d_log_ds * w * w * s / (rho * (rho + w))
            + 1.0 - 2.0 * sig)


@kernel
def _start(rho, nu):
    """A starting point for the mode search in the mapped variable."""
    peak = math.sqrt(max(nu - 1.0, 0.25))            # mode of chi_nu
    w = min(peak, 0.99 * rho)
    return math.log(w / (rho - w))


@kernel
def _log_integral(kind, d, margin, rho, residual, nu, with_density):
    """(log of the integral of `kind`, log of its derivative in the margin and that
    derivative's error bound (with_density, else -inf and inf), number of integrand
    evaluations): _trapezoid after the mode search."""
    evaluations = 0
    chi = _integrand_constants(rho, residual, nu)
    if nu == 1.0:
        # even in v: the mode is at 0, the width from the slope just beside it
        slope = _log_slope(kind, EVEN_PROBE, d, margin, rho, nu, chi)
        curvature = -slope / EVEN_PROBE
        width = 1.0 / math.sqrt(curvature) if curvature > 0.0 else 1.0
        return _trapezoid(kind, 0.0, width, d, margin, rho, nu, chi, evaluations + 1, with_density)
    # 1. bracket the mode: slope > 0 at lo, < 0 at hi
    v = _start(rho, nu)
    slope = _log_slope(kind, v, d, margin, rho, nu, chi)
    evaluations += 1
    # first step: 1.5 Newton steps with chi's own width in v, 0.7 rho / (w (rho - w))
    # (w = rho sigma(v)), at least that width, at most 1/4
    sig, sig_neg, e = _logistic(v)
    width = 0.7 / (rho * sig * sig_neg)
    step = min(0.25, max(1.5 * abs(slope) * width * width, width))
    lo, slope_lo, hi, slope_hi = v, slope, v, slope
    for _ in range(MAX_BRACKET_STEPS):
        if slope_lo > 0.0 and slope_hi < 0.0:
            break
        if slope_hi >= 0.0:
            lo, slope_lo = hi, slope_hi
            hi = hi + step
            slope_hi = _log_slope(kind, hi, d, margin, rho, nu, chi)
        else:
            hi, slope_hi = lo, slope_lo
            lo = lo - step
            slope_lo = _log_slope(kind, lo, d, margin, rho, nu, chi)
        evaluations += 1
        step *= 2.0
    # 2. Illinois iteration on the slope until the bracket is below MODE_BRACKET widths;
    #    the curvature comes from the true (unhalved) slopes at the bracket ends
    true_lo, true_hi = slope_lo, slope_hi
    side = 0
    width = 1.0
    for _ in range(MAX_MODE_STEPS):
        curvature = (true_lo - true_hi) / (hi - lo)
        width = 1.0 / math.sqrt(curvature) if curvature > 0.0 else 1.0
        if hi - lo < MODE_BRACKET * width:
            break
        v = hi - slope_hi * (hi - lo) / (slope_hi - slope_lo)
        if not (lo < v < hi):
            v = 0.5 * (lo + hi)
        slope = _log_slope(kind, v, d, margin, rho, nu, chi)
        evaluations += 1
        if slope > 0.0:
            lo, slope_lo, true_lo = v, slope, slope
            if side == 1:
                slope_hi *= 0.5
            side = 1
        else:
            hi, slope_hi, true_hi = v, slope, slope
            if side == -1:
                slope_lo *= 0.5
            side = -1
    return _trapezoid(kind, 0.5 * (lo + hi), width, d, margin, rho, nu, chi, evaluations,
                      with_density)


@kernel
def _trapezoid(kind, centre, width, d, margin, rho, nu, chi, evaluations, with_density):
    """(log integral, log derivative integral, its error bound, evaluations so far +
    its own) around the mode `centre` of Gaussian width `width` in the mapped
    variable; the derivative (_relative_integrand) only if with_density, else
    (-inf, inf).

    Trapezoidal rule in t, v = centre + 4 S sinh(t / 4): level 0 marches out from
    t = 0 at the coarse step until each tail's term is below TAIL_CUT of the sum (of
    both sums with_density); each further level halves the step (the odd nodes only)
    until two successive sums of the integral agree to REFINE_TOL (the error then is
    about REFINE_TOL^2). The derivative's bound is its last two sums' relative
    difference (the error of the coarser; the geometric rule makes the finer's about
    its square), inf if they never came within 1e-4. Every node, left (t < 0) or
    right, of every level comes from the one call of _node below, so that it is
    compiled once (inlined on the CPU, one device function on CUDA)."""
    scale = min(width, MAX_SCALE)
    peak, log_ratio = _integrand(kind, centre, d, margin, rho, nu, chi, with_density)
    evaluations += 1
    step = COARSE_STEP
    if nu > 1.0:
        step = max(MIN_COARSE_STEP, COARSE_STEP_LIMIT - COARSE_STEP_SLOPE / math.sqrt(nu))
    elif nu == 1.0:
        step = COARSE_STEP_LIMIT
    step *= 2.0                                  # level 0 halves it back
    tolerance = REFINE_TOL if nu >= 1.0 else REFINE_TOL_FRACTIONAL
    total = 1.0
    density_total = math.exp(log_ratio) if with_density else 0.0   # the centre's term
    density_error = math.inf
    k_left = 0
    k_right = 0
    for level in range(MAX_HALVINGS + 1):
        step *= 0.5
        k_left *= 2
        k_right *= 2
        # e = exp(t / 4) at the nodes t = k step (and 1 / e at -t) by recurrence
        # from k = 1: every k at level 0, the odd k after; its rounding only
        # stretches the grid, by ~4 ulp / step (~1e-15) relative
        ratio = math.exp(step / STRETCH)
        e = ratio
        inv_e = 1.0 / ratio
        stride = 1 if level == 0 else 2
        jump = ratio if level == 0 else ratio * ratio
        inv_jump = 1.0 / jump
        stop = MAX_NODES_PER_SIDE + 1 if level == 0 else max(k_left, k_right)
        left_open = True
        right_open = True
        added = 0.0
        density_added = 0.0
        for k in range(1, stop, stride):
            if level == 0 and not (left_open or right_open):
                break
            for side in range(2):
                if level == 0:
                    active = left_open if side == 0 else right_open
                else:
                    active = k < (k_left if side == 0 else k_right)
                if active:
                    term, density_term = _node(kind, inv_e if side == 0 else e,
                                               e if side == 0 else inv_e, centre, scale,
                                               peak, d, margin, rho, nu, chi, with_density)
                    if level == 0:
                        total += term
                        density_total += density_term
                        still_open = term >= TAIL_CUT * total or (
                            with_density and density_term >= TAIL_CUT * density_total)
                        if side == 0:
                            k_left = k
                            left_open = still_open
                        else:
                            k_right = k
                            right_open = still_open
                    else:
                        added += term
                        density_added += density_term
            e *= jump
            inv_e *= inv_jump
        if level == 0:
            evaluations += k_left + k_right
            continue
        evaluations += (k_left + k_right) // 2
        # T(step) - T(2 step) = step * (added - total)
        converged = abs(added - total) <= tolerance * (total + added)
        total += added
        if with_density:
            change = abs(density_added - density_total) / (density_total + density_added)
            density_error = change if change <= 1e-4 else math.inf
            density_total += density_added
        if converged:
            break
    log_density = -math.inf
    if with_density:
        log_density = peak + math.log(density_total * scale * step)
    return peak + math.log(total * scale * step), log_density, density_error, evaluations


@vector_kernel
def _node(kind, e, inv_e, centre, scale, peak, d, margin, rho, nu, chi, with_density):
    """(integrand, derivative's integrand) relative to the integrand's peak, times the
    map's derivative, at the node t with e = exp(t / STRETCH), inv_e = 1 / e (sinh
    and cosh from them); NaN (a chord of length 0) counts as 0."""
    v = centre + 0.5 * STRETCH * scale * (e - inv_e)
    value, density = _relative_integrand(kind, v, d, margin, rho, nu, chi, peak, with_density)
    stretch = 0.5 * (e + inv_e)
    term = value * stretch
    density_term = density * stretch
    if term != term:
        term = 0.0
    if density_term != density_term:
        density_term = 0.0
    return term, density_term


@kernel
def dim_supported(dim):
    """N = 1 (closed form) or MIN_DIM_ABOVE_ONE <= N <= MAX_DIM (the integral)."""
    return dim == 1.0 or MIN_DIM_ABOVE_ONE <= dim <= MAX_DIM


@kernel
def ball_log_surface_density(d, margin, rho, dim):
    """log dP/drho of the ball mass P(||Z - c|| <= rho) (the Gaussian density
    integrated over the sphere), with d, margin, rho as in ball_log_mass_radius.

    dP/drho = rho int_0^rho chi_nu(w) (phi(s - d) + phi(s + d)) / s dw, the
    derivative of the INSIDE integral (its integrand vanishes at w = rho).
    Returns (log dP/drho, integrand evaluations).
    """
    if margin != margin or d != d or rho != rho or not dim_supported(dim):
        return math.nan, 0
    if rho <= 0.0 or rho == math.inf or d == math.inf:
        if d == math.inf and rho == math.inf:
            return log_norm_pdf(margin), 0
        return -math.inf, 0
    nu = dim - 1.0
    if nu == 0.0:
        return _log_chord_density(margin, math.exp(-2.0 * rho * d)), 0
    value, unused, unused_error, evaluations = _log_integral(DENSITY, d, margin, rho, 0.0, nu, False)
    return value + math.log(rho), evaluations


@kernel
def ball_log_mass(d, margin, dim, upper):
    """log P(||Z - c|| <= d + margin) (upper=False) or its complement (upper=True),
    Z ~ N(0, I_dim), ||c|| = d >= 0, dim >= 1 real, d + margin >= 0.

    Returns (log probability, integrand evaluations). d = inf gives the half-space
    limit Phi(margin). This is the noncentral chi-square F_dim(d^2; (d + margin)^2).
    """
    return ball_log_mass_radius(d, margin, d + margin, dim, upper)


@kernel
def ball_log_mass_radius(d, margin, rho, dim, upper):
    """ball_log_mass with the radius rho = d + margin also given, for callers that
    know it to full relative precision when the ball is tiny (rho << d, where
    d + margin cancels)."""
    return ball_log_mass_squared_radius(d, margin, rho, 0.0, dim, upper)


@kernel
def ball_log_mass_squared_radius(d, margin, rho, residual, dim, upper):
    """ball_log_mass_radius for the squared radius rho^2 + residual (residual tiny):
    the noncentral chi-square passes x - rho^2 with rho = sqrt(x) rounded, whose
    half-ulp would otherwise cost twice the float64 floor of x."""
    value, log_density, density_error, evaluations = _ball_log_mass(
        d, margin, rho, residual, dim, upper, False)
    return value, evaluations


@kernel
def ball_log_mass_and_density(d, margin, dim, upper):
    """ball_log_mass together with log |dP/dm|, the derivative of the mass in the
    margin, from the same nodes (_relative_integrand), and that derivative's relative
    error bound: (log P, log |dP/dm|, error, evaluations). Where the mass does not
    come from the ball integral (the Poisson mixture, N = 1, the limits) or the
    derivative's sums did not settle, the derivative is NaN and its error inf."""
    return _ball_log_mass(d, margin, d + margin, 0.0, dim, upper, True)


@kernel
def _ball_log_mass(d, margin, rho, residual, dim, upper, with_density):
    """ball_log_mass_squared_radius, and with_density the derivative as in
    ball_log_mass_and_density."""
    if margin != margin or d != d or not dim_supported(dim):
        return math.nan, math.nan, math.inf, 0
    if d == math.inf:
        if upper:
            return log_norm_cdf(-margin), math.nan, math.inf, 0
        return log_norm_cdf(margin), math.nan, math.inf, 0
    if rho <= 0.0:
        if upper:
            return 0.0, math.nan, math.inf, 0
        return -math.inf, math.nan, math.inf, 0
    if rho == math.inf:
        if upper:
            return -math.inf, math.nan, math.inf, 0
        return 0.0, math.nan, math.inf, 0
    lam = d * d
    if poisson_applies(dim, lam):
        value, terms = poisson_log_tail(rho * rho + residual, dim, lam, upper)
        if value == value:
            return value, math.nan, math.inf, terms
    nu = dim - 1.0
    log_density = math.nan
    density_error = math.inf
    # the smaller tail is computed directly, the larger as log(1 - exp(smaller))
    lower_is_small = margin * (rho + d) < dim
    if nu == 0.0:
        s_minus_d = margin
        if lower_is_small:
            small = log_interval_inside(rho, d, s_minus_d)
        else:
            small = log_interval_outside(rho, d, s_minus_d)
        evaluations = 0
    elif lower_is_small:
        small, log_density, density_error, evaluations = _log_integral(
            INSIDE, d, margin, rho, residual, nu, with_density)
    else:
        near, log_density, density_error, evaluations = _log_integral(
            OUTSIDE_NEAR, d, margin, rho, residual, nu, with_density)
        # P(W > rho) = Q(nu / 2, (rho^2 + residual) / 2); its derivative cancels the
        # near integral's boundary term (_relative_integrand)
        log_p, far = log_gamma_ratios(0.5 * nu, 0.5 * (rho * rho + residual))
        small = log_add_exp(near, far)
    if not density_error < math.inf:
        log_density = math.nan
    if lower_is_small != upper:
        return small, log_density, density_error, evaluations
    return log1m_exp(small), log_density, density_error, evaluations
