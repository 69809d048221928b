"""The small expression language that primitive ops are written in.

A primitive's forward pass and each of its derivative rules is one Python expression, such
as ``"x * y"`` or ``"g * (1 - out * out)"``. Keeping them as expressions (data, not code)
lets every part of the engine read the same definition in the form it needs:

* ``fast``: plain float arithmetic, inlined into the generated forward and backward code;
* ``safe``: the same with IEEE 754 results (``1/0 = inf``) for when ``fast`` raised;
* ``value``: arithmetic on ``Value`` nodes, which builds the graph of the derivative
  (``create_graph=True``, higher orders, forward mode);
* ``compile``: the ``fast`` and ``safe`` strings inlined into straight-line code.

Names: ``x`` and ``y`` are the inputs, ``out`` the result and ``g`` the incoming gradient.
Allowed: numbers, ``+ - * / **``, unary ``-``, comparisons, ``and``/``or``/``not``,
``a if cond else b`` and calls of known functions.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Collection
from typing import Literal

Mode = Literal["fast", "safe", "value"]

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.USub, ast.UAdd, ast.Not)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


class RuleError(ValueError):
    """A forward or derivative expression is not valid in the rule language."""


def parse(source: str, names: Collection[str], functions: Collection[str]) -> ast.expr:
    """Parse and check one expression; raise :class:`RuleError` naming what is wrong."""
    if not isinstance(source, str):
        raise RuleError(f"expected an expression string, got {type(source).__name__}")
    if "\0" in source:  # Python 3.10's parser raises ValueError here, later ones SyntaxError
        raise RuleError(f"cannot parse {source!r}: it contains a null character")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as e:
        raise RuleError(f"cannot parse {source!r}: {e.msg}") from None
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in callees and node.id not in names:
            # a bare function name would be a function object, not a number
            raise RuleError(
                f"unknown name {node.id!r} in {source!r}; expected one of {sorted(names)}"
            )
        _check(node, source, names, functions)
    return tree


def _is_condition(node: ast.expr) -> bool:
    # a comparison, or and/or/not of comparisons: a bool in every mode (a bare Value
    # would always be true, a bare float true when nonzero)
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.BoolOp):
        return all(_is_condition(v) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _is_condition(node.operand)
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
        if isinstance(node.op, ast.Not) and not _is_condition(node.operand):
            raise RuleError(f"and / or / not take comparisons, such as x > 0, {where}")
    elif isinstance(node, ast.Compare):
        if not all(isinstance(op, _COMPARE) for op in node.ops):
            raise RuleError(f"only == != < <= > >= comparisons are allowed {where}")
    elif isinstance(node, ast.BoolOp):
        if not _is_condition(node):
            raise RuleError(f"and / or / not take comparisons, such as x > 0, {where}")
    elif isinstance(node, ast.IfExp):
        if not _is_condition(node.test):
            raise RuleError(f"the condition of `a if cond else b` must be a comparison {where}")
    elif not isinstance(node, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop,
                               ast.boolop)):  # fmt: skip
        raise RuleError(f"{type(node).__name__} is not allowed {where}")


def names_used(tree: ast.expr) -> set[str]:
    """The variable and function names an expression mentions."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def may_raise(tree: ast.expr, raising: Callable[[str], bool]) -> bool:
    """Whether the ``fast`` form can raise: it divides, or calls a function that may raise."""
    for n in ast.walk(tree):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div):
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and raising(n.func.id):
            return True
    return False


def emit(
    tree: ast.expr,
    mode: Mode,
    variables: dict[str, str],
    function: Callable[[str], str],
) -> str:
    """Python source for ``tree`` in ``mode``.

    ``variables`` maps each rule name (``x``, ``g``, ...) to the source it stands for;
    ``function`` maps a function name to the global the generated code calls.
    In float modes whole numbers become float literals (CPython's float-with-float fast
    path) and ``**`` becomes ``_pow(a, b)`` (Python's ``**`` can return a complex
    number); in ``safe`` mode ``/`` becomes ``_div(a, b)``; in ``value`` mode comparisons
    look at ``.data`` through ``_data`` (``==`` on Values is identity).
    """
    rewritten = _Rewrite(mode, variables, function).visit(_copy(tree))
    if mode != "value":
        rewritten = _FloatLiterals().visit(rewritten)
    return ast.unparse(rewritten)


def _copy(tree: ast.expr) -> ast.expr:
    return copy.deepcopy(tree)


class _Rewrite(ast.NodeTransformer):
    def __init__(self, mode: Mode, variables: dict[str, str], function: Callable[[str], str]):
        self.mode = mode
        self.variables = variables
        self.function = function

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.variables:
            return ast.parse(self.variables[node.id], mode="eval").body
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        assert isinstance(node.func, ast.Name)
        args = [self.visit(a) for a in node.args]
        return ast.Call(func=ast.Name(self.function(node.func.id)), args=args, keywords=[])

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        left, right = self.visit(node.left), self.visit(node.right)
        helper = None
        if isinstance(node.op, ast.Pow) and self.mode != "value":
            helper = "_pow"
        elif isinstance(node.op, ast.Div) and self.mode == "safe":
            helper = "_div"
        if helper is not None:
            return ast.Call(func=ast.Name(helper), args=[left, right], keywords=[])
        return ast.BinOp(left=left, op=node.op, right=right)

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        if self.mode == "value":
            # a branch that uses none of the nodes the condition and the other branch read is
            # linked to them (see `_linked` in microgradx/_generate.py)
            tested = sorted(_NODES & names_used(node.test))
            for field, other in (("body", node.orelse), ("orelse", node.body)):
                branch = getattr(node, field)
                read = sorted(set(tested) | (_NODES & names_used(other)))
                if tested and not _NODES & names_used(branch):
                    args = [branch, *(_names(group) for group in (tested, read))]
                    setattr(node, field, ast.Call(func=ast.Name("_linked"), args=args, keywords=[]))
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if self.mode == "value":
            node.left = _data(node.left)
            node.comparators = [_data(c) for c in node.comparators]
        return node


_NODES = {"x", "y", "out"}


def _names(names: list[str]) -> ast.Tuple:
    return ast.Tuple(elts=[ast.Name(n) for n in names], ctx=ast.Load())


def _data(e: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Name("_data"), args=[e], keywords=[])


class _FloatLiterals(ast.NodeTransformer):
    """Whole numbers as float literals (``x < 0`` becomes ``x < 0.0``) outside calls.

    Every variable of the generated code is a float, and CPython runs float-with-float
    arithmetic and comparisons on a fast path that an int operand misses. Python converts
    the int to float for the arithmetic anyway, so the result is the same; the numbers
    kept as they are: arguments of calls made of numbers alone (``_pow(x, 2)``: a function
    may want an int), ``-0`` (it is 0, while ``-0.0`` is not) and ints no float equals.
    """

    def visit_Call(self, node: ast.Call) -> ast.expr:
        node.args = [
            self.visit(a) if any(isinstance(n, ast.Name) for n in ast.walk(a)) else a
            for a in node.args
        ]
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if isinstance(node.operand, ast.Constant) and node.operand.value == 0:
            return node
        node.operand = self.visit(node.operand)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        value = node.value
        if type(value) is int and abs(value) < 2**53:
            return ast.Constant(float(value))
        return node
