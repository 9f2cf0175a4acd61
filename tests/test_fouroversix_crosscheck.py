"""Optional: tests/fouroversix_ref.py (fouroversix's reference quantizer written in NumPy)
against fouroversix 1.0.5 itself on CPU, bit for bit: packed codes, swizzled scale bytes
and amax, for float32 and bfloat16 inputs, every rule, 1-D and 2-D block scales, on
inputs full of ties (values on the E2M1 grid, integers), of wide dynamic range, sparse
and Gaussian; nvfp4_np.nvfp4_four_over_six against the package the same way. Skipped
without torch and fouroversix (docs/design/four_over_six.md says how to install them:
``SKIP_CUDA_BUILD=1 pip install --no-build-isolation fouroversix==1.0.5``)."""

import zlib

import ml_dtypes
import numpy as np

import nvfp4_np
import pytest

torch = pytest.importorskip("torch", reason="needs torch 2.13.0 CPU and fouroversix 1.0.5")
reference = pytest.importorskip("fouroversix.quantize.pytorch.reference", reason="fouroversix 1.0.5 not installed")
fos_utils = pytest.importorskip("fouroversix.utils")

from fouroversix_ref import RULES, quantize_to_fp4, to_blocked  # noqa: E402


def inputs(rng, R, C, kind):
    if kind == "normal":
        return rng.standard_normal((R, C))
    if kind == "wide":  # per-block magnitudes over ~10 decades: subnormal scales
        return (rng.standard_normal((R, C // 16, 16)) * np.exp(rng.uniform(-12, 12, (R, C // 16, 1)))).reshape(R, C)
    if kind == "grid":  # on the E2M1 grid times powers of two: ties everywhere
        g = np.array([0, .5, 1, 1.5, 2, 3, 4, 6])
        return (rng.choice(g, (R, C)) * rng.choice([-1, 1], (R, C))
                * 2.0 ** rng.integers(-3, 3, (R, C // 16, 1)).repeat(16, -1).reshape(R, C))
    if kind == "int":
        return rng.integers(-8, 9, (R, C)).astype(float)
    return rng.standard_normal((R, C)) * (rng.random((R, C)) < 0.1)  # sparse


def both_forms(x, dtype):
    """x (float32) as the NumPy and the torch input of ``dtype``."""
    if dtype == "bfloat16":
        xn = x.astype(ml_dtypes.bfloat16)
        return xn, torch.from_numpy(xn.view(np.int16)).view(torch.bfloat16)
    return x, torch.from_numpy(x)


@pytest.mark.parametrize("kind", ["normal", "wide", "grid", "int", "sparse"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_numpy_reference_and_nvfp4_np_equal_the_package(kind, dtype):
    """The NumPy port (its scales swizzled by its own to_blocked) and
    nvfp4_np.nvfp4_four_over_six (swizzled by nvfp4_np.swizzle_scales) against
    fouroversix: packed codes, scale bytes and amax, every rule, 1-D and 2-D."""
    from nvfp4_np import swizzle_scales
    from nvfp4_np.four_over_six import nvfp4_four_over_six

    rng = np.random.default_rng(zlib.crc32(f"{kind}-{dtype}".encode()))
    for _ in range(3):
        # (20 blocks a row: the CPU kernel's group of 16 blocks side by side, and 4 alone)
        xn, xt = both_forms(inputs(rng, 128, 320, kind).astype(np.float32), dtype)
        for rule in RULES:
            for two_d in (False, True):
                q, s, a = reference.quantize_to_fp4(xt, scale_rule=fos_utils.ScaleRule(rule), block_scale_2d=two_d)
                sb = s.view(torch.uint8).numpy().reshape(-1)
                pq, ps, pa = quantize_to_fp4(xn, rule, two_d)
                assert np.array_equal(q.numpy(), pq), (kind, dtype, rule, two_d)
                assert np.array_equal(sb, to_blocked(ps.view(np.uint8))), (kind, rule, two_d)
                assert a.item() == float(pa)
                os_, oq, oa = nvfp4_four_over_six(xn, rule, block_2d=two_d)
                assert np.array_equal(q.numpy(), oq), ("nvfp4_np", kind, dtype, rule, two_d)
                assert np.array_equal(sb, swizzle_scales(os_).reshape(-1)), ("nvfp4_np", kind, rule, two_d)
                assert a.item() == float(oa)
                t = nvfp4_np.quantize(xn, 16, "4over6", rule=rule, block_shape=(16, 16) if two_d else None)
                assert np.array_equal(q.numpy(), t.codes) and np.array_equal(sb, t.swizzled_scales().reshape(-1))
                K = {"static_6": 2688, "static_4": 1792}.get(rule, 1536)
                assert t.tensor_scale == np.float32(1) / (np.float32(K) / a.float().numpy())  # 1 / fl(K / amax)
