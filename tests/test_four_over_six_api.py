"""Four Over Six through the library's entry points: ``quantize(method="4over6")`` (its
recipes, rules, 16x16 blocks, tensor scale, NVFP4Tensor round trip), the registry's
choices, and ``nvfp4-np quantize --method 4over6`` writing a checkpoint that decodes by
compressed-tensors' own rule (q * s / global_scale, decoded here with ml_dtypes alone)."""

import json

import ml_dtypes
import numpy as np
import pytest

import nvfp4_np
from fouroversix_ref import quantize_to_fp4
from nvfp4_np import registry
from nvfp4_np.cli import main

F = np.float32


def _weights(R=48, C=96, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_t(4, (R, C)) * 0.05).astype(F)


def _decode(packed, scale_bytes):
    """E2M1 values and E4M3 scales decoded with ml_dtypes (not nvfp4_np)."""
    codes = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(packed.shape[0], -1)
    q = codes.astype(np.uint8).view(ml_dtypes.float4_e2m1fn).astype(F)
    s = np.ascontiguousarray(scale_bytes).view(np.uint8).view(ml_dtypes.float8_e4m3fn).astype(F)
    return q, s


@pytest.mark.parametrize("rule", ["mse", "mae", "abs_max", "static_6", "static_4"])
@pytest.mark.parametrize("block_shape", [None, (16, 16)])
def test_quantize_is_fouroversix_with_a_decode_form_tensor_scale(rule, block_shape):
    W = _weights()
    t = nvfp4_np.quantize(W, 16, "4over6", rule=rule, recipe="fouroversix", block_shape=block_shape)
    packed, scales, amax = quantize_to_fp4(W, rule, block_shape is not None)  # the independent port
    assert np.array_equal(t.codes, packed) and np.array_equal(t.scale_bytes, scales.view(np.uint8))
    K = {"static_6": 2688, "static_4": 1792}.get(rule, 1536)
    assert t.tensor_scale == F(1) / (F(K) / amax)  # fouroversix's decode = fl(1 / fl(K / amax))
    assert (t.method, t.mode, t.recipe, t.rounding, t.block_shape) == ("4over6", rule, "fouroversix", "rne",
                                                                        block_shape)
    q, s = _decode(t.codes, t.scale_bytes)
    want = (q.reshape(48, -1, 16) * (s * t.tensor_scale)[:, :, None]).reshape(W.shape)  # q * fl(s * ts)
    assert np.array_equal(t.dequantize(), want)
    back = nvfp4_np.NVFP4Tensor.from_dict(t.to_dict())
    assert back.block_shape == block_shape and back.mode == rule and np.array_equal(back.dequantize(), want)


def test_defaults_are_each_recipe_s():
    W = _weights()
    t = nvfp4_np.quantize(W, method="4over6")
    assert (t.recipe, t.mode) == ("fouroversix", "mse")
    t = nvfp4_np.quantize(W, method="4over6", recipe="te")
    assert (t.recipe, t.mode) == ("te", "mae")
    s, p, _ = nvfp4_np.nvfp4_four_over_six(W, "mae", recipe="te")
    assert np.array_equal(t.codes, p) and np.array_equal(t.scale_bytes, s)
    assert nvfp4_np.quantize(W, method="naive").recipe == "seed"  # the block methods keep theirs


def test_scale_max_448_is_the_2688_constant():
    W = _weights()
    t = nvfp4_np.quantize(W, method="4over6", recipe="te", rule="mse", scale_max=448)
    amax = F(np.abs(W).max())
    assert t.tensor_scale == F(1) / (F(2688) / amax)
    assert not np.array_equal(t.scale_bytes, nvfp4_np.quantize(W, method="4over6", recipe="te", rule="mse").scale_bytes)


def test_blocks_along_another_axis_and_more_dimensions():
    W = _weights()
    a = nvfp4_np.quantize(W, method="4over6", block_shape=(16, 16))
    b = nvfp4_np.quantize(np.ascontiguousarray(W.T), method="4over6", axis=0, block_shape=(16, 16))
    assert np.array_equal(a.codes, b.codes) and np.array_equal(b.dequantize(), a.dequantize().T)
    c = nvfp4_np.quantize(W.reshape(3, 16, 96), method="4over6", rule="mae")
    d = nvfp4_np.quantize(W, method="4over6", rule="mae")
    assert np.array_equal(c.codes.reshape(d.codes.shape), d.codes)
    two_d = a.scale_bytes.reshape(3, 16, 6)
    assert (two_d == two_d[:, :1]).all()  # a tile's byte on each of its rows


def test_tensor_amax_of_a_slice():
    W = _weights()
    whole = nvfp4_np.quantize(W, method="4over6")
    part = nvfp4_np.quantize(W[:16], method="4over6", tensor_amax=np.abs(W).max())
    assert np.array_equal(part.codes, whole.codes[:16]) and part.tensor_scale == whole.tensor_scale
    with pytest.raises(ValueError, match="tensor_amax=.* is smaller than max"):
        nvfp4_np.quantize(W, method="4over6", tensor_amax=0.01)


@pytest.mark.parametrize("kw, match", [
    ({"recipe": "modelopt"}, "method '4over6' takes recipe 'fouroversix' or 'te', got 'modelopt'"),
    ({"recipe": "te", "rule": "abs_max"}, r"rule for recipe 'te' must be one of \('mae', 'mse'\)"),
    ({"rule": "l2"}, "rule for recipe 'fouroversix' must be one of"),
    ({"scale_max": 300}, r"scale_max must be one of \(256, 448\)"),
    ({"rounding": "seed"}, "rounding must be 'rne' or None"),
    ({"block_shape": (16, 32)}, r"method '4over6' takes \(16, 16\)"),
    ({"block_shape": "16x16"}, "block_shape must be None or"),
    ({"mode": "mse"}, "mode for method '4over6' must be None"),
    ({"damp": 0.1}, r"options \['damp'\] that method '4over6' does not take"),
])
def test_bad_arguments_name_the_choices(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        nvfp4_np.quantize(_weights(), 16, "4over6", **kw)


def test_the_block_methods_refuse_the_fouroversix_recipe_and_tiles():
    W = _weights()
    with pytest.raises(ValueError, match="method 'naive' takes recipe 'seed' or"):
        nvfp4_np.quantize(W, method="naive", recipe="fouroversix")
    with pytest.raises(ValueError, match="recipe 'fouroversix' is the arithmetic of method '4over6' only"):
        nvfp4_np.nvfp4_naive(W.reshape(-1, 16), recipe="fouroversix")
    with pytest.raises(ValueError, match="method 'hessian' takes only 1-D blocks"):
        nvfp4_np.quantize(W, method="hessian", X=np.ones((4, 96), F), block_shape=(16, 16))
    with pytest.raises(ValueError, match="multiple of 16"):
        nvfp4_np.quantize(W[:40], method="4over6", block_shape=(16, 16))
    with pytest.raises(ValueError, match="needs a 2-D W"):
        nvfp4_np.quantize(W.reshape(3, 16, 96), method="4over6", block_shape=(16, 16))
    with pytest.raises(ValueError, match="takes block sizes"):
        nvfp4_np.quantize(W, 32, method="4over6")


def test_bad_block_shape_metadata_is_refused():
    t = nvfp4_np.quantize(_weights(), method="4over6", block_shape=(16, 16))
    d = t.to_dict()
    meta = json.loads(bytes(d["meta"]).decode())
    meta["block_shape"] = [16, 32]
    d["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with pytest.raises(ValueError, match="block_shape"):
        nvfp4_np.NVFP4Tensor.from_dict(d)


def test_the_registry_entry():
    m = registry.METHODS["4over6"]
    assert m.recipe_names == ("fouroversix", "te") and m.block_sizes == (16,) and m.block_shapes == ((16, 16),)
    assert "4over6" not in registry.methods_without_activations()  # not a fallback of the block recipes


# ---------------------------------------------------------------- the command line


def _save(path, tensors):
    sn = pytest.importorskip("safetensors.numpy", reason="safetensors not installed (pip install -e '.[test]')")
    path.mkdir()
    sn.save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))


@pytest.mark.parametrize("recipe, rule, block_shape", [("fouroversix", "mae", None), ("te", "mse", "16x16"),
                                                       ("fouroversix", None, "16x16")])
def test_the_command_writes_what_quantize_gives(tmp_path, recipe, rule, block_shape):
    from nvfp4_np import _safetensors as st

    rng = np.random.default_rng(4)
    t = {"model.layers.0.mlp.up_proj.weight": (rng.standard_t(4, (64, 128)) * 0.05).astype(F),
         "model.layers.0.mlp.down_proj.weight": (rng.standard_t(4, (40, 64)) * 0.05).astype(F)}
    _save(tmp_path / "m", t)
    args = ["quantize", str(tmp_path / "m"), "-o", str(tmp_path / "out"), "--method", "4over6", "--recipe", recipe,
            "--quiet"] + (["--rule", rule] if rule else []) + (["--block-shape", block_shape] if block_shape else [])
    assert main(args) == 0
    got = st.load(str(tmp_path / "out" / "model.safetensors"))
    report = json.loads((tmp_path / "out" / "nvfp4_report.json").read_text())
    entries = {e["name"]: e for e in report["tensors"]}
    shape = None if block_shape is None else (16, 16)
    want_rule = rule or "mse"
    assert report["settings"]["rule"] == want_rule and report["settings"]["recipe"] == recipe
    for name, W in t.items():
        m = name[:-len(".weight")]
        if shape and W.shape[0] % 16:  # 40 rows: no 16x16 tiles; copied, and the report says why
            assert entries[name]["action"] == "copied" and "not a multiple of 16" in entries[name]["reason"]
            assert np.array_equal(got[name], W)
            continue
        ref = nvfp4_np.quantize(W, 16, "4over6", recipe=recipe, rule=rule, block_shape=shape)
        assert entries[name]["mode"] == want_rule
        assert np.array_equal(got[m + ".weight_packed"], ref.codes)
        assert np.array_equal(got[m + ".weight_scale"].view(np.uint8), ref.scale_bytes)
        gs = got[m + ".weight_global_scale"][0]
        assert gs == F(1) / ref.tensor_scale  # compressed-tensors stores the encode form
        q, s = _decode(got[m + ".weight_packed"], got[m + ".weight_scale"])
        dq = (q.reshape(W.shape[0], -1, 16) * (s / gs)[:, :, None]).reshape(W.shape)  # the decompressor's rule
        err = np.linalg.norm(dq - W) / np.linalg.norm(W)
        assert err < (0.2 if shape else 0.12) and np.allclose(dq, ref.dequantize(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("extra, match", [
    (["--method", "naive", "--rule", "mae"], "rule and scale_max apply to method '4over6', not 'naive'"),
    (["--method", "4over6", "--recipe", "te", "--rule", "abs_max"], "rule for recipe 'te' must be one of"),
    (["--method", "4over6", "--recipe", "modelopt"], "method '4over6' takes recipe 'fouroversix' or 'te'"),
    (["--method", "hessian", "--block-shape", "16x16"], "does not apply to method 'hessian'"),
    (["--method", "optimal", "--recipe", "fouroversix"], "method 'optimal' takes recipe"),
])
def test_the_command_refuses_bad_settings(tmp_path, capsys, extra, match):
    _save(tmp_path / "m", {"model.layers.0.mlp.up_proj.weight": _weights(32, 64)})
    assert main(["quantize", str(tmp_path / "m"), "-o", str(tmp_path / "out")] + extra) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("recipe", ["fouroversix", "te"])
def test_a_zero_tensor(recipe):
    """Zero scale bytes and the stored tensor scale 1.0 (fouroversix's decode would be 0,
    TE's S_enc is 1 there), with and without 16x16 blocks; -0.0 gives code 0x0 in
    fouroversix, 0x8 in TE (its kernel's cvt keeps the sign of -0.0 * FLT_MAX)."""
    x = np.zeros((16, 32), F)
    x[0, 1] = -0.0
    for block_shape in (None, (16, 16)):
        t = nvfp4_np.quantize(x, method="4over6", recipe=recipe, block_shape=block_shape)
        want = np.zeros_like(t.codes)
        want[0, 0] = 0x80 if recipe == "te" else 0
        assert t.tensor_scale == 1.0 and np.array_equal(t.codes, want) and not t.scale_bytes.any()
        assert np.array_equal(t.dequantize(), np.zeros_like(x))


def test_the_hessian_choice():
    """With X, each block keeps the candidate of lower r^T H_j r (H_j = X_j^T X_j, float64),
    r its own error term fl(fl(fl(q * s) * amax) / 1536) - x: the two candidates from the
    independent port (tests/fouroversix_ref.py), the quadratic forms by NumPy; ties keep 6
    (blocks whose two errors agree to 1e-9 are left to the summation order). The mode
    says "hessian"; a rule with X is an error."""
    from fouroversix_ref import codes_of, round_e2m1, scale_blocks

    rng = np.random.default_rng(8)
    R, C = 32, 64
    W = _weights(R, C, 3)
    W[:, :32] = rng.uniform(-0.2, 0.2, (R, 32))  # flat blocks, where 4 tends to win
    X = rng.standard_normal((96, C)).astype(F)
    H = np.einsum("ti,tj->ij", X.astype(np.float64), X.astype(np.float64)).reshape(4, 16, 4, 16)
    Hj = np.stack([H[j, :, j, :] for j in range(4)])
    amax = F(np.abs(W).max())
    for block_shape in (None, (16, 16)):
        t = nvfp4_np.quantize(W, method="4over6", X=X, block_shape=block_shape)
        assert t.mode == "hessian"
        if block_shape:
            blocks = W.reshape(2, 16, 4, 16).transpose(0, 2, 1, 3).reshape(-1, 256)
        else:
            blocks = W.reshape(-1, 16)
        cands = []
        for expand in (None, 1.5):
            scaled, sc = scale_blocks(blocks, amax, 6, 256, expand)
            q = round_e2m1(scaled)
            r = (q * sc.astype(F)[:, None] * amax / F(1536) - blocks).astype(np.float64)
            r = r.reshape(-1, 16, 16) if block_shape else r.reshape(R, 4, 16)
            if block_shape:  # tile (I, J) = row of blocks; rows of r are the tile's rows, column block J
                e = np.stack([np.einsum("ai,ik,ak->", r[n], Hj[n % 4], r[n]) for n in range(len(r))])
                e = np.repeat(e.reshape(2, 1, 4), 16, axis=1).reshape(R, 4)
                qq = q.reshape(2, 4, 16, 16).transpose(0, 2, 1, 3).reshape(R, C)
                ss = np.repeat(sc.view(np.uint8).reshape(2, 1, 4), 16, axis=1).reshape(R, 4)
            else:
                e = np.einsum("mji,jik,mjk->mj", r, Hj, r)
                qq, ss = q.reshape(R, C), sc.view(np.uint8).reshape(R, 4)
            c = codes_of(qq.astype(F))
            cands.append((e, ((c[:, 1::2] << 4) | c[:, 0::2]).astype(np.uint8), ss))
        (e6, p6, s6), (e4, p4, s4) = cands
        decided = np.abs(e4 - e6) > 1e-9 * np.abs(e6)
        four = (e4 < e6) & decided
        assert decided.mean() > 0.9 and four.any() and (decided & ~four).any()
        want_s = np.where(four, s4, s6)
        want_p = np.where(np.repeat(four, 8, axis=1), p4, p6)
        ok = np.repeat(decided, 8, axis=1)
        assert np.array_equal(t.scale_bytes[decided], want_s[decided])
        assert np.array_equal(t.codes[ok], want_p[ok])
    te = nvfp4_np.quantize(W, method="4over6", recipe="te", X=X)
    assert te.mode == "hessian" and te.recipe == "te"
    with pytest.raises(ValueError, match="rule must be None"):
        nvfp4_np.quantize(W, method="4over6", rule="mse", X=X)
    with pytest.raises(ValueError, match="X must be"):
        nvfp4_np.quantize(W, method="4over6", X=X[:, :32])
    with pytest.raises(ValueError, match="not positive semidefinite"):
        nvfp4_np.quantize(W, method="4over6", H_blocks=-np.stack([np.eye(16, dtype=F)] * 4))


def test_review_edge_cases():
    """Empty rows, integral block shapes only, axis-aware metadata checks, scale_max as an
    integer, the CPU-only tiles refused for --device cuda before any work."""
    t = nvfp4_np.quantize(np.zeros((4, 0), F), method="4over6")
    assert t.codes.shape == (4, 0) and t.scale_bytes.shape == (4, 0)
    for bad in ((16.5, 16), (16.0, 16.0), "16x16", (16,), 16):
        with pytest.raises(ValueError, match="block_shape must be None"):
            nvfp4_np.quantize(_weights(), method="4over6", block_shape=bad)
    with pytest.raises(ValueError, match="scale_max must be one of"):
        nvfp4_np.quantize(_weights(), method="4over6", scale_max=np.array([448]))
    assert nvfp4_np.quantize(_weights(), method="4over6", scale_max=np.int64(448)).tensor_scale > 0
    t = nvfp4_np.quantize(_weights(32, 8), method="naive", axis=0)  # K = 32 along axis 0, 8 rows
    d = t.to_dict()
    meta = json.loads(bytes(d["meta"]).decode())
    meta["block_shape"] = [16, 16]  # 8 rows: no 16x16 tiles
    d["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with pytest.raises(ValueError, match="block_shape"):
        nvfp4_np.NVFP4Tensor.from_dict(d)
    from nvfp4_np.checkpoint import CheckpointError, Settings

    for method in ("naive", "optimal"):
        with pytest.raises(CheckpointError, match="run on the CPU only"):
            Settings(method=method, block_shape=(16, 16), device="cuda")
    with pytest.raises(CheckpointError, match="block_shape must be None"):
        Settings(method="4over6", block_shape="16x16")
