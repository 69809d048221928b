"""Plots that show gradient descent at work (needs matplotlib: ``pip install "microgradx[plot]"``).

Every function returns a :class:`matplotlib.figure.Figure` and, given ``path=``, also saves
it (the suffix picks the format: ``.png``, ``.svg``, ...). Figures are built without
``pyplot``, so nothing global changes and they work headless; in Jupyter a returned figure
is shown as the cell's result. matplotlib is imported only when a plot is made, so the
rest of microgradx does not depend on it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .descent import DescentPath, gradient_descent
from .engine import Value, no_grad, to_float

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_decision_boundary",
    "plot_derivative",
    "plot_descent",
    "plot_descent_2d",
    "plot_loss",
]

PathLike = str | os.PathLike[str]
_GOOD = "#2563eb"
_BAD = "#dc2626"
_INSTALL = 'plots need matplotlib: pip install matplotlib  (or pip install "microgradx[plot]")'


def _figure(ncols: int = 1, width: float = 6.0, height: float = 4.0) -> tuple[Figure, list[Axes]]:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - the test extra installs matplotlib
        raise ImportError(_INSTALL) from e
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


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
    """``f`` at numbers, through Values (no graph), as a float; nan where it fails."""
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
    path: PathLike | None = None,
) -> Figure:
    """Loss curve(s) from a training history.

    ``history`` is a list of losses (numbers or Values), one per step, or a dict
    ``{name: losses}`` for several curves (e.g. train and validation, or several
    learning rates). The lowest point of each curve is marked. ``log=True`` uses a
    logarithmic loss axis.
    """
    if isinstance(history, Mapping):
        curves = {str(k): _floats(v, f"plot_loss(history[{k!r}])") for k, v in history.items()}
        if not curves:
            raise ValueError("plot_loss(): history is an empty dict")
    else:
        curves = {"loss": _floats(history, "plot_loss(history)")}
    fig, (ax,) = _figure()
    for i, (name, ys) in enumerate(curves.items()):
        color = f"C{i}"
        ax.plot(range(len(ys)), ys, color=color, label=name, lw=1.8)
        finite = [(y, k) for k, y in enumerate(ys) if math.isfinite(y)]
        if finite:
            best, at = min(finite)
            ax.plot([at], [best], "o", color=color, ms=5)
            ax.annotate(
                f"min {best:.4g}",
                (at, best),
                textcoords="offset points",
                xytext=(4, 6),
                fontsize=8,
                color=color,
            )
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel="loss")
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
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
    """``f`` and its derivative (computed by backpropagation), with tangent lines.

    ``f`` maps a Value to a Value. At each x in ``points`` the tangent line of slope
    ``f'(x)`` is drawn on the curve and the slope is written next to it.
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
    for x0 in at:
        y0, s = _value_and_slope(f, x0)
        if not (math.isfinite(y0) and math.isfinite(s)):
            continue
        tx = [x0 - half, x0 + half]
        ax.plot(tx, [y0 + s * (t - x0) for t in tx], color="C3", lw=1.3)
        ax.plot([x0], [y0], "o", color="C3", ms=5)
        ax.annotate(
            f"slope {s:.3g}",
            (x0, y0),
            textcoords="offset points",
            xytext=(6, -14),
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(title=title or f"{name} and its derivative", xlabel="x", xlim=(lo, hi))
    ax.grid(alpha=0.3)
    ax.legend()
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


def _verdict(run: DescentPath) -> str:
    return "diverges" if run.diverged else "converges"


def _shown(points: list[tuple[float, ...]], center: tuple[float, ...], reach: float) -> int:
    """How many of the first points stay within ``reach`` of ``center`` (a diverging run
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


def plot_descent(
    f: Callable[[Value], Value],
    start: float,
    lrs: Iterable[float] = (0.1, 1.05),
    *,
    steps: int = 20,
    xlim: tuple[float, float] | None = None,
    path: PathLike | None = None,
) -> Figure:
    """Gradient-descent steps on the curve of a one-parameter loss, one panel per rate.

    Each panel runs ``steps`` steps of ``x <- x - lr * f'(x)`` from ``start`` and draws
    them on the curve of ``f``: with a small enough rate the steps settle in the
    minimum, with a too large one they overshoot further and further (shown until they
    leave the picture).
    """
    runs = _runs(f, start, lrs, steps, "plot_descent")
    fig, axes = _figure(len(runs), width=4.6, height=3.8)
    x0 = runs[0].points[0][0]
    for ax, run in zip(axes, runs, strict=True):
        if xlim is not None:
            lo, hi = _xlim(xlim, "plot_descent(xlim)")
            n = _shown(run.points, ((lo + hi) / 2,), (hi - lo) * 0.75)
        else:
            n = _shown(run.points, (x0,), 25 * max(1.0, abs(x0)))
            xs = [p[0] for p in run.points[:n]]
            lo, hi = min(xs), max(xs)
            pad = max(0.15 * (hi - lo), 0.5)
            lo, hi = lo - pad, hi + pad
        grid = _grid(lo, hi, 200)
        ax.plot(grid, [_eval(f, x) for x in grid], color="0.3", lw=1.5)
        xs = [p[0] for p in run.points[:n]]
        ys = run.losses[:n]
        color = _BAD if run.diverged else _GOOD
        ax.plot(xs, ys, "-o", color=color, ms=4, lw=1, alpha=0.85)
        ax.plot(xs[:1], ys[:1], "s", color="k", ms=6, label="start")
        ax.set(xlim=(lo, hi), xlabel="x", ylabel="loss")
        ax.set_title(f"lr = {run.lr:g}: {_verdict(run)}", color=color)
        note = f"{run.steps} steps, final x = {run.final[0]:.4g}"
        if n < len(run.points):
            note = f"first {n} of {len(run.points)} points shown; " + note
        ax.text(0.02, 0.97, note, transform=ax.transAxes, fontsize=8, va="top")
        ax.grid(alpha=0.3)
    return _finish(fig, path)


def plot_descent_2d(
    f: Callable[[Value, Value], Value],
    start: Sequence[float],
    lrs: Iterable[float] = (0.05, 0.11),
    *,
    steps: int = 30,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels: int = 25,
    path: PathLike | None = None,
) -> Figure:
    """Gradient-descent paths over the contour lines of a two-parameter loss.

    One panel per learning rate, all on the same contour map of ``f(x, y)``: the path of
    a rate that converges walks down into the minimum, the path of one that diverges
    zigzags outward across the valley.
    """
    if not isinstance(start, Sequence) or isinstance(start, str) or len(start) != 2:
        raise ValueError(f"plot_descent_2d(): start must be a pair (x, y), got {start!r}")
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
    fig, axes = _figure(len(runs), width=4.6, height=4.2)
    for ax, run in zip(axes, runs, strict=True):
        ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.8)
        n = _inside(run.points, (x_lo, x_hi), (y_lo, y_hi))
        px = [p[0] for p in run.points[:n]]
        py = [p[1] for p in run.points[:n]]
        color = _BAD if run.diverged else _GOOD
        ax.plot(px, py, "-o", color=color, ms=3.5, lw=1.2)
        ax.plot(px[:1], py[:1], "s", color="k", ms=6)
        ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="x", ylabel="y")
        ax.set_title(f"lr = {run.lr:g}: {_verdict(run)}", color=color)
        final = ", ".join(f"{c:.3g}" for c in run.final)
        ax.text(
            0.02, 0.02, f"{run.steps} steps, final ({final})", transform=ax.transAxes, fontsize=8
        )
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

    ``model`` takes a list of two numbers and returns a score (a Value, a number, or a
    one-element list such as an ``MLP`` output); a score above 0 means the positive
    class. ``y`` holds the labels (``-1``/``1`` or ``0``/``1``; the larger one is the
    positive class). The title gives the accuracy on ``X``.
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
