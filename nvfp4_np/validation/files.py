"""The files of a golden vector (validation/SPEC.md §8): the names of the outputs a
candidate writes, and arrays to and from their little-endian ``.bin`` words and ``.hex``
lines. The generator (golden.py) writes them, the checker (checker.py) reads them."""

import json
import os

import numpy as np

from ..checkpoint.paths import plain_name

#: The arrays a candidate implementation produces (the checker compares these).
OUTPUTS = ("codes", "scale_bytes", "scale_bytes_swizzled", "tensor_scale", "dequant")
#: The arrays of an MX vector's candidate (SPEC §9.8): no tensor scale; ``codes_packed``
#: (FP6 four in three bytes) only for the FP6 formats.
MX_OUTPUTS = ("codes", "codes_packed", "scale_bytes", "scale_bytes_swizzled", "dequant")


def output_names(manifest):
    """The arrays a candidate writes for the vector of ``manifest`` (those of role
    "output"), in the order of OUTPUTS / MX_OUTPUTS."""
    names = MX_OUTPUTS if manifest.get("fmt") else OUTPUTS
    return tuple(n for n in names if manifest["arrays"].get(n, {}).get("role") == "output")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _word_dtype(dtype):
    """Unsigned integer dtype of the same size: how the array's words are written."""
    return np.dtype(f"<u{np.dtype(dtype).itemsize}")


def array_bytes(a):
    """Little-endian bytes of an array in C order."""
    a = np.ascontiguousarray(a)
    return a.view(_word_dtype(a.dtype)).astype(_word_dtype(a.dtype)).tobytes()


def hex_text(a):
    """One word per line, lowercase hex of the word's bits, zero-padded."""
    a = np.ascontiguousarray(a)
    words = a.view(_word_dtype(a.dtype)).reshape(-1)
    width = 2 * a.dtype.itemsize
    return "".join(f"{int(w):0{width}x}\n" for w in words)


def dtype_name(dtype):
    """The manifest's name of a dtype ("bfloat16" for ml_dtypes' bfloat16, as NumPy names it)."""
    return np.dtype(dtype).name


def np_dtype(name):
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def load_array(folder, name, entry):
    """An array of a vector folder (expected) from its ``.bin``, checked against the
    manifest entry."""
    with open(os.path.join(folder, plain_name(entry["bin"]["file"], f"{folder}/manifest.json")), "rb") as f:
        data = f.read()
    return from_bytes(data, entry)


def from_bytes(data, entry):
    dt = np_dtype(entry["dtype"])
    words = np.frombuffer(data, dtype=f"<u{dt.itemsize}")
    return words.astype(words.dtype.newbyteorder("=")).view(dt).reshape(entry["shape"])
