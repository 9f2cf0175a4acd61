"""Numba settings and tunables, in one place.

Every kernel is compiled with these flags. ``fastmath`` stays off everywhere: it would
let LLVM reorder float32 sums, and the seed's summation order is part of the result.
"""

#: Helpers that take arrays, inlined into kernels by Numba itself (a call that passes an
#: array costs reference-count updates). error_model="numpy": a float division by zero
#: gives inf/NaN as IEEE (and torch) do, instead of raising, and costs no check.
JIT_SCALAR = dict(cache=True, nogil=True, fastmath=False, error_model="numpy", inline="always")
#: Helpers on scalars only: compiled once and left to LLVM, which inlines them before it
#: vectorises. Inlining them in Numba's IR too copied them at every use and made the
#: search kernel's compilation take minutes.
JIT_SCALAR_FN = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
#: Block-parallel kernels (prange over chunks of blocks).
JIT_PARALLEL = dict(cache=True, nogil=True, fastmath=False, error_model="numpy", parallel=True)
#: Elementwise ufuncs built from the scalar helpers.
JIT_UFUNC = dict(cache=True, nopython=True)

#: Blocks per parallel work item. Results never depend on it (blocks are independent);
#: it only amortises per-chunk scratch allocation and scheduling.
CHUNK_BLOCKS = 512

#: The MX CPU kernel prefetches the block this many elements ahead in its row (a hint:
#: results never depend on it; 512 and 1024 measured 8% faster than none on float32 W,
#: 128 no gain).
MX_PREFETCH_AHEAD = 512

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

#: GPTQ: columns per lazy block (the trailing columns get a block's errors in one pass
#: at its end; results never depend on it), and weight rows per parallel task.
GPTQ_BLOCK = 128
GPTQ_ROWS_PER_TASK = 64
#: GPTQ: columns per chunk of the lazy block's update of the columns after it (a chunk
#: of U's rows stays in the L1 cache); results never depend on it.
GPTQ_COLUMNS = 2048

#: GPU: threads per CUDA block of the small reductions (tensor amax, status counts), and
#: NVFP4 blocks per chunk when a host array is processed piecewise (device memory stays
#: O(chunk)). Results never depend on either.
GPU_THREADS_PER_BLOCK = 128
#: GPU: CUDA blocks of a grid-stride reduction (the tensor amax).
GPU_REDUCE_BLOCKS = 1024
GPU_CHUNK_BLOCKS = 1 << 22
#: GPU: threads per CUDA block of the tiled kernels (one NVFP4 block per thread), by default.
GPU_TILE_BLOCKS = 64
#: GPU: the options of each method's tiled kernel (_gpu_tile.tiled_kernel), the fastest
#: measured on an H200 (W 8192x8192, blocks of 16, X 8192x8192). Results never depend on
#: them. The memory-bound kernels stage their tiles through shared memory.
#: The naive kernel is bound by instruction issue, not by memory (Nsight Compute: SM 83%,
#: DRAM 24%): capped at 64 registers, 16 CUDA blocks fit on a multiprocessor instead of 12.
GPU_NAIVE = dict(tile=64, max_registers=64)
GPU_OPTIMAL = dict(tile=128)
GPU_HESSIAN_SEED = dict(tile=64)
#: GPU: the exact Hessian search and ADMM run a group of bs threads per NVFP4 block
#: (_gpu_group.py): threads per CUDA block, and rows each group does in turn (a CUDA
#: block loads its column block's matrices once for GPU_GROUP_THREADS // bs *
#: GPU_GROUP_ROWS rows). Results never depend on either.
GPU_GROUP_THREADS = 128
GPU_GROUP_ROWS = 4
