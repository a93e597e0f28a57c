"""Certified radius of IDRS, Theorem 3.2, one test input per call.

    CR(x0) = sup { R >= 0 : x1 at distance R is certified against both extreme
                            adversary sigmas s0 e^{-rR} (xi_>) and s0 e^{rR} (xi_<) }

The condition is monotone in R (Lemma F.4, Theorem 3.1) and CR never exceeds
Cohen's radius (Theorem B.6), so [0, Cohen] brackets it. Each side's slack
(kernels/xi.certification_slack) is nearly linear in R (exactly so in Cohen's
limit), so regula falsi with the Illinois modification converges in a few steps.
Every answer is a radius that was tested and passed, with a safety margin on the
slack: never the first that failed.

Optional clamping (Appendix D): the adversary's sigma is pushed to at least
min(sigma_t s0, s0 e^{-rR}) away from s0 on the small side and max(s0 / sigma_t,
s0 e^{rR}) on the large side; sigma_t = 1 means no clamping.
"""
import math

from ._jit import kernel
from .normal import norm_ppf_from_log
from .xi import certification_slack

GREATER = 0          # adversary sigma below s0: xi_>
SMALLER = 1          # adversary sigma above s0: xi_<
SLACK_SAFETY = 1e-10  # a radius passes only if its slack exceeds this (normal scores)
MAX_ROOT_STEPS = 200
MAX_SQUARED_STEPS = 1 << 20
MAX_BISECTIONS = 64


@kernel
def side_slack(radius, side, s0, rate, sigma_t, dim, log_qa, log_pb, start_b, start_a):
    """(slack - SLACK_SAFETY, m0 of B, m0 of A) at distance `radius` against the
    extreme adversary sigma of one side, clamped by sigma_t (Appendix D); start_b,
    start_a: margin guesses (kernels/xi.certification_slack)."""
    if side == GREATER:
        shrink = math.exp(-rate * radius)
        if sigma_t <= shrink:
            s1 = sigma_t * s0
            gap = s0 * s0 * (1.0 - sigma_t) * (1.0 + sigma_t)
        else:
            s1 = s0 * shrink
            gap = -s0 * s0 * math.expm1(-2.0 * rate * radius)
    else:
        grow = math.exp(rate * radius)
        sigma_big = 1.0 / sigma_t
        if sigma_big >= grow:
            s1 = sigma_big * s0
            gap = s0 * s0 * (sigma_big - 1.0) * (sigma_big + 1.0)
        else:
            s1 = s0 * grow
            gap = s0 * s0 * math.expm1(2.0 * rate * radius)
    slack, m_b, m_a = certification_slack(radius, s0, s1, gap, dim, log_qa, log_pb,
                                          start_b, start_a)
    return slack - SLACK_SAFETY, m_b, m_a


@kernel
def _passes(radius, side, s0, rate, sigma_t, dim, log_qa, log_pb):
    slack, m_b, m_a = side_slack(radius, side, s0, rate, sigma_t, dim, log_qa, log_pb,
                                 math.nan, math.nan)
    return slack > 0.0


@kernel
def _both_pass(radius, s0, rate, sigma_t, dim, log_qa, log_pb):
    return (_passes(radius, GREATER, s0, rate, sigma_t, dim, log_qa, log_pb)
            and _passes(radius, SMALLER, s0, rate, sigma_t, dim, log_qa, log_pb))


@kernel
def _failing(slack):
    """A failing slack for interpolation: NaN (a failed evaluation) becomes -inf."""
    return slack if slack == slack else -math.inf


@kernel
def _secant_root(lo, f_lo, hi, f_hi):
    """Where the line through (lo, f_lo), (hi, f_hi) crosses 0 (hi if undefined)."""
    p = lo + (hi - lo) * f_lo / (f_lo - f_hi)
    return p if lo < p < hi else hi


@kernel
def _last_passing(side, lo, f_lo, hi, f_hi, x_a, f_a, start_b, start_a, rel_tol,
                  s0, rate, sigma_t, dim, log_qa, log_pb):
    """Largest tested radius in [lo, hi) that passes one side, within rel_tol hi of
    the root; f_lo > 0 passes at lo, hi fails, (x_a, f_a) one more evaluation.
    Secant steps through the last two evaluations (the latest is an end of the
    bracket), kept inside the bracket (else regula falsi, else bisection); stops
    when the bracket or the predicted distance from lo to the root is below the
    tolerance. Each quantile starts from the margins of the previous evaluation."""
    x_b, f_b = hi, f_hi
    same_side = 0                        # consecutive moves of the same bracket end
    for _ in range(MAX_ROOT_STEPS):
        tolerance = rel_tol * hi
        if hi - lo <= tolerance:
            break
        p = x_b - f_b * (x_b - x_a) / (f_b - f_a) if f_b != f_a else math.nan
        if not (lo <= p < hi):
            p = _secant_root(lo, f_lo, hi, f_hi)
        if p == hi or f_hi == -math.inf or same_side >= 3:
            p = 0.5 * (lo + hi)          # guarantees the bracket halves
            same_side = 0
        if p - lo <= 0.5 * tolerance:
            break                        # lo is within the tolerance of the root
        p = min(max(p, lo + 0.25 * tolerance), hi - 0.25 * tolerance)
        f, start_b, start_a = side_slack(p, side, s0, rate, sigma_t, dim, log_qa, log_pb,
                                         start_b, start_a)
        if f > 0.0:
            same_side = same_side + 1 if x_b <= lo else 1
            lo, f_lo = p, f
        else:                            # fails (NaN counts as failing)
            same_side = same_side + 1 if x_b >= hi else 1
            hi, f_hi = p, _failing(f)
        x_a, f_a, x_b, f_b = x_b, f_b, p, _failing(f)
    return lo


@kernel
def cohen_radius(log_qa, log_pb, sigma):
    """Cohen et al.'s radius sigma/2 (Phi^-1(pA) - Phi^-1(pB)) from log(1 - pA) and
    log pB (sigma Phi^-1(pA) when pB = 1 - pA); 0 when not positive (abstain)."""
    radius = -0.5 * sigma * (norm_ppf_from_log(log_qa) + norm_ppf_from_log(log_pb))
    return radius if radius > 0.0 else 0.0


@kernel
def certified_radius(log_qa, log_pb, s0, rate, sigma_t, dim, rel_tol):
    """Theorem 3.2 to a relative tolerance rel_tol, from log_qa = log(1 - pA) and
    log_pb = log pB; pB = 1 - pA unless a separate upper bound is given
    (Appendix B.5)."""
    cohen = cohen_radius(log_qa, log_pb, s0)
    if cohen == 0.0 or cohen == math.inf or rate == 0.0:
        return cohen
    args = (s0, rate, sigma_t, dim, log_qa, log_pb)
    nan = math.nan
    f0_greater, m, m = side_slack(0.0, GREATER, *args, nan, nan)
    f0_smaller, m, m = side_slack(0.0, SMALLER, *args, nan, nan)
    if not (f0_greater > 0.0 and f0_smaller > 0.0):
        return 0.0                   # the clamped sigmas alone forbid a certificate
    fc_greater, mb_greater, ma_greater = side_slack(cohen, GREATER, *args, nan, nan)
    fc_smaller, mb_smaller, ma_smaller = side_slack(cohen, SMALLER, *args, nan, nan)
    if fc_greater > 0.0 and fc_smaller > 0.0:
        return cohen
    fc_greater = _failing(fc_greater)
    fc_smaller = _failing(fc_smaller)
    # both slacks are nearly linear: one secant step for both sides at the smaller
    # estimate, then solve the side whose refined estimate is smaller, check the
    # other there and solve it below if it fails
    probe = min(_secant_root(0.0, f0_greater, cohen, fc_greater),
                _secant_root(0.0, f0_smaller, cohen, fc_smaller))
    fp_greater, mb_greater, ma_greater = side_slack(probe, GREATER, *args, mb_greater,
                                                    ma_greater)
    fp_smaller, mb_smaller, ma_smaller = side_slack(probe, SMALLER, *args, mb_smaller,
                                                    ma_smaller)
    if fp_greater > 0.0:
        lo_g, flo_g, hi_g, fhi_g = probe, fp_greater, cohen, fc_greater
    else:
        lo_g, flo_g, hi_g, fhi_g = 0.0, f0_greater, probe, _failing(fp_greater)
    if fp_smaller > 0.0:
        lo_s, flo_s, hi_s, fhi_s = probe, fp_smaller, cohen, fc_smaller
    else:
        lo_s, flo_s, hi_s, fhi_s = 0.0, f0_smaller, probe, _failing(fp_smaller)
    # the latest evaluation (probe) is an end of each bracket; Cohen's radius is the
    # other point of the secant
    if _secant_root(lo_g, flo_g, hi_g, fhi_g) <= _secant_root(lo_s, flo_s, hi_s, fhi_s):
        radius = _last_passing(GREATER, lo_g, flo_g, hi_g, fhi_g, cohen, fc_greater,
                               mb_greater, ma_greater, rel_tol, *args)
        second, f0_second, start_b, start_a = SMALLER, f0_smaller, mb_smaller, ma_smaller
        x_a, f_a = probe, fp_smaller
    else:
        radius = _last_passing(SMALLER, lo_s, flo_s, hi_s, fhi_s, cohen, fc_smaller,
                               mb_smaller, ma_smaller, rel_tol, *args)
        second, f0_second, start_b, start_a = GREATER, f0_greater, mb_greater, ma_greater
        x_a, f_a = probe, fp_greater
    if radius == 0.0:
        return radius
    f_second, start_b, start_a = side_slack(radius, second, *args, start_b, start_a)
    if f_second > 0.0:
        return radius
    return _last_passing(second, 0.0, f0_second, radius, _failing(f_second), x_a, f_a,
                         start_b, start_a, rel_tol, *args)


@kernel
def certified_radius_grid(log_qa, log_pb, s0, rate, sigma_t, dim, step):
    """Algorithm 3 with the squared-step search of Appendix D on the grid k * step:
    test R = i^2 step for i = 1, 2, ... until one fails, then bisect between the last
    two squares; answer the last grid radius that passed (0 if none)."""
    cohen = cohen_radius(log_qa, log_pb, s0)
    if cohen == 0.0 or cohen == math.inf:
        return cohen
    args = (s0, rate, sigma_t, dim, log_qa, log_pb)
    if not _both_pass(step, *args):
        return 0.0
    i = 1
    for _ in range(MAX_SQUARED_STEPS):
        if not _both_pass((i + 1) * (i + 1) * step, *args):
            break
        i += 1
    lo = i * i                        # passes
    hi = (i + 1) * (i + 1)            # fails (or the step budget ran out)
    for _ in range(MAX_BISECTIONS):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        if _both_pass(mid * step, *args):
            lo = mid
        else:
            hi = mid
    return lo * step
