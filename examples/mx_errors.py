"""Weight and output error of the MX formats' methods on the README's real-looking layer
(examples/hessian_errors.py's W and X): the naive byte in each scale-rounding mode, the
byte of least squared error ("optimal"), and of least output error ("hessian").

    python examples/mx_errors.py
"""

import numpy as np

import nvfp4_np
from nvfp4_np import mx

rng = np.random.default_rng(0)
M, K, T = 512, 1024, 2048
W = (0.02 * rng.standard_t(4, size=(M, K))).astype(np.float32)
X = rng.standard_normal((T, K)) @ (np.eye(K) + rng.standard_normal((K, K)) / np.sqrt(K))
X = (X * 10.0 ** rng.uniform(0, 2, K)).astype(np.float32)

rows = [(f"naive, {r}", dict(method="naive", scale_rounding=r)) for r in mx.SCALE_ROUNDINGS]
rows += [("optimal", dict(method="optimal")), ("hessian", dict(method="hessian", X=X))]
print(f"{'format':11s} {'method':18s} {'weight error':>12s} {'output error':>12s}")
for fmt in mx.MX_FORMATS:
    for name, kw in rows:
        t = nvfp4_np.quantize(W, 32, fmt=fmt, **kw)
        m = nvfp4_np.metrics(W, t.dequantize(), X)
        print(f"{fmt:11s} {name:18s} {m['weight_error']:12.5f} {m['output_error']:12.5f}", flush=True)
