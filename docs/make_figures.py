"""Make every figure of the docs from the demos' own code: `python docs/make_figures.py`.

Each demo runs with its default settings and writes its pictures into docs/img/<demo>/;
a few figures that belong to no single demo (the computation graphs of the backpropagation
page, the gradient on a contour map) are drawn here with the same library calls. Run it
from anywhere; commit the results. `--only moons quadratic` remakes just those.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
DEMOS = [
    "stationary_points",
    "quadratic",
    "learning_rates",
    "local_minima",
    "linear_regression",
    "loss_vs_metric",
    "moons",
]


def load_demo(name: str) -> ModuleType:
    """Import demos/<name>.py as a module (the demos folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"demo_{name}", ROOT / "demos" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def backprop_figures(out: Path) -> list[Path]:
    """The graph of (a*b + c) * f and of one tanh neuron, with data and gradients."""
    from microgradx import Value
    from microgradx.viz import draw_dot, render

    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    loss = d * f
    loss.label = "L"
    loss.backward()
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    n = x1 * w1 + x2 * w2 + Value(6.8813735870195432, "b")
    n.label = "n"
    o = n.tanh()
    o.label = "out"
    o.backward()
    return [
        render(draw_dot(loss), out / "graph.svg"),
        render(draw_dot(o), out / "neuron.svg"),
    ]


def gradient_figures(out: Path) -> list[Path]:
    """Gradient descent across the contour lines of a two-parameter bowl."""
    from microgradx.plot import plot_descent_2d

    def bowl(x, y):
        return (x - 1) ** 2 + 4 * (y + 0.5) ** 2

    plot_descent_2d(bowl, (-2.0, 1.5), lrs=(0.05, 0.22), steps=25, path=out / "descent_2d.png")
    return [out / "descent_2d.png"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demos and the extra figures; print each file written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="+", help="remake only these demos / 'backprop' / 'gradient'"
    )
    parser.add_argument("--img", default=str(IMG), help="where to write (default docs/img)")
    args = parser.parse_args(argv)
    img = Path(args.img)
    chosen = set(args.only or [*DEMOS, "backprop", "gradient"])
    for name in DEMOS:
        if name in chosen:
            print(f"== {name}", flush=True)
            load_demo(name).main(["--out", str(img / name)])
    for name, make in (("backprop", backprop_figures), ("gradient", gradient_figures)):
        if name in chosen:
            (img / name).mkdir(parents=True, exist_ok=True)
            for p in make(img / name):
                print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
