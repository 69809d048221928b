"""microgradx.engine: the node, its fields, the plain and the fast backward pass."""

from __future__ import annotations

import copy
import math
import pickle
import sys
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, defprim, grad, no_grad
from microgradx.codegen import eager
from microgradx.engine import (
    chain_rule,
    constant,
    is_shared_constant,
    plain_backward,
    topological,
)
from microgradx.primitive import REGISTRY
from microgradx.testing.strategies import expressions


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# -- the node --------------------------------------------------------------------------------


def test_a_node_has_one_field_per_meaning() -> None:
    assert Value.__slots__ == ("data", "grad", "label", "_code", "_a", "_b", "_mark", "_adj")
    # the generated operators declare the same fields for type checkers
    assert tuple(name for name, _ in eager.FIELDS) == Value.__slots__
    x = Value(2.0)
    y = x * 3.0
    assert (y._code, y._a, y._b.data) == (REGISTRY.by_name["mul"].forms[1].code, x, 3.0)
    assert not hasattr(y, "__dict__")


def test_a_number_is_one_shared_constant_node() -> None:
    x = Value(2.0)
    a, b = x * 1.5, x + 1.5
    assert a.inputs[1] is b.inputs[1] and is_shared_constant(a.inputs[1])
    assert not a.inputs[1].requires_grad
    # zeros and nan are not shared: 0.0 == -0.0 and nan != nan
    assert (x * 0.0).inputs[1] is not (x * 0.0).inputs[1]
    assert math.copysign(1.0, (x * -0.0).inputs[1].data) == -1.0
    assert not is_shared_constant(constant(1.5))


def test_truthiness_is_the_truth_of_data_as_in_pytorch() -> None:
    assert not Value(0.0) and not Value(-0.0)
    assert Value(2.0) and Value(-1e-300) and Value(math.nan) and Value(math.inf)


def test_retain_graph_is_accepted_and_graphs_are_always_kept() -> None:
    x = Value(3.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward(retain_graph=False)
    y.backward(retain_graph=None)
    assert x.grad == 18.0


# -- the plain backward pass is the fast one, to the last bit ------------------------------


@settings(max_examples=80, deadline=None)
@given(expressions(max_depth=12, n_inputs=3), st.floats(-3.0, 3.0))
def test_plain_backward_gives_backwards_bits(e: object, seed: float) -> None:
    from microgradx.testing.strategies import Expression

    assert isinstance(e, Expression)
    xs = [Value(x) for x in e.inputs]
    out = e(*xs)
    if not isinstance(out, Value) or not out.requires_grad:
        return
    out.backward(seed)
    fast = [x.grad for x in xs]
    for x in xs:
        x.grad = 0.0
    plain_backward(out, seed)
    assert all(same(a, b) for a, b in zip(fast, (x.grad for x in xs), strict=True))


def test_plain_backward_sums_a_shared_node_in_backwards_order() -> None:
    x = Value(0.1)
    t = x.sin() * 0.3
    out = t * t + t.exp() + t * x + (t + 0.7) ** 2
    out.backward()
    fast = x.grad
    x.grad = 0.0
    plain_backward(out)
    assert x.grad == fast


def test_chain_rule_gives_each_input_its_share() -> None:
    a, b = Value(2.0), Value(-3.0)
    e = a * b
    assert list(chain_rule(e, 1.5)) == [(a, 1.5 * -3.0), (b, 1.5 * 2.0)]
    assert list(chain_rule(e * 2.0, 1.0)) == [(e, 2.0)]  # the constant gets nothing
    assert list(chain_rule(a, 1.0)) == []  # a leaf passes nothing on


def test_backward_by_hand_node_by_node_as_in_the_lecture() -> None:
    # micrograd's lecture: set the output's grad, then call _backward() in reverse order
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    d = e + c
    L = d * f  # noqa: N806 - the lecture's name
    L.grad = 1.0
    for node in (L, d, e):
        node._backward()
    assert (a.grad, b.grad, c.grad, f.grad) == (6.0, -4.0, -2.0, 4.0)
    # the same numbers as backward()
    for v in (a, b, c, f, d, e):
        v.grad = 0.0
    L.grad = 0.0
    L.backward()
    assert (a.grad, b.grad, c.grad, f.grad) == (6.0, -4.0, -2.0, 4.0)


def test_the_topological_walk_touches_nothing_and_follows_given_inputs() -> None:
    x, y = Value(1.0), Value(2.0)
    z = x * y + y
    order = topological([z])
    assert order[-1] is z and set(order[:2]) == {x, y}
    reversed_inputs = topological([z], inputs=lambda v: (v._b, v._a))
    assert set(reversed_inputs) == set(order) and reversed_inputs != order


# -- a failed pass changes nothing; registering an op changes nothing for other graphs ------


def test_a_rule_that_raises_leaves_every_grad_as_it_was_and_shows_its_line() -> None:
    with REGISTRY.scope():
        # a forward given as a Python function may raise: here at x = 7, in refuses' rule
        defprim("fussy_fn", lambda x: 1.0 / (x - 7.0), "g")
        refuses = defprim("refuses", "x * 2", "g * fussy_fn(x)")
        w, v = Value(7.0), Value(1.0)
        y = (w * v + w).exp() + refuses(w)
        v.grad, w.grad = 0.5, 0.25
        with pytest.raises(ZeroDivisionError) as error:
            y.backward()
        assert (v.grad, w.grad) == (0.5, 0.25)
        assert all(n.grad == 0.0 for n in topological([y]) if n not in (v, w))
        # the traceback shows the generated lines of the op's backward step
        frames = "".join(traceback.format_exception(error.value))
        assert 'File "<microgradx op refuses>"' in frames
        assert "a._adj += g * _pf_fussy_fn(x)" in frames


def test_registering_an_op_whose_rule_may_raise_changes_no_other_graph() -> None:
    before = dict(REGISTRY.steps)
    with REGISTRY.scope():
        defprim("may_raise_op", lambda x: 1 / x, "g * -may_raise_op(x) * may_raise_op(x)")
        assert set(REGISTRY.steps) - set(before)  # its steps: only its own codes
        x = Value(2.0)
        y = x * x + x.exp()
        y.backward()
        assert x.grad == 4.0 + math.exp(2.0)
    assert REGISTRY.steps == before


def test_a_registry_scope_takes_back_every_op_and_method() -> None:
    names = list(REGISTRY.by_name)
    with REGISTRY.scope():
        defprim("scoped_cube", "x * x * x", "g * 3 * x * x", methods=("scoped_cube",))
        assert Value(2.0).scoped_cube().data == 8.0  # type: ignore[attr-defined]
    assert list(REGISTRY.by_name) == names
    assert not hasattr(Value, "scoped_cube")


def test_a_graph_using_an_op_taken_back_says_so() -> None:
    with REGISTRY.scope():
        twice = defprim("taken_back", "2 * x", "2 * g")
        y = twice(Value(1.0))
    with pytest.raises(RuntimeError, match="no longer registered"):
        y.backward()


# -- copies -----------------------------------------------------------------------------------


@pytest.fixture
def default_recursion_limit() -> object:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(old)


@pytest.mark.usefixtures("default_recursion_limit")
def test_a_million_op_chain_pickles_and_deep_copies() -> None:
    x = Value(1.0)
    y = x
    for i in range(1_000_000):
        y = y * 1.000001 if i % 2 else y + 0.5
    y.backward()
    for copied in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        assert copied.data == y.data and copied is not y
        leaf = copied
        while leaf._a is not None:  # down the chain to the copy of x
            leaf = leaf._a
        assert leaf is not x and leaf.data == 1.0 and leaf.grad == x.grad
        leaf.grad = 0.0
        copied.backward()  # the copy backpropagates to the same number
        assert leaf.grad == x.grad


def test_pickle_keeps_leaves_shared_and_ops_by_name() -> None:
    from microgradx import nn

    model = nn.MLP(2, [3, 1], seed=0)
    out = model([0.5, -1.0])
    back_model, back_out = pickle.loads(pickle.dumps((model, out)))
    assert [p.data for p in back_model.parameters()] == [p.data for p in model.parameters()]
    assert back_out.data == out.data
    # the copied output's graph reads the copied model's parameters
    back_out.backward()
    out.backward()
    assert [p.grad for p in back_model.parameters()] == [p.grad for p in model.parameters()]
    shallow = copy.copy(out)
    assert shallow.inputs == out.inputs and shallow is not out


def test_unpickling_a_graph_with_an_unknown_op_says_which() -> None:
    with REGISTRY.scope():
        op = defprim("pickled_op", "x + 1", "g")
        data = pickle.dumps(op(Value(1.0)))
    with pytest.raises(ValueError, match="'pickled_op', which is not registered"):
        pickle.loads(data)


def test_no_grad_results_are_constants() -> None:
    x = Value(1.0)
    with no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.inputs == ()
    (g,) = grad(x * y, [x])
    assert g.data == 2.0
