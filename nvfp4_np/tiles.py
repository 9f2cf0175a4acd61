"""16x16 block scales: one E4M3 scale byte per 16x16 tile of a 2-D weight, for the
block methods "naive" and "optimal" (the SSE search), in every block recipe.

Transformer Engine's NVFP4 weight recipe uses one scale per 16x16 tile so that W and
W^T quantize to the same values. The bytes are written in the 1-D layout: every block
of 16 along a row carries its tile's byte, which is what GEMM kernels that read one
scale per 16 elements of a row take.

Definition. A 2-D weight W (R, K), R and K multiples of 16, is passed blocked as the
(R, K/16, 16) view (blocks of 16 along the last axis, row-major: block
b = m * (K/16) + j is row m, columns 16 j .. 16 j + 15). Tile (I, J) holds the 16 blocks
b_a = (16 I + a) * (K/16) + J, a = 0..15.

- Tile amax ``A = max |x|`` over the tile's 256 elements (exact; +0 for a tile of
  zeros and -0.0). If any of them is NaN or Inf, every block of the tile gets status
  NONFINITE and is not written; the wrapper raises as for 1-D input.
- The tile's baseline byte ``c0 = recipe_code(A, rc)``: the recipe's 1-D baseline
  (validation/SPEC.md §3.2 steps 1-6) applied to the tile amax. Status of every block
  of the tile: UNDERFLOW when ``c0 == 0`` and ``A > 0``, else OK (begin_block's rule on
  the tile).
- naive: the tile's byte is ``c0``.
- optimal (SSE search over the tile): ``E_tile(c) = sum over a = 0..15, in this order,
  in float64 from +0.0, of E_a(c)``, where ``E_a(c)`` is the float32 block SSE of block b_a at
  byte c (SPEC §4, ``_block.code_sse``: the 1-D search's own block error). Candidates:
  ``c0`` first (best = (c0, E_tile(c0))), then every byte k = ``rc.min_code`` .. 126
  ascending, replacing the best on a strict improvement ``E_tile(k) < best``. Ties go to
  the baseline, then to the smallest byte. The search is exhaustive for every recipe,
  "seed" included (whose 1-D search is the seed's windowed search with noise rules: the
  tile search has no window and no noise rules).
- Every block of the tile is then written with the tile's byte by ``emit_block`` (its
  scale byte and packed E2M1 codes, SPEC §3.2 steps 7-8), so each block row carries the
  tile's byte.

Since the tile amax is symmetric in W and W^T, the naive tile bytes of W^T are the
transposed tile bytes of W. (The search's byte need not be: the block SSE sums a block
of 16 in the seed's float32 lane order, which is not symmetric under transposition.)
"""

import numba
import numpy as np

from . import core, registry
from ._block import NONFINITE, OK, UNDERFLOW, block_amax, code_sse
from ._config import JIT_PARALLEL, JIT_SCALAR
from ._emit import emit_block
from ._simd import (
    DEQUANT_ROWS,
    FIRST_WALK_CODE,
    LOWER_ROWS,
    block_magnitudes,
    count_above,
    sse_at,
    table_row,
    walk_down,
)
from .formats import E4M3_DECODE
from .recipes import recipe_code

__all__ = ["tile_blocks", "tile_naive", "tile_optimal", "TILE"]

#: The tile side: 16 rows by 16 columns (one block of 16 along each of 16 rows).
TILE = 16
#: The E4M3 scale of each code, as the vector functions read it (a constant).
_DEC = E4M3_DECODE


@numba.njit(**JIT_SCALAR)
def tile_code(x, xbits, rc, dec, status, nbc, I, J, search, sq, errs):
    """(the byte of tile (I, J), finite) with the status of its 16 blocks recorded; the
    blocks are b = (16 I + a) * nbc + J. ``sq`` (bs) and ``errs`` (16, 128) float32 are scratch."""
    base = TILE * I * nbc + J
    amax = np.float32(0.0)
    finite = True
    for a in range(TILE):
        m, fin = block_amax(xbits, base + a * nbc)
        finite = finite and fin
        amax = m if m > amax else amax
    if not finite:
        for a in range(TILE):
            status[base + a * nbc] = NONFINITE
        return np.uint8(0), False
    c0 = recipe_code(amax, rc)
    st = UNDERFLOW if (c0 == 0 and amax > 0) else OK
    for a in range(TILE):
        status[base + a * nbc] = st
    if not search:
        return c0, True
    # The 16 block errors of each candidate first (a block at a time, so exact recipes
    # walk the codes on the block in vector registers, as the 1-D search does), then
    # E_tile(k) summed over the blocks in order.
    for a in range(TILE):
        _block_errors(x, base + a * nbc, c0, dec, rc, sq, errs, a)
    best_c = c0
    best_e = _tile_sum(errs, 127)  # (column 127: the errors at c0)
    for k in range(rc.min_code, 127):
        if k == c0:
            continue  # equal to the best: the strict test never takes it
        e = _tile_sum(errs, k)
        better = e < best_e
        best_e = e if better else best_e
        best_c = np.uint8(k) if better else best_c
    return best_c, True


@numba.njit(**JIT_SCALAR)
def _tile_sum(errs, k):
    """E_tile(k): column k of the tile's float32 block errors, summed in block order
    (a = 0..15) in float64."""
    e = 0.0
    for a in range(TILE):
        e += np.float64(errs[a, k])
    return e


@numba.njit(**JIT_SCALAR)
def _block_errors(x, b, c0, dec, rc, sq, errs, a):
    """Row ``a`` of ``errs``: block ``b``'s float32 SSE (code_sse) at every candidate
    k = rc.min_code .. 126 (column k) and at c0 (column 127). Exact recipes compute them
    on the block's magnitudes in a vector (_simd: the same numbers, bit for bit, as
    optimal._walk's), each code's E2M1 indices walked from the previous code's."""
    lo = rc.min_code
    if rc.exact:
        v = block_magnitudes(x, b, (0, 0))  # (blocks of 16: two groups of 8 lanes)
        errs[a, 127] = sse_at(v, count_above(v, _DEC[c0]), table_row(DEQUANT_ROWS, c0))
        idx = count_above(v, _DEC[lo])
        for k in range(lo, 127):
            if k > lo:
                idx = walk_down(v, idx, table_row(LOWER_ROWS, k)) if k >= FIRST_WALK_CODE else count_above(v, _DEC[k])
            errs[a, k] = sse_at(v, idx, table_row(DEQUANT_ROWS, k))
    else:
        errs[a, 127] = code_sse(x, b, c0, dec, rc, sq)
        for k in range(lo, 127):
            errs[a, k] = code_sse(x, b, k, dec, rc, sq)


@numba.njit(**JIT_SCALAR)
def _tile_blocks(x, xbits, rc, dec, out, status, nbc, search):
    """Every tile: a parallel task per tile row I (its K/16 tiles in turn)."""
    n, bs = x.shape
    n_tile_rows = n // (TILE * nbc) if nbc > 0 else 0
    for I in numba.prange(n_tile_rows):
        sq = np.empty(bs, np.float32)
        errs = np.empty((TILE, 128), np.float32)
        for J in range(nbc):
            c, finite = tile_code(x, xbits, rc, dec, status, nbc, I, J, search, sq, errs)
            if finite:
                base = TILE * I * nbc + J
                for a in range(TILE):
                    emit_block(base + a * nbc, c, x, dec, rc, out)


@numba.njit(**JIT_PARALLEL)
def _tile_kernel(x, xbits, rc, dec, out, status, nbc, search):
    """The kernel (run_block_kernel's calling convention, nbc and search after status).
    No twin with rc frozen to SEED_PARAMS: measured 4-7% faster on seed, for 18 s more
    compilation."""
    _tile_blocks(x, xbits, rc, dec, out, status, nbc, search)


def _check_tile_input(W, dim, block_shape):
    """W as an array, checked to be the (R, K/16, 16) blocked view with R % 16 == 0 and
    the block axis last; the number of block columns K/16."""
    try:
        shape = registry.block_shape(block_shape)
    except ValueError:
        shape = None
    if shape != (TILE, TILE):
        raise ValueError(f"block_shape must be (16, 16) (one scale per 16x16 tile), got {block_shape!r}")
    W = core.as_float_array(W, "W")
    if W.ndim != 3:
        raise ValueError(
            f"16x16 tile scales need W blocked as (R, K/16, 16) (a 2-D (R, K) weight reshaped), got an array "
            f"with {W.ndim} dimension(s), shape {W.shape}"
        )
    if core.normalize_axis(W.ndim, dim) != 2:
        raise ValueError(f"16x16 tile scales take the block axis last (dim=-1), got dim={dim}")
    if W.shape[2] != TILE:
        raise ValueError(f"16x16 tile scales need blocks of 16 (W.shape[-1] == 16), got block size {W.shape[2]} "
                         f"(W has shape {W.shape})")
    if W.shape[0] % TILE:
        raise ValueError(f"16x16 tile scales need the number of rows R = W.shape[0] to be a multiple of 16, got "
                         f"R = {W.shape[0]} (W has shape {W.shape})")
    return W, W.shape[1]


def tile_blocks(W, dim=-1, return_dequant=False, *, recipe="seed", rounding=None, tensor_amax=None,
                as_bytes=False, block_shape=(16, 16), search=False):
    """NVFP4 with one E4M3 scale per 16x16 tile (the module docstring defines it).

    Parameters
    ----------
    W : array_like
        A 2-D weight (R, K) blocked as (R, K/16, 16): R a multiple of 16, blocks of 16
        along the last axis (what :func:`nvfp4_np.quantize` passes). Any real float dtype.
    dim : int, default -1
        The block axis; must be the last.
    return_dequant, recipe, rounding, tensor_amax, as_bytes
        As :func:`nvfp4_np.nvfp4_naive`.
    block_shape : (16, 16), keyword-only
        The tile; only (16, 16).
    search : bool, default False, keyword-only
        False: naive (the tile's baseline byte). True: the exhaustive SSE search over the
        tile's summed block errors, for every recipe ("seed" included: unlike its 1-D
        search, no window and no noise rules).

    Returns
    -------
    What :func:`nvfp4_np.nvfp4_naive` / :func:`nvfp4_np.nvfp4_optimal` return for W:
    ``scales (R, K/16), quants (R, K/16, 16)[, dequant][, tensor_scale]``, or with
    ``as_bytes`` ``scale_bytes (R, K/16), codes (R, K/16, 8)[, tensor_scale]``. The 16
    rows of each tile carry the same scale.

    Raises
    ------
    ValueError
        block_shape not (16, 16); W not 3-D (R, K/16, 16) with R % 16 == 0; block axis not
        last; NaN or Inf in W; unknown recipe. (TypeError: non-float W.)
    """
    W, nbc = _check_tile_input(W, dim, block_shape)
    return core.run_block_kernel(_tile_kernel, W, dim, return_dequant, recipe, rounding, tensor_amax, np.int64(nbc),
                                 bool(search), as_bytes=as_bytes)


def tile_naive(W, dim=-1, return_dequant=False, **kw):
    """:func:`tile_blocks` with the tile's baseline byte (method "naive" with
    ``block_shape=(16, 16)``)."""
    return tile_blocks(W, dim, return_dequant, search=False, **kw)


def tile_optimal(W, dim=-1, return_dequant=False, **kw):
    """:func:`tile_blocks` with the SSE search over the tile (method "optimal" with
    ``block_shape=(16, 16)``)."""
    return tile_blocks(W, dim, return_dequant, search=True, **kw)
