"""Bit casts between float32 and uint32 for Numba code (a plain LLVM bitcast)."""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def f32_to_bits(typingctx, x):
    """The IEEE-754 bit pattern of a float32, as uint32."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


@intrinsic
def bits_to_f32(typingctx, b):
    """The float32 whose bit pattern is the uint32 ``b``."""
    if b != types.uint32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.uint32), codegen
