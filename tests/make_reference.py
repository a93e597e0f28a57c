"""Write tests/data/ncx2_reference.json: noncentral chi-square tail probabilities at
40 significant digits (mpmath, tests/reference.py), independent of idrs_fast's
numerics.

Points: N in DIMS x lam in LAMS x target tail probability in TARGETS, both tails, at
x = idrs_fast's quantile of the target (x is only an input: the stored log_p is
mpmath's value at that float64 x, whatever idrs_fast computed).

    python tests/make_reference.py          # about 20 minutes on 2 cores
    python tests/make_reference.py --small-balls   # redo only x < lam / 1e6
    python tests/make_reference.py --pdf    # ncx2_pdf_reference.json at the same x
    python tests/make_reference.py --random # ncx2_random_reference.json (~10 minutes)
    python tests/make_reference.py --near-one  # ncx2_near_one_reference.json, 1.01 <= N < 1.6
    python tests/make_reference.py --large-n   # ncx2_large_n_reference.json (~3 minutes)
"""
import json
import math
import multiprocessing
import pathlib
import signal
import sys

import mpmath as mp

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from reference import ball_mass, ball_mass_peaked, log_pdf_peaked, log_pdf_poisson  # noqa: E402

DIMS = [1, 2, 3, 64, 3072, 196608]
LAMS = [0.0, 0.5, 30.0, 1e3, 1e6, 1e10, 1e16]
TARGETS = [1e-300, 1e-30, 1e-5, 0.3]
OUT = pathlib.Path(__file__).parent / "data" / "ncx2_reference.json"
PDF_OUT = pathlib.Path(__file__).parent / "data" / "ncx2_pdf_reference.json"
RANDOM_OUT = pathlib.Path(__file__).parent / "data" / "ncx2_random_reference.json"
NEAR_ONE_OUT = pathlib.Path(__file__).parent / "data" / "ncx2_near_one_reference.json"
RANDOM_DIMS = [1.5, 2, 3, 7, 64, 784, 3072, 150528, 196608]
# (N, lam, x) where the ball integral once failed the bound (before the halving test
# was tightened below N = 2): kept in the near-one set, lower tail
NEAR_ONE_REGRESSIONS = [(1.4948640949690686, 35092.32991703541, 34003.49196039287),
                        (1.498709301566562, 29107.514860762167, 26628.604677065818)]
# (N, lam, x, upper) at N >= 150528 where the ball integral's nodes once took
# w - sqrt(N - 1) from w's own rounding (chi and chord then saw nodes ~1e-13 apart in
# log): the 16 largest changes on 200k random points when it came from the gap rho - w
# instead (benchmarks/bench_ncx2.mixed_batch(200_000, seed=5)); errors of 2.5-4.6e-13
# before, inside the float64 floor there but 4-7x what the integral can do
LARGE_N_REGRESSIONS = [
    (196608.0, 12945.93357346579, 202288.79320315414, False),
    (150528.0, 4025.959069401575, 149460.77747436354, False),
    (196608.0, 3433.3028248288797, 194820.10635677996, False),
    (150528.0, 25087.096255082604, 169504.47693063432, False),
    (196608.0, 1902.5349490945189, 194370.31956278195, False),
    (196608.0, 3405.766313225973, 193732.1540932471, False),
    (196608.0, 4878.960009192538, 195852.61946086123, False),
    (196608.0, 6163.278554617752, 197358.69829657098, False),
    (150528.0, 7622.70504461888, 163543.6387000437, True),
    (196608.0, 55115.33357012646, 258501.210363242, True),
    (150528.0, 5844.482682083564, 163547.44745140529, True),
    (196608.0, 3539.112794254369, 205778.17602590183, True),
    (196608.0, 5867.168285674058, 207454.29927978708, True),
    (150528.0, 16202.025183380389, 172395.95152720186, True),
    (196608.0, 4796.066103773114, 206144.1765666492, True),
    (196608.0, 79288.12038756689, 281837.33172549197, True),
]
LARGE_N_OUT = pathlib.Path(__file__).parent / "data" / "ncx2_large_n_reference.json"
SECONDS = 120


def _give_up(signum, frame):
    raise TimeoutError


def point(args):
    """One reference value; points whose quadrature takes over SECONDS or fails are left out
    (listed on stdout) rather than stored with less confidence."""
    dim, lam, target, upper, x = args[:5]
    mass = ball_mass_peaked if args[5:] == ("peaked",) else ball_mass
    # a tiny ball far from the centre needs rho - d resolved: extra digits
    extra = max(0, int(math.log10(max(lam, 1.0) / x) / 2)) + 10 if x < lam else 0
    mp.mp.dps = 40 + extra
    d = mp.sqrt(mp.mpf(lam))
    rho = mp.sqrt(mp.mpf(x))
    signal.signal(signal.SIGALRM, _give_up)
    signal.alarm(SECONDS)
    try:
        log_p = mp.log(mass(d, rho - d, dim, upper))
    except (TimeoutError, RecursionError, ValueError, OverflowError) as error:
        return dict(df=dim, nc=lam, upper=upper, p=target, x=x, skipped=repr(error))
    finally:
        signal.alarm(0)
    if not isinstance(log_p, mp.mpf):     # quadrature noise made the mass <= 0
        return dict(df=dim, nc=lam, upper=upper, p=target, x=x, skipped="non-positive mass")
    return dict(df=dim, nc=lam, upper=upper, p=target, x=x, log_p=mp.nstr(log_p, 25))


def pdf_point(args):
    """log density at one (df, nc, x): closed form for N = 1, the Poisson mixture for
    lam <= 1e3, the Z1 integral above (N >= 3; N = 2 is left out there)."""
    dim, lam, x = args
    extra = max(0, int(math.log10(max(lam, 1.0) / x) / 2)) + 10 if x < lam else 0
    mp.mp.dps = 40 + extra
    d, rho = mp.sqrt(mp.mpf(lam)), mp.sqrt(mp.mpf(x))
    signal.signal(signal.SIGALRM, _give_up)
    signal.alarm(SECONDS)
    try:
        if dim == 1:
            log_f = mp.log((mp.npdf(rho - d) + mp.npdf(rho + d)) / (2 * rho))
        elif lam <= 1e3:
            log_f = log_pdf_poisson(lam, x, dim)
        elif dim >= 3:
            log_f = log_pdf_peaked(d, rho - d, dim)
        else:
            return dict(df=dim, nc=lam, x=x, skipped="N = 2 above lam = 1e3")
    except (TimeoutError, ValueError, OverflowError, ZeroDivisionError) as error:
        return dict(df=dim, nc=lam, x=x, skipped=repr(error))
    finally:
        signal.alarm(0)
    return dict(df=dim, nc=lam, x=x, log_pdf=mp.nstr(log_f, 25))


def pdf_reference():
    """The density at every x of ncx2_reference.json."""
    jobs = sorted({(r["df"], r["nc"], r["x"]) for r in json.loads(OUT.read_text())})
    records = _compute(pdf_point, jobs)
    records.sort(key=lambda r: (r["df"], r["nc"], r["x"]))
    PDF_OUT.write_text(json.dumps(records, indent=1) + "\n")


def _compute(worker, jobs):
    """worker over jobs on all cores, with progress; the skipped points left out.
    Spawned workers: the parent may already run Numba's OpenMP threads (no fork)."""
    records = []
    with multiprocessing.get_context("spawn").Pool() as pool:
        for i, record in enumerate(pool.imap_unordered(worker, jobs)):
            if "skipped" not in record:
                records.append(record)
            print(f"{i + 1}/{len(jobs)}", record, flush=True)
    return records


def random_reference(n=160, seed=2026, out=RANDOM_OUT, near_one=False, max_log_lam=8):
    """Points off the grid: lam log-uniform in [1e-3, 10^max_log_lam] (a quarter at
    <= 1e3, the Poisson-mixture path), N from RANDOM_DIMS (fractional included) or,
    near_one, uniform in [1.01, 1.6) (chi_(N-1) piles its mass at 0: the integral's
    slow tail), x from -35 to +35 standard deviations, the smaller tail. Catches what
    a regular grid steps over. Every point by the Z1 integral (ball_mass_peaked),
    independent of the Poisson mixture that idrs_fast uses at small lam."""
    import numpy as np
    rng = np.random.default_rng(seed)
    jobs = []
    while len(jobs) < n:
        small = len(jobs) % 4 == 0
        lam = float(10.0 ** rng.uniform(-3, 3 if small else max_log_lam))
        dim = float(rng.uniform(1.01, 1.6) if near_one else rng.choice(RANDOM_DIMS))
        z = float(rng.uniform(-35, 35))
        x = dim + lam + z * math.sqrt(2 * (dim + 2 * lam))
        if x > 0:
            jobs.append((dim, lam, None, bool(x - lam > dim), x, "peaked"))
    if near_one:
        jobs += [(dim, lam, None, False, x, "peaked") for dim, lam, x in NEAR_ONE_REGRESSIONS]
    records = _compute(point, jobs)
    records.sort(key=lambda r: (r["df"], r["nc"], r["x"]))
    out.write_text(json.dumps(records, indent=1) + "\n")


def large_n_reference():
    """LARGE_N_REGRESSIONS by the Z1 integral (ball_mass_peaked)."""
    jobs = [(dim, lam, None, upper, x, "peaked") for dim, lam, x, upper in LARGE_N_REGRESSIONS]
    records = _compute(point, jobs)
    records.sort(key=lambda r: (r["df"], r["nc"], r["x"]))
    LARGE_N_OUT.write_text(json.dumps(records, indent=1) + "\n")


def refresh_small_balls():
    """Recompute, in place, the stored points whose ball is tiny (x < lam / 1e6)."""
    records = json.loads(OUT.read_text())
    for i, r in enumerate(records):
        if r["x"] < r["nc"] / 1e6:
            records[i] = point((r["df"], r["nc"], r["p"], r["upper"], r["x"]))
            print(records[i], flush=True)
    OUT.write_text(json.dumps([r for r in records if "skipped" not in r], indent=1) + "\n")


def main():
    import numpy as np
    from idrs_fast import ncx2
    jobs = []
    for dim in DIMS:
        for lam in LAMS:
            for target in TARGETS:
                for upper in (False, True):
                    x = float(ncx2.isf(target, dim, lam) if upper else ncx2.ppf(target, dim, lam))
                    if np.isfinite(x) and 1e-280 < x < 1e300:
                        jobs.append((dim, lam, target, upper, x))
    records = _compute(point, jobs)
    records.sort(key=lambda r: (r["df"], r["nc"], r["p"], r["upper"]))
    OUT.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--small-balls"]:
        refresh_small_balls()
    elif sys.argv[1:] == ["--pdf"]:
        pdf_reference()
    elif sys.argv[1:] == ["--random"]:
        random_reference()
    elif sys.argv[1:] == ["--large-n"]:
        large_n_reference()
    elif sys.argv[1:] == ["--near-one"]:
        random_reference(n=64, seed=11, out=NEAR_ONE_OUT, near_one=True, max_log_lam=12)
    else:
        main()
