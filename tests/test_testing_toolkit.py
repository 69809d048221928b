"""Tests of microgradx.testing: gradcheck, gradgradcheck, check_op and the strategies.

The heart of it: deliberately wrong derivative rules (registered with ``defprim`` under
unique names) must be caught by ``gradcheck`` at a point, by ``check_op`` at random
points and by a property test over random expressions, each with a shrunk example.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Value, defprim
from microgradx.ops import TABLE
from microgradx.primitive import REGISTRY
from microgradx.testing import (
    WEIGHT,
    GradcheckError,
    check_op,
    close,
    gradcheck,
    gradgradcheck,
)
from microgradx.testing.strategies import (
    DOMAINS,
    Domain,
    Expression,
    Node,
    domains_of,
    expressions,
    floats_away_from,
    register_domain,
    values,
)

# -- deliberately wrong derivative rules (the names are global: keep them unique) ---------

sin_sign = defprim("_test_toolkit_sin_sign", "sin(x)", "g * -cos(x)")  # sign error
cube_factor = defprim("_test_toolkit_cube_factor", "x ** 3", "g * x * x")  # missing 3
region = defprim(  # right for x <= 2, wrong above: d/dx is 1 / (x - 1) there
    "_test_toolkit_region", "x if x <= 2 else 2 + log(x - 1)", "g if x <= 2 else g / x"
)
hypot_y = defprim(  # the second input's rule copies the first's
    "_test_toolkit_hypot_y", "sqrt(x * x + y * y)", "g * x / out", "g * x / out"
)
double_no_g = defprim("_test_toolkit_double_no_g", "2 * x", "2")  # ignores the incoming g
sin_1pct = defprim("_test_toolkit_sin_1pct", "sin(x)", "g * cos(x) * 1.01")  # 1% too large
# right first derivative, wrong second: mysin's rule calls mycos, whose own rule has a sign error
mycos = defprim("_test_toolkit_mycos", "cos(x)", "g * sin(x)")
mysin = defprim("_test_toolkit_mysin", "sin(x)", "g * _test_toolkit_mycos(x)")
# correct ones
softplus = defprim("_test_toolkit_softplus", "log1p(exp(x))", "g * sigmoid(x)")
acosh = defprim("_test_toolkit_acosh", "log(x + sqrt(x * x - 1))", "g / sqrt(x * x - 1)")
register_domain(acosh, Domain(low=1.0))

# (op, a point where it is wrong, arity) for the first-order cases
WRONG_FIRST_ORDER = [
    (sin_sign, (0.5,)),
    (cube_factor, (2.0,)),
    (region, (3.0,)),
    (hypot_y, (3.0, 4.0)),
    (double_no_g, (1.0,)),
    (sin_1pct, (0.3,)),
]


def _scaled(op: Callable[..., Value], w: float) -> Callable[..., Value]:
    return lambda *xs: op(*xs) * w


# -- gradcheck ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "point"),
    [
        (lambda x, y: x * y.sin(), [2.0, 0.5]),
        (lambda x, y: x**y, [1.7, -0.6]),
        (lambda x: (x * x).log() + x.tanh() * x.sigmoid(), [0.8]),
        (lambda x, y: x / y - (x * 3).exp() + abs(y).sqrt(), [0.2, -1.5]),
        (lambda x, y: x * 2.0, [1.0, 5.0]),  # y unused: gradient 0 on both sides
        (lambda x: Value(3.0), [1.0]),  # ignores its input
        (softplus, [-0.7]),
        (acosh, [1.5]),
    ],
)
def test_gradcheck_passes_on_correct_derivatives(f: Callable[..., Value], point: list[float]):
    assert gradcheck(f, point) is True
    assert microgradx.gradcheck is gradcheck


@pytest.mark.parametrize(("op", "point"), WRONG_FIRST_ORDER)
def test_gradcheck_catches_each_wrong_rule(op: Callable[..., Value], point: tuple[float, ...]):
    # the op alone, with an incoming gradient other than 1 (double_no_g needs that)
    with pytest.raises(GradcheckError, match="disagree with central differences"):
        gradcheck(_scaled(op, -2.5), point)
    assert gradcheck(_scaled(op, -2.5), point, raise_exception=False) is False


def test_gradcheck_message_is_a_table_of_every_partial():
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: hypot_y(x, y), [3.0, 4.0])
    err = info.value
    lines = str(err).splitlines()
    assert lines[0] == "gradcheck: 1 of 2 partial derivatives disagree with central differences"
    header = lines[3].split()
    assert header == ["input", "value", "analytic", "numeric", "abs", "err", "rel", "err"]
    x0, x1 = lines[4].split(), lines[5].split()
    assert x0[:3] == ["x0", "3", "0.6"] and "mismatch" not in lines[4]
    # d/dy sqrt(x*x + y*y) at (3, 4) is 0.8; the wrong rule gives x / out = 0.6
    assert x1[:4] == ["x1", "4", "0.6", "0.8"] and lines[5].endswith("<- mismatch")
    assert [m.label for m in err.mismatches] == ["x1"]
    (m,) = err.mismatches
    assert m.analytic == pytest.approx(0.6) and m.numeric == pytest.approx(0.8, rel=1e-8)
    assert m.abs_err == pytest.approx(0.2, rel=1e-8) and m.rel_err == pytest.approx(0.25, rel=1e-7)
    assert isinstance(err, AssertionError)  # reads as a test failure under pytest


def test_tolerances_are_the_documented_rule():
    assert close(1.0, 1.0 + 1e-3, atol=0.0, rtol=1e-3)
    assert not close(1.0, 1.0 + 2e-3, atol=0.0, rtol=1e-3)
    assert close(1e-6, 0.0, atol=1e-5, rtol=0.0)
    assert close(math.nan, math.nan, 0.0, 0.0) and not close(math.nan, 1.0, 1.0, 1.0)
    assert close(math.inf, math.inf, 0.0, 0.0) and not close(math.inf, -math.inf, 1.0, 1.0)
    assert not close(math.inf, 1e300, 1.0, 1.0)
    # 1% off passes a loose check and fails the default one
    assert gradcheck(sin_1pct, [0.3], rtol=0.05)
    assert not gradcheck(sin_1pct, [0.3], raise_exception=False)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: gradcheck(lambda x: x, 1.0), TypeError, "sequence of numbers.*float"),
        (lambda: gradcheck(lambda x: x, []), ValueError, "inputs is empty"),
        (lambda: gradcheck(lambda x: x, ["a"]), TypeError, r"inputs\[0\].*str"),
        (lambda: gradcheck(lambda x: x, [1.0], eps=0.0), ValueError, "eps must be a finite pos"),
        (lambda: gradcheck(lambda x: x, [1.0], rtol=-1), ValueError, "rtol"),
        (lambda: gradcheck(lambda x: x, [1.0], atol="1"), TypeError, "atol must be a float"),
        (lambda: gradcheck(lambda x: 2.0, [1.0]), TypeError, "f must return a Value, got float"),
        (lambda: gradgradcheck(lambda x: x, "ab"), TypeError, "sequence of numbers"),
    ],
)
def test_bad_arguments_are_refused_clearly(
    call: Callable[[], object], error: type[Exception], message: str
):
    with pytest.raises(error, match=message):
        call()


def test_gradcheck_accepts_values_as_the_point_and_leaves_them_alone():
    x = Value(0.4)
    assert gradcheck(lambda a: a.exp() * a, [x, 2][:1])
    assert x.grad == 0.0 and x.data == 0.4


# -- gradgradcheck ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "point"),
    [
        (lambda x, y: x * x * y.exp(), [1.5, -0.5]),
        (lambda x, y: (x * y).sin() + x**3 / y, [0.7, 1.3]),
        (lambda x: x.sigmoid().log(), [0.2]),
        (lambda x, y: x + y, [1.0, 2.0]),  # all second derivatives 0
        (softplus, [0.3]),
    ],
)
def test_gradgradcheck_passes_on_correct_second_derivatives(
    f: Callable[..., Value], point: list[float]
):
    assert gradgradcheck(f, point) is True
    assert microgradx.gradgradcheck is gradgradcheck


def test_a_wrong_second_derivative_passes_gradcheck_and_fails_gradgradcheck():
    assert gradcheck(mysin, [0.5])  # the first derivative is right
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(mysin, [0.5])
    text = str(info.value)
    assert text.startswith("gradgradcheck: 1 of 1 second derivatives disagree")
    (m,) = info.value.mismatches
    assert m.label == "d2f/dx0dx0"
    assert m.analytic == pytest.approx(math.sin(0.5)) and m.numeric == pytest.approx(
        -math.sin(0.5), rel=1e-6
    )
    assert not gradgradcheck(mysin, [0.5], raise_exception=False)


def test_gradgradcheck_checks_mixed_partials():
    # hypot_y's wrong d/dy rule reaches the second derivatives through d/dy of the
    # gradient (row dx1) and through `out` in the right d/dx rule (entry dx0dx1), never
    # d2f/dx0dx0
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda x, y: hypot_y(x, y) * 2.0, [3.0, 4.0])
    labels = {m.label for m in info.value.mismatches}
    assert labels == {"d2f/dx0dx1", "d2f/dx1dx1"}


# -- check_op -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [r.name for r in TABLE])
def test_every_builtin_op_passes_check_op_to_second_order(name: str):
    # dogfooding: the engine's own table, at random points off each op's kinks and edges
    check_op(name, order=2)


def test_check_op_passes_on_correct_user_ops():
    check_op(softplus, order=2)
    check_op(acosh, order=2, high=5.0)  # the registered domain (1, inf) is used
    check_op("_test_toolkit_softplus", low=-3, high=3, max_examples=10)


@pytest.mark.parametrize(("op", "point"), WRONG_FIRST_ORDER)
def test_check_op_catches_each_wrong_rule_with_a_shrunk_point(
    op: Callable[..., Value], point: tuple[float, ...]
):
    name = REGISTRY.by_name[op.name].name  # type: ignore[attr-defined]
    with pytest.raises(GradcheckError) as info:
        check_op(op)
    first = str(info.value).splitlines()[0]
    match = re.fullmatch(rf"check_op\({name}\) failed for (.*) at (.*)", first)
    assert match, first
    shrunk = [float(v) for v in re.findall(r"x\d = (\S+?)(?:,|$)", match.group(2))]
    assert len(shrunk) == len(point)
    # Hypothesis shrinks to simple numbers: integers where the rule is wrong at one
    assert all(x == int(x) for x in shrunk), shrunk
    if op is region:
        assert shrunk[0] > 2  # the only region where it is wrong
    if op is double_no_g:
        assert match.group(1) == f"{name}(...) * {WEIGHT}"  # only the weighted check sees it


def test_check_op_second_order_catches_the_wrong_second_derivative():
    check_op(mysin, order=1)  # first order cannot see it
    with pytest.raises(GradcheckError, match=r"check_op\(_test_toolkit_mysin\) failed"):
        check_op(mysin, order=2)


def test_check_op_keeps_off_the_kinks_it_is_given():
    # relu's finite difference straddling 0 would be 0.5; points keep 1e-3 away from 0,
    # farther than eps, so check_op passes; a margin below eps would not keep it off
    check_op("relu", kinks=[0.0], low=-1e-2, high=1e-2, max_examples=30)
    seen: list[float] = []
    check = floats_away_from([0.0], -1e-2, 1e-2, margin=1e-3)

    @settings(max_examples=100, database=None)
    @given(check)
    def inside(x: float) -> None:
        seen.append(x)
        assert abs(x) > 1e-3 and -1e-2 <= x <= 1e-2

    inside()
    assert len(seen) >= 50


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"op": "no_such_op"}, ValueError, "unknown primitive 'no_such_op'"),
        ({"op": 3}, TypeError, "primitive or its name, got int"),
        ({"op": "exp", "order": 3}, ValueError, r"order must be 1 \(gradient\) or 2"),
        ({"op": "exp", "domains": [Domain(), Domain()]}, ValueError, "takes 1 argument"),
        ({"op": "log", "low": -5, "high": -1}, ValueError, "min_value .* greater than max"),
        ({"op": "exp", "kinks": [0.0], "low": 0, "high": 0}, ValueError, "no float in"),
    ],
)
def test_check_op_refuses_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], message: str
):
    op = kwargs.pop("op")
    with pytest.raises(error, match=message):
        check_op(op, **kwargs)  # type: ignore[arg-type]


# -- the strategy-driven check: wrong rules inside random expressions ---------------------


def _shrunk_counterexample(op: Callable[..., Value], n_inputs: int) -> Expression:
    failures: list[Expression] = []

    # derandomized: how far Hypothesis shrinks varies from seed to seed, and these tests
    # assert on the shrunk shape
    @settings(max_examples=300, database=None, deadline=None, derandomize=True)
    @given(expressions(ops=[op, "add", "mul", "sin"], n_inputs=n_inputs, max_depth=4))
    def gradients_are_right(e: Expression) -> None:
        try:
            gradcheck(e, e.inputs)
        except GradcheckError:
            failures.append(e)
            raise

    with pytest.raises(GradcheckError):
        gradients_are_right()
    return failures[-1]  # Hypothesis runs the shrunk example last


@pytest.mark.parametrize(("op", "point"), WRONG_FIRST_ORDER)
def test_random_expressions_catch_each_wrong_rule_and_shrink_it(
    op: Callable[..., Value], point: tuple[float, ...]
):
    e = _shrunk_counterexample(op, n_inputs=len(point))
    name = op.name  # type: ignore[attr-defined]
    assert name in e.ops
    assert len(e.ops) <= 3, e  # shrunk to a small graph around the wrong op
    assert not gradcheck(e, e.inputs, raise_exception=False)


def test_a_shrunk_counterexample_reads_well():
    e = _shrunk_counterexample(region, n_inputs=1)
    # e.g. Expression('_test_toolkit_region(x0)', inputs=(3.0,)), or with a shared
    # subexpression: Expression('t0 = x0 + x0; _test_toolkit_region(t0 + t0)', inputs=(1.0,))
    *lets, last = e.text.split("; ")
    assert all(re.fullmatch(r"t\d+ = .+", let) for let in lets), e.text
    assert re.fullmatch(r"_test_toolkit_region\(.+\)", last), e.text
    assert len(e.ops) <= 3, e
    assert repr(e) == f"Expression({e.text!r}, inputs={e.inputs!r})"


# -- the strategies -----------------------------------------------------------------------


@given(expressions(max_depth=30, n_inputs=3, max_ops=60))
def test_generated_graphs_are_valid_and_respect_every_domain(e: Expression):
    assert 1 <= e.depth <= 30
    assert set(e.ops) <= {r.name for r in TABLE}
    assert e.n_inputs == 3 and len(e.nodes) >= 4
    values_ = e.values()
    for node in e.nodes:
        if not node.args:
            continue
        args = [values_[a] for a in node.args]
        consts = [e.nodes[a].op == "const" for a in node.args]
        domains = domains_of(node.op)
        if node.op == "pow" and consts[1] and args[1] == int(args[1]):
            domains = (Domain(kinks=(0.0,)) if args[1] < 0 else Domain(), Domain())
        for x, d, c in zip(args, domains, consts, strict=True):
            assert c or d.contains(x, 1e-2), (node, x, e)
    assert all(math.isfinite(v) and abs(v) <= 1e4 for v in values_)
    out = e(*[Value(x) for x in e.inputs])
    assert out.data == values_[-1]
    out.backward()


@given(expressions(max_depth=12, n_inputs=2, respect_domains=False))
def test_graphs_off_the_domains_evaluate_without_python_exceptions(e: Expression):
    xs = [Value(x) for x in e.inputs]
    out = e(*xs)
    out.backward()
    assert all(isinstance(x.grad, float) for x in xs)
    assert out.data == e.values()[-1] or (math.isnan(out.data) and math.isnan(e.values()[-1]))


@given(expressions(max_depth=10, n_inputs=3))
def test_text_is_the_same_computation(e: Expression):
    # run the printed text (t0 = ...; t1 = ...; output) on Values: bit-for-bit the same
    namespace: dict[str, object] = {name: REGISTRY.by_name[name] for name in e.ops}
    namespace.update({f"x{i}": Value(x) for i, x in enumerate(e.inputs)})
    *lets, output = e.text.split("; ")
    for line in lets:
        exec(line, namespace)
    result = eval(output, namespace)
    expected = e(*[Value(x) for x in e.inputs]).data
    assert result.data == expected or (math.isnan(expected) and math.isnan(result.data))


def test_graphs_are_deep_and_share_nodes():
    stats: list[tuple[int, int, int]] = []

    @settings(max_examples=200, derandomize=True, database=None)
    @given(expressions(max_depth=30, n_inputs=3, max_ops=60))
    def collect(e: Expression) -> None:
        uses = e.uses()
        shared_ops = sum(1 for n, u in zip(e.nodes, uses, strict=True) if n.args and u > 1)
        stats.append((e.depth, max(uses), shared_ops))

    collect()
    assert max(s[0] for s in stats) >= 25  # depth up to ~30
    assert max(s[1] for s in stats) >= 5  # a node reused many times
    assert sum(1 for s in stats if s[2] > 0) >= 20  # shared subexpressions are common


def test_graphs_shrink_to_the_smallest_example():
    simplest = find(
        expressions(), lambda e: "log" in e.ops, settings=settings(database=None, derandomize=True)
    )
    # e.g. log(x1) or log(exp(x1)) at x1 = 1.0: Hypothesis's shrinking is a local search
    assert "log" in simplest.ops and len(simplest.ops) <= 2, simplest
    assert all(x in (1.0, -1.0, 2.0) for x in simplest.inputs), simplest


@given(expressions(ops=[acosh, "add", "mul"], n_inputs=2))
def test_user_ops_and_their_registered_domain(e: Expression):
    values_ = e.values()
    for node in e.nodes:
        if node.op == acosh.name:
            assert values_[node.args[0]] > 1.0 + 1e-2
    gradcheck(e, e.inputs)


def test_domain_table_and_registration():
    assert DOMAINS["log"] == (Domain(low=0.0),)
    assert domains_of("exp") == (Domain(),)
    assert domains_of(acosh) == (Domain(low=1.0),)
    d = Domain(low=-1.0, high=1.0, kinks=(0.0,))
    assert d.contains(0.5) and not d.contains(0.0) and not d.contains(1.0)
    assert not d.contains(0.95, margin=0.1) and not d.contains(math.nan)
    with pytest.raises(ValueError, match="takes 1 argument"):
        register_domain(acosh, Domain(), Domain())
    with pytest.raises(ValueError, match="unknown primitive"):
        register_domain("_test_toolkit_nope", Domain())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"ops": []}, ValueError, "ops is empty"),
        ({"ops": ["nope"]}, ValueError, "unknown primitive 'nope'"),
        ({"ops": [1.5]}, TypeError, "got float"),
        ({"max_depth": 0}, ValueError, "max_depth must be an int >= 1"),
        ({"n_inputs": 1.5}, ValueError, "n_inputs"),
        ({"max_ops": 0}, ValueError, "max_ops"),
        ({"margin": math.nan}, ValueError, "margin must be a finite number"),
    ],
)
def test_expressions_refuses_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], message: str
):
    with pytest.raises(error, match=message):
        expressions(**kwargs)  # type: ignore[arg-type]


@given(floats_away_from([0.0, 1.0], -2.0, 2.0, margin=0.1))
def test_floats_away_from_keeps_its_margins(x: float):
    assert -2.0 <= x <= 2.0 and abs(x) > 0.1 and abs(x - 1.0) > 0.1


@given(values(floats_away_from([], 1.0, 2.0), label="w"))
def test_values_draws_leaf_values(v: Value):
    assert isinstance(v, Value) and 1.0 <= v.data <= 2.0 and v.label == "w"
    assert v.op == "" and v.grad == 0.0


def test_floats_away_from_refuses_an_empty_set():
    with pytest.raises(ValueError, match="no float in"):
        floats_away_from([0.0], -0.5, 0.5, margin=1.0)
    with pytest.raises(ValueError, match="margin must be non-negative"):
        floats_away_from([], margin=-1.0)
    with pytest.raises(ValueError, match="kink must be a finite number"):
        floats_away_from([math.inf])


def test_expression_as_data():
    nodes = (Node("input", index=0), Node("const", value=-2.0), Node("mul", (0, 1)))
    nodes += (Node("neg", (2,)), Node("sub", (3, 0)), Node("pow", (4, 1)))
    e = Expression(nodes, (1.5,))
    assert e.text == "(-(x0 * -2) - x0) ** (-2)"
    assert e.depth == 4 and e.ops == ["mul", "neg", "sub", "pow"]
    assert e(Value(1.5)).data == pytest.approx(1.5**-2)
    assert e.evaluate({"mul": float.__mul__, "neg": float.__neg__, "sub": float.__sub__,
                       "pow": float.__pow__}, [1.5]) == pytest.approx(1.5**-2)  # fmt: skip
    with pytest.raises(TypeError, match="takes 1 inputs, got 2"):
        e(Value(1.0), Value(2.0))


def _points(strategy: st.SearchStrategy[Expression], n: int) -> Sequence[Expression]:
    out: list[Expression] = []

    @settings(max_examples=n, database=None, derandomize=True)
    @given(strategy)
    def collect(e: Expression) -> None:
        out.append(e)

    collect()
    return out


def test_one_input_graphs_reuse_it():
    graphs = _points(expressions(n_inputs=1, max_depth=8, max_ops=30), 100)
    assert max(e.uses()[0] for e in graphs) >= 3


logit = defprim("_test_toolkit_logit", "log(x / (1 - x))", "g / (x * (1 - x))")
register_domain(logit, Domain(low=0.0, high=1.0))
far = defprim("_test_toolkit_far", "log(x - 10)", "g / (x - 10)")
register_domain(far, Domain(low=10.0))


@given(expressions(ops=[logit], n_inputs=1, max_depth=3))
def test_default_inputs_fit_an_op_with_a_narrow_domain(e: Expression):
    # every input lands inside (0, 1) here, so the only op always applies
    assert 0.0 < e.inputs[0] < 1.0 and e.ops[0] == logit.name
    gradcheck(e, e.inputs)


def test_ops_whose_domains_miss_the_default_inputs_ask_for_inputs():
    with pytest.raises(ValueError, match="pass inputs="):
        expressions(ops=[far])
    e = find(
        expressions(ops=[far], n_inputs=1, inputs=st.floats(11.0, 20.0)),
        lambda e: True,
        settings=settings(database=None),
    )
    assert e.text == "_test_toolkit_far(x0)" and 11.0 <= e.inputs[0] <= 20.0
