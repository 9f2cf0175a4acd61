"""numba.cuda as the GPU modules import it, made to work on NumPy 2.5.

numba-cuda (0.30.4, the newest release as of 2026-12) registers an overload of
``np.row_stack`` when it compiles its first kernel (numba/cuda/np/arrayobj.py, loaded by
the CUDA target on first use). NumPy 2.5 removed ``row_stack`` (deprecated since 2.0 as an
alias of ``vstack``), so that first compile fails with ``AttributeError: module 'numpy'
has no attribute 'row_stack'``. Where NumPy lacks it, ``numpy.row_stack`` is set to
``numpy.vstack`` here, before numba.cuda is imported and before any kernel compiles;
where NumPy still has it, nothing is changed. Only the GPU modules import this one.
"""

import numpy as np

#: Whether this import had to restore ``numpy.row_stack`` (NumPy >= 2.5).
ROW_STACK_RESTORED = not hasattr(np, "row_stack")
if ROW_STACK_RESTORED:
    np.row_stack = np.vstack

from numba import cuda  # noqa: E402

__all__ = ["cuda", "ROW_STACK_RESTORED"]
