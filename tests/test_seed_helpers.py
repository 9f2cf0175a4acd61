"""The seed's helpers on NumPy arrays (nvfp4_np.seed_helpers) against the references, bit for bit,
including signed zeros, NaN and s = 0 (SEED_BEHAVIOR.md section a)."""

import numpy as np
import pytest

from conftest import assert_bits_equal
from naive import (
    BOUNDARIES,
    CODEBOOK,
    ROUNDINGS,
    SCALES,
    bits,
    ref_fp4_quantize,
    ref_seed_sum,
    ref_sse,
)
import nvfp4_np
from nvfp4_np import compute_block_sse, fp4_dequantize, fp4_quantize, nvfp4_dequantize
from nvfp4_np.seed_helpers import seed_sum

F32 = np.float32


def boundary_blocks(rng, n, bs):
    """Blocks whose elements sit on, or a few ulps around, b_i * s for the block's E4M3
    scale s (where the division-based decision is a tie or nearly one)."""
    s = SCALES[rng.integers(0, SCALES.size, n)]
    b = np.concatenate([BOUNDARIES, CODEBOOK])[rng.integers(0, 15, (n, bs))]
    centers = (b * s[:, None]).astype(F32)
    off = rng.integers(-3, 4, (n, bs)) * (rng.random((n, bs)) < 0.5)
    x = (centers.view(np.uint32).astype(np.int64) + off).astype(np.uint32).view(F32)
    x = x * rng.choice(np.array([-1, 1], F32), (n, bs))
    return x.astype(F32), s


@pytest.fixture(scope="module")
def mixed_blocks():
    rng = np.random.default_rng(7)
    out = []
    for bs in (16, 32):
        g = rng.standard_normal((300, bs)).astype(F32) * F32(10.0) ** rng.uniform(-3, 3, (300, 1)).astype(F32)
        xb, sb = boundary_blocks(rng, 300, bs)
        s_g = rng.choice(SCALES, 300)
        s_any = (np.abs(g).max(1) / F32(6)).astype(F32)  # arbitrary float32 scales
        out.append((bs, np.concatenate([g, xb, g]), np.concatenate([s_g, sb, s_any]).astype(F32)))
    return out


# ------------------------------------------------------------------------ fp4_quantize


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fp4_quantize_matches_reference(mixed_blocks, rounding):
    for bs, x, s in mixed_blocks:
        got = fp4_quantize(x, s[:, None], rounding)
        assert_bits_equal(got, ref_fp4_quantize(x, s[:, None], rounding), f"quants bs={bs}")


def test_fp4_quantize_default_rounding_is_seed(mixed_blocks):
    bs, x, s = mixed_blocks[0]
    assert_bits_equal(fp4_quantize(x, s[:, None]), ref_fp4_quantize(x, s[:, None], "seed"), "default")


# SEED_BEHAVIOR.md section a, s = 1: y, seed(+), seed(-), RNE
BOUNDARY_TABLE = [
    (0.25, 0.0, -0.0, 0.0),
    (0.75, 0.5, -0.5, 1.0),
    (1.25, 1.0, -1.0, 1.0),
    (1.75, 1.5, -1.5, 2.0),
    (2.5, 2.0, -2.0, 2.0),
    (3.5, 3.0, -3.0, 4.0),
    (5.0, 4.0, -4.0, 4.0),
]


@pytest.mark.parametrize("y, pos, neg, rne", BOUNDARY_TABLE)
def test_fp4_quantize_boundary_table(y, pos, neg, rne):
    x = np.array([y, -y], F32)
    assert_bits_equal(fp4_quantize(x, F32(1.0)), np.array([pos, neg], F32), "seed")
    assert_bits_equal(fp4_quantize(x, F32(1.0), "rne"), np.array([rne, -rne], F32), "rne")
    # the same decisions at any E4M3 scale (b * s exact)
    for s in (SCALES[0], F32(0.75), SCALES[-1]):
        assert_bits_equal(fp4_quantize(x * s, s), np.array([pos, neg], F32), f"seed s={s}")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fp4_quantize_signed_zeros_nan_inf(rounding):
    x = np.array([0.0, -0.0, -1e-6, 1e-6, np.nan, -np.nan, np.inf, -np.inf, 7.0, -7.0], F32)
    expected = np.array([0.0, 0.0, -0.0, 0.0, 0.0, 0.0, 6.0, -6.0, 6.0, -6.0], F32)
    got = fp4_quantize(x, F32(1.0), rounding)
    assert_bits_equal(got, expected, "quants")
    assert_bits_equal(got, ref_fp4_quantize(x, F32(1.0), rounding), "quants vs reference")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fp4_quantize_zero_and_nan_scale(rounding):
    x = np.array([0.0, -0.0, 1e-45, -1e-45, 0.3, -2.0, np.nan], F32)
    # s = 0: |x| / 0 = inf -> 6 for nonzero x; 0 / 0 = NaN -> bucket 7 but sign 0 -> +0.0
    expected = np.array([0.0, 0.0, 6.0, -6.0, 6.0, -6.0, 0.0], F32)
    assert_bits_equal(fp4_quantize(x, F32(0.0), rounding), expected, "s=0")
    assert_bits_equal(fp4_quantize(x, F32(0.0), rounding), ref_fp4_quantize(x, F32(0.0), rounding), "s=0 ref")
    # s = NaN: every quotient is NaN -> bucket 7
    expected_nan = np.array([0.0, 0.0, 6.0, -6.0, 6.0, -6.0, 0.0], F32)
    assert_bits_equal(fp4_quantize(x, F32(np.nan), rounding), expected_nan, "s=NaN")


def test_fp4_quantize_broadcasts_and_returns_float32():
    x = np.linspace(-7, 7, 64, dtype=np.float64).reshape(4, 16)
    s = np.array([[0.5], [1.0], [2.0], [0.25]])
    got = fp4_quantize(x, s)
    assert got.dtype == F32 and got.shape == (4, 16)
    assert_bits_equal(got, ref_fp4_quantize(x.astype(F32), s.astype(F32)), "broadcast")


def test_fp4_quantize_rejects_integer_input_and_bad_rounding():
    with pytest.raises(TypeError):
        fp4_quantize(np.arange(16), F32(1.0))
    with pytest.raises(ValueError, match="rounding"):
        fp4_quantize(np.ones(16, F32), F32(1.0), "toward_zero")


# ---------------------------------------------------------------------- fp4_dequantize


def test_fp4_dequantize_is_float32_product_with_signed_zeros():
    q = np.array([0.0, -0.0, 6.0, -6.0, 0.5, -4.0], F32)
    s = np.array([2.0, 2.0, 0.0, 0.0, 448.0, np.nan], F32)
    expected = np.array([0.0, -0.0, 0.0, -0.0, 224.0, np.nan], F32)
    got = fp4_dequantize(q, s)
    assert got.dtype == F32
    assert_bits_equal(got[:5], expected[:5], "dequant")
    assert np.isnan(got[5])


def test_fp4_dequantize_matches_product(mixed_blocks):
    for bs, x, s in mixed_blocks:
        q = ref_fp4_quantize(x, s[:, None])
        assert_bits_equal(fp4_dequantize(q, s[:, None]), q * s[:, None], f"dequant bs={bs}")


# ------------------------------------------------------------------- compute_block_sse


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_compute_block_sse_matches_reference(mixed_blocks, rounding):
    for bs, x, s in mixed_blocks:
        expected = ref_sse(x, s, rounding)
        assert_bits_equal(compute_block_sse(x, s, rounding), expected, f"sse (N,) bs={bs}")
        assert_bits_equal(compute_block_sse(x, s[:, None], rounding), expected, f"sse (N,1) bs={bs}")


def test_compute_block_sse_edge_values():
    x = np.zeros((4, 16), F32)
    x[0, :3] = [0.3, -0.2, 0.1]
    x[1, 5] = np.nan
    x[2, :] = -0.0
    x[3, :8] = CODEBOOK * F32(0.5)
    x[3, 8:10] = [3.5, -4.0]
    s = np.array([0.0, 1.0, 1.0, 0.5], F32)
    got = compute_block_sse(x, s)
    # s = 0: everything dequantizes to 0, the error is the energy (seed order)
    assert got[0] == ref_seed_sum(x[0] * x[0])
    assert np.isnan(got[1])  # NaN element: quant 0, error NaN
    assert bits(got[2]) == 0
    # codebook values times s are exact; 3.5 and -4 clip to +-6 * 0.5: 0.5^2 + 1^2
    assert got[3] == 1.25
    assert got[3] == ref_sse(x[3:4], s[3:4])[0]


# -------------------------------------------------------------------------- seed_sum


def test_seed_sum_matches_reference():
    rng = np.random.default_rng(3)
    for bs in (16, 32):
        v = (rng.standard_normal((2000, bs)) * F32(10.0) ** rng.uniform(-5, 5, (2000, bs))).astype(F32)
        assert_bits_equal(seed_sum(v), ref_seed_sum(v), f"seed_sum bs={bs}")
        assert_bits_equal(seed_sum(v.reshape(40, 50, bs)), ref_seed_sum(v).reshape(40, 50), "N-D")


def test_seed_sum_order_is_lanes_then_left_to_right():
    v = np.zeros(16, F32)
    v[0] = 2.0**24
    v[1:8] = 1.0
    v[8] = -(2.0**24)
    # lane 0: 2^24 - 2^24 = 0, lanes 1..7: 1 each -> 7 (a sequential sum gives 0 or 2^24 + ...)
    assert seed_sum(v) == 7.0
    assert ref_seed_sum(v) == 7.0
    w = np.zeros(32, F32)
    w[[0, 8, 16, 24]] = [2.0**24, 1.0, 1.0, -(2.0**24)]
    # lane 0: ((2^24 + 1) + 1) - 2^24 = 0 in float32 (each +1 rounds to even)
    assert seed_sum(w) == 0.0 and ref_seed_sum(w) == 0.0


def test_seed_sum_rejects_other_lengths():
    with pytest.raises(ValueError):
        seed_sum(np.ones(8, F32))


# ------------------------------------------------------------------- nvfp4_dequantize


def test_nvfp4_dequantize_last_axis():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 16)).astype(F32)
    s = rng.choice(SCALES, (3, 5)).astype(F32)
    q = ref_fp4_quantize(x, s[..., None])
    got = nvfp4_dequantize(s, q)
    assert_bits_equal(got, q * s[..., None], "dequant")


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
def test_nvfp4_dequantize_any_dim(dim):
    rng = np.random.default_rng(6)
    shape = [4, 6, 8]
    shape[dim] = 16
    q = rng.choice(np.concatenate([CODEBOOK, -CODEBOOK]), shape).astype(F32)
    sshape = list(shape)
    del sshape[dim]
    s = rng.choice(SCALES, sshape).astype(F32)
    got = nvfp4_dequantize(s, q, dim=dim)
    assert_bits_equal(got, q * np.expand_dims(s, dim), f"dim={dim}")


def test_nvfp4_dequantize_signed_zeros():
    q = np.array([[-0.0, 0.0, -6.0, 6.0] * 4], F32)
    s = np.array([0.0], F32)
    expected = np.array([[-0.0, 0.0, -0.0, 0.0] * 4], F32)
    assert_bits_equal(nvfp4_dequantize(s, q), expected, "signed zeros")


def test_nvfp4_dequantize_1d_block_with_0d_scale():
    q = np.array([1.0, -0.5] * 8, F32)
    assert_bits_equal(nvfp4_dequantize(np.float32(0.25), q), q * F32(0.25), "1-D")


def test_nvfp4_dequantize_shape_errors():
    q = np.zeros((4, 16), F32)
    with pytest.raises(ValueError):
        nvfp4_dequantize(np.zeros(16, F32), q)  # scales for the wrong dim
    with pytest.raises(ValueError):
        nvfp4_dequantize(np.zeros((4, 1), F32), q)  # the seed's keepdim layout
    with pytest.raises(ValueError):
        nvfp4_dequantize(np.zeros(5, F32), q)
    with pytest.raises(ValueError):
        nvfp4_dequantize(np.zeros(4, F32), q, dim=2)  # dim out of range
    with pytest.raises(ValueError):
        nvfp4_dequantize(np.zeros(4, F32), q, dim=-3)
    with pytest.raises(ValueError):
        nvfp4_dequantize(np.zeros((), F32), np.zeros((), F32))  # 0-d quants
    with pytest.raises(TypeError):
        nvfp4_dequantize(np.zeros(4, F32), np.zeros((4, 16), np.int32))


def test_public_api_exports():
    for name in ("quantize", "NVFP4Tensor", "nvfp4_naive", "nvfp4_optimal", "nvfp4_dequantize",
                 "fp4_quantize", "fp4_dequantize", "compute_block_sse", "build_fp8_e4m3_scales"):
        assert name in nvfp4_np.__all__ and callable(getattr(nvfp4_np, name))
