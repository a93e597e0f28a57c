"""DDRS against constant sigma and IDRS on the 2-D toy data and on digits, and the
audit of the DDRS certificates (the README's table).

For each data set: a model trained with Gaussian noise at sigma_b; certificates with
a constant sigma_b (Cohen), with IDRS sigma(x) (KnnSigma, Theorem 3.2), with the
DDRS sigma (Algorithm 1; their package's step 0.04 and clamp [0.001, 0.999], K
iterations) certified by Cohen's formula at that sigma, and DDRS with memory
(memory_certify in index order; the spread over 20 random orders in brackets).
Then the audit of the DDRS log against the test inputs.

    python benchmarks/ddrs_comparison.py [--n 2000] [--iterations 100]
"""
import argparse
import pathlib
import tempfile
import time

import numpy as np
import torch

from idrs_fast import datasets
from idrs_fast.analyze import certified_accuracy
from idrs_fast.audit import audit, load_certificates
from idrs_fast.ddrs import CLAMP_PACKAGE, DdrsSigma, memory_certify, order_dependence
from idrs_fast.logs import load_log
from idrs_fast.pipeline import certify_dataset
from idrs_fast.sigma import KnnSigma
from idrs_fast.smoothing import Smooth
from idrs_fast.training import mlp, train

PLANS = [  # name, data, sigma_b, IDRS rate, radii, width
    ("toy2d", lambda: datasets.toy_2d(seed=0), 0.5, 0.2, [0.25, 0.5, 0.75, 1.0], 20),
    ("digits", lambda: datasets.digits(seed=0), 0.25, 0.02, [0.25, 0.5, 0.75, 1.0], 64),
]


def run(name, data, sigma_b, rate, radii, width, args, folder):
    x_train, y_train, x_test, y_test = data()
    torch.manual_seed(0)
    model = mlp(x_train.shape[1], int(y_train.max()) + 1, width, 3)
    train(model, x_train, y_train, sigma_b, epochs=40, seed=0, lr=1e-2)
    classes = int(y_train.max()) + 1
    ddrs = DdrsSigma(model, sigma0=sigma_b, samples=100, iterations=args.iterations, step=0.04,
                     clamp=CLAMP_PACKAGE)
    providers = {"constant sigma (Cohen)": sigma_b,
                 f"IDRS rate {rate:g}": KnnSigma(x_train, sigma_b, rate, k=20, m="mean", cap=5.0),
                 "DDRS (Cohen at the DDRS sigma; not sound)": ddrs}
    logs = {}
    for label, sigma in providers.items():
        path = folder / f"{name}_{len(logs)}.tsv"
        certify_dataset(Smooth(model, classes, sigma), x_test, y_test, path, 64, args.n, 0.001)
        logs[label] = path
    ddrs_log = load_log(logs["DDRS (Cohen at the DDRS sigma; not sound)"])
    sigma = np.array([float(v) for v in __import__("idrs_fast.logs", fromlist=["read_log"]).read_log(
        logs["DDRS (Cohen at the DDRS sigma; not sound)"])["sigma"]])
    predict, radius = memory_certify(x_test, sigma, ddrs_log["predict"], ddrs_log["radius"])
    mean, low, high = order_dependence(x_test, sigma, ddrs_log["predict"], ddrs_log["radius"],
                                       ddrs_log["label"], radii)
    print(f"\n### {name} (N = {x_test.shape[1]}, {len(x_test)} test inputs, sigma_b = {sigma_b}, "
          f"n = {args.n}, alpha = 0.001, DDRS K = {args.iterations})\n")
    print("| certificates | " + " | ".join(f"R = {r:g}" for r in radii) + " |")
    print("|---|" + "---|" * len(radii))
    for label, path in logs.items():
        accuracy = certified_accuracy(load_log(path), radii)
        print(f"| {label} | " + " | ".join(f"{a:.3f}" for a in accuracy) + " |")
    memory = np.array([np.mean((predict == ddrs_log["label"]) & (radius >= r)) for r in radii])
    print("| DDRS with memory (index order; 20 random orders) | " + " | ".join(
        f"{m:.3f} [{lo:.3f}-{hi:.3f}]" for m, lo, hi in zip(memory, low, high)) + " |")
    np.save(folder / f"{name}_x.npy", x_test)
    result = audit(*load_certificates(logs["DDRS (Cohen at the DDRS sigma; not sound)"],
                                      folder / f"{name}_x.npy")[:5])
    s = result["summary"]
    print(f"\nAudit of the DDRS log: {s['certificates']} certificates, {s['contradicted']} "
          f"contradicted, {s['not_justified']} not justified ({s['refuted_fraction']:.1%} refuted; "
          f"largest refuted radius {s['largest_refuted_radius']:.3g}); DDRS sigma "
          f"{sigma.min():.3g}-{sigma.max():.3g}; implied semi-elasticity "
          f"{s['implied_semi_elasticity']:.3g}")
    idrs = audit(*load_certificates(logs[f"IDRS rate {rate:g}"], folder / f"{name}_x.npy")[:5])
    print(f"Audit of the IDRS log: {idrs['summary']['certificates']} certificates, "
          f"{len(idrs['refuted'])} refuted pairs; implied semi-elasticity "
          f"{idrs['summary']['implied_semi_elasticity']:.3g} (rate {rate:g})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp())
    began = time.perf_counter()
    for plan in PLANS:
        run(*plan, args, folder)
    print(f"\n({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
