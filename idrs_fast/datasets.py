"""Data sets of the paper's experiments that need no download (its Appendix A).

Each returns float32 arrays (x_train, y_train, x_test, y_test); any user arrays or
torch datasets of the same shape work everywhere else.
"""
import numpy as np


def toy_2d(n_train=500, n_test=100, seed=0):
    """Appendix A.1: two classes in circle sectors, polar angle uniform in the
    sector, radius sqrt of a chi-square; class 1 lives in a sharp (narrow) sector."""
    rng = np.random.default_rng(seed)

    def sample(n, cls):
        if cls == 0:
            angle = rng.uniform(0.25 * np.pi, 1.75 * np.pi, n)       # wide sector
            radius = np.sqrt(rng.chisquare(4, n))
        else:
            angle = rng.uniform(-0.15 * np.pi, 0.15 * np.pi, n)      # sharp sector
            radius = np.sqrt(rng.chisquare(8, n))
        return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)

    def split(n):
        x = np.concatenate([sample(n, 0), sample(n, 1)]).astype(np.float32)
        y = np.repeat(np.arange(2), n)
        order = rng.permutation(2 * n)
        return x[order], y[order]

    return (*split(n_train), *split(n_test))


def cone(dim, n_train=500, n_test=100, angle=0.3, seed=0):
    """Appendix A.5: a narrow cone class (directions within `angle` radians of the
    first axis) vs a spherically symmetric Gaussian class, in `dim` dimensions."""
    if dim < 2:
        raise ValueError(f"dim = {dim!r} must be at least 2")
    rng = np.random.default_rng(seed)

    def sample_cone(n):
        tilt = rng.uniform(0, angle, n)
        side = rng.normal(size=(n, dim - 1))
        side /= np.linalg.norm(side, axis=1, keepdims=True)
        length = np.sqrt(rng.chisquare(dim, n))
        return length[:, None] * np.concatenate(
            [np.cos(tilt)[:, None], np.sin(tilt)[:, None] * side], 1)

    def split(n):
        x = np.concatenate([sample_cone(n), rng.normal(size=(n, dim))]).astype(np.float32)
        y = np.repeat(np.arange(2), n)
        order = rng.permutation(2 * n)
        return x[order], y[order]

    return (*split(n_train), *split(n_test))


def digits(test_fraction=0.25, seed=0):
    """scikit-learn's shipped handwritten digits: 1797 images of 8 x 8 = 64 pixels,
    scaled to [0, 1], 10 classes, a stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=test_fraction, random_state=seed, stratify=data.target)
    return x_train, y_train, x_test, y_test
