"""Certified radius of IDRS, Theorem 3.2, one test input per call.

    CR(x0) = sup { R >= 0 : x1 at distance R is certified against both extreme
                            adversary sigmas s0 e^{-rR} (xi_>) and s0 e^{rR} (xi_<) }

The condition is monotone in R (Lemma F.4, Theorem 3.1) and CR never exceeds
Cohen's radius (Theorem B.6), so [0, Cohen] brackets it.

The search runs first on a closed-form model of the ball masses (kernels/sankaran.py,
~1e-6 in normal score at N = 3072): both sides' model roots, the smaller one binding.
Then Newton steps on the exact masses correct it (_solved_side): at each radius the
mass at x0 with the predicted margin is computed exactly, the margin corrected with
the model's slope, and the mass at x1 computed at the corrected margin. The last step
checks the answer without solving a quantile (_exact_term with a push): a margin
pushed to the safe side whose exact mass at x0 is at least pB (resp. qA) bounds xi
from above (the worst-case set is monotone in its margin), so the slack from it is a
lower bound; the other side is checked the same way from the model's margins.
Where any of this does not settle (small N, where the model is coarse; a clamp's
kink), the bracketed search on the exact slack (kernels/xi.certification_slack,
nearly linear in R: regula falsi with the Illinois modification) decides instead.
Every answer is a radius that was tested and passed, with a safety margin on the
slack: never the first that failed.

Optional clamping (Appendix D): the adversary's sigma is pushed to at least
min(sigma_t s0, s0 e^{-rR}) away from s0 on the small side and max(s0 / sigma_t,
s0 e^{rR}) on the large side; sigma_t = 1 means no clamping.
"""
import math

from ._jit import kernel
from .ncx2 import ball_score
from .normal import norm_ppf_from_log
from .sankaran import model_margin, model_score
from .xi import certification_slack

GREATER = 0          # adversary sigma below s0: xi_>
SMALLER = 1          # adversary sigma above s0: xi_<
SLACK_SAFETY = 1e-10  # a radius passes only if its slack exceeds this (normal scores)
MAX_ROOT_STEPS = 200
MAX_SQUARED_STEPS = 1 << 20
MAX_BISECTIONS = 64
MAX_MODEL_STEPS = 60      # regula falsi on the model slack
MAX_CORRECTIONS = 8       # exact Newton corrections before the bracketed search decides
MAX_MODEL_ERROR = 5e-2    # a coarser model (small N, small d) goes to the bracketed search
MODEL_STEP = 1e-6         # relative step of the model slack's finite difference
MARGIN_PUSH = 1e-13       # verification margin pushed to the safe side, times (1 + |m|)
MODEL_PUSH = 10.0         # on the side checked from the model: times its error


@kernel
def adversary(radius, side, s0, rate, sigma_t):
    """(s1, gap = |s0^2 - s1^2|) of the extreme adversary sigma of one side at
    distance `radius`, clamped by sigma_t (Appendix D)."""
    if side == GREATER:
        shrink = math.exp(-rate * radius)
        if sigma_t <= shrink:
            return sigma_t * s0, s0 * s0 * (1.0 - sigma_t) * (1.0 + sigma_t)
        return s0 * shrink, -s0 * s0 * math.expm1(-2.0 * rate * radius)
    grow = math.exp(rate * radius)
    sigma_big = 1.0 / sigma_t
    if sigma_big >= grow:
        return sigma_big * s0, s0 * s0 * (sigma_big - 1.0) * (sigma_big + 1.0)
    return s0 * grow, s0 * s0 * math.expm1(2.0 * rate * radius)


@kernel
def side_slack(radius, side, s0, rate, sigma_t, dim, log_qa, log_pb, start_b, start_a):
    """(slack - SLACK_SAFETY, m0 of B, m0 of A) at distance `radius` against the
    extreme adversary sigma of one side, clamped by sigma_t (Appendix D); start_b,
    start_a: margin guesses (kernels/xi.certification_slack)."""
    s1, gap = adversary(radius, side, s0, rate, sigma_t)
    slack, m_b, m_a = certification_slack(radius, s0, s1, gap, dim, log_qa, log_pb,
                                          start_b, start_a)
    return slack - SLACK_SAFETY, m_b, m_a


@kernel
def _sign(side):
    """+1 where B is a ball (xi_>, lower tail at x0), -1 where it is a ball's outside."""
    return 1.0 if side == GREATER else -1.0


@kernel
def _model_slack(radius, side, s0, rate, sigma_t, dim, z_a, z_b):
    """(model slack, model m0 of B, model m0 of A) at radius > 0: the certification
    slack with every ball mass from kernels/sankaran. z_a = Phi^-1(qA), z_b =
    Phi^-1(pB). In the lower score L (mass below = Phi(L)) of both pictures, the
    worst set of mass p at x0 has L(d0, m0) = sign z_p and Phi^-1(xi(p)) =
    sign L(d1, m1), m1 = (s0 m0 + sign a) / s1."""
    sign = _sign(side)
    s1, gap = adversary(radius, side, s0, rate, sigma_t)
    d0 = s0 * radius / gap
    d1 = s1 * radius / gap
    m_b = model_margin(d0, sign * z_b, dim)
    score_b, slope = model_score(d1, (s0 * m_b + sign * radius) / s1, dim)
    m_a = m_b
    score_a = score_b
    if z_a != z_b:
        m_a = model_margin(d0, sign * z_a, dim)
        score_a, slope = model_score(d1, (s0 * m_a + sign * radius) / s1, dim)
    return -sign * (score_a + score_b), m_b, m_a


@kernel
def _model_root(side, f0, cohen, s0, rate, sigma_t, dim, z_a, z_b):
    """Root of the model slack in (0, cohen) by regula falsi (Illinois) from the exact
    slack f0 > 0 at 0 (the model's own limit there); NaN if the model does not fail
    at cohen."""
    f_hi, m, m = _model_slack(cohen, side, s0, rate, sigma_t, dim, z_a, z_b)
    if not f_hi < 0.0:
        return math.nan
    lo, f_lo, hi = 0.0, f0, cohen
    side_moved = 0
    for _ in range(MAX_MODEL_STEPS):
        p = lo + (hi - lo) * f_lo / (f_lo - f_hi)
        if not (lo < p < hi) or hi - lo <= 1e-14 * hi:
            break
        f, m, m = _model_slack(p, side, s0, rate, sigma_t, dim, z_a, z_b)
        if f > 0.0:
            lo, f_lo = p, f
            if side_moved == 1:
                f_hi *= 0.5
            side_moved = 1
        else:
            hi, f_hi = p, f
            if side_moved == -1:
                f_lo *= 0.5
            side_moved = -1
        if f == 0.0:
            return p
    return 0.5 * (lo + hi)


@kernel
def _exact_term(radius, side, s0, rate, sigma_t, dim, z, m, push):
    """(sign Phi^-1 of the exact mass at x1, x0 excess, corrected margin) for one class
    of target score z at radius, from the margin m: the exact lower score L at x0
    with margin m and its excess sign L - z (>= 0: that ball's worst set has mass at
    least p, so its mass at x1 bounds xi from above), and the margin the model's
    slope puts where the excess vanishes. The mass at x1 is taken at that corrected
    margin, or, with push >= 0, at m itself after pushing it push (1 + |m|) to the
    safe side first (then it is a bound where the excess is >= 0)."""
    sign = _sign(side)
    upper = side != GREATER
    s1, gap = adversary(radius, side, s0, rate, sigma_t)
    d0 = s0 * radius / gap
    d1 = s1 * radius / gap
    if push >= 0.0:
        m = m + sign * push * (1.0 + abs(m))
    excess = sign * ball_score(d0, m, dim, upper) - z
    score, slope = model_score(d0, m, dim)
    corrected = m
    if slope > 0.0 and abs(excess) < math.inf:
        corrected = m - sign * excess / slope
    at = m if push >= 0.0 else corrected
    return sign * ball_score(d1, (s0 * at + sign * radius) / s1, dim, upper), excess, corrected


@kernel
def _model_slope(radius, side, s0, rate, sigma_t, dim, z_a, z_b):
    """(d slack / dR, d m0 of B / dR, d m0 of A / dR) of the model, central differences."""
    h = MODEL_STEP * radius
    f_up, mu_b, mu_a = _model_slack(radius + h, side, s0, rate, sigma_t, dim, z_a, z_b)
    f_down, md_b, md_a = _model_slack(radius - h, side, s0, rate, sigma_t, dim, z_a, z_b)
    return (f_up - f_down) / (2.0 * h), (mu_b - md_b) / (2.0 * h), (mu_a - md_a) / (2.0 * h)


@kernel
def _solved_side(side, radius, s0, rate, sigma_t, dim, z_a, z_b, rel_tol):
    """(radius, model error): the binding side solved from its model root `radius` by
    Newton steps on the exact masses, ending on a radius that _exact_term verified
    (margins pushed MARGIN_PUSH to the safe side, excesses >= 0, slack above
    SLACK_SAFETY) and whose predicted root lies within rel_tol of it. Each step
    evaluates x0 at the predicted margins and x1 at the corrected ones (or, once the
    predicted error is below a quarter of the tolerance, at pushed ones: a
    verification at the root backed off by half the tolerance); the slope is the
    model's, then the exact secant. The model error is the first margin correction
    over (1 + |m|); NaN radius where this did not settle in MAX_CORRECTIONS."""
    f, m_b, m_a = _model_slack(radius, side, s0, rate, sigma_t, dim, z_a, z_b)
    previous_r = math.nan
    previous_f = math.nan
    model_error = math.nan
    verify = False
    for _ in range(MAX_CORRECTIONS):
        push = MARGIN_PUSH if verify else -1.0
        y_b, excess_b, m_b = _exact_term(radius, side, s0, rate, sigma_t, dim, z_b, m_b, push)
        y_a, excess_a, m_a = y_b, excess_b, m_b
        if z_a != z_b:
            y_a, excess_a, m_a = _exact_term(radius, side, s0, rate, sigma_t, dim, z_a, m_a, push)
        slack = -(y_a + y_b) - SLACK_SAFETY
        if not abs(slack) < math.inf:
            return math.nan, model_error
        slope, dm_b, dm_a = _model_slope(radius, side, s0, rate, sigma_t, dim, z_a, z_b)
        if model_error != model_error:
            model_error = max(abs(excess_b), abs(excess_a)) / (1.0 + min(abs(m_b), abs(m_a)))
            if not model_error <= MAX_MODEL_ERROR:
                return math.nan, model_error
        if previous_r == previous_r and previous_r != radius:
            secant = (slack - previous_f) / (radius - previous_r)
            if 0.5 * slope < secant < 2.0 * slope or 2.0 * slope < secant < 0.5 * slope:
                slope = secant
        if not slope < 0.0:
            return math.nan, model_error
        step = -slack / slope
        if verify and excess_b >= 0.0 and excess_a >= 0.0 and slack > 0.0 \
                and step <= rel_tol * radius:
            return radius, model_error
        # next: the predicted root, backed off by half the tolerance once its error
        # (the step times the slope's error, taken as 100 model errors) is below a
        # quarter of it
        target = radius + step
        verify = abs(step) * min(100.0 * model_error + 1e-6, 1.0) <= 0.25 * rel_tol * target
        if verify:
            target *= 1.0 - 0.5 * rel_tol
        m_b += dm_b * (target - radius)
        m_a += dm_a * (target - radius)
        previous_r, previous_f = radius, slack
        radius = target
    return math.nan, model_error


@kernel
def _model_radius(f0_greater, f0_smaller, cohen, s0, rate, sigma_t, dim, log_qa, log_pb,
                  rel_tol):
    """The radius from the model and Newton corrections, verified on both sides
    (module docstring); NaN where that did not settle."""
    z_a = norm_ppf_from_log(log_qa)
    z_b = norm_ppf_from_log(log_pb)
    args = (s0, rate, sigma_t, dim, z_a, z_b)
    root_g = _model_root(GREATER, f0_greater, cohen, *args)
    root_s = _model_root(SMALLER, f0_smaller, cohen, *args)
    if not (root_g > 0.0 and root_s > 0.0):
        return math.nan
    side, other, root, root_other = GREATER, SMALLER, root_g, root_s
    if root_s < root_g:
        side, other, root, root_other = SMALLER, GREATER, root_s, root_g
    radius, model_error = _solved_side(side, root, *args, rel_tol)
    if not radius > 0.0:
        return math.nan
    # the other side: margins from the model, pushed MODEL_PUSH times beyond the
    # binding side's model error; where that bound is too loose, its exact slack
    # (quantiles started from those margins) decides
    f, m_b, m_a = _model_slack(radius, other, *args)
    push = MODEL_PUSH * model_error + MARGIN_PUSH
    y_b, excess_b, m = _exact_term(radius, other, *args[:4], z_b, m_b, push)
    y_a, excess_a = y_b, excess_b
    if z_a != z_b:
        y_a, excess_a, m = _exact_term(radius, other, *args[:4], z_a, m_a, push)
    if excess_b >= 0.0 and excess_a >= 0.0 and -(y_a + y_b) - SLACK_SAFETY > 0.0:
        return radius
    f, m_b, m_a = side_slack(radius, other, s0, rate, sigma_t, dim, log_qa, log_pb, m_b, m_a)
    if f > 0.0:
        return radius
    # the sides' roots were closer than the model could tell: the other one binds
    second, model_error = _solved_side(other, root_other, *args, rel_tol)
    if not 0.0 < second < radius:
        return math.nan
    f, m_b, m_a = side_slack(second, side, s0, rate, sigma_t, dim, log_qa, log_pb, m_b, m_a)
    if f > 0.0:
        return second
    return math.nan


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
    radius = _model_radius(f0_greater, f0_smaller, cohen, *args, rel_tol)
    if radius == radius:
        return radius
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
