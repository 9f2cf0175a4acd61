"""The ``nvfp4-np`` command line (also ``python -m nvfp4_np``)."""

import argparse
import sys

_EXAMPLES = """examples:
  nvfp4-np golden --out validation/vectors            write the golden vectors
  nvfp4-np verify --vectors validation/vectors --candidate my_outputs
  nvfp4-np verify --vectors validation/vectors --candidate out --select 'naive-(te|seed)-'
"""


def _golden(args):
    from .validation import generate

    def progress(i, n, name):
        if not args.quiet:
            print(f"[{i}/{n}] {name}", file=sys.stderr)

    index = generate(args.out, size=args.size, progress=progress)
    print(f"wrote {len(index['vectors'])} vectors to {args.out}")
    return 0


def _verify(args):
    from .validation import verify

    try:
        report = verify(args.vectors, args.candidate, select=args.select, max_examples=args.examples)
    except (OSError, ValueError) as e:
        print(f"nvfp4-np verify: {e}", file=sys.stderr)
        return 2
    print(report.text(max_examples=args.examples))
    return 0 if report.passed else 1


def build_parser():
    p = argparse.ArgumentParser(
        prog="nvfp4-np", description="Bit-exact NVFP4 quantization: golden vectors and checks.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("golden", help="write the golden vectors", epilog=_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--out", required=True, help="output folder")
    g.add_argument("--size", choices=("small", "large"), default="small",
                   help="small: the committed set (8-row matrices); large: 256-row matrices")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_golden)
    v = sub.add_parser("verify", help="check a candidate implementation's outputs against the vectors",
                       epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--vectors", required=True, help="folder written by 'nvfp4-np golden'")
    v.add_argument("--candidate", required=True,
                   help="folder with one sub-folder per vector holding codes.bin, scale_bytes.bin, "
                        "scale_bytes_swizzled.bin, tensor_scale.bin, dequant.bin (or a vector.npz)")
    v.add_argument("--select", help="regular expression: check only the vectors whose name matches")
    v.add_argument("--examples", type=int, default=3, help="differing blocks shown per vector")
    v.set_defaults(func=_verify)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
