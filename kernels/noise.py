"""Counter-based Gaussian noise, one source for the CPU (idrs_fast/_noise.py) and
CUDA (idrs_fast/_cuda.py): normal n of a stream is a pure function of (key, n).

- Bits: SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): pair q of the stream `key` is
  made from mix64(key + (q + 1) * GOLDEN), the q-th output of SplitMix64 seeded with
  `key`; normal n is half n % 2 (cosine, sine) of pair n // 2.
- Normals: Box-Muller in float32, branch-free (the CPU runs it 8 lanes wide): the
  radius sqrt(-2 log u) from 31 bits, the angle from 24 bits (22 for a first-quadrant
  angle, 2 sign flips), with polynomial log, sin and cos (relative error < 3e-7).
  u >= 2^-32, so a pair's radius never exceeds sqrt(64 log 2) = 6.66: a probability
  of 2.3e-10 per pair is dropped (2.7e-11 per coordinate beyond 6.66 sd); u is a
  float32, so near u = 1 (the smallest radii) it moves in steps of 2^-24, a cdf
  error below 6e-8.
- Only IEEE float32 operations (+, -, *, /, sqrt, int -> float conversions) and exact
  bit manipulation (_jit.float_bits / bits_float: exponent, mantissa and sign), every
  product through _jit.mul32 (never fused into an FMA, on CUDA either):
  each operation rounds on its own, so the CPU, a GPU and the CUDA simulator draw the
  same bits (tests/ptx_gate.py checks the PTX has no FMA and no contractible mul).
"""
import math

from numba import float32, int32, uint64

from ._jit import bits_float, float_bits, kernel, mul32, vector_kernel

GOLDEN = 0x9E3779B97F4A7C15       # SplitMix64's increment
MAX_RADIUS = math.sqrt(64.0 * math.log(2.0))    # sqrt(-2 log 2^-32)

_ONE, _HALF, _TWO = float32(1.0), float32(0.5), float32(2.0)
_LN2 = float32(math.log(2.0))
_SQRT2 = float32(math.sqrt(2.0))
_INV_SQRT2 = float32(1.0 / math.sqrt(2.0))
_HALF_PI = float32(0.5 * math.pi)
_THIRD, _FIFTH, _SEVENTH, _NINTH = float32(1 / 3), float32(1 / 5), float32(1 / 7), float32(1 / 9)
_SIN1, _SIN2, _SIN3 = float32(-1.6666654611e-1), float32(8.3321608736e-3), float32(-1.9515295891e-4)
_COS1, _COS2, _COS3 = float32(4.166664568298827e-2), float32(-1.388731625493765e-3), float32(2.443315711809948e-5)
_2_POW_M31, _2_POW_M22 = float32(2.0 ** -31), float32(2.0 ** -22)
_SIGN = int32(-2 ** 31)


@vector_kernel
def mix64(z):
    """SplitMix64's output function (a bijection of 64-bit words)."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@vector_kernel
def pair_bits(key, q):
    """(31-bit, 24-bit) integers of pair q of the stream `key`: SplitMix64 output q + 1."""
    word = mix64(uint64(key) + uint64(q + 1) * uint64(GOLDEN))
    return int32(word & uint64(0x7FFFFFFF)), int32(word >> uint64(40))


@vector_kernel
def log32(u):
    """log u for a positive normal float32: exponent and mantissa m in [sqrt(1/2),
    sqrt(2)) from the bits (exact), then log m = 2 atanh(s), s = (m - 1) / (m + 1),
    |s| < 0.172."""
    bits = float_bits(u)
    exponent = float32(int32((bits >> 23) - 127))
    m = bits_float(int32((bits & 0x7FFFFF) | 0x3F800000))
    big = float32(m > _SQRT2)
    m = mul32(m, _ONE - mul32(_HALF, big))
    s = (m - _ONE) / (m + _ONE)
    s2 = mul32(s, s)
    series = _ONE + mul32(s2, _THIRD + mul32(s2, _FIFTH + mul32(s2, _SEVENTH + mul32(s2, _NINTH))))
    return mul32(exponent + big, _LN2) + mul32(mul32(_TWO, s), series)


@vector_kernel
def normal_pair(low, high, scale):
    """(scale R cos A, scale R sin A) from a 31-bit and a 24-bit integer: R^2 = -2 log u
    with u = (low + 1/2) 2^-31; theta = (pi / 2) (high mod 2^22) 2^-22 in the first
    quadrant, and bits 22, 23 of high flip the signs of cos and sin, which maps theta
    to theta, pi - theta, pi + theta or 2 pi - theta: A is uniform on the circle.
    cos theta, sin theta = (cos t -+ sin t) / sqrt 2 with t = theta - pi / 4,
    |t| <= pi / 4, by Cephes' single-precision minimax polynomials."""
    u = mul32(float32(low) + _HALF, _2_POW_M31)
    radius = mul32(mul32(scale, _INV_SQRT2), float32(math.sqrt(mul32(float32(-2.0), log32(u)))))
    t = mul32(mul32(float32(int32(high & 0x3FFFFF)), _2_POW_M22) - _HALF, _HALF_PI)
    t2 = mul32(t, t)
    sin_t = t + mul32(mul32(t, t2), _SIN1 + mul32(t2, _SIN2 + mul32(t2, _SIN3)))
    cos_t = _ONE - mul32(_HALF, t2) + mul32(mul32(t2, t2), _COS1 + mul32(t2, _COS2 + mul32(t2, _COS3)))
    cosine = bits_float(int32(float_bits(mul32(radius, cos_t - sin_t)) ^ ((high << 9) & _SIGN)))
    sine = bits_float(int32(float_bits(mul32(radius, cos_t + sin_t)) ^ ((high << 8) & _SIGN)))
    return cosine, sine


@kernel
def normal(key, n, scale):
    """scale times normal n of the stream `key`."""
    low, high = pair_bits(key, n // 2)
    cosine, sine = normal_pair(low, high, scale)
    return sine if n % 2 == 1 else cosine
