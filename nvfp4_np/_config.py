"""Numba settings and tunables, in one place.

Every kernel is compiled with these flags. ``fastmath`` stays off everywhere: it would
let LLVM reorder float32 sums, and the seed's summation order is part of the result.
"""

#: Scalar helpers inlined into kernels. error_model="numpy": a float division by zero
#: gives inf/NaN as IEEE (and torch) do, instead of raising, and costs no check.
JIT_SCALAR = dict(cache=True, nogil=True, fastmath=False, error_model="numpy", inline="always")
#: Block-parallel kernels (prange over chunks of blocks).
JIT_PARALLEL = dict(cache=True, nogil=True, fastmath=False, error_model="numpy", parallel=True)
#: Elementwise ufuncs built from the scalar helpers.
JIT_UFUNC = dict(cache=True, nopython=True)

#: Blocks per parallel work item. Results never depend on it (blocks are independent);
#: it only amortises per-chunk scratch allocation and scheduling.
CHUNK_BLOCKS = 512

#: Rows of X per chunk when accumulating block Hessians (memory is O(rows * K)); the
#: seed used 8192-row batches.
HESSIAN_CHUNK_ROWS = 8192

#: Columns of X per GEMM when accumulating block Hessians (several column blocks at once:
#: a 16-wide GEMM runs far below BLAS speed).
HESSIAN_GEMM_COLS = 128

#: Weight rows per parallel task in the Hessian kernels (each task reuses one H_j).
HESSIAN_ROWS_PER_TASK = 64

#: Weight rows per parallel task in the ADMM kernel: the task's blocks share H_j and run
#: ADMM together, one vectorised loop over blocks per step.
ADMM_ROWS_PER_TASK = 512

#: GPU: threads per CUDA block (one thread per NVFP4 block), and NVFP4 blocks per chunk
#: when a host array is processed piecewise (device memory stays O(chunk)). Results never
#: depend on either.
GPU_THREADS_PER_BLOCK = 128
GPU_CHUNK_BLOCKS = 1 << 22
#: GPU: NVFP4 blocks per shared-memory tile in the memory-bound kernels (naive, optimal):
#: a CUDA block of this many threads loads and stores its tile with coalesced accesses.
GPU_TILE_BLOCKS = 64
