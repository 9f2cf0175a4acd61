"""MX-quantized arrays: :class:`MXTensor` (element codes, E8M0 scale bytes, and what
they mean) and :func:`quantize_mx`, what :func:`nvfp4_np.quantize` runs for
``fmt="mxfp4"`` and the other MX formats of :data:`nvfp4_np.registry.FORMATS`."""

import json
from dataclasses import dataclass

import numpy as np

from . import core, encoding, mx, registry
from ._convert import _bits_kind, to_float32

__all__ = ["MXTensor", "quantize_mx"]

#: Version of the layout written by ``to_dict`` / ``save``.
FORMAT_VERSION = 1
_META_FORMAT = "nvfp4_np.MXTensor"


def e8m0_values(scale_bytes):
    """The E8M0 scales as float32: 2^(b - 127) (2^-127 a float32 subnormal), NaN for 0xFF."""
    b = np.asarray(scale_bytes, np.uint8).astype(np.uint32)
    out = (b << np.uint32(23)).view(np.float32)  # (exact for bytes 1..254)
    out = np.where(b == 0, np.float32(2.0 ** -127), out)
    return np.where(b == mx.E8M0_NAN, np.float32(np.nan), out).astype(np.float32)


@dataclass(frozen=True)
class MXTensor:
    """An MX-quantized array (OCP Microscaling: blocks of 32, one E8M0 byte each), as bytes.

    The block axis is stored last, as in :class:`nvfp4_np.NVFP4Tensor`.

    Attributes
    ----------
    codes : ndarray of uint8
        The element codes: for ``"mxfp4"`` packed two per byte, shape (..., K // 2),
        element 2i in the low nibble; for the FP6 formats one code per byte in the low 6
        bits, shape (..., K) (:meth:`packed_codes` gives four in three bytes); for the
        FP8 formats the E4M3 / E5M2 bytes, shape (..., K).
    scale_bytes : ndarray of uint8, shape (..., K // 32)
        E8M0 bytes: the block's scale is 2^(b - 127).
    shape : tuple of int
        Shape of the original (and of the dequantized) array.
    fmt : str
        The MX format (:data:`nvfp4_np.mx.MX_FORMATS`).
    method : str
        How the bytes were chosen: "naive" (the rounding mode's byte, as torchao's
        ``to_mx``), "optimal" (least squared error), "hessian" (least r^T H r).
    axis : int
        The (non-negative) axis of ``shape`` along which blocks run.
    scale_rounding : str or None
        The naive method's rounding mode ("floor", "ceil", "even", "rceil", "rceil_cpu");
        None for the searched methods.
    """

    codes: np.ndarray
    scale_bytes: np.ndarray
    shape: tuple
    fmt: str
    method: str
    axis: int
    scale_rounding: str = None

    block_size = mx.MX_BLOCK

    def __repr__(self):
        rounding = f", scale_rounding={self.scale_rounding!r}" if self.scale_rounding else ""
        return (f"MXTensor(shape={self.shape}, fmt={self.fmt!r}, axis={self.axis}, method={self.method!r}"
                f"{rounding}, codes={self.codes.nbytes:,} bytes, scale_bytes={self.scale_bytes.nbytes:,} bytes)")

    @property
    def format(self):
        """The :class:`nvfp4_np.mx.MXFormat`."""
        return mx.MX_FORMATS[self.fmt]

    def _to_original(self, a):
        return np.moveaxis(a, -1, self.axis)

    def element_codes(self):
        """One code per element (uint8, shape of the input with ``axis`` last)."""
        return encoding.unpack_fp4(self.codes) if self.fmt == "mxfp4" else self.codes

    def packed_codes(self):
        """The codes as stored packed: MXFP4 two per byte (:attr:`codes`), FP6 four in
        three bytes (:func:`nvfp4_np.encoding.pack_fp6`), FP8 one per byte."""
        return encoding.pack_fp6(self.codes) if self.format.code_bits == 6 else self.codes

    @property
    def scales(self):
        """The block scales 2^(b - 127) as float32, shape of the input with ``axis``
        divided by 32."""
        return self._to_original(e8m0_values(self.scale_bytes))

    @property
    def quants(self):
        """The elements' values (float32), shape :attr:`shape`."""
        return self._to_original(self._quants())

    def _quants(self):
        table = self.format.element.decode_table().astype(np.float32)
        return table[self.element_codes()]

    def dequantize(self):
        """``value(code) * 2^(b - 127)`` in float32, shape :attr:`shape` (the decode of
        every MX consumer: one float32 product per element)."""
        q = self._quants()
        s = e8m0_values(self.scale_bytes)
        blocked = q.reshape(q.shape[:-1] + (q.shape[-1] // self.block_size, self.block_size))
        return self._to_original((blocked * s[..., None]).reshape(q.shape))

    # ------------------------------------------------------------------ serialisation

    def _meta(self):
        return {"format": _META_FORMAT, "version": FORMAT_VERSION, "shape": list(self.shape), "fmt": self.fmt,
                "method": self.method, "axis": self.axis, "scale_rounding": self.scale_rounding}

    def to_dict(self, prefix=""):
        """A dict of NumPy arrays (safetensors- and npz-ready): ``codes``,
        ``scale_bytes`` and ``meta`` (the other attributes as UTF-8 JSON in a uint8
        array), each key prefixed with ``prefix``."""
        meta = np.frombuffer(json.dumps(self._meta(), sort_keys=True).encode(), np.uint8)
        return {prefix + "codes": self.codes, prefix + "scale_bytes": self.scale_bytes, prefix + "meta": meta.copy()}

    @classmethod
    def from_dict(cls, d, prefix=""):
        """Inverse of :meth:`to_dict`; checks that the arrays fit the metadata."""
        try:
            raw = np.asarray(d[prefix + "meta"])
            codes = np.ascontiguousarray(d[prefix + "codes"])
            scale_bytes = np.ascontiguousarray(d[prefix + "scale_bytes"])
        except KeyError as e:
            raise ValueError(f"not an MXTensor dict: missing key {e.args[0]!r}") from None
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"MXTensor meta must be a 1-D uint8 array (UTF-8 JSON), got {raw.dtype} {raw.shape}")
        try:
            meta = json.loads(bytes(raw).decode())
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ValueError("MXTensor meta is not UTF-8 JSON") from None
        if not isinstance(meta, dict) or meta.get("format") != _META_FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported MXTensor metadata: {str(meta)[:200]}")
        fmt, method, rounding = meta.get("fmt"), meta.get("method"), meta.get("scale_rounding")
        if not all(v is None or isinstance(v, str) for v in (fmt, method, rounding)) \
                or fmt not in mx.MX_FORMATS or method not in registry.mx_methods():
            raise ValueError(f"unsupported MXTensor metadata: fmt {fmt!r}, method {method!r}")
        if (method == "naive") != (rounding is not None) or (rounding is not None and rounding not in mx.SCALE_ROUNDINGS):
            raise ValueError(f"unsupported MXTensor metadata: scale_rounding {rounding!r} for method {method!r} "
                             f"(naive has one of {list(mx.SCALE_ROUNDINGS)}, the searched methods None)")
        shape, axis = meta.get("shape"), meta.get("axis")
        if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape) and shape
                and type(axis) is int and 0 <= axis < len(shape)):
            raise ValueError(f"unsupported MXTensor metadata: shape {shape!r}, axis {axis!r}")
        shape = tuple(shape)
        moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
        K = moved[-1]
        if K % mx.MX_BLOCK:
            raise ValueError(f"unsupported MXTensor metadata: the block axis has {K} elements, not a multiple of 32")
        want = {"codes": moved[:-1] + ((K // 2,) if fmt == "mxfp4" else (K,)),
                "scale_bytes": moved[:-1] + (K // mx.MX_BLOCK,)}
        for name, arr in (("codes", codes), ("scale_bytes", scale_bytes)):
            if arr.dtype != np.uint8 or arr.shape != want[name]:
                raise ValueError(f"{name} must be uint8 of shape {want[name]} for an MXTensor of shape {shape}, "
                                 f"format {fmt}, got {arr.dtype} {arr.shape}")
        top = (1 << mx.MX_FORMATS[fmt].code_bits) - 1
        if fmt != "mxfp4" and top < 0xFF and codes.size and int(codes.max()) > top:
            raise ValueError(f"codes of {fmt} must be 0..{top} ({mx.MX_FORMATS[fmt].code_bits}-bit codes), "
                             f"got {int(codes.max())}")
        return cls(codes, scale_bytes, shape, fmt, method, axis, rounding)

    def save(self, path):
        """Write to an uncompressed ``.npz`` file (the arrays of :meth:`to_dict`)."""
        np.savez(path, **self.to_dict())

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save`."""
        with np.load(path) as z:
            return cls.from_dict({k: z[k] for k in z.files})


def quantize_mx(W, fmt, method, axis=-1, *, scale_rounding=None, X=None, H_blocks=None, device="cpu"):
    """Quantize ``W`` to the MX format ``fmt`` with blocks of 32 along ``axis``
    (:func:`nvfp4_np.quantize` with ``fmt=``; its parameters).

    ``method``: "naive" (the E8M0 byte by ``scale_rounding``, default "floor", bytes
    identical to torchao 0.18's ``to_mx``), "optimal" (the byte of least squared error)
    or "hessian" (the byte of least r^T H r, given activations ``X`` or ``H_blocks``);
    see :mod:`nvfp4_np.mx_search`. Returns an :class:`MXTensor`.
    """
    f = registry.block_format(fmt)
    m = registry.method(method)
    fn = m.mx_function(device if m.mx_gpu is None else core.check_device(device))
    rounding = registry.SCALE_ROUNDINGS[mx.check_scale_rounding(scale_rounding)]  # (a bad name first)
    if method != "naive" and scale_rounding is not None:
        raise ValueError(f"scale_rounding applies to method='naive' (the rounding of its E8M0 byte); method "
                         f"{method!r} searches the byte, got scale_rounding={scale_rounding!r}")
    if method != "naive":
        rounding = None
    if core.is_device_array(W):
        raise ValueError("the MX formats quantize host arrays: copy W to the host first")
    W = core.as_float_array(W, "W")
    if W.ndim == 0:
        raise ValueError("W must have at least 1 dimension, got a 0-d array")
    axis = core.normalize_axis(W.ndim, axis, "axis")
    shape = tuple(W.shape)
    K = shape[axis]
    if K % mx.MX_BLOCK:
        raise ValueError(f"W.shape[{axis}] = {K} must be a multiple of the MX block size 32 (W has shape {shape})")
    moved = np.moveaxis(W, axis, -1)
    with np.errstate(over="ignore"):  # (float64 beyond float32's range: Inf, reported below)
        x = moved.reshape(int(np.prod(moved.shape[:-1], dtype=np.int64)), K)
        # (bfloat16 and float16 convert exactly, in parallel; float64 rounds to nearest)
        # (the CPU's naive kernel reads bfloat16 itself: 2x less to read than its float32 copy)
        direct = x.dtype == np.float32 or (_bits_kind(x, None)[1] == mx._BFLOAT16 and method == "naive"
                                           and device == "cpu")
        x = np.ascontiguousarray(x) if direct else to_float32(x)[0]
    kw = {}
    if method == "naive":
        kw["scale_rounding"] = rounding
    if m.needs_activations:
        kw["H_blocks"] = _block_hessians(X, H_blocks, K)
    elif X is not None or H_blocks is not None:
        raise ValueError(f"X and H_blocks apply to method='hessian', not {method!r}")
    pack = f.name == "mxfp4"
    # (NumPy's allocator: measured 1.8 ms faster a call than core.output_array's populated
    # mappings on W 2048x4096 MXFP8, and faster on larger W too; docs/performance.md)
    codes, scale_bytes, n_nonfinite = fn(x, f.name, pack=pack, **kw)
    if n_nonfinite:
        raise core.nonfinite_error(W, "W", n_nonfinite)
    codes = codes.reshape(moved.shape[:-1] + (K // 2 if pack else K,))
    return MXTensor(codes, scale_bytes.reshape(moved.shape[:-1] + (K // mx.MX_BLOCK,)), shape, f.name, method, axis,
                    rounding)


def _block_hessians(X, H_blocks, K):
    from .hessian import block_hessians

    if (X is None) == (H_blocks is None):
        raise ValueError("method 'hessian' needs exactly one of X (activations (T, K)) or H_blocks "
                         "(K // 32, 32, 32)")
    if X is not None:
        X = core.as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != K:
            raise ValueError(f"X must have shape (T, {K}) (K = W's block axis), got {X.shape}")
        H_blocks = block_hessians(X, mx.MX_BLOCK, accumulate=np.float64)
    H = core.check_hessian_blocks(H_blocks, K // mx.MX_BLOCK, mx.MX_BLOCK)
    return np.asarray(H, np.float64)

