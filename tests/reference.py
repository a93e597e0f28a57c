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


def _interval_mass(lo, hi, upper):
    """P(lo < Z < hi) or its complement, N = 1; the difference of two cdfs is formed
    at 400 extra digits, so a tiny interval (x down to 1e-300) keeps its precision."""
    with mp.extradps(400):
        inside = mp.ncdf(hi) - mp.ncdf(lo)
        return (1 - inside) if upper else inside


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
        return _interval_mass(lo, hi, upper)
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
    lam <= 1e3, the peak-adaptive Z1 integral above otherwise (every N). The older
    fixed-breakpoint Z1 integral (ball_mass_integral) missed the sharp edge of the
    incomplete gamma in far lower tails (errors up to 5e-5 at 1e-300): not used."""
    if float(dim) == 1.0:
        return ball_mass_peaked(d, margin, dim, upper)
    if float(d) ** 2 <= 1e3:
        return ball_mass_poisson(d, margin, dim, upper)
    return ball_mass_peaked(d, margin, dim, upper)


def ball_mass_peaked(d, margin, dim, upper, reach=120):
    """P(||Z - c|| <= d + margin) (or its complement) by quadrature over Z1 placed on
    the integrand itself: the peak of log(phi(z) G(chord(z))) is found by golden
    section, the range where it stays within `reach` of the peak by bisection, and
    that range is cut into pieces of each side's width. For every N and lam where
    the integrand is unimodal in z (it is a Gaussian times a monotone incomplete
    gamma of a concave chord), independent of the Poisson series and of idrs_fast."""
    d, margin, dim = mp.mpf(d), mp.mpf(margin), mp.mpf(dim)
    rho = d + margin
    lo, hi = -d - rho, margin
    if dim == 1:
        return _interval_mass(lo, hi, upper)
    a = (dim - 1) / 2

    def tail(y):
        """The smaller regularized incomplete gamma at y: upper if y > a, else lower.
        Far from the transition, where mpmath's series give up, its leading
        asymptotic term (those points only steer the peak search)."""
        try:
            return _gammainc_upper(a, y) if y > a else _gammainc_lower(a, y)
        except (ValueError, mp.libmp.NoConvergence):
            if y > a:
                return mp.exp((a - 1) * mp.log(y) - y - mp.loggamma(a))
            return mp.exp(a * mp.log(y) - y - mp.loggamma(a + 1))

    def gamma(y):                  # the small side directly, the other as 1 - it
        if y <= 0:
            return mp.mpf(1) if upper else mp.mpf(0)
        small = tail(y)
        if upper:
            return small if y > a else 1 - small
        return small if y < a else 1 - small

    def log_f(z):
        g = gamma((margin - z) * (2 * d + margin + z) / 2)
        return mp.log(mp.npdf(z)) + mp.log(g) if g > 0 else -mp.inf

    total = _peaked_quad(log_f, lo, hi, reach)
    if upper:
        total += mp.ncdf(-hi) + mp.ncdf(lo)
    return total


def _peaked_quad(log_f, lo, hi, reach):
    """int_lo^hi exp(log_f(z)) dz for a unimodal log_f: golden-section search for the
    peak, the range where log_f stays within `reach` of it by bisection, and that
    range cut into pieces of each side's width, doubling outwards."""
    # golden-section search for the peak on (lo, hi), clipped to 1e4 around the
    # point of (lo, hi) nearest the Gaussian's centre
    centre = min(max(mp.mpf(0), lo), hi)
    left, right = max(lo, centre - 10 ** 4), min(hi, centre + 10 ** 4)
    ratio = (mp.sqrt(5) - 1) / 2
    x1, x2 = right - ratio * (right - left), left + ratio * (right - left)
    f1, f2 = log_f(x1), log_f(x2)
    for _ in range(120):
        if right - left < mp.mpf(1e-9) * (1 + abs(left)):
            break
        if f1 < f2:
            left, x1, f1 = x1, x2, f2
            x2 = left + ratio * (right - left)
            f2 = log_f(x2)
        else:
            right, x2, f2 = x2, x1, f1
            x1 = right - ratio * (right - left)
            f1 = log_f(x1)
    peak = (left + right) / 2
    top = log_f(peak)

    def edge(direction, drop):
        """z beyond the peak where log f has fallen by `drop` (or the domain end)."""
        end = lo if direction < 0 else hi
        step = mp.mpf(1e-3)
        inner = peak
        for _ in range(200):
            z = peak + direction * step
            if (direction < 0 and z <= end) or (direction > 0 and z >= end):
                return end
            if log_f(z) < top - drop:
                break
            inner = z
            step *= 2
        outer = z
        for _ in range(60):
            mid = (inner + outer) / 2
            if log_f(mid) < top - drop:
                outer = mid
            else:
                inner = mid
        return outer

    # each side has its own scale (a Gaussian flank on one, possibly the sharp
    # transition of the incomplete gamma on the other): pieces of that width near
    # the peak, then doubling out to where log f has fallen by `reach`
    start, stop = edge(-1, reach), edge(1, reach)
    pts = {start, stop, peak}
    for direction, end in ((-1, start), (1, stop)):
        width = abs(edge(direction, 1) - peak)
        offsets = [k * width for k in range(1, 17)] + [16 * width * 2 ** k for k in range(1, 80)]
        for offset in offsets:
            z = peak + direction * offset
            if (z - end) * direction >= 0:
                break
            pts.add(z)
    return mp.quad(lambda z: mp.exp(log_f(z) - top), sorted(pts)) * mp.exp(top)


def log_pdf_poisson(lam, x, dim):
    """log density of chi'^2_dim(lam) at x by the Poisson mixture
    sum_k Pois(k; lam/2) f_{chi2_{dim + 2k}}(x), summed until the terms vanish."""
    lam, x, dim = mp.mpf(lam), mp.mpf(x), mp.mpf(dim)

    def log_term(k):
        a = dim / 2 + k
        log_poisson = k * mp.log(lam / 2) - lam / 2 - mp.loggamma(k + 1) if lam > 0 else (
            mp.mpf(0) if k == 0 else -mp.inf)
        return log_poisson + (a - 1) * mp.log(x) - x / 2 - a * mp.log(2) - mp.loggamma(a)

    terms = [log_term(0)]
    k, top = 1, terms[0]
    while lam > 0 and k < 10 ** 6:
        term = log_term(k)
        terms.append(term)
        top = max(top, term)
        if k > lam and term < top - 120:
            break
        k += 1
    return top + mp.log(mp.fsum(mp.exp(t - top) for t in terms))


def log_pdf_peaked(d, margin, dim, reach=120):
    """log density of ||Z - c||^2 (||c|| = d) at x = (d + margin)^2 by the Z1 integral
    int phi(z) f_{chi2_{dim-1}}((margin - z)(2 d + margin + z)) dz (dim >= 3: for
    dim = 2 the chi2_1 density is singular at the ends)."""
    d, margin, dim = mp.mpf(d), mp.mpf(margin), mp.mpf(dim)
    half = (dim - 1) / 2
    log_norm = -half * mp.log(2) - mp.loggamma(half)

    def log_f(z):
        y = (margin - z) * (2 * d + margin + z)
        if y <= 0:
            return -mp.inf
        return mp.log(mp.npdf(z)) + (half - 1) * mp.log(y) - y / 2 + log_norm

    return mp.log(_peaked_quad(log_f, -2 * d - margin, margin, reach))


def log_gamma_ratios(b, y):
    """(log P(b, y), log Q(b, y)) at the working precision, each computed as a sum or
    integral of positive terms: P by its power series, Q by
    Q = y^(b-1) e^-y / Gamma(b) int_0^inf (1 + s / y)^(b-1) e^-s ds (t = y + s)."""
    b, y = mp.mpf(b), mp.mpf(y)
    log_head = (b - 1) * mp.log(y) - y - mp.loggamma(b)
    if y < b:
        term, total, n = mp.mpf(1), mp.mpf(1), 0
        while term > total * mp.eps:
            n += 1
            term *= y / (b + n)
            total += term
        log_p = log_head + mp.log(y / b) + mp.log(total)
        return log_p, _log1m_exp(log_p)
    rate = 1 - (b - 1) / y                  # the integrand decays like exp(-rate s)
    scale = 1 / max(rate, 1 / mp.sqrt(b))
    integral = mp.quad(lambda s: mp.exp((b - 1) * mp.log1p(s / y) - s),
                       [0, scale, 4 * scale, 16 * scale, 64 * scale, mp.inf])
    log_q = log_head + mp.log(integral)
    return _log1m_exp(log_q), log_q


def central_log_tails(df, x):
    """(log P, log Q) of the central chi-square chi2_df at x for huge df (1e13 and up),
    each the quadrature of the density y^(a-1) e^-y / Gamma(a) (a = df / 2, y = x / 2)
    over its own side, cut 80 standard deviations sqrt(a) out (the rest is below
    e^-3000), with nodes every standard deviation near the mode. mpmath's gammainc
    agrees to 2e-14 at df = 1e13 and takes 20-200 s where this takes < 1 s."""
    with mp.workdps(50):        # (a - 1) log y - y - log Gamma(a) cancels 17 digits
        a, y = mp.mpf(df) / 2, mp.mpf(x) / 2
        sd, mode = mp.sqrt(a), a - 1
        log_norm = -mp.loggamma(a)

        def density(t):
            return mp.exp((a - 1) * mp.log(t) - t + log_norm)

        def nodes(lo, hi):
            inner = [mode + k * sd for k in range(-12, 13) if lo < mode + k * sd < hi]
            return [lo] + inner + [hi]
        lower = mp.quad(density, nodes(max(y - 80 * sd, mp.mpf(0)), y))
        upper = mp.quad(density, nodes(y, max(y, mode) + 80 * sd))
        return float(mp.log(lower)), float(mp.log(upper))


def _log1m_exp(a):
    """log(1 - exp(a)), a < 0, at the working precision."""
    if a < -1:
        return mp.log1p(-mp.exp(a))
    return mp.log(-mp.expm1(a))
