"""GPU twin of hessian.py (gpu_hessian): both modes bit-identical to the CPU path, floats
and bytes (tests/gpu_common.py: how to run)."""

import pytest

import numpy as np

from gpu_common import (GROUP_ROWS, IGNORE_UNDERFLOW, ROWS, activations, assert_same, assert_same_error, edge_weights,
                        gpu, weights)
import nvfp4_np

pytestmark = IGNORE_UNDERFLOW


@pytest.mark.parametrize("recipe", ["seed", "te", "compressed-tensors"])
@pytest.mark.parametrize("mode", ["seed", "exact"])
def test_hessian_matches_cpu(mode, recipe, rng):
    W = weights(rng, ROWS if mode == "seed" else GROUP_ROWS, 16)
    X = activations(rng)
    for kw in ({"return_dequant": True}, {"as_bytes": True}):
        got = gpu.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, **kw)
        want = nvfp4_np.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, **kw)
        assert_same(got, want, f"hessian {mode} {recipe} {kw}")


@pytest.mark.parametrize("mode, recipe", [("seed", "seed"), ("exact", "seed"), ("seed", "te"), ("exact", "modelopt")])
def test_search_blocks_of_32(mode, recipe, rng):
    """Blocks of 32 (the exact search's group kernel: 32 lanes a block, one warp)."""
    W = weights(rng, GROUP_ROWS, 32)
    X = activations(rng, bs=32)
    assert_same(gpu.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, as_bytes=True),
                nvfp4_np.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, as_bytes=True),
                f"hessian {mode} bs32 {recipe}")


@pytest.mark.parametrize("mode", ["seed", "exact"])
def test_search_edge_and_non_finite_blocks(mode, rng):
    """Zero, -0.0 and underflowing blocks as the CPU has them; a non-finite block (in the
    exact search's group kernel its group sits out while the others of its CUDA block
    search) is the CPU's error."""
    W = edge_weights(rng, 16)[:GROUP_ROWS]
    X = activations(rng)
    assert_same(gpu.nvfp4_optimal_hessian(W, X=X, mode=mode, as_bytes=True),
                nvfp4_np.nvfp4_optimal_hessian(W, X=X, mode=mode, as_bytes=True), f"hessian {mode} edges")
    W[1, 2, 3] = np.nan
    assert_same_error("nvfp4_optimal_hessian", W, nvfp4_np.core.NonFiniteError, X=X, mode=mode)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_seed_search_skips_as_the_cpu(scale, rng):
    """Seed mode with activations scaled down (the seed's clipping fast-fail, an
    unweighted SSE against 10x a Hessian error, then decides; a GPU search written
    without it failed this case) and up."""
    W = weights(rng, GROUP_ROWS, 16)
    X = activations(rng) * np.float32(scale)
    assert_same(gpu.nvfp4_optimal_hessian(W, X=X, mode="seed", as_bytes=True),
                nvfp4_np.nvfp4_optimal_hessian(W, X=X, mode="seed", as_bytes=True), f"hessian seed X*{scale}")
