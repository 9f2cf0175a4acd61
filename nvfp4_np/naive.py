"""Naive NVFP4 quantization: the scale of each block is E4M3(amax / 6)."""

import numba

from . import core
from ._block import begin_block
from ._schedule import n_chunks
from ._emit import emit_block
from ._config import CHUNK_BLOCKS, JIT_PARALLEL, JIT_SCALAR
from .recipes import SEED_PARAMS

__all__ = ["nvfp4_naive"]


@numba.njit(**JIT_SCALAR)
def _naive_blocks(x, xbits, rc, dec, out, status):
    n = x.shape[0]
    for c in numba.prange(n_chunks(n)):
        for b in range(c * CHUNK_BLOCKS, min(n, (c + 1) * CHUNK_BLOCKS)):
            naive_block(b, x, xbits, rc, dec, out, status)


@numba.njit(**JIT_PARALLEL)
def _naive_kernel(x, xbits, rc, dec, out, status):
    _naive_blocks(x, xbits, rc, dec, out, status)


@numba.njit(**JIT_PARALLEL)
def _naive_kernel_seed(x, xbits, rc, dec, out, status):
    """_naive_kernel for rc == SEED_PARAMS, with those constants frozen in."""
    _naive_blocks(x, xbits, SEED_PARAMS, dec, out, status)


@numba.njit(**JIT_SCALAR)
def naive_block(b, x, xbits, rc, dec, out, status):
    """Quantize and write block ``b`` (the CPU kernel and its GPU twin both call this)."""
    amax, code, finite = begin_block(b, xbits, status, rc)
    if finite:
        emit_block(b, code, x, dec, rc, out)


def nvfp4_naive(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None,
                out=None, as_bytes=False):
    """Naive NVFP4 quantization: the block scale is the E4M3 rounding of ``max|x| / 6``
    (in the recipe's arithmetic), elements are rounded to E2M1.

    With the default ``recipe="seed"`` bit-identical to the seed's ``nvfp4_naive`` for
    every finite input.

    Parameters
    ----------
    W : array_like
        Any real floating dtype (float16, ml_dtypes.bfloat16, float32, float64; converted
        to float32 first, as the seed's ``W.float()``). ``W.shape[dim]`` is the block
        size, 16 or 32. A 1-D ``W`` is a single block.
    dim : int, default -1
        The block axis.
    return_dequant : bool, default False
        Also return the dequantized values.
    recipe : {"seed", "te", "modelopt", "torchao", "compressed-tensors"}, keyword-only
        The arithmetic (:data:`nvfp4_np.recipes.RECIPES`, validation/SPEC.md). ``"seed"``:
        single level, the seed's. The others are the two-level recipes of Transformer
        Engine, ModelOpt, torchao and compressed-tensors: a float32 tensor scale ``ts``
        (decode form about ``amax / (6 * 448)``, dequant = ``q * (sf * ts)``; for
        compressed-tensors the encode form about ``6 * 448 / amax``, dequant =
        ``q * (sf / ts)``) and E4M3 block scales ``sf``.
    rounding : {"seed", "rne"} or None, keyword-only
        Tie rule at the 7 E2M1 decision boundaries; None takes the recipe's (``"seed"``
        rounds ties toward zero like torch.bucketize, the two-level recipes round to the
        even code like the hardware's ``cvt.rn``).
    tensor_amax : float, optional, keyword-only
        The tensor's largest magnitude for the tensor scale of a two-level recipe, when
        ``W`` is only a slice of the tensor (default: ``max|W|``). Ignored by "seed".
    out : tuple of ndarray, optional, keyword-only
        ``(scales, quants)`` or, with ``return_dequant``, ``(scales, quants, dequant)``:
        float32 arrays of the returned shapes to write into (C-contiguous with the block
        axis last; for ``dim=-1`` any C-contiguous array). Reusing buffers avoids
        allocating and page-faulting fresh outputs on every call. They are returned.
    as_bytes : bool, default False, keyword-only
        Return the bytes the kernels write instead of the float outputs:
        ``scale_bytes`` (uint8 E4M3 codes, the shape of ``scales``) and ``codes``
        (uint8, W's shape with ``dim`` halved: packed E2M1 codes, element 2i in the low
        nibble), then the tensor scale for a two-level recipe. No float32 array of W's
        size is made (:func:`nvfp4_np.quantize` uses this). Not with ``return_dequant``
        or ``out``.

    Returns
    -------
    scales : ndarray of float32
        E4M3 block scales, shape ``W.shape`` without ``dim``.
    quants : ndarray of float32
        Signed E2M1 values, shape of ``W``.
    dequant : ndarray of float32, optional
        ``quants * scales`` (two-level: ``quants * (scales * tensor_scale)``), shape of ``W``.
    tensor_scale : numpy.float32, only for a two-level recipe
        The tensor scale as the recipe stores it.

    Raises
    ------
    ValueError
        Block size not 16/32, ``dim`` out of range, NaN or Inf in ``W``, unknown recipe.
    TypeError
        Integer, boolean or complex ``W``.

    Warns
    -----
    RuntimeWarning
        When blocks with amax > 0 get block scale 0 (seed recipe: amax <= 6*2^-10; "te":
        blocks ~2^19 times smaller than the tensor's amax).
    """
    kernels = (_naive_kernel, _naive_kernel_seed)
    return core.run_block_kernel(kernels, W, dim, return_dequant, recipe, rounding, tensor_amax, out=out,
                                 as_bytes=as_bytes)
