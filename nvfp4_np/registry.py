"""What nvfp4_np can do, as data: the block-scale methods, their modes and kernels, the
recipes, the tie rules, the block sizes. Every entry point reads this one table:
:func:`nvfp4_np.quantize` (and its GPU dispatch), the checkpoint planner, the command
line's choices and help, and the golden-vector generator. Adding a method is one entry
here plus its CPU and GPU kernels.

Kernels are named as ``"module:function"`` and imported when first used, so that this
module imports only the format and recipe tables (no import circles) and the GPU modules
load only on ``device="cuda"``.
"""

import importlib
from dataclasses import dataclass

from . import formats, mx, recipes

__all__ = ["Format", "FORMATS", "DEFAULT_FORMAT", "SCALE_ROUNDINGS", "Method", "METHODS", "RECIPES", "ALL_RECIPES", "DEFAULT_METHOD", "DEFAULT_RECIPE", "ROUNDINGS", "BLOCK_SIZES",
           "method", "block_shape", "vector_methods", "methods_without_activations", "block_format", "mx_methods"]

#: Block sizes every method takes (elements per block along the reduction axis).
BLOCK_SIZES = (16, 32)
#: E2M1 tie rules (:data:`nvfp4_np.formats.ROUNDING_MODES`): "seed" (ties toward zero,
#: the seed's torch.bucketize) and "rne".
ROUNDINGS = tuple(formats.ROUNDING_MODES)
#: The block methods' recipe names, in the order of validation/SPEC.md §3; the arithmetic
#: of each is a :class:`nvfp4_np.recipes.Recipe`. (A method with its own recipes lists
#: them in :attr:`Method.recipes`; every name is :data:`ALL_RECIPES`.)
RECIPES = recipes.BLOCK_RECIPES
ALL_RECIPES = tuple(recipes.RECIPES)
#: Python's default recipe: the seed's single-level arithmetic (bit-exact with the seed).
#: (A checkpoint's default is its format's own recipe: nvfp4_np.checkpoint.layout.FORMATS.)
DEFAULT_RECIPE = "seed"
#: The default method of quantize() and of the command line.
DEFAULT_METHOD = "optimal"


@dataclass(frozen=True)
class Method:
    """One block-scale method.

    ``modes``: the method's modes, the default first (empty: none). ``checkpoint_mode``:
    the mode a checkpoint uses (the most accurate). ``needs_activations``: it takes ``X``
    or a Hessian (``H_blocks``, or the full ``H`` when that is one of its options).
    ``options``: the method's own keyword options, passed on by :func:`nvfp4_np.quantize`.
    ``cpu`` / ``gpu``: its kernels as ``"module:function"`` (``gpu`` None: CPU only).
    ``recipes``: the recipes it takes, its default first (None: :data:`RECIPES`, default
    :data:`DEFAULT_RECIPE`). ``block_shapes``: the 2-D block shapes it takes besides
    1-D blocks (``(16, 16)``: one scale per 16x16 tile of a 2-D weight).
    ``takes_activations``: X or H_blocks are optional (they change how it chooses).
    ``tiles``: the function of its 16x16 blocks as ``"module:function"`` when that is
    not ``cpu`` itself (CPU only). ``mx`` / ``mx_gpu``: its kernels for the MX formats
    (None: NVFP4 only).
    """

    name: str
    summary: str
    cpu: str
    gpu: str
    modes: tuple = ()
    checkpoint_mode: str = None
    needs_activations: bool = False
    block_sizes: tuple = BLOCK_SIZES
    options: tuple = ()
    recipes: tuple = None
    block_shapes: tuple = ()
    takes_activations: bool = False
    tiles: str = None
    mx: str = None
    mx_gpu: str = None

    @property
    def default_mode(self):
        return self.modes[0] if self.modes else None

    @property
    def recipe_names(self):
        """The recipes it takes, the default first."""
        return self.recipes or (DEFAULT_RECIPE,) + tuple(r for r in RECIPES if r != DEFAULT_RECIPE)

    def check_recipe(self, recipe):
        """The recipe name (None: the default) if the method takes it, else ValueError."""
        if recipe is None:
            return self.recipe_names[0]
        name = recipes.get_recipe(recipe).name
        if name not in self.recipe_names:
            raise ValueError(f"method {self.name!r} takes recipe {' or '.join(map(repr, self.recipe_names))}, "
                             f"got {name!r}")
        return recipe

    @property
    def takes_full_hessian(self):
        """Whether its Hessian is the full (K, K) ``H`` (else the block Hessians ``H_blocks``)."""
        return "H" in self.options

    def function(self, device="cpu"):
        """The method's public function for ``device`` ("cpu" or "cuda")."""
        if device != "cpu" and self.gpu is None:
            raise ValueError(f"method {self.name!r} runs on the CPU only (device='cpu'), got device={device!r}")
        return _load(self.cpu if device == "cpu" else self.gpu)

    def mx_function(self, device="cpu"):
        """The method's kernel for the MX formats on ``device`` (("cpu" or "cuda"):
        ``f(x, fmt, ..., pack=False, alloc=np.empty)`` of a float32 (R, C) ``x`` -> (codes (R, C), or with
        ``pack`` (MXFP4) (R, C / 2) two per byte; E8M0 bytes (R, C / 32); the number of
        blocks holding Inf or NaN)."""
        if self.mx is None:
            raise ValueError(f"method {self.name!r} is for NVFP4 only; the MX formats take "
                             f"{' or '.join(map(repr, mx_methods()))}")
        if device != "cpu" and self.mx_gpu is None:
            raise ValueError(f"method {self.name!r} on the MX formats runs on the CPU only (device='cpu'), "
                             f"got device={device!r}")
        return _load(self.mx if device == "cpu" else self.mx_gpu)

    def tile_function(self, device="cpu"):
        """The function of its 16x16 blocks on ``device`` (``cpu``'s own when ``tiles`` is None)."""
        if self.tiles is None:
            return self.function(device)
        if device != "cpu":
            raise ValueError(f"16x16 blocks of method {self.name!r} run on the CPU only (device='cpu'), "
                             f"got device={device!r}")
        return _load(self.tiles)

    def check_mode(self, mode):
        """``mode`` (None: the default) if the method has it, else ValueError."""
        if mode is None:
            return self.default_mode
        if mode not in self.modes:
            have = f"one of {self.modes}" if self.modes else "None (it has no modes)"
            raise ValueError(f"mode for method {self.name!r} must be {have}, got {mode!r}")
        return mode


def _load(where):
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


METHODS = {m.name: m for m in (
    Method("naive", "block scale E4M3(amax / 6), the recipe's own (what every stack does)",
           "nvfp4_np.naive:nvfp4_naive", "nvfp4_np.gpu_naive:nvfp4_naive", block_shapes=((16, 16),),
           tiles="nvfp4_np.tiles:tile_naive", mx="nvfp4_np.mx:mx_naive",
           mx_gpu="nvfp4_np.gpu_mx:mx_naive"),
    Method("optimal", "the E4M3 block scale with the least squared error (exact search)",
           "nvfp4_np.optimal:nvfp4_optimal", "nvfp4_np.gpu_optimal:nvfp4_optimal", block_shapes=((16, 16),),
           tiles="nvfp4_np.tiles:tile_optimal", mx="nvfp4_np.mx_search:mx_optimal",
           mx_gpu="nvfp4_np.gpu_mx:mx_optimal"),
    Method("hessian", "the block scale with the least output error r^T H r given activations",
           "nvfp4_np.hessian:nvfp4_optimal_hessian", "nvfp4_np.gpu_hessian:nvfp4_optimal_hessian",
           modes=("seed", "exact"), checkpoint_mode="exact", needs_activations=True,
           mx="nvfp4_np.mx_search:mx_hessian",
           mx_gpu="nvfp4_np.gpu_mx:mx_hessian"),
    Method("admm", "the Hessian scale, then quants refined by ADMM",
           "nvfp4_np.admm:nvfp4_admm", "nvfp4_np.gpu_admm:nvfp4_admm",
           modes=("seed", "best"), checkpoint_mode="best", needs_activations=True),
    Method("gptq", "GPTQ error compensation, each group's block scales searched as the sweep reaches it",
           "nvfp4_np.gptq:nvfp4_gptq", None, modes=("optimal", "hessian", "naive"), checkpoint_mode="hessian",
           needs_activations=True, options=("H", "damp", "order", "block")),
    Method("4over6", "Four Over Six: per block the scale mapping the max to 6 or to 4, whichever errs less "
           "(rule mse, mae, abs_max; or r^T H r given activations)",
           "nvfp4_np.four_over_six:four_over_six_blocks", "nvfp4_np.gpu_four_over_six:four_over_six_blocks",
           block_sizes=(16,),
           options=("rule", "scale_max"), recipes=("fouroversix", "te"), block_shapes=((16, 16),),
           takes_activations=True),
)}


@dataclass(frozen=True)
class Format:
    """One block format: its element and scale formats and block sizes. The methods
    that take it are those of :data:`METHODS` with kernels for it (:func:`mx_methods`
    for the MX formats); ``scale_roundings``: the rounding modes of its naive scale
    (the MX formats' E8M0 byte; NVFP4's naive scale is its recipe's)."""

    name: str
    summary: str
    element: formats.FloatFormat
    scale: str
    block_sizes: tuple
    scale_roundings: tuple = ()

    @property
    def is_mx(self):
        return self.scale == "e8m0"

    @property
    def methods(self):
        return mx_methods() if self.is_mx else tuple(METHODS)


#: The E8M0 scale-rounding modes of the MX formats (:data:`nvfp4_np.mx.SCALE_ROUNDINGS`).
SCALE_ROUNDINGS = tuple(mx.SCALE_ROUNDINGS)
#: The block formats by name: NVFP4, then the MX formats (:data:`nvfp4_np.mx.MX_FORMATS`).
FORMATS = {f.name: f for f in (
    Format("nvfp4", "E2M1 elements, an E4M3 scale per block of 16 (or 32), a float32 tensor scale",
           formats.E2M1, "e4m3", BLOCK_SIZES),
    *(Format(name, f"{f.element.name.upper()} elements, an E8M0 scale per block of 32 (OCP MX v1.0)",
             f.element, "e8m0", (mx.MX_BLOCK,), SCALE_ROUNDINGS) for name, f in mx.MX_FORMATS.items()),
)}
DEFAULT_FORMAT = "nvfp4"


def block_format(name):
    """The :class:`Format` called ``name`` (None: the default), or ValueError naming the choices."""
    if name is None:
        return FORMATS[DEFAULT_FORMAT]
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f"fmt must be one of {list(FORMATS)}, got {name!r}") from None


def mx_methods():
    """The names of the methods with kernels for the MX formats."""
    return tuple(name for name, m in METHODS.items() if m.mx is not None)


def block_shape(value):
    """``value`` as a tuple of two ints (a 2-D block shape such as (16, 16)), or
    ValueError: each entry must be an integer (no silent truncation of 16.5)."""
    import operator

    try:
        shape = tuple(operator.index(v) for v in value)
    except TypeError:
        shape = None
    if shape is None or len(shape) != 2 or isinstance(value, str):
        raise ValueError(f"block_shape must be None or a pair of integers such as (16, 16), got {value!r}")
    return shape


def method(name):
    """The :class:`Method` called ``name``, or ValueError naming the choices."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {name!r}") from None


def methods_without_activations():
    """Names of the block methods (those of the block recipes) that need no X or H_blocks
    (the fallbacks of a checkpoint, and the methods of the golden vectors' plain suites)."""
    return tuple(name for name, m in METHODS.items() if not m.needs_activations and m.recipes is None)


def vector_methods():
    """The golden vectors' method names -> (method, mode): one per method and mode
    (``"hessian-exact"``), the method's name alone when it has no modes."""
    out = {}
    for m in METHODS.values():
        for mode in m.modes or (None,):
            out[m.name if mode is None else f"{m.name}-{mode}"] = (m.name, mode)
    return out
