"""SSE-optimal NVFP4 scales: the seed's bounded search over the 126 E4M3 scales."""

import numba
import numpy as np

from . import core
from ._block import (
    NONFINITE,
    OK,
    UNDERFLOW,
    block_amax,
    block_energy,
    block_sse,
    first_code_at_least,
    n_chunks,
    naive_code,
    quantize_block,
    search_window,
)
from ._config import CHUNK_BLOCKS, JIT_PARALLEL

__all__ = ["nvfp4_optimal"]


@numba.njit(**JIT_PARALLEL)
def _optimal_kernel(x, xbits, thr, dec, codes, quants, dequant, want_dq, status):
    n, bs = x.shape
    for c in numba.prange(n_chunks(n)):
        sq = np.empty(bs, np.float32)
        srt = np.empty(bs, np.float32)
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            xb = x[b]
            amax, finite = block_amax(xbits[b])
            if not finite:
                status[b] = NONFINITE
                codes[b] = 0
                continue
            c0 = naive_code(amax)
            status[b] = UNDERFLOW if (c0 == 0 and amax > 0) else OK
            best_c = c0
            best_e = block_sse(xb, thr[c0], dec[c0], sq)
            # Noise blocks (zeroing everything costs no more than s0) keep s0.
            if block_energy(xb, sq) > best_e:
                s_min, s_max, noise = search_window(xb, amax, best_e, srt)
                if not noise:
                    # Ascending scan of the codes in [s_min, s_max]; strict improvement, so
                    # s0 wins ties and otherwise the smallest scale does. The seed's
                    # clipping fast-fail (skip when H(s) >= best) is implied: every clipped
                    # element contributes the same float32 term to E(s) as to H(s), the rest
                    # add non-negative terms, so E(s) >= H(s) >= best cannot improve.
                    k = first_code_at_least(dec, s_min)
                    while k <= 126 and dec[k] <= s_max:
                        if k != c0:
                            e = block_sse(xb, thr[k], dec[k], sq)
                            if e < best_e:
                                best_e = e
                                best_c = k
                        k += 1
            codes[b] = best_c
            quantize_block(xb, thr[best_c], dec[best_c], quants[b], dequant[b if want_dq else 0], want_dq)


def nvfp4_optimal(W, dim=-1, return_dequant=False, *, rounding="seed"):
    """SSE-optimal NVFP4 quantization by the seed's bounded search over E4M3 scales.

    Per block: baseline ``s0 = E4M3(amax/6)`` with error ``E0``; blocks whose energy is
    ``<= E0`` keep ``s0``; otherwise the E4M3 scales in ``[s_min, s_max]`` (clipping and
    dead-zone bounds derived from ``E0``) are scanned in ascending order and the one with
    the strictly smallest float32 SSE wins (``s0`` wins ties, then the smallest scale).
    Bit-identical to the seed's ``nvfp4_optimal`` for every finite input.

    Parameters
    ----------
    W : array_like
        Any real floating dtype; ``W.shape[dim]`` is the block size, 16 or 32.
    dim : int, default -1
        The block axis.
    return_dequant : bool, default False
        Also return ``quants * scales``.
    rounding : {"seed", "rne"}, keyword-only
        E2M1 tie rule, used both for the search and for the final quants.

    Returns
    -------
    scales, quants[, dequant] : ndarray of float32
        As :func:`nvfp4_np.nvfp4_naive`.

    Raises
    ------
    ValueError, TypeError
        As :func:`nvfp4_np.nvfp4_naive`.
    """
    out, _ = core.run_block_kernel(_optimal_kernel, W, dim, return_dequant, rounding)
    return out
