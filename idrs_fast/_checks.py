"""Argument checks shared by the façade: a ValueError that names the argument, the
offending value and, for arrays, its index."""
import numpy as np


def as_float_array(name, value):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from error


def require(name, values, ok, requirement):
    """Raise ValueError at the first element of `values` where `ok` is False (NaN
    makes every comparison False, so NaN is always reported)."""
    bad = ~np.asarray(ok)
    if not bad.any():
        return
    values = np.asarray(values)
    if values.ndim == 0:
        raise ValueError(f"{name} = {values[()].item()!r} {requirement}")
    index = np.unravel_index(int(np.argmax(np.broadcast_to(bad, values.shape))), values.shape)
    where = index[0] if len(index) == 1 else index
    raise ValueError(f"{name}[{where}] = {values[index].item()!r} {requirement} "
                     f"({int(bad.sum())} bad element(s) in all)")
