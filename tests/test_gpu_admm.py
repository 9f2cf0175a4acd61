"""GPU twin of admm.py (gpu_admm): both modes bit-identical to the CPU path, floats, bytes
and the info dict (tests/gpu_common.py: how to run)."""

import pytest

from gpu_common import GROUP_ROWS, IGNORE_UNDERFLOW, activations, assert_same, gpu, weights
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
