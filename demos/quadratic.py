"""Gradient descent on f(w) = w**2, and why a gradient beats nudging the weight.

Part 1: from w = -4 with learning rate 0.05 each step is w <- w - 0.05 * f'(w), so
-4 -> -3.6 -> -3.24 -> ...: the step shrinks as the slope flattens near the minimum.

Part 2: the "nudge the weight and see whether the loss goes down" approach also reaches the
minimum, but it needs function evaluations for every weight, where one backward pass gives
the slope of every weight at once.

    python demos/quadratic.py --out out/quadratic
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from microgradx import Value
from microgradx.descent import DescentPath, gradient_descent
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Counted:
    """Wrap a function and count how many times it is evaluated."""

    def __init__(self, f: Callable[..., float]) -> None:
        self.f = f
        self.calls = 0

    def __call__(self, *args: Any) -> float:
        self.calls += 1
        return self.f(*args)


def nudge_search(
    f: Callable[[float], float], w: float, h: float, max_steps: int = 10_000
) -> list[float]:
    """Move w by +h or -h while that lowers f; return the points visited."""
    visited = [w]
    fw = f(w)
    for _ in range(max_steps):
        right, left = f(w + h), f(w - h)
        if min(right, left) >= fw:
            break
        w, fw = (w + h, right) if right < left else (w - h, left)
        visited.append(w)
    return visited


def main(argv: Sequence[str] | None = None) -> int:
    """Print the descent steps and the cost of nudging; draw both on the curve."""
    require("matplotlib", program="demos/quadratic.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="gradient steps (default 40)")
    parser.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    parser.add_argument("--start", type=float, default=-4.0, help="starting w (default -4)")
    parser.add_argument("--weights", type=int, default=100, help="weights in part 2's model")
    parser.add_argument("--out", default="out/quadratic", help="folder for the pictures")
    args = parser.parse_args(argv)

    path = gradient_descent(lambda w: w**2, start=args.start, lr=args.lr, steps=args.steps)
    print(f"gradient descent on f(w) = w**2 from w = {args.start:g}, learning rate {args.lr:g}")
    print("step          w    slope f'(w)   change in w")
    for k in range(1, path.steps + 1):
        if k <= 10 or k % 10 == 0:
            change = path.xs[k] - path.xs[k - 1]
            print(f"{k:>4}  {path.xs[k]:9.4f}  {path.grads[k - 1][0]:13.4f}  {change:12.4f}")
    print(f"after {path.steps} steps w = {path.xs[-1]:.6f}: each step is 0.9 times the last")

    # part 2a: nudging one weight by a fixed amount
    f = Counted(lambda w: w * w)
    visited = nudge_search(f, args.start, h=0.1)
    print()
    print(
        f"nudging w by 0.1 from {args.start:g}: stopped at w = {visited[-1]:.4f} after "
        f"{len(visited) - 1} moves and {f.calls} evaluations of f"
    )

    # part 2b: the slope of many weights at once. loss(w) = sum_i (w_i - t_i)**2
    n = args.weights
    targets = [i / n for i in range(n)]
    weights = [0.5] * n

    def loss_of(ws: Sequence[float]) -> float:
        return float(sum((w - t) ** 2 for w, t in zip(ws, targets, strict=True)))

    counted = Counted(loss_of)
    h = 1e-6
    base = counted(weights)
    nudged = [
        (counted([*weights[:i], w + h, *weights[i + 1 :]]) - base) / h
        for i, w in enumerate(weights)
    ]
    params = [Value(w) for w in weights]
    loss = sum(((p - t) ** 2 for p, t in zip(params, targets, strict=True)), Value(0.0))
    loss.backward()
    worst = max(abs(p.grad - s) for p, s in zip(params, nudged, strict=True))
    print(f"slopes of {n} weights by nudging each: {counted.calls} evaluations of the loss")
    print(f"slopes of {n} weights by backward():   1 evaluation + 1 backward pass")
    print(f"largest difference between the two: {worst:.1e} (the nudge is only approximate)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = draw(path, visited, f.calls, out)
    for p in written:
        print(f"wrote {p}")
    return 0


def figures(path: DescentPath, visited: list[float], calls: int) -> dict[str, Figure]:
    """The descent steps on the curve f(w) = w**2, the loss at each step, and the nudges."""
    from matplotlib.figure import Figure

    from microgradx.plot import plot_descent, plot_loss

    descent = plot_descent(lambda w: w**2, path.xs[0], lrs=[path.lr], steps=path.steps, name="w")
    loss = plot_loss(path.losses, log=True, title="f(w) = w**2 along the descent")
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = min(visited) - 0.5, max(-min(visited), max(visited)) + 0.5
    grid = [lo + (hi - lo) * i / 200 for i in range(201)]
    ax.plot(grid, [w * w for w in grid], color="0.3")
    ax.plot(visited, [w * w for w in visited], "o", color="tab:orange", ms=3)
    # A beside the start (the curve falls away to its right), B above the end
    for name, w, offset, ha in (
        ("A", visited[0], (14, 0), "left"),
        ("B", visited[-1], (0, 34), "center"),
    ):
        ax.annotate(
            f"{name}: w = {round(w, 4) + 0.0:g}", (w, w * w), textcoords="offset points",
            xytext=offset, ha=ha, va="center", fontsize=10,
            arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.8, "shrinkB": 3},
        )  # fmt: skip
    ax.set(
        xlabel="w",
        ylabel="f(w) = w**2",
        title=f"nudging w by 0.1 from A to B: {len(visited) - 1} moves, {calls} evaluations",
    )
    return {"descent.png": descent, "loss.png": loss, "nudge.png": fig}


def draw(path: DescentPath, visited: list[float], calls: int, out: Path) -> list[Path]:
    """Write the pictures of `figures` to `out`."""
    written = []
    for name, fig in figures(path, visited, calls).items():
        fig.savefig(out / name, dpi=100)
        written.append(out / name)
    return written


if __name__ == "__main__":
    sys.exit(main())
