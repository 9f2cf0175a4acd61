"""``python -m nvfp4_np.validation generate|verify ...`` (see ``nvfp4-np --help``)."""

import sys

from ..cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "generate":
        args[0] = "golden"
    sys.exit(main(args))
