"""The decorators every kernel uses, and the few helpers whose code differs between
targets (each a plain Python function with a CPU overload here and a CUDA overload in
idrs_fast/_cuda.py).

``register_jitable`` leaves a function callable as plain Python, compiles it inline
when called from an ``njit`` function, and makes it a device function when called
from a ``numba.cuda.jit`` kernel (also under ``NUMBA_ENABLE_CUDASIM=1``).
"""
import numpy as np
from numba.extending import overload, register_jitable

kernel = register_jitable
#: kernels for the CPU's vectorized loops, registered by vector_kernel; _cuda.py
#: registers their CUDA form (numba-cuda's IR inliner fails on them)
VECTOR_KERNELS = []


def vector_kernel(function):
    """A kernel that the CPU build inlines at its call sites already in Numba's IR, so
    that the loops over it vectorize (kernels/noise.py: 8 float32 lanes with AVX2;
    called through LLVM it ran 2x slower); CUDA compiles it as a device function.
    Every call site gets its own copy of the body, and of the vector kernels it calls,
    before LLVM sees it: keep it to small leaves, or to a larger body with one call
    site (ball._node, reached from one place in ball._trapezoid: 10% faster a mass
    than a call, +3 s of compile); Cody's rationals and the Estrin polynomial inlined
    this way at all their sites made the cdf launcher compile in ~190 s, not ~25 s."""
    overload(function, target="cpu", inline="always", strict=False)(lambda *args: function)
    VECTOR_KERNELS.append(function)
    return function


def mul32(a, b):
    """a * b rounded on its own: never fused with a following add into an FMA. The CPU
    build does not contract (no fastmath); on CUDA, where NVVM contracts every a * b + c
    it can, idrs_fast._cuda maps this to libdevice's fmul_rn (PTX mul.rn, which is
    never contracted). Where bits must agree across devices (kernels/noise.py), every
    product goes through here."""
    return a * b


@overload(mul32, target="cpu", inline="always")
def _mul32_cpu(a, b):
    return lambda a, b: a * b


def float_bits(y):
    """The bits of a float32 as an int32 (CUDA: libdevice's float_as_int)."""
    return np.float32(y).view(np.int32)


def bits_float(i):
    """The float32 whose bits are the int32 i (CUDA: libdevice's int_as_float)."""
    return np.int32(i).view(np.float32)


@overload(float_bits, target="cpu", inline="always")
def _float_bits_cpu(y):
    return lambda y: np.float32(y).view(np.int32)


@overload(bits_float, target="cpu", inline="always")
def _bits_float_cpu(i):
    return lambda i: np.int32(i).view(np.float32)


__all__ = ["kernel", "vector_kernel", "mul32", "float_bits", "bits_float"]
