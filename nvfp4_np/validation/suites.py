"""The inputs of the golden vectors: small matrices that matter, built deterministically.

Every array comes from ``numpy.random.RandomState`` (whose streams NumPy keeps frozen
across versions) or from explicit values, so regenerating gives identical bytes on any
machine. Matrices are (M, 64) with blocks along the last axis: 4 blocks of 16 or 2 of 32
per row.

Hessian inputs are exact: X holds small integers, so H_j = X_j^T X_j is the same in any
summation order (every partial sum is an integer below 2^24). The ADMM suites use
diagonal Hessians, whose ADMM operators (largest eigenvalue, (H/lambda + I)^-1) LAPACK
computes exactly on every machine; the vectors also carry those operators.
"""

import ml_dtypes
import numpy as np

F32 = np.float32
K = 64

#: E2M1 decision boundaries and magnitudes (written out: the suites must not depend on
#: the code they test).
_BOUNDS = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0]


def random_matrix(seed=1, m=8):
    """Rows of four distributions: normal, Laplace, Student-t(3), normal with per-block
    magnitudes over six decades."""
    rs = np.random.RandomState(seed)
    q = m // 4
    rows = [rs.standard_normal((q, K)), rs.laplace(size=(q, K)), rs.standard_t(3, size=(q, K))]
    mags = 10.0 ** rs.uniform(-3, 3, (q, K // 16, 1))
    rows.append((rs.standard_normal((q, K // 16, 16)) * mags).reshape(q, K))
    return np.concatenate(rows).astype(F32)


def _block(values):
    b = np.zeros(16, F32)
    b[:len(values)] = values
    return b


def corner_blocks():
    """16-element blocks for the corner cases, and what each one exercises."""
    blocks = []
    # FP4 ties at all 7 boundaries (and their negatives) at scale 1 (amax 6) and 2^-4.
    for k in (0, -4):
        v = [6.0] + [b * (-1) ** i for i, b in enumerate(_BOUNDS)] + [b for b in _BOUNDS]
        blocks.append(("fp4 ties at the 7 boundaries, scale 2^%d" % k, _block(np.array(v) * 2.0**k)))
    # E4M3 ties: amax / 6 exactly halfway between two E4M3 values (normal and subnormal).
    for s in (1.0625, 1.1875, 3 * 2.0**-10, 5 * 2.0**-10, 2.0**-9 + 2.0**-11):
        blocks.append((f"E4M3 tie: amax/6 = {s!r}", _block([6 * s, -2 * s, s, 0.5 * s])))
    # Scale underflow and the smallest scales.
    for amax in (6 * 2.0**-10, 5 * 2.0**-10, 1e-6, 6 * 2.0**-9, 6 * 2.0**-9 * 1.01):
        blocks.append((f"small block, amax {amax!r}", _block([amax, -amax / 3, amax / 7, 0.0])))
    # Saturation at 448 and beyond.
    for amax in (2688.0, 6 * 464.0, 6 * 470.0, 1e5):
        blocks.append((f"large block, amax {amax!r}", _block([amax, -amax / 2, amax / 5, -amax / 11])))
    blocks.append(("scale exactly 448", _block([2688.0, 448.0, -224.0])))
    blocks.append(("scale exactly 2^-9", _block([6 * 2.0**-9, 2.0**-9, -2.0**-10])))
    blocks.append(("all zero", _block([])))
    negz = np.full(16, -0.0, F32)
    blocks.append(("all -0.0", negz))
    mixed = _block([1.0, -0.0, -1e-7, 0.0, -0.1, 0.1])
    mixed[6:] = -0.0
    blocks.append(("-0.0 and negatives that round to 0", mixed))
    blocks.append(("single nonzero element", _block([0.0, 0.0, -3.25])))
    blocks.append(("single nonzero element, tiny", _block([2.0**-12])))
    blocks.append(("equal elements", np.full(16, 0.3, F32)))
    rs = np.random.RandomState(5)
    blocks.append(("integers (many ties)", rs.randint(-12, 13, 16).astype(F32)))
    blocks.append(("integers / 4 (many ties)", (rs.randint(-12, 13, 16) / 4).astype(F32)))
    return blocks


def corner_matrix():
    """The corner blocks, four to a row (so block size 32 pairs them up)."""
    blocks = [b for _, b in corner_blocks()]
    while len(blocks) % 4:
        blocks.append(np.zeros(16, F32))
    return np.stack(blocks).reshape(-1, K).astype(F32)


def ties_matrix():
    """Exact E2M1 ties under every recipe: the tensor's amax is 6 * 448 = 2688, so the
    two-level tensor scale is 1 (te, modelopt, torchao), and every block's amax is
    6 * 2^k, so its scale is the power of two 2^k and the scaled elements are exactly the
    7 decision boundaries (and the E2M1 values, both signs)."""
    blocks = [_block([2688.0, 448.0 * 0.75, -448.0 * 3.5, 448.0 * 5])]
    for k in (6, 3, 0, -2, -5, -7):
        ties = [6.0] + [b * (-1) ** i for i, b in enumerate(_BOUNDS)] + [-b for b in _BOUNDS[:4]] + [-6.0, 0.5, 1.5, 3.0]
        blocks.append(_block(np.array(ties) * 2.0**k))
        blocks.append(_block(np.array([6.0] + [-b for b in _BOUNDS] + _BOUNDS) * 2.0**k))
    while len(blocks) % 4:
        blocks.append(_block([1.75, -0.75, 6.0, 3.5]))
    return np.stack(blocks).reshape(-1, K).astype(F32)


def as_dtype(W, dtype):
    """W rounded to float16 / bfloat16 (RNE); the vector's input is in that dtype."""
    return W.astype({"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}[dtype])


def hessian_case(seed=3, m=8, t=24):
    """(W, X) with integer activations: correlated columns of very different norms."""
    rs = np.random.RandomState(seed)
    X = rs.randint(-3, 4, (t, K)).astype(F32)
    X[:, 1:] += X[:, :-1]  # neighbouring columns correlate
    X[:, ::5] *= 4  # column norms differ
    W = (rs.standard_normal((m, K)) * 10.0 ** rs.uniform(-1, 1, (m, 1))).astype(F32)
    return W, X


def exact_hessians(X, block_size):
    """H_j = X_j^T X_j as float32, exact for the integer X of hessian_case."""
    Xd = np.asarray(X, np.float64)
    assert np.array_equal(Xd, np.round(Xd)) and np.abs(Xd).max() * len(Xd) ** 0.5 < 2**11
    return np.stack([Xd[:, j:j + block_size].T @ Xd[:, j:j + block_size]
                     for j in range(0, Xd.shape[1], block_size)]).astype(F32)


def full_hessian(X):
    """H = X^T X (K, K) as float32, exact for the integer X of hessian_case."""
    Xd = np.asarray(X, np.float64)
    assert np.array_equal(Xd, np.round(Xd)) and np.abs(Xd).max() * len(Xd) ** 0.5 < 2**11
    return (Xd.T @ Xd).astype(F32)


def diagonal_hessian(block_size, seed=4):
    """(K // block_size, bs, bs) diagonal Hessians (float32) with power-of-two diagonals."""
    rs = np.random.RandomState(seed)
    d = 2.0 ** rs.randint(-3, 5, (K // block_size, block_size))
    return np.stack([np.diag(r) for r in d]).astype(F32)


def zero_tensor():
    """An all-zero tensor: +0.0 and -0.0 (the tensor amax A is 0)."""
    W = np.zeros((4, K), F32)
    W[1::2, ::3] = -0.0
    return W


def tiny_tensor():
    """A tensor of amax 1e-37: te's S_enc = 2688/A overflows float32 (capped at FLT_MAX),
    torchao's fl(1/ts) overflows (its element factor is capped), and the blocks hold
    subnormals, exact zeros and -0.0."""
    rs = np.random.RandomState(6)
    W = (rs.standard_normal((4, K)) * 2e-38).astype(F32)
    W[0, 0] = 1e-37
    W[:, 5::7] = -0.0
    W[:, 6::7] = 0.0
    W[2] = (rs.standard_normal(K) * 1e-44).astype(F32)  # subnormals
    return W


def subnormal_tensor():
    """A tensor of subnormals, amax 1e-42: A / 2688 underflows to 0, which modelopt and
    torchao replace by a tensor scale of 1.0 (SPEC §7.3)."""
    rs = np.random.RandomState(9)
    W = (rs.standard_normal((4, K)) * 3e-43).astype(F32)
    W[0, 0] = 1e-42
    W[:, 3::5] = -0.0
    return W


def tiles_matrix(seed=14):
    """(32, 64) float32 for the 16x16 tile vectors of naive and optimal. Tile (0, 0): one
    large element (1e4, row 5) among values ~0.01; (0, 1): all zero (+0.0 and -0.0: every
    byte ties in the search); (0, 2): rows of magnitudes over four decades with the tile's
    max in row 9 (not the first); (0, 3): the first 16 corner blocks as its rows; tile
    row 1: normal rows at per-row magnitudes over two decades."""
    rs = np.random.RandomState(seed)
    big = rs.standard_normal((16, 16)) * 0.01
    big[5, 7] = 1e4
    zero = np.zeros((16, 16))
    zero[1::3, ::2] = -0.0
    spread = rs.standard_normal((16, 16)) * 10.0 ** rs.uniform(-2, 1, (16, 1))
    spread[9, 4] = 40.0
    corners = np.stack([b for _, b in corner_blocks()[:16]])
    top = np.concatenate([big, zero, spread, corners], axis=1)
    bottom = rs.standard_normal((16, K)) * 10.0 ** rs.uniform(-1, 1, (16, 1))
    return np.concatenate([top, bottom]).astype(F32)


def layout_matrix(seed=8, m=130, k=160):
    """130 x 160 rows of normal values: the scales span 2 x 3 (bs 16) or 2 x 2 (bs 32) tiles
    of the 128x4 swizzled layout, with padded rows and columns."""
    rs = np.random.RandomState(seed)
    return (rs.standard_normal((m, k)) * 10.0 ** rs.uniform(-1, 1, (m, 1))).astype(F32)

#: A row for the GPTQ suite (found by search, tests' SpecReference and mutants): under
#: the seed recipe, blocks of 16 and the suite's H, the second column of the first group
#: swept is updated by the first column's error to exactly 2.5 times its block scale, an
#: E2M1 tie; an update rounded once (FMA, or float64) lands one ulp away and rounds the
#: other way. The float32 bits:
GPTQ_TIE_ROW = (
    0xBF5F8017, 0x3E787B29, 0xBED8727E, 0x3EC76BF6, 0x3D861813, 0x3FC00000, 0x3F1FE41B, 0x3F3889DC,
    0xBD06C4B9, 0xBE0C3EC1, 0xBDA3B42A, 0xBEF9A395, 0x3F0C9E7E, 0xBE8AFAF7, 0xBCD1AD0A, 0xBECB1579,
    0xBEA04654, 0xBF238C7F, 0x3F20E7A6, 0xBD9DC922, 0x3EF746A4, 0x3BDA4F69, 0xBEB1C46E, 0xBE27434A,
    0xBE8F6B4D, 0x3B8266E2, 0xBE4022FA, 0xBE198F57, 0xBF307523, 0xBECE8D74, 0x3F53B828, 0xBEABD5F1,
    0xBF06EC8C, 0x3E2CB609, 0x3F34217F, 0xBF3A1D78, 0xBDD586C0, 0xBEA1CE32, 0xBF616916, 0x3EBC2428,
    0xBC400D76, 0x3D12501A, 0xBEC0977C, 0x3E68D978, 0xBE8A0F64, 0xBD925538, 0xBF0DDB7D, 0xBF1BA941,
    0x3F2AF2B5, 0xBE81D19D, 0x3E155721, 0xBC8A67D7, 0xBE61DDC9, 0xBE8209BB, 0x3EA14D18, 0xBE1A8E64,
    0xBD9B140B, 0x3C3609FC, 0x3F1697D3, 0x3EAE35F8, 0x3E43E42F, 0xBE904637, 0xBF30E45A, 0x3EF31465,
)


def gptq_case(m=8):
    """(W, X) of the GPTQ suite: hessian_case's, and GPTQ_TIE_ROW as one more row of W."""
    W, X = hessian_case(m=m)
    tie = np.array(GPTQ_TIE_ROW, np.uint32).view(F32)[None]
    return np.concatenate([W, tie]), X


# ----------------------------------------------------------------------------- MX formats
#: The MX vectors' row length: 4 blocks of 32 per row.
MX_K = 128
#: Per MX format (written out, not read from the code under test): its largest element
#: value, the exponent of its largest power of two (emax) and values that are exact ties
#: of its element rounding at scale 1 (each at most 2^emax, so that a block led by
#: 2^emax has scale 1 in every rounding mode).
MX_CORNERS = {
    "mxfp4": (6.0, 2, [0.25, 0.75, 1.25, 1.75, 2.5, 3.5]),
    "mxfp6_e2m3": (7.5, 2, [0.0625, 0.1875, 0.9375, 1.0625, 1.1875, 2.125, 2.375, 3.875]),
    "mxfp6_e3m2": (28.0, 4, [0.03125, 0.09375, 0.28125, 1.125, 1.375, 6.5, 7.5, 14.0]),
    "mxfp8_e4m3": (448.0, 8, [2.0**-10, 3 * 2.0**-10, 15 * 2.0**-10, 1.0625, 1.1875, 232.0, 240.0]),
    "mxfp8_e5m2": (57344.0, 15, [2.0**-17, 3 * 2.0**-17, 7 * 2.0**-17, 1.125, 1.375, 18432.0, 28672.0]),
}
#: A block on which the least squared error is an exact tie in mxfp4 between its
#: unclipped byte 127 (amax 3.531005859375 rounds to 4) and byte 126 (it clips to 3, and
#: 0.25 + 2^-10 is then exact): both errors are 0.25 - 2e + 0.0625 - 0.5d, e = amax - 3.5,
#: d = 2^-10 (the search keeps the unclipped byte).
MX_SEARCH_TIE = (3.531005859375, 0.25 + 2.0**-10)
#: The tie block plus 0.125 + 2^-26, which is 2^-27 closer to byte 126's grid (0.25)
#: than to byte 127's (0): the float64 errors pick 126; in float32 the two sums are equal.
MX_SEARCH_NEAR_TIE = MX_SEARCH_TIE + (0.125 + 2.0**-26,)


def _next(v, direction):
    return np.nextafter(F32(v), F32(direction))


def _mx_block(rs, amax, lead=None, zeros=4):
    """A block of 32 led by ``amax`` (or the values ``lead``) and filled with values of
    magnitude below amax, both signs, a few zeros and -0.0."""
    amax = F32(amax)
    fill = (rs.uniform(-1, 1, 32) * np.float64(amax)).astype(F32)
    fill = np.where(np.abs(fill) > amax, amax, fill).astype(F32)
    lead = [amax] if lead is None else lead
    fill[:len(lead)] = lead
    idx = rs.permutation(np.arange(len(lead), 32))[:zeros]
    fill[idx[: zeros // 2]] = 0.0
    fill[idx[zeros // 2:]] = -0.0
    return fill.astype(F32)


def mx_corner_blocks(seed=21):
    """(description, 32-element block) for the MX corner cases."""
    rs = np.random.RandomState(seed)
    blocks = [("all zero", np.zeros(32, F32)), ("all -0.0", np.full(32, -0.0, F32))]
    mixed = np.zeros(32, F32)
    mixed[1::2] = -0.0
    mixed[7] = -1e-3
    blocks.append(("+0.0, -0.0 and one negative that rounds to zero", mixed))
    for p in (1.0, 2.0**-20, 2.0**30):
        for what, a in (("at", F32(p)), ("one ulp below", _next(p, 0)), ("one ulp above", _next(p, np.inf))):
            blocks.append((f"amax {what} the power of two {p!r}", _mx_block(rs, a)))
    for fmt, (largest, _, _) in MX_CORNERS.items():
        blocks.append((f"amax = {fmt}'s largest", _mx_block(rs, largest)))
        for k in (20, -50):  # fl(amax / largest) one ulp above 2^k: rceil's exact ceiling vs a float32 log2
            blocks.append((f"amax one ulp above {fmt}'s largest x 2^{k}", _mx_block(rs, _next(largest * 2.0**k, np.inf))))
    for a in (1e-39, 1e-45, 2.0**-127, 2.0**-126, 3e38, float(np.finfo(F32).max)):
        blocks.append((f"E8M0 range end: amax {a!r}", _mx_block(rs, a)))
    for a in (7.0, 7.9, 30.0, 480.0, 64000.0):  # above mxfp4, e2m3, e3m2, e4m3 (> 464), e5m2 (> 61440) under floor
        blocks.append((f"saturates under floor: amax {a!r}", _mx_block(rs, a, [a, -a, a * 0.96])))
    for fmt, (_, emax, ties) in MX_CORNERS.items():
        t = np.array(ties, np.float64)
        lead = [2.0**emax] + list(t) + list(-t[::-1]) + [0.0, -0.0]
        blocks.append((f"{fmt} element ties at scale 1 (amax 2^{emax})", _mx_block(rs, 2.0**emax, lead, zeros=0)))
    tie = np.zeros(32, F32)
    tie[:2] = MX_SEARCH_TIE
    blocks.append(("mxfp4: equal squared error at bytes 127 and 126", tie))
    near = np.zeros(32, F32)
    near[:3] = MX_SEARCH_NEAR_TIE
    blocks.append(("mxfp4: byte 126's squared error 2^-27 below byte 127's (equal in float32)", near))
    return blocks


def mx_random_rows(seed=22, m=4):
    """Rows of normal, Laplace and Student-t(3) values with per-block magnitudes over
    sixty decades."""
    rs = np.random.RandomState(seed)
    kinds = [rs.standard_normal, rs.laplace, lambda size: rs.standard_t(3, size=size)]
    rows = [kinds[i % 3](size=(MX_K // 32, 32)) * 10.0 ** rs.uniform(-30, 30, (MX_K // 32, 1)) for i in range(m)]
    return np.stack([r.reshape(MX_K) for r in rows]).astype(F32)


def mx_corner_matrix():
    """The MX corner blocks, four to a row, then random rows: (16, 128) float32."""
    blocks = [b for _, b in mx_corner_blocks()]
    while len(blocks) % 4:
        blocks.append(np.zeros(32, F32))
    corners = np.stack(blocks).reshape(-1, MX_K)
    return np.concatenate([corners, mx_random_rows(m=16 - len(corners))]).astype(F32)


def mx_hessian_case(seed=23, m=8, t=24):
    """(W, X) for the MX Hessian vectors: integer activations (so H_j = X_j^T X_j is
    exact), correlated columns of different norms; W rows over two decades."""
    rs = np.random.RandomState(seed)
    X = rs.randint(-3, 4, (t, MX_K)).astype(F32)
    X[:, 1:] += X[:, :-1]
    X[:, ::5] *= 4
    W = (rs.standard_normal((m, MX_K)) * 10.0 ** rs.uniform(-1, 1, (m, 1))).astype(F32)
    return W, X
