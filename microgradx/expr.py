"""A safe parser for arithmetic expressions typed by a user (the command-line tool uses it).

An expression such as `"x**3 - 5*x**2 + 7*x - 1"` or `"tanh(a*b + c)"` is parsed with
Python's `ast` and checked against a whitelist: numbers, variable names, ``+ - * /
**`, unary minus and plus, and calls of the one-input primitives (`exp`, `log``,
`sqrt`, `tanh`, `sigmoid`, `relu`, `sin`, `cos`, `abs`). Nothing is ever
passed to `eval`: the checked tree is walked and each node applied to `Value`
objects, so the result is a graph that can be differentiated and drawn.

Everything else is refused with `ExpressionError` and a one-line message, before any
evaluation: other syntax, a number past the float range (`1e999`, a 400-digit integer),
an exponent above `MAX_EXPONENT`, text that is not valid Unicode (a lone surrogate, which
is how Python passes on command-line bytes that are not UTF-8), input too long or too deep.

Examples:
    >>> e = parse("x**2 + 3*x")
    >>> e.variables
    ('x',)
    >>> out = e.evaluate({"x": Value(2.0, label="x")})
    >>> out.data
    10.0
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass

from . import rules
from .engine import Value
from .primitive import REGISTRY, Primitive

__all__ = ["MAX_EXPONENT", "MAX_LENGTH", "Expression", "ExpressionError", "functions", "parse"]

MAX_LENGTH = 1000  # characters; longer input is refused before parsing
MAX_EXPONENT = 1024.0  # |constant exponent| above this is refused (e.g. 10**10**10)
_MAX_NODES = 2000
_MAX_DEPTH = 100

# the primitive each operator applies (Values in, a Value out; numbers in, a float out)
_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
}


class ExpressionError(ValueError):
    """The expression is not one this parser accepts; the message says what and where."""


def functions() -> dict[str, Primitive]:
    """The functions an expression may call: every one-input primitive with a method name."""
    found: dict[str, Primitive] = {}
    for prim in REGISTRY:
        if prim.arity != 1:
            continue
        for method in prim.methods:
            name = method.strip("_")
            if (name.isidentifier() and not method.startswith("__")) or name == "abs":
                found[name] = prim
    return found


@dataclass(frozen=True)
class Expression:
    """A checked expression: its source text, its tree and its variable names in order."""

    source: str
    tree: ast.expr
    variables: tuple[str, ...]

    def evaluate(self, values: Mapping[str, Value | float]) -> Value:
        """Apply the expression to `values` (one per variable), building the graph."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ExpressionError(f"no value given for {', '.join(missing)}")
        env = {k: v if isinstance(v, Value) else Value(v, label=k) for k, v in values.items()}
        result = _apply(self.tree, env, functions())
        return result if isinstance(result, Value) else Value(result)


def parse(source: str) -> Expression:
    """Parse and check `source`.

    Raises:
        ExpressionError: the text is refused; the message is one line saying what and where.
    """
    if not isinstance(source, str):
        raise ExpressionError(f"expected the expression as a str, got {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            f"expression too long ({len(source)} characters, at most {MAX_LENGTH})"
        )
    if not source.strip():
        raise ExpressionError("empty expression")
    text = source.strip()
    tree = rules.parse_expression(text, ExpressionError, "the expression")
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_NODES:
        raise ExpressionError(f"expression too large ({len(nodes)} parts, at most {_MAX_NODES})")
    if _depth(tree) > _MAX_DEPTH:
        raise ExpressionError(f"expression nested too deeply (at most {_MAX_DEPTH} levels)")
    allowed = functions()
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    variables: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Name) and node.id in allowed and id(node) not in called:
            raise ExpressionError(f"{node.id} is a function: call it, as in {node.id}(x)")
        _check(node, allowed, variables, text)
    _check_exponents(tree, text)
    first_seen: dict[str, tuple[int, int]] = {}
    for node in nodes:
        if isinstance(node, ast.Name) and node.id in variables:
            key = (node.lineno, node.col_offset)
            first_seen[node.id] = min(first_seen.get(node.id, key), key)
    return Expression(source, tree, tuple(sorted(variables, key=first_seen.__getitem__)))


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _describe(node: ast.AST, source: str = "") -> str:
    """The node's text as typed (else as Python writes it), shortened to 40 characters."""
    text = ast.get_source_segment(source, node) if source else None
    if text is None:
        try:
            text = ast.unparse(node)
        except Exception:  # pragma: no cover - unparse handles every parsed node
            text = type(node).__name__
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]}"


def _check(
    node: ast.AST, allowed: Mapping[str, Primitive], variables: list[str], source: str = ""
) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(
                f"only numbers are allowed as constants, not {_describe(node, source)}"
            )
        # every number is computed as a float: 1e999 and a 400-digit int are past the largest
        if not math.isfinite(_as_float(node.value)):
            what = _describe(node, source)
            if isinstance(node.value, int):
                what = f"an integer of {len(str(abs(node.value)))} digits"
            raise ExpressionError(f"number out of range: {what} (floats reach about 1.8e308)")
    elif isinstance(node, ast.Name):
        if node.id in allowed:
            return  # the name of a called function (bare function names are refused earlier)
        if node.id.startswith("_"):
            raise ExpressionError(f"variable names may not start with '_': {node.id}")
        if node.id not in variables:
            variables.append(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ExpressionError(
                f"operator not allowed in {_describe(node, source)} (use + - * / **)"
            )
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"operator not allowed in {_describe(node, source)}")
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in allowed:
            raise ExpressionError(
                f"unknown function in {_describe(node, source)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ExpressionError(f"{name}() takes exactly one argument: {_describe(node, source)}")
    elif isinstance(node, ast.operator | ast.unaryop | ast.Load):
        return
    else:
        raise ExpressionError(f"not allowed in an expression: {_describe(node, source)}")


def _as_float(n: float) -> float:
    try:
        return float(n)
    except OverflowError:  # an int past the largest float
        return math.inf


def _check_exponents(tree: ast.expr, source: str = "") -> None:
    # Each `base ** exponent` whose exponent uses no variable is computed in floats here
    # and refused if huge: the result would only overflow, and a user typing
    # 10**10**10 should hear why rather than get inf.
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            if any(
                isinstance(n, ast.Name) and n.id not in functions() for n in ast.walk(node.right)
            ):
                continue
            exponent = _apply(node.right, {}, functions())
            e = exponent.data if isinstance(exponent, Value) else exponent
            if not math.isfinite(e) or abs(e) > MAX_EXPONENT:
                raise ExpressionError(
                    f"exponent too large in {_describe(node, source)} "
                    f"(at most {MAX_EXPONENT:g} in size)"
                )


def _apply(
    node: ast.expr, env: Mapping[str, Value], allowed: Mapping[str, Primitive]
) -> Value | float:
    # the tree was checked by `parse`, so only whitelisted node types reach here
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    # a part without variables is folded to a float (IEEE results, no graph nodes)
    if isinstance(node, ast.UnaryOp):
        operand = _apply(node.operand, env, allowed)
        if not isinstance(node.op, ast.USub):
            return operand
        return -operand
    if isinstance(node, ast.BinOp):
        left = _apply(node.left, env, allowed)
        right = _apply(node.right, env, allowed)
        result: Value | float = REGISTRY.by_name[_BINOPS[type(node.op)]](left, right)
        return result
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        applied: Value | float = allowed[node.func.id](_apply(node.args[0], env, allowed))
        return applied
    raise ExpressionError(f"not allowed in an expression: {_describe(node)}")  # pragma: no cover
