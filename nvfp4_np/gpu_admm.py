"""GPU twin of admm.py: a group of bs threads per block (_gpu_group.py) runs the same
ADMM, lane a holding element a of the block's vectors and computing row a of every
matrix-vector product (the column block's Hn, (Hn + rho I)^-1 and H, in shared memory),
between the same start (in best mode the exact Hessian search) and the same finish."""

import functools

import numba
import numpy as np
from numba import cuda

from . import _gpu, _gpu_group
from ._arith import mul_rn
from ._block import fp4_signed
from ._config import JIT_SCALAR_FN
from ._emit import emit_block, emit_values
from .admm import _ONE, _RHO, _TINY, _refit_code, admm_info, admm_operands

__all__ = ["nvfp4_admm"]


@numba.njit(**JIT_SCALAR_FN)
def _weight(x, f, rc):
    """w = x scaled by the element factor (admm._admm_batch: x / s in the seed recipe)."""
    return x * f if rc.elem_mul else x / f


@numba.njit(**JIT_SCALAR_FN)
def _target(w, z, u):
    """The inner step's right-hand side w + rho (z - u) (w holding Hn x / s)."""
    return w + mul_rn(_RHO, z - u)


@numba.njit(**JIT_SCALAR_FN)
def _project(q, u, rc):
    """The inner step's projection and dual update: z = fp4(q + u), u + q - z."""
    z = fp4_signed(q + u, _ONE, rc)
    return z, u + q - z


_candidate = _gpu_group._candidate
_fp4_signed = _gpu.device_fn(fp4_signed)
_weight_d = _gpu.device_fn(_weight)
_target_d = _gpu.device_fn(_target)
_project_d = _gpu.device_fn(_project)
_refit = _gpu.device_fn(_refit_code)
_emit_block = _gpu.device_fn(emit_block)
_emit_values = _gpu.device_fn(emit_values)
_matvec = _gpu_group.group_matvec
_lane_dots = _gpu_group.group_lane_dots
_quad_form = _gpu_group.quad_form_group
_exact_search = _gpu_group.exact_search_group
_exact_residual = _gpu_group._residual
_begin_rows = _gpu_group.begin_rows
_sync, _any = _gpu_group.group_sync, _gpu_group.group_any
_F32, _F64 = np.float32, np.float64

#: The group kernel's compile-time constants (set per kernel by _gpu_group.group_kernel).
BS = S = G = NT = P = None


def _admm_groups(rows, x, xbits, rc, dec, codes, packed, status, Hn, Minv, H, H64, d, mu, best, n_outer, n_inner,
                 keep_errors, errors):
    """ADMM, a group of BS lanes per block (template: _gpu_group.group_kernel). The
    rounds run while any group of the warp has a block still changing; a group
    whose block has converged (or is not finite) keeps its result and passes the
    barriers. Best mode writes each block's two errors (admm_finish's) to ``errors``
    where ``keep_errors`` (return_info)."""
    M = cuda.shared.array((3, BS, S), numba.float32)  # Hn, Minv, H
    Hs = cuda.shared.array((BS, S), numba.float64)
    xs = cuda.shared.array((G, S), numba.uint32)
    v32 = cuda.shared.array((4, G, S), numba.float32)  # two for the products, two for the lane sums
    zt = cuda.shared.array((BS, G), numba.float32)  # the quants, as emit_values reads them
    v64 = cuda.shared.array((5, G, S), numba.float64)
    tid = cuda.threadIdx.x
    g = tid // BS
    i = tid - g * BS
    j = cuda.blockIdx.y
    for idx in range(tid, BS * BS, NT):
        a, k = idx // BS, idx % BS
        M[0, a, k] = Hn[j, a, k]
        M[1, a, k] = Minv[j, a, k]
        M[2, a, k] = H[j, a, k]
        if best:
            Hs[a, k] = H64[j, a, k]
    cuda.syncthreads()  # (the only barrier of the CUDA block: after it each warp works alone)
    d_i = d[j, i]
    mu_j = mu[j]
    xf = xs.view(np.float32)
    for p in range(P):
        r0 = (cuda.blockIdx.x * P + p) * G
        if r0 >= rows:  # (the same for every thread)
            break
        sel = slice(r0, min(r0 + G, rows))
        row, on, c0 = _begin_rows(rows, r0, g, i, j, xbits, xs, status[sel, j], rc, BS)
        xi = xf[g, i]
        start = np.int64(c0)
        if best:
            start = _exact_search(on, xi, g, i, BS, rc, dec, c0, Hs, d_i, mu_j, v64)
        # admm._admm_batch, for this block
        C = start
        live = on
        z_out = _F32(0.0)
        buf = 0
        for _ in range(n_outer):
            f = _ONE
            if live:
                f = _F32(_candidate(C, dec, rc)[0])
            w = _F32(_weight_d(xi, f, rc))
            z = _F32(_fp4_signed(w, _ONE, rc))
            u = _F32(0.0)
            w = _matvec(M[0], w, v32[buf], g, i, BS)  # Hn w
            buf = 1 - buf
            for _ in range(n_inner):
                q = _matvec(M[1], _F32(_target_d(w, z, u)), v32[buf], g, i, BS)
                buf = 1 - buf
                zu = _project_d(q, u, rc)
                z, u = _F32(zu[0]), _F32(zu[1])
            q = _matvec(M[2], z, v32[buf], g, i, BS)
            buf = 1 - buf
            numer, denom = _lane_dots(xi, z, q, v32[2], v32[3], g, i, BS)
            if live:
                z_out = z
                c_new = C
                if numer > 0 and denom > _TINY:
                    c_new = np.int64(_refit(numer / (denom if denom > _TINY else _TINY), rc))
                if dec[c_new] != dec[C]:
                    C = c_new
                else:
                    live = False  # converged: another round would repeat this one
            if not _any(np.int32(1 if live else 0)):
                break  # (no group of the warp has a block still changing)
        # admm.admm_finish
        e_h = e_a = 0.0
        if best:
            e_h = _quad_form(on, _F64(_exact_residual(xi, start, dec, rc)) if on else 0.0, Hs, v64[3], v64[4], g, i,
                             BS)
            if n_outer > 0:
                s = _F32(_candidate(C, dec, rc)[1])
                e_a = _quad_form(on, _F64(xi) - _F64(z_out * s), Hs, v64[3], v64[4], g, i, BS)
        zt[i, g] = z_out
        _sync()
        if on and i == 0:
            out = (codes[sel, j], packed[sel, j])
            if best and keep_errors:
                errors[row, j, 0] = e_h
                # (the CPU's min(e_a, e_h), written out: CUDA's min of floats is fmin, which
                # drops a NaN where Python's min keeps its first argument)
                errors[row, j, 1] = (e_h if e_h < e_a else e_a) if n_outer > 0 else e_h
            if n_outer == 0 or (best and not e_a < e_h):
                _emit_block(g, start, xf[:, :BS], dec, rc, out)
            else:
                _emit_values(g, C, zt, g, out)


@functools.cache
def _admm_kernel(bs):
    return _gpu_group.group_kernel(_admm_groups, bs)


def nvfp4_admm(W, dim=-1, return_dequant=False, X=None, n_outer=3, n_inner=10, *, mode="seed", recipe="seed",
               rounding=None, tensor_amax=None, H_blocks=None, return_info=False, as_bytes=False):
    """:func:`nvfp4_np.nvfp4_admm` on a CUDA GPU, bit-identical (inputs and outputs as
    :func:`nvfp4_np.gpu.nvfp4_naive`; X or H_blocks are host arrays)."""
    c = _gpu.cuda()  # no GPU: say so before computing the operands
    operands, n_blocks = admm_operands(_gpu.shape_only(W), dim, X, H_blocks, mode, n_outer, n_inner,
                                       return_info)
    dev = tuple(c.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in operands)
    # The per-block errors only for return_info (for a W of 8192 x 8192, 64 MB each way).
    extra = dev + (return_info,) + (() if return_info else (c.device_array((1, 1, 2), np.float64),))
    result, errors = _gpu.run_blocks(_admm_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax, *extra,
                                     ncb=operands[0].shape[0], block_out=((2,), np.float64) if return_info else None,
                                     launcher=_gpu_group.launch_groups, as_bytes=as_bytes)
    return result + (admm_info(errors),) if return_info else result
