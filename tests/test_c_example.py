"""The golden vectors work without Python: validation/examples/nvfp4_ref.c, a C99
implementation of the naive "seed" and "te" recipes and of MXFP8 E4M3 under the scale
roundings floor and rceil, reproduces them bit for bit, and the checker names its
deliberate nibble-order bug (-DNVFP4_HIGH_NIBBLE_FIRST)."""

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from nvfp4_np import validation
from nvfp4_np.tensor import quantize

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "validation", "examples")
SOURCE = os.path.join(EXAMPLES, "nvfp4_ref.c")
DRIVER = os.path.join(EXAMPLES, "run_c_example.py")
CFLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra"]
SELECT = r"^(?!gptq-).*-naive-(seed|te|(floor|rceil)-mxfp8_e4m3)-"  # (GPTQ's vectors of mode naive are another method)
OUTPUTS = validation.OUTPUTS

CC = shutil.which("cc")
pytestmark = [
    pytest.mark.skipif(CC is None, reason="no C compiler 'cc' on PATH (needed to build validation/examples/nvfp4_ref.c)"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # the corner inputs underflow on purpose
    pytest.mark.slow,  # builds the C example with cc and runs it once per vector
]


def _build(out_dir, *defines):
    exe = os.path.join(out_dir, "nvfp4_ref" + "".join(d.lower().replace("-d", "_") for d in defines))
    p = subprocess.run([CC, *CFLAGS, *defines, "-o", exe, SOURCE], capture_output=True, text=True)
    assert p.returncode == 0, f"compiling {SOURCE} failed:\n{p.stderr}"
    assert "warning" not in p.stderr, f"compiler warnings:\n{p.stderr}"
    return exe


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("c_build"))


@pytest.fixture(scope="module")
def binary(build_dir):
    return _build(build_dir)


@pytest.fixture(scope="module")
def vectors(golden_vectors):
    return golden_vectors


def _run_driver(vectors, exe, out):
    p = subprocess.run([sys.executable, DRIVER, "--vectors", vectors, "--binary", exe, "--out", out, "--quiet"],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"run_c_example.py failed:\n{p.stdout}\n{p.stderr}"
    return out


@pytest.fixture(scope="module")
def candidate(vectors, binary, tmp_path_factory):
    return _run_driver(vectors, binary, str(tmp_path_factory.mktemp("cand")))


def _expected_names(vectors):
    index = json.load(open(os.path.join(vectors, "index.json")))
    return [v["name"] for v in index["vectors"] if v["method"] == "naive" and (
        v["recipe"] in ("seed", "te") or (v.get("fmt") == "mxfp8_e4m3" and v["scale_rounding"] in ("floor", "rceil")))]


def test_c_reference_reproduces_the_vectors(vectors, candidate):
    names = _expected_names(vectors)
    suites = {json.load(open(os.path.join(vectors, n, "manifest.json")))["suite"] for n in names}
    assert suites == {"random", "corners", "ties", "float16", "bfloat16", "zero-tensor", "tiny-tensor",
                      "subnormal-tensor", "layout", "pinned", "mx-corners", "mx-bfloat16"}, suites
    report = validation.verify(vectors, candidate, select=SELECT)
    assert [r.name for r in report.results] == names
    assert report.passed, report.text()


def test_high_nibble_first_is_reported_as_nibble_order(vectors, build_dir, tmp_path):
    exe = _build(build_dir, "-DNVFP4_HIGH_NIBBLE_FIRST")
    report = validation.verify(vectors, _run_driver(vectors, exe, str(tmp_path / "cand")), select=SELECT)
    assert report.results and not report.passed
    for r in report.results:
        # blocks whose codes are nibble palindromes (all zero, say) match either way and
        # are not counted; the all-zero tensor has no other
        if r.name.startswith(("zero-tensor-", "mx-")):  # (MXFP8 has one code per byte)
            assert r.passed
            continue
        assert not r.passed, r.name
        assert set(r.reasons) == {"nibble order"}, (r.name, r.reasons)
        assert 0 < r.differing_blocks <= r.n_blocks
        assert not r.problems, r.problems


def test_te_dividing_is_caught_only_by_the_constructed_vectors(vectors, build_dir, tmp_path):
    """TE's historical bug class, in C: dividing by fl(sf * S_dec) instead of multiplying by
    its rounded reciprocal. The random, corner, tie and float16/bfloat16 vectors cannot see
    it; the vectors built for it (pinned, and the tiny tensor's zero scale) do."""
    exe = _build(build_dir, "-DNVFP4_TE_DIVIDE")
    report = validation.verify(vectors, _run_driver(vectors, exe, str(tmp_path / "cand")), select=r"^(?!gptq-).*-naive-te-")
    failed = {r.name for r in report.results if not r.passed}
    assert {"pinned-naive-te-bs16", "tiny-tensor-naive-te-bs16"} <= failed
    for suite in ("random", "corners", "ties", "float16", "bfloat16"):
        for bs in (16, 32):
            assert f"{suite}-naive-te-bs{bs}" not in failed
    pinned = next(r for r in report.results if r.name == "pinned-naive-te-bs16")
    assert set(pinned.reasons) <= {"code", "tie rounding"} and pinned.differing_blocks > 0


def test_truncated_candidate_file_is_reported(vectors, candidate, tmp_path):
    name = _expected_names(vectors)[0]
    cand = tmp_path / "cand"
    shutil.copytree(os.path.join(candidate, name), cand / name)
    codes = cand / name / "codes.bin"
    codes.write_bytes(codes.read_bytes()[:-3])
    report = validation.verify(vectors, str(cand), select="^" + name + "$")
    (r,) = report.results
    assert not r.passed
    assert any("codes.bin has 253 bytes, expected 256 (truncated)" in p for p in r.problems), r.problems


def _run_c(exe, recipe, bs, W, dtype, folder):
    os.makedirs(folder, exist_ok=True)
    W = np.ascontiguousarray(W)
    inp = os.path.join(folder, "input.bin")
    W.view(f"<u{W.dtype.itemsize}").tofile(inp)
    p = subprocess.run([exe, recipe, str(bs), str(W.shape[0]), str(W.shape[1]), dtype, inp, folder],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return {n: open(os.path.join(folder, n + ".bin"), "rb").read() for n in OUTPUTS}


def _library(W, recipe, bs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = quantize(W, bs, "naive", recipe=recipe)
    return {"codes": t.codes.tobytes(), "scale_bytes": t.scale_bytes.tobytes(),
            "scale_bytes_swizzled": t.swizzled_scales().tobytes(),
            "tensor_scale": np.array([t.tensor_scale], "<f4").tobytes(),
            "dequant": t.dequantize().astype("<f4").tobytes()}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_c_reference_matches_the_library_beyond_the_vectors(binary, tmp_path, dtype):
    """Every finite float16 / bfloat16 bit pattern (subnormals, the largest values), and
    float32 over the whole exponent range with 300 rows (three 128-row swizzle tiles)."""
    import ml_dtypes

    rs = np.random.RandomState(7)
    if dtype == "float32":
        W = (rs.standard_normal((300, 64)) * 10.0 ** rs.uniform(-44, 37, (300, 1))).astype(np.float32)
        W[::7, ::5] = -0.0
    else:
        dt = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
        w = np.arange(1 << 16, dtype=np.uint16).view(dt)
        w = w[np.isfinite(w.astype(np.float32))]
        w = np.concatenate([w, np.zeros(-len(w) % 64, dt)])[rs.permutation(-(-len(w) // 64) * 64)]
        W = w.reshape(-1, 64)
    for recipe in ("seed", "te"):
        for bs in (16, 32):
            got = _run_c(binary, recipe, bs, W, dtype, str(tmp_path / f"{recipe}{bs}"))
            exp = _library(W, recipe, bs)
            bad = [n for n in OUTPUTS if got[n] != exp[n]]
            assert not bad, f"{dtype} {recipe} bs{bs}: {bad} differ from nvfp4_np"


@pytest.mark.parametrize("recipe, tie_codes", [
    ("seed", [0, 1, 2, 3, 4, 5, 6]),  # ties toward zero: 0.25->0 0.75->0.5 ... 5->4
    ("te", [0, 2, 2, 4, 4, 6, 6]),  # ties to even: 0.25->0 0.75->1 1.25->1 1.75->2 2.5->2 3.5->4 5->4
])
def test_c_reference_tie_rules(binary, tmp_path, recipe, tie_codes):
    """E2M1 ties with exact scaled values in both recipes. The te vectors' tensor amax
    (1e5 in the corners suite) makes S_dec no power of two, so they never put an element
    exactly on a boundary; here amax_t = 2688 gives S_enc = S_dec = 1 and block scale 1."""
    bounds = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], np.float32)
    W = np.zeros((2, 16), np.float32)
    W[0, 0] = 2688.0
    W[1, 0] = 6.0
    W[1, 1:8] = bounds
    W[1, 8:15] = -bounds
    got = _run_c(binary, recipe, 16, W, "float32", str(tmp_path / "c"))
    assert got == _library(W, recipe, 16)
    b = np.frombuffer(got["codes"], np.uint8)[8:]
    codes = np.stack([b & 0xF, b >> 4], axis=-1).reshape(-1)  # element 2i in the low nibble
    assert list(codes[1:8]) == tie_codes
    assert list(codes[8:15]) == [c | 8 for c in tie_codes]
    assert got["scale_bytes"][1] == 0x38  # E4M3 1.0


def test_bad_input_exits_2_with_a_message(binary, tmp_path):
    x = np.zeros((2, 32), np.float32)
    x.tofile(tmp_path / "x.bin")
    short = tmp_path / "short.bin"
    short.write_bytes((tmp_path / "x.bin").read_bytes()[:-1])
    x[1, 3] = np.nan
    x.tofile(tmp_path / "nan.bin")
    cases = [
        (["seed", "16", "2", "32", "float32", str(short)], "too short"),
        (["seed", "16", "2", "32", "float32", str(tmp_path / "missing.bin")], "cannot open"),
        (["te", "16", "2", "32", "float32", str(tmp_path / "nan.bin")], "NaN or Inf at row 1, column 3"),
        (["mx", "16", "2", "32", "float32", str(tmp_path / "x.bin")], "RECIPE"),
        (["te", "8", "2", "32", "float32", str(tmp_path / "x.bin")], "BLOCK_SIZE"),
        (["mxfp8_e4m3-floor", "16", "2", "32", "float32", str(tmp_path / "x.bin")], "32 for the MX format"),
        (["mxfp8_e4m3-even", "32", "2", "32", "float32", str(tmp_path / "x.bin")], "RECIPE"),
        (["te", "16", "2", "24", "float32", str(tmp_path / "x.bin")], "multiple"),
        (["te", "16", "2", "32", "float64", str(tmp_path / "x.bin")], "DTYPE"),
    ]
    for args, message in cases:
        p = subprocess.run([binary, *args, str(tmp_path)], capture_output=True, text=True)
        assert p.returncode == 2 and message in p.stderr, (args, p.returncode, p.stderr)
    p = subprocess.run([binary, "seed"], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr


@pytest.mark.parametrize("rounding", ["floor", "rceil"])
def test_c_mxfp8_matches_the_library_beyond_the_vectors(binary, tmp_path, rounding):
    """MXFP8 E4M3: float32 rows over the whole exponent range (subnormal blocks, byte 0,
    saturation under floor, amax one ulp around powers of two), and every finite bfloat16."""
    import ml_dtypes

    rs = np.random.RandomState(8)
    W = (rs.standard_normal((160, 128)) * 10.0 ** rs.uniform(-45, 38, (160, 4, 1)).repeat(32, 1).reshape(160, 128))
    W = W.astype(np.float32)
    W[::7, ::5] = -0.0
    W[1::9, 3] = np.float32(479.9) * 2.0 ** rs.randint(-130, 100, W[1::9, 3].shape)  # mantissa above 1.75
    W[2::9, 7] = np.nextafter(np.float32(448 * 2.0**20), np.float32(np.inf))
    w = np.arange(1 << 16, dtype=np.uint16).view(ml_dtypes.bfloat16)
    w = w[np.isfinite(w.astype(np.float32))]
    w = np.concatenate([w, np.zeros(-len(w) % 128, w.dtype)])[rs.permutation(-(-len(w) // 128) * 128)]
    for name, A, dtype in (("f32", W, "float32"), ("bf16", w.reshape(-1, 128), "bfloat16")):
        folder = str(tmp_path / name)
        os.makedirs(folder)
        A = np.ascontiguousarray(A)
        A.view(f"<u{A.dtype.itemsize}").tofile(os.path.join(folder, "input.bin"))
        p = subprocess.run([binary, f"mxfp8_e4m3-{rounding}", "32", str(A.shape[0]), str(A.shape[1]), dtype,
                            os.path.join(folder, "input.bin"), folder], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        t = quantize(A.astype(np.float32), 32, "naive", fmt="mxfp8_e4m3", scale_rounding=rounding)
        from nvfp4_np.encoding import swizzle_scales

        with np.errstate(over="ignore"):  # (blocks near FLT_MAX dequantize to +-inf, SPEC §9.3)
            dq = t.dequantize()
        exp = {"codes": t.codes.tobytes(), "scale_bytes": t.scale_bytes.tobytes(),
               "scale_bytes_swizzled": swizzle_scales(t.scale_bytes).tobytes(), "dequant": dq.astype("<f4").tobytes()}
        got = {n: open(os.path.join(folder, n + ".bin"), "rb").read() for n in exp}
        assert not os.path.exists(os.path.join(folder, "tensor_scale.bin"))
        assert [n for n in exp if got[n] != exp[n]] == [], f"{name} {rounding}: differs from nvfp4_np"
