"""GPU twin of search.py: one CUDA thread per block runs the same bounded search
(``optimal_block``) in per-thread local scratch, on the shared-memory tiles of
gpu_naive.py."""

import numba
from numba import cuda

from . import _gpu
from ._config import GPU_TILE_BLOCKS
from .gpu_naive import tiled_kernel
from .search import optimal_block

__all__ = ["nvfp4_optimal"]

_MAX_BS = 32
_MAX_PREFIX = _MAX_BS + 1  # (a local array's size must be a global constant)
_optimal_block = _gpu.device_fn(optimal_block)


@cuda.jit(device=True)
def _optimal_in_local_scratch(b, x, xbits, rc, dec, out, want_dq, status):
    bs = x.shape[1]
    sq = cuda.local.array(_MAX_BS, numba.float32)
    srt = cuda.local.array(_MAX_BS, numba.float32)
    work = cuda.local.array(_MAX_BS, numba.uint32)
    prefix = cuda.local.array(_MAX_PREFIX, numba.float64)
    _optimal_block(b, x, xbits, rc, dec, out, want_dq, status, sq[:bs], srt[:bs], work[:bs], prefix[:bs + 1])


_optimal_kernel = tiled_kernel(_optimal_in_local_scratch)


def nvfp4_optimal(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None):
    """:func:`nvfp4_np.nvfp4_optimal` on a CUDA GPU, bit-identical (inputs and outputs as
    :func:`nvfp4_np.gpu.nvfp4_naive`)."""
    result, _ = _gpu.run_blocks(_optimal_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                threads=GPU_TILE_BLOCKS)
    return result
