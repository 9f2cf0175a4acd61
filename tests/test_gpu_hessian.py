"""GPU twin of hessian.py (gpu_hessian): both modes bit-identical to the CPU path, floats
and bytes (tests/gpu_common.py: how to run)."""

import pytest

from gpu_common import IGNORE_UNDERFLOW, ROWS, activations, assert_same, gpu, weights
import nvfp4_np

pytestmark = IGNORE_UNDERFLOW


@pytest.mark.parametrize("recipe", ["seed", "te", "compressed-tensors"])
@pytest.mark.parametrize("mode", ["seed", "exact"])
def test_hessian_matches_cpu(mode, recipe, rng):
    W = weights(rng, ROWS, 16)
    X = activations(rng)
    for kw in ({"return_dequant": True}, {"as_bytes": True}):
        got = gpu.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, **kw)
        want = nvfp4_np.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, **kw)
        assert_same(got, want, f"hessian {mode} {recipe} {kw}")
