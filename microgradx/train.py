"""A small training helper, and micrograd's two-moons demo as one function call.

`fit` runs the usual loop — `zero_grad()`, forward and loss, `backward()`,
`optimizer.step()`, `scheduler.step()` — and records a `History`. The loop is
short enough to write by hand too; `fit` exists so that demos, plots and tests share one.

`train_moons` is micrograd's demo exactly: `MLP(2, [16, 16, 1])` on 100 two-moons
points with noise 0.1, the hinge loss plus `1e-4` times the squared weights, and 100
steps of gradient descent with learning rate `1.0 - 0.9 * k / 100` at step `k`.
With the default seed it reaches 100% training accuracy:

Examples:
    >>> from microgradx.train import train_moons
    >>> run = train_moons(n=20, steps=3)  # a short run: the schedule spans the given steps
    >>> len(run.history.loss), [round(lr, 2) for lr in run.history.lr]
    (3, [1.0, 0.7, 0.4])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .checks import to_flag
from .data import make_moons
from .engine import Value
from .gc_pause import gc_paused
from .losses import hinge, l2_penalty
from .nn import MLP
from .optim import SGD, LambdaLR, LRScheduler, Optimizer

__all__ = ["MOONS_SEED", "History", "MoonsRun", "binary_accuracy", "fit", "train_moons"]

#: the seed `train_moons` uses by default (data and initial weights); with it the
#: demo reaches 100% training accuracy (see docs/howto/train-a-model.md for the numbers)
MOONS_SEED = 4

#: `callback(step, loss, accuracy)`, called after each step (accuracy may be None)
Callback = Callable[[int, float, "float | None"], object]


@dataclass
class History:
    """What happened at each step `k`: the loss, the accuracy and the learning rate.

    The loss and accuracy are those of the forward pass of step `k`, i.e. of the
    parameters *before* that step's update (micrograd's demo prints the same).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)

    def first_step_at(self, accuracy: float = 1.0) -> int | None:
        """The first step whose accuracy is at least `accuracy` (None if never)."""
        for k, a in enumerate(self.accuracy):
            if a is not None and a >= accuracy:
                return k
        return None


def binary_accuracy(scores: Sequence[Value | float], labels: Sequence[float]) -> float:
    """The fraction of examples where the score's sign matches the label's (-1/+1 or 0/1).

    A label counts as positive when it is `> 0`, a score when it is `> 0`.
    """
    if len(scores) != len(labels) or not scores:
        raise ValueError(
            f"binary_accuracy(): need as many scores as labels (at least one), got "
            f"{len(scores)} and {len(labels)}"
        )
    hits = 0
    for s, y in zip(scores, labels, strict=True):
        value = s.data if isinstance(s, Value) else float(s)
        hits += (y > 0) == (value > 0)
    return hits / len(scores)


def fit(
    optimizer: Optimizer,
    loss_fn: Callable[[], Value | tuple[Value, float | None]],
    steps: int,
    *,
    scheduler: LRScheduler | None = None,
    callback: Callback | None = None,
    pause_gc: bool = True,
) -> History:
    """Run `steps` training steps and return their `History`.

    `loss_fn()` computes the loss on the current parameters and returns it, or a pair
    `(loss, accuracy)`. Each step: `optimizer.zero_grad()`, `loss_fn()`,
    `loss.backward()`, `optimizer.step()`, then `scheduler.step()` if given, then
    `callback(step, loss, accuracy)` if given (e.g. to update a progress bar).

    Each step up to the scheduler runs inside `microgradx.gc_paused()`, and the step's
    graph is dropped before the pause ends, so reference counting frees it and the cyclic
    collector never walks it; the callback runs with the collector as it was.
    `pause_gc=False` leaves the collector alone (for a `loss_fn` that makes reference
    cycles of its own at every step).

    Examples:
        >>> from microgradx import Value
        >>> from microgradx.optim import SGD
        >>> w = Value(0.0)
        >>> history = fit(SGD([w], lr=0.25), lambda: (w - 2) ** 2, 3)
        >>> history.loss, w.data
        ([4.0, 1.0, 0.25], 1.75)
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit(): optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"fit(): steps must be an int >= 0, got {steps!r}")
    pause = gc_paused if to_flag(pause_gc, "fit(): pause_gc") else contextlib.nullcontext
    history = History()
    for k in range(steps):
        lr = optimizer.param_groups[0]["lr"]
        with pause():
            optimizer.zero_grad()
            result = loss_fn()
            loss, accuracy = result if isinstance(result, tuple) else (result, None)
            if not isinstance(loss, Value):
                raise TypeError(f"fit(): loss_fn() must return a Value, got {type(loss).__name__}")
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            value = loss.data
            del result, loss  # the graph is freed here, by reference counting
        history.loss.append(value)
        history.accuracy.append(accuracy)
        history.lr.append(lr)
        if callback is not None:
            callback(k, value, accuracy)
    return history


@dataclass
class MoonsRun:
    """The result of `train_moons`: the trained model, its data and the history."""

    model: MLP
    X: list[list[float]]
    #: labels -1 / +1 (the moons' 0 / 1 mapped by `2 * y - 1`, as in micrograd's demo)
    y: list[int]
    history: History

    @property
    def final_loss(self) -> float:
        """The loss at the last step."""
        return self.history.loss[-1]

    @property
    def final_accuracy(self) -> float | None:
        """The training accuracy at the last step."""
        return self.history.accuracy[-1]


def train_moons(
    n: int = 100,
    noise: float = 0.1,
    steps: int = 100,
    seed: int = MOONS_SEED,
    callback: Callback | None = None,
    alpha: float = 1e-4,
) -> MoonsRun:
    """Train micrograd's moons classifier and return the model, data and history.

    `seed` seeds both the data (`microgradx.data.make_moons`) and the initial
    weights. The learning rate at step `k` is `1.0 - 0.9 * k / steps` (micrograd's
    schedule for `steps=100`), set by a `LambdaLR` on `SGD(lr=1.0)`.
    """
    X, labels = make_moons(n, noise, seed)  # noqa: N806 - the usual name for inputs
    y = [2 * v - 1 for v in labels]
    model = MLP(2, [16, 16, 1], seed=seed)
    params = model.parameters()
    optimizer = SGD(params, lr=1.0)
    scheduler = LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / steps)

    def loss_fn() -> tuple[Value, float]:
        scores = [model(x) for x in X]
        total = hinge(scores, y) + l2_penalty(params, alpha)
        return total, binary_accuracy(scores, y)

    history = fit(optimizer, loss_fn, steps, scheduler=scheduler, callback=callback)
    return MoonsRun(model, X, y, history)
