"""CPU backend: the scalar kernels compiled with ``njit`` and run over flat arrays in
parallel (``prange``). Only this module knows how the kernels are launched."""
import numpy as np
from numba import njit, prange

from idrs_fast.kernels import ball as _ball
from idrs_fast.kernels import ncx2 as _ncx2

_JIT = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@njit(**_JIT)
def _ncx2_log_tail(x, df, nc, upper, out):
    for i in prange(x.size):
        out[i] = _ncx2.ncx2_log_tail(x[i], df[i], nc[i], upper)


@njit(**_JIT)
def _ncx2_quantile(log_p, df, nc, upper, out):
    for i in prange(log_p.size):
        d = np.sqrt(nc[i])
        m = _ncx2.ball_margin_quantile(d, log_p[i], df[i], upper)
        out[i] = (d + m) * (d + m)


@njit(**_JIT)
def _ball_log_mass(d, margin, dim, upper, out, evaluations):
    for i in prange(d.size):
        out[i], evaluations[i] = _ball.ball_log_mass(d[i], margin[i], dim[i], upper)


@njit(**_JIT)
def _ball_margin_quantile(d, log_p, dim, upper, out):
    for i in prange(d.size):
        out[i] = _ncx2.ball_margin_quantile(d[i], log_p[i], dim[i], upper)


def ncx2_log_tail(x, df, nc, upper):
    out = np.empty_like(x)
    _ncx2_log_tail(x, df, nc, bool(upper), out)
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
