"""GPU twin of naive.py: one CUDA thread per block, the same per-block functions.

A CUDA block of GPU_TILE_BLOCKS threads stages its tile of NVFP4 blocks through shared
memory, so that global loads and stores are coalesced (consecutive threads touch
consecutive words) although each thread works on a whole block. The search kernel
(gpu_search.py) uses the same tiles.
"""

import numba
import numpy as np
from numba import cuda

from . import _gpu
from ._config import GPU_TILE_BLOCKS
from .naive import naive_block

__all__ = ["nvfp4_naive"]

_T = GPU_TILE_BLOCKS
_MAX_BS = 32


@cuda.jit(device=True)
def copy_rows(src, src0, dst, dst0, m):
    """Rows src0.. of src to rows dst0.. of dst (m rows of src.shape[1] columns), the
    threads of the CUDA block taking consecutive words (coalesced in global memory)."""
    bs = src.shape[1]
    t = cuda.threadIdx.x
    for k in range(bs):
        idx = k * _T + t
        r = idx // bs
        if r < m:
            c = idx - r * bs
            dst[dst0 + r, c] = src[src0 + r, c]


def tiled_kernel(block_fn):
    """A kernel that stages a tile of _T NVFP4 blocks through shared memory and has one
    thread per block call ``block_fn(t, x, xbits, rc, dec, out, want_dq, status)`` (the
    signature of the CPU's per-block functions) on the tile."""

    @cuda.jit
    def kernel(n, x, xbits, rc, dec, out, want_dq, status):
        tile = cuda.shared.array((_T, _MAX_BS), numba.float32)
        tile_bits = cuda.shared.array((_T, _MAX_BS), numba.uint32)
        q_tile = cuda.shared.array((_T, _MAX_BS), numba.float32)
        dq_tile = cuda.shared.array((_T, _MAX_BS), numba.float32)
        bs = x.shape[1]
        base = cuda.blockIdx.x * _T
        m = min(_T, n - base)
        copy_rows(x, base, tile[:, :bs], 0, m)
        copy_rows(xbits, base, tile_bits[:, :bs], 0, m)
        cuda.syncthreads()
        t = cuda.threadIdx.x
        if t < m:
            codes, scales, quants, dequant = out
            tout = (codes[base:base + m], scales[base:base + m], q_tile[:, :bs], dq_tile[:, :bs])
            block_fn(t, tile[:, :bs], tile_bits[:, :bs], rc, dec, tout, want_dq, status[base:base + m])
        cuda.syncthreads()
        copy_rows(q_tile[:, :bs], 0, out[2], base, m)
        if want_dq:
            copy_rows(dq_tile[:, :bs], 0, out[3], base, m)

    return kernel


_naive_kernel = tiled_kernel(_gpu.device_fn(naive_block))


@cuda.jit
def _amax_bits_kernel(xbits, out):
    # The tensor amax of a device input, exactly: an integer max of the magnitude bits
    # orders finite floats like their values (Inf/NaN sort above; the block kernels
    # report those).
    i = cuda.grid(1)
    if i < xbits.size:
        cuda.atomic.max(out, 0, xbits[i] & np.uint32(0x7FFFFFFF))


@cuda.jit
def _count_status_kernel(status, counts):
    i = cuda.grid(1)
    if i < status.size and status[i] != 0:
        cuda.atomic.add(counts, status[i], 1)


def nvfp4_naive(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None):
    """:func:`nvfp4_np.nvfp4_naive` on a CUDA GPU, bit-identical.

    ``W`` is a NumPy array (results are NumPy arrays; large inputs go through the GPU in
    chunks) or a device array (anything with ``__cuda_array_interface__``: float32,
    C-contiguous, block axis last; results are numba device arrays).
    """
    result, _ = _gpu.run_blocks(_naive_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                threads=_T)
    return result
