"""micrograd compatibility: its own test expressions, its nn code and its graph traversal.

The two expressions are those of micrograd's ``test/test_engine.py`` with the import
switched to microgradx. micrograd checks them against PyTorch; here the expected numbers
come from three independent sources: exact fractions derived by hand, HIPS autograd, and
the ``micrograd`` 0.1.0 package itself running the same code.
"""

from __future__ import annotations

import inspect
import random
import types
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import autograd.numpy as anp
import micrograd.engine
import micrograd.nn
import pytest
from autograd import grad as agrad

import microgradx
import microgradx.nn
from microgradx.engine import Value


def test_engine_value_is_the_package_value():
    assert Value is microgradx.Value


# -- the two expressions, written once for any Value class ----------------------------------


def sanity_check(value_class: Any) -> tuple[Any, Any]:
    x = value_class(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return x, y


def more_ops(value_class: Any) -> tuple[Any, Any, Any]:
    a = value_class(-4.0)
    b = value_class(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return a, b, g


def _relu(t: Any) -> Any:
    return anp.maximum(t, 0.0)


def _sanity_plain(x: Any) -> Any:
    z = 2 * x + 2 + x
    q = _relu(z) + z * x
    h = _relu(z * z)
    return h + q + q * x


def _more_ops_plain(a: Any, b: Any) -> Any:
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + _relu(b + a)
    d = d + 3 * d + _relu(b - a)
    e = c - d
    f = e**2
    g = f / 2.0
    return g + 10.0 / f


# Derived by hand. Sanity: z = -10, q = 40, h = 100, y = -20; dy/dx = dh + dq (1 + x) + q
# with dz = 3, dq = 0*3 + 3x + z = -22, dh = 2z*3 = -60: -60 - 22*(-3) + 40 = 46.
# More ops: e = 4a + 3b + 4 - 12ab - 12b**3 = -7 on this branch of the two relus,
# g = e**2/2 + 10/e**2, dg/de = e - 20/e**3, de/da = 4 - 12b = -20, de/db = 3 - 12a - 36b**2 = -93.
_DG_DE = Fraction(-7) - Fraction(20, -343)
SANITY = {"y": -20.0, "x.grad": 46.0}
MORE_OPS = {
    "g": float(Fraction(49, 2) + Fraction(10, 49)),
    "a.grad": float(_DG_DE * -20),
    "b.grad": float(_DG_DE * -93),
}


def test_sanity_check_against_hand_derived_values():
    x, y = sanity_check(Value)
    assert y.data == SANITY["y"]
    assert x.grad == SANITY["x.grad"]


def test_sanity_check_against_autograd():
    x, y = sanity_check(Value)
    assert y.data == _sanity_plain(-4.0)
    assert x.grad == agrad(_sanity_plain)(-4.0)


def test_sanity_check_against_micrograd():
    x, y = sanity_check(Value)
    xm, ym = sanity_check(micrograd.engine.Value)
    assert (y.data, x.grad) == (ym.data, xm.grad)


def test_more_ops_against_hand_derived_values():
    a, b, g = more_ops(Value)
    assert g.data == pytest.approx(MORE_OPS["g"], rel=1e-15)
    assert a.grad == pytest.approx(MORE_OPS["a.grad"], rel=1e-14)
    assert b.grad == pytest.approx(MORE_OPS["b.grad"], rel=1e-14)


def test_more_ops_against_autograd():
    a, b, g = more_ops(Value)
    assert g.data == pytest.approx(float(_more_ops_plain(-4.0, 2.0)), rel=1e-15)
    assert a.grad == pytest.approx(float(agrad(_more_ops_plain, 0)(-4.0, 2.0)), rel=1e-14)
    assert b.grad == pytest.approx(float(agrad(_more_ops_plain, 1)(-4.0, 2.0)), rel=1e-14)


def test_more_ops_against_micrograd():
    a, b, g = more_ops(Value)
    am, bm, gm = more_ops(micrograd.engine.Value)
    # micrograd divides as x * y**-1, so the last bits may differ
    assert g.data == pytest.approx(gm.data, rel=1e-14)
    assert a.grad == pytest.approx(am.grad, rel=1e-14)
    assert b.grad == pytest.approx(bm.grad, rel=1e-14)


def test_unary_functions_against_autograd():
    # micrograd's later test file also checks tanh and exp at these points
    for method, reference in [("tanh", anp.tanh), ("exp", anp.exp)]:
        for x0 in (-1.0, 0.123, 2.0):
            x = Value(x0)
            y = getattr(x, method)()
            y.backward()
            assert y.data == pytest.approx(float(reference(x0)), rel=1e-15)
            assert x.grad == pytest.approx(float(agrad(reference)(x0)), rel=1e-14)


# -- micrograd's own nn.py, unchanged but for the import -------------------------------------


def _micrograd_nn_on(engine_module: str) -> types.ModuleType:
    """micrograd's nn module source, executed with ``Value`` from ``engine_module``."""
    source = inspect.getsource(micrograd.nn)
    original = "from micrograd.engine import Value"
    assert original in source
    module = types.ModuleType(f"micrograd_nn_on_{engine_module.replace('.', '_')}")
    exec(
        compile(source.replace(original, f"from {engine_module} import Value"), "nn", "exec"),
        module.__dict__,
    )
    return module


_DATA = [([2.0, 3.0], 1.0), ([3.0, -1.0], -1.0), ([0.5, 1.0], -1.0), ([1.0, 1.0], 1.0)]


def _train(nn: Any, steps: int) -> tuple[list[float], list[float]]:
    """micrograd's demo loop: max-margin loss + L2, SGD with a decaying rate."""
    random.seed(1337)
    model = nn.MLP(2, [8, 8, 1])
    losses = []
    for k in range(steps):
        scores = [model(x) for x, _ in _DATA]
        data_loss = sum((1 + -y * s).relu() for (_, y), s in zip(_DATA, scores, strict=True))
        data_loss = data_loss * (1.0 / len(_DATA))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg_loss
        model.zero_grad()
        loss.backward()
        rate = 1.0 - 0.9 * k / steps
        for p in model.parameters():
            p.data -= rate * p.grad
        losses.append(loss.data)
    return losses, [p.data for p in model.parameters()]


def test_micrograd_nn_runs_unchanged_on_microgradx():
    nn = _micrograd_nn_on("microgradx.engine")
    model = nn.MLP(3, [4, 1])
    assert all(isinstance(p, Value) for p in model.parameters())
    assert len(model.parameters()) == 4 * 4 + 5
    assert repr(model).startswith("MLP of [Layer of [ReLUNeuron(3)")
    out = model([1.0, -2.0, 0.5])
    assert isinstance(out, Value)


def test_micrograd_nn_trains_identically_on_both_engines():
    losses_x, params_x = _train(_micrograd_nn_on("microgradx.engine"), steps=8)
    losses_m, params_m = _train(micrograd.nn, steps=8)
    assert losses_x[-1] < losses_x[0]
    assert losses_x == pytest.approx(losses_m, rel=1e-12)
    assert params_x == pytest.approx(params_m, rel=1e-12, abs=1e-15)


def test_microgradx_nn_matches_micrograd_nn():
    # microgradx.nn draws micrograd's weights from the global `random` (seeded in _train)
    losses_x, params_x = _train(microgradx.nn, steps=8)
    losses_m, params_m = _train(micrograd.nn, steps=8)
    assert losses_x == pytest.approx(losses_m, rel=1e-12)
    assert params_x == pytest.approx(params_m, rel=1e-12, abs=1e-15)


def test_microgradx_nn_has_micrograds_classes_and_shapes():
    def build(nn: Any) -> tuple[Any, ...]:
        random.seed(7)
        neuron, layer, mlp = nn.Neuron(3, nonlin=False), nn.Layer(3, 2), nn.MLP(3, [4, 4, 1])
        return repr(neuron), repr(layer), repr(mlp), [p.data for p in mlp.parameters()]

    assert build(microgradx.nn) == build(micrograd.nn)
    out = microgradx.nn.Layer(3, 2)([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 2  # a layer of several neurons gives a list


# -- micrograd-style code that only uses Value ---------------------------------------------


def test_hand_written_neuron():
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    o.backward()
    assert o.data == pytest.approx(0.7071067811865476, rel=1e-15)
    # do/dn = 1 - o**2 = 0.5
    assert n.grad == pytest.approx(0.5, rel=1e-14)
    assert (x1.grad, w1.grad) == pytest.approx((-1.5, 1.0), rel=1e-14)
    assert (x2.grad, w2.grad) == pytest.approx((0.5, 0.0), rel=1e-14)
    assert b.grad == pytest.approx(0.5, rel=1e-14)


def _walk(root: Any) -> tuple[set[Any], set[tuple[Any, Any]]]:
    """Every node and edge, reading only ``_prev`` as micrograd's draw_dot does."""
    nodes: set[Any] = set()
    edges: set[tuple[Any, Any]] = set()
    todo = [root]
    while todo:
        v = todo.pop()
        if v in nodes:
            continue
        nodes.add(v)
        for child in v._prev:
            edges.add((child, v))
            todo.append(child)
    return nodes, edges


def _expression(value_class: Any) -> Any:
    a, b, c = value_class(2.0), value_class(-3.0), value_class(10.0)
    e = a * b
    d = e + c
    f = (d**2 + 2 * a).relu()
    return f * f


def test_graph_traversal_through_prev_and_op_matches_micrograd():
    nodes, edges = _walk(_expression(Value))
    nodes_m, edges_m = _walk(_expression(micrograd.engine.Value))
    assert len(nodes) == len(nodes_m) == 11
    assert len(edges) == len(edges_m)
    assert Counter(v._op for v in nodes) == Counter(v._op for v in nodes_m)
    assert Counter(v._op for v in nodes) == Counter({"": 4, "*": 3, "+": 2, "**2": 1, "ReLU": 1})
    assert sorted(v.data for v in nodes) == sorted(v.data for v in nodes_m)


def test_pow_with_a_number_lists_only_the_base_like_micrograd():
    x = Value(3.0)
    y = x**2
    assert y._op == "**2" and y._prev == {x}
    assert (x**-1)._op == "**-1" and (x**0.5)._op == "**0.5"
    e = Value(2.0)  # an exponent that is a Value is an input
    assert (x**e)._prev == {x, e} and (x**e)._op == "**"
    assert (2**x)._op == "**" and len((2**x)._prev) == 2


def test_repr():
    assert repr(Value(2.5)) == "Value(data=2.5, grad=0.0)"
    assert repr(Value(-1.0, label="w")) == "Value(data=-1.0, grad=0.0, label='w')"


def test_attributes_of_ones_own_are_refused_and_leave_the_node_as_it_was() -> None:
    # documented in docs/explanation/how-it-works.md ("Attributes of your own"): the
    # slots are closed, measured by benchmarks/layout.py; micrograd accepts the write
    mg = micrograd.engine.Value(2.0)
    mg.m = 0.5
    assert mg.m == 0.5
    v = Value(2.0, "v")
    with pytest.raises(AttributeError, match="'Value' object has no attribute 'm'"):  # 3.11+
        v.m = 0.5
    assert not hasattr(v, "__dict__")
    assert (v.data, v.grad, v.label) == (2.0, 0.0, "v")
    table = [f"| `{name}` |" for name in ("data", "grad", "label", "_code", "_mark", "_adj")]
    page = (Path(__file__).resolve().parent.parent / "docs/explanation/how-it-works.md").read_text()
    assert all(row in page for row in table) and "| `_a`, `_b` |" in page
    assert Value.__slots__ == ("data", "grad", "label", "_code", "_a", "_b", "_mark", "_adj")


def test_layout_file_measures_todays_value() -> None:
    import importlib.util
    import json
    import sys

    root = Path(__file__).resolve().parent.parent
    saved = list(sys.path)
    spec = importlib.util.spec_from_file_location("_layout_bench", root / "benchmarks/layout.py")
    assert spec is not None and spec.loader is not None
    layout = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(layout)
    finally:
        sys.path[:] = saved  # the script puts the repository first on the path
    recorded = json.loads((root / "benchmarks/results/layout.json").read_text())
    today = recorded["layouts"]["today: 8 slots"]["bytes_per_object"]
    assert layout.bytes_per_object(Value) == pytest.approx(today, abs=0.5)
    best = min(r["bytes_per_node"] for k, r in recorded["layouts"].items() if "__dict__" in k)
    dict8 = recorded["layouts"]["8 slots + __dict__"]["bytes_per_node"]
    assert dict8 > recorded["budget"]  # the reason the slots stay closed
    assert best == recorded["layouts"]["5 slots + __dict__"]["bytes_per_node"]
