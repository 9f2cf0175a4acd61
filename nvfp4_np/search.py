"""SSE-optimal NVFP4 scales: the seed's bounded search over the 126 E4M3 scales."""

import numba
import numpy as np

from . import core
from ._block import (
    _DEAD_ZONE_INV,
    begin_block,
    block_energy,
    block_sse,
    candidate,
    code_window,
    emit_block,
    first_candidate_at_least,
    n_chunks,
    search_window,
)
from ._config import CHUNK_BLOCKS, JIT_PARALLEL, JIT_SCALAR

__all__ = ["nvfp4_optimal"]

# A float32 sum of at most 32 non-negative terms (squares rounded once) is at least
# (1 - 34 * 2^-24) times the exact sum of the exact terms, and a float64 sum of them is at
# most (1 + 2^-47) times it. Scaling a float64 lower bound by this factor therefore keeps it
# below the float32 value the seed's arithmetic would produce.
_BOUND_GUARD = 1.0 - 2.0**-15


@numba.njit(**JIT_PARALLEL)
def _optimal_kernel(x, xbits, rc, dec, out, want_dq, status):
    n, bs = x.shape
    for c in numba.prange(n_chunks(n)):
        sq = np.empty(bs, np.float32)
        srt = np.empty(bs, np.float32)
        work = np.empty(bs, np.uint32)
        prefix = np.empty(bs + 1, np.float64)
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            optimal_block(b, x, xbits, rc, dec, out, want_dq, status, sq, srt, work, prefix)


@numba.njit(**JIT_SCALAR)
def optimal_block(b, x, xbits, rc, dec, out, want_dq, status, sq, srt, work, prefix):
    """Search and write block ``b`` (the CPU kernel and its GPU twin both call this).
    ``sq``, ``srt``, ``work`` (bs) and ``prefix`` (bs + 1) are scratch."""
    xb = x[b]
    amax, c0, finite = begin_block(b, xbits, status, rc)
    if not finite:
        return
    best_c = c0
    f, s = candidate(c0, dec, rc)
    best_e = block_sse(xb, f, s, rc, sq)
    # Nothing beats an error of 0 strictly. In the seed's search, noise blocks (zeroing
    # everything costs no more than s0) keep s0.
    if best_e > 0 and (not rc.seed_search or block_energy(xb, sq) > best_e):
        s_min, s_max, noise, taken = search_window(xbits[b], amax, best_e, work, srt, prefix)
        if noise:
            s_max = np.float32(np.inf)  # exact search only: no dead-zone bound
        if not (noise and rc.seed_search):
            best_c, best_e = _scan(xb, srt[:taken], prefix, rc, dec, sq, c0, best_e, s_min, s_max)
    emit_block(b, best_c, xb, dec, rc, out, want_dq)


@numba.njit(cache=True, nogil=True, inline="always")
def _scan(xb, srt, prefix, rc, dec, sq, c0, best_e, s_min, s_max):
    """The seed's ascending scan of the codes in [s_min, s_max] with strict improvement
    (s0 wins ties, then the smallest scale), returning the seed's choice with less work:

    - The seed's fast-fail (skip s when its clipping error H(s) >= best) needs no separate
      evaluation: elements above 6s contribute the same float32 terms to E(s) as to H(s),
      the others add non-negative terms, and float32 addition is monotone, so
      E(s) >= H(s) >= best, and the strict test below rejects s anyway.
    - Early exit: elements |x| <= s/4 quantize to 0 (|x|/s <= 1/4 exactly, a tie that
      goes to 0 in every rounding mode) and contribute x^2 to E(s); that partial sum
      only grows with s (``prefix`` over the
      sorted magnitudes ``srt``, guarded against float32 rounding). Once it reaches best,
      no later candidate can win, so the scan ends at the first code whose dead zone
      holds enough of the smallest magnitudes (recomputed when best improves). ``srt``
      need only hold the magnitudes up to the seed's k*: every candidate is <= s_max =
      4 * sorted[k*], so its dead zone holds no more than those.
    """
    best_c = c0
    lo, hi = code_window(dec, rc, s_min, s_max)
    hi = min(hi, _dead_zone_stop(srt, prefix, dec, rc, best_e) - 1)
    for k in range(lo, hi + 1):
        if k == c0:
            continue  # E(s0) is the current best or worse: strict < never takes it again
        if k > hi:
            break
        f, s = candidate(k, dec, rc)
        e = block_sse(xb, f, s, rc, sq)
        if e < best_e:
            best_e = e
            best_c = k
            hi = min(hi, _dead_zone_stop(srt, prefix, dec, rc, best_e) - 1)
    return best_c, best_e


@numba.njit(cache=True, nogil=True, inline="always")
def _dead_zone_stop(srt, prefix, dec, rc, best_e):
    """The first code at which the dead-zone bound reaches ``best_e`` (127 if none): the
    dead zone |x| <= s/4 holds the z smallest magnitudes once s >= 4 * srt[z-1] (exact
    in the seed recipe; a code later otherwise, see code_window)."""
    for z in range(1, srt.size + 1):
        if prefix[z] * _BOUND_GUARD >= best_e:
            return first_candidate_at_least(dec, rc, srt[z - 1] * _DEAD_ZONE_INV)
    return 127


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
    result, _ = core.run_block_kernel(_optimal_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                       out=out)
    return result
