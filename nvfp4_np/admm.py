"""ADMM refinement of NVFP4 quants and scales under the block Hessian H_j = X_j^T X_j.

Per block, alternately: with the scale s fixed, ADMM on w = x / s (minimise
(w - q)^T H_n (w - q) over E2M1 vectors q, H_n = H_j / lambda_max(H_j), rho = 1, with the
inverse (H_n + rho I)^-1 precomputed once per column block by LAPACK); then refit
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

float32 arithmetic as in the seed; matrix-vector products accumulate in k order. The
blocks of one column block share H_j, so a task runs ADMM on many of them at once, each
step a loop over blocks (vectorised) with each block's own order of operations intact.
"""

import numba
import numpy as np

from . import core, registry
from ._arith import mul_rn
from ._block import NONFINITE, begin_block, block_len, candidate, fp4_signed
from ._config import ADMM_ROWS_PER_TASK, JIT_PARALLEL, JIT_SCALAR
from ._emit import emit_block, emit_values
from ._schedule import column_block_task, n_column_tasks
from .formats import e4m3_code
from .hessian import diagonal_bounds, exact_block, hess_err_exact, hessians_for, quad_form64
from .recipes import block_scale_for

__all__ = ["nvfp4_admm"]

_RHO = np.float32(1.0)
_ONE = np.float32(1.0)
_TINY = np.float32(1e-12)  # the seed's clamps in the scale refit


def admm_operators(H, eigenvalues=None):
    """Per column block, float32: H_n = H / max(lambda_max, 1e-6), (H_n + rho I)^-1 and H,
    as the seed precomputes them (here in float64 by LAPACK, then rounded): one batched
    NumPy call for all the eigenvalues and one for all the inverses, a LAPACK call per
    matrix from C (scipy's per-matrix calls from Python took ~40 ms for 512 column
    blocks on an H200 machine, twice the GPU's ADMM kernel; splitting the batch across
    threads was slower there).

    ``eigenvalues``: check_hessian_blocks' ascending eigenvalues of (H + H^T) / 2, reused
    for the blocks that are exactly symmetric (there (H + H^T) / 2 is H, bit for bit, and
    LAPACK gives the same numbers: one batched call of the two saved)."""
    H64 = np.asarray(H, dtype=np.float64)
    n = H64.shape[-1]
    if not H64.size:
        lam = np.zeros(H64.shape[:-2])
    elif eigenvalues is None:
        lam = np.linalg.eigvalsh(H64)[:, -1]
    else:
        lam = np.array(eigenvalues[:, -1], dtype=np.float64)
        bits = H64.view(np.uint64)  # (bit for bit: -0.0 and 0.0 differ)
        asym = ~(bits == bits.transpose(0, 2, 1)).all(axis=(1, 2))
        if asym.any():
            lam[asym] = np.linalg.eigvalsh(H64[asym])[:, -1]
    Hn = (H64 / np.maximum(lam, 1e-6)[..., None, None]).astype(np.float32)
    A = Hn.astype(np.float64) + float(_RHO) * np.eye(n)
    Minv = np.linalg.inv(A) if A.size else A
    return Hn, Minv.astype(np.float32), H64.astype(np.float32)


@numba.njit(**JIT_SCALAR)
def _matmul_korder(M, V, out, nb):
    """out[a, r] = sum_k M[a, k] V[k, r] for the first nb columns, each sum accumulated in
    k order in float32: per block (column r) exactly the seed's small-bmm matrix-vector
    product, with the inner loop running over blocks so it vectorises."""
    n = M.shape[0]
    for a in range(n):
        m0 = M[a, 0]
        for r in range(nb):
            out[a, r] = mul_rn(m0, V[0, r])
        for k in range(1, n):
            mk = M[a, k]
            for r in range(nb):
                out[a, r] += mul_rn(mk, V[k, r])


@numba.njit(**JIT_SCALAR)
def _lane_dot(A, B, nb, sq, res):
    """res[r] = sum_i A[i, r] * B[i, r] in the seed's lane order, per column r."""
    n = A.shape[0]
    for i in range(n):
        for r in range(nb):
            sq[i, r] = mul_rn(A[i, r], B[i, r])
    for i in range(8, n):
        for r in range(nb):
            sq[i & 7, r] += sq[i, r]
    for r in range(nb):
        res[r] = sq[0, r]
    for i in range(1, 8):
        for r in range(nb):
            res[r] += sq[i, r]


@numba.njit(**JIT_SCALAR)
def _admm_batch(X, C, perm, nb, rc, dec, Hn, Minv, H, n_outer, n_inner, W, Z, U, T, Q, numer, denom):
    """The seed's outer/inner ADMM for nb blocks of one column block at once: block r is
    column r of X (bs, R), its scale code C[r]. Returns with the final codes in C and quants
    in Z, columns permuted as ``perm`` records (column c holds block perm[c]). In the seed
    recipe w = x / s; in general w is x scaled by the recipe's element factor of the code,
    and the refit value (an effective scale) is divided by the tensor scale before the
    E4M3 cast, with the recipe's floor. A block stops
    when its scale no longer changes (repeating the round would repeat the same result,
    so this equals the seed's global test); stopped blocks are moved behind the active
    ones so later rounds work on the active ones only."""
    n = X.shape[0]
    na = nb
    for _ in range(n_outer):
        if na == 0:
            break
        for r in range(na):
            f, _ = candidate(C[r], dec, rc)
            for i in range(n):
                W[i, r] = X[i, r] * f if rc.elem_mul else X[i, r] / f
                Z[i, r] = fp4_signed(W[i, r], _ONE, rc)  # the seed's fp4_quantize(w, 1)
                U[i, r] = 0.0
        _matmul_korder(Hn, W, T, na)  # T = Hn w, kept for the inner loop in W's place
        for i in range(n):  # (element by element: a slice copy needs NRT, absent in CUDA)
            for r in range(na):
                W[i, r] = T[i, r]
        for _ in range(n_inner):
            for i in range(n):
                for r in range(na):
                    T[i, r] = W[i, r] + mul_rn(_RHO, Z[i, r] - U[i, r])
            _matmul_korder(Minv, T, Q, na)
            for i in range(n):
                for r in range(na):
                    Z[i, r] = fp4_signed(Q[i, r] + U[i, r], _ONE, rc)
                    U[i, r] = U[i, r] + Q[i, r] - Z[i, r]
        _matmul_korder(H, Z, Q, na)
        _lane_dot(X, Q, na, T, numer)
        _lane_dot(Z, Q, na, T, denom)
        r = 0
        while r < na:
            c_new = C[r]
            if numer[r] > 0 and denom[r] > _TINY:
                c_new = _refit_code(numer[r] / (denom[r] if denom[r] > _TINY else _TINY), rc)
            if dec[c_new] != dec[C[r]]:
                C[r] = c_new
                r += 1
                continue
            na -= 1  # converged: swap behind the active columns
            _swap_columns(r, na, X, Z, C, perm, numer, denom)


@numba.njit(**JIT_SCALAR)
def _refit_code(c, rc):
    """E4M3 code of a refit effective scale ``c``: the seed's E4M3(max(c, 1e-12)); with
    a tensor scale, of the matching block scale, with the recipe's floor and zero rule."""
    v = block_scale_for(c, rc)
    v = v if v > _TINY else _TINY
    code = e4m3_code(v if v > rc.floor else rc.floor)
    return rc.zero_code if code == 0 else code


@numba.njit(**JIT_SCALAR)
def _swap_columns(a, b, X, Z, C, perm, numer, denom):
    if a == b:
        return
    for i in range(X.shape[0]):
        X[i, a], X[i, b] = X[i, b], X[i, a]
        Z[i, a], Z[i, b] = Z[i, b], Z[i, a]
    C[a], C[b] = C[b], C[a]
    perm[a], perm[b] = perm[b], perm[a]
    numer[a], numer[b] = numer[b], numer[a]
    denom[a], denom[b] = denom[b], denom[a]


@numba.njit(**JIT_PARALLEL)
def _admm_kernel(x, xbits, rc, dec, out, status, Hn, Minv, H, H64, d, mu, best,
                 n_outer, n_inner, rows_per_task, errors):
    n, bs = x.shape
    ncb = H.shape[0]
    for task in numba.prange(n_column_tasks(n, ncb, rows_per_task)):
        j, blocks = column_block_task(task, n, ncb, rows_per_task)
        nb = blocks.size
        X = np.empty((bs, rows_per_task), np.float32)
        C = np.empty(rows_per_task, np.uint8)
        perm = np.arange(rows_per_task)
        start = np.zeros(rows_per_task, np.uint8)
        W = np.empty((bs, rows_per_task), np.float32)
        Z = np.empty((bs, rows_per_task), np.float32)
        U = np.empty((bs, rows_per_task), np.float32)
        T = np.empty((bs, rows_per_task), np.float32)
        Q = np.empty((bs, rows_per_task), np.float32)
        numer = np.empty(rows_per_task, np.float32)
        denom = np.empty(rows_per_task, np.float32)
        r64 = np.empty(bs, np.float64)
        for r in range(nb):
            admm_start(blocks[r], r, x, xbits, rc, dec, status, H64[j], d[j], mu[j], best, X, C, start, r64)
        _admm_batch(X, C, perm, nb, rc, dec, Hn[j], Minv[j], H[j], n_outer, n_inner, W, Z, U, T, Q,
                    numer, denom)
        for c in range(nb):
            r = perm[c]
            admm_finish(blocks[r], c, start[r], x, rc, dec, out, status, H64[j], best, n_outer,
                        C, Z, errors, r64)


@numba.njit(**JIT_SCALAR)
def admm_start(b, r, x, xbits, rc, dec, status, H64j, dj, mu_j, best, X, C, start, r64):
    """Load block ``b`` into column r of X with its starting code (naive, or the exact
    Hessian-optimal one in best mode). Shared by the CPU kernel and its GPU twin."""
    amax, c0, finite = begin_block(b, xbits, status, rc)
    code = c0
    if finite and best:
        code = exact_block(x, b, rc, dec, c0, H64j, dj, mu_j, r64)
    start[r] = code
    C[r] = code
    for i in range(x.shape[1]):
        X[i, r] = x[b, i]


@numba.njit(**JIT_SCALAR)
def admm_finish(b, c, start_code, x, rc, dec, out, status, H64j, best, n_outer, C, Z, errors, r64):
    """Write block ``b`` from column c of the ADMM result (code C[c], quants Z[:, c]): in
    best mode the better of it and the start, by float64 r^T H r."""
    if status[b] == NONFINITE:
        return
    if n_outer == 0:
        emit_block(b, start_code, x, dec, rc, out)
        if best:  # (for return_info: the result is the Hessian-optimal start)
            e_h = hess_err_exact(x, b, start_code, dec, rc, H64j, r64)
            errors[b, 0] = e_h
            errors[b, 1] = e_h
    elif not best:
        emit_values(b, C[c], Z, c, out)
    else:
        e_h = hess_err_exact(x, b, start_code, dec, rc, H64j, r64)
        e_a = _admm_error(x, b, C[c], Z, c, dec, rc, H64j, r64)
        errors[b, 0] = e_h
        errors[b, 1] = min(e_a, e_h)
        if e_a < e_h:
            emit_values(b, C[c], Z, c, out)
        else:
            emit_block(b, start_code, x, dec, rc, out)


@numba.njit(**JIT_SCALAR)
def _admm_error(x, b, code, Z, c, dec, rc, H, r):
    """float64 r^T H r for r = x - dq, dq = fl(z * s) the dequant of the ADMM quants in
    column c of Z at scale code ``code``."""
    _, s = candidate(code, dec, rc)
    for i in range(block_len(x)):
        r[i] = np.float64(x[b, i]) - np.float64(Z[i, c] * s)
    return quad_form64(r, H)


def nvfp4_admm(W, dim=-1, return_dequant=False, X=None, n_outer=3, n_inner=10, *, mode="seed",
               recipe="seed", rounding=None, tensor_amax=None, H_blocks=None, return_info=False, as_bytes=False):
    """ADMM-refined NVFP4 quantization under the block Hessians of activations X.

    Parameters
    ----------
    W : array_like
        Weights laid out as for :func:`nvfp4_np.nvfp4_optimal_hessian` (block axis
        ``dim`` of 16 or 32; the axis before it indexes the K // bs column blocks).
    dim : int, default -1
    return_dequant : bool, default False
    X : array_like, shape (T, K), optional
        Activations; or give ``H_blocks`` (K // bs, bs, bs), positive semidefinite up to
        rounding (:func:`nvfp4_np.core.check_hessian_blocks`).
    n_outer, n_inner : int
        Scale refits (outer rounds, default 3; 0 returns the naive quantization in seed
        mode, the Hessian-optimal one in best mode) and ADMM steps per round (default 10).
    mode : {"seed", "best"}, keyword-only
        ``"seed"`` reproduces the seed's ``nvfp4_admm``; ``"best"`` starts from the exact
        Hessian-optimal scale and keeps per block the better of it and the ADMM result.
        None: the default (:data:`nvfp4_np.registry.METHODS`).
    recipe, rounding, tensor_amax : keyword-only
        As :func:`nvfp4_np.nvfp4_naive`.
    return_info : bool, keyword-only
        With ``mode="best"``, also return a dict: blocks, blocks ADMM improved, and the
        total float64 r^T H r of the Hessian-optimal start and of the result.
    as_bytes : bool, keyword-only
        As :func:`nvfp4_np.nvfp4_naive` (the codes are those of ADMM's quants).

    Returns
    -------
    scales, quants[, dequant][, tensor_scale][, info]
        As the seed's (float32); ``quants`` are E2M1 values (ADMM's, not necessarily the
        rounding of W / scale); ``tensor_scale`` with a two-level recipe.
    """
    mode = registry.method("admm").check_mode(mode)
    operands, n_blocks = admm_operands(W, dim, X, H_blocks, mode, n_outer, n_inner, return_info)
    errors = np.zeros((n_blocks if mode == "best" else 1, 2), np.float64)
    out = core.run_block_kernel(_admm_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                *operands, ADMM_ROWS_PER_TASK, errors, as_bytes=as_bytes)
    return out + (admm_info(errors),) if return_info else out


def admm_operands(W, dim, X, H_blocks, mode, n_outer, n_inner, return_info):
    """Checked arguments and what the ADMM kernels take besides the blocks (CPU and GPU
    alike): (Hn, Minv, H float32, H float64, d, mu, best, n_outer, n_inner), and the
    number of blocks."""
    mode = registry.method("admm").check_mode(mode)
    for name, v in (("n_outer", n_outer), ("n_inner", n_inner)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    if return_info and mode != "best":
        raise ValueError("return_info applies to mode='best'")
    H, ncb, bs, lam = hessians_for(W, dim, X, H_blocks, np.float64, who="nvfp4_admm", eigenvalues=True)
    Hn, Minv, H32 = admm_operators(H, lam)
    best = mode == "best"
    d, mu = diagonal_bounds(H, np.float64) if best else (np.zeros((ncb, bs)), np.zeros(ncb))
    n_blocks = int(np.prod(np.shape(W), dtype=np.int64)) // bs
    return (Hn, Minv, H32, H, d, mu, best, int(n_outer), int(n_inner)), n_blocks


def admm_info(errors):
    """return_info's dict from the per-block (Hessian-optimal, result) errors."""
    return {
        "blocks": len(errors),
        "improved_blocks": int((errors[:, 1] < errors[:, 0]).sum()),
        "hessian_error": float(errors[:, 0].sum()),
        "error": float(errors[:, 1].sum()),
    }
