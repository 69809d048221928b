"""The lesson graphs of microgradx.examples carry the numbers the lessons quote."""

from __future__ import annotations

import math

from microgradx.examples import expression, neuron


def test_expression_gradients_by_hand() -> None:
    loss, v = expression()
    assert loss.data == -8.0  # (2 * -3 + 10) * -2
    # dL/df = d = 4, dL/dd = f = -2, and the sum passes -2 to e and c; e = a*b
    grads = {k: v[k].grad for k in "abcdef"}
    assert grads == {"a": 6.0, "b": -4.0, "c": -2.0, "d": -2.0, "e": -2.0, "f": 4.0}


def test_neuron_gradients_by_hand() -> None:
    o, v = neuron()
    assert math.isclose(o.data, math.sqrt(0.5), rel_tol=1e-12)  # tanh(0.8814) = 1/sqrt(2)
    assert math.isclose(v["n"].grad, 0.5, rel_tol=1e-12)  # 1 - o**2
    # n = x1*w1 + x2*w2 + b: dn/dw1 = x1 = 2, dn/dx1 = w1 = -3, dn/dw2 = x2 = 0
    assert math.isclose(v["w1"].grad, 1.0, rel_tol=1e-12)
    assert math.isclose(v["x1"].grad, -1.5, rel_tol=1e-12)
    assert v["w2"].grad == 0.0 and math.isclose(v["x2"].grad, 0.5, rel_tol=1e-12)
    assert sorted(v) == sorted(
        ["x1", "x2", "w1", "w2", "b", "x1*w1", "x2*w2", "x1*w1 + x2*w2", "n", "o"]
    )
