"""compressed-tensors itself reads what ``nvfp4-np quantize`` writes (optional).

Runs where torch 2.13.0 and compressed-tensors are installed (the cross-check venv of
tests/test_crosscheck.py); skipped elsewhere. The output folder is read with
``safetensors.torch``; its config with compressed-tensors' ``QuantizationConfig``; the
weights are decompressed by the package's own ``CompressedTensorsDequantizer`` (the
whole-checkpoint path, bfloat16 by default) and by its float32 ``dequantize``; both must
equal nvfp4_np's dequantization bit for bit.
"""

import json

import ml_dtypes
import numpy as np
import pytest

from nvfp4_np import _safetensors as st
from nvfp4_np import checkpoint as ck

torch = pytest.importorskip("torch", reason="torch not installed (cross-check venv only)")
pytest.importorskip("compressed_tensors", reason="compressed-tensors not installed")
from compressed_tensors.compressors import BaseCompressor  # noqa: E402
from compressed_tensors.compressors.nvfp4.helpers import unpack_fp4_from_uint8  # noqa: E402
from compressed_tensors.entrypoints.convert.converters.ct_dequantizer import (  # noqa: E402
    CompressedTensorsDequantizer,
)
from compressed_tensors.quantization import QuantizationConfig  # noqa: E402
from compressed_tensors.quantization.lifecycle.forward import dequantize  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


def _bits(t):
    a = t.detach().cpu()
    return a.view(torch.int16 if a.element_size() == 2 else torch.int32).numpy()


@pytest.fixture(scope="module", params=["compressed-tensors", "seed", "te"])
def quantized(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(7)
    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((64, 32)).astype(ml_dtypes.bfloat16),
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((48, 64)).astype(ml_dtypes.bfloat16),
        "model.layers.0.mlp.up_proj.weight": (rng.standard_t(3, (80, 128)) * 0.02).astype(np.float32),
        "model.layers.0.mlp.down_proj.weight": np.round(rng.standard_normal((16, 96)) * 4).astype(np.float16),
        "model.layers.0.input_layernorm.weight": np.ones(64, ml_dtypes.bfloat16),
        "lm_head.weight": rng.standard_normal((64, 32)).astype(ml_dtypes.bfloat16),
    }
    (d / "in").mkdir()
    st.save(str(d / "in" / "model.safetensors"), tensors, {"format": "pt"})
    (d / "in" / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    ck.quantize_checkpoint(str(d / "in"), str(d / "out"), ck.Settings(recipe=request.param))
    return d / "out", tensors, request.param


def test_config_parses_as_compressed_tensors(quantized):
    out, _, _ = quantized
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "llama"
    qc = QuantizationConfig.model_validate(cfg["quantization_config"])
    assert qc.format == "nvfp4-pack-quantized" and qc.quant_method == "compressed-tensors"
    w = qc.config_groups["group_0"].weights
    assert (w.num_bits, w.type, w.group_size, w.strategy, w.symmetric) == (4, "float", 16, "tensor_group", True)
    assert sorted(qc.ignore) == ["lm_head", "model.embed_tokens"]


def test_stored_dtypes_and_shapes(quantized):
    out, tensors, _ = quantized
    sd = load_file(str(out / "model.safetensors"))
    for name, W in tensors.items():
        if name.endswith("proj.weight"):
            m = name[:-len(".weight")]
            M, K = W.shape
            assert sd[m + ".weight_packed"].dtype == torch.uint8 and tuple(sd[m + ".weight_packed"].shape) == (M, K // 2)
            assert sd[m + ".weight_scale"].dtype == torch.float8_e4m3fn
            assert tuple(sd[m + ".weight_scale"].shape) == (M, K // 16)
            g = sd[m + ".weight_global_scale"]
            assert g.dtype == torch.float32 and tuple(g.shape) == (1,)
            assert name not in sd
        else:  # copied unchanged, bit for bit
            assert np.array_equal(_bits(sd[name]).reshape(-1), np.asarray(W).reshape(-1).view(_bits(sd[name]).dtype))


def test_package_dequantizer_equals_ours(quantized, tmp_path):
    out, tensors, _ = quantized
    assert ck.dequantize_checkpoint(str(out), str(tmp_path / "bf16"), "bfloat16")["dequantized"] == 3
    ck.dequantize_checkpoint(str(out), str(tmp_path / "f32"), "float32")
    ours_b = st.load(str(tmp_path / "bf16" / "model.safetensors"))
    ours_f = st.load(str(tmp_path / "f32" / "model.safetensors"))
    theirs = CompressedTensorsDequantizer(str(out), dtype=torch.bfloat16).process(load_file(str(out / "model.safetensors")))
    assert set(theirs) == set(tensors)
    sd = load_file(str(out / "model.safetensors"))
    qc = QuantizationConfig.model_validate(json.loads((out / "config.json").read_text())["quantization_config"])
    args = qc.config_groups["group_0"].weights
    for name in tensors:
        if not name.endswith("proj.weight"):
            continue
        assert np.array_equal(_bits(theirs[name]), ours_b[name].view(np.int16)), name
        m = name[:-len(".weight")]
        p = sd[m + ".weight_packed"]
        f32 = dequantize(x_q=unpack_fp4_from_uint8(p, p.shape[0], 2 * p.shape[1], dtype=torch.float32),
                         scale=sd[m + ".weight_scale"].to(torch.float32), args=args,
                         global_scale=sd[m + ".weight_global_scale"], dtype=torch.float32)
        assert np.array_equal(_bits(f32), ours_f[name].view(np.int32)), name


def test_layout_dequant_is_the_recipe_dequant(quantized):
    """For recipes whose arithmetic the layout states (compressed-tensors, seed) the bytes
    vLLM reads dequantize to exactly nvfp4_np's own result; for decode-form recipes
    (te) the global scale is 1/ts and may differ in the last bit (counted)."""
    out, tensors, recipe = quantized
    ckpt = ck.open_checkpoint(str(out))
    groups = ck.nvfp4_groups(ckpt)
    import nvfp4_np

    for m in groups:
        W = tensors[m + ".weight"]
        t = nvfp4_np.quantize(W, method="optimal", recipe=recipe)
        stored = ck.load_quantized(ckpt, m, groups)
        assert np.array_equal(stored.codes, t.codes) and np.array_equal(stored.scale_bytes, t.scale_bytes)
        a, b = stored.dequantize().view(np.int32), t.dequantize().view(np.int32)
        if recipe in ("compressed-tensors", "seed"):
            assert np.array_equal(a, b)
        else:
            assert np.mean(a != b) < 0.5 and np.all(np.abs(a.astype(np.int64) - b) <= 1)


@pytest.fixture(scope="module")
def w4a4(tmp_path_factory):
    """A Llama-shaped layer quantized W4A4: fused q/k/v and gate/up, activations per layer."""
    d = tmp_path_factory.mktemp("w4a4")
    rng = np.random.default_rng(3)
    shapes = {"self_attn.q_proj": (64, 64), "self_attn.k_proj": (16, 64), "self_attn.v_proj": (16, 64),
              "self_attn.o_proj": (64, 64), "mlp.gate_proj": (96, 64), "mlp.up_proj": (96, 64),
              "mlp.down_proj": (64, 96)}
    tensors = {f"model.layers.0.{n}.weight": (rng.standard_t(4, s) * 0.02 * (1 + i)).astype(ml_dtypes.bfloat16)
               for i, (n, s) in enumerate(shapes.items())}
    acts = {f"model.layers.0.{n}": (rng.standard_normal((16, s[1])) * (1 + i)).astype(np.float32)
            for i, (n, s) in enumerate(shapes.items())}
    (d / "in").mkdir()
    st.save(str(d / "in" / "model.safetensors"), tensors, {"format": "pt"})
    (d / "in" / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    np.savez(d / "calib.npz", **acts)
    ck.quantize_checkpoint(str(d / "in"), str(d / "out"), ck.Settings(scheme="w4a4"), calib=str(d / "calib.npz"),
                           note=lambda s: None)
    return d / "out", tensors, acts


def test_w4a4_config_and_input_scales_are_compressed_tensors_own(w4a4):
    from compressed_tensors.quantization import DynamicType
    from compressed_tensors.quantization.utils.helpers import generate_gparam

    out, tensors, acts = w4a4
    qc = QuantizationConfig.model_validate(json.loads((out / "config.json").read_text())["quantization_config"])
    a = qc.config_groups["group_0"].input_activations
    assert (a.num_bits, a.type, a.strategy, a.group_size, a.dynamic) == (4, "float", "tensor_group", 16,
                                                                         DynamicType.LOCAL)
    sd = load_file(str(out / "model.safetensors"))
    fused = [["q_proj", "k_proj", "v_proj"], ["gate_proj", "up_proj"]]
    for name in tensors:
        m = name[:-len(".weight")]
        group = next((g for g in fused if m.rsplit(".", 1)[1] in g), [m.rsplit(".", 1)[1]])
        X = torch.from_numpy(np.concatenate([acts[m.rsplit(".", 1)[0] + "." + g].reshape(-1) for g in group]))
        want = generate_gparam(X.min(), X.max())  # the observer's min/max over the fused layer's inputs
        got = sd[m + ".input_global_scale"]
        assert got.dtype == torch.float32 and tuple(got.shape) == (1,)
        assert _bits(got).tolist() == _bits(want).tolist(), name
        if len(group) > 1:  # the engines' fused rule: one weight_global_scale for the layer
            gs = {float(sd[m.rsplit(".", 1)[0] + "." + g + ".weight_global_scale"]) for g in group}
            assert len(gs) == 1, (name, gs)


def test_w4a4_package_dequantizer_equals_ours(w4a4, tmp_path):
    out, tensors, _ = w4a4
    ck.dequantize_checkpoint(str(out), str(tmp_path / "bf16"), "bfloat16")
    ours = st.load(str(tmp_path / "bf16" / "model.safetensors"))
    theirs = CompressedTensorsDequantizer(str(out), dtype=torch.bfloat16).process(load_file(str(out / "model.safetensors")))
    for name in tensors:
        assert np.array_equal(_bits(theirs[name]), ours[name].view(np.int16)), name


# --------------------------------------------------------------------------- MXFP4
#
# ``--fmt mxfp4`` writes compressed-tensors' mxfp4-pack-quantized layout. compressed-
# tensors' own decompressor (MXFP4PackedCompressor, and the whole-checkpoint dequantizer)
# must decode it to nvfp4_np's values (its decode is bfloat16: E2M1 * 2^(b - 127) is exact
# there), and its own compressor, given the same weights, must write the bytes of
# nvfp4_np's naive "even" rounding (its scale rule) except where the design note says:
# blocks of byte 0 (compressed-tensors divides by the true 2^-127, torchao's arithmetic by
# 2^-126) and literal -0.0 elements (its sign comes from torch.sign).


@pytest.fixture(scope="module", params=["optimal", "naive"])
def mx_quantized(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("mx")
    rng = np.random.default_rng(26)
    tensors = {
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((48, 64)).astype(ml_dtypes.bfloat16),
        "model.layers.0.mlp.up_proj.weight": (rng.standard_t(3, (80, 128)) * 0.02).astype(np.float32),
        "model.layers.0.mlp.down_proj.weight": np.round(rng.standard_normal((16, 96)) * 4).astype(np.float16),
        "lm_head.weight": rng.standard_normal((64, 32)).astype(ml_dtypes.bfloat16),
    }
    (d / "in").mkdir()
    st.save(str(d / "in" / "model.safetensors"), tensors, {"format": "pt"})
    (d / "in" / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    ck.quantize_checkpoint(str(d / "in"), str(d / "out"), ck.Settings(fmt="mxfp4", method=request.param))
    return d / "out", tensors, request.param


def test_mx_config_parses_as_compressed_tensors(mx_quantized):
    out, _, _ = mx_quantized
    qc = QuantizationConfig.model_validate(json.loads((out / "config.json").read_text())["quantization_config"])
    assert qc.format == "mxfp4-pack-quantized" and qc.quant_method == "compressed-tensors"
    w = qc.config_groups["group_0"].weights
    assert (w.num_bits, w.type, w.group_size, w.strategy, w.symmetric, w.scale_dtype) == \
        (4, "float", 32, "group", True, torch.uint8)
    assert qc.ignore == ["lm_head"]


def test_mx_package_decompressor_equals_ours(mx_quantized, tmp_path):
    from compressed_tensors.compressors.mxfp4.base import MXFP4PackedCompressor

    import nvfp4_np

    out, tensors, method = mx_quantized
    sd = load_file(str(out / "model.safetensors"))
    qc = QuantizationConfig.model_validate(json.loads((out / "config.json").read_text())["quantization_config"])
    scheme = qc.config_groups["group_0"]
    whole = CompressedTensorsDequantizer(str(out), dtype=torch.bfloat16).process(load_file(str(out / "model.safetensors")))
    ck.dequantize_checkpoint(str(out), str(tmp_path / "bf16"), "bfloat16")
    ours_b = st.load(str(tmp_path / "bf16" / "model.safetensors"))
    for name, W in tensors.items():
        if not name.endswith("proj.weight"):
            continue
        m = name[:-len(".weight")]
        t = nvfp4_np.quantize(np.asarray(W, np.float32), 32, method, fmt="mxfp4",
                              scale_rounding="even" if method == "naive" else None)
        assert np.array_equal(sd[m + ".weight_packed"].numpy(), t.codes)
        assert np.array_equal(sd[m + ".weight_scale"].numpy(), t.scale_bytes)
        theirs = MXFP4PackedCompressor.decompress({"weight_packed": sd[m + ".weight_packed"],
                                                   "weight_scale": sd[m + ".weight_scale"]}, scheme)["weight"]
        want = t.dequantize().astype(ml_dtypes.bfloat16).view(np.int16)  # (exact: E2M1 * 2^k)
        assert np.array_equal(t.dequantize(), want.view(ml_dtypes.bfloat16).astype(np.float32))
        assert np.array_equal(_bits(theirs), want), name
        assert np.array_equal(_bits(whole[name]), want) and np.array_equal(ours_b[name].view(np.int16), want), name


def test_mx_package_compressor_is_naive_even(tmp_path):
    """compressed-tensors' MXFP4 quantization of a weight (its observer's scale, its FP4
    cast, its packer) gives nvfp4_np's naive "even" bytes: every byte on ordinary data;
    in byte-0 blocks and on literal -0.0 the differences the design note names."""
    from compressed_tensors.compressors.mxfp4.base import MXFP4PackedCompressor
    from compressed_tensors.quantization import preset_name_to_scheme
    from compressed_tensors.quantization.utils import calculate_qparams

    import nvfp4_np

    rng = np.random.default_rng(5)
    x = (rng.standard_t(4, (64, 256)) * np.exp2(rng.uniform(-20, 20, (64, 1)))).astype(np.float32)
    x[3, :32] = 7 * 2.0 ** -30  # (amax at even's carry: 1.75 * 2^k)
    x[4, 32:64] = rng.standard_normal(32) * 1e-39  # (a byte-0 block: tiny elements)
    x[5, 70] = -0.0
    scheme = preset_name_to_scheme("MXFP4A16", ["Linear"])
    xt = torch.from_numpy(x)
    g = xt.unflatten(-1, (-1, 32))
    scale, _ = calculate_qparams(g.amin(-1), g.amax(-1), scheme.weights)  # (its observer's min/max)
    c = MXFP4PackedCompressor.compress({"weight": xt, "weight_scale": scale}, scheme)
    theirs_p, theirs_s = c["weight_packed"].numpy(), c["weight_scale"].numpy()
    t = nvfp4_np.quantize(x, 32, "naive", fmt="mxfp4", scale_rounding="even")
    assert np.array_equal(theirs_s, t.scale_bytes)
    unpack = lambda p: np.stack([p & 0xF, p >> 4], -1).reshape(p.shape[0], -1)  # noqa: E731
    ours_c, theirs_c = unpack(t.codes), unpack(theirs_p)
    differ = ours_c != theirs_c
    byte0 = np.repeat(t.scale_bytes == 0, 32, axis=1)
    negzero = (x == 0) & np.signbit(x)
    assert not (differ & ~byte0 & ~negzero).any()
    assert differ[byte0].any() and np.all(theirs_c[negzero] == 0) and np.all(ours_c[negzero] == 8)
