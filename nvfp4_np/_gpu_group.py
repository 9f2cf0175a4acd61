"""The second kernel shape of the GPU path: a group of bs threads per NVFP4 block, lane i
holding element i, for the methods whose work is small matrix algebra on each block (the
exact Hessian search, ADMM).

With one thread per block (_gpu_tile.py) each thread walked its block's vectors in loops
over local arrays (a matrix-vector product of 16: 256 loads of H and 256 of local memory),
and in a search the 32 blocks of a warp each took their own path through their
candidates, so the warp ran the union of them. Here lane a computes row a of
every product (``sum_k M[a, k] v[k]`` in k order, the CPU's order, from v shared by the
group in shared memory), the element-wise steps are one per lane, and a warp holds one
or two blocks. The sums across the block (the lane sum, a quadratic form's total) are
the CPU's own sequential sums, done by every lane of the group on the shared values
(on a SIMT machine the group's lanes run them together at the cost of one).

A CUDA block is G groups (GPU_GROUP_THREADS // bs) working on rows of one column block j,
whose matrices it loads into shared memory once (one barrier of the whole CUDA block).
After that a warp (32 // bs whole groups) works on its own: lanes exchange values through
shared memory with warp barriers (``group_sync``: ``cuda.syncwarp``), so every lane of a
warp passes every barrier, and loops whose length depends on the data run until no group
of the warp wants another step (``group_any``: ``cuda.any_sync``), the groups done with
their block idling. (Barriers of the whole CUDA block made its 8 groups wait for the
slowest of them at every step.) The CUDA simulator, which CI runs, has neither warp
barriers nor votes; there they are the CUDA block's (``cuda.syncthreads``,
``cuda.syncthreads_or``), which order every exchange a warp barrier orders.

The per-element arithmetic is the CPU's own njit functions (candidate, fp4_signed,
...), and every sum is in the CPU's order, so the bits equal the CPU path's (the tests
hold every method, recipe and block size to it). Scalars coming back from an njit
function are cast to their type: under the simulator kernels run as Python, where an
njit function returns a Python float.
"""

import types

import numba
import numpy as np

from . import _gpu, _gpu_memory
from ._arith import mul_rn
from ._block import begin_block, candidate
from ._config import GPU_GROUP_ROWS, GPU_GROUP_THREADS, JIT_SCALAR, JIT_SCALAR_FN
from ._gpu_tile import CACHE, _source_tag, ieee_compile
from ._numba_cuda import cuda
from .hessian import _W_GUARD, _better, bound_terms, residual64

__all__ = ["group_kernel", "launch_groups", "group_matvec", "group_lane_dots", "quad_form_group",
           "exact_search_group", "begin_rows", "group_sync", "group_any"]

_begin_block = _gpu.device_fn(begin_block)
_candidate = _gpu.device_fn(candidate)
_better_fn = _gpu.device_fn(_better)

_F32, _F64 = np.float32, np.float64

#: Every lane of a warp (bs is 16 or 32: a warp holds whole groups).
_WARP = 0xFFFFFFFF

if numba.config.ENABLE_CUDASIM:
    @cuda.jit(device=True)
    def group_sync():
        """A barrier for the lanes of a warp (under the simulator, of the CUDA block)."""
        cuda.syncthreads()

    @cuda.jit(device=True)
    def group_any(p):
        """Whether ``p`` holds for any lane of the warp (under the simulator, of the CUDA
        block), a barrier too."""
        return cuda.syncthreads_or(p)
else:
    @cuda.jit(device=True)
    def group_sync():
        """A barrier for the lanes of a warp (under the simulator, of the CUDA block)."""
        cuda.syncwarp(_WARP)

    @cuda.jit(device=True)
    def group_any(p):
        """Whether ``p`` holds for any lane of the warp (under the simulator, of the CUDA
        block), a barrier too: a vote orders no memory, so a warp barrier follows it
        (callers exchange shared values across it)."""
        r = cuda.any_sync(_WARP, p)
        cuda.syncwarp(_WARP)
        return r


def group_kernel(template, bs, **consts):
    """``template`` compiled for block size ``bs`` with the group constants as globals: BS,
    S = bs + 1 (the padded row of shared arrays: lanes reading column k of their own rows
    hit different banks), G groups of BS lanes, NT = G * BS threads, P rows per group
    (a CUDA block does G * P rows of one column block), and ``consts``. Cached on disk
    under a name carrying the constants and the package's source hash, as
    _gpu_tile.tiled_kernel's kernels are."""
    from numba import config

    # The CUDA simulator runs every thread as a Python thread and pays for each barrier
    # per thread: there, two groups a CUDA block (the groups' sharing of the buffers and
    # barriers still under test).
    g = 2 if config.ENABLE_CUDASIM else max(1, GPU_GROUP_THREADS // bs)
    values = dict(BS=bs, S=bs + 1, G=g, NT=g * bs, P=GPU_GROUP_ROWS, **consts)
    glob = dict(template.__globals__, **values)
    fn = types.FunctionType(template.__code__, glob, template.__name__)
    tag = "_".join(f"{k}{v}" for k, v in sorted(values.items()) if isinstance(v, (int, bool)))
    fn.__qualname__ = f"{template.__name__}_{tag}_{_source_tag()}"
    fn.__module__ = template.__module__
    if config.ENABLE_CUDASIM:
        return cuda.jit(fn), values
    return cuda.jit(**CACHE)(fn), values


def launch_groups(kernel_for, xb, ncb, rc, dec, out, counts, extra=(), block_arrays=()):
    """Run the group kernel ``kernel_for(bs)`` (a pair: kernel, its constants) over the
    device blocks ``xb`` (n, bs) of ``ncb`` column blocks per row: the kernel gets
    ``(rows, x, xbits, rc, dec, codes, packed, status, *extra, *block_arrays)``, the
    per-block arrays as (rows, ncb, ...) views; the blocks' status counts are then added
    to ``counts`` (int64 (3,), on the device)."""
    n, bs = tuple(xb.shape)
    if not n:
        return
    if ncb > 65535:  # the grid's y dimension
        raise ValueError(f"the GPU kernels take at most 65535 column blocks per row, got {ncb}")
    kernel, c = kernel_for(bs)
    rows = n // ncb
    status = _gpu_memory.device_bytes(_gpu.cuda(), n)  # every block's status is written by the kernel

    def grid_view(a):
        return a.reshape((rows, ncb) + tuple(a.shape)[1:])

    per_tile = c["G"] * c["P"]
    with ieee_compile():
        kernel[((rows + per_tile - 1) // per_tile, ncb), c["NT"]](
            rows, grid_view(xb), grid_view(xb.view(np.uint32)), rc, dec, grid_view(out[0]), grid_view(out[1]),
            grid_view(status), *extra, *(grid_view(a) for a in block_arrays))
    _gpu.count_statuses(status, counts)


# ------------------------------------------------------------------ group primitives
# Every thread of the CUDA block calls these together (they hold barriers); ``on`` says
# whether the thread's group has a block to work on (the others pass the barriers). The
# arithmetic is in small njit functions: compiled for CUDA inside the kernels, and under
# the simulator run as compiled CPU code (float32 as on the device, no NumPy scalar
# warnings for the inf and NaN of underflowing blocks).


# Indices are unsigned: Numba then leaves out NumPy's negative-index wraparound, a
# compare and a select on every access with a signed index (6% of ADMM's instructions,
# Nsight Compute on an H200).
_U0, _U1, _U8 = np.uint64(0), np.uint64(1), np.uint64(8)


@numba.njit(**JIT_SCALAR)
def _row_korder(M, a, buf, g, bs):
    """sum_k M[a, k] buf[g, k] accumulated in k order from the first product (the order
    of admm._matmul_korder and _block.matvec_korder)."""
    a, g = np.uint64(a), np.uint64(g)
    acc = mul_rn(M[a, _U0], buf[g, _U0])
    for k in range(_U1, np.uint64(bs)):
        acc += mul_rn(M[a, k], buf[g, k])
    return acc


@numba.njit(**JIT_SCALAR)
def _row_dot64(H, a, buf, g, bs):
    """hessian.quad_form64's row a: acc = 0.0, acc += H[a, k] r[k] in k order."""
    a, g = np.uint64(a), np.uint64(g)
    acc = 0.0
    for k in range(_U0, np.uint64(bs)):
        acc += mul_rn(H[a, k], buf[g, k])
    return acc


@numba.njit(**JIT_SCALAR)
def _sum64(buf, g, bs):
    """total = 0.0, total += buf[g, a] in a order (quad_form64's and _weighted_sse's sums)."""
    g = np.uint64(g)
    total = 0.0
    for a in range(_U0, np.uint64(bs)):
        total += buf[g, a]
    return total


@numba.njit(**JIT_SCALAR)
def _lane_sum(buf, g, bs):
    """The seed's lane sum of row g of ``buf`` (formats.seed_sum_inplace: lane l adds
    v[l], v[l+8], ... in order, then the 8 lanes are added left to right)."""
    g = np.uint64(g)
    res = buf[g, _U0]
    for lane in range(_U0, _U8):
        acc = buf[g, lane]
        for m in range(lane + _U8, np.uint64(bs), _U8):
            acc += buf[g, m]
        res = acc if lane == _U0 else res + acc
    return res


@numba.njit(**JIT_SCALAR_FN)
def _times(a, b):
    return mul_rn(a, b)


@numba.njit(**JIT_SCALAR)
def _residual_at(x, k, dec, rc):
    """Element x's hessian.residual64 at code k."""
    f, s = candidate(k, dec, rc)
    return residual64(x, f, s, rc)


@numba.njit(**JIT_SCALAR)
def _terms_at(x, k, dec, rc, d):
    """Element x's hessian.bound_terms at code k."""
    f, s = candidate(k, dec, rc)
    return bound_terms(x, f, s, rc, d)


_row = _gpu.device_fn(_row_korder)
_row64 = _gpu.device_fn(_row_dot64)
_total64 = _gpu.device_fn(_sum64)
_lanes = _gpu.device_fn(_lane_sum)
_residual = _gpu.device_fn(_residual_at)
_terms = _gpu.device_fn(_terms_at)


@cuda.jit(device=True)
def group_matvec(M, v, buf, g, i, bs):
    """Row i of M times the group's vector (element i is ``v``), float32 (_row_korder).
    ``buf`` (G, S) is the exchange buffer; callers alternate two, so one barrier does."""
    buf[g, i] = v
    group_sync()
    return _F32(_row(M, i, buf, g, bs))


@cuda.jit(device=True)
def group_lane_dots(a, b, c, buf1, buf2, g, i, bs):
    """(sum_i a_i c_i, sum_i b_i c_i) in float32, each product rounded, summed in the
    seed's lane order (admm._lane_dot), with one barrier."""
    buf1[g, i] = _F32(_times(a, c))
    buf2[g, i] = _F32(_times(b, c))
    group_sync()
    return _F32(_lanes(buf1, g, bs)), _F32(_lanes(buf2, g, bs))


@cuda.jit(device=True)
def quad_form_group(on, r, H, rbuf, pbuf, g, i, bs):
    """r^T H r in float64 for the group's residual (element i is ``r``), in
    hessian.quad_form64's order: row a's dot product in k order (lane a), then the
    products r_a * (H r)_a added in a order (by every lane). Two barriers."""
    rbuf[g, i] = r
    group_sync()
    if on:
        pbuf[g, i] = _F64(_times(r, _F64(_row64(H, i, rbuf, g, bs))))
    group_sync()
    total = 0.0
    if on:
        total = _F64(_total64(pbuf, g, bs))
    return total


@cuda.jit(device=True)
def exact_search_group(on, x, g, i, bs, rc, dec, c0, H, d_i, mu, v64):
    """hessian.exact_block for the group's block (element i is ``x``): the argmin over
    the recipe's codes of the float64 r^T H r, scanning up from c0 and then down,
    skipping a code when mu * weighted_sse > best and stopping in a direction when its
    monotone part does (the same bounds, sums and tie rule as the CPU, so the same
    code). ``v64``: (5, G, S) float64 exchange buffers. Two barriers a step: the
    residual goes out with the bound's terms, and whether a group goes on is known
    before its error is summed."""
    best_c = np.int64(c0)
    r = _F64(_residual(x, best_c, dec, rc)) if on else 0.0
    best_e = quad_form_group(on, r, H, v64[3], v64[4], g, i, bs)
    bounded = mu >= 0  # (the same for the whole CUDA block: one column block)
    for direction in (1, -1):
        k = np.int64(c0) + direction
        alive = on and rc.min_code <= k and k <= 126
        going = group_any(np.int32(1 if alive else 0))
        while going:
            ke = k
            evaluate = False
            r = w = dead = clip = 0.0
            if alive:
                r = _F64(_residual(x, ke, dec, rc))
                if bounded:
                    terms = _terms(x, ke, dec, rc, d_i)
                    w, dead, clip = _F64(terms[0]), _F64(terms[1]), _F64(terms[2])
            v64[0, g, i] = w
            v64[1, g, i] = dead
            v64[2, g, i] = clip
            v64[3, g, i] = r
            group_sync()
            if alive:
                evaluate = True
                if bounded:
                    part = _F64(_total64(v64[1] if direction == 1 else v64[2], g, bs)) * _W_GUARD
                    if mu * part > best_e:  # and at every later code of this direction
                        evaluate = alive = False
                    elif mu * (_F64(_total64(v64[0], g, bs)) * _W_GUARD) > best_e:
                        evaluate = False
                if evaluate:
                    v64[4, g, i] = _F64(_times(r, _F64(_row64(H, i, v64[3], g, bs))))
                k += direction
                alive = alive and rc.min_code <= k and k <= 126
            going = group_any(np.int32(1 if alive else 0))
            if evaluate:
                e = _F64(_total64(v64[4], g, bs))
                if _better_fn(e, ke, best_e, best_c, np.int64(c0)):
                    best_e = e
                    best_c = ke
    return best_c


@cuda.jit(device=True)
def begin_rows(rows, r0, g, i, j, xbits, xs, status, rc, bs):
    """Copy rows r0 .. r0 + G - 1 of column block j (one per group, element i by lane i)
    into the shared tile ``xs`` (G, S) uint32, between barriers, and start each group's
    block (_block.begin_block: its status written to ``status``, the rows' view).
    Returns (row, on, c0): ``on`` is False past the last row and for a non-finite block
    (reported, not written); c0 the recipe's baseline code."""
    row = r0 + g
    on = row < rows
    group_sync()  # the tile's previous readers (its group) are done
    if on:
        xs[g, i] = xbits[row, j, i]
    group_sync()
    c0 = np.uint8(0)
    if on:
        _, c0, finite = _begin_block(g, xs[:, :bs], status, rc)
        on = finite
    return row, on, c0

