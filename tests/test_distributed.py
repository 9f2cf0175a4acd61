"""nvfp4_np.distributed on a LocalCluster of 2 worker processes: the output folder is
byte-identical to the single-process command for every method and recipe, a worker
killed mid-run is survived, and a task that fails for good aborts with nothing written."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from nvfp4_np import _safetensors as st
from nvfp4_np import checkpoint as ck
from nvfp4_np.cli import main

distributed = pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")
from nvfp4_np import distributed as nd  # noqa: E402

RECIPES = ("seed", "te", "modelopt", "torchao", "compressed-tensors")


@pytest.fixture(scope="module")
def client():
    with nd.local_cluster(2, threads=1) as cluster, distributed.Client(cluster) as c:
        yield c


def _model(d, n=6, rows=96, cols=128, seed=0):
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    t = {f"layers.{i}.proj.weight": (rng.standard_t(4, (rows + 16 * i, cols)) * 0.05).astype(np.float32)
         for i in range(n)}
    t["layers.0.norm.weight"] = np.ones(cols, np.float32)
    t["embed.weight"] = rng.standard_normal((8, cols)).astype(np.float16)
    st.save(str(d / "model.safetensors"), t, {"format": "pt"})
    X = {f"layers.{i}.proj": rng.standard_normal((32, cols)).astype(np.float32) for i in range(n - 1)}
    np.savez(d / "calib.npz", **X)  # the last layer has none: it falls back
    return t


def _same_output(a, b):
    for f in sorted(os.listdir(a)):
        if f.endswith(".safetensors") or f == "config.json":
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    ra, rb = (json.loads((x / ck.REPORT_NAME).read_text()) for x in (a, b))
    keys = ("name", "action", "method", "mode", "weight_error_pct", "output_error_pct", "scale_byte_histogram",
            "global_scale", "zero_scale_blocks")
    assert [{k: e.get(k) for k in keys} for e in ra["tensors"]] == [{k: e.get(k) for k in keys} for e in rb["tensors"]]
    assert rb["engine"].startswith("dask")


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("method", ["naive", "optimal", "hessian", "admm"])
def test_bit_identical_to_one_process(client, tmp_path, method, recipe):
    _model(tmp_path / "m")
    settings = ck.Settings(method=method, recipe=recipe)
    kw = {"calib": str(tmp_path / "m" / "calib.npz")} if method in ("hessian", "admm") else {}
    ck.quantize_checkpoint(str(tmp_path / "m"), str(tmp_path / "one"), settings, **kw)
    # 3 row steps per task at most: every tensor is split over several tasks (and, with a
    # two-level recipe, its amax is reduced across them)
    nd.quantize_checkpoint(client, str(tmp_path / "m"), str(tmp_path / "dask"), settings,
                           task_elements=ck.pieces.ROWS_ELEMENTS, **kw)
    _same_output(tmp_path / "one", tmp_path / "dask")


@pytest.mark.slow
def test_worker_killed_mid_run_is_survived(client, tmp_path, monkeypatch):
    monkeypatch.setattr(ck.pieces, "ROWS_ELEMENTS", 64 * 512)  # many small tasks
    _model(tmp_path / "m", n=24, rows=256, cols=512)
    np.savez(tmp_path / "h.npz", **{f"layers.{i}.proj.H": np.eye(512) + 0.1 for i in range(24)})
    settings = ck.Settings(method="admm", recipe="te")
    ck.quantize_checkpoint(str(tmp_path / "m"), str(tmp_path / "one"), settings, calib=str(tmp_path / "h.npz"))
    before = client.run(os.getpid)
    killed = []

    def kill_one(line):
        if not killed:  # after the first weight is written, the others are in flight
            victim = sorted(before.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    nd.quantize_checkpoint(client, str(tmp_path / "m"), str(tmp_path / "dask"), settings,
                           calib=str(tmp_path / "h.npz"), task_elements=2 * 64 * 512, log=kill_one,
                           window=64)
    _same_output(tmp_path / "one", tmp_path / "dask")
    client.wait_for_workers(2, timeout=60)
    after = client.run(os.getpid)
    assert killed and killed[0] not in after.values()  # that worker died; its nanny started another


def test_task_failure_aborts_with_nothing_written(client, tmp_path):
    t = _model(tmp_path / "m")
    bad = dict(t)
    bad["layers.3.proj.weight"] = t["layers.3.proj.weight"].copy()
    bad["layers.3.proj.weight"][5, 7] = np.inf
    st.save(str(tmp_path / "m" / "model.safetensors"), bad)
    with pytest.raises(ck.CheckpointError, match=r"layers\.3\.proj\.weight.*non-finite"):
        nd.quantize_checkpoint(client, str(tmp_path / "m"), str(tmp_path / "out"), task_elements=1 << 12)
    assert not (tmp_path / "out").exists() and not [f for f in os.listdir(tmp_path) if ".partial-" in f]
    assert client.submit(sum, [1, 2]).result() == 3  # the cluster is still usable


@pytest.mark.slow
def test_cli_workers(tmp_path, capsys):
    _model(tmp_path / "m")
    assert main(["quantize", str(tmp_path / "m"), "-o", str(tmp_path / "one"), "--quiet"]) == 0
    assert main(["quantize", str(tmp_path / "m"), "-o", str(tmp_path / "dask"), "--quiet", "--workers", "2",
                 "--threads", "1"]) == 0
    _same_output(tmp_path / "one", tmp_path / "dask")
    assert main(["quantize", str(tmp_path / "m"), "-o", str(tmp_path / "x"), "--workers", "2",
                 "--dask-scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err


def test_dask_is_not_imported_unless_asked(tmp_path):
    _model(tmp_path / "m", n=2)
    code = ("import sys; from nvfp4_np.cli import main; "
            f"rc = main(['quantize', {str(tmp_path / 'm')!r}, '-o', {str(tmp_path / 'o')!r}, '--quiet']); "
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "0 []", r.stdout + r.stderr
