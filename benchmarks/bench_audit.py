"""The audit at scale: 10,000 synthetic inputs of dimension 3072 (CIFAR-10's), with
near-duplicates so that claimed balls hold other inputs, DDRS-like sigmas and radii
drawn from Cohen et al.'s CIFAR-10 logs (../shared/data; uniform without them).
Target: under 5 minutes on 2 cores.

    python benchmarks/bench_audit.py [--inputs 10000] [--dim 3072]
"""
import argparse
import time

import numpy as np

from bench_gpu import cohen_rows
from idrs_fast.audit import audit


def synthetic(inputs, dim, rng):
    """Inputs in [0, 1]^dim (typical distances ~sqrt(dim / 6)); every 20th has 3
    copies moved by 0.05-1.5; sigma from 0.12-0.6 per input; radii and pA as in
    Cohen's logs at those sigmas; predictions from 10 classes, shared by copies but
    1 in 10 copies predicted otherwise."""
    base = inputs // 4
    x = rng.random((inputs, dim), dtype=np.float32)
    owner = np.arange(inputs)
    for k in range(base, inputs):
        owner[k] = rng.integers(0, base) // 20 * 20
        step = rng.normal(size=dim).astype(np.float32)
        x[k] = x[owner[k]] + step * (rng.uniform(0.05, 1.5) / np.linalg.norm(step))
    p_a, _ = cohen_rows()
    p_a = rng.choice(p_a[p_a > 0.5], inputs)
    sigma = rng.uniform(0.12, 0.6, inputs)
    from scipy.stats import norm
    radius = sigma * norm.ppf(p_a)
    predict = rng.integers(0, 10, inputs)
    predict[base:] = np.where(rng.random(inputs - base) < 0.9, predict[owner[base:]], predict[base:])
    return x, sigma, predict, radius, p_a


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=3072)
    args = parser.parse_args()
    data = synthetic(args.inputs, args.dim, np.random.default_rng(0))
    start = time.perf_counter()
    result = audit(*data)
    seconds = time.perf_counter() - start
    s = result["summary"]
    print(f"audit of {args.inputs} inputs, dim {args.dim}: {seconds:.1f} s "
          f"({s['pairs_checked']} pairs inside claimed balls; {s['certificates']} certificates, "
          f"{s['contradicted']} contradicted, {s['not_justified']} not justified)")


if __name__ == "__main__":
    main()
