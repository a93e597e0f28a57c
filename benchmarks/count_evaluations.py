"""Work counts of one exact radius, by running the kernels as plain Python (they are
register_jitable functions) with counting wrappers, for Cohen et al.'s CIFAR-10 pA at
N = 3072 and 150528, rate 0.01: ball masses (each one trapezoid integral), integrand
evaluations, closed-form model slacks (kernels/sankaran.py), quantile solves, and the
share of radii that the model-then-Newton search settles without the bracketed search
(kernels/radius.py). Before it (the bracketed search alone, commit 1242387): 9.5 slack
evaluations, 7.5 quantiles, ~32 masses and ~1850 integrand evaluations a radius.

    python benchmarks/count_evaluations.py [--inputs 12]
"""
import argparse
import collections
import math

import numpy as np

from bench_gpu import cohen_rows
from idrs_fast.kernels import ball, ncx2, radius

COUNTS = collections.Counter()


def counting(module, name, key, work=None, settled=None):
    original = getattr(module, name)

    def wrapper(*args):
        COUNTS[key] += 1
        out = original(*args)
        if work is not None:
            COUNTS[work] += int(out[1])
        if settled is not None:
            COUNTS[settled] += out == out
        return out
    setattr(module, name, wrapper)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", type=int, default=12)
    args = parser.parse_args()
    counting(ball, "ball_log_mass_squared_radius", "ball masses", work="integrand evaluations")
    counting(radius, "_model_slack", "model slacks")
    counting(ncx2, "ball_margin_quantile_from", "quantiles")
    counting(radius, "_model_radius", "model searches", settled="settled by the model")
    p_a, sigma = cohen_rows()
    pick = np.flatnonzero(p_a > 0.5)[np.linspace(0, np.sum(p_a > 0.5) - 1, args.inputs).astype(int)]
    keys = ["ball masses", "integrand evaluations", "model slacks", "quantiles"]
    print("| N | per radius: " + " | ".join(keys) + " | settled by the model |")
    print("|---|" + "---|" * (len(keys) + 1))
    for dim in (3072.0, 150528.0):
        COUNTS.clear()
        for i in pick:
            log_q = math.log1p(-p_a[i])
            radius.certified_radius(log_q, log_q, float(sigma[i]), 0.01, 1.0, dim, 1e-9)
        per = [COUNTS[k] / pick.size for k in keys]
        share = COUNTS["settled by the model"] / max(COUNTS["model searches"], 1)
        print(f"| {dim:.0f} | " + " | ".join(f"{v:.1f}" for v in per) + f" | {share:.0%} |")


if __name__ == "__main__":
    main()
