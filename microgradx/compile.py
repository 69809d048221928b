"""`compile`: trace a function of Values once, then run it as straight-line float code.

The eager engine builds a graph node for every operation and walks it backwards. When the
*same* computation runs again and again (the loss of one example, for every example of
every training step), that work can be done once: `compile` calls the function on
example arguments, records the graph it builds (the *tape*), and writes Python source that
computes the forward value and every gradient on plain floats, in straight lines.

Every line comes from the table of primitives (`microgradx.ops`): the forward
expression and the derivative rules are inlined by the same code generator as the eager
engine's (`microgradx.codegen`), so both give the same numbers. The kinks of the ops
themselves (`relu`, `abs`, `pow` at zero) are expressions such as
`0.0 if out <= 0 else g` and stay exact for every input.

How the code is written: see `microgradx.codegen.straight`.

Examples:
    >>> from microgradx import Value, compile
    >>> w = Value(0.5, label="w")
    >>> f = compile(lambda x: (w * x).relu(), 3.0)
    >>> f(4.0)
    2.0
    >>> f.backward(4.0)  # adds d f / d w to w.grad, like loss.backward()
    2.0
    >>> w.grad
    4.0

What the trace cannot see:

* Python-level control flow on `.data` or `float(v)` inside the function: those values
  are frozen at trace time. Comparisons of Values (`x > 0`, `max(a, b)`) *are* seen:
  they are recorded as guards and checked at every call; an example that takes a different
  branch is computed by the eager engine instead (see `Compiled.fallbacks`).
* Results made under `no_grad()` inside the function are constants of the trace.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .checks import to_float
from .codegen import modules, straight
from .engine import Value, grad, topological
from .primitive import REGISTRY
from .tracing import Guard, Trace, TraceError, guard_nodes

__all__ = ["Compiled", "TraceError", "compile"]

_ERRORS = (ArithmeticError, ValueError)


class _BranchChangedError(Exception):
    """Raised inside generated code when an example takes another branch than the trace."""


def compile(fn: Callable[..., Value], *example_args: Any) -> Compiled:
    """Trace `fn` on `example_args` and return it as generated float code.

    `fn` computes one Value from its arguments (numbers, Values, or nested lists and
    tuples of them; each becomes a leaf Value while tracing). Values it reads from outside,
    such as a model's weights, are the *parameters*: their current `.data` is read at
    every call and their gradients are what `Compiled.backward` and
    `Compiled.backward_batch` add to `.grad`.

    Without example arguments, tracing waits for the first call, so `@compile` works as
    a decorator. A function of no arguments is traced at once.
    """
    if not callable(fn):
        raise TypeError(f"compile() expects a function, got {type(fn).__name__}")
    return Compiled(fn, example_args)


# -- tracing ------------------------------------------------------------------------------


def _flatten(x: Any, out: list[Any], where: str) -> Any:
    """Append the leaves of `x` to `out`; return its structure (None marks a leaf)."""
    if isinstance(x, (list, tuple)):
        return tuple(_flatten(e, out, f"{where}[{i}]") for i, e in enumerate(x))
    if isinstance(x, Value):
        out.append(x.data)
    else:
        out.append(to_float(x, f"compile: {where}"))
    return None


def _unflatten(structure: Any, leaves: Iterable[Any]) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        return next(it) if s is None else [build(e) for e in s]

    return build(structure)


# -- the compiled function ----------------------------------------------------------------


def _describe(v: Value) -> tuple[Any, tuple[str, ...]]:
    entry = REGISTRY.entry(v._code)
    return entry.primitive, entry.form.numbers


def _tape(output: Value, args: list[Value], guards: list[Guard]) -> straight.Tape:
    order = topological([output, *guard_nodes(guards)])
    return straight.Tape(output, args, guards, order, topological([output]), _describe)


def _namespace() -> dict[str, Any]:
    floats = {p.name: p.float_forward for p in REGISTRY}
    functions = {p.name: p.forward for p in REGISTRY if callable(p.forward)}
    ns = modules.float_namespace(floats, functions)
    ns.update(_BranchChanged=_BranchChangedError, _INF=math.inf, _NAN=math.nan)
    ns.update(_isfinite=math.isfinite, ERRORS=_ERRORS)
    return ns


def _add_to_grads(params: Sequence[Value], gradients: Sequence[float]) -> None:
    for q, d in zip(params, gradients, strict=True):
        q.grad = d if q.grad is None else q.grad + d  # None: no gradient yet (PyTorch)


class Compiled:
    """A function of Values traced once and turned into float code (see `compile`).

    Attributes: `params` (the Values read from outside, in order), `source` (the
    generated Python), `fallbacks` (how many examples ran eagerly because a recorded
    comparison came out the other way).
    """

    def __init__(self, fn: Callable[..., Value], example_args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "f")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.fallbacks = 0
        self._code: dict[str, Any] = {}
        self._tape: straight.Tape | None = None
        self.params: tuple[Value, ...] = ()  # known once traced
        if example_args or _takes_no_arguments(fn):
            self._trace(example_args)

    # tracing -----------------------------------------------------------------------------

    def _trace(self, example_args: tuple[Any, ...]) -> None:
        leaves: list[float] = []
        self._structure = _flatten(list(example_args), leaves, "argument")
        self._n_leaves = len(leaves)
        args = [Value(x) for x in leaves]
        values = _unflatten(self._structure, args)
        with Trace() as trace:
            out = self.fn(*values)
        guards = trace.guards
        if not isinstance(out, Value):
            raise TypeError(
                f"compile: {self.__name__} must return a Value, got {type(out).__name__}"
            )
        self._tape = _tape(out, args, guards)
        self.params = tuple(self._tape.params)
        n_ops = len(self._tape.ops)
        self._title = f"{self.__name__} ({n_ops} operations, {len(self.params)} parameters)"

    @property
    def _traced(self) -> straight.Tape:
        if self._tape is None:
            raise RuntimeError(
                f"{self.__name__} has not been traced yet: call it once, or pass example "
                "arguments to compile()"
            )
        return self._tape

    def _generated(self, mode: str) -> dict[str, Any]:
        ns = self._code.get(mode)
        if ns is None:
            source = straight.functions_source(self._traced, self._structure, self._title, mode)  # type: ignore[arg-type]
            filename = f"<compiled {self.__name__} {id(self):x} {mode}>"
            ns = modules.load(source, filename, _namespace())
            ns["__source__"] = source
            self._code[mode] = ns
        return ns

    @property
    def source(self) -> str:
        """The generated Python (fast version) for reading."""
        return str(self._generated("fast")["__source__"])

    @property
    def safe_source(self) -> str:
        """The IEEE version: used for a call whose fast version raised."""
        return str(self._generated("safe")["__source__"])

    # calling -----------------------------------------------------------------------------

    def _leaves(self, args: tuple[Any, ...]) -> list[float]:
        if self._tape is None:
            self._trace(args)
        leaves: list[float] = []
        structure = _flatten(list(args), leaves, "argument")
        if structure != self._structure:
            raise ValueError(
                f"{self.__name__}: arguments shaped {_shape(structure)} do not match the "
                f"traced example {_shape(self._structure)}"
            )
        return leaves

    def _run(self, name: str, *call: Any) -> Any:
        try:
            return self._generated("fast")[name + "_fast"](*call)
        except _ERRORS:
            return self._generated("safe")[name + "_safe"](*call)

    def __call__(self, *args: Any) -> float:
        """The value of the function at `args` (a float)."""
        leaves = self._leaves(args)
        p = [q.data for q in self.params]
        try:
            return float(self._run("value", p, leaves))
        except _BranchChangedError:
            self.fallbacks += 1
            return self._eager(leaves)[0]

    def value_and_grad(self, *args: Any) -> tuple[float, list[float], list[float]]:
        """`(value, parameter gradients, input gradients)` at `args`; writes no `.grad`.

        The input gradients follow the flattened order of the arguments.
        """
        leaves = self._leaves(args)
        p = [q.data for q in self.params]
        try:
            value, dp, da = self._run("value_and_grad", p, leaves)
        except _BranchChangedError:
            self.fallbacks += 1
            return self._eager(leaves)
        return float(value), dp, da

    def backward(self, *args: Any) -> float:
        """Add the gradient at `args` to each parameter's `.grad` and return the value."""
        value, dp, _ = self.value_and_grad(*args)
        _add_to_grads(self.params, dp)
        return value

    def backward_batch(self, *columns: Sequence[Any], reduction: str = "mean") -> float:
        """The mean (or sum) of the function over a batch; adds its gradient to `.grad`.

        `columns` hold one sequence per argument, each as long as the batch:
        `f.backward_batch(xs, ys)` evaluates `f(xs[i], ys[i])` for every `i` in one
        generated loop. This is the compiled form of `sum(losses) / n; loss.backward()`.
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if not columns and self._tape is None:
            self._trace(())
        lengths = {len(c) for c in columns}
        if not columns:
            raise ValueError(f"{self.__name__}: backward_batch() needs one column per argument")
        if len(lengths) > 1:
            raise ValueError(f"{self.__name__}: batch columns differ in length: {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            raise ValueError(f"{self.__name__}: the batch is empty")
        self._leaves(tuple(c[0] for c in columns))  # checks the shape (and traces if need be)
        weight = 1.0 / n if reduction == "mean" else 1.0
        p = [q.data for q in self.params]
        try:
            total, dp, failed = self._run("backward_batch", p, columns, weight)
        except TypeError as e:
            raise TypeError(
                f"{self.__name__}: backward_batch() expects numbers in the columns ({e})"
            ) from None
        if total.__class__ is not float:
            raise TypeError(f"{self.__name__}: backward_batch() expects numbers, not Values")
        for i in failed:
            self.fallbacks += 1
            value, gp, _ = self._eager(self._leaves(tuple(c[i] for c in columns)))
            total += value
            for k, d in enumerate(gp):
                dp[k] += weight * d
        _add_to_grads(self.params, dp)
        return float(total * weight) if reduction == "mean" else float(total)

    def _eager(self, leaves: list[float]) -> tuple[float, list[float], list[float]]:
        """One example by the eager engine (when it branches differently from the trace)."""
        args = [Value(x) for x in leaves]
        out = self.fn(*_unflatten(self._structure, args))
        if not isinstance(out, Value) or not out.requires_grad:
            return float(out), [0.0] * len(self.params), [0.0] * len(args)
        gs = grad(out, [*self.params, *args], allow_unused=True)
        d = [g.data for g in gs]
        return out.data, d[: len(self.params)], d[len(self.params) :]

    def __repr__(self) -> str:
        if self._tape is None:
            return f"<compiled {self.__name__} (not traced yet)>"
        return f"<compiled {self._title}>"


def _takes_no_arguments(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in sig.parameters.values()
    )


def _shape(structure: Any) -> str:
    if structure is None:
        return "x"
    return "(" + ", ".join(_shape(s) for s in structure) + ")"
