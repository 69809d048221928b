"""The one code generator: Python source written from the rules of the primitives.

Everything that runs a rule is written here, in one place, from the same trees:

* `eager`: the `Value` methods, the backward pass on floats, and each rule as a function
  on floats and on Values;
* `modules`: the committed module of the built-in ops (`microgradx/_builtins.py`) and
  the code of a user op registered at run time (with its lines in `linecache`);
* `straight`: `compile`'s straight-line code for one traced computation;
* `expressions`: one rule as Python source, in each mode;
* `runtime`: the helpers generated code calls.

`python -m microgradx.codegen` rewrites `microgradx/_builtins.py`; with `--check` it
only says whether the file is current.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from .. import ieee, ops, rules
from . import eager, modules

BUILTINS_PATH = Path(__file__).resolve().parent.parent / "_builtins.py"


@dataclass(frozen=True)
class Spec:
    """A row of the table, parsed: what the generator reads of an op."""

    name: str
    forward_text: str
    rule_texts: tuple[str, ...]
    symbol: str
    methods: tuple[str, ...]
    forward_tree: ast.expr | None = field(repr=False)
    rule_trees: tuple[ast.expr, ...] = field(repr=False)

    @property
    def arity(self) -> int:
        """Number of inputs."""
        return len(self.rule_texts)


def parse_row(row: ops.Row, primitives: set[str]) -> Spec:
    """`row` with its expressions parsed and checked (rules may call `primitives`)."""
    inputs = list(eager.INPUTS[: len(row.rules)])
    forward = rules.parse(row.forward, inputs, ieee.LIBRARY)
    trees = tuple(rules.parse(r, [*inputs, *rules.RULE_NAMES], primitives) for r in row.rules)
    return Spec(row.name, row.forward, row.rules, row.symbol, row.methods, forward, trees)


def builtin_specs() -> list[Spec]:
    """The table of built-in ops, parsed."""
    names = {r.name for r in ops.TABLE}
    return [parse_row(r, names) for r in ops.TABLE]


def builtins_source() -> str:
    """What `microgradx/_builtins.py` must contain for the current table."""
    return modules.builtins_source(builtin_specs())


def same_code(a: str, b: str) -> bool:
    """Whether two sources are the same program with the same comments (however they are
    laid out: the committed file is formatted by ruff)."""

    def comments(source: str) -> list[str]:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        return [t.string for t in tokens if t.type == tokenize.COMMENT]

    return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b)) and comments(a) == comments(b)


def is_current() -> bool:
    """Whether the committed `microgradx/_builtins.py` is what the table generates."""
    return BUILTINS_PATH.exists() and same_code(BUILTINS_PATH.read_text("utf-8"), builtins_source())


def write() -> Path:
    """Rewrite `microgradx/_builtins.py` from the table and lay it out with `ruff format`
    (a development tool: without it the file is right but not formatted)."""
    BUILTINS_PATH.write_text(builtins_source(), "utf-8")
    try:
        subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--quiet", str(BUILTINS_PATH)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        print(
            f"note: ruff is not installed, so {BUILTINS_PATH.name} is not formatted",
            file=sys.stderr,
        )
    return BUILTINS_PATH


__all__ = [
    "BUILTINS_PATH",
    "Spec",
    "builtin_specs",
    "builtins_source",
    "is_current",
    "same_code",
    "write",
]
