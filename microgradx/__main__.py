"""`python -m microgradx`: the command-line tool (see `microgradx.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
