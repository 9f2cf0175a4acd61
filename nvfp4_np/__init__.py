"""nvfp4_np: bit-exact, CPU-first NumPy/Numba reference for NVFP4 quantization."""

from .formats import build_fp8_e4m3_scales
from .naive import nvfp4_naive
from .search import nvfp4_optimal

__version__ = "0.1.0"
