"""GPU twin of naive.py: one CUDA thread per block runs the same ``naive_block`` in the
shared-memory tiles of _gpu_tile.py."""

from numba import cuda

from . import _gpu
from ._config import GPU_NAIVE
from .naive import naive_block

__all__ = ["nvfp4_naive"]

_naive_block = _gpu.device_fn(naive_block)


@cuda.jit(device=True)
def naive_tile_block(t, x, xbits, rc, dec, out, status, j, rows, extra):
    _naive_block(t, x, xbits, rc, dec, out, status)


def nvfp4_naive(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None,
                as_bytes=False):
    """:func:`nvfp4_np.nvfp4_naive` on a CUDA GPU, bit-identical.

    ``W`` is a NumPy array (results are NumPy arrays; large inputs go through the GPU in
    chunks) or a device array (anything with ``__cuda_array_interface__``: float32,
    C-contiguous, block axis last; results are numba device arrays).
    """
    result, _ = _gpu.run_blocks(naive_tile_block, W, dim, return_dequant, recipe, rounding, tensor_amax,
                                variant=GPU_NAIVE, as_bytes=as_bytes)
    return result
