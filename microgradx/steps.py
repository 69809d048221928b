"""Watch backpropagation happen: every chain-rule step `backward()` runs, in its order.

`backward_steps(root)` lists the steps of one backward pass, one per (node, input) pair:
the node passes its input the local derivative times the gradient arriving at the node.
Each step's formula is written from the op's rule in the table (`microgradx.ops`) with
the labels the program gave its Values, and its numbers are the ones the backward pass
computes, in the same order, so the contributions add up to `backward()`'s gradients to
the last bit. Nothing is changed on the graph: no `.grad` is touched.

`explain(root)` prints the steps as a learner reads them; `explain(root, naive=True)`
replays the recursive backward pass without a topological order and shows where it goes
wrong. `render_steps` (in `microgradx.viz.steps`) draws them as an interactive page, a
GIF or one SVG per frame.

Examples:
    >>> from microgradx import Value, explain
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> e = a * b
    >>> e.label = "e"
    >>> print(explain(e))
    e.grad = 1.0  (the seed: de/de = 1)
    a.grad += de/da = b * e.grad = -3.0 * 1.0 = -3.0
    b.grad += de/db = a * e.grad = 2.0 * 1.0 = 2.0
    gradients: e 1.0, a -3.0, b 2.0
"""

from __future__ import annotations

import ast
import copy
import math
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import engine, rules
from .checks import to_format
from .codegen.eager import INPUTS
from .engine import Value
from .primitive import REGISTRY

__all__ = [
    "DRAWING",
    "NAIVE_LIMIT",
    "WIDTH",
    "BackwardSteps",
    "Explanation",
    "ForwardStep",
    "Step",
    "backward_steps",
    "explain",
    "forward_steps",
    "wrong",
]

#: the naive replay visits a node once per path to it (exponential on some graphs): it
#: stops past this many steps
NAIVE_LIMIT = 10_000


@dataclass(frozen=True, eq=False)
class Step:
    """One chain-rule step: `node` passes `input` its share of the gradient.

    Attributes:
        node: the Value passing its gradient on (in `backward()` it is complete by then).
        input: the input of `node` that receives the share.
        op: the name of the primitive that made `node`, such as `"mul"`.
        formula: the local derivative in the graph's names, such as `"dL/dd = f"`.
        local: its value, d(node)/d(input).
        upstream: the gradient arriving at `node`, d(root)/d(node).
        contribution: what `input` receives, `local * upstream`, computed by the op's
            rule as `backward()` computes it (for a rule such as sigmoid's the product's
            rounding may differ in the last bit; `contribution` is the rule's).
        before: the gradient of `input` in this pass before the step (-0.0, the additive
            identity, before its first share).
        after: `before + contribution`.
        rule: the op's rule for this input as the table writes it, such as `"g * y"`.
        which: `"x"` if `input` is the op's first input, `"y"` if the second.
        text: the step as `explain` prints it.
        note: for the naive replay, why this step goes wrong (empty otherwise).
    """

    node: Value
    input: Value
    op: str
    formula: str
    local: float
    upstream: float
    contribution: float
    before: float
    after: float
    rule: str
    which: str
    text: str
    note: str = ""


@dataclass(frozen=True, eq=False)
class ForwardStep:
    """One op of the forward pass: `node` computed from its inputs.

    Attributes:
        node: the Value computed.
        op: the primitive's name.
        formula: `"e = a * b"` in the graph's names.
        text: the formula with the numbers: `"e = a * b = 2.0 * -3.0 = -6.0"`.
    """

    node: Value
    op: str
    formula: str
    text: str


# -- names -----------------------------------------------------------------------------------


def _number(x: Any, fmt: str | None = None) -> str:
    """A number as the text shows it: the shortest repr that round-trips, or `fmt`."""
    if fmt is not None:
        return format(x, fmt)
    return repr(x) if isinstance(x, float) else str(x)


class _Graph:
    """The graph behind `root`, with a name for every node.

    A node's name is its label; an unlabelled node is `v1`, `v2`, ... in the order the
    forward pass made them (skipping names the labels use); a constant is its number.
    """

    def __init__(self, root: Value, fmt: str | None) -> None:
        self.root = root
        self.fmt = fmt
        self.forward = engine.topological([root])  # each node after its inputs
        labels = {v.label for v in self.forward if v.label}
        self._names: dict[int, str] = {}
        k = 0
        for v in self.forward:
            if self.is_number(v):
                self._names[id(v)] = _number(v.data)
            elif v.label:
                self._names[id(v)] = v.label
            else:
                k += 1
                while f"v{k}" in labels:
                    k += 1
                self._names[id(v)] = f"v{k}"
        # the order backward() runs: each node after every node that uses it, the walk
        # going down a node's second input first (engine.plain_backward, the kernel)
        order = engine.topological([root], inputs=lambda v: (v._b, v._a))[::-1]
        self.backward = [v for v in order if v.requires_grad]

    @staticmethod
    def is_number(v: Value) -> bool:
        """Whether `v` shows as its number: a constant with no label of its own."""
        return not v.requires_grad and (not v.label or engine.is_shared_constant(v))

    def name(self, v: Value) -> str:
        return self._names[id(v)]

    def atom(self, v: Value) -> str:
        """The name, in parentheses unless it reads as one token."""
        return _atom(self.name(v))

    def num(self, x: Any) -> str:
        return _number(x, self.fmt)


_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|-?inf|nan")


def _atom(name: str) -> str:
    if name.isidentifier() or _NUMBER.fullmatch(name):
        return name
    return f"({name})"


# -- formulas from the table's rules ---------------------------------------------------------


def _const(x: Any) -> ast.expr:
    return ast.Constant(x)


def _is_const(e: ast.expr, value: float | None = None) -> bool:
    if not isinstance(e, ast.Constant) or isinstance(e.value, bool):
        return False
    return value is None or e.value == value


def _neg(e: ast.expr) -> ast.expr:
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)):
        return _const(-e.value)
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return e.operand
    return ast.UnaryOp(ast.USub(), e)


def _fold(op: ast.operator, a: Any, b: Any) -> ast.expr | None:
    try:
        result = rules.BINARY[type(op)](a, b)
    except (ArithmeticError, ValueError):
        return None
    return _const(result) if isinstance(result, (int, float)) else None


def _simplify(e: ast.expr, env: dict[str, ast.expr]) -> ast.expr:
    """`e` with each name in `env` replaced and the arithmetic on numbers done.

    `1 * a` and `a ** 1` become `a`, a condition on numbers picks its branch; names not
    in `env` (and every call) stay as they are. A new tree: `e` is not changed.
    """

    def s(x: ast.expr) -> ast.expr:
        return _simplify(x, env)

    if isinstance(e, ast.Name):
        return env.get(e.id, e)
    if isinstance(e, ast.UnaryOp):
        operand = s(e.operand)
        if isinstance(e.op, ast.USub):
            return _neg(operand)
        if isinstance(e.op, ast.UAdd):
            return operand
        if isinstance(operand, ast.Constant):
            return _const(not operand.value)
        return ast.UnaryOp(e.op, operand)
    if isinstance(e, ast.BinOp):
        left, right = s(e.left), s(e.right)
        if _is_const(left) and _is_const(right):
            assert isinstance(left, ast.Constant) and isinstance(right, ast.Constant)
            folded = _fold(e.op, left.value, right.value)
            if folded is not None:
                return folded
        if isinstance(e.op, ast.Mult):
            for one, other in ((left, right), (right, left)):
                if _is_const(one, 1):
                    return other
                if _is_const(one, -1):
                    return _neg(other)
        if isinstance(e.op, (ast.Div, ast.Pow)) and _is_const(right, 1):
            return left
        return ast.BinOp(left, e.op, right)
    if isinstance(e, ast.Compare):
        parts = [s(e.left), *(s(c) for c in e.comparators)]
        if all(_is_const(p) for p in parts):
            values = [p.value for p in parts if isinstance(p, ast.Constant)]
            return _const(
                all(
                    rules.COMPARISON[type(op)](a, b)
                    for op, a, b in zip(e.ops, values, values[1:], strict=False)
                )
            )
        return ast.Compare(parts[0], e.ops, parts[1:])
    if isinstance(e, ast.BoolOp):
        is_and = isinstance(e.op, ast.And)
        kept: list[ast.expr] = []
        for v in map(s, e.values):
            if isinstance(v, ast.Constant) and isinstance(v.value, bool):
                if v.value != is_and:  # False in an `and`, True in an `or`: decided
                    return _const(v.value)
                continue  # True in an `and`, False in an `or`: no say
            kept.append(v)
        if not kept:
            return _const(is_and)
        return kept[0] if len(kept) == 1 else ast.BoolOp(e.op, kept)
    if isinstance(e, ast.IfExp):
        test = s(e.test)
        if isinstance(test, ast.Constant):
            return s(e.body) if test.value else s(e.orelse)
        return ast.IfExp(test, s(e.body), s(e.orelse))
    if isinstance(e, ast.Call):
        return ast.Call(e.func, [s(a) for a in e.args], [])
    return e


def _display(e: ast.expr) -> ast.expr:
    """Numbers as a reader writes them: `2` for 2.0, `-(3)` as a unary minus."""
    if isinstance(e, ast.Constant) and not isinstance(e.value, bool):
        v = e.value
        if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 1e16:
            v = int(v)
        if isinstance(v, (int, float)) and (v < 0 or (v == 0 and math.copysign(1, v) < 0)):
            return ast.UnaryOp(ast.USub(), _const(-v if v else 0))
        return _const(v)
    if isinstance(e, ast.UnaryOp):
        return ast.UnaryOp(e.op, _display(e.operand))
    if isinstance(e, ast.BinOp):
        return ast.BinOp(_display(e.left), e.op, _display(e.right))
    if isinstance(e, ast.Compare):
        return ast.Compare(_display(e.left), e.ops, [_display(c) for c in e.comparators])
    if isinstance(e, ast.BoolOp):
        return ast.BoolOp(e.op, [_display(v) for v in e.values])
    if isinstance(e, ast.IfExp):
        return ast.IfExp(_display(e.test), _display(e.body), _display(e.orelse))
    if isinstance(e, ast.Call):
        return ast.Call(e.func, [_display(a) for a in e.args], [])
    return e


_PLACEHOLDER = re.compile(r"_n(\d+)_")


class _Expr:
    """An expression over the graph's nodes: text, LaTeX, and whether it is one token."""

    def __init__(self, tree: ast.expr, nodes: list[Value], graph: _Graph) -> None:
        self.tree = _display(tree)
        self.nodes = nodes
        self.graph = graph

    @property
    def is_atom(self) -> bool:
        """A name, number or call (`-1`, `-sin(x)` too): no parentheses as a factor."""
        t = self.tree
        if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.USub):
            t = t.operand
        return isinstance(t, (ast.Name, ast.Constant, ast.Call))

    @property
    def is_number(self) -> bool:
        """A number alone (`1`, `-1`): its value needs no second mention."""
        t = self.tree
        if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.USub):
            t = t.operand
        return isinstance(t, ast.Constant)

    def text(self) -> str:
        source = ast.unparse(ast.fix_missing_locations(ast.Expression(self.tree)))
        if isinstance(self.tree, ast.Name):  # a name alone needs no parentheses
            return _PLACEHOLDER.sub(lambda m: self.graph.name(self.nodes[int(m[1])]), source)
        return _PLACEHOLDER.sub(lambda m: self.graph.atom(self.nodes[int(m[1])]), source)

    def latex(self) -> str:
        return _Latex(lambda k: _tex_name(self.graph.name(self.nodes[k]))).of(self.tree)


class _Numbers(ast.NodeTransformer):
    """Each node's placeholder replaced by one for its number (a minus sign outside)."""

    def __init__(self, nodes: list[Value]) -> None:
        self.nodes = nodes

    def visit_Name(self, node: ast.Name) -> ast.expr:
        m = _PLACEHOLDER.fullmatch(node.id)
        if not m:
            return node
        token = ast.Name(f"_v{m[1]}_")
        return ast.UnaryOp(ast.USub(), token) if _negative(self.nodes[int(m[1])].data) else token

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        m = _PLACEHOLDER.fullmatch(node.operand.id) if isinstance(node.operand, ast.Name) else None
        if m and isinstance(node.op, ast.USub) and _negative(self.nodes[int(m[1])].data):
            return ast.UnaryOp(node.op, ast.Name(f"_p{m[1]}_"))  # -(-2.0), not --2.0
        self.generic_visit(node)
        return node


def _negative(x: Any) -> bool:
    return bool(x < 0 or (x == 0 and math.copysign(1.0, x) < 0))


def _with_numbers(expr: _Expr, graph: _Graph) -> str:
    """The expression with each node's number in its place: `2.0 * -3.0`."""
    tree = _Numbers(expr.nodes).visit(copy.deepcopy(expr.tree))
    source = ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))
    source = re.sub(r"_p(\d+)_", lambda m: f"({graph.num(expr.nodes[int(m[1])].data)})", source)
    return re.sub(r"_v(\d+)_", lambda m: graph.num(abs(expr.nodes[int(m[1])].data)), source)


def _environment(
    v: Value, graph: _Graph, seed: ast.expr | None
) -> tuple[dict[str, ast.expr], list[Value]]:
    """The rule language's names for node `v`: inputs, `out` and `g` (if `seed`)."""
    entry = REGISTRY.entry(v._code)
    nodes: list[Value] = []
    env: dict[str, ast.expr] = {}

    def place(u: Value) -> ast.expr:
        if graph.is_number(u):
            return _const(u.data)
        for k, known in enumerate(nodes):
            if known is u:
                return ast.Name(f"_n{k}_")
        nodes.append(u)
        return ast.Name(f"_n{len(nodes) - 1}_")

    for which, u in zip(INPUTS, (v._a, v._b), strict=False):
        if u is not None:
            env[which] = _const(u.data) if which in entry.form.numbers else place(u)
    env["out"] = place(v)
    if seed is not None:
        env["g"] = seed
    return env, nodes


def _local_expr(v: Value, which: str, graph: _Graph) -> _Expr:
    """d(v)/d(input `which`) from the op's rule, in the graph's names: the rule at g = 1."""
    prim = REGISTRY.entry(v._code).primitive
    env, nodes = _environment(v, graph, _const(1))
    tree = _simplify(prim.rule_trees[INPUTS.index(which)], env)
    return _Expr(tree, nodes, graph)


def _forward_expr(v: Value, graph: _Graph) -> _Expr:
    """How `v` was computed, in the graph's names: `a * b`, `tanh(n)`."""
    prim = REGISTRY.entry(v._code).primitive
    env, nodes = _environment(v, graph, None)
    tree = prim.forward_tree
    if tree is None or any(isinstance(n, ast.IfExp) for n in ast.walk(tree)):
        # a Python function, or a branch (relu): the op's name reads better
        call = ast.Call(ast.Name(prim.name), [ast.Name(i) for i in INPUTS[: prim.arity]], [])
        tree = call
    return _Expr(_simplify(tree, {k: e for k, e in env.items() if k != "out"}), nodes, graph)


def _d(graph: _Graph, top: Value, bottom: Value) -> str:
    return f"d{graph.atom(top)}/d{graph.atom(bottom)}"


# -- LaTeX -----------------------------------------------------------------------------------

_TEX_FUNCTIONS = {
    "exp": r"\exp",
    "log": r"\log",
    "tanh": r"\tanh",
    "sin": r"\sin",
    "cos": r"\cos",
    "sigmoid": r"\sigma",
}
_TEX_COMPARE = {
    ast.Eq: "=",
    ast.NotEq: r"\ne",
    ast.Lt: r"\lt",
    ast.LtE: r"\le",
    ast.Gt: r"\gt",
    ast.GtE: r"\ge",
}
_TEX_SPECIAL = re.compile(r"([\\{}$&#^_%~])")


def _tex_text(text: str) -> str:
    escaped = _TEX_SPECIAL.sub(
        lambda m: {"\\": r"\backslash ", "~": r"\sim ", "^": r"\wedge "}.get(m[1], "\\" + m[1]),
        text,
    )
    return escaped.replace("|", r"\vert ")


def _tex_name(name: str) -> str:
    """A node's name in LaTeX: `a`, `x_{1}`, `\\mathrm{loss}`, or `\\text{...}`."""
    if _NUMBER.fullmatch(name):
        return name.replace("inf", r"\infty")
    if re.fullmatch(r"[A-Za-z]", name):
        return name
    m = re.fullmatch(r"([A-Za-z])(\d+)", name)
    if m:
        return f"{m[1]}_{{{m[2]}}}"
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
        return rf"\mathrm{{{name}}}"
    return rf"\text{{{_tex_text(name)}}}"


class _Latex:
    """An expression of the rule language as LaTeX, with the fewest parentheses."""

    def __init__(self, placeholder: Callable[[int], str]) -> None:
        self.placeholder = placeholder

    @staticmethod
    def rank(e: ast.expr) -> int:
        if isinstance(e, ast.IfExp):
            return 0
        if isinstance(e, ast.BoolOp):
            return 1
        if isinstance(e, ast.Compare) or (isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not)):
            return 2
        if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
            return 3
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
            return 4
        if isinstance(e, ast.UnaryOp):
            return 5
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow):
            return 6
        return 7  # names, numbers, calls, fractions

    def wrap(self, e: ast.expr, least: int) -> str:
        text = self.of(e)
        return rf"\left({text}\right)" if self.rank(e) < least else text

    def of(self, e: ast.expr) -> str:
        if isinstance(e, ast.Name):
            m = _PLACEHOLDER.fullmatch(e.id)
            return self.placeholder(int(m[1])) if m else _tex_name(e.id)
        if isinstance(e, ast.Constant):
            return _number(e.value).replace("inf", r"\infty")
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.Not):
                return rf"\text{{not }} {self.wrap(e.operand, 3)}"
            return "-" + self.wrap(e.operand, 5)
        if isinstance(e, ast.BinOp):
            if isinstance(e.op, ast.Div):
                return rf"\frac{{{self.of(e.left)}}}{{{self.of(e.right)}}}"
            if isinstance(e.op, ast.Pow):
                return f"{{{self.wrap(e.left, 7)}}}^{{{self.of(e.right)}}}"
            if isinstance(e.op, ast.Mult):
                return rf"{self.wrap(e.left, 4)} \cdot {self.wrap(e.right, 6)}"
            sign = "+" if isinstance(e.op, ast.Add) else "-"
            return f"{self.wrap(e.left, 3)} {sign} {self.wrap(e.right, 4)}"
        if isinstance(e, ast.Compare):
            parts = [self.wrap(e.left, 3)]
            for op, c in zip(e.ops, e.comparators, strict=True):
                parts += [_TEX_COMPARE[type(op)], self.wrap(c, 3)]
            return " ".join(parts)
        if isinstance(e, ast.BoolOp):
            word = r" \text{ and } " if isinstance(e.op, ast.And) else r" \text{ or } "
            return word.join(self.wrap(v, 2) for v in e.values)
        if isinstance(e, ast.IfExp):
            return (
                rf"\begin{{cases}} {self.of(e.body)} & \text{{if }} {self.of(e.test)} \\ "
                rf"{self.of(e.orelse)} & \text{{otherwise}} \end{{cases}}"
            )
        if isinstance(e, ast.Call):
            assert isinstance(e.func, ast.Name)
            name = e.func.id
            args = ", ".join(self.of(a) for a in e.args)
            if name == "sqrt":
                return rf"\sqrt{{{args}}}"
            if name == "abs":
                return rf"\lvert {args} \rvert"
            function = _TEX_FUNCTIONS.get(name, rf"\operatorname{{{_tex_text(name)}}}")
            return rf"{function}\left({args}\right)"
        raise TypeError(f"cannot write {type(e).__name__} in LaTeX")  # pragma: no cover


def _tex_d(graph: _Graph, top: Value, bottom: Value) -> str:
    t, b = _tex_name(graph.name(top)), _tex_name(graph.name(bottom))
    return rf"\frac{{\partial {t}}}{{\partial {b}}}"


def _tex_number(graph: _Graph, x: Any) -> str:
    return graph.num(x).replace("inf", r"\infty").replace("nan", r"\text{nan}")


# -- the steps -------------------------------------------------------------------------------


def _check_root(root: object, where: str) -> Value:
    if not isinstance(root, Value):
        raise TypeError(f"{where}: expected a Value (the output to backpropagate from), "
                        f"got {type(root).__name__}")  # fmt: skip
    if not root.requires_grad:
        raise RuntimeError(
            f"{where}: this Value has no graph (it was made under no_grad() or from plain "
            "numbers), so backward() has no steps to show"
        )
    return root


class _Builder:
    """Makes `Step` records for one graph, with the names and formulas of its nodes."""

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.seen: dict[int, int] = {}  # how many shares each input has had so far
        self._locals: dict[tuple[int, str], _Expr] = {}

    def local(self, v: Value, which: str) -> _Expr:
        key = (id(v), which)
        if key not in self._locals:
            self._locals[key] = _local_expr(v, which, self.graph)
        return self._locals[key]

    def shares(self, v: Value, g: float) -> Iterator[tuple[Value, str, float]]:
        """Each input of `v` with which input it is and its share, as `backward()` gives it."""
        a, b = v._a, v._b
        candidates = [
            (which, node)
            for which, _ in REGISTRY.entry(v._code).float_rules
            for node in [a if which == "x" else b]
            if node is not None and node.requires_grad
        ]
        shares = list(engine.chain_rule(v, g))
        assert [n for n, _ in shares] == [n for _, n in candidates]
        for (which, _), (node, share) in zip(candidates, shares, strict=True):
            yield node, which, share

    def local_value(self, v: Value, which: str) -> float:
        entry = REGISTRY.entry(v._code)
        rule = dict(entry.float_rules)[which]
        b = v._b
        return float(rule(1.0, v._a.data, b.data if b is not None else None, v.data))

    def step(
        self, v: Value, node: Value, which: str, g: float, share: float, before: float, note: str
    ) -> Step:
        graph = self.graph
        entry = REGISTRY.entry(v._code)
        local = self.local(v, which)
        formula = f"{_d(graph, v, node)} = {local.text()}"
        factor = local.text() if local.is_atom else f"({local.text()})"
        after = before + share
        text = (
            f"{graph.atom(node)}.grad += {_d(graph, graph.root, node)} = "
            f"{factor} * {graph.atom(v)}.grad = "
            f"{graph.num(self.local_value(v, which))} * {graph.num(g)} = {graph.num(share)}"
        )
        count = self.seen.get(id(node), 0)
        self.seen[id(node)] = count + 1
        if count:  # a node used more than once: the shares add up
            text += (
                f"  ({graph.atom(node)}.grad = {graph.num(before)} + {graph.num(share)} "
                f"= {graph.num(after)})"
            )
        return Step(
            node=v,
            input=node,
            op=entry.primitive.name,
            formula=formula,
            local=self.local_value(v, which),
            upstream=g,
            contribution=share,
            before=before,
            after=after,
            rule=entry.primitive.rule_texts[INPUTS.index(which)],
            which=which,
            text=text,
            note=note,
        )


def _correct(graph: _Graph, builder: _Builder) -> tuple[list[Step], dict[Value, float]]:
    """The steps of `backward()`, and the gradient it gives each node it reaches."""
    adjoint: dict[Value, float] = {graph.root: 1.0}
    steps: list[Step] = []
    for v in graph.backward:
        if v._code <= 0:
            continue
        g = adjoint[v]
        for node, which, share in builder.shares(v, g):
            before = adjoint.get(node, -0.0)
            steps.append(builder.step(v, node, which, g, share, before, ""))
            adjoint[node] = before + share
    return steps, adjoint


def wrong(got: float, right: float) -> bool:
    """Whether the naive replay's `got` differs from `backward()`'s `right` (nan is nan)."""
    return got != right and not (math.isnan(got) and math.isnan(right))


def _naive(
    graph: _Graph, builder: _Builder, correct: dict[Value, float], where: str
) -> tuple[list[Step], dict[Value, float]]:
    """The recursive backward pass with no topological order, replayed on floats.

    Visiting a node passes on its gradient as it is at that moment (`v._backward()`),
    then visits each of its inputs in turn, an input used twice twice: the recursion
    `visit(v): v._backward(); for u in v.inputs: visit(u)`, run with a stack.
    """
    grads: dict[Value, float] = {graph.root: 1.0}
    steps: list[Step] = []
    visits: dict[int, int] = {}
    stack = [graph.root]
    while stack:
        v = stack.pop()
        if v._code <= 0:
            continue
        visits[id(v)] = visits.get(id(v), 0) + 1
        g = grads[v]
        note = ""
        name = graph.name(v)
        if visits[id(v)] > 1:
            note = (
                f"wrong: {name} passes on its gradient again (the recursion reached it "
                f"again, along another use of {name}): these shares are counted twice"
            )
        elif wrong(g, correct[v]):
            note = (
                f"wrong: {name} passes on {graph.num(g)}, but its gradient is "
                f"{graph.num(correct[v])}: not every use of {name} has given it its share yet"
            )
        for node, which, share in builder.shares(v, g):
            before = grads.get(node, -0.0)
            steps.append(builder.step(v, node, which, g, share, before, note))
            grads[node] = before + share
            note = ""  # said once, at the first share the push gives
        if len(steps) > NAIVE_LIMIT:
            raise ValueError(
                f"{where}: the naive recursion visits a node once per path to "
                f"it; on this graph that is more than {NAIVE_LIMIT:,} steps"
            )
        stack.extend(u for u in (v._b, v._a) if u is not None and u.requires_grad)
    return steps, grads


class BackwardSteps(Iterator[Step]):
    """The steps of one backward pass, in order: iterate it for `Step` records.

    In Jupyter, displaying it shows the interactive page of `render_steps` inline.
    Iterating changes nothing on the graph.

    Attributes:
        root: the Value the pass starts from.
        naive: whether these are the naive replay's steps (see `explain`).
        steps: every step (iterating yields them one by one).
        gradients: the gradient this pass gives each node it reaches (what `backward()`
            adds to `.grad`; the naive replay's own numbers when `naive`).
    """

    def __init__(
        self,
        root: Value,
        steps: list[Step],
        gradients: dict[Value, float],
        naive: bool,
        graph: _Graph,
        correct: dict[Value, float],
    ) -> None:
        self.root = root
        self.naive = naive
        self.steps: tuple[Step, ...] = tuple(steps)
        self.gradients = gradients
        self._graph = graph
        self._correct = correct
        self._next = 0

    def __iter__(self) -> BackwardSteps:
        return self

    def __next__(self) -> Step:
        if self._next >= len(self.steps):
            raise StopIteration
        self._next += 1
        return self.steps[self._next - 1]

    def __repr__(self) -> str:
        kind = "naive replay" if self.naive else "backward()"
        name = self._graph.name(self.root)
        return f"<BackwardSteps of {kind} from {name}: {len(self.steps)} steps>"

    def name(self, v: Value) -> str:
        """The name a node goes by in the steps: its label, `v1`, ..., or its number."""
        return self._graph.name(v)

    def forward(self) -> list[ForwardStep]:
        """The forward pass, one op at a time, each node after its inputs."""
        return _forward(self._graph)

    def html(self, **options: Any) -> str:
        """The interactive page (`render_steps` writes it; `options` as there)."""
        return _shown_by("page")(self, **options)

    def _repr_html_(self) -> str:
        return _shown_by("notebook")(self)


#: how steps are drawn: `microgradx.viz.steps` registers its page makers here when it is
#: imported (the package's top level imports it), so that this module, which only
#: computes the steps, does not import the drawing code
DRAWING: dict[str, Callable[..., str]] = {}


def _shown_by(kind: str) -> Callable[..., str]:
    try:
        return DRAWING[kind]
    except KeyError:
        raise RuntimeError(
            "the step-by-step page needs microgradx.viz.steps: import microgradx"
        ) from None


def _build(root: Value, naive: bool, fmt: str | None, where: str) -> BackwardSteps:
    root = _check_root(root, where)
    if fmt is not None:
        to_format(fmt, where)
    graph = _Graph(root, fmt)
    steps, gradients = _correct(graph, _Builder(graph))
    if not naive:
        return BackwardSteps(root, steps, gradients, False, graph, gradients)
    naive_steps, naive_grads = _naive(graph, _Builder(graph), gradients, where)
    return BackwardSteps(root, naive_steps, naive_grads, True, graph, gradients)


def backward_steps(root: Value, *, naive: bool = False) -> BackwardSteps:
    """The chain-rule steps of `root.backward()`, one per (node, input) pair, in its order.

    Each `Step` holds the node, the input, the op, the local derivative's formula (from
    the op's rule, in the graph's labels) and value, the gradient arriving at the node,
    their product (the input's share) and the input's gradient before and after adding
    it. The shares add up to exactly what `backward()` gives, bit for bit. No `.grad` is
    changed. With `naive=True` the steps are those of the recursive pass without a
    topological order (see `explain`).

    Args:
        root: the output Value.
        naive: replay the naive recursion instead.

    Returns:
        A `BackwardSteps` iterator of `Step` records (shown as a page in Jupyter).

    Raises:
        TypeError: `root` is not a Value.
        RuntimeError: `root` has no graph (made under `no_grad()`).

    Examples:
        >>> from microgradx import Value, backward_steps
        >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
        >>> e = a * b
        >>> e.label = "e"
        >>> [(s.input.label, s.formula, s.contribution) for s in backward_steps(e)]
        [('a', 'de/da = b', -3.0), ('b', 'de/db = a', 2.0)]
    """
    naive = engine.to_flag(naive, "backward_steps(naive=...)")
    return _build(root, naive, None, "backward_steps()")


def forward_steps(root: Value) -> list[ForwardStep]:
    """Each op of the forward pass that made `root`, each after its inputs.

    Examples:
        >>> from microgradx import Value
        >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
        >>> e = a * b
        >>> e.label = "e"
        >>> [s.text for s in forward_steps(e)]
        ['e = a * b = 2.0 * -3.0 = -6.0']
    """
    root = _check_root(root, "forward_steps()")
    return _forward(_Graph(root, None))


def _forward(graph: _Graph) -> list[ForwardStep]:
    out = []
    for v in graph.forward:
        if v._code <= 0:
            continue
        expr = _forward_expr(v, graph)
        numbers = _with_numbers(expr, graph)
        formula = f"{graph.name(v)} = {expr.text()}"
        out.append(
            ForwardStep(
                node=v,
                op=v.op,
                formula=formula,
                text=f"{formula} = {numbers} = {graph.num(v.data)}",
            )
        )
    return out


# -- explain ---------------------------------------------------------------------------------


class Explanation(str):
    """The text `explain` returns (a `str`), with a Markdown/LaTeX form for teachers.

    Attributes:
        markdown: the same steps as a Markdown table, the formulas in LaTeX (`$...$`).
        steps: the `BackwardSteps` explained; in Jupyter, display it to get the page.
    """

    markdown: str
    steps: BackwardSteps

    def __new__(cls, text: str, markdown: str, steps: BackwardSteps) -> Explanation:
        self = super().__new__(cls, text)
        self.markdown = markdown
        self.steps = steps
        return self

    def _repr_markdown_(self) -> str:
        return self.markdown

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def explain(root: Value, naive: bool = False, *, fmt: str | None = None) -> Explanation:
    """The backward pass from `root` as text: one line per chain-rule step.

    Each line says which gradient grows by how much and why: the local derivative from
    the op's rule (in the labels the program gave its Values) times the gradient arriving
    at the node, with the numbers: `a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0`.
    When a node is used more than once its shares add up, and the line shows the sum.
    The result is a `str`; its `markdown` attribute has the same steps as a Markdown
    table with LaTeX formulas, for teachers (Jupyter shows that form).

    With `naive=True` the text replays the recursive backward pass that has no
    topological order: each node passes on its gradient as soon as the recursion reaches
    it, once per use. The lines where that goes wrong are marked, and the gradients it
    ends with are set beside those of `backward()`.

    Args:
        root: the output Value.
        naive: replay the naive recursion instead.
        fmt: how to write numbers (a format spec such as `".4g"`); by default each
            number is written exactly (the shortest text that reads back the same float).

    Returns:
        An `Explanation` (a `str` with `.markdown` and `.steps`).

    Raises:
        TypeError: `root` is not a Value.
        RuntimeError: `root` has no graph (made under `no_grad()`).
        ValueError: `naive=True` on a graph where the recursion takes more than
            `NAIVE_LIMIT` steps.

    Examples:
        >>> from microgradx import Value, explain
        >>> a = Value(1.0, label="a")
        >>> b = a + a
        >>> b.label = "b"
        >>> print(explain(b))
        b.grad = 1.0  (the seed: db/db = 1)
        a.grad += db/da = 1 * b.grad = 1.0 * 1.0 = 1.0
        a.grad += db/da = 1 * b.grad = 1.0 * 1.0 = 1.0  (a.grad = 1.0 + 1.0 = 2.0)
        gradients: b 1.0, a 2.0
    """
    naive = engine.to_flag(naive, "explain(naive=...)")
    steps = _build(root, naive, fmt, "explain()")
    return Explanation(_text(steps), _markdown(steps), steps)


def _seed(graph: _Graph) -> str:
    r = graph.atom(graph.root)
    return f"{r}.grad = {graph.num(1.0)}  (the seed: d{r}/d{r} = 1)"


def _reached(steps: BackwardSteps) -> list[Value]:
    """The nodes the pass gives a gradient, in the order backward() visits them."""
    return [v for v in steps._graph.backward if v in steps._correct]


#: the width the prose of `explain` is wrapped to (a step's own line is never broken)
WIDTH = 78


def _prose(text: str, first: str = "", rest: str = "    ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)  # fmt: skip


def _text(steps: BackwardSteps) -> str:
    graph = steps._graph
    lines = []
    if steps.naive:
        lines += _prose(
            "The naive recursion (no topological order): each node passes on its gradient "
            "as soon as the recursion reaches it, once per use.",
            rest="",
        )
    lines.append(_seed(graph))
    for s in steps.steps:
        lines.append(s.text)
        if s.note:
            lines += _prose(s.note, "  ^ ")
    nodes = _reached(steps)
    if not steps.naive:
        shown = ", ".join(f"{graph.name(v)} {graph.num(steps.gradients[v])}" for v in nodes)
        lines += _prose(f"gradients: {shown}")
        return "\n".join(lines)
    width = max(len(graph.name(v)) for v in nodes)
    rows = [(graph.name(v), graph.num(steps.gradients[v]), graph.num(steps._correct[v]))
            for v in nodes]  # fmt: skip
    w1 = max(len("naive"), *(len(r[1]) for r in rows))
    w2 = max(len("backward()"), *(len(r[2]) for r in rows))
    lines.append(f"{'':{width}}  {'naive':>{w1}}  {'backward()':>{w2}}")
    errors = 0
    for v, (name, got, right) in zip(nodes, rows, strict=True):
        bad = wrong(steps.gradients[v], steps._correct[v])
        errors += bad
        lines.append(f"{name:{width}}  {got:>{w1}}  {right:>{w2}}{'  wrong' if bad else ''}")
    if errors:
        lines += _prose(
            f"the naive order gets {errors} of {len(nodes)} gradients wrong: a node must wait "
            "until every node that uses it has passed it its share (a topological order)",
            rest="",
        )
    else:
        lines += _prose(
            "here the naive order happens to be right: no node is reached before all its "
            "uses have given it their shares",
            rest="",
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", r"\|")


def _markdown(steps: BackwardSteps) -> str:
    graph = steps._graph
    root = graph.root
    r = _tex_name(graph.name(root))
    kind = "The naive recursion" if steps.naive else "Backpropagation"
    lines = [
        f"{kind} from ${r}$, in the order it runs. The seed: "
        rf"$\frac{{\partial {r}}}{{\partial {r}}} = 1$.",
        "",
        "| step | node | input | local derivative | upstream | contribution | gradient |"
        + (" note |" if steps.naive else ""),
        "|---:|---|---|---|---|---|---|" + ("---|" if steps.naive else ""),
    ]
    seen: set[int] = set()
    for i, s in enumerate(steps.steps, 1):
        v, u = s.node, s.input
        node = f"${_tex_name(graph.name(v))} = {_forward_expr(v, graph).latex()}$"
        local = _local_expr(v, s.which, graph)
        value = "" if local.is_number else f" = {_tex_number(graph, s.local)}"
        local_tex = f"${_tex_d(graph, v, u)} = {local.latex()}{value}$"
        upstream = f"${_tex_d(graph, root, v)} = {_tex_number(graph, s.upstream)}$"
        contribution = f"${_tex_number(graph, s.contribution)}$"
        if id(u) in seen:
            total = (
                f"${_tex_number(graph, s.before)} + {_tex_number(graph, s.contribution)} "
                f"= {_tex_number(graph, s.after)}$"
            )
        else:
            total = f"${_tex_number(graph, s.after)}$"
        seen.add(id(u))
        cells = [str(i), node, f"${_tex_name(graph.name(u))}$", local_tex, upstream,
                 contribution, total]  # fmt: skip
        if steps.naive:
            cells.append(s.note)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    nodes = _reached(steps)
    lines.append("")
    if steps.naive:
        lines += ["| node | naive | `backward()` |", "|---|---:|---:|"]
        for v in nodes:
            bad = " (wrong)" if wrong(steps.gradients[v], steps._correct[v]) else ""
            lines.append(
                f"| ${_cell(_tex_name(graph.name(v)))}$ | "
                f"{graph.num(steps.gradients[v])}{bad} | {graph.num(steps._correct[v])} |"
            )
    else:
        shown = ", ".join(
            f"${_tex_d(graph, root, v)} = {_tex_number(graph, steps.gradients[v])}$" for v in nodes
        )
        lines.append(f"Gradients: {_cell(shown)}.")
    return "\n".join(lines)
