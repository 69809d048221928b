"""Differential test of `compile`: random programs with Python control flow, against eager.

Hypothesis writes random functions of `x`, `y` and a parameter `w`, one statement a line,
mixing the table's ops with what a trace has to watch: `if x > y`, `max`, `min`,
`sorted`, `abs()`, `x.data` in a condition, `bool(x)`, a loop whose count depends on a
value, a nested `grad(..., create_graph=True)`. Some programs also hold one statement
compile cannot replay (`float(x)`, arithmetic on `x.data`, `no_grad()`, ...). Each program
is compiled on one random input and then compared with the eager engine on many others,
special values included (0, -0.0, inf, nan, 1e300): every value and gradient must be the
same float, the sign of zero included, or `compile` must have refused the program with
the line of that statement.
"""

from __future__ import annotations

import linecache
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compile_guards import bits, eager, flat

from microgradx import Value, compile, grad, no_grad
from microgradx.compile import TraceError

inf, nan = math.inf, math.nan
FILENAME = "<differential program>"

OPS = [
    "{out} = {a} + {b}", "{out} = {a} - {b}", "{out} = {a} * {b}", "{out} = {a} / {b}",
    "{out} = {a} ** 2", "{out} = {a} ** {b}", "{out} = 2.0 ** {a}", "{out} = {a}.exp()",
    "{out} = {a}.log()", "{out} = {a}.sqrt()", "{out} = {a}.tanh()", "{out} = {a}.sigmoid()",
    "{out} = {a}.relu()", "{out} = {a}.sin()", "{out} = {a}.cos()", "{out} = abs({a})",
    "{out} = -{a}", "{out} = {a}.sign() * {b}", "{out} = 1.5 - {a}", "{out} = {a} * 0.0",
]  # fmt: skip
FLOW = [
    ("if {a} > {b}:", "    {out} = {a} * {b}", "else:", "    {out} = {a} - {b}"),
    ("{out} = max({a}, {b})",),
    ("{out} = min({a}, {b}, {c})",),
    ("{out} = sorted([{a}, {b}, {c}])[1]",),
    ("{out} = abs({a}) if abs({a}) < abs({b}) else -{b}",),
    ("{out} = {a} * 2.0 if {a}.data > {k} else {b} - 1.0",),
    ("{out} = {a} if {a}.data <= {b}.data else {b}.tanh()",),
    ("{out} = {a} * {b} if {a}.data == {a}.data else {b}",),  # False at nan
    ("{out} = {a}.relu() if {a} else {b}.exp()",),  # bool: the truth of the data
    (
        "{out} = {a}",
        "n = 0",
        "while {out} > 1.0 and n < 4:",
        "    {out} = {out} * 0.5 + {b} * 0.125",
        "    n += 1",
    ),
]
GRADIENTS = [  # the rules' branches on Values: relu's, pow's for x and for y, abs's
    ("({out},) = grad(({a} * {b}).relu(), [{a}], create_graph=True)",),
    ("({out},) = grad({a} ** {b}, [{a}], create_graph=True)",),
    ("({out},) = grad({b} ** {a}, [{a}], create_graph=True)",),
    ("({out},) = grad(abs({a}) * {b} + {a}.relu() * {a}, [{a}], create_graph=True)",),
    ("({out},) = grad(({a} - {b}).relu() ** 2, [{b}], create_graph=True)",),
]
REFUSED = [  # (lines, which of them is refused)
    (("{out} = {a} * float({b})",), 0),
    (("{out} = {a} * math.exp({b})",), 0),
    (("{out} = {a} * math.floor({b})",), 0),
    (("{out} = {a} + {b}.data * 2.0",), 0),
    (("{out} = {a} * abs({b}.data)",), 0),
    (("{out} = Value({a}.data) * {b}",), 0),
    (("{out} = {a} if math.isnan({b}.data) else {b}",), 0),
    (("with no_grad():", "    {out} = {a} * 2.0"), 1),
    (("{out} = {a} * 1.0", "{a}.data = 0.5"), 1),
    (("({out},) = grad({a} * {b}, [{a}])",), 0),
    (("{out} = {a} * {b}", "{out}.backward()"), 1),
]
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e300, -1e300, 5e-324, inf, -inf, nan]
number = st.one_of(st.sampled_from(SPECIAL), st.floats(-4, 4))
point = st.tuples(number, number)


@dataclass
class Program:
    source: str
    refused_line: int | None  # the line compile must name, if it must refuse
    kinds: frozenset[str]


@st.composite
def programs(draw: st.DrawFn) -> Program:
    names = ["x", "y", "w"]
    lines = ["def f(x, y):"]
    kinds: set[str] = set()
    refused_line = None
    n = draw(st.integers(2, 6))
    refuse_at = draw(st.one_of(st.none(), st.integers(0, n - 1), st.none(), st.none()))
    for i in range(n):
        if i == refuse_at:
            template, which = draw(st.sampled_from(REFUSED))
            refused_line = len(lines) + 1 + which
            kinds.add("refused")
        else:
            kind = draw(st.sampled_from(["op", "op", "flow", "flow", "grad"]))
            kinds.add(kind)
            pool = {"op": [(t,) for t in OPS], "flow": FLOW, "grad": GRADIENTS}[kind]
            template = draw(st.sampled_from(pool))
        a, b, c = (draw(st.sampled_from(names)) for _ in range(3))
        k = draw(st.sampled_from([-1.0, 0.0, 0.5, 2.0]))
        out = f"v{i}"
        lines += [f"    {t.format(out=out, a=a, b=b, c=c, k=k)}" for t in template]
        names.append(out)
    lines.append(f"    return {names[-1]} + {names[-2]} * 0.5")
    return Program("\n".join(lines) + "\n", refused_line, frozenset(kinds))


def load(program: Program, w: Value) -> Any:
    """The program as a function with real line numbers (tracebacks and errors show them)."""
    lines = program.source.splitlines(keepends=True)
    linecache.cache[FILENAME] = (len(program.source), None, lines, FILENAME)
    namespace: dict[str, Any] = {"Value": Value, "grad": grad, "no_grad": no_grad}
    namespace.update(math=math, w=w)
    exec(__builtins__["compile"](program.source, FILENAME, "exec"), namespace)  # type: ignore[index]
    return namespace["f"]


def summed(terms: list[float], got: float) -> bool:
    """`got` is the sum of `terms` up to rounding (the batch adds them in another order)."""
    want = math.fsum(terms) if all(map(math.isfinite, terms)) else sum(terms)
    if not math.isfinite(want) or not math.isfinite(got):
        return bits(got, want) or (math.isnan(got) and math.isnan(want))
    return abs(got - want) <= 1e-12 * sum(map(abs, terms)) + 1e-300


STATS: Counter[str] = Counter()


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs(), point, st.lists(point, min_size=8, max_size=8), number)
def check_program(program: Program, traced_at: tuple[float, float], others, w0: float) -> None:
    w = Value(w0)
    f = load(program, w)
    STATS["programs"] += 1
    try:
        c = compile(f, *traced_at)
    except TraceError as e:
        assert program.refused_line is not None, (program.source, e)
        assert (e.filename, e.lineno) == (FILENAME, program.refused_line), (program.source, e)
        assert f"{FILENAME}:{program.refused_line} (`" in str(e)
        STATS["refused"] += 1
        return
    assert program.refused_line is None, program.source
    inputs = [traced_at, *others, *((a, b) for a in SPECIAL[::3] for b in SPECIAL[1::3])]
    per_example = []
    for x, y in inputs:
        want = flat(eager(f, c.params, x, y))
        value, dp, da = c.value_and_grad(x, y)
        got = [value, *dp, *da]
        assert all(map(bits, got, want)), (program.source, x, y, got, want)
        assert bits(c(x, y), want[0])
        per_example.append(want)
        STATS["compared"] += 1
    for q in c.params:
        q.grad = 0.0
    total = c.backward_batch([x for x, _ in inputs], [y for _, y in inputs], reduction="sum")
    assert summed([e[0] for e in per_example], total), program.source
    for i, q in enumerate(c.params):
        assert summed([e[1 + i] for e in per_example], q.grad), (program.source, i)
    if not c.guards:
        assert c.fallbacks == 0  # no guard, nothing to fall back from
    STATS["fell back"] += c.fallbacks > 0
    STATS["guarded"] += bool(c.guards)
    STATS.update(kind for kind in program.kinds if kind != "refused")


def test_compiled_random_programs_equal_eager_or_are_refused_with_their_line() -> None:
    STATS.clear()
    check_program()
    # the cases covered every kind of statement, guards that failed, and refusals
    assert STATS["programs"] == 400 and STATS["compared"] > 5000
    assert min(STATS[k] for k in ("refused", "fell back", "guarded", "flow", "grad")) >= 30
    print(dict(STATS))
