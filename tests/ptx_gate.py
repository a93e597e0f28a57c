"""Compile launchers of idrs_fast's kernel table (and the noise and counting kernels) to
PTX for sm_90 on a machine without a GPU: python tests/ptx_gate.py [--optimize] NAME...
prints one JSON line per kernel {name, optimized, seconds, bytes, fma32,
contractible_mul32, inexact32} (fused and fusible float32 products; approximate or
flush-to-zero float32 ops). The Monte-Carlo kernels, whose PTX the tests read, are
always compiled as a GPU run compiles them (NVVM -O3); the table's launchers only with
--optimize (NVVM takes 45-160 s each at -O3 and ~11 s at -O0, where typing, lowering
and NVVM's acceptance of the code are the same). numba-cuda asks the current device
for its compute capability once a kernel calls device functions; the stand-in below
answers (9, 0) and lives only here (private API: adjust when numba-cuda changes)."""
import json
import sys
import time
from unittest import mock

from numba import cuda
from numba.core import types

from idrs_fast import _cuda
from idrs_fast._launch import KERNELS, SCALAR_TYPES, define_launcher

CC = (9, 0)
ARRAY = {"float64": types.float64[::1], "bool": types.boolean[::1], "int64": types.int64[::1]}
SCALAR = {bool: types.boolean, float: types.float64}


class StandInDevice:
    compute_capability = CC


def signature(name):
    spec = KERNELS[name]
    arrays = [ARRAY["bool"] if a == "upper" else ARRAY["float64"] for a in spec.arrays]
    scalars = [SCALAR[SCALAR_TYPES[s]] for s in spec.scalars]
    outputs = [ARRAY[dtype] for out, dtype in spec.outputs if out]
    return tuple(arrays + scalars + outputs)


def compile_one(name, optimize):
    if name in KERNELS:
        function, sig = define_launcher(name, "cuda", {"cuda": cuda}), signature(name)
    else:
        function, sig = _cuda.DEVICE_KERNELS[name]
        optimize = True
    start = time.perf_counter()
    with mock.patch("numba.cuda.dispatcher.get_current_device", lambda: StandInDevice()):
        ptx, _ = cuda.compile_ptx(function, sig, cc=CC, opt=optimize)
    return dict(name=name, optimized=optimize, seconds=time.perf_counter() - start, bytes=len(ptx),
                fma32=ptx.count("fma.rn.f32"), contractible_mul32=ptx.count("mul.f32"),
                inexact32=sum(ptx.count(op) for op in (".approx.f32", ".approx.ftz.f32", ".ftz.f32")))


if __name__ == "__main__":
    names = [arg for arg in sys.argv[1:] if arg != "--optimize"]
    for kernel in names:
        print(json.dumps(compile_one(kernel, "--optimize" in sys.argv[1:])), flush=True)
