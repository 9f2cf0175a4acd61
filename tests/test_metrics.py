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
