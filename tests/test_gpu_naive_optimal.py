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


@pytest.mark.parametrize("recipe", ["seed", "te"])  # the kernel with the seed's constants compiled in, and not
@pytest.mark.parametrize("variant", [dict(tile=32), dict(tile=32, per_thread=2)])
@pytest.mark.parametrize("ncb", [1, 3])
def test_the_kernel_counts_statuses(variant, ncb, recipe, rng):
    """The tiled kernels count the blocks of each status themselves (a barrier count per
    CUDA block, an atomic per count): over several tiles, a partial last tile, several
    blocks per thread and column blocks, the counts are those of the definitions
    (_block.begin_block: NONFINITE when a value is NaN or Inf, UNDERFLOW when the block
    is finite, not all zero, and its scale rounds to 0)."""
    import numpy as np

    from nvfp4_np import _gpu, _gpu_tile, core, formats, recipes
    from nvfp4_np.gpu_naive import naive_tile_block

    rows = 70  # 3 tiles of 32 rows, or 2 of 64: the last one partial
    n = rows * ncb
    x = rng.standard_normal((n, 16)).astype(np.float32)
    kind = rng.integers(0, 4, n)  # 0 ok, 1 underflow, 2 non-finite, 3 all zero (ok)
    x[kind == 1] *= np.float32(1e-5)  # amax / 6 far below E4M3's smallest scale, 2^-9 (seed)
    bad = np.flatnonzero(kind == 2)
    x[bad, rng.integers(0, 16, bad.size)] = rng.choice(np.array([np.nan, np.inf, -np.inf], np.float32), bad.size)
    x[kind == 3] = np.where(rng.random((np.count_nonzero(kind == 3), 16)) < 0.5, np.float32(0.0), np.float32(-0.0))
    c = _gpu.cuda()
    # "te": its tensor scale from an amax of 1024, under which a block's scale rounds to
    # 0 below amax ~2^-9 * 1024 / 448 = 4.5e-3 (the tiny blocks, ~4e-5) and not at 1
    rc = core.tensor_params(recipes.get_recipe(recipe), None, None, np.float32(1024.0))
    out = core.kernel_outputs(n, 16, c.device_array)
    counts = c.to_device(np.zeros(3, np.int64))
    _gpu_tile.launch_tiles(naive_tile_block, c.to_device(x), ncb, rc, c.to_device(formats.E4M3_DECODE), out, counts,
                           **variant)
    assert counts.copy_to_host().tolist() == [0, np.count_nonzero(kind == 1), np.count_nonzero(kind == 2)]
