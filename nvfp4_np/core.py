"""What every entry point shares: input checks with clear messages, the block layout
(move the block axis last, flatten to (N, bs) float32) and back, and the handling of the
per-block status that kernels report (non-finite input, scale underflow).
"""

import functools
import importlib
import mmap
import os
import sys
import warnings

import numpy as np

from . import formats, recipes, registry
from ._block import NONFINITE, UNDERFLOW
from ._convert import absmax
from ._eigen import extreme_eigenvalues
from ._emit import decode_blocks

BLOCK_SIZES = registry.BLOCK_SIZES


@functools.cache
def _float_dtypes():
    import ml_dtypes

    names = ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
             "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu",
             "float6_e2m3fn", "float6_e3m2fn", "float4_e2m1fn")
    return {np.dtype(getattr(ml_dtypes, n)) for n in names if hasattr(ml_dtypes, n)}


def as_float_array(a, name):
    """``a`` as a NumPy array of a real floating dtype, or a TypeError naming ``name``."""
    arr = np.asarray(a)
    dt = arr.dtype
    if np.issubdtype(dt, np.floating) or dt in _float_dtypes():
        return arr
    raise TypeError(
        f"{name} must have a real floating dtype (float16, bfloat16, float32, float64, ...), "
        f"got dtype {dt}"
    )


def check_block_size(block_size, where="block_size"):
    """``block_size`` as a Python int: a TypeError unless it is an int (Python or NumPy,
    not bool), a ValueError unless it is 16 or 32."""
    if not isinstance(block_size, (int, np.integer)) or isinstance(block_size, bool):
        raise TypeError(f"{where} must be an int (16 or 32), got {type(block_size).__name__} {block_size!r}")
    if block_size not in BLOCK_SIZES:
        raise ValueError(f"{where} must be 16 or 32, got {block_size}")
    return int(block_size)


class DeviceUnavailableError(RuntimeError):
    """``device="cuda"`` cannot run here: numba-cuda is missing or no CUDA GPU was found."""


def check_device(device):
    """``device`` checked before any work: "cpu" or "cuda" (returned), a ValueError for
    anything else, a DeviceUnavailableError (a RuntimeError) with a one-line message
    when "cuda" cannot run (under NUMBA_ENABLE_CUDASIM=1 the simulator counts as a GPU)."""
    if not isinstance(device, str) or device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        try:
            cuda = importlib.import_module("numba.cuda")
        except ImportError as e:
            raise DeviceUnavailableError(
                f"device='cuda' needs numba-cuda: pip install 'nvfp4_np[cuda]' (importing numba.cuda failed: {e})"
            ) from None
        if not cuda.is_available():
            raise DeviceUnavailableError(
                "device='cuda' found no CUDA GPU (numba.cuda.is_available() is False): install the NVIDIA "
                "driver and numba-cuda (pip install 'nvfp4_np[cuda]'), or set NUMBA_ENABLE_CUDASIM=1 to run "
                "the CUDA simulator"
            )
    return device


def is_device_array(a):
    """Whether ``a`` lives on the GPU (``__cuda_array_interface__``: numba, CuPy, PyTorch
    CUDA tensors; or the CUDA simulator's fake device arrays). Imports nothing."""
    return hasattr(a, "__cuda_array_interface__") or type(a).__name__ == "FakeCUDAArray"


def host_array(a):
    """``a`` as a NumPy array, copied from the device if it is a device array."""
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def normalize_axis(ndim, dim, name="dim"):
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(f"{name}={dim} is out of range for an array with {ndim} dimensions")
    return int(dim) % ndim


def to_blocks(W, dim, name="W"):
    """Move axis ``dim`` (the block) last and flatten to contiguous (N, bs) float32.

    Returns ``(x, batch_shape, dim)``. A 1-D ``W`` is one block (its scale is 0-d).
    """
    W = as_float_array(W, name)
    if W.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension (one block of 16 or 32), got a 0-d array")
    dim = normalize_axis(W.ndim, dim)
    bs = W.shape[dim]
    if bs not in BLOCK_SIZES:
        raise ValueError(
            f"{name}.shape[{dim}] is the block size and must be 16 or 32; {name} has shape "
            f"{W.shape}. For a (..., K) array with K a multiple of the block, use "
            f"nvfp4_np.quantize(W, block_size=16)"
        )
    moved = np.moveaxis(W, dim, -1)
    with np.errstate(over="ignore"):  # float64 beyond float32 range becomes Inf: reported later
        x = np.ascontiguousarray(moved.reshape(-1, bs), dtype=np.float32)
    return kernel_input(x), moved.shape[:-1], dim


class _Alias:
    """An array's memory described through the array interface as writable."""

    def __init__(self, a):
        self.base = a  # keeps the memory alive for as long as the alias is
        self.__array_interface__ = dict(a.__array_interface__, data=(a.ctypes.data, False))


def kernel_input(a):
    """``a`` as the kernels take their inputs: a read-only array (a memory-mapped
    checkpoint tensor, a caller's read-only view) becomes a writable-flagged alias of
    the same memory, no copy. Numba compiles a separate version of every kernel for
    read-only arrays (a minute for ADMM's); the kernels never write their inputs."""
    if not isinstance(a, np.ndarray) or a.flags.writeable or not a.flags.c_contiguous:
        return a
    return np.asarray(_Alias(a))


def _block_axis_to(a, dim):
    """(..., bs) kernel rows reshaped, block axis moved to ``dim`` (device arrays too,
    whose block axis is always last)."""
    return a if dim in (-1, a.ndim - 1) else np.moveaxis(a, -1, dim)


def from_blocks(scales, quants, dequant, batch_shape, dim):
    """Reshape kernel outputs (NumPy or device arrays) back to the seed's shapes (block axis
    where it was)."""
    bs = tuple(quants.shape)[-1]  # (a plain tuple: the CUDA simulator's shapes reject negative indices)
    out = [scales.reshape(batch_shape), _block_axis_to(quants.reshape(batch_shape + (bs,)), dim)]
    if dequant is not None:
        out.append(_block_axis_to(dequant.reshape(batch_shape + (bs,)), dim))
    return tuple(out)


def check_as_bytes(return_dequant, as_bytes, out=None):
    """as_bytes excludes the float outputs' options."""
    if as_bytes and (return_dequant or out is not None):
        raise ValueError("as_bytes=True returns the bytes only: it cannot be combined with return_dequant or out")


def kernel_outputs(n, bs, alloc=np.empty):
    """``(codes, packed)`` for n blocks of bs as the kernels write them (_emit): the scale
    bytes (n,) uint8 and the packed E2M1 codes (n, bs // 2) uint8, allocated by
    ``alloc(shape, dtype)``."""
    return alloc(n, np.uint8), alloc((n, bs // 2), np.uint8)


def from_blocks_bytes(codes, packed, batch_shape, dim):
    """The bytes in the seed's shapes: scale bytes (uint8, the shape of the scales) and
    packed codes (uint8, W's shape with the block axis halved, at ``dim``), from the
    kernels' (codes, packed)."""
    half = tuple(packed.shape)[-1]
    return codes.reshape(batch_shape), _block_axis_to(packed.reshape(batch_shape + (half,)), dim)


#: check_hessian_blocks' tolerance: a block fails when its smallest eigenvalue is below
#: -HESSIAN_PSD_RTOL times its largest |eigenvalue|. Gram matrices accumulated in float32
#: stay far inside it (measured on singular ones: block_hessians ~1e-7; a running mean
#: updated one row at a time over 65536 rows, the worst seen, 7e-5), while a wrong
#: matrix (e.g. [[1, 2], [2, 1]]: -1/3) is far outside.
HESSIAN_PSD_RTOL = 1e-3


def _psd_fails(low, top):
    """check_hessian_blocks' rule on a block's smallest eigenvalue and largest |eigenvalue|."""
    return low < -HESSIAN_PSD_RTOL * top


def _psd_fails_fast(sym):
    """_psd_fails on LAPACK's eigenvalues of the symmetric blocks ``sym``, decided from
    _eigen.extreme_eigenvalues (a parallel kernel, several times faster than the batched
    LAPACK call). LAPACK's eigenvalues are within 64 n eps ||H||_F of the true ones
    (backward stability, with a generous constant of 64)
    and the kernel's within its own bound, so a block clear of the rule's boundary by
    both is decided as LAPACK would; the others (and blocks whose symmetric part
    overflowed) are asked of LAPACK."""
    n = sym.shape[-1]
    fails = np.zeros(len(sym), bool)
    unsure = ~np.isfinite(sym).all(axis=(1, 2))
    ok = np.flatnonzero(~unsure)
    lo, hi, err, fro = extreme_eigenvalues(sym[ok])
    with np.errstate(invalid="ignore", over="ignore"):  # (inf bounds: unsure)
        band = err + 64 * n * np.finfo(np.float64).eps * fro
        top = np.maximum(np.abs(lo), np.abs(hi))
        surely_bad = _psd_fails(lo + band, top + band)
        surely_ok = ~_psd_fails(lo - band, np.maximum(top - band, 0.0))
    fails[ok] = surely_bad
    unsure[ok] = ~(surely_bad | surely_ok)
    asked = np.flatnonzero(unsure)
    if asked.size:
        lam = np.linalg.eigvalsh(sym[asked])
        fails[asked] = _psd_fails(lam[:, 0], np.abs(lam).max(axis=1))
    return fails


def check_hessian_blocks(H_blocks, n_blocks=None, block_size=None, name="H_blocks", *, eigenvalues=False):
    """Caller-given block Hessians checked: float32 or float64, shape (K // bs, bs, bs)
    (``n_blocks`` = K // bs and ``block_size`` when given), finite, and each block
    positive semidefinite up to rounding (no negative diagonal entry; smallest eigenvalue
    of (H_j + H_j^T) / 2, in float64 as LAPACK's ``eigvalsh`` gives it, at least
    -HESSIAN_PSD_RTOL times the largest |eigenvalue|; decided by _psd_fails_fast, or
    with ``eigenvalues`` by one batched LAPACK call). Returns the array (dtype kept),
    with ``eigenvalues`` also those of the symmetrised blocks, ascending, float64 (None
    for an empty array); a ValueError (TypeError for the dtype) naming the first
    failing block."""
    H = as_float_array(H_blocks, name)
    if H.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {H.dtype}")
    want = "(K // block_size, block_size, block_size)"
    if n_blocks is not None and block_size is not None:
        want += f" = {(n_blocks, block_size, block_size)} for these weights"
    if (H.ndim != 3 or H.shape[1] != H.shape[2] or n_blocks not in (None, H.shape[0])
            or block_size not in (None, H.shape[1])):
        raise ValueError(f"{name} must have shape {want}, got {H.shape}")
    n = H.shape[0]
    if not np.isfinite(H).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(H)).sum())} non-finite values")
    if H.size == 0:
        return (H, None) if eigenvalues else H
    H64 = H.astype(np.float64)
    diag = np.diagonal(H64, axis1=1, axis2=2)
    sym = (H64 + H64.transpose(0, 2, 1)) * 0.5
    if eigenvalues:
        lam = np.linalg.eigvalsh(sym)  # one batched call, ascending
        bad = (diag < 0).any(axis=1) | _psd_fails(lam[:, 0], np.abs(lam).max(axis=1))
    else:
        lam = None
        bad = (diag < 0).any(axis=1) | _psd_fails_fast(sym)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        lam_j = np.linalg.eigvalsh(sym[j]) if lam is None else lam[j]  # (the message quotes LAPACK's numbers)
        if (diag[j] < 0).any():
            i = int(np.flatnonzero(diag[j] < 0)[0])
            why = f"its diagonal entry [{i}, {i}] = {diag[j, i]:.6g} is negative (smallest eigenvalue {lam_j[0]:.6g})"
        else:
            why = (f"its smallest eigenvalue {lam_j[0]:.6g} is below -{HESSIAN_PSD_RTOL:g} x its largest "
                   f"|eigenvalue| {np.abs(lam_j).max():.6g}")
        raise ValueError(
            f"{name}[{j}] is not positive semidefinite ({int(bad.sum())} of {n} blocks fail): {why}. Block "
            f"Hessians X_j^T X_j are PSD up to rounding; compute them with nvfp4_np.block_hessians(X, block_size)"
        )
    return (H, lam) if eigenvalues else H


class NonFiniteError(ValueError):
    """NaN or Inf in the input (a ValueError; ``n_blocks`` blocks are affected)."""

    def __init__(self, message, n_blocks):
        super().__init__(message)
        self.n_blocks = n_blocks


def nonfinite_error(W, name, n_blocks):
    """The error for non-finite values in ``W``, with the count and the first index in
    ``W``'s own coordinates (float64 values beyond float32's range count: they become Inf)."""
    orig = np.asarray(W)
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(np.asarray(orig, dtype=np.float32))
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    note = ""
    if orig.dtype != np.float32 and np.isfinite(orig.astype(np.float64)[first]):
        note = " (finite in the input dtype, out of float32 range after conversion)"
    return NonFiniteError(
        f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or Inf) in "
        f"{n_blocks} block(s); first at index {first}: {orig[first]!r}{note}. "
        f"Remove or replace them before quantizing.",
        n_blocks,
    )


def warn_caller(message, category=RuntimeWarning):
    """warnings.warn attributed to the first frame outside this package, so users can
    filter it and Python's once-per-location rule applies to their line."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def check_status(status, W, name="W", recipe="seed"):
    """Raise on non-finite input; warn once about blocks whose scale underflowed to 0."""
    check_status_counts(np.bincount(status, minlength=3), W, name, recipe)


def check_status_counts(counts, W, name="W", recipe="seed"):
    """check_status from the number of blocks of each status (OK, UNDERFLOW, NONFINITE)."""
    if counts[NONFINITE]:
        raise nonfinite_error(W, name, int(counts[NONFINITE]))
    if counts[UNDERFLOW]:
        r = recipes.get_recipe(recipe)
        if r.two_level:
            why = (f"are more than ~{2**10 * 448:.0f}x smaller than the tensor's largest value, "
                   f"so their naive E4M3 block scale underflows to 0 and, unless a search finds a "
                   f"nonzero scale, they dequantize to 0 (recipe {r.name!r}). Quantize such parts "
                   f"as separate tensors to keep them.")
        else:
            why = (f"have amax <= 6*2^-10 (= {6 * 2.0**-10}), so their naive E4M3 scale underflows "
                   f"to 0 and, unless a search finds a nonzero scale, they dequantize to 0 (the "
                   f"seed's behaviour). To keep them, multiply {name} by a power of two before "
                   f"quantizing and divide the dequantized result by it, or use a two-level recipe "
                   f"(recipe='te', 'modelopt', 'torchao' or 'compressed-tensors').")
        warn_caller(f"{int(counts[UNDERFLOW])} block(s) of {name} {why}")


def _out_views(out, batch_shape, bs, dim, return_dequant):
    """Kernel-layout views (scales (N,), quants (N, bs), dequant) of caller-provided
    outputs, which must be float32, writeable, of the seed's shapes, and laid out so that
    the block axis moved last is C-contiguous (any C-contiguous array for dim=-1)."""
    want = 3 if return_dequant else 2
    if not isinstance(out, tuple) or len(out) != want:
        raise ValueError(f"out must be a tuple of {want} arrays (scales, quants{', dequant' if want == 3 else ''})")
    shapes = (batch_shape, batch_shape + (bs,), batch_shape + (bs,))
    views = []
    for i, (o, shape) in enumerate(zip(out, shapes)):
        name = ("scales", "quants", "dequant")[i]
        if not isinstance(o, np.ndarray) or o.dtype != np.float32 or not o.flags.writeable:
            raise TypeError(f"out[{i}] ({name}) must be a writeable float32 numpy array")
        moved = o if i == 0 else np.moveaxis(o, dim, -1)
        if moved.shape != shape:
            expected = shape if i == 0 else np.moveaxis(np.empty(shape, np.bool_), -1, dim).shape
            raise ValueError(f"out[{i}] ({name}) must have shape {expected}, got {o.shape}")
        if not moved.flags.c_contiguous:
            raise ValueError(f"out[{i}] ({name}) must be C-contiguous with the block axis moved last")
        views.append(moved.reshape(-1) if i == 0 else moved.reshape(-1, bs))
    return views


#: Outputs of at least this many bytes are mapped by output_array.
_MAPPED_OUTPUT_BYTES = 1 << 22
_MAP_ANON = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
#: madvise(2) advice that faults in every page of a range, writable (Linux >= 5.14;
#: Python's mmap module names it only from 3.13).
_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)
#: Whether this platform's mmap module can make the populated mappings at all.
_CAN_MAP_OUTPUTS = hasattr(mmap, "MAP_POPULATE") and hasattr(mmap, "MADV_HUGEPAGE")


def _populated_mapping(nbytes):
    """Anonymous memory of ``nbytes`` with every page present: advised to huge pages and
    populated in one system call; where that advice is refused (kernels before 5.14),
    mapped with MAP_POPULATE (4 KiB pages) instead."""
    m = mmap.mmap(-1, nbytes, flags=_MAP_ANON)
    try:
        m.madvise(mmap.MADV_HUGEPAGE)
        m.madvise(_MADV_POPULATE_WRITE)
        return m
    except OSError:
        m.close()
        return mmap.mmap(-1, nbytes, flags=_MAP_ANON | mmap.MAP_POPULATE)


def output_array(shape, dtype):
    """An uninitialised output array. Large ones are anonymous memory mappings in huge
    pages that the kernel supplies up front, in one system call, rather than one page
    fault at a time inside the parallel kernels (NumPy's default, huge pages faulted in on
    first touch, sometimes stalled for tens of ms: docs/performance.md). The array owns
    its mapping (through its base), which is unmapped when the array is freed."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    nbytes = count * dtype.itemsize
    if nbytes < _MAPPED_OUTPUT_BYTES or not _CAN_MAP_OUTPUTS:
        return np.empty(shape, dtype)
    return np.frombuffer(_populated_mapping(nbytes), dtype, count).reshape(shape)


def _decode_on_host(codes, packed, rc, scales, pairs, quants, dequant, want_dq):
    decode_blocks(codes, packed, formats.E4M3_DECODE, rc, scales, pairs, quants, dequant, want_dq)


def float_outputs(codes, packed, rc, return_dequant, out_views=None, alloc=output_array, decode=_decode_on_host):
    """The seed-shaped float32 outputs in kernel layout, (scales (n,), quants (n, bs)[,
    dequant (n, bs)]), decoded from the bytes into arrays made by ``alloc(shape,
    dtype)`` or the caller's ``out_views``. ``decode(codes, packed, rc, scales, pairs,
    quants, dequant, want_dq)`` is _emit.decode_blocks (the GPU path passes its device
    twin and device_array)."""
    n, bs = codes.size, packed.shape[1] * 2
    given = out_views is not None
    if not given:
        out_views = [alloc(n, np.float32), alloc((n, bs), np.float32)]
        if return_dequant:
            out_views.append(alloc((n, bs), np.float32))
    scales, quants = out_views[0], out_views[1]
    dequant = out_views[2] if return_dequant else alloc((1, bs), np.float32)  # (1, bs): unused
    if n:
        # (decode stores two floats at a time: a caller's buffer may not be 8-byte aligned)
        target = np.empty_like(quants) if given and quants.ctypes.data % 8 else quants
        decode(codes, packed, rc, scales, target.view(np.uint64), target, dequant, bool(return_dequant))
        if target is not quants:
            quants[...] = target
    return tuple(out_views)


def kernel_results(codes, packed, rc, return_dequant, as_bytes, batch_shape, dim, out_views=None,
                   alloc=output_array, decode=_decode_on_host):
    """What a method function returns (before the tensor scale) from the kernels'
    ``(codes, packed)``: the bytes in the seed's shapes with ``as_bytes``, else the
    float outputs (float_outputs, whose ``out_views``, ``alloc`` and ``decode`` these
    are) in the seed's shapes."""
    if as_bytes:
        return from_blocks_bytes(codes, packed, batch_shape, dim)
    floats = float_outputs(codes, packed, rc, return_dequant, out_views, alloc, decode)
    return from_blocks(floats[0], floats[1], floats[2] if return_dequant else None, batch_shape, dim)


def tensor_amax(x, given=None):
    """float32 largest magnitude of the blocks ``x`` (0 when it is NaN/Inf: the kernels
    report those), or the caller's ``given`` amax (e.g. of the whole tensor when ``x`` is
    a slice of it), checked against it by :func:`check_tensor_amax`. ``x`` may be None
    when ``given`` was checked already (the GPU path, against the device's max|W|)."""
    m = np.float32(0.0) if x is None else absmax(x)
    return m if given is None else check_tensor_amax(given, m)


def check_tensor_amax(given, actual):
    """The caller's tensor amax as float32: a finite non-negative scalar, at least the
    input's own float32 max|W| ``actual`` (a smaller one would saturate the largest
    blocks; a larger one is the amax of a whole tensor of which W is a slice)."""
    a = np.float32(given)
    if not (np.ndim(given) == 0 and np.isfinite(a) and a >= 0):
        raise ValueError(f"tensor_amax must be a finite non-negative scalar, got {given!r}")
    if a < actual:
        raise ValueError(
            f"tensor_amax={a!s} is smaller than max|W| = {actual!s} of the input; pass the amax of the whole "
            f"tensor this is a slice of"
        )
    return a


def tensor_params(r, rounding, x, amax):
    """The recipe ``r``'s constants for the blocks ``x`` (its tensor amax taken from x
    unless ``amax`` is given; x may be None then)."""
    return recipes.params(r, rounding, tensor_amax(x, amax) if r.two_level else np.float32(0.0))


def with_tensor_scale(result, r, rc):
    """The method's result tuple, with the tensor scale appended for a two-level recipe."""
    return tuple(result) + (rc.ts,) if r.two_level else result


def run_block_kernel(kernel, W, dim, return_dequant, recipe, rounding, amax, *extra, out=None, as_bytes=False):
    """Run a per-block kernel ``kernel(x, xbits, rc, dec, (codes, packed), status,
    *extra)`` (_emit: what it writes) and return the seed-shaped ``(scales, quants[,
    dequant])`` decoded from its bytes (written into ``out`` when given) or, with
    ``as_bytes``, the bytes ``(scale_bytes, packed_codes)`` (from_blocks_bytes), with
    the tensor scale appended for two-level recipes. ``kernel`` may be a pair (kernel,
    twin compiled with rc frozen to recipes.SEED_PARAMS): the twin runs when the call's
    constants equal those.

    ``recipe``/``rounding`` as the public functions take them; ``amax`` the caller's
    tensor amax or None (computed from W when the recipe has a tensor scale)."""
    check_as_bytes(return_dequant, as_bytes, out)
    r = recipes.get_recipe(recipe)
    x, batch_shape, dim = to_blocks(W, dim)
    views = None if out is None else _out_views(out, batch_shape, x.shape[1], dim, return_dequant)
    rc = tensor_params(r, rounding, x, amax)
    if isinstance(kernel, tuple):
        kernel = kernel[1] if rc == recipes.SEED_PARAMS else kernel[0]
    n, bs = x.shape
    codes, packed = kernel_outputs(n, bs, output_array)
    status = np.empty(n, np.uint8)
    if n:
        extra = tuple(kernel_input(a) for a in extra)
        kernel(x, x.view(np.uint32), rc, formats.E4M3_DECODE, (codes, packed), status, *extra)
        if status.any():
            check_status(status, W, recipe=r)
    result = kernel_results(codes, packed, rc, return_dequant, as_bytes, batch_shape, dim, views)
    return with_tensor_scale(out if out is not None else result, r, rc)
