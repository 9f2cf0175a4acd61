"""Quantizing one weight, or a range of its rows: the kernels' bytes plus the float64
sums behind the report's error figures, in a partition that any split of the rows
reproduces (so a Dask run reports the same numbers as one process)."""

import time
import warnings

import numpy as np

from .._convert import to_float32
from ..core import tensor_amax
from ..hessian import block_hessians, diagonal_blocks as diag_blocks  # (the checkpoint package exports it)
from .. import registry
from ..metrics import row_error_sums
from ..mx_tensor import e8m0_values
from ..tensor import quantize
from .layout import global_scale, layout_tensor
from .pieces import finish_tensor, piece, row_step


def tensor_operands(p, settings, calib):
    """What the quantization of weight ``p`` needs besides its rows: ``(X, H_blocks,
    H_full, gptq)`` from its calibration entry (X (T, K) float32 or None; the block
    Hessians, computed once per tensor; the full Hessian (K, K) float64 when that was
    given; for GPTQ, its operators, computed once per tensor, else None)."""
    if p.calib is None:
        return None, None, None, None
    X, H_blocks, H_full, stored = _calibration(p, settings, calib)
    ops = None
    if registry.METHODS[p.method].takes_full_hessian:
        from ..gptq import full_hessian, gptq_operators

        # (from the activations as stored, as nvfp4_gptq(W, X=...) computes it)
        ops = gptq_operators(full_hessian(stored) if H_full is None else H_full, settings.block_size,
                             damp=settings.damp, order=settings.order)
    return X, H_blocks, H_full, ops


def _calibration(p, settings, calib):
    """(X float32, block Hessians, full Hessian, the activations as stored) of weight
    ``p``'s calibration entry, checked (the absent ones None)."""
    kind, key = p.calib
    A = calib.load(key)
    bad = A.size - np.count_nonzero(np.isfinite(A))
    if bad:
        raise ValueError(f"calibration entry {key!r} has {bad} non-finite values (NaN or Inf)")
    if kind == "H" and np.any(np.diagonal(A, axis1=-2, axis2=-1) < 0):
        raise ValueError(f"calibration entry {key!r} is not a Hessian X^T X: its diagonal has negative entries")
    if kind == "X":  # (the MX searches take X_j^T X_j in float64, as quantize(fmt=..., X=...) makes it)
        acc = np.float64 if settings.is_mx else np.float32
        return np.asarray(A, np.float32), block_hessians(A, settings.block_size, accumulate=acc), None, A
    A = np.asarray(A, np.float64)  # float16, float32 or float64 in the file
    if A.ndim == 2:
        return None, diag_blocks(A, settings.block_size), A, None
    return None, A, None, None


def quantize_rows(W, r0, p, settings, amax, operands, progress=None, step=None, expert=None):
    """Quantize rows ``[r0, r0 + len(W))`` of weight ``p`` (W float32, r0 a multiple of
    ``step``, default :func:`row_step`) with the whole tensor's ``amax``: a dict with the packed codes,
    scale bytes, global scale, the scale-byte histogram and, per row step, the float64
    sums (|dq - W|^2, |W|^2, output-error numerator and denominator)."""
    X, H, H_full, gptq_ops = operands
    M, K = W.shape
    if settings.is_mx:  # no recipe or global scale (amax unused); the E8M0 rounding of naive
        kw = {"fmt": settings.fmt, "device": settings.device}
        if p.method == "naive":
            kw["scale_rounding"] = settings.scale_rounding
    else:
        kw = {"recipe": settings.recipe, "rounding": settings.rounding, "tensor_amax": amax,
              "device": settings.device, **settings.method_options}
    if gptq_ops is not None:
        kw.update(H=gptq_ops, mode=p.mode)
    elif H is not None:
        kw.update(H_blocks=H, **({} if settings.is_mx else {"mode": p.mode}))
    step = step or row_step(K, settings.tile_rows)
    if r0 % step:
        raise ValueError(f"row range start {r0} is not a multiple of the row step {step}")
    packed = np.empty((M, K // 2), np.uint8)
    sbytes = np.empty((M, K // settings.block_size), np.uint8)
    sums = np.zeros((-(-M // step), 4))
    X64 = None if X is None else X.astype(np.float64)
    gs = None if settings.is_mx else np.float32(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero-scale blocks: counted in the report instead
        for i, a in enumerate(range(0, M, step)):
            b = min(a + step, M)
            t = quantize(W[a:b], settings.block_size, p.method, -1, **kw)
            weight_only = X64 is None and H_full is None and H is None  # (the weight error from the bytes)
            if settings.is_mx:  # (MXFP4, the one MX checkpoint format: E2M1 codes two per byte)
                packed[a:b], sbytes[a:b], gs = t.codes, t.scale_bytes, None
                if weight_only:
                    sums[i] = _weight_error_sums(W[a:b], t.codes, e8m0_values(t.scale_bytes))
                else:
                    sums[i] = _error_sums(W[a:b], t.dequantize(), X64, H_full, H)
            elif weight_only:
                packed[a:b], sbytes[a:b], gs = t.codes, t.scale_bytes, global_scale(t, settings.format)
                stored = layout_tensor(t.codes, t.scale_bytes, gs, (b - a, K), settings.format)
                sums[i] = _weight_error_sums(W[a:b], stored.codes, stored.effective_scales())
            else:
                packed[a:b], sbytes[a:b], gs = t.codes, t.scale_bytes, global_scale(t, settings.format)
                stored = layout_tensor(t.codes, t.scale_bytes, gs, (b - a, K), settings.format)
                sums[i] = _error_sums(W[a:b], stored.dequantize(), X64, H_full, H)
            if progress:
                progress((b - a) * K)
    basis = "activations" if X is not None else "Hessian" if H_full is not None else \
        "block Hessians" if H is not None else None
    return piece(packed, sbytes, gs, sums, basis, expert)


def _weight_error_sums(w, codes, eff_scales):
    """_error_sums without an output error, from the packed E2M1 codes and the scales a
    loader multiplies by (metrics.row_error_sums: no dequantized copy)."""
    rs = row_error_sums(w, codes, eff_scales)
    return rs[:, 0].sum(), rs[:, 1].sum(), 0.0, 0.0


def block_quadratic(r, H_blocks):
    """sum_j r_j H_j r_j^T over the rows of ``r`` (M, K) and the column blocks j of the
    block Hessians (K/bs, bs, bs), in float64: the block-diagonal output error's terms."""
    nb, bs = H_blocks.shape[0], H_blocks.shape[-1]
    rb = np.ascontiguousarray(np.asarray(r, np.float64).reshape(r.shape[0], nb, bs).transpose(1, 0, 2))  # (j, row, i)
    return float(np.einsum("brj,brj->", rb @ np.asarray(H_blocks, np.float64), rb))


def _error_sums(w, dq, X64, H_full, H_blocks=None):
    """|dq - w|^2, |w|^2, and the output error's numerator and denominator: with
    activations X, |X r^T|^2; with a full Hessian, r H r^T; with block Hessians only, the
    block-diagonal sum_j r_j H_j r_j^T (what the Hessian methods minimise; it leaves out
    the cross-block terms)."""
    w = w.astype(np.float64)
    d = dq.astype(np.float64) - w
    out = [float(np.einsum("ij,ij->", d, d)), float(np.einsum("ij,ij->", w, w)), 0.0, 0.0]
    if X64 is None and H_full is None and H_blocks is not None:
        out[2:] = block_quadratic(d, H_blocks), block_quadratic(w, H_blocks)
    elif X64 is not None:
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


def expert_matrix(W, e, settings):
    """Expert ``e`` of stacked experts W as its (M, K) matrix, float32 contiguous (a
    transpose for the "in-out" order)."""
    X = W[e] if settings.stacked_experts == "out-in" else W[e].T
    return np.ascontiguousarray(X, np.float32)


def weight_amax(W):
    """float32 max|W| of a weight (M, K), or per expert (an (E,) array) of stacked experts
    (E, N, K): the amax its global scale (or each expert's) is computed from."""
    if W.ndim == 2:
        return tensor_amax(W)
    return np.array([tensor_amax(W[e]) for e in range(W.shape[0])], np.float32)


#: load_kernels says that it is compiling when it has not finished after this many seconds.
COMPILE_NOTE_SECONDS = 3.0


def load_kernels(methods, settings, say=None):
    """Run each (method, mode) of ``methods`` once on one block, so that compiling the
    kernels (the first run on a machine, or after an upgrade; cached afterwards) is not
    charged to the first tensor's speed. ``say(text)``, if given, is told when this takes
    longer than COMPILE_NOTE_SECONDS (and how long it took). Returns the seconds taken."""
    import threading

    t0 = time.monotonic()
    timer = None
    if say is not None:
        timer = threading.Timer(COMPILE_NOTE_SECONDS, say, ["compiling the kernels (the first run on this machine; "
                                                            "they are cached for later runs)..."])
        timer.start()
    try:
        bs = settings.block_size
        for method, mode in sorted(set(methods), key=str):
            m = registry.method(method)
            kw = {} if not m.needs_activations else {"H": np.eye(bs), "mode": mode} if m.takes_full_hessian else \
                {"H_blocks": np.eye(bs, dtype=np.float32)[None], "mode": mode}
            rows = settings.tile_rows
            if settings.is_mx:
                kw.pop("mode", None)
                if method == "naive":
                    kw["scale_rounding"] = settings.scale_rounding
                quantize(np.ones((rows, bs), np.float32), bs, method, fmt=settings.fmt, device=settings.device, **kw)
                continue
            quantize(np.ones((rows, bs), np.float32), bs, method, recipe=settings.recipe, rounding=settings.rounding,
                     device=settings.device, **kw, **settings.method_options)
            if settings.device == "cuda" and not kw:  # the GPU path's conversion and error sums too
                from .gpu_rows import gpu_quantize_rows
                from .plan import TensorPlan

                p = TensorPlan("warm-up", "", "BF16", (rows, bs), "quantize", method=method)
                for bits in ("BF16", "F16"):
                    gpu_quantize_rows(np.zeros((rows, bs), np.uint16), bits, p, settings)
    finally:
        if timer is not None:
            timer.cancel()
    seconds = time.monotonic() - t0
    if say is not None and seconds >= COMPILE_NOTE_SECONDS:
        say(f"kernels compiled in {seconds:.0f} s")
    return seconds


def quantize_tensor(W, p, settings, calib=None, *, progress=None, amax=None, input_scale=None):
    """Quantize weight ``W`` (M, K), or stacked experts expert by expert, as
    planned: ``(arrays, entry)``, the layout's arrays by output name and the report
    entry. ``amax`` (default :func:`weight_amax` of W; a fused group's is the max over
    its members) sets the global scale; ``input_scale`` is the stored activation scale
    (W4A4). ``progress(n)`` is called with the elements done as row steps finish."""
    t0 = time.perf_counter()
    # One float32 copy (the kernels' input type; exact from float16 / bfloat16), made in
    # parallel with its amax: read once from the file, reused by every row step and the
    # error figures.
    if amax is None or np.asarray(W).dtype != np.float32:
        W, own = to_float32(W)
        if amax is None:
            amax = own if W.ndim == 2 else weight_amax(W)
    W = np.ascontiguousarray(W)
    operands = tensor_operands(p, settings, calib)
    if W.ndim == 2:
        pieces = [quantize_rows(W, 0, p, settings, amax, operands, progress)]
    else:
        pieces = [quantize_rows(expert_matrix(W, e, settings), 0, p, settings, amax[e], operands, progress, expert=e)
                  for e in range(len(W))]
    return finish_tensor(p, settings, pieces, time.perf_counter() - t0, input_scale)

