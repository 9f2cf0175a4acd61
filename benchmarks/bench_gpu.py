"""GPU throughput of every method, with the CPU path's figure on the same machine in the
same run, and the naive kernel's fraction of HBM bandwidth.

    python benchmarks/bench_gpu.py [--rows 8192] [--cols 8192] [--tokens 8192] [--repeat 5]
                                   [--hbm-tbs TB/s] [--cpu-repeat 1] [--no-cpu]

The HBM peak is looked up from the GPU's name (HBM_PEAK_TBS; ``--hbm-tbs`` overrides it,
and without either the fraction is not printed). Where torch with CUDA is importable and
``--seed-dir`` holds the seed's seed_reference.py, the seed's functions are timed on the
same GPU, W and X in the same run (``--no-seed`` skips them).

W (rows, cols) float32 in blocks of 16; X (tokens, cols) for the Hessian methods, whose
block Hessians are computed once on the host and passed to both paths. GPU figures time
the call on a device-resident W with CUDA events (kernel, output allocation and the status
read-back; no host<->device copy of W or of the results), median of --repeat; the copies
are timed apart. The kernel-alone lines time 10 back-to-back launches. Every GPU result is checked bit for bit against the CPU path.
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
from _oracle import DEFAULT_SEED_DIR

#: The seed's function for each method row (the seed has one Hessian search and one ADMM,
#: and no te recipe).
SEED_FUNCTIONS = {"naive": "nvfp4_naive", "optimal": "nvfp4_optimal", "hessian-seed": "nvfp4_optimal_hessian",
                  "hessian-exact": "nvfp4_optimal_hessian", "admm-seed": "nvfp4_admm", "admm-best": "nvfp4_admm"}


#: Peak HBM bandwidth (TB/s, the vendor's figure) by a substring of the device name; the
#: first match wins, so the more specific names come first.
HBM_PEAK_TBS = (("GH200", 4.0), ("H200", 4.8), ("H100 NVL", 3.9), ("H100 PCIe", 2.0), ("H100", 3.35),
                ("B200", 8.0), ("A100-SXM4-80GB", 2.039), ("A100 80GB PCIe", 1.935), ("A100", 1.555))


def hbm_peak_tbs(name):
    """The HBM peak of the GPU called ``name`` (TB/s), or None if it is not in the table."""
    return next((tbs for key, tbs in HBM_PEAK_TBS if key in name), None)


def _events_time(cuda, fn, repeat):
    ts = []
    for _ in range(repeat):
        start, stop = cuda.event(), cuda.event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        ts.append(start.elapsed_time(stop) / 1e3)
    return max(statistics.median(ts), 1e-9)  # (the simulator times everything as 0)


def _kernel_only(cuda, block_fn, variant, d_x, recipe, repeat, launches=10):
    """Median time of the kernel alone (outputs preallocated, no status check): events
    around ``launches`` back-to-back launches, so that the host's launch overhead (numba
    marshals a dozen arguments per launch) overlaps the previous kernel instead of being
    counted."""
    from nvfp4_np import _gpu, _gpu_tile, core, formats, recipes

    n, bs = d_x.shape
    rc = recipes.params(recipe, None, np.float32(_gpu.device_amax(d_x)))
    out = core.kernel_outputs(n, bs, cuda.device_array)  # scale bytes and packed codes
    counts = cuda.to_device(np.zeros(3, np.int64))  # (the status counts the kernel adds to)
    dec = cuda.to_device(formats.E4M3_DECODE)

    def run():
        for _ in range(launches):
            _gpu_tile.launch_tiles(block_fn, d_x, 1, rc, dec, out, counts, **variant)

    return _events_time(cuda, run, repeat) / launches


def _seed_section(a, W, X, H, methods, gpu_ms, n, say=print):
    """The seed's torch functions on this GPU, same W (and X, H), median of --repeat
    (synchronised wall time), next to nvfp4_np's whole call on a device-resident W; each
    line of the report goes to ``say``."""
    import os

    try:
        import torch
    except ImportError:
        say("# seed: torch is not importable here (--no-seed to skip)")
        return
    if not torch.cuda.is_available() or not os.path.isfile(os.path.join(a.seed_dir, "seed_reference.py")):
        say(f"# seed: needs torch with CUDA and {a.seed_dir}/seed_reference.py (--seed-dir)")
        return
    sys.path.insert(0, a.seed_dir)
    import seed_reference as seed

    dev = torch.device("cuda")
    Wt = torch.from_numpy(W).to(dev)
    extra = {}
    if H is not None:
        extra = {"hessian": {"H_blocks": torch.from_numpy(H.astype(np.float32)).to(dev)},
                 "admm": {"X": torch.from_numpy(X).to(dev)}}
    say(f"# the seed's torch functions on this GPU (torch {torch.__version__}), median of {a.repeat}")
    say(f"{'method':14s} {'seed ms':>9s} {'seed Gel/s':>11s} {'nvfp4_np ms':>12s} {'x seed':>7s}")
    for m in methods:
        name = SEED_FUNCTIONS.get(m)
        if name is None:
            continue
        fn, kw = getattr(seed, name), extra.get(m.split("-")[0], {})
        try:
            fn(Wt[:64], **kw)  # warm up
            ts = []
            for _ in range(a.repeat):
                torch.cuda.synchronize()
                t = time.perf_counter()
                fn(Wt, **kw)
                torch.cuda.synchronize()
                ts.append(time.perf_counter() - t)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:  # e.g. out of memory
            say(f"{m:14s} failed: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
            torch.cuda.empty_cache()
            continue
        t = statistics.median(ts)
        ours = gpu_ms.get(m)
        say(f"{m:14s} {t * 1e3:9.2f} {n / t / 1e9:11.3f} {ours:12.2f} {t * 1e3 / ours:7.1f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--cols", type=int, default=8192)
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cpu-repeat", type=int, default=1)
    ap.add_argument("--hbm-tbs", type=float, default=None,
                    help="peak HBM bandwidth in TB/s (default: looked up from the GPU's name)")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU figures and the bit check")
    ap.add_argument("--seed-dir", default=DEFAULT_SEED_DIR, help="folder with the seed's seed_reference.py")
    ap.add_argument("--no-seed", action="store_true", help="skip timing the seed's torch functions")
    ap.add_argument("--methods", default="naive,optimal,optimal-te,hessian-seed,hessian-exact,admm-seed,admm-best")
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)

    import numba
    from numba import cuda

    import nvfp4_np
    from nvfp4_np import core, gpu

    bs = 16
    rng = np.random.default_rng(0)
    W = (0.05 * rng.standard_normal((a.rows, a.cols // bs, bs))).astype(np.float32)
    n = W.size
    try:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    except AttributeError:  # the simulator
        name = "CUDA simulator"
    hbm = a.hbm_tbs or hbm_peak_tbs(name)
    print(f"# GPU {name}; W {a.rows}x{a.cols} float32, "
          f"blocks of {bs}; X {a.tokens}x{a.cols}; numba {numba.__version__}, CPU {numba.get_num_threads()} threads")
    print("# command: python benchmarks/bench_gpu.py " + " ".join(argv if argv is not None else sys.argv[1:]))

    t0 = time.perf_counter()
    d_W = cuda.to_device(W)
    cuda.synchronize()
    h2d = _events_time(cuda, lambda: cuda.to_device(W), 3)
    H = None
    methods = a.methods.split(",")
    if any(m.startswith(("hessian", "admm")) for m in methods):
        X = (rng.standard_normal((a.tokens, a.cols)).astype(np.float32)
             * (10.0 ** rng.uniform(0, 1, a.cols)).astype(np.float32))
        H = nvfp4_np.block_hessians(X, bs, accumulate=np.float64)
    print(f"# setup {time.perf_counter() - t0:.1f} s; host->device copy of W: {h2d * 1e3:.2f} ms "
          f"({W.nbytes / h2d / 1e9:.1f} GB/s)")

    calls = {
        "naive": (gpu.nvfp4_naive, nvfp4_np.nvfp4_naive, {}),
        "optimal": (gpu.nvfp4_optimal, nvfp4_np.nvfp4_optimal, {}),
        "optimal-te": (gpu.nvfp4_optimal, nvfp4_np.nvfp4_optimal, {"recipe": "te"}),
        "hessian-seed": (gpu.nvfp4_optimal_hessian, nvfp4_np.nvfp4_optimal_hessian, {"H_blocks": H}),
        "hessian-exact": (gpu.nvfp4_optimal_hessian, nvfp4_np.nvfp4_optimal_hessian, {"H_blocks": H, "mode": "exact"}),
        "admm-seed": (gpu.nvfp4_admm, nvfp4_np.nvfp4_admm, {"H_blocks": H}),
        "admm-best": (gpu.nvfp4_admm, nvfp4_np.nvfp4_admm, {"H_blocks": H, "mode": "best"}),
    }
    kernel_lines = []
    gpu_ms = {}
    print(f"{'method':14s} {'GPU ms':>9s} {'GPU Gel/s':>10s} {'bytes ms':>9s} {'CPU ms':>9s} {'CPU Gel/s':>10s} "
          f"{'GPU/CPU':>8s}  bits")
    # Every GPU figure first, then the CPU runs: timed after the CPU path's parallel
    # kernels had run, the GPU calls (whose host part is LAPACK and NumPy work) took
    # 7-11 ms longer (H200 machine, 2026-12-02: hessian-exact 26.4 ms here against
    # 19-20 ms in a process that ran no CPU kernel).
    results, lines = {}, {}
    for m in methods:
        g_fn, c_fn, kw = calls[m]
        out = g_fn(d_W, **kw)  # compile and warm up
        out_bytes = g_fn(d_W, as_bytes=True, **kw)
        cuda.synchronize()
        t_gpu = _events_time(cuda, lambda: g_fn(d_W, **kw), a.repeat)
        t_bytes = _events_time(cuda, lambda: g_fn(d_W, as_bytes=True, **kw), a.repeat)
        lines[m] = f"{m:14s} {t_gpu * 1e3:9.2f} {n / t_gpu / 1e9:10.2f} {t_bytes * 1e3:9.2f}"
        gpu_ms[m] = t_gpu * 1e3
        results[m] = tuple(core.host_array(g) for g in tuple(out) + tuple(out_bytes))
        del out, out_bytes
        if m in ("naive", "optimal"):
            from nvfp4_np import _config, gpu_naive, gpu_optimal

            fn, variant = ((gpu_naive.naive_tile_block, _config.GPU_NAIVE) if m == "naive" else
                           (gpu_optimal.optimal_tile_block, _config.GPU_OPTIMAL))
            t_k = _kernel_only(cuda, fn, variant, d_W.reshape(-1, bs), "seed", a.repeat)
            kernel_lines.append(f"# {m} kernel alone: {t_k * 1e3:.2f} ms = {n / t_k / 1e9:.2f} G elements/s")
            if m == "naive":
                # bytes the naive kernel moves: W read (4/el), packed codes written
                # (1/2 per el), scale bytes and status (1/block each) written
                moved = n * 4 + n // 2 + (n // bs) * 2
                naive_t = t_k
    seed_lines = []  # (printed after the CPU figures, timed before them)
    if not a.no_seed:
        _seed_section(a, W, X if H is not None else None, H, methods, gpu_ms, n, say=seed_lines.append)
    for m in methods:
        g_fn, c_fn, kw = calls[m]
        if a.no_cpu:
            print(lines[m])
            continue
        c_fn(W[:64], **kw)
        ts = []
        for _ in range(a.cpu_repeat):
            t = time.perf_counter()
            ref = c_fn(W, **kw)
            ts.append(time.perf_counter() - t)
        t_cpu = statistics.median(ts)
        ref_bytes = c_fn(W, as_bytes=True, **kw)
        same = all(np.array_equal(np.atleast_1d(g).view(np.uint8), np.atleast_1d(np.asarray(c)).view(np.uint8))
                   for g, c in zip(results[m], tuple(ref) + tuple(ref_bytes)))
        t_gpu = gpu_ms[m] / 1e3
        print(f"{lines[m]} {t_cpu * 1e3:9.1f} {n / t_cpu / 1e9:10.3f} {t_cpu / t_gpu:8.1f}  "
              f"{'identical' if same else 'DIFFER'}")
    print("\n".join(kernel_lines))
    if "naive" in methods:
        share = (f" = {100 * moved / naive_t / (hbm * 1e12):.0f}% of {hbm} TB/s HBM" if hbm else
                 " (HBM peak unknown for this GPU: --hbm-tbs)")
        print(f"# naive kernel: {moved / naive_t / 1e12:.2f} TB/s{share} (bytes read + written / time)")
        q = gpu.nvfp4_naive(d_W)[1]
        d2h = _events_time(cuda, lambda: q.copy_to_host(), 3)
        print(f"# device->host copy of the float32 quants: {d2h * 1e3:.2f} ms ({W.nbytes / d2h / 1e9:.1f} GB/s)")
        p = gpu.nvfp4_naive(d_W, as_bytes=True)[1]
        d2h = _events_time(cuda, lambda: p.copy_to_host(), 3)
        print(f"# device->host copy of the packed codes: {d2h * 1e3:.2f} ms ({n / 2 / d2h / 1e9:.1f} GB/s)")
    if seed_lines:
        print("\n".join(seed_lines))
    W2 = W.reshape(a.rows, a.cols)
    for m in ("naive", "optimal"):  # what a user runs: host W in, NVFP4Tensor out
        ts = {}
        for dev in ("cuda", "cpu"):
            nvfp4_np.quantize(W2[:64], 16, m, device=dev)
            t = time.perf_counter()
            ts[dev] = (nvfp4_np.quantize(W2, 16, m, device=dev), time.perf_counter() - t)
        same = all(np.array_equal(getattr(ts["cuda"][0], k), getattr(ts["cpu"][0], k)) for k in ("codes", "scale_bytes"))
        print(f"# quantize(W, method={m!r}) from host memory: device='cuda' {ts['cuda'][1] * 1e3:.1f} ms, "
              f"'cpu' {ts['cpu'][1] * 1e3:.1f} ms, bytes {'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
