"""CPU backend: the scalar kernels compiled with ``njit`` and run over flat arrays in
parallel (``prange``). Only this module knows how the kernels are launched."""
import numpy as np
from numba import njit, prange

from idrs_fast.kernels import ball as _ball
from idrs_fast.kernels import ncx2 as _ncx2
from idrs_fast.kernels import radius as _radius
from idrs_fast.kernels import xi as _xi

_JIT = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@njit(cache=True, nogil=True)
def _needs_scipy(x, df, nc, out):
    for i in range(df.size):
        out[i] = _ncx2.needs_scipy(x[i], df[i], nc[i])


@njit(**_JIT)
def _ncx2_log_tail(x, df, nc, upper, out):
    for i in prange(x.size):
        out[i] = _ncx2.ncx2_log_tail(x[i], df[i], nc[i], upper)


@njit(**_JIT)
def _ncx2_log_pdf(x, df, nc, out):
    for i in prange(x.size):
        out[i] = _ncx2.ncx2_log_pdf(x[i], df[i], nc[i])


@njit(**_JIT)
def _ncx2_quantile(log_p, df, nc, upper, out):
    for i in prange(log_p.size):
        out[i] = _ncx2.ncx2_quantile(log_p[i], df[i], nc[i], upper)


@njit(**_JIT)
def _ball_log_mass(d, margin, dim, upper, out, evaluations):
    for i in prange(d.size):
        out[i], evaluations[i] = _ball.ball_log_mass(d[i], margin[i], dim[i], upper)


@njit(**_JIT)
def _ball_margin_quantile(d, log_p, dim, upper, out):
    for i in prange(d.size):
        out[i] = _ncx2.ball_margin_quantile(d[i], log_p[i], dim[i], upper)


@njit(**_JIT)
def _log_xi(a, s0, s1, gap, dim, log_p, out):
    for i in prange(a.size):
        out[i], margin = _xi.log_xi(a[i], s0[i], s1[i], gap[i], dim[i], log_p[i], np.nan)


@njit(**_JIT)
def _cohen_radius(log_qa, log_pb, sigma, out):
    for i in prange(log_qa.size):
        out[i] = _radius.cohen_radius(log_qa[i], log_pb[i], sigma[i])


@njit(**_JIT)
def _certified_radius(log_qa, log_pb, s0, rate, sigma_t, dim, rel_tol, out):
    for i in prange(log_qa.size):
        out[i] = _radius.certified_radius(log_qa[i], log_pb[i], s0[i], rate[i],
                                          sigma_t[i], dim[i], rel_tol)


@njit(**_JIT)
def _certified_radius_grid(log_qa, log_pb, s0, rate, sigma_t, dim, step, out):
    for i in prange(log_qa.size):
        out[i] = _radius.certified_radius_grid(log_qa[i], log_pb[i], s0[i], rate[i],
                                               sigma_t[i], dim[i], step)


def log_xi(a, s0, s1, gap, dim, log_p):
    out = np.empty_like(a)
    _log_xi(a, s0, s1, gap, dim, log_p, out)
    return out


def cohen_radius(log_qa, log_pb, sigma):
    out = np.empty_like(log_qa)
    _cohen_radius(log_qa, log_pb, sigma, out)
    return out


def certified_radius(log_qa, log_pb, s0, rate, sigma_t, dim, rel_tol):
    out = np.empty_like(log_qa)
    _certified_radius(log_qa, log_pb, s0, rate, sigma_t, dim, float(rel_tol), out)
    return out


def certified_radius_grid(log_qa, log_pb, s0, rate, sigma_t, dim, step):
    out = np.empty_like(log_qa)
    _certified_radius_grid(log_qa, log_pb, s0, rate, sigma_t, dim, float(step), out)
    return out


def ncx2_log_tail(x, df, nc, upper):
    out = np.empty_like(x)
    _ncx2_log_tail(x, df, nc, bool(upper), out)
    return out


def ncx2_log_pdf(x, df, nc):
    out = np.empty_like(x)
    _ncx2_log_pdf(x, df, nc, out)
    return out


def ncx2_quantile(log_p, df, nc, upper):
    out = np.empty_like(log_p)
    _ncx2_quantile(log_p, df, nc, bool(upper), out)
    return out


def ball_log_mass_array(d, margin, dim, upper):
    out = np.empty_like(d)
    evaluations = np.empty(d.shape, dtype=np.int64)
    _ball_log_mass(d, margin, dim, bool(upper), out, evaluations)
    return out, evaluations


def ball_margin_quantile_array(d, log_p, dim, upper):
    out = np.empty_like(d)
    _ball_margin_quantile(d, log_p, dim, bool(upper), out)
    return out


def needs_scipy(x, df, nc):
    """Where the ncx2 kernels leave the answer to scipy (kernels/ncx2.needs_scipy)."""
    out = np.empty(df.shape, dtype=np.bool_)
    _needs_scipy(x, df, nc, out)
    return out
