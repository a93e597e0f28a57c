"""Write tests/data/ncx2_reference.json: noncentral chi-square tail probabilities at
40 significant digits (mpmath, tests/reference.py), independent of idrs_fast's
numerics.

Points: N in DIMS x lam in LAMS x target tail probability in TARGETS, both tails, at
x = idrs_fast's quantile of the target (x is only an input: the stored log_p is
mpmath's value at that float64 x, whatever idrs_fast computed).

    python tests/make_reference.py          # about 20 minutes on 2 cores
    python tests/make_reference.py --small-balls   # redo only x < lam / 1e6
"""
import json
import math
import multiprocessing
import pathlib
import signal
import sys

import mpmath as mp

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from reference import ball_mass  # noqa: E402

DIMS = [1, 2, 3, 64, 3072, 196608]
LAMS = [0.0, 0.5, 30.0, 1e3, 1e6, 1e10, 1e16]
TARGETS = [1e-300, 1e-30, 1e-5, 0.3]
OUT = pathlib.Path(__file__).parent / "data" / "ncx2_reference.json"
SECONDS = 120


def _give_up(signum, frame):
    raise TimeoutError


def point(args):
    """One reference value; points whose quadrature takes over SECONDS or fails are left out
    (listed on stdout) rather than stored with less confidence."""
    dim, lam, target, upper, x = args
    # a tiny ball far from the centre needs rho - d resolved: extra digits
    extra = max(0, int(math.log10(max(lam, 1.0) / x) / 2)) + 10 if x < lam else 0
    mp.mp.dps = 40 + extra
    d = mp.sqrt(mp.mpf(lam))
    rho = mp.sqrt(mp.mpf(x))
    signal.signal(signal.SIGALRM, _give_up)
    signal.alarm(SECONDS)
    try:
        log_p = mp.log(ball_mass(d, rho - d, dim, upper))
    except (TimeoutError, RecursionError, ValueError, OverflowError) as error:
        return dict(df=dim, nc=lam, upper=upper, p=target, x=x, skipped=repr(error))
    finally:
        signal.alarm(0)
    if not isinstance(log_p, mp.mpf):     # quadrature noise made the mass <= 0
        return dict(df=dim, nc=lam, upper=upper, p=target, x=x, skipped="non-positive mass")
    return dict(df=dim, nc=lam, upper=upper, p=target, x=x, log_p=mp.nstr(log_p, 25))


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
    with multiprocessing.Pool() as pool:
        records = []
        for i, record in enumerate(pool.imap_unordered(point, jobs)):
            if "skipped" not in record:
                records.append(record)
            print(f"{i + 1}/{len(jobs)}", record, flush=True)
    records.sort(key=lambda r: (r["df"], r["nc"], r["p"], r["upper"]))
    OUT.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    refresh_small_balls() if sys.argv[1:] == ["--small-balls"] else main()
