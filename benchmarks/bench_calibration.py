"""Does calibrating on real text help? Calibrate the tiny example model on the first half
of a text, quantize it with ``optimal`` (no calibration) and with ``hessian --calib``,
and compare each layer's output error on the held-out second half.

    python benchmarks/bench_calibration.py [--text examples/calibration.txt] [--seq-len 128]

Needs torch and transformers (``pip install 'nvfp4_np[calibrate]'``). The output error
of a layer is the block-diagonal one the Hessian methods minimise,
sqrt(sum_j r_j H_j r_j^T / sum_j w_j H_j w_j^T) with the held-out half's block Hessians
H_j (r = dequantized - original weight rows). The weights are random, so the margin
says little about real models; the sign says whether the calibration generalises to
text it has not seen.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import make_checkpoint  # noqa: E402

from nvfp4_np import checkpoint as ck  # noqa: E402
from nvfp4_np.calibrate import calibrate  # noqa: E402
from nvfp4_np.checkpoint.rows import block_quadratic  # noqa: E402


def block_error(W, dq, H):
    W64 = W.astype(np.float64)
    return 100 * np.sqrt(block_quadratic(dq.astype(np.float64) - W64, H) / block_quadratic(W64, H))


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default=os.path.join(here, "..", "examples", "calibration.txt"))
    ap.add_argument("--seq-len", type=int, default=128)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "tiny-llama")
        make_checkpoint.make(model, layers=2, hidden=256, tokens=8)
        text = open(a.text, encoding="utf-8").read()
        half = len(text) // 2
        cut = text.index("\n\n", half) if "\n\n" in text[half:] else half  # at a paragraph
        halves = []
        for i, part in enumerate((text[:cut], text[cut:])):
            p = os.path.join(d, f"half{i}.txt")
            with open(p, "w", encoding="utf-8") as f:
                f.write(part)
            halves.append(p)
        cal, held = os.path.join(d, "cal.npz"), os.path.join(d, "held.npz")
        for src, dst in ((halves[0], cal), (halves[1], held)):
            calibrate(model, [src], dst, samples=1000, seq_len=a.seq_len, dtype="float32")
        ck.quantize_checkpoint(model, os.path.join(d, "opt"), ck.Settings(method="optimal"), note=lambda s: None)
        ck.quantize_checkpoint(model, os.path.join(d, "hes"), ck.Settings(method="hessian"), calib=cal,
                               note=lambda s: None)
        src, H_eval = ck.open_checkpoint(model), ck.Calibration(held)
        outs = {m: ck.open_checkpoint(os.path.join(d, m)) for m in ("opt", "hes")}
        rows, wins = [], 0
        for name in src.names():
            kind, key = H_eval.lookup(name)
            if kind != "H":
                continue
            W = np.asarray(src.get(name), np.float32)
            H = H_eval.load(key)
            e = {}
            for m, o in outs.items():
                e[m] = block_error(W, ck.dequantize_stored(o, name[:-len(".weight")], ck.nvfp4_groups(o)), H)
            wins += e["hes"] < e["opt"]
            rows.append((name, e["opt"], e["hes"]))
    print(f"# tiny Llama (2 layers, hidden 256, bfloat16), calibrated on the first half of {os.path.basename(a.text)}"
          f" in windows of {a.seq_len} tokens, output error on the held-out second half")
    print(f"# command: python benchmarks/bench_calibration.py --seq-len {a.seq_len}")
    print(f"{'layer':44s} {'optimal %':>10s} {'hessian %':>10s}")
    for name, o, h in rows:
        print(f"{name:44s} {o:10.3f} {h:10.3f}")
    print(f"hessian --calib is lower on {wins} of {len(rows)} layers; mean {np.mean([r[1] for r in rows]):.3f}% -> "
          f"{np.mean([r[2] for r in rows]):.3f}%")


if __name__ == "__main__":
    main()
