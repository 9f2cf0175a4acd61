"""GPU twin of optimal.py: one CUDA thread per block runs the same bounded search
(``optimal_block``) in per-thread local scratch, in the shared-memory tiles of
_gpu_tile.py."""

import numba
from numba import cuda

from . import _gpu
from ._gpu import MAX_BS, MAX_WORK  # (local array sizes: plain globals)
from ._config import GPU_OPTIMAL
from .optimal import optimal_block

__all__ = ["nvfp4_optimal"]

_optimal_block = _gpu.device_fn(optimal_block)


@cuda.jit(device=True)
def optimal_tile_block(t, x, xbits, rc, dec, out, status, j, rows, extra):
    bs = x.shape[1]
    sq = cuda.local.array(MAX_BS, numba.float32)
    srt = cuda.local.array(MAX_BS, numba.float32)
    work = cuda.local.array(MAX_WORK, numba.uint32)
    _optimal_block(t, x, xbits, rc, dec, out, status, sq[:bs], srt[:bs], work[:2 * bs])


def nvfp4_optimal(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None,
                  as_bytes=False):
    """:func:`nvfp4_np.nvfp4_optimal` on a CUDA GPU, bit-identical (inputs and outputs as
    :func:`nvfp4_np.gpu.nvfp4_naive`)."""
    result, _ = _gpu.run_blocks(optimal_tile_block, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                variant=GPU_OPTIMAL, as_bytes=as_bytes)
    return result
