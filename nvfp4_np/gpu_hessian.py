"""GPU twin of hessian.py: one CUDA thread per block runs the same seed-mode search
(``hessian_seed_block``) or exact search (``exact_block``) in the tiles of _gpu_tile.py
(seed mode staged through shared memory, exact mode on global memory: see
_config.GPU_HESSIAN_*). A tile's blocks share one column block j, so all its threads read
the same H_j (warp-uniform loads)."""

import numba
import numpy as np
from numba import cuda

from . import _gpu, registry
from ._gpu import MAX_BS, MAX_WORK  # (local array sizes: plain globals)
from ._block import begin_block
from ._emit import emit_block
from ._config import GPU_HESSIAN_EXACT, GPU_HESSIAN_SEED
from .hessian import exact_block, hessian_operands, hessian_seed_block

__all__ = ["nvfp4_optimal_hessian"]

_seed_block = _gpu.device_fn(hessian_seed_block)
_exact_block = _gpu.device_fn(exact_block)
_begin_block = _gpu.device_fn(begin_block)
_emit_block = _gpu.device_fn(emit_block)


@cuda.jit(device=True)
def _seed_tile_block(t, x, xbits, rc, dec, out, status, j, rows, extra):
    Ht, d, mu = extra
    bs = x.shape[1]
    sq = cuda.local.array(MAX_BS, numba.float32)
    r = cuda.local.array(MAX_BS, numba.float32)
    hr = cuda.local.array(MAX_BS, numba.float32)
    srt = cuda.local.array(MAX_BS, numba.float32)
    work = cuda.local.array(MAX_WORK, numba.uint32)
    _seed_block(t, x, xbits, rc, dec, out, status, Ht[j], d[j], mu[j], sq[:bs], r[:bs], hr[:bs],
                srt[:bs], work[:2 * bs])


@cuda.jit(device=True)
def _exact_tile_block(t, x, xbits, rc, dec, out, status, j, rows, extra):
    H, d, mu = extra
    bs = x.shape[1]
    r = cuda.local.array(MAX_BS, numba.float64)
    amax, c0, finite = _begin_block(t, xbits, status, rc)
    if finite:
        best = _exact_block(x, t, rc, dec, c0, H[j], d[j], mu[j], r[:bs])
        _emit_block(t, best, x, dec, rc, out)


def nvfp4_optimal_hessian(W, dim=-1, return_dequant=False, X=None, H_blocks=None, *, mode="seed", recipe="seed",
                          rounding=None, tensor_amax=None, as_bytes=False):
    """:func:`nvfp4_np.nvfp4_optimal_hessian` on a CUDA GPU, bit-identical (inputs and
    outputs as :func:`nvfp4_np.gpu.nvfp4_naive`; X or H_blocks are host arrays)."""
    c = _gpu.cuda()  # no GPU: say so before computing the operands
    mode = registry.method("hessian").check_mode(mode)
    extra = hessian_operands(_gpu.shape_only(W), dim, X, H_blocks, mode)
    ncb = extra[0].shape[0]
    block_fn, variant = (_seed_tile_block, GPU_HESSIAN_SEED) if mode == "seed" else (_exact_tile_block,
                                                                                       GPU_HESSIAN_EXACT)
    result, _ = _gpu.run_blocks(block_fn, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                *(c.to_device(np.ascontiguousarray(a)) for a in extra), ncb=ncb, variant=variant,
                                as_bytes=as_bytes)
    return result
