"""Per-block Numba primitives shared by every method: a block's amax, status and naive
scale, the element factor and effective scale of a scale code, the FP4 projection (by
division or by comparisons), and the block SSE in the seed's float32 order. (The seed's
search window is in _window.py, the cutting of work into parallel tasks in _schedule.py,
what kernels write in _emit.py.)

A block is row ``b`` of a (N, bs) float32 array ``x`` (bs = 16 or 32), addressed as
``x[b, i]``: the primitives take ``(x, b)`` rather than a row view, because on the CPU a
view costs a pair of atomic reference-count updates (measured: ~30 ns a block). Block
scales are handled as E4M3 byte codes (0 = scale 0, 1..126 = the positive finite
values), ``dec`` is :data:`nvfp4_np.formats.E4M3_DECODE`, and ``rc`` is the tensor's
recipe reduced to constants (:class:`nvfp4_np.recipes.RecipeParams`). A code k acts
through two float32 numbers (:func:`candidate`): the element factor ``f`` (|x| is divided
or multiplied by it before E2M1 rounding) and the effective scale ``s`` (dequant = q * s).
In the seed recipe both are the E4M3 value dec[k].
"""


import numba
import numpy as np

from ._f32bits import bits_to_f32
from ._arith import mul_rn
from ._config import JIT_SCALAR, JIT_SCALAR_FN
from .formats import (
    E2M1,
    E2M1_BOUNDARIES,
    E2M1_VALUES,
    e2m1_round,
    seed_sum_inplace,
)
from .recipes import effective_scale, element_factor, fp4_project, recipe_code, signed

#: Status of a block, written by every kernel and read by the wrapper (core.check_status).
OK, UNDERFLOW, NONFINITE = 0, 1, 2

_QMAX = np.float32(E2M1.max_finite)
_ABS_MASK = np.uint32(0x7FFFFFFF)
_INF_BITS = np.uint32(0x7F800000)


# E2M1 rounding as comparisons, for exact recipes (element factor = effective scale = the
# E4M3 value s). For s > 0 and an E2M1 boundary b, b*s is exact in float32, and fl(a / s)
# compares with b exactly as a compares with b*s (a/s > b iff a > b*s; a/s rounds to b
# only if a == b*s): the spacing of float32 around a, divided by s, is more than half the
# spacing around b. So a magnitude quantizes to the j-th E2M1 value above 0 when it
# exceeds exactly j of the thresholds b*s; a tie (a == b*s) goes down ("seed") or, with
# "rne", up where the upper neighbour is even (its code is even; _e2m1_cmp compares
# with >= there). For s = 0 (code 0) every threshold is 0: a > 0 gives 6, as a/0 = inf
# does, and the dequant q*0 is 0 either way; a = 0 gives 0 (4 with the rne ties) where
# 0/0 gives 6, but its quant is 0 under the "x<0" sign rule of every exact recipe.
_B = tuple(np.float32(v) for v in E2M1_BOUNDARIES)
_Q = tuple(np.float32(v) for v in E2M1_VALUES[1:])
_RNE_TIE_UP = tuple(j % 2 == 0 for j in range(1, len(E2M1_VALUES)))
assert len(_B) == 7 and _RNE_TIE_UP == (False, True, False, True, False, True, False)


@numba.njit(**JIT_SCALAR)
def block_len(x):
    """The block size of ``x`` (N, bs) as the loop bound of every per-element loop.
    Capped at 32 (the largest block) so that LLVM knows the trip count is small: its
    loop vectoriser then runs one vector body of 8 or 16 elements per iteration instead
    of interleaving 4 bodies (32 elements), which would leave a 16-element block wholly
    to the scalar remainder loop."""
    return min(x.shape[1], 32)


@numba.njit(**JIT_SCALAR)
def block_amax(xbits, b):
    """(amax, finite) of block ``b`` given as float32 bit patterns. An integer max over
    the magnitude bits orders finite floats like their values and puts Inf/NaN above
    every finite one; unlike a float max it vectorises without fastmath."""
    m = np.uint32(0)
    for i in range(block_len(xbits)):
        v = np.uint32(xbits[b, i] & _ABS_MASK)
        m = v if v > m else m
    return bits_to_f32(np.uint32(m)), m < _INF_BITS


@numba.njit(**JIT_SCALAR)
def begin_block(b, xbits, status, rc):
    """Start block ``b``: (amax, the recipe's baseline code s0, finite). Records the
    block's status: NONFINITE (the caller skips it; the wrapper raises), UNDERFLOW
    (amax > 0 but the E4M3 block scale is 0) or OK."""
    amax, finite = block_amax(xbits, b)
    if not finite:
        status[b] = NONFINITE
        return amax, np.uint8(0), False
    c0 = recipe_code(amax, rc)
    status[b] = UNDERFLOW if (c0 == 0 and amax > 0) else OK
    return amax, c0, True


@numba.njit(**JIT_SCALAR)
def candidate(k, dec, rc):
    """(element factor f, effective scale s) of block-scale code ``k``."""
    sf = dec[k]
    return element_factor(sf, rc), effective_scale(sf, rc)


@numba.njit(**JIT_SCALAR_FN)
def fp4_signed(v, f, rc):
    """FP4 quant of a value: its magnitude's E2M1 value under factor ``f`` with the
    recipe's sign rule (seed: torch.sign, -0.0 and NaN -> +0.0; a negative that rounds
    to 0 -> -0.0). In the seed recipe, ``f = 0`` gives 6 for any magnitude (inf or NaN)."""
    return signed(v, fp4_project(abs(v), f, rc), rc)


@numba.njit(**JIT_SCALAR_FN)
def sq_error(a, q, s):
    """The seed's error term of one element: (|x| - q*s)^2, each operation rounded to
    float32 in this order."""
    e = a - mul_rn(q, s)
    return mul_rn(e, e)


@numba.njit(**JIT_SCALAR)
def block_sse(x, b, f, s, rc, sq):
    """SSE of block ``b`` under element factor ``f`` and effective scale ``s``, summed in
    the seed's float32 order.

    ``x - sign(x)*q*s`` has the magnitude ``|x| - q*s`` exactly (rounding is symmetric),
    so the error needs no sign. ``sq`` is scratch.
    """
    # The form of the element scaling is hoisted out of the loop by hand: this loop is
    # where the search spends its time, and a select between a*f and a/f per element
    # would compute both.
    if rc.elem_mul:
        for i in range(block_len(x)):
            a = abs(x[b, i])
            sq[i] = sq_error(a, e2m1_round(a * f, rc.rne), s)
    else:
        for i in range(block_len(x)):
            a = abs(x[b, i])
            sq[i] = sq_error(a, e2m1_round(a / f, rc.rne), s)
    return seed_sum_inplace(sq)


@numba.njit(**JIT_SCALAR_FN)
def thresholds(s):
    """The 7 thresholds b*s of scale ``s`` (exact recipes; see _B)."""
    return (_B[0] * s, _B[1] * s, _B[2] * s, _B[3] * s, _B[4] * s, _B[5] * s, _B[6] * s)


@numba.njit(**JIT_SCALAR_FN)
def _e2m1_cmp(a, t, rne):
    """E2M1 magnitude of a / s for a magnitude ``a``, by comparisons with the thresholds
    ``t`` of s (exact recipes; see _B). Callers pass ``rne`` as a constant, so each loop
    compiles to one set of comparisons."""
    q = np.float32(0.0)
    q = _Q[0] if a > t[0] else q
    q = _Q[1] if (a >= t[1] if rne else a > t[1]) else q
    q = _Q[2] if a > t[2] else q
    q = _Q[3] if (a >= t[3] if rne else a > t[3]) else q
    q = _Q[4] if a > t[4] else q
    q = _Q[5] if (a >= t[5] if rne else a > t[5]) else q
    q = _Q[6] if a > t[6] else q
    return q


@numba.njit(**JIT_SCALAR_FN)
def e2m1_index_cmp(a, t, rne):
    """_e2m1_cmp's result as its index in E2M1_VALUES (0..7, uint64): how many of the
    thresholds ``t`` the magnitude ``a`` exceeds (reaches, at the rne ties), found by a
    binary search over them (3 comparisons instead of 7: the GPU kernels are bound by
    instruction issue). The thresholds of a scale s > 0 increase strictly, so the
    search finds the count; at s = 0 they are all 0, every a > 0 exceeds them all, and
    a = 0 reaches the odd ones under rne (index 6, the 4.0 of _e2m1_cmp). The same as
    _e2m1_cmp for every magnitude at every scale (tests/test_formats.py)."""
    zero = np.uint64(0)
    hi = (a >= t[3]) if rne else (a > t[3])
    tm = t[5] if hi else t[1]  # (the odd thresholds: reached at the rne ties)
    mid = (a >= tm) if rne else (a > tm)
    tl = (t[6] if mid else t[4]) if hi else (t[2] if mid else t[0])
    return ((np.uint64(4) if hi else zero) + (np.uint64(2) if mid else zero)
            + (np.uint64(1) if a > tl else zero))


@numba.njit(**JIT_SCALAR)
def _sse_cmp(x, b, s, sq):
    """SSE of block ``b`` at the E4M3 value ``s`` of an exact recipe, rounding by
    comparisons. The tie rule is left out: it cannot change an SSE. At a tie |x| = b*s
    is the midpoint of two neighbours q1*s < q2*s, and |x| - q1*s and q2*s - |x| are the
    same float32 number (q*s, the thresholds and these differences are all exact:
    they carry at most 7 significant bits, and the smallest, 2^-11, is normal), so
    either neighbour gives the same term."""
    t = thresholds(s)
    for i in range(block_len(x)):
        a = abs(x[b, i])
        sq[i] = sq_error(a, _e2m1_cmp(a, t, False), s)
    return seed_sum_inplace(sq)


@numba.njit(**JIT_SCALAR)
def code_sse(x, b, k, dec, rc, sq):
    """SSE of block ``b`` at block-scale code ``k`` in the seed's float32 order (as
    block_sse of candidate(k)); exact recipes round by comparisons, no division."""
    if not rc.exact:
        f, s = candidate(k, dec, rc)
        return block_sse(x, b, f, s, rc, sq)
    return _sse_cmp(x, b, dec[k], sq)


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
def block_energy(x, b, sq):
    """Seed-exact sum of squares of block ``b``."""
    for i in range(block_len(x)):
        sq[i] = mul_rn(x[b, i], x[b, i])
    return seed_sum_inplace(sq)
