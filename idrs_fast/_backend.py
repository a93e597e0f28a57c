"""CPU target: the launchers of _launch.KERNELS compiled with ``njit`` (parallel
``prange`` loops over flat NumPy arrays), each on its first use."""
import functools

import numpy as np
from numba import njit, prange

from ._launch import define_launcher, output_specs, scalar_values

_JIT = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@functools.cache
def launcher(name):
    """(compiled launcher, output dtypes) of kernel `name`."""
    function = njit(**_JIT)(define_launcher(name, "cpu", {"prange": prange}))
    return function, tuple(np.dtype(dtype) for _, dtype in output_specs(name))


def run(name, *arrays, **scalars):
    """Apply kernel `name` to every element of the flat, equal-length `arrays`; the
    scalars by keyword, in the table's order. One output array, or a tuple of them."""
    function, dtypes = launcher(name)
    outputs = [np.empty(arrays[0].shape, dtype) for dtype in dtypes]
    function(*arrays, *(scalar_values(name, scalars) if scalars else ()), *outputs)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)
