"""A weight's quantized row pieces, from whichever path made them (rows.quantize_rows on
the host, gpu_rows.gpu_quantize_rows on the GPU, Dask tasks): the row step that fixes the
partition of the error sums, and the output arrays and report entry of the whole weight."""

import math

import numpy as np

from ..metrics import error_ratio
from .layout import get_format


#: Elements per quantize call: rows are independent, so a tensor is quantized in row
#: ranges (same bits as one call, with the whole tensor's amax) to show progress and to
#: react to Ctrl-C within a second or so.
ROWS_ELEMENTS = 1 << 22


def row_step(K, tile_rows=1):
    """Rows per quantize call for a weight with K columns (a multiple of ``tile_rows``,
    the rows of a 16x16 block). It also fixes the partition over which error sums are
    accumulated, so any split of the rows into whole steps (the Dask tasks) gives the
    same report figures as one process."""
    step = max(1, ROWS_ELEMENTS // max(K, 1))
    return max(tile_rows, step - step % tile_rows)


def piece(packed, sbytes, gs, sums, output_basis=None, expert=None):
    """One row range's result, as quantize_rows and its GPU twin return it: the packed
    codes, scale bytes, global scale, the per-row-step float64 sums, the output error's
    basis, the expert, and the scale bytes' histogram."""
    return {"packed": packed, "sbytes": sbytes, "gs": gs, "sums": sums, "output_basis": output_basis,
            "hist": np.bincount(sbytes.reshape(-1), minlength=256), "expert": expert}


def finish_tensor(p, settings, pieces, seconds, input_scale=None):
    """The output arrays and report entry of weight ``p`` from its row pieces (in row
    order; for stacked experts, expert by expert), with the stored activation scale
    ``input_scale`` under W4A4."""
    fmt = get_format(settings.format)
    packed = np.concatenate([q["packed"] for q in pieces]) if len(pieces) > 1 else pieces[0]["packed"]
    sbytes = np.concatenate([q["sbytes"] for q in pieces]) if len(pieces) > 1 else pieces[0]["sbytes"]
    sums = np.concatenate([q["sums"] for q in pieces]).sum(axis=0)
    hist = sum(q["hist"] for q in pieces)
    E = p.shape[0] if len(p.shape) == 3 else 1
    firsts = {q["expert"]: q["gs"] for q in reversed(pieces)}  # an expert's (or the weight's) first piece
    mx = settings.is_mx  # (MXFP4: E8M0 bytes, no global scale)
    gs = [None if mx else np.full(fmt.scalar_shape, firsts[e if len(p.shape) == 3 else None], np.float32)
          for e in range(E)]
    arrays = []
    for e, pk, sb in zip(range(E), np.split(packed, E), np.split(sbytes, E)):  # stacked: one weight per expert
        arrays += [pk, sb] + ([] if mx else [gs[e]])  # the scales: float8_e4m3fn (MX: E8M0), as their bytes
        if input_scale is not None:
            arrays.append(np.full(fmt.scalar_shape, input_scale, np.float32))
    basis = pieces[0]["output_basis"]
    n = math.prod(p.shape)
    entry = {"name": p.name, "shape": list(p.shape), "dtype": p.dtype, "action": "quantized", "method": p.method,
             "mode": p.mode, "recipe": settings.recipe, "block_size": settings.block_size,
             **({"fmt": settings.fmt, "scale_rounding": settings.scale_rounding if p.method == "naive" else None}
                if mx else {}),
             "calibration": p.calib[1] if p.calib else None, "note": p.reason or None, "group": p.group,
             "global_scale": None if mx else float(gs[0].reshape(-1)[0]) if len(gs) == 1 else
             [float(g.reshape(-1)[0]) for g in gs],
             "input_scale": None if input_scale is None else float(input_scale),
             "weight_error_pct": 100 * error_ratio(sums[0], sums[1]),
             "output_error_pct": 100 * error_ratio(sums[2], sums[3]) if basis else None,
             "output_error_basis": basis,
             "scale_byte_histogram": {f"0x{b:02x}": int(n) for b, n in enumerate(hist) if n},
             "zero_scale_blocks": 0 if mx else int(hist[0]), "seconds": seconds,
             "elements_per_s": n / max(seconds, 1e-9)}
    return dict(zip((o[0] for o in p.outputs), arrays)), entry
