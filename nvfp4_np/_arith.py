"""A product that no compiler may fuse with a following addition.

The kernels' results are defined by IEEE float arithmetic with every operation rounded
once, in the written order. A fused multiply-add rounds ``a * b + c`` once instead of
twice, which flips near-ties of the searches (measured on an H200: one block in 4M of a
'te' search, ADMM refits). LLVM on the CPU does not fuse without fastmath; NVVM for CUDA
fuses by default. Every product whose result is added or subtracted goes through
``mul_rn``: plain ``a * b`` on the CPU, libdevice's ``__fmul_rn`` / ``__dmul_rn`` (never
contracted) in CUDA kernels. Under the CUDA simulator kernels run the CPU code.
"""

from numba.core import types
from numba.core.extending import overload


def mul_rn(a, b):
    """``a * b`` rounded on its own (see the module docstring)."""
    return a * b


@overload(mul_rn, target="cpu", jit_options={"fastmath": False})
def _mul_rn_cpu(a, b):
    return lambda a, b: a * b


def register_cuda():
    """Give mul_rn its CUDA implementation (called by the GPU modules, which import
    numba.cuda; nothing else does)."""
    from numba import config

    if config.ENABLE_CUDASIM:  # kernels run the CPU code
        return
    # numba-cuda >= 0.21 has its own overload; numba's built-in CUDA target and
    # numba-cuda 0.20 use numba.core's. Both take target="cuda" (given once, here).
    try:
        from numba.cuda.extending import overload as cuda_overload
    except ImportError:
        cuda_overload = overload
    from numba.cuda import libdevice

    @cuda_overload(mul_rn, target="cuda")
    def _mul_rn_cuda(a, b):
        if a == types.float32 and b == types.float32:
            return lambda a, b: libdevice.fmul_rn(a, b)
        if a == types.float64 and b == types.float64:
            return lambda a, b: libdevice.dmul_rn(a, b)
        return None

