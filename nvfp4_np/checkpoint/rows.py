"""Quantizing one weight, or a range of its rows: the kernels' bytes plus the float64
sums behind the report's error figures, in a partition that any split of the rows
reproduces (so a Dask run reports the same numbers as one process)."""

import time
import warnings

import numpy as np

from .._safetensors import DTYPES
from ..core import tensor_amax
from ..hessian import block_hessians
from ..metrics import error_ratio
from ..tensor import quantize
from .layout import global_scale, layout_tensor


#: Elements per quantize call: rows are independent, so a tensor is quantized in row
#: ranges (same bits as one call, with the whole tensor's amax) to show progress and to
#: react to Ctrl-C within a second or so.
ROWS_ELEMENTS = 1 << 22


def row_step(K):
    """Rows per quantize call for a weight with K columns. It also fixes the partition
    over which error sums are accumulated, so any split of the rows into whole steps
    (the Dask tasks) gives the same report figures as one process."""
    return max(1, ROWS_ELEMENTS // max(K, 1))


def tensor_operands(p, settings, calib):
    """What the quantization of weight ``p`` needs besides its rows: ``(X, H_blocks,
    H_full)`` from its calibration entry (X (T, K) float32 or None; the block Hessians,
    computed once per tensor; the full Hessian (K, K) float64 when that was given)."""
    if p.calib is None:
        return None, None, None
    kind, key = p.calib
    A = calib.load(key)
    bad = A.size - np.count_nonzero(np.isfinite(A))
    if bad:
        raise ValueError(f"calibration entry {key!r} has {bad} non-finite values (NaN or Inf)")
    if kind == "H" and np.any(np.diagonal(A, axis1=-2, axis2=-1) < 0):
        raise ValueError(f"calibration entry {key!r} is not a Hessian X^T X: its diagonal has negative entries")
    if kind == "X":
        return np.asarray(A, np.float32), block_hessians(A, settings.block_size), None
    if A.ndim == 2:
        return None, diag_blocks(A, settings.block_size), np.asarray(A, np.float64)
    return None, A, None


def quantize_rows(W, r0, p, settings, amax, operands, progress=None, step=None):
    """Quantize rows ``[r0, r0 + len(W))`` of weight ``p`` (W float32, r0 a multiple of
    ``step``, default :func:`row_step`) with the whole tensor's ``amax``: a dict with the packed codes,
    scale bytes, global scale, the scale-byte histogram and, per row step, the float64
    sums (|dq - W|^2, |W|^2, output-error numerator and denominator)."""
    X, H, H_full = operands
    M, K = W.shape
    kw = {"recipe": settings.recipe, "rounding": settings.rounding, "tensor_amax": amax, "device": settings.device}
    if H is not None:
        kw.update(H_blocks=H, mode=p.mode)
    step = step or row_step(K)
    if r0 % step:
        raise ValueError(f"row range start {r0} is not a multiple of the row step {step}")
    packed = np.empty((M, K // 2), np.uint8)
    sbytes = np.empty((M, K // settings.block_size), np.uint8)
    sums = np.zeros((-(-M // step), 4))
    X64 = None if X is None else X.astype(np.float64)
    gs = np.float32(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero-scale blocks: counted in the report instead
        for i, a in enumerate(range(0, M, step)):
            b = min(a + step, M)
            t = quantize(W[a:b], settings.block_size, p.method, -1, **kw)
            packed[a:b], sbytes[a:b], gs = t.codes, t.scale_bytes, global_scale(t)
            sums[i] = _error_sums(W[a:b], layout_tensor(t.codes, t.scale_bytes, gs, (b - a, K)).dequantize(),
                                  X64, H_full)
            if progress:
                progress((b - a) * K)
    return {"packed": packed, "sbytes": sbytes, "gs": gs, "sums": sums, "has_output": X is not None or H_full is not None,
            "hist": np.bincount(sbytes.reshape(-1), minlength=256)}


def _error_sums(w, dq, X64, H_full):
    w = w.astype(np.float64)
    d = dq.astype(np.float64) - w
    out = [float(np.einsum("ij,ij->", d, d)), float(np.einsum("ij,ij->", w, w)), 0.0, 0.0]
    if X64 is not None:
        xd, xw = X64 @ d.T, X64 @ w.T
        out[2:] = float(np.einsum("ij,ij->", xd, xd)), float(np.einsum("ij,ij->", xw, xw))
    elif H_full is not None:
        dH, wH = np.einsum("ij,ij->i", d @ H_full, d), np.einsum("ij,ij->i", w @ H_full, w)
        # a PSD H stored in float32 may give rH r^T slightly below 0 by rounding: allow 1e-5 |r|^2 max H_ii
        tol = -1e-5 * max(float(np.diagonal(H_full).max()), 0.0)
        if (dH < tol * np.einsum("ij,ij->i", d, d)).any() or (wH < tol * np.einsum("ij,ij->i", w, w)).any():
            raise ValueError("its Hessian is not positive semidefinite: r H r^T < 0 for a row r of the weight or "
                             "of its quantization error")
        out[2:] = float(dH.sum()), float(wH.sum())
    return out


def finish_tensor(p, settings, pieces, seconds):
    """The output arrays and report entry of weight ``p`` from its row pieces (in row
    order)."""
    M, K = p.shape
    packed = np.concatenate([q["packed"] for q in pieces]) if len(pieces) > 1 else pieces[0]["packed"]
    sbytes = np.concatenate([q["sbytes"] for q in pieces]) if len(pieces) > 1 else pieces[0]["sbytes"]
    sums = np.concatenate([q["sums"] for q in pieces]).sum(axis=0)
    hist = sum(q["hist"] for q in pieces)
    gs = pieces[0]["gs"]
    arrays = dict(zip((o[0] for o in p.outputs), (packed, sbytes.view(DTYPES["F8_E4M3"][1]), np.array([gs]))))
    has_out = pieces[0]["has_output"]
    entry = {"name": p.name, "shape": [M, K], "dtype": p.dtype, "action": "quantized", "method": p.method,
             "mode": p.mode, "recipe": settings.recipe, "block_size": settings.block_size,
             "calibration": p.calib[1] if p.calib else None, "note": p.reason or None, "global_scale": float(gs),
             "weight_error_pct": 100 * error_ratio(sums[0], sums[1]),
             "output_error_pct": 100 * error_ratio(sums[2], sums[3]) if has_out else None,
             "scale_byte_histogram": {f"0x{b:02x}": int(n) for b, n in enumerate(hist) if n},
             "zero_scale_blocks": int(hist[0]), "seconds": seconds,
             "elements_per_s": M * K / max(seconds, 1e-9)}
    return arrays, entry


def quantize_tensor(W, p, settings, calib=None, *, progress=None):
    """Quantize weight ``W`` (M, K) as planned: ``(arrays, entry)``, the
    compressed-tensors arrays by output name and the report entry. ``progress(n)`` is
    called with the elements done as row steps finish."""
    t0 = time.perf_counter()
    # One float32 copy (the kernels' input type; exact from float16 / bfloat16): read once
    # from the file, reused by every row step and the error figures.
    W = np.asarray(W, np.float32)
    piece = quantize_rows(W, 0, p, settings, tensor_amax(W), tensor_operands(p, settings, calib), progress)
    return finish_tensor(p, settings, [piece], time.perf_counter() - t0)


def diag_blocks(H, bs):
    K = H.shape[0]
    idx = np.arange(K).reshape(-1, bs)
    return np.ascontiguousarray(H[idx[:, :, None], idx[:, None, :]])
