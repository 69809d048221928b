"""Plain gradient descent on a small function, recording every step.

The learning-path demos and the tutorial all run the same loop: evaluate the loss, call
`backward()`, move each parameter against its gradient, repeat. `gradient_descent` runs
that loop on a function of one or more numbers and keeps the whole path, so that a demo
can print it and a plot can draw it. `DescentPath.verdict` says in one word how a run
went (one of `VERDICTS`); the demos' printouts, the plots' titles and the tutorial all
use it.

Examples:
    >>> path = gradient_descent(lambda w: (w - 3) ** 2, start=0.0, lr=0.2, steps=3)
    >>> tuple(round(w, 3) for w in path.xs)
    (0.0, 1.2, 1.92, 2.352)
    >>> path.grads[0]
    (-6.0,)
    >>> path.verdict
    'converges'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .engine import Value, to_float

__all__ = ["VERDICTS", "DescentPath", "gradient_descent"]

#: how a run can go, from best to worst: `DescentPath.verdict` is one of these
VERDICTS = ("converges", "oscillates", "diverges", "blows up")


@dataclass
class DescentPath:
    """The record of one gradient-descent run.

    `points[k]` is the position after `k` steps (`points[0]` is the start), `losses[k]`
    the loss there and `grads[k]` its gradient there. The lists have the same length; the
    last gradient is the one the next step would have used. `stopped` is empty, or says
    why the run ended early (the loss became inf or nan).
    """

    lr: float
    points: list[tuple[float, ...]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    grads: list[tuple[float, ...]] = field(default_factory=list)
    stopped: str = ""

    @property
    def xs(self) -> list[float]:
        """The first coordinate of every point (the whole position for one parameter)."""
        return [p[0] for p in self.points]

    @property
    def steps(self) -> int:
        """How many update steps were taken."""
        return len(self.points) - 1

    @property
    def final(self) -> tuple[float, ...]:
        """The last position reached."""
        return self.points[-1]

    @property
    def diverged(self) -> bool:
        """True if the loss became inf or nan, or ended larger than it started."""
        return bool(self.stopped) or self.losses[-1] > self.losses[0]

    @property
    def verdict(self) -> str:
        """How the run went, in one word of `VERDICTS`.

        - `"blows up"`: the loss or a gradient became inf or nan (`stopped` says when);
        - `"diverges"`: the loss ended larger than it started;
        - `"oscillates"`: the loss did not grow, but most steps went back against the
          step before (they overshoot the minimum and cross to the other side);
        - `"converges"`: the loss did not grow and the steps mostly kept their direction.
        """
        if self.stopped:
            return "blows up"
        if self.losses[-1] > self.losses[0]:
            return "diverges"
        moves = [
            tuple(b - a for a, b in zip(p, q, strict=True))
            for p, q in itertools.pairwise(self.points)
        ]
        moves = [m for m in moves if any(m)]  # a step of zero has no direction
        back = sum(
            sum(a * b for a, b in zip(m, n, strict=True)) < 0 for m, n in itertools.pairwise(moves)
        )
        return "oscillates" if 2 * back > len(moves) - 1 > 0 else "converges"


def gradient_descent(
    f: Callable[..., Value],
    start: float | Sequence[float],
    lr: float,
    steps: int,
) -> DescentPath:
    """Minimise `f` by `steps` steps of `x <- x - lr * df/dx` from `start`.

    `f` takes one Value per coordinate of `start` (a number for one parameter, a sequence
    for several) and returns the loss as a Value; the gradient comes from `backward()`.
    The run stops early, with `stopped` saying so, as soon as the loss or a gradient is
    no longer finite (a learning rate that is far too large).

    Args:
        f: the loss, a function of one Value per coordinate.
        start: the starting point: a number, or a sequence of numbers.
        lr: the learning rate.
        steps: how many update steps to take (at most).

    Returns:
        The `DescentPath` of the run, start included.
    """
    lr = to_float(lr, "gradient_descent(lr=...)")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"gradient_descent(): steps must be an int >= 0, got {steps!r}")
    if isinstance(start, Sequence):
        point = tuple(to_float(s, "gradient_descent(start=...)") for s in start)
        if not point:
            raise ValueError("gradient_descent(): start must have at least one coordinate")
    else:
        point = (to_float(start, "gradient_descent(start=...)"),)
    path = DescentPath(lr)
    for k in range(steps + 1):
        params = [Value(p) for p in point]
        loss = f(*params)
        if not isinstance(loss, Value):
            raise TypeError(f"gradient_descent(): f must return a Value, got {type(loss).__name__}")
        if loss.requires_grad:
            loss.backward()
        slope = tuple(float(p.grad) for p in params)
        path.points.append(point)
        path.losses.append(loss.data)
        path.grads.append(slope)
        if not math.isfinite(loss.data) or not all(math.isfinite(s) for s in slope):
            what = "the loss" if not math.isfinite(loss.data) else "the gradient"
            value = (
                loss.data if what == "the loss" else next(s for s in slope if not math.isfinite(s))
            )
            path.stopped = (
                f"{what} became {value} at step {k} with learning rate {lr:g}: "
                "the steps overshoot more each time; use a smaller learning rate"
            )
            break
        if k < steps:
            point = tuple(p - lr * s for p, s in zip(point, slope, strict=True))
    return path
