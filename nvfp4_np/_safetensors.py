"""A strict, lazy reader and a streaming writer for the safetensors format, in NumPy.

The ``safetensors`` package's NumPy API has no bfloat16 or float8 (checkpoints are mostly
bf16, and the NVFP4 layout stores float8_e4m3fn scales), and reading through torch would
make torch a dependency. The format is small: 8 bytes of little-endian header length N, N
bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}``, then the data, offsets relative to its start. Tensors are read as
``np.memmap`` views, so opening a 100 GB file costs its header and memory stays bounded by
what is touched.
"""

import contextlib
import errno
import json
import math
import os

import numpy as np

from ._convert import to_float32

#: safetensors dtype name -> (bits per element, its NumPy dtype: a dtype, the name of an
#: ml_dtypes type (resolved by :func:`numpy_dtype`), or None when NumPy has none).
DTYPES = {
    "F64": (64, np.dtype(np.float64)), "F32": (32, np.dtype(np.float32)),
    "F16": (16, np.dtype(np.float16)), "BF16": (16, "bfloat16"),
    "F8_E4M3": (8, "float8_e4m3fn"), "F8_E5M2": (8, "float8_e5m2"), "F8_E8M0": (8, "float8_e8m0fnu"),
    "I64": (64, np.dtype(np.int64)), "I32": (32, np.dtype(np.int32)), "I16": (16, np.dtype(np.int16)),
    "I8": (8, np.dtype(np.int8)), "U64": (64, np.dtype(np.uint64)), "U32": (32, np.dtype(np.uint32)),
    "U16": (16, np.dtype(np.uint16)), "U8": (8, np.dtype(np.uint8)), "BOOL": (8, np.dtype(np.bool_)),
    "C64": (64, np.dtype(np.complex64)),
    "F6_E2M3": (6, None), "F6_E3M2": (6, None), "F4": (4, None),
}
#: The floating dtypes a weight may have to be quantized.
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
#: 8-bit float dtypes, which :meth:`SafetensorsWriter.write` also takes as their uint8 bytes.
FLOAT8_DTYPES = ("F8_E4M3", "F8_E5M2", "F8_E8M0")
_BY_NAME = {dt if isinstance(dt, str) else dt.name: name for name, (_, dt) in DTYPES.items() if dt is not None}


def numpy_dtype(name):
    """The NumPy dtype of safetensors dtype ``name``, or None where NumPy has none.
    ml_dtypes is imported here, only for a tensor of one of its types (its import takes
    over a second with some versions: reading and writing a checkpoint do without it)."""
    dt = DTYPES[name][1]
    if isinstance(dt, str):
        import ml_dtypes

        dt = np.dtype(getattr(ml_dtypes, dt))
    return dt


#: Refuse headers larger than this (the reference implementation's limit).
MAX_HEADER = 100_000_000
_ALIGN = 8


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file; the message names the file."""


#: Errors of a file being written that name the file written, not the one read.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


@contextlib.contextmanager
def writing(path):
    """Re-raise an OSError met while writing ``path`` with ``path`` as its file name when it
    names no file or is a full disk, quota or read-only filesystem (shutil names the source
    of a copy then): the message says where the disk ran full."""
    try:
        yield
    except OSError as e:
        if e.filename == path or (e.filename is not None and e.errno not in _WRITE_ERRNOS):
            raise
        raise OSError(e.errno, e.strerror or str(e), path) from None


def dtype_name(dt):
    """The safetensors name of a NumPy dtype."""
    dt = np.dtype(dt)
    name = _BY_NAME.get(dt.name)
    if name is None or numpy_dtype(name) != dt:  # a same-named foreign type
        raise TypeError(f"dtype {dt} has no safetensors equivalent")
    return name


def nbytes(dtype, shape):
    return -(-math.prod(shape) * DTYPES[dtype][0] // 8)  # integers: shapes from a file may be huge


class TensorInfo:
    """Where one tensor lives: name, safetensors dtype, shape, absolute byte range."""

    __slots__ = ("name", "dtype", "shape", "start", "end")

    def __init__(self, name, dtype, shape, start, end):
        self.name, self.dtype, self.shape, self.start, self.end = name, dtype, shape, start, end

    @property
    def numpy_dtype(self):
        return numpy_dtype(self.dtype)

    @property
    def is_float(self):
        return self.dtype in FLOAT_DTYPES

    def __repr__(self):
        return f"TensorInfo({self.name!r}, {self.dtype}, {self.shape})"


class SafetensorsFile:
    """An opened safetensors file: ``infos`` (name -> TensorInfo, in file order),
    ``metadata`` (dict), ``get(name)`` (a read-only memmap view)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.infos, self.metadata = _read_header(self.path)

    def __contains__(self, name):
        return name in self.infos

    def raw(self, name):
        """The tensor's bytes as a read-only uint8 view. Each tensor gets its own mapping,
        released with the last view of it: pages of tensors already processed do not
        stay in the process's resident memory."""
        info = self.infos[name]
        if info.end == info.start:
            empty = np.empty(0, np.uint8)
            empty.flags.writeable = False  # like every other tensor's view
            return empty
        return np.memmap(self.path, np.uint8, mode="r", offset=info.start, shape=(info.end - info.start,))

    def get(self, name):
        """The tensor as a read-only NumPy view of the file (no copy)."""
        info = self.infos[name]
        if info.numpy_dtype is None:
            raise SafetensorsError(f"{self.path}: tensor {name!r} has dtype {info.dtype}, which NumPy cannot hold")
        return self.raw(name).view(info.numpy_dtype).reshape(info.shape)

    def bits(self, name):
        """``(a, bits)``: tensor ``name`` without a copy, as the uint16 bits of its values
        for bfloat16 and float16 (``bits`` "BF16" or "F16"), else as :meth:`get` gives it
        (``bits`` None): what :func:`nvfp4_np._convert.to_float32` takes."""
        info = self.infos[name]
        if info.dtype in ("BF16", "F16"):
            return self.raw(name).view(np.uint16).reshape(info.shape), info.dtype
        return self.get(name), None

    def float32(self, name):
        """``(W, amax)``: floating tensor ``name`` as float32 (a new array, converted in
        parallel; bfloat16 and float16 without ml_dtypes) and its max|W| (see
        :func:`nvfp4_np._convert.to_float32`)."""
        return to_float32(*self.bits(name))


def _read_header(path):
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise SafetensorsError(f"{path}: not a safetensors file ({size} bytes, too short for a header)")
            n = int.from_bytes(head, "little")
            if n < 2 or n > MAX_HEADER or 8 + n > size:
                raise SafetensorsError(
                    f"{path}: not a safetensors file (header length {n} does not fit a file of {size} bytes)")
            header = f.read(n)
    except IsADirectoryError:
        raise SafetensorsError(f"{path}: is a directory, not a safetensors file") from None
    try:
        meta = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise SafetensorsError(f"{path}: not a safetensors file (header is not JSON: {e})") from None
    if not isinstance(meta, dict):
        raise SafetensorsError(f"{path}: not a safetensors file (header is not a JSON object)")
    metadata = meta.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{path}: __metadata__ must map strings to strings, got {metadata!r:.200}")
    try:
        json.dumps([meta, metadata], ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise SafetensorsError(f"{path}: not a safetensors file (header is not valid UTF-8 text: {e})") from None
    data_start, data_size = 8 + n, size - 8 - n
    infos = {}
    for name, e in meta.items():
        dtype, shape, (b, end) = _entry(path, name, e)
        if dtype not in DTYPES:
            raise SafetensorsError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        need = nbytes(dtype, shape)
        if end - b != need:
            raise SafetensorsError(
                f"{path}: tensor {name!r} ({dtype}, shape {list(shape)}) needs {need} bytes but its data_offsets "
                f"{[b, end]} span {end - b} ({abs(end - b - need)} {'too many' if end - b > need else 'too few'})")
        if end > data_size:
            raise SafetensorsError(
                f"{path}: truncated: tensor {name!r} ends at byte {data_start + end} but the file has {size} bytes")
        infos[name] = TensorInfo(name, dtype, shape, data_start + b, data_start + end)
    infos = dict(sorted(infos.items(), key=lambda kv: (kv[1].start, kv[1].end, kv[0])))
    _check_coverage(path, infos, data_start, data_size)
    return infos, metadata


def _entry(path, name, e):
    """(dtype, shape, (begin, end)) of one header entry, each of its type: a string and
    lists of non-negative integers (JSON numbers with no fraction; not strings or floats)."""
    def ints(v, n=None):
        return (isinstance(v, list) and (n is None or len(v) == n)
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in v))

    if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(f"{path}: tensor {name!r} has a malformed header entry {e!r:.200} (need exactly "
                               f"'dtype', 'shape' and 'data_offsets')")
    if not isinstance(e["dtype"], str):
        raise SafetensorsError(f"{path}: tensor {name!r} has dtype {e['dtype']!r:.100}, not a dtype name")
    if not ints(e["shape"]) or any(d >= 2**62 for d in e["shape"]):
        raise SafetensorsError(f"{path}: tensor {name!r} has shape {e['shape']!r:.100}, not a list of "
                               f"non-negative integers")
    offsets = e["data_offsets"]
    if not ints(offsets, 2) or offsets[0] > offsets[1]:
        raise SafetensorsError(f"{path}: tensor {name!r} has data_offsets {offsets!r:.100}, not two integers "
                               f"[begin, end] with 0 <= begin <= end")
    return e["dtype"], tuple(e["shape"]), tuple(offsets)


def _check_coverage(path, infos, data_start, data_size):
    """The tensors must tile the data section exactly, in offset order: no overlap, no
    gap, no bytes after the last one (the reference implementation refuses the rest)."""
    pos, prev = 0, None
    for name, info in infos.items():
        b, end = info.start - data_start, info.end - data_start
        if b != pos:
            where = f"the previous tensor {prev!r} ends at {pos}" if prev is not None else "the data starts at 0"
            how = f"{pos - b} bytes overlap" if b < pos else f"a gap of {b - pos} bytes"
            raise SafetensorsError(f"{path}: tensor {name!r} starts at data byte {b}, but {where}: {how}")
        pos, prev = end, name
    if pos != data_size:
        last = "" if prev is None else f" {prev!r}"
        raise SafetensorsError(f"{path}: {data_size - pos} bytes after the last tensor{last}"
                               f" (the data section has {data_size} bytes, the tensors {pos})")


class SafetensorsWriter:
    """Write tensors in a declared order, streaming: the header (all names, dtypes and
    shapes) is written first, then each tensor's bytes with :meth:`write`.

    Parameters
    ----------
    path : str
    specs : list of (name, dtype_name, shape)
        Every tensor the file will hold, in the order they will be written.
    metadata : dict of str to str, optional
    """

    def __init__(self, path, specs, metadata=None):
        header, offset = {}, 0
        if metadata:
            header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
        self._order = []
        for name, dtype, shape in specs:
            if name in header or name == "__metadata__":
                raise ValueError(f"duplicate tensor name {name!r}")
            size = nbytes(dtype, shape)
            header[name] = {"dtype": dtype, "shape": [int(d) for d in shape], "data_offsets": [offset, offset + size]}
            self._order.append((name, dtype, tuple(int(d) for d in shape), size))
            offset += size
        blob = json.dumps(header, separators=(",", ":")).encode()
        blob += b" " * (-(8 + len(blob)) % _ALIGN)  # data starts 8-byte aligned, as the reference writer does
        self.path = path
        self._f = open(path, "wb")
        self._next = 0
        try:
            with writing(path):
                self._f.write(len(blob).to_bytes(8, "little") + blob)
        except BaseException:
            self.abort()
            raise

    def write(self, name, data):
        """Write the next tensor: an array of its declared dtype and shape (an 8-bit float
        dtype's also as its bytes, uint8)."""
        a = np.asarray(data)
        want, dtype, shape, _ = self._order[self._next]
        if name != want:
            raise ValueError(f"expected tensor {want!r} next, got {name!r}")
        as_bytes = dtype in FLOAT8_DTYPES and a.dtype == np.uint8
        if not (as_bytes or a.dtype == numpy_dtype(dtype)) or a.shape != shape:
            raise ValueError(f"tensor {name!r}: header says {dtype} {shape}, got {a.dtype} {a.shape}")
        self.write_raw(name, np.ascontiguousarray(a.reshape(-1)).view(np.uint8))

    def write_raw(self, name, buf):
        """Write the next tensor from its raw bytes (a 1-D uint8 array, e.g.
        :meth:`SafetensorsFile.raw` of the tensor being copied)."""
        want, _, _, size = self._order[self._next]
        if name != want:
            raise ValueError(f"expected tensor {want!r} next, got {name!r}")
        if buf.dtype != np.uint8 or buf.ndim != 1 or buf.size != size:
            raise ValueError(f"tensor {name!r}: expected {size} raw bytes, got {buf.dtype} {buf.shape}")
        # Large copies go in 64 MiB pieces: a memmap source is paged in as it is written.
        with writing(self.path):
            for i in range(0, size, 1 << 26):
                self._f.write(memoryview(np.ascontiguousarray(buf[i:i + (1 << 26)])))
        self._next += 1

    def close(self):
        """Flush to disk (fsync); every declared tensor must have been written."""
        if self._next != len(self._order):
            missing = [n for n, *_ in self._order[self._next:]]
            self._f.close()
            raise ValueError(f"{self.path}: {len(missing)} tensors never written, first {missing[0]!r}")
        with writing(self.path):
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()

    def abort(self):
        try:
            self._f.close()
        except OSError:  # flushing what is buffered on a full disk: the file is removed anyway
            pass


def save(path, tensors, metadata=None):
    """Write a dict of NumPy arrays to a safetensors file (bfloat16 and float8 included)."""
    w = SafetensorsWriter(path, [(k, dtype_name(v.dtype), v.shape) for k, v in tensors.items()], metadata)
    try:
        for k, v in tensors.items():
            w.write(k, v)
    except BaseException:
        w.abort()
        raise
    w.close()


def load(path):
    """Read a whole safetensors file into a dict of NumPy arrays (copies)."""
    f = SafetensorsFile(path)
    return {k: np.array(f.get(k)) for k in f.infos}
