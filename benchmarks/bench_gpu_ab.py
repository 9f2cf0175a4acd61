"""Paired A/B of nvfp4_np versions on a GPU: whole-call milliseconds of the Hessian and
ADMM methods (as_bytes, CUDA events, median of --repeat) for each version, the versions
alternating for --rounds rounds in fresh processes.

    python benchmarks/bench_gpu_ab.py REV_A REV_B [...] [--rounds 2] [--repeat 5]
                                      [--methods hessian-seed,hessian-exact,admm-seed,admm-best]

Each REV (a git revision, or ``.`` for the working tree) is exported to a temporary
directory and imported from there. W 8192x8192 and X 8192x8192 as bench_gpu.py makes them
(0.05 * standard normal; X's columns scaled by 10^U(0, 1)), H_blocks accumulated in
float64 and passed to every call.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_WORKER = r"""
import statistics, sys
import numpy as np
import nvfp4_np
from nvfp4_np import gpu
from nvfp4_np._numba_cuda import cuda

methods, repeat = sys.argv[1].split(","), int(sys.argv[2])
print("# nvfp4_np", nvfp4_np.__file__, flush=True)
rng = np.random.default_rng(0)
W = (0.05 * rng.standard_normal((8192, 512, 16))).astype(np.float32)
X = rng.standard_normal((8192, 8192)).astype(np.float32) * (10.0 ** rng.uniform(0, 1, 8192)).astype(np.float32)
H = nvfp4_np.block_hessians(X, 16, accumulate=np.float64)
dW = cuda.to_device(W)
calls = {
    "hessian-seed": lambda: gpu.nvfp4_optimal_hessian(dW, H_blocks=H, mode="seed", as_bytes=True),
    "hessian-exact": lambda: gpu.nvfp4_optimal_hessian(dW, H_blocks=H, mode="exact", as_bytes=True),
    "admm-seed": lambda: gpu.nvfp4_admm(dW, H_blocks=H, mode="seed", as_bytes=True),
    "admm-best": lambda: gpu.nvfp4_admm(dW, H_blocks=H, mode="best", as_bytes=True),
}
for m in methods:
    fn = calls[m]
    fn()
    cuda.synchronize()
    ts = []
    for _ in range(repeat):
        s, e = cuda.event(), cuda.event()
        s.record(); fn(); e.record(); e.synchronize()
        ts.append(s.elapsed_time(e))
    print(m, statistics.median(ts), flush=True)
"""


def export(rev, into):
    """The package of ``rev`` (``.``: the working tree) under ``into``."""
    if rev == ".":
        return ROOT
    os.makedirs(into)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "nvfp4_np"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("revs", nargs="+")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--methods", default="hessian-seed,hessian-exact,admm-seed,admm-best")
    a = ap.parse_args(argv)
    methods = a.methods.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        roots = [export(rev, os.path.join(tmp, f"v{i}")) for i, rev in enumerate(a.revs)]
        print(f"# whole-call ms (as_bytes, median of {a.repeat}); versions alternate, {a.rounds} rounds")
        print(f"{'round':<6}{'version':<14}" + "".join(f"{m:>15}" for m in methods))
        for r in range(a.rounds):
            for rev, root in zip(a.revs, roots):
                env = dict(os.environ, PYTHONPATH=root)
                # (run from tmp: ``python -c`` puts the working directory ahead of PYTHONPATH)
                out = subprocess.run([sys.executable, "-c", _WORKER, a.methods, str(a.repeat)], env=env, check=True,
                                     capture_output=True, text=True, cwd=tmp).stdout
                where = next(line.split()[1] for line in out.splitlines() if line.startswith("# nvfp4_np"))
                if not where.startswith(root):
                    raise SystemExit(f"{rev}: imported nvfp4_np from {where}, not from {root}")
                ms = dict(line.split() for line in out.splitlines() if line.split()[0] in methods)
                print(f"{r + 1:<6}{rev:<14}" + "".join(f"{float(ms[m]):>15.2f}" for m in methods), flush=True)


if __name__ == "__main__":
    main()
