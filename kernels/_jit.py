"""The one decorator every kernel uses, and the one arithmetic helper that differs
between targets.

``register_jitable`` leaves a function callable as plain Python, compiles it inline
when called from an ``njit`` function, and makes it a device function when called
from a ``numba.cuda.jit`` kernel (also under ``NUMBA_ENABLE_CUDASIM=1``).
"""
from numba.extending import overload, register_jitable

kernel = register_jitable


def mul32(a, b):
    """a * b rounded on its own: never fused with a following add into an FMA. The CPU
    build does not contract (no fastmath); on CUDA, where NVVM contracts every a * b + c
    it can, idrs_fast._cuda maps this to libdevice's fmul_rn (PTX mul.rn, which is
    never contracted). Where bits must agree across devices (kernels/noise.py), every
    product goes through here."""
    return a * b


@overload(mul32, target="cpu")
def _mul32_cpu(a, b):
    return lambda a, b: a * b


__all__ = ["kernel", "mul32"]
