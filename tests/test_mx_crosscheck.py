"""Optional cross-check of the MX primitives (nvfp4_np/mx.py) against torchao 0.18.0's
``to_mx`` on CPU (torch 2.13.0): E8M0 bytes and element codes, every element type and
scale-rounding mode, float32 and bfloat16 input. Skipped without torch and torchao. To
run it (the venv of docs/design/four_over_six.md, or any with torch 2.13.0 CPU)::

    ~/.cache/nvfp4-fos/bin/pip install torchao==0.18.0 --no-deps
    ~/.cache/nvfp4-fos/bin/python -m pytest -q tests/test_mx_crosscheck.py
"""

import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch 2.13.0 CPU and torchao 0.18.0")
mx_tensor = pytest.importorskip("torchao.prototype.mx_formats.mx_tensor", reason="needs torchao 0.18.0")

from nvfp4_np import mx  # noqa: E402
from test_mx import BLOCK_KINDS, MODES, block_inputs, run_blocks  # noqa: E402

F32 = np.float32
ELEM = {"mxfp4": torch.float4_e2m1fn_x2, "mxfp6_e2m3": "fp6_e2m3", "mxfp6_e3m2": "fp6_e3m2",
        "mxfp8_e4m3": torch.float8_e4m3fn, "mxfp8_e5m2": torch.float8_e5m2}
MODE = {m: getattr(mx_tensor.ScaleCalculationMode, m.upper()) for m in MODES}


def torchao_bytes(x, fmt, mode):
    """(codes one per element, E8M0 bytes) of torchao's to_mx on the float32 or bfloat16 x."""
    s, d = mx_tensor.to_mx(torch.from_numpy(x) if x.dtype == F32 else x, ELEM[fmt], 32, MODE[mode])
    d = d.view(torch.uint8).numpy()
    if fmt == "mxfp4":  # (element 2i in the low nibble)
        d = np.stack([d & 0xF, d >> 4], -1).reshape(d.shape[0], -1)
    return d, s.view(torch.uint8).numpy()


def rceil_log2_blocks(x, fmt):
    """The blocks where torchao's CPU rceil (ceil of torch's float32 log2 of
    d = fl(amax / largest)) is one below the exact ceiling: d normal and its float32
    log2 an integer L below log2(d) (d just above 2^L). torch's log2 is taken with the
    same operations and shapes as in to_mx."""
    max_abs = torch.amax(torch.abs(torch.from_numpy(x).reshape(x.shape[0], -1, 32)), -1).unsqueeze(-1)
    d = max_abs / mx.MX_FORMATS[fmt].element.max_finite
    log2 = torch.log2(d)
    d, log2 = d.numpy().astype(np.float64), log2.numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lower = (d >= 2.0 ** -126) & (log2 == np.floor(log2)) & (d > np.exp2(log2))
    return lower[..., 0]


@pytest.mark.parametrize("fmt", list(ELEM))
@pytest.mark.parametrize("mode", MODES)
def test_to_mx_bytes(fmt, mode):
    """Identical bytes; for rceil, except the blocks where torchao's CPU log2 rounds
    (rceil_log2_blocks): there nvfp4_np's byte is one higher (the exact ceiling)."""
    rng = np.random.default_rng(zlib.crc32(f"x{fmt}{mode}".encode()))
    for kind in BLOCK_KINDS:
        x = block_inputs(rng, kind, fmt, R=64).astype(F32)
        codes, scales = run_blocks(x, fmt, mode)
        tc, ts = torchao_bytes(x, fmt, mode)
        if mode == "rceil":
            lower = rceil_log2_blocks(x, fmt)
            assert np.array_equal(scales[lower], ts[lower] + 1), kind
            codes, tc = (c.reshape(c.shape[0], -1, 32)[~lower] for c in (codes, tc))
            scales, ts = scales[~lower], ts[~lower]
        assert np.array_equal(scales, ts), (kind, np.argwhere(scales != ts)[:3])
        assert np.array_equal(codes, tc), (kind, np.argwhere(codes != tc)[:3])
        # bfloat16 input: torchao converts it to float32 exactly, as nvfp4_np will
        xb = torch.from_numpy(x).to(torch.bfloat16)
        codes, scales = run_blocks(xb.float().numpy(), fmt, mode)
        tc, ts = torchao_bytes(xb, fmt, mode)
        assert np.array_equal(scales, ts) and np.array_equal(codes, tc), kind


def test_rceil_on_cpu_rounds_log2():
    """torchao's CPU rceil is ceil(torch.log2(d)) in float32, nvfp4_np's the exact ceiling
    (cvt.rp.satfinite.ue8m0x2.f32): d = 2^20 (1 + 2^-22) has log2 20.00000034, which
    float32 rounds to 20: torchao writes byte 147, the exact ceiling is 21 (148). At
    2^5 (1 + 2^-22) the float32 log2 keeps the excess and both give 133."""
    x = np.zeros((1, 64), F32)
    x[0, 0] = F32(6.0 * 2.0 ** 20) * F32(1 + 2 ** -22)
    x[0, 32] = F32(6.0 * 2.0 ** 5) * F32(1 + 2 ** -22)
    _, ours = run_blocks(x, "mxfp4", "rceil")
    _, theirs = torchao_bytes(x, "mxfp4", "rceil")
    assert ours[0].tolist() == [148, 133] and theirs[0].tolist() == [147, 133]
