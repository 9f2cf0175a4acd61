"""NVFP4 recipes as data: how the block scale and the E2M1 codes of a block are computed.

A recipe fixes every float32 operation between the input and the bytes: the per-tensor
scale (none for the seed, ``amax / (6 * 448)`` in the two-level recipes of real stacks),
the block-scale formula with its clamps, the element scaling, the E2M1 tie rule and the
sign of zero. :data:`RECIPES` holds them as :class:`Recipe` records whose fields name
formulas from small tables (``_BLOCK_SCALE``, ``_ELEMENT``, ``_TENSOR_SCALE``) that reduce
each formula to the constants a kernel needs (:class:`RecipeParams`). The kernels call
the Numba primitives at the bottom (``recipe_code``, ``element_factor``, ``fp4_project``,
``effective_scale``); nothing else in the package branches on a recipe.

validation/SPEC.md writes every recipe out operation by operation.
"""

from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np

from ._f32bits import f32_to_bits
from ._config import JIT_SCALAR_FN
from .formats import E2M1, E4M3, ROUNDING_MODES, e2m1_round, e4m3_code

__all__ = ["Recipe", "RECIPES", "BLOCK_RECIPES", "get_recipe", "dequant_scales"]

_F32 = np.float32
_SIX = _F32(E2M1.max_finite)
_E4M3_MAX = _F32(E4M3.max_finite)
_FLT_MAX = _F32(np.finfo(np.float32).max)
#: 6 * 448 = 2688, exact in float32: the product of the two formats' largest values.
_RANGE = _F32(E2M1.max_finite * E4M3.max_finite)
_NEG_ZERO_BITS = np.uint32(0x80000000)


@dataclass(frozen=True)
class Recipe:
    """One way of computing NVFP4 bytes; every field names a formula or a constant.

    Formulas are written with ``amax`` the block's largest magnitude, ``s`` the block
    scale (an E4M3 value), ``ts`` the stored tensor scale; each operation is one float32
    operation rounded to nearest-even, in the order the parentheses give.

    Attributes
    ----------
    name : str
    source : str
        Which stack does it this way.
    tensor_scale : str
        How the stored float32 tensor scale ``ts`` comes from the tensor's amax (key of
        ``_TENSOR_SCALE``): none (1.0); ``amax/2688`` (decode form, ModelOpt and torchao);
        ``1/(2688/amax)`` (decode form of TE's encode-form ``S_enc = 2688/amax``);
        ``(1/amax)*2688`` (compressed-tensors' encode-form ``global_scale``).
    block_scale : str
        The float32 value that is cast to E4M3 (key of ``_BLOCK_SCALE``).
    scale_floor : float
        Lower clamp applied to that value before the cast (0: none).
    zero_block_scale : float
        Value used instead when the block-scale value is 0, before the clamp (0: none).
    zero_scale_byte : int
        Byte used instead when the cast gives byte 0 (0: none).
    element : str
        How an element x is scaled before E2M1 rounding (key of ``_ELEMENT``).
    dequant : {"q*(s*ts)", "q*(s/ts)"}
        The dequantized value; the factor in parentheses is the effective scale.
    rounding : str
        E2M1 tie rule (see :data:`nvfp4_np.formats.ROUNDING_MODES`).
    negative_zero : {"x<0", "sign-bit"}
        Sign bit of the code: set when ``x < 0`` (``-0.0`` gives code 0x0) or copied from
        the float's sign bit (``-0.0`` gives 0x8).
    search : {"seed", "exact"}
        What the SSE search (``nvfp4_optimal``) returns: the seed's bounded search (blocks
        whose energy is at most the baseline error keep the baseline), or the exact argmin
        over the recipe's candidate codes (``scale_floor`` .. 448). Ties: the baseline,
        then the smallest scale.
    methods : tuple of str or None
        The methods whose own arithmetic this is (None: a recipe of the block methods,
        naive to gptq, whose formulas the tables below reduce to :class:`RecipeParams`).
        "fouroversix" is the Four Over Six method's alone (:mod:`nvfp4_np.four_over_six`
        computes it; here it states its tensor scale and dequant).
    """

    name: str
    source: str
    tensor_scale: str
    block_scale: str
    scale_floor: float
    zero_block_scale: float
    zero_scale_byte: int
    element: str
    dequant: str
    rounding: str
    negative_zero: str
    search: str = "exact"
    methods: tuple = None

    @property
    def two_level(self):
        """Whether the recipe has a per-tensor scale."""
        return self.tensor_scale != "none"


RECIPES = {
    r.name: r
    for r in (
        Recipe("seed", "the seed (PyTorch reference): single level",
               tensor_scale="none", block_scale="amax/6", scale_floor=1e-12, zero_block_scale=0.0,
               zero_scale_byte=0, element="x/s", dequant="q*(s*ts)", rounding="seed",
               negative_zero="x<0", search="seed"),
        Recipe("te", "Transformer Engine; FlashInfer exact mode (bit-identical)",
               tensor_scale="1/(2688/amax)", block_scale="amax*(S_enc*(1/6))", scale_floor=0.0,
               zero_block_scale=0.0, zero_scale_byte=0, element="x*min(1/(s*ts),FLT_MAX)",
               dequant="q*(s*ts)", rounding="rne", negative_zero="x<0"),
        Recipe("modelopt", "NVIDIA ModelOpt NVFP4QTensor (dynamic weight quantization)",
               tensor_scale="amax/2688", block_scale="amax/(6*ts)", scale_floor=2.0**-9,
               zero_block_scale=1.0, zero_scale_byte=0, element="x/(s*ts)", dequant="q*(s*ts)",
               rounding="rne", negative_zero="x<0"),
        Recipe("torchao", "torchao nvfp4_quantize (NVFP4Tensor with per-tensor scale)",
               tensor_scale="amax/2688", block_scale="(amax/6)/ts", scale_floor=2.0**-6,
               zero_block_scale=0.0, zero_scale_byte=0, element="x*((1/ts)/s)", dequant="q*(s*ts)",
               rounding="rne", negative_zero="sign-bit"),
        Recipe("compressed-tensors", "compressed-tensors / llm-compressor (vLLM checkpoints)",
               tensor_scale="(1/amax)*2688", block_scale="ts*(amax/6)", scale_floor=0.0,
               zero_block_scale=0.0, zero_scale_byte=0x20, element="x/(s/ts)", dequant="q*(s/ts)",
               rounding="rne", negative_zero="x<0"),
        Recipe("fouroversix", "fouroversix 1.0.5's reference quantize_to_fp4 (Four Over Six)",
               tensor_scale="1/(K/amax)", block_scale="(amax/vmax)*(K/amax)", scale_floor=0.0,
               zero_block_scale=0.0, zero_scale_byte=0, element="x*(1/(s*ts))", dequant="q*(s*ts)",
               rounding="rne", negative_zero="x<0", methods=("4over6",)),
    )
}

#: The recipes of the block methods (naive, optimal, hessian, admm, gptq).
BLOCK_RECIPES = tuple(name for name, r in RECIPES.items() if r.methods is None)


def get_recipe(recipe):
    """The :class:`Recipe` for a name (or a Recipe itself), with a clear error."""
    if isinstance(recipe, Recipe):
        return recipe
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    return RECIPES[recipe]


# ---------------------------------------------------------------- formulas -> constants
#
# Per tensor: (ts, S_enc) from the tensor's float32 amax; ts is what the recipe stores.


def _ts_none(amax):
    return _F32(1.0), _F32(1.0)


def _ts_decode(amax):
    # fl(amax / 2688). A zero tensor has no scale to speak of (the stacks divide 0 by 0
    # and emit NaN bytes), nor has one whose amax / 2688 underflows to 0 (amax below
    # ~1.9e-42); 1.0 keeps every formula finite for them.
    ts = amax / _RANGE
    return (ts if ts > 0 else _F32(1.0)), _F32(1.0)


def _ts_te(amax):
    # TE compute_global_encode_scaling_factor_FP4: S_enc = fminf(2688 / amax, FLT_MAX),
    # 1.0 when amax == 0 or S_enc == 0; S_dec = 1 / S_enc is the stored decode form.
    s_enc = _F32(min(_RANGE / amax, _FLT_MAX)) if amax > 0 else _F32(1.0)
    if s_enc == 0:
        s_enc = _F32(1.0)
    return _F32(1.0) / s_enc, s_enc


def _ts_ct(amax):
    # compressed-tensors generate_gparam: amax clamped to float32's tiny, then torch's
    # 2688.0 / t, which is reciprocal-then-multiply; nan_to_num(inf) -> 1.0.
    a = max(amax, _F32(np.finfo(np.float32).tiny))
    gs = (_F32(1.0) / a) * _RANGE
    return (gs if np.isfinite(gs) else _F32(1.0)), _F32(1.0)


_TENSOR_SCALE = {"none": _ts_none, "amax/2688": _ts_decode, "1/(2688/amax)": _ts_te, "(1/amax)*2688": _ts_ct}

# Block scale value v from amax: v = (amax OP1 c1) OP2 c2, OP "*" or "/". Each entry maps
# (ts, S_enc) to (OP1 is "*", c1, OP2 is "*", c2), every constant a float32 rounded once
# as the stack rounds it.
_BLOCK_SCALE = {
    "amax/6": lambda ts, enc: (False, _SIX, False, _F32(1.0)),
    "amax/(6*ts)": lambda ts, enc: (False, _SIX * ts, False, _F32(1.0)),
    "(amax/6)/ts": lambda ts, enc: (False, _SIX, False, ts),
    "amax*(S_enc*(1/6))": lambda ts, enc: (True, enc * (_F32(1.0) / _SIX), False, _F32(1.0)),
    "ts*(amax/6)": lambda ts, enc: (False, _SIX, True, ts),
}

# Element factor from the block scale s: d = s OP ce; then y = |x| / d ("/" form) or
# y = |x| * min(fl(ne / d), FLT_MAX) ("*" form). Maps ts to (mul form, ne, OP is "/", ce).
_ELEMENT = {
    "x/s": lambda ts: (False, _F32(1.0), False, _F32(1.0)),
    "x/(s*ts)": lambda ts: (False, _F32(1.0), False, ts),
    "x/(s/ts)": lambda ts: (False, _F32(1.0), True, ts),
    "x*((1/ts)/s)": lambda ts: (True, _F32(1.0) / ts, False, _F32(1.0)),
    "x*min(1/(s*ts),FLT_MAX)": lambda ts: (True, _F32(1.0), False, ts),
}

#: The dequant's effective scale: whether it is s / ts (else s * ts).
_DEQUANT_DIVIDES = {"q*(s*ts)": False, "q*(s/ts)": True}

#: What the kernels receive: the recipe reduced to constants for one tensor.
RecipeParams = namedtuple(
    "RecipeParams",
    ["rne", "mul1", "c1", "mul2", "c2", "floor", "zero_scale", "zero_code", "min_code", "elem_mul",
     "ne", "ce_div", "ce", "ts_div", "ts", "neg_zero_sign_bit", "exact", "seed_search"],
)


def dequant_scales(recipe, sf, ts):
    """NumPy form of :func:`effective_scale`: float32 block scales ``sf`` combined with
    the stored tensor scale ``ts`` as the recipe's dequant does (``sf * ts``, or
    ``sf / ts``)."""
    sf = np.asarray(sf, dtype=np.float32)
    ts = np.float32(ts)
    return sf / ts if _DEQUANT_DIVIDES[get_recipe(recipe).dequant] else sf * ts


def params(recipe, rounding, amax):
    """:class:`RecipeParams` for a tensor with float32 amax ``amax``. ``rounding`` None
    takes the recipe's tie rule."""
    r = get_recipe(recipe)
    if r.methods is not None:
        raise ValueError(f"recipe {r.name!r} is the arithmetic of method {' or '.join(map(repr, r.methods))} "
                         f"only; the block methods take {', '.join(map(repr, BLOCK_RECIPES))}")
    rounding = r.rounding if rounding is None else rounding
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {sorted(ROUNDING_MODES)} or None, got {rounding!r}")
    with np.errstate(over="ignore", divide="ignore"):
        ts, enc = _TENSOR_SCALE[r.tensor_scale](_F32(amax))
        mul1, c1, mul2, c2 = _BLOCK_SCALE[r.block_scale](ts, enc)
        elem_mul, ne, ce_div, ce = _ELEMENT[r.element](ts)
    ts_div = _DEQUANT_DIVIDES[r.dequant]
    floor = _F32(r.scale_floor)
    min_code = max(1, int(e4m3_code(floor)))
    # With y = |x| / s exactly and dequant q * s exactly, the search bounds hold with no
    # slack, and the kernels round |x| / s by comparing |x| with b * s (the "x<0" sign
    # rule makes code 0's quant of 0.0 right there); any other arithmetic rounds a few
    # more times, the bounds widen by a code, and the kernels divide.
    exact = not elem_mul and ce == 1 and ts == 1 and r.negative_zero == "x<0"
    return RecipeParams(rounding == "rne", bool(mul1), _F32(c1), bool(mul2), _F32(c2), floor,
                        _F32(r.zero_block_scale), np.uint8(r.zero_scale_byte), np.int64(min_code),
                        bool(elem_mul), _F32(ne), bool(ce_div), _F32(ce), bool(ts_div), _F32(ts),
                        r.negative_zero == "sign-bit", bool(exact), r.search == "seed")


#: The seed recipe's constants. It has no tensor scale, so they never vary: the CPU kernels
#: have a twin compiled with these frozen in, in which every branch on the recipe folds
#: away (core.run_block_kernel picks it when a call's constants equal these).
SEED_PARAMS = params("seed", None, _F32(0.0))


# ---------------------------------------------------------------- Numba primitives


@numba.njit(**JIT_SCALAR_FN)
def recipe_code(amax, rc):
    """E4M3 byte of the block scale for a block of largest magnitude ``amax``."""
    v = amax * rc.c1 if rc.mul1 else amax / rc.c1
    v = v * rc.c2 if rc.mul2 else v / rc.c2
    if v == 0 and rc.zero_scale > 0:
        v = rc.zero_scale
    if v < rc.floor:
        v = rc.floor
    code = e4m3_code(v)
    return rc.zero_code if code == 0 else code


@numba.njit(**JIT_SCALAR_FN)
def element_factor(sf, rc):
    """The element scaling for block scale ``sf``: the divisor d = fl(sf OP ce), or
    the multiplier min(fl(ne / d), FLT_MAX) (see ``rc.elem_mul``)."""
    d = sf / rc.ce if rc.ce_div else sf * rc.ce
    if not rc.elem_mul:
        return d
    m = rc.ne / d
    return m if m < _FLT_MAX else _FLT_MAX


@numba.njit(**JIT_SCALAR_FN)
def effective_scale(sf, rc):
    """The dequantization scale fl(sf * ts) (or fl(sf / ts)): dequant = q * it."""
    return sf / rc.ts if rc.ts_div else sf * rc.ts


@numba.njit(**JIT_SCALAR_FN)
def block_scale_for(s, rc):
    """The block scale whose effective scale is about ``s`` (the inverse of
    effective_scale, up to rounding)."""
    return s * rc.ts if rc.ts_div else s / rc.ts


@numba.njit(**JIT_SCALAR_FN)
def fp4_project(a, f, rc):
    """E2M1 magnitude of a magnitude ``a`` under element factor ``f``."""
    y = a * f if rc.elem_mul else a / f
    return e2m1_round(y, rc.rne)


@numba.njit(**JIT_SCALAR_FN)
def negative(v, rc):
    """Whether the quant of ``v`` is negative by the recipe's sign rule: iff v < 0
    (torch.sign: -0.0 and NaN give +0.0), or also for -0.0 (its sign bit)."""
    # (& and |, not "and"/"or": no branches, so loops over elements vectorise)
    return (v < 0) | (rc.neg_zero_sign_bit & (f32_to_bits(v) == _NEG_ZERO_BITS))


@numba.njit(**JIT_SCALAR_FN)
def signed(v, q, rc):
    """Give magnitude ``q`` the sign of ``v`` by the recipe's rule (:func:`negative`);
    a v that is neither negative nor > 0 (a zero, NaN) gives +0.0."""
    if negative(v, rc):
        return -q
    return q if v > 0 else np.float32(0.0)


@numba.njit(**JIT_SCALAR_FN)
def signed_code(v, idx, rc):
    """:func:`signed` on codes: the 4-bit E2M1 code of ``signed(v, E2M1_VALUES[idx],
    rc)``, bit 3 the sign (so a negative that rounds to 0 is 8, the code of -0.0)."""
    neg = negative(v, rc)
    return (np.uint64(neg) << np.uint64(3)) | (idx if neg | (v > 0) else np.uint64(0))
