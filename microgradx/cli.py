"""The command-line tool: differentiate an expression, or draw its graph.

```text
microgradx diff "x**3 - 5*x**2 + 7*x - 1" --at x=1 --order 2
microgradx diff "x*y + exp(x)" --at x=1,y=2 --order 2      # gradient and Hessian
microgradx draw "(a*b + c) * f" --at a=2,b=-3,c=10,f=-2 -o graph.svg
microgradx check-engine my_engine.py:Value     # grade a micrograd-style engine (runs its code)
```

Expressions are checked by `microgradx.expr` (never `eval`). Anything refused, or a
missing value, ends with a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from .engine import Value, grad, topological
from .expr import Expression, ExpressionError, parse

__all__ = ["main"]

MAX_ORDER = 10
MAX_NODES = 200_000  # a derivative graph larger than this is refused (the next would be larger)


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit code 2."""


def _number(x: float) -> str:
    return format(x, ".12g")


def _parse_at(items: Sequence[str] | None) -> dict[str, float]:
    values: dict[str, float] = {}
    given: dict[str, str] = {}
    for item in items or []:
        for part in item.split(","):
            name, sep, text = part.partition("=")
            # Python's parser reads identifiers in NFKC form ("ﬁ" is "fi"); so do we
            name = unicodedata.normalize("NFKC", name.strip())
            if not sep or not name.isidentifier():
                raise UsageError(f"--at expects name=number pairs like x=1,y=2, got {part!r}")
            if name in given:
                raise UsageError(f"--at gives {name} twice ({given[name]} and {part.strip()})")
            given[name] = part.strip()
            try:
                values[name] = float(text)
            except ValueError:
                raise UsageError(f"--at {name}: expected a number, got {text.strip()!r}") from None
    return values


def _bind(expression: Expression, at: dict[str, float]) -> dict[str, Value]:
    missing = [v for v in expression.variables if v not in at]
    if missing:
        raise UsageError(
            f"no value for {', '.join(missing)}: give it with --at, e.g. --at {missing[0]}=1"
        )
    extra = [k for k in at if k not in expression.variables]
    if extra:
        raise UsageError(f"--at gives {', '.join(extra)}, which the expression does not use")
    return {name: Value(at[name], label=name) for name in expression.variables}


def _derivative(y: Value, xs: list[Value], order: int) -> list[Value]:
    # d y / d x for each x, as Values that can be differentiated again
    if not y.requires_grad:
        return [Value(0.0) for _ in xs]
    gs = grad(y, xs, create_graph=True, allow_unused=True)
    nodes = len(topological(gs))
    if nodes > MAX_NODES:
        raise UsageError(
            f"the derivatives of order {order} already take {nodes} graph nodes "
            f"(at most {MAX_NODES}); ask for a lower --order"
        )
    return gs


def _diff(args: argparse.Namespace) -> list[str]:
    expression = parse(args.expression)
    if not 0 <= args.order <= MAX_ORDER:
        raise UsageError(f"--order must be between 0 and {MAX_ORDER}, got {args.order}")
    xs = _bind(expression, _parse_at(args.at))
    names = list(xs)
    out = expression.evaluate(xs)
    where = ", ".join(f"{n} = {_number(xs[n].data)}" for n in names)
    lines = [
        f"f({', '.join(names)}) = {expression.source.strip()}" + (f"   at {where}" if where else "")
    ]
    lines.append(f"f = {_number(out.data)}")
    inputs = list(xs.values())
    if len(names) <= 1:
        y = out
        for k in range(1, args.order + 1):
            y = _derivative(y, inputs, k)[0] if inputs else Value(0.0)
            lines.append(
                f"f{chr(39) * k} = {_number(y.data)}" if k <= 3 else f"f({k}) = {_number(y.data)}"
            )
        return lines
    if args.order > 2:
        raise UsageError("with several variables, --order is 0, 1 (gradient) or 2 (Hessian)")
    if args.order >= 1:
        gradient = _derivative(out, inputs, 1)
        lines.append("gradient:")
        lines += [f"  df/d{n} = {_number(g.data)}" for n, g in zip(names, gradient, strict=True)]
        if args.order == 2:
            lines.append("Hessian:")
            rows = [[_number(h.data) for h in _derivative(g, inputs, 2)] for g in gradient]
            width = max(len(c) for c in [*names, *(c for r in rows for c in r)])
            pad = max(len(n) for n in names)
            lines.append(" " * (pad + 4) + "  ".join(n.rjust(width) for n in names))
            for n, row in zip(names, rows, strict=True):
                lines.append(f"  {n.ljust(pad)}  " + "  ".join(c.rjust(width) for c in row))
    return lines


def _draw(args: argparse.Namespace) -> list[str]:
    from .viz import draw_dot, render

    expression = parse(args.expression)
    xs = _bind(expression, _parse_at(args.at))
    out = expression.evaluate(xs)
    if out not in xs.values():  # the output is a new node (not just one of the variables)
        out.label = args.name
    if out.requires_grad:
        out.backward()
    path = Path(args.output)
    suffix = path.suffix.lstrip(".").lower()
    fmt = args.format or (suffix if suffix in ("svg", "png") else "" if suffix else "svg")
    if not fmt:
        raise UsageError(f"cannot draw {path.name!r}: name a .svg or .png file, or pass --format")
    try:
        diagram = draw_dot(out, format=fmt, rankdir=args.rankdir)
        written = render(diagram, path, format=fmt)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except ImportError as e:  # the graphviz package is missing: the message names the extra
        raise RuntimeError(str(e)) from None
    return [f"{out.label or args.name} = {_number(out.data)}; wrote {written}"]


def _check_engine(args: argparse.Namespace) -> tuple[list[str], int]:
    from .testing import grading

    try:
        cls, module = grading.load_engine(args.target)
        ops = [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None
        report = grading.grade(
            cls,
            ops=ops,
            max_examples=args.max_examples,
            seed=args.seed,
            module=module,
            name=args.target if ":" in args.target else f"{args.target}:{cls.__name__}",
        )
    except grading.InputError as e:
        raise UsageError(str(e)) from None
    except ImportError as e:  # Hypothesis is missing
        raise RuntimeError(str(e)) from None
    return str(report).splitlines(), 0 if report.passed else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `microgradx` (subcommands `diff`, `draw`, `check-engine`)."""
    parser = argparse.ArgumentParser(
        prog="microgradx",
        description="Differentiate an arithmetic expression, or draw its computation graph.",
        epilog="Expressions use numbers, variables, + - * / **, unary minus and the functions "
        "exp log sqrt tanh sigmoid relu sin cos abs sign. An expression that starts with '-' "
        'and has no space needs one in front: " -x**2".',
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    at_help = "values of the variables, e.g. x=1,y=2 (may be repeated)"
    d = sub.add_parser("diff", help="print the value and derivatives of an expression")
    d.add_argument("expression", help='e.g. "x**3 - 5*x**2 + 7*x - 1"')
    d.add_argument("--at", action="append", metavar="NAME=VALUE,...", help=at_help)
    d.add_argument("--order", type=int, default=1, help="highest derivative (default 1)")
    d.set_defaults(run=_diff)
    g = sub.add_parser("draw", help="draw the computation graph with data and gradients")
    g.add_argument("expression", help='e.g. "(a*b + c) * f"')
    g.add_argument("--at", action="append", metavar="NAME=VALUE,...", help=at_help)
    g.add_argument("-o", "--output", default="graph.svg", help="file to write (default graph.svg)")
    g.add_argument("--format", choices=["svg", "png"], help="file format (default: from -o)")
    g.add_argument("--rankdir", choices=["LR", "TB"], default="LR", help="layout direction")
    g.add_argument("--name", default="out", help="label of the output node (default out)")
    g.set_defaults(run=_draw)
    c = sub.add_parser(
        "check-engine",
        help="grade a micrograd-style Value class: OK/WRONG per check (runs the file's code)",
        description="Import a micrograd-style engine and compare its values and gradients with "
        "microgradx's on each op, re-used nodes, random graphs, a deep chain and a second "
        "backward(). This imports FILE, so it runs that file's code. Exit code 0: every "
        "check passed; 1: a check failed; 2: bad input.",
    )
    c.add_argument("target", metavar="FILE[:CLASS]", help="e.g. engine.py or engine.py:Value")
    c.add_argument("--ops", help="check only these ops, e.g. add,mul,tanh (default: all found)")
    c.add_argument("--max-examples", type=int, default=200, help="random graphs (default 200)")
    c.add_argument("--seed", type=int, help="Hypothesis seed (default: derandomized)")
    c.set_defaults(run=_check_engine)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool on `argv` (default: the command line); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.run(args)
    except (ExpressionError, UsageError) as e:
        print(f"microgradx: error: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as e:  # e.g. no renderer installed, or a path not writable
        print(f"microgradx: error: {e}", file=sys.stderr)
        return 1
    lines, code = result if isinstance(result, tuple) else (result, 0)
    print("\n".join(lines))
    return int(code)
