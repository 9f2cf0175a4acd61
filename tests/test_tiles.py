"""16x16 tile scales (nvfp4_np.tiles.tile_blocks) against the slow reference of the
definition (tests/naive.py ref_tiles), bit for bit: scale bytes and packed codes, every
block recipe, naive and the search."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import assert_bits_equal
from naive import ref_tile_sse, ref_tiles
from strategies import finite_f32
import nvfp4_np
from nvfp4_np import formats, nvfp4_naive, registry
from nvfp4_np.tiles import tile_blocks

F32 = np.float32
RECIPES = registry.RECIPES
TWO_LEVEL = [r for r in RECIPES if r != "seed"]

# (underflowing tiles warn, as 1-D blocks do; test_underflow_warns checks the warning)
pytestmark = pytest.mark.filterwarnings("ignore:.*block scale underflows|.*scale underflows:RuntimeWarning")


def blocked(w):
    """(R, K) -> the (R, K/16, 16) view tile_blocks takes."""
    return w.reshape(w.shape[0], -1, 16)


def run(w, recipe, search, **kw):
    """tile_blocks' bytes for W (R, K): (scale_bytes (R, K/16), codes (R, K/16, 8))."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (underflowing tiles)
        out = tile_blocks(blocked(w), recipe=recipe, search=search, as_bytes=True, **kw)
    return out[0], out[1]


def check(w, recipe, search, rounding=None, tensor_amax=None):
    sb, codes = run(w, recipe, search, rounding=rounding, tensor_amax=tensor_amax)
    rsb, rcodes = ref_tiles(w, recipe, search, rounding, tensor_amax)
    np.testing.assert_array_equal(sb, rsb, err_msg=f"scale bytes, {recipe} search={search}")
    np.testing.assert_array_equal(codes, rcodes, err_msg=f"codes, {recipe} search={search}")
    return sb


def _rng(seed):
    return np.random.default_rng(seed)


def normal_input():
    return _rng(1).standard_normal((32, 64)).astype(F32)


def decades_input():
    """Per-block magnitudes over 2^-30 .. 2^12: tiles whose amax spans the E4M3 normal,
    subnormal and underflow ranges, and small blocks beside large ones in a tile."""
    rng = _rng(2)
    w = rng.standard_normal((64, 64)).astype(F32)
    block_scale = np.exp2(rng.uniform(-30, 12, (64, 4))).astype(F32)
    tile_scale = np.exp2(rng.integers(-14, 3, (4, 4))).astype(F32)
    w = w.reshape(64, 4, 16) * block_scale[:, :, None]
    w = w * np.repeat(tile_scale, 16, axis=0)[:, :, None]
    return w.reshape(64, 64).astype(F32)


def zeros_input():
    w = _rng(3).standard_normal((32, 48)).astype(F32)
    w[:16, :16] = 0.0
    w[:16, 16:32] = -0.0
    w[16:, :16] = np.where(_rng(4).random((16, 16)) < 0.5, F32(0.0), F32(-0.0))
    w[16:, 16:32, ] *= (_rng(5).random((16, 16)) < 0.1)  # sparse, with -0.0 among the zeros
    return w


def spike_input():
    w = _rng(6).standard_normal((32, 64)).astype(F32)
    w[20, 37] = F32(3.0e3)
    return w


INPUTS = {"normal": normal_input, "decades": decades_input, "zeros": zeros_input, "spike": spike_input}


@pytest.mark.parametrize("search", [False, True], ids=["naive", "search"])
@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("name", INPUTS)
def test_matches_reference(name, recipe, search):
    check(INPUTS[name](), recipe, search)


@pytest.mark.parametrize("search", [False, True], ids=["naive", "search"])
@pytest.mark.parametrize("recipe", TWO_LEVEL)
@pytest.mark.parametrize("given", ["37.5x", "2688"])
def test_tensor_amax_given(given, recipe, search):
    """A larger tensor's amax; 2688 makes ts = 1 (modelopt and compressed-tensors then
    take the exact arithmetic, the vector search)."""
    w = decades_input() * F32(1 / 16 if given == "2688" else 1)  # (max|w| 884 < 2688)
    amax = F32(np.abs(w).max()) * F32(37.5) if given == "37.5x" else F32(2688.0)
    assert np.abs(w).max() <= amax
    sb = check(w, recipe, search, tensor_amax=amax)
    _, _, ts = tile_blocks(blocked(w), recipe=recipe, search=search, as_bytes=True, tensor_amax=amax)
    assert ts == nvfp4_naive(blocked(w), recipe=recipe, tensor_amax=amax, as_bytes=True)[2]
    assert sb.shape == (64, 4)


@pytest.mark.parametrize("rounding", ["seed", "rne"])
@pytest.mark.parametrize("recipe", ["seed", "te", "torchao"])
def test_rounding(recipe, rounding):
    check(normal_input(), recipe, True, rounding=rounding)


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("name", ["normal", "decades", "spike"])
def test_search_never_worse_than_naive(name, recipe):
    w = INPUTS[name]()
    e_naive = ref_tile_sse(w, recipe, run(w, recipe, False)[0])
    e_search = ref_tile_sse(w, recipe, run(w, recipe, True)[0])
    assert (e_search <= e_naive).all()
    assert (e_search < e_naive).any() or name == "decades"


@pytest.mark.parametrize("search", [False, True], ids=["naive", "search"])
@pytest.mark.parametrize("recipe", RECIPES)
def test_rows_of_a_tile_share_the_byte(recipe, search):
    sb, _ = run(decades_input(), recipe, search)
    tiles = sb.reshape(-1, 16, sb.shape[1])
    assert (tiles == tiles[:, :1, :]).all()


@pytest.mark.parametrize("recipe", RECIPES)
def test_transpose_naive(recipe):
    """The tile amax is symmetric: W^T's naive tile bytes are W's transposed, and so are
    its dequantized values."""
    w = decades_input()[:, :48]  # (64, 48): not square
    sb, q, dq = tile_blocks(blocked(w), return_dequant=True, recipe=recipe)[:3]
    sbt, qt, dqt = tile_blocks(blocked(np.ascontiguousarray(w.T)), return_dequant=True, recipe=recipe)[:3]
    np.testing.assert_array_equal(sbt[::16, :], sb[::16, :].T)
    assert_bits_equal(dqt.reshape(48, 64), dq.reshape(64, 48).T, "dequant of W^T")
    assert_bits_equal(qt.reshape(48, 64), q.reshape(64, 48).T, "quants of W^T")


@pytest.mark.parametrize("recipe", ["seed", "te"])
def test_float_outputs(recipe):
    """The float outputs decode the bytes, as nvfp4_naive's do."""
    w = normal_input()
    sb, codes = run(w, recipe, True)
    scales, quants = tile_blocks(blocked(w), recipe=recipe, search=True)[:2]
    assert_bits_equal(scales, formats.E4M3_DECODE[sb], "scales")
    assert quants.shape == (32, 4, 16)


def test_underflow_warns():
    w = np.full((16, 16), F32(1e-3))
    with pytest.warns(RuntimeWarning, match="16 block"):
        sb, _ = tile_blocks(blocked(w), as_bytes=True)
    assert (sb == 0).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_raises(bad):
    w = normal_input()
    w[17, 35] = bad
    with pytest.raises(ValueError, match=r"first at index \(17, 2, 3\)"):
        tile_blocks(blocked(w))
    with pytest.raises(ValueError, match="non-finite"):
        tile_blocks(blocked(w), recipe="te", search=True)


@pytest.mark.parametrize("W, kw, match", [
    (np.zeros((16, 2, 16), F32), dict(block_shape=(16, 32)), "block_shape"),
    (np.zeros((16, 2, 16), F32), dict(block_shape=(1, 16)), "block_shape"),
    (np.zeros((16, 2, 16), F32), dict(block_shape=16), "block_shape"),
    (np.zeros((16, 32), F32), {}, "3-D|dimension"),
    (np.zeros((2, 16, 2, 16), F32), {}, "dimension"),
    (np.zeros((24, 2, 16), F32), {}, "multiple of 16"),
    (np.zeros((16, 2, 32), F32), {}, "blocks of 16"),
    (np.zeros((16, 16, 16), F32), dict(dim=0), "last"),
])
def test_bad_shapes(W, kw, match):
    with pytest.raises(ValueError, match=match):
        tile_blocks(W, **kw)


def test_empty():
    sb, codes = tile_blocks(np.zeros((0, 3, 16), F32), as_bytes=True)
    assert sb.shape == (0, 3) and codes.shape == (0, 3, 8)


@settings(max_examples=25)
@given(data=st.data(), recipe=st.sampled_from(RECIPES), search=st.booleans())
def test_property(data, recipe, search):
    R = 16 * data.draw(st.integers(1, 2))
    K = 16 * data.draw(st.integers(1, 2))
    w = data.draw(arrays(F32, (R, K), elements=finite_f32))
    check(w, recipe, search)


@pytest.mark.parametrize("method", ["naive", "optimal"])
@pytest.mark.parametrize("recipe", ["seed", "te", "compressed-tensors"])
def test_quantize_with_16x16_blocks(method, recipe):
    """quantize(..., block_shape=(16, 16)) is the reference's tiles (naive: the tile's
    baseline byte; optimal: the search over the tile), on W and, along axis 0, on W^T;
    the NVFP4Tensor records the shape and round-trips it."""
    rng = np.random.default_rng(11)
    W = (rng.standard_normal((32, 64)) * np.exp(rng.uniform(-3, 3, (32, 1)))).astype(np.float32)
    t = nvfp4_np.quantize(W, 16, method, recipe=recipe, block_shape=(16, 16))
    sb, packed = ref_tiles(W, recipe, method == "optimal")
    assert np.array_equal(t.scale_bytes, sb) and np.array_equal(t.codes, packed.reshape(t.codes.shape))
    assert t.block_shape == (16, 16) and nvfp4_np.NVFP4Tensor.from_dict(t.to_dict()).block_shape == (16, 16)
    u = nvfp4_np.quantize(np.ascontiguousarray(W.T), 16, method, axis=0, recipe=recipe, block_shape=(16, 16))
    assert np.array_equal(u.codes, t.codes) and np.array_equal(u.dequantize(), t.dequantize().T)


def test_the_command_writes_16x16_blocks(tmp_path):
    """nvfp4-np quantize --block-shape 16x16 writes quantize()'s tile bytes."""
    sn = pytest.importorskip("safetensors.numpy")
    from nvfp4_np import _safetensors as st
    from nvfp4_np.cli import main

    W = np.random.default_rng(12).standard_normal((48, 64)).astype(np.float32)
    (tmp_path / "m").mkdir()
    sn.save_file({"model.layers.0.mlp.up_proj.weight": W}, str(tmp_path / "m" / "model.safetensors"))
    assert main(["quantize", str(tmp_path / "m"), "-o", str(tmp_path / "o"), "--method", "optimal",
                 "--block-shape", "16x16", "--quiet"]) == 0
    got = st.load(str(tmp_path / "o" / "model.safetensors"))
    amax = np.abs(W).max()
    ref = nvfp4_np.quantize(W, 16, "optimal", recipe="compressed-tensors", block_shape=(16, 16), tensor_amax=amax)
    assert np.array_equal(got["model.layers.0.mlp.up_proj.weight_packed"], ref.codes)
    assert np.array_equal(got["model.layers.0.mlp.up_proj.weight_scale"].view(np.uint8), ref.scale_bytes)
