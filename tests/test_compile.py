"""``microgradx.compile``: the generated float code gives the eager engine's numbers."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradx
from microgradx import Value, compile, defprim, grad, no_grad
from microgradx.compile import TraceError
from microgradx.nn import MLP


def same(a: float, b: float, tol: float = 1e-12) -> bool:
    """Equal to ``tol`` (relative and absolute), with nan == nan and matching infinities."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def eager(
    fn: Callable[..., Value], params: list[Value], *args: float
) -> tuple[float, list[float], list[float]]:
    xs = [Value(a) for a in args]
    out = fn(*xs)
    gs = grad(out, [*params, *xs], allow_unused=True)
    d = [g.data for g in gs]
    return out.data, d[: len(params)], d[len(params) :]


def assert_same(
    got: tuple[float, list[float], list[float]], want: tuple[float, list[float], list[float]]
) -> None:
    assert same(got[0], want[0]), (got[0], want[0])
    for g, w in zip(got[1] + got[2], want[1] + want[2], strict=True):
        assert same(g, w), (got, want)


# -- random expression graphs ------------------------------------------------------------

UNARY: dict[str, Callable[[Value], Value]] = {
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sqrt": lambda a: a.sqrt(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "relu": lambda a: a.relu(),
    "sin": lambda a: a.sin(),
    "cos": lambda a: a.cos(),
    "abs": lambda a: abs(a),
    "neg": lambda a: -a,
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "inverse": lambda a: a**-1,
    "halfpow": lambda a: a**0.5,
}
BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "radd": lambda a, b: 2.5 + a,
    "rsub": lambda a, b: 1.0 - b,
    "rdiv": lambda a, b: 1.0 / a,
    "rpow": lambda a, b: 2.0**b,
}
step = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 50), st.just(0)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 50), st.integers(0, 50)),
)
number = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.5]),
    st.floats(-3, 3, allow_nan=False, allow_infinity=False),
)


def program(steps: list[tuple[str, int, int]], w: Value) -> Callable[..., Value]:
    def f(x: Value, y: Value) -> Value:
        nodes = [x, y, w]
        for op, i, j in steps:
            a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
            nodes.append(UNARY[op](a) if op in UNARY else BINARY[op](a, b))
        return nodes[-1] + nodes[-2] * 0.5

    return f


@given(st.lists(step, min_size=1, max_size=8), number, number, number, number, number)
def test_random_graphs_compiled_equals_eager(steps, w0, x0, y0, x1, y1):
    w = Value(w0)
    f = program(steps, w)
    c = compile(f, x0, y0)
    for x, y in ((x0, y0), (x1, y1)):
        want = eager(f, list(c.params), x, y)
        assert_same(c.value_and_grad(x, y), want)
        assert same(c(x, y), want[0])


# -- the moons MLP -------------------------------------------------------------------------


def moons_step_data(n: int = 12) -> tuple[list[list[float]], list[int]]:
    rng = random.Random(3)
    return [[rng.uniform(-1, 2), rng.uniform(-1, 1)] for _ in range(n)], [
        rng.choice([-1, 1]) for _ in range(n)
    ]


def test_mlp_batch_loss_and_gradients_equal_eager():
    xs, ys = moons_step_data()
    model = MLP(2, [8, 8, 1], seed=1)
    params = model.parameters()
    hinge = compile(lambda x, y: (1 + -y * model(x)).relu(), xs[0], ys[0])
    reg = compile(lambda: 1e-4 * sum(p * p for p in params))
    assert set(map(id, hinge.params)) == set(map(id, params))

    model.zero_grad()
    loss_c = hinge.backward_batch(xs, ys) + reg.backward()
    grads_c = [p.grad for p in params]

    model.zero_grad()
    losses = [(1 + -y * model(x)).relu() for x, y in zip(xs, ys, strict=True)]
    total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
    total.backward()
    assert same(loss_c, total.data)
    assert any(g != 0.0 for g in grads_c)
    for g, p in zip(grads_c, params, strict=True):
        assert same(g, p.grad), (g, p.grad)
    assert hinge.fallbacks == 0


def test_backward_batch_sum_and_accumulation_into_grad():
    w = Value(0.3)
    c = compile(lambda x: (w * x - 1.0) ** 2, 0.0)
    xs = [0.5, -1.0, 2.0]
    total = c.backward_batch(xs, reduction="sum")
    assert same(total, sum((0.3 * x - 1.0) ** 2 for x in xs))
    want = sum(2 * (0.3 * x - 1.0) * x for x in xs)
    assert same(w.grad, want)
    c.backward_batch(xs, reduction="sum")  # adds, like a second backward()
    assert same(w.grad, 2 * want)
    w.grad = 0.0
    mean = c.backward_batch(xs)
    assert same(mean, total / 3) and same(w.grad, want / 3)


def test_single_example_backward_writes_grad_like_eager():
    a, b = Value(1.5, label="a"), Value(-0.5, label="b")
    c = compile(lambda x: (a * x + b).tanh() * a, 0.2)
    value = c.backward(0.7)
    out = (a * 0.7 + b).tanh() * a
    grads = grad(out, [a, b])
    assert same(value, out.data)
    assert same(a.grad, grads[0].data) and same(b.grad, grads[1].data)
    assert c.params == (a, b)


def test_a_function_returning_an_input_or_a_parameter():
    w = Value(2.0)
    assert compile(lambda x: x, 1.0).value_and_grad(3.0) == (3.0, [], [1.0])
    c = compile(lambda x: w, 1.0)
    assert c.value_and_grad(3.0) == (2.0, [1.0], [0.0])
    assert c.backward_batch([1.0, 2.0], reduction="sum") == 4.0 and w.grad == 2.0


def test_parameters_are_read_live():
    w = Value(2.0)
    c = compile(lambda x: w * x, 1.0)
    assert c(3.0) == 6.0
    w.data = -1.0
    assert c(3.0) == -3.0


# -- kinks and IEEE edge cases --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "x", "value", "derivative"),
    [
        (lambda x: x.relu(), 0.0, 0.0, 0.0),
        (lambda x: x.relu(), -1.0, 0.0, 0.0),
        (lambda x: x.relu(), 2.0, 2.0, 1.0),
        (lambda x: abs(x), 0.0, 0.0, 0.0),
        (lambda x: abs(x), -3.0, 3.0, -1.0),
        (lambda x: x.sqrt(), 0.0, 0.0, math.inf),
        (lambda x: x.log(), 0.0, -math.inf, math.inf),
        (lambda x: x.log(), -1.0, math.nan, -1.0),
        (lambda x: x**0, 0.0, 1.0, 0.0),
        (lambda x: x**1, 0.0, 0.0, 1.0),
        (lambda x: x**2, 0.0, 0.0, 0.0),
        (lambda x: x**0.5, 0.0, 0.0, math.inf),
        (lambda x: x**-1, 0.0, math.inf, -math.inf),
        (lambda x: 1.0 / x, 0.0, math.inf, -math.inf),
        (lambda x: x.exp(), 1000.0, math.inf, math.inf),
        (lambda x: (x * -1.0) ** (1 / 3), 8.0, math.nan, math.nan),
    ],
)
def test_kinks_and_ieee_edges_match_the_design_table(fn, x, value, derivative):
    trace_at = 0.25 if x <= 0 else x + 1.0  # traced away from the edge; the edge comes later
    c = compile(fn, trace_at)
    v, _, (d,) = c.value_and_grad(x)
    assert same(v, value) and same(d, derivative), (v, d)
    assert_same(c.value_and_grad(x), eager(fn, [], x))


def test_division_at_zero_for_both_inputs():
    c = compile(lambda a, b: a / b, 1.0, 2.0)
    assert c.value_and_grad(1.0, 0.0) == (math.inf, [], [math.inf, -math.inf])
    v, _, (da, db) = c.value_and_grad(0.0, 0.0)
    assert math.isnan(v) and da == math.inf and math.isnan(db)


def test_power_with_a_value_exponent_at_zero_base():
    c = compile(lambda x, y: x**y, 1.0, 1.0)
    assert c.value_and_grad(0.0, 2.0)[2] == [0.0, 0.0]
    assert c.value_and_grad(0.0, -1.0)[2][1] == -math.inf
    assert math.isnan(c.value_and_grad(-2.0, 0.5)[2][1])


def test_fast_code_that_raises_falls_back_to_ieee_code():
    c = compile(lambda x: x.log() + 1.0 / x, 1.0)
    assert "_ls_log" not in c.source and "_ls_log" in c.safe_source  # safe calls only in safe code
    v, _, (d,) = c.value_and_grad(0.0)
    assert math.isnan(v)  # -inf + inf
    assert math.isnan(d)  # inf - inf
    total = c.backward_batch([1.0, 0.0], reduction="sum")  # one bad row: the batch reruns safely
    assert math.isnan(total)


# -- Python control flow on data ---------------------------------------------------------


def test_comparisons_are_guards_and_other_branches_run_eagerly():
    w = Value(2.0)

    def f(x: Value) -> Value:
        if x > 0:  # a Python branch on data: recorded while tracing
            return w * x
        return w * x * x

    c = compile(f, 1.0)
    assert "if not (a0 > 0.0):" in c.source
    assert c(3.0) == 6.0 and c.fallbacks == 0
    assert c(-3.0) == 18.0 and c.fallbacks == 1
    assert_same(c.value_and_grad(-3.0), eager(f, [w], -3.0))
    w.grad = 0.0
    total = c.backward_batch([1.0, -1.0, 2.0], reduction="sum")
    assert total == 2.0 + 2.0 + 4.0
    assert w.grad == 1.0 + 1.0 + 2.0
    assert c.fallbacks == 3


def test_max_of_values_is_guarded():
    c = compile(lambda a, b: max(a, b) * 2.0, 1.0, 2.0)
    assert c(1.0, 2.0) == 4.0
    assert c(5.0, 2.0) == 10.0 and c.fallbacks == 1


def test_comparison_patch_is_removed_after_tracing():
    before = Value.__lt__, Value.__dict__["data"]
    compile(lambda x: x * 2.0, 1.0)
    assert (Value.__lt__, Value.__dict__["data"]) == before


def test_no_grad_results_inside_the_function_are_refused():
    w = Value(3.0)

    def f(x: Value) -> Value:
        with no_grad():
            frozen = w * 2.0
        return frozen * x

    with pytest.raises(
        TraceError, match=r"frozen = w \* 2.0`\) computes with a traced Value inside"
    ):
        compile(f, 1.0)


# -- the generated source, the API ---------------------------------------------------------


def test_source_is_straight_line_code_from_the_rules():
    w = Value(0.5)
    c = compile(lambda x: (w * x).relu(), 3.0)
    src = c.source
    assert "def value_fast(p, a):" in src and "def backward_batch_fast(p, columns, weight):" in src
    assert "v0 = p0 * a0" in src
    # relu's forward and rule (g = 1) from the table, whole numbers written as floats
    assert "v1 = 0.0 if v0 < 0.0 else v0" in src
    assert "dv0 = 0.0 if v1 <= 0.0 else 1.0" in src
    assert "dp0 += dv0 * a0" in src  # mul's rule
    assert "class " not in src and "Value" not in src.replace("value", "")


def test_decorator_form_traces_on_first_call():
    w = Value(2.0)

    @compile
    def f(x: Value) -> Value:
        return w * x + 1.0

    assert "not traced" in repr(f)
    assert f(3.0) == 7.0
    assert "2 operations" in repr(f)
    assert f.backward(4.0) == 9.0 and w.grad == 4.0


def test_nested_arguments_and_values_as_arguments():
    w = Value(1.5)
    c = compile(lambda pair, k: (pair[0] * w + pair[1]) * k, [1.0, 2.0], 3.0)
    assert c([Value(2.0), 1.0], 2) == (2.0 * 1.5 + 1.0) * 2
    _, dp, da = c.value_and_grad([2.0, 1.0], 2.0)
    assert dp == [4.0] and da == [3.0, 2.0, 4.0]


def test_user_defined_primitive_is_compiled_from_its_rules():
    name = f"softplus_{uuid.uuid4().hex[:8]}"
    softplus = defprim(name, "log1p(exp(x))", "g * sigmoid(x)")
    w = Value(0.7)
    c = compile(lambda x: softplus(w * x), 2.0)
    assert_same(c.value_and_grad(-1.3), eager(lambda x: softplus(w * x), [w], -1.3))
    plain = defprim(f"cube_{uuid.uuid4().hex[:8]}", lambda t: t * t * t, "g * 3 * x * x")
    c = compile(lambda x: plain(x) + w, 2.0)
    assert c.value_and_grad(2.0) == (8.7, [1.0], [12.0])


def test_whole_numbers_are_written_as_floats_except_where_an_int_is_needed():
    octuple = defprim(f"octuple_{uuid.uuid4().hex[:8]}", "ldexp(x, 3)", "g * 8")
    w = Value(0.5)
    c = compile(lambda x: octuple(w * x), 3.0)
    assert "ldexp(p0 * a0, 3)" in c.source  # ldexp takes an int: left as it is
    assert "dv0 = 1.0 * 8.0" in c.source
    assert c.value_and_grad(2.0) == (8.0, [16.0], [4.0])
    assert c.backward_batch([2.0, -1.0], reduction="sum") == 4.0


def test_additions_of_a_zero_adjoint_are_skipped_only_when_they_change_nothing():
    ws = [Value(-1.0), Value(0.5), Value(0.25)]
    b = Value(0.1)

    def unit(x1: Value, x2: Value, x3: Value) -> Value:
        return (ws[0] * x1 + ws[1] * x2 + ws[2] * x3 + b).relu()

    c = compile(unit, 1.0, 1.0, 1.0)
    assert "if dv" in c.source and " != 0.0 or not finite:" in c.source
    for point in [(1.0, 1.0, 1.0), (5.0, 1.0, 1.0), (math.inf, 1.0, 2.0), (math.nan, 0.0, 0.0)]:
        want = eager(unit, [*ws, b], *point)
        got = c.value_and_grad(*point)
        assert_same(got, want)
        if point[0] == 5.0:  # relu off: the gradients are exact zeros, as in the engine
            assert got[1] == [0.0] * 4 and all(math.copysign(1, d) == 1 for d in got[1])
    assert math.isnan(c.value_and_grad(math.inf, 1.0, 2.0)[1][0])  # 0 * inf, as the engine
    for q in [*ws, b]:
        q.grad = 0.0
    total = c.backward_batch([5.0, math.inf, -1.0], [1.0] * 3, [1.0, 2.0, 1.0], reduction="sum")
    assert total == 1.85 and math.isnan(ws[0].grad) and (ws[1].grad, b.grad) == (1.0, 1.0)


def test_compile_is_exported():
    assert microgradx.compile is compile and "compile" in microgradx.__all__


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c([1.0, 2.0]), ValueError, "do not match"),
        (lambda c: c("x"), TypeError, "str"),
        (lambda c: c.backward_batch([1.0], [2.0]), ValueError, "do not match"),
        (lambda c: c.backward_batch([]), ValueError, "empty"),
        (lambda c: c.backward_batch([1.0, "a"]), TypeError, "numbers"),
        (lambda c: c.backward_batch([1.0, 2.0], reduction="max"), ValueError, "reduction"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    call: Callable[[Any], Any], error: type, match: str
):
    w = Value(2.0)
    c = compile(lambda x: w * x, 1.0)
    with pytest.raises(error, match=match):
        call(c)
    assert w.grad == 0.0


def test_bad_functions_are_refused():
    with pytest.raises(TypeError, match="function"):
        compile(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must return a Value"):
        compile(lambda x: 3.0, 1.0)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="real number"):
        compile(lambda x: x, None)
