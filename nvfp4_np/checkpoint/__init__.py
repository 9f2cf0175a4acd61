"""Quantize whole checkpoints: read safetensors (single or sharded), ``.npy`` or ``.npz``
lazily, pick the weights to quantize, and write the compressed-tensors NVFP4 layout that
vLLM and llm-compressor load, with a JSON report of the error of every tensor.

The work is cut so that each piece can run anywhere (here, or on Dask workers with
:mod:`nvfp4_np.distributed`):

- :mod:`.source`: :func:`open_checkpoint` (lazy readers) and :class:`Calibration`;
- :mod:`.plan`: :func:`plan` decides from headers alone what every tensor becomes;
- :mod:`.rows`: :func:`quantize_rows` / :func:`quantize_tensor` turn a weight (or rows of
  it) into its output arrays and error sums; :func:`load_kernels` compiles (or loads)
  the kernels a plan needs before the first tensor;
- :mod:`.fused`: which weights engines fuse, and so share one global scale;
- :mod:`.layout`: the compressed-tensors and ModelOpt tensors, configs and names;
- :mod:`.writer`: :class:`CheckpointWriter` writes a hidden folder renamed to OUT at the end;
- :mod:`.quantize`: :func:`quantize_checkpoint` runs the whole thing;
- :mod:`.readback`: :func:`dequantize_checkpoint` and ``inspect``.
"""

from .fused import FUSED_GROUPS, fused_groups
from .layout import (FORMATS, SUFFIXES, dequantize_stored, global_scale, layout_tensor, load_quantized, nvfp4_groups,
                     quantization_config)
from .plan import (BEST_MODES, DEFAULT_EXCLUDES, SCHEMES, Settings, TensorPlan, expert_module, groups_of, matrix_shape,
                   plan, prepare)
from .quantize import REPORT_NAME, activation_scales, local_engine, quantize_checkpoint, read_report, tensor_error
from .readback import dequantize_checkpoint, inspect_rows, run_label
from .rows import (diag_blocks, finish_tensor, load_kernels, quantize_rows, quantize_tensor, row_step,
                   tensor_operands, weight_amax)
from . import source
from .source import ArrayFile, Calibration, Checkpoint, CheckpointError, npz_headers, open_checkpoint, reader
from .writer import CheckpointWriter

# The user-facing names; the others above are the pieces the command line and
# nvfp4_np.distributed assemble.
__all__ = ["CheckpointError", "Settings", "open_checkpoint", "plan", "quantize_checkpoint", "dequantize_checkpoint",
           "read_report", "inspect_rows", "DEFAULT_EXCLUDES", "REPORT_NAME", "FORMATS", "FUSED_GROUPS", "fused_groups"]
