"""The batch loop's early exit: an example whose adjoint past the output is 0 skips its
backward pass, and the sums stay those of the loop without the exit, to the last bit."""

from __future__ import annotations

import ast
import math
import random
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from microgradx import Value, compile, grad
from microgradx.codegen import modules, straight
from microgradx.compile import Compiled, _namespace
from microgradx.engine import topological
from microgradx.nn import MLP
from microgradx.ops import TABLE

inf, nan = math.inf, math.nan
Batch = tuple[float, list[float], list[Any]]


def moons_hinge(seed: int = 1337) -> tuple[MLP, Compiled]:
    random.seed(seed)
    model = MLP(2, [16, 16, 1])
    hinge = compile(lambda x, yi: (1 + -yi * model(x)).relu(), [0.5, -0.25], 1)
    return model, hinge


def loops(c: Compiled, mode: str) -> tuple[Callable[..., Batch], Callable[..., Batch]]:
    """`backward_batch_<mode>` as compile writes it, and written without the exit."""
    source = straight.functions_source(c._traced, c._structure, c._title, mode, False)  # type: ignore[arg-type]
    plain = modules.load(source, f"<no exit {id(c):x} {mode}>", _namespace())
    return c._generated(mode)[f"backward_batch_{mode}"], plain[f"backward_batch_{mode}"]


def words(xs: Sequence[float]) -> list[bytes]:
    """The bits of each float (every nan written as the one quiet nan)."""
    return [struct.pack("<d", nan if math.isnan(x) else x) for x in xs]


def moons_points(n: int, rng: random.Random) -> tuple[list[list[float]], list[int]]:
    xs = [[rng.uniform(-1.5, 2.5), rng.uniform(-1.0, 1.5)] for _ in range(n)]
    return xs, [1 if x[1] < 0.5 - 0.5 * x[0] else -1 for x in xs]


def train(model: MLP, hinge: Compiled, xs: list[list[float]], y: list[int], steps: int) -> None:
    for k in range(steps):
        model.zero_grad()
        hinge.backward_batch(xs, y)
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad


def test_the_generated_loop_exits_on_the_adjoint_past_the_output() -> None:
    _, hinge = moons_hinge()
    for source in (hinge.source, hinge.safe_source):
        loop = source[source.index("def backward_batch_") :].splitlines()
        at = next(i for i, line in enumerate(loop) if line.strip().startswith("total +="))
        # relu's rule gives the adjoint of its input; then the test and the exit
        assert loop[at + 1].strip() == "dv642 = 0.0 if v643 <= 0.0 else weight"
        test = loop[at + 3].strip()
        assert test.startswith("if dv642 == 0.0 and params_finite and _isfinite(a0 + a1 + v0 + ")
        assert loop[at + 4].strip() == "continue"
        assert any(line.strip().startswith("params_finite = _isfinite(p1 + p3") for line in loop)
    # without it, the adjoint is written into its one use, as before
    source = straight.functions_source(hinge._traced, hinge._structure, "t", "fast", False)
    assert "continue" not in source and "params_finite" not in source
    assert "dv640 = (0.0 if v643 <= 0.0 else weight) * v0" in source


SPECIALS = [0.0, -0.0, inf, -inf, nan, 1e300, -1e300, 5e-324, -5e-324]


@pytest.mark.parametrize("mode", ["fast", "safe"])
@pytest.mark.parametrize("steps", [0, 16, 40])
def test_bit_identical_sums_with_and_without_the_exit(mode: str, steps: int) -> None:
    model, hinge = moons_hinge()
    rng = random.Random(steps)
    xs, y = moons_points(100, rng)
    train(model, hinge, xs, y, steps)
    with_exit, without = loops(hinge, mode)
    p = [q.data for q in hinge.params]
    # ordinary points, then every special value in each coordinate (with either label)
    batch_x = [list(x) for x in xs] + [[s, 0.5] for s in SPECIALS] + [[0.5, s] for s in SPECIALS]
    batch_y = y + [1, -1] * len(SPECIALS)
    batches = [(batch_x, batch_y), (xs, y), (batch_x[100:], batch_y[100:])]
    batches += [([x], [yi]) for x, yi in zip(batch_x[95:], batch_y[95:], strict=True)]
    skipped = 0
    for bx, by in batches:
        for weight in (1.0 / len(bx), 1.0, -0.0):
            a = with_exit(p, [bx, by], weight)
            b = without(p, [bx, by], weight)
            assert words([a[0], *a[1]]) == words([b[0], *b[1]]) and a[2] == b[2] == []
        skipped += sum(1 for x, yi in zip(bx, by, strict=True) if hinge(x, yi) == 0.0)
    assert skipped > 0  # there are examples to skip at every point of training


@pytest.mark.parametrize("mode", ["fast", "safe"])
def test_bit_identical_with_infinite_or_nan_parameters(mode: str) -> None:
    model, hinge = moons_hinge()
    xs, y = moons_points(40, random.Random(5))
    train(model, hinge, xs, y, 20)
    with_exit, without = loops(hinge, mode)
    for k, bad in ((1, inf), (70, -inf), (330, nan), (3, 1e300)):
        p = [q.data for q in hinge.params]
        p[k] = bad
        a, b = with_exit(p, [xs, y], 0.025), without(p, [xs, y], 0.025)
        assert words([a[0], *a[1]]) == words([b[0], *b[1]])


def test_a_nan_upstream_of_a_zero_adjoint_arrives_as_in_eager() -> None:
    """A well-classified point with an infinite hidden unit (an infinite weight in the
    second layer): 0 * inf = nan in the gradients of the weights that meet it, as eager's."""
    model, hinge = moons_hinge()
    xs, y = moons_points(40, random.Random(3))
    found = 0
    for neuron in model.layers[1].neurons[:4]:
        for bad in (inf, -inf):
            keep = neuron.w[0].data
            neuron.w[0].data = bad
            for x, yi in zip(xs, y, strict=True):
                if hinge(x, yi) != 0.0:
                    continue
                args = [Value(v) for v in x]
                out = (1 + -yi * model(args)).relu()
                expected = [g.data for g in grad(out, list(hinge.params), allow_unused=True)]
                model.zero_grad()
                hinge.backward_batch([x], [yi], reduction="sum")
                got = [float(q.grad) for q in hinge.params]
                # eager's numbers; a zero may be 0.0 where eager's is -0.0 (see compile)
                assert [abs(g) for g in got] == pytest.approx(
                    [abs(e) for e in expected], nan_ok=True
                )
                found += any(math.isnan(e) for e in expected)
            neuron.w[0].data = keep
    assert found > 0


def lines_run(fn: Callable[..., Any], *args: Any) -> int:
    """How many lines of `fn`'s own code run for the call."""
    count = 0
    code = fn.__code__

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if frame.f_code is code:
            if event == "line":
                count += 1
            return tracer
        return None

    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return count


def test_an_example_with_zero_adjoint_skips_its_backward_pass() -> None:
    model, hinge = moons_hinge()
    xs, y = moons_points(60, random.Random(2))
    train(model, hinge, xs, y, 30)
    inactive = [(x, yi) for x, yi in zip(xs, y, strict=True) if hinge(x, yi) == 0.0]
    active = [(x, yi) for x, yi in zip(xs, y, strict=True) if hinge(x, yi) > 0.0]
    assert inactive and active
    with_exit, without = loops(hinge, "fast")
    p = [q.data for q in hinge.params]

    def per_example(fn: Callable[..., Batch], pair: tuple[list[float], int]) -> int:
        """Lines run for one more example like `pair` (the setup lines cancel out)."""
        counts = [lines_run(fn, p, [[pair[0]] * n, [pair[1]] * n], 1.0) for n in (1, 2)]
        return counts[1] - counts[0]

    # an inactive example runs its forward lines and the test, not its backward lines
    loop = hinge.source[hinge.source.index("def backward_batch_fast") :].splitlines()
    start = next(i for i, line in enumerate(loop) if line.startswith("    for "))
    end = next(i for i, line in enumerate(loop) if line.strip() == "continue")
    through_exit = [line for line in loop[start : end + 1] if not line.strip().startswith("#")]
    assert per_example(with_exit, inactive[0]) == len(through_exit)
    assert per_example(without, inactive[0]) > len(through_exit) + 50
    # an active one runs them all, and two more: the adjoint written on its own line, the test
    assert per_example(with_exit, active[0]) == per_example(without, active[0]) + 2

    # so does an inactive example with an infinite input
    def infinite_inside(x: list[float], yi: int) -> bool:
        out = (1 + -yi * model([Value(v) for v in x])).relu()
        return out.data == 0.0 and not all(math.isfinite(v.data) for v in topological([out]))

    big = (1e308, -1e308, 1e300, -1e300, 0.5)
    bad = next(
        ([a, b], yi) for a in big for b in big for yi in (1, -1) if infinite_inside([a, b], yi)
    )
    assert hinge(*bad) == 0.0  # the relu is off, past an infinity
    assert per_example(with_exit, bad) == per_example(without, bad) + 2


def test_no_exit_past_a_rule_that_is_infinite_at_a_finite_value() -> None:
    """`sqrt(w)` at w = 0 is 0, but its rule `g / (2 * out)` is 0 / 0 = nan there: eager's
    gradient is nan even though the relu is off, so the loop must not skip the example."""
    w = Value(0.0)
    c = compile(lambda x: (x * w.sqrt() - 1.0).relu(), 2.0)
    loop = c.source[c.source.index("def backward_batch") :]
    assert "continue" not in loop
    c.backward_batch([2.0, 3.0], reduction="sum")
    assert math.isnan(w.grad)
    w2 = Value(0.0)
    out = (Value(2.0) * w2.sqrt() - 1.0).relu()
    out.backward()
    assert math.isnan(w2.grad)


def test_no_exit_when_an_input_of_the_output_is_a_parameter() -> None:
    w = Value(-1.0)
    c = compile(lambda x: w * x, 0.5)
    assert "continue" not in c.source
    assert c.backward_batch([0.5, 2.0], reduction="sum") == -2.5 and w.grad == 2.5


def test_which_rules_keep_a_zero_adjoint_zero() -> None:
    keeps = {}
    for row in TABLE:
        trees = [ast.parse(r, mode="eval").body for r in row.rules]
        keeps[row.name] = [straight._zero_keeping(t) for t in trees]
    assert {k for k, v in keeps.items() if all(r is not None for r in v)} == {
        "add", "mul", "relu", "sub", "neg", "exp", "sin", "cos", "sign", "abs"
    }  # fmt: skip
    assert keeps["mul"] == [{"y"}, {"x"}] and keeps["relu"] == [set()]
    assert keeps["exp"] == [{"out"}] and keeps["abs"] == [{"x"}] and keeps["cos"] == [{"x"}]
    # infinite at a finite point (division, log, sqrt, pow), or a product that may overflow
    for name in ("div", "log", "sqrt", "pow", "tanh", "sigmoid"):
        assert None in keeps[name]
