"""Writing an output folder atomically."""

import contextlib
import json
import os
import shutil
import signal
import threading
import zipfile

import numpy as np

from .._safetensors import SafetensorsWriter, nbytes, writing
from . import paths
from .source import CheckpointError

#: Files of an input folder not copied to the output: weights in any format, arrays
#: (calibration data), and the files each output writes anew. Everything else
#: (tokenizer, generation config, ...) is copied.
_NOT_COPIED = (".safetensors", ".npz", ".npy", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack")
_WRITTEN = ("config.json", paths.REPORT_NAME, "hf_quant_config.json")


class CheckpointWriter:
    """Writes an output folder atomically: everything goes to a hidden folder beside OUT
    (``.OUT.partial-<pid>-<random>``), which is renamed to OUT by :meth:`commit`;
    :meth:`abort` (or any exception in a ``with`` block) removes it and leaves OUT as it
    was.

    OUT is checked first (:func:`paths.check_output` against ``inputs``, the paths the run
    reads; ``overwrite`` False, True or "any"). Leftovers of earlier runs that were killed
    are named through ``note`` and, with ``overwrite``, removed."""

    def __init__(self, out, overwrite=False, inputs=(), note=None):
        self.overwrite, self.inputs = overwrite, list(inputs)
        self.out = paths.check_output(out, overwrite, self.inputs)
        parent = os.path.dirname(self.out)
        if not os.path.isdir(parent):
            raise CheckpointError(f"{parent}: no such folder for the output")
        clean_leftovers(self.out, overwrite, note)
        self.tmp = paths.make_hidden(self.out, "partial")
        self._open = None
        self._files = set()  # names handed out: each file of the folder is written once
        self.weight_map, self.total_size = {}, 0  # of the shards written, for write_index

    def path(self, name):
        """The path of the folder's file ``name``, which no other call has been given."""
        paths.plain_name(name, "output file")
        if name in self._files:
            raise CheckpointError(f"{self.out}: two outputs would both be written to {name!r}")
        self._files.add(name)
        return os.path.join(self.tmp, name)

    def write_json(self, name, obj):
        path = self.path(name)
        with writing(path), open(path, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")

    def copy(self, src, name):
        """Copy file ``src`` (its bytes and times) into the folder as ``name``."""
        dst = self.path(name)
        with writing(dst):
            shutil.copyfile(src, dst)
            shutil.copystat(src, dst)

    def shard(self, name, specs, metadata):
        """A SafetensorsWriter for shard ``name`` holding ``specs`` (name, dtype, shape)."""
        path = self.path(name)
        for tensor, dtype, shape in specs:
            if tensor in self.weight_map or tensor == "__metadata__":
                where = f"shard {self.weight_map[tensor]!r}" if tensor in self.weight_map else "the header's metadata"
                raise CheckpointError(f"{self.out}: two tensors would both be called {tensor!r} (in {name!r} and "
                                      f"{where})")
            self.weight_map[tensor] = name
            self.total_size += nbytes(dtype, shape)
        self._open = SafetensorsWriter(path, specs, metadata)
        return self._open

    def write_index(self, name):
        """The sharded checkpoint's index json (Hugging Face's form) over the shards written."""
        self.write_json(name, {"metadata": {"total_size": self.total_size}, "weight_map": self.weight_map})

    def commit(self):
        """Replace OUT with the finished folder. OUT is checked again (it may have appeared
        or changed during the run); an existing OUT is moved aside first and removed after,
        so OUT is never a mix of the two, and if the last rename fails the old OUT is put
        back. Stop signals wait until both renames are done."""
        paths.check_output(self.out, self.overwrite, self.inputs)
        old = None
        with _signals_held():
            if os.path.lexists(self.out):
                old = paths.make_hidden(self.out, "old")
                os.rename(self.out, os.path.join(old, "x"))
            try:
                os.rename(self.tmp, self.out)
            except BaseException:
                if old:
                    os.rename(os.path.join(old, "x"), self.out)
                    os.rmdir(old)
                raise
        if old:
            remove(old)

    def abort(self):
        if self._open is not None:
            self._open.abort()
        remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.abort()
        return False


class Behind:
    """Runs calls on one background thread, in the order given, so that writing (or
    reading) one tensor overlaps quantizing another. At most ``depth`` calls wait at a
    time (:meth:`submit` blocks beyond that), so memory stays bounded. A call's error is
    raised in the caller's thread, by a later :meth:`submit` or by :meth:`drain`;
    :meth:`close` (also on error) cancels what has not started and waits for the call
    that has, so nothing runs after the caller has moved on (e.g. removed the folder)."""

    def __init__(self, depth=2, name="nvfp4-np-writer"):
        import collections
        from concurrent.futures import ThreadPoolExecutor

        self.depth = depth
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending = collections.deque()

    def submit(self, fn, *args):
        """Queue ``fn(*args)``; returns its Future."""
        f = self._pool.submit(fn, *args)
        self._pending.append(f)
        while len(self._pending) > self.depth or (self._pending and self._pending[0].done()):
            self._pending.popleft().result()
        return f

    def drain(self):
        """Wait for every queued call; raise the first error."""
        while self._pending:
            self._pending.popleft().result()

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()


@contextlib.contextmanager
def _signals_held():
    """Delay SIGINT, SIGTERM and SIGHUP (in the main thread) until the block ends."""
    held = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def remove(path):
    """Remove a file, a link or a folder tree (not following links), ignoring errors."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.remove(path)
        except OSError:
            pass


def clean_leftovers(out, overwrite, note):
    """Name (through ``note``) the hidden leftovers of killed runs writing ``out``, and
    remove them when ``overwrite``; name those of runs still going."""
    stale, live = paths.leftovers(out)
    note = note or (lambda s: None)
    for p in stale:
        if overwrite:
            remove(p)
            note(f"removed {p}, left by an earlier run that was killed")
        else:
            note(f"{p} was left by an earlier run that was killed; --overwrite removes it")
    for p in live:
        note(f"{p} belongs to another run writing {out} that is still going")


def copy_other_files(ckpt, w, note):
    """Copy the input folder's files that are not weights, arrays, its index, or files
    the output writes anew (tokenizer, generation config, ...) into writer ``w``; links
    out of the folder are not followed (``note`` names them)."""
    skip = set(ckpt.shards) | {os.path.basename(ckpt.path), *_WRITTEN}
    for f in sorted(os.listdir(ckpt.folder)):
        if f in skip or f.endswith(_NOT_COPIED):
            continue
        if f.startswith("."):  # .env, .git, editor files: often secrets, never part of a model
            note(f"not copied: {os.path.join(ckpt.folder, f)} (a hidden file)")
            continue
        try:
            src = paths.folder_file(ckpt.folder, f, ckpt.folder)
        except CheckpointError as e:
            note(f"not copied: {e}")
            continue
        if os.path.isfile(src):
            w.copy(src, f)


def save_npz(path, arrays, mark):
    """np.savez's format (names are any strings here: np.savez's keyword arguments would
    take ``file`` or ``allow_pickle`` for its own), marked as nvfp4_np's by the zip
    comment ``mark``, which np.load ignores (:func:`paths.is_earlier_output` reads it)."""
    for name in arrays:
        parts = name.replace("\\", "/").split("/")
        if "\0" in name or len(name.encode("utf-8", "surrogatepass")) > 60000 or name.startswith(("/", "\\")) \
                or ".." in parts:
            raise CheckpointError(f"{path}: tensor {name[:80]!r} cannot be an .npz member name (NUL, '..', an "
                                  f"absolute path or too long); write a folder (safetensors) instead")
    with writing(path), zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, a in arrays.items():
            with z.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(a), allow_pickle=False)
        z.comment = mark


def write_npz(out, arrays, mark, overwrite, inputs):
    """Write ``arrays`` to the .npz ``out`` atomically (:func:`save_npz` to a hidden file
    beside it, renamed at the end; OUT checked again just before, as it may have appeared
    meanwhile); nothing is left on any error or interruption."""
    tmp = paths.make_hidden(out, "partial", suffix=".npz", folder=False)
    try:
        save_npz(tmp, arrays, mark)
        paths.check_output(out, overwrite, inputs)
        with _signals_held():
            os.replace(tmp, out)
    finally:
        remove(tmp)
