"""Recipes: the two-level arithmetic of Transformer Engine, ModelOpt, torchao and
compressed-tensors, against the slow references in naive.py (written from the stacks'
sources), on every method."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_bits_equal
from datasets import mixed_blocks
from naive import (
    E4M3_ALL,
    RECIPE_MIN_BYTE,
    REF_RECIPES,
    ref_e4m3_cast,
    ref_fp4_decode,
    ref_recipe_exhaustive,
)
import nvfp4_np
from nvfp4_np import recipes

F32 = np.float32
TWO_LEVEL = sorted(REF_RECIPES)
# TE's block-scale underflow is part of the rule these tests exercise (and is checked by
# its own test with pytest.warns).
pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


def byte_of(scales):
    """E4M3 bytes of the float32 scales the methods return (positive values)."""
    return ref_e4m3_cast(np.asarray(scales, F32))


def codes_of(quants):
    """E2M1 codes of float32 quants (sign bit of the float, so -0.0 is 0x8)."""
    q = np.asarray(quants, F32)
    mag = np.abs(q)
    idx = np.searchsorted(np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], F32), mag)
    return (idx | (np.signbit(q).astype(np.uint8) << 3)).astype(np.uint8)


def edge_tensor(bs):
    """One tensor whose blocks hit every rule: zeros, -0.0, tiny blocks far below the
    tensor's amax (TE underflow, ModelOpt/torchao floors, compressed-tensors' 0.125),
    huge blocks, exact E2M1 ties at the tensor scale of 1 (amax 2688), subnormal scales."""
    rows = []
    z = np.zeros(bs, F32)
    rows.append(z)
    negz = z.copy()
    negz[::2] = -0.0
    negz[1] = -1e-30
    rows.append(negz)
    base = np.linspace(-1, 1, bs).astype(F32)
    for mag in (1e-9, 1e-7, 1e-5, 1e-3, 0.05, 1.0, 300.0, 2688.0):
        rows.append((base * F32(mag)).astype(F32))
    ties = np.array([6 * 448, 0.25 * 448, 0.75 * 448, 1.25 * 448, 1.75 * 448, 2.5 * 448, 3.5 * 448,
                     5 * 448] * (bs // 8), F32)
    ties[1::2] *= -1
    ties[0] = 2688.0
    rows.append(ties)
    rows.append(np.array([2688.0] + [448.0 * 0.75] * (bs - 1), F32))
    return np.stack(rows)


def tensors(rng, bs):
    yield "mixed", mixed_blocks(rng, 80, bs)
    yield "edges", edge_tensor(bs)
    ints = rng.integers(-12, 13, size=(400, bs)).astype(F32) * F32(2.0) ** rng.integers(-3, 4, (400, 1))
    yield "integer-ties", ints.astype(F32)


@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_naive_equals_reference(recipe, bs, rng):
    for name, x in tensors(rng, bs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # TE underflow is part of the rule
            s, q, dq, ts = nvfp4_np.nvfp4_naive(x, return_dequant=True, recipe=recipe)
        sb, codes, ts_ref, dq_ref = REF_RECIPES[recipe](x)
        assert_bits_equal(ts, ts_ref, f"{recipe} {name} tensor scale")
        assert np.array_equal(byte_of(s), sb), f"{recipe} {name} scale bytes"
        assert np.array_equal(codes_of(q), codes), f"{recipe} {name} codes"
        assert_bits_equal(dq, dq_ref, f"{recipe} {name} dequant")
        t = nvfp4_np.quantize(x, bs, "naive", recipe=recipe)
        assert np.array_equal(t.scale_bytes[:, 0], sb) and np.array_equal(nvfp4_np.unpack_fp4(t.codes), codes)
        assert_bits_equal(t.dequantize(), dq_ref, f"{recipe} {name} NVFP4Tensor dequant")


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_optimal_is_the_exhaustive_argmin(recipe, rng):
    """>= 10^4 blocks per recipe over both block sizes: the search equals the argmin over
    every candidate byte with the stated tie rule."""
    total = 0
    for bs in (16, 32):
        for name, x in tensors(rng, bs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                s, q, dq, ts = nvfp4_np.nvfp4_optimal(x, return_dequant=True, recipe=recipe)
            best_b, best_e, _ = ref_recipe_exhaustive(x, recipe)
            got = byte_of(s)
            bad = np.nonzero(got != best_b)[0]
            assert bad.size == 0, f"{recipe} bs={bs} {name}: block {bad[:5]} bytes {got[bad[:5]]} vs {best_b[bad[:5]]}"
            _, codes, _, dq_ref = REF_RECIPES[recipe](x, codes_for=best_b)
            assert np.array_equal(codes_of(q), codes)
            assert_bits_equal(dq, dq_ref, f"{recipe} {name} dequant")
            total += len(x)
    assert total >= 1000


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_optimal_exhaustive_on_many_random_blocks(recipe):
    rng = np.random.default_rng(7)
    x = mixed_blocks(rng, 1700, 16)  # 10,200 blocks
    s = nvfp4_np.nvfp4_optimal(x, recipe=recipe)[0]
    best_b, _, _ = ref_recipe_exhaustive(x, recipe)
    assert np.array_equal(byte_of(s), best_b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3e4, 3e4, width=32, allow_subnormal=True), min_size=16, max_size=16),
       st.sampled_from(TWO_LEVEL), st.floats(0, 1e6, width=32))
def test_optimal_exhaustive_property(values, recipe, extra_amax):
    x = np.array(values, F32)[None]
    amax = max(float(np.abs(x).max()), extra_amax)  # the block is a slice of a larger tensor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = nvfp4_np.nvfp4_optimal(x, recipe=recipe, tensor_amax=amax)[0]
    best_b, _, _ = ref_recipe_exhaustive(x, recipe, tensor_amax=amax)
    assert np.array_equal(byte_of(s), best_b)


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_optimal_never_worse_than_naive_and_candidates_respect_floor(recipe, rng):
    x = mixed_blocks(rng, 200, 16)
    _, _, dq_n, _ = nvfp4_np.nvfp4_naive(x, return_dequant=True, recipe=recipe)
    s, _, dq_o, _ = nvfp4_np.nvfp4_optimal(x, return_dequant=True, recipe=recipe)
    sse = lambda dq: ((x.astype(np.float64) - dq) ** 2).sum()  # noqa: E731
    assert sse(dq_o) <= sse(dq_n)
    assert byte_of(s).min() >= RECIPE_MIN_BYTE[recipe]


def test_recipe_signed_zero_rules():
    x = np.zeros((1, 16), F32)
    x[0, 0] = 1.0
    x[0, 1] = -0.0
    x[0, 2] = -1e-6  # rounds to 0 in every recipe
    for recipe, neg_zero_code in (("te", 0), ("modelopt", 0), ("torchao", 8), ("compressed-tensors", 0),
                                  ("seed", 0)):
        t = nvfp4_np.quantize(x, 16, "naive", recipe=recipe)
        c = nvfp4_np.unpack_fp4(t.codes)[0]
        assert c[1] == neg_zero_code, recipe
        assert c[2] == 8, recipe  # a negative that rounds to 0 keeps its sign in every recipe
        assert c[3] == 0, recipe


def test_zero_tensor_is_finite_in_every_recipe():
    x = np.zeros((3, 32), F32)
    for recipe in recipes.BLOCK_RECIPES:
        t = nvfp4_np.quantize(x, 16, "optimal", recipe=recipe)
        assert np.isfinite(t.tensor_scale)
        dq = t.dequantize()
        assert np.all(dq == 0)
    # compressed-tensors: gs = 1.0 and every scale byte 0x20, as the library does
    t = nvfp4_np.quantize(x, 16, recipe="compressed-tensors")
    assert t.tensor_scale == 1.0 and np.all(t.scale_bytes == 0x20)
    assert np.all(nvfp4_np.quantize(x, 16, recipe="modelopt").scale_bytes == 0x38)  # zero block -> 1.0
    assert np.all(nvfp4_np.quantize(x, 16, recipe="torchao").scale_bytes == 0x08)  # floor 2^-6


def test_te_underflow_warns_and_gives_scale_zero():
    x = np.zeros((2, 16), F32)
    x[0, 0] = 1e6
    x[1, :] = 1e-3  # 1e-3 * 2688 / 1e6 / 6 << 2^-10: the block scale underflows
    with pytest.warns(RuntimeWarning, match="1 block.*underflows to 0.*'te'"):
        s, q, dq, ts = nvfp4_np.nvfp4_naive(x, return_dequant=True, recipe="te")
    assert s[1] == 0 and np.all(np.abs(q[1]) == 6) and np.all(dq[1] == 0)


def test_tensor_amax_makes_slices_equal_to_the_whole(rng):
    W = (rng.standard_normal((64, 128)) * 10.0 ** rng.uniform(-2, 2, (64, 1))).astype(F32)
    for recipe in TWO_LEVEL:
        whole = nvfp4_np.quantize(W, 16, "optimal", recipe=recipe)
        amax = np.abs(W).max()
        parts = [nvfp4_np.quantize(W[i:i + 16], 16, "optimal", recipe=recipe, tensor_amax=amax)
                 for i in range(0, 64, 16)]
        assert np.array_equal(np.concatenate([p.codes for p in parts]), whole.codes)
        assert np.array_equal(np.concatenate([p.scale_bytes for p in parts]), whole.scale_bytes)
        assert all(p.tensor_scale == whole.tensor_scale for p in parts)


def amax_calls(recipe):
    """Every method (and quantize with it) on W with max|W| = 3, as functions of the
    keyword arguments (tensor_amax) and the outputs that must equal."""
    rng = np.random.default_rng(3)
    W = rng.uniform(-2, 2, (8, 64)).astype(F32)
    W[3, 17] = -3.0
    X = rng.standard_normal((32, 64)).astype(F32)
    H = nvfp4_np.block_hessians(X, 16)
    W3 = W.reshape(8, 4, 16)
    calls = {
        "naive": lambda **kw: nvfp4_np.nvfp4_naive(W3, recipe=recipe, **kw),
        "optimal": lambda **kw: nvfp4_np.nvfp4_optimal(W3, recipe=recipe, **kw),
        "hessian seed": lambda **kw: nvfp4_np.nvfp4_optimal_hessian(W3, X=X, recipe=recipe, **kw),
        "hessian exact": lambda **kw: nvfp4_np.nvfp4_optimal_hessian(W3, H_blocks=H, mode="exact", recipe=recipe,
                                                                    **kw),
        "admm seed": lambda **kw: nvfp4_np.nvfp4_admm(W3, X=X, recipe=recipe, **kw),
        "admm best": lambda **kw: nvfp4_np.nvfp4_admm(W3, H_blocks=H, mode="best", recipe=recipe, **kw),
    }
    for method in ("naive", "optimal", "hessian", "admm"):
        extra = {"X": X} if method in ("hessian", "admm") else {}
        calls[f"quantize {method}"] = lambda method=method, extra=extra, **kw: nvfp4_np.quantize(
            W, 16, method, recipe=recipe, **extra, **kw)
    return calls


def outputs(r):
    return (r.codes, r.scale_bytes, np.float32(r.tensor_scale)) if isinstance(r, nvfp4_np.NVFP4Tensor) else r


def same_bytes(got, want):
    got, want = [np.asarray(a) for a in got], [np.asarray(a) for a in want]
    return len(got) == len(want) and all(
        g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes() for g, w in zip(got, want))


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_tensor_amax_below_max_w_raises_in_every_method(recipe):
    for name, call in amax_calls(recipe).items():
        with pytest.raises(ValueError) as e:
            call(tensor_amax=2.5)
        assert str(e.value) == ("tensor_amax=2.5 is smaller than max|W| = 3.0 of the input; pass the amax of the "
                                "whole tensor this is a slice of"), name
        own = outputs(call())
        for equal in (3.0, np.float64(3.0), np.float32(3.0)):  # the input's own amax: the same bytes
            assert same_bytes(outputs(call(tensor_amax=equal)), own), name
        larger = outputs(call(tensor_amax=12.0))  # the slice-of-a-larger-tensor use
        assert larger[-1] != own[-1], name  # another tensor scale


def test_seed_recipe_ignores_tensor_amax():
    calls = amax_calls("seed")
    for name in ("naive", "quantize optimal", "quantize admm"):
        assert same_bytes(outputs(calls[name](tensor_amax=2.5)), outputs(calls[name]())), name


def test_rounding_override_and_bad_recipe():
    x = np.full((1, 16), 0.75 * 448 / 6, F32)  # every element scales to 0.75 * ... at s0
    x[0, 0] = 448.0
    a = nvfp4_np.nvfp4_naive(x, recipe="te", rounding="seed")
    b = nvfp4_np.nvfp4_naive(x, recipe="te")
    assert a[0] == b[0] and a[2] == b[2]
    with pytest.raises(ValueError, match="recipe must be one of"):
        nvfp4_np.nvfp4_naive(x, recipe="fbgemm")
    with pytest.raises(ValueError, match="rounding must be one of"):
        nvfp4_np.nvfp4_naive(x, recipe="te", rounding="up")
    with pytest.raises(ValueError, match="tensor_amax"):
        nvfp4_np.nvfp4_naive(x, recipe="te", tensor_amax=float("nan"))


def test_seed_recipe_returns_the_seed_tuple():
    x = np.ones((2, 16), F32)
    assert len(nvfp4_np.nvfp4_naive(x)) == 2
    assert len(nvfp4_np.nvfp4_naive(x, recipe="te")) == 3
    assert len(nvfp4_np.nvfp4_optimal(x, return_dequant=True, recipe="torchao")) == 4


def test_nvfp4_dequantize_with_tensor_scale(rng):
    x = mixed_blocks(rng, 20, 16)
    for recipe in TWO_LEVEL:
        s, q, dq, ts = nvfp4_np.nvfp4_optimal(x, return_dequant=True, recipe=recipe)
        assert_bits_equal(nvfp4_np.nvfp4_dequantize(s, q, tensor_scale=ts, recipe=recipe), dq, recipe)


def test_recipe_fp4_decode_matches_ml_dtypes():
    import ml_dtypes

    codes = np.arange(16, dtype=np.uint8)
    assert_bits_equal(ref_fp4_decode(codes), codes.view(ml_dtypes.float4_e2m1fn).astype(F32), "decode")
    assert E4M3_ALL[0x38] == 1.0 and E4M3_ALL[0x20] == 0.125 and E4M3_ALL[0x08] == 2.0**-6


# ----------------------------------------------------------------------------- Hessian / ADMM


def _hessian_case(rng, M=48, K=128, bs=16):
    X = rng.standard_normal((256, K)).astype(F32)
    X[:, 1:] += 0.6 * X[:, :-1]  # correlated columns
    W = (rng.standard_normal((M, K)) * 10.0 ** rng.uniform(-1.5, 1.5, (M, 1))).astype(F32)
    return W.reshape(M, K // bs, bs), nvfp4_np.block_hessians(X, bs, accumulate=np.float64)


def _hess_errors(W, H, recipe, sb, ts_amax=None):
    """float64 r^T H_j r of every block at scale bytes ``sb`` under a recipe."""
    M, ncb, bs = W.shape
    x = W.reshape(-1, bs)
    _, _, _, dq = REF_RECIPES[recipe](x, ts_amax, codes_for=sb.reshape(-1))
    r = (x.astype(np.float64) - dq.astype(np.float64)).reshape(M, ncb, bs)
    return np.einsum("mja,jab,mjb->mj", r, H, r).reshape(-1)


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_hessian_exact_equals_brute_force(recipe, rng):
    W, H = _hessian_case(rng)
    s, q, ts = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact", recipe=recipe)
    got = byte_of(s).reshape(-1)
    n = got.size
    b0 = REF_RECIPES[recipe](W.reshape(-1, 16))[0]
    e_best, b_best = _hess_errors(W, H, recipe, b0), b0.copy()
    for byte in range(RECIPE_MIN_BYTE[recipe], 127):
        e = _hess_errors(W, H, recipe, np.full(n, byte, np.uint8))
        better = e < e_best
        e_best, b_best = np.where(better, e, e_best), np.where(better, np.uint8(byte), b_best)
    e_got = _hess_errors(W, H, recipe, got)
    tol = 1e-12 * np.maximum(e_best, 1e-300)
    assert np.all(e_got <= e_best + tol), recipe
    assert (got != b_best).sum() <= 2, recipe  # only float64 near-ties (summation order) may differ


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_hessian_seed_mode_runs_and_beats_naive(recipe, rng):
    W, H = _hessian_case(rng)
    s, q, ts = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, recipe=recipe)
    e = _hess_errors(W, H, recipe, byte_of(s))
    e_naive = _hess_errors(W, H, recipe, REF_RECIPES[recipe](W.reshape(-1, 16))[0])
    assert e.sum() <= e_naive.sum()


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_admm_best_never_loses_under_recipes(recipe, rng):
    W, H = _hessian_case(rng)
    s_h, q_h, dq_h, ts_h = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact", recipe=recipe,
                                                          return_dequant=True)
    s, q, dq, ts, info = nvfp4_np.nvfp4_admm(W, H_blocks=H, mode="best", recipe=recipe, return_dequant=True,
                                             return_info=True)
    assert ts == ts_h
    bs = 16

    def errs(dq):
        r = (W.astype(np.float64) - dq.astype(np.float64))
        return np.einsum("mja,jab,mjb->mj", r, H, r).reshape(-1)

    e_h, e_a = errs(dq_h), errs(dq)
    assert np.all(e_a <= e_h * (1 + 1e-12) + 1e-300), recipe
    assert info["error"] <= info["hessian_error"]
    # the quants are E2M1 values and the dequant is q * effective scale of the recipe
    codes = codes_of(q.reshape(-1, bs))
    assert np.array_equal(ref_fp4_decode(codes), q.reshape(-1, bs)) or np.all(ref_fp4_decode(codes) == q.reshape(-1, bs))
    assert_bits_equal(nvfp4_np.nvfp4_dequantize(s, q, tensor_scale=ts, recipe=recipe), dq, "admm dequant")
    assert byte_of(s).min() >= RECIPE_MIN_BYTE[recipe]


@pytest.mark.parametrize("recipe", TWO_LEVEL)
def test_admm_seed_mode_under_recipe_is_deterministic_across_threads(recipe, rng):
    import numba

    W, H = _hessian_case(rng, M=32)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = nvfp4_np.nvfp4_admm(W, H_blocks=H, recipe=recipe, return_dequant=True)
        numba.set_num_threads(max(2, old))
        b = nvfp4_np.nvfp4_admm(W, H_blocks=H, recipe=recipe, return_dequant=True)
    finally:
        numba.set_num_threads(old)
    for u, v in zip(a, b):
        assert_bits_equal(u, v, recipe)
