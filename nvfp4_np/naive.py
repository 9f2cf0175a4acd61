"""Naive NVFP4 quantization: the scale of each block is E4M3(amax / 6)."""

import numba

from . import core
from ._block import begin_block, emit_block, n_chunks
from ._config import CHUNK_BLOCKS, JIT_PARALLEL

__all__ = ["nvfp4_naive"]


@numba.njit(**JIT_PARALLEL)
def _naive_kernel(x, xbits, rne, dec, out, want_dq, status):
    n = x.shape[0]
    for c in numba.prange(n_chunks(n)):
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            amax, code, finite = begin_block(b, xbits, status)
            if not finite:
                continue
            emit_block(b, code, x[b], dec, rne, out, want_dq)


def nvfp4_naive(W, dim=-1, return_dequant=False, *, rounding="seed", out=None):
    """Naive NVFP4 quantization: ``s = E4M3(max|x| / 6)`` per block.

    Bit-identical to the seed's ``nvfp4_naive`` for every finite input.

    Parameters
    ----------
    W : array_like
        Any real floating dtype (float16, ml_dtypes.bfloat16, float32, float64; converted
        to float32 first, as the seed's ``W.float()``). ``W.shape[dim]`` is the block
        size, 16 or 32. A 1-D ``W`` is a single block.
    dim : int, default -1
        The block axis.
    return_dequant : bool, default False
        Also return ``quants * scales``.
    rounding : {"seed", "rne"}, keyword-only
        Tie rule at the 7 E2M1 decision boundaries: ``"seed"`` rounds ties toward zero
        (torch.bucketize), ``"rne"`` to the even code (hardware ``cvt.rn``).
    out : tuple of ndarray, optional, keyword-only
        ``(scales, quants)`` or, with ``return_dequant``, ``(scales, quants, dequant)``:
        float32 arrays of the returned shapes to write into (C-contiguous with the block
        axis last; for ``dim=-1`` any C-contiguous array). Reusing buffers avoids
        allocating and page-faulting fresh outputs on every call. They are returned.

    Returns
    -------
    scales : ndarray of float32
        E4M3 block scales, shape ``W.shape`` without ``dim``.
    quants : ndarray of float32
        Signed E2M1 values, shape of ``W``.
    dequant : ndarray of float32, optional
        ``quants * scales``, shape of ``W``.

    Raises
    ------
    ValueError
        Block size not 16/32, ``dim`` out of range, NaN or Inf in ``W``.
    TypeError
        Integer, boolean or complex ``W``.

    Warns
    -----
    RuntimeWarning
        When blocks with 0 < amax <= 6*2^-10 get scale 0 (the seed's behaviour).
    """
    result, _ = core.run_block_kernel(_naive_kernel, W, dim, return_dequant, rounding, out=out)
    return result
