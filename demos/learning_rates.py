"""The learning rate decides whether gradient descent converges, oscillates or diverges.

The problem of the first loop, loss (w - 3)**2 from w = 0, with four learning rates. The
update w <- w - lr * 2 * (w - 3) multiplies the distance to 3 by (1 - 2 * lr) each step:
below 1 in size it shrinks (smoothly for lr < 0.5, flipping sides for 0.5 < lr < 1),
above 1 it grows, and far above 1 the loss overflows to inf within a hundred steps.

    python demos/learning_rates.py --out out/learning_rates
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from microgradx import Value
from microgradx.descent import DescentPath, gradient_descent

TARGET = 3.0


def loss(w: Value) -> Value:
    """The loss of the first loop: smallest (zero) at w = 3."""
    return (w - TARGET) ** 2


def kind(path: DescentPath) -> str:
    """One word (or two) for how the run went."""
    if path.stopped:
        return "blew up"
    if path.losses[-1] > path.losses[0]:
        return "diverges"
    sides = {x > TARGET for x in path.xs[1:] if x != TARGET}
    return "oscillates" if len(sides) > 1 else "converges"


def verdict(path: DescentPath) -> str:
    """One line on how the run went."""
    how = kind(path)
    first, last = path.losses[0], path.losses[-1]
    if how == "blew up":
        return f"blew up: {path.stopped}"
    if how == "diverges":
        return f"diverges: the loss grew from {first:g} to {last:.3g} in {path.steps} steps"
    if how == "oscillates":
        how = "oscillates (overshoots w = 3 every step)"
    if last == first:
        return f"{how} and never settles: the loss stays at {last:g}"
    return f"{how}: loss {first:g} -> {last:.3g}, w = {path.xs[-1]:.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run each learning rate, print what happened, draw the loss curves side by side."""
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


def draw(paths: list[DescentPath], out: Path) -> list[Path]:
    """Loss curves side by side (one panel per learning rate), and the steps on the curve."""
    import matplotlib.pyplot as plt

    from microgradx.plot import plot_descent

    # log10 of the loss on a linear axis: matplotlib's log axes fail near the float maximum
    fig, axes = plt.subplots(1, len(paths), figsize=(3.6 * len(paths), 3.2), squeeze=False)
    for ax, p in zip(axes[0], paths, strict=True):
        logs = [math.log10(v) if v > 0 else math.nan for v in p.losses if math.isfinite(v)]
        ax.plot(range(len(logs)), logs, color="tab:red" if p.diverged else "tab:blue")
        if p.stopped:
            ax.axvline(len(logs), color="tab:red", ls=":", lw=1)
            ax.annotate(" inf", (len(logs), logs[-1]), color="tab:red", ha="left")
        ax.set(xlabel="step", title=f"lr = {p.lr:g}: {kind(p)}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("log10 of the loss (w - 3)**2")
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=100)
    plt.close(fig)
    steps = min(20, *(p.steps for p in paths))
    plot_descent(loss, 0.0, lrs=[p.lr for p in paths], steps=steps, path=out / "steps.png")
    return [out / "loss_curves.png", out / "steps.png"]


if __name__ == "__main__":
    sys.exit(main())
