"""The GPU twin of :func:`nvfp4_np.metrics.row_error_sums`: per row of a device weight
and its device bytes, float64 (sum (dq - w)^2, sum w^2), one thread per row running
metrics.row_sums (the same operations in the same order, compiled without FMA
contraction), so the figures are the CPU's to the bit."""

import numpy as np

from ._emit import FP4_DECODE
from ._gpu import cuda, device_fn
from ._gpu_tile import cached_kernel, launch
from ._numba_cuda import cuda as numba_cuda
from .metrics import row_sums

_row_sums = device_fn(row_sums)


@cached_kernel
def _row_error_sums_kernel(w, packed, eff, decode, out):
    r = numba_cuda.grid(1)
    if r < w.shape[0]:
        _row_sums(r, w, packed, eff, decode, out)


def gpu_row_error_sums(d_W, d_packed, eff_scales):
    """:func:`nvfp4_np.metrics.row_error_sums` for device arrays ``d_W`` (M, K) float32
    and ``d_packed`` (M, K // 2) uint8, with the effective block scales ``eff_scales``
    (M, K // bs) float32 (host or device). Returns (M, 2) float64 on the host."""
    c = cuda()
    M = d_W.shape[0]
    out = c.device_array((M, 2), np.float64)
    if M and d_W.size:
        eff = eff_scales if hasattr(eff_scales, "copy_to_host") else c.to_device(np.ascontiguousarray(eff_scales))
        launch(_row_error_sums_kernel, M, d_W, d_packed, eff, c.to_device(FP4_DECODE), out)
    return out.copy_to_host()
