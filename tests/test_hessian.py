"""nvfp4_optimal_hessian and block_hessians against slow references (tests/naive.py):
the seed's algorithm step by step for mode="seed", brute force over all 126 scales for
mode="exact", on several activation designs."""

import numba
import numpy as np
import pytest
from conftest import assert_bits_equal
from naive import (
    ref_block_hessians,
    ref_fp4_quantize,
    ref_hessian_exhaustive,
    ref_hess_err_seed,
    ref_hessian_table,
    ref_optimal_hessian_seed,
)

import nvfp4_np
from nvfp4_np import core
from nvfp4_np.hessian import diagonal_bounds

F32 = np.float32
BS = 16

# Some random blocks underflow (amax <= 6*2^-10); that warning is tested in test_core.py.
pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


def activations(rng, design, T, K):
    """Activation designs: weak / strong column correlation, column norms spread 100x,
    scaled by 1e-5 and 1e5, rank-deficient (T < bs), a zero column block."""
    Z = rng.standard_normal((T, K))
    spread = 10.0 ** rng.uniform(0, 2, K)
    if design == "weak":
        X = Z @ (np.eye(K) + rng.standard_normal((K, K)) / np.sqrt(K)) * spread
    elif design == "strong":
        X = (rng.standard_normal((T, 8)) @ rng.standard_normal((8, K)) + 0.3 * Z) * spread
    elif design == "spread":
        X = Z * spread
    elif design == "tiny":
        X = Z * spread * 1e-5
    elif design == "huge":
        X = Z * spread * 1e5
    elif design == "rankdef":
        X = Z[:4] * spread
    elif design == "zeroblock":
        X = Z * spread
        X[:, BS:2 * BS] = 0
    else:
        raise ValueError(design)
    return X.astype(F32)


DESIGNS = ("weak", "strong", "spread", "tiny", "huge", "rankdef", "zeroblock")


def weights(rng, M, K, bs=BS):
    W = 0.05 * rng.standard_t(4, size=(M, K // bs, bs)) * 10.0 ** rng.uniform(-1, 1, (M, K // bs, 1))
    return W.astype(F32)


@pytest.fixture(scope="module", params=DESIGNS)
def case(request):
    rng = np.random.default_rng(abs(hash(request.param)) % 2**32)
    K = 256
    X = activations(rng, request.param, 512, K)
    W = weights(rng, 192, K)  # 3072 blocks per design, 21504 in all
    return request.param, W, X, nvfp4_np.block_hessians(X, BS)


# ----------------------------------------------------------------------------- Hessians


def test_block_hessians_exact_on_integer_data(rng):
    # small integers: every product and partial sum is exact in float32 and float64
    X = rng.integers(-8, 9, size=(300, 64)).astype(F32)
    want = ref_block_hessians(X, 16)
    for acc in (np.float32, np.float64):
        for chunk in (7, 64, 8192):
            H = nvfp4_np.block_hessians(X, 16, accumulate=acc, chunk_rows=chunk)
            assert H.dtype == acc and H.shape == (4, 16, 16)
            np.testing.assert_array_equal(H, want)


def test_block_hessians_dtypes_and_block_32(rng):
    import ml_dtypes

    X = rng.standard_normal((100, 64)).astype(F32)
    want = ref_block_hessians(X, 32)
    np.testing.assert_allclose(nvfp4_np.block_hessians(X, 32, accumulate=np.float64), want, rtol=1e-12)
    np.testing.assert_allclose(nvfp4_np.block_hessians(X, 32), want, rtol=1e-5, atol=1e-4)
    for dt in (np.float16, ml_dtypes.bfloat16, np.float64):
        Xd = X.astype(dt)
        np.testing.assert_allclose(
            nvfp4_np.block_hessians(Xd, 32, accumulate=np.float64),
            ref_block_hessians(Xd.astype(np.float64), 32), rtol=1e-12)


@pytest.mark.parametrize("X, bs, err, match", [
    (np.zeros((4, 40), F32), 16, ValueError, "multiple of block_size"),
    (np.zeros(64, F32), 16, ValueError, "2-D"),
    (np.zeros((4, 64), np.int32), 16, TypeError, "floating"),
    (np.zeros((4, 64), F32), 8, ValueError, "16 or 32"),
])
def test_block_hessians_bad_input(X, bs, err, match):
    with pytest.raises(err, match=match):
        nvfp4_np.block_hessians(X, bs)


def test_block_hessians_rejects_non_finite():
    X = np.ones((20, 32), F32)
    X[13, 5] = np.inf
    with pytest.raises(ValueError, match=r"\(13, 5\)"):
        nvfp4_np.block_hessians(X, 16, chunk_rows=4)


# ----------------------------------------------------------------------------- seed mode


def test_seed_mode_matches_reference(case):
    _, W, _, H = case
    s, q, dq = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, return_dequant=True)
    s_ref, q_ref = ref_optimal_hessian_seed(W, H)
    assert_bits_equal(s, s_ref, "scales")
    assert_bits_equal(q, q_ref, "quants")
    assert_bits_equal(dq, q_ref * s_ref[..., None], "dequant")


def test_seed_mode_from_X_equals_from_H(case):
    _, W, X, H = case
    a = nvfp4_np.nvfp4_optimal_hessian(W[:32], X=X)
    b = nvfp4_np.nvfp4_optimal_hessian(W[:32], H_blocks=H)
    for u, v in zip(a, b):
        assert_bits_equal(u, v)


@pytest.mark.parametrize("rounding", ["seed", "rne"])
def test_seed_mode_block_32_and_rounding(rng, rounding):
    X = activations(rng, "strong", 256, 128)
    W = weights(rng, 64, 128, bs=32)
    H = nvfp4_np.block_hessians(X, 32)
    s, q = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, rounding=rounding)
    s_ref, q_ref = ref_optimal_hessian_seed(W, H, rounding)
    assert_bits_equal(s, s_ref, "scales")
    assert_bits_equal(q, q_ref, "quants")


# ----------------------------------------------------------------------------- exact mode


def test_exact_mode_equals_brute_force(case):
    name, W, _, H = case
    s, q = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact")
    s_bf, e_bf = ref_hessian_exhaustive(W, H)
    s = s.reshape(-1)
    e0, table, s0 = ref_hessian_table(W, H)
    # the brute force's error of the kernel's choice
    codes = np.searchsorted(nvfp4_np.build_fp8_e4m3_scales(), s)
    e_k = np.where(s == s0, e0, table[np.minimum(codes, 125), np.arange(s.size)])
    tol = 1e-12 * np.maximum(np.abs(e_bf), 1e-300)
    assert np.all(e_k <= e_bf + tol), f"{name}: the kernel's choice is worse than the brute force"
    differ = s != s_bf
    # a different choice is only allowed on a float64 near-tie (summation order)
    assert np.all(np.abs(e_k - e_bf)[differ] <= tol[differ]), name
    assert differ.sum() <= max(3, s.size // 1000), f"{name}: {differ.sum()} choices differ"
    assert_bits_equal(q, ref_fp4_quantize(W.reshape(-1, BS), s[:, None]).reshape(W.shape), "quants")


def test_exact_never_worse_than_seed_mode(case):
    name, W, _, H = case
    e0, table, s0 = ref_hessian_table(W, H)
    scales = nvfp4_np.build_fp8_e4m3_scales()

    def errors(s):
        s = s.reshape(-1)
        codes = np.minimum(np.searchsorted(scales, s), 125)
        return np.where(s == s0, e0, table[codes, np.arange(s.size)])

    e_seed = errors(nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H)[0])
    e_exact = errors(nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact")[0])
    assert np.all(e_exact <= e_seed * (1 + 1e-12) + 1e-300), name
    assert e_exact.sum() <= e_seed.sum()


def test_exact_mode_rne_block_32(rng):
    X = activations(rng, "weak", 256, 128)
    W = weights(rng, 64, 128, bs=32)
    H = nvfp4_np.block_hessians(X, 32)
    s, _ = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact", rounding="rne")
    s_bf, e_bf = ref_hessian_exhaustive(W, H, "rne")
    assert (s.reshape(-1) != s_bf).sum() <= 2


def test_diagonal_bound_is_a_lower_bound(rng):
    """r^T H r as each mode evaluates it (float64; the seed's float32 order) is never below
    mu * sum d r^2: near-singular, spread and rank-deficient H, r over 8 decades."""
    mats = []
    for _ in range(40):
        A = rng.standard_normal((20, 16)) * 10.0 ** rng.uniform(-3, 3, 16)
        mats.append(A.T @ A)
        B = rng.standard_normal((3, 16))
        mats.append(B.T @ B)  # rank 3
        mats.append(np.diag(10.0 ** rng.uniform(-3, 3, 16)))  # mu = 1: the tightest case
    C = rng.standard_normal((16, 16))
    mats.append(C + C.T)  # indefinite: no bound
    H32 = np.array(mats, dtype=F32)
    for dtype in (np.float64, np.float32):
        d, mu = diagonal_bounds(H32, dtype)
        assert mu[-1] == -np.inf
        assert (mu[:-1] > -np.inf).all()
        for j in range(len(H32) - 1):
            r = (rng.standard_normal((30, 16)) * 10.0 ** rng.uniform(-4, 4, (30, 16))).astype(F32)
            if dtype == np.float64:
                r64 = r.astype(np.float64)
                e = np.einsum("na,ab,nb->n", r64, H32[j].astype(np.float64), r64)
            else:
                e = ref_hess_err_seed(r, np.broadcast_to(H32[j], (30, 16, 16))).astype(np.float64)
            bound = mu[j] * np.sum(d[j] * r.astype(np.float64) ** 2, axis=1)
            assert np.all(e >= bound), (dtype, j)


def test_diagonal_bound_holds_for_an_asymmetric_block(rng):
    """r^T H r sees only H's symmetric part S. A block whose lower triangle alone, mirrored,
    is S + N with N >= 0 along S's null vector v (an antisymmetric part H - S that
    check_hessian_blocks accepts) must still get a bound with mu * sum d v^2 <= v^T H v
    = 0, not one from that other matrix."""
    A = rng.standard_normal((15, 16))
    S = A.T @ A  # rank 15
    v = np.linalg.svd(A)[2][-1]
    N = 0.5 * np.linalg.eigvalsh(S)[1] * np.outer(v, v)
    L = np.tril(N, -1)
    H = (S + L - L.T)[None]
    assert core.check_hessian_blocks(H) is H
    assert np.linalg.eigvalsh(S + L + L.T)[0] > 1e-3  # the lower triangle's matrix is definite
    d, mu = diagonal_bounds(H, np.float64)
    assert -1e-6 < mu[0] <= 0  # S is singular: the bound is (just below) 0, not -inf
    r = np.concatenate([v[None], rng.standard_normal((2000, 16))])
    e = np.einsum("na,ab,nb->n", r, H[0], r)
    assert np.all(e >= mu[0] * np.sum(d[0] * r * r, axis=1))


def test_diagonal_bound_covers_the_evaluation_of_a_large_antisymmetric_part(rng):
    """The rounding margin takes the whole H's norm: with an antisymmetric part 1e9 times
    S, r^T H r as the exact search evaluates it (hessian.quad_form64, float64) is off by
    far more than S's norm allows, and the bound must still hold along C's smallest
    eigenvector (a margin from the symmetric part's norm failed there)."""
    from nvfp4_np.hessian import quad_form64

    A = rng.standard_normal((40, 16))
    S = A.T @ A
    K = rng.standard_normal((16, 16)) * 1e9 * np.abs(S).max()
    H = (S + K - K.T)[None]
    assert core.check_hessian_blocks(H) is H
    for dtype in (np.float64, np.float32):
        d, mu = diagonal_bounds(H, dtype)
        inv = 1 / np.sqrt(d[0])
        v = np.linalg.eigh(S * inv[:, None] * inv[None, :])[1][:, 0] * inv  # C's lowest, in r's units
        r = np.concatenate([v[None] * 10.0 ** rng.uniform(-3, 3, (500, 1)), rng.standard_normal((500, 16))])
        e = np.array([quad_form64(ri, H[0]) for ri in r])
        assert np.all(e >= mu[0] * np.sum(d[0] * r * r, axis=1)), dtype


# ----------------------------------------------------------------------------- layout, errors


def test_any_dim_and_nd_layout(case):
    _, W, _, H = case
    ref = nvfp4_np.nvfp4_optimal_hessian(W[:16], H_blocks=H, mode="exact", return_dequant=True)
    Wt = np.moveaxis(W[:16], -1, 0)  # (bs, M, ncb), blocks along dim 0
    got = nvfp4_np.nvfp4_optimal_hessian(Wt, dim=0, H_blocks=H, mode="exact", return_dequant=True)
    assert_bits_equal(got[0], ref[0])
    assert_bits_equal(got[1], np.moveaxis(ref[1], -1, 0))
    W4 = W[:16].reshape(4, 4, W.shape[1], BS)
    got = nvfp4_np.nvfp4_optimal_hessian(W4, H_blocks=H)
    assert_bits_equal(got[0].reshape(16, -1), nvfp4_np.nvfp4_optimal_hessian(W[:16], H_blocks=H)[0])


def test_thread_count_does_not_change_bits(case):
    _, W, _, H = case
    old = numba.get_num_threads()
    try:
        out = {}
        for t in (1, 2):
            numba.set_num_threads(t)
            out[t] = [nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode=m)[0] for m in ("seed", "exact")]
    finally:
        numba.set_num_threads(old)
    for a, b in zip(out[1], out[2]):
        assert_bits_equal(a, b)


def test_bad_inputs():
    W = np.zeros((4, 2, 16), F32)
    X = np.ones((8, 32), F32)
    f = nvfp4_np.nvfp4_optimal_hessian
    with pytest.raises(ValueError, match="X .* or H_blocks"):
        f(W)
    with pytest.raises(ValueError, match="does not match"):
        f(W, X=np.ones((8, 48), F32))
    with pytest.raises(ValueError, match="does not match"):
        f(W.reshape(4, 32).reshape(2, 4, 16), X=X)  # 4 column blocks, X has 2
    with pytest.raises(ValueError, match="shape"):
        f(W, H_blocks=np.zeros((3, 16, 16), F32))
    with pytest.raises(TypeError, match="float32 or float64"):
        f(W, H_blocks=np.zeros((2, 16, 16), np.float16))
    with pytest.raises(ValueError, match="non-finite"):
        f(W, H_blocks=np.full((2, 16, 16), np.nan, F32))
    with pytest.raises(ValueError, match="mode"):
        f(W, X=X, mode="fast")
    with pytest.raises(ValueError, match="column-block axis"):
        f(np.zeros(16, F32), X=X)
    Wn = W.copy()
    Wn[1, 1, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        f(Wn, X=X)


# ------------------------------------------------------- caller-given H_blocks: PSD


PSD_TAIL = ". Block Hessians X_j^T X_j are PSD up to rounding; compute them with nvfp4_np.block_hessians(X, block_size)"


def running_mean_hessian(X):
    """2/T sum_t x_t^T x_t as a running mean updated one row at a time in float32, as
    some calibration code accumulates it (each step rounds every entry)."""
    H = np.zeros((X.shape[1],) * 2, F32)
    for n in range(1, len(X) + 1):
        H *= F32((n - 1) / n)
        x = np.sqrt(F32(2 / n)) * X[n - 1]
        H += np.outer(x, x)
    return H


def rotated(b, bs=16):
    """The identity with eigenvalue ``b`` in place of one 1, rotated 45 degrees in the
    first two coordinates (so its diagonal stays non-negative)."""
    h = np.eye(bs)
    h[:2, :2] = [[(1 + b) / 2, (1 - b) / 2], [(1 - b) / 2, (1 + b) / 2]]
    return h


def test_check_hessian_blocks_accepts_gram_matrices(rng):
    X = rng.standard_normal((4096, 64)).astype(F32)
    for bs in (16, 32):
        H = nvfp4_np.block_hessians(X, bs)  # float32 accumulation
        assert core.check_hessian_blocks(H) is H
        Hr = nvfp4_np.block_hessians(X[:5], bs)  # T < bs: singular
        assert core.check_hessian_blocks(Hr, 64 // bs, bs) is Hr
    for design in DESIGNS:  # tiny and huge scales, rank-deficient, a zero block
        H = nvfp4_np.block_hessians(activations(rng, design, 512, 256), BS)
        assert core.check_hessian_blocks(H, 16, BS) is H
    Z = np.zeros((2, 16, 16), F32)
    assert core.check_hessian_blocks(Z) is Z


def test_check_hessian_blocks_tolerance_covers_float32_rounding():
    """A singular Gram matrix accumulated in float32 is slightly indefinite; its smallest
    eigenvalue here is below -1e-6 x the largest, well inside the 1e-3 tolerance."""
    X = np.random.default_rng(0).standard_normal((4096, 64)).astype(F32)
    X[:, 2::3] = X[:, 0:-2:3] + X[:, 1:-1:3]  # dependent columns
    H = running_mean_hessian(X)
    blocks = np.stack([H[:32, :32], H[32:, 32:]])
    lam = np.linalg.eigvalsh(blocks[0].astype(np.float64))
    assert lam[0] < -1e-6 * np.abs(lam).max()
    assert core.HESSIAN_PSD_RTOL == 1e-3 and core.check_hessian_blocks(blocks) is blocks


def test_check_hessian_blocks_tolerance_boundary():
    ok = np.stack([np.eye(16), rotated(-0.9e-3)])
    assert core.check_hessian_blocks(ok) is ok
    with pytest.raises(ValueError) as e:
        core.check_hessian_blocks(np.stack([np.eye(16), rotated(-1.1e-3)]))
    assert str(e.value) == ("H_blocks[1] is not positive semidefinite (1 of 2 blocks fail): its smallest eigenvalue "
                            "-0.0011 is below -0.001 x its largest |eigenvalue| 1" + PSD_TAIL)


def test_check_hessian_blocks_shape_dtype_and_finite():
    check = core.check_hessian_blocks
    for H, kw, shape in ((np.eye(16), {}, "(K // block_size, block_size, block_size)"),
                         (np.zeros((2, 16, 8)), {}, "(K // block_size, block_size, block_size)"),
                         (np.zeros((3, 16, 16)), {"n_blocks": 2, "block_size": 16},
                          "(K // block_size, block_size, block_size) = (2, 16, 16) for these weights")):
        with pytest.raises(ValueError) as e:
            check(H, **kw)
        assert str(e.value) == f"H_blocks must have shape {shape}, got {H.shape}"
    with pytest.raises(TypeError) as e:
        check(np.zeros((2, 16, 16), np.float16))
    assert str(e.value) == "H_blocks must be float32 or float64, got dtype float16"
    H = np.zeros((2, 16, 16))
    H[1, 2, 3] = np.inf
    with pytest.raises(ValueError) as e:
        check(H)
    assert str(e.value) == "H_blocks contains 1 non-finite values"


def test_non_psd_h_blocks_are_rejected_by_every_entry_point(rng):
    X = rng.standard_normal((4096, 64)).astype(F32)
    W = weights(rng, 8, 64)
    neg = nvfp4_np.block_hessians(X, BS)
    neg[2, 3, 3] = -1.0  # a diagonal entry of a Gram matrix is a sum of squares
    lam = np.linalg.eigvalsh(neg[2].astype(np.float64))[0]
    mixed = np.tile(np.eye(16), (4, 1, 1))
    mixed[1, 4:6, 4:6] = mixed[3, 4:6, 4:6] = [[1, 2], [2, 1]]  # eigenvalues 3 and -1
    cases = {
        "H_blocks[2] is not positive semidefinite (1 of 4 blocks fail): its diagonal entry [3, 3] = -1 is negative "
        f"(smallest eigenvalue {lam:.6g})" + PSD_TAIL: neg,
        "H_blocks[1] is not positive semidefinite (2 of 4 blocks fail): its smallest eigenvalue -1 is below -0.001 x "
        "its largest |eigenvalue| 3" + PSD_TAIL: mixed,
    }
    for msg, H in cases.items():
        for Hd in (H, H.astype(F32)):
            calls = [lambda: nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=Hd),
                     lambda: nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=Hd, mode="exact", recipe="te"),
                     lambda: nvfp4_np.nvfp4_admm(W, H_blocks=Hd),
                     lambda: nvfp4_np.nvfp4_admm(W, H_blocks=Hd, mode="best"),
                     lambda: nvfp4_np.quantize(W.reshape(8, 64), method="hessian", H_blocks=Hd),
                     lambda: nvfp4_np.quantize(W.reshape(8, 64), method="admm", H_blocks=Hd, recipe="modelopt")]
            for call in calls:
                with pytest.raises(ValueError) as e:
                    call()
                assert str(e.value) == msg


def test_quantize_hessian_method(case):
    _, W, X, _ = case
    M = 16
    W2 = W[:M].reshape(M, -1)
    t = nvfp4_np.quantize(W2, method="hessian", X=X, mode="exact")
    s, q = nvfp4_np.nvfp4_optimal_hessian(W[:M], X=X, mode="exact")
    assert_bits_equal(t.scales, s)
    assert_bits_equal(t.quants, q.reshape(M, -1))
    t = nvfp4_np.quantize(W2, method="admm", X=X, mode="best")
    s, q = nvfp4_np.nvfp4_admm(W[:M], X=X, mode="best")
    assert_bits_equal(t.scales, s)
    assert_bits_equal(t.quants, q.reshape(M, -1))
    with pytest.raises(ValueError, match="method='hessian'"):
        nvfp4_np.quantize(W2, method="optimal", X=X)
