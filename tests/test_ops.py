"""Every built-in op: value and gradient against hand-derived numbers.

Expected values are written out by hand (closed-form derivatives at chosen points), not
computed by the engine's own rules. Special points follow DESIGN.md: IEEE 754 results and
PyTorch's conventions at kinks, one test per row of the kink table.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from microgradx import Value, grad
from microgradx.testing import gradcheck, gradgradcheck

inf, nan = math.inf, math.nan
LN2 = math.log(2.0)


def same(actual: float, expected: float) -> bool:
    """Equal as IEEE values, with nan equal to nan (and the sign of inf checked)."""
    if math.isnan(expected):
        return math.isnan(actual)
    return actual == expected


def close(actual: float, expected: float) -> bool:
    if math.isnan(expected) or math.isinf(expected):
        return same(actual, expected)
    return actual == pytest.approx(expected, rel=1e-13, abs=1e-300)


def unary(f: Callable[[Value], Value], x0: float) -> tuple[float, float]:
    x = Value(x0)
    y = f(x)
    y.backward()
    assert type(y.data) is float
    assert type(x.grad) is float
    return y.data, x.grad


def binary(f: Callable[[Value, Value], Value], a0: float, b0: float) -> tuple[float, float, float]:
    a, b = Value(a0), Value(b0)
    y = f(a, b)
    y.backward()
    assert type(y.data) is float
    return y.data, a.grad, b.grad


# -- binary ops: Value (op) Value ----------------------------------------------------------

E = math.e

# (op, a, b, value, d/da, d/db), all derived by hand
BINARY_CASES = [
    ("+", 2.0, 3.0, 5.0, 1.0, 1.0),
    ("+", -1.5, 0.25, -1.25, 1.0, 1.0),
    ("-", 2.0, 3.0, -1.0, 1.0, -1.0),
    ("-", -0.5, -4.0, 3.5, 1.0, -1.0),
    ("*", 2.0, -3.0, -6.0, -3.0, 2.0),
    ("*", 0.5, 8.0, 4.0, 8.0, 0.5),
    ("/", 3.0, 4.0, 0.75, 0.25, -3.0 / 16.0),
    ("/", -1.0, 0.5, -2.0, 2.0, 4.0),
    ("/", 6.0, -3.0, -2.0, -1.0 / 3.0, -2.0 / 3.0),
    ("**", 2.0, 3.0, 8.0, 12.0, 8.0 * LN2),
    ("**", 4.0, 0.5, 2.0, 0.25, 2.0 * math.log(4.0)),
    ("**", 9.0, -0.5, 1.0 / 3.0, -1.0 / 54.0, math.log(9.0) / 3.0),
    ("**", E, 2.0, E * E, 2.0 * E, E * E),
    ("**", -2.0, 3.0, -8.0, 12.0, nan),  # d/dy at a negative base: nan (kink table)
]

OPS: dict[str, Callable[[object, object], object]] = {
    "+": lambda a, b: a + b,  # type: ignore[operator]
    "-": lambda a, b: a - b,  # type: ignore[operator]
    "*": lambda a, b: a * b,  # type: ignore[operator]
    "/": lambda a, b: a / b,  # type: ignore[operator]
    "**": lambda a, b: a**b,  # type: ignore[operator]
}


@pytest.mark.parametrize(("op", "a", "b", "value", "da", "db"), BINARY_CASES)
def test_binary_value_value(op: str, a: float, b: float, value: float, da: float, db: float):
    y, ga, gb = binary(OPS[op], a, b)  # type: ignore[arg-type]
    assert close(y, value)
    assert close(ga, da)
    assert close(gb, db)


@pytest.mark.parametrize(("op", "a", "b", "value", "da", "db"), BINARY_CASES)
def test_binary_number_on_the_right(
    op: str, a: float, b: float, value: float, da: float, db: float
):
    x = Value(a)
    y = OPS[op](x, b)
    assert isinstance(y, Value)
    y.backward()
    assert close(y.data, value)
    assert close(x.grad, da)
    constant = y.inputs[1]
    assert not constant.requires_grad
    assert constant.grad == 0.0  # numbers never receive a gradient
    assert OPS[op](Value(7.0), b).inputs[1] is constant  # one constant node per number


@pytest.mark.parametrize(("op", "a", "b", "value", "da", "db"), BINARY_CASES)
def test_binary_number_on_the_left(op: str, a: float, b: float, value: float, da: float, db: float):
    x = Value(b)
    y = OPS[op](a, x)
    assert isinstance(y, Value)
    y.backward()
    assert close(y.data, value)
    assert close(x.grad, db)
    assert y.inputs[1] is x  # the operand order is kept: a is the first input
    assert not y.inputs[0].requires_grad


@pytest.mark.parametrize("op", list(OPS))
def test_binary_with_numpy_scalars_on_either_side(op: str):
    a, b = 3.0, 2.0
    for left, right in [(Value(a), np.float64(b)), (np.float64(a), Value(b))]:
        y = OPS[op](left, right)
        assert isinstance(y, Value)
        assert type(y.data) is float
        assert y.data == OPS[op](a, b)


def test_same_value_on_both_sides():
    # x op x: the single input receives both contributions
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    x = Value(3.0)
    (x + x).backward()
    assert x.grad == 2.0
    x = Value(3.0)
    (x - x).backward()
    assert x.grad == 0.0
    x = Value(3.0)
    y = x / x
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.0)
    x = Value(2.0)  # d/dx x**x = x**x (log x + 1)
    (x**x).backward()
    assert close(x.grad, 4.0 * (LN2 + 1.0))


def test_pow_value_exponent_is_differentiable_in_both():
    x, y = Value(3.0), Value(2.0)
    z = x**y
    z.backward()
    assert (z.data, x.grad) == (9.0, 6.0)
    assert close(y.grad, 9.0 * math.log(3.0))
    assert z.op == "pow"
    # a number as the exponent: only the base is an input that needs a gradient
    x = Value(3.0)
    z = x**2
    z.backward()
    assert x.grad == 6.0
    assert z._op == "**2"
    # a number as the base: d/dy 2**y = 2**y log 2
    y = Value(3.0)
    z = 2**y
    z.backward()
    assert (z.data, y.grad) == (8.0, 8.0 * LN2)


# -- unary ops ------------------------------------------------------------------------------


def _sig(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


# (name, function, x, value, derivative), derived by hand
UNARY_CASES = [
    ("neg", lambda v: -v, 2.5, -2.5, -1.0),
    ("neg", lambda v: -v, -1.0, 1.0, -1.0),
    ("abs", abs, -3.0, 3.0, -1.0),
    ("abs", abs, 2.0, 2.0, 1.0),
    ("relu", Value.relu, 3.0, 3.0, 1.0),
    ("relu", Value.relu, -2.0, 0.0, 0.0),
    ("exp", Value.exp, 0.0, 1.0, 1.0),
    ("exp", Value.exp, 1.0, E, E),
    ("exp", Value.exp, -2.0, math.exp(-2.0), math.exp(-2.0)),
    ("log", Value.log, 1.0, 0.0, 1.0),
    ("log", Value.log, E, 1.0, 1.0 / E),
    ("log", Value.log, 0.5, -LN2, 2.0),
    ("sqrt", Value.sqrt, 4.0, 2.0, 0.25),
    ("sqrt", Value.sqrt, 0.25, 0.5, 1.0),
    ("sqrt", Value.sqrt, 2.0, math.sqrt(2.0), 1.0 / (2.0 * math.sqrt(2.0))),
    ("tanh", Value.tanh, 0.0, 0.0, 1.0),
    ("tanh", Value.tanh, 0.5, math.tanh(0.5), 1.0 / math.cosh(0.5) ** 2),
    ("tanh", Value.tanh, -3.0, math.tanh(-3.0), 1.0 / math.cosh(3.0) ** 2),
    ("sigmoid", Value.sigmoid, 0.0, 0.5, 0.25),
    ("sigmoid", Value.sigmoid, 2.0, _sig(2.0), math.exp(-2.0) / (1.0 + math.exp(-2.0)) ** 2),
    ("sigmoid", Value.sigmoid, -2.0, _sig(-2.0), math.exp(2.0) / (1.0 + math.exp(2.0)) ** 2),
    ("sin", Value.sin, 0.0, 0.0, 1.0),
    ("sin", Value.sin, math.pi / 6, math.sin(math.pi / 6), math.sqrt(3.0) / 2.0),
    ("sin", Value.sin, 1.0, math.sin(1.0), math.cos(1.0)),
    ("cos", Value.cos, 0.0, 1.0, -0.0),
    ("cos", Value.cos, math.pi / 3, math.cos(math.pi / 3), -math.sqrt(3.0) / 2.0),
    ("cos", Value.cos, -1.0, math.cos(1.0), math.sin(1.0)),
]


@pytest.mark.parametrize(("name", "f", "x", "value", "deriv"), UNARY_CASES)
def test_unary(name: str, f: Callable[[Value], Value], x: float, value: float, deriv: float):
    y, g = unary(f, x)
    assert y == pytest.approx(value, rel=1e-15, abs=1e-16)
    assert g == pytest.approx(deriv, rel=1e-14, abs=1e-16)
    node = f(Value(x))
    assert node.op == name


# the same points through the public toolkit (microgradx.testing), as a user would check an op
SMOOTH_UNARY = [(name, f, x) for name, f, x, _, _ in UNARY_CASES if name not in ("abs", "relu")]


@pytest.mark.parametrize(("name", "f", "x"), SMOOTH_UNARY)
def test_unary_passes_gradcheck_and_gradgradcheck(
    name: str, f: Callable[[Value], Value], x: float
) -> None:
    assert gradcheck(f, [x], raise_exception=False)
    assert gradgradcheck(f, [x], raise_exception=False)


# smooth points only: b = 0 is a pole of a / b, and x ** y needs x > 0 to vary y
SMOOTH_BINARY = [
    (op, a, b) for op, a, b, *_ in BINARY_CASES if b != 0 and not (op == "**" and a <= 0)
]


@pytest.mark.parametrize(("op", "a", "b"), SMOOTH_BINARY)
def test_binary_passes_gradcheck_and_gradgradcheck(op: str, a: float, b: float) -> None:
    def f(x: Value, y: Value) -> Value:
        return OPS[op](x, y)  # type: ignore[return-value]

    assert gradcheck(f, [a, b], raise_exception=False)
    assert gradgradcheck(f, [a, b], raise_exception=False)


@pytest.mark.parametrize("x0", [-0.5, -3.7, -20.0, 0.5, 3.7])
def test_sigmoid_value_is_pytorchs_formula(x0: float):
    # PyTorch computes 1 / (1 + exp(-x)) for every x; exp(x) / (1 + exp(x)) differs in the
    # last bit at these points (and so would the gradient, which is built from the value)
    y, g = unary(Value.sigmoid, x0)
    expected = 1.0 / (1.0 + math.exp(-x0))
    assert y == expected
    assert g == (1.0 - expected) * expected


def test_sigmoid_is_finite_far_from_zero():
    for x0 in (-800.0, 800.0):
        y, g = unary(Value.sigmoid, x0)
        assert math.isfinite(y) and 0.0 <= y <= 1.0
        assert g == 0.0


# -- second derivatives (create_graph) ------------------------------------------------------

# (function, x, second derivative), derived by hand
SECOND = [
    (lambda v: v**3, 2.0, 12.0),
    (lambda v: 1 / v, 2.0, 2.0 / 8.0),
    (lambda v: v * v * v - 2 * v, -1.0, -6.0),
    (Value.exp, 1.5, math.exp(1.5)),
    (Value.log, 2.0, -0.25),
    (Value.sqrt, 4.0, -1.0 / 32.0),
    (Value.sin, 0.7, -math.sin(0.7)),
    (Value.cos, 0.7, -math.cos(0.7)),
    (Value.tanh, 0.3, -2.0 * math.tanh(0.3) * (1.0 - math.tanh(0.3) ** 2)),
    (Value.sigmoid, 0.4, _sig(0.4) * (1 - _sig(0.4)) * (1 - 2 * _sig(0.4))),
    (lambda v: 2**v, 3.0, 8.0 * LN2 * LN2),
    (lambda v: v**v, 1.0, 2.0),  # x**x (log x + 1)**2 + x**(x-1)
]


@pytest.mark.parametrize(("f", "x0", "expected"), SECOND)
def test_second_derivative(f: Callable[[Value], Value], x0: float, expected: float):
    x = Value(x0)
    (g,) = grad(f(x), [x], create_graph=True)
    (h,) = grad(g, [x], allow_unused=True)
    assert h.data == pytest.approx(expected, rel=1e-12)


def test_third_derivative_of_a_cubic():
    x = Value(2.0)
    (g,) = grad(x**3, [x], create_graph=True)
    (h,) = grad(g, [x], create_graph=True)
    (t,) = grad(h, [x])
    assert (g.data, h.data, t.data) == (12.0, 12.0, 6.0)


# -- DESIGN.md's kink table: one test per row ---------------------------------------------


def test_kink_relu_at_0():
    assert unary(Value.relu, 0.0) == (0.0, 0.0)


def test_kink_abs_at_0():
    assert unary(abs, 0.0) == (0.0, 0.0)


def test_kink_sqrt_at_0():
    assert unary(Value.sqrt, 0.0) == (0.0, inf)


def test_kink_log_at_0():
    assert unary(Value.log, 0.0) == (-inf, inf)


def test_kink_log_at_minus_1():
    y, g = unary(Value.log, -1.0)
    assert math.isnan(y)
    assert g == -1.0


# x ** p at 0 with p a number and with p a Value
@pytest.mark.parametrize("as_value", [False, True], ids=["number", "Value"])
def test_kink_pow_0_at_0(as_value: bool):
    p = Value(0.0) if as_value else 0
    assert unary(lambda x: x**p, 0.0) == (1.0, 0.0)


@pytest.mark.parametrize("as_value", [False, True], ids=["number", "Value"])
def test_kink_pow_1_at_0(as_value: bool):
    p = Value(1.0) if as_value else 1
    assert unary(lambda x: x**p, 0.0) == (0.0, 1.0)


@pytest.mark.parametrize("as_value", [False, True], ids=["number", "Value"])
def test_kink_pow_2_at_0(as_value: bool):
    p = Value(2.0) if as_value else 2
    assert unary(lambda x: x**p, 0.0) == (0.0, 0.0)


@pytest.mark.parametrize("as_value", [False, True], ids=["number", "Value"])
def test_kink_pow_half_at_0(as_value: bool):
    p = Value(0.5) if as_value else 0.5
    assert unary(lambda x: x**p, 0.0) == (0.0, inf)


@pytest.mark.parametrize("as_value", [False, True], ids=["number", "Value"])
def test_kink_pow_minus_1_at_0(as_value: bool):
    p = Value(-1.0) if as_value else -1
    assert unary(lambda x: x**p, 0.0) == (inf, -inf)


@pytest.mark.parametrize("y0", [0.0, 0.5, 1.0, 2.0, 3.5])
def test_kink_pow_exponent_derivative_at_base_0_exponent_nonnegative(y0: float):
    _, _, gy = binary(lambda x, y: x**y, 0.0, y0)
    assert gy == 0.0
    y = Value(y0)  # a number as the base
    (0.0**y).backward()
    assert y.grad == 0.0


def test_kink_pow_exponent_derivative_at_0_minus_1():
    z, gx, gy = binary(lambda x, y: x**y, 0.0, -1.0)
    assert (z, gx, gy) == (inf, -inf, -inf)


@pytest.mark.parametrize(("x0", "y0"), [(-2.0, 3.0), (-2.0, 2.0), (-8.0, 1.0 / 3.0), (-1.0, 0.0)])
def test_kink_pow_exponent_derivative_at_negative_base(x0: float, y0: float):
    _, _, gy = binary(lambda x, y: x**y, x0, y0)
    assert math.isnan(gy)


def test_kink_div_1_by_0():
    assert binary(lambda a, b: a / b, 1.0, 0.0) == (inf, inf, -inf)


def test_kink_div_0_by_0():
    z, ga, gb = binary(lambda a, b: a / b, 0.0, 0.0)
    assert math.isnan(z)
    assert ga == inf
    assert math.isnan(gb)


# -- PyTorch's formulas where rounding or overflow tell them apart --------------------------


def test_div_denominator_gradient_follows_pytorch_formula():
    # PyTorch: d(a/b)/db = -g * ((a / b) / b); -g * a / (b * b) overflows or underflows
    # at half the exponent range
    for a0, b0 in [(1e300, 1e200), (1e-300, 1e-200), (3.0, 7.0), (-2.5, 1e-170)]:
        _, _, gb = binary(lambda a, b: a / b, a0, b0)
        assert gb == -((a0 / b0) / b0)


# PyTorch computes x ** k for these k by multiplication, sqrt or division, not by pow();
# at each x here C's pow() gives a different last bit
PYTORCH_POWERS = [
    (2.0, 7.964, lambda x: x * x, lambda x: 2.0 * x),
    (3.0, 48.335, lambda x: x * x * x, lambda x: 3.0 * (x * x)),
    (-2.0, 90.613, lambda x: 1.0 / (x * x), lambda x: -2.0 * (x**-3)),
    (0.5, 53.593, math.sqrt, lambda x: 0.5 * (1.0 / math.sqrt(x))),
    (-0.5, 43.243, lambda x: 1.0 / math.sqrt(x), lambda x: -0.5 * math.pow(x, -1.5)),
    (-1.0, 66.939, lambda x: 1.0 / x, lambda x: -1.0 * (1.0 / (x * x))),
]


@pytest.mark.parametrize(("k", "x0", "value", "deriv"), PYTORCH_POWERS)
def test_pow_by_a_number_computes_as_pytorch(
    k: float, x0: float, value: Callable[[float], float], deriv: Callable[[float], float]
):
    assert math.pow(x0, k) != value(x0)  # the point tells the two ways apart
    y, g = unary(lambda x: x**k, x0)
    assert y == value(x0)
    assert g == deriv(x0)


def test_pow_specialisations_keep_ieee_results():
    assert unary(lambda x: x**-1, -0.0) == (-inf, -inf)
    assert unary(lambda x: x**-2, 0.0) == (inf, -inf)
    y, g = unary(lambda x: x**-0.5, -4.0)
    assert math.isnan(y) and math.isnan(g)
    assert unary(lambda x: x**-0.5, 0.0) == (inf, -inf)
    assert unary(lambda x: x**3, 1e200) == (inf, inf)
    y, _ = unary(lambda x: x**0.5, -1.0)
    assert math.isnan(y)


def test_pow_zero_exponent_gradient_is_zero_even_for_infinite_upstream():
    # PyTorch masks the base's gradient to 0 where the exponent is 0, whatever arrives
    for exponent in (0, Value(0.0)):
        x = Value(3.0)
        y = (x**exponent) * inf
        y.backward()
        assert x.grad == 0.0


# -- IEEE 754 results, never Python exceptions or complex numbers -------------------------

IEEE_CASES = [
    ("log(0)", lambda: Value(0.0).log(), -inf),
    ("log(-0.0)", lambda: Value(-0.0).log(), -inf),
    ("log(-1)", lambda: Value(-1.0).log(), nan),
    ("log(inf)", lambda: Value(inf).log(), inf),
    ("1/0", lambda: Value(1.0) / 0, inf),
    ("-1/0", lambda: -1 / Value(0.0), -inf),
    ("1/-0.0", lambda: Value(1.0) / Value(-0.0), -inf),
    ("0/0", lambda: Value(0.0) / Value(0.0), nan),
    ("exp(1000)", lambda: Value(1000.0).exp(), inf),
    ("exp(-1000)", lambda: Value(-1000.0).exp(), 0.0),
    ("sqrt(-1)", lambda: Value(-1.0).sqrt(), nan),
    ("(-8)**(1/3)", lambda: Value(-8.0) ** (1 / 3), nan),
    ("(-8)**Value(1/3)", lambda: Value(-8.0) ** Value(1 / 3), nan),
    ("-8 ** Value(1/3)", lambda: (-8) ** Value(1 / 3), nan),
    ("0**-1", lambda: Value(0.0) ** -1, inf),
    ("(-0.0)**-1", lambda: Value(-0.0) ** -1, -inf),
    ("10**400", lambda: 10 ** Value(400.0), inf),
    ("(-10)**401", lambda: Value(-10.0) ** 401, -inf),
    ("sin(inf)", lambda: Value(inf).sin(), nan),
    ("cos(-inf)", lambda: Value(-inf).cos(), nan),
    ("tanh(inf)", lambda: Value(inf).tanh(), 1.0),
    ("relu(nan)", lambda: Value(nan).relu(), nan),
]


@pytest.mark.parametrize(("text", "make", "expected"), IEEE_CASES, ids=[c[0] for c in IEEE_CASES])
def test_ieee_result(text: str, make: Callable[[], Value], expected: float):
    y = make()
    assert type(y.data) is float  # never complex
    assert same(y.data, expected)
    y.backward()  # the backward pass raises nothing either
    for v in y.inputs:
        assert type(v.grad) is float


def test_ieee_gradients_through_overflow():
    assert unary(Value.exp, 1000.0) == (inf, inf)
    y, g = unary(lambda x: x.sqrt(), -1.0)
    assert math.isnan(y) and math.isnan(g)
    y, g = unary(lambda x: (-8.0) ** x, 1 / 3)
    assert math.isnan(y) and math.isnan(g)
    y, g = unary(lambda x: x ** (1 / 3), -8.0)
    assert math.isnan(y) and math.isnan(g)
