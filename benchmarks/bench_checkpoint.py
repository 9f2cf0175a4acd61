"""``nvfp4-np quantize`` on a synthetic checkpoint against its own kernel, in one run.

    python benchmarks/bench_checkpoint.py [--tensors 8] [--rows 4096] [--cols 4096]
                                          [--methods optimal] [--threads 1,N]
                                          [--device cpu,cuda] [--keep DIR]

Writes a bfloat16 safetensors checkpoint of --tensors weights (rows x cols). For each
method and each thread count (``NUMBA_NUM_THREADS`` of the child processes), in fresh
processes with the kernels cached:

- **kernel**: ``nvfp4_np.quantize`` (bytes straight from the kernel) on one float32
  weight already in memory, with the command's recipe, best of 3 calls: the rate the
  command could reach;
- **command**: the command line on the checkpoint, timed as the user sees it (the whole
  process: interpreter start, imports, reading, quantizing, writing, fsync) and from
  its report (the run without the interpreter's start);

then the command with ``--device cuda`` when asked. It prints each rate in M elements/s,
the command's share of the kernel's rate, the GPU command against the CPU command at
the most threads, and the peak resident memory of each command (against a run on a
one-tensor checkpoint: memory bounded by the largest tensor gives about equal peaks).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _oracle import write_weights

KERNEL = r"""
import sys, time, numpy as np
from nvfp4_np import quantize
from nvfp4_np.checkpoint.plan import Settings
from nvfp4_np.checkpoint.source import open_checkpoint
path, name, method, device = sys.argv[1:5]
recipe = Settings(method=method, device=device).recipe  # the command's (the format's) recipe
W, _ = open_checkpoint(path).float32(name)
W = np.array(W)
quantize(W[:64], method=method, recipe=recipe, device=device)  # compile or load from the cache
ts = []
for _ in range(3):
    t0 = time.perf_counter(); quantize(W, method=method, recipe=recipe, device=device); ts.append(time.perf_counter() - t0)
print("SECONDS", min(ts))
"""


def _child(args, threads, code=None):
    """(wall seconds, peak RSS MiB, stdout) of one child process."""
    wrap = ("import resource, sys; {body}; "
            "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    if code is None:
        body = "from nvfp4_np.cli import main; rc = main(sys.argv[1:]); assert rc == 0"
    else:
        body = f"exec({code!r})"
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", wrap.format(body=body), *args], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{r.stderr}")
    rss = int(r.stderr.rsplit("MAXRSS", 1)[1].split()[0]) / 1024  # ru_maxrss is KiB on Linux
    return dt, rss, r.stdout


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tensors", type=int, default=8)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--methods", default="optimal")
    ap.add_argument("--threads", default=None, help="thread counts, e.g. 1,16 (default: 1 and all cores)")
    ap.add_argument("--device", default="cpu", help="cpu, or cpu,cuda for the GPU command too")
    ap.add_argument("--keep", help="write the checkpoints here and keep them")
    a = ap.parse_args(argv)
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = [int(t) for t in (a.threads or f"1,{ncpu}").split(",")]
    threads = sorted(set(threads))
    devices = a.device.split(",")
    tmp = a.keep or tempfile.mkdtemp(prefix="nvfp4-bench-")
    os.makedirs(tmp, exist_ok=True)
    try:
        big, one = os.path.join(tmp, "big.safetensors"), os.path.join(tmp, "one.safetensors")
        write_weights(big, a.tensors, a.rows, a.cols)
        write_weights(one, 1, a.rows, a.cols)
        name = "model.layers.0.mlp.up_proj.weight"
        el = a.tensors * a.rows * a.cols
        import numba

        print(f"# checkpoint: {a.tensors} x ({a.rows}, {a.cols}) bfloat16 = {os.path.getsize(big) / 2**20:.0f} MiB; "
              f"{ncpu} cores; numba {numba.__version__}")
        print(f"# command: python benchmarks/bench_checkpoint.py {' '.join(argv if argv is not None else sys.argv[1:])}")
        print(f"{'method':8s} {'device':6s} {'threads':>7s} {'kernel M el/s':>13s} {'command wall s':>14s} "
              f"{'M el/s':>8s} {'in-run M el/s':>13s} {'wall/kernel':>11s} {'in-run/kernel':>13s} "
              f"{'peak MiB':>8s} {'1-tensor MiB':>12s}")
        for m in a.methods.split(","):
            cpu_best = None
            for dev in devices:
                for t in (threads if dev == "cpu" else [threads[-1]]):
                    _, _, out = _child([one, name, m, dev], t, KERNEL)
                    k_rate = a.rows * a.cols / float(out.split("SECONDS")[1].split()[0]) / 1e6
                    args = ["-o", os.path.join(tmp, "out"), "--method", m, "--quiet", "--overwrite", "--device", dev]
                    _child(["quantize", one] + args, t)  # warm: the kernels' cache, the page cache
                    dt, rss, _ = _child(["quantize", big] + args, t)
                    with open(os.path.join(tmp, "out", "nvfp4_report.json")) as f:
                        in_run = json.load(f)["totals"]["seconds"]
                    _, rss1, _ = _child(["quantize", one] + args, t)
                    print(f"{m:8s} {dev:6s} {t:7d} {k_rate:13.1f} {dt:14.2f} {el / dt / 1e6:8.1f} "
                          f"{el / in_run / 1e6:13.1f} {el / dt / 1e6 / k_rate:11.2f} "
                          f"{el / in_run / 1e6 / k_rate:13.2f} {rss:8.0f} {rss1:12.0f}")
                    if dev == "cpu":
                        cpu_best = (dt, in_run)
                    elif cpu_best:
                        print(f"# {m}: the GPU command is {cpu_best[0] / dt:.2f}x the CPU command at {threads[-1]} "
                              f"threads (wall), {cpu_best[1] / in_run:.2f}x in-run")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
