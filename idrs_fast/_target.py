"""Where a call computes ("compute where the inputs live", the array-API rule).

NumPy arrays and Python numbers run on the CPU (_backend.py). A CuPy array or a torch
CUDA tensor among the inputs runs the call on its GPU (_cuda.py, loaded on that first
call) and returns the same library's array on that device; NumPy inputs beside it are
copied over. backend="cpu" | "cuda" forces one (NumPy inputs with "cuda" are copied
over and the result copied back). The public element-wise functions are wrapped by
`elementwise`, which picks the target, runs the body with it as `current()`, cuts
batches that do not fit the device's free memory into chunks, and converts the result
to the caller's library.
"""
import contextlib
import contextvars
import functools
import inspect

import numpy as np

from . import _backend

_CURRENT = contextvars.ContextVar("idrs_fast_target")
BACKENDS = (None, "cpu", "cuda")


class Cpu:
    """NumPy arrays and the njit launchers."""
    name = "cpu"
    xp = np

    def run(self, name, *arrays, **scalars):
        return _backend.run(name, *arrays, **scalars)

    def context(self):
        return contextlib.nullcontext()

    def to_host(self, array):
        return array

    def from_host(self, array):
        return array

    def free_bytes(self):
        return None                     # no chunking on the host

    def output(self, result):
        return result


CPU = Cpu()


def _device_of(value):
    """('cupy' | 'torch', device index) of a GPU array, None for anything else."""
    kind = type(value).__module__.split(".")[0]
    if kind == "cupy" and hasattr(value, "device"):
        return "cupy", int(value.device.id)
    if kind == "torch" and getattr(getattr(value, "device", None), "type", None) == "cuda":
        return "torch", int(value.device.index or 0)
    return None


def select(backend, named):
    """The target for these named inputs (ValueError for a bad backend or for GPU
    inputs on different devices; _cuda.GpuUnavailableError without a usable GPU)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r} must be one of {BACKENDS}")
    on_gpu = {name: where for name, value in named.items() if (where := _device_of(value))}
    if backend == "cpu" or (backend is None and not on_gpu):
        if on_gpu:
            name = next(iter(on_gpu))
            raise ValueError(f"backend='cpu' but {name} is on cuda:{on_gpu[name][1]}: "
                             "move it to the host first (no silent device-to-host copy)")
        return CPU
    devices = {where[1] for where in on_gpu.values()}
    if len(devices) > 1:
        listing = ", ".join(f"{name} on cuda:{where[1]} ({where[0]})" for name, where in on_gpu.items())
        raise ValueError(f"inputs on different GPUs: {listing}; move them to one device")
    from . import _cuda                 # the first GPU call loads CUDA
    libraries = [where[0] for where in on_gpu.values()]
    library = "torch" if "torch" in libraries else ("cupy" if libraries else "numpy")
    return _cuda.target(devices.pop() if devices else None, library)


def gpu_available():
    """Whether the GPU backend can run here (numba-cuda, CuPy and a visible GPU; not the
    simulator)."""
    from . import _cuda
    if _cuda.simulated():
        return False
    try:
        _cuda.modules()
    except _cuda.GpuUnavailableError:
        return False
    return True


def current():
    """The target of the element-wise call now running (the CPU outside one)."""
    return _CURRENT.get(CPU)


def _chunked(body, arguments, names, shape, limit, xp):
    """body over `shape` cut along its leading axes so that each piece has at most
    `limit` elements; the pieces' results written into one array."""
    size = int(np.prod(shape))
    if size <= limit or not shape:
        return body(**arguments)
    out = None
    rows = max(1, limit // max(1, size // shape[0]))
    for start in range(0, shape[0], rows):
        piece = dict(arguments)
        for name in names:
            if arguments.get(name) is not None:
                piece[name] = xp.broadcast_to(arguments[name], shape)[start:start + rows]
        if rows == 1:                   # one row still too big: cut it in turn
            for name in names:
                if piece.get(name) is not None:
                    piece[name] = piece[name][0]
            result = _chunked(body, piece, names, shape[1:], limit, xp)[None]
        else:
            result = body(**piece)
        if out is None:
            out = xp.empty(shape, dtype=result.dtype)
        out[start:start + rows] = result
    return out


def elementwise(*names, bytes_per_element=160):
    """Decorator for a public element-wise function of the arguments `names`: adds the
    keyword `backend`, runs the body on the chosen target (`current()`), in chunks of
    at most half the device's free memory at `bytes_per_element` each."""
    def decorate(body):
        signature = inspect.signature(body)

        @functools.wraps(body)
        def wrapper(*args, backend=None, **kwargs):
            if (backend != "cuda" and _CURRENT.get(CPU) is CPU and backend in BACKENDS
                    and not any(map(_device_of, args)) and not any(map(_device_of, kwargs.values()))):
                return body(*args, **kwargs)         # host inputs: the CPU, no binding
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            target = select(backend, {n: arguments[n] for n in names if arguments[n] is not None})
            token = _CURRENT.set(target)
            try:
                with target.context():
                    if target is CPU:
                        return body(**arguments)
                    arrays = {n: target.asarray(n, arguments[n]) for n in names
                              if arguments[n] is not None}
                    arguments.update(arrays)
                    try:
                        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
                    except ValueError:
                        shape = None            # the body's broadcast names the shapes
                    free = target.free_bytes()
                    if shape is None or free is None:
                        return target.output(body(**arguments))
                    limit = max(1, free // 2 // bytes_per_element)
                    return target.output(_chunked(body, arguments, names, shape, limit, target.xp))
            finally:
                _CURRENT.reset(token)
        return wrapper
    return decorate
