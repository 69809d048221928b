"""Watch backpropagation step by step on the two lesson graphs, and the naive order fail.

For L = (a*b + c) * f and for one tanh neuron this prints every chain-rule step that
backward() runs (explain) and writes an interactive page (open it from disk in a
browser), a GIF, and for L one SVG per frame. Then it replays the recursive backward
pass that has no topological order on a = 1; b = a + a; c = b + b, where it gives a
gradient of 8 instead of 4, and writes that replay's page too.

    python demos/backprop_steps.py --out out/backprop_steps
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from microgradx import Value, explain, render_steps
from microgradx.examples import expression, neuron
from microgradx.plot import require


def reused() -> Value:
    """`c = b + b` with `b = a + a` at `a = 1`: `a` reaches `c` along four paths."""
    a = Value(1.0, label="a")
    b = a + a
    b.label = "b"
    c = b + b
    c.label = "c"
    return c


def main(argv: Sequence[str] | None = None) -> int:
    """Print the steps of each graph and write its page, GIF and frames."""
    require("PIL", extra="plot", program="demos/backprop_steps.py")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/backprop_steps", help="folder for the pictures")
    parser.add_argument(
        "--seconds", type=float, default=1.5, help="time per frame when playing (default 1.5)"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    loss, _ = expression()
    print("L = (a*b + c) * f at a=2, b=-3, c=10, f=-2; backward() runs these steps:")
    print(explain(loss))
    # the boxes' fields stacked, so that the pictures fit a page's width
    style = {"rankdir": "LR", "stack": True, "seconds": args.seconds}
    written.append(render_steps(loss, out / "expression.html", **style))
    written.append(render_steps(loss, out / "expression.gif", **style))
    frames = render_steps(loss, out / "expression", forward=False, **style)
    written += sorted(frames.glob("frame-*.svg"))

    o, _ = neuron()
    print()
    print("o = tanh(x1*w1 + x2*w2 + b); backward() runs these steps:")
    print(explain(o, fmt=".4f"))
    written.append(render_steps(o, out / "neuron.html", **style))
    written.append(render_steps(o, out / "neuron.gif", forward=False, **style))

    c = reused()
    print()
    print("a = 1; b = a + a; c = b + b, replayed without a topological order:")
    print(explain(c, naive=True))
    written.append(render_steps(c, out / "naive.html", naive=True, **style))
    for p in written:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
