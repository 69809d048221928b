"""Function transforms: derivatives of any order, Hessians and forward mode.

These helpers take plain Python functions of Values and return derivatives of them.
One rule holds throughout: **numbers in, numbers out; Values in, Values out.** Called
with plain numbers, a helper returns floats and keeps no graph. Called with Values, it
returns Values that stay connected to the graph (``create_graph=True`` inside), so the
transforms compose: ``derivative(derivative(f))`` works, and so does ``grad`` of a
``jvp``. The transforms record the graph they need even inside ``no_grad()``.

Everything here reads the one table of primitives in :mod:`microgradx.ops`. Reverse mode
is the engine's ``grad``. Forward mode (:func:`jvp`) uses the same rules: a rule is a
vector-Jacobian product, linear in ``g``, so evaluating it with ``g`` set to an input's
tangent gives that input's share of the output's tangent (for a scalar op the VJP and
the JVP are the same number). The float kernel of :func:`jvp` is generated from those
rules, as the backward kernel is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from . import _generate, ops
from .engine import (
    NO_GRAD,
    Value,
    _generated,
    _pass_lock,
    enable_grad,
    grad,
    to_float,
    topological,
)

__all__ = ["NewtonResult", "derivative", "hessian", "hvp", "jvp", "newton", "value_and_grad"]

Scalar = Value | float
Fn = Callable[..., Any]
P = ParamSpec("P")
R = TypeVar("R")


# -- helpers ------------------------------------------------------------------------------


def _recording(fn: Callable[P, R]) -> Callable[P, R]:
    # a transform needs its graph even when called inside no_grad()
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with enable_grad():
            return fn(*args, **kwargs)

    return wrapper


def _check_function(f: object, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who}: expected a function of Values, got {type(f).__name__}")


def _as_list(xs: object, who: str, what: str) -> tuple[list[Any], bool]:
    """``xs`` as a list and whether it was a single scalar (then results are scalars too)."""
    if isinstance(xs, (Value, int, float, str, bytes)) or not isinstance(xs, Sequence):
        items, single = [xs], True
    else:
        items, single = list(xs), False
    for i, x in enumerate(items):
        if not isinstance(x, Value):
            to_float(x, f"{who}: {what}[{i}]" if not single else f"{who}: {what}")
    return items, single


def _leaves(items: list[Any]) -> tuple[list[Value], bool]:
    """Values for the inputs (numbers become fresh leaves) and whether any was a Value."""
    values = [x if isinstance(x, Value) else Value(to_float(x, "input")) for x in items]
    return values, any(isinstance(x, Value) for x in items)


def _output(y: object, who: str) -> Value:
    if isinstance(y, Value):
        return y
    return _constant(to_float(y, f"{who}: the function's result"))


def _constant(x: float) -> Value:
    # a Value no gradient flows into, like a number lifted into the graph
    v = Value(x)
    v._mark = NO_GRAD
    return v


def _grads(y: Value, xs: list[Value], create_graph: bool) -> list[Value]:
    """``grad`` with zeros for unused inputs, also when ``y`` has no graph at all."""
    if not y.requires_grad:
        return [_constant(0.0) for _ in xs]
    return grad(y, xs, create_graph=create_graph, allow_unused=True)


def _plain(v: Value, keep: bool) -> Any:
    return v if keep else v.data


# -- reverse-mode transforms --------------------------------------------------------------


def derivative(f: Fn, n: int = 1) -> Callable[[Scalar], Any]:
    """The function computing the ``n``-th derivative of a one-argument ``f``.

    ``f`` maps a Value to a Value (or a number). The result takes a number and returns
    a float, or takes a Value and returns a Value connected to the graph.

    >>> d2 = derivative(lambda x: x**3 - 5 * x**2 + 7 * x - 1, 2)
    >>> d2(1.0)
    -4.0
    """
    _check_function(f, "derivative()")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"derivative(): n must be an int >= 0, got {n!r}")

    @_recording
    def nth(x: Scalar) -> Any:
        items, single = _as_list(x, "derivative()", "x")
        if not single:
            raise TypeError(f"derivative(): expected a number or a Value, got {type(x).__name__}")
        (xv,), keep = _leaves(items)
        y = _output(f(xv), "derivative()")
        for k in range(n):
            (y,) = _grads(y, [xv], create_graph=keep or k < n - 1)
        return _plain(y, keep)

    nth.__name__ = f"d{n}_{getattr(f, '__name__', 'f')}"
    nth.__doc__ = f"Derivative of order {n} of {getattr(f, '__name__', 'f')}."
    return nth


def value_and_grad(f: Fn, argnums: int | Sequence[int] | None = None) -> Callable[..., Any]:
    """A function returning ``(f(*args), gradient)`` from one forward and one backward pass.

    ``argnums`` picks the arguments to differentiate: ``None`` (all: a list of
    gradients), an int (that one: a single gradient) or a sequence of ints (a list).
    An argument ``f`` does not use gets gradient 0.

    >>> value_and_grad(lambda x, y: x * y)(3.0, 4.0)
    (12.0, [4.0, 3.0])
    """
    _check_function(f, "value_and_grad()")
    if argnums is not None and not isinstance(argnums, int):
        argnums = tuple(argnums)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in argnums):
            raise TypeError(f"value_and_grad(): argnums must be ints, got {argnums!r}")
    elif isinstance(argnums, bool):
        raise TypeError("value_and_grad(): argnums must be an int or a sequence of ints")

    @_recording
    def wrapped(*args: Any) -> tuple[Any, Any]:
        items, _ = _as_list(list(args), "value_and_grad()", "args")
        if argnums is None:
            picks = list(range(len(items)))
        else:
            picks = [argnums] if isinstance(argnums, int) else list(argnums)
        for i in picks:
            if not -len(items) <= i < len(items):
                raise ValueError(
                    f"value_and_grad(): argnums {i} out of range for {len(items)} argument(s)"
                )
        values, keep = _leaves(items)
        y = _output(f(*values), "value_and_grad()")
        gs = [_plain(g, keep) for g in _grads(y, [values[i] for i in picks], keep)]
        return _plain(y, keep), gs[0] if isinstance(argnums, int) else gs

    return wrapped


@_recording
def hessian(f: Fn, xs: Any) -> Any:
    """The matrix of second derivatives of ``f(*xs)`` (a list of rows).

    ``xs`` is a sequence of numbers or Values (``f`` gets them as positional arguments);
    for a single scalar ``x`` the result is the scalar ``f''(x)``.

    >>> hessian(lambda x, y: x * x * y, [3.0, 2.0])
    [[4.0, 6.0], [6.0, 0.0]]
    """
    _check_function(f, "hessian()")
    items, single = _as_list(xs, "hessian()", "xs")
    values, keep = _leaves(items)
    y = _output(f(*values), "hessian()")
    rows = [
        [_plain(h, keep) for h in _grads(g, values, keep)]
        for g in _grads(y, values, create_graph=True)
    ]
    return rows[0][0] if single else rows


@_recording
def hvp(f: Fn, xs: Any, v: Any) -> Any:
    """The Hessian of ``f(*xs)`` times the vector ``v``, without forming the Hessian.

    Forward mode over reverse mode: the :func:`jvp` of the gradient function in the
    direction ``v``, one backward pass and one forward sweep.

    >>> hvp(lambda x, y: x * x * y, [3.0, 2.0], [1.0, 0.0])
    [4.0, 6.0]
    """
    _check_function(f, "hvp()")
    items, single = _as_list(xs, "hvp()", "xs")
    direction, single_v = _as_list(v, "hvp()", "v")
    if len(direction) != len(items) or single != single_v:
        raise ValueError(f"hvp(): v must match xs: {len(items)} entries, got {len(direction)}")

    def gradient(*args: Value) -> list[Value]:
        return _grads(_output(f(*args), "hvp()"), list(args), create_graph=True)

    _, tangents = jvp(gradient, items, direction)
    return tangents[0] if single else tangents


# -- forward mode -------------------------------------------------------------------------


class _TangentKernel:
    """The float forward-mode kernel, generated from the rules of ``ops.REGISTRY``."""

    key: tuple[ops.Primitive, ...] = ()
    kernel: Callable[[list[Value]], None] | None = None
    source = ""

    @classmethod
    def get(cls) -> Callable[[list[Value]], None]:
        if cls.kernel is None or cls.key != tuple(ops.REGISTRY):
            cls.source = _tangent_source(ops.REGISTRY)
            ns = _generated.namespace()
            exec(compile(cls.source, "<microgradx generated jvp>", "exec"), ns)
            cls.kernel, cls.key = ns["tangent_kernel"], tuple(ops.REGISTRY)
        return cls.kernel


def _tangent_source(prims: list[ops.Primitive]) -> str:
    """``tangent_kernel(order)``: each node's tangent from its inputs' (kept in ``_adj``).

    A tangent of ``None`` is a structural zero (the node does not depend on the primals):
    its rule is not evaluated, as a constant input is skipped by the backward pass.
    """
    lines = [
        "def tangent_kernel(order):",
        "    for v in order:",
        "        code = v._code",
        "        t = None",
    ]
    for k, p in enumerate(prims):
        inputs = ["v._a", "v._b"][: p.arity]
        lines += _generate.branch_head(k, p, inputs)
        for arg, tree in zip(inputs, p.vjp_trees, strict=True):
            fast, safe = _generate.rule_code(tree)
            lines += [
                f"            if {arg}._mark != _NO_GRAD and {arg}._adj is not None:",
                f"                g = {arg}._adj",
            ]
            if safe is not None:
                lines += _generate._guarded("c", fast, safe, " " * 16)
            else:
                lines.append(f"                c = {fast}")
            lines.append("                t = c if t is None else t + c")
    lines.append("        v._adj = t")
    return "\n".join(lines) + "\n"


def _forward_order(outputs: list[Value], stop: set[Value]) -> list[Value]:
    """The non-leaf nodes the outputs depend on, each after its inputs; ``stop`` nodes
    (the primals) count as leaves."""
    roots = [y for y in outputs if y._mark != NO_GRAD]
    return [v for v in topological(roots, stop) if v._code != 0 and v not in stop]


def _tangents_float(
    outputs: list[Value], primals: list[Value], tangents: list[float]
) -> list[float]:
    # `_adj` is the engine's scratch slot, here holding tangents (None: structurally zero):
    # take turns with backward passes over shared nodes
    with _pass_lock:
        return _tangents_locked(outputs, primals, tangents)


def _tangents_locked(
    outputs: list[Value], primals: list[Value], tangents: list[float]
) -> list[float]:
    order = _forward_order(outputs, set(primals))
    touched = {a for v in order for a in (v._a, v._b) if a is not None and a._mark != NO_GRAD}
    touched.update(order, primals, (y for y in outputs if y._mark != NO_GRAD))
    for v in touched:
        v._adj = None
    for x, t in zip(primals, tangents, strict=True):
        x._adj = t if x._adj is None else x._adj + t  # the same Value passed twice adds up
    try:
        _TangentKernel.get()(order)
        return [0.0 if y._mark == NO_GRAD or y._adj is None else float(y._adj) for y in outputs]
    finally:
        for v in touched:
            v._adj = 0.0


def _tangents_value(outputs: list[Value], primals: list[Value], tangents: list[Any]) -> list[Value]:
    rules = _generated.value_rules
    tangent: dict[Value, Any] = {}
    for x, t in zip(primals, tangents, strict=True):
        tangent[x] = t if x not in tangent else tangent[x] + t
    with enable_grad():
        for v in _forward_order(outputs, set(primals)):
            a, b = v._a, v._b
            t = None
            for i, arg in enumerate((a, b)):
                if arg is None or arg._mark == NO_GRAD or arg not in tangent:
                    continue
                c = rules[v._code - 1][i](tangent[arg], a, b, v)
                t = c if t is None else t + c
            if t is not None:
                tangent[v] = t
    result = []
    for y in outputs:
        t = tangent.get(y) if y._mark != NO_GRAD else None
        result.append(t if isinstance(t, Value) else _constant(0.0 if t is None else t))
    return result


@_recording
def jvp(f: Fn, primals: Any, tangents: Any) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)``, one directional derivative.

    The derivative is computed by one forward sweep over the graph ``f`` records,
    each node's tangent from its inputs' tangents by the same rules the backward pass
    uses. ``f`` returns a Value or a sequence of Values (the result then has the same
    shape). With numbers everywhere the tangents are floats computed by a generated float
    kernel; if any primal or tangent is a Value, they are Values connected to the graph
    (so ``grad`` of a ``jvp`` works, and tangents may themselves depend on Values).

    >>> jvp(lambda x, y: x * y, [3.0, 4.0], [1.0, 0.0])
    (12.0, 4.0)
    """
    _check_function(f, "jvp()")
    items, single = _as_list(primals, "jvp()", "primals")
    direction, single_t = _as_list(tangents, "jvp()", "tangents")
    if len(direction) != len(items) or single != single_t:
        raise ValueError(
            f"jvp(): tangents must match primals: {len(items)} entries, got {len(direction)}"
        )
    values, keep = _leaves(items)
    keep = keep or any(isinstance(t, Value) for t in direction)
    result = f(*values)
    many = not isinstance(result, (Value, int, float))
    outs = [_output(y, "jvp()") for y in (result if many else [result])]
    if keep:
        ts: list[Any] = _tangents_value(outs, values, direction)
    else:
        ts = _tangents_float(outs, values, [to_float(t, "jvp()") for t in direction])
    ys = [_plain(y, keep) for y in outs]
    return (ys, ts) if many else (ys[0], ts[0])


def jvp_source() -> str:
    """The generated source of the float forward-mode kernel (for reading)."""
    _TangentKernel.get()
    return _TangentKernel.source


# -- Newton's method ----------------------------------------------------------------------


@dataclass
class NewtonResult:
    """Where :func:`newton` stopped: the point, the value, slope and curvature there.

    ``x``, ``gradient`` and ``hessian`` are floats for a one-argument function and lists
    (a list of rows for the Hessian) for several arguments.
    """

    x: Any
    value: float
    gradient: Any
    hessian: Any
    iterations: int
    converged: bool

    @property
    def kind(self) -> str:
        """``"minimum"``, ``"maximum"``, ``"saddle"`` or ``"inconclusive"`` (by curvature)."""
        h = self.hessian if isinstance(self.hessian, list) else [[self.hessian]]
        if _cholesky_ok(h):
            return "minimum"
        if _cholesky_ok([[-e for e in row] for row in h]):
            return "maximum"
        if _solve(h, [0.0] * len(h)) is not None:
            return "saddle"
        return "inconclusive"


def _cholesky_ok(a: list[list[float]]) -> bool:
    """Whether ``a`` is positive definite (a Cholesky factor exists)."""
    n = len(a)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if not s > 0.0:
                    return False
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    return True


def _solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """``a x = b`` by Gaussian elimination with partial pivoting; ``None`` if singular."""
    n = len(a)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    scale = max((abs(e) for row in a for e in row), default=0.0)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if not abs(m[pivot][col]) > 1e-14 * scale:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            factor = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= factor * m[col][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


@_recording
def newton(f: Fn, x0: Any, tol: float = 1e-12, max_iter: int = 100) -> NewtonResult:
    """Find a stationary point of ``f`` (where f' = 0) by Newton's method on f'.

    Each step solves ``f''(x) dx = -f'(x)`` (the Hessian for several arguments) and
    moves to ``x + dx``; it stops when the step is below ``tol`` (relative to ``x``)
    or after ``max_iter`` steps. Which stationary point it finds depends on ``x0``;
    ``result.kind`` tells a minimum from a maximum by the sign of the curvature.

    >>> r = newton(lambda x: x**3 - 5 * x**2 + 7 * x - 1, 0.0)
    >>> round(r.x, 12), r.hessian, r.kind
    (1.0, -4.0, 'maximum')
    """
    _check_function(f, "newton()")
    items, single = _as_list(x0, "newton()", "x0")
    x = [to_float(v.data if isinstance(v, Value) else v, "newton()") for v in items]
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"newton(): tol must be a positive number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"newton(): max_iter must be an int >= 0, got {max_iter!r}")

    def local(point: list[float]) -> tuple[float, list[float], list[list[float]]]:
        values = [Value(p) for p in point]
        y = _output(f(*values), "newton()")
        gs = _grads(y, values, create_graph=True)
        rows = [[h.data for h in _grads(g, values, create_graph=False)] for g in gs]
        return y.data, [g.data for g in gs], rows

    value, g, h = local(x)
    converged, iterations = False, 0
    while iterations < max_iter:
        step = _solve(h, [-e for e in g])
        if step is None or not all(math.isfinite(s) for s in step):
            break
        x = [xi + si for xi, si in zip(x, step, strict=True)]
        iterations += 1
        value, g, h = local(x)
        if all(abs(s) <= tol * max(1.0, abs(xi)) for s, xi in zip(step, x, strict=True)):
            converged = True
            break
    if single:
        return NewtonResult(x[0], value, g[0], h[0][0], iterations, converged)
    return NewtonResult(x, value, g, h, iterations, converged)
