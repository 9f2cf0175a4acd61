"""The tiled kernel shape of the GPU path (naive, optimal, the Hessian search's seed mode):
a CUDA block per tile of NVFP4 blocks, one thread per NVFP4 block (the CPU's per-block
function), the tile staged through shared memory. (The exact Hessian search and ADMM
run bs threads a block: _gpu_group.py.)

A thread's block is 16 or 32 consecutive words. Read straight from global memory, a
warp's 32 threads would touch 32 rows 64-128 bytes apart on every access; instead the
CUDA block copies its tile with coalesced accesses (consecutive threads, consecutive
words) into shared memory and back. Rows in shared memory are padded to bs + 1 words:
with a stride of bs words the 32 threads of a warp, each reading element i of its own
row, would all hit one of the 32 banks (a 32-way conflict, the main cost of the first
version); with bs + 1 they hit 32 different banks.

A tile holds rows m0.. of one column block j (NVFP4 block b = m * ncb + j; the grid is
(row tiles, ncb)), so every thread of a CUDA block reads the same H_j (warp-uniform loads
in the Hessian seed-mode kernel instead of 32 different matrices); with ncb = 1 (naive,
optimal) a tile is consecutive blocks.

Shared memory holds the input tile (one array, seen both as float32 and as uint32 bits)
and the tile's block statuses, which the CUDA block counts (two barrier counts, one
atomic per count that is not zero) instead of writing them out. The per-block function
gets views of the tiles and writes its block's bytes (scale byte, packed codes) straight
to global memory.
"""

import contextlib
import functools
import types
import warnings

import numba
import numpy as np

from ._config import GPU_THREADS_PER_BLOCK, GPU_TILE_BLOCKS
from ._numba_cuda import cuda
from .recipes import SEED_PARAMS

#: cuda.jit's caching option: kernels compiled once per machine and loaded from disk
#: afterwards (the simulator, which runs kernels as Python, has nothing to cache).
CACHE = {} if numba.config.ENABLE_CUDASIM else {"cache": True}


@functools.cache
def _source_tag():
    """A short hash of every .py file of the package (names and bytes)."""
    import hashlib
    import os

    root = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".py"):
                h.update(os.path.relpath(os.path.join(d, f), root).encode())
                with open(os.path.join(d, f), "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()[:12]


def cached_kernel(fn):
    """``cuda.jit`` of ``fn``, cached on disk under a name that carries the package's
    source hash (see tiled_kernel: Numba keys its cache on ``fn``'s own file only, not on
    the functions it calls from other modules)."""
    if numba.config.ENABLE_CUDASIM:
        return cuda.jit(fn)
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = f"{fn.__qualname__}_{_source_tag()}"
    copy.__module__, copy.__doc__ = fn.__module__, fn.__doc__
    return cuda.jit(**CACHE)(copy)


__all__ = ["launch_tiles", "tiled_kernel", "launch", "ieee_compile", "amax_bits_kernel", "count_status_kernel",
           "cached_kernel"]


def launch(kernel, n, *args, threads=GPU_THREADS_PER_BLOCK):
    """kernel[grid, threads](*args) over n work items (one thread each), compiled (on
    first use) without FMA contraction."""
    if n:
        with ieee_compile():
            kernel[(n + threads - 1) // threads, threads](*args)


@contextlib.contextmanager
def ieee_compile():
    """NVVM fuses a*b + c into one FMA (one rounding instead of two) unless it is given
    -fma=0, and numba-cuda passes that option only together with fastmath. A fused
    operation is not the float32 arithmetic the CPU kernels do (measured: 'te'-recipe
    searches and ADMM then differ in rare blocks), so while our kernels compile, every
    NVVM compilation gets fma=0 unless it asks otherwise. (Launches of small grids do
    not warn here either.)"""
    from numba import config

    with warnings.catch_warnings():
        # "Grid size N will likely result in GPU under-utilization": small inputs are
        # meant to be small (and the warning would reach the command's users).
        warnings.filterwarnings("ignore", message=r".*Grid size \d+ will likely result in GPU under-utilization")
        if config.ENABLE_CUDASIM:
            yield
        else:
            with _fma_off():
                yield


@contextlib.contextmanager
def _fma_off():
    import numba.cuda.codegen as codegen
    from numba.cuda.cudadrv import nvvm

    modules = {id(m): m for m in (nvvm, codegen.nvvm)}.values()  # the one codegen calls, too
    originals = [(m, m.compile_ir) for m in modules]

    def patched(original):
        def compile_ir(llvmir, **options):
            options.setdefault("fma", False)
            return original(llvmir, **options)
        return compile_ir

    for m, original in originals:
        m.compile_ir = patched(original)
    try:
        yield
    finally:
        for m, original in originals:
            m.compile_ir = original


@cached_kernel
def amax_bits_kernel(xbits, out):
    """The tensor amax of a device input, exactly: an integer max of the magnitude bits
    orders finite floats like their values (Inf/NaN sort above; the block kernels report
    those). Each thread takes a grid-stride share, each CUDA block (of
    GPU_THREADS_PER_BLOCK threads) reduces its threads' maxima in shared memory, and only
    then does one atomic max per CUDA block reach ``out[0]`` (an atomic per element, all
    on one address, took longer than the quantization)."""
    part = cuda.shared.array(GPU_THREADS_PER_BLOCK, numba.uint32)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    t = np.uint32(0)
    while i < xbits.size:
        t = max(t, xbits[i] & np.uint32(0x7FFFFFFF))
        i += cuda.gridsize(1)
    part[tid] = t
    cuda.syncthreads()
    half = GPU_THREADS_PER_BLOCK // 2
    while half > 0:
        if tid < half:
            part[tid] = max(part[tid], part[tid + half])
        cuda.syncthreads()
        half //= 2
    if tid == 0:
        cuda.atomic.max(out, 0, part[0])


@cached_kernel
def count_status_kernel(status, counts):
    """counts[s] += 1 for every block whose status s is not 0 (OK)."""
    i = cuda.grid(1)
    if i < status.size and status[i] != 0:
        cuda.atomic.add(counts, status[i], 1)


@functools.cache
def tiled_kernel(block_fn, bs, tile=GPU_TILE_BLOCKS, per_thread=1, max_registers=None, frozen=False):
    """The tiled kernel of ``block_fn`` for block size ``bs``; ``bs``, ``tile`` (threads
    per CUDA block) and ``per_thread`` (NVFP4 blocks per thread: a tile has
    tile * per_thread rows) are compile-time constants, so the copy loops unroll and the
    padded stride folds into the addressing.

    The kernel is ``kernel(rows, ncb, xflat, rc, dec, codes, packed, counts, extra)``:
    ``xflat`` is the input blocks' float32 bits, flat (rows * ncb * bs uint32), codes and
    packed (_emit: the scale bytes and the packed E2M1 codes) are shaped (rows, ncb,
    ...), and ``counts`` three int64 (zero before the launch) to which the kernel adds how many
    blocks had each non-OK status (_block: UNDERFLOW, NONFINITE); ``extra`` is a tuple
    the block function gets. For each of its blocks a thread calls ``block_fn(t, x,
    xbits, rc, dec, out, status, j, rows, extra)``: j is the tile's column block and
    ``rows`` the slice of its rows, so that ``a[rows, j]`` is the tile's part of a
    per-block array a; x and xbits are the tile in shared memory, ``status`` the tile's
    statuses (shared memory too: counted by the kernel, never written to global
    memory), ``out = (codes, packed)`` global views, and row t is the thread's block.

    With ``frozen`` the kernel is the twin for rc == recipes.SEED_PARAMS (as the CPU
    kernels have one): the seed recipe's constants are compiled in, so every branch on
    the recipe folds away, and the launch passes 0 for ``rc`` (numba-cuda marshals each
    of a recipe's 18 fields at every launch, ~70 us).

    Each kernel is a copy of ``_staged`` whose globals hold block_fn and
    the constants, named after them: numba-cuda caches it on disk under that name
    (a kernel made as a closure over block_fn got a new cache key in every process,
    and every run of the command compiled its kernels again, ~6 s). Numba's cache is
    keyed on this file alone, not on the per-block functions it calls from other
    modules, so the name also carries a hash of the package's sources: an edit anywhere
    compiles afresh instead of loading a stale kernel.
    """
    from numba import config

    template = _staged
    consts = {"BLOCK_FN": block_fn, "T": tile, "BS": bs, "S": bs + 1, "K": per_thread, "R": tile * per_thread,
              "KBS": per_thread * bs, "SH": bs.bit_length() - 1, "MASK": bs - 1, "FROZEN": frozen, "RC": SEED_PARAMS}
    glob = dict(template.__globals__, **consts)
    fn = types.FunctionType(template.__code__, glob, template.__name__)
    fn.__qualname__ = (f"{template.__name__}_{block_fn.__module__.replace('.', '_')}_{block_fn.__name__}_bs{bs}"
                       f"_t{tile}_k{per_thread}_r{max_registers}_f{int(frozen)}_{_source_tag()}")
    fn.__module__ = template.__module__
    opts = {} if max_registers is None or config.ENABLE_CUDASIM else {"max_registers": max_registers}
    return cuda.jit(**opts, **CACHE)(fn)


#: The templates' compile-time constants and block function: each kernel tiled_kernel
#: makes gets its own values in its own globals (these module-level ones are never used).
BLOCK_FN = T = BS = S = K = R = KBS = SH = MASK = FROZEN = RC = None


def _staged(rows, ncb, xflat, rc, dec, codes, packed, counts, extra):
    """tiled_kernel's template staging the tile through shared memory."""
    if FROZEN:  # (a compile-time constant: the other branch is pruned)
        rcv = RC
    else:
        rcv = rc
    words = cuda.shared.array((R, S), numba.uint32)
    status = cuda.shared.array(R, numba.uint8)
    j = cuda.blockIdx.y
    m0 = cuda.blockIdx.x * R
    m = min(R, rows - m0)
    base = (m0 * ncb + j) * BS  # word (r, c) of the tile is flat word base + r * step + c
    step = ncb * BS
    end = m * BS  # words of the tile's m rows
    t0 = cuda.threadIdx.x
    # All K * BS loads of a thread are issued before the first store to shared
    # memory: each thread keeps K * BS loads in flight instead of one.
    v = cuda.local.array(KBS, numba.uint32)
    if ncb == 1:  # the tile is contiguous: word idx is flat word base + idx
        for k in range(KBS):
            idx = k * T + t0
            if idx < end:
                v[k] = xflat[base + idx]
    else:
        for k in range(KBS):
            idx = k * T + t0
            if idx < end:
                v[k] = xflat[base + (idx >> SH) * step + (idx & MASK)]
    for k in range(KBS):
        idx = k * T + t0
        if idx < end:
            words[idx >> SH, idx & MASK] = v[k]
    cuda.syncthreads()
    sel = slice(m0, m0 + m)
    tout = (codes[sel, j], packed[sel, j])  # (each thread writes its block's bytes: a few words)
    for i in range(K):
        t = t0 + i * T
        s = numba.uint8(0)
        if t < m:
            BLOCK_FN(t, words.view(np.float32)[:, :BS], words[:, :BS], rcv, dec, tout, status, j, sel, extra)
            s = status[t]
        # The statuses counted by the CUDA block (a barrier each; every thread passes
        # them), then one atomic per count that is not zero.
        n1 = cuda.syncthreads_count(numba.int32(s == 1))
        n2 = cuda.syncthreads_count(numba.int32(s == 2))
        if t0 == 0:
            if n1:
                cuda.atomic.add(counts, 1, n1)
            if n2:
                cuda.atomic.add(counts, 2, n2)


def launch_tiles(block_fn, xb, ncb, rc, dec, out, counts, extra=(), block_arrays=(), **variant):
    """Run ``block_fn`` over the device blocks ``xb`` (n, bs) of ``ncb`` column blocks
    per row (n a multiple of ncb), compiled (on first use) without FMA contraction.
    ``out`` (codes, packed) and ``block_arrays`` (per-block outputs, appended to
    ``extra``) have n rows; the kernel gets them as (n // ncb, ncb, ...) views. The
    kernel adds the blocks' status counts to ``counts`` (int64 (3,), on the device).
    ``variant``: tiled_kernel's options (the callers pass their tuned ones)."""
    n, bs = tuple(xb.shape)
    if not n:
        return
    frozen = rc == SEED_PARAMS
    kernel = tiled_kernel(block_fn, bs, **variant, frozen=frozen)
    tile = variant.get("tile", GPU_TILE_BLOCKS)
    rows_per_tile = tile * variant.get("per_thread", 1)
    rows = n // ncb
    if ncb > 65535:  # the grid's y dimension
        raise ValueError(f"the GPU kernels take at most 65535 column blocks per row, got {ncb}")

    def grid_view(a):  # (n, ...) -> (rows, ncb, ...)
        return a.reshape((rows, ncb) + tuple(a.shape)[1:])

    extra_k = tuple(extra) + tuple(grid_view(a) for a in block_arrays)
    with ieee_compile():
        kernel[((rows + rows_per_tile - 1) // rows_per_tile, ncb), tile](
            rows, ncb, xb.view(np.uint32).reshape(-1), 0 if frozen else rc, dec, grid_view(out[0]), grid_view(out[1]),
            counts, extra_k)
