"""Work counts of one exact radius, by running the kernels as plain Python (they are
register_jitable functions) with counting wrappers: slack evaluations (both sides of
Theorem 3.2), margin quantiles at x0, ball masses and integrand evaluations, for
Cohen et al.'s CIFAR-10 pA at N = 3072 and 150528, rate 0.01. Groundwork for the
throughput issue (where a radius's ~100 us go).

    python benchmarks/count_evaluations.py [--inputs 12]
"""
import argparse
import collections
import math

import numpy as np

from bench_gpu import cohen_rows
from idrs_fast.kernels import ncx2, radius, xi

COUNTS = collections.Counter()


def counting(module, name, key, extra=None):
    original = getattr(module, name)

    def wrapper(*args):
        COUNTS[key] += 1
        out = original(*args)
        if extra is not None:
            COUNTS[extra] += int(out[1])
        return out
    setattr(module, name, wrapper)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=12)
    args = parser.parse_args()
    counting(radius, "certification_slack", "slack evaluations")
    counting(xi, "ball_margin_quantile_from", "margin quantiles at x0")
    counting(xi, "ball_log_mass", "ball masses at x1", extra="integrand evaluations at x1")
    counting(ncx2, "ball_log_mass", "ball masses inside quantiles", extra="integrand evaluations in quantiles")
    p_a, sigma = cohen_rows()
    pick = np.flatnonzero(p_a > 0.5)[np.linspace(0, np.sum(p_a > 0.5) - 1, args.inputs).astype(int)]
    print("| N | per radius: " + " | ".join(["slack evaluations", "margin quantiles at x0",
                                            "ball masses at x1", "ball masses inside quantiles",
                                            "integrand evaluations"]) + " |")
    print("|---|---|---|---|---|---|")
    for dim in (3072.0, 150528.0):
        COUNTS.clear()
        for i in pick:
            log_q = math.log1p(-p_a[i])
            radius.certified_radius(log_q, log_q, float(sigma[i]), 0.01, 1.0, dim, 1e-9)
        per = {k: v / pick.size for k, v in COUNTS.items()}
        integrand = per.get("integrand evaluations at x1", 0) + per.get("integrand evaluations in quantiles", 0)
        print(f"| {dim:.0f} | {per.get('slack evaluations', 0):.1f} | {per.get('margin quantiles at x0', 0):.1f} | "
              f"{per.get('ball masses at x1', 0):.1f} | {per.get('ball masses inside quantiles', 0):.1f} | "
              f"{integrand:.0f} |")


if __name__ == "__main__":
    main()
