"""The bytes the kernels write (``as_bytes=True``, what ``nvfp4_np.quantize`` stores) and
the float outputs decoded from them: against the SPEC reference for every method, mode,
recipe, tie rule and block size; along another axis; the encoding's definitions
(nvfp4_np.encoding) for the kernels' value-to-code step."""

import numba
import numpy as np
import pytest

from conftest import assert_bits_equal
from datasets import mixed_blocks
from naive import SpecReference
import nvfp4_np
from nvfp4_np import block_hessians, encoding, formats
from nvfp4_np.admm import admm_operators
from nvfp4_np._emit import fp4_code

RECIPES = sorted(nvfp4_np.registry.RECIPES)
pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


@numba.njit(cache=True)
def _codes_of_values(v):
    out = np.empty(v.size, np.uint8)
    for i in range(v.size):
        out[i] = fp4_code(v[i])
    return out


def test_value_to_code_is_fp4_codes_on_every_e2m1_value():
    """The kernels' code of an E2M1 value (ADMM's quants; e2m1_index for the magnitudes)
    is nvfp4_np.encoding.fp4_codes, the definition, on all 16 codes' values."""
    values = np.concatenate([formats.E2M1_VALUES, -formats.E2M1_VALUES]).astype(np.float32)  # -0.0 included
    assert encoding.fp4_codes(values).tolist() == _codes_of_values(values).tolist() == list(range(16))


def weights(rng, bs, shape=(6, 3)):
    x = mixed_blocks(rng, int(np.prod(shape)) // 6 + 2, bs)[: int(np.prod(shape))]
    W = x.reshape(shape + (bs,))
    W[0, 0, ::3] = -0.0  # negative zeros: code 8 in the recipes that keep the sign bit
    W[0, 1] = -W[0, 1] * 1e-9  # underflow, clamps and floors
    return W


def calls(H):
    """(method, mode, function, keyword arguments) for every method and mode."""
    yield "naive", None, nvfp4_np.nvfp4_naive, {}
    yield "optimal", None, nvfp4_np.nvfp4_optimal, {}
    for mode in ("seed", "exact"):
        yield "hessian", mode, nvfp4_np.nvfp4_optimal_hessian, {"H_blocks": H, "mode": mode}
    for mode in ("seed", "best"):
        yield "admm", mode, nvfp4_np.nvfp4_admm, {"H_blocks": H, "mode": mode}


@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("recipe", RECIPES)
def test_bytes_and_floats_equal_the_spec_reference(recipe, bs, rng):
    """The kernels' bytes (as_bytes) and the float outputs decoded from them, for every
    method and mode, against validation/SPEC.md written out in NumPy (tests/naive.py:
    SpecReference, no nvfp4_np code): scale bytes, packed codes, tensor scale, dequant."""
    W = weights(rng, bs).reshape(6, 3 * bs)
    X = rng.standard_normal((40, 3 * bs)).astype(np.float32)
    H = block_hessians(X, bs)  # an input to both
    Hn, Minv, _ = admm_operators(H)
    for rounding in ("seed", "rne"):
        ref = SpecReference(recipe, rounding)
        for method, mode, fn, kw in calls(H):
            what = f"{method} {mode} {recipe} {rounding} bs={bs}"
            want = ref.outputs(W, bs, method, mode, H=H, Hn=Hn, Minv=Minv)
            got = fn(W.reshape(6, 3, bs), recipe=recipe, rounding=rounding, as_bytes=True, **kw)
            assert got[0].dtype == np.uint8 and got[1].dtype == np.uint8, what
            assert np.array_equal(got[0], want["scale_bytes"].reshape(6, 3)), f"{what}: scale bytes"
            assert np.array_equal(got[1].reshape(6, -1), want["codes"]), f"{what}: packed codes"
            ts = got[2] if len(got) == 3 else np.float32(1.0)
            assert_bits_equal(np.float32(ts), want["tensor_scale"][0], f"{what}: tensor scale")
            floats = fn(W.reshape(6, 3, bs), recipe=recipe, rounding=rounding, return_dequant=True, **kw)
            assert_bits_equal(floats[0], ref.dec(want["scale_bytes"]).reshape(6, 3), f"{what}: scales")
            assert_bits_equal(floats[2].reshape(6, -1), want["dequant"], f"{what}: dequant")
            codes = encoding.unpack_fp4(want["codes"])
            assert_bits_equal(floats[1].reshape(6, -1), encoding.fp4_values(codes), f"{what}: quants")


@pytest.mark.parametrize("method", ["naive", "optimal"])
@pytest.mark.parametrize("dim", [0, 1])
def test_bytes_along_another_axis(method, dim, rng):
    """Blocks along ``dim``: the bytes of the same blocks laid out last, moved back."""
    W = np.moveaxis(weights(rng, 16, (4, 5)), -1, dim).copy()
    fn = nvfp4_np.registry.method(method).function()
    sb, packed, ts = fn(W, dim=dim, recipe="te", as_bytes=True)
    want_sb, want_packed, want_ts = fn(np.ascontiguousarray(np.moveaxis(W, dim, -1)), recipe="te", as_bytes=True)
    assert packed.shape[dim] == 8 and packed.shape == np.moveaxis(want_packed, -1, dim).shape
    assert np.array_equal(sb, want_sb) and np.array_equal(packed, np.moveaxis(want_packed, -1, dim))
    assert ts == want_ts


@pytest.mark.parametrize("recipe", ["seed", "compressed-tensors"])
def test_quantize_stores_the_spec_bytes(recipe, rng):
    W = weights(rng, 16).reshape(6, 48)
    t = nvfp4_np.quantize(W, 16, "optimal", recipe=recipe)
    want = SpecReference(recipe).outputs(W, 16, "optimal")
    assert np.array_equal(t.scale_bytes, want["scale_bytes"]) and np.array_equal(t.codes, want["codes"])
    assert t.tensor_scale == want["tensor_scale"][0]


OUT = (np.empty(2, np.float32), np.empty((2, 16), np.float32))


@pytest.mark.parametrize("kw", [{"return_dequant": True}, {"out": OUT}])
def test_bytes_exclude_float_outputs(kw):
    with pytest.raises(ValueError, match="as_bytes=True returns the bytes only"):
        nvfp4_np.nvfp4_naive(np.ones((2, 16), np.float32), as_bytes=True, **kw)


def test_bytes_of_an_empty_array():
    sb, packed = nvfp4_np.nvfp4_optimal(np.zeros((0, 16), np.float32), as_bytes=True)
    assert sb.shape == (0,) and packed.shape == (0, 8) and sb.dtype == packed.dtype == np.uint8


def test_float_outputs_into_a_misaligned_buffer(rng):
    """out= buffers that are not 8-byte aligned (decoding writes two floats at a time)."""
    W = weights(rng, 16).reshape(-1, 16)
    n = len(W)
    raw = np.empty(n + n * 16 + 2, np.float32)
    start = 1 if raw.ctypes.data % 8 == 0 else 0  # quants start 4 bytes past an 8-byte boundary
    q0 = start + n + (1 if (raw.ctypes.data + 4 * (start + n)) % 8 == 0 else 0)
    scales, quants = raw[start:start + n], raw[q0:q0 + n * 16].reshape(n, 16)
    assert quants.ctypes.data % 8 == 4
    want = nvfp4_np.nvfp4_optimal(W, recipe="te")
    nvfp4_np.nvfp4_optimal(W, recipe="te", out=(scales, quants))
    assert_bits_equal(scales, want[0], "scales")
    assert_bits_equal(quants, want[1], "quants")
