"""Exact (Fraction) and high-precision (mpmath) Values, and `testing.accuracy`."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import pytest
import torch_extra
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, compile, defprim, grad, hessian, save
from microgradx.engine import ExactValue
from microgradx.exact import InexactError
from microgradx.optim import SGD
from microgradx.testing import accuracy


@pytest.fixture
def digits() -> Any:
    with mpmath.workdps(50):
        yield


# -- Fractions stay exact ----------------------------------------------------------------------


def test_microgradx_keeps_fractions_exact_as_micrograd_does() -> None:
    a, b = Value(Fraction(1, 3)), Value(Fraction(2, 7))
    c = a * b + a**2 - b / a
    c.backward()
    assert (c.data, a.grad, b.grad) == (Fraction(-41, 63), Fraction(74, 21), Fraction(-8, 3))
    assert type(a) is ExactValue and all(type(x) is Fraction for x in (c.data, a.grad, b.grad))


def test_every_exact_op_gives_fractions_to_any_order() -> None:
    x = Value(Fraction(-3, 4))
    y = (-x).relu() * 2 + abs(x) * x.sign() - x**3 / (x + 2) - 1 / x
    (g,) = grad(y, [x], create_graph=True)
    (h,) = grad(g, [x])
    x0 = Fraction(-3, 4)
    # by hand, for x < 0: relu(-x) * 2 = -2x, |x| sign(x) = x, and by long division
    # x^3 / (x + 2) = x^2 - 2x + 4 - 8 / (x + 2), so no quotient rule is needed
    want_g = -2 + 1 - (2 * x0 - 2 + 8 / (x0 + 2) ** 2) + 1 / x0**2
    want_h = -(2 - 16 / (x0 + 2) ** 3) - 2 / x0**3
    assert (g.data, h.data) == (want_g, want_h)
    assert type(g.data) is Fraction and type(h.data) is Fraction
    assert hessian(lambda u, v: u * u * v + v / u, [Fraction(1, 3), Fraction(2, 7)]) == [
        [Fraction(16), Fraction(-25, 3)],
        [Fraction(-25, 3), Fraction(0)],
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda x: x.exp(), r"exp\(\) of a Fraction has no exact value; .*mpmath"),
        (lambda x: x.log(), r"log\(\) of a Fraction"),
        (lambda x: x.sqrt(), r"sqrt\(\) of a Fraction"),
        (lambda x: x.tanh(), r"tanh\(\) of a Fraction"),
        (lambda x: x ** Fraction(1, 2), "exponent that is not an integer has no exact value"),
        (lambda x: x / 0, "division by an exact zero has no exact result"),
        (lambda x: x ** Value(Fraction(2)) * 1, None),
    ],
)
def test_an_op_with_no_exact_result_says_so(make: Any, message: str | None) -> None:
    x = Value(Fraction(1, 3))
    if message is None:  # a Value exponent: the forward is exact, d/dy needs log(x)
        y = make(x)
        assert y.data == Fraction(1, 9)
        with pytest.raises(InexactError, match=r"log\(\) of a Fraction"):
            y.backward()
        return
    with pytest.raises(InexactError, match=message):
        make(x)


def test_a_fraction_meeting_a_float_gives_a_float_as_in_python() -> None:
    a = Value(Fraction(1, 3))
    for y in (a * 2.5, 2.5 * a, a * Value(2.5), Value(2.5) * a):
        assert type(y) is Value and y.data == Fraction(1, 3) * 2.5
        y.backward()
    assert type(a.grad) is float and a.grad == 4 * 2.5
    assert type((a * 2).data) is Fraction  # an int is exact


def test_mpmath_and_fractions_do_not_mix() -> None:
    with pytest.raises(TypeError, match=r"cannot mix Fraction and mpmath numbers.*mpf, Fraction"):
        Value(mpmath.mpf(1)) * Value(Fraction(1, 2))
    with pytest.raises(TypeError, match="cannot mix Fraction and mpmath numbers"):
        Value(Fraction(1, 2)) + mpmath.mpf(1)


# -- an independent exact differentiator: dual numbers over Fractions -------------------------


class Dual:
    """value + sum(d_i * e_i): forward-mode derivatives, exactly, for checking."""

    def __init__(self, v: Fraction, d: tuple[Fraction, ...]) -> None:
        self.v, self.d = v, d

    def __add__(self, o: Dual) -> Dual:
        return Dual(self.v + o.v, tuple(a + b for a, b in zip(self.d, o.d, strict=True)))

    def __sub__(self, o: Dual) -> Dual:
        return Dual(self.v - o.v, tuple(a - b for a, b in zip(self.d, o.d, strict=True)))

    def __mul__(self, o: Dual) -> Dual:
        d = tuple(a * o.v + self.v * b for a, b in zip(self.d, o.d, strict=True))
        return Dual(self.v * o.v, d)

    def __truediv__(self, o: Dual) -> Dual:
        d = tuple((a * o.v - self.v * b) / o.v**2 for a, b in zip(self.d, o.d, strict=True))
        return Dual(self.v / o.v, d)

    def ipow(self, k: int) -> Dual:
        return Dual(self.v**k, tuple(k * self.v ** (k - 1) * a for a in self.d))

    def scale(self, s: Fraction) -> Dual:
        return Dual(self.v * s, tuple(a * s for a in self.d))


rational = st.fractions(min_value=-5, max_value=5, max_denominator=12)
steps = st.lists(
    st.tuples(
        st.sampled_from(["add", "sub", "mul", "div", "pow2", "pow3", "neg", "abs", "relu"]),
        st.integers(0, 100),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=7,
)


def _run(ops: list[tuple[str, int, int]], nodes: list[Any], dual: bool) -> Any:
    for op, i, j in ops:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == "add":
            nodes.append(a + b)
        elif op == "sub":
            nodes.append(a - b)
        elif op == "mul":
            nodes.append(a * b)
        elif op == "div":
            nodes.append(a / b)
        elif op in ("pow2", "pow3"):
            k = 2 if op == "pow2" else 3
            nodes.append(a.ipow(k) if dual else a**k)
        elif op == "neg":
            nodes.append(a.scale(Fraction(-1)) if dual else -a)
        else:  # abs, relu: piecewise linear, away from 0 (the cases keep a != 0)
            positive = (a.v if dual else a.data) > 0
            s = Fraction(1 if positive else (-1 if op == "abs" else 0))
            nodes.append(a.scale(s) if dual else (abs(a) if op == "abs" else a.relu()))
    return nodes[-1]


@settings(max_examples=120, deadline=None)
@given(steps, st.lists(rational, min_size=2, max_size=2))
def test_fraction_gradients_equal_exact_dual_numbers(
    ops: list[tuple[str, int, int]], point: list[Fraction]
) -> None:
    n = len(point)
    duals = [Dual(p, tuple(Fraction(int(i == k)) for k in range(n))) for i, p in enumerate(point)]
    try:
        want = _run(ops, duals, dual=True)
    except ZeroDivisionError:
        return  # the graph divides by an exact zero: no exact answer either way
    if any(d.v == 0 for d in duals) or want.v == 0:
        return  # at a kink of abs or relu the conventions, not calculus, decide
    xs = [Value(p) for p in point]
    out = _run(ops, list(xs), dual=False)
    assert out.data == want.v
    gs = grad(out, xs, allow_unused=True)
    assert [g.data for g in gs] == list(want.d)
    assert all(type(g.data) is Fraction for g in gs)


# -- mpmath: high precision ---------------------------------------------------------------------


@pytest.mark.usefixtures("digits")
def test_tanh_and_sigmoid_derivatives_far_out_are_not_zero_at_high_precision() -> None:
    x = Value(mpmath.mpf(20))
    (g,) = grad(x.tanh(), [x])
    assert float(g.data) == 1.6993417021166356e-17
    x = Value(mpmath.mpf(40))
    (g,) = grad(x.sigmoid(), [x])
    assert float(g.data) == 4.248354255291589e-18
    assert Value(20.0).tanh().data == 1.0  # in float64 both derivatives are 0.0


TRANSCENDENTAL = {
    "exp": lambda v: v.exp(),
    "log": lambda v: abs(v).log(),
    "sqrt": lambda v: abs(v).sqrt(),
    "sin": lambda v: v.sin(),
    "cos": lambda v: v.cos(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "mul": None,
    "add": None,
    "pow": None,
}


def _transcendental(ops: list[tuple[str, int, int]], nodes: list[Any]) -> Any:
    for op, i, j in ops:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        f = TRANSCENDENTAL[op]
        if f is not None:
            nodes.append(f(a))
        elif op == "mul":
            nodes.append(a * b)
        elif op == "add":
            nodes.append(a + b)
        else:
            nodes.append(abs(a) ** 1.5)
    return nodes[-1]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(TRANSCENDENTAL)), st.integers(0, 9), st.integers(0, 9)),
        min_size=1,
        max_size=5,
    ),
    st.floats(0.3, 1.7),
)
def test_mpmath_gradients_agree_with_mpmath_diff_to_40_digits(
    ops: list[tuple[str, int, int]], x0: float
) -> None:
    with mpmath.workdps(50):
        x = Value(mpmath.mpf(x0))
        out = _transcendental(ops, [x])
        (g,) = grad(out, [x], allow_unused=True)

        def f(t: Any) -> Any:
            return _transcendental(ops, [Value(t)]).data

        reference = mpmath.diff(f, mpmath.mpf(x0))
        scale = max(1, abs(reference))
        assert abs(g.data - reference) <= mpmath.mpf(10) ** -40 * scale


@pytest.mark.usefixtures("digits")
def test_kinks_and_edges_hold_at_high_precision() -> None:
    def at(f: Any, x0: Any) -> tuple[Any, Any]:
        x = Value(mpmath.mpf(x0))
        y = f(x)
        y.backward()
        return y.data, x.grad

    inf = mpmath.inf
    assert at(lambda x: x.relu(), 0) == (0, 0)
    assert at(lambda x: abs(x), 0) == (0, 0)
    assert at(lambda x: x.sqrt(), 0) == (0, inf)
    assert at(lambda x: x.log(), 0) == (-inf, inf)
    value, slope = at(lambda x: x.log(), -1)
    assert mpmath.isnan(value) and slope == -1
    assert at(lambda x: x**2, 0) == (0, 0)
    value, _ = at(lambda x: x ** (1 / 3), -8)
    assert mpmath.isnan(value)
    assert at(lambda x: 1 / x, 0)[0] == inf


def test_a_user_op_runs_on_exact_and_high_precision_numbers() -> None:
    square = defprim("exact_square", "x * x", "g * 2 * x", methods=("exact_square",))
    a = Value(Fraction(2, 3))
    b = a.exact_square()  # type: ignore[attr-defined]
    b.backward()
    assert (b.data, a.grad) == (Fraction(4, 9), Fraction(4, 3))
    assert square(Fraction(1, 2)) == Fraction(1, 4)  # numbers in, a number out
    softplus = defprim("exact_softplus", "log1p(exp(x))", "g * sigmoid(x)")
    with mpmath.workdps(30):
        x = Value(mpmath.mpf(1))
        y = softplus(x)
        y.backward()
        assert abs(x.grad - 1 / (1 + mpmath.exp(-1))) < mpmath.mpf(10) ** -29
    python_forward = defprim("exact_pyfn", lambda x: 2 * x, "2 * g")
    with pytest.raises(TypeError, match="forward given as a Python function runs on floats"):
        python_forward(Value(Fraction(1, 2)))


# -- what refuses exact numbers -----------------------------------------------------------------


def test_optimizers_checkpoints_and_compile_refuse_exact_numbers(tmp_path: Any) -> None:
    p = Value(Fraction(1, 2))
    with pytest.raises(TypeError, match=r"optimizers update float Values; params\[0\].*Fraction"):
        SGD([p], lr=0.1)
    with pytest.raises(TypeError, match=r"save\(\): .* is a Fraction; a checkpoint holds floats"):
        save({"w": Fraction(1, 2)}, tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
    with pytest.raises(TypeError, match=r"compile: .*Fraction"):
        compile(lambda x: x * p, 1.0)
    with pytest.raises(TypeError, match=r"compile: argument\[0\] is a Fraction"):
        compile(lambda x: x * 2, Fraction(1, 3))


def test_float_values_are_not_touched() -> None:
    x = Value(3)
    assert type(x) is Value and type(x.data) is float
    assert type((x * 2).data) is float and type(x.grad) is float


# -- accuracy ------------------------------------------------------------------------------------


def test_accuracy_reports_zero_ulps_where_float64_is_correctly_rounded() -> None:
    report = accuracy(lambda x, y: x * y + x, [3.0, 0.5])
    assert report.worst == 0.0
    assert [r.what for r in report.rows] == ["value", "d/dx0", "d/dx1"]
    assert report.row("d/dx1").reference == 3.0


def test_accuracy_shows_the_error_of_tanh_far_out() -> None:
    report = accuracy(lambda x: x.tanh(), [20.0])
    row = report.row("d/dx0")
    assert (row.float64, row.reference) == (0.0, 1.6993417021166356e-17)
    assert row.ulps > 1e15 and report.worst == row.ulps
    assert row.exact.startswith("1.699341702116635583692882810380141815485")
    text = str(report)
    assert "d/dx0" in text and "1.6993417021166355e-17" in text and "ULPs" in text


def test_accuracy_refuses_bad_input() -> None:
    with pytest.raises(TypeError, match="expected a function"):
        accuracy(3, [1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dps must be at least 17"):
        accuracy(lambda x: x, [1.0], dps=10)
    with pytest.raises(ValueError, match="unknown oracle"):
        accuracy(lambda x: x, [1.0], oracles=("jax",))
    with pytest.raises(TypeError, match="inputs\\[0\\]"):
        accuracy(lambda x: x, ["a"])  # type: ignore[list-item]


def test_accuracy_puts_pytorch_beside_when_it_is_installed() -> None:
    torch_extra.torch_or_skip()
    report = accuracy(lambda x: x.tanh(), [20.0], oracles=("torch",))
    torch_value, torch_ulps = report.row("d/dx0").oracles["torch"]
    assert torch_value == 0.0 and torch_ulps > 1e15
    assert math.isclose(report.row("value").oracles["torch"][0], 1.0)
