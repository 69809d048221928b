"""The graph as every picture shows it: its nodes in order, and how numbers are written.

The engine keeps one constant node per plain number, shared by every op given it; a
picture shows a grey box for each use instead, as a program reads `a * 2 + b * 2`.
`Drawn` walks the graph that way for the diagram (`draw_dot`), the text trace (`trace`)
and the step-by-step pictures (`render_steps`). Nothing here needs Graphviz.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import engine
from ..checks import to_format
from ..engine import Value

__all__ = [
    "Drawn",
    "Number",
    "as_float",
    "as_roots",
    "number_format",
    "path_between",
    "topological",
]

#: how a picture writes a number
Number = Callable[[float], str]


def as_roots(root: Value | Iterable[Value], where: str) -> list[Value]:
    """`root` as a list of Values, each once, in order; `TypeError` or `ValueError` else.

    `where` names the caller in the message, such as `"draw_dot()"`.
    """
    roots = [root] if isinstance(root, Value) else list(root)
    for i, r in enumerate(roots):
        if not isinstance(r, Value):
            raise TypeError(f"{where}: expected a Value or Values, got {type(r).__name__} at {i}")
    if not roots:
        raise ValueError(f"{where}: expected at least one Value")
    return list({id(r): r for r in roots}.values())


class Drawn:
    """The graph as drawn: each use of a number an op was given is a constant box of its own."""

    def __init__(self) -> None:
        self._uses: dict[tuple[int, int], Value] = {}
        self._held: list[Value] = []  # keeps the nodes whose ids key `_uses` alive

    def inputs(self, v: Value) -> list[Value]:
        """`v`'s inputs, a shared number as a box for this use (the same box every time)."""
        out = []
        for i, u in enumerate(v.inputs):
            if engine.is_shared_constant(u):
                key = (id(v), i)
                if key not in self._uses:
                    self._uses[key] = engine.constant(u.data)
                    self._held.append(v)
                u = self._uses[key]
            out.append(u)
        return out

    def order(self, roots: list[Value]) -> list[Value]:
        """Every drawn node, each after all of its inputs."""
        return engine.topological(roots, inputs=self.inputs)


def topological(root: Value | Iterable[Value]) -> list[Value]:
    """Every node the output(s) depend on, each after all of its inputs (iterative walk).

    Constants are included, and each plain number an op was given appears as a constant
    of its own. The graph's own bookkeeping is not touched, so this is safe to call at
    any time.
    """
    return Drawn().order(as_roots(root, "topological()"))


def path_between(source: Value | Iterable[Value], root: Value) -> set[Value]:
    """The nodes on some path from `source` (one Value or several) up to `root`.

    These are the nodes through which `source` influences `root`: pass the result to
    `draw_dot(root, highlight=...)` to see how a parameter reaches the loss. The set is
    empty when `root` does not depend on `source`.
    """
    sources = {id(s) for s in as_roots(source, "path_between()")}
    on_path: dict[int, Value] = {}
    for v in engine.topological(as_roots(root, "path_between()")):
        if id(v) in sources or any(id(x) in on_path for x in v.inputs):
            on_path[id(v)] = v
    return set(on_path.values())


def number_format(fmt: str | Number, where: str) -> Number:
    """`fmt` as a function writing a float: a format spec such as `".4f"`, or a function."""
    if callable(fmt):
        return fmt
    spec = to_format(fmt, where, " or a function")
    return lambda x: format(x, spec)


def as_float(x: Any) -> float:
    """A node's `data` or `grad` as a float (a gradient made with `create_graph=True` is a
    Value)."""
    return float(x.data if isinstance(x, Value) else x)
