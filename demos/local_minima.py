"""Gradient descent finds a local minimum, not always the global one.

f(x) = x**2 / 10 + 2 * sin(x) has four valleys between -10 and 10; the deepest is near
x = -1.43. Started in different places, gradient descent rolls into the valley it starts
in and stops there, because at the bottom of any valley the slope is zero.

    python demos/local_minima.py --out out/local_minima
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from microgradx import Value, no_grad
from microgradx.descent import DescentPath, gradient_descent


def f(x: Value) -> Value:
    """A bowl with ripples: several local minima, one global minimum."""
    return x**2 / 10 + 2 * x.sin()


def main(argv: Sequence[str] | None = None) -> int:
    """Descend from each start and report which valley it ends in."""
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
    valleys = sorted({round(p.xs[-1], 4) for p in paths})
    print(f"{len(paths)} starts ended in {len(valleys)} different valleys: {valleys}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for written in draw(paths, out):
        print(f"wrote {written}")
    return 0


def draw(paths: list[DescentPath], out: Path) -> list[Path]:
    """Every descent path on the curve, each ending in its own valley."""
    import matplotlib.pyplot as plt

    from microgradx.plot import plot_loss

    grid = [-10 + 20 * i / 400 for i in range(401)]
    with no_grad():
        curve = [f(Value(x)).data for x in grid]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.plot(grid, curve, color="0.3", lw=1.5)
    for i, p in enumerate(paths):
        ax.plot(p.xs, p.losses, "-o", color=f"C{i}", ms=3, lw=1, alpha=0.8)
        ax.plot(p.xs[:1], p.losses[:1], "s", color=f"C{i}", ms=7)
    ax.set(xlabel="x", ylabel="f(x)", title="each start (square) rolls into its own valley")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "valleys.png", dpi=100)
    plt.close(fig)
    plot_loss(
        {f"start {p.xs[0]:g}": p.losses for p in paths},
        title="loss from each start",
        path=out / "loss_curves.png",
    )
    return [out / "valleys.png", out / "loss_curves.png"]


if __name__ == "__main__":
    sys.exit(main())
