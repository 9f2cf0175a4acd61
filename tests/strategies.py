"""Hypothesis strategies for (N, bs) float32 blocks."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from naive import BOUNDARIES, CODEBOOK, E4M3_NONNEG, SCALES

F32 = np.float32

block_sizes = st.sampled_from([16, 32])

#: Any finite float32 (huge, tiny, subnormal, signed zeros), or moderate values.
finite_f32 = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-100.0, max_value=100.0, width=32),
    st.floats(min_value=-0.0078125, max_value=0.0078125, width=32),
)


@st.composite
def block_arrays(draw, elements=finite_f32, max_blocks=6):
    bs = draw(block_sizes)
    n = draw(st.integers(1, max_blocks))
    return draw(arrays(F32, (n, bs), elements=elements))


#: E2M1 boundaries and codebook values: the element magnitudes (divided by the scale)
#: at which rounding decisions are ties.
_LEVELS = np.concatenate([BOUNDARIES, CODEBOOK, [7.0, 12.0]]).astype(F32)
#: Midpoints between consecutive non-negative E4M3 values (and 464): ties of the snap.
_E4M3_MIDS = ((np.append(E4M3_NONNEG, F32(480)).astype(np.float64)[:-1]
               + np.append(E4M3_NONNEG, F32(480))[1:]) / 2).astype(F32)


def _nudge(v, ulps):
    """v moved by ``ulps`` float32 bit patterns (v >= 0)."""
    b = v.astype(F32).view(np.uint32).astype(np.int64) + ulps
    return np.maximum(b, 0).astype(np.uint32).view(F32)


@st.composite
def near_boundary_blocks(draw, max_blocks=6):
    """Blocks whose elements are b * s +- a few ulps for an E4M3 scale s (so fl(|x|/s) sits
    on or next to an E2M1 boundary), and whose amax is 6 * s or 6 * (E4M3 midpoint),
    +- a few ulps (so amax / 6 sits on or next to an E4M3 value or rounding tie)."""
    bs = draw(block_sizes)
    n = draw(st.integers(1, max_blocks))
    codes = draw(arrays(np.int64, n, elements=st.integers(0, SCALES.size - 1)))
    s = SCALES[codes]
    levels = _LEVELS[draw(arrays(np.int64, (n, bs), elements=st.integers(0, _LEVELS.size - 1)))]
    ulps = draw(arrays(np.int64, (n, bs), elements=st.integers(-3, 3)))
    signs = np.where(draw(arrays(np.bool_, (n, bs))), F32(-1), F32(1))
    x = signs * _nudge((levels * s[:, None]).astype(F32), ulps)
    # the amax element
    use_mid = draw(arrays(np.bool_, n))
    mids = _E4M3_MIDS[np.minimum(codes + 1, _E4M3_MIDS.size - 1)]
    target = np.where(use_mid, mids, s).astype(F32) * F32(6)
    amax_ulps = draw(arrays(np.int64, n, elements=st.integers(-2, 2)))
    pos = draw(arrays(np.int64, n, elements=st.integers(0, bs - 1)))
    x[np.arange(n), pos] = _nudge(target.astype(F32), amax_ulps)
    # an optional power-of-two zoom keeps every relation exact
    zoom = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0 ** -8, 4.0]))
    return (x * F32(zoom)).astype(F32)
