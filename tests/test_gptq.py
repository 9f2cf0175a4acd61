"""GPTQ (gptq.py) against the slow sweep of tests/naive.py (SpecReference.gptq) bit for
bit, for every recipe, scale search, block size and order; its operators against an
independent float64 computation; and the properties that define it: the bits do not
depend on the lazy block, the thread count or the row tiling, and with no correlation
between columns (H = I) there is nothing to compensate, so GPTQ is the plain method."""

import numba
import numpy as np
import pytest

import nvfp4_np
from naive import SpecReference
from nvfp4_np import gptq
from nvfp4_np.encoding import pack_fp4  # noqa: F401  (the byte layout under test is the kernels')

pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


def layer(rng, M=6, K=64, T=96):
    """A small heavy-tailed weight and correlated activations (columns of mixed scale)."""
    W = (rng.standard_t(4, (M, K)) * 0.02).astype(np.float32)
    X = rng.standard_normal((T, K)).astype(np.float32)
    X[:, 1:] += 0.6 * X[:, :-1]
    X *= np.exp(rng.normal(0, 0.5, K)).astype(np.float32)
    return W, X


def run(W, X, bs, **kw):
    t = nvfp4_np.quantize(W, bs, "gptq", X=X, **kw)
    return t


def assert_matches_reference(t, W, X, bs, recipe, scales, order, damp=0.01):
    H = gptq.full_hessian(X)
    groups, U, Hg = gptq.gptq_operators(H, bs, damp=damp, order=order)[:3]
    want = SpecReference(recipe).gptq(W, bs, scales, groups, U, Hg)
    assert np.array_equal(t.scale_bytes, want["scale_bytes"]), "scale bytes"
    assert np.array_equal(t.codes, want["codes"]), "codes"
    got_dq = t.dequantize()
    assert np.array_equal(got_dq.view(np.uint32), want["dequant"].view(np.uint32)), "dequant"
    assert np.float32(t.tensor_scale) == want["tensor_scale"][0]


@pytest.mark.parametrize("recipe", sorted(nvfp4_np.registry.RECIPES))
@pytest.mark.parametrize("scales", gptq.MODES)
def test_matches_the_slow_sweep(recipe, scales, rng):
    W, X = layer(rng)
    for order in gptq.ORDERS:
        t = run(W, X, 16, recipe=recipe, mode=scales, order=order)
        assert_matches_reference(t, W, X, 16, recipe, scales, order)


@pytest.mark.parametrize("recipe", ["seed", "compressed-tensors"])
def test_matches_the_slow_sweep_in_blocks_of_32_with_a_larger_damp(recipe, rng):
    W, X = layer(rng, M=5, K=96)
    t = run(W, X, 32, recipe=recipe, mode="optimal", order="act", damp=0.1)
    assert_matches_reference(t, W, X, 32, recipe, "optimal", "act", damp=0.1)


def test_bits_do_not_depend_on_lazy_block_threads_or_row_tiles(rng, monkeypatch):
    W, X = layer(rng, M=40, K=128)
    ref = run(W, X, 16, recipe="te", mode="hessian", order="act")
    before = numba.get_num_threads()
    try:
        for block, threads, tile in ((16, 1, 1), (32, numba.config.NUMBA_NUM_THREADS, 3), (128, 1, 64),
                                     (1024, numba.config.NUMBA_NUM_THREADS, 7)):
            numba.set_num_threads(threads)
            monkeypatch.setattr(gptq, "GPTQ_ROWS_PER_TASK", tile)
            t = run(W, X, 16, recipe="te", mode="hessian", order="act", block=block)
            assert np.array_equal(t.codes, ref.codes) and np.array_equal(t.scale_bytes, ref.scale_bytes)
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("recipe", ["seed", "torchao"])
def test_without_correlation_gptq_is_the_plain_method(recipe, rng):
    """H = I: U is diagonal, no error reaches another column, and each group's scales are
    those of the plain search on the input."""
    W, _ = layer(rng, M=12, K=64)
    H = np.eye(64)
    for scales, method in (("naive", "naive"), ("optimal", "optimal")):
        t = nvfp4_np.quantize(W, 16, "gptq", H=H, mode=scales, recipe=recipe)
        plain = nvfp4_np.quantize(W, 16, method, recipe=recipe)
        assert np.array_equal(t.codes, plain.codes) and np.array_equal(t.scale_bytes, plain.scale_bytes)


def test_x_its_hessian_and_its_operators_give_the_same_bits(rng):
    W, X = layer(rng)
    H = X.astype(np.float64).T @ X.astype(np.float64)
    a = nvfp4_np.quantize(W, 16, "gptq", X=X, order="act")
    b = nvfp4_np.quantize(W, 16, "gptq", H=H, order="act")
    ops = gptq.gptq_operators(H, 16, order="act")
    c = nvfp4_np.quantize(W, 16, "gptq", H=ops)
    rows = nvfp4_np.quantize(W[2:5], 16, "gptq", H=ops, tensor_amax=np.abs(W).max())  # rows are independent
    for t in (b, c):
        assert np.array_equal(a.codes, t.codes) and np.array_equal(a.scale_bytes, t.scale_bytes)
    assert np.array_equal(rows.codes, a.codes[2:5]) and np.array_equal(rows.scale_bytes, a.scale_bytes[2:5])
    assert a.method == "gptq" and a.mode == "optimal"
    with pytest.raises(ValueError, match="these GPTQ operators are for"):
        nvfp4_np.quantize(W, 16, "gptq", H=ops, order="natural")


def test_operators_against_an_independent_computation(rng):
    _, X = layer(rng, K=64)
    X[:, 5] = 0.0  # a dead input column
    H = X.astype(np.float64).T @ X.astype(np.float64)
    for order in gptq.ORDERS:
        groups, U, Hg = gptq.gptq_operators(H, 16, damp=0.05, order=order)[:3]
        d = np.diagonal(H)
        sums = d.reshape(4, 16).sum(axis=1)
        want = sorted(range(4), key=lambda g: (-sums[g], g)) if order == "act" else list(range(4))
        assert list(groups) == want
        perm = np.concatenate([np.arange(g * 16, g * 16 + 16) for g in want])
        Hd = H.copy()
        Hd[5, 5] = 1.0
        Hd += 0.05 * np.mean(np.diagonal(Hd)) * np.eye(64)
        Hinv = np.linalg.inv(Hd[np.ix_(perm, perm)])
        # U is upper triangular with U^T U = Hinv
        assert np.allclose(np.triu(U), U)
        np.testing.assert_allclose(U.astype(np.float64).T @ U.astype(np.float64), Hinv, rtol=2e-5,
                                   atol=2e-6 * np.abs(Hinv).max())
        for p, g in enumerate(want):
            assert np.array_equal(Hg[p], H[g * 16:(g + 1) * 16, g * 16:(g + 1) * 16])


def test_compensation_lowers_the_output_error(rng):
    """On activations of low effective rank (as real layers' are), compensation beats the
    best per-block scale by far."""
    W, _ = layer(rng, M=64, K=256)
    X = (rng.standard_normal((1024, 32)) @ rng.standard_normal((32, 256)) +
         0.1 * rng.standard_normal((1024, 256))).astype(np.float32)

    def out_err(t):
        return np.linalg.norm(X @ (t.dequantize() - W).T) / np.linalg.norm(X @ W.T)

    hess = out_err(nvfp4_np.quantize(W, 16, "hessian", X=X, mode="exact"))
    for scales in gptq.MODES:
        assert out_err(nvfp4_np.quantize(W, 16, "gptq", X=X, mode=scales)) < 0.8 * hess


def test_bad_arguments_are_named():
    W = np.ones((2, 32), np.float32)
    X = np.ones((8, 32), np.float32)
    with pytest.raises(ValueError, match="needs activations X"):
        nvfp4_np.quantize(W, 16, "gptq")
    with pytest.raises(ValueError, match="not H_blocks"):
        nvfp4_np.quantize(W, 16, "gptq", H_blocks=np.ones((2, 16, 16)))
    with pytest.raises(TypeError, match=r"options \['damp'\] that method 'optimal' does not take"):
        nvfp4_np.quantize(W, 16, "optimal", damp=0.1)
    with pytest.raises(ValueError, match="mode for method 'gptq' must be one of"):
        nvfp4_np.quantize(W, 16, "gptq", X=X, mode="best")
    with pytest.raises(ValueError, match="order must be one of"):
        nvfp4_np.quantize(W, 16, "gptq", X=X, order="random")
    with pytest.raises(ValueError, match="block must be a positive multiple of the block size 16"):
        nvfp4_np.quantize(W, 16, "gptq", X=X, block=24)
    with pytest.raises(ValueError, match=r"H must be \(K, K\) = \(32, 32\)"):
        nvfp4_np.quantize(W, 16, "gptq", H=np.eye(16))
    with pytest.raises(ValueError, match="not positive definite: raise damp"):
        nvfp4_np.quantize(W, 16, "gptq", H=2 * np.ones((32, 32)) - np.eye(32), damp=0.0)  # indefinite
    with pytest.raises(ValueError, match="H holds NaN"):
        nvfp4_np.quantize(W, 16, "gptq", H=np.full((32, 32), np.nan))
    with pytest.raises(ValueError, match="runs on the CPU only"):
        nvfp4_np.quantize(W, 16, "gptq", X=X, device="cuda")


def test_checkpoint_settings_check_gptq_options():
    from nvfp4_np.checkpoint import CheckpointError, Settings

    for bad, match in ((dict(damp=float("inf")), "damp must be a finite number"), (dict(damp=-0.1), "damp must"),
                       (dict(damp=True), "damp must"), (dict(order="random"), "order must be one of"),
                       (dict(device="cuda"), "runs on the CPU only")):
        with pytest.raises(CheckpointError, match=match):
            Settings(method="gptq", **bad)
    assert Settings(method="gptq", damp=np.float32(0.05)).damp == np.float32(0.05)


def test_h_is_read_from_its_lower_triangle(rng):
    """The upper triangle does not matter, in either order (act permutes the rows and
    columns, so a careless implementation would read both)."""
    W, X = layer(rng, K=64)
    H = X.astype(np.float64).T @ X.astype(np.float64)
    junk = H + np.triu(rng.standard_normal(H.shape), 1)
    for order in gptq.ORDERS:
        a = nvfp4_np.quantize(W, 16, "gptq", H=H, order=order)
        b = nvfp4_np.quantize(W, 16, "gptq", H=junk, order=order)
        assert np.array_equal(a.codes, b.codes) and np.array_equal(a.scale_bytes, b.scale_bytes)
