"""Never lose or leak a user's data: names read from files never reach outside the input
folder or OUT, OUT never replaces the input or a folder nvfp4_np did not write, stopped
runs leave nothing (or name what a killed one left), outputs get the umask's
permissions, and every bad input is one line and exit 2.

Each case runs against a folder tree with sentinel files whose bytes and modes are
compared afterwards (``_snapshot``)."""

import errno
import json
import os
import signal
import stat
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from nvfp4_np import _safetensors as st
from nvfp4_np import checkpoint as ck
from nvfp4_np.checkpoint import paths, writer
from nvfp4_np.cli import main

from cli_common import COMPILING, next_line, wait_for_first_tensor

sn = pytest.importorskip("safetensors.numpy", reason="safetensors not installed (pip install -e '.[test]')")


def _run(*argv):
    return main([str(a) for a in argv])


def _snapshot(root, skip=()):
    """{relative path: (kind, bytes or link target, mode)} of everything under ``root``
    but the paths in ``skip`` (and what lies under them)."""
    out = {}
    skip = [os.path.abspath(s) for s in skip]
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip]
        for name in dirs + files:
            p = os.path.join(d, name)
            if p in skip:
                continue
            s = os.lstat(p)
            if stat.S_ISLNK(s.st_mode):
                v = ("link", os.readlink(p), None)
            elif stat.S_ISDIR(s.st_mode):
                v = ("dir", None, s.st_mode)
            else:
                with open(p, "rb") as f:
                    v = ("file", f.read(), s.st_mode)
            out[os.path.relpath(p, root)] = v
    return out


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"model.layers.0.mlp.up_proj.weight": rng.standard_normal((8, 32)).astype(np.float32),
            "model.layers.0.mlp.down_proj.weight": rng.standard_normal((8, 16)).astype(np.float32),
            "model.norm.weight": np.ones(8, np.float32)}


def _sharded(folder, seed=0):
    """A two-shard checkpoint with its index json in ``folder``."""
    os.makedirs(folder, exist_ok=True)
    t = _weights(seed)
    names = sorted(t)
    parts = {"model-00001-of-00002.safetensors": names[:1], "model-00002-of-00002.safetensors": names[1:]}
    weight_map = {}
    for shard, ns in parts.items():
        sn.save_file({n: t[n] for n in ns}, os.path.join(folder, shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in ns})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "llama"}, f)
    return t


@pytest.fixture
def tree(tmp_path):
    """tmp/proj/model (a sharded checkpoint, a tokenizer), tmp/proj/calib.npz,
    tmp/good.safetensors and tmp/elsewhere/w.safetensors (sentinels a malicious index
    points at)."""
    proj = tmp_path / "proj"
    _sharded(str(proj / "model"))
    (proj / "model" / "tokenizer.json").write_text('{"tokens": 1}')
    np.savez(proj / "calib.npz", **{"model.layers.0.mlp.up_proj": np.ones((4, 32), np.float32)})
    sn.save_file({"sentinel": np.arange(4, dtype=np.float32)}, str(tmp_path / "good.safetensors"))
    (tmp_path / "elsewhere").mkdir()
    sn.save_file({"w": np.ones((8, 16), np.float32)}, str(tmp_path / "elsewhere" / "w.safetensors"))
    return tmp_path


def _fails(capsys, *argv, match):
    """The command exits 2 with one error line (notes aside) matching ``match``."""
    assert _run(*argv) == 2
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ": note: " not in ln
           and "tensors to quantize" not in ln and not re.match(r"\[\d+/\d+\] ", ln)  # progress lines
           and not COMPILING.search(ln)]
    assert len(err) == 1 and err[0].startswith("nvfp4-np ") and "nothing written" in err[0], err
    assert any(m in err[0] for m in ([match] if isinstance(match, str) else match)), err[0]
    return err[0]


# --------------------------------------------------------------------------- names from files


@pytest.mark.parametrize("shard", ["../good.safetensors", "../../elsewhere/w.safetensors", "{abs}",
                                   "sub/x.safetensors", "..", ".", "", "a\\b.safetensors"])
@pytest.mark.parametrize("command", ["quantize", "dequantize"])
def test_shard_names_from_an_index_stay_in_its_folder(tree, capsys, shard, command):
    idx = tree / "proj" / "idx"
    idx.mkdir()
    shard = shard.format(abs=tree / "good.safetensors")
    (idx / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"m.weight": shard}}))
    before = _snapshot(tree)
    err = _fails(capsys, command, idx, "-o", tree / "proj" / "o1", match="not a plain file name")
    assert repr(shard) in err
    assert _snapshot(tree) == before  # nothing read into, written or truncated anywhere


@pytest.mark.parametrize("command", ["quantize", "dequantize"])
def test_shard_links_out_of_the_folder_are_refused(tree, capsys, command):
    idx = tree / "proj" / "idx"
    idx.mkdir()
    os.symlink(tree / "good.safetensors", idx / "s.safetensors")
    (idx / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"sentinel": "s.safetensors"}}))
    before = _snapshot(tree)
    _fails(capsys, command, idx, "-o", tree / "o", match="outside the input folder")
    os.remove(idx / "model.safetensors.index.json")  # the single file of a folder, linked out
    _fails(capsys, command, idx, "-o", tree / "o", match="outside the input folder")
    before.pop("proj/idx/model.safetensors.index.json")
    assert _snapshot(tree) == before


def test_links_inside_the_folder_and_the_hugging_face_cache_are_read(tmp_path, capsys):
    """A snapshot folder of the Hugging Face cache links every file to ../../blobs/."""
    repo = tmp_path / "hub" / "models--org--tiny"
    snap, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    t = _sharded(str(blobs))
    snap.mkdir(parents=True)
    for f in os.listdir(blobs):
        os.symlink(os.path.join("..", "..", "blobs", f), snap / f)
    assert _run("quantize", snap, "-o", tmp_path / "q", "--quiet") == 0
    got = st.load(str(tmp_path / "q" / "model-00001-of-00002.safetensors"))
    assert np.array_equal(got["model.layers.0.mlp.down_proj.weight_packed"],
                          ck.quantize_tensor(t["model.layers.0.mlp.down_proj.weight"],
                                             ck.plan(ck.open_checkpoint(str(snap)), ck.Settings())[0],
                                             ck.Settings())[0]["model.layers.0.mlp.down_proj.weight_packed"])


def test_files_linked_out_of_the_folder_are_not_copied(tree, capsys):
    model = tree / "proj" / "model"
    secret = tree / "secret.txt"
    secret.write_text("password")
    os.symlink(secret, model / "tokenizer_config.json")
    os.symlink("tokenizer.json", model / "vocab.json")  # a link inside the folder is copied
    assert _run("quantize", model, "-o", tree / "q", "--quiet") == 0
    err = capsys.readouterr().err
    assert "not copied" in err and "tokenizer_config.json" in err and "outside the input folder" in err
    assert not (tree / "q" / "tokenizer_config.json").exists()
    assert (tree / "q" / "vocab.json").read_text() == '{"tokens": 1}'
    assert "password" not in "".join(p.read_text(errors="replace") for p in (tree / "q").iterdir())


# --------------------------------------------------------------------------- where OUT may be


def test_overwrite_never_replaces_the_input(tree, capsys, monkeypatch):
    proj = tree / "proj"
    model = proj / "model"
    before = _snapshot(tree)
    for flag in ("--overwrite", "--overwrite-any"):
        _fails(capsys, "quantize", model, "-o", model, flag, match="is the input")
        _fails(capsys, "quantize", model, "-o", proj, flag, match="holds the input")
        _fails(capsys, "quantize", model, "-o", model / "q", flag, match="inside the input folder")
        _fails(capsys, "quantize", model / "model.safetensors.index.json", "-o", model / "model-00001-of-00002.safetensors",
               flag, match="is the input")
        _fails(capsys, "quantize", model, "-o", proj / "calib.npz", "--calib", proj / "calib.npz", "--method", "hessian",
               flag, match="is the input")
        _fails(capsys, "dequantize", model, "-o", model / "w.npz", flag, match="inside the input folder")
        monkeypatch.chdir(proj)
        _fails(capsys, "quantize", "model", "-o", ".", flag, match="holds the input")
        other = tree / "elsewhere"
        monkeypatch.chdir(other)
        _fails(capsys, "quantize", model, "-o", tree, flag, match=["holds the input", "holds the current folder"])
        (other / "sub").mkdir(exist_ok=True)
        monkeypatch.chdir(other / "sub")
        _fails(capsys, "quantize", model, "-o", other, flag, match="holds the current folder")
        monkeypatch.chdir(tree)
        monkeypatch.setenv("HOME", str(other / "sub"))
        _fails(capsys, "quantize", model, "-o", other, flag, match="holds your home folder")
        monkeypatch.delenv("HOME")
        os.rmdir(other / "sub")
    os.symlink(model, tree / "link")  # OUT a link to the input
    _fails(capsys, "quantize", model, "-o", tree / "link", "--overwrite-any", match="is the input")
    os.remove(tree / "link")
    assert _snapshot(tree) == before


def test_overwrite_replaces_only_earlier_outputs(tree, capsys):
    model = tree / "proj" / "model"
    out = tree / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    _fails(capsys, "quantize", model, "-o", out, match="already exists (pass --overwrite")
    _fails(capsys, "quantize", model, "-o", out, "--overwrite", match="a folder (without an nvfp4_np nvfp4_report.json) that nvfp4_np did not")
    assert os.listdir(out) == ["notes.txt"]
    (tree / "file").write_text("data")
    _fails(capsys, "quantize", model, "-o", tree / "file", "--overwrite", match="a file that nvfp4_np did not write")
    assert (tree / "file").read_text() == "data"
    assert _run("quantize", model, "-o", out, "--overwrite-any", "--quiet") == 0  # the second flag says so
    assert sorted(os.listdir(out)) == sorted(["config.json", "model-00001-of-00002.safetensors",
                                              "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                              "tokenizer.json", ck.REPORT_NAME])
    assert _run("quantize", model, "-o", out, "--overwrite", "--quiet", "--method", "naive") == 0  # ours
    assert ck.read_report(str(out))["settings"]["method"] == "naive"
    # dequantize: a folder gets a report (its mark), an .npz a zip comment
    assert _run("dequantize", out, "-o", tree / "dq", "--quiet") == 0
    assert _run("dequantize", out, "-o", tree / "dq", "--overwrite", "--quiet") == 0
    with pytest.raises(ck.CheckpointError, match="not the report of a quantize run"):
        ck.read_report(str(tree / "dq"))
    np.savez(tree / "foreign.npz", a=np.ones(3))
    capsys.readouterr()
    _fails(capsys, "dequantize", out, "-o", tree / "foreign.npz", "--overwrite", match="a file that nvfp4_np")
    assert np.load(tree / "foreign.npz")["a"].tolist() == [1, 1, 1]
    assert _run("dequantize", out, "-o", tree / "foreign.npz", "--overwrite-any", "--quiet") == 0
    with zipfile.ZipFile(tree / "foreign.npz") as z:
        assert z.comment == b"nvfp4_np dequantize"
    assert _run("dequantize", out, "-o", tree / "foreign.npz", "--overwrite", "--quiet") == 0  # now ours
    with np.load(tree / "foreign.npz") as z:
        assert "model.layers.0.mlp.up_proj.weight" in z.files and "a" not in z.files


def test_npz_with_any_tensor_names(tmp_path):
    """Tensor names that are np.savez's own keywords are kept as names."""
    t = {"file": np.ones((2, 16), np.float32), "allow_pickle": np.zeros((2, 16), np.float32)}
    sn.save_file(t, str(tmp_path / "m.safetensors"))
    assert _run("dequantize", tmp_path / "m.safetensors", "-o", tmp_path / "m.npz", "--quiet") == 0
    with np.load(tmp_path / "m.npz") as z:
        assert sorted(z.files) == ["allow_pickle", "file"] and z["file"].sum() == 32


# --------------------------------------------------------------------------- leftovers and signals


def _big(tmp_path):
    rng = np.random.default_rng(5)
    t = {f"layers.{i}.weight": rng.standard_normal((256, 512)).astype(np.float16) for i in range(40)}
    sn.save_file(t, str(tmp_path / "big.safetensors"))
    np.savez(tmp_path / "h.npz", **{f"layers.{i}.H": np.eye(512) for i in range(40)})
    return [sys.executable, "-m", "nvfp4_np", "quantize", str(tmp_path / "big.safetensors"), "-o",
            str(tmp_path / "out"), "--method", "admm", "--calib", str(tmp_path / "h.npz"), "--threads", "1", "--quiet"]


def _start(cmd):
    """Start a quantize run and wait until its first tensor is done."""
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    wait_for_first_tensor(p)
    return p


def test_sighup_is_handled_like_sigterm(tmp_path):
    p = _start(_big(tmp_path))
    p.send_signal(signal.SIGHUP)
    rest = p.stderr.read()
    assert p.wait(timeout=120) == 129, rest
    assert "hung up (SIGHUP); nothing written" in rest
    assert not (tmp_path / "out").exists() and not [f for f in os.listdir(tmp_path) if ".partial-" in f]


def test_killed_run_leftovers_are_named_then_removed(tmp_path, capsys):
    cmd = _big(tmp_path)
    p = _start(cmd)
    p.kill()
    p.wait(timeout=60)
    left = [f for f in os.listdir(tmp_path) if f.startswith(".out.partial-")]
    assert len(left) == 1 and left[0].startswith(f".out.partial-{paths._host()}-{p.pid}-")
    small = tmp_path / "small.safetensors"
    sn.save_file({"w.weight": np.ones((4, 32), np.float32)}, str(small))
    assert _run("quantize", small, "-o", tmp_path / "out", "--quiet") == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / left[0]} was left by an earlier run that was killed; --overwrite removes it" in err
    assert (tmp_path / left[0]).is_dir()
    live = tmp_path / f".out.partial-{paths._host()}-{os.getpid()}-0123abcd"  # a run still going (this process)
    live.mkdir()
    remote = tmp_path / ".out.partial-otherhost-1-0123abcd"  # another machine's (a shared filesystem)
    remote.mkdir()
    mine = [tmp_path / ".out.old-backup", tmp_path / ".out.old-2024-01-01", tmp_path / ".out.partial-notes"]
    mine[0].mkdir()
    (mine[0] / "data").write_text("precious")
    for m in mine[1:]:
        m.write_text("mine")
    assert _run("quantize", small, "-o", tmp_path / "out", "--overwrite", "--quiet") == 0
    err = capsys.readouterr().err
    assert f"removed {tmp_path / left[0]}, left by an earlier run that was killed" in err
    assert f"{live} belongs to another run writing {tmp_path / 'out'} that is still going" in err
    assert f"{remote} belongs to another run" in err
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith(".out.")) == sorted(
        [live.name, remote.name] + [m.name for m in mine])  # names nvfp4_np never makes are never touched
    assert (mine[0] / "data").read_text() == "precious"


def test_sighup_ignored_by_nohup_stays_ignored(tmp_path):
    p = subprocess.Popen(_big(tmp_path), stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # as nohup starts it
    wait_for_first_tensor(p)
    p.send_signal(signal.SIGHUP)  # the terminal closes: the run goes on
    assert next_line(p).startswith("[2/40]")
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    assert p.wait(timeout=120) == 143 and "terminated (SIGTERM)" in rest


def test_commit_puts_the_old_out_back_when_the_last_rename_fails(tree, monkeypatch):
    model = tree / "proj" / "model"
    assert _run("quantize", model, "-o", tree / "q", "--quiet", "--method", "naive") == 0
    before = _snapshot(tree / "q")
    real, calls = os.rename, []

    def rename(a, b):
        calls.append(a)
        if len(calls) == 2:  # the finished folder onto OUT
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(writer.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        ck.quantize_checkpoint(str(model), str(tree / "q"), overwrite=True, note=lambda s: None)
    monkeypatch.setattr(writer.os, "rename", real)
    assert _snapshot(tree / "q") == before
    assert not [f for f in os.listdir(tree) if f.startswith(".q.")]


def test_an_out_that_appears_during_the_run_is_not_replaced(tree, capsys):
    out = tree / "q"

    def appear(plans):
        out.mkdir()
        (out / "thesis.tex").write_text("x")

    with pytest.raises(ck.CheckpointError, match="already exists"):
        ck.quantize_checkpoint(str(tree / "proj" / "model"), str(out), on_plan=appear, note=lambda s: None)
    assert os.listdir(out) == ["thesis.tex"] and not [f for f in os.listdir(tree) if f.startswith(".q.")]


def test_two_tensors_with_one_output_name_are_refused(tmp_path, capsys):
    sn.save_file({"x": np.ones((4, 32), np.float32), "x.weight": np.ones((4, 32), np.float32)},
                 str(tmp_path / "dup.safetensors"))
    _fails(capsys, "quantize", tmp_path / "dup.safetensors", "-o", tmp_path / "q", match="would both be called")
    d = tmp_path / "two"  # the same across two shards
    d.mkdir()
    sn.save_file({"x.weight": np.ones((4, 32), np.float32)}, str(d / "a.safetensors"))
    sn.save_file({"x": np.ones((4, 32), np.float32)}, str(d / "b.safetensors"))
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x.weight": "a.safetensors",
                                                                               "x": "b.safetensors"}}))
    _fails(capsys, "quantize", d, "-o", tmp_path / "q", match="would both be called 'x.weight_packed'")
    assert not (tmp_path / "q").exists()


def test_shards_must_be_safetensors_files(tmp_path, capsys):
    d = tmp_path / "m"
    d.mkdir()
    sn.save_file({"x.weight": np.ones((4, 32), np.float32)}, str(d / "nvfp4_report.json"))
    (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x.weight": "nvfp4_report.json"}}))
    _fails(capsys, "quantize", d, "-o", tmp_path / "q", match="'nvfp4_report.json' is not a .safetensors file name")


def test_hidden_files_are_not_copied(tree, capsys):
    (tree / "proj" / "model" / ".env").write_text("TOKEN=secret")
    assert _run("quantize", tree / "proj" / "model", "-o", tree / "q", "--quiet") == 0
    assert not (tree / "q" / ".env").exists() and "(a hidden file)" in capsys.readouterr().err


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_follow_the_umask(tree, umask):
    old = os.umask(umask)
    try:
        assert _run("quantize", tree / "proj" / "model", "-o", tree / "q", "--quiet") == 0
        assert _run("dequantize", tree / "q", "-o", tree / "d.npz", "--quiet") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tree / "q").st_mode) == 0o777 & ~umask
    for f in os.listdir(tree / "q"):
        if f != "tokenizer.json":  # copied with its own mode
            assert stat.S_IMODE(os.stat(tree / "q" / f).st_mode) == 0o666 & ~umask, f
    assert stat.S_IMODE(os.stat(tree / "d.npz").st_mode) == 0o666 & ~umask


# --------------------------------------------------------------------------- clear errors


def test_disk_full_names_the_file_being_written(tree, capsys, monkeypatch):
    real_open = open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(st, "open", lambda p, m: Full(real_open(p, m)), raising=False)
    assert _run("quantize", tree / "proj" / "model", "-o", tree / "q", "--quiet") == 1
    err = capsys.readouterr().err.strip()
    assert "No space left on device" in err and "nothing written" in err
    assert f"{tree}/.q.partial-{paths._host()}-{os.getpid()}-" in err and "model-00001-of-00002.safetensors" in err
    assert not (tree / "q").exists() and not [f for f in os.listdir(tree) if ".partial-" in f]
    # a copy that fills the disk names the destination, not the source (shutil names the source)
    with pytest.raises(OSError) as e, st.writing("/dst/file"):
        raise OSError(errno.ENOSPC, "No space left on device", "/src/file")
    assert e.value.filename == "/dst/file"
    with pytest.raises(OSError) as e, st.writing("/dst/file"):
        raise OSError(errno.ENOENT, "No such file or directory", "/src/file")
    assert e.value.filename == "/src/file"


def test_calibration_of_the_wrong_dtype_or_values(tree, capsys):
    model, proj = tree / "proj" / "model", tree / "proj"
    name = "model.layers.0.mlp.up_proj"
    np.savez(proj / "int.npz", **{name: np.ones((4, 32), np.int32)})
    err = _fails(capsys, "quantize", model, "-o", tree / "q", "--method", "hessian", "--calib", proj / "int.npz",
                 match="has dtype int32")
    assert repr(name) in err and "must be floating" in err
    H16 = np.eye(32, dtype=np.float16)  # a Hessian stored in float16 is read as float64
    np.savez(proj / "h16.npz", **{name + ".H": H16})
    assert _run("quantize", model, "-o", tree / "q16", "--method", "hessian", "--calib", proj / "h16.npz",
                "--quiet") == 0
    x = np.ones((4, 32), np.float32)
    x[1, 2] = np.inf
    np.savez(proj / "inf.npz", **{name: x})
    err = _fails(capsys, "quantize", model, "-o", tree / "q", "--method", "hessian", "--calib", proj / "inf.npz",
                 match="1 non-finite values")
    assert f"tensor '{name}.weight'" in err


@pytest.mark.parametrize("kind", ["full", "blocks"])
def test_hessians_that_are_not_positive_semidefinite(tree, capsys, kind):
    model, proj = tree / "proj" / "model", tree / "proj"
    name = "model.layers.0.mlp.up_proj"
    H = np.eye(32)
    if kind == "full":
        H[3, 3] = -1.0
        match = "diagonal has negative entries"
    else:
        H = np.stack([np.eye(16), np.eye(16)])
        H[1, 0, 1] = H[1, 1, 0] = 2.0  # [[1, 2], [2, 1]] has eigenvalue -1
        match = "is not positive semidefinite"
    np.savez(proj / "h.npz", **{name + ".H": H})
    err = _fails(capsys, "quantize", model, "-o", tree / "q", "--method", "hessian", "--calib", proj / "h.npz",
                 match=match)
    assert f"tensor '{name}.weight'" in err
    if kind == "full":  # indefinite with a non-negative diagonal: found by the output error
        H = np.eye(32)
        H[0, 20] = H[20, 0] = 50.0  # eigenvalues 1 +- 50
        np.savez(proj / "h.npz", **{name + ".H": H})
        _fails(capsys, "quantize", model, "-o", tree / "q", "--method", "hessian", "--calib", proj / "h.npz",
               match="not positive semidefinite")


def test_nothing_quantized_writes_no_quantization_config(tmp_path, capsys):
    t = {"w.weight": np.ones((4, 24), np.float32), "e.weight": np.ones((2, 4, 32), np.float32),
         "b.bias": np.ones(4, np.float32)}
    sn.save_file(t, str(tmp_path / "m.safetensors"))
    assert _run("quantize", tmp_path / "m.safetensors", "-o", tmp_path / "q", "--quiet") == 0
    err = capsys.readouterr().err
    assert "note: nothing is quantized: the output is a copy of the input (no new quantization_config)" in err
    assert "note: w.weight F32 [4, 24] is copied unchanged: its K = 24 (shape [4, 24]) is not a multiple" in err
    assert "note: e.weight F32 [2, 4, 32] is copied unchanged: it is 3-D" in err
    assert "b.bias" not in err  # excluded by default: not a shape problem
    assert "quantization_config" not in json.loads((tmp_path / "q" / "config.json").read_text())
    rep = ck.read_report(str(tmp_path / "q"))
    assert [e["name"] for e in rep["not_quantizable"]] == ["e.weight", "w.weight"]
    assert rep["not_quantizable"][1]["reason"].startswith("its K = 24")


def test_a_damaged_report_is_an_error_not_a_traceback(tree, capsys):
    assert _run("quantize", tree / "proj" / "model", "-o", tree / "q", "--quiet") == 0
    path = tree / "q" / ck.REPORT_NAME
    good = json.loads(path.read_text())
    for damage in ({"tensors": 3}, {"totals": {"weight_error_pct": "x"}}, {"settings": {"method": 1}},
                   {"tensors": [{"name": "a", "action": "quantized", "weight_error_pct": "1"}]},
                   {"tensors": [{"name": "a", "action": "copied", "scale_byte_histogram": {"0xzz": 1}}]}):
        path.write_text(json.dumps(dict(good, **damage)))
        _fails(capsys, "report", tree / "q", match="not the report of a quantize run")
        assert _run("inspect", tree / "q") == 0  # the tensors are still listed, without errors
        capsys.readouterr()
    path.write_text("[" * 100000)
    _fails(capsys, "report", tree / "q", match="cannot read the report")


# --------------------------------------------------------------------------- fuzz


def _mutations():
    junk = hst.one_of(hst.none(), hst.booleans(), hst.integers(-2**70, 2**70), hst.floats(), hst.text(max_size=8),
                      hst.lists(hst.integers(-3, 3), max_size=3), hst.dictionaries(hst.text(max_size=3),
                                                                                    hst.integers(), max_size=2))
    return junk


@pytest.fixture(scope="module")
def fuzz_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    _sharded(str(root / "model"))
    assert _run("quantize", root / "model", "-o", root / "quantized", "--quiet") == 0
    return root


def _corrupt_shard(data, raw):
    """A safetensors file with its header changed by one of several damages."""
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    how = data.draw(hst.sampled_from(["field", "types", "entry", "metadata", "length", "bytes", "truncate",
                                      "offsets"]))
    names = [k for k in header if k != "__metadata__"]
    if how == "field":
        name = data.draw(hst.sampled_from(names))
        key = data.draw(hst.sampled_from(["dtype", "shape", "data_offsets"]))
        header[name][key] = data.draw(hst.one_of(_mutations(), hst.lists(_mutations(), max_size=3)))
    elif how == "types":  # numbers as strings, floats or booleans
        name = data.draw(hst.sampled_from(names))
        key = data.draw(hst.sampled_from(["shape", "data_offsets"]))
        conv = data.draw(hst.sampled_from([str, float, bool, lambda v: [v]]))
        header[name][key] = [conv(v) if data.draw(hst.booleans()) else v for v in header[name][key]]
    elif how == "entry":
        header[data.draw(hst.sampled_from(names + ["new"]))] = data.draw(_mutations())
    elif how == "metadata":
        header["__metadata__"] = data.draw(hst.one_of(_mutations(), hst.dictionaries(
            hst.sampled_from(["format", "nvfp4_np.original_names"]), _mutations(), max_size=2)))
    elif how == "offsets":
        name = data.draw(hst.sampled_from(names))
        b, e = header[name]["data_offsets"]
        d = data.draw(hst.integers(-20, 20))
        header[name]["data_offsets"] = [b + d, e + data.draw(hst.sampled_from([0, d]))]
    blob = json.dumps(header).encode()
    out = len(blob).to_bytes(8, "little") + blob + body
    if how == "length":
        out = data.draw(hst.integers(0, 2**64 - 1)).to_bytes(8, "little") + out[8:]
    elif how == "bytes":
        i = data.draw(hst.integers(0, len(out) - 1))
        out = out[:i] + bytes([data.draw(hst.integers(0, 255))]) + out[i + 1:]
    elif how == "truncate":
        out = out[:data.draw(hst.integers(0, len(out) - 1))]
    return out


def _corrupt_index(data, text):
    index = json.loads(text)
    how = data.draw(hst.sampled_from(["value", "map", "root", "bytes"]))
    if how == "value":
        k = data.draw(hst.sampled_from(sorted(index["weight_map"])))
        index["weight_map"][k] = data.draw(hst.one_of(
            _mutations(), hst.sampled_from(["../sentinel.safetensors", "{work}/sentinel.safetensors", "/etc/passwd", "..",
                                            "", "a/b", "x\0y", "../../sentinel.safetensors", "config.json",
                                            "model.safetensors.index.json"])))
    elif how == "map":
        index["weight_map"] = data.draw(_mutations())
    elif how == "root":
        index = data.draw(_mutations())
    out = json.dumps(index).encode()
    if how == "bytes":
        i = data.draw(hst.integers(0, len(out) - 1))
        out = out[:i] + bytes([data.draw(hst.integers(0, 255))]) + out[i + 1:]
    return out


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(data=hst.data())
def test_fuzzed_headers_and_indexes_exit_0_or_2_and_touch_nothing_outside_out(fuzz_inputs, tmp_path_factory, data):
    """Randomly damaged safetensors headers and index files (of a plain checkpoint and of a
    quantized one) given to quantize, dequantize and inspect: exit 0 or 2, never an
    exception, and no file outside OUT changes."""
    import shutil

    work = tmp_path_factory.mktemp("case")
    sn.save_file({"sentinel": np.ones((8, 16), np.float32)}, str(work / "sentinel.safetensors"))  # a target
    source = data.draw(hst.sampled_from(["model", "quantized"]))
    folder = work / "in"
    shutil.copytree(fuzz_inputs / source, folder)
    target = data.draw(hst.sampled_from(["model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                         "model-00002-of-00002.safetensors"]))
    raw = (folder / target).read_bytes()
    (folder / target).write_bytes(_corrupt_index(data, raw).replace(b"{work}", str(work).encode())
                                  if target.endswith(".json") else _corrupt_shard(data, raw))
    command = data.draw(hst.sampled_from(["quantize", "dequantize", "inspect"]))
    before = _snapshot(work)
    args = [command, folder] + ([] if command == "inspect" else ["-o", work / "out", "--quiet"])
    with open(os.devnull, "w") as null:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = null
        try:
            rc = _run(*args)
        finally:
            sys.stdout, sys.stderr = old
    assert rc in (0, 2)
    assert _snapshot(work, skip=[work / "out"]) == before
    if rc == 0 and command != "inspect":  # nothing silently lost: the output holds every tensor of the input
        src, out = ck.open_checkpoint(str(folder)), ck.open_checkpoint(str(work / "out"))
        names = {n for _, n, _ in ck.layout.logical_tensors(out, ck.nvfp4_groups(out))}
        want = {n for _, n, _ in ck.layout.logical_tensors(src, ck.nvfp4_groups(src))}
        assert names == want
    assert not [f for f in os.listdir(work) if f.startswith(".out.")]
    shutil.rmtree(work)


def test_device_cuda_without_a_gpu_is_one_line(tree, capsys):
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a CUDA GPU (or the simulator) is available here")
    _fails(capsys, "quantize", tree / "proj" / "model", "-o", tree / "q", "--device", "cuda",
           match="device='cuda' found no CUDA GPU")
    assert not (tree / "q").exists()


def test_vector_names_from_an_index_stay_in_its_folder(tmp_path, capsys):
    vec = tmp_path / "vectors"
    vec.mkdir()
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "manifest.json").write_text("{}")
    for name in ("../secret", "/etc", "a/b"):
        (vec / "index.json").write_text(json.dumps({"vectors": [{"name": name}]}))
        assert _run("verify", "--vectors", vec, "--candidate", tmp_path / "cand") == 2
        assert "is not a plain file name" in capsys.readouterr().err
        from nvfp4_np.validation.golden import write_candidate
        with pytest.raises(ck.CheckpointError, match="not a plain file name"):
            write_candidate(str(vec), str(tmp_path / "cand"))
    assert not (tmp_path / "cand").exists()
    (vec / "index.json").write_text(json.dumps({"vectors": [{}]}))
    assert _run("verify", "--vectors", vec, "--candidate", tmp_path / "cand") == 2
    assert "not a folder of golden vectors" in capsys.readouterr().err
