"""Why we train on a loss, not on the accuracy we care about.

A one-parameter classifier on a line: predict class +1 when x + b > 0. Its accuracy is a
0/1 count, a staircase in b: flat almost everywhere, so its derivative is zero and gives
gradient descent nothing to follow. The hinge loss and the cross-entropy loss measure the
same mistakes smoothly, and their gradient points towards a better b.

    python demos/loss_vs_metric.py --out out/loss_vs_metric
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from microgradx import Value
from microgradx.losses import binary_cross_entropy_with_logits, hinge
from microgradx.plot import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def make_data(n: int, seed: int) -> tuple[list[float], list[int]]:
    """n points: class -1 around x = -1, class +1 around x = +1 (they overlap a little)."""
    rng = random.Random(seed)
    labels = [1 if i % 2 else -1 for i in range(n)]
    return [rng.gauss(float(y), 0.7) for y in labels], labels


def accuracy(b: float, xs: list[float], ys: list[int]) -> float:
    """Fraction of points on the right side: a count, with no gradient."""
    return sum((x + b > 0) == (y > 0) for x, y in zip(xs, ys, strict=True)) / len(xs)


def losses_at(b: float, xs: list[float], ys: list[int]) -> tuple[float, float, float, float]:
    """Hinge and cross-entropy losses at b, each with its slope from backward()."""
    out = []
    for name in ("hinge", "cross-entropy"):
        bv = Value(b, label="b")
        scores = [x + bv for x in xs]
        if name == "hinge":
            loss = hinge(scores, [float(y) for y in ys])
        else:
            loss = binary_cross_entropy_with_logits(scores, [(y + 1) / 2 for y in ys])
        loss.backward()
        out += [loss.data, bv.grad]
    return out[0], out[1], out[2], out[3]


def main(argv: Sequence[str] | None = None) -> int:
    """Tabulate accuracy and losses against b, then descend on each."""
    require("matplotlib", program="demos/loss_vs_metric.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=40, help="data points (default 40)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--start", type=float, default=3.0, help="starting b (default 3)")
    parser.add_argument("--steps", type=int, default=50, help="descent steps (default 50)")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--out", default="out/loss_vs_metric", help="folder for the pictures")
    args = parser.parse_args(argv)
    xs, ys = make_data(args.points, args.seed)

    h = 1e-6
    print("    b   accuracy  its slope   hinge  its slope   cross-entropy  its slope")
    for b in [-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]:
        acc = accuracy(b, xs, ys)
        acc_slope = (accuracy(b + h, xs, ys) - accuracy(b - h, xs, ys)) / (2 * h)
        hl, hs, cl, cs = losses_at(b, xs, ys)
        print(
            f"{b:5.1f}   {acc:8.3f}  {acc_slope:9.3f}   {hl:5.3f}  {hs:9.3f}"
            f"   {cl:13.3f}  {cs:9.3f}"
        )
    print("the accuracy's slope is 0 (nudging b changes no prediction); the losses' is not")

    b = args.start
    for _ in range(args.steps):
        _, _, _, slope = losses_at(b, xs, ys)
        b -= args.lr * slope
    print(
        f"descent on the accuracy from b = {args.start:g}: slope 0, b stays {args.start:g}, "
        f"accuracy {accuracy(args.start, xs, ys):.3f}"
    )
    print(
        f"descent on the cross-entropy from b = {args.start:g}: b = {b:.3f} after {args.steps} "
        f"steps, accuracy {accuracy(b, xs, ys):.3f}"
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in draw(xs, ys, out):
        print(f"wrote {p}")
    return 0


def figures(xs: list[float], ys: list[int]) -> dict[str, Figure]:
    """Accuracy (a staircase) and the two losses (smooth) as functions of b."""
    from matplotlib.figure import Figure

    grid = [-4 + 8 * i / 400 for i in range(401)]
    curves = [losses_at(b, xs, ys) for b in grid]
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.step(grid, [accuracy(b, xs, ys) for b in grid], where="mid", color="tab:blue")
    left.set(xlabel="b", ylabel="accuracy", title="accuracy: flat steps, slope 0")
    right.plot(grid, [c[0] for c in curves], label="hinge", color="tab:orange")
    right.plot(grid, [c[2] for c in curves], label="cross-entropy", color="tab:green")
    right.set(xlabel="b", ylabel="loss", title="losses: smooth, a slope to follow")
    right.legend()
    return {"loss_vs_metric.png": fig}


def draw(xs: list[float], ys: list[int], out: Path) -> list[Path]:
    """Write the picture of `figures` to `out`."""
    written = []
    for name, fig in figures(xs, ys).items():
        fig.savefig(out / name, dpi=100)
        written.append(out / name)
    return written


if __name__ == "__main__":
    sys.exit(main())
