"""nvfp4_optimal against the literal reference of the seed's bounded search and against
the exhaustive 126-scale argmin (tests/naive.py), bit for bit."""

import warnings

import numba
import numpy as np
import pytest
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_bits_equal
from datasets import (
    DISTRIBUTIONS,
    MAGNITUDES,
    edge_matrix,
    mixed_blocks,
    order_sensitive_blocks,
    random_blocks,
)
from naive import (
    BOUNDARIES,
    CODEBOOK,
    E4M3_NONNEG,
    ROUNDINGS,
    SCALES,
    UNDERFLOW_AMAX,
    bits,
    ref_exhaustive_argmin,
    ref_naive,
    ref_optimal,
    ref_sse,
)
from nvfp4_np import nvfp4_naive, nvfp4_optimal
from nvfp4_np._block import code_sse
from nvfp4_np._block import block_energy
from nvfp4_np._window import clip_bound, dead_zone_bound, search_window
from nvfp4_np._simd import (
    DEQUANT_ROWS,
    FIRST_WALK_CODE,
    LOWER_ROWS,
    block_magnitudes,
    count_above,
    dead_zone_count,
    lane_at,
    sort_lanes,
    sse_at,
    sum_squares,
    table_row,
    walk_down,
)
from nvfp4_np.optimal import _scan, _walk
from strategies import block_arrays, near_boundary_blocks

F32 = np.float32


def run_optimal(x, rounding, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return nvfp4_optimal(x, return_dequant=True, rounding=rounding, **kw)


def check_against_reference(x, rounding, what=""):
    s, q, dq = run_optimal(x, rounding)
    with np.errstate(all="ignore"):
        rs, rq = ref_optimal(x, rounding)
    assert_bits_equal(s, rs, f"scales {what}")
    assert_bits_equal(q, rq, f"quants {what}")
    assert_bits_equal(dq, rq * rs[:, None], f"dequant {what}")
    return s, q, dq


# ------------------------------------------------------------ literal seed reference


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_random_blocks(bs, rounding, dist, magnitude):
    rng = np.random.default_rng([bs, len(dist), len(magnitude), 1])
    x = random_blocks(rng, 1000, bs, dist, magnitude)
    s, _, _ = check_against_reference(x, rounding, f"{dist}/{magnitude}")
    # the search does something: many blocks leave the naive scale
    s0, _ = ref_naive(x, rounding)
    assert (s != s0).mean() > 0.2


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_edge_blocks(bs, rounding):
    names, x = edge_matrix(bs)
    s, q, dq = run_optimal(x, rounding)
    with np.errstate(all="ignore"):
        rs, rq = ref_optimal(x, rounding)
    for i, name in enumerate(names):
        assert_bits_equal(s[i], rs[i], f"scale of {name}")
        assert_bits_equal(q[i], rq[i], f"quants of {name}")
        assert_bits_equal(dq[i], rq[i] * rs[i], f"dequant of {name}")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_tie_rule_examples_from_seed_behavior(rounding):
    # SEED_BEHAVIOR.md d: all ones -> s0 = 0.171875, the seed picks 0.25 (the smallest of
    # the scales with SSE 0); [3, 0, ...] -> s0 = 0.5 has SSE 0 and wins the tie.
    ones = np.ones(16, F32)
    s, q = nvfp4_optimal(ones, rounding=rounding)
    assert s == 0.25 and (q == 4).all()
    assert nvfp4_naive(ones)[0] == 0.171875
    three = np.zeros(32, F32)
    three[0] = 3.0
    s, q = nvfp4_optimal(three, rounding=rounding)
    assert s == 0.5 and q[0] == 6 and (bits(q[1:]) == 0).all()


@pytest.mark.parametrize("bs", [16, 32])
def test_underflow_and_huge_blocks(bs):
    """SEED_BEHAVIOR.md c: amax <= 6*2^-10 keeps scale 0 and quants +-6; amax/6 > 448
    gives 448 with clipped quants."""
    names, x = edge_matrix(bs)
    s, q, dq = run_optimal(x, "seed")
    r = dict(zip(names, zip(s, q, dq)))
    for name in ("amax_1e-4", "amax_0.005", "amax_6x2^-10", "all_zero", "all_neg_zero"):
        assert r[name][0] == 0, name
        assert (r[name][2] == 0).all()
    xr = x[names.index("amax_1e-4")]
    assert_bits_equal(r["amax_1e-4"][1], np.sign(xr) * F32(6) + F32(0), "tiny quants")
    for name in ("amax_1e4", "amax_3000"):
        assert r[name][0] == 448.0
        assert np.abs(r[name][2]).max() == 2688.0


# -------------------------------------------------------------- exhaustive argmin


@pytest.fixture(scope="module")
def exhaustive_data():
    """>= 10^4 random blocks (both block sizes, all distributions and magnitudes) with
    amax > 6*2^-10, and the exhaustive argmin for both roundings."""
    rng = np.random.default_rng(2024)
    out = {}
    for bs in (16, 32):
        x = mixed_blocks(rng, 1000, bs)
        x = x[np.abs(x).max(axis=1) > UNDERFLOW_AMAX]
        for rounding in ROUNDINGS:
            out[bs, rounding] = (x, ref_exhaustive_argmin(x, rounding))
    return out


def test_exhaustive_dataset_size(exhaustive_data):
    assert sum(len(out[0]) for key, out in exhaustive_data.items() if key[1] == "seed") >= 10**4


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_optimal_equals_exhaustive_argmin(exhaustive_data, bs, rounding):
    x, (es, eq, ee) = exhaustive_data[bs, rounding]
    s, q, dq = run_optimal(x, rounding)
    assert_bits_equal(s, es, "scales vs exhaustive")
    assert_bits_equal(q, eq, "quants vs exhaustive")
    assert_bits_equal(dq, eq * es[:, None], "dequant vs exhaustive")
    # the returned scale attains the minimum SSE over all 126 scales and s0
    assert_bits_equal(ref_sse(x, s, rounding), ee, "SSE at the chosen scale")


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_literal_reference_equals_exhaustive(exhaustive_data, bs, rounding):
    """Consistency of the two references (the seed's pruning never loses the argmin
    above the underflow threshold, SEED_BEHAVIOR.md d)."""
    x, (es, _, _) = exhaustive_data[bs, rounding]
    rs, _ = ref_optimal(x[:1500], rounding)
    assert_bits_equal(rs, es[:1500], "ref_optimal vs exhaustive")


def sequential_sum(v):
    """A plain left-to-right float32 sum (NOT the seed's order)."""
    total = v[..., 0].copy()
    for j in range(1, v.shape[-1]):
        total = (total + v[..., j]).astype(F32)
    return total


def reversed_lanes_sum(v):
    """The seed's 8 lanes, but added right to left (NOT the seed's order)."""
    lanes = [sequential_sum(v[..., i::8]) for i in range(8)]
    total = lanes[7]
    for acc in lanes[6::-1]:
        total = (total + acc).astype(F32)
    return total


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_summation_order_decides_near_ties(bs, rounding):
    """Blocks where the seed's choice between two scales is decided by the float32
    summation order of the SSE (torch's 8 strided lanes, then left to right): the kernel
    must sum in exactly that order. Numerically equivalent orders are shown to pick
    differently on these blocks, so the test is sensitive to the order."""
    x = order_sensitive_blocks(np.random.default_rng([bs, 99]), 1500, bs)
    es, _, _ = ref_exhaustive_argmin(x, rounding)
    assert 0.05 < (es != np.abs(x).max(axis=1) / 6).mean() < 0.95  # both scales get picked
    for other in (sequential_sum, reversed_lanes_sum, lambda v: v.sum(axis=-1, dtype=F32)):
        alt, _, _ = ref_exhaustive_argmin(x, rounding, summation=other)
        assert (alt != es).mean() > 0.05
    s, q, dq = check_against_reference(x, rounding, "order-sensitive")
    assert_bits_equal(s, es, "scales vs exhaustive")


def test_exhaustive_tie_rule_smallest_scale_after_s0():
    # all ones: SSE 0 at 0.25, 0.5, 1, 2 -> the smallest; [3,0..]: s0 = 0.5 has SSE 0
    x = np.zeros((2, 16), F32)
    x[0] = 1.0
    x[1, 0] = 3.0
    es, _, ee = ref_exhaustive_argmin(x, "seed")
    assert es.tolist() == [0.25, 0.5] and ee.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("bs", [16, 32])
def test_underflow_blocks_keep_scale_zero(bs):
    """Documented seed behaviour (SEED_BEHAVIOR.md d): for amax <= 6*2^-10 the naive scale
    is 0, the block is classified as noise and keeps scale 0, although a positive scale
    has strictly lower SSE for most such blocks. nvfp4_optimal warns about it."""
    rng = np.random.default_rng(bs)
    x = random_blocks(rng, 2000, bs, "normal", "unit")
    amax = rng.uniform(2.0**-12, float(UNDERFLOW_AMAX), (2000, 1)).astype(F32)
    x = (x / np.abs(x).max(axis=1, keepdims=True) * amax).astype(F32)
    x = x[np.abs(x).max(axis=1) <= UNDERFLOW_AMAX]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s, q = nvfp4_optimal(x)
    assert (s == 0).all()
    assert_bits_equal(q, np.sign(x) * F32(6) + F32(0), "quants +-6")
    runtime = [m for m in w if issubclass(m.category, RuntimeWarning)]
    assert len(runtime) == 1 and str(len(x)) in str(runtime[0].message)
    es, _, ee = ref_exhaustive_argmin(x, "seed")
    e0 = ref_sse(x, np.zeros(len(x), F32))
    assert (ee < e0).mean() > 0.5  # the exhaustive search finds better for most blocks
    assert (es > 0).mean() > 0.5


# ------------------------------------------------------------------ property tests


def check_properties(x, rounding):
    s, q, dq = check_against_reference(x, rounding)
    assert_bits_equal(dq, q * s[:, None], "dequant == quants * scales")
    with np.errstate(all="ignore"):
        s0, _ = ref_naive(x, rounding)
        e_opt = ref_sse(x, s, rounding)
        e_naive = ref_sse(x, s0, rounding)
    assert (e_opt <= e_naive).all()
    assert np.isin(s, np.append(SCALES, F32(0))).all()


@settings(max_examples=150)
@given(x=block_arrays(), rounding=st.sampled_from(ROUNDINGS))
def test_property_arbitrary_finite_blocks(x, rounding):
    check_properties(x, rounding)


@settings(max_examples=150)
@given(x=near_boundary_blocks(), rounding=st.sampled_from(ROUNDINGS))
def test_property_near_boundaries(x, rounding):
    check_properties(x, rounding)


@settings(max_examples=60)
@given(x=near_boundary_blocks(), rounding=st.sampled_from(ROUNDINGS))
def test_property_matches_exhaustive_above_underflow(x, rounding):
    x = x[np.abs(x).max(axis=1) > UNDERFLOW_AMAX]
    if len(x) == 0:
        return
    s, q = nvfp4_optimal(x, rounding=rounding)
    with np.errstate(all="ignore"):
        es, eq, _ = ref_exhaustive_argmin(x, rounding)
    assert_bits_equal(s, es, "scales vs exhaustive")
    assert_bits_equal(q, eq, "quants vs exhaustive")


# ------------------------------------------ the sorted window: repeated magnitudes, zeros


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_blocks_of_repeated_magnitudes(bs, rounding):
    """The window's sort ranks equal magnitudes together (one slot, the next ones
    repeating it): blocks drawn from a few magnitudes, with zeros and both signs, equal
    the literal seed reference (torch's sort and float64 cumsum) and the exhaustive argmin."""
    rng = np.random.default_rng([bs, 7])
    n = 600
    levels = rng.choice(np.array([0.0, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0], F32), (n, 3))
    x = np.take_along_axis(levels, rng.integers(0, 3, (n, bs)), axis=1)
    x = (x * rng.choice(np.array([-1, 1], F32), (n, bs))).astype(F32)
    x[: n // 4] *= F32(rng.uniform(0.5, 2.0))  # not only these values
    check_against_reference(x, rounding, "repeated magnitudes")
    keep = np.abs(x).max(axis=1) > UNDERFLOW_AMAX
    s, q, _ = run_optimal(x[keep], rounding)
    with np.errstate(all="ignore"):
        es, eq, _ = ref_exhaustive_argmin(x[keep], rounding)
    assert_bits_equal(s, es, "scales vs exhaustive")
    assert_bits_equal(q, eq, "quants vs exhaustive")


# --------------------------------------- the seed recipe's twin kernel (constants frozen in)


def test_seed_twin_is_used_only_for_the_seed_constants(monkeypatch):
    from nvfp4_np import core, recipes

    calls = []

    def fake(name):
        def kernel(x, xbits, rc, dec, out, status):
            calls.append((name, rc))
            status[:] = 0
            out[0][:] = 0  # scale bytes
            out[1][:] = 0  # packed codes
        return kernel

    W = np.ones((4, 16), F32)
    for recipe, rounding, want in (("seed", None, "twin"), ("seed", "rne", "generic"), ("te", None, "generic")):
        calls.clear()
        core.run_block_kernel((fake("generic"), fake("twin")), W, -1, False, recipe, rounding, None)
        assert [c[0] for c in calls] == [want]
        assert (calls[0][1] == recipes.SEED_PARAMS) == (want == "twin")


@pytest.mark.parametrize("bs", [16, 32])
def test_seed_twin_equals_the_generic_kernel(bs):
    from nvfp4_np import core, formats, optimal, recipes

    rng = np.random.default_rng(bs)
    x = mixed_blocks(rng, 200, bs)
    outs = []
    for kernel in (optimal._optimal_kernel, optimal._optimal_kernel_seed):
        n = len(x)
        out = core.kernel_outputs(n, bs)
        status = np.empty(n, np.uint8)
        kernel(x, x.view(np.uint32), recipes.SEED_PARAMS, formats.E4M3_DECODE, out, status)
        outs.append(out + (status,))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@intrinsic
def _lane(typingctx, v, i):
    """Lane ``i`` of one of _simd's vectors (for these checks only)."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], builder.trunc(args[1], ir.IntType(32)))

    return (types.float32 if v.kind == "f32" else types.int32)(v, i), codegen


@numba.njit(cache=True, error_model="numpy")
def _walk_steps(x, dec, rc, groups):
    """Mismatches per block and code k (1..126): count_above's indices at k against the
    E2M1 index by comparisons written here, walk_down from k - 1 against count_above at k
    (k >= FIRST_WALK_CODE), and sse_at against code_sse."""
    n, bs = x.shape
    sq = np.empty(bs, np.float32)
    bad = np.zeros(3, np.int64)
    for b in range(n):
        a = block_magnitudes(x, b, groups)
        prev = count_above(a, dec[1])
        for k in range(1, 127):
            s = dec[k]
            idx = count_above(a, s)
            for i in range(bs):
                want = 0  # how many thresholds b*s the magnitude exceeds (a tie stays below)
                for j in range(7):
                    want += abs(x[b, i]) > BOUNDARIES[j] * s
                bad[0] += _lane(idx, i) != want
            if k >= FIRST_WALK_CODE:
                walked = walk_down(a, prev, table_row(LOWER_ROWS, k))
                for i in range(bs):
                    bad[1] += _lane(walked, i) != _lane(idx, i)
            bad[2] += sse_at(a, idx, table_row(DEQUANT_ROWS, k)) != code_sse(x, b, k, dec, rc, sq)
            prev = idx
    return bad


def _walk_blocks(bs):
    """Mixed and edge blocks, and blocks of every threshold (and its float32 neighbours)
    of codes from the subnormal ones up."""
    from datasets import threshold_blocks

    rng = np.random.default_rng([bs, 17])
    return np.ascontiguousarray(np.concatenate([
        mixed_blocks(rng, 20, bs), edge_matrix(bs)[1],
        threshold_blocks(rng, (1, 2, 3, 4, 5, 7, 8, 9, 20, 45, 64, 100, 118, 125, 126), bs)]))


def test_walk_tables_are_exact_products():
    """Each row of the scan's tables is the E2M1 values (and the thresholds below them,
    -1 below index 0) times the code's E4M3 scale, with no rounding: the float64 products
    equal the stored float32 numbers."""
    dec = E4M3_NONNEG.astype(np.float64)  # (the tests' own tables, decoded by ml_dtypes)
    q = CODEBOOK.astype(np.float64)
    lower = np.concatenate([[-1.0], BOUNDARIES.astype(np.float64)])
    np.testing.assert_array_equal(DEQUANT_ROWS.astype(np.float64), dec[:, None] * q[None, :])
    np.testing.assert_array_equal(LOWER_ROWS.astype(np.float64), dec[:, None] * lower[None, :])


@pytest.mark.parametrize("bs", [16, 32])
def test_walk_indices_and_errors_equal_the_comparisons(bs):
    """The CPU scan's vector primitives (_simd): at every code, the E2M1 indices equal
    a count of the thresholds exceeded, the walk from the code below equals them from
    FIRST_WALK_CODE on (where a code step is too small to cross two thresholds), and the
    SSE equals code_sse bit for bit, on blocks of every tie and near-tie."""
    from nvfp4_np import formats, recipes

    groups = (0,) * (bs // 8)
    bad = _walk_steps(_walk_blocks(bs), formats.E4M3_DECODE, recipes.SEED_PARAMS, groups)
    assert bad.tolist() == [0, 0, 0]


@numba.njit(cache=True, error_model="numpy")
def _scans(x, rc, dec, windows, groups):
    """(code, error) of a plain ascending strict scan over code_sse (the seed's rule,
    written out here), of _scan and of _walk, for every block and window (lo, hi), from
    s0 = the middle of the window or, for odd blocks, a code below it (its error as the
    starting best)."""
    n, bs = x.shape
    sq = np.empty(bs, np.float32)
    res = np.empty((n, len(windows), 6), np.float64)
    for b in range(n):
        a = block_magnitudes(x, b, groups)
        for w in range(len(windows)):
            lo, hi = windows[w, 0], windows[w, 1]
            c0 = np.uint8((lo + hi) // 2 if b % 2 == 0 else max(lo - 2, 1))
            e0 = code_sse(x, b, c0, dec, rc, sq)
            best_c, best_e = c0, e0
            for k in range(lo, hi + 1):
                e = code_sse(x, b, k, dec, rc, sq)
                if e < best_e:
                    best_c, best_e = k, e
            res[b, w, 0], res[b, w, 1] = best_c, best_e
            res[b, w, 2], res[b, w, 3] = _scan(x, b, rc, dec, sq, c0, e0, lo, hi)
            res[b, w, 4], res[b, w, 5] = _walk(a, c0, e0, lo, hi)
    return res


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_scans_equal_a_plain_scan(bs, rounding):
    """The search's scans, one code at a time (GPU, non-exact recipes) and by the vector
    walk (CPU, exact recipes), pick the same code with the same error as a plain scan,
    for windows starting below and above FIRST_WALK_CODE, empty, short and long ones."""
    from nvfp4_np import formats, recipes

    rng = np.random.default_rng([bs, 7])
    x = np.ascontiguousarray(np.concatenate([mixed_blocks(rng, 40, bs), edge_matrix(bs)[1]]))
    rc = recipes.params("seed", rounding, F32(0.0))
    windows = np.array([(lo, lo + width) for lo in (1, 2, 3, 4, 5, 7, 8, 9, 30, 60, 100, 110, 118, 126)
                        for width in (-1, 0, 1, 5, 7, 8, 9, 15, 16, 17, 24, 40) if lo + width <= 126],
                       np.int64)
    res = _scans(x, rc, formats.E4M3_DECODE, windows, (0,) * (bs // 8))
    for scan in (2, 4):
        np.testing.assert_array_equal(res[..., scan], res[..., 0])
        np.testing.assert_array_equal(res[..., scan + 1], res[..., 1])


@numba.njit(cache=True, error_model="numpy")
def _both_windows(x, e0s, groups):
    """Per block: the magnitudes by sort_lanes, the energy by sum_squares and by
    block_energy, and for each e0 in its row of ``e0s`` the window by search_window
    (s_min, s_max, noise) and from the vector path (clip_bound, dead_zone_bound of the
    sorted lane dead_zone_count gives, noise)."""
    n, bs = x.shape
    xbits = x.view(np.uint32)
    work = np.empty(2 * bs, np.uint32)
    srt = np.empty(bs, np.float32)
    sq = np.empty(bs, np.float32)
    sorted_lanes = np.empty((n, bs), np.float32)
    energy = np.empty((n, 2), np.float32)
    res = np.empty((n, e0s.shape[1], 6), np.float32)
    for b in range(n):
        a = block_magnitudes(x, b, groups)
        v = sort_lanes(a)
        for i in range(bs):
            sorted_lanes[b, i] = lane_at(v, i)
        energy[b, 0], energy[b, 1] = sum_squares(a), block_energy(x, b, sq)
        amax = np.float32(0.0)
        for i in range(bs):
            amax = max(amax, abs(x[b, i]))
        for j in range(e0s.shape[1]):
            e0 = e0s[b, j]
            s_min, s_max, noise = search_window(xbits, b, amax, e0, work, srt)
            k = dead_zone_count(v, e0)
            res[b, j, 0], res[b, j, 1], res[b, j, 2] = s_min, s_max, noise
            res[b, j, 3], res[b, j, 4], res[b, j, 5] = clip_bound(amax, e0), dead_zone_bound(lane_at(v, min(k, bs - 1))), k == bs
    return sorted_lanes, energy, res


@pytest.mark.parametrize("bs", [16, 32])
def test_window_in_lanes_equals_search_window(bs):
    """The CPU's window from the block in vector registers (a sorting network, the seed's
    prefix count) equals search_window's, for e0 at every prefix of the sorted squares
    (the seed's cumsum, written here in NumPy), its float32 neighbours, 0 and beyond the
    energy; with ties, zeros and repeated magnitudes."""
    rng = np.random.default_rng([bs, 19])
    x = np.concatenate([mixed_blocks(rng, 20, bs), edge_matrix(bs)[1],
                        rng.choice(F32([0, 0.5, 1, 1.5, -1]), (60, bs)),  # repeats and zeros
                        np.round(rng.standard_normal((60, bs)) * 4).astype(F32) / 4])
    x = np.ascontiguousarray(x, F32)
    mags = np.sort(np.abs(x), axis=1)
    with np.errstate(over="ignore"):  # (edge blocks: squares beyond float32)
        prefix = np.cumsum((mags * mags).astype(np.float64), axis=1).astype(F32)
    e0s = np.concatenate([prefix, np.nextafter(prefix, F32(0)), np.nextafter(prefix, F32(np.inf)),
                          np.zeros((len(x), 1), F32), prefix[:, -1:] * 2], axis=1)
    sorted_lanes, energy, res = _both_windows(x, e0s, (0,) * (bs // 8))
    assert_bits_equal(sorted_lanes, mags, "sorting network")
    assert_bits_equal(energy[:, 0], energy[:, 1], "energy")
    assert_bits_equal(res[..., 3], res[..., 0], "s_min")
    np.testing.assert_array_equal(res[..., 5], res[..., 2])
    assert res[..., 2].any() and not res[..., 2].all()
    window = res[..., 2] == 0  # s_max is defined where the block is not noise
    assert_bits_equal(res[..., 4][window], res[..., 1][window], "s_max")
