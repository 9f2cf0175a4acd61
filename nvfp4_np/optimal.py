"""SSE-optimal NVFP4 scales: the seed's bounded search over the 126 E4M3 scales."""

import numba
import numpy as np

from . import core
from ._block import begin_block, block_energy, code_sse
from ._config import CHUNK_BLOCKS, JIT_PARALLEL, JIT_SCALAR, JIT_SCALAR_FN
from ._emit import emit_block
from ._schedule import n_chunks
from ._simd import (
    DEQUANT_ROWS,
    FIRST_WALK_CODE,
    LOWER_ROWS,
    block_magnitudes,
    count_above,
    dead_zone_count,
    lane_at,
    lanes,
    sort_lanes,
    sse_at,
    sum_squares,
    table_row,
    walk_down,
)
from ._window import clip_bound, code_window, dead_zone_bound, search_window
from .formats import E4M3_DECODE
from .recipes import SEED_PARAMS

__all__ = ["nvfp4_optimal"]

#: The E4M3 scale of each code, as the CPU's vector functions read it (a constant).
_DEC = E4M3_DECODE


@numba.njit(**JIT_SCALAR)
def optimal_block(b, x, xbits, rc, dec, out, status, sq, srt, work):
    """Search and write block ``b`` (the GPU twin's per-block function; the CPU kernel runs
    the same steps with the block in vector registers, see _optimal_blocks). ``sq``,
    ``srt`` (bs) and ``work`` (2 * bs) are scratch."""
    best_c, finite = optimal_code(b, x, xbits, rc, dec, status, sq, srt, work)
    if finite:
        emit_block(b, best_c, x, dec, rc, out)


@numba.njit(**JIT_SCALAR)
def optimal_code(b, x, xbits, rc, dec, status, sq, srt, work):
    """(the searched scale code of block ``b``, finite), its status recorded (begin_block);
    scratch as optimal_block's. GPTQ's per-group scales use it too."""
    amax, c0, finite = begin_block(b, xbits, status, rc)
    if not finite:
        return c0, False
    e0 = code_sse(x, b, c0, dec, rc, sq)
    s_min, s_max, noise = search_window(xbits, b, amax, e0, work, srt)
    lo, hi = scan_codes(rc, dec, e0, block_energy(x, b, sq), s_min, s_max, noise)
    best_c, _ = _scan(x, b, rc, dec, sq, c0, e0, lo, hi)
    return best_c, True


@numba.njit(**JIT_SCALAR)
def _optimal_blocks(x, xbits, rc, dec, out, status):
    """The CPU kernel's body: optimal_block, with the block's magnitudes loaded once into
    a vector (one lane per element, _simd) on which _search_lanes finds s0's error, the
    window and, for exact recipes, the best code. Same steps, same bits."""
    n, bs = x.shape
    for c in numba.prange(n_chunks(n)):
        sq = np.empty(bs, np.float32)
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            amax, c0, finite = begin_block(b, xbits, status, rc)
            if not finite:
                continue
            # (exact recipes: _search_lanes computes s0's error from the vector)
            e0 = np.float32(0.0) if rc.exact else code_sse(x, b, c0, dec, rc, sq)
            # The tuple's length (bs / 8) sizes the vector when compiling.
            if bs == 16:
                best_c, e0, lo, hi = _search_lanes(block_magnitudes(x, b, (0, 0)), amax, c0, e0, rc)
            else:
                best_c, e0, lo, hi = _search_lanes(block_magnitudes(x, b, (0, 0, 0, 0)), amax, c0, e0, rc)
            best_c, _ = _scan(x, b, rc, dec, sq, best_c, e0, lo, hi)  # (other recipes)
            emit_block(b, best_c, x, dec, rc, out)


@numba.njit(**JIT_SCALAR_FN)
def _search_lanes(a, amax, c0, e0, rc):
    """Block search on the magnitudes ``a`` (a vector), from s0 = code ``c0``:
    ``(code, error, lo, hi)``. Exact recipes get s0's error and the whole scan (_walk)
    here, and lo > hi; the others pass s0's error ``e0`` in and scan codes lo..hi after
    (optimal._scan, which needs the block in memory)."""
    if rc.exact:
        e0 = sse_at(a, count_above(a, _DEC[c0]), table_row(DEQUANT_ROWS, c0))
    srt = sort_lanes(a)
    k = dead_zone_count(srt, e0)
    noise = k == lanes(a)
    s_max = dead_zone_bound(lane_at(srt, 0 if noise else k))  # (unused for noise blocks)
    lo, hi = scan_codes(rc, _DEC, e0, sum_squares(a), clip_bound(amax, e0), s_max, noise)
    if not rc.exact:
        return c0, e0, lo, hi
    best_c, best_e = _walk(a, c0, e0, lo, hi)
    return best_c, best_e, np.int64(1), np.int64(0)


@numba.njit(**JIT_PARALLEL)
def _optimal_kernel(x, xbits, rc, dec, out, status):
    _optimal_blocks(x, xbits, rc, dec, out, status)


@numba.njit(**JIT_PARALLEL)
def _optimal_kernel_seed(x, xbits, rc, dec, out, status):
    """_optimal_kernel for rc == SEED_PARAMS, with those constants frozen in."""
    _optimal_blocks(x, xbits, SEED_PARAMS, dec, out, status)


@numba.njit(**JIT_SCALAR)
def scan_codes(rc, dec, e0, energy, s_min, s_max, noise):
    """The codes (lo, hi) the search scans from s0 (lo > hi: none), given s0's error
    ``e0``, the block's ``energy`` and its window (search_window). Nothing beats an
    error of 0 strictly. The seed's search keeps s0 for noise blocks: those whose energy
    (the error of zeroing everything) is <= e0, and those the dead-zone count marks as
    noise. The exact search of the two-level recipes has no dead-zone bound for noise."""
    if e0 > 0 and (not rc.seed_search or (energy > e0 and not noise)):
        return code_window(dec, rc, s_min, np.float32(np.inf) if noise else s_max)
    return np.int64(1), np.int64(0)


@numba.njit(**JIT_SCALAR)
def _scan(x, b, rc, dec, sq, c0, best_e, lo, hi):
    """The seed's ascending scan of the codes lo..hi with strict improvement (s0 wins
    ties, then the smallest scale), one SSE at a time. Returns (code, error).

    The seed's fast-fail (skip s when its clipping error H(s) >= best) needs no separate
    evaluation: elements above 6s contribute the same float32 terms to E(s) as to H(s),
    the others add non-negative terms, and float32 addition is monotone, so
    E(s) >= H(s) >= best, and the strict test rejects s anyway. No branch depends on an
    error: the better candidate is taken by selection, so no mispredicted branch waits
    for an SSE.
    """
    best_c = c0
    for k in range(lo, hi + 1):
        if k == c0:
            continue  # s0's error is the current best, which the strict test never takes
        best_e, best_c = _take_if_better(code_sse(x, b, k, dec, rc, sq), k, best_e, best_c)
    return best_c, best_e


@numba.njit(**JIT_SCALAR_FN)
def _walk(a, c0, best_e, lo, hi):
    """_scan for an exact recipe on the block's magnitudes ``a`` in a vector: each code's
    E2M1 indices come from the previous code's by one table lookup per element (see
    _simd). Same choice, same errors, bit for bit. Measured on blocks of 16, one thread:
    6.7 ns a code, against 13.5 ns for code_sse's seven comparisons per element."""
    best_c = c0
    if lo > hi:
        return best_c, best_e
    idx = count_above(a, _DEC[lo])
    for k in range(lo, hi + 1):
        if k > lo:
            idx = walk_down(a, idx, table_row(LOWER_ROWS, k)) if k >= FIRST_WALK_CODE else count_above(a, _DEC[k])
        # s0 itself is not skipped: its error equals the current best or exceeds it.
        best_e, best_c = _take_if_better(sse_at(a, idx, table_row(DEQUANT_ROWS, k)), k, best_e, best_c)
    return best_c, best_e


@numba.njit(**JIT_SCALAR_FN)
def _take_if_better(e, k, best_e, best_c):
    """(error, code) after the seed's strict-improvement step at code ``k``: taken by
    selection, not by a branch."""
    better = e < best_e
    return (e if better else best_e), (k if better else best_c)


def nvfp4_optimal(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None,
                  out=None, as_bytes=False):
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
    out, as_bytes : keyword-only
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
    return core.run_block_kernel(kernels, W, dim, return_dequant, recipe, rounding, tensor_amax, out=out,
                                 as_bytes=as_bytes)
