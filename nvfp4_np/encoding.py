"""The byte-level form of NVFP4: E2M1 element codes, E4M3 scale bytes, nibble packing and
the swizzled ("128x4") block-scale layout that Blackwell tensor cores read.

Four pairs of inverse functions, all vectorised NumPy over any shape:

- ``fp4_codes`` / ``fp4_values``: E2M1 values (float) <-> 4-bit codes 0..15 (uint8).
  Bit 3 is the sign, bits 2..1 the exponent (bias 1), bit 0 the mantissa; 0x8 is -0.
- ``e4m3_bytes`` / ``e4m3_values``: E4M3 values (float) <-> bytes (uint8). Bit 7 is the
  sign; 0x7F and 0xFF are NaN.
- ``pack_fp4`` / ``unpack_fp4``: two codes per byte, element ``2i`` in the LOW nibble and
  ``2i + 1`` in the HIGH nibble, as the PTX ``cvt.e2m1x2`` operand order, TRT-LLM,
  FlashInfer, torchao, ModelOpt and Transformer Engine all store them.
- ``swizzle_scales`` / ``unswizzle_scales``: row-major block-scale bytes (..., M, Ks) <->
  the tiled layout of cuBLASLt's "1D block scaling factors layout" (CUTLASS
  ``Sm1xxBlockScaledConfig``, TRT-LLM ``get_sf_out_offset_128x4``, torchao ``to_blocked``).

The encoders only accept values that are exactly representable: rounding is not done
here (see :func:`nvfp4_np.formats.snap_e4m3` and :func:`nvfp4_np.formats.round_e2m1`),
so a value that would silently change is reported instead. Every table comes from
:mod:`nvfp4_np.formats`.
"""

import numpy as np

from . import formats
from .core import as_float_array

__all__ = [
    "e4m3_bytes",
    "e4m3_values",
    "fp4_codes",
    "fp4_values",
    "pack_fp4",
    "pack_fp6",
    "swizzle_scales",
    "unpack_fp4",
    "unpack_fp6",
    "unswizzle_scales",
]

# E2M1: code = magnitude index (E2M1_VALUES is in code order) | sign bit.
_FP4_SIGN = formats.E2M1.sign_bit
_FP4_MAX_CODE = 2 * _FP4_SIGN - 1
_FP4_BITS = _FP4_MAX_CODE.bit_length()  # 4: the nibble width
# float64 for the encoder's lookups: every E2M1 and E4M3 value is exact in it, and so is
# every input of any float dtype up to float64 (no input is rounded before the test).
_FP4_MAGS = formats.E2M1_VALUES.astype(np.float64)
# Decoder: codes 0..7 are the magnitudes, 8..15 their negatives (0x8 -> -0.0).
_FP4_DECODE = np.concatenate([formats.E2M1_VALUES, -formats.E2M1_VALUES]).astype(np.float32)

# E4M3: the non-negative finite values, ascending, with their byte codes (0x00..0x7E).
_E4M3_SIGN = formats.E4M3.sign_bit
_E4M3_MAG_CODES = np.concatenate([[0], formats.E4M3_CODES]).astype(np.uint8)
_E4M3_MAGS = formats.E4M3_DECODE[_E4M3_MAG_CODES].astype(np.float64)
# searchsorted needs ascending tables
assert np.all(np.diff(_E4M3_MAGS) > 0) and np.all(np.diff(_FP4_MAGS) > 0)
_BYTE_MAX = 0xFF

# The swizzled layout: 128x4 tiles of 512 contiguous bytes, ordered row-tile-major then
# k-tile; inside a tile, row m = 32*i + j and column c go to byte j*16 + i*4 + c.
_TILE_ROWS = 128
_TILE_COLS = 4
_ROW_GROUP = 32
_GROUPS_PER_TILE = _TILE_ROWS // _ROW_GROUP
_TILE_BYTES = _TILE_ROWS * _TILE_COLS


# --------------------------------------------------------------------------------------
# shared checks
# --------------------------------------------------------------------------------------


def _lookup(table, idx):
    """``table[idx]`` as an ndarray of idx's shape (a 0-d index would give a scalar)."""
    return table[idx.reshape(-1)].reshape(idx.shape)


def _first(bad):
    """Index (a tuple, ``()`` for 0-d) of the first True of a boolean array."""
    return tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape))


def _as_codes(a, name, max_code, what, encoder=None):
    """``a`` as uint8 after checking it is an integer array with every value in
    0..max_code (TypeError for other dtypes, ValueError naming count and first index).
    ``encoder`` names the function that makes such codes from float values."""
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype.itemsize == 1:  # ml_dtypes' float8 / float4 types hold the bytes
            hint = "; for an ml_dtypes 8- or 4-bit float array pass arr.view(np.uint8)"
        elif encoder:
            hint = f"; encode float values with nvfp4_np.encoding.{encoder}"
        else:
            hint = ""
        raise TypeError(
            f"{name} must have an integer dtype (uint8 {what} 0..{max_code}), got dtype "
            f"{arr.dtype}{hint}"
        )
    if arr.dtype != np.uint8 or max_code < _BYTE_MAX:
        bad = (arr < 0) | (arr > max_code)
        if bad.any():
            i = _first(bad)
            raise ValueError(
                f"{name} must hold {what} 0..{max_code}; {int(bad.sum())} of {arr.size} "
                f"value(s) are outside that range, first at index {i}: {arr[i].item()}"
            )
    return arr.astype(np.uint8, copy=False)


def _encode(x, name, mags, codes, sign_bit, fmt, rounder):
    """Codes of the float values ``x`` in a format whose non-negative values are ``mags``
    (ascending, float64) with codes ``codes``; the float sign bit becomes ``sign_bit``.
    Values not exactly in the format (NaN, inf and out-of-range included) raise, naming
    the ``formats`` function ``rounder`` that rounds to it."""
    arr = as_float_array(x, name)
    if arr.dtype == np.float32:
        out, ok = _encode_f32(arr, mags, codes, sign_bit)
    else:
        x64 = arr.astype(np.float64)
        mag = np.abs(x64)
        idx = np.minimum(np.searchsorted(mags, mag), mags.size - 1)
        ok = mags[idx] == mag  # False for NaN, and for inf / too large (idx clipped to the max)
        if arr.dtype.itemsize > 8:  # long double: the float64 copy may have been rounded
            ok &= x64 == arr
        out = _lookup(codes, idx)
        out[np.signbit(x64)] |= np.uint8(sign_bit)  # in place: a 0-d result stays an array
    if not ok.all():
        bad = ~ok
        i = _first(bad)
        raise ValueError(
            f"{name} contains {int(bad.sum())} of {arr.size} value(s) not exactly "
            f"representable in {fmt}; first at index {i}: {arr[i].item()!r}. This "
            f"function does not round: round first with nvfp4_np.formats.{rounder}"
        )
    return out


_NOT_A_CODE = 0x100
_HIGH_HALF_TABLES = {}


def _encode_f32(arr, mags, codes, sign_bit):
    """The float32 fast path (quantize's hot one): every E2M1 and E4M3 value has at most 3
    significant bits, so it is exact in the high 16 bits of its float32 pattern; a
    65536-entry table indexed by them gives the code, and the low 16 bits must be 0."""
    key = (mags.tobytes(), codes.tobytes(), sign_bit)
    table = _HIGH_HALF_TABLES.get(key)
    if table is None:
        table = np.full(1 << 16, _NOT_A_CODE, np.uint16)
        hi = (mags.astype(np.float32).view(np.uint32) >> 16).astype(np.int64)
        assert np.array_equal(hi.astype(np.uint32) << 16, mags.astype(np.float32).view(np.uint32))
        table[hi] = codes
        table[hi | 0x8000] = codes | sign_bit  # the float32 sign bit
        _HIGH_HALF_TABLES[key] = table
    b = np.ascontiguousarray(arr).reshape(-1).view(np.uint32).reshape(arr.shape)  # (keeps 0-d)
    c = _lookup(table, b >> 16)
    ok = (c != _NOT_A_CODE) & ((b & 0xFFFF) == 0)
    return c.astype(np.uint8), ok


# --------------------------------------------------------------------------------------
# E2M1 element codes
# --------------------------------------------------------------------------------------


def fp4_codes(quants):
    """E2M1 codes (uint8, 0..15) of values that are exactly E2M1 values.

    Parameters
    ----------
    quants : array_like of a real floating dtype, any shape
        Values in {±0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6}, e.g. the ``quants`` that
        :func:`nvfp4_np.nvfp4_naive` returns.

    Returns
    -------
    codes : ndarray of uint8, same shape
        Bits 2..0 are the magnitude's index in :data:`nvfp4_np.formats.E2M1_VALUES`,
        bit 3 is the float's sign bit, so ``-0.0`` gives 0x8 and ``+0.0`` gives 0x0.

    Raises
    ------
    TypeError
        If ``quants`` does not have a floating dtype.
    ValueError
        If any value is not an E2M1 value (NaN and inf included); the message gives the
        count and the first index. Round first with :func:`nvfp4_np.formats.round_e2m1`.
    """
    return _encode(quants, "quants", _FP4_MAGS, np.arange(_FP4_SIGN, dtype=np.uint8), _FP4_SIGN,
                   "E2M1 (allowed: ±0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6)", "round_e2m1")


def fp4_values(codes):
    """float32 values of E2M1 codes.

    Parameters
    ----------
    codes : array_like of an integer dtype, any shape
        Codes 0..15 (unpacked, one per element; see :func:`unpack_fp4`).

    Returns
    -------
    values : ndarray of float32, same shape
        ``0x8`` decodes to ``-0.0``.

    Raises
    ------
    TypeError
        If ``codes`` does not have an integer dtype.
    ValueError
        If a code is negative or above 15.
    """
    return _lookup(_FP4_DECODE, _as_codes(codes, "codes", _FP4_MAX_CODE, "E2M1 codes", "fp4_codes"))


# --------------------------------------------------------------------------------------
# E4M3 scale bytes
# --------------------------------------------------------------------------------------


def e4m3_bytes(scales):
    """E4M3 bytes (uint8) of values that are exactly E4M3 values.

    Parameters
    ----------
    scales : array_like of a real floating dtype, any shape
        Finite E4M3 values: ±0, the subnormals ±k·2^-9 (k = 1..7) and the normals up to
        ±448. NVFP4 block scales are non-negative, but the sign is encoded (bit 7) so
        that any E4M3 array round-trips; ``-0.0`` gives 0x80.

    Returns
    -------
    scale_bytes : ndarray of uint8, same shape
        The bytes that :data:`nvfp4_np.formats.E4M3_DECODE` (and ml_dtypes'
        ``float8_e4m3fn``) decode back to ``scales``.

    Raises
    ------
    TypeError
        If ``scales`` does not have a floating dtype.
    ValueError
        If any value is not exactly an E4M3 value: NaN, ±inf, magnitudes above 448 and
        values between grid points (such as 0.3) are rejected rather than rounded. Round
        first with :func:`nvfp4_np.formats.snap_e4m3`.
    """
    return _encode(scales, "scales", _E4M3_MAGS, _E4M3_MAG_CODES, _E4M3_SIGN,
                   "E4M3 (finite values up to ±448, on the E4M3 grid)", "snap_e4m3")


def e4m3_values(scale_bytes):
    """float32 values of E4M3 bytes, by :data:`nvfp4_np.formats.E4M3_DECODE`.

    Parameters
    ----------
    scale_bytes : array_like of an integer dtype, any shape
        Bytes 0..255 (an ml_dtypes ``float8_e4m3fn`` array: pass ``arr.view(np.uint8)``).

    Returns
    -------
    values : ndarray of float32, same shape
        0x7F and 0xFF decode to NaN, 0x80 to ``-0.0``.

    Raises
    ------
    TypeError
        If ``scale_bytes`` does not have an integer dtype.
    ValueError
        If a value is outside 0..255.
    """
    b = _as_codes(scale_bytes, "scale_bytes", _BYTE_MAX, "bytes", "e4m3_bytes")
    return _lookup(formats.E4M3_DECODE, b)


# --------------------------------------------------------------------------------------
# nibble packing
# --------------------------------------------------------------------------------------


def pack_fp4(codes):
    """Pack E2M1 codes two per byte along the last axis.

    Parameters
    ----------
    codes : array_like of an integer dtype, shape (..., K)
        Codes 0..15; K must be even.

    Returns
    -------
    packed : ndarray of uint8, shape (..., K // 2)
        ``packed[..., i] = codes[..., 2*i] | codes[..., 2*i + 1] << 4``: element 2i in
        the low nibble, 2i+1 in the high nibble (the order of every NVIDIA kernel and of
        torchao / ModelOpt / Transformer Engine; triton PR #5197 fixed a high-first bug).

    Raises
    ------
    TypeError
        If ``codes`` does not have an integer dtype.
    ValueError
        If ``codes`` is 0-d, its last axis is odd, or a code is outside 0..15.
    """
    c = _as_codes(codes, "codes", _FP4_MAX_CODE, "E2M1 codes", "fp4_codes")
    if c.ndim == 0 or c.shape[-1] % 2:
        raise ValueError(
            f"codes must have shape (..., K) with K even (two codes per byte), got shape {c.shape}"
        )
    return c[..., 0::2] | (c[..., 1::2] << _FP4_BITS)


def unpack_fp4(packed):
    """Unpack bytes into two E2M1 codes each, along the last axis (inverse of
    :func:`pack_fp4`).

    Parameters
    ----------
    packed : array_like of an integer dtype, shape (..., K // 2)
        Bytes 0..255.

    Returns
    -------
    codes : ndarray of uint8, shape (..., K)
        ``codes[..., 2*i]`` is the low nibble of ``packed[..., i]``, ``codes[..., 2*i+1]``
        the high nibble.

    Raises
    ------
    TypeError
        If ``packed`` does not have an integer dtype.
    ValueError
        If ``packed`` is 0-d or a value is outside 0..255.
    """
    p = _as_codes(packed, "packed", _BYTE_MAX, "bytes", "pack_fp4")
    if p.ndim == 0:
        raise ValueError(
            "packed must have shape (..., K // 2) with at least 1 dimension, got a 0-d array"
        )
    pairs = np.stack([p & _FP4_MAX_CODE, p >> _FP4_BITS], axis=-1)
    return pairs.reshape(p.shape[:-1] + (2 * p.shape[-1],))


_FP6_MAX_CODE = 0x3F
_FP6_BITS = 6


def pack_fp6(codes):
    """Pack 6-bit codes (MXFP6 E2M3 or E3M2) four into three bytes along the last axis.

    The codes form a little-endian bit stream: code k of a group of four occupies bits
    6k..6k+5 of the 24-bit little-endian word of the group's three bytes (byte 3g holds
    code 0 and the low 2 bits of code 1, byte 3g+1 the high 4 bits of code 1 and the
    low 4 of code 2, byte 3g+2 the high 2 bits of code 2 and code 3; docs/design/mx.md
    names the sources of this order).

    Parameters
    ----------
    codes : array_like of an integer dtype, shape (..., K)
        Codes 0..63; K must be a multiple of 4.

    Returns
    -------
    packed : ndarray of uint8, shape (..., 3 * K // 4)
    """
    c = _as_codes(codes, "codes", _FP6_MAX_CODE, "6-bit codes")
    if c.ndim == 0 or c.shape[-1] % 4:
        raise ValueError(f"codes must have shape (..., K) with K a multiple of 4 (four codes in three bytes), "
                         f"got shape {c.shape}")
    g = c.reshape(c.shape[:-1] + (c.shape[-1] // 4, 4)).astype(np.uint32)
    word = g[..., 0] | (g[..., 1] << 6) | (g[..., 2] << 12) | (g[..., 3] << 18)
    out = np.stack([word & 0xFF, (word >> 8) & 0xFF, word >> 16], axis=-1).astype(np.uint8)
    return out.reshape(c.shape[:-1] + (3 * c.shape[-1] // 4,))


def unpack_fp6(packed):
    """Unpack three bytes into four 6-bit codes along the last axis (inverse of
    :func:`pack_fp6`).

    Parameters
    ----------
    packed : array_like of an integer dtype, shape (..., 3 * K // 4)
        Bytes 0..255; the last axis a multiple of 3.

    Returns
    -------
    codes : ndarray of uint8, shape (..., K)
    """
    p = _as_codes(packed, "packed", _BYTE_MAX, "bytes", "pack_fp6")
    if p.ndim == 0 or p.shape[-1] % 3:
        raise ValueError(f"packed must have shape (..., 3 * K // 4) with its last axis a multiple of 3, "
                         f"got shape {p.shape}")
    g = p.reshape(p.shape[:-1] + (p.shape[-1] // 3, 3)).astype(np.uint32)
    word = g[..., 0] | (g[..., 1] << 8) | (g[..., 2] << 16)
    out = np.stack([(word >> (6 * k)) & _FP6_MAX_CODE for k in range(4)], axis=-1).astype(np.uint8)
    return out.reshape(p.shape[:-1] + (4 * p.shape[-1] // 3,))


# --------------------------------------------------------------------------------------
# swizzled block-scale layout
# --------------------------------------------------------------------------------------


def _ceil_div(a, b):
    return -(-a // b)


def _tile_axes(nb):
    """Axis order taking (batch..., rt, i, j, kt, c) to (batch..., rt, kt, j, i, c), the
    swizzled byte order. It swaps i <-> kt and so is its own inverse."""
    return (*range(nb), nb, nb + 3, nb + 2, nb + 1, nb + 4)


def _swizzled_shape(lead, m, ks):
    """torchao's 2-D grouping of the swizzled bytes: each tile as 32 rows of 16 bytes,
    the tiles of one row-tile side by side (so the C order is the buffer order)."""
    n_rt, n_kt = _ceil_div(m, _TILE_ROWS), _ceil_div(ks, _TILE_COLS)
    return tuple(lead) + (_ROW_GROUP * n_rt, _TILE_BYTES // _ROW_GROUP * n_kt)


def swizzle_scales(scale_bytes):
    """Rearrange row-major block-scale bytes into the 128x4 tiled ("swizzled") layout.

    This is the layout Blackwell block-scaled tensor cores read, as cuBLASLt ("1D block
    scaling factors layout"), CUTLASS, TRT-LLM / FlashInfer (``is_sf_swizzled_layout``,
    ``get_sf_out_offset_128x4``) and torchao (``to_blocked``) use it, for NVFP4, MXFP4 and
    MXFP8 alike. Rows are padded to a multiple of 128 and scale columns to a multiple of 4
    with zero bytes; then the byte of logical scale ``(m, k)`` of a batch lies at::

        n_kt = ceil(Ks / 4)
        off = ((m // 128) * n_kt + k // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + k % 4

    i.e. 512-byte tiles of 128 rows x 4 scale columns (64 FP4 elements of K for NVFP4),
    ordered row-tile-major, inside a tile row ``32*i + j`` at ``j*16 + i*4``. Batches
    (leading axes) follow one another, each ``ceil(M/128) * n_kt * 512`` bytes.

    Parameters
    ----------
    scale_bytes : ndarray of uint8, shape (..., M, Ks)
        E4M3 block-scale bytes (see :func:`e4m3_bytes`), row-major: row m holds the
        ``Ks = K / 16`` scales of row m of the (M, K) operand (K-major, as both A and B
        are laid out for the GEMM).

    Returns
    -------
    swizzled : ndarray of uint8, shape (..., 32 * ceil(M/128), 16 * ceil(Ks/4))
        C-contiguous; its bytes in C order are the swizzled buffer. For 2-D input this is
        the shape torchao's ``to_blocked`` documents and torchao's NVFP4Tensor stores its
        swizzled scale in (``to_blocked`` itself returns the same bytes flattened). The
        2-D shape only groups the bytes; use ``swizzled.ravel()`` for the flat buffer.

    Raises
    ------
    TypeError
        If ``scale_bytes`` is not a uint8 array.
    ValueError
        If ``scale_bytes`` has fewer than 2 dimensions.

    See Also
    --------
    unswizzle_scales : the inverse.
    """
    a = np.asarray(scale_bytes)
    if a.dtype != np.uint8:
        raise TypeError(
            f"scale_bytes must be a uint8 array of E4M3 bytes, got dtype {a.dtype}. Convert "
            f"float scales with nvfp4_np.encoding.e4m3_bytes, or view an ml_dtypes float8 array "
            f"with arr.view(np.uint8)"
        )
    if a.ndim < 2:
        raise ValueError(
            f"scale_bytes must have shape (..., M, Ks) with at least 2 dimensions, got shape {a.shape}"
        )
    *lead, m, ks = a.shape
    n_rt, n_kt = _ceil_div(m, _TILE_ROWS), _ceil_div(ks, _TILE_COLS)
    padded = np.zeros((*lead, n_rt * _TILE_ROWS, n_kt * _TILE_COLS), np.uint8)
    padded[..., :m, :ks] = a
    # m = (rt*4 + i)*32 + j and k = kt*4 + c; the buffer is ordered (rt, kt, j, i, c).
    tiles = padded.reshape(*lead, n_rt, _GROUPS_PER_TILE, _ROW_GROUP, n_kt, _TILE_COLS)
    swizzled = np.ascontiguousarray(tiles.transpose(_tile_axes(len(lead))))
    return swizzled.reshape(_swizzled_shape(lead, m, ks))


def unswizzle_scales(swizzled, shape):
    """Row-major block-scale bytes from the 128x4 swizzled layout (inverse of
    :func:`swizzle_scales`); the padding is dropped.

    Parameters
    ----------
    swizzled : ndarray of uint8
        Either of shape (..., 32 * ceil(M/128), 16 * ceil(Ks/4)), as
        :func:`swizzle_scales` returns, or the same bytes as a flat 1-D buffer (as
        torchao's ``to_blocked`` returns it or a kernel writes it).
    shape : tuple of int
        The logical shape (..., M, Ks) of the row-major scales.

    Returns
    -------
    scale_bytes : ndarray of uint8, shape ``shape``, C-contiguous

    Raises
    ------
    TypeError
        If ``swizzled`` is not a uint8 array or ``shape`` is not a tuple of ints.
    ValueError
        If ``shape`` has fewer than 2 entries or a negative one, or if ``swizzled`` does
        not have the padded shape (or size, when flat) that ``shape`` swizzles to.
    """
    a = np.asarray(swizzled)
    if a.dtype != np.uint8:
        raise TypeError(f"swizzled must be a uint8 array of swizzled scale bytes, got dtype {a.dtype}")
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints (..., M, Ks), got {shape!r}") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape):
        raise TypeError(f"shape must be a tuple of ints (..., M, Ks), got {shape!r}")
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2 or min(shape) < 0:
        raise ValueError(f"shape must be (..., M, Ks) with at least 2 non-negative entries, got {shape}")
    *lead, m, ks = shape
    want = _swizzled_shape(lead, m, ks)
    n_bytes = int(np.prod(want))
    if a.shape != want and not (a.ndim == 1 and a.size == n_bytes):
        raise ValueError(
            f"swizzled has shape {a.shape}, but scales of shape {shape} swizzle to shape "
            f"{want} ({n_bytes} bytes; a flat 1-D buffer of {n_bytes} bytes is accepted too)"
        )
    n_rt, n_kt = _ceil_div(m, _TILE_ROWS), _ceil_div(ks, _TILE_COLS)
    tiles = a.reshape(*lead, n_rt, n_kt, _ROW_GROUP, _GROUPS_PER_TILE, _TILE_COLS)
    padded = tiles.transpose(_tile_axes(len(lead))).reshape(*lead, n_rt * _TILE_ROWS, n_kt * _TILE_COLS)
    return np.ascontiguousarray(padded[..., :m, :ks])
