"""Run the C reference (nvfp4_ref.c) on every naive seed/te golden vector and every
naive MXFP8 E4M3 vector of scale rounding floor or rceil.

    python validation/examples/run_c_example.py --vectors DIR --binary PATH --out CAND

For each vector folder of DIR whose manifest has method "naive" and recipe "seed" or
"te" (or format "mxfp8_e4m3" and scale rounding "floor" or "rceil": RECIPE is then
``mxfp8_e4m3-floor`` or ``mxfp8_e4m3-rceil``), the binary is run as ``PATH RECIPE
BLOCK_SIZE ROWS COLS DTYPE DIR/<vector>/input.bin CAND/<vector>``, so that afterwards

    python -m nvfp4_np verify --vectors DIR --candidate CAND --select '^(?!gptq-).*-naive-(seed|te|(floor|rceil)-mxfp8_e4m3)-'

checks its outputs. Standard library only (numpy is not needed either).
"""

import argparse
import json
import os
import subprocess
import sys

RECIPES = ("seed", "te")
#: The MX format and its scale roundings the C reference implements.
MX_FORMAT, MX_ROUNDINGS = "mxfp8_e4m3", ("floor", "rceil")


def selected_vectors(vectors):
    """(name, manifest) of every naive seed/te and MXFP8 E4M3 floor/rceil vector under
    ``vectors``, by name."""
    out = []
    for name in sorted(os.listdir(vectors)):
        path = os.path.join(vectors, name, "manifest.json")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            man = json.load(f)
        if man.get("method") != "naive":
            continue
        if man.get("recipe") in RECIPES or (man.get("fmt") == MX_FORMAT and man.get("scale_rounding") in MX_ROUNDINGS):
            out.append((name, man))
    return out


def command(binary, vec_dir, cand_dir, man):
    """The binary's command line for one vector."""
    inp = man["arrays"]["input"]
    rows, cols = inp["shape"]
    if man.get("block_axis", -1) != -1 or man.get("byte_order", "little") != "little":
        raise ValueError(f"{man['name']}: expected blocks along the last axis, little-endian files")
    recipe = f"{man['fmt']}-{man['scale_rounding']}" if man.get("fmt") else man["recipe"]
    return [binary, recipe, str(man["block_size"]), str(rows), str(cols), inp["dtype"],
            os.path.join(vec_dir, inp["bin"]["file"]), cand_dir]


def run_all(vectors, binary, out, quiet=False):
    """Run the binary on every selected vector; return the names of the vectors it ran
    on. Raises RuntimeError if the binary fails on one."""
    binary = os.path.abspath(binary)
    names = []
    for name, man in selected_vectors(vectors):
        cand = os.path.join(out, name)
        os.makedirs(cand, exist_ok=True)
        cmd = command(binary, os.path.join(vectors, name), cand, man)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}: {p.stderr.strip()}")
        names.append(name)
        if not quiet:
            print(f"ran {name}", file=sys.stderr)
    if not names:
        raise RuntimeError(f"no naive seed/te vector in {vectors}")
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vectors", required=True, help="folder written by 'python -m nvfp4_np golden'")
    p.add_argument("--binary", required=True, help="the compiled nvfp4_ref")
    p.add_argument("--out", required=True, help="candidate folder to write (one sub-folder per vector)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        names = run_all(args.vectors, args.binary, args.out, quiet=args.quiet)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"run_c_example: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(names)} candidate folders to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
