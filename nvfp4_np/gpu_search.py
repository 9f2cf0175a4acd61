"""GPU twin of search.py: one CUDA thread per block runs the same bounded search
(``optimal_block``) in per-thread local scratch, on the shared-memory tiles of
gpu_naive.py."""

import numba
from numba import cuda

from . import _gpu
from ._config import GPU_TILE_BLOCKS
from .gpu_naive import load_tile, store_tile
from .search import optimal_block

__all__ = ["nvfp4_optimal"]

_T = GPU_TILE_BLOCKS
_MAX_BS = 32
_MAX_PREFIX = _MAX_BS + 1  # (a local array's size must be a global constant)
_optimal_block = _gpu.device_fn(optimal_block)


@cuda.jit
def _optimal_kernel(n, x, xbits, rc, dec, out, want_dq, status):
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
        sq = cuda.local.array(_MAX_BS, numba.float32)
        srt = cuda.local.array(_MAX_BS, numba.float32)
        work = cuda.local.array(_MAX_BS, numba.uint32)
        prefix = cuda.local.array(_MAX_PREFIX, numba.float64)
        codes, scales, quants, dequant = out
        tout = (codes[base:base + m], scales[base:base + m], q_tile[:, :bs], dq_tile[:, :bs])
        _optimal_block(t, tile[:, :bs], tile_bits[:, :bs], rc, dec, tout, want_dq, status[base:base + m],
                       sq[:bs], srt[:bs], work[:bs], prefix[:bs + 1])
    cuda.syncthreads()
    store_tile(out[2], base, m, q_tile)
    if want_dq:
        store_tile(out[3], base, m, dq_tile)


def nvfp4_optimal(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None):
    """:func:`nvfp4_np.nvfp4_optimal` on a CUDA GPU, bit-identical (inputs and outputs as
    :func:`nvfp4_np.gpu.nvfp4_naive`)."""
    result, _ = _gpu.run_blocks(_optimal_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                threads=_T)
    return result
