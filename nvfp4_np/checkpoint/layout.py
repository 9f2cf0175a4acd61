"""The compressed-tensors NVFP4 layout (format ``nvfp4-pack-quantized``), which vLLM and
llm-compressor load. Per quantized weight ``<module>.weight`` (M, K), block 16:

- ``<module>.weight_packed``       uint8 (M, K/2), element 2i in the low nibble
- ``<module>.weight_scale``        float8_e4m3fn (M, K/16)
- ``<module>.weight_global_scale`` float32 (1,), the encode form: dequant = q * (s / gs)
"""

import json
import math

import numpy as np

from .. import __version__
from .._safetensors import FLOAT_DTYPES
from ..tensor import NVFP4Tensor
from .source import CheckpointError


#: Suffixes of the compressed-tensors NVFP4 tensors of one weight.
SUFFIXES = ("weight_packed", "weight_scale", "weight_global_scale")
#: Recipes whose dequant the layout states exactly (the others store gs = 1/ts).
LAYOUT_RECIPES = ("seed", "compressed-tensors")
#: safetensors metadata key of the original names of renamed weights (shard_metadata).
NAMES_KEY = "nvfp4_np.original_names"


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


def shard_metadata(shard_plans):
    """safetensors ``__metadata__``: "format": "pt" (transformers expects it), and the
    original names of quantized weights not called ``<module>.weight``, so that
    ``dequantize`` restores them."""
    meta = {"format": "pt", "quantized_by": f"nvfp4_np {__version__}"}
    renamed = {p.module: p.name for p in shard_plans if p.action == "quantize" and p.name != p.module + ".weight"}
    if renamed:
        meta[NAMES_KEY] = json.dumps(renamed, sort_keys=True)
    return meta


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


def logical_tensors(ckpt, groups):
    """The checkpoint as its weights: ``(shard, name, module)`` in file order, one per
    tensor that is not part of an NVFP4 triple (module None) and one per triple of
    ``groups`` (:func:`nvfp4_groups`), named ``<module>.weight`` or its original name."""
    members = {n: m for m, g in groups.items() for n in g[:3]}
    original = original_names(ckpt)
    for name in ckpt.names():
        m = members.get(name)
        if m is None:
            yield ckpt.where[name], name, None
        elif name == groups[m][0]:
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
