"""Write the golden vectors: every method x block size x recipe on the inputs of
:mod:`nvfp4_np.validation.suites`, each array as raw little-endian ``.bin`` and, with
``hex=True``, also as ``.hex`` (one word per line, as Verilog's ``$readmemh`` reads), with
a manifest. The layout is validation/SPEC.md §8.

    OUT/index.json                      schema, library version, every vector's parameters
    OUT/<vector>/manifest.json          parameters, and per array: file names, dtype,
                                        shape, byte order, SHA-256 of each file
    OUT/<vector>/<array>.bin[, .hex]    inputs: input (W), X, H (also the 4/6 Hessian
                                        choice's), admm_Hn, admm_Minv,
                                        gptq_groups, gptq_U;
                                        outputs: codes, scale_bytes, scale_bytes_swizzled,
                                        tensor_scale, dequant; MX vectors (SPEC §9):
                                        codes, codes_packed (FP6), scale_bytes (E8M0),
                                        scale_bytes_swizzled, dequant

Regenerating gives identical bytes. The committed set has no ``.hex`` files: they are a
function of the ``.bin`` files (:func:`hex_text`), written by ``--hex``.
"""

import hashlib
import json
import os
import warnings

import numpy as np

from .. import encoding, four_over_six, mx, registry
from .._version import __version__
from ..admm import admm_operators
from ..gptq import gptq_operators, stored_operators
from ..checkpoint.paths import plain_name
from ..tensor import quantize
from . import constructed, suites
from .files import MX_OUTPUTS, OUTPUTS, array_bytes, dtype_name, hex_text, load_array, output_names

SCHEMA_VERSION = 1
BLOCK_SIZES = registry.BLOCK_SIZES
#: Method names of the vectors -> (quantize method, mode): every method and mode.
METHODS = registry.vector_methods()
#: The methods of the suites without activations: every method that needs none.
PLAIN_METHODS = registry.methods_without_activations()
SIZES = {"small": 8, "large": 256}
#: The GPTQ vectors' settings (recorded in their manifests) and methods.
GPTQ = {"damp": 0.01, "order": "act"}
GPTQ_METHODS = tuple(name for name, (method, _) in METHODS.items() if method == "gptq")
#: The Four Over Six vectors' method names -> the rule (None: the Hessian choice, r^T H r);
#: a 16x16 vector's name adds "-16x16" (SPEC §4.7).
FOS_METHODS = {f"4over6-{rule}": rule for rule in four_over_six.RULES}
FOS_METHODS["4over6-hessian"] = None
#: The 16x16 tile vectors' method names -> the block method (SPEC §4.8).
TILE_METHODS = {"naive-16x16": "naive", "optimal-16x16": "optimal"}
#: The E4M3 bounds of the "fos-448" suite's vectors: (recipe, rule) at scale_max 448.
FOS_448 = (("fouroversix", "mse"), ("te", "mae"), ("te", "mse"))
#: The MX vectors (SPEC §9.8): every format; the corner suite under every scale rounding
#: (naive) and the SSE search, the bfloat16 suite under these roundings, the Hessian
#: search for these formats.
MX_BFLOAT16_ROUNDINGS = ("floor", "rceil")
MX_HESSIAN_FORMATS = ("mxfp4", "mxfp8_e4m3")


def _suites(size):
    """suite name -> (W, X or None, H-by-block-size or None, methods, description)."""
    m = SIZES[size]
    corner = suites.corner_matrix()
    W_h, X = suites.hessian_case(m=m)
    W_g, X_g = suites.gptq_case(m=m)
    return {
        "random": (suites.random_matrix(m=m), None, None, PLAIN_METHODS,
                   "normal, Laplace, Student-t(3) and per-block magnitudes over 6 decades"),
        "corners": (corner, None, None, PLAIN_METHODS,
                    "FP4 ties, E4M3 ties and subnormal scales, underflow, saturation, zeros, -0.0"),
        "ties": (suites.ties_matrix(), None, None, PLAIN_METHODS,
                 "exact E2M1 ties under every recipe (tensor scale 1, power-of-two block scales)"),
        "float16": (suites.as_dtype(suites.random_matrix(seed=2, m=m), "float16"), None, None,
                    PLAIN_METHODS, "the random suite's rows given as float16"),
        "bfloat16": (suites.as_dtype(suites.random_matrix(seed=2, m=m), "bfloat16"), None, None,
                     PLAIN_METHODS, "the random suite's rows given as bfloat16"),
        "hessian": (W_h, X, {bs: suites.exact_hessians(X, bs) for bs in BLOCK_SIZES},
                    ("hessian-seed", "hessian-exact"), "integer activations X, exact H_j = X_j^T X_j"),
        "admm": (W_h, None, {bs: suites.diagonal_hessian(bs) for bs in BLOCK_SIZES},
                 ("admm-seed", "admm-best"), "diagonal H_j (operators exact on every machine)"),
        "gptq": (W_g, None, {bs: suites.full_hessian(X_g) for bs in BLOCK_SIZES}, GPTQ_METHODS,
                 f"GPTQ, order {GPTQ['order']!r}, damp {GPTQ['damp']}: the full H = X^T X of integer activations "
                 f"(exact); the operators (gptq_groups, gptq_U) are inputs"),
    }


def _special_suites():
    """Whole tensors for rules that need one: suite -> (W, methods, recipes, block sizes,
    description)."""
    return {
        "zero-tensor": (suites.zero_tensor(), ("naive",), registry.RECIPES, (16,),
                        "an all-zero tensor (+0.0 and -0.0): each recipe's zero-tensor rule"),
        "tiny-tensor": (suites.tiny_tensor(), ("naive",), registry.RECIPES, (16,),
                        "a tensor of amax 1e-37 with subnormals and -0.0: the FLT_MAX caps"),
        "subnormal-tensor": (suites.subnormal_tensor(), ("naive",), registry.RECIPES, (16,),
                             "a tensor of subnormals, amax 1e-42: fl(A/2688) underflows to 0"),
        "layout": (suites.layout_matrix(), ("naive",), ("te",), BLOCK_SIZES,
                   "130 x 160: several 128x4 tiles of swizzled scales, and their padding"),
    }


def _pinned_specs():
    """The constructed vectors of :mod:`constructed`: the anchor row and the rows that
    pin one rule each, per (method, recipe, block size)."""
    specs = []
    for (method, recipe, bs) in sorted(constructed.ROWS):
        W = np.concatenate([constructed.anchor_row(method, recipe, bs)[None], constructed.rows(method, recipe, bs)])
        H = constructed.hessian(method, bs)
        pins = ", ".join(sorted({m for m, _ in constructed.ROWS[(method, recipe, bs)]}))
        specs.append(_spec("pinned", f"constructed rows that pin: {pins}", method, recipe, bs, W, H=H))
    return specs


def _spec(suite, description, method, recipe, block_size, W, X=None, H=None, **extra):
    """One vector's parameters and inputs (``extra``: the 4/6 and 16x16 vectors' rule,
    scale_max, block_shape)."""
    return {"name": f"{suite}-{method}-{recipe}-bs{block_size}", "suite": suite, "description": description,
            "method": method, "recipe": recipe, "block_size": block_size, "W": W, "X": X, "H": H, **extra}


def _fos_spec(suite, description, rule, recipe, block_2d, W, scale_max=None, H=None):
    """A Four Over Six vector: method "4over6-<rule>" (or "4over6-hessian" with H), plus
    "-16x16" for tiles; its manifest records the rule, the resolved scale_max and the
    block shape."""
    smax = four_over_six.settings(recipe, rule, scale_max)[2]
    method = f"4over6-{'hessian' if H is not None else rule}" + ("-16x16" if block_2d else "")
    return _spec(suite, description, method, recipe, 16, W, H=H, rule=rule, scale_max=smax,
                 block_shape=[16, 16] if block_2d else None)


def _fos_specs():
    """The Four Over Six vectors (SPEC §4.7): every recipe x rule, blocks of 16 and 16x16
    tiles, at the recipe's scale_max (256 for the 4/6 rules, fouroversix's static rules
    448), some at 448 too; and the Hessian choice with H an input."""
    W = constructed.four_over_six_matrix()
    desc = ("Four Over Six at the default scale_max: near-ties (sum order, ties keep 6), blocks where 4 wins "
            "under one rule only, E4M3-subnormal scales (fouroversix's code 8, TE's clamp), -0.0, a 16x16 tile "
            "with a single large element, tiles whose choice depends on the sum order")
    specs = []
    for block_2d in (False, True):
        for recipe, spec in four_over_six.FOUR_OVER_SIX_RECIPES.items():
            for rule in spec["rules"]:
                specs.append(_fos_spec("fos", desc, rule, recipe, block_2d, W))
    for block_2d in (False, True):
        for recipe, rule in FOS_448:
            specs.append(_fos_spec("fos-448", "the fos suite's input at scale_max 448 (K = 6 * 448 = 2688)",
                                   rule, recipe, block_2d, W, scale_max=448))
    W_h, X = suites.hessian_case(m=16)
    H = suites.exact_hessians(X, 16)
    for block_2d in (False, True):
        for recipe in four_over_six.FOUR_OVER_SIX_RECIPES:
            specs.append(_fos_spec("fos-hessian", "the 4/6 choice by r^T H_j r (float64), H_j = X_j^T X_j "
                                   "exact for integer X (an input)", None, recipe, block_2d, W_h, H=H))
    return specs


def _tile_specs():
    """The 16x16 tile vectors of naive and the SSE search, every block recipe (SPEC §4.8)."""
    W = suites.tiles_matrix()
    desc = ("16x16 tiles: a single large element, an all-zero tile (every byte ties), the tile max "
            "outside the first row, corner blocks as rows, random rows")
    return [_spec("tiles", desc, name, recipe, 16, W, block_shape=[16, 16])
            for name in TILE_METHODS for recipe in registry.RECIPES]


def _mx_spec(suite, description, method, fmt, W, scale_rounding=None, X=None, H=None):
    """An MX vector: name ``<suite>-<method>[-<scale rounding>]-<fmt>-bs32``; recipe None."""
    label = method + (f"-{scale_rounding}" if scale_rounding else "")
    return {"name": f"{suite}-{label}-{fmt}-bs{mx.MX_BLOCK}", "suite": suite, "description": description,
            "method": method, "recipe": None, "block_size": mx.MX_BLOCK, "W": W, "X": X, "H": H, "fmt": fmt,
            "scale_rounding": scale_rounding}


def _mx_specs():
    """The MX vectors (SPEC §9.8)."""
    W = suites.mx_corner_matrix()
    desc = ("MX corners: zeros and -0.0, amax at a power of two and one ulp either side, each format's largest "
            "(x 2^20 and 2^-50 plus one ulp: rceil's exact ceiling), the E8M0 range ends, blocks that saturate "
            "under floor, each format's element ties and subnormals, the SSE search's tie and near-tie, random rows")
    specs = []
    for fmt in mx.MX_FORMATS:
        for rounding in mx.SCALE_ROUNDINGS:
            specs.append(_mx_spec("mx-corners", desc, "naive", fmt, W, rounding))
        specs.append(_mx_spec("mx-corners", desc, "optimal", fmt, W))
    Wb = suites.as_dtype(suites.mx_random_rows(seed=24, m=8), "bfloat16")
    for fmt in mx.MX_FORMATS:
        for rounding in MX_BFLOAT16_ROUNDINGS:
            specs.append(_mx_spec("mx-bfloat16", "random rows (magnitudes over sixty decades) given as bfloat16",
                                  "naive", fmt, Wb, rounding))
    W_h, X = suites.mx_hessian_case()
    H = suites.exact_hessians(X, mx.MX_BLOCK)
    for fmt in MX_HESSIAN_FORMATS:
        specs.append(_mx_spec("mx-hessian", "integer activations X, exact H_j = X_j^T X_j", "hessian", fmt, W_h,
                              X=X, H=H))
    W_f, H_f = constructed.mx_hessian_flat_case()
    for fmt in MX_HESSIAN_FORMATS:
        specs.append(_mx_spec("mx-hessian-flat", "H_j = 1 1^T and blocks of 16 positive and 16 negative elements: "
                              "r^T H r is flat once every element saturates, and the search's byte differs from the "
                              "least error over all 255 bytes", "hessian", fmt, W_f, H=H_f))
    return specs


def vector_specs(size="small"):
    """Every vector: dicts of name, suite, method, recipe, block_size and the inputs."""
    specs = []
    for suite, (W, X, Hs, methods, desc) in _suites(size).items():
        for method in methods:
            for recipe in registry.RECIPES:
                for bs in BLOCK_SIZES:
                    specs.append(_spec(suite, desc, method, recipe, bs, W, X, None if Hs is None else Hs[bs]))
    for suite, (W, methods, recipes, sizes, desc) in _special_suites().items():
        for method in methods:
            for recipe in recipes:
                for bs in sizes:
                    specs.append(_spec(suite, desc, method, recipe, bs, W))
    return specs + _pinned_specs() + _fos_specs() + _tile_specs() + _mx_specs()


def _method_of(spec):
    """(quantize method, mode, keyword arguments) of a vector's spec."""
    name = spec["method"]
    kw = {}
    if spec.get("block_shape") is not None:
        kw["block_shape"] = tuple(spec["block_shape"])
    if name.startswith("4over6-"):
        kw["scale_max"] = spec["scale_max"]
        if spec["H"] is None:
            kw["rule"] = spec["rule"]
        return "4over6", None, kw
    if name in TILE_METHODS:
        return TILE_METHODS[name], None, kw
    return METHODS[name] + (kw,)


def _compute_mx(spec, device="cpu"):
    """An MX vector's outputs (SPEC §9.8) and inputs."""
    W, fmt = spec["W"], spec["fmt"]
    arrays = {"input": W}
    kw = {}
    if spec["method"] == "naive":
        kw["scale_rounding"] = spec["scale_rounding"]
    if spec["H"] is not None:
        kw["H_blocks"] = spec["H"]
        if spec.get("X") is not None:
            arrays["X"] = spec["X"]
        arrays["H"] = spec["H"]
    t = quantize(W, mx.MX_BLOCK, spec["method"], fmt=fmt, device=device, **kw)
    arrays["codes"] = t.codes
    if t.format.code_bits == 6:
        arrays["codes_packed"] = t.packed_codes()
    with np.errstate(over="ignore"):  # (a block near FLT_MAX can dequantize to +-inf, SPEC §9.3)
        dequant = t.dequantize()
    arrays.update(scale_bytes=t.scale_bytes, scale_bytes_swizzled=encoding.swizzle_scales(t.scale_bytes).reshape(-1),
                  dequant=dequant)
    return arrays, {"rounding": "rne", "mode": None}


def compute(spec, device="cpu"):
    """The expected outputs (and extra inputs) of one vector, as a dict of arrays."""
    if spec.get("fmt"):
        return _compute_mx(spec, device)
    method, mode, kw = _method_of(spec)
    W = spec["W"]
    arrays = {"input": W}
    if method == "4over6":
        if spec["H"] is not None:
            kw["H_blocks"] = spec["H"]
            arrays["H"] = spec["H"]
    elif method == "gptq":
        ops = _gptq_operators(spec)
        kw = {"H": ops, "mode": mode}
        arrays.update(H=spec["H"], gptq_groups=ops.groups, gptq_U=ops.U)
    elif spec["H"] is not None:
        kw.update(H_blocks=spec["H"], mode=mode)
        if spec["X"] is not None:
            arrays["X"] = spec["X"]
        arrays["H"] = spec["H"]
        if method == "admm":
            Hn, Minv, H32 = admm_operators(spec["H"])
            # the third operator, float32(H), is H itself (float32 in every vector)
            assert np.array_equal(H32, spec["H"]) and H32.dtype == spec["H"].dtype
            arrays.update(admm_Hn=Hn, admm_Minv=Minv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scale underflow is part of the suite
        t = quantize(W, spec["block_size"], method, recipe=spec["recipe"], device=device, **kw)
    arrays.update(
        codes=t.codes, scale_bytes=t.scale_bytes, scale_bytes_swizzled=t.swizzled_scales().reshape(-1),
        tensor_scale=np.array([t.tensor_scale], np.float32), dequant=t.dequantize(),
    )
    return arrays, {"rounding": t.rounding, "mode": mode}


# ----------------------------------------------------------------------------- files


def _gptq_operators(spec):
    """A GPTQ vector's operators: those stored in it (``gptq_groups``, ``gptq_U``, read back
    by write_candidate: no LAPACK involved), or computed from its H (when generating)."""
    if spec.get("gptq_U") is None:
        return gptq_operators(spec["H"], spec["block_size"], **GPTQ)
    return stored_operators(spec["H"], spec["block_size"], spec["gptq_groups"], spec["gptq_U"], **GPTQ)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def write_vector(out_dir, spec, hex=False):
    """Write one vector's folder (``.bin`` files, and ``.hex`` too if ``hex``); return its
    manifest."""
    arrays, extra = compute(spec)
    folder = os.path.join(out_dir, spec["name"])
    os.makedirs(folder, exist_ok=True)
    files = {}
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        entry = {"dtype": dtype_name(a.dtype), "shape": list(a.shape), "word_bytes": a.dtype.itemsize,
                 "role": "output" if name in (MX_OUTPUTS if spec.get("fmt") else OUTPUTS) else "input"}
        forms = [("bin", array_bytes(a))] + ([("hex", hex_text(a).encode())] if hex else [])
        for ext, data in forms:
            fname = f"{name}.{ext}"
            with open(os.path.join(folder, fname), "wb") as f:
                f.write(data)
            entry[ext] = {"file": fname, "sha256": _sha(data)}
        files[name] = entry
    manifest = {
        "schema_version": SCHEMA_VERSION, "library": f"nvfp4_np {__version__}", "name": spec["name"],
        "suite": spec["suite"], "description": spec["description"], "method": spec["method"],
        "mode": extra["mode"], "recipe": spec["recipe"], "rounding": extra["rounding"],
        "block_size": spec["block_size"], "block_axis": -1, "byte_order": "little",
        "arrays": files,
    }
    manifest.update(_extra_parameters(spec))
    if spec["method"].startswith("admm"):
        manifest["admm"] = {"n_outer": 3, "n_inner": 10}
    if spec["method"].startswith("gptq"):
        manifest["gptq"] = dict(GPTQ)
    _write_json(os.path.join(folder, "manifest.json"), manifest)
    return manifest


def _extra_parameters(spec):
    """The parameters of a 4/6 or 16x16 vector beyond the others' (none for those, whose
    manifests stay as they were): block_shape, and for 4/6 the rule (None: the Hessian
    choice) and scale_max."""
    out = {}
    if spec.get("fmt"):
        return {"fmt": spec["fmt"], "scale_rounding": spec["scale_rounding"]}
    if "block_shape" in spec:
        out["block_shape"] = spec["block_shape"]
    if spec["method"].startswith("4over6-"):
        out.update(rule=spec["rule"], scale_max=spec["scale_max"])
    return out


def _write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def generate(out_dir, size="small", progress=None, hex=False):
    """Write every vector under ``out_dir`` and an ``index.json``; return the index.
    ``hex=True`` also writes each array as ``.hex`` (one word per line)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    specs = vector_specs(size)
    for i, spec in enumerate(specs):
        m = write_vector(out_dir, spec, hex=hex)
        entries.append({k: m[k] for k in ("name", "suite", "method", "mode", "recipe", "rounding", "block_size")}
                       | _extra_parameters(spec))
        if progress:
            progress(i + 1, len(specs), spec["name"])
    index = {"schema_version": SCHEMA_VERSION, "library": f"nvfp4_np {__version__}", "size": size,
             "generator": f"python -m nvfp4_np.validation generate --out DIR --size {size}",
             "spec": "validation/SPEC.md", "vectors": entries}
    _write_json(os.path.join(out_dir, "index.json"), index)
    return index


def write_candidate(vectors, out_dir, device="cpu", select=None):
    """Run nvfp4_np itself as a candidate implementation: read every vector's inputs from
    its files, quantize on ``device``, and write the outputs the checker reads
    (``out_dir/<vector>/<output>.bin``). ``nvfp4-np verify`` on the result checks, for
    example, that the GPU path reproduces the vectors. Vectors of a method ``device`` has
    no kernel for (GPTQ on the GPU) are skipped: select them out when verifying. Returns
    the names written."""
    import re

    with open(os.path.join(vectors, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    pattern = re.compile(select) if select else None
    names = []
    for entry in index["vectors"]:
        if pattern and not pattern.search(entry["name"]):
            continue
        folder = os.path.join(vectors, plain_name(entry["name"], os.path.join(vectors, "index.json")))
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            man = json.load(f)
        arrays = {n: load_array(folder, n, e) for n, e in man["arrays"].items() if e["role"] == "input"}
        if man.get("fmt"):
            if device != "cpu" and registry.method(man["method"]).mx_gpu is None:
                continue  # no MX kernel of this method on the device
            spec = {"method": man["method"], "W": arrays["input"], "X": arrays.get("X"), "H": arrays.get("H"),
                    "fmt": man["fmt"], "scale_rounding": man["scale_rounding"]}
            _write_outputs(out_dir, vectors, entry["name"], compute(spec, device=device)[0], output_names(man))
            names.append(entry["name"])
            continue
        spec = {"method": man["method"], "recipe": man["recipe"], "block_size": man["block_size"],
                "W": arrays["input"], "X": arrays.get("X"), "H": arrays.get("H"),
                "gptq_groups": arrays.get("gptq_groups"), "gptq_U": arrays.get("gptq_U"),
                **{k: man[k] for k in ("block_shape", "rule", "scale_max") if k in man}}
        method = _method_of(spec)[0]
        if device != "cpu" and (not registry.method(method).gpu
                                or (spec.get("block_shape") is not None and method != "4over6")):
            continue  # a CPU-only method (gptq, the 16x16 tiles of naive and optimal)
        _write_outputs(out_dir, vectors, entry["name"], compute(spec, device=device)[0], OUTPUTS)
        names.append(entry["name"])
    return names


def _write_outputs(out_dir, vectors, name, outputs, names):
    dest = os.path.join(out_dir, plain_name(name, os.path.join(vectors, "index.json")))
    os.makedirs(dest, exist_ok=True)
    for n in names:
        with open(os.path.join(dest, f"{n}.bin"), "wb") as f:
            f.write(array_bytes(outputs[n]))
