"""Model and data factories that tests/test_scaleout.py names as module:callable (as a
user names theirs on the command line); importable on Ray workers through
PYTHONPATH."""
import torch

DIM, CLASSES = 12, 3


def mlp():
    """The same weights on every call (a factory must be deterministic)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(DIM, 16), torch.nn.ReLU(), torch.nn.Linear(16, CLASSES))


def random_mlp():
    """Other weights on every call: workers would certify another model."""
    return torch.nn.Sequential(torch.nn.Linear(DIM, 16), torch.nn.ReLU(), torch.nn.Linear(16, CLASSES))


def broken():
    raise RuntimeError("weights file /nowhere/model.pt not found")


def dataset():
    """A torch Dataset of (input, label) pairs."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(30, DIM, generator=generator)
    return torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long())
