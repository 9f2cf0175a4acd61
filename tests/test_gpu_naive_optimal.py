"""GPU twins of naive.py and optimal.py (gpu_naive, gpu_optimal), the methods without
activations: bit-identical to the CPU path for every recipe and block size, floats and
bytes (tests/gpu_common.py: how to run)."""

import pytest

from gpu_common import IGNORE_UNDERFLOW, RECIPES, assert_matches_cpu, edge_weights

pytestmark = IGNORE_UNDERFLOW


@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("name", ["nvfp4_naive", "nvfp4_optimal"])
def test_matches_cpu(name, recipe, bs, rng):
    assert_matches_cpu(name, edge_weights(rng, bs), f"{name} {recipe} bs={bs}", recipe=recipe)
