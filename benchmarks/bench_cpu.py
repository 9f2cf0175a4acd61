"""CPU throughput of nvfp4_np's naive and optimal kernels, and the seed's in the same run.

    python benchmarks/bench_cpu.py [--oracle-python PY] [--rows 2048] [--cols 4096]
                                   [--repeat 5] [--seed-repeat 3] [--no-cold]

Reports M elements/s (median over --repeat calls after a warm-up) for ``nvfp4_naive`` and
``nvfp4_optimal`` on W (rows, cols) float32 in blocks of 16, as the public API is called
(fresh output arrays each call) and with ``out=`` buffers reused across calls. With
``--oracle-python`` (a Python with torch, e.g. made by ../shared/tools/setup_oracle.sh)
the seed's functions are timed on the same W in the same run, with 2 torch threads, and
the ratio is printed. Cold start: ``import nvfp4_np``
time and the first call of each method in a fresh process, with an empty Numba cache
and again with the cache that run left behind.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _oracle import DEFAULT_SEED_DIR, run_in_oracle

SEED_BODY = r"""
W, = arrays
out = {}
for name in ("naive", "optimal"):
    fn = getattr(seed, "nvfp4_" + name)
    fn(W[:64])
    out[name] = timed(lambda: fn(W), int(REPEAT))
print(json.dumps(out))
"""

COLD = r"""
import time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import nvfp4_np
t2 = time.perf_counter()
W = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
nvfp4_np.nvfp4_naive(W)
t3 = time.perf_counter()
nvfp4_np.nvfp4_optimal(W)
t4 = time.perf_counter()
print(t2 - t1, t3 - t2, t4 - t3)
"""


def time_ours(W, repeat):
    """Median-ready timings per method: fresh outputs each call, and into reused buffers."""
    import nvfp4_np

    res = {}
    for name in ("naive", "optimal"):
        fn = getattr(nvfp4_np, "nvfp4_" + name)
        fn(W[:64])  # compile or load from cache
        bufs = fn(W)
        for label, kw in (("", {}), (" out=", {"out": bufs})):
            ts = []
            for _ in range(repeat):
                t = time.perf_counter()
                fn(W, **kw)
                ts.append(time.perf_counter() - t)
            res[name + label] = ts
    return res


def time_seed(W, oracle, seed_dir, repeat, threads):
    return run_in_oracle(oracle, seed_dir, threads, SEED_BODY.replace("REPEAT", str(repeat)), W)


def cold_start():
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("empty Numba cache", "warm Numba cache"):
            res = subprocess.run([sys.executable, "-c", COLD], env=env, check=True,
                                 capture_output=True, text=True)
            rows.append((label, *map(float, res.stdout.split())))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle-python", default=os.environ.get("NVFP4_ORACLE_PYTHON"))
    ap.add_argument("--seed-dir", default=DEFAULT_SEED_DIR, help="folder with seed_reference.py")
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed-repeat", type=int, default=3)
    ap.add_argument("--seed-threads", type=int, default=2)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start measurements")
    a = ap.parse_args(argv)

    import numba

    rng = np.random.default_rng(0)
    W = (0.05 * rng.standard_normal((a.rows, a.cols // 16, 16))).astype(np.float32)
    n = W.size
    print(f"# W {a.rows}x{a.cols} float32, blocks of 16 ({n:,} elements); "
          f"numba {numba.__version__}, {numba.get_num_threads()} threads")
    print("# command: python benchmarks/bench_cpu.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    ours = time_ours(W, a.repeat)
    seed = time_seed(W, a.oracle_python, a.seed_dir, a.seed_repeat, a.seed_threads) if a.oracle_python else None

    print(f"{'method':14s} {'nvfp4_np s':>11s} {'M el/s':>9s} {'seed s':>9s} {'M el/s':>9s} {'ratio':>8s}")
    for name, t_list in ours.items():
        t = statistics.median(t_list)
        line = f"{name:14s} {t:11.4f} {n / t / 1e6:9.1f}"
        if seed:
            ts = statistics.median(seed[name.split()[0]])
            line += f" {ts:9.3f} {n / ts / 1e6:9.2f} {ts / t:7.1f}x"
        print(line)
    print("(out=: the same call writing into reused output buffers, no allocation or page faults)")
    if not seed:
        print("(pass --oracle-python to time the seed in the same run)")

    if not a.no_cold:
        print("\ncold start (fresh process)     import s  first naive s  first optimal s")
        for label, t_imp, t_naive, t_opt in cold_start():
            print(f"{label:30s} {t_imp:8.3f} {t_naive:14.3f} {t_opt:16.3f}")


if __name__ == "__main__":
    main()
