"""CUDA target, loaded on the first GPU call: the launchers of _launch.KERNELS
compiled with ``numba.cuda.jit`` (grid-stride loops over flat device arrays, one
element per thread), on the caller's current stream, with CuPy for the element-wise
glue. Under NUMBA_ENABLE_CUDASIM=1 the same launchers run in Numba's simulator on
NumPy arrays (how CI checks them without a GPU).
"""
import contextlib
import functools
import os

import numpy as np
from numba import cuda as numba_cuda
from numba.core import types

from ._checks import as_float_array
from ._launch import balance_keys, define_launcher, output_specs, scalar_values
from .kernels._jit import VECTOR_KERNELS, bits_float, float_bits, mul32
from .kernels.counting import top_class
from .kernels.noise import normal

try:                # numba-cuda: the CUDA forms of kernels/_jit's target-specific helpers
    from numba.cuda import libdevice
    from numba.cuda.extending import overload as _cuda_overload

    @_cuda_overload(mul32, target="cuda")
    def _mul32_cuda(a, b):
        return lambda a, b: libdevice.fmul_rn(a, b)      # PTX mul.rn: never an FMA

    @_cuda_overload(float_bits, target="cuda")
    def _float_bits_cuda(y):
        return lambda y: libdevice.float_as_int(y)

    @_cuda_overload(bits_float, target="cuda")
    def _bits_float_cuda(i):
        return lambda i: libdevice.int_as_float(i)

    for _function in VECTOR_KERNELS:
        _cuda_overload(_function, target="cuda", strict=False)(
            lambda *args, _function=_function: _function)
except ImportError:                     # numba's own deprecated numba.cuda: simulator only
    pass

THREADS = 128                  # threads per block (the radius kernels are register-heavy)
BLOCKS_PER_SM = 32
SIMULATOR_GRID = (1, 8)        # the simulator runs one OS thread per CUDA thread
INSTALL = ('pip install "idrs_fast[cuda12]" (CUDA 12 drivers) or "idrs_fast[cuda13]" '
           "(CUDA 13)")


class GpuUnavailableError(RuntimeError):
    """The GPU backend was asked for, and numba-cuda / CuPy or a GPU are missing."""


def simulated():
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


@functools.cache
def modules():
    """(numba.cuda, CuPy, or NumPy under the simulator), checked once."""
    try:
        from numba import cuda
    except ImportError as error:        # pragma: no cover - numba always has numba.cuda
        raise GpuUnavailableError(f"the GPU backend needs numba-cuda: {INSTALL}") from error
    if simulated():
        return cuda, np
    try:
        import cupy
    except ImportError as error:
        raise GpuUnavailableError(f"the GPU backend needs CuPy and numba-cuda: {INSTALL}") from error
    try:
        available = cuda.is_available()
    except Exception as error:          # a broken driver or toolkit: say which
        raise GpuUnavailableError(f"numba.cuda cannot reach a GPU ({error}); {INSTALL}") from error
    if not available:
        raise GpuUnavailableError("no CUDA GPU is visible (numba.cuda.is_available() is False; "
                                  "check the driver and CUDA_VISIBLE_DEVICES)")
    return cuda, cupy


@functools.cache
def launcher(name):
    cuda, _ = modules()
    return cuda.jit(cache=not simulated())(define_launcher(name, "cuda", {"cuda": cuda}))


def noisy_rows(out, x, sigma, keys, samples, first):
    """out[r] = x[i] + sigma[i] e for rows r of the input-major list of `samples` draws
    per input, starting at row `first` (i = (first + r) // samples, sample t = its
    remainder); e's coordinate j is normal t * D + j of input i's stream, as on the
    CPU (_noise.py). One thread per coordinate."""
    rows, size = out.shape
    for e in range(numba_cuda.grid(1), rows * size, numba_cuda.gridsize(1)):
        r = e // size
        j = e - r * size
        g = first + r
        i = g // samples
        n = (g - i * samples) * size + j
        out[r, j] = x[i, j] + normal(keys[i], n, sigma[i])


def tally_votes(scores, counts, samples, first):
    """counts[i * (classes + 1) + top_class(scores, r)] += 1 for every row r, input
    i = (first + r) // samples (as _counting.py on the CPU). One thread per row."""
    rows, classes = scores.shape
    for r in range(numba_cuda.grid(1), rows, numba_cuda.gridsize(1)):
        i = (first + r) // samples
        numba_cuda.atomic.add(counts, i * (classes + 1) + top_class(scores, r), 1)


_F4, _F8 = types.float32[:, ::1], types.float64[:, ::1]
#: the Monte-Carlo kernels and the signatures they are launched with (also what the
#: PTX gate of tests/ compiles)
DEVICE_KERNELS = {
    "noisy_rows": (noisy_rows, (_F4, _F4, types.float32[::1], types.int64[::1],
                                types.int64, types.int64)),
    "tally_votes_f4": (tally_votes, (_F4, types.int64[::1], types.int64, types.int64)),
    "tally_votes_f8": (tally_votes, (_F8, types.int64[::1], types.int64, types.int64)),
}


@functools.cache
def device_kernel(name):
    cuda, _ = modules()
    return cuda.jit(cache=not simulated())(DEVICE_KERNELS[name][0])


def _torch_stream(cuda):
    """torch's current stream as a numba stream (0 under the simulator)."""
    if simulated():
        return 0
    import torch
    pointer = torch.cuda.current_stream().cuda_stream
    return cuda.external_stream(pointer) if pointer else cuda.default_stream()


def _view(tensor):
    """A torch tensor as what a kernel takes: a device array view (no copy, no sync),
    or under the simulator the CPU tensor's NumPy view."""
    if simulated():
        return tensor.numpy()
    return numba_cuda.as_cuda_array(tensor.detach(), sync=False)


def add_noise(out, x, sigma, keys, samples, first):
    """noisy_rows on torch tensors of one GPU, on torch's current stream: out (rows, D)
    float32, x (inputs, D) float32, sigma (inputs,) float32, keys (inputs,) int64 (the
    bits of the uint64 stream keys: torch's CUDA interop takes int64 everywhere)."""
    cuda, _ = modules()
    rows, size = out.shape
    blocks, threads = grid(cuda, rows * size)
    device_kernel("noisy_rows")[blocks, threads, _torch_stream(cuda)](
        _view(out), _view(x), _view(sigma), _view(keys), samples, first)


def count_top_classes(scores, counts, samples, first):
    """tally_votes on torch tensors of one GPU, on torch's current stream: scores
    (rows, classes) float32 or float64, counts (inputs * (classes + 1),) int64."""
    cuda, _ = modules()
    name = "tally_votes_f8" if scores.dtype.itemsize == 8 else "tally_votes_f4"
    blocks, threads = grid(cuda, scores.shape[0])
    device_kernel(name)[blocks, threads, _torch_stream(cuda)](
        _view(scores), _view(counts), samples, first)


def grid(cuda, size):
    """(blocks, threads) of a grid-stride launch over `size` elements."""
    if simulated():
        return SIMULATOR_GRID
    sms = cuda.get_current_device().MULTIPROCESSOR_COUNT
    return max(1, min(-(-size // THREADS), sms * BLOCKS_PER_SM)), THREADS


def target(device, library):
    return Cuda(0 if device is None else device, library)


class Cuda:
    """One GPU; `library` is what the caller gets back: 'cupy', 'torch' or 'numpy'
    (host inputs with backend='cuda')."""
    name = "cuda"

    def __init__(self, device, library):
        self.cuda, self.xp = modules()
        self.device = device
        self.library = library

    @contextlib.contextmanager
    def context(self):
        """This GPU, and the caller's current stream: torch's for torch inputs (CuPy
        then runs on it too), CuPy's otherwise."""
        if simulated():
            yield
            return
        cupy = self.xp
        with contextlib.ExitStack() as stack:
            stack.enter_context(cupy.cuda.Device(self.device))
            stack.enter_context(self.cuda.gpus[self.device])
            if self.library == "torch":
                import torch
                pointer = torch.cuda.current_stream(self.device).cuda_stream
                stack.enter_context(cupy.cuda.ExternalStream(pointer, self.device))
            yield

    def stream(self):
        """The numba stream for the current CuPy stream (0: the default stream)."""
        if simulated():
            return 0
        pointer = self.xp.cuda.get_current_stream().ptr
        return self.cuda.external_stream(pointer) if pointer else self.cuda.default_stream()

    def asarray(self, name, value):
        """value as a float64 array on this GPU: torch tensors through DLPack (no copy
        when already float64), host values copied over."""
        if type(value).__module__.split(".")[0] == "torch" and value.device.type == "cuda":
            value = self.xp.from_dlpack(value.detach())
        elif type(value).__module__.split(".")[0] != "cupy":
            value = as_float_array(name, value)
        try:
            return self.xp.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be a number or an array of numbers") from error

    def run(self, name, *arrays, **scalars):
        """Launch kernel `name` over the flat equal-length `arrays` (see _backend.run).
        Kernels with `balance` keys get their elements sorted by them first, so that
        the threads of a warp do similar work, and the results put back."""
        size = arrays[0].shape[0]
        outputs = [self.xp.empty(size, dtype) for _, dtype in output_specs(name)]
        if size == 0:
            return outputs[0] if len(outputs) == 1 else tuple(outputs)
        order = None
        keys = balance_keys(name, arrays)
        if keys and size > 1:
            order = self.xp.lexsort(self.xp.stack(keys))
            arrays = [a[order] for a in arrays]
        blocks, threads = grid(self.cuda, size)
        device_arrays = [self._device_array(a) for a in list(arrays) + outputs]
        launcher(name)[blocks, threads, self.stream()](
            *device_arrays[:len(arrays)], *scalar_values(name, scalars), *device_arrays[len(arrays):])
        if order is not None:
            for k, out in enumerate(outputs):
                restored = self.xp.empty_like(out)
                restored[order] = out
                outputs[k] = restored
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _device_array(self, array):
        if simulated():
            return np.ascontiguousarray(array)
        return self.cuda.as_cuda_array(self.xp.ascontiguousarray(array), sync=False)

    def to_host(self, array):
        return array if simulated() else self.xp.asnumpy(array)

    def from_host(self, array):
        return self.xp.asarray(array)

    def free_bytes(self):
        if simulated():
            return None
        free, _ = self.cuda.current_context().get_memory_info()
        return int(free)

    def output(self, result):
        """The result in the caller's library: torch through DLPack, NumPy copied back."""
        if self.library == "torch":
            import torch
            return torch.from_dlpack(result)
        if self.library == "numpy" and not simulated():
            return self.xp.asnumpy(result)[()] if result.ndim == 0 else self.xp.asnumpy(result)
        return result
