"""Monte-Carlo certification cost on CPU, side by side in one run, on the digits MLP:

- bare forward passes of the same number of noisy samples (noise made beforehand);
- idrs_fast's Smooth.certify (noise, counting, bounds, radius; inputs batched);
- Cohen et al.'s loop as they wrote it (tests/naive.py: one input at a time,
  counts on the host).

    python benchmarks/bench_smoothing.py
    pytest benchmarks/bench_smoothing.py
"""
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import naive  # noqa: E402

from idrs_fast.datasets import digits  # noqa: E402
from idrs_fast.smoothing import Smooth  # noqa: E402
from idrs_fast.training import mlp  # noqa: E402

INPUTS, N0, N, BATCH, SIGMA = 60, 64, 4000, 10_000, 0.25


def setup():
    torch.manual_seed(0)
    x_test = torch.tensor(digits()[2][:INPUTS])
    return mlp(64, 10, width=64), x_test


def bare_forward(model, x):
    """Forward passes over (N0 + N) noisy copies of every input, noise prepared."""
    total = x.shape[0] * (N0 + N)
    noisy = x.repeat_interleave(N0 + N, 0) + SIGMA * torch.randn(total, x.shape[1])
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, total, BATCH):
            model(noisy[i:i + BATCH]).argmax(1)
    return time.perf_counter() - start


def ours(model, x, shared=False):
    start = time.perf_counter()
    Smooth(model, 10, SIGMA, shared_noise=shared).certify(x, N0, N, 0.001, batch_size=BATCH)
    return time.perf_counter() - start


def ours_shared(model, x):
    return ours(model, x, shared=True)


def cohen(model, x):
    start = time.perf_counter()
    naive.cohen_certify_loop(model, x, 10, SIGMA, N0, N, 0.001, batch_size=1000)
    return time.perf_counter() - start


def test_smooth_certify(benchmark):
    model, x = setup()
    benchmark.pedantic(ours, args=(model, x), rounds=3)


def test_cohen_loop(benchmark):
    model, x = setup()
    benchmark.pedantic(cohen, args=(model, x), rounds=1)


def main():
    model, x = setup()
    ours(model, x[:2])
    times = {name: min(f(model, x) for _ in range(3))
             for name, f in (("bare", bare_forward), ("ours", ours), ("shared", ours_shared),
                             ("cohen", cohen))}
    samples = INPUTS * (N0 + N)
    print(f"{INPUTS} digits inputs x {N0} + {N} samples, MLP 64-64-64-64-10, CPU, "
          f"{torch.get_num_threads()} threads:")
    print("| method | seconds | us per sample | vs bare forward |")
    print("|---|---|---|---|")
    for name, label in (("bare", "bare forward passes"), ("ours", "idrs_fast Smooth.certify"),
                        ("shared", "idrs_fast, shared_noise=True"),
                        ("cohen", "Cohen et al.'s per-input loop")):
        print(f"| {label} | {times[name]:.2f} | {times[name] / samples * 1e6:.2f} | "
              f"{times[name] / times['bare']:.2f}x |")
    for name in ("ours", "shared"):
        print(f"{name}: Monte-Carlo overhead over bare forward "
              f"{100 * (times[name] / times['bare'] - 1):.0f}%, "
              f"speed-up over Cohen's loop {times['cohen'] / times[name]:.1f}x")


if __name__ == "__main__":
    main()
