"""Independent high-precision references for the noncentral chi-square (mpmath).

Two independent representations, both at `mpmath.mp.dps` >= 40:
- the Poisson mixture  F = sum_k Pois(k; lam/2) P(N/2 + k, x/2)  (moderate lam);
- the exact 1-D integral over Z1 of  X = (Z1 + sqrt(lam))^2 + chi2_{N-1}:
  F = int phi(z) P((N-1)/2, (x - (z + sqrt lam)^2)/2) dz over |z + sqrt lam| < sqrt x,
  written with the margin m = sqrt x - sqrt lam so that huge lam keeps its digits.
Used by tests/make_reference.py to write tests/data/*.json; not imported by idrs_fast.
"""
import mpmath as mp


def _gammainc_lower(a, y):
    return mp.gammainc(a, 0, y, regularized=True)


def _gammainc_upper(a, y):
    return mp.gammainc(a, y, mp.inf, regularized=True)


def ball_mass_poisson(d, margin, dim, upper):
    """P(||Z - c|| <= d + margin) (or its complement) by the Poisson mixture, summed
    over every k up to well past both the Poisson mode and the far-tail mode
    sqrt(lam x) / 2, so no dominant term is left out."""
    d, margin, dim = mp.mpf(d), mp.mpf(margin), mp.mpf(dim)
    lam = d * d
    x = (d + margin) ** 2
    half_lam = lam / 2
    gamma = _gammainc_upper if upper else _gammainc_lower
    if lam == 0:
        return gamma(dim / 2, x / 2)
    top = half_lam + mp.sqrt(lam * x) / 2
    k_max = int(top + 40 * mp.sqrt(top + 1) + 60)
    total = mp.mpf(0)
    for k in range(k_max + 1):
        weight = mp.exp(-half_lam + k * mp.log(half_lam) - mp.loggamma(k + 1))
        total += weight * gamma(dim / 2 + k, x / 2)
    return total


def ball_mass_integral(d, margin, dim, upper):
    """P(||Z - c|| <= d + margin) (or its complement) by quadrature over Z1."""
    d, margin, dim = mp.mpf(d), mp.mpf(margin), mp.mpf(dim)
    rho = d + margin
    a = (dim - 1) / 2
    lo, hi = -d - rho, margin          # z range where the ball's chord is non-empty

    def chord(z):                      # (rho^2 - (z + d)^2) / 2 without cancellation
        return (margin - z) * (2 * d + margin + z) / 2

    if dim == 1:
        return (mp.ncdf(-hi) + mp.ncdf(lo)) if upper else (mp.ncdf(hi) - mp.ncdf(lo))
    gamma = _gammainc_upper if upper else _gammainc_lower
    f = lambda z: mp.npdf(z) * gamma(a, chord(z))
    # split where the integrand changes character: the Gaussian's centre and tails,
    # the chord's ends, and the incomplete gamma's transition chord(z) = a (solved
    # exactly: (m - z)(2 d + m + z) = 2 a) with its width sqrt(a) / |z + d|
    pts = [lo, hi]
    marks = [0, hi - 1, hi - 10, hi - 40, -40, -10, -1, 1, 10, 40]
    if a > 0:
        root = mp.sqrt(rho * rho - 2 * a) if rho * rho > 2 * a else None
        if root is not None:
            for z_t in (root - d, -root - d):
                width = mp.sqrt(a) / max(abs(z_t + d), mp.mpf(1))
                marks += [z_t + k * width for k in (-30, -10, -3, -1, 0, 1, 3, 10, 30)]
    for p in marks:
        p = mp.mpf(p)
        if lo < p < hi:
            pts.append(p)
    pts = sorted(set(pts))
    total = mp.quad(f, pts, maxdegree=10)
    if upper:
        total += mp.ncdf(-hi) + mp.ncdf(lo)
    return total


def ball_mass(d, margin, dim, upper):
    """The reference used for test data: N = 1 in closed form, the Poisson mixture for
    lam <= 1e3, the Z1 integral above (N <= 3072 only: at larger N mpmath's quadrature
    of this integrand was seen to be unreliable, so no reference is claimed there)."""
    if float(dim) == 1.0:
        return ball_mass_integral(d, margin, dim, upper)
    if float(d) ** 2 <= 1e3:
        return ball_mass_poisson(d, margin, dim, upper)
    if float(dim) <= 3072:
        return ball_mass_integral(d, margin, dim, upper)
    raise ValueError("no trusted mpmath reference for N > 3072 and lam > 1e3")
