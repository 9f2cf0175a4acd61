"""Four Over Six (4/6) as fouroversix 1.0.5's reference computes it, bit for bit: per
block, NVFP4 with the block maximum mapped to 6 and to 4, the candidate with the lower
error kept (ties keep 6); 1-D blocks of 16 or 2-D tiles of 16x16.

The arithmetic is ``fouroversix.quantize.pytorch.reference.quantize_to_fp4`` operation
by operation (docs/design/four_over_six.md; the independent NumPy port it is tested
against is tests/fouroversix_ref.py), all float32:

- tensor constant ``c = fl(K / amax)`` with ``K = vmax * smax``: 6 * 256 = 1536 for the
  4/6 rules, 6 * 448 = 2688 for ``static_6``, 4 * 448 = 1792 for ``static_4``;
  ``decode = fl(1 / c)``;
- the 6 candidate's scale ``E4M3(fl(fl(bmax / vmax) * c))``; the 4 candidate's the same
  float32 value times 1.5, rounded, then E4M3 (not bmax / 4); E4M3 rounds to nearest
  even and saturates at 448 (torch 2.13);
- elements ``fl(x * fl(1 / fl(decode * s)))`` (0 where s = 0), rounded half to even on
  the E2M1 grid with **no clamp at 6**: values in [7, 9), reachable when an E4M3-subnormal
  scale was rounded down, give 8, which packs as nibble 0x8 (the code of -0) whatever
  its sign; a negative that rounds to 0 gives -0 (0x8), -0.0 gives 0x0;
- each candidate's error against ``fl(fl(fl(q * s) * amax) / K)`` minus the input:
  ``mse`` sums squares, ``mae`` absolute values, in torch CPU's ``sum(-1)`` order (8
  lanes; 4 accumulators over groups of 4 vectors for 256 terms), ``abs_max`` takes the
  max; the 4 candidate wins only if its error is strictly lower.
- 2-D: a 16x16 tile (row-major, 256 terms) has one choice and one scale, the byte
  repeated on each of its 16 rows.

Packed codes: even element in the low nibble. Scale bytes: (R, C / 16), row-major (the
128x4 swizzle GEMM kernels read is :func:`nvfp4_np.swizzle`'s business).
"""

import math
from collections import namedtuple

import numba
import numpy as np

from . import core, registry
from ._arith import mul_rn
from ._convert import max_abs_bits
from ._f32bits import f32_to_bits
from ._config import JIT_PARALLEL, JIT_SCALAR, JIT_SCALAR_FN
from .formats import E4M3_DECODE, e2m1_index_value, e4m3_code

__all__ = ["nvfp4_four_over_six", "four_over_six_blocks", "RULES", "FOUR_OVER_SIX_RECIPES", "SCALE_MAXES"]

#: The choice rules of fouroversix's ``ScaleRule``: three 4/6 error rules, and the two
#: fixed choices (static_6: plain NVFP4 in the package's arithmetic; static_4: block max
#: mapped to 4).
RULES = ("mse", "mae", "abs_max", "static_6", "static_4")
_MSE, _MAE, _ABS_MAX = range(3)  # (RULES' indices; then the two fixed rules, one candidate)

_F = np.float32
#: Per rule, (vmax, K = vmax * smax): the value the block max maps to and the tensor
#: constant (smax 256 for the 4/6 candidates, 448 for the fixed rules).
_CONSTANTS = {"mse": (_F(6), _F(6 * 256)), "mae": (_F(6), _F(6 * 256)), "abs_max": (_F(6), _F(6 * 256)),
              "static_6": (_F(6), _F(6 * 448)), "static_4": (_F(4), _F(4 * 448))}
assert tuple(_CONSTANTS) == RULES
_EXPAND = _F(1.5)
_ONE = _F(1.0)
_ZERO = _F(0.0)
_EIGHT = _F(8.0)
_SIX = _F(6.0)
_NEG_ZERO_BITS = np.uint32(0x80000000)
_INF_BITS = np.uint32(0x7F800000)
_F32_MAX = float(np.finfo(np.float32).max)
_FLT_MAX = _F(_F32_MAX)
#: The element factor 1 / fl(decode * s) stays finite for every E4M3 scale s >= 2^-9 when
#: K * 2^9 / amax does (decode ~ amax / K); 2^10 leaves a factor of 2 for the rounding.
#: Below, fouroversix's arithmetic gives inf and NaN elements: an error here.
_TOO_SMALL_FACTOR = 1024.0


@numba.njit(**JIT_SCALAR_FN)
def _round_element(val, factor, clamp):
    """An element of a candidate rounded: (m, neg), ``m`` the magnitude on the E2M1 grid
    (0..6, or 8) and ``neg`` its sign as the code takes it.

    ``scaled = fl(val * factor)``, its magnitude y (with ``clamp``, TE's, at most 6)
    rounded half to even on the E2M1 grid: ``(y + M) - M`` with M = 2^22, 2^23, 2^24
    below 2, below 4 and above (the float32 numbers near M are spaced 0.5, 1, 2, so the
    addition rounds y to the grid's spacing there, ties to even, and the subtraction is
    exact). Without the clamp (fouroversix) y in [7, 9) (an E4M3-subnormal scale rounded
    down; 9 is out of reach) gives 8. A negative that rounds to 0 is negative (-0);
    a product of -0.0 is not in fouroversix (x < 0), is in TE. Branch-free, so that the
    loops over blocks vectorise."""
    scaled = val * factor
    y = abs(scaled)
    if clamp:
        y = min(y, _SIX)
    big = _F(16777216.0) if y >= _F(4.0) else _F(8388608.0)
    magic = _F(4194304.0) if y < _F(2.0) else big
    m = (y + magic) - magic
    # TE's kernel converts with cvt.rn.satfinite.e2m1x2, which keeps the sign bit: a
    # product of -0.0 gives code 0x8 (its Python reference gives 0x0; we follow the
    # kernel). fouroversix: x < 0.
    neg = (scaled < _ZERO) | (clamp & (f32_to_bits(scaled) == _NEG_ZERO_BITS))
    return m, neg


@numba.njit(**JIT_SCALAR_FN)
def _element_code_value(m, neg):
    """The 4-bit code of a rounded element (m, neg) as a float32 value 0..15: sign << 3 |
    E2M1 index (formats.e2m1_index_value); 8 gives 8 (0x8) for either sign (fouroversix
    encodes through bfloat16 bits). (A float, so that a block's codes pack with float
    operations and one conversion.)"""
    idx = e2m1_index_value(m)
    code = idx + _EIGHT if neg else idx
    return _EIGHT if m == _EIGHT else code


@numba.njit(**JIT_SCALAR_FN)
def _element_error(m, neg, val, sf, amax, k_const):
    """A rounded element's error ``fl(fl(fl(q * s) * amax) / K) - val``, q = +-m."""
    q = -m if neg else m
    return (q * sf) * amax / k_const - val


@numba.njit(**JIT_SCALAR_FN)
def _quantize_element(val, factor, sf, amax, k_const, clamp):
    """One element of a candidate: (its code, its error ``fl(fl(fl(q * s) * amax) / K) - val``):
    _round_element, then _element_code_value and _element_error."""
    m, neg = _round_element(val, factor, clamp)
    code = np.uint8(np.int32(_element_code_value(m, neg)))
    return code, _element_error(m, neg, val, sf, amax, k_const)


@numba.njit(**JIT_SCALAR_FN)
def _element_factor(sf, decode, te):
    """The element multiplier of block scale ``sf``: TE's min(1 / (sf * S_dec), FLT_MAX)
    (a zero scale gives FLT_MAX), fouroversix's 1 / (decode * sf) (0 for a zero scale:
    +0 elements)."""
    if te:
        return min(_ONE / (sf * decode), _FLT_MAX)
    return _ONE / (decode * sf) if sf != _ZERO else _ZERO


@numba.njit(**JIT_SCALAR_FN)
def _candidate_scales(bmax, p):
    """A unit's two candidates from its max|x| ``bmax``: (sb6, sb4, sf6, sf4, f6, f4), the
    6 candidate's scale byte E4M3(fl(fl(bmax / vmax) * c)), the 4 candidate's
    E4M3(fl(that * 1.5)) (not bmax / 4), their values and their element factors."""
    # (fouroversix with amax == 0: c is inf, bmax / vmax * c is 0 * inf = NaN in float32
    # as in torch; fouroversix's scale is then 0 (its amax == 0 branch): so here. TE's
    # S_enc is 1 there.)
    pre = bmax / p.vmax * p.c if (p.amax > _ZERO or p.te) else _ZERO
    sb6 = e4m3_code(pre)
    sb4 = e4m3_code(pre * _EXPAND)
    sf6 = E4M3_DECODE[sb6]
    sf4 = E4M3_DECODE[sb4]
    return sb6, sb4, sf6, sf4, _element_factor(sf6, p.decode, p.te), _element_factor(sf4, p.decode, p.te)


@numba.njit(**JIT_SCALAR)
def _candidates(x, r0, c0, tile_rows, p, both, v, c6, c4, e6, e4):
    """Load the unit (rows r0.., columns c0..c0+15) into ``v``; quantize it with the 6
    candidate's scale E4M3(fl(fl(bmax / vmax) * c)) and, if ``both``, the 4 candidate's
    E4M3(fl(that * 1.5)), in one pass over the elements: codes into c6 / c4, the signed
    errors fl(fl(fl(q * s) * amax) / K) - x into e6 / e4. Returns the two scale bytes."""
    bmax = _ZERO
    for a in range(tile_rows):
        for b in range(16):
            val = x[r0 + a, c0 + b]
            v[a * 16 + b] = val
            bmax = max(bmax, abs(val))
    sb6, sb4, sf6, sf4, f6, f4 = _candidate_scales(bmax, p)
    amax, k_const, te = p.amax, p.k_const, p.te
    n = tile_rows * 16
    if both:
        for i in range(n):
            val = v[i]
            k6, d6 = _quantize_element(val, f6, sf6, amax, k_const, te)
            k4, d4 = _quantize_element(val, f4, sf4, amax, k_const, te)
            c6[i] = k6
            e6[i] = d6
            c4[i] = k4
            e4[i] = d4
    else:
        for i in range(n):
            k6, d6 = _quantize_element(v[i], f6, sf6, amax, k_const, te)
            c6[i] = k6
            e6[i] = d6
    return sb6, sb4


@numba.njit(**JIT_SCALAR)
def _torch_sum(t, n):
    """torch CPU's float32 ``sum(-1)`` of n = 16 or 256 non-negative terms: lane j (of 8)
    sums t[8 i + j] over the vectors i, four accumulators over each group of four vectors
    and the rest into the first, the accumulators added in order; then the lanes in order.
    Overwrites t: the four accumulators of the lanes live in its first four vectors (the
    first terms they add, since 0 + t == t for t >= 0), so that each step is one vector
    operation across the 8 lanes."""
    s = _ZERO
    if n == 16:  # (two vectors, one accumulator)
        for j in range(8):
            s += t[j] + t[j + 8]
        return s
    nv = n // 8
    groups = nv // 4
    for g in range(1, groups):
        for k in range(4):
            for j in range(8):
                t[k * 8 + j] += t[(4 * g + k) * 8 + j]
    for i in range(groups * 4, nv):
        for j in range(8):
            t[j] += t[i * 8 + j]
    for j in range(8):
        s += ((t[j] + t[8 + j]) + t[16 + j]) + t[24 + j]
    return s


@numba.njit(**JIT_SCALAR)
def _te_sum(t, n):
    """Transformer Engine's error sum of n = 16 or 256 terms: each row of 16 summed
    sequentially, elements 0..15; a 16x16 tile's 16 row sums then reduced in warp-shuffle
    order (r[i] += r[i + 8], then + 4, + 2, + 1), left in r[0]. Overwrites t[0:16]: row
    a's sum goes to t[a], which belongs to row 0, already summed."""
    rows = n // 16
    for a in range(rows):
        s = t[a * 16]
        for b in range(1, 16):
            s += t[a * 16 + b]
        t[a] = s
    if rows == 1:
        return t[0]
    off = 8
    while off > 0:
        for i in range(off):
            t[i] = t[i] + t[i + off]
        off //= 2
    return t[0]


@numba.njit(**JIT_SCALAR)
def _error(e, n, rule, te):
    """The rule's error of a candidate from its signed errors ``e`` (overwritten): mse
    sums fl(e * e), mae sums |e| (torch's order in fouroversix, TE's in te), abs_max is
    the largest |e|."""
    if rule == _MSE:
        for i in range(n):
            e[i] = mul_rn(e[i], e[i])
    else:
        for i in range(n):
            e[i] = abs(e[i])
    if rule == _ABS_MAX:  # (a max is exact in any order: lane maxima first, one vector step each)
        for g in range(1, n // 8):
            for j in range(8):
                e[j] = max(e[j], e[g * 8 + j])
        m = e[0]
        for j in range(1, 8):
            m = max(m, e[j])
        return m
    return _te_sum(e, n) if te else _torch_sum(e, n)


@numba.njit(**JIT_SCALAR)
def _write(best, sb, r0, tc, tile_rows, packed, scales):
    """The chosen candidate's codes, packed (even element low), and its byte on each row."""
    for a in range(tile_rows):
        row = r0 + a
        scales[row, tc] = sb
        for b in range(8):
            packed[row, tc * 8 + b] = best[a * 16 + 2 * b] | (best[a * 16 + 2 * b + 1] << np.uint8(4))


@numba.njit(**JIT_SCALAR)
def four_over_six_unit(x, tr, tc, tile_rows, p, v, c6, c4, e6, e4, packed, scales):
    """Block (tile_rows = 1) or 16x16 tile (tile_rows = 16) (``tr``, ``tc``) of the
    float32 ``x``: its 6 and 4 candidates, the choice by the rule (the 4 candidate only
    if its error is strictly lower: ties and NaN keep 6), the codes packed into
    ``packed`` and the scale byte into ``scales`` on each of its rows. ``v``, ``c6``,
    ``c4``, ``e6``, ``e4``: scratch of tile_rows * 16. The definition: the GPU twin runs
    it, and the CPU's grouped kernels are held to it (through _four_over_six_kernel)."""
    n = tile_rows * 16
    r0 = tr * tile_rows
    both = p.rule <= _ABS_MAX
    sb6, sb4 = _candidates(x, r0, tc * 16, tile_rows, p, both, v, c6, c4, e6, e4)
    if both and _error(e4, n, p.rule, p.te) < _error(e6, n, p.rule, p.te):
        _write(c4, sb4, r0, tc, tile_rows, packed, scales)
    else:
        _write(c6, sb6, r0, tc, tile_rows, packed, scales)


@numba.njit(**JIT_SCALAR)
def quadratic_error(r, Hj, tile_rows):
    """sum over the tile's rows a (in order) of r_a^T H_j r_a, float64: for each i in
    order, r_a[i] * (sum over k in order of H_j[i, k] * r_a[k]), every sum sequential
    from 0. The Hessian choice's error (validation/SPEC.md §7)."""
    total = 0.0
    for a in range(tile_rows):
        row = 0.0
        for i in range(16):
            acc = 0.0
            for k in range(16):
                acc += mul_rn(np.float64(Hj[i, k]), np.float64(r[a * 16 + k]))
            row += mul_rn(np.float64(r[a * 16 + i]), acc)
        total += row
    return total


@numba.njit(**JIT_SCALAR)
def four_over_six_hessian_unit(x, tr, tc, tile_rows, p, H, v, c6, c4, r6, r4, packed, scales):
    """four_over_six_unit choosing by r^T H_j r (ties keep 6): H the block Hessians
    (K / 16, 16, 16), column block tc's H[tc] for every row of the tile."""
    r0 = tr * tile_rows
    sb6, sb4 = _candidates(x, r0, tc * 16, tile_rows, p, True, v, c6, c4, r6, r4)
    if quadratic_error(r4, H[tc], tile_rows) < quadratic_error(r6, H[tc], tile_rows):
        _write(c4, sb4, r0, tc, tile_rows, packed, scales)
    else:
        _write(c6, sb6, r0, tc, tile_rows, packed, scales)


@numba.njit(**JIT_PARALLEL)
def _four_over_six_hessian_kernel(x, tile_rows, p, H, packed, scales):
    R, C = x.shape
    n = tile_rows * 16
    for tr in numba.prange(R // tile_rows):
        v = np.empty(n, np.float32)
        c6 = np.empty(n, np.uint8)
        c4 = np.empty(n, np.uint8)
        r6 = np.empty(n, np.float32)
        r4 = np.empty(n, np.float32)
        for tc in range(C // 16):
            four_over_six_hessian_unit(x, tr, tc, tile_rows, p, H, v, c6, c4, r6, r4, packed, scales)


#: Units (blocks of 16 or 16x16 tiles) per group of the CPU kernels, one SIMD lane each.
_GROUP = 16


@numba.njit(**JIT_SCALAR_FN)
def _element_term(val, factor, sf, amax, k_const, clamp, mse):
    """One element's term of a candidate's error: the square (``mse``) or the magnitude
    of _element_error (abs_max takes the magnitude too)."""
    m, neg = _round_element(val, factor, clamp)
    d = _element_error(m, neg, val, sf, amax, k_const)
    return mul_rn(d, d) if mse else abs(d)


@numba.njit(**JIT_SCALAR)
def _group_1d(x, r, g0, G, p, X, err6, err4, sb6, sb4, sf6, sf4, f6, f4, sb, f, packed, scales):
    """Blocks g0 .. g0 + G - 1 (G <= _GROUP) of row r, the same arithmetic as
    four_over_six_unit with the blocks side by side (X[i, j] is element i of block
    g0 + j): the block maxima, both candidates' scales and the error sums in their
    order run as vector operations across the blocks; the codes are computed once, for
    the chosen candidate only."""
    c0 = g0 * 16
    for j in range(G):
        for i in range(16):
            X[i, j] = x[r, c0 + 16 * j + i]
    te = p.te
    for j in range(G):  # (_candidate_scales written out: its tuple into arrays ran 1.4x slower here)
        bmax = _ZERO
        for i in range(16):
            bmax = max(bmax, abs(X[i, j]))
        pre = bmax / p.vmax * p.c if (p.amax > _ZERO or te) else _ZERO
        sb6[j] = e4m3_code(pre)
        sb4[j] = e4m3_code(pre * _EXPAND)
        sf6[j] = E4M3_DECODE[sb6[j]]
        sf4[j] = E4M3_DECODE[sb4[j]]
        f6[j] = _element_factor(sf6[j], p.decode, te)
        f4[j] = _element_factor(sf4[j], p.decode, te)
    amax, k_const, rule = p.amax, p.k_const, p.rule
    mse = rule == _MSE
    both = rule <= _ABS_MAX
    # each candidate's error in the recipe's order (_error) -> err6[j], err4[j]
    if not both:
        pass
    elif rule == _ABS_MAX:
        for j in range(G):
            err6[j] = _element_term(X[0, j], f6[j], sf6[j], amax, k_const, te, False)
            err4[j] = _element_term(X[0, j], f4[j], sf4[j], amax, k_const, te, False)
        for i in range(1, 16):
            for j in range(G):
                err6[j] = max(err6[j], _element_term(X[i, j], f6[j], sf6[j], amax, k_const, te, False))
                err4[j] = max(err4[j], _element_term(X[i, j], f4[j], sf4[j], amax, k_const, te, False))
    elif te:  # sequential over the 16 elements
        for j in range(G):
            err6[j] = _element_term(X[0, j], f6[j], sf6[j], amax, k_const, te, mse)
            err4[j] = _element_term(X[0, j], f4[j], sf4[j], amax, k_const, te, mse)
        for i in range(1, 16):
            for j in range(G):
                err6[j] += _element_term(X[i, j], f6[j], sf6[j], amax, k_const, te, mse)
                err4[j] += _element_term(X[i, j], f4[j], sf4[j], amax, k_const, te, mse)
    else:  # torch (_torch_sum): from 0, t_i + t_(i+8) added in order
        for j in range(G):
            err6[j] = _ZERO
            err4[j] = _ZERO
        for i in range(8):
            for j in range(G):
                err6[j] += (_element_term(X[i, j], f6[j], sf6[j], amax, k_const, te, mse)
                            + _element_term(X[i + 8, j], f6[j], sf6[j], amax, k_const, te, mse))
                err4[j] += (_element_term(X[i, j], f4[j], sf4[j], amax, k_const, te, mse)
                            + _element_term(X[i + 8, j], f4[j], sf4[j], amax, k_const, te, mse))
    for j in range(G):  # the choice: 4 only if its error is strictly lower (ties and NaN keep 6)
        four = both and err4[j] < err6[j]
        f[j] = f4[j] if four else f6[j]
        sb[j] = sb4[j] if four else sb6[j]
        scales[r, g0 + j] = sb[j]
    for k in range(8):  # the chosen codes as float32 values 0..15: lo + 16 hi, converted once
        for j in range(G):
            m0, n0 = _round_element(X[2 * k, j], f[j], te)
            m1, n1 = _round_element(X[2 * k + 1, j], f[j], te)
            byte = _element_code_value(m0, n0) + _F(16.0) * _element_code_value(m1, n1)
            packed[r, (g0 + j) * 8 + k] = np.uint8(np.int32(byte))


@numba.njit(**JIT_PARALLEL)
def _four_over_six_rows(x, p, packed, scales):
    """The CPU kernel of 1-D blocks: each row's blocks in groups of _GROUP (_group_1d; the
    last group may be smaller), held to four_over_six_unit, the definition."""
    R, C = x.shape
    nb = C // 16
    for r in numba.prange(R):
        X = np.empty((16, _GROUP), np.float32)
        err6 = np.empty(_GROUP, np.float32)
        err4 = np.empty(_GROUP, np.float32)
        sb6 = np.empty(_GROUP, np.uint8)
        sb4 = np.empty(_GROUP, np.uint8)
        sb = np.empty(_GROUP, np.uint8)
        sf6 = np.empty(_GROUP, np.float32)
        sf4 = np.empty(_GROUP, np.float32)
        f6 = np.empty(_GROUP, np.float32)
        f4 = np.empty(_GROUP, np.float32)
        f = np.empty(_GROUP, np.float32)
        full = nb // _GROUP * _GROUP
        for g0 in range(0, full, _GROUP):  # (the group size a constant here: faster loops)
            _group_1d(x, r, g0, _GROUP, p, X, err6, err4, sb6, sb4, sf6, sf4, f6, f4, sb, f, packed, scales)
        if full < nb:
            _group_1d(x, r, full, nb - full, p, X, err6, err4, sb6, sb4, sf6, sf4, f6, f4, sb, f, packed, scales)


@numba.njit(**JIT_SCALAR)
def _group_2d(x, tr, g0, G, p, X, ACC6, ACC4, err6, err4, sb6, sb4, sf6, sf4, f6, f4, sb, f, packed, scales):
    """16x16 tiles g0 .. g0 + G - 1 (G <= _GROUP) of tile row tr, side by side as in
    _group_1d (X[16 a + b, j] is row a, column b of tile g0 + j). The error sums in the
    recipe's order, per tile: torch's over 256 terms keeps 32 accumulators (term n adds
    to n % 32, in order: lane l of _torch_sum's accumulator k is n % 32 = 8 k + l), then
    ((t_l + t_(8+l)) + t_(16+l)) + t_(24+l) summed over the lanes from 0; TE's sums each
    tile row sequentially, then the 16 row sums in warp-shuffle order (_te_sum); abs_max
    takes the max."""
    r0 = tr * 16
    c0 = g0 * 16
    for a in range(16):
        for j in range(G):
            for b in range(16):
                X[a * 16 + b, j] = x[r0 + a, c0 + 16 * j + b]
    bmax = err6  # (the tile maxima, before the errors: one vector step per element)
    for j in range(G):
        bmax[j] = abs(X[0, j])
    for n in range(1, 256):
        for j in range(G):
            bmax[j] = max(bmax[j], abs(X[n, j]))
    for j in range(G):
        sb6[j], sb4[j], sf6[j], sf4[j], f6[j], f4[j] = _candidate_scales(bmax[j], p)
    amax, k_const, te, rule = p.amax, p.k_const, p.te, p.rule
    mse = rule == _MSE
    both = rule <= _ABS_MAX
    if not both:
        pass
    elif rule == _ABS_MAX:
        for j in range(G):
            err6[j] = _ZERO  # (every term is >= 0)
            err4[j] = _ZERO
        for n in range(256):
            for j in range(G):
                err6[j] = max(err6[j], _element_term(X[n, j], f6[j], sf6[j], amax, k_const, te, False))
                err4[j] = max(err4[j], _element_term(X[n, j], f4[j], sf4[j], amax, k_const, te, False))
    elif te:  # row a's sum, sequential, into ACC[a]; then the shuffle tree
        for a in range(16):
            for j in range(G):
                ACC6[a, j] = _element_term(X[a * 16, j], f6[j], sf6[j], amax, k_const, te, mse)
                ACC4[a, j] = _element_term(X[a * 16, j], f4[j], sf4[j], amax, k_const, te, mse)
            for b in range(1, 16):
                for j in range(G):
                    ACC6[a, j] += _element_term(X[a * 16 + b, j], f6[j], sf6[j], amax, k_const, te, mse)
                    ACC4[a, j] += _element_term(X[a * 16 + b, j], f4[j], sf4[j], amax, k_const, te, mse)
        off = 8
        while off > 0:
            for i in range(off):
                for j in range(G):
                    ACC6[i, j] = ACC6[i, j] + ACC6[i + off, j]
                    ACC4[i, j] = ACC4[i, j] + ACC4[i + off, j]
            off //= 2
        for j in range(G):
            err6[j] = ACC6[0, j]
            err4[j] = ACC4[0, j]
    else:  # torch: term 32 g + m into ACC[m] (indexing by n % 32 ran 1.2x slower); the lanes
        for m in range(32):
            for j in range(G):
                ACC6[m, j] = _element_term(X[m, j], f6[j], sf6[j], amax, k_const, te, mse)
                ACC4[m, j] = _element_term(X[m, j], f4[j], sf4[j], amax, k_const, te, mse)
        for g in range(1, 8):
            for m in range(32):
                for j in range(G):
                    ACC6[m, j] += _element_term(X[32 * g + m, j], f6[j], sf6[j], amax, k_const, te, mse)
                    ACC4[m, j] += _element_term(X[32 * g + m, j], f4[j], sf4[j], amax, k_const, te, mse)
        for j in range(G):
            err6[j] = _ZERO
            err4[j] = _ZERO
        for l in range(8):
            for j in range(G):
                err6[j] += ((ACC6[l, j] + ACC6[8 + l, j]) + ACC6[16 + l, j]) + ACC6[24 + l, j]
                err4[j] += ((ACC4[l, j] + ACC4[8 + l, j]) + ACC4[16 + l, j]) + ACC4[24 + l, j]
    for j in range(G):  # the choice, as in _group_1d
        four = both and err4[j] < err6[j]
        f[j] = f4[j] if four else f6[j]
        sb[j] = sb4[j] if four else sb6[j]
    for a in range(16):
        for j in range(G):
            scales[r0 + a, g0 + j] = sb[j]
        for k in range(8):
            for j in range(G):
                m0, n0 = _round_element(X[a * 16 + 2 * k, j], f[j], te)
                m1, n1 = _round_element(X[a * 16 + 2 * k + 1, j], f[j], te)
                byte = _element_code_value(m0, n0) + _F(16.0) * _element_code_value(m1, n1)
                packed[r0 + a, (g0 + j) * 8 + k] = np.uint8(np.int32(byte))


@numba.njit(**JIT_PARALLEL)
def _four_over_six_tiles(x, p, packed, scales):
    """The CPU kernel of 16x16 tiles: each row of tiles in groups of _GROUP (_group_2d;
    the last group may be smaller), held to four_over_six_unit, the definition."""
    R, C = x.shape
    nb = C // 16
    for tr in numba.prange(R // 16):
        X = np.empty((256, _GROUP), np.float32)
        ACC6 = np.empty((32, _GROUP), np.float32)
        ACC4 = np.empty((32, _GROUP), np.float32)
        err6 = np.empty(_GROUP, np.float32)
        err4 = np.empty(_GROUP, np.float32)
        sb6 = np.empty(_GROUP, np.uint8)
        sb4 = np.empty(_GROUP, np.uint8)
        sb = np.empty(_GROUP, np.uint8)
        sf6 = np.empty(_GROUP, np.float32)
        sf4 = np.empty(_GROUP, np.float32)
        f6 = np.empty(_GROUP, np.float32)
        f4 = np.empty(_GROUP, np.float32)
        f = np.empty(_GROUP, np.float32)
        full = nb // _GROUP * _GROUP
        for g0 in range(0, full, _GROUP):  # (the group size a constant here: faster loops)
            _group_2d(x, tr, g0, _GROUP, p, X, ACC6, ACC4, err6, err4, sb6, sb4, sf6, sf4, f6, f4, sb, f, packed,
                      scales)
        if full < nb:
            _group_2d(x, tr, full, nb - full, p, X, ACC6, ACC4, err6, err4, sb6, sb4, sf6, sf4, f6, f4, sb, f,
                      packed, scales)


@numba.njit(**JIT_PARALLEL)
def _four_over_six_kernel(x, tile_rows, p, packed, scales):
    """Every block (tile_rows = 1) or 16x16 tile (tile_rows = 16) of the float32 (R, C)
    ``x`` through four_over_six_unit, one at a time: codes packed into ``packed``
    (R, C / 2), scale bytes into ``scales`` (R, C / 16). Not called by the package (its
    CPU kernels are _four_over_six_rows and _four_over_six_tiles): the tests hold those
    to this one, the definition."""
    R, C = x.shape
    nbr = R // tile_rows
    nbc = C // 16
    n = tile_rows * 16
    for tr in numba.prange(nbr):
        v = np.empty(n, np.float32)
        c6 = np.empty(n, np.uint8)
        c4 = np.empty(n, np.uint8)
        e6 = np.empty(n, np.float32)
        e4 = np.empty(n, np.float32)
        for tc in range(nbc):
            four_over_six_unit(x, tr, tc, tile_rows, p, v, c6, c4, e6, e4, packed, scales)


#: The 4/6 recipes: the arithmetic of each reference (validation/SPEC.md §7). Per recipe:
#: the rules it has, its default rule and default E4M3 bound ``smax`` of the 4/6 rules
#: (the tensor constant is K = vmax * smax), and whether it is TE's (clamp at 6, a zero
#: scale's elements through FLT_MAX, sequential sums, the warp-shuffle tile reduction,
#: S_enc capped at FLT_MAX and 1 for a zero tensor).
FOUR_OVER_SIX_RECIPES = {
    "fouroversix": {"rules": RULES, "default_rule": "mse", "scale_max": 256, "te": False},
    "te": {"rules": ("mae", "mse"), "default_rule": "mae", "scale_max": 256, "te": True},
}
#: The E4M3 bounds the tensor constant may use (K = 6 * 256 = 1536 or 6 * 448 = 2688).
SCALE_MAXES = (256, 448)

#: What the kernel receives: the rule's index, vmax, K, the tensor amax, the tensor
#: constant c (fouroversix's fl(K / amax), TE's S_enc), decode = fl(1 / c), TE or not.
FosParams = namedtuple("FosParams", ["rule", "vmax", "k_const", "amax", "c", "decode", "te"])


def settings(recipe="fouroversix", rule=None, scale_max=None):
    """(recipe, rule, scale_max, vmax, K) with the recipe's defaults filled in, or
    ValueError naming the choices."""
    if recipe not in FOUR_OVER_SIX_RECIPES:
        raise ValueError(f"Four Over Six recipe must be one of {tuple(FOUR_OVER_SIX_RECIPES)}, got {recipe!r}")
    spec = FOUR_OVER_SIX_RECIPES[recipe]
    rule = spec["default_rule"] if rule is None else rule
    if rule not in spec["rules"]:
        raise ValueError(f"rule for recipe {recipe!r} must be one of {spec['rules']}, got {rule!r}")
    vmax, k_default = _CONSTANTS[rule]
    if scale_max is None:
        smax = spec["scale_max"] if rule in RULES[:3] else int(k_default / vmax)
    else:
        if not isinstance(scale_max, (int, np.integer)) or isinstance(scale_max, bool) or scale_max not in SCALE_MAXES:
            raise ValueError(f"scale_max must be one of {SCALE_MAXES}, got {scale_max!r}")
        smax = int(scale_max)
    return recipe, rule, smax, vmax, _F(float(vmax) * smax)


def tensor_constants(amax, vmax, k_const, te):
    """(c, decode): fouroversix's ``c = fl(K / amax)`` (inf for a zero tensor), or TE's
    ``S_enc = min(fl(K / amax), FLT_MAX)`` (1 when amax is 0 or S_enc is 0); ``decode =
    fl(1 / c)``."""
    amax = _F(amax)
    with np.errstate(divide="ignore", over="ignore"):
        c = _F(k_const / amax) if amax > 0 else _F(np.inf)
        if te:
            c = min(c, _F(_F32_MAX)) if amax > 0 else _ONE
            if c == 0:
                c = _ONE
        decode = _ONE / c
    return _F(c), _F(decode)


def stored_tensor_scale(amax, vmax, k_const, te):
    """The tensor scale an NVFP4Tensor stores, in the decode form ``ts = fl(1 / c)``
    (dequant = ``q * fl(s * ts)``, as a GEMM's alpha applies it); 1.0 for a zero tensor."""
    ts = tensor_constants(amax, vmax, k_const, te)[1]
    return ts if ts > 0 else _ONE


def check_shape(shape, name, block_2d):
    """The units' rows (1 for blocks along a row, 16 for 16x16 tiles) of a ``shape``
    input, or the ValueError of a shape the kernel does not take."""
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (R, C), got shape {shape}")
    R, C = shape
    if C % 16:
        raise ValueError(f"{name}.shape[1] = {C} must be a multiple of 16")
    if block_2d and R % 16:
        raise ValueError(f"with 16x16 blocks, {name}.shape[0] = {R} must be a multiple of 16")
    return 16 if block_2d else 1


def kernel_params(name, rule, vmax, k_const, te, amax, tensor_amax):
    """(FosParams, stored tensor scale) from the input's float32 max|x| ``amax`` (or the
    caller's ``tensor_amax``, checked against it), or the ValueError of an amax too small
    for the arithmetic."""
    if tensor_amax is not None:
        amax = core.check_tensor_amax(tensor_amax, amax)
    if amax > 0 and float(k_const) * _TOO_SMALL_FACTOR / float(amax) > _F32_MAX:
        raise ValueError(f"max|{name}| = {float(amax):.6g} is too small for the 4/6 float32 arithmetic: "
                         f"{int(k_const)} / max|{name}|, or the element factor of a subnormal block scale, "
                         f"overflows (max|{name}| must be at least {float(k_const) * _TOO_SMALL_FACTOR / _F32_MAX:.3g})")
    c, decode = tensor_constants(amax, vmax, k_const, te)
    p = FosParams(np.int64(RULES.index(rule)), vmax, k_const, amax, c, decode, te)
    return p, stored_tensor_scale(amax, vmax, k_const, te)


def prepare_2d(x, name, rule, block_2d, recipe, scale_max, tensor_amax):
    """The checks and constants of _quantize_2d (shared with the GPU twin,
    gpu_four_over_six): (float32 C-contiguous (R, C) copy of ``x``, the units' rows,
    FosParams, stored tensor scale)."""
    recipe, rule, smax, vmax, k_const = settings(recipe, rule, scale_max)
    te = FOUR_OVER_SIX_RECIPES[recipe]["te"]
    W = core.as_float_array(x, name)
    tile_rows = check_shape(W.shape, name, block_2d)
    R, C = W.shape
    with np.errstate(over="ignore"):  # (float64 beyond float32's range: Inf, reported below)
        xf = np.ascontiguousarray(W, dtype=np.float32)
    top = max_abs_bits(xf)  # (one parallel pass: max|x|, and whether any is Inf or NaN)
    if top >= _INF_BITS:
        units = (~np.isfinite(xf)).reshape(R // tile_rows, tile_rows, C // 16, 16).any(axis=(1, 3))
        raise core.nonfinite_error(W, name, int(units.sum()))
    amax = np.array([top], np.uint32).view(np.float32)[0]
    p, ts = kernel_params(name, rule, vmax, k_const, te, amax, tensor_amax)
    return xf, tile_rows, p, ts


def _quantize_2d(x, name, rule, block_2d, recipe, scale_max, tensor_amax, H=None):
    """The checks and the kernel call shared by nvfp4_four_over_six and quantize:
    (scale_bytes, packed, amax, stored tensor scale) of a 2-D array ``x``; with block
    Hessians ``H`` (checked, float64) the choice is by r^T H r (``rule`` then sets only
    the constants)."""
    xf, tile_rows, p, ts = prepare_2d(x, name, rule, block_2d, recipe, scale_max, tensor_amax)
    R, C = xf.shape
    packed = core.output_array((R, C // 2), np.uint8)  # (every byte is written below)
    scales = core.output_array((R, C // 16), np.uint8)
    if xf.size and H is None and tile_rows == 1:
        _four_over_six_rows(xf, p, packed, scales)
    elif xf.size and H is None:
        _four_over_six_tiles(xf, p, packed, scales)
    elif xf.size:
        _four_over_six_hessian_kernel(xf, tile_rows, p, H, packed, scales)
    return scales, packed, p.amax, ts


def nvfp4_four_over_six(W, rule=None, *, block_2d=False, recipe="fouroversix", scale_max=None, tensor_amax=None):
    """Four Over Six NVFP4 of a 2-D ``W`` (R, C). With the default recipe bit-identical
    to fouroversix 1.0.5's reference ``quantize_to_fp4(W, scale_rule=rule,
    block_scale_2d=block_2d)`` (its scales before the 128x4 swizzle); with
    ``recipe="te"`` to Transformer Engine's 4over6 quantizer (``reference_nvfp4.py``).

    Parameters
    ----------
    W : array_like, shape (R, C)
        float32, bfloat16 or float16 (converted to float32 exactly; float64 is rounded
        to float32 first). C a multiple of 16; with ``block_2d`` R too. Finite.
    rule : {"mse", "mae", "abs_max", "static_6", "static_4"} or None
        How each block picks between its 6 and 4 candidates (:data:`RULES`); None takes
        the recipe's default (fouroversix: "mse"; te: "mae", which has "mae" and "mse").
    block_2d : bool, keyword-only
        One scale per 16x16 tile (TE's weight layout) instead of per 16 elements of a row.
    recipe : {"fouroversix", "te"}, keyword-only
        The arithmetic (:data:`FOUR_OVER_SIX_RECIPES`, validation/SPEC.md §7).
    scale_max : {256, 448} or None, keyword-only
        The E4M3 bound of the tensor constant K = vmax * scale_max; None: 256 for the 4/6
        rules (both recipes' default), 448 for fouroversix's static rules.
    tensor_amax : float, optional, keyword-only
        The amax of the whole tensor when ``W`` is a slice of it (default max|W|).

    Returns
    -------
    scale_bytes : ndarray (R, C // 16) uint8
        E4M3 bytes, row-major; in 2-D mode a tile's byte on each of its 16 rows.
    packed : ndarray (R, C // 2) uint8
        E2M1 codes, element 2i in the low nibble of byte i.
    amax : numpy.float32
        The tensor amax (max|W| or ``tensor_amax``), which fouroversix returns as the
        tensor's scale information: values decode as ``code * E4M3(scale) * amax / K``
        with K = 1536 (the 4/6 rules), 2688 (static_6) or 1792 (static_4).
    """
    return _quantize_2d(W, "W", rule, block_2d, recipe, scale_max, tensor_amax)[:3]


def four_over_six_blocks(W, dim=-1, *, as_bytes=True, recipe="fouroversix", rounding=None, tensor_amax=None,
                         rule=None, scale_max=None, block_shape=None, X=None, H_blocks=None):
    """Four Over Six in :func:`nvfp4_np.quantize`'s calling convention: ``W`` blocked
    (..., K // 16, 16) along ``dim = -1``, or with ``block_shape=(16, 16)`` a (R, K // 16,
    16) view of a 2-D weight; returns ``(scale_bytes (..., K // 16), codes (..., K // 16,
    8), stored tensor scale, how blocks chose)`` (:func:`nvfp4_four_over_six` for the
    arithmetic). With activations ``X`` (T, K) or block Hessians ``H_blocks`` (K // 16,
    16, 16) each block (or tile) keeps the candidate of lower r^T H_j r
    (:func:`quadratic_error`; X gives H_j = X_j^T X_j in float64), ties keep 6; the
    choice is then reported as "hessian" and ``rule`` must be None."""
    x = np.asarray(W)
    block_2d, lead = check_blocks_call(x.shape, dim, as_bytes, rounding, block_shape)
    recipe = getattr(recipe, "name", recipe)  # (quantize passes the Recipe record)
    chosen = settings(recipe, rule, scale_max)[1]  # (checked before any Hessian is computed)
    H = _hessians(X, H_blocks, x.shape[-2], rule)
    rule = chosen
    flat = x.reshape(math.prod(lead), x.shape[-2] * 16)
    sb, packed, _, ts = _quantize_2d(flat, "W", rule, block_2d, recipe, scale_max, tensor_amax, H)
    return (sb.reshape(lead + (x.shape[-2],)), packed.reshape(lead + (x.shape[-2], 8)), ts,
            rule if H is None else "hessian")


def check_blocks_call(shape, dim, as_bytes, rounding, block_shape):
    """The argument checks of four_over_six_blocks (and its GPU twin) for a blocked W of
    ``shape``: (whether 16x16 blocks, the shape before the block columns)."""
    shape = tuple(shape)
    if not as_bytes or dim not in (-1, len(shape) - 1):
        raise ValueError("four_over_six_blocks returns bytes of blocks along the last axis (as_bytes=True, dim=-1)")
    if rounding not in (None, "rne"):
        raise ValueError(f"Four Over Six rounds E2M1 half to even: rounding must be 'rne' or None, got {rounding!r}")
    block_2d = block_shape is not None and registry.block_shape(block_shape) == (16, 16)
    if block_shape is not None and not block_2d:
        raise ValueError(f"block_shape must be None or (16, 16), got {block_shape!r}")
    if len(shape) < 2 or shape[-1] != 16:
        raise ValueError(f"Four Over Six has blocks of 16 elements (W blocked as (..., K // 16, 16)), got {shape}")
    lead = shape[:-2]
    if block_2d and len(lead) != 1:
        raise ValueError(f"16x16 blocks need a 2-D W, got {len(lead) + 1} dimensions")
    return block_2d, lead


def _hessians(X, H_blocks, n_blocks, rule):
    """The block Hessians (float64) of the Hessian choice from ``X`` or ``H_blocks``, or
    None without either."""
    if X is None and H_blocks is None:
        return None
    if X is not None and H_blocks is not None:
        raise ValueError("pass X or H_blocks, not both")
    if rule is not None:
        raise ValueError(f"with X or H_blocks the blocks choose by r^T H r: rule must be None, got {rule!r}")
    if X is not None:
        from .hessian import block_hessians

        X = core.as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != n_blocks * 16:
            raise ValueError(f"X must be (T, K) with K = {n_blocks * 16} (the weights' K), got shape {X.shape}")
        return block_hessians(X, 16, accumulate=np.float64)
    return np.ascontiguousarray(core.check_hessian_blocks(H_blocks, n_blocks, 16), dtype=np.float64)
