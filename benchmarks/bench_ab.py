"""Paired A/B of nvfp4_np versions: which of two (or more) commits is faster, on a noisy host.

    python benchmarks/bench_ab.py REV_A REV_B [...] [--case bench] [--threads 1]
                                  [--rounds 24] [--workers 4] [--cpu 0] [--fresh]

Each REV (a git revision, or ``.`` for the working tree) is exported to a temporary
directory with its own Numba cache. Every version gets ``--workers`` long-lived worker
processes (identical code in two processes differed by up to 5% for a whole run on the
development VM: memory placement), optionally pinned to one CPU. Each round calls one
worker of every version in turn, in alternating order, twice per call; the report is
each version's minimum and median milliseconds per call and the median of its per-round
ratios to the first version.

Cases: ``bench`` W 2048x4096 standard normal in blocks of 16 (bench_cpu's W, optimal),
``bs16`` / ``bs32`` 0.05 * standard normal 1024x4096 in blocks of 16 / 32 (optimal),
``naive`` the bench W through nvfp4_naive, ``quantize`` / ``quantize-naive`` the bench W
(2048x4096) through ``nvfp4_np.quantize`` with method optimal / naive (always fresh
outputs). Calls write into reused outputs (``out=``) unless ``--fresh``.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = r"""
import sys, time, numpy as np, numba, nvfp4_np
case, threads, fresh = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
numba.set_num_threads(threads)
if case in ("bench", "naive"):
    W = np.random.default_rng(0).standard_normal((2048, 4096)).astype(np.float32).reshape(2048, 256, 16)
elif case.startswith("quantize"):
    W = np.random.default_rng(0).standard_normal((2048, 4096)).astype(np.float32)
    fresh = True  # quantize() has no out=
else:
    W = (0.05 * np.random.default_rng(0).standard_normal((1024, 4096))).astype(np.float32)
    W = W.reshape(1024, -1, 16 if case == "bs16" else 32)
if case.startswith("quantize"):
    method = "naive" if case == "quantize-naive" else "optimal"
    fn = lambda W, out=None: nvfp4_np.quantize(W, 16, method)
else:
    fn = nvfp4_np.nvfp4_naive if case == "naive" else nvfp4_np.nvfp4_optimal
bufs = fn(W)
fn(W, out=bufs)
print("ready", flush=True)
for _ in sys.stdin:
    t = time.perf_counter()
    for _ in range(2):
        fn(W) if fresh else fn(W, out=bufs)
    print((time.perf_counter() - t) / 2, flush=True)
"""


def export(rev, dest):
    """The package of ``rev`` (``.``: the working tree) under ``dest``."""
    if rev == ".":
        shutil.copytree(os.path.join(ROOT, "nvfp4_np"), os.path.join(dest, "nvfp4_np"),
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "nvfp4_np"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("revs", nargs="+")
    ap.add_argument("--case", default="bench", choices=["bench", "bs16", "bs32", "naive", "quantize", "quantize-naive"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=24)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--cpu", help="pin every worker to this CPU (taskset)")
    ap.add_argument("--fresh", action="store_true", help="fresh outputs each call instead of out=")
    a = ap.parse_args()
    pin = ["taskset", "-c", a.cpu] if a.cpu is not None else []
    with tempfile.TemporaryDirectory() as tmp:
        dirs = []
        for i, rev in enumerate(a.revs):
            d = os.path.join(tmp, str(i))
            os.makedirs(d)
            export(rev, d)
            dirs.append(d)
        procs = []
        for _ in range(a.workers):  # the first worker of each version compiles, the rest load its cache
            ps = [subprocess.Popen(
                pin + [sys.executable, "-c", WORKER, a.case, str(a.threads), str(int(a.fresh))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp,  # not ROOT: "" on sys.path
                env=dict(os.environ, PYTHONPATH=d, NUMBA_CACHE_DIR=os.path.join(d, ".nbcache"))) for d in dirs]
            for p in ps:
                if p.stdout.readline().strip() != "ready":
                    sys.exit("a worker failed to start")
            procs.append(ps)
        ms = [[] for _ in dirs]
        for r in range(a.rounds):
            ps = procs[r % a.workers]
            for i in (range(len(dirs)) if r % 2 == 0 else reversed(range(len(dirs)))):
                ps[i].stdin.write("go\n")
                ps[i].stdin.flush()
                ms[i].append(float(ps[i].stdout.readline()) * 1e3)
        for ps in procs:
            for p in ps:
                p.stdin.close()
                p.wait()
    print(f"# case {a.case}, {a.threads} thread(s), {a.rounds} rounds, {a.workers} workers per version"
          + (f", pinned to CPU {a.cpu}" if pin else "")
          + (", fresh outputs" if a.fresh or a.case.startswith("quantize") else ", out="))
    for rev, t in zip(a.revs, ms):
        ratio = statistics.median(x / y for x, y in zip(t, ms[0]))
        print(f"{rev:>12s}  min {min(t):8.2f} ms  median {statistics.median(t):8.2f} ms  ratio to first {ratio:.3f}")


if __name__ == "__main__":
    main()
