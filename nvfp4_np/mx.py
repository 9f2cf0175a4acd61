"""MX (OCP Microscaling) block formats, as torchao 0.18's ``to_mx`` computes them: blocks
of 32 elements with one E8M0 scale byte (2^(b - 127)), elements MXFP4 (E2M1), MXFP6
(E2M3, E3M2) or MXFP8 (E4M3, E5M2). The arithmetic, read from torchao's source and
measured on CPU, is in docs/design/mx.md.

This module holds the formats as data (:data:`MX_FORMATS`), the scale-rounding modes
(:data:`SCALE_ROUNDINGS`) and the three rules everything else is built from, one
definition each: the scale byte of a block (:func:`e8m0_byte`), the power of two its
elements are multiplied by (:func:`element_multiplier`) and an element's code
(:func:`nvfp4_np.formats.float_code`, the rounding E4M3's scale bytes use too: torchao's
``_f32_to_floatx_unpacked`` and, for FP8, its clamp and torch's cast round the same
way); the naive quantization of one block (:func:`naive_block`, the definition the GPU
twin runs) and the CPU kernel over blocks (:func:`_mx_blocks`, held to it by the tests).
The entry point is ``nvfp4_np.quantize(W, 32, fmt=...)`` (:mod:`nvfp4_np.mx_tensor`);
the searched bytes are :mod:`nvfp4_np.mx_search`.
"""

import math
from dataclasses import dataclass

import numba
import numpy as np

from ._config import JIT_PARALLEL, JIT_SCALAR, JIT_SCALAR_FN, MX_PREFETCH_AHEAD
from ._convert import _BITS16, _bits_kind
from ._f32bits import bits_to_f32, f32_to_bits
from ._mx_simd import block_amax_bits as block_amax_bits_vector
from ._mx_simd import _N as _mx_simd_lanes
from ._mx_simd import block_codes, block_codes_packed, element_constants, prefetch
from .formats import E2M1, E2M3, E3M2, E4M3, E5M2, FloatFormat, float_code

__all__ = ["MXFormat", "MX_FORMATS", "MX_BLOCK", "SCALE_ROUNDINGS", "DEFAULT_SCALE_ROUNDING", "E8M0_NAN", "mx_naive"]

#: Elements per MX block (OCP MX v1.0).
MX_BLOCK = 32
assert _mx_simd_lanes == MX_BLOCK  # (the vector kernels' block)
#: The E8M0 byte of NaN (no zero, sign or infinity: bytes 0..254 are 2^-127 .. 2^127).
E8M0_NAN = 0xFF


@dataclass(frozen=True)
class MXFormat:
    """An MX format: its name and element format."""

    name: str
    element: FloatFormat

    @property
    def emax(self):
        """The exponent of the element's largest power of two (torchao's ``*_MAX_POW2``):
        the scale of a block is 2^(exponent of its amax - emax) under ``floor``."""
        return int(math.floor(math.log2(self.element.max_finite)))

    @property
    def code_bits(self):
        return 1 + self.element.exponent_bits + self.element.mantissa_bits


#: The MX formats by name (docs/design/mx.md's table).
MX_FORMATS = {f.name: f for f in (
    MXFormat("mxfp4", E2M1),
    MXFormat("mxfp6_e2m3", E2M3),
    MXFormat("mxfp6_e3m2", E3M2),
    MXFormat("mxfp8_e4m3", E4M3),
    MXFormat("mxfp8_e5m2", E5M2),
)}

#: The scale-rounding modes, in the kernels' index order: torchao's ScaleCalculationMode.
SCALE_ROUNDINGS = {
    "floor": "OCP v1.0: 2^(floor(log2 amax) - emax)",
    "ceil": "floor, plus one when amax is not a power of two",
    "even": "amax's mantissa rounded half up to the element's precision, then floor",
    "rceil": "2^ceil(log2(fl(amax / largest))), as cvt.rp.satfinite.ue8m0x2.f32 (NVIDIA)",
    "rceil_cpu": "rceil as torchao 0.18 computes it on CPU: the ceiling of log2(fl(amax / largest)) rounded to "
                 "float32, one lower just above large powers of two",
}
_FLOOR, _CEIL, _EVEN, _RCEIL, _RCEIL_CPU = range(5)
assert tuple(SCALE_ROUNDINGS) == ("floor", "ceil", "even", "rceil", "rceil_cpu")
#: The default scale rounding: OCP MX v1.0's (and torchao's default).
DEFAULT_SCALE_ROUNDING = "floor"

_EXP_FIELD = np.uint32(0x7F800000)
_MANT_FIELD = np.uint32(0x7FFFFF)
_ABS_FIELD = np.uint32(0x7FFFFFFF)
_SUBNORMAL_2_POW_M127 = np.uint32(0x00400000)  # (the bits of 2^-127, a float32 subnormal)
_BFLOAT16 = _BITS16["bfloat16"]  # (_convert._bits_kind's kind of bfloat16 input, in native byte order)
#: rceil_cpu's ceiling of the float32 log2 of a normal d = 2^e (1 + m 2^-23) is rceil's
#: exact ceiling e + 1 when the mantissa field m is above this: log2(d) = e + log2(1 + f)
#: with log2(1 + f) >= f = m 2^-23 >= 33 2^-23, more than half a float32 place of any
#: number of magnitude below 128 (2^-18: places are 2^-17 in [64, 128)) by at least
#: 2^-23, far above the float64 log2's error (about 2^-45 there), so neither the float64
#: nor the float32 rounding brings it down to e (rounding up to e + 1 keeps the
#: ceiling). Checked for every float32 d by tests/check_mx_exhaustive.py; at or below it
#: (and for subnormal d) the log2 is taken.
_RCEIL_CPU_EXACT_ABOVE = np.uint32(32)


@numba.njit(**JIT_SCALAR_FN)
def e8m0_byte(amax, mode, emax, mbits, largest):
    """The E8M0 byte of a block whose max|x| is the finite float32 ``amax`` (>= 0).

    floor, ceil, even work on amax's bits: the exponent field minus 127 (-127 for zero
    and subnormals) minus ``emax``; ceil adds 1 when the mantissa field is not 0; even
    first adds half of the element's last mantissa place (``mbits`` bits) to the bits
    and clears the mantissa (a carry raises the exponent; ties go up). Clamped to
    [-127, 128] (128 only from Inf or NaN) plus 127.

    rceil: ``d = fl(amax / largest)``, the exact ceiling of log2(d) (the exponent, plus 1
    unless d is a power of two; d <= 2^-127, zero included, gives -127), clamped to
    [-127, 127] (satfinite). rceil_cpu: the ceiling of log2(d) rounded to float32 (torchao's
    CPU fallback, ``ceil(torch.log2(d))``: the same byte for every float32 d, checked
    exhaustively; docs/design/mx.md), which is one lower just above large powers of two
    (log2 rounds down to the integer); d = 0 gives -127. The log2 is taken only where it
    can differ from the exact ceiling (:data:`_RCEIL_CPU_EXACT_ABOVE`)."""
    if mode == _RCEIL or mode == _RCEIL_CPU:
        b = f32_to_bits(amax / largest)
        e = np.int32((b & _EXP_FIELD) >> np.uint32(23))
        m = b & _MANT_FIELD
        if e == 0:  # zero or subnormal: d = m * 2^-149, at most 2^-127 iff m <= 2^22
            unbiased = np.int32(-127) if m <= _SUBNORMAL_2_POW_M127 else np.int32(-126)
        else:
            unbiased = e - np.int32(127) + np.int32(m != 0)
        if mode == _RCEIL_CPU and m != 0 and (e == 0 or m <= _RCEIL_CPU_EXACT_ABOVE):
            unbiased = np.int32(math.ceil(np.float32(math.log2(np.float64(bits_to_f32(b))))))
        unbiased = min(max(unbiased, np.int32(-127)), np.int32(127))
    else:
        b = f32_to_bits(amax)
        if mode == _EVEN:
            b = (b + (np.uint32(1) << np.uint32(22 - mbits))) & _EXP_FIELD
        unbiased = np.int32((b & _EXP_FIELD) >> np.uint32(23)) - np.int32(127) - np.int32(emax)
        if mode == _CEIL:
            unbiased += np.int32((b & _MANT_FIELD) != 0)
        unbiased = min(max(unbiased, np.int32(-127)), np.int32(128))
    return np.uint8(unbiased + 127)


#: :func:`e8m0_byte` itself, inlined by Numba into the CPU kernel: left to LLVM, the
#: call was not inlined (its log2 branch), and every block paid a call that cleared the
#: vector registers the element codes' constants live in (measured: the kernel 1.1x
#: faster inlined).
_e8m0_byte_inlined = numba.njit(**JIT_SCALAR)(e8m0_byte.py_func)


@numba.njit(**JIT_SCALAR_FN)
def _pow2(k):
    """2^k as float32, -127 <= k <= 127 (2^-127 a subnormal)."""
    if k == -127:
        return bits_to_f32(_SUBNORMAL_2_POW_M127)
    return bits_to_f32(np.uint32((k + 127) * 8388608))


@numba.njit(**JIT_SCALAR_FN)
def element_multiplier(byte, mode):
    """The power of two a block's elements are multiplied by, from its scale byte:
    2^(127 - byte), except that floor, ceil and even divide by the scale clamped to at
    least 2^-126 (byte 0 multiplies by 2^126, not 2^127), and that rceil's byte 0
    multiplies by 1 (torchao's ``rcp``). A multiplication by a power of two rounds
    as the division by its inverse does (one rounding of the same real number)."""
    k = np.int32(127) - np.int32(byte)
    if mode == _RCEIL or mode == _RCEIL_CPU:
        return np.float32(1.0) if byte == 0 else _pow2(k)
    return _pow2(min(k, np.int32(126)))


@numba.njit(**JIT_SCALAR_FN)
def block_amax_bits(x, r, c0):
    """The float32 bits of max|x[r, c0:c0 + 32]| (integer max of the magnitudes' bits:
    non-negative floats order as their bits); at least 0x7F800000 iff a value is Inf or
    NaN."""
    m = np.uint32(0)
    for i in range(MX_BLOCK):
        m = max(m, np.uint32(f32_to_bits(x[r, c0 + i]) & _ABS_FIELD))
    return m


@numba.njit(**JIT_SCALAR_FN)
def naive_block(x, r, blk, mode, emax, mbits, ebits, bias, largest, codes, scales):
    """The naive MX quantization of block ``blk`` of row ``r`` of the float32 ``x`` (the
    definition the CPU kernel and the GPU twin are held to): its E8M0 byte into
    ``scales[r, blk]``, its elements' codes into ``codes[r, 32 blk:32 (blk + 1)]``;
    False (nothing written) where it holds Inf or NaN."""
    c0 = blk * MX_BLOCK
    amax_bits = block_amax_bits(x, r, c0)
    if amax_bits >= _EXP_FIELD:
        return False
    byte = e8m0_byte(bits_to_f32(amax_bits), mode, emax, mbits, largest)
    scales[r, blk] = byte
    mult = element_multiplier(byte, mode)
    for i in range(MX_BLOCK):
        codes[r, c0 + i] = np.uint8(float_code(x[r, c0 + i] * mult, ebits, mbits, bias, largest))
    return True


@numba.njit(**JIT_PARALLEL)
def _mx_blocks(x, mode, emax, mbits, largest, k, pack, codes, scales, bad):
    """Every block of 32 along the rows of the float32 (R, C) ``x`` (or uint16: the bits
    of bfloat16 values, read as their float32 values), as
    :func:`naive_block` computes it (the tests hold the two to each other): E8M0 bytes
    into ``scales`` (R, C / 32); codes into ``codes``, (R, C) one per byte, or with
    ``pack`` (R, C / 2) two per byte, element 2i in the low nibble; ``bad[r]``: the
    blocks of row r holding Inf or NaN (their bytes are left as they were). ``k``: the
    element format's :func:`_mx_simd.element_constants`. A block's max |x| and its codes
    are whole-block vector operations (:mod:`nvfp4_np._mx_simd`: 3.5x faster than a loop
    over the elements, measured), and the block ``MX_PREFETCH_AHEAD`` floats ahead is
    prefetched (8% faster, measured)."""
    R, C = x.shape
    for r in numba.prange(R):
        xr = x[r]
        cr = codes[r]
        nbad = 0
        for blk in range(C // MX_BLOCK):
            c0 = blk * MX_BLOCK
            if c0 + MX_PREFETCH_AHEAD < C:  # (a hint: the block so far ahead; two lines of float32)
                prefetch(xr, c0 + MX_PREFETCH_AHEAD)
                prefetch(xr, c0 + MX_PREFETCH_AHEAD + MX_BLOCK // 2)
            amax_bits = block_amax_bits_vector(xr, c0)
            if amax_bits >= _EXP_FIELD:
                nbad += 1
                continue
            byte = _e8m0_byte_inlined(bits_to_f32(amax_bits), mode, emax, mbits, largest)
            scales[r, blk] = byte
            mult = element_multiplier(byte, mode)
            if pack:
                block_codes_packed(xr, c0, mult, k, cr, c0 // 2)
            else:
                block_codes(xr, c0, mult, k, cr, c0)
        bad[r] = nbad


def packed(codes, pack):
    """``codes`` (R, C), one 4-bit code per byte, two per byte when ``pack`` (element 2i
    in the low nibble), as the kernels that code one element at a time return them."""
    return codes[:, 0::2] | (codes[:, 1::2] << np.uint8(4)) if pack else codes


def check_format(fmt):
    """The :class:`MXFormat` called ``fmt``, or ValueError naming the choices."""
    try:
        return MX_FORMATS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"MX format must be one of {sorted(MX_FORMATS)}, got {fmt!r}") from None


def check_scale_rounding(scale_rounding):
    """The index of the scale-rounding mode (None: "floor"), or ValueError."""
    if scale_rounding is None:
        scale_rounding = DEFAULT_SCALE_ROUNDING
    if scale_rounding not in SCALE_ROUNDINGS:
        raise ValueError(f"scale_rounding must be one of {list(SCALE_ROUNDINGS)}, got {scale_rounding!r}")
    return tuple(SCALE_ROUNDINGS).index(scale_rounding)


def element_args(f):
    """The element fields the kernels take: (mbits, ebits, bias, largest as float32)."""
    e = f.element
    return e.mantissa_bits, e.exponent_bits, e.bias, np.float32(e.max_finite)


def mx_naive(x, fmt, scale_rounding=None, pack=False, alloc=np.empty):
    """The naive MX quantization of the float32 or bfloat16 (read as it is: its float32
    values are exact) (R, C) ``x`` (C a multiple of 32): per
    block of 32 the E8M0 byte by ``scale_rounding`` and the elements' codes, as torchao's
    ``to_mx`` computes them. Returns (codes (R, C) uint8, one per element, or with
    ``pack`` (MXFP4) (R, C / 2), two per byte, element 2i in the low nibble; scale bytes
    (R, C / 32) uint8; the number of blocks holding Inf or NaN, whose bytes are not
    defined: the caller raises). ``alloc(shape, dtype)`` makes the outputs."""
    f = check_format(fmt)
    mode = check_scale_rounding(scale_rounding)
    x, kind = _bits_kind(np.asarray(x), None)
    if kind == _BFLOAT16:  # (the kernel reads its bits)
        x = np.require(x, requirements="CA").view(np.uint16)
    else:
        x = np.require(x, np.float32, "CA")  # (C order, aligned: the kernel's vector loads)
    R, C = x.shape
    if C % MX_BLOCK:
        raise ValueError(f"x.shape[1] = {C} must be a multiple of the MX block size {MX_BLOCK}")
    if pack and f.code_bits != 4:
        raise ValueError(f"pack applies to 4-bit codes (mxfp4), not to {fmt!r}")
    codes = alloc((R, C // 2 if pack else C), np.uint8)
    scales = alloc((R, C // MX_BLOCK), np.uint8)
    bad = np.zeros(R, np.int64)
    mbits, ebits, bias, largest = element_args(f)
    _mx_blocks(x, mode, f.emax, mbits, largest, element_constants(mbits, ebits, bias, largest), pack, codes, scales,
               bad)
    return codes, scales, int(bad.sum())
