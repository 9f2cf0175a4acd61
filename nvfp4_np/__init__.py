"""nvfp4_np: bit-exact, CPU-first NumPy/Numba reference for NVFP4 quantization.

Public API (everything else is private):

- ``quantize(W, block_size=16, method="optimal")`` -> ``NVFP4Tensor``
- the MX formats: ``quantize(W, 32, fmt="mxfp4", scale_rounding="floor")`` -> ``MXTensor``
  (``fmt`` one of ``registry.FORMATS``: mxfp4, mxfp6_e2m3, mxfp6_e3m2, mxfp8_e4m3, mxfp8_e5m2)
- the methods: ``nvfp4_naive``, ``nvfp4_optimal``, ``nvfp4_optimal_hessian``,
  ``nvfp4_admm``, ``nvfp4_gptq``
- Four Over Six as fouroversix 1.0.5 computes it (1-D and 16x16 scales):
  ``nvfp4_four_over_six``
- the seed's functions on NumPy arrays: ``nvfp4_naive``, ``nvfp4_optimal``,
  ``nvfp4_dequantize``, ``fp4_quantize``, ``fp4_dequantize``, ``compute_block_sse``,
  ``build_fp8_e4m3_scales``
- recipes (the arithmetic of the seed, Transformer Engine, ModelOpt, torchao): ``RECIPES``
- bytes: ``fp4_codes``, ``fp4_values``, ``e4m3_bytes``, ``e4m3_values``, ``pack_fp4``,
  ``unpack_fp4``, ``swizzle_scales``, ``unswizzle_scales``
- format tables and rounding: ``nvfp4_np.formats``
- checkpoints (the ``nvfp4-np`` command line's engine): ``quantize_checkpoint``,
  ``dequantize_checkpoint``, ``nvfp4_np.checkpoint``
"""

from ._version import __version__

from .admm import nvfp4_admm
from .checkpoint import dequantize_checkpoint, quantize_checkpoint
from .encoding import (
    e4m3_bytes,
    e4m3_values,
    fp4_codes,
    fp4_values,
    pack_fp4,
    pack_fp6,
    swizzle_scales,
    unpack_fp4,
    unpack_fp6,
    unswizzle_scales,
)
from .formats import build_fp8_e4m3_scales
from .four_over_six import nvfp4_four_over_six
from .gptq import nvfp4_gptq
from .hessian import block_hessians, nvfp4_optimal_hessian
from .metrics import metrics
from .mx_tensor import MXTensor
from .naive import nvfp4_naive
from .seed_helpers import compute_block_sse, fp4_dequantize, fp4_quantize, nvfp4_dequantize
from .recipes import RECIPES, Recipe
from .optimal import nvfp4_optimal
from .tensor import NVFP4Tensor, quantize

__all__ = [
    "quantize",
    "NVFP4Tensor",
    "MXTensor",
    "nvfp4_naive",
    "nvfp4_optimal",
    "nvfp4_optimal_hessian",
    "block_hessians",
    "nvfp4_admm",
    "nvfp4_gptq",
    "nvfp4_four_over_six",
    "nvfp4_dequantize",
    "fp4_quantize",
    "fp4_dequantize",
    "compute_block_sse",
    "build_fp8_e4m3_scales",
    "metrics",
    "RECIPES",
    "Recipe",
    "fp4_codes",
    "fp4_values",
    "e4m3_bytes",
    "e4m3_values",
    "pack_fp4",
    "unpack_fp4",
    "pack_fp6",
    "unpack_fp6",
    "swizzle_scales",
    "unswizzle_scales",
    "quantize_checkpoint",
    "dequantize_checkpoint",
]
