"""What generated code calls while it runs (the built-ins module and user ops alike).

Nothing here knows the `Value` class: generated code passes nodes in, and these helpers
read only a node's fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: the origin code of a leaf (a Value the program made) and of a constant (no gradient:
#: made under `no_grad()`, or by the library as a constant)
LEAF = 0
CONSTANT = -1
#: what a float operation raises where IEEE 754 has a result (`1 / 0`, `math.log(0)`)
ERRORS = (ArithmeticError, ValueError)


#: the constant node standing for each number an op was given, shared by every op given
#: that number (`x * 2.0` and `y * 2.0` read one node); at most `SHARED_MAX` of them
SHARED: dict[float, Any] = {}
SHARED_MAX = 1024


def shared_constant(cls: type, x: float) -> Any:
    """The constant node (of class `cls`) for the number `x`, made once and shared.

    Zeros and nan are not shared: `0.0 == -0.0` would mix up the signs of zero, and a nan
    equals nothing. A constant gets no gradient and no backward pass visits its inputs
    (it has none), so sharing it between graphs changes no number.
    """
    c: Any = SHARED.get(x)
    if c is not None and type(c) is cls:
        return c
    c = object.__new__(cls)
    c.data = x
    c.grad = 0.0
    c.label = ""
    c._code = CONSTANT
    c._a = c._b = None
    c._mark = 0
    c._adj = 0.0
    if x == x and x != 0.0:
        if len(SHARED) >= SHARED_MAX:
            SHARED.clear()
        SHARED[x] = c
    return c


def first_grad(grad: Any, g: float) -> float:
    """The `.grad` a pass leaves when the node had none (`None`: PyTorch's no gradient yet)."""
    if grad is None:
        return g
    raise TypeError(f"a Value's .grad must be a number or None, got {type(grad).__name__}")


def restore_grads(order: Sequence[Any], last: Any) -> None:
    """Put back the `.grad` of every node of `order` up to `last`, after a failed pass.

    The backward kernel keeps each node's previous `.grad` in `_adj` when it adds to it.
    """
    for v in order:
        v.grad = v._adj
        if v is last:
            break


def data_of(x: Any) -> Any:
    """The number behind a node or a number (rules on Values compare numbers)."""
    return x.data if hasattr(x, "_code") else x


def linked(branch: Any, tested: Sequence[Any], read: Sequence[Any]) -> Any:
    """A branch of a rule on Values that reads no node, kept connected to the nodes.

    In `0.0 if out <= 0 else g` (relu's rule) the branch `0.0` reads no node. When the
    condition tests a node that needs a gradient, the branch becomes
    `branch + 0.0 * (sign(n1) + ...)` over the nodes the rule reads: the same value, and
    derivative 0 rather than "does not affect the output", as PyTorch's `where` gives.
    A branch that is the number 0 is the link itself.
    """
    if not any(_needs_grad(n) for n in tested):
        return branch
    link = None
    for n in read:
        if _needs_grad(n):
            s = n.sign()
            link = s if link is None else link + s
    assert link is not None  # a tested node needs a gradient, and it is read
    # zero in the nodes' kind of number: 0.0 for floats, an exact 0 for Fractions
    link = link * (0.0 if link.data.__class__ is float else 0)
    return link if not hasattr(branch, "_code") and branch == 0 else branch + link


def _needs_grad(n: Any) -> bool:
    return hasattr(n, "_code") and n._code != CONSTANT
