"""One rule-language expression as Python source, in the form each reader needs.

Modes:

* `fast`: plain float arithmetic, for code that is inlined (the operators, the backward
  pass, `compile`); it may raise where Python raises (`1 / 0`);
* `safe`: the same with IEEE 754 results (`1 / 0 = inf`), run when `fast` raised;
* `value`: arithmetic on `Value` nodes, which records the graph of the derivative itself
  (`create_graph=True`, higher orders);
* `array`: the float rules on arrays of examples (`compile`'s numpy and torch backends):
  `a if c else b` becomes `_where(c, a, b)` (both sides are computed), `and`, `or` and
  `not` become `&`, `|` and `_not(...)`, a chained comparison `a < b < c` becomes
  `(a < b) & (b < c)`, and `/` is `_div` (IEEE on plain numbers too).

In the float modes whole numbers become float literals (CPython's float-with-float fast
path), and `a ** b` becomes `_spow(a, b)` when the exponent `b` reads only plain numbers
(PyTorch's shortcuts for a number exponent: `x * x` for 2, `sqrt` for 0.5, ...) and
`_pow(a, b)` otherwise (C's `pow`, as `torch.pow(Tensor, Tensor)`), never Python's `**`,
which can return a complex number.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Collection
from typing import Literal

from .. import rules

Mode = Literal["fast", "safe", "value", "array"]

#: the rule names that stand for nodes of the graph (or plain numbers, in some forms)
NODES = ("x", "y", "out")


def emit(
    tree: ast.expr,
    mode: Mode,
    variables: dict[str, str],
    function: Callable[[str], str],
    numbers: Collection[str] = (),
) -> str:
    """Python source for `tree` in `mode`.

    `variables` maps each rule name (`x`, `g`, ...) to the source it stands for (names
    not in it stay as they are); `function` maps a called function's name to the global
    the generated code calls; `numbers` are the rule names that are plain numbers here
    (a number operand), which decides how `**` is computed.
    """
    rewritten = _Rewrite(mode, variables, function, set(numbers)).visit(copy.deepcopy(tree))
    if mode != "value":
        rewritten = _FloatLiterals().visit(rewritten)
    return ast.unparse(rewritten)


def reads_only_numbers(tree: ast.expr, numbers: Collection[str]) -> bool:
    """Whether `tree` is made of number literals and the rule names in `numbers` alone."""
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    called = {rules.callee(c) for c in rules.calls(tree)}
    return (names - called) <= set(numbers)


class _Rewrite(ast.NodeTransformer):
    def __init__(
        self,
        mode: Mode,
        variables: dict[str, str],
        function: Callable[[str], str],
        numbers: set[str],
    ) -> None:
        self.mode = mode
        self.variables = variables
        self.function = function
        self.numbers = numbers

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.variables:
            return ast.parse(self.variables[node.id], mode="eval").body
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        args = [self.visit(a) for a in node.args]
        return ast.Call(func=ast.Name(self.function(rules.callee(node))), args=args, keywords=[])

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        number_exponent = reads_only_numbers(node.right, self.numbers)
        left, right = self.visit(node.left), self.visit(node.right)
        helper = None
        if isinstance(node.op, ast.Pow) and self.mode != "value":
            helper = "_spow" if number_exponent else "_pow"
        elif isinstance(node.op, ast.Div) and self.mode in ("safe", "array"):
            helper = "_div"
        if helper is not None:
            return ast.Call(func=ast.Name(helper), args=[left, right], keywords=[])
        return ast.BinOp(left=left, op=node.op, right=right)

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        if self.mode == "array":
            parts = [self.visit(e) for e in (node.test, node.body, node.orelse)]
            return ast.Call(func=ast.Name("_where"), args=parts, keywords=[])
        plans = [link_plan(node, body) for body in (True, False)] if self.mode == "value" else []
        self.generic_visit(node)
        for field, plan in zip(("body", "orelse"), plans, strict=False):
            if plan is not None:  # see `linked` in microgradx/codegen/runtime.py
                args = [getattr(node, field), _names(plan[0]), _names(plan[1])]
                setattr(node, field, ast.Call(func=ast.Name("_linked"), args=args, keywords=[]))
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if self.mode == "array" and len(node.ops) > 1:  # a < b < c: (a < b) & (b < c)
            sides = [node.left, *node.comparators]
            pairs: list[ast.expr] = [
                ast.Compare(left=a, ops=[op], comparators=[b])
                for a, op, b in zip(sides, node.ops, sides[1:], strict=False)
            ]
            return _fold(ast.BitAnd(), pairs)
        if self.mode == "value":
            node.left = _data(node.left)
            node.comparators = [_data(c) for c in node.comparators]
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        if self.mode != "array":
            return node
        return _fold(ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr(), node.values)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if self.mode == "array" and isinstance(node.op, ast.Not):
            return ast.Call(func=ast.Name("_not"), args=[node.operand], keywords=[])
        return node


def _fold(op: ast.operator, values: list[ast.expr]) -> ast.expr:
    """`v1 op v2 op ...` (the element-wise `&` or `|` of conditions on arrays)."""
    result = values[0]
    for v in values[1:]:
        result = ast.BinOp(left=result, op=op, right=v)
    return result


def link_plan(node: ast.IfExp, body: bool) -> tuple[list[str], list[str]] | None:
    """Whether a branch of `a if cond else b` on Values is linked to the rule's nodes.

    A branch (the body, or else the other one) that reads none of the nodes that the
    condition and the other branch read is linked, when the condition tests a node, to
    every node the rule reads (see `linked` in `microgradx.codegen.runtime`). Returns the
    nodes the condition tests and the nodes to link to, or None for no link.
    """
    branch, other = (node.body, node.orelse) if body else (node.orelse, node.body)
    tested = sorted(set(NODES) & rules.names_used(node.test))
    if not tested or set(NODES) & rules.names_used(branch):
        return None
    return tested, sorted(set(tested) | (set(NODES) & rules.names_used(other)))


def _names(names: list[str]) -> ast.Tuple:
    return ast.Tuple(elts=[ast.Name(n) for n in names], ctx=ast.Load())


def _data(e: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Name("_data"), args=[e], keywords=[])


class _FloatLiterals(ast.NodeTransformer):
    """Whole numbers as float literals (`x < 0` becomes `x < 0.0`) outside calls.

    Every variable of the generated code is a float, and CPython runs float-with-float
    arithmetic and comparisons on a fast path that an int operand misses. Python converts
    the int to float for the arithmetic anyway, so the result is the same. Kept as they
    are: arguments of calls made of numbers alone (`_spow(x, 2)`: a function may want an
    int), `-0` (it is 0, while `-0.0` is not) and ints no float equals.
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
