"""``nvfp4-np quantize --fmt mxfp4``: compressed-tensors' ``mxfp4-pack-quantized`` layout
(weight_packed uint8 (M, K/2), weight_scale uint8 E8M0 (M, K/32), no global scale),
checked against ``nvfp4_np.quantize(fmt="mxfp4")``'s bytes and decoded by the consumer's
rule written here (ml_dtypes' E2M1 value times 2^(b - 127)); the errors of settings that
do not apply to MX."""

import json

import ml_dtypes
import numpy as np
import pytest

import nvfp4_np
from nvfp4_np import _safetensors as st
from test_cli_checkpoint import LINEARS, _run, model  # noqa: F401 (the fixture)


def consumer_decode(packed, scale):
    """compressed-tensors' and vLLM's decode of the layout: E2M1(code) * 2^(b - 127)."""
    codes = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(packed.shape[0], -1)
    q = codes.astype(np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    s = np.ldexp(np.float32(1), scale.astype(np.int32) - 127).astype(np.float32)
    return (q.reshape(q.shape[0], -1, 32) * s[:, :, None]).reshape(q.shape)


@pytest.mark.parametrize("method, rounding, calib", [("optimal", None, False), ("naive", None, False),
                                                     ("naive", "floor", False), ("hessian", None, True)])
def test_mxfp4_checkpoint_bytes_equal_the_api(model, tmp_path, method, rounding, calib):  # noqa: F811
    d, t, acts = model
    args = ["quantize", d, "-o", tmp_path / "out", "--fmt", "mxfp4", "--method", method, "--quiet"]
    args += ["--scale-rounding", rounding] if rounding else []
    args += ["--calib", tmp_path / "calib.npz"] if calib else []
    assert _run(*args) == 0
    out = tmp_path / "out"
    got = st.load(str(out / "model.safetensors"))
    report = json.loads((out / "nvfp4_report.json").read_text())
    entries = {e["name"]: e for e in report["tensors"]}
    want_rounding = (rounding or "even") if method == "naive" else None
    assert report["settings"]["fmt"] == "mxfp4" and report["settings"]["scale_rounding"] == want_rounding
    for name, W in t.items():
        if name not in LINEARS:
            assert np.array_equal(got[name].view(np.uint8), W.view(np.uint8)), name
            continue
        m = name[:-len(".weight")]
        kw = {"X": acts[m]} if calib else {}
        ref = nvfp4_np.quantize(W, 32, method, fmt="mxfp4", scale_rounding=want_rounding, **kw)
        packed, scale = got[m + ".weight_packed"], got[m + ".weight_scale"]
        assert packed.dtype == np.uint8 and scale.dtype == np.uint8 and scale.shape == (W.shape[0], W.shape[1] // 32)
        assert np.array_equal(packed, ref.codes) and np.array_equal(scale, ref.scale_bytes), name
        assert m + ".weight_global_scale" not in got
        dq = consumer_decode(packed, scale)
        assert np.array_equal(dq, ref.dequantize())
        W64 = W.astype(np.float64)
        e = entries[name]
        assert e["weight_error_pct"] == pytest.approx(100 * np.linalg.norm(dq - W64) / np.linalg.norm(W64), rel=1e-9)
        assert e["global_scale"] is None and e["fmt"] == "mxfp4" and e["zero_scale_blocks"] == 0
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert qc["format"] == "mxfp4-pack-quantized" and qc["quant_method"] == "compressed-tensors"
    w = qc["config_groups"]["group_0"]["weights"]
    assert (w["num_bits"], w["type"], w["strategy"], w["group_size"], w["scale_dtype"], w["symmetric"]) == \
        (4, "float", "group", 32, "torch.uint8", True)
    assert qc["config_groups"]["group_0"]["input_activations"] is None
    assert "model.layers.0.odd" in qc["ignore"]  # (K = 24: not a multiple of 32)
    # the command's dequantize decodes the same values
    assert _run("dequantize", out, "-o", tmp_path / "deq", "--quiet") == 0
    back = st.load(str(tmp_path / "deq" / "model.safetensors"))
    for name in LINEARS:
        m = name[:-len(".weight")]
        assert np.array_equal(back[name], consumer_decode(got[m + ".weight_packed"], got[m + ".weight_scale"]))


def test_inspect_shows_mxfp4(model, tmp_path, capsys):  # noqa: F811
    d, _, _ = model
    assert _run("quantize", d, "-o", tmp_path / "out", "--fmt", "mxfp4", "--quiet") == 0
    capsys.readouterr()
    assert _run("inspect", tmp_path / "out") == 0
    text = capsys.readouterr().out
    assert "mxfp4 b32 e8m0" in text and "optimal" in text


@pytest.mark.parametrize("extra, match", [
    (["--format", "modelopt", "--scheme", "w4a4"], "compressed-tensors' mxfp4-pack-quantized"),
    (["--recipe", "te"], "--recipe apply to NVFP4"),
    (["--method", "gptq"], "does not apply to --fmt mxfp4"),
    (["--method", "4over6"], "does not apply to --fmt mxfp4"),
    (["--block-size", "16"], "has blocks of 32"),
    (["--scheme", "w4a4", "--calib", "CALIB"], "weights only"),
    (["--method", "optimal", "--scale-rounding", "floor"], "applies to method 'naive'"),
    (["--method", "hessian"], "needs activations"),
])
def test_settings_that_do_not_apply_to_mx(model, tmp_path, capsys, extra, match):  # noqa: F811
    d, _, _ = model
    extra = [str(tmp_path / "calib.npz") if a == "CALIB" else a for a in extra]
    assert _run("quantize", d, "-o", tmp_path / "out", "--fmt", "mxfp4", *extra) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_scale_rounding_is_for_mx_only(model, tmp_path, capsys):  # noqa: F811
    d, _, _ = model
    assert _run("quantize", d, "-o", tmp_path / "out", "--scale-rounding", "floor") == 2
    assert "--scale-rounding applies to the MX formats" in capsys.readouterr().err


def test_hessian_from_ill_conditioned_activations_is_the_api(model, tmp_path):  # noqa: F811
    """The command's block Hessians are the API's (X_j^T X_j in float64): activations with
    a large common offset, where float32 accumulation would change bytes; layers without
    activations fall back to naive with compressed-tensors' rounding (even)."""
    d, t, acts = model
    rng = np.random.default_rng(3)
    names = list(LINEARS)
    shifted = {n[:-len(".weight")]: (rng.standard_normal((64, LINEARS[n][1])) + 100).astype(np.float32)
               for n in names[:2]}
    np.savez(tmp_path / "shifted.npz", **shifted)
    assert _run("quantize", d, "-o", tmp_path / "out", "--fmt", "mxfp4", "--method", "hessian", "--fallback", "naive",
                "--calib", tmp_path / "shifted.npz", "--quiet") == 0
    got = st.load(str(tmp_path / "out" / "model.safetensors"))
    report = json.loads((tmp_path / "out" / "nvfp4_report.json").read_text())
    assert report["settings"]["scale_rounding"] == "even"
    for name in names:
        m = name[:-len(".weight")]
        if m in shifted:
            ref = nvfp4_np.quantize(t[name], 32, "hessian", fmt="mxfp4", X=shifted[m])
        else:
            ref = nvfp4_np.quantize(t[name], 32, "naive", fmt="mxfp4", scale_rounding="even")
        assert np.array_equal(got[m + ".weight_packed"], ref.codes) and np.array_equal(got[m + ".weight_scale"],
                                                                                       ref.scale_bytes), name


def test_mx_settings_are_checked_from_python():
    from nvfp4_np import checkpoint as ck

    for kw, match in ((dict(stacked_experts="bogus"), "stacked_experts must be"), (dict(damp=0.5), "--damp"),
                      (dict(order="act"), "--order"), (dict(scale_rounding="up"), "--scale-rounding must be"),
                      (dict(method="optimal", scale_rounding="floor"), "applies to method 'naive'")):
        with pytest.raises(ck.CheckpointError, match=match):
            ck.Settings(fmt="mxfp4", **kw)
    assert ck.Settings(fmt="mxfp4", method="hessian", fallback="naive").scale_rounding == "even"
    assert ck.Settings(fmt="mxfp4", method="hessian").scale_rounding is None


def test_a_u8_scale_under_an_nvfp4_config_is_an_error(model, tmp_path, capsys):  # noqa: F811
    d, _, _ = model
    assert _run("quantize", d, "-o", tmp_path / "out", "--fmt", "mxfp4", "--quiet") == 0
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    cfg["quantization_config"]["format"] = "nvfp4-pack-quantized"
    (tmp_path / "out" / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert _run("dequantize", tmp_path / "out", "-o", tmp_path / "deq") == 2
    assert "declares format 'nvfp4-pack-quantized'" in capsys.readouterr().err
    assert not (tmp_path / "deq").exists()
