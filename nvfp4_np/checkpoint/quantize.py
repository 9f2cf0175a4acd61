"""``quantize_checkpoint``: plan, quantize every selected weight (here, or with an engine
such as :func:`nvfp4_np.distributed.engine`), and write the output folder and report."""

import contextlib
import dataclasses
import math
import os
import re
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._version import __version__
from ..core import tensor_amax
from . import gpu_rows
from .layout import hf_quant_config, input_scale, layout_exact, quantization_config, shard_metadata
from .paths import REPORT_NAME, folder_file
from .plan import Settings, groups_of, prepare
from .rows import load_kernels, quantize_tensor, weight_amax
from .source import CheckpointError, load_json
from .writer import Behind, CheckpointWriter, copy_other_files


def quantize_checkpoint(inp, out, settings=None, *, include=None, exclude=(), default_excludes=True, calib=None,
                        overwrite=False, log=None, progress=None, on_plan=None, command=None, engine=None,
                        note=None):
    """Quantize a checkpoint into a compressed-tensors NVFP4 folder.

    Parameters
    ----------
    inp : str
        A ``.safetensors`` file, a sharded checkpoint's index json, a model folder, a
        ``.npy`` or a ``.npz``.
    out : str
        The output folder, written atomically. It may not be, hold or lie inside the input
        (or the calibration file), nor hold the current folder. It
        gets the safetensors shard(s) (same names as the input's; ``model.safetensors``
        for NumPy input), the index json when sharded, ``config.json`` (the input
        folder's, or a minimal one, with ``quantization_config``), the input folder's other
        files, and ``nvfp4_report.json``.
    settings : Settings
        Method, mode, recipe, block size, rounding, fallback, device.
    include, exclude, default_excludes, calib :
        As :func:`plan`; ``calib`` is the path of an ``.npz`` (see :class:`Calibration`).
    overwrite : False, True or "any"
        What may stand at ``out`` already: nothing (False), an earlier output of nvfp4_np
        (True; a folder holding its report), anything (``"any"``). With True or "any",
        hidden leftovers of killed runs writing ``out`` are removed too.
    log : callable(str), optional
        Receives one line per tensor. (The kernels are compiled, or loaded from Numba's
        cache, before the first tensor, so that its speed does not include that.)
    progress : callable(n_elements), optional
        Called as elements are quantized.
    on_plan : callable(list of TensorPlan), optional
        Called once the plan is made, before any work.
    command : list of str, optional
        Recorded in the report.
    engine : callable, optional
        Who computes: :func:`local_engine` (default, this process) or
        :func:`nvfp4_np.distributed.engine` (a Dask cluster); the output is the same.
    note : callable(str), optional
        Receives what the user should know but that does not stop the run: tensors that
        cannot be quantized because of their shape, files not copied, leftovers of killed
        runs, a run that quantized nothing (default: ``warnings.warn``).

    Returns
    -------
    dict
        The report (also written to ``OUT/nvfp4_report.json``).
    """
    settings = settings or Settings()
    note = note or _warn
    t_start = time.perf_counter()
    ckpt, cal, plans = prepare(inp, settings, include=include, exclude=exclude, default_excludes=default_excludes,
                               calib=calib)
    for p in plans:
        if p.unfit:
            note(f"{p.name} {p.dtype} {list(p.shape)} is copied unchanged: {p.reason}")
    if not any(p.action == "quantize" for p in plans):
        note("nothing is quantized: the output is a copy of the input (no new quantization_config)")
    order = [p for shard in ckpt.shards for p in plans if p.shard == shard]  # the order tensors are written
    quantized = [p for p in order if p.action == "quantize"]
    with CheckpointWriter(out, overwrite, ckpt.inputs() + ([calib] if calib else []), note) as w:
        if on_plan:
            on_plan(plans)
        if settings.fuse_scales is False and quantized and not settings.is_mx:
            note("--no-fuse-scales: fused layers (q/k/v, gate/up) keep their own global scales, and vLLM and SGLang, "
                 "which keep one per fused layer, will decode all but one of their partitions wrongly")
        inputs = activation_scales(ckpt, cal, quantized, settings)
        if quantized and engine is None:  # (an engine's workers load their own)
            load_kernels({(p.method, p.mode) for p in quantized}, settings)
        with contextlib.closing((engine or local_engine)(ckpt, cal, quantized, settings, progress, inputs)) as results:
            entries = _write_shards(ckpt, w, order, results, log, len(quantized))
        if ckpt.sharded:
            w.write_index(os.path.basename(ckpt.path))
        if ckpt.folder:
            copy_other_files(ckpt, w, note)
        config = dict(ckpt.config or {})
        if quantized:  # otherwise the input's own (of an already quantized checkpoint) stays
            config["quantization_config"] = quantization_config(plans, settings)
            if settings.format == "modelopt":
                w.write_json("hf_quant_config.json", hf_quant_config(plans, settings))
        elif ckpt.folder and os.path.isfile(os.path.join(ckpt.folder, "hf_quant_config.json")):
            w.copy(folder_file(ckpt.folder, "hf_quant_config.json", ckpt.folder), "hf_quant_config.json")
        w.write_json("config.json", config)
        report = _report(inp, out, settings, entries, plans, time.perf_counter() - t_start, command, calib,
                         getattr(engine, "description", "local"))
        w.write_json(REPORT_NAME, report)
        w.commit()
    return report


def _write_shards(ckpt, w, order, results, log, n_quantized):
    """Write every shard: copied tensors from the input, quantized ones from ``results``
    (in ``order``); the report entries. The writes run on a background thread (in
    order), overlapping the quantization of the tensors that follow."""
    entries, done = [], 0
    with contextlib.closing(Behind(name="nvfp4-np-writer")) as behind:
        for shard in ckpt.shards:
            sp = [p for p in order if p.shard == shard]
            fw = w.shard(shard, [o for p in sp for o in p.outputs], shard_metadata(sp))
            for p in sp:
                if p.action == "copy":
                    behind.submit(fw.write_raw, p.name, ckpt.raw(p.name))
                    entries.append({"name": p.name, "shape": list(p.shape), "dtype": p.dtype, "action": "copied",
                                    "reason": p.reason})
                    continue
                arrays, entry = next(results)
                assert entry["name"] == p.name
                behind.submit(_write_arrays, fw, [(oname, arrays[oname]) for oname, *_ in p.outputs])
                entries.append(entry)
                done += 1
                if log:
                    log(_line(done, n_quantized, entry))
            behind.drain()
            fw.close()
    return entries


def _write_arrays(fw, named):
    for name, a in named:
        fw.write(name, a)


def _warn(message):
    warnings.warn(message, UserWarning, stacklevel=3)


def local_engine(ckpt, cal, quantized, settings, progress, input_scales=None):
    """Quantize the planned weights here, one after the other: yields ``(arrays, entry)``
    per weight of ``quantized``, in order. A fused group's members are quantized with the
    group's amax, the max of its members' (read once per group). ``input_scales`` maps
    weight names to their stored activation scale (W4A4). The next weight is read and
    converted to float32 on a background thread while one is quantized, where Numba's
    threading layer allows two parallel regions at once (not "workqueue").
    (:func:`nvfp4_np.distributed.engine` is the Dask one.)"""
    groups, group_amax = groups_of(quantized), {}
    on_gpu = [gpu_rows.takes(p, settings) for p in quantized]

    def read(i):  # the GPU path takes the stored bits (in memory: read here), the CPU float32
        if on_gpu[i]:
            a, bits = ckpt.bits(quantized[i].name)
            return np.array(a), bits
        return ckpt.float32(quantized[i].name)

    ahead = _can_read_ahead()
    reader = ThreadPoolExecutor(1, thread_name_prefix="nvfp4-np-reader") if ahead else None
    try:
        nxt = reader.submit(read, 0) if ahead and quantized else None
        for i, p in enumerate(quantized):
            try:
                if ahead:
                    W, own = nxt.result()
                    nxt = reader.submit(read, i + 1) if i + 1 < len(quantized) else None
                else:
                    W, own = read(i)
                if p.group and p.group not in group_amax:
                    own_amax = None if on_gpu[i] or W.ndim != 2 else own  # (this member's, read already)
                    group_amax[p.group] = _max_amax(own_amax if m is p and own_amax is not None else
                                                    _read_amax(ckpt, m.name) for m in groups[p.group])
                scale = (input_scales or {}).get(p.name)
                if on_gpu[i]:  # own: the bits' kind; amax None: the GPU takes it
                    yield gpu_rows.gpu_quantize_tensor(W, own, p, settings, progress=progress,
                                                       amax=group_amax.get(p.group), input_scale=scale)
                else:
                    yield quantize_tensor(W, p, settings, cal, progress=progress,
                                          amax=group_amax.get(p.group, own if W.ndim == 2 else None),
                                          input_scale=scale)
                del W
            except ValueError as e:  # non-finite weights, bad activations: name the tensor
                raise tensor_error(ckpt, p, e) from None
    finally:
        if reader is not None:
            reader.shutdown(wait=True, cancel_futures=True)


def _can_read_ahead():
    """Whether two Numba parallel regions may run at once (from two threads): the
    threading layer is chosen by the first parallel region, which this runs if none has."""
    import numba

    from .._convert import _absbits

    _absbits(np.zeros(1, np.uint32))
    return numba.threading_layer() != "workqueue"


def _read_amax(ckpt, name):
    """The amax of weight ``name`` (per expert for stacked experts: :func:`weight_amax`)."""
    W, amax = ckpt.float32(name)
    return amax if W.ndim == 2 else weight_amax(W)


def _max_amax(amaxes):
    """The elementwise max of members' amaxes (scalars, or per-expert arrays)."""
    return np.maximum.reduce([np.asarray(a, np.float32) for a in amaxes])


def activation_scales(ckpt, cal, quantized, settings):
    """W4A4: {weight name: its stored activation scale}, from the float32 max|X| of its
    calibration activations; a fused group's members share the scale of the group's
    largest amax (engines keep one per fused layer)."""
    if settings.scheme != "w4a4":
        return {}
    amax = {}
    for p in quantized:
        X = np.asarray(cal.load(p.acts), np.float32)
        if not np.isfinite(X).all() or (X.ndim == 0 and X < 0):
            raise tensor_error(ckpt, p, ValueError(f"its activations {p.acts!r} hold NaN, Inf or a negative amax"))
        amax[p.name] = tensor_amax(X.reshape(1, -1))
    for members in groups_of(quantized).values():
        top = max(amax[m.name] for m in members)
        amax.update({m.name: top for m in members})
    return {n: input_scale(a, settings.format) for n, a in amax.items()}


def tensor_error(ckpt, p, e):
    return CheckpointError(f"{ckpt.path}: tensor {p.name!r}: {e}")


def _line(i, n, e):
    oe = e.get("output_error_pct")
    return (f"[{i}/{n}] {e['name']} {'x'.join(map(str, e['shape']))} {e['method']}"
            f"{'/' + e['mode'] if e.get('mode') else ''}: weight error {e['weight_error_pct']:.3f}%"
            f"{'' if oe is None else f', output error {oe:.3f}%'}, {e['elements_per_s'] / 1e6:.1f} M el/s"
            f"{' (' + e['note'] + ')' if e.get('note') else ''}")


def _report(inp, out, settings, entries, plans, seconds, command, calib, engine):
    q = [e for e in entries if e["action"] == "quantized"]
    n_el = sum(math.prod(e["shape"]) for e in q)
    return {
        "format": "nvfp4_np.report", "version": 1, "operation": "quantize", "nvfp4_np": __version__,
        "command": command, "input": os.path.abspath(os.fspath(inp)), "output": os.path.abspath(os.fspath(out)),
        "engine": engine,
        "settings": dict(dataclasses.asdict(settings), calibration=calib,
                         layout=f"{settings.format} {settings.fmt.upper()} {settings.scheme.upper()}",
                         layout_dequant_exact=settings.is_mx or layout_exact(settings.recipe, settings.format)),
        "totals": {"tensors": len(entries), "quantized": len(q), "copied": len(entries) - len(q),
                   "quantized_elements": n_el, "seconds": seconds,
                   "weight_error_pct": _pooled(q, "weight_error_pct"),
                   "zero_scale_blocks": sum(e["zero_scale_blocks"] for e in q),
                   "fallbacks": sum(1 for p in plans if p.action == "quantize" and p.reason)},
        "not_quantizable": [{"name": p.name, "shape": list(p.shape), "reason": p.reason} for p in plans if p.unfit],
        "fused_groups": {g: {"members": [m.name for m in ms],
                             "global_scale": next(e["global_scale"] for e in q if e["name"] == ms[0].name)}
                         for g, ms in groups_of(plans).items()},
        "tensors": entries,
    }


def _pooled(entries, key):
    """Element-weighted RMS of per-tensor relative errors (a summary, not an exact total)."""
    vals = [(e[key], math.prod(e["shape"])) for e in entries if e.get(key) is not None]
    if not vals:
        return None
    return math.sqrt(sum(v * v * n for v, n in vals) / sum(n for _, n in vals))


def read_report(path):
    """The report of a quantize output folder (or a report file), checked."""
    p = os.path.join(path, REPORT_NAME) if os.path.isdir(path) else path
    rep = load_json(p, "the report")
    if not isinstance(rep, dict) or rep.get("format") != "nvfp4_np.report":
        raise CheckpointError(f"{p}: not an nvfp4_np report")
    if rep.get("operation", "quantize") != "quantize" or not _report_fields(rep):
        raise CheckpointError(f"{p}: not the report of a quantize run (or damaged)")
    return rep


def _report_fields(rep):
    """Whether the fields that ``report``, ``inspect`` and the plots read have their types."""
    def num(v, none=False):
        if none and v is None:
            return True
        try:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
        except OverflowError:  # an int beyond float's range
            return False

    def text(v, none=False):
        return (none and v is None) or isinstance(v, str)

    tensors, totals, settings = rep.get("tensors"), rep.get("totals"), rep.get("settings")
    if not (isinstance(tensors, list) and isinstance(totals, dict) and isinstance(settings, dict)
            and num(totals.get("weight_error_pct"), True) and text(settings.get("method"))
            and text(settings.get("recipe"), settings.get("fmt", "nvfp4") != "nvfp4")
            and text(settings.get("mode"), True)):
        return False
    for e in tensors:
        if not (isinstance(e, dict) and text(e.get("name")) and text(e.get("action"))):
            return False
        hist = e.get("scale_byte_histogram", {})
        if not (isinstance(hist, dict) and all(re.fullmatch("0x[0-9a-f]{2}", k) and num(v) for k, v in hist.items())):
            return False
        if e["action"] == "quantized" and not (
                num(e.get("weight_error_pct")) and num(e.get("output_error_pct"), True)
                and text(e.get("method")) and text(e.get("mode"), True) and text(e.get("dtype"))):
            return False
    return True
