"""The variance function of the paper, Equation 1 (Theorem 4.1: r-semi-elastic):

    sigma(x) = sigma_b * exp(rate * (mean distance to the k nearest training points - m)),

optionally capped at `cap` * sigma_b (Appendix A.5). Distances are computed in
chunks with one matmul per chunk (|x|^2 + |t|^2 - 2 x.t), so memory stays
O(chunk x train), on whatever device the training tensor lives.
"""
import hashlib
import math

import torch


def knn_mean_distance(x, train, k, chunk=1024, exclude_self=False):
    """Mean distance of each row of x to its k nearest rows of `train`."""
    if x.ndim != 2 or train.ndim != 2 or x.shape[1] != train.shape[1]:
        raise ValueError(f"x {tuple(x.shape)} and train {tuple(train.shape)} must be "
                         "(rows, features) with the same number of features")
    extra = 1 if exclude_self else 0
    if not 1 <= k <= train.shape[0] - extra:
        raise ValueError(f"k = {k} must be in [1, {train.shape[0] - extra}]")
    train_sq = (train * train).sum(1)
    out = []
    for start in range(0, x.shape[0], chunk):
        block = x[start:start + chunk]
        sq = (block * block).sum(1)[:, None] + train_sq[None, :] - 2.0 * block @ train.T
        nearest = torch.topk(sq.clamp_min_(0.0), k + extra, dim=1, largest=False).values
        out.append(nearest[:, extra:].sqrt().mean(1))
    return torch.cat(out)


class KnnSigma:
    """sigma(x) of Equation 1, fitted on training points.

    m: a number, or "min" / "mean" of the training points' own kNN mean distance
    (Appendix E.1). rate = 0 gives the constant sigma_b."""

    def __init__(self, train, sigma_b, rate, k=20, m="mean", cap=None, chunk=1024):
        if not (math.isfinite(sigma_b) and sigma_b > 0):
            raise ValueError(f"sigma_b = {sigma_b!r} must be finite and > 0")
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(f"rate = {rate!r} must be finite and >= 0")
        if cap is not None and not (math.isfinite(cap) and cap > 0):
            raise ValueError(f"cap = {cap!r} must be None or finite and > 0")
        self.train = torch.as_tensor(train, dtype=torch.float32).flatten(1)
        if not bool(torch.isfinite(self.train).all()):
            raise ValueError("the training points hold NaN or inf")
        self.sigma_b, self.rate, self.k, self.cap, self.chunk = sigma_b, rate, k, cap, chunk
        if isinstance(m, str):
            own = knn_mean_distance(self.train, self.train, k, chunk, exclude_self=True)
            if m not in ("min", "mean"):
                raise ValueError(f"m = {m!r} must be a number, 'min' or 'mean'")
            m = float(own.min() if m == "min" else own.mean())
        self.m = float(m)

    def identity(self):
        """Everything sigma(x) depends on, for a log's settings line."""
        digest = hashlib.sha256(self.train.detach().cpu().contiguous().numpy().tobytes())
        return dict(kind="KnnSigma", sigma_b=self.sigma_b, rate=self.rate, k=self.k, m=self.m,
                    cap=self.cap, train=digest.hexdigest()[:16])

    def __call__(self, x):
        x = torch.as_tensor(x, dtype=torch.float32, device=self.train.device).flatten(1)
        if self.rate == 0:
            return torch.full((x.shape[0],), self.sigma_b, device=x.device)
        distance = knn_mean_distance(x, self.train, self.k, self.chunk)
        sigma = self.sigma_b * torch.exp(self.rate * (distance - self.m))
        if self.cap is not None:
            sigma = sigma.clamp_max(self.cap * self.sigma_b)
        return sigma
