"""Plots, headless: each returns a Figure with the right data and writes PNG/SVG files."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from microgradx import Value
from microgradx.descent import gradient_descent
from microgradx.plot import (
    finite_differences,
    legend_overlaps,
    plot_decision_boundary,
    plot_derivative,
    plot_descent,
    plot_descent_2d,
    plot_finite_differences,
    plot_loss,
    require,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5000


def assert_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_matplotlib_is_imported_only_when_a_plot_is_made() -> None:
    code = (
        "import sys, microgradx, microgradx.plot, microgradx.viz;print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_loss_curve_from_a_list(tmp_path: Path) -> None:
    history = [4.0, 2.0, Value(1.0), 0.5, 0.75]
    fig = plot_loss(history, path=tmp_path / "loss.png")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    curve = ax.lines[0]
    assert list(curve.get_ydata()) == [4.0, 2.0, 1.0, 0.5, 0.75]
    assert list(ax.lines[1].get_ydata()) == [0.5]  # the minimum is marked
    assert list(ax.lines[1].get_xdata()) == [3]
    assert_png(tmp_path / "loss.png")


def test_loss_curves_from_a_dict_with_log_scale(tmp_path: Path) -> None:
    fig = plot_loss(
        {"train": [1.0, 0.1, 0.01], "validation": [1.0, 0.3, 0.2]},
        log=True,
        path=tmp_path / "loss.svg",
    )
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["train: min 0.01 at step 2", "validation: min 0.2 at step 2"]
    assert_svg(tmp_path / "loss.svg")


def test_a_metric_is_named_and_marked_at_its_maximum() -> None:
    fig = plot_loss([0.5, 0.75, 1.0, 0.9], ylabel="accuracy", mark="max", title="acc")
    (ax,) = fig.axes
    assert ax.get_ylabel() == "accuracy"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["accuracy: max 1 at step 2"]
    assert (list(ax.lines[1].get_xdata()), list(ax.lines[1].get_ydata())) == ([2], [1.0])
    assert not any("min" in t.get_text() for t in fig.findobj(Text))


def test_mark_none_marks_nothing_and_bad_marks_are_refused() -> None:
    fig = plot_loss([3.0, 1.0, 2.0], mark=None)
    (ax,) = fig.axes
    assert len(ax.lines) == 1 and ax.get_legend() is None
    with pytest.raises(ValueError, match='mark must be "min", "max" or None'):
        plot_loss([1.0], mark="best")


def test_the_legend_moves_beside_the_axes_when_no_spot_inside_is_free() -> None:
    # seven flat curves spread over the whole height leave no room inside for 7 entries
    curves = {f"curve {k}": [k * 1.0 + 0.3 * (i % 2) for i in range(60)] for k in range(7)}
    fig = plot_loss(curves)
    (ax,) = fig.axes
    assert not legend_overlaps(ax)
    box = ax.get_legend().get_window_extent()
    assert box.x0 >= ax.bbox.x1  # beside the axes
    assert fig.bbox.contains(box.x1 - 1, box.y0 + 1)  # and not cut off


@pytest.mark.parametrize(
    ("history", "error"),
    [([], ValueError), ({}, ValueError), ("abc", TypeError), ([1.0, "x"], TypeError)],
)
def test_loss_curve_refuses_bad_history(history: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        plot_loss(history)  # type: ignore[arg-type]


def test_derivative_comes_from_backpropagation(tmp_path: Path) -> None:
    def f(x: Value) -> Value:
        return x**3 / 3 - x

    fig = plot_derivative(f, xlim=(-2.0, 2.0), points=[-1.0, 0.5], num=41, path=tmp_path / "d.png")
    (ax,) = fig.axes
    xs = list(ax.lines[0].get_xdata())
    assert len(xs) == 41
    assert list(ax.lines[0].get_ydata()) == pytest.approx([x**3 / 3 - x for x in xs])
    assert list(ax.lines[1].get_ydata()) == pytest.approx([x * x - 1 for x in xs])
    # tangent at 0.5: slope -0.75 through (0.5, f(0.5)), half-width (2 - -2) / 8
    tangent = ax.lines[4]
    y0 = 0.5**3 / 3 - 0.5
    assert list(tangent.get_xdata()) == [0.0, 1.0]
    assert list(tangent.get_ydata()) == pytest.approx([y0 + 0.375, y0 - 0.375])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[2:] == ["tangent at x = -1: slope 0", "tangent at x = 0.5: slope -0.75"]
    assert not ax.texts and not legend_overlaps(ax)  # the slopes cover no curve
    assert_png(tmp_path / "d.png")


def test_derivative_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError):
        plot_derivative(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        plot_derivative(lambda x: x, xlim=(1.0, -1.0))
    with pytest.raises(ValueError):
        plot_derivative(lambda x: x, num=1)


def test_descent_1d_shows_a_converging_and_a_diverging_rate(tmp_path: Path) -> None:
    def loss(w: Value) -> Value:
        return (w - 3) ** 2

    fig = plot_descent(loss, start=-1.0, lrs=(0.1, 1.05), steps=15, path=tmp_path / "gd.svg")
    good, bad = fig.axes
    assert good.get_title() == "lr = 0.1: converges"
    assert bad.get_title() == "lr = 1.05: diverges"
    assert good.get_xlabel() == "x"
    expected = gradient_descent(loss, -1.0, 0.1, 15)
    steps = good.lines[1]
    assert list(steps.get_xdata()) == pytest.approx(expected.xs)
    assert list(steps.get_ydata()) == pytest.approx(expected.losses)
    assert abs(expected.xs[-1] - 3) < 0.2
    assert [t.get_text() for t in good.texts] == ["15 steps, final x = 2.859"]
    assert_svg(tmp_path / "gd.svg")


def test_descent_titles_are_the_verdict_of_the_whole_run() -> None:
    def loss(w: Value) -> Value:
        return (w - 3) ** 2

    rates = [0.1, 0.95, 1.1, 30.0]
    fig = plot_descent(loss, 0.0, rates, steps=100, shown=20, name="w")
    runs = [gradient_descent(loss, 0.0, lr, 100) for lr in rates]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [f"lr = {r.lr:g}: {r.verdict}" for r in runs]
    assert [r.verdict for r in runs] == ["converges", "oscillates", "diverges", "blows up"]
    assert {ax.get_xlabel() for ax in fig.axes} == {"w"}
    # at most 20 steps drawn, and the note says so
    assert all(len(ax.lines[1].get_xdata()) <= 21 for ax in fig.axes)
    assert fig.axes[0].texts[0].get_text().startswith("first 20 of 100 steps shown")
    # four panels in two rows of two, so that none is squeezed
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(rows) == 2


def test_descent_refuses_bad_names_and_counts() -> None:
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        plot_descent(lambda w: w * w, 1.0, name="")
    with pytest.raises(ValueError, match="shown"):
        plot_descent(lambda w: w * w, 1.0, shown=0)
    with pytest.raises(TypeError, match="names must be two strings"):
        plot_descent_2d(lambda x, y: x * y, (1.0, 1.0), names=("x",))  # type: ignore[arg-type]


def test_descent_2d_on_contours(tmp_path: Path) -> None:
    def bowl(x: Value, y: Value) -> Value:
        return x**2 + 10 * y**2

    fig = plot_descent_2d(bowl, start=(-4.0, 1.5), lrs=(0.09, 0.105), path=tmp_path / "gd2.png")
    good, bad = fig.axes
    # 0.09 zigzags across the narrow valley (y flips sign each step) on its way down
    assert good.get_title() == "lr = 0.09: oscillates"
    assert bad.get_title() == "lr = 0.105: diverges"
    assert (good.get_xlabel(), good.get_ylabel()) == ("x", "y")
    path = good.lines[0]
    assert (path.get_xdata()[0], path.get_ydata()[0]) == (-4.0, 1.5)
    assert abs(path.get_xdata()[-1]) < 0.05 and abs(path.get_ydata()[-1]) < 0.05
    # the diverging path is drawn until it leaves the picture
    y_lo, y_hi = bad.get_ylim()
    ys = list(bad.lines[0].get_ydata())
    assert all(y_lo <= y <= y_hi for y in ys[:-1]) and not y_lo <= ys[-1] <= y_hi
    assert_png(tmp_path / "gd2.png")
    with pytest.raises(ValueError, match="pair"):
        plot_descent_2d(bowl, start=(1.0, 2.0, 3.0))


def test_decision_boundary_of_a_linear_classifier(tmp_path: Path) -> None:
    w1, w2, b = Value(1.0), Value(-1.0), Value(0.0)

    def model(p: list[float]) -> Value:
        return w1 * p[0] + w2 * p[1] + b

    X = [(0.0, 1.0), (1.0, 0.0), (2.0, 0.5), (-1.0, -2.0), (0.5, 1.5), (1.0, 2.0)]  # noqa: N806
    y = [-1, 1, 1, 1, -1, 1]  # the last one is on the wrong side
    fig = plot_decision_boundary(model, X, y, resolution=20, path=tmp_path / "db.png")
    (ax,) = fig.axes
    assert ax.get_title() == "decision boundary (accuracy 83%)"
    assert_png(tmp_path / "db.png")
    assert w1.grad == 0.0  # evaluated without building a graph
    # 0/1 labels and a model returning a one-element list (an MLP with one output)
    fig = plot_decision_boundary(lambda p: [model(p)], X, [0, 1, 1, 1, 0, 0], resolution=10)
    assert fig.axes[0].get_title() == "decision boundary (accuracy 100%)"
    with pytest.raises(ValueError, match="labels"):
        plot_decision_boundary(model, X, y[:-1])
    with pytest.raises(ValueError):
        plot_decision_boundary(model, [(1.0, 2.0, 3.0)], [1])


def test_require_names_the_extra_to_install() -> None:
    require("math", "json")  # present: nothing happens
    with pytest.raises(SystemExit) as e:
        require("math", "no_such_module_xyz", extra="plot", program="demos/x.py")
    message = str(e.value)
    assert message.startswith("demos/x.py needs no_such_module_xyz")
    assert 'pip install -e ".[plot]"' in message and 'pip install "microgradx[plot]"' in message


# -- finite differences against the exact derivative ---------------------------------------


def cubic(x: Value) -> Value:
    return x**3 - 5 * x**2 + 7 * x - 1


def test_finite_differences_are_computed_in_floats_against_backward() -> None:
    exact, rows = finite_differences(cubic, 2.0, [1e-1, 1e-8, 1e-17])
    assert exact == -1.0  # f'(2) = 3*4 - 10*2 + 7, from backward()
    (h1, fw1, c1), (h2, fw2, c2), (h3, fw3, c3) = rows
    assert (h1, h2, h3) == (1e-1, 1e-8, 1e-17)
    f = lambda x: x**3 - 5 * x**2 + 7 * x - 1  # noqa: E731 - the same f on floats
    assert fw1 == (f(2.1) - f(2.0)) / 0.1 and c1 == (f(2.1) - f(1.9)) / 0.2
    assert abs(fw1 - exact) == pytest.approx(0.1 + 0.01, rel=1e-6)  # f''h/2 + f'''h²/6
    assert abs(c1 - exact) == pytest.approx(0.01, rel=1e-6)  # f'''h²/6
    assert abs(fw2 - exact) < 1e-6 and abs(c2 - exact) < 1e-6
    assert (2.0 + 1e-17 == 2.0) and fw3 == 0.0 and c3 == 0.0  # x + h == x: the estimate is 0
    with pytest.raises(ValueError, match="every h must be a positive number"):
        finite_differences(cubic, 2.0, [0.1, 0.0])
    with pytest.raises(TypeError, match="expected a function"):
        finite_differences(3, 2.0)  # type: ignore[arg-type]


def test_the_finite_differences_picture_reads_as_the_derivative_page_says(
    tmp_path: Path,
) -> None:
    from test_pictures import clashes

    fig = plot_finite_differences(cubic, 2.0, path=tmp_path / "fd.png")
    assert_png(tmp_path / "fd.png")
    (ax,) = fig.axes
    assert ax.get_title() == "Finite differences at x = 2, against f'(x) = -1 from backward()"
    assert ax.get_xlabel() == "step h (smaller to the right)"
    assert ax.get_ylabel() == "error |estimate - f'(x)|"
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.xaxis_inverted()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "forward (f(x+h) - f(x)) / h",
        "central (f(x+h) - f(x-h)) / 2h",
        "forward: rounding takes over near h = 1e-08",
        "central: rounding takes over near h = 5e-06",
        "h = 1e-17: x + h == x, so both estimates are 0",
    ]
    assert [t.get_text() for t in ax.texts] == [
        "truncation error: ~h (forward), ~h² (central)",
        "rounding error: ~eps / h",
    ]
    forward, central, turn_f, turn_c, tiny = ax.get_lines()
    hs = list(forward.get_xdata())
    assert hs[0] == 1e-1 and hs[-1] == pytest.approx(1e-16) and len(hs) == 61
    fw, ce = list(forward.get_ydata()), list(central.get_ydata())
    # truncation: the forward error falls like h, the central like h², down to ~1e-4
    assert fw[0] / fw[8] == pytest.approx(100, rel=0.1)
    assert ce[0] / ce[8] == pytest.approx(10_000, rel=0.1)
    # where truncation gives way to rounding: each curve's smallest error
    best_f = hs[min(range(len(fw)), key=lambda i: fw[i])]
    best_c = hs[min(range(len(ce)), key=lambda i: ce[i])]
    assert 1e-9 < best_f < 1e-6 and 1e-6 < best_c < 1e-4
    assert min(ce) < 1e-9 < min(fw)  # the central difference gets closer
    # learners who try h = 1e-10 get rounding noise: worse than at h = 1e-8
    at = {round(-4 * math.log10(h)): i for i, h in enumerate(hs)}
    assert fw[at[40]] > 1e-8 and fw[at[52]] > 1e-5  # h = 1e-10 and h = 1e-13
    assert list(tiny.get_xdata()) == [1e-17] and list(tiny.get_ydata()) == [1.0]
    # the diamonds: the steps nearest sqrt(eps |f| / (|f''| / 2)) and its central match
    eps = sys.float_info.epsilon
    for line, at in ((turn_f, eps**0.5), (turn_c, (3 * eps / 6) ** (1 / 3))):
        assert abs(math.log10(line.get_xdata()[0] / at)) <= 0.125
    assert clashes(fig) == []


def test_finite_differences_picture_refuses_a_derivative_that_is_not_a_number() -> None:
    with pytest.raises(ValueError, match=r"f'\(0\) is inf, not a finite number"):
        plot_finite_differences(lambda x: x.sqrt(), 0.0)
