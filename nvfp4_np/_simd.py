"""The CPU search's block in vector registers: a block's magnitudes (one lane per element)
and what the search derives from them, with no round trip through memory.

- **The scan** (exact recipes) walks the codes of a window in ascending order. From one
  code to the next the scale grows by at most 1/3 (codes >= :data:`FIRST_WALK_CODE`),
  less than the smallest ratio of two adjacent E2M1 thresholds (5 / 3.5), so an
  element's E2M1 index either stays or drops by one: it drops exactly when |x| <= the
  threshold just below it at the new scale (ties go down, as in ``_block._e2m1_cmp``).
  That threshold, and the dequant ``q * s``, are looked up per lane in the code's row of
  a table (8 entries): one lookup per element a code instead of seven comparisons.
- **The search window** sorts the magnitudes in registers (a sorting network) instead
  of ranking them and scattering them through memory, whose stores and reloads sat on
  the block's critical path.

Why intrinsics: LLVM's loop vectoriser does not turn a lookup in an 8-entry table into a
register permute (it gathers from memory or stays scalar), and a sort by rank needs
memory. So these helpers write the LLVM IR themselves, as whole-block vector operations
(plain LLVM IR, no target-specific intrinsic). Every operation is the IEEE operation of
the scalar code in ``_block`` (no fast-math flags, no contraction), in the same order,
so every result equals its scalar twin bit for bit (tests/test_optimal.py checks each).

Only CPU kernels use these (the vector type has no CUDA data model); the GPU runs the
scalar twins.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from .formats import E2M1_BOUNDARIES, E2M1_VALUES, E4M3_DECODE, E4M3_MAX_CODE

_F32 = ir.FloatType()
_F64 = ir.DoubleType()
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_LANES = 8  # the seed's float32 sums run over 8 strided lanes; also the E2M1 table size

#: Per E4M3 code k (row) and E2M1 index i (column): the dequant value q_i * s_k, and the
#: threshold below q_i at s_k (the one |x| must exceed to keep index i). Index 0 has no
#: threshold below: -s_k < 0 <= |x| never lets it drop. The products are exact (q_i and
#: the thresholds have at most 3 significant bits, the scales 4), so a row holds the
#: same float32 numbers as computing them per code, and the scan only loads it.
_CODES = np.arange(E4M3_MAX_CODE + 1)
DEQUANT_ROWS = (E4M3_DECODE[_CODES, None] * np.asarray(E2M1_VALUES, np.float32)[None, :]).astype(np.float32)
LOWER_ROWS = (E4M3_DECODE[_CODES, None] * np.concatenate([[-1.0], E2M1_BOUNDARIES]).astype(np.float32)[None, :])
LOWER_ROWS = LOWER_ROWS.astype(np.float32)
assert DEQUANT_ROWS.shape == LOWER_ROWS.shape == (E4M3_MAX_CODE + 1, _LANES)


def _first_walk_code():
    """The smallest code from which every step to the next code grows the scale by less
    than the smallest ratio of adjacent E2M1 thresholds (so an index drops by one at most)."""
    b = np.asarray(E2M1_BOUNDARIES, np.float64)
    r = (b[1:] / b[:-1]).min()
    dec = E4M3_DECODE[: E4M3_MAX_CODE + 1].astype(np.float64)
    ok = dec[2:] / dec[1:-1] < r  # ok[k - 2]: the step from code k - 1 to code k
    bad = np.flatnonzero(~ok)
    return int(bad[-1]) + 3 if bad.size else 2


#: Codes >= this one are reached by walking from the code below; smaller ones (the first
#: subnormal E4M3 steps double the scale) are counted afresh.
FIRST_WALK_CODE = _first_walk_code()
assert FIRST_WALK_CODE == 4


class _Vec(types.Type):
    """An LLVM vector of ``n`` float32 or int32 lanes (one per element of a block)."""

    def __init__(self, kind, n):
        self.kind, self.n = kind, n
        super().__init__(name=f"vec{n}x{kind}")


@register_model(_Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        lane = _F32 if fe_type.kind == "f32" else _I32
        super().__init__(dmm, fe_type, ir.VectorType(lane, fe_type.n))


def _is_vec(t, kind="f32"):
    return isinstance(t, _Vec) and t.kind == kind


def _splat(builder, v, n):
    vt = ir.VectorType(v.type, n)
    one = builder.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(_I32, n), [0] * n))


def _permute(builder, v, order):
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, len(order)), list(order)))


def _lookup(builder, table, idx):
    """``table[idx]`` per lane (idx in 0..7), written lane by lane: LLVM recognises the
    pattern as one register permute (vpermps on x86). Measured: 12% faster for the whole
    search than calling AVX2's permute on each 8 lanes, which also tied the code to x86."""
    out = ir.Constant(ir.VectorType(_F32, idx.type.count), ir.Undefined)
    for i in range(idx.type.count):
        lane = builder.extract_element(idx, ir.Constant(_I32, i))
        out = builder.insert_element(out, builder.extract_element(table, lane), ir.Constant(_I32, i))
    return out


def _seed_sum(builder, v):
    """Sum of the lanes of ``v`` in torch's float32 order (formats.seed_sum_inplace): 8
    strided lanes (lane i: v[i] + v[i+8] (+ v[i+16] + v[i+24]), left to right), then
    the 8 lanes left to right."""
    lanes = _permute(builder, v, range(_LANES))
    for g in range(_LANES, v.type.count, _LANES):
        lanes = builder.fadd(lanes, _permute(builder, v, range(g, g + _LANES)))
    total = builder.extract_element(lanes, ir.Constant(_I32, 0))
    for i in range(1, _LANES):
        total = builder.fadd(total, builder.extract_element(lanes, ir.Constant(_I32, i)))
    return total


def _is_rows(t):
    return isinstance(t, types.Array) and t.dtype == types.float32 and t.ndim == 2 and t.layout == "C"


def _load_row(context, builder, sig, args, n):
    """The first ``n`` floats of row ``args[1]`` of the array ``args[0]`` (a C-contiguous
    2-d float32 array: ``sig.args[0]``) as one vector."""
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    row = context.cast(builder, args[1], sig.args[1], types.intp)
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [row, ir.Constant(row.type, 0)])
    return builder.load(builder.bitcast(ptr, ir.VectorType(_F32, n).as_pointer()), align=4)


@intrinsic
def block_magnitudes(typingctx, x, b, groups):
    """|x[b, :]| of a C-contiguous (N, bs) float32 array as one vector; ``groups`` is a
    tuple of bs / 8 items (its length, known when compiling, sets the vector's size)."""
    if not (isinstance(groups, types.UniTuple) and groups.count in (2, 4)):
        raise TypeError("groups: a tuple of 2 or 4 items (blocks of 16 or 32)")
    if not _is_rows(x):
        raise TypeError("x: a C-contiguous 2-d float32 array")
    vt = _Vec("f32", _LANES * groups.count)

    def codegen(context, builder, sig, args):
        v = _load_row(context, builder, sig, args, vt.n)
        vi = ir.VectorType(_I32, vt.n)
        bits = builder.and_(builder.bitcast(v, vi), ir.Constant(vi, [0x7FFFFFFF] * vt.n))
        return builder.bitcast(bits, v.type)

    return vt(x, b, groups), codegen


@intrinsic
def lanes(typingctx, v):
    """The number of lanes of a vector (a constant)."""
    if not isinstance(v, _Vec):
        return None

    def codegen(context, builder, sig, args):
        return ir.Constant(_I64, sig.args[0].n)

    return types.int64(v), codegen


@intrinsic
def lane_at(typingctx, v, k):
    """Lane ``k`` of a float32 vector (0 <= k < its size)."""
    if not (_is_vec(v) and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], builder.trunc(args[1], _I32))

    return types.float32(v, k), codegen


@intrinsic
def count_above(typingctx, a, s):
    """Each magnitude's E2M1 index at scale ``s``: how many thresholds b * s it exceeds."""
    if not (_is_vec(a) and s == types.float32):
        return None

    def codegen(context, builder, sig, args):
        mag, scale = args
        vi = ir.VectorType(_I32, mag.type.count)
        idx = ir.Constant(vi, [0] * mag.type.count)
        for bound in E2M1_BOUNDARIES:
            t = builder.fmul(ir.Constant(_F32, float(bound)), scale)
            above = builder.fcmp_ordered(">", mag, _splat(builder, t, mag.type.count))
            idx = builder.sub(idx, builder.sext(above, vi))
        return idx

    return _Vec("i32", a.n)(a, s), codegen


@intrinsic
def table_row(typingctx, rows, k):
    """Row ``k`` of DEQUANT_ROWS or LOWER_ROWS (a C-contiguous (codes, 8) float32 array)
    as an 8-lane vector."""
    if not (_is_rows(rows) and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        return _load_row(context, builder, sig, args, _LANES)

    return _Vec("f32", _LANES)(rows, k), codegen


@intrinsic
def walk_down(typingctx, a, idx, lower):
    """The indices at the next code from those at the code below (see the module
    docstring), given the next code's row of LOWER_ROWS: each drops by one where the
    magnitude is <= the threshold below it."""
    if not (_is_vec(a) and _is_vec(idx, "i32") and a.n == idx.n and _is_vec(lower) and lower.n == _LANES):
        return None

    def codegen(context, builder, sig, args):
        mag, ix, table = args
        drop = builder.fcmp_ordered("<=", mag, _lookup(builder, table, ix))
        return builder.add(ix, builder.sext(drop, ix.type))

    return idx(a, idx, lower), codegen


@intrinsic
def sse_at(typingctx, a, idx, dequant):
    """The block's SSE at a code (``_block.code_sse``) given the indices and the code's
    row of DEQUANT_ROWS: the sum of (|x| - q*s)^2, each operation rounded to float32, in
    the seed's order."""
    if not (_is_vec(a) and _is_vec(idx, "i32") and a.n == idx.n and _is_vec(dequant) and dequant.n == _LANES):
        return None

    def codegen(context, builder, sig, args):
        mag, ix, table = args
        d = builder.fsub(mag, _lookup(builder, table, ix))
        return _seed_sum(builder, builder.fmul(d, d))

    return types.float32(a, idx, dequant), codegen


@intrinsic
def sum_squares(typingctx, a):
    """The block's energy (``_block.block_energy``): the sum of x*x in the seed's order."""
    if not _is_vec(a):
        return None

    def codegen(context, builder, sig, args):
        return _seed_sum(builder, builder.fmul(args[0], args[0]))

    return types.float32(a), codegen


@intrinsic
def sort_lanes(typingctx, a):
    """The magnitudes in ascending order: a bitonic sorting network, each step a
    compare-exchange of every lane with its partner (float compare and select: exact, as
    the magnitudes are finite and carry no sign)."""
    if not _is_vec(a):
        return None

    def codegen(context, builder, sig, args):
        v = args[0]
        n = v.type.count
        size = 2
        while size <= n:  # merge sorted runs of size / 2 into runs of size
            step = size // 2
            while step >= 1:
                partner = _permute(builder, v, [i ^ step for i in range(n)])
                lt = builder.fcmp_ordered("<", v, partner)
                lower = builder.select(lt, v, partner)
                upper = builder.select(lt, partner, v)
                # a lane keeps the smaller value where it is the first of its pair within
                # an ascending run, or the second within a descending one
                keep_lower = [int(((i & step) == 0) == ((i & size) == 0)) for i in range(n)]
                v = builder.select(ir.Constant(ir.VectorType(ir.IntType(1), n), keep_lower), lower, upper)
                step //= 2
            size *= 2
        return v

    return a(a), codegen


@intrinsic
def dead_zone_count(typingctx, srt, e0):
    """The seed's k* (``_window.search_window``) from the sorted magnitudes: how many
    prefixes of their squares (float32 products, accumulated in float64 in order, each
    prefix rounded to float32) are <= ``e0``. Taken 8 at a time, stopping after the first
    group that is not all <= e0 (k* is n for a noise block)."""
    if not (_is_vec(srt) and e0 == types.float32):
        return None

    def codegen(context, builder, sig, args):
        v, e = args
        n = v.type.count
        sq = builder.fmul(v, v)
        done = builder.function.append_basic_block("dead_zone_done")
        acc = ir.Constant(_F64, 0.0)
        k = ir.Constant(_I64, 0)
        ends = []
        for g in range(0, n, _LANES):
            c = ir.Constant(_I64, 0)
            for t in range(g, g + _LANES):
                acc = builder.fadd(acc, builder.fpext(builder.extract_element(sq, ir.Constant(_I32, t)), _F64))
                c = builder.add(c, builder.zext(builder.fcmp_ordered("<=", builder.fptrunc(acc, _F32), e), _I64))
            k = builder.add(k, c)
            ends.append((k, builder.block))
            if g + _LANES < n:
                more = builder.function.append_basic_block("dead_zone_more")
                builder.cbranch(builder.icmp_signed("<", c, ir.Constant(_I64, _LANES)), done, more)
                builder.position_at_end(more)
        builder.branch(done)
        builder.position_at_end(done)
        total = builder.phi(_I64)
        for val, block in ends:
            total.add_incoming(val, block)
        return total

    return types.int64(srt, e0), codegen
