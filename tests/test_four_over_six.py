"""nvfp4_np.four_over_six against fouroversix 1.0.5's reference as tests/fouroversix_ref.py
writes it independently in NumPy (itself held to the package by the optional
test_fouroversix_crosscheck.py), and against bytes the package produced
(docs/design/four_over_six.md)."""

import zlib

import ml_dtypes
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fouroversix_ref import RULES, lane_sum_torch, quantize_to_fp4, scale_blocks
from nvfp4_np.four_over_six import RULES as OUR_RULES
from nvfp4_np.four_over_six import nvfp4_four_over_six


def inputs(rng, R, C, kind):
    if kind == "normal":
        return rng.standard_normal((R, C))
    if kind == "wide":  # per-block magnitudes over ~10 decades: E4M3-subnormal scales, fouroversix's 8
        return (rng.standard_normal((R, C // 16, 16)) * np.exp(rng.uniform(-12, 12, (R, C // 16, 1)))).reshape(R, C)
    if kind == "grid":  # on the E2M1 grid times powers of two: ties everywhere
        g = np.array([0, .5, 1, 1.5, 2, 3, 4, 6])
        return (rng.choice(g, (R, C)) * rng.choice([-1, 1], (R, C))
                * 2.0 ** rng.integers(-3, 3, (R, C // 16, 1)).repeat(16, -1).reshape(R, C))
    if kind == "int":  # integer data: 4/6 near-ties under both sums
        return rng.integers(-8, 9, (R, C)).astype(float)
    if kind == "tile-spike":  # one large element a 16x16 tile
        x = 0.01 * rng.standard_normal((R, C))
        x[::16, ::16] = 50 * rng.choice([-1, 1], (R // 16, C // 16))
        return x
    return rng.standard_normal((R, C)) * (rng.random((R, C)) < 0.1)  # sparse


def check(x, rule, two_d):
    s, p, a = nvfp4_four_over_six(x, rule, block_2d=two_d)
    rp, rs, ra = quantize_to_fp4(x, rule, two_d)
    assert np.array_equal(s, rs.view(np.uint8)), (rule, two_d, np.argwhere(s != rs.view(np.uint8))[:5])
    assert np.array_equal(p, rp), (rule, two_d, np.argwhere(p != rp)[:5])
    assert a == ra and a.dtype == np.float32


def test_the_rules_are_fouroversix_s():
    assert OUR_RULES == RULES


@pytest.mark.parametrize("kind", ["normal", "wide", "grid", "int", "tile-spike", "sparse"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("two_d", [False, True])
def test_equals_the_reference(kind, dtype, two_d):
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{dtype}-{two_d}".encode()))
    for _ in range(3):
        x = inputs(rng, 64, 128, kind).astype(np.float32)
        if dtype == "bfloat16":
            x = x.astype(ml_dtypes.bfloat16)
        for rule in RULES:
            check(x, rule, two_d)


def test_the_vectors_reach_both_candidates_and_split_the_rules():
    """On integer data every 4/6 rule keeps 4 in some blocks and 6 in others, and the
    rules disagree on some blocks: the comparisons above test the choice, not only one
    candidate."""
    rng = np.random.default_rng(5)
    x = inputs(rng, 64, 256, "int").astype(np.float32)
    blocks = x.reshape(-1, 16)
    amax = np.float32(np.abs(x).max())
    s6 = scale_blocks(blocks, amax, 6, 256)[1].view(np.uint8)
    s4 = scale_blocks(blocks, amax, 6, 256, 1.5)[1].view(np.uint8)
    differ = s6 != s4
    four = {}
    for rule in ("mse", "mae", "abs_max"):
        got = nvfp4_four_over_six(x, rule)[0].reshape(-1)
        four[rule] = (got == s4) & differ
        assert four[rule].any() and ((got == s6) & differ).any(), rule
    assert (four["mse"] != four["mae"]).any() and (four["mse"] != four["abs_max"]).any()


def test_bytes_the_package_produced():
    """Bytes fouroversix 1.0.5 itself returned (recorded in docs/design/four_over_six.md)."""
    row = np.zeros(96, np.float32)
    row[0] = 6  # [6, 0 x 15]: a tie, 6 wins
    row[48:52] = [-0.0, -0.01, 0.01, 0.0]
    row[52:64] = 1  # 4 wins
    row[64:80] = 1  # [1 x 16]: 4 wins
    s, p, a = nvfp4_four_over_six(row[None], "mse")
    assert a == 6
    assert s[0, 0] == 0x78 and s[0, 2] == 0x00 and s[0, 3] == 0x68 and s[0, 4] == 0x68
    assert list(p[0, 24:27]) == [0x80, 0x00, 0x66]
    # an E4M3-subnormal scale rounded down: +-8 both encode as 0x8
    x = np.zeros((1, 32), np.float32)
    x[0, 0] = 1536
    x[0, 16:19] = [0.017, -0.017, 0.0085]
    s, p, _ = nvfp4_four_over_six(x, "mse")
    assert bytes(s[0]) == bytes([0x78, 0x01])
    assert p[0].tobytes().hex() == "0700000000000000" "8806000000000000"


@pytest.mark.parametrize("rule", ["mse", "mae"])
def test_the_error_sum_order_on_many_near_ties(rule):
    """torch's sum order decides the choice on integer data: a sequential sum flips
    310 (mse) and 1,858 (mae) of 524k blocks (docs/design/four_over_six.md); 32k blocks
    here, in 1-D and 2-D."""
    x = np.random.default_rng(7).integers(-8, 9, (512, 1024)).astype(np.float32)
    check(x, rule, False)
    check(x, rule, True)


@pytest.mark.parametrize("n", [16, 256])
def test_the_error_sum_is_torch_s_order(n):
    """The error sum bit for bit in torch CPU's order (the reference's lane_sum_torch), on
    terms over many magnitudes, where other orders give other bits: 2-D tiles whose two
    candidates tie within the sums' rounding are too rare to find by sampling (none in
    8,192 tiles of integer, noisy-integer or Gaussian data), so the order is held here."""
    from nvfp4_np.four_over_six import _torch_sum

    rng = np.random.default_rng(n)
    t = (rng.random((2000, n)) * 10.0 ** rng.integers(-6, 6, (2000, n))).astype(np.float32)
    ours = np.array([_torch_sum(row.copy(), n) for row in t], np.float32)  # (it overwrites its terms)
    assert np.array_equal(ours, lane_sum_torch(t))
    sequential = np.zeros(len(t), np.float32)
    for i in range(n):
        sequential = sequential + t[:, i]
    assert (sequential != ours).sum() > 100  # (the data tell orders apart)


def test_the_tile_sum_order():
    """fouroversix sums a 16x16 tile's 256 error terms in torch's order (32 accumulators,
    term n into n % 32, then lane by lane): on this tile that order picks 4 where a
    row-major sequential sum ties and keeps 6 (fouroversix 1.0.5 itself gives these
    bytes). The sampled ties are too rare to hold the grouped kernel's tile sum."""
    from nvfp4_np import four_over_six as fos

    F32, v = np.float32, np.float32(2.0 ** -24)
    # Tile 0 (columns 0..15): 1536 at (0, 0): amax 1536 = K, c = decode = 1, byte 0x78,
    # code 7. Tile 1: row 0 = [5, 6, 1 - v, 1 - v, 0 ...] and v at the terms n = 16 a + b
    # listed below (elements that round to 0 in both candidates: term v in each).
    # 6 candidate (s = 1): 5 -> 4 (tie, even), 6 -> 6, 1 - v -> 1: terms 1, 0, v, v.
    # 4 candidate (s = 1.5, factor fl(1/1.5)): 5 -> 3 (4.5), 6 -> 4 (6), 1 - v -> 0.5
    #   (0.75): terms 0.5, 0, 0.25 - v, 0.25 - v.
    # torch: accumulators n % 32: err6 lanes 1, 0, 4v, v, v, v, 2v, v; from 0 in float32:
    #   1, 1, 1 + 4v, 1 + 4v (1 + 5v ties to even), 1 + 4v, 1 + 4v, 1 + 6v, 1 + 8v.
    #   err4 lanes 0.5, 0, 0.25 + 2v, 0.25 - v, v, v, 2v, v: 0.5, 0.5, 0.75 + 2v, 1 (1 + v
    #   ties to even), 1, 1, 1 + 2v, 1 + 4v. 1 + 4v < 1 + 8v: 4 wins, byte 0x3C on all 16
    #   rows, row 0 codes 5 6 1 1: 65 11.
    # Sequential: err6 = 1 (each v lost), err4 = 0.5, 0.75 - v, 1 - 2v, 1 - v, 1, then 1:
    #   a tie, 6 kept (0x38, 76 22).
    ns = [5, 6, 10, 34, 68, 135, 166, 170]
    x = np.zeros((16, 32), F32)
    x[0, 0] = 1536
    x[0, 16:20] = [5, 6, 1 - v, 1 - v]
    for n in ns:
        x[n // 16, 16 + n % 16] = v
    want_s = np.tile(np.array([0x78, 0x3C], np.uint8), (16, 1))
    want_p = np.zeros((16, 16), np.uint8)
    want_p[0, 0] = 0x07
    want_p[0, 8:10] = [0x65, 0x11]
    s, p, a = nvfp4_four_over_six(x, "mae", block_2d=True)
    assert np.array_equal(s, want_s) and np.array_equal(p, want_p) and a == 1536
    rp, rs, _ = quantize_to_fp4(x, "mae", True)
    assert np.array_equal(rs.view(np.uint8), want_s) and np.array_equal(rp, want_p)
    xf, _, prm, _ = fos.prepare_2d(x, "W", "mae", True, "fouroversix", None, None)
    unit = [np.zeros((16, 16), np.uint8), np.zeros((16, 2), np.uint8)]
    fos._four_over_six_kernel(xf, 16, prm, *unit)
    assert np.array_equal(unit[0], want_p) and np.array_equal(unit[1], want_s)
    # the terms above, in both orders: the data tell the orders apart
    t6 = np.zeros(256, F32)
    t4 = np.zeros(256, F32)
    t6[[0, 2, 3]] = [1, v, v]
    t4[[0, 2, 3]] = [0.5, F32(0.25) - v, F32(0.25) - v]
    t6[ns] = v
    t4[ns] = v
    assert lane_sum_torch(t6[None])[0] == F32(1) + 8 * v and lane_sum_torch(t4[None])[0] == F32(1) + 4 * v
    seq6, seq4 = F32(0), F32(0)
    for n in range(256):
        seq6, seq4 = F32(seq6 + t6[n]), F32(seq4 + t4[n])
    assert seq6 == seq4 == 1


def test_2d_tiles_share_one_byte():
    rng = np.random.default_rng(1)
    x = inputs(rng, 32, 64, "normal").astype(np.float32)
    s, _, _ = nvfp4_four_over_six(x, "mae", block_2d=True)
    for t in range(2):
        assert (s[16 * t:16 * t + 16] == s[16 * t]).all()


_f32 = st.floats(-1e6, 1e6, width=32, allow_subnormal=True) | st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 6.0, 4.0, 3.0, 1e-30, -1e-30, 448.0, 1536.0, 1e-34, 1e-33, 1e-32, 3e38])


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.sampled_from([16, 32]), st.sampled_from([16, 32, 48])), elements=_f32),
       st.sampled_from(RULES), st.booleans())
def test_property_equals_the_reference(x, rule, two_d):
    amax = float(np.abs(x).max())
    k = {"static_6": 2688, "static_4": 1792}.get(rule, 1536)
    if 0 < amax < k * 1024 / float(np.finfo(np.float32).max):
        with pytest.raises(ValueError, match="too small"):
            nvfp4_four_over_six(x, rule, block_2d=two_d)
        return
    check(x, rule, two_d)


def test_thread_count_does_not_matter():
    rng = np.random.default_rng(2)
    x = inputs(rng, 64, 256, "wide").astype(np.float32)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = nvfp4_four_over_six(x, "mse")
        numba.set_num_threads(before)
        many = nvfp4_four_over_six(x, "mse")
    finally:
        numba.set_num_threads(before)
    assert all(np.array_equal(a, b) for a, b in zip(one, many))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 17), np.float32), "multiple of 16"),
    (np.zeros(32, np.float32), "2-D"),
    (np.array([[np.nan] + [0.0] * 15], np.float32), r"non-finite .* index \(0, 0\)"),
    (np.array([[0.0] * 17 + [1e39] + [0.0] * 14]), r"index \(0, 17\).*out of float32 range"),
    (np.full((1, 16), 1e-37, np.float32), "too small"),
    (np.array([[1e-34] + [1e-39] * 31], np.float32), "too small"),  # K / amax finite, the factor not
    (np.array([[2e-33] + [2e-38] * 31], np.float32), "too small"),
])
def test_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        nvfp4_four_over_six(bad)


def test_bad_rule_and_2d_rows():
    with pytest.raises(ValueError, match="rule for recipe .fouroversix. must be one of"):
        nvfp4_four_over_six(np.zeros((16, 16), np.float32), "mse2")
    with pytest.raises(ValueError, match="16x16 blocks"):
        nvfp4_four_over_six(np.zeros((8, 16), np.float32), block_2d=True)
    with pytest.raises(ValueError, match="rule for recipe .te. must be one of"):
        nvfp4_four_over_six(np.zeros((16, 16), np.float32), "abs_max", recipe="te")
    with pytest.raises(ValueError, match="recipe must be one of"):
        nvfp4_four_over_six(np.zeros((16, 16), np.float32), recipe="torchao")
    with pytest.raises(ValueError, match="scale_max must be one of"):
        nvfp4_four_over_six(np.zeros((16, 16), np.float32), scale_max=300)


@pytest.mark.parametrize("amax", [1e-32, 1e-30, 1e30, 3e38])
def test_extreme_magnitudes(amax):
    """Just above the smallest amax taken, and near float32's top (dequant overflows to
    inf for both candidates: 6 kept), against the reference; float16 and float64 input
    (converted to float32) too."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((16, 64)) * 10.0 ** rng.integers(-6, 1, (16, 64))).astype(np.float32)
    x = (x / np.abs(x).max() * np.float32(amax)).astype(np.float32)
    for rule in RULES:
        check(x, rule, False)
    h = rng.standard_normal((16, 64)).astype(np.float16)
    check(h.astype(np.float32), "mse", True)
    assert all(np.array_equal(a, b) for a, b in zip(nvfp4_four_over_six(h, "mse"), nvfp4_four_over_six(h.astype(np.float32), "mse")))
    d = rng.standard_normal((16, 64))
    assert all(np.array_equal(a, b) for a, b in zip(nvfp4_four_over_six(d), nvfp4_four_over_six(d.astype(np.float32))))


def test_zero_tensor():
    s, p, a = nvfp4_four_over_six(np.zeros((16, 32), np.float32), "mse", block_2d=True)
    assert a == 0 and not s.any() and not p.any()


@pytest.mark.parametrize("recipe, rules", [("fouroversix", RULES), ("te", ("mae", "mse"))])
@pytest.mark.parametrize("tile_rows", [1, 16])
def test_the_grouped_cpu_kernel_is_the_unit(recipe, rules, tile_rows):
    """The CPU kernels run 16 blocks or 16x16 tiles side by side (four_over_six._group_1d,
    _group_2d) and compute the codes of the chosen candidate only; they equal the
    per-unit definition (four_over_six_unit, which the GPU twin runs) on rows of 2 groups
    and a smaller remainder, every rule, both recipes and both E4M3 bounds, edge data
    where both candidates win; and the port on such rows."""
    from nvfp4_np import four_over_six as fos

    grouped = fos._four_over_six_rows if tile_rows == 1 else fos._four_over_six_tiles
    rng = np.random.default_rng(zlib.crc32(recipe.encode()) + tile_rows)
    picked = {r: [0, 0] for r in ("mse", "mae", "abs_max")}  # (units that kept 6, that took 4)
    for kind in ("normal", "wide", "grid", "int", "tile-spike", "sparse"):
        x = inputs(rng, 32, 16 * 16 * 2 + 48, kind).astype(np.float32)
        x[0, :5] = [-0.0, 0.0, -1e-30, 1e-30, -0.0]
        for rule in rules:
            for smax in (256, 448):
                xf, _, p, _ = fos.prepare_2d(x, "W", rule, tile_rows == 16, recipe, smax, None)
                got = [np.full((32, x.shape[1] // 2), 0xAA, np.uint8), np.full((32, x.shape[1] // 16), 0xAA, np.uint8)]
                want = [np.full_like(a, 0x55) for a in got]
                grouped(xf, p, *got)
                fos._four_over_six_kernel(xf, tile_rows, p, *want)
                assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), (kind, rule, smax)
                if rule in picked and recipe == "fouroversix":
                    # (the 6 candidate's bytes: static_6 under the same bound)
                    xf6, _, p6, _ = fos.prepare_2d(x, "W", "static_6", tile_rows == 16, recipe, smax, None)
                    six = [np.zeros_like(a) for a in got]
                    fos._four_over_six_kernel(xf6, tile_rows, p6, *six)
                    took4 = got[1] != six[1]
                    picked[rule][0] += int((~took4).sum())
                    picked[rule][1] += int(took4.sum())
            if recipe == "fouroversix":
                check(x, rule, tile_rows == 16)
    if recipe == "fouroversix":  # both candidates win somewhere, under every error rule
        assert all(kept > 0 and took > 0 for kept, took in picked.values()), picked
