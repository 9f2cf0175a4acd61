"""What numba-cuda's host side costs on this machine: kernel launches by their arguments,
allocations, small copies and device-array views (the fixed costs of every GPU call).

    python benchmarks/bench_gpu_launch.py [--repeat 300]

Python time per operation (launches are asynchronous: their host cost, not the kernel's),
median of 5 rounds of --repeat operations each.
"""

import argparse
import collections
import statistics
import time

import numpy as np

from nvfp4_np._numba_cuda import cuda  # (NumPy 2.5's row_stack, restored)


@cuda.jit
def one(x):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = 1


@cuda.jit
def ten(x, b, c, d, e, f, g, h, p, q):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = 1


@cuda.jit
def pair(x, t):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = t[0][0]


@cuda.jit
def record(x, r):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = r.f0


Fields = collections.namedtuple("Fields", [f"f{k}" for k in range(17)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=300)
    a = ap.parse_args(argv)

    def per_op(fn, n=a.repeat):
        fn()
        cuda.synchronize()
        rounds = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            rounds.append((time.perf_counter() - t) / n)
            cuda.synchronize()
        return statistics.median(rounds) * 1e6

    x = cuda.device_array(1024, np.uint8)
    arrays = [cuda.device_array(1024, np.uint8) for _ in range(10)]
    consts = Fields(*[np.float32(1.0)] * 17)
    z = np.zeros(3, np.int64)
    small = cuda.to_device(z)
    from nvfp4_np._gpu import _zero  # (a memset; under the simulator, a copy)

    rows = [
        ("launch, one array argument", lambda: one[8, 128](x)),
        ("launch, ten array arguments", lambda: ten[8, 128](*arrays)),
        ("launch, a tuple of two arrays", lambda: pair[8, 128](x, (arrays[0], arrays[1]))),
        ("launch, a namedtuple of 17 float32", lambda: record[8, 128](x, consts)),
        ("device_array, 1 KiB", lambda: cuda.device_array(1 << 10, np.uint8)),
        ("device_array, 4 MiB", lambda: cuda.device_array(1 << 22, np.uint8)),
        ("device_array, 32 MiB", lambda: cuda.device_array(1 << 25, np.uint8)),
        ("to_device, 24 bytes", lambda: cuda.to_device(z)),
        ("copy_to_host, 24 bytes", lambda: small.copy_to_host()),
        ("memset, 24 bytes", lambda: _zero(small)),
        ("slice of a device array", lambda: arrays[0][10:20]),
        ("reshape of a device array", lambda: arrays[0].reshape(32, 32)),
        ("dtype view of a device array", lambda: arrays[0].view(np.uint8)),
    ]
    try:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    except AttributeError:  # the simulator
        name = "CUDA simulator"
    print(f"# {name}; Python time per operation, median of 5 rounds of {a.repeat}")
    for name, fn in rows:
        n = 50 if name.startswith("device_array") or name.startswith("to_device") else a.repeat
        print(f"{name:<40s}{per_op(fn, n):9.1f} us")


if __name__ == "__main__":
    main()
