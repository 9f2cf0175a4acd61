"""How the CPU kernels cut their blocks into parallel tasks: chunks of CHUNK_BLOCKS
consecutive blocks, or (the Hessian methods) column blocks with a run of their rows, so
that a task loads one H_j and reuses it."""

import numba
import numpy as np

from ._config import CHUNK_BLOCKS, JIT_SCALAR


@numba.njit(**JIT_SCALAR)
def n_chunks(n):
    """Number of CHUNK_BLOCKS-sized work items for n blocks."""
    return (n + CHUNK_BLOCKS - 1) // CHUNK_BLOCKS


@numba.njit(**JIT_SCALAR)
def _tasks_per_column(n_blocks, ncb, rows_per_task):
    return (n_blocks // ncb + rows_per_task - 1) // rows_per_task


@numba.njit(**JIT_SCALAR)
def column_block_task(task, n_blocks, ncb, rows_per_task):
    """Work item ``task`` of the Hessian kernels: column block j and the block indices
    b = m * ncb + j for its rows m, so each task loads one H_j and reuses it."""
    tasks_per_j = _tasks_per_column(n_blocks, ncb, rows_per_task)
    j = task // tasks_per_j
    m0 = (task % tasks_per_j) * rows_per_task
    return j, np.arange(m0, min(n_blocks // ncb, m0 + rows_per_task)) * ncb + j


@numba.njit(**JIT_SCALAR)
def n_column_tasks(n_blocks, ncb, rows_per_task):
    """Number of work items of the Hessian kernels (see column_block_task)."""
    return ncb * _tasks_per_column(n_blocks, ncb, rows_per_task)
