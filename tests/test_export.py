"""`microgradx.export`: `to_torch` and `compare`, checked against PyTorch itself.

The targets of issue 18: on micrograd's moons model (`MLP(2, [16, 16, 1])` with
micrograd's initial weights and data, from benchmarks/engines.py) the exported model's
outputs and gradients equal microgradx's to 1e-12, and one SGD step in torch gives the
weights of microgradx's SGD step. The numbers are checked by hand-written torch code as
well as by `compare`, so `compare` is not its own oracle.

Without torch the tests that need it are skipped with a reason saying they did not run
(`torch_extra.py`; `.ci/run` makes that a failure). The tests of what happens without
torch run everywhere.
"""

from __future__ import annotations

import doctest
import math
import random
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch_extra

from microgradx import Value, no_grad
from microgradx import export as export_module
from microgradx.export import Comparison, _difference, compare, to_torch
from microgradx.nn import MLP, Layer, Module, Neuron
from microgradx.optim import SGD

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import engines  # noqa: E402

TOL = 1e-12


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return torch_extra.torch_or_skip()


def moons_model() -> MLP:
    """micrograd's moons classifier with micrograd's initial weights."""
    random.seed(1337)
    model = MLP(2, engines.SIZES)
    assert [p.data for p in model.parameters()] == [
        v for layer in engines.initial_weights() for neuron in layer for v in neuron
    ]
    return model


def hinge_of(y: list[int]) -> Any:
    """micrograd's data loss as a function of the outputs, for both engines."""
    return lambda out: (
        sum((1 + -t * o[0]).relu() for o, t in zip(out, y, strict=True)) * (1.0 / len(y))
    )


def max_abs(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def flat_torch(torch: ModuleType, tm: Any, what: str) -> list[float]:
    """The torch model's weights (or their .grad) in microgradx's parameter order."""
    out: list[float] = []
    for linear in (m for m in tm.modules() if isinstance(m, torch.nn.Linear)):
        w = getattr(linear.weight, what) if what else linear.weight
        b = getattr(linear.bias, what) if what else linear.bias
        for row, bias in zip(w.tolist(), b.tolist(), strict=True):
            out += [*row, bias]
    return out


# -- without torch (these run everywhere) ---------------------------------------------------


def test_importing_microgradx_does_not_import_torch() -> None:
    code = (
        "import sys, microgradx, microgradx.export, microgradx.nn\n"
        "from microgradx import gc_paused\n"
        "from microgradx.export import to_torch, compare\n"
        "print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "False"


def test_without_torch_both_functions_raise_an_import_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ImportError, match=r'pip install "microgradx\[torch\]"'):
        to_torch(model)
    with pytest.raises(ImportError, match=r"microgradx\[torch\]"):
        compare(model, object(), [[0.0, 1.0]])  # type: ignore[arg-type]


def test_bad_modules_are_refused_before_torch_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # the input is checked first
    with pytest.raises(TypeError, match=r"expects a microgradx\.nn MLP, Layer or Neuron, got int"):
        to_torch(5)  # type: ignore[arg-type]

    class Custom(Module):
        def __init__(self) -> None:
            self.w = Value(1.0)

        def forward(self, x: float) -> Value:
            return self.w * x

    with pytest.raises(TypeError, match="exports MLP, Layer and Neuron; Custom is another"):
        to_torch(Custom())

    class Doubled(MLP):
        def forward(self, x: Any) -> Any:
            return super().forward(x) * 2

    with pytest.raises(TypeError, match="Doubled defines its own forward"):
        to_torch(Doubled(2, [1], seed=0))

    mixed = Layer(2, 2, seed=0)
    mixed.neurons[1] = Neuron(2, activation="tanh", seed=0)
    with pytest.raises(ValueError, match=r"different activations \(relu, tanh\)"):
        to_torch(mixed)
    uneven = Layer(2, 2, seed=0)
    uneven.neurons[1] = Neuron(3, seed=0)
    with pytest.raises(ValueError, match=r"different numbers of inputs \(\[2, 3\]\)"):
        to_torch(uneven)
    broken = MLP(2, [3, 1], seed=0)
    broken.layers[1] = Layer(4, 1, seed=0)
    with pytest.raises(ValueError, match="MLP layer 1 reads 4 inputs but layer 0 gives 3"):
        to_torch(broken)
    with pytest.raises(TypeError, match=r"compare\(\) expects a microgradx\.nn MLP"):
        compare("model", None, [[1.0]])  # type: ignore[arg-type]


def test_the_extra_pins_the_cpu_wheel_and_ci_installs_it_and_requires_the_tests() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"
    ]
    assert extras["torch"] == ["torch==2.13.0"]  # never a plain "torch": that is CUDA, GBs
    for name, requirements in extras.items():  # and no other extra pulls torch in unpinned
        assert not [r for r in requirements if r.startswith("torch") and r != "torch==2.13.0"], name
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert f"export {torch_extra.REQUIRE}=1" in ci
    assert '".[torch]"' in ci


def test_a_missing_torch_skips_with_a_reason_and_fails_where_it_is_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delenv(torch_extra.REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="torch test did not run: PyTorch is not"):
        torch_extra.torch_or_skip()
    monkeypatch.setenv(torch_extra.REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="torch test did not run"):
        torch_extra.torch_or_skip()


def test_differences_count_equal_nans_and_infinities_as_equal_and_others_as_infinite() -> None:
    inf, nan = math.inf, math.nan
    same = _difference([("a", 1.0, 1.0), ("b", nan, nan), ("c", inf, inf), ("d", -0.0, 0.0)])
    assert (same.absolute, same.relative, same.error, same.count) == (0.0, 0.0, 0.0, 4)
    for a, b in [(nan, 1.0), (inf, -inf), (inf, 1e300), (1.0, nan)]:
        d = _difference([("x", 1.0, 1.0), ("bad", a, b)])
        assert (d.absolute, d.error, d.at) == (inf, inf, "bad"), (a, b)
    d = _difference([("small", 1e-20, 2e-20), ("big", 1e6, 1e6 + 1e-4)])
    assert d.at == "big" and d.absolute == pytest.approx(1e-4, rel=1e-6)
    assert d.relative == pytest.approx(0.5)  # at "small", where both are tiny
    assert d.error == pytest.approx(1e-10, rel=1e-6)  # each entry within it, one way or the other


# -- to_torch -------------------------------------------------------------------------------


def test_the_moons_model_becomes_linear_and_relu_layers_with_the_same_float64_weights(
    torch: ModuleType,
) -> None:
    model = moons_model()
    tm = to_torch(model)
    assert isinstance(tm, torch.nn.Sequential)
    assert [type(m).__name__ for m in tm] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [(m.in_features, m.out_features) for m in tm if isinstance(m, torch.nn.Linear)] == [
        (2, 16),
        (16, 16),
        (16, 1),
    ]
    assert all(p.dtype == torch.float64 and p.requires_grad for p in tm.parameters())
    assert sum(p.numel() for p in tm.parameters()) == len(model.parameters()) == 337
    # bit for bit: neuron j of layer k is row j of Linear k
    assert flat_torch(torch, tm, "") == [p.data for p in model.parameters()]


def test_the_weights_are_copied_and_torch_s_random_numbers_are_not_used(torch: ModuleType) -> None:
    model = MLP(3, [4, 2], seed=2)
    state = torch.random.get_rng_state()
    tm = to_torch(model)
    assert torch.equal(state, torch.random.get_rng_state())
    before = [p.data for p in model.parameters()]
    with torch.no_grad():
        tm[0].weight.add_(1.0)
    assert [p.data for p in model.parameters()] == before
    model.parameters()[0].data = 123.0
    assert tm[0].weight[0, 0].item() != 123.0


@pytest.mark.parametrize(
    ("make", "kinds"),
    [
        (lambda: Neuron(3, seed=1), ["Linear", "ReLU"]),
        (lambda: Neuron(3, nonlin=False, seed=1), ["Linear"]),
        (lambda: Neuron(3, activation="tanh", seed=1), ["Linear", "Tanh"]),
        (lambda: Neuron(3, activation="sigmoid", seed=1), ["Linear", "Sigmoid"]),
        (lambda: Neuron(3, activation="linear", seed=1), ["Linear"]),
        (lambda: Layer(3, 1, seed=1), ["Linear", "ReLU"]),
        (lambda: Layer(3, 4, activation="tanh", seed=1), ["Linear", "Tanh"]),
        (lambda: MLP(3, [5, 4, 2], activation="sigmoid", seed=1),
         ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]),
        (lambda: MLP(3, [2], seed=1), ["Linear"]),
    ],
    ids=["relu neuron", "linear neuron", "tanh neuron", "sigmoid neuron", "activation=linear",
         "layer of one", "tanh layer", "sigmoid mlp", "one linear layer"],
)  # fmt: skip
def test_every_module_and_activation_computes_the_same_numbers(
    torch: ModuleType, make: Any, kinds: list[str]
) -> None:
    model = make()
    tm = to_torch(model)
    assert [type(m).__name__ for m in tm] == kinds
    rng = random.Random(5)
    xs = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(7)]
    # by hand: the outputs, and the gradient of their sum, on both sides
    mine = [model(x) for x in xs]
    mine = [out if isinstance(out, list) else [out] for out in mine]
    total = sum(v for out in mine for v in out)
    model.zero_grad()
    total.backward()
    out = tm(torch.tensor(xs, dtype=torch.float64))
    assert tuple(out.shape) == (7, len(mine[0]))
    out.sum().backward()
    assert max_abs([v.data for o in mine for v in o], out.flatten().tolist()) <= TOL
    assert max_abs([p.grad for p in model.parameters()], flat_torch(torch, tm, "grad")) <= TOL
    report = compare(model, tm, xs)
    assert report.close(TOL)
    assert report.weights.absolute == 0.0 and report.weights.count == len(model.parameters())


def test_exact_numbers_are_exported_rounded_to_float64(torch: ModuleType) -> None:
    neuron = Neuron(2, nonlin=False, seed=0)
    neuron.w[0].data = Fraction(1, 3)
    tm = to_torch(neuron)
    assert tm[0].weight[0, 0].item() == 1 / 3


# -- the targets on the moons model ---------------------------------------------------------


def test_moons_outputs_and_gradients_equal_microgradx_s_to_1e_12(torch: ModuleType) -> None:
    model, (xs, y) = moons_model(), engines.moons(100)
    tm = to_torch(model)
    # the full micrograd loss, written out on both sides
    params = model.parameters()
    scores = [model(x) for x in xs]
    data_loss = sum((1 + -t * s).relu() for t, s in zip(y, scores, strict=True)) * (1.0 / len(y))
    total = data_loss + 1e-4 * sum(p * p for p in params)
    model.zero_grad()
    total.backward()
    X, Y = torch.tensor(xs, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)  # noqa: N806
    out = tm(X)[:, 0]
    t_total = torch.relu(1 + -Y * out).mean() + 1e-4 * sum((p * p).sum() for p in tm.parameters())
    t_total.backward()
    assert max_abs([s.data for s in scores], out.tolist()) <= TOL
    assert abs(total.data - t_total.item()) <= TOL
    grads = flat_torch(torch, tm, "grad")
    assert max_abs([p.grad for p in params], grads) <= TOL
    assert max(abs(g) for g in grads) > 0.1  # a real gradient, not zeros on both sides

    # and compare() finds the same: outputs, and the data loss's gradient, to 1e-12
    report = compare(model, tm, xs, loss=hinge_of(y))
    assert report.close(TOL), str(report)
    assert report.outputs.absolute == max_abs([s.data for s in scores], out.tolist())
    assert report.outputs.count == 100 and report.gradients.count == 337
    assert abs(report.loss.microgradx - data_loss.data) == 0.0
    assert report.outputs.absolute <= TOL and report.gradients.absolute <= TOL


def test_one_sgd_step_in_torch_gives_microgradx_s_weights(torch: ModuleType) -> None:
    model, (xs, y) = moons_model(), engines.moons(100)
    tm = to_torch(model)
    params = model.parameters()
    before = [p.data for p in params]
    lr = engines.lr(0)
    optimizer, t_optimizer = SGD(params, lr=lr), torch.optim.SGD(tm.parameters(), lr=lr)

    optimizer.zero_grad()
    scores = [model(x) for x in xs]
    data_loss = sum((1 + -t * s).relu() for t, s in zip(y, scores, strict=True)) * (1.0 / len(y))
    (data_loss + 1e-4 * sum(p * p for p in params)).backward()
    optimizer.step()

    X, Y = torch.tensor(xs, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)  # noqa: N806
    t_optimizer.zero_grad()
    out = tm(X)[:, 0]
    (
        torch.relu(1 + -Y * out).mean() + 1e-4 * sum((p * p).sum() for p in tm.parameters())
    ).backward()
    t_optimizer.step()

    after = [p.data for p in params]
    assert max_abs(after, before) > 1e-3  # the step moved the weights
    assert max_abs(after, flat_torch(torch, tm, "")) <= TOL
    report = compare(model, tm, xs)
    assert report.weights.absolute == max_abs(after, flat_torch(torch, tm, ""))
    assert report.close(TOL), str(report)


# -- compare --------------------------------------------------------------------------------


def test_compare_finds_a_changed_weight_and_names_it(torch: ModuleType) -> None:
    model = moons_model()
    tm = to_torch(model)
    with torch.no_grad():
        tm[2].weight[3, 7] += 1e-3
    report = compare(model, tm, engines.moons(20)[0])
    assert not report.close(TOL)
    assert report.weights.at == "layers.1.neurons.3.w.7 = torch 2.weight[3, 7]"
    assert report.weights.absolute == pytest.approx(1e-3, rel=1e-9)
    assert report.weights.torch - report.weights.microgradx == pytest.approx(1e-3, rel=1e-9)
    assert report.outputs.absolute > 1e-6
    text = str(report)
    assert "layers.1.neurons.3.w.7 = torch 2.weight[3, 7]" in text
    assert text.splitlines()[0] == (
        "microgradx MLP(2, [16, 16, 1], relu/linear) vs torch Sequential: 20 examples, "
        "337 parameters"
    )


def test_compare_catches_a_hand_written_model_with_the_wrong_activation(torch: ModuleType) -> None:
    model = MLP(2, [8, 1], seed=3)
    nn = torch.nn

    class Handmade(nn.Module):  # type: ignore[misc]
        def __init__(self, activation: Any) -> None:
            super().__init__()
            self.hidden = nn.Linear(2, 8, dtype=torch.float64)
            self.out = nn.Linear(8, 1, dtype=torch.float64)
            self.activation = activation

        def forward(self, x: Any) -> Any:
            return self.out(self.activation(self.hidden(x))).squeeze(1)  # shape (n,)

    for activation, close in [(torch.relu, True), (torch.tanh, False)]:
        hm = Handmade(activation)
        with torch.no_grad():
            exported = to_torch(model)
            hm.hidden.weight.copy_(exported[0].weight)
            hm.hidden.bias.copy_(exported[0].bias)
            hm.out.weight.copy_(exported[2].weight)
            hm.out.bias.copy_(exported[2].bias)
        report = compare(model, hm, [[0.3, -0.2], [1.0, 2.0], [-1.5, 0.5]])
        assert report.weights.absolute == 0.0
        assert report.close(TOL) is close, str(report)
        assert report.torch_model == "Handmade"
        if not close:  # the report names the hand-written model's own parameters
            assert re.search(r" = torch (hidden|out)\.(weight\[\d, \d\]|bias\[\d\])$",
                             report.gradients.at), report.gradients.at  # fmt: skip
            assert report.outputs.absolute > 0.01


def test_compare_changes_no_gradient_on_either_side(torch: ModuleType) -> None:
    model = MLP(2, [4, 1], seed=0)
    tm = to_torch(model)
    for p in model.parameters():
        p.grad = 7.0
    with no_grad():  # also inside no_grad: compare needs a graph and makes one
        report = compare(model, tm, [[0.5, 0.5]])
    assert report.close(TOL)
    assert all(p.grad == 7.0 for p in model.parameters())
    assert all(p.grad is None for p in tm.parameters())


def test_compare_takes_tensors_and_single_numbers(torch: ModuleType) -> None:
    model = MLP(2, [4, 3], seed=0)
    tm = to_torch(model)
    a = compare(model, tm, torch.tensor([[0.5, -0.5], [2.0, 1.0]], dtype=torch.float64))
    b = compare(model, tm, [(0.5, -0.5), [2, 1]])
    assert a.outputs == b.outputs and a.outputs.count == 6
    one = Neuron(1, activation="tanh", seed=0)
    assert compare(one, to_torch(one), [0.5, -1.0, 3]).outputs.count == 3


def test_compare_with_nan_and_inf_inputs(torch: ModuleType) -> None:
    model = MLP(2, [3, 1], seed=0)
    report = compare(model, to_torch(model), [[math.inf, 0.5], [math.nan, 1.0], [1.0, 1.0]])
    # nan where microgradx gives nan and torch too count as equal
    assert report.outputs.count == 3
    assert report.close(TOL), str(report)


def test_compare_refuses_what_it_cannot_match(torch: ModuleType) -> None:
    model = MLP(2, [4, 1], seed=0)
    tm = to_torch(model)
    with pytest.raises(TypeError, match=r"torch_model must be a torch\.nn\.Module, got list"):
        compare(model, [], [[1.0, 2.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"1 layer\(s\), the torch model 2 torch.nn.Linear"):
        compare(MLP(2, [1], seed=0), tm, [[1.0, 2.0]])
    with pytest.raises(ValueError, match="layer 0 maps 2 inputs to 5 outputs, but the torch"):
        compare(MLP(2, [5, 1], seed=0), tm, [[1.0, 2.0]])
    no_bias = torch.nn.Sequential(
        torch.nn.Linear(2, 4, dtype=torch.float64), torch.nn.Linear(4, 1, bias=False)
    )
    with pytest.raises(ValueError, match="Linear '1' has no bias"):
        compare(model, no_bias, [[1.0, 2.0]])
    extra = to_torch(model)
    extra.register_parameter("scale", torch.nn.Parameter(torch.ones(1, dtype=torch.float64)))
    with pytest.raises(ValueError, match=r"parameters outside its Linear modules \(scale\)"):
        compare(model, extra, [[1.0, 2.0]])
    frozen = to_torch(model).requires_grad_(False)
    with pytest.raises(ValueError, match="does not require grad"):
        compare(model, frozen, [[1.0, 2.0]])
    with pytest.raises(ValueError, match="example 1 has 3 numbers; the model reads 2"):
        compare(model, tm, [[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="example 0 must be a sequence of 2 numbers, got float"):
        compare(model, tm, [0.5, 1.0])
    with pytest.raises(TypeError, match="example 0 holds str"):
        compare(model, tm, [[1.0, "2"]])
    with pytest.raises(TypeError, match="inputs must be a sequence of examples"):
        compare(model, tm, 3.0)
    with pytest.raises(ValueError, match="inputs has no examples"):
        compare(model, tm, [])
    with pytest.raises(
        TypeError, match="loss of the microgradx model must be one number, got list"
    ):
        compare(model, tm, [[1.0, 2.0]], loss=lambda out: out * 2)

    def per_example(out: Any) -> Any:  # one number on the microgradx side only
        return sum(o[0] for o in out) if isinstance(out, list) else out[:, 0] * 2

    with pytest.raises(
        TypeError, match=r"loss of the torch model must be one number, got Tensor of shape \(2,\)"
    ):
        compare(model, tm, [[1.0, 2.0], [0.0, 1.0]], loss=per_example)
    with pytest.raises(
        ValueError, match=r"torch model gave outputs of shape \(1, 4\); expected \(1, 1\)"
    ):
        compare(model, _wrong_shape(torch, tm), [[1.0, 2.0]])


def _wrong_shape(torch: ModuleType, tm: Any) -> Any:
    class Wrong(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = tm[0], tm[2]

        def forward(self, x: Any) -> Any:
            self.b(x.new_zeros(len(x), 4))
            return self.a(x)  # the hidden layer's outputs, not the model's

    return Wrong()


def test_the_report_prints_a_table(torch: ModuleType) -> None:
    model = MLP(2, [3, 1], seed=0)
    tm = to_torch(model)
    with torch.no_grad():
        tm[0].bias[2] += 0.5
    report = compare(model, tm, [[0.5, -1.0]])
    assert isinstance(report, Comparison)
    lines = str(report).splitlines()
    assert lines[0] == (
        "microgradx MLP(2, [3, 1], relu/linear) vs torch Sequential: 1 example, 13 parameters"
    )
    rows = [line.split()[0] for line in lines[2:-1] if not line.startswith(" " * 4)]
    assert rows == ["outputs", "loss", "weights", "gradients"]
    weights = lines.index(next(line for line in lines if line.startswith("  weights")))
    assert (
        lines[weights] == "  weights    0.5 (relative 1) at layers.0.neurons.2.b = torch 0.bias[2]"
    )
    assert lines[weights + 1] == "             microgradx 0.0, torch 0.5"
    assert lines[-1] == "every number agrees to 0.5 (absolutely or relatively)"
    same = str(compare(model, to_torch(model), [[0.0, 0.0]])).splitlines()
    assert "  weights    0 (the same)" in same and same[-1].startswith("every number")


def test_docstring_examples_run(torch: ModuleType) -> None:
    result = doctest.testmod(export_module)
    assert result.attempted > 0 and result.failed == 0
