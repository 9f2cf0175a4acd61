"""What the kernels write, and the float outputs read back from it.

Every kernel (CPU and GPU, every method) writes two things per block b, into
``out = (codes, packed)``:

- ``codes[b]``: the block's E4M3 scale byte (0 = scale 0, 1..126 the positive values);
- ``packed[b]``: its E2M1 codes (4 bits: the magnitude's index in E2M1_VALUES, bit 3
  the sign), two to a byte, element 2i in the low nibble of byte i: the packed layout
  every consumer reads.

That is all :func:`nvfp4_np.quantize` keeps. The float32 outputs of the seed-compatible
functions (scales, quants, dequant) are decoded from these bytes when asked for
(:func:`decode_blocks`), with the arithmetic the kernels used to write them directly:
the scale dec[k], the quant the E2M1 value of the code (-0.0 for code 8), the dequant
``q * s`` with the effective scale s of the code (_block.candidate).
"""

import numba
import numpy as np

from ._block import block_len, candidate, e2m1_index_cmp, thresholds
from ._schedule import n_chunks
from ._config import CHUNK_BLOCKS, JIT_PARALLEL, JIT_SCALAR, JIT_SCALAR_FN
from ._f32bits import f32_to_bits
from .formats import E2M1_VALUES, e2m1_index
from .recipes import effective_scale, fp4_project, signed_code

#: The E2M1 value of each 4-bit code (8..15: the negatives, 8 is -0.0).
FP4_DECODE = np.concatenate([E2M1_VALUES, -E2M1_VALUES]).astype(np.float32)
#: The two float32 values of each packed byte (low nibble first), as the uint64 of their
#: 8 bytes in this machine's order (so that a quants row viewed as uint64 takes them).
FP4_PAIRS = np.stack([FP4_DECODE[np.arange(256) & 15], FP4_DECODE[np.arange(256) >> 4]], axis=-1).copy().view(
    np.uint64).reshape(256)
_SIGN = np.uint64(8)
_LOW = np.uint8(0xF)
_HIGH = np.uint8(4)


@numba.njit(**JIT_SCALAR)
def emit_block(b, code, x, dec, rc, out):
    """Write block ``b`` of ``x`` at scale code ``code``: its scale byte, and the E2M1
    codes of its quants (the recipe's element factor, E2M1 rounding with the tie rule,
    the sign rule), packed. ``out = (codes, packed)``."""
    codes, packed = out
    f, s = candidate(code, dec, rc)
    codes[b] = code
    if not rc.exact:
        _pack_projected(x, b, f, rc, packed)
    elif rc.rne:  # (the tie rule as a constant: one set of comparisons per loop)
        _pack_compared(x, b, s, True, rc, packed)
    else:
        _pack_compared(x, b, s, False, rc, packed)


# Each loop step makes one byte from a pair of elements (computing all codes first and
# packing after would need scratch; as pairs, LLVM vectorises the loop, measured 1.7x
# faster than collecting 16 codes in a uint64 word).


@numba.njit(**JIT_SCALAR)
def _pack_projected(x, b, f, rc, packed):
    """Codes by recipes.fp4_project (|x| times or divided by the element factor, rounded)."""
    for i in range(block_len(x) >> 1):
        v, u = x[b, 2 * i], x[b, 2 * i + 1]
        lo = signed_code(v, e2m1_index(fp4_project(abs(v), f, rc)), rc)
        hi = signed_code(u, e2m1_index(fp4_project(abs(u), f, rc)), rc)
        packed[b, i] = np.uint8(lo | (hi << np.uint64(4)))


@numba.njit(**JIT_SCALAR)
def _pack_compared(x, b, s, rne, rc, packed):
    """Codes by comparing |x| with the thresholds of s (exact recipes: _block._e2m1_cmp)."""
    t = thresholds(s)
    for i in range(block_len(x) >> 1):
        v, u = x[b, 2 * i], x[b, 2 * i + 1]
        lo = signed_code(v, e2m1_index_cmp(abs(v), t, rne), rc)
        hi = signed_code(u, e2m1_index_cmp(abs(u), t, rne), rc)
        packed[b, i] = np.uint8(lo | (hi << np.uint64(4)))


@numba.njit(**JIT_SCALAR_FN)
def fp4_code(q):
    """The 4-bit code of a signed E2M1 value ``q`` (-0.0 -> 8)."""
    return e2m1_index(abs(q)) | ((np.uint64(f32_to_bits(q)) >> np.uint64(28)) & _SIGN)


@numba.njit(**JIT_SCALAR)
def emit_values(b, code, Z, r, out):
    """Write block ``b`` with scale code ``code`` and the signed E2M1 values in column r
    of Z as its quants (ADMM's, which are not the rounding of x at the scale)."""
    codes, packed = out
    codes[b] = code
    for i in range(packed.shape[1]):
        packed[b, i] = np.uint8(fp4_code(Z[2 * i, r]) | (fp4_code(Z[2 * i + 1, r]) << np.uint64(4)))


@numba.njit(**JIT_SCALAR)
def decode_block(b, codes, packed, dec, rc, scales, pairs, quants, dequant, want_dq):
    """The float32 outputs of block ``b`` from its bytes: scales[b], row b of quants
    (written through ``pairs``, the quants viewed as uint64 (8-byte aligned): two floats
    a byte, one lookup in FP4_PAIRS, measured 1.5x faster than two in FP4_DECODE) and,
    if ``want_dq``, of dequant (q * s, q looked up again rather than read back through
    the other view)."""
    sf = dec[codes[b]]
    s = effective_scale(sf, rc)
    scales[b] = sf
    for i in range(block_len(quants) >> 1):
        pairs[b, i] = FP4_PAIRS[packed[b, i]]
    # (a loop of 0 trips, not a branch: Numba's reference counting leaves atomic
    # operations on the arrays around a branch)
    for i in range(block_len(quants) >> 1 if want_dq else 0):
        p = packed[b, i]
        dequant[b, 2 * i] = FP4_DECODE[p & _LOW] * s
        dequant[b, 2 * i + 1] = FP4_DECODE[p >> _HIGH] * s


@numba.njit(**JIT_PARALLEL)
def decode_blocks(codes, packed, dec, rc, scales, pairs, quants, dequant, want_dq):
    """decode_block for every block (of an output without non-finite blocks: the
    kernels skip those, and the wrappers raise before decoding)."""
    n = codes.size
    for c in numba.prange(n_chunks(n)):
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            decode_block(b, codes, packed, dec, rc, scales, pairs, quants, dequant, want_dq)
