"""Byte-level NVFP4 (nvfp4_np.encoding): E2M1 codes and E4M3 bytes checked exhaustively
against ml_dtypes; nibble packing and the 128x4 scale swizzle checked against slow loops
written here from the format notes (element 2i in the low nibble; the TRT-LLM / cuBLAS
offset formula) and against an emulation of torchao's ``to_blocked`` reshape chain."""

import math
import re

import ml_dtypes
import numpy as np
import pytest
from conftest import assert_bits_equal
from hypothesis import given, settings
from hypothesis import strategies as st

from nvfp4_np.encoding import (
    e4m3_bytes,
    e4m3_values,
    fp4_codes,
    fp4_values,
    pack_fp4,
    swizzle_scales,
    unpack_fp4,
    unswizzle_scales,
)

F32 = np.float32
ALL_CODES = np.arange(16, dtype=np.uint8)
ALL_BYTES = np.arange(256, dtype=np.uint8)
#: ml_dtypes' decoding of the 16 E2M1 codes and the 256 E4M3 bytes.
ML_FP4 = ALL_CODES.view(ml_dtypes.float4_e2m1fn).astype(F32)
ML_E4M3 = ALL_BYTES.view(ml_dtypes.float8_e4m3fn).astype(F32)
ML_E4M3_NAN = np.isnan(ML_E4M3)
FLOAT_DTYPES = [np.float16, np.float32, np.float64, ml_dtypes.bfloat16]


def at(value, index, n=3):
    """A float64 array of n ones with ``value`` at ``index`` (1.0 is in both formats)."""
    a = np.ones(n)
    a[index] = value
    return a


# ------------------------------------------------------------------------------ E2M1


def test_fp4_values_match_ml_dtypes_all_16_codes():
    v = fp4_values(ALL_CODES)
    assert_bits_equal(v, ML_FP4, "fp4_values")
    assert v.view(np.uint32)[8] == 0x80000000  # 0x8 is -0.0, sign bit set


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_fp4_codes_round_trip_all_16_codes(dtype):
    codes = fp4_codes(fp4_values(ALL_CODES).astype(dtype))
    assert codes.dtype == np.uint8
    assert codes.tolist() == ALL_CODES.tolist()


def test_fp4_codes_match_ml_dtypes_encoding_and_keep_shape():
    vals = ML_FP4.reshape(2, 2, 4)
    expected = vals.astype(ml_dtypes.float4_e2m1fn).view(np.uint8)
    assert np.array_equal(fp4_codes(vals), expected)
    assert fp4_codes(vals).shape == (2, 2, 4)
    assert fp4_codes(ML_FP4.astype(ml_dtypes.float4_e2m1fn)).tolist() == ALL_CODES.tolist()
    zero_d = fp4_codes(F32(-0.0))
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == () and zero_d == 0x8
    assert fp4_codes([0.0, -0.0]).tolist() == [0x0, 0x8]


@pytest.mark.parametrize("bad", [0.25, 7.0, np.nan, np.inf, -np.inf, 1 + 2.0**-30, 12.0])
def test_fp4_codes_rejects_non_e2m1_values(bad):
    x = at(bad, [1, 2], n=4)
    with pytest.raises(ValueError, match=r"quants contains 2 of 4 value\(s\) not exactly "
                                         r"representable in E2M1.*first at index \(1,\)") as e:
        fp4_codes(x)
    assert repr(float(bad)) in str(e.value)


def test_fp4_codes_rejects_in_float32_after_float64_would_round():
    # 1 + 2^-30 is 1.0 in float32: the check must run on the input's own values.
    with pytest.raises(ValueError, match=r"first at index \(0, 1\)"):
        fp4_codes(np.array([[1.0, 1 + 2.0**-30]]))


def test_fp4_codes_rejects_integer_dtype():
    with pytest.raises(TypeError, match="quants must have a real floating dtype"):
        fp4_codes(np.array([1, 2]))


def test_fp4_values_checks_dtype_and_range():
    assert_bits_equal(fp4_values(np.array([[15, 0]], np.int64)), np.array([[-6.0, 0.0]], F32))
    assert fp4_values(np.uint8(8)).shape == ()
    with pytest.raises(TypeError, match=r"codes must have an integer dtype.*float64.*fp4_codes"):
        fp4_values(np.array([0.5]))
    with pytest.raises(TypeError, match=r"arr\.view\(np\.uint8\)"):
        fp4_values(ML_FP4.astype(ml_dtypes.float4_e2m1fn))
    with pytest.raises(ValueError, match=r"codes must hold E2M1 codes 0\.\.15; 1 of 3 .*index \(2,\): 16"):
        fp4_values(np.array([0, 15, 16], np.uint8))
    with pytest.raises(ValueError, match=r"index \(0,\): -1"):
        fp4_values(np.array([-1], np.int8))


# ------------------------------------------------------------------------------ E4M3


def test_e4m3_values_match_ml_dtypes_all_256_bytes():
    v = e4m3_values(ALL_BYTES)
    assert v.dtype == F32 and v.shape == (256,)
    assert np.array_equal(np.isnan(v), ML_E4M3_NAN)
    assert np.flatnonzero(ML_E4M3_NAN).tolist() == [0x7F, 0xFF]
    assert_bits_equal(v[~ML_E4M3_NAN], ML_E4M3[~ML_E4M3_NAN], "e4m3_values")
    assert v.view(np.uint32)[0x80] == 0x80000000


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_e4m3_bytes_round_trip_every_finite_byte(dtype):
    finite = ALL_BYTES[~ML_E4M3_NAN]
    assert 0x00 in finite and 0x80 in finite
    b = e4m3_bytes(e4m3_values(finite).astype(dtype))
    assert b.dtype == np.uint8
    assert b.tolist() == finite.tolist()


def test_e4m3_bytes_match_ml_dtypes_cast():
    vals = ML_E4M3[~ML_E4M3_NAN].reshape(2, 127)
    assert np.array_equal(e4m3_bytes(vals), vals.astype(ml_dtypes.float8_e4m3fn).view(np.uint8))
    assert np.array_equal(e4m3_bytes(vals.astype(ml_dtypes.float8_e4m3fn)), e4m3_bytes(vals))
    assert e4m3_bytes(-0.0).shape == () and e4m3_bytes(-0.0) == 0x80


@pytest.mark.parametrize(
    "bad", [449.0, 0.3, np.nan, np.inf, -np.inf, 480.0, -464.0, 2.0**-10, 3 * 2.0**-11, 1 + 2.0**-20]
)
def test_e4m3_bytes_rejects_non_e4m3_values(bad):
    with pytest.raises(ValueError, match=r"scales contains 1 of 3 value\(s\) not exactly "
                                         r"representable in E4M3.*first at index \(2,\).*snap_e4m3") as e:
        e4m3_bytes(at(bad, 2))
    assert repr(float(bad)) in str(e.value)


def test_e4m3_values_checks_dtype_and_range():
    assert e4m3_values(np.int64(0x38)) == 1.0
    with pytest.raises(TypeError, match=r"scale_bytes must have an integer dtype.*e4m3_bytes"):
        e4m3_values(np.array([1.0]))
    with pytest.raises(TypeError, match=r"arr\.view\(np\.uint8\)"):
        e4m3_values(np.array([1.0]).astype(ml_dtypes.float8_e4m3fn))
    with pytest.raises(ValueError, match=r"bytes 0\.\.255.*index \(1,\): 256"):
        e4m3_values(np.array([255, 256], np.int16))


# ------------------------------------------------------------------------------ packing


def slow_pack(codes):
    """Element 2i in the low nibble, 2i+1 in the high nibble, one byte at a time."""
    *lead, k = codes.shape
    out = np.zeros((*lead, k // 2), np.uint8)
    for idx in np.ndindex(*lead):
        for i in range(k // 2):
            lo, hi = int(codes[idx + (2 * i,)]), int(codes[idx + (2 * i + 1,)])
            out[idx + (i,)] = lo + 16 * hi
    return out


def test_pack_fp4_nibble_order():
    assert pack_fp4(np.array([1, 2], np.uint8)).tolist() == [0x21]
    assert pack_fp4(np.array([[0xF, 0x0, 0x8, 0x7]])).tolist() == [[0x0F, 0x78]]
    pairs = unpack_fp4(ALL_BYTES).reshape(256, 2)
    assert pairs.dtype == np.uint8
    assert np.array_equal(pairs[:, 0], ALL_BYTES & 0xF) and np.array_equal(pairs[:, 1], ALL_BYTES >> 4)
    assert np.array_equal(pack_fp4(unpack_fp4(ALL_BYTES)), ALL_BYTES)


@settings(max_examples=40)
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    half_k=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_pack_unpack_round_trip_and_match_slow_loop(lead, half_k, seed):
    codes = np.random.default_rng(seed).integers(0, 16, (*lead, 2 * half_k), dtype=np.uint8)
    packed = pack_fp4(codes)
    assert packed.dtype == np.uint8 and packed.shape == (*lead, half_k)
    assert np.array_equal(packed, slow_pack(codes))
    assert np.array_equal(unpack_fp4(packed), codes)


def test_pack_fp4_rejects_bad_input():
    with pytest.raises(ValueError, match=re.escape("K even (two codes per byte), got shape (3, 5)")):
        pack_fp4(np.zeros((3, 5), np.uint8))
    with pytest.raises(ValueError, match="got shape \\(\\)"):
        pack_fp4(np.uint8(3))
    with pytest.raises(ValueError, match=r"E2M1 codes 0\.\.15.*index \(1, 0\): 16"):
        pack_fp4(np.array([[1, 2], [16, 0]]))
    with pytest.raises(TypeError, match="codes must have an integer dtype"):
        pack_fp4(np.zeros((2, 4), F32))
    with pytest.raises(TypeError, match="packed must have an integer dtype"):
        unpack_fp4(np.zeros(4, F32))
    with pytest.raises(ValueError, match="0-d"):
        unpack_fp4(np.uint8(3))


# ------------------------------------------------------------------------------ swizzle


def slow_swizzle(a):
    """The flat swizzled buffer, one byte at a time from the offset formula, and the mask
    of the bytes written (the rest is padding and must stay 0)."""
    m_rows, ks = a.shape[-2:]
    n_rt, n_kt = math.ceil(m_rows / 128), math.ceil(ks / 4)
    per_batch = n_rt * n_kt * 512
    batches = a.reshape(-1, m_rows, ks)
    buf = np.zeros(len(batches) * per_batch, np.uint8)
    written = np.zeros(buf.size, bool)
    for b, s in enumerate(batches):
        for m in range(m_rows):
            for k in range(ks):
                off = ((m // 128) * n_kt + k // 4) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + (k % 4)
                off += b * per_batch
                assert not written[off], f"offset {off} written twice"
                buf[off] = s[m, k]
                written[off] = True
    return buf, written


def torchao_to_blocked(a):
    """NumPy emulation of torchao ``mx_formats/utils.py::to_blocked`` (2-D, flat out)."""
    rows, cols = a.shape
    nrb, ncb = math.ceil(rows / 128), math.ceil(cols / 4)
    padded = np.zeros((nrb * 128, ncb * 4), a.dtype)
    padded[:rows, :cols] = a
    blocks = padded.reshape(nrb, 128, ncb, 4).transpose(0, 2, 1, 3)
    return blocks.reshape(-1, 4, 32, 4).transpose(0, 2, 1, 3).reshape(-1, 32, 16).ravel()


def check_swizzle(shape, seed):
    # Bytes 1..255: a 0 in the output can only be padding.
    a = np.random.default_rng(seed).integers(1, 256, shape, dtype=np.uint8)
    *lead, m_rows, ks = shape
    s = swizzle_scales(a)
    assert s.dtype == np.uint8 and s.flags.c_contiguous
    assert s.shape == (*lead, 32 * math.ceil(m_rows / 128), 16 * math.ceil(ks / 4))
    buf, written = slow_swizzle(a)
    assert written.sum() == a.size
    flat = s.ravel()
    assert np.array_equal(flat, buf)
    assert not flat[~written].any(), "padding bytes must be 0"
    assert np.count_nonzero(flat) == a.size
    if len(shape) == 2:
        assert np.array_equal(flat, torchao_to_blocked(a))
    back = unswizzle_scales(s, shape)
    assert back.shape == tuple(shape) and back.flags.c_contiguous
    assert np.array_equal(back, a)
    assert np.array_equal(unswizzle_scales(flat, shape), a)


@pytest.mark.parametrize("shape", [(1, 1), (128, 4), (129, 9), (300, 7), (256, 8), (5, 3, 70, 5), (2, 130, 4)])
def test_swizzle_matches_offset_formula(shape):
    check_swizzle(shape, seed=sum(shape))


@settings(max_examples=30)
@given(m_rows=st.integers(1, 300), ks=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_swizzle_matches_offset_formula_hypothesis(m_rows, ks, seed):
    check_swizzle((m_rows, ks), seed)


def test_swizzle_one_tile_layout():
    # Inside a 128x4 tile, row 32*i + j and column c land at byte j*16 + i*4 + c.
    m, k = np.meshgrid(np.arange(128), np.arange(4), indexing="ij")
    a = (m % 32 * 4 + m // 32 + 64 * k).astype(np.uint8)  # distinct, not row-major order
    flat = swizzle_scales(a).ravel()
    assert np.array_equal(flat[(m % 32) * 16 + (m // 32) * 4 + k], a)


def test_swizzle_empty_shapes_round_trip():
    for shape in [(0, 5), (7, 0), (2, 0, 3)]:
        a = np.zeros(shape, np.uint8)
        s = swizzle_scales(a)
        assert s.size == 0
        assert unswizzle_scales(s, shape).shape == shape


def test_swizzle_rejects_bad_input():
    with pytest.raises(ValueError, match=re.escape("at least 2 dimensions, got shape (5,)")):
        swizzle_scales(np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="scale_bytes must be a uint8 array.*got dtype int64"):
        swizzle_scales(np.zeros((4, 4), np.int64))
    with pytest.raises(TypeError, match="got dtype float32.*e4m3_bytes"):
        swizzle_scales(np.ones((4, 4), F32))


def test_unswizzle_rejects_wrong_size_or_shape():
    s = swizzle_scales(np.ones((129, 9), np.uint8))  # (64, 48)
    msg = re.escape("swizzled has shape (63, 48), but scales of shape (129, 9) swizzle to shape (64, 48)")
    with pytest.raises(ValueError, match=msg):
        unswizzle_scales(s[:-1], (129, 9))
    with pytest.raises(ValueError, match=re.escape("swizzled has shape (3071,)")):
        unswizzle_scales(s.ravel()[:-1], (129, 9))
    with pytest.raises(ValueError, match=re.escape("swizzle to shape (64, 16)")):
        unswizzle_scales(s, (129, 3))
    with pytest.raises(ValueError, match=re.escape("swizzle to shape (1, 64, 48)")):
        unswizzle_scales(s, (1, 129, 9))  # same bytes, but a 2-D array must match exactly
    with pytest.raises(ValueError, match=re.escape("swizzle to shape (64, 48)")):
        unswizzle_scales(s.reshape(32, 96), (129, 9))
    with pytest.raises(ValueError, match="at least 2 non-negative entries"):
        unswizzle_scales(s, (3072,))
    with pytest.raises(ValueError, match="at least 2 non-negative entries"):
        unswizzle_scales(s, (-1, 9))
    with pytest.raises(TypeError, match="shape must be a tuple of ints"):
        unswizzle_scales(s, (129.0, 9))
    with pytest.raises(TypeError, match="shape must be a tuple of ints"):
        unswizzle_scales(s, 129)
    with pytest.raises(TypeError, match="swizzled must be a uint8 array"):
        unswizzle_scales(s.astype(np.int16), (129, 9))
