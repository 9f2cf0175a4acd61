"""Check a candidate implementation's outputs against the golden vectors.

A candidate writes, for each vector it implements, a folder ``CANDIDATE/<vector>/`` with
the output arrays under the vectors' names: ``codes``, ``scale_bytes``,
``scale_bytes_swizzled``, ``tensor_scale``, ``dequant``, each as ``<name>.bin`` (raw
little-endian, the vector's dtype and size) or inside a ``vector.npz``. The checker
reports per vector: pass/fail, the number of differing blocks, the first differing blocks
with their input values, expected and actual bytes, and why they differ (scale byte, code,
tie rounding, nibble order, swizzle position, signed zero, dequant arithmetic). A wrong
scale byte also says whether the candidate's codes are the ones its own byte gives (then
the scale search or choice differs, not the rounding). File-level problems (a missing,
truncated or unreadable file, a wrong tensor scale) are named as such; a vector that
fails only by them says so instead of counting blocks.

An MX vector (its manifest has ``fmt``, validation/SPEC.md §9.8) has the outputs
``codes``, ``codes_packed`` (FP6), ``scale_bytes`` (E8M0), ``scale_bytes_swizzled`` and
``dequant``; a wrong E8M0 byte is named as the byte of the scale rounding (floor, ceil,
even, rceil, rceil_cpu) that gives it, or as an exponent that wrapped without the clamp,
and differing codes at the right byte as signed zero, saturation (NaN or Inf written),
subnormal flush, tie rounding, nibble order or FP6 bit order.
"""

import os
import re
from dataclasses import dataclass, field

import numpy as np

from .. import _emit, encoding, formats, mx, recipes
from ..checkpoint.paths import plain_name
from .files import OUTPUTS, from_bytes, load_array, load_json, output_names

_E2M1_BOUNDS = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], np.float32)
#: Reasons that are file-level problems: a problem line says them, the summary does not
#: count them again.
FILE_REASONS = frozenset({"tensor scale"})
#: The largest scale byte that is a block scale (0x7f is NaN, 0x80.. negative).
_MAX_SCALE_BYTE = 0x7E


@dataclass
class BlockDiff:
    """One differing block: its position, reason, and the evidence."""

    row: int
    block: int
    reason: str
    detail: str


@dataclass
class VectorResult:
    """The comparison of one vector."""

    name: str
    passed: bool
    problems: list = field(default_factory=list)  # file-level: missing, truncated, ...
    differing_blocks: int = 0
    n_blocks: int = 0
    reasons: dict = field(default_factory=dict)  # reason -> number of blocks
    examples: list = field(default_factory=list)  # first BlockDiffs


@dataclass
class Report:
    """All vectors' results; ``passed`` when every checked vector passed."""

    results: list

    @property
    def passed(self):
        return bool(self.results) and all(r.passed for r in self.results)

    def text(self, max_examples=3):
        lines = []
        for r in self.results:
            lines.append(_summary(r))
            if r.differing_blocks or r.passed:  # else the summary line holds the problems
                lines += [f"      {p}" for p in r.problems]
            for ex in r.examples[:max_examples]:
                where = "swizzled scales" if ex.row < 0 else f"row {ex.row} block {ex.block}"
                lines.append(f"      {where}: {ex.reason}: {ex.detail}")
        n_fail = sum(not r.passed for r in self.results)
        lines.append(f"{len(self.results) - n_fail} passed, {n_fail} failed")
        return "\n".join(lines)


def _summary(r):
    """A vector's first report line: the number of differing blocks, or, when no block
    differs, the file problems that fail it; then the block reasons and their counts."""
    line = f"{'PASS' if r.passed else 'FAIL'}  {r.name}"
    if r.differing_blocks or (r.passed and r.n_blocks):
        line += f"  ({r.differing_blocks} of {r.n_blocks} blocks differ)"
    elif r.problems:
        line += "  " + "; ".join(r.problems)
    reasons = sorted((k, v) for k, v in r.reasons.items() if k not in FILE_REASONS)
    if reasons:
        line += "  " + ", ".join(f"{k}: {v}" for k, v in reasons)
    return line


def load_candidate(folder, name, entry):
    """(array or None, problem or None) for the candidate's ``name``: ``.bin`` first,
    then ``vector.npz``; size and dtype checked."""
    expected_bytes = int(np.prod(entry["shape"], dtype=np.int64)) * entry["word_bytes"]
    path = os.path.join(folder, f"{name}.bin")
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != expected_bytes:
            kind = "truncated" if len(data) < expected_bytes else "too long"
            return None, f"{name}.bin has {len(data)} bytes, expected {expected_bytes} ({kind})"
        return from_bytes(data, entry), None
    npz = os.path.join(folder, "vector.npz")
    if os.path.exists(npz):
        try:
            with np.load(npz) as z:
                if name in z.files:
                    a = np.asarray(z[name])
                    if a.size * a.dtype.itemsize != expected_bytes:
                        return None, f"vector.npz[{name}] has {a.size} elements of {a.dtype}, expected shape {entry['shape']} of {entry['dtype']}"
                    return from_bytes(np.ascontiguousarray(a).tobytes(), entry), None
        except (OSError, ValueError) as e:
            return None, f"vector.npz unreadable: {e}"
    return None, f"{name}.bin missing (and no vector.npz holding {name})"


def _source(folder, name):
    """Where the candidate gave array ``name``: its ``.bin``, else its ``vector.npz``
    entry (load_candidate's order)."""
    return f"{name}.bin" if os.path.exists(os.path.join(folder, f"{name}.bin")) else f"vector.npz[{name}]"


def _words(a):
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def _scaled_value(x, scale_byte, rc):
    """|x| scaled by the recipe's element factor for the block's scale byte (float32)."""
    sf = np.float32(encoding.e4m3_values(np.uint8(scale_byte)))
    f = recipes.element_factor(sf, rc)
    with np.errstate(all="ignore"):
        return np.float32(np.abs(x) * f) if rc.elem_mul else np.float32(np.abs(x) / f)


def codes_at_scale_byte(x, scale_byte, rc):
    """The E2M1 codes (uint8, unpacked) that the recipe's arithmetic ``rc`` gives the
    block ``x`` (float32) at the E4M3 block-scale byte ``scale_byte`` (validation/SPEC.md
    §3): the kernels' own per-block step (the element factor and effective scale of the
    byte, E2M1 rounding with the tie rule, the sign rule), so a zero byte and -0.0
    inputs come out as the library writes them."""
    codes, packed = np.empty(1, np.uint8), np.empty((1, x.size // 2), np.uint8)
    _emit.emit_block(0, np.uint8(scale_byte), np.ascontiguousarray(x, np.float32).reshape(1, -1),
                     formats.E4M3_DECODE, rc, (codes, packed))
    return encoding.unpack_fp4(packed)[0]


def _own_byte_note(x, act_codes, act_sb, rc):
    """Whether a block's candidate codes are the ones its own (wrong) scale byte gives:
    if so the scale search or choice differs, not the rounding."""
    if act_sb > _MAX_SCALE_BYTE:
        return (f"the candidate's byte 0x{act_sb:02x} is not a block scale (NaN or negative): "
                "its codes cannot be checked against it")
    own = codes_at_scale_byte(x, act_sb, rc)
    if np.array_equal(own, act_codes):
        return (f"the candidate's codes are what its own scale byte 0x{act_sb:02x} gives: "
                "the scale search/choice differs, not the rounding")
    i = int(np.nonzero(own != act_codes)[0][0])
    return (f"the candidate's codes are not those of its own byte 0x{act_sb:02x} either "
            f"(element {i} = {float(x[i])!r}: 0x{act_sb:02x} gives code 0x{int(own[i]):x}, "
            f"got 0x{int(act_codes[i]):x})")


def _classify_block(x, exp_codes, act_codes, exp_sb, act_sb, rc, own_byte_note=None, codes_follow_scale=True):
    """(reason, detail) for one block whose scale byte or codes differ. ``own_byte_note``:
    for a wrong scale byte, what the detail says of the candidate's codes under its own
    byte (None: nothing). ``codes_follow_scale`` False (ADMM): the codes are not a rounding
    of x at the scale, so a differing code is only an "ADMM quant"."""
    if exp_sb != act_sb:
        ev, av = (float(encoding.e4m3_values(np.uint8(b))) for b in (exp_sb, act_sb))
        note = f"{own_byte_note}; " if own_byte_note else ""
        return "scale byte", (f"expected 0x{exp_sb:02x} ({ev!r}), got 0x{act_sb:02x} ({av!r}); {note}"
                              f"input {np.array2string(x, precision=9, max_line_width=200)}")
    i = int(np.nonzero(exp_codes != act_codes)[0][0])
    e, a = int(exp_codes[i]), int(act_codes[i])
    where = f"element {i} = {float(x[i])!r}: expected code 0x{e:x}, got 0x{a:x}"
    if (e ^ a) == 8 and (e & 7) == 0:
        return "signed zero", where
    if not codes_follow_scale:
        return "ADMM quant", f"{where} (ADMM's quants come from its iteration, SPEC §4.4)"
    if rc is None:  # Four Over Six (SPEC §4.7)
        if e == 0x8 and (a & 7) == 7:
            return "code", f"{where} (fouroversix's 8: no clamp at 6, the value 8 packs as 0x8, SPEC §4.7, §7.1)"
        if a == 0x8 and (e & 7) == 7:
            return "code", f"{where} (TE clamps at 6: code 0x7; 0x8 is fouroversix's 8, SPEC §4.7, §7.1)"
        return "code", f"{where} (at the same scale byte: the element arithmetic differs, SPEC §4.7)"
    y = _scaled_value(x[i], exp_sb, rc)
    if abs((e & 7) - (a & 7)) == 1 and (e & 8) == (a & 8) and np.any(y == _E2M1_BOUNDS):
        return "tie rounding", f"{where} (scaled value {float(y)!r} is a decision boundary)"
    return "code", f"{where} (scaled value {float(y)!r})"


def _fos_candidate_bytes(man, x, amax):
    """A 4/6 vector's two candidate scale bytes per block, (6 candidate's, 4 candidate's)
    arrays of the scale bytes' shape (SPEC §4.7): the block (or 16x16 tile) max, the
    tensor constant c of the recipe, rule and scale_max."""
    from .. import four_over_six
    from ..formats import e4m3_code

    recipe = man["recipe"]
    rule = man.get("rule")
    _, rule, _, vmax, k_const = four_over_six.settings(recipe, rule, man.get("scale_max"))
    te = four_over_six.FOUR_OVER_SIX_RECIPES[recipe]["te"]
    c = four_over_six.tensor_constants(amax, vmax, k_const, te)[0]
    M, K = x.shape
    bmax = np.abs(x).reshape(M, K // 16, 16).max(axis=-1)
    if man.get("block_shape") is not None and M % 16 == 0:
        bmax = np.repeat(bmax.reshape(M // 16, 16, K // 16).max(axis=1), 16, axis=0)
    with np.errstate(all="ignore"):
        pre = (bmax / np.float32(vmax) * np.float32(c)).astype(np.float32) if (amax > 0 or te) else np.zeros_like(bmax)
        s6 = np.array([e4m3_code(np.float32(v)) for v in pre.reshape(-1)], np.uint8).reshape(pre.shape)
        s4 = np.array([e4m3_code(np.float32(np.float32(v) * np.float32(1.5))) for v in pre.reshape(-1)],
                      np.uint8).reshape(pre.shape)
    return s6, s4


def _fos_note(cands, r, b, exp_sb, act_sb):
    """What a 4/6 block's wrong byte is: the other candidate (the choice differs), or
    neither (the candidates' scales differ)."""
    s6, s4 = int(cands[0][r, b]), int(cands[1][r, b])
    name = {s6: "the 6 candidate's", s4: "the 4 candidate's"} if s6 != s4 else {s6: "both candidates'"}
    if act_sb in name and exp_sb in name:
        return (f"expected is {name[exp_sb]} byte, the candidate wrote {name[act_sb]}: the 4/6 choice differs "
                "(error rule, sum order or ties keep 6, SPEC §4.7)")
    return (f"the candidate's byte is neither candidate's (6: 0x{s6:02x}, 4: 0x{s4:02x}): its block scale "
            "arithmetic differs (bmax / 6 * c, then * 1.5 for 4; K = 6 * scale_max, SPEC §4.7)")


def _float_bits(v):
    """A float32 as its bits and its value: ``0x3c800000 (0.015625)``."""
    v = np.float32(v)
    return f"0x{int(v.view(np.uint32)):08x} ({float(v)!r})"


def check_vector(vec_dir, cand_dir, max_examples=5):
    """Compare one candidate folder with one vector folder."""
    man = load_json(os.path.join(vec_dir, "manifest.json"))
    res = VectorResult(man["name"], passed=True)
    if not os.path.isdir(cand_dir):
        res.passed = False
        res.problems.append(f"candidate folder {cand_dir} missing")
        return res
    if man.get("fmt"):
        return _check_mx_vector(man, vec_dir, cand_dir, res, max_examples)
    arrays = man["arrays"]
    exp, act = _load_outputs(OUTPUTS, arrays, vec_dir, cand_dir, res)
    bs = man["block_size"]
    x = np.asarray(exp["input"], np.float32)
    M = x.shape[0]
    nb = x.shape[1] // bs
    res.n_blocks = M * nb
    amax = np.abs(x).max() if x.size else np.float32(0)
    # Four Over Six (SPEC §4.7) has its own arithmetic: no block recipe's parameters (recipe
    # "fouroversix" has none, and 4/6's "te" is not the te block recipe)
    fos = man["method"].startswith("4over6")
    rc = None if fos else recipes.params(man["recipe"], man["rounding"], amax)
    tiled = man.get("block_shape") is not None

    def count(reason, row, block, detail):
        res.reasons[reason] = res.reasons.get(reason, 0) + 1
        if len(res.examples) < max_examples:
            res.examples.append(BlockDiff(row, block, reason, detail))

    # ADMM's codes come from its iteration, GPTQ's from the weights as its sweep updated
    # them: neither is x rounded at the returned scale
    codes_follow_scale = not man["method"].startswith(("admm", "gptq"))
    fos_bytes = _fos_candidate_bytes(man, x, amax) if fos else None

    bad_blocks = np.zeros((M, nb), bool)
    ts_differs = act["tensor_scale"] is not None and _words(act["tensor_scale"])[0] != _words(exp["tensor_scale"])[0]
    if ts_differs:
        res.passed = False
        res.problems.append(f"{_source(cand_dir, 'tensor_scale')}: expected {_float_bits(exp['tensor_scale'][0])}, "
                            f"got {_float_bits(act['tensor_scale'][0])}")
        res.reasons["tensor scale"] = 1
    if act["codes"] is not None and act["scale_bytes"] is not None:
        ec, ac = exp["codes"], act["codes"]
        swapped = ((ac & 0x0F) << 4) | (ac >> 4)
        nibble_order = not np.array_equal(ac, ec) and np.array_equal(swapped, ec)
        e_codes = encoding.unpack_fp4(ec).reshape(M, nb, bs)
        a_codes = encoding.unpack_fp4(ac).reshape(M, nb, bs)
        esb, asb = exp["scale_bytes"].reshape(M, nb), act["scale_bytes"].reshape(M, nb)
        diff = (esb != asb) | (e_codes != a_codes).any(axis=-1)
        bad_blocks |= diff
        for r, b in zip(*np.nonzero(diff)):
            xb = x[r, b * bs:(b + 1) * bs]
            if nibble_order and esb[r, b] == asb[r, b]:
                count("nibble order", r, b, "codes match with the two nibbles of each byte swapped "
                      "(element 2i belongs in the LOW nibble)")
                continue
            note = None
            if esb[r, b] != asb[r, b] and fos:
                note = _fos_note(fos_bytes, r, b, int(esb[r, b]), int(asb[r, b]))
            elif esb[r, b] != asb[r, b] and codes_follow_scale and len(res.examples) < max_examples:
                # the codes of the candidate's own byte depend on its tensor scale too
                note = ("its codes are not checked against its own byte: its tensor scale differs" if ts_differs
                        else _own_byte_note(xb, a_codes[r, b], int(asb[r, b]), rc))
            reason, detail = _classify_block(xb, e_codes[r, b], a_codes[r, b], int(esb[r, b]), int(asb[r, b]),
                                             rc, note, codes_follow_scale)
            if tiled:
                detail = f"16x16 tile ({r // 16}, {b}), its byte on each of its 16 rows: {detail}"
            count(reason, r, b, detail)
    _compare_swizzled(exp, act, count, res)
    if act["dequant"] is not None:
        _compare_dequant(exp, act, M, nb, bs, bad_blocks, count)
    res.differing_blocks = int(bad_blocks.sum())
    if res.differing_blocks or res.reasons:
        res.passed = False
    return res


def verify(vectors, candidate, select=None, max_examples=5):
    """Check every vector of the folder ``vectors`` (with an ``index.json``) whose name
    matches the regular expression ``select`` (default: all) against ``candidate``.

    Raises ``re.error`` for a ``select`` that is not a regular expression and
    ``ValueError`` when it matches no vector."""
    index = load_json(os.path.join(vectors, "index.json"))
    pattern = re.compile(select) if select else None
    results = []
    for entry in index["vectors"]:
        name = plain_name(entry["name"], os.path.join(vectors, "index.json"))
        if pattern and not pattern.search(name):
            continue
        results.append(check_vector(os.path.join(vectors, name), os.path.join(candidate, name), max_examples))
    if not results:
        raise ValueError(f"no vector in {vectors} matches {select!r}")
    return Report(results)


# ----------------------------------------------------------------------------- MX (SPEC §9)


def _e8m0_text(b):
    """An E8M0 byte and its value: ``0x7f (2^0)``."""
    return f"0x{b:02x} (NaN)" if b == mx.E8M0_NAN else f"0x{b:02x} (2^{b - 127})"


class _MXRules:
    """The arithmetic of one MX vector (format, method, scale rounding), from nvfp4_np's
    own primitives: the bytes of every rounding mode for a block, and the codes at a byte."""

    def __init__(self, man):
        self.fmt = mx.MX_FORMATS[man["fmt"]]
        self.el = self.fmt.element
        self.mbits, self.ebits, self.bias, self.largest = mx.element_args(self.fmt)
        self.sign = 1 << (self.fmt.code_bits - 1)
        self.mag = self.sign - 1
        self.top = int(formats.float_code(self.largest, self.ebits, self.mbits, self.bias, self.largest))
        self.values = self.el.decode_table().astype(np.float64)
        self.rounding = man.get("scale_rounding")
        self.mode = None if self.rounding is None else tuple(mx.SCALE_ROUNDINGS).index(self.rounding)

    def mode_bytes(self, amax):
        """{mode: byte} of every scale rounding for a block of max|x| = amax."""
        a = np.float32(amax)
        return {name: int(mx.e8m0_byte(a, i, self.fmt.emax, self.mbits, self.largest))
                for i, name in enumerate(mx.SCALE_ROUNDINGS)}

    def wrapped_bytes(self, amax):
        """{mode: byte} of the modes whose unbiased exponent leaves [-127, 127] for this amax,
        as an implementation without the E8M0 clamp writes it (mod 256)."""
        a = float(np.float32(amax))
        out = {}
        e = (int(np.frexp(a)[1]) - 1) if a >= 2.0**-126 else -127
        out["floor"] = e - self.fmt.emax
        d = float(np.float32(np.float32(amax) / self.largest))
        if d > 0:
            m, ed = np.frexp(d)
            out["rceil"] = int(ed) - 1 + (m != 0.5)
        return {k: (v + 127) % 256 for k, v in out.items() if not -127 <= v <= 127}

    def multiplier(self, byte):
        """The element multiplier of the vector's method at ``byte`` (SPEC §9.3, §9.4)."""
        if self.mode is None:
            return np.float32(mx._pow2(127 - int(byte))) if byte <= 254 else np.float32(np.nan)
        return np.float32(mx.element_multiplier(np.uint8(byte), self.mode))

    def scaled(self, x, byte):
        with np.errstate(all="ignore"):
            return np.float32(np.float32(x) * self.multiplier(byte))

    def codes_at(self, x, byte):
        """The element codes (one per element) of the block x at ``byte``."""
        return np.array([int(formats.float_code(self.scaled(v, byte), self.ebits, self.mbits, self.bias, self.largest))
                         for v in np.asarray(x, np.float32)], np.uint8)

    def unpack(self, codes, M, K):
        return encoding.unpack_fp4(codes).reshape(M, K) if self.fmt.name == "mxfp4" else codes.reshape(M, K)

    def nonfinite(self, code):
        """'NaN' or 'Inf' for a code that is one (E4M3: magnitude 0x7F; E5M2: 0x7C..0x7F)."""
        v = self.values[int(code) & self.mag]
        if np.isfinite(v):
            return None
        return "Inf" if self.el.name == "e5m2" and (int(code) & self.mag) == 0x7C else "NaN"


def _mx_byte_note(rules, x, exp_sb, act_sb, act_codes):
    """What a wrong E8M0 byte is: the byte of which scale rounding(s) (or of an exponent
    that wrapped without the clamp), and whether the candidate's codes are its own byte's."""
    amax = np.abs(x).max()
    bytes_ = rules.mode_bytes(amax)
    names = [m for m, b in bytes_.items() if b == act_sb]
    exp_names = [m for m, b in bytes_.items() if b == exp_sb]
    want = rules.rounding or "the search"
    if names:
        note = f"the candidate's byte is the {' / '.join(names)} byte"
    else:
        wrapped = [m for m, b in rules.wrapped_bytes(amax).items() if b == act_sb]
        note = (f"the candidate's byte is the {' / '.join(wrapped)} exponent wrapped mod 256 (the clamp to "
                "[-127, 127] is missing, SPEC §9.2)" if wrapped else "the candidate's byte is no rounding mode's")
    note += f"; expected is {want}'s" + (f" (= the {' / '.join(exp_names)} byte)" if exp_names and rules.mode is None
                                          else "")
    if act_sb == mx.E8M0_NAN:
        return note + "; 0xff is NaN: its codes cannot be checked against it"
    own = rules.codes_at(x, act_sb)
    if np.array_equal(own, act_codes):
        return note + (f"; the candidate's codes are what its own byte 0x{act_sb:02x} gives: the scale "
                       f"{'rounding' if rules.mode is not None else 'search'} differs, not the elements")
    i = int(np.nonzero(own != act_codes)[0][0])
    return note + (f"; its codes are not those of its own byte either (element {i} = {float(x[i])!r}: 0x{act_sb:02x} "
                   f"gives code 0x{int(own[i]):02x}, got 0x{int(act_codes[i]):02x})")


def _mx_classify(rules, x, exp_codes, act_codes, byte):
    """(reason, detail) of a block whose byte agrees and whose codes differ."""
    i = int(np.nonzero(exp_codes != act_codes)[0][0])
    e, a = int(exp_codes[i]), int(act_codes[i])
    y = rules.scaled(x[i], byte)
    where = f"element {i} = {float(x[i])!r}, scaled {float(y)!r}: expected code 0x{e:02x}, got 0x{a:02x}"
    em, am = e & rules.mag, a & rules.mag
    if (e ^ a) == rules.sign and em == 0:
        return "signed zero", where + (" (the sign of zero is the sign bit of x: -0.0 and negatives that round to 0 "
                                       "keep it)")
    bad = rules.nonfinite(a)
    if em == rules.top and bad:
        return "saturation", where + (f" (|scaled| at or above the largest {float(rules.largest)!r} saturates to "
                                      f"it; the candidate wrote {bad})")
    if em == rules.top and (e & rules.sign) == (a & rules.sign):
        return "saturation", where + f" (|scaled| at or above the largest {float(rules.largest)!r} saturates to it)"
    if am == 0 and em != 0 and (em >> rules.mbits) == 0:
        return "subnormal flush", where + " (the expected code is a subnormal of the element format: kept, not flushed)"
    ev, av = rules.values[em], rules.values[am]
    same_sign = (e & rules.sign) == (a & rules.sign)
    if same_sign and abs(em - am) == 1 and np.isfinite(av) and abs(float(y)) == (ev + av) / 2:
        return "tie rounding", where + " (the scaled value is halfway between two element values: ties to even)"
    note = ""
    if byte == 0 and rules.mode is not None:
        note = (" (byte 0: rceil multiplies the elements by 1, floor / ceil / even divide them by 2^-126, "
                "SPEC §9.3)")
    return "code", where + note


def _fp6_big_endian(codes):
    """FP6 codes packed four in three bytes MSB first (the wrong order, for the diagnosis)."""
    g = codes.reshape(codes.shape[0], -1, 4).astype(np.uint32)
    w = (g[..., 0] << 18) | (g[..., 1] << 12) | (g[..., 2] << 6) | g[..., 3]
    return np.stack([w >> 16, (w >> 8) & 0xFF, w & 0xFF], axis=-1).reshape(codes.shape[0], -1).astype(np.uint8)


def _load_outputs(names, arrays, vec_dir, cand_dir, res):
    """(expected arrays with the input, candidate arrays) of a vector's outputs ``names``;
    a missing or wrong candidate file is a problem in ``res`` (its array None)."""
    exp = {n: load_array(vec_dir, n, arrays[n]) for n in tuple(names) + ("input",)}
    act = {}
    for n in names:
        a, problem = load_candidate(cand_dir, n, arrays[n])
        if problem:
            res.problems.append(problem)
            res.passed = False
        act[n] = a
    return exp, act


def _check_mx_vector(man, vec_dir, cand_dir, res, max_examples):
    """An MX vector (SPEC §9.8): codes, codes_packed (FP6), E8M0 scale bytes (linear and
    swizzled) and dequant, bit by bit."""
    names = output_names(man)
    arrays = man["arrays"]
    exp, act = _load_outputs(names, arrays, vec_dir, cand_dir, res)
    rules = _MXRules(man)
    x = np.asarray(exp["input"], np.float32)
    M, K = x.shape
    bs = mx.MX_BLOCK
    nb = K // bs
    res.n_blocks = M * nb

    def count(reason, row, block, detail):
        res.reasons[reason] = res.reasons.get(reason, 0) + 1
        if len(res.examples) < max_examples:
            res.examples.append(BlockDiff(row, block, reason, detail))

    bad_blocks = np.zeros((M, nb), bool)
    if act["codes"] is not None and act["scale_bytes"] is not None:
        ec, ac = exp["codes"], act["codes"]
        nibble_order = False
        if rules.fmt.name == "mxfp4":
            swapped = ((ac & 0x0F) << 4) | (ac >> 4)
            nibble_order = not np.array_equal(ac, ec) and np.array_equal(swapped, ec)
        e_codes = rules.unpack(ec, M, K).reshape(M, nb, bs)
        a_codes = rules.unpack(ac, M, K).reshape(M, nb, bs)
        esb, asb = exp["scale_bytes"].reshape(M, nb), act["scale_bytes"].reshape(M, nb)
        diff = (esb != asb) | (e_codes != a_codes).any(axis=-1)
        bad_blocks |= diff
        for r, b in zip(*np.nonzero(diff)):
            xb = x[r, b * bs:(b + 1) * bs]
            eb, ab = int(esb[r, b]), int(asb[r, b])
            if nibble_order and eb == ab:
                count("nibble order", r, b, "codes match with the two nibbles of each byte swapped "
                      "(element 2i belongs in the LOW nibble)")
            elif eb != ab:
                note = _mx_byte_note(rules, xb, eb, ab, a_codes[r, b]) if len(res.examples) < max_examples else ""
                count("scale byte", r, b, f"expected {_e8m0_text(eb)}, got {_e8m0_text(ab)}; {note}; input "
                      f"{np.array2string(xb, precision=9, max_line_width=200)}")
            else:
                reason, detail = _mx_classify(rules, xb, e_codes[r, b], a_codes[r, b], eb)
                count(reason, r, b, detail)
        if "codes_packed" in names and act["codes_packed"] is not None:
            ep, ap = exp["codes_packed"].reshape(M, nb, 24), act["codes_packed"].reshape(M, nb, 24)
            pdiff = (ep != ap).any(axis=-1) & ~bad_blocks
            big = _fp6_big_endian(e_codes.reshape(M, K)).reshape(M, nb, 24)
            for r, b in zip(*np.nonzero(pdiff)):
                i = int(np.nonzero(ep[r, b] != ap[r, b])[0][0])
                where = f"packed byte {i} of the block: expected 0x{int(ep[r, b, i]):02x}, got 0x{int(ap[r, b, i]):02x}"
                if np.array_equal(ap[r, b], big[r, b]):
                    count("fp6 bit order", r, b, f"{where}: the codes packed most significant bit first; code k of a "
                          "group of four belongs in bits 6k..6k+5 of the little-endian 24-bit word (SPEC §9.5)")
                else:
                    count("fp6 packing", r, b, f"{where} (the unpacked codes are right)")
            bad_blocks |= pdiff
    own_swizzle = None
    if act["scale_bytes"] is not None and act["scale_bytes_swizzled"] is not None:
        own_swizzle = encoding.swizzle_scales(act["scale_bytes"].reshape(M, nb)).reshape(-1)
    if own_swizzle is None or not (np.array_equal(own_swizzle, act["scale_bytes_swizzled"]) and bad_blocks.any()):
        # (the swizzle of the candidate's own wrong bytes is not a second mistake)
        _compare_swizzled(exp, act, count, res)
    if act["dequant"] is not None:
        _compare_dequant(exp, act, M, nb, bs, bad_blocks, count)
    res.differing_blocks = int(bad_blocks.sum())
    if res.differing_blocks or res.reasons:
        res.passed = False
    return res


def _compare_swizzled(exp, act, count, res):
    """The swizzled scale bytes as a whole: right bytes in wrong places, or wrong bytes."""
    if act["scale_bytes_swizzled"] is None or np.array_equal(act["scale_bytes_swizzled"], exp["scale_bytes_swizzled"]):
        return
    es, as_ = exp["scale_bytes_swizzled"], act["scale_bytes_swizzled"]
    lin = exp["scale_bytes"].reshape(-1)
    first = int(np.nonzero(es != as_)[0][0])
    if np.array_equal(np.sort(es), np.sort(as_)):
        why = "the right bytes in the wrong positions"
        if np.array_equal(as_[:lin.size], lin):
            why = "the linear (row-major) layout instead of the 128x4 tiles"
        count("swizzle position", -1, -1,
              f"{why}; first at byte {first}: expected 0x{es[first]:02x}, got 0x{as_[first]:02x}")
    else:
        count("swizzle bytes", -1, -1, f"first at byte {first}: expected 0x{es[first]:02x}, got 0x{as_[first]:02x}")
    res.passed = False


def _compare_dequant(exp, act, M, nb, bs, bad_blocks, count):
    """dequant word by word in the blocks whose bytes and codes agree; marks the blocks."""
    ed, ad = _words(exp["dequant"]).reshape(M, nb, bs), _words(act["dequant"]).reshape(M, nb, bs)
    ddiff = (ed != ad).any(axis=-1) & ~bad_blocks
    for r, b in zip(*np.nonzero(ddiff)):
        i = int(np.nonzero(ed[r, b] != ad[r, b])[0][0])
        ev, av = exp["dequant"].reshape(M, nb, bs)[r, b, i], act["dequant"].reshape(M, nb, bs)[r, b, i]
        reason = "signed zero" if ev == av == 0 else "dequant arithmetic"
        count(reason, r, b, f"element {i}: expected {float(ev)!r} (0x{int(ed[r, b, i]):08x}), "
                            f"got {float(av)!r} (0x{int(ad[r, b, i]):08x})")
    bad_blocks |= ddiff
