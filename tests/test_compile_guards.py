"""`compile` never gives a silently wrong number: every decision is guarded or refused.

The issue's cases (the library's losses, gradient penalties, rules that ignore `g`), each
kind of guard and of refusal, the signed zeros of the gradients, and the isolation of a
trace from other threads.
"""

from __future__ import annotations

import doctest
import inspect
import math
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from microgradx import Value, compile, grad, no_grad, tracing
from microgradx.compile import TraceError
from microgradx.engine import constant
from microgradx.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    l2_penalty,
    log_softmax,
    mse,
    softmax,
)
from microgradx.nn import MLP

inf, nan = math.inf, math.nan
Result = tuple[float, list[float], list[float]]


def bits(a: float, b: float) -> bool:
    """The same float: nan equals nan, and zeros keep their sign."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def flat(r: Result) -> list[float]:
    return [r[0], *r[1], *r[2]]


def eager(fn: Callable[..., Value], params: tuple[Value, ...], *args: Any) -> Result:
    """What the eager engine gives: the value and `grad(..., allow_unused=True)`."""
    xs = [[Value(a) for a in x] if isinstance(x, list) else Value(x) for x in args]
    leaves = [v for x in xs for v in (x if isinstance(x, list) else [x])]
    out = fn(*xs)
    gs = grad(out, [*params, *leaves], allow_unused=True)
    d = [g.data for g in gs]
    return out.data, d[: len(params)], d[len(params) :]


def line_of(fn: Callable[..., Any], text: str) -> int:
    """The line number of the line of `fn` that contains `text`."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


# -- the cases ------------------------------------------------------------------


def test_hinge_with_the_label_as_an_argument():
    w = Value(0.5)
    c = compile(lambda x, label: hinge(w * x, label), 1.0, 1.0)
    value, (dw,), _ = c.value_and_grad(1.0, -1.0)
    assert (value, dw) == (1.5, 1.0)  # eager and PyTorch; the trace's +1 gave 0.5 and -1
    for x in (-3.0, 0.0, 0.5, 2.0, 1e300, -1e300, inf, nan):
        for label in (-1.0, 1.0):
            assert (
                list(
                    map(
                        bits,
                        flat(c.value_and_grad(x, label)),
                        flat(eager(lambda a, b: hinge(w * a, b), c.params, x, label)),
                    )
                )
                == [True] * 4
            )
    assert c.fallbacks == 0
    with pytest.raises(ValueError, match=r"labels must be -1 or \+1, got 0.0"):
        c(1.0, 0.0)  # the guard fails, the eager engine raises as it does without compile
    assert c.fallbacks == 1


def test_cross_entropy_and_bce_keep_no_shift_or_branch_of_the_trace():
    ce = compile(lambda a, b: cross_entropy([a, b], 0), 0.0, 0.0)
    assert ce(1000.0, 0.0) == 0.0  # the trace's shift gave inf
    want = cross_entropy([Value(30.0), Value(0.0)], 0).data
    assert ce(30.0, 0.0) == want  # 1% off before
    bce = compile(lambda z: binary_cross_entropy_with_logits(z, 1.0), 1.0)
    assert bce.value_and_grad(-800.0) == (800.0, [], [-1.0])  # inf before
    assert ce.fallbacks == bce.fallbacks == 0


def test_a_gradient_penalty_keeps_no_branch_of_relu_or_pow_rules():
    def penalty(x: Value) -> Value:
        (d,) = grad(x.relu() * 2.0, [x], create_graph=True)
        return d * d

    c = compile(penalty, 1.0)
    assert c(-1.0) == 0.0  # eager: relu is off (the trace's branch gave 4.0)
    assert c(3.0) == 4.0

    def dpow(x: Value, w: Value) -> Value:
        (d,) = grad(x**w, [x], create_graph=True)
        return d

    c = compile(dpow, 2.0, 0.0)
    assert c(2.0, 3.0) == 12.0  # 3 * 2**2 (traced at w = 0, the rule's branch gave 0)
    assert c(2.0, 0.0) == 0.0
    assert c.fallbacks == 1


def test_a_rule_that_ignores_g_passes_on_nan_and_inf():
    f = lambda x: x.sqrt().sign()  # noqa: E731
    c = compile(f, 1.0)
    _, _, (d,) = c.value_and_grad(0.0)
    assert math.isnan(d)  # sign's 0.0 times sqrt's inf at 0, as eager and PyTorch
    for x in (0.0, -1.0, 4.0, inf, nan):
        assert list(map(bits, flat(c.value_and_grad(x)), flat(eager(f, (), x)))) == [True] * 2
    w = Value(0.0)
    c = compile(lambda x: (w * x).sqrt().sign() + x, 1.0)
    w.grad = 0.0
    c.backward_batch([1.0, 2.0], reduction="sum")
    assert math.isnan(w.grad)  # through the batch loop too


# -- the library's losses, with labels and logits as arguments ----------------------------

EXTREME = [
    0.0,
    -0.0,
    0.5,
    -0.5,
    3.0,
    -3.0,
    30.0,
    -30.0,
    800.0,
    -800.0,
    1e300,
    -1e300,
    inf,
    -inf,
    nan,
]


def check_against_eager(c: Any, fn: Callable[..., Value], *args: Any) -> None:
    """The compiled value and gradients are eager's, to the bit (1e-12 would do)."""
    got, want = c.value_and_grad(*args), eager(fn, c.params, *args)
    assert all(map(bits, flat(got), flat(want))), (args, got, want)


def test_bce_with_logits_and_targets_as_arguments():
    f = lambda z, y: binary_cross_entropy_with_logits(z, y)  # noqa: E731
    c = compile(f, 0.3, 1.0)
    for z in EXTREME:
        for y in (0.0, 0.25, 1.0):
            check_against_eager(c, f, z, y)
    assert c.fallbacks == 0 and c.guards  # the target's range is a guard, which held
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\], got 2.0"):
        c(0.5, 2.0)


def test_cross_entropy_softmax_and_log_softmax_with_labels_as_arguments():
    f = lambda a, b, c, t: cross_entropy([a, b, c], t)  # noqa: E731
    ce = compile(f, 0.1, 0.2, 0.3, 0)
    rows = [(1000.0, 0.0, -1000.0), (30.0, 0.0, 0.0), (1e300, -1e300, 0.0), (-0.0, 0.0, 5.0),
            (inf, 1.0, 2.0), (-inf, -inf, -inf), (nan, 1.0, 0.0), (1e16, 1e16, -3.0)]  # fmt: skip
    for row in rows:
        for t in (0, 1, 2):
            check_against_eager(ce, f, *row, float(t))
            # the label as a Value gives what an int label gives, to the last bit
            with_int = cross_entropy([Value(x) for x in row], t).data
            assert bits(ce(*row, t), with_int)
    assert ce.fallbacks == 0
    with pytest.raises(ValueError, match=r"targets\[0\] = 1.5 is not a class index in \[0, 3\)"):
        ce(1.0, 2.0, 3.0, 1.5)
    for k in range(3):
        for row_fn in (log_softmax, softmax):
            g = lambda a, b, c, k=k, row_fn=row_fn: row_fn([a, b, c])[k]  # noqa: E731
            cg = compile(g, 0.1, 0.2, 0.3)
            for row in rows:
                check_against_eager(cg, g, *row)
            assert cg.fallbacks == 0


def test_a_value_label_gives_the_int_labels_numbers_to_the_bit():
    for row in [(1.0, -0.0, -inf), (0.0, 0.0, -inf), (1e300, 2.0, nan), (-3.0, 4.0, 0.5)]:
        for t in range(3):
            by_int, by_value = [Value(x) for x in row], [Value(x) for x in row]
            a = cross_entropy(by_int, t)
            b = cross_entropy(by_value, Value(float(t)))
            ga, gb = grad(a, by_int), grad(b, by_value)
            assert all(map(bits, [a.data, *(g.data for g in ga)], [b.data, *(g.data for g in gb)]))


def test_mse_and_l2_penalty_with_targets_and_parameters_as_arguments():
    f = lambda p, t: mse([p * 2.0, p], [t, -t])  # noqa: E731
    c = compile(f, 1.0, 0.5)
    for p in EXTREME:
        for t in (0.0, -2.0, 1e300):
            check_against_eager(c, f, p, t)
    g = lambda a, b: l2_penalty([a, b], 1e-4)  # noqa: E731
    c = compile(g, 1.0, 2.0)
    for a in EXTREME:
        check_against_eager(c, g, a, -3.0)
    assert c.fallbacks == 0


# -- guards ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "traced_at", "other"),
    [
        (lambda x: x * 2.0 if x.data > 0 else -x, 1.0, -2.0),  # .data in a condition
        (lambda x: x * 2.0 if x else x - 1.0, 1.0, 0.0),  # bool(x): the truth of x.data
        (lambda x: max(x, x * x) + 1.0, 2.0, 0.5),
        (lambda x: sorted([x, -x, x * 0.5])[0] * 3.0, 1.0, -1.0),
        (lambda x: x.exp() if x.data == x.data else x, 1.0, nan),  # nan, as x != x
        (lambda x: min(x.relu(), 0.5 - x), 2.0, 0.0),
        (lambda x: x * 2.0 if x > Fraction(1, 3) else x, 1.0, 0.25),  # any real number
    ],
)
def test_each_kind_of_guard_falls_back_when_it_fails(fn, traced_at, other):
    c = compile(fn, traced_at)
    assert c.guards and "raise _BranchChanged" in c.source
    assert all(map(bits, flat(c.value_and_grad(traced_at)), flat(eager(fn, (), traced_at))))
    assert c.fallbacks == 0
    assert all(map(bits, flat(c.value_and_grad(other)), flat(eager(fn, (), other))))
    assert c.fallbacks == 1


def test_a_loop_whose_count_depends_on_a_value():
    def halve(x: Value) -> Value:
        while x > 1.0:  # one guard per turn, and the last one that ended the loop
            x = x * 0.5
        return x

    c = compile(halve, 5.0)  # three turns
    assert len(c.guards) == 4
    assert c(6.0) == 0.75 and c.fallbacks == 0
    assert c(9.0) == 0.5625 and c.fallbacks == 1  # four turns: eager


def test_a_repeated_comparison_is_one_guard():
    def f(x: Value) -> Value:
        y = x
        for _ in range(5):
            y = y * 2.0 if x > 0 else y
        return y

    assert len(compile(f, 1.0).guards) == 1


def test_comparisons_of_constants_and_numbers_are_not_guards():
    k = constant(3.0)
    c = compile(lambda x: x * 2.0 if k > 1.0 and k.data < 5 else x, 1.0)
    assert c.guards == () and "_BranchChanged" not in c.source


def test_a_failing_guard_in_a_batch_reruns_only_that_example():
    w = Value(2.0)
    c = compile(lambda x: w * x if x.data > 0 else w * x * x, 1.0)
    total = c.backward_batch([1.0, -3.0, 2.0], reduction="sum")
    assert total == 2.0 + 18.0 + 4.0 and w.grad == 1.0 + 9.0 + 2.0
    assert c.fallbacks == 1


# -- refusals -----------------------------------------------------------------------------


def data_arithmetic(x: Value) -> Value:
    return x * (x.data * 2.0)


def data_abs(x: Value) -> Value:
    return x * abs(x.data)


def float_of_a_value(x: Value) -> Value:
    return x * float(x)


def math_of_a_value(x: Value) -> Value:
    return x * math.exp(x)


def floor_of_a_value(x: Value) -> Value:
    return x * math.floor(x)


def value_of_data(x: Value) -> Value:
    return Value(x.data) * x


def data_as_key(x: Value) -> Value:
    return x * {x.data: 2.0}[1.0]


def an_op_under_no_grad(x: Value) -> Value:
    with no_grad():
        y = x * 2.0
    return y * x


def set_data(x: Value) -> Value:
    x.data = 3.0
    return x * 2.0


def call_backward(x: Value) -> Value:
    y = x * x
    y.backward()
    return y


def first_order_grad(x: Value) -> Value:
    (d,) = grad(x * x, [x])
    return d * x


INNER = compile(lambda x: x * 2.0, 1.0)


def data_method(x: Value) -> Value:
    return x * 2.0 if x.data.is_integer() else x


def a_compiled_function_inside(x: Value) -> Value:
    return Value(INNER(x)) * x


def in_a_library(x: Value) -> Value:
    return hinge(x, Value(1.0) * float(x))


REFUSED = [
    (data_arithmetic, "x.data * 2.0", "compute with the Value itself"),
    (data_abs, "abs(x.data)", "abs()"),
    (float_of_a_value, "float(x)", "the Value's own methods"),
    (math_of_a_value, "math.exp(x)", "`x.exp()`"),
    (floor_of_a_value, "math.floor(x)", "takes float()"),
    (value_of_data, "Value(x.data)", "float() or math.*"),
    (data_as_key, "{x.data: 2.0}", "hash()"),
    (an_op_under_no_grad, "y = x * 2.0", "inside no_grad()"),
    (set_data, "x.data = 3.0", "between calls"),
    (call_backward, "y.backward()", "the compiled function's backward()"),
    (first_order_grad, "grad(x * x, [x])", "pass create_graph=True"),
    (in_a_library, "float(x)", "takes float()"),
    (a_compiled_function_inside, "INNER(x)", "call the plain function there"),
    (data_method, "x.data.is_integer()", "`.is_integer`"),
]


@pytest.mark.parametrize(("fn", "text", "advice"), REFUSED, ids=[f.__name__ for f, *_ in REFUSED])
def test_each_refusal_names_the_line_and_what_to_write(fn, text, advice):
    with pytest.raises(TraceError) as info:
        compile(fn, 1.5)
    e = info.value
    assert (e.filename, e.lineno) == (__file__, line_of(fn, text))
    message = str(e)
    assert message.startswith(f"compile: {__file__}:{e.lineno} (`")
    assert text in message and advice in message
    assert isinstance(e, TypeError)  # as a tracer's refusal of a value it cannot see


def test_a_refusal_inside_a_library_function_names_both_lines():
    model = MLP(1, [1], seed=0)

    def reset_inside(x: Value) -> Value:
        model.load_state_dict(dict.fromkeys(model.state_dict(), 0.5))  # sets .data
        return model([x])

    with pytest.raises(TraceError) as info:
        compile(reset_inside, 1.0)
    assert info.value.lineno == line_of(reset_inside, "model.load_state_dict")
    assert re.search(
        r"\(`model.load_state_dict\(.*`\), in microgradx/nn.py:\d+ sets", str(info.value)
    )


def test_no_grad_on_constants_alone_is_allowed():
    k = constant(2.0)

    def f(x: Value) -> Value:
        with no_grad():
            scale = k * 3.0  # made of constants: the same at every call
        return x * scale

    c = compile(f, 1.0)
    assert c(2.0) == 12.0


def test_printing_data_inside_the_function_is_allowed(capsys):
    seen: list[Any] = []

    def f(x: Value) -> Value:
        print(f"x = {x.data:.2f}, {x.data!r}")
        seen.append(x.data)
        return x * 2.0

    c = compile(f, 1.5)
    assert capsys.readouterr().out == "x = 1.50, 1.5\n"
    assert c(4.0) == 8.0 and capsys.readouterr().out == ""  # it ran at trace time only
    assert seen[0] + 1.0 == 2.5 and float(seen[0]) == 1.5  # after the trace: its number


# -- signed zeros -------------------------------------------------------------------------


def test_gradients_keep_eager_signs_of_zero():
    w = Value(-0.0)
    cases = [
        (lambda x: x.cos(), 0.0),  # d/dx cos(x) at 0 is -0.0 (PyTorch)
        (lambda x: x * -0.0, 3.0),
        (lambda x: x.log(), -inf),
        (lambda x: (w * x).relu(), 5.0),  # relu off: 0.0 * 5.0 for w, 0.0 * -0.0 for x
        (lambda x: w * x + w * x, -1.0),
    ]
    for fn, x in cases:
        c = compile(fn, 1.0)
        got, want = c.value_and_grad(x), eager(fn, c.params, x)
        assert list(map(bits, flat(got), flat(want))) == [True] * len(flat(want)), (x, got, want)
    assert bits(compile(lambda x: x.cos(), 1.0).value_and_grad(0.0)[2][0], -0.0)


def test_an_input_the_output_does_not_use_gets_zero_as_in_grad():
    c = compile(lambda x, y: x * 2.0, 1.0, 1.0)
    _, _, (dx, dy) = c.value_and_grad(1.0, 1.0)
    assert bits(dx, 2.0) and bits(dy, 0.0)  # grad(..., allow_unused=True) gives Value(0.0)


# -- the trace and the rest of the program ------------------------------------------------


def test_nothing_of_the_trace_stays_on_value():
    slots = Value.__dict__["data"]
    methods = {name: Value.__dict__.get(name) for name in ("__lt__", "__bool__", "__float__")}
    compile(lambda x: x * 2.0 if x > 0 else x, 1.0)
    with pytest.raises(TraceError):
        compile(float_of_a_value, 1.0)  # also after a refusal
    assert Value.__dict__["data"] is slots and type(slots).__name__ == "member_descriptor"
    assert {name: Value.__dict__.get(name) for name in methods} == methods
    assert "backward" in Value.__dict__ and "_backward" in Value.__dict__


def test_other_threads_see_plain_floats_while_a_trace_runs():
    inside, done = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def waiting(x: Value) -> Value:
        inside.set()
        assert done.wait(10)
        return x * 2.0 if x > 0 else x

    def other() -> None:
        assert inside.wait(10)
        v = Value(3.0) * 2.0
        seen["data"] = v.data
        seen["compare"] = v > 1.0 and bool(v) and float(v) == 6.0
        done.set()

    t = threading.Thread(target=other)
    t.start()
    c = compile(waiting, 1.0)
    t.join()
    assert type(seen["data"]) is float and seen["compare"] is True
    assert len(c.guards) == 1  # the other thread's comparisons are not this trace's


def test_bool_of_a_value_is_the_truth_of_its_data():
    assert bool(Value(2.0)) and bool(Value(nan)) and not bool(Value(0.0)) and not Value(-0.0)


def test_docstring_examples_run():
    for m in (sys.modules["microgradx.compile"], tracing):  # the package's compile is the function
        result = doctest.testmod(m)
        assert result.attempted > 0 and result.failed == 0


def test_the_losses_ops_are_registered_with_the_package():
    # so a registry scope (as each test runs in) cannot take them back from the losses
    code = (
        "from microgradx.primitive import REGISTRY\n"
        "with REGISTRY.scope():\n"
        "    from microgradx.losses import cross_entropy\n"
        "print(cross_entropy([0.0, 0.0], 1).data)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == math.log(2.0)
