"""Does calibrating on real text help, and how much does GPTQ add? Calibrate the tiny
example model on the first half of a text (whole Hessians: calibrate --full-hessian),
quantize it with naive and optimal (no calibration), hessian (exact) and gptq (each
group's scales by the exact Hessian search, natural and act order), and compare each
layer's output error on the held-out second half.

    python benchmarks/bench_calibration.py [--text examples/calibration.txt] [--seq-len 128]

Needs torch and transformers (``pip install 'nvfp4_np[calibrate]'``). A layer's output
error on the held-out half is sqrt(r H r^T / w H w^T) summed over its rows, with that
half's H = X^T X (r = dequantized - original weight rows): ||X (W_q - W)^T|| / ||X W^T||;
"block" is the block-diagonal part of it (sum_j r_j H_j r_j^T), what the Hessian search
minimises. The weights are random, so the margins say little about real models; the
signs say whether the calibration generalises to text it has not seen.
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
            calibrate(model, [src], dst, samples=1000, seq_len=a.seq_len, dtype="float32", full_hessian=True)
        runs = {"naive": ck.Settings(method="naive"), "optimal": ck.Settings(method="optimal"),
                "hessian": ck.Settings(method="hessian"), "gptq": ck.Settings(method="gptq"),
                "gptq act": ck.Settings(method="gptq", order="act")}
        outs = {}
        for label, settings in runs.items():
            out = os.path.join(d, label.replace(" ", "-"))
            ck.quantize_checkpoint(model, out, settings, calib=None if label in ("naive", "optimal") else cal,
                                   note=lambda s: None)
            outs[label] = ck.open_checkpoint(out)
        src, H_eval = ck.open_checkpoint(model), ck.Calibration(held)
        rows = []
        for name in src.names():
            kind, key = H_eval.lookup(name)
            if kind != "H":
                continue
            W = np.asarray(src.get(name), np.float32)
            H = np.asarray(H_eval.load(key), np.float64)
            Hb = ck.diag_blocks(H, 16)
            full, block = {}, {}
            for label, o in outs.items():
                dq = ck.dequantize_stored(o, name[:-len(".weight")], ck.nvfp4_groups(o))
                full[label], block[label] = full_error(W, dq, H), block_error(W, dq, Hb)
            rows.append((name, full, block))
    labels = list(runs)
    print(f"# tiny Llama (2 layers, hidden 256, bfloat16), calibrated on the first half of {os.path.basename(a.text)}"
          f" in windows of {a.seq_len} tokens, output error % on the held-out second half (block-diagonal in ())")
    print(f"# command: python benchmarks/bench_calibration.py --seq-len {a.seq_len}")
    print(f"{'layer':40s} " + " ".join(f"{m:>17s}" for m in labels))
    for name, full, block in rows:
        print(f"{name:40s} " + " ".join(f"{full[m]:7.3f} ({block[m]:7.3f})" for m in labels))
    geo = {m: float(np.exp(np.mean([np.log(r[1][m]) for r in rows]))) for m in labels}
    print(f"{'geometric mean':40s} " + " ".join(f"{geo[m]:17.3f}" for m in labels))
    wins = sum(r[2]["hessian"] < r[2]["optimal"] for r in rows)
    print(f"hessian --calib is lower than optimal (block-diagonal) on {wins} of {len(rows)} layers; gptq lower than "
          f"hessian (full) on {sum(r[1]['gptq'] < r[1]['hessian'] for r in rows)} of {len(rows)}")


def full_error(W, dq, H):
    W64 = W.astype(np.float64)
    r = dq.astype(np.float64) - W64
    return 100 * np.sqrt(np.einsum("ij,jk,ik->", r, H, r) / np.einsum("ij,jk,ik->", W64, H, W64))


if __name__ == "__main__":
    main()
