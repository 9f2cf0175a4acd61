"""Slow, obviously-correct NumPy references for the tests.

Written from the seed's algorithm (``shared/seed/seed_reference.py``) and its measured
behaviour (``shared/seed/SEED_BEHAVIOR.md``), step by step on float32, without using any
of nvfp4_np's tables or kernels. Number formats come from ml_dtypes' decoding of the
codes. Every function works on float32 arrays; blocks are rows of an (N, bs) array.
"""

import ml_dtypes
import numpy as np

F32 = np.float32

#: The E2M1 codebook (magnitudes, code order) decoded by ml_dtypes from codes 0..7.
CODEBOOK = np.arange(8, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(F32)
#: The seed's decision boundaries: midpoints of consecutive codebook values.
BOUNDARIES = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], dtype=F32)
assert np.array_equal((CODEBOOK[:-1] + CODEBOOK[1:]) / 2, BOUNDARIES)

#: float32 value of each of the 256 E4M3 bytes, as ml_dtypes decodes them.
E4M3_ALL = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(F32)
#: Non-negative finite E4M3 values in byte order 0x00..0x7E (ascending).
E4M3_NONNEG = E4M3_ALL[:127].copy()
assert np.all(np.diff(E4M3_NONNEG) > 0) and np.isnan(E4M3_ALL[127])
#: The seed's 126 candidate scales: positive finite E4M3 values, ascending.
SCALES = E4M3_NONNEG[1:].copy()
E4M3_MAX = F32(448.0)
#: Midpoint between 448 and the next grid point 480; RNE rounds values above it to 480.
E4M3_OVERFLOW = F32(464.0)
#: amax at or below which the seed's naive scale snaps to 0.
UNDERFLOW_AMAX = F32(6 * 2.0**-10)

ROUNDINGS = ("seed", "rne")


def bits(a):
    """float32 bit patterns (uint32) of ``a``, for bit-exact comparisons."""
    return np.asarray(a, dtype=F32).view(np.uint32)  # same itemsize: any layout, 0-d too


def torch_sign(x):
    """torch.sign on float32: +1 / -1 / +0 (sign(-0.0) = +0.0, sign(NaN) = 0)."""
    x = np.asarray(x, dtype=F32)
    out = np.zeros(x.shape, dtype=F32)
    out[x > 0] = 1
    out[x < 0] = -1
    return out


def ref_snap_e4m3(v):
    """float32 -> nearest E4M3 value as float32: RNE, saturating (|v| > 464 and +-inf
    -> +-448), NaN -> NaN, the sign kept (-0.0 and tiny negatives -> -0.0).

    Nearest search in the ml_dtypes-decoded table: a magnitude strictly between two
    neighbours goes to the closer one (compared with their midpoint, exact in float32),
    and a magnitude equal to the midpoint goes to the neighbour with the even code.
    """
    v = np.asarray(v, dtype=F32)
    a = np.abs(v).ravel()
    out = np.empty(a.shape, dtype=F32)
    nan = np.isnan(a)
    big = ~nan & (a > E4M3_OVERFLOW)
    mid = ~nan & ~big
    am = a[mid]
    table = E4M3_NONNEG
    hi = np.searchsorted(table, am, side="left")  # table[hi] >= am
    hi = np.minimum(hi, table.size - 1)
    lo = np.maximum(hi - 1, 0)
    exact = table[hi] == am
    midpoint = (table[lo].astype(np.float64) + table[hi]) / 2  # exact
    pick_hi = am > midpoint
    tie = am == midpoint
    pick_hi = pick_hi | (tie & (hi % 2 == 0))
    code = np.where(exact, hi, np.where(pick_hi, hi, lo))
    out[mid] = table[code]
    out[big] = E4M3_MAX
    out[nan] = np.nan
    out = out.reshape(v.shape)
    return np.copysign(out, v).astype(F32)


def ref_e4m3_code(v):
    """Byte code (0..126, or 0x7F for NaN) of the E4M3 value of a non-negative float32."""
    snapped = ref_snap_e4m3(v)
    code = np.searchsorted(E4M3_NONNEG, np.abs(snapped)).astype(np.uint8)
    code[np.isnan(snapped)] = 0x7F
    return code


def ref_bucket(y, rounding):
    """Codebook index of non-negative float32 quotients ``y``.

    "seed": torch.bucketize(y, BOUNDARIES) (right=False): the number of boundaries
    strictly below y, so a tie goes to the lower bucket; NaN -> 7.
    "rne": the nearest codebook value, an exact tie going to the even index; NaN -> 7.
    """
    y = np.asarray(y, dtype=F32)
    if rounding == "seed":
        idx = np.searchsorted(BOUNDARIES, y, side="left")
    elif rounding == "rne":
        # the nearest codebook value (the boundaries are the midpoints); a value exactly
        # on a midpoint goes to whichever of its two neighbours has the even index
        idx = np.searchsorted(BOUNDARIES, y, side="left")
        on_mid = (idx < 7) & (BOUNDARIES[np.minimum(idx, 6)] == y)
        idx = np.where(on_mid & ((idx + 1) % 2 == 0), idx + 1, idx)
    else:
        raise ValueError(rounding)
    idx = np.array(idx)
    idx[y > 6] = 7  # saturation, +inf included
    idx[np.isnan(y)] = 7
    return idx


def ref_fp4_quantize(x, s, rounding="seed"):
    """sign(x) * codebook[bucket(|x| / s)], one float32 division per element."""
    x = np.asarray(x, dtype=F32)
    s = np.asarray(s, dtype=F32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = np.abs(x) / s
    assert y.dtype == F32
    return (torch_sign(x) * CODEBOOK[ref_bucket(y, rounding)]).astype(F32)


def ref_seed_sum(v):
    """torch's float32 sum of 16 or 32 elements along the last axis: 8 strided lane
    accumulators (lane i sums v[i], v[i+8], ...), then the lanes left to right."""
    v = np.asarray(v, dtype=F32)
    n = v.shape[-1]
    assert n in (16, 32)
    lanes = []
    for i in range(8):
        acc = v[..., i].copy()
        for j in range(i + 8, n, 8):
            acc = (acc + v[..., j]).astype(F32)
        lanes.append(acc)
    total = lanes[0]
    for acc in lanes[1:]:
        total = (total + acc).astype(F32)
    return total


def ref_sse(x, s, rounding="seed", summation=None):
    """Per-block SSE with the seed's arithmetic: x (N, bs), s (N,). ``summation``
    replaces the seed's float32 summation order (tests use it to show that a result
    depends on that order)."""
    x = np.asarray(x, dtype=F32)
    s = np.asarray(s, dtype=F32)[..., None]
    dq = ref_fp4_quantize(x, s, rounding) * s
    err = x - dq
    return (summation or ref_seed_sum)(err * err)


def _naive_scale(x):
    amax = np.abs(x).max(axis=-1)
    s_cont = np.maximum(amax / F32(6.0), F32(1e-12))
    return amax, ref_snap_e4m3(s_cont)


def ref_naive(x, rounding="seed"):
    """The seed's nvfp4_naive on (N, bs) float32 blocks -> (scales (N,), quants)."""
    x = np.asarray(x, dtype=F32)
    _, s = _naive_scale(x)
    return s, ref_fp4_quantize(x, s[:, None], rounding)


def ref_optimal(x, rounding="seed"):
    """The seed's nvfp4_optimal on (N, bs) float32 blocks, step by step."""
    x = np.asarray(x, dtype=F32)
    n, bs = x.shape
    ax = np.abs(x)
    # Step 1: baseline
    amax, s0 = _naive_scale(x)
    e0 = ref_sse(x, s0, rounding)
    best_s = s0.copy()
    best_e = e0.copy()
    # Step 2: noise blocks
    energy = ref_seed_sum(x * x)
    noise = energy <= e0
    # Step 3: bounds
    s_min = np.maximum((amax - np.sqrt(e0)) / F32(6.0), F32(0.0)).astype(F32)
    srt = np.sort(ax, axis=-1)
    sq = srt * srt
    cums = np.cumsum(sq.astype(np.float64), axis=-1).astype(F32)  # float64 acc, f32 prefixes
    k_star = (cums <= e0[:, None]).sum(axis=-1)
    noise = noise | (k_star >= bs)
    k_idx = np.minimum(k_star, bs - 1)
    s_max = (srt[np.arange(n), k_idx] / F32(0.25)).astype(F32)
    # Step 4: bounded ascending search with the clipping fast-fail
    active = ~noise
    for s in SCALES:
        in_range = active & (s >= s_min) & (s <= s_max)
        if not in_range.any():
            continue
        idx = np.nonzero(in_range)[0]
        clip = np.maximum(ax[idx] - F32(6.0) * s, F32(0.0))
        h = ref_seed_sum(clip * clip)
        idx = idx[h < best_e[idx]]
        if idx.size == 0:
            continue
        e = ref_sse(x[idx], np.full(idx.size, s, dtype=F32), rounding)
        better = e < best_e[idx]
        best_e[idx[better]] = e[better]
        best_s[idx[better]] = s
    return best_s, ref_fp4_quantize(x, best_s[:, None], rounding)


def ref_sse_table(x, rounding="seed", summation=None):
    """SSE of every block at each of the 126 scales, shape (126, N)."""
    x = np.asarray(x, dtype=F32)
    n = x.shape[0]
    return np.stack([ref_sse(x, np.full(n, s, dtype=F32), rounding, summation) for s in SCALES])


def ref_exhaustive_argmin(x, rounding="seed", table=None, summation=None):
    """The SSE-argmin over s0 and all 126 scales with the seed's tie rule: start at s0
    with its error, then scan ascending, replacing on strict improvement (s0 wins ties,
    then the smallest scale). Returns (scales, quants, sse)."""
    x = np.asarray(x, dtype=F32)
    _, s0 = _naive_scale(x)
    best_s = s0.copy()
    best_e = ref_sse(x, s0, rounding, summation)
    if table is None:
        table = ref_sse_table(x, rounding, summation)
    for j, s in enumerate(SCALES):
        better = table[j] < best_e
        best_e = np.where(better, table[j], best_e)
        best_s = np.where(better, s, best_s).astype(F32)
    return best_s, ref_fp4_quantize(x, best_s[:, None], rounding), best_e


# ----------------------------------------------------------------------------- Hessian


def ref_block_hessians(X, bs):
    """H_j = X_j^T X_j in float64 (exact for the small-integer X the tests use)."""
    X = np.asarray(X, dtype=np.float64)
    T, K = X.shape
    Xr = X.reshape(T, K // bs, bs)
    return np.einsum("tja,tjb->jab", Xr, Xr)


def ref_hess_err_seed(r, H):
    """The seed's float32 r^T H r for blocks r (N, bs) with Hessians H (N, bs, bs):
    Hr[a] = sum_k H[a, k] r[k] accumulated in k order (torch's small-bmm loop), then the
    seed's lane sum of r * Hr."""
    r = np.asarray(r, dtype=F32)
    H = np.asarray(H, dtype=F32)
    hr = (H[:, :, 0] * r[:, None, 0]).astype(F32)
    for k in range(1, r.shape[1]):
        hr = (hr + H[:, :, k] * r[:, None, k]).astype(F32)
    return ref_seed_sum(r * hr)


def ref_optimal_hessian_seed(W, H, rounding="seed"):
    """The seed's nvfp4_optimal_hessian on W (M, ncb, bs) float32 with H (ncb, bs, bs)
    float32, step by step (the baseline error uses the loop's arithmetic)."""
    W = np.asarray(W, dtype=F32)
    M, ncb, bs = W.shape
    x = W.reshape(-1, bs)
    Hb = np.asarray(H, dtype=F32)[np.arange(x.shape[0]) % ncb]
    ax = np.abs(x)
    amax, s0 = _naive_scale(x)
    e0_sse = ref_sse(x, s0, rounding)

    def herr(idx, s):
        dq = ref_fp4_quantize(x[idx], s[:, None], rounding) * s[:, None]
        return ref_hess_err_seed(x[idx] - dq, Hb[idx])

    all_idx = np.arange(x.shape[0])
    best_s = s0.copy()
    best_e = herr(all_idx, s0)
    energy = ref_seed_sum(x * x)
    noise = energy <= e0_sse
    s_min = np.maximum((amax - np.sqrt(e0_sse)) / F32(6.0), F32(0.0)).astype(F32)
    srt = np.sort(ax, axis=-1)
    cums = np.cumsum((srt * srt).astype(np.float64), axis=-1).astype(F32)
    k_star = (cums <= e0_sse[:, None]).sum(axis=-1)
    noise = noise | (k_star >= bs)
    s_max = (srt[all_idx, np.minimum(k_star, bs - 1)] / F32(0.25)).astype(F32)
    active = ~noise
    for s in SCALES:
        idx = np.nonzero(active & (s >= s_min) & (s <= s_max))[0]
        if idx.size == 0:
            continue
        clip = np.maximum(ax[idx] - F32(6.0) * s, F32(0.0))
        idx = idx[ref_seed_sum(clip * clip) < best_e[idx] * F32(10.0)]
        if idx.size == 0:
            continue
        e = herr(idx, np.full(idx.size, s, dtype=F32))
        better = e < best_e[idx]
        best_e[idx[better]] = e[better]
        best_s[idx[better]] = s
    return best_s.reshape(M, ncb), ref_fp4_quantize(x, best_s[:, None], rounding).reshape(W.shape)


def ref_hessian_table(W, H, rounding="seed"):
    """float64 r^T H_j r of every block at s0 and at each of the 126 scales:
    (E0 (N,), table (126, N), s0 (N,)) for W (M, ncb, bs)."""
    W = np.asarray(W, dtype=F32)
    M, ncb, bs = W.shape
    x = W.reshape(-1, bs)
    H64 = np.asarray(H, dtype=np.float64)

    def err(s):
        dq = ref_fp4_quantize(x, s[:, None], rounding) * s[:, None]
        r = (x.astype(np.float64) - dq.astype(np.float64)).reshape(M, ncb, bs)
        return np.einsum("mja,jab,mjb->mj", r, H64, r).reshape(-1)

    _, s0 = _naive_scale(x)
    n = x.shape[0]
    return err(s0), np.stack([err(np.full(n, s, dtype=F32)) for s in SCALES]), s0


def ref_hessian_exhaustive(W, H, rounding="seed"):
    """Argmin of the float64 r^T H r over s0 and all 126 scales, with the seed's tie rule
    (s0 wins ties, then the smallest scale). Returns (scales (N,), errors (N,))."""
    e0, table, s0 = ref_hessian_table(W, H, rounding)
    best_s, best_e = s0.copy(), e0.copy()
    for j, s in enumerate(SCALES):
        better = table[j] < best_e
        best_e = np.where(better, table[j], best_e)
        best_s = np.where(better, s, best_s).astype(F32)
    return best_s, best_e


# ----------------------------------------------------------------------------- ADMM


def ref_matvec_korder(M, v):
    """M (N, bs, bs) @ v (N, bs) in float32, each sum accumulated in k order."""
    M = np.asarray(M, dtype=F32)
    v = np.asarray(v, dtype=F32)
    out = (M[:, :, 0] * v[:, None, 0]).astype(F32)
    for k in range(1, v.shape[1]):
        out = (out + M[:, :, k] * v[:, None, k]).astype(F32)
    return out


def ref_admm_seed(W, H, Hn, Minv, n_outer=3, n_inner=10, rounding="seed"):
    """The seed's nvfp4_admm on W (M, ncb, bs) with the given float32 H, normalised H and
    inverse (ncb, bs, bs), literally: global convergence test, the last refit returned
    with the previous quants when the rounds run out (matrix products in k order)."""
    W = np.asarray(W, dtype=F32)
    M, ncb, bs = W.shape
    x = W.reshape(-1, bs)
    j = np.arange(x.shape[0]) % ncb
    Hb, Hnb, Mb = (np.asarray(a, dtype=F32)[j] for a in (H, Hn, Minv))
    _, s = _naive_scale(x)
    ones = np.ones((x.shape[0], 1), F32)
    q_star = None
    for _ in range(n_outer):
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (x / s[:, None]).astype(F32)
        z = ref_fp4_quantize(w, ones, rounding)
        u = np.zeros_like(w)
        with np.errstate(invalid="ignore", over="ignore"):
            Hw = ref_matvec_korder(Hnb, w)
            for _ in range(n_inner):
                q = ref_matvec_korder(Mb, (Hw + F32(1.0) * (z - u)).astype(F32))
                z = ref_fp4_quantize((q + u).astype(F32), ones, rounding)
                u = ((u + q) - z).astype(F32)
            q_star = z
            Hq = ref_matvec_korder(Hb, q_star)
            numer = ref_seed_sum(x * Hq)
            denom = ref_seed_sum(q_star * Hq)
            valid = (numer > 0) & (denom > F32(1e-12))
            s_cont = np.maximum(numer / np.maximum(denom, F32(1e-12)), F32(1e-12)).astype(F32)
        s_new = np.where(valid, ref_snap_e4m3(s_cont), s).astype(F32)
        if np.array_equal(s_new, s):
            break
        s = s_new
    if q_star is None:  # n_outer = 0: the naive quantization
        q_star = ref_fp4_quantize(x, s[:, None], rounding)
    return s.reshape(M, ncb), q_star.reshape(W.shape)


# ----------------------------------------------------------------------------- recipes
#
# The two-level recipes of real stacks, written from FORMAT_FACTS.md section 2 and the
# libraries' sources (torchao 0.18 nvfp4_quantize, ModelOpt 0.47 NVFP4QTensor,
# compressed-tensors 0.20, TE core_nvfp4.cuh), one float32 numpy operation per source
# operation. E4M3 casts by ml_dtypes after the sources' clamp to 448 (so ml_dtypes' NaN
# above 464 is never reached), E2M1 RNE by ml_dtypes' float4_e2m1fn cast after clamping
# to 6. Each function takes (N, bs) float32 blocks of one tensor and returns
# (scale_bytes (N,), codes (N, bs), tensor_scale, dequant (N, bs)).

FLT_MAX = np.finfo(F32).max
FP4_POS_CODES = {float(v): i for i, v in enumerate(CODEBOOK)}


def ref_e4m3_cast(v):
    """float32 >= 0 (already clamped to <= 448) -> E4M3 byte, RNE (ml_dtypes)."""
    v = np.asarray(v, dtype=F32)
    assert np.all(v <= 448) and np.all(v >= 0)
    return v.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)


def ref_e2m1_rne_codes(y, negative):
    """E2M1 codes of magnitudes ``y`` (float32 >= 0) rounded to nearest-even and
    saturated at 6, with the sign bit where ``negative``."""
    mag = np.minimum(np.asarray(y, dtype=F32), F32(6.0)).astype(ml_dtypes.float4_e2m1fn)
    code = mag.view(np.uint8) & np.uint8(7)
    return (code | (negative.astype(np.uint8) << 3)).astype(np.uint8)


def ref_fp4_decode(codes):
    """float32 value of E2M1 codes (0x8 -> -0.0)."""
    mag = CODEBOOK[codes & 7]
    return np.where(codes & 8, -mag, mag).astype(F32)


def _two_level_tensor_amax(x, tensor_amax):
    return F32(np.abs(x).max()) if tensor_amax is None else F32(tensor_amax)


def ref_recipe_te(x, tensor_amax=None, codes_for=None):
    """Transformer Engine: S_enc = min(2688 / amax, FLT_MAX) (1 if amax or S_enc is 0),
    S_dec = 1 / S_enc; sf = E4M3(amax_b * (S_enc * (1/6))); y = |x| * min(1 / (sf *
    S_dec), FLT_MAX); sign = x < 0; dequant q * (sf * S_dec)."""
    x = np.asarray(x, dtype=F32)
    amax = _two_level_tensor_amax(x, tensor_amax)
    with np.errstate(divide="ignore", over="ignore"):
        s_enc = np.minimum(F32(2688.0) / amax, FLT_MAX).astype(F32) if amax > 0 else F32(1.0)
    if s_enc == 0:
        s_enc = F32(1.0)
    s_dec = F32(F32(1.0) / s_enc)
    amax_b = np.abs(x).max(axis=-1)
    v = (amax_b * F32(s_enc * F32(F32(1.0) / F32(6.0)))).astype(F32)
    sb = ref_e4m3_cast(np.minimum(v, F32(448.0))) if codes_for is None else codes_for
    sf = E4M3_ALL[sb]
    with np.errstate(divide="ignore", over="ignore"):
        m = np.minimum(F32(1.0) / (sf * s_dec).astype(F32), FLT_MAX).astype(F32)
        y = (np.abs(x) * m[:, None]).astype(F32)
    codes = ref_e2m1_rne_codes(y, x < 0)
    dq = (ref_fp4_decode(codes) * (sf * s_dec).astype(F32)[:, None]).astype(F32)
    return sb, codes, s_dec, dq


def ref_recipe_modelopt(x, tensor_amax=None, codes_for=None):
    """ModelOpt: wsf2 = amax / 2688; v = amax_b / (6 * wsf2), 0 -> 1.0, clamp [2^-9,
    448]; y = |x| / (sf * wsf2); sign = x < 0; dequant q * (sf * wsf2)."""
    x = np.asarray(x, dtype=F32)
    amax = _two_level_tensor_amax(x, tensor_amax)
    wsf2 = F32(amax / F32(2688.0)) if amax > 0 else F32(1.0)  # nvfp4_np's zero-tensor rule
    amax_b = np.abs(x).max(axis=-1)
    v = (amax_b / F32(F32(6.0) * wsf2)).astype(F32)
    v[v == 0] = 1.0
    sb = ref_e4m3_cast(np.clip(v, F32(2.0**-9), F32(448.0))) if codes_for is None else codes_for
    sf = E4M3_ALL[sb]
    d = (sf * wsf2).astype(F32)
    y = (np.abs(x) / d[:, None]).astype(F32)
    codes = ref_e2m1_rne_codes(y, x < 0)
    return sb, codes, wsf2, (ref_fp4_decode(codes) * d[:, None]).astype(F32)


def ref_recipe_torchao(x, tensor_amax=None, codes_for=None):
    """torchao: pts = amax / 2688; v = (amax_b / 6) / pts, clamp [2^-6, 448];
    y = clamp(x * ((1 / pts) / sf), -6, 6); sign bit copied; dequant q * (pts * sf)."""
    x = np.asarray(x, dtype=F32)
    amax = _two_level_tensor_amax(x, tensor_amax)
    pts = F32(amax / F32(2688.0)) if amax > 0 else F32(1.0)  # nvfp4_np's zero-tensor rule
    amax_b = np.abs(x).max(axis=-1)
    v = ((amax_b / F32(6.0)).astype(F32) / pts).astype(F32)
    sb = ref_e4m3_cast(np.clip(v, F32(2.0**-6), F32(448.0))) if codes_for is None else codes_for
    sf = E4M3_ALL[sb]
    r = (F32(F32(1.0) / pts) / sf).astype(F32)
    scaled = np.clip((x * r[:, None]).astype(F32), F32(-6.0), F32(6.0))
    codes = ref_e2m1_rne_codes(np.abs(scaled), np.signbit(scaled))
    return sb, codes, pts, (ref_fp4_decode(codes) * (pts * sf).astype(F32)[:, None]).astype(F32)


def ref_recipe_compressed_tensors(x, tensor_amax=None, codes_for=None):
    """compressed-tensors: gs = (1 / max(amax, tiny)) * 2688 (1.0 if not finite);
    v = gs * (amax_b / 6), clamp 448, byte 0 -> 0x20 (0.125); y = clamp(x / (sf / gs),
    -6, 6); sign = x < 0; dequant q * (sf / gs)."""
    x = np.asarray(x, dtype=F32)
    amax = max(_two_level_tensor_amax(x, tensor_amax), np.finfo(F32).tiny)
    with np.errstate(over="ignore"):
        gs = F32(F32(F32(1.0) / amax) * F32(2688.0))
    if not np.isfinite(gs):
        gs = F32(1.0)
    amax_b = np.abs(x).max(axis=-1)
    v = (gs * (amax_b / F32(6.0)).astype(F32)).astype(F32)
    if codes_for is None:
        sb = ref_e4m3_cast(np.minimum(v, F32(448.0)))
        sb = np.where(sb == 0, np.uint8(0x20), sb)
    else:
        sb = codes_for
    sf = E4M3_ALL[sb]
    d = (sf / gs).astype(F32)
    y = (np.abs(x) / d[:, None]).astype(F32)
    codes = ref_e2m1_rne_codes(y, x < 0)
    return sb, codes, gs, (ref_fp4_decode(codes) * d[:, None]).astype(F32)


REF_RECIPES = {
    "te": ref_recipe_te,
    "modelopt": ref_recipe_modelopt,
    "torchao": ref_recipe_torchao,
    "compressed-tensors": ref_recipe_compressed_tensors,
}
#: Smallest candidate scale byte of each recipe's search (its lower clamp).
RECIPE_MIN_BYTE = {"te": 1, "modelopt": 1, "torchao": 8, "compressed-tensors": 1}


def ref_recipe_exhaustive(x, recipe, tensor_amax=None):
    """SSE-argmin under a two-level recipe over its baseline byte and every candidate
    byte (RECIPE_MIN_BYTE..0x7E), the SSE summed in the seed's lane order; ties keep the
    baseline, then the smallest byte. Returns (bytes (N,), sse (N,), table (126, N))."""
    ref = REF_RECIPES[recipe]
    x = np.asarray(x, dtype=F32)
    n = x.shape[0]

    def sse(sb):
        _, _, _, dq = ref(x, tensor_amax, codes_for=sb)
        e = x - dq
        return ref_seed_sum(e * e)

    b0 = ref(x, tensor_amax)[0]
    best_b, best_e = b0.copy(), sse(b0)
    table = np.full((126, n), np.inf, F32)
    for byte in range(RECIPE_MIN_BYTE[recipe], 127):
        e = sse(np.full(n, byte, np.uint8))
        table[byte - 1] = e
        better = e < best_e
        best_e = np.where(better, e, best_e)
        best_b = np.where(better, np.uint8(byte), best_b)
    return best_b, best_e, table


# ----------------------------------------------------------------------------- SPEC.md, whole
#
# validation/SPEC.md written out as one class, step by step on float32 / float64 NumPy
# arrays, sharing no code with nvfp4_np: given a golden vector's inputs it produces the
# five outputs a candidate implementation writes. Every rule that an implementation could
# get wrong is one method, so each mutant of tests/mutants.py is a subclass that
# overrides one method. Blocks are rows of an (N, bs) array; per-block bytes are (N,).

SPEC_RECIPES = ("seed", "te", "modelopt", "torchao", "compressed-tensors")
_DEC = E4M3_NONNEG  # dec[c] for c = 0x00..0x7E


def _f(x):
    return np.asarray(x, dtype=F32)


def fma32(a, b, c):
    """float32 fused multiply-add fl(a*b + c) with one rounding, exactly: a*b is exact in
    float64, TwoSum gives a + b*c = s + err exactly, and only an s that falls on a
    float32 midpoint needs err to decide the direction."""
    a, b, c = (np.asarray(v, dtype=F32) for v in (a, b, c))
    p = a.astype(np.float64) * b.astype(np.float64)
    c64 = c.astype(np.float64)
    s = p + c64
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)
    r = s.astype(F32)
    other = np.nextafter(r, np.where(s > r.astype(np.float64), F32(np.inf), F32(-np.inf))).astype(F32)
    on_mid = (r.astype(np.float64) != s) & ((r.astype(np.float64) + other.astype(np.float64)) / 2 == s) & (err != 0)
    toward_other = np.sign(err) == np.sign(other.astype(np.float64) - r.astype(np.float64))
    return np.where(on_mid & toward_other, other, r).astype(F32)


class SpecReference:
    """One recipe and tie rule of validation/SPEC.md. ``outputs(...)`` computes a vector."""

    def __init__(self, recipe, rounding=None):
        assert recipe in SPEC_RECIPES
        self.recipe = recipe
        self.rounding = rounding or ("seed" if recipe == "seed" else "rne")
        self.ts = F32(1.0)
        self.s_enc = F32(1.0)

    # --- §1.1, §2: arithmetic and formats
    def lane_sum(self, v):
        """§1.1 Σlane along the last axis."""
        return ref_seed_sum(v)

    def e4m3(self, v):
        """§2.3 E4M3(v) for v >= 0: RNE, > 464 -> 0x7E, NaN -> 0x7F."""
        return ref_e4m3_code(_f(v))

    def dec(self, c):
        """§2.2 dec[c], the float32 value of byte c (0x7F is NaN)."""
        return E4M3_ALL[np.asarray(c, dtype=np.int64)]

    def tie_rule(self):
        return self.rounding

    def magnitude(self, y):
        """§2.4 R_t(y): codebook magnitude, saturating (inf and NaN -> 6)."""
        return CODEBOOK[ref_bucket(_f(y), self.tie_rule())]

    def signed(self, x, m):
        """§2.5: rule "x<0"; torchao's sign-bit rule also gives -m for x = -0.0."""
        x, m = _f(x), _f(m)
        q = np.where(x < 0, -m, np.where(x > 0, m, F32(0.0)))
        if self.recipe == "torchao":
            q = np.where((x == 0) & np.signbit(x), -m, q)
        return q.astype(F32)

    def encode(self, q):
        """§2.1: index of |q| in the codebook, the sign bit of q as bit 3."""
        idx = np.searchsorted(CODEBOOK, np.abs(q)).astype(np.uint8)
        assert np.array_equal(CODEBOOK[idx], np.abs(q))
        return idx | (np.signbit(q).astype(np.uint8) << 3)

    # --- §3: recipes
    def tensor_scale(self, A):
        """§3.3 step 1-2: the stored tensor scale (te also sets S_enc)."""
        A = F32(A)
        with np.errstate(all="ignore"):
            if self.recipe == "seed":
                return F32(1.0)
            if self.recipe == "te":
                s = F32(F32(2688.0) / A) if A > 0 else F32(1.0)
                s = min(s, FLT_MAX)
                self.s_enc = F32(1.0) if s == 0 else F32(s)
                return F32(F32(1.0) / self.s_enc)
            if self.recipe in ("modelopt", "torchao"):
                ts = F32(A / F32(2688.0))
                return ts if ts > 0 else F32(1.0)
            gs = F32(F32(F32(1.0) / max(A, F32(2.0**-126))) * F32(2688.0))
            return gs if np.isfinite(gs) else F32(1.0)

    def block_value(self, a):
        """§3.1 the block value v from the block amax a."""
        a, ts, r = _f(a), self.ts, self.recipe
        with np.errstate(all="ignore"):
            if r == "seed":
                return _f(a / F32(6.0))
            if r == "te":
                return _f(a * F32(self.s_enc * F32(F32(1.0) / F32(6.0))))
            if r == "modelopt":
                return _f(a / F32(F32(6.0) * ts))
            if r == "torchao":
                return _f(_f(a / F32(6.0)) / ts)
            return _f(ts * _f(a / F32(6.0)))

    def value_rules(self, v):
        """§3.2 steps 3-4: modelopt's v == 0 -> 1, then the recipe's floor."""
        v = _f(v)
        if self.recipe == "modelopt":
            v = np.where(v == 0, F32(1.0), v)
        floor = {"seed": F32(1e-12), "modelopt": F32(2.0**-9), "torchao": F32(2.0**-6)}.get(self.recipe)
        if floor is not None:
            v = np.where(v < floor, floor, v)
        return _f(v)

    def zero_byte(self, c):
        """§3.2 step 6: compressed-tensors' byte 0 -> 0x20."""
        if self.recipe == "compressed-tensors":
            return np.where(c == 0, np.uint8(0x20), c).astype(np.uint8)
        return c

    def baseline_byte(self, a):
        return self.zero_byte(self.e4m3(self.value_rules(self.block_value(a))))

    def min_byte(self):
        """The smallest byte the recipe can emit (§3.1 min_code)."""
        return 8 if self.recipe == "torchao" else 1

    def element_factor(self, sf):
        """§3.1 how x is scaled for the block scale sf: (k, True) for y = fl(x * k) (te and
        torchao, k a rounded reciprocal capped at FLT_MAX), (d, False) for y = fl(x / d)
        (the others, d the effective scale)."""
        sf, ts = _f(sf), self.ts
        with np.errstate(all="ignore"):
            if self.recipe == "te":
                return np.minimum(_f(F32(1.0) / _f(sf * ts)), FLT_MAX), True
            if self.recipe == "torchao":
                return np.minimum(_f(_f(F32(1.0) / ts) / sf), FLT_MAX), True
        return self.effective_scale(sf), False

    def _scaled(self, x, sf):
        k, multiply = self.element_factor(sf)
        with np.errstate(all="ignore"):
            return _f(_f(x) * k) if multiply else _f(_f(x) / k)

    def scaled_magnitude(self, ax, sf):
        """§3.1 y_i from |x| (N, bs) and the block scale sf (N, 1)."""
        return self._scaled(ax, sf)

    def effective_scale(self, sf):
        """§3.1 s: seed sf; compressed-tensors fl(sf / gs); the others fl(sf * ts)."""
        sf = _f(sf)
        if self.recipe == "seed":
            return sf
        with np.errstate(all="ignore"):
            return _f(sf / self.ts) if self.recipe == "compressed-tensors" else _f(sf * self.ts)

    def quants(self, x, c):
        """§3.2 steps 7-8 for bytes c (N,): signed quants and dequant (N, bs)."""
        sf = self.dec(c)[:, None]
        m = self.magnitude(self.scaled_magnitude(np.abs(x), sf))
        q = self.signed(x, m)
        return q, self.dequant(q, self.effective_scale(sf))

    def dequant(self, q, s):
        return _f(q * s)

    # --- §4: block errors
    def residual(self, x, q, c):
        """§4 r = fl(x - dq), dq = fl(q * s) for byte c (two roundings, no FMA)."""
        return _f(x - self.dequant(q, self.effective_scale(self.dec(c))[:, None]))

    def sse(self, x, c):
        """§4 E(c) = Σlane(fl(r*r))."""
        q, _ = self.quants(x, c)
        r = self.residual(x, q, c)
        return self.lane_sum(_f(r * r))

    def better(self, e, best, k, best_c):
        """Searches (candidates k ascending) replace the best on a strict improvement:
        ties stay with the baseline, then with the smallest byte."""
        return e < best

    def prefix_sums(self, t):
        """§4.2 step 4: float64 prefix sums of the float32 squares, rounded to float32."""
        return np.cumsum(_f(t * t).astype(np.float64), axis=-1).astype(F32)

    def in_window(self, d, s_min, s_max):
        """§4.2 step 6: s_min <= dec[k] <= s_max."""
        return (s_min <= d) & (d <= s_max)

    def seed_window(self, x, e0):
        """§4.2 steps 1-5: (searching, s_min, s_max) per block."""
        n = x.shape[1]
        ax = np.abs(x)
        a = self.block_amax(x)
        energy = self.lane_sum(_f(x * x))
        searching = energy > e0
        with np.errstate(invalid="ignore"):
            s_min = _f(_f(a - np.sqrt(e0)) / F32(6.0))
        s_min = np.where(s_min < 0, F32(0.0), s_min)
        t = np.sort(ax, axis=1)
        k_star = (self.prefix_sums(t) <= e0[:, None]).sum(axis=1)
        searching &= k_star < n
        s_max = _f(F32(4.0) * t[np.arange(len(t)), np.minimum(k_star, n - 1)])
        return searching, s_min, s_max

    # --- §4.1, §4.2: naive and the SSE search
    def block_amax(self, x):
        """§3 a = max|x_i| over the block."""
        return np.abs(x).max(axis=1)

    def naive(self, x):
        return self.baseline_byte(self.block_amax(x))

    def optimal(self, x):
        c0 = self.naive(x)
        best_c, best_e = c0.copy(), self.sse(x, c0)
        if self.recipe == "seed":
            searching, s_min, s_max = self.seed_window(x, best_e)
            for k in range(1, 127):
                idx = np.nonzero(searching & self.in_window(_DEC[k], s_min, s_max))[0]
                self._try(x, idx, k, best_c, best_e, self.sse)
            return best_c
        for k in range(self.min_byte(), 127):
            self._try(x, np.arange(len(x)), k, best_c, best_e, self.sse)
        return best_c

    def _try(self, x, idx, k, best_c, best_e, err):
        if idx.size:
            e = err(x[idx], np.full(idx.size, k, np.uint8))
            win = self.better(e, best_e[idx], k, best_c[idx])
            best_c[idx[win]] = k
            best_e[idx[win]] = e[win]

    # --- §4.3: the Hessian search
    def matvec(self, M, v):
        """§4.3 the k-order float32 matrix-vector product M (N, n, n) @ v (N, n)."""
        return ref_matvec_korder(M, v)

    def hessian_error(self, x, c, H):
        """§4.3 seed mode EH(c) = Σlane(fl(r * MV(H, r)))."""
        q, _ = self.quants(x, c)
        r = self.residual(x, q, c)
        return self.lane_sum(_f(r * self.matvec(H, r)))

    def hessian_start_error(self, x, c0, H, e0):
        """§4.3 step 1: the best starts at (c0, EH(c0)), not at the SSE E0."""
        return self.hessian_error(x, c0, H)

    def clip_sse(self, x, c):
        s = self.effective_scale(self.dec(c))[:, None]
        cl = np.maximum(_f(np.abs(x) - _f(F32(6.0) * s)), F32(0.0))
        return self.lane_sum(_f(cl * cl))

    def fast_fail_passes(self, cl, best):
        """§4.3 step 4: evaluate k only if Cl(k) < fl(best * 10)."""
        return cl < _f(best * F32(10.0))

    def window_is_exact(self):
        return (self.recipe == "seed" or (self.recipe == "modelopt" and self.ts == 1)
                or (self.recipe == "compressed-tensors" and self.ts == 1))

    def widen(self):
        """§4.3 step 3: the window grows one byte each way unless the arithmetic is exact."""
        return 0 if self.window_is_exact() else 1

    def first_byte(self, u):
        """§4.3 first(u): the smallest byte k >= 1 with dec[k] >= u (0x7F if none)."""
        return np.searchsorted(_DEC[1:], u, side="left") + 1

    def last_byte(self, u):
        """§4.3 last(u): the largest byte k in 0..0x7E with dec[k] <= u."""
        return np.searchsorted(_DEC, u, side="right") - 1

    def hessian_window(self, s_min, s_max):
        """§4.3 step 3: [lo, hi] per block, as byte numbers."""
        if not self.window_is_exact():
            with np.errstate(all="ignore"):
                if self.recipe == "compressed-tensors":
                    s_min, s_max = _f(s_min * self.ts), _f(s_max * self.ts)
                else:
                    s_min, s_max = _f(s_min / self.ts), _f(s_max / self.ts)
        w = self.widen()
        lo = np.maximum(self.first_byte(s_min) - w, self.min_byte())
        hi = np.minimum(self.last_byte(s_max) + w, 126)
        return lo, hi

    def hessian_seed(self, x, H):
        c0 = self.naive(x)
        e0 = self.sse(x, c0)
        best_c, best_e = c0.copy(), self.hessian_start_error(x, c0, H, e0)
        searching, s_min, s_max = self.seed_window(x, e0)
        lo, hi = self.hessian_window(s_min, s_max)
        for k in range(1, 127):
            idx = np.nonzero(searching & (lo <= k) & (k <= hi))[0]
            if idx.size == 0:
                continue
            cl = self.clip_sse(x[idx], np.full(idx.size, k, np.uint8))
            idx = idx[self.fast_fail_passes(cl, best_e[idx])]
            self._try(x, idx, k, best_c, best_e, lambda xs, c: self.hessian_error(xs, c, H[idx]))
        return best_c

    def hessian_error64(self, x, dq, H64):
        """§4.3 exact mode EH64: r = fl64(x - dq), acc and tot in float64, in order."""
        r = x.astype(np.float64) - dq.astype(np.float64)
        n = r.shape[1]
        acc = np.zeros_like(r)
        for k in range(n):
            acc = acc + H64[:, :, k] * r[:, None, k]
        tot = np.zeros(len(r))
        for a in range(n):
            tot = tot + r[:, a] * acc[:, a]
        return tot

    def hessian_exact(self, x, H64):
        c0 = self.naive(x)
        best_c, best_e = c0.copy(), self.hessian_error64(x, self.quants(x, c0)[1], H64)
        for k in range(self.min_byte(), 127):
            idx = np.arange(len(x))
            self._try(x, idx, k, best_c, best_e, lambda xs, c: self.hessian_error64(xs, self.quants(xs, c)[1], H64))
        return best_c

    # --- §4.4: ADMM
    def project(self, w):
        """P(w): E2M1 at scale 1 with the tie and sign rules; NaN -> +0, +-inf -> +-6."""
        return self.signed(w, self.magnitude(np.abs(w)))

    def admm_weights(self, x, c):
        """§4.4 w = x scaled like §3.1's y, with its sign."""
        return self._scaled(x, self.dec(c)[:, None])

    def refit_value(self, c_eff):
        """§4.4 step 4: the refit effective scale in block-scale units."""
        with np.errstate(all="ignore"):
            if self.recipe == "seed":
                return c_eff
            if self.recipe == "compressed-tensors":
                return _f(c_eff * self.ts)
            return _f(c_eff / self.ts)

    def dual_update(self, u, qv, z):
        """§4.4 step 2: u = fl(fl(u + qv) - z)."""
        return _f(_f(u + qv) - z)

    def refit_byte(self, c_eff):
        """§4.4 step 4: v = max(refit value, fl(1e-12)), the floor, the cast, the zero byte."""
        v = np.maximum(self.refit_value(c_eff), F32(1e-12))
        return self.zero_byte(self.e4m3(self.value_rules(v)))

    def admm_result_byte(self, c_last_refit, c_of_quants):
        """§4.4: the returned scale is the last refit, even when z was computed at the
        previous byte (rounds ran out)."""
        return c_last_refit

    def admm_loop(self, x, c, Hn, Minv, H32, n_outer, n_inner):
        """§4.4 mode seed's loop from bytes c: (returned bytes, z), z None if n_outer = 0."""
        c = c.copy()
        c_used = c.copy()
        z_all = np.zeros_like(x) if n_outer else None
        active = np.ones(len(x), bool)
        with np.errstate(all="ignore"):
            for _ in range(n_outer):
                idx = np.nonzero(active)[0]
                if idx.size == 0:
                    break
                xs = x[idx]
                w = self.admm_weights(xs, c[idx])
                z = self.project(w)
                u = np.zeros_like(w)
                hw = self.matvec(Hn[idx], w)
                for _ in range(n_inner):
                    t = _f(hw + _f(z - u))
                    qv = self.matvec(Minv[idx], t)
                    z = self.project(_f(qv + u))
                    u = self.dual_update(u, qv, z)
                z_all[idx] = z
                c_used[idx] = c[idx]
                hq = self.matvec(H32[idx], z)
                num = self.lane_sum(_f(xs * hq))
                den = self.lane_sum(_f(z * hq))
                ok = (num > 0) & (den > F32(1e-12))
                c_new = self.refit_byte(_f(num / den))
                c_new = np.where(ok, c_new, c[idx]).astype(np.uint8)
                done = self.dec(c_new) == self.dec(c[idx])
                c[idx] = c_new
                active[idx[done]] = False
        return self.admm_result_byte(c, c_used), z_all

    def admm_takes(self, e_admm, e_start):
        """§4.4 mode best: the ADMM result only if strictly better."""
        return e_admm < e_start

    def admm_start(self, x, mode, H32):
        """§4.4: mode seed starts at c0, mode best at the exact Hessian search's byte."""
        return self.naive(x) if mode == "seed" else self.hessian_exact(x, H32.astype(np.float64))

    def admm(self, x, mode, H32, Hn, Minv, n_outer, n_inner):
        """(bytes, quants, dequant) of ADMM in ``mode``."""
        start = self.admm_start(x, mode, H32)
        q0, dq0 = self.quants(x, start)
        c, z = self.admm_loop(x, start, Hn, Minv, H32, n_outer, n_inner)
        if z is None:
            return start, q0, dq0
        dq = self.dequant(z, self.effective_scale(self.dec(c))[:, None])
        if mode == "seed":
            return c, z, dq
        H64 = H32.astype(np.float64)
        take = self.admm_takes(self.hessian_error64(x, dq, H64), self.hessian_error64(x, dq0, H64))
        c = np.where(take, c, start).astype(np.uint8)
        return c, np.where(take[:, None], z, q0), np.where(take[:, None], dq, dq0)

    # --- §5: byte layouts
    def pad_byte(self):
        """§5.3: padding of the swizzled buffer."""
        return 0

    def pack(self, codes):
        """§5.1: element 2i in the low nibble."""
        return (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)

    def swizzle_offset(self, m, k, n_kt):
        """§5.3 off(m, k)."""
        return ((m // 128) * n_kt + k // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + k % 4

    def swizzle(self, sb):
        M, Ks = sb.shape
        n_mt, n_kt = -(-M // 128), -(-Ks // 4)
        out = np.full(n_mt * n_kt * 512, self.pad_byte(), np.uint8)
        for m in range(M):
            for k in range(Ks):
                out[self.swizzle_offset(m, k, n_kt)] = sb[m, k]
        return out

    # --- a whole vector
    def tensor_amax(self, x):
        """§3: A = max|x| over the whole input."""
        return F32(np.abs(x).max()) if x.size else F32(0.0)

    # --- §4.6: GPTQ
    def gptq_scale_values(self, current, original):
        """The values a group's block scales are chosen from: as the sweep left them."""
        return current

    def gptq_scale_bytes(self, x, scales, H64_group):
        """The group's block bytes (naive, SSE search or exact Hessian search)."""
        if scales == "naive":
            return self.naive(x)
        if scales == "optimal":
            return self.optimal(x)
        return self.hessian_exact(x, np.repeat(H64_group[None], len(x), axis=0))

    def gptq_error(self, v, dq, ujj):
        """err = fl(fl(v - dq) / U_jj)."""
        return _f(_f(v - dq) / ujj)

    def gptq_update(self, w, err, u):
        """w_j' = fl(w_j' - fl(err * U_jj')), every later column of the rows."""
        return _f(w - _f(err[:, None] * u[None, :]))

    def gptq(self, W, block_size, scales, groups, U, H_groups):
        """§4.6 the sweep, column by column, given its operators (gptq_operators: the
        group order, U rounded to float32, the groups' diagonal blocks of H, in that
        order): the five outputs of a vector."""
        x2 = np.asarray(W).astype(F32)
        M, K = x2.shape
        bs = block_size
        nb = K // bs
        self.ts = self.tensor_scale(self.tensor_amax(x2))
        perm = (np.asarray(groups)[:, None] * bs + np.arange(bs)).reshape(-1)
        w = x2[:, perm].copy()
        U = _f(U)
        q_all, dq_all = np.zeros((M, K), F32), np.zeros((M, K), F32)
        sb = np.zeros((M, nb), np.uint8)
        for p in range(nb):
            cols = slice(p * bs, (p + 1) * bs)
            x = self.gptq_scale_values(w[:, cols].copy(), x2[:, perm][:, cols])
            c = self.gptq_scale_bytes(x, scales, np.asarray(H_groups[p], np.float64))
            sb[:, groups[p]] = c
            for t in range(bs):
                j = p * bs + t
                q, dq = self.quants(w[:, cols].copy(), c)  # column t at its value now
                q_all[:, j], dq_all[:, j] = q[:, t], dq[:, t]
                err = self.gptq_error(w[:, j], dq[:, t], U[j, j])
                w[:, j + 1:] = self.gptq_update(w[:, j + 1:], err, U[j, j + 1:])
        inv = np.argsort(perm)
        q_all, dq_all = q_all[:, inv], dq_all[:, inv]
        return {"codes": self.pack(self.encode(q_all)), "scale_bytes": sb,
                "scale_bytes_swizzled": self.swizzle(sb), "tensor_scale": np.array([self.ts], F32),
                "dequant": dq_all}

    # --- §4.8: 16x16 tiles
    def tile_amax(self, tiles):
        """§4.8 the tile amax A = max|x| over the 256 elements of each tile; tiles
        (R/16, 16, K/16, 16) -> (R/16, K/16)."""
        return np.abs(tiles).max(axis=(1, 3)).astype(F32)

    def tile_better(self, e, best):
        """§4.8 the tile search replaces the best on a strict improvement."""
        return e < best

    def tile_bytes(self, w, x, search):
        """§4.8 the tile bytes (R/16, K/16) of w (R, K), x its blocks of 16 (ts set)."""
        R, K = w.shape
        A = self.tile_amax(w.reshape(R // TILE, TILE, K // TILE, TILE))
        c0 = self.baseline_byte(A.reshape(-1)).reshape(A.shape).astype(np.uint8)
        best_c = c0.copy()
        if search:
            best_e = _tile_sum(self, x, w, c0)
            for k in range(self.min_byte(), 127):
                e = _tile_sum(self, x, w, np.full(c0.shape, k, np.uint8))
                win = self.tile_better(e, best_e)
                best_c[win] = k
                best_e[win] = e[win]
        return best_c

    def outputs(self, W, block_size, method, mode=None, H=None, Hn=None, Minv=None, n_outer=3, n_inner=10,
                gptq_groups=None, gptq_U=None, block_shape=None):
        """The five outputs of a golden vector (validation/SPEC.md §8) for input W (M, K)."""
        if block_shape is not None:  # §4.8: naive or the search over 16x16 tiles
            x2 = np.asarray(W).astype(F32)
            M, K = x2.shape
            x = x2.reshape(-1, TILE)
            self.ts = self.tensor_scale(self.tensor_amax(x2))
            sb = np.repeat(self.tile_bytes(x2, x, method == "optimal"), TILE, axis=0).astype(np.uint8)
            q, dq = self.quants(x, sb.reshape(-1))
            return {"codes": self.pack(self.encode(q).reshape(M, K)), "scale_bytes": sb,
                    "scale_bytes_swizzled": self.swizzle(sb), "tensor_scale": np.array([self.ts], F32),
                    "dequant": dq.reshape(M, K).astype(F32)}
        if method == "gptq":
            H64 = np.asarray(H, np.float64)
            idx = np.arange(H64.shape[0]).reshape(-1, block_size)[np.asarray(gptq_groups)]
            return self.gptq(W, block_size, mode, gptq_groups, gptq_U, H64[idx[:, :, None], idx[:, None, :]])
        x2 = np.asarray(W).astype(F32)
        M, K = x2.shape
        nb = K // block_size
        x = x2.reshape(-1, block_size)
        self.ts = self.tensor_scale(self.tensor_amax(x2))
        per_block = None if H is None else np.arange(len(x)) % nb
        if method == "naive":
            c = self.naive(x)
        elif method == "optimal":
            c = self.optimal(x)
        elif method == "hessian" and mode == "seed":
            c = self.hessian_seed(x, _f(H)[per_block])
        elif method == "hessian" and mode == "exact":
            c = self.hessian_exact(x, np.asarray(H, np.float64)[per_block])
        if method == "admm":
            c, q, dq = self.admm(x, mode, _f(H)[per_block], _f(Hn)[per_block], _f(Minv)[per_block], n_outer, n_inner)
        else:
            q, dq = self.quants(x, c)
        sb = c.reshape(M, nb).astype(np.uint8)
        return {
            "codes": self.pack(self.encode(q).reshape(M, K)),
            "scale_bytes": sb,
            "scale_bytes_swizzled": self.swizzle(sb),
            "tensor_scale": np.array([self.ts], F32),
            "dequant": dq.reshape(M, K).astype(F32),
        }


def ref_to_float32(a):
    """A weight as float32 and its max|x| the slow way: NumPy's astype, and the largest
    magnitude in float64 (0 when any value is NaN or Inf)."""
    w = np.asarray(a).astype(F32)
    with np.errstate(invalid="ignore"):
        mags = np.abs(w.astype(np.float64))
    return w, (F32(mags.max()) if w.size and np.isfinite(mags).all() else F32(0.0))


# --- 16x16 tile scales (nvfp4_np.tiles): one byte per 16x16 tile of a 2-D weight
TILE = 16


def _tile_setup(W, recipe, rounding, tensor_amax):
    """(SpecReference with its tensor scale set, W as float32 (R, K), the blocks (R*K/16, 16))."""
    ref = SpecReference(recipe, rounding)
    w = np.asarray(W).astype(F32)
    w = w.reshape(w.shape[0], -1)
    assert w.shape[0] % TILE == 0 and w.shape[1] % TILE == 0 and np.isfinite(w).all()
    A = ref.tensor_amax(w) if tensor_amax is None else F32(tensor_amax)
    ref.ts = ref.tensor_scale(A)
    return ref, w, w.reshape(-1, TILE)


def _tile_sum(ref, x, w, c_tiles):
    """E_tile(c) of every tile for the bytes c_tiles (R/16, K/16): the float32 block
    SSEs E(c) of its 16 blocks (rows 16 I + a, a = 0..15, of column block J), added in
    float64 in the order a = 0..15."""
    R, K = w.shape
    c_blocks = np.repeat(c_tiles, TILE, axis=0).reshape(-1).astype(np.uint8)  # block (m, j) -> tile (m // 16, j)
    e = ref.sse(x, c_blocks).astype(np.float64).reshape(R, K // TILE)
    total = np.zeros((R // TILE, K // TILE))
    for a in range(TILE):
        total = total + e[a::TILE, :]
    return total


def ref_tile_sse(W, recipe, scale_bytes, rounding=None, tensor_amax=None):
    """E_tile of the tile bytes read off ``scale_bytes`` (R, K/16) (row 16 I of each tile)."""
    ref, w, x = _tile_setup(W, recipe, rounding, tensor_amax)
    return _tile_sum(ref, x, w, np.asarray(scale_bytes)[::TILE, :])


def ref_tiles(W, recipe, search, rounding=None, tensor_amax=None):
    """16x16 tile scales of a weight W (R, K) (or its (R, K/16, 16) view), from the
    definition: the tile amax A = max|x| over its 256 elements; naive: the recipe's
    baseline byte c0 of A; search: the argmin of E_tile over c0 then the bytes
    min_byte..0x7E ascending, strict improvement (ties: c0, then the smallest byte).
    Every block of the tile is quantized with the tile's byte. Returns (scale_bytes
    (R, K/16) uint8, packed codes (R, K/16, 8) uint8)."""
    ref, w, x = _tile_setup(W, recipe, rounding, tensor_amax)
    R, K = w.shape
    sb = np.repeat(ref.tile_bytes(w, x, search), TILE, axis=0)  # every row of a tile carries its byte
    q, _ = ref.quants(x, sb.reshape(-1))
    return sb, ref.pack(ref.encode(q)).reshape(R, K // TILE, TILE // 2)


# --------------------------------------------------------------------------------------
# MX formats (docs/design/mx.md), written from torchao 0.18's to_mx, on float64 and
# Python integers; element formats from ml_dtypes.
# --------------------------------------------------------------------------------------

#: Per MX format: the ml_dtypes element type, its largest value and the exponent of its
#: largest power of two (torchao's *_MAX_POW2), its mantissa bits.
MX_ELEMENTS = {
    "mxfp4": (ml_dtypes.float4_e2m1fn, 6.0, 2, 1),
    "mxfp6_e2m3": (ml_dtypes.float6_e2m3fn, 7.5, 2, 3),
    "mxfp6_e3m2": (ml_dtypes.float6_e3m2fn, 28.0, 4, 2),
    "mxfp8_e4m3": (ml_dtypes.float8_e4m3fn, 448.0, 8, 3),
    "mxfp8_e5m2": (ml_dtypes.float8_e5m2, 57344.0, 15, 2),
}


def _floor_log2(a):
    """floor(log2 a) of a positive float, exactly (frexp: a = m 2^e, m in [0.5, 1))."""
    m, e = np.frexp(float(a))
    return int(e) - 1


def ref_e8m0_byte(amax, fmt, mode):
    """The E8M0 byte of a block with max|x| = amax (a float32 >= 0), by the definitions:
    floor: 2^(floor(log2 amax) - emax) (amax below 2^-126, zero included, counts as
    2^-127: torchao reads the exponent field); ceil: + 1 unless amax is a power of two
    (or zero); even: amax rounded half up to mbits + 1 significant bits, then floor;
    rceil: ceil(log2(fl32(amax / largest))) exactly (zero: -127). Clamped, + 127."""
    _, largest, emax, mbits = MX_ELEMENTS[fmt]
    amax = float(F32(amax))
    if mode == "rceil_cpu":  # torchao's CPU form: ceil of the float32 log2
        d = F32(F32(amax) / F32(largest))
        e = -127 if d == 0 else int(np.ceil(np.log2(np.float64(d)).astype(F32)))
        return max(-127, min(127, e)) + 127
    if mode == "rceil":
        d = float(F32(F32(amax) / F32(largest)))
        if d == 0:
            e = -127
        else:
            e = _floor_log2(d) + (0 if float(np.frexp(d)[0]) == 0.5 else 1)
        return max(-127, min(127, e)) + 127
    if amax < 2.0 ** -126:
        e, exact = -127, amax == 0
        if mode == "ceil" and not exact:
            e += 1
        if mode == "even":  # (the subnormal's bits plus half a place: the carry reaches 2^-126 or not)
            e = -126 if amax + 2.0 ** (-126 - mbits - 1) >= 2.0 ** -126 else -127
        return max(-127, min(128, e - emax)) + 127
    e = _floor_log2(amax)
    m = amax / 2.0 ** e  # in [1, 2), exact
    if mode == "ceil" and m != 1.0:
        e += 1
    if mode == "even" and np.floor(m * 2 ** mbits + 0.5) == 2 ** (mbits + 1):
        e += 1
    return max(-127, min(128, e - emax)) + 127


def ref_mx_quantize(x, fmt, mode):
    """(codes (R, C) uint8, one per element; E8M0 bytes (R, C / 32)) of the float32 (R, C)
    ``x`` as torchao's to_mx computes them: per block of 32 the byte (ref_e8m0_byte);
    floor, ceil, even divide the elements by max(2^(byte - 127), 2^-126); rceil
    multiplies them by 2^(127 - byte), by 1 for byte 0; then clamp to +-largest and
    ml_dtypes' cast (round to nearest even, the sign kept)."""
    dtype, largest, _, _ = MX_ELEMENTS[fmt]
    R, C = x.shape
    blocks = x.reshape(R, C // 32, 32).astype(np.float64)
    scales = np.zeros((R, C // 32), np.uint8)
    codes = np.zeros((R, C // 32, 32), np.uint8)
    for r in range(R):
        for b in range(C // 32):
            byte = ref_e8m0_byte(np.abs(blocks[r, b]).max(), fmt, mode)
            scales[r, b] = byte
            if mode in ("rceil", "rceil_cpu"):
                y = blocks[r, b] * (1.0 if byte == 0 else 2.0 ** (127 - byte))
            else:
                y = blocks[r, b] / max(2.0 ** (byte - 127), 2.0 ** -126)
            y = np.clip(y.astype(F32), -largest, largest)  # (exact: a power of two times a float32, in range)
            codes[r, b] = y.astype(dtype).view(np.uint8)
    return codes.reshape(R, C), scales


def ref_mx_search(x, fmt, H_blocks=None):
    """(codes (R, C), E8M0 bytes (R, C / 32)) of the float32 (R, C) ``x`` with each
    block's byte searched (MXReference.search: "optimal" over all 255 bytes, "hessian"
    over its traversal) and its elements cast at the exact multiplier 2^(127 - b)."""
    ref = MXReference(fmt)
    R, C = x.shape
    nb = C // 32
    scales = np.zeros((R, nb), np.uint8)
    codes = np.zeros((R, C), np.uint8)
    for r in range(R):
        for blk in range(nb):
            xb = np.asarray(x[r, blk * 32:(blk + 1) * 32], F32)
            b = ref.search(xb, None if H_blocks is None else H_blocks[blk])
            scales[r, blk] = b
            codes[r, blk * 32:(blk + 1) * 32] = ref.cast(ref.scaled(xb, 2.0 ** (127 - b)))
    return codes, scales


MX_FP6 = ("mxfp6_e2m3", "mxfp6_e3m2")


class MXReference:
    """validation/SPEC.md §9 (the MX formats), written from the definitions with NumPy,
    ml_dtypes and the functions above (ref_e8m0_byte); no nvfp4_np code. ``outputs(...)``
    computes an MX golden vector's outputs. Each rule is one method, so that a mutant
    (tests/mutants.py) overrides exactly one."""

    #: A byte whose decoded block overflows float32 has an infinite error (§9.4).
    overflow_is_infinite = True

    def __init__(self, fmt):
        self.fmt = fmt
        self.dtype, self.largest, self.emax, self.mbits = MX_ELEMENTS[fmt]

    # --- §9.2 the scale byte and the element multiplier
    def scale_byte(self, amax, mode):
        return ref_e8m0_byte(amax, self.fmt, mode)

    def multiplier(self, byte, mode):
        """The power of two (float64) the elements are multiplied by."""
        if mode.startswith("rceil"):  # rceil, rceil_cpu: byte 0 multiplies by 1
            return 1.0 if byte == 0 else 2.0 ** (127 - byte)
        return 2.0 ** min(127 - byte, 126)

    # --- §9.3 the elements
    def scaled(self, x, mult):
        """fl(x * mult): the float64 product of a float32 and a power of two is exact."""
        with np.errstate(over="ignore"):
            return (np.asarray(x, np.float64) * mult).astype(F32)

    def cast(self, y):
        """Nearest even, saturating at +-largest, the sign kept (ml_dtypes' cast after the clamp)."""
        y = np.clip(np.asarray(y, F32), F32(-self.largest), F32(self.largest))
        return y.astype(self.dtype).view(np.uint8)

    def values(self, codes):
        """The elements' values (float64) of codes."""
        return np.asarray(codes, np.uint8).view(self.dtype).astype(np.float64)

    # --- §9.4 the searched bytes
    def b_hi(self, amax):
        return next(b for b in range(255) if self.largest * 2.0 ** (b - 127) >= amax or b == 254)

    def search_order(self, b_hi):
        return [b_hi] + list(range(b_hi + 1, 255)) + list(range(b_hi - 1, -1, -1))

    def sse(self, res):
        """sum r_i^2 in element order, float64; res (..., 32)."""
        acc = np.zeros(res.shape[:-1])
        for i in range(res.shape[-1]):
            acc = acc + res[..., i] * res[..., i]
        return acc

    def rhr(self, res, H):
        """sum_a r_a * (sum_c H_ac r_c), both in index order, float64."""
        H = np.asarray(H, np.float64)
        acc = np.zeros(res.shape[:-1])
        for a in range(32):
            row = np.zeros(res.shape[:-1])
            for c in range(32):
                row = row + H[a, c] * res[..., c]
            acc = acc + res[..., a] * row
        return acc

    def better(self, err, best, b, best_b):
        return err < best

    def search(self, xb, H=None):
        """The searched byte of one block (float32 (32,)): every byte's error (infinite
        where the decode overflows float32); "optimal" (H None) the least over all 255,
        "hessian" the least over the bytes its traversal visits (visit_order); ties to
        the earlier in search_order."""
        amax = float(np.abs(xb).max())
        b_hi = self.b_hi(amax)
        bytes_ = np.arange(255)
        y = self.scaled(xb[None, :], 2.0 ** (127 - bytes_[:, None].astype(np.float64)))
        codes = self.cast(y)
        decoded = self.values(codes) * 2.0 ** (bytes_[:, None] - 127.0)
        res = xb.astype(np.float64)[None, :] - decoded
        errs = self.sse(res) if H is None else self.rhr(res, H)
        if self.overflow_is_infinite:
            errs = np.where(np.abs(decoded).max(-1) > float(np.finfo(F32).max), np.inf, errs)
        order = self.search_order(b_hi)
        if H is not None:  # (the bytes the traversal visits, in search_order's order)
            sign = int(np.array([-0.0], F32).astype(self.dtype).view(np.uint8)[0])  # (the sign bit)
            mags = codes & (sign - 1)
            visited = set(self.visit_order(b_hi, errs, (mags != 0).sum(-1),
                                           ((mags != self.top_code()) & (xb != 0)).sum(-1)))
            order = [b for b in order if b in visited]
        best_b = order[0]
        for b in order[1:]:
            if self.better(errs[b], errs[best_b], b, best_b):
                best_b = b
        return best_b

    def top_code(self):
        """The code of the largest value (its magnitude bits)."""
        return int(np.array([self.largest], F32).astype(self.dtype).view(np.uint8)[0])

    def visit_order(self, b_hi, errs, nonzero, unsaturated):
        """The Hessian search's bytes in visit order: b_hi; up to the first byte whose
        codes are all zero; down to the first byte that, like the byte above it,
        saturates every nonzero element and does not err less than it (or to 0)."""
        out = [b_hi]
        for b in range(b_hi + 1, 255):
            out.append(b)
            if nonzero[b] == 0:
                break
        prev_err, prev_sat = np.inf, False
        for b in range(b_hi - 1, -1, -1):
            out.append(b)
            sat = unsaturated[b] == 0
            if sat and prev_sat and not errs[b] < prev_err:
                break
            prev_err, prev_sat = errs[b], sat
        return out

    # --- §9.5 layouts
    def pack4(self, codes):
        """MXFP4: element 2i in the low nibble."""
        return (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)

    def pack6(self, codes):
        """FP6 four in three bytes: a little-endian bit stream (code k of a group in bits
        6k..6k+5 of the group's little-endian 24-bit word)."""
        g = codes.reshape(codes.shape[0], -1, 4).astype(np.uint32)
        w = g[..., 0] | (g[..., 1] << 6) | (g[..., 2] << 12) | (g[..., 3] << 18)
        return np.stack([w & 0xFF, (w >> 8) & 0xFF, w >> 16], axis=-1).reshape(codes.shape[0], -1).astype(np.uint8)

    def swizzle(self, sb):
        M, Ks = sb.shape
        n_kt = -(-Ks // 4)
        out = np.zeros(-(-M // 128) * n_kt * 512, np.uint8)
        for m in range(M):
            for k in range(Ks):
                out[((m // 128) * n_kt + k // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + k % 4] = sb[m, k]
        return out

    # --- a whole vector
    def outputs(self, x, method, scale_rounding=None, H=None):
        """The outputs of an MX vector: codes (MXTensor's layout), codes_packed (FP6),
        scale_bytes, scale_bytes_swizzled, dequant."""
        x = np.asarray(x, F32)
        R, C = x.shape
        nb = C // 32
        blocks = x.reshape(R, nb, 32)
        sb = np.zeros((R, nb), np.uint8)
        codes = np.zeros((R, nb, 32), np.uint8)
        for r in range(R):
            for j in range(nb):
                xb = blocks[r, j]
                if method == "naive":
                    b = self.scale_byte(float(np.abs(xb).max()), scale_rounding)
                    mult = self.multiplier(b, scale_rounding)
                else:
                    b = self.search(xb, None if method == "optimal" else H[j])
                    mult = 2.0 ** (127 - b)
                sb[r, j] = b
                codes[r, j] = self.cast(self.scaled(xb, mult))
        codes = codes.reshape(R, C)
        with np.errstate(over="ignore"):
            s = np.ldexp(F32(1), sb.astype(np.int32) - 127).astype(F32)
            dq = (self.values(codes).astype(F32).reshape(R, nb, 32) * s[:, :, None]).astype(F32).reshape(R, C)
        out = {"codes": self.pack4(codes) if self.fmt == "mxfp4" else codes, "scale_bytes": sb,
               "scale_bytes_swizzled": self.swizzle(sb), "dequant": dq}
        if self.fmt in MX_FP6:
            out["codes_packed"] = self.pack6(codes)
        return out
