"""Four Over Six on the CPU: nvfp4_np's 4/6 (every rule, 1-D and 2-D scales) against
nvfp4_np's naive NVFP4 and fouroversix 1.0.5's PyTorch reference, one run.

    python benchmarks/bench_four_over_six.py [--rows 2048] [--cols 4096] [--repeat 5]
                                             [--fos-python PATH] [--threads N]

W (rows, cols) float32, standard normal. The figures are medians of --repeat calls
after a warm-up (compiled); naive is ``nvfp4_naive(..., as_bytes=True)`` on the same W
in blocks of 16. With ``--fos-python`` (an interpreter with torch and fouroversix,
docs/design/four_over_six.md) fouroversix's ``quantize_to_fp4`` runs in a worker process
there, on the same W with torch's threads set to nvfp4_np's, timed inside the worker;
its bytes are compared with ours (packed codes, swizzled scales, amax). For each row,
naive, nvfp4_np's 4/6 and fouroversix's are called in turn (interleaved, 5 ms apart so
that one's OpenMP threads do not spin into the next's time): a shared machine's load
weighs on all three alike, and "x naive" and "x fos" are ratios of one run's medians.
"""

import argparse
import contextlib
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _oracle import Worker, interleaved_times  # noqa: E402

_FOS = r"""
import json, os, sys, time
import numpy as np, torch
from fouroversix.quantize.pytorch.reference import quantize_to_fp4
from fouroversix.utils import ScaleRule
torch.set_num_threads(int(sys.argv[2]))
x = torch.from_numpy(np.load(sys.argv[1]))
print("ready", flush=True)
for line in sys.stdin:  # "rule two_d": one call, its time; the first call's bytes saved
    rule, two_d = line.split()
    t = time.perf_counter()
    q, s, a = quantize_to_fp4(x, scale_rule=ScaleRule(rule), block_scale_2d=two_d == "1")
    t = time.perf_counter() - t
    path = os.path.join(sys.argv[3], f"{rule}-{two_d}.npy")
    if not os.path.exists(path):
        np.save(path, np.concatenate([q.numpy().ravel(), s.view(torch.uint8).numpy().ravel(),
                                      np.frombuffer(a.float().numpy().tobytes(), np.uint8)]))
    print(json.dumps(t), flush=True)
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--fos-python", default=None, help="a Python with torch and fouroversix 1.0.5")
    ap.add_argument("--threads", type=int, default=None, help="Numba (and torch) threads; default Numba's")
    a = ap.parse_args(argv)

    import numba

    import nvfp4_np
    from nvfp4_np.four_over_six import RULES, nvfp4_four_over_six

    if a.threads:
        numba.set_num_threads(a.threads)
    threads = numba.get_num_threads()
    W = np.random.default_rng(0).standard_normal((a.rows, a.cols)).astype(np.float32)
    n = W.size
    blocks = W.reshape(a.rows, a.cols // 16, 16)
    def naive():
        return nvfp4_np.nvfp4_naive(blocks, as_bytes=True)

    naive()
    ours, naive_t, fos = {}, {}, {}
    with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as stack:
        worker = None
        if a.fos_python:
            path = os.path.join(d, "w.npy")
            np.save(path, W)
            worker = stack.enter_context(Worker(a.fos_python, _FOS, [path, threads, d], d))
        for rule in RULES:
            for two_d in (False, True):
                key = f"{rule}-{int(two_d)}"
                ours_fn = lambda: nvfp4_four_over_six(W, rule, block_2d=two_d)  # noqa: E731
                fns = [naive, ours_fn]
                ours_fn()
                if worker:
                    worker.call(key.replace("-", " "))
                    fns.append(lambda: worker.call(key.replace("-", " ")))
                times = interleaved_times(fns, a.repeat, pause=0.005)
                naive_t[key], ours[key] = times[:2]
                if worker:
                    fos[key] = times[2]
        t_naive = statistics.median(naive_t.values())
        print(f"# W {a.rows}x{a.cols} float32 ({n:,} elements), {threads} threads; numba {numba.__version__}")
        print("# command: python benchmarks/bench_four_over_six.py " + " ".join(argv if argv is not None else sys.argv[1:]))
        print(f"# nvfp4_np naive (blocks of 16, as_bytes): {t_naive * 1e3:.2f} ms = {n / t_naive / 1e6:.1f} M el/s "
              f"(median over the rows; 'x naive' is each row's own paired naive time over its time)")
        head = f"{'rule':<10}{'scales':<8}{'ms':>9}{'M el/s':>9}{'x naive':>9}"
        print(head + (f"{'fos ms':>10}{'x fos':>8}  bytes" if fos else ""))
        for key, t in ours.items():
            rule, two_d = key.rsplit("-", 1)
            line = f"{rule:<10}{'16x16' if two_d == '1' else '1x16':<8}{t * 1e3:9.2f}{n / t / 1e6:9.1f}{naive_t[key] / t:9.2f}"
            if fos:
                s, p, amax = nvfp4_four_over_six(W, rule, block_2d=two_d == "1")
                mine = np.concatenate([p.ravel(), nvfp4_np.swizzle_scales(s).ravel(),
                                       np.frombuffer(amax.tobytes(), np.uint8)])
                theirs = np.load(os.path.join(d, f"{key}.npy"))
                same = mine.shape == theirs.shape and np.array_equal(mine, theirs)
                line += f"{fos[key] * 1e3:10.1f}{fos[key] / t:8.1f}  {'identical' if same else 'DIFFER'}"
            print(line)
    return ours, fos


if __name__ == "__main__":
    main()
