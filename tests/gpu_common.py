"""What the GPU tests share (tests/test_gpu*.py): the skip when neither a CUDA GPU nor
the simulator is there, input sizes for each, and comparisons with the CPU results.

The GPU path is tested by method, every method and recipe bit-identical to the CPU path,
on a CUDA GPU or without one under the simulator (as CI does):

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/test_gpu*.py

Without either, the modules are skipped. Under the simulator inputs stay small (kernels
run as Python threads); on a GPU, ``NVFP4_GPU_TEST_ROWS`` makes them larger.
"""

import os

import numpy as np
import pytest
from numba import config

from conftest import assert_bits_equal
from datasets import mixed_blocks
import nvfp4_np
from nvfp4_np.core import host_array

SIM = bool(config.ENABLE_CUDASIM)
if SIM:
    import sys
    import threading

    from numba.cuda.simulator import kernelapi

    # The simulator runs each CUDA thread as a Python thread; the group kernels
    # (_gpu_group.py) pass a barrier every few operations, and with the interpreter's
    # default 5 ms switch interval most of their time went to waiting for it.
    sys.setswitchinterval(1e-4)

    # The simulator's cuda.shared.array looks up the CUDA block's array for the calling
    # line and creates it if absent, unlocked: two threads can each create one and then
    # not share it (seen as a rare wrong result, far likelier with the short switch
    # interval). The same lookup, under a lock.
    _shared_lock = threading.Lock()
    _shared_array = kernelapi.FakeCUDAShared.array

    def _locked_shared_array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer, nothing to create
            return _shared_array(self, shape, dtype)
        frame = sys._getframe(1)
        caller = (frame.f_code.co_filename, frame.f_lineno)  # the simulator's key
        with _shared_lock:
            if caller not in self._allocations:
                from numba.core import types
                from numba.np import numpy_support

                dt = numpy_support.as_dtype(dtype) if isinstance(dtype, types.Type) else dtype
                self._allocations[caller] = np.empty(shape, dt)
            return self._allocations[caller]

    kernelapi.FakeCUDAShared.array = _locked_shared_array
else:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("no CUDA GPU; run with NUMBA_ENABLE_CUDASIM=1 to test the GPU path in the simulator",
                    allow_module_level=True)
from nvfp4_np import gpu  # noqa: E402,F401  (the tests take it from here)

ROWS = int(os.environ.get("NVFP4_GPU_TEST_ROWS", "8" if SIM else "2048"))
#: Rows for the group kernels (_gpu_group.py: the exact Hessian search, ADMM), whose
#: threads meet at a barrier every step: under the simulator each costs every thread a
#: Python thread switch.
GROUP_ROWS = 4 if SIM else ROWS
NCB = 4 if SIM else 32  # column blocks per row: 2048 x 32 blocks on a GPU
RECIPES = sorted(nvfp4_np.registry.RECIPES)
#: The GPU tests' filter of the underflow warning (pytestmark of each module).
IGNORE_UNDERFLOW = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


def assert_same(got, want, what):
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = host_array(g), np.asarray(w)
        if w.dtype == np.uint8:  # bytes (as_bytes=True)
            assert g.dtype == np.uint8 and np.array_equal(g, w), f"{what} output {i}"
        else:
            assert_bits_equal(g, w, f"{what} output {i}")


def weights(rng, rows, bs, ncb=NCB):
    x = mixed_blocks(rng, max(1, rows * ncb // 6 + 1), bs)[: rows * ncb]
    return x.reshape(rows, ncb, bs)


def activations(rng, bs=16, ncb=NCB, t=96):
    """Correlated activations X (t, ncb * bs)."""
    X = rng.standard_normal((t, bs * ncb)).astype(np.float32)
    X[:, 1:] += 0.5 * X[:, :-1]
    return X


def edge_weights(rng, bs):
    """weights() with zero, -0.0 and underflowing blocks in the first rows."""
    W = weights(rng, ROWS, bs)
    W[0, 0] = 0.0
    W[0, 1, ::3] = -0.0
    W[1, 0] *= 1e-7  # underflow / floors
    return W


def assert_same_error(name, W, error, **kw):
    """gpu.<name> refuses W as nvfp4_np.<name> does: the same error, the same message."""
    with pytest.raises(error) as want:
        getattr(nvfp4_np, name)(W, **kw)
    with pytest.raises(error) as got:
        getattr(gpu, name)(W, **kw)
    assert str(got.value) == str(want.value)


def assert_matches_cpu(name, W, what, **kw):
    """gpu.<name> equals nvfp4_np.<name> on W: the float outputs (with the dequant) and the
    bytes (as_bytes)."""
    for out in ({"return_dequant": True}, {"as_bytes": True}):
        assert_same(getattr(gpu, name)(W, **out, **kw), getattr(nvfp4_np, name)(W, **out, **kw), f"{what} {out}")
