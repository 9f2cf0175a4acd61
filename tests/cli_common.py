"""Reading a quantize run's stderr in tests that run the command as a process."""

import re

#: The two notes of a run that compiles its kernels first (checkpoint/rows.py's
#: load_kernels): given when such a test runs first on a cold Numba cache, alone or as
#: one of several pytest workers.
COMPILING = re.compile(r"compiling the kernels \(the first run|kernels compiled in \d+ s")


def next_line(p):
    """The next stderr line of the process ``p``, past the compile notes."""
    line = p.stderr.readline()
    while COMPILING.search(line):
        line = p.stderr.readline()
    return line


def wait_for_first_tensor(p):
    """Read a 40-tensor run's stderr until its first tensor is done."""
    assert next_line(p).startswith("40 tensors to quantize")
    first = next_line(p)
    assert first.startswith("[1/40]"), first
