"""Gradient-check tools: finite-difference checks, Hypothesis strategies, other engines.

* `gradcheck` / `gradgradcheck`: analytic first / second derivatives of a
  function of scalars against central differences; a mismatch raises
  `GradcheckError` with a readable table.
* `check_op`: a property test of one primitive (e.g. your own, made with
  `microgradx.defprim`) at random points away from its kinks, in one line.
* `microgradx.testing.strategies`: Hypothesis strategies (points off kinks, Values,
  random expression graphs).
* `microgradx.testing.oracles`: the same generated graph evaluated by HIPS autograd
  or PyTorch, compared value by value and gradient by gradient.
* `check_engine(Value)`: grade someone else's micrograd-style `Value` class against
  microgradx (each op, re-used nodes, random graphs, depth, a second backward); it returns
  an `EngineReport` (see `microgradx.testing.grading`).

The strategies, `check_op` and `check_engine` need Hypothesis
(`pip install "microgradx[test]"`); `gradcheck` needs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..engine import Value
from ._check import GradcheckError, Mismatch, close, gradcheck, gradgradcheck
from .accuracy import Accuracy, accuracy
from .grading import EngineReport, check_engine

if TYPE_CHECKING:
    from ..primitive import Primitive
    from .strategies import Domain

#: the incoming gradient `check_op` also tries (a rule must multiply by `g`)
WEIGHT = -2.5

__all__ = [
    "WEIGHT",
    "Accuracy",
    "EngineReport",
    "GradcheckError",
    "Mismatch",
    "accuracy",
    "check_engine",
    "check_op",
    "close",
    "gradcheck",
    "gradgradcheck",
]


def check_op(
    op: Primitive | str,
    *,
    low: float = -10.0,
    high: float = 10.0,
    kinks: Iterable[float] = (),
    domains: Sequence[Domain] | None = None,
    margin: float = 1e-3,
    order: int = 1,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_examples: int | None = None,
) -> None:
    """Property-test a primitive's derivative rules against central differences.

    Runs Hypothesis: at random points in `[low, high]` (per argument), at least
    `margin` away from `kinks` and inside the op's registered domain (`domains`
    overrides it: one `microgradx.testing.strategies.Domain` per argument), it
    calls `gradcheck` (and `gradgradcheck` when `order=2`) on the op, and
    on the op times `WEIGHT` (so a rule must use its incoming gradient `g`). On a
    failure Hypothesis shrinks the point and `GradcheckError` is raised for the
    simplest failing point it found, which the message names. `max_examples` defaults
    to the current Hypothesis profile's. Call it inside a test function::

        def test_my_op():
            check_op(my_op, kinks=[0.0])
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from . import strategies

    prim = strategies._primitive(op)
    if order not in (1, 2):
        raise ValueError(
            f"order must be 1 (gradient) or 2 (also second derivatives), got {order!r}"
        )
    if domains is None:
        domains = strategies.domains_of(prim)
    if len(domains) != prim.arity:
        raise ValueError(f"{prim.name} takes {prim.arity} argument(s): give that many domains")
    extra = [strategies._finite("kink", k) for k in kinks]
    points = []
    for d in domains:
        lo = max(strategies._finite("low", low), d.low + margin)
        hi = min(strategies._finite("high", high), d.high - margin)
        inner = [x for x in (d.low, d.high) if math.isfinite(x)]
        points.append(strategies.floats_away_from([*d.kinks, *extra, *inner], lo, hi, margin))
    if max_examples is None:
        max_examples = settings().max_examples  # the current profile's

    def apply(*xs: Value) -> Value:
        out: Value = prim(*xs)
        return out

    def weighted(*xs: Value) -> Value:
        # an incoming gradient other than 1 catches a rule that ignores or misuses g
        out: Value = prim(*xs) * WEIGHT
        return out

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(st.tuples(*points))
    def property_test(point: tuple[float, ...]) -> None:
        at = ", ".join(f"x{i} = {x!r}" for i, x in enumerate(point))
        for f, what in ((apply, f"{prim.name}(...)"), (weighted, f"{prim.name}(...) * {WEIGHT}")):
            try:
                gradcheck(f, point, eps, atol, rtol)
                if order == 2:
                    gradgradcheck(f, point, eps, atol, rtol)
            except GradcheckError as e:
                raise GradcheckError(
                    f"check_op({prim.name}) failed for {what} at {at}\n{e}", e.rows, e.mismatches
                ) from None

    property_test()
