"""Monte-Carlo certification cost on CPU, side by side in one run, on two small
models (the digits MLP 64-64-64-64-10 and the paper's 2-D toy MLP 2-20-20-20-2):

- bare forward passes of the same number of noisy samples (noise made beforehand);
- idrs_fast's Smooth.certify (noise, counting, bounds, radius; inputs batched);
- Cohen et al.'s loop as they wrote it (tests/naive.py: one input at a time,
  counts on the host).

All three run under the allocator setting Smooth makes (retain_freed_memory: glibc
keeps freed blocks instead of unmapping them), set in setup(), before anything is timed.

    python benchmarks/bench_smoothing.py
    pytest benchmarks/bench_smoothing.py
"""
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import naive  # noqa: E402

from idrs_fast.datasets import digits, toy_2d  # noqa: E402
from idrs_fast.smoothing import Smooth, retain_freed_memory  # noqa: E402
from idrs_fast.training import mlp  # noqa: E402

INPUTS, N0, N, BATCH, SIGMA, ROUNDS = 60, 64, 4000, 10_000, 0.25, 15


def setup(name):
    """(model, test inputs, classes) of a benchmark model."""
    retain_freed_memory()
    torch.manual_seed(0)
    if name == "digits":
        return mlp(64, 10, width=64), torch.tensor(digits()[2][:INPUTS]), 10
    return mlp(2, 2), torch.tensor(toy_2d(INPUTS, INPUTS)[2][:INPUTS]), 2


def bare_forward(model, x, classes):
    """Forward passes (and argmax) over as many samples as certify draws, in batches
    of BATCH: one noisy batch prepared beforehand and reused (cache-hot, no noise)."""
    total = x.shape[0] * (N0 + N)
    noisy = x.repeat_interleave(-(-BATCH // x.shape[0]), 0)[:BATCH]
    noisy = noisy + SIGMA * torch.randn(noisy.shape)
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, total, BATCH):
            model(noisy[:min(BATCH, total - i)]).argmax(1)
    return time.perf_counter() - start


def ours(model, x, classes):
    start = time.perf_counter()
    Smooth(model, classes, SIGMA).certify(x, N0, N, 0.001, batch_size=BATCH)
    return time.perf_counter() - start


def cohen(model, x, classes):
    start = time.perf_counter()
    naive.cohen_certify_loop(model, x, classes, SIGMA, N0, N, 0.001, batch_size=1000)
    return time.perf_counter() - start


METHODS = (("bare", "bare forward passes", bare_forward),
           ("ours", "idrs_fast Smooth.certify", ours),
           ("cohen", "Cohen et al.'s per-input loop", cohen))


def test_smooth_certify(benchmark):
    benchmark.pedantic(ours, args=setup("digits"), rounds=3)


def test_cohen_loop(benchmark):
    benchmark.pedantic(cohen, args=setup("digits"), rounds=1)


def main():
    samples = INPUTS * (N0 + N)
    print(f"{INPUTS} inputs x {N0} + {N} samples, CPU, {torch.get_num_threads()} threads, "
          f"best of {ROUNDS} interleaved rounds:")
    print("| model | method | us per sample | vs bare forward | Cohen's loop / this |")
    print("|---|---|---|---|---|")
    for name in ("digits", "toy_2d"):
        model, x, classes = setup(name)
        ours(model, x[:2], classes)
        times = {key: float("inf") for key, _, _ in METHODS}
        for _ in range(ROUNDS):
            for key, _, method in METHODS:
                times[key] = min(times[key], method(model, x, classes))
        for key, label, _ in METHODS:
            print(f"| {name} | {label} | {times[key] / samples * 1e6:.3f} | "
                  f"{times[key] / times['bare']:.2f}x | {times['cohen'] / times[key]:.1f}x |")


if __name__ == "__main__":
    main()
