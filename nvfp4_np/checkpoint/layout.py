"""The two checkpoint layouts serving engines load (:data:`FORMATS`). Per quantized
weight ``<module>.weight`` (M, K), block 16:

compressed-tensors ``nvfp4-pack-quantized`` (vLLM, SGLang, llm-compressor, transformers):

- ``<module>.weight_packed``       uint8 (M, K/2), element 2i in the low nibble
- ``<module>.weight_scale``        float8_e4m3fn (M, K/16)
- ``<module>.weight_global_scale`` float32 (1,), the encode form: dequant = q * (s / gs)
- ``<module>.input_global_scale``  float32 (1,) under W4A4, encode form 2688 / activation amax

ModelOpt (TensorRT-LLM, SGLang, vLLM's modelopt loader; ``hf_quant_config.json``):

- ``<module>.weight``         uint8 (M, K/2)
- ``<module>.weight_scale``   float8_e4m3fn (M, K/16)
- ``<module>.weight_scale_2`` float32 (), the decode form: dequant = q * (s * ws2)
- ``<module>.input_scale``    float32 () under W4A4, decode form activation amax / 2688

compressed-tensors ``mxfp4-pack-quantized`` (``--fmt mxfp4``; vLLM's W4A16 MXFP4 scheme):

- ``<module>.weight_packed``       uint8 (M, K/2), element 2i in the low nibble
- ``<module>.weight_scale``        uint8 (M, K/32), E8M0: dequant = q * 2^(b - 127)

Stacked experts are written per expert, as engines load them: ``<prefix>.<e>.<proj>.*``.
"""

import dataclasses
import json
import math

import numpy as np

from .. import recipes
from .._version import __version__
from .._safetensors import FLOAT_DTYPES
from ..mx_tensor import MXTensor
from ..tensor import NVFP4Tensor
from .source import CheckpointError


@dataclasses.dataclass(frozen=True)
class Format:
    """One checkpoint layout: its tensor suffixes, and the convention of its per-tensor
    scales (``recipe``: the recipe whose stored tensor scale is this layout's global
    scale, and whose dequant the layout states)."""

    name: str
    packed: str
    scale: str
    global_scale: str
    input_scale: str
    recipe: str           # also the format's default recipe
    scalar_shape: tuple   # the shape of one global or input scale


#: The layouts, by ``--format``.
FORMATS = {
    "compressed-tensors": Format("compressed-tensors", "weight_packed", "weight_scale", "weight_global_scale",
                                 "input_global_scale", "compressed-tensors", (1,)),
    "modelopt": Format("modelopt", "weight", "weight_scale", "weight_scale_2", "input_scale", "modelopt", ()),
}
#: Suffixes of the compressed-tensors NVFP4 tensors of one weight.
SUFFIXES = tuple(getattr(FORMATS["compressed-tensors"], k) for k in ("packed", "scale", "global_scale"))
#: safetensors metadata key of the original names of renamed weights (shard_metadata).
NAMES_KEY = "nvfp4_np.original_names"


def get_format(name):
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise CheckpointError(f"format must be one of {sorted(FORMATS)}, got {name!r}") from None


def _encodes(recipe):
    """Whether a recipe stores its tensor scale in the encode form (a divisor)."""
    return recipes.get_recipe(recipe).dequant == "q*(s/ts)"


def layout_exact(recipe, fmt):
    """Whether the layout ``fmt`` states recipe ``recipe``'s dequant exactly: the same
    form of the tensor scale, or a single-level recipe (scale 1). Otherwise the stored
    global scale is the reciprocal, and the layout's dequant may differ in the last bit."""
    return not recipes.get_recipe(recipe).two_level or _encodes(recipe) == _encodes(get_format(fmt).recipe)


def global_scale(t, fmt="compressed-tensors"):
    """The global scale layout ``fmt`` stores for NVFP4Tensor ``t``: its tensor scale when
    the forms agree, 1.0 for the seed recipe, else its reciprocal."""
    if not recipes.get_recipe(t.recipe).two_level:
        return np.float32(1.0)
    if _encodes(t.recipe) == _encodes(get_format(fmt).recipe):
        return np.float32(t.tensor_scale)
    return np.float32(1.0) / np.float32(t.tensor_scale)


def input_scale(amax, fmt):
    """The activation scale layout ``fmt`` stores for calibration amax ``amax``: the
    format's recipe's tensor scale (compressed-tensors 2688/amax as it computes it,
    ModelOpt amax/2688)."""
    return recipes.params(get_format(fmt).recipe, None, np.float32(amax)).ts


def layout_tensor(packed, scale_bytes, gs, shape, fmt="compressed-tensors"):
    """The NVFP4Tensor a stored (packed, scale, global scale) of one 2-D weight states:
    its dequant is what a loader computes (``q * fl(s / gs)`` for compressed-tensors,
    ``q * fl(s * gs)`` for ModelOpt)."""
    M, K = shape
    bs = K // scale_bytes.shape[1]
    return NVFP4Tensor(np.ascontiguousarray(packed), np.ascontiguousarray(scale_bytes), np.float32(gs),
                       (M, K), bs, get_format(fmt).recipe, "stored", 1, "rne")


def output_specs(module, shape, bs, fmt, w4a4, block_format="nvfp4"):
    """(name, dtype, shape) of the tensors written for quantized weight ``module`` of
    ``shape`` (M, K)."""
    f = get_format(fmt)
    M, K = shape
    if block_format != "nvfp4":  # MXFP4: the codes and E8M0 bytes, no global scale
        return [(f"{module}.{f.packed}", "U8", (M, K // 2)), (f"{module}.{f.scale}", "U8", (M, K // bs))]
    specs = [(f"{module}.{f.packed}", "U8", (M, K // 2)), (f"{module}.{f.scale}", "F8_E4M3", (M, K // bs)),
             (f"{module}.{f.global_scale}", "F32", f.scalar_shape)]
    if w4a4:
        specs.append((f"{module}.{f.input_scale}", "F32", f.scalar_shape))
    return specs


def _ignored(plans):
    """The modules of floating 2-D weights left unquantized (``ignore``, ``exclude_modules``)."""
    return sorted({p.module for p in plans if p.action == "copy" and len(p.shape) == 2 and p.name.endswith("weight")
                   and p.dtype in FLOAT_DTYPES})


def quantization_config(plans, settings):
    """The ``quantization_config`` of config.json: compressed-tensors' NVFP4A16 or NVFP4
    (W4A4) scheme as llm-compressor writes it, or ModelOpt's (the fields of
    :func:`hf_quant_config`); skipped 2-D weights are listed in ``ignore``
    (``exclude_modules``)."""
    bs = settings.block_size
    if settings.is_mx:
        return _mx_quantization_config(plans, settings)
    if settings.format == "modelopt":
        # the nested form of hf_quant_config.json: loaders read exclude_modules from "quantization"
        return {"quant_method": "modelopt", **hf_quant_config(plans, settings)}
    fp4 = {"num_bits": 4, "type": "float", "symmetric": True, "group_size": bs, "strategy": "tensor_group",
           "scale_dtype": "torch.float8_e4m3fn"}
    acts = dict(fp4, dynamic="local", observer="static_minmax") if settings.scheme == "w4a4" else None
    return {
        "config_groups": {"group_0": {
            "targets": ["Linear"],
            "weights": dict(fp4, dynamic=False),
            "input_activations": acts, "output_activations": None, "format": None}},
        "quant_method": "compressed-tensors",
        "kv_cache_scheme": None,
        "format": "nvfp4-pack-quantized",
        "quantization_status": "compressed",
        "global_compression_ratio": None,
        "ignore": _ignored(plans),
    }


def _mx_quantization_config(plans, settings):
    """compressed-tensors' MXFP4A16 scheme (``mxfp4-pack-quantized``) as compressed-tensors
    0.20 serializes it: 4-bit float weights, groups of 32, uint8 (E8M0) scales."""
    weights = {"num_bits": 4, "type": "float", "symmetric": True, "group_size": settings.block_size,
               "strategy": "group", "dynamic": False, "scale_dtype": "torch.uint8"}
    return {
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": None,
                                      "output_activations": None, "format": "mxfp4-pack-quantized"}},
        "quant_method": "compressed-tensors",
        "kv_cache_scheme": None,
        "format": "mxfp4-pack-quantized",
        "quantization_status": "compressed",
        "global_compression_ratio": None,
        "ignore": _ignored(plans),
    }


def hf_quant_config(plans, settings):
    """ModelOpt's ``hf_quant_config.json``."""
    return {"producer": {"name": "nvfp4_np", "version": __version__},
            "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": None, "group_size": settings.block_size,
                             "exclude_modules": _ignored(plans)}}


def shard_metadata(shard_plans):
    """safetensors ``__metadata__``: "format": "pt" (transformers expects it), and the
    original names of quantized weights not called ``<module>.weight``, so that
    ``dequantize`` restores them."""
    meta = {"format": "pt", "quantized_by": f"nvfp4_np {__version__}"}
    renamed = {p.module: p.name for p in shard_plans if p.action == "quantize" and p.name != p.module + ".weight"}
    if renamed:
        meta[NAMES_KEY] = json.dumps(renamed, sort_keys=True)
    return meta


@dataclasses.dataclass(frozen=True)
class StoredWeight:
    """One quantized weight found in a checkpoint: its layout, the names of its tensors
    (``input_scale`` None without one) and the shape of the weight, (M, K) or (E, M, K)."""

    format: Format
    packed: str
    scale: str
    global_scale: str
    input_scale: str
    shape: tuple

    @property
    def is_mx(self):
        """MXFP4 (E8M0 scale bytes, no global scale)."""
        return self.global_scale is None

    @property
    def names(self):
        return [n for n in (self.packed, self.scale, self.global_scale, self.input_scale) if n]


def _stored_mx(ckpt, module, f):
    """The StoredWeight of MXFP4 ``module`` (a U8 ``weight_scale``, no global scale), checked."""
    pk, sc = ckpt.info(f"{module}.{f.packed}"), ckpt.info(f"{module}.{f.scale}")
    if pk.dtype != "U8" or len(pk.shape) not in (2, 3):
        raise CheckpointError(f"{ckpt.path}: {pk.name!r} must be 2-D (or stacked 3-D) U8, got {pk.dtype} "
                              f"{list(pk.shape)}")
    lead, K = tuple(pk.shape[:-1]), 2 * pk.shape[-1]
    if tuple(sc.shape) != lead + (K // 32,) or K % 32:
        raise CheckpointError(f"{ckpt.path}: {sc.name!r} must be U8 {list(lead) + [f'{K}/32']} (MXFP4's E8M0 "
                              f"bytes), got {sc.dtype} {list(sc.shape)}")
    return StoredWeight(f, pk.name, sc.name, None, None, lead + (K,))


def _declared_format(ckpt):
    """The ``quantization_config.format`` of the checkpoint's config.json (a string), or None."""
    qc = ckpt.config.get("quantization_config") if isinstance(ckpt.config, dict) else None
    declared = qc.get("format") if isinstance(qc, dict) else None
    return declared if isinstance(declared, str) else None


def _stored(ckpt, module, f):
    """The StoredWeight of ``module`` in layout ``f``, checked."""
    if f.name == "compressed-tensors" and f"{module}.{f.scale}" in ckpt.where \
            and ckpt.info(f"{module}.{f.scale}").dtype == "U8" and f"{module}.{f.global_scale}" not in ckpt.where:
        declared = _declared_format(ckpt)  # (a mixed-precision config declares formats per group)
        if declared not in (None, "mxfp4-pack-quantized", "mixed-precision"):
            raise CheckpointError(f"{ckpt.path}: {module!r} is stored as MXFP4 (a U8 {f.scale}, no {f.global_scale}) "
                                  f"but config.json declares format {declared!r}")
        return _stored_mx(ckpt, module, f)
    names = [f"{module}.{s}" for s in (f.packed, f.scale, f.global_scale)]
    missing = [n for n in names if n not in ckpt.where]
    if missing:
        raise CheckpointError(f"{ckpt.path}: {names[0]!r} has no {missing[0]!r}")
    pk, sc, gs = (ckpt.info(n) for n in names)
    if pk.dtype != "U8" or len(pk.shape) not in (2, 3):
        raise CheckpointError(f"{ckpt.path}: {pk.name!r} must be 2-D (or stacked 3-D) U8, got {pk.dtype} "
                              f"{list(pk.shape)}")
    lead, K = tuple(pk.shape[:-1]), 2 * pk.shape[-1]
    if sc.dtype != "F8_E4M3" or tuple(sc.shape[:-1]) != lead or sc.shape[-1] == 0 or K % sc.shape[-1] \
            or K // sc.shape[-1] not in (16, 32):
        raise CheckpointError(f"{ckpt.path}: {sc.name!r} must be F8_E4M3 {list(lead) + [f'{K}/16']}, "
                              f"got {sc.dtype} {list(sc.shape)}")
    n_scales = lead[0] if len(lead) == 2 else 1
    if gs.dtype != "F32" or math.prod(gs.shape) != n_scales:
        raise CheckpointError(f"{ckpt.path}: {gs.name!r} must hold {n_scales} F32, got {gs.dtype} {list(gs.shape)}")
    inp = f"{module}.{f.input_scale}"
    if inp in ckpt.where and (ckpt.info(inp).dtype != "F32" or math.prod(ckpt.info(inp).shape) != 1):
        raise CheckpointError(f"{ckpt.path}: {inp!r} must be one F32, got {ckpt.info(inp).dtype} "
                              f"{list(ckpt.info(inp).shape)}")
    return StoredWeight(f, *names, inp if inp in ckpt.where else None, lead + (K,))


def nvfp4_groups(ckpt):
    """{module: StoredWeight} for every NVFP4 weight in ``ckpt``, in either layout
    (compressed-tensors: a ``weight_packed``; ModelOpt: a U8 ``weight`` with a
    ``weight_scale_2``), checked."""
    groups = {}
    ct, mo = FORMATS["compressed-tensors"], FORMATS["modelopt"]
    for name in ckpt.names():
        for f in (ct, mo):
            if not name.endswith("." + f.packed):
                continue
            module = name[:-len(f.packed) - 1]
            if f is mo and (ckpt.info(name).dtype != "U8" or f"{module}.{mo.global_scale}" not in ckpt.where):
                continue
            if module in groups:
                raise CheckpointError(f"{ckpt.path}: {module!r} is stored in two layouts")
            groups[module] = _stored(ckpt, module, f)
    return groups


def load_quantized(ckpt, module, groups):
    """The NVFP4Tensor (MXTensor) of one stored 2-D weight; for stacked experts, a list of them."""
    g = groups[module]
    packed, sbytes = ckpt.get(g.packed), ckpt.get(g.scale).view(np.uint8)
    if g.is_mx:
        one = lambda pk, sb: MXTensor(np.ascontiguousarray(pk), np.ascontiguousarray(sb), g.shape[-2:], "mxfp4",
                                      "stored", 1)  # noqa: E731
        return one(packed, sbytes) if len(g.shape) == 2 else [one(packed[e], sbytes[e]) for e in range(g.shape[0])]
    gs = np.asarray(ckpt.get(g.global_scale), np.float32).reshape(-1)
    if len(g.shape) == 2:
        return layout_tensor(packed, sbytes, gs[0], g.shape, g.format.name)
    return [layout_tensor(packed[e], sbytes[e], gs[e], g.shape[1:], g.format.name) for e in range(g.shape[0])]


def dequantize_stored(ckpt, module, groups):
    """The float32 weight a loader decodes from a stored weight (stacked experts
    expert by expert, each with its own global scale)."""
    t = load_quantized(ckpt, module, groups)
    return t.dequantize() if not isinstance(t, list) else np.stack([x.dequantize() for x in t])


def logical_tensors(ckpt, groups):
    """The checkpoint as its weights: ``(shard, name, module)`` in file order, one per
    tensor that is not part of a stored NVFP4 weight (module None) and one per weight of
    ``groups`` (:func:`nvfp4_groups`), named ``<module>.weight`` or its original name."""
    members = {n: m for m, g in groups.items() for n in g.names}
    original = original_names(ckpt)
    for name in ckpt.names():
        m = members.get(name)
        if m is None:
            yield ckpt.where[name], name, None
        elif name == groups[m].packed:
            yield ckpt.where[name], original.get(m, f"{m}.weight"), m


def original_names(ckpt):
    """{module: original weight name} recorded by shard_metadata, checked."""
    names = {}
    for r in ckpt.shards.values():
        raw = r.metadata.get(NAMES_KEY)
        if raw is None:
            continue
        try:
            d = json.loads(raw)
        except (ValueError, RecursionError):
            d = None
        if not isinstance(d, dict) or not all(isinstance(v, str) for v in d.values()):
            raise CheckpointError(f"{r.path}: metadata {NAMES_KEY!r} must be a JSON object of module names to "
                                  f"weight names, got {raw!r:.100}")
        names.update(d)
    return names
