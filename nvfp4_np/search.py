"""SSE-optimal NVFP4 scales: the seed's bounded search over the 126 E4M3 scales."""

import numba
import numpy as np

from . import core
from ._block import (
    begin_block,
    block_energy,
    code_sse,
    code_sse_pair,
    code_window,
    emit_block,
    n_chunks,
    search_window,
)
from ._config import CHUNK_BLOCKS, JIT_PARALLEL, JIT_SCALAR, JIT_SCALAR_FN
from .formats import E4M3_MAX_CODE
from .recipes import SEED_PARAMS

__all__ = ["nvfp4_optimal"]

#: From this code on, the E4M3 scales are normal: code k + 8 is exactly twice code k.
_FIRST_PAIR_CODE = 8


@numba.njit(**JIT_SCALAR)
def _optimal_blocks(x, xbits, rc, dec, out, want_dq, status):
    n, bs = x.shape
    for c in numba.prange(n_chunks(n)):
        sq = np.empty(bs, np.float32)
        srt = np.empty(bs, np.float32)
        work = np.empty(2 * bs, np.uint32)
        errs = np.empty(E4M3_MAX_CODE + 1, np.float32)
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            optimal_block(b, x, xbits, rc, dec, out, want_dq, status, sq, srt, work, errs, True)


@numba.njit(**JIT_PARALLEL)
def _optimal_kernel(x, xbits, rc, dec, out, want_dq, status):
    _optimal_blocks(x, xbits, rc, dec, out, want_dq, status)


@numba.njit(**JIT_PARALLEL)
def _optimal_kernel_seed(x, xbits, rc, dec, out, want_dq, status):
    """_optimal_kernel for rc == SEED_PARAMS, with those constants frozen in."""
    _optimal_blocks(x, xbits, SEED_PARAMS, dec, out, want_dq, status)


@numba.njit(**JIT_SCALAR)
def optimal_block(b, x, xbits, rc, dec, out, want_dq, status, sq, srt, work, errs, pairs):
    """Search and write block ``b`` (the CPU kernel and its GPU twin both call this).
    ``sq``, ``srt`` (bs), ``work`` (2 * bs) and ``errs`` (127, used only with ``pairs``)
    are scratch. ``pairs``: exact recipes scan by code pairs (see _scan), as the CPU
    kernels do; the GPU twin passes False (its ``errs`` would live in local memory: the
    kernel ran 1.9x slower on an H100)."""
    amax, c0, finite = begin_block(b, xbits, status, rc)
    if not finite:
        return
    best_c = c0
    best_e = code_sse(x, b, c0, dec, rc, sq)
    # Nothing beats an error of 0 strictly. In the seed's search, noise blocks (zeroing
    # everything costs no more than s0) keep s0.
    if best_e > 0 and (not rc.seed_search or block_energy(x, b, sq) > best_e):
        s_min, s_max, noise = search_window(xbits, b, amax, best_e, work, srt)
        if noise:
            s_max = np.float32(np.inf)  # exact search only: no dead-zone bound
        if not (noise and rc.seed_search):
            lo, hi = code_window(dec, rc, s_min, s_max)
            best_c, best_e = _scan(x, b, rc, dec, sq, srt, errs, c0, best_e, lo, hi, pairs)
    emit_block(b, best_c, x, dec, rc, out, want_dq)


@numba.njit(**JIT_SCALAR)
def _scan(x, b, rc, dec, sq, sq2, errs, c0, best_e, lo, hi, pairs):
    """The seed's ascending scan of the codes lo..hi with strict improvement (s0 wins
    ties, then the smallest scale). Returns (code, error).

    The seed's fast-fail (skip s when its clipping error H(s) >= best) needs no separate
    evaluation: elements above 6s contribute the same float32 terms to E(s) as to H(s),
    the others add non-negative terms, and float32 addition is monotone, so
    E(s) >= H(s) >= best, and the strict test rejects s anyway. No branch depends on an
    error: the better candidate is taken by selection, so no mispredicted branch waits
    for an SSE (an early exit on the dead-zone bound, tried, saved fewer evaluations
    than its branches cost).

    With ``pairs`` (exact recipes only) the errors of codes k and k + 8, k >= 8, where the
    scale doubles, are computed together first (_block.code_sse_pair shares the
    thresholds' set-up) into ``errs`` (127 floats); the ascending scan reads them there
    and evaluates the other codes one at a time. ``sq``, ``sq2`` (bs) are scratch.
    Measured on blocks of 16: computing the pairs inside the scan's loop was ~10%
    slower; keeping three separate loops for the single codes was no faster and made the
    first compilation 38 s instead of 25 s (each call site of an inlined helper is a
    copy of its code).
    """
    p0 = max(lo, _FIRST_PAIR_CODE)
    p1 = max(p0, min(p0 + 8, hi - 7)) if pairs and rc.exact else p0
    for k in range(p0, p1):
        errs[k], errs[k + 8] = code_sse_pair(x, b, k, dec, sq, sq2)
    best_c = c0
    for k in range(lo, hi + 1):
        if p0 <= k < p1 or p0 + 8 <= k < p1 + 8:
            e = errs[k]
        elif k == c0:
            continue  # s0's error is the current best, which the strict test never takes
        else:
            e = code_sse(x, b, k, dec, rc, sq)
        best_e, best_c = _take_if_better(e, k, best_e, best_c)
    return best_c, best_e


@numba.njit(**JIT_SCALAR_FN)
def _take_if_better(e, k, best_e, best_c):
    """(error, code) after the seed's strict-improvement step at code ``k``: taken by
    selection, not by a branch."""
    better = e < best_e
    return (e if better else best_e), (k if better else best_c)


def nvfp4_optimal(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None,
                 out=None):
    """SSE-optimal NVFP4 quantization by a bounded search over the E4M3 block scales.

    Per block: baseline ``s0`` (the naive scale) with error ``E0``; the E4M3 scales in
    ``[s_min, s_max]`` (clipping and dead-zone bounds derived from ``E0``) are scanned in
    ascending order and the one with the strictly smallest float32 SSE (summed in the
    seed's order) wins: ``s0`` wins ties, then the smallest scale. With
    ``recipe="seed"`` this is the seed's search, bit-identical to the seed's
    ``nvfp4_optimal`` for every finite input (blocks whose energy is ``<= E0`` keep
    ``s0``). With a two-level recipe it is the exact argmin of the SSE of the dequant
    ``q * (sf * ts)`` over the recipe's block-scale bytes (ModelOpt's MSE sweep, exact).

    Parameters
    ----------
    W : array_like
        Any real floating dtype; ``W.shape[dim]`` is the block size, 16 or 32.
    dim : int, default -1
        The block axis.
    return_dequant : bool, default False
        Also return the dequantized values.
    recipe, rounding, tensor_amax : keyword-only
        As :func:`nvfp4_np.nvfp4_naive`; the tie rule applies to the search and to the
        final quants.
    out : tuple of ndarray, optional, keyword-only
        As :func:`nvfp4_np.nvfp4_naive`.

    Returns
    -------
    scales, quants[, dequant][, tensor_scale]
        As :func:`nvfp4_np.nvfp4_naive`.

    Raises
    ------
    ValueError, TypeError
        As :func:`nvfp4_np.nvfp4_naive`.
    """
    kernels = (_optimal_kernel, _optimal_kernel_seed)
    result, _ = core.run_block_kernel(kernels, W, dim, return_dequant, recipe, rounding, tensor_amax, out=out)
    return result
