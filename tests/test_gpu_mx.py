"""GPU twin of the MX kernels (nvfp4_np.gpu_mx) against the CPU (mx.mx_naive,
mx_search.mx_optimal and mx_hessian): the same codes, scale bytes and count of
non-finite blocks for every format and scale rounding, on test_mx's inputs that reach
the edges; the same MXTensor from ``quantize(..., device="cuda")``; the same errors
(tests/gpu_common.py: how to run)."""

import zlib

import numba
import numpy as np
import pytest

from gpu_common import ROWS, SIM
import nvfp4_np
from nvfp4_np import _gpu, _gpu_tile, core, gpu_mx, mx, mx_search, registry
from nvfp4_np._numba_cuda import cuda
from nvfp4_np.hessian import block_hessians
from test_mx import BLOCK_KINDS, amax_inputs, block_inputs

FORMATS = list(mx.MX_FORMATS)
MODES = list(mx.SCALE_ROUNDINGS)
#: Rows and columns of each kind of block_inputs: under the simulator test_mx's own
#: (16 rows of 8 blocks), on a GPU more rows and columns.
R, C = (16, 256) if SIM else (max(16, ROWS // 8), 1024)


def inputs(fmt, what, rows=R, cols=C):
    """float32 (5 rows, cols): test_mx.block_inputs of every kind, one under the other."""
    rng = np.random.default_rng(zlib.crc32(f"{fmt}-{what}".encode()))
    return np.concatenate([block_inputs(rng, kind, fmt, rows, cols) for kind in BLOCK_KINDS]).astype(np.float32)


def hessians(fmt, cols, t=64):
    """The block Hessians (cols / 32, 32, 32) of correlated activations (t, cols)."""
    rng = np.random.default_rng(zlib.crc32(f"{fmt}-X".encode()))
    X = rng.standard_normal((t, cols)).astype(np.float32)
    X[:, 1:] += 0.5 * X[:, :-1]
    return block_hessians(X, mx.MX_BLOCK, accumulate=np.float64)


def assert_same(got, want, what):
    assert len(got) == len(want) == 3, what
    for i, name in enumerate(("codes", "scale bytes")):
        g, w = got[i], want[i]
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype == np.uint8 and g.shape == w.shape, \
            f"{what} {name}: {g.dtype} {g.shape} != {w.dtype} {w.shape}"
        bad = np.argwhere(g != w)
        assert not bad.size, f"{what} {name}: {len(bad)} differ, first at {bad[:5].tolist()}"
    assert type(got[2]) is int and got[2] == want[2], f"{what} non-finite blocks: {got[2]!r} != {want[2]!r}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_naive_matches_cpu(fmt, mode):
    x = inputs(fmt, mode)
    assert_same(gpu_mx.mx_naive(x, fmt, mode), mx.mx_naive(x, fmt, mode), f"naive {fmt} {mode}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_optimal_matches_cpu(fmt):
    x = inputs(fmt, "optimal")
    assert_same(gpu_mx.mx_optimal(x, fmt), mx_search.mx_optimal(x, fmt), f"optimal {fmt}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_hessian_matches_cpu(fmt):
    rows, cols = (8, 128) if SIM else (R, C)
    x = inputs(fmt, "hessian", rows, cols)
    H = hessians(fmt, cols)
    assert_same(gpu_mx.mx_hessian(x, fmt, H), mx_search.mx_hessian(x, fmt, H), f"hessian {fmt}")


_e8m0_byte = _gpu.device_fn(mx.e8m0_byte)


@_gpu_tile.cached_kernel
def _bytes_kernel(a, mode, emax, mbits, largest, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i] = _e8m0_byte(a[i], mode, emax, mbits, largest)


@numba.njit
def _cpu_bytes(a, mode, emax, mbits, largest, out):
    for i in range(a.size):
        out[i] = mx.e8m0_byte(a[i], mode, emax, mbits, largest)


def amax_sweep():
    """float32 amax for the E8M0 byte: test_mx's (every exponent, the rounding edges);
    on a GPU also 2^20 random bit patterns and, at every exponent, the 256 floats either
    side of the power of two and of each format's largest times it (where fl(amax /
    largest) is near a power of two: rceil's and its CPU fallback's edges)."""
    a = amax_inputs()
    if SIM:  # (the same CPU code: a sample)
        return np.ascontiguousarray(a[:: max(1, a.size // 512)])
    rng = np.random.default_rng(20)
    more = [rng.integers(0, 0x7F800000, 1 << 20, dtype=np.uint32).view(np.float32)]
    steps = np.arange(-256, 257, dtype=np.int64)
    for largest in [1.0] + [f.element.max_finite for f in mx.MX_FORMATS.values()]:
        with np.errstate(over="ignore"):  # (beyond float32: Inf, dropped)
            p = (np.float32(largest) * np.exp2(np.arange(-149, 128, dtype=np.float64))).astype(np.float32)
        p = p[np.isfinite(p) & (p > 0)]
        bits = p.view(np.uint32).astype(np.int64)[:, None] + steps
        more.append(bits[(bits >= 0) & (bits < 0x7F800000)].astype(np.uint32).view(np.float32))
    return np.concatenate([a] + more)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_scale_byte_is_the_cpus(fmt):
    """mx.e8m0_byte compiled for the device gives the CPU's byte in every mode (rceil_cpu's
    float32 log2 included) for every amax of amax_sweep."""
    f = mx.MX_FORMATS[fmt]
    mbits, _, _, largest = mx.element_args(f)
    a = amax_sweep()
    c = _gpu.cuda()
    for mode in range(len(MODES)):
        want = np.empty(a.size, np.uint8)
        _cpu_bytes(a, mode, f.emax, mbits, largest, want)
        out = c.device_array(a.size, np.uint8)
        _gpu_tile.launch(_bytes_kernel, a.size, c.to_device(a), mode, f.emax, mbits, largest, out)
        got = out.copy_to_host()
        bad = np.flatnonzero(got != want)
        assert not bad.size, (MODES[mode], [(float(a[i]), int(got[i]), int(want[i])) for i in bad[:5]])


def test_the_edges_are_reached():
    """The inputs reach what they are there for, on the GPU: E8M0 bytes 0 and near the
    top in every naive mode (both ends of the range), searched bytes that differ from
    every naive mode's (the search goes below and above it), the Hessian's bytes that
    differ from optimal's, and saturated and zero codes."""
    fmt = "mxfp6_e3m2"
    x = inputs(fmt, "edges")
    naive = {m: gpu_mx.mx_naive(x, fmt, m)[1] for m in MODES}
    for m, s in naive.items():
        assert s.min() == 0 and s.max() >= 240, m
    codes, opt, _ = gpu_mx.mx_optimal(x, fmt)
    assert all((opt != s).any() for s in naive.values())
    assert (opt < naive["rceil"]).any() and (opt > naive["floor"]).any()
    top = mx.MX_FORMATS[fmt].element.decode_table().argmax()
    assert (codes == top).any() and (codes == 0).any()
    rows, cols = (8, 128) if SIM else (R, C)
    xh = inputs(fmt, "edges-h", rows, cols)
    hess = gpu_mx.mx_hessian(xh, fmt, hessians(fmt, cols))[1]
    assert (hess != gpu_mx.mx_optimal(xh, fmt)[1]).any()


@pytest.mark.parametrize("method", ["naive", "optimal", "hessian"])
def test_quantize_on_cuda_is_the_cpu_tensor(method):
    """``quantize(W, fmt=..., device="cuda")`` gives the CPU's MXTensor: a 3-D W blocked
    along a middle axis, MXFP4 (packed codes) and an FP8 format, every argument of the
    method."""
    rng = np.random.default_rng(zlib.crc32(method.encode()))
    W = (rng.standard_normal((3, 64, 4)) * np.exp2(rng.uniform(-30, 30, (3, 1, 4)))).astype(np.float32)
    kws = {"naive": [dict(), dict(scale_rounding="rceil"), dict(scale_rounding="even")],
           "optimal": [dict()],
           "hessian": [dict(X=rng.standard_normal((16, 64))), dict(H_blocks=hessians("h", 64))]}[method]
    for fmt in ("mxfp4", "mxfp8_e5m2"):
        for kw in kws:
            got = nvfp4_np.quantize(W, fmt=fmt, method=method, axis=1, device="cuda", **kw)
            want = nvfp4_np.quantize(W, fmt=fmt, method=method, axis=1, **kw)
            assert isinstance(got, nvfp4_np.MXTensor) and not core.is_device_array(got.codes)
            assert got._meta() == want._meta(), (fmt, kw)
            for name in ("codes", "scale_bytes"):
                g, w = getattr(got, name), getattr(want, name)
                assert g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w), (fmt, kw, name)


def test_the_registry_names_the_gpu_kernels():
    for method in ("naive", "optimal", "hessian"):
        assert registry.METHODS[method].mx_function("cuda") is getattr(gpu_mx, f"mx_{method}")


@pytest.mark.parametrize("method", ["naive", "optimal", "hessian"])
def test_nonfinite_input_is_the_cpu_error(method):
    """NaN, Inf and float64 beyond float32's range: the CPU's error (the same message:
    count of values and blocks, first index), and from the kernels the same count of
    blocks."""
    kw = {"X": np.ones((4, 128))} if method == "hessian" else {}
    for bad, where in ((np.nan, (2, 5)), (-np.inf, (0, 127)), (1e300, (3, 40))):
        W = np.random.default_rng(1).standard_normal((4, 128))
        W[where] = bad
        W[1, 64:96] = np.inf  # a second block
        with pytest.raises(core.NonFiniteError) as want:
            nvfp4_np.quantize(W, fmt="mxfp8_e4m3", method=method, **kw)
        with pytest.raises(core.NonFiniteError) as got:
            nvfp4_np.quantize(W, fmt="mxfp8_e4m3", method=method, device="cuda", **kw)
        assert str(got.value) == str(want.value) and "in 2 block(s)" in str(got.value)
    x = np.ones((3, 96), np.float32)
    x[0, 1] = x[0, 33] = x[2, 95] = np.nan
    assert gpu_mx.mx_naive(x, "mxfp4")[2] == mx.mx_naive(x, "mxfp4")[2] == 3
    assert gpu_mx.mx_optimal(x, "mxfp4")[2] == mx_search.mx_optimal(x, "mxfp4")[2] == 3


def test_bad_arguments_are_the_cpu_errors():
    x = np.ones((2, 64), np.float32)
    for gpu_fn, cpu_fn, args in ((gpu_mx.mx_naive, mx.mx_naive, ("mxfp9",)),
                                 (gpu_mx.mx_naive, mx.mx_naive, ("mxfp4", "up")),
                                 (gpu_mx.mx_optimal, mx_search.mx_optimal, ("fp4",))):
        with pytest.raises(ValueError) as want:
            cpu_fn(x, *args)
        with pytest.raises(ValueError) as got:
            gpu_fn(x, *args)
        assert str(got.value) == str(want.value)


def test_chunks_do_not_change_the_result(monkeypatch):
    x = inputs("mxfp4", "chunks", 4, 128)
    H = hessians("mxfp4", 128)
    want = [mx.mx_naive(x, "mxfp4", "ceil"), mx_search.mx_optimal(x, "mxfp4"), mx_search.mx_hessian(x, "mxfp4", H)]
    monkeypatch.setattr(gpu_mx, "CHUNK_BLOCKS", 12)  # 3 of the 20 rows (4 blocks each) a chunk, the last 2
    got = [gpu_mx.mx_naive(x, "mxfp4", "ceil"), gpu_mx.mx_optimal(x, "mxfp4"), gpu_mx.mx_hessian(x, "mxfp4", H)]
    for g, w, what in zip(got, want, ("naive", "optimal", "hessian")):
        assert_same(g, w, f"chunked {what}")


def test_empty_inputs():
    for shape in ((0, 64), (3, 0)):
        x = np.zeros(shape, np.float32)
        assert_same(gpu_mx.mx_naive(x, "mxfp6_e2m3"), mx.mx_naive(x, "mxfp6_e2m3"), f"naive {shape}")
        assert_same(gpu_mx.mx_optimal(x, "mxfp6_e2m3"), mx_search.mx_optimal(x, "mxfp6_e2m3"), f"optimal {shape}")
