"""Number formats of NVFP4 as data: E2M1 elements, E4M3 block scales, rounding modes.

Every table here is derived from a :class:`FloatFormat` description (exponent bits,
mantissa bits, bias, largest finite value), the way ml_dtypes describes its types, so
that no value is typed in by hand. The tests compare each table with ml_dtypes.

The Numba functions below (``float_code`` and its ``e4m3_code``, ``e2m1_round``,
``seed_sum_inplace``) are the *only* place where a rounding or summation rule is
written; every kernel, and the NumPy forms ``snap_e4m3`` / ``round_e2m1``, call them.
"""

import functools
from dataclasses import dataclass

import numba
import numpy as np

from ._f32bits import bits_to_f32, f32_to_bits
from ._config import JIT_SCALAR, JIT_SCALAR_FN, JIT_UFUNC

__all__ = [
    "FloatFormat",
    "E2M1",
    "E4M3",
    "E2M3",
    "E3M2",
    "E5M2",
    "E2M1_VALUES",
    "E2M1_BOUNDARIES",
    "E4M3_VALUES",
    "E4M3_CODES",
    "E4M3_DECODE",
    "ROUNDING_MODES",
    "snap_e4m3",
    "round_e2m1",
    "build_fp8_e4m3_scales",
]


@dataclass(frozen=True)
class FloatFormat:
    """A small IEEE-like binary floating-point format (its infinity codes, where it has
    them, as E5M2 does, are not produced: the block formats saturate).

    Parameters
    ----------
    name : str
        Short name, e.g. ``"e4m3fn"``.
    exponent_bits, mantissa_bits : int
        Field widths; one sign bit comes on top.
    bias : int
        Exponent bias. The smallest normal exponent is ``1 - bias``; exponent field 0
        holds the subnormals.
    max_finite : float
        Largest finite magnitude. :meth:`decode` gives NaN for the codes above it (E4M3's
        0x7F; E5M2's infinity codes 0x7C and 0xFC as well as its NaNs).
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    max_finite: float

    @property
    def min_exponent(self):
        """Exponent of the smallest normal value (subnormals share its quantum)."""
        return 1 - self.bias

    @property
    def sign_bit(self):
        return 1 << (self.exponent_bits + self.mantissa_bits)

    def decode(self, code):
        """Value of a non-negative code (no sign bit), NaN above ``max_finite``."""
        e_field = code >> self.mantissa_bits
        m_field = code & ((1 << self.mantissa_bits) - 1)
        frac = m_field / (1 << self.mantissa_bits)
        if e_field == 0:
            v = frac * 2.0 ** self.min_exponent
        else:
            v = (1.0 + frac) * 2.0 ** (e_field - self.bias)
        return v if v <= self.max_finite else float("nan")

    def magnitudes(self):
        """All finite non-negative values in code order (which is ascending order)."""
        vals = [self.decode(c) for c in range(self.sign_bit)]
        return np.array([v for v in vals if v == v], dtype=np.float32)

    def decode_table(self):
        """float32 value of every code, sign bit included (``2 * sign_bit`` entries)."""
        pos = np.array([self.decode(c) for c in range(self.sign_bit)], dtype=np.float32)
        return np.concatenate([pos, -pos])


E2M1 = FloatFormat("e2m1", exponent_bits=2, mantissa_bits=1, bias=1, max_finite=6.0)
E4M3 = FloatFormat("e4m3fn", exponent_bits=4, mantissa_bits=3, bias=7, max_finite=448.0)
#: The other element formats of the OCP MX formats (docs/design/mx.md): FP6 E2M3 and
#: E3M2 (no infinities or NaN), FP8 E5M2 (IEEE-like; its infinity and NaN codes are
#: never produced: MX saturates).
E2M3 = FloatFormat("e2m3fn", exponent_bits=2, mantissa_bits=3, bias=1, max_finite=7.5)
E3M2 = FloatFormat("e3m2fn", exponent_bits=3, mantissa_bits=2, bias=3, max_finite=28.0)
E5M2 = FloatFormat("e5m2", exponent_bits=5, mantissa_bits=2, bias=15, max_finite=57344.0)

#: The 8 E2M1 magnitudes, ascending; index == code (0..7), codes 8..15 are the negatives.
E2M1_VALUES = E2M1.magnitudes()
#: Decision boundaries: midpoints between consecutive E2M1 magnitudes (all exact).
E2M1_BOUNDARIES = ((E2M1_VALUES[:-1] + E2M1_VALUES[1:]) / 2).astype(np.float32)
#: float32 value of every E4M3 byte (NaN at 0x7F and 0xFF); index == byte.
E4M3_DECODE = E4M3.decode_table()
#: The 126 positive finite E4M3 values, ascending, and their byte codes (0x01..0x7E).
E4M3_CODES = np.arange(1, E4M3.sign_bit, dtype=np.uint8)[np.isfinite(E4M3_DECODE[1:E4M3.sign_bit])]
E4M3_VALUES = E4M3_DECODE[E4M3_CODES]
#: Largest finite positive E4M3 code (0x7E = 448): the saturation target.
E4M3_MAX_CODE = int(E4M3_CODES[-1])

#: Rounding modes for E2M1 (the tie rule when |x|/s lies exactly halfway between two
#: E2M1 values), by name: "seed" rounds ties toward zero, as the seed's torch.bucketize
#: (right=False) puts a value equal to a boundary in the lower bucket; "rne" rounds ties to
#: the even code, as IEEE, ml_dtypes and the hardware ``cvt.rn`` do. They differ only at
#: 0.75, 1.75 and 3.5. Kernels take the mode as a flag: ``rne = rounding_is_rne(name)``.
ROUNDING_MODES = {
    "seed": "ties toward zero (torch.bucketize)",
    "rne": "ties to even (IEEE round-to-nearest-even)",
}


def rounding_is_rne(rounding):
    """The kernels' flag for a rounding mode, with a clear error for unknown names."""
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {sorted(ROUNDING_MODES)}, got {rounding!r}")
    return rounding == "rne"


# --------------------------------------------------------------------------------------
# Numba scalar primitives: the single written form of each rule, used by every kernel.
# --------------------------------------------------------------------------------------

# E4M3 as float_code takes it.
_E4M3_EBITS = E4M3.exponent_bits
_E4M3_MBITS = E4M3.mantissa_bits
_E4M3_BIAS = E4M3.bias
_E4M3_LARGEST = np.float32(E4M3.max_finite)
_E4M3_NAN_CODE = np.uint8(E4M3.sign_bit - 1)


@numba.njit(**JIT_SCALAR_FN)
def float_code(v, ebits, mbits, bias, largest):
    """The code of the finite float32 ``v`` in a small float format with ``ebits``
    exponent and ``mbits`` mantissa bits, exponent bias ``bias`` and largest value
    ``largest`` (E4M3's scale bytes, the MX formats' elements): the sign bit from v's (so
    -0.0, and a negative that rounds to 0, give the negative zero code); magnitudes at or
    above ``largest`` saturate to it; below, round to nearest, ties to even:
    subnormals (below 2^(1 - bias)) in steps of 2^(1 - bias - mbits), ``y * 2^(bias - 1 +
    mbits)`` being exact and below 2^mbits; normals by rounding the float32 bits to
    ``mbits`` mantissa bits (add half a place minus one, plus the kept last bit, so that
    ties go to even; a carry raises the exponent), then re-biasing the exponent."""
    drop = np.uint32(23 - mbits)
    rebias = np.uint32(127 - bias) << np.uint32(mbits)
    y = abs(v)
    if y >= largest:
        magnitude = (f32_to_bits(largest) >> drop) - rebias
    elif y < bits_to_f32(np.uint32((128 - bias) * 8388608)):  # below 2^(1 - bias)
        magnitude = np.uint32(rint_small(y * bits_to_f32(np.uint32((126 + bias + mbits) * 8388608))))
    else:
        yb = f32_to_bits(y)
        yb += (np.uint32(1) << (drop - np.uint32(1))) - np.uint32(1) + ((yb >> drop) & np.uint32(1))
        magnitude = (yb >> drop) - rebias
    return magnitude | ((f32_to_bits(v) >> np.uint32(31)) << np.uint32(ebits + mbits))


@numba.njit(**JIT_SCALAR_FN)
def e4m3_code(v):
    """E4M3 byte code of a non-negative float32 ``v``, round-to-nearest-even
    (:func:`float_code`).

    Saturates like torch 2.13's ``.to(float8_e4m3fn)``: everything at or above 448 (and
    +inf) gives 0x7E (448; up to 464 that is also the nearest even). NaN gives 0x7F.
    Subnormals are kept (quantum 2^-9), and ``v <= 2^-10`` gives 0 (-0.0 gives 0: the
    magnitude's code).
    """
    if v != v:
        return _E4M3_NAN_CODE
    return np.uint8(float_code(abs(v), _E4M3_EBITS, _E4M3_MBITS, _E4M3_BIAS, _E4M3_LARGEST))


# E2M1 rounding on its own grid: in the binade [2^e, 2^(e+1)) the spacing is
# 2^(e - mantissa_bits), and below the smallest normal it stays 2^(emin - mantissa_bits).
# E2M1 has three spacings (0.5 below 2, 1 below 4, 2 above); larger values saturate to 6.
_E2M1_EMAX = int(np.log2(E2M1.max_finite))
assert _E2M1_EMAX - E2M1.min_exponent == 2  # e2m1_round selects among 3 spacings
_E2M1_B1 = np.float32(2.0 ** (E2M1.min_exponent + 1))
_E2M1_B2 = np.float32(2.0 ** (E2M1.min_exponent + 2))
_E2M1_Q = [np.float32(2.0 ** (e - E2M1.mantissa_bits)) for e in range(E2M1.min_exponent, _E2M1_EMAX + 1)]
_E2M1_Q0, _E2M1_Q1, _E2M1_Q2 = _E2M1_Q
_E2M1_R0, _E2M1_R1, _E2M1_R2 = [np.float32(1 / q) for q in _E2M1_Q]
_E2M1_MAX = np.float32(E2M1.max_finite)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_MAGIC = np.float32(2.0**23)


@numba.njit(**JIT_SCALAR_FN)
def rint_small(v):
    """Round a float32 ``0 <= v < 2^22`` to an integer, ties to even: adding 2^23 leaves
    no fraction bits, so the addition rounds (RNE) and the subtraction is exact. Plain
    float arithmetic, so the same code runs in CPU and CUDA kernels (np.rint does not
    compile for CUDA). Larger v come back at least as large."""
    return (v + _MAGIC) - _MAGIC


@numba.njit(**JIT_SCALAR_FN)
def e2m1_round(y, rne):
    """Round a non-negative float32 ``y`` to an E2M1 magnitude (0, 0.5, ..., 6).

    ``v = y / spacing`` is exact (a power of two), so rounding v to an integer is rounding
    y to the grid: ties to even with ``rne``; else ties go down (toward zero): where the
    even neighbour of a tie is the upper one (``r - v == 1/2``, exact as r and v are
    within 1/2 of each other), take the lower. Values above 6, +inf and NaN give 6, as
    torch.bucketize sends them past the last boundary. Branch-free: loops over elements
    vectorise.

    The definition of E2M1 rounding (recipes.fp4_project applies it to a / f or a * f).
    Its twins for exact recipes, which compare a with the thresholds b * s instead of
    dividing (_block._e2m1_cmp, and e2m1_index_cmp as an index for the packed codes;
    _simd.count_above and walk_down as indices), are held
    to the seed's torch.bucketize, as this one is, at every scale and every boundary
    (tests/test_formats.py, tests/test_optimal.py).
    """
    small = y < _E2M1_B1
    mid = y < _E2M1_B2
    q = _E2M1_Q0 if small else (_E2M1_Q1 if mid else _E2M1_Q2)
    v = y * (_E2M1_R0 if small else (_E2M1_R1 if mid else _E2M1_R2))
    r = rint_small(v)
    if not rne:
        r = r - _ONE if r - v == _HALF else r
    m = r * q
    return m if m < _E2M1_MAX else _E2M1_MAX


@numba.njit(**JIT_SCALAR_FN)
def e2m1_index_value(q):
    """The index of an E2M1 magnitude ``q`` (float32) in E2M1_VALUES (0, 0.5, 1, 1.5, 2,
    3, 4, 6 -> 0..7), its code without the sign, as a float32: 2q up to 2, q + 2 above,
    7 for 6."""
    return min(q + q, q + np.float32(2.0), np.float32(7.0))


@numba.njit(**JIT_SCALAR_FN)
def e2m1_index(q):
    """e2m1_index_value as an integer."""
    return np.uint64(e2m1_index_value(q))


@numba.njit(**JIT_SCALAR)
def seed_sum_inplace(v):
    """Sum of a 16- or 32-vector in torch's float32 order: 8 strided lanes (lane i sums
    v[i], v[i+8], ...), then the 8 lanes added left to right. Overwrites v[0:8].

    The definition of the seed's lane sum. Its twins (seed_helpers.seed_sum in NumPy,
    _simd's vector form, admm._lane_dot over many blocks) are held to it, and it to
    torch's order, in tests/test_lane_sums.py."""
    # One lane element at a time (folding 8 at a time: docs/performance.md).
    for j in range(8, v.size):
        v[j & 7] += v[j]
    total = v[0]
    for i in range(1, 8):
        total += v[i]
    return total


# --------------------------------------------------------------------------------------
# NumPy forms (vectorised, any shape), the public helpers build on these.
# --------------------------------------------------------------------------------------


@functools.cache
def _ufuncs():
    """The NumPy forms of e4m3_code / e2m1_round, built on first use (not at import)."""

    @numba.vectorize(["float32(float32)"], **JIT_UFUNC)
    def snap(v):
        return np.float32(np.copysign(E4M3_DECODE[e4m3_code(abs(v))], v))

    @numba.vectorize(["float32(float32, boolean)"], **JIT_UFUNC)
    def round_e2m1(y, rne):
        return e2m1_round(y, rne)

    return snap, round_e2m1


def snap_e4m3(v):
    """Round float32 values to E4M3 (RNE, saturating at 448 like torch 2.13), as float32.

    The kernels' :func:`e4m3_code` applied elementwise. NaN stays NaN; ``-0.0`` stays
    ``-0.0``. Unlike ml_dtypes, values above 464 and infinities saturate to ±448 instead
    of becoming NaN.
    """
    with np.errstate(all="ignore"):  # NaN and saturation are part of the rule, not errors
        return _ufuncs()[0](np.asarray(v, dtype=np.float32))


def round_e2m1(y, rounding="seed"):
    """Round non-negative magnitudes ``y`` to E2M1 values with the given tie rule (the
    kernels' :func:`e2m1_round` applied elementwise). Values above 6, +inf and NaN give 6."""
    rne = rounding_is_rne(rounding)
    with np.errstate(all="ignore"):  # NaN and saturation are part of the rule, not errors
        return _ufuncs()[1](np.asarray(y, dtype=np.float32), rne)


def build_fp8_e4m3_scales():
    """The 126 positive finite E4M3 values, ascending, as float32 (the seed's candidates)."""
    return E4M3_VALUES.copy()
