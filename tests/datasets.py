"""Test inputs: random blocks of several distributions and magnitudes, and the edge
blocks of SEED_BEHAVIOR.md section c. All float32, shape (N, bs)."""

import numpy as np

from naive import BOUNDARIES, CODEBOOK, E4M3_ALL, UNDERFLOW_AMAX

F32 = np.float32

DISTRIBUTIONS = ("normal", "laplace", "student_t3")
MAGNITUDES = ("unit", "per_block")

#: SEED_BEHAVIOR.md section c, the base block (amax 2.9).
BASE_BLOCK = np.array(
    [0.9, -0.3, 0.05, 0, 1.7, -2.2, 0.6, -0.01, 0.33, 1.1, -0.75, 0.2, 2.9, -1.4, 0.45, -0.08],
    dtype=F32,
)


def random_blocks(rng, n, bs, dist, magnitude):
    """n blocks of bs elements; magnitude "per_block" multiplies each block by 10^U(-3,3)."""
    if dist == "normal":
        x = rng.standard_normal((n, bs))
    elif dist == "laplace":
        x = rng.laplace(size=(n, bs))
    elif dist == "student_t3":
        x = rng.standard_t(3, size=(n, bs))
    else:
        raise ValueError(dist)
    x = x.astype(F32)
    if magnitude == "per_block":
        x = x * (F32(10.0) ** rng.uniform(-3, 3, (n, 1)).astype(F32))
    return x.astype(F32)


def mixed_blocks(rng, n_each, bs):
    """Every distribution x magnitude, n_each blocks each, rows shuffled."""
    x = np.concatenate(
        [random_blocks(rng, n_each, bs, d, m) for d in DISTRIBUTIONS for m in MAGNITUDES]
    )
    return x[rng.permutation(len(x))]


def order_sensitive_blocks(rng, n, bs):
    """Blocks whose optimal scale depends on the float32 summation order of the SSE.

    At s_a = 1 (= s0, amax 6) and s_b = 1.5 the anchors 6, -3, 1.5 are exact; 0.75 or
    2.25 costs 0.25^2 at s_a and nothing at s_b, while 0.5, 1 or 2 cost 0.25^2 at s_b and
    nothing at s_a. Small elements (zeroed at both scales) add the same full-mantissa
    squares to both sums. So E(s_a) and E(s_b) are sums of the same terms at different
    positions, equal in exact arithmetic, and which one is smaller in float32 depends on
    the order in which the seed adds them. A power-of-two zoom keeps all of this exact.
    """
    x = np.zeros((n, bs), F32)
    for r in range(n):
        row = [6.0, -3.0, 1.5, rng.choice([0.75, 2.25]), rng.choice([0.5, 1.0, 2.0])]
        if rng.random() < 0.5:
            row += [rng.choice([-0.75, -2.25]), rng.choice([-0.5, -1.0, -2.0])]
        k = bs - len(row)
        small = (rng.uniform(0.02, 0.2, k) * rng.choice([-1, 1], k)).astype(F32)
        small[rng.random(k) < 0.3] = 0
        x[r] = np.concatenate([np.array(row, F32), small])[rng.permutation(bs)]
    return (x * F32(2.0) ** rng.integers(-3, 4, (n, 1))).astype(F32)


def _with_amax(amax, bs):
    """The base block (tiled to bs) scaled so that its largest magnitude is exactly amax."""
    b = np.tile(BASE_BLOCK, bs // 16)
    x = (b.astype(np.float64) / 2.9 * float(amax)).astype(F32)
    x[np.argmax(np.abs(b))] = F32(amax)
    assert np.abs(x).max() == F32(amax)
    return x


def edge_blocks(bs):
    """Named edge blocks of length bs (a dict name -> (bs,) float32)."""
    out = {}
    out["all_zero"] = np.zeros(bs, F32)
    out["all_neg_zero"] = np.full(bs, -0.0, F32)
    out["base"] = _with_amax(2.9, bs)
    for name, amax in [("1e-4", 1e-4), ("0.005", 0.005), ("1e4", 1e4), ("3000", 3000.0),
                       ("2688", 2688.0), ("2784", 2784.0), ("2784.0002", 2784.0002)]:
        out[f"amax_{name}"] = _with_amax(F32(amax), bs)
    out["amax_6x2^-10"] = _with_amax(UNDERFLOW_AMAX, bs)
    out["amax_above_6x2^-10"] = _with_amax(np.nextafter(UNDERFLOW_AMAX, F32(1)), bs)
    # elements exactly on the decision boundaries (and codebook values) times an exact
    # E4M3 scale s, with amax / 6 == s, so s0 == s and every element is a tie
    for s in (F32(0.5), F32(0.0390625), F32(2.0**-6), F32(2.0**-9) * 3, F32(72.0)):
        row = np.concatenate([BOUNDARIES, CODEBOOK[1:], -BOUNDARIES, -CODEBOOK[1:]])
        row = np.resize(row, bs).astype(F32) * s
        row[0] = F32(6.0) * s
        assert np.abs(row).max() / F32(6) == s
        out[f"boundaries_s{s:g}"] = row.astype(F32)
    out["all_one"] = np.ones(bs, F32)  # tied minima: SSE 0 at 0.25, 0.5, 1, 2
    out["all_minus_one"] = -np.ones(bs, F32)
    single = np.zeros(bs, F32)
    single[0] = 3.0  # SSE 0 at 0.5, 0.75, 1, 1.5, 2, 3, 6
    out["single_3"] = single
    single = np.zeros(bs, F32)
    single[bs - 1] = -0.7
    out["single_neg"] = single
    negz = _with_amax(2.9, bs)
    negz[1:6] = [-1e-6, -0.0, -0.01, 1e-7, -(2.0**-20)]  # negatives that round to -0.0
    out["neg_to_neg_zero"] = negz
    out["subnormal_elements"] = np.resize(np.array([1e-45, -1e-40, 1.0, -0.5], F32), bs)
    out["huge_and_tiny"] = np.resize(np.array([3e38, -1e-30, 0.0, -2.5e38], F32), bs)
    out["powers_of_two"] = (F32(2.0) ** np.arange(-8, bs - 8)).astype(F32)
    return out


def edge_matrix(bs):
    """(names, (N, bs) array) of the edge blocks."""
    blocks = edge_blocks(bs)
    return list(blocks), np.stack(list(blocks.values())).astype(F32)


def threshold_blocks(rng, codes, bs):
    """Blocks made of every E2M1 threshold b*s of the given codes and the float32
    neighbours of each, shuffled, with random signs: every tie and near-tie."""
    t = np.array([b * E4M3_ALL[k] for k in codes for b in BOUNDARIES], F32)
    t = np.concatenate([t, np.nextafter(t, F32(0)), np.nextafter(t, F32(np.inf))])
    t = np.resize(rng.permutation(t) * rng.choice(F32([-1, 1]), t.size), (t.size + bs - 1) // bs * bs)
    return t.reshape(-1, bs).astype(F32)
