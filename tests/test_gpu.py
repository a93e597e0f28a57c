"""On a real GPU only (skipped without one): every result of the GPU backend against
the CPU path on the mpmath reference grids of tests/data (1e-12 relative), the
library and device of what comes back, the caller's stream, the noise of the GPU
against the CPU's bit for bit, and Smooth on a CUDA model against the CPU model.
Run on the lent GPU by tools/gpu_check.sh."""
import json
import pathlib

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
try:
    _GPUS = cupy.cuda.runtime.getDeviceCount()
except Exception:                                   # no driver
    _GPUS = 0
if not _GPUS:
    pytest.skip("no CUDA GPU visible", allow_module_level=True)

import torch  # noqa: E402

import idrs_fast  # noqa: E402
from idrs_fast import ncx2  # noqa: E402

pytestmark = pytest.mark.gpu
DATA = pathlib.Path(__file__).with_name("data")


def _grid(name):
    rows = json.loads((DATA / name).read_text())
    return {k: np.array([r[k] for r in rows], dtype=float) for k in ("x", "df", "nc")}


@pytest.mark.parametrize("name", ["ncx2_reference.json", "ncx2_random_reference.json",
                                  "ncx2_pdf_reference.json"])
def test_ncx2_on_cupy_equals_the_cpu(name):
    g = _grid(name)
    on_gpu = [cupy.asarray(g[k]) for k in ("x", "df", "nc")]
    for f in ("logcdf", "logsf", "logpdf", "cdf", "sf"):
        gpu = getattr(ncx2, f)(*on_gpu)
        assert isinstance(gpu, cupy.ndarray) and gpu.dtype == np.float64
        np.testing.assert_allclose(cupy.asnumpy(gpu), getattr(ncx2, f)(g["x"], g["df"], g["nc"]),
                                   rtol=1e-12, atol=0, err_msg=f)
    q = np.linspace(1e-6, 1 - 1e-6, g["x"].size)
    for f in ("ppf", "isf"):
        gpu = getattr(ncx2, f)(cupy.asarray(q), on_gpu[1], on_gpu[2])
        np.testing.assert_allclose(cupy.asnumpy(gpu), getattr(ncx2, f)(q, g["df"], g["nc"]),
                                   rtol=1e-12, err_msg=f)


def test_radius_on_the_gpu_equals_the_cpu_and_keeps_the_guarantee():
    """The mpmath brackets of tests/data/radius_reference.json, as test_radius.py checks
    them on the CPU: never above `passes`, within 1e-7 of `fails`."""
    cases = json.loads((DATA / "radius_reference.json").read_text())["cases"]
    for clamp in {c["clamp"] for c in cases}:
        rows = [c for c in cases if c["clamp"] == clamp and c["fails"] is not None]
        args = [np.array([c[k] for c in rows], dtype=float) for k in ("pA", "sigma0", "rate", "dim")]
        gpu = cupy.asnumpy(idrs_fast.certified_radius(*(cupy.asarray(a) for a in args), clamp=clamp))
        np.testing.assert_allclose(gpu, idrs_fast.certified_radius(*args, clamp=clamp), rtol=1e-12)
        for radius, row in zip(gpu, rows):
            if row["fails"] == 0.0:
                assert radius == 0.0
            else:
                assert row["fails"] * (1.0 - 1e-7) <= radius <= row["passes"]


def test_xi_and_cohen_on_torch_cuda_come_back_as_torch_on_that_device():
    a = torch.linspace(0.0, 0.5, 64, device="cuda", dtype=torch.float32)
    out = idrs_fast.xi_greater(a, 0.5, 0.45, 3072, 0.2)
    assert isinstance(out, torch.Tensor) and out.device == a.device and out.dtype == torch.float64
    np.testing.assert_allclose(out.cpu().numpy(), idrs_fast.xi_greater(a.cpu().numpy(), 0.5, 0.45,
                                                                       3072, 0.2), rtol=1e-12)
    radius = idrs_fast.cohen_radius(torch.full((8,), 0.9, device="cuda"), 0.5)
    assert isinstance(radius, torch.Tensor) and radius.is_cuda


def test_numpy_with_backend_cuda_is_copied_there_and_back():
    out = idrs_fast.certified_radius(np.array([0.9, 0.99]), 0.5, 0.01, 3072, backend="cuda")
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, idrs_fast.certified_radius(np.array([0.9, 0.99]), 0.5, 0.01, 3072),
                               rtol=1e-12)


def test_work_runs_on_the_callers_stream():
    x = cupy.linspace(1.0, 100.0, 4096)
    with cupy.cuda.Stream(non_blocking=True) as stream:
        out = ncx2.sf(x, 3.0, 2.0)
        stream.synchronize()
    np.testing.assert_allclose(cupy.asnumpy(out), ncx2.sf(cupy.asnumpy(x), 3.0, 2.0), rtol=1e-12)


def test_bad_input_gets_the_cpu_message():
    with pytest.raises(ValueError) as cpu:
        idrs_fast.certified_radius(np.array([0.9, 1.5]), 0.5, 0.01, 3072)
    with pytest.raises(ValueError) as gpu:
        idrs_fast.certified_radius(cupy.asarray([0.9, 1.5]), 0.5, 0.01, 3072)
    assert str(gpu.value) == str(cpu.value)
    assert np.isnan(cupy.asnumpy(ncx2.cdf(cupy.asarray([1.0]), -1.0, 2.0)))[0]


@pytest.mark.skipif(_GPUS < 2, reason="one GPU")
def test_two_devices_in_one_call_are_refused():
    with cupy.cuda.Device(1):
        other = cupy.ones(3)
    with pytest.raises(ValueError, match="different GPUs"):
        ncx2.cdf(cupy.ones(3), other, 1.0)


def test_gpu_noise_is_the_cpus_bit_for_bit():
    from idrs_fast import _cuda
    from idrs_fast._noise import add_noise, stream_keys
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 3071)).astype(np.float32)
    sigma = np.array([0.12, 0.5, 1.0], np.float32)
    keys = stream_keys(7, np.array([0, 5, 2**29]), 1)
    cpu = np.empty((3 * 33 - 5, 3071), np.float32)
    add_noise(cpu, np.empty(cpu.shape[0], np.int64), x, sigma, keys, 33, 5)
    gpu = torch.empty(cpu.shape, device="cuda")
    _cuda.add_noise(gpu, torch.from_numpy(x).cuda(), torch.from_numpy(sigma).cuda(),
                    torch.from_numpy(keys.view(np.int64)).cuda(), 33, 5)
    np.testing.assert_array_equal(gpu.cpu().numpy().view(np.int32), cpu.view(np.int32))


def test_smooth_on_a_cuda_model_counts_what_the_cpu_counts():
    from idrs_fast._noise import stream_keys
    from idrs_fast.smoothing import Smooth
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 4))
    x = torch.randn(3, 3, 4, 4)
    keys = stream_keys(1, np.array([0, 1, 2]), 1)
    cpu_smooth = Smooth(model, 4, 0.5)
    cpu, _ = cpu_smooth.counts(x, cpu_smooth.sigmas(x), 1000, keys, 777)
    gpu_smooth = Smooth(model.cuda(), 4, 0.5)
    gpu, _ = gpu_smooth.counts(x, gpu_smooth.sigmas(x), 1000, keys, 512)
    # same noise; the forward passes may round differently (cuBLAS vs MKL), which can
    # flip a vote only for a sample at a decision boundary
    assert np.abs(gpu.cpu().numpy() - cpu.numpy()).sum() <= 6
