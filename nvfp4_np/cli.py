"""The ``nvfp4-np`` command line (also ``python -m nvfp4_np``).

Exit status: 0 done, 1 a check failed (verify) or the output could not be written,
2 bad input (nothing is written), 129 / 130 / 143 stopped by SIGHUP / SIGINT / SIGTERM
(nothing is written).
"""

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import zipfile

_EXAMPLES = """examples:
  nvfp4-np quantize model/ -o model-nvfp4              every 2-D weight, SSE-optimal scales
  nvfp4-np quantize model.safetensors -o out --method admm --calib acts.npz --recipe compressed-tensors
  nvfp4-np quantize model/ -o out --dry-run            list what would be quantized and why not
  nvfp4-np quantize model/ -o out --workers 4          on a local Dask cluster (or --dask-scheduler ADDR)
  nvfp4-np inspect out                                 tensors, formats and errors
  nvfp4-np dequantize out -o out-f32 --dtype float32   back to floats (exact in float32)
  nvfp4-np report out-optimal out-naive --png err.png  compare runs, draw errors and scale bytes
  nvfp4-np calibrate model/ --text data.txt -o calib.npz   block Hessians and activation ranges (torch)
  nvfp4-np quantize model/ -o out --method hessian --calib calib.npz
  nvfp4-np calibrate model/ --text data.txt -o full.npz --full-hessian   whole Hessians, for GPTQ
  nvfp4-np quantize model/ -o out --method gptq --calib full.npz
  nvfp4-np golden --out validation/vectors             write the golden vectors
  nvfp4-np verify --vectors validation/vectors --candidate my_outputs
"""


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so the same cleanup runs as for Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise _Terminated(signum)


#: Signals that stop a command the way Ctrl-C does (the hidden partial output removed).
_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def _err(cmd, msg):
    print(f"nvfp4-np {cmd}: {msg}", file=sys.stderr)


# --------------------------------------------------------------------------- quantize


class _Progress:
    """A tqdm bar (tensors done, elements/s, ETA) on a terminal; plain lines otherwise."""

    def __init__(self, total, n_tensors, quiet):
        self.bar = None
        if not quiet and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, unit="el", unit_scale=True, dynamic_ncols=True,
                                desc=f"0/{n_tensors} tensors", file=sys.stderr)
        self.n_tensors, self.done = n_tensors, 0

    def elements(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def line(self, text):
        self.done += 1
        if self.bar is not None:
            self.bar.set_description(f"{self.done}/{self.n_tensors} tensors")
        self.write(text)

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _settings(args):
    from .checkpoint import Settings

    return Settings(method=args.method, mode=args.mode, recipe=args.recipe, block_size=args.block_size,
                    rounding=args.rounding, fallback=args.fallback, device=args.device, format=args.format,
                    scheme=args.scheme, fuse_scales=not args.no_fuse_scales, stacked_experts=args.stacked_experts,
                    damp=args.damp, order=args.order, rule=args.rule, scale_max=args.scale_max,
                    block_shape=None if args.block_shape is None else (16, 16), fmt=args.fmt,
                    scale_rounding=args.scale_rounding)


def _quantize(args):
    from . import checkpoint as ck

    if args.threads and not args.workers:
        import numba

        if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
            _err("quantize", f"--threads must be 1..{numba.config.NUMBA_NUM_THREADS}, got {args.threads}")
            return 2
        numba.set_num_threads(args.threads)
    settings = _settings(args)
    kw = dict(include=args.include, exclude=args.exclude, default_excludes=not args.no_default_excludes,
              calib=args.calib)
    if args.dry_run:
        _print_plan(ck.prepare(args.input, settings, **kw)[2])
        return 0
    bar = None

    def note(text):
        (bar.write if bar is not None else lambda t: print(t, file=sys.stderr, flush=True))(
            f"nvfp4-np quantize: note: {text}")

    def on_plan(plans):
        nonlocal bar
        q = [p for p in plans if p.action == "quantize"]
        n = sum(math.prod(p.shape) for p in q)
        print(f"{len(q)} tensors to quantize ({n:,} elements), {len(plans) - len(q)} to copy",
              file=sys.stderr, flush=True)
        if q and not (args.dask_scheduler or args.workers):  # workers load their own kernels
            ck.load_kernels({(p.method, p.mode) for p in q}, settings,
                            lambda text: print(f"nvfp4-np quantize: {text}", file=sys.stderr, flush=True))
        bar = _Progress(n, len(q), args.quiet)

    with contextlib.ExitStack() as stack:
        if args.dask_scheduler or args.workers:
            kw["engine"] = _dask_engine(args, stack)
        try:
            report = ck.quantize_checkpoint(args.input, args.out, settings, overwrite=_overwrite(args),
                                            log=lambda s: bar.line(s), progress=lambda n: bar.elements(n),
                                            on_plan=on_plan, command=["nvfp4-np"] + list(args.argv), note=note,
                                            **kw)
        finally:
            if bar is not None:
                bar.close()
    t = report["totals"]
    werr = "n/a" if t["weight_error_pct"] is None else f"{t['weight_error_pct']:.3f}%"
    print(f"wrote {args.out}: {t['quantized']} tensors quantized ({t['quantized_elements']:,} elements), "
          f"{t['copied']} copied; weight error (RMS over elements) {werr}; {t['seconds']:.1f} s")
    if t["zero_scale_blocks"]:
        print(f"note: {t['zero_scale_blocks']} blocks got scale 0 (all their |w| <= 6*2^-10 under recipe "
              f"{settings.recipe!r}); a two-level recipe (te, modelopt, compressed-tensors) avoids that",
              file=sys.stderr)
    return 0


def _overwrite(args):
    """``overwrite=`` of the checkpoint functions: False, True or "any"."""
    return "any" if args.overwrite_any else args.overwrite


def _dask_engine(args, stack):
    """The Dask engine on --dask-scheduler ADDRESS or on a LocalCluster of --workers N
    processes (closed when the command ends)."""
    try:
        from distributed import Client
    except ImportError:
        raise _Usage("--dask-scheduler / --workers need Dask: pip install 'nvfp4_np[distributed]'") from None
    from . import distributed

    if args.dask_scheduler and args.workers:
        raise _Usage("give --dask-scheduler or --workers, not both")
    if args.workers:
        cluster = stack.enter_context(distributed.local_cluster(args.workers, args.threads))
        client = stack.enter_context(Client(cluster))
    else:
        client = stack.enter_context(Client(args.dask_scheduler, timeout="30s"))
    if not args.quiet:
        print(f"Dask: {len(client.scheduler_info().get('workers', {}))} workers, dashboard {client.dashboard_link}",
              file=sys.stderr, flush=True)
    return distributed.engine(client)


class _Usage(Exception):
    """A usage error found after parsing (exit 2)."""


def _print_plan(plans):
    from .checkpoint import groups_of

    q = [p for p in plans if p.action == "quantize"]
    c = [p for p in plans if p.action == "copy"]
    print(f"quantize ({len(q)}):")
    for p in q:
        how = p.method + (f"/{p.mode}" if p.mode else "")
        extra = f"  calibration {p.calib[1]!r}" if p.calib else (f"  ({p.reason})" if p.reason else "")
        print(f"  {p.name}  {p.dtype} {list(p.shape)}  {how}{extra}")
    print(f"copy unchanged ({len(c)}):")
    for p in c:
        print(f"  {p.name}  {p.dtype} {list(p.shape)}  ({p.reason})")
    groups = groups_of(plans)
    print(f"fused groups sharing one global scale ({len(groups)}):")
    for g, members in groups.items():
        print(f"  {g}: {', '.join(m.name for m in members)}")


# --------------------------------------------------------------------------- inspect / dequantize / report


def _inspect(args):
    from . import checkpoint as ck

    if args.file.endswith(".npz") and _is_calibration(args.file):
        return _inspect_calibration(args)

    rows = ck.inspect_rows(args.file)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = ("name", "shape", "dtype", "stored as", "method", "weight err %", "output err %")
    table = [(r["name"], "x".join(map(str, r["shape"])), r["dtype"], r["stored"], r.get("method") or "",
              _pct(r.get("weight_error_pct")), _pct(r.get("output_error_pct")))
             for r in sorted(rows, key=lambda r: _natural(r["name"]))]
    _print_table(cols, table)
    stored = " ".join(r["stored"] for r in rows)
    if "nvfp4 " in stored:
        print("\nnvfp4 bN: NVFP4 with blocks of N; " + "; ".join(
            text for key, text in (("gs=", "gs: compressed-tensors' weight_global_scale, the encode form "
                                           "(about 2688 / amax): dequant = q * scale / gs"),
                                   ("ws2=", "ws2: ModelOpt's weight_scale_2, the decode form "
                                            "(about amax / 2688): dequant = q * scale * ws2"))
            if key in stored) + ". Errors are the run's report, relative RMS in %.")
    return 0


def _natural(name):
    """Sort key that orders layer numbers as numbers (layers.2 before layers.10)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _is_calibration(path):
    from .checkpoint import source

    try:
        return source.CALIBRATION_KEY in source.npz_headers(path)
    except source.NPZ_ERRORS:  # not a readable .npz: the checkpoint reader says why
        return False


def _inspect_calibration(args):
    from . import checkpoint as ck

    cal = ck.Calibration(args.file)
    rows = cal.rows()
    if args.json:
        print(json.dumps({"metadata": cal.metadata, "layers": rows}, indent=2))
        return 0
    m = cal.metadata
    print(f"calibration of {m.get('model')} ({m.get('model_class')}): {m.get('samples')} windows of "
          f"{m.get('seq_len')} tokens, {m.get('dtype')}, nvfp4_np {m.get('nvfp4_np')}")
    for f in m.get("files") if isinstance(m.get("files"), list) else []:
        if isinstance(f, dict):
            print(f"  text {f.get('path')}  {f.get('bytes')} bytes  sha256 {f.get('sha256')}")
    _print_table(("layer", "K", "tokens", "activation amax", "shares the record of"),
                 [(r["module"], r["K"] or "", r["tokens"] or "", "" if r["amax"] is None else f"{r['amax']:.6g}",
                   r["shares"] or "") for r in rows])
    return 0


def _pct(v):
    return "" if v is None else f"{v:.3f}"


def _print_table(cols, table):
    widths = [max([len(c)] + [len(str(r[i])) for r in table]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    for r in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())


def _dequantize(args):
    from . import checkpoint as ck

    res = ck.dequantize_checkpoint(args.input, args.out, args.dtype, overwrite=_overwrite(args),
                                   log=None if args.quiet else (lambda s: print(s, file=sys.stderr)),
                                   note=lambda s: print(f"nvfp4-np dequantize: note: {s}", file=sys.stderr))
    print(f"wrote {args.out}: {res['dequantized']} weights dequantized to {args.dtype}, {res['tensors']} tensors")
    return 0


def _calibrate(args):
    from .calibrate import calibrate

    bar = None
    if not args.quiet and sys.stderr.isatty():
        try:
            from tqdm import tqdm

            bar = tqdm(total=args.samples, unit="window", file=sys.stderr)
        except ImportError:
            pass

    def progress(i, n):
        if bar is not None:
            bar.total = n
            bar.update(1)
        elif not args.quiet:
            print(f"[{i}/{n}] windows", file=sys.stderr, flush=True)

    try:
        meta = calibrate(args.model, args.text, args.out, samples=args.samples, seq_len=args.seq_len,
                         layers=args.layers, dtype=args.dtype, device=args.device, overwrite=_overwrite(args),
                         progress=progress, note=lambda s: print(f"nvfp4-np calibrate: note: {s}", file=sys.stderr),
                         full_hessian=args.full_hessian, max_hessian_mb=args.max_hessian_mb)
    finally:
        if bar is not None:
            bar.close()
    n = len(meta["aliases"])
    print(f"wrote {args.out}: {meta['samples']} windows of {meta['seq_len']} tokens through {meta['model_class']}; "
          f"{meta['recorded']} layers recorded{f', {n} sharing a record' if n else ''}")
    return 0


def _report(args):
    from . import checkpoint as ck

    runs = [ck.read_report(r) for r in args.runs]
    labels = args.labels.split(",") if args.labels else [ck.run_label(r) for r in runs]
    if len(labels) != len(runs):
        _err("report", f"--labels gives {len(labels)} names for {len(runs)} runs")
        return 2
    names = list(dict.fromkeys(e["name"] for r in runs for e in r["tensors"] if e["action"] == "quantized"))
    cols = ["tensor"] + [f"{lab}: weight / output err %" for lab in labels]
    table = []
    for n in names:
        row = [n]
        for r in runs:
            e = next((e for e in r["tensors"] if e["name"] == n and e["action"] == "quantized"), None)
            row.append("" if e is None else f"{_pct(e['weight_error_pct'])} / {_pct(e.get('output_error_pct')) or '-'}")
        table.append(row)
    table.append(["(RMS over elements)"] + [f"{_pct(r['totals']['weight_error_pct'])} / -" for r in runs])
    _print_table(cols, table)
    if args.png:
        try:
            from . import plot
        except ImportError as e:
            _err("report", f"--png needs matplotlib ({e}): pip install 'nvfp4_np[plot]'")
            return 2
        plot.report_png(runs, labels, args.png)
        print(f"wrote {args.png}")
    return 0


# --------------------------------------------------------------------------- golden / verify


def _golden(args):
    from .validation import generate

    def progress(i, n, name):
        if not args.quiet:
            print(f"[{i}/{n}] {name}", file=sys.stderr)

    index = generate(args.out, size=args.size, progress=progress, hex=args.hex)
    print(f"wrote {len(index['vectors'])} vectors to {args.out}")
    return 0


def _verify(args):
    from .validation import verify

    try:
        report = verify(args.vectors, args.candidate, select=args.select, max_examples=args.examples)
    except (OSError, ValueError) as e:
        _err("verify", e)
        return 2
    except (KeyError, TypeError, IndexError, ZeroDivisionError, RecursionError, zipfile.BadZipFile) as e:
        # an index, manifest or candidate without the fields and files it needs
        _err("verify", f"{args.vectors}: not a folder of golden vectors, or a damaged candidate: "
                       f"{type(e).__name__}: {e}")
        return 2
    except re.error as e:
        _err("verify", f"--select {args.select!r} is not a regular expression: {e}")
        return 2
    print(report.text(max_examples=args.examples))
    return 0 if report.passed else 1


# --------------------------------------------------------------------------- parser


def _overwrite_flags(p):
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it is an earlier nvfp4_np output (and remove leftovers of killed runs)")
    p.add_argument("--overwrite-any", action="store_true",
                   help="replace OUT whatever it is (never the input, a folder holding it or the current folder)")


def build_parser():
    from . import four_over_six, gptq, registry
    from .calibrate import MAX_HESSIAN_MB
    from .checkpoint.plan import FALLBACKS

    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="nvfp4-np", description="Bit-exact NVFP4 quantization of checkpoints, "
                                "golden vectors and checks.", epilog=_EXAMPLES, formatter_class=fmt)
    from ._version import __version__

    p.add_argument("--version", action="version", version=f"nvfp4-np {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def cmd(name, help, func):
        s = sub.add_parser(name, help=help, description=help, epilog=_EXAMPLES, formatter_class=fmt)
        s.set_defaults(func=func)
        return s

    q = cmd("quantize", "quantize the 2-D weights of a checkpoint into the compressed-tensors (or ModelOpt) NVFP4 "
            "layout", _quantize)
    q.add_argument("input", metavar="IN", help=".safetensors file, sharded index json, model folder, .npy or .npz")
    q.add_argument("-o", "--out", required=True, help="output folder (written atomically)")
    methods = registry.METHODS.values()
    q.add_argument("--method", choices=tuple(registry.METHODS), default=registry.DEFAULT_METHOD,
                   help=f"block-scale method (default {registry.DEFAULT_METHOD}): " + "; ".join(
                       f"{m.name}: {m.summary}" + (" (needs --calib)" if m.needs_activations else "") for m in methods))
    q.add_argument("--mode", help="; ".join(f"{m.name}: {'|'.join(m.modes)} (default {m.checkpoint_mode})"
                                            for m in methods if m.modes))
    q.add_argument("--damp", type=float, default=0.01,
                   help="gptq: dampening added to H's diagonal, relative to its mean (default 0.01)")
    q.add_argument("--order", choices=gptq.ORDERS, default="natural",
                   help="gptq: column order; act: the 16-column groups by descending diag(H) (default natural)")
    q.add_argument("--recipe", choices=registry.ALL_RECIPES,
                   help="the arithmetic (default: the format's own, compressed-tensors or modelopt; for 4over6 "
                        "fouroversix, or te: Transformer Engine's)")
    q.add_argument("--rule", choices=four_over_six.RULES,
                   help="4over6: how each block picks the scale mapping its max to 6 or to 4 (default: the recipe's, "
                        "mse for fouroversix, mae for te; te has mae and mse; static_6 and static_4 pin it)")
    q.add_argument("--scale-max", type=int, choices=four_over_six.SCALE_MAXES,
                   help="4over6: the E4M3 bound in the tensor constant vmax * scale_max (default 256; 448 for "
                        "static_6 and static_4)")
    q.add_argument("--block-shape", choices=("16x16",),
                   help="one scale per 16x16 tile of each weight (TE's weight recipe; methods: "
                        + ", ".join(m.name for m in methods if m.block_shapes) + "; naive and optimal on the CPU)")
    q.add_argument("--format", choices=("compressed-tensors", "modelopt"), default="compressed-tensors",
                   help="the checkpoint layout: compressed-tensors (vLLM, SGLang, transformers; default) or modelopt "
                        "(TensorRT-LLM, SGLang, vLLM; writes hf_quant_config.json)")
    q.add_argument("--scheme", choices=("w4a16", "w4a4"), default="w4a16",
                   help="w4a16: weights only (default); w4a4: also activation global scales, from --calib activations")
    q.add_argument("--stacked-experts", choices=("out-in", "in-out"),
                   help="quantize 3-D stacked experts, whose axes are (E, out, in) or (E, in, out) (Llama 4, gpt-oss), "
                        "written per expert as engines load them (default: copied unchanged)")
    q.add_argument("--no-fuse-scales", action="store_true",
                   help="do not give fused layers (q/k/v, gate/up, experts' w1/w3) one shared global scale "
                        "(vLLM and SGLang then mis-decode them)")
    q.add_argument("--fmt", choices=("nvfp4", "mxfp4"), default="nvfp4",
                   help="the block format: nvfp4 (default), or mxfp4 (OCP MX: E2M1 with an E8M0 scale per 32, "
                        "compressed-tensors' mxfp4-pack-quantized; methods " + ", ".join(registry.mx_methods()) + ")")
    q.add_argument("--scale-rounding", choices=registry.SCALE_ROUNDINGS,
                   help="mxfp4, method naive: the E8M0 byte's rounding (default even, compressed-tensors' own; floor "
                        "is OCP's, rceil NVIDIA's)")
    q.add_argument("--block-size", type=int, choices=registry.BLOCK_SIZES,
                   help="elements per block (default 16; mxfp4: 32)")
    q.add_argument("--rounding", choices=registry.ROUNDINGS, help="E2M1 tie rule (default: the recipe's)")
    q.add_argument("--include", metavar="REGEX", help="quantize only tensors whose name matches")
    q.add_argument("--exclude", metavar="REGEX", action="append", default=[],
                   help="also skip tensors whose name matches (repeatable)")
    q.add_argument("--no-default-excludes", action="store_true",
                   help="do not skip embeddings, norms, biases and lm_head by default")
    q.add_argument("--calib", metavar="ACTS.npz",
                   help="per-layer activations '<module>' (T, K) or Hessians '<module>.H' (K, K) / (K/bs, bs, bs)")
    q.add_argument("--fallback", choices=FALLBACKS, default=registry.DEFAULT_METHOD,
                   help="method for tensors without calibration data (default optimal)")
    q.add_argument("--threads", type=int, help="Numba threads (default: all cores; with --workers, per worker)")
    q.add_argument("--workers", type=int, metavar="N", help="run on a local Dask cluster of N worker processes")
    q.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786); the workers must see IN "
                        "and --calib at the same paths")
    q.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where kernels run (same bytes)")
    q.add_argument("--dry-run", action="store_true", help="print what would be quantized or copied, and why")
    _overwrite_flags(q)
    q.add_argument("--quiet", action="store_true", help="no progress bar: plain log lines")

    d = cmd("dequantize", "expand an NVFP4 checkpoint back to floating weights", _dequantize)
    d.add_argument("input", metavar="IN", help="quantized checkpoint (folder, .safetensors or index json)")
    d.add_argument("-o", "--out", required=True, help="output folder, or a .npz file")
    d.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32")
    _overwrite_flags(d)
    d.add_argument("--quiet", action="store_true")

    i = cmd("inspect", "list a checkpoint's tensors, their formats and (from the report) errors", _inspect)
    i.add_argument("file", metavar="FILE", help="folder, .safetensors, index json, .npy or .npz")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    r = cmd("report", "compare the reports of quantize runs; optionally draw them (needs matplotlib)", _report)
    r.add_argument("runs", metavar="RUN", nargs="+", help="output folder of 'nvfp4-np quantize' (or its report json)")
    r.add_argument("--labels", help="comma-separated names of the runs (default: method/mode/recipe)")
    r.add_argument("--png", metavar="FILE", help="write per-layer error bars and scale-byte histograms")

    c = cmd("calibrate", "run a model on text and record each layer's block Hessians and activation amax "
            "(needs torch and transformers: pip install 'nvfp4_np[calibrate]')", _calibrate)
    c.add_argument("model", metavar="MODEL_DIR", help="a Hugging Face model folder (safetensors, config, tokenizer)")
    c.add_argument("--text", nargs="+", required=True, metavar="FILE", help="local UTF-8 text files")
    c.add_argument("-o", "--out", required=True, help="the calibration file (.npz) to write")
    c.add_argument("--samples", type=int, default=128, help="windows of text to run (default 128)")
    c.add_argument("--seq-len", type=int, default=512, help="tokens per window (default 512)")
    c.add_argument("--layers", metavar="REGEX", help="record only the layers whose weight name matches")
    c.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16", help="the model's dtype")
    c.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    c.add_argument("--full-hessian", action="store_true",
                   help="record each layer's whole K x K Hessian (what --method gptq needs), not only its blocks")
    c.add_argument("--max-hessian-mb", type=float, default=MAX_HESSIAN_MB, metavar="MB",
                   help="budget of full Hessians (float64 while recording; default 4096): layers beyond it keep "
                        "block Hessians")
    _overwrite_flags(c)
    c.add_argument("--quiet", action="store_true")

    g = cmd("golden", "write the golden vectors", _golden)
    g.add_argument("-o", "--out", required=True, help="output folder")
    g.add_argument("--size", choices=("small", "large"), default="small",
                   help="small: the committed set (8-row matrices); large: 256-row matrices")
    g.add_argument("--hex", action="store_true",
                   help="also write every array as NAME.hex, one word per line in lowercase hex "
                        "(what Verilog's $readmemh reads)")
    g.add_argument("--quiet", action="store_true")

    v = cmd("verify", "check a candidate implementation's outputs against the golden vectors", _verify)
    v.epilog = """candidate files: CANDIDATE/<vector>/NAME.bin, raw little-endian words in C order
(or the same arrays by name in one CANDIDATE/<vector>/vector.npz); K is the input's row
length, bs the vector's block size (16 or 32), the exact shapes are in its manifest.json:
  codes.bin                 uint8 (rows, K/2): E2M1 codes, element 2i in the low nibble
  scale_bytes.bin           uint8 (rows, K/bs): E4M3 block-scale bytes, row-major
  scale_bytes_swizzled.bin  uint8, flat: the scale bytes in the 128x4 tiled layout
                            (rows padded to a multiple of 128, scale columns to 4)
  tensor_scale.bin          float32 (1,): the stored tensor scale (1.0 for the seed recipe)
  dequant.bin               float32 (rows, K): the dequantized values
an MX vector (mx-*, SPEC.md section 9) has no tensor_scale; its codes.bin is uint8
(rows, K/2) for mxfp4, (rows, K) one code per byte for the FP6 and FP8 formats, plus
codes_packed.bin (rows, 3K/4) for FP6 (four codes in three bytes); scale_bytes are
the E8M0 bytes (rows, K/32)

exit status:
  0  every selected vector passes
  1  a vector fails (differing bytes, or a missing, truncated or wrong file)
  2  usage error, --select not a regular expression or matching no vector,
     a vectors folder that cannot be read

examples:
  nvfp4-np verify --vectors validation/vectors --candidate my_outputs
  nvfp4-np verify --vectors validation/vectors --candidate my_outputs --select 'naive-(seed|te)-'
"""
    v.add_argument("--vectors", required=True, help="folder written by 'nvfp4-np golden'")
    v.add_argument("--candidate", required=True,
                   help="folder with one sub-folder per vector holding codes.bin, scale_bytes.bin, "
                        "scale_bytes_swizzled.bin, tensor_scale.bin, dequant.bin (or a vector.npz)")
    v.add_argument("--select", metavar="REGEX",
                   help="regular expression: check only the vectors whose name matches (re.search)")
    v.add_argument("--examples", type=int, default=3, help="differing blocks shown per vector")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    from ._safetensors import SafetensorsError
    from .checkpoint import CheckpointError

    # a signal the caller ignores stays ignored (nohup's SIGHUP: the run must go on)
    previous = {s: signal.signal(s, _on_signal) for s in _STOP_SIGNALS
                if signal.getsignal(s) is not signal.SIG_IGN} if _main_thread() else {}
    try:
        return args.func(args)
    except (CheckpointError, SafetensorsError, _Usage) as e:
        _err(args.command, f"{e}; nothing written")
        return 2
    except BrokenPipeError:  # e.g. `nvfp4-np inspect ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except _Terminated as e:
        name = signal.Signals(e.signum).name
        _err(args.command, f"{'hung up' if name == 'SIGHUP' else 'terminated'} ({name}); nothing written, the "
                           f"output was left as it was")
        return 128 + e.signum
    except KeyboardInterrupt:
        _err(args.command, "interrupted; nothing written, the output was left as it was")
        return 130
    except _runtime_errors() as e:
        _err(args.command, f"{e}; nothing written, the output was left as it was")
        return 1
    except OSError as e:
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        _err(args.command, f"{where}{e.strerror or e}; nothing written, the output was left as it was")
        return 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _runtime_errors():
    """Failures of the machinery, not of the input (exit 1): the Dask cluster's, when it
    was used (never imports dask otherwise)."""
    mod = sys.modules.get("nvfp4_np.distributed")
    return (mod.DistributedError,) if mod else ()


def _main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
