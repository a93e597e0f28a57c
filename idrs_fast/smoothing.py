"""Monte-Carlo smoothing of a PyTorch classifier (Cohen et al.'s `Smooth`, with an
input-dependent sigma and whole batches of inputs per forward pass).

Noise is a deterministic function of (seed, input index, stage, sample, coordinate):
the counter-based generator of kernels/noise.py, drawn and added in one pass, by
_noise.py on the CPU and by _cuda.py straight into the torch batch on a GPU, from the
same source and to the same bits; each (seed, input index, stage) has its own stream
key (_noise.stream_keys). So results do not depend on the batch size, on which inputs
share a batch or on the device, and a resumed run draws exactly what an
uninterrupted one would, on either device. Votes are counted where the scores are.
"""
import ctypes
import functools
import platform
import warnings

import numpy as np
import torch
from scipy.stats import beta, binomtest

from ._counting import count_top_classes
from ._noise import add_noise, stream_keys
from .radius import certified_radius, cohen_radius

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

    base_classifier: a torch.nn.Module returning (batch, num_classes) scores; inputs
    are handed to it in its parameters' floating dtype (float32 if it has none).
    sigma: a float (constant sigma, Cohen: semi-elasticity 0) or a callable mapping a
    batch of inputs to their sigmas. The radius needs sigma's semi-elasticity r
    (Theorem 3.2): a callable carries it as its `rate` attribute (KnnSigma does);
    `rate` states it for a callable without one, and must agree with the provider's
    where the provider knows it (ValueError otherwise).
    retain_memory: on the CPU, call retain_freed_memory() before the first forward
    pass (process-wide glibc setting); False leaves the allocator alone."""

    def __init__(self, base_classifier, num_classes, sigma, rate=None, retain_memory=True):
        if not (isinstance(num_classes, (int, np.integer)) and num_classes >= 2):
            raise ValueError(f"num_classes = {num_classes!r} must be an integer >= 2")
        self.base_classifier = base_classifier
        self.num_classes = int(num_classes)
        self.sigma = sigma
        self.rate = _semi_elasticity(sigma, rate)
        self.retain_memory = retain_memory
        self.sound = bool(getattr(sigma, "sound", True))
        if not self.sound:
            warnings.warn(f"{type(sigma).__name__} chooses sigma per input with no bound on its "
                          "semi-elasticity: the radii are Cohen's formula at that sigma, NOT "
                          "certificates (result['sound'] is False)", UserWarning, stacklevel=2)

    @property
    def device(self):
        parameter = next(self.base_classifier.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    @property
    def dtype(self):
        """The floating dtype of the model's parameters (float32 if none)."""
        for parameter in self.base_classifier.parameters():
            if parameter.is_floating_point():
                return parameter.dtype
        return torch.float32

    def sigmas(self, x):
        """sigma of every input, checked: one positive finite value per input."""
        x = _batch(x)
        if callable(self.sigma):
            sigma = torch.as_tensor(self.sigma(x.to(self.device)), dtype=torch.float32,
                                    device=self.device)
        else:
            sigma = torch.full((x.shape[0],), float(self.sigma), device=self.device)
        if sigma.shape != (x.shape[0],):
            raise ValueError(f"sigma returned shape {tuple(sigma.shape)} for {x.shape[0]} inputs")
        if not bool(torch.all(torch.isfinite(sigma) & (sigma > 0))):
            raise ValueError("sigma must be finite and > 0 for every input")
        return sigma

    def counts(self, x, sigma, num, keys, batch_size):
        """(counts (inputs, classes), non-finite (inputs,)) of f(x + sigma e) over
        `num` samples per input: the top class of every sample, and how many samples
        got a NaN or infinite score (they vote for no class). keys: one noise stream
        per input (_noise.stream_keys)."""
        x = _batch(x)
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.shape != (x.shape[0],) or tuple(sigma.shape) != (x.shape[0],):
            raise ValueError(f"{x.shape[0]} inputs need as many keys and sigmas, got "
                             f"{keys.shape} and {tuple(sigma.shape)}")
        if not (isinstance(num, (int, np.integer)) and num >= 1):
            raise ValueError(f"number of samples = {num!r} must be an integer >= 1")
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"batch_size = {batch_size!r} must be an integer >= 1")
        width = self.num_classes + 1                     # last column: no vote
        counts = torch.zeros(x.shape[0] * width, dtype=torch.long, device=self.device)
        self.base_classifier.eval()
        with torch.no_grad():
            if self.device.type == "cpu":
                if self.retain_memory:
                    retain_freed_memory()
                self._cpu_counts(x, sigma.cpu(), num, keys, batch_size, counts)
            else:
                self._device_counts(x.to(self.device), sigma.to(self.device), num, keys,
                                    batch_size, counts)
        counts = counts.view(x.shape[0], width)
        return counts[:, :-1], counts[:, -1]

    def _scores(self, noisy, shape):
        """The base classifier's scores of a batch of noisy inputs, shape-checked."""
        scores = self.base_classifier(noisy.view((noisy.shape[0],) + tuple(shape)).to(self.dtype))
        if scores.ndim != 2 or scores.shape[1] != self.num_classes:
            raise ValueError(f"the base classifier returned shape {tuple(scores.shape)}, "
                             f"expected (batch, {self.num_classes})")
        return scores

    def _cpu_counts(self, x, sigma, num, keys, batch_size, counts):
        """counts() on the CPU: the input-major list of (input, sample) rows is cut into
        forward batches; each is filled in one pass by _noise.add_noise and its top
        classes counted in one pass by _counting.count_top_classes."""
        flat_x = np.ascontiguousarray(x.reshape(x.shape[0], -1).numpy())
        scale = np.ascontiguousarray(sigma.numpy(), dtype=np.float32)
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

    def _device_counts(self, x, sigma, num, keys, batch_size, counts):
        """counts() on a GPU: as _cpu_counts, with _cuda.add_noise writing each forward
        batch and _cuda.count_top_classes tallying its votes, on torch's current stream."""
        from . import _cuda
        flat_x = x.reshape(x.shape[0], -1).to(torch.float32).contiguous()
        scale = sigma.to(torch.float32).contiguous()
        stream_keys_ = torch.from_numpy(np.ascontiguousarray(keys, dtype=np.uint64).view(np.int64)).to(x.device)
        total = x.shape[0] * num
        noisy = torch.empty((min(batch_size, total), flat_x.shape[1]), device=x.device)
        for first in range(0, total, batch_size):
            rows = min(batch_size, total - first)
            _cuda.add_noise(noisy[:rows], flat_x, scale, stream_keys_, num, first)
            scores = self._scores(noisy[:rows], x.shape[1:])
            if scores.dtype not in (torch.float32, torch.float64):
                scores = scores.float()
            _cuda.count_top_classes(scores.contiguous(), counts, num, first)

    def _stage_counts(self, x, sigma, num, seed, index, stage, batch_size):
        """counts() for one stage of CERTIFY / PREDICT; ValueError where most samples
        of an input got non-finite scores (a broken model is not certified)."""
        counts, nonfinite = self.counts(x, sigma, num, stream_keys(seed, index, stage), batch_size)
        nonfinite = nonfinite.cpu().numpy()
        broken = np.flatnonzero(2 * nonfinite > num)
        if broken.size:
            i = broken[0]
            raise ValueError(f"the base classifier returned NaN or inf scores for "
                             f"{nonfinite[i]} of {num} samples of input {int(index[i])} "
                             f"({broken.size} such input(s))")
        return counts, nonfinite

    def predict(self, x, n, alpha, batch_size=10_000, seed=0, index=None):
        """Cohen's PREDICT: the top class, or ABSTAIN when the two-sided binomial test
        of top vs runner-up has p-value > alpha. Returns an int array."""
        _check_alpha(alpha)
        x = _batch(x)
        index = _index(index, x)
        counts, nonfinite = self._stage_counts(x, self.sigmas(x), n, seed, index, 2, batch_size)
        counts = counts.cpu().numpy()
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
        radius is Theorem 3.2's (rate > 0) or Cohen's. With separate_pb, the lower
        bound of pA and the upper bound of pB (Appendix B.5) are each taken at
        1 - alpha/2, so that both hold together with probability >= 1 - alpha
        (Bonferroni). A sample whose scores are not finite votes for no class.
        x: a batch of finite inputs; index: each input's index in its data set (its
        noise stream), default 0, 1, ...; seed: the run's seed.
        Returns a dict of arrays: predict (ABSTAIN where pA <= 1/2), radius, pA, pB,
        sigma, nonfinite (samples without a vote, both stages), sound (False for a sigma
        provider that is not semi-elastic, e.g. ddrs.DdrsSigma: no certificates)."""
        if not (isinstance(n0, (int, np.integer)) and isinstance(n, (int, np.integer))
                and n0 >= 1 and n >= 1):
            raise ValueError(f"n0 = {n0!r} and n = {n!r} must both be integers >= 1")
        _check_alpha(alpha)
        x = _batch(x)
        index = _index(index, x)
        dim = int(np.prod(x.shape[1:])) if dim is None else dim
        sigma = self.sigmas(x)
        selection, lost0 = self._stage_counts(x, sigma, n0, seed, index, 0, batch_size)
        guess = selection.argmax(1)
        estimation, lost1 = self._stage_counts(x, sigma, n, seed, index, 1, batch_size)
        n_a = estimation.gather(1, guess[:, None])[:, 0].cpu().numpy()
        level = alpha / 2 if separate_pb else alpha
        p_a = clopper_pearson_lower(n_a, n, level)
        if separate_pb:
            masked = estimation.clone()
            masked.scatter_(1, guess[:, None], -1)
            p_b = clopper_pearson_upper(masked.max(1).values.cpu().numpy(), n, level)
        else:
            p_b = 1.0 - p_a
        sigma = sigma.cpu().numpy().astype(np.float64)
        pb_arg = p_b if separate_pb else None
        if self.rate > 0:
            radius = certified_radius(p_a, sigma, self.rate, dim, pB=pb_arg)
        else:
            radius = cohen_radius(p_a, sigma, pB=pb_arg)
        predict = np.where((p_a > 0.5) & (p_a > p_b), guess.cpu().numpy(), ABSTAIN)
        return dict(predict=predict, radius=np.where((predict != ABSTAIN) & (radius > 0), radius, 0.0), pA=p_a,
                    pB=p_b, sigma=sigma, nonfinite=lost0 + lost1, sound=self.sound)


def _semi_elasticity(sigma, rate):
    """The rate the radius uses: the sigma provider's own (0 for a constant sigma, the
    `rate` attribute of a callable), checked against a stated `rate`."""
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
            raise ValueError(f"rate = {rate!r} must be a number")
        rate = float(rate)
        if not (np.isfinite(rate) and rate >= 0.0):
            raise ValueError(f"rate = {rate!r} must be finite and >= 0 (the semi-elasticity of sigma)")
    if callable(sigma):
        own = getattr(sigma, "rate", None)
        if own is None:
            if rate is None:
                raise ValueError("sigma is a function without a `rate` attribute: state its "
                                 "semi-elasticity with rate= (Theorem 3.2 needs it)")
            return rate
        own = float(own)
    else:
        own = 0.0                           # a constant sigma
    if rate is not None and rate != own:
        raise ValueError(f"rate = {rate!r} disagrees with the sigma provider's semi-elasticity "
                         f"{own!r}")
    return own


def _check_alpha(alpha):
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha = {alpha!r} must be in (0, 1)")


def _batch(x):
    """x as a float32 CPU tensor of at least one input, every coordinate finite."""
    x = torch.as_tensor(x).detach()
    if x.ndim < 2:
        raise ValueError(f"x has shape {tuple(x.shape)}: expected a batch (inputs, ...)")
    if x.shape[0] == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}: the batch is empty")
    x = x.to(device="cpu", dtype=torch.float32)
    finite = torch.isfinite(x.reshape(x.shape[0], -1)).all(1)
    if not bool(finite.all()):
        bad = torch.nonzero(~finite)[:, 0]
        raise ValueError(f"x[{int(bad[0])}] has a NaN or infinite coordinate "
                         f"({bad.numel()} such input(s)): nothing is certified for it")
    return x


def _index(index, x):
    """Each input's index (its noise stream), one per input."""
    if index is None:
        return np.arange(x.shape[0])
    index = np.asarray(index)
    if index.shape != (x.shape[0],):
        raise ValueError(f"index has shape {index.shape}, expected ({x.shape[0]},): one per input")
    if index.dtype.kind not in "iu":
        raise ValueError(f"index must hold integers, got dtype {index.dtype}")
    return index


