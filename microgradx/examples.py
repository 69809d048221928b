"""The two small graphs every backpropagation lesson starts from, ready to draw.

Both come back after `backward()`, every node labelled, so that a diagram shows each
node's data and gradient:

Examples:
    >>> from microgradx.examples import expression
    >>> L, nodes = expression()
    >>> L.data, nodes["a"].grad, nodes["b"].grad
    (-8.0, 6.0, -4.0)
"""

from __future__ import annotations

from .engine import Value


def _labelled(v: Value, label: str) -> Value:
    v.label = label
    return v


def expression() -> tuple[Value, dict[str, Value]]:
    """`L = (a*b + c) * f` at a=2, b=-3, c=10, f=-2, after `L.backward()`.

    Returns `L` and every node by its label (a, b, c, e = a*b, d = e + c, f, L).
    """
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    e = _labelled(a * b, "e")
    d = _labelled(e + c, "d")
    loss = _labelled(d * f, "L")
    loss.backward()
    return loss, {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "L": loss}


def neuron() -> tuple[Value, dict[str, Value]]:
    """One tanh neuron, `o = tanh(x1*w1 + x2*w2 + b)`, after `o.backward()`.

    Inputs x1=2, x2=0, weights w1=-3, w2=1 and a bias chosen so that `n = 0.8814` and
    `o = 0.7071` (so `do/dn = 1 - o**2 = 0.5`). Returns `o` and every node by label.
    """
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = _labelled(x1 * w1, "x1*w1")
    x2w2 = _labelled(x2 * w2, "x2*w2")
    s = _labelled(x1w1 + x2w2, "x1*w1 + x2*w2")
    n = _labelled(s + b, "n")
    o = _labelled(n.tanh(), "o")
    o.backward()
    nodes = [x1, x2, w1, w2, b, x1w1, x2w2, s, n, o]
    return o, {v.label: v for v in nodes}
