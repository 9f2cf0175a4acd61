"""``nvfp4_np.quantize`` (the kernels write the bytes) against ``nvfp4_optimal`` (float32
outputs, decoded from those bytes) and against those float outputs encoded to bytes by
nvfp4_np.encoding (the route quantize took before its kernels wrote bytes; for the
before/after of quantize itself: ``bench_ab.py OLD NEW --case quantize``), in one run,
with the peak memory of each.

    python benchmarks/bench_quantize.py [--rows 2048] [--cols 4096] [--rounds 15]
                                        [--recipes seed,compressed-tensors]

Time: the three calls take turns (in rotating order) for ``--rounds`` rounds on W (rows,
cols) float32 standard normal, blocks of 16, method "optimal"; reported as the median
milliseconds and the median of each round's ratio to ``nvfp4_optimal``. Memory: each call
once in a fresh process after a warm-up call on a small W (so compiling is not counted),
as the growth of the peak resident set (Linux VmHWM, reset through /proc/self/clear_refs)
over the resident set with W alone, next to the size of the outputs the call returns.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CALLS = {
    "quantize": "lambda W, r: nvfp4_np.quantize(W, 16, 'optimal', recipe=r)",
    "nvfp4_optimal": "lambda W, r: nvfp4_np.nvfp4_optimal(W.reshape(W.shape[0], -1, 16), recipe=r)",
    "floats + encode": ("lambda W, r: (lambda o: (encoding.e4m3_bytes(o[0]), "
                         "encoding.pack_fp4(encoding.fp4_codes(o[1].reshape(W.shape)))))"
                         "(nvfp4_np.nvfp4_optimal(W.reshape(W.shape[0], -1, 16), recipe=r))"),
}

MEMORY = r"""
import gc, json, sys, numpy as np, nvfp4_np
from nvfp4_np import encoding
name, expr, recipe, rows, cols = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
fn = eval(expr)
fn(np.ones((4, cols), np.float32), recipe)  # compile or load from the cache
W = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
gc.collect()

def kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

open("/proc/self/clear_refs", "w").write("5")  # reset VmHWM to the current RSS
before = kb("VmRSS")
out = fn(W, recipe)
peak = kb("VmHWM")
arrays = out.to_dict() if hasattr(out, "to_dict") else {str(i): a for i, a in enumerate(out)}
nbytes = sum(np.asarray(a).nbytes for a in arrays.values())
print(json.dumps({"growth_mb": (peak - before) / 1024, "outputs_mb": nbytes / 2**20, "w_mb": W.nbytes / 2**20}))
"""


def memory(name, recipe, rows, cols):
    res = subprocess.run([sys.executable, "-c", MEMORY, name, CALLS[name], recipe, str(rows), str(cols)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--recipes", default="seed,compressed-tensors")
    args = ap.parse_args(argv)
    import nvfp4_np
    from nvfp4_np import encoding

    ns = {"nvfp4_np": nvfp4_np, "encoding": encoding}
    fns = {name: eval(expr, ns) for name, expr in CALLS.items()}
    W = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    print(f"W {args.rows}x{args.cols} float32 ({W.nbytes / 2**20:.0f} MiB), blocks of 16, method optimal, "
          f"{nvfp4_np.__version__}, numba threads {__import__('numba').get_num_threads()}")
    for recipe in args.recipes.split(","):
        for fn in fns.values():
            fn(W[:64], recipe)  # compile or load from the cache
        ms = {name: [] for name in fns}
        ratios = {name: [] for name in fns}
        names = list(fns)
        for k in range(args.rounds):
            t = {}
            for name in names[k % 3:] + names[:k % 3]:
                t0 = time.perf_counter()
                fns[name](W, recipe)
                t[name] = (time.perf_counter() - t0) * 1e3
            for name in fns:
                ms[name].append(t[name])
                ratios[name].append(t[name] / t["nvfp4_optimal"])
        print(f"\nrecipe {recipe}")
        print(f"  {'call':<18}{'median ms':>10}{'x optimal':>11}{'peak growth MiB':>17}{'outputs MiB':>13}")
        for name in fns:
            m = memory(name, recipe, args.rows, args.cols)
            print(f"  {name:<18}{statistics.median(ms[name]):>10.1f}{statistics.median(ratios[name]):>11.2f}"
                  f"{m['growth_mb']:>17.1f}{m['outputs_mb']:>13.1f}")


if __name__ == "__main__":
    main()
