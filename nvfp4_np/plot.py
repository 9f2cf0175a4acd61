"""Figures of quantize reports (optional: needs matplotlib, ``pip install nvfp4_np[plot]``)."""

import numpy as np

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["report_png"]


def report_png(reports, labels, path):
    """Write a PNG: per-layer weight (and, where measured, output) error bars, one bar per
    run, and the histogram of chosen E4M3 scale bytes of each run."""
    names = list(dict.fromkeys(e["name"] for r in reports for e in r["tensors"] if e["action"] == "quantized"))
    has_out = any(e.get("output_error_pct") is not None for r in reports for e in r["tensors"])
    n_err = 2 if has_out else 1
    fig, axes = plt.subplots(n_err + 1, 1, figsize=(max(8, 0.5 * len(names) * len(reports) + 3), 4 * (n_err + 1)))
    width = 0.8 / max(len(reports), 1)
    x = np.arange(len(names))
    keys = ["weight_error_pct"] + (["output_error_pct"] if has_out else [])
    for ax, key in zip(axes, keys):
        for i, (rep, lab) in enumerate(zip(reports, labels)):
            by = {e["name"]: e for e in rep["tensors"] if e["action"] == "quantized"}
            vals = [by[n][key] if n in by and by[n].get(key) is not None else np.nan for n in names]
            ax.bar(x + (i - (len(reports) - 1) / 2) * width, vals, width, label=lab)
        ax.set_ylabel(key.replace("_pct", " (%)").replace("_", " "))
        ax.set_xticks(x, names, rotation=60, ha="right", fontsize=7)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    ax = axes[-1]
    for rep, lab in zip(reports, labels):
        hist = np.zeros(256)
        for e in rep["tensors"]:
            for b, n in (e.get("scale_byte_histogram") or {}).items():
                hist[int(b, 16)] += n
        ax.step(np.arange(256), hist, where="mid", label=lab)
    ax.set_xlabel("E4M3 scale byte")
    ax.set_ylabel("blocks")
    ax.set_yscale("symlog")
    ax.legend(fontsize=8)
    ax.set_title("chosen block-scale bytes")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
