"""``nvfp4-np calibrate``: block Hessians, activation amax and token counts recorded from a
real forward pass under transformers equal those computed here from activations that a
hook of this test captures; layers reading the same input share a record; the file feeds
``quantize --method hessian`` and ``--scheme w4a4``. Needs torch and transformers (the
cross-check venv); without them the command says what to install."""

import json
import os
import sys

import numpy as np
import pytest

import nvfp4_np
from nvfp4_np import checkpoint as ck
from nvfp4_np.cli import main

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import make_checkpoint  # noqa: E402

TEXT = os.path.join(os.path.dirname(__file__), "..", "examples", "calibration.txt")


def _run(*argv):
    return main([str(a) for a in argv])


try:
    import torch
    import transformers
except ImportError:
    torch = transformers = None
#: The tests that run a model (the cross-check venv has torch and transformers).
needs_torch = pytest.mark.skipif(torch is None, reason="torch or transformers not installed (cross-check venv only)")


@pytest.mark.skipif(torch is not None, reason="torch and transformers are installed here")
def test_without_torch_the_command_says_what_to_install(tmp_path, capsys):
    make_checkpoint.make(str(tmp_path / "m"), layers=1, hidden=64, tokens=8)
    assert _run("calibrate", tmp_path / "m", "--text", TEXT, "-o", tmp_path / "c.npz") == 2
    err = capsys.readouterr().err
    assert "calibrate needs torch and transformers" in err and "pip install 'nvfp4_np[calibrate]'" in err
    assert not (tmp_path / "c.npz").exists()


LAYERS = ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.o_proj", "model.layers.1.mlp.down_proj")


def _captured(model_dir, model_cls, names, windows):
    """X of each named module over the windows, by a forward pre-hook of this test."""
    model = model_cls.from_pretrained(str(model_dir), dtype=torch.bfloat16).eval()
    xs = {n: [] for n in names}
    mods = dict(model.named_modules())
    hs = [mods[n].register_forward_pre_hook(lambda m, a, n=n: xs[n].append(a[0].reshape(-1, a[0].shape[-1])))
          for n in names]
    with torch.inference_mode():
        for w in windows:
            model(torch.tensor([w]))
    for h in hs:
        h.remove()
    return {n: torch.cat(x).to(torch.float64).numpy() for n, x in xs.items()}


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    d = tmp_path_factory.mktemp("cal")
    make_checkpoint.make(str(d / "m"), layers=2, hidden=64, tokens=8)
    assert _run("calibrate", d / "m", "--text", TEXT, "-o", d / "c.npz", "--samples", "4", "--seq-len", "64",
                "--quiet") == 0
    return d


@needs_torch
def test_block_hessians_equal_those_of_captured_activations(calibrated):
    d = calibrated
    tok = transformers.AutoTokenizer.from_pretrained(str(d / "m"))
    ids = tok(open(TEXT, encoding="utf-8").read(), add_special_tokens=False)["input_ids"]
    windows = [ids[i * 64:(i + 1) * 64] for i in range(4)]
    X = _captured(d / "m", transformers.AutoModelForCausalLM, LAYERS, windows)
    with np.load(d / "c.npz") as z:
        for n in LAYERS:
            x = X[n]
            K = x.shape[1]
            xb = x.reshape(-1, K // 16, 16)
            want = np.einsum("tbi,tbj->bij", xb, xb)
            np.testing.assert_allclose(z[n + ".H"], want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
            assert z[n + ".amax"] == np.float32(np.abs(x).max()) and z[n + ".tokens"] == 4 * 64
        meta = json.loads(bytes(z["__calibration__"]).decode())
    assert meta["samples"] == 4 and meta["seq_len"] == 64 and meta["model_class"] == "LlamaForCausalLM"
    assert meta["files"][0]["sha256"] == __import__("hashlib").sha256(open(TEXT, "rb").read()).hexdigest()
    assert meta["aliases"] == {f"model.layers.{i}.{a}": f"model.layers.{i}.{b}" for i in range(2)
                               for a, b in (("self_attn.k_proj", "self_attn.q_proj"), ("self_attn.v_proj",
                                            "self_attn.q_proj"), ("mlp.up_proj", "mlp.gate_proj"))}


@needs_torch
def test_the_file_feeds_hessian_and_w4a4(calibrated, tmp_path):
    d = calibrated
    assert _run("quantize", d / "m", "-o", tmp_path / "h", "--method", "hessian", "--calib", d / "c.npz",
                "--quiet") == 0
    rep = ck.read_report(str(tmp_path / "h"))
    e = {x["name"]: x for x in rep["tensors"] if x["action"] == "quantized"}
    assert all(x["method"] == "hessian" and x["output_error_basis"] == "block Hessians" for x in e.values())
    # k_proj uses q_proj's record: its bytes are quantizing with q_proj's block Hessians
    W = ck.open_checkpoint(str(d / "m")).get("model.layers.0.self_attn.k_proj.weight").astype(np.float32)
    with np.load(d / "c.npz") as z:
        H = z["model.layers.0.self_attn.q_proj.H"]
        amax = max(np.abs(ck.open_checkpoint(str(d / "m")).get(f"model.layers.0.self_attn.{p}_proj.weight")
                          .astype(np.float32)).max() for p in "qkv")
        ref = nvfp4_np.quantize(W, 16, "hessian", recipe="compressed-tensors", H_blocks=H, mode="exact",
                                tensor_amax=amax)
        acts_amax = float(z["model.layers.0.self_attn.q_proj.amax"])
    got = ck.load_quantized(ck.open_checkpoint(str(tmp_path / "h")), "model.layers.0.self_attn.k_proj",
                            ck.nvfp4_groups(ck.open_checkpoint(str(tmp_path / "h"))))
    assert np.array_equal(got.codes, ref.codes) and np.array_equal(got.scale_bytes, ref.scale_bytes)
    assert _run("quantize", d / "m", "-o", tmp_path / "a", "--scheme", "w4a4", "--calib", d / "c.npz", "--quiet") == 0
    t = {}
    for f in os.listdir(tmp_path / "a"):
        if f.endswith(".safetensors"):
            t.update(nvfp4_np._safetensors.load(str(tmp_path / "a" / f)))
    want = (np.float32(1) / np.float32(acts_amax)) * np.float32(2688)
    assert t["model.layers.0.self_attn.v_proj.input_global_scale"][0] == want


@needs_torch
def test_encoder_names_without_the_class_prefix(tmp_path):
    """A BERT saved as BertForMaskedLM has 'bert.encoder...' names; AutoModel loads a
    BertModel whose modules are 'encoder...': the file uses the checkpoint's names."""
    cfg = transformers.BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=128, max_position_embeddings=256)
    torch.manual_seed(0)
    transformers.BertForMaskedLM(cfg).save_pretrained(str(tmp_path / "bert"))
    make_checkpoint.write_tokenizer(str(tmp_path / "bert"))
    assert _run("calibrate", tmp_path / "bert", "--text", TEXT, "-o", tmp_path / "c.npz", "--samples", "2",
                "--seq-len", "32", "--quiet") == 0
    with np.load(tmp_path / "c.npz") as z:
        meta = json.loads(bytes(z["__calibration__"]).decode())
        assert "bert.encoder.layer.0.attention.self.query.H" in z.files
        assert "bert.encoder.layer.0.intermediate.dense.H" in z.files
    assert meta["model_class"] == "BertModel"
    assert meta["aliases"]["bert.encoder.layer.0.attention.self.key"] == "bert.encoder.layer.0.attention.self.query"


@needs_torch
def test_interrupted_calibration_leaves_no_file(tmp_path):
    make_checkpoint.make(str(tmp_path / "m"), layers=1, hidden=64, tokens=8)

    def stop(i, n):
        raise KeyboardInterrupt

    from nvfp4_np.calibrate import calibrate

    with pytest.raises(KeyboardInterrupt):
        calibrate(str(tmp_path / "m"), [TEXT], str(tmp_path / "c.npz"), samples=2, seq_len=32, progress=stop)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".c.npz") or f == "c.npz"]


@needs_torch
def test_a_layer_holds_k_times_16_numbers_whatever_the_tokens():
    """K = 14336 (Llama-3-8B's down_proj): the record is (K/16, 16, 16) float64, O(K*16),
    after any number of windows; the activations are never kept."""
    from nvfp4_np.calibrate import _Recorder

    rec = _Recorder(torch)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        rec.next_window()
        x = torch.randn(1, 256, 14336, generator=gen, dtype=torch.bfloat16)
        rec.hook("down_proj")(None, (x,))
    held = [v for d in (rec.H, rec.amax, rec.tokens) for v in d.values()]
    assert rec.H["down_proj"].shape == (14336 // 16, 16, 16) and rec.H["down_proj"].dtype == torch.float64
    assert sum(getattr(v, "numel", lambda: 1)() for v in held) == 14336 * 16 + 2
    assert rec.tokens["down_proj"] == 3 * 256
    rec.next_window()
    assert rec.seen == {}  # the last window's input is released


@needs_torch
def test_layers_regex_records_only_those_layers_under_their_own_names(calibrated, tmp_path):
    d = calibrated
    assert _run("calibrate", d / "m", "--text", TEXT, "-o", tmp_path / "l0.npz", "--samples", "4", "--seq-len", "64",
                "--layers", r"layers\.0\.", "--quiet") == 0
    with np.load(tmp_path / "l0.npz") as part, np.load(d / "c.npz") as full:
        recorded = sorted(k for k in part.files if k.endswith(".H"))
        assert recorded and all(k.startswith("model.layers.0.") for k in recorded)
        for k in recorded:  # layer 1's inputs are not added into layer 0's record
            assert np.array_equal(part[k], full[k]) and part[k[:-2] + ".tokens"] == 4 * 64, k


@needs_torch
def test_full_hessians_feed_gptq_within_their_budget(calibrated, tmp_path, capsys):
    """--full-hessian records each layer's whole X^T X (float64 sums, stored float32),
    equal to the captured activations'; quantize --method gptq uses them (the bytes of
    nvfp4_np.quantize with that H); a budget too small for a layer keeps its block
    Hessians, and GPTQ falls back to the Hessian search there, saying so."""
    d = calibrated
    assert _run("calibrate", d / "m", "--text", TEXT, "-o", tmp_path / "f.npz", "--samples", "4", "--seq-len", "64",
                "--full-hessian", "--quiet") == 0
    assert "full Hessians for" in capsys.readouterr().err  # the size, before the run
    tok = transformers.AutoTokenizer.from_pretrained(str(d / "m"))
    ids = tok(open(TEXT, encoding="utf-8").read(), add_special_tokens=False)["input_ids"]
    X = _captured(d / "m", transformers.AutoModelForCausalLM, LAYERS, [ids[i * 64:(i + 1) * 64] for i in range(4)])
    with np.load(tmp_path / "f.npz") as z:
        for n in LAYERS:
            want = (X[n].T @ X[n]).astype(np.float32)
            assert z[n + ".H"].dtype == np.float32 and z[n + ".H"].shape == want.shape
            np.testing.assert_allclose(z[n + ".H"], want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
        meta = json.loads(bytes(z["__calibration__"]).decode())
        H = z["model.layers.1.mlp.down_proj.H"]
    assert "model.layers.1.mlp.down_proj" in meta["full_hessians"]
    assert _run("quantize", d / "m", "-o", tmp_path / "g", "--method", "gptq", "--calib", tmp_path / "f.npz",
                "--quiet") == 0
    rep = {x["name"]: x for x in ck.read_report(str(tmp_path / "g"))["tensors"] if x["action"] == "quantized"}
    assert all(x["method"] == "gptq" and x["mode"] == "hessian" for x in rep.values())
    W = ck.open_checkpoint(str(d / "m")).get("model.layers.1.mlp.down_proj.weight").astype(np.float32)
    ref = nvfp4_np.quantize(W, 16, "gptq", H=H, mode="hessian", recipe="compressed-tensors")
    got = ck.load_quantized(ck.open_checkpoint(str(tmp_path / "g")), "model.layers.1.mlp.down_proj",
                            ck.nvfp4_groups(ck.open_checkpoint(str(tmp_path / "g"))))
    assert np.array_equal(got.codes, ref.codes) and np.array_equal(got.scale_bytes, ref.scale_bytes)
    # a budget that holds no layer: block Hessians everywhere, GPTQ falls back with a note
    assert _run("calibrate", d / "m", "--text", TEXT, "-o", tmp_path / "s.npz", "--samples", "2", "--seq-len", "64",
                "--full-hessian", "--max-hessian-mb", "0.01", "--quiet") == 0
    assert "do not fit --max-hessian-mb" in capsys.readouterr().err
    assert _run("quantize", d / "m", "-o", tmp_path / "s", "--method", "gptq", "--calib", tmp_path / "s.npz",
                "--quiet") == 0
    rep = [x for x in ck.read_report(str(tmp_path / "s"))["tensors"] if x["action"] == "quantized"]
    assert all(x["method"] == "hessian" and "only block Hessians" in x["note"] for x in rep)
