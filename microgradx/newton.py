"""Newton's method for stationary points: where the derivative is 0, and what kind.

Each step solves `f''(x) dx = -f'(x)` with the exact first and second derivatives
(`grad` twice), so from a good start it converges in a few steps; the curvature at the
end tells a minimum from a maximum or a saddle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .checks import to_float
from .engine import Value
from .transforms import Fn, as_list, check_function, grads, output_of, recording

__all__ = ["NewtonResult", "newton"]


@dataclass
class NewtonResult:
    """Where `newton` stopped: the point, the value, slope and curvature there.

    `x`, `gradient` and `hessian` are floats for a one-argument function and lists
    (a list of rows for the Hessian) for several arguments.
    """

    x: Any
    value: float
    gradient: Any
    hessian: Any
    iterations: int
    converged: bool

    @property
    def kind(self) -> str:
        """`"minimum"`, `"maximum"`, `"saddle"` or `"inconclusive"` (by curvature)."""
        h = self.hessian if isinstance(self.hessian, list) else [[self.hessian]]
        if _cholesky_ok(h):
            return "minimum"
        if _cholesky_ok([[-e for e in row] for row in h]):
            return "maximum"
        if _solve(h, [0.0] * len(h)) is not None:
            return "saddle"
        return "inconclusive"


def _cholesky_ok(a: list[list[float]]) -> bool:
    """Whether `a` is positive definite (a Cholesky factor exists)."""
    n = len(a)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if not s > 0.0:
                    return False
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    return True


def _solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """`a x = b` by Gaussian elimination with partial pivoting; `None` if singular."""
    n = len(a)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    scale = max((abs(e) for row in a for e in row), default=0.0)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if not abs(m[pivot][col]) > 1e-14 * scale:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            factor = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= factor * m[col][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


@recording
def newton(f: Fn, x0: Any, tol: float = 1e-12, max_iter: int = 100) -> NewtonResult:
    """Find a stationary point of `f` (where f' = 0) by Newton's method on f'.

    Each step solves `f''(x) dx = -f'(x)` (the Hessian for several arguments) and
    moves to `x + dx`; it stops when the step is below `tol` (relative to `x`)
    or after `max_iter` steps. Which stationary point it finds depends on `x0`;
    `result.kind` tells a minimum from a maximum by the sign of the curvature.

    Examples:
        >>> r = newton(lambda x: x**3 - 5 * x**2 + 7 * x - 1, 0.0)
        >>> round(r.x, 12), r.hessian, r.kind
        (1.0, -4.0, 'maximum')
    """
    check_function(f, "newton()")
    items, single = as_list(x0, "newton()", "x0")
    x = [to_float(v.data if isinstance(v, Value) else v, "newton()") for v in items]
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"newton(): tol must be a positive number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"newton(): max_iter must be an int >= 0, got {max_iter!r}")

    def local(point: list[float]) -> tuple[float, list[float], list[list[float]]]:
        values = [Value(p) for p in point]
        y = output_of(f(*values), "newton()")
        gs = grads(y, values, create_graph=True)
        rows = [[h.data for h in grads(g, values, create_graph=False)] for g in gs]
        return y.data, [g.data for g in gs], rows

    value, g, h = local(x)
    converged, iterations = False, 0
    while iterations < max_iter:
        step = _solve(h, [-e for e in g])
        if step is None or not all(math.isfinite(s) for s in step):
            break
        x = [xi + si for xi, si in zip(x, step, strict=True)]
        iterations += 1
        value, g, h = local(x)
        if all(abs(s) <= tol * max(1.0, abs(xi)) for s, xi in zip(step, x, strict=True)):
            converged = True
            break
    if single:
        return NewtonResult(x[0], value, g[0], h[0][0], iterations, converged)
    return NewtonResult(x, value, g, h, iterations, converged)
