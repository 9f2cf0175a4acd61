"""Throughput of the Hessian-aware search (both modes), of ADMM (both modes), of
block-Hessian accumulation, and the seed's figures in the same run.

    python benchmarks/bench_hessian.py [--oracle-python PY] [--rows 2048] [--cols 4096]
                                       [--tokens 4096] [--repeat 3] [--seed-repeat 1]

W (rows, cols) float32 in blocks of 16, X (tokens, cols) Gaussian activations with
column norms over two decades. Search figures use precomputed H_blocks (so they time the
search alone); the block-Hessian step from X is reported apart in GFLOP/s (2*T*K*bs useful
flops) next to numpy's full X.T @ X on the same data (2*T*K^2 flops, the same BLAS).
ADMM is timed from X (the seed's nvfp4_admm takes only X). With --oracle-python the seed's
nvfp4_optimal_hessian (same H_blocks) and nvfp4_admm (same X) are timed with 2 torch
threads.
"""

import argparse
import os
import statistics
import sys

import numpy as np
from _oracle import DEFAULT_SEED_DIR, median_time, run_in_oracle

SEED_BODY = r"""
W, H, X = arrays
seed.nvfp4_optimal_hessian(W[:8], H_blocks=H)
seed.nvfp4_admm(W[:8], X=X)
print(json.dumps({
    "hessian": timed(lambda: seed.nvfp4_optimal_hessian(W, H_blocks=H), int(REPEAT)),
    "admm": timed(lambda: seed.nvfp4_admm(W, X=X), int(REPEAT)),
}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle-python", default=os.environ.get("NVFP4_ORACLE_PYTHON"))
    ap.add_argument("--seed-dir", default=DEFAULT_SEED_DIR)
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed-repeat", type=int, default=1)
    ap.add_argument("--seed-threads", type=int, default=2)
    a = ap.parse_args(argv)

    import numba

    import nvfp4_np

    rng = np.random.default_rng(0)
    bs = 16
    W = (0.05 * rng.standard_normal((a.rows, a.cols // bs, bs))).astype(np.float32)
    X = (rng.standard_normal((a.tokens, a.cols)).astype(np.float32)
         * (10.0 ** rng.uniform(0, 2, a.cols)).astype(np.float32))
    n = W.size
    print(f"# W {a.rows}x{a.cols}, X {a.tokens}x{a.cols} float32, blocks of {bs}; "
          f"numba {numba.__version__}, {numba.get_num_threads()} threads")
    print("# command: python benchmarks/bench_hessian.py " + " ".join(argv if argv is not None else sys.argv[1:]))

    nvfp4_np.block_hessians(X[:64], bs)
    t_h = median_time(lambda: nvfp4_np.block_hessians(X, bs), a.repeat)
    t_h64 = median_time(lambda: nvfp4_np.block_hessians(X, bs, accumulate=np.float64), a.repeat)
    t_full = median_time(lambda: X.T @ X, a.repeat)
    flops = 2.0 * a.tokens * a.cols * bs
    print(f"\nblock_hessians float32  {t_h:8.3f} s  {flops / t_h / 1e9:7.1f} GFLOP/s")
    print(f"block_hessians float64  {t_h64:8.3f} s  {flops / t_h64 / 1e9:7.1f} GFLOP/s")
    print(f"numpy X.T @ X (float32) {t_full:8.3f} s  {2.0 * a.tokens * a.cols ** 2 / t_full / 1e9:7.1f} GFLOP/s"
          f"  (computes all K x K, {a.cols // bs}x the flops)")

    H = nvfp4_np.block_hessians(X, bs)
    seed_t = None
    if a.oracle_python:
        body = SEED_BODY.replace("REPEAT", str(a.seed_repeat))
        seed_t = {k: statistics.median(v) for k, v in
                  run_in_oracle(a.oracle_python, a.seed_dir, a.seed_threads, body, W, H, X).items()}

    print(f"\n{'method':22s} {'nvfp4_np s':>11s} {'M el/s':>9s} {'seed s':>9s} {'M el/s':>9s} {'ratio':>8s}")
    rows = [
        ("hessian seed (H)", "hessian", lambda w: nvfp4_np.nvfp4_optimal_hessian(w, H_blocks=H, mode="seed")),
        ("hessian exact (H)", "hessian", lambda w: nvfp4_np.nvfp4_optimal_hessian(w, H_blocks=H, mode="exact")),
        ("admm seed (X)", "admm", lambda w: nvfp4_np.nvfp4_admm(w, X=X, mode="seed")),
        ("admm best (X)", "admm", lambda w: nvfp4_np.nvfp4_admm(w, X=X, mode="best")),
    ]
    for label, seed_key, fn in rows:
        fn(W[:8])  # compile or load from cache
        t = median_time(lambda: fn(W), a.repeat)
        line = f"{label:22s} {t:11.3f} {n / t / 1e6:9.2f}"
        if seed_t:
            ts = seed_t[seed_key]
            line += f" {ts:9.2f} {n / ts / 1e6:9.3f} {ts / t:7.1f}x"
        print(line)
    _, _, info = nvfp4_np.nvfp4_admm(W, X=X, mode="best", return_info=True)
    print(f"\nadmm best: ADMM improved {info['improved_blocks']} of {info['blocks']} blocks; total r'Hr "
          f"{info['error']:.6g} vs {info['hessian_error']:.6g} for the exact Hessian search "
          f"({100 * (1 - info['error'] / info['hessian_error']):.3f}% lower)")
    if not seed_t:
        print("(pass --oracle-python to time the seed in the same run)")


if __name__ == "__main__":
    main()
