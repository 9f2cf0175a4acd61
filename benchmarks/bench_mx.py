"""MX quantization on the CPU: ``nvfp4_np.quantize(W, 32, fmt=..., method="naive",
scale_rounding=...)`` against torchao 0.18's ``to_mx``, one run.

    python benchmarks/bench_mx.py [--rows 2048] [--cols 4096] [--repeat 11] [--dtype float32]
                                  [--torch-python PATH] [--threads N] [--torch-heap]

W (rows, cols) standard normal, float32 or bfloat16 (what both sides are given). The
figures are medians of --repeat calls after a warm-up (compiled). With
``--torch-python`` (an interpreter with torch 2.13.0 and torchao 0.18.0, the cross-check
venv of CONTRIBUTING.md) ``to_mx(W, element, 32, mode)`` runs in a worker process there,
with torch's threads set to nvfp4_np's (OMP_WAIT_POLICY=PASSIVE: its idle threads sleep
rather than spin into our calls), timed inside the worker; its bytes are compared
with ours (codes and E8M0 bytes; torchao's CPU RCEIL is scale rounding "rceil_cpu").
nvfp4_np and to_mx are called in turn (interleaved, 5 ms apart), so that a shared
machine's load weighs on both alike; "x to_mx" is the ratio of one run's medians.

to_mx's time depends on glibc's allocator: its float32 temporaries (32 MB each for the
default W) are fresh memory mappings, page-faulted in at every call, until glibc's
adaptive threshold grows past their size (which other allocations in the process can
trigger), after which they are reused and to_mx runs 2-3x faster (measured: MXFP8 36-63
ms against 15-22 ms). ``--torch-heap`` sets ``MALLOC_MMAP_THRESHOLD_`` (and
``MALLOC_TRIM_THRESHOLD_``) in the worker so that it is in the fast state from the start:
to_mx at its best, the strict yardstick. (nvfp4_np's outputs, a quarter of W or less,
are reused after the first call either way.)
"""

import argparse
import contextlib
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _oracle import Worker, interleaved_times  # noqa: E402

_TORCHAO = r"""
import json, os, sys, time
import numpy as np, torch
from torchao.prototype.mx_formats.mx_tensor import to_mx, ScaleCalculationMode
torch.set_num_threads(int(sys.argv[2]))
x = torch.from_numpy(np.load(sys.argv[1]))
if sys.argv[4] == "bfloat16":
    x = x.to(torch.bfloat16)
EL = {"mxfp4": torch.float4_e2m1fn_x2, "mxfp6_e2m3": "fp6_e2m3", "mxfp6_e3m2": "fp6_e3m2",
      "mxfp8_e4m3": torch.float8_e4m3fn, "mxfp8_e5m2": torch.float8_e5m2}
MODE = {"floor": "FLOOR", "ceil": "CEIL", "even": "EVEN", "rceil_cpu": "RCEIL"}
print("ready", flush=True)
for line in sys.stdin:  # "fmt mode": one call, its time; the first call's bytes saved
    fmt, mode = line.split()
    t = time.perf_counter()
    s, d = to_mx(x, EL[fmt], 32, getattr(ScaleCalculationMode, MODE[mode]))
    t = time.perf_counter() - t
    path = os.path.join(sys.argv[3], f"{fmt}-{mode}.npy")
    if not os.path.exists(path):
        np.save(path, np.concatenate([d.view(torch.uint8).numpy().ravel(), s.view(torch.uint8).numpy().ravel()]))
    print(json.dumps(t), flush=True)
"""

#: (format, scale rounding) rows: the issue's two formats in OCP's and torchao's CPU
#: rceil modes, then the others in floor.
ROWS = [("mxfp8_e4m3", "floor"), ("mxfp8_e4m3", "rceil_cpu"), ("mxfp4", "floor"), ("mxfp4", "rceil_cpu"),
        ("mxfp8_e4m3", "even"), ("mxfp8_e5m2", "floor"), ("mxfp6_e2m3", "floor"), ("mxfp6_e3m2", "floor")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--torch-python", default=None, help="a Python with torch 2.13.0 and torchao 0.18.0")
    ap.add_argument("--threads", type=int, default=None, help="Numba (and torch) threads; default Numba's")
    ap.add_argument("--torch-heap", action="store_true",
                    help="to_mx's temporaries reused from glibc's heap (MALLOC_MMAP_THRESHOLD_): its best time")
    a = ap.parse_args(argv)

    import ml_dtypes
    import numba

    import nvfp4_np

    if a.threads:
        numba.set_num_threads(a.threads)
    threads = numba.get_num_threads()
    W = np.random.default_rng(0).standard_normal((a.rows, a.cols)).astype(np.float32)
    Wq = W.astype(ml_dtypes.bfloat16) if a.dtype == "bfloat16" else W
    n = W.size
    ours, tao, same = {}, {}, {}
    with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as stack:
        worker = None
        if a.torch_python:
            path = os.path.join(d, "w.npy")
            np.save(path, W)
            # (its idle OpenMP threads sleep rather than spin into our calls)
            env = {"OMP_WAIT_POLICY": "PASSIVE"}
            if a.torch_heap:
                env.update(MALLOC_MMAP_THRESHOLD_=str(1 << 30), MALLOC_TRIM_THRESHOLD_=str(1 << 32))
            worker = stack.enter_context(Worker(a.torch_python, _TORCHAO, [path, threads, d, a.dtype], d, env=env))
        for fmt, mode in ROWS:
            key = f"{fmt}-{mode}"
            ours_fn = lambda: nvfp4_np.quantize(Wq, 32, "naive", fmt=fmt, scale_rounding=mode)  # noqa: E731
            t = ours_fn()
            fns = [ours_fn]
            if worker:
                worker.call(f"{fmt} {mode}")
                fns.append(lambda: worker.call(f"{fmt} {mode}"))
                theirs = np.load(os.path.join(d, f"{key}.npy"))
                mine = np.concatenate([t.codes.ravel(), t.scale_bytes.ravel()])
                same[key] = mine.shape == theirs.shape and np.array_equal(mine, theirs)
            times = interleaved_times(fns, a.repeat, pause=0.005)
            ours[key] = times[0]
            if worker:
                tao[key] = times[1]
    print(f"# W {a.rows}x{a.cols} {a.dtype} ({n:,} elements), {threads} threads; numba {numba.__version__}"
          + ("; to_mx's temporaries on the heap (--torch-heap)" if a.torch_heap else ""))
    print("# command: python benchmarks/bench_mx.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(f"{'format':<12}{'rounding':<11}{'ms':>8}{'M el/s':>9}" + (f"{'to_mx ms':>10}{'x to_mx':>9}  bytes" if tao else ""))
    for key, t in ours.items():
        fmt, mode = key.split("-")
        line = f"{fmt:<12}{mode:<11}{t * 1e3:8.2f}{n / t / 1e6:9.1f}"
        if tao:
            line += f"{tao[key] * 1e3:10.2f}{tao[key] / t:9.1f}  {'identical' if same[key] else 'DIFFER'}"
        print(line)
    return ours, tao


if __name__ == "__main__":
    main()
