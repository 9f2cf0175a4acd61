"""fouroversix 1.0.5's reference quantizer (fouroversix.quantize.pytorch.reference.
quantize_to_fp4) written independently in NumPy, from its source (docs/design/
four_over_six.md): the consumer's rule that nvfp4_np's Four Over Six will be held to.
tests/test_fouroversix_crosscheck.py compares it with the package where that is installed.

Every operation is float32 in the package's order; the error sums follow torch CPU's
``sum(dim=-1)`` order (lane_sum_torch).

Beyond the package (for nvfp4_np's golden vectors, validation/SPEC.md §4.7): the E4M3
bound ``scale_max`` of the tensor constant (the package: 256 for the 4/6 rules, 448 for
the static ones), a given ``tensor_amax``, the Hessian choice (``H``: per block or tile
the candidate of lower r^T H_j r, quadratic_error_ref) and ``_mutant`` (tests only: one
rule switched to a wrong one, see MUTANTS)."""

#: The wrong rules tests/mutants.py checks the golden vectors catch (one per name).
MUTANTS = (
    "sequential_sum",  # the error summed left to right instead of in torch's lane order
    "clamp_6",  # E2M1 magnitudes clamped at 6: no value 8 (code 0x8), TE's rule
    "ties_keep_4",  # err4 <= err6 picks 4
    "bmax_over_4",  # the 4 candidate's scale E4M3(fl(fl(bmax / 4) * c)) instead of fl(base * 1.5)
)

import ml_dtypes
import numpy as np

F32 = np.float32
RULES = ("mse", "mae", "abs_max", "static_6", "static_4")


def e4m3_torch(v):
    """torch 2.13's float32 -> float8_e4m3fn: round to nearest even, finite overflow and
    +-inf saturate to +-448, NaN stays NaN."""
    v = np.asarray(v, F32)
    return np.where(np.isnan(v), v, np.clip(v, -448, 448)).astype(ml_dtypes.float8_e4m3fn)


def lane_sum_torch(a):
    """torch CPU's float32 sum over the last axis (length a multiple of 8): 8-wide
    vectors, four accumulators over groups of four vectors, the rest into the first,
    the accumulators added in order, then the 8 lanes in order."""
    n_rows, n = a.shape
    vecs = a.reshape(n_rows, n // 8, 8)
    nv = n // 8
    groups = nv // 4
    acc = np.zeros((n_rows, 4, 8), F32)
    for i in range(groups):
        for k in range(4):
            acc[:, k] = acc[:, k] + vecs[:, 4 * i + k]
    total = acc[:, 0].copy()
    for i in range(groups * 4, nv):
        total = total + vecs[:, i]
    for k in range(1, 4):
        total = total + acc[:, k]
    s = np.zeros(n_rows, F32)
    for j in range(8):
        s = s + total[:, j]
    return s


def quadratic_error_ref(r, H):
    """r^T H_j r of each unit in float64: r (units, rows, 16) float32 signed errors, H
    (units, 16, 16); per row a, for i in order, r_a[i] * (sum over k in order of
    H[i, k] * r_a[k]), every sum sequential from 0, the rows added in order."""
    r = np.asarray(r, np.float64)
    H = np.asarray(H, np.float64)
    total = np.zeros(r.shape[0])
    for a in range(r.shape[1]):
        row = np.zeros(r.shape[0])
        for i in range(16):
            acc = np.zeros(r.shape[0])
            for k in range(16):
                acc = acc + H[:, i, k] * r[:, a, k]
            row = row + r[:, a, i] * acc
        total = total + row
    return total


def round_e2m1(x):
    """The package's E2M1 rounding: torch.round (half to even) on the grid's three
    spacings, the sign of x applied (a negative that rounds to 0 gives -0), no clamp at
    6 (values in [7, 9) give 8)."""
    ax = np.abs(x)
    fine = np.round(F32(2) * ax) / F32(2)
    unit = np.round(ax)
    coarse = F32(2) * np.round(ax / F32(2))
    lt2, lt4 = (ax < 2).astype(F32), (ax < 4).astype(F32)
    return np.sign(x) * ((fine * lt2 + unit * (1 - lt2) * lt4) + coarse * (1 - lt2) * (1 - lt4))


def scale_blocks(blocks, amax, vmax, smax, expand=None, _mutant=None):
    """(scaled elements, E4M3 scales) of one candidate: scale fl(fl(bmax / vmax) *
    fl(vmax * smax / amax)) (times ``expand``, rounded), cast; elements x * fl(1 /
    fl(decode * s)), 0 where the scale is 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if amax == 0:
            pre = np.zeros(blocks.shape[0], F32)
        elif expand is not None and _mutant == "bmax_over_4":
            pre = np.abs(blocks).max(axis=-1) / F32(vmax / expand) * (F32(vmax * smax) / amax)
        else:
            pre = np.abs(blocks).max(axis=-1) / F32(vmax) * (F32(vmax * smax) / amax)
        if expand is not None and _mutant != "bmax_over_4":
            pre = pre * F32(expand)
        s = e4m3_torch(pre)
        decode = F32(1) / (F32(vmax * smax) / amax)
        sf = s.astype(F32)[:, None]
        scaled = np.where(sf != 0, blocks * (F32(1) / (decode * sf)), F32(0)).astype(F32)
    return scaled, s


def codes_of(values):
    """The package's codes, from each value's bfloat16 bits: sign << 3 | (exponent - 126)
    << 1 | the mantissa's top bit (0.5 -> 1); 8.0 lands on 0x8 whatever its sign."""
    b = values.astype(ml_dtypes.bfloat16).view(np.int16).astype(np.int32)
    sign, exp, man = (b >> 15) & 1, (b >> 7) & 0xFF, b & 0x7F
    zero = (exp == 0) & (man == 0)
    man = (man >> 6) & 1
    man = np.where((exp == 126) & (man == 0), 1, man)
    exp = np.where(zero, 0, exp - 126)
    man = np.where(zero, 0, man)
    return (((sign << 3) | (exp << 1) | man) & 0xFFFF).astype(np.int16).astype(np.uint8)


def _sequential_sum(a):
    """(mutant) a left-to-right float32 sum over the last axis."""
    s = np.zeros(a.shape[0], F32)
    for j in range(a.shape[1]):
        s = s + a[:, j]
    return s


def quantize_to_fp4(x, rule="mse", block_scale_2d=False, scale_max=None, tensor_amax=None, H=None, _mutant=None):
    """(packed codes (R, C/2) uint8, scales (R, C/16) float8_e4m3fn, row-major, amax
    float32) of a 2-D float32 or bfloat16 array, as the package returns them (its
    scales swizzled: to_blocked). ``scale_max`` (256 or 448; None: the package's 256 for
    the 4/6 rules, 448 for the static ones), ``tensor_amax`` (default max|x|) and ``H``
    (block Hessians (C/16, 16, 16): the Hessian choice, ``rule`` then only sets the
    constants) go beyond the package."""
    if _mutant is not None and _mutant not in MUTANTS:
        raise ValueError(_mutant)
    R, C = x.shape
    amax = F32(np.abs(x).max().astype(F32)) if tensor_amax is None else F32(tensor_amax)
    if block_scale_2d:
        blocks = x.reshape(-1, 16, C // 16, 16).transpose(0, 2, 1, 3).reshape(-1, 256).astype(F32)
    else:
        blocks = x.reshape(-1, 16).astype(F32)
    static = rule in ("static_6", "static_4")
    smax = (448 if static else 256) if scale_max is None else scale_max
    if static and H is None:
        scaled, s = scale_blocks(blocks, amax, 6 if rule == "static_6" else 4, smax)
        q = round_e2m1(scaled)
        if _mutant == "clamp_6":
            q = np.clip(q, -6, 6)
    else:
        K = F32(6 * smax)
        scaled6, s6 = scale_blocks(blocks, amax, 6, smax)
        scaled4, s4 = scale_blocks(blocks, amax, 6, smax, 1.5, _mutant)
        q6, q4 = round_e2m1(scaled6), round_e2m1(scaled4)
        if _mutant == "clamp_6":
            q6, q4 = np.clip(q6, -6, 6), np.clip(q4, -6, 6)
        total = _sequential_sum if _mutant == "sequential_sum" else lane_sum_torch
        with np.errstate(over="ignore", invalid="ignore"):
            d6 = q6 * s6.astype(F32)[:, None] * amax / K
            d4 = q4 * s4.astype(F32)[:, None] * amax / K
            if H is not None:  # r^T H_j r, H_j of the unit's column block
                rows = 16 if block_scale_2d else 1
                Hj = np.asarray(H, np.float64)[np.arange(len(blocks)) % (C // 16)]
                r4, r6 = (d4 - blocks).reshape(-1, rows, 16), (d6 - blocks).reshape(-1, rows, 16)
                e4, e6 = quadratic_error_ref(r4, Hj), quadratic_error_ref(r6, Hj)
            elif rule == "abs_max":
                e4, e6 = np.abs(d4 - blocks).max(-1), np.abs(d6 - blocks).max(-1)
            elif rule == "mae":
                e4, e6 = total(np.abs(d4 - blocks)), total(np.abs(d6 - blocks))
            else:
                e4, e6 = total((d4 - blocks) * (d4 - blocks)), total((d6 - blocks) * (d6 - blocks))
        four = (e4 <= e6) if _mutant == "ties_keep_4" else (e4 < e6)  # strict: ties and NaN keep 6
        q, s = np.where(four[:, None], q4, q6), np.where(four, s4, s6)
    if block_scale_2d:
        q = q.reshape(-1, C // 16, 16, 16).transpose(0, 2, 1, 3)
        s = np.broadcast_to(s.reshape(1, R // 16, C // 16), (16, R // 16, C // 16)).transpose(1, 0, 2)
    c = codes_of(q.reshape(R, C).astype(F32))
    return ((c[:, 1::2] << 4) | c[:, 0::2]).astype(np.uint8), np.ascontiguousarray(s).reshape(R, C // 16), amax


def to_blocked(scales):
    """The 128x4 swizzle of (R, C/16) scales (R % 128 == 0, C/16 % 4 == 0), flat."""
    r, c = scales.shape
    return scales.reshape(r // 128, 128, c // 4, 4).transpose(0, 2, 1, 3).reshape(-1, 4, 32, 4).transpose(
        0, 2, 1, 3).reshape(-1)
