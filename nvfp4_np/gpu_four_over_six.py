"""GPU twin of four_over_six.py: Four Over Six on a CUDA GPU, bit-identical to the CPU.

One CUDA thread per 1-D block of 16 (or per 16x16 tile with ``block_2d``) runs
``four_over_six_unit``, the definition the CPU's grouped kernels are held to, compiled
for CUDA by numba, with its scratch in local arrays of the unit's size (16 or 256
elements: two kernels, since a local array's size must be a global constant). The
checks, the tensor constants and the errors are the CPU module's own
(four_over_six.prepare_2d, check_shape, kernel_params).

The unit's arithmetic is IEEE float32 with every operation rounded once: division is
IEEE (no fast-math), and the kernels compile with FMA contraction off
(_gpu_tile.ieee_compile). Besides, no product in the unit's call path feeds an addition
inexactly: ``_error``'s squares go through ``mul_rn``; ``_round_element``'s
product ``val * factor`` reaches its addition only through an absolute value (and TE's
clamp), e4m3_code's ``v * 2^9`` is exact (a power of two), and the error
``fl(fl(fl(q * s) * amax) / K) - val`` has a division between the products and the
subtraction; ``_torch_sum`` and ``_te_sum`` only add.

Host (NumPy) input: checked and converted on the host as the CPU does, copied to the
device in chunks of whole units' rows (the results do not depend on the chunking), the
bytes copied back. Device input (anything with ``__cuda_array_interface__``: float32,
C-contiguous): the amax is taken on the device (an exact integer max of the magnitude
bits, which also finds NaN and Inf: such input is copied to the host only to raise the
CPU's error), and the bytes stay there (numba device arrays).
"""

import math

import numba
import numpy as np

from . import _gpu, core
from ._config import GPU_CHUNK_BLOCKS, GPU_REDUCE_BLOCKS, GPU_THREADS_PER_BLOCK
from ._gpu_tile import amax_bits_kernel, cached_kernel, launch
from ._numba_cuda import cuda
from .four_over_six import (
    FOUR_OVER_SIX_RECIPES, check_blocks_call, check_shape, four_over_six_unit, kernel_params, prepare_2d, settings,
)

__all__ = ["nvfp4_four_over_six", "four_over_six_blocks"]

_unit = _gpu.device_fn(four_over_six_unit)

#: The scratch sizes of the two kernels (a local array's size must be a global constant):
#: a block of 16, a 16x16 tile.
BLOCK_N = 16
TILE_N = 256
#: Blocks of 16 per chunk of a host input (whole rows of units): device memory stays
#: bounded; results never depend on it.
CHUNK_BLOCKS = GPU_CHUNK_BLOCKS
_FINITE_BITS = np.uint32(0x7F800000)  # magnitude bits at or above: Inf or NaN


@cached_kernel
def _blocks_kernel(x, p, packed, scales):
    """One thread per block of 16 of the float32 (R, C) ``x`` (block i: row i // (C / 16),
    column block i % (C / 16))."""
    v = cuda.local.array(BLOCK_N, numba.float32)
    c6 = cuda.local.array(BLOCK_N, numba.uint8)
    c4 = cuda.local.array(BLOCK_N, numba.uint8)
    e6 = cuda.local.array(BLOCK_N, numba.float32)
    e4 = cuda.local.array(BLOCK_N, numba.float32)
    i = cuda.grid(1)
    nbc = x.shape[1] // 16
    if i < x.shape[0] * nbc:
        _unit(x, i // nbc, i % nbc, 1, p, v, c6, c4, e6, e4, packed, scales)


@cached_kernel
def _tiles_kernel(x, p, packed, scales):
    """One thread per 16x16 tile of the float32 (R, C) ``x`` (tile i: tile row
    i // (C / 16), column block i % (C / 16))."""
    v = cuda.local.array(TILE_N, numba.float32)
    c6 = cuda.local.array(TILE_N, numba.uint8)
    c4 = cuda.local.array(TILE_N, numba.uint8)
    e6 = cuda.local.array(TILE_N, numba.float32)
    e4 = cuda.local.array(TILE_N, numba.float32)
    i = cuda.grid(1)
    nbc = x.shape[1] // 16
    if i < (x.shape[0] // 16) * nbc:
        _unit(x, i // nbc, i % nbc, 16, p, v, c6, c4, e6, e4, packed, scales)


def _run(x_dev, tile_rows, p, packed, scales):
    """The kernel over the device (R, C) float32 ``x_dev`` into the device outputs."""
    R, C = tuple(x_dev.shape)
    units = (R // tile_rows) * (C // 16)
    launch(_tiles_kernel if tile_rows == 16 else _blocks_kernel, units, x_dev, p, packed, scales)


def _device_amax_bits(x_dev):
    """max of the float32 magnitude bits of a device array (>= 0x7F800000: Inf or NaN)."""
    c = _gpu.cuda()
    out = c.to_device(np.zeros(1, np.uint32))
    # (threads: 16 elements each, at most _gpu.device_amax's number; a grid-stride loop
    # does the rest)
    n = min(-(-x_dev.size // 16), GPU_THREADS_PER_BLOCK * GPU_REDUCE_BLOCKS)
    launch(amax_bits_kernel, n, x_dev.reshape(-1).view(np.uint32), out)
    return out.copy_to_host()[0]


def _quantize_host(x, name, rule, block_2d, recipe, scale_max, tensor_amax):
    c = _gpu.cuda()
    xf, tile_rows, p, ts = prepare_2d(x, name, rule, block_2d, recipe, scale_max, tensor_amax)
    R, C = xf.shape
    packed = np.zeros((R, C // 2), np.uint8)
    scales = np.zeros((R, C // 16), np.uint8)
    if xf.size:
        step = max(1, CHUNK_BLOCKS // (C // 16) // tile_rows) * tile_rows  # rows a chunk
        for r0 in range(0, R, step):
            r1 = min(R, r0 + step)
            packed_d = c.device_array((r1 - r0, C // 2), np.uint8)
            scales_d = c.device_array((r1 - r0, C // 16), np.uint8)
            _run(c.to_device(xf[r0:r1]), tile_rows, p, packed_d, scales_d)
            packed[r0:r1] = packed_d.copy_to_host()
            scales[r0:r1] = scales_d.copy_to_host()
    return scales, packed, p.amax, ts


def _quantize_device(W, name, rule, block_2d, recipe, scale_max, tensor_amax):
    c = _gpu.cuda()
    recipe, rule, smax, vmax, k_const = settings(recipe, rule, scale_max)
    te = FOUR_OVER_SIX_RECIPES[recipe]["te"]
    x = W if hasattr(W, "copy_to_host") else c.as_cuda_array(W)  # numba's own arrays as they are
    if x.dtype != np.float32 or not x.is_c_contiguous():
        raise TypeError(f"a device array {name} must be C-contiguous float32, got {x.dtype} "
                        f"(contiguous: {x.is_c_contiguous()})")
    shape = tuple(x.shape)  # (a plain tuple: the simulator's shapes reject negative indices)
    tile_rows = check_shape(shape, name, block_2d)
    R, C = shape
    bits = _device_amax_bits(x) if x.size else np.uint32(0)
    if bits >= _FINITE_BITS:  # the CPU's error, counts and first index (from a host copy)
        prepare_2d(x.copy_to_host(), name, rule, block_2d, recipe, scale_max, tensor_amax)
        raise AssertionError("non-finite device input passed the host check")  # (unreachable)
    amax = np.array([bits], np.uint32).view(np.float32)[0]
    p, ts = kernel_params(name, rule, vmax, k_const, te, amax, tensor_amax)
    packed = c.device_array((R, C // 2), np.uint8)
    scales = c.device_array((R, C // 16), np.uint8)
    if x.size:
        _run(x, tile_rows, p, packed, scales)
    return scales, packed, p.amax, ts


def _quantize_2d(x, name, rule, block_2d, recipe, scale_max, tensor_amax):
    """four_over_six._quantize_2d on the GPU: host or device ``x``."""
    quantize = _quantize_device if core.is_device_array(x) else _quantize_host
    return quantize(x, name, rule, block_2d, recipe, scale_max, tensor_amax)


def nvfp4_four_over_six(W, rule=None, *, block_2d=False, recipe="fouroversix", scale_max=None, tensor_amax=None):
    """:func:`nvfp4_np.nvfp4_four_over_six` on a CUDA GPU, bit-identical (the same
    arguments, checks, errors and results).

    ``W`` is a NumPy array (or array_like: NumPy results) or a device array (anything with
    ``__cuda_array_interface__``: float32, C-contiguous; the scale bytes and codes are
    then numba device arrays, the amax a numpy.float32).
    """
    return _quantize_2d(W, "W", rule, block_2d, recipe, scale_max, tensor_amax)[:3]


def four_over_six_blocks(W, dim=-1, *, as_bytes=True, recipe="fouroversix", rounding=None, tensor_amax=None,
                         rule=None, scale_max=None, block_shape=None, X=None, H_blocks=None):
    """:func:`nvfp4_np.four_over_six.four_over_six_blocks` on a CUDA GPU, bit-identical:
    ``(scale_bytes (..., K // 16), codes (..., K // 16, 8), stored tensor scale, rule)``,
    the bytes on the device for a device ``W`` (float32, C-contiguous). The choice by
    r^T H r (``X`` / ``H_blocks``) runs on the CPU only."""
    if X is not None or H_blocks is not None:
        raise ValueError("the Hessian choice of method '4over6' (X or H_blocks) runs on the CPU: use device='cpu'")
    x = W if core.is_device_array(W) else np.asarray(W)
    shape = tuple(x.shape)
    block_2d, lead = check_blocks_call(shape, dim, as_bytes, rounding, block_shape)
    recipe = getattr(recipe, "name", recipe)  # (quantize passes the Recipe record)
    rule = settings(recipe, rule, scale_max)[1]
    flat = x.reshape(math.prod(lead), shape[-2] * 16)
    sb, packed, _, ts = _quantize_2d(flat, "W", rule, block_2d, recipe, scale_max, tensor_amax)
    return sb.reshape(lead + (shape[-2],)), packed.reshape(lead + (shape[-2], 8)), ts, rule
