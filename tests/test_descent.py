"""The gradient-descent recorder the demos and the tutorial use."""

from __future__ import annotations

import math

import pytest

from microgradx import Value
from microgradx.descent import VERDICTS, gradient_descent


def test_first_loop_numbers() -> None:
    path = gradient_descent(lambda w: (w - 3) ** 2, start=0.0, lr=0.2, steps=6)
    assert [round(w, 3) for w in path.xs[1:]] == [1.2, 1.92, 2.352, 2.611, 2.767, 2.86]
    assert [round(loss, 3) for loss in path.losses[1:]] == [3.24, 1.166, 0.42, 0.151, 0.054, 0.02]
    # the recorded gradient is the hand-written one, 2 (w - 3), at every point
    assert all(g == (2 * (w - 3),) for g, w in zip(path.grads, path.xs, strict=True))
    assert path.steps == 6 and not path.diverged and path.stopped == ""


def test_quadratic_from_minus_four() -> None:
    path = gradient_descent(lambda w: w**2, start=-4, lr=0.05, steps=3)
    assert path.xs == pytest.approx([-4.0, -3.6, -3.24, -2.916], rel=1e-15)


def test_several_parameters() -> None:
    def f(x: Value, y: Value) -> Value:
        return (x - 1) ** 2 + 10 * (y + 2) ** 2

    path = gradient_descent(f, start=[0.0, 0.0], lr=0.04, steps=200)
    assert path.final == pytest.approx((1.0, -2.0), abs=1e-6)
    assert path.grads[0] == (-2.0, 40.0)
    assert path.points[1] == pytest.approx((0.08, -1.6))


def test_divergence_stops_at_inf_with_a_message() -> None:
    path = gradient_descent(lambda w: (w - 3) ** 2, start=0.0, lr=30.0, steps=500)
    assert path.stopped.startswith("the loss became inf at step ")
    assert "smaller learning rate" in path.stopped and path.diverged
    assert math.isinf(path.losses[-1]) and all(math.isfinite(v) for v in path.losses[:-1])
    assert path.steps < 500


def test_growing_loss_counts_as_diverged() -> None:
    path = gradient_descent(lambda w: (w - 3) ** 2, start=0.0, lr=1.1, steps=10)
    assert path.diverged and path.stopped == "" and path.losses[-1] > path.losses[0]


def test_constant_function_has_zero_gradient() -> None:
    path = gradient_descent(lambda w: w * 0 + 5, start=2.0, lr=0.1, steps=2)
    assert path.xs == [2.0, 2.0, 2.0] and path.losses == [5.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"steps": -1}, ValueError, "steps must be an int >= 0"),
        ({"steps": 1.5}, ValueError, "steps must be an int >= 0"),
        ({"lr": "big"}, TypeError, "expected a real number"),
        ({"start": "x"}, TypeError, "expected a real number"),
        ({"start": []}, ValueError, "at least one coordinate"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    args: dict[str, object] = {"start": 0.0, "lr": 0.1, "steps": 3, **kwargs}
    with pytest.raises(error, match=message):
        gradient_descent(lambda w: w**2, **args)  # type: ignore[arg-type]


def test_f_must_return_a_value() -> None:
    with pytest.raises(TypeError, match="f must return a Value"):
        gradient_descent(lambda w: 1.0, start=0.0, lr=0.1, steps=1)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize(
    ("lr", "steps", "verdict"),
    [
        (0.1, 100, "converges"),  # factor 0.8: smooth
        (0.95, 100, "oscillates"),  # factor -0.9: crosses w = 3 every step, settles
        (1.0, 10, "oscillates"),  # factor -1: jumps between 0 and 6 for ever
        (1.1, 100, "diverges"),  # factor -1.2: the loss grows
        (30.0, 100, "blows up"),  # factor -59: the loss reaches inf at step 87
        (30.0, 20, "diverges"),  # ... but not within 20 steps
    ],
)
def test_verdict_of_the_learning_rates(lr: float, steps: int, verdict: str) -> None:
    path = gradient_descent(lambda w: (w - 3) ** 2, start=0.0, lr=lr, steps=steps)
    assert path.verdict == verdict
    assert path.verdict in VERDICTS
    assert path.diverged == (verdict in ("diverges", "blows up"))


def test_verdict_in_two_dimensions() -> None:
    def bowl(x: Value, y: Value) -> Value:
        return x**2 + 10 * y**2

    # y's factor 1 - 20 lr: 0.0 at lr 0.05 (straight in), -0.8 at 0.09 (zigzag), -1.1 at 0.105
    verdicts = [gradient_descent(bowl, (-4.0, 1.5), lr, 30).verdict for lr in (0.05, 0.09, 0.105)]
    assert verdicts == ["converges", "oscillates", "diverges"]


def test_verdict_of_a_run_that_does_not_move() -> None:
    assert gradient_descent(lambda w: w * 0 + 5, start=2.0, lr=0.1, steps=3).verdict == "converges"
    assert gradient_descent(lambda w: w * w, start=2.0, lr=0.1, steps=0).verdict == "converges"
