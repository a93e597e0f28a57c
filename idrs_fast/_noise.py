"""Gaussian noise on the CPU, drawn and added in one pass: out = x + sigma(x) * e.

Counter-based, so every draw is a pure function of (input key, draw number): results
do not depend on the batch size, on which inputs share a batch, on the number of
threads or on where a killed run resumed.

- Bits: SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): draw t of an input is
  mix64(key + (t + 1) * GOLDEN), i.e. the t-th output of the SplitMix64 stream seeded
  with `key`. Each 64-bit output gives two 32-bit words.
- Normals: Marsaglia & Tsang's 256-layer ziggurat (J. Stat. Softw. 5(8), 2000) on one
  32-bit word (8 bits layer, 1 bit sign, 23 bits position), as numpy's float32
  normals. The rare rejections (~1.2%) take fresh words from a second stream.
- Noise for the GPU comes from torch's generators instead (smoothing.py).

Independence is needed only within one input (its samples must be i.i.d. for the
binomial bound); inputs get unrelated keys.
"""
import math

import numpy as np
from numba import njit, prange, uint64

GOLDEN = 0x9E3779B97F4A7C15       # SplitMix64's increment
REDRAW = 0xD1B54A32D192ED03       # separates the rejection stream from the main one
TAIL_START = 3.6541528853610088   # r of the 256-layer ziggurat
LAYER_AREA = 0.00492867323399     # v, the area of every layer
MAX_REDRAWS = 64                  # a rejection happens with probability < 0.02


def _ziggurat_tables(bits=23):
    """Marsaglia & Tsang's tables: accept position < k[i]; value position * w[i];
    f[i] = exp(-x_i^2 / 2) at the layer edges."""
    k = np.zeros(256, np.uint64)
    w = np.zeros(256)
    f = np.zeros(256)
    scale = 2.0 ** bits
    edge = previous = TAIL_START
    base = LAYER_AREA / math.exp(-0.5 * edge * edge)
    k[0] = int(edge / base * scale)
    w[0], w[255] = base / scale, edge / scale
    f[0], f[255] = 1.0, math.exp(-0.5 * edge * edge)
    for i in range(254, 0, -1):
        edge = math.sqrt(-2.0 * math.log(LAYER_AREA / edge + math.exp(-0.5 * edge * edge)))
        k[i + 1] = int(edge / previous * scale)
        previous = edge
        f[i] = math.exp(-0.5 * edge * edge)
        w[i] = edge / scale
    return k, w, f


ZIGGURAT_K, ZIGGURAT_W, ZIGGURAT_F = _ziggurat_tables()


@njit(inline="always")
def mix64(z):
    """SplitMix64's output function (a bijection of 64-bit words)."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(inline="always")
def _unit(z):
    """A uniform in (0, 1] from the top 53 bits of a word."""
    return float((z >> uint64(11)) + uint64(1)) * (1.0 / 9007199254740992.0)


@njit(inline="always")
def _decode(word, w):
    """A 32-bit word as (layer, position, sign, |x|): 8 bits of layer, 1 of sign,
    23 of position in the layer; |x| = position * w[layer]."""
    layer = word & uint64(0xFF)
    position = word >> uint64(9)
    sign = 1.0 - 2.0 * float((word >> uint64(8)) & uint64(1))
    return layer, position, sign, float(position) * w[layer]


@njit(cache=True)
def _ziggurat_rejected(word, stream, k, w, f):
    """The ziggurat's slow branch for a word that missed its layer's rectangle:
    the wedge test, or the tail beyond TAIL_START (Marsaglia's exponential method);
    failing that a fresh word, tried on its rectangle first. `stream` seeds the
    fresh randomness."""
    layer, position, sign, x = _decode(word, w)
    for _ in range(MAX_REDRAWS):
        stream = mix64(stream + uint64(REDRAW))
        if layer == 0:
            for _ in range(MAX_REDRAWS):
                tail = -math.log(_unit(mix64(stream))) / TAIL_START
                height = -math.log(_unit(mix64(stream + uint64(1))))
                stream = mix64(stream + uint64(2))
                if height + height > tail * tail:
                    return sign * (TAIL_START + tail)
        elif (f[layer - 1] - f[layer]) * _unit(stream) + f[layer] < math.exp(-0.5 * x * x):
            return sign * x
        stream = mix64(stream + uint64(REDRAW))
        layer, position, sign, x = _decode(stream & uint64(0xFFFFFFFF), w)
        if position < k[layer]:
            return sign * x
    return 0.0      # reached with probability < 0.02 ** 64


@njit(inline="always")
def _normal(word, stream, k, w, f):
    """A standard normal from a 32-bit word (fast path: the layer's rectangle)."""
    layer, position, sign, x = _decode(word, w)
    if position < k[layer]:
        return sign * x
    return _ziggurat_rejected(word, stream, k, w, f)


@njit(parallel=True, cache=True, nogil=True)
def _add_noise(out, owner, x, sigma, keys, samples, first, k, w, f):
    """Row r of out is x[i] + sigma[i] * e for global row g = first + r, input
    i = g // samples (written to owner[r]), sample g % samples; e's coordinates are
    draws of input i's stream numbered from (g % samples) * ceil(D / 2)."""
    rows, size = out.shape
    pairs = (size + 1) // 2
    for r in prange(rows):
        i = (first + r) // samples
        owner[r] = i
        draw = uint64(((first + r) % samples) * pairs)
        key = keys[i]
        scale = sigma[i]
        for p in range(pairs):
            stream = key + (draw + uint64(p + 1)) * uint64(GOLDEN)
            bits = mix64(stream)
            j = 2 * p
            out[r, j] = x[i, j] + scale * _normal(bits & uint64(0xFFFFFFFF), stream, k, w, f)
            if j + 1 < size:
                out[r, j + 1] = x[i, j + 1] + scale * _normal(
                    bits >> uint64(32), stream ^ uint64(REDRAW), k, w, f)


@njit(cache=True)
def _first_outputs(seeds):
    keys = np.empty_like(seeds)
    for i in range(seeds.size):
        keys[i] = mix64(seeds[i] + uint64(GOLDEN))
    return keys


def input_keys(seeds):
    """One stream key per integer seed: the first SplitMix64 output of the seed."""
    return _first_outputs(np.asarray(seeds, dtype=np.int64).view(np.uint64))


def add_noise(out, owner, x, sigma, keys, samples, first):
    """Fill out (rows, D) float32 with noisy copies of x (inputs, D) float32: rows
    first, first + 1, ... of the input-major list of `samples` draws per input;
    owner (rows,) int64 receives each row's input."""
    _add_noise(out, owner, x, sigma, keys, samples, first, ZIGGURAT_K, ZIGGURAT_W, ZIGGURAT_F)
