"""Monte-Carlo smoothing of a PyTorch classifier (Cohen et al.'s `Smooth`, with an
input-dependent sigma and whole batches of inputs per forward pass).

Noise is a deterministic function of (seed, input index, stage, sample): on the CPU
from the counter-based generator of _noise.py, drawn and added in one pass; on other
devices from one torch generator per (seed, input index, stage) in fixed blocks of
BLOCK samples. So results do not depend on the batch size or on which inputs share a
batch, and a resumed run draws exactly what an uninterrupted one would (for a given
device type). Counts stay on the device.
"""
import ctypes
import functools
import platform

import numpy as np
import torch
from scipy.stats import beta, binomtest

from ._counting import count_top_classes
from ._noise import add_noise, input_keys
from .radius import certified_radius, cohen_radius

BLOCK = 1024         # noise samples per torch generator call (GPU)
ABSTAIN = -1
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3          # glibc's mallopt parameters
MMAP_THRESHOLD = 32 << 20                           # the largest glibc accepts
TRIM_THRESHOLD = 64 << 20


@functools.cache
def retain_freed_memory():
    """Make glibc keep freed blocks under 32 MiB for reuse (M_MMAP_THRESHOLD 32 MiB,
    M_TRIM_THRESHOLD 64 MiB) instead of returning them to the system. Otherwise the
    activations of a large CPU forward batch are unmapped when freed and page-faulted
    back in on the next pass: at 10,000 rows of a 64-wide MLP, 1,200-3,000 faults per
    pass made the forward 1.6-3x slower, in some processes and not others. Process-wide
    and once; returns whether it applied (False where the C library is not glibc)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def clopper_pearson_lower(k, n, alpha):
    """One-sided (1 - alpha) Clopper-Pearson lower bound of a binomial proportion."""
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    _check_counts(k, n, alpha)
    with np.errstate(invalid="ignore"):
        return np.where(k > 0, beta.ppf(alpha, k, n - k + 1), 0.0)


def clopper_pearson_upper(k, n, alpha):
    """One-sided (1 - alpha) Clopper-Pearson upper bound of a binomial proportion."""
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    _check_counts(k, n, alpha)
    with np.errstate(invalid="ignore"):
        return np.where(k < n, beta.ppf(1 - alpha, k + 1, n - k), 1.0)


def _check_counts(k, n, alpha):
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha = {alpha!r} must be in (0, 1)")
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("counts must satisfy 0 <= k <= n and n >= 1")


class Smooth:
    """Smoothed classifier g(x) = argmax_c P(f(x + sigma(x) e) = c), e ~ N(0, I).

    base_classifier: a torch.nn.Module returning (batch, num_classes) scores.
    sigma: a float (constant sigma, Cohen) or a callable mapping a batch of inputs
    to their sigmas (e.g. idrs_fast.sigma.KnnSigma); rate: its semi-elasticity r
    (0 for a constant sigma), used by the IDRS radius (Theorem 3.2).
    retain_memory: on the CPU, call retain_freed_memory() before the first forward
    pass (process-wide glibc setting); False leaves the allocator alone."""

    def __init__(self, base_classifier, num_classes, sigma, rate=0.0, retain_memory=True):
        if num_classes < 2:
            raise ValueError(f"num_classes = {num_classes!r} must be at least 2")
        self.base_classifier = base_classifier
        self.num_classes = num_classes
        self.sigma = sigma
        self.rate = float(rate)
        self.retain_memory = retain_memory

    @property
    def device(self):
        parameter = next(self.base_classifier.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def sigmas(self, x):
        """sigma of every input, checked: one positive finite value per input."""
        x = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        if x.ndim < 2:
            raise ValueError(f"x has shape {tuple(x.shape)}: expected a batch (inputs, ...)")
        if callable(self.sigma):
            sigma = torch.as_tensor(self.sigma(x), dtype=torch.float32, device=self.device)
        else:
            sigma = torch.full((x.shape[0],), float(self.sigma), device=self.device)
        if sigma.shape != (x.shape[0],):
            raise ValueError(f"sigma returned shape {tuple(sigma.shape)} for {x.shape[0]} inputs")
        if not bool(torch.all(torch.isfinite(sigma) & (sigma > 0))):
            raise ValueError("sigma must be finite and > 0 for every input")
        return sigma

    def counts(self, x, sigma, num, seeds, batch_size):
        """(inputs, classes) counts of f(x + sigma e) over `num` samples per input;
        seeds: one integer per input."""
        x = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        if num < 1:
            raise ValueError(f"number of samples = {num!r} must be >= 1")
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size!r} must be >= 1")
        counts = torch.zeros(x.shape[0] * self.num_classes, dtype=torch.long, device=self.device)
        self.base_classifier.eval()
        with torch.no_grad():
            if self.device.type == "cpu":
                if self.retain_memory:
                    retain_freed_memory()
                self._cpu_counts(x, sigma, num, seeds, batch_size, counts)
            else:
                self._device_counts(x, sigma, num, seeds, batch_size, counts)
        return counts.view(x.shape[0], self.num_classes)

    def _scores(self, noisy, shape):
        """The base classifier's scores of a batch of noisy inputs, shape-checked."""
        scores = self.base_classifier(noisy.view((noisy.shape[0],) + tuple(shape)))
        if scores.ndim != 2 or scores.shape[1] != self.num_classes:
            raise ValueError(f"the base classifier returned shape {tuple(scores.shape)}, "
                             f"expected (batch, {self.num_classes})")
        return scores

    def _cpu_counts(self, x, sigma, num, seeds, batch_size, counts):
        """counts() on the CPU: the input-major list of (input, sample) rows is cut into
        forward batches; each is filled in one pass by _noise.add_noise and its top
        classes counted in one pass by _counting.count_top_classes."""
        flat_x = np.ascontiguousarray(x.reshape(x.shape[0], -1).numpy())
        scale = np.ascontiguousarray(sigma.numpy(), dtype=np.float32)
        keys = input_keys(seeds)
        total = x.shape[0] * num
        noisy = torch.empty((min(batch_size, total), flat_x.shape[1]))
        owner = np.empty(noisy.shape[0], dtype=np.int64)
        flat_top = np.empty_like(owner)
        for first in range(0, total, batch_size):
            rows = min(batch_size, total - first)
            add_noise(noisy[:rows].numpy(), owner[:rows], flat_x, scale, keys, num, first)
            scores = self._scores(noisy[:rows], x.shape[1:])
            if scores.dtype not in (torch.float32, torch.float64):
                scores = scores.float()
            count_top_classes(scores.contiguous().numpy(), owner[:rows], counts.numpy(), flat_top)

    def _device_counts(self, x, sigma, num, seeds, batch_size, counts):
        """counts() on a GPU: torch's generator per input, in blocks of BLOCK draws
        packed into forward batches."""
        generators = []
        for seed in seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(int(seed))
            generators.append(g)
        blocks = [(i, min(BLOCK, num - start)) for i in range(x.shape[0])
                  for start in range(0, num, BLOCK)]
        flat_x = x.reshape(x.shape[0], -1)
        capacity = max(batch_size, BLOCK)
        noise = torch.empty((capacity, flat_x.shape[1]), device=self.device)
        owner = torch.empty(capacity, dtype=torch.long, device=self.device)
        position = 0
        while position < len(blocks):
            total = 0
            while position < len(blocks) and (total == 0 or total + blocks[position][1] <= batch_size):
                i, size = blocks[position]
                torch.randn((size, flat_x.shape[1]), generator=generators[i],
                            out=noise[total:total + size])
                owner[total:total + size] = i
                total += size
                position += 1
            who = owner[:total]
            noisy = torch.addcmul(flat_x[who], sigma[who, None], noise[:total])
            scores = self._scores(noisy, x.shape[1:])
            counts += torch.bincount(who * self.num_classes + scores.argmax(1), minlength=counts.numel())

    def predict(self, x, n, alpha, batch_size=10_000, seed=0, index=None):
        """Cohen's PREDICT: the top class, or ABSTAIN when the two-sided binomial test
        of top vs runner-up has p-value > alpha. Returns an int array."""
        x = torch.as_tensor(x, dtype=torch.float32)
        index = np.arange(x.shape[0]) if index is None else np.asarray(index)
        counts = self.counts(x, self.sigmas(x), n, _seeds(seed, index, 2), batch_size).cpu().numpy()
        top2 = np.argsort(-counts, axis=1, kind="stable")[:, :2]
        n_a = counts[np.arange(len(counts)), top2[:, 0]]
        n_b = counts[np.arange(len(counts)), top2[:, 1]]
        p_values = np.array([binomtest(a, a + b, 0.5).pvalue if a + b > 0 else 1.0
                             for a, b in zip(n_a, n_b)])
        return np.where(p_values > alpha, ABSTAIN, top2[:, 0])

    def certify(self, x, n0, n, alpha, dim=None, batch_size=10_000, seed=0, index=None,
                separate_pb=False):
        """Cohen's CERTIFY for a batch of inputs: n0 samples select the class, n
        samples bound pA below at confidence 1 - alpha (Clopper-Pearson), and the
        radius is Theorem 3.2's (rate > 0) or Cohen's. Returns a dict of arrays:
        predict (ABSTAIN where pA <= 1/2), radius, pA, pB, sigma."""
        x = torch.as_tensor(x, dtype=torch.float32)
        if n0 < 1 or n < 1:
            raise ValueError(f"n0 = {n0!r} and n = {n!r} must both be >= 1")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha = {alpha!r} must be in (0, 1)")
        index = np.arange(x.shape[0]) if index is None else np.asarray(index)
        dim = int(np.prod(x.shape[1:])) if dim is None else dim
        sigma = self.sigmas(x)
        selection = self.counts(x, sigma, n0, _seeds(seed, index, 0), batch_size)
        guess = selection.argmax(1)
        estimation = self.counts(x, sigma, n, _seeds(seed, index, 1), batch_size)
        n_a = estimation.gather(1, guess[:, None])[:, 0].cpu().numpy()
        p_a = clopper_pearson_lower(n_a, n, alpha)
        if separate_pb:
            masked = estimation.clone()
            masked.scatter_(1, guess[:, None], -1)
            p_b = clopper_pearson_upper(masked.max(1).values.cpu().numpy(), n, alpha)
        else:
            p_b = 1.0 - p_a
        sigma = sigma.cpu().numpy().astype(np.float64)
        pb_arg = p_b if separate_pb else None
        if self.rate > 0:
            radius = certified_radius(p_a, sigma, self.rate, dim, pB=pb_arg)
        else:
            radius = cohen_radius(p_a, sigma, pB=pb_arg)
        predict = np.where((p_a > 0.5) & (p_a > p_b), guess.cpu().numpy(), ABSTAIN)
        return dict(predict=predict, radius=np.where(radius > 0, radius, 0.0), pA=p_a, pB=p_b,
                    sigma=sigma)


def _seeds(seed, index, stage):
    """One generator seed per (run seed, input index, stage)."""
    return [(int(seed) * 1_000_003 + int(i)) * 4 + stage for i in index]
