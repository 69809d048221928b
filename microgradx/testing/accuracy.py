"""How accurate is float64? A function's value and gradient against a high-precision
reference computed by the same engine on mpmath numbers.

`accuracy(f, inputs)` evaluates `f` and its gradient twice: on float Values, and on
`mpmath.mpf` Values at `dps` significant digits (the same graph, the same rules, at high
precision). The reference is rounded to the nearest float64, and each float64 number's
error is given in ULPs (units in the last place of the reference): 0 means float64 got
the correctly rounded answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checks import to_count, to_float
from ..engine import Value, grad

__all__ = ["Accuracy", "AccuracyRow", "accuracy", "ulps"]


def ulps(got: float, reference: float) -> float:
    """The distance from `got` to `reference` in units of the last place of `reference`
    (0 if equal; both nan is 0; inf if one is nan or an infinity and the other is not)."""
    if math.isnan(got) or math.isnan(reference):
        return 0.0 if math.isnan(got) and math.isnan(reference) else math.inf
    if got == reference:
        return 0.0
    if math.isinf(got) or math.isinf(reference):
        return math.inf
    return abs(got - reference) / math.ulp(reference)


@dataclass(frozen=True)
class AccuracyRow:
    """One number of the report: `what` (`"value"`, or `"d/dx0"` ...), its float64 result,
    the high-precision reference rounded to float64, and the error in ULPs; `oracles`
    holds other engines' float64 results (`"torch"`) and their errors."""

    what: str
    float64: float
    reference: float
    ulps: float
    exact: str  # the reference with its digits
    oracles: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Accuracy:
    """The report of `accuracy`: one row for the value, one per input's gradient."""

    inputs: tuple[float, ...]
    dps: int
    rows: tuple[AccuracyRow, ...]

    @property
    def worst(self) -> float:
        """The largest error of microgradx's float64 numbers, in ULPs."""
        return max(r.ulps for r in self.rows)

    def row(self, what: str) -> AccuracyRow:
        """The row of `"value"` or of `"d/dx0"`, `"d/dx1"`, ..."""
        for r in self.rows:
            if r.what == what:
                return r
        raise KeyError(f"no row {what!r}; the rows are {', '.join(r.what for r in self.rows)}")

    def __str__(self) -> str:
        names = sorted({name for r in self.rows for name in r.oracles})
        head = ["", "float64", f"reference ({self.dps} digits, rounded)", "ULPs"]
        for name in names:
            head += [name, f"{name} ULPs"]
        table = [head]
        for r in self.rows:
            line = [r.what, repr(r.float64), repr(r.reference), _ulps(r.ulps)]
            for name in names:
                value, error = r.oracles.get(name, (math.nan, math.nan))
                line += [repr(value), _ulps(error)]
            table.append(line)
        widths = [max(len(line[i]) for line in table) for i in range(len(head))]
        text = []
        for line in table:
            cells = zip(line, widths, strict=True)
            padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells))
            text.append("  ".join(padded))
        where = ", ".join(f"x{i} = {x!r}" for i, x in enumerate(self.inputs))
        return f"accuracy at {where}\n" + "\n".join(t.rstrip() for t in text)


def _ulps(e: float) -> str:
    return "inf" if math.isinf(e) else f"{e:.3g}"


def _evaluate(f: Callable[..., Any], xs: list[Value]) -> list[Any]:
    out = f(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"accuracy(): f must return a Value, got {type(out).__name__}")
    gs = grad(out, xs, allow_unused=True) if out.requires_grad else [Value(0.0) for _ in xs]
    return [out.data, *(g.data for g in gs)]


def _torch(f: Callable[..., Any], point: list[float]) -> list[float]:
    import torch

    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    out = f(*ts)
    gs = torch.autograd.grad(out, ts, allow_unused=True)
    return [out.item(), *(0.0 if g is None else g.item() for g in gs)]


def accuracy(
    f: Callable[..., Value],
    inputs: float | Sequence[float],
    dps: int = 50,
    oracles: Sequence[str] = (),
) -> Accuracy:
    """The float64 value and gradient of `f` at `inputs`, against a `dps`-digit reference.

    `f` takes Values (one per input) and returns a Value, using the engine's ops (it is
    called with float Values, then with mpmath Values). `oracles=("torch",)` adds
    PyTorch's float64 numbers (`f` is then also called on float64 tensors, so write it
    with methods both know, such as `x.tanh()`). Needs mpmath (the `exact` extra).

    Examples:
        >>> report = accuracy(lambda x: x.tanh(), [20.0])
        >>> report.row("d/dx0").float64, report.row("d/dx0").reference
        (0.0, 1.6993417021166355e-17)
    """
    if not callable(f):
        raise TypeError(f"accuracy(): expected a function of Values, got {type(f).__name__}")
    point = (
        [to_float(inputs, "accuracy(): inputs")]
        if isinstance(inputs, (int, float))
        else [to_float(x, f"accuracy(): inputs[{i}]") for i, x in enumerate(inputs)]
    )
    to_count(dps, "accuracy(): dps", minimum=17)
    unknown = sorted(set(oracles) - {"torch"})
    if unknown:
        raise ValueError(f"accuracy(): unknown oracle(s) {unknown}; the known one is 'torch'")
    try:
        import mpmath
    except ImportError:
        raise ImportError('accuracy() needs mpmath: pip install "microgradx[exact]"') from None
    ours = _evaluate(f, [Value(x) for x in point])
    with mpmath.workdps(dps):
        high = _evaluate(f, [Value(mpmath.mpf(x)) for x in point])
        digits = [mpmath.nstr(h, dps) for h in high]
        reference = [float(h) for h in high]
    others = {name: _torch(f, point) for name in oracles}
    rows = []
    for k, what in enumerate(["value", *(f"d/dx{i}" for i in range(len(point)))]):
        rows.append(
            AccuracyRow(
                what,
                float(ours[k]),
                reference[k],
                ulps(float(ours[k]), reference[k]),
                digits[k],
                {n: (v[k], ulps(v[k], reference[k])) for n, v in others.items()},
            )
        )
    return Accuracy(tuple(point), dps, tuple(rows))
