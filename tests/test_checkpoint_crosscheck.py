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
