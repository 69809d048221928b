"""The ops a graded engine may support, and small computation graphs built from them.

Everything here works on any micrograd-shaped class through Python's operators and method
calls only (`a + b`, `2.0 * a`, `a.tanh()`), so the same graph can be built with the
graded engine and with microgradx, and printed as code that uses the engine's own API.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: random points stay at least this far from a kink or the edge of an op's domain
MARGIN = 1e-3
#: a random example whose values or gradients grow past this is skipped (rounding noise)
BOUND = 1e4

#: number operands of `+ - * /`; exponents of `a ** k`; bases of `k ** a`
ARITH = (2.0, 3.0, 0.5, -1.0, 1.5, -2.0)
EXPONENTS = (2, 3, -1, 0.5, -2, 1.5)
BASES = (2.0, 3.0, 0.5, 1.5)


def _anywhere(a: float, b: float, k: float) -> bool:
    return True


def _b_off_zero(a: float, b: float, k: float) -> bool:
    return abs(b) > MARGIN


def _a_off_zero(a: float, b: float, k: float) -> bool:
    return abs(a) > MARGIN


def _a_positive(a: float, b: float, k: float) -> bool:
    return a > MARGIN


def _power_smooth(a: float, b: float, k: float) -> bool:
    if float(k).is_integer():
        return k >= 0 or abs(a) > MARGIN
    return a > MARGIN


@dataclass(frozen=True)
class Form:
    """One way to write an op: `a + b`, `a + 2.0` and `2.0 + a` are three forms of add."""

    family: str
    template: str  # Python code: {a} and {b} are Value operands, {k} a number
    apply: Callable[[Any, Any, Any], Any]
    rule: str  # the derivative rule, as a learner writes it
    constants: tuple[float, ...] = ()
    smooth: Callable[[float, float, float], bool] = _anywhere
    method: str = ""  # the method Python calls for this form

    @property
    def arity(self) -> int:
        """How many Value operands the form takes (1 or 2)."""
        return 2 if "{b}" in self.template else 1

    def code(self, a: str = "a", b: str = "b", k: float = 2.0) -> str:
        """The form as Python code on operands named `a` and `b` and the number `k`."""
        return self.template.format(a=a, b=b, k=repr(k))

    @property
    def text(self) -> str:
        """The form as the table shows it (`2.0 * a`, `a ** 2`, `a.tanh()`)."""
        return self.code(k=self.constants[0] if self.constants else 2.0)


def _f(
    family: str, template: str, apply: Callable[[Any, Any, Any], Any], rule: str, **kw: Any
) -> Form:
    return Form(family, template, apply, rule, **kw)


FORMS: tuple[Form, ...] = (
    # the simplest first: Hypothesis shrinks a choice of form towards the start
    _f("add", "{a} + {b}", lambda a, b, k: a + b, "d/da = 1, d/db = 1", method="__add__"),
    _f("add", "{a} + {k}", lambda a, b, k: a + k, "d/da = 1", constants=ARITH, method="__add__"),
    _f("add", "{k} + {a}", lambda a, b, k: k + a, "d/da = 1", constants=ARITH, method="__radd__"),
    _f("mul", "{a} * {b}", lambda a, b, k: a * b, "d/da = b, d/db = a", method="__mul__"),
    _f("mul", "{a} * {k}", lambda a, b, k: a * k, "d/da = k", constants=ARITH, method="__mul__"),
    _f("mul", "{k} * {a}", lambda a, b, k: k * a, "d/da = k", constants=ARITH, method="__rmul__"),
    _f("sub", "{a} - {b}", lambda a, b, k: a - b, "d/da = 1, d/db = -1", method="__sub__"),
    _f("sub", "{a} - {k}", lambda a, b, k: a - k, "d/da = 1", constants=ARITH, method="__sub__"),
    _f("sub", "{k} - {a}", lambda a, b, k: k - a, "d/da = -1", constants=ARITH, method="__rsub__"),
    _f("neg", "-{a}", lambda a, b, k: -a, "d/da = -1", method="__neg__"),
    _f(
        "div",
        "{a} / {b}",
        lambda a, b, k: a / b,
        "d/da = 1 / b, d/db = -a / b**2",
        smooth=_b_off_zero,
        method="__truediv__",
    ),
    _f(
        "div",
        "{a} / {k}",
        lambda a, b, k: a / k,
        "d/da = 1 / k",
        constants=ARITH,
        method="__truediv__",
    ),
    _f(
        "div",
        "{k} / {a}",
        lambda a, b, k: k / a,
        "d/da = -k / a**2",
        constants=ARITH,
        smooth=_a_off_zero,
        method="__rtruediv__",
    ),
    _f(
        "pow",
        "{a} ** {k}",
        lambda a, b, k: a**k,
        "d/da = k * a**(k - 1)",
        constants=EXPONENTS,
        smooth=_power_smooth,
        method="__pow__",
    ),
    _f(
        "rpow",
        "{k} ** {a}",
        lambda a, b, k: k**a,
        "d/da = k**a * log(k)",
        constants=BASES,
        method="__rpow__",
    ),
    _f(
        "vpow",
        "{a} ** {b}",
        lambda a, b, k: a**b,
        "d/da = b * a**(b - 1), d/db = a**b * log(a)",
        smooth=_a_positive,
        method="__pow__",
    ),
    _f("exp", "{a}.exp()", lambda a, b, k: a.exp(), "d/da = exp(a)", method="exp"),
    _f(
        "log",
        "{a}.log()",
        lambda a, b, k: a.log(),
        "d/da = 1 / a",
        smooth=_a_positive,
        method="log",
    ),
    _f(
        "sqrt",
        "{a}.sqrt()",
        lambda a, b, k: a.sqrt(),
        "d/da = 0.5 / sqrt(a)",
        smooth=_a_positive,
        method="sqrt",
    ),
    _f("tanh", "{a}.tanh()", lambda a, b, k: a.tanh(), "d/da = 1 - tanh(a)**2", method="tanh"),
    _f(
        "sigmoid",
        "{a}.sigmoid()",
        lambda a, b, k: a.sigmoid(),
        "d/da = s * (1 - s) with s = sigmoid(a)",
        method="sigmoid",
    ),
    _f(
        "relu",
        "{a}.relu()",
        lambda a, b, k: a.relu(),
        "d/da = 1 if a > 0 else 0",
        smooth=_a_off_zero,
        method="relu",
    ),
    _f(
        "abs",
        "abs({a})",
        lambda a, b, k: abs(a),
        "d/da = 1 if a > 0 else -1",
        smooth=_a_off_zero,
        method="__abs__",
    ),
    _f("sin", "{a}.sin()", lambda a, b, k: a.sin(), "d/da = cos(a)", method="sin"),
    _f("cos", "{a}.cos()", lambda a, b, k: a.cos(), "d/da = -sin(a)", method="cos"),
)

#: op name -> its forms, in the order they are checked
FAMILIES: dict[str, tuple[Form, ...]] = {}
for _form in FORMS:
    FAMILIES.setdefault(_form.family, ())
    FAMILIES[_form.family] += (_form,)
del _form

#: the ops every Value-like class must have
REQUIRED = ("add", "mul")


def form(template: str) -> Form:
    """The form written `template` (`"a + b"`, `"2.0 * a"` is `"{k} * {a}"`)."""
    for f in FORMS:
        if f.template == template:
            return f
    raise KeyError(template)


@dataclass(frozen=True)
class Step:
    """One op of a graph: a form applied to earlier nodes (by index) and a number `k`."""

    form: Form
    args: tuple[int, ...]
    k: float = 0.0


@dataclass(frozen=True)
class Graph:
    """A computation graph as data: input numbers, then ops; the last node is the output.

    Node `i` is input `i` for `i < len(inputs)`, then the result of each step in order.
    A node used by several steps is a shared subexpression.
    """

    inputs: tuple[float, ...]
    steps: tuple[Step, ...]
    labels: tuple[str, ...] = ()  # names of the inputs in code (default a, b, c, ...)

    @property
    def n_ops(self) -> int:
        """How many ops the graph has."""
        return len(self.steps)

    def names(self) -> list[str]:
        """The name of every node in code: inputs, then v1, v2, ..., and the output `out`."""
        n = len(self.inputs)
        inputs = list(self.labels) or [("abcdefgh"[i] if n <= 8 else f"x{i}") for i in range(n)]
        steps = [f"v{j + 1}" for j in range(len(self.steps))]
        if steps:
            steps[-1] = "out"
        return inputs + steps

    def uses(self) -> list[int]:
        """How many times each node is an operand of a step (`a + a` counts twice)."""
        count = [0] * (len(self.inputs) + len(self.steps))
        for s in self.steps:
            for i in s.args:
                count[i] += 1
        return count

    def pruned(self) -> Graph:
        """The same graph without the inputs and steps the output does not depend on."""
        n = len(self.inputs)
        needed = [False] * (n + len(self.steps))
        needed[-1] = True
        for j in range(len(self.steps) - 1, -1, -1):
            if needed[n + j]:
                for i in self.steps[j].args:
                    needed[i] = True
        new_index: dict[int, int] = {}
        inputs: list[float] = []
        labels: list[str] = []
        for i in range(n):
            if needed[i]:
                new_index[i] = len(inputs)
                inputs.append(self.inputs[i])
                if self.labels:
                    labels.append(self.labels[i])
        steps: list[Step] = []
        for j, s in enumerate(self.steps):
            if needed[n + j]:
                new_index[n + j] = len(inputs) + len(steps)
                steps.append(Step(s.form, tuple(new_index[i] for i in s.args), s.k))
        return Graph(tuple(inputs), tuple(steps), tuple(labels))

    def lines(self, cls_name: str) -> list[str]:
        """Python code that builds the graph with the class named `cls_name`."""
        names = self.names()
        out = [f"{names[i]} = {cls_name}({x!r})" for i, x in enumerate(self.inputs)]
        n = len(self.inputs)
        for j, s in enumerate(self.steps):
            a = names[s.args[0]]
            b = names[s.args[1]] if len(s.args) > 1 else "b"
            out.append(f"{names[n + j]} = {s.form.code(a, b, s.k)}")
        return out

    @property
    def title(self) -> str:
        """The ops on one line: `a.tanh()`, or `v1 = a * a; out = v1 + v1`."""
        ops = self.lines("Value")[len(self.inputs) :]
        if len(ops) == 1:
            return ops[0].partition(" = ")[2]
        return "; ".join(ops)

    def build(self, cls: type) -> list[Any]:
        """Every node of the graph made with `cls`; a result that is not Value-like raises."""
        nodes: list[Any] = [cls(x) for x in self.inputs]
        for s in self.steps:
            a = nodes[s.args[0]]
            b = nodes[s.args[1]] if len(s.args) > 1 else None
            result = s.form.apply(a, b, s.k)
            if not (isinstance(result, cls) or is_value_like(result)):
                raise NotAValueError(
                    f"{s.form.code(k=s.k)} returned {type(result).__name__}, not a {cls.__name__}"
                )
            nodes.append(result)
        return nodes


def is_value_like(x: Any) -> bool:
    """Whether `x` has `.data`, `.grad` and `.backward()` (the class may be a base class)."""
    return hasattr(x, "data") and hasattr(x, "grad") and callable(getattr(x, "backward", None))


class NotAValueError(TypeError):
    """An op of the graded engine returned something that is not one of its Values."""


def number(x: Any) -> float:
    """A `.data` or `.grad` as a float (None, as some engines start `.grad`, reads as 0)."""
    if x is None:
        return 0.0
    if isinstance(x, complex):
        raise TypeError(f"a complex number, {x!r}")
    return float(x)


def close(expected: float, got: float, rtol: float, scale: float = 1.0) -> bool:
    """Equal within `rtol` of the larger of both and `scale`; nan matches nan, inf the same inf."""
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return expected == got
    return abs(got - expected) <= rtol * max(abs(expected), abs(got), scale)
