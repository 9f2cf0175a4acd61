"""Four Over Six on the CPU: nvfp4_np's 4/6 (every rule, 1-D and 2-D scales) against
nvfp4_np's naive NVFP4 and fouroversix 1.0.5's PyTorch reference, one run.

    python benchmarks/bench_four_over_six.py [--rows 2048] [--cols 4096] [--repeat 5]
                                             [--fos-python PATH] [--threads N]

W (rows, cols) float32, standard normal. nvfp4_np's figures are medians of --repeat
calls after a warm-up (compiled); naive is ``nvfp4_naive(..., as_bytes=True)`` on the
same W in blocks of 16, timed alternately with each 4/6 row (paired: the ratio holds on
a shared machine). With ``--fos-python`` (an interpreter with torch and fouroversix,
docs/design/four_over_six.md) fouroversix's ``quantize_to_fp4`` is timed there on the
same W with torch's threads set to nvfp4_np's, and its bytes compared with ours (packed
codes, swizzled scales, amax).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _oracle import median_time, paired_times  # noqa: E402

_FOS = r"""
import json, statistics, sys, time
import numpy as np, torch
from fouroversix.quantize.pytorch.reference import quantize_to_fp4
from fouroversix.utils import ScaleRule
torch.set_num_threads(int(sys.argv[2]))
x = torch.from_numpy(np.load(sys.argv[1]))
repeat, out = int(sys.argv[3]), {}
for rule in sys.argv[4].split(","):
    for two_d in (False, True):
        fn = lambda: quantize_to_fp4(x, scale_rule=ScaleRule(rule), block_scale_2d=two_d)
        q, s, a = fn()
        ts = []
        for _ in range(repeat):
            t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        np.save(f"{sys.argv[5]}/{rule}-{int(two_d)}.npy", np.concatenate([q.numpy().ravel(), s.view(torch.uint8).numpy().ravel(), np.frombuffer(a.float().numpy().tobytes(), np.uint8)]))
        out[f"{rule}-{int(two_d)}"] = statistics.median(ts)
print(json.dumps(out))
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
    ours, naive_t = {}, {}
    for rule in RULES:
        for two_d in (False, True):
            key = f"{rule}-{int(two_d)}"
            nvfp4_four_over_six(W, rule, block_2d=two_d)
            # naive and 4/6 timed alternately (paired): their ratio holds on a shared machine
            naive_t[key], ours[key] = paired_times(naive, lambda: nvfp4_four_over_six(W, rule, block_2d=two_d),
                                                   a.repeat)
    t_naive = statistics.median(naive_t.values())
    fos = {}
    with tempfile.TemporaryDirectory() as d:
        if a.fos_python:
            path = os.path.join(d, "w.npy")
            np.save(path, W)
            res = subprocess.run([a.fos_python, "-c", _FOS, path, str(threads), str(a.repeat),
                                  ",".join(RULES), d], check=True, capture_output=True, text=True)
            fos = json.loads(res.stdout.strip().splitlines()[-1])
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
