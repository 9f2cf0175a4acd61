"""Weight and output error of every method on a real-looking layer.

    python examples/hessian_errors.py

W is heavy-tailed (Student-t, 4 dof), X has correlated columns whose norms spread
over two decades (as activations of real layers do).
"""

import numpy as np

import nvfp4_np

rng = np.random.default_rng(0)
M, K, T = 512, 1024, 2048
W = (0.02 * rng.standard_t(4, size=(M, K))).astype(np.float32)
X = rng.standard_normal((T, K)) @ (np.eye(K) + rng.standard_normal((K, K)) / np.sqrt(K))
X = (X * 10.0 ** rng.uniform(0, 2, K)).astype(np.float32)

rows = [
    ("naive", dict(method="naive")),
    ("optimal (SSE)", dict(method="optimal")),
    ("hessian, mode=seed", dict(method="hessian", X=X, mode="seed")),
    ("hessian, mode=exact", dict(method="hessian", X=X, mode="exact")),
    ("admm, mode=seed", dict(method="admm", X=X, mode="seed")),
    ("admm, mode=best", dict(method="admm", X=X, mode="best")),
    ("gptq, mode=hessian", dict(method="gptq", X=X, mode="hessian")),
    ("gptq, hessian, act", dict(method="gptq", X=X, mode="hessian", order="act")),
]
print(f"{'method':22s} {'weight error':>12s} {'output error':>12s}")
for name, kw in rows:
    t = nvfp4_np.quantize(W, block_size=16, **kw)
    m = nvfp4_np.metrics(W, t.dequantize(), X)
    print(f"{name:22s} {m['weight_error']:12.5f} {m['output_error']:12.5f}")
