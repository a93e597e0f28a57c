"""The GPU backend against the CPU path on the same inputs, in the same run.

    python benchmarks/bench_gpu.py [--out DIR]       # markdown table (README) + JSON

Without a GPU only the warp-divergence model runs (it needs none): the cost of each
exact radius measured on the CPU for Cohen et al.'s CIFAR-10 pA, and the share of a
32-thread warp's time that does useful work when inputs are launched in their log
order and when sorted by pA (what _cuda.Cuda.run does for the radius kernels).
On a GPU: 1e6 exact radii (N = 3072, rate 0.01, sigma0 and pA drawn like the CIFAR-10
logs), sorted and unsorted; ncx2 cdf and ppf on 1e7 mixed points; the noise of the
GPU against the CPU's, bit for bit; Monte-Carlo counts of a small CNN against its bare
forward passes and against Cohen et al.'s per-input loop.
"""
import argparse
import json
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_radius import DIM, LOGS, RATE, SIGMAS  # noqa: E402

import idrs_fast  # noqa: E402
from idrs_fast import _backend, _launch  # noqa: E402
from idrs_fast._launch import balance_keys  # noqa: E402
from idrs_fast.logs import load_log, pa_from_log  # noqa: E402

WARP = 32
NCX2_DF = np.array([1, 2, 64, 784, 3072, 150528, 196608], dtype=np.float64)


def cohen_rows():
    """(pA, sigma0) of every row of the CIFAR-10 logs, abstentions included, pA
    recovered on the safe side (uniform pA in [0.3, 1) without ../shared)."""
    p_a, sigma = [], []
    for s in SIGMAS:
        path = LOGS / f"noise_{s}" / "test" / f"sigma_{s}"
        values = (pa_from_log(load_log(path), float(s)) if path.exists()
                  else np.random.default_rng(1).uniform(0.3, 1.0, 500))
        p_a.append(values)
        sigma.append(np.full(values.size, float(s)))
    return np.concatenate(p_a), np.concatenate(sigma)


def cohen_like(count, rng):
    """`count` (pA, sigma0) drawn with replacement from cohen_rows(), in random order."""
    p_a, sigma = cohen_rows()
    pick = rng.integers(0, p_a.size, count)
    return p_a[pick], sigma[pick]


def divergence_model():
    """Warp efficiency (mean cost / mean of each warp's slowest thread) of the exact
    radius over every CIFAR-10 log row, from per-input CPU costs (best of 5, less the
    launch cost of an abstaining input), in log order and sorted as _cuda does
    (_launch.balance_keys)."""
    p_a, sigma = cohen_rows()
    log_qa = np.log1p(-p_a)
    arrays = [log_qa, log_qa, sigma, np.full_like(sigma, RATE), np.ones_like(sigma),
              np.full_like(sigma, DIM)]

    def cost(i):
        one = [a[i:i + 1].copy() for a in arrays]
        best = np.inf
        for _ in range(5):
            start = time.perf_counter()
            _backend.run("certified_radius", *one, rel_tol=1e-9)
            best = min(best, time.perf_counter() - start)
        return best
    cost(0)
    launch = min(cost(i) for i in np.flatnonzero(p_a <= 0.5)[:20])
    costs = np.maximum(np.array([cost(i) for i in range(p_a.size)]) - launch, 0.0)

    def efficiency(c):
        c = c[:c.size // WARP * WARP].reshape(-1, WARP)
        return float(c.mean() / c.max(1).mean())
    order = np.lexsort(np.stack(balance_keys("certified_radius", arrays)))
    return dict(inputs=int(p_a.size), abstaining=float(np.mean(p_a <= 0.5)),
                cost_us_median=float(np.median(costs) * 1e6),
                efficiency_log_order=efficiency(costs), efficiency_sorted=efficiency(costs[order]),
                efficiency_sorted_by_cost=efficiency(np.sort(costs)))


def _gpu_time(function, repeat=3):
    import cupy
    function()
    cupy.cuda.get_current_stream().synchronize()
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = function()
        cupy.cuda.get_current_stream().synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def gpu_radius(rng, count=1_000_000, cpu_count=20_000):
    import cupy
    p_a, sigma = cohen_like(count, rng)
    gp, gs = cupy.asarray(p_a), cupy.asarray(sigma)
    seconds, radius = _gpu_time(lambda: idrs_fast.certified_radius(gp, gs, RATE, DIM))
    saved = _launch.KERNELS["certified_radius"]
    _launch.KERNELS["certified_radius"] = saved._replace(balance=())
    try:
        unsorted_s, _ = _gpu_time(lambda: idrs_fast.certified_radius(gp, gs, RATE, DIM), 1)
    finally:
        _launch.KERNELS["certified_radius"] = saved
    start = time.perf_counter()
    cpu = idrs_fast.certified_radius(p_a[:cpu_count], sigma[:cpu_count], RATE, DIM)
    cpu_s = (time.perf_counter() - start) * count / cpu_count
    gpu = cupy.asnumpy(radius[:cpu_count])
    rel = np.abs(gpu - cpu) / np.maximum(np.abs(cpu), 1e-300)
    return dict(inputs=count, gpu_s=seconds, gpu_unsorted_s=unsorted_s, cpu_s_estimated=cpu_s,
                speedup=cpu_s / seconds, max_rel_diff_vs_cpu=float(rel.max()),
                checked=cpu_count)


def gpu_ncx2(rng, count=10_000_000, cpu_count=100_000):
    import cupy
    df = rng.choice(NCX2_DF, count)
    nc = np.where(rng.random(count) < 0.05, 0.0, 10.0 ** rng.uniform(-3, 8, count))
    x = np.maximum(df + nc + rng.normal(size=count) * 2 * np.sqrt(2 * (df + 2 * nc)), 1e-3)
    q = rng.uniform(1e-6, 1 - 1e-6, count)
    out = {}
    for name, first in (("cdf", x), ("ppf", q)):
        f = getattr(idrs_fast.ncx2, name)
        gx, gdf, gnc = (cupy.asarray(v) for v in (first, df, nc))
        seconds, result = _gpu_time(lambda: f(gx, gdf, gnc), 2)
        start = time.perf_counter()
        cpu = f(first[:cpu_count], df[:cpu_count], nc[:cpu_count])
        cpu_s = (time.perf_counter() - start) * count / cpu_count
        gpu = cupy.asnumpy(result[:cpu_count])
        rel = np.abs(gpu - cpu) / np.maximum(np.abs(cpu), 1e-300)
        out[name] = dict(points=count, gpu_s=seconds, evaluations_per_s=count / seconds,
                         speedup=cpu_s / seconds, max_rel_diff_vs_cpu=float(np.nanmax(rel)))
    return out


def gpu_noise_bits(rng):
    import torch
    from idrs_fast import _cuda
    from idrs_fast._noise import add_noise, stream_keys
    inputs, samples, size = 4, 257, 3072
    x = rng.normal(size=(inputs, size)).astype(np.float32)
    sigma = np.array([0.12, 0.25, 0.5, 1.0], np.float32)
    keys = stream_keys(3, np.arange(inputs), 1)
    cpu = np.empty((inputs * samples, size), np.float32)
    add_noise(cpu, np.empty(cpu.shape[0], np.int64), x, sigma, keys, samples, 0)
    out = torch.empty(cpu.shape, device="cuda")
    _cuda.add_noise(out, torch.from_numpy(x).cuda(), torch.from_numpy(sigma).cuda(),
                    torch.from_numpy(keys.view(np.int64)).cuda(), samples, 0)
    gpu = out.cpu().numpy()
    ulps = np.abs(gpu.view(np.int32).astype(np.int64) - cpu.view(np.int32).astype(np.int64))
    return dict(values=int(cpu.size), differing=int(np.count_nonzero(ulps)), max_ulps=int(ulps.max()))


def gpu_monte_carlo(num=10_000, inputs=16, batch_size=10_000):
    import torch
    from idrs_fast._noise import stream_keys
    from idrs_fast.smoothing import Smooth
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 8 * 8, 10)).cuda().eval()
    x = torch.rand(inputs, 3, 32, 32, device="cuda")
    smooth = Smooth(model, 10, 0.25)
    keys = stream_keys(0, np.arange(inputs), 1)

    def timed(function):
        function()
        torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        torch.cuda.synchronize()
        return time.perf_counter() - start

    sigma = smooth.sigmas(x)
    batch = torch.rand(batch_size, 3, 32, 32, device="cuda")

    def bare():
        with torch.no_grad():
            for _ in range(inputs * num // batch_size):
                model(batch).argmax(1)

    def cohen_loop():                  # Cohen et al.'s Smooth._sample_noise, per input
        with torch.no_grad():
            for i in range(inputs):
                counts = torch.zeros(10, dtype=torch.long, device="cuda")
                for start in range(0, num, batch_size):
                    this = min(batch_size, num - start)
                    noisy = x[i:i + 1].repeat(this, 1, 1, 1)
                    noisy = noisy + torch.randn_like(noisy) * 0.25
                    counts += torch.bincount(model(noisy).argmax(1), minlength=10)

    ours = timed(lambda: smooth.counts(x, sigma, num, keys, batch_size))
    forward = timed(bare)
    cohen = timed(cohen_loop)
    return dict(samples=inputs * num, ours_s=ours, bare_forward_s=forward,
                overhead=ours / forward - 1.0, cohen_loop_s=cohen, speedup_vs_cohen=cohen / ours)


def has_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=None)
    parser.add_argument("--skip-model", action="store_true", help="skip the divergence model")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    report = {}
    if not args.skip_model:
        report["divergence_model"] = divergence_model()
    if has_gpu():
        import cupy
        report["device"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        report["radius"] = gpu_radius(rng)
        report["ncx2"] = gpu_ncx2(rng)
        report["noise_bits"] = gpu_noise_bits(rng)
        report["monte_carlo"] = gpu_monte_carlo()
    else:
        report["device"] = None
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_gpu.json").write_text(text)


if __name__ == "__main__":
    main()
