"""An MX block in vector registers: its max |x| and its 32 element codes as whole-block
LLVM vector operations, for the CPU kernel :func:`nvfp4_np.mx._mx_blocks`.

Why intrinsics: Numba's loops over a block's 32 elements stayed scalar (the element
code's three-way branch, a byte store per element); written as one vector expression
the block's codes take a handful of instructions per 8 or 16 lanes. Every operation is
the IEEE or integer operation of the scalar definition (:func:`formats.float_code`, a
branch taken as a select; no fast-math flags, no contraction), so each code equals the
definition's bit for bit: tests/test_mx.py holds :func:`block_codes` to ``float_code``
over every exponent's rounding edges (tests/check_mx_exhaustive.py: over every float32),
and the kernel to :func:`mx.naive_block`.

The element code without branches (``float_code``'s three cases, each lane computing
all three and keeping one):

- saturation: the magnitude's bits clamped to the largest value's bits (an integer min:
  non-negative floats order as their bits), whose rounding below leaves them as they
  are;
- normals: the bits rounded to ``mbits`` mantissa bits (add half a place minus one plus
  the kept last bit: ties to even), shifted, re-biased;
- below 2^(1 - bias): ``y + 2^(24 - bias - mbits)`` in float32, whose last place is the
  subnormal step 2^(1 - bias - mbits), so the addition rounds y to a whole number of
  steps, ties to even (``float_code``'s ``rint_small(y * 2^(bias - 1 + mbits))``, the
  same rounding of the same real number); its bits minus the adder's are that number.

Only the CPU kernel uses these; the GPU twin runs the scalar definition.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._simd import _splat

_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_I8 = ir.IntType(8)
_N = 32  # MX_BLOCK: the lanes of a block

#: The element constants :func:`element_constants` makes, in this order.
_FIELDS = ("largest_bits", "drop", "round_add", "min_normal_bits", "sub_adder_bits", "sign_shift", "sign_bit")


def element_constants(mbits, ebits, bias, largest):
    """The uint32 constants :func:`block_codes` takes, for an element format with
    ``mbits`` mantissa and ``ebits`` exponent bits, exponent bias ``bias`` and largest
    value ``largest`` (a float32), in :func:`mx.element_args`' order: a tuple in
    :data:`_FIELDS`' order."""
    vals = dict(
        largest_bits=int(np.float32(largest).view(np.uint32)),
        drop=23 - mbits,
        # half a kept place minus one, less the exponent's re-bias (127 - bias) << 23:
        # (y + round_add + odd) >> drop is float_code's ((y + half - 1 + odd) >> drop) -
        # ((127 - bias) << mbits) for every normal y (>= 2^(1 - bias): no wrap-around,
        # and the re-bias is a whole number of kept places); below, the subnormal path
        # replaces the lane
        round_add=((1 << (22 - mbits)) - 1 - ((127 - bias) << 23)) % (1 << 32),
        min_normal_bits=(128 - bias) << 23,  # 2^(1 - bias)
        sub_adder_bits=(151 - bias - mbits) << 23,  # 2^(24 - bias - mbits)
        sign_shift=31 - (ebits + mbits),
        sign_bit=1 << (ebits + mbits),
    )
    return tuple(np.uint32(vals[k]) for k in _FIELDS)


def _const(v, n=_N):
    return ir.Constant(ir.VectorType(_I32, n), [v] * n)


def _is_row(t):
    return isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C"


def _pointer(context, builder, aty, arr, idx, ity, elem):
    """A pointer to ``arr[idx]`` (1-d C-contiguous; no bounds check: the kernels'
    blocks are in range) as a pointer to ``elem``."""
    ary = context.make_array(aty)(context, builder, arr)
    ptr = builder.gep(ary.data, [context.cast(builder, idx, ity, types.intp)])
    return builder.bitcast(ptr, elem.as_pointer())


def _is_source(t):
    """A row the kernels read: float32, or uint16 holding the bits of bfloat16 values."""
    return _is_row(t) and t.dtype in (types.float32, types.uint16)


def _load_bits(context, builder, aty, arr, idx, ity):
    """The float32 bits (a <32 x i32>) of ``arr[idx:idx + 32]``: float32 as they are,
    bfloat16 bits (uint16) shifted to the top half (bfloat16 is float32's top 16 bits:
    the conversion is exact)."""
    if aty.dtype == types.float32:
        return builder.load(_pointer(context, builder, aty, arr, idx, ity, ir.VectorType(_I32, _N)), align=4)
    half = builder.load(_pointer(context, builder, aty, arr, idx, ity, ir.VectorType(ir.IntType(16), _N)), align=2)
    return builder.shl(builder.zext(half, ir.VectorType(_I32, _N)), _const(16))


@intrinsic
def block_amax_bits(typingctx, row, c0):
    """The float32 bits of max |row[c0:c0 + 32]| (uint32; at least 0x7F800000 iff a value
    is Inf or NaN): the magnitudes' bits (sign cleared) and their unsigned maximum, as
    :func:`mx.block_amax_bits` (an integer maximum: exact, in any order). ``row``:
    float32, or uint16 holding bfloat16 bits."""
    if not (_is_source(row) and isinstance(c0, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        v = _load_bits(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        v = builder.and_(v, _const(0x7FFFFFFF))
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_I32, [v.type]),
                                            "llvm.vector.reduce.umax.v32i32")
        return builder.call(fn, [v])

    return types.uint32(row, c0), codegen


def _codes(builder, x, mult, k):
    """The 32 codes (a <32 x i32>) of the float32 lanes ``x * mult`` (``float_code``)."""
    (largest_bits, drop, round_add, min_normal_bits, sub_adder_bits, sign_shift,
     sign_bit) = (_splat(builder, builder.extract_value(k, i), _N) for i in range(len(_FIELDS)))
    v = builder.fmul(x, _splat(builder, mult, _N))
    vb = builder.bitcast(v, ir.VectorType(_I32, _N))
    y = builder.and_(vb, _const(0x7FFFFFFF))
    y = builder.select(builder.icmp_unsigned("<", y, largest_bits), y, largest_bits)
    odd = builder.and_(builder.lshr(y, drop), _const(1))
    normal = builder.lshr(builder.add(builder.add(y, round_add), odd), drop)
    adder = builder.bitcast(sub_adder_bits, ir.VectorType(_F32, _N))
    summed = builder.fadd(builder.bitcast(y, ir.VectorType(_F32, _N)), adder)
    small = builder.sub(builder.bitcast(summed, ir.VectorType(_I32, _N)), sub_adder_bits)
    mag = builder.select(builder.icmp_unsigned("<", y, min_normal_bits), small, normal)
    return builder.or_(mag, builder.and_(builder.lshr(vb, sign_shift), sign_bit))


def _check_codes_args(src, c0, mult, k, dst, o0):
    return (_is_source(src) and isinstance(c0, types.Integer)
            and mult == types.float32 and isinstance(k, types.UniTuple) and k.count == len(_FIELDS)
            and k.dtype == types.uint32 and _is_row(dst) and dst.dtype == types.uint8
            and isinstance(o0, types.Integer))


def _call_codes(context, builder, sig, args):
    """The codes (<32 x i32>) of a call (src, c0, mult, k, dst, o0): of src[c0:c0 + 32] * mult."""
    x = builder.bitcast(_load_bits(context, builder, sig.args[0], args[0], args[1], sig.args[1]),
                        ir.VectorType(_F32, _N))
    return _codes(builder, x, args[2], args[3])


def _store_bytes(context, builder, sig, args, v):
    """The lanes of ``v`` (<n x i32>, each below 256) as n bytes at the call's dst[o0:]."""
    bytes_ = ir.VectorType(_I8, v.type.count)
    q = _pointer(context, builder, sig.args[4], args[4], args[5], sig.args[5], bytes_)
    builder.store(builder.trunc(v, bytes_), q, align=1)


@intrinsic
def block_codes(typingctx, src, c0, mult, k, dst, o0):
    """dst[o0 + i] = float_code(src[c0 + i] * mult) for i < 32, one code per byte;
    ``k``: :func:`element_constants`; ``src``: float32, or uint16 holding bfloat16 bits
    (exactly their float32 values)."""
    if not _check_codes_args(src, c0, mult, k, dst, o0):
        return None

    def codegen(context, builder, sig, args):
        _store_bytes(context, builder, sig, args, _call_codes(context, builder, sig, args))
        return context.get_dummy_value()

    return types.void(src, c0, mult, k, dst, o0), codegen


@intrinsic
def block_codes_packed(typingctx, src, c0, mult, k, dst, o0):
    """:func:`block_codes` for 4-bit codes, two per byte: dst[o0 + i] = code 2i | code
    (2i + 1) << 4 for i < 16 (element 2i in the low nibble)."""
    if not _check_codes_args(src, c0, mult, k, dst, o0):
        return None

    def codegen(context, builder, sig, args):
        codes = _call_codes(context, builder, sig, args)
        half = ir.VectorType(_I32, _N // 2)
        lo = builder.shuffle_vector(codes, codes, ir.Constant(half, list(range(0, _N, 2))))
        hi = builder.shuffle_vector(codes, codes, ir.Constant(half, list(range(1, _N, 2))))
        _store_bytes(context, builder, sig, args, builder.or_(lo, builder.shl(hi, _const(4, _N // 2))))
        return context.get_dummy_value()

    return types.void(src, c0, mult, k, dst, o0), codegen


@intrinsic
def prefetch(typingctx, row, i):
    """A hint that the cache line of ``row[i]`` (1-d C-contiguous) will be read soon
    (``llvm.prefetch``: read, high locality, data): no effect on results, none on a
    program's behaviour even past the array's end (LLVM's semantics)."""
    if not (_is_row(row) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        p = _pointer(context, builder, sig.args[0], args[0], args[1], sig.args[1], _I8)
        fnty = ir.FunctionType(ir.VoidType(), [_I8.as_pointer(), _I32, _I32, _I32])
        # (llvmlite names it for the pointer type: .p0i8 under typed pointers, which the
        # opaque-pointer LLVMs of newer llvmlite upgrade)
        fn = builder.module.declare_intrinsic("llvm.prefetch", [p.type], fnty)
        builder.call(fn, [p, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.void(row, i), codegen
