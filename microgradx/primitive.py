"""Primitives and the registry: every op the engine can run, by name and by code.

A `Primitive` is one row of the table (`microgradx.ops`) with the functions generated
from it. A node of the graph records the code of the *form* its op took (two Values, or
a Value and a plain number), and the registry answers, for a code, which primitive and
form it is and which functions compute its rules. The built-in ops come from the
generated module `microgradx._builtins`; `microgradx.defprim` adds user ops, and
`REGISTRY.scope()` takes back every op registered inside it.
"""

from __future__ import annotations

import ast
import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import _builtins, ieee, rules
from ._builtins import Operators
from .checks import to_float
from .codegen.eager import INPUTS, Form

FloatFn = Callable[..., float]


@dataclass(eq=False)
class Primitive:
    """One primitive op: its forward expression, one derivative rule per input, and the
    functions generated from them. Call it on Values (or numbers) to apply it.

    Examples:
        >>> from microgradx import Value
        >>> from microgradx.primitive import REGISTRY
        >>> mul = REGISTRY.by_name["mul"]
        >>> mul.vjps
        ('g * y', 'g * x')
        >>> mul(Value(2.0), 3.0).data, mul(2.0, 3.0)
        (6.0, 6.0)
    """

    name: str
    forward: str | FloatFn
    vjps: tuple[str, ...]
    symbol: str
    methods: tuple[str, ...]
    forms: tuple[Form, ...] = field(repr=False)
    #: `apply(self[, other])` (Value first) and, for two inputs, `rapply(self, other)`
    functions: tuple[Callable[..., Any], ...] = field(repr=False)
    float_forward: FloatFn = field(repr=False)
    #: per input, the rule on Values (`create_graph=True`)
    value_rules: tuple[Callable[..., Any], ...] = field(repr=False)
    #: per form code, the rule on floats of each node input: ((input, rule), ...)
    float_rules: dict[int, tuple[tuple[str, FloatFn], ...]] = field(repr=False)
    #: whether its float forward is a Python function (it may raise anything)
    opaque: bool = field(repr=False, default=False)

    @property
    def arity(self) -> int:
        """Number of inputs (1 or 2)."""
        return len(self.vjps)

    @property
    def code(self) -> int:
        """The code of the op's main form (every input a Value)."""
        return self.forms[0].code

    @property
    def forward_text(self) -> str:
        """The forward expression, or `name(x)` for a Python function."""
        if isinstance(self.forward, str):
            return self.forward
        return f"{self.name}({', '.join(INPUTS[: self.arity])})"

    @property
    def rule_texts(self) -> tuple[str, ...]:
        """The derivative rules, one per input."""
        return self.vjps

    @functools.cached_property
    def forward_tree(self) -> ast.expr | None:
        """The forward expression parsed (None for a Python function)."""
        if not isinstance(self.forward, str):
            return None
        return rules.parse(self.forward, INPUTS[: self.arity], ieee.LIBRARY)

    @functools.cached_property
    def rule_trees(self) -> tuple[ast.expr, ...]:
        """The rules parsed."""
        names = [*INPUTS[: self.arity], *rules.RULE_NAMES]
        known = set(REGISTRY.by_name) | {self.name}
        return tuple(rules.parse(r, names, known) for r in self.vjps)

    def __call__(self, *args: Any) -> Any:
        """Apply the op: Values in, a Value out (recorded); numbers in, a float out."""
        if len(args) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} argument(s), got {len(args)}")
        if not any(isinstance(a, Operators) for a in args):
            return self.float_forward(*(to_float(a, f"{self.name}()") for a in args))
        if isinstance(args[0], Operators):
            return self.functions[0](*args)
        return self.functions[1](args[1], args[0])  # a number, then a Value: reflected


@dataclass(frozen=True)
class Entry:
    """What the registry knows of one code: the primitive, its form, and the rules on
    floats of the form's node inputs."""

    primitive: Primitive
    form: Form
    float_rules: tuple[tuple[str, FloatFn], ...]


class _Steps(dict[int, Callable[[Any, float], None]]):
    """The backward steps of the user ops' forms, by code."""

    def __missing__(self, code: int) -> Callable[[Any, float], None]:
        raise RuntimeError(
            f"no op has code {code}: the graph uses an op that is no longer registered"
        )


class Registry:
    """Every registered primitive, by name and by form code.

    `steps` holds the backward step of every user op's form (the generated backward pass
    runs the built-ins' rules inline and calls these for the other codes).
    """

    def __init__(self) -> None:
        self.by_name: dict[str, Primitive] = {}
        self.by_code: dict[int, Entry] = {}
        self.steps: dict[int, Callable[[Any, float], None]] = _Steps()
        # methods installed on a class for each op: name -> [(class, method name)]
        self.installed: dict[str, list[tuple[type, str]]] = {}
        self._next_code = 1

    def __iter__(self) -> Iterator[Primitive]:
        """The primitives in the order they were registered."""
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def entry(self, code: int) -> Entry:
        """The primitive and form of a node's code."""
        try:
            return self.by_code[code]
        except KeyError:
            raise RuntimeError(
                f"no op has code {code}: the graph uses an op that is no longer registered"
            ) from None

    def reserve(self, n: int) -> int:
        """Codes for `n` new forms (codes are never reused); return the first."""
        first = self._next_code
        self._next_code += n
        return first

    def add(
        self,
        prim: Primitive,
        steps: dict[int, Callable[[Any, float], None]] | None = None,
        installed: list[tuple[type, str]] | None = None,
    ) -> None:
        """Register `prim` (its forms' codes come from `reserve`)."""
        self.by_name[prim.name] = prim
        for form in prim.forms:
            self.by_code[form.code] = Entry(prim, form, prim.float_rules[form.code])
        self.steps.update(steps or {})
        self.installed[prim.name] = list(installed or [])

    def remove(self, name: str) -> None:
        """Unregister the op `name` and take its methods off the classes they were put on."""
        prim = self.by_name.pop(name)
        for form in prim.forms:
            del self.by_code[form.code]
            self.steps.pop(form.code, None)
        for cls, method in self.installed.pop(name, []):
            delattr(cls, method)

    @contextlib.contextmanager
    def scope(self) -> Iterator[Registry]:
        """Within the block, ops may be registered; on leaving it they are all taken back.

        Examples:
            >>> from microgradx import defprim
            >>> from microgradx.primitive import REGISTRY
            >>> with REGISTRY.scope():
            ...     cube = defprim("cube", "x * x * x", "g * 3 * x * x")
            ...     "cube" in REGISTRY.by_name
            True
            >>> "cube" in REGISTRY.by_name
            False
        """
        before = list(self.by_name)
        try:
            yield self
        finally:
            for name in [n for n in self.by_name if n not in before][::-1]:
                self.remove(name)


def _builtin(row: tuple[str, str, tuple[str, ...], str, tuple[str, ...]]) -> Primitive:
    name, forward, vjps, symbol, methods = row
    forms = tuple(Form(c, op, len(vjps), n) for c, op, n in _builtins.FORMS if op == name)
    g = vars(_builtins)
    functions = tuple(getattr(Operators, m) for m in methods)
    return Primitive(
        name, forward, vjps, symbol, methods, forms, functions,
        float_forward=g[f"{name}_float"],
        value_rules=tuple(g[f"d{i}_{name}_value"] for i in INPUTS[: len(vjps)]),
        float_rules={
            f.code: tuple((i, g[f"d{i}_{name}{f.suffix}"]) for i in f.nodes) for f in forms
        },
    )  # fmt: skip


#: the primitives the engine knows: the built-ins, then the user ops
REGISTRY = Registry()
for _row in _builtins.OPS:
    REGISTRY.add(_builtin(_row))
REGISTRY.reserve(len(_builtins.FORMS))
