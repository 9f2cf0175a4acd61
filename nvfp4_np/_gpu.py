"""What the GPU twins share: lazy numba.cuda import, the launch wrapper that mirrors
core.run_block_kernel (same checks, same shapes, same status handling), device-array
input, chunking of large host inputs, the outputs' one allocation (from the package's
memory pool, _gpu_memory.py) and the device-side tensor amax.

The kernels themselves (_gpu_tile.py) are one thread per NVFP4 block calling the very same
per-block functions as the CPU kernels (``optimal_block``, ``hessian_seed_block``, ...),
compiled for CUDA by numba: the bits cannot differ by construction (IEEE division, no fast-math,
the same summation order). Only the GPU modules import this one (and with it numba.cuda).
"""

import functools

import numpy as np

from . import _arith, _gpu_memory, core, formats, recipes
from ._config import GPU_CHUNK_BLOCKS, GPU_REDUCE_BLOCKS, GPU_THREADS_PER_BLOCK
from ._emit import decode_block
from ._gpu_tile import amax_bits_kernel, cached_kernel, count_status_kernel, launch, launch_tiles
from ._numba_cuda import cuda as numba_cuda  # (a global: the simulator swaps it inside kernels)

#: Sizes of the per-thread scratch arrays of the block kernels (a local array's size must
#: be a global constant): a block and the search's uint32 work space (2 * bs).
MAX_BS = 32
MAX_WORK = 2 * MAX_BS

_arith.register_cuda()  # only the GPU modules import this one


@functools.cache
def cuda():
    """The numba.cuda module, or core.check_device's DeviceUnavailableError."""
    core.check_device("cuda")
    from numba import cuda as _cuda

    return _cuda


def device_fn(fn):
    """A per-block njit function as a GPU kernel calls it: ``fn`` itself (numba compiles it
    for CUDA); under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1), where kernels run as
    Python and hold fake arrays, a wrapper that hands ``fn`` the NumPy arrays inside."""
    from numba import config

    if not config.ENABLE_CUDASIM:
        return fn

    def call(*args):
        return fn(*(_unwrap(a) for a in args))

    return call


def _unwrap(a):
    item = a.__dict__.get("_item") if hasattr(a, "__dict__") else None
    if item is not None:  # the simulator's FakeWithinKernelCUDAArray
        return item._ary
    if type(a).__name__ == "FakeCUDAArray":  # inside tuples the simulator does not wrap
        return a._ary
    if type(a) is tuple:
        return tuple(_unwrap(v) for v in a)
    return a


_decode_block = device_fn(decode_block)


def shape_only(W):
    """A host stand-in with W's shape (no memory) for the shape checks of the wrappers,
    so that device arrays are never copied to the host for them."""
    if not core.is_device_array(W):
        return W
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=W.shape, strides=(0,) * len(W.shape))


#: Offsets inside the one allocation of _device_outputs are multiples of this (the
#: alignment cudaMalloc gives, which vectorised readers of the codes may rely on).
_ALIGN = 256


def _device_outputs(c, m, bs):
    """``((codes, packed), counts)`` for m blocks of bs on the device, as
    core.kernel_outputs, with the zeroed status counts: one allocation from the
    package's memory pool (_gpu_memory: numba's own allocations cost 55-200 us each, a
    fair share of a naive call), the packed codes first, then the scale bytes and the
    counts at aligned offsets."""
    half = bs // 2
    o_codes = -(-m * half // _ALIGN) * _ALIGN
    o_counts = o_codes + -(-m // _ALIGN) * _ALIGN
    buf = _gpu_memory.device_bytes(c, o_counts + 24)
    counts = _sub(buf, o_counts, (3,), np.int64)
    return (_sub(buf, o_codes, (m,), np.uint8), _sub(buf, 0, (m, half), np.uint8)), _zero(counts)


def _sub(buf, start, shape, dtype):
    """A C-contiguous array of ``shape`` and ``dtype`` on the bytes of the device array
    ``buf`` (uint8, 1-D) from byte ``start``: made directly on a view of its memory
    (numba's slicing costs ~45 us a view, measured on an H200 host)."""
    from numba import config

    dtype = np.dtype(dtype)
    strides = tuple(int(np.prod(shape[k + 1:], dtype=np.int64)) * dtype.itemsize for k in range(len(shape)))
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if config.ENABLE_CUDASIM:
        return buf[start:start + nbytes].view(dtype).reshape(shape)
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    return DeviceNDArray(shape, strides, dtype, gpu_data=buf.gpu_data.view(start, start + nbytes))


def _zero(a):
    """The device array ``a`` set to zero (a memset; under the simulator, a copy)."""
    from numba import config

    if config.ENABLE_CUDASIM:
        a.copy_to_device(np.zeros(tuple(a.shape), a.dtype))
    else:
        from numba.cuda.cudadrv.driver import device_memset

        device_memset(a, 0, a.nbytes)
    return a


def count_statuses(status_dev, counts):
    """Add to ``counts`` (device int64 (3,)) how many blocks of the device array
    ``status_dev`` have each status that is not OK (a kernel for launchers whose kernels
    write statuses to global memory instead of counting them)."""
    launch(count_status_kernel, status_dev.size, status_dev, counts)


def device_amax(x_dev):
    """float32 max |x| of a device array (exact: an integer max of the bit patterns)."""
    c = cuda()
    out = _zero(_sub(_gpu_memory.device_bytes(c, 4), 0, (1,), np.uint32))
    n = min(x_dev.size, GPU_THREADS_PER_BLOCK * GPU_REDUCE_BLOCKS)  # threads; a grid-stride loop does the rest
    launch(amax_bits_kernel, n, x_dev.reshape(-1).view(np.uint32), out)
    m = out.copy_to_host().view(np.float32)[0]
    return m if np.isfinite(m) else np.float32(0.0)


@functools.cache
def _dec():
    return cuda().to_device(formats.E4M3_DECODE)


def run_blocks(block_fn, W, dim, return_dequant, recipe, rounding, amax, *extra, ncb=1, block_out=None,
               variant=None, as_bytes=False, launcher=None):
    """The GPU form of core.run_block_kernel: ``block_fn`` (a device function with the
    signature of _gpu_tile.tiled_kernel's, one thread per block; or what ``launcher``
    takes) on every block, in tiles of one column block. Returns (result, block_out on the host or None).

    Host (NumPy) ``W``: laid out like the CPU path, processed in chunks of about
    GPU_CHUNK_BLOCKS blocks holding whole rows of ``ncb`` column blocks (so block b's
    column block stays b % ncb; results do not depend on the chunking); only the bytes
    come back (1 + bs / 2 bytes a block), and the float outputs, unless ``as_bytes``,
    are decoded from them on the host. Device ``W`` (anything with
    ``__cuda_array_interface__``): float32, C-contiguous, block axis last; device results
    of the same shapes. ``extra`` (a tuple the block function gets) must already be on
    the device. ``block_out=(trailing shape, dtype)`` appends a per-block output array
    (e.g. ADMM's errors) to ``extra``. ``variant``: the kernel's options
    (_gpu_tile.tiled_kernel). ``launcher``: instead of _gpu_tile.launch_tiles, e.g.
    _gpu_group.launch_groups (``block_fn`` is then what it takes)."""
    if launcher is None:
        launcher = functools.partial(launch_tiles, **(variant or {}))
    elif variant:
        raise ValueError("variant is the tiled kernels' options; a launcher takes none")
    core.check_as_bytes(return_dequant, as_bytes)
    c = cuda()
    r = recipes.get_recipe(recipe)
    if core.is_device_array(W):
        return _run_device(c, block_fn, W, dim, return_dequant, as_bytes, r, rounding, amax, extra, block_out, ncb,
                           launcher)
    x, batch_shape, dim = core.to_blocks(W, dim)
    rc = core.tensor_params(r, rounding, x, amax)
    n, bs = x.shape
    codes, packed = core.kernel_outputs(n, bs)
    counts = np.zeros(3, np.int64)
    extra_out = None if block_out is None else np.zeros((n,) + block_out[0], block_out[1])
    step = max(1, GPU_CHUNK_BLOCKS // ncb) * ncb
    for b0 in range(0, n, step):
        b1 = min(n, b0 + step)
        out_d, chunk_counts, tail = _launch_blocks(c, block_fn, c.to_device(x[b0:b1]), ncb, rc, extra, block_out,
                                                   launcher)
        counts += chunk_counts
        codes[b0:b1] = out_d[0].copy_to_host()
        packed[b0:b1] = out_d[1].copy_to_host()
        if tail:
            extra_out[b0:b1] = tail[0].copy_to_host()
    if counts[1:].any():
        core.check_status_counts(counts, W, recipe=r)
    result = core.kernel_results(codes, packed, rc, return_dequant, as_bytes, batch_shape, dim)
    return core.with_tensor_scale(result, r, rc), extra_out


def _launch_blocks(c, block_fn, xb, ncb, rc, extra, block_out, launcher):
    """Run ``block_fn`` on the device blocks ``xb`` (m, bs): (outputs (codes, packed)
    as core.kernel_outputs, status counts, () or (block_out array,))."""
    m, bs = tuple(xb.shape)
    out_d, counts = _device_outputs(c, m, bs)
    tail = () if block_out is None else (c.to_device(np.zeros((m,) + block_out[0], block_out[1])),)
    launcher(block_fn, xb, ncb, rc, _dec(), out_d, counts, tuple(extra), tail)
    return out_d, counts.copy_to_host(), tail


@cached_kernel
def _decode_kernel(codes, packed, dec, rc, scales, pairs, quants, dequant, want_dq):
    """_emit.decode_block on the device, one thread per block."""
    b = numba_cuda.grid(1)
    if b < codes.size:
        _decode_block(b, codes, packed, dec, rc, scales, pairs, quants, dequant, want_dq)


def _decode_on_device(codes, packed, rc, scales, pairs, quants, dequant, want_dq):
    """core.float_outputs' decode for device arrays."""
    launch(_decode_kernel, codes.size, codes, packed, _dec(), rc, scales, pairs, quants, dequant, want_dq)


def _run_device(c, block_fn, W, dim, return_dequant, as_bytes, r, rounding, amax, extra, block_out, ncb, launcher):
    x = W if hasattr(W, "copy_to_host") else c.as_cuda_array(W)  # numba's own arrays as they are
    if x.dtype != np.float32 or not x.is_c_contiguous():
        raise TypeError(f"a device array W must be C-contiguous float32, got {x.dtype} "
                        f"(contiguous: {x.is_c_contiguous()})")
    shape = tuple(x.shape)  # a plain tuple (the simulator's shapes reject negative indices)
    if not shape or dim not in (-1, len(shape) - 1):
        raise ValueError("for a device array W the block axis must be the last one (dim=-1)")
    bs = shape[-1]
    if bs not in core.BLOCK_SIZES:
        raise ValueError(f"W.shape[-1] is the block size and must be 16 or 32; W has shape {shape}")
    batch_shape = shape[:-1]
    xb = x.reshape(-1, bs)
    if r.two_level:  # the host path's rule (core.tensor_amax), with max|W| taken on the device
        m = device_amax(xb)
        amax = m if amax is None else core.check_tensor_amax(amax, m)
    rc = core.tensor_params(r, rounding, None, amax)
    (codes, packed), counts, tail = _launch_blocks(c, block_fn, xb, ncb, rc, extra, block_out, launcher)
    if counts[1:].any():
        core.check_status_counts(counts, x.copy_to_host(), recipe=r)
    result = core.kernel_results(codes, packed, rc, return_dequant, as_bytes, batch_shape, -1,
                                 alloc=c.device_array, decode=_decode_on_device)
    return core.with_tensor_scale(result, r, rc), (tail[0].copy_to_host() if tail else None)
