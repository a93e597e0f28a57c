"""The CUDA half under NUMBA_ENABLE_CUDASIM=1, against the CPU build: the generated
launchers of every kernel in the table through the public functions with
backend="cuda" (the simulator runs device code as plain Python, where a domain error
raises instead of giving NaN, so it also catches a kernel that leans on NaN
silently), chunking, the sort that balances warps, the noise and vote kernels bit
for bit, and Smooth's device path. Each runs in a subprocess: the simulator must be
chosen before numba is imported. Inputs are few (the simulator is slow)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import idrs_fast
from idrs_fast import ncx2
from idrs_fast._noise import add_noise, stream_keys

X = [3e18, 1e20, 5.0, 1e13 - 4.5e7, 1e-100, 1.7e308, 40.0, 0.7]
DF = [2.0, 3.0, 2.0, 1e13, 1e50, 3.0, 30.0, 0.5]       # 0.5: scipy's range (host)
NC = [1.0, 1.0, 1e200, 0.0, 1.0, 1e300, 5.0, 2.0]

PA = [0.99, 0.6, 0.3, 0.9999, 0.75]                    # unsorted: the balancing sort
SIGMA = [0.25, 0.5, 0.5, 0.12, 1.0]


def simulate(body, *args):
    """Run `body` (Python source using `args`) in the simulator; its last printed line
    is JSON."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    script = "import json, sys\nimport numpy as np\nargs = json.loads(sys.argv[1])\n" + textwrap.dedent(body)
    run = subprocess.run([sys.executable, "-c", script, json.dumps(args)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def device_results():
    return simulate("""
        from idrs_fast import ncx2, xi_greater, xi_smaller, certified_radius, cohen_radius
        x, df, nc, pa, sigma = (np.array(v) for v in args)
        out = {f: getattr(ncx2, f)(x, df, nc, backend="cuda").tolist()
               for f in ("logcdf", "logsf", "logpdf", "cdf", "sf", "pdf")}
        out["ppf"] = ncx2.ppf(np.array([0.3, 0.999, 0.0, 1.0, 0.3]), df[[2, 6, 6, 6, 7]],
                              nc[[2, 6, 6, 6, 7]], backend="cuda").tolist()
        out["isf"] = ncx2.isf(1e-3, df[[4, 6, 7]], nc[[4, 6, 7]], backend="cuda").tolist()
        out["scalar"] = float(ncx2.sf(40.0, 30.0, 5.0, backend="cuda"))
        out["xi_greater"] = xi_greater([0.1, 0.3], 0.5, 0.45, 3072, 0.2, backend="cuda").tolist()
        out["xi_smaller"] = xi_smaller([0.1, 0.3], 0.5, 0.55, 100, 0.2, backend="cuda").tolist()
        out["radius"] = certified_radius(pa, sigma, 0.01, 3072, backend="cuda").tolist()
        out["grid"] = certified_radius(pa[:2], sigma[:2], 0.01, 784, grid_step=0.01,
                                       clamp="cifar10", backend="cuda").tolist()
        out["cohen"] = cohen_radius(pa, sigma, backend="cuda").tolist()
        try:
            certified_radius(1.5, 0.5, 0.01, 3072, backend="cuda")
        except ValueError as error:
            out["error"] = str(error)
        print(json.dumps(out))
    """, X, DF, NC, PA, SIGMA)


def test_ncx2_on_the_cuda_target_matches_the_cpu(device_results):
    x, df, nc = (np.array(v) for v in (X, DF, NC))
    for name in ("logcdf", "logsf", "logpdf", "cdf", "sf", "pdf"):
        cpu = getattr(ncx2, name)(x, df, nc)
        np.testing.assert_allclose(device_results[name], cpu, rtol=1e-12, atol=1e-300, err_msg=name)
    np.testing.assert_allclose(device_results["ppf"], ncx2.ppf(
        np.array([0.3, 0.999, 0.0, 1.0, 0.3]), df[[2, 6, 6, 6, 7]], nc[[2, 6, 6, 6, 7]]), rtol=1e-12)
    np.testing.assert_allclose(device_results["isf"], ncx2.isf(1e-3, df[[4, 6, 7]], nc[[4, 6, 7]]),
                               rtol=1e-12)
    assert device_results["scalar"] == pytest.approx(float(ncx2.sf(40.0, 30.0, 5.0)), rel=1e-12)


def test_xi_and_radii_on_the_cuda_target_match_the_cpu(device_results):
    np.testing.assert_allclose(device_results["xi_greater"],
                               idrs_fast.xi_greater([0.1, 0.3], 0.5, 0.45, 3072, 0.2), rtol=1e-12)
    np.testing.assert_allclose(device_results["xi_smaller"],
                               idrs_fast.xi_smaller([0.1, 0.3], 0.5, 0.55, 100, 0.2), rtol=1e-12)
    pa, sigma = np.array(PA), np.array(SIGMA)
    np.testing.assert_array_equal(device_results["radius"],
                                  idrs_fast.certified_radius(pa, sigma, 0.01, 3072))
    np.testing.assert_array_equal(device_results["grid"], idrs_fast.certified_radius(
        pa[:2], sigma[:2], 0.01, 784, grid_step=0.01, clamp="cifar10"))
    np.testing.assert_array_equal(device_results["cohen"], idrs_fast.cohen_radius(pa, sigma))


def test_bad_input_gets_the_cpu_message_on_the_cuda_target(device_results):
    with pytest.raises(ValueError) as cpu:
        idrs_fast.certified_radius(1.5, 0.5, 0.01, 3072)
    assert device_results["error"] == str(cpu.value)


def test_batches_beyond_free_memory_are_cut_into_chunks():
    """With 'free memory' for 3 elements, a (4, 5) broadcast runs in pieces of rows and
    of single rows, and equals the CPU's result."""
    a, b = np.linspace(0.01, 2.0, 4)[:, None], np.linspace(0.5, 0.99, 5)[None, :]
    out = simulate("""
        from idrs_fast import _cuda, _target, xi_greater
        calls = []
        body = _cuda.Cuda.run
        _cuda.Cuda.free_bytes = lambda self: 2 * 160 * 3
        _cuda.Cuda.run = lambda self, name, *a, **k: calls.append(a[0].size) or body(self, name, *a, **k)
        a, b = np.array(args[0]), np.array(args[1])
        result = xi_greater(a, 0.5, 0.45, 3072, b, backend="cuda")
        print(json.dumps({"result": result.tolist(), "largest": max(calls)}))
    """, a.tolist(), b.tolist())
    assert out["largest"] <= 3
    np.testing.assert_allclose(out["result"], idrs_fast.xi_greater(a, 0.5, 0.45, 3072, b), rtol=1e-12)


def test_noise_and_votes_on_the_device_are_the_cpus_bit_for_bit():
    """noisy_rows (one thread per coordinate) against _noise.add_noise (vector lanes,
    scalar remainders), for a batch that starts inside an input and splits pairs
    across rows (odd width); tally_votes against _counting, a non-finite row included."""
    inputs, samples, size, first, rows = 3, 7, 5, 4, 13
    rng = np.random.default_rng(1)
    x = rng.normal(size=(inputs, size)).astype(np.float32)
    sigma = np.array([0.25, 1.0, 2.0], np.float32)
    keys = stream_keys(5, np.array([3, 10, 11]), 1)
    scores = rng.normal(size=(rows, 4)).astype(np.float32)
    scores[2, 1] = np.nan
    out = simulate("""
        import torch
        from idrs_fast import _cuda
        x, sigma, keys, scores, samples, first, rows = args
        x = torch.tensor(x, dtype=torch.float32)
        sigma = torch.tensor(sigma, dtype=torch.float32)
        keys = torch.from_numpy(np.array(keys, dtype=np.uint64).view(np.int64))
        noisy = torch.empty((rows, x.shape[1]))
        _cuda.add_noise(noisy, x, sigma, keys, samples, first)
        counts = torch.zeros(x.shape[0] * 5, dtype=torch.long)
        _cuda.count_top_classes(torch.tensor(scores, dtype=torch.float32), counts, samples, first)
        print(json.dumps({"noisy": noisy.numpy().view(np.int32).tolist(),
                          "counts": counts.tolist()}))
    """, x.tolist(), sigma.tolist(), [int(k) for k in keys], scores.tolist(),
        samples, first, rows)
    cpu = np.empty((rows, size), np.float32)
    owner = np.empty(rows, np.int64)
    add_noise(cpu, owner, x, sigma, keys, samples, first)
    np.testing.assert_array_equal(np.array(out["noisy"], np.int32), cpu.view(np.int32))
    from idrs_fast._counting import count_top_classes
    counts = np.zeros(inputs * 5, np.int64)
    count_top_classes(scores, owner, counts, np.empty(rows, np.int64))
    np.testing.assert_array_equal(out["counts"], counts)
    assert counts[np.arange(inputs) * 5 + 4].sum() == 1           # the NaN row: no vote


def test_smooth_device_path_counts_what_the_cpu_path_counts():
    """Smooth._device_counts (the GPU path: noise and votes by the CUDA kernels) run by
    the simulator on CPU tensors gives the CPU path's counts, for a batch size that
    splits inputs."""
    from idrs_fast.smoothing import Smooth
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3))
    x = torch.randn(2, 2, 3)
    keys = stream_keys(0, np.array([4, 9]), 1)
    smooth = Smooth(model, 3, 0.5)
    cpu, lost = smooth.counts(x, smooth.sigmas(x), 9, keys, 5)
    torch.save(model.state_dict(), path := os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                         f"idrs_sim_{os.getpid()}.pt"))
    out = simulate("""
        import torch
        from idrs_fast.smoothing import Smooth
        path, x, keys = args
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3))
        model.load_state_dict(torch.load(path))
        smooth = Smooth(model, 3, 0.5)
        x = torch.tensor(x)
        counts = torch.zeros(2 * 4, dtype=torch.long)
        with torch.no_grad():
            smooth._device_counts(x, smooth.sigmas(x), 9, np.array(keys, dtype=np.uint64), 5, counts)
        print(json.dumps(counts.tolist()))
    """, path, x.tolist(), [int(k) for k in keys])
    os.unlink(path)
    device = np.array(out).reshape(2, 4)
    np.testing.assert_array_equal(device[:, :3], cpu.numpy())
    np.testing.assert_array_equal(device[:, 3], lost.numpy())
    assert cpu.sum() == 18
