"""A catalogue of wrong NVFP4 implementations: each mutant is validation/SPEC.md with one
rule changed the way a real implementation could plausibly get it wrong, written as a
small subclass of the slow reference ``naive.SpecReference``.

tests/test_mutants.py requires that the reference passes every committed golden vector and
that every mutant fails at least one. ``python tests/mutants.py --table`` runs every
mutant over every vector and rewrites the table in validation/README.md.
"""

import os
import re
import sys
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nvfp4_np.validation import files  # noqa: E402  (the vector files' format, not arithmetic)
from naive import (CODEBOOK, E4M3_ALL, E4M3_NONNEG, F32, SPEC_RECIPES, MXReference, SpecReference,  # noqa: E402
                   _f, _floor_log2, fma32)
import fouroversix_ref  # noqa: E402
import te_4over6_ref  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(REPO, "validation", "vectors")
TABLE = os.path.join(REPO, "validation", "README.md")


@dataclass(frozen=True)
class Mutant:
    name: str
    section: str  # the SPEC.md section whose rule it breaks
    what: str
    cls: type
    recipes: tuple = None  # the recipes whose rule it breaks (None: every recipe)
    fos: str = None  # a Four Over Six mutant: the wrong rule FosReference applies (cls is then SpecReference)

    @property
    def mx(self):
        """A mutant of the MX reference (SPEC §9): it runs on the MX vectors only."""
        return issubclass(self.cls, MXReference)

    def reference(self, recipe, rounding):
        """The mutant's reference for one recipe: the unmutated one where it does not apply."""
        applies = self.recipes is None or recipe in self.recipes
        return (self.cls if applies else SpecReference)(recipe, rounding)


MUTANTS = []
#: Mutants that no committed vector catches, with the reason (tests/test_mutants.py checks
#: that they are still not caught; one that becomes caught moves to MUTANTS).
UNREACHED = []


def fos_mutant(name, section, what, fos, recipes=None):
    """Register a Four Over Six mutant: FosReference with the wrong rule ``fos`` on the 4/6
    vectors of ``recipes`` ("fouroversix", "te"; None: both)."""
    MUTANTS.append(Mutant(name, section, what, SpecReference, recipes, fos))


def mutant(name, section, what, recipes=None, unreached=None):
    """Register a subclass of SpecReference as a mutant of the ``recipes`` (None: all).
    ``unreached``: why no vector catches it (the mutant goes to UNREACHED)."""
    def register(cls):
        m = Mutant(name, section, what, cls, recipes)
        assert not m.mx or recipes is None
        if unreached is None:
            MUTANTS.append(m)
        else:
            UNREACHED.append((m, unreached))
        return cls
    return register


_SSE_WINDOW_SAFE = (
    "in the SSE search every byte outside the window loses to c0: a scale above s_max = 4 t_k* "
    "zeroes elements whose energy exceeds E0, one below s_min clips the amax by more than sqrt(E0); "
    "the window's edges, k* and noise rule 2 can change a byte only by a float32 rounding "
    "coincidence, which the search (tests/find_constructions.py) did not find. Pinned for "
    "Hessian seed mode, which uses the same window")


# ----------------------------------------------------------------------------- §1 arithmetic


@mutant("lane-sum-pairwise", "§1.1", "NumPy's pairwise sum: the 8 lanes combined as a tree "
        "((L0+L1)+(L2+L3))+((L4+L5)+(L6+L7)) instead of left to right")
class LaneSumPairwise(SpecReference):
    def lane_sum(self, v):
        v = _f(v)
        lanes = [v[..., i::8][..., 0] for i in range(8)]
        for i in range(8):
            for j in range(1, v.shape[-1] // 8):
                lanes[i] = _f(lanes[i] + v[..., i + 8 * j])
        L = lanes
        return _f(_f(_f(L[0] + L[1]) + _f(L[2] + L[3])) + _f(_f(L[4] + L[5]) + _f(L[6] + L[7])))


@mutant("lane-sum-sequential", "§1.1", "a plain left-to-right float32 sum of the block")
class LaneSumSequential(SpecReference):
    def lane_sum(self, v):
        v = _f(v)
        acc = v[..., 0]
        for i in range(1, v.shape[-1]):
            acc = _f(acc + v[..., i])
        return acc


@mutant("residual-fma", "§1.1", "the residual x - q*s contracted into one fused multiply-add "
        "(nvcc's default --fmad=true)")
class ResidualFma(SpecReference):
    def residual(self, x, q, c):
        s = self.effective_scale(self.dec(c))[:, None]
        return fma32(-q, np.broadcast_to(s, q.shape), x)


@mutant("matvec-fma", "§4.3", "the k-order matrix-vector product with fused multiply-adds "
        "(as BLAS and cuBLAS kernels use them) instead of separate multiply and add")
class MatvecFma(SpecReference):
    def matvec(self, M, v):
        M, v = _f(M), _f(v)
        out = _f(M[:, :, 0] * v[:, None, 0])
        for k in range(1, v.shape[1]):
            out = fma32(M[:, :, k], np.broadcast_to(v[:, None, k], out.shape), out)
        return out


@mutant("matvec-float64", "§4.3", "the matrix-vector product accumulated in float64 and rounded "
        "once (a more accurate dot product)")
class MatvecFloat64(SpecReference):
    def matvec(self, M, v):
        acc = np.zeros(v.shape, np.float64)
        for k in range(v.shape[1]):
            acc = acc + _f(M)[:, :, k].astype(np.float64) * _f(v)[:, None, k].astype(np.float64)
        return acc.astype(F32)


# ----------------------------------------------------------------------------- §2 formats


@mutant("e4m3-saturate-nan", "§2.3", "E4M3 cast of v > 464 gives NaN (0x7F, ml_dtypes and torch "
        "before 2.12) instead of 448")
class E4m3SaturateNan(SpecReference):
    def e4m3(self, v):
        c = super().e4m3(v)
        return np.where(_f(v) > 464, np.uint8(0x7F), c).astype(np.uint8)


@mutant("e4m3-ties-away", "§2.3", "E4M3 cast with ties away from zero (C roundf) instead of to "
        "even")
class E4m3TiesAway(SpecReference):
    def e4m3(self, v):
        c = super().e4m3(v)
        v = _f(v)
        up = np.minimum(c.astype(np.int64) + 1, 126)
        mid = (E4M3_NONNEG[np.minimum(c, 126)].astype(np.float64) + E4M3_NONNEG[up]) / 2
        tie = (c < 126) & (v.astype(np.float64) == mid)
        return np.where(tie, up, c).astype(np.uint8)


class TiesSwapped(SpecReference):
    def tie_rule(self):
        return "rne" if self.rounding == "seed" else "seed"


for _recipe in SPEC_RECIPES:  # one mutant per recipe: its own tie rule the other way
    mutant(f"ties-{_recipe}", "§2.4", f"the {_recipe} recipe's E2M1 ties rounded the other way "
           f"({'to even' if _recipe == 'seed' else 'toward zero'})", recipes=(_recipe,))(TiesSwapped)


@mutant("negative-zero-code", "§2.5", "x = -0.0 gets code 0x8 (the float's sign bit) in every "
        "recipe, not only torchao")
class NegativeZeroCode(SpecReference):
    def signed(self, x, m):
        q = super().signed(x, m)
        return np.where((_f(x) == 0) & np.signbit(x), -_f(m), q).astype(F32)


@mutant("torchao-sign-rule", "§2.5", "torchao with the x<0 sign rule: x = -0.0 gets code 0x0",
        recipes=("torchao",))
class TorchaoSignRule(SpecReference):
    def signed(self, x, m):
        x, m = _f(x), _f(m)
        return np.where(x < 0, -m, np.where(x > 0, m, F32(0.0))).astype(F32)


@mutant("zero-scale-quants", "§3.3", "a block whose scale byte is 0 gets quants 0 (y = 0 by a "
        "guarded division) instead of the saturated +-6 of |x|/0 = inf")
class ZeroScaleQuants(SpecReference):
    def scaled_magnitude(self, ax, sf):
        y = super().scaled_magnitude(ax, sf)
        return np.where(np.broadcast_to(_f(sf) == 0, y.shape), F32(0.0), y).astype(F32)


@mutant("pack-high-nibble-first", "§5.1", "element 2i in the high nibble")
class PackHighFirst(SpecReference):
    def pack(self, codes):
        return ((codes[:, 0::2] << 4) | codes[:, 1::2]).astype(np.uint8)


@mutant("swizzle-tiles-column-major", "§5.3", "the 128x4 tiles ordered column-tile-major")
class SwizzleTilesColumnMajor(SpecReference):
    def swizzle(self, sb):
        self._n_mt = -(-sb.shape[0] // 128)
        return super().swizzle(sb)

    def swizzle_offset(self, m, k, n_kt):
        return ((k // 4) * self._n_mt + m // 128) * 512 + (m % 32) * 16 + ((m % 128) // 32) * 4 + k % 4


@mutant("swizzle-tile-row-major", "§5.3", "inside a tile, rows stored in order (row r at 4r) "
        "instead of row 32i + j at 16j + 4i")
class SwizzleTileRowMajor(SpecReference):
    def swizzle_offset(self, m, k, n_kt):
        return ((m // 128) * n_kt + k // 4) * 512 + (m % 128) * 4 + k % 4


@mutant("swizzle-padding-ff", "§5.3", "padding bytes 0xFF instead of 0x00")
class SwizzlePaddingFF(SpecReference):
    def pad_byte(self):
        return 0xFF


# ----------------------------------------------------------------------------- §3 recipes


@mutant("tensor-amax-signed", "§3", "the tensor amax as max(x) instead of max|x|")
class TensorAmaxSigned(SpecReference):
    def tensor_amax(self, x):
        return F32(x.max()) if x.size else F32(0.0)


@mutant("block-amax-signed", "§3", "the block amax as max(x) instead of max|x|")
class BlockAmaxSigned(SpecReference):
    def block_amax(self, x):
        return np.maximum(x.max(axis=1), F32(0.0))


@mutant("zero-tensor-rule-missing", "§3.1", "no zero-tensor rule: an all-zero tensor gives ts = 0 "
        "(modelopt, torchao) or S_enc = FLT_MAX (te)", recipes=("te", "modelopt", "torchao"))
class ZeroTensorRuleMissing(SpecReference):
    def tensor_scale(self, A):
        if F32(A) > 0:
            return super().tensor_scale(A)
        if self.recipe == "te":
            self.s_enc = np.finfo(F32).max
            return F32(F32(1.0) / self.s_enc)
        return F32(F32(A) / F32(2688.0))


@mutant("te-divide", "§3.3 te", "te divides |x| by fl(sf*ts) instead of multiplying by its "
        "rounded reciprocal (TE's historical bug class)", recipes=("te",))
class TeDivide(SpecReference):
    def scaled_magnitude(self, ax, sf):
        with np.errstate(all="ignore"):
            return _f(_f(ax) / _f(_f(sf) * self.ts))


@mutant("te-block-value-order", "§3.3 te", "te's block value as fl(fl(a/6) * S_enc) instead of "
        "fl(a * fl(S_enc * fl(1/6)))", recipes=("te",))
class TeBlockValueOrder(SpecReference):
    def block_value(self, a):
        return _f(_f(_f(a) / F32(6.0)) * self.s_enc)


@mutant("te-reciprocal-uncapped", "§3.3 te", "te's element factor fl(1/fl(sf*ts)) not capped at "
        "FLT_MAX (inf for a zero scale byte)", recipes=("te",))
class TeReciprocalUncapped(SpecReference):
    def scaled_magnitude(self, ax, sf):
        with np.errstate(all="ignore"):
            return _f(_f(ax) * _f(F32(1.0) / _f(_f(sf) * self.ts)))


@mutant("te-encode-scale-uncapped", "§3.3 te", "te's S_enc = fl(2688/A) not capped at FLT_MAX "
        "(inf for a tiny tensor)", recipes=("te",))
class TeEncodeUncapped(SpecReference):
    def tensor_scale(self, A):
        ts = super().tensor_scale(A)
        if F32(A) > 0:
            with np.errstate(all="ignore"):
                self.s_enc = F32(F32(2688.0) / F32(A))
                ts = F32(F32(1.0) / self.s_enc)
        return ts


@mutant("modelopt-zero-value-rule", "§3.3 modelopt", "modelopt without v == 0 -> 1.0: a zero "
        "block gets the floor's byte 0x01 instead of 0x38", recipes=("modelopt",))
class ModeloptZeroValue(SpecReference):
    def value_rules(self, v):
        v = _f(v)
        return np.where(v < F32(2.0**-9), F32(2.0**-9), v).astype(F32)


@mutant("modelopt-no-floor", "§3.3 modelopt", "modelopt without the 2^-9 floor of the block "
        "value", recipes=("modelopt",))
class ModeloptNoFloor(SpecReference):
    def value_rules(self, v):
        return np.where(_f(v) == 0, F32(1.0), _f(v)).astype(F32)


@mutant("modelopt-element-multiply", "§3.3 modelopt", "modelopt multiplies |x| by fl(1/d) "
        "instead of dividing by d", recipes=("modelopt",))
class ModeloptMultiply(SpecReference):
    def scaled_magnitude(self, ax, sf):
        with np.errstate(all="ignore"):
            return _f(_f(ax) * _f(F32(1.0) / _f(_f(sf) * self.ts)))


@mutant("torchao-block-value-order", "§3.3 torchao", "torchao's block value as fl(a / fl(6*ts)) "
        "instead of fl(fl(a/6) / ts)", recipes=("torchao",))
class TorchaoBlockValueOrder(SpecReference):
    def block_value(self, a):
        return _f(_f(a) / _f(F32(6.0) * self.ts))


@mutant("torchao-no-floor", "§3.3 torchao", "torchao without the 2^-6 floor of the block value",
        recipes=("torchao",))
class TorchaoNoFloor(SpecReference):
    def value_rules(self, v):
        return _f(v)


@mutant("torchao-search-from-0x01", "§4.2", "torchao's searches start at byte 0x01 instead of "
        "its smallest byte 0x08", recipes=("torchao",))
class TorchaoSearchFrom1(SpecReference):
    def min_byte(self):
        return 1


@mutant("torchao-reciprocal-uncapped", "§3.3 torchao", "torchao's element factor "
        "fl(fl(1/ts)/sf) not capped at FLT_MAX", recipes=("torchao",))
class TorchaoReciprocalUncapped(SpecReference):
    def scaled_magnitude(self, ax, sf):
        with np.errstate(all="ignore"):
            return _f(_f(ax) * _f(_f(F32(1.0) / self.ts) / _f(sf)))


@mutant("modelopt-block-value-order", "§3.3 modelopt", "modelopt's block value in torchao's order "
        "fl(fl(a/6) / ts) instead of fl(a / fl(6*ts))", recipes=("modelopt",))
class ModeloptBlockValueOrder(SpecReference):
    def block_value(self, a):
        return _f(_f(_f(a) / F32(6.0)) / self.ts)


@mutant("ts-underflow-rule-missing", "§3.3, §7.3", "modelopt and torchao keep ts = fl(A/2688) = 0 "
        "for a tiny nonzero A instead of taking 1.0", recipes=("modelopt", "torchao"))
class TsUnderflowRuleMissing(SpecReference):
    def tensor_scale(self, A):
        if F32(A) > 0:
            return F32(F32(A) / F32(2688.0))
        return super().tensor_scale(A)


@mutant("ct-block-value-order", "§3.3 compressed-tensors", "compressed-tensors' block value as "
        "fl(fl(gs*a) / 6) instead of fl(gs * fl(a/6))", recipes=("compressed-tensors",))
class CtBlockValueOrder(SpecReference):
    def block_value(self, a):
        with np.errstate(all="ignore"):
            return _f(_f(self.ts * _f(a)) / F32(6.0))


@mutant("ct-global-scale-not-finite", "§3.3 compressed-tensors", "compressed-tensors keeps a "
        "global scale that is not finite (the zero tensor's 2688/2^-126) instead of 1.0",
        recipes=("compressed-tensors",))
class CtGlobalScaleNotFinite(SpecReference):
    def tensor_scale(self, A):
        with np.errstate(all="ignore"):
            return F32(F32(F32(1.0) / max(F32(A), F32(2.0**-126))) * F32(2688.0))


@mutant("ct-global-scale-divide", "§3.3 compressed-tensors", "compressed-tensors' global scale "
        "as fl(2688/A) instead of fl(fl(1/A) * 2688)", recipes=("compressed-tensors",))
class CtGlobalScaleDivide(SpecReference):
    def tensor_scale(self, A):
        gs = super().tensor_scale(A)
        if gs != 1:
            gs = F32(F32(2688.0) / max(F32(A), F32(2.0**-126)))
        return gs


@mutant("ct-element-multiply", "§3.3 compressed-tensors", "compressed-tensors multiplies |x| by "
        "fl(gs/sf) instead of dividing by fl(sf/gs)", recipes=("compressed-tensors",))
class CtElementMultiply(SpecReference):
    def scaled_magnitude(self, ax, sf):
        with np.errstate(all="ignore"):
            return _f(_f(ax) * _f(self.ts / _f(sf)))


@mutant("ct-zero-byte-kept", "§3.3 compressed-tensors", "compressed-tensors keeps byte 0 "
        "instead of replacing it with 0x20", recipes=("compressed-tensors",))
class CtZeroByteKept(SpecReference):
    def zero_byte(self, c):
        return c


@mutant("ct-dequant-order", "§3.3 compressed-tensors", "compressed-tensors' dequant as fl(fl(q*sf)/gs) instead of "
        "fl(q * fl(sf/gs))", recipes=("compressed-tensors",))
class CtDequantOrder(SpecReference):
    def quants(self, x, c):
        q, _ = super().quants(x, c)
        with np.errstate(all="ignore"):
            return q, _f(_f(q * self.dec(c)[:, None]) / self.ts)


# ----------------------------------------------------------------------------- §4 methods


@mutant("noise-rule-1-missing", "§4.2, §4.3", "the seed search and Hessian seed mode without "
        "'En > E0 or keep c0'")
class NoiseRule1(SpecReference):
    def seed_window(self, x, e0):
        searching, s_min, s_max = super().seed_window(x, e0)
        n = x.shape[1]
        t = np.sort(np.abs(x), axis=1)
        k_star = (self.prefix_sums(t) <= e0[:, None]).sum(axis=1)
        return searching | (k_star < n), s_min, s_max


@mutant("noise-rule-2-missing", "§4.2, §4.3", "the seed search and Hessian seed mode without "
        "'k* = n: keep c0' (s_max from the largest element)")
class NoiseRule2(SpecReference):
    def seed_window(self, x, e0):
        searching, s_min, s_max = super().seed_window(x, e0)
        energy = self.lane_sum(_f(x * x))
        return energy > e0, s_min, s_max


@mutant("prefix-sums-float32", "§4.2", "the prefix sums of §4.2 step 4 accumulated in float32")
class PrefixFloat32(SpecReference):
    def prefix_sums(self, t):
        return np.cumsum(_f(t * t), axis=-1, dtype=F32)


@mutant("window-lower-exclusive", "§4.2", "the SSE search window's lower bound exclusive: "
        "s_min < dec[k]", unreached=_SSE_WINDOW_SAFE)
class WindowLowerExclusive(SpecReference):
    def in_window(self, d, s_min, s_max):
        return (s_min < d) & (d <= s_max)


@mutant("window-upper-exclusive", "§4.2", "the SSE search window's upper bound exclusive: "
        "dec[k] < s_max", unreached=_SSE_WINDOW_SAFE)
class WindowUpperExclusive(SpecReference):
    def in_window(self, d, s_min, s_max):
        return (s_min <= d) & (d < s_max)


@mutant("hessian-window-first-exclusive", "§4.3", "the Hessian window's first(u) as the smallest "
        "byte with dec[k] > u (its first byte dropped when dec[k] == s_min)")
class HessianWindowFirstExclusive(SpecReference):
    def first_byte(self, u):
        return np.searchsorted(E4M3_NONNEG[1:], u, side="right") + 1


@mutant("hessian-window-last-exclusive", "§4.3", "the Hessian window's last(u) as the largest "
        "byte with dec[k] < u (its last byte dropped when dec[k] == s_max)")
class HessianWindowLastExclusive(SpecReference):
    def last_byte(self, u):
        return np.searchsorted(E4M3_NONNEG, u, side="left") - 1


@mutant("hessian-window-always-widened", "§4.3", "the Hessian window widened by one byte each way "
        "for every recipe, also where the arithmetic is exact (seed, modelopt with ts = 1, "
        "compressed-tensors with gs = 1)")
class HessianWindowAlwaysWidened(SpecReference):
    def widen(self):
        return 1


@mutant("hessian-window-only-seed-exact", "§4.3", "only the seed recipe's Hessian window taken as "
        "exact: modelopt with ts = 1 and compressed-tensors with gs = 1 widened too")
class HessianWindowOnlySeedExact(SpecReference):
    def window_is_exact(self):
        return self.recipe == "seed"


@mutant("ties-to-largest-byte", "§4.2", "equal-error candidates: the largest byte wins (<= "
        "instead of <)")
class TiesToLargest(SpecReference):
    def better(self, e, best, k, best_c):
        return e <= best


@mutant("ties-to-smallest-byte", "§4.2", "equal-error candidates: the smallest byte wins even "
        "over the baseline c0")
class TiesToSmallest(SpecReference):
    def better(self, e, best, k, best_c):
        return (e < best) | ((e == best) & (k < best_c))


@mutant("hessian-no-fast-fail", "§4.3", "Hessian seed mode without the fast-fail "
        "Cl(k) < fl(best * 10)")
class HessianNoFastFail(SpecReference):
    def fast_fail_passes(self, cl, best):
        return np.ones(cl.shape, bool)


@mutant("hessian-window-not-widened", "§4.3", "Hessian seed mode's window not widened by one "
        "byte each way for the inexact recipes")
class HessianWindowNotWidened(SpecReference):
    def widen(self):
        return 0


@mutant("hessian-start-sse", "§4.3", "Hessian seed mode starts from (c0, E0), the SSE, instead "
        "of (c0, EH(c0))")
class HessianStartSse(SpecReference):
    def hessian_start_error(self, x, c0, H, e0):
        return e0.copy()


@mutant("hessian-exact-float32", "§4.3", "Hessian exact mode evaluated in float32 instead of "
        "float64")
class HessianExactFloat32(SpecReference):
    def hessian_error64(self, x, dq, H64):
        r = _f(x - dq)
        H = _f(H64)
        acc = np.zeros_like(r)
        for k in range(r.shape[1]):
            acc = _f(acc + _f(H[:, :, k] * r[:, None, k]))
        tot = np.zeros(len(r), F32)
        for a in range(r.shape[1]):
            tot = _f(tot + _f(r[:, a] * acc[:, a]))
        return tot.astype(np.float64)


@mutant("admm-best-ties-to-admm", "§4.4", "ADMM best mode takes the ADMM result on equal error "
        "(<= instead of <)")
class AdmmBestTies(SpecReference):
    def admm_takes(self, e_admm, e_start):
        return e_admm <= e_start


@mutant("admm-returns-quants-scale", "§4.4", "ADMM returns the scale its quants were computed at "
        "instead of the last refit when the rounds run out")
class AdmmQuantsScale(SpecReference):
    def admm_result_byte(self, c_last_refit, c_of_quants):
        return c_of_quants


@mutant("admm-best-starts-at-c0", "§4.4", "ADMM best mode starts from the naive byte instead of "
        "the exact Hessian search's")
class AdmmBestStartsAtC0(SpecReference):
    def admm_start(self, x, mode, H32):
        return self.naive(x)


@mutant("admm-dual-update-order", "§4.4", "ADMM's dual update as fl(u + fl(qv - z)) (the textbook "
        "u + (q - z)) instead of fl(fl(u + qv) - z)",
        unreached="with the diagonal H of the ADMM vectors (whose operators are exact on every "
        "machine) the two orders give different u in 18 of 368,320 updates of a random batch, "
        "and no searched input turned one into another quant; a non-diagonal H would, but its "
        "LAPACK operators are not reproducible across machines")
class AdmmDualUpdateOrder(SpecReference):
    def dual_update(self, u, qv, z):
        return _f(u + _f(qv - z))


@mutant("admm-refit-unclamped", "§4.4", "the ADMM refit without the recipe's floor and zero byte")
class AdmmRefitUnclamped(SpecReference):
    def refit_byte(self, c_eff):
        return self.e4m3(np.maximum(self.refit_value(c_eff), F32(1e-12)))


@mutant("admm-weights-divide", "§4.4", "ADMM's scaled weights as fl(x / s) for te and torchao "
        "instead of x times their rounded reciprocal", recipes=("te", "torchao"))
class AdmmWeightsDivide(SpecReference):
    def admm_weights(self, x, c):
        with np.errstate(all="ignore"):
            return _f(_f(x) / self.effective_scale(self.dec(c))[:, None])


@mutant("gptq-scales-from-input", "§4.6", "GPTQ's block scales chosen from the input weights, not from the "
        "weights as the earlier columns' errors left them")
class GptqScalesFromInput(SpecReference):
    def gptq_scale_values(self, current, original):
        return original


@mutant("gptq-error-undivided", "§4.6", "GPTQ's propagated error without the division by U_jj")
class GptqErrorUndivided(SpecReference):
    def gptq_error(self, v, dq, ujj):
        return _f(v - dq)


@mutant("gptq-update-float64", "§4.6", "GPTQ's update w - err * U_jj' in float64, rounded once")
class GptqUpdateFloat64(SpecReference):
    def gptq_update(self, w, err, u):
        return _f(w.astype(np.float64) - err.astype(np.float64)[:, None] * u.astype(np.float64)[None, :])


@mutant("gptq-update-fma", "§4.6", "GPTQ's update as one fused multiply-add")
class GptqUpdateFma(SpecReference):
    def gptq_update(self, w, err, u):
        return fma32(np.broadcast_to(-err[:, None], w.shape), np.broadcast_to(u[None, :], w.shape), w)


# ----------------------------------------------------------------------------- §4.7, §4.8


fos_mutant("4over6-fouroversix-sum-sequential", "§4.7", "fouroversix's error summed left to right "
           "instead of in torch CPU's lane order", "sequential_sum", ("fouroversix",))
fos_mutant("4over6-fouroversix-clamp-6", "§4.7", "fouroversix's E2M1 rounding clamped at 6 (TE's rule): "
           "no value 8, code 0x7 instead of 0x8", "clamp_6", ("fouroversix",))
fos_mutant("4over6-ties-keep-4", "§4.7", "the 4 candidate wins on equal error (err4 <= err6) instead "
           "of 6", "ties_keep_4")
fos_mutant("4over6-fouroversix-4-scale-from-bmax", "§4.7", "the 4 candidate's scale E4M3(fl(fl(bmax/4) * c)) "
           "instead of E4M3(fl(base * 1.5))", "bmax_over_4", ("fouroversix",))
fos_mutant("4over6-k-2688", "§4.7", "the tensor constant K = 6 * 448 = 2688 instead of 6 * 256 = 1536 "
           "(scale_max 448 for 256)", "k2688")
fos_mutant("4over6-tensor-scale-encode", "§4.7", "the stored tensor scale as the encode form c = fl(K/amax) "
           "instead of fl(1/c)", "ts_encode")
fos_mutant("4over6-te-torch-sum", "§4.7, §7.1", "TE's error summed in torch CPU's lane order (fouroversix's) "
           "instead of sequentially", "torch_sum", ("te",))
fos_mutant("4over6-te-no-clamp", "§4.7, §7.1", "TE without the clamp at 6: [7, 9) gives 8, code 0x8 "
           "(fouroversix's rule)", "no_clamp", ("te",))
fos_mutant("4over6-te-2d-row-major", "§4.7, §7.1", "TE's 16x16 tile error summed sequentially over its 256 "
           "terms, row-major, instead of row sums reduced by the warp-shuffle tree", "rowmajor_2d", ("te",))
fos_mutant("4over6-te-2d-pairwise-rows", "§4.7", "TE's 16x16 tile row sums added pairwise "
           "((r0 + r1) + (r2 + r3)) ... instead of the shuffle tree (r[i] += r[i + 8], + 4, + 2, + 1)",
           "pairwise_rows", ("te",))
fos_mutant("4over6-te-zero-sign-reference", "§4.7, §7.1", "TE with reference_nvfp4.py's sign of a -0.0 "
           "product (code 0x0) instead of the kernel's (0x8)", "zero_sign_reference", ("te",))
fos_mutant("4over6-te-error-through-s-dec", "§4.7", "TE's error in the input domain through S_dec "
           "(fl(fl(q * sf) * S_dec)) instead of fl(fl(fl(q * sf) * amax) / K)", "reciprocal_amax", ("te",))
fos_mutant("4over6-te-inv6-scale", "§4.7", "TE's 4/6 base scale as bmax * fl(S_enc * fl(1/6)) (TE's plain "
           "NVFP4 order) instead of fl(fl(bmax / 6) * S_enc)", "inv6_scale", ("te",))
fos_mutant("4over6-hessian-by-rule", "§4.7", "the Hessian choice made by the recipe's default rule "
           "(H ignored)", "hessian_by_rule")


@mutant("tile-amax-first-row", "§4.8", "the 16x16 tile amax taken over the tile's first row only")
class TileAmaxFirstRow(SpecReference):
    def tile_amax(self, tiles):
        return np.abs(tiles[:, 0]).max(axis=-1).astype(F32)


@mutant("tile-ties-to-largest-byte", "§4.8", "the 16x16 tile search: equal-error candidates, the largest "
        "byte wins (<= instead of <)")
class TileTiesToLargest(SpecReference):
    def tile_better(self, e, best):
        return e <= best


# ----------------------------------------------------------------------------- §9 the MX formats


@mutant("mx-floor-as-ceil", "§9.2", "MX floor's E8M0 byte computed as ceil's (one higher unless amax is a power of two)")
class MxFloorAsCeil(MXReference):
    def scale_byte(self, amax, mode):
        return super().scale_byte(amax, "ceil" if mode == "floor" else mode)


@mutant("mx-floor-as-rceil", "§9.2", "MX floor's E8M0 byte computed as rceil's (2^ceil(log2(amax / largest)), "
        "NVIDIA's recipe) instead of OCP's 2^(floor(log2 amax) - emax)")
class MxFloorAsRceil(MXReference):
    def scale_byte(self, amax, mode):
        return super().scale_byte(amax, "rceil" if mode == "floor" else mode)


@mutant("mx-rceil-float32-log2", "§9.2", "MX rceil's byte as the ceiling of a float32 log2 (torchao's CPU "
        "fallback, rceil_cpu) instead of the exact ceiling (cvt.rp): one lower just above large powers of two")
class MxRceilFloat32Log2(MXReference):
    def scale_byte(self, amax, mode):
        return super().scale_byte(amax, "rceil_cpu" if mode == "rceil" else mode)


@mutant("mx-e8m0-unclamped", "§9.2", "MX floor's unbiased exponent not clamped to [-127, 127]: below 2^-127 the "
        "byte wraps (uint8 of e + 127)")
class MxE8m0Unclamped(MXReference):
    def scale_byte(self, amax, mode):
        if mode != "floor" or amax == 0:
            return super().scale_byte(amax, mode)
        e = _floor_log2(amax) if amax >= 2.0**-126 else -127
        return (e - self.emax + 127) % 256


@mutant("mx-byte0-divides-by-2^-127", "§9.3", "MX floor/ceil/even: a block of byte 0 divided by its scale "
        "2^-127 instead of torchao's scale clamped to 2^-126")
class MxByte0Unclamped(MXReference):
    def multiplier(self, byte, mode):
        return super().multiplier(byte, mode) if mode.startswith("rceil") else 2.0 ** (127 - byte)


@mutant("mx-rceil-byte0-2^127", "§9.3", "MX rceil: a block of byte 0 multiplied by 2^127 (the byte's reciprocal) "
        "instead of torchao's 1")
class MxRceilByte0(MXReference):
    def multiplier(self, byte, mode):
        return 2.0 ** (127 - byte) if mode.startswith("rceil") else super().multiplier(byte, mode)


@mutant("mx-e4m3-overflow-nan", "§9.3", "MXFP8 E4M3 elements cast without the clamp to +-448: above 464 they "
        "become NaN (ml_dtypes' cast, torch before 2.12) instead of saturating")
class MxE4m3OverflowNan(MXReference):
    def cast(self, y):
        if self.fmt != "mxfp8_e4m3":
            return super().cast(y)
        return np.asarray(y, F32).astype(self.dtype).view(np.uint8)


@mutant("mx-e5m2-overflow-inf", "§9.3", "MXFP8 E5M2 elements cast without the clamp to +-57344: from 61440 on "
        "they become Inf instead of saturating")
class MxE5m2OverflowInf(MXReference):
    def cast(self, y):
        if self.fmt != "mxfp8_e5m2":
            return super().cast(y)
        return np.asarray(y, F32).astype(self.dtype).view(np.uint8)


@mutant("mx-element-ties-away", "§9.3", "MX elements rounded to nearest with ties away from zero (C roundf) "
        "instead of ties to even")
class MxTiesAway(MXReference):
    def cast(self, y):
        y = np.asarray(y, F32)
        c = super().cast(y)
        bits = {"mxfp4": 4, "mxfp6_e2m3": 6, "mxfp6_e3m2": 6}.get(self.fmt, 8)
        mag_mask = np.uint8((1 << (bits - 1)) - 1)
        sign = c & np.uint8(1 << (bits - 1))
        mag = c & mag_mask
        up = np.minimum(mag + 1, mag_mask).astype(np.uint8)
        v, vu = self.values(mag), self.values(up)
        tie = (up != mag) & np.isfinite(vu) & (np.abs(y.astype(np.float64)) == (v + vu) / 2)
        return np.where(tie, up | sign, c).astype(np.uint8)


@mutant("mx-negative-zero-positive", "§9.3", "MX element sign from x < 0 instead of the sign bit: -0.0 gets the "
        "positive zero code")
class MxNegativeZero(MXReference):
    def cast(self, y):
        y = np.asarray(y, F32)
        return super().cast(np.where((y == 0), F32(0.0), y))


@mutant("mx-flush-subnormals", "§9.3", "MX elements below the element format's smallest normal flushed to zero "
        "(sign kept)")
class MxFlushSubnormals(MXReference):
    def cast(self, y):
        c = super().cast(y)
        bits = {"mxfp4": 4, "mxfp6_e2m3": 6, "mxfp6_e3m2": 6}.get(self.fmt, 8)
        sign = np.uint8(1 << (bits - 1))
        sub = ((c & (sign - 1)) >> self.mbits) == 0
        return np.where(sub, c & sign, c).astype(np.uint8)


@mutant("mx-pack-high-nibble-first", "§9.5", "MXFP4 element 2i in the high nibble")
class MxPackHighNibble(MXReference):
    def pack4(self, codes):
        return ((codes[:, 0::2] << 4) | codes[:, 1::2]).astype(np.uint8)


@mutant("mx-fp6-big-endian", "§9.5", "FP6 codes packed four in three bytes most significant bit first (code 0 in "
        "the top bits of the big-endian 24-bit word) instead of the little-endian bit stream")
class MxFp6BigEndian(MXReference):
    def pack6(self, codes):
        g = codes.reshape(codes.shape[0], -1, 4).astype(np.uint32)
        w = (g[..., 0] << 18) | (g[..., 1] << 12) | (g[..., 2] << 6) | g[..., 3]
        return np.stack([w >> 16, (w >> 8) & 0xFF, w & 0xFF], axis=-1).reshape(codes.shape[0], -1).astype(np.uint8)


@mutant("mx-search-two-bytes", "§9.4", "the MX searches try only b_hi and b_hi - 1 (the bytes next to the "
        "unclipped one) instead of every byte their bounds leave")
class MxSearchTwoBytes(MXReference):
    def search_order(self, b_hi):
        return [b_hi] + ([b_hi - 1] if b_hi > 0 else [])


@mutant("mx-search-ties-to-lower-byte", "§9.4", "the MX searches' equal-error candidates: the lower byte wins "
        "instead of the first in the order b_hi, upward, downward")
class MxSearchTiesLower(MXReference):
    def better(self, err, best, b, best_b):
        return err < best or (err == best and b < best_b)


@mutant("mx-hessian-all-bytes", "§9.4", "the MX Hessian search takes the least error over all 255 bytes instead "
        "of over the bytes its traversal visits (they differ where r^T H r is flat to rounding)")
class MxHessianAllBytes(MXReference):
    def visit_order(self, b_hi, errs, nonzero, unsaturated):
        return list(range(255))


@mutant("mx-hessian-stop-one-saturated", "§9.4", "the MX Hessian search stops at the first saturated byte whose "
        "error does not fall, without the byte above it saturating too",
        unreached="it differs only where the error rises at the first byte that saturates every element and falls "
        "again further down; 6000 blocks (random signs and magnitudes over 16 binades, rank-1, rank-4, all-ones "
        "and diagonal H, mxfp4 and mxfp8_e4m3) reached none")
class MxHessianStopOneSaturated(MXReference):
    def visit_order(self, b_hi, errs, nonzero, unsaturated):
        out = [b_hi]
        for b in range(b_hi + 1, 255):
            out.append(b)
            if nonzero[b] == 0:
                break
        prev_err = np.inf
        for b in range(b_hi - 1, -1, -1):
            out.append(b)
            if unsaturated[b] == 0 and not errs[b] < prev_err:
                break
            prev_err = errs[b]
        return out


@mutant("mx-search-overflow-finite", "§9.4", "the MX searches count a byte whose decoded block overflows float32 "
        "like any other (its error computed in float64, finite)")
class MxSearchOverflowFinite(MXReference):
    overflow_is_infinite = False


@mutant("mx-sse-float32", "§9.4", "the MX search's squared error summed in float32 instead of float64")
class MxSseFloat32(MXReference):
    def sse(self, res):
        r = res.astype(F32)
        acc = np.zeros(res.shape[:-1], F32)
        for i in range(res.shape[-1]):
            acc = (acc + r[..., i] * r[..., i]).astype(F32)
        return acc.astype(np.float64)


#: Rules with no mutant, because changing them cannot change a byte (SPEC says why).
EQUIVALENT = {
    "MX even's ties to even instead of up": "§9.2: the byte changes only by a carry into the exponent, which needs "
    "every kept mantissa bit 1: the last kept bit is then odd, and ties to even round up too",
    "the seed recipe's floor fl(1e-12)": "§3.3 seed step 3: E4M3 of it is 0, the byte it would replace",
    "compressed-tensors' max(A, 2^-126)": "§3.3 compressed-tensors step 1: below 2^-126 the global "
    "scale 2688/A is not finite either way, and the not-finite rule gives 1.0",
    "the seed search's per-candidate fast-fail": "§4.2: monotone, proved never to change the result",
    "ADMM's global vs per-block convergence test": "§4.4 step 5: an unchanged block repeats the same computation",
}


# ----------------------------------------------------------------------------- running them


def load_vector(folder):
    """(manifest, arrays) of a vector folder, read from its .bin files."""
    man = files.load_json(os.path.join(folder, "manifest.json"))
    return man, {name: files.load_array(folder, name, e) for name, e in man["arrays"].items()}


class FosReference:
    """validation/SPEC.md §4.7, Four Over Six, from the independent ports of the two
    references (tests/fouroversix_ref.py, tests/te_4over6_ref.py; no nvfp4_np code):
    the five outputs of a 4/6 vector. ``mutant``: one rule switched to a wrong one (a
    port's _mutant, or one of the rules written here); ``layout``: the SpecReference
    whose §5 packing and swizzle the outputs use (a layout mutant's)."""

    #: The mutants written here rather than in a port.
    OWN = ("k2688", "ts_encode", "zero_sign_reference", "hessian_by_rule")

    def __init__(self, recipe, mutant=None, layout=None):
        assert recipe in ("fouroversix", "te")
        self.recipe, self.mutant = recipe, mutant
        self.layout = layout or SpecReference("te")

    def outputs(self, man, arrays):
        W = np.asarray(arrays["input"], F32)
        M, K = W.shape
        rule, smax = man["rule"], man["scale_max"]
        two_d = man["block_shape"] is not None
        H = arrays.get("H") if man["method"].startswith("4over6-hessian") else None
        if self.mutant == "hessian_by_rule":
            H = None
        if self.mutant == "k2688":
            smax = 448
        port = None if self.mutant in self.OWN else self.mutant
        amax = F32(np.abs(W).max())
        if self.recipe == "fouroversix":
            rule = rule or "mse"  # (the Hessian choice: the 4/6 constants)
            packed, s, _ = fouroversix_ref.quantize_to_fp4(W, rule, two_d, scale_max=smax, H=H, _mutant=port)
            sb = s.view(np.uint8)
            k_const = F32((4 if rule == "static_4" and H is None else 6) * smax)
            c = F32(k_const / amax)
            ts = F32(F32(1.0) / c) if amax > 0 else F32(1.0)
        else:
            zero_sign = "reference" if self.mutant == "zero_sign_reference" else "kernel"
            packed, sb, ts = te_4over6_ref.quantize_te_4over6(W, rule or "mae", smax, two_d, zero_sign=zero_sign,
                                                              _mutant=port, H=H)
            c = F32(F32(1.0) / ts)
        if self.mutant == "ts_encode":
            ts = c
        codes = np.empty((M, K), np.uint8)
        codes[:, 0::2], codes[:, 1::2] = packed & 15, packed >> 4
        q = np.where(codes & 8, -CODEBOOK[codes & 7], CODEBOOK[codes & 7]).astype(F32)
        s_eff = _f(E4M3_ALL[sb.astype(np.int64)] * ts)  # (M, K/16)
        dq = _f(q.reshape(M, K // 16, 16) * s_eff[:, :, None]).reshape(M, K)
        return {"codes": self.layout.pack(codes), "scale_bytes": sb.astype(np.uint8),
                "scale_bytes_swizzled": self.layout.swizzle(sb), "tensor_scale": np.array([ts], F32),
                "dequant": dq}


def reference_for(mut, man):
    """The mutant's reference for one vector (FosReference for the 4/6 vectors, MXReference
    for the MX vectors)."""
    if man.get("fmt"):
        return (mut.cls if getattr(mut, "mx", False) else MXReference)(man["fmt"])
    if man["method"].startswith("4over6"):
        recipes = getattr(mut, "recipes", None)
        applies = recipes is None or man["recipe"] in recipes
        return FosReference(man["recipe"], getattr(mut, "fos", None) if applies else None, mut.reference("te", "rne"))
    return mut.reference(man["recipe"], man["rounding"])


def run_reference(ref, man, arrays):
    """The reference's five outputs for one vector."""
    if isinstance(ref, FosReference):
        return ref.outputs(man, arrays)
    if isinstance(ref, MXReference):
        return ref.outputs(arrays["input"], man["method"], man["scale_rounding"], H=arrays.get("H"))
    method = man["method"].split("-")[0]
    return ref.outputs(arrays["input"], man["block_size"], method, man["mode"], H=arrays.get("H"),
                       Hn=arrays.get("admm_Hn"), Minv=arrays.get("admm_Minv"), **man.get("admm", {}),
                       gptq_groups=arrays.get("gptq_groups"), gptq_U=arrays.get("gptq_U"),
                       block_shape=man.get("block_shape"))


def differing_outputs(ref, man, arrays):
    """Names of the outputs whose bytes differ from the vector's expected ones."""
    with np.errstate(all="ignore"):
        out = run_reference(ref, man, arrays)
    return [n for n in files.output_names(man)
            if out[n].shape != arrays[n].shape or out[n].tobytes() != np.ascontiguousarray(arrays[n]).tobytes()]


def vector_names(vectors=VECTORS):
    return [e["name"] for e in files.load_json(os.path.join(vectors, "index.json"))["vectors"]]


def catches(mut, names=None, vectors=VECTORS, first_only=False):
    """The vectors (of ``names``, in that order) that the mutant fails."""
    caught = []
    kinds = {e["name"]: bool(e.get("fmt")) for e in files.load_json(os.path.join(vectors, "index.json"))["vectors"]}
    for name in names or vector_names(vectors):
        if kinds[name] != getattr(mut, "mx", False) and mut.name != "reference":
            continue  # an NVFP4 mutant is the reference on an MX vector, and the other way round
        man, arrays = load_vector(os.path.join(vectors, name))
        if differing_outputs(reference_for(mut, man), man, arrays):
            caught.append(name)
            if first_only:
                break
    return caught


# ----------------------------------------------------------------------------- the table

BEGIN, END = "<!-- mutation table: begin -->", "<!-- mutation table: end -->"
SHOWN = 3


def table_rows(vectors=VECTORS):
    """(mutant, caught-by vector names) for every mutant, over every vector."""
    names = vector_names(vectors)
    return [(m, catches(m, names, vectors)) for m in MUTANTS]


def table_text(rows, n_vectors):
    n_caught = sum(bool(c) for _, c in rows)
    lines = [BEGIN, "",
             f"Mutation score: **{n_caught} of {len(rows)}** mutants caught by the {n_vectors} vectors.", "",
             "| mutant | SPEC | the wrong rule | vectors that catch it | first of them |",
             "|---|---|---|---|---|"]
    for m, caught in rows:
        first = ", ".join(f"`{c}`" for c in caught[:SHOWN]) + (" ..." if len(caught) > SHOWN else "")
        what = m.what.replace("|", "\\|")  # a table cell
        lines.append(f"| `{m.name}` | {m.section} | {what} | {len(caught)} | {first or '**none**'} |")
    if UNREACHED:
        lines += ["", f"Not caught: {len(UNREACHED)} mutants that no vector catches, and why "
                  "(tests/test_mutants.py checks that they are still not caught).", "",
                  "| mutant | SPEC | the wrong rule | why no vector catches it |", "|---|---|---|---|"]
        for m, why in UNREACHED:
            lines.append(f"| `{m.name}` | {m.section} | {m.what.replace('|', chr(92) + '|')} | {why} |")
    lines += ["", END]
    return "\n".join(lines)


def committed_table():
    """{mutant name: (count, [first vectors])} as written in validation/README.md."""
    with open(TABLE, encoding="utf-8") as f:
        text = f.read()
    body = text[text.index(BEGIN):text.index(END)]
    body = body.split("\nNot caught:")[0]
    out = {}
    for line in body.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
            out[cells[0].strip("`")] = (int(cells[3]), [c.strip(" `.") for c in cells[4].split(",") if "`" in c])
    return out


def write_table(vectors=VECTORS):
    rows = table_rows(vectors)
    new = table_text(rows, len(vector_names(vectors)))
    with open(TABLE, encoding="utf-8") as f:
        text = f.read()
    text = text[:text.index(BEGIN)] + new + text[text.index(END) + len(END):]
    with open(TABLE, "w", encoding="utf-8") as f:
        f.write(text)
    return rows


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Run the mutants over golden vectors.")
    ap.add_argument("--table", action="store_true", help="rewrite the table in validation/README.md")
    ap.add_argument("--vectors", default=VECTORS, help="a folder of golden vectors (default: the committed ones)")
    args = ap.parse_args()
    if args.table:
        rows = write_table()
    else:
        rows = table_rows(args.vectors)
        for m, caught in rows:
            print(f"{m.name:32s} {len(caught):4d}  {caught[:3]}")
    missed = [m.name for m, c in rows if not c]
    print(f"{len(rows) - len(missed)} of {len(rows)} mutants caught by {len(vector_names(args.vectors))} vectors; "
          f"not caught: {missed}")
