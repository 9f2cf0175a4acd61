"""The high-level entry point: ``quantize`` a (..., K) array, get an ``NVFP4Tensor``."""

from dataclasses import dataclass

import numpy as np

from . import core
from .admm import nvfp4_admm
from .hessian import nvfp4_optimal_hessian
from .naive import nvfp4_naive
from .ops import nvfp4_dequantize
from .search import nvfp4_optimal

__all__ = ["NVFP4Tensor", "quantize", "METHODS"]

#: Block-scale methods selectable by name in ``quantize``.
METHODS = {"naive": nvfp4_naive, "optimal": nvfp4_optimal, "hessian": nvfp4_optimal_hessian, "admm": nvfp4_admm}
#: Methods that need activations X (or H_blocks), with their default mode.
_HESSIAN_METHODS = {"hessian": "seed", "admm": "seed"}


@dataclass(frozen=True)
class NVFP4Tensor:
    """An NVFP4-quantized array.

    Attributes
    ----------
    scales : ndarray of float32
        E4M3 block scales; the shape of the input with ``axis`` divided by ``block_size``.
    quants : ndarray of float32
        Signed E2M1 values, the shape of the input.
    method : str
        How the scales were chosen ("naive", "optimal").
    block_size : int
        16 or 32.
    axis : int
        The (non-negative) axis along which blocks run.
    rounding : str
        E2M1 tie rule used ("seed" or "rne").
    """

    scales: np.ndarray
    quants: np.ndarray
    method: str
    block_size: int
    axis: int
    rounding: str = "seed"

    @property
    def shape(self):
        """Shape of the original (and of the dequantized) array."""
        return self.quants.shape

    def dequantize(self):
        """``quants * scales`` broadcast over each block, float32, shape :attr:`shape`."""
        q = np.moveaxis(self.quants, self.axis, -1)
        blocked = q.reshape(q.shape[:-1] + (-1, self.block_size))
        s = np.moveaxis(self.scales, self.axis, -1)
        dq = nvfp4_dequantize(s, blocked, dim=-1).reshape(q.shape)
        return np.moveaxis(dq, -1, self.axis)


def quantize(W, block_size=16, method="optimal", axis=-1, *, rounding="seed", X=None,
             H_blocks=None, mode=None):
    """Quantize an array to NVFP4 with blocks of ``block_size`` along ``axis``.

    Parameters
    ----------
    W : array_like, shape (..., K, ...)
        Any real floating dtype; ``W.shape[axis]`` must be a multiple of ``block_size``.
    block_size : {16, 32}, default 16
    method : {"naive", "optimal", "hessian", "admm"}, default "optimal"
        ``"optimal"`` searches the E4M3 scales for the least squared error per block;
        ``"hessian"`` for the least output error r^T H r given activations ``X`` (T, K)
        or block Hessians ``H_blocks`` (see :func:`nvfp4_np.nvfp4_optimal_hessian`);
        ``"admm"`` also refines the quants (:func:`nvfp4_np.nvfp4_admm`).
    axis : int, default -1
        The axis that is cut into blocks (the GEMM reduction axis, K).
    rounding : {"seed", "rne"}, keyword-only
        E2M1 tie rule.
    X, H_blocks : array_like, optional, keyword-only
        Activations or block Hessians for ``method="hessian"``.
    mode : str, optional, keyword-only
        The method's mode: ``"seed"`` (default) or ``"exact"`` for ``"hessian"``,
        ``"seed"`` (default) or ``"best"`` for ``"admm"``.

    Returns
    -------
    NVFP4Tensor

    Examples
    --------
    >>> import numpy as np, nvfp4_np
    >>> W = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    >>> t = nvfp4_np.quantize(W, block_size=16, method="optimal")
    >>> t.scales.shape, t.quants.shape
    ((4, 4), (4, 64))
    """
    core.check_block_size(block_size)
    fn = METHODS.get(method)
    if fn is None:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    W = core.as_float_array(W, "W")
    if W.ndim == 0:
        raise ValueError("W must have at least 1 dimension, got a 0-d array")
    axis = core.normalize_axis(W.ndim, axis, "axis")
    K = W.shape[axis]
    if K % block_size:
        raise ValueError(
            f"W.shape[{axis}] = {K} must be a multiple of block_size={block_size} (W has shape {W.shape})"
        )
    moved = np.moveaxis(W, axis, -1)
    blocked = moved.reshape(moved.shape[:-1] + (K // block_size, block_size))
    kw = {"rounding": rounding}
    if method in _HESSIAN_METHODS:
        kw.update(X=X, H_blocks=H_blocks, mode=mode or _HESSIAN_METHODS[method])
    elif X is not None or H_blocks is not None or mode is not None:
        raise ValueError(f"X, H_blocks and mode apply to method='hessian' or 'admm', not {method!r}")
    try:
        scales, quants = fn(blocked, dim=-1, **kw)
    except core.NonFiniteError as e:  # report the position in W, not in the blocked view
        raise core.nonfinite_error(W, "W", e.n_blocks) from None
    quants = np.moveaxis(quants.reshape(moved.shape), -1, axis)
    scales = np.moveaxis(scales, -1, axis)
    return NVFP4Tensor(scales, quants, method, block_size, axis, rounding)
