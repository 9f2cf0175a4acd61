"""GPU twin of admm.py (gpu_admm): both modes bit-identical to the CPU path, floats, bytes
and the info dict (tests/gpu_common.py: how to run)."""

import pytest

import numpy as np

from gpu_common import (GROUP_ROWS, IGNORE_UNDERFLOW, activations, assert_same, assert_same_error, edge_weights, gpu,
                        weights)
import nvfp4_np

pytestmark = IGNORE_UNDERFLOW


@pytest.mark.parametrize("recipe", ["seed", "torchao"])
@pytest.mark.parametrize("mode", ["seed", "best"])
def test_admm_matches_cpu(mode, recipe, rng):
    W = weights(rng, GROUP_ROWS, 16)
    X = activations(rng)
    info = mode == "best"
    got = gpu.nvfp4_admm(W, X=X, mode=mode, recipe=recipe, return_dequant=True, return_info=info)
    want = nvfp4_np.nvfp4_admm(W, X=X, mode=mode, recipe=recipe, return_dequant=True, return_info=info)
    if info:
        assert got[-1] == want[-1]
        got, want = got[:-1], want[:-1]
    assert_same(got, want, f"admm {mode} {recipe}")
    assert_same(gpu.nvfp4_admm(W, X=X, mode=mode, recipe=recipe, as_bytes=True),
                nvfp4_np.nvfp4_admm(W, X=X, mode=mode, recipe=recipe, as_bytes=True), f"admm {mode} {recipe} bytes")


@pytest.mark.parametrize("mode", ["seed", "best"])
def test_admm_blocks_of_32(mode, rng):
    """The group kernel with 32 lanes a block (one warp), the info dict included."""
    W = weights(rng, GROUP_ROWS, 32)
    X = activations(rng, bs=32)
    info = mode == "best"
    got = gpu.nvfp4_admm(W, X=X, mode=mode, recipe="te", as_bytes=True, return_info=info)
    want = nvfp4_np.nvfp4_admm(W, X=X, mode=mode, recipe="te", as_bytes=True, return_info=info)
    if info:
        assert got[-1] == want[-1]
        got, want = got[:-1], want[:-1]
    assert_same(got, want, f"admm {mode} bs32")


@pytest.mark.parametrize("mode", ["seed", "best"])
def test_admm_without_rounds(mode, rng):
    """n_outer=0: the start (naive or Hessian-optimal) as it is, and its errors."""
    W = weights(rng, 2, 16)
    X = activations(rng)
    info = mode == "best"
    got = gpu.nvfp4_admm(W, X=X, mode=mode, n_outer=0, as_bytes=True, return_info=info)
    want = nvfp4_np.nvfp4_admm(W, X=X, mode=mode, n_outer=0, as_bytes=True, return_info=info)
    if info:
        assert got[-1] == want[-1]
        got, want = got[:-1], want[:-1]
    assert_same(got, want, f"admm {mode} n_outer=0")


def test_admm_edge_and_non_finite_blocks(rng):
    """Best mode on zero, -0.0 and underflowing blocks (3 rows: the last CUDA block of rows
    part-filled), the info dict included; a non-finite block is the CPU's error."""
    W = edge_weights(rng, 16)[:3]
    X = activations(rng)
    got = gpu.nvfp4_admm(W, X=X, mode="best", as_bytes=True, return_info=True)
    want = nvfp4_np.nvfp4_admm(W, X=X, mode="best", as_bytes=True, return_info=True)
    assert got[-1] == want[-1]
    assert_same(got[:-1], want[:-1], "admm best edges")
    W[2, 1, 0] = np.inf
    assert_same_error("nvfp4_admm", W, nvfp4_np.core.NonFiniteError, X=X, mode="best")
