"""``quantize_checkpoint``: plan, quantize every selected weight (here, or with an engine
such as :func:`nvfp4_np.distributed.engine`), and write the output folder and report."""

import contextlib
import dataclasses
import json
import math
import os
import shutil
import time

from .. import __version__
from .layout import LAYOUT_RECIPES, quantization_config, shard_metadata
from .plan import Settings, prepare
from .rows import quantize_tensor
from .source import CheckpointError
from .writer import CheckpointWriter


#: The report written beside the output tensors.
REPORT_NAME = "nvfp4_report.json"
#: Files of an input folder not copied to the output: weights in any format, and arrays
#: (calibration data). Everything else (tokenizer, generation config, ...) is copied.
_NOT_COPIED = (".safetensors", ".npz", ".npy", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack")


def quantize_checkpoint(inp, out, settings=None, *, include=None, exclude=(), default_excludes=True, calib=None,
                        overwrite=False, log=None, progress=None, on_plan=None, command=None, engine=None):
    """Quantize a checkpoint into a compressed-tensors NVFP4 folder.

    Parameters
    ----------
    inp : str
        A ``.safetensors`` file, a sharded checkpoint's index json, a model folder, a
        ``.npy`` or a ``.npz``.
    out : str
        The output folder (written atomically; must not exist unless ``overwrite``). It
        gets the safetensors shard(s) (same names as the input's; ``model.safetensors``
        for NumPy input), the index json when sharded, ``config.json`` (the input
        folder's, or a minimal one, with ``quantization_config``), the input folder's other
        files, and ``nvfp4_report.json``.
    settings : Settings
        Method, mode, recipe, block size, rounding, fallback, device.
    include, exclude, default_excludes, calib :
        As :func:`plan`; ``calib`` is the path of an ``.npz`` (see :class:`Calibration`).
    log : callable(str), optional
        Receives one line per tensor.
    progress : callable(n_elements), optional
        Called as elements are quantized.
    on_plan : callable(list of TensorPlan), optional
        Called once the plan is made, before any work.
    command : list of str, optional
        Recorded in the report.
    engine : callable, optional
        Who computes: :func:`local_engine` (default, this process) or
        :func:`nvfp4_np.distributed.engine` (a Dask cluster); the output is the same.

    Returns
    -------
    dict
        The report (also written to ``OUT/nvfp4_report.json``).
    """
    settings = settings or Settings()
    t_start = time.perf_counter()
    ckpt, cal, plans = prepare(inp, settings, include=include, exclude=exclude, default_excludes=default_excludes,
                               calib=calib)
    if on_plan:
        on_plan(plans)
    entries = []
    order = [p for shard in ckpt.shards for p in plans if p.shard == shard]  # the order tensors are written
    quantized = [p for p in order if p.action == "quantize"]
    results = (engine or local_engine)(ckpt, cal, quantized, settings, progress)
    done = 0
    with CheckpointWriter(out, overwrite) as w, contextlib.closing(results):
        for shard in ckpt.shards:
            sp = [p for p in order if p.shard == shard]
            specs = [o for p in sp for o in p.outputs]
            fw = w.shard(shard, specs, shard_metadata(sp))
            for p in sp:
                if p.action == "copy":
                    fw.write_raw(p.name, ckpt.raw(p.name))
                    entries.append({"name": p.name, "shape": list(p.shape), "dtype": p.dtype, "action": "copied",
                                    "reason": p.reason})
                    continue
                arrays, entry = next(results)
                assert entry["name"] == p.name
                for oname, *_ in p.outputs:
                    fw.write(oname, arrays[oname])
                entries.append(entry)
                done += 1
                if log:
                    log(_line(done, len(quantized), entry))
            fw.close()
        if ckpt.sharded:
            w.write_index(os.path.basename(ckpt.path))
        if ckpt.folder:
            skip = set(ckpt.shards) | {os.path.basename(ckpt.path), "config.json", REPORT_NAME}
            for f in sorted(os.listdir(ckpt.folder)):
                src = os.path.join(ckpt.folder, f)
                if f not in skip and os.path.isfile(src) and not f.endswith(_NOT_COPIED):
                    shutil.copy2(src, w.path(f))
        config = dict(ckpt.config or {})
        config["quantization_config"] = quantization_config(plans, settings)
        w.write_json("config.json", config)
        report = _report(inp, out, settings, entries, plans, time.perf_counter() - t_start, command, calib,
                         getattr(engine, "description", "local"))
        w.write_json(REPORT_NAME, report)
        w.commit()
    return report


def local_engine(ckpt, cal, quantized, settings, progress):
    """Quantize the planned weights here, one after the other: yields ``(arrays, entry)``
    per weight of ``quantized``, in order. (:func:`nvfp4_np.distributed.engine` is the
    Dask one.)"""
    for p in quantized:
        try:
            yield quantize_tensor(ckpt.get(p.name), p, settings, cal, progress=progress)
        except ValueError as e:  # non-finite weights, bad activations: name the tensor
            raise tensor_error(ckpt, p, e) from None


def tensor_error(ckpt, p, e):
    return CheckpointError(f"{ckpt.path}: tensor {p.name!r}: {e}")


def _line(i, n, e):
    oe = e.get("output_error_pct")
    return (f"[{i}/{n}] {e['name']} {e['shape'][0]}x{e['shape'][1]} {e['method']}"
            f"{'/' + e['mode'] if e.get('mode') else ''}: weight error {e['weight_error_pct']:.3f}%"
            f"{'' if oe is None else f', output error {oe:.3f}%'}, {e['elements_per_s'] / 1e6:.1f} M el/s"
            f"{' (' + e['note'] + ')' if e.get('note') else ''}")


def _report(inp, out, settings, entries, plans, seconds, command, calib, engine):
    q = [e for e in entries if e["action"] == "quantized"]
    n_el = sum(math.prod(e["shape"]) for e in q)
    return {
        "format": "nvfp4_np.report", "version": 1, "nvfp4_np": __version__,
        "command": command, "input": os.path.abspath(os.fspath(inp)), "output": os.path.abspath(os.fspath(out)),
        "engine": engine,
        "settings": dict(dataclasses.asdict(settings), calibration=calib, layout="compressed-tensors nvfp4-pack-quantized",
                         layout_dequant_exact=settings.recipe in LAYOUT_RECIPES),
        "totals": {"tensors": len(entries), "quantized": len(q), "copied": len(entries) - len(q),
                   "quantized_elements": n_el, "seconds": seconds,
                   "weight_error_pct": _pooled(q, "weight_error_pct"),
                   "zero_scale_blocks": sum(e["zero_scale_blocks"] for e in q),
                   "fallbacks": sum(1 for p in plans if p.action == "quantize" and p.reason)},
        "tensors": entries,
    }


def _pooled(entries, key):
    """Element-weighted RMS of per-tensor relative errors (a summary, not an exact total)."""
    vals = [(e[key], math.prod(e["shape"])) for e in entries if e.get(key) is not None]
    if not vals:
        return None
    return math.sqrt(sum(v * v * n for v, n in vals) / sum(n for _, n in vals))


def read_report(path):
    """The report of an output folder (or a report file)."""
    p = os.path.join(path, REPORT_NAME) if os.path.isdir(path) else path
    with open(p) as f:
        rep = json.load(f)
    if rep.get("format") != "nvfp4_np.report":
        raise CheckpointError(f"{p}: not an nvfp4_np report")
    return rep
