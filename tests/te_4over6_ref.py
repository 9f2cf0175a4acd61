"""Transformer Engine's NVFP4 "Four Over Six" (4over6) quantizer, written independently in
NumPy from TE's source: the rule nvfp4_np's ``recipe="te"`` is held to
(tests/test_four_over_six_te.py).

Read at NVIDIA/TransformerEngine d0067d0da6cb01811b8072a7d304f0e00344ce2b (4over6 came
in PR #2972, dc9af4abc; its error path was reworked in #3068, b972fa899):

* ``transformer_engine/common/cast/nvfp4/quantize_4over6_nvfp4.cuh`` (the kernel, "K:"
  below), with ``compute_global_encode_scaling_factor_FP4`` in ``core_nvfp4.cuh``;
* ``transformer_engine/pytorch/custom_recipes/reference_nvfp4.py``,
  ``NVFP4QuantizerRef._quantize_blockwise_4over6_reference`` (the reference, "R:").

Where the two can give different bytes the kernel is followed (it is what the hardware
does); see ``zero_sign``. Only the default error path (``nvfp4_4over6_err_use_fast_math
= False``) is written here; the fast-math one (errors of FP16 products in the scaled
domain) is not.

Every value is a float32 NumPy array and every arithmetic operation is one float32
operation, rounded once, in the order TE writes it (the kernel uses ``__fmul_rn``,
``__fadd_rn``, ``__fsub_rn``, ``__fdiv_rn`` for the error, so nothing is fused; the cast
files are not built with ``--use_fast_math``, so subnormals are kept). The loops run over
the 16 elements (and the 16 rows of a tile) in TE's order, vectorised over the blocks.

The arithmetic, operation by operation:

1. Tensor encode scale (K: core_nvfp4.cuh ``compute_global_encode_scaling_factor_FP4``,
   R: ``_quantize_blockwise_reference``): ``S_enc = fl(fl(E4M3MAX * 6) / amax)``, then
   ``fminf(S_enc, FLT_MAX)``; the kernel returns 1 when ``amax == 0`` or ``S_enc == 0``
   (the reference only for ``S_enc == 0``: for amax 0 it keeps FLT_MAX; the bytes are 0
   either way, only S_dec differs). ``S_dec = fl(1 / S_enc)`` (K: compute_scale_pair).
2. Block amax: ``fmaxf`` of ``|x|`` over the 16 elements (2-D: then over the 16 rows of
   the tile, a warp max; the order of a max does not matter).
3. Candidate scales (K: compute_scale_pair; R: ``decode_scale_base``):
   ``base = fl(fl(bmax / 6) * S_enc)``; the 4 candidate's ``fl(base * 1.5)``; each
   ``fminf(., 448)`` (448 = the E4M3 type's max, whatever E4M3MAX is) and cast to E4M3,
   round to nearest even (the kernel's ``__nv_fp8_e4m3`` from float; the reference clamps
   then ``.to(float8_e4m3fn)``).
4. Element factor: ``inv = fminf(fl(1 / fl(sf * S_dec)), FLT_MAX)`` (a zero scale gives
   FLT_MAX).
5. Elements: ``v = fl(x * inv)``, then ``cvt.rn.satfinite.e2m1x2.f32``: magnitudes above 6
   saturate to 6 (the reference: ``clamp(., -6, 6)``), round to nearest even on the E2M1
   grid, the sign bit kept (so a negative that rounds to 0 is -0, code 0x8).
   -0.0: the hardware conversion keeps the sign bit of a zero (CUDA's cuda_fp4.hpp
   emulation of that instruction: zero/underflow gives 0, then ``| sign``), so v = -0.0
   gives code 0x8; the reference's ``cast_to_fp4x2`` gives code 0 (``x >= 0.0`` is true
   for -0.0 and ``x < -0.0`` is false). ``zero_sign="reference"`` gives the reference's.
   (NaN: the hardware gives +6, code 0x7; the reference code 0; not used here, the
   library refuses non-finite input.)
6. Error of each element (K: accumulate_dequant_error; R: the ``for idx`` loop):
   ``val = fl(fl(fl(q * sf) * amax) / fl(6 * E4M3MAX))`` with q the E2M1 value of the
   code (the kernel decodes through ``cvt.rn.f16x2.e2m1x2``: exact) and amax the raw
   tensor amax (not 1 / S_enc); ``diff = fl(val - x)``; MAE ``|diff|``, MSE
   ``fl(diff * diff)``.
7. Sum: sequential, ``err = 0``, then ``err = fl(err + e_i)`` for i = 0..15 (K: the 8
   elements of x0 then the 8 of x1; R: ``for idx in range(16)``).
8. 2-D (16x16 tile): each row's sequential sum as above (each row quantized with the
   tile's scales), then the 16 row sums reduced as ``__shfl_down_sync`` with offsets 8,
   4, 2, 1 does: ``r[i] = fl(r[i] + r[i + off])`` (own value first), lane 0's result
   broadcast (K: reduce_group_sum_16; R: ``_sum_4over6_2d_error``, the same tree).
9. Choice: ``err4 < err6`` strictly picks the 4 candidate; ties (and NaN) keep 6.

Outputs: packed codes (R, C/2) uint8, element 2i in the low nibble (the first operand of
``cvt ... e2m1x2`` goes in the upper nibble, TE passes x[2i+1] first); scale bytes
(R, C/16) uint8, a 16x16 tile's byte on each of its 16 rows; S_dec float32.

``_mutant`` (tests only) switches one rule to a wrong one; see MUTANTS.
"""

import ml_dtypes
import numpy as np

F32 = np.float32
FLT_MAX = F32(np.finfo(np.float32).max)
E4M3_TYPE_MAX = F32(448.0)  # detail::TypeExtrema<fp8e4m3>::max
FP4_MAX = F32(6.0)  # detail::TypeExtrema<fp4e2m1>::max
EXPAND_TO_MAP4 = F32(1.5)

#: E2M1 magnitudes by code (0..7); code | 8 is the negative.
E2M1_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
#: The midpoints between neighbours; a value exactly on one rounds to the even code.
_MIDPOINTS = (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0)

#: The wrong rules the tests check are caught (one per name).
MUTANTS = (
    "torch_sum",  # torch CPU's sum(-1) order for the 16 terms instead of sequential
    "no_clamp",  # no saturation at 6: [7, 9) rounds to 8 (packed as 0x8, fouroversix's)
    "rowmajor_2d",  # the 256 terms of a tile summed sequentially, row-major
    "inv6_scale",  # bmax * fl(S_enc * fl(1/6)) instead of fl(bmax / 6) * S_enc
    "ties_keep_4",  # err4 <= err6 picks 4
    "reciprocal_amax",  # the error through S_dec: q * sf * S_dec instead of q * sf * amax / K
    "pairwise_rows",  # 2-D: rows summed (r0 + r1) + (r2 + r3) ... instead of the shuffle tree
)


def global_encode_scale(amax, e4m3_max):
    """K: compute_global_encode_scaling_factor_FP4<E4M3_MAX>; (S_enc, S_dec)."""
    amax = F32(amax)
    with np.errstate(divide="ignore", over="ignore"):
        s_enc = (F32(e4m3_max) * FP4_MAX) / amax  # 1536 or 2688, exact
        s_enc = np.fmin(s_enc, FLT_MAX)
    if amax == F32(0.0) or s_enc == F32(0.0):
        s_enc = F32(1.0)
    s_dec = F32(1.0) / s_enc
    return F32(s_enc), F32(s_dec)


def e4m3_byte(v):
    """fminf(v, 448) then E4M3, round to nearest even (v >= 0 here): (bytes, float32 values)."""
    v = np.fmin(np.asarray(v, F32), E4M3_TYPE_MAX)
    e = v.astype(ml_dtypes.float8_e4m3fn)
    return e.view(np.uint8), e.astype(F32)


def e2m1_cvt(v, zero_sign="kernel", no_clamp=False):
    """cvt.rn.satfinite.e2m1x2.f32 of the float32 array v, one element at a time:
    (codes uint8, the float32 value each code decodes to, with its sign).

    The magnitude is compared with the midpoints between grid neighbours: above a
    midpoint goes up, on one goes to the even code (0, 2, 4, 6 have mantissa bit 0),
    above 6 saturates to code 7."""
    v = np.asarray(v, F32)
    a = np.abs(v).astype(np.float64)  # (exact)
    idx = np.zeros(v.shape, np.int64)
    for k, m in enumerate(_MIDPOINTS):
        idx += a > m
        tie = a == m
        idx += tie & (k % 2 == 1)  # on midpoint k (between codes k, k+1): the even one
    mag = np.array(E2M1_GRID, F32)[np.minimum(idx, 7)]
    neg = np.signbit(v)
    if zero_sign == "reference":  # cast_to_fp4x2: -0.0 falls in the (x >= 0) & (x <= 0.25) bin
        neg = neg & (v != 0)
    elif zero_sign != "kernel":
        raise ValueError(zero_sign)
    codes = idx.astype(np.uint8) | (neg.astype(np.uint8) << 3)
    if no_clamp:  # mutant: [7, 9) -> 8, its nibble 0x8 whatever the sign (fouroversix's)
        eight = a >= 7.0
        codes = np.where(eight, np.uint8(8), codes)
        mag = np.where(eight, F32(8.0), mag)
    q = np.where(neg, -mag, mag).astype(F32)
    return codes, q


def _seq_sum(terms):
    """terms (..., 16): err = 0; err = fl(err + t_i), i = 0..15."""
    err = np.zeros(terms.shape[:-1], F32)
    for i in range(terms.shape[-1]):
        err = err + terms[..., i]
    return err


def _torch_sum16(terms):
    """(mutant) torch CPU's float32 sum(-1) of 16 terms: lane j = t[j] + t[j + 8], the
    8 lanes then added left to right."""
    lanes = [terms[..., j] + terms[..., j + 8] for j in range(8)]
    s = lanes[0]
    for j in range(1, 8):
        s = s + lanes[j]
    return s


def _shuffle_tree(rows):
    """rows (..., 16) of float32 row sums: K reduce_group_sum_16, lane i adds lane
    i + off (off = 8, 4, 2, 1; value += shfl_down(value, off)); lane 0's value."""
    r = [rows[..., i] for i in range(16)]
    off = 8
    while off > 0:
        r = [r[i] + r[i + off] if i + off < 16 else r[i] for i in range(16)]
        off //= 2
    return r[0]


def _candidate(x, sf, s_dec, amax, err_mode, e4m3_max, zero_sign, mutant):
    """x (..., 16) float32, sf (..., 1) float32: (codes, error terms) of one candidate."""
    with np.errstate(divide="ignore", over="ignore"):
        inv = np.fmin(F32(1.0) / (sf * s_dec), FLT_MAX)  # a zero scale: 1/0 = inf -> FLT_MAX
        v = x * inv
    codes, q = e2m1_cvt(v, zero_sign, no_clamp=(mutant == "no_clamp"))
    if mutant == "reciprocal_amax":
        val = (q * sf) * s_dec
    else:
        denom = FP4_MAX * F32(e4m3_max)  # err_denom = fp4_max * fp8_max, exact
        val = ((q * sf) * F32(amax)) / denom
    diff = val - x
    terms = np.abs(diff) if err_mode == "mae" else diff * diff
    return codes, terms.astype(F32), diff.astype(F32)


def quantize_te_4over6(x, err_mode="mae", e4m3_max=256, block_2d=False, global_amax=None,
                       zero_sign="kernel", _mutant=None, H=None):
    """TE's 4over6 NVFP4 of a 2-D x (R, C), C a multiple of 16 (with block_2d R too):
    (packed (R, C/2) uint8, scale bytes (R, C/16) uint8, S_dec float32).

    x: float32 or bfloat16 (or anything that converts to float32 exactly); err_mode
    "mae" or "mse"; e4m3_max 256 or 448 (the E4M3MAX of S_enc and of the error's
    denominator); global_amax: the tensor amax (default max|x|); zero_sign: "kernel"
    (-0.0 gives code 0x8, as the hardware conversion) or "reference" (code 0, as
    reference_nvfp4.py's cast_to_fp4x2). ``H`` (block Hessians (C/16, 16, 16), not TE's:
    nvfp4_np's Hessian choice, validation/SPEC.md §4.7): each block or tile keeps the
    candidate of lower r^T H_j r (fouroversix_ref.quadratic_error_ref of the signed
    errors ``diff``), ties keep 6."""
    err_mode = err_mode.lower()
    if err_mode not in ("mae", "mse") or e4m3_max not in (256, 448):
        raise ValueError((err_mode, e4m3_max))
    if _mutant is not None and _mutant not in MUTANTS:
        raise ValueError(_mutant)
    x = np.asarray(x)
    xf = x.astype(F32)
    if x.dtype != F32:
        assert np.array_equal(xf.astype(x.dtype).view(np.uint8), x.view(np.uint8)), "not exact in float32"
    R, C = xf.shape
    assert C % 16 == 0 and (not block_2d or R % 16 == 0)
    amax = F32(np.max(np.abs(xf))) if global_amax is None else F32(global_amax)
    if xf.size == 0:
        amax = F32(0.0) if global_amax is None else amax
    s_enc, s_dec = global_encode_scale(amax, e4m3_max)

    if block_2d:  # (tiles, 16 rows, 16 cols)
        blocks = xf.reshape(R // 16, 16, C // 16, 16).transpose(0, 2, 1, 3).reshape(-1, 16, 16)
        bmax = np.abs(blocks).max(axis=(1, 2))[:, None, None]  # (tiles, 1, 1)
    else:  # (blocks, 16)
        blocks = xf.reshape(-1, 16)
        bmax = np.abs(blocks).max(axis=1)[:, None]
    bmax = bmax.astype(F32)

    if _mutant == "inv6_scale":
        base = bmax * (s_enc * (F32(1.0) / FP4_MAX))
    else:
        base = (bmax / FP4_MAX) * s_enc
    sb4, sf4 = e4m3_byte(base * EXPAND_TO_MAP4)
    sb6, sf6 = e4m3_byte(base)

    c4, t4, r4 = _candidate(blocks, sf4, s_dec, amax, err_mode, e4m3_max, zero_sign, _mutant)
    c6, t6, r6 = _candidate(blocks, sf6, s_dec, amax, err_mode, e4m3_max, zero_sign, _mutant)

    if H is not None:
        from fouroversix_ref import quadratic_error_ref

        Hj = np.asarray(H, np.float64)[np.arange(len(blocks)) % (C // 16)]
        shape = (len(blocks), 16 if block_2d else 1, 16)
        e4, e6 = quadratic_error_ref(r4.reshape(shape), Hj), quadratic_error_ref(r6.reshape(shape), Hj)
        e4, e6 = e4[:, None], e6[:, None]
    elif _mutant == "torch_sum":
        e4, e6 = _torch_sum16(t4), _torch_sum16(t6)
    else:
        e4, e6 = _seq_sum(t4), _seq_sum(t6)
    if block_2d and H is None:  # e4, e6: (tiles, 16) row sums
        if _mutant == "rowmajor_2d":
            e4, e6 = _seq_sum(t4.reshape(-1, 256)), _seq_sum(t6.reshape(-1, 256))
        elif _mutant == "pairwise_rows":
            def pw(r):
                r = [r[..., i] for i in range(16)]
                while len(r) > 1:
                    r = [r[2 * i] + r[2 * i + 1] for i in range(len(r) // 2)]
                return r[0]
            e4, e6 = pw(e4), pw(e6)
        else:
            e4, e6 = _shuffle_tree(e4), _shuffle_tree(e6)
        e4, e6 = e4[:, None], e6[:, None]  # (tiles, 1)
    elif H is None:
        e4, e6 = e4[:, None], e6[:, None]  # (blocks, 1)

    pick4 = (e4 <= e6) if _mutant == "ties_keep_4" else (e4 < e6)
    sb = np.where(pick4, sb4.reshape(pick4.shape), sb6.reshape(pick4.shape))
    if block_2d:
        codes = np.where(pick4[:, :, None], c4, c6)  # (tiles, 16, 16)
        codes = codes.reshape(R // 16, C // 16, 16, 16).transpose(0, 2, 1, 3).reshape(R, C)
        scales = np.repeat(sb.reshape(R // 16, 1, C // 16), 16, axis=1).reshape(R, C // 16)
    else:
        codes = np.where(pick4, c4, c6).reshape(R, C)
        scales = sb.reshape(R, C // 16)
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    return packed, scales.astype(np.uint8), s_dec
