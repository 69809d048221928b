"""Gradient descent finds a local minimum, not always the global one.

f(x) = x**2 / 10 + 2 * sin(x) has four valleys between -10 and 10; the deepest is near
x = -1.43. Started in different places, gradient descent rolls downhill into a valley and
stops there, because at the bottom of any valley the slope is zero: seven starts end in
four different valleys, and only two of them in the deepest one.

    python demos/local_minima.py --out out/local_minima
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from microgradx import Value, no_grad
from microgradx.descent import DescentPath, gradient_descent
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def f(x: Value) -> Value:
    """A bowl with ripples: several local minima, one global minimum."""
    return x**2 / 10 + 2 * x.sin()


def valleys(paths: list[DescentPath]) -> list[float]:
    """Where the runs ended, each valley once (to 4 decimals), left to right."""
    return sorted({round(p.xs[-1], 4) for p in paths})


def summary(paths: list[DescentPath]) -> str:
    """How many valleys the starts ended in: the line the demo prints and the title."""
    found = valleys(paths)
    return f"{len(paths)} starts ended in {len(found)} different valleys: {found}"


def main(argv: Sequence[str] | None = None) -> int:
    """Descend from each start and report which valley it ends in."""
    require("matplotlib", program="demos/local_minima.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--starts",
        type=float,
        nargs="+",
        default=[-9, -6, -3, 0, 3, 6, 9],
        help="starting points (default -9 -6 -3 0 3 6 9)",
    )
    parser.add_argument("--lr", type=float, default=0.2, help="learning rate (default 0.2)")
    parser.add_argument("--steps", type=int, default=100, help="steps per start (default 100)")
    parser.add_argument("--out", default="out/local_minima", help="folder for the pictures")
    args = parser.parse_args(argv)

    paths = [gradient_descent(f, start=s, lr=args.lr, steps=args.steps) for s in args.starts]
    best = min(paths, key=lambda p: p.losses[-1])
    print("start   ends at x   f(x) there   slope there")
    for p in paths:
        mark = "  <- the global minimum" if abs(p.xs[-1] - best.xs[-1]) < 1e-6 else ""
        print(
            f"{p.xs[0]:5g}   {p.xs[-1]:9.4f}   {p.losses[-1]:10.4f}   {p.grads[-1][0]:11.1e}{mark}"
        )
    print(summary(paths))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for written in draw(paths, out):
        print(f"wrote {written}")
    return 0


def figures(paths: list[DescentPath]) -> dict[str, Figure]:
    """Every descent path on the curve, and the loss of each run step by step."""
    from matplotlib.figure import Figure

    from microgradx.plot import plot_loss

    grid = [-10 + 20 * i / 400 for i in range(401)]
    with no_grad():
        curve = [f(Value(x)).data for x in grid]
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(grid, curve, color="0.3", lw=1.5)
    for i, p in enumerate(paths):
        ax.plot(p.xs, p.losses, "-o", color=f"C{i}", ms=3, lw=1, alpha=0.8)
        ax.plot(p.xs[:1], p.losses[:1], "s", color=f"C{i}", ms=7)
    found = valleys(paths)
    ax.set(
        xlabel="x",
        ylabel="f(x)",
        title=f"{len(paths)} starts (squares) end in {len(found)} valleys",
    )
    ax.grid(alpha=0.3)
    curves = plot_loss(
        {f"start {p.xs[0]:g}": p.losses for p in paths},
        title="loss from each start",
        ylabel="f(x)",
    )
    return {"valleys.png": fig, "loss_curves.png": curves}


def draw(paths: list[DescentPath], out: Path) -> list[Path]:
    """Write the pictures of `figures` to `out`."""
    written = []
    for name, fig in figures(paths).items():
        fig.savefig(out / name, dpi=100)
        written.append(out / name)
    return written


if __name__ == "__main__":
    sys.exit(main())
