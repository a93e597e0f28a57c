"""The worst-case probabilities xi_> and xi_< of the paper (Theorems 2.2-2.3).

x0 with sigma s0, an adversary x1 = x0 + delta at distance a with sigma s1. The
set of class B that is worst for the defender is a likelihood-ratio set: a ball
(s1 < s0) or the complement of a ball (s1 > s0). In units of each Gaussian's sigma,
with gap = |s0^2 - s1^2|, that ball has

    centre distance  d0 = s0 a / gap  seen from x0,   d1 = s1 a / gap  seen from x1,
    radius           rho0 (units of s0),              rho1 = (s0 / s1) rho0,

(lambda_i = d_i^2 in Theorems 2.2-2.3). Written with margins m = rho - d, the map from x0's
picture to x1's is free of cancellation:

    s1 < s0:  m1 = (s0 m0 + a) / s1,      s1 > s0:  m1 = (s0 m0 - a) / s1.

m0 is solved from the mass p at x0 (kernels/ncx2.ball_margin_quantile) and
xi = mass at x1, so the ball may be a half-space to any precision: as s1 -> s0,
d -> inf and xi -> Phi(Phi^-1(p) + a / s0) (Cohen), which gap = 0 returns exactly.
"""
import math

from ._jit import kernel
from .ball import ball_log_mass
from .ncx2 import ball_margin_quantile_from
from .normal import log_norm_cdf, norm_ppf_from_log

HALF_SPACE_DISTANCE = 1e100   # beyond this d the ball is a half-space to 1e-95


@kernel
def log_xi(a, s0, s1, gap, dim, log_p, m_start):
    """(log xi, m0): log of the largest mass at x1 ~ N(x0 + delta, s1^2) of a set
    whose mass at x0 ~ N(x0, s0^2) is exp(log_p); ||delta|| = a >= 0,
    gap = |s0^2 - s1^2| given by the caller without cancellation. xi_> when
    s1 < s0, xi_< when s1 > s0. m0 is the solved margin at x0 (NaN in the limits);
    m_start a guess for it (NaN: none)."""
    if log_p == -math.inf or log_p == 0.0:   # the empty set and the whole space
        return log_p, math.nan
    if gap == 0.0 or s0 * a > HALF_SPACE_DISTANCE * gap:
        return log_norm_cdf(norm_ppf_from_log(log_p) + a / s0), math.nan
    d0 = s0 * a / gap
    d1 = s1 * a / gap
    if s1 < s0:                              # B is a ball
        m0 = ball_margin_quantile_from(d0, log_p, dim, False, m_start)
        value, evaluations = ball_log_mass(d1, (s0 * m0 + a) / s1, dim, False)
    else:                                    # B is the outside of a ball
        m0 = ball_margin_quantile_from(d0, log_p, dim, True, m_start)
        value, evaluations = ball_log_mass(d1, (s0 * m0 - a) / s1, dim, True)
    return value, m0


@kernel
def certification_slack(a, s0, s1, gap, dim, log_qa, log_pb, start_b, start_a):
    """Normal-score slack of the certificate against one adversary sigma s1
    (Appendix B.5): class A keeps at least 1 - xi(1 - pA) at x1, class B gets at
    most xi(pB), and x1 is certified iff

        slack = Phi^-1(1 - xi(qA)) - Phi^-1(xi(pB)) > 0,      qA = 1 - pA.

    With pB = qA this is -2 Phi^-1(xi(pB)) (xi < 1/2); at s1 = s0 it is Cohen's
    Phi^-1(pA) - Phi^-1(pB) - 2 a / s0, linear in a.

    Returns (slack, m0 of B, m0 of A); start_b, start_a: guesses for those margins."""
    log_xi_b, m_b = log_xi(a, s0, s1, gap, dim, log_pb, start_b)
    score_b = norm_ppf_from_log(log_xi_b)
    if log_qa == log_pb:
        return -2.0 * score_b, m_b, m_b
    log_xi_a, m_a = log_xi(a, s0, s1, gap, dim, log_qa, start_a)
    return -norm_ppf_from_log(log_xi_a) - score_b, m_b, m_a
