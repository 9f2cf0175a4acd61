"""The GPU twin of rows.quantize_rows for a 2-D weight without calibration data, the
whole weight at once: its bits cross to the device once (2 bytes an element for
bfloat16), its float32 copy, amax, quantization and error sums are made there, and the
codes and scale bytes (0.5625 bytes an element) and two float64 per row come back. The
bytes and the report's figures are the CPU path's to the bit: the same kernels, and the
same per-row sums grouped into the same row steps."""

import time

import numpy as np

from ..tensor import quantize
from .layout import global_scale, layout_tensor
from .pieces import finish_tensor, piece, row_step


def takes(p, settings):
    """Whether weight ``p`` goes through this path: the GPU, a 2-D weight, no calibration
    (the Hessian methods and the output error need activations or Hessians: those run
    rows.quantize_rows with device="cuda", the kernels on the GPU, the rest on the host)."""
    return settings.device == "cuda" and len(p.shape) == 2 and p.calib is None and not settings.is_mx


def gpu_quantize_rows(src, bits, p, settings, amax=None, progress=None, step=None):
    """rows.quantize_rows' dict for host weight ``src`` (as SafetensorsFile.bits gives it:
    16-bit values as uint16 ``bits``, or a float array), quantized on the device with the
    tensor's ``amax`` (default: its own)."""
    from .._gpu_convert import gpu_to_float32  # (numba.cuda: imported only here)
    from ..gpu_metrics import gpu_row_error_sums

    d_W, own = gpu_to_float32(src, bits)
    amax = own if amax is None else amax
    M, K = d_W.shape
    step = step or row_step(K, settings.tile_rows)
    t = quantize(d_W, settings.block_size, p.method, -1, recipe=settings.recipe, rounding=settings.rounding,
                 tensor_amax=amax, device="cuda", **settings.method_options)
    gs = global_scale(t, settings.format)
    host = t.to_host()
    stored = layout_tensor(host.codes, host.scale_bytes, gs, (M, K), settings.format)
    rs = gpu_row_error_sums(d_W, t.codes, stored.effective_scales())
    sums = np.zeros((-(-M // step), 4))
    for i, a in enumerate(range(0, M, step)):  # the CPU path's partition: one sum per row step
        sums[i, :2] = rs[a:a + step, 0].sum(), rs[a:a + step, 1].sum()
    if progress:
        progress(M * K)
    return piece(stored.codes, stored.scale_bytes, gs, sums)


def gpu_quantize_tensor(src, bits, p, settings, *, progress=None, amax=None, input_scale=None):
    """rows.quantize_tensor's ``(arrays, entry)`` through :func:`gpu_quantize_rows`."""
    t0 = time.perf_counter()
    piece = gpu_quantize_rows(src, bits, p, settings, amax, progress)
    return finish_tensor(p, settings, [piece], time.perf_counter() - t0, input_scale)
