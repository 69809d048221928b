"""The function transforms: derivative, value_and_grad, hessian, hvp, jvp and newton."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradx import Value, defprim, grad, no_grad, ops
from microgradx.functional import (
    derivative,
    hessian,
    hvp,
    jvp,
    newton,
    value_and_grad,
)
from microgradx.primitive import REGISTRY


def cubic(x: Any) -> Any:
    return x**3 - 5 * x**2 + 7 * x - 1


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# -- derivative ---------------------------------------------------------------------------


@pytest.mark.parametrize("x0", [-1.0, 0.0, 1.0, 7 / 3, 4.5])
def test_derivative_of_the_cubic(x0: float) -> None:
    assert derivative(cubic, 0)(x0) == cubic(Value(x0)).data  # the 0th derivative is f itself
    assert close(derivative(cubic)(x0), 3 * x0**2 - 10 * x0 + 7)
    assert close(derivative(cubic, 2)(x0), 6 * x0 - 10)
    assert derivative(cubic, 3)(x0) == 6.0
    assert derivative(cubic, 4)(x0) == 0.0
    assert derivative(cubic, 7)(x0) == 0.0


def test_derivative_numbers_in_floats_out_values_in_values_out() -> None:
    assert isinstance(derivative(Value.sin)(0.3), float)
    x = Value(0.3)
    d = derivative(Value.sin)(x)
    assert isinstance(d, Value) and close(d.data, math.cos(0.3))
    (dd,) = grad(d, [x])  # connected to the graph: differentiable again
    assert close(dd.data, -math.sin(0.3))


def test_transforms_record_their_graph_inside_no_grad() -> None:
    with no_grad():
        assert derivative(cubic, 2)(1.0) == -4.0
        assert value_and_grad(cubic)(2.0) == (1.0, [-1.0])
        assert hessian(cubic, 1.0) == -4.0
        assert hvp(cubic, 1.0, 2.0) == -8.0
        assert jvp(cubic, 2.0, 3.0) == (1.0, -3.0)
        assert newton(cubic, 3.0).kind == "minimum"


def test_derivative_composes() -> None:
    d_d = derivative(derivative(Value.tanh))
    assert close(d_d(0.4), derivative(Value.tanh, 2)(0.4))
    assert close(derivative(derivative(cubic), 2)(1.0), 6.0)


def test_derivative_of_a_constant_and_of_a_number_returning_function() -> None:
    assert derivative(lambda x: 3.0)(1.0) == 0.0
    assert derivative(lambda x: Value(2.0) * 4, 2)(1.0) == 0.0


def test_derivative_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        derivative(cubic, -1)
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        derivative(cubic, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a function"):
        derivative(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a number or a Value"):
        derivative(cubic)([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        derivative(cubic)("1.0")  # type: ignore[arg-type]


# -- value_and_grad -----------------------------------------------------------------------


def test_value_and_grad() -> None:
    def f(x: Value, y: Value, z: Value) -> Value:
        return x * y.exp() + 0 * z

    value, grads = value_and_grad(f)(2.0, 0.5, 9.0)
    assert close(value, 2 * math.exp(0.5))
    assert grads == [math.exp(0.5), 2 * math.exp(0.5), 0.0]
    assert value_and_grad(f, argnums=1)(2.0, 0.5, 9.0)[1] == 2 * math.exp(0.5)
    assert value_and_grad(f, argnums=(2, 0))(2.0, 0.5, 9.0)[1] == [0.0, math.exp(0.5)]
    assert value_and_grad(lambda x, y: x)(1.0, 2.0)[1] == [1.0, 0.0]  # y unused: 0


def test_value_and_grad_with_values_is_differentiable() -> None:
    x = Value(1.5)
    value, g = value_and_grad(lambda t: t**3, argnums=0)(x)
    assert isinstance(value, Value) and isinstance(g, Value)
    (h,) = grad(g, [x])
    assert close(h.data, 6 * 1.5)


def test_value_and_grad_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="out of range"):
        value_and_grad(cubic, argnums=1)(1.0)
    with pytest.raises(TypeError, match="argnums"):
        value_and_grad(cubic, argnums=("a",))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="NoneType"):
        value_and_grad(cubic)(None)


# -- hessian and hvp ----------------------------------------------------------------------


def rosenbrock(x: Any, y: Any) -> Any:
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def mixed(x: Any, y: Any, z: Any) -> Any:
    if isinstance(x, Value):
        return (x * y).sin() + (z * z + 1).log() * x.exp() + x / (1 + y * y) + (x * z).tanh()
    return anp.sin(x * y) + anp.log(z * z + 1) * anp.exp(x) + x / (1 + y * y) + anp.tanh(x * z)


def autograd_hessian(f: Callable[..., Any], point: list[float]) -> Any:
    return autograd.hessian(lambda v: f(*[v[i] for i in range(len(point))]))(np.array(point))


def test_hessian_of_the_cubic_and_rosenbrock() -> None:
    assert hessian(cubic, 1.0) == -4.0
    assert hessian(cubic, 7 / 3) == pytest.approx(4.0, rel=1e-14)
    # by hand: [[2 - 400 (y - 3x^2), -400 x], [-400 x, 200]]
    assert hessian(rosenbrock, [0.5, 2.0]) == [[2 - 400 * (2 - 0.75), -200.0], [-200.0, 200.0]]


@given(st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_hessian_and_hvp_match_autograd(point: list[float]) -> None:
    ours = hessian(mixed, point)
    theirs = autograd_hessian(mixed, point)
    for i in range(3):
        for j in range(3):
            assert math.isclose(ours[i][j], theirs[i][j], rel_tol=1e-8, abs_tol=1e-10)
    v = [0.3, -1.2, 0.7]
    expected = theirs @ np.array(v)
    for got, want in zip(hvp(mixed, point, v), expected, strict=True):
        assert math.isclose(got, want, rel_tol=1e-8, abs_tol=1e-10)


def test_hessian_of_linear_and_unused() -> None:
    assert hessian(lambda x, y: 2 * x + 3, [1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]
    assert hessian(lambda x: 5.0, 1.0) == 0.0


def test_hessian_and_hvp_with_values_are_differentiable() -> None:
    x, y = Value(0.5), Value(-1.0)
    h = hessian(lambda a, b: a**3 * b, [x, y])
    assert close(h[0][0].data, 6 * 0.5 * -1.0)
    (d,) = grad(h[0][0], [x])  # third derivative d^3/dx^3 (x^3 y) = 6 y
    assert close(d.data, -6.0)
    hv = hvp(lambda a, b: a**3 * b, [x, y], [1.0, 0.0])
    assert close(hv[0].data, -3.0) and close(hv[1].data, 3 * 0.25)
    (d,) = grad(hv[0], [y])
    assert close(d.data, 6 * 0.5)


def test_hvp_refuses_mismatched_vector() -> None:
    with pytest.raises(ValueError, match="v must match xs"):
        hvp(rosenbrock, [1.0, 2.0], [1.0])


# -- jvp ----------------------------------------------------------------------------------


@given(
    st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    st.lists(st.floats(-2, 2), min_size=3, max_size=3),
)
def test_jvp_equals_gradient_dot_tangent(point: list[float], tangent: list[float]) -> None:
    value, t = jvp(mixed, point, tangent)
    (expected_value, grads) = value_and_grad(mixed)(*point)
    assert value == expected_value
    want = sum(g * v for g, v in zip(grads, tangent, strict=True))
    assert math.isclose(t, want, rel_tol=1e-9, abs_tol=1e-12)
    # the Value path (rules on Values) gives the same number as the float kernel
    _, tv = jvp(mixed, [Value(p) for p in point], tangent)
    assert math.isclose(tv.data, t, rel_tol=1e-12, abs_tol=1e-15)


def test_jvp_of_every_builtin_matches_backward() -> None:
    for p in REGISTRY:
        if p.name not in {r.name for r in ops.TABLE}:
            continue
        point = [1.3, 0.7][: p.arity]
        for k in range(p.arity):
            tangent = [0.0] * p.arity
            tangent[k] = 1.0
            xs = [Value(v) for v in point]
            p(*xs).backward()
            _, t = jvp(p, point, tangent)
            assert close(t, xs[k].grad), (p.name, k, t, xs[k].grad)


KINKS: list[tuple[Callable[[Value], Value], float]] = [
    (Value.relu, 0.0),
    (abs, 0.0),
    (Value.sqrt, 0.0),
    (Value.log, 0.0),
    (Value.log, -1.0),
    (lambda x: x**0, 0.0),
    (lambda x: x**2, 0.0),
    (lambda x: x**0.5, 0.0),
    (lambda x: x**-1, 0.0),
    (lambda x: 1 / x, 0.0),
    (lambda x: 0 / x, 0.0),
    (lambda x: x**2.0, -3.0),  # a constant exponent: d/dy (nan at x < 0) is never evaluated
]


@pytest.mark.parametrize(("f", "x0"), KINKS)
def test_jvp_follows_the_kink_conventions(f: Callable[[Value], Value], x0: float) -> None:
    x = Value(x0)
    f(x).backward()
    _, t = jvp(f, x0, 1.0)
    _, tv = jvp(f, Value(x0), 1.0)
    for got in (t, tv.data):
        assert (math.isnan(got) and math.isnan(x.grad)) or got == x.grad, (got, x.grad)


def test_jvp_with_several_outputs_and_unused_inputs() -> None:
    values, tangents = jvp(
        lambda x, y, z: [x * y, x + y, z, Value(4.0)], [2.0, 3.0, 5.0], [1.0, 0.5, 0.0]
    )
    assert values == [6.0, 5.0, 5.0, 4.0]
    assert tangents == [3.0 + 1.0, 1.5, 0.0, 0.0]
    c = Value(1.5)  # a leaf that is not a primal: its tangent is zero
    assert jvp(lambda x: x * c, 2.0, 1.0) == (3.0, 1.5)
    assert jvp(lambda x: x - x, 2.0, 1.0) == (0.0, 0.0)
    assert jvp(lambda x: 7.0, 2.0, 1.0) == (7.0, 0.0)


def test_jvp_composes_with_grad() -> None:
    x = Value(0.5)
    _, t = jvp(Value.sin, x, 1.0)  # Values in: the tangent is a Value on the graph
    (d,) = grad(t, [x])
    assert close(t.data, math.cos(0.5)) and close(d.data, -math.sin(0.5))
    # tangents may be Values too: d/dv of the directional derivative is the gradient
    v = Value(2.0)
    _, t = jvp(lambda a: a * a, Value(3.0), v)
    (dv,) = grad(t, [v])
    assert t.data == 12.0 and dv.data == 6.0


def test_jvp_of_a_gradient_is_a_hessian_vector_product() -> None:
    def gradient(x: Value, y: Value) -> list[Value]:
        return grad(rosenbrock(x, y), [x, y], create_graph=True)

    _, hv = jvp(gradient, [0.5, 2.0], [1.0, -1.0])
    h = hessian(rosenbrock, [0.5, 2.0])
    assert hv == [h[0][0] - h[0][1], h[1][0] - h[1][1]]


def test_jvp_visits_a_shared_node_after_its_inputs() -> None:
    def f(x: Value) -> Value:
        a = x.exp()
        return a + a * a  # `a` reaches the output directly and through `a * a`

    e = math.exp(0.3)
    for x0 in (0.3, Value(0.3)):
        _, t = jvp(f, x0, 1.0)
        assert close(float(t), e + 2 * e * e)


def test_jvp_with_a_non_leaf_primal() -> None:
    x = Value(2.0)
    z = x * x  # z is the variable here, not x
    _, t = jvp(lambda u: u * 3, z, 1.0)
    assert t.data == 3.0


def test_jvp_of_a_user_defined_primitive() -> None:
    cube = REGISTRY.by_name.get("hx_cube") or defprim("hx_cube", "x * x * x", "g * 3 * x * x")
    assert jvp(cube, 2.0, 0.5) == (8.0, 6.0)
    assert derivative(cube, 3)(2.0) == 6.0


def test_jvp_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="tangents must match primals"):
        jvp(rosenbrock, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="tangents must match primals"):
        jvp(cubic, 1.0, [1.0])
    with pytest.raises(TypeError, match="str"):
        jvp(cubic, 1.0, "x")
    with pytest.raises(TypeError, match="expected a function"):
        jvp(None, 1.0, 1.0)  # type: ignore[arg-type]


def test_jvp_leaves_gradients_alone() -> None:
    w = Value(3.0)
    jvp(lambda x: x * w, 2.0, 1.0)
    assert w.grad == 0.0
    (g,) = grad(w * w, [w])  # the engine still works on the same node afterwards
    assert g.data == 6.0


# -- newton -------------------------------------------------------------------------------


def test_newton_finds_both_stationary_points_of_the_cubic() -> None:
    top = newton(cubic, 0.0)
    assert top.converged and close(top.x, 1.0) and top.kind == "maximum"
    assert top.hessian == -4.0 and close(top.value, 2.0) and top.gradient == 0.0
    bottom = newton(cubic, 3.0)
    assert bottom.converged and close(bottom.x, 7 / 3) and bottom.kind == "minimum"
    assert close(bottom.hessian, 4.0)
    assert close(derivative(cubic)(bottom.x), 0.0)


def test_newton_in_several_variables() -> None:
    r = newton(rosenbrock, [-1.2, 1.0])
    assert r.converged and r.kind == "minimum"
    assert r.x == pytest.approx([1.0, 1.0], abs=1e-12)
    q = newton(lambda x, y: (x - 1) ** 2 + 3 * (y + 2) ** 2 + x * y, [0.0, 0.0])
    assert q.iterations <= 2 and q.kind == "minimum"  # a quadratic: exact in one step
    assert q.x == pytest.approx([24 / 11, -26 / 11], rel=1e-12)
    assert newton(lambda x, y: x * x - y * y, [1.0, 1.0]).kind == "saddle"
    assert newton(lambda x, y: -(x**2) - y**2 + x * y, [1.0, 3.0]).kind == "maximum"


def test_newton_stops_where_the_curvature_vanishes() -> None:
    r = newton(lambda x: 2 * x + 1, 5.0)
    assert not r.converged and r.iterations == 0 and r.kind == "inconclusive"
    r = newton(cubic, 0.0, max_iter=1)
    assert not r.converged and r.iterations == 1


def test_newton_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="tol"):
        newton(cubic, 0.0, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        newton(cubic, 0.0, max_iter=-1)
    with pytest.raises(TypeError, match="str"):
        newton(cubic, "0")


# -- the same Value passed for two arguments (issue 13 item 4) ------------------------------------


def test_transforms_with_one_value_for_two_arguments_count_it_once() -> None:
    # torch.autograd.functional gives these numbers for the same tensor passed twice; so
    # does treating the two arguments as two variables (the numbers path below)
    v = Value(3.0)
    primal, tangent = jvp(lambda a, b: a + b, (v, v), (1.0, 1.0))
    assert (primal.data, tangent.data) == (6.0, 2.0)
    assert jvp(lambda a, b: a + b, (3.0, 3.0), (1.0, 1.0))[1] == 2.0
    h = [[e.data for e in row] for row in hessian(lambda a, b: a * b, [v, v])]
    assert h == [[0.0, 1.0], [1.0, 0.0]]
    assert h == hessian(lambda a, b: a * b, [3.0, 3.0])
    assert [e.data for e in hvp(lambda a, b: a * b, [v, v], [1.0, 0.0])] == [0.0, 1.0]
    assert v.grad == 0.0
