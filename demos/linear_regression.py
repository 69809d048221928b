"""Fit a line y_hat = theta0 + theta1 * x by gradient descent, checking autograd by hand.

The loss of one point is L = 1/2 * (y - y_hat)**2, whose gradients worked out with the
chain rule are dL/dtheta1 = -(y - y_hat) * x and dL/dtheta0 = -(y - y_hat). The loss
being minimised is the mean of L over the data, so its gradient is the mean of those. At
every step the demo prints both the hand-written gradients and autograd's, and they agree.
It draws the fitted line, the loss curve and an animated GIF of the line converging.

    python demos/linear_regression.py --out out/linear_regression
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from microgradx import Value
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def make_data(n: int, seed: int) -> tuple[list[float], list[float]]:
    """n noisy points around the line y = 1 + 2 x, x in [0, 2]."""
    rng = random.Random(seed)
    xs = [rng.uniform(0.0, 2.0) for _ in range(n)]
    ys = [1.0 + 2.0 * x + rng.gauss(0.0, 0.3) for x in xs]
    return xs, ys


History = list[tuple[float, float]]


def fit(
    xs: list[float], ys: list[float], lr: float, steps: int, seed: int, show: bool = True
) -> tuple[History, list[float]]:
    """Gradient descent on the mean loss; returns the (theta0, theta1) history and losses."""
    rng = random.Random(seed + 1)
    theta0 = Value(rng.uniform(-2.0, 2.0), label="theta0")  # a random start
    theta1 = Value(rng.uniform(-2.0, 2.0), label="theta1")
    history = [(theta0.data, theta1.data)]
    losses = []
    n = len(xs)
    if show:
        print(
            "step     theta0     theta1       loss |  dL/dtheta0: autograd   by hand"
            " |  dL/dtheta1: autograd   by hand"
        )
    for step in range(1, steps + 1):
        theta0.grad = theta1.grad = 0.0
        loss = (
            sum(
                (0.5 * (y - (theta0 + theta1 * x)) ** 2 for x, y in zip(xs, ys, strict=True)),
                Value(0.0),
            )
            / n
        )
        loss.backward()
        # the chain rule by hand, on plain floats
        residuals = [y - (theta0.data + theta1.data * x) for x, y in zip(xs, ys, strict=True)]
        hand0 = sum(-r for r in residuals) / n
        hand1 = sum(-r * x for r, x in zip(residuals, xs, strict=True)) / n
        assert abs(hand0 - theta0.grad) < 1e-12 and abs(hand1 - theta1.grad) < 1e-12
        if show:
            print(
                f"{step:>4} {theta0.data:10.4f} {theta1.data:10.4f} {loss.data:10.4f} |"
                f" {theta0.grad:20.6f} {hand0:9.6f} | {theta1.grad:20.6f} {hand1:9.6f}"
            )
        losses.append(loss.data)
        theta0.data -= lr * theta0.grad
        theta1.data -= lr * theta1.grad
        history.append((theta0.data, theta1.data))
    return history, losses


def main(argv: Sequence[str] | None = None) -> int:
    """Fit the line, print every step, draw the pictures."""
    require("matplotlib", "PIL", program="demos/linear_regression.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=30, help="data points (default 30)")
    parser.add_argument("--steps", type=int, default=60, help="gradient steps (default 60)")
    parser.add_argument("--lr", type=float, default=0.4, help="learning rate (default 0.4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-gif", action="store_true", help="skip the animated GIF")
    parser.add_argument("--out", default="out/linear_regression", help="folder for the pictures")
    args = parser.parse_args(argv)

    xs, ys = make_data(args.points, args.seed)
    history, losses = fit(xs, ys, args.lr, args.steps, args.seed)
    theta0, theta1 = history[-1]
    print(f"fitted line: y_hat = {theta0:.3f} + {theta1:.3f} * x  (data made from 1 + 2 x + noise)")
    print("the hand-written gradients matched autograd's at every step")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in draw(xs, ys, history, losses, out, gif=not args.no_gif):
        print(f"wrote {p}")
    return 0


def fit_figure(xs: list[float], ys: list[float], history: History, losses: list[float]) -> Figure:
    """The fitted line over the data (grey: earlier lines) beside the loss curve."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.scatter(xs, ys, s=14, color="tab:blue", label="data")
    lo, hi = min(xs), max(xs)
    for t0, t1 in history[:: max(1, len(history) // 6)]:
        left.plot([lo, hi], [t0 + t1 * lo, t0 + t1 * hi], color="0.8", lw=1)
    t0, t1 = history[-1]
    left.plot(
        [lo, hi],
        [t0 + t1 * lo, t0 + t1 * hi],
        color="tab:red",
        lw=2,
        label=f"fit: {t0:.2f} + {t1:.2f} x",
    )
    left.set(xlabel="x", ylabel="y", title="the line, from a random start (grey) to the fit")
    left.legend(loc="upper left")
    right.plot(range(1, len(losses) + 1), losses, color="tab:red")
    right.set(xlabel="step", ylabel="mean loss", yscale="log", title="loss curve")
    return fig


def draw(
    xs: list[float],
    ys: list[float],
    history: History,
    losses: list[float],
    out: Path,
    gif: bool = True,
) -> list[Path]:
    """Fitted line beside the loss curve; optionally a GIF of the line converging."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    written: list[Path] = []
    fit_figure(xs, ys, history, losses).savefig(out / "fit.png", dpi=100)
    written.append(out / "fit.png")
    if gif:
        lo, hi = min(xs), max(xs)
        fig = Figure(figsize=(4.5, 3.4), layout="constrained")
        ax = fig.add_subplot()
        ax.scatter(xs, ys, s=12, color="tab:blue")
        (line,) = ax.plot([], [], color="tab:red", lw=2)
        ax.set(xlabel="x", ylabel="y", ylim=(min(ys) - 2, max(ys) + 2))
        title = ax.set_title("step 0")  # a real title, so the layout leaves room for it
        frames = list(range(0, len(history), max(1, len(history) // 30)))

        def update(k: int) -> tuple[Any, ...]:
            a, b = history[k]
            line.set_data([lo, hi], [a + b * lo, a + b * hi])
            title.set_text(f"step {k}")
            return line, title

        anim = FuncAnimation(fig, update, frames=frames, blit=False)
        anim.save(out / "fit.gif", writer=PillowWriter(fps=8), dpi=80)
        written.append(out / "fit.gif")
    return written


if __name__ == "__main__":
    sys.exit(main())
