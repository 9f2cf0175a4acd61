"""nvfp4_np.quantize and NVFP4Tensor: blocks cut along an axis of a (..., K, ...) array."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import assert_bits_equal
from naive import ROUNDINGS, ref_naive, ref_optimal
import nvfp4_np
from nvfp4_np import NVFP4Tensor, nvfp4_dequantize, nvfp4_naive, nvfp4_optimal, quantize

F32 = np.float32

METHODS = {"naive": (nvfp4_naive, ref_naive), "optimal": (nvfp4_optimal, ref_optimal)}


def sample(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 2, shape)).astype(F32)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("bs", [16, 32])
def test_quantize_equals_method_on_reshaped_array(method, bs, rounding):
    fn, ref = METHODS[method]
    W = sample((6, 4 * bs), seed=bs)
    t = quantize(W, block_size=bs, method=method, rounding=rounding)
    assert isinstance(t, NVFP4Tensor)
    assert t.method == method and t.block_size == bs and t.axis == 1 and t.rounding == rounding
    assert t.scales.shape == (6, 4) and t.quants.shape == W.shape and t.shape == W.shape
    s, q = fn(W.reshape(6, 4, bs), rounding=rounding)
    assert_bits_equal(t.scales, s, "scales")
    assert_bits_equal(t.quants, q.reshape(W.shape), "quants")
    rs, rq = ref(W.reshape(-1, bs), rounding)
    assert_bits_equal(t.scales, rs.reshape(6, 4), "scales vs reference")
    assert_bits_equal(t.quants, rq.reshape(W.shape), "quants vs reference")


def test_quantize_defaults_are_block_16_optimal_seed():
    W = sample((3, 64), seed=1)
    t = quantize(W)
    assert (t.block_size, t.method, t.axis, t.rounding) == (16, "optimal", 1, "seed")
    s, q = nvfp4_optimal(W.reshape(3, 4, 16))
    assert_bits_equal(t.scales, s, "scales")
    assert_bits_equal(t.quants, q.reshape(3, 64), "quants")


@pytest.mark.parametrize("method", list(METHODS))
def test_quantize_nd_last_axis(method):
    fn, _ = METHODS[method]
    W = sample((2, 3, 48), seed=2)
    t = quantize(W, 16, method)
    s, q = fn(W.reshape(2, 3, 3, 16))
    assert t.scales.shape == (2, 3, 3)
    assert_bits_equal(t.scales, s, "scales")
    assert_bits_equal(t.quants, q.reshape(W.shape), "quants")


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("axis", [0, -2])
def test_quantize_axis0(method, axis):
    fn, _ = METHODS[method]
    W = sample((64, 5), seed=3)  # K = 64 along axis 0
    t = quantize(W, 16, method, axis=axis)
    assert t.axis == 0 and t.scales.shape == (4, 5) and t.quants.shape == (64, 5)
    s, q = fn(W.T.reshape(5, 4, 16))
    assert_bits_equal(t.scales, s.T, "scales")
    assert_bits_equal(t.quants, q.reshape(5, 64).T, "quants")
    # the same as quantizing the transpose along its last axis
    tt = quantize(W.T.copy(), 16, method)
    assert_bits_equal(t.scales, tt.scales.T, "scales vs transpose")
    assert_bits_equal(t.quants, tt.quants.T, "quants vs transpose")


def test_quantize_middle_axis_of_3d():
    W = sample((2, 32, 3), seed=4)
    t = quantize(W, 16, "naive", axis=1)
    assert t.scales.shape == (2, 2, 3)
    s, q = nvfp4_naive(np.moveaxis(W, 1, -1).reshape(2, 3, 2, 16))
    assert_bits_equal(t.scales, np.moveaxis(s, -1, 1), "scales")
    assert_bits_equal(t.quants, np.moveaxis(q.reshape(2, 3, 32), -1, 1), "quants")


def test_quantize_1d():
    W = sample((48,), seed=5)
    t = quantize(W, 16, "optimal")
    s, q = nvfp4_optimal(W.reshape(3, 16))
    assert t.scales.shape == (3,)
    assert_bits_equal(t.scales, s, "scales")
    assert_bits_equal(t.quants, q.reshape(48), "quants")


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("axis", [-1, 0])
def test_dequantize_equals_nvfp4_dequantize(method, axis):
    W = sample((32, 64), seed=6)
    t = quantize(W, 16, method, axis=axis)
    dq = t.dequantize()
    assert dq.dtype == F32 and dq.shape == W.shape
    a = t.axis
    qb = np.moveaxis(t.quants, a, -1).reshape(-1, 16)
    sb = np.moveaxis(t.scales, a, -1).reshape(-1)
    expected = np.moveaxis(nvfp4_dequantize(sb, qb).reshape(np.moveaxis(W, a, -1).shape), -1, a)
    assert_bits_equal(dq, expected, "dequantize")
    # and the dequant returned by the method itself
    _, _, mdq = METHODS[method][0](np.moveaxis(W, a, -1).reshape(-1, 16), return_dequant=True)
    assert_bits_equal(dq, np.moveaxis(mdq.reshape(np.moveaxis(W, a, -1).shape), -1, a), "method dequant")


def test_dequantize_keeps_signed_zeros():
    W = np.zeros((1, 32), F32)
    W[0, 0] = 3.0
    W[0, 1] = -1e-6  # rounds to -0.0
    W[0, 16:] = 1e-4  # underflow block: scale 0, dequant +0.0
    W[0, 17] = -1e-4  # -6 * 0 = -0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dq = quantize(W, 16, "naive").dequantize()
    assert np.signbit(dq[0, 1]) and dq[0, 1] == 0
    assert np.signbit(dq[0, 17]) and not np.signbit(dq[0, 16])


@pytest.mark.parametrize("K", [8, 24, 40, 17])
def test_k_not_multiple_of_block_raises(K):
    with pytest.raises(ValueError, match="multiple"):
        quantize(np.ones((2, K), F32), 16)


def test_k_multiple_of_16_but_not_32_raises_for_32():
    with pytest.raises(ValueError, match="multiple"):
        quantize(np.ones((2, 48), F32), 32)
    assert quantize(np.ones((2, 48), F32), 16).scales.shape == (2, 3)


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method"):
        quantize(np.ones((2, 32), F32), 16, method="no_such_method")


@pytest.mark.parametrize("bs", [8, 64, 0])
def test_bad_block_size_raises(bs):
    with pytest.raises(ValueError):
        quantize(np.ones((2, 64), F32), bs)


def test_bad_inputs():
    with pytest.raises(ValueError):
        quantize(np.float32(1.0))
    with pytest.raises(ValueError):
        quantize(np.ones((2, 32), F32), 16, axis=2)
    with pytest.raises(TypeError):
        quantize(np.ones((2, 32), np.int32), 16)
    with pytest.raises(ValueError, match="rounding"):
        quantize(np.ones((2, 32), F32), 16, rounding="nearest")


@pytest.mark.parametrize("bs", [np.int64(16), np.int32(16), np.uint8(16)])
def test_block_size_numpy_int_equals_python_int(bs):
    W = sample((4, 64), seed=3)
    t, want = quantize(W, bs), quantize(W, 16)
    assert type(t.block_size) is int and t.block_size == 16
    assert np.array_equal(t.codes, want.codes) and np.array_equal(t.scale_bytes, want.scale_bytes)
    assert NVFP4Tensor.from_dict(t.to_dict()).block_size == 16  # the metadata is JSON
    assert_bits_equal(nvfp4_np.block_hessians(W, bs), nvfp4_np.block_hessians(W, 16))


@pytest.mark.parametrize("bs, shown", [("16", "str '16'"), (16.0, "float 16.0"), (True, "bool True"),
                                       (np.float64(32), "float64 np.float64(32.0)")])
def test_block_size_of_another_type_raises_type_error(bs, shown):
    ones = np.ones((4, 64), F32)
    for call in (lambda: quantize(ones, bs), lambda: nvfp4_np.block_hessians(ones, bs)):
        with pytest.raises(TypeError) as e:
            call()
        assert str(e.value) == f"block_size must be an int (16 or 32), got {shown}"
    with pytest.raises(ValueError) as e:
        quantize(ones, 8)
    assert str(e.value) == "block_size must be 16 or 32, got 8"


# (shape, axis, block size, scale_bytes shape, swizzled_scales shape): every zero-size
# shape that is otherwise valid.
EMPTY = [((0, 256), -1, 16, (0, 16), (0, 64)), ((3, 0), -1, 16, (3, 0), (32, 0)),
         ((2, 0, 32), -1, 16, (2, 0, 2), (2, 0, 16)), ((0,), -1, 16, (0,), (32, 0)),
         ((4, 0, 3), 1, 32, (4, 3, 0), (4, 32, 0)), ((0, 16), 0, 16, (16, 0), (32, 0)),
         ((0, 64), -1, 32, (0, 2), (0, 16))]


@pytest.mark.parametrize("shape, axis, bs, sb_shape, sw_shape", EMPTY)
@pytest.mark.parametrize("recipe", ["seed", "te", "compressed-tensors"])
@pytest.mark.parametrize("method", ["naive", "optimal"])
def test_empty_input_round_trips(shape, axis, bs, sb_shape, sw_shape, recipe, method, tmp_path):
    t = quantize(np.zeros(shape, F32), bs, method, axis, recipe=recipe)
    assert t.codes.dtype == t.scale_bytes.dtype == np.uint8
    assert t.codes.shape == sb_shape[:-1] + (sb_shape[-1] * bs // 2,) and t.scale_bytes.shape == sb_shape
    assert t.tensor_scale == 1.0 and t.shape == shape
    dq = t.dequantize()
    assert dq.dtype == F32 and dq.shape == shape
    assert t.quants.shape == shape and t.scales.shape == np.moveaxis(np.empty(sb_shape), -1, t.axis).shape
    sw = t.swizzled_scales()
    assert sw.dtype == np.uint8 and sw.shape == sw_shape
    sb = t.scale_bytes[None] if t.scale_bytes.ndim == 1 else t.scale_bytes
    assert np.array_equal(nvfp4_np.unswizzle_scales(sw, sb.shape), sb)
    t.save(tmp_path / "t.npz")
    for back in (NVFP4Tensor.from_dict(t.to_dict()), NVFP4Tensor.load(tmp_path / "t.npz")):
        assert back.codes.shape == t.codes.shape and back.scale_bytes.shape == sb_shape
        assert (back.shape, back.block_size, back.axis, back.recipe) == (shape, bs, t.axis, recipe)
        assert back.dequantize().shape == shape


@pytest.mark.parametrize("method", ["hessian", "admm"])
def test_empty_input_round_trips_with_hessian_methods(method):
    X = np.random.default_rng(0).standard_normal((64, 256)).astype(F32)
    for kw in ({"X": X}, {"H_blocks": nvfp4_np.block_hessians(X, 16)}):
        t = quantize(np.zeros((0, 256), F32), 16, method, recipe="te", **kw)
        assert t.codes.shape == (0, 128) and t.scale_bytes.shape == (0, 16) and t.tensor_scale == 1.0
        assert t.dequantize().shape == (0, 256)


NO_GPU = ("device='cuda' found no CUDA GPU (numba.cuda.is_available() is False): install the NVIDIA driver and "
          "numba-cuda (pip install 'nvfp4_np[cuda]'), or set NUMBA_ENABLE_CUDASIM=1 to run the CUDA simulator")


def test_cuda_without_gpu_raises_before_any_work(monkeypatch):
    import numba.cuda

    from nvfp4_np import _gpu, core, gpu  # importing registers mul_rn for CUDA (it was a TypeError)

    monkeypatch.setattr(numba.cuda, "is_available", lambda: False)
    _gpu.cuda.cache_clear()
    try:
        W = sample((4, 64))
        X_bad = np.ones((8, 48), F32)  # does not match W: the device is checked first
        for method in ("naive", "optimal", "hessian", "admm"):
            kw = {"X": X_bad} if method in ("hessian", "admm") else {}
            with pytest.raises(core.DeviceUnavailableError) as e:
                quantize(W, 16, method, device="cuda", **kw)
            assert str(e.value) == NO_GPU and isinstance(e.value, RuntimeError)
        for call in (lambda: gpu.nvfp4_naive(W.reshape(4, 4, 16)), lambda: gpu.nvfp4_optimal(W.reshape(4, 4, 16)),
                     lambda: gpu.nvfp4_optimal_hessian(W.reshape(4, 4, 16), X=X_bad),
                     lambda: gpu.nvfp4_admm(W.reshape(4, 4, 16), X=X_bad)):
            with pytest.raises(core.DeviceUnavailableError) as e:
                call()
            assert str(e.value) == NO_GPU
    finally:
        _gpu.cuda.cache_clear()


@pytest.mark.slow
def test_cuda_without_gpu_is_one_exception_in_a_fresh_process():
    """What a user without a GPU sees: one exception and its one-line message, no chain
    from numba's internals (registering mul_rn for CUDA used to raise a TypeError)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    head = "import sys, numpy as np\nfrom numba import cuda\nif cuda.is_available(): sys.exit(3)\n"
    W = "np.ones((2, 32), np.float32)"
    for call in (f"import nvfp4_np; nvfp4_np.quantize({W}, device='cuda')",
                 f"from nvfp4_np import gpu; gpu.nvfp4_naive({W}.reshape(4, 16))"):
        p = subprocess.run([sys.executable, "-c", head + call], env=env, capture_output=True, text=True)
        if p.returncode == 3:
            pytest.skip("this machine has a CUDA GPU")
        assert p.returncode == 1
        lines = p.stderr.strip().splitlines()
        assert lines[-1] == "nvfp4_np.core.DeviceUnavailableError: " + NO_GPU
        assert p.stderr.count("Traceback") == 1 and "TypeError" not in p.stderr


def test_quantize_is_exported():
    assert nvfp4_np.quantize is quantize and nvfp4_np.NVFP4Tensor is NVFP4Tensor


def test_non_finite_error_reports_index_in_w():
    W = np.ones((2, 64), F32)
    W[1, 20] = np.nan
    with pytest.raises(ValueError, match=r"\(1, 20\)"):
        quantize(W, 16)


# ----------------------------------------------------------------------------- bytes


@pytest.mark.parametrize("recipe", sorted(nvfp4_np.registry.RECIPES))
@pytest.mark.parametrize("axis", [-1, 0])
def test_nvfp4tensor_bytes_and_round_trips(recipe, axis, tmp_path):
    W = sample((48, 64), seed=5)
    t = quantize(W, 16, "optimal", axis=axis, recipe=recipe)
    moved = np.moveaxis(W, axis, -1)
    assert t.codes.dtype == np.uint8 and t.codes.shape == moved.shape[:-1] + (moved.shape[-1] // 2,)
    assert t.scale_bytes.dtype == np.uint8 and t.scale_bytes.shape == moved.shape[:-1] + (moved.shape[-1] // 16,)
    assert t.recipe == recipe and isinstance(t.tensor_scale, np.float32)
    # the bytes say the same as the float views
    assert_bits_equal(nvfp4_np.e4m3_values(t.scale_bytes), np.moveaxis(t.scales, axis, -1), "scales")
    assert_bits_equal(nvfp4_np.fp4_values(nvfp4_np.unpack_fp4(t.codes)), np.moveaxis(t.quants, axis, -1), "quants")
    # dict and npz round trips are lossless
    for back in (NVFP4Tensor.from_dict(t.to_dict()), NVFP4Tensor.from_dict(t.to_dict("layer.0."), "layer.0.")):
        assert np.array_equal(back.codes, t.codes) and np.array_equal(back.scale_bytes, t.scale_bytes)
        assert back.tensor_scale.view(np.uint32) == t.tensor_scale.view(np.uint32)
        assert (back.shape, back.block_size, back.recipe, back.method, back.axis, back.rounding) == (
            t.shape, t.block_size, t.recipe, t.method, t.axis, t.rounding)
        assert_bits_equal(back.dequantize(), t.dequantize(), "dequant after round trip")
    t.save(tmp_path / "t.npz")
    back = NVFP4Tensor.load(tmp_path / "t.npz")
    assert_bits_equal(back.dequantize(), t.dequantize(), "dequant after save/load")
    assert np.array_equal(t.swizzled_scales(), nvfp4_np.swizzle_scales(t.scale_bytes))


def test_nvfp4tensor_dequantize_equals_method_dequant():
    W = sample((20, 96), seed=6)
    for recipe in sorted(nvfp4_np.registry.RECIPES):
        t = quantize(W, 32, "naive", recipe=recipe)
        out = nvfp4_naive(W.reshape(20, 3, 32), return_dequant=True, recipe=recipe)
        assert_bits_equal(t.dequantize(), out[2].reshape(W.shape), recipe)


def test_nvfp4tensor_from_dict_rejects_bad_input():
    t = quantize(sample((4, 32)), 16)
    d = t.to_dict()
    with pytest.raises(ValueError, match="missing key 'codes'"):
        NVFP4Tensor.from_dict({k: v for k, v in d.items() if k != "codes"})
    bad = dict(d, codes=d["codes"][:, :-1])
    with pytest.raises(ValueError, match=r"codes must be uint8 of shape \(4, 16\)"):
        NVFP4Tensor.from_dict(bad)


def test_swizzled_scales_of_1d_tensor():
    t = quantize(sample((64,)), 16)
    sw = t.swizzled_scales()
    assert sw.shape == (32, 16) and np.array_equal(sw.reshape(-1)[[0, 1, 2, 3]], t.scale_bytes)


def test_nvfp4tensor_safetensors_round_trip(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed")
    W = sample((40, 96), seed=7)
    for recipe in ("te", "compressed-tensors"):
        t = quantize(W, 32, "optimal", recipe=recipe)
        path = str(tmp_path / f"{recipe}.safetensors")
        st.save_file(t.to_dict("model.layers.0.weight."), path)
        back = NVFP4Tensor.from_dict(st.load_file(path), "model.layers.0.weight.")
        assert np.array_equal(back.codes, t.codes) and np.array_equal(back.scale_bytes, t.scale_bytes)
        assert_bits_equal(back.dequantize(), t.dequantize(), f"{recipe} after safetensors")


def test_spec_meta_example_is_what_to_dict_writes():
    """validation/SPEC.md §5.4's example meta, byte for byte."""
    import re

    spec = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "validation", "SPEC.md"),
                encoding="utf-8").read()
    example = re.search(r"Example meta: `([^`]+)`", spec).group(1)
    t = nvfp4_np.quantize(np.ones((2, 32), np.float32), 16, "naive", recipe="torchao")
    assert bytes(t.to_dict()["meta"]).decode() == example
