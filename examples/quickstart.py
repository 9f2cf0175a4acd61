"""Quantize a weight matrix to NVFP4 with the naive and the SSE-optimal scales.

    python examples/quickstart.py
"""

import numpy as np

import nvfp4_np

rng = np.random.default_rng(0)
W = (0.02 * rng.standard_t(4, size=(1024, 4096))).astype(np.float32)  # a heavy-tailed "weight"

for method in ("naive", "optimal"):
    t = nvfp4_np.quantize(W, block_size=16, method=method)
    err = np.linalg.norm(t.dequantize() - W) / np.linalg.norm(W)
    print(f"{method:8s} scales {t.scales.shape} quants {t.quants.shape}  relative error {err:.5f}")

# Bytes as tensor cores read them, in Transformer Engine's two-level recipe:
t = nvfp4_np.quantize(W, block_size=16, method="optimal", recipe="te")
print("te recipe: packed codes", t.codes.shape, t.codes.dtype, "scale bytes", t.scale_bytes.shape,
      "tensor scale", t.tensor_scale, "swizzled", t.swizzled_scales().shape)
print("  first block: codes", " ".join(f"{b:02x}" for b in t.codes[0, :8]), "scale byte", hex(t.scale_bytes[0, 0]))
err = np.linalg.norm(t.dequantize() - W) / np.linalg.norm(W)
print(f"  relative error {err:.5f}")

# The seed-compatible functions take blocks on an axis of length 16 or 32:
scales, quants, dequant = nvfp4_np.nvfp4_optimal(W.reshape(1024, 256, 16), return_dequant=True)
print("first block:", W[0, :16].round(4))
print("  scale", scales[0, 0], "quants", quants[0, 0])
