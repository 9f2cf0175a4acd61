"""The GPU path: the public functions on a CUDA GPU, bit-identical to the CPU ones.

``from nvfp4_np import gpu`` (imports numba.cuda, as the ``gpu_*`` modules do; the rest of
nvfp4_np imports it only through ``device="cuda"``, after checking that a GPU is there)::

    gpu.nvfp4_naive(W, ...)       gpu.nvfp4_optimal(W, ...)
    gpu.nvfp4_optimal_hessian(W, X=..., mode="seed" | "exact")
    gpu.nvfp4_admm(W, X=..., mode="seed" | "best")

Same signatures as the CPU functions (without ``out=``). ``W`` may be a NumPy array
(NumPy results; large inputs pass through the GPU in chunks) or a device array with
``__cuda_array_interface__`` (CuPy, numba, PyTorch CUDA tensors; float32, C-contiguous,
block axis last), which gives numba device arrays. ``nvfp4_np.quantize(..., device="cuda")``
uses these. Needs ``pip install 'nvfp4_np[cuda]'`` and an NVIDIA GPU, or the simulator
(``NUMBA_ENABLE_CUDASIM=1``) for testing.
"""

try:
    from . import _numba_cuda  # noqa: F401  (numba.cuda, working on NumPy 2.5)
except ImportError as e:
    raise ImportError(
        f"nvfp4_np.gpu needs numba-cuda: pip install 'nvfp4_np[cuda]' (importing numba.cuda failed: {e})"
    ) from None

from .gpu_admm import nvfp4_admm  # noqa: E402
from .gpu_hessian import nvfp4_optimal_hessian  # noqa: E402
from .gpu_naive import nvfp4_naive  # noqa: E402
from .gpu_optimal import nvfp4_optimal  # noqa: E402

__all__ = ["nvfp4_naive", "nvfp4_optimal", "nvfp4_optimal_hessian", "nvfp4_admm"]
