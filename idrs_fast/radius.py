"""xi functions and certified radii of input-dependent randomized smoothing.

``xi_greater`` / ``xi_smaller`` are xi_> / xi_< of Theorems 2.2-2.3,
``certified_radius`` is Theorem 3.2 (with Appendix B.5 when pB is given and the
optional sigma_t / sigma_T clamping of Appendix D), ``cohen_radius`` is Cohen et
al.'s. All broadcast over NumPy arrays; each element is one test input and runs in
parallel. The kernels are kernels/xi.py and kernels/radius.py.
"""
import numpy as np

from ._checks import broadcast, finish, require
from ._target import current, elementwise
from .kernels.ball import MAX_DIM, MIN_DIM_ABOVE_ONE

__all__ = ["xi_greater", "xi_smaller", "certified_radius", "cohen_radius", "CLAMP_PRESETS"]

#: sigma_t(pB) of the paper's experiments (Appendix D); sigma_T = 1 / sigma_t.
CLAMP_PRESETS = {
    "cifar10": lambda p_b: 0.9993 + 0.001 * np.log10(p_b),
    "mnist": lambda p_b: 0.9988 + 0.001 * np.log10(p_b),
}


def _check_dim(values):
    """dim = 1 or MIN_DIM_ABOVE_ONE <= dim <= MAX_DIM (kernels/ball.py): outside, the
    computation is refused rather than answered with a number it cannot stand by."""
    dim = values["dim"]
    require("dim", dim, (dim == 1.0) | ((dim >= MIN_DIM_ABOVE_ONE) & (dim <= MAX_DIM)),
            f"must be 1 or in [{MIN_DIM_ABOVE_ONE:g}, {MAX_DIM:g}] (the range the kernels "
            "are verified on)")


def _check_probability(name, values):
    require(name, values[name], (values[name] >= 0.0) & (values[name] <= 1.0),
            "must be a probability in [0, 1]")


def _xi(a, sigma0, sigma1, dim, pB, greater):
    flat, values, shape, scalar = broadcast(a=a, sigma0=sigma0, sigma1=sigma1, dim=dim, pB=pB)
    xp = current().xp
    require("a", values["a"], (values["a"] >= 0.0) & xp.isfinite(values["a"]),
            "must be a finite distance >= 0")
    for name in ("sigma0", "sigma1"):
        require(name, values[name], (values[name] > 0.0) & xp.isfinite(values[name]),
                "must be finite and > 0")
    _check_dim(values)
    _check_probability("pB", values)
    s0, s1 = flat["sigma0"], flat["sigma1"]
    if greater:
        require("sigma1", values["sigma1"], values["sigma1"] <= values["sigma0"],
                "must be <= sigma0 for xi_greater (use xi_smaller)")
        gap = (s0 - s1) * (s0 + s1)
    else:
        require("sigma1", values["sigma1"], values["sigma1"] >= values["sigma0"],
                "must be >= sigma0 for xi_smaller (use xi_greater)")
        gap = (s1 - s0) * (s1 + s0)
    with np.errstate(divide="ignore"):
        log_p = xp.log(flat["pB"])
    out = xp.exp(current().run("log_xi", flat["a"], s0, s1, gap, flat["dim"], log_p))
    return finish(out, shape, scalar)


@elementwise("a", "sigma0", "sigma1", "dim", "pB")
def xi_greater(a, sigma0, sigma1, dim, pB):
    """xi_>(a) (Theorem 2.2, sigma1 <= sigma0): the largest probability of class B at
    distance a, where the sigma is sigma1, given pB at x0 with sigma0. sigma1 = sigma0
    gives Cohen's Phi(Phi^-1(pB) + a / sigma0); a = 0 the central chi-square."""
    return _xi(a, sigma0, sigma1, dim, pB, True)


@elementwise("a", "sigma0", "sigma1", "dim", "pB")
def xi_smaller(a, sigma0, sigma1, dim, pB):
    """xi_<(a) (Theorem 2.3, sigma1 >= sigma0); see xi_greater."""
    return _xi(a, sigma0, sigma1, dim, pB, False)


def _log_tails(values, flat, pB):
    """log(1 - pA) and log pB (pB = 1 - pA unless given; Appendix B.5)."""
    xp = current().xp
    _check_probability("pA", values)
    with np.errstate(divide="ignore"):
        log_qa = xp.log1p(-flat["pA"])
        if pB is None:
            return log_qa, log_qa.copy()
        _check_probability("pB", values)
        return log_qa, xp.log(flat["pB"])


@elementwise("pA", "sigma", "pB")
def cohen_radius(pA, sigma, pB=None):
    """Cohen et al.'s certified radius sigma Phi^-1(pA), or sigma/2 (Phi^-1(pA) -
    Phi^-1(pB)) with a separate pB; 0 where it is not positive (abstain)."""
    named = dict(pA=pA, sigma=sigma) if pB is None else dict(pA=pA, sigma=sigma, pB=pB)
    flat, values, shape, scalar = broadcast(**named)
    require("sigma", values["sigma"], (values["sigma"] > 0.0) & current().xp.isfinite(values["sigma"]),
            "must be finite and > 0")
    log_qa, log_pb = _log_tails(values, flat, pB)
    return finish(current().run("cohen_radius", log_qa, log_pb, flat["sigma"]), shape, scalar)


def _sigma_t(clamp, p_a, p_b):
    """sigma_t per element (1 = no clamping), checked in (0, 1] where it matters."""
    xp = current().xp
    if clamp is None:
        return xp.ones_like(p_a)
    if isinstance(clamp, str):
        if clamp not in CLAMP_PRESETS:
            raise ValueError(f"clamp = {clamp!r} is not one of {sorted(CLAMP_PRESETS)}, "
                             "None or a function of pA")
        rule = CLAMP_PRESETS[clamp]
        argument = p_b
    elif callable(clamp):
        rule = clamp
        argument = p_a
    else:
        raise ValueError(f"clamp = {clamp!r} must be None, a preset name or a function of pA")
    matters = (p_a > 0.5) & (p_a < 1.0) & (p_b > 0.0)
    sigma_t = xp.ones_like(p_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_t[matters] = xp.broadcast_to(
            xp.asarray(rule(argument[matters]), dtype=np.float64), (int(matters.sum()),))
    require("clamp(pA)", sigma_t, (sigma_t > 0.0) & (sigma_t <= 1.0), "must be in (0, 1]")
    return sigma_t


@elementwise("pA", "sigma0", "rate", "dim", "pB")
def certified_radius(pA, sigma0, rate, dim, *, pB=None, clamp=None, grid_step=None,
                     rel_tol=1e-9):
    """Certified radius of IDRS (Theorem 3.2) for every element.

    pA: lower confidence bound of the top class; sigma0: sigma(x0) of each input;
    rate: the semi-elasticity r of sigma (0 gives Cohen's radius exactly); dim: the
    input dimension N. pB: a separate upper bound of the runner-up (Appendix B.5);
    default 1 - pA. clamp: None (exact, default), "cifar10", "mnist" (Appendix D
    presets, sigma_t of pB) or a function of pA returning sigma_t (sigma_T = 1 /
    sigma_t). grid_step: None for the exact search (a radius that passes, within
    rel_tol of the supremum), or a step h to reproduce Algorithm 3 (squared steps
    on the grid k h, the last grid radius that passed). 0 where pA <= 1/2.
    """
    named = dict(pA=pA, sigma0=sigma0, rate=rate, dim=dim)
    if pB is not None:
        named["pB"] = pB
    flat, values, shape, scalar = broadcast(**named)
    xp = current().xp
    require("sigma0", values["sigma0"], (values["sigma0"] > 0.0) & xp.isfinite(values["sigma0"]),
            "must be finite and > 0")
    require("rate", values["rate"], (values["rate"] >= 0.0) & xp.isfinite(values["rate"]),
            "must be finite and >= 0")
    _check_dim(values)
    log_qa, log_pb = _log_tails(values, flat, pB)
    sigma_t = _sigma_t(clamp, flat["pA"], xp.exp(log_pb))
    args = (log_qa, log_pb, flat["sigma0"], flat["rate"], sigma_t, flat["dim"])
    if grid_step is None:
        if not 0.0 < rel_tol < 1e-2:
            raise ValueError(f"rel_tol = {rel_tol!r} must be in (0, 1e-2)")
        out = current().run("certified_radius", *args, rel_tol=rel_tol)
    else:
        if not (np.isfinite(grid_step) and grid_step > 0.0):
            raise ValueError(f"grid_step = {grid_step!r} must be finite and > 0")
        out = current().run("certified_radius_grid", *args, step=grid_step)
    return finish(out, shape, scalar)
