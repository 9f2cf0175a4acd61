"""``nvfp4-np quantize / dequantize / inspect / report`` end to end on small synthetic
checkpoints made here with the ``safetensors`` package: the bytes written equal
``nvfp4_np.quantize``'s, the layout dequantizes (by an independent ml_dtypes decoding)
to what ``dequantize`` writes, and every bad input ends with one line, exit 2 and
nothing written."""

import json
import os
import signal
import subprocess
import sys
import time

import ml_dtypes
import numpy as np
import pytest

import nvfp4_np
from nvfp4_np import _safetensors as st
from nvfp4_np import checkpoint as ck
from nvfp4_np.cli import main

from cli_common import wait_for_first_tensor

sn = pytest.importorskip("safetensors.numpy", reason="safetensors not installed (pip install -e '.[test]')")

LINEARS = {"model.layers.0.self_attn.q_proj.weight": (48, 64), "model.layers.0.mlp.up_proj.weight": (80, 128),
           "model.layers.0.mlp.down_proj.weight": (64, 80 + 16)}


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    t = {n: (rng.standard_t(4, s) * 0.05).astype(np.float32) for n, s in LINEARS.items()}
    t["model.layers.0.mlp.down_proj.weight"] = t["model.layers.0.mlp.down_proj.weight"].astype(np.float16)
    t.update({
        "model.embed_tokens.weight": rng.standard_normal((32, 64)).astype(np.float32),
        "model.layers.0.input_layernorm.weight": np.ones(64, np.float32),
        "model.layers.0.self_attn.q_proj.bias": np.zeros(48, np.float32),
        "model.layers.0.odd.weight": rng.standard_normal((4, 24)).astype(np.float32),
        "lm_head.weight": rng.standard_normal((32, 64)).astype(np.float32),
        "model.position_ids": np.arange(8, dtype=np.int64),
    })
    return t


@pytest.fixture
def model(tmp_path):
    """A model folder: one safetensors file written by the safetensors package, config.json,
    a tokenizer file, and activations for every linear layer."""
    d = tmp_path / "model"
    d.mkdir()
    t = _weights()
    sn.save_file(t, str(d / "model.safetensors"), metadata={"format": "pt"})
    (d / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (d / "tokenizer.json").write_text("{}")
    rng = np.random.default_rng(1)
    acts = {n[:-len(".weight")]: rng.standard_normal((64, s[1])).astype(np.float32) for n, s in LINEARS.items()}
    np.savez(tmp_path / "calib.npz", **acts)
    return d, t, acts


def _run(*argv):
    return main([str(a) for a in argv])


def _layout_dequant(packed, scale, gs):
    """q * (s / gs) decoded with ml_dtypes alone (not nvfp4_np)."""
    codes = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(packed.shape[0], -1)
    q = codes.astype(np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    s = np.asarray(scale).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    bs = q.shape[1] // s.shape[1]
    return (q.reshape(q.shape[0], -1, bs) * (s / np.float32(gs))[:, :, None]).reshape(q.shape)


@pytest.mark.parametrize("method, recipe, calib", [
    ("optimal", "compressed-tensors", None), ("naive", "seed", None), ("optimal", "te", None),
    ("hessian", "compressed-tensors", "X"), ("admm", "modelopt", "H"), ("gptq", "compressed-tensors", "X"),
    ("gptq", "te", "Hmix"),
])
@pytest.mark.slow
def test_quantize_bytes_equal_the_api(model, tmp_path, method, recipe, calib):
    d, t, acts = model
    args = ["quantize", d, "-o", tmp_path / "out", "--method", method, "--recipe", recipe, "--quiet"]
    if calib == "X":
        args += ["--calib", tmp_path / "calib.npz"]
    elif calib == "H":  # full Hessians for two layers; the third falls back
        np.savez(tmp_path / "h.npz", **{k + ".H": (x.T @ x).astype(np.float64) for k, x in list(acts.items())[:2]})
        args += ["--calib", tmp_path / "h.npz"]
    elif calib == "Hmix":  # a full Hessian (float32, as calibrate --full-hessian stores it), block Hessians, none
        (k0, x0), (k1, x1) = list(acts.items())[:2]
        np.savez(tmp_path / "h.npz", **{k0 + ".H": (x0.T @ x0).astype(np.float32),
                                        k1 + ".H": ck.diag_blocks(x1.T.astype(np.float64) @ x1, 16)})
        args += ["--calib", tmp_path / "h.npz"]
    assert _run(*args) == 0
    out = tmp_path / "out"
    got = st.load(str(out / "model.safetensors"))
    report = json.loads((out / "nvfp4_report.json").read_text())
    entries = {e["name"]: e for e in report["tensors"]}
    for name, W in t.items():
        if name not in LINEARS:
            assert np.array_equal(got[name].view(np.uint8), W.view(np.uint8)), name  # copied as is
            assert entries[name]["action"] == "copied"
            continue
        m = name[:-len(".weight")]
        e = entries[name]
        kw = {}
        stored = None if calib in (None, "X") else np.load(tmp_path / "h.npz").get(m + ".H")
        if method == "gptq" and stored is not None and stored.ndim == 3:  # block Hessians only
            assert e["method"] == "hessian" and e["mode"] == "exact" and "only block Hessians" in e["note"]
            kw = {"H_blocks": stored, "mode": "exact"}
        elif method == "gptq" and (calib == "X" or stored is not None):
            kw = {"X": acts[m]} if calib == "X" else {"H": stored}
            kw["mode"] = ck.BEST_MODES[method]
            assert e["method"] == "gptq" and e["mode"] == "hessian" and e["calibration"] is not None
        elif calib and (calib == "X" or stored is not None):
            kw = {"X": acts[m]} if calib == "X" else {"H_blocks": ck.diag_blocks(acts[m].T @ acts[m], 16)}
            kw["mode"] = ck.BEST_MODES[method]
            assert e["method"] == method and e["calibration"] is not None
        elif calib:
            assert e["method"] == "optimal" and "no activations" in e["note"]
        ref = nvfp4_np.quantize(W, 16, e["method"], recipe=recipe, **kw)
        assert np.array_equal(got[m + ".weight_packed"], ref.codes), name
        assert np.array_equal(got[m + ".weight_scale"].view(np.uint8), ref.scale_bytes), name
        gs = got[m + ".weight_global_scale"]
        assert gs.dtype == np.float32 and gs.shape == (1,)
        want_gs = ref.tensor_scale if recipe == "compressed-tensors" else np.float32(1) / np.float32(ref.tensor_scale)
        assert gs[0] == want_gs
        dq = _layout_dequant(got[m + ".weight_packed"], got[m + ".weight_scale"], gs[0])
        W64 = W.astype(np.float64)
        werr = 100 * np.linalg.norm(dq - W64) / np.linalg.norm(W64)
        assert e["weight_error_pct"] == pytest.approx(werr, rel=1e-9)
        if e["calibration"] and e["output_error_basis"] == "block Hessians":  # sum_j r_j H_j r_j^T
            Hb = stored.astype(np.float64)

            def quad(r):
                rb = r.reshape(r.shape[0], -1, 16)
                return np.einsum("mji,jik,mjk->", rb, Hb, rb)

            oerr = 100 * np.sqrt(quad(dq - W64) / quad(W64))
            assert e["output_error_pct"] == pytest.approx(oerr, rel=1e-6)
        elif e["calibration"]:
            X = acts[m].astype(np.float64)
            oerr = 100 * np.linalg.norm(X @ (dq - W64).T) / np.linalg.norm(X @ W64.T)
            assert e["output_error_pct"] == pytest.approx(oerr, rel=1e-6)
        hist = np.bincount(got[m + ".weight_scale"].view(np.uint8).ravel(), minlength=256)
        assert e["scale_byte_histogram"] == {f"0x{b:02x}": int(n) for b, n in enumerate(hist) if n}
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "llama"
    qc = cfg["quantization_config"]
    assert qc["format"] == "nvfp4-pack-quantized" and qc["config_groups"]["group_0"]["weights"]["group_size"] == 16
    assert sorted(qc["ignore"]) == ["lm_head", "model.embed_tokens", "model.layers.0.odd"]
    assert (out / "tokenizer.json").exists() and not (out / "calib.npz").exists()
    assert report["totals"]["quantized"] == 3 and report["settings"]["recipe"] == recipe


def test_dequantize_matches_independent_decoding(model, tmp_path, capsys):
    d, t, _ = model
    assert _run("quantize", d, "-o", tmp_path / "q", "--quiet") == 0
    assert _run("dequantize", tmp_path / "q", "-o", tmp_path / "f32", "--quiet") == 0
    assert _run("dequantize", tmp_path / "q", "-o", tmp_path / "bf16", "--dtype", "bfloat16", "--quiet") == 0
    assert _run("dequantize", tmp_path / "q", "-o", tmp_path / "deq.npz", "--quiet") == 0
    q = st.load(str(tmp_path / "q" / "model.safetensors"))
    f32 = st.load(str(tmp_path / "f32" / "model.safetensors"))
    bf16 = st.load(str(tmp_path / "bf16" / "model.safetensors"))
    npz = np.load(tmp_path / "deq.npz")
    assert set(f32) == set(t) == set(npz.files)
    for name in LINEARS:
        m = name[:-len(".weight")]
        ref = _layout_dequant(q[m + ".weight_packed"], q[m + ".weight_scale"], q[m + ".weight_global_scale"][0])
        assert np.array_equal(f32[name].view(np.int32), ref.view(np.int32))
        assert np.array_equal(npz[name].view(np.int32), ref.view(np.int32))
        assert bf16[name].dtype == ml_dtypes.bfloat16
        assert np.array_equal(bf16[name].view(np.uint16), ref.astype(ml_dtypes.bfloat16).view(np.uint16))
    assert "quantization_config" not in json.loads((tmp_path / "f32" / "config.json").read_text())
    assert _run("dequantize", tmp_path / "q", "-o", tmp_path / "x.npz", "--dtype", "bfloat16") == 2
    assert ".npz cannot hold bfloat16" in capsys.readouterr().err


def test_sharded_checkpoint(tmp_path):
    t = _weights()
    d = tmp_path / "sharded"
    d.mkdir()
    names = list(t)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for f, ns in shards.items():
        sn.save_file({n: t[n] for n in ns}, str(d / f))
    index = {"metadata": {"total_size": 0}, "weight_map": {n: f for f, ns in shards.items() for n in ns}}
    (d / "model.safetensors.index.json").write_text(json.dumps(index))
    assert _run("quantize", d / "model.safetensors.index.json", "-o", tmp_path / "out", "--quiet") == 0
    out = tmp_path / "out"
    idx = json.loads((out / "model.safetensors.index.json").read_text())
    total = 0
    for f in shards:
        got = st.SafetensorsFile(str(out / f))
        assert {n for n, s in idx["weight_map"].items() if s == f} == set(got.infos)
        total += sum(i.end - i.start for i in got.infos.values())
    assert idx["metadata"]["total_size"] == total
    # one tensor from the second shard: the same bytes as quantizing it alone
    name = "model.layers.0.mlp.up_proj.weight"
    ref = nvfp4_np.quantize(t[name], method="optimal", recipe="compressed-tensors")
    f = idx["weight_map"]["model.layers.0.mlp.up_proj.weight_packed"]
    assert np.array_equal(st.load(str(out / f))["model.layers.0.mlp.up_proj.weight_packed"], ref.codes)
    # a shard the index names but that is missing: the error names it
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors.index.json").write_text(json.dumps(index))
    os.link(d / "model-00001-of-00002.safetensors", broken / "model-00001-of-00002.safetensors")
    assert _run("quantize", broken, "-o", tmp_path / "x", "--quiet") == 2
    assert not (tmp_path / "x").exists()
    # the folder form finds the index itself; dequantize keeps the sharding
    assert _run("dequantize", out, "-o", tmp_path / "deq", "--quiet") == 0
    assert set(os.listdir(tmp_path / "deq")) >= set(shards) | {"model.safetensors.index.json"}


def test_npy_and_npz_inputs(tmp_path):
    rng = np.random.default_rng(3)
    W = rng.standard_normal((16, 64)).astype(np.float32)
    np.save(tmp_path / "W.npy", W)
    np.savez(tmp_path / "ws.npz", a=W, b=W[:, :32].astype(np.float16), ids=np.arange(3))
    assert _run("quantize", tmp_path / "W.npy", "-o", tmp_path / "o1", "--quiet") == 0
    assert _run("quantize", tmp_path / "ws.npz", "-o", tmp_path / "o2", "--quiet") == 0
    g1 = st.load(str(tmp_path / "o1" / "model.safetensors"))
    ref = nvfp4_np.quantize(W, recipe="compressed-tensors")
    assert np.array_equal(g1["W.weight_packed"], ref.codes)
    g2 = st.load(str(tmp_path / "o2" / "model.safetensors"))
    assert set(g2) == {f"{m}.{s}" for m in "ab" for s in ck.SUFFIXES} | {"ids"}
    assert _run("dequantize", tmp_path / "o2", "-o", tmp_path / "back.npz", "--quiet") == 0
    back = np.load(tmp_path / "back.npz")
    assert set(back.files) == {"a", "b", "ids"}  # original names restored
    assert back["a"].shape == W.shape


def test_row_ranges_give_the_same_bytes(model, tmp_path, monkeypatch):
    """A tensor is quantized in row ranges with the whole tensor's amax: same bytes."""
    d, t, _ = model
    assert _run("quantize", d, "-o", tmp_path / "a", "--quiet", "--recipe", "te") == 0
    monkeypatch.setattr(ck.pieces, "ROWS_ELEMENTS", 7 * 64)  # ragged row ranges
    assert _run("quantize", d, "-o", tmp_path / "b", "--quiet", "--recipe", "te") == 0
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_selection_and_dry_run(model, tmp_path, capsys):
    d, t, _ = model
    assert _run("quantize", d, "-o", tmp_path / "o", "--dry-run") == 0
    out = capsys.readouterr().out
    assert not (tmp_path / "o").exists()
    q, c = out.split("copy unchanged")
    for n in LINEARS:
        assert n in q
    for n, why in [("model.embed_tokens.weight", "embedding"), ("lm_head.weight", "output head"),
                   ("input_layernorm", "norm"), ("q_proj.bias", "bias"), ("odd.weight", "K = 24"),
                   ("position_ids", "dtype I64")]:
        line = next(ln for ln in c.splitlines() if n in ln)
        assert why in line, line
    assert _run("quantize", d, "-o", tmp_path / "o", "--dry-run", "--include", "mlp", "--exclude", "down") == 0
    q = capsys.readouterr().out.split("copy unchanged")[0]
    assert "up_proj" in q and "down_proj" not in q and "q_proj" not in q
    assert _run("quantize", d, "-o", tmp_path / "o", "--dry-run", "--include", "lm_head",
                "--no-default-excludes") == 0
    assert "lm_head.weight" in capsys.readouterr().out.split("copy unchanged")[0]


def _fails(capsys, *argv, match):
    out = argv[argv.index("-o") + 1] if "-o" in argv else None
    assert _run(*argv) == 2
    lines = [ln for ln in capsys.readouterr().err.strip().splitlines()
             if "tensors to quantize" not in ln and ": note: " not in ln]
    err = "\n".join(lines)  # (the plan's summary line and notes may come first when the error is found later)
    assert len(lines) == 1 and err.startswith("nvfp4-np ") and "nothing written" in err, err
    assert match in err, err
    if out is not None:
        assert not os.path.exists(out)
        parent = os.path.dirname(str(out))
        assert not [f for f in os.listdir(parent) if ".partial-" in f]
    return err


def test_bad_inputs(model, tmp_path, capsys):
    d, t, acts = model
    out = tmp_path / "out"
    _fails(capsys, "quantize", tmp_path / "missing.safetensors", "-o", out, match="no such file")
    (tmp_path / "junk.safetensors").write_bytes(b"hello, this is not a model")
    _fails(capsys, "quantize", tmp_path / "junk.safetensors", "-o", out, match="not a safetensors file")
    raw = (d / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[:len(raw) - 100])
    _fails(capsys, "quantize", tmp_path / "cut.safetensors", "-o", out, match="truncated")
    _fails(capsys, "quantize", d, "-o", out, "--include", "position_ids", match="not floating")
    _fails(capsys, "quantize", d, "-o", out, "--include", "odd", match="K = 24")
    _fails(capsys, "quantize", d, "-o", out, "--include", "no_such_layer", match="matches none")
    np.savez(tmp_path / "badk.npz", **{"model.layers.0.mlp.up_proj": np.ones((8, 64), np.float32)})
    err = _fails(capsys, "quantize", d, "-o", out, "--method", "hessian", "--calib", tmp_path / "badk.npz",
                 match="K = 128")
    assert "badk.npz" in err and "model.layers.0.mlp.up_proj" in err
    _fails(capsys, "quantize", d, "-o", out, "--method", "admm", match="--calib")
    _fails(capsys, "quantize", d, "-o", out, "--mode", "exact", match="does not apply")
    bad = dict(t)
    bad["model.layers.0.mlp.up_proj.weight"] = bad["model.layers.0.mlp.up_proj.weight"].copy()
    bad["model.layers.0.mlp.up_proj.weight"][3, 5] = np.nan
    sn.save_file(bad, str(tmp_path / "nan.safetensors"))
    err = _fails(capsys, "quantize", tmp_path / "nan.safetensors", "-o", out, match="non-finite")
    assert "model.layers.0.mlp.up_proj.weight" in err and "(3, 5)" in err
    out.mkdir()
    (out / "keep").write_text("old")
    assert _run("quantize", d, "-o", out) == 2
    assert "already exists (pass --overwrite" in capsys.readouterr().err
    assert os.listdir(out) == ["keep"]
    assert _run("quantize", d, "-o", out, "--overwrite") == 2  # a folder nvfp4_np did not write
    assert "is a folder (without an nvfp4_np nvfp4_report.json) that nvfp4_np did not write" in capsys.readouterr().err
    assert os.listdir(out) == ["keep"]
    assert _run("quantize", d, "-o", out, "--overwrite-any", "--quiet") == 0  # replaced atomically
    assert (out / "nvfp4_report.json").exists()
    assert _run("quantize", d, "-o", out, "--overwrite", "--quiet") == 0  # an earlier output


def test_interrupt_and_disk_full_leave_nothing(model, tmp_path, capsys, monkeypatch):
    d, _, _ = model
    out = tmp_path / "out"

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ck.quantize_checkpoint(str(d), str(out), progress=interrupt)
    assert not out.exists() and not [f for f in os.listdir(tmp_path) if ".partial-" in f]

    def full(self, name, buf):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(st.SafetensorsWriter, "write_raw", full)
    assert _run("quantize", d, "-o", out, "--quiet") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "nothing written" in err
    assert not out.exists() and not [f for f in os.listdir(tmp_path) if ".partial-" in f]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_killed_process_leaves_nothing(tmp_path, sig, code):
    """A real process, signalled mid-run (after its first tensor): exit status, message,
    no OUT and no temporary folder."""
    rng = np.random.default_rng(5)
    t = {f"layers.{i}.weight": rng.standard_normal((256, 512)).astype(np.float16) for i in range(40)}
    sn.save_file(t, str(tmp_path / "big.safetensors"))
    np.savez(tmp_path / "h.npz", **{f"layers.{i}.H": np.eye(512) for i in range(40)})
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "nvfp4_np", "quantize", str(tmp_path / "big.safetensors"), "-o",
                          str(out), "--method", "admm", "--calib", str(tmp_path / "h.npz"), "--threads", "1",
                          "--quiet"], stderr=subprocess.PIPE, text=True,
                         # a shell's background jobs (CI) start with SIGINT ignored, and Python
                         # then installs no KeyboardInterrupt handler; a terminal's Ctrl-C has one
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_first_tensor(p)
    p.send_signal(sig)
    rest = p.stderr.read()
    assert p.wait(timeout=120) == code, rest
    assert "nothing written" in rest
    assert not out.exists() and not [f for f in os.listdir(tmp_path) if ".partial-" in f]


def test_inspect_and_report(model, tmp_path, capsys):
    d, _, _ = model
    assert _run("quantize", d, "-o", tmp_path / "opt", "--quiet", "--method", "hessian", "--calib",
                tmp_path / "calib.npz") == 0
    assert _run("quantize", d, "-o", tmp_path / "nai", "--quiet", "--method", "naive") == 0
    capsys.readouterr()
    assert _run("inspect", tmp_path / "opt") == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith("model.layers.0.mlp.up_proj.weight"))
    assert "nvfp4 b16" in line and "hessian/exact" in line
    assert _run("inspect", tmp_path / "opt", "--json") == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    rep = ck.read_report(str(tmp_path / "opt"))
    e = next(e for e in rep["tensors"] if e["name"] == "model.layers.0.mlp.up_proj.weight")
    assert rows["model.layers.0.mlp.up_proj.weight"]["output_error_pct"] == e["output_error_pct"] is not None
    assert rows["lm_head.weight"]["stored"] == "F32"
    assert _run("report", tmp_path / "opt", tmp_path / "nai", "--labels", "hess,naive") == 0
    text = capsys.readouterr().out
    assert "hess: weight / output err %" in text and "model.layers.0.mlp.up_proj.weight" in text


def test_report_png(model, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib not installed (extra 'plot')")
    d, _, _ = model
    assert _run("quantize", d, "-o", tmp_path / "a", "--quiet") == 0
    assert _run("quantize", d, "-o", tmp_path / "b", "--quiet", "--method", "naive") == 0
    png = tmp_path / "r.png"
    assert _run("report", tmp_path / "a", tmp_path / "b", "--png", png) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert w >= 400 and h >= 400


@pytest.mark.slow
def test_help_shows_examples():
    r = subprocess.run([sys.executable, "-m", "nvfp4_np", "quantize", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "examples:" in r.stdout and "nvfp4-np quantize model/ -o" in r.stdout
    for cmd in ("dequantize", "inspect", "report", "golden", "verify"):
        r = subprocess.run([sys.executable, "-m", "nvfp4_np", cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and "examples:" in r.stdout, cmd


def test_plain_progress_lines_when_not_a_tty(model, tmp_path):
    d, _, _ = model
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "nvfp4_np", "quantize", str(d), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    note, head, *lines = r.stderr.strip().splitlines()
    assert note == ("nvfp4-np quantize: note: model.layers.0.odd.weight F32 [4, 24] is copied unchanged: its K = 24 "
                    "(shape [4, 24]) is not a multiple of the block size 16")
    assert head.startswith("3 tensors to quantize (")
    assert [ln.split()[0] for ln in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all("weight error" in ln and "M el/s" in ln for ln in lines)
    assert "\r" not in r.stderr  # no bar redraws in a log file
    assert r.stdout.startswith(f"wrote {tmp_path / 'o'}: 3 tensors quantized") and time.time() - t0 < 300


def test_empty_tensors_are_copied_not_quantized(tmp_path, capsys):
    t = {"rows0.weight": np.zeros((0, 64), np.float32), "cols0.weight": np.zeros((4, 0), np.float32),
         "w.weight": np.ones((4, 32), np.float32)}
    sn.save_file(t, str(tmp_path / "e.safetensors"))
    assert _run("quantize", tmp_path / "e.safetensors", "-o", tmp_path / "o", "--quiet") == 0
    got = st.load(str(tmp_path / "o" / "e.safetensors"))
    assert got["rows0.weight"].shape == (0, 64) and got["cols0.weight"].shape == (4, 0)
    assert "w.weight_packed" in got
    report = json.loads((tmp_path / "o" / ck.REPORT_NAME).read_text())
    assert {e["name"]: e.get("reason") for e in report["tensors"] if e["action"] == "copied"} == {
        "rows0.weight": "it is empty (shape [0, 64])", "cols0.weight": "it is empty (shape [4, 0])"}
    capsys.readouterr()
    _fails(capsys, "quantize", tmp_path / "e.safetensors", "-o", tmp_path / "x", "--include", "cols0",
           match="it is empty")
