"""Which paths the checkpoint commands may read and write.

Every name read from a file is untrusted. A shard name from an index json is a plain
file name inside the input folder; a file of the folder that is a symbolic link out of
it is not read (the one exception is the Hugging Face cache, whose snapshot files link
to ``../../blobs/``). OUT is never the input, never holds it, never lies inside it, and
never holds the current folder or the home folder; an existing OUT is replaced only when
it is an earlier output of nvfp4_np (``overwrite=True``) or when the caller says any
file or folder may go (``overwrite="any"``). Output folders are made with the umask's
permissions, as ``mkdir`` makes them. The hidden folders a run writes beside OUT carry
its process id, so a later run can tell a leftover of a killed run from a live one.
"""

import json
import os
import re
import secrets
import socket
import zipfile


class CheckpointError(ValueError):
    """Bad input: the message names the file and the tensor."""


def load_json(path, what):
    """The JSON in file ``path``, or a CheckpointError naming it as ``what``."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{path}: cannot read {what}: {e}") from None

#: The report every quantize and dequantize output folder holds (its mark as ours).
REPORT_NAME = "nvfp4_report.json"
#: The zip comments of the .npz files ``dequantize`` and ``calibrate`` write (invisible
#: to np.load): their mark as nvfp4_np outputs.
NPZ_MARK = b"nvfp4_np dequantize"
CALIBRATION_MARK = b"nvfp4_np calibrate"
#: What ``overwrite`` may be.
OVERWRITE = (False, True, "any")


def plain_name(name, what):
    """``name`` when it is a plain file name (no folder part, not '.' or '..'), else a
    CheckpointError naming ``what`` it came from."""
    if not isinstance(name, str) or not name or name in (".", "..") or "\0" in name or "/" in name \
            or "\\" in name or (os.sep in name) or (os.altsep and os.altsep in name) or os.path.isabs(name):
        raise CheckpointError(f"{what}: {name!r} is not a plain file name (no folders, '..' or absolute paths)")
    return name


def _within(path, folder):
    """Whether real path ``path`` is ``folder`` or lies under it (both real paths)."""
    return os.path.commonpath([path, folder]) == folder


def _hf_blob(real, folder_real):
    """Whether ``real`` is a blob of the Hugging Face cache that snapshot folder
    ``folder_real`` (``.../snapshots/<revision>``) belongs to."""
    repo = os.path.dirname(os.path.dirname(folder_real))
    return (os.path.basename(os.path.dirname(folder_real)) == "snapshots"
            and os.path.dirname(real) == os.path.join(repo, "blobs"))


def folder_file(folder, name, what):
    """The path of file ``name`` of input ``folder``, checked: a plain name, and not a
    symbolic link out of the folder (Hugging Face cache blobs excepted). CheckpointError
    otherwise."""
    path = os.path.join(folder, plain_name(name, what))
    real, folder_real = os.path.realpath(path), os.path.realpath(folder)
    if not _within(real, folder_real) and not _hf_blob(real, folder_real):
        raise CheckpointError(f"{what}: {name!r} is a link to {real}, outside the input folder {folder_real}")
    return path


def check_output(out, overwrite, inputs):
    """Refuse an OUT that the run must not write (CheckpointError): one that is, holds or
    lies inside any of ``inputs`` (paths read: the input, its folder, shards, calibration
    file), one that holds the current or the home folder, and an existing one unless
    ``overwrite`` allows it (True: an earlier nvfp4_np output; "any": anything)."""
    if overwrite not in OVERWRITE:
        raise CheckpointError(f"overwrite must be False, True or 'any', got {overwrite!r}")
    out = os.path.abspath(os.fspath(out))
    real = os.path.realpath(out)
    for p in inputs:
        pr = os.path.realpath(p)
        if real == pr:
            raise CheckpointError(f"{out}: is the input {p}; write the output somewhere else")
        if _within(pr, real):
            raise CheckpointError(f"{out}: holds the input {p}; replacing it would delete the input")
        if _within(real, pr):
            raise CheckpointError(f"{out}: is inside the input folder {p}; write the output beside it")
    for what, p in (("the current folder", os.getcwd()), ("your home folder", os.path.expanduser("~"))):
        if _within(os.path.realpath(p), real):
            raise CheckpointError(f"{out}: holds {what} {p}; choose a new folder for the output")
    if not os.path.lexists(out):
        return out
    if not overwrite:
        raise CheckpointError(f"{out}: already exists (pass --overwrite to replace an earlier nvfp4_np output)")
    if overwrite != "any" and not is_earlier_output(out):
        kind = ("a link" if os.path.islink(out) else f"a folder (without an nvfp4_np {REPORT_NAME})"
                if os.path.isdir(out) else "a file")
        raise CheckpointError(f"{out}: is {kind} that nvfp4_np did not write; pass --overwrite-any to replace it "
                              f"anyway")
    return out


def is_earlier_output(out):
    """Whether ``out`` is an output of nvfp4_np: a folder (not a link) with an nvfp4_np
    report, or an ``.npz`` written by ``dequantize`` or ``calibrate``."""
    if os.path.islink(out):
        return False
    if os.path.isdir(out):
        try:
            report = load_json(os.path.join(out, REPORT_NAME), "the report")
        except CheckpointError:
            return False
        return isinstance(report, dict) and report.get("format") == "nvfp4_np.report"
    try:
        with zipfile.ZipFile(out) as z:
            return z.comment in (NPZ_MARK, CALIBRATION_MARK)
    except (OSError, zipfile.BadZipFile):
        return False


# --------------------------------------------------------------------------- partial folders


def _hidden_prefix(out, kind):
    return f".{os.path.basename(out)}.{kind}-"


def _host():
    """This machine's name as it goes into hidden names (letters, digits, '.', '_')."""
    return re.sub(r"[^A-Za-z0-9._]", "_", socket.gethostname())[:64] or "host"


def make_hidden(out, kind, suffix="", folder=True):
    """A new hidden folder (or empty file) beside ``out``,
    ``.OUT.<kind>-<host>-<pid>-<random>``, made with the umask's permissions (as mkdir /
    open make them; tempfile's are 0700 / 0600, which another user's serving process
    cannot read)."""
    parent = os.path.dirname(out)
    for _ in range(100):
        name = f"{_hidden_prefix(out, kind)}{_host()}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"
        path = os.path.join(parent, name)
        try:
            if folder:
                os.mkdir(path, 0o777)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: could not make a new hidden folder for {out}")


def leftovers(out):
    """The hidden folders and files that earlier runs writing ``out`` left beside it
    (named exactly as :func:`make_hidden` names them; nothing else is ever touched):
    ``(stale, live)`` lists of paths. Live ones belong to a process that still runs, or
    to another machine (a shared filesystem), whose processes cannot be asked."""
    parent = os.path.dirname(out)
    try:
        names = os.listdir(parent)
    except OSError:
        return [], []
    pattern = re.compile(rf"{re.escape('.' + os.path.basename(out))}\.(partial|old)-(?P<host>[A-Za-z0-9._]+)-"
                         rf"(?P<pid>\d+)-[0-9a-f]{{8}}(\.npz)?")
    stale, live = [], []
    for f in sorted(names):
        m = pattern.fullmatch(f)
        if m:
            here = m["host"] == _host()
            (live if not here or _running(int(m["pid"])) else stale).append(os.path.join(parent, f))
    return stale, live


def _running(pid):
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):
        return False
    return True
