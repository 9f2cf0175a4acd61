"""Where the GPU Hessian methods' time goes: the whole call, the host's share (the check of
H_blocks and the operands: d, mu; ADMM's operators) and the kernel alone.

    python benchmarks/bench_gpu_parts.py [--rows 8192] [--cols 8192] [--tokens 8192] [--repeat 5]

W (rows, cols) on the device in blocks of 16, H_blocks from X (tokens, cols), seed recipe.
Whole calls and kernels are timed with CUDA events, host parts with a wall clock; medians.
"""

import argparse
import statistics
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--cols", type=int, default=8192)
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)

    from numba import cuda

    import nvfp4_np
    from nvfp4_np import _gpu_group, admm, core, formats, gpu, gpu_hessian, hessian, recipes
    from nvfp4_np._config import GPU_HESSIAN_SEED

    rng = np.random.default_rng(0)
    ncb = a.cols // 16
    W = (0.05 * rng.standard_normal((a.rows, ncb, 16))).astype(np.float32)
    H = nvfp4_np.block_hessians(rng.standard_normal((a.tokens, a.cols)).astype(np.float32), 16)
    dW = cuda.to_device(W)

    def events(fn):
        fn()
        ts = []
        for _ in range(a.repeat):
            start, stop = cuda.event(), cuda.event()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            ts.append(start.elapsed_time(stop))
        return max(statistics.median(ts), 1e-9)  # (the simulator times everything as 0)

    def wall(fn):
        fn()
        ts = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(ts)

    n = a.rows * ncb
    rc = core.tensor_params(recipes.get_recipe("seed"), None, None, None)
    dec = cuda.to_device(formats.E4M3_DECODE)
    out = core.kernel_outputs(n, 16, cuda.device_array)
    counts = cuda.to_device(np.zeros(3, np.int64))  # (the status counts the kernels add to)
    try:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    except AttributeError:  # the simulator
        name = "CUDA simulator"
    print(f"# {name}; W {a.rows}x{a.cols} on the device, H_blocks from X {a.tokens}x{a.cols}, blocks of 16, "
          f"seed recipe; medians of {a.repeat}")
    print(f"{'method':<16}{'whole ms':>10}{'G el/s':>9}{'host ms':>9}{'check ms':>10}{'kernel ms':>11}")
    check = wall(lambda: core.check_hessian_blocks(H, ncb, 16))
    for mode in ("seed", "exact"):
        whole = events(lambda: gpu.nvfp4_optimal_hessian(dW, H_blocks=H, mode=mode, as_bytes=True))
        host = wall(lambda: hessian.hessian_operands(W, -1, None, H, mode))
        extra = tuple(cuda.to_device(np.ascontiguousarray(x)) for x in hessian.hessian_operands(W, -1, None, H, mode))
        if mode == "seed":
            from nvfp4_np._gpu_tile import launch_tiles

            kernel = events(lambda: launch_tiles(gpu_hessian._seed_tile_block, dW.reshape(n, 16), ncb, rc, dec, out,
                                                 counts, extra, (), **GPU_HESSIAN_SEED))
        else:
            kernel = events(lambda: _gpu_group.launch_groups(gpu_hessian._exact_kernel, dW.reshape(n, 16), ncb, rc,
                                                             dec, out, counts, extra, ()))
        print(f"{'hessian-' + mode:<16}{whole:>10.2f}{W.size / whole / 1e6:>9.2f}{host:>9.2f}{check:>10.2f}"
              f"{kernel:>11.2f}")
    for mode in ("seed", "best"):
        whole = events(lambda: gpu.nvfp4_admm(dW, H_blocks=H, mode=mode, as_bytes=True))
        host = wall(lambda: admm.admm_operands(W, -1, None, H, mode, 3, 10, False))
        print(f"{'admm-' + mode:<16}{whole:>10.2f}{W.size / whole / 1e6:>9.2f}{host:>9.2f}{'':>10}{'':>11}")
    print("# host: hessian.hessian_operands / admm.admm_operands (the check of H_blocks included); "
          "check: core.check_hessian_blocks alone")


if __name__ == "__main__":
    main()
