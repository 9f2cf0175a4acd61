"""Device memory for the GPU calls' outputs, from a CUDA memory pool of this package's own
(CUDA's stream-ordered allocator).

numba-cuda allocates each device array with cuMemAlloc: ~55 us for a few bytes and
150-200 us for the tens of megabytes of one weight's codes (H200 host, 2026-12-02), a
fifth of a whole naive call. A memory pool hands a block freed earlier to the next
allocation without the driver mapping pages again. The pool is private
(cuMemPoolCreate): no other library's allocations change. After frees it keeps in
reserve up to RELEASE_FACTOR times the largest allocation it has served (its release
threshold) and gives the rest back to the device at synchronisations.

Allocations and frees are ordered on the legacy default stream (CU_STREAM_LEGACY, also
where the per-thread default stream is configured), on which every kernel of this
package runs and which waits for the work of every blocking stream. An array is freed
(cuMemFreeAsync, with its context made current on whichever thread drops it) when the
last reference to it and its views is dropped, as numba's own are (the same reference
counting: numba's AutoFreePointer). Unlike numba's cuMemFree, the free does not wait for
work on non-blocking streams: an output must not be in use there when its last reference
goes. When the pool cannot serve an allocation (out of memory), numba's pending frees
are run, the pool's reserve is given back, and it is tried again, then numba's own
allocation. Where no pool can be made (the simulator, a numba-cuda older than its
use of the NVIDIA binding, a device without memory pools), or where the environment
sets ``NVFP4_NP_GPU_POOL=0`` (read when a device's first output is allocated), numba's
``device_array`` serves.
"""

import os
import threading
import warnings
import weakref

import numpy as np

__all__ = ["device_bytes", "RELEASE_FACTOR"]

#: The pool's release threshold, in multiples of the largest allocation served so far
#: (the pool counts whole 2 MiB granules; with a factor of 2, a caller keeping one result
#: while asking for the next went over it, and every call mapped its memory afresh:
#: measured 1.09 ms a naive call against 0.59 ms).
RELEASE_FACTOR = 4

_lock = threading.Lock()
_pools = {}  # device id -> _Pool, or None where none can be made
_live = {}  # (context, device address) -> its AutoFreePointer (the strong reference numba's manager keeps)


def device_bytes(c, nbytes):
    """A 1-D uint8 device array of ``nbytes`` bytes (``c``: the numba.cuda module)."""
    from numba import config

    if config.ENABLE_CUDASIM:
        return c.device_array(nbytes, np.uint8)
    ctx = c.current_context()
    pool = _pool_for(ctx.device.id)
    out = None if pool is None else pool.alloc(ctx, nbytes)
    return c.device_array(nbytes, np.uint8) if out is None else out


def _pool_for(dev):
    with _lock:
        if dev not in _pools:
            if os.environ.get("NVFP4_NP_GPU_POOL", "1") == "0":
                _pools[dev] = None
                return None
            try:
                _pools[dev] = _Pool(dev)
            except _NoPool:
                _pools[dev] = None
        return _pools[dev]


class _NoPool(Exception):
    pass


def _check(result, what):
    """The value of a cuda.bindings call ``(err, *values)``, or a RuntimeError naming it."""
    err = result[0]
    if int(err) != 0:
        raise RuntimeError(f"{what} failed: {err!r}")
    return result[1] if len(result) == 2 else result[1:]


class _Pool:
    def __init__(self, dev):
        try:
            from numba.cuda.cudadrv import driver as nb_driver
            from numba.cuda.cudadrv.devicearray import DeviceNDArray

            cu = nb_driver.binding  # cuda.bindings.driver, where numba-cuda uses it
            cu.cuMemAllocFromPoolAsync, nb_driver.AutoFreePointer  # noqa: B018 (present?)
        except (ImportError, AttributeError) as e:
            raise _NoPool from e
        supported = cu.cuDeviceGetAttribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED,
                                            cu.CUdevice(dev))
        if int(supported[0]) != 0 or not supported[1]:
            raise _NoPool
        props = cu.CUmemPoolProps()
        props.allocType = cu.CUmemAllocationType.CU_MEM_ALLOCATION_TYPE_PINNED
        props.location.type = cu.CUmemLocationType.CU_MEM_LOCATION_TYPE_DEVICE
        props.location.id = dev
        self.cu, self.AutoFreePointer, self.DeviceNDArray = cu, nb_driver.AutoFreePointer, DeviceNDArray
        self.pool = _check(cu.cuMemPoolCreate(props), "cuMemPoolCreate")
        self.stream = cu.CUstream(cu.CU_STREAM_LEGACY)
        self.largest = 0

    def alloc(self, ctx, nbytes):
        """A uint8 device array of ``nbytes`` from the pool, or None when the pool cannot
        serve it even after numba's pending frees and the release of its own reserve."""
        cu = self.cu
        nbytes = max(int(nbytes), 1)
        if nbytes > self.largest:
            self.largest = nbytes
            _check(cu.cuMemPoolSetAttribute(self.pool, cu.CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                                            cu.cuuint64_t(RELEASE_FACTOR * nbytes)), "cuMemPoolSetAttribute")
        oom = cu.CUresult.CUDA_ERROR_OUT_OF_MEMORY
        result = cu.cuMemAllocFromPoolAsync(nbytes, self.pool, self.stream)
        if result[0] == oom:
            ctx.deallocations.clear()  # numba's frees waiting in its queue
            _check(cu.cuMemPoolTrimTo(self.pool, 0), "cuMemPoolTrimTo")
            result = cu.cuMemAllocFromPoolAsync(nbytes, self.pool, self.stream)
            if result[0] == oom:
                return None
        ptr = _check(result, "cuMemAllocFromPoolAsync")
        handle = ctx.handle
        key = (int(handle), int(ptr))
        mem = self.AutoFreePointer(weakref.proxy(ctx), ptr, nbytes, finalizer=_freer(cu, handle, ptr, self.stream, key))
        _live[key] = mem
        return self.DeviceNDArray((nbytes,), (1,), np.uint8, gpu_data=mem.own())


def _freer(cu, handle, ptr, stream, key):
    """The finalizer of an allocation: cuMemFreeAsync on ``stream`` with the allocation's
    context current (a finalizer runs on whichever thread drops the last reference, where
    another context or none may be current)."""

    def free():
        _live.pop(key, None)
        if int(cu.cuCtxPushCurrent(handle)[0]) != 0:
            return  # the context is gone (cuda.close(), interpreter exit), and its memory with it
        try:
            err = cu.cuMemFreeAsync(ptr, stream)[0]
        finally:
            cu.cuCtxPopCurrent()
        if int(err) != 0 and warnings is not None:  # (None late in interpreter shutdown)
            warnings.warn(f"nvfp4_np: freeing a GPU output failed: {err!r}", RuntimeWarning, stacklevel=1)

    return free
