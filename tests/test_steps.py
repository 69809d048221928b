"""backward_steps and explain: the lesson graphs word for word, every step bit for bit
against backward() on random graphs, the naive replay's wrong number, bad input, and
`Value._backward()` called node by node as micrograd's lecture does."""

from __future__ import annotations

import doctest
import importlib
import math
import os
import re
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, backward_steps, defprim, engine, explain, grad, no_grad
from microgradx.examples import expression, neuron
from microgradx.primitive import REGISTRY
from microgradx.steps import NAIVE_LIMIT, BackwardSteps, Explanation, Step, forward_steps
from microgradx.testing.strategies import expressions

LESSON = """\
L.grad = 1.0  (the seed: dL/dL = 1)
d.grad += dL/dd = f * L.grad = -2.0 * 1.0 = -2.0
f.grad += dL/df = d * L.grad = 4.0 * 1.0 = 4.0
e.grad += dL/de = 1 * d.grad = 1.0 * -2.0 = -2.0
c.grad += dL/dc = 1 * d.grad = 1.0 * -2.0 = -2.0
a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0
b.grad += dL/db = a * e.grad = 2.0 * -2.0 = -4.0
gradients: L 1.0, d -2.0, e -2.0, a 6.0, b -4.0, c -2.0, f 4.0"""

NEURON = """\
o.grad = 1.0000  (the seed: do/do = 1)
n.grad += do/dn = (1 - o * o) * o.grad = 0.5000 * 1.0000 = 0.5000
(x1*w1 + x2*w2).grad += do/d(x1*w1 + x2*w2) = 1 * n.grad = 1.0000 * 0.5000 = 0.5000
b.grad += do/db = 1 * n.grad = 1.0000 * 0.5000 = 0.5000
(x1*w1).grad += do/d(x1*w1) = 1 * (x1*w1 + x2*w2).grad = 1.0000 * 0.5000 = 0.5000
(x2*w2).grad += do/d(x2*w2) = 1 * (x1*w1 + x2*w2).grad = 1.0000 * 0.5000 = 0.5000
x1.grad += do/dx1 = w1 * (x1*w1).grad = -3.0000 * 0.5000 = -1.5000
w1.grad += do/dw1 = x1 * (x1*w1).grad = 2.0000 * 0.5000 = 1.0000
x2.grad += do/dx2 = w2 * (x2*w2).grad = 1.0000 * 0.5000 = 0.5000
w2.grad += do/dw2 = x2 * (x2*w2).grad = 0.0000 * 0.5000 = 0.0000
gradients: o 1.0000, n 0.5000, x1*w1 + x2*w2 0.5000, x1*w1 0.5000, x1 -1.5000,
    w1 1.0000, x2*w2 0.5000, x2 0.5000, w2 0.0000, b 0.5000"""

NAIVE = """\
The naive recursion (no topological order): each node passes on its gradient
as soon as the recursion reaches it, once per use.
c.grad = 1.0  (the seed: dc/dc = 1)
b.grad += dc/db = 1 * c.grad = 1.0 * 1.0 = 1.0
b.grad += dc/db = 1 * c.grad = 1.0 * 1.0 = 1.0  (b.grad = 1.0 + 1.0 = 2.0)
a.grad += dc/da = 1 * b.grad = 1.0 * 2.0 = 2.0
a.grad += dc/da = 1 * b.grad = 1.0 * 2.0 = 2.0  (a.grad = 2.0 + 2.0 = 4.0)
a.grad += dc/da = 1 * b.grad = 1.0 * 2.0 = 2.0  (a.grad = 4.0 + 2.0 = 6.0)
  ^ wrong: b passes on its gradient again (the recursion reached it again,
    along another use of b): these shares are counted twice
a.grad += dc/da = 1 * b.grad = 1.0 * 2.0 = 2.0  (a.grad = 6.0 + 2.0 = 8.0)
   naive  backward()
c    1.0         1.0
b    2.0         2.0
a    8.0         4.0  wrong
the naive order gets 1 of 3 gradients wrong: a node must wait until every node
that uses it has passed it its share (a topological order)"""


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(x: float, y: float) -> bool:
    """Bit for bit (the sign of a zero included); a nan equals a nan."""
    return bits(x) == bits(y) or (math.isnan(x) and math.isnan(y))


def labelled(v: Value, label: str) -> Value:
    v.label = label
    return v


def reused() -> tuple[Value, Value]:
    a = Value(1.0, label="a")
    b = labelled(a + a, "b")
    return labelled(b + b, "c"), a


def nodes_of(root: Value) -> list[Value]:
    return [v for v in engine.topological([root]) if v.requires_grad]


def snapshot(root: Value) -> list[tuple[Any, ...]]:
    return [(v.grad, v._mark, getattr(v, "_adj", None), v.data) for v in engine.topological([root])]


# -- the lesson graphs, word for word ---------------------------------------------------


def test_lesson_expression_word_for_word() -> None:
    loss, _ = expression()
    assert explain(loss) == LESSON


def test_lesson_expression_step_records() -> None:
    loss, nodes = expression()
    steps = list(backward_steps(loss))
    got = [
        (s.node.label, s.input.label, s.op, s.formula, s.local, s.upstream, s.contribution,
         s.before, s.after, s.rule, s.which)
        for s in steps
    ]  # fmt: skip
    assert got == [
        ("L", "d", "mul", "dL/dd = f", -2.0, 1.0, -2.0, -0.0, -2.0, "g * y", "x"),
        ("L", "f", "mul", "dL/df = d", 4.0, 1.0, 4.0, -0.0, 4.0, "g * x", "y"),
        ("d", "e", "add", "dd/de = 1", 1.0, -2.0, -2.0, -0.0, -2.0, "g", "x"),
        ("d", "c", "add", "dd/dc = 1", 1.0, -2.0, -2.0, -0.0, -2.0, "g", "y"),
        ("e", "a", "mul", "de/da = b", -3.0, -2.0, 6.0, -0.0, 6.0, "g * y", "x"),
        ("e", "b", "mul", "de/db = a", 2.0, -2.0, -4.0, -0.0, -4.0, "g * x", "y"),
    ]
    assert steps[4].text == "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0"
    assert all(s.note == "" for s in steps)
    # the steps are those of the graph's own nodes, and their sums are backward()'s
    assert steps[4].input is nodes["a"] and steps[0].node is loss
    for v in nodes.values():
        assert backward_steps(loss).gradients[v] == v.grad


def test_neuron_word_for_word_and_exactly_its_gradients() -> None:
    o, nodes = neuron()
    assert explain(o, fmt=".4f") == NEURON
    steps = backward_steps(o)
    assert [s.formula for s in steps.steps] == [
        "do/dn = 1 - o * o",
        "dn/d(x1*w1 + x2*w2) = 1",
        "dn/db = 1",
        "d(x1*w1 + x2*w2)/d(x1*w1) = 1",
        "d(x1*w1 + x2*w2)/d(x2*w2) = 1",
        "d(x1*w1)/dx1 = w1",
        "d(x1*w1)/dw1 = x1",
        "d(x2*w2)/dx2 = w2",
        "d(x2*w2)/dw2 = x2",
    ]
    # exactly the numbers backward() left in .grad (the examples call it once)
    for name, v in nodes.items():
        assert same(steps.gradients[v], v.grad), name
    first = steps.steps[0]
    assert first.local == 1 - o.data * o.data and first.contribution == first.local


def test_forward_steps_word_for_word() -> None:
    loss, _ = expression()
    assert [s.text for s in forward_steps(loss)] == [
        "e = a * b = 2.0 * -3.0 = -6.0",
        "d = e + c = -6.0 + 10.0 = 4.0",
        "L = d * f = 4.0 * -2.0 = -8.0",
    ]
    o, _ = neuron()
    assert (
        forward_steps(o)[-1].text == "o = tanh(n) = tanh(0.8813735870195432) = 0.7071067811865477"
    )


def test_a_node_used_twice_shows_its_shares_adding_up() -> None:
    x = Value(3.0, label="x")
    y = labelled(labelled(x * x, "s") + x, "y")
    lines = explain(y).splitlines()
    assert lines[1:4] == [
        "s.grad += dy/ds = 1 * y.grad = 1.0 * 1.0 = 1.0",
        "x.grad += dy/dx = 1 * y.grad = 1.0 * 1.0 = 1.0",
        "x.grad += dy/dx = x * s.grad = 3.0 * 1.0 = 3.0  (x.grad = 1.0 + 3.0 = 4.0)",
    ]
    assert lines[4] == "x.grad += dy/dx = x * s.grad = 3.0 * 1.0 = 3.0  (x.grad = 4.0 + 3.0 = 7.0)"
    steps = backward_steps(y).steps
    assert [(s.before, s.after) for s in steps if s.input is x] == [
        (-0.0, 1.0),
        (1.0, 4.0),
        (4.0, 7.0),
    ]
    y.backward()
    assert x.grad == 7.0


def test_numbers_and_unlabelled_nodes_get_names() -> None:
    x = Value(2.0, label="x")
    v1 = Value(5.0, label="v1")  # the generated names skip a label in use
    y = (x * 3.0 + v1) ** 2
    lines = explain(y).splitlines()
    assert lines[0] == "v4.grad = 1.0  (the seed: dv4/dv4 = 1)"
    assert lines[1] == "v3.grad += dv4/dv3 = (2 * v3) * v4.grad = 22.0 * 1.0 = 22.0"
    assert lines[4] == "x.grad += dv4/dx = 3 * v2.grad = 3.0 * 22.0 = 66.0"
    assert forward_steps(y)[0].formula == "v2 = x * 3"


# -- every op's formula, from the table -------------------------------------------------

FORMULAS = [
    (lambda x, y: x + y, ["dz/dx = 1", "dz/dy = 1"]),
    (lambda x, y: x - y, ["dz/dx = 1", "dz/dy = -1"]),
    (lambda x, y: x * y, ["dz/dx = y", "dz/dy = x"]),
    (lambda x, y: x / y, ["dz/dx = 1 / y", "dz/dy = -(z / y)"]),
    (
        lambda x, y: x**y,
        [
            "dz/dx = 0 if y == 0 else y * x ** (y - 1)",
            "dz/dy = 0 if x == 0 and y >= 0 else z * log(x)",
        ],
    ),
    (lambda x, y: x**3, ["dz/dx = 3 * x ** 2"]),
    (lambda x, y: 2**y, ["dz/dy = z * log(2)"]),
    (lambda x, y: 5 - y, ["dz/dy = -1"]),
    (lambda x, y: -x, ["dz/dx = -1"]),
    (lambda x, y: x.relu(), ["dz/dx = 0 if z <= 0 else 1"]),
    (lambda x, y: x.exp(), ["dz/dx = z"]),
    (lambda x, y: x.log(), ["dz/dx = 1 / x"]),
    (lambda x, y: x.sqrt(), ["dz/dx = 1 / (2 * z)"]),
    (lambda x, y: x.tanh(), ["dz/dx = 1 - z * z"]),
    (lambda x, y: x.sigmoid(), ["dz/dx = (1 - z) * z"]),
    (lambda x, y: x.sin(), ["dz/dx = cos(x)"]),
    (lambda x, y: x.cos(), ["dz/dx = -sin(x)"]),
    (lambda x, y: abs(x), ["dz/dx = sign(x)"]),
]


@pytest.mark.parametrize(("f", "formulas"), FORMULAS)
def test_every_builtin_ops_formula_comes_from_its_rule(f: Any, formulas: list[str]) -> None:
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    z = labelled(f(x, y), "z")
    steps = backward_steps(z).steps
    assert [s.formula for s in steps] == formulas
    for s in steps:  # and its value is the rule at g = 1
        rule = dict(REGISTRY.entry(z._code).float_rules)[s.which]
        assert same(s.local, rule(1.0, z._a.data, z._b.data if z._b else None, z.data))
        assert math.isclose(s.contribution, s.local * s.upstream)


def test_a_user_ops_formula_comes_from_its_rule() -> None:
    with REGISTRY.scope():
        cube = defprim("cube", "x * x * x", "g * 3 * x * x")
        x = Value(2.0, label="x")
        y = labelled(cube(x), "y")
        (step,) = backward_steps(y)
        assert step.formula == "dy/dx = 3 * x * x"
        assert (step.op, step.local, step.contribution) == ("cube", 12.0, 12.0)
        assert forward_steps(y)[0].text == "y = x * x * x = 2.0 * 2.0 * 2.0 = 8.0"


# -- bit for bit against backward() on random graphs --------------------------------------


def check_against_backward(root: Value) -> None:
    before = snapshot(root)
    steps = backward_steps(root)
    listed = list(steps)
    explain(root)
    assert snapshot(root) == before or any(  # iterating changes nothing on the graph
        isinstance(x, float) and math.isnan(x) for row in before for x in row
    )
    totals: dict[Value, float] = {root: 1.0}
    for s in listed:  # the shares added up in the steps' order, from -0.0
        assert same(s.before, totals.get(s.input, -0.0))
        assert same(s.after, s.before + s.contribution)
        totals[s.input] = s.before + s.contribution
    nodes = nodes_of(root)
    assert set(totals) == set(nodes)
    adjoints = grad(root, nodes)  # no .grad written
    for v, g in zip(nodes, adjoints, strict=True):
        assert same(totals[v], g.data)
        assert same(steps.gradients[v], g.data)
    for v in nodes:
        v.grad = 0.0
    root.backward()
    for v in nodes:
        assert same(v.grad, 0.0 + totals[v])


@settings(max_examples=60)
@given(expressions(max_depth=6, n_inputs=2))
def test_contributions_sum_to_backward_bit_for_bit(expr: Any) -> None:
    root = expr(*(Value(x) for x in expr.inputs))
    if root.requires_grad:
        check_against_backward(root)


@settings(max_examples=40)
@given(expressions(["add", "mul", "sub"], max_depth=8, n_inputs=1, respect_domains=False))
def test_re_used_nodes_and_any_numbers_sum_bit_for_bit(expr: Any) -> None:
    root = expr(Value(expr.inputs[0]))
    if root.requires_grad:
        check_against_backward(root)


@given(st.integers(min_value=1, max_value=6), st.floats(-3, 3))
def test_a_chain_of_reuse_sums_bit_for_bit(depth: int, x0: float) -> None:
    x = Value(x0)
    y = x
    for _ in range(depth):
        y = y * y + x  # every level uses the one below twice and x again
    check_against_backward(y)


def test_the_steps_follow_the_order_backward_runs() -> None:
    for root in (expression()[0], neuron()[0], reused()[0]):
        pushing = []
        for s in backward_steps(root):
            if not pushing or pushing[-1] is not s.node:
                pushing.append(s.node)
        order, _ = engine._reverse_topological(root)  # the fast kernel's own order
        assert pushing == [v for v in order if v._code > 0]


# -- the naive replay -------------------------------------------------------------------


def test_naive_mode_shows_the_wrong_number_on_a_re_used_node() -> None:
    c, a = reused()
    text = explain(c, naive=True)
    assert text == NAIVE
    naive = backward_steps(c, naive=True)
    assert naive.naive and naive.gradients[a] == 8.0
    assert backward_steps(c).gradients[a] == 4.0
    notes = [s.note for s in naive.steps]
    assert notes[4].startswith("wrong: b passes on its gradient again")
    assert sum(bool(n) for n in notes) == 1
    c.backward()
    assert a.grad == 4.0


def test_naive_mode_names_a_gradient_passed_on_before_it_is_complete() -> None:
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    d = labelled(a * b, "d")
    e = labelled(d + 1.0, "e")
    f = labelled(d * e, "f")
    text = explain(f, naive=True)
    lines = text.splitlines()
    assert (
        "  ^ wrong: d passes on 7.0, but its gradient is 13.0: not every use of d has\n"
        "    given it its share yet"
    ) in text
    table = {row.split()[0]: row.split()[1:] for row in lines if re.match(r"^[a-f] ", row)}
    assert table["a"] == ["60.0", "39.0", "wrong"] and table["b"] == ["40.0", "26.0", "wrong"]
    assert table["e"] == ["6.0", "6.0"] and table["d"] == ["13.0", "13.0"]
    f.backward()
    assert (a.grad, b.grad) == (39.0, 26.0)


def test_naive_mode_on_a_tree_is_right() -> None:
    loss, _ = expression()
    text = explain(loss, naive=True)
    assert "wrong" not in text
    assert text.endswith(
        "here the naive order happens to be right: no node is reached before all its\n"
        "uses have given it their shares"
    )


def test_naive_mode_refuses_a_graph_with_too_many_paths() -> None:
    x = Value(1.0)
    y = x
    for _ in range(16):  # 2**16 paths from y down to x
        y = y + y
    assert len(backward_steps(y).steps) == 32  # backward() itself: two steps a level
    with pytest.raises(
        ValueError, match=rf"explain\(\): the naive recursion .* more than {NAIVE_LIMIT:,} steps"
    ):
        explain(y, naive=True)


# -- the Markdown/LaTeX form ------------------------------------------------------------


def test_markdown_form_for_teachers() -> None:
    loss, _ = expression()
    text = explain(loss)
    assert isinstance(text, Explanation) and isinstance(text, str)
    md = text.markdown
    lines = md.splitlines()
    assert lines[0] == (
        r"Backpropagation from $L$, in the order it runs. The seed: "
        r"$\frac{\partial L}{\partial L} = 1$."
    )
    assert (
        lines[2]
        == "| step | node | input | local derivative | upstream | contribution | gradient |"
    )
    assert lines[8] == (
        r"| 5 | $e = a \cdot b$ | $a$ | $\frac{\partial e}{\partial a} = b = -3.0$ | "
        r"$\frac{\partial L}{\partial e} = -2.0$ | $6.0$ | $6.0$ |"
    )
    assert text._repr_markdown_() == md
    assert isinstance(text.steps, BackwardSteps) and len(text.steps.steps) == 6
    printed: list[str] = []

    class Printer:
        def text(self, s: str) -> None:
            printed.append(s)

    text._repr_pretty_(Printer(), False)
    assert printed == [LESSON]


def test_markdown_shows_accumulation_and_the_naive_notes() -> None:
    c, _ = reused()
    md = explain(c, naive=True).markdown
    assert r"| 6 | $b = a + a$ | $a$ | $\frac{\partial b}{\partial a} = 1$ |" in md
    assert "$6.0 + 2.0 = 8.0$ |  |" in md
    assert "| $a$ | 8.0 (wrong) | 4.0 |" in md


def latex_formulas(md: str) -> list[str]:
    return re.findall(r"\$([^$]+)\$", md)


def test_every_formula_of_the_markdown_typesets() -> None:
    try:
        from latex2mathml.converter import convert
    except ImportError:
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER"):
            raise
        pytest.skip("did not run: latex2mathml is not installed (pip install -e '.[docs]')")
    x, y = Value(0.7, label="x1"), Value(1.3, label="loss")
    w = Value(-0.5, label="weird name|2")
    parts = [f(x, y) for f, _ in FORMULAS] + [x * w]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    md = explain(total).markdown + explain(total, naive=True).markdown
    formulas = latex_formulas(md)
    assert len(formulas) > 100
    for tex in formulas:
        assert "<math" in convert(tex.replace(r"\|", "|")), tex
    assert r"x_{1}" in md and r"\mathrm{loss}" in md and r"\text{weird name\vert 2}" in md


# -- the iterator, Jupyter, bad input -----------------------------------------------------


def test_backward_steps_is_an_iterator_that_shows_a_page_in_jupyter() -> None:
    loss, _ = expression()
    steps = backward_steps(loss)
    assert iter(steps) is steps
    first = next(steps)
    assert isinstance(first, Step) and first.formula == "dL/dd = f"
    assert len(list(steps)) == 5
    with pytest.raises(StopIteration):
        next(steps)
    assert repr(steps) == "<BackwardSteps of backward() from L: 6 steps>"
    page = steps._repr_html_()  # still the whole pass, after iterating
    assert page.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')
    assert "a.grad += dL/da = b * e.grad = -3.0 * -2.0 = 6.0" in page
    assert explain(loss).steps._repr_html_() == page


def test_a_leaf_root_has_only_the_seed() -> None:
    x = Value(3.0, label="x")
    assert explain(x) == "x.grad = 1.0  (the seed: dx/dx = 1)\ngradients: x 1.0"
    assert list(backward_steps(x)) == []


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match=r"explain\(\): expected a Value .* got float"):
        explain(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"backward_steps\(\): expected a Value .* got list"):
        backward_steps([Value(1.0)])  # type: ignore[arg-type]
    with no_grad():
        y = Value(2.0) * Value(3.0)
    with pytest.raises(RuntimeError, match=r"made under no_grad\(\)"):
        explain(y)
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"explain\(naive=...\) must be True or False, got str"):
        explain(x * x, naive="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"fmt '\.4z' is not a valid float format"):
        explain(x * x, fmt=".4z")


# -- Value._backward(), as micrograd's lecture calls it ------------------------------------


def lecture_neuron(value: Any) -> dict[str, Any]:
    """The lecture's neuron, made with `value(data, label)`."""
    x1, x2 = value(2.0, "x1"), value(0.0, "x2")
    w1, w2 = value(-3.0, "w1"), value(1.0, "w2")
    b = value(6.8813735870195432, "b")
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)


def ours(data: float, label: str) -> Value:
    return Value(data, label=label)


# the gradients the lecture fills in by hand before automating it (do/dn = 1 - o**2 = 0.5)
BY_HAND = {"o": 1.0, "n": 0.5, "x1w1x2w2": 0.5, "b": 0.5, "x1w1": 0.5, "x2w2": 0.5,
           "x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0}  # fmt: skip


def test_the_lectures_backward_cells_run_unchanged() -> None:
    g = lecture_neuron(ours)
    # the lecture's cells, one node at a time from the output back
    g["o"].grad = 1.0
    g["o"]._backward()
    g["n"]._backward()
    g["b"]._backward()
    g["x1w1x2w2"]._backward()
    g["x2w2"]._backward()
    g["x1w1"]._backward()
    by_steps = {k: v.grad for k, v in g.items()}
    assert by_steps == pytest.approx(BY_HAND, rel=1e-14)

    # then the topological sort written in the lecture, reading _prev
    g = lecture_neuron(ours)
    topo: list[Value] = []
    visited: set[Value] = set()

    def build_topo(v: Value) -> None:
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build_topo(child)
            topo.append(v)

    build_topo(g["o"])
    g["o"].grad = 1.0
    for node in reversed(topo):
        node._backward()
    assert {k: v.grad for k, v in g.items()} == by_steps
    fresh = lecture_neuron(ours)
    fresh["o"].backward()
    assert {k: v.grad for k, v in fresh.items()} == by_steps  # to the last bit


def test_the_lectures_re_used_node_cell() -> None:
    a = Value(3.0, label="a")
    b = a + a
    b.label = "b"
    b.backward()
    assert a.grad == 2.0
    a = Value(3.0)
    b = a + a
    b.grad = 1.0
    b._backward()  # each use of a gets its share
    assert a.grad == 2.0
    leaf = Value(1.0)
    leaf._backward()  # a leaf has nothing to pass on
    assert leaf.grad == 0.0


@pytest.mark.parametrize("name", ["steps", "viz.steps"])
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"microgradx.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
