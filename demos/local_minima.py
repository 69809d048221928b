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

from microgradx.descent import DescentPath, gradient_descent


def f(x):
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
    """Every descent path on the curve."""
    from microgradx import plot

    fig = plot.descent_1d(f, paths, title="gradient descent from several starts")
    fig.savefig(out / "valleys.png", dpi=100)
    return [out / "valleys.png"]


if __name__ == "__main__":
    sys.exit(main())
