"""Per-block Numba primitives shared by every method: amax, the naive scale, the FP4
projection, the block SSE in the seed's float32 order, and the seed's search bounds.

A block is a 1-D float32 view of 16 or 32 elements. Scales are handled as E4M3 byte
codes (0 = scale 0, 1..126 = the positive finite values); ``thr`` is the (128, 7)
threshold table of :func:`nvfp4_np.formats.fp4_thresholds` for the rounding mode, and
``dec`` is :data:`nvfp4_np.formats.E4M3_DECODE`.
"""

import numba
import numpy as np

from ._bits import bits_to_f32
from ._config import CHUNK_BLOCKS, JIT_SCALAR
from .formats import E2M1, E2M1_BOUNDARIES, e2m1_magnitude, e4m3_code, seed_sum

#: Status of a block, written by every kernel and read by the wrapper (core.check_status).
OK, UNDERFLOW, NONFINITE = 0, 1, 2

_QMAX = np.float32(E2M1.max_finite)
_DEAD_ZONE = np.float32(E2M1_BOUNDARIES[0])  # |x|/s at or below this rounds to 0
_CLAMP_MIN = np.float32(1e-12)  # the seed's clamp on amax / 6 (snaps to 0 anyway)
_ABS_MASK = np.uint32(0x7FFFFFFF)
_INF_BITS = np.uint32(0x7F800000)


@numba.njit(**JIT_SCALAR)
def n_chunks(n):
    """Number of CHUNK_BLOCKS-sized work items for n blocks."""
    return (n + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS


@numba.njit(**JIT_SCALAR)
def block_amax(row_bits):
    """(amax, finite) of a block given as float32 bit patterns. An integer max over the
    magnitude bits orders finite floats like their values and puts Inf/NaN above every
    finite one; unlike a float max it vectorises without fastmath."""
    m = np.uint32(0)
    for i in range(row_bits.size):
        v = np.uint32(row_bits[i] & _ABS_MASK)
        m = v if v > m else m
    return bits_to_f32(np.uint32(m)), m < _INF_BITS


@numba.njit(**JIT_SCALAR)
def naive_code(amax):
    """The seed's baseline scale byte: E4M3(max(amax / 6, 1e-12)), float32 division."""
    s = amax / _QMAX
    if s < _CLAMP_MIN:
        s = _CLAMP_MIN
    return e4m3_code(s)


@numba.njit(**JIT_SCALAR)
def block_sse(xb, thr_row, s, sq):
    """Seed-exact SSE of a block at scale ``s`` (threshold row ``thr_row``).

    ``x - sign(x)*mag*s`` has the magnitude ``|x| - mag*s`` exactly (the product is
    exact and rounding is symmetric), so the sign is not needed for the error.
    """
    for i in range(xb.size):
        a = abs(xb[i])
        e = a - e2m1_magnitude(a, thr_row) * s
        sq[i] = e * e
    return seed_sum(sq)


@numba.njit(**JIT_SCALAR)
def block_energy(xb, sq):
    """Seed-exact sum of squares of a block."""
    for i in range(xb.size):
        sq[i] = xb[i] * xb[i]
    return seed_sum(sq)


@numba.njit(**JIT_SCALAR)
def quantize_block(xb, thr_row, s, q_out, dq_out, want_dq):
    """FP4 quants ``sign(x)*mag`` (torch.sign semantics: -0.0 -> +0.0, a negative that
    rounds to 0 -> -0.0), and optionally the dequant ``q*s``."""
    for i in range(xb.size):
        v = xb[i]
        mag = e2m1_magnitude(abs(v), thr_row)
        q_out[i] = mag if v > 0 else (-mag if v < 0 else np.float32(0.0))
    if want_dq:
        for i in range(xb.size):
            dq_out[i] = q_out[i] * s


@numba.njit(**JIT_SCALAR)
def search_window(xb, amax, e0, srt):
    """The seed's candidate window [s_min, s_max] from the baseline SSE ``e0``.

    Returns (s_min, s_max, noise). ``noise`` is the seed's second noise test (every
    element could be zeroed within ``e0``). ``srt`` is scratch for the sorted magnitudes;
    the cumulative squares accumulate in float64 and round each prefix to float32, as
    ``torch.cumsum`` on float32 does.
    """
    n = xb.size
    s_min = (amax - np.sqrt(e0)) / _QMAX
    if s_min < 0:
        s_min = np.float32(0.0)
    for i in range(n):  # insertion sort, ascending
        v = abs(xb[i])
        j = i
        while j > 0 and srt[j - 1] > v:
            srt[j] = srt[j - 1]
            j -= 1
        srt[j] = v
    acc = 0.0
    k = 0
    while k < n:
        sq = srt[k] * srt[k]
        acc += np.float64(sq)
        if np.float32(acc) <= e0:
            k += 1
        else:
            break
    if k >= n:
        return s_min, np.float32(0.0), True
    return s_min, srt[k] / _DEAD_ZONE, False


@numba.njit(**JIT_SCALAR)
def first_code_at_least(dec, v):
    """Smallest code in 1..126 whose scale is >= v (127 if none)."""
    lo, hi = 1, 127
    while lo < hi:
        mid = (lo + hi) // 2
        if dec[mid] >= v:
            hi = mid
        else:
            lo = mid + 1
    return lo
