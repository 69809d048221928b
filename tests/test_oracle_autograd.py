"""microgradx against independent oracles on random expression graphs.

The graphs come from ``microgradx.testing.strategies.expressions`` (shared subexpressions,
reused inputs, depth up to 30). Oracles: HIPS autograd in float64 (values and gradients,
relative tolerance 1e-9) and central finite differences (inputs kept off kinks and domain
edges, which the strategy does by default).
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as autograd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, defprim
from microgradx.testing import GradcheckError, close, gradcheck
from microgradx.testing.oracles import (
    Evaluation,
    OracleMismatchError,
    OracleUnavailableError,
    available,
    compare,
    evaluate,
    gradient_scale,
    same,
)
from microgradx.testing.strategies import Expression, Node, expressions

REFERENCE = pathlib.Path(__file__).parent / "data" / "oracle_torch_reference.json"

RTOL = 1e-9
# a few ulps of the rounding that saturated derivative formulas (1 - tanh(x)**2 at large x)
# make in a different way in each engine; see test_oracle_tolerance_is_not_vacuous
ATOL = 1e-13

deep_graphs = expressions(max_depth=30, n_inputs=3, max_ops=60)


@given(deep_graphs)
def test_values_and_gradients_match_autograd(e: Expression) -> None:
    mine = compare(e, "autograd", rtol=RTOL, atol=ATOL)
    assert all(math.isfinite(x) for x in (mine.value, *mine.gradient))


@given(expressions(max_depth=30, n_inputs=1, max_ops=60))
def test_one_input_reused_everywhere_matches_autograd(e: Expression) -> None:
    compare(e, "autograd", rtol=RTOL, atol=ATOL)


@given(expressions(max_depth=30, n_inputs=2, max_ops=60, respect_domains=False))
def test_values_match_autograd_anywhere_including_nan_and_inf(e: Expression) -> None:
    # off the domains (log of negatives, 0/0, overflow) the forward values still agree,
    # nan with nan and inf with the same inf; derivative conventions at kinks differ
    # between engines (microgradx follows PyTorch), so only values are compared here
    mine, theirs = evaluate(e, "microgradx"), evaluate(e, "autograd")
    assert same(mine.value, theirs.value, RTOL), (e, mine.value, theirs.value)


def _richardson(e: Expression, i: int, h: float) -> float:
    def at(x: float) -> float:
        point = list(e.inputs)
        point[i] = x
        return e(*[Value(p) for p in point]).data

    x = e.inputs[i]
    d1 = (at(x + h) - at(x - h)) / (2 * h)
    d2 = (at(x + h / 2) - at(x - h / 2)) / h
    return (4 * d2 - d1) / 3


@given(deep_graphs)
def test_gradients_match_central_differences(e: Expression) -> None:
    try:
        gradcheck(e, e.inputs)
    except GradcheckError as err:
        # Central differences with one step can be off where the graph curves hard (its
        # truncation error) or is large (rounding). A partial passes if some converged
        # estimate, a Richardson extrapolation at a step from 1e-2 to 1e-6, agrees; a
        # wrong derivative disagrees with all of them.
        for row in err.mismatches:
            i = int(row.label[1:])
            estimates = [_richardson(e, i, 10.0**-k) for k in range(2, 7)]
            assert any(close(row.analytic, n, 1e-5, 1e-3) for n in estimates), (
                f"{err}\nRichardson estimates: {estimates}"
            )


def test_a_node_used_two_hundred_times() -> None:
    # t = sin(x0) * x1 feeds every one of 200 terms: one shared node, many uses
    nodes = [Node("input", index=0), Node("input", index=1), Node("sin", (0,))]
    nodes.append(Node("mul", (2, 1)))
    hub = len(nodes) - 1
    acc = hub
    for k in range(200):
        nodes.append(Node("const", value=1.0 + k / 100))
        nodes.append(Node("mul", (hub, len(nodes) - 1)))
        nodes.append(Node("tanh", (len(nodes) - 1,)))
        nodes.append(Node("add", (acc, len(nodes) - 1)))
        acc = len(nodes) - 1
    e = Expression(tuple(nodes), (0.7, -1.3))
    assert e.uses()[hub] == 201
    mine = compare(e, "autograd", rtol=RTOL, atol=ATOL)

    # and against a hand-written autograd function, not the translated graph
    def f(x0: float, x1: float) -> float:
        t = anp.sin(x0) * x1
        return t + sum(anp.tanh(t * (1.0 + k / 100)) for k in range(200))

    expected = [autograd_grad(f, i)(np.float64(0.7), np.float64(-1.3)) for i in (0, 1)]
    assert mine.gradient == pytest.approx(expected, rel=RTOL)
    gradcheck(e, e.inputs)


def test_oracle_tolerance_is_not_vacuous() -> None:
    # a gradient off by 1e-8 relative is reported, with a table naming the partial
    e = Expression((Node("input", index=0), Node("exp", (0,))), (0.3,))
    assert gradient_scale(e) == (pytest.approx(math.exp(0.3)),)
    with pytest.raises(OracleMismatchError, match=r"d/dx0 .*<- mismatch"):
        compare(e, "autograd", functions={"exp": lambda x: anp.exp(x * (1 + 1e-8))})
    compare(e, "autograd", functions={"exp": lambda x: anp.exp(x * (1 + 1e-11))})


def test_cancellation_is_judged_against_the_scale_of_its_terms() -> None:
    # x / x has gradient 0; each engine may leave a rounding remainder of a few ulps of
    # the terms 1/x and -x/x**2, which compare() accepts, but not a remainder of 1e-6
    nodes = (Node("input", index=0), Node("exp", (0,)), Node("div", (1, 1)))
    e = Expression(nodes, (3.0,))
    assert gradient_scale(e)[0] == pytest.approx(2.0)  # (1/y + x/y**2) * e**3
    compare(e, "autograd", rtol=RTOL)
    with pytest.raises(OracleMismatchError):
        compare(e, "autograd", functions={"div": lambda x, y: x / y + 1e-6 * x})


@settings(max_examples=20)
@given(st.floats(-3, 3), st.floats(0.1, 3))
def test_oracle_agrees_with_hand_written_autograd(a: float, b: float) -> None:
    # the adapter's translation of a graph against autograd on the same formula by hand
    nodes = (
        Node("input", index=0),
        Node("input", index=1),
        Node("mul", (0, 0)),
        Node("add", (2, 1)),
        Node("log", (3,)),
        Node("sigmoid", (0,)),
        Node("mul", (4, 5)),
    )
    e = Expression(nodes, (a, b))
    assert e.text == "log(x0 * x0 + x1) * sigmoid(x0)"

    def f(x0: float, x1: float) -> float:
        return anp.log(x0 * x0 + x1) / (1 + anp.exp(-x0))

    theirs = evaluate(e, "autograd")
    assert theirs.value == pytest.approx(f(a, b), rel=1e-12)
    expected = [autograd_grad(f, i)(np.float64(a), np.float64(b)) for i in (0, 1)]
    assert theirs.gradient == pytest.approx(expected, rel=1e-12)


# -- PyTorch, recorded -------------------------------------------------------------------


def _node(text: str) -> Node:
    op, *rest = text.split()
    if op == "input":
        return Node("input", index=int(rest[0]))
    if op == "const":
        return Node("const", value=float(rest[0]))
    return Node(op, tuple(int(a) for a in rest))


def _recorded(name: str) -> list[tuple[Expression, Evaluation]]:
    data = json.loads(REFERENCE.read_text("utf-8"))
    cases = []
    for r in data["sets"][name]:
        e = Expression(tuple(_node(n) for n in r["nodes"]), tuple(map(float, r["inputs"])))
        assert e.text == r["text"]
        cases.append((e, Evaluation(float(r["value"]), tuple(map(float, r["gradient"])))))
    return cases


def _mismatches(cases: list[tuple[Expression, Evaluation]]) -> list[str]:
    bad = []
    for e, theirs in cases:
        mine = evaluate(e, "microgradx")
        scale = gradient_scale(e)
        ok = same(mine.value, theirs.value, RTOL) and all(
            same(a, b, RTOL, ATOL + (RTOL * c if math.isfinite(c) else 0.0))
            for a, b, c in zip(mine.gradient, theirs.gradient, scale, strict=True)
        )
        if not ok:
            bad.append(f"{e!r}: microgradx {mine}, torch {theirs}")
    return bad


def test_smooth_graphs_match_recorded_pytorch() -> None:
    # recorded by tests/data/make_oracle_torch_reference.py from PyTorch 2.13.0 (float64)
    cases = _recorded("smooth")
    assert len(cases) >= 200 and max(e.depth for e, _ in cases) >= 25
    assert _mismatches(cases) == []


def test_graphs_through_kinks_nan_and_inf_match_recorded_pytorch() -> None:
    # inputs often 0, -0, +-1, ... and no domain respected: PyTorch's conventions at kinks,
    # signed zeros, nan and inf are the contract (DESIGN.md), on whole random graphs
    cases = _recorded("anywhere")
    values = [v for _, ev in cases for v in (ev.value, *ev.gradient)]
    assert len(cases) >= 300
    assert any(math.isnan(v) for v in values) and any(math.isinf(v) for v in values)
    assert _mismatches(cases) == []


def test_the_two_engine_fixes_the_recorded_pytorch_graphs_found() -> None:
    # PyTorch 2.13: relu(-0.0) is -0.0 (as micrograd's relu), so -2 / relu(-0.0) = +inf;
    # and the derivative of abs at nan is 0 (torch.sign(nan) = 0)
    y = Value(-0.0).relu()
    assert y.data == 0.0 and math.copysign(1.0, y.data) == -1.0
    assert (-2 / Value(-0.0).relu()).data == math.inf
    assert math.copysign(1.0, Value(0.0).relu().data) == 1.0
    x = Value(math.nan)
    abs(x).backward()
    assert x.grad == 0.0


def test_user_ops_defined_by_a_python_function_need_the_engines_version() -> None:
    cube = defprim("_test_oracle_cube_fn", lambda x: x * x * x, "g * 3 * x * x")
    e = Expression((Node("input", index=0), Node(cube.name, (0,))), (1.2,))
    with pytest.raises(ValueError, match=r"functions=\{'_test_oracle_cube_fn': \.\.\.\}"):
        compare(e, "autograd")
    assert compare(e, "autograd", functions={cube.name: lambda x: x**3}).gradient == (
        pytest.approx(3 * 1.2**2, rel=1e-15),
    )
    # a forward written as an expression is translated for the other engine by itself
    soft = defprim("_test_oracle_softplus", "log1p(exp(x))", "g * sigmoid(x)")
    compare(Expression((Node("input", index=0), Node(soft.name, (0,))), (0.3,)), "autograd")


def test_an_engine_that_is_not_installed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    e = Expression((Node("input", index=0), Node("exp", (0,))), (0.3,))
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(OracleUnavailableError, match="PyTorch is not installed"):
        evaluate(e, "torch")
    with pytest.raises(ValueError, match="engine must be one of microgradx, autograd, torch"):
        evaluate(e, "jax")
    assert available("autograd") and available("microgradx")
    with pytest.raises(TypeError, match="expected an Expression, got float"):
        evaluate(1.0, "autograd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="takes 1 inputs, got 2"):
        evaluate(e, "autograd", point=[1.0, 2.0])
