"""Format tables, E4M3 snapping, E2M1 rounding and the kernels' FP4 projection, checked
against ml_dtypes and against the division-based decision of the seed."""

import ml_dtypes
import numba
import numpy as np
import pytest

from conftest import assert_bits_equal
from naive import (
    BOUNDARIES,
    CODEBOOK,
    E4M3_ALL,
    ROUNDINGS,
    SCALES,
    bits,
    ref_bucket,
    ref_e4m3_code,
    ref_snap_e4m3,
    ref_sse,
)
from nvfp4_np import build_fp8_e4m3_scales, formats, nvfp4_naive, recipes
from nvfp4_np._block import _e2m1_cmp, block_sse, code_sse, e2m1_index_cmp, thresholds

F32 = np.float32


def f32_from_bits(b):
    return np.asarray(b, dtype=np.uint32).view(F32)


def around(values, ulps):
    """Every float32 within +-ulps bit patterns of each non-negative value."""
    b = bits(np.asarray(values, dtype=F32)).astype(np.int64)
    b = (b[:, None] + np.arange(-ulps, ulps + 1)[None, :]).ravel()
    b = b[(b >= 0) & (b < 0x7F800000)]
    return f32_from_bits(np.unique(b).astype(np.uint32))


def ml_e4m3_clamped(v):
    """ml_dtypes' E4M3 cast after clamping to +-448 (torch 2.13's saturation)."""
    return np.clip(np.asarray(v, F32), -448, 448).astype(ml_dtypes.float8_e4m3fn)


# ----------------------------------------------------------------------------- tables


def test_e4m3_decode_matches_ml_dtypes_all_256_bytes():
    dec = formats.E4M3_DECODE
    assert dec.dtype == F32 and dec.shape == (256,)
    nan = np.isnan(E4M3_ALL)
    assert np.flatnonzero(nan).tolist() == [0x7F, 0xFF]
    assert np.array_equal(np.isnan(dec), nan)
    assert_bits_equal(dec[~nan], E4M3_ALL[~nan], "E4M3_DECODE")
    assert bits(dec[0x80]) == bits(F32(-0.0))


def test_e4m3_values_and_codes():
    codes = formats.E4M3_CODES
    assert codes.dtype == np.uint8
    assert codes.tolist() == list(range(1, 127))
    assert_bits_equal(formats.E4M3_VALUES, E4M3_ALL[codes], "E4M3_VALUES")
    # The seed's build_fp8_e4m3_scales: positive, non-NaN, unique, sorted.
    pos = E4M3_ALL[(E4M3_ALL > 0) & ~np.isnan(E4M3_ALL)]
    seed_scales = np.unique(pos)
    assert seed_scales.size == 126
    assert_bits_equal(formats.E4M3_VALUES, seed_scales, "E4M3_VALUES")
    assert formats.E4M3_VALUES[0] == 2.0**-9 and formats.E4M3_VALUES[-1] == 448.0


def test_build_fp8_e4m3_scales_is_a_fresh_copy():
    s = build_fp8_e4m3_scales()
    assert_bits_equal(s, SCALES, "build_fp8_e4m3_scales")
    s[:] = 0
    assert_bits_equal(build_fp8_e4m3_scales(), SCALES, "build_fp8_e4m3_scales after mutation")


def test_e2m1_values_match_ml_dtypes_all_16_codes():
    all16 = np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(F32)
    vals = formats.E2M1_VALUES
    assert vals.dtype == F32 and vals.shape == (8,)
    assert_bits_equal(vals, all16[:8], "E2M1_VALUES")
    assert_bits_equal(-vals, all16[8:], "negated E2M1_VALUES")  # includes -0.0 at code 8
    assert_bits_equal(formats.E2M1_BOUNDARIES, BOUNDARIES, "E2M1_BOUNDARIES")


# ------------------------------------------------------------------------ E4M3 snapping


@numba.njit
def _e4m3_codes(v):
    out = np.empty(v.size, np.uint8)
    for i in range(v.size):
        out[i] = formats.e4m3_code(v[i])
    return out


@pytest.fixture(scope="module")
def e4m3_sample():
    """Non-negative float32: every 97th bit pattern in [0, 600], +-2000 ulps around every
    E4M3 value and every midpoint of consecutive ones (464 included), and specials."""
    top = int(bits(F32(600.0)))
    dense = f32_from_bits(np.arange(0, top + 1, 97, dtype=np.uint32))
    grid = np.concatenate([E4M3_ALL[:127], [480.0]]).astype(F32)
    mids = ((grid[:-1].astype(np.float64) + grid[1:]) / 2).astype(F32)
    assert np.array_equal(mids.astype(np.float64), (grid[:-1].astype(np.float64) + grid[1:]) / 2)
    near = around(np.concatenate([grid, mids]), 2000)
    special = np.array(
        [0.0, 464.0, np.nextafter(F32(464), F32(np.inf)), np.nextafter(F32(464), F32(0)),
         448.0, 600.0, 1e30, 3.4e38, np.inf, np.nan, 2.0**-10, 1.5 * 2.0**-10,
         np.nextafter(F32(2.0**-10), F32(1)), 1e-12, 1e-45, 6 * 2.0**-10 / 6],
        dtype=F32,
    )
    return np.concatenate([dense, near, special]).astype(F32)


@pytest.fixture(scope="module")
def e4m3_focused(e4m3_sample):
    """The part of the sample near the E4M3 grid and its midpoints, plus every 7th of
    the dense part (the slow reference runs on this)."""
    n_dense = int(bits(F32(600.0))) // 97 + 1
    return np.concatenate([e4m3_sample[n_dense:], e4m3_sample[:n_dense:7]])


def test_e4m3_sample_is_dense(e4m3_sample, e4m3_focused):
    assert e4m3_sample.size > 10**7
    assert np.isnan(e4m3_sample).sum() == 1 and np.isinf(e4m3_sample).sum() == 1
    assert np.isnan(e4m3_focused).sum() == 1 and (e4m3_focused == 464).any()


def test_e4m3_code_matches_ml_dtypes(e4m3_sample):
    got = _e4m3_codes(e4m3_sample)
    expected = ml_e4m3_clamped(e4m3_sample).view(np.uint8)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (
        f"{bad.size} mismatches, e.g. v={e4m3_sample[bad[:5]]} code={got[bad[:5]]} "
        f"expected={expected[bad[:5]]}"
    )


def test_e4m3_code_matches_nearest_search_reference(e4m3_focused):
    got = _e4m3_codes(e4m3_focused)
    np.testing.assert_array_equal(got, ref_e4m3_code(e4m3_focused))


@pytest.mark.parametrize(
    "v, code",
    [
        (0.0, 0x00),
        (2.0**-10, 0x00),  # tie between 0 and 2^-9 goes to the even code 0
        (1.5 * 2.0**-10, 0x01),
        (2.0**-9, 0x01),
        (2.0**-6, 0x08),
        (1.0, 0x38),
        (448.0, 0x7E),
        (464.0, 0x7E),  # tie between 448 and 480 goes to the even mantissa (448)
        (480.0, 0x7E),  # saturates
        (np.inf, 0x7E),
        (np.nan, 0x7F),
    ],
)
def test_e4m3_code_callable_from_python(v, code):
    assert int(formats.e4m3_code(F32(v))) == code


def test_e4m3_code_just_above_464_saturates():
    assert int(formats.e4m3_code(np.nextafter(F32(464), F32(np.inf)))) == 0x7E


def test_snap_e4m3_matches_ml_dtypes(e4m3_sample):
    v = np.concatenate([e4m3_sample, -e4m3_sample])
    got = formats.snap_e4m3(v)
    assert got.dtype == F32 and got.shape == v.shape
    nan = np.isnan(v)
    assert np.array_equal(np.isnan(got), nan)
    expected = ml_e4m3_clamped(v).astype(F32)
    assert_bits_equal(got[~nan], expected[~nan], "snap_e4m3 vs ml_dtypes")


def test_snap_e4m3_matches_reference(e4m3_focused):
    v = np.concatenate([e4m3_focused, -e4m3_focused])
    got = formats.snap_e4m3(v)
    nan = np.isnan(v)
    assert np.array_equal(np.isnan(got), nan)
    assert_bits_equal(got[~nan], ref_snap_e4m3(v)[~nan], "snap_e4m3 vs reference")


def test_snap_e4m3_saturates_instead_of_nan():
    v = np.array([464.0, np.nextafter(F32(464), F32(np.inf)), 512.0, 1e4, np.inf, -np.inf,
                  -1e4, -0.0, 2.0**-10, -(2.0**-10)], dtype=F32)
    expected = np.array([448, 448, 448, 448, 448, -448, -448, -0.0, 0.0, -0.0], dtype=F32)
    assert_bits_equal(formats.snap_e4m3(v), expected, "snap_e4m3")


def test_seed_amax_examples_from_seed_behavior():
    # SEED_BEHAVIOR.md b: amax -> snap(amax / 6)
    amax = np.array([0.005859375, 0.0058593755, 2688, 2784, 2784.0002], dtype=F32)
    expected = np.array([0.0, 2.0**-9, 448, 448, 448], dtype=F32)
    assert_bits_equal(formats.snap_e4m3(amax / F32(6)), expected, "snap(amax/6)")


# ------------------------------------------------------------------------ E2M1 rounding


@pytest.fixture(scope="module")
def e2m1_sample():
    """float32 in [0, 8]: every 97th bit pattern, +-1000 ulps around the 7 boundaries,
    the boundaries themselves, and 6 and 8."""
    top = int(bits(F32(8.0)))
    dense = f32_from_bits(np.arange(0, top + 1, 97, dtype=np.uint32))
    near = around(BOUNDARIES, 1000)
    return np.unique(np.concatenate([dense, near, BOUNDARIES, np.array([6.0, 8.0], F32)]))


def test_round_e2m1_rne_matches_ml_dtypes(e2m1_sample):
    got = formats.round_e2m1(e2m1_sample, "rne")
    expected = e2m1_sample.astype(ml_dtypes.float4_e2m1fn).astype(F32)
    assert_bits_equal(got, expected, "round_e2m1 rne")


def test_round_e2m1_rne_at_boundaries():
    expected = BOUNDARIES.astype(ml_dtypes.float4_e2m1fn).astype(F32)
    assert_bits_equal(formats.round_e2m1(BOUNDARIES, "rne"), expected, "rne at boundaries")
    assert_bits_equal(expected, np.array([0, 1, 1, 2, 2, 4, 4], F32), "ml_dtypes at boundaries")


def test_round_e2m1_seed_differs_only_at_three_ties(e2m1_sample):
    seed = formats.round_e2m1(e2m1_sample, "seed")
    rne = formats.round_e2m1(e2m1_sample, "rne")
    diff = e2m1_sample[seed != rne]
    assert sorted(diff.tolist()) == [0.75, 1.75, 3.5]
    # ...and there the seed goes toward zero (the lower neighbour).
    assert_bits_equal(formats.round_e2m1(np.array([0.75, 1.75, 3.5], F32), "seed"),
                      np.array([0.5, 1.5, 3.0], F32), "seed ties")
    # every boundary is a tie toward zero for the seed
    assert_bits_equal(formats.round_e2m1(BOUNDARIES, "seed"), CODEBOOK[:-1], "seed at boundaries")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_round_e2m1_matches_reference(e2m1_sample, rounding):
    y = e2m1_sample[::7]
    assert_bits_equal(formats.round_e2m1(y, rounding), CODEBOOK[ref_bucket(y, rounding)],
                      f"round_e2m1 {rounding}")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_round_e2m1_saturation_and_nan(rounding):
    y = np.array([6.0, 6.5, 1e30, np.inf, np.nan], F32)
    assert_bits_equal(formats.round_e2m1(y, rounding), np.full(5, 6.0, F32), "saturation")


def test_unknown_rounding_raises():
    with pytest.raises(ValueError, match="rounding"):
        formats.round_e2m1(np.ones(3, F32), "nearest")
    with pytest.raises(ValueError, match="rounding"):
        formats.rounding_is_rne("up")


# ------------------------------------------- the kernels' projection fl(a/s) -> E2M1 value


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_projection_near_every_boundary_and_scale(rounding):
    """e2m1_round(fl(a / s)), the kernels' projection, equals the seed's bucketize for
    every positive scale, every boundary and every float32 a within +-300 ulps of b_i * s
    (the exact ties included)."""
    codes = np.arange(1, 127)
    s = E4M3_ALL[codes]  # (126,)
    centers = (s[:, None] * BOUNDARIES[None, :]).astype(F32)  # exact products
    cb = bits(centers).astype(np.int64)
    a = f32_from_bits((cb[..., None] + np.arange(-300, 301)).astype(np.uint32))  # (126, 7, 601)
    with np.errstate(over="ignore"):
        q = (a / s[:, None, None]).astype(F32)  # the seed's single float32 division
    assert_bits_equal(formats.round_e2m1(q, rounding), CODEBOOK[ref_bucket(q, rounding)], "projection")
    assert (a == centers[..., None]).sum() == 126 * 7  # the sample holds every exact tie


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_projection_subnormal_tiny_and_zero_scale(rounding):
    from nvfp4_np import recipes
    from nvfp4_np.recipes import fp4_project

    a = np.array([0.0, 1e-45, 1e-42, 2.0**-126, 2.0**-12, 2.0**-10, 0.3, 448.0, 3e38], F32)
    rc = recipes.params("seed", rounding, 0.0)

    def fp4_magnitude(v, s, rc):  # the seed recipe's element factor is the scale itself
        return fp4_project(v, s, rc)
    for s in list(E4M3_ALL[1:127]) + [F32(0.0)]:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            want = CODEBOOK[ref_bucket((a / F32(s)).astype(F32), rounding)]
        got = np.array([fp4_magnitude(v, F32(s), rc) for v in a], F32)
        assert_bits_equal(got, want, f"s={s}")
    # scale 0: a / 0 is inf (or NaN for a = 0), which the seed sends to 6
    assert fp4_magnitude(F32(1e-45), F32(0.0), rc) == 6.0


# ------------------------------- the kernels' comparison rounding (exact recipes: a vs b*s)


_E2M1 = formats.E2M1_VALUES.astype(np.float32)


@numba.njit(cache=True)
def _cmp_magnitudes(a, s, rne):
    """_e2m1_cmp of every a[i] against scale s[i] (the kernels' division-free rounding)."""
    out = np.empty(a.size, np.float32)
    for i in range(a.size):
        t = thresholds(s[i])
        out[i] = _e2m1_cmp(a[i], t, rne)
        if _E2M1[e2m1_index_cmp(a[i], t, rne)] != out[i]:  # the index form, for the packed codes
            out[i] = np.nan
    return out


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_comparison_rounding_near_every_boundary_and_scale(rounding):
    """Comparing |x| with b * s decides exactly as the seed's bucketize of fl(|x| / s),
    for every positive scale, every boundary and every float32 within +-300 ulps of
    b * s (the exact ties included), with either tie rule."""
    codes = np.arange(1, 127)
    s = E4M3_ALL[codes]
    centers = (s[:, None] * BOUNDARIES[None, :]).astype(F32)
    cb = bits(centers).astype(np.int64)
    a = f32_from_bits((cb[..., None] + np.arange(-300, 301)).astype(np.uint32))  # (126, 7, 601)
    ss = np.ascontiguousarray(np.broadcast_to(s[:, None, None], a.shape))
    with np.errstate(over="ignore"):
        want = CODEBOOK[ref_bucket((a / ss).astype(F32), rounding)]
    got = _cmp_magnitudes(a.ravel(), ss.ravel(), rounding == "rne").reshape(a.shape)
    assert_bits_equal(got, want, "comparison rounding")
    assert (a == centers[..., None]).sum() == 126 * 7  # every exact tie is in the sample


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_comparison_rounding_tiny_huge_and_zero_scale(rounding):
    """Subnormal, tiny and huge magnitudes at every scale; at scale 0 every a > 0 gives
    6 (a / 0 = inf). The one difference from division, a = 0 at scale 0 (0 / 0 gives 6,
    the comparisons 0, or 4 with the rne ties), is invisible: its dequant is 0 either way
    and its quant is 0 under the "x<0" sign rule, as the naive call below shows."""
    a = np.array([0.0, 1e-45, 1e-42, 2.0**-126, 2.0**-12, 2.0**-10, 0.3, 448.0, 2688.0, 3e38], F32)
    rne = rounding == "rne"
    for s in E4M3_ALL[1:127]:
        with np.errstate(over="ignore"):
            want = CODEBOOK[ref_bucket((a / s).astype(F32), rounding)]
        assert_bits_equal(_cmp_magnitudes(a, np.full(a.size, s, F32), rne), want, f"s={s}")
    got = _cmp_magnitudes(a, np.zeros(a.size, F32), rne)
    assert (got[1:] == 6).all()
    x = np.zeros(16, F32)
    x[:3] = [1e-4, -0.0, -1e-5]  # amax <= 6*2^-10: scale code 0
    with pytest.warns(RuntimeWarning):
        s, q = nvfp4_naive(x, rounding=rounding)
    assert s == 0 and bits(q[[1, 3]]).tolist() == [0, 0] and q[0] == 6 and q[2] == -6


@numba.njit(cache=True, error_model="numpy")  # (code 0 divides by 0, as the kernels do)
def _sse_both_ways(x, rc, dec):
    """(code_sse, block_sse at the same scale) of every block at every code 0..126."""
    n = x.shape[0]
    cmp = np.empty((n, 127), np.float32)
    div = np.empty((n, 127), np.float32)
    sq = np.empty(x.shape[1], np.float32)
    for b in range(n):
        for k in range(127):
            cmp[b, k] = code_sse(x, b, k, dec, rc, sq)
            div[b, k] = block_sse(x, b, dec[k], dec[k], rc, sq)
    return cmp, div


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_code_sse_equals_division_and_reference(bs, rounding):
    """The search's SSE by comparisons equals the division form and the seed's SSE
    (tests/naive.py) at every code, on mixed and edge blocks and on blocks of exact
    thresholds: code_sse leaves the tie rule out (a tie cannot change an SSE), the
    division form and the reference round ties by ``rounding``."""
    from datasets import edge_matrix, mixed_blocks, threshold_blocks

    rng = np.random.default_rng([bs, 11])
    x = np.concatenate([mixed_blocks(rng, 10, bs), edge_matrix(bs)[1],
                        threshold_blocks(rng, (1, 5, 7, 8, 20, 64, 100, 126), bs)])
    rc = recipes.params("seed", rounding, F32(0.0))
    assert rc.exact
    cmp, div = _sse_both_ways(x, rc, formats.E4M3_DECODE)
    assert_bits_equal(cmp, div, "comparison vs division SSE")
    for k in (1, 7, 8, 40, 64, 100, 126):
        with np.errstate(all="ignore"):
            want = ref_sse(x, np.full(len(x), E4M3_ALL[k], F32), rounding)
        assert_bits_equal(cmp[:, k], want, f"SSE at code {k}")
