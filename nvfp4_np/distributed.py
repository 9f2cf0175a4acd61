"""Quantize a checkpoint on a Dask cluster, bit-identical to one process.

Optional: ``pip install nvfp4_np[distributed]``; nothing imports dask unless this module
is used. The driver (this process) plans from the file headers alone, then submits one
task per row range of every weight (:data:`TASK_ELEMENTS` elements each, whole row
steps of :func:`nvfp4_np.checkpoint.row_step`). Workers read their rows straight from
the input files, which must be on a filesystem they share with the driver, and return
the packed codes, scale bytes and error sums. The driver writes them in order through
the same atomic writer as the single-process command. So the output folder is
byte-identical, and so are the report's error figures: their float64 sums are taken per
row step and added in the same order however the rows were split.

Faults: a worker that dies is replaced by its nanny and the scheduler reruns its tasks
(up to ``distributed.scheduler.allowed-failures`` times). A task that raises (non-finite
weights, a bad calibration entry) is not retried: its input error cannot go away. The
run then stops, the outstanding tasks are cancelled and nothing is written.
"""

import collections
import math
import os
import time

import numpy as np

from . import checkpoint as ck
from . import recipes
from .core import tensor_amax

__all__ = ["quantize_checkpoint", "engine", "DistributedError", "TASK_ELEMENTS"]

#: Elements of W per task: big enough to amortise scheduling (~1 ms a task), small
#: enough to spread one large tensor over many workers.
TASK_ELEMENTS = 1 << 24


class DistributedError(RuntimeError):
    """The cluster could not finish (a task's worker died too often, the scheduler went
    away); nothing was written."""


def quantize_checkpoint(client, inputs, output, settings=None, *, task_elements=TASK_ELEMENTS, window=None, **kw):
    """:func:`nvfp4_np.checkpoint.quantize_checkpoint` with the work done by the Dask
    ``client``'s workers; same arguments (``include``, ``exclude``, ``calib``,
    ``overwrite``, ``log``, ``progress``...), same output, byte for byte.

    Parameters
    ----------
    client : distributed.Client
    inputs, output : str
        As the single-process function; ``inputs`` (and the calibration file) must be
        readable by every worker at the same path.
    task_elements : int
        Elements of W per task.
    window : int, optional
        Tasks in flight at most (default: twice the cluster's threads, at least one
        weight ahead); bounds the results held in worker memory.
    """
    return ck.quantize_checkpoint(inputs, output, settings, engine=engine(client, task_elements, window), **kw)


def engine(client, task_elements=TASK_ELEMENTS, window=None):
    """An engine for :func:`nvfp4_np.checkpoint.quantize_checkpoint` that runs on
    ``client``'s cluster."""

    def run(ckpt, cal, quantized, settings, progress, input_scales=None):
        yield from _run(client, ckpt, cal, quantized, settings, progress, task_elements, window, input_scales or {})

    run.description = f"dask ({len(client.scheduler_info().get('workers', {}))} workers)"
    return run


# ------------------------------------------------------------------ tasks (run on workers)


def _rows(path, name, r0, r1, expert, stacked):
    """Rows r0:r1 of the weight's matrix (of expert ``expert``, in the axis order ``stacked``)."""
    W = ck.reader(path).get(name)
    if expert is None:
        return np.asarray(W[r0:r1], np.float32)
    return np.ascontiguousarray((W[expert] if stacked == "out-in" else W[expert].T)[r0:r1], np.float32)


def _amax_task(path, name, r0, r1, expert, stacked):
    return tensor_amax(_rows(path, name, r0, r1, expert, stacked))


def _max_task(values):
    return np.float32(max(values))


def _operands_task(calib_path, p, settings):
    return ck.tensor_operands(p, settings, ck.Calibration(calib_path))


def _rows_task(path, name, r0, r1, p, settings, amax, operands, step, expert):
    t0 = time.perf_counter()
    W = _rows(path, name, r0, r1, expert, settings.stacked_experts)
    piece = ck.quantize_rows(W, r0, p, settings, tensor_amax(W) if amax is None else amax, operands, step=step,
                             expert=expert)
    piece["seconds"] = time.perf_counter() - t0
    return piece


# ------------------------------------------------------------------ the driver


def _ranges(M, K, task_elements, step):
    """Row ranges of about task_elements elements, whole multiples of ``step`` rows."""
    rows = max(1, task_elements // max(K, 1)) // step * step or step
    return [(r, min(r + rows, M)) for r in range(0, M, rows)] or [(0, 0)]


def _unit_amax(client, ckpt, p, expert, settings, task_elements):
    """A future of max|W| of weight ``p`` (of its expert ``expert`` when stacked), one
    task per row range."""
    M, K = ck.matrix_shape(p.shape, settings.stacked_experts)
    path = ckpt.shards[ckpt.where[p.name]].path
    parts = [client.submit(_amax_task, path, p.name, a, b, expert, settings.stacked_experts, pure=False)
             for a, b in _ranges(M, K, task_elements, ck.row_step(K, settings.tile_rows))]
    return client.submit(_max_task, parts, pure=False)


def _submit(client, ckpt, cal, p, settings, task_elements, groups, group_amax):
    """The tasks of weight ``p``: per expert (one for a 2-D weight) and row range. The
    amax is the fused group's (the max over its members, per expert; one future per
    group shared by its members), the weight's own, or taken by a lone task from its rows."""
    path = ckpt.shards[ckpt.where[p.name]].path
    M, K = ck.matrix_shape(p.shape, settings.stacked_experts)
    step = ck.row_step(K, settings.tile_rows)  # the driver's: the error sums' partition is the single process's
    ranges = _ranges(M, K, task_elements, step)
    operands = (None, None, None, None)
    if p.calib is not None:
        operands = client.submit(_operands_task, cal.path, p, settings, pure=False)
    two_level = not settings.is_mx and recipes.get_recipe(settings.recipe).two_level
    futures = []
    for e in range(p.shape[0]) if len(p.shape) == 3 else [None]:
        if not two_level:
            amax = np.float32(0)  # single-level recipes do not use it
        elif p.group:
            if (p.group, e) not in group_amax:
                group_amax[p.group, e] = client.submit(
                    _max_task, [_unit_amax(client, ckpt, m, e, settings, task_elements) for m in groups[p.group]],
                    pure=False)
            amax = group_amax[p.group, e]
        else:
            amax = _unit_amax(client, ckpt, p, e, settings, task_elements) if len(ranges) > 1 else None
        futures += [client.submit(_rows_task, path, p.name, a, b, p, settings, amax, operands, step, e, pure=False)
                    for a, b in ranges]
    return futures


def _run(client, ckpt, cal, quantized, settings, progress, task_elements, window, input_scales):
    from distributed import CancelledError, KilledWorker

    threads = sum(client.nthreads().values()) or 1
    window = window or 2 * threads
    pending = collections.deque()
    groups, group_amax = ck.groups_of(quantized), {}
    todo = iter(quantized)
    in_flight = 0

    def fill():
        nonlocal in_flight
        while in_flight < window or not pending:
            p = next(todo, None)
            if p is None:
                return
            futs = _submit(client, ckpt, cal, p, settings, task_elements, groups, group_amax)
            pending.append((p, futs))
            in_flight += len(futs)

    try:
        if quantized:  # the workers compile (or load) the kernels first: not charged to a task's speed
            client.run(ck.load_kernels, {(p.method, p.mode) for p in quantized}, settings)
        fill()
        while pending:
            p, futs = pending.popleft()
            try:
                pieces = client.gather(futs)
            except ValueError as e:  # raised by the task: an input error, never retried
                raise ck.tensor_error(ckpt, p, e) from None
            except (KilledWorker, CancelledError, OSError) as e:
                raise DistributedError(f"tensor {p.name!r}: the cluster could not finish it: "
                                       f"{type(e).__name__}: {e}") from None
            in_flight -= len(futs)
            fill()
            if progress:
                progress(math.prod(p.shape))
            yield ck.finish_tensor(p, settings, pieces, sum(q["seconds"] for q in pieces), input_scales.get(p.name))
    finally:
        for _, futs in pending:
            client.cancel(futs)


def local_cluster(workers, threads=None):
    """A LocalCluster of ``workers`` processes with one Dask thread each; each worker's
    Numba kernels get ``threads`` threads (default: the cores divided among workers)."""
    from distributed import LocalCluster

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    # ":0": the dashboard on a free port (a fixed one clashes with any other cluster running)
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                        env={"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)})
