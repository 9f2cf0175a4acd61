"""Numba settings and tunables, in one place.

Every kernel is compiled with these flags. ``fastmath`` stays off everywhere: it would
let LLVM reorder float32 sums, and the seed's summation order is part of the result.
"""

#: Scalar helpers inlined into kernels.
JIT_SCALAR = dict(cache=True, nogil=True, fastmath=False, inline="always")
#: Block-parallel kernels (prange over chunks of blocks).
JIT_PARALLEL = dict(cache=True, nogil=True, fastmath=False, parallel=True)

#: Blocks per parallel work item. Results never depend on it (blocks are independent);
#: it only amortises per-chunk scratch allocation and scheduling.
CHUNK_BLOCKS = 512

#: Rows of X per chunk when accumulating block Hessians (memory is O(rows * K)); the
#: seed used 8192-row batches.
HESSIAN_CHUNK_ROWS = 8192

#: Weight rows per parallel task in the Hessian kernels (each task reuses one H_j).
HESSIAN_ROWS_PER_TASK = 64
