"""Every demo picture says what its demo prints: titles, axis labels, annotations, legends.

Each test builds a demo's figures through the demo's own `figures()` function and reads
the matplotlib objects back (texts, positions, the data of each line), or reads the SVG
text of a graph diagram. A generic check runs over every figure: no annotation or legend
covers a curve, and no text is cut off at the figure's edge.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from microgradx.descent import VERDICTS, gradient_descent
from microgradx.plot import legend_overlaps

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"demo_{name}", DEMOS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clashes(fig: Figure) -> list[str]:
    """What is wrong with the figure's texts: cut at an edge, covering a curve or another
    text, or (for a legend) covering a curve."""
    fig.draw_without_rendering()
    problems = []
    edge = fig.bbox
    for ax in fig.axes:
        boxes = []
        for text in ax.texts:
            if not text.get_text() or not text.get_visible():
                continue
            name = repr(text.get_text())
            box = text.get_window_extent()
            boxes.append((name, box))
            if not _within(box, edge):
                problems.append(f"{name} is cut at the figure's edge")
            if isinstance(text, Annotation):  # where the arrow points, if at the data
                anchor = ax.transData.transform(text.xy) if text.xycoords == "data" else None
            else:
                anchor = text.get_transform().transform(text.get_position())
            if anchor is not None and ax.bbox.contains(*anchor) and not _within(box, ax.bbox):
                problems.append(f"{name} starts inside the axes and crosses their frame")
            inside = Bbox.intersection(box, ax.bbox)  # lines are clipped to the axes
            if inside is None:
                continue
            for line in ax.get_lines():
                path = line.get_transform().transform_path(line.get_path())
                points = path.vertices
                if len(points) and (
                    inside.count_contains(points) or path.intersects_bbox(inside, filled=False)
                ):
                    problems.append(f"{name} covers the line {line.get_label()!r}")
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent()
            boxes.append(("the legend", box))
            if not _within(box, edge):
                problems.append(f"the legend of {ax.get_title()!r} is cut at the figure's edge")
            if legend_overlaps(ax):
                problems.append(f"the legend of {ax.get_title()!r} covers a curve")
        for i, (a, box_a) in enumerate(boxes):
            for b, box_b in boxes[i + 1 :]:
                if box_a.overlaps(box_b):
                    problems.append(f"{a} and {b} print over each other")
    return problems


def _within(box: Bbox, outer: Bbox) -> bool:
    eps = 0.5  # half a pixel of rounding
    return (
        outer.x0 - eps <= box.x0
        and box.x1 <= outer.x1 + eps
        and outer.y0 - eps <= box.y0
        and box.y1 <= outer.y1 + eps
    )


def legend_texts(ax: object) -> list[str]:
    legend = ax.get_legend()  # type: ignore[attr-defined]
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


# -- the main job: two moons ---------------------------------------------------------------


@pytest.fixture(scope="module")
def moons_run() -> object:
    from microgradx.train import train_moons

    return train_moons(n=20, steps=4)


def svg_nodes(svg: str) -> dict[str, tuple[float, float | None]]:
    """Each labelled box of a graph diagram: label -> (data, grad)."""
    ns = {"s": "http://www.w3.org/2000/svg"}
    nodes = {}
    for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") != "node":
            continue
        texts = [t.text or "" for t in g.findall("s:text", ns)]
        if len(texts) < 2 or not texts[1].startswith("data "):
            continue
        data = float(texts[1].removeprefix("data "))
        grad = float(texts[2].removeprefix("grad ")) if len(texts) > 2 else None
        nodes[texts[0]] = (data, grad)
    return nodes


def test_moons_neuron_diagram_shows_one_backward_pass_of_an_active_neuron(
    moons_run: object, tmp_path: Path
) -> None:
    moons = load("moons")
    for p in moons_run.model.parameters():  # type: ignore[attr-defined]
        p.grad = 123.0  # stale gradients, as a training step would leave them
    y, about = moons.neuron_graph(moons_run)
    from microgradx.viz import draw_dot, render

    svg = render(draw_dot(y), tmp_path / "neuron.svg").read_text()
    nodes = svg_nodes(svg)
    assert {"x1", "x2", "w1", "w2", "b", "n", "relu"} <= set(nodes)
    relu, n = nodes["relu"], nodes["n"]
    assert relu[0] > 0 and relu[1] == 1.0 and "active" in about  # gradient flows
    assert n == (relu[0], 1.0)  # relu passes n through, and its gradient 1
    # the chain rule on the leaves: dn/db = 1, dn/dw_k = x_k, dn/dx_k = w_k
    assert nodes["b"][1] == 1.0
    for k in (1, 2):
        assert nodes[f"w{k}"][1] == nodes[f"x{k}"][0]
        assert nodes[f"x{k}"][1] == nodes[f"w{k}"][0]
    assert "123" not in svg


def test_moons_picks_the_first_neuron_active_on_some_point(moons_run: object) -> None:
    from microgradx import no_grad

    moons = load("moons")
    j, i = moons.active_neuron(moons_run)
    layer = moons_run.model.layers[0]  # type: ignore[attr-defined]
    with no_grad():
        assert layer.neurons[j](moons_run.X[i]).data > 0  # type: ignore[attr-defined]
        for neuron in layer.neurons[:j]:  # every earlier neuron is dead on every point
            assert all(neuron(x).data <= 0 for x in moons_run.X)  # type: ignore[attr-defined]


def test_moons_accuracy_curve_is_named_accuracy_and_marks_its_maximum(moons_run: object) -> None:
    figs = load("moons").figures(moons_run, resolution=8)
    (ax,) = figs["accuracy.png"].axes
    accuracy = [a for a in moons_run.history.accuracy if a is not None]  # type: ignore[attr-defined]
    assert ax.get_ylabel() == "accuracy" and ax.get_title() == "moons: training accuracy"
    best = max(accuracy)
    assert legend_texts(ax) == [f"accuracy: max {best:.4g} at step {accuracy.index(best)}"]
    assert list(ax.lines[1].get_ydata()) == [best]
    (loss_ax,) = figs["loss.png"].axes
    assert loss_ax.get_ylabel() == "loss" and legend_texts(loss_ax)[0].startswith("loss: min ")
    for fig in figs.values():
        assert clashes(fig) == []


# -- the learning rate: one verdict everywhere ---------------------------------------------


def learning_rate_runs() -> list[object]:
    demo = load("learning_rates")
    return [gradient_descent(demo.loss, start=0.0, lr=lr, steps=100) for lr in (0.1, 0.95, 1.1, 30)]


def test_learning_rate_pictures_and_printout_say_the_same_word(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    demo = load("learning_rates")
    assert demo.main(["--out", str(tmp_path)]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("lr = ")]
    words = [next(v for v in VERDICTS if line[11:].startswith(v)) for line in printed]
    assert words == ["converges", "oscillates", "diverges", "blows up"]
    figs = demo.figures(learning_rate_runs())
    for name in ("loss_curves.png", "steps.png"):
        titles = [ax.get_title() for ax in figs[name].axes]
        rates = ("0.1", "0.95", "1.1", "30")
        assert titles == [f"lr = {lr}: {w}" for lr, w in zip(rates, words, strict=True)]
        assert clashes(figs[name]) == [], name
    assert {ax.get_xlabel() for ax in figs["steps.png"].axes} == {"w"}
    (note,) = figs["loss_curves.png"].axes[3].texts
    assert note.get_text().startswith("inf from step 87")


def test_the_tutorial_table_uses_the_same_verdicts() -> None:
    page = (ROOT / "docs" / "tutorial" / "learning-rate.md").read_text("utf-8")
    rows = re.findall(r"^\| ([\d.]+) \| [-\d.]+ \| ([^|]+) \|$", page, re.M)
    runs = {f"{r.lr:g}": r for r in learning_rate_runs()}  # type: ignore[attr-defined]
    assert [lr for lr, _ in rows] == list(runs)
    for lr, what in rows:
        assert what.startswith(runs[lr].verdict), (lr, what)


# -- the other descent pictures --------------------------------------------------------------


def test_quadratic_pictures_name_the_parameter_w_and_mark_a_and_b() -> None:
    demo = load("quadratic")
    path = gradient_descent(lambda w: w**2, start=-4.0, lr=0.05, steps=40)
    visited = demo.nudge_search(lambda w: w * w, -4.0, h=0.1)
    figs = demo.figures(path, visited, 83)
    (descent,) = figs["descent.png"].axes
    assert descent.get_xlabel() == "w" and descent.get_title() == "lr = 0.05: converges"
    (nudge,) = figs["nudge.png"].axes
    assert nudge.get_title() == "nudging w by 0.1 from A to B: 40 moves, 83 evaluations"
    marks = {t.get_text(): t.xy for t in nudge.texts}
    assert marks == {"A: w = -4": (-4.0, 16.0), "B: w = 0": (visited[-1], visited[-1] ** 2)}
    assert abs(visited[-1]) < 1e-9
    for name, fig in figs.items():
        assert clashes(fig) == [], name


def test_local_minima_title_counts_the_valleys_the_demo_prints(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    demo = load("local_minima")
    assert demo.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    paths = [gradient_descent(demo.f, start=s, lr=0.2, steps=100) for s in (-9, -6, -3, 0, 3, 6, 9)]
    assert demo.summary(paths) in printed
    assert "7 starts ended in 4 different valleys" in printed
    figs = demo.figures(paths)
    (ax,) = figs["valleys.png"].axes
    assert ax.get_title() == "7 starts (squares) end in 4 valleys"
    (curves,) = figs["loss_curves.png"].axes
    entries = legend_texts(curves)
    assert len(entries) == 7 and entries[0].startswith("start -9: min 3.582 at step ")
    for name, fig in figs.items():
        assert clashes(fig) == [], name


def test_stationary_points_tangents_are_in_the_legend() -> None:
    figs = load("stationary_points").figures([1.0, 7 / 3])
    (ax,) = figs["derivative.png"].axes
    assert legend_texts(ax) == [
        "f(x)",
        "f'(x)",
        "tangent at x = 0.3: slope 4.27",
        "tangent at x = 1: slope 0",
        "tangent at x = 2.33: slope 0",
        "tangent at x = 3.1: slope 4.83",
    ]
    assert clashes(figs["derivative.png"]) == []


def test_loss_vs_metric_and_linear_regression_pictures() -> None:
    demo = load("loss_vs_metric")
    xs, ys = demo.make_data(40, 1)
    (fig,) = demo.figures(xs, ys).values()
    left, right = fig.axes
    assert (left.get_ylabel(), right.get_ylabel()) == ("accuracy", "loss")
    assert legend_texts(right) == ["hinge", "cross-entropy"]
    assert clashes(fig) == []
    lin = load("linear_regression")
    xs, ys = lin.make_data(10, 0)
    history, losses = lin.fit(xs, ys, 0.4, 8, 0, show=False)
    fig = lin.fit_figure(xs, ys, history, losses)
    left, right = fig.axes
    t0, t1 = history[-1]
    assert legend_texts(left) == ["data", f"fit: {t0:.2f} + {t1:.2f} x"]
    assert list(right.lines[0].get_ydata()) == losses
    assert clashes(fig) == []


def test_digits_loss_label_does_not_sit_on_the_curve() -> None:
    import random

    rng = random.Random(0)  # a noisy falling curve, like the demo's mini-batch losses
    losses = [2.3 * 0.97**k + rng.uniform(0.0, 0.4) for k in range(128)]
    (fig,) = load("digits").figures(losses).values()
    (ax,) = fig.axes
    best = min(losses)
    assert ax.get_xlabel() == "mini-batch"
    assert legend_texts(ax) == [f"loss: min {best:.4g} at mini-batch {losses.index(best)}"]
    assert clashes(fig) == []


# -- a demo without its extra ----------------------------------------------------------------


BLOCK = (
    "import runpy, sys; sys.modules[{name!r}] = None; sys.argv = [{demo!r}]; "
    "runpy.run_path({demo!r}, run_name='__main__')"
)


@pytest.mark.parametrize(
    ("demo", "missing", "extra"),
    [
        ("quadratic", "matplotlib", "demo"),
        ("stationary_points", "matplotlib", "demo"),
        ("learning_rates", "matplotlib", "demo"),
        ("local_minima", "matplotlib", "demo"),
        ("linear_regression", "matplotlib", "demo"),
        ("loss_vs_metric", "matplotlib", "demo"),
        ("moons", "tqdm", "demo"),
        ("moons", "matplotlib", "demo"),
        ("digits", "sklearn", "digits"),
        ("digits", "matplotlib", "demo"),
    ],
)
def test_a_demo_without_its_extra_says_what_to_install(demo: str, missing: str, extra: str) -> None:
    script = str(DEMOS / f"{demo}.py")
    done = subprocess.run(
        [sys.executable, "-c", BLOCK.format(name=missing, demo=script)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"needs {missing}" in done.stderr and f'pip install -e ".[{extra}]"' in done.stderr
    assert done.stdout == ""  # said before any work is done, not after the numbers
