"""``python -m nvfp4_np``: the ``nvfp4-np`` command line."""

import sys

from .cli import main

sys.exit(main())
