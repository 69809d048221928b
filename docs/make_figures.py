"""Make every figure of the docs from the demos' own code: `python docs/make_figures.py`.

Each demo runs with its default settings and writes its pictures into docs/img/<demo>/;
the figures that belong to no single demo (the computation graphs of the backpropagation
page, the gradient on a contour map, the finite differences of the derivative page, those
of the how-to pages, and the benchmark chart
from its recorded measurements; these land directly in docs/img/) are drawn here with the
same library calls the pages show. Run it from anywhere and commit the results;
`--only moons quadratic` remakes just those.
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
    "backprop_steps",
]


def load_demo(name: str) -> ModuleType:
    """Import demos/<name>.py as a module (the demos folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"demo_{name}", ROOT / "demos" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def backprop_figures(out: Path) -> list[Path]:
    """The graph of (a*b + c) * f and of one tanh neuron, with data and gradients.

    Both are laid out top to bottom (the neuron with stacked boxes) so that their text is
    readable in the docs' column.
    """
    from microgradx.examples import expression, neuron
    from microgradx.viz import draw_dot, render

    loss, _ = expression()
    o, _ = neuron()
    return [
        render(draw_dot(loss, rankdir="TB"), out / "graph.svg"),
        render(draw_dot(o, rankdir="TB", stack=True), out / "neuron.svg"),
    ]


def gradient_figures(out: Path) -> list[Path]:
    """Gradient descent across the contour lines of a two-parameter bowl."""
    from microgradx import Value
    from microgradx.plot import plot_descent_2d

    def bowl(x: Value, y: Value) -> Value:
        return (x - 1) ** 2 + 4 * (y + 0.5) ** 2

    plot_descent_2d(bowl, (-2.0, 1.5), lrs=(0.05, 0.22), steps=25, path=out / "descent_2d.png")
    return [out / "descent_2d.png"]


def derivative_figures(out: Path) -> list[Path]:
    """The error of finite differences against the exact derivative, by step h."""
    from microgradx import Value
    from microgradx.plot import plot_finite_differences

    def f(x: Value) -> Value:
        return x**3 - 5 * x**2 + 7 * x - 1

    plot_finite_differences(f, 2.0, path=out / "finite_differences.png")
    return [out / "finite_differences.png"]


def howto_figures(out: Path) -> list[Path]:
    """The figures of the how-to pages, from the same calls the pages show."""
    from microgradx.examples import expression, neuron
    from microgradx.plot import plot_derivative, plot_descent, plot_descent_2d
    from microgradx.viz import draw_dot, render

    loss, _ = expression()
    o, _ = neuron()
    written = [
        render(draw_dot(loss, rankdir="TB"), out / "graph_expression.svg"),
        render(draw_dot(loss, rankdir="TB"), out / "graph_expression.png"),
        render(draw_dot(o, rankdir="TB", stack=True), out / "graph_neuron.svg"),
        render(draw_dot(o, rankdir="TB", stack=True), out / "graph_neuron.png"),
    ]
    plot_derivative(
        lambda x: x**3 / 3 - x, xlim=(-3, 3), points=[-1.5, 0.0, 1.0, 2.0],
        path=out / "plot_derivative.png",
    )  # fmt: skip
    plot_descent(
        lambda w: (w - 3) ** 2, start=-1.0, lrs=(0.1, 1.05), steps=20, name="w",
        path=out / "plot_descent_1d.png",
    )  # fmt: skip
    plot_descent_2d(
        lambda x, y: x**2 + 10 * y**2, start=(-4.0, 1.5), lrs=(0.09, 0.105), steps=30,
        path=out / "plot_descent_2d.png",
    )  # fmt: skip
    names = ["plot_derivative.png", "plot_descent_1d.png", "plot_descent_2d.png"]
    return written + [out / name for name in names]


def benchmark_figure(out: Path) -> list[Path]:
    """The benchmark chart, redrawn from the measurements in benchmarks/results/latest.json.

    Measuring is `python benchmarks/run.py` (minutes, and machine-dependent); this only
    draws what it recorded, with the benchmark's own chart function.
    """
    import json

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    module.chart(results, out / "benchmark.png")
    return [out / "benchmark.png"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demos and the extra figures; print each file written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        help="remake only these demos / backprop / gradient / derivative / howto / benchmark",
    )
    parser.add_argument("--img", default=str(IMG), help="where to write (default docs/img)")
    args = parser.parse_args(argv)
    img = Path(args.img)
    chosen = set(args.only or [*DEMOS, "backprop", "gradient", "derivative", "howto", "benchmark"])
    for name in DEMOS:
        if name in chosen:
            print(f"== {name}", flush=True)
            load_demo(name).main(["--out", str(img / name)])
    extra = [
        ("backprop", backprop_figures),
        ("gradient", gradient_figures),
        ("derivative", derivative_figures),
    ]
    for name, make in extra:
        if name in chosen:
            (img / name).mkdir(parents=True, exist_ok=True)
            for p in make(img / name):
                print(f"wrote {p}")
    for name, make in (("howto", howto_figures), ("benchmark", benchmark_figure)):
        if name in chosen:  # these sit directly in docs/img/
            img.mkdir(parents=True, exist_ok=True)
            for p in make(img):
                print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
