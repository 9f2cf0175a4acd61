"""NumPy forms of the seed's helpers, with the seed's float32 arithmetic.

These work on any broadcastable shapes and mirror the seed's torch functions exactly
(including ``torch.sign(NaN) = 0``, signed zeros and ``bucketize``'s NaN bucket), so they
also accept values the kernels reject. The kernels compute the same quantities per block.
"""

import numpy as np

from . import core, recipes
from .formats import round_e2m1

__all__ = ["fp4_quantize", "fp4_dequantize", "compute_block_sse", "nvfp4_dequantize", "seed_sum"]


def _torch_sign(x):
    # torch.sign: +1 / -1 / 0, with sign(-0.0) = +0.0 and sign(NaN) = 0.
    return (x > 0).astype(np.float32) - (x < 0).astype(np.float32)


def fp4_quantize(x, s, rounding="seed"):
    """Signed E2M1 values of ``x / s``: ``sign(x) * round_e2m1(|x| / s)``.

    Parameters
    ----------
    x : array_like
        Values (converted to float32).
    s : array_like
        Scales broadcastable to ``x`` (the seed passes shape ``(..., 1)``).
    rounding : {"seed", "rne"}
        Tie rule at the E2M1 decision boundaries.

    Returns
    -------
    ndarray of float32
        Values in {0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6}; a negative ``x`` that rounds to 0
        gives -0.0, ``x = -0.0`` and NaN give +0.0, ``s = 0`` gives ±6 for nonzero ``x``.
    """
    x = np.asarray(core.as_float_array(x, "x"), dtype=np.float32)
    s = np.asarray(core.as_float_array(s, "s"), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.abs(x) / s
    return _torch_sign(x) * round_e2m1(y, rounding)


def fp4_dequantize(quants, s):
    """``quants * s`` in float32 (``s`` broadcastable to ``quants``)."""
    q = np.asarray(core.as_float_array(quants, "quants"), dtype=np.float32)
    return q * np.asarray(core.as_float_array(s, "s"), dtype=np.float32)


def seed_sum(v):
    """Sum over the last axis (16 or 32) in torch's float32 order: 8 strided lanes
    (lane i sums v[..., i], v[..., i+8], ...), then the lanes left to right."""
    v = np.asarray(v, dtype=np.float32)
    n = v.shape[-1]
    if n not in core.BLOCK_SIZES:
        raise ValueError(f"seed_sum reproduces torch's order for 16 or 32 elements, got {n}")
    lanes = v[..., 0:8].copy()
    for j in range(8, n, 8):
        lanes += v[..., j:j + 8]
    total = lanes[..., 0].copy()
    for i in range(1, 8):
        total += lanes[..., i]
    return total


def compute_block_sse(x, s, rounding="seed"):
    """Per-block sum of squared FP4 quantization error, in the seed's float32 order.

    Parameters
    ----------
    x : array_like, shape (num_blocks, block_size)
        Blocks of 16 or 32 values (any leading shape works).
    s : array_like, shape (num_blocks,) or (num_blocks, 1)
        One scale per block.

    Returns
    -------
    ndarray of float32, shape (num_blocks,)
    """
    x = np.asarray(core.as_float_array(x, "x"), dtype=np.float32)
    s = np.asarray(core.as_float_array(s, "s"), dtype=np.float32)
    if s.ndim == x.ndim - 1:
        s = s[..., None]
    err = x - fp4_dequantize(fp4_quantize(x, s, rounding), s)
    return seed_sum(err * err)


def nvfp4_dequantize(scales, quants, dim=-1, tensor_scale=None, recipe="seed"):
    """Dequantize NVFP4: ``quants * scales`` with the scale broadcast along ``dim``, or
    ``quants * (scales * tensor_scale)`` for a two-level recipe (float32, in that order;
    ``quants * (scales / tensor_scale)`` for "compressed-tensors", whose tensor scale is
    the encode form).

    Parameters
    ----------
    scales : array_like
        Block scales, shape ``quants.shape`` without ``dim`` (as the methods return them).
    quants : array_like
        Signed E2M1 values.
    dim : int, default -1
        The block axis of ``quants``.
    tensor_scale : float, optional
        The tensor scale a two-level recipe returned.
    recipe : str, default "seed"
        The recipe that produced them (decides how the tensor scale applies).

    Returns
    -------
    ndarray of float32, shape of ``quants``.
    """
    q = np.asarray(core.as_float_array(quants, "quants"), dtype=np.float32)
    s = np.asarray(core.as_float_array(scales, "scales"), dtype=np.float32)
    if q.ndim == 0:
        raise ValueError("quants must have at least 1 dimension")
    d = core.normalize_axis(q.ndim, dim)
    expected = q.shape[:d] + q.shape[d + 1:]
    if s.shape != expected:
        raise ValueError(
            f"scales must have shape quants.shape without dim {dim}, i.e. {expected}; "
            f"got scales {s.shape} for quants {q.shape}"
        )
    if tensor_scale is not None:
        ts = np.asarray(tensor_scale, dtype=np.float32)
        if ts.ndim != 0 or not np.isfinite(ts):
            raise ValueError(f"tensor_scale must be a finite scalar, got {tensor_scale!r}")
        s = recipes.dequant_scales(recipe, s, ts)
    return q * np.expand_dims(s, d)
