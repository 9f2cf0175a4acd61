"""The seed's float32 lane sum has one definition, nvfp4_np.formats.seed_sum_inplace, and
twins written for speed: nvfp4_np.seed_helpers.seed_sum (NumPy, any leading shape),
_simd's vector form (through sum_squares), _block.block_energy and admm._lane_dot (many
blocks at once). Each is held here to the definition, and the definition to the
reference written from torch's order in tests/naive.py, on vectors whose sum depends on
the order of additions (checked: a pairwise or sequential sum differs on most of them)."""

import numba
import numpy as np
import pytest

from conftest import assert_bits_equal
from naive import ref_seed_sum
from nvfp4_np._block import block_energy
from nvfp4_np._simd import block_magnitudes, sum_squares
from nvfp4_np.admm import _lane_dot
from nvfp4_np.formats import seed_sum_inplace
from nvfp4_np.seed_helpers import seed_sum

F32 = np.float32


def order_sensitive(rng, n, bs):
    """Rows of bs float32 values over 20 binades with random signs."""
    return (rng.standard_normal((n, bs)) * 2.0 ** rng.integers(-10, 10, (n, bs))).astype(F32)


@numba.njit(cache=True)
def _definition(v):
    out = np.empty(v.shape[0], np.float32)
    for b in range(v.shape[0]):
        out[b] = seed_sum_inplace(v[b].copy())
    return out


@numba.njit(cache=True)
def _kernel_forms(x, groups):
    """Per row of x: sum of squares by _simd (vector lanes) and by block_energy."""
    n, bs = x.shape
    sq = np.empty(bs, np.float32)
    out = np.empty((n, 2), np.float32)
    for b in range(n):
        out[b, 0] = sum_squares(block_magnitudes(x, b, groups))
        out[b, 1] = block_energy(x, b, sq)
    return out


@numba.njit(cache=True)
def _lane_dots(A, B):
    res = np.empty(A.shape[1], np.float32)
    _lane_dot(A, B, A.shape[1], np.empty_like(A), res)
    return res


@pytest.mark.parametrize("bs", [16, 32])
def test_the_definition_is_torchs_order(bs, rng):
    v = order_sensitive(rng, 2000, bs)
    want = ref_seed_sum(v)
    assert_bits_equal(_definition(v), want, "seed_sum_inplace")
    # the data tells orders apart: other float32 orders disagree on many rows
    sequential = np.zeros(len(v), F32)
    for i in range(bs):
        sequential = (sequential + v[:, i]).astype(F32)
    assert (sequential != want).mean() > 0.2 and (v.sum(axis=1, dtype=F32) != want).mean() > 0.2


@pytest.mark.parametrize("bs", [16, 32])
def test_every_twin_equals_the_definition(bs, rng):
    x = order_sensitive(rng, 2000, bs)
    sq = (x * x).astype(F32)
    want = _definition(sq)
    assert_bits_equal(seed_sum(sq), want, "seed_helpers.seed_sum")
    assert_bits_equal(seed_sum(sq.reshape(40, 50, bs)), want.reshape(40, 50), "seed_helpers.seed_sum, 3-d")
    forms = _kernel_forms(x, (0,) * (bs // 8))
    assert_bits_equal(forms[:, 0], want, "_simd.sum_squares")
    assert_bits_equal(forms[:, 1], want, "_block.block_energy")
    y = order_sensitive(rng, 2000, bs)
    prod = (x * y).astype(F32)  # _lane_dot rounds each product to float32 first, as torch does
    assert_bits_equal(_lane_dots(np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)), _definition(prod),
                      "admm._lane_dot")
