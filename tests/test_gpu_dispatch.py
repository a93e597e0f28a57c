"""Choosing the target, without a GPU: bad backends, GPU arrays of two devices in one
call, a GPU array with backend="cpu", and what a request for the GPU says when
CuPy/numba-cuda or a GPU are missing. GPU arrays are stood in for by objects that
look like CuPy's and torch's to _target._device_of (nothing reaches a kernel)."""
import importlib.util
import os

import numpy as np
import pytest

import idrs_fast
from idrs_fast import _cuda, _target


class _Device:
    def __init__(self, index):
        self.id = self.index = index
        self.type = "cuda"


def fake(module, index):
    """An object whose type lives in `module` ('cupy' or 'torch') on cuda:index."""
    cls = type("Array", (), {"__module__": module})
    obj = cls()
    obj.device = _Device(index)
    return obj


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend = 'gpu' must be one of"):
        idrs_fast.ncx2.cdf(1.0, 2.0, 3.0, backend="gpu")


def test_arrays_on_two_gpus_are_refused_before_any_copy():
    with pytest.raises(ValueError, match=r"different GPUs: x on cuda:0 \(cupy\), df on cuda:1 \(torch\)"):
        idrs_fast.ncx2.cdf(fake("cupy._core.core", 0), fake("torch", 1), 3.0)


def test_a_gpu_array_with_backend_cpu_is_refused():
    with pytest.raises(ValueError, match="backend='cpu' but pA is on cuda:0"):
        idrs_fast.certified_radius(fake("cupy", 0), 0.5, 0.01, 3072, backend="cpu")


def test_host_inputs_stay_on_the_cpu():
    assert _target.select(None, {"x": np.ones(3), "df": 2.0}) is _target.CPU
    assert _target.select("cpu", {"x": np.ones(3)}) is _target.CPU


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="simulator present")
def test_asking_for_the_gpu_without_one_says_what_to_install_or_that_none_is_visible():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed: the message is about the GPU itself")
    _cuda.modules.cache_clear()
    with pytest.raises(_cuda.GpuUnavailableError, match=r'pip install "idrs_fast\[cuda12\]"'):
        idrs_fast.certified_radius(0.9, 0.5, 0.01, 3072, backend="cuda")
    with pytest.raises(RuntimeError, match="needs CuPy"):
        idrs_fast.ncx2.ppf(0.5, 2.0, 1.0, backend="cuda")


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="simulator present")
def test_with_cupy_but_no_visible_gpu_the_error_says_so(monkeypatch):
    import sys
    import types

    from numba import cuda
    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    _cuda.modules.cache_clear()
    try:
        with pytest.raises(_cuda.GpuUnavailableError, match="no CUDA GPU is visible"):
            idrs_fast.cohen_radius(0.9, 0.5, backend="cuda")
    finally:
        _cuda.modules.cache_clear()
