"""What the benchmark scripts share: timing, running the seed in an oracle Python, and
synthetic checkpoints."""

import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEED_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "seed"))

# argv: seed_dir, torch threads, then one .npy path per array, in the order given.
_PREAMBLE = r"""
import json, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
import seed_reference as seed
torch.set_num_threads(int(sys.argv[2]))
arrays = [torch.from_numpy(np.load(p)) for p in sys.argv[3:]]

def timed(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return ts
"""


def median_time(fn, repeat):
    """Median wall time of ``repeat`` calls of ``fn``."""
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


class SelfTimed(float):
    """What a timed function returns when it times itself (a call into another process,
    timed there): interleaved_times takes this value as its time."""


def interleaved_times(fns, repeat, pause=0.0):
    """Median wall times of each of ``fns``, called in turn ``repeat`` times each (a
    shared machine's load then weighs on all alike); a function that returns a
    :class:`SelfTimed` gives its own time. ``pause`` seconds between calls (the last
    call's OpenMP threads stop spinning)."""
    ts = [[] for _ in fns]
    for _ in range(repeat):
        for f, t_f in zip(fns, ts):
            t = time.perf_counter()
            r = f()
            t = time.perf_counter() - t
            t_f.append(float(r) if isinstance(r, SelfTimed) else t)
            if pause:
                time.sleep(pause)
    return [statistics.median(t_f) for t_f in ts]


def run_in_oracle(oracle, seed_dir, threads, body, *arrays):
    """Run ``body`` (Python source that sees ``seed``, ``arrays`` as torch tensors and
    ``timed(fn, repeat)``, and prints one JSON line last) in the oracle Python."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, a in enumerate(arrays):
            paths.append(os.path.join(d, f"a{i}.npy"))
            np.save(paths[-1], a)
        res = subprocess.run([oracle, "-c", _PREAMBLE + body, seed_dir, str(threads), *paths],
                             check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


class Worker:
    """A Python process (another venv: torch and the library compared with) that runs
    ``code`` with ``args`` and answers one JSON line per request line: the time of the
    call it made, taken inside it. Its first line must be ``ready``. A worker that stops
    raises RuntimeError with the end of its stderr. Use as a context manager."""

    def __init__(self, python, code, args, folder, env=None):
        self._err = open(os.path.join(folder, "worker.err"), "w+")
        self._p = subprocess.Popen([python, "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=self._err, text=True,
                                   env=None if env is None else dict(os.environ, **env))
        try:
            line = self._reply()
            if line.strip() != "ready":
                raise RuntimeError(f"the worker said {line!r}")
        except BaseException:
            self.close()
            raise

    def _stopped(self):
        self._err.seek(0)
        return RuntimeError("the worker stopped:\n" + self._err.read()[-3000:])

    def _reply(self):
        line = self._p.stdout.readline()
        if not line:
            raise self._stopped()
        return line

    def call(self, request):
        """Send one request line; the worker's time for it (:class:`SelfTimed`)."""
        try:
            self._p.stdin.write(request + "\n")
            self._p.stdin.flush()
        except BrokenPipeError:
            raise self._stopped() from None
        return SelfTimed(json.loads(self._reply()))

    def close(self):
        try:
            self._p.stdin.close()
            self._p.wait(timeout=30)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self._p.kill()
            self._p.wait()
        self._err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_weights(path, n, rows, cols, seed=0):
    """A bfloat16 safetensors file of n heavy-tailed (Student t, 4 degrees of freedom)
    weights ``model.layers.{i}.mlp.up_proj.weight`` of (rows, cols), written one tensor
    at a time."""
    import ml_dtypes

    from nvfp4_np import _safetensors

    rng = np.random.default_rng(seed)
    specs = [(f"model.layers.{i}.mlp.up_proj.weight", "BF16", (rows, cols)) for i in range(n)]
    w = _safetensors.SafetensorsWriter(path, specs, {"format": "pt"})
    for name, _, shape in specs:
        w.write(name, (rng.standard_t(4, shape) * 0.02).astype(ml_dtypes.bfloat16))
    w.close()
