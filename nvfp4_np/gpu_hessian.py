"""GPU twin of hessian.py. Seed mode: one CUDA thread per block runs the same search
(``hessian_seed_block``) in the tiles of _gpu_tile.py, staged through shared memory; a
tile's blocks share one column block j, so all its threads read the same H_j
(warp-uniform loads). Exact mode: a group of bs threads per block (_gpu_group.py) runs
``exact_block``'s search, lane a computing row a of each H_j r, H_j in shared memory."""

import functools

import numba
import numpy as np
from numba import cuda

from . import _gpu, _gpu_group, registry
from ._gpu import MAX_BS, MAX_WORK  # (local array sizes: plain globals)
from ._config import GPU_HESSIAN_SEED
from ._emit import emit_block
from .hessian import hessian_operands, hessian_seed_block

__all__ = ["nvfp4_optimal_hessian"]

_seed_block = _gpu.device_fn(hessian_seed_block)
_emit_block = _gpu.device_fn(emit_block)
_exact_search = _gpu_group.exact_search_group
_begin_rows = _gpu_group.begin_rows


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


#: The group kernel's compile-time constants (set per kernel by _gpu_group.group_kernel).
BS = S = G = NT = P = None


def _exact_groups(rows, x, xbits, rc, dec, codes, packed, status, H, d, mu):
    """The exact search, a group of BS lanes per block (template: _gpu_group.group_kernel)."""
    Hs = cuda.shared.array((BS, S), numba.float64)
    xs = cuda.shared.array((G, S), numba.uint32)
    v64 = cuda.shared.array((5, G, S), numba.float64)
    tid = cuda.threadIdx.x
    g = tid // BS
    i = tid - g * BS
    j = cuda.blockIdx.y
    for idx in range(tid, BS * BS, NT):
        Hs[idx // BS, idx % BS] = H[j, idx // BS, idx % BS]
    cuda.syncthreads()  # (the only barrier of the CUDA block: after it each warp works alone)
    d_i = d[j, i]
    mu_j = mu[j]
    xf = xs.view(np.float32)
    for p in range(P):
        r0 = (cuda.blockIdx.x * P + p) * G
        if r0 >= rows:  # (the same for every thread)
            break
        sel = slice(r0, min(r0 + G, rows))
        _, on, c0 = _begin_rows(rows, r0, g, i, j, xbits, xs, status[sel, j], rc, BS)
        best = _exact_search(on, xf[g, i], g, i, BS, rc, dec, c0, Hs, d_i, mu_j, v64)
        if on and i == 0:
            _emit_block(g, best, xf[:, :BS], dec, rc, (codes[sel, j], packed[sel, j]))


@functools.cache
def _exact_kernel(bs):
    return _gpu_group.group_kernel(_exact_groups, bs)


def nvfp4_optimal_hessian(W, dim=-1, return_dequant=False, X=None, H_blocks=None, *, mode="seed", recipe="seed",
                          rounding=None, tensor_amax=None, as_bytes=False):
    """:func:`nvfp4_np.nvfp4_optimal_hessian` on a CUDA GPU, bit-identical (inputs and
    outputs as :func:`nvfp4_np.gpu.nvfp4_naive`; X or H_blocks are host arrays)."""
    c = _gpu.cuda()  # no GPU: say so before computing the operands
    mode = registry.method("hessian").check_mode(mode)
    extra = hessian_operands(_gpu.shape_only(W), dim, X, H_blocks, mode)
    ncb = extra[0].shape[0]
    kw = dict(variant=GPU_HESSIAN_SEED) if mode == "seed" else dict(launcher=_gpu_group.launch_groups)
    block_fn = _seed_tile_block if mode == "seed" else _exact_kernel
    result, _ = _gpu.run_blocks(block_fn, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                *(c.to_device(np.ascontiguousarray(a)) for a in extra), ncb=ncb,
                                as_bytes=as_bytes, **kw)
    return result
