"""idrs_fast.ncx2 vs scipy.stats.ncx2, side by side on the same arrays.

    pytest benchmarks/bench_ncx2.py           # pytest-benchmark tables
    python benchmarks/bench_ncx2.py           # the README table (ratios, same run)
    python benchmarks/bench_ncx2.py --slices  # cdf per N and lambda decade: share of the time

Mixed batch (issue 2): lam log-uniform in [1e-3, 1e8] (plus exact zeros), N drawn from
{1, 2, 64, 784, 3072, 150528, 196608}, x across the distribution (z ~ 3 N(0,1)),
q uniform; and a lam sweep from 0 to 1e15 at N = 3072 showing the cost per element.
"""
import time

import numpy as np
import pytest
import scipy.stats

from idrs_fast import ncx2

DIMS = np.array([1, 2, 64, 784, 3072, 150528, 196608], dtype=float)


def mixed_batch(n, seed=0):
    rng = np.random.default_rng(seed)
    lam = 10.0 ** rng.uniform(-3, 8, n)
    lam[rng.uniform(size=n) < 0.02] = 0.0
    dim = rng.choice(DIMS, n)
    sd = np.sqrt(2 * (dim + 2 * lam))
    x = np.maximum(dim + lam + 3 * rng.normal(size=n) * sd, 1e-3)
    q = rng.uniform(size=n)
    return x, q, dim, lam


X, Q, DIM, LAM = mixed_batch(100_000)
N_PPF = 5_000        # scipy's ppf costs ~0.2 ms an element: a smaller slice of the batch

CASES = {
    "pdf": (lambda m: m.pdf(X, DIM, LAM)),
    "cdf": (lambda m: m.cdf(X, DIM, LAM)),
    "sf": (lambda m: m.sf(X, DIM, LAM)),
    "ppf": (lambda m: m.ppf(Q[:N_PPF], DIM[:N_PPF], LAM[:N_PPF])),
    "isf": (lambda m: m.isf(Q[:N_PPF], DIM[:N_PPF], LAM[:N_PPF])),
}


@pytest.mark.parametrize("library", ["idrs_fast", "scipy"])
@pytest.mark.parametrize("function", list(CASES))
def test_mixed_batch(benchmark, function, library):
    module = ncx2 if library == "idrs_fast" else scipy.stats.ncx2
    benchmark.group = f"mixed batch: {function}"
    CASES[function](module)                     # compile / warm up
    benchmark.pedantic(CASES[function], args=(module,), rounds=3 if library == "idrs_fast" else 1)


def _seconds(call, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    for function, call in CASES.items():
        call(ncx2)
    print("| function | elements | scipy µs/elt | idrs_fast µs/elt | speed-up |")
    print("|---|---|---|---|---|")
    for function, call in CASES.items():
        n = N_PPF if function in ("ppf", "isf") else X.size
        # both sides the best of several calls (scipy's take 0.5-3 s each: 3)
        ours = _seconds(lambda: call(ncx2), 9) / n * 1e6
        theirs = _seconds(lambda: call(scipy.stats.ncx2), 3) / n * 1e6
        print(f"| {function} | {n} | {theirs:.2f} | {ours:.2f} | {theirs / ours:.1f}x |")
    print()
    print("| lam (N = 3072) | scipy cdf µs/elt | idrs_fast cdf µs/elt |")
    print("|---|---|---|")
    rng = np.random.default_rng(1)
    for lam in [0.0, 1e2, 1e4, 1e6, 1e8, 1e10, 1e12, 1e15]:
        sd = np.sqrt(2 * (3072 + 2 * lam))
        x = 3072 + lam + 3 * rng.normal(size=2000) * sd
        # scipy's cost grows with sqrt(lam): it gets a slice (its per-call overhead is
        # then still small against its per-element cost); ours always gets all 2000
        n = 2000 if lam <= 1e8 else (200 if lam <= 1e10 else 10)
        ours = _seconds(lambda: ncx2.cdf(x, 3072, lam), 3) / x.size * 1e6
        theirs = _seconds(lambda: scipy.stats.ncx2.cdf(x[:n], 3072, lam), 1) / n * 1e6
        print(f"| {lam:.0e} | {theirs:.1f} | {ours:.2f} |")


def slices(function="cdf"):
    """Cost of `function` on each (N, lambda decade) slice of the mixed batch, both
    sides on the same slice, and the slice's share of our total: where the time goes."""
    ours_f, theirs_f = getattr(ncx2, function), getattr(scipy.stats.ncx2, function)
    ours_f(X[:1000], DIM[:1000], LAM[:1000])
    decade = np.floor(np.log10(np.maximum(LAM, 1e-4))).astype(int)
    rows = []
    for dim in DIMS:
        for k in range(-4, 9):
            s = (DIM == dim) & (decade == k)
            if s.any():
                ours = _seconds(lambda: ours_f(X[s], DIM[s], LAM[s]), 5)
                theirs = _seconds(lambda: theirs_f(X[s], DIM[s], LAM[s]), 1)
                rows.append((dim, k, s.sum(), ours, theirs))
    total = sum(row[3] for row in rows)
    print("| N | lam decade | elements | scipy µs/elt | idrs_fast µs/elt | speed-up | share of ours |")
    print("|---|---|---|---|---|---|---|")
    for dim, k, n, ours, theirs in rows:
        print(f"| {dim:.0f} | 1e{k} | {n} | {theirs / n * 1e6:.2f} | {ours / n * 1e6:.2f} "
              f"| {theirs / ours:.1f}x | {ours / total:.1%} |")


if __name__ == "__main__":
    import sys
    if "--slices" in sys.argv[1:]:
        slices()
    else:
        main()
