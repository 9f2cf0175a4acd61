"""The output pool's logic (nvfp4_np/_gpu_memory.py) against a fake CUDA driver binding:
what it asks the driver, in which order, and what it does when the driver refuses. The
pool on a real GPU (lifetimes, a free on another thread) is tested in tests/test_gpu.py;
this runs anywhere, without numba.cuda."""

import enum
import warnings

import pytest

from nvfp4_np import _gpu_memory
from nvfp4_np._gpu_memory import RELEASE_FACTOR, _freer, _Pool


class CUresult(enum.IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_OUT_OF_MEMORY = 2
    CUDA_ERROR_INVALID_CONTEXT = 201


class FakeDriver:
    """The calls _gpu_memory makes, recorded; allocations answer from ``alloc_results``."""

    CUresult = CUresult

    class CUmemPool_attribute:
        CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = "threshold"

    def __init__(self, alloc_results=(), push=CUresult.CUDA_SUCCESS, free=CUresult.CUDA_SUCCESS):
        self.calls = []
        self.alloc_results = list(alloc_results)
        self.push, self.free = push, free

    def cuuint64_t(self, v):
        return ("u64", v)

    def cuMemPoolSetAttribute(self, pool, attr, value):
        self.calls.append(("set", attr, value))
        return (CUresult.CUDA_SUCCESS,)

    def cuMemAllocFromPoolAsync(self, nbytes, pool, stream):
        self.calls.append(("alloc", nbytes, stream))
        return self.alloc_results.pop(0)

    def cuMemPoolTrimTo(self, pool, keep):
        self.calls.append(("trim", keep))
        return (CUresult.CUDA_SUCCESS,)

    def cuCtxPushCurrent(self, handle):
        self.calls.append(("push", handle))
        return (self.push,)

    def cuCtxPopCurrent(self):
        self.calls.append(("pop",))
        return (CUresult.CUDA_SUCCESS, None)

    def cuMemFreeAsync(self, ptr, stream):
        self.calls.append(("free", ptr, stream))
        return (self.free,)


class FakePointer:
    def __init__(self, ctx, ptr, size, finalizer):
        self.ptr, self.size, self.finalizer = ptr, size, finalizer

    def own(self):
        return ("owned", self)


class FakeContext:
    handle = 7

    def __init__(self):
        self.cleared = 0

        class Deallocs:
            def clear(inner):
                self.cleared += 1

        self.deallocations = Deallocs()


def make_pool(driver):
    pool = _Pool.__new__(_Pool)  # (not __init__: it asks a real driver for a pool)
    pool.cu, pool.AutoFreePointer = driver, FakePointer
    pool.DeviceNDArray = lambda shape, strides, dtype, gpu_data: (shape, strides, gpu_data)
    pool.pool, pool.stream, pool.largest = "pool", "legacy", 0
    return pool


@pytest.fixture(autouse=True)
def no_live_entries():
    yield
    _gpu_memory._live.clear()


def test_an_allocation_raises_the_threshold_only_when_it_is_the_largest():
    d = FakeDriver([(CUresult.CUDA_SUCCESS, 1000), (CUresult.CUDA_SUCCESS, 2000), (CUresult.CUDA_SUCCESS, 3000)])
    pool, ctx = make_pool(d), FakeContext()
    shape, _, (_, mem) = pool.alloc(ctx, 100)
    assert shape == (100,) and mem.ptr == 1000 and (7, 1000) in _gpu_memory._live
    pool.alloc(ctx, 50)
    pool.alloc(ctx, 300)
    assert [c for c in d.calls if c[0] == "set"] == [
        ("set", "threshold", ("u64", RELEASE_FACTOR * 100)), ("set", "threshold", ("u64", RELEASE_FACTOR * 300))]
    assert [c[2] for c in d.calls if c[0] == "alloc"] == ["legacy"] * 3
    assert ctx.cleared == 0 and not any(c[0] == "trim" for c in d.calls)


def test_out_of_memory_frees_what_waits_then_retries():
    d = FakeDriver([(CUresult.CUDA_ERROR_OUT_OF_MEMORY, None), (CUresult.CUDA_SUCCESS, 4096)])
    pool, ctx = make_pool(d), FakeContext()
    _, _, (_, mem) = pool.alloc(ctx, 10)
    assert mem.ptr == 4096 and ctx.cleared == 1
    assert [c[0] for c in d.calls] == ["set", "alloc", "trim", "alloc"] and ("trim", 0) in d.calls


def test_out_of_memory_twice_leaves_it_to_numba():
    d = FakeDriver([(CUresult.CUDA_ERROR_OUT_OF_MEMORY, None)] * 2)
    assert make_pool(d).alloc(FakeContext(), 10) is None
    assert not _gpu_memory._live


def test_other_allocation_errors_are_raised():
    d = FakeDriver([(CUresult.CUDA_ERROR_INVALID_CONTEXT, None)])
    with pytest.raises(RuntimeError, match="cuMemAllocFromPoolAsync failed"):
        make_pool(d).alloc(FakeContext(), 10)


def test_a_free_runs_with_its_context_current():
    d = FakeDriver()
    _gpu_memory._live[(7, 99)] = "mem"
    _freer(d, 7, 99, "legacy", (7, 99))()
    assert d.calls == [("push", 7), ("free", 99, "legacy"), ("pop",)]
    assert (7, 99) not in _gpu_memory._live


def test_a_free_whose_context_is_gone_does_nothing_more():
    d = FakeDriver(push=CUresult.CUDA_ERROR_INVALID_CONTEXT)
    _freer(d, 7, 99, "legacy", (7, 99))()
    assert d.calls == [("push", 7)]


def test_a_refused_free_warns_and_pops_the_context():
    d = FakeDriver(free=CUresult.CUDA_ERROR_INVALID_CONTEXT)
    with pytest.warns(RuntimeWarning, match="freeing a GPU output failed"):
        _freer(d, 7, 99, "legacy", (7, 99))()
    assert d.calls[-1] == ("pop",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _freer(FakeDriver(), 7, 98, "legacy", (7, 98))()  # (a free that works says nothing)
