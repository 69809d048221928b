"""The ``Value`` node, grad modes and the backward pass.

A ``Value`` holds one float (``data``), its gradient (``grad``) and, when it was made by
an op, the op's code and its one or two inputs. Nothing else: no closure per node, no
reference back from an input to its output, so a graph has no reference cycles and is
freed by reference counting the moment its output is dropped.

The operators and methods (``+``, ``*``, ``exp()``, ...) are generated from the table in
:mod:`microgradx.ops` by :mod:`microgradx._generate`; ``print(microgradx.engine.source())``
shows the code that runs.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import numbers
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import ops

F = TypeVar("F", bound=Callable[..., Any])
_Mode = TypeVar("_Mode", bound="_GradMode")

LEAF = 0  # op code of a node no op made
NO_GRAD = sys.maxsize  # `_mark` of a node that needs no gradient: never visited


class Value:
    """A scalar in a computation graph: ``data``, ``grad`` and an optional ``label``.

    Arithmetic with other Values or plain numbers records the graph; ``backward()``
    fills ``grad`` on every node that the output depends on.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)
    """

    __slots__ = ("_a", "_adj", "_b", "_code", "_mark", "data", "grad", "label")

    data: float
    #: the gradient: a float, or a Value after ``backward(create_graph=True)``
    grad: Any
    label: str
    _code: int
    _a: Value | None
    _b: Value | None
    _mark: int
    _adj: Any

    def __init__(self, data: float, label: str = "") -> None:
        if data.__class__ is not float:
            data = to_float(data, "Value()")
        if label.__class__ is not str:
            raise TypeError(f"Value(): label must be a str, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self._code = LEAF
        self._a = None
        self._b = None
        self._mark = 0
        self._adj = 0.0

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"

    def __float__(self) -> float:
        return self.data

    # comparisons look at .data; `==` stays identity so Values can be dict keys
    def __lt__(self, other: Value | float) -> bool:
        return self.data < _data_of(other, "<")

    def __le__(self, other: Value | float) -> bool:
        return self.data <= _data_of(other, "<=")

    def __gt__(self, other: Value | float) -> bool:
        return self.data > _data_of(other, ">")

    def __ge__(self, other: Value | float) -> bool:
        return self.data >= _data_of(other, ">=")

    __hash__ = object.__hash__

    @property
    def op(self) -> str:
        """Name of the primitive that made this node (``""`` for a leaf)."""
        return ops.REGISTRY[self._code - 1].name if self._code else ""

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The op's inputs, in order (empty for a leaf)."""
        return tuple(v for v in (self._a, self._b) if v is not None)

    @property
    def requires_grad(self) -> bool:
        """False for numbers lifted into the graph and for results made under ``no_grad``."""
        return self._mark != NO_GRAD

    @property
    def _prev(self) -> set[Value]:
        # micrograd's name for the set of inputs (its draw_dot reads it); as in micrograd, a
        # constant exponent is part of the op symbol ('**2'), not an input
        a, b = self._a, self._b
        if a is not None and b is not None and not b.requires_grad and self.op == "pow":
            return {a}
        return set(self.inputs)

    @property
    def _op(self) -> str:
        # micrograd's name for the op symbol, e.g. '+', '*', '**2', 'ReLU'
        if not self._code:
            return ""
        symbol = ops.REGISTRY[self._code - 1].symbol
        if symbol == "**" and self._b is not None and not self._b.requires_grad:
            return f"**{self._b.data:g}"
        return symbol

    def backward(self, gradient: Value | float | None = 1.0, create_graph: bool = False) -> None:
        """Backpropagate from this node: add d(self)/d(node) * gradient to every ``node.grad``.

        Each call computes fresh adjoints, so two calls give exactly twice the gradient.
        No built-in rule can fail, so a pass always completes; when a user op's rule calls
        a Python function (which may raise), the gradients are added only after the whole
        pass has succeeded. A ``.grad`` of ``None`` counts as no gradient yet (PyTorch).
        With ``create_graph=True`` the gradients are Values that can be differentiated
        again (note: this stores graph references in ``.grad``, as in PyTorch).
        """
        with _pass_lock:
            _backpropagate(self, gradient, create_graph, accumulate=True)

    if TYPE_CHECKING:  # generated from microgradx.ops; declared here for type checkers

        def __add__(self, other: Value | float) -> Value: ...
        def __radd__(self, other: Value | float) -> Value: ...
        def __sub__(self, other: Value | float) -> Value: ...
        def __rsub__(self, other: Value | float) -> Value: ...
        def __mul__(self, other: Value | float) -> Value: ...
        def __rmul__(self, other: Value | float) -> Value: ...
        def __truediv__(self, other: Value | float) -> Value: ...
        def __rtruediv__(self, other: Value | float) -> Value: ...
        def __pow__(self, other: Value | float) -> Value: ...
        def __rpow__(self, other: Value | float) -> Value: ...
        def __neg__(self) -> Value: ...
        def __abs__(self) -> Value: ...
        def relu(self) -> Value: ...
        def sign(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...
        def __getattr__(self, name: str) -> Callable[[], Value]: ...  # user-defined ops


def to_flag(x: object, name: str) -> bool:
    """``x`` if it is a bool, or ``TypeError`` naming what was received."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__}")
    return x


def to_float(x: object, where: str) -> float:
    """``x`` as a Python float, or ``TypeError`` naming what was received."""
    if isinstance(x, float):
        return float(x)
    if isinstance(x, numbers.Real):  # bool, int, Fraction, numpy integer and floating
        try:
            return float(x)
        except OverflowError:  # an int too large for a float
            return float("inf") if x > 0 else float("-inf")  # type: ignore[operator]
    raise TypeError(f"{where}: expected a real number (int, float or bool), got {type(x).__name__}")


def _data_of(other: object, op: str) -> float:
    if isinstance(other, Value):
        return other.data
    return to_float(other, f"Value {op}")


def lift(x: object, op: str) -> Value:
    """``x`` as a Value: Values pass through, numbers become constants (no gradient)."""
    if isinstance(x, Value):
        return x
    v = Value(to_float(x, f"Value {op}"))
    v._mark = NO_GRAD
    return v


# -- grad modes ---------------------------------------------------------------------------

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)
# the tokens of the grad-mode blocks open in this context, innermost last
_tokens: contextvars.ContextVar[tuple[contextvars.Token[bool], ...]] = contextvars.ContextVar(
    "grad_mode_tokens", default=()
)


class _SwitchState:
    # whether no_grad() was ever entered in this process; until it is, ops skip the context
    # lookup. It stays set: a task or a copied context made inside no_grad() keeps grad off
    # after the block has closed. An instance, not a class: CPython 3.11 caches attribute
    # reads on instances, and every op reads `disabled`
    def __init__(self) -> None:
        self.disabled = False


_Switch = _SwitchState()


class _GradMode:
    """Base of :class:`no_grad` and :class:`enable_grad`."""

    enabled = True

    def __enter__(self) -> None:
        # the tokens live in the context, not on the instance, so that one instance can be
        # entered by several threads or tasks at once
        _tokens.set((*_tokens.get(), _enabled.set(self.enabled)))
        if not self.enabled:
            _Switch.disabled = True

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        *outer, token = _tokens.get()
        _tokens.set(tuple(outer))
        _enabled.reset(token)

    @overload
    def __new__(cls: type[_Mode], fn: None = None) -> _Mode: ...
    @overload
    def __new__(cls, fn: F) -> F: ...  # type: ignore[misc]  # a decorated function

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        # `@no_grad` without parentheses decorates `fn` at once, as in PyTorch
        mode = super().__new__(cls)
        return mode if fn is None else mode(fn)

    def __call__(self, fn: F) -> F:
        """Use as a decorator: the function runs inside this mode.

        A generator function runs in the mode each time it is resumed (not while its
        caller works between items); a coroutine function, for as long as it runs.
        """
        mode = type(self)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
                with mode():
                    return await fn(*args, **kwargs)

            return run_coroutine  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def run_generator(*args: Any, **kwargs: Any) -> Any:
                with mode():
                    gen = fn(*args, **kwargs)
                    try:
                        item = next(gen)
                    except StopIteration as stop:
                        return stop.value
                while True:
                    resume: Callable[[Any], Any]
                    try:
                        sent = yield item
                    except GeneratorExit:
                        with mode():
                            gen.close()
                        raise
                    except BaseException as error:  # thrown in by the caller: pass it on
                        resume, sent = gen.throw, error
                    else:
                        resume = gen.send
                    with mode():
                        try:
                            item = resume(sent)
                        except StopIteration as stop:
                            return stop.value

            return run_generator  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) in which ops record no graph; per thread and task."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) that turns recording back on inside ``no_grad``."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph in the current thread / task."""
    return _enabled.get()


# -- the backward pass --------------------------------------------------------------------

_passes = itertools.count(1)
# a pass keeps its marks and adjoints on the nodes, so passes over shared nodes (a model's
# parameters used from several threads) take turns
_pass_lock = threading.RLock()


def _reverse_topological(root: Value) -> tuple[list[Value], int]:
    """Every node ``root`` depends on, each after all nodes that use it (iterative DFS).

    Marks each node reached with this pass's number and zeroes its adjoint. Returns the
    order and the mark (a node was reached iff ``node._mark >= mark``).
    """
    enter = 2 * next(_passes)  # marks only grow: older marks read as "not reached"
    done = enter + 1
    order: list[Value] = []
    stack = [root]
    while stack:
        v = stack[-1]
        m = v._mark
        if m == enter:  # all its inputs are placed: place it
            stack.pop()
            v._mark = done
            order.append(v)
        elif m == done:  # pushed twice before it was reached
            stack.pop()
        else:
            v._mark = enter
            v._adj = 0.0
            a = v._a
            if a is not None:
                if a._mark < enter:  # NO_GRAD is never < enter
                    stack.append(a)
                b = v._b
                if b is not None and b._mark < enter:
                    stack.append(b)
    order.reverse()
    return order, enter


def topological(roots: Iterable[Value], stop: Collection[Value] = ()) -> list[Value]:
    """Every node the roots depend on, each after all of its inputs (first inputs first).

    An iterative walk that leaves the nodes untouched (the backward pass marks them), so
    tools (diagrams, ``compile``, forward mode) can call it at any time. Nodes in ``stop``
    are listed but their inputs are not followed. Constants are included.
    """
    stopped = {id(v) for v in stop}
    placed: set[int] = set()
    entered: set[int] = set()
    order: list[Value] = []
    stack = list(roots)[::-1]
    while stack:
        v = stack[-1]
        key = id(v)
        if key in placed:  # pushed by more than one user
            stack.pop()
        elif key in entered or key in stopped:  # its inputs are placed: place it
            stack.pop()
            placed.add(key)
            order.append(v)
        else:
            entered.add(key)
            for u in (v._b, v._a):  # pushed last, visited first
                if u is not None and id(u) not in entered:
                    stack.append(u)
    return order


def _check_gradient(gradient: object, create_graph: bool) -> Any:
    if gradient is None:  # PyTorch: implicit 1 for a scalar output
        return 1.0
    if isinstance(gradient, Value):
        return gradient if create_graph else gradient.data
    return to_float(gradient, "backward(gradient=...)")


def _backpropagate(
    root: Value, gradient: object, create_graph: bool, accumulate: bool
) -> tuple[list[Value], int, dict[Value, Any] | None]:
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value to backpropagate from, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError(
            "this Value has no graph (it was made under no_grad() or from plain numbers)"
        )
    seed = _check_gradient(gradient, create_graph)
    order, mark = _reverse_topological(root)
    if create_graph:
        with enable_grad():
            adjoints = _backward_values(order, seed)
        # the adjoints stay out of `_adj`: a node's derivative graph often contains the node
        # itself, and keeping it there would make a reference cycle
        if accumulate:
            for v in order:
                g = adjoints.get(v)
                if g is not None:
                    v.grad = g if v.grad is None else v.grad + g
        return order, mark, adjoints
    root._adj = seed
    _generated.backward_kernel(order, accumulate)
    if accumulate and not _generated.kernel_accumulates:
        # a rule may raise (it calls a Python function): add only now that the pass succeeded
        for v in order:
            g = v._adj
            v._adj = 0.0  # spent: drop the float
            v.grad = g if v.grad is None else v.grad + g  # None: no gradient yet (PyTorch)
    return order, mark, None


def _backward_values(order: list[Value], seed: Value | float) -> dict[Value, Any]:
    """The backward pass on Values: it builds the graph of the derivative itself."""
    rules = _generated.value_rules
    adjoints: dict[Value, Any] = {order[0]: seed}
    for v in order:
        g = adjoints.get(v)
        if g is None or v._code == LEAF:
            continue
        a, b = v._a, v._b
        assert a is not None
        rule = rules[v._code - 1]
        for i, arg in enumerate((a, b) if b is not None else (a,)):
            if arg._mark == NO_GRAD:
                continue
            contribution = rule[i](g, a, b, v)
            previous = adjoints.get(arg)
            adjoints[arg] = contribution if previous is None else previous + contribution
    return adjoints


def grad(
    output: Value,
    inputs: Value | Sequence[Value],
    create_graph: bool = False,
    allow_unused: bool = False,
) -> list[Value]:
    """The gradients of ``output`` with respect to ``inputs``, without touching ``.grad``.

    With ``create_graph=True`` the gradients are connected to the graph and can be
    differentiated again. An input that ``output`` does not depend on raises
    ``ValueError`` unless ``allow_unused=True``, in which case its gradient is ``Value(0.0)``.
    """
    xs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(xs):
        if not isinstance(x, Value):
            raise TypeError(f"grad(): inputs[{i}] must be a Value, got {type(x).__name__}")
    if not isinstance(output, Value):
        raise TypeError(f"grad(): output must be a Value, got {type(output).__name__}")
    if not output.requires_grad:
        raise RuntimeError("grad(): output has no graph (made under no_grad() or from numbers)")
    with _pass_lock:
        _, mark, adjoints = _backpropagate(output, 1.0, create_graph, accumulate=False)
        found = [
            None
            if x._mark < mark or x._mark == NO_GRAD
            else (x._adj if adjoints is None else adjoints.get(x, 0.0))
            for x in xs
        ]
    result: list[Value] = []
    for i, (x, g) in enumerate(zip(xs, found, strict=True)):
        if g is None:
            if not allow_unused:
                raise ValueError(
                    f"grad(): inputs[{i}] ({x!r}) does not affect the output; "
                    "pass allow_unused=True to get a zero gradient for it"
                )
            result.append(Value(0.0))
        else:
            result.append(g if isinstance(g, Value) else Value(g))
    return result


def source() -> str:
    """The generated Python source of the Value operators and the backward pass."""
    return _generated.source


from . import _generate  # noqa: E402 - needs Value above

_generated = _generate.Generated(Value)


def _warm_up() -> None:
    # CPython 3.11 specialises a function's bytecode only after it has been called a few
    # times, and one backward() is a single long call of these two functions: without
    # this, a program's first backward passes run several times slower
    x = Value(0.5)
    y = (x * x + x).relu()
    for _ in range(10):
        _reverse_topological(y)
        y.backward()


_warm_up()
ops.LISTENERS += [_generated.rebuild, _warm_up]
