"""Calibrate from a real model: run a Hugging Face model on local text and record, for
every linear layer ``quantize`` would quantize, its block Hessians ``H_j = X_j^T X_j``
(float64, accumulated window by window: O(K * 16) memory per layer, never the whole X),
its activation amax and token count, in the ``.npz`` that ``quantize --calib`` reads.

Needs torch and transformers (``pip install 'nvfp4_np[calibrate]'``); nothing else in
nvfp4_np imports them. Layers that read the same input tensor (q/k/v, gate/up, an
expert's gate/up) share one record: the file holds it once, and the metadata's
``aliases`` name the others.

File layout (all keys are checkpoint tensor names without ``.weight``):

- ``<module>.H``       float64 (K/16, 16, 16), the block Hessians; with ``full_hessian``
  float32 (K, K), the whole H = X^T X (accumulated in float64, stored rounded to
  float32: what ``quantize --method gptq`` needs), for the layers that fit
  ``max_hessian_mb``;
- ``<module>.amax``    float32 (), max |X| over the calibration tokens;
- ``<module>.tokens``  int64 (), how many tokens (rows of X) were seen;
- ``__calibration__``  uint8, UTF-8 JSON: model, text files and their SHA-256, samples,
  seq_len, dtype, block size, library version, ``aliases`` {module: module recorded}.
"""

import hashlib
import json
import os
import re

import numpy as np

from ._version import __version__
from .checkpoint import CheckpointError, Settings, open_checkpoint, plan
from .checkpoint.paths import CALIBRATION_MARK, check_output
from .checkpoint.source import CALIBRATION_KEY
from .checkpoint.writer import clean_leftovers, write_npz

#: Block of the recorded Hessians (NVFP4's).
BLOCK = 16
#: Modules a model class may add on top of the checkpoint's (BertModel's pooler for a
#: BertForMaskedLM checkpoint): missing weights there do not change what any layer reads.
_HEADS = ("pooler", "lm_head", "cls", "classifier", "score", "qa_outputs")


def _torch():
    try:
        import torch
        import transformers
    except ImportError as e:
        raise CheckpointError(f"calibrate needs torch and transformers ({e}): pip install 'nvfp4_np[calibrate]'") \
            from None
    return torch, transformers


def windows(token_ids, samples, seq_len):
    """The first ``samples`` windows of ``seq_len`` consecutive tokens of the text (fewer
    when the text is short; a CheckpointError when it holds less than one)."""
    n = min(samples, len(token_ids) // seq_len)
    if n == 0:
        raise CheckpointError(f"the text has {len(token_ids)} tokens, fewer than one window of --seq-len {seq_len}")
    return [token_ids[i * seq_len:(i + 1) * seq_len] for i in range(n)]


def _layer_names(model, names, wanted):
    """{model module name: checkpoint module name} for the model's nn.Linear layers whose
    weight is one of ``wanted``. A model class may add or drop a prefix ("bert." for
    AutoModel): a module's weight is matched to the checkpoint weight (of all ``names``)
    that shares its longest dotted suffix, which must be unique."""
    torch, _ = _torch()
    by_suffix = {}
    for w in names:
        parts = w.split(".")
        for i in range(len(parts)):
            by_suffix.setdefault(".".join(parts[i:]), set()).add(w)
    out = {}
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear):
            continue
        parts = f"{name}.weight".split(".")
        for i in range(len(parts) - 1):
            hits = by_suffix.get(".".join(parts[i:]), set())
            if hits:
                if len(hits) == 1 and next(iter(hits)) in wanted:
                    out[name] = next(iter(hits))[:-len(".weight")]
                break
    if len(set(out.values())) != len(out):
        raise CheckpointError("two modules of the model match one checkpoint weight; name the layers with --layers")
    return out


class _Recorder:
    """Forward pre-hooks that accumulate each layer's block Hessians, amax and tokens;
    a layer whose input is the very tensor another layer read in the same window is
    recorded once, under the first one's name."""

    def __init__(self, torch, full=()):
        self.torch = torch
        self.full = set(full)  # the layers recorded with their whole H
        self.H, self.amax, self.tokens, self.alias = {}, {}, {}, {}
        self.seen = {}  # this window: id of an input tensor -> (tensor kept alive, module that recorded it)

    def hook(self, name):
        def pre(mod, args):
            if not args:  # called with keyword arguments only: nothing to record
                return
            x = args[0]
            key = id(x)
            if key in self.seen and self.seen[key][0] is x:
                first = self.seen[key][1]
                if self.alias.setdefault(name, first) != first:
                    raise CheckpointError(f"layer {name} read the input of {first}, but earlier that of "
                                          f"{self.alias[name]}: their records cannot be shared")
                return
            if self.alias.get(name, name) != name:
                raise CheckpointError(f"layer {name} shared {self.alias[name]}'s input before, not in this window: "
                                      f"their records cannot be shared")
            self.alias[name] = name
            self.seen[key] = (x, name)
            self._add(name, x)
        return pre

    def _add(self, name, x):
        torch = self.torch
        K = x.shape[-1]
        x64 = x.detach().reshape(-1, K).to(torch.float64)
        if K % BLOCK:
            raise CheckpointError(f"layer {name}: K = {K} is not a multiple of {BLOCK}")
        if name in self.full:
            h = x64.T @ x64
        else:
            xb = x64.reshape(x64.shape[0], K // BLOCK, BLOCK)
            h = torch.einsum("tbi,tbj->bij", xb, xb)
        self.H[name] = h if name not in self.H else self.H[name] + h
        a = float(x.detach().abs().max().float()) if x.numel() else 0.0
        self.amax[name] = max(self.amax.get(name, 0.0), a)
        self.tokens[name] = self.tokens.get(name, 0) + x64.shape[0]

    def next_window(self):
        self.seen.clear()


#: Default budget of full Hessians (MiB, float64 while recording).
MAX_HESSIAN_MB = 4096


def full_hessian_plan(shapes, max_mb=MAX_HESSIAN_MB):
    """Which layers get their whole H: ``shapes`` {module: K} in recording order; layers
    are taken in that order while the float64 (K, K) matrices fit ``max_mb`` MiB (layers
    sharing an input are counted each: a bound). Returns (modules, MiB taken, modules left
    with block Hessians)."""
    taken, left, total = [], [], 0.0
    for m, K in shapes.items():
        mb = K * K * 8 / 2**20
        if total + mb <= max_mb:
            taken.append(m)
            total += mb
        else:
            left.append(m)
    return taken, total, left


def calibrate(model_dir, texts, out, *, samples=128, seq_len=512, layers=None, dtype="bfloat16", device="cpu",
              overwrite=False, progress=None, note=None, full_hessian=False, max_hessian_mb=MAX_HESSIAN_MB):
    """Run the model in ``model_dir`` on the text files ``texts`` and write the
    calibration file ``out`` (see the module docstring). Returns its metadata.

    ``samples`` windows of ``seq_len`` tokens are taken from the start of the
    concatenated, tokenized texts; ``layers`` (a regular expression) narrows the layers
    recorded to those whose name it matches, among those ``quantize`` would quantize.
    ``progress(i, n)`` is called after each window. ``full_hessian``: record each
    layer's whole (K, K) H (for GPTQ) while they fit ``max_hessian_mb`` MiB; ``note`` is
    told the size before the run starts, and which layers keep block Hessians."""
    torch, transformers = _torch()
    model_dir = os.fspath(model_dir)
    texts = [os.fspath(t) for t in texts]
    if not texts:
        raise CheckpointError("calibrate needs at least one --text file")
    for t in texts:
        if not os.path.isfile(t):
            raise CheckpointError(f"{t}: no such text file")
    if dtype not in ("bfloat16", "float32"):
        raise CheckpointError(f"dtype must be bfloat16 or float32, got {dtype!r}")
    if not (isinstance(samples, int) and samples > 0 and isinstance(seq_len, int) and seq_len > 0):
        raise CheckpointError(f"--samples and --seq-len must be positive, got {samples} and {seq_len}")
    out = check_output(out, overwrite, [model_dir, *texts])
    ckpt = open_checkpoint(model_dir)
    try:
        pattern = re.compile(layers) if layers else None
    except re.error as e:
        raise CheckpointError(f"bad regular expression {layers!r}: {e}") from None
    wanted = [p.name for p in plan(ckpt, Settings()) if p.action == "quantize" and len(p.shape) == 2
              and (pattern is None or pattern.search(p.name))]
    if not wanted:
        raise CheckpointError(f"{model_dir}: no layer to calibrate{' matches ' + repr(layers) if layers else ''}")

    files, text = [], []
    for t in texts:
        with open(t, "rb") as f:
            data = f.read()
        try:
            text.append(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise CheckpointError(f"{t}: not UTF-8 text: {e}") from None
        files.append({"path": os.path.abspath(t), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    config = ckpt.config or {}
    if config.get("is_encoder_decoder"):
        raise CheckpointError(f"{model_dir}: an encoder-decoder model; calibrate runs decoders and encoders")
    limit = config.get("max_position_embeddings")
    if isinstance(limit, int) and seq_len > limit:
        raise CheckpointError(f"--seq-len {seq_len} is longer than the model's max_position_embeddings {limit}")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(model_dir)
        ids = tok("\n\n".join(text), add_special_tokens=False, verbose=False)["input_ids"]  # windowed below
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{model_dir}: transformers cannot load its tokenizer: {e}") from None
    chunks = windows(ids, samples, seq_len)
    archs = config.get("architectures") or []
    causal = any(isinstance(a, str) and a.endswith("ForCausalLM") for a in archs)
    auto = transformers.AutoModelForCausalLM if causal else transformers.AutoModel
    try:
        model, info = auto.from_pretrained(model_dir, dtype=getattr(torch, dtype), output_loading_info=True)
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{model_dir}: transformers cannot load it: {e}") from None
    missing = sorted(k for k in info.get("missing_keys", []) if not k.endswith("rotary_emb.inv_freq"))
    heads = [k for k in missing if k.split(".")[0] in _HEADS]  # run after every layer: their values do not matter
    if len(heads) < len(missing):
        raise CheckpointError(f"{model_dir}: transformers would initialise {len(missing) - len(heads)} weights at "
                              f"random (not in the checkpoint), first {[k for k in missing if k not in heads][0]!r}")
    if heads and note:
        note(f"transformers initialised {len(heads)} weights of the model class's head at random ({heads[0]!r}, "
             f"...): they run after every recorded layer")
    try:
        model = model.to(device).eval()
    except (RuntimeError, AssertionError, ValueError) as e:
        raise CheckpointError(f"--device {device!r}: torch cannot use it: {e}") from None
    names = _layer_names(model, ckpt.names(), set(wanted))
    missing = sorted(set(w[:-len(".weight")] for w in wanted) - set(names.values()))
    if missing and note:
        note(f"{len(missing)} layers to quantize are not nn.Linear modules of the loaded model and get no record, "
             f"first {missing[0]!r}")
    if len(chunks) < samples and note:
        note(f"the text gives {len(chunks)} windows of {seq_len} tokens, fewer than --samples {samples}")
    full = []
    if full_hessian and not (isinstance(max_hessian_mb, (int, float)) and max_hessian_mb > 0):  # (NaN fails too)
        raise CheckpointError(f"--max-hessian-mb must be a number > 0, got {max_hessian_mb!r}")
    if full_hessian:
        ks = {names[n]: mod.in_features for n, mod in model.named_modules() if n in names}
        full, mb, left = full_hessian_plan(ks, max_hessian_mb)
        if note:
            note(f"full Hessians for {len(full)} layers: {mb:.0f} MiB of float64 while recording, "
                 f"{mb / 2:.0f} MiB in the file (float32)")
            if left:
                note(f"{len(left)} layers do not fit --max-hessian-mb {max_hessian_mb} and keep block Hessians "
                     f"(GPTQ falls back to the Hessian search there), first {left[0]!r}")
    rec = _Recorder(torch, full)
    handles = [mod.register_forward_pre_hook(rec.hook(names[n])) for n, mod in model.named_modules() if n in names]
    clean_leftovers(out, overwrite, note)
    try:
        with torch.inference_mode():
            for i, chunk in enumerate(chunks):
                rec.next_window()
                try:
                    model(torch.tensor([chunk], device=device))
                except (RuntimeError, ValueError, IndexError) as e:
                    raise CheckpointError(f"{model_dir}: the forward pass failed on window {i}: "
                                          f"{type(e).__name__}: {e}") from None
                if progress:
                    progress(i + 1, len(chunks))
    finally:
        for h in handles:
            h.remove()
    meta = {"format": "nvfp4_np.calibration", "version": 1, "nvfp4_np": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "model": os.path.abspath(model_dir), "model_class":
            type(model).__name__, "files": files, "samples": len(chunks), "seq_len": seq_len, "dtype": dtype,
            "block_size": BLOCK, "tokens": len(chunks) * seq_len, "recorded": len(rec.H),
            "full_hessians": sorted(m for m in rec.H if rec.H[m].ndim == 2),
            "aliases": {m: r for m, r in sorted(rec.alias.items()) if m != r}}
    arrays = {}
    for m in sorted(rec.H):
        h = rec.H[m].cpu().numpy()
        arrays[f"{m}.H"] = h.astype(np.float32) if h.ndim == 2 else h
        arrays[f"{m}.amax"] = np.float32(rec.amax[m])
        arrays[f"{m}.tokens"] = np.int64(rec.tokens[m])
    arrays[CALIBRATION_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    write_npz(out, arrays, CALIBRATION_MARK, overwrite, [model_dir, *texts])
    return meta
