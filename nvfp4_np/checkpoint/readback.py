"""Reading quantized checkpoints back: ``dequantize_checkpoint`` and the rows of
``nvfp4-np inspect``."""

import os

import numpy as np

from .._version import __version__
from .._safetensors import dtype_name, numpy_dtype
from . import paths
from .layout import dequantize_stored, logical_tensors, nvfp4_groups
from .quantize import read_report
from .source import CheckpointError, open_checkpoint
from .writer import CheckpointWriter, clean_leftovers, copy_other_files, write_npz


def dequantize_checkpoint(inp, out, dtype="float32", *, overwrite=False, log=None, note=None):
    """Expand every compressed-tensors NVFP4 triple back to ``<module>.weight`` in
    ``dtype`` (float32 is exact; bfloat16 and float16 round to nearest even, as
    compressed-tensors' own ``decompress`` does to bfloat16); other tensors are copied.
    ``out`` ending in ``.npz`` writes one ``.npz``, otherwise a folder of safetensors
    shards named as the input's, with a small ``nvfp4_report.json``. ``out`` is checked
    and ``overwrite`` works as in :func:`quantize_checkpoint`."""
    np_dtype = {"float32": np.float32, "bfloat16": "BF16", "float16": np.float16}.get(dtype)
    np_dtype = numpy_dtype(np_dtype) if np_dtype == "BF16" else np_dtype
    if np_dtype is None:
        raise CheckpointError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    ckpt = open_checkpoint(inp)
    groups = nvfp4_groups(ckpt)
    items = list(logical_tensors(ckpt, groups))
    seen = set()
    for _, name, _ in items:
        if name in seen:
            raise CheckpointError(f"{ckpt.path}: two tensors would both be called {name!r} once dequantized")
        seen.add(name)

    if os.fspath(out).endswith(".npz"):
        if np_dtype != np.float32 and np_dtype != np.float16:
            raise CheckpointError(f"{out}: .npz cannot hold {dtype} (NumPy has no such dtype); write a folder "
                                  f"(safetensors) or use --dtype float32")
        out = paths.check_output(out, overwrite, ckpt.inputs())
        clean_leftovers(out, overwrite, note)
        arrays = {}
        for _, name, m in items:
            if m:
                arrays[name] = dequantize_stored(ckpt, m, groups).astype(np_dtype)
            else:  # NumPy has no bfloat16 / float8: widen those (exactly) to float32
                a = np.array(ckpt.get(name))
                arrays[name] = a.astype(np.float32) if a.dtype.kind == "V" else a
        write_npz(out, arrays, paths.NPZ_MARK, overwrite, ckpt.inputs())
        return {"dequantized": len(groups), "tensors": len(arrays)}
    with CheckpointWriter(out, overwrite, ckpt.inputs(), note) as w:
        for shard in ckpt.shards:
            here = [(n, m) for s, n, m in items if s == shard]
            specs = [(n, dtype_name(np_dtype), groups[m].shape) if m else (n, ckpt.info(n).dtype, ckpt.info(n).shape)
                     for n, m in here]
            fw = w.shard(shard, specs, {"format": "pt"})
            for n, m in here:
                if m:
                    fw.write(n, dequantize_stored(ckpt, m, groups).astype(np_dtype))
                    if log:
                        log(f"{n} {'x'.join(map(str, groups[m].shape))} -> {dtype}")
                else:
                    fw.write_raw(n, ckpt.raw(n))
            fw.close()
        if ckpt.sharded:
            w.write_index(os.path.basename(ckpt.path))
        if ckpt.config is not None:
            config = {k: v for k, v in ckpt.config.items() if k != "quantization_config"}
            # the weights are now in dtype (transformers reads torch_dtype, newer ones dtype)
            for key in ("torch_dtype", "dtype"):
                if key in config or key == "torch_dtype":
                    config[key] = dtype
            w.write_json("config.json", config)
        if ckpt.folder:
            copy_other_files(ckpt, w, note)
        w.write_json(paths.REPORT_NAME, {"format": "nvfp4_np.report", "version": 1, "operation": "dequantize",
                                         "nvfp4_np": __version__, "input": os.path.abspath(os.fspath(inp)),
                                         "dtype": dtype, "dequantized": sorted(groups)})
        w.commit()
    return {"dequantized": len(groups), "tensors": len(items)}


def inspect_rows(path):
    """One dict per logical tensor of a checkpoint: name, shape, dtype, how it is stored,
    and for quantized weights the method and errors from the report beside it."""
    ckpt = open_checkpoint(path)
    groups = nvfp4_groups(ckpt)
    folder = ckpt.folder or os.path.dirname(os.path.abspath(ckpt.path))
    try:
        report = read_report(folder)
        by_name = {e["name"]: e for e in report["tensors"]}
    except CheckpointError:  # no report, or not a quantize run's
        by_name = {}
    rows = []
    for _, wname, m in logical_tensors(ckpt, groups):
        if m is None:
            info = ckpt.info(wname)
            rows.append({"name": wname, "shape": list(info.shape), "dtype": info.dtype, "stored": info.dtype})
            continue
        g = groups[m]
        e = by_name.get(wname, {})
        if g.is_mx:
            stored = "mxfp4 b32 e8m0"
        else:
            gs = np.asarray(ckpt.get(g.global_scale), np.float32).reshape(-1)
            stored = (f"nvfp4 b{g.shape[-1] // ckpt.info(g.scale).shape[-1]} "
                      f"{'gs' if g.format.name == 'compressed-tensors' else 'ws2'}="
                      f"{gs[0]:.6g}{' (expert 0)' if gs.size > 1 else ''}")
        rows.append({"name": wname, "shape": list(g.shape), "dtype": e.get("dtype", "-"), "stored": stored,
                     "method": (e.get("method", "") + ("/" + e["mode"] if e.get("mode") else "")) or None,
                     "weight_error_pct": e.get("weight_error_pct"), "output_error_pct": e.get("output_error_pct")})
    return rows


def run_label(report):
    """A short name for a quantize run: method[/mode] recipe."""
    s = report["settings"]
    if s.get("fmt", "nvfp4") != "nvfp4":
        return f"{s['method']}{'/' + s['scale_rounding'] if s.get('scale_rounding') else ''} {s['fmt']}"
    return f"{s['method']}{'/' + s['mode'] if s.get('mode') else ''} {s['recipe']}"
