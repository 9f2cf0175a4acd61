"""The searched E8M0 scale of an MX block: the byte with the least squared error
("optimal") or the least output error r^T H r given the block's Hessian ("hessian"),
found by a bounded search (docs/mx.md, validation/SPEC.md §9.4).

For a candidate byte b the elements are ``float_code(x * 2^(127 - b))`` (the exact
power of two, b = 0 included) and decode to ``value(code) * 2^(b - 127)``; the residual
``r = x - decoded`` is exact in float64. The error of the block is, in float64,
``sum r_i^2`` in element order ("optimal"), or ``r^T H r`` ("hessian", the sum
``sum_i r_i * (sum_j H_ij r_j)``, both loops in index order); a byte whose decoded
block overflows float32 (what every consumer decodes to) has an infinite error.

The bytes searched:

- ``b_hi``, the smallest byte whose scale does not clip: ``largest * 2^(b - 127) >=
  amax`` (rceil's byte, plus one where fl(amax / largest) rounded down to a power of
  two).
- Upward from ``b_hi + 1``, each byte until the first whose codes are all zero (r = x
  from there on, the same for every larger byte): for "hessian" always; for "optimal"
  only when ``b_hi``'s decode overflows (a guard: an element then rounds to 2^128 at
  every byte above too, so it finds no finite byte). Otherwise no byte above ``b_hi`` can err less
  in squares: the error of each element is the distance to the nearest point of a grid
  that only thins out as b grows (every point of the grid at 2s below ``largest * s``
  is a point of the grid at s).
- Downward from ``b_hi - 1``. "optimal": while the block's largest element, which
  saturates there, has a squared residual ``(amax - largest * 2^(b - 127))^2`` (which
  alone bounds the error from below and grows as b falls) below the best error: so
  "optimal" is the least squared error over all 255 bytes (the tests compare with
  every byte tried). "hessian": until a byte that, like the byte above it, saturates
  every nonzero element and does not err less than it (from there the residual is
  ``x - s * c`` with a fixed c, a convex quadratic in s: in exact arithmetic the error
  only grows further down). The "hessian" byte is the least error over the bytes this
  traversal visits, its definition: where the quadratic is flat within float64's
  rounding, a byte further down could compute a smaller error by rounding.
- Ties: ``b_hi`` first, then upward (nearest first), then downward (nearest first); a
  later candidate replaces the best only with a strictly smaller error.
"""

import numba
import numpy as np

from ._config import JIT_PARALLEL, JIT_SCALAR_FN
from ._f32bits import bits_to_f32
from .formats import float_code
from .mx import (_EXP_FIELD, _RCEIL, MX_BLOCK, _pow2, block_amax_bits, check_format, e8m0_byte, element_args,
                 packed)

__all__ = ["mx_optimal", "mx_hessian", "SEARCH_METHODS"]

#: The searched methods: name -> what the error is.
SEARCH_METHODS = {"optimal": "sum of r_i^2", "hessian": "r^T H r"}
_MAX_BYTE = 254  # 2^127; 0xFF is NaN


@numba.njit(**JIT_SCALAR_FN)
def unclipped_byte(amax, emax, mbits, largest):
    """``b_hi``: the smallest byte whose scale does not clip amax (rceil's, plus one
    where fl(amax / largest) rounded down to a power of two)."""
    b = np.int32(e8m0_byte(amax, _RCEIL, emax, mbits, largest))
    if b < _MAX_BYTE and np.float64(largest) * np.float64(_pow2(b - 127)) < np.float64(amax):
        b += 1
    return b


_FLT_MAX = np.float64(np.finfo(np.float32).max)


@numba.njit(**JIT_SCALAR_FN)
def block_residual(x, r, c0, b, ebits, mbits, bias, largest, values, res):
    """The residual of block (r, c0) at byte b into ``res`` (32 float64); returns
    (number of nonzero codes' magnitudes, number of nonzero elements that do not
    saturate, whether a decoded element overflows float32)."""
    mult = _pow2(127 - b)
    s = np.float64(_pow2(b - 127))
    top = np.uint32(float_code(largest, ebits, mbits, bias, largest))
    magnitude = (np.uint32(1) << np.uint32(ebits + mbits)) - np.uint32(1)
    nonzero_codes = 0
    unsaturated = 0
    overflow = False
    for i in range(MX_BLOCK):
        v = x[r, c0 + i]
        code = np.uint32(float_code(v * mult, ebits, mbits, bias, largest))
        mag = code & magnitude
        decoded = values[code] * s
        res[i] = np.float64(v) - decoded
        nonzero_codes += mag != 0
        unsaturated += (mag != top) and (v != 0)
        overflow |= abs(decoded) > _FLT_MAX
    return nonzero_codes, unsaturated, overflow


@numba.njit(**JIT_SCALAR_FN)
def _error(res, H, blk, use_h, overflow):
    """The block's error at a byte (infinite when its decode overflows float32)."""
    if overflow:
        return np.inf
    return _rhr(res, H, blk) if use_h else _sse(res)


@numba.njit(**JIT_SCALAR_FN)
def _sse(res):
    acc = 0.0
    for i in range(MX_BLOCK):
        acc += res[i] * res[i]
    return acc


@numba.njit(**JIT_SCALAR_FN)
def _rhr(res, H, blk):
    acc = 0.0
    for a in range(MX_BLOCK):
        row = 0.0
        for c in range(MX_BLOCK):
            row += H[blk, a, c] * res[c]
        acc += res[a] * row
    return acc


@numba.njit(**JIT_SCALAR_FN)
def search_block(x, r, blk, H, use_h, emax, mbits, ebits, bias, largest, values, res):
    """The searched byte of block ``blk`` of row ``r`` of the float32 ``x`` (least squared
    error, or least r^T H r with ``use_h``, ``H[blk]`` its column block's Hessian; the
    module docstring), or -1 where the block holds Inf or NaN. ``values``: the element
    format's decode table (float64); ``res``: scratch, 32 float64. The definition the
    CPU kernel and the GPU twin run."""
    c0 = blk * MX_BLOCK
    amax_bits = block_amax_bits(x, r, c0)
    if amax_bits >= _EXP_FIELD:
        return -1
    amax = bits_to_f32(amax_bits)
    b_hi = unclipped_byte(amax, emax, mbits, largest)
    _, _, overflow = block_residual(x, r, c0, b_hi, ebits, mbits, bias, largest, values, res)
    best_b = b_hi
    best = _error(res, H, blk, use_h, overflow)
    if use_h or overflow:  # upward, until every code is zero
        b = b_hi + 1
        while b <= _MAX_BYTE:
            nz, _, overflow = block_residual(x, r, c0, b, ebits, mbits, bias, largest, values, res)
            err = _error(res, H, blk, use_h, overflow)
            if err < best:
                best, best_b = err, b
            if nz == 0:
                break
            b += 1
    b = b_hi - 1
    prev_err = np.inf
    prev_saturated = False
    while b >= 0:
        if not use_h:  # the saturated largest element's own squared residual bounds the error
            d = np.float64(amax) - np.float64(largest) * np.float64(_pow2(b - 127))
            if d * d >= best:
                break
        nz, unsat, overflow = block_residual(x, r, c0, b, ebits, mbits, bias, largest, values, res)
        err = _error(res, H, blk, use_h, overflow)
        if err < best:
            best, best_b = err, b
        saturated = unsat == 0
        if use_h and saturated and prev_saturated and not err < prev_err:
            break
        prev_err, prev_saturated = err, saturated
        b -= 1
    return best_b


@numba.njit(**JIT_SCALAR_FN)
def codes_block(x, r, blk, byte, mbits, ebits, bias, largest, codes):
    """The codes of block ``blk`` of row ``r`` at ``byte`` (the exact multiplier
    2^(127 - byte)) into ``codes[r, 32 blk:32 (blk + 1)]``."""
    mult = _pow2(127 - np.int32(byte))
    for i in range(blk * MX_BLOCK, (blk + 1) * MX_BLOCK):
        codes[r, i] = np.uint8(float_code(x[r, i] * mult, ebits, mbits, bias, largest))


@numba.njit(**JIT_PARALLEL)
def _search_blocks(x, H, use_h, emax, mbits, ebits, bias, largest, values, codes, scales, bad):
    """Every block of 32 along the rows of float32 (R, C) ``x``: its searched byte
    (:func:`search_block`) into ``scales`` (R, C / 32) and its codes at that byte into
    ``codes``; ``bad[r]``: row r's blocks with Inf or NaN (byte 0)."""
    R, C = x.shape
    for r in numba.prange(R):
        res = np.empty(MX_BLOCK, np.float64)
        nbad = 0
        for blk in range(C // MX_BLOCK):
            b = search_block(x, r, blk, H, use_h, emax, mbits, ebits, bias, largest, values, res)
            if b < 0:
                nbad += 1
                b = 0
            scales[r, blk] = np.uint8(b)
            codes_block(x, r, blk, b, mbits, ebits, bias, largest, codes)
        bad[r] = nbad


def search_tables(f, H_blocks):
    """(H as float64 (C / 32, 32, 32), or a zero placeholder without ``H_blocks``;
    whether H is used; the element format's decode table as float64), as the search
    kernels take them."""
    use_h = H_blocks is not None
    H = np.ascontiguousarray(H_blocks, np.float64) if use_h else np.zeros((1, MX_BLOCK, MX_BLOCK))
    values = np.nan_to_num(f.element.decode_table().astype(np.float64))  # (codes above largest never occur)
    return H, use_h, values


def _search(x, fmt, H_blocks, pack, alloc):
    f = check_format(fmt)
    x = np.ascontiguousarray(x, np.float32)
    R, C = x.shape
    mbits, ebits, bias, largest = element_args(f)
    H, use_h, values = search_tables(f, H_blocks)
    codes = alloc((R, C), np.uint8)
    scales = alloc((R, C // MX_BLOCK), np.uint8)
    bad = np.zeros(R, np.int64)
    _search_blocks(x, H, use_h, f.emax, mbits, ebits, bias, largest, values, codes, scales, bad)
    return packed(codes, pack), scales, int(bad.sum())


def mx_optimal(x, fmt, pack=False, alloc=np.empty):
    """The MX quantization of the float32 (R, C) ``x`` with, per block of 32, the E8M0
    byte of least squared error (exact, module docstring). Returns (codes (R, C),
    scale bytes (R, C / 32)) uint8 and the number of blocks holding Inf or NaN (their
    bytes are not defined: the caller raises). ``pack``: MXFP4's codes two per byte
    (element 2i in the low nibble); ``alloc(shape, dtype)`` makes the outputs."""
    return _search(x, fmt, None, pack, alloc)


def mx_hessian(x, fmt, H_blocks, pack=False, alloc=np.empty):
    """As :func:`mx_optimal`, the byte of least r^T H r with ``H_blocks`` (C / 32, 32,
    32) the Hessian of each column block (:func:`nvfp4_np.block_hessians`)."""
    return _search(x, fmt, H_blocks, pack, alloc)
