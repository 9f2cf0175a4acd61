"""nvfp4_naive against the reference (tests/naive.py), bit for bit."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_bits_equal
from datasets import DISTRIBUTIONS, MAGNITUDES, edge_blocks, edge_matrix, random_blocks
from naive import ROUNDINGS, bits, ref_naive
from nvfp4_np import nvfp4_naive
from strategies import block_arrays, near_boundary_blocks

F32 = np.float32


def run_naive(x, rounding):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return nvfp4_naive(x, return_dequant=True, rounding=rounding)


def check_against_reference(x, rounding, what=""):
    s, q, dq = run_naive(x, rounding)
    with np.errstate(all="ignore"):
        rs, rq = ref_naive(x, rounding)
    assert_bits_equal(s, rs, f"scales {what}")
    assert_bits_equal(q, rq, f"quants {what}")
    assert_bits_equal(dq, rq * rs[:, None], f"dequant {what}")


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("dist", DISTRIBUTIONS)
@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_random_blocks(bs, rounding, dist, magnitude):
    rng = np.random.default_rng([bs, len(dist), len(magnitude)])
    x = random_blocks(rng, 2000, bs, dist, magnitude)
    check_against_reference(x, rounding, f"{dist}/{magnitude}")


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("bs", [16, 32])
def test_edge_blocks(bs, rounding):
    names, x = edge_matrix(bs)
    s, q, dq = run_naive(x, rounding)
    with np.errstate(all="ignore"):
        rs, rq = ref_naive(x, rounding)
    for i, name in enumerate(names):
        assert_bits_equal(s[i], rs[i], f"scale of {name}")
        assert_bits_equal(q[i], rq[i], f"quants of {name}")
        assert_bits_equal(dq[i], rq[i] * rs[i], f"dequant of {name}")


@pytest.mark.parametrize("bs", [16, 32])
def test_edge_blocks_seed_behavior(bs):
    """Expected values written down in SEED_BEHAVIOR.md sections b and c."""
    e = edge_blocks(bs)
    names = list(e)
    s, q, dq = run_naive(np.stack(list(e.values())), "seed")
    r = {n: (s[i], q[i], dq[i]) for i, n in enumerate(names)}
    for name in ("all_zero", "all_neg_zero"):
        assert r[name][0] == 0 and (bits(r[name][1]) == 0).all() and (bits(r[name][2]) == 0).all()
    for name in ("amax_1e-4", "amax_0.005", "amax_6x2^-10"):
        sc, qq, dd = r[name]
        x = e[name]
        assert sc == 0
        assert_bits_equal(qq, np.sign(x) * F32(6) + F32(0), f"{name} quants")  # +0.0 at x == 0
        assert (dd == 0).all() and np.array_equal(np.signbit(dd), x < 0)
    assert r["amax_above_6x2^-10"][0] == 2.0**-9
    for name in ("amax_1e4", "amax_3000", "amax_2688", "amax_2784", "amax_2784.0002"):
        assert r[name][0] == 448.0
    assert r["amax_1e4"][2][np.argmax(np.abs(e["amax_1e4"]))] == 2688.0
    assert r["all_one"][0] == 0.171875
    assert r["base"][0] == 0.46875  # 2.9 / 6 = 0.4833 lies nearer 0.46875 than 0.5
    for k in (2.0**-6, 0.5, 72.0):
        assert r[f"boundaries_s{k:g}"][0] == k  # amax / 6 is exact
    negz = r["neg_to_neg_zero"][1][1:6]
    assert bits(negz).tolist() == [0x80000000, 0, 0x80000000, 0, 0x80000000]


def test_boundary_ties_differ_between_roundings():
    s = F32(0.5)
    x = np.array([3.0, 0.375, 0.875, 1.75, -0.375, -0.875, -1.75, 0.125] + [0.0] * 8, F32)
    _, q_seed = nvfp4_naive(x)
    _, q_rne = nvfp4_naive(x, rounding="rne")
    assert nvfp4_naive(x)[0] == s
    assert_bits_equal(q_seed, np.array([6, 0.5, 1.5, 3, -0.5, -1.5, -3, 0] + [0] * 8, F32), "seed")
    assert_bits_equal(q_rne, np.array([6, 1, 2, 4, -1, -2, -4, 0] + [0] * 8, F32), "rne")


def test_return_dequant_false_gives_two_outputs():
    x = random_blocks(np.random.default_rng(1), 10, 16, "normal", "unit")
    out = nvfp4_naive(x)
    assert len(out) == 2
    s, q, dq = nvfp4_naive(x, return_dequant=True)
    assert_bits_equal(out[0], s, "scales")
    assert_bits_equal(out[1], q, "quants")


# ------------------------------------------------------------------ property tests


@settings(max_examples=150)
@given(x=block_arrays(), rounding=st.sampled_from(ROUNDINGS))
def test_property_arbitrary_finite_blocks(x, rounding):
    check_against_reference(x, rounding)


@settings(max_examples=150)
@given(x=near_boundary_blocks(), rounding=st.sampled_from(ROUNDINGS))
def test_property_near_boundaries(x, rounding):
    check_against_reference(x, rounding)
