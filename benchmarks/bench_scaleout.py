"""Ray's overhead: certify_dataset of the digits MLP in this process against a pool
of 2 Ray actors (1 CPU and 1 thread each) on the same 2 cores, same inputs, same
run; wall time per sample. Ray's own start (ray.init) and the actors' (once per
pool: torch, the cached kernels, the model) are left out and reported.

    python benchmarks/bench_scaleout.py [--inputs 120] [--n 4000]
"""
import argparse
import os
import pathlib
import tempfile
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import torch  # noqa: E402

from idrs_fast.datasets import digits  # noqa: E402
from idrs_fast.pipeline import certify_dataset  # noqa: E402
from idrs_fast.scaleout import RayExecutor  # noqa: E402
from idrs_fast.smoothing import Smooth  # noqa: E402
from idrs_fast.sources import ModelSource  # noqa: E402
from idrs_fast.training import mlp  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=120)
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    x_train, y_train, x_test, y_test = digits()
    x, y = x_test[:args.inputs], y_test[:args.inputs]
    folder = pathlib.Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    torch.jit.script(mlp(64, 10, 64, 3)).save(str(folder / "digits.ts"))
    source = ModelSource(str(folder / "digits.ts"))
    smooth = Smooth(source(), 10, 0.25)
    samples = args.inputs * (64 + args.n)

    def run(name, executor):
        log = folder / f"{name}_{time.perf_counter_ns()}.tsv"
        start = time.perf_counter()
        certify_dataset(smooth, x, y, log, 64, args.n, 0.001, batch_size=10_000, seed=0,
                        inputs_per_group=8, executor=executor)
        return (time.perf_counter() - start) / samples
    import ray
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    ray_executor = RayExecutor(source, workers=2, cpus_per_worker=1, threads=1)
    run("warm", None)
    start = time.perf_counter()
    first = run("ray_first", ray_executor)           # starts the actors
    pool_start = (first - min(run("ray_second", ray_executor), first)) * samples
    single, pooled = [], []
    for _ in range(args.rounds):                     # interleaved
        single.append(run("single", None))
        pooled.append(run("ray", ray_executor))
    s, r = min(single), min(pooled)
    print(f"digits MLP, {args.inputs} inputs x {64 + args.n} samples, 2 cores, best of {args.rounds}:")
    print("| run | us per sample | vs single process |")
    print("|---|---|---|")
    print(f"| single process (2 threads) | {s * 1e6:.3f} | 1.00x |")
    print(f"| Ray, 2 actors x 1 CPU | {r * 1e6:.3f} | {r / s:.2f}x |")
    print(f"\nleft out: ray.init {ray_start:.1f} s, starting the 2 actors ~{pool_start:.1f} s "
          "(once per pool)")
    ray_executor.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
