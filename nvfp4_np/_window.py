"""The seed's search window of a block: from the baseline SSE e0, the clipping bound
s_min and the dead-zone bound s_max on the block scale, and the E4M3 codes between them
(within the recipe's codes). Used by the optimal and Hessian searches, CPU and GPU (the
CPU's optimal search has a vector twin of search_window in _simd, held to it by
tests/test_optimal.py).
"""

import math

import numba
import numpy as np

from ._block import _ABS_MASK, _QMAX, block_len
from ._config import JIT_SCALAR, JIT_SCALAR_FN
from ._f32bits import bits_to_f32
from .formats import E4M3_MAX_CODE, e4m3_code
from .recipes import block_scale_for

_DEAD_ZONE_INV = np.float32(4.0)  # the seed's s_max = y / 0.25, i.e. exactly y * 4


@numba.njit(**JIT_SCALAR_FN)
def clip_bound(amax, e0):
    """The seed's s_min = max(0, (amax - sqrt(e0)) / 6): a smaller scale clips amax by more
    than sqrt(e0)."""
    # float32 sqrt, correctly rounded: float64 sqrt then one rounding to float32 is the
    # same (53 >= 2*24 + 2 bits), and math.sqrt compiles for CUDA too (np.sqrt does not).
    s_min = (amax - np.float32(math.sqrt(np.float64(e0)))) / _QMAX
    return s_min if s_min >= 0 else np.float32(0.0)


@numba.njit(**JIT_SCALAR_FN)
def dead_zone_bound(v):
    """The seed's s_max = v / 0.25 for the sorted magnitude v = sorted[k*]: a larger scale
    zeroes the k* + 1 smallest magnitudes, whose squares sum to more than e0."""
    return v * _DEAD_ZONE_INV


@numba.njit(**JIT_SCALAR)
def search_window(xbits, b, amax, e0, work, srt):
    """Block ``b``'s candidate window [s_min, s_max] from the baseline SSE ``e0``.

    The seed sorts |x| ascending, takes ``cumsum`` of the squares (float32 squares,
    accumulated in float64, each prefix rounded to float32) and counts the prefixes
    ``<= e0`` (k*); ``s_max = sorted[k*] / 0.25``, and ``k* == n`` marks a noise block.

    Here the magnitudes are sorted by rank (each element's rank is the number of smaller
    ones: a vectorised count per element, with no chain of dependent steps), then the
    prefixes are taken 8 at a time without a branch per step and counted as the seed
    counts them, each as it is formed; on typical blocks k* is 3 (bs 16) to 8 (bs 32),
    one or two groups. (Forms tried and dropped: docs/performance.md.)

    Returns (s_min, s_max, noise). Scratch: ``srt`` (float32, bs), ``work`` (uint32,
    2 * bs). The GPU kernels and the Hessian search use this form; the CPU's optimal
    search has a vector twin (optimal._search_lanes: _simd.sort_lanes, dead_zone_count).
    """
    n = block_len(xbits)
    s_min = clip_bound(amax, e0)
    # work[:n]: magnitude bits (integers order finite floats as their values); work[n:]:
    # ranks.
    for i in range(n):
        work[i] = xbits[b, i] & _ABS_MASK
        work[n + i] = 0
        srt[i] = -1.0
    for j in range(n):
        mj = work[j]
        for i in range(n):
            work[n + i] += np.uint32(mj < work[i])
    # Equal magnitudes share a rank and land in one slot; the slots after it, left at -1,
    # repeat the value before them.
    for i in range(n):
        srt[work[n + i]] = bits_to_f32(work[i])
    acc = 0.0
    v = np.float32(0.0)
    k = 0
    for g in range(0, n, 8):
        c = 0
        for t in range(g, g + 8):
            u = srt[t]
            v = u if u >= 0 else v
            srt[t] = v
            acc += np.float64(v * v)
            c += np.float32(acc) <= e0
        k += c
        if c < 8:
            return s_min, dead_zone_bound(srt[k]), False
    return s_min, np.float32(0.0), True


@numba.njit(**JIT_SCALAR)
def first_code_at_least(dec, v):
    """Smallest code in 1..126 whose scale is >= v (127 if none)."""
    k = np.int64(e4m3_code(v))
    # (bitwise, not a branch: the outcome is a coin flip per block)
    return k + np.int64((k == 0) | (dec[k] < v))


@numba.njit(**JIT_SCALAR)
def code_range(dec, s_min, s_max):
    """Codes (lo, hi) of the positive E4M3 scales in [s_min, s_max] (lo > hi if none)."""
    lo = first_code_at_least(dec, s_min)
    hi = np.int64(e4m3_code(s_max))
    hi -= np.int64(dec[hi] > s_max)
    return lo, min(hi, E4M3_MAX_CODE)


@numba.njit(**JIT_SCALAR)
def code_window(dec, rc, s_min, s_max):
    """Candidate codes (lo, hi) whose effective scale may lie in [s_min, s_max], within
    the recipe's codes (rc.min_code..126). Where the recipe's arithmetic rounds beyond
    the seed's (a tensor scale, a multiplier), the window widens by one code each way:
    a code step (>= 1/8 relative) dwarfs the few ulps of rounding."""
    if rc.exact:
        lo, hi = code_range(dec, s_min, s_max)
    else:
        lo, hi = code_range(dec, block_scale_for(s_min, rc), block_scale_for(s_max, rc))
        lo, hi = lo - 1, hi + 1
    return max(lo, rc.min_code), min(hi, E4M3_MAX_CODE)
