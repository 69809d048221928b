"""Plots that show gradient descent at work (needs matplotlib: `pip install "microgradx[plot]"`).

Every function returns a `matplotlib.figure.Figure` and, given `path=`, also saves it (the
suffix picks the format: `.png`, `.svg`, ...). Figures are built without `pyplot`, so
nothing global changes and they work headless; in Jupyter a returned figure is shown as
the cell's result. matplotlib is imported only when a plot is made, so the rest of
microgradx does not depend on it.

Examples:
    >>> from microgradx.plot import plot_loss
    >>> fig = plot_loss([4.0, 2.0, 1.0, 1.5])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['loss: min 1 at step 2']
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .checks import to_count
from .descent import DescentPath, gradient_descent
from .engine import Value, no_grad, to_float

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "legend_overlaps",
    "plot_decision_boundary",
    "plot_derivative",
    "plot_descent",
    "plot_descent_2d",
    "plot_loss",
    "require",
]

PathLike = str | os.PathLike[str]
_GOOD = "#2563eb"
_BAD = "#dc2626"
# tangent lines: colours of matplotlib's cycle after those of f and f' (C0, C1)
_TANGENTS = ("C3", "C2", "C4", "C5", "C6", "C8", "C9")
_INSTALL = 'plots need matplotlib: pip install matplotlib  (or pip install "microgradx[plot]")'


def _figure(ncols: int = 1, width: float = 6.0, height: float = 4.0) -> tuple[Figure, list[Axes]]:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - the test extra installs matplotlib
        raise ImportError(_INSTALL) from e
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def require(*modules: str, extra: str = "demo", program: str = "this demo") -> None:
    """Exit with one line naming the extra to install when a module is missing.

    The demos call it first, so that a missing plotting library is reported before any
    work is done, not as a traceback at the end.

    Args:
        modules: importable module names (`"matplotlib"`, `"tqdm"`, `"sklearn"`).
        extra: the extra of microgradx that installs them.
        program: the name the message gives (`"demos/moons.py"`).

    Raises:
        SystemExit: naming the missing modules and the install command.
    """
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(
            f"{program} needs {', '.join(missing)}, which is not installed: install the "
            f'{extra!r} extra with  pip install -e ".[{extra}]"  (from the repository root) '
            f'or  pip install "microgradx[{extra}]"'
        )


def legend_overlaps(ax: Axes) -> bool:
    """True when the axes' legend covers a point or a segment of one of its lines.

    The figure's layout is computed first, so the answer holds for the saved picture.
    """
    legend = ax.get_legend()
    if legend is None:
        return False
    ax.get_figure(root=True).draw_without_rendering()  # type: ignore[union-attr]
    box = legend.get_window_extent()
    for line in ax.get_lines():
        data = line.get_transform().transform_path(line.get_path())
        points: Any = data.vertices
        if len(points) and (box.count_contains(points) or data.intersects_bbox(box, filled=False)):
            return True
    return False


def _legend(ax: Axes) -> None:
    """A legend where it covers no curve: inside the axes if a spot is free, else beside."""
    ax.legend(loc="best", fontsize=8)
    legend = ax.get_legend()
    if legend is not None and legend_overlaps(ax):
        legend.remove()
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)


def _finish(fig: Figure, path: PathLike | None) -> Figure:
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or a path, got {type(path).__name__}")
        fig.savefig(path, dpi=120)
    return fig


def _number(x: object, where: str) -> float:
    return x.data if isinstance(x, Value) else to_float(x, where)


def _floats(xs: object, where: str) -> list[float]:
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Iterable):
        raise TypeError(f"{where}: expected a sequence of numbers, got {type(xs).__name__}")
    out = [_number(x, where) for x in xs]
    if not out:
        raise ValueError(f"{where}: expected at least one number, got an empty sequence")
    return out


def _callable(f: object, where: str) -> None:
    if not callable(f):
        raise TypeError(f"{where}: expected a function, got {type(f).__name__}")


def _xlim(xlim: object, where: str) -> tuple[float, float]:
    if not isinstance(xlim, Sequence) or len(xlim) != 2:
        raise TypeError(f"{where}: expected a (low, high) pair, got {xlim!r}")
    lo, hi = (to_float(v, where) for v in xlim)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{where}: expected finite low < high, got {xlim!r}")
    return lo, hi


def _grid(lo: float, hi: float, num: int) -> list[float]:
    return [lo + (hi - lo) * i / (num - 1) for i in range(num)]


def _eval(f: Callable[..., Any], *xs: float) -> float:
    """`f` at numbers, through Values (no graph), as a float; nan where it fails."""
    with no_grad():
        try:
            y = f(*(Value(x) for x in xs))
        except (ArithmeticError, ValueError):
            return math.nan
    return _score(y, "f")


def _score(y: object, where: str) -> float:
    if isinstance(y, (list, tuple)) and len(y) == 1:  # an MLP with one output
        y = y[0]
    if isinstance(y, Value):
        return y.data
    return to_float(y, f"{where} must return a Value or a number;")


# -- loss curves --------------------------------------------------------------------------


def plot_loss(
    history: Sequence[float | Value] | Mapping[str, Sequence[float | Value]],
    *,
    log: bool = False,
    title: str = "Training loss",
    xlabel: str = "step",
    ylabel: str = "loss",
    mark: str | None = "min",
    path: PathLike | None = None,
) -> Figure:
    """Curve(s) of a quantity over training: a loss, or a metric such as the accuracy.

    The best point of each curve is marked with a dot, and the legend gives its value,
    placed where it covers no curve (beside the axes if no spot inside is free).

    Args:
        history: one number (or Value) per step, or a dict `{name: numbers}` for several
            curves (train and validation, several learning rates, ...).
        log: use a logarithmic y axis.
        title: the title.
        xlabel: what one point of the x axis is (`"step"`, `"mini-batch"`, `"epoch"`).
        ylabel: the quantity's name (`"loss"`, `"accuracy"`): the y axis label, and the
            curve's name when `history` is a plain list.
        mark: `"min"` where lower is better (a loss), `"max"` where higher is better (an
            accuracy), or None to mark nothing.
        path: where to save the figure (optional).

    Returns:
        The figure.

    Raises:
        ValueError: for an empty history or a `mark` that is not "min", "max" or None.
        TypeError: for a history that is not numbers.
    """
    if mark not in ("min", "max", None):
        raise ValueError(f'plot_loss(): mark must be "min", "max" or None, got {mark!r}')
    if not isinstance(ylabel, str) or not isinstance(xlabel, str):
        raise TypeError("plot_loss(): xlabel and ylabel must be strings")
    if isinstance(history, Mapping):
        curves = {str(k): _floats(v, f"plot_loss(history[{k!r}])") for k, v in history.items()}
        if not curves:
            raise ValueError("plot_loss(): history is an empty dict")
    else:
        curves = {ylabel: _floats(history, "plot_loss(history)")}
    fig, (ax,) = _figure()
    for i, (name, ys) in enumerate(curves.items()):
        color = f"C{i}"
        finite = [(y, k) for k, y in enumerate(ys) if math.isfinite(y)]
        if not finite or mark is None:
            ax.plot(range(len(ys)), ys, color=color, label=name, lw=1.8)
            continue
        best = min(y for y, _ in finite) if mark == "min" else max(y for y, _ in finite)
        at = next(k for y, k in finite if y == best)  # the first step that reaches it
        label = f"{name}: {mark} {best:.4g} at {xlabel} {at}"
        ax.plot(range(len(ys)), ys, color=color, label=label, lw=1.8)
        ax.plot([at], [best], "o", color=color, ms=5)
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if len(curves) > 1 or mark is not None:
        _legend(ax)
    return _finish(fig, path)


# -- a function, its derivative and tangent lines -----------------------------------------


def plot_derivative(
    f: Callable[[Value], Value],
    *,
    xlim: tuple[float, float] = (-3.0, 3.0),
    points: Iterable[float] = (),
    num: int = 201,
    title: str | None = None,
    path: PathLike | None = None,
) -> Figure:
    """`f` and its derivative (computed by backpropagation), with tangent lines.

    Args:
        f: a function of one Value that returns a Value.
        xlim: the range of x to draw.
        points: where to draw tangent lines; the legend gives each one's slope `f'(x)`.
        num: how many points of the curves are computed.
        title: the title (by default "f and its derivative", with f's name).
        path: where to save the figure (optional).

    Returns:
        The figure.
    """
    _callable(f, "plot_derivative(f)")
    lo, hi = _xlim(xlim, "plot_derivative(xlim)")
    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f"plot_derivative(): num must be an int >= 2, got {num!r}")
    at = _floats(list(points), "plot_derivative(points)") if points else []
    xs = _grid(lo, hi, num)
    values, slopes = zip(*(_value_and_slope(f, x) for x in xs), strict=True)
    fig, (ax,) = _figure()
    name = getattr(f, "__name__", "f")
    name = "f" if name == "<lambda>" else name
    ax.plot(xs, values, color="C0", lw=2, label=f"{name}(x)")
    ax.plot(xs, slopes, color="C1", lw=1.5, ls="--", label=f"{name}'(x)")
    half = (hi - lo) / 8
    for k, x0 in enumerate(at):
        y0, s = _value_and_slope(f, x0)
        if not (math.isfinite(y0) and math.isfinite(s)):
            continue
        tx = [x0 - half, x0 + half]
        color = _TANGENTS[k % len(_TANGENTS)]
        # the slope goes in the legend, not next to the point, where it would cover a curve
        label = f"tangent at x = {x0:.3g}: slope {s:.3g}"
        ax.plot(tx, [y0 + s * (t - x0) for t in tx], color=color, lw=1.3, label=label)
        ax.plot([x0], [y0], "o", color=color, ms=5)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(title=title or f"{name} and its derivative", xlabel="x", xlim=(lo, hi))
    ax.grid(alpha=0.3)
    _legend(ax)
    return _finish(fig, path)


def _value_and_slope(f: Callable[[Value], Value], x: float) -> tuple[float, float]:
    v = Value(x)
    try:
        y = f(v)
    except (ArithmeticError, ValueError):
        return math.nan, math.nan
    if not isinstance(y, Value):
        return _score(y, "f"), 0.0
    if y.requires_grad:
        y.backward()
    return y.data, float(v.grad)


# -- gradient descent ---------------------------------------------------------------------


def _runs(
    f: Callable[..., Value], start: Any, lrs: Iterable[float], steps: int, where: str
) -> list[DescentPath]:
    _callable(f, f"{where}(f)")
    rates = _floats(list(lrs), f"{where}(lrs)")
    return [gradient_descent(f, start, lr, steps) for lr in rates]


def _color(run: DescentPath) -> str:
    return _BAD if run.diverged else _GOOD


def _shown(points: list[tuple[float, ...]], center: tuple[float, ...], reach: float) -> int:
    """How many of the first points stay within `reach` of `center` (a diverging run
    leaves every window; its first steps show the overshoot well enough)."""
    for k, p in enumerate(points):
        if not all(math.isfinite(c) for c in p) or math.dist(p, center) > reach:
            return max(k, 2)
    return len(points)


def _inside(points: list[tuple[float, ...]], *box: tuple[float, float]) -> int:
    """How many points to draw: up to and including the first one outside the box."""
    for k, p in enumerate(points):
        if not all(lo <= c <= hi for c, (lo, hi) in zip(p, box, strict=True)):
            return k + 1 if all(math.isfinite(c) for c in p) else k
    return len(points)


def _count(n: object, where: str) -> int | None:
    return None if n is None else to_count(n, where)


def plot_descent(
    f: Callable[[Value], Value],
    start: float,
    lrs: Iterable[float] = (0.1, 1.05),
    *,
    steps: int = 20,
    shown: int | None = None,
    name: str = "x",
    xlim: tuple[float, float] | None = None,
    ncols: int | None = None,
    path: PathLike | None = None,
) -> Figure:
    """Gradient-descent steps on the curve of a one-parameter loss, one panel per rate.

    Each panel runs `steps` steps of `x <- x - lr * f'(x)` from `start` and draws them on
    the curve of `f`: with a small enough rate the steps settle in the minimum, with a too
    large one they overshoot further and further (shown until they leave the picture).
    Each title gives the run's `DescentPath.verdict`, the same word the demos print.

    Args:
        f: the loss, a function of one Value.
        start: the starting point.
        lrs: the learning rates, one panel each.
        steps: how many steps each run takes; the verdict is that of the whole run.
        shown: draw at most this many steps of each run (all of them by default).
        name: the parameter's name, for the axis and the notes (`"w"`, `"x"`).
        xlim: the range of the parameter to draw (chosen from the steps by default).
        ncols: panels per row (all in one row up to 2 rates, else 2 per row).
        path: where to save the figure (optional).

    Returns:
        The figure, one axes per learning rate.
    """
    runs = _runs(f, start, lrs, steps, "plot_descent")
    shown = _count(shown, "plot_descent(shown=...)")
    if not isinstance(name, str) or not name:
        raise TypeError(f"plot_descent(): name must be a non-empty string, got {name!r}")
    fig, axes = _panels(len(runs), ncols, width=4.6, height=3.6, where="plot_descent")
    x0 = runs[0].points[0][0]
    for ax, run in zip(axes, runs, strict=True):
        points = run.points if shown is None else run.points[: shown + 1]
        if xlim is not None:
            lo, hi = _xlim(xlim, "plot_descent(xlim)")
            n = _shown(points, ((lo + hi) / 2,), (hi - lo) * 0.75)
        else:
            n = _shown(points, (x0,), 25 * max(1.0, abs(x0)))
            xs = [p[0] for p in points[:n]]
            lo, hi = min(xs), max(xs)
            pad = max(0.15 * (hi - lo), 0.5)
            lo, hi = lo - pad, hi + pad
        grid = _grid(lo, hi, 200)
        ax.plot(grid, [_eval(f, x) for x in grid], color="0.3", lw=1.5)
        xs = [p[0] for p in points[:n]]
        ys = run.losses[:n]
        color = _color(run)
        ax.plot(xs, ys, "-o", color=color, ms=4, lw=1, alpha=0.85)
        ax.plot(xs[:1], ys[:1], "s", color="k", ms=6, label="start")
        ax.set(xlim=(lo, hi), xlabel=name, ylabel="loss")
        ax.set_title(f"lr = {run.lr:g}: {run.verdict}", color=color)
        last = next(p[0] for p in reversed(run.points) if math.isfinite(p[0]))
        note = f"{run.steps} steps, final {name} = {last:.4g}"
        if n < len(run.points):
            note = f"first {n - 1} of {run.steps} steps shown\n" + note
        _note(ax, note)
        ax.grid(alpha=0.3)
    return _finish(fig, path)


def _note(ax: Axes, text: str) -> None:
    """A small note under the axis label, where it cannot cover the picture."""
    ax.annotate(
        text, xy=(0.5, 0.0), xycoords=ax.xaxis.label, xytext=(0, -3),
        textcoords="offset points", ha="center", va="top", fontsize=8, color="0.25",
    )  # fmt: skip


def _panels(
    n: int, ncols: int | None, *, width: float, height: float, where: str
) -> tuple[Figure, list[Axes]]:
    """`n` panels, `ncols` per row (2 per row when more than 2, so none gets too narrow)."""
    cols = _count(ncols, f"{where}(ncols=...)") or (n if n <= 2 else 2)
    cols = min(cols, n)
    rows = -(-n // cols)
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - the test extra installs matplotlib
        raise ImportError(_INSTALL) from e
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def plot_descent_2d(
    f: Callable[[Value, Value], Value],
    start: Sequence[float],
    lrs: Iterable[float] = (0.05, 0.11),
    *,
    steps: int = 30,
    names: tuple[str, str] = ("x", "y"),
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels: int = 25,
    path: PathLike | None = None,
) -> Figure:
    """Gradient-descent paths over the contour lines of a two-parameter loss.

    One panel per learning rate, all on the same contour map of `f(x, y)`: the path of a
    rate that converges walks down into the minimum, one that oscillates zigzags across
    the valley on its way down, and one that diverges zigzags outward. Each title gives
    the run's `DescentPath.verdict`.

    Args:
        f: the loss, a function of two Values.
        start: the starting point `(x, y)`.
        lrs: the learning rates, one panel each.
        steps: how many steps each run takes.
        names: the two parameters' names, for the axes.
        xlim: the range of the first parameter (chosen from the paths by default).
        ylim: the range of the second parameter.
        levels: how many contour lines.
        path: where to save the figure (optional).

    Returns:
        The figure, one axes per learning rate.
    """
    if not isinstance(start, Sequence) or isinstance(start, str) or len(start) != 2:
        raise ValueError(f"plot_descent_2d(): start must be a pair (x, y), got {start!r}")
    if (
        not isinstance(names, (tuple, list))
        or len(names) != 2
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise TypeError(f"plot_descent_2d(): names must be two strings, got {names!r}")
    runs = _runs(f, start, lrs, steps, "plot_descent_2d")
    sx, sy = runs[0].points[0]
    if xlim is None or ylim is None:
        calm = [p for r in runs if not r.diverged for p in r.points] or [(sx, sy)]
        auto = []
        for c in (0, 1):
            lo, hi = min(p[c] for p in calm), max(p[c] for p in calm)
            pad = max(0.25 * (hi - lo), 1.0)
            auto.append((lo - pad, hi + pad))
        xlim = xlim or auto[0]
        ylim = ylim or auto[1]
    x_lo, x_hi = _xlim(xlim, "plot_descent_2d(xlim)")
    y_lo, y_hi = _xlim(ylim, "plot_descent_2d(ylim)")
    gx, gy = _grid(x_lo, x_hi, 80), _grid(y_lo, y_hi, 80)
    z = [[_eval(f, x, y) for x in gx] for y in gy]
    fig, axes = _panels(len(runs), None, width=4.6, height=4.2, where="plot_descent_2d")
    for ax, run in zip(axes, runs, strict=True):
        ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.8)
        n = _inside(run.points, (x_lo, x_hi), (y_lo, y_hi))
        px = [p[0] for p in run.points[:n]]
        py = [p[1] for p in run.points[:n]]
        color = _color(run)
        ax.plot(px, py, "-o", color=color, ms=3.5, lw=1.2)
        ax.plot(px[:1], py[:1], "s", color="k", ms=6)
        ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel=names[0], ylabel=names[1])
        ax.set_title(f"lr = {run.lr:g}: {run.verdict}", color=color)
        final = ", ".join(f"{c:.3g}" for c in run.final)
        _note(ax, f"{run.steps} steps, final ({final})")
    return _finish(fig, path)


# -- a classifier's decision boundary -----------------------------------------------------


def plot_decision_boundary(
    model: Callable[[list[float]], Any],
    X: Sequence[Sequence[float]],  # noqa: N803 - the usual name for inputs
    y: Sequence[float],
    *,
    resolution: int = 60,
    margin: float = 0.5,
    title: str | None = None,
    path: PathLike | None = None,
) -> Figure:
    """Where a 2-D classifier says yes and no, with the data on top.

    Args:
        model: takes a list of two numbers and returns a score (a Value, a number, or a
            one-element list such as an `MLP` output); a score above 0 means the
            positive class.
        X: the points, pairs of numbers.
        y: the labels (`-1`/`1` or `0`/`1`; the larger one is the positive class).
        resolution: the grid size the model is evaluated on.
        margin: how far the picture reaches beyond the points.
        title: the title (by default the accuracy on `X`).
        path: where to save the figure (optional).

    Returns:
        The figure.
    """
    _callable(model, "plot_decision_boundary(model)")
    points = [tuple(_floats(p, "plot_decision_boundary(X)")) for p in X]
    labels = _floats(y, "plot_decision_boundary(y)")
    if not points or any(len(p) != 2 for p in points):
        raise ValueError("plot_decision_boundary(): X must be a non-empty list of (x, y) pairs")
    if len(labels) != len(points):
        raise ValueError(f"plot_decision_boundary(): {len(points)} points but {len(labels)} labels")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    positive = [lab == max(labels) for lab in labels]

    def score(a: float, b: float) -> float:
        with no_grad():
            return _score(model([a, b]), "model")

    x_lo = min(p[0] for p in points) - margin
    x_hi = max(p[0] for p in points) + margin
    y_lo = min(p[1] for p in points) - margin
    y_hi = max(p[1] for p in points) + margin
    gx, gy = _grid(x_lo, x_hi, resolution), _grid(y_lo, y_hi, resolution)
    z = [[score(a, b) for a in gx] for b in gy]
    correct = sum((score(*p) > 0) == pos for p, pos in zip(points, positive, strict=True))
    fig, (ax,) = _figure(width=5.2, height=4.6)
    ax.contourf(gx, gy, z, levels=[-math.inf, 0.0, math.inf], colors=["#fecaca", "#bfdbfe"])
    ax.contour(gx, gy, z, levels=[0.0], colors="k", linewidths=1.2)
    for pos, color, marker in ((True, _GOOD, "o"), (False, _BAD, "s")):
        xs = [p[0] for p, q in zip(points, positive, strict=True) if q == pos]
        ys = [p[1] for p, q in zip(points, positive, strict=True) if q == pos]
        ax.scatter(xs, ys, c=color, marker=marker, s=18, edgecolors="k", linewidths=0.4)
    accuracy = correct / len(points)
    ax.set_title(title or f"decision boundary (accuracy {accuracy:.0%})")
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="$x_1$", ylabel="$x_2$")
    return _finish(fig, path)
