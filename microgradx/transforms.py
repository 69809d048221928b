"""Function transforms in reverse mode: derivatives of any order, gradients and Hessians.

These take plain Python functions of Values and return derivatives of them. One rule
holds throughout: **numbers in, numbers out; Values in, Values out.** Called with plain
numbers, a transform returns floats and keeps no graph. Called with Values, it returns
Values that stay connected to the graph (`create_graph=True` inside), so the transforms
compose: `derivative(derivative(f))` works, and so does `grad` of a `jvp`
(`microgradx.forward`). They record
the graph they need even inside `no_grad()`. Each argument is its own input, even when
the same Value is passed twice (as in PyTorch's `torch.autograd.functional`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from . import exact
from .checks import to_float
from .engine import Value, constant, grad, zero_like
from .grad_mode import enable_grad

__all__ = ["derivative", "hessian", "value_and_grad"]

Scalar = Value | float
Fn = Callable[..., Any]
P = ParamSpec("P")
R = TypeVar("R")


# -- what every transform does with its arguments -----------------------------------------


def recording(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, run with the graph recorded even when called inside `no_grad()`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with enable_grad():
            return fn(*args, **kwargs)

    return wrapper


def check_function(f: object, who: str) -> None:
    """`TypeError` unless `f` is callable."""
    if not callable(f):
        raise TypeError(f"{who}: expected a function of Values, got {type(f).__name__}")


def as_list(xs: object, who: str, what: str) -> tuple[list[Any], bool]:
    """`xs` as a list and whether it was a single scalar (then results are scalars too)."""
    if isinstance(xs, (Value, int, float, str, bytes)) or not isinstance(xs, Sequence):
        items, single = [xs], True
    else:
        items, single = list(xs), False
    for i, x in enumerate(items):
        if not isinstance(x, Value):
            to_float(x, f"{who}: {what}[{i}]" if not single else f"{who}: {what}")
    return items, single


def inputs_of(items: list[Any]) -> tuple[list[Value], bool]:
    """One input node per argument, and whether any argument was a Value.

    A number becomes a fresh leaf (a Fraction or an mpmath number stays one); a Value
    becomes `v * 1`, a node of its own that is still connected to `v` (exactly `v`'s
    value, signed zeros included), so that the same Value passed twice counts as two
    inputs.
    """
    values = [x * 1 if isinstance(x, Value) else Value(_number(x)) for x in items]
    return values, any(isinstance(x, Value) for x in items)


def _number(x: object) -> Any:
    return x if exact.kind_of(x) else to_float(x, "input")


def output_of(y: object, who: str) -> Value:
    """The function's result as a Value (a number becomes a constant)."""
    if isinstance(y, Value):
        return y
    return constant(y, f"{who}: the function's result")


def grads(y: Value, xs: list[Value], create_graph: bool) -> list[Value]:
    """`grad` with zeros for unused inputs, also when `y` has no graph at all."""
    if not y.requires_grad:
        return [constant(zero_like(x).data) for x in xs]
    return grad(y, xs, create_graph=create_graph, allow_unused=True)


def plain(v: Value, keep: bool) -> Any:
    """`v` itself (Values in) or its number (numbers in)."""
    return v if keep else v.data


# -- the transforms -----------------------------------------------------------------------


def derivative(f: Fn, n: int = 1) -> Callable[[Scalar], Any]:
    """The function computing the `n`-th derivative of a one-argument `f`.

    `f` maps a Value to a Value (or a number). The result takes a number and returns
    a float, or takes a Value and returns a Value connected to the graph.

    Examples:
        >>> d2 = derivative(lambda x: x**3 - 5 * x**2 + 7 * x - 1, 2)
        >>> d2(1.0)
        -4.0
    """
    check_function(f, "derivative()")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"derivative(): n must be an int >= 0, got {n!r}")

    @recording
    def nth(x: Scalar) -> Any:
        items, single = as_list(x, "derivative()", "x")
        if not single:
            raise TypeError(f"derivative(): expected a number or a Value, got {type(x).__name__}")
        (xv,), keep = inputs_of(items)
        y = output_of(f(xv), "derivative()")
        for k in range(n):
            (y,) = grads(y, [xv], create_graph=keep or k < n - 1)
        return plain(y, keep)

    nth.__name__ = f"d{n}_{getattr(f, '__name__', 'f')}"
    nth.__doc__ = f"Derivative of order {n} of {getattr(f, '__name__', 'f')}."
    return nth


def value_and_grad(f: Fn, argnums: int | Sequence[int] | None = None) -> Callable[..., Any]:
    """A function returning `(f(*args), gradient)` from one forward and one backward pass.

    `argnums` picks the arguments to differentiate: `None` (all: a list of
    gradients), an int (that one: a single gradient) or a sequence of ints (a list).
    An argument `f` does not use gets gradient 0.

    Examples:
        >>> value_and_grad(lambda x, y: x * y)(3.0, 4.0)
        (12.0, [4.0, 3.0])
    """
    check_function(f, "value_and_grad()")
    if argnums is not None and not isinstance(argnums, int):
        argnums = tuple(argnums)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in argnums):
            raise TypeError(f"value_and_grad(): argnums must be ints, got {argnums!r}")
    elif isinstance(argnums, bool):
        raise TypeError("value_and_grad(): argnums must be an int or a sequence of ints")

    @recording
    def wrapped(*args: Any) -> tuple[Any, Any]:
        items, _ = as_list(list(args), "value_and_grad()", "args")
        if argnums is None:
            picks = list(range(len(items)))
        else:
            picks = [argnums] if isinstance(argnums, int) else list(argnums)
        for i in picks:
            if not -len(items) <= i < len(items):
                raise ValueError(
                    f"value_and_grad(): argnums {i} out of range for {len(items)} argument(s)"
                )
        values, keep = inputs_of(items)
        y = output_of(f(*values), "value_and_grad()")
        gs = [plain(g, keep) for g in grads(y, [values[i] for i in picks], keep)]
        return plain(y, keep), gs[0] if isinstance(argnums, int) else gs

    return wrapped


@recording
def hessian(f: Fn, xs: Any) -> Any:
    """The matrix of second derivatives of `f(*xs)` (a list of rows).

    `xs` is a sequence of numbers or Values (`f` gets them as positional arguments);
    for a single scalar `x` the result is the scalar `f''(x)`.

    Examples:
        >>> hessian(lambda x, y: x * x * y, [3.0, 2.0])
        [[4.0, 6.0], [6.0, 0.0]]
    """
    check_function(f, "hessian()")
    items, single = as_list(xs, "hessian()", "xs")
    values, keep = inputs_of(items)
    y = output_of(f(*values), "hessian()")
    rows = [
        [plain(h, keep) for h in grads(g, values, keep)]
        for g in grads(y, values, create_graph=True)
    ]
    return rows[0][0] if single else rows
