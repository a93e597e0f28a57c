"""The CPU noise generator (idrs_fast._noise) against the standard normal law
(scipy.stats.norm): fine equiprobable bins, the tails beyond the ziggurat's base
layer, moments and correlations; and its counter-based determinism."""
import numpy as np
import pytest
from scipy import stats

from idrs_fast._noise import TAIL_START, add_noise, input_keys


def draws(rows, size, seed=0, inputs=1, x=None, sigma=None):
    x = np.zeros((inputs, size), np.float32) if x is None else x
    sigma = np.ones(inputs, np.float32) if sigma is None else sigma
    out = np.empty((rows * inputs, size), np.float32)
    add_noise(out, np.empty(rows * inputs, np.int64), x, sigma, input_keys(np.arange(seed, seed + inputs)), rows, 0)
    return out


@pytest.fixture(scope="module")
def sample():
    return draws(50_000, 41).astype(np.float64)      # odd width: the unpaired last coordinate


def test_equiprobable_bins_match_the_normal_law(sample):
    z = sample.ravel()
    edges = stats.norm.ppf(np.linspace(0, 1, 1001))
    observed = np.histogram(z, edges)[0]
    assert stats.chisquare(observed).pvalue > 1e-4


@pytest.mark.parametrize("threshold", [2.0, TAIL_START, 4.0, 4.5])
def test_tail_frequencies(sample, threshold):
    """Both tails beyond the base layer's edge come from the ziggurat's slow branch."""
    z = sample.ravel()
    expected = z.size * stats.norm.sf(threshold)
    for count in (np.sum(z > threshold), np.sum(z < -threshold)):
        assert abs(count - expected) < 5 * np.sqrt(expected) + 1


def test_moments_and_correlations(sample):
    n = sample.size
    assert abs(sample.mean()) < 5 / np.sqrt(n)
    assert abs(sample.var() - 1) < 5 * np.sqrt(2 / n)
    rows = sample.shape[0]
    for a, b in ((sample[:, 0], sample[:, 1]),          # the two halves of one word
                 (sample[:, 1], sample[:, 2]),          # neighbouring words
                 (sample[:-1, 5], sample[1:, 5]),       # consecutive samples
                 (sample[:, 40], sample[:, 0])):        # the unpaired coordinate
        assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(rows)
    assert abs(np.corrcoef(sample[:, 0] ** 2, sample[:, 1] ** 2)[0, 1]) < 5 / np.sqrt(rows)


def test_rows_are_a_function_of_input_and_sample_number():
    """Any cut of the input-major row list into batches gives the same rows."""
    x = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)
    sigma = np.array([0.5, 1.0, 2.0], np.float32)
    keys = input_keys([7, 8, 9])
    whole = np.empty((3 * 40, 5), np.float32)
    owner = np.empty(3 * 40, np.int64)
    add_noise(whole, owner, x, sigma, keys, 40, 0)
    np.testing.assert_array_equal(owner, np.repeat([0, 1, 2], 40))
    pieces = np.empty_like(whole)
    for first, last in ((0, 13), (13, 14), (14, 77), (77, 120)):
        add_noise(pieces[first:last], owner[first:last], x, sigma, keys, 40, first)
    np.testing.assert_array_equal(whole, pieces)
    noise = (whole - np.repeat(x, 40, 0)) / np.repeat(sigma, 40)[:, None]
    np.testing.assert_allclose(noise[40:80], (draws(40, 5, seed=8) - 0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(noise[:40], noise[40:80])


def test_input_keys_differ_for_negative_and_large_seeds():
    keys = input_keys([-1, 0, 1, 2**62])
    assert len(set(keys.tolist())) == 4
