"""Reading inputs lazily: a safetensors file, a sharded checkpoint (index json), a model
folder, ``.npy`` / ``.npz``; and calibration data (activations or Hessians per layer)."""

import dataclasses
import json
import os
import zipfile
import zlib

import numpy as np

from .._convert import to_float32
from .._safetensors import SafetensorsError, SafetensorsFile, TensorInfo, dtype_name
from .paths import CheckpointError, folder_file, load_json  # noqa: F401  (CheckpointError: re-exported)


#: What reading a damaged .npy / .npz may raise (NumPy parses headers with ast).
NPZ_ERRORS = (OSError, ValueError, SyntaxError, TypeError, KeyError, EOFError, RecursionError, MemoryError,
               zipfile.BadZipFile, NotImplementedError, zlib.error, RuntimeError)  # RuntimeError: encrypted


class ArrayFile:
    """A ``.npy`` or ``.npz`` file behind the interface of SafetensorsFile."""

    def __init__(self, path):
        self.path, self.metadata = path, {}
        try:
            if path.endswith(".npy"):
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                self._arrays = {os.path.splitext(os.path.basename(path))[0]: arr}
                shapes = {k: (a.dtype, a.shape) for k, a in self._arrays.items()}
            else:
                self._arrays = None
                shapes = npz_headers(path)
        except NPZ_ERRORS as e:
            raise CheckpointError(f"{path}: cannot read: {type(e).__name__}: {e}") from None
        self.infos = {}
        for name, (dt, shape) in shapes.items():
            try:
                st = dtype_name(dt)
            except TypeError:
                raise CheckpointError(f"{path}: array {name!r} has dtype {dt}, which has no safetensors "
                                      f"equivalent") from None
            self.infos[name] = TensorInfo(name, st, tuple(shape), 0, 0)

    def __contains__(self, name):
        return name in self.infos

    def get(self, name):
        if self._arrays is not None:
            return self._arrays[name]
        return read_npz(self.path, name)

    def raw(self, name):
        return np.ascontiguousarray(self.get(name)).reshape(-1).view(np.uint8)

    def bits(self, name):
        return self.get(name), None

    def float32(self, name):
        return to_float32(self.get(name))


def read_npz(path, name):
    """Array ``name`` of an .npz file: its member ``name.npy`` exactly (np.load would also
    take a member called ``name``), as :func:`npz_headers` described it; a damaged member
    is a CheckpointError naming it."""
    try:
        with zipfile.ZipFile(path) as z, z.open(name + ".npy") as f:
            a = np.lib.format.read_array(f, allow_pickle=False)
    except NPZ_ERRORS as e:
        raise CheckpointError(f"{path}: cannot read array {name!r}: {type(e).__name__}: {e}") from None
    return a


def npz_headers(path):
    """{name: (dtype, shape)} of an .npz file, from the member headers only."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            if not member.endswith(".npy"):
                continue
            with z.open(member) as f:
                version = np.lib.format.read_magic(f)
                shape, _, dt = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                else np.lib.format.read_array_header_2_0(f))
            out[member[:-4]] = (dt, shape)
    return out


@dataclasses.dataclass
class Checkpoint:
    """An opened input: ``shards`` maps each file name to its reader (tensors listed by
    ``reader.infos``), ``where`` maps tensor name to shard, ``folder`` is the model folder
    when the input was one (its other files are copied), ``config`` its config.json."""

    path: str
    shards: dict
    where: dict
    folder: str = None
    config: dict = None
    sharded: bool = False

    def info(self, name):
        return self.shards[self.where[name]].infos[name]

    def get(self, name):
        return self.shards[self.where[name]].get(name)

    def raw(self, name):
        return self.shards[self.where[name]].raw(name)

    def bits(self, name):
        """``(a, bits)``: the weight as stored, 16-bit floats as their bits (SafetensorsFile.bits)."""
        return self.shards[self.where[name]].bits(name)

    def float32(self, name):
        """``(W, amax)``: the weight as float32 and its max|W| (:func:`nvfp4_np._convert.to_float32`)."""
        return self.shards[self.where[name]].float32(name)

    def names(self):
        return list(self.where)

    def inputs(self):
        """Every path the checkpoint is read from: its folder, the input, the shards."""
        return ([self.folder] if self.folder else []) + [self.path] + [r.path for r in self.shards.values()]


def open_checkpoint(path):
    """Open a checkpoint lazily: a ``.safetensors`` file, a sharded checkpoint's
    ``*.safetensors.index.json``, a model folder holding either, a ``.npy`` or a ``.npz``.
    Raises CheckpointError naming the file for anything unreadable."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file or folder")
    folder = None
    if os.path.isdir(path):
        folder = path
        files = os.listdir(path)
        indexes = sorted(f for f in files if f.endswith(".safetensors.index.json"))
        singles = sorted(f for f in files if f.endswith(".safetensors"))
        if indexes:
            path = folder_file(folder, indexes[0], "index")
        elif len(singles) == 1:
            path = folder_file(folder, singles[0], "checkpoint")
        else:
            raise CheckpointError(f"{folder}: expected one .safetensors file or a *.safetensors.index.json, found "
                                  f"{len(singles)} .safetensors files and no index")
    config = None
    if folder and os.path.lexists(os.path.join(folder, "config.json")):
        config = load_json(folder_file(folder, "config.json", "config"), "config.json")
        if not isinstance(config, dict):
            raise CheckpointError(f"{folder}/config.json: not a JSON object")
    try:
        if path.endswith(".index.json"):
            shards, where = _open_index(path)
            return Checkpoint(path, shards, where, folder, config, sharded=True)
        if path.endswith((".npy", ".npz")):
            reader = ArrayFile(path)
        else:
            reader = SafetensorsFile(path)
    except SafetensorsError as e:
        raise CheckpointError(str(e)) from None
    except OSError as e:
        where = f" {e.filename}" if e.filename and e.filename != path else ""
        raise CheckpointError(f"{path}: cannot read{where}: {e.strerror or e}") from None
    name = os.path.basename(path) if isinstance(reader, SafetensorsFile) else "model.safetensors"
    return Checkpoint(path, {name: reader}, {t: name for t in reader.infos}, folder, config)


def _open_index(path):
    index = load_json(path, "the safetensors index")
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(f"{path}: not a safetensors index (need a JSON object whose 'weight_map' maps tensor "
                              f"names to shard file names)")
    base = os.path.dirname(path) or "."
    shards = {}
    for shard in dict.fromkeys(weight_map.values()):
        file = folder_file(base, shard, f"{path}: shard")
        if not shard.endswith(".safetensors"):
            raise CheckpointError(f"{path}: shard {shard!r} is not a .safetensors file name")
        if not os.path.isfile(file):
            raise CheckpointError(f"{path}: shard {shard!r} is not a file in {os.path.abspath(base)}")
        shards[shard] = SafetensorsFile(file)
    where = {}
    for shard, reader in shards.items():
        for t in reader.infos:
            if t in where:
                raise CheckpointError(f"{path}: tensor {t!r} is in two shards, {where[t]} and {shard}")
            where[t] = shard
    for t, shard in weight_map.items():
        if where.get(t) != shard:
            raise CheckpointError(f"{path}: the index puts tensor {t!r} in {shard}, but "
                                  f"{'it is in ' + where[t] if t in where else 'no shard holds it'}")
    return shards, where


#: The key of the metadata record that ``nvfp4-np calibrate`` writes (UTF-8 JSON, uint8).
CALIBRATION_KEY = "__calibration__"


class Calibration:
    """Activations or Hessians per layer from an ``.npz``.

    Keys: ``<module>`` or ``<module>.weight`` hold activations X (T, K); ``<module>.H`` or
    ``<module>.weight.H`` hold the Hessian X^T X (K, K) or its diagonal blocks
    (K/bs, bs, bs); ``<module>.amax`` the activations' max |X| (W4A4). A file written by
    ``nvfp4-np calibrate`` also has a metadata record whose ``aliases`` map a layer to the
    layer whose record it shares (same input). Arrays are read only when their layer is
    quantized.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise CheckpointError(f"{self.path}: no such calibration file")
        try:
            headers = npz_headers(self.path)
        except NPZ_ERRORS as e:
            raise CheckpointError(f"{self.path}: not a readable .npz: {type(e).__name__}: {e}") from None
        self.shapes = {k: tuple(s) for k, (_, s) in headers.items()}
        self.dtypes = {k: dt for k, (dt, _) in headers.items()}
        self.metadata, self.aliases = {}, {}
        if CALIBRATION_KEY in self.shapes:
            try:
                self.metadata = json.loads(bytes(read_npz(self.path, CALIBRATION_KEY).astype(np.uint8)).decode())
                self.aliases = dict(self.metadata.get("aliases") or {})
            except (ValueError, TypeError, AttributeError, RecursionError) as e:
                raise CheckpointError(f"{self.path}: its {CALIBRATION_KEY!r} record is not JSON metadata: {e}") \
                    from None
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.aliases.items()):
                raise CheckpointError(f"{self.path}: its aliases must map module names to module names")

    def _modules(self, name):
        """(weight name, module) whose entries hold weight ``name``'s calibration: its
        own, or those of the layer it shares its input with."""
        module = name[:-len(".weight")] if name.endswith(".weight") else name
        if module in self.aliases:
            module = self.aliases[module]
            return module + ".weight", module
        return name, module

    def lookup(self, name):
        """(kind, key) for weight ``name``: kind "X" or "H", or (None, None)."""
        name, module = self._modules(name)
        for kind, keys in (("X", (name, module)), ("H", (name + ".H", module + ".H"))):
            for k in keys:
                if k in self.shapes:
                    return kind, k
        return None, None

    def lookup_amax(self, name):
        """(kind, key) of what gives weight ``name``'s activation amax: "X" (activations)
        or "amax" (a recorded max |X|), or what :meth:`lookup` finds (None or "H")."""
        kind, key = self.lookup(name)
        if kind == "X":
            return kind, key
        _, module = self._modules(name)
        if module + ".amax" in self.shapes:
            return "amax", module + ".amax"
        return kind, key

    def rows(self):
        """One dict per layer of a file written by ``nvfp4-np calibrate``: its module, K,
        tokens, activation amax, and the layer whose record it shares (or None)."""
        rows = []
        for key in sorted(k for k in self.shapes if k.endswith(".H")):
            m = key[:-2]
            rows.append({"module": m, "K": self.shapes[key][0] * self.shapes[key][-1],
                         "tokens": int(read_npz(self.path, m + ".tokens")) if m + ".tokens" in self.shapes else None,
                         "amax": float(read_npz(self.path, m + ".amax")) if m + ".amax" in self.shapes else None,
                         "shares": None})
        for m, r in sorted(self.aliases.items()):
            rows.append({"module": m, "K": None, "tokens": None, "amax": None, "shares": r})
        return rows

    def check(self, name, K, bs):
        """The calibration entry of weight ``name`` with K columns, checked; None if none."""
        kind, key = self.lookup(name)
        if key is None:
            return None
        shape, dt = self.shapes[key], self.dtypes[key]
        if not np.issubdtype(dt, np.floating):
            raise CheckpointError(f"{self.path}: {key!r} (for tensor {name!r}) has dtype {dt}; activations and "
                                  f"Hessians must be floating (float16, float32 or float64)")
        ok = {"X": len(shape) == 2 and shape[1] == K,
              "H": shape in ((K, K), (K // bs, bs, bs))}[kind]
        if not ok:
            want = f"(T, {K})" if kind == "X" else f"({K}, {K}) or ({K // bs}, {bs}, {bs})"
            raise CheckpointError(f"{self.path}: {key!r} has shape {shape}, but tensor {name!r} has K = {K}: "
                                  f"{'activations' if kind == 'X' else 'a Hessian'} must be {want}")
        return kind, key

    def block_only(self, entry):
        """Whether the checked entry ``(kind, key)`` holds block Hessians only (not X nor a
        whole (K, K) H: what GPTQ needs)."""
        kind, key = entry
        return kind == "H" and len(self.shapes[key]) == 3

    def load(self, key):
        return read_npz(self.path, key)


def reader(path):
    """The reader of one input file (what a Dask worker opens by itself)."""
    return ArrayFile(path) if path.endswith((".npy", ".npz")) else SafetensorsFile(path)
