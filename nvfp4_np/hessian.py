"""Hessian-aware NVFP4 scales: per block, the E4M3 scale minimising r^T H_j r, where
r = x - dequant(x) and H_j = X_j^T X_j is the Gram matrix of the activations' column block.

Two modes:

- ``mode="seed"``: the seed's ``nvfp4_optimal_hessian`` exactly: SSE-derived window
  [s_min, s_max], its fast-fail ``H(s) < 10 * best`` (which compares an unweighted clipping
  SSE with a Hessian error, so it depends on the units of X; kept, it is the seed), ascending
  scan with strict improvement. float32 arithmetic: ``Hr[a] = sum_k H[a, k] r[k]`` in k
  order (torch's small-bmm loop), then ``sum(r * Hr)`` in the seed's lane order.
- ``mode="exact"``: the true argmin over all 126 scales (and s0) of r^T H_j r evaluated in
  float64 (r = x - q*s exact), with the same tie rule (s0 wins ties, then the smallest
  scale). Candidates are skipped only by a proved bound: r^T H r >= mu_j sum_i d_i r_i^2
  with d = diag(H_j) and mu_j the smallest eigenvalue of the correlation form
  D^-1/2 H_j D^-1/2, lowered by its floating-point error bound.

Block <-> Hessian mapping, for any ``dim`` and N-D ``W``: move the block axis last; the axis
before it indexes column blocks j = 0..K//bs-1 and must have length K//bs (for a 2-D weight
(M, K) quantized as ``W.reshape(M, K // bs, bs)`` this is the seed's layout). The seed
silently mis-maps other layouts; here they are an error.
"""

import numba
import numpy as np

from . import core, registry
from ._arith import mul_rn
from ._block import (
    _QMAX,
    begin_block,
    block_len,
    block_energy,
    block_sse,
    candidate,
    fp4_signed,
    matvec_korder,
)
from ._config import HESSIAN_CHUNK_ROWS, HESSIAN_GEMM_COLS, HESSIAN_ROWS_PER_TASK, JIT_PARALLEL, JIT_SCALAR, JIT_SCALAR_FN
from ._eigen import extreme_eigenvalues
from ._emit import emit_block
from ._schedule import column_block_task, n_column_tasks
from ._window import code_window, search_window
from .formats import seed_sum_inplace
from .recipes import fp4_project

__all__ = ["block_hessians", "nvfp4_optimal_hessian"]


# Relative float64 rounding of a weighted sum of n <= 32 squares is far below this margin.
_W_GUARD = 1.0 - 2.0**-40


# ----------------------------------------------------------------------------- Hessians


def block_hessians(X, block_size, *, accumulate=np.float32, chunk_rows=HESSIAN_CHUNK_ROWS):
    """Per-column-block Gram matrices ``H_j = X_j^T X_j`` of activations ``X``.

    Parameters
    ----------
    X : array_like, shape (T, K)
        Activations, any real floating dtype (float16, bfloat16, float32, float64). Read in
        chunks of ``chunk_rows`` rows, so memory stays O(chunk_rows * K) whatever T is; no
        float32 copy of the whole X is made.
    block_size : {16, 32}
    accumulate : {numpy.float32, numpy.float64}
        Accumulation (and result) dtype. float64 is more accurate; the seed accumulated in
        float32 (``addmm_`` over 8192-row batches), which is the default here.
    chunk_rows : int
        Rows per chunk.

    Returns
    -------
    ndarray, shape (K // block_size, block_size, block_size), dtype ``accumulate``
    """
    block_size = core.check_block_size(block_size)
    acc = np.dtype(accumulate)
    if acc not in (np.float32, np.float64):
        raise ValueError(f"accumulate must be numpy.float32 or numpy.float64, got {accumulate!r}")
    X = core.as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (T, K), got shape {X.shape}")
    T, K = X.shape
    if K % block_size:
        raise ValueError(f"X.shape[1] = {K} must be a multiple of block_size={block_size}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    ncb = K // block_size
    group = max(block_size, HESSIAN_GEMM_COLS // block_size * block_size)
    H = np.zeros((ncb, block_size, block_size), acc)
    for t0 in range(0, T, chunk_rows):
        chunk = np.asarray(X[t0:t0 + chunk_rows], dtype=acc)
        bad = ~np.isfinite(chunk)
        if bad.any():
            i, k = np.argwhere(bad)[0]
            raise ValueError(
                f"X contains non-finite values ({int(bad.sum())} in rows {t0}..{t0 + len(chunk) - 1}); "
                f"first at index ({t0 + int(i)}, {int(k)})"
            )
        # A bs-wide GEMM per column block runs far below BLAS speed; a GEMM over
        # HESSIAN_GEMM_COLS columns (several column blocks) runs near it, and its diagonal
        # blocks are the H_j. More flops, much less time.
        for c0 in range(0, K, group):
            Xg = chunk[:, c0:c0 + group]
            G = Xg.T @ Xg
            for j0 in range(0, Xg.shape[1], block_size):
                H[(c0 + j0) // block_size] += G[j0:j0 + block_size, j0:j0 + block_size]
    return H


def diagonal_bounds(H, eval_dtype):
    """Per column block: the diagonal ``d`` of H_j and ``mu`` such that r^T H_j r, as a
    kernel evaluates it in ``eval_dtype`` (float32 for the seed's arithmetic, float64 in
    exact mode), is at least ``mu * sum_i d_i r_i^2`` for every r; ``mu = -inf`` when no
    such bound is available (H_j not positive semidefinite).

    With D = diag(d) and C = D^-1/2 H D^-1/2 (the correlation form, on the indices with
    d_i > 0; a PSD matrix with d_i = 0 has row and column i zero), r^T H r =
    (D^1/2 r)^T C (D^1/2 r) >= lambda_min(C) * sum_i d_i r_i^2. Scaling by the diagonal
    first makes the bound tight when column norms differ by decades. ``mu`` is
    lambda_min(C) (of C's symmetric part, the form r^T H r sees: _eigen.extreme_eigenvalues,
    less its error bound) lowered by (a) the rounding of forming C in float64 (a generous
    64 n eps64 ||C||_F) and (b) the rounding of evaluating r^T H r with length-n dot
    products and an n-term sum in ``eval_dtype``: at most (2n + 1) u / (1 - (2n + 1) u) *
    |r|^T |H| |r| <= 2 (2n + 2) u ||C||_F sum_i d_i r_i^2 with u its unit roundoff. Both
    terms take the whole C's norm (the kernels multiply by the whole H, an antisymmetric
    part included).
    """
    H64 = np.asarray(H, dtype=np.float64)
    ncb, n, _ = H64.shape
    d = np.diagonal(H64, axis1=1, axis2=2).copy()
    mu = np.full(ncb, -np.inf)
    eps64 = np.finfo(np.float64).eps
    u_eval = np.finfo(eval_dtype).eps / 2
    margin = 64 * n * eps64 + 2 * (2 * n + 2) * u_eval

    def lowest(c):
        with np.errstate(over="ignore", invalid="ignore"):  # (beyond float64: no bound)
            norm = np.sqrt((c * c).sum(axis=(1, 2)))
            sym = (c + c.transpose(0, 2, 1)) * 0.5
            mu_c = np.full(len(c), -np.inf)
            ok = np.isfinite(norm) & np.isfinite(sym).all(axis=(1, 2))
            lo, _, err, _ = extreme_eigenvalues(sym[ok])
            mu_c[ok] = lo - err - norm[ok] * margin
        return mu_c

    # The common case, a positive diagonal, for all column blocks at once.
    full = (d > 0).all(axis=1)
    if full.any():
        inv = 1.0 / np.sqrt(d[full])
        mu[full] = lowest(H64[full] * inv[:, :, None] * inv[:, None, :])
    for j in np.flatnonzero(~full):
        h, dj = H64[j], d[j]
        pos = dj > 0
        if (dj < 0).any() or h[~pos].any() or h[:, ~pos].any():
            continue  # not PSD: evaluate every scale
        if not pos.any():
            mu[j] = 0.0  # H_j = 0
            continue
        inv = 1.0 / np.sqrt(dj[pos])
        mu[j] = lowest((h[np.ix_(pos, pos)] * inv[:, None] * inv[None, :])[None])[0]
    return d, mu


# ----------------------------------------------------------------------------- kernels


@numba.njit(**JIT_SCALAR)
def _residual(x, b, f, s, rc, r):
    """r = x - dq in float32, as the seed computes it."""
    for i in range(block_len(x)):
        r[i] = x[b, i] - mul_rn(fp4_signed(x[b, i], f, rc), s)


@numba.njit(**JIT_SCALAR)
def _hess_err_seed(r, Ht, hr):
    """The seed's float32 r^T H r: Hr[a] = sum_k H[a, k] r[k] in k order (``Ht[k, a] =
    H[a, k]``, so the loop over a vectorises without changing any sum's order), then the
    seed's lane sum of r * Hr."""
    matvec_korder(Ht, r, hr)
    for a in range(r.size):
        hr[a] = mul_rn(r[a], hr[a])
    return seed_sum_inplace(hr)


@numba.njit(**JIT_SCALAR)
def _weighted_sq(r, dj):
    """sum_i d_i r_i^2 in float64 (r float32, exact in float64), lowered by a margin far
    above its own rounding."""
    total = 0.0
    for i in range(r.size):
        v = np.float64(r[i])
        total += mul_rn(dj[i], mul_rn(v, v))
    return total * _W_GUARD


@numba.njit(**JIT_SCALAR)
def _clip_sse(x, b, s, sq):
    """The seed's fast-fail H(s) = sum(max(|x| - 6s, 0)^2), lane order."""
    lim = mul_rn(_QMAX, s)
    for i in range(block_len(x)):
        c = abs(x[b, i]) - lim
        c = c if c > 0 else np.float32(0.0)
        sq[i] = mul_rn(c, c)
    return seed_sum_inplace(sq)


@numba.njit(**JIT_PARALLEL)
def _hessian_seed_kernel(x, xbits, rc, dec, out, status, Ht, d, mu, rows_per_task):
    n, bs = x.shape
    ncb = Ht.shape[0]
    for task in numba.prange(n_column_tasks(n, ncb, rows_per_task)):
        j, blocks = column_block_task(task, n, ncb, rows_per_task)
        sq = np.empty(bs, np.float32)
        r = np.empty(bs, np.float32)
        hr = np.empty(bs, np.float32)
        srt = np.empty(bs, np.float32)
        work = np.empty(2 * bs, np.uint32)
        for b in blocks:
            hessian_seed_block(b, x, xbits, rc, dec, out, status, Ht[j], d[j], mu[j],
                               sq, r, hr, srt, work)


@numba.njit(**JIT_SCALAR)
def hessian_seed_block(b, x, xbits, rc, dec, out, status, Hj, dj, mu_j, sq, r, hr, srt, work):
    """The seed's Hessian search for block ``b`` of column block j (``Hj`` transposed,
    ``dj``, ``mu_j``), written to ``out``; the CPU kernel and its GPU twin call this."""
    amax, c0, finite = begin_block(b, xbits, status, rc)
    if not finite:
        return
    best_c = c0
    f, s = candidate(c0, dec, rc)
    e0 = block_sse(x, b, f, s, rc, sq)
    _residual(x, b, f, s, rc, r)
    best_e = _hess_err_seed(r, Hj, hr)
    if block_energy(x, b, sq) > e0:
        s_min, s_max, noise = search_window(xbits, b, amax, e0, work, srt)
        if not noise:
            lo, hi = code_window(dec, rc, s_min, s_max)
            for k in range(lo, hi + 1):
                f, s = candidate(k, dec, rc)
                # Nothing clips once 6s >= amax: the seed's H(s) is exactly 0 then.
                clip = _clip_sse(x, b, s, sq) if _QMAX * s < amax else np.float32(0.0)
                if not clip < best_e * np.float32(10.0):
                    continue
                _residual(x, b, f, s, rc, r)
                # A candidate whose proved lower bound exceeds best cannot improve
                # (the seed would evaluate it and not take it).
                if mu_j >= 0 and mu_j * _weighted_sq(r, dj) > best_e:
                    continue
                e = _hess_err_seed(r, Hj, hr)
                if e < best_e:
                    best_e = e
                    best_c = k
    emit_block(b, best_c, x, dec, rc, out)


@numba.njit(**JIT_SCALAR)
def hess_err_exact(x, b, k, dec, rc, H, r):
    """r^T H r in float64 for code k, r = x - dq exact (dq = fl(q*s) float32, held in
    float64)."""
    f, s = candidate(k, dec, rc)
    for i in range(block_len(x)):
        r[i] = residual64(x[b, i], f, s, rc)
    return quad_form64(r, H)


@numba.njit(**JIT_SCALAR_FN)
def residual64(v, f, s, rc):
    """One element's residual in exact mode: v - fl(q * s) in float64 (q its quant under
    factor f; fl(q * s) float32, exact in float64)."""
    return np.float64(v) - np.float64(fp4_signed(v, f, rc) * s)


@numba.njit(**JIT_SCALAR)
def quad_form64(r, H):
    """r^T H r in float64, in a fixed order (row dot products, then their sum)."""
    n = r.size
    total = 0.0
    for a in range(n):
        acc = 0.0
        for k in range(n):
            acc += mul_rn(H[a, k], r[k])
        total += mul_rn(r[a], acc)
    return total


@numba.njit(**JIT_SCALAR)
def _better(e, k, best_e, best_c, c0):
    """The seed's tie rule as an order-free comparison: lower error; on equal error s0,
    then the smaller scale."""
    if e < best_e:
        return True
    return e == best_e and best_c != c0 and k < best_c


@numba.njit(**JIT_SCALAR)
def _weighted_sse(x, b, f, s, rc, dj):
    """(sum_i d_i r_i^2, dead-zone part, clipped part) in float64 with r = x - q*s exact.
    The dead-zone part (elements that quantize to 0: fl(|x|/s) <= 1/4, or fl(|x| * f)
    with a factor that only falls as s grows, a set that only grows with s) only grows
    with s, the clipped part (elements above 6s) only shrinks: they bound every larger /
    smaller scale."""
    total = 0.0
    dead = 0.0
    clip = 0.0
    for i in range(block_len(x)):
        w, w_dead, w_clip = bound_terms(x[b, i], f, s, rc, dj[i])
        total += w
        dead += w_dead
        clip += w_clip
    return total * _W_GUARD, dead * _W_GUARD, clip * _W_GUARD


@numba.njit(**JIT_SCALAR_FN)
def bound_terms(v, f, s, rc, d):
    """One element's terms of _weighted_sse: (w, w if its quant is 0 else 0, w if it is
    clipped (|v| > 6s) else 0), w = d (|v| - q s)^2 in float64. (Adding the zeros leaves
    the sums as skipping would: every term is >= 0 and the sums start at +0.0.)"""
    a = abs(v)
    q = fp4_project(a, f, rc)
    e = np.float64(a) - np.float64(q * s)
    w = mul_rn(d, mul_rn(e, e))
    if q == 0:
        return w, w, 0.0
    if a > _QMAX * s:
        return w, 0.0, w
    return w, 0.0, 0.0


@numba.njit(**JIT_SCALAR)
def exact_block(x, b, rc, dec, c0, Hj, dj, mu, r):
    """Block ``b``'s argmin over the recipe's scales (rc.min_code..126, and s0) of the float64
    r^T H r (s0 wins ties, then the smallest). Scans up from s0 and then down, skipping a
    scale when mu * weighted_sse(s) > best and stopping in a direction once the monotone
    dead-zone (up) or clipping (down) part of that bound exceeds best. With mu = -inf
    (H not PSD) every scale is evaluated."""
    best_c = c0
    best_e = hess_err_exact(x, b, c0, dec, rc, Hj, r)
    bounded = mu >= 0
    for direction in (1, -1):
        k = c0 + direction
        while rc.min_code <= k <= 126:
            if bounded:
                f, s = candidate(k, dec, rc)
                w, dead, clip = _weighted_sse(x, b, f, s, rc, dj)
                if mu * (dead if direction == 1 else clip) > best_e:
                    break
                if mu * w > best_e:
                    k += direction
                    continue
            e = hess_err_exact(x, b, k, dec, rc, Hj, r)
            if _better(e, k, best_e, best_c, c0):
                best_e = e
                best_c = k
            k += direction
    return best_c


@numba.njit(**JIT_PARALLEL)
def _hessian_exact_kernel(x, xbits, rc, dec, out, status, H, d, mu, rows_per_task):
    n, bs = x.shape
    ncb = H.shape[0]
    for task in numba.prange(n_column_tasks(n, ncb, rows_per_task)):
        j, blocks = column_block_task(task, n, ncb, rows_per_task)
        Hj = H[j]
        dj = d[j]
        r = np.empty(bs, np.float64)
        for b in blocks:
            amax, c0, finite = begin_block(b, xbits, status, rc)
            if not finite:
                continue
            best_c = exact_block(x, b, rc, dec, c0, Hj, dj, mu[j], r)
            emit_block(b, best_c, x, dec, rc, out)


# ----------------------------------------------------------------------------- public


def diagonal_blocks(H, bs):
    """The (K // bs, bs, bs) diagonal blocks of a (K, K) matrix: H_j = H[j*bs:(j+1)*bs,
    j*bs:(j+1)*bs], a contiguous copy."""
    idx = np.arange(H.shape[0]).reshape(-1, bs)
    return np.ascontiguousarray(H[idx[:, :, None], idx[:, None, :]])


def hessians_for(W, dim, X, H_blocks, dtype, who="nvfp4_optimal_hessian", *, eigenvalues=False):
    """Validate the block layout of W against X or H_blocks (a caller's H_blocks also by
    core.check_hessian_blocks); return (H, ncb, bs) with H (ncb, bs, bs) in ``dtype``,
    with ``eigenvalues`` also the check's eigenvalues of caller-given H_blocks (else None)."""
    W = core.as_float_array(W, "W")
    if W.ndim < 2:
        raise ValueError(
            f"W must have a column-block axis before the block axis (e.g. (M, K//bs, bs)), got shape {W.shape}"
        )
    d = core.normalize_axis(W.ndim, dim)
    bs = W.shape[d]
    core.check_block_size(bs, f"W.shape[{d}] (the block size)")
    moved = np.moveaxis(W, d, -1)
    ncb = moved.shape[-2]
    if H_blocks is not None:
        if eigenvalues:
            H, lam = core.check_hessian_blocks(H_blocks, ncb, bs, eigenvalues=True)
        else:
            H, lam = core.check_hessian_blocks(H_blocks, ncb, bs), None
        H = np.ascontiguousarray(H, dtype=dtype)
        return (H, ncb, bs, lam) if eigenvalues else (H, ncb, bs)
    if X is None:
        raise ValueError(f"{who} needs activations X (T, K) or H_blocks")
    X = core.as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (T, K), got shape {X.shape}")
    if X.shape[1] != ncb * bs:
        raise ValueError(
            f"X.shape[1] = {X.shape[1]} does not match the weights: after moving the block axis "
            f"last, W has shape {moved.shape}, i.e. {ncb} column blocks of {bs} = K of {ncb * bs}"
        )
    H = np.ascontiguousarray(block_hessians(X, bs), dtype=dtype)
    return (H, ncb, bs, None) if eigenvalues else (H, ncb, bs)


def nvfp4_optimal_hessian(W, dim=-1, return_dequant=False, X=None, H_blocks=None, *,
                          mode="seed", recipe="seed", rounding=None, tensor_amax=None, as_bytes=False):
    """Hessian-aware NVFP4 scale search: per block, the E4M3 scale minimising r^T H_j r.

    Parameters
    ----------
    W : array_like
        Weights; ``W.shape[dim]`` is the block size (16 or 32) and, after moving ``dim``
        last, the axis before it indexes the K // bs column blocks (e.g. ``(M, K//bs, bs)``).
    dim : int, default -1
        The block axis.
    return_dequant : bool, default False
        Also return ``quants * scales``.
    X : array_like, shape (T, K), optional
        Activations; ``H_j = X_j^T X_j`` is computed with :func:`block_hessians`.
    H_blocks : array_like, shape (K // bs, bs, bs), optional
        Precomputed block Hessians (float32 or float64, each positive semidefinite up to
        rounding: :func:`nvfp4_np.core.check_hessian_blocks`); if given, X is ignored.
    mode : {"seed", "exact"}, keyword-only
        ``"seed"`` reproduces the seed's bounded search; ``"exact"`` returns the true argmin
        over all 126 scales (never a larger r^T H r than the seed's). None: the default
        (the registry's modes: :data:`nvfp4_np.registry.METHODS`).
    recipe, rounding, tensor_amax : keyword-only
        As :func:`nvfp4_np.nvfp4_naive`. Under a two-level recipe the candidates are the
        recipe's E4M3 block-scale bytes and the error is that of the dequant
        ``q * (sf * tensor_scale)``.
    as_bytes : bool, keyword-only
        As :func:`nvfp4_np.nvfp4_naive`.

    Returns
    -------
    scales, quants[, dequant] : ndarray of float32
        Shapes as the seed's: ``scales`` is ``W.shape`` without ``dim``.
    """
    mode = registry.method("hessian").check_mode(mode)
    extra = hessian_operands(W, dim, X, H_blocks, mode)
    kernel = _hessian_seed_kernel if mode == "seed" else _hessian_exact_kernel
    return core.run_block_kernel(kernel, W, dim, return_dequant, recipe, rounding, tensor_amax, *extra,
                                 HESSIAN_ROWS_PER_TASK, as_bytes=as_bytes)


def hessian_operands(W, dim, X, H_blocks, mode):
    """What the kernels of ``mode`` take besides the blocks (CPU and GPU alike): seed
    mode (H_j transposed, d, mu) in float32 arithmetic, exact mode (H_j, d, mu) in float64;
    the leading axis indexes column blocks."""
    mode = registry.method("hessian").check_mode(mode)
    if mode == "seed":
        H, _, _ = hessians_for(W, dim, X, H_blocks, np.float32)
        return (np.ascontiguousarray(H.transpose(0, 2, 1)), *diagonal_bounds(H, np.float32))
    H, _, _ = hessians_for(W, dim, X, H_blocks, np.float64)
    return (H, *diagonal_bounds(H, np.float64))
