"""Gaussian noise on the CPU, drawn and added in one pass: out = x + sigma(x) * e.

Counter-based, so every draw is a pure function of (input key, draw number): results
do not depend on the batch size, on which inputs share a batch, on the number of
threads or on where a killed run resumed (a CPU with FMA and one without may differ
in a normal's last bit).

- Bits: SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): pair q of an input is made
  from mix64(key + (q + 1) * GOLDEN), i.e. the q-th output of the SplitMix64 stream
  seeded with `key`. Normal n of the input is half n % 2 (cosine, sine) of pair
  n // 2, and coordinate j of sample t is normal t * D + j.
- Normals: Box-Muller in float32, branch-free so that the compiler runs it 8 lanes
  wide (AVX2): the radius sqrt(-2 log u) from 31 bits, the angle from 24 bits (22
  for a first-quadrant angle, 2 sign flips), with polynomial log, sin and cos
  (relative error < 3e-7). u >= 2^-32, so a pair's radius
  never exceeds sqrt(64 log 2) = 6.66: this drops a probability of 2.3e-10 per pair
  (2.7e-11 per coordinate beyond 6.66 sd); u is a float32, so near u = 1 (the
  smallest radii) it moves in steps of 2^-24, a cdf error below 6e-8.
- Noise for the GPU comes from torch's generators instead (smoothing.py).

Independence is needed only within one input (its samples must be i.i.d. for the
binomial bound); every (seed, input, stage) gets its own key (stream_keys).
"""
import math

import numpy as np
from numba import njit, prange, uint64

GOLDEN = 0x9E3779B97F4A7C15       # SplitMix64's increment
MAX_RADIUS = math.sqrt(64.0 * math.log(2.0))    # sqrt(-2 log 2^-32)
CHUNKS = 64                       # rows are split into this many parallel chunks
PIECE = 1024                      # pairs generated per vectorized pass
# no zero-division checks, so the loops vectorize; of fastmath only the fusing of a
# multiply and an add (FMA), which rounds the same in a vector lane and in a scalar
# remainder (reassociation would not: tests/test_noise.py checks bit for bit)
VECTOR = dict(error_model="numpy", fastmath={"contract"})

_LN2 = np.float32(math.log(2.0))
_SQRT2 = np.float32(math.sqrt(2.0))
_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))
_HALF_PI = np.float32(0.5 * math.pi)
_SIGN = np.int32(-2 ** 31)
_SIN1, _SIN2, _SIN3 = np.float32(-1.6666654611e-1), np.float32(8.3321608736e-3), np.float32(-1.9515295891e-4)
_COS1, _COS2, _COS3 = np.float32(4.166664568298827e-2), np.float32(-1.388731625493765e-3), np.float32(2.443315711809948e-5)


@njit(inline="always")
def mix64(z):
    """SplitMix64's output function (a bijection of 64-bit words)."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(inline="always", **VECTOR)
def _log32(y):
    """log y for a positive normal float32: exponent from the bits, mantissa m in
    [sqrt(1/2), sqrt(2)) by log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172."""
    bits = np.float32(y).view(np.int32)
    exponent = np.float32(np.int32((bits >> 23) - 127))
    m = np.int32((bits & 0x7FFFFF) | 0x3F800000).view(np.float32)
    big = np.float32(np.int32(m > _SQRT2))
    m = m * (np.float32(1.0) - np.float32(0.5) * big)
    s = (m - np.float32(1.0)) / (m + np.float32(1.0))
    s2 = s * s
    series = np.float32(1.0) + s2 * (np.float32(1 / 3) + s2 * (
        np.float32(1 / 5) + s2 * (np.float32(1 / 7) + s2 * np.float32(1 / 9))))
    return (exponent + big) * _LN2 + np.float32(2.0) * s * series


@njit(inline="always", **VECTOR)
def _pair(low, high, scale):
    """(scale R cos A, scale R sin A) from a 31-bit and a 24-bit integer: R^2 = -2 log u
    with u = (low + 1/2) 2^-31; theta = (pi / 2) (high mod 2^22) 2^-22 in the first
    quadrant, and bits 22, 23 of high flip the signs of cos and sin, which maps theta
    to theta, pi - theta, pi + theta or 2 pi - theta: A is uniform on the circle.
    cos theta, sin theta = (cos t -+ sin t) / sqrt 2 with t = theta - pi / 4,
    |t| <= pi / 4, by Cephes' single-precision minimax polynomials."""
    u = (np.float32(low) + np.float32(0.5)) * np.float32(2.0 ** -31)
    radius = (scale * _INV_SQRT2) * np.sqrt(np.float32(-2.0) * _log32(u))
    t = (np.float32(np.int32(high & 0x3FFFFF)) * np.float32(2.0 ** -22) - np.float32(0.5)) * _HALF_PI
    t2 = t * t
    sin_t = t + t * t2 * (_SIN1 + t2 * (_SIN2 + t2 * _SIN3))
    cos_t = np.float32(1.0) - np.float32(0.5) * t2 + t2 * t2 * (_COS1 + t2 * (_COS2 + t2 * _COS3))
    cosine = np.int32(np.float32(radius * (cos_t - sin_t)).view(np.int32) ^ ((high << 9) & _SIGN))
    sine = np.int32(np.float32(radius * (cos_t + sin_t)).view(np.int32) ^ ((high << 8) & _SIGN))
    return np.int32(cosine).view(np.float32), np.int32(sine).view(np.float32)


@njit(inline="always")
def _pair_bits(key, q):
    """(31-bit, 24-bit) integers of pair q of the stream `key`: SplitMix64 output q + 1."""
    word = mix64(key + uint64(q + 1) * uint64(GOLDEN))
    return np.int32(word & uint64(0x7FFFFFFF)), np.int32(word >> uint64(40))


@njit(inline="always", **VECTOR)
def _pair_number(key, q, scale):
    """Pair q of the stream `key` as two normals."""
    low, high = _pair_bits(key, q)
    return _pair(low, high, scale)


@njit(inline="always", **VECTOR)
def _stream_noise(flat, offset, key, begin, end, scale, low, high):
    """flat[n + offset] = scale * (normal n of the stream `key`) for begin <= n < end,
    normal 2q + h being half h (cosine, sine) of pair q; low, high: int32 scratch."""
    n = begin
    if n % 2 == 1 and n < end:          # the first normal is the sine of a pair
        cosine, sine = _pair_number(key, n // 2, scale)
        flat[n + offset] = sine
        n += 1
    for _ in range((end - n) // (2 * low.size) + 1):
        count = min(low.size, (end - n) // 2)
        first = n // 2
        for k in range(count):
            low[k], high[k] = _pair_bits(key, first + k)
        piece = flat[n + offset:n + offset + 2 * count]   # indices >= 0: no wraparound
        for k in range(count):          # 8 pairs at a time (AVX2)
            cosine, sine = _pair(low[k], high[k], scale)
            piece[2 * k] = cosine
            piece[2 * k + 1] = sine
        n += 2 * count
    if n < end:                         # the last normal is the cosine of a pair
        cosine, sine = _pair_number(key, n // 2, scale)
        flat[n + offset] = cosine


@njit(parallel=True, cache=True, nogil=True, **VECTOR)
def _add_noise(out, owner, x, sigma, keys, samples, first):
    """Row r of out is x[i] + sigma[i] * e for global row g = first + r, input
    i = g // samples (written to owner[r]), sample t = g % samples; e's coordinate j
    is normal t * D + j of input i's stream. The rows of one input are contiguous in
    out and so are their normals: each such run is filled as one flat stream."""
    rows, size = out.shape
    flat = out.reshape(rows * size)
    per = (rows + CHUNKS - 1) // CHUNKS
    for chunk in prange(CHUNKS):
        low = np.empty(PIECE, np.int32)
        high = np.empty(PIECE, np.int32)
        start = chunk * per
        stop = min(rows, start + per)
        for i in range((first + start) // samples, (first + stop + samples - 1) // samples):
            lo_row = max(start, i * samples - first)
            hi_row = min(stop, (i + 1) * samples - first)
            if lo_row >= hi_row:
                continue
            t = first + lo_row - i * samples
            _stream_noise(flat, (lo_row - t) * size, keys[i], t * size,
                          (t + hi_row - lo_row) * size, sigma[i], low, high)
            for r in range(lo_row, hi_row):
                owner[r] = i
                for j in range(size):
                    out[r, j] += x[i, j]


SEED_BITS, INDEX_BITS, STAGE_BITS = 32, 30, 2      # 64 bits in all


@njit(cache=True)
def _mixed_keys(packed):
    keys = np.empty_like(packed)
    for i in range(packed.size):
        keys[i] = mix64(packed[i] + uint64(GOLDEN))
    return keys


def stream_keys(seed, index, stage):
    """One stream key per (run seed, input index, stage): the triple packed into 64
    bits (seed, index, stage in 32, 30, 2 bits) and passed through SplitMix64's
    bijective output function, so distinct triples never share a key. ValueError
    outside 0 <= seed < 2^32, 0 <= index < 2^30, 0 <= stage < 4."""
    index = np.asarray(index)
    if not (isinstance(seed, (int, np.integer)) and 0 <= int(seed) < 1 << SEED_BITS):
        raise ValueError(f"seed = {seed!r} must be an integer in [0, 2^{SEED_BITS})")
    if not 0 <= int(stage) < 1 << STAGE_BITS:
        raise ValueError(f"stage = {stage!r} must be in [0, {1 << STAGE_BITS})")
    if index.size and (index.dtype.kind not in "iu" or index.min() < 0
                       or index.max() >= 1 << INDEX_BITS):
        raise ValueError(f"index must hold integers in [0, 2^{INDEX_BITS}), got {index!r}")
    packed = ((np.uint64(int(seed)) << np.uint64(INDEX_BITS + STAGE_BITS))
              | (index.astype(np.uint64).ravel() << np.uint64(STAGE_BITS)) | np.uint64(stage))
    return _mixed_keys(packed)


def add_noise(out, owner, x, sigma, keys, samples, first):
    """Fill out (rows, D) float32 with noisy copies of x (inputs, D) float32: rows
    first, first + 1, ... of the input-major list of `samples` draws per input;
    owner (rows,) int64 receives each row's input; sigma (inputs,) float32, keys
    (inputs,) uint64. Shapes, dtypes and the row range are checked here: the
    compiled loop indexes without bounds checks."""
    inputs = x.shape[0]
    if not (out.ndim == 2 and x.ndim == 2 and out.shape[1] == x.shape[1]
            and out.dtype == x.dtype == sigma.dtype == np.float32 and keys.dtype == np.uint64
            and owner.dtype == np.int64 and owner.shape == (out.shape[0],)
            and sigma.shape == keys.shape == (inputs,) and out.flags.c_contiguous
            and x.flags.c_contiguous and samples >= 1 and first >= 0
            and first + out.shape[0] <= inputs * samples):
        raise ValueError(f"add_noise: inconsistent arrays (out {out.shape} {out.dtype}, owner "
                         f"{owner.shape}, x {x.shape} {x.dtype}, sigma {sigma.shape}, keys "
                         f"{keys.shape}, rows {first}..{first + out.shape[0]} of "
                         f"{inputs} x {samples})")
    _add_noise(out, owner, x, sigma, keys, samples, first)
