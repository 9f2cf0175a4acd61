"""Registers, spills and local memory of the tiled GPU kernels, from ptxas, with no GPU.

    python benchmarks/gpu_kernel_resources.py [--cc 9.0] [--recipes seed,te] [--bs 16]

Compiles each tiled kernel (naive, optimal, the Hessian search's seed mode) to PTX with
numba-cuda, as a launch would, and runs CUDA's ``ptxas -v`` on it for the compute
capability ``--cc``. A kernel at the register limit (255) with spills runs few warps per
SM; these figures move without a GPU, so a change can be sized before a lease.

Needs numba-cuda (with the NVVM and NVRTC libraries it loads) and ``ptxas`` on PATH. With
no GPU, numba-cuda still asks the current device's compute capability when it compiles
a device function; this script answers ``--cc`` (a development tool's patch, never the
package's).
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import types

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cc", default="9.0")
    ap.add_argument("--recipes", default="seed,te")
    ap.add_argument("--bs", type=int, default=16, choices=(16, 32))
    a = ap.parse_args(argv)
    cc = tuple(int(v) for v in a.cc.split("."))
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        raise SystemExit("ptxas is not on PATH (CUDA's compiler tools)")

    import numba
    import numba.cuda.dispatcher as dispatcher

    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)
    from nvfp4_np import core, formats, hessian, recipes
    from nvfp4_np._config import GPU_HESSIAN_SEED, GPU_NAIVE, GPU_OPTIMAL
    from nvfp4_np._gpu_tile import ieee_compile, tiled_kernel
    from nvfp4_np._numba_cuda import cuda
    from nvfp4_np.gpu_hessian import _seed_tile_block
    from nvfp4_np.gpu_naive import naive_tile_block
    from nvfp4_np.gpu_optimal import optimal_tile_block

    bs, rows, ncb = a.bs, 64, 4
    W = np.random.default_rng(0).standard_normal((rows, ncb, bs)).astype(np.float32)
    H = np.stack([np.eye(bs, dtype=np.float32)] * ncb)
    kernels = [("naive", naive_tile_block, GPU_NAIVE, ()), ("optimal", optimal_tile_block, GPU_OPTIMAL, ()),
               ("hessian-seed", _seed_tile_block, GPU_HESSIAN_SEED,
                tuple(np.ascontiguousarray(v) for v in hessian.hessian_operands(W, -1, None, H, "seed")))]
    print(f"# ptxas -v for sm_{cc[0]}{cc[1]}, blocks of {bs}")
    print(f"{'kernel':<14}{'recipe':<8}{'registers':>10}{'stack B':>9}{'spill st B':>11}{'spill ld B':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, block_fn, variant, extra in kernels:
            for recipe in a.recipes.split(","):
                rc = core.tensor_params(recipes.get_recipe(recipe), None, W.reshape(-1, bs), None)
                frozen = rc == recipes.SEED_PARAMS
                k = tiled_kernel(block_fn, bs, **variant, frozen=frozen)
                codes, packed = core.kernel_outputs(rows * ncb, bs)
                args = (rows, ncb, W.view(np.uint32).reshape(-1), 0 if frozen else rc, formats.E4M3_DECODE,
                        codes.reshape(rows, ncb), packed.reshape(rows, ncb, -1), np.zeros(3, np.int64), extra)
                with ieee_compile():
                    ptx, _ = cuda.compile_ptx(k.py_func, tuple(numba.typeof(v) for v in args), cc=cc)
                path = os.path.join(tmp, "k.ptx")
                with open(path, "w") as f:
                    f.write(ptx)
                opts = [] if variant.get("max_registers") is None else [f"-maxrregcount={variant['max_registers']}"]
                out = subprocess.run([ptxas, f"-arch=sm_{cc[0]}{cc[1]}", "-v", *opts, path, "-o", os.devnull],
                                     capture_output=True, text=True, check=True).stderr
                print(f"{name:<14}{recipe:<8}{_field(out, 'registers'):>10}{_field(out, 'bytes stack frame'):>9}"
                      f"{_field(out, 'bytes spill stores'):>11}{_field(out, 'bytes spill loads'):>11}")


def _field(text, after):
    """The integer just before ``after`` in ptxas's report."""
    for line in text.splitlines():
        if after in line:
            head = line.split(after)[0].replace(",", " ").split()
            return head[-1] if head else "?"
    return "?"


if __name__ == "__main__":
    main()
