"""The learning rate decides whether gradient descent converges, oscillates, diverges or blows up.

The problem of the first loop, loss (w - 3)**2 from w = 0, with four learning rates. The
update w <- w - lr * 2 * (w - 3) multiplies the distance to 3 by (1 - 2 * lr) each step:
below 1 in size it shrinks (smoothly for lr < 0.5: converges; flipping sides for
0.5 < lr < 1: oscillates), above 1 it grows (diverges), and far above 1 the loss
overflows to inf within a hundred steps (blows up). The four words are
`DescentPath.verdict`: the printout, both pictures and the tutorial use the same one.

    python demos/learning_rates.py --out out/learning_rates
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from microgradx import Value
from microgradx.descent import DescentPath, gradient_descent
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TARGET = 3.0


def loss(w: Value) -> Value:
    """The loss of the first loop: smallest (zero) at w = 3."""
    return (w - TARGET) ** 2


def verdict(path: DescentPath) -> str:
    """One line on how the run went, starting with its `DescentPath.verdict`."""
    how = path.verdict
    first, last = path.losses[0], path.losses[-1]
    if how == "blows up":
        return f"blows up: {path.stopped}"
    if how == "diverges":
        return f"diverges: the loss grew from {first:g} to {last:.3g} in {path.steps} steps"
    if how == "oscillates":
        how = "oscillates (overshoots w = 3 every step)"
    if last == first:
        return f"{how} and never settles: the loss stays at {last:g}"
    return f"{how}: loss {first:g} -> {last:.3g}, w = {path.xs[-1]:.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run each learning rate, print what happened, draw the loss curves side by side."""
    require("matplotlib", program="demos/learning_rates.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lrs",
        type=float,
        nargs="+",
        default=[0.1, 0.95, 1.1, 30.0],
        help="learning rates to compare (default 0.1 0.95 1.1 30)",
    )
    parser.add_argument("--steps", type=int, default=100, help="steps per run (default 100)")
    parser.add_argument("--out", default="out/learning_rates", help="folder for the pictures")
    args = parser.parse_args(argv)

    paths = [gradient_descent(loss, start=0.0, lr=lr, steps=args.steps) for lr in args.lrs]
    for path in paths:
        print(f"lr = {path.lr:<5g} {verdict(path)}")
        if path.stopped:
            print(f"            last finite w = {path.xs[-2]:.3g} after {path.steps - 1} steps")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in draw(paths, out):
        print(f"wrote {p}")
    return 0


def figures(paths: list[DescentPath], shown: int = 20) -> dict[str, Figure]:
    """The loss curves (one panel per learning rate) and the first steps on the curve.

    Both pictures title each panel with the run's verdict, the word `main` prints.
    """
    from matplotlib.figure import Figure

    from microgradx.plot import plot_descent

    cols = min(2, len(paths))
    rows = -(-len(paths) // cols)
    fig = Figure(figsize=(4.6 * cols, 3.2 * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(len(paths))]
    # log10 of the loss on a linear axis: matplotlib's log axes fail near the float maximum
    for ax, p in zip(axes, paths, strict=True):
        logs = [math.log10(v) if v > 0 else math.nan for v in p.losses if math.isfinite(v)]
        color = "tab:red" if p.diverged else "tab:blue"
        ax.plot(range(len(logs)), logs, color=color)
        if p.stopped:
            ax.axvline(len(logs), color="tab:red", ls=":", lw=1)
            # top left: the rising curve leaves that corner empty
            ax.text(
                0.04, 0.94, f"inf from step {len(logs)}\n(dotted line)", color="tab:red",
                transform=ax.transAxes, ha="left", va="top", fontsize=9,
            )  # fmt: skip
        ax.set(xlabel="step", ylabel="log10 of (w - 3)**2")
        ax.set_title(f"lr = {p.lr:g}: {p.verdict}", color=color)
        ax.grid(alpha=0.3)
    steps = max(p.steps for p in paths)
    descent = plot_descent(loss, 0.0, lrs=[p.lr for p in paths], steps=steps, shown=shown, name="w")
    return {"loss_curves.png": fig, "steps.png": descent}


def draw(paths: list[DescentPath], out: Path) -> list[Path]:
    """Write the pictures of `figures` to `out`."""
    written = []
    for name, fig in figures(paths).items():
        fig.savefig(out / name, dpi=100)
        written.append(out / name)
    return written


if __name__ == "__main__":
    sys.exit(main())
