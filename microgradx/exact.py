"""Exact and high-precision arithmetic: the rules of the table evaluated on `Fraction` or
`mpmath.mpf` numbers (or on Values holding them).

The float engine runs generated code; these kinds of number are rare and slow anyway, so
here the table's expressions are read by a small evaluator instead, the same trees:

* **rational** (`fractions.Fraction` and `int`): `+ - * /`, `**` with an integer exponent,
  `abs`, `sign`, `relu` stay exact. Anything else (`exp`, `log`, `sqrt`, a fractional
  power, ...) has no exact value and raises `InexactError`, which says how to get a
  high-precision number instead. Dividing by an exact zero raises `InexactError` too: it
  has no exact answer (`inf` and `nan` are float results).
* **mpmath** (`mpmath.mpf`): every op, at mpmath's working precision (`mpmath.mp.dps`),
  with IEEE-like edges: `1 / 0 = inf`, `0 / 0 = nan`, `log(0) = -inf`, and `nan` where
  the real result does not exist (`log(-1)`, `sqrt(-1)`, `(-8) ** (1/3)`). mpmath is
  imported only when such numbers are used.
"""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from . import rules
from .codegen.expressions import link_plan


class InexactError(ArithmeticError):
    """An op on exact (`Fraction`) numbers whose result is not a rational number."""


def kind_of(x: object) -> str | None:
    """`"rational"` for a Fraction, `"mpmath"` for an mpmath number, else None."""
    if type(x) is Fraction:
        return "rational"
    if type(x).__module__.startswith("mpmath"):
        return "mpmath"
    return None


def _mpmath() -> Any:
    import mpmath  # only when mpmath numbers are used (an optional dependency)

    return mpmath


class Kind:
    """How one kind of number computes: literals, `/`, `**` and the library functions."""

    name = ""

    def literal(self, value: int | float) -> Any:
        """A number of the rules as a number of this kind."""
        raise NotImplementedError

    def div(self, a: Any, b: Any) -> Any:
        """`a / b`."""
        raise NotImplementedError

    def pow(self, a: Any, b: Any) -> Any:
        """`a ** b`."""
        raise NotImplementedError

    def function(self, name: str) -> Callable[..., Any]:
        """The library function `name` (`exp`, `log1p`, ...) on numbers of this kind."""
        raise NotImplementedError

    def one(self) -> Any:
        """One as a number of this kind: the gradient a backward pass starts from."""
        raise NotImplementedError


class Rational(Kind):
    """`Fraction` and `int`: exact, or `InexactError`."""

    name = "rational"

    def literal(self, value: int | float) -> Any:
        # a rule's 0.5 is the decimal it reads as, so 0.1 is 1/10, not float(0.1)
        return value if isinstance(value, int) else Fraction(repr(value))

    def one(self) -> Any:
        return Fraction(1)

    def div(self, a: Any, b: Any) -> Any:
        if b == 0:
            raise InexactError(
                "division by an exact zero has no exact result (inf and nan are float "
                "results): use floats, or mpmath.mpf numbers for inf at high precision"
            )
        return Fraction(a) / b

    def pow(self, a: Any, b: Any) -> Any:
        if isinstance(b, Fraction) and b.denominator == 1:
            b = b.numerator
        if not isinstance(b, int):
            raise InexactError(
                f"{a} ** {b}: a power with an exponent that is not an integer has no exact "
                "value; use mpmath.mpf numbers for a high-precision result"
            )
        if a == 0 and b < 0:
            return self.div(1, 0)
        return Fraction(a) ** b

    def function(self, name: str) -> Callable[..., Any]:
        exact = _RATIONAL.get(name)
        if exact is None:
            return _refuse(name)
        return exact


def _refuse(name: str) -> Callable[..., Any]:
    def refuse(*args: Any) -> Any:
        raise InexactError(
            f"{name}() of a Fraction has no exact value; for a high-precision result use "
            f"mpmath numbers: Value(mpmath.mpf(...)) (digits: mpmath.mp.dps)"
        )

    return refuse


def _sign(x: Any) -> int:
    return int(x > 0) - int(x < 0)


_RATIONAL: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "fabs": abs,
    "sign": _sign,
    "relu": lambda x: 0 if x < 0 else x,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
}


class MP(Kind):
    """mpmath numbers, at mpmath's working precision, with IEEE-like edges."""

    name = "mpmath"

    def literal(self, value: int | float) -> Any:
        return value if isinstance(value, int) else _mpmath().mpf(repr(value))

    def one(self) -> Any:
        return _mpmath().mpf(1)

    def div(self, a: Any, b: Any) -> Any:
        mp = _mpmath()
        try:
            return mp.mpf(a) / b
        except ZeroDivisionError:
            if mp.isnan(a) or a == 0:
                return mp.nan
            return mp.inf if (a > 0) == (b >= 0) else -mp.inf

    def pow(self, a: Any, b: Any) -> Any:
        mp = _mpmath()
        try:
            return _real(mp.power(a, b))
        except ZeroDivisionError:  # zero to a negative power
            return mp.inf

    def function(self, name: str) -> Callable[..., Any]:
        mp = _mpmath()
        special = {
            "sigmoid": lambda x: self.div(1, 1 + mp.exp(-x)),
            "relu": lambda x: 0 if x < 0 else x,
            "sign": lambda x: 0 if mp.isnan(x) else _sign(x),
            "abs": abs,
            "log": lambda x, *base: _real(mp.log(x, *base)) if x != 0 else -mp.inf,
            "lgamma": lambda x: _real(mp.loggamma(x)),
            "log2": lambda x: _real(mp.log(x, 2)) if x != 0 else -mp.inf,
            "exp2": lambda x: mp.power(2, x),
        }
        fn = special.get(name) or getattr(mp, name, None)
        if fn is None:
            raise InexactError(f"{name}() has no mpmath version")
        return lambda *args: _real(fn(*args))


def _real(x: Any) -> Any:
    """A complex mpmath result (no real one exists: `log(-1)`) as nan."""
    mp = _mpmath()
    return mp.nan if isinstance(x, mp.mpc) else x


KINDS: dict[str, Kind] = {"rational": Rational(), "mpmath": MP()}


def data_kind(*xs: object) -> Kind:
    """The kind the numbers `xs` compute in (ints take the others' kind); `TypeError` for a
    mix of Fraction and mpmath numbers."""
    found = {k for k in map(kind_of, xs) if k is not None}
    if len(found) > 1:
        names = ", ".join(sorted(type(x).__name__ for x in xs if kind_of(x)))
        raise TypeError(f"cannot mix Fraction and mpmath numbers in one op (got {names})")
    return KINDS[found.pop() if found else "rational"]


def evaluate(
    tree: ast.expr,
    env: Mapping[str, Any],
    kind: Kind,
    call: Callable[[str, list[Any]], Any],
    data: Callable[[Any], Any] = lambda v: v,
    linked: Callable[[Any, tuple[Any, ...], tuple[Any, ...]], Any] | None = None,
) -> Any:
    """The value of one expression of the table, read by walking its tree.

    `env` holds `x`, `y`, `out` and `g` (numbers, or Values when the rule builds the
    derivative's graph); `call(name, args)` applies a function the expression calls;
    `data` gives the number behind an operand for comparisons; with `linked`, a branch of
    `a if cond else b` that reads no node is linked to the nodes, as on Values in the
    generated rules (`microgradx.codegen.runtime.linked`).
    """

    def walk(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            value = node.value  # rules.parse admits only number constants
            assert isinstance(value, (int, float))
            return kind.literal(value)
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = walk(node.operand)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.Not):
                return not operand
            return operand
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and _numbers(a, b):
                return kind.div(a, b)  # the kind's edges: an exact zero, inf
            if isinstance(node.op, ast.Pow) and _numbers(a, b):
                return kind.pow(a, b)
            return rules.BINARY[type(node.op)](a, b)
        if isinstance(node, ast.Compare):
            left = data(walk(node.left))
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = data(walk(right_node))
                if not rules.COMPARISON[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(walk(v) for v in node.values)
            return any(walk(v) for v in node.values)
        if isinstance(node, ast.IfExp):
            taken = node.body if walk(node.test) else node.orelse
            result = walk(taken)
            if linked is not None:
                plan = link_plan(node, taken is node.body)
                if plan is not None:
                    tested, read = plan
                    nodes = tuple(env[n] for n in tested), tuple(env[n] for n in read)
                    result = linked(result, *nodes)
            return result
        if isinstance(node, ast.Call):
            return call(rules.callee(node), [walk(a) for a in node.args])
        raise TypeError(f"{type(node).__name__} cannot be evaluated")  # parse() refuses it

    return walk(tree)


def _numbers(a: Any, b: Any) -> bool:
    return isinstance(a, numbers.Real) and isinstance(b, numbers.Real)


# -- ops on exact numbers and on Values holding them -------------------------------------------


def number_kind(args: tuple[Any, ...]) -> str | None:
    """How an op on `args` (Values or numbers) computes: `"rational"`, `"mpmath"`,
    `"float"` (a Fraction meeting a float gives a float, as in Python) or None (floats and
    ints only: the float engine's business). `TypeError` for Fractions with mpmath."""
    kinds = set()
    for a in args:
        x = a.data if hasattr(a, "_code") else a
        k = kind_of(x)
        if k is not None:
            kinds.add(k)
        elif isinstance(x, float):
            kinds.add("float")
    if {"rational", "mpmath"} <= kinds:
        names = ", ".join(type(a.data if hasattr(a, "_code") else a).__name__ for a in args)
        raise TypeError(f"cannot mix Fraction and mpmath numbers in one op (got {names})")
    if "mpmath" in kinds:
        return "mpmath"
    if "rational" in kinds:
        return "float" if "float" in kinds else "rational"
    return None


def forward(prim: Any, xs: list[Any], kind: Kind, lookup: Callable[[str], Any]) -> Any:
    """`prim`'s forward expression on numbers of `kind`."""
    if prim.forward_tree is None:
        raise TypeError(
            f"{prim.name}: a forward given as a Python function runs on floats only; write it "
            f"in the rule language (an expression string) to use it with {kind.name} numbers"
        )
    env = dict(zip(("x", "y"), xs, strict=False))
    return evaluate(prim.forward_tree, env, kind, lambda name, args: kind.function(name)(*args))


def _call_on_numbers(kind: Kind, lookup: Callable[[str], Any]) -> Callable[[str, list[Any]], Any]:
    # a rule calls primitives: their forward expressions, on numbers of the same kind
    return lambda name, args: forward(lookup(name), args, kind, lookup)


def rule_on_numbers(
    prim: Any, which: str, g: Any, xs: tuple[Any, Any, Any], lookup: Callable[[str], Any]
) -> Any:
    """The rule of `prim` for input `which` on exact numbers (`xs`: x, y, out)."""
    kind = data_kind(g, *xs)
    env = {"g": g, "x": xs[0], "y": xs[1], "out": xs[2]}
    tree = prim.rule_trees["xy".index(which)]
    return evaluate(tree, env, kind, _call_on_numbers(kind, lookup))


def rule_on_values(
    prim: Any, which: str, g: Any, nodes: tuple[Any, Any, Any], lookup: Callable[[str], Any]
) -> Any:
    """The rule of `prim` for input `which` on Values holding exact numbers: it records
    the derivative's own graph (`create_graph=True`)."""
    from .codegen.runtime import data_of, linked

    kind = data_kind(*(n.data if hasattr(n, "_code") else n for n in (g, *nodes) if n is not None))
    env = {"g": g, "x": nodes[0], "y": nodes[1], "out": nodes[2]}
    tree = prim.rule_trees["xy".index(which)]

    def call(name: str, args: list[Any]) -> Any:
        return lookup(name)(*args)

    return evaluate(tree, env, kind, call, data_of, linked)


def apply(prim: Any, args: tuple[Any, ...], kind_name: str, lookup: Callable[[str], Any]) -> Any:
    """`prim` applied to `args` (Values and numbers, at least one exact) as a new node.

    The node is of the class of the exact Values (`ExactValue`), or for `"float"` (a
    Fraction meeting a float) of that class's `float_class`, computed on floats."""
    from .codegen.runtime import CONSTANT, shared_constant
    from .grad_mode import grad_enabled, no_grad_seen

    exact_class = next(type(a) for a in args if hasattr(a, "_code") and kind_of(a.data))
    numbers = tuple(n for n, a in zip("xy", args, strict=False) if not hasattr(a, "_code"))
    form = next(f for f in prim.forms if f.numbers == numbers)
    datas = [a.data if hasattr(a, "_code") else a for a in args]
    if kind_name == "float":
        cls = exact_class.float_class
        data = prim.float_forward(*(float(d) for d in datas))
        inputs = [a if hasattr(a, "_code") else shared_constant(cls, float(a)) for a in args]
    else:
        kind = KINDS[kind_name]
        cls = exact_class
        data = _as_kind(forward(prim, datas, kind, lookup), kind)
        inputs = [a if hasattr(a, "_code") else constant(cls, _as_kind(a, kind)) for a in args]
    out = object.__new__(cls)
    out.data = data
    out.grad = 0.0 if kind_name == "float" else 0
    out.label = ""
    out._mark = 0
    out._adj = 0.0
    recording = not (no_grad_seen.yes and not grad_enabled.get())
    if not (recording and any(a._code != CONSTANT for a in inputs)):  # constants in: one out
        out._code = CONSTANT
        out._a = out._b = None
    else:
        out._code = form.code
        out._a = inputs[0]
        out._b = inputs[1] if len(inputs) > 1 else None
    return out


def constant(cls: type, x: Any) -> Any:
    """A constant node (no gradient) of class `cls` holding the number `x`."""
    from .codegen.runtime import CONSTANT

    c: Any = object.__new__(cls)
    c.data, c.grad, c.label, c._mark, c._adj = x, 0, "", 0, 0.0
    c._code, c._a, c._b = CONSTANT, None, None
    return c


def _as_kind(x: Any, kind: Kind) -> Any:
    """A result as a number of the kind: a Fraction (`int` and `bool` results of `relu`,
    `sign`, `floor` included), or an mpmath number."""
    if kind.name == "rational":
        return Fraction(x)
    return _mpmath().mpf(x) if not kind_of(x) else x


def apply_numbers(prim: Any, args: tuple[Any, ...], lookup: Callable[[str], Any]) -> Any:
    """`prim` on plain exact numbers: a number of their kind (no graph)."""
    kind = data_kind(*args)
    return _as_kind(forward(prim, list(args), kind, lookup), kind)
