"""Golden vectors: regenerated bit for bit, consistent across their three file forms, and
a checker that names what a wrong implementation got wrong."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nvfp4_np
from nvfp4_np import validation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED = os.path.join(REPO, "validation", "vectors")
# The corner inputs underflow on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")


@pytest.fixture(scope="module")
def fresh(golden_vectors):
    return golden_vectors


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_regenerated_vectors_equal_the_committed_ones(fresh):
    """CI's check: the committed vectors are what this code generates, byte for byte."""
    assert _files(fresh) == _files(COMMITTED), "the set of files differs: regenerate validation/vectors"
    differ = []
    for rel in _files(fresh):
        with open(os.path.join(fresh, rel), "rb") as a, open(os.path.join(COMMITTED, rel), "rb") as b:
            if a.read() != b.read():
                differ.append(rel)
    assert not differ, (f"{len(differ)} files differ (first {differ[:5]}); regenerate with "
                        f"'python -m nvfp4_np golden --out validation/vectors' after a deliberate change")


def test_the_committed_vectors_stay_under_12_mb():
    """The suite's size on disk (files rounded up to 4 KiB blocks, and the folders): NVFP4
    under 10 MiB, the MX vectors (about 0.8 MB of bytes) under 2 MiB more."""
    total = 0
    for d, _, files in os.walk(COMMITTED):
        total += 4096 + sum(-(-os.path.getsize(os.path.join(d, f)) // 4096) * 4096 for f in files)
    assert total < 12 * 2**20, f"{total / 2**20:.1f} MiB"


def test_manifest_hashes_and_file_forms_agree(fresh, tmp_path):
    import hashlib

    index = json.load(open(os.path.join(fresh, "index.json")))
    methods = {(v["method"], v["recipe"], v["block_size"]) for v in index["vectors"] if not v.get("fmt")}
    # every method x block recipe x block size; Four Over Six: every recipe x rule (7), 1-D and
    # 16x16, and the Hessian choice (2 recipes x 2 shapes); 16x16 naive and optimal x block recipe
    assert len(methods) == 9 * len(nvfp4_np.registry.RECIPES) * 2 + 7 * 2 + 2 * 2 + 2 * len(nvfp4_np.registry.RECIPES)
    fos = [v for v in index["vectors"] if v["method"].startswith("4over6")]
    assert {(v["recipe"], v["rule"], v["scale_max"], v["block_shape"] is not None) for v in fos} >= {
        ("te", "mae", 448, False), ("fouroversix", "mse", 448, True), ("fouroversix", "static_4", 448, False)}
    assert all(v["block_shape"] == [16, 16] for v in index["vectors"] if v["method"].endswith("16x16"))
    # MX: every format x scale rounding (naive) and the SSE search on the corners, the
    # Hessian search on two formats
    mxv = [v for v in index["vectors"] if v.get("fmt")]
    assert {(v["fmt"], v["scale_rounding"]) for v in mxv if v["method"] == "naive"} == {
        (f, r) for f in nvfp4_np.mx.MX_FORMATS for r in nvfp4_np.mx.SCALE_ROUNDINGS}
    assert {v["fmt"] for v in mxv if v["method"] == "optimal"} == set(nvfp4_np.mx.MX_FORMATS)
    assert {v["fmt"] for v in mxv if v["method"] == "hessian"} == {"mxfp4", "mxfp8_e4m3"}
    assert all(v["block_size"] == 32 and v["recipe"] is None for v in mxv)
    for v in index["vectors"]:
        folder = os.path.join(fresh, v["name"])
        man = json.load(open(os.path.join(folder, "manifest.json")))
        # the folder holds the manifest and one .bin per array, nothing else
        assert sorted(os.listdir(folder)) == sorted(["manifest.json"] + [e["bin"]["file"] for e in man["arrays"].values()])
        for name, entry in man["arrays"].items():
            raw = open(os.path.join(folder, entry["bin"]["file"]), "rb").read()
            assert hashlib.sha256(raw).hexdigest() == entry["bin"]["sha256"]
            assert len(raw) == int(np.prod(entry["shape"])) * entry["word_bytes"]
            assert "hex" not in entry
    # --hex adds the .hex form: one word per line, the .bin's words in order
    validation.generate(str(tmp_path), hex=True)
    for v in index["vectors"][::7]:
        folder = os.path.join(tmp_path, v["name"])
        man = json.load(open(os.path.join(folder, "manifest.json")))
        for name, entry in man["arrays"].items():
            raw = open(os.path.join(folder, entry["bin"]["file"]), "rb").read()
            assert raw == open(os.path.join(fresh, v["name"], entry["bin"]["file"]), "rb").read()
            hx = open(os.path.join(folder, entry["hex"]["file"])).read()
            assert hashlib.sha256(hx.encode()).hexdigest() == entry["hex"]["sha256"]
            w = entry["word_bytes"]
            words = [int.from_bytes(raw[i:i + w], "little") for i in range(0, len(raw), w)]
            assert hx == "".join(f"{x:0{2 * w}x}\n" for x in words), name


def test_expected_outputs_are_the_library_outputs(fresh):
    """Spot check: a vector's expected bytes are quantize()'s, read back from the files."""
    folder = os.path.join(fresh, "random-optimal-te-bs16")
    man = json.load(open(os.path.join(folder, "manifest.json")))
    arr = {n: validation.checker.load_array(folder, n, e) for n, e in man["arrays"].items()}
    t = nvfp4_np.quantize(arr["input"], 16, "optimal", recipe="te")
    assert np.array_equal(arr["codes"], t.codes) and np.array_equal(arr["scale_bytes"], t.scale_bytes)
    assert np.array_equal(arr["scale_bytes_swizzled"], t.swizzled_scales().reshape(-1))
    assert arr["tensor_scale"][0] == t.tensor_scale
    assert np.array_equal(arr["dequant"].view(np.uint32), t.dequantize().view(np.uint32))


def _candidate_from_vectors(vectors, dest, names=None):
    """A candidate that is a copy of the expected outputs."""
    for name in names or os.listdir(vectors):
        src = os.path.join(vectors, name)
        if not os.path.isdir(src):
            continue
        os.makedirs(os.path.join(dest, name), exist_ok=True)
        man = json.load(open(os.path.join(src, "manifest.json")))
        for out in validation.files.output_names(man):
            shutil.copy(os.path.join(src, f"{out}.bin"), os.path.join(dest, name, f"{out}.bin"))


def test_checker_passes_a_correct_candidate(fresh, tmp_path):
    _candidate_from_vectors(fresh, tmp_path)
    report = validation.verify(fresh, str(tmp_path))
    n = len(json.load(open(os.path.join(fresh, "index.json")))["vectors"])
    assert report.passed and len(report.results) == n == len(os.listdir(fresh)) - 1
    assert f"{n} passed, 0 failed" in report.text()


def _one(fresh, tmp_path, name):
    _candidate_from_vectors(fresh, tmp_path, [name])
    return os.path.join(tmp_path, name)


def _check(fresh, tmp_path, name):
    r = validation.verify(fresh, str(tmp_path), select=f"^{name}$").results[0]
    assert not r.passed
    return r


def test_checker_names_nibble_order(fresh, tmp_path):
    name = "random-naive-te-bs16"
    d = _one(fresh, tmp_path, name)
    c = np.fromfile(os.path.join(d, "codes.bin"), np.uint8)
    (((c & 15) << 4) | (c >> 4)).astype(np.uint8).tofile(os.path.join(d, "codes.bin"))
    r = _check(fresh, tmp_path, name)
    assert set(r.reasons) == {"nibble order"} and r.differing_blocks == r.n_blocks


def test_checker_names_scale_byte_and_shows_the_block(fresh, tmp_path):
    name = "corners-optimal-seed-bs16"
    d = _one(fresh, tmp_path, name)
    s = np.fromfile(os.path.join(d, "scale_bytes.bin"), np.uint8)
    s[5] ^= 1
    s.tofile(os.path.join(d, "scale_bytes.bin"))
    r = _check(fresh, tmp_path, name)
    assert r.reasons == {"scale byte": 1} and r.differing_blocks == 1
    assert (r.examples[0].row, r.examples[0].block) == (1, 1) and "input [" in r.examples[0].detail


def test_checker_names_tie_rounding_and_signed_zero(fresh, tmp_path):
    """A candidate that rounds ties to even where the seed recipe rounds toward zero, and
    one that writes -0.0 as code 0x8 (torchao's rule) where the recipe writes 0x0."""
    name = "corners-naive-seed-bs16"
    d = _one(fresh, tmp_path, name)
    folder = os.path.join(fresh, name)
    man = json.load(open(os.path.join(folder, "manifest.json")))
    W = validation.checker.load_array(folder, "input", man["arrays"]["input"])
    t = nvfp4_np.quantize(W, 16, "naive", rounding="rne")
    t.codes.tofile(os.path.join(d, "codes.bin"))
    t.dequantize().tofile(os.path.join(d, "dequant.bin"))
    r = _check(fresh, tmp_path, name)
    assert set(r.reasons) == {"tie rounding"}, r.reasons
    # signed zero: set the sign bit of every zero code whose input is -0.0
    _candidate_from_vectors(fresh, tmp_path, [name])
    codes = nvfp4_np.unpack_fp4(np.fromfile(os.path.join(d, "codes.bin"), np.uint8).reshape(W.shape[0], -1))
    negz = (np.signbit(W) & (W == 0)).reshape(codes.shape)
    assert negz.any()
    codes[negz] |= 8
    nvfp4_np.pack_fp4(codes).tofile(os.path.join(d, "codes.bin"))
    r = _check(fresh, tmp_path, name)
    assert set(r.reasons) == {"signed zero"}, r.reasons


def test_checker_names_swizzle_tensor_scale_and_dequant(fresh, tmp_path):
    name = "random-naive-modelopt-bs32"
    d = _one(fresh, tmp_path, name)
    lin = np.fromfile(os.path.join(d, "scale_bytes.bin"), np.uint8)
    sw = np.zeros(os.path.getsize(os.path.join(d, "scale_bytes_swizzled.bin")), np.uint8)
    sw[:lin.size] = lin
    sw.tofile(os.path.join(d, "scale_bytes_swizzled.bin"))
    ts = np.fromfile(os.path.join(d, "tensor_scale.bin"), np.float32)
    np.nextafter(ts, np.float32(1)).astype(np.float32).tofile(os.path.join(d, "tensor_scale.bin"))
    dq = np.fromfile(os.path.join(d, "dequant.bin"), np.float32)
    dq[17] = np.nextafter(dq[17], np.float32(np.inf))
    dq.tofile(os.path.join(d, "dequant.bin"))
    r = _check(fresh, tmp_path, name)
    assert set(r.reasons) == {"swizzle position", "tensor scale", "dequant arithmetic"}, r.reasons
    assert any("linear (row-major) layout" in e.detail for e in r.examples)


def test_checker_reports_missing_and_truncated_files(fresh, tmp_path):
    name = "float16-optimal-torchao-bs16"
    d = _one(fresh, tmp_path, name)
    os.remove(os.path.join(d, "dequant.bin"))
    with open(os.path.join(d, "codes.bin"), "r+b") as f:
        f.truncate(7)
    r = _check(fresh, tmp_path, name)
    assert any("dequant.bin missing" in p for p in r.problems)
    assert any("codes.bin has 7 bytes, expected 256 (truncated)" in p for p in r.problems)
    r = validation.verify(fresh, str(tmp_path), select="^random-naive-seed-bs16$").results[0]
    assert not r.passed and "candidate folder" in r.problems[0]


def test_checker_reads_a_candidate_npz(fresh, tmp_path):
    name = "bfloat16-naive-compressed-tensors-bs16"
    os.makedirs(tmp_path / name)
    folder = os.path.join(fresh, name)
    man = json.load(open(os.path.join(folder, "manifest.json")))
    np.savez(tmp_path / name / "vector.npz",
             **{k: validation.checker.load_array(folder, k, man["arrays"][k]) for k in validation.OUTPUTS})
    assert validation.verify(fresh, str(tmp_path), select=f"^{name}$").passed


@pytest.mark.slow
def test_cli_exit_status(fresh, tmp_path):
    _candidate_from_vectors(fresh, tmp_path, ["random-naive-seed-bs16"])
    run = lambda *a: subprocess.run([sys.executable, "-m", "nvfp4_np", *a], capture_output=True, text=True)  # noqa: E731
    ok = run("verify", "--vectors", fresh, "--candidate", str(tmp_path), "--select", "^random-naive-seed-bs16$")
    assert ok.returncode == 0 and "1 passed, 0 failed" in ok.stdout
    bad = run("verify", "--vectors", fresh, "--candidate", str(tmp_path), "--select", "^random-naive-te-bs16$")
    assert bad.returncode == 1 and "FAIL" in bad.stdout
    none = run("verify", "--vectors", fresh, "--candidate", str(tmp_path), "--select", "no-such-vector")
    assert none.returncode == 2 and "no vector" in none.stderr
    missing = run("verify", "--vectors", str(tmp_path / "nope"), "--candidate", str(tmp_path))
    assert missing.returncode == 2
    helps = run("--help")
    assert helps.returncode == 0 and "nvfp4-np verify" in helps.stdout


def test_checker_on_four_over_six_and_tile_vectors(fresh, tmp_path):
    """A 4/6 candidate that keeps the other candidate is told the 4/6 choice differs; one with
    TE's clamp where fouroversix writes its 8 is told so; a 16x16 vector names the tile; no
    block recipe's parameters are asked for recipe "fouroversix"."""
    name = "fos-4over6-mse-fouroversix-bs16"
    d = _one(fresh, tmp_path, name)
    folder = os.path.join(fresh, name)
    man = json.load(open(os.path.join(folder, "manifest.json")))
    assert (man["rule"], man["scale_max"], man["block_shape"]) == ("mse", 256, None)
    W = validation.checker.load_array(folder, "input", man["arrays"]["input"]).astype(np.float32)
    s6, s4 = validation.checker._fos_candidate_bytes(man, W, np.abs(W).max())
    sb = np.fromfile(os.path.join(d, "scale_bytes.bin"), np.uint8).reshape(s6.shape)
    r, b = [int(i[0]) for i in np.nonzero((sb == s4) & (s4 != s6))]  # a block where 4 won
    sb[r, b] = s6[r, b]
    sb.tofile(os.path.join(d, "scale_bytes.bin"))
    res = _check(fresh, tmp_path, name)
    assert res.reasons == {"scale byte": 1} and "the 4/6 choice differs" in res.examples[0].detail
    # the whole candidate equal to the vectors passes, the fouroversix 8 clamped to 6 fails
    _candidate_from_vectors(fresh, tmp_path, [name])
    assert validation.verify(fresh, str(tmp_path), select=f"^{name}$").passed
    codes = nvfp4_np.unpack_fp4(np.fromfile(os.path.join(d, "codes.bin"), np.uint8).reshape(W.shape[0], -1))
    eight = (codes == 8) & (W != 0) & (np.abs(W) < 0.05)  # fouroversix's 8 (not a -0)
    assert eight.any()
    codes[eight] = 7
    nvfp4_np.pack_fp4(codes).tofile(os.path.join(d, "codes.bin"))
    res = _check(fresh, tmp_path, name)
    assert "fouroversix's 8" in res.examples[0].detail, res.examples[0].detail
    name = "tiles-optimal-16x16-te-bs16"
    d = _one(fresh, tmp_path, name)
    sb = np.fromfile(os.path.join(d, "scale_bytes.bin"), np.uint8)
    sb[17] ^= 1
    sb.tofile(os.path.join(d, "scale_bytes.bin"))
    res = _check(fresh, tmp_path, name)
    assert res.reasons == {"scale byte": 1} and "16x16 tile (0, 1)" in res.examples[0].detail


def test_mx_vectors_are_the_library_outputs(fresh):
    """An MX vector's expected bytes are quantize(fmt=...)'s, read back from the files."""
    for name, kw in (("mx-corners-naive-rceil-mxfp6_e3m2-bs32", {"scale_rounding": "rceil"}),
                     ("mx-hessian-hessian-mxfp4-bs32", {})):
        folder = os.path.join(fresh, name)
        man = json.load(open(os.path.join(folder, "manifest.json")))
        arr = {n: validation.checker.load_array(folder, n, e) for n, e in man["arrays"].items()}
        if "H" in arr:
            kw["H_blocks"] = arr["H"]
        t = nvfp4_np.quantize(arr["input"], 32, man["method"], fmt=man["fmt"], **kw)
        assert np.array_equal(arr["codes"], t.codes) and np.array_equal(arr["scale_bytes"], t.scale_bytes)
        assert np.array_equal(arr["dequant"].view(np.uint32), t.dequantize().view(np.uint32))
        if "codes_packed" in arr:
            assert np.array_equal(arr["codes_packed"], t.packed_codes())
        assert set(validation.files.output_names(man)) == (
            {"codes", "scale_bytes", "scale_bytes_swizzled", "dequant"} | ({"codes_packed"} if "mxfp6" in name else set()))


def test_write_candidate_passes_on_the_mx_vectors(fresh, tmp_path):
    """nvfp4_np as a candidate (its CPU path) reproduces the MX vectors from their inputs."""
    names = validation.write_candidate(fresh, str(tmp_path), select="^mx-")
    assert len(names) == len([n for n in os.listdir(fresh) if n.startswith("mx-")])
    assert validation.verify(fresh, str(tmp_path), select="^mx-").passed
