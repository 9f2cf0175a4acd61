"""The package's import graph has no circles: every import between nvfp4_np's modules,
at module level or inside a function, points one way."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "nvfp4_np")


def _modules():
    """module name -> path, for every .py file of the package."""
    out = {}
    for d, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                out[rel[:-9] if rel.endswith(".__init__") else rel] = os.path.join(d, f)
    return out


def _edges(name, path, modules):
    """The package modules that ``name`` imports (a package's ``__init__`` is the package)."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    tree = ast.parse(open(path, encoding="utf-8").read())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "nvfp4_np"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[:len(base) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "nvfp4_np":
                continue
            for a in node.names:  # "from . import core" imports a module; "from .x import f", module x
                out.add(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target)
    return {m for m in out if m in modules and m != name}


def test_the_import_graph_has_no_cycles():
    modules = _modules()
    graph = {m: _edges(m, p, modules) for m, p in modules.items()}
    # the package's own __init__ files import their submodules to export them; a cycle
    # through one would be submodule -> package -> submodule, so those edges count too
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_is_read_right():
    """The parser sees the imports that matter (a test of the test)."""
    modules = _modules()
    assert "nvfp4_np.registry" in _edges("nvfp4_np.tensor", modules["nvfp4_np.tensor"], modules)
    assert "nvfp4_np._gpu_tile" in _edges("nvfp4_np._gpu", modules["nvfp4_np._gpu"], modules)
    assert "nvfp4_np.validation.files" in _edges("nvfp4_np.validation.checker", modules["nvfp4_np.validation.checker"], modules)
    with pytest.raises(KeyError):
        modules["nvfp4_np.__init__"]


def test_quantizing_a_bf16_checkpoint_does_not_import_ml_dtypes(tmp_path):
    """ml_dtypes is imported only for an array of one of its types: its import takes over
    a second with some versions (0.7), which the command line would pay on every run."""
    import subprocess
    import sys

    import ml_dtypes
    import numpy as np

    from nvfp4_np._safetensors import save

    src = tmp_path / "m.safetensors"
    save(src, {"model.layers.0.mlp.up_proj.weight": np.ones((16, 64), ml_dtypes.bfloat16)})
    code = ("import sys; from nvfp4_np.cli import main; rc = main(sys.argv[1:]); "
            "assert 'ml_dtypes' not in sys.modules, 'ml_dtypes was imported'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, "quantize", str(src), "-o", str(tmp_path / "out"), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "m.safetensors").is_file()
