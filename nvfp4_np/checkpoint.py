"""Quantize whole checkpoints: read safetensors (single or sharded), ``.npy`` or ``.npz``
lazily, pick the weights to quantize, and write the compressed-tensors NVFP4 layout that
vLLM and llm-compressor load, with a JSON report of the error of every tensor.

The work is split so that each piece can run anywhere (one process here, Dask workers in
:mod:`nvfp4_np.distributed`): :func:`open_checkpoint` and :func:`plan` decide, from
headers alone, what every output tensor will be; :func:`quantize_tensor` turns one weight
(or a row range of it) into its output arrays; :class:`CheckpointWriter` streams them
into a temporary folder that replaces OUT only when everything is written.

Output layout, per quantized weight ``<module>.weight`` (M, K), block 16
(compressed-tensors format ``nvfp4-pack-quantized``):

- ``<module>.weight_packed``       uint8 (M, K/2), element 2i in the low nibble
- ``<module>.weight_scale``        float8_e4m3fn (M, K/16)
- ``<module>.weight_global_scale`` float32 (1,), the encode form: dequant = q * (s / gs)
"""

import contextlib
import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
import time
import warnings
import zipfile

import numpy as np

from . import __version__, bits, recipes
from ._safetensors import DTYPES, FLOAT_DTYPES, SafetensorsError, SafetensorsFile, SafetensorsWriter, TensorInfo
from ._safetensors import dtype_name
from .hessian import block_hessians
from .tensor import NVFP4Tensor, quantize

__all__ = ["CheckpointError", "open_checkpoint", "plan", "quantize_checkpoint", "dequantize_checkpoint",
           "read_report", "DEFAULT_EXCLUDES", "REPORT_NAME"]

#: Names skipped unless asked for: embeddings, norms, biases and the output head, as
#: llm-compressor's and ModelOpt's NVFP4 recipes leave them in high precision.
DEFAULT_EXCLUDES = {
    "embedding": r"(^|\.)(embed_tokens|embed_positions|embeddings?|wte|wpe|tok_embeddings|word_embeddings"
                 r"|position_embeddings|shared)(\.|$)",
    "output head": r"(^|\.)lm_head(\.|$)|^output\.weight$",
    "norm": r"norm",
    "bias": r"\.bias$",
}
#: The report written beside the output tensors.
REPORT_NAME = "nvfp4_report.json"
#: Suffixes of the compressed-tensors NVFP4 tensors of one weight.
SUFFIXES = ("weight_packed", "weight_scale", "weight_global_scale")
#: Elements per quantize call: rows are independent, so a tensor is quantized in row
#: ranges (same bits as one call, with the whole tensor's amax) to show progress and to
#: react to Ctrl-C within a second or so.
ROWS_ELEMENTS = 1 << 22
#: Modes the command line uses when none is given: the best each method offers.
BEST_MODES = {"hessian": "exact", "admm": "best"}
_LAYOUT_RECIPES = ("seed", "compressed-tensors")  # recipes whose dequant the layout states exactly
_NAMES_KEY = "nvfp4_np.original_names"
#: Files of an input folder not copied to the output: weights in any format, and arrays
#: (calibration data). Everything else (tokenizer, generation config, ...) is copied.
_NOT_COPIED = (".safetensors", ".npz", ".npy", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack")


class CheckpointError(ValueError):
    """Bad input: the message names the file and the tensor."""


# --------------------------------------------------------------------------- reading


class _ArrayFile:
    """A ``.npy`` or ``.npz`` file behind the interface of SafetensorsFile."""

    def __init__(self, path):
        self.path, self.metadata = path, {}
        try:
            if path.endswith(".npy"):
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                self._arrays = {os.path.splitext(os.path.basename(path))[0]: arr}
                shapes = {k: (a.dtype, a.shape) for k, a in self._arrays.items()}
            else:
                self._arrays = None
                shapes = _npz_headers(path)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise CheckpointError(f"{path}: cannot read: {e}") from None
        self.infos = {}
        for name, (dt, shape) in shapes.items():
            try:
                st = dtype_name(dt)
            except TypeError:
                raise CheckpointError(f"{path}: array {name!r} has dtype {dt}, which has no safetensors "
                                      f"equivalent") from None
            self.infos[name] = TensorInfo(name, st, tuple(shape), 0, 0)

    def __contains__(self, name):
        return name in self.infos

    def get(self, name):
        if self._arrays is not None:
            return self._arrays[name]
        with np.load(self.path, allow_pickle=False) as z:
            return z[name]

    def raw(self, name):
        return np.ascontiguousarray(self.get(name)).reshape(-1).view(np.uint8)


def _npz_headers(path):
    """{name: (dtype, shape)} of an .npz file, from the member headers only."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            if not member.endswith(".npy"):
                continue
            with z.open(member) as f:
                version = np.lib.format.read_magic(f)
                shape, _, dt = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                else np.lib.format.read_array_header_2_0(f))
            out[member[:-4]] = (dt, shape)
    return out


@dataclasses.dataclass
class Checkpoint:
    """An opened input: ``shards`` maps each file name to its reader (tensors listed by
    ``reader.infos``), ``where`` maps tensor name to shard, ``folder`` is the model folder
    when the input was one (its other files are copied), ``config`` its config.json."""

    path: str
    shards: dict
    where: dict
    folder: str = None
    config: dict = None
    sharded: bool = False

    def info(self, name):
        return self.shards[self.where[name]].infos[name]

    def get(self, name):
        return self.shards[self.where[name]].get(name)

    def raw(self, name):
        return self.shards[self.where[name]].raw(name)

    def names(self):
        return list(self.where)


def open_checkpoint(path):
    """Open a checkpoint lazily: a ``.safetensors`` file, a sharded checkpoint's
    ``*.safetensors.index.json``, a model folder holding either, a ``.npy`` or a ``.npz``.
    Raises CheckpointError naming the file for anything unreadable."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file or folder")
    folder = None
    if os.path.isdir(path):
        folder = path
        indexes = sorted(f for f in os.listdir(path) if f.endswith(".safetensors.index.json"))
        singles = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
        if indexes:
            path = os.path.join(path, indexes[0])
        elif len(singles) == 1:
            path = os.path.join(path, singles[0])
        else:
            raise CheckpointError(f"{folder}: expected one .safetensors file or a *.safetensors.index.json, found "
                                  f"{len(singles)} .safetensors files and no index")
    config = None
    if folder and os.path.exists(os.path.join(folder, "config.json")):
        try:
            with open(os.path.join(folder, "config.json")) as f:
                config = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{folder}/config.json: cannot read: {e}") from None
    try:
        if path.endswith(".index.json"):
            shards, where = _open_index(path)
            return Checkpoint(path, shards, where, folder, config, sharded=True)
        if path.endswith((".npy", ".npz")):
            reader = _ArrayFile(path)
        else:
            reader = SafetensorsFile(path)
    except SafetensorsError as e:
        raise CheckpointError(str(e)) from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror or e}") from None
    name = os.path.basename(path) if isinstance(reader, SafetensorsFile) else "model.safetensors"
    return Checkpoint(path, {name: reader}, {t: name for t in reader.infos}, folder, config)


def _open_index(path):
    try:
        with open(path) as f:
            index = json.load(f)
        weight_map = index["weight_map"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a safetensors index (need a JSON object with 'weight_map'): {e}") from None
    base = os.path.dirname(path)
    shards = {}
    for shard in dict.fromkeys(weight_map.values()):
        shards[shard] = SafetensorsFile(os.path.join(base, shard))
    where = {}
    for shard, reader in shards.items():
        for t in reader.infos:
            if t in where:
                raise CheckpointError(f"{path}: tensor {t!r} is in two shards, {where[t]} and {shard}")
            where[t] = shard
    for t, shard in weight_map.items():
        if where.get(t) != shard:
            raise CheckpointError(f"{path}: the index puts tensor {t!r} in {shard}, but "
                                  f"{'it is in ' + where[t] if t in where else 'no shard holds it'}")
    return shards, where


# --------------------------------------------------------------------------- calibration


class Calibration:
    """Activations or Hessians per layer from an ``.npz``.

    Keys: ``<module>`` or ``<module>.weight`` hold activations X (T, K); ``<module>.H`` or
    ``<module>.weight.H`` hold the Hessian X^T X (K, K) or its diagonal blocks
    (K/bs, bs, bs). Arrays are read only when their layer is quantized.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise CheckpointError(f"{self.path}: no such calibration file")
        try:
            self.shapes = {k: tuple(s) for k, (_, s) in _npz_headers(self.path).items()}
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{self.path}: not a readable .npz: {e}") from None

    def lookup(self, name):
        """(kind, key) for weight ``name``: kind "X" or "H", or (None, None)."""
        module = name[:-len(".weight")] if name.endswith(".weight") else name
        for kind, keys in (("X", (name, module)), ("H", (name + ".H", module + ".H"))):
            for k in keys:
                if k in self.shapes:
                    return kind, k
        return None, None

    def check(self, name, K, bs):
        """The calibration entry of weight ``name`` with K columns, checked; None if none."""
        kind, key = self.lookup(name)
        if key is None:
            return None
        shape = self.shapes[key]
        ok = {"X": len(shape) == 2 and shape[1] == K,
              "H": shape in ((K, K), (K // bs, bs, bs))}[kind]
        if not ok:
            want = f"(T, {K})" if kind == "X" else f"({K}, {K}) or ({K // bs}, {bs}, {bs})"
            raise CheckpointError(f"{self.path}: {key!r} has shape {shape}, but tensor {name!r} has K = {K}: "
                                  f"{'activations' if kind == 'X' else 'a Hessian'} must be {want}")
        return kind, key

    def load(self, key):
        with np.load(self.path, allow_pickle=False) as z:
            return z[key]


# --------------------------------------------------------------------------- planning


@dataclasses.dataclass
class TensorPlan:
    """What happens to one input tensor; ``outputs`` lists (name, dtype, shape) written."""

    name: str
    shard: str
    dtype: str
    shape: tuple
    action: str                 # "quantize" or "copy"
    reason: str = ""            # why it is copied, or the fallback taken
    method: str = None
    mode: str = None
    calib: tuple = None         # (kind, key) in the calibration file
    outputs: list = dataclasses.field(default_factory=list)

    @property
    def module(self):
        return self.name[:-len(".weight")] if self.name.endswith(".weight") else self.name


@dataclasses.dataclass(frozen=True)
class Settings:
    """How weights are quantized (the same for every tensor of a run)."""

    method: str = "optimal"
    mode: str = None
    recipe: str = "compressed-tensors"
    block_size: int = 16
    rounding: str = None
    fallback: str = "optimal"
    device: str = "cpu"

    def __post_init__(self):
        from .tensor import METHODS

        if self.method not in METHODS:
            raise CheckpointError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        if self.fallback not in ("naive", "optimal"):
            raise CheckpointError(f"fallback must be 'naive' or 'optimal', got {self.fallback!r}")
        if self.block_size not in (16, 32):
            raise CheckpointError(f"block size must be 16 or 32, got {self.block_size}")
        recipes.get_recipe(self.recipe)
        modes = {"hessian": ("seed", "exact"), "admm": ("seed", "best")}.get(self.method, ())
        if self.mode is not None and self.mode not in modes:
            raise CheckpointError(f"mode {self.mode!r} does not apply to method {self.method!r}"
                                  f"{' (choose ' + ' or '.join(modes) + ')' if modes else ''}")
        if self.device not in ("cpu", "cuda"):
            raise CheckpointError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


def plan(ckpt, settings, *, include=None, exclude=(), default_excludes=True, calib=None):
    """Decide, from headers alone, what every tensor of ``ckpt`` becomes.

    A tensor is quantized when it is floating and 2-D, its name matches ``include`` (a
    regular expression, searched; default: every name) and no exclude
    pattern (``DEFAULT_EXCLUDES`` unless ``default_excludes`` is False, plus ``exclude``),
    and its K is a multiple of the block. A tensor that ``include`` names explicitly but
    cannot be quantized is an error, as is an ``include`` that matches nothing. Hessian methods need a calibration entry; without one a tensor falls back to
    ``settings.fallback``.
    """
    try:
        inc = re.compile(include) if include else None
        excl = [(f"excluded by default ({k})", re.compile(v)) for k, v in DEFAULT_EXCLUDES.items()
                if default_excludes]
        excl += [(f"excluded by --exclude {v!r}", re.compile(v)) for v in exclude or ()]
    except re.error as e:
        raise CheckpointError(f"bad regular expression {e.pattern!r}: {e}") from None
    bs = settings.block_size
    out, matched = [], 0
    names = set(ckpt.names())
    for name in ckpt.names():
        info = ckpt.info(name)
        p = TensorPlan(name, ckpt.where[name], info.dtype, info.shape, "copy")
        explicit = inc is not None and inc.search(name) is not None
        matched += explicit
        wanted = explicit if inc is not None else True
        p.reason = _skip_reason(info, wanted, excl, bs, name)
        if p.reason is None:
            if explicit and (not info.is_float or len(info.shape) != 2 or info.shape[1] % bs):
                raise CheckpointError(f"{ckpt.path}: tensor {name!r} matches --include but {_unfit(info, bs)}")
            p.action, p.reason = "quantize", ""
            p.method, p.mode = settings.method, settings.mode
            if settings.method in BEST_MODES:
                p.mode = settings.mode or BEST_MODES[settings.method]
                p.calib = calib.check(name, info.shape[1], bs) if calib is not None else None
                if p.calib is None:
                    p.method, p.mode = settings.fallback, None
                    p.reason = f"no activations in the calibration file: {settings.fallback}"
            M, K = info.shape
            for suffix, dt, shape in zip(SUFFIXES, ("U8", "F8_E4M3", "F32"), ((M, K // 2), (M, K // bs), (1,))):
                oname = f"{p.module}.{suffix}"
                if oname in names:
                    raise CheckpointError(f"{ckpt.path}: cannot quantize {name!r}: the input already has {oname!r}")
                p.outputs.append((oname, dt, shape))
        elif explicit and not any(e.search(name) for _, e in excl):
            raise CheckpointError(f"{ckpt.path}: tensor {name!r} matches --include but {_unfit(info, bs)}")
        else:
            p.outputs.append((name, info.dtype, info.shape))
        out.append(p)
    if inc is not None and not matched:
        raise CheckpointError(f"{ckpt.path}: --include {include!r} matches none of its {len(names)} tensors")
    return out


def _unfit(info, bs):
    if not info.is_float:
        return f"its dtype {info.dtype} is not floating"
    if len(info.shape) != 2:
        return f"it is {len(info.shape)}-D (shape {list(info.shape)}), not a 2-D weight"
    return f"its K = {info.shape[1]} (shape {list(info.shape)}) is not a multiple of the block size {bs}"


def _skip_reason(info, wanted, excl, bs, name):
    """None when the tensor is to be quantized, else why it is copied."""
    for why, e in excl:
        if e.search(name):
            return why
    if not wanted:
        return "not selected"
    if not info.is_float:
        return f"dtype {info.dtype}"
    if len(info.shape) != 2:
        return f"{len(info.shape)}-D"
    if info.shape[1] % bs:
        return f"K = {info.shape[1]} is not a multiple of {bs}"
    return None


# --------------------------------------------------------------------------- one tensor


def global_scale(t):
    """compressed-tensors' ``weight_global_scale`` (encode form) for an NVFP4Tensor. The
    seed recipe has none (1.0); decode-form recipes store ``1/ts``, whose layout dequant
    ``q * (s / (1/ts))`` may differ from their own ``q * (s * ts)`` in the last bit."""
    if t.recipe == "compressed-tensors":
        return np.float32(t.tensor_scale)
    return np.float32(1.0) / np.float32(t.tensor_scale)


def layout_tensor(packed, scale_bytes, gs, shape):
    """The NVFP4Tensor a compressed-tensors triple states (its dequant is what a loader
    computes: ``q * fl(s / gs)``)."""
    M, K = shape
    bs = K // scale_bytes.shape[1]
    return NVFP4Tensor(np.ascontiguousarray(packed), np.ascontiguousarray(scale_bytes), np.float32(gs),
                       (M, K), bs, "compressed-tensors", "stored", 1, "rne")


def row_step(K):
    """Rows per quantize call for a weight with K columns. It also fixes the partition
    over which error sums are accumulated, so any split of the rows into whole steps
    (the Dask tasks) gives the same report figures as one process."""
    return max(1, ROWS_ELEMENTS // max(K, 1))


def tensor_operands(p, settings, calib):
    """What the quantization of weight ``p`` needs besides its rows: ``(X, H_blocks,
    H_full)`` from its calibration entry (X (T, K) float32 or None; the block Hessians,
    computed once per tensor; the full Hessian (K, K) float64 when that was given)."""
    if p.calib is None:
        return None, None, None
    kind, key = p.calib
    A = calib.load(key)
    if kind == "X":
        return np.asarray(A, np.float32), block_hessians(A, settings.block_size), None
    if A.ndim == 2:
        return None, _diag_blocks(A, settings.block_size), np.asarray(A, np.float64)
    return None, A, None


def quantize_rows(W, r0, p, settings, amax, operands, progress=None, step=None):
    """Quantize rows ``[r0, r0 + len(W))`` of weight ``p`` (W float32, r0 a multiple of
    ``step``, default :func:`row_step`) with the whole tensor's ``amax``: a dict with the packed codes,
    scale bytes, global scale, the scale-byte histogram and, per row step, the float64
    sums (|dq - W|^2, |W|^2, output-error numerator and denominator)."""
    X, H, H_full = operands
    M, K = W.shape
    kw = {"recipe": settings.recipe, "rounding": settings.rounding, "tensor_amax": amax, "device": settings.device}
    if H is not None:
        kw.update(H_blocks=H, mode=p.mode)
    step = step or row_step(K)
    if r0 % step:
        raise ValueError(f"row range start {r0} is not a multiple of the row step {step}")
    packed = np.empty((M, K // 2), np.uint8)
    sbytes = np.empty((M, K // settings.block_size), np.uint8)
    sums = np.zeros((-(-M // step), 4))
    X64 = None if X is None else X.astype(np.float64)
    gs = np.float32(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero-scale blocks: counted in the report instead
        for i, a in enumerate(range(0, M, step)):
            b = min(a + step, M)
            t = quantize(W[a:b], settings.block_size, p.method, -1, **kw)
            packed[a:b], sbytes[a:b], gs = t.codes, t.scale_bytes, global_scale(t)
            sums[i] = _error_sums(W[a:b], layout_tensor(t.codes, t.scale_bytes, gs, (b - a, K)).dequantize(),
                                  X64, H_full)
            if progress:
                progress((b - a) * K)
    return {"packed": packed, "sbytes": sbytes, "gs": gs, "sums": sums, "has_output": X is not None or H_full is not None,
            "hist": np.bincount(sbytes.reshape(-1), minlength=256)}


def _error_sums(w, dq, X64, H_full):
    w = w.astype(np.float64)
    d = dq.astype(np.float64) - w
    out = [float(np.einsum("ij,ij->", d, d)), float(np.einsum("ij,ij->", w, w)), 0.0, 0.0]
    if X64 is not None:
        xd, xw = X64 @ d.T, X64 @ w.T
        out[2:] = float(np.einsum("ij,ij->", xd, xd)), float(np.einsum("ij,ij->", xw, xw))
    elif H_full is not None:
        out[2:] = float(np.einsum("ij,ij->", d @ H_full, d)), float(np.einsum("ij,ij->", w @ H_full, w))
    return out


def finish_tensor(p, settings, pieces, seconds):
    """The output arrays and report entry of weight ``p`` from its row pieces (in row
    order)."""
    M, K = p.shape
    packed = np.concatenate([q["packed"] for q in pieces]) if len(pieces) > 1 else pieces[0]["packed"]
    sbytes = np.concatenate([q["sbytes"] for q in pieces]) if len(pieces) > 1 else pieces[0]["sbytes"]
    sums = np.concatenate([q["sums"] for q in pieces]).sum(axis=0)
    hist = sum(q["hist"] for q in pieces)
    gs = pieces[0]["gs"]
    arrays = dict(zip((o[0] for o in p.outputs), (packed, sbytes.view(DTYPES["F8_E4M3"][1]), np.array([gs]))))
    has_out = pieces[0]["has_output"]
    entry = {"name": p.name, "shape": [M, K], "dtype": p.dtype, "action": "quantized", "method": p.method,
             "mode": p.mode, "recipe": settings.recipe, "block_size": settings.block_size,
             "calibration": p.calib[1] if p.calib else None, "note": p.reason or None, "global_scale": float(gs),
             "weight_error_pct": 100 * _ratio(sums[0], sums[1]),
             "output_error_pct": 100 * _ratio(sums[2], sums[3]) if has_out else None,
             "scale_byte_histogram": {f"0x{b:02x}": int(n) for b, n in enumerate(hist) if n},
             "zero_scale_blocks": int(hist[0]), "seconds": seconds,
             "elements_per_s": M * K / max(seconds, 1e-9)}
    return arrays, entry


def _ratio(num, den):
    return math.sqrt(num / den) if den > 0 else (0.0 if num == 0 else math.inf)


def quantize_tensor(W, p, settings, calib=None, *, progress=None):
    """Quantize weight ``W`` (M, K) as planned: ``(arrays, entry)``, the
    compressed-tensors arrays by output name and the report entry. ``progress(n)`` is
    called with the elements done as row steps finish."""
    t0 = time.perf_counter()
    # One float32 copy (the kernels' input type; exact from float16 / bfloat16): read once
    # from the file, reused by every row step and the error figures.
    W = np.asarray(W, np.float32)
    piece = quantize_rows(W, 0, p, settings, _amax(W), tensor_operands(p, settings, calib), progress)
    return finish_tensor(p, settings, [piece], time.perf_counter() - t0)


def _amax(W):
    """max|W| of a float32 array (NaN/Inf are reported by the kernels)."""
    m = np.float32(max(W.max(initial=0), -W.min(initial=0))) if W.size else np.float32(0)
    return m if np.isfinite(m) else np.float32(0)


def _diag_blocks(H, bs):
    K = H.shape[0]
    idx = np.arange(K).reshape(-1, bs)
    return np.ascontiguousarray(H[idx[:, :, None], idx[:, None, :]])


# --------------------------------------------------------------------------- writing


class CheckpointWriter:
    """Writes an output folder atomically: everything goes to a hidden temporary folder
    beside OUT, which is renamed to OUT by :meth:`commit`; :meth:`abort` (or any
    exception in a ``with`` block) removes it and leaves OUT as it was."""

    def __init__(self, out, overwrite=False):
        self.out = os.path.abspath(os.fspath(out))
        if os.path.exists(self.out) and not overwrite:
            raise CheckpointError(f"{self.out}: already exists (pass --overwrite to replace it)")
        parent = os.path.dirname(self.out)
        if not os.path.isdir(parent):
            raise CheckpointError(f"{parent}: no such folder for the output")
        self.tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.partial-", dir=parent)
        self._open = None

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_json(self, name, obj):
        with open(self.path(name), "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")

    def shard(self, name, specs, metadata):
        self._open = SafetensorsWriter(self.path(name), specs, metadata)
        return self._open

    def commit(self):
        """Replace OUT with the finished folder (an existing OUT is moved aside first and
        removed after, so OUT is never a mix of the two)."""
        old = None
        if os.path.exists(self.out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.old-", dir=os.path.dirname(self.out))
            os.rename(self.out, os.path.join(old, "x"))
        os.rename(self.tmp, self.out)
        if old:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self):
        if self._open is not None:
            self._open.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.abort()
        return False


def prepare(inp, settings, *, include=None, exclude=(), default_excludes=True, calib=None):
    """Open the input and the calibration file and make the plan: ``(ckpt, calibration,
    plans)``. Every input error is raised here, before anything is written."""
    if settings.method in BEST_MODES and not calib:
        raise CheckpointError(f"method {settings.method!r} needs activations or Hessians: pass --calib ACTS.npz")
    ckpt = open_checkpoint(inp)
    cal = Calibration(calib) if calib else None
    return ckpt, cal, plan(ckpt, settings, include=include, exclude=exclude, default_excludes=default_excludes,
                           calib=cal)


def quantization_config(plans, settings):
    """The ``quantization_config`` of config.json, as compressed-tensors writes it for
    its NVFP4A16 scheme (weights only); skipped 2-D weights are listed in ``ignore``."""
    ignore = sorted({p.module for p in plans if p.action == "copy" and len(p.shape) == 2 and p.name.endswith("weight")
                     and p.dtype in FLOAT_DTYPES})
    return {
        "config_groups": {"group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 4, "type": "float", "symmetric": True, "group_size": settings.block_size,
                        "strategy": "tensor_group", "dynamic": False, "scale_dtype": "torch.float8_e4m3fn"},
            "input_activations": None, "output_activations": None, "format": None}},
        "quant_method": "compressed-tensors",
        "kv_cache_scheme": None,
        "format": "nvfp4-pack-quantized",
        "quantization_status": "compressed",
        "global_compression_ratio": None,
        "ignore": ignore,
    }


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
    with CheckpointWriter(out, overwrite) as w, contextlib.closing(results):
        weight_map, total = {}, 0
        for shard in ckpt.shards:
            sp = [p for p in order if p.shard == shard]
            specs = [o for p in sp for o in p.outputs]
            fw = w.shard(shard, specs, _shard_metadata(sp))
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
                if log:
                    log(_line(len([e for e in entries if e["action"] == "quantized"]), len(quantized), entry))
            fw.close()
            for oname, dt, shape in specs:
                weight_map[oname] = shard
                total += math.ceil(math.prod(shape) * DTYPES[dt][0] / 8)
        if ckpt.sharded:
            w.write_json(os.path.basename(ckpt.path), {"metadata": {"total_size": total}, "weight_map": weight_map})
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


def _shard_metadata(shard_plans):
    """safetensors ``__metadata__``: "format": "pt" (transformers expects it), and the
    original names of quantized weights not called ``<module>.weight``, so that
    ``dequantize`` restores them."""
    meta = {"format": "pt", "quantized_by": f"nvfp4_np {__version__}"}
    renamed = {p.module: p.name for p in shard_plans if p.action == "quantize" and p.name != p.module + ".weight"}
    if renamed:
        meta[_NAMES_KEY] = json.dumps(renamed, sort_keys=True)
    return meta


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
                         layout_dequant_exact=settings.recipe in _LAYOUT_RECIPES),
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


# --------------------------------------------------------------------------- dequantize


def nvfp4_groups(ckpt):
    """{module: (packed name, scale name, global-scale name, (M, K))} for every
    compressed-tensors NVFP4 triple in ``ckpt``, checked."""
    groups = {}
    for name in ckpt.names():
        if not name.endswith("." + SUFFIXES[0]):
            continue
        module = name[:-len(SUFFIXES[0]) - 1]
        names = [f"{module}.{s}" for s in SUFFIXES]
        missing = [n for n in names if n not in ckpt.where]
        if missing:
            raise CheckpointError(f"{ckpt.path}: {name!r} has no {missing[0]!r}")
        pk, sc, gs = (ckpt.info(n) for n in names)
        if pk.dtype != "U8" or len(pk.shape) != 2:
            raise CheckpointError(f"{ckpt.path}: {pk.name!r} must be 2-D U8, got {pk.dtype} {list(pk.shape)}")
        M, K = pk.shape[0], 2 * pk.shape[1]
        if sc.dtype != "F8_E4M3" or len(sc.shape) != 2 or sc.shape[0] != M or sc.shape[1] == 0 \
                or K % sc.shape[1] or K // sc.shape[1] not in (16, 32):
            raise CheckpointError(f"{ckpt.path}: {sc.name!r} must be F8_E4M3 ({M}, {K}/16), "
                                  f"got {sc.dtype} {list(sc.shape)}")
        if gs.dtype != "F32" or math.prod(gs.shape) != 1:
            raise CheckpointError(f"{ckpt.path}: {gs.name!r} must be one F32, got {gs.dtype} {list(gs.shape)}")
        groups[module] = (*names, (M, K))
    return groups


def load_quantized(ckpt, module, groups):
    """The NVFP4Tensor of one compressed-tensors triple."""
    pk, sc, gs, shape = groups[module]
    return layout_tensor(ckpt.get(pk), ckpt.get(sc).view(np.uint8), np.asarray(ckpt.get(gs)).reshape(-1)[0], shape)


def dequantize_checkpoint(inp, out, dtype="float32", *, overwrite=False, log=None):
    """Expand every compressed-tensors NVFP4 triple back to ``<module>.weight`` in
    ``dtype`` (float32 is exact; bfloat16 and float16 round to nearest even, as
    compressed-tensors' own ``decompress`` does to bfloat16); other tensors are copied.
    ``out`` ending in ``.npz`` writes one ``.npz``, otherwise a folder of safetensors
    shards named as the input's."""
    np_dtype = {"float32": np.float32, "bfloat16": DTYPES["BF16"][1], "float16": np.float16}.get(dtype)
    if np_dtype is None:
        raise CheckpointError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    ckpt = open_checkpoint(inp)
    groups = nvfp4_groups(ckpt)
    members = {n: m for m, g in groups.items() for n in g[:3]}
    original = {}
    for reader in ckpt.shards.values():
        try:
            original.update(json.loads(reader.metadata.get(_NAMES_KEY, "{}")))
        except json.JSONDecodeError:
            pass

    def tensors(shard):
        for name in ckpt.names():
            if ckpt.where[name] != shard:
                continue
            m = members.get(name)
            if m is None:
                yield name, None
            elif name == groups[m][0]:
                yield original.get(m, f"{m}.weight"), m

    if os.fspath(out).endswith(".npz"):
        if np_dtype != np.float32 and np_dtype != np.float16:
            raise CheckpointError(f"{out}: .npz cannot hold {dtype} (NumPy has no such dtype); write a folder "
                                  f"(safetensors) or use --dtype float32")
        if os.path.exists(out) and not overwrite:
            raise CheckpointError(f"{out}: already exists (pass --overwrite to replace it)")
        arrays = {}
        for shard in ckpt.shards:
            for name, m in tensors(shard):
                if m:
                    arrays[name] = load_quantized(ckpt, m, groups).dequantize().astype(np_dtype)
                else:  # NumPy has no bfloat16 / float8: widen those (exactly) to float32
                    a = np.array(ckpt.get(name))
                    arrays[name] = a.astype(np.float32) if a.dtype.kind == "V" else a
        tmp = tempfile.mktemp(prefix=f".{os.path.basename(out)}.partial-", suffix=".npz",
                              dir=os.path.dirname(os.path.abspath(out)))
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return {"dequantized": len(groups), "tensors": len(arrays)}
    with CheckpointWriter(out, overwrite) as w:
        weight_map = {}
        for shard in ckpt.shards:
            items = list(tensors(shard))
            specs = [(n, dtype_name(np_dtype), groups[m][3]) if m else (n, ckpt.info(n).dtype, ckpt.info(n).shape)
                     for n, m in items]
            fw = w.shard(shard, specs, {"format": "pt"})
            for n, m in items:
                if m:
                    fw.write(n, load_quantized(ckpt, m, groups).dequantize().astype(np_dtype))
                    if log:
                        log(f"{n} {groups[m][3][0]}x{groups[m][3][1]} -> {dtype}")
                else:
                    fw.write_raw(n, ckpt.raw(n))
                weight_map[n] = shard
            fw.close()
        if ckpt.sharded:
            w.write_json(os.path.basename(ckpt.path), {"metadata": {}, "weight_map": weight_map})
        if ckpt.config is not None:
            config = {k: v for k, v in ckpt.config.items() if k != "quantization_config"}
            w.write_json("config.json", config)
        w.commit()
    return {"dequantized": len(groups), "tensors": len(weight_map)}


# --------------------------------------------------------------------------- inspect


def inspect_rows(path):
    """One dict per logical tensor of a checkpoint: name, shape, dtype, how it is stored,
    and for quantized weights the method and errors from the report beside it."""
    ckpt = open_checkpoint(path)
    groups = nvfp4_groups(ckpt)
    folder = ckpt.folder or os.path.dirname(os.path.abspath(ckpt.path))
    try:
        report = read_report(folder)
        by_name = {e["name"]: e for e in report["tensors"]}
    except (OSError, ValueError):
        by_name = {}
    original = {}
    for reader in ckpt.shards.values():
        original.update(json.loads(reader.metadata.get(_NAMES_KEY, "{}")))
    members = {n: m for m, g in groups.items() for n in g[:3]}
    rows = []
    for name in ckpt.names():
        if name not in members:
            info = ckpt.info(name)
            rows.append({"name": name, "shape": list(info.shape), "dtype": info.dtype, "stored": info.dtype})
            continue
        m = members[name]
        if name != groups[m][0]:
            continue
        pk, sc, gsn, (M, K) = groups[m]
        gs = float(np.asarray(ckpt.get(gsn)).reshape(-1)[0])
        wname = original.get(m, f"{m}.weight")
        e = by_name.get(wname, {})
        rows.append({"name": wname, "shape": [M, K], "dtype": e.get("dtype", "-"),
                     "stored": f"nvfp4 b{K // ckpt.info(sc).shape[1]} gs={gs:.6g}",
                     "method": (e.get("method", "") + ("/" + e["mode"] if e.get("mode") else "")) or None,
                     "weight_error_pct": e.get("weight_error_pct"), "output_error_pct": e.get("output_error_pct")})
    return rows


def run_label(report):
    """A short name for a quantize run: method[/mode] recipe."""
    s = report["settings"]
    return f"{s['method']}{'/' + s['mode'] if s.get('mode') else ''} {s['recipe']}"
