"""The MX formats from the entry point: ``quantize(W, 32, fmt=..., scale_rounding=...,
method=...)`` and :class:`nvfp4_np.MXTensor`, against the slow references of
tests/naive.py (ref_mx_quantize: torchao's to_mx; ref_mx_search: every byte's error, the Hessian's over
its traversal) and
a consumer's decode written here from the OCP rule (ml_dtypes' element value times
2^(b - 127))."""

import zlib

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nvfp4_np
from naive import MX_ELEMENTS, ref_mx_quantize, ref_mx_search
from nvfp4_np import encoding, mx, registry
from test_mx import BLOCK_KINDS, block_inputs

F32 = np.float32
FORMATS = list(mx.MX_FORMATS)
MODES = list(mx.SCALE_ROUNDINGS)


def consumer_decode(t):
    """What a reader of the bytes computes (OCP MX v1.0): each element's value (by
    ml_dtypes' own type) times 2^(b - 127), one float32 product."""
    dtype = MX_ELEMENTS[t.fmt][0]
    if t.fmt == "mxfp4":
        packed = t.codes
        codes = np.stack([packed & 0xF, packed >> 4], -1).reshape(packed.shape[:-1] + (-1,))
    else:
        codes = t.codes
    v = codes.view(dtype).astype(F32)
    s = np.ldexp(F32(1), t.scale_bytes.astype(np.int32) - 127).astype(F32)
    out = (v.reshape(v.shape[:-1] + (-1, 32)) * s[..., None]).reshape(v.shape)
    return np.moveaxis(out, -1, t.axis)


def codes_of(t):
    """One code per element, unpacked here (MXFP4: element 2i in the low nibble)."""
    if t.fmt != "mxfp4":
        return t.codes
    return np.stack([t.codes & 0xF, t.codes >> 4], -1).reshape(t.codes.shape[:-1] + (-1,))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_naive_is_to_mx(fmt, mode):
    rng = np.random.default_rng(zlib.crc32(f"api{fmt}{mode}".encode()))
    for kind in BLOCK_KINDS:
        x = block_inputs(rng, kind, fmt, R=8, C=128).astype(F32)
        t = nvfp4_np.quantize(x, 32, method="naive", fmt=fmt, scale_rounding=mode)
        rc, rs = ref_mx_quantize(x, fmt, mode)
        assert t.scale_bytes.dtype == np.uint8 and np.array_equal(t.scale_bytes, rs), kind
        assert np.array_equal(codes_of(t), rc), kind
        assert np.array_equal(t.element_codes(), rc)
        assert (t.method, t.scale_rounding, t.fmt, t.block_size) == ("naive", mode, fmt, 32)
        dq = t.dequantize()
        assert np.array_equal(dq.view(np.uint32), consumer_decode(t).view(np.uint32)), kind


def test_the_default_scale_rounding_is_ocp_floor():
    x = np.full((1, 32), 7.0, F32)  # floor clips 7 to 6; the other modes keep it
    t = nvfp4_np.quantize(x, fmt="mxfp4", method="naive")
    assert t.scale_rounding == "floor" and int(t.scale_bytes[0, 0]) == 127 and t.dequantize()[0, 0] == 6.0


@pytest.mark.parametrize("fmt", FORMATS)
def test_optimal_is_the_exhaustive_search(fmt):
    rng = np.random.default_rng(zlib.crc32(f"opt{fmt}".encode()))
    for kind in BLOCK_KINDS:
        x = block_inputs(rng, kind, fmt, R=3, C=96).astype(F32)
        t = nvfp4_np.quantize(x, 32, method="optimal", fmt=fmt)
        rc, rs = ref_mx_search(x, fmt)
        assert np.array_equal(t.scale_bytes, rs), (kind, np.argwhere(t.scale_bytes != rs)[:3])
        assert np.array_equal(codes_of(t), rc), kind
        assert t.scale_rounding is None


def block_sse(x, dq):
    r = (x.astype(np.float64) - dq.astype(np.float64)).reshape(x.shape[0], -1, 32)
    return (r * r).sum(-1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_optimal_errs_no_more_than_any_mode_in_every_block(fmt):
    rng = np.random.default_rng(zlib.crc32(f"le{fmt}".encode()))
    x = np.concatenate([block_inputs(rng, k, fmt, R=8, C=128) for k in BLOCK_KINDS]).astype(F32)
    opt = block_sse(x, nvfp4_np.quantize(x, fmt=fmt, method="optimal").dequantize())
    wins = 0
    for mode in MODES:
        t = nvfp4_np.quantize(x, fmt=fmt, method="naive", scale_rounding=mode)
        # (byte 0 under floor/ceil/even decodes elements at half their value: compare as read)
        naive = block_sse(x, t.dequantize())
        assert np.all(opt <= naive * (1 + 1e-12)), mode
        wins += int((opt < naive).sum())
    assert wins > 0


@pytest.mark.parametrize("fmt", ["mxfp4", "mxfp6_e3m2", "mxfp8_e4m3"])
def test_hessian_is_the_reference_search(fmt):
    """The Hessian search against the reference's traversal (SPEC §9.4), with full-rank
    correlated activations, a singular direction, one token (rank-1 H_j: the error is
    flat along most directions) and H_j = u u^T with u orthogonal to the signs (flat
    where every element saturates)."""
    rng = np.random.default_rng(zlib.crc32(f"hes{fmt}".encode()))
    x = np.concatenate([block_inputs(rng, k, fmt, R=1, C=64) for k in ("normal", "wide", "pow2")]).astype(F32)
    X = rng.standard_normal((80, 64)) * np.exp2(rng.uniform(-3, 3, 64))
    X[:, 5] = X[:, 6]  # (a singular direction)
    t = nvfp4_np.quantize(x, 32, method="hessian", fmt=fmt, X=X)
    H = nvfp4_np.block_hessians(X, 32, accumulate=np.float64)
    rc, rs = ref_mx_search(x, fmt, H)
    assert np.array_equal(t.scale_bytes, rs) and np.array_equal(codes_of(t), rc)
    t2 = nvfp4_np.quantize(x, 32, method="hessian", fmt=fmt, H_blocks=H)
    assert np.array_equal(t2.codes, t.codes) and np.array_equal(t2.scale_bytes, t.scale_bytes)
    one = nvfp4_np.quantize(x, 32, method="hessian", fmt=fmt, X=X[:1])
    rc, rs = ref_mx_search(x, fmt, nvfp4_np.block_hessians(X[:1], 32, accumulate=np.float64))
    assert np.array_equal(one.scale_bytes, rs) and np.array_equal(codes_of(one), rc)
    signs = np.sign(x[:, :32])
    u = rng.standard_normal(32)
    u -= (u @ signs[0]) / (signs[0] @ signs[0]) * signs[0]  # (orthogonal to row 0's sign pattern)
    Hu = np.stack([np.outer(u, u)] * 2)
    flat = nvfp4_np.quantize(x, 32, method="hessian", fmt=fmt, H_blocks=Hu)
    rc, rs = ref_mx_search(x, fmt, Hu)
    assert np.array_equal(flat.scale_bytes, rs) and np.array_equal(codes_of(flat), rc)


@pytest.mark.parametrize("fmt", FORMATS)
def test_searched_bytes_decode_finite_near_flt_max(fmt):
    """A byte whose decoded block overflows float32 is never chosen: blocks of FLT_MAX
    and of FLT_MAX / 1.9 decode finite, and the bytes are the reference's."""
    big = np.finfo(F32).max
    x = np.zeros((3, 64), F32)
    x[0, :32] = big
    x[1, :32] = -big
    x[1, 32:] = F32(big / 1.9)
    x[2] = np.random.default_rng(1).standard_normal(64).astype(F32) * F32(big / 4)
    for method, kw in (("optimal", {}), ("hessian", {"H_blocks": np.stack([np.eye(32)] * 2)})):
        t = nvfp4_np.quantize(x, 32, method, fmt=fmt, **kw)
        assert np.isfinite(t.dequantize()).all(), method
        rc, rs = ref_mx_search(x, fmt, kw.get("H_blocks"))
        assert np.array_equal(t.scale_bytes, rs) and np.array_equal(codes_of(t), rc), method


def test_axis_dtypes_and_batches():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 64, 5)).astype(F32)
    t = nvfp4_np.quantize(W, fmt="mxfp6_e2m3", method="naive", axis=1)
    flat = nvfp4_np.quantize(np.moveaxis(W, 1, -1).reshape(-1, 64), fmt="mxfp6_e2m3", method="naive")
    assert t.codes.shape == (3, 5, 64) and t.scale_bytes.shape == (3, 5, 2) and t.axis == 1
    assert np.array_equal(t.codes.reshape(-1, 64), flat.codes)
    assert t.dequantize().shape == W.shape and t.quants.shape == W.shape and t.scales.shape == (3, 2, 5)
    assert np.array_equal(t.dequantize().view(np.uint32), consumer_decode(t).view(np.uint32))
    bf = W.astype(ml_dtypes.bfloat16)
    assert np.array_equal(nvfp4_np.quantize(bf, fmt="mxfp4", method="naive", axis=1).codes,
                          nvfp4_np.quantize(bf.astype(F32), fmt="mxfp4", method="naive", axis=1).codes)


@pytest.mark.parametrize("fmt", FORMATS)
def test_bfloat16_is_quantized_as_its_float32_values(fmt):
    """The CPU's naive kernel reads bfloat16 itself: the same bytes as for its float32
    values, in every scale rounding, over random bit patterns (float32's whole exponent
    range, subnormals included); Inf or NaN the same error."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 1 << 16, (16, 256)).astype(np.uint16)
    bits[(bits & 0x7F80) == 0x7F80] = 0x3F80  # (no Inf or NaN)
    bits[:4] = (rng.standard_normal((4, 256)).astype(F32).view(np.uint32) >> 16).astype(np.uint16)
    bf = bits.view(ml_dtypes.bfloat16)
    for mode in mx.SCALE_ROUNDINGS:
        a = nvfp4_np.quantize(bf, fmt=fmt, method="naive", scale_rounding=mode)
        b = nvfp4_np.quantize(bf.astype(F32), fmt=fmt, method="naive", scale_rounding=mode)
        assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scale_bytes, b.scale_bytes), mode
    bf[3, 70] = np.inf
    with pytest.raises(ValueError) as e32:
        nvfp4_np.quantize(bf.astype(F32), fmt=fmt, method="naive")
    with pytest.raises(ValueError) as e16:
        nvfp4_np.quantize(bf, fmt=fmt, method="naive")
    for e in (e32, e16):
        assert "1 non-finite value(s) (NaN or Inf) in 1 block(s); first at index (3, 70): " in str(e.value)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 4), st.sampled_from(FORMATS), st.sampled_from(["naive", "optimal"]),
       st.integers(0, 2 ** 32 - 1))
def test_rows_quantize_alone(rows, blocks, fmt, method, seed):
    """A row's bytes do not depend on the other rows (chunking, threads, call order)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, 32 * blocks)) * np.exp2(rng.integers(-60, 60, (rows, 1)))).astype(F32)
    t = nvfp4_np.quantize(x, fmt=fmt, method=method)
    for r in range(rows):
        one = nvfp4_np.quantize(x[r:r + 1], fmt=fmt, method=method)
        assert np.array_equal(one.codes[0], t.codes[r]) and np.array_equal(one.scale_bytes[0], t.scale_bytes[r])


def test_fp6_packing_is_a_little_endian_bit_stream():
    """Bit 6k + j of a group's three bytes (read little-endian) is bit j of code k:
    written here with NumPy's little-endian bit order."""
    rng = np.random.default_rng(6)
    codes = rng.integers(0, 64, (5, 64)).astype(np.uint8)
    bits = np.unpackbits(codes[..., None], axis=-1, bitorder="little")[..., :6].reshape(5, -1)
    want = np.packbits(bits, axis=-1, bitorder="little")
    assert np.array_equal(encoding.pack_fp6(codes), want)
    assert np.array_equal(encoding.unpack_fp6(want), codes)
    assert list(encoding.pack_fp6([1, 2, 3, 4])) == [0x81, 0x30, 0x10]  # 1 | 2<<6 | 3<<12 | 4<<18
    t = nvfp4_np.quantize(rng.standard_normal((2, 64)), fmt="mxfp6_e3m2", method="naive")
    assert np.array_equal(encoding.unpack_fp6(t.packed_codes()), t.codes) and t.packed_codes().shape == (2, 48)
    with pytest.raises(ValueError, match="multiple of 4"):
        encoding.pack_fp6(np.zeros(6, np.uint8))
    with pytest.raises(ValueError, match="0..63"):
        encoding.pack_fp6(np.full(4, 64))


def test_round_trip_through_a_dict_and_a_file(tmp_path):
    W = np.random.default_rng(4).standard_normal((4, 96)).astype(F32)
    for fmt in FORMATS:
        t = nvfp4_np.quantize(W, fmt=fmt, method="naive", scale_rounding="rceil")
        back = nvfp4_np.MXTensor.from_dict({k: v.copy() for k, v in t.to_dict("w.").items()}, "w.")
        assert np.array_equal(back.codes, t.codes) and np.array_equal(back.scale_bytes, t.scale_bytes)
        assert (back.shape, back.fmt, back.method, back.axis, back.scale_rounding) == \
            (t.shape, fmt, "naive", 1, "rceil")
        t.save(tmp_path / f"{fmt}.npz")
        loaded = nvfp4_np.MXTensor.load(tmp_path / f"{fmt}.npz")
        assert np.array_equal(loaded.dequantize(), t.dequantize()) and loaded.scale_rounding == "rceil"
    d = t.to_dict()
    with pytest.raises(ValueError, match="missing key 'scale_bytes'"):
        nvfp4_np.MXTensor.from_dict({k: v for k, v in d.items() if k != "scale_bytes"})
    with pytest.raises(ValueError, match="codes must be uint8 of shape"):
        nvfp4_np.MXTensor.from_dict({**d, "codes": d["codes"][:, :-1]})
    import json
    meta = json.loads(bytes(d["meta"]).decode())
    for bad in ({"fmt": "mxfp9"}, {"axis": 5}, {"axis": True}, {"shape": [4, 100]}, {"shape": 5}, {"shape": None},
                {"shape": [4, -96]}, {"version": 99}, {"scale_rounding": "bogus"}, {"scale_rounding": [1, 2]},
                {"method": "optimal"}, {"method": "naive", "scale_rounding": None}):
        m = np.frombuffer(json.dumps({**meta, **bad}).encode(), np.uint8)
        with pytest.raises(ValueError, match="unsupported MXTensor metadata|must be uint8"):
            nvfp4_np.MXTensor.from_dict({**d, "meta": m})
    no_shape = {k: v for k, v in meta.items() if k != "shape"}
    with pytest.raises(ValueError, match="unsupported MXTensor metadata"):
        nvfp4_np.MXTensor.from_dict({**d, "meta": np.frombuffer(json.dumps(no_shape).encode(), np.uint8)})
    with pytest.raises(ValueError, match="1-D uint8"):
        nvfp4_np.MXTensor.from_dict({**d, "meta": d["meta"].astype(np.float32)})
    with pytest.raises(ValueError, match="not UTF-8 JSON"):
        nvfp4_np.MXTensor.from_dict({**d, "meta": np.frombuffer(b"\xff{", np.uint8)})
    fp6 = nvfp4_np.quantize(W, fmt="mxfp6_e2m3", method="optimal").to_dict()
    fp6["codes"] = fp6["codes"].copy()
    fp6["codes"][0, 0] = 64
    with pytest.raises(ValueError, match="0..63"):
        nvfp4_np.MXTensor.from_dict(fp6)


def test_bad_input_is_a_clear_error():
    W = np.zeros((2, 64), F32)
    cases = [
        (dict(fmt="mxfp9"), ValueError, "fmt must be one of"),
        (dict(fmt="mxfp4", scale_rounding="up"), ValueError, "scale_rounding must be one of"),
        (dict(fmt="mxfp4", method="optimal", scale_rounding="floor"), ValueError, "applies to method='naive'"),
        (dict(scale_rounding="floor"), ValueError, "applies to the MX formats"),
        (dict(fmt="mxfp4", block_size=16), ValueError, "blocks of 32"),
        (dict(fmt="mxfp4", recipe="te"), TypeError, "apply to fmt='nvfp4'"),
        (dict(fmt="mxfp4", method="admm"), ValueError, "NVFP4 only"),
        (dict(fmt="mxfp4", method="hessian"), ValueError, "exactly one of X"),
        (dict(fmt="mxfp4", method="hessian", X=np.ones((4, 32))), ValueError, r"shape \(T, 64\)"),
        (dict(fmt="mxfp4", method="naive", X=np.ones((4, 64))), ValueError, "apply to method='hessian'"),
        (dict(fmt="mxfp8_e4m3", method="naive", device="cuda:0"), ValueError, "device"),
    ]
    for kw, err, msg in cases:
        with pytest.raises(err, match=msg):
            nvfp4_np.quantize(W, **kw)
    with pytest.raises(ValueError, match="multiple of the MX block size 32"):
        nvfp4_np.quantize(np.zeros((2, 48)), fmt="mxfp4")
    for empty in ((4, 0), (0, 64), (0, 0)):  # (empty tensors quantize to empty bytes)
        t = nvfp4_np.quantize(np.zeros(empty, F32), fmt="mxfp4", method="naive")
        assert t.codes.shape == (empty[0], empty[1] // 2) and t.dequantize().shape == empty
    for bad, where in ((np.inf, (1, 40)), (np.nan, (0, 3)), (1e300, (1, 63))):
        x = np.zeros((2, 64))
        x[where] = bad
        with pytest.raises(ValueError, match=rf"non-finite.*first at index \({where[0]}, {where[1]}\)"):
            nvfp4_np.quantize(x, fmt="mxfp4", method="naive")
        with pytest.raises(ValueError, match="non-finite"):
            nvfp4_np.quantize(x, fmt="mxfp8_e5m2", method="optimal")


def test_the_registry_lists_the_formats():
    assert list(registry.FORMATS) == ["nvfp4"] + FORMATS
    for name in FORMATS:
        f = registry.FORMATS[name]
        assert f.is_mx and f.block_sizes == (32,) and f.scale_roundings == tuple(MODES)
        assert f.methods == ("naive", "optimal", "hessian") and f.element is mx.MX_FORMATS[name].element
    assert not registry.FORMATS["nvfp4"].is_mx and registry.FORMATS["nvfp4"].methods == tuple(registry.METHODS)
