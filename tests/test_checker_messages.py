"""The checker's messages (issue 21, part 4): file-level failures named by their cause, a
wrong scale byte judged against the candidate's own byte, and the CLI's usage errors and
help."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import nvfp4_np
from nvfp4_np import recipes, seed_helpers, validation
from nvfp4_np.validation import checker

# The corner inputs underflow on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*underflows to 0:RuntimeWarning")

SEED_VECTOR = "corners-optimal-seed-bs16"  # 7 rows x 64: 28 blocks, zero scale bytes, -0.0 inputs


@pytest.fixture(scope="module")
def vectors(golden_vectors):
    return golden_vectors


class Vector:
    """One vector's manifest and arrays (expected outputs and input) read from its files."""

    def __init__(self, vectors, name):
        self.name = name
        self.folder = os.path.join(vectors, name)
        with open(os.path.join(self.folder, "manifest.json"), encoding="utf-8") as f:
            self.man = json.load(f)
        self.arrays = {n: checker.load_array(self.folder, n, e) for n, e in self.man["arrays"].items()}
        self.x = np.asarray(self.arrays["input"], np.float32)
        self.bs = self.man["block_size"]

    def block(self, row, b):
        return self.x[row, b * self.bs:(b + 1) * self.bs]

    def rc(self):
        return recipes.params(self.man["recipe"], self.man["rounding"], np.abs(self.x).max())


def _candidate(vectors, dest, name, source=None):
    """CANDIDATE/<name>/ holding the expected outputs of vector ``source`` (default: name)."""
    d = os.path.join(dest, name)
    os.makedirs(d, exist_ok=True)
    for out in validation.OUTPUTS:
        shutil.copy(os.path.join(vectors, source or name, f"{out}.bin"), os.path.join(d, f"{out}.bin"))
    return d


def _verify(vectors, cand, name):
    report = validation.verify(vectors, str(cand), select=f"^{name}$")
    return report.results[0], report.text()


def _seed_codes(x, scale_byte, rounding="seed"):
    """The seed recipe's codes of block x at a scale byte, by the NumPy helpers (not the
    kernels' code the checker uses)."""
    s = nvfp4_np.e4m3_values(np.uint8(scale_byte))
    return nvfp4_np.fp4_codes(seed_helpers.fp4_quantize(x, s, rounding))


def _set_block(d, v, row, b, scale_byte, codes=None):
    """Write scale byte (and optionally the block's codes) of block (row, b) into the
    candidate folder ``d``."""
    sb = np.fromfile(os.path.join(d, "scale_bytes.bin"), np.uint8).reshape(v.x.shape[0], -1)
    sb[row, b] = scale_byte
    sb.tofile(os.path.join(d, "scale_bytes.bin"))
    if codes is not None:
        c = nvfp4_np.unpack_fp4(np.fromfile(os.path.join(d, "codes.bin"), np.uint8).reshape(v.x.shape[0], -1))
        c[row, b * v.bs:(b + 1) * v.bs] = codes
        nvfp4_np.pack_fp4(c).tofile(os.path.join(d, "codes.bin"))


def _summary(text, name):
    return next(line for line in text.splitlines() if line.split()[1:2] == [name])


# ------------------------------------------------------------------ file-level failures


def test_missing_file_is_named_in_the_summary_not_counted_as_blocks(vectors, tmp_path):
    name = "random-naive-seed-bs16"
    d = _candidate(vectors, tmp_path, name)
    os.remove(os.path.join(d, "dequant.bin"))
    r, text = _verify(vectors, tmp_path, name)
    assert not r.passed and r.differing_blocks == 0
    assert _summary(text, name) == f"FAIL  {name}  dequant.bin missing (and no vector.npz holding dequant)"
    assert "blocks differ" not in text
    assert text.splitlines()[-1] == "0 passed, 1 failed"


def test_wrong_tensor_scale_gives_both_words(vectors, tmp_path):
    name = "random-naive-modelopt-bs16"
    d = _candidate(vectors, tmp_path, name)
    ts = np.fromfile(os.path.join(d, "tensor_scale.bin"), np.float32)
    (ts * np.float32(2)).tofile(os.path.join(d, "tensor_scale.bin"))
    r, text = _verify(vectors, tmp_path, name)
    exp, got = ts[0], ts[0] * np.float32(2)
    msg = (f"tensor_scale.bin: expected 0x{int(exp.view(np.uint32)):08x} ({float(exp)!r}), "
           f"got 0x{int(got.view(np.uint32)):08x} ({float(got)!r})")
    assert r.problems == [msg] and r.differing_blocks == 0
    assert _summary(text, name) == f"FAIL  {name}  {msg}"
    assert "blocks differ" not in text and "tensor scale: 1" not in text


def test_wrong_tensor_scale_in_an_npz_names_the_npz(vectors, tmp_path):
    name = "random-naive-te-bs32"
    v = Vector(vectors, name)
    out = {k: v.arrays[k] for k in validation.OUTPUTS}
    out["tensor_scale"] = np.nextafter(out["tensor_scale"], np.float32(0)).astype(np.float32)
    os.makedirs(tmp_path / name)
    np.savez(tmp_path / name / "vector.npz", **out)
    r, text = _verify(vectors, tmp_path, name)
    assert len(r.problems) == 1 and r.problems[0].startswith("vector.npz[tensor_scale]: expected 0x")
    assert "blocks differ" not in _summary(text, name)


@pytest.mark.parametrize("delta, kind", [(-2, "truncated"), (3, "too long")])
def test_wrong_size_file_gives_its_size(vectors, tmp_path, delta, kind):
    name = "random-optimal-seed-bs16"
    d = _candidate(vectors, tmp_path, name)
    path = os.path.join(d, "codes.bin")
    expected = os.path.getsize(path)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:expected + delta] if delta < 0 else data + bytes(delta))
    r, text = _verify(vectors, tmp_path, name)
    msg = f"codes.bin has {expected + delta} bytes, expected {expected} ({kind})"
    assert r.problems == [msg]
    assert _summary(text, name) == f"FAIL  {name}  {msg}"


def test_file_problems_beside_differing_blocks_get_their_own_line(vectors, tmp_path):
    name = SEED_VECTOR
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    os.remove(os.path.join(d, "dequant.bin"))
    _set_block(d, v, 1, 1, int(v.arrays["scale_bytes"][1, 1]) ^ 1)
    r, text = _verify(vectors, tmp_path, name)
    lines = text.splitlines()
    assert lines[0] == f"FAIL  {name}  (1 of {r.n_blocks} blocks differ)  scale byte: 1"
    assert lines[1] == "      dequant.bin missing (and no vector.npz holding dequant)"
    assert lines[2].startswith("      row 1 block 1: scale byte: expected 0x")


def test_missing_candidate_folder_is_the_summary(vectors, tmp_path):
    name = "random-naive-seed-bs16"
    r, text = _verify(vectors, tmp_path, name)
    assert _summary(text, name) == f"FAIL  {name}  candidate folder {tmp_path / name} missing"


def test_a_passing_vector_still_counts_its_blocks(vectors, tmp_path):
    name = "random-naive-seed-bs16"
    _candidate(vectors, tmp_path, name)
    r, text = _verify(vectors, tmp_path, name)
    assert r.passed and _summary(text, name) == f"PASS  {name}  (0 of {r.n_blocks} blocks differ)"


# ------------------------------------------------------------------ wrong scale byte vs own byte


def test_wrong_byte_with_the_expected_codes_is_inconsistent(vectors, tmp_path):
    """The expected codes under a byte twice as large: not what that byte gives."""
    name = SEED_VECTOR
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    byte = int(v.arrays["scale_bytes"][1, 1]) + 8  # twice the scale
    _set_block(d, v, 1, 1, byte)
    r, _ = _verify(vectors, tmp_path, name)
    assert r.reasons == {"scale byte": 1}
    detail = r.examples[0].detail
    own = _seed_codes(v.block(1, 1), byte)
    got = nvfp4_np.unpack_fp4(v.arrays["codes"])[1, 16:32]
    i = int(np.nonzero(own != got)[0][0])
    assert (f"the candidate's codes are not those of its own byte 0x{byte:02x} either "
            f"(element {i} = {float(v.block(1, 1)[i])!r}: 0x{byte:02x} gives code 0x{int(own[i]):x}, "
            f"got 0x{int(got[i]):x})") in detail
    assert "input [" in detail


@pytest.mark.parametrize("byte", [None, 0x00])
def test_wrong_byte_with_its_own_codes_is_consistent(vectors, tmp_path, byte):
    """A candidate whose search picked another byte but rounded right at it (the codes
    computed by the NumPy helpers); byte 0: every nonzero element saturates to ±6, ±0.0
    gives +0.0."""
    name = SEED_VECTOR
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    byte = int(v.arrays["scale_bytes"][1, 1]) + 3 if byte is None else byte
    assert byte != v.arrays["scale_bytes"][1, 1]
    _set_block(d, v, 1, 1, byte, _seed_codes(v.block(1, 1), byte))
    r, _ = _verify(vectors, tmp_path, name)
    assert r.reasons == {"scale byte": 1}
    assert (f"the candidate's codes are what its own scale byte 0x{byte:02x} gives: "
            "the scale search/choice differs, not the rounding") in r.examples[0].detail


def test_zero_byte_keeps_negative_zero_as_code_0(vectors, tmp_path):
    """Scale byte 0 on a block with -0.0 inputs (seed's sign rule: code 0x0): the
    candidate writes 0x8 there, which its byte does not give."""
    name = SEED_VECTOR
    v = Vector(vectors, name)
    negz = np.signbit(v.x) & (v.x == 0)
    nonzero_byte = np.repeat(v.arrays["scale_bytes"] != 0, v.bs, axis=1)
    row, col = (int(a[0]) for a in np.nonzero(negz & nonzero_byte))
    b = col // v.bs
    codes = _seed_codes(v.block(row, b), 0)
    assert codes[col % v.bs] == 0
    codes[col % v.bs] = 0x8
    d = _candidate(vectors, tmp_path, name)
    _set_block(d, v, row, b, 0x00, codes)
    r, _ = _verify(vectors, tmp_path, name)
    detail = next(e.detail for e in r.examples if (e.row, e.block) == (row, b))
    assert f"not those of its own byte 0x00 either (element {col % v.bs} = -0.0: 0x00 gives code 0x0, got 0x8)" in detail


@pytest.mark.parametrize("recipe", sorted(nvfp4_np.registry.RECIPES))
def test_naive_outputs_for_an_optimal_vector_are_a_search_difference(vectors, tmp_path, recipe):
    """A candidate that implements the naive scale where the vector wants the optimal one:
    every wrong byte comes with codes that are its own byte's (the library's naive
    outputs), in every recipe's arithmetic (torchao's -0.0 -> 0x8 included)."""
    name = f"corners-optimal-{recipe}-bs16"
    _candidate(vectors, tmp_path, name, source=f"corners-naive-{recipe}-bs16")
    r, text = _verify(vectors, tmp_path, name)
    assert set(r.reasons) <= {"scale byte", "swizzle bytes"} and r.reasons["scale byte"], r.reasons
    for e in (e for e in r.examples if e.reason == "scale byte"):
        assert "the candidate's codes are what its own scale byte 0x" in e.detail, e.detail
        assert "the scale search/choice differs, not the rounding" in e.detail
    assert "the scale search/choice differs, not the rounding" in text


def test_non_scale_byte_is_named(vectors, tmp_path):
    name = SEED_VECTOR
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    _set_block(d, v, 0, 2, 0x7F)
    r, _ = _verify(vectors, tmp_path, name)
    assert ("the candidate's byte 0x7f is not a block scale (NaN or negative): its codes cannot be "
            "checked against it") in r.examples[0].detail


def test_admm_vectors_make_no_own_byte_claim(vectors, tmp_path):
    """ADMM's codes come from its iteration, not from rounding at the scale byte."""
    name = "admm-admm-best-te-bs16"
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    _set_block(d, v, 0, 0, int(v.arrays["scale_bytes"][0, 0]) + 1)
    r, _ = _verify(vectors, tmp_path, name)
    assert r.reasons == {"scale byte": 1}
    assert r.examples[0].detail.startswith("expected 0x") and "own" not in r.examples[0].detail
    assert "input [" in r.examples[0].detail


def test_expected_codes_are_consistent_with_the_expected_bytes(vectors):
    """The rule the note rests on: in every vector but ADMM's and GPTQ's (whose quants are
    not those of the input at the byte) and Four Over Six's (its own arithmetic, SPEC §4.7:
    the checker names its candidates instead) each block's expected codes are the codes of
    its expected byte (zero bytes and torchao's -0.0 among them; the 16x16 tiles too)."""
    index = json.load(open(os.path.join(vectors, "index.json"), encoding="utf-8"))
    seen = {"zero byte": 0, "torchao -0.0": 0, "blocks": 0}
    for entry in index["vectors"]:
        if entry["method"].startswith(("admm", "gptq", "4over6")):
            continue
        v = Vector(vectors, entry["name"])
        if entry.get("fmt"):  # MX: the codes of the byte by the vector's multiplier rule (SPEC §9.3)
            rules = checker._MXRules(v.man)
            M, K = v.x.shape
            codes = rules.unpack(v.arrays["codes"], M, K)
            for row, b in np.ndindex(v.arrays["scale_bytes"].shape):
                byte = int(v.arrays["scale_bytes"][row, b])
                assert np.array_equal(rules.codes_at(v.block(row, b), byte), codes[row, b * 32:(b + 1) * 32]), \
                    (entry["name"], row, b)
                seen["mx byte 0"] = seen.get("mx byte 0", 0) + (byte == 0)
            continue
        rc = v.rc()
        codes = nvfp4_np.unpack_fp4(v.arrays["codes"])
        for row, b in np.ndindex(v.arrays["scale_bytes"].shape):
            byte = int(v.arrays["scale_bytes"][row, b])
            xb = v.block(row, b)
            note = checker._own_byte_note(xb, codes[row, b * v.bs:(b + 1) * v.bs], byte, rc)
            assert note.startswith(f"the candidate's codes are what its own scale byte 0x{byte:02x} gives"), \
                (entry["name"], row, b, note)
            seen["blocks"] += 1
            seen["zero byte"] += byte == 0
            seen["torchao -0.0"] += v.man["recipe"] == "torchao" and bool((np.signbit(xb) & (xb == 0)).any())
    assert all(seen.values()), seen


# ------------------------------------------------------------------ command line


def _cli(*args, module="nvfp4_np"):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)


@pytest.mark.parametrize("module, command", [("nvfp4_np", "verify"), ("nvfp4_np.validation", "verify")])
def test_bad_select_is_one_line_exit_2(vectors, tmp_path, module, command):
    p = _cli(command, "--vectors", vectors, "--candidate", str(tmp_path), "--select", "(", module=module)
    assert p.returncode == 2 and p.stdout == ""
    assert "Traceback" not in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
    assert p.stderr.startswith("nvfp4-np verify: --select '(' is not a regular expression: missing )")


def test_select_matching_nothing_is_one_line_exit_2(vectors, tmp_path):
    p = _cli("verify", "--vectors", vectors, "--candidate", str(tmp_path), "--select", "^no-such-vector$")
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert p.stderr.splitlines() == [f"nvfp4-np verify: no vector in {vectors} matches '^no-such-vector$'"]


def test_cli_prints_the_file_problem(vectors, tmp_path):
    name = "random-naive-seed-bs16"
    d = _candidate(vectors, tmp_path, name)
    os.remove(os.path.join(d, "dequant.bin"))
    p = _cli("verify", "--vectors", vectors, "--candidate", str(tmp_path), "--select", f"^{name}$")
    assert p.returncode == 1
    assert p.stdout.splitlines()[0] == f"FAIL  {name}  dequant.bin missing (and no vector.npz holding dequant)"


def test_verify_help_lists_exit_codes_and_candidate_files():
    p = _cli("verify", "--help")
    assert p.returncode == 0
    out = " ".join(p.stdout.split())
    for text in ("0 every selected vector passes", "1 a vector fails",
                 "2 usage error, --select not a regular expression or matching no vector",
                 "codes.bin uint8 (rows, K/2): E2M1 codes, element 2i in the low nibble",
                 "scale_bytes.bin uint8 (rows, K/bs)", "scale_bytes_swizzled.bin uint8, flat",
                 "128x4", "tensor_scale.bin float32 (1,)", "dequant.bin float32 (rows, K)",
                 "vector.npz", "little-endian"):
        assert text in out, text


def test_admm_code_differences_are_not_called_rounding(vectors, tmp_path):
    """A differing ADMM code is an 'ADMM quant', not a tie or a rounding at the scale."""
    name = "admm-admm-seed-te-bs16"
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    c = nvfp4_np.unpack_fp4(v.arrays["codes"])[0, :v.bs].copy()
    i = int(np.nonzero(c & 7)[0][0])  # a nonzero code: change its magnitude by one step
    c[i] = (c[i] & 8) | ((c[i] & 7) - 1)
    _set_block(d, v, 0, 0, int(v.arrays["scale_bytes"][0, 0]), c)
    r, _ = _verify(vectors, tmp_path, name)
    assert r.reasons == {"ADMM quant": 1}
    assert f"element {i} = " in r.examples[0].detail and "SPEC §4.4" in r.examples[0].detail


def test_no_own_byte_verdict_when_the_tensor_scale_differs(vectors, tmp_path):
    """With another tensor scale the candidate's codes follow other arithmetic: the note
    says so instead of blaming the rounding."""
    name = "random-naive-te-bs16"
    v = Vector(vectors, name)
    d = _candidate(vectors, tmp_path, name)
    np.array([v.arrays["tensor_scale"][0] * 2], np.float32).tofile(os.path.join(d, "tensor_scale.bin"))
    _set_block(d, v, 0, 1, int(v.arrays["scale_bytes"][0, 1]) + 1)
    r, _ = _verify(vectors, tmp_path, name)
    assert "its codes are not checked against its own byte: its tensor scale differs" in r.examples[0].detail
    assert "own scale byte" not in r.examples[0].detail and "either" not in r.examples[0].detail


# ------------------------------------------------------------------ MX vectors (SPEC §9)


def _mx_candidate(vectors, dest, name, mutant_name=None):
    """CANDIDATE/<name>/ holding the outputs of the MX reference (tests/naive.py) or of one
    of its mutants (tests/mutants.py): a whole wrong implementation, not a patched byte."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mutants

    v = Vector(vectors, name)
    cls = next(m.cls for m in mutants.MUTANTS if m.name == mutant_name) if mutant_name else mutants.MXReference
    with np.errstate(all="ignore"):
        out = cls(v.man["fmt"]).outputs(v.arrays["input"], v.man["method"], v.man["scale_rounding"], H=v.arrays.get("H"))
    d = os.path.join(dest, name)
    os.makedirs(d, exist_ok=True)
    for n in validation.files.output_names(v.man):
        np.ascontiguousarray(out[n]).tofile(os.path.join(d, f"{n}.bin"))
    return d


@pytest.mark.parametrize("name, mutant, reasons, says", [
    ("mx-corners-naive-floor-mxfp4-bs32", "mx-floor-as-ceil", {"scale byte"},
     "the candidate's byte is the ceil"),
    ("mx-corners-naive-rceil-mxfp8_e4m3-bs32", "mx-rceil-float32-log2", {"scale byte"},
     "rceil_cpu byte; expected is rceil's"),
    ("mx-corners-naive-floor-mxfp6_e2m3-bs32", "mx-e8m0-unclamped", {"scale byte"},
     "the floor exponent wrapped mod 256"),
    ("mx-corners-naive-floor-mxfp4-bs32", "mx-pack-high-nibble-first", {"nibble order"}, "LOW nibble"),
    ("mx-corners-naive-floor-mxfp6_e3m2-bs32", "mx-fp6-big-endian", {"fp6 bit order"}, "little-endian 24-bit word"),
    ("mx-corners-naive-floor-mxfp8_e4m3-bs32", "mx-e4m3-overflow-nan", {"saturation"}, "the candidate wrote NaN"),
    ("mx-corners-naive-floor-mxfp8_e5m2-bs32", "mx-e5m2-overflow-inf", {"saturation"}, "the candidate wrote Inf"),
    ("mx-corners-naive-rceil-mxfp6_e2m3-bs32", "mx-element-ties-away", {"tie rounding"}, "ties to even"),
    ("mx-corners-naive-even-mxfp8_e5m2-bs32", "mx-negative-zero-positive", {"signed zero"}, "sign bit of x"),
    ("mx-corners-naive-ceil-mxfp6_e3m2-bs32", "mx-flush-subnormals", {"subnormal flush"}, "not flushed"),
    ("mx-corners-optimal-mxfp4-bs32", "mx-search-ties-to-lower-byte", {"scale byte"},
     "the scale search differs, not the elements"),
])
def test_mx_mistakes_are_named(vectors, tmp_path, name, mutant, reasons, says):
    """A wrong MX implementation (one rule broken) is told which rule: for a wrong E8M0 byte,
    the rounding mode whose byte it wrote (or the exponent that wrapped)."""
    _mx_candidate(vectors, tmp_path, name, mutant)
    r, text = _verify(vectors, tmp_path, name)
    assert not r.passed and set(r.reasons) == reasons, (r.reasons, text)
    assert says in r.examples[0].detail, r.examples[0].detail


def test_mx_reference_candidate_passes(vectors, tmp_path):
    """The MX reference of tests/naive.py, as a candidate, passes every MX vector."""
    names = [n for n in sorted(os.listdir(vectors)) if n.startswith("mx-")]
    for name in names:
        _mx_candidate(vectors, tmp_path, name)
    report = validation.verify(vectors, str(tmp_path), select="^mx-")
    assert report.passed and len(report.results) == len(names), report.text()


def test_mx_byte_of_the_wrong_mode_is_named_with_the_expected_one(vectors, tmp_path):
    """A floor vector's block given its rceil byte (and the codes of that byte): both
    modes are named, and the codes are found consistent with the wrong byte."""
    name = "mx-corners-naive-floor-mxfp4-bs32"
    v = Vector(vectors, name)
    d = _mx_candidate(vectors, tmp_path, name, "mx-floor-as-rceil")
    r, _ = _verify(vectors, tmp_path, name)
    ex = r.examples[0]
    assert "the candidate's byte is the" in ex.detail and "rceil" in ex.detail.split(";")[1]
    assert "expected is floor's" in ex.detail and "input [" in ex.detail
    # the FP6 packed codes missing: a file problem, named
    name = "mx-corners-naive-floor-mxfp6_e2m3-bs32"
    d = _mx_candidate(vectors, tmp_path, name)
    os.remove(os.path.join(d, "codes_packed.bin"))
    r, text = _verify(vectors, tmp_path, name)
    assert not r.passed and "codes_packed.bin missing" in _summary(text, name)
    assert v.man["fmt"] == "mxfp4"


def test_mx_byte0_code_difference_mentions_the_multiplier(vectors, tmp_path):
    """Byte 0 divided by 2^-127 instead of 2^-126: the codes differ at the same byte, and
    the detail names byte 0's multiplier rule."""
    name = "mx-corners-naive-floor-mxfp8_e4m3-bs32"
    _mx_candidate(vectors, tmp_path, name, "mx-byte0-divides-by-2^-127")
    r, _ = _verify(vectors, tmp_path, name)
    assert not r.passed and "code" in r.reasons
    assert any("byte 0" in e.detail and "2^-126" in e.detail for e in r.examples), [e.detail for e in r.examples]
