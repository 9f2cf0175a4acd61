"""nvfp4_admm: seed mode against the seed's algorithm step by step (tests/naive.py), best
mode against the exact Hessian search it must never lose to."""

import numba
import numpy as np
import pytest
from conftest import assert_bits_equal
from naive import ref_admm_seed, ref_naive
from test_hessian import BS, activations, weights

import nvfp4_np
from nvfp4_np.admm import admm_operators

F32 = np.float32

pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


def operators(H):
    Hn, Minv, H32 = admm_operators(H)
    return H32, Hn, Minv


@pytest.fixture(scope="module", params=["weak", "strong", "spread", "zeroblock"])
def case(request):
    rng = np.random.default_rng(abs(hash(request.param)) % 2**32)
    X = activations(rng, request.param, 512, 256)
    W = weights(rng, 96, 256)
    return request.param, W, X, nvfp4_np.block_hessians(X, BS)


@pytest.mark.parametrize("n_outer, n_inner", [(3, 10), (1, 4), (6, 10)])
def test_seed_mode_matches_reference(case, n_outer, n_inner):
    _, W, _, H = case
    s, q, dq = nvfp4_np.nvfp4_admm(W, H_blocks=H, n_outer=n_outer, n_inner=n_inner, return_dequant=True)
    s_ref, q_ref = ref_admm_seed(W, *operators(H), n_outer=n_outer, n_inner=n_inner)
    assert_bits_equal(s, s_ref, "scales")
    assert_bits_equal(q, q_ref, "quants")
    assert_bits_equal(dq, q_ref * s_ref[..., None], "dequant")


def test_seed_mode_from_X(case):
    _, W, X, H = case
    for a, b in zip(nvfp4_np.nvfp4_admm(W[:16], X=X), nvfp4_np.nvfp4_admm(W[:16], H_blocks=H)):
        assert_bits_equal(a, b)


def test_rne_and_block_32(rng):
    X = activations(rng, "strong", 256, 128)
    W = weights(rng, 32, 128, bs=32)
    H = nvfp4_np.block_hessians(X, 32)
    for rounding in ("seed", "rne"):
        s, q = nvfp4_np.nvfp4_admm(W, H_blocks=H, rounding=rounding)
        s_ref, q_ref = ref_admm_seed(W, *operators(H), rounding=rounding)
        assert_bits_equal(s, s_ref)
        assert_bits_equal(q, q_ref)


def test_n_outer_zero_is_naive(case):
    _, W, _, H = case
    s, q = nvfp4_np.nvfp4_admm(W, H_blocks=H, n_outer=0)
    s_ref, q_ref = ref_naive(W.reshape(-1, BS))
    assert_bits_equal(s.reshape(-1), s_ref)
    assert_bits_equal(q.reshape(-1, BS), q_ref)


def test_edge_rows():
    """SEED_BEHAVIOR.md c: a zero row gives s = 0, q = 0; amax 1e-4 gives s = 0 and all
    quants 0 (x / 0 is inf or NaN, and torch.sign(NaN) = 0); amax 1e4 gives 448."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 16)).astype(F32)
    base = rng.standard_normal(16).astype(F32)
    base /= np.abs(base).max()
    W = np.stack([np.zeros(16, F32), base * F32(1e-4), base * F32(1e4), base])[:, None, :]
    s, q, dq = nvfp4_np.nvfp4_admm(W, X=X, return_dequant=True)
    s_ref, q_ref = ref_admm_seed(W, *operators(nvfp4_np.block_hessians(X, 16)))
    assert_bits_equal(s, s_ref)
    assert_bits_equal(q, q_ref)
    assert s[0, 0] == 0 and s[1, 0] == 0 and s[2, 0] == 448
    assert not q[:2].any() and np.isfinite(dq).all()


# ----------------------------------------------------------------------------- best mode


def errors_of(W, H, s, q):
    """float64 r^T H_j r of each block for given scales and quants."""
    M, ncb, bs = W.shape
    r = W.astype(np.float64) - q.astype(np.float64) * s[..., None].astype(np.float64)
    return np.einsum("mja,jab,mjb->mj", r, H.astype(np.float64), r).reshape(-1)


def test_best_mode_never_loses_to_exact_search(case):
    name, W, _, H = case
    s, q, info = nvfp4_np.nvfp4_admm(W, H_blocks=H, mode="best", return_info=True)
    s_h, q_h = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact")
    e_best, e_h = errors_of(W, H, s, q), errors_of(W, H, s_h, q_h)
    assert np.all(e_best <= e_h * (1 + 1e-12) + 1e-300), name
    assert e_best.sum() <= e_h.sum()
    assert info["blocks"] == W.shape[0] * W.shape[1]
    assert info["error"] <= info["hessian_error"]
    changed = (s != s_h) | (q != q_h).any(axis=-1)
    assert info["improved_blocks"] == changed.sum()
    # where ADMM was kept it is strictly better
    assert np.all(e_best[changed.reshape(-1)] < e_h[changed.reshape(-1)])


def test_best_mode_threads_and_seed_mode_threads(case):
    _, W, _, H = case
    old = numba.get_num_threads()
    try:
        res = {}
        for t in (1, 2):
            numba.set_num_threads(t)
            res[t] = [nvfp4_np.nvfp4_admm(W, H_blocks=H, mode=m) for m in ("seed", "best")]
    finally:
        numba.set_num_threads(old)
    for a, b in zip(res[1], res[2]):
        for u, v in zip(a, b):
            assert_bits_equal(u, v)


def test_bad_inputs():
    W = np.zeros((4, 2, 16), F32)
    X = np.ones((8, 32), F32)
    with pytest.raises(ValueError, match="mode"):
        nvfp4_np.nvfp4_admm(W, X=X, mode="fast")
    with pytest.raises(ValueError, match="n_outer"):
        nvfp4_np.nvfp4_admm(W, X=X, n_outer=-1)
    with pytest.raises(ValueError, match="n_inner"):
        nvfp4_np.nvfp4_admm(W, X=X, n_inner=1.5)
    with pytest.raises(ValueError, match="return_info"):
        nvfp4_np.nvfp4_admm(W, X=X, return_info=True)
    with pytest.raises(ValueError, match="nvfp4_admm needs"):
        nvfp4_np.nvfp4_admm(W)
    with pytest.raises(ValueError, match="does not match"):
        nvfp4_np.nvfp4_admm(W, X=np.ones((8, 48), F32))


def test_rows_per_task_does_not_change_bits(case, monkeypatch):
    """The kernels split each column block's rows into tasks (ADMM batches a task's
    blocks together); the split must not change a bit."""
    import nvfp4_np.admm as admm_mod
    import nvfp4_np.hessian as hessian_mod

    _, W, _, H = case
    want = [nvfp4_np.nvfp4_admm(W, H_blocks=H, mode=m) for m in ("seed", "best")]
    want_h = nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact")
    for rows in (1, 7, 64):
        monkeypatch.setattr(admm_mod, "ADMM_ROWS_PER_TASK", rows)
        monkeypatch.setattr(hessian_mod, "HESSIAN_ROWS_PER_TASK", rows)
        for m, w in zip(("seed", "best"), want):
            for u, v in zip(nvfp4_np.nvfp4_admm(W, H_blocks=H, mode=m), w):
                assert_bits_equal(u, v, f"admm {m}, {rows} rows per task")
        for u, v in zip(nvfp4_np.nvfp4_optimal_hessian(W, H_blocks=H, mode="exact"), want_h):
            assert_bits_equal(u, v, f"hessian exact, {rows} rows per task")


def test_operators_equal_scipys_batched_inverse(case):
    """admm_operators' inverses (NumPy's batched LAPACK gesv) rounded to float32 equal
    scipy's batched getri's on these Hessians: the two can differ in the last float64
    bit (validation/SPEC.md §4.4), which did not survive the rounding here."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    _, _, _, H = case
    Hn, Minv, _ = admm_operators(H)
    A = Hn.astype(np.float64) + np.eye(Hn.shape[-1])
    try:
        batched = scipy_linalg.inv(A)
    except ValueError:
        pytest.skip("this scipy has no batched inv")
    assert_bits_equal(Minv, batched.astype(np.float32))


@pytest.mark.parametrize("symmetric", [True, False])
def test_operators_reuse_the_checks_eigenvalues(symmetric, rng):
    """admm_operators takes lambda_max from check_hessian_blocks' eigenvalues where a block
    is symmetric bit for bit, and computes it afresh elsewhere: the same operators as
    without them, both ways."""
    from nvfp4_np.core import check_hessian_blocks

    X = rng.standard_normal((64, 64)).astype(np.float32)
    X[:, 1:] += 0.5 * X[:, :-1]
    H = nvfp4_np.block_hessians(X, 16).astype(np.float64)
    H = (H + H.transpose(0, 2, 1)) * 0.5
    if not symmetric:
        H[1, 3, 5] = np.nextafter(H[1, 3, 5], np.inf)  # one block a last bit off its transpose
        H[2, 0, 1], H[2, 1, 0] = 0.0, -0.0
    _, lam = check_hessian_blocks(H, eigenvalues=True)
    for got, want in zip(admm_operators(H, lam), admm_operators(H)):
        assert_bits_equal(got, want, f"symmetric={symmetric}")
