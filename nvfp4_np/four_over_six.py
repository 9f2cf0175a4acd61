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

import numba
import numpy as np

from . import core
from ._arith import mul_rn
from ._config import JIT_PARALLEL, JIT_SCALAR
from .formats import E4M3_DECODE, e2m1_index, e4m3_code, rint_small

__all__ = ["nvfp4_four_over_six", "RULES"]

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
_F32_MAX = float(np.finfo(np.float32).max)
#: The element factor 1 / fl(decode * s) stays finite for every E4M3 scale s >= 2^-9 when
#: K * 2^9 / amax does (decode ~ amax / K); 2^10 leaves a factor of 2 for the rounding.
#: Below, fouroversix's arithmetic gives inf and NaN elements: an error here.
_TOO_SMALL_FACTOR = 1024.0


@numba.njit(**JIT_SCALAR)
def _quantize_element(val, factor, sf, amax, k_const):
    """One element of a candidate: (its code, its error ``fl(fl(fl(q * s) * amax) / K) - val``).

    ``scaled = fl(val * factor)`` (factor 0 when the scale is 0: scaled is then +-0, code
    0), its magnitude y rounded half to even on the E2M1 grid with no clamp at 6: ``y /
    spacing`` (spacing 0.5 below 2, 1 below 4, 2 above) is exact, rint_small rounds it,
    so y in [7, 9) (an E4M3-subnormal scale rounded down; 9 is out of reach) gives 8.
    The code is sign << 3 | index (0, 0.5, 1, 1.5, 2, 3, 4, 6 -> 0..7) with 8 -> 0x8 for
    either sign (fouroversix encodes through bfloat16 bits), a negative that rounds to 0
    gives -0 (0x8), -0.0 gives 0x0."""
    scaled = val * factor
    y = abs(scaled)
    small = y < _F(2.0)
    mid = y < _F(4.0)
    inv = _F(2.0) if small else (_ONE if mid else _F(0.5))
    spacing = _F(0.5) if small else (_ONE if mid else _F(2.0))
    m = rint_small(y * inv) * spacing
    neg = scaled < _ZERO
    idx = np.uint8(e2m1_index(m))  # (m <= 6 where it is used)
    code = np.uint8(8) if m == _EIGHT else (idx | np.uint8(8) if neg else idx)
    q = -m if neg else m
    return code, (q * sf) * amax / k_const - val


@numba.njit(**JIT_SCALAR)
def _candidate(v, n, pre, decode, amax, k_const, rule, codes, err):
    """Quantize the n values ``v`` with the scale E4M3(``pre``): codes into ``codes``,
    the per-element error terms of ``rule`` into ``err`` (none for the static rules);
    returns the scale byte."""
    sb = e4m3_code(pre)
    sf = E4M3_DECODE[sb]
    factor = _ONE / (decode * sf) if sf != _ZERO else _ZERO
    if rule == _MSE:
        for i in range(n):
            c, e = _quantize_element(v[i], factor, sf, amax, k_const)
            codes[i] = c
            err[i] = mul_rn(e, e)
    elif rule == _MAE or rule == _ABS_MAX:
        for i in range(n):
            c, e = _quantize_element(v[i], factor, sf, amax, k_const)
            codes[i] = c
            err[i] = abs(e)
    else:
        for i in range(n):
            codes[i] = _quantize_element(v[i], factor, sf, amax, k_const)[0]
    return sb


@numba.njit(**JIT_SCALAR)
def _torch_sum(t, n):
    """torch CPU's float32 ``sum(-1)`` of n = 16 or 256 non-negative terms: lane j (of 8)
    sums t[8 i + j] over the vectors i, four accumulators over each group of four vectors
    and the rest into the first, the accumulators added in order; then the lanes in order."""
    nv = n // 8
    groups = nv // 4
    s = _ZERO
    for j in range(8):
        a0 = a1 = a2 = a3 = _ZERO
        for g in range(groups):
            a0 += t[(4 * g) * 8 + j]
            a1 += t[(4 * g + 1) * 8 + j]
            a2 += t[(4 * g + 2) * 8 + j]
            a3 += t[(4 * g + 3) * 8 + j]
        total = a0
        for i in range(groups * 4, nv):
            total += t[i * 8 + j]
        total = ((total + a1) + a2) + a3
        s += total
    return s


@numba.njit(**JIT_SCALAR)
def _error(err, n, rule):
    if rule == _ABS_MAX:
        e = err[0]
        for i in range(1, n):
            e = max(e, err[i])
        return e
    return _torch_sum(err, n)


@numba.njit(**JIT_PARALLEL)
def _four_over_six_kernel(x, tile_rows, amax, rule, vmax, k_const, packed, scales):
    """Every block (tile_rows = 1) or 16x16 tile (tile_rows = 16) of the float32 (R, C)
    ``x``: codes packed into ``packed`` (R, C / 2), scale bytes into ``scales`` (R, C / 16)."""
    R, C = x.shape
    nbr = R // tile_rows
    nbc = C // 16
    n = tile_rows * 16
    c = k_const / amax
    decode = _ONE / c
    for tr in numba.prange(nbr):
        v = np.empty(n, np.float32)
        c6 = np.empty(n, np.uint8)
        c4 = np.empty(n, np.uint8)
        e6 = np.empty(n, np.float32)
        e4 = np.empty(n, np.float32)
        r0 = tr * tile_rows
        for tc in range(nbc):
            bmax = _ZERO
            for a in range(tile_rows):
                for b in range(16):
                    val = x[r0 + a, tc * 16 + b]
                    v[a * 16 + b] = val
                    bmax = max(bmax, abs(val))
            # (amax == 0: c is inf, bmax / vmax * c is 0 * inf = NaN in float32 as in
            # torch; fouroversix's scale is then 0 (its amax == 0 branch): so here.)
            pre = bmax / vmax * c if amax > _ZERO else _ZERO
            sb = _candidate(v, n, pre, decode, amax, k_const, rule, c6, e6)
            best = c6
            if rule <= _ABS_MAX:
                sb4 = _candidate(v, n, pre * _EXPAND, decode, amax, k_const, rule, c4, e4)
                if _error(e4, n, rule) < _error(e6, n, rule):  # strict: ties (and NaN) keep 6
                    sb = sb4
                    best = c4
            for a in range(tile_rows):
                row = r0 + a
                scales[row, tc] = sb
                for b in range(8):
                    lo = best[a * 16 + 2 * b]
                    hi = best[a * 16 + 2 * b + 1]
                    packed[row, tc * 8 + b] = lo | (hi << np.uint8(4))


def nvfp4_four_over_six(W, rule="mse", *, block_2d=False):
    """Four Over Six NVFP4 of a 2-D ``W`` (R, C), bit-identical to fouroversix 1.0.5's
    reference ``quantize_to_fp4(W, scale_rule=rule, block_scale_2d=block_2d)`` (its
    scales before the 128x4 swizzle).

    Parameters
    ----------
    W : array_like, shape (R, C)
        float32, bfloat16 or float16 (converted to float32 exactly; float64 is rounded
        to float32 first). C a multiple of 16; with ``block_2d`` R too. Finite.
    rule : {"mse", "mae", "abs_max", "static_6", "static_4"}
        How each block picks between its 6 and 4 candidates (:data:`RULES`).
    block_2d : bool
        One scale per 16x16 tile (TE's weight layout) instead of per 16 elements of a row.

    Returns
    -------
    scale_bytes : ndarray (R, C // 16) uint8
        E4M3 bytes, row-major; in 2-D mode a tile's byte on each of its 16 rows.
    packed : ndarray (R, C // 2) uint8
        E2M1 codes, element 2i in the low nibble of byte i.
    amax : numpy.float32
        max|W|, which fouroversix returns as the tensor's scale information: values
        decode as ``code * E4M3(scale) * amax / K`` with K = 1536 (the 4/6 rules), 2688
        (static_6) or 1792 (static_4).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    W = core.as_float_array(W, "W")
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (R, C), got shape {W.shape}")
    R, C = W.shape
    if C % 16:
        raise ValueError(f"W.shape[1] = {C} must be a multiple of 16")
    if block_2d and R % 16:
        raise ValueError(f"with block_2d, W.shape[0] = {R} must be a multiple of 16 (16x16 tiles)")
    tile_rows = 16 if block_2d else 1
    with np.errstate(over="ignore"):  # (float64 beyond float32's range: Inf, reported below)
        x = np.ascontiguousarray(W, dtype=np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        units = bad.reshape(R // tile_rows, tile_rows, C // 16, 16).any(axis=(1, 3))
        raise core.nonfinite_error(W, "W", int(units.sum()))
    amax = np.float32(np.abs(x).max()) if x.size else np.float32(0.0)
    vmax, k_const = _CONSTANTS[rule]
    if amax > 0 and float(k_const) * _TOO_SMALL_FACTOR / float(amax) > _F32_MAX:
        raise ValueError(f"max|W| = {float(amax):.6g} is too small for fouroversix's float32 arithmetic: "
                         f"{int(k_const)} / max|W|, or the element factor of a subnormal block scale, "
                         f"overflows (max|W| must be at least {float(k_const) * _TOO_SMALL_FACTOR / _F32_MAX:.3g})")
    packed = np.zeros((R, C // 2), np.uint8)
    scales = np.zeros((R, C // 16), np.uint8)
    if x.size:
        _four_over_six_kernel(x, tile_rows, amax, RULES.index(rule), vmax, k_const, packed, scales)
    return scales, packed, amax
