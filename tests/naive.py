"""Straightforward references written on scipy.stats, as the paper's code does it.

Used by tests (where scipy is known to be right: moderate lambda) and by
benchmarks/ (the alternative idrs_fast is timed against). Formulas: MATH.md,
"Worst case" and "Certified radius"; Algorithm 3 with the squared-step search and
the sigma_t / sigma_T clamping of Appendix D.
"""
import numpy as np
from scipy.stats import ncx2, norm


def xi_greater(a, s0, s1, dim, p_b):
    """xi_>(a) = F_N(lam1; (s0^2/s1^2) F_N^-1(lam0; pB)), s1 < s0."""
    gap = s0 ** 2 - s1 ** 2
    lam0, lam1 = s0 ** 2 * a ** 2 / gap ** 2, s1 ** 2 * a ** 2 / gap ** 2
    return ncx2.cdf(s0 ** 2 / s1 ** 2 * ncx2.ppf(p_b, dim, lam0), dim, lam1)


def xi_smaller(a, s0, s1, dim, p_b):
    """xi_<(a) = 1 - F_N(lam1; (s0^2/s1^2) F_N^-1(lam0; 1 - pB)), s1 > s0."""
    gap = s0 ** 2 - s1 ** 2
    lam0, lam1 = s0 ** 2 * a ** 2 / gap ** 2, s1 ** 2 * a ** 2 / gap ** 2
    return ncx2.sf(s0 ** 2 / s1 ** 2 * ncx2.ppf(1.0 - p_b, dim, lam0), dim, lam1)


def cifar10_sigma_t(p_b):
    return 0.9993 + 0.001 * np.log10(p_b)


def certifies(radius, p_a, s0, rate, dim, sigma_t):
    """Both xi < 1/2 at `radius`, adversary sigmas clamped as in Appendix D."""
    p_b = 1.0 - p_a
    s_small = min(sigma_t * s0, s0 * np.exp(-rate * radius))
    s_large = max(s0 / sigma_t, s0 * np.exp(rate * radius))
    return (xi_greater(radius, s0, s_small, dim, p_b) < 0.5
            and xi_smaller(radius, s0, s_large, dim, p_b) < 0.5)


def algorithm3(p_a, s0, rate, dim, step=1e-3, sigma_t=None):
    """The paper's Algorithm 3: grid k * step, squared steps i^2 until a failure, then
    a linear scan of the last interval; the last grid radius that passed."""
    if p_a <= 0.5:
        return 0.0
    if sigma_t is None:
        sigma_t = cifar10_sigma_t(1.0 - p_a)
    i = 1
    if not certifies(step, p_a, s0, rate, dim, sigma_t):
        return 0.0
    while certifies((i + 1) ** 2 * step, p_a, s0, rate, dim, sigma_t):
        i += 1
    k = i * i
    while k + 1 < (i + 1) ** 2 and certifies((k + 1) * step, p_a, s0, rate, dim, sigma_t):
        k += 1
    return k * step


def cohen_radius(p_a, sigma):
    return sigma * norm.isf(1.0 - p_a) if p_a > 0.5 else 0.0


def knn_mean_distance(x, train, k):
    """Brute force: mean distance of each row of x to its k nearest training rows."""
    x, train = np.asarray(x, dtype=np.float64), np.asarray(train, dtype=np.float64)
    distances = np.sqrt(((x[:, None, :] - train[None, :, :]) ** 2).sum(-1))
    return np.sort(distances, axis=1)[:, :k].mean(1)


def cohen_certify_loop(model, x, num_classes, sigma, n0, n, alpha, batch_size):
    """Cohen et al.'s `Smooth.certify` as they wrote it: one input at a time, noise
    per batch, counts on the host with numpy; returns (prediction, pA_lower) lists."""
    import torch
    from scipy.stats import beta as beta_distribution

    def sample_noise(x_one, num):
        counts = np.zeros(num_classes, dtype=int)
        remaining = num
        with torch.no_grad():
            while remaining > 0:
                this = min(batch_size, remaining)
                remaining -= this
                batch = x_one.repeat((this, 1))
                noise = torch.randn_like(batch) * sigma
                predictions = model(batch + noise).argmax(1)
                counts += np.bincount(predictions.cpu().numpy(), minlength=num_classes)
        return counts

    out = []
    for x_one in x:
        guess = sample_noise(x_one, n0).argmax()
        n_a = sample_noise(x_one, n)[guess]
        p_a = beta_distribution.ppf(alpha, n_a, n - n_a + 1) if n_a > 0 else 0.0
        out.append((guess if p_a > 0.5 else -1, p_a))
    return out
