"""A closed-form model of the ball mass, for first guesses only: Sankaran's normal
approximation of the noncentral chi-square (Sankaran, Biometrika 50, 1963, eq. 6 of
his second approximation), written in the ball's margin so that it keeps the
half-space limit.

With X = ||Z - c||^2 ~ chi'^2_N(lambda = d^2), S = N + lambda, T = N + 2 lambda,

    h = 1 - (2/3) S (N + 3 lambda) / T^2,   p = T / S^2,   k = (h - 1)(1 - 3 h),
    (X / S)^h ~ normal, mean 1 + h p (h - 1 - (2 - h) k p / 2), sd h sqrt(2 p) (1 + k p / 2),

so P(X <= (d + m)^2) ~ Phi(z). X / S - 1 = (m (2 d + m) - N) / S is formed from the
margin m, never from (d + m)^2 - d^2, and z -> m as d -> inf (the half-space). The
radius (kernels/radius.py) solves its equations on this model first, then corrects
the answer with the exact ball integral, which alone decides what is certified.
"""
import math

from ._jit import kernel

HALF_SPACE_DISTANCE = 1e100


@kernel
def _coefficients(d, dim):
    """(S, h, mean - 1, sd) of Sankaran's normal variable (X / S)^h."""
    lam = d * d
    total = dim + lam
    twice = dim + 2.0 * lam
    h = 1.0 - (2.0 / 3.0) * total * (dim + 3.0 * lam) / (twice * twice)
    p = twice / (total * total)
    k = (h - 1.0) * (1.0 - 3.0 * h)
    shift = h * p * (h - 1.0 - 0.5 * (2.0 - h) * k * p)
    sd = h * math.sqrt(2.0 * p) * (1.0 + 0.5 * k * p)
    return total, h, shift, sd


@kernel
def model_score(d, margin, dim):
    """(z, dz/dm): the approximate lower mass P(||Z - c|| <= d + margin) = Phi(z)."""
    if d > HALF_SPACE_DISTANCE:
        return margin, 1.0
    total, h, shift, sd = _coefficients(d, dim)
    u = (margin * (2.0 * d + margin) - dim) / total
    if not u > -1.0:
        return -math.inf, math.inf
    log_ratio = math.log1p(u)
    z = (math.expm1(h * log_ratio) - shift) / sd
    slope = h * math.exp((h - 1.0) * log_ratio) * 2.0 * (d + margin) / total / sd
    return z, slope


@kernel
def model_margin(d, z, dim):
    """The margin whose model_score is z (-d, a radius of 0, where the model puts
    no mass below z)."""
    if d > HALF_SPACE_DISTANCE:
        return z
    total, h, shift, sd = _coefficients(d, dim)
    power = shift + z * sd                      # (X / S)^h - 1
    if not power > -1.0:
        return -d
    b = dim + math.expm1(math.log1p(power) / h) * total     # m (2 d + m)
    if not b > -d * d:
        return -d
    return b / (d + math.sqrt(d * d + b))
