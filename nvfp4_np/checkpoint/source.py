"""Reading inputs lazily: a safetensors file, a sharded checkpoint (index json), a model
folder, ``.npy`` / ``.npz``; and calibration data (activations or Hessians per layer)."""

import dataclasses
import json
import os
import zipfile

import numpy as np

from .._safetensors import SafetensorsError, SafetensorsFile, TensorInfo, dtype_name


class CheckpointError(ValueError):
    """Bad input: the message names the file and the tensor."""


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
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise CheckpointError(f"{path}: cannot read: {e}") from None
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
        with np.load(self.path, allow_pickle=False) as z:
            return z[name]

    def raw(self, name):
        return np.ascontiguousarray(self.get(name)).reshape(-1).view(np.uint8)


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

    def names(self):
        return list(self.where)


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
        indexes = sorted(f for f in os.listdir(path) if f.endswith(".safetensors.index.json"))
        singles = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
        if indexes:
            path = os.path.join(path, indexes[0])
        elif len(singles) == 1:
            path = os.path.join(path, singles[0])
        else:
            raise CheckpointError(f"{folder}: expected one .safetensors file or a *.safetensors.index.json, found "
                                  f"{len(singles)} .safetensors files and no index")
    config = None
    if folder and os.path.exists(os.path.join(folder, "config.json")):
        try:
            with open(os.path.join(folder, "config.json")) as f:
                config = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{folder}/config.json: cannot read: {e}") from None
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
    try:
        with open(path) as f:
            index = json.load(f)
        weight_map = index["weight_map"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a safetensors index (need a JSON object with 'weight_map'): {e}") from None
    base = os.path.dirname(path)
    shards = {}
    for shard in dict.fromkeys(weight_map.values()):
        shards[shard] = SafetensorsFile(os.path.join(base, shard))
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


class Calibration:
    """Activations or Hessians per layer from an ``.npz``.

    Keys: ``<module>`` or ``<module>.weight`` hold activations X (T, K); ``<module>.H`` or
    ``<module>.weight.H`` hold the Hessian X^T X (K, K) or its diagonal blocks
    (K/bs, bs, bs). Arrays are read only when their layer is quantized.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise CheckpointError(f"{self.path}: no such calibration file")
        try:
            self.shapes = {k: tuple(s) for k, (_, s) in npz_headers(self.path).items()}
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{self.path}: not a readable .npz: {e}") from None

    def lookup(self, name):
        """(kind, key) for weight ``name``: kind "X" or "H", or (None, None)."""
        module = name[:-len(".weight")] if name.endswith(".weight") else name
        for kind, keys in (("X", (name, module)), ("H", (name + ".H", module + ".H"))):
            for k in keys:
                if k in self.shapes:
                    return kind, k
        return None, None

    def check(self, name, K, bs):
        """The calibration entry of weight ``name`` with K columns, checked; None if none."""
        kind, key = self.lookup(name)
        if key is None:
            return None
        shape = self.shapes[key]
        ok = {"X": len(shape) == 2 and shape[1] == K,
              "H": shape in ((K, K), (K // bs, bs, bs))}[kind]
        if not ok:
            want = f"(T, {K})" if kind == "X" else f"({K}, {K}) or ({K // bs}, {bs}, {bs})"
            raise CheckpointError(f"{self.path}: {key!r} has shape {shape}, but tensor {name!r} has K = {K}: "
                                  f"{'activations' if kind == 'X' else 'a Hessian'} must be {want}")
        return kind, key

    def load(self, key):
        with np.load(self.path, allow_pickle=False) as z:
            return z[key]


def reader(path):
    """The reader of one input file (what a Dask worker opens by itself)."""
    return ArrayFile(path) if path.endswith((".npy", ".npz")) else SafetensorsFile(path)
