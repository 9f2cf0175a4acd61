"""The parallel float32 conversion and max|x| (_convert) against NumPy's astype and a
float64 max (tests/naive.py): every bfloat16 and float16 value, float32 and float64
arrays with NaN and Inf anywhere, and the same results with 1 or 2 threads."""

import ml_dtypes
import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from naive import ref_to_float32
from nvfp4_np import _convert, core
from nvfp4_np._safetensors import SafetensorsFile, save

ALL16 = np.arange(1 << 16, dtype=np.uint16)


def same_values(a, b):
    """Bit-equal float32, NaNs matched by position (their payloads may differ)."""
    nan = np.isnan(a)
    return a.shape == b.shape and np.array_equal(nan, np.isnan(b)) and \
        np.array_equal(a.view(np.uint32)[~nan], b.view(np.uint32)[~nan])


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16])
def test_every_16_bit_value(dtype):
    a = ALL16.view(dtype)
    w, amax = _convert.to_float32(a)
    ref, ref_amax = ref_to_float32(a)
    assert same_values(w.reshape(-1), ref)
    assert amax == ref_amax == 0  # the array holds NaN and Inf
    finite = a[np.isfinite(ref)]
    w, amax = _convert.to_float32(finite)
    assert same_values(w, ref_to_float32(finite)[0]) and amax == ref_to_float32(finite)[1] > 0
    # the same from the raw bits (how a checkpoint's tensor is read, without ml_dtypes)
    name = "BF16" if dtype is ml_dtypes.bfloat16 else "F16"
    wb, amaxb = _convert.to_float32(finite.view(np.uint16), bits=name)
    assert same_values(wb, w) and amaxb == amax


def arrays_with_specials(draw, dtype, n):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6)).astype(dtype)
    for _ in range(draw(st.integers(0, 3))):
        x[rng.integers(0, n)] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0, 65504.0, -1e30]))
    return x


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from([np.float32, np.float64, np.float16, ml_dtypes.bfloat16]),
       st.sampled_from([1, 7, 1 << 16, (1 << 16) + 3, 3 * (1 << 16) - 1]))
def test_arrays_against_astype(data, dtype, n):
    with np.errstate(over="ignore", invalid="ignore"):
        x = arrays_with_specials(data.draw, dtype, n)
    got = _convert.to_float32(x)
    ref = ref_to_float32(x)
    assert same_values(got[0], ref[0]) and got[1] == ref[1] and got[1].dtype == np.float32
    assert core.tensor_amax(ref[0]) == ref[1]  # the definition the kernels check amax with
    if dtype is np.float32:
        assert got[0] is x  # no copy


def test_thread_count_and_shapes_do_not_matter():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 1000)).astype(ml_dtypes.bfloat16)
    x[123, 456] = -77.5
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            results.append(_convert.to_float32(x))
            results.append((None, _convert.absmax(results[-1][0])))
    finally:
        numba.set_num_threads(before)
    assert all(r[1] == np.float32(77.5) for r in results)
    assert same_values(results[0][0], results[2][0]) and results[0][0].shape == (300, 1000)
    strided = x[:, ::2]  # not contiguous: converted all the same
    assert same_values(_convert.to_float32(strided)[0], ref_to_float32(strided)[0])


def test_bits_argument_is_checked():
    with pytest.raises(ValueError, match="uint16 bits"):
        _convert.to_float32(np.zeros(4, np.float32), bits="BF16")
    with pytest.raises(ValueError, match="uint16 bits"):
        _convert.to_float32(np.zeros(4, np.uint16), bits="F32")


def test_checkpoint_reads_without_ml_dtypes_and_matches(tmp_path):
    """SafetensorsFile.float32 converts a bf16 / f16 tensor from its bits; same values as
    reading it through ml_dtypes."""
    rng = np.random.default_rng(1)
    ts = {"b": rng.standard_normal((64, 96)).astype(ml_dtypes.bfloat16),
          "h": rng.standard_normal((64, 96)).astype(np.float16),
          "d": rng.standard_normal((64, 96))}
    save(tmp_path / "m.safetensors", ts)
    f = SafetensorsFile(tmp_path / "m.safetensors")
    for k, v in ts.items():
        w, amax = f.float32(k)
        ref = ref_to_float32(v)
        assert same_values(w, ref[0]) and amax == ref[1]


def test_byte_swapped_and_empty_inputs():
    """Big-endian float16 (and big-endian bits) convert by value, not as native words;
    empty arrays give an empty float32 array and amax 0."""
    x = np.array([1.5, -2.0, 3.0, 0.25, -0.0], np.float16)
    for a, bits in ((x.astype(">f2"), None), (x.view(np.uint16).astype(">u2"), "F16")):
        w, amax = _convert.to_float32(a, bits=bits)
        assert same_values(w, x.astype(np.float32)) and amax == 3.0
    for a, bits in ((np.zeros((0, 16), ml_dtypes.bfloat16), None), (np.zeros(0, np.uint16), "BF16"),
                    (np.zeros((3, 0), np.float16), None)):
        w, amax = _convert.to_float32(a, bits=bits)
        assert w.dtype == np.float32 and w.shape == a.shape and amax == 0


def test_the_parallel_max_finds_the_largest_anywhere():
    """_absbits keeps 16 running maxima per chunk and a scalar tail: the largest |x| (or
    the non-finite value) is found at every lane position, in a chunk's tail, and in
    the last, partial chunk."""
    n = 2 * _convert.CONVERT_CHUNK + 21
    base = np.random.default_rng(9).uniform(-1.0, 1.0, n).astype(np.float32)
    for pos in list(range(0, 40)) + [_convert.CONVERT_CHUNK - 1, _convert.CONVERT_CHUNK + 5, n - 17, n - 1]:
        for big in (np.float32(-3.5), np.float32(np.inf), np.float32(np.nan)):
            x = base.copy()
            x[pos] = big
            want = (np.abs(x).view(np.uint32)).max()
            assert _convert.max_abs_bits(x) == want, (pos, big)
            assert _convert.absmax(x) == (np.float32(3.5) if np.isfinite(big) else np.float32(0.0))
