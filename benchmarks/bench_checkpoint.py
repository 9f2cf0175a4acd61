"""Throughput and peak memory of ``nvfp4-np quantize`` on a synthetic checkpoint.

    python benchmarks/bench_checkpoint.py [--tensors 8] [--rows 4096] [--cols 4096]
                                          [--methods naive,optimal] [--keep DIR]

Writes a bfloat16 safetensors checkpoint of --tensors weights (rows x cols), then runs
the command line on it once per method in a fresh process, and reports wall time,
elements/s and the process's peak resident memory. Memory is compared with a run on a
one-tensor checkpoint of the same tensor shape: if memory is bounded by the largest
tensor (not the checkpoint), the two peaks are about equal whatever --tensors is.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _oracle import write_weights


def _run(args):
    """Wall seconds and peak RSS (MiB) of one child process."""
    code = ("import resource, sys; from nvfp4_np.cli import main; rc = main(sys.argv[1:]); "
            "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{r.stderr}")
    rss = int(r.stderr.rsplit("MAXRSS", 1)[1].split()[0]) / 1024  # ru_maxrss is KiB on Linux
    return dt, rss


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tensors", type=int, default=8)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--methods", default="naive,optimal")
    ap.add_argument("--keep", help="write the checkpoints here and keep them")
    a = ap.parse_args(argv)
    tmp = a.keep or tempfile.mkdtemp(prefix="nvfp4-bench-")
    os.makedirs(tmp, exist_ok=True)
    try:
        big, one = os.path.join(tmp, "big.safetensors"), os.path.join(tmp, "one.safetensors")
        write_weights(big, a.tensors, a.rows, a.cols)
        write_weights(one, 1, a.rows, a.cols)
        el = a.tensors * a.rows * a.cols
        import numba

        print(f"# checkpoint: {a.tensors} x ({a.rows}, {a.cols}) bfloat16 = {os.path.getsize(big) / 2**20:.0f} MiB; "
              f"largest tensor {a.rows * a.cols * 2 / 2**20:.0f} MiB bf16, {a.rows * a.cols * 4 / 2**20:.0f} MiB float32")
        print(f"# numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads; "
              f"command: python benchmarks/bench_checkpoint.py {' '.join(argv or sys.argv[1:])}")
        print(f"{'method':10s} {'wall s':>8s} {'M el/s':>8s} {'peak RSS MiB':>13s} {'1-tensor RSS MiB':>17s}")
        for m in a.methods.split(","):
            _run(["quantize", one, "-o", os.path.join(tmp, "warm"), "--method", m, "--quiet", "--overwrite"])
            dt, rss = _run(["quantize", big, "-o", os.path.join(tmp, "out"), "--method", m, "--quiet", "--overwrite"])
            _, rss1 = _run(["quantize", one, "-o", os.path.join(tmp, "out1"), "--method", m, "--quiet",
                            "--overwrite"])
            print(f"{m:10s} {dt:8.2f} {el / dt / 1e6:8.1f} {rss:13.0f} {rss1:17.0f}")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
