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
from ._block import begin_block, emit_block
from ._config import GPU_TILE_BLOCKS

__all__ = ["nvfp4_naive"]

_T = GPU_TILE_BLOCKS
_MAX_BS = 32
_begin_block = _gpu.device_fn(begin_block)
_emit_block = _gpu.device_fn(emit_block)


@cuda.jit(device=True)
def load_tile(x, xbits, base, m, tile, tile_bits):
    """Rows base..base+m-1 of x (and of its bits) into the shared tiles, coalesced."""
    bs = x.shape[1]
    t = cuda.threadIdx.x
    for k in range(bs):
        idx = k * _T + t
        r = idx // bs
        if r < m:
            c = idx - r * bs
            tile[r, c] = x[base + r, c]
            tile_bits[r, c] = xbits[base + r, c]


@cuda.jit(device=True)
def store_tile(dst, base, m, tile):
    """The tile's first m rows to rows base.. of dst, coalesced."""
    bs = dst.shape[1]
    t = cuda.threadIdx.x
    for k in range(bs):
        idx = k * _T + t
        r = idx // bs
        if r < m:
            c = idx - r * bs
            dst[base + r, c] = tile[r, c]


@cuda.jit
def _naive_kernel(n, x, xbits, rc, dec, out, want_dq, status):
    tile = cuda.shared.array((_T, _MAX_BS), numba.float32)
    tile_bits = cuda.shared.array((_T, _MAX_BS), numba.uint32)
    q_tile = cuda.shared.array((_T, _MAX_BS), numba.float32)
    dq_tile = cuda.shared.array((_T, _MAX_BS), numba.float32)
    bs = x.shape[1]
    base = cuda.blockIdx.x * _T
    m = min(_T, n - base)
    load_tile(x, xbits, base, m, tile, tile_bits)
    cuda.syncthreads()
    t = cuda.threadIdx.x
    if t < m:
        codes, scales, quants, dequant = out
        tout = (codes[base:base + m], scales[base:base + m], q_tile[:, :bs], dq_tile[:, :bs])
        amax, code, finite = _begin_block(t, tile_bits[:, :bs], status[base:base + m], rc)
        if finite:
            _emit_block(t, code, tile[t, :bs], dec, rc, tout, want_dq)
    cuda.syncthreads()
    store_tile(out[2], base, m, q_tile)
    if want_dq:
        store_tile(out[3], base, m, dq_tile)


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
