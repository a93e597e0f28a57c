"""Curse-of-dimensionality thresholds (Theorem 2.4, Corollary 2.5, Table 1,
Figure 3) and the Renyi-divergence certificate (Appendix B.1)."""
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from idrs_fast import certified_radius, cohen_radius, ncx2, theory, xi_greater

P_A = [0.9, 0.99, 0.999, 0.99993]
TABLE_1 = {  # the paper's Table 1 (3 decimals)
    784: [0.946, 0.924, 0.908, 0.892],
    3072: [0.973, 0.961, 0.953, 0.945],
    3 * 256 * 256: [0.997, 0.995, 0.994, 0.993],
}


@pytest.mark.parametrize("dim", sorted(TABLE_1))
def test_table_1(dim):
    np.testing.assert_allclose(theory.sigma_ratio_threshold(P_A, dim), TABLE_1[dim], atol=1.01e-3)


def test_thresholds_solve_theorem_2_4_with_equality():
    for dim in (2, 784, 196608):
        for p_a in P_A:
            c = 2 * np.log1p(-p_a) / dim
            t = theory.sigma_ratio_threshold(p_a, dim) ** 2
            assert np.log(t) + 1 - t == pytest.approx(c, rel=1e-9)
            z = theory.sigma_ratio_upper_threshold(p_a, dim) ** 2 * (dim - 1) / dim
            assert np.log(z) + 1 - z == pytest.approx(c, rel=1e-9)
            assert theory.cannot_certify(p_a, 0.999 * np.sqrt(t), dim)
            assert not theory.cannot_certify(p_a, 1.0, dim)


def test_below_the_threshold_even_distance_zero_fails():
    """Theorem 2.4 is a sufficient condition: below it xi_>(0) >= 1/2 already."""
    for dim in (64, 3072):
        for p_a in (0.9, 0.999):
            ratio = theory.sigma_ratio_threshold(p_a, dim) * 0.999
            assert xi_greater(0.0, 1.0, ratio, dim, 1 - p_a) >= 0.5
            # the practical threshold (Figure 3) is where xi_>(0) = 1/2 exactly
            practical = theory.practical_sigma_ratio_threshold(p_a, dim)
            assert practical > ratio
            assert xi_greater(0.0, 1.0, practical, dim, 1 - p_a) == pytest.approx(0.5, abs=1e-10)


def test_corollary_bounds_every_certified_radius():
    p_a = np.array([0.9, 0.99, 0.999, 0.99999])
    for dim in (784, 3072, 150528):
        for rate in (0.01, 0.2):
            bound = theory.max_certifiable_radius(p_a, rate, dim)
            assert np.all(certified_radius(p_a, 0.5, rate, dim) <= bound)


def test_renyi_radius_at_constant_sigma_is_li_et_al():
    """rate 0: sup over alpha of sqrt(2 sigma^2 B(alpha) / alpha), B Li et al.'s bound
    with pB = 1 - pA, maximised here by scipy over a continuous alpha."""
    for p_a in (0.7, 0.9, 0.99):
        p_b = 1 - p_a

        def negative_radius(log_alpha):
            alpha = 1 + np.exp(log_alpha)
            mean = ((p_a ** (1 - alpha) + p_b ** (1 - alpha)) / 2) ** (1 / (1 - alpha))
            return -np.sqrt(2 * -np.log(2 * mean) / alpha)

        best = -minimize_scalar(negative_radius, bounds=(-9, 5), method="bounded",
                                options=dict(xatol=1e-10)).fun
        ours = theory.renyi_radius(p_a, 1.0, 0.0, 10)
        assert ours == pytest.approx(best, rel=2e-3) and ours <= best * (1 + 1e-9)
        assert ours < cohen_radius(p_a, 1.0)


def test_renyi_radius_shows_the_curse_figure_11():
    """pA = 0.99, s0 = 1, s1 = 0.8: the radius shrinks with N and vanishes."""
    radii = [theory.renyi_radius(0.99, 1.0, 0.0, n, sigma1=0.8) for n in (1, 4, 16, 64, 256)]
    assert all(a >= b for a, b in zip(radii, radii[1:]))
    assert radii[0] > 1.0 and radii[-1] == 0.0


def test_renyi_divergence_closed_form_at_equal_sigmas():
    a = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(theory.renyi_divergence(3.0, a, 0.5, 0.5, 100), 3 * a ** 2 / (2 * 0.25))


def test_bad_input():
    with pytest.raises(ValueError, match=r"pA\[1\] = 0.4"):
        theory.sigma_ratio_threshold([0.9, 0.4], 784)
    with pytest.raises(ValueError, match="dim = 1.0"):
        theory.sigma_ratio_threshold(0.9, 1)


def test_numba_imported_first_still_uses_the_kernel_keyed_cache():
    """numba reads NUMBA_CACHE_DIR at its import; idrs_fast imported after it must still
    point the cache at the folder keyed by the kernel sources (else Numba would cache
    beside _backend.py, keyed to that file alone, and reload stale kernels)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    code = ("import numba.core.config as c; import idrs_fast; "
            "print(c.CACHE_DIR == idrs_fast._CACHE_DIR, 'numba-' in c.CACHE_DIR)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_threshold_is_stable_in_both_tails_of_its_arguments():
    """sigma_ratio_threshold(1 - 1e-16, 2) was 4.6x too large (u = 1 - delta lost all
    its digits) and dim = 1e300 failed in brentq. For c = 2 log(1 - pA) / N -> -inf,
    u -> exp(c - 1) (closed form); for c -> 0, u = 1 - sqrt(-2c) + ..."""
    p = 1 - 1e-16
    assert theory.sigma_ratio_threshold(p, 2) == pytest.approx(np.exp(0.5 * (np.log1p(-p) - 1)), rel=1e-12)
    c = 2 * np.log(0.01) / 1e300
    assert theory.sigma_ratio_threshold(0.99, 1e300) == pytest.approx(1 - np.sqrt(-2 * c) / 2, abs=1e-300)
    assert theory.sigma_ratio_upper_threshold(0.99, 1e300) == 1.0


def test_theory_validates_and_broadcasts():
    """renyi_radius used to accept NaN, 1.5 and dim -5 and refuse arrays;
    practical_sigma_ratio_threshold did not check pB."""
    for bad in (dict(pA=np.nan), dict(pA=1.5), dict(dim=-5), dict(sigma0=0.0), dict(rate=-1.0)):
        args = dict(pA=0.99, sigma0=1.0, rate=0.0, dim=100)
        args.update(bad)
        with pytest.raises(ValueError, match=next(iter(bad))):
            theory.renyi_radius(**args)
    radii = theory.renyi_radius([0.99, 1.0, 0.4], 1.0, 0.01, 100)
    assert radii.shape == (3,) and radii[1] == np.inf and radii[2] == 0.0
    assert radii[0] == theory.renyi_radius(0.99, 1.0, 0.01, 100) > 0
    with pytest.raises(ValueError, match="pB"):
        theory.practical_sigma_ratio_threshold(0.99, 3072, pB=0.5)


def test_smoothed_ball_radius_shrinks_the_class_exactly():
    """N = 1 against the closed form Phi((rho - r)/s) - Phi((-rho - r)/s) = 1/2 (brentq);
    in N dimensions the class vanishes once (rho/sigma)^2 is below chi^2_N's median."""
    from scipy.optimize import brentq
    from scipy.stats import chi2, norm

    from idrs_fast.theory import smoothed_ball_radius
    for rho, s in ((1.0, 0.25), (1.0, 0.6), (3.0, 1.0)):
        exact = brentq(lambda r: norm.cdf((rho - r) / s) - norm.cdf((-rho - r) / s) - 0.5, 0, rho)
        assert smoothed_ball_radius(rho, s, 1) == pytest.approx(exact, rel=1e-10)
    for dim in (2, 784, 3072, 196608):
        median = np.sqrt(chi2.median(dim))
        assert smoothed_ball_radius(0.999 * median, 1.0, dim) == 0.0
        inside = smoothed_ball_radius(1.01 * median, 1.0, dim)
        assert 0.0 < inside < 1.01 * median
        assert ncx2.cdf((1.01 * median) ** 2, dim, inside ** 2) == pytest.approx(0.5, abs=1e-10)
