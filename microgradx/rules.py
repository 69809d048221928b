"""The rule language: the small expression language primitive ops are written in.

A primitive's forward pass and each of its derivative rules is one Python expression, such
as `"x * y"` or `"g * (1 - out * out)"`. Names: `x` and `y` are the inputs, `out` the
result and `g` the gradient arriving at the result. Allowed: numbers, `+ - * / **`, unary
`-`, comparisons, `and`/`or`/`not` of comparisons, `a if cond else b` and calls of known
functions. This module parses and checks such expressions and answers questions about
them; `microgradx.codegen` turns them into Python source.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.USub, ast.UAdd, ast.Not)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)

#: the names a rule may read besides its inputs
RULE_NAMES = ("out", "g")


class RuleError(ValueError):
    """A forward or derivative expression is not valid in the rule language."""


def parse_expression(source: str, error: type[ValueError], what: str) -> ast.expr:
    """`source` parsed as one Python expression; `error` (one line) if it is not one.

    The parsing step shared by the rule language and the command line's expressions.
    """
    if "\0" in source:  # Python 3.10's parser raises ValueError here, later ones SyntaxError
        raise error(f"cannot parse {what}: it contains a null character")
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: bytes that were not UTF-8 text
        raise error(
            f"cannot parse {what}: it is not valid text (U+{ord(source[e.start]):04X} "
            f"at position {e.start}; was the command line UTF-8?)"
        ) from None
    try:
        return ast.parse(source.strip(), mode="eval").body
    except SyntaxError as e:
        raise error(f"cannot parse {what}: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise error(f"cannot parse {what}: nested too deeply") from None


def parse(source: str, names: Collection[str], functions: Collection[str]) -> ast.expr:
    """Parse and check one expression; raise `RuleError` naming what is wrong."""
    if not isinstance(source, str):
        raise RuleError(f"expected an expression string, got {type(source).__name__}")
    tree = parse_expression(source, RuleError, repr(source))
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in callees and node.id not in names:
            # a bare function name would be a function object, not a number
            raise RuleError(
                f"unknown name {node.id!r} in {source!r}; expected one of {sorted(names)}"
            )
        _check(node, source, names, functions)
    return tree


def is_condition(node: ast.expr) -> bool:
    """Whether `node` is a comparison, or `and`/`or`/`not` of comparisons.

    Those are bools on floats and on Values alike; a bare Value would always be true, a
    bare float true when nonzero.
    """
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.BoolOp):
        return all(is_condition(v) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return is_condition(node.operand)
    return False


def _check(node: ast.AST, source: str, names: Collection[str], functions: Collection[str]) -> None:
    where = f"in {source!r}"
    if isinstance(node, ast.Name):
        if node.id not in names and node.id not in functions:
            raise RuleError(f"unknown name {node.id!r} {where}; expected one of {sorted(names)}")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise RuleError(f"only int and float constants are allowed {where}")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise RuleError(f"only plain calls like f(x) are allowed {where}")
        if node.func.id not in functions:
            raise RuleError(
                f"unknown function {node.func.id!r} {where}; known: {', '.join(sorted(functions))}"
            )
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BINOPS):
            raise RuleError(f"operator {type(node.op).__name__} is not allowed {where}")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, _UNARY):
            raise RuleError(f"operator {type(node.op).__name__} is not allowed {where}")
        if isinstance(node.op, ast.Not) and not is_condition(node.operand):
            raise RuleError(f"and / or / not take comparisons, such as x > 0, {where}")
    elif isinstance(node, ast.Compare):
        if not all(isinstance(op, _COMPARE) for op in node.ops):
            raise RuleError(f"only == != < <= > >= comparisons are allowed {where}")
    elif isinstance(node, ast.BoolOp):
        if not is_condition(node):
            raise RuleError(f"and / or / not take comparisons, such as x > 0, {where}")
    elif isinstance(node, ast.IfExp):
        if not is_condition(node.test):
            raise RuleError(f"the condition of `a if cond else b` must be a comparison {where}")
    elif not isinstance(node, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop,
                               ast.boolop)):  # fmt: skip
        raise RuleError(f"{type(node).__name__} is not allowed {where}")


def names_used(tree: ast.expr) -> set[str]:
    """The variable and function names an expression mentions."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def calls(tree: ast.expr) -> list[ast.Call]:
    """The function calls in an expression (every call is `name(args)` here)."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def callee(call: ast.Call) -> str:
    """The name a call calls."""
    assert isinstance(call.func, ast.Name)  # parse() allows nothing else
    return call.func.id


def may_raise(tree: ast.expr, raising: Callable[[str], bool]) -> bool:
    """Whether plain float arithmetic on `tree` can raise: it divides, or calls a
    function for which `raising(name)` is true (`**` is always IEEE's pow)."""
    for n in ast.walk(tree):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
            return True
        if isinstance(n, ast.Call) and raising(callee(n)):
            return True
    return False


def is_library_call(tree: ast.expr, inputs: list[str]) -> str | None:
    """The function's name if `tree` is just `f(x)` (or `f(x, y)`) on the inputs."""
    if (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and len(tree.args) == len(inputs)
        and [a.id for a in tree.args if isinstance(a, ast.Name)] == inputs
    ):
        return tree.func.id
    return None
