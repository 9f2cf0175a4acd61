"""ADMM refinement of NVFP4 quants and scales under the block Hessian H_j = X_j^T X_j.

Per block, alternately: with the scale s fixed, ADMM on w = x / s (minimise
(w - q)^T H_n (w - q) over E2M1 vectors q, H_n = H_j / lambda_max(H_j), rho = 1, with the
inverse (H_n + rho I)^-1 precomputed once per column block by scipy); then refit
s = E4M3(x^T H q / q^T H q). Two modes:

- ``mode="seed"``: the seed's ``nvfp4_admm``: start from the naive scale, the seed's
  validity test for the refit, stop when no scale changes. The seed's global test
  ("all scales unchanged") is per block here with the same result: a block whose scale did
  not change repeats the same computation in later rounds. When the rounds run out the
  seed returns the last refit scale with the quants of the round before; so does this.
  ``n_outer=0`` (a crash in the seed) returns the naive quantization.
- ``mode="best"``: start from the exact Hessian-optimal scale
  (``nvfp4_optimal_hessian(mode="exact")``), run the same ADMM, and keep per block
  whichever of {Hessian-optimal, ADMM} has the lower float64 r^T H_j r (ties keep the
  Hessian-optimal one), so it never loses to the exact scale search.

float32 arithmetic as in the seed; matrix-vector products accumulate in k order.
"""

import numba
import numpy as np

from . import core
from ._block import (
    begin_block,
    column_block_task,
    emit_block,
    fp4_magnitude,
    matvec_korder,
    n_column_tasks,
)
from ._config import HESSIAN_ROWS_PER_TASK, JIT_PARALLEL, JIT_SCALAR
from .formats import e4m3_code, seed_sum_inplace
from .hessian import _diagonal_bounds, _exact_block, hessians_for

__all__ = ["nvfp4_admm"]

MODES = ("seed", "best")
_RHO = np.float32(1.0)
_TINY = np.float32(1e-12)  # the seed's clamps in the scale refit


def admm_operators(H):
    """Per column block, float32 and transposed for ``matvec_korder``: H_n = H / max(
    lambda_max, 1e-6), (H_n + rho I)^-1 and H, as the seed precomputes them (here in
    float64 with scipy, then rounded)."""
    from scipy.linalg import eigvalsh, inv

    H64 = np.asarray(H, dtype=np.float64)
    n = H64.shape[-1]
    lam = np.array([eigvalsh(h, subset_by_index=[n - 1, n - 1])[0] for h in H64]).reshape(-1)
    Hn = (H64 / np.maximum(lam, 1e-6)[:, None, None]).astype(np.float32)
    Minv = np.array([inv(h + float(_RHO) * np.eye(n)) for h in Hn.astype(np.float64)]).reshape(Hn.shape)
    t = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float32).transpose(0, 2, 1))  # noqa: E731
    return t(Hn), t(Minv), t(H64)


@numba.njit(**JIT_SCALAR)
def _fp4_signed(v, rne):
    """The seed's fp4_quantize(v, 1): sign(v) * E2M1(|v|) with torch.sign (NaN -> 0)."""
    m = fp4_magnitude(abs(v), np.float32(1.0), rne)
    return m if v > 0 else (-m if v < 0 else np.float32(0.0))


@numba.njit(**JIT_SCALAR)
def _admm_block(xb, s, rne, dec, Hnt, Minvt, Ht, n_outer, n_inner, w, z, u, hw, q, hq, sq):
    """The seed's outer/inner ADMM for one block from scale ``s``; returns the final
    scale, with the quants in ``z``."""
    n = xb.size
    for _ in range(n_outer):
        for i in range(n):
            w[i] = xb[i] / s
            z[i] = _fp4_signed(w[i], rne)
            u[i] = 0.0
        matvec_korder(Hnt, w, hw)
        for _ in range(n_inner):
            for i in range(n):
                sq[i] = hw[i] + _RHO * (z[i] - u[i])
            matvec_korder(Minvt, sq, q)
            for i in range(n):
                z[i] = _fp4_signed(q[i] + u[i], rne)
                u[i] = u[i] + q[i] - z[i]
        matvec_korder(Ht, z, hq)
        for i in range(n):
            sq[i] = xb[i] * hq[i]
        numer = seed_sum_inplace(sq)
        for i in range(n):
            sq[i] = z[i] * hq[i]
        denom = seed_sum_inplace(sq)
        s_new = s
        if numer > 0 and denom > _TINY:
            c = numer / (denom if denom > _TINY else _TINY)
            s_new = dec[e4m3_code(c if c > _TINY else _TINY)]
        if s_new == s:
            break
        s = s_new
    return s


@numba.njit(**JIT_SCALAR)
def _emit_quants(b, s, z, n_outer, xb, dec, rne, out, want_dq):
    """Write block b with scale s and the ADMM quants z (or, after no round, the naive
    rounding at s)."""
    if n_outer == 0:
        emit_block(b, e4m3_code(s), xb, dec, rne, out, want_dq)
        return
    codes, scales, quants, dequant = out
    codes[b] = e4m3_code(s)
    scales[b] = s
    for i in range(z.size):
        quants[b, i] = z[i]
        if want_dq:
            dequant[b, i] = z[i] * s


@numba.njit(**JIT_PARALLEL)
def _admm_kernel(x, xbits, rne, dec, out, want_dq, status, Hnt, Minvt, Ht, H64, d, mu, best,
                 n_outer, n_inner, rows_per_task, errors):
    n, bs = x.shape
    ncb = Ht.shape[0]
    for task in numba.prange(n_column_tasks(n, ncb, rows_per_task)):
        j, blocks = column_block_task(task, n, ncb, rows_per_task)
        w = np.empty(bs, np.float32)
        z = np.empty(bs, np.float32)
        u = np.empty(bs, np.float32)
        hw = np.empty(bs, np.float32)
        q = np.empty(bs, np.float32)
        hq = np.empty(bs, np.float32)
        sq = np.empty(bs, np.float32)
        r = np.empty(bs, np.float64)
        for b in blocks:
            xb = x[b]
            amax, c0, finite = begin_block(b, xbits, status)
            if not finite:
                continue
            if not best:
                s = _admm_block(xb, dec[c0], rne, dec, Hnt[j], Minvt[j], Ht[j], n_outer, n_inner,
                                w, z, u, hw, q, hq, sq)
                _emit_quants(b, s, z, n_outer, xb, dec, rne, out, want_dq)
                continue
            ch = _exact_block(xb, rne, dec, c0, H64[j], d[j], mu[j], r)
            s = _admm_block(xb, dec[ch], rne, dec, Hnt[j], Minvt[j], Ht[j], n_outer, n_inner,
                            w, z, u, hw, q, hq, sq)
            e_h = _quant_error(xb, dec[ch], rne, False, z, H64[j], r)
            e_a = _quant_error(xb, s, rne, n_outer > 0, z, H64[j], r)
            errors[b, 0] = e_h
            errors[b, 1] = min(e_a, e_h)
            if n_outer > 0 and e_a < e_h:
                _emit_quants(b, s, z, n_outer, xb, dec, rne, out, want_dq)
            else:
                emit_block(b, ch, xb, dec, rne, out, want_dq)


@numba.njit(**JIT_SCALAR)
def _quant_error(xb, s, rne, given, z, H, r):
    """float64 r^T H r for r = x - q*s, with q the quants ``z`` if ``given`` else the
    rounding of x at s."""
    n = xb.size
    for i in range(n):
        v = xb[i]
        if given:
            dq = np.float64(z[i]) * np.float64(s)
        else:
            m = np.float64(fp4_magnitude(abs(v), s, rne)) * np.float64(s)
            dq = m if v > 0 else (-m if v < 0 else 0.0)
        r[i] = np.float64(v) - dq
    total = 0.0
    for a in range(n):
        acc = 0.0
        for k in range(n):
            acc += H[a, k] * r[k]
        total += r[a] * acc
    return total


def nvfp4_admm(W, dim=-1, return_dequant=False, X=None, n_outer=3, n_inner=10, *, mode="seed",
               rounding="seed", H_blocks=None, return_info=False):
    """ADMM-refined NVFP4 quantization under the block Hessians of activations X.

    Parameters
    ----------
    W : array_like
        Weights laid out as for :func:`nvfp4_np.nvfp4_optimal_hessian` (block axis
        ``dim`` of 16 or 32; the axis before it indexes the K // bs column blocks).
    dim : int, default -1
    return_dequant : bool, default False
    X : array_like, shape (T, K), optional
        Activations; or give ``H_blocks`` (K // bs, bs, bs).
    n_outer, n_inner : int
        Scale refits (outer rounds, default 3; 0 returns the naive quantization in seed
        mode, the Hessian-optimal one in best mode) and ADMM steps per round (default 10).
    mode : {"seed", "best"}, keyword-only
        ``"seed"`` reproduces the seed's ``nvfp4_admm``; ``"best"`` starts from the exact
        Hessian-optimal scale and keeps per block the better of it and the ADMM result.
    rounding : {"seed", "rne"}, keyword-only
    return_info : bool, keyword-only
        With ``mode="best"``, also return a dict: blocks, blocks ADMM improved, and the
        total float64 r^T H r of the Hessian-optimal start and of the result.

    Returns
    -------
    scales, quants[, dequant][, info]
        As the seed's (float32); ``quants`` are E2M1 values (ADMM's, not necessarily the
        rounding of W / scale).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    for name, v in (("n_outer", n_outer), ("n_inner", n_inner)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    if return_info and mode != "best":
        raise ValueError("return_info applies to mode='best'")
    H, ncb, bs = hessians_for(W, dim, X, H_blocks, np.float64, who="nvfp4_admm")
    Hnt, Minvt, Ht = admm_operators(H)
    best = mode == "best"
    d, mu = _diagonal_bounds(H, np.float64) if best else (np.zeros((ncb, bs)), np.zeros(ncb))
    n_blocks = int(np.prod(np.shape(W), dtype=np.int64)) // bs
    errors = np.zeros((n_blocks if best else 1, 2), np.float64)
    out, _ = core.run_block_kernel(_admm_kernel, W, dim, return_dequant, rounding, Hnt, Minvt, Ht,
                                   H, d, mu, best, int(n_outer), int(n_inner), HESSIAN_ROWS_PER_TASK, errors)
    if not return_info:
        return out
    info = {
        "blocks": n_blocks,
        "improved_blocks": int((errors[:, 1] < errors[:, 0]).sum()),
        "hessian_error": float(errors[:, 0].sum()),
        "error": float(errors[:, 1].sum()),
    }
    return out + (info,)
