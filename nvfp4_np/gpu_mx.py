"""GPU twin of the MX kernels (mx.mx_naive, mx_search.mx_optimal and mx_hessian): a CUDA
GPU, bit-identical to the CPU.

One CUDA thread per block of 32 (block i of the (R, C) input: row i // (C / 32), column
block i % (C / 32)) runs the per-block definitions the CPU kernels are held to, compiled
for CUDA by numba: mx.naive_block, mx_search.search_block (its residual in a local array
of 32 float64) and mx_search.codes_block. The arithmetic is IEEE (no fast-math, IEEE division) and the kernels
compile with FMA contraction off (_gpu_tile.launch: ieee_compile), so the float64 sums
of squares and r^T H r round as on the CPU.

Host (NumPy) input only, as quantize_mx takes: the checks and the tables (the decode
table of the element format, the block Hessians) are the CPU functions' own; the input
goes to the device in chunks of whole rows (about CHUNK_BLOCKS blocks each: the results
do not depend on it), and the bytes come back to NumPy arrays. Blocks holding Inf or
NaN are counted (an atomic add), their bytes are not defined, as on the CPU: the caller
raises.
"""

import numba
import numpy as np

from . import _gpu
from ._config import GPU_CHUNK_BLOCKS
from ._gpu_tile import cached_kernel, launch
from ._numba_cuda import cuda
from .mx import MX_BLOCK, check_format, check_scale_rounding, element_args, naive_block, packed
from .mx_search import codes_block, search_block, search_tables

__all__ = ["mx_naive", "mx_optimal", "mx_hessian"]

#: Blocks of 32 per chunk of a host input (whole rows): device memory stays bounded;
#: results never depend on it.
CHUNK_BLOCKS = GPU_CHUNK_BLOCKS


_naive_block = _gpu.device_fn(naive_block)
_search_block = _gpu.device_fn(search_block)
_codes_block = _gpu.device_fn(codes_block)


@cached_kernel
def _naive_kernel(x, mode, emax, mbits, ebits, bias, largest, codes, scales, nbad):
    """One thread per block of 32 of the float32 (R, C) ``x``: naive_block; ``nbad[0]``
    counts the blocks holding Inf or NaN."""
    i = cuda.grid(1)
    nb = x.shape[1] // MX_BLOCK
    if i < x.shape[0] * nb:
        if not _naive_block(x, i // nb, i % nb, mode, emax, mbits, ebits, bias, largest, codes, scales):
            cuda.atomic.add(nbad, 0, 1)


@cached_kernel
def _search_kernel(x, H, use_h, emax, mbits, ebits, bias, largest, values, codes, scales, nbad):
    """One thread per block of 32 of the float32 (R, C) ``x``: search_block, then
    codes_block at its byte (a block holding Inf or NaN: counted in ``nbad[0]``, byte 0,
    as the CPU leaves it)."""
    res = cuda.local.array(MX_BLOCK, numba.float64)
    i = cuda.grid(1)
    nb = x.shape[1] // MX_BLOCK
    if i < x.shape[0] * nb:
        r = i // nb
        blk = i % nb
        b = _search_block(x, r, blk, H, use_h, emax, mbits, ebits, bias, largest, values, res)
        if b < 0:
            cuda.atomic.add(nbad, 0, 1)
            b = 0
        scales[r, blk] = np.uint8(b)
        _codes_block(x, r, blk, b, mbits, ebits, bias, largest, codes)


def _run(x, launch_chunk, alloc):
    """``launch_chunk(c, x_dev, codes_dev, scales_dev, nbad_dev)`` over the rows of the
    float32 (R, C) host ``x`` in chunks; (codes (R, C), scale bytes (R, C / 32), the
    number of blocks holding Inf or NaN)."""
    c = _gpu.cuda()
    R, C = x.shape
    nb = C // MX_BLOCK
    codes = alloc((R, C), np.uint8)
    scales = alloc((R, nb), np.uint8)
    if not x.size:
        return codes, scales, 0
    nbad = c.to_device(np.zeros(1, np.int64))
    step = max(1, CHUNK_BLOCKS // nb)  # rows a chunk
    for r0 in range(0, R, step):
        r1 = min(R, r0 + step)
        codes_d = c.device_array((r1 - r0, C), np.uint8)
        scales_d = c.device_array((r1 - r0, nb), np.uint8)
        launch_chunk(c, c.to_device(x[r0:r1]), codes_d, scales_d, nbad)
        codes[r0:r1] = codes_d.copy_to_host()
        scales[r0:r1] = scales_d.copy_to_host()
    return codes, scales, int(nbad.copy_to_host()[0])


def mx_naive(x, fmt, scale_rounding=None, pack=False, alloc=np.empty):
    """:func:`nvfp4_np.mx.mx_naive` on a CUDA GPU, bit-identical: the float32 (R, C)
    host ``x`` (C a multiple of 32) -> (codes (R, C) uint8, one per element; scale bytes
    (R, C / 32) uint8; the number of blocks holding Inf or NaN, whose bytes are not
    defined: the caller raises)."""
    f = check_format(fmt)
    mode = check_scale_rounding(scale_rounding)
    x = np.ascontiguousarray(x, np.float32)
    mbits, ebits, bias, largest = element_args(f)

    def launch_chunk(c, xd, codes_d, scales_d, nbad):
        launch(_naive_kernel, xd.shape[0] * (xd.shape[1] // MX_BLOCK), xd, mode, f.emax, mbits, ebits, bias,
               largest, codes_d, scales_d, nbad)

    codes, scales, nbad = _run(x, launch_chunk, alloc)
    return packed(codes, pack), scales, nbad


def _search(x, fmt, H_blocks, pack, alloc):
    """mx_search._search on the GPU (its tables, made the same way)."""
    f = check_format(fmt)
    x = np.ascontiguousarray(x, np.float32)
    mbits, ebits, bias, largest = element_args(f)
    H, use_h, values = search_tables(f, H_blocks)
    tables = {}

    def launch_chunk(c, xd, codes_d, scales_d, nbad):
        if not tables:  # (once, shared by the chunks)
            tables.update(H=c.to_device(H), values=c.to_device(values))
        launch(_search_kernel, xd.shape[0] * (xd.shape[1] // MX_BLOCK), xd, tables["H"], use_h, f.emax, mbits,
               ebits, bias, largest, tables["values"], codes_d, scales_d, nbad)

    codes, scales, nbad = _run(x, launch_chunk, alloc)
    return packed(codes, pack), scales, nbad


def mx_optimal(x, fmt, pack=False, alloc=np.empty):
    """:func:`nvfp4_np.mx_search.mx_optimal` on a CUDA GPU, bit-identical (the byte of
    least squared error per block of 32; returns as :func:`mx_naive`)."""
    return _search(x, fmt, None, pack, alloc)


def mx_hessian(x, fmt, H_blocks, pack=False, alloc=np.empty):
    """:func:`nvfp4_np.mx_search.mx_hessian` on a CUDA GPU, bit-identical (the byte of
    least r^T H r, ``H_blocks`` (C / 32, 32, 32) the Hessian of each column block)."""
    return _search(x, fmt, H_blocks, pack, alloc)
