"""The GPU path: every method and recipe bit-identical to the CPU path.

Runs on a CUDA GPU, or without one under the simulator (as CI does):

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/test_gpu.py

Without either, the module is skipped. Under the simulator inputs stay small (kernels run
as Python threads); on a GPU, ``NVFP4_GPU_TEST_ROWS`` makes them larger.
"""

import os
import tempfile
import warnings

import numpy as np
import pytest
from numba import config

from conftest import assert_bits_equal
from datasets import mixed_blocks
import nvfp4_np

SIM = bool(config.ENABLE_CUDASIM)
if not SIM:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA GPU; run with NUMBA_ENABLE_CUDASIM=1 to test the GPU path in the simulator",
                    allow_module_level=True)
from nvfp4_np import gpu  # noqa: E402

ROWS = int(os.environ.get("NVFP4_GPU_TEST_ROWS", "8" if SIM else "2048"))
NCB = 4 if SIM else 32  # column blocks per row: 2048 x 32 blocks on a GPU
RECIPES = sorted(nvfp4_np.RECIPES)
pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


def host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def assert_same(got, want, what):
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        assert_bits_equal(host(g), np.asarray(w), f"{what} output {i}")


def weights(rng, rows, bs, ncb=NCB):
    x = mixed_blocks(rng, max(1, rows * ncb // 6 + 1), bs)[: rows * ncb]
    return x.reshape(rows, ncb, bs)


@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("name", ["nvfp4_naive", "nvfp4_optimal"])
def test_naive_and_optimal_match_cpu(name, recipe, bs, rng):
    W = weights(rng, ROWS, bs)
    W[0, 0] = 0.0
    W[0, 1, ::3] = -0.0
    W[1, 0] *= 1e-7  # underflow / floors
    got = getattr(gpu, name)(W, return_dequant=True, recipe=recipe)
    want = getattr(nvfp4_np, name)(W, return_dequant=True, recipe=recipe)
    assert_same(got, want, f"{name} {recipe} bs={bs}")


@pytest.mark.parametrize("recipe", ["seed", "te", "compressed-tensors"])
@pytest.mark.parametrize("mode", ["seed", "exact"])
def test_hessian_matches_cpu(mode, recipe, rng):
    W = weights(rng, ROWS, 16)
    X = rng.standard_normal((96, 16 * NCB)).astype(np.float32)
    X[:, 1:] += 0.5 * X[:, :-1]
    got = gpu.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, return_dequant=True)
    want = nvfp4_np.nvfp4_optimal_hessian(W, X=X, mode=mode, recipe=recipe, return_dequant=True)
    assert_same(got, want, f"hessian {mode} {recipe}")


@pytest.mark.parametrize("recipe", ["seed", "torchao"])
@pytest.mark.parametrize("mode", ["seed", "best"])
def test_admm_matches_cpu(mode, recipe, rng):
    W = weights(rng, ROWS, 16)
    X = rng.standard_normal((96, 16 * NCB)).astype(np.float32)
    X[:, 1:] += 0.5 * X[:, :-1]
    info = mode == "best"
    got = gpu.nvfp4_admm(W, X=X, mode=mode, recipe=recipe, return_dequant=True, return_info=info)
    want = nvfp4_np.nvfp4_admm(W, X=X, mode=mode, recipe=recipe, return_dequant=True, return_info=info)
    if info:
        assert got[-1] == want[-1]
        got, want = got[:-1], want[:-1]
    assert_same(got, want, f"admm {mode} {recipe}")


def test_device_array_in_device_array_out(rng):
    from numba import cuda

    W = weights(rng, ROWS, 16).reshape(-1, 16)
    for recipe in ("seed", "te"):
        got = gpu.nvfp4_optimal(cuda.to_device(W), return_dequant=True, recipe=recipe)
        assert not any(isinstance(a, np.ndarray) for a in got[:3])  # device arrays
        assert_same(got, nvfp4_np.nvfp4_optimal(W, return_dequant=True, recipe=recipe), f"device {recipe}")
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


def test_gpu_reproduces_every_golden_vector():
    """The golden vectors' check: the GPU path as a candidate implementation."""
    from nvfp4_np import validation

    vectors = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "validation", "vectors")
    select = None
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        names = validation.write_candidate(vectors, out, device="cuda", select=select)
        report = validation.verify(vectors, out, select=select)
    assert names and report.passed, report.text()
