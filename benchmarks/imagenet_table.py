"""Certified accuracy of Cohen et al.'s ImageNet ResNet-50 at the full dimension
N = 3 x 224 x 224 = 150528, constant sigma (Cohen) vs IDRS at rates 1e-4, 5e-4, 1e-3,
unclamped: the computation the paper left open. pA is recovered from the logs
(radius = sigma Phi^-1(pA), 3 significant figures).

    python benchmarks/imagenet_table.py      # prints the README table
"""
import pathlib
import time

import numpy as np

from idrs_fast import certified_radius, cohen_radius
from idrs_fast.logs import load_log, pa_from_log

LOGS = (pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cohen2019_certify"
        / "imagenet" / "resnet50")
DIM = 150528
RATES = (1e-4, 5e-4, 1e-3)
RADII = (0.5, 1.0, 1.5, 2.0)


def certified_accuracy(radius, correct):
    return [float(np.mean((correct == 1) & (radius >= r))) for r in RADII]


def main():
    print("| sigma | method | " + " | ".join(f"R = {r}" for r in RADII) + " | time |")
    print("|---|---|" + "---|" * (len(RADII) + 1))
    for sigma in ("0.25", "0.50", "1.00"):
        log = load_log(LOGS / f"noise_{sigma}" / "test" / f"sigma_{sigma}")
        p_a = pa_from_log(log, float(sigma))
        rows = [("Cohen", cohen_radius(p_a, float(sigma)), 0.0)]
        for rate in RATES:
            start = time.perf_counter()
            radius = certified_radius(p_a, float(sigma), rate, DIM)
            elapsed = time.perf_counter() - start
            assert not np.any(np.isnan(radius))
            rows.append((f"IDRS r = {rate:g}", radius, elapsed))
        for name, radius, elapsed in rows:
            cells = " | ".join(f"{a:.3f}" for a in certified_accuracy(radius, log["correct"]))
            seconds = f"{elapsed:.2f} s / {p_a.size}" if elapsed else ""
            print(f"| {sigma} | {name} | {cells} | {seconds} |")


if __name__ == "__main__":
    main()
