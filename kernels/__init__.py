"""Scalar numerical kernels of idrs_fast.

Every function here is plain Python on floats and ints, decorated with
``register_jitable`` so that the same source compiles under ``numba.njit`` (CPU)
and inside ``numba.cuda.jit`` kernels (GPU). Kernels never raise: they report
failure through NaN or a status code that the façade turns into a message.
"""
