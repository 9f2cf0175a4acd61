"""Quantization error of a weight matrix, on the weights and on a layer's outputs."""

import numba
import numpy as np

from . import core
from ._config import HESSIAN_CHUNK_ROWS, JIT_PARALLEL
from ._emit import FP4_DECODE

__all__ = ["metrics"]


def metrics(W, W_dq, X=None, *, chunk_rows=HESSIAN_CHUNK_ROWS):
    """Relative weight error and, given activations, relative output error.

    Parameters
    ----------
    W, W_dq : array_like, shape (M, K)
        Original and dequantized weights (any real floating dtype; compared in float64).
    X : array_like, shape (T, K), optional
        Activations. The output error ``||X W_dq^T - X W^T||_F / ||X W^T||_F`` is
        accumulated over row chunks of X, so memory stays O(chunk_rows * (K + M)).

    Returns
    -------
    dict
        ``weight_error`` = ``||W_dq - W||_F / ||W||_F``, and ``output_error`` (None without X).
    """
    W = core.as_float_array(W, "W")
    Wq = core.as_float_array(W_dq, "W_dq")
    if W.shape != Wq.shape:
        raise ValueError(f"W and W_dq must have the same shape, got {W.shape} and {Wq.shape}")
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (M, K), got shape {W.shape}")
    num = den = 0.0
    step = max(1, (1 << 20) // max(W.shape[1], 1))  # float64 copies of a row chunk at a time
    for r0 in range(0, W.shape[0], step):
        w = np.asarray(W[r0:r0 + step], np.float64).reshape(-1)
        d = np.asarray(Wq[r0:r0 + step], np.float64).reshape(-1) - w
        num += float(d @ d)
        den += float(w @ w)
    out = {"weight_error": error_ratio(num, den), "output_error": None}
    if X is not None:
        X = core.as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != W.shape[1]:
            raise ValueError(f"X must be (T, K) with K = W.shape[1] = {W.shape[1]}, got shape {X.shape}")
        W64 = np.asarray(W, np.float64)
        D = (np.asarray(Wq, np.float64) - W64).T
        num = den = 0.0
        for t0 in range(0, X.shape[0], chunk_rows):
            Xc = np.asarray(X[t0:t0 + chunk_rows], dtype=np.float64)
            num += np.sum((Xc @ D) ** 2)
            den += np.sum((Xc @ W64.T) ** 2)
        out["output_error"] = error_ratio(num, den)
    return out


def error_ratio(num, den):
    """sqrt(num / den) of two sums of squares: a relative error (0 for 0/0, inf for x/0)."""
    return float(np.sqrt(num / den)) if den > 0 else (0.0 if num == 0 else float("inf"))


def row_error_sums(W, packed, eff_scales):
    """Per row r of a weight W (M, K) float32 and its stored bytes: float64 (sum (dq -
    w)^2, sum w^2) over the row, with dq = fl(q * s) for the E2M1 codes ``packed`` (M, K
    // 2) and the effective block scales ``eff_scales`` (M, K // bs) float32 (what a
    loader multiplies by: recipes.dequant_scales). Without building the dequant: one
    pass over W and the bytes, rows in parallel, each row summed in element order (so
    the figures do not depend on the thread count). Returns (M, 2) float64."""
    out = np.empty((W.shape[0], 2), np.float64)
    if W.size:
        _row_error_sums(W, packed, eff_scales, out)
    return out


@numba.njit(**JIT_PARALLEL)
def _row_error_sums(w, packed, eff, out):
    for r in numba.prange(w.shape[0]):
        row_sums(r, w, packed, eff, FP4_DECODE, out)


@numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def row_sums(r, w, packed, eff, decode, out):
    """Row r's (sum (dq - w)^2, sum w^2) into out[r], in element order: the one
    definition, which the CPU kernel and the GPU's (gpu_metrics) both run."""
    K = w.shape[1]
    nb = eff.shape[1]
    half = K // nb // 2
    e = 0.0
    t = 0.0
    for j in range(nb):
        s = eff[r, j]
        for i in range(half):
            c = j * half + i
            p = packed[r, c]
            w0, w1 = np.float64(w[r, 2 * c]), np.float64(w[r, 2 * c + 1])
            d0 = np.float64(decode[p & np.uint8(15)] * s) - w0
            d1 = np.float64(decode[p >> np.uint8(4)] * s) - w1
            e += d0 * d0
            e += d1 * d1
            t += w0 * w0
            t += w1 * w1
    out[r, 0] = e
    out[r, 1] = t
