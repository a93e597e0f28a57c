"""DDRS (Alfarra et al., UAI 2022) as a comparator: a per-input sigma chosen by
gradient ascent, certified with Cohen's formula at that sigma, and the later
memory-based repair. These certificates are NOT sound (the IDRS paper, Appendix C;
idrs_fast.audit finds the ones that do not stand): nothing bounds how fast the
optimised sigma changes between nearby inputs.

optimize_sigma is Algorithm 1 of the paper's Appendix C (OPTIMIZESIGMA(F, x, beta,
sigma0, M, K)): for k = 0..K-1, draw M noise samples, phi = mean softmax of the base
classifier over x + sigma_k delta, E_A = max phi, E_B = the runner-up, both clamped,
R = sigma_k / 2 (Phi^-1(E_A) - Phi^-1(E_B)), sigma_{k+1} = sigma_k + beta dR/dsigma.
"""
import numpy as np
import torch

from .sources import model_fingerprint

#: their training-time clamp, and their pip package's
CLAMP_PAPER, CLAMP_PACKAGE = (0.02, 0.98), (0.001, 0.999)


def optimize_sigma(model, x, sigma0=0.12, samples=100, iterations=100, step=1e-4,
                   clamp=CLAMP_PAPER, seed=0, floor=1e-3, inputs_per_pass=None):
    """The DDRS sigma of every input of the batch x (a tensor on the model's
    device): `iterations` gradient-ascent steps of size `step` from sigma0, each with
    `samples` fresh noise draws per input (torch generator seeded with `seed`, so the
    result is deterministic), the expectations clamped to `clamp`, sigma kept >=
    floor. Many inputs per forward pass (inputs_per_pass, default all)."""
    if not (samples >= 1 and iterations >= 0 and step > 0 and sigma0 > 0 and floor > 0):
        raise ValueError(f"need samples >= 1, iterations >= 0, step > 0, sigma0 > 0, floor > 0 "
                         f"(got {samples}, {iterations}, {step}, {sigma0}, {floor})")
    low, high = clamp
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"clamp = {clamp!r} must be (low, high) with 0 < low < high < 1")
    x = torch.as_tensor(x)
    parameter = next(model.parameters(), None)
    device = x.device if parameter is None else parameter.device
    x = x.to(device=device, dtype=torch.float32)
    if x.ndim < 2 or x.shape[0] == 0 or not bool(torch.isfinite(x).all()):
        raise ValueError(f"x must be a non-empty batch of finite inputs, got shape {tuple(x.shape)}")
    per = x.shape[0] if inputs_per_pass is None else int(inputs_per_pass)
    out = torch.empty(x.shape[0], device=device)
    model.eval()
    for start in range(0, x.shape[0], per):
        out[start:start + per] = _ascend(model, x[start:start + per], sigma0, samples, iterations,
                                         step, low, high, seed + start, floor)
    return out


def _ascend(model, x, sigma0, samples, iterations, step, low, high, seed, floor):
    generator = torch.Generator(device=x.device).manual_seed(seed)
    sigma = torch.full((x.shape[0],), float(sigma0), device=x.device)
    shape = (x.shape[0], samples) + tuple(x.shape[1:])
    broadcast = (x.shape[0], 1) + (1,) * (x.ndim - 1)
    for _ in range(iterations):
        sigma = sigma.detach().requires_grad_(True)
        noise = torch.randn(shape, generator=generator, device=x.device)
        noisy = x[:, None] + sigma.view(broadcast) * noise
        probabilities = torch.softmax(model(noisy.reshape((-1,) + tuple(x.shape[1:]))), dim=1)
        phi = probabilities.view(x.shape[0], samples, -1).mean(1)
        top2 = torch.topk(phi, 2, dim=1).values.clamp(low, high)
        radius = sigma / 2 * (torch.special.ndtri(top2[:, 0]) - torch.special.ndtri(top2[:, 1]))
        gradient, = torch.autograd.grad(radius.sum(), sigma)
        sigma = (sigma + step * gradient).clamp_min(floor)
    return sigma.detach()


class DdrsSigma:
    """DDRS's per-input sigma as a sigma provider for Smooth / certify_dataset. Its
    rate is 0 so the radius is Cohen's formula at that sigma: NOT a certificate
    (`sound` is False and identity() says so in the log)."""
    rate = 0.0
    sound = False

    def __init__(self, model, sigma0=0.12, samples=100, iterations=100, step=1e-4,
                 clamp=CLAMP_PAPER, seed=0, floor=1e-3):
        self.model = model
        self.params = dict(sigma0=sigma0, samples=samples, iterations=iterations, step=step,
                           clamp=tuple(clamp), seed=seed, floor=floor)

    def __call__(self, x):
        return optimize_sigma(self.model, x, **self.params)

    def identity(self):
        return dict(kind="DdrsSigma", model=model_fingerprint(self.model), **self.params,
                    certificate="Cohen's formula at the DDRS sigma: not sound")


def memory_certify(x, sigma, predict, radius, order=None):
    """The memory-based repair (DDRS's later version), from the paper: inputs in
    `order` (default 0, 1, ...); every certified ball (centre, radius, class) is kept;
    a new input inside a kept ball of another class abstains, and a new ball that
    reaches into one is shrunk to the distance to that ball. Returns (predict, radius)
    after the repair. x: (inputs, ...) array; sigma is kept for the record only."""
    x = np.asarray(x, dtype=np.float64).reshape(len(predict), -1)
    predict, radius = np.array(predict), np.array(radius, dtype=np.float64)
    order = np.arange(len(predict)) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(len(predict))):
        raise ValueError("order must be a permutation of the inputs")
    kept = []
    for i in order:
        if predict[i] < 0 or radius[i] <= 0:
            continue
        if kept:
            others = np.array([j for j in kept if predict[j] != predict[i]], dtype=np.int64)
            if others.size:
                gap = np.linalg.norm(x[others] - x[i], axis=1) - radius[others]
                if np.any(gap <= 0):                # inside a ball of another class
                    predict[i], radius[i] = -1, 0.0
                    continue
                radius[i] = min(radius[i], float(gap.min()))
        kept.append(i)
    return predict, radius


def order_dependence(x, sigma, predict, radius, labels, radii, orders=20, seed=0):
    """Certified accuracy at `radii` after memory_certify under `orders` random orders:
    (mean, min, max) per radius (how much the repair depends on the order)."""
    rng = np.random.default_rng(seed)
    accuracy = []
    for _ in range(orders):
        p, r = memory_certify(x, sigma, predict, radius, rng.permutation(len(predict)))
        accuracy.append([np.mean((p == labels) & (r >= t)) for t in radii])
    accuracy = np.array(accuracy)
    return accuracy.mean(0), accuracy.min(0), accuracy.max(0)

