"""The GPU twin of _convert: a weight's float32 copy made on the device from the bits a
checkpoint holds (bfloat16 or float16: 2 bytes an element cross the bus instead of 4),
and its max|x| (an exact integer max of the magnitude bits). The conversion is
_convert's own ``_half_bits_to_float`` (or a shift for bfloat16), so the floats are
those of the CPU path."""

import numpy as np

from ._convert import _bits_kind, _half_bits_to_float, to_float32
from ._gpu import cuda, device_amax, device_fn
from ._gpu_tile import cached_kernel, launch
from ._numba_cuda import cuda as numba_cuda

_half = device_fn(_half_bits_to_float)


@cached_kernel
def _convert16_kernel(src, kind, bits):
    """bits[i] = the float32 bits of bfloat16 (kind 0) or float16 (kind 1) bits src[i]."""
    i = numba_cuda.grid(1)
    if i < src.size:
        if kind == 0:
            bits[i] = np.uint32(src[i]) << np.uint32(16)
        else:
            bits[i] = _half(src[i])


def gpu_to_float32(a, bits=None):
    """``(d_W, amax)``: host array ``a`` (as :func:`nvfp4_np._convert.to_float32` takes
    it: bfloat16 / float16 values, or their uint16 bits with ``bits="BF16"`` / ``"F16"``,
    float32, float64) as a C-contiguous float32 device array, and its float32 max|W| (0
    when it holds NaN or Inf). 16-bit values are copied as they are and converted on the
    device; float64 is converted on the host first."""
    c = cuda()
    a = np.asarray(a)
    a, kind = _bits_kind(a, bits)
    if kind is None or a.size == 0:
        w, amax = to_float32(a)
        return c.to_device(w), amax
    src = c.to_device(np.ascontiguousarray(a).reshape(-1).view(np.uint16))
    d_w = c.device_array(a.shape, np.float32)
    launch(_convert16_kernel, src.size, src, kind, d_w.reshape(-1).view(np.uint32))
    return d_w, device_amax(d_w.reshape(-1))
