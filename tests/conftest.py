"""Shared test settings and helpers."""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# No example database on disk (nothing written outside tests/), no per-example deadline
# (the first call of a kernel compiles), reproducible runs.
settings.register_profile(
    "nvfp4",
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("nvfp4")


def _thread_safe_simulator_swap():
    """numba's CUDA simulator gives a device function its fake ``cuda`` module by swapping
    the module global on every call and putting the real module back on return. Block
    threads calling one device function at once then race: one thread's return unswaps
    another's call, which fails with "module 'numba.cuda' has no attribute 'local'"
    (seen in CI under load). Count the callers per module instead: the first swaps, the
    last puts back. Only under NUMBA_ENABLE_CUDASIM=1; the real GPU has no such swap."""
    from numba import config

    if not config.ENABLE_CUDASIM:
        return
    import contextlib
    import threading

    from numba.cuda.simulator import kernel

    lock = threading.Lock()
    active = {}  # id(module globals) -> [callers, the real globals to put back]

    @contextlib.contextmanager
    def swapped_cuda_module(fn, fake_cuda_module):
        from numba import cuda

        g = fn.__globals__
        with lock:
            entry = active.get(id(g))
            if entry is None:
                orig = {k: v for k, v in g.items() if v is cuda}
                g.update({k: fake_cuda_module for k in orig})
                entry = active[id(g)] = [0, orig]
            entry[0] += 1
        try:
            yield
        finally:
            with lock:
                entry[0] -= 1
                if entry[0] == 0:
                    g.update(entry[1])
                    del active[id(g)]

    kernel.swapped_cuda_module = swapped_cuda_module


_thread_safe_simulator_swap()


def assert_bits_equal(actual, expected, what="array"):
    """Bit-for-bit equality of float32 arrays (signed zeros and shapes included)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == np.float32, f"{what}: dtype {actual.dtype}, expected float32"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    a = actual.view(np.uint32)
    e = expected.astype(np.float32).view(np.uint32)
    bad = np.argwhere(a != e)
    if bad.size:
        i = tuple(bad[0])
        raise AssertionError(
            f"{what}: {len(bad)} of {a.size} elements differ in their bits; first at {i}: "
            f"{actual[i]!r} (0x{int(a[i]):08x}) != {expected[i]!r} (0x{int(e[i]):08x})"
        )


@pytest.fixture
def rng():
    """A fixed-seed generator per test."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def golden_vectors(tmp_path_factory):
    """The golden vectors as this code generates them, built once per test run (read-only:
    tests write their candidates elsewhere)."""
    import warnings

    from nvfp4_np import validation

    out = str(tmp_path_factory.mktemp("golden_vectors"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the corner suites underflow on purpose
        validation.generate(out)
    return out
