"""The exhaustive checks behind the CPU kernel's MX shortcuts. Not pytest tests (2^32
values each, about 70 s and 40 s on 2 cores; tests/test_mx.py runs every exponent's
edges)::

    python tests/check_mx_exhaustive.py

1. Element codes (nvfp4_np/_mx_simd.py): for every float32 bit pattern but NaN (a block
   holding NaN is never coded) and every MX element format, ``block_codes`` (no
   branches, vector registers) gives the code ``formats.float_code`` (the definition)
   gives.
2. Scale rounding "rceil_cpu" (``mx.e8m0_byte``, which takes the float32 log2 only where
   the mantissa is at most ``mx._RCEIL_CPU_EXACT_ABOVE``): for every non-negative finite
   float32 d, the byte equals the literal rule, ceil(float32(log2(float64 d))) clamped
   to [-127, 127] (d = 0: -127), plus 127.

Last run: "0 of 4278190082 float32 values differ" for each of the 5 formats; "rceil_cpu:
0 of 2139095040 float32 d differ".
"""

import math
import time

import numba
import numpy as np

from nvfp4_np import formats, mx
from nvfp4_np._mx_simd import block_codes, element_constants

CHUNK = 1 << 24


@numba.njit(parallel=True)
def _codes_differ(start, ebits, mbits, bias, largest, k):
    """How many float32 of the CHUNK from bit pattern ``start`` (NaN skipped) differ."""
    bad = np.zeros(CHUNK // 32, np.int64)
    for b in numba.prange(CHUNK // 32):
        v = np.empty(32, np.uint32)
        for i in range(32):
            v[i] = np.uint32(start + 32 * b + i)
        x = v.view(np.float32)
        got = np.empty(32, np.uint8)
        block_codes(x, 0, np.float32(1), k, got, 0)
        for i in range(32):
            if x[i] == x[i] and got[i] != np.uint8(formats.float_code(x[i], ebits, mbits, bias, largest)):
                bad[b] += 1
    return bad.sum()


@numba.njit(parallel=True)
def _rceil_cpu_differ(start, stop):
    """How many float32 d with bits in [start, stop) get another byte than the literal rule
    (largest = 1, so that e8m0_byte's d = amax / largest is d itself)."""
    bad = np.zeros(stop - start, np.int64)
    for i in numba.prange(stop - start):
        d = np.uint32(start + i)
        dv = np.empty(1, np.uint32)
        dv[0] = d
        f = dv.view(np.float32)[0]
        lit = np.int32(-127)
        if f > 0:
            lit = np.int32(math.ceil(np.float32(math.log2(np.float64(f)))))
        lit = min(max(lit, np.int32(-127)), np.int32(127)) + np.int32(127)
        if np.int32(mx.e8m0_byte(f, 4, 0, 0, np.float32(1))) != lit:
            bad[i] = 1
    return bad.sum()


def main():
    assert tuple(mx.SCALE_ROUNDINGS).index("rceil_cpu") == 4
    for name, f in mx.MX_FORMATS.items():
        e = f.element
        args = (e.exponent_bits, e.mantissa_bits, e.bias, np.float32(e.max_finite))
        k = element_constants(*mx.element_args(f))
        t0 = time.time()
        bad = sum(int(_codes_differ(np.uint64(s), *args, k)) for s in range(0, 1 << 32, CHUNK))
        n = (1 << 32) - 2 * ((1 << 23) - 1)  # (the NaN patterns left out)
        print(f"{name}: {bad} of {n} float32 values differ ({time.time() - t0:.0f} s)", flush=True)
    t0 = time.time()
    bad = sum(int(_rceil_cpu_differ(s, min(s + CHUNK, 0x7F800000))) for s in range(0, 0x7F800000, CHUNK))
    print(f"rceil_cpu: {bad} of {0x7F800000} float32 d differ ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
