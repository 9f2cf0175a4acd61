"""What both methods share (nvfp4_np.core): layouts (dim, N-D, strides, empty, 1-D),
input dtypes, input checks and their messages, the underflow warning, and independence
from threads, block order and batch size."""

import os
import sys
import warnings

import ml_dtypes
import numba
import numpy as np
import pytest

from conftest import assert_bits_equal
from datasets import edge_matrix, mixed_blocks
from naive import ref_naive, ref_optimal
from nvfp4_np import core, nvfp4_naive, nvfp4_optimal

F32 = np.float32

METHODS = {"naive": (nvfp4_naive, ref_naive), "optimal": (nvfp4_optimal, ref_optimal)}


@pytest.fixture(params=list(METHODS))
def method(request):
    return METHODS[request.param]


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kw)


def sample(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 2, shape[:-1] + (1,))
    return x.astype(F32)


def assert_same_outputs(got, expected, what):
    assert len(got) == len(expected)
    for g, e, name in zip(got, expected, ("scales", "quants", "dequant")):
        assert_bits_equal(g, e, f"{what}: {name}")


# -------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("bs", [16, 32])
def test_dim0_on_2d_equals_transpose(method, bs):
    fn, ref = method
    W = sample((60, bs)).T.copy()  # (bs, 60), blocks along axis 0
    s, q, dq = quiet(fn, W, dim=0, return_dequant=True)
    assert s.shape == (60,) and q.shape == W.shape and dq.shape == W.shape
    rs, rq = quiet(ref, W.T)
    assert_bits_equal(s, rs, "scales")
    assert_bits_equal(q, rq.T, "quants")
    assert_bits_equal(dq, (rq * rs[:, None]).T, "dequant")
    assert_same_outputs(quiet(fn, W, dim=-2, return_dequant=True), (s, q, dq), "dim=-2")


def test_dim1_on_3d_equals_moveaxis(method):
    fn, ref = method
    W = sample((4, 16, 5), seed=1)
    s, q, dq = quiet(fn, W, dim=1, return_dequant=True)
    assert s.shape == (4, 5) and q.shape == (4, 16, 5)
    ms, mq, mdq = quiet(fn, np.moveaxis(W, 1, -1), return_dequant=True)
    assert_bits_equal(s, ms, "scales")
    assert_bits_equal(q, np.moveaxis(mq, -1, 1), "quants")
    assert_bits_equal(dq, np.moveaxis(mdq, -1, 1), "dequant")
    rs, rq = ref(np.moveaxis(W, 1, -1).reshape(-1, 16))
    assert_bits_equal(s, rs.reshape(4, 5), "scales vs reference")
    assert_bits_equal(q, np.moveaxis(rq.reshape(4, 5, 16), -1, 1), "quants vs reference")


def test_nd_input(method):
    fn, ref = method
    W = sample((2, 3, 4, 32), seed=2)
    s, q, dq = quiet(fn, W, return_dequant=True)
    rs, rq = quiet(ref, W.reshape(-1, 32))
    assert_bits_equal(s, rs.reshape(2, 3, 4), "scales")
    assert_bits_equal(q, rq.reshape(W.shape), "quants")
    assert_bits_equal(dq, (rq * rs[:, None]).reshape(W.shape), "dequant")


@pytest.mark.parametrize(
    "make",
    [
        lambda big: big[::2, ::3][:, :16],  # steps in both axes
        lambda big: big[::-1, 5:21],  # negative stride, offset
        lambda big: big[:, :16].T.copy().T,  # Fortran order
        lambda big: np.ascontiguousarray(big[:16, :40]).T,  # transpose view (40, 16)
        lambda big: big[1::3, ::-2][:, :32],  # negative stride in the block axis
    ],
    ids=["steps", "reversed_rows", "fortran", "transpose", "reversed_block_axis"],
)
def test_non_contiguous_inputs(method, make):
    fn, _ = method
    big = sample((64, 96), seed=3)
    W = make(big)
    assert not W.flags.c_contiguous or W.strides[0] < 0
    expected = quiet(fn, np.ascontiguousarray(W), return_dequant=True)
    assert_same_outputs(quiet(fn, W, return_dequant=True), expected, "non-contiguous")


def test_non_contiguous_along_dim0(method):
    fn, _ = method
    big = sample((40, 33), seed=4)
    W = big[::2, 1::2][:16]  # (16, 16) view, blocks along axis 0
    expected = quiet(fn, np.ascontiguousarray(W), dim=0, return_dequant=True)
    assert_same_outputs(quiet(fn, W, dim=0, return_dequant=True), expected, "dim=0 view")


@pytest.mark.parametrize("bs", [16, 32])
def test_empty_input(method, bs):
    fn, _ = method
    s, q, dq = fn(np.zeros((0, bs), F32), return_dequant=True)
    assert s.shape == (0,) and q.shape == (0, bs) and dq.shape == (0, bs)
    assert s.dtype == q.dtype == dq.dtype == F32
    s, q = fn(np.zeros((3, 0, bs), F32))
    assert s.shape == (3, 0) and q.shape == (3, 0, bs)


@pytest.mark.parametrize("bs", [16, 32])
def test_single_1d_block(method, bs):
    fn, ref = method
    x = sample((bs,), seed=5)
    s, q, dq = fn(x, return_dequant=True)
    assert s.shape == () and q.shape == (bs,) and dq.shape == (bs,)
    rs, rq = ref(x[None])
    assert_bits_equal(s, rs[0], "scale")
    assert_bits_equal(q, rq[0], "quants")
    assert_bits_equal(dq, rq[0] * rs[0], "dequant")


def test_input_not_modified(method):
    fn, _ = method
    W = sample((50, 16), seed=6)
    W_copy = W.copy()
    fn(W, return_dequant=True)
    assert_bits_equal(W, W_copy, "input after the call")


def test_read_only_and_list_inputs(method):
    fn, _ = method
    W = sample((20, 16), seed=15)
    expected = fn(W, return_dequant=True)
    ro = W.copy()
    ro.flags.writeable = False
    kernels = [k for k in vars(sys.modules[fn.__module__]).values() if hasattr(k, "signatures")]
    compiled = sum(len(k.signatures) for k in kernels)
    assert_same_outputs(fn(ro, return_dequant=True), expected, "read-only input")
    assert not ro.flags.writeable and np.array_equal(ro, W)
    # (a read-only array is another Numba type: the kernels would compile again, a minute for ADMM)
    assert sum(len(k.signatures) for k in kernels) == compiled, "a read-only input compiled the kernels again"
    assert_same_outputs(fn(W.tolist(), return_dequant=True), expected, "nested list input")


def test_dim_accepts_numpy_integers_and_rejects_non_integers(method):
    fn, _ = method
    W = sample((16, 20), seed=16)
    assert_same_outputs(fn(W, dim=np.int64(0)), fn(W, dim=0), "np.int64 dim")
    for bad in (0.0, "0", True, None):
        with pytest.raises(TypeError):
            fn(W, dim=bad)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float64], ids=str)
def test_other_float_dtypes_equal_float32_conversion(method, dtype):
    fn, _ = method
    rng = np.random.default_rng(7)
    base = rng.standard_normal((300, 16)) * 10.0 ** rng.uniform(-1, 2, (300, 1))
    W = base.astype(dtype)
    got = quiet(fn, W, return_dequant=True)
    expected = quiet(fn, W.astype(F32), return_dequant=True)
    assert_same_outputs(got, expected, f"{np.dtype(dtype).name}")
    for a in got:
        assert a.dtype == F32


def test_float64_is_rounded_to_float32_first(method):
    fn, ref = method
    rng = np.random.default_rng(8)
    W = rng.standard_normal((200, 32))  # float64 with bits beyond float32
    # values just off an E2M1 boundary in float64 but on it after rounding to float32
    W[0, :] = 0.0
    W[0, 0] = 3.0
    W[0, 1] = 0.375 + 2.0**-40  # rounds to 0.375 = 0.75 * 0.5 exactly: a tie at s = 0.5
    got = quiet(fn, W, return_dequant=True)
    rs, rq = quiet(ref, W.astype(F32))
    assert_bits_equal(got[0], rs, "scales")
    assert_bits_equal(got[1], rq, "quants")
    assert got[1][0, 1] == 0.5  # the seed's tie toward zero on the rounded value


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize("shape", [(4, 8), (4, 64), (4, 17), (4, 1), (15,), (33,)])
def test_bad_block_size(method, shape):
    fn, _ = method
    with pytest.raises(ValueError, match="16 or 32"):
        fn(np.ones(shape, F32))


@pytest.mark.parametrize("dim", [2, -3, 5, -100])
def test_dim_out_of_range(method, dim):
    fn, _ = method
    with pytest.raises(ValueError, match="out of range"):
        fn(np.ones((4, 16), F32), dim=dim)


def test_dim_selects_a_wrong_block_size(method):
    fn, _ = method
    with pytest.raises(ValueError):
        fn(np.ones((2, 3, 16), F32), dim=0)


def test_zero_dim_input(method):
    fn, _ = method
    with pytest.raises(ValueError):
        fn(np.float32(1.0))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.complex64, np.complex128])
def test_non_float_dtypes_raise_type_error(method, dtype):
    fn, _ = method
    with pytest.raises(TypeError, match="dtype"):
        fn(np.ones((2, 16), dtype=dtype))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_with_count_and_first_index(method, bad):
    fn, _ = method
    W = sample((3, 4, 16), seed=9)
    W[1, 2, 5] = bad
    W[1, 2, 9] = np.nan  # two in one block: the count is of values, not blocks
    W[2, 3, 15] = bad
    with pytest.raises(ValueError) as e:
        fn(W)
    msg = str(e.value)
    assert "3 non-finite" in msg and "(1, 2, 5)" in msg


def test_non_finite_index_is_in_input_coordinates(method):
    fn, _ = method
    W = sample((2, 16, 5), seed=10)
    W[1, 7, 3] = np.inf
    with pytest.raises(ValueError) as e:
        fn(W, dim=1)
    assert "1 non-finite" in str(e.value) and "(1, 7, 3)" in str(e.value)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float64_overflowing_float32_raises(method):
    fn, _ = method
    W = np.ones((2, 16))
    W[0, 3] = 1e300
    with pytest.raises(ValueError, match=r"\(0, 3\)"):
        fn(W)


# ------------------------------------------------- shared argument checks (core.py)


@pytest.mark.parametrize("bs", [16, 32, np.int64(16), np.int32(32), np.uint8(16)])
def test_check_block_size_accepts_python_and_numpy_ints(bs):
    got = core.check_block_size(bs)
    assert got == int(bs) and type(got) is int


@pytest.mark.parametrize("bs, shown", [("16", "str '16'"), (16.0, "float 16.0"), (True, "bool True"),
                                       (np.float32(16), "float32 np.float32(16.0)"), (None, "NoneType None"),
                                       (np.bool_(True), "bool np.True_")])
def test_check_block_size_rejects_non_ints_with_type_error(bs, shown):
    with pytest.raises(TypeError) as e:
        core.check_block_size(bs)
    assert str(e.value) == f"block_size must be an int (16 or 32), got {shown}"


@pytest.mark.parametrize("bs", [8, 0, -16, np.int64(64)])
def test_check_block_size_rejects_other_ints_with_value_error(bs):
    with pytest.raises(ValueError) as e:
        core.check_block_size(bs, "W.shape[1] (the block size)")
    assert str(e.value) == f"W.shape[1] (the block size) must be 16 or 32, got {bs}"


NO_GPU = ("device='cuda' found no CUDA GPU (numba.cuda.is_available() is False): install the NVIDIA driver and "
          "numba-cuda (pip install 'nvfp4_np[cuda]'), or set NUMBA_ENABLE_CUDASIM=1 to run the CUDA simulator")


def test_check_device():
    assert core.check_device("cpu") == "cpu"
    assert issubclass(core.DeviceUnavailableError, RuntimeError)
    for bad in ("gpu", "CUDA", None, 0):
        with pytest.raises(ValueError) as e:
            core.check_device(bad)
        assert str(e.value) == f"device must be 'cpu' or 'cuda', got {bad!r}"


def test_check_device_without_gpu(monkeypatch):
    import numba.cuda

    monkeypatch.setattr(numba.cuda, "is_available", lambda: False)
    with pytest.raises(core.DeviceUnavailableError) as e:
        core.check_device("cuda")
    assert str(e.value) == NO_GPU


def test_check_device_without_numba_cuda(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba.cuda", None)  # what a failed import of numba.cuda looks like
    with pytest.raises(core.DeviceUnavailableError) as e:
        core.check_device("cuda")
    assert str(e.value) == ("device='cuda' needs numba-cuda: pip install 'nvfp4_np[cuda]' (importing numba.cuda "
                            "failed: import of numba.cuda halted; None in sys.modules)")
    assert e.value.__cause__ is None and e.value.__suppress_context__  # one exception, no chain


def test_tensor_amax_rule():
    x = np.array([[1.0, -3.0, 2.0, -0.0] * 4], F32)
    assert core.tensor_amax(x) == 3.0
    for given in (3.0, 3, np.float64(3.0), 1e6):  # equal, or a whole tensor's larger amax
        assert core.tensor_amax(x, given) == F32(given) and type(core.tensor_amax(x, given)) is F32
    with pytest.raises(ValueError) as e:
        core.tensor_amax(x, np.nextafter(F32(3.0), F32(0)))
    assert str(e.value) == ("tensor_amax=2.9999998 is smaller than max|W| = 3.0 of the input; pass the amax of "
                            "the whole tensor this is a slice of")
    # float64 amaxes are compared after rounding to float32, as the kernels use them
    assert core.tensor_amax(x, 3.0 - 1e-9) == 3.0
    x[0, 5] = np.nan  # NaN / Inf are the kernels' to report, whatever the given amax
    assert core.tensor_amax(x, 1.0) == 1.0 and core.tensor_amax(x) == 0.0
    assert core.tensor_amax(np.zeros((0, 16), F32), 0.0) == 0.0
    for bad in (-1.0, np.inf, np.nan, [1.0, 2.0]):
        with pytest.raises(ValueError) as e:
            core.tensor_amax(np.zeros((1, 16), F32), bad)
        assert str(e.value) == f"tensor_amax must be a finite non-negative scalar, got {bad!r}"


# ----------------------------------------------------------------- underflow warning


def underflow_input():
    W = sample((10, 16), seed=11)
    for i, amax in zip((1, 4, 7), (1e-4, 0.005, 0.005859375)):
        W[i] = W[i] / np.abs(W[i]).max() * F32(amax)
        W[i, np.argmax(np.abs(W[i]))] = F32(amax)
    W[2] = 0.0  # amax 0: scale 0 but nothing is lost, no warning for it
    W[3] = -0.0
    W[5] = W[5] / np.abs(W[5]).max() * np.nextafter(F32(0.005859375), F32(1))  # no underflow
    return W


def test_underflow_warns_once_with_block_count(method):
    fn, _ = method
    W = underflow_input()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s, q = fn(W)
    runtime = [m for m in w if issubclass(m.category, RuntimeWarning)]
    assert len(runtime) == 1
    assert "3 block" in str(runtime[0].message)
    assert (s[[1, 2, 3, 4, 7]] == 0).all() and s[5] == 2.0**-9


def test_no_warning_for_normal_or_zero_input(method):
    fn, _ = method
    W = sample((20, 32), seed=12)
    W[3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(W)


def test_underflow_warning_points_at_the_caller(method):
    fn, _ = method
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn(underflow_input())
    assert w[0].filename == __file__


# ------------------------------------------------------- threads, order, batch size


@pytest.fixture(scope="module")
def big_batch():
    """> 2 * 512 blocks of every kind (random of all distributions and magnitudes, and
    the edge blocks) for each block size."""
    rng = np.random.default_rng(13)
    out = {}
    for bs in (16, 32):
        _, edges = edge_matrix(bs)
        x = np.concatenate([mixed_blocks(rng, 400, bs), edges, np.tile(edges, (3, 1))])
        out[bs] = x[rng.permutation(len(x))]
        assert len(out[bs]) > 2 * 512 + 100
    return out


@pytest.mark.parametrize("bs", [16, 32])
def test_threads_do_not_change_bits(method, big_batch, bs):
    fn, _ = method
    x = big_batch[bs]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = quiet(fn, x, return_dequant=True)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = quiet(fn, x, return_dequant=True)
    finally:
        numba.set_num_threads(before)
    assert_same_outputs(two, one, "1 vs 2 threads")


@pytest.mark.parametrize("bs", [16, 32])
def test_big_batch_matches_reference(method, big_batch, bs):
    fn, ref = method
    x = big_batch[bs]
    s, q, dq = quiet(fn, x, return_dequant=True)
    with np.errstate(all="ignore"):
        rs, rq = quiet(ref, x)
    assert_bits_equal(s, rs, "scales")
    assert_bits_equal(q, rq, "quants")
    assert_bits_equal(dq, rq * rs[:, None], "dequant")


@pytest.mark.parametrize("bs", [16, 32])
def test_block_order_does_not_matter(method, big_batch, bs):
    fn, _ = method
    x = big_batch[bs]
    perm = np.random.default_rng(14).permutation(len(x))
    s, q, dq = quiet(fn, x, return_dequant=True)
    ps, pq, pdq = quiet(fn, x[perm], return_dequant=True)
    assert_same_outputs((ps, pq, pdq), (s[perm], q[perm], dq[perm]), "permuted")


@pytest.mark.parametrize("bs", [16, 32])
def test_batch_size_does_not_matter(method, big_batch, bs):
    fn, _ = method
    x = big_batch[bs]
    whole = quiet(fn, x, return_dequant=True)
    # pieces that cut across the 512-block chunks at odd places
    cuts = [0, 1, 512, 513, 1000, 1025, len(x)]
    parts = [quiet(fn, x[a:b], return_dequant=True) for a, b in zip(cuts[:-1], cuts[1:])]
    pieces = tuple(np.concatenate([p[i] for p in parts]) for i in range(3))
    assert_same_outputs(whole, pieces, "split batch")
    # single blocks alone (1-D input), from every chunk
    for i in (0, 511, 512, 1023, 1024, len(x) - 1):
        s, q, dq = quiet(fn, x[i], return_dequant=True)
        assert_same_outputs((s, q, dq), (whole[0][i], whole[1][i], whole[2][i]), f"block {i} alone")


# ---------------------------------------------------------------- caller-provided outputs


def test_out_buffers_are_written_and_returned(method):
    fn, _ = method
    W = sample((40, 3, 16), seed=21)
    want = fn(W, return_dequant=True)
    out = tuple(np.full(a.shape, np.nan, np.float32) for a in want)
    got = fn(W, return_dequant=True, out=out)
    assert all(g is o for g, o in zip(got, out))
    for g, w in zip(got, want):
        assert_bits_equal(g, w)
    # block axis not last: the out arrays keep the seed's shapes
    Wt = np.ascontiguousarray(np.moveaxis(W, -1, 0))
    want = fn(Wt, dim=0)
    out = (np.empty(want[0].shape, np.float32),
           np.moveaxis(np.empty(np.moveaxis(want[1], 0, -1).shape, np.float32), -1, 0))
    for g, w in zip(fn(Wt, dim=0, out=out), want):
        assert_bits_equal(g, w)


def test_out_buffers_bad(method):
    fn, _ = method
    W = sample((4, 16), seed=22)
    s, q = np.empty(4, np.float32), np.empty((4, 16), np.float32)
    with pytest.raises(ValueError, match="tuple of 2"):
        fn(W, out=(s,))
    with pytest.raises(ValueError, match="tuple of 3"):
        fn(W, return_dequant=True, out=(s, q))
    with pytest.raises(TypeError, match="float32"):
        fn(W, out=(s, q.astype(np.float64)))
    with pytest.raises(ValueError, match="shape"):
        fn(W, out=(s, np.empty((4, 32), np.float32)))
    with pytest.raises(ValueError, match="C-contiguous"):
        fn(W, out=(s, np.empty((16, 4), np.float32).T))


# ------------------------------------------------------------------ output allocation


def test_output_array_maps_large_outputs_and_keeps_small_ones_plain():
    import mmap

    from nvfp4_np import core

    big = core.output_array((1 << 20, 16), F32)
    assert big.shape == (1 << 20, 16) and big.dtype == F32
    assert big.flags.c_contiguous and big.flags.writeable
    base = big
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(getattr(base, "obj", base), mmap.mmap)  # (through a memoryview)
    big[-1, -1] = 1.5  # every page is there
    assert big[-1, -1] == 1.5
    small = core.output_array(100, np.uint8)
    assert small.shape == (100,) and small.dtype == np.uint8 and small.base is None


def _resident_bytes():
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Rss:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="Linux /proc only")
@pytest.mark.parametrize("refuse_populate_advice", [False, True])
def test_output_array_pages_are_present_before_the_first_write(monkeypatch, refuse_populate_advice):
    """Both ways of populating (huge pages advised then MADV_POPULATE_WRITE, and the
    MAP_POPULATE fallback taken when a kernel refuses that advice) hand back memory
    that is already resident and writable."""
    from nvfp4_np import core

    if refuse_populate_advice:
        monkeypatch.setattr(core, "_MADV_POPULATE_WRITE", 0x7FFF)  # no such advice: EINVAL
    nbytes = 64 << 20
    before = _resident_bytes()
    a = core.output_array(nbytes // 4, F32)
    assert _resident_bytes() - before >= nbytes * 0.9
    a[:] = 2.0
    assert a.sum(dtype=np.float64) == 2.0 * a.size


@pytest.mark.parametrize("method", ["naive", "optimal"])
def test_large_call_with_mapped_outputs_equals_reference(method):
    """A call whose quants (and dequant) are mapped outputs (>= 4 MiB) gives the reference
    bits, in the seed's shapes and layout (dim 0 moves the block axis back)."""
    rng = np.random.default_rng(5)
    x = (0.05 * rng.standard_normal((1 << 16, 16))).astype(F32)
    fn = nvfp4_naive if method == "naive" else nvfp4_optimal
    ref = ref_naive if method == "naive" else ref_optimal
    s, q, dq = fn(x, return_dequant=True)
    rs, rq = ref(x)
    assert_bits_equal(s, rs, "scales")
    assert_bits_equal(q, rq, "quants")
    assert_bits_equal(dq, rq * rs[:, None], "dequant")
    s0, q0 = fn(np.ascontiguousarray(x.T), dim=0)
    assert_bits_equal(q0, rq.T, "quants, dim 0")
