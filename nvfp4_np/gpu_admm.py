"""GPU twin of admm.py: one CUDA thread per block runs the same ADMM (``_admm_batch``
on a batch of one block) between the same start and finish functions, in the tiles of
_gpu_tile.py (unstaged, see _config.GPU_ADMM; a tile's threads share their column block's
operators)."""

import numba
import numpy as np
from numba import cuda

from . import _gpu
from ._gpu import MAX_BS  # (local array sizes: plain globals)
from ._config import GPU_ADMM
from .admm import _admm_batch, admm_finish, admm_info, admm_operands, admm_start

__all__ = ["nvfp4_admm"]

_start = _gpu.device_fn(admm_start)
_batch = _gpu.device_fn(_admm_batch)
_finish = _gpu.device_fn(admm_finish)


@cuda.jit(device=True)
def _admm_tile_block(t, x, xbits, rc, dec, out, status, j, rows, extra):
    Hn, Minv, H, H64, d, mu, best, n_outer, n_inner, errors = extra
    bs = x.shape[1]
    X = cuda.local.array((MAX_BS, 1), numba.float32)
    W = cuda.local.array((MAX_BS, 1), numba.float32)
    Z = cuda.local.array((MAX_BS, 1), numba.float32)
    U = cuda.local.array((MAX_BS, 1), numba.float32)
    T = cuda.local.array((MAX_BS, 1), numba.float32)
    Q = cuda.local.array((MAX_BS, 1), numba.float32)
    C = cuda.local.array(1, numba.uint8)
    start = cuda.local.array(1, numba.uint8)
    perm = cuda.local.array(1, numba.int64)
    numer = cuda.local.array(1, numba.float32)
    denom = cuda.local.array(1, numba.float32)
    r64 = cuda.local.array(MAX_BS, numba.float64)
    perm[0] = 0
    _start(t, 0, x, xbits, rc, dec, status, H64[j], d[j], mu[j], best, X[:bs], C, start, r64[:bs])
    _batch(X[:bs], C, perm, 1, rc, dec, Hn[j], Minv[j], H[j], n_outer, n_inner, W[:bs], Z[:bs], U[:bs],
           T[:bs], Q[:bs], numer, denom)
    _finish(t, 0, start[0], x, rc, dec, out, status, H64[j], best, n_outer, C, Z[:bs], errors[rows, j],
            r64[:bs])


def nvfp4_admm(W, dim=-1, return_dequant=False, X=None, n_outer=3, n_inner=10, *, mode="seed", recipe="seed",
               rounding=None, tensor_amax=None, H_blocks=None, return_info=False, as_bytes=False):
    """:func:`nvfp4_np.nvfp4_admm` on a CUDA GPU, bit-identical (inputs and outputs as
    :func:`nvfp4_np.gpu.nvfp4_naive`; X or H_blocks are host arrays)."""
    c = _gpu.cuda()  # no GPU: say so before computing the operands
    operands, n_blocks = admm_operands(_gpu.shape_only(W), dim, X, H_blocks, mode, n_outer, n_inner,
                                       return_info)
    dev = tuple(c.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in operands)
    result, errors = _gpu.run_blocks(_admm_tile_block, W, dim, return_dequant, recipe, rounding, tensor_amax, *dev,
                                     ncb=operands[0].shape[0], block_out=((2,), np.float64),
                                     variant=GPU_ADMM, as_bytes=as_bytes)
    return result + (admm_info(errors),) if return_info else result
