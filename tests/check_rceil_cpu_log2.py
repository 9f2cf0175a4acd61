"""The exhaustive check behind scale rounding "rceil_cpu" (nvfp4_np/mx.py::e8m0_byte):
for every positive finite float32 d, ceil(torch.log2(d)) (torchao 0.18's CPU RCEIL) equals
the ceiling of log2(d) computed in float64 and rounded to float32. Not a pytest test (it
needs torch and takes about 80 s on one thread); run it in the cross-check venv::

    ~/.cache/nvfp4-xcheck/bin/python tests/check_rceil_cpu_log2.py

Last run (torch 2.13.0 CPU): "ceil differs for 0 of 2139095039 float32 values".
"""

import time

import numpy as np
import torch

torch.set_num_threads(1)
t0 = time.time()
bad = 0
step = 1 << 25
for start in range(1, 0x7F800000, step):
    d = np.arange(start, min(start + step, 0x7F800000), dtype=np.uint32).view(np.float32)
    theirs = np.ceil(torch.log2(torch.from_numpy(d)).numpy())
    ours = np.ceil(np.log2(d.astype(np.float64)).astype(np.float32))
    n = int((theirs != ours).sum())
    if n:
        i = np.flatnonzero(theirs != ours)[:3]
        print("differ at", d[i], theirs[i], ours[i], flush=True)
    bad += n
print(f"ceil differs for {bad} of {0x7F800000 - 1} float32 values ({time.time() - t0:.0f} s)")
