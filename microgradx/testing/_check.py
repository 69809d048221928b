"""`gradcheck` and `gradgradcheck`: analytic derivatives against central differences.

Both work on a function of scalars: `f` receives one `Value` per input number and
returns a `Value`. The analytic side comes from `microgradx.grad`; the numeric side
evaluates `f` on plain floats (under `no_grad`) at `x + eps` and `x - eps`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..engine import Value, grad, no_grad, to_float

Function = Callable[..., Value]


@dataclass(frozen=True)
class Mismatch:
    """One derivative that failed: where, both numbers and the errors."""

    label: str
    point: float
    analytic: float
    numeric: float

    @property
    def abs_err(self) -> float:
        """`|analytic - numeric|` (nan when either is nan)."""
        return abs(self.analytic - self.numeric)

    @property
    def rel_err(self) -> float:
        """The absolute error relative to `|numeric|` (inf when numeric is 0)."""
        scale = abs(self.numeric)
        if scale == 0.0:
            return 0.0 if self.abs_err == 0.0 else math.inf
        return self.abs_err / scale


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with central differences.

    The message is a table of every derivative checked; `rows` holds them and
    `mismatches` the ones that failed.
    """

    def __init__(self, message: str, rows: Sequence[Mismatch], mismatches: Sequence[Mismatch]):
        super().__init__(message)
        self.rows = tuple(rows)
        self.mismatches = tuple(mismatches)


def close(analytic: float, numeric: float, atol: float, rtol: float) -> bool:
    """`|analytic - numeric| <= atol + rtol * |numeric|`; nan matches nan, inf the same inf."""
    if math.isnan(analytic) or math.isnan(numeric):
        return math.isnan(analytic) and math.isnan(numeric)
    if math.isinf(analytic) or math.isinf(numeric):
        return analytic == numeric
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


def _points(inputs: object, where: str) -> list[float]:
    if isinstance(inputs, (str, bytes, Value, int, float)) or not isinstance(inputs, Sequence):
        raise TypeError(
            f"{where}: inputs must be a sequence of numbers (one per argument of f), "
            f"got {type(inputs).__name__}"
        )
    if len(inputs) == 0:
        raise ValueError(f"{where}: inputs is empty; give one number per argument of f")
    return [
        x.data if isinstance(x, Value) else to_float(x, f"{where}: inputs[{i}]")
        for i, x in enumerate(inputs)
    ]


def _settings(where: str, eps: float, atol: float, rtol: float) -> None:
    for name, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{where}: {name} must be a float, got {type(v).__name__}")
        if not math.isfinite(v) or v < 0 or (name == "eps" and v == 0):
            kind = "positive" if name == "eps" else "non-negative"
            raise ValueError(f"{where}: {name} must be a finite {kind} number, got {v!r}")


def _call(f: Function, xs: Sequence[Value], where: str) -> Value:
    out = f(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"{where}: f must return a Value, got {type(out).__name__}")
    return out


def _value_at(f: Function, point: Sequence[float], where: str) -> float:
    with no_grad():
        return _call(f, [Value(x) for x in point], where).data


def _gradient(f: Function, point: Sequence[float], where: str) -> list[float]:
    xs = [Value(x) for x in point]
    out = _call(f, xs, where)
    if not out.requires_grad:  # f ignores its inputs
        return [0.0] * len(xs)
    return [g.data for g in grad(out, xs, allow_unused=True)]


def _hessian(f: Function, point: Sequence[float], where: str) -> list[list[float]]:
    xs = [Value(x) for x in point]
    out = _call(f, xs, where)
    rows = []
    gradients = grad(out, xs, create_graph=True, allow_unused=True) if out.requires_grad else []
    for i in range(len(xs)):
        g = gradients[i] if gradients else None
        if g is None or not g.requires_grad:  # a constant gradient
            rows.append([0.0] * len(xs))
        else:
            rows.append([h.data for h in grad(g, xs, allow_unused=True)])
    return rows


def _shifted(point: Sequence[float], i: int, delta: float) -> list[float]:
    moved = list(point)
    moved[i] += delta
    return moved


def _table(title: str, rows: Sequence[Mismatch], bad: set[int], headers: Sequence[str]) -> str:
    cells = [list(headers)]
    for k, r in enumerate(rows):
        line = [r.label, f"{r.point:.10g}", f"{r.analytic:.10g}", f"{r.numeric:.10g}"]
        line += [f"{r.abs_err:.3g}", f"{r.rel_err:.3g}", "<- mismatch" if k in bad else ""]
        cells.append(line)
    widths = [max(len(c[j]) for c in cells) for j in range(len(headers))]
    lines = [title]
    for c in cells:
        text = "  ".join(c[j].rjust(widths[j]) for j in range(len(headers)))
        lines.append((text + "  " + c[-1]).rstrip() if len(c) > len(headers) else text)
    return "\n".join(lines)


def _judge(
    where: str,
    what: str,
    rows: list[Mismatch],
    headers: Sequence[str],
    eps: float,
    atol: float,
    rtol: float,
    raise_exception: bool,
) -> bool:
    bad = {k for k, r in enumerate(rows) if not close(r.analytic, r.numeric, atol, rtol)}
    if not bad:
        return True
    if not raise_exception:
        return False
    title = (
        f"{where}: {len(bad)} of {len(rows)} {what} disagree with central differences\n"
        f"(eps={eps:g}, atol={atol:g}, rtol={rtol:g}; a row passes when "
        "|analytic - numeric| <= atol + rtol * |numeric|)\n"
    )
    raise GradcheckError(_table(title, rows, bad, headers), rows, [rows[k] for k in sorted(bad)])


def gradcheck(
    f: Function,
    inputs: Sequence[float | Value],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check `f`'s gradient against central differences at `inputs`.

    `f` takes one `Value` per number in `inputs` and returns a `Value`. Each
    partial derivative from `microgradx.grad` is compared with
    `(f(x + eps) - f(x - eps)) / (2 * eps)` in float64; it passes when
    `|analytic - numeric| <= atol + rtol * |numeric|` (nan matches nan, inf the same inf).
    Returns True; on a mismatch raises `GradcheckError` with a table of every
    partial, or returns False when `raise_exception=False`.

    Examples:
        >>> gradcheck(lambda x, y: x * y.sin(), [2.0, 0.5])
        True
    """
    where = "gradcheck"
    point = _points(inputs, where)
    _settings(where, eps, atol, rtol)
    analytic = _gradient(f, point, where)
    rows = []
    for i, x in enumerate(point):
        hi = _value_at(f, _shifted(point, i, eps), where)
        lo = _value_at(f, _shifted(point, i, -eps), where)
        rows.append(Mismatch(f"x{i}", x, analytic[i], (hi - lo) / (2 * eps)))
    headers = ("input", "value", "analytic", "numeric", "abs err", "rel err")
    return _judge(where, "partial derivatives", rows, headers, eps, atol, rtol, raise_exception)


def gradgradcheck(
    f: Function,
    inputs: Sequence[float | Value],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check `f`'s second derivatives against central differences of its gradient.

    The analytic Hessian comes from differentiating the gradient again
    (`grad(..., create_graph=True)`, then `grad` of each partial); the numeric one
    from `(grad f(x + eps e_j) - grad f(x - eps e_j)) / (2 * eps)`. Same tolerance rule,
    return value and `GradcheckError` as `gradcheck`; each row of the table
    is one entry `d2f/dxi dxj`.

    Examples:
        >>> gradgradcheck(lambda x, y: x * x * y.exp(), [1.5, -0.5])
        True
    """
    where = "gradgradcheck"
    point = _points(inputs, where)
    _settings(where, eps, atol, rtol)
    analytic = _hessian(f, point, where)
    n = len(point)
    numeric = [[0.0] * n for _ in range(n)]
    for j in range(n):
        hi = _gradient(f, _shifted(point, j, eps), where)
        lo = _gradient(f, _shifted(point, j, -eps), where)
        for i in range(n):
            numeric[i][j] = (hi[i] - lo[i]) / (2 * eps)
    rows = [
        Mismatch(f"d2f/dx{i}dx{j}", point[j], analytic[i][j], numeric[i][j])
        for i in range(n)
        for j in range(n)
    ]
    headers = ("entry", "at x_j", "analytic", "numeric", "abs err", "rel err")
    return _judge(where, "second derivatives", rows, headers, eps, atol, rtol, raise_exception)
