"""The registry is the one table of methods, modes, recipes, tie rules and block sizes:
every entry point takes its choices from it."""

import importlib
import subprocess
import sys

import numpy as np
import pytest

import nvfp4_np
from nvfp4_np import admm, core, formats, hessian, recipes, registry
from nvfp4_np.validation import golden

plan = importlib.import_module("nvfp4_np.checkpoint.plan")  # the package exports a function plan()


def test_the_tables_are_the_registry():
    assert registry.RECIPES == recipes.BLOCK_RECIPES == ("seed", "te", "modelopt", "torchao", "compressed-tensors")
    assert registry.ALL_RECIPES == tuple(recipes.RECIPES) == registry.RECIPES + ("fouroversix",)
    assert registry.METHODS["4over6"].recipe_names == ("fouroversix", "te")
    assert all(m.recipe_names[0] == registry.DEFAULT_RECIPE for m in registry.METHODS.values() if m.recipes is None)
    assert registry.ROUNDINGS == tuple(formats.ROUNDING_MODES) == ("seed", "rne")
    assert core.BLOCK_SIZES == registry.BLOCK_SIZES == (16, 32)
    for name, fn in (("hessian", hessian.nvfp4_optimal_hessian), ("admm", admm.nvfp4_admm)):
        with pytest.raises(ValueError, match=f"mode for method '{name}' must be one of"):
            fn(np.ones((2, 1, 16), np.float32), H_blocks=np.eye(16)[None], mode="fast")
    assert plan.BEST_MODES == {"hessian": "exact", "admm": "best", "gptq": "hessian"}
    assert plan.FALLBACKS == ("naive", "optimal")
    assert golden.METHODS == {"naive": ("naive", None), "optimal": ("optimal", None),
                              "hessian-seed": ("hessian", "seed"), "hessian-exact": ("hessian", "exact"),
                              "admm-seed": ("admm", "seed"), "admm-best": ("admm", "best"),
                              "gptq-optimal": ("gptq", "optimal"), "gptq-hessian": ("gptq", "hessian"),
                              "gptq-naive": ("gptq", "naive"), "4over6": ("4over6", None)}


def test_each_method_names_its_public_functions():
    for name, m in registry.METHODS.items():
        assert m.function("cpu") is nvfp4_np.tensor.METHODS[name]
        if m.recipes is None:  # the block methods' functions are public (4over6's: nvfp4_four_over_six)
            assert m.function("cpu") is getattr(nvfp4_np, m.cpu.split(":")[1])
        assert m.function("cpu").__name__ == m.cpu.split(":")[1]
        assert m.gpu is None or m.gpu.split(":")[1] == m.cpu.split(":")[1]
        assert m.summary and (m.checkpoint_mode in m.modes if m.modes else m.checkpoint_mode is None)
        assert m.needs_activations == bool(m.modes)


def test_unknown_method_and_mode_name_the_choices():
    W = np.ones((2, 16), np.float32)
    with pytest.raises(ValueError, match=r"method must be one of \['4over6', 'admm', 'gptq', 'hessian', 'naive', 'optimal'\]"):
        nvfp4_np.quantize(W, method="awq")
    with pytest.raises(ValueError, match=r"mode for method 'hessian' must be one of \('seed', 'exact'\), got 'best'"):
        nvfp4_np.quantize(W, method="hessian", X=np.ones((4, 16), np.float32), mode="best")
    with pytest.raises(ValueError, match=r"mode for method 'naive' must be None \(it has no modes\), got 'seed'"):
        nvfp4_np.quantize(W, method="naive", mode="seed")
    with pytest.raises(ValueError, match="X and H_blocks apply to method='hessian' or 'admm' or 'gptq' or '4over6', not 'naive'"):
        nvfp4_np.quantize(W, method="naive", X=np.ones((4, 16), np.float32))


def test_the_command_line_offers_the_registry():
    out = subprocess.run([sys.executable, "-m", "nvfp4_np", "quantize", "--help"], capture_output=True,
                         text=True).stdout
    flat = " ".join(out.split())
    assert "{naive,optimal,hessian,admm,gptq,4over6}" in flat
    assert "{seed,te,modelopt,torchao,compressed-tensors,fouroversix}" in flat
    for m in registry.METHODS.values():
        assert f"{m.name}: {' '.join(m.summary.split())}" in flat
    assert ("hessian: seed|exact (default exact); admm: seed|best (default best); gptq: optimal|hessian|naive "
            "(default hessian)") in flat
