"""Per-block Numba primitives shared by every method: amax, the naive scale, the FP4
projection, the block SSE in the seed's float32 order, and the seed's search window.

A block is a 1-D float32 view of 16 or 32 elements. Block scales are handled as E4M3
byte codes (0 = scale 0, 1..126 = the positive finite values), ``dec`` is
:data:`nvfp4_np.formats.E4M3_DECODE`, and ``rc`` is the tensor's recipe reduced to
constants (:class:`nvfp4_np.recipes.RecipeParams`). A code k acts through two float32
numbers (:func:`candidate`): the element factor ``f`` (|x| is divided or multiplied by
it before E2M1 rounding) and the effective scale ``s`` (dequant = q * s). In the seed
recipe both are the E4M3 value dec[k].
"""

import math

import numba
import numpy as np

from ._bits import bits_to_f32
from ._arith import mul_rn
from ._config import CHUNK_BLOCKS, JIT_SCALAR
from .formats import E2M1, E4M3_MAX_CODE, e2m1_round, e4m3_code, seed_sum_inplace
from .recipes import block_scale_for, effective_scale, element_factor, fp4_project, recipe_code, signed

#: Status of a block, written by every kernel and read by the wrapper (core.check_status).
OK, UNDERFLOW, NONFINITE = 0, 1, 2

_QMAX = np.float32(E2M1.max_finite)
_DEAD_ZONE_INV = np.float32(4.0)  # the seed's s_max = y / 0.25, i.e. exactly y * 4
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
def begin_block(b, xbits, status, rc):
    """Start block ``b``: (amax, the recipe's baseline code s0, finite). Records the
    block's status: NONFINITE (the caller skips it; the wrapper raises), UNDERFLOW
    (amax > 0 but the E4M3 block scale is 0) or OK."""
    amax, finite = block_amax(xbits[b])
    if not finite:
        status[b] = NONFINITE
        return amax, np.uint8(0), False
    c0 = recipe_code(amax, rc)
    status[b] = UNDERFLOW if (c0 == 0 and amax > 0) else OK
    return amax, c0, True


@numba.njit(**JIT_SCALAR)
def _tasks_per_column(n_blocks, ncb, rows_per_task):
    return (n_blocks // ncb + rows_per_task - 1) // rows_per_task


@numba.njit(**JIT_SCALAR)
def column_block_task(task, n_blocks, ncb, rows_per_task):
    """Work item ``task`` of the Hessian kernels: column block j and the block indices
    b = m * ncb + j for its rows m, so each task loads one H_j and reuses it."""
    tasks_per_j = _tasks_per_column(n_blocks, ncb, rows_per_task)
    j = task // tasks_per_j
    m0 = (task % tasks_per_j) * rows_per_task
    return j, np.arange(m0, min(n_blocks // ncb, m0 + rows_per_task)) * ncb + j


@numba.njit(**JIT_SCALAR)
def n_column_tasks(n_blocks, ncb, rows_per_task):
    """Number of work items of the Hessian kernels (see column_block_task)."""
    return ncb * _tasks_per_column(n_blocks, ncb, rows_per_task)


@numba.njit(**JIT_SCALAR)
def candidate(k, dec, rc):
    """(element factor f, effective scale s) of block-scale code ``k``."""
    sf = dec[k]
    return element_factor(sf, rc), effective_scale(sf, rc)


@numba.njit(**JIT_SCALAR)
def fp4_signed(v, f, rc):
    """FP4 quant of a value: its magnitude's E2M1 value under factor ``f`` with the
    recipe's sign rule (seed: torch.sign, -0.0 and NaN -> +0.0; a negative that rounds
    to 0 -> -0.0). In the seed recipe, ``f = 0`` gives 6 for any magnitude (inf or NaN)."""
    return signed(v, fp4_project(abs(v), f, rc), rc)


@numba.njit(**JIT_SCALAR)
def block_sse(xb, f, s, rc, sq):
    """SSE of a block under element factor ``f`` and effective scale ``s``, summed in
    the seed's float32 order.

    ``x - sign(x)*q*s`` has the magnitude ``|x| - q*s`` exactly (rounding is symmetric),
    so the error needs no sign. ``sq`` is scratch.
    """
    # The form of the element scaling is hoisted out of the loop by hand: this loop is
    # where the search spends its time, and a select between a*f and a/f per element
    # would compute both.
    if rc.elem_mul:
        for i in range(xb.size):
            a = abs(xb[i])
            e = a - mul_rn(e2m1_round(a * f, rc.rne), s)
            sq[i] = mul_rn(e, e)
    else:
        for i in range(xb.size):
            a = abs(xb[i])
            e = a - mul_rn(e2m1_round(a / f, rc.rne), s)
            sq[i] = mul_rn(e, e)
    return seed_sum_inplace(sq)


@numba.njit(**JIT_SCALAR)
def matvec_korder(Mt, v, out):
    """out[a] = sum_k M[a, k] v[k] in float32, accumulated in k order (torch's small-bmm
    loop), from the transposed matrix ``Mt[k, a] = M[a, k]`` so that the loop over a
    vectorises without changing any sum's order."""
    n = v.size
    for a in range(n):
        out[a] = mul_rn(Mt[0, a], v[0])
    for k in range(1, n):
        vk = v[k]
        for a in range(n):
            out[a] += mul_rn(Mt[k, a], vk)


@numba.njit(**JIT_SCALAR)
def block_energy(xb, sq):
    """Seed-exact sum of squares of a block."""
    for i in range(xb.size):
        sq[i] = mul_rn(xb[i], xb[i])
    return seed_sum_inplace(sq)


@numba.njit(**JIT_SCALAR)
def quantize_block(xb, f, s, rc, q_out, dq_out, want_dq):
    """FP4 quants ``sign(x)*q`` under factor ``f`` (the recipe's sign rule), and
    optionally the dequant ``q*s``."""
    for i in range(xb.size):
        q_out[i] = fp4_signed(xb[i], f, rc)
    if want_dq:
        for i in range(xb.size):
            dq_out[i] = q_out[i] * s


@numba.njit(**JIT_SCALAR)
def emit_block(b, code, xb, dec, rc, out, want_dq):
    """Write block ``b``'s results: its scale byte, block scale, quants (and dequant).
    ``out = (codes, scales, quants, dequant)``."""
    codes, scales, quants, dequant = out
    f, s = candidate(code, dec, rc)
    codes[b] = code
    scales[b] = dec[code]
    quantize_block(xb, f, s, rc, quants[b], dequant[b if want_dq else 0], want_dq)


@numba.njit(**JIT_SCALAR)
def search_window(row_bits, amax, e0, work, srt, prefix):
    """The seed's candidate window [s_min, s_max] from the baseline SSE ``e0``.

    The seed sorts |x| ascending, takes ``cumsum`` of the squares (float32 squares,
    accumulated in float64, each prefix rounded to float32) and counts the prefixes
    ``<= e0`` (k*); ``s_max = sorted[k*] / 0.25``, and ``k* == n`` marks a noise block.
    Only the prefix up to k* matters, so instead of a full sort the smallest remaining
    magnitude is extracted (with all its copies) until a prefix exceeds ``e0``: on
    typical blocks k* is 3 (bs 16) to 8 (bs 32). The minimum is an integer min over
    magnitude bits, which vectorises.

    Returns (s_min, s_max, noise, taken): ``srt[:taken]`` are the smallest magnitudes in
    ascending order and ``prefix[k]`` (float64, k <= taken) the sum of the k smallest
    squares. ``work`` is uint32 scratch.
    """
    n = row_bits.size
    # float32 sqrt, correctly rounded: float64 sqrt then one rounding to float32 is the
    # same (53 >= 2*24 + 2 bits), and math.sqrt compiles for CUDA too (np.sqrt does not).
    s_min = (amax - np.float32(math.sqrt(np.float64(e0)))) / _QMAX
    if s_min < 0:
        s_min = np.float32(0.0)
    for i in range(n):
        work[i] = row_bits[i] & _ABS_MASK
    acc = 0.0
    prefix[0] = 0.0
    taken = 0
    while taken < n:
        m = np.uint32(0xFFFFFFFF)  # above every finite magnitude's bits
        for i in range(n):
            w = work[i]
            m = w if w < m else m
        copies = 0
        for i in range(n):
            hit = work[i] == m
            copies += hit
            work[i] = np.uint32(0xFFFFFFFF) if hit else work[i]
        v = bits_to_f32(m)
        sq = np.float64(v * v)
        for _ in range(copies):
            srt[taken] = v
            acc += sq
            taken += 1
            prefix[taken] = acc
            if not np.float32(acc) <= e0:
                return s_min, v * _DEAD_ZONE_INV, False, taken
    return s_min, np.float32(0.0), True, taken


@numba.njit(**JIT_SCALAR)
def first_code_at_least(dec, v):
    """Smallest code in 1..126 whose scale is >= v (127 if none)."""
    k = np.int64(e4m3_code(v))
    if k == 0 or dec[k] < v:
        k += 1
    return k


@numba.njit(**JIT_SCALAR)
def code_range(dec, s_min, s_max):
    """Codes (lo, hi) of the positive E4M3 scales in [s_min, s_max] (lo > hi if none)."""
    lo = first_code_at_least(dec, s_min)
    hi = np.int64(e4m3_code(s_max))
    if dec[hi] > s_max:
        hi -= 1
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


@numba.njit(**JIT_SCALAR)
def first_candidate_at_least(dec, rc, s):
    """The smallest code whose effective scale may be >= s (see code_window)."""
    if rc.exact:
        return first_code_at_least(dec, s)
    return first_code_at_least(dec, block_scale_for(s, rc)) + 1
