"""The checkpoint command's GPU path (checkpoint/gpu_rows: the stored bits go to the
device, are converted, quantized and their error summed there) against the CPU path:
the same output files byte for byte and the same report figures, for bfloat16, float16
and float32 weights, fused groups and stacked experts (which take the host path), with
NaN named as on the CPU; and the GPU twins of _convert and metrics.row_error_sums
against the CPU's."""

import json

import ml_dtypes
import numpy as np
import pytest

from gpu_common import IGNORE_UNDERFLOW, SIM
from naive import ref_to_float32
from nvfp4_np import _convert, encoding, recipes
from nvfp4_np._gpu_convert import gpu_to_float32
from nvfp4_np._safetensors import save
from nvfp4_np.checkpoint import quantize_checkpoint
from nvfp4_np.checkpoint.layout import layout_tensor
from nvfp4_np.checkpoint.plan import Settings
from nvfp4_np.checkpoint.source import CheckpointError
from nvfp4_np.gpu_metrics import gpu_row_error_sums
from nvfp4_np.metrics import row_error_sums
from nvfp4_np.tensor import quantize

pytestmark = IGNORE_UNDERFLOW

#: 16-bit values tested: all of them on a GPU; under the simulator a spread of them and
#: the edges of both formats (zeros, subnormals, largest finite, Inf, NaN, both signs).
_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x007F, 0x0080,
          0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0xFFFF]
VALUES16 = (np.unique(np.r_[np.arange(0, 1 << 16, 211), _EDGES]).astype(np.uint16) if SIM
            else np.arange(1 << 16, dtype=np.uint16))
#: (dtype, method) of the command's comparison: all on a GPU, two under the simulator.
COMMAND_CASES = ([(ml_dtypes.bfloat16, "optimal"), (np.float16, "naive")] if SIM else
                 [(d, m) for d in (ml_dtypes.bfloat16, np.float16, np.float32) for m in ("naive", "optimal")])


@pytest.mark.parametrize("kind", ["BF16", "F16"])
def test_device_conversion_matches_the_cpu(kind):
    for sel in (VALUES16, VALUES16[np.isfinite(ref_to_float32(VALUES16.view(
            ml_dtypes.bfloat16 if kind == "BF16" else np.float16))[0])]):
        d_w, amax = gpu_to_float32(sel, bits=kind)
        w, ref_amax = _convert.to_float32(sel, bits=kind)
        got = d_w.copy_to_host()
        nan = np.isnan(w)
        assert np.array_equal(np.isnan(got), nan)
        assert np.array_equal(got.view(np.uint32)[~nan], w.view(np.uint32)[~nan])
        assert amax == ref_amax
    with pytest.raises(ValueError, match="uint16 bits"):
        gpu_to_float32(np.zeros(4, np.float32), bits="BF16")


def test_device_row_error_sums_match_the_cpu(rng):
    from numba import cuda

    W = (rng.standard_t(4, (24, 96)) * 0.02).astype(np.float32)
    t = quantize(W, 16, "optimal", recipe="compressed-tensors")
    stored = layout_tensor(t.codes, t.scale_bytes, t.tensor_scale, W.shape)
    eff = recipes.dequant_scales(stored.recipe, encoding.e4m3_values(stored.scale_bytes), t.tensor_scale)
    got = gpu_row_error_sums(cuda.to_device(W), cuda.to_device(stored.codes), eff)
    assert np.array_equal(got, row_error_sums(W, stored.codes, eff))


def _checkpoint(path, rng, dtype, rows=16 if SIM else 256, cols=32 if SIM else 512):
    ts = {f"model.layers.0.self_attn.{n}_proj.weight": (rng.standard_t(4, (rows, cols)) * 0.02).astype(dtype)
          for n in ("q", "k", "v")}
    ts["model.layers.0.mlp.down_proj.weight"] = (rng.standard_t(4, (rows // 2, cols)) * 0.05).astype(dtype)
    ts["model.layers.0.mlp.experts.gate_up_proj"] = (rng.standard_normal((2, cols, rows)) * 0.02).astype(dtype)
    ts["model.norm.weight"] = np.ones(cols, dtype)
    save(path, ts)
    return ts


def _figures(report):
    return [(e["name"], e.get("weight_error_pct"), e.get("global_scale"), e.get("scale_byte_histogram"))
            for e in report["tensors"]]


@pytest.mark.parametrize("dtype,method", COMMAND_CASES)
def test_the_gpu_command_writes_the_cpu_commands_bytes(tmp_path, rng, dtype, method):
    src = tmp_path / "m.safetensors"
    _checkpoint(src, rng, dtype)
    outs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        rep = quantize_checkpoint(str(src), str(out), Settings(method=method, device=device, stacked_experts="in-out"))
        outs[device] = ((out / "m.safetensors").read_bytes(), _figures(rep))
    assert outs["cuda"][0] == outs["cpu"][0]
    assert outs["cuda"][1] == outs["cpu"][1]
    assert json.loads((tmp_path / "cuda" / "nvfp4_report.json").read_text())["settings"]["device"] == "cuda"


def test_the_gpu_command_names_a_tensor_holding_nan(tmp_path, rng):
    ts = {"model.layers.0.mlp.up_proj.weight": np.ones((4, 32), ml_dtypes.bfloat16)}
    ts["model.layers.0.mlp.up_proj.weight"][3, 5] = np.nan
    save(tmp_path / "m.safetensors", ts)
    with pytest.raises(CheckpointError, match="up_proj.weight.*NaN"):
        quantize_checkpoint(str(tmp_path / "m.safetensors"), str(tmp_path / "out"), Settings(device="cuda"))
    assert not (tmp_path / "out").exists()
