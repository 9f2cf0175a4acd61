"""Golden vectors and a checker for other NVFP4 implementations (C, CUDA, RTL, ...).

``python -m nvfp4_np.validation generate --out DIR`` writes the vectors;
``python -m nvfp4_np.validation verify --vectors DIR --candidate CAND`` checks a
candidate's outputs (the same as the ``nvfp4-np golden`` / ``nvfp4-np verify`` commands).
The arithmetic behind every expected byte is written out in validation/SPEC.md.
"""

from .files import OUTPUTS
from .golden import generate, vector_specs, write_candidate
from .checker import Report, check_vector, verify

__all__ = ["generate", "verify", "check_vector", "vector_specs", "write_candidate", "Report", "OUTPUTS"]
