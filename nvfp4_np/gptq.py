"""GPTQ with NVFP4 block scales: error compensation on top of the scale searches.

The columns of W (M, K) are rounded one at a time; each column's error is spread over
the columns not yet rounded through U, the upper Cholesky factor of the damped inverse
Hessian (H + damp * mean(diag H) * I)^-1, so that the layer's output error
||X (W_q - W)^T|| stays small (Frantar et al., GPTQ, 2022). An NVFP4 block is 16 (or
32) consecutive columns of a row sharing one scale: when the sweep reaches a group of
columns, each row's block scale is chosen from the weights as the earlier columns'
errors left them, by the method's mode: "naive" (the recipe's baseline), "optimal" (the SSE
search of nvfp4_optimal) or "hessian" (the exact Hessian search of
nvfp4_optimal_hessian, with the group's diagonal block of H). Then the group's columns
are rounded in order, at that scale.

The arithmetic is defined (validation/SPEC.md §4.6): U comes from LAPACK in float64 and
is rounded to float32, an input to the sweep like ADMM's operators; the sweep itself is
float32, every operation rounded once, and every weight receives its updates in column
order. The lazy blocks of ``block`` columns (the trailing columns get a block's errors
in one pass at its end) change only the memory traffic, never the bits; rows are
independent, so the thread count does not matter either.

``order="act"`` processes the groups by descending sum of diag(H) over their columns
(stable), the columns of a group in their own order: an NVFP4 block stays one group, its
scale decided when the sweep reaches it (GPTQ's "act order" at the granularity of the
format's groups).
"""

from typing import NamedTuple

import numba
import numpy as np

from . import core, registry
from ._arith import mul_rn
from ._block import begin_block, candidate, fp4_signed
from ._config import GPTQ_BLOCK, GPTQ_COLUMNS, GPTQ_ROWS_PER_TASK, JIT_PARALLEL, JIT_SCALAR
from ._emit import emit_block
from .hessian import diagonal_blocks, diagonal_bounds, exact_block
from .optimal import optimal_code

__all__ = ["nvfp4_gptq", "gptq_operators", "Operators", "full_hessian", "check_damp", "MODES", "ORDERS"]

#: The modes: each group's scale search (the first is the default; the registry's table).
MODES = registry.METHODS["gptq"].modes
#: Column orders: "natural", or "act" (groups by descending diag(H)).
ORDERS = ("natural", "act")
_KIND = {"naive": 0, "optimal": 1, "hessian": 2}


def check_damp(damp):
    """``damp`` as a float: a finite number >= 0 (not a bool), or a ValueError."""
    try:
        ok = not isinstance(damp, bool) and np.ndim(damp) == 0 and np.isfinite(float(damp)) and float(damp) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"damp must be a finite number >= 0, got {damp!r}")
    return float(damp)


class Operators(NamedTuple):
    """gptq_operators' result: what the sweep takes besides W (pass it as ``H`` to
    nvfp4_gptq to quantize several row ranges of one weight without recomputing it)."""

    groups: np.ndarray
    U: np.ndarray
    H_groups: np.ndarray
    block_size: int
    damp: float
    order: str


def stored_operators(H, block_size, groups, U, damp, order):
    """The :class:`Operators` of a golden vector, from its stored H, group order and U (no
    LAPACK: what a candidate uses)."""
    groups = np.asarray(groups, np.int64)
    Hg = diagonal_blocks(np.asarray(H, np.float64), block_size)[groups]
    return Operators(groups, np.asarray(U, np.float32), Hg, block_size, damp, order)


def gptq_operators(H, block_size, *, damp=0.01, order="natural"):
    """What the sweep takes besides W, from the Hessian ``H`` (K, K) (any real floating
    dtype, finite, symmetric; its lower triangle is read): an :class:`Operators` with

    fields

    - ``groups`` (K // bs,) int64: the column groups in the order they are processed;
    - ``U`` (K, K) float32: the upper Cholesky factor of the inverse of the damped H
      (float64: a dead column, diag 0, gets diag 1; then ``damp * mean(diag)`` is added to
      the diagonal), rows and columns in processing order, rounded to float32 (LAPACK:
      ``J inv(cholesky(J H J)) J`` with J the reversal);
    - ``H_groups`` (K // bs, bs, bs) float64: the undamped diagonal blocks of H, in
      processing order (the Hessian scale search's H_j).

    H is read from its lower triangle (the upper one is taken as its mirror).

    Raises ValueError when the damped H is not positive definite (a larger ``damp`` helps)."""
    bs = core.check_block_size(block_size)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    damp = check_damp(damp)
    H = core.as_float_array(H, "H")
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] % bs:
        raise ValueError(f"H must be a square (K, K) matrix with K a multiple of {bs}, got shape {H.shape}")
    H64 = np.array(H, np.float64)
    if not np.isfinite(H64).all():
        raise ValueError("H holds NaN or Inf")
    H64 = np.tril(H64) + np.tril(H64, -1).T  # the lower triangle, whatever the column order
    K = H64.shape[0]
    ncb = K // bs
    idx = np.arange(K).reshape(ncb, bs)
    H_groups = diagonal_blocks(H64, bs)
    diag = np.diagonal(H64).copy()
    if (diag < 0).any():
        raise ValueError("H is not a Hessian X^T X: its diagonal has negative entries")
    if order == "act":
        groups = np.argsort(-diag.reshape(ncb, bs).sum(axis=1), kind="stable")
    else:
        groups = np.arange(ncb)
    Hd = H64.copy()
    dead = diag == 0
    Hd[dead, dead] = 1.0
    Hd[np.arange(K), np.arange(K)] += damp * np.mean(np.diagonal(Hd))
    perm = idx[groups].reshape(-1)
    Hp = Hd[perm[:, None], perm[None, :]]
    # U = J inv(cholesky(J Hp J)) J, J the reversal: with J Hp J = L L^T, Hp = V V^T for
    # the upper triangular V = J L J, so inv(Hp) = U^T U with U = inv(V) upper triangular
    # with a positive diagonal: the upper Cholesky factor of inv(Hp), from one Cholesky
    # factorisation and one triangular inverse (a quarter of the flops of factorising,
    # inverting and factorising again).
    import scipy.linalg

    try:
        L = scipy.linalg.cholesky(Hp[::-1, ::-1], lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise ValueError(f"H + {damp} * mean(diag H) * I is not positive definite: raise damp") from None
    Linv, info = scipy.linalg.lapack.dtrtri(L, lower=1)
    if info != 0:
        raise ValueError(f"H + {damp} * mean(diag H) * I is singular: raise damp")
    U = Linv[::-1, ::-1]
    return Operators(groups.astype(np.int64), np.ascontiguousarray(U, np.float32),
                     np.ascontiguousarray(H_groups[groups]), bs, damp, order)


@numba.njit(**JIT_PARALLEL)
def _gptq_kernel(x, xbits, rc, dec, out, status, U, Hg, d, mu, groups, kind, lazy, rows_per_task):
    """The sweep over row tiles (rows are independent). x (M * ncb, bs): W's blocks,
    row-major; block b = row * ncb + group. Writes every block's bytes and status."""
    n, bs = x.shape
    ncb = groups.size
    K = ncb * bs
    M = n // ncb
    codes, packed = out
    for task in numba.prange((M + rows_per_task - 1) // rows_per_task):
        r0 = task * rows_per_task
        R = min(M, r0 + rows_per_task) - r0
        w = np.empty((R, K), np.float32)  # the tile's weights, columns in processing order
        for r in range(R):
            for p in range(ncb):
                for t in range(bs):
                    w[r, p * bs + t] = x[(r0 + r) * ncb + groups[p], t]
        blk = np.empty((R, bs), np.float32)  # the group being rounded: its values when rounded
        blkbits = blk.view(np.uint32)
        st = np.empty(R, np.uint8)
        code = np.empty(R, np.int64)
        fs = np.empty((R, 2), np.float32)  # (element factor, effective scale) of each row's code
        fin = np.empty(R, np.bool_)
        err = np.zeros((R, lazy), np.float32)
        sq = np.empty(bs, np.float32)
        srt = np.empty(bs, np.float32)
        work = np.empty(2 * bs, np.uint32)
        r64 = np.empty(bs, np.float64)
        for p in range(ncb):
            j0 = p * bs
            l0 = (j0 // lazy) * lazy  # the lazy block holding this group
            l1 = min(K, l0 + lazy)
            for r in range(R):
                for t in range(bs):
                    blk[r, t] = w[r, j0 + t]
                if kind == 1:
                    c, finite = optimal_code(r, blk, blkbits, rc, dec, st, sq, srt, work)
                else:
                    amax, c, finite = begin_block(r, blkbits, st, rc)
                    if finite and kind == 2:
                        c = exact_block(blk, r, rc, dec, c, Hg[p], d[p], mu[p], r64)
                status[(r0 + r) * ncb + groups[p]] = st[r]
                code[r] = c
                fin[r] = finite
                f, s = candidate(c, dec, rc)
                fs[r, 0] = f
                fs[r, 1] = s
            for t in range(bs):
                j = j0 + t
                ujj = U[j, j]
                for r in range(R):
                    v = w[r, j]
                    blk[r, t] = v
                    e = np.float32(0.0)
                    if fin[r]:
                        e = (v - mul_rn(fp4_signed(v, fs[r, 0], rc), fs[r, 1])) / ujj
                    err[r, j - l0] = e
                    _axpy(w, r, U, j, e, j + 1, l1)
            for r in range(R):
                if fin[r]:
                    b = (r0 + r) * ncb + groups[p]
                    emit_block(0, code[r], blk[r:r + 1], dec, rc, (codes[b:b + 1], packed[b:b + 1]))
            if j0 + bs == l1 and l1 < K:  # the lazy block's errors reach the trailing columns, in column order
                _trailing_update(w, err, U, l0, l1)


@numba.njit(**JIT_SCALAR)
def _trailing_update(w, err, U, l0, l1):
    """w[:, l1:] -= err[:, :l1 - l0] @ U[l0:l1, l1:], each weight's terms subtracted one at
    a time in increasing i (the sweep's order, so the bits are those of immediate
    updates). In chunks of GPTQ_COLUMNS columns: a chunk's rows of U (lazy block x chunk)
    and of the weights stay in the L1 cache while every row of the tile uses them."""
    R, K = w.shape
    for c0 in range(l1, K, GPTQ_COLUMNS):
        c1 = min(K, c0 + GPTQ_COLUMNS)
        r = 0
        while r + 4 <= R:  # four rows per load of U's row
            for i in range(l0, l1):
                k = i - l0
                _axpy4(w, r, U, i, err[r, k], err[r + 1, k], err[r + 2, k], err[r + 3, k], c0, c1)
            r += 4
        for r in range(r, R):
            for i in range(l0, l1):
                _axpy(w, r, U, i, err[r, i - l0], c0, c1)


@numba.njit(**JIT_SCALAR)
def _axpy4(w, r, U, i, e0, e1, e2, e3, c0, c1):
    """_axpy on rows r..r+3 with their errors e0..e3: the same operations on each weight."""
    for t in range(c1 - c0):
        jj = np.uint64(c0 + t)
        u = U[i, jj]
        w[r, jj] = w[r, jj] - mul_rn(e0, u)
        w[r + 1, jj] = w[r + 1, jj] - mul_rn(e1, u)
        w[r + 2, jj] = w[r + 2, jj] - mul_rn(e2, u)
        w[r + 3, jj] = w[r + 3, jj] - mul_rn(e3, u)


@numba.njit(**JIT_SCALAR)
def _axpy(w, r, U, i, e, c0, c1):
    """w[r, c0:c1] = fl(w[r, c0:c1] - fl(e * U[i, c0:c1])). Unsigned indices: a signed one
    may be negative for all LLVM knows, and NumPy's wraparound then keeps the loop from
    being vectorised (16x slower, measured)."""
    for t in range(c1 - c0):
        jj = np.uint64(c0 + t)
        w[r, jj] = w[r, jj] - mul_rn(e, U[i, jj])


def nvfp4_gptq(W, dim=-1, return_dequant=False, X=None, H=None, *, mode="optimal", damp=None, order=None,
               block=GPTQ_BLOCK, recipe="seed", rounding=None, tensor_amax=None, as_bytes=False):
    """GPTQ on NVFP4 blocks, with block scales from the scale searches.

    Parameters
    ----------
    W : array_like
        Weights as the other methods take them, ``W.shape[dim]`` the block size (16 or
        32): a 2-D weight (M, K) as ``W.reshape(M, K // bs, bs)`` (what ``quantize``
        passes). After moving ``dim`` last, the leading axes are rows, the axis before
        the block axis the K // bs column blocks.
    dim : int, default -1
    return_dequant : bool, default False
    X : array_like, shape (T, K), optional
        Activations: H = X^T X, accumulated in float64.
    H : array_like, shape (K, K), or Operators, optional
        The Hessian (e.g. nvfp4-np calibrate --full-hessian); if given, X is ignored. Or
        :func:`gptq_operators`' result for it (row ranges of one weight: computed once).
    mode : {"optimal", "hessian", "naive"}, keyword-only
        How each group's block scales are chosen when the sweep reaches it: the SSE
        search, the exact Hessian search (with the group's diagonal block of H), or the
        recipe's baseline. None: "optimal".
    damp : float, keyword-only
        Dampening, relative to the mean of diag(H) (GPTQ's percdamp / 100). None: 0.01.
    order : {"natural", "act"}, keyword-only
        Column order (see the module's docstring). None: "natural".
    block : int, keyword-only
        Columns per lazy block, a multiple of the block size; the bits do not depend on it.
    recipe, rounding, tensor_amax, as_bytes : keyword-only
        As :func:`nvfp4_np.nvfp4_naive`; a two-level recipe's tensor scale comes from the
        input's amax (``tensor_amax``), not from the updated weights.

    Returns
    -------
    As the other methods: ``scales, quants[, dequant]`` (float32), or the bytes.
    """
    mode = registry.method("gptq").check_mode(mode)
    W = core.as_float_array(W, "W")
    if W.ndim < 2:
        raise ValueError(f"W must have a column-block axis before the block axis (e.g. (M, K//bs, bs)), "
                         f"got shape {W.shape}")
    d = core.normalize_axis(W.ndim, dim)
    bs = core.check_block_size(W.shape[d], f"W.shape[{d}] (the block size)")
    ncb = np.moveaxis(W, d, -1).shape[-2]
    K = ncb * bs
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < bs or block % bs:
        raise ValueError(f"block must be a positive multiple of the block size {bs}, got {block!r}")
    if isinstance(H, Operators):
        ops = H
        if ops.U.shape != (K, K) or ops.block_size != bs or damp not in (None, ops.damp) or \
                order not in (None, ops.order):
            raise ValueError(f"these GPTQ operators are for K = {ops.U.shape[0]}, blocks of {ops.block_size}, damp "
                             f"{ops.damp}, order {ops.order!r}; the call has K = {K}, blocks of {bs}, damp {damp}, "
                             f"order {order!r}")
    else:
        if H is None:
            if X is None:
                raise ValueError("nvfp4_gptq needs activations X (T, K) or the Hessian H (K, K)")
            X = core.as_float_array(X, "X")
            if X.ndim != 2 or X.shape[1] != K:
                raise ValueError(f"X must be (T, K) with K = {K} (the weights' {ncb} column blocks of {bs}), "
                                 f"got shape {X.shape}")
            H = full_hessian(X)
        elif np.shape(H) != (K, K):
            raise ValueError(f"H must be (K, K) = ({K}, {K}) for these weights, got shape {np.shape(H)}")
        ops = gptq_operators(H, bs, damp=0.01 if damp is None else damp, order=order or "natural")
    groups, U, Hg = ops.groups, ops.U, ops.H_groups
    dj, mu = diagonal_bounds(Hg, np.float64)
    return core.run_block_kernel(_gptq_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                 U, Hg, dj, mu, groups, _KIND[mode], min(int(block), K), GPTQ_ROWS_PER_TASK,
                                 as_bytes=as_bytes)


def full_hessian(X, chunk_rows=8192):
    """H = X^T X (K, K) in float64, over row chunks of X (any real floating dtype)."""
    X = core.as_float_array(X, "X")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or Inf")
    K = X.shape[1]
    H = np.zeros((K, K))
    for t0 in range(0, X.shape[0], chunk_rows):
        Xc = np.asarray(X[t0:t0 + chunk_rows], np.float64)
        H += Xc.T @ Xc
    return H

