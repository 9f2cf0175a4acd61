"""The smallest and largest eigenvalues of many small symmetric matrices (the block
Hessians' checks and bounds), with an error bound, in one parallel Numba kernel.

NumPy's batched ``eigvalsh`` is a LAPACK call per matrix, about 10-14 us for a 16x16
block on one thread whatever the cores (threads calling it at once were slower on a
16-core host): 5-7 ms for the 512 column blocks of a K = 8192 layer, twice per Hessian
search, more than the GPU's whole search. Here each matrix is reduced to tridiagonal
form by Householder reflections and its extreme eigenvalues are found by bisection on
Sturm counts, the matrices in parallel: the results do not depend on the thread count.

Where a decision must equal LAPACK's (core.check_hessian_blocks' tolerance) the caller
compares with a band holding both this bound and LAPACK's own, and asks LAPACK for the
few blocks inside it; where only a bound is needed (hessian.diagonal_bounds' mu) the
error bound is subtracted. ADMM's lambda_max, which is part of its result, stays
LAPACK's (SPEC section 4.4).
"""

import math

import numba
import numpy as np

from ._config import JIT_PARALLEL, JIT_SCALAR

__all__ = ["extreme_eigenvalues", "EIG_RTOL"]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny

#: The error bound's constants, relative to the matrix's Frobenius norm. Householder
#: tridiagonalisation is backward stable, ||E||_F <= c n^2 u ||A||_F for a modest c
#: (Wilkinson; Higham, Accuracy and Stability of Numerical Algorithms, ch. 19): c = 16
#: here (EIG_RTOL = 8 eps = 16 u), not derived but generous (against 50-digit arithmetic
#: the error was at most 2.2 eps ||A||_F on Gram, graded and indefinite blocks of 16 and
#: 32, under 1% of this). The Sturm counts are
#: exact for a tridiagonal whose off-diagonal entries are within 2.5 u relative (Kahan):
#: an eigenvalue shift of at most 5 u max|e| <= 5 u ||A||_F, counted as _STURM_RTOL.
EIG_RTOL = 8.0 * _EPS
_STURM_RTOL = 4.0 * _EPS
#: The Gershgorin interval is widened by this (relative to ||A||_F; its own rounding is
#: about 3.5 u ||A||_F) and checked: a start that does not bracket every eigenvalue
#: gives an infinite error bound (the callers then ask LAPACK, or use no bound).
_WIDEN_RTOL = 32.0 * _EPS
#: Bisection stops within this width relative to ||A||_F (the callers need far less:
#: a bound and a tolerance of 1e-3).
_BISECT_RTOL = 2.0**-32


@numba.njit(**JIT_SCALAR)
def _tridiagonal(a, n, d, e, v, p):
    """Householder reduction of the symmetric ``a`` (n x n, overwritten) to tridiagonal
    form: diagonal d[:n], off-diagonal e[:n - 1]. v, p: scratch of n."""
    for k in range(n - 2):
        m = n - k - 1  # the trailing size
        scale = 0.0
        for i in range(m):
            scale = max(scale, abs(a[k + 1 + i, k]))
        if scale == 0.0:
            e[k] = 0.0
            continue
        s2 = 0.0
        for i in range(m):
            v[i] = a[k + 1 + i, k] / scale
            s2 += v[i] * v[i]
        alpha = -math.copysign(math.sqrt(s2), v[0])
        v[0] -= alpha
        vv = 0.0
        for i in range(m):
            vv += v[i] * v[i]
        e[k] = alpha * scale
        if vv == 0.0:
            continue
        # A' = H A H with H = I - 2 v v^T / vv on the trailing block: p = 2 A v / vv,
        # q = p - (v^T p / vv) v, A' = A - v q^T - q v^T.
        for i in range(m):
            acc = 0.0
            for j in range(m):
                acc += a[k + 1 + i, k + 1 + j] * v[j]
            p[i] = 2.0 * acc / vv
        kv = 0.0
        for i in range(m):
            kv += v[i] * p[i]
        kv /= vv
        for i in range(m):
            p[i] -= kv * v[i]
        for i in range(m):
            for j in range(m):
                a[k + 1 + i, k + 1 + j] -= v[i] * p[j] + p[i] * v[j]
    for i in range(n):
        d[i] = a[i, i]
    if n >= 2:
        e[n - 2] = a[n - 1, n - 2]


@numba.njit(**JIT_SCALAR)
def _count_below(d, e2, n, x, pivmin):
    """How many eigenvalues of the tridiagonal (d, e2 = squared off-diagonal) are < x
    (the Sturm count by the LDL^T pivots, a pivot too small replaced as LAPACK's dlaebz
    does)."""
    q = d[0] - x
    if abs(q) < pivmin:
        q = -pivmin
    c = 1 if q < 0 else 0
    for i in range(1, n):
        q = d[i] - x - e2[i - 1] / q
        if abs(q) < pivmin:
            q = -pivmin
        c += 1 if q < 0 else 0
    return c


@numba.njit(**JIT_SCALAR)
def _bisect_both(d, e2, n, gl, gu, pivmin, tol):
    """Bisection for both extremes at once (two independent chains of divisions, which
    the CPU overlaps): intervals (a, b) with count(a) < 1 <= count(b) (lambda_min) and
    count(a) < n <= count(b) (lambda_max), each b - a <= tol or at the float limit."""
    la, lb, ha, hb = gl, gu, gl, gu
    for _ in range(200):
        lo_open = lb - la > tol and la < 0.5 * (la + lb) < lb
        hi_open = hb - ha > tol and ha < 0.5 * (ha + hb) < hb
        if not (lo_open or hi_open):
            break
        lm = 0.5 * (la + lb)
        hm = 0.5 * (ha + hb)
        if lo_open:
            if _count_below(d, e2, n, lm, pivmin) >= 1:
                lb = lm
            else:
                la = lm
        if hi_open:
            if _count_below(d, e2, n, hm, pivmin) >= n:
                hb = hm
            else:
                ha = hm
    return la, lb, ha, hb


@numba.njit(**JIT_PARALLEL)
def _extreme_kernel(A, out):
    m, n, _ = A.shape
    for j in numba.prange(m):
        a = np.empty((n, n))
        d = np.empty(n)
        e = np.zeros(max(n - 1, 1))
        e2 = np.empty(max(n - 1, 1))
        v = np.empty(n)
        p = np.empty(n)
        top = 0.0
        for r in range(n):
            for c in range(n):
                top = max(top, abs(A[j, r, c]))
        if top == 0.0:
            out[j, 0] = out[j, 1] = out[j, 2] = out[j, 3] = 0.0
            continue
        if not top < np.inf:  # (not finite: no bound)
            out[j, 0], out[j, 1], out[j, 2], out[j, 3] = -np.inf, np.inf, np.inf, np.inf
            continue
        # Scaled by 2^-ex (exact, but for entries below 2^-1022 of the largest) to
        # entries below 1: no overflow in the squares, and the Sturm counts' pivot
        # floor is far below every entry that counts.
        ex = math.frexp(top)[1]
        fro = 0.0
        for r in range(n):
            for c in range(n):
                a[r, c] = math.ldexp(A[j, r, c], -ex)
                fro += a[r, c] * a[r, c]
        fro = math.sqrt(fro)
        _tridiagonal(a, n, d, e, v, p)
        # Gershgorin interval of the tridiagonal, widened
        gl, gu = d[0], d[0]
        emax = 0.0
        for i in range(n):
            left = abs(e[i - 1]) if i > 0 else 0.0
            right = abs(e[i]) if i < n - 1 else 0.0
            gl = min(gl, d[i] - left - right)
            gu = max(gu, d[i] + left + right)
        for i in range(n - 1):
            e2[i] = e[i] * e[i]
            emax = max(emax, e2[i])
        gl -= _WIDEN_RTOL * fro + _TINY
        gu += _WIDEN_RTOL * fro + _TINY
        pivmin = _TINY * max(1.0, emax)
        lo_a, lo_b, hi_a, hi_b = _bisect_both(d, e2, n, gl, gu, pivmin, _BISECT_RTOL * fro)
        # (a pivot floored at pivmin moves an eigenvalue by at most 2 pivmin; entries
        # below 2^-1022 lost bits in the scaling)
        err = ((EIG_RTOL * n * n + _STURM_RTOL) * fro + (lo_b - lo_a) + (hi_b - hi_a) + 2 * pivmin
               + n * n * _TINY)
        if _count_below(d, e2, n, gl, pivmin) != 0 or _count_below(d, e2, n, gu, pivmin) != n:
            err = np.inf
        # Back to A's scale; a result in the subnormal range rounds by up to 2^-1075.
        out[j, 0] = math.ldexp(lo_a, ex)
        out[j, 1] = math.ldexp(hi_b, ex)
        out[j, 2] = math.ldexp(err, ex) + 2.0**-1073
        out[j, 3] = math.ldexp(fro, ex)


def extreme_eigenvalues(A):
    """For symmetric float64 matrices ``A`` (m, n, n), n >= 1: (lo, hi, err, fro), each of
    length m, with lambda_min(A_j) in [lo_j - err_j, lo_j + err_j], lambda_max(A_j) in
    [hi_j - err_j, hi_j + err_j] and fro_j the Frobenius norm of A_j (computed without
    overflow in its squares; inf beyond float64's range). A matrix that is not finite
    gets err = inf. Only a symmetric matrix's eigenvalues are bounded so."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    out = np.empty((A.shape[0], 4))
    if A.shape[0]:
        _extreme_kernel(A, out)
    return out[:, 0], out[:, 1], out[:, 2], out[:, 3]
