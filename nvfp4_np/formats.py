"""Number formats of NVFP4 as data: E2M1 elements, E4M3 block scales, rounding modes.

Every table here is derived from a :class:`FloatFormat` description (exponent bits,
mantissa bits, bias, largest finite value), the way ml_dtypes describes its types, so
that no value is typed in by hand. The tests compare each table with ml_dtypes.

The Numba functions below (``e4m3_code``, ``fp4_project``, ``seed_sum_inplace``) are the
*only* place where a rounding or summation rule is written; every kernel calls them.
"""

from dataclasses import dataclass

import numba
import numpy as np

from ._bits import f32_to_bits
from ._config import JIT_SCALAR

__all__ = [
    "FloatFormat",
    "E2M1",
    "E4M3",
    "E2M1_VALUES",
    "E2M1_BOUNDARIES",
    "E4M3_VALUES",
    "E4M3_CODES",
    "E4M3_DECODE",
    "ROUNDING_MODES",
    "fp4_thresholds",
    "snap_e4m3",
    "round_e2m1",
    "build_fp8_e4m3_scales",
]


@dataclass(frozen=True)
class FloatFormat:
    """A small IEEE-like binary floating-point format without infinities.

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
        Largest finite magnitude. Codes above it (E4M3's 0x7F) are NaN.
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

#: Rounding modes for E2M1, as data: for each of the 7 boundaries, does an exact tie
#: go up (away from zero)? "seed": never (torch.bucketize puts a value equal to a
#: boundary in the lower bucket). "rne": IEEE ties-to-even, i.e. up exactly when the
#: upper neighbour has an even code (mantissa bit 0).
ROUNDING_MODES = {
    "seed": np.zeros(E2M1_BOUNDARIES.size, dtype=np.bool_),
    "rne": (np.arange(1, E2M1_VALUES.size) % 2 == 0),
}
# The first boundary (between 0 and the smallest magnitude) never ties up: code 0 is even
# and toward zero. Kernels rely on the dead zone being exactly |x| <= boundary * s.
assert not any(t[0] for t in ROUNDING_MODES.values())


def rounding_ties_up(rounding):
    """The tie table of a rounding mode, with a clear error for unknown names."""
    try:
        return ROUNDING_MODES[rounding]
    except (KeyError, TypeError):
        raise ValueError(
            f"rounding must be one of {sorted(ROUNDING_MODES)}, got {rounding!r}"
        ) from None


def fp4_thresholds(rounding="seed"):
    """Per-scale-code FP4 decision thresholds, shape (128, 7) float32.

    Row ``c`` belongs to the E4M3 scale byte ``c`` (value ``s``). For ``s > 0`` an element
    magnitude ``a`` passes boundary ``i`` (moves to the next E2M1 magnitude) exactly when
    ``a > row[i]``. This replaces the seed's ``fl(a / s) > b`` by one comparison: ``b*s``
    is exact in float32, and for a positive E4M3 ``s`` correctly rounded division is
    monotone with no float32 quotient equal to ``b`` unless ``a == b*s``
    (tests/test_formats.py checks every scale and every float32 near every threshold).
    A tie that goes up (``a >= b*s``) is stored as the next float32 below ``b*s``.
    For ``s == 0`` every threshold is 0: a nonzero element goes to 6, as ``a/0 = inf``
    does in the seed. Rows for NaN codes are NaN (nothing passes).
    """
    ties_up = rounding_ties_up(rounding)
    scales = E4M3_DECODE[: E4M3.sign_bit]
    t = (scales[:, None] * E2M1_BOUNDARIES[None, :]).astype(np.float32)
    down = np.nextafter(t, np.float32(-np.inf))
    return np.where(ties_up[None, :] & (t > 0), down, t).astype(np.float32)


# --------------------------------------------------------------------------------------
# Numba scalar primitives: the single written form of each rule, used by every kernel.
# --------------------------------------------------------------------------------------

_E4M3_MBITS = E4M3.mantissa_bits
_E4M3_MIN_NORMAL = np.float32(2.0**E4M3.min_exponent)
_E4M3_SUBNORMAL_INV_QUANTUM = np.float32(2.0 ** (E4M3.mantissa_bits - E4M3.min_exponent))
# Halfway between 448 and the next grid point 480 (a NaN code): RNE sends 464 down to
# 448; anything above it would round to 480, which torch 2.13 saturates to 448.
_E4M3_SATURATE_ABOVE = np.float32(
    E4M3.max_finite + 2.0 ** (int(np.log2(E4M3.max_finite)) - E4M3.mantissa_bits - 1)
)
_E4M3_NAN_CODE = np.uint8(E4M3.sign_bit - 1)
# float32 -> E4M3 on normals: drop 23 - 3 mantissa bits with round-to-nearest-even on the
# bit pattern (a carry moves into the exponent), then re-bias the exponent 127 -> 7.
_DROP = np.uint32(23 - E4M3.mantissa_bits)
_HALF_MINUS_ONE = np.uint32((1 << (23 - E4M3.mantissa_bits - 1)) - 1)
_REBIAS = np.uint32((127 - E4M3.bias) << E4M3.mantissa_bits)


@numba.njit(**JIT_SCALAR)
def e4m3_code(v):
    """E4M3 byte code of a non-negative float32 ``v``, round-to-nearest-even.

    Saturates like torch 2.13's ``.to(float8_e4m3fn)``: everything above 464 (and
    +inf) gives 0x7E (448). NaN gives 0x7F. Subnormals are kept (quantum 2^-9), and
    ``v <= 2^-10`` gives 0.
    """
    if v != v:
        return _E4M3_NAN_CODE
    if v > _E4M3_SATURATE_ABOVE:
        return np.uint8(E4M3_MAX_CODE)
    if v < _E4M3_MIN_NORMAL:  # fixed quantum 2^-9; v * 2^9 is exact, rint is RNE
        return np.uint8(np.rint(v * _E4M3_SUBNORMAL_INV_QUANTUM))
    b = f32_to_bits(v)
    b += _HALF_MINUS_ONE + ((b >> _DROP) & np.uint32(1))
    return np.uint8((b >> _DROP) - _REBIAS)


@numba.njit(**JIT_SCALAR)
def fp4_row(thr_row):
    """The 7 thresholds of one scale code as a tuple (kept in registers by kernels)."""
    return (thr_row[0], thr_row[1], thr_row[2], thr_row[3], thr_row[4], thr_row[5], thr_row[6])


@numba.njit(**JIT_SCALAR)
def fp4_levels(s):
    """The 7 nonzero E2M1 magnitudes times the scale ``s`` (exact products)."""
    v = E2M1_VALUES
    return (v[1] * s, v[2] * s, v[3] * s, v[4] * s, v[5] * s, v[6] * s, v[7] * s)


@numba.njit(**JIT_SCALAR)
def fp4_project(a, t, levels):
    """FP4 projection of a magnitude ``a``: the level of the highest threshold it passes
    (thresholds ascend), 0 if none. ``t`` from :func:`fp4_row`, ``levels`` from
    :func:`fp4_levels` (or ``fp4_levels(1)`` for the bare E2M1 magnitude). Branch-free,
    so loops over elements vectorise."""
    d = levels[0] * 0
    for j in range(7):
        d = levels[j] if a > t[j] else d
    return d


@numba.njit(**JIT_SCALAR)
def seed_sum_inplace(v):
    """Sum of a 16- or 32-vector in torch's float32 order: 8 strided lanes (lane i sums
    v[i], v[i+8], ...), then the 8 lanes added left to right. Overwrites v[0:8]."""
    for j in range(8, v.size):
        v[j & 7] += v[j]
    total = v[0]
    for i in range(1, 8):
        total += v[i]
    return total


assert E2M1_BOUNDARIES.size == 7  # fp4_row / fp4_levels are written out for 7 boundaries


# --------------------------------------------------------------------------------------
# NumPy forms (vectorised, any shape), the public helpers build on these.
# --------------------------------------------------------------------------------------


def snap_e4m3(v):
    """Round float32 values to E4M3 (RNE, saturating at 448 like torch 2.13), as float32.

    NaN stays NaN; ``-0.0`` stays ``-0.0``. Unlike ml_dtypes, values above 464 and
    infinities saturate to ±448 instead of becoming NaN.
    """
    import ml_dtypes

    v = np.asarray(v, dtype=np.float32)
    clamped = np.clip(v, -E4M3.max_finite, E4M3.max_finite)  # NaN passes through clip
    return clamped.astype(ml_dtypes.float8_e4m3fn).astype(np.float32)


def round_e2m1(y, rounding="seed"):
    """Round non-negative magnitudes ``y`` to E2M1 values with the given tie rule.

    Values above 6 (and +inf) saturate to 6; NaN maps to 6, as ``torch.bucketize``
    sends NaN past the last boundary.
    """
    ties_up = rounding_ties_up(rounding)
    y = np.asarray(y, dtype=np.float32)
    idx = np.zeros(y.shape, dtype=np.intp)
    for i, b in enumerate(E2M1_BOUNDARIES):
        idx += (y >= b) if ties_up[i] else (y > b)
    idx[np.isnan(y)] = E2M1_VALUES.size - 1
    return E2M1_VALUES[idx]


def build_fp8_e4m3_scales():
    """The 126 positive finite E4M3 values, ascending, as float32 (the seed's candidates)."""
    return E4M3_VALUES.copy()
