"""Argument checks shared by the façade: a ValueError that names the argument, the
offending value and, for arrays, its index."""
import numpy as np

from ._target import current


def as_float_array(name, value):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from error


def require(name, values, ok, requirement):
    """Raise ValueError at the first element of `values` where `ok` is False (NaN
    makes every comparison False, so NaN is always reported)."""
    if not hasattr(ok, "all"):
        ok = np.asarray(ok)
    if bool(ok.all()):                  # on a GPU: one reduction, one scalar back
        return
    bad, values = ~_host(ok), _host(values)
    if values.ndim == 0:
        raise ValueError(f"{name} = {values[()].item()!r} {requirement}")
    index = np.unravel_index(int(np.argmax(np.broadcast_to(bad, values.shape))), values.shape)
    where = index[0] if len(index) == 1 else index
    raise ValueError(f"{name}[{where}] = {values[index].item()!r} {requirement} "
                     f"({int(bad.sum())} bad element(s) in all)")


def _host(array):
    """A NumPy copy (for error messages only: CuPy arrays are copied back)."""
    return array.get() if type(array).__module__.startswith("cupy") else np.asarray(array)


def broadcast(**named):
    """(flat, values, shape, scalar): the named arguments as float64 arrays (values),
    broadcast against each other and flattened into fresh C-contiguous writable
    arrays (flat: what the compiled loops get; a broadcast view would be read-only),
    their common shape, and whether all were scalars. Arrays of the current target's
    library (NumPy, or CuPy on a GPU)."""
    xp = current().xp
    values = {name: as_float_array(name, v) if xp is np else xp.asarray(v, dtype=np.float64)
              for name, v in named.items()}
    try:
        arrays = xp.broadcast_arrays(*values.values())
    except ValueError:
        shapes = ", ".join(f"{name} {v.shape}" for name, v in values.items())
        raise ValueError(f"shapes do not broadcast: {shapes}") from None
    flat = {name: xp.array(a, dtype=np.float64, order="C").ravel() for name, a in zip(values, arrays)}
    scalar = all(v.ndim == 0 for v in values.values())
    return flat, values, arrays[0].shape, scalar


def finish(out, shape, scalar):
    """The flat result in the broadcast shape; a scalar for scalar arguments."""
    out = out.reshape(shape)
    return out[()] if scalar else out
