"""The MX primitives (nvfp4_np/mx.py, docs/design/mx.md) against ml_dtypes and the slow
references in tests/naive.py: the element formats, every element code, the E8M0 byte in
every scale-rounding mode over every float32 exponent, and whole blocks."""

import zlib

import ml_dtypes
import numba
import numpy as np
import pytest

from naive import MX_ELEMENTS, ref_e8m0_byte, ref_mx_quantize
from nvfp4_np import formats, mx
from nvfp4_np._mx_simd import block_amax_bits, block_codes, block_codes_packed, element_constants

F32 = np.float32
MODES = tuple(mx.SCALE_ROUNDINGS)


def constants(fmt):
    """The element constants the CPU kernel takes (_mx_simd.element_constants)."""
    return element_constants(*mx.element_args(mx.MX_FORMATS[fmt]))


def run_blocks(x, fmt, mode, pack=False):
    """The CPU kernel's (codes, scale bytes) of the finite x (outputs pre-filled with 0xAA)."""
    f = mx.MX_FORMATS[fmt]
    e = f.element
    codes = np.full((x.shape[0], x.shape[1] // (2 if pack else 1)), 0xAA, np.uint8)
    scales = np.full((x.shape[0], x.shape[1] // 32), 0xAA, np.uint8)
    bad = np.zeros(x.shape[0], np.int64)
    mx._mx_blocks(x, MODES.index(mode), f.emax, e.mantissa_bits, F32(e.max_finite), constants(fmt), pack, codes,
                  scales, bad)
    assert not bad.any()
    return codes, scales


def run_unit(x, fmt, mode):
    """naive_block (the definition) over every block of x, one at a time."""
    f = mx.MX_FORMATS[fmt]
    e = f.element
    codes = np.full(x.shape, 0xAA, np.uint8)
    scales = np.full((x.shape[0], x.shape[1] // 32), 0xAA, np.uint8)
    ok = [[mx.naive_block(x, r, b, MODES.index(mode), f.emax, e.mantissa_bits, e.exponent_bits, e.bias,
                          F32(e.max_finite), codes, scales) for b in range(x.shape[1] // 32)] for r in range(x.shape[0])]
    return codes, scales, np.array(ok)


def test_the_formats_are_the_references():
    assert tuple(mx.MX_FORMATS) == tuple(MX_ELEMENTS)
    for name, f in mx.MX_FORMATS.items():
        dtype, largest, emax, mbits = MX_ELEMENTS[name]
        assert (f.element.max_finite, f.emax, f.element.mantissa_bits) == (largest, emax, mbits)
        n = 2 * f.element.sign_bit
        theirs = np.arange(n, dtype=np.uint8).view(dtype).astype(F32)
        ours = f.element.decode_table()
        finite = np.isfinite(theirs)
        assert np.array_equal(ours[finite], theirs[finite]) and f.code_bits == n.bit_length() - 1


def element_inputs(fmt, rng):
    """float32 values over the format's range and beyond: every code's value, the
    midpoints between neighbours and one float32 step either side, random values, the
    saturation edge, zeros, negatives that round to zero."""
    dtype, largest, _, _ = MX_ELEMENTS[fmt]
    grid = np.unique(np.abs(np.arange(256 if fmt.startswith("mxfp8") else 64, dtype=np.uint8).view(dtype)
                            .astype(F32)))
    grid = grid[np.isfinite(grid)]
    mids = ((grid[:-1].astype(np.float64) + grid[1:]) / 2).astype(F32)
    near = np.concatenate([mids, np.nextafter(mids, F32(0)), np.nextafter(mids, F32(np.inf)), grid,
                           np.nextafter(grid, F32(np.inf))])
    wide = (rng.standard_normal(20000) * np.exp2(rng.uniform(-30, 20, 20000))).astype(F32)
    edge = np.array([0.0, largest, largest * 1.01, largest * 2, 3e38, 1e-45, 2.0 ** -130], F32)
    v = np.concatenate([near, wide, edge])
    return np.concatenate([v, -v]).astype(F32)


@pytest.mark.parametrize("fmt", list(MX_ELEMENTS))
def test_every_element_code_is_ml_dtypes_cast(fmt):
    """formats.float_code == ml_dtypes' round-to-nearest-even cast after clamping to the
    largest value (torchao's saturation), the sign bit kept (-0.0 and negatives that
    round to 0 give the negative zero code)."""
    dtype, largest, _, _ = MX_ELEMENTS[fmt]
    e = mx.MX_FORMATS[fmt].element
    v = element_inputs(fmt, np.random.default_rng(zlib.crc32(fmt.encode())))
    want = np.clip(v, -largest, largest).astype(dtype).view(np.uint8)
    got = np.array([formats.float_code(F32(a), e.exponent_bits, e.mantissa_bits, e.bias, F32(largest)) for a in v])
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(v[i], got[i], want[i]) for i in bad[:5]]
    assert (want == e.sign_bit).sum() > 0  # (negative zeros reached)


@numba.njit
def _definition_codes(v, mult, ebits, mbits, bias, largest):
    out = np.empty(v.size, np.uint8)
    for i in range(v.size):
        out[i] = np.uint8(formats.float_code(v[i] * mult, ebits, mbits, bias, largest))
    return out


@numba.njit
def _vector_codes(v, mult, k, pack):
    out = np.empty(v.size // 2 if pack else v.size, np.uint8)
    for c0 in range(0, v.size, 32):
        if pack:
            block_codes_packed(v, c0, mult, k, out, c0 // 2)
        else:
            block_codes(v, c0, mult, k, out, c0)
    return out


def every_rounding_edge():
    """float32 bit patterns at every exponent (0..255: subnormals, Inf and NaN included)
    with the mantissas where some format's rounding changes: 0, 1, each place's half
    (-1, +1) for 1 to 5 kept bits, the largest, and random mantissas; both signs."""
    rng = np.random.default_rng(17)
    mant = [0, 1, 2, 0x7FFFFF, 0x7FFFFE, 0x400000, 0x200000]
    for kept in range(1, 6):
        half = 1 << (22 - kept)
        mant += [half - 1, half, half + 1, 3 * half - 1, 3 * half, 3 * half + 1]
    mant = np.unique(np.concatenate([mant, rng.integers(0, 1 << 23, 64)])).astype(np.uint32)
    bits = (np.arange(256, dtype=np.uint32)[:, None] << np.uint32(23)) | mant[None, :]
    bits = np.concatenate([bits.ravel(), bits.ravel() | np.uint32(0x80000000)])
    bits = np.concatenate([bits, np.zeros((-bits.size) % 32, np.uint32)])
    return bits.view(F32)


@pytest.mark.parametrize("fmt", list(MX_ELEMENTS))
def test_the_vector_codes_are_float_code(fmt):
    """_mx_simd.block_codes (the kernel's codes, without branches) == formats.float_code
    of x * mult, for every exponent's rounding edges (Inf included: it saturates as
    float_code does) and the element inputs, times multipliers from 2^-127 (a float32
    subnormal) to 2^127; packed two per byte for MXFP4. (tests/check_mx_exhaustive.py
    runs every float32.)"""
    e = mx.MX_FORMATS[fmt].element
    args = (e.exponent_bits, e.mantissa_bits, e.bias, F32(e.max_finite))
    v = np.concatenate([every_rounding_edge(), element_inputs(fmt, np.random.default_rng(5))])
    v = v[~np.isnan(v)]  # (a block holding NaN is never coded)
    v = np.concatenate([v, np.zeros((-v.size) % 32, F32)])
    k = constants(fmt)
    for mult in (F32(1), F32(2.0 ** -127), F32(2.0 ** -126), F32(2.0 ** -20), F32(2.0 ** 20), F32(2.0 ** 127)):
        want = _definition_codes(v, mult, *args)
        got = _vector_codes(v, mult, k, False)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, [(v[i], mult, got[i], want[i]) for i in bad[:5]]
        if fmt == "mxfp4":
            assert np.array_equal(_vector_codes(v, mult, k, True), want[0::2] | (want[1::2] << np.uint8(4)))


@pytest.mark.parametrize("fmt", list(MX_ELEMENTS))
def test_the_vector_codes_read_every_bfloat16(fmt):
    """block_codes and block_amax_bits on bfloat16 bits (uint16, the kernel's bfloat16
    input) == on their float32 values, for every bfloat16 but NaN."""
    e = mx.MX_FORMATS[fmt].element
    args = (e.exponent_bits, e.mantissa_bits, e.bias, F32(e.max_finite))
    b16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    b16 = b16[~np.isnan((b16.astype(np.uint32) << 16).view(F32))]
    b16 = np.concatenate([b16, np.zeros((-b16.size) % 32, np.uint16)])
    v = (b16.astype(np.uint32) << 16).view(F32)
    k = constants(fmt)
    for mult in (F32(1), F32(2.0 ** -127), F32(2.0 ** 20)):
        assert np.array_equal(_vector_codes(b16, mult, k, False), _definition_codes(v, mult, *args))
        assert np.array_equal(_vector_codes(b16, mult, k, fmt == "mxfp4"), _vector_codes(v, mult, k, fmt == "mxfp4"))
    assert np.array_equal(_amax_bits(b16), _amax_bits(v))


@numba.njit
def _amax_bits(v):
    out = np.empty(v.size // 32, np.uint32)
    for b in range(out.size):
        out[b] = block_amax_bits(v, 32 * b)
    return out


def amax_inputs():
    """float32 amax over every exponent (subnormals and 0 included): mantissa 1, the
    largest, each format's rounding edges for even, and random mantissas."""
    rng = np.random.default_rng(26)
    mant = [1.0, 1.0 + 2 ** -23, 2 - 2 ** -23, 1.25, 1.5, 1.75, 1.875, 1.9375, 1.75 - 2 ** -23, 1.875 - 2 ** -23,
            1.9375 - 2 ** -23, 1.96875, 1.96875 - 2 ** -23]
    mant += list(1 + rng.random(6))
    vals = [F32(m * 2.0 ** e) for e in range(-126, 128) for m in mant]
    vals += list((np.arange(0, 2 ** 23, 2 ** 23 // 64, dtype=np.uint32) + np.uint32(1)).view(F32))  # subnormals
    vals += [F32(2.0 ** -149), F32(2.0 ** -127), F32(2.0 ** -127 * 1.5), F32(0.0)]
    return np.array([v for v in vals if np.isfinite(v)], F32)


@pytest.mark.parametrize("fmt", list(MX_ELEMENTS))
def test_every_scale_mode_over_every_exponent(fmt):
    f = mx.MX_FORMATS[fmt]
    e = f.element
    a = amax_inputs()
    for mode in MODES:
        got = np.array([mx.e8m0_byte(v, MODES.index(mode), f.emax, e.mantissa_bits, F32(e.max_finite)) for v in a])
        want = np.array([ref_e8m0_byte(v, fmt, mode) for v in a])
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (mode, [(float(a[i]), got[i], want[i]) for i in bad[:5]])
        assert got.min() == 0 and got.max() >= 250 - f.emax  # (both ends of the range reached)


def test_the_modes_differ_where_the_design_note_says():
    """MXFP4, amax 7 (1.75 * 4): floor 127 (7 clips to 6), ceil, even and rceil 128;
    amax 6: ceil 128, the others 127; amax 5: ceil 128, even 127 (1.25 rounds down)."""
    def byte(amax, mode):
        return ref_e8m0_byte(F32(amax), "mxfp4", mode), mx.e8m0_byte(F32(amax), MODES.index(mode), 2, 1, F32(6))
    assert [byte(7, m) for m in MODES] == [(127, 127), (128, 128), (128, 128), (128, 128), (128, 128)]
    assert [byte(6, m) for m in MODES] == [(127, 127), (128, 128), (127, 127), (127, 127), (127, 127)]
    assert [byte(5, m) for m in MODES] == [(127, 127), (128, 128), (127, 127), (127, 127), (127, 127)]


def test_rceil_cpu_is_one_lower_just_above_large_powers_of_two():
    """d = amax / 6 = 2^20 (1 + 2^-22): log2(d) = 20 + 3.4e-7 rounds to 20 in float32, so
    torchao's CPU rceil gives byte 147 where the exact ceiling (cvt.rp) gives 148; at
    2^5 (1 + 2^-22) the float32 log2 keeps the excess and both give 133
    (docs/design/mx.md)."""
    for k, want in ((20, (148, 147)), (5, (133, 133))):
        amax = F32(6 * 2.0 ** k * (1 + 2.0 ** -22))
        got = tuple(int(mx.e8m0_byte(amax, MODES.index(m), 2, 1, F32(6))) for m in ("rceil", "rceil_cpu"))
        ref = tuple(ref_e8m0_byte(amax, "mxfp4", m) for m in ("rceil", "rceil_cpu"))
        assert got == ref == want


def test_rceil_cpu_takes_the_log2_wherever_it_can_differ():
    """e8m0_byte's rceil_cpu takes the float32 log2 only for mantissas up to
    _RCEIL_CPU_EXACT_ABOVE (and subnormal d), the exact ceiling above: the literal rule,
    ceil(float32(log2(d))), over every exponent's small mantissas (where log2 rounds down
    to the integer below) and random ones (largest = 1: d = amax;
    tests/check_mx_exhaustive.py runs every float32)."""
    rng = np.random.default_rng(31)
    mant = np.concatenate([np.arange(0, 3 * int(mx._RCEIL_CPU_EXACT_ABOVE)), rng.integers(0, 1 << 23, 8)])
    bits = (np.arange(255, dtype=np.uint32)[:, None] << np.uint32(23)) | mant.astype(np.uint32)[None, :]
    d = bits.ravel().view(F32)
    with np.errstate(divide="ignore"):
        lit = np.where(d > 0, np.ceil(np.log2(d.astype(np.float64)).astype(F32)), -127)
        exact = np.ceil(np.log2(d.astype(np.float64)))  # (float64 log2 keeps the excess over 2^e here)
    want = np.clip(lit, -127, 127) + 127
    got = np.array([mx.e8m0_byte(v, MODES.index("rceil_cpu"), 0, 0, F32(1)) for v in d])
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(d[i], got[i], want[i]) for i in bad[:5]]
    shortcut = (d.view(np.uint32) & 0x7FFFFF) > mx._RCEIL_CPU_EXACT_ABOVE
    assert (lit < exact)[~shortcut & (d > 2.0 ** 20)].any()  # (where the log2 matters: reached)


def block_inputs(rng, kind, fmt, R=16, C=256):
    """(R, C) test data: "normal"; "wide" (per-block magnitudes from 2^-140 to 2^125:
    both ends of E8M0, subnormal elements); "pow2" (amax at, just below and just above
    powers of two, each format's largest times a power of two, and the mantissas where
    even's rounding carries: 1.75, 1.875, 1.9375, one float32 step either side);
    "grid" (blocks led by the format's largest, so that the scale is a power of two
    that leaves the elements on the grid, their midpoints (ties) and one step either
    side: element_inputs); "zeros" (zeros, -0.0 and subnormal float32)."""
    if kind == "normal":
        return rng.standard_normal((R, C))
    if kind == "wide":
        return (rng.standard_normal((R, C // 32, 32)) * np.exp2(rng.uniform(-140, 125, (R, C // 32, 1)))).reshape(R, C)
    if kind == "pow2":
        x = rng.standard_normal((R, C)) * 0.1
        edges = [1.0, 1.75, 1.875, 1.9375, 0.75, 1.5] + [float(v) for v in MX_ELEMENTS_LARGEST]
        steps = [1.0, 1 - 2 ** -24, 1 + 2 ** -23]
        m = np.array([e * t for e in edges for t in steps])
        x[:, ::32] = np.exp2(rng.integers(-20, 20, (R, C // 32))) * rng.choice(m, (R, C // 32))
        return x
    if kind == "grid":
        largest = MX_ELEMENTS[fmt][1]
        v = element_inputs(fmt, rng)
        v = v[np.abs(v) <= largest]
        x = rng.choice(v, (R, C // 32, 32))
        x[:, :, 0] = largest
        return (x * np.exp2(rng.integers(-10, 10, (R, C // 32, 1)))).reshape(R, C)
    if kind == "zeros":
        x = np.zeros((R, C))
        x[::2, 1::3] = -0.0
        x[1::4, 5] = 1e-40
        return x


MX_ELEMENTS_LARGEST = sorted({v[1] for v in MX_ELEMENTS.values()})
BLOCK_KINDS = ("normal", "wide", "pow2", "grid", "zeros")


@pytest.mark.parametrize("fmt", list(MX_ELEMENTS))
@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_is_the_reference(fmt, mode):
    """The definition (naive_block) is the slow reference, and the CPU kernel is the
    definition: 21 blocks a row (past the prefetch distance), packed for MXFP4."""
    rng = np.random.default_rng(zlib.crc32(f"{fmt}{mode}".encode()))
    for kind in BLOCK_KINDS:
        x = block_inputs(rng, kind, fmt, R=8, C=32 * 21).astype(F32)
        uc, us, ok = run_unit(x, fmt, mode)
        rc, rs = ref_mx_quantize(x, fmt, mode)
        assert ok.all() and np.array_equal(us, rs), (kind, np.argwhere(us != rs)[:3])
        assert np.array_equal(uc, rc), (kind, np.argwhere(uc != rc)[:3])
        codes, scales = run_blocks(x, fmt, mode)
        assert np.array_equal(scales, us) and np.array_equal(codes, uc), kind
        if fmt == "mxfp4":
            pc, ps = run_blocks(x, fmt, mode, pack=True)
            assert np.array_equal(ps, us) and np.array_equal(pc, uc[:, 0::2] | (uc[:, 1::2] << 4)), kind


@pytest.mark.parametrize("pack", [False, True])
def test_the_kernel_skips_nonfinite_blocks_only(pack):
    """Inf or NaN in a block (early and late in a row of 21): counted per row, that
    block's bytes untouched, every other block's as naive_block gives them."""
    x = np.random.default_rng(9).standard_normal((3, 32 * 21)).astype(F32)
    x[0, 5] = np.inf
    x[0, 32 * 18 + 3] = np.nan
    x[2, 32 * 7 + 31] = -np.inf
    f = mx.MX_FORMATS["mxfp4"]
    e = f.element
    codes = np.full((3, 32 * 21 // (2 if pack else 1)), 0xAA, np.uint8)
    scales = np.full((3, 21), 0xAA, np.uint8)
    bad = np.zeros(3, np.int64)
    mx._mx_blocks(x, 0, f.emax, e.mantissa_bits, F32(e.max_finite), constants("mxfp4"), pack, codes, scales, bad)
    uc, us, ok = run_unit(x, "mxfp4", "floor")
    assert bad.tolist() == [2, 0, 1] and (~ok).sum(1).tolist() == [2, 0, 1]
    assert np.array_equal(scales, us)  # (0xAA in both at the skipped blocks)
    want = uc[:, 0::2] | (uc[:, 1::2] << 4) if pack else uc
    assert np.array_equal(codes, want)


def test_byte_0_elements_are_divided_by_2_to_the_minus_126():
    """torchao's quirk (docs/design/mx.md): [1.5 * 2^-126, 2^-127] under floor gives
    byte 0 (2^-127) and codes 3 (1.5) and 1 (0.5): the elements were divided by 2^-126."""
    x = np.zeros((1, 32), F32)
    x[0, :2] = [1.5 * 2.0 ** -126, 2.0 ** -127]
    codes, scales = run_blocks(x, "mxfp4", "floor")
    assert scales[0, 0] == 0 and codes[0, :2].tolist() == [3, 1]
    codes, scales = run_blocks(x, "mxfp4", "rceil")  # rceil: byte 0 multiplies by 1: codes 0
    assert scales[0, 0] == 0 and codes[0, :2].tolist() == [0, 0]
