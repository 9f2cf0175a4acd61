"""Writing an output folder atomically."""

import json
import os
import shutil
import tempfile

from .._safetensors import SafetensorsWriter, nbytes
from .source import CheckpointError


class CheckpointWriter:
    """Writes an output folder atomically: everything goes to a hidden temporary folder
    beside OUT, which is renamed to OUT by :meth:`commit`; :meth:`abort` (or any
    exception in a ``with`` block) removes it and leaves OUT as it was."""

    def __init__(self, out, overwrite=False):
        self.out = os.path.abspath(os.fspath(out))
        if os.path.exists(self.out) and not overwrite:
            raise CheckpointError(f"{self.out}: already exists (pass --overwrite to replace it)")
        parent = os.path.dirname(self.out)
        if not os.path.isdir(parent):
            raise CheckpointError(f"{parent}: no such folder for the output")
        self.tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.partial-", dir=parent)
        self._open = None
        self.weight_map, self.total_size = {}, 0  # of the shards written, for write_index

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_json(self, name, obj):
        with open(self.path(name), "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")

    def shard(self, name, specs, metadata):
        """A SafetensorsWriter for shard ``name`` holding ``specs`` (name, dtype, shape)."""
        for tensor, dtype, shape in specs:
            self.weight_map[tensor] = name
            self.total_size += nbytes(dtype, shape)
        self._open = SafetensorsWriter(self.path(name), specs, metadata)
        return self._open

    def write_index(self, name):
        """The sharded checkpoint's index json (Hugging Face's form) over the shards written."""
        self.write_json(name, {"metadata": {"total_size": self.total_size}, "weight_map": self.weight_map})

    def commit(self):
        """Replace OUT with the finished folder (an existing OUT is moved aside first and
        removed after, so OUT is never a mix of the two)."""
        old = None
        if os.path.exists(self.out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.out)}.old-", dir=os.path.dirname(self.out))
            os.rename(self.out, os.path.join(old, "x"))
        os.rename(self.tmp, self.out)
        if old:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self):
        if self._open is not None:
            self._open.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.abort()
        return False
