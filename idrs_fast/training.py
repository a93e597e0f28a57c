"""Training with Gaussian noise augmentation (Cohen et al.; Appendix E.4): each
example is perturbed by sigma(x) e, e ~ N(0, I), with a constant sigma or an
input-dependent one (e.g. KnnSigma at its own training rate)."""
import numpy as np
import torch
from torch import nn


def mlp(inputs, classes, width=20, depth=3):
    """The paper's toy model: `depth` ReLU layers of `width` units."""
    layers, size = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, classes))


def train(model, x, y, sigma, epochs=30, batch_size=64, lr=1e-2, seed=0, progress=None):
    """Adam on cross-entropy of noisy copies of (x, y); sigma: float or callable."""
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    if callable(sigma):
        per_example = torch.as_tensor(sigma(x), dtype=torch.float32)
    else:
        per_example = torch.full((x.shape[0],), float(sigma))
    shape = (-1,) + (1,) * (x.ndim - 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(x.shape[0])
        for start in range(0, x.shape[0], batch_size):
            batch = order[start:start + batch_size]
            noisy = x[batch] + per_example[batch].view(shape) * torch.randn_like(x[batch])
            optimiser.zero_grad()
            loss = loss_fn(model(noisy), y[batch])
            loss.backward()
            optimiser.step()
        if progress is not None:
            progress(epoch + 1, epochs, float(loss))
    model.eval()
    return model
