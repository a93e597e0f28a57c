"""Ball masses of two versions of kernels/, interleaved in one process: the A/B that
this machine's noise allows (the same code's cdf varies by 1.5x from one process to
the next, so separate runs cannot resolve a 5% change).

    python benchmarks/ab_kernels.py REV [--rounds 24] [--upper] [--density] [--count 12000]

A is kernels/ at git revision REV, B the working tree's. Both are loaded under their
own module names, compiled, checked for equal values and evaluation counts, then
timed in alternating order on the same ball masses of the mixed batch
(bench_ncx2.mixed_batch, lambda > 1e3, N > 1; one thread): medians and the median
of the per-round ratios B/A. --density times the surface density (the pdf's
integral) at the same points instead.
"""
import argparse
import importlib
import importlib.util
import math
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import time

import numba
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_ncx2 import DIM, LAM, X  # noqa: E402


def load(kernels_dir, name, density=False):
    """kernels_dir as the package `name` (its imports are relative) and a compiled
    loop over its ball masses (density: its surface densities)."""
    spec = importlib.util.spec_from_file_location(
        name, kernels_dir / "__init__.py", submodule_search_locations=[str(kernels_dir)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    ball = importlib.import_module(name + ".ball")
    mass = ball.ball_log_mass_squared_radius
    surface_density = ball.ball_log_surface_density
    residual = importlib.import_module(name + ".normal").square_residual

    @numba.njit
    def masses(x, dim, lam, upper):
        total, evaluations = 0.0, 0
        out = np.empty(x.size)
        for i in range(x.size):
            d, rho = math.sqrt(lam[i]), math.sqrt(x[i])
            margin = (x[i] - lam[i]) / (rho + d)
            if density:
                out[i], count = surface_density(d, margin, rho, dim[i])
            else:
                out[i], count = mass(d, margin, rho, residual(x[i], rho), dim[i], upper)
            evaluations += count
        return out, evaluations
    return masses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--count", type=int, default=12000)
    parser.add_argument("--upper", action="store_true")
    parser.add_argument("--density", action="store_true")
    args = parser.parse_args()
    numba.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        archive = pathlib.Path(tmp) / "a.tar"
        subprocess.run(["git", "-C", str(HERE.parent), "archive", "-o", str(archive), args.rev,
                        "kernels"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp)
        a = load(pathlib.Path(tmp) / "kernels", "kernels_a", args.density)
        b = load(HERE.parent / "kernels", "kernels_b", args.density)
        ball = (LAM > 1e3) & (DIM > 1)
        x, dim, lam = (v[ball][:args.count].copy() for v in (X, DIM, LAM))
        start = time.perf_counter()
        values_a, evaluations_a = a(x, dim, lam, args.upper)
        middle = time.perf_counter()
        values_b, evaluations_b = b(x, dim, lam, args.upper)
        print(f"compile: A {middle - start:.1f} s, B {time.perf_counter() - middle:.1f} s")
        differ = values_a != values_b
        relative = np.abs(values_b - values_a) / np.maximum(np.abs(values_a), 1e-300)
        print(f"{x.size} masses: {differ.sum()} differ (max relative {relative.max():.1e}); "
              f"evaluations A {evaluations_a}, B {evaluations_b}")
        times = {"A": [], "B": []}
        for r in range(args.rounds):
            for label, run in (("A", a), ("B", b)) if r % 2 == 0 else (("B", b), ("A", a)):
                t = time.perf_counter()
                run(x, dim, lam, args.upper)
                times[label].append((time.perf_counter() - t) / x.size * 1e6)
        ta, tb = np.array(times["A"]), np.array(times["B"])
        print(f"µs a {'density' if args.density else 'mass'}: A median {np.median(ta):.3f}, B median {np.median(tb):.3f}; "
              f"median of B/A per round {np.median(tb / ta):.3f}")


if __name__ == "__main__":
    main()
