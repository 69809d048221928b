"""End-to-end training: micrograd's moons demo to 100%, and softmax on three classes."""

from __future__ import annotations

import random

import micrograd.nn as mg_nn
import pytest
from micrograd.engine import Value as MgValue

from microgradx import Value
from microgradx.data import make_blobs, make_moons
from microgradx.losses import cross_entropy, hinge, l2_penalty
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam, LambdaLR
from microgradx.train import MOONS_SEED, MoonsRun, binary_accuracy, fit, train_moons


@pytest.fixture(scope="module")
def moons() -> MoonsRun:
    return train_moons()  # the full demo: 100 points, noise 0.1, 100 steps


def test_moons_demo_reaches_full_training_accuracy(moons: MoonsRun) -> None:
    h = moons.history
    assert len(h.loss) == len(h.accuracy) == len(h.lr) == 100
    assert moons.final_accuracy == 1.0
    assert h.first_step_at(1.0) == 19
    assert moons.final_loss == pytest.approx(0.012062078604313, rel=1e-6)
    assert h.loss[-1] < 0.05 * h.loss[0]
    # the model itself classifies every training point right after the last update
    scores = [moons.model(x) for x in moons.X]
    assert binary_accuracy(scores, moons.y) == 1.0


def test_moons_demo_setup_is_micrograds(moons: MoonsRun) -> None:
    assert MOONS_SEED == 4
    assert len(moons.model.parameters()) == 337
    assert [len(layer.neurons) for layer in moons.model.layers] == [16, 16, 1]
    assert moons.history.lr == [1.0 - 0.9 * k / 100 for k in range(100)]
    xs, labels = make_moons(100, 0.1, MOONS_SEED)
    assert xs == moons.X
    assert moons.y == [2 * v - 1 for v in labels]


def test_training_loop_matches_micrograd() -> None:
    # micrograd's own demo loop, on our data and with the same initial weights
    xs, labels = make_moons(30, 0.1, seed=2)
    ys = [2 * v - 1 for v in labels]
    random.seed(1337)
    ours = MLP(2, [8, 8, 1])
    random.seed(1337)
    theirs = mg_nn.MLP(2, [8, 8, 1])
    expected = []
    for k in range(4):
        scores = [theirs([MgValue(v) for v in x]) for x in xs]
        losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in theirs.parameters())
        theirs.zero_grad()
        total.backward()
        for p in theirs.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        expected.append(total.data)

    params = ours.parameters()
    opt = SGD(params, lr=1.0)
    sched = LambdaLR(opt, lambda k: 1.0 - 0.9 * k / 100)

    def loss_fn() -> Value:
        return hinge([ours(x) for x in xs], ys) + l2_penalty(params, 1e-4)

    got = fit(opt, loss_fn, 4, scheduler=sched).loss
    assert got[0] == expected[0]  # the same forward pass, bit for bit
    # later steps agree to rounding: micrograd sums gradients in set-iteration order
    assert got == pytest.approx(expected, rel=1e-12)


def test_micrograd_readme_demo_verbatim() -> None:
    # the demo of micrograd's README / demo.ipynb, with only the import changed; its
    # notebook prints: step 0 loss 0.8958441028683222, accuracy 50.0%; step 1 loss
    # 1.7235905336972022, accuracy 81.0%; step 2 loss 0.7429006313851131, accuracy 77.0%
    import numpy as np
    from sklearn.datasets import make_moons as sk_make_moons

    np.random.seed(1337)
    random.seed(1337)
    x_data, y_data = sk_make_moons(n_samples=100, noise=0.1)
    y_data = y_data * 2 - 1
    model = MLP(2, [16, 16, 1])
    printed = []
    for k in range(3):
        inputs = [list(map(Value, xrow)) for xrow in x_data]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y_data, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (s.data > 0) for yi, s in zip(y_data, scores, strict=True)]
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        printed.append((total_loss.data, sum(accuracy) / len(accuracy)))
    assert printed[0] == (0.8958441028683222, 0.5)
    assert printed == [
        (pytest.approx(0.8958441028683222, rel=1e-14), 0.5),
        (pytest.approx(1.7235905336972022, rel=1e-14), 0.81),
        (pytest.approx(0.7429006313851131, rel=1e-14), 0.77),
    ]


def test_softmax_cross_entropy_on_three_classes() -> None:
    xs, ys = make_blobs(n=150, centers=3, std=0.6, seed=0)
    model = MLP(2, [8, 3], seed=0)
    opt = Adam(model.parameters(), lr=0.05)

    def accuracy(points: list[list[float]], labels: list[int]) -> float:
        rows = [model(x) for x in points]
        hits = sum(
            max(range(3), key=lambda c: r[c].data) == t for r, t in zip(rows, labels, strict=True)
        )
        return hits / len(labels)

    def loss_fn() -> Value:
        return cross_entropy([model(x) for x in xs], ys)

    history = fit(opt, loss_fn, 50)
    assert history.loss[-1] < 0.05 < history.loss[0]
    assert accuracy(xs, ys) >= 0.95
    test_x, test_y = make_blobs(n=150, centers=3, std=0.6, seed=1)  # held-out points
    assert accuracy(test_x, test_y) >= 0.95


def test_fit_history_and_callback() -> None:
    w = Value(0.0)
    opt = SGD([w], lr=0.25)
    seen: list[tuple[int, float, float | None]] = []
    history = fit(opt, lambda: ((w - 2) ** 2, None), 3, callback=lambda *a: seen.append(a))
    # w: 0 -> 1 -> 1.5 -> 1.75; the loss is taken before each update
    assert history.loss == [4.0, 1.0, 0.25]
    assert history.lr == [0.25] * 3
    assert history.accuracy == [None] * 3
    assert seen == [(0, 4.0, None), (1, 1.0, None), (2, 0.25, None)]
    assert w.data == 1.75
    assert history.first_step_at(0.5) is None


def test_fit_and_accuracy_errors() -> None:
    opt = SGD([Value(0.0)], lr=0.1)
    with pytest.raises(TypeError, match="optimizer must be an Optimizer"):
        fit("sgd", lambda: Value(0.0), 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        fit(opt, lambda: Value(0.0), -1)
    with pytest.raises(TypeError, match="must return a Value, got float"):
        fit(opt, lambda: 1.0, 1)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="as many scores as labels"):
        binary_accuracy([1.0], [1, -1])
    assert binary_accuracy([0.5, -2.0, 3.0], [1, 0, -1]) == pytest.approx(2 / 3)
