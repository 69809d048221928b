"""The `Value` node and the backward pass.

A `Value` holds one number (`data`), its gradient (`grad`) and, when an op made it, the
op's code and its one or two inputs. Nothing else: no closure per node and no reference
back from an input to its output, so a graph has no reference cycles and is freed by
reference counting the moment its output is dropped.

The operators (`+`, `*`, `exp()`, ...) are written from the table in `microgradx/ops.py`
into `microgradx/_builtins.py`, which `Value` inherits them from. `backward()` orders the
nodes (each after every node that uses it) and runs the generated backward pass;
`plain_backward()` below does the same node by node, in plain Python, for reading.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

from . import _builtins, exact
from ._builtins import Operators, backward_kernel
from .checks import to_flag, to_float
from .codegen.eager import INPUTS
from .codegen.runtime import CONSTANT, LEAF, SHARED
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .primitive import REGISTRY

__all__ = [
    "LEAF",
    "Value",
    "constant",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "lift",
    "no_grad",
    "plain_backward",
    "to_flag",
    "to_float",
    "topological",
]


class Value(Operators):
    """A scalar in a computation graph: `data`, `grad` and an optional `label`.

    Arithmetic with other Values or plain numbers records the graph; `backward()`
    fills `grad` on every node that the output depends on.

    Examples:
        >>> a, b = Value(2.0), Value(-3.0)
        >>> c = a * b + a
        >>> c.backward()
        >>> a.grad, b.grad
        (-2.0, 2.0)
    """

    # one meaning each (their types are declared with the generated operators)
    __slots__ = (  # noqa: RUF023 - in the order a reader needs them, not sorted
        "data",  # the number
        "grad",  # d(output)/d(this node), added to by every backward pass
        "label",  # a name for diagrams and traces ("" if none)
        "_code",  # what made the node: LEAF, CONSTANT (no gradient) or an op's form code
        "_a",  # the op's inputs (a number given to an op is a shared constant), or None
        "_b",
        "_mark",  # the backward pass that last reached the node (see _reverse_topological)
        "_adj",  # the node's adjoint in that pass
    )

    def __new__(cls, data: Any = 0.0, label: str = "") -> Value:
        # a Fraction or an mpmath number makes an ExactValue: exact or high-precision ops
        if cls is Value and data.__class__ is not float and exact.kind_of(data) is not None:
            return object.__new__(ExactValue)
        return object.__new__(cls)

    def __init__(self, data: float, label: str = "") -> None:
        if data.__class__ is not float and exact.kind_of(data) is None:
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

    def __bool__(self) -> bool:
        """The truth of `data`, as PyTorch's `bool(tensor)`: False only for 0.0 and -0.0."""
        return bool(self.data)

    def __copy__(self) -> Value:
        """A new node with the same data, grad, label and inputs (`copy.copy`)."""
        return _node(type(self), self.data, self.grad, self.label, self._code, self._a, self._b)

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        """A copy of the whole graph behind this node (`copy.deepcopy`), however deep.

        Nodes are copied inputs first, without recursion; a node reached twice is copied
        once, and so is anything `memo` already holds (a model's shared parameters)."""
        for v in topological([self]):
            if id(v) not in memo:
                a = None if v._a is None else memo[id(v._a)]
                b = None if v._b is None else memo[id(v._b)]
                g = v.grad if v.grad.__class__ is float else copy.deepcopy(v.grad, memo)
                memo[id(v)] = _node(type(v), v.data, g, v.label, v._code, a, b)
        copied: Value = memo[id(self)]
        return copied

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support, however deep the graph: the nodes above the leaves are written
        as a flat table (op by name), the leaves as themselves, so a model's parameters
        keep their identity. A node of the graph pickled on its own is a copy of it."""
        if self._code <= 0:
            return (_node, (type(self), self.data, self.grad, self.label, self._code, None, None))
        leaves: list[Value] = []
        rows: list[tuple[Any, ...]] = []
        ref: dict[int, int] = {}  # a leaf's -(index + 1), an op node's row index
        for v in topological([self]):
            if v._code <= 0:
                ref[id(v)] = -len(leaves) - 1
                leaves.append(v)
                continue
            entry = REGISTRY.entry(v._code)
            inputs = tuple(None if u is None else ref[id(u)] for u in (v._a, v._b))
            op = (entry.primitive.name, entry.form.numbers)
            rows.append((v.data, v.grad, v.label, op, *inputs))
            ref[id(v)] = len(rows) - 1
        return (_unpickle_graph, (type(self), leaves, rows))

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
        """Name of the primitive that made this node (`""` for a leaf or constant)."""
        return REGISTRY.entry(self._code).primitive.name if self._code > 0 else ""

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The op's inputs, in order (empty for a leaf); a number an op was given is a
        constant Value, shared by every op given that number."""
        return tuple(u for u in (self._a, self._b) if u is not None)

    @property
    def requires_grad(self) -> bool:
        """False for results made under `no_grad` and for the library's constants."""
        return self._code != CONSTANT

    @property
    def _prev(self) -> set[Value]:
        # micrograd's set of inputs (its draw_dot reads it); as in micrograd, a number
        # exponent is part of the op symbol ('**2'), not an input
        if self._code > 0:
            entry = REGISTRY.entry(self._code)
            if entry.primitive.name == "pow" and entry.form.numbers == ("y",):
                return {self._a}
        return set(self.inputs)

    @property
    def _op(self) -> str:
        # micrograd's op symbol, e.g. '+', '*', '**2', 'ReLU'
        if self._code <= 0:
            return ""
        entry = REGISTRY.entry(self._code)
        if entry.primitive.name == "pow" and entry.form.numbers == ("y",):
            return f"**{self._b.data:g}"
        return entry.primitive.symbol

    def backward(
        self,
        gradient: Value | float | None = 1.0,
        create_graph: bool = False,
        retain_graph: bool | None = None,
    ) -> None:
        """Backpropagate from this node: add d(self)/d(node) * gradient to every `node.grad`.

        Each call computes fresh adjoints, so two calls give exactly twice the gradient.
        If a rule raises (a user op's Python function), every `.grad` is left as it was.
        A `.grad` of `None` counts as no gradient yet (PyTorch). With `create_graph=True`
        the gradients are Values that can be differentiated again (this stores graph
        references in `.grad`, as in PyTorch). `retain_graph` is accepted for PyTorch
        code; graphs are always kept.
        """
        with _pass_lock:
            _backpropagate(self, gradient, create_graph, accumulate=True)

    def _backward(self) -> None:
        """One node's chain-rule step: add each input's share of `self.grad` to its `.grad`.

        micrograd's lecture calls it node by node, from the output back; `backward()`
        does all of them, in the right order, in one pass.
        """
        for node, part in chain_rule(self, self.grad):
            node.grad = part if node.grad is None else node.grad + part  # None: set_to_none


def _node(cls: type[Value], data: Any, grad: Any, label: str, code: int, a: Any, b: Any) -> Value:
    v = object.__new__(cls)
    v.data, v.grad, v.label, v._code, v._a, v._b = data, grad, label, code, a, b
    v._mark, v._adj = 0, 0.0
    return v


def _unpickle_graph(cls: type[Value], leaves: list[Value], rows: list[tuple[Any, ...]]) -> Value:
    nodes: list[Value] = []
    for data, g, label, (name, numbers), a, b in rows:
        prim = REGISTRY.by_name.get(name)
        if prim is None:
            raise ValueError(f"the graph uses the op {name!r}, which is not registered here")
        code = next(f.code for f in prim.forms if f.numbers == tuple(numbers))
        a, b = (None if r is None else leaves[-r - 1] if r < 0 else nodes[r] for r in (a, b))
        nodes.append(_node(cls, data, g, label, code, a, b))
    return nodes[-1]


def _data_of(other: object, op: str) -> float:
    if isinstance(other, Value):
        return other.data
    return to_float(other, f"Value {op}")


_builtins.bind(Value)


class ExactValue(Value):
    """A Value holding a `Fraction` (exact) or an mpmath number (high precision).

    `Value(Fraction(1, 3))` and `Value(mpmath.mpf("0.1"))` make one. Its ops and
    gradients compute in that kind of number, reading the same table of rules
    (`microgradx.exact`); an op on a Fraction and a float gives a float Value, as Python
    gives a float.
    """

    __slots__ = ()
    #: the class of the node a Fraction meeting a float makes
    float_class = Value

    def __init__(self, data: Any, label: str = "") -> None:
        super().__init__(data, label)
        self.grad = 0


def exact_method(name: str, reflected: bool) -> Any:
    """The Value method of the op `name` for ExactValues: through the primitive."""

    def method(self: Value, *other: Any) -> Any:
        args = (*other, self) if reflected else (self, *other)
        return REGISTRY.by_name[name](*args)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"The primitive {name!r} on exact or high-precision numbers."
    return method


for _prim in list(REGISTRY):
    for _i, _method in enumerate(_prim.methods):
        setattr(ExactValue, _method, exact_method(_prim.name, _i == 1))


def constant(x: object, where: str = "constant()") -> Value:
    """A Value no gradient flows into, like the result of an op under `no_grad()`."""
    v = Value(x if exact.kind_of(x) else to_float(x, where))  # type: ignore[arg-type]
    v._code = CONSTANT
    return v


def zero_like(x: Value) -> Value:
    """A new leaf holding zero in `x`'s kind of number: 0.0, or for an ExactValue an exact
    zero (`Fraction(0)`, mpmath's 0)."""
    return Value(x.data * 0 if type(x) is ExactValue else 0.0)


def is_shared_constant(v: Value) -> bool:
    """Whether `v` is the constant node the engine made for a number an op was given."""
    return SHARED.get(v.data) is v


def lift(x: object, where: str = "Value") -> Value:
    """`x` as a Value: Values pass through, numbers become constants (no gradient)."""
    return x if isinstance(x, Value) else constant(x, where)


# -- walking the graph --------------------------------------------------------------------


def topological(
    roots: Iterable[Value],
    stop: Collection[Value] = (),
    inputs: Callable[[Value], Sequence[Any]] | None = None,
) -> list[Value]:
    """Every node the roots depend on, each after all of its inputs (first inputs first).

    An iterative walk that leaves the nodes untouched, so tools (diagrams, `compile`,
    forward mode) can call it at any time. Nodes in `stop` are listed but their inputs
    are not followed. Constants are included. `inputs` (default: a node's inputs) says
    which nodes to follow from a node.
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
            following = (v._a, v._b) if inputs is None else inputs(v)
            for u in reversed(following):  # the first input pushed last, visited first
                if u is not None and id(u) not in entered:
                    stack.append(u)
    return order


_passes = itertools.count(1)
# a pass keeps its marks and adjoints on the nodes, so passes over shared nodes (a model's
# parameters used from several threads) take turns
_pass_lock = threading.RLock()


def _reverse_topological(root: Value) -> tuple[list[Value], int]:
    """The nodes that need a gradient, each after every node that uses it. An iterative
    depth-first walk that goes down a node's second input before its first.

    Each node it reaches gets `_mark` = this pass's `done` (`enter` while its inputs are
    walked; marks only grow, so older marks read as not reached; a plain number's is
    never less than `enter`) and an adjoint of -0.0 (IEEE's additive identity: -0.0 + x
    is x, zeros' signs included).
    Returns the order and `enter` (a node was reached iff `node._mark >= enter`).
    """
    enter = 2 * next(_passes)
    done = enter + 1
    order: list[Value] = []
    place = order.append
    stack = [root]
    push, pop = stack.append, stack.pop
    while stack:
        v = stack[-1]
        m = v._mark
        if m == enter:  # all its inputs are placed: place it
            pop()
            v._mark = done
            place(v)
        elif m == done:  # pushed twice before it was reached
            pop()
        else:
            v._adj = -0.0
            a = v._a
            b = v._b
            # an input is either placed (done) or not reached: in a graph without cycles
            # none can be half-way (entered), so a node whose inputs are placed is placed now
            if a is not None and a._mark < enter:
                v._mark = enter
                push(a)  # pushed first, so visited after b
                if b is not None and b._mark < enter:
                    push(b)
            elif b is not None and b._mark < enter:
                v._mark = enter
                push(b)
            else:
                pop()
                v._mark = done
                if v._code != CONSTANT:  # a constant needs no gradient: walked over
                    place(v)
    order.reverse()
    return order, enter


# -- the backward pass --------------------------------------------------------------------


def chain_rule(v: Value, g: Any) -> Iterator[tuple[Value, Any]]:
    """Each input of `v` that needs a gradient, with its share of `g` arriving at `v`.

    The op's rule for that input (from the table), evaluated on floats: for
    `v = x * y`, `x` gets `g * y` and `y` gets `g * x`.
    """
    if v._code <= 0:  # a leaf or a constant: nothing to pass on
        return
    for which in REGISTRY.entry(v._code).form.nodes:
        node = v._a if which == "x" else v._b
        if node.requires_grad:
            yield node, share(v, which, g)


def share(v: Value, which: str, g: Any, on_values: bool = False) -> Any:
    """What input `which` (`"x"` or `"y"`) of the node `v` receives when `g` arrives at `v`.

    The op's rule from the table: on numbers (generated float code; Fractions and mpmath
    numbers through `microgradx.exact`), or `on_values`, on Values, recording the graph
    of the derivative itself. On Values, a number the op was given reaches the rule as a
    number, as the first-order pass reads it (so `x ** 2` stays PyTorch's `x * x`).
    """
    entry = REGISTRY.entry(v._code)
    a, b = v._a, v._b
    if on_values:
        numbers = entry.form.numbers
        x = a.data if "x" in numbers else a
        y = b.data if "y" in numbers and b is not None else b
        if type(v) is ExactValue:
            return exact.rule_on_values(entry.primitive, which, g, (x, y, v), _op)
        return entry.primitive.value_rules[INPUTS.index(which)](g, x, y, v)
    x, y = a.data, b.data if b is not None else None
    if type(v) is ExactValue:  # the table's rule on Fractions or mpmath numbers
        return exact.rule_on_numbers(entry.primitive, which, g, (x, y, v.data), _op)
    return dict(entry.float_rules)[which](g, x, y, v.data)


def plain_backward(root: Value, gradient: float = 1.0) -> None:
    """The backward pass written plainly: what `root.backward()` does, node by node.

    Visit the nodes from the output back, each after every node that uses it (so its
    gradient is complete when it is reached); pass each input its share by the op's
    rule; then add each node's gradient to its `.grad`. `backward()` runs the same steps
    with every rule inlined (`microgradx._builtins.backward_kernel`) and gives the same
    numbers to the last bit.

    Examples:
        >>> x = Value(3.0)
        >>> plain_backward(x * x + x)
        >>> x.grad
        7.0
    """
    # every node after all nodes that use it (the walk goes down each node's second input
    # first, as backward() does: a node reached along two paths then sums its shares in
    # the same order, to the last bit)
    order = topological([root], inputs=lambda v: (v._b, v._a))[::-1]
    order = [v for v in order if v.requires_grad]
    adjoint: dict[Value, float] = {root: to_float(gradient, "plain_backward()")}
    for v in order:
        g = adjoint[v]
        for node, part in chain_rule(v, g):
            adjoint[node] = adjoint.get(node, -0.0) + part
    for v, g in adjoint.items():
        v.grad = g if v.grad is None else v.grad + g


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
    if type(root) is ExactValue and seed.__class__ is float and seed == 1.0:
        seed = exact.data_kind(root.data).one()  # Fraction(1), or mpmath's 1
    order, mark = _reverse_topological(root)
    if type(root) is ExactValue and not create_graph:
        # exact numbers: the plain pass (their arithmetic is slow anyway)
        adjoints = _exact_adjoints(order, seed)
        if accumulate:
            _accumulate(order, adjoints)
        return order, mark, adjoints
    if create_graph:
        with enable_grad():
            adjoints = _backward_values(order, seed)
        # the adjoints stay out of `_adj`: a node's derivative graph often contains the node
        # itself, and keeping it there would make a reference cycle
        if accumulate:
            _accumulate(order, adjoints)
        return order, mark, adjoints
    root._adj = seed
    backward_kernel(order, accumulate, REGISTRY.steps)
    return order, mark, None


def _accumulate(order: list[Value], adjoints: dict[Value, Any]) -> None:
    """Add each node's adjoint of this pass to its `.grad` (a `.grad` of None takes it)."""
    for v in order:
        g = adjoints.get(v)
        if g is not None:
            v.grad = g if v.grad is None else v.grad + g


def _exact_adjoints(order: list[Value], seed: Any) -> dict[Value, Any]:
    """The backward pass on exact numbers: each node's adjoint, in a dict."""
    adjoints: dict[Value, Any] = {order[0]: seed}
    for v in order:
        g = adjoints.get(v)
        if g is None:
            continue
        for node, part in chain_rule(v, g):
            previous = adjoints.get(node)
            adjoints[node] = part if previous is None else previous + part
    return adjoints


def _op(name: str) -> Any:
    return REGISTRY.by_name[name]


def _backward_values(order: list[Value], seed: Value | float) -> dict[Value, Any]:
    """The backward pass on Values: it records the graph of the derivative itself."""
    adjoints: dict[Value, Any] = {order[0]: seed}
    for v in order:
        g = adjoints.get(v)
        if g is None or v._code <= 0:
            continue
        for which in REGISTRY.entry(v._code).form.nodes:
            node = v._a if which == "x" else v._b
            if node.requires_grad:
                part = share(v, which, g, on_values=True)
                previous = adjoints.get(node)
                adjoints[node] = part if previous is None else previous + part
    return adjoints


def grad(
    output: Value,
    inputs: Value | Sequence[Value],
    create_graph: bool = False,
    allow_unused: bool = False,
) -> list[Value]:
    """The gradients of `output` with respect to `inputs`, without touching `.grad`.

    With `create_graph=True` the gradients are connected to the graph and can be
    differentiated again. An input that `output` does not depend on raises
    `ValueError` unless `allow_unused=True`, in which case its gradient is `Value(0.0)`.
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
            if x._mark < mark or not x.requires_grad
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
            result.append(zero_like(x))
        else:
            result.append(g if isinstance(g, Value) else Value(g))
    return result


def _warm_up() -> None:
    # CPython 3.11 specialises a function's bytecode only once it has been called a few
    # times (later versions at once), and one backward() is a single long call of the walk
    # and the kernel: without this, the first eight backward passes of a program run
    # unspecialised, the walk alone 2.4 times the instructions (measured with callgrind).
    # Ten passes over a three-node graph take well under a millisecond.
    x = Value(0.5)
    y = (x * x + x).relu()
    for _ in range(10):
        y.backward()


_warm_up()
