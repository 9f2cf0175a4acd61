"""GPU twin of Four Over Six (nvfp4_np.gpu_four_over_six) against the CPU
(nvfp4_np.four_over_six): the same bytes, amax and tensor scale for both recipes and
every rule, 1-D blocks and 16x16 tiles, scale_max 256 and 448, float32 and bfloat16
input, host and device arrays; the same errors (tests/gpu_common.py: how to run)."""

import zlib

import ml_dtypes
import numpy as np
import pytest

from gpu_common import SIM
from nvfp4_np import _gpu, core, recipes
from nvfp4_np import four_over_six as cpu
from nvfp4_np import gpu_four_over_six as gpu

#: (recipe, rule) pairs: every rule of each recipe.
CASES = [("fouroversix", r) for r in cpu.RULES] + [("te", r) for r in cpu.FOUR_OVER_SIX_RECIPES["te"]["rules"]]
#: Input size: under the simulator a few tiles (each a kind below), on a GPU many.
R, C = (32, 64) if SIM else (512, 1024)
KINDS = ("normal", "wide", "grid", "int", "spike", "zeros", "sparse", "tiny")


def _tile(rng, kind):
    """A 16x16 tile of ``kind``: per-row (1-D block) magnitudes over many decades ("wide",
    "tiny": E4M3-subnormal and zero block scales, fouroversix's 8), values on the E2M1
    grid times powers of two (ties), integers (near-ties of the 4/6 errors), one spike
    in small noise, +-0.0, sparse."""
    if kind == "normal":
        return rng.standard_normal((16, 16))
    if kind == "wide":
        return rng.standard_normal((16, 16)) * np.exp(rng.uniform(-18, 0, (16, 1)))
    if kind == "tiny":
        return rng.standard_normal((16, 16)) * np.exp(rng.uniform(-9, -4, (16, 1)))
    if kind == "grid":
        g = np.array([0, .5, 1, 1.5, 2, 3, 4, 6])
        return rng.choice(g, (16, 16)) * rng.choice([-1, 1], (16, 16)) * 2.0 ** rng.integers(-3, 3, (16, 1))
    if kind == "int":
        return rng.integers(-8, 9, (16, 16)).astype(float)
    if kind == "spike":
        t = 0.01 * rng.standard_normal((16, 16))
        t[rng.integers(16), rng.integers(16)] = 50 * rng.choice([-1, 1])
        return t
    if kind == "zeros":
        return np.where(rng.random((16, 16)) < 0.5, 0.0, -0.0)
    return rng.standard_normal((16, 16)) * (rng.random((16, 16)) < 0.1)  # sparse


def mixed(rng, rows=R, cols=C):
    """float32 (rows, cols) whose 16x16 tiles are the kinds in turn (all of them under the
    simulator, random ones on a GPU)."""
    x = np.empty((rows, cols))
    for t in range(rows // 16 * (cols // 16)):
        i, j = divmod(t, cols // 16)
        kind = KINDS[t % len(KINDS)] if t < len(KINDS) else KINDS[rng.integers(len(KINDS))]
        x[16 * i:16 * i + 16, 16 * j:16 * j + 16] = _tile(rng, kind)
    return x.astype(np.float32)


def assert_same(got, want, what):
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        g = core.host_array(g) if core.is_device_array(g) else g
        if isinstance(w, np.ndarray):
            assert g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w), \
                f"{what} output {i}: {np.argwhere(g != w)[:5].tolist()}"
        elif isinstance(w, str):  # the rule (four_over_six_blocks)
            assert g == w, f"{what} output {i}: {g!r} != {w!r}"
        else:
            assert type(g) is type(w) and g.tobytes() == w.tobytes(), f"{what} output {i}: {g!r} != {w!r}"


def check(x, what, **kw):
    assert_same(gpu.nvfp4_four_over_six(x, **kw), cpu.nvfp4_four_over_six(x, **kw), f"{what} {kw}")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("block_2d", [False, True])
@pytest.mark.parametrize("recipe,rule", CASES)
def test_matches_cpu(recipe, rule, block_2d, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{recipe}-{rule}-{block_2d}-{dtype}".encode()))
    x = mixed(rng)
    if dtype == "bfloat16":
        x = x.astype(ml_dtypes.bfloat16)
    for scale_max in (256, 448) if SIM else (None, 256, 448):
        check(x, dtype, rule=rule, block_2d=block_2d, recipe=recipe, scale_max=scale_max)


@pytest.mark.parametrize("block_2d", [False, True])
@pytest.mark.parametrize("recipe,rule", [("fouroversix", "mse"), ("fouroversix", "static_4"), ("te", "mae")])
def test_edge_inputs(recipe, rule, block_2d):
    """All zeros (amax 0: fouroversix's zero scale, TE's S_enc of 1), one value, the
    tensor amax given, the rows whose bytes fouroversix itself returned (a tie kept at 6,
    +-0, an E4M3-subnormal scale rounded down: the code 8), the smallest amax allowed."""
    rng = np.random.default_rng(3)
    kw = dict(rule=rule, block_2d=block_2d, recipe=recipe)
    z = np.where(rng.random((16, 32)) < 0.5, np.float32(0.0), np.float32(-0.0))
    check(z, "zeros", **kw)
    one = np.zeros((16, 32), np.float32)
    one[5, 17] = -3.0
    check(one, "one value", **kw)
    x = mixed(rng, 16, 64)
    check(x, "tensor_amax", tensor_amax=np.float32(4 * np.abs(x).max()), **kw)
    check(z, "zeros, tensor_amax", tensor_amax=1.0, **kw)
    a, b = recorded_rows()
    check(a, "recorded rows (amax 6)", **kw)
    check(b, "recorded rows (amax 1536)", **kw)
    check(b * np.float32(3.9e-36), "near the smallest amax", **kw)


def recorded_rows():
    """test_four_over_six's rows of bytes fouroversix itself returned, each in a (16, 96)
    array of its own (their amax differs): a tie kept at 6, +-0.0 and blocks where 4
    wins; an E4M3-subnormal scale rounded down (the code 8 for +-8)."""
    a = np.zeros((16, 96), np.float32)
    a[0, 0] = 6
    a[0, 48:52] = [-0.0, -0.01, 0.01, 0.0]
    a[0, 52:80] = 1
    b = np.zeros((16, 96), np.float32)
    b[0, 0] = 1536
    b[0, 16:19] = [0.017, -0.017, 0.0085]
    return a, b


def test_the_edges_are_reached():
    """The inputs above reach what they are there for, on the GPU: scale bytes of E4M3
    subnormals (0x01-0x07) and 0 in the mixed tiles, fouroversix's recorded bytes (the
    code 8 of +8 and -8) in the recorded rows."""
    s, _, _ = gpu.nvfp4_four_over_six(mixed(np.random.default_rng(11)), "mse")
    assert ((s >= 1) & (s <= 7)).any() and (s == 0).any()
    a, b = recorded_rows()
    s, p, _ = gpu.nvfp4_four_over_six(a, "mse")
    assert s[0, 0] == 0x78 and s[0, 2] == 0x00 and s[0, 3] == 0x68 and s[0, 4] == 0x68
    assert list(p[0, 24:27]) == [0x80, 0x00, 0x66]
    s, p, _ = gpu.nvfp4_four_over_six(b, "mse")
    assert bytes(s[0, :2]) == bytes([0x78, 0x01])
    assert p[0, :16].tobytes().hex() == "0700000000000000" "8806000000000000"


def test_four_over_six_blocks_matches_cpu():
    rng = np.random.default_rng(5)
    x = mixed(rng)
    for kw in (dict(), dict(recipe="te", rule="mse"), dict(block_shape=(16, 16)),
               dict(block_shape=(16, 16), recipe="te", scale_max=448, tensor_amax=100.0), dict(rounding="rne"),
               dict(recipe=recipes.get_recipe("fouroversix"), rule="static_4")):  # (quantize passes the record)
        w = x.reshape(R, C // 16, 16) if "block_shape" in kw else x.reshape(2, R // 2, C // 16, 16)
        assert_same(gpu.four_over_six_blocks(w, **kw), cpu.four_over_six_blocks(w, **kw), f"blocks {kw}")


def test_device_arrays():
    """A device W gives device bytes (amax taken on the device), the CPU's bytes."""
    c = _gpu.cuda()
    rng = np.random.default_rng(6)
    x = mixed(rng)
    d = c.to_device(x)
    for kw in (dict(), dict(block_2d=True, rule="abs_max"), dict(recipe="te", tensor_amax=np.float32(60.0)),
               dict(rule="static_6", block_2d=True)):
        got = gpu.nvfp4_four_over_six(d, **kw)
        assert core.is_device_array(got[0]) and core.is_device_array(got[1])
        assert_same(got, cpu.nvfp4_four_over_six(x, **kw), f"device {kw}")
    z = c.to_device(np.full((16, 16), -0.0, np.float32))
    assert_same(gpu.nvfp4_four_over_six(z), cpu.nvfp4_four_over_six(np.full((16, 16), -0.0, np.float32)), "zeros")
    w = x.reshape(R, C // 16, 16)
    for kw in (dict(), dict(block_shape=(16, 16), recipe="te")):
        got = gpu.four_over_six_blocks(c.to_device(w), **kw)
        assert core.is_device_array(got[0])
        assert_same(got, cpu.four_over_six_blocks(w, **kw), f"device blocks {kw}")
    assert_same(gpu.nvfp4_four_over_six(c.to_device(np.zeros((0, 32), np.float32))),
                cpu.nvfp4_four_over_six(np.zeros((0, 32), np.float32)), "empty")


def test_chunks_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(7)
    x = mixed(rng)
    want = [gpu.nvfp4_four_over_six(x, block_2d=b) for b in (False, True)]
    monkeypatch.setattr(gpu, "CHUNK_BLOCKS", 3)  # a row (1-D) or a tile row (2-D) a chunk
    for b, w in zip((False, True), want):
        assert_same(gpu.nvfp4_four_over_six(x, block_2d=b), w, f"chunked block_2d={b}")
        assert_same(w, cpu.nvfp4_four_over_six(x, block_2d=b), f"block_2d={b}")


def _nonfinite(value, where, shape=(32, 32), dtype=np.float32):
    x = np.ones(shape, dtype)
    x[where] = value
    return x


ERRORS = [
    (core.NonFiniteError, _nonfinite(np.nan, (3, 5)), {}),
    (core.NonFiniteError, _nonfinite(-np.inf, (17, 30)), {"block_2d": True}),
    (core.NonFiniteError, _nonfinite(1e39, (1, 1), dtype=np.float64), {}),  # beyond float32's range
    (ValueError, np.ones(16, np.float32), {}),
    (ValueError, np.ones((2, 16, 16), np.float32), {}),
    (ValueError, np.ones((16, 24), np.float32), {}),
    (ValueError, np.ones((24, 32), np.float32), {"block_2d": True}),
    (TypeError, np.ones((16, 16), np.int32), {}),
    (ValueError, np.ones((16, 16), np.float32), {"rule": "max"}),
    (ValueError, np.ones((16, 16), np.float32), {"recipe": "te", "rule": "abs_max"}),
    (ValueError, np.ones((16, 16), np.float32), {"recipe": "nvidia"}),
    (ValueError, np.ones((16, 16), np.float32), {"scale_max": 300}),
    (ValueError, np.ones((16, 16), np.float32), {"tensor_amax": 0.5}),
    (ValueError, np.ones((16, 16), np.float32), {"tensor_amax": np.nan}),
    (ValueError, np.full((16, 16), 1e-34, np.float32), {}),  # too small for the arithmetic
]


@pytest.mark.parametrize("error,x,kw", ERRORS)
def test_the_same_errors(error, x, kw):
    with pytest.raises(error) as want:
        cpu.nvfp4_four_over_six(x, **kw)
    with pytest.raises(error) as got:
        gpu.nvfp4_four_over_six(x, **kw)
    assert type(got.value) is type(want.value) and str(got.value) == str(want.value)
    if x.dtype == np.float32 and x.ndim == 2:  # a device array: the same error
        with pytest.raises(error) as dev:
            gpu.nvfp4_four_over_six(_gpu.cuda().to_device(x), **kw)
        assert type(dev.value) is type(want.value) and str(dev.value) == str(want.value)


BLOCK_ERRORS = [
    (np.ones((4, 2, 16), np.float32), {"as_bytes": False}),
    (np.ones((4, 2, 16), np.float32), {"dim": 0}),
    (np.ones((4, 2, 16), np.float32), {"rounding": "seed"}),
    (np.ones((4, 2, 16), np.float32), {"block_shape": (32, 32)}),
    (np.ones((4, 2, 32), np.float32), {}),
    (np.ones((2, 16, 2, 16), np.float32), {"block_shape": (16, 16)}),
    (np.ones((4, 2, 16), np.float32), {"block_shape": (16, 16)}),  # 4 rows
    (_nonfinite(np.nan, (1, 1, 3), shape=(4, 2, 16)), {}),
]


@pytest.mark.parametrize("x,kw", BLOCK_ERRORS)
def test_the_same_errors_of_four_over_six_blocks(x, kw):
    with pytest.raises(ValueError) as want:
        cpu.four_over_six_blocks(x, **kw)
    with pytest.raises(ValueError) as got:
        gpu.four_over_six_blocks(x, **kw)
    assert type(got.value) is type(want.value) and str(got.value) == str(want.value)
    with pytest.raises(ValueError) as dev:
        gpu.four_over_six_blocks(_gpu.cuda().to_device(x), **kw)
    assert type(dev.value) is type(want.value) and str(dev.value) == str(want.value)


def test_device_arrays_must_be_float32_and_contiguous():
    c = _gpu.cuda()
    with pytest.raises(TypeError, match="C-contiguous float32, got float64"):
        gpu.nvfp4_four_over_six(c.to_device(np.ones((16, 16))))
    with pytest.raises(TypeError, match="contiguous: False"):
        gpu.nvfp4_four_over_six(c.to_device(np.ones((16, 64), np.float32))[:, ::2])
