"""The first training loop: move w towards 3 by reducing the loss (w - 3)**2.

Six steps of gradient descent from w = 0 with learning rate 0.2. The gradient comes from
``loss.backward()``; afterwards the same steps are replayed to show that the gradient
worked out by hand, 2 * (w - 3), is exactly what autograd computed.

    python demos/first_loop.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from microgradx import Value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the loop and print each step, then the hand-written check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="number of steps (default 6)")
    parser.add_argument("--lr", type=float, default=0.2, help="learning rate (default 0.2)")
    args = parser.parse_args(argv)

    w = Value(0.0, label="w")
    seen = []  # (w before the step, autograd's gradient there)
    for step in range(1, args.steps + 1):
        w.grad = 0.0
        loss = (w - 3) ** 2
        loss.backward()  # fills w.grad with dloss/dw
        seen.append((w.data, w.grad))
        w.data -= args.lr * w.grad  # the update: a step against the gradient
        loss = (w - 3) ** 2  # the loss at the new w
        print(step, "w=", round(w.data, 3), "loss=", round(loss.data, 3))

    print()
    print("step   w before   autograd dloss/dw   by hand 2*(w - 3)")
    for step, (before, autograd) in enumerate(seen, start=1):
        by_hand = 2 * (before - 3)
        verdict = "same" if autograd == by_hand else "DIFFERENT"
        print(f"{step:>4}   {before:8.4f}   {autograd:17.4f}   {by_hand:17.4f}   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
