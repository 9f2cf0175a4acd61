"""Optional cross-checks against the real libraries, bit for bit (CPU).

nvfp4_np's recipes "torchao", "modelopt" and "compressed-tensors" (method "naive") are
compared with torchao 0.18.0 (``NVFP4Tensor.to_nvfp4`` / ``dequantize`` / ``to_blocked``),
nvidia-modelopt 0.47.0 (``NVFP4QTensor.quantize`` / ``dequantize``) and compressed-tensors
0.20.0 (``generate_gparam`` + ``compute_dynamic_scales_and_zp`` + the
``nvfp4-pack-quantized`` compressor, float32 ``dequantize``): packed codes, E4M3 scale
bytes, tensor-scale bits and float32 dequant bits.

Everything here runs on CPU with torch 2.13.0. On CUDA, torch's ``tensor / python_float``
is ``x * fl(1/c)``, not a true division, so the libraries' GPU bytes can differ from these
on ties; these tests pin the CPU arithmetic.

The file needs torch and the libraries; without them it is skipped (a plain ``pytest``
run without torch skips it at import). To run it::

    python3.11 -m venv ~/.cache/nvfp4-xcheck
    ~/.cache/nvfp4-xcheck/bin/pip install torch==2.13.0 torchao==0.18.0 nvidia-modelopt \
        compressed-tensors requests numpy numba ml_dtypes scipy pytest hypothesis
    ~/.cache/nvfp4-xcheck/bin/pip install -e . --no-deps
    ~/.cache/nvfp4-xcheck/bin/python -m pytest -q tests/test_crosscheck.py

(``requests`` is imported by ModelOpt but not declared by it.)
"""

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="cross-checks need torch 2.13.0 CPU and the real libraries (see CONTRIBUTING.md)"
)

import nvfp4_np

F32 = np.float32
BLOCK = 16
#: Bytes of an E4M3 NaN (either sign).
E4M3_NAN_BYTES = (0x7F, 0xFF)


# --------------------------------------------------------------------------- inputs
#
# Every case is an (M, K) float32 matrix and a label per row, so that a mismatch names
# the row that caused it. M is not a multiple of 128 (partial swizzle tiles), K is a
# multiple of 16.

#: FP4 rounding midpoints (exact ties) and grid points, in units of the block scale.
_TIES = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], F32)
_GRID = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], F32)


def _edge_rows(K, rng, top):
    """Named edge rows of length K for a tensor whose largest magnitude is ``top``.

    - zero: all +0.0 (a zero block in every column)
    - negzero: blocks of -0.0 only; -0.0 and tiny negatives next to a 1.0 (the tiny
      negatives round to 0: code 0x8 in every recipe; -0.0 is 0x8 only in torchao's
      sign-bit rule); blocks of tiny negatives only
    - tiny: values around 1e-6 (blocks far below the tensor max: every recipe's lower
      scale clamp or zero-byte rule)
    - huge: the tensor max ``top`` with normal values of that order
    - ties: blocks whose max is 6 * 2**k, the other elements on FP4 midpoints * 2**k
    - gridpts: blocks of FP4 grid points * 2**k with both signs
    """
    nb = K // BLOCK
    rows = {}
    rows["zero"] = np.zeros(K, F32)

    nz = np.empty((nb, BLOCK), F32)
    for b in range(nb):
        kind = b % 3
        if kind == 0:
            nz[b] = -0.0
        elif kind == 1:
            blk = np.where(np.arange(BLOCK) % 2 == 0, F32(-0.0),
                           -(10.0 ** rng.uniform(-9, -4, BLOCK))).astype(F32)
            blk[int(rng.integers(0, BLOCK))] = F32(1.0)
            nz[b] = blk
        else:
            nz[b] = -(10.0 ** rng.uniform(-8, -3, BLOCK)).astype(F32)
    rows["negzero"] = nz.reshape(K)

    rows["tiny"] = (rng.standard_normal(K) * 1e-6).astype(F32)

    huge = (rng.standard_normal(K) * (top / 4)).astype(F32)
    huge = np.clip(huge, -top, top)
    huge[int(rng.integers(0, K))] = F32(-top)
    rows["huge"] = huge

    # Block maxima 6 * 2**k stay at or below ``top``.
    kmax = min(3, int(np.floor(np.log2(float(top) / 6.0))))
    ties = np.empty((nb, BLOCK), F32)
    for b in range(nb):
        k = int(rng.integers(kmax - 9, kmax + 1))
        blk = rng.choice(_TIES, BLOCK) * rng.choice(np.array([-1, 1], F32), BLOCK)
        blk[0] = F32(6.0) * (1 if b % 2 else -1)
        ties[b] = (blk * F32(2.0) ** k).astype(F32)
    rows["ties"] = ties.reshape(K)

    gp = np.empty((nb, BLOCK), F32)
    for b in range(nb):
        k = int(rng.integers(kmax - 9, kmax + 1))
        gp[b] = rng.choice(_GRID, BLOCK) * rng.choice(np.array([-1, 1], F32), BLOCK) * F32(2.0) ** k
    rows["gridpts"] = gp.reshape(K)
    return rows


def _with_edges(x, rng, top=None):
    """``x`` with the edge rows written over its first rows; returns (x, labels)."""
    x = np.array(x, F32)
    top = F32(np.max(np.abs(x))) if top is None else F32(top)
    labels = ["random"] * x.shape[0]
    for i, (name, row) in enumerate(_edge_rows(x.shape[1], rng, top).items()):
        x[i] = row
        labels[i] = name
    return np.ascontiguousarray(x, F32), labels


def _sprinkle_zeros(x, rng, frac=0.03):
    """Put +0.0 and -0.0 at random places."""
    x = x.copy()
    u = rng.random(x.shape)
    x[u < frac] = F32(0.0)
    x[(u >= frac) & (u < 2 * frac)] = F32(-0.0)
    return x


def _build_cases():
    rng = np.random.default_rng(20240611)
    cases = {}

    # Edge rows in a tensor whose max is exactly 2688: the decode-form tensor scale is
    # 1.0, so the "ties" and "gridpts" rows are exact FP4 ties after scaling.
    x = rng.standard_normal((70, 128)).astype(F32) * F32(100.0)
    cases["edges_amax2688"] = _with_edges(x, rng, top=2688.0)
    # The same rows under a tensor scale that is not a power of two.
    x = rng.standard_normal((129, 256)).astype(F32) * F32(3.7)
    cases["edges_amax37"] = _with_edges(x, rng, top=37.0)

    x = _sprinkle_zeros(rng.standard_normal((70, 128)).astype(F32), rng)
    cases["normal_70x128"] = _with_edges(x, rng)
    x = rng.standard_normal((129, 256)).astype(F32)
    cases["normal_129x256"] = (x, ["random"] * 129)

    x = _sprinkle_zeros(rng.laplace(0.0, 1.0, (129, 256)).astype(F32), rng)
    cases["laplace_129x256"] = _with_edges(x, rng)

    # Per-row magnitudes over the decades 1e-4 .. 1e4.
    mag = (10.0 ** rng.uniform(-4, 4, (129, 1))).astype(F32)
    x = (rng.standard_normal((129, 256)) * mag).astype(F32)
    x, labels = _with_edges(x, rng)
    cases["row_decades_129x256"] = (x, labels)

    # Per-block magnitudes over 1e-7 .. 1e5 (blocks near every scale clamp).
    mag = (10.0 ** rng.uniform(-7, 5, (257, 64 // BLOCK, 1))).astype(F32)
    x = (rng.standard_normal((257, 64 // BLOCK, BLOCK)) * mag).reshape(257, 64).astype(F32)
    cases["block_decades_257x64"] = (x, ["random"] * 257)

    # Integer-valued matrices (many exact FP4 ties), each row scaled by a power of two.
    x = (rng.integers(-12, 13, (70, 128)) * 2.0 ** rng.integers(-8, 8, (70, 1))).astype(F32)
    cases["ints_70x128"] = _with_edges(x, rng)
    x = (rng.integers(-12, 13, (129, 256)) * 2.0 ** rng.integers(-3, 3, (129, 1))).astype(F32)
    cases["ints_129x256"] = (x, ["random"] * 129)
    x = rng.integers(-50, 51, (33, 96)).astype(F32)
    cases["ints50_33x96"] = (x, ["random"] * 33)
    return cases


CASES = _build_cases()
CASE_IDS = list(CASES)


# --------------------------------------------------------------------------- compare


def _unpack(packed):
    """Packed uint8 (M, K/2) -> codes (M, K): element 2i from the low nibble."""
    p = np.asarray(packed, np.uint8)
    out = np.empty(p.shape[:-1] + (p.shape[-1] * 2,), np.uint8)
    out[..., 0::2] = p & 0xF
    out[..., 1::2] = p >> 4
    return out


def _where(case, labels, r):
    return f"case {case}, row {r} ({labels[r]})"


def _first(bad, n=5):
    return [tuple(int(v) for v in i) for i in bad[:n]]


def _assert_codes(case, x, labels, ours, theirs, recipe, lib):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == np.uint8 and theirs.dtype == np.uint8
    assert ours.shape == theirs.shape, f"{recipe}/{case}: codes shape {ours.shape} vs {lib} {theirs.shape}"
    if np.array_equal(ours, theirs):
        return
    a, b = _unpack(ours), _unpack(theirs)
    bad = np.argwhere(a != b)
    lines = []
    for r, c in _first(bad):
        lines.append(f"  {_where(case, labels, r)}, element {c} (block {c // BLOCK}): x={x[r, c]!r} "
                     f"(0x{int(x[r, c:c + 1].view(np.uint32)[0]):08x}); {lib} code 0x{b[r, c]:x}, "
                     f"nvfp4_np 0x{a[r, c]:x}; packed byte {lib} 0x{theirs[r, c // 2]:02x}, "
                     f"nvfp4_np 0x{ours[r, c // 2]:02x}")
    raise AssertionError(f"recipe {recipe!r} vs {lib}: {len(bad)} of {a.size} E2M1 codes differ; first:\n"
                         + "\n".join(lines))


def _assert_scale_bytes(case, x, labels, ours, theirs, recipe, lib):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == np.uint8 and theirs.dtype == np.uint8
    assert ours.shape == theirs.shape, f"{recipe}/{case}: scale shape {ours.shape} vs {lib} {theirs.shape}"
    bad = np.argwhere(ours != theirs)
    if not bad.size:
        return
    lines = []
    for r, b in _first(bad):
        blk = x[r, b * BLOCK:(b + 1) * BLOCK]
        lines.append(f"  {_where(case, labels, r)}, block {b} (block amax {np.max(np.abs(blk))!r}): "
                     f"{lib} 0x{theirs[r, b]:02x}, nvfp4_np 0x{ours[r, b]:02x}")
    raise AssertionError(f"recipe {recipe!r} vs {lib}: {len(bad)} of {ours.size} scale bytes differ; first:\n"
                         + "\n".join(lines))


def _bits32(v):
    return int(np.asarray(v, F32).reshape(()).view(np.uint32))


def _assert_scalar_bits(ours, theirs, recipe, lib, what="tensor scale"):
    o, t = _bits32(ours), _bits32(theirs)
    assert o == t, (f"recipe {recipe!r} vs {lib}: {what} differs: {lib} {F32(theirs)!r} (0x{t:08x}), "
                    f"nvfp4_np {F32(ours)!r} (0x{o:08x})")


def _float_mismatch_lines(case, x, labels, bad, ours, theirs, lib):
    lines = []
    for r, c in _first(bad):
        lines.append(f"  {_where(case, labels, r)}, element {c}: x={x[r, c]!r}; {lib} {theirs[r, c]!r} "
                     f"(0x{int(theirs[r, c:c + 1].view(np.uint32)[0]):08x}), nvfp4_np {ours[r, c]!r} "
                     f"(0x{int(ours[r, c:c + 1].view(np.uint32)[0]):08x})")
    return lines


def _assert_dequant_bits(case, x, labels, ours, theirs, recipe, lib):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == np.float32 and theirs.dtype == np.float32, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    bad = np.argwhere(ours.view(np.uint32) != theirs.view(np.uint32))
    if bad.size:
        raise AssertionError(
            f"recipe {recipe!r} vs {lib}: {len(bad)} of {ours.size} float32 dequant values differ in "
            f"their bits; first:\n" + "\n".join(_float_mismatch_lines(case, x, labels, bad, ours, theirs, lib)))


def _t2np(t):
    return t.detach().contiguous().cpu().numpy().copy()


def _u8(t):
    """A uint8 / float8 tensor's bytes as a NumPy uint8 array."""
    return _t2np(t.view(torch.uint8))


def _ours(x, recipe):
    return nvfp4_np.quantize(x, 16, "naive", recipe=recipe)


# --------------------------------------------------------------------------- libraries


@pytest.fixture(scope="module")
def torchao_api():
    pytest.importorskip("torchao", reason="torchao 0.18.0 not installed")
    nv = pytest.importorskip("torchao.prototype.mx_formats.nvfp4_tensor",
                             reason="torchao.prototype.mx_formats.nvfp4_tensor not importable")
    utils = pytest.importorskip("torchao.prototype.mx_formats.utils",
                                reason="torchao.prototype.mx_formats.utils not importable")
    return nv.NVFP4Tensor, nv.per_tensor_amax_to_scale, utils.to_blocked


@pytest.fixture(scope="module")
def modelopt_api():
    pytest.importorskip("modelopt", reason="nvidia-modelopt 0.47.0 not installed")
    m = pytest.importorskip(
        "modelopt.torch.quantization.qtensor.nvfp4_tensor",
        reason="ModelOpt's NVFP4QTensor not importable (it also needs `requests`)")
    return m.NVFP4QTensor


@pytest.fixture(scope="module")
def ct_api():
    pytest.importorskip("compressed_tensors", reason="compressed-tensors 0.20.0 not installed")
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.compressors.nvfp4.helpers import unpack_fp4_from_uint8
    from compressed_tensors.quantization import preset_name_to_scheme
    from compressed_tensors.quantization.lifecycle.forward import dequantize
    from compressed_tensors.quantization.utils import (
        compute_dynamic_scales_and_zp,
        generate_gparam,
    )

    scheme = preset_name_to_scheme("NVFP4", ["Linear"])
    comp = BaseCompressor.get_value_from_registry("nvfp4-pack-quantized")

    def run(x):
        W = torch.from_numpy(x.copy())
        # What an llm-compressor weight observer does for TENSOR_GROUP.
        gs = generate_gparam(W.min(), W.max())
        scale, zp = compute_dynamic_scales_and_zp(W, scheme.weights, None, global_scale=gs)
        sd = comp.compress({"weight": W, "weight_scale": scale, "weight_global_scale": gs,
                            "weight_zero_point": zp}, scheme)
        m, n2 = sd["weight_packed"].shape
        deq = dequantize(
            x_q=unpack_fp4_from_uint8(sd["weight_packed"], m, n2 * 2, dtype=torch.float32),
            scale=sd["weight_scale"].to(torch.float32), args=scheme.weights,
            global_scale=sd["weight_global_scale"], dtype=torch.float32)
        assert sd["weight_global_scale"].dtype == torch.float32
        assert tuple(sd["weight_global_scale"].shape) == (1,)
        assert sd["weight_scale"].dtype == torch.float8_e4m3fn
        return {"packed": _u8(sd["weight_packed"]), "scales": _u8(sd["weight_scale"]),
                "gs": _t2np(sd["weight_global_scale"]).reshape(()), "deq": _t2np(deq)}

    return run


def _run_torchao(api, x, swizzled=False):
    NVFP4Tensor, amax_to_scale, _ = api
    t = torch.from_numpy(x.copy())
    pts = amax_to_scale(torch.max(torch.abs(t)))
    q = NVFP4Tensor.to_nvfp4(t, block_size=16, per_tensor_scale=pts, is_swizzled_scales=swizzled)
    return q, pts


def _run_modelopt(NVFP4QTensor, x):
    qt, wsf, wsf2 = NVFP4QTensor.quantize(torch.from_numpy(x.copy()), 16)
    deq = qt.dequantize(dtype=torch.float32, scale=wsf, double_scale=wsf2, block_sizes={-1: 16})
    return qt, wsf, wsf2, deq


# --------------------------------------------------------------------------- torchao


@pytest.mark.parametrize("case", CASE_IDS)
def test_torchao_linear(torchao_api, case):
    x, labels = CASES[case]
    q, pts = _run_torchao(torchao_api, x)
    ours = _ours(x, "torchao")
    _assert_codes(case, x, labels, ours.codes, _u8(q.qdata), "torchao", "torchao")
    _assert_scale_bytes(case, x, labels, ours.scale_bytes, _u8(q.scale), "torchao", "torchao")
    _assert_scalar_bits(ours.tensor_scale, _t2np(pts), "torchao", "torchao (per_tensor_scale)")
    _assert_dequant_bits(case, x, labels, ours.dequantize(), _t2np(q.dequantize(torch.float32)),
                         "torchao", "torchao")


@pytest.mark.parametrize("case", CASE_IDS)
def test_torchao_swizzled(torchao_api, case):
    x, labels = CASES[case]
    q, _ = _run_torchao(torchao_api, x, swizzled=True)
    ours = _ours(x, "torchao").swizzled_scales()
    theirs = _u8(q.scale)
    assert ours.shape == theirs.shape, f"{case}: swizzled shape {ours.shape} vs torchao {theirs.shape}"
    bad = np.flatnonzero(ours.ravel() != theirs.ravel())
    assert not bad.size, (f"{case}: {bad.size} of {ours.size} swizzled scale bytes differ; first at flat "
                          f"offsets {bad[:5].tolist()}: torchao {theirs.ravel()[bad[:5]].tolist()}, "
                          f"nvfp4_np {ours.ravel()[bad[:5]].tolist()}")
    # torchao decodes through from_blocked: the same dequant as the linear layout.
    _assert_dequant_bits(case, x, labels, _ours(x, "torchao").dequantize(),
                         _t2np(q.dequantize(torch.float32)), "torchao", "torchao (swizzled)")


@pytest.mark.parametrize("shape", [(1, 1), (128, 4), (129, 9), (300, 7), (257, 13)])
@pytest.mark.parametrize("dtype", ["uint8", "float8_e4m3fn"])
def test_torchao_to_blocked(torchao_api, shape, dtype):
    to_blocked = torchao_api[2]
    b = np.random.default_rng(shape[0] * 1000 + shape[1]).integers(0, 256, shape, dtype=np.uint8)
    t = torch.from_numpy(b.copy())
    if dtype != "uint8":
        t = t.view(getattr(torch, dtype))
    theirs = _u8(to_blocked(t))
    ours = nvfp4_np.swizzle_scales(b)
    rb, cb = -(-shape[0] // 128), -(-shape[1] // 4)
    assert ours.shape == (32 * rb, 16 * cb)
    assert theirs.shape == (rb * cb * 512,)
    np.testing.assert_array_equal(ours.ravel(), theirs)


# --------------------------------------------------------------------------- ModelOpt


@pytest.mark.parametrize("case", CASE_IDS)
def test_modelopt(modelopt_api, case):
    x, labels = CASES[case]
    qt, wsf, wsf2, deq = _run_modelopt(modelopt_api, x)
    ours = _ours(x, "modelopt")
    packed = _u8(qt._quantized_data)
    _assert_codes(case, x, labels, ours.codes, packed, "modelopt", "ModelOpt")
    _assert_scale_bytes(case, x, labels, ours.scale_bytes, _u8(wsf), "modelopt", "ModelOpt")
    _assert_scalar_bits(ours.tensor_scale, _t2np(wsf2), "modelopt", "ModelOpt (weights_scaling_factor_2)")

    # ModelOpt's e2m1_values table decodes code 0x8 as +0.0; nvfp4_np decodes it as -0.0.
    # So: equal values everywhere (== treats the zeros as equal), and the bits differ
    # only where the code is 0x8 (there: ModelOpt +0.0, nvfp4_np -0.0).
    a, b = ours.dequantize(), _t2np(deq)
    assert a.dtype == np.float32 and b.dtype == np.float32 and a.shape == b.shape
    ne = np.argwhere(a != b)
    assert not ne.size, (f"recipe 'modelopt' vs ModelOpt: {len(ne)} dequant values differ; first:\n"
                         + "\n".join(_float_mismatch_lines(case, x, labels, ne, a, b, "ModelOpt")))
    code8 = _unpack(packed) == 0x8
    bitdiff = a.view(np.uint32) != b.view(np.uint32)
    outside = np.argwhere(bitdiff & ~code8)
    assert not outside.size, (
        "recipe 'modelopt' vs ModelOpt: dequant bits differ away from code 0x8; first:\n"
        + "\n".join(_float_mismatch_lines(case, x, labels, outside, a, b, "ModelOpt")))
    assert np.all(b.view(np.uint32)[code8] == 0x00000000)
    assert np.all(a.view(np.uint32)[code8] == 0x80000000)


# --------------------------------------------------------------------------- compressed-tensors


@pytest.mark.parametrize("case", CASE_IDS)
def test_compressed_tensors(ct_api, case):
    x, labels = CASES[case]
    r = ct_api(x)
    ours = _ours(x, "compressed-tensors")
    rec = "compressed-tensors"
    _assert_codes(case, x, labels, ours.codes, r["packed"], rec, "compressed-tensors (weight_packed)")
    _assert_scale_bytes(case, x, labels, ours.scale_bytes, r["scales"], rec, "compressed-tensors (weight_scale)")
    _assert_scalar_bits(ours.tensor_scale, r["gs"], rec, "compressed-tensors (weight_global_scale)")
    _assert_dequant_bits(case, x, labels, ours.dequantize(), r["deq"], rec, "compressed-tensors")


# --------------------------------------------------------------------------- all-zero tensor
#
# An all-zero tensor has amax 0, and the three libraries part ways (torch 2.13 CPU):
#
# - torchao: per_tensor_scale = 0/2688 = 0; the block scale (0/6)/0 is NaN, so every scale
#   byte is 0xFF (NaN), 1/0 / NaN = NaN, every code is 0xC (packed 0xCC), dequant NaN.
# - ModelOpt: weights_scaling_factor_2 = 0; the block scale 0/(6*0) is NaN (its "== 0 ->
#   1.0" rule misses NaN), scale bytes 0xFF, codes 0x7 (packed 0x77), dequant NaN.
# - compressed-tensors: generate_gparam clamps amax to float32's tiny, 2688/tiny overflows
#   to inf, nan_to_num gives weight_global_scale 1.0; every block scale is 0 -> 0x20
#   (0.125); codes 0 (-0.0 too: its sign rule is x < 0); dequant +0.0. All finite.
#
# nvfp4_np defines the decode-form tensor scale of a zero tensor as 1.0 ("torchao",
# "modelopt"), so its bytes stay finite: the recipe's zero-block byte (torchao 0x08,
# ModelOpt 0x38) and codes 0 (0x8 for -0.0 under torchao's sign-bit rule); it dequantizes
# to zeros. Only compressed-tensors is compared bit for bit here.

ZERO_TENSORS = {
    "zeros_70x128": np.zeros((70, 128), F32),
    "signed_zeros_129x64": np.where(np.random.default_rng(7).random((129, 64)) < 0.5,
                                    F32(0.0), F32(-0.0)).astype(F32),
}


@pytest.mark.parametrize("name", list(ZERO_TENSORS))
@pytest.mark.parametrize("recipe", ["torchao", "modelopt", "compressed-tensors"])
def test_all_zero_tensor_is_finite(name, recipe):
    x = ZERO_TENSORS[name]
    t = _ours(x, recipe)
    assert np.isfinite(t.tensor_scale) and t.tensor_scale > 0
    assert t.tensor_scale == F32(1.0)
    assert not np.isin(t.scale_bytes, E4M3_NAN_BYTES).any()
    assert np.all(np.isin(_unpack(t.codes), (0x0, 0x8)))
    d = t.dequantize()
    assert d.dtype == np.float32 and d.shape == x.shape
    assert np.all(np.isfinite(d)) and np.all(d == 0)
    zero_byte = {"torchao": 0x08, "modelopt": 0x38, "compressed-tensors": 0x20}[recipe]
    assert np.all(t.scale_bytes == zero_byte)


@pytest.mark.parametrize("name", list(ZERO_TENSORS))
def test_all_zero_tensor_compressed_tensors(ct_api, name):
    x = ZERO_TENSORS[name]
    labels = ["zero"] * x.shape[0]
    r = ct_api(x)
    assert _bits32(r["gs"]) == _bits32(F32(1.0))
    assert np.all(r["scales"] == 0x20)
    ours = _ours(x, "compressed-tensors")
    rec = "compressed-tensors"
    _assert_codes(name, x, labels, ours.codes, r["packed"], rec, "compressed-tensors (weight_packed)")
    _assert_scale_bytes(name, x, labels, ours.scale_bytes, r["scales"], rec, "compressed-tensors (weight_scale)")
    _assert_scalar_bits(ours.tensor_scale, r["gs"], rec, "compressed-tensors (weight_global_scale)")
    _assert_dequant_bits(name, x, labels, ours.dequantize(), r["deq"], rec, "compressed-tensors")


# --------------------------------------------------------------------------- MX formats
#
# nvfp4_np.quantize(fmt=..., method="naive", scale_rounding=...) against torchao 0.18's
# to_mx on CPU: E8M0 bytes and element codes, every element type and rounding mode, on
# random, corner (tests/test_mx.py's block kinds: E8M0 range ends, powers of two and one
# step either side, ties, saturation, zeros, -0.0, subnormals) and real-looking inputs,
# float32 and bfloat16. torchao's RCEIL on CPU is nvfp4_np's "rceil_cpu" (the ceiling of
# the float32 log2); "rceil" is the exact ceiling that NVIDIA's cvt.rp computes (torchao
# under torch.compile on Blackwell), one byte higher on the blocks where the float32 log2
# of fl(amax / largest) rounds down to an integer, and identical elsewhere.

from nvfp4_np import mx as _mx  # noqa: E402
from test_mx import BLOCK_KINDS as _MX_KINDS, block_inputs as _mx_block_inputs  # noqa: E402

_MX_ELEMENT = {"mxfp4": "float4_e2m1fn_x2", "mxfp6_e2m3": "fp6_e2m3", "mxfp6_e3m2": "fp6_e3m2",
               "mxfp8_e4m3": "float8_e4m3fn", "mxfp8_e5m2": "float8_e5m2"}
_TORCHAO_MODE = {"floor": "FLOOR", "ceil": "CEIL", "even": "EVEN", "rceil_cpu": "RCEIL"}


@pytest.fixture(scope="module")
def to_mx():
    m = pytest.importorskip("torchao.prototype.mx_formats.mx_tensor", reason="torchao 0.18.0 not installed")

    def run(x, fmt, mode):
        """(codes one per element, E8M0 bytes) of to_mx on the float32 or bfloat16 x."""
        el = _MX_ELEMENT[fmt]
        el = getattr(torch, el) if el.startswith("float") else el
        s, d = m.to_mx(x, el, 32, getattr(m.ScaleCalculationMode, _TORCHAO_MODE[mode]))
        d = d.view(torch.uint8).numpy()
        if fmt == "mxfp4":  # (element 2i in the low nibble)
            d = np.stack([d & 0xF, d >> 4], -1).reshape(d.shape[0], -1)
        return d, s.view(torch.uint8).numpy()
    return run


def _real_looking(rng, R=64, C=512):
    """Rows like a linear layer's: Student-t(4) values with per-row scales over two decades
    and a few outlier columns."""
    x = rng.standard_t(4, (R, C)) * 0.02 * np.exp2(rng.uniform(-3, 3, (R, 1)))
    x[:, rng.choice(C, 4, replace=False)] *= 20
    return x.astype(F32)


def _mx_cases(fmt, mode):
    import zlib

    rng = np.random.default_rng(zlib.crc32(f"x{fmt}{mode}".encode()))
    cases = {kind: _mx_block_inputs(rng, kind, fmt, R=64).astype(F32) for kind in _MX_KINDS}
    cases["real-looking"] = _real_looking(rng)
    return cases


def _ours_mx(x, fmt, mode):
    t = nvfp4_np.quantize(x, 32, "naive", fmt=fmt, scale_rounding=mode)
    return t.element_codes(), t.scale_bytes


@pytest.mark.parametrize("fmt", list(_MX_ELEMENT))
@pytest.mark.parametrize("mode", list(_TORCHAO_MODE))
def test_mx_bytes_are_to_mx(to_mx, fmt, mode):
    for kind, x in _mx_cases(fmt, mode).items():
        for given in (x, torch.from_numpy(x).to(torch.bfloat16)):  # bfloat16: converted exactly
            ours_in = given if isinstance(given, np.ndarray) else given.float().numpy()
            tc, ts = to_mx(torch.from_numpy(given) if isinstance(given, np.ndarray) else given, fmt, mode)
            codes, scales = _ours_mx(ours_in, fmt, mode)
            assert np.array_equal(scales, ts), (kind, np.argwhere(scales != ts)[:3])
            assert np.array_equal(codes, tc), (kind, np.argwhere(codes != tc)[:3])


def _log2_rounds_down(x, fmt):
    """The blocks where torch's float32 log2 of d = fl(amax / largest) is an integer L
    below log2(d) (d just above 2^L): taken with torch's own log2, as to_mx does."""
    max_abs = torch.amax(torch.abs(torch.from_numpy(x).reshape(x.shape[0], -1, 32)), -1)
    d = max_abs / _mx.MX_FORMATS[fmt].element.max_finite
    log2 = torch.log2(d).numpy().astype(np.float64)
    d = d.numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (d > 0) & (log2 == np.floor(log2)) & (d > np.exp2(log2))


@pytest.mark.parametrize("fmt", list(_MX_ELEMENT))
def test_mx_rceil_is_the_exact_ceiling(to_mx, fmt):
    """nvfp4_np's rceil (cvt.rp) against to_mx's CPU RCEIL: one byte higher exactly on the
    blocks where torch's float32 log2 rounds down to an integer, identical bytes and codes
    elsewhere (and the same codes as rceil_cpu's at its own byte)."""
    seen = 0
    for kind, x in _mx_cases(fmt, "rceil").items():
        tc, ts = to_mx(torch.from_numpy(x), fmt, "rceil_cpu")
        codes, scales = _ours_mx(x, fmt, "rceil")
        lower = _log2_rounds_down(x, fmt)
        seen += int(lower.sum())
        assert np.array_equal(scales[lower], ts[lower] + 1), kind
        assert np.array_equal(scales[~lower], ts[~lower]), kind
        blocks = lambda c: c.reshape(c.shape[0], -1, 32)  # noqa: E731
        assert np.array_equal(blocks(codes)[~lower], blocks(tc)[~lower]), kind
    assert seen > 0  # (the pow2 kind reaches such blocks)
