"""The high-level entry point: ``quantize`` a (..., K) array, get an ``NVFP4Tensor``:
the bytes (packed E2M1 codes, E4M3 scale bytes, float32 tensor scale) and what they mean."""

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from . import core, encoding, recipes, registry
from .seed_helpers import nvfp4_dequantize

__all__ = ["NVFP4Tensor", "quantize", "METHODS"]

#: Block-scale methods selectable by name in ``quantize``: name -> CPU function (the
#: table of methods is :mod:`nvfp4_np.registry`).
METHODS = {name: m.function("cpu") for name, m in registry.METHODS.items()}
#: Version of the layout written by ``to_dict`` / ``save``.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class NVFP4Tensor:
    """An NVFP4-quantized array, as bytes.

    The block axis is stored last: ``codes`` and ``scale_bytes`` are laid out as the
    input with ``axis`` moved to the end (for the usual ``axis=-1`` that is the input's
    own layout, (..., K)).

    ``codes`` and ``scale_bytes`` are NumPy arrays, or device arrays when a device array
    was quantized with ``device="cuda"`` (:attr:`on_device`; :meth:`to_host` copies them;
    the other methods copy what they need).

    Attributes
    ----------
    codes : ndarray of uint8, shape (..., K // 2)
        Packed E2M1 codes, element 2i in the low nibble and 2i+1 in the high nibble.
    scale_bytes : ndarray of uint8, shape (..., K // block_size)
        E4M3 block-scale bytes, row-major ("linear" layout).
    tensor_scale : numpy.float32
        The per-tensor scale as the recipe stores it: the decode form (about
        ``amax / (6 * 448)``; 1.0 for the seed recipe), ``dequant = q * (scale *
        tensor_scale)``; for "compressed-tensors" its encode form ``weight_global_scale``
        (about ``6 * 448 / amax``), ``dequant = q * (scale / tensor_scale)``.
    shape : tuple of int
        Shape of the original (and of the dequantized) array.
    block_size : int
        16 or 32.
    recipe : str
        The arithmetic used (:data:`nvfp4_np.recipes.RECIPES`).
    method : str
        How block scales were chosen ("naive", "optimal", "hessian", "admm").
    axis : int
        The (non-negative) axis of ``shape`` along which blocks run.
    rounding : str
        E2M1 tie rule used ("seed" or "rne").
    mode : str or None
        The method's mode ("seed", "exact", "best") for "hessian" and "admm"; each group's
        scale search ("optimal", "hessian", "naive") for "gptq"; for "4over6" how each
        block chose between its candidates: the rule ("mse", "mae", "abs_max",
        "static_6", "static_4"), or "hessian" (r^T H r, given activations).
    block_shape : tuple or None
        (16, 16) when one scale serves each 16x16 tile of a 2-D weight (its byte is
        repeated on each of the tile's 16 rows of :attr:`scale_bytes`, the layout GEMM
        kernels read); None for 1-D blocks.
    """

    codes: np.ndarray
    scale_bytes: np.ndarray
    tensor_scale: np.float32
    shape: tuple
    block_size: int
    recipe: str
    method: str
    axis: int
    rounding: str
    mode: str = None
    block_shape: tuple = None

    def __repr__(self):
        """The parameters and byte counts, not the arrays (which can hold billions of
        elements)."""
        mode = f", mode={self.mode!r}" if self.mode else ""
        mode += f", block_shape={self.block_shape!r}" if self.block_shape else ""
        return (f"NVFP4Tensor(shape={self.shape}, block_size={self.block_size}, axis={self.axis}, "
                f"method={self.method!r}{mode}, recipe={self.recipe!r}, rounding={self.rounding!r}, "
                f"tensor_scale={float(self.tensor_scale)!r}, codes={self.codes.nbytes:,} bytes, "
                f"scale_bytes={self.scale_bytes.nbytes:,} bytes)")

    def _to_original(self, a):
        return np.moveaxis(a, -1, self.axis)

    @property
    def on_device(self):
        """Whether ``codes`` and ``scale_bytes`` are device arrays."""
        return core.is_device_array(self.codes)

    def to_host(self):
        """This tensor with NumPy ``codes`` and ``scale_bytes`` (itself if they are)."""
        if not self.on_device:
            return self
        return dataclasses.replace(self, codes=core.host_array(self.codes),
                                   scale_bytes=core.host_array(self.scale_bytes))

    @property
    def scales(self):
        """E4M3 block scales as float32, shape of the input with ``axis`` divided by
        ``block_size``."""
        return self._to_original(encoding.e4m3_values(core.host_array(self.scale_bytes)))

    def effective_scales(self):
        """The float32 scale each block's E2M1 values are multiplied by (what a loader
        computes: :func:`nvfp4_np.recipes.dequant_scales` of the E4M3 scales and the tensor
        scale), in the layout of :attr:`scale_bytes`."""
        sf = encoding.e4m3_values(core.host_array(self.scale_bytes))
        return recipes.dequant_scales(self.recipe, sf, self.tensor_scale)

    @property
    def quants(self):
        """Signed E2M1 values as float32, shape :attr:`shape`."""
        return self._to_original(encoding.fp4_values(encoding.unpack_fp4(core.host_array(self.codes))))

    def dequantize(self):
        """``q * (scale * tensor_scale)`` in float32 (``q * (scale / tensor_scale)`` for
        the compressed-tensors recipe): the kernels' dequant, shape :attr:`shape`."""
        q = encoding.fp4_values(encoding.unpack_fp4(core.host_array(self.codes)))
        blocked = q.reshape(q.shape[:-1] + (q.shape[-1] // self.block_size, self.block_size))  # also when empty
        sb = core.host_array(self.scale_bytes)
        dq = nvfp4_dequantize(encoding.e4m3_values(sb), blocked, -1, self.tensor_scale, self.recipe)
        return self._to_original(dq.reshape(q.shape))

    def swizzled_scales(self):
        """``scale_bytes`` in the 128x4 tiled layout tensor cores read
        (:func:`nvfp4_np.encoding.swizzle_scales`); a 1-D input counts as one row."""
        sb = core.host_array(self.scale_bytes)
        return encoding.swizzle_scales(sb[None] if sb.ndim == 1 else sb)

    # ------------------------------------------------------------------ serialisation

    def _meta(self):
        return {"format": "nvfp4_np.NVFP4Tensor", "version": FORMAT_VERSION, "shape": list(self.shape),
                "block_size": self.block_size, "recipe": self.recipe, "method": self.method,
                "axis": self.axis, "rounding": self.rounding, "mode": self.mode,
                **({} if self.block_shape is None else {"block_shape": list(self.block_shape)})}

    def to_dict(self, prefix=""):
        """A dict of NumPy arrays (safetensors- and npz-ready): ``codes``, ``scale_bytes``,
        ``tensor_scale`` (float32, shape (1,)) and ``meta`` (the other attributes as UTF-8
        JSON in a uint8 array), each key prefixed with ``prefix``."""
        meta = np.frombuffer(json.dumps(self._meta(), sort_keys=True).encode(), np.uint8)
        host = self.to_host()
        return {prefix + "codes": host.codes, prefix + "scale_bytes": host.scale_bytes,
                prefix + "tensor_scale": np.array([self.tensor_scale], np.float32),
                prefix + "meta": meta.copy()}

    @classmethod
    def from_dict(cls, d, prefix=""):
        """Inverse of :meth:`to_dict`; checks that the arrays fit the metadata."""
        try:
            meta = json.loads(bytes(np.asarray(d[prefix + "meta"], np.uint8)).decode())
            codes = np.ascontiguousarray(d[prefix + "codes"])
            scale_bytes = np.ascontiguousarray(d[prefix + "scale_bytes"])
            ts = np.asarray(d[prefix + "tensor_scale"], np.float32).reshape(-1)
        except KeyError as e:
            raise ValueError(f"not an NVFP4Tensor dict: missing key {e.args[0]!r}") from None
        if meta.get("format") != "nvfp4_np.NVFP4Tensor" or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported NVFP4Tensor metadata: {meta!r}")
        shape, bs, axis = tuple(meta["shape"]), meta["block_size"], meta["axis"]
        moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
        want = {"codes": moved[:-1] + (moved[-1] // 2,), "scale_bytes": moved[:-1] + (moved[-1] // bs,)}
        for name, arr in (("codes", codes), ("scale_bytes", scale_bytes)):
            if arr.dtype != np.uint8 or arr.shape != want[name]:
                raise ValueError(f"{name} must be uint8 of shape {want[name]} for an NVFP4Tensor of shape "
                                 f"{shape}, got {arr.dtype} {arr.shape}")
        if ts.size != 1:
            raise ValueError(f"tensor_scale must hold one float32, got shape {ts.shape}")
        block_shape = meta.get("block_shape")
        if block_shape is not None:
            block_shape = tuple(block_shape)
            if block_shape != (16, 16) or len(shape) != 2 or shape[1 - axis] % 16 or bs != 16:
                raise ValueError(f"unsupported NVFP4Tensor metadata: block_shape {block_shape!r} for shape {shape}, "
                                 f"block size {bs}")
        return cls(codes, scale_bytes, ts[0], shape, bs, meta["recipe"], meta["method"], axis, meta["rounding"],
                   meta.get("mode"), block_shape)

    def save(self, path):
        """Write to an uncompressed ``.npz`` file (the arrays of :meth:`to_dict`)."""
        np.savez(path, **self.to_dict())

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            return cls.from_dict({k: z[k] for k in z.files})


def quantize(W, block_size=None, method=registry.DEFAULT_METHOD, axis=-1, *, fmt=registry.DEFAULT_FORMAT,
             scale_rounding=None, recipe=None, rounding=None, X=None, H_blocks=None, mode=None, tensor_amax=None,
             block_shape=None, device="cpu", **options):
    """Quantize an array to NVFP4 (or an MX format, ``fmt=``) with blocks of
    ``block_size`` along ``axis``.

    Parameters
    ----------
    W : array_like, shape (..., K, ...)
        Any real floating dtype; ``W.shape[axis]`` must be a multiple of ``block_size``.
    block_size : {16, 32} or None
        None: the format's (16 for NVFP4; the MX formats take 32 only).
    method : {"naive", "optimal", "hessian", "admm", "gptq", "4over6"}, default "optimal"
        (the methods, their modes, recipes and kernels are :data:`nvfp4_np.registry.METHODS`)
        ``"optimal"`` searches the E4M3 scales for the least squared error per block;
        ``"hessian"`` for the least output error r^T H r given activations ``X`` (T, K)
        or block Hessians ``H_blocks`` (see :func:`nvfp4_np.nvfp4_optimal_hessian`);
        ``"admm"`` also refines the quants (:func:`nvfp4_np.nvfp4_admm`); ``"gptq"``
        rounds column by column with error compensation, given ``X`` or the full ``H``
        (:func:`nvfp4_np.nvfp4_gptq`); ``"4over6"`` (Four Over Six) keeps, per block, the
        scale that maps the block max to 6 or the one that maps it to 4, whichever gives
        the lower error by ``rule``, or by r^T H r when ``X`` or ``H_blocks`` is given
        (:func:`nvfp4_np.nvfp4_four_over_six`).
    axis : int, default -1
        The axis that is cut into blocks (the GEMM reduction axis, K).
    recipe : str or None, keyword-only
        The arithmetic (see :func:`nvfp4_np.nvfp4_naive` and validation/SPEC.md): for the
        block methods "seed" (the default), "te", "modelopt", "torchao",
        "compressed-tensors"; for "4over6" "fouroversix" (the default: fouroversix
        1.0.5's reference) or "te" (Transformer Engine's 4over6 quantizer).
    rounding : {"seed", "rne"} or None, keyword-only
        E2M1 tie rule; None takes the recipe's.
    X, H_blocks : array_like, optional, keyword-only
        Activations or block Hessians for ``method="hessian"`` / ``"admm"``.
    mode : str, optional, keyword-only
        The method's mode: ``"seed"`` (default) or ``"exact"`` for ``"hessian"``,
        ``"seed"`` (default) or ``"best"`` for ``"admm"``, ``"optimal"`` (default),
        ``"hessian"`` or ``"naive"`` (each group's scale search) for ``"gptq"``.
    tensor_amax : float, optional, keyword-only
        Largest magnitude of the whole tensor when ``W`` is a slice of it (two-level
        recipes; default ``max|W|``); smaller than ``max|W|`` is a ValueError.
    block_shape : None or (16, 16), keyword-only
        (16, 16): one scale per 16x16 tile of a 2-D ``W`` (TE's weight recipe: W and W^T
        quantize alike), for the methods that take it: ``"naive"`` (the recipe's scale of
        the tile's amax) and ``"optimal"`` (the least squared error over the tile's 256
        elements), both in :mod:`nvfp4_np.tiles`, CPU only, and ``"4over6"``; the tile's byte is
        stored on each of its rows (:attr:`NVFP4Tensor.block_shape`).
    **options : keyword-only
        The method's own options (:attr:`nvfp4_np.registry.Method.options`): for
        ``"gptq"``, ``H`` (the full (K, K) Hessian, instead of ``X``), ``damp``,
        ``order`` and ``block`` (:func:`nvfp4_np.nvfp4_gptq`; its mode is each group's
        scale search); for ``"4over6"``, ``rule`` ("mse", "mae", "abs_max", "static_6",
        "static_4"; default the recipe's: mse for fouroversix, mae for te) and
        ``scale_max`` (256 or 448: the E4M3 bound in the tensor constant K = vmax *
        scale_max, vmax 6 (4 for static_4); default 256 for the 4/6 rules, 448 for
        static_6 and static_4).
    fmt : str, keyword-only
        The block format (:data:`nvfp4_np.registry.FORMATS`): "nvfp4" (the default), or
        an MX format, "mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2"
        (blocks of 32 with an E8M0 scale; methods "naive", "optimal", "hessian"; returns
        an :class:`nvfp4_np.MXTensor`; see :func:`nvfp4_np.mx_tensor.quantize_mx`).
    scale_rounding : {"floor", "ceil", "even", "rceil", "rceil_cpu"} or None, keyword-only
        The MX formats' naive E8M0 byte (None: "floor", OCP MX v1.0's), with torchao's
        ``to_mx`` arithmetic: "rceil" is the exact ceiling (NVIDIA's cvt.rp, torchao on a
        GPU), "rceil_cpu" torchao's CPU fallback (:data:`nvfp4_np.mx.SCALE_ROUNDINGS`).
    device : {"cpu", "cuda"}, keyword-only
        Where the kernels run; the bytes are identical (see :mod:`nvfp4_np.gpu`). A device
        array ``W`` (numba, CuPy, PyTorch CUDA: float32, C-contiguous, blocks along the
        last axis) needs ``"cuda"`` and gives a tensor whose bytes stay on the device
        (:meth:`NVFP4Tensor.to_host`).
        ``"cuda"`` without numba-cuda or a GPU raises
        :class:`nvfp4_np.core.DeviceUnavailableError` (a RuntimeError) before any work.

    Returns
    -------
    NVFP4Tensor (MXTensor for an MX ``fmt``)

    Examples
    --------
    >>> import numpy as np, nvfp4_np
    >>> W = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    >>> t = nvfp4_np.quantize(W, block_size=16, method="optimal", recipe="te")
    >>> t.codes.shape, t.scale_bytes.shape, t.codes.dtype
    ((4, 32), (4, 4), dtype('uint8'))
    >>> t.dequantize().shape
    (4, 64)
    """
    f = registry.block_format(fmt)
    if f.is_mx:
        return _quantize_mx(W, block_size, method, axis, f, scale_rounding, X, H_blocks, device,
                            recipe=recipe, rounding=rounding, mode=mode, tensor_amax=tensor_amax,
                            block_shape=block_shape, **options)
    if scale_rounding is not None:
        raise ValueError(f"scale_rounding applies to the MX formats (E8M0 scales); NVFP4's naive scale is its "
                         f"recipe's, got scale_rounding={scale_rounding!r}")
    block_size = core.check_block_size(16 if block_size is None else block_size)
    m = registry.method(method)
    if block_size not in m.block_sizes:
        raise ValueError(f"method {method!r} takes block sizes {m.block_sizes}, got {block_size}")
    fn = m.function(device if m.gpu is None else core.check_device(device))  # (a CPU-only method says so first)
    r = recipes.get_recipe(m.check_recipe(recipe))
    on_device = core.is_device_array(W)
    if on_device:  # bytes stay on the device; W as numba sees it (CuPy and PyTorch arrays too)
        W = _device_input(W, device, axis)
    else:
        W = core.as_float_array(W, "W")
    if W.ndim == 0:
        raise ValueError("W must have at least 1 dimension, got a 0-d array")
    axis = core.normalize_axis(W.ndim, axis, "axis")
    shape = tuple(W.shape)
    K = shape[axis]
    if K % block_size:
        raise ValueError(
            f"W.shape[{axis}] = {K} must be a multiple of block_size={block_size} (W has shape {shape})"
        )
    if block_shape is not None:
        block_shape = _check_block_shape(block_shape, m, W, axis, block_size)
    moved = W if on_device else np.moveaxis(W, axis, -1)
    moved_shape = tuple(moved.shape)
    blocked = moved.reshape(moved_shape[:-1] + (K // block_size, block_size))
    kw = {"recipe": r, "rounding": rounding, "tensor_amax": tensor_amax}
    unknown = sorted(set(options) - set(m.options))
    if unknown:
        takes = f"it takes {', '.join(m.options)}" if m.options else "it takes none"
        raise TypeError(f"quantize() got options {unknown} that method {method!r} does not take ({takes})")
    kw.update(options)
    mode = m.check_mode(mode)  # (the default for None; an error names the method's modes, or that it has none)
    if m.modes:
        kw["mode"] = mode
    if block_shape is not None:
        kw["block_shape"] = block_shape
        fn = m.tile_function(device)
    if m.takes_full_hessian and H_blocks is not None:
        raise ValueError(f"method {method!r} takes the full Hessian H (K, K) or X, not H_blocks")
    if m.needs_activations or (m.takes_activations and (X is not None or H_blocks is not None)):
        kw["X"] = X
        if not m.takes_full_hessian:
            kw["H_blocks"] = H_blocks
    elif X is not None or H_blocks is not None:
        takes = [n for n, e in registry.METHODS.items() if e.needs_activations or e.takes_activations]
        raise ValueError(f"X and H_blocks apply to method={' or '.join(map(repr, takes))}, not {method!r}")
    try:  # the kernels write the bytes: scale bytes (..., K // bs), codes (..., K // bs, bs // 2)
        result = fn(blocked, dim=-1, as_bytes=True, **kw)
    except core.NonFiniteError as e:  # report the position in W, not in the blocked view
        raise core.nonfinite_error(core.host_array(W), "W", e.n_blocks) from None
    scale_bytes, codes = result[0], result[1]
    ts = result[2] if r.two_level else np.float32(1.0)
    if len(result) > 3:  # the method names how it chose (4over6: its rule, or "hessian")
        mode = result[3]
    codes = codes.reshape(moved_shape[:-1] + (K // 2,))
    return NVFP4Tensor(codes, scale_bytes, np.float32(ts), shape, block_size, r.name,
                       method, axis, r.rounding if rounding is None else rounding, mode, block_shape)


def _quantize_mx(W, block_size, method, axis, f, scale_rounding, X, H_blocks, device, **nvfp4_only):
    from .mx_tensor import quantize_mx

    if block_size not in (None,) + f.block_sizes:
        raise ValueError(f"fmt {f.name!r} has blocks of {f.block_sizes[0]}, got block_size={block_size!r}")
    given = sorted(k for k, v in nvfp4_only.items() if v is not None)
    if given:
        raise TypeError(f"quantize() got {', '.join(given)}, which apply to fmt='nvfp4', not to fmt={f.name!r}")
    return quantize_mx(W, f.name, method, axis, scale_rounding=scale_rounding, X=X, H_blocks=H_blocks, device=device)


def _check_block_shape(block_shape, m, W, axis, block_size):
    """``block_shape`` as a tuple if the method takes it for this ``W``, else ValueError."""
    shape = registry.block_shape(block_shape)
    if shape not in m.block_shapes:
        takes = f"takes {' or '.join(map(str, m.block_shapes))}" if m.block_shapes else "takes only 1-D blocks"
        raise ValueError(f"block_shape {block_shape!r}: method {m.name!r} {takes} (block_shape=None)")
    nd = len(W.shape)
    if nd != 2:
        raise ValueError(f"block_shape {shape} needs a 2-D W, got shape {tuple(W.shape)}")
    if block_size != shape[1]:
        raise ValueError(f"block_shape {shape} has blocks of {shape[1]} along the axis, got block_size={block_size}")
    rows = W.shape[1 - axis]
    if rows % shape[0]:
        raise ValueError(f"block_shape {shape}: W has {rows} rows across the block axis, not a multiple of {shape[0]}")
    return shape


def _device_input(W, device, axis):
    """A device array W as quantize takes it: with ``device="cuda"``, blocks along the
    last axis (C-contiguous float32 is checked by the GPU path), as a numba device array."""
    if device != "cuda":
        raise ValueError("W is a device array: quantize it with device='cuda' (or copy it to the host first)")
    from . import _gpu

    x = W if hasattr(W, "copy_to_host") else _gpu.cuda().as_cuda_array(W)
    if len(x.shape) and axis not in (-1, len(x.shape) - 1):
        raise ValueError(f"for a device array W the blocks must run along the last axis, got axis={axis}")
    return x
