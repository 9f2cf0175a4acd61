"""The GPU path as a whole: device arrays in and out, chunking, errors and warnings,
nvfp4_np.quantize(device="cuda"), the tensor-amax rule and the golden vectors. The
methods' own tests are in tests/test_gpu_naive_optimal.py, test_gpu_hessian.py and
test_gpu_admm.py (tests/gpu_common.py: how to run them all, on a GPU or under the CUDA
simulator)."""

import os
import tempfile
import warnings

import numpy as np
import pytest

from gpu_common import IGNORE_UNDERFLOW, NCB, ROWS, SIM, assert_same, gpu, weights
import nvfp4_np

pytestmark = IGNORE_UNDERFLOW


def test_device_array_in_device_array_out(rng):
    from numba import cuda

    W = weights(rng, ROWS, 16).reshape(-1, 16)
    for recipe in ("seed", "te"):
        got = gpu.nvfp4_optimal(cuda.to_device(W), return_dequant=True, recipe=recipe)
        assert not any(isinstance(a, np.ndarray) for a in got[:3])  # device arrays
        assert_same(got, nvfp4_np.nvfp4_optimal(W, return_dequant=True, recipe=recipe), f"device {recipe}")
        got = gpu.nvfp4_optimal(cuda.to_device(W), as_bytes=True, recipe=recipe)
        assert not any(isinstance(a, np.ndarray) for a in got[:2])
        assert_same(got, nvfp4_np.nvfp4_optimal(W, as_bytes=True, recipe=recipe), f"device bytes {recipe}")
    with pytest.raises(TypeError, match="C-contiguous float32"):
        gpu.nvfp4_naive(cuda.to_device(W.astype(np.float64)))


def test_chunking_does_not_change_bits(rng, monkeypatch):
    from nvfp4_np import _gpu

    W = weights(rng, ROWS, 16)
    X = rng.standard_normal((64, 16 * NCB)).astype(np.float32)
    whole = gpu.nvfp4_optimal_hessian(W, X=X, mode="exact", recipe="te", return_dequant=True)
    monkeypatch.setattr(_gpu, "GPU_CHUNK_BLOCKS", 5 * NCB + 3)  # rounded down to whole rows
    assert_same(gpu.nvfp4_optimal_hessian(W, X=X, mode="exact", recipe="te", return_dequant=True), whole, "chunks")
    assert_same(gpu.nvfp4_naive(W, return_dequant=True), nvfp4_np.nvfp4_naive(W, return_dequant=True), "naive chunks")


def test_errors_and_warnings_match_cpu():
    W = np.ones((3, 16), np.float32)
    W[1, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite value.*first at index \(1, 4\)"):
        gpu.nvfp4_naive(W)
    W = np.full((2, 16), 1e-3, np.float32)
    with pytest.warns(RuntimeWarning, match="2 block"):
        gpu.nvfp4_naive(W)


def test_quantize_device_cuda(rng):
    W = rng.standard_normal((ROWS, 64)).astype(np.float32)
    for method in ("naive", "optimal"):
        a = nvfp4_np.quantize(W, 16, method, recipe="torchao", device="cuda")
        b = nvfp4_np.quantize(W, 16, method, recipe="torchao")
        assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scale_bytes, b.scale_bytes)
    with pytest.raises(ValueError, match="device must be"):
        nvfp4_np.quantize(W, device="tpu")


def test_check_device_accepts_cuda_here():
    from nvfp4_np import core

    assert core.check_device("cuda") == "cuda"


def test_tensor_amax_rule_matches_cpu(rng):
    from numba import cuda

    W = weights(rng, ROWS, 16)
    amax = np.abs(W).max()
    small = np.nextafter(amax, np.float32(0))
    msg = (f"tensor_amax={small!s} is smaller than max|W| = {amax!s} of the input; pass the amax of the whole tensor "
           f"this is a slice of")
    X = rng.standard_normal((64, 16 * NCB)).astype(np.float32)
    calls = [lambda **kw: gpu.nvfp4_naive(W, recipe="te", **kw),
             lambda **kw: gpu.nvfp4_naive(cuda.to_device(W.reshape(-1, 16)), recipe="te", **kw),  # device amax
             lambda **kw: gpu.nvfp4_optimal(cuda.to_device(W.reshape(-1, 16)), recipe="modelopt", **kw),
             lambda **kw: gpu.nvfp4_optimal_hessian(W, X=X, recipe="torchao", **kw),
             lambda **kw: gpu.nvfp4_admm(W, X=X, recipe="compressed-tensors", **kw),
             lambda **kw: nvfp4_np.quantize(W.reshape(ROWS, -1), recipe="te", device="cuda", **kw)]
    for call in calls:
        with pytest.raises(ValueError) as e:
            call(tensor_amax=small)
        assert str(e.value) == msg
    for ta in (amax, 4 * amax):  # equal, larger: as on the CPU
        assert_same(gpu.nvfp4_naive(cuda.to_device(W.reshape(-1, 16)), recipe="te", tensor_amax=ta),
                    nvfp4_np.nvfp4_naive(W.reshape(-1, 16), recipe="te", tensor_amax=ta), f"device amax {ta}")
        assert_same(gpu.nvfp4_optimal(W, recipe="te", tensor_amax=ta),
                    nvfp4_np.nvfp4_optimal(W, recipe="te", tensor_amax=ta), f"host amax {ta}")


def test_non_psd_h_blocks_and_empty_input_match_cpu():
    W = np.ones((4, 2, 16), np.float32)
    H = np.tile(np.eye(16), (2, 1, 1))
    H[1, 4:6, 4:6] = [[1, 2], [2, 1]]
    pairs = ((nvfp4_np.nvfp4_optimal_hessian, gpu.nvfp4_optimal_hessian), (nvfp4_np.nvfp4_admm, gpu.nvfp4_admm))
    for cpu, dev in pairs:
        with pytest.raises(ValueError) as want:
            cpu(W, H_blocks=H)
        with pytest.raises(ValueError) as got:
            dev(W, H_blocks=H)
        assert str(got.value) == str(want.value) == (
            "H_blocks[1] is not positive semidefinite (1 of 2 blocks fail): its smallest eigenvalue -1 is below "
            "-0.001 x its largest |eigenvalue| 3. Block Hessians X_j^T X_j are PSD up to rounding; compute them "
            "with nvfp4_np.block_hessians(X, block_size)")
    t = nvfp4_np.quantize(np.zeros((0, 256), np.float32), recipe="te", device="cuda")
    assert t.codes.shape == (0, 128) and t.scale_bytes.shape == (0, 16) and t.dequantize().shape == (0, 256)
    assert_same(gpu.nvfp4_naive(np.zeros((3, 0, 16), np.float32), recipe="te"),
                nvfp4_np.nvfp4_naive(np.zeros((3, 0, 16), np.float32), recipe="te"), "empty")


#: The vectors a GPU checks: all but the CPU-only ones: GPTQ's, the 16x16 tiles of naive
#: and optimal (tiles.py), and 4/6's choice by r^T H r.
GPU_VECTORS = r"^(?!gptq-)(?!tiles-)(?!fos-hessian-)"
#: The vectors the simulator checks: every suite and method under the "te" recipe, and the
#: shape suites. Its tiled kernels run the CPU's own per-block functions, whose bits the
#: CPU test of every vector checks; here the tiles, launches and copies are under test.
#: Of the group kernels' vectors (the exact Hessian search, ADMM) only one pinned one (ADMM
#: seed mode): they pass a barrier every step, slow in the simulator (the pinned exact
#: search alone took 53 s of a CI run near its 15 minutes), and test_gpu_hessian.py and
#: test_gpu_admm.py hold them to the CPU in every mode at both block sizes.
SIM_VECTORS = (r"^(?!gptq-)(?!tiles-)(?!fos-hessian-)(?!admm-admm-)(?!hessian-hessian-exact-)"
               r"(?!pinned-hessian-exact-)"
               r"(.*-te-bs|(layout|zero-tensor|tiny-tensor|subnormal-tensor)-)")


def test_gpu_reproduces_the_golden_vectors():
    """The golden vectors' check with the GPU path as a candidate implementation:
    GPU_VECTORS on a GPU, SIM_VECTORS under the simulator."""
    from nvfp4_np import validation

    vectors = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "validation", "vectors")
    select = SIM_VECTORS if SIM else GPU_VECTORS
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        names = validation.write_candidate(vectors, out, device="cuda", select=select)
        report = validation.verify(vectors, out, select=select)
    assert names and report.passed, report.text()


def test_numba_cuda_works_where_numpy_has_no_row_stack():
    """NumPy 2.5 removed np.row_stack, which numba-cuda 0.30.4 registers an overload of on
    its first compile: the GPU modules restore it (as np.vstack) only where it is missing.
    In a fresh process, with row_stack deleted after the CPU kernels have loaded (this
    Numba's CPU target still registers row_stack where NumPy is older than 2.5); on a GPU
    with NumPy 2.5 every GPU test here runs on the restored function."""
    import subprocess
    import sys

    code = (
        "import numpy as np, nvfp4_np\n"
        "W = np.linspace(-3, 3, 64, dtype=np.float32).reshape(4, 16)\n"
        "want = nvfp4_np.nvfp4_naive(W, as_bytes=True)\n"
        "if hasattr(np, 'row_stack'):\n    del np.row_stack\n"
        "from nvfp4_np import gpu, _numba_cuda\n"
        "assert _numba_cuda.ROW_STACK_RESTORED and np.row_stack is np.vstack\n"
        "got = gpu.nvfp4_naive(W, as_bytes=True)\n"
        "assert all(np.array_equal(a, b) for a, b in zip(got, want))\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
    # in this process: restored only if NumPy lacked it
    import nvfp4_np._numba_cuda as nc

    assert nc.ROW_STACK_RESTORED == (np.row_stack is np.vstack)


@pytest.mark.parametrize("method", ["optimal", "hessian"])
def test_quantize_keeps_the_bytes_of_a_device_array_on_the_device(method, rng):
    from numba import cuda

    from conftest import assert_bits_equal

    W = rng.standard_normal((ROWS, 64)).astype(np.float32)
    kw = {"X": rng.standard_normal((32, 64)).astype(np.float32), "mode": "exact"} if method == "hessian" else {}
    t = nvfp4_np.quantize(cuda.to_device(W), 16, method, recipe="te", device="cuda", **kw)
    want = nvfp4_np.quantize(W, 16, method, recipe="te", **kw)
    assert t.on_device and not isinstance(t.codes, np.ndarray) and not isinstance(t.scale_bytes, np.ndarray)
    host = t.to_host()
    assert not host.on_device and host.to_host() is host
    assert np.array_equal(host.codes, want.codes) and np.array_equal(host.scale_bytes, want.scale_bytes)
    assert host.tensor_scale == want.tensor_scale and host.shape == want.shape == W.shape
    assert_bits_equal(t.dequantize(), want.dequantize(), "dequantize of a device tensor")
    assert np.array_equal(t.to_dict()["codes"], want.codes) and "bytes" in repr(t)
    with pytest.raises(ValueError, match="device='cuda'"):
        nvfp4_np.quantize(cuda.to_device(W), 16, method, **kw)
    with pytest.raises(ValueError, match="last axis"):
        nvfp4_np.quantize(cuda.to_device(np.ascontiguousarray(W.T)), 16, method, axis=0, device="cuda", **kw)


NO_POOL = SIM or os.environ.get("NVFP4_NP_GPU_POOL") == "0"


@pytest.mark.skipif(NO_POOL, reason="no memory pool: the simulator, or NVFP4_NP_GPU_POOL=0")
def test_outputs_from_the_pool_live_while_any_view_does():
    """The outputs' one allocation comes from the package's memory pool (H100 and H200
    have memory pools), and, as numba's own allocations, stays allocated while any view
    of it lives: the views the calls return outlive the buffer they were cut from."""
    import gc

    from nvfp4_np import _gpu, _gpu_memory
    from nvfp4_np._numba_cuda import cuda

    (codes, packed), counts = _gpu._device_outputs(cuda, 1000, 16)
    dev = cuda.current_context().device.id
    assert _gpu_memory._pool_for(dev) is not None
    base = packed.__cuda_array_interface__["data"][0]

    def live(address):
        return any(a == address for _, a in _gpu_memory._live)  # (keys: context, address)

    assert live(base)
    assert counts.copy_to_host().tolist() == [0, 0, 0]
    del packed, counts
    gc.collect()
    assert live(base)  # codes still holds it
    want = np.arange(1000, dtype=np.uint8)
    codes.copy_to_device(want)
    assert np.array_equal(codes.copy_to_host(), want)
    del codes
    gc.collect()
    assert not live(base)
    W = cuda.to_device(np.ones((64, 16), np.float32))
    for _ in range(3):  # freed blocks are handed out again: the results stay right
        scale_bytes, q = gpu.nvfp4_naive(W, as_bytes=True)
        # amax 1: scale E4M3(1/6) = 1.375 * 2^-3 (exponent field 4, mantissa 3: byte 35);
        # 1 / 0.171875 = 5.8 rounds to 6.0 (code 7) in both nibbles
        assert np.all(scale_bytes.copy_to_host() == 35) and np.all(q.copy_to_host() == 0x77)


@pytest.mark.skipif(NO_POOL, reason="no memory pool: the simulator, or NVFP4_NP_GPU_POOL=0")
def test_an_output_dropped_on_another_thread_is_freed():
    """A finalizer runs on the thread that drops the last reference, where no CUDA
    context may be current: the free makes the allocation's context current (without
    it the driver refused the free, and the memory stayed in use for good)."""
    import threading

    from nvfp4_np import _gpu, _gpu_memory
    from nvfp4_np._numba_cuda import cuda

    pool = _gpu_memory._pool_for(cuda.current_context().device.id)
    cu = pool.cu

    def used():
        cuda.synchronize()
        return int(_gpu_memory._check(cu.cuMemPoolGetAttribute(
            pool.pool, cu.CUmemPool_attribute.CU_MEMPOOL_ATTR_USED_MEM_CURRENT), "used"))

    before = used()
    box = list(_gpu._device_outputs(cuda, 1 << 20, 16))  # 9 MiB
    assert used() >= before + 9 * (1 << 20)
    worker = threading.Thread(target=box.clear)
    worker.start()
    worker.join()
    assert used() == before
