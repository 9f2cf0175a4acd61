"""_eigen.extreme_eigenvalues (the block Hessians' smallest and largest eigenvalues with an
error bound) against LAPACK, and core.check_hessian_blocks' fast decision against its rule
evaluated on LAPACK's eigenvalues, at and around the rule's boundary."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvfp4_np import core
from nvfp4_np._eigen import extreme_eigenvalues


def families(rng, n, m=64):
    """Symmetric float64 matrices of every kind the callers see and some they should not."""
    X = rng.standard_normal((m, 3 * n, n))
    if n > 1:
        X[:, :, 1:] += 0.9 * X[:, :, :-1]  # correlated columns
    gram = np.einsum("jti,jtk->jik", X, X)
    D = np.sqrt(np.exp(rng.uniform(-20, 20, (m, n))))
    B = rng.standard_normal((m, n, n))
    Y = rng.standard_normal((m, min(3, n), n))
    return {
        "gram": gram,
        "column norms over 17 decades": gram * D[:, :, None] * D[:, None, :],
        "indefinite": B + B.transpose(0, 2, 1),
        "rank 3": np.einsum("jti,jtk->jik", Y, Y),
        "zero": np.zeros((3, n, n)),
        "diagonal": np.stack([np.diag(rng.standard_normal(n)) for _ in range(8)]),
        "tiny": gram * 1e-300,
        "subnormal": gram * 1e-310,
        "huge": gram * 1e290,
    }


def hadamard(n):
    H = np.ones((1, 1))
    while len(H) < n:
        H = np.block([[H, H], [H, -H]])
    return H


@pytest.mark.parametrize("n", [1, 2, 16, 32])
def test_extreme_eigenvalues_of_matrices_with_known_eigenvalues(n):
    """A = H diag(w) H^T / n with H a Hadamard matrix and w integers is exact in float64
    and has eigenvalues w exactly: the bound checked against the truth (not LAPACK),
    also scaled by 2^1020 (entries of 2^1023 and more: the scaling's exponent reaches
    1024, the norm overflows) and by n 2^-1074 (subnormal entries and results)."""
    rng = np.random.default_rng(n + 100)
    Had = hadamard(n)
    for _ in range(40):
        w = rng.integers(-15, 16, n).astype(np.float64)
        if rng.random() < 0.3:
            w[:] = w[0]  # one repeated eigenvalue
        A = (Had * w) @ Had.T / n
        np.testing.assert_array_equal(A @ Had, Had * w)  # exact
        for scale in (1.0, 2.0**1020, n * 2.0**-1074, 2.0**-40):  # (A * scale exact)
            lo, hi, err, fro = extreme_eigenvalues((A * scale)[None])
            assert abs(lo[0] - w.min() * scale) <= err[0] and abs(hi[0] - w.max() * scale) <= err[0], (w, scale)
            assert err[0] <= 1e-8 * n * np.abs(w).max() * scale + 2.0**-1070
            with np.errstate(over="ignore"):  # (beyond float64: inf, as documented)
                assert fro[0] == pytest.approx(np.sqrt((w * w).sum()) * scale, rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 16, 32])
def test_extreme_eigenvalues_within_their_bound(n):
    rng = np.random.default_rng(n)
    for name, A in families(rng, n).items():
        lo, hi, err, fro = extreme_eigenvalues(A)
        lam = np.linalg.eigvalsh(A)
        scale = np.abs(A).max(axis=(1, 2))
        assert np.all(np.abs(lo - lam[:, 0]) <= err), name
        assert np.all(np.abs(hi - lam[:, -1]) <= err), name
        # tight enough to be of use: the bound is far below the callers' tolerances
        assert np.all(err <= 1e-8 * n * scale + 1e-300), name


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 32), st.integers(0, 2**32 - 1), st.floats(-300, 300))
def test_extreme_eigenvalues_property(n, seed, log_scale):
    """Random symmetric matrices at any scale, with repeated eigenvalues: LAPACK's
    extremes inside the bound (which is ~1e-9 of the norm, LAPACK's error ~1e-15)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = rng.choice([-1.0, 0.0, 1e-9, 0.5, 1.0, 1.0, 2.0], n)
    A = (Q * w) @ Q.T * 10.0**log_scale
    A = (A + A.T) / 2
    lo, hi, err, _ = extreme_eigenvalues(A[None])
    lam = np.linalg.eigvalsh(A)
    assert abs(lo[0] - lam[0]) <= err[0] and abs(hi[0] - lam[-1]) <= err[0]


def test_extreme_eigenvalues_do_not_depend_on_threads():
    rng = np.random.default_rng(7)
    A = families(rng, 16)["gram"]
    prev = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = extreme_eigenvalues(A)
        numba.set_num_threads(prev)
        many = extreme_eigenvalues(A)
    finally:
        numba.set_num_threads(prev)
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(extreme_eigenvalues(A[5:9]), one):
        np.testing.assert_array_equal(a, b[5:9])  # nor on the batch around a matrix


def boundary_blocks(rng, n=16):
    """Blocks whose smallest eigenvalue sits at -HESSIAN_PSD_RTOL x the largest, and a
    few ulps and far to either side, in random bases and scales."""
    rtol = core.HESSIAN_PSD_RTOL
    out = []
    for rel in (-1e-15, -1e-16, 0.0, 1e-16, 1e-15, -1e-6, 1e-6, -0.5, 0.5):
        for scale in (1e-3, 1.0, 1e4):
            Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
            w = rng.uniform(0.1, 1.0, n)
            w[0] = 1.0
            w[1] = -rtol * (1 + rel)
            A = (Q * w) @ Q.T * scale
            out.append((A + A.T) / 2)
    return np.stack(out)


def test_psd_decision_is_lapacks(monkeypatch):
    """_psd_fails_fast decides every block as the rule on LAPACK's eigenvalues does, the
    blocks within a few ulps of the boundary by asking LAPACK."""
    rng = np.random.default_rng(3)
    blocks = np.concatenate([boundary_blocks(rng), families(rng, 16)["gram"], families(rng, 16)["indefinite"]])
    lam = np.linalg.eigvalsh(blocks)
    want = core._psd_fails(lam[:, 0], np.abs(lam).max(axis=1))
    assert want.any() and not want.all()
    calls = []
    eigvalsh = np.linalg.eigvalsh

    def counted(a):
        calls.append(len(a))
        return eigvalsh(a)

    monkeypatch.setattr(np.linalg, "eigvalsh", counted)
    got = core._psd_fails_fast(blocks)
    monkeypatch.undo()
    np.testing.assert_array_equal(got, want)
    # the boundary's own blocks went to LAPACK, and only a few
    assert calls and 0 < calls[0] <= 2 * 3 * 5


@pytest.mark.parametrize("shift", [(-1, -1), (-1, 1), (1, -1), (1, 1)])
def test_psd_decision_is_lapacks_at_the_worst_the_bound_allows(shift, monkeypatch):
    """The same, with the kernel's answers moved to the ends of what its bound allows
    (lo and hi each shifted by err): the band still decides every block as LAPACK."""
    from nvfp4_np import _eigen

    rng = np.random.default_rng(5)
    blocks = np.concatenate([boundary_blocks(rng), families(rng, 16)["indefinite"][:8]])
    lam = np.linalg.eigvalsh(blocks)
    want = core._psd_fails(lam[:, 0], np.abs(lam).max(axis=1))
    exact = _eigen.extreme_eigenvalues

    def shifted(A):
        # LAPACK's extremes (within ~1e-16 ||A|| of the truth, far inside err) moved
        # by 0.99 err: answers the bound allows, at its ends
        _, _, err, fro = exact(A)
        lam = np.linalg.eigvalsh(A)
        return lam[:, 0] + shift[0] * 0.99 * err, lam[:, -1] + shift[1] * 0.99 * err, err, fro

    monkeypatch.setattr(core, "extreme_eigenvalues", shifted)
    np.testing.assert_array_equal(core._psd_fails_fast(blocks), want)


def test_check_hessian_blocks_same_with_and_without_eigenvalues():
    """check_hessian_blocks accepts and refuses the same blocks, with the same message,
    whether it decides by the fast path or by the batched LAPACK call."""
    rng = np.random.default_rng(4)
    blocks = boundary_blocks(rng)
    for j in range(len(blocks)):
        H = np.stack([np.eye(16), blocks[j]])
        results = []
        for kw in ({}, {"eigenvalues": True}):
            try:
                core.check_hessian_blocks(H, **kw)
                results.append("ok")
            except ValueError as e:
                results.append(str(e))
        assert results[0] == results[1], j
