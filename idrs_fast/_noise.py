"""Gaussian noise on the CPU, drawn and added in one pass: out = x + sigma(x) * e.

The normals are kernels/noise.py's counter-based stream, the same source as on the
GPU (_cuda.py): every draw is a pure function of (input key, draw number), so
results do not depend on the batch size, on which inputs share a batch, on the
number of threads, on where a killed run resumed, or on the device (up to the FMA
contraction that NVVM applies on a GPU, kernels/noise.py). Coordinate j of sample t
is normal t * D + j of the input's stream.

Independence is needed only within one input (its samples must be i.i.d. for the
binomial bound); every (seed, input, stage) gets its own key (stream_keys).
"""
import numpy as np
from numba import njit, prange, uint64

from .kernels.noise import GOLDEN, mix64, normal_pair, pair_bits

CHUNKS = 64                       # rows are split into this many parallel chunks
PIECE = 1024                      # pairs generated per vectorized pass
# no zero-division checks, so the loops vectorize; no fastmath (no FMA contraction,
# no reassociation): each float32 operation rounds on its own, in a vector lane, in
# a scalar remainder and in the CUDA simulator alike (tests/test_noise.py, bit for bit)
VECTOR = dict(error_model="numpy")


@njit(inline="always", **VECTOR)
def _pair_number(key, q, scale):
    """Pair q of the stream `key` as two normals."""
    low, high = pair_bits(key, q)
    return normal_pair(low, high, scale)


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
            low[k], high[k] = pair_bits(key, first + k)
        piece = flat[n + offset:n + offset + 2 * count]   # indices >= 0: no wraparound
        for k in range(count):          # 8 pairs at a time (AVX2)
            cosine, sine = normal_pair(low[k], high[k], scale)
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
