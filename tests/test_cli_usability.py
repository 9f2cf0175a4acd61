"""What a new user meets first: --version, a readable NVFP4Tensor, inspect's order and
legend, dequantize's config, and the kernels compiled before the first tensor."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

import nvfp4_np
from nvfp4_np.checkpoint import Settings

# command-line runs in subprocesses, and the first load of every method's kernels
pytestmark = pytest.mark.slow


def _run(*args):
    return subprocess.run([sys.executable, "-m", "nvfp4_np", *args], capture_output=True, text=True)


def test_version():
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"nvfp4-np {nvfp4_np.__version__}"


def test_repr_shows_parameters_not_arrays():
    t = nvfp4_np.quantize(np.ones((512, 1024), np.float32), 16, "naive", recipe="te")
    text = repr(t)
    assert text.startswith("NVFP4Tensor(shape=(512, 1024), block_size=16, axis=1, method='naive', recipe='te'")
    assert "codes=262,144 bytes, scale_bytes=32,768 bytes" in text and "array" not in text and len(text) < 300


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck") / "model"
    d.mkdir()
    rs = np.random.RandomState(0)
    save_file({f"model.layers.{i}.mlp.up_proj.weight": rs.standard_normal((32, 64)).astype(np.float32)
               for i in (10, 2, 1)}, str(d / "model.safetensors"))
    with open(d / "config.json", "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "torch_dtype": "float32"}, f)
    out = d.parent / "out"
    r = _run("quantize", str(d), "-o", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    return d, out


def test_inspect_orders_layers_by_number_and_explains_the_columns(quantized):
    _, out = quantized
    r = _run("inspect", str(out))
    names = [line.split()[0] for line in r.stdout.splitlines() if line.startswith("model.")]
    assert names == [f"model.layers.{i}.mlp.up_proj.weight" for i in (1, 2, 10)]
    assert "gs: compressed-tensors' weight_global_scale, the encode form" in r.stdout
    assert "dequant = q * scale / gs" in r.stdout


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_dequantize_config_says_the_written_dtype(quantized, tmp_path, dtype):
    _, out = quantized
    r = _run("dequantize", str(out), "-o", str(tmp_path / "deq"), "--dtype", dtype)
    assert r.returncode == 0, r.stderr
    config = json.load(open(tmp_path / "deq" / "config.json"))
    assert config["torch_dtype"] == dtype and "quantization_config" not in config


def test_kernels_are_loaded_for_every_planned_method(monkeypatch):
    """Each (method, mode) of the plan runs once on one block before the first tensor; with
    the kernels cached nothing is said."""
    from nvfp4_np.checkpoint import rows

    methods = {("optimal", None), ("naive", None), ("hessian", "exact"), ("admm", "best")}
    settings = Settings(recipe="compressed-tensors")
    rows.load_kernels(methods, settings)  # compiles if needed
    said, ran = [], []
    real = rows.quantize
    monkeypatch.setattr(rows, "quantize", lambda W, bs, method, **kw: ran.append((method, kw.get("mode"))) or
                        real(W, bs, method, **kw))
    assert rows.load_kernels(methods, settings, said.append) < rows.COMPILE_NOTE_SECONDS
    assert said == [] and sorted(ran, key=str) == sorted(methods, key=str)


def test_a_slow_compile_is_announced_then_timed(monkeypatch):
    from nvfp4_np.checkpoint import rows

    monkeypatch.setattr(rows, "COMPILE_NOTE_SECONDS", 0.05)
    monkeypatch.setattr(rows, "quantize", lambda *a, **kw: time.sleep(0.3))
    said = []
    rows.load_kernels({("optimal", None)}, Settings(recipe="seed"), said.append)
    assert len(said) == 2 and said[0].startswith("compiling the kernels") and said[1].startswith("kernels compiled in")


def test_the_first_run_note_is_gone_from_every_run(quantized, tmp_path):
    d, _ = quantized
    r = _run("quantize", str(d), "-o", str(tmp_path / "o"), "--quiet")
    assert r.returncode == 0 and "about a minute" not in r.stderr
    assert "3 tensors to quantize (6,144 elements), 0 to copy" in r.stderr
    assert os.path.isdir(tmp_path / "o")
