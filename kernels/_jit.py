"""The one decorator every kernel uses.

``register_jitable`` leaves a function callable as plain Python, compiles it inline
when called from an ``njit`` function, and makes it a device function when called
from a ``numba.cuda.jit`` kernel (also under ``NUMBA_ENABLE_CUDASIM=1``).
"""
from numba.extending import register_jitable

kernel = register_jitable

__all__ = ["kernel"]
