"""Deciding, from headers alone, what happens to every tensor: which weights are
quantized (and how), which are copied, and why."""

import dataclasses
import re

import numpy as np

from .. import recipes, registry
from .fused import fused_groups
from .layout import get_format, output_specs
from .source import Calibration, CheckpointError, open_checkpoint


#: Names skipped unless asked for: embeddings, norms, biases, the output head and MoE
#: routers, as llm-compressor's and ModelOpt's NVFP4 recipes leave them in high precision.
DEFAULT_EXCLUDES = {
    "embedding": r"(^|\.)(embed_tokens|embed_positions|embeddings?|wte|wpe|tok_embeddings|word_embeddings"
                 r"|position_embeddings|shared)(\.|$)",
    "output head": r"(^|\.)lm_head(\.|$)|^output\.weight$",
    "norm": r"norm",
    "bias": r"\.bias$",
    "MoE router": r"\.(gate|router|shared_expert_gate)\.weight$",
}

#: What is quantized: weights only, or weights and activations (their global scales from
#: calibration; the block scales at run time).
SCHEMES = {"w4a16": "NVFP4 weights, 16-bit activations", "w4a4": "NVFP4 weights and activations"}
#: Names of stacked experts (3-D), quantized expert by expert when their axis order is
#: given (Settings.stacked_experts: "out-in" for (E, N, K), "in-out" for (E, K, N)).
EXPERTS = re.compile(r"(^|\.)experts(\.|$)")

#: Modes the command line uses when none is given: the best each method offers.
BEST_MODES = {name: m.checkpoint_mode for name, m in registry.METHODS.items() if m.checkpoint_mode}
#: Methods for tensors without calibration data (they need no activations).
FALLBACKS = registry.methods_without_activations()


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
    unfit: bool = False         # a floating weight (2-D or more) that was wanted but its shape cannot be quantized
    group: str = None           # the fused group whose global scale the weight shares (fused.fused_groups)
    acts: str = None            # W4A4: the key of its activations in the calibration file

    @property
    def module(self):
        return self.name[:-len(".weight")] if self.name.endswith(".weight") else self.name


@dataclasses.dataclass(frozen=True)
class Settings:
    """How weights are quantized (the same for every tensor of a run)."""

    method: str = registry.DEFAULT_METHOD
    mode: str = None
    recipe: str = None           # None: the format's own (compressed-tensors, modelopt); MX: none
    block_size: int = None       # None: the block format's (16 for NVFP4, 32 for MX)
    rounding: str = None
    fallback: str = registry.DEFAULT_METHOD
    device: str = "cpu"
    format: str = "compressed-tensors"
    scheme: str = "w4a16"        # or "w4a4": activation scales from calibration
    fuse_scales: bool = True     # fused layers share one global scale (fused.py)
    stacked_experts: str = None  # axis order of 3-D experts: "out-in" (E, N, K) or "in-out" (E, K, N); None: copied
    damp: float = 0.01           # gptq: dampening, relative to the mean of diag(H)
    order: str = "natural"       # gptq: column order, "natural" or "act"
    rule: str = None             # 4over6: the choice rule (None: the recipe's)
    scale_max: int = None        # 4over6: the E4M3 bound of the tensor constant, 256 or 448 (None: the recipe's)
    block_shape: tuple = None    # (16, 16): one scale per 16x16 tile (methods that take it)
    fmt: str = registry.DEFAULT_FORMAT  # the block format: "nvfp4", or "mxfp4" (compressed-tensors' MXFP4)
    scale_rounding: str = None   # MX, method naive: the E8M0 byte's rounding (None: "even", compressed-tensors')

    @property
    def is_mx(self):
        """Whether the weights are written in an MX format (E8M0 scales, no global scale)."""
        return registry.block_format(self.fmt).is_mx

    @property
    def tile_rows(self):
        """Rows of a block: 16 with 16x16 blocks, else 1."""
        return self.block_shape[0] if self.block_shape else 1

    @property
    def method_options(self):
        """The method's own options for quantize() (4over6: rule, scale_max; and block_shape)."""
        kw = {"rule": self.rule, "scale_max": self.scale_max} if self.method == "4over6" else {}
        if self.block_shape:
            kw["block_shape"] = self.block_shape
        return kw

    def __post_init__(self):
        from ..core import check_device

        try:
            bf = registry.block_format(self.fmt)
        except ValueError as e:
            raise CheckpointError(str(e).replace("fmt must", "--fmt must")) from None
        if self.block_size is None:
            object.__setattr__(self, "block_size", bf.block_sizes[0] if bf.is_mx else 16)
        if self.stacked_experts not in (None, "out-in", "in-out"):
            raise CheckpointError(f"stacked_experts must be 'out-in' or 'in-out', got {self.stacked_experts!r}")
        if bf.is_mx:
            self._check_mx(bf)
            return
        if self.scale_rounding is not None:
            raise CheckpointError("--scale-rounding applies to the MX formats (--fmt mxfp4), not to NVFP4")
        if self.method not in registry.METHODS:
            raise CheckpointError(f"method must be one of {sorted(registry.METHODS)}, got {self.method!r}")
        if self.fallback not in FALLBACKS:
            raise CheckpointError(f"fallback must be one of {FALLBACKS}, got {self.fallback!r}")
        if self.block_size not in registry.METHODS[self.method].block_sizes:
            raise CheckpointError(f"block size must be one of {registry.METHODS[self.method].block_sizes}, "
                                  f"got {self.block_size}")
        fmt = get_format(self.format)
        m = registry.METHODS[self.method]
        if self.recipe is None:  # the format's own, or the method's when it has its own recipes
            object.__setattr__(self, "recipe", fmt.recipe if m.recipes is None else m.recipes[0])
        try:
            m.check_recipe(self.recipe)
        except ValueError as e:
            raise CheckpointError(str(e)) from None
        if self.method == "4over6":
            from ..four_over_six import settings as fos_settings

            try:
                _, rule, smax, _, _ = fos_settings(self.recipe, self.rule, self.scale_max)
            except ValueError as e:
                raise CheckpointError(str(e)) from None
            object.__setattr__(self, "rule", rule)
            object.__setattr__(self, "scale_max", smax)
        elif self.rule is not None or self.scale_max is not None:
            raise CheckpointError(f"rule and scale_max apply to method '4over6', not {self.method!r}")
        if self.block_shape is not None:
            try:
                object.__setattr__(self, "block_shape", registry.block_shape(self.block_shape))
            except ValueError as e:
                raise CheckpointError(str(e)) from None
            if self.device != "cpu" and m.tiles is not None:
                raise CheckpointError(f"16x16 blocks of method {self.method!r} run on the CPU only: use --device cpu")
            if self.block_shape not in m.block_shapes or self.block_size != self.block_shape[1]:
                raise CheckpointError(f"block shape {self.block_shape} does not apply to method {self.method!r} with "
                                      f"block size {self.block_size}"
                                      + (f" (it takes {m.block_shapes})" if m.block_shapes else " (1-D blocks only)"))
            if self.stacked_experts is not None:
                raise CheckpointError("16x16 blocks apply to 2-D weights: not with --stacked-experts")
        if self.scheme not in SCHEMES:
            raise CheckpointError(f"scheme must be one of {list(SCHEMES)}, got {self.scheme!r}")
        if fmt.name == "modelopt" and self.scheme != "w4a4":
            raise CheckpointError("ModelOpt's NVFP4 checkpoints are W4A4 (quant_algo NVFP4: engines read each "
                                  "layer's input_scale): use --format modelopt with --scheme w4a4 --calib ACTS.npz")
        from ..gptq import ORDERS, check_damp

        try:
            check_damp(self.damp)
        except ValueError as e:
            raise CheckpointError(str(e)) from None
        if self.order not in ORDERS:
            raise CheckpointError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.device != "cpu" and registry.METHODS[self.method].gpu is None:
            raise CheckpointError(f"method {self.method!r} runs on the CPU only: use --device cpu")
        modes = registry.METHODS[self.method].modes
        if self.mode is not None and self.mode not in modes:
            raise CheckpointError(f"mode {self.mode!r} does not apply to method {self.method!r}"
                                  f"{' (choose ' + ' or '.join(modes) + ')' if modes else ''}")
        try:
            check_device(self.device)  # a missing GPU is found before anything is read
        except (ValueError, RuntimeError) as e:
            raise CheckpointError(str(e)) from None


    def _check_mx(self, bf):
        """The settings of an MX checkpoint: compressed-tensors' ``mxfp4-pack-quantized``
        (MXFP4A16): weights only, blocks of 32, the MX methods, no recipe or global scale."""
        from ..core import check_device
        from ..mx import check_scale_rounding

        if self.format != "compressed-tensors" or self.fmt != "mxfp4":
            raise CheckpointError(f"--fmt {self.fmt} --format {self.format}: the MX checkpoint layout is "
                                  f"compressed-tensors' mxfp4-pack-quantized (--format compressed-tensors --fmt "
                                  f"mxfp4); quantize the other MX formats with nvfp4_np.quantize(fmt=...)")
        mx_methods = registry.mx_methods()
        for what, name in (("method", self.method), ("fallback", self.fallback)):
            if name not in mx_methods or (what == "fallback" and registry.METHODS[name].needs_activations):
                ok = mx_methods if what == "method" else [n for n in mx_methods
                                                          if not registry.METHODS[n].needs_activations]
                raise CheckpointError(f"{what} {name!r} does not apply to --fmt {self.fmt}: choose one of {list(ok)}")
        if self.block_size not in bf.block_sizes:
            raise CheckpointError(f"--fmt {self.fmt} has blocks of {bf.block_sizes[0]}, got block size "
                                  f"{self.block_size}")
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        given = [flag for flag, v in (("--recipe", self.recipe), ("--rounding", self.rounding), ("--mode", self.mode),
                                      ("--rule", self.rule), ("--scale-max", self.scale_max),
                                      ("--block-shape", self.block_shape)) if v is not None]
        given += [flag for flag, name in (("--damp", "damp"), ("--order", "order"))
                  if getattr(self, name) != defaults[name]]
        if given:
            raise CheckpointError(f"{', '.join(given)} apply to NVFP4, not to --fmt {self.fmt}")
        if self.scheme != "w4a16":
            raise CheckpointError(f"--fmt {self.fmt} writes weights only (compressed-tensors' MXFP4A16): --scheme "
                                  f"w4a16")
        naive_runs = self.method == "naive" or (registry.METHODS[self.method].needs_activations
                                                 and self.fallback == "naive")  # (on tensors without calibration)
        if self.scale_rounding is not None:
            try:
                check_scale_rounding(self.scale_rounding)
            except ValueError as e:
                raise CheckpointError(str(e).replace("scale_rounding", "--scale-rounding")) from None
            if not naive_runs:
                raise CheckpointError(f"--scale-rounding applies to method 'naive' (or --fallback naive); method "
                                      f"{self.method!r} searches the E8M0 byte")
        elif naive_runs:
            object.__setattr__(self, "scale_rounding", MX_CHECKPOINT_ROUNDING)
        object.__setattr__(self, "fuse_scales", False)  # (no global scale to share)
        if self.device != "cpu" and registry.METHODS[self.method].mx_gpu is None:
            raise CheckpointError(f"method {self.method!r} on --fmt {self.fmt} runs on the CPU only: use --device cpu")
        try:
            check_device(self.device)
        except (ValueError, RuntimeError) as e:
            raise CheckpointError(str(e)) from None


#: The naive E8M0 rounding of an MX checkpoint: compressed-tensors' own (its MXFP4
#: compressor rounds amax's mantissa half up, torchao's "even"; docs/checkpoints.md).
MX_CHECKPOINT_ROUNDING = "even"


def plan(ckpt, settings, *, include=None, exclude=(), default_excludes=True, calib=None):
    """Decide, from headers alone, what every tensor of ``ckpt`` becomes.

    A tensor is quantized when it is floating and 2-D (or 3-D stacked experts, a name
    with an ``experts`` component, when ``settings.stacked_experts`` gives their axis
    order: written per expert, ``<prefix>.<e>.<proj>``), its name matches ``include`` (a
    regular expression, searched; default: every name) and no exclude
    pattern (``DEFAULT_EXCLUDES`` unless ``default_excludes`` is False, plus ``exclude``),
    and its K is a multiple of the block. A tensor that ``include`` names explicitly but
    cannot be quantized is an error, as is an ``include`` that matches nothing. Hessian
    methods need a calibration entry; without one a tensor falls back to
    ``settings.fallback``. W4A4 needs activations for every quantized weight. With
    ``settings.fuse_scales`` the members of each fused group (:mod:`.fused`) get its name
    in ``group``.
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
        p.reason = _skip_reason(info, wanted, excl, bs, name, settings.stacked_experts, settings.tile_rows)
        if p.reason is None:
            p.action, p.reason = "quantize", ""
            p.method, p.mode = settings.method, settings.mode
            if settings.method == "4over6":
                p.mode = settings.rule
            if settings.method in BEST_MODES:
                p.mode = None if settings.is_mx else settings.mode or BEST_MODES[settings.method]
                p.calib = calib.check(name, info.shape[-1], bs) if calib is not None and len(info.shape) == 2 else None
                if p.calib is None:
                    p.method, p.mode = settings.fallback, None
                    p.reason = (f"no activations in the calibration file: {settings.fallback}" if len(info.shape) == 2
                                else f"stacked experts have no per-expert calibration: {settings.fallback}")
                elif registry.METHODS[p.method].takes_full_hessian and calib.block_only(p.calib):
                    p.method, p.mode = "hessian", "exact"
                    p.reason = "only block Hessians in the calibration file (no --full-hessian): hessian exact"
            if settings.scheme == "w4a4":
                p.acts = _activations(ckpt, calib, name, info.shape, bs)
            M, K = matrix_shape(info.shape, settings.stacked_experts)
            modules = [p.module] if len(info.shape) == 2 else [expert_module(name, e) for e in range(info.shape[0])]
            for module in modules:
                for oname, dt, shape in output_specs(module, (M, K), bs, settings.format, settings.scheme == "w4a4",
                                                     settings.fmt):
                    if oname in names and oname != name:
                        raise CheckpointError(f"{ckpt.path}: cannot quantize {name!r}: the input already has "
                                              f"{oname!r}")
                    p.outputs.append((oname, dt, shape))
        elif explicit and not any(e.search(name) for _, e in excl):
            raise CheckpointError(f"{ckpt.path}: tensor {name!r} matches --include but "
                                  f"{_unfit(info, bs, settings.stacked_experts, settings.tile_rows)}")
        else:
            p.unfit = (wanted and info.is_float and len(info.shape) >= 2
                       and p.reason == _unfit(info, bs, settings.stacked_experts, settings.tile_rows))
            p.outputs.append((name, info.dtype, info.shape))
        out.append(p)
    if inc is not None and not matched:
        raise CheckpointError(f"{ckpt.path}: --include {include!r} matches none of its {len(names)} tensors")
    if settings.fuse_scales:
        by_name = {p.name: p for p in out}
        weights = [p.name for p in out if p.dtype in ("F64", "F32", "F16", "BF16") and len(p.shape) >= 2]
        for g, members in fused_groups(weights, ckpt.config).items():
            left = [m for m in members if by_name[m].action != "quantize"]
            if left and len(left) < len(members):
                raise CheckpointError(f"{ckpt.path}: the fused layer {g} would be partly quantized ({', '.join(left)}"
                                      f" not): vLLM and SGLang refuse a fused layer with mixed schemes; quantize all "
                                      f"of {', '.join(members)} or none (--include / --exclude)")
        for g, members in fused_groups([p.name for p in out if p.action == "quantize"], ckpt.config).items():
            shapes = {by_name[m].shape[:-2] for m in members}
            if len(shapes) > 1:
                raise CheckpointError(f"{ckpt.path}: the fused group {g} mixes stacked and single weights: {members}")
            for m in members:
                by_name[m].group = g
    return out


def groups_of(plans):
    """{group: [member plans]} of a plan, in plan order."""
    groups = {}
    for p in plans:
        if p.group:
            groups.setdefault(p.group, []).append(p)
    return groups


def _activations(ckpt, calib, name, shape, bs):
    """W4A4: the calibration key of weight ``name``'s activations (T, K) or recorded
    activation amax, or a CheckpointError."""
    kind, key = calib.lookup_amax(name) if calib is not None else (None, None)
    if kind not in ("X", "amax") or len(shape) != 2:
        what = "stacked experts have no per-expert activations" if len(shape) != 2 else \
            "no activations (T, K) or activation amax for it" if kind is None else \
            f"only a Hessian ({key!r}), no activations"
        raise CheckpointError(f"{ckpt.path}: --scheme w4a4 needs the activations of every quantized layer to set "
                              f"its input scale, but tensor {name!r}: {what} in the calibration file "
                              f"{getattr(calib, 'path', '(none given: pass --calib ACTS.npz)')}")
    if kind == "X":
        calib.check(name, shape[-1], bs)
    elif calib.shapes[key] != () or not np.issubdtype(calib.dtypes[key], np.floating):
        raise CheckpointError(f"{calib.path}: {key!r} must be one floating number, got {calib.dtypes[key]} "
                              f"{calib.shapes[key]}")
    return key


def matrix_shape(shape, stacked=None):
    """(M, K) of the matrix quantized: the weight's own, or each expert's of stacked experts
    in the axis order ``stacked`` ("out-in": (E, M, K); "in-out": (E, K, M))."""
    if len(shape) == 2:
        return tuple(shape)
    return (shape[1], shape[2]) if stacked == "out-in" else (shape[2], shape[1])


def expert_module(name, e):
    """The module of expert ``e`` of stacked experts ``<prefix>.<proj>[.weight]``:
    ``<prefix>.<e>.<proj>``, the per-expert name engines load (``mlp.experts.3.gate_proj``)."""
    base = name[:-len(".weight")] if name.endswith(".weight") else name
    prefix, _, proj = base.rpartition(".")
    return f"{prefix}.{e}.{proj}" if prefix else f"{e}.{proj}"


def _unfit(info, bs, stacked=None, tile_rows=1):
    """Why a tensor cannot be quantized, or None."""
    shape = list(info.shape)
    if not info.is_float:
        return f"its dtype {info.dtype} is not floating"
    if len(shape) != 2 and not (len(shape) == 3 and EXPERTS.search(info.name)):
        return f"it is {len(shape)}-D (shape {shape}): neither a 2-D weight nor 3-D stacked experts (named 'experts')"
    if 0 in shape:
        return f"it is empty (shape {shape})"
    if len(shape) == 3 and stacked is None:
        return (f"it holds stacked experts (shape {shape}), whose axis order is model-specific (Llama 4 and gpt-oss "
                f"store (E, in, out)): pass --stacked-experts out-in or in-out to quantize them per expert")
    K = matrix_shape(shape, stacked)[1]
    if K % bs:
        return f"its K = {K} (shape {shape}) is not a multiple of the block size {bs}"
    if tile_rows > 1 and shape[0] % tile_rows:
        return f"its rows ({shape[0]}, shape {shape}) are not a multiple of {tile_rows} (16x16 blocks)"
    return None


def _skip_reason(info, wanted, excl, bs, name, stacked=None, tile_rows=1):
    """None when the tensor is to be quantized, else why it is copied."""
    for why, e in excl:
        if e.search(name):
            return why
    return "not selected" if not wanted else _unfit(info, bs, stacked, tile_rows)


def prepare(inp, settings, *, include=None, exclude=(), default_excludes=True, calib=None):
    """Open the input and the calibration file and make the plan: ``(ckpt, calibration,
    plans)``. Every input error is raised here, before anything is written."""
    if settings.method in BEST_MODES and not calib:
        raise CheckpointError(f"method {settings.method!r} needs activations or Hessians: pass --calib ACTS.npz")
    if settings.scheme == "w4a4" and not calib:
        raise CheckpointError("--scheme w4a4 needs the activations of every quantized layer: pass --calib ACTS.npz")
    ckpt = open_checkpoint(inp)
    cal = Calibration(calib) if calib else None
    return ckpt, cal, plan(ckpt, settings, include=include, exclude=exclude, default_excludes=default_excludes,
                           calib=cal)
