"""Write tests/data/radius_reference.json: certified-radius brackets proven with
mpmath (tests/reference.ball_mass_peaked, 30 digits), independent of idrs_fast's
numerics.

For each case idrs_fast's radius R only proposes the points; mpmath decides:
- `passes` = R: both xi < 1/2 there (so R <= the true radius);
- `fails`  = R (1 + 5e-8): one xi >= 1/2 there (so the true radius is below it).
Each verdict is rigorous given mpmath's masses: the margin m0 solving mass(d0) = pB
is bracketed by a margin m' whose mpmath mass is on the safe side of pB, and xi is
bounded by the mpmath mass at x1 with m'. A case with R = 0 stores `fails` = 0 when
mpmath finds the (clamped) sigmas already failing at distance 0.

    python tests/make_radius_reference.py      # ~20 minutes on 2 cores
"""
import json
import multiprocessing
import pathlib
import sys

import mpmath as mp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from reference import ball_mass_peaked  # noqa: E402

OUT = pathlib.Path(__file__).parent / "data" / "radius_reference.json"
DIMS = [1, 2, 64, 784, 3072, 150528, 196608]
SETTINGS = [  # (sigma0, rate, pA, clamp)
    (0.12, 1e-6, 0.51, None),
    (0.25, 1e-3, 0.99, None),
    (0.5, 0.2, 0.999999, None),
    (1.0, 0.01, 0.9, "cifar10"),
]
FAIL_FACTOR = 1.0 + 5e-8


def _sigma_t(p_a, clamp):
    return 1.0 if clamp is None else 0.9993 + 0.001 * np.log10(1.0 - p_a)


def _geometry(radius, s0, rate, sigma_t, greater):
    """(s1, gap, d0, d1) in mpmath for the extreme adversary of one side."""
    radius, s0 = mp.mpf(radius), mp.mpf(s0)
    if greater:
        s1 = min(mp.mpf(sigma_t) * s0, s0 * mp.exp(-mp.mpf(rate) * radius))
        gap = s0 ** 2 - s1 ** 2
    else:
        s1 = max(s0 / mp.mpf(sigma_t), s0 * mp.exp(mp.mpf(rate) * radius))
        gap = s1 ** 2 - s0 ** 2
    return s1, gap, s0 * radius / gap, s1 * radius / gap


def _xi_bound(radius, s0, rate, sigma_t, dim, p_b, greater, want_upper_bound):
    """An mpmath-proven bound on xi (upper bound if want_upper_bound, else lower),
    or None if no nearby margin could be proven on the needed side."""
    from idrs_fast import _backend
    s1, gap, d0, d1 = _geometry(radius, s0, rate, sigma_t, greater)
    upper_tail = not greater
    m0 = float(_backend.run(
        "ball_margin_quantile", np.array([float(d0)]), np.array([float(mp.log(p_b))]),
        np.array([float(dim)]), upper=upper_tail)[0])
    # xi increases with m0 on the ball side and decreases on the outside side;
    # the mass at x0 increases with m0 for the lower tail, decreases for the upper
    need_larger_m0 = (want_upper_bound == greater)
    for delta in (1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10):
        m = mp.mpf(m0) + (1 if need_larger_m0 else -1) * mp.mpf(delta) * (1 + abs(m0))
        mass0 = ball_mass_peaked(d0, m, dim, upper_tail)
        # m >= true m0 iff the lower mass at m >= pB (or the upper mass at m <= pB)
        m_is_larger = (mass0 >= p_b) if not upper_tail else (mass0 <= p_b)
        if m_is_larger == need_larger_m0:
            m1 = (s0 * m + radius) / s1 if greater else (s0 * m - radius) / s1
            return ball_mass_peaked(d1, m1, dim, upper_tail)
    return None


def verdict(radius, s0, rate, p_a, clamp, dim, certified):
    """True if mpmath proves `certified` (both xi < 1/2) or its negation (one xi >= 1/2)."""
    p_b = mp.mpf(1) - mp.mpf(p_a)
    sigma_t = _sigma_t(p_a, clamp)
    half = mp.mpf(1) / 2
    results = []
    for greater in (True, False):
        bound = _xi_bound(radius, s0, rate, sigma_t, dim, p_b, greater, certified)
        if bound is None:
            results.append(None)
        else:
            results.append(bound < half if certified else bound >= half)
        if not certified and results[-1]:
            return True
    return all(r is True for r in results) if certified else False


def case(args):
    dim, (s0, rate, p_a, clamp) = args
    mp.mp.dps = 30
    import idrs_fast
    radius = float(idrs_fast.certified_radius(p_a, s0, rate, dim, clamp=clamp))
    row = dict(dim=dim, sigma0=s0, rate=rate, pA=p_a, clamp=clamp, passes=None, fails=None)
    if radius == 0.0:
        if verdict(0.0, s0, rate, p_a, clamp, dim, False):
            row["fails"] = 0.0
        return row
    if verdict(radius, s0, rate, p_a, clamp, dim, True):
        row["passes"] = radius
    if verdict(radius * FAIL_FACTOR, s0, rate, p_a, clamp, dim, False):
        row["fails"] = radius * FAIL_FACTOR
    print(row, flush=True)
    return row


def _proven(row):
    return row["fails"] is not None and (row["fails"] == 0.0 or row["passes"] is not None)


def _radius(row):
    """idrs_fast's current radius for a stored row (a proof holds only for that value)."""
    from idrs_fast import certified_radius
    return float(certified_radius(row["pA"], row["sigma0"], row["rate"], row["dim"],
                                  clamp=row["clamp"]))


def main():
    """Compute every case, keeping the proven rows of an existing file."""
    jobs = [(dim, setting) for dim in DIMS for setting in SETTINGS]
    old = {}
    if OUT.exists():
        for row in json.loads(OUT.read_text())["cases"]:
            old[(row["dim"], (row["sigma0"], row["rate"], row["pA"], row["clamp"]))] = row
    todo = [job for job in jobs if not (job in old and _proven(old[job])
                                        and _radius(old[job]) == old[job]["passes"])]
    with multiprocessing.get_context("spawn").Pool(2) as pool:   # numba threads: no fork
        new = dict(zip(todo, pool.map(case, todo, chunksize=1)))
    rows = [new[job] if job in new else old[job] for job in jobs]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(dict(
        generator="tests/make_radius_reference.py", digits=30, fail_factor=FAIL_FACTOR,
        cases=rows), indent=1))
    print(f"{OUT}: {sum(r['passes'] is not None for r in rows)} proven passes, "
          f"{sum(r['fails'] is not None for r in rows)} proven failures of {len(rows)}")


if __name__ == "__main__":
    main()
