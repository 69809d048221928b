"""Tests for microgradx.nn: shapes, initialisation, activations, names, state dicts, errors."""

from __future__ import annotations

import doctest
import gc
import importlib
import math
import random

import micrograd.nn as mg_nn
import pytest

from microgradx import Value
from microgradx.nn import MLP, Layer, Module, Neuron


def test_shapes_follow_micrograd() -> None:
    n = Neuron(3)
    assert len(n.parameters()) == 4
    assert isinstance(n([1.0, 2.0, 3.0]), Value)
    layer = Layer(3, 4)
    out = layer([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 4
    assert isinstance(Layer(3, 1)([1.0, 2.0, 3.0]), Value)  # one neuron: one Value
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == (2 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 1 == 337
    assert isinstance(model([0.5, -0.5]), Value)
    assert len(MLP(2, [3, 2])([0.5, -0.5])) == 2


def test_last_layer_is_linear_hidden_layers_relu() -> None:
    model = MLP(2, [4, 4, 1])
    kinds = [[n.nonlin for n in layer.neurons] for layer in model.layers]
    assert kinds == [[True] * 4, [True] * 4, [False]]
    assert repr(model.layers[-1]) == "Layer of [LinearNeuron(4)]"
    assert repr(Neuron(2)) == "ReLUNeuron(2)"
    assert repr(Neuron(2, activation="tanh")) == "TanhNeuron(2)"


def test_init_matches_micrograd_with_global_seed() -> None:
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    random.seed(1337)
    theirs = mg_nn.MLP(2, [16, 16, 1])
    assert [p.data for p in ours.parameters()] == [float(p.data) for p in theirs.parameters()]
    # weights in [-1, 1], biases 0
    for neuron in (n for layer in ours.layers for n in layer.neurons):
        assert all(-1.0 <= w.data <= 1.0 for w in neuron.w)
        assert neuron.b.data == 0.0


def test_forward_matches_micrograd_exactly() -> None:
    random.seed(7)
    ours = MLP(3, [5, 4, 1])
    random.seed(7)
    theirs = mg_nn.MLP(3, [5, 4, 1])
    from micrograd.engine import Value as MgValue

    for x in ([0.1, -0.2, 0.3], [1.5, 2.0, -3.0], [0.0, 0.0, 0.0]):
        a = ours(x)
        b = theirs([MgValue(v) for v in x])
        assert a.data == b.data


def test_seeded_init_is_reproducible_and_private() -> None:
    random.seed(99)
    before = random.random()
    random.seed(99)
    a = MLP(2, [8, 1], seed=5)
    assert random.random() == before  # a seed leaves the global random state alone
    b = MLP(2, [8, 1], seed=5)
    c = MLP(2, [8, 1], seed=6)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert [p.data for p in a.parameters()] != [p.data for p in c.parameters()]
    rng = random.Random(5)
    d = MLP(2, [8, 1], seed=rng)
    assert [p.data for p in d.parameters()] == [p.data for p in a.parameters()]


@pytest.mark.parametrize(
    ("activation", "fn"),
    [
        ("relu", lambda s: max(s, 0.0)),
        ("tanh", math.tanh),
        ("sigmoid", lambda s: 1 / (1 + math.exp(-s))),
        ("linear", lambda s: s),
    ],
)
def test_activations(activation: str, fn: object) -> None:
    n = Neuron(2, activation=activation, seed=3)
    n.b.data = 0.25
    x = [0.7, -1.3]
    s = n.b.data + n.w[0].data * x[0] + n.w[1].data * x[1]
    assert n(x).data == pytest.approx(fn(s), rel=1e-15)  # type: ignore[operator]
    assert n.activation == activation
    assert Neuron(2, nonlin=False, activation=activation).activation == "linear"


def test_mlp_activation_applies_to_hidden_layers() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    assert [n.activation for n in model.layers[0].neurons] == ["tanh"] * 3
    assert model.layers[1].neurons[0].activation == "linear"


def test_gradients_flow_to_every_parameter() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=1)
    out = model([0.3, -0.4])
    out.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(isinstance(g, float) for g in grads)
    assert any(g != 0.0 for g in grads)
    model.zero_grad()
    assert all(p.grad == 0.0 and isinstance(p.grad, float) for p in model.parameters())


def test_inputs_may_be_values_or_numbers() -> None:
    n = Neuron(2, seed=0)
    a = n([Value(0.5), 2]).data
    b = n((0.5, 2.0)).data
    assert a == b
    one = Neuron(1, activation="linear", seed=0)
    assert one(Value(2.0)).data == one([2.0]).data  # one input may come alone
    stacked = MLP(2, [1, 3, 1], seed=0)  # a 1-neuron layer feeds the next one
    assert isinstance(stacked([0.1, 0.2]), Value)


def test_named_parameters_and_state_dict() -> None:
    model = MLP(2, [2, 1], seed=0)
    names = [n for n, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.1.neurons.0.b"
    assert [p for _, p in model.named_parameters()] == model.parameters()
    sd = model.state_dict()
    assert list(sd) == names
    assert all(isinstance(v, float) for v in sd.values())
    other = MLP(2, [2, 1], seed=1)
    other.load_state_dict(sd)
    assert [p.data for p in other.parameters()] == [p.data for p in model.parameters()]


def test_custom_module_discovers_parameters() -> None:
    class Affine(Module):
        def __init__(self) -> None:
            self.scale = Value(2.0)
            self.shift = Value(-1.0)
            self.extra = {"gain": Value(0.5)}
            self.sub = Neuron(1, seed=0)
            self.tied = self.scale  # the same Value twice is one parameter

        def forward(self, x: Value) -> Value:
            return self.scale * x + self.shift

    m = Affine()
    m.sub.parent = m  # type: ignore[attr-defined]  # a cycle among modules ends
    assert [n for n, _ in m.named_parameters()] == [
        "scale",
        "shift",
        "extra.gain",
        "sub.w.0",
        "sub.b",
    ]
    assert m(Value(3.0)).data == 5.0
    with pytest.raises(NotImplementedError, match="forward"):
        Module()()


def test_load_state_dict_errors_leave_model_untouched() -> None:
    model = MLP(2, [2, 1], seed=0)
    before = [p.data for p in model.parameters()]
    sd = model.state_dict()
    missing = dict(list(sd.items())[:-1])
    with pytest.raises(ValueError, match=r"missing: 'layers\.1\.neurons\.0\.b'"):
        model.load_state_dict({k: 0.0 for k in missing})
    with pytest.raises(ValueError, match="unexpected: 'bogus'"):
        model.load_state_dict({**{k: 0.0 for k in sd}, "bogus": 1.0})
    bigger = MLP(2, [3, 1], seed=0).state_dict()
    with pytest.raises(ValueError, match="13 entries, the model 9 parameters"):
        model.load_state_dict(bigger)
    bad = {k: 0.0 for k in sd}
    bad["layers.1.neurons.0.b"] = "x"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="must be a float, got str"):
        model.load_state_dict(bad)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([1.0, 2.0])  # type: ignore[arg-type]
    assert [p.data for p in model.parameters()] == before
    model.load_state_dict({"layers.0.neurons.0.b": 4.0}, strict=False)
    assert model.layers[0].neurons[0].b.data == 4.0


def test_bad_input_width_and_types() -> None:
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        model([1.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got a single float"):
        model(1.0)
    with pytest.raises(TypeError, match="sequence of 2 Values or numbers, got str"):
        model("ab")
    with pytest.raises(TypeError, match="got str"):
        model([1.0, "a"])


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="unknown activation 'gelu'; expected one of relu"):
        Neuron(2, activation="gelu")
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [3, 1], activation="softmax")
    with pytest.raises(TypeError, match=r"nin=...\) must be an int, got float"):
        Neuron(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        Layer(2, 0)
    with pytest.raises(TypeError, match="list of ints"):
        MLP(2, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one layer"):
        MLP(2, [])
    with pytest.raises(TypeError, match="seed must be an int"):
        MLP(2, [1], seed="x")  # type: ignore[arg-type]


def test_forward_leaves_no_reference_cycles() -> None:
    model = MLP(2, [4, 1], seed=0)
    gc.collect()
    gc.disable()
    try:
        out = model([0.5, -0.5])
        out.backward()
        model.zero_grad()
        del out
        assert gc.collect() == 0  # everything was freed by reference counting alone
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "name",
    [
        "nn",
        "losses",
        "optim",
        "data",
        "checkpoint",
        "train",
        "viz.text",
        "plot",
        "descent",
        "examples",
    ],
)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"microgradx.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def _shape(root: Value) -> list[tuple[object, ...]]:
    """The graph under `root` as data: per node (op code, data, where its inputs are)."""
    from microgradx.engine import topological

    order = topological([root])
    where = {id(v): i for i, v in enumerate(order)}
    return [
        (
            v._code,
            v.data,
            v.grad,
            v.label,
            *(None if u is None else where.get(id(u), ("number", u.data)) for u in (v._a, v._b)),
        )
        for v in order
    ]


def _operator_sum(b: object, w: list[object], x: list[object]) -> object:
    act = b
    for wi, xi in zip(w, x, strict=True):
        act = act + wi * xi  # type: ignore[operator]
    return act


@pytest.mark.parametrize(
    "case",
    ["values", "numbers in x", "number bias", "exact x", "exact w", "empty"],
)
def test_weighted_sum_makes_the_nodes_the_operators_make(case: str) -> None:
    from fractions import Fraction

    from microgradx._builtins import weighted_sum
    from microgradx.engine import ExactValue

    def inputs() -> tuple[object, list[object], list[object]]:
        rng = random.Random(7)
        b: object = Value(0.25)
        w: list[object] = [Value(rng.uniform(-1, 1)) for _ in range(5)]
        x: list[object] = [Value(rng.uniform(-3, 3)) for _ in range(5)]
        if case == "numbers in x":
            x[1], x[3] = 2.5, -1
        elif case == "number bias":
            b = 0.5
        elif case == "exact x":
            x[2] = ExactValue(Fraction(1, 3))
        elif case == "exact w":
            w = [Value(Fraction(i + 1, 7)) for i in range(5)]
            x = [Value(Fraction(2, i + 3)) for i in range(5)]
            b = Value(Fraction(1, 2))
        elif case == "empty":
            w, x = [], []
        return b, w, x

    fast = weighted_sum(*inputs())
    plain = _operator_sum(*inputs())
    assert type(fast) is type(plain)
    if not isinstance(plain, Value):  # no terms, a number bias: the bias itself
        assert fast == plain
        return
    assert _shape(fast) == _shape(plain)
    fast.backward()
    plain.backward()
    assert _shape(fast) == _shape(plain)  # the same gradients, every node


def test_weighted_sum_under_no_grad_makes_constants_and_checks_lengths() -> None:
    from microgradx import no_grad
    from microgradx._builtins import weighted_sum

    w, x = [Value(2.0), Value(3.0)], [Value(5.0), Value(7.0)]
    with no_grad():
        out = weighted_sum(Value(1.0), w, x)
    assert out.data == 1.0 + 2.0 * 5.0 + 3.0 * 7.0
    assert not out.requires_grad and out._a is None
    with pytest.raises(ValueError, match="zip"):
        weighted_sum(Value(1.0), w, x[:1])


def test_neuron_graph_is_micrograds_loop() -> None:
    random.seed(3)
    n = Neuron(4)
    xs = [Value(v) for v in (0.5, -1.5, 2.0, 0.25)]
    out = n(xs)
    act = _operator_sum(n.b, list(n.w), list(xs))
    assert isinstance(act, Value)
    assert out._op == "ReLU"
    assert _shape(out._a) == _shape(act)
    assert len(_shape(act)) == 1 + 4 + 4 + 4 + 4  # bias, 4 weights, 4 inputs, 4 mul, 4 add


def _made(fn: object, *args: object) -> tuple[object, list[tuple[object, ...]], list[object]]:
    """`fn(*args)`: its result (or error), its graph (numbers by repr, so nan and -0.0
    count) and the order the nodes were made in (each by its place in the graph)."""
    from microgradx import _builtins
    from microgradx.codegen.runtime import SHARED
    from microgradx.engine import topological

    made: list[object] = []
    new = _builtins._new

    def recording(cls: type) -> object:
        made.append(obj := new(cls))
        return obj

    SHARED.clear()
    _builtins._new = recording
    try:
        out = fn(*args)  # type: ignore[operator]
    except (TypeError, ValueError) as e:
        return (type(e), str(e)), [], []
    finally:
        _builtins._new = new
    if not isinstance(out, Value):
        return repr(out), [], []
    order = topological([out])
    where = {id(v): i for i, v in enumerate(order)}
    known = {id(a): f"arg {i}" for i, a in enumerate(args[:1] + tuple(args[1]) + tuple(args[2]))}  # type: ignore[arg-type]
    graph = [
        (
            type(v).__name__,
            v._code,
            repr(v.data),
            known.get(id(v)),
            *(None if u is None else known.get(id(u), where[id(u)]) for u in (v._a, v._b)),
        )
        for v in order
    ]
    return repr(out.data), graph, [where.get(id(o), "unreached") for o in made]


_KINDS = ["value", "value", "inf", "nan", "-0.0", "exact", "float", "int", "bool", "numpy"]


def _operand(kind: str, x: float) -> object:
    import fractions

    import numpy as np

    from microgradx.engine import ExactValue

    return {
        "value": lambda: Value(x),
        "inf": lambda: Value(math.copysign(math.inf, x)),
        "nan": lambda: Value(math.nan),
        "-0.0": lambda: Value(-0.0),
        "exact": lambda: ExactValue(fractions.Fraction(x).limit_denominator(9)),
        "float": lambda: x,
        "int": lambda: round(x),
        "bool": lambda: x > 0,
        "numpy": lambda: np.float64(x),
    }[kind]()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_terms = st.lists(
    st.tuples(st.sampled_from(_KINDS), st.floats(-3, 3), st.sampled_from(_KINDS), st.floats(-3, 3)),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(
    bias=st.tuples(st.sampled_from(_KINDS), st.floats(-3, 3)),
    terms=_terms,
    extra=st.integers(-1, 1),
    grad_mode=st.sampled_from(["on", "no_grad"]),
)
def test_weighted_sum_is_the_operator_loop(
    bias: tuple[str, float], terms: list[tuple[str, float, str, float]], extra: int, grad_mode: str
) -> None:
    import contextlib

    from microgradx import no_grad
    from microgradx._builtins import weighted_sum

    def args() -> tuple[object, list[object], list[object]]:
        w = [_operand(k, v) for k, v, _, _ in terms]
        x = [_operand(k, v) for _, _, k, v in terms]
        if extra > 0:
            w.append(Value(0.5))  # one weight too many: zip(strict=True) refuses
        elif extra < 0 and x:
            x.pop()
        return _operand(*bias), w, x

    mode = no_grad() if grad_mode == "no_grad" else contextlib.nullcontext()
    with mode:
        assert _made(weighted_sum, *args()) == _made(_operator_sum, *args())
