"""GPTQ against the scale searches: held-out output error, and time, in one run.

    python benchmarks/bench_gptq.py [--rows 4096] [--cols 4096] [--tokens 8192]
                                    [--oracle-python PY] [--skip-speed]

Accuracy: the README's real-looking layer (W 512x1024 Student-t; activations with
correlated columns whose norms spread over two decades, examples/hessian_errors.py),
4096 tokens drawn from one distribution, split at random into calibration (3072) and
held-out (1024). Each method sees the calibration tokens only; the table gives the
output error ||X (W_q - W)^T|| / ||X W^T|| on both halves, and the weight error.

Speed: W (rows, cols) with the Hessian of (tokens, cols) such activations, computed
once; the time of hessian exact (from its block Hessians) and of GPTQ with each scale
search (from H: its operators, Cholesky and inverse included, and the sweep), best of 2.
With --oracle-python (torch), a plain PyTorch float32 GPTQ with naive NVFP4 scales (the
reference GPTQ code's structure: lazy blocks of 128 columns, torch.linalg Cholesky) on
the same W and H with the same number of threads.
"""

import argparse
import os
import time

import numba
import numpy as np

import nvfp4_np
from nvfp4_np.checkpoint import diag_blocks
from nvfp4_np.gptq import full_hessian

TORCH_GPTQ = r"""
W, H = arrays
W = W.float(); H = H.double()

def e4m3(v):
    return v.clamp(max=448.0).to(torch.float8_e4m3fn).to(torch.float32)

EDGES = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])
LEVELS = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])

def fp4(w, s):
    y = (w.abs() / s).nan_to_num(0.0)
    return torch.sign(w) * LEVELS[torch.bucketize(y, EDGES)] * s

def gptq(W, H, bs=16, blocksize=128, percdamp=0.01):
    W = W.clone(); H = H.clone()
    K = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    H += percdamp * torch.mean(torch.diag(H)) * torch.eye(K, dtype=H.dtype)
    L = torch.linalg.cholesky(H)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True).float()
    Q = torch.zeros_like(W)
    for i1 in range(0, K, blocksize):
        i2 = min(i1 + blocksize, K)
        W1 = W[:, i1:i2].clone(); Q1 = torch.zeros_like(W1); Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if i % bs == 0:
                s = e4m3(W1[:, i:i + bs].abs().amax(dim=1, keepdim=True) / 6.0).clamp(min=2.0 ** -9)
            w = W1[:, i:i + 1]
            q = fp4(w, s)
            Q1[:, i:i + 1] = q
            err = (w - q) / Hinv1[i, i]
            W1[:, i:] -= err.matmul(Hinv1[i:i + 1, i:])
            Err1[:, i:i + 1] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return Q

gptq(W[:64], H)
print(json.dumps({"seconds": min(timed(lambda: gptq(W, H), 2))}))
"""


def layer_activations(rng, T, K, A=None, scale=None):
    """Activations with correlated columns of norms over two decades (one distribution:
    pass its A and scale to draw more tokens of it)."""
    if A is None:
        A = np.eye(K) + rng.standard_normal((K, K)) / np.sqrt(K)
        scale = 10.0 ** rng.uniform(0, 2, K)
    return (rng.standard_normal((T, K)) @ A * scale).astype(np.float32), A, scale


def out_err(X, W, dq):
    X64 = X.astype(np.float64)
    return float(np.linalg.norm(X64 @ (dq.astype(np.float64) - W).T) / np.linalg.norm(X64 @ W.astype(np.float64).T))


def accuracy():
    rng = np.random.default_rng(0)
    M, K, T = 512, 1024, 4096
    W = (0.02 * rng.standard_t(4, size=(M, K))).astype(np.float32)
    X, _, _ = layer_activations(rng, T, K)
    perm = rng.permutation(T)
    cal, held = X[perm[:3 * T // 4]], X[perm[3 * T // 4:]]
    H = full_hessian(cal)
    rows = [("naive", dict(method="naive")), ("optimal", dict(method="optimal")),
            ("hessian exact", dict(method="hessian", H_blocks=diag_blocks(H, 16), mode="exact"))]
    rows += [(f"gptq {mode}", dict(method="gptq", H=H, mode=mode)) for mode in ("naive", "optimal", "hessian")]
    rows += [("gptq hessian, act order", dict(method="gptq", H=H, mode="hessian", order="act"))]
    print(f"# accuracy: W {M}x{K} Student-t, {len(cal)} calibration and {len(held)} held-out tokens, blocks of 16")
    print(f"{'method':26s} {'weight err %':>12s} {'calib out err %':>15s} {'held-out err %':>14s} {'seconds':>8s}")
    for name, kw in rows:
        nvfp4_np.quantize(W[:8], 16, **kw)  # compile
        t0 = time.perf_counter()
        dq = nvfp4_np.quantize(W, 16, **kw).dequantize()
        dt = time.perf_counter() - t0
        werr = np.linalg.norm(dq - W) / np.linalg.norm(W)
        print(f"{name:26s} {100 * werr:12.3f} {100 * out_err(cal, W, dq):15.3f} {100 * out_err(held, W, dq):14.3f} "
              f"{dt:8.2f}")


def best_of(fn, n=2):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def speed(a):
    rng = np.random.default_rng(1)
    W = (0.02 * rng.standard_t(4, size=(a.rows, a.cols))).astype(np.float32)
    X, _, _ = layer_activations(rng, a.tokens, a.cols)
    H = full_hessian(X)
    Hb = diag_blocks(H, 16)
    print(f"# speed: W {a.rows}x{a.cols}, H from {a.tokens} tokens, {numba.get_num_threads()} threads, best of 2")
    nvfp4_np.quantize(W[:8], 16, "hessian", H_blocks=Hb, mode="exact")
    t_h = best_of(lambda: nvfp4_np.quantize(W, 16, "hessian", H_blocks=Hb, mode="exact"))
    print(f"{'hessian exact':26s} {t_h:8.2f} s")
    t_naive = None
    for mode in ("naive", "optimal", "hessian"):
        nvfp4_np.quantize(W[:8], 16, "gptq", H=H[:], mode=mode)
        t = best_of(lambda: nvfp4_np.quantize(W, 16, "gptq", H=H, mode=mode))
        t_naive = t if mode == "naive" else t_naive
        print(f"{'gptq ' + mode:26s} {t:8.2f} s  = {t / t_h:.2f}x hessian exact")
    if a.oracle_python:
        from _oracle import DEFAULT_SEED_DIR, run_in_oracle

        res = run_in_oracle(a.oracle_python, DEFAULT_SEED_DIR, numba.get_num_threads(), TORCH_GPTQ, W, H)
        print(f"{'torch float32 gptq (naive)':26s} {res['seconds']:8.2f} s  (nvfp4_np gptq naive: "
              f"{t_naive / res['seconds']:.2f}x its time)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--oracle-python", default=os.environ.get("NVFP4_ORACLE_PYTHON"))
    ap.add_argument("--skip-speed", action="store_true")
    a = ap.parse_args(argv)
    print(f"# command: python benchmarks/bench_gptq.py {' '.join(argv or [])}".rstrip())
    accuracy()
    if not a.skip_speed:
        speed(a)


if __name__ == "__main__":
    main()
