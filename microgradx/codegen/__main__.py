"""Rewrite (or, with `--check`, check) microgradx/_builtins.py from the table of ops.

    python -m microgradx.codegen [--check]
    python microgradx/codegen/__main__.py [--check]   # the same, without importing microgradx

The second form works even when `import microgradx` fails (a stale or broken generated
file): the generator needs only the table, the rule language and itself.
"""

from __future__ import annotations

import argparse
import sys

if not __package__:  # run as a file: load the generator without the package's __init__
    import types
    from pathlib import Path

    _package = types.ModuleType("microgradx")
    _package.__path__ = [str(Path(__file__).resolve().parent.parent)]
    sys.modules["microgradx"] = _package
    from microgradx.codegen import BUILTINS_PATH, is_current, write
else:
    from . import BUILTINS_PATH, is_current, write


def main(argv: list[str] | None = None) -> int:
    """Write the built-ins module from the table; with `--check`, exit 1 if it is stale."""
    parser = argparse.ArgumentParser(
        prog="python -m microgradx.codegen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        if is_current():
            print(f"{BUILTINS_PATH} is current")
            return 0
        print(f"{BUILTINS_PATH} is stale: run python -m microgradx.codegen", file=sys.stderr)
        return 1
    print(f"wrote {write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
