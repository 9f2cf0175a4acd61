"""Search for the inputs of the pinned golden vectors (nvfp4_np/validation/constructed.py):
rows on which one mutant of tests/mutants.py gives other bytes than the reference
(validation/SPEC.md), for the mutants that random inputs do not catch.

    python tests/find_constructions.py [MUTANT ...]   # search, print the ROWS module text
    python tests/find_constructions.py --write        # search all, rewrite constructed.py
    python tests/find_constructions.py --mx-flat      # print constructed.MX_HESSIAN_FLAT

A context is (method, recipe, block size). Its input is the anchor row (amax A =
``constructed.anchor(*context)``) and 64-wide rows (4 blocks of 16 or 2 of 32); for the
two-level recipes every row stays below A, so every block keeps the tensor scale of the
search and rows found separately can share one vector. Families of candidate rows:

* ``flip``: from a random row, sweep one element (not the block's amax) of one block until
  the reference's chosen scale byte changes, bisect to the adjacent pair of float32 values,
  and try the 65 values around it: where two candidates' errors cross, the order of a
  float32 sum, an FMA or the precision decides the winner;
* ``boundary``: elements a few ulps from s*b for the E2M1 decision boundaries b (a division
  against a multiplication by the rounded reciprocal);
* ``e4m3-mid``: block amaxes a few ulps from where the block value is an E4M3 midpoint
  (the operation order of the block value);
* ``smin``: the block amax swept until s_min of §4.2 is a candidate scale exactly;
* ``grid``: elements that are E4M3 values / 4, so that s_max = 4 t_k* is a candidate scale;
* ``huge``: saturated seed-recipe blocks (|x| ~ 1e10), where E0 is within a few ulps of the
  block energy, so k* of §4.2 is n or n - 1 depending on float32 rounding;
* ``random``, ``ties``: random rows over six decades, and exact E2M1 ties.

The search is seeded and bounded by a number of batches, not by time, so the result does
not depend on the machine.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutants import MUTANTS, UNREACHED  # noqa: E402
from naive import BOUNDARIES, E4M3_NONNEG, F32, SpecReference  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nvfp4_np.validation import constructed  # noqa: E402

K = constructed.K
#: Batches of candidate rows tried per context before giving up.
MAX_BATCHES = 40

#: mutant -> (contexts (method, recipe, block size) to pin it in, families to try).
TARGETS = {
    "lane-sum-pairwise": ([("optimal", "seed", 16), ("optimal", "te", 32)], ("flip",)),
    "lane-sum-sequential": ([("optimal", "seed", 16), ("optimal", "modelopt", 32)], ("flip",)),
    "residual-fma": ([("optimal", "torchao", 16), ("optimal", "te", 32)], ("flip",)),
    "matvec-fma": ([("hessian-seed", "seed", 16)], ("flip",)),
    "matvec-float64": ([("hessian-seed", "seed", 16)], ("flip",)),
    "te-divide": ([("naive", "te", 16)], ("boundary",)),
    "te-block-value-order": ([("naive", "te", 16)], ("e4m3-mid",)),
    "modelopt-element-multiply": ([("naive", "modelopt", 16)], ("boundary",)),
    "modelopt-block-value-order": ([("naive", "modelopt", 16)], ("e4m3-mid",)),
    "torchao-block-value-order": ([("naive", "torchao", 16)], ("e4m3-mid",)),
    "ct-block-value-order": ([("naive", "compressed-tensors", 16)], ("e4m3-mid",)),
    "ct-element-multiply": ([("naive", "compressed-tensors", 16)], ("boundary",)),
    "noise-rule-2-missing": ([("hessian-seed", "seed", 16)], ("huge",)),
    "prefix-sums-float32": ([("hessian-seed", "seed", 16)], ("huge",)),
    "hessian-window-first-exclusive": ([("hessian-seed", "seed", 16)], ("smin",)),
    "hessian-window-last-exclusive": ([("hessian-seed", "seed", 16)], ("grid",)),
    "hessian-window-always-widened": ([("hessian-seed", "seed", 16)], ("random", "flip")),
    "hessian-window-only-seed-exact": ([("hessian-seed", "modelopt", 16), ("hessian-seed", "compressed-tensors", 16)],
                                       ("random", "flip")),
    "hessian-no-fast-fail": ([("hessian-seed", "seed", 16)], ("random", "flip")),
    "hessian-exact-float32": ([("hessian-exact", "seed", 16), ("hessian-exact", "te", 32)], ("flip",)),
    "admm-best-ties-to-admm": ([("admm-best", "seed", 16)], ("ties", "random")),
    "admm-returns-quants-scale": ([("admm-seed", "seed", 16)], ("random",)),
    "admm-refit-unclamped": ([("admm-seed", "torchao", 16)], ("random",)),
    "admm-weights-divide": ([("admm-seed", "te", 16)], ("boundary", "random")),
}


def context_inputs(method, bs):
    """(H, Hn, Minv) of a pinned context, as the generator builds them."""
    H = constructed.hessian(method, bs)
    if not method.startswith("admm"):
        return H, None, None
    from nvfp4_np.admm import admm_operators

    Hn, Minv, _ = admm_operators(H)
    return H, Hn, Minv


def run(ref, ctx, rows):
    """Outputs of a reference class (or a mutant) in context ``ctx`` on the anchor row +
    ``rows``."""
    method, recipe, bs = ctx
    W = np.concatenate([constructed.anchor_row(*ctx)[None], rows]).astype(F32)
    H, Hn, Minv = context_inputs(method, bs)
    name, _, mode = method.partition("-")
    rounding = "seed" if recipe == "seed" else "rne"
    impl = ref(recipe, rounding) if isinstance(ref, type) else ref.reference(recipe, rounding)
    with np.errstate(all="ignore"):
        return impl.outputs(W, bs, name, mode or None, H=H, Hn=Hn, Minv=Minv)


def differing_rows(mut, ctx, rows):
    """Indices of the rows whose codes, scale bytes or dequant differ under the mutant."""
    a, b = run(SpecReference, ctx, rows), run(mut, ctx, rows)
    d = (a["scale_bytes"] != b["scale_bytes"]).any(1) | (a["codes"] != b["codes"]).any(1)
    d |= (a["dequant"].view(np.uint32) != b["dequant"].view(np.uint32)).any(1)
    return np.nonzero(d[1:])[0]


# ----------------------------------------------------------------------------- families


def _random_rows(rs, n, bs, A, top=0.9):
    """Rows whose blocks have magnitudes over six decades below top * A."""
    x = rs.standard_normal((n, K // bs, bs)) * rs.choice([1, 1, 3], (n, K // bs, bs))
    x /= np.abs(x).max(-1, keepdims=True)
    return (x * A * top * 10.0 ** rs.uniform(-6, 0, (n, K // bs, 1))).reshape(n, K).astype(F32)


def _one_block_ref(ctx):
    ref = SpecReference(ctx[1])
    ref.ts = ref.tensor_scale(F32(constructed.anchor(*ctx)))
    return ref


def _set(blocks, j, e, vals):
    """Rows with element e of block j set to ``vals`` (the element's sign kept)."""
    n = len(blocks)
    rows = blocks.copy()
    rows[np.arange(n), j, e] = vals * np.where(blocks[np.arange(n), j, e] < 0, F32(-1), F32(1))
    return rows


def _bisect(lo_v, hi_v, changed):
    """Bisect float32 values lo_v < hi_v (``changed`` False at lo_v, True at hi_v) to
    adjacent float32 values; return the bit patterns of the last False ones."""
    ilo, ihi = lo_v.astype(F32).view(np.int32), hi_v.astype(F32).view(np.int32)
    for _ in range(32):
        mid = (ilo + (ihi - ilo) // 2).astype(np.int32)
        up = changed(mid.view(F32))
        ilo, ihi = np.where(up, ilo, mid), np.where(up, mid, ihi)
    return ilo


def _around(blocks, j, e, ilo, ulps):
    return np.concatenate([_set(blocks, j, e, (ilo + k).astype(np.int32).view(F32)).reshape(len(blocks), K)
                           for k in range(-ulps, ulps + 1)]).astype(F32)


def family_random(rs, ctx, A):
    return _random_rows(rs, 512, ctx[2], A)


def family_huge(rs, ctx, A):
    x = rs.standard_normal((512, K)) * 10.0 ** (rs.uniform(9.5, 11.5, (512, 1)) + rs.uniform(-0.5, 0.5, (512, K)))
    return x.astype(F32)


def family_ties(rs, ctx, A):
    bs = ctx[2]
    ties = np.concatenate([BOUNDARIES, -BOUNDARIES, [6.0, -6.0, 0.5, 1.0, 2.0]])
    x = rs.choice(ties, (512, K // bs, bs))
    x[..., 0] = 6.0
    scale = 2.0 ** rs.randint(-8, -2, (512, K // bs, 1))
    return (x * scale * A / 6).reshape(512, K).astype(F32)


def family_boundary(rs, ctx, A):
    method, recipe, bs = ctx
    n = 256
    base = _random_rows(rs, n, bs, A, top=0.5)
    out = run(SpecReference, ("naive", recipe, bs), base)
    ref = _one_block_ref(ctx)
    s = ref.effective_scale(ref.dec(out["scale_bytes"][1:]))  # (n, K // bs)
    b = rs.choice(BOUNDARIES, (n, K // bs, bs)).astype(F32)
    v = (b * s[..., None]).astype(F32)
    v = v + rs.randint(-3, 4, v.shape) * np.spacing(v)
    v[..., 0] = np.abs(base.reshape(n, K // bs, bs)).max(-1)  # keep the block amax
    v[..., 1:] *= np.where(rs.rand(n, K // bs, bs - 1) < 0.5, -1, 1)
    return v.reshape(n, K).astype(F32)


def family_e4m3_mid(rs, ctx, A):
    bs = ctx[2]
    ref = _one_block_ref(ctx)
    ratio = ref.block_value(np.array([1.0], F32))[0]  # about v per unit of block amax
    mids = (E4M3_NONNEG[9:126].astype(np.float64) + E4M3_NONNEG[10:127]) / 2
    mids = mids[mids / ratio < A * 0.9]
    n = 256
    a = (rs.choice(mids, (n, K // bs)) / ratio).astype(F32)
    a = a + rs.randint(-6, 7, a.shape) * np.spacing(a)
    x = _random_rows(rs, n, bs, A).reshape(n, K // bs, bs)
    x = x / np.abs(x).max(-1, keepdims=True) * 0.99 * a[..., None]
    x[..., 0] = a
    return x.reshape(n, K).astype(F32)


def family_grid(rs, ctx, A):
    bs = ctx[2]
    n = 512
    codes = rs.randint(40, 100, (n, K // bs, 1)) - rs.randint(0, 40, (n, K // bs, bs))
    x = E4M3_NONNEG[np.clip(codes, 1, 126)] / F32(4) * np.where(rs.rand(n, K // bs, bs) < 0.5, -1, 1)
    if ctx[1] != "seed":
        x = x / np.abs(x).max() * A * 0.5
    return x.reshape(n, K).astype(F32)


def family_smin(rs, ctx, A):
    bs = ctx[2]
    ref = _one_block_ref(ctx)
    n = 512
    blocks = _random_rows(rs, n, bs, A, top=0.5).reshape(n, K // bs, bs)
    j = rs.randint(0, K // bs, n)
    e = np.abs(blocks[np.arange(n), j]).argmax(-1)

    def s_min(vals):
        b = _set(blocks, j, e, vals)[np.arange(n), j]
        return ref.seed_window(b, ref.sse(b, ref.naive(b)))[1]

    a = np.abs(blocks[np.arange(n), j]).max(-1)
    target = E4M3_NONNEG[np.minimum(np.searchsorted(E4M3_NONNEG, s_min(a), side="right"), 126)]
    return _around(blocks, j, e, _bisect(a, (a * F32(1.02)).astype(F32), lambda v: s_min(v) >= target), 3)


def family_flip(rs, ctx, A, n=96):
    method, recipe, bs = ctx
    base = _random_rows(rs, n, bs, A, top=0.5)
    if recipe == "seed":
        base = base / A * 10.0 ** rs.uniform(-2, 3, (n, 1)).astype(F32)
    blocks = base.reshape(n, K // bs, bs)
    j = rs.randint(0, K // bs, n)
    e = (np.abs(blocks[np.arange(n), j]).argmax(-1) + 1 + rs.randint(0, bs - 1, n)) % bs
    a = np.abs(blocks[np.arange(n), j]).max(-1)

    def byte_at(vals):
        return run(SpecReference, ctx, _set(blocks, j, e, vals).reshape(n, K))["scale_bytes"][1:][np.arange(n), j]

    grid = [(a * F32(t)).astype(F32) for t in np.linspace(0, 0.999, 24)]
    found, lo_v, hi_v = np.zeros(n, bool), grid[0].copy(), grid[0].copy()
    prev = byte_at(grid[0])
    for g0, g1 in zip(grid, grid[1:]):
        cur = byte_at(g1)
        new = ~found & (prev != cur)
        lo_v[new], hi_v[new] = g0[new], g1[new]
        found |= new
        prev = cur
    if not found.any():
        return np.zeros((0, K), F32)
    b_lo = byte_at(lo_v)
    ilo = _bisect(lo_v, hi_v, lambda v: byte_at(v) != b_lo)
    rows = _around(blocks, j, e, ilo, 32).reshape(65, n, K)
    return rows[:, found].reshape(-1, K)


FAMILIES = {"random": family_random, "huge": family_huge, "ties": family_ties, "boundary": family_boundary,
            "e4m3-mid": family_e4m3_mid, "grid": family_grid, "smin": family_smin, "flip": family_flip}


def find(mut, ctx, families, seed, want=2, max_batches=MAX_BATCHES):
    """Up to ``want`` rows that the mutant gets wrong in context ``ctx`` (and the family
    that found them), trying ``families`` in turn for at most ``max_batches`` batches."""
    rs = np.random.RandomState(seed)
    A = constructed.anchor(*ctx)
    for i in range(max_batches):
        fam = families[i % len(families)]
        rows = FAMILIES[fam](rs, ctx, A)
        if len(rows):
            hit = differing_rows(mut, ctx, rows)
            if hit.size:
                return rows[hit[:want]], fam
    return np.zeros((0, K), F32), None


def search(only=None):
    """{context: [(mutant name, rows)]} for the TARGETS (or those named in ``only``)."""
    by_name = {m.name: m for m in MUTANTS + [m for m, _ in UNREACHED]}
    found = {}
    for i, (name, (contexts, families)) in enumerate(TARGETS.items()):
        if only and name not in only:
            continue
        for ctx in contexts:
            t = time.time()
            rows, fam = find(by_name[name], ctx, families, seed=1000 + i)
            print(f"{name:32s} {'-'.join(map(str, ctx)):32s} {len(rows)} rows ({fam}) {time.time() - t:.1f} s",
                  file=sys.stderr)
            if len(rows):
                found.setdefault(ctx, []).append((name, rows))
    return found


def rows_source(found):
    """The ``ROWS = {...}`` assignment of constructed.py for the found rows."""
    lines = ["ROWS = {"]
    for ctx in sorted(found):
        lines.append(f"    {ctx!r}: [")
        for name, rows in found[ctx]:
            lines.append(f"        ({name!r}, (")
            for r in rows:
                words = [f"{w:08x}" for w in r.astype(F32).view(np.uint32)]
                chunks = [" ".join(words[i:i + 8]) for i in range(0, len(words), 8)]
                lines.append(f'            ("{chunks[0]} "')
                lines += [f'             "{c} "' for c in chunks[1:-1]]
                lines.append(f'             "{chunks[-1]}"),')
            lines.append("        )),")
        lines.append("    ],")
    lines.append("}")
    return "\n".join(lines)


def write_module(found):
    path = constructed.__file__
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin = text.index("ROWS = {")
    end = text.index("\n}\n", begin) + 2
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:begin] + rows_source(found) + text[end:])


def mx_flat_rows(per_format=4, seed=2026):
    """constructed.MX_HESSIAN_FLAT's text: blocks of 16 positive and 16 negative elements
    (magnitudes 2^-6..2^6) on which, with H_j = 1 1^T, the Hessian search's byte (its
    traversal, SPEC §9.4) differs from the least error over all 255 bytes; the first
    ``per_format`` such blocks for mxfp4 (the first row), then for mxfp8_e4m3."""
    from naive import MXReference

    class AllBytes(MXReference):
        def visit_order(self, b_hi, errs, nonzero, unsaturated):
            return list(range(255))

    H = np.ones((32, 32))
    found = {f: [] for f in ("mxfp4", "mxfp8_e4m3")}
    rng = np.random.default_rng(seed)
    while min(len(v) for v in found.values()) < per_format:
        x = (rng.permutation(np.array([1.0] * 16 + [-1.0] * 16)) * np.exp2(rng.uniform(-6, 6, 32))).astype(np.float32)
        for f, blocks in found.items():
            if len(blocks) < per_format and MXReference(f).search(x, H) != AllBytes(f).search(x, H):
                blocks.append(x)
    rows = np.stack(found["mxfp4"] + found["mxfp8_e4m3"]).reshape(2, -1).view(np.uint32)
    return "MX_HESSIAN_FLAT = (\n" + "".join('    "' + " ".join(f"{w:08x}" for w in r) + '",\n' for r in rows) + ")"


if __name__ == "__main__":
    if "--mx-flat" in sys.argv:
        print(mx_flat_rows())
        sys.exit()
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    found = search(only or None)
    if "--write" in sys.argv:
        write_module(found)
    else:
        print(rows_source(found))
