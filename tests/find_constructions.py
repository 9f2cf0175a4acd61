"""Search for the inputs of the constructed golden vectors
(nvfp4_np/validation/constructed.py): rows on which one mutant of tests/mutants.py gives
different bytes than the reference (validation/SPEC.md), for the mutants that random
inputs do not catch.

    python tests/find_constructions.py            # search, print the data module
    python tests/find_constructions.py --write    # and rewrite constructed.py

Every row is 64 float32 values (4 blocks of 16 or 2 of 32) whose magnitudes stay below
the anchor row's amax ``ANCHOR``, so every block keeps the tensor scale of the search.
Families of candidate rows, tried in order until a row is found:

* ``flip``: from a random row, sweep one element (not the block's amax) of one block until
  the reference's chosen scale byte changes, bisect to the adjacent pair of float32 values,
  and try the 64 values around it: where two candidates' errors cross, the order of
  a float32 sum, an FMA or the precision decides the winner;
* ``boundary``: elements a few ulps from s*b for each E2M1 decision boundary b (the
  division / reciprocal-multiplication rules);
* ``e4m3-mid``: block amaxes a few ulps from where the block value is an E4M3 midpoint
  (the operation order of the block value);
* ``random`` and ``ties``: random rows over six decades, and exact E2M1 ties.

The search is deterministic (seeded), so the written module is reproducible.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutants import MUTANTS  # noqa: E402
from naive import BOUNDARIES, E4M3_NONNEG, F32, SpecReference  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nvfp4_np.validation import constructed  # noqa: E402

K = 64
ANCHOR = constructed.ANCHOR

#: mutant -> contexts (method, recipe, block size) to pin it in, and families to try.
TARGETS = {
    "lane-sum-pairwise": ([("optimal", "seed", 16), ("optimal", "te", 32)], ("flip",)),
    "lane-sum-sequential": ([("optimal", "seed", 16), ("optimal", "modelopt", 32)], ("flip",)),
    "residual-fma": ([("optimal", "torchao", 16), ("optimal", "te", 32)], ("flip",)),
    "prefix-sums-float32": ([("hessian-seed", "seed", 16)], ("huge",)),
    "window-lower-exclusive": ([("hessian-seed", "seed", 16)], ("smin",)),
    "window-upper-exclusive": ([("hessian-seed", "seed", 16)], ("grid",)),
    "te-divide": ([("naive", "te", 16)], ("boundary",)),
    "te-block-value-order": ([("naive", "te", 16)], ("e4m3-mid",)),
    "torchao-block-value-order": ([("naive", "torchao", 16)], ("e4m3-mid",)),
    "modelopt-element-multiply": ([("naive", "modelopt", 16)], ("boundary",)),
    "ct-element-multiply": ([("naive", "compressed-tensors", 16)], ("boundary",)),
    "matvec-fma": ([("hessian-seed", "seed", 16)], ("flip",)),
    "matvec-float64": ([("hessian-seed", "seed", 16)], ("flip",)),
    "hessian-no-fast-fail": ([("hessian-seed", "seed", 16)], ("random", "flip")),
    "noise-rule-2-missing": ([("hessian-seed", "seed", 16)], ("huge",)),
    "hessian-exact-float32": ([("hessian-exact", "seed", 16), ("hessian-exact", "te", 32)], ("flip",)),
    "admm-best-ties-to-admm": ([("admm-best", "seed", 16)], ("ties", "random")),
    "admm-returns-quants-scale": ([("admm-seed", "seed", 16)], ("random",)),
    "admm-refit-unclamped": ([("admm-seed", "torchao", 16)], ("random",)),
    "admm-weights-divide": ([("admm-seed", "te", 16)], ("boundary", "random")),
}


def context_inputs(method, bs):
    """(H, Hn, Minv) of a constructed context: the H of constructed.py."""
    if method.startswith("hessian"):
        return constructed.hessian_blocks(bs), None, None
    if method.startswith("admm"):
        from nvfp4_np.admm import admm_operators

        H = constructed.admm_hessian(bs)
        Hn, Minv, _ = admm_operators(H)
        return H, Hn, Minv
    return None, None, None


def run(ref_cls_or_mut, method, recipe, bs, rows):
    """Outputs of the reference (or a mutant) on the anchor row + ``rows``."""
    W = np.concatenate([constructed.anchor_row()[None], rows]).astype(F32)
    H, Hn, Minv = context_inputs(method, bs)
    name, _, mode = method.partition("-")
    rounding = "seed" if recipe == "seed" else "rne"
    ref = (ref_cls_or_mut(recipe, rounding) if isinstance(ref_cls_or_mut, type)
           else ref_cls_or_mut.reference(recipe, rounding))
    with np.errstate(all="ignore"):
        return ref.outputs(W, bs, name, mode or None, H=H, Hn=Hn, Minv=Minv)


def differing_rows(mut, method, recipe, bs, rows):
    """Indices of the rows whose codes, scale bytes or dequant differ under the mutant."""
    a = run(SpecReference, method, recipe, bs, rows)
    b = run(mut, method, recipe, bs, rows)
    d = (a["scale_bytes"] != b["scale_bytes"]).any(1) | (a["codes"] != b["codes"]).any(1)
    d |= (a["dequant"].view(np.uint32) != b["dequant"].view(np.uint32)).any(1)
    return np.nonzero(d[1:])[0]


# ----------------------------------------------------------------------------- families


def _random_rows(rs, n, bs, top=0.9):
    """Rows whose blocks have magnitudes over six decades below the anchor."""
    x = rs.standard_normal((n, K // bs, bs)) * rs.choice([1, 1, 3], (n, K // bs, bs))
    x /= np.abs(x).max(-1, keepdims=True)
    return (x * ANCHOR * top * 10.0 ** rs.uniform(-6, 0, (n, K // bs, 1))).reshape(n, K).astype(F32)


def family_random(rs, method, recipe, bs):
    yield _random_rows(rs, 512, bs)


def family_huge(rs, method, recipe, bs):
    """Seed recipe only (no tensor scale): saturated blocks, |x| >> 2688, where E0 is
    within a few ulps of the block energy (k* = n)."""
    x = rs.standard_normal((512, K)) * 10.0 ** (rs.uniform(9.5, 11.5, (512, 1)) + rs.uniform(-0.5, 0.5, (512, K)))
    yield x.astype(F32)


def family_ties(rs, method, recipe, bs):
    ties = np.concatenate([BOUNDARIES, -BOUNDARIES, [6.0, -6.0, 0.5, 1.0, 2.0]])
    x = rs.choice(ties, (512, K // bs, bs))
    x[..., 0] = 6.0
    scale = 2.0 ** rs.randint(-8, -2, (512, K // bs, 1))
    yield (x * scale * ANCHOR / 6).reshape(512, K).astype(F32)


def _block_scales(method, recipe, bs, rows):
    out = run(SpecReference, "naive", recipe, bs, rows)
    ref = SpecReference(recipe)
    ref.ts = out["tensor_scale"][0]
    if recipe == "te":
        ref.s_enc = F32(F32(1.0) / ref.ts)  # only used for the block value
    return ref.effective_scale(ref.dec(out["scale_bytes"][1:]))


def family_boundary(rs, method, recipe, bs):
    base = _random_rows(rs, 256, bs, top=0.5)
    for _ in range(4):
        s = _block_scales(method, recipe, bs, base)  # (n, K // bs)
        b = rs.choice(BOUNDARIES, (256, K // bs, bs)).astype(F32)
        v = (b * s[..., None]).astype(F32)
        steps = rs.randint(-3, 4, v.shape)
        v = np.abs(v) + steps * np.spacing(np.abs(v))
        v[..., 0] = np.abs(base.reshape(256, K // bs, bs)).max(-1)  # keep the block amax
        sign = np.where(rs.rand(*v.shape) < 0.5, -1, 1)
        sign[..., 0] = 1
        yield (v * sign).reshape(256, K).astype(F32)


def family_e4m3_mid(rs, method, recipe, bs):
    ref = SpecReference(recipe)
    ref.ts = ref.tensor_scale(F32(ANCHOR))
    ratio = ref.block_value(np.array([1.0], F32))[0]  # v per unit of amax (about)
    mids = ((E4M3_NONNEG[9:126].astype(np.float64) + E4M3_NONNEG[10:127]) / 2)
    mids = mids[mids / ratio < ANCHOR * 0.9]
    n = 256
    a = (rs.choice(mids, (n, K // bs)) / ratio).astype(F32)
    a = a + rs.randint(-6, 7, a.shape) * np.spacing(a)
    x = _random_rows(rs, n, bs).reshape(n, K // bs, bs)
    x = x / np.abs(x).max(-1, keepdims=True) * 0.99 * a[..., None]
    x[..., 0] = a
    yield x.reshape(n, K).astype(F32)


def _flip_rows(rs, method, recipe, bs, move_amax=False, n=96):
    """Rows near a flip of the reference's byte for one block (see the module doc)."""
    base = _random_rows(rs, n, bs, top=0.5)
    if recipe == "seed":
        base = base / ANCHOR * 10.0 ** rs.uniform(-2, 3, (n, 1)).astype(F32)
    blocks = base.reshape(n, K // bs, bs)
    j = rs.randint(0, K // bs, n)
    amax_at = np.abs(blocks[np.arange(n), j]).argmax(-1)
    if move_amax:
        e = amax_at
    else:
        e = (amax_at + 1 + rs.randint(0, bs - 1, n)) % bs
    a = np.abs(blocks[np.arange(n), j]).max(-1)
    lo = np.zeros(n, F32) if not move_amax else (a * F32(0.6)).astype(F32)
    hi = (a * F32(0.999)).astype(F32) if not move_amax else (a * F32(1.5)).astype(F32)

    def byte_at(vals):
        rows = blocks.copy()
        rows[np.arange(n), j, e] = vals * np.sign(blocks[np.arange(n), j, e] + 0.5)
        out = run(SpecReference, method, recipe, bs, rows.reshape(n, K))
        return out["scale_bytes"][1:][np.arange(n), j], rows

    grid = [lo + (hi - lo) * F32(t) for t in np.linspace(0, 1, 24)]
    bytes_ = [byte_at(g.astype(F32))[0] for g in grid]
    lo_v, hi_v = grid[0].copy(), grid[0].copy()
    found = np.zeros(n, bool)
    for g0, g1, b0, b1 in zip(grid, grid[1:], bytes_, bytes_[1:]):
        new = ~found & (b0 != b1)
        lo_v[new], hi_v[new] = g0[new], g1[new]
        found |= new
    if not found.any():
        return np.zeros((0, K), F32)
    b_lo = byte_at(lo_v.astype(F32))[0]
    ilo, ihi = lo_v.astype(F32).view(np.int32), hi_v.astype(F32).view(np.int32)
    for _ in range(32):
        mid = (ilo + (ihi - ilo) // 2).astype(np.int32)
        bm = byte_at(mid.view(F32))[0]
        same = bm == b_lo
        ilo = np.where(same, mid, ilo)
        ihi = np.where(same, ihi, mid)
    out = []
    for k in range(-32, 33):
        out.append(byte_at((ilo + k).astype(np.int32).view(F32))[1][found].reshape(-1, K))
    return np.concatenate(out).astype(F32)


def _one_block_ref(recipe):
    ref = SpecReference(recipe)
    ref.ts = ref.tensor_scale(F32(ANCHOR))
    return ref


def _bisect_rows(blocks, j, e, lo_v, hi_v, side, ulps=6):
    """Bisect element (j, e) of each row between float32 values lo_v < hi_v (side(v) is
    False at lo_v, True at hi_v) to adjacent values; return rows with the element at the
    values around the change (both signs kept as in ``blocks``)."""
    n = len(blocks)
    sign = np.where(blocks[np.arange(n), j, e] < 0, F32(-1), F32(1))
    ilo, ihi = lo_v.astype(F32).view(np.int32), hi_v.astype(F32).view(np.int32)
    for _ in range(32):
        mid = (ilo + (ihi - ilo) // 2).astype(np.int32)
        up = side(mid.view(F32))
        ilo, ihi = np.where(up, ilo, mid), np.where(up, mid, ihi)
    out = []
    for k in range(-ulps, ulps + 1):
        rows = blocks.copy()
        rows[np.arange(n), j, e] = (ilo + k).astype(np.int32).view(F32) * sign
        out.append(rows.reshape(n, -1))
    return np.concatenate(out).astype(F32)


def family_prefix(rs, method, recipe, bs):
    """Sweep the second largest element (it moves E0, not the smaller elements' prefix
    sums) to where k* of §4.2 changes."""
    ref = _one_block_ref(recipe)
    n = 256
    blocks = _random_rows(rs, n, bs, top=0.5).reshape(n, K // bs, bs)
    j = rs.randint(0, K // bs, n)
    order = np.argsort(-np.abs(blocks[np.arange(n), j]), axis=-1)
    e = order[:, 1]

    def kstar(vals):
        b = blocks[np.arange(n), j].copy()
        b[np.arange(n), e] = vals
        e0 = ref.sse(b, ref.naive(b))
        return (ref.prefix_sums(np.sort(np.abs(b), axis=1)) <= e0[:, None]).sum(1)

    a = np.abs(blocks[np.arange(n), j]).max(-1)
    lo, hi = (a * F32(0.3)).astype(F32), (a * F32(0.999)).astype(F32)
    k_lo = kstar(lo)
    yield _bisect_rows(blocks, j, e, lo, hi, lambda v: kstar(v) != k_lo)


def family_grid(rs, method, recipe, bs):
    """Elements that are E4M3 values / 4, so that s_max = 4 t_k* is a candidate scale."""
    n = 512
    top = rs.randint(40, 100, (n, K // bs, 1))
    codes = top - rs.randint(0, 40, (n, K // bs, bs))
    x = E4M3_NONNEG[np.clip(codes, 1, 126)] / F32(4) * np.where(rs.rand(n, K // bs, bs) < 0.5, -1, 1)
    yield (x / np.abs(x).max() * ANCHOR * 0.5).reshape(n, K).astype(F32) if recipe != "seed" else x.reshape(n, K).astype(F32)


def family_smin(rs, method, recipe, bs):
    """Sweep the block amax until s_min of §4.2 equals a candidate scale exactly."""
    ref = _one_block_ref(recipe)
    n = 512
    blocks = _random_rows(rs, n, bs, top=0.5).reshape(n, K // bs, bs)
    j = rs.randint(0, K // bs, n)
    e = np.abs(blocks[np.arange(n), j]).argmax(-1)

    def s_min(vals):
        b = blocks[np.arange(n), j].copy()
        b[np.arange(n), e] = vals * np.sign(b[np.arange(n), e])
        e0 = ref.sse(b, ref.naive(b))
        return ref.seed_window(b, e0)[1]

    a = np.abs(blocks[np.arange(n), j]).max(-1)
    lo, hi = a, (a * F32(1.02)).astype(F32)
    target = E4M3_NONNEG[np.minimum(np.searchsorted(E4M3_NONNEG, s_min(lo), side="right"), 126)]
    yield _bisect_rows(blocks, j, e, lo, hi, lambda v: s_min(v) >= target, ulps=3)


def family_flip(rs, method, recipe, bs):
    yield _flip_rows(rs, method, recipe, bs)


def family_flip_amax(rs, method, recipe, bs):
    yield _flip_rows(rs, method, recipe, bs, move_amax=True)


FAMILIES = {"random": family_random, "huge": family_huge, "ties": family_ties,
            "boundary": family_boundary, "e4m3-mid": family_e4m3_mid, "flip": family_flip,
            "flip-amax": family_flip_amax, "prefix": family_prefix, "grid": family_grid,
            "smin": family_smin}


def find(mut, method, recipe, bs, families, seed, budget_s=120.0, want=2):
    """Up to ``want`` rows that the mutant gets wrong in this context."""
    rs = np.random.RandomState(seed)
    t0 = time.time()
    while time.time() - t0 < budget_s:
        for fam in families:
            for rows in FAMILIES[fam](rs, method, recipe, bs):
                if len(rows) == 0:
                    continue
                hit = differing_rows(mut, method, recipe, bs, rows)
                if hit.size:
                    return rows[hit[:want]], fam
    return np.zeros((0, K), F32), None


def search(only=None, budget_s=float(os.environ.get("FIND_BUDGET_S", 120))):
    by_name = {m.name: m for m in MUTANTS}
    found = {}
    for i, (name, (contexts, families)) in enumerate(TARGETS.items()):
        if only and name not in only:
            continue
        for ctx in contexts:
            t = time.time()
            rows, fam = find(by_name[name], *ctx, families, seed=1000 + i, budget_s=budget_s)
            print(f"{name:28s} {'-'.join(map(str, ctx)):28s} {len(rows)} rows ({fam}) {time.time() - t:.1f}s",
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
    begin, end = text.index("ROWS = {"), text.index("\n}\n", text.index("ROWS = {")) + 2
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:begin] + rows_source(found) + text[end:])


if __name__ == "__main__":
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    found = search(only or None)
    if "--write" in sys.argv:
        write_module(found)
    else:
        print(rows_source(found))
