"""The CPU noise generator (idrs_fast._noise) against the standard normal law
(scipy.stats.norm): fine equiprobable bins, the tails, moments and correlations; its
float32 log, sin and cos against numpy's; and its counter-based determinism."""
import numpy as np
import pytest
from scipy import stats

from idrs_fast._noise import add_noise, stream_keys
from idrs_fast.kernels.noise import MAX_RADIUS, log32, normal_pair


def draws(rows, size, seed=0, inputs=1, x=None, sigma=None):
    x = np.zeros((inputs, size), np.float32) if x is None else x
    sigma = np.ones(inputs, np.float32) if sigma is None else sigma
    out = np.empty((rows * inputs, size), np.float32)
    add_noise(out, np.empty(rows * inputs, np.int64), x, sigma, stream_keys(seed, np.arange(inputs), 1), rows, 0)
    return out


@pytest.fixture(scope="module")
def sample():
    return draws(50_000, 41).astype(np.float64)      # odd width: the unpaired last coordinate


def test_equiprobable_bins_match_the_normal_law(sample):
    z = sample.ravel()
    edges = stats.norm.ppf(np.linspace(0, 1, 1001))
    observed = np.histogram(z, edges)[0]
    assert stats.chisquare(observed).pvalue > 1e-4


@pytest.mark.parametrize("threshold", [2.0, 3.0, 4.0, 4.5])
def test_tail_frequencies(sample, threshold):
    z = sample.ravel()
    expected = z.size * stats.norm.sf(threshold)
    for count in (np.sum(z > threshold), np.sum(z < -threshold)):
        assert abs(count - expected) < 5 * np.sqrt(expected) + 1


def test_moments_and_correlations(sample):
    n = sample.size
    assert abs(sample.mean()) < 5 / np.sqrt(n)
    assert abs(sample.var() - 1) < 5 * np.sqrt(2 / n)
    rows = sample.shape[0]
    for a, b in ((sample[:, 0], sample[:, 20]),         # cosine and sine of one pair
                 (sample[:, 1], sample[:, 2]),          # neighbouring pairs
                 (sample[:-1, 5], sample[1:, 5]),       # consecutive samples
                 (sample[:, 40], sample[:, 0])):        # the unpaired coordinate
        assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(rows)
    # Box-Muller's two normals share a radius, yet are independent
    assert abs(np.corrcoef(sample[:, 0] ** 2, sample[:, 20] ** 2)[0, 1]) < 5 / np.sqrt(rows)
    assert np.abs(sample).max() <= MAX_RADIUS


def test_float32_log_sin_cos_match_numpy():
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.uniform(size=10_000), 2.0 ** -rng.uniform(0, 32, 10_000)]).astype(np.float32)
    exact = np.log(y.astype(np.float64))
    ours = np.array([log32(v) for v in y], dtype=np.float64)
    assert np.all(np.abs(ours - exact) <= 3e-7 * np.maximum(np.abs(exact), 1e-7) + 1e-30)
    low = rng.integers(0, 2**31, 5000).astype(np.int32)
    high = rng.integers(0, 2**24, 5000).astype(np.int32)
    pairs = np.array([normal_pair(a, b, np.float32(1.0)) for a, b in zip(low, high)], dtype=np.float64)
    # u = (low + 1/2) 2^-31 as the float32 the generator forms (its rounding near 1 is
    # the generator's quantization of the smallest radii, not an error of log)
    u = ((low.astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-31)).astype(np.float64)
    radius = np.sqrt(-2.0 * np.log(u))
    # a first-quadrant angle from 22 bits; bits 22 and 23 flip the signs of cos and sin
    theta = 0.5 * np.pi * (high & 0x3FFFFF).astype(np.float64) * 2.0**-22
    cos_sign, sin_sign = 1 - 2 * ((high >> 22) & 1), 1 - 2 * ((high >> 23) & 1)
    assert np.all(np.abs(pairs[:, 0] - cos_sign * radius * np.cos(theta)) <= 5e-7 * radius)
    assert np.all(np.abs(pairs[:, 1] - sin_sign * radius * np.sin(theta)) <= 5e-7 * radius)


@pytest.mark.parametrize("size", [1, 5, 64])
def test_rows_are_a_function_of_input_and_sample_number(size):
    """Any cut of the input-major row list into batches gives the same rows, bit for
    bit (a normal lands in a vector lane, a scalar remainder or a pair split across
    two rows depending on the cut)."""
    x = np.arange(3 * size, dtype=np.float32).reshape(3, size)
    sigma = np.array([0.5, 1.0, 2.0], np.float32)
    keys = stream_keys(0, [7, 8, 9], 1)
    whole = np.empty((3 * 40, size), np.float32)
    owner = np.empty(3 * 40, np.int64)
    add_noise(whole, owner, x, sigma, keys, 40, 0)
    np.testing.assert_array_equal(owner, np.repeat([0, 1, 2], 40))
    random_cuts = sorted(np.random.default_rng(size).choice(np.arange(1, 120), 6, replace=False))
    for cuts in ([0, 13, 14, 77, 120], [0, *random_cuts, 120]):
        pieces = np.empty_like(whole)
        for first, last in zip(cuts[:-1], cuts[1:]):
            add_noise(pieces[first:last], owner[first:last], x, sigma, keys, 40, first)
        np.testing.assert_array_equal(whole, pieces)
    noise = (whole - np.repeat(x, 40, 0)) / np.repeat(sigma, 40)[:, None]
    np.testing.assert_allclose(noise[40:80], _one(8, size), rtol=1e-5, atol=1e-5)
    assert not np.allclose(noise[:40], noise[40:80])


def _one(index, size):
    """The 40 draws of input `index` of seed 0, stage 1, on their own."""
    out = np.empty((40, size), np.float32)
    add_noise(out, np.empty(40, np.int64), np.zeros((1, size), np.float32), np.ones(1, np.float32),
              stream_keys(0, [index], 1), 40, 0)
    return out


def test_stream_keys_are_distinct_for_distinct_triples():
    """The old keys (seed * 1_000_003 + index) * 4 + stage collided (seed 1, input 0 =
    seed 0, input 1,000,003); packing into 64 bits and a bijective mix cannot."""
    assert stream_keys(1, [0], 0)[0] != stream_keys(0, [1_000_003], 0)[0]
    triples = [(s, i, t) for s in (0, 1, 2**32 - 1) for i in (0, 1, 1_000_003, 2**30 - 1)
               for t in range(4)]
    keys = {int(stream_keys(s, [i], t)[0]) for s, i, t in triples}
    assert len(keys) == len(triples)
    many = np.concatenate([stream_keys(s, np.arange(20_000), t) for s in range(3) for t in range(4)])
    assert np.unique(many).size == many.size


@pytest.mark.parametrize("seed, index, stage", [(-1, [0], 0), (2**32, [0], 0), (0, [-1], 0),
                                                (0, [2**30], 0), (0, [0], 4), (0.5, [0], 0)])
def test_stream_keys_refuse_what_they_cannot_keep_apart(seed, index, stage):
    with pytest.raises(ValueError):
        stream_keys(seed, index, stage)


def test_add_noise_refuses_inconsistent_arrays():
    """The compiled loop indexes without bounds checks: an index array or sigma of
    another length would read past the end."""
    x = np.zeros((3, 4), np.float32)
    out = np.empty((10, 4), np.float32)
    with pytest.raises(ValueError, match="inconsistent"):
        add_noise(out, np.empty(10, np.int64), x, np.ones(1, np.float32), stream_keys(0, [0], 1), 5, 0)
    with pytest.raises(ValueError, match="inconsistent"):      # rows past inputs * samples
        add_noise(out, np.empty(10, np.int64), x, np.ones(3, np.float32), stream_keys(0, [0, 1, 2], 1), 3, 0)
