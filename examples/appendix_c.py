"""The IDRS paper's Appendix C counterexample to DDRS, runnable:

F = the indicator of the unit ball in N = 2 (class 1 inside, 0 outside). At x0 =
(50, 0) every noise sample lands outside, both expectations sit at their clamps, and
DDRS's objective sigma/2 (Phi^-1(E_A) - Phi^-1(E_B)) grows linearly in sigma: the
ascent drives sigma as far as K and beta allow (900 steps of 0.04: sigma ~ 74).
Cohen's formula at that sigma then "certifies" a radius of ~180 around x0, which
contains (0, 0): F, and the smoothed classifier at a small sigma, say class 1 there.
The audit refutes it both ways: contradicted (another prediction inside the ball)
and not justified (the exact xi of Theorem 2.2 for sigma1/sigma0 = 0.12/74 is ~1).

    python examples/appendix_c.py
"""
import numpy as np
import torch

from idrs_fast.audit import audit
from idrs_fast.ddrs import optimize_sigma
from idrs_fast.smoothing import Smooth


class UnitBall(torch.nn.Module):
    """Scores of F = 1[||x|| <= 1] (logits +-20: softmax 1 - 4e-18 for the class)."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))     # gives the model a device

    def forward(self, x):
        inside = (x.flatten(1).norm(dim=1) <= 1.0).float()
        return torch.stack([20.0 * (1 - inside), 20.0 * inside], 1)


def counterexample(n=10_000, alpha=0.001, seed=0):
    model = UnitBall()
    x = torch.tensor([[50.0, 0.0], [0.0, 0.0]])
    sigma0 = float(optimize_sigma(model, x[:1], sigma0=0.12, samples=100, iterations=900,
                                  step=0.04, seed=seed)[0])
    sigmas = [sigma0, 0.12]                   # x1 = (0, 0) at DDRS's starting sigma
    rows = []
    for i, s in enumerate(sigmas):
        result = Smooth(model, 2, s).certify(x[i:i + 1], 100, n, alpha, seed=seed, index=[i])
        rows.append((int(result["predict"][0]), float(result["radius"][0]), float(result["pA"][0])))
    predict, radius, p_a = (np.array(v) for v in zip(*rows))
    result = audit(x.numpy(), np.array(sigmas), predict, radius, p_a)
    return dict(sigma0=sigma0, predict=predict.tolist(), radius=radius.tolist(), pA=p_a.tolist(),
                audit=result)


if __name__ == "__main__":
    out = counterexample()
    print(f"DDRS sigma at x0 = (50, 0): {out['sigma0']:.2f}; Cohen radius there {out['radius'][0]:.1f} "
          f"(class {out['predict'][0]}); at (0, 0), sigma 0.12: class {out['predict'][1]}")
    for row in out["audit"]["refuted"]:
        print(f"refuted: x{row['x0']} -> x{row['x1']}, distance {row['distance']:.1f}, "
              f"xi = {row['xi']:.6f}, {row['grade']}: {row['reason']}")
