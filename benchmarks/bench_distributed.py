"""Throughput of ``nvfp4-np quantize`` in one process and on local Dask clusters of 1
and 2 workers, on the same synthetic checkpoint, in one run.

    python benchmarks/bench_distributed.py [--tensors 8] [--rows 2048] [--cols 4096]
                                           [--methods optimal,admm] [--workers 1,2]

Every configuration gives each worker ONE core (Numba and BLAS threads = 1), so the
figures are per core, which is what docs/dask.md's estimate for large models multiplies
up. "run s" is the quantization itself, from the report (plan, compute, write); "wall s"
adds the process start and, for Dask, the cluster start. Every output is checked
byte for byte against the single-process one.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from _oracle import write_weights


def _write(folder, n, rows, cols):
    os.makedirs(folder, exist_ok=True)
    write_weights(os.path.join(folder, "model.safetensors"), n, rows, cols)
    # Hessians for the Hessian-aware methods: correlated, as real activations are
    rng = np.random.default_rng(1)
    A = rng.standard_normal((cols, cols)).astype(np.float32) / np.sqrt(cols)
    H = (A @ A.T + np.eye(cols, dtype=np.float32)).astype(np.float32)
    np.savez(os.path.join(folder, "calib.npz"), **{f"model.layers.{i}.mlp.up_proj.H": H for i in range(n)})


def _run(args, threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    import time

    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "nvfp4_np", "quantize", *args, "--quiet", "--overwrite"],
                       capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{r.stderr}")
    return wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tensors", type=int, default=8)
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--methods", default="optimal,admm")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--keep", help="work here and keep the files")
    a = ap.parse_args(argv)
    tmp = a.keep or tempfile.mkdtemp(prefix="nvfp4-dist-")
    try:
        src = os.path.join(tmp, "model")
        _write(src, a.tensors, a.rows, a.cols)
        el = a.tensors * a.rows * a.cols
        print(f"# {a.tensors} x ({a.rows}, {a.cols}) bfloat16 = {el / 1e6:.1f} M elements; one core per worker; "
              f"{os.cpu_count()} cores on this machine")
        print(f"# command: python benchmarks/bench_distributed.py {' '.join(argv if argv is not None else sys.argv[1:])}")
        print(f"{'method':8s} {'engine':22s} {'run s':>7s} {'wall s':>7s} {'M el/s':>8s} {'vs 1 process':>13s}")
        for m in a.methods.split(","):
            extra = ["--method", m] + (["--calib", os.path.join(src, "calib.npz")] if m in ("hessian", "admm") else [])
            _run([src, "-o", os.path.join(tmp, "warm"), "--include", "layers.0.", *extra], 1)  # load the JIT cache
            base = os.path.join(tmp, "one")
            wall = _run([src, "-o", base, "--threads", "1", *extra], 1)
            t1 = json.load(open(os.path.join(base, "nvfp4_report.json")))["totals"]["seconds"]
            print(f"{m:8s} {'1 process, 1 thread':22s} {t1:7.2f} {wall:7.2f} {el / t1 / 1e6:8.2f} {1.0:13.2f}")
            for n in map(int, a.workers.split(",")):
                out = os.path.join(tmp, f"dask{n}")
                wall = _run([src, "-o", out, "--workers", str(n), "--threads", "1", *extra], 1)
                t = json.load(open(os.path.join(out, "nvfp4_report.json")))["totals"]["seconds"]
                same = open(os.path.join(out, "model.safetensors"), "rb").read() == \
                    open(os.path.join(base, "model.safetensors"), "rb").read()
                print(f"{m:8s} {f'dask, {n} worker(s) x 1':22s} {t:7.2f} {wall:7.2f} {el / t / 1e6:8.2f} "
                      f"{t1 / t:13.2f}{'' if same else '  OUTPUT DIFFERS'}")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
