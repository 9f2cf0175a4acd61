"""nvfp4_np.metrics against direct float64 formulas."""

import numpy as np
import pytest

import nvfp4_np

F32 = np.float32


def test_weight_and_output_error(rng):
    W = rng.standard_normal((24, 64)).astype(F32)
    Wq = (W + 0.01 * rng.standard_normal(W.shape)).astype(F32)
    X = rng.standard_normal((50, 64)).astype(F32)
    W64, Wq64, X64 = (a.astype(np.float64) for a in (W, Wq, X))
    m = nvfp4_np.metrics(W, Wq, X)
    assert m["weight_error"] == pytest.approx(np.linalg.norm(Wq64 - W64) / np.linalg.norm(W64), rel=1e-12)
    want = np.linalg.norm(X64 @ Wq64.T - X64 @ W64.T) / np.linalg.norm(X64 @ W64.T)
    assert m["output_error"] == pytest.approx(want, rel=1e-10)
    # streamed over row chunks: the chunk size does not matter
    assert nvfp4_np.metrics(W, Wq, X, chunk_rows=7)["output_error"] == pytest.approx(want, rel=1e-10)
    assert nvfp4_np.metrics(W, Wq)["output_error"] is None


def test_identical_and_zero():
    W = np.ones((2, 16), F32)
    assert nvfp4_np.metrics(W, W)["weight_error"] == 0.0
    assert nvfp4_np.metrics(np.zeros_like(W), np.zeros_like(W))["weight_error"] == 0.0


def test_metrics_bad_input():
    W = np.ones((2, 16), F32)
    with pytest.raises(ValueError, match="same shape"):
        nvfp4_np.metrics(W, W[:1])
    with pytest.raises(ValueError, match="2-D"):
        nvfp4_np.metrics(W[0], W[0])
    with pytest.raises(ValueError, match=r"\(T, K\)"):
        nvfp4_np.metrics(W, W, np.ones((3, 8), F32))


@pytest.mark.parametrize("fmt", ["compressed-tensors", "modelopt"])
def test_row_error_sums_equal_the_layouts_dequant_summed_in_order(fmt, rng):
    """The checkpoint report's weight-error sums, from the stored bytes without a dequant
    array, against the layout's own dequant (NVFP4Tensor.dequantize) in float64, each row
    summed element by element (np.add.accumulate is sequential): bit for bit."""
    from nvfp4_np import encoding, recipes
    from nvfp4_np.checkpoint.layout import FORMATS, global_scale, layout_tensor
    from nvfp4_np.metrics import row_error_sums

    W = (rng.standard_normal((37, 96)) * 10.0 ** rng.uniform(-3, 1, (37, 1))).astype(np.float32)
    W[3, :16] = 0.0
    t = nvfp4_np.quantize(W, 16, "optimal", recipe=FORMATS[fmt].recipe)
    stored = layout_tensor(t.codes, t.scale_bytes, global_scale(t, fmt), W.shape, fmt)
    d = stored.dequantize().astype(np.float64) - W.astype(np.float64)
    w = W.astype(np.float64)
    eff = recipes.dequant_scales(stored.recipe, encoding.e4m3_values(stored.scale_bytes), stored.tensor_scale)
    got = row_error_sums(W, stored.codes, eff)
    assert np.array_equal(got[:, 0], np.add.accumulate(d * d, axis=1)[:, -1])
    assert np.array_equal(got[:, 1], np.add.accumulate(w * w, axis=1)[:, -1])
    assert row_error_sums(W[:0], stored.codes[:0], eff[:0]).shape == (0, 2)
