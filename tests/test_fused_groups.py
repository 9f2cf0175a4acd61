"""Checkpoints that serving engines decode right: fused layers share one global scale,
W4A4 activation scales, MoE experts (per expert and stacked), the ModelOpt layout.

Every check decodes the written tensors with the ENGINE's rule, written out here in
NumPy with ml_dtypes (not nvfp4_np's reader):
- vLLM / SGLang compressed-tensors: a fused layer (qkv_proj, gate_up_proj,
  fused_qkv_a_proj) keeps ``weight_global_scale.max()`` of its partitions; the MoE method
  keeps w1's (gate's) for w13; dequant ``q * (s / gs)``;
- ModelOpt (TensorRT-LLM, vLLM's modelopt loader): ``weight_scale_2.max()`` of the
  partitions, dequant ``q * (s * ws2)``.
"""

import json
import os
import sys

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import nvfp4_np
from nvfp4_np import _safetensors as st
from nvfp4_np import checkpoint as ck
from nvfp4_np.cli import main

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import make_checkpoint  # noqa: E402

F32 = np.float32


def _run(*argv):
    return main([str(a) for a in argv])


# --------------------------------------------------------------------------- the engines' rules


def _codes(packed):
    """E2M1 values of packed codes (element 2i in the low nibble), by ml_dtypes."""
    c = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(packed.shape[:-1] + (-1,))
    return c.astype(np.uint8).view(ml_dtypes.float4_e2m1fn).astype(F32)


def _decode(packed, scale, gs, fmt):
    """One 2-D partition decoded with global scale ``gs``: q * (s / gs) for
    compressed-tensors, q * (s * gs) for ModelOpt; float32 products as the engines'."""
    q = _codes(np.asarray(packed))
    s = np.asarray(scale).view(ml_dtypes.float8_e4m3fn).astype(F32)
    bs = q.shape[-1] // s.shape[-1]
    eff = s / F32(gs) if fmt == "compressed-tensors" else s * F32(gs)
    return (q.reshape(q.shape[:-1] + (-1, bs)) * eff[..., None]).reshape(q.shape)


SUFFIX = {"compressed-tensors": ("weight_packed", "weight_scale", "weight_global_scale"),
          "modelopt": ("weight", "weight_scale", "weight_scale_2")}


def _load_all(out):
    t = {}
    for f in sorted(os.listdir(out)):
        if f.endswith(".safetensors"):
            t.update(st.load(os.path.join(out, f)))
    return t


def _engine_check(out, groups, fmt="compressed-tensors", moe_w1_rule=False):
    """For every fused group: decoding each partition with the engine's one scale (max of
    the partitions', or the first member's for MoE w13) equals decoding it with its own."""
    t = _load_all(out)
    pk, sc, gs = SUFFIX[fmt]
    for g, members in groups.items():
        mods = [m[:-len(".weight")] if m.endswith(".weight") else m for m in members]
        own = [np.asarray(t[f"{m}.{gs}"], F32).reshape(-1) for m in mods]
        engine = own[0] if moe_w1_rule else np.maximum.reduce(own)
        for m, o in zip(mods, own):
            for e in range(o.size):  # per expert when stacked
                P, S = t[f"{m}.{pk}"], t[f"{m}.{sc}"]
                P, S = (P[e], S[e]) if P.ndim == 3 else (P, S)
                a, b = _decode(P, S, engine[e], fmt), _decode(P, S, o[e], fmt)
                assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), (g, m, e)
    return t


# --------------------------------------------------------------------------- naming families


L = "model.layers.0."
FAMILIES = {
    "llama": ([L + f"self_attn.{p}_proj.weight" for p in "qkvo"] + [L + f"mlp.{p}_proj.weight" for p in
                                                                    ("gate", "up", "down")],
              {"architectures": ["LlamaForCausalLM"]},
              {L + "self_attn.qkv_proj": [L + "self_attn.q_proj.weight", L + "self_attn.k_proj.weight",
                                          L + "self_attn.v_proj.weight"],
               L + "mlp.gate_up_proj": [L + "mlp.gate_proj.weight", L + "mlp.up_proj.weight"]}),
    "qwen2": ([L + f"self_attn.{p}_proj.{w}" for p in "qkv" for w in ("weight", "bias")] + [L + "self_attn.o_proj.weight"]
              + [L + f"mlp.{p}_proj.weight" for p in ("gate", "up", "down")],
              {"architectures": ["Qwen2ForCausalLM"]},
              {L + "self_attn.qkv_proj": [L + "self_attn.q_proj.weight", L + "self_attn.k_proj.weight",
                                          L + "self_attn.v_proj.weight"],
               L + "mlp.gate_up_proj": [L + "mlp.gate_proj.weight", L + "mlp.up_proj.weight"]}),
    "mistral": ([L + f"self_attn.{p}_proj.weight" for p in "qkvo"] + [L + f"mlp.{p}_proj.weight" for p in
                                                                      ("gate", "up", "down")],
                {"architectures": ["MistralForCausalLM"]},
                {L + "self_attn.qkv_proj": [L + "self_attn.q_proj.weight", L + "self_attn.k_proj.weight",
                                            L + "self_attn.v_proj.weight"],
                 L + "mlp.gate_up_proj": [L + "mlp.gate_proj.weight", L + "mlp.up_proj.weight"]}),
    "qwen3": ([L + f"self_attn.{p}_proj.weight" for p in "qkvo"] + [L + "self_attn.q_norm.weight"]
              + [L + f"mlp.{p}_proj.weight" for p in ("gate", "up", "down")],
              {"architectures": ["Qwen3ForCausalLM"]},
              {L + "self_attn.qkv_proj": [L + "self_attn.q_proj.weight", L + "self_attn.k_proj.weight",
                                          L + "self_attn.v_proj.weight"],
               L + "mlp.gate_up_proj": [L + "mlp.gate_proj.weight", L + "mlp.up_proj.weight"]}),
    "mixtral": ([L + f"self_attn.{p}_proj.weight" for p in "qkv"] + [L + "block_sparse_moe.gate.weight"]
                + [L + f"block_sparse_moe.experts.{j}.w{i}.weight" for j in range(2) for i in (1, 2, 3)],
                {"architectures": ["MixtralForCausalLM"]},
                {L + "self_attn.qkv_proj": [L + "self_attn.q_proj.weight", L + "self_attn.k_proj.weight",
                                            L + "self_attn.v_proj.weight"],
                 **{L + f"block_sparse_moe.experts.{j}.gate_up_proj": [L + f"block_sparse_moe.experts.{j}.w1.weight",
                                                                       L + f"block_sparse_moe.experts.{j}.w3.weight"]
                    for j in range(2)}}),
    "qwen-moe": ([L + f"mlp.experts.{j}.{p}_proj.weight" for j in range(2) for p in ("gate", "up", "down")]
                 + [L + f"mlp.shared_expert.{p}_proj.weight" for p in ("gate", "up", "down")]
                 + [L + "mlp.gate.weight", L + "mlp.shared_expert_gate.weight"],
                 {"architectures": ["Qwen2MoeForCausalLM"]},
                 {**{L + f"mlp.experts.{j}.gate_up_proj": [L + f"mlp.experts.{j}.gate_proj.weight",
                                                          L + f"mlp.experts.{j}.up_proj.weight"] for j in range(2)},
                  L + "mlp.shared_expert.gate_up_proj": [L + "mlp.shared_expert.gate_proj.weight",
                                                         L + "mlp.shared_expert.up_proj.weight"]}),
    "deepseek-v3": ([L + f"self_attn.{p}.weight" for p in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj",
                                                           "o_proj")]
                    + [L + f"mlp.experts.{j}.{p}_proj.weight" for j in range(2) for p in ("gate", "up", "down")]
                    + [L + f"mlp.shared_experts.{p}_proj.weight" for p in ("gate", "up", "down")],
                    {"architectures": ["DeepseekV3ForCausalLM"]},
                    {L + "self_attn.fused_qkv_a_proj": [L + "self_attn.q_a_proj.weight",
                                                        L + "self_attn.kv_a_proj_with_mqa.weight"],
                     **{L + f"mlp.experts.{j}.gate_up_proj": [L + f"mlp.experts.{j}.gate_proj.weight",
                                                              L + f"mlp.experts.{j}.up_proj.weight"] for j in range(2)},
                     L + "mlp.shared_experts.gate_up_proj": [L + "mlp.shared_experts.gate_proj.weight",
                                                             L + "mlp.shared_experts.up_proj.weight"]}),
    "phi-3": ([L + "self_attn.qkv_proj.weight", L + "self_attn.o_proj.weight", L + "mlp.gate_up_proj.weight",
               L + "mlp.down_proj.weight"], {"architectures": ["Phi3ForCausalLM"]}, {}),
    "bert": ([f"bert.encoder.layer.0.attention.self.{p}.weight" for p in ("query", "key", "value")]
             + ["bert.encoder.layer.0.attention.output.dense.weight"], {"architectures": ["BertModel"]},
             {"bert.encoder.layer.0.attention.self.qkv_proj": [
                 f"bert.encoder.layer.0.attention.self.{p}.weight" for p in ("query", "key", "value")]}),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_groups_of_each_naming_family(family):
    names, config, want = FAMILIES[family]
    names = [n for n in names if n.endswith(".weight")]  # what is quantized (biases are not)
    assert ck.fused_groups(names, config) == want
    assert ck.fused_groups(names[::-1], config) == want  # the rule's member order, whatever the file's


def test_ambiguous_names_follow_the_architecture():
    names = [f"vit.encoder.layer.0.attention.attention.{p}.weight" for p in ("query", "key", "value")]
    assert ck.fused_groups(names, {"architectures": ["ViTModel"]}) == {}  # not a BERT: no fused qkv_proj there
    assert len(ck.fused_groups(names, {"architectures": ["RobertaModel"]})) == 1
    assert len(ck.fused_groups(names, None)) == 1  # no config: by names


def test_dry_run_lists_the_groups(tmp_path, capsys):
    _family_checkpoint(str(tmp_path / "m"), "llama")
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "fused groups sharing one global scale (2):" in out
    assert (f"  {L}mlp.gate_up_proj: {L}mlp.gate_proj.weight, {L}mlp.up_proj.weight") in out
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--dry-run", "--no-fuse-scales") == 0
    assert "fused groups sharing one global scale (0):" in capsys.readouterr().out


def _family_checkpoint(folder, family, seed=0):
    """A checkpoint of the family's names: each weight 32 x 64 (in 2-D) with its own scale,
    so that members' amaxes differ (by up to 8x, as in vLLM #54974)."""
    names, config, _ = FAMILIES[family]
    rng = np.random.default_rng(seed)
    t = {}
    for i, n in enumerate(names):
        shape = (64,) if n.endswith(("norm.weight", ".bias")) else (8 * (1 + i % 3), 64)
        t[n] = (rng.standard_t(4, shape) * 0.02 * 2.0 ** (i % 4)).astype(ml_dtypes.bfloat16)
    os.makedirs(folder)
    st.save(os.path.join(folder, "model.safetensors"), t, {"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    acts = {n[:-len(".weight")]: rng.standard_normal((32, 64)).astype(F32) * (1 + i) for i, n in enumerate(names)
            if n.endswith(".weight")}
    np.savez(os.path.join(folder, "calib.npz"), **acts)
    return t, acts


@pytest.mark.parametrize("fmt", ["compressed-tensors", "modelopt"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_engines_decode_every_fused_partition_right(tmp_path, family, fmt):
    t, _ = _family_checkpoint(str(tmp_path / "m"), family)
    w4a4 = ["--scheme", "w4a4", "--calib", tmp_path / "m" / "calib.npz"] if fmt == "modelopt" else []  # ModelOpt: W4A4
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--format", fmt, "--quiet", *w4a4) == 0
    groups = FAMILIES[family][2]
    report = ck.read_report(str(tmp_path / "q"))
    assert {g: v["members"] for g, v in report["fused_groups"].items()} == \
        {g: [n for n in t if n in ms] for g, ms in groups.items()}  # listed, in file order
    _engine_check(tmp_path / "q", groups, fmt)
    _engine_check(tmp_path / "q", {g: ms for g, ms in groups.items() if "experts." in g}, fmt, moe_w1_rule=True)
    # each member's bytes are those of quantizing it alone with the group's amax
    recipe = ck.FORMATS[fmt].recipe
    got = _load_all(tmp_path / "q")
    pk, sc, _ = SUFFIX[fmt]
    for members in groups.values():
        amax = max(np.abs(t[m].astype(F32)).max() for m in members)
        for m in members:
            ref = nvfp4_np.quantize(t[m].astype(F32), 16, "optimal", recipe=recipe, tensor_amax=amax)
            mod = m[:-len(".weight")]
            assert np.array_equal(got[f"{mod}.{pk}"], ref.codes) and np.array_equal(
                got[f"{mod}.{sc}"].view(np.uint8), ref.scale_bytes), m
    if groups:  # without shared scales the engines' rule mis-decodes: the check above is not vacuous
        assert _run("quantize", tmp_path / "m", "-o", tmp_path / "n", "--format", fmt, "--quiet",
                    "--no-fuse-scales", *w4a4) == 0
        with pytest.raises(AssertionError):
            _engine_check(tmp_path / "n", groups, fmt)


def test_the_readme_checkpoint_decodes_right_in_engines(tmp_path):
    make_checkpoint.make(str(tmp_path / "tl"), layers=2, hidden=64, vocab=64, tokens=32)
    assert _run("quantize", tmp_path / "tl", "-o", tmp_path / "q", "--quiet") == 0
    groups = {g: v["members"] for g, v in ck.read_report(str(tmp_path / "q"))["fused_groups"].items()}
    assert sorted(groups) == [f"model.layers.{i}.{g}" for i in range(2) for g in ("mlp.gate_up_proj",
                                                                                  "self_attn.qkv_proj")]
    _engine_check(tmp_path / "q", groups)


# --------------------------------------------------------------------------- grouping changes nothing else


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(data=hst.data())
def test_grouping_never_changes_a_tensor_in_no_group(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("prop")
    parts = data.draw(hst.lists(hst.sampled_from(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                  "down_proj", "w1", "w2", "w3", "dense"]),
                                min_size=1, max_size=6, unique=True))
    prefixes = data.draw(hst.lists(hst.sampled_from(["a", "b.c"]), min_size=len(parts), max_size=len(parts)))
    scale = data.draw(hst.lists(hst.floats(0.01, 100), min_size=len(parts), max_size=len(parts)))
    rng = np.random.default_rng(len(parts))
    t = {f"{pre}.{p}.weight": (rng.standard_normal((4, 32)) * s).astype(F32) for pre, p, s in zip(prefixes, parts, scale)}
    st.save(str(d / "m.safetensors"), t)
    fused = ck.quantize_checkpoint(str(d / "m.safetensors"), str(d / "on"), note=lambda s: None)
    ck.quantize_checkpoint(str(d / "m.safetensors"), str(d / "off"), ck.Settings(fuse_scales=False), note=lambda s: None)
    on, off = st.load(str(d / "on" / "m.safetensors")), st.load(str(d / "off" / "m.safetensors"))
    grouped = {m for g in fused["fused_groups"].values() for m in g["members"]}
    assert grouped == {m for g in ck.fused_groups(list(t)).values() for m in g}
    for name in t:
        mod = name[:-len(".weight")]
        same = all(np.array_equal(on[f"{mod}.{s}"].view(np.uint8), off[f"{mod}.{s}"].view(np.uint8))
                   for s in ck.SUFFIXES)
        if name not in grouped:
            assert same, name


# --------------------------------------------------------------------------- W4A4


def _ct_input_scale(amax):
    """compressed-tensors' generate_gparam: 448 * 6 / amax, torch's scalar / tensor
    (a reciprocal, then a product), in float32."""
    return (F32(1.0) / F32(amax)) * F32(2688.0)


@pytest.mark.parametrize("fmt", ["compressed-tensors", "modelopt"])
def test_w4a4_writes_activation_scales(tmp_path, fmt):
    t, acts = _family_checkpoint(str(tmp_path / "m"), "llama")
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--format", fmt, "--scheme", "w4a4", "--calib",
                tmp_path / "m" / "calib.npz", "--quiet") == 0
    got = _load_all(tmp_path / "q")
    groups = FAMILIES["llama"][2]
    group_of = {m: ms for ms in groups.values() for m in ms}
    for name in t:
        mod = name[:-len(".weight")]
        members = group_of.get(name, [name])  # fused layers share the input scale of their largest amax
        amax = max(np.abs(acts[m[:-len(".weight")]]).max() for m in members)
        if fmt == "compressed-tensors":
            s = got[f"{mod}.input_global_scale"]
            assert s.dtype == F32 and s.shape == (1,) and s[0] == _ct_input_scale(amax), name
        else:
            s = got[f"{mod}.input_scale"]
            assert s.dtype == F32 and s.shape == () and s == F32(amax) / F32(2688.0), name
    cfg = json.loads((tmp_path / "q" / "config.json").read_text())["quantization_config"]
    if fmt == "compressed-tensors":
        a = cfg["config_groups"]["group_0"]["input_activations"]
        assert (a["num_bits"], a["type"], a["strategy"], a["group_size"], a["dynamic"], a["symmetric"]) == \
            (4, "float", "tensor_group", 16, "local", True)
    else:
        assert cfg["quant_method"] == "modelopt" and cfg["quantization"]["quant_algo"] == "NVFP4"
    _engine_check(tmp_path / "q", groups, fmt)


def test_w4a4_needs_activations_for_every_layer(tmp_path, capsys):
    t, acts = _family_checkpoint(str(tmp_path / "m"), "llama")
    missing = "model.layers.0.mlp.down_proj"
    np.savez(tmp_path / "part.npz", **{k: v for k, v in acts.items() if k != missing})
    for extra in ([], ["--calib", tmp_path / "part.npz"]):
        assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--scheme", "w4a4", *extra) == 2
        err = capsys.readouterr().err
        assert "nothing written" in err and "w4a4" in err
        if extra:
            assert f"tensor '{missing}.weight': no activations (T, K) or activation amax for it" in err
    np.savez(tmp_path / "h.npz", **{k: v for k, v in acts.items() if k != missing},
             **{missing + ".H": acts[missing].T @ acts[missing]})
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--scheme", "w4a4", "--calib", tmp_path / "h.npz") == 2
    assert "only a Hessian" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


# --------------------------------------------------------------------------- MoE


def test_moe_per_expert_weights(tmp_path):
    make_checkpoint.make(str(tmp_path / "moe"), layers=1, hidden=64, vocab=64, tokens=32, experts=3)
    assert _run("quantize", tmp_path / "moe", "-o", tmp_path / "q", "--quiet") == 0
    rep = ck.read_report(str(tmp_path / "q"))
    groups = {g: v["members"] for g, v in rep["fused_groups"].items()}
    assert sorted(groups) == sorted(["model.layers.0.self_attn.qkv_proj", "model.layers.0.mlp.shared_expert.gate_up_proj"]
                                    + [f"model.layers.0.mlp.experts.{j}.gate_up_proj" for j in range(3)])
    _engine_check(tmp_path / "q", groups)
    _engine_check(tmp_path / "q", {g: m for g, m in groups.items() if ".experts." in g}, moe_w1_rule=True)
    copied = {e["name"]: e["reason"] for e in rep["tensors"] if e["action"] == "copied"}
    assert copied["model.layers.0.mlp.gate.weight"] == "excluded by default (MoE router)"


def test_moe_stacked_experts(tmp_path, capsys):
    t, _ = make_checkpoint.make(str(tmp_path / "moe"), layers=1, hidden=64, vocab=64, tokens=32, experts=3,
                                stacked=True, shards=1)
    P = "model.layers.0.mlp.experts."
    E, N, K = t[P + "gate_proj"].shape
    # without the axis order stacked experts are copied, and the log says how to quantize them
    assert _run("quantize", tmp_path / "moe", "-o", tmp_path / "c", "--quiet") == 0
    assert "pass --stacked-experts out-in or in-out" in capsys.readouterr().err
    assert P + "gate_proj" in _load_all(tmp_path / "c")
    # (E, N, K) "out-in", and the same experts stored (E, K, N) "in-out", give the same per-expert bytes
    t_in = {k: (np.ascontiguousarray(v.transpose(0, 2, 1)) if v.ndim == 3 else v) for k, v in t.items()}
    os.makedirs(tmp_path / "moe-in")
    st.save(str(tmp_path / "moe-in" / "model.safetensors"), t_in, {"format": "pt"})
    assert _run("quantize", tmp_path / "moe", "-o", tmp_path / "q", "--quiet", "--stacked-experts", "out-in") == 0
    assert _run("quantize", tmp_path / "moe-in", "-o", tmp_path / "q2", "--quiet", "--stacked-experts", "in-out") == 0
    got, got2 = _load_all(tmp_path / "q"), _load_all(tmp_path / "q2")
    assert got.keys() == got2.keys() and all(np.array_equal(got[k].view(np.uint8), got2[k].view(np.uint8)) for k in got)
    for e in range(E):  # written per expert, as engines load them
        assert got[P + f"{e}.gate_proj.weight_packed"].shape == (N, K // 2)
        assert got[P + f"{e}.gate_proj.weight_scale"].shape == (N, K // 16)
        assert got[P + f"{e}.gate_proj.weight_global_scale"].shape == (1,)
    assert P + "gate_proj" not in got
    groups = {g: v["members"] for g, v in ck.read_report(str(tmp_path / "q"))["fused_groups"].items()}
    assert groups[P + "gate_up_proj"] == [P + "gate_proj", P + "up_proj"] and len(groups) == 3  # and q/k/v, shared
    _engine_check(tmp_path / "q", {f"{P}{e}.gate_up_proj": [f"{P}{e}.gate_proj", f"{P}{e}.up_proj"] for e in range(E)},
                  moe_w1_rule=True)  # vLLM's w13: w1's scale for both, per expert
    for proj in ("gate_proj", "up_proj", "down_proj"):  # expert e = quantizing expert e alone
        for e in range(E):
            W = t[P + proj][e].astype(F32)
            amax = np.abs(W).max() if proj == "down_proj" else max(
                np.abs(t[P + p][e].astype(F32)).max() for p in ("gate_proj", "up_proj"))
            ref = nvfp4_np.quantize(W, 16, "optimal", recipe="compressed-tensors", tensor_amax=amax)
            assert np.array_equal(got[P + f"{e}.{proj}.weight_packed"], ref.codes), (proj, e)
            assert got[P + f"{e}.{proj}.weight_global_scale"][0] == ref.tensor_scale, (proj, e)


# --------------------------------------------------------------------------- ModelOpt


def test_modelopt_layout(tmp_path):
    t, acts = _family_checkpoint(str(tmp_path / "m"), "qwen-moe")
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "w", "--format", "modelopt") == 2  # NVFP4 is W4A4
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--format", "modelopt", "--scheme", "w4a4",
                "--calib", tmp_path / "m" / "calib.npz", "--quiet") == 0
    got = _load_all(tmp_path / "q")
    hq = json.loads((tmp_path / "q" / "hf_quant_config.json").read_text())
    assert hq["quantization"]["quant_algo"] == "NVFP4" and hq["quantization"]["group_size"] == 16
    assert hq["quantization"]["exclude_modules"] == ["model.layers.0.mlp.gate", "model.layers.0.mlp.shared_expert_gate"]
    cfg = json.loads((tmp_path / "q" / "config.json").read_text())["quantization_config"]
    assert cfg == {"quant_method": "modelopt", **hq}  # the nested form: exclude_modules under "quantization"
    for name, W in t.items():
        if "gate.weight" in name:
            continue
        mod = name[:-len(".weight")]
        assert got[name].dtype == np.uint8 and got[name].shape == (W.shape[0], W.shape[1] // 2)
        assert got[mod + ".weight_scale"].dtype == ml_dtypes.float8_e4m3fn
        assert got[mod + ".weight_scale_2"].dtype == F32 and got[mod + ".weight_scale_2"].shape == ()
        assert got[mod + ".input_scale"].dtype == F32 and got[mod + ".input_scale"].shape == ()
    # our reader and dequantize agree with the ModelOpt rule q * (s * ws2)
    assert _run("dequantize", tmp_path / "q", "-o", tmp_path / "d.npz", "--quiet") == 0
    with np.load(tmp_path / "d.npz") as z:
        for name in t:
            if "gate.weight" in name:
                continue
            mod = name[:-len(".weight")]
            want = _decode(got[name], got[mod + ".weight_scale"], got[mod + ".weight_scale_2"], "modelopt")
            assert np.array_equal(z[name].view(np.uint32), want.view(np.uint32)), name


# --------------------------------------------------------------------------- Dask


def test_dask_gives_the_same_bytes_with_groups(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")
    from nvfp4_np import distributed as nd

    make_checkpoint.make(str(tmp_path / "moe"), layers=1, hidden=64, vocab=64, tokens=32, experts=2, stacked=True)
    settings = ck.Settings(stacked_experts="out-in")
    one = ck.quantize_checkpoint(str(tmp_path / "moe"), str(tmp_path / "one"), settings, note=lambda s: None)
    with nd.local_cluster(2, threads=1) as cluster, distributed.Client(cluster) as c:
        # tiny tasks: every weight is cut into several row ranges, and its amax reduced across tasks
        two = nd.quantize_checkpoint(c, str(tmp_path / "moe"), str(tmp_path / "two"), settings, task_elements=1024,
                                     note=lambda s: None)
    for f in sorted(os.listdir(tmp_path / "one")):
        if f.endswith(".safetensors") or f == "config.json":
            assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
    assert one["fused_groups"] == two["fused_groups"] and len(one["fused_groups"]) == 3


def test_a_partly_quantized_fused_layer_is_refused(tmp_path, capsys):
    _family_checkpoint(str(tmp_path / "m"), "llama")
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--exclude", "v_proj") == 2
    err = capsys.readouterr().err
    assert f"the fused layer {L}self_attn.qkv_proj would be partly quantized ({L}self_attn.v_proj.weight not)" in err
    assert not (tmp_path / "q").exists()
    assert _run("quantize", tmp_path / "m", "-o", tmp_path / "q", "--exclude", "(q|k|v)_proj", "--quiet") == 0
