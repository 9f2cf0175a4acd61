"""A weight as the kernels take it, in parallel: float32 from the checkpoint's dtype
(bfloat16, float16, float32, float64) and the tensor's max|x| in one pass over it.

Both are exact and order-free (a conversion is elementwise; a max does not depend on
the order it is taken in), so the results never depend on the thread count. NumPy's
``astype`` and :func:`nvfp4_np.core.tensor_amax`'s definition (``max(x.max(), -x.min())``,
0 when that is NaN or Inf) are what the tests hold these to.
"""

import numba
import numpy as np

from ._config import JIT_PARALLEL

#: Elements per parallel work item (results do not depend on it).
CONVERT_CHUNK = 1 << 16
#: absmax takes NumPy's serial passes below this many elements (a parallel launch costs more).
PARALLEL_MIN = 1 << 16

_BITS16 = {"bfloat16": 0, "BF16": 0, "float16": 1, "F16": 1}


def to_float32(a, bits=None):
    """``(W, amax)``: ``a`` (any shape; a read-only memory map of a file is fine) as a
    C-contiguous float32 array, and its float32 max|W| (0 when it holds NaN or Inf, which
    the kernels report). W is ``a`` itself when that is one already, a new array
    otherwise. bfloat16 and float16 convert exactly; float64 rounds to nearest (as
    ``astype``). ``bits="BF16"`` or ``"F16"``: ``a`` is uint16, the bits of such values."""
    a, kind = _bits_kind(np.asarray(a), bits)
    if a.dtype == np.float32 and a.flags.c_contiguous:
        return a, absmax(a)
    if kind is None or a.size == 0:  # float64, another real dtype, a byte-swapped one, or empty
        w = np.ascontiguousarray(a, np.float32)
        return w, absmax(w)
    src = np.ascontiguousarray(a).reshape(-1).view(np.uint16)
    out = np.empty(a.shape, np.float32)
    return out, _amax_from_bits(_convert16(src, kind, out.reshape(-1).view(np.uint32)))


def _bits_kind(a, bits):
    """``(a, kind)``: kind 0 (bfloat16) or 1 (float16) when ``a`` holds such values, or
    their bits (``bits``), with ``a`` in native byte order; kind None otherwise (NumPy
    converts it). The one dispatch of both twins."""
    if bits is not None:
        kind = _BITS16.get(bits)
        if kind is None or a.dtype.kind != "u" or a.dtype.itemsize != 2:
            raise ValueError(f"bits={bits!r} takes the uint16 bits of bfloat16 ('BF16') or float16 ('F16') values")
        return (a if a.dtype.isnative else a.astype(np.uint16)), kind
    kind = _BITS16.get(a.dtype.name)
    return a, (kind if kind is not None and a.dtype.isnative else None)  # (byte-swapped float16: NumPy)


def absmax(x):
    """float32 max|x| of a float32 array (0 when it holds NaN or Inf), in parallel for a
    large C-contiguous one: :func:`nvfp4_np.core.tensor_amax`'s value."""
    if x.size >= PARALLEL_MIN and x.flags.c_contiguous and x.dtype == np.float32:
        return _amax_from_bits(_absbits(x.reshape(-1).view(np.uint32)))
    return _serial_amax(x)


def max_abs_bits(x):
    """The largest magnitude bits (uint32) of a float32 C-contiguous array, in parallel
    when it is large; 0 for an empty one. At least 0x7F800000 when it holds Inf or NaN,
    else max|x|'s bits."""
    if x.size == 0:
        return np.uint32(0)
    bits = x.reshape(-1).view(np.uint32)
    if x.size >= PARALLEL_MIN:
        return np.uint32(_absbits(bits))
    return np.uint32((bits & np.uint32(_ABS)).max())


def _serial_amax(x):
    if x.size == 0:
        return np.float32(0.0)
    # max(max, -min) is max|x| without a temporary |x|; abs() makes -0.0 give +0.0.
    m = abs(max(x.max(), -x.min()))
    return m if np.isfinite(m) else np.float32(0.0)


@numba.njit(cache=True, nogil=True)
def _half_bits_to_float(h):
    """The float32 bits of the IEEE half with bits ``h`` (exact, integer arithmetic only)."""
    sign = np.uint32(h & 0x8000) << np.uint32(16)
    e = np.uint32((h >> 10) & 0x1F)
    m = np.uint32(h & 0x3FF)
    if e == 0:  # zero or subnormal m * 2^-24: normalised, 2^p the leading bit of m
        if m == 0:
            return sign
        p = 9
        while (m >> np.uint32(p)) == 0:
            p -= 1
        return sign | (np.uint32(p + 103) << np.uint32(23)) | ((m ^ (np.uint32(1) << np.uint32(p))) << np.uint32(23 - p))
    if e == 0x1F:  # Inf or NaN (payload kept)
        return sign | np.uint32(0x7F800000) | (m << np.uint32(13))
    return sign | ((e + np.uint32(112)) << np.uint32(23)) | (m << np.uint32(13))


#: |x| bits at or above this are Inf or NaN; below it, float32 magnitudes order as their bits.
_NONFINITE = np.uint32(0x7F800000)
_ABS = np.uint32(0x7FFFFFFF)


def _amax_from_bits(top):
    """max|x| from the largest of x's magnitude bits (0 when one was Inf or NaN)."""
    return np.float32(0.0) if top >= _NONFINITE else np.array([top], np.uint32).view(np.float32)[0]


@numba.njit(**JIT_PARALLEL)
def _convert16(src, kind, bits):
    """``bits`` (uint32) = the float32 bits of the bfloat16 (kind 0) or float16 (kind 1)
    values whose bits are ``src`` (uint16); returns the largest |x| bits."""
    n = src.size
    nc = (n + CONVERT_CHUNK - 1) // CONVERT_CHUNK
    top = np.zeros(nc, np.uint32)
    for c in numba.prange(nc):
        t = np.uint32(0)
        for i in range(c * CONVERT_CHUNK, min(n, (c + 1) * CONVERT_CHUNK)):
            b = np.uint32(src[i]) << np.uint32(16) if kind == 0 else _half_bits_to_float(src[i])
            bits[i] = b
            t = max(t, b & _ABS)
        top[c] = t
    return top.max()


#: Independent running maxima per chunk in _absbits (a vector's worth and more, so that the
#: loop is not one long chain of dependent max operations).
_LANES = 16


@numba.njit(**JIT_PARALLEL)
def _absbits(bits):
    """The largest |x| bits of float32 values whose bits are ``bits`` (uint32)."""
    n = bits.size
    nc = (n + CONVERT_CHUNK - 1) // CONVERT_CHUNK
    top = np.zeros(nc, np.uint32)
    for c in numba.prange(nc):
        lo = c * CONVERT_CHUNK
        hi = min(n, lo + CONVERT_CHUNK)
        lanes = np.zeros(_LANES, np.uint32)
        i = lo
        while i + _LANES <= hi:
            for k in range(_LANES):
                lanes[k] = max(lanes[k], bits[i + k] & _ABS)
            i += _LANES
        t = np.uint32(0)
        for k in range(_LANES):
            t = max(t, lanes[k])
        for k in range(i, hi):
            t = max(t, bits[k] & _ABS)
        top[c] = t
    return top.max()
