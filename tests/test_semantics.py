"""The semantics DESIGN.md promises: backward passes, graph memory, grad modes, bad input."""

from __future__ import annotations

import asyncio
import gc
import math
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from microgradx import Value, enable_grad, grad, is_grad_enabled, no_grad
from microgradx.engine import is_shared_constant

# -- repeated backward ---------------------------------------------------------------------


def _graph() -> tuple[list[Value], Value]:
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(0.5, label="c")
    e = a * b
    d = e + c.exp()
    f = (d * d).tanh() + e / c
    return [a, b, c, e, d], f


def test_second_backward_doubles_every_gradient_exactly():
    nodes, out = _graph()
    out.backward()
    first = [v.grad for v in nodes]
    assert out.grad == 1.0
    out.backward()
    assert [v.grad for v in nodes] == [2 * g for g in first]
    assert out.grad == 2.0
    out.backward()
    assert [v.grad for v in nodes] == [3 * g for g in first]


def test_intermediates_keep_their_grad_and_never_count_twice():
    a, b = Value(3.0), Value(4.0)
    t = a * b  # intermediate, used twice
    y = t + t
    y.backward()
    assert t.grad == 2.0
    assert (a.grad, b.grad) == (8.0, 6.0)
    y.backward()
    # micrograd-style accumulation would push the accumulated t.grad again (3x, not 2x)
    assert t.grad == 4.0
    assert (a.grad, b.grad) == (16.0, 12.0)


def test_backward_from_an_intermediate_then_from_the_output():
    x = Value(2.0)
    h = x * x
    y = h * 3.0
    h.backward()  # dh/dx = 4 lands in x.grad, h.grad = 1
    assert (x.grad, h.grad) == (4.0, 1.0)
    y.backward()  # dy/dx = 12 and dy/dh = 3 are added
    assert (x.grad, h.grad, y.grad) == (16.0, 4.0, 1.0)


def test_zeroing_grads_between_passes_gives_the_single_pass_result():
    nodes, out = _graph()
    out.backward()
    first = [v.grad for v in nodes]
    for v in nodes:
        v.grad = 0.0
    out.backward()
    assert [v.grad for v in nodes] == first


def test_micrograd_style_zero_grad_with_int_zero():
    x = Value(3.0)
    y = x * x
    y.backward()
    x.grad = 0  # micrograd's Module.zero_grad writes the int 0
    y.backward()
    assert x.grad == 6.0 and type(x.grad) is float


# -- diamonds and reuse --------------------------------------------------------------------


def test_square_by_self_multiplication():
    x = Value(-1.5)
    y = x * x
    y.backward()
    assert x.grad == -3.0
    assert y.inputs == (x, x)
    assert y._prev == {x}


def test_diamond():
    x = Value(0.5)
    left, right = x.exp(), x.sin()
    y = left * right
    y.backward()
    assert x.grad == pytest.approx(math.exp(0.5) * (math.sin(0.5) + math.cos(0.5)), rel=1e-15)
    assert (left.grad, right.grad) == (right.data, left.data)


def test_stacked_diamonds_double_each_level():
    # y = x + x, repeated: 2**depth paths from the output to x
    x = Value(1.0)
    y = x
    for _ in range(40):
        y = y + y
    y.backward()
    assert x.grad == 2.0**40


def test_value_used_many_times():
    x = Value(3.0)
    y = sum((x for _ in range(1000)), Value(0.0))
    y.backward()
    assert x.grad == 1000.0
    z = Value(2.0)
    terms = [z * k for k in range(1, 101)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    total.backward()
    assert z.grad == 5050.0


def test_numbers_and_no_grad_results_get_no_gradient():
    x = Value(2.0)
    with no_grad():
        frozen = x * 10.0
    y = x * frozen + 1.0
    y.backward()
    assert x.grad == 20.0
    assert frozen.grad == 0.0
    assert not frozen.requires_grad
    product, one = y.inputs
    assert product.inputs == (x, frozen)
    assert not one.requires_grad and one.grad == 0.0


def _count_values() -> int:
    # the constant nodes the engine keeps for numbers ops were given (one per number,
    # shared, at most 1024) are not part of any one graph
    return sum(1 for o in gc.get_objects() if type(o) is Value and not is_shared_constant(o))


@pytest.fixture
def gc_disabled() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- a long chain under the default recursion limit -----------------------------------------


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # CPython's default
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.usefixtures("default_recursion_limit", "gc_disabled")
def test_chain_of_a_million_operations():
    c = 1.000001
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * c
    y.backward()
    # the backward pass multiplies by c in the same order the forward pass did
    assert x.grad == y.data
    assert x.grad == pytest.approx(c**1_000_000, rel=1e-9)
    del y  # freeing the chain must not recurse either


# -- no reference cycles --------------------------------------------------------------------


def _training_step(params: list[Value]) -> float:
    xs = [(0.5, -1.0, 1.0), (-0.3, 0.8, -1.0), (1.2, 0.1, 1.0)]
    loss = Value(0.0)
    for x1, x2, target in xs:
        hidden = (params[0] * x1 + params[1] * x2 + params[2]).tanh()
        out = (hidden * params[3] + params[4]).sigmoid()
        loss = loss + (out - (target + 1) / 2) ** 2 + (1 + out).log() / out.sqrt()
    loss = loss / len(xs) + sum(p * p for p in params) * 1e-3
    for p in params:
        p.grad = 0.0
    loss.backward()
    with no_grad():
        for p in params:
            p.data -= 0.1 * p.grad
    return loss.data


@pytest.mark.usefixtures("gc_disabled")
def test_dropped_training_graph_leaves_nothing_for_the_cycle_collector():
    params = [Value(v) for v in (0.3, -0.2, 0.1, 0.7, -0.4)]
    before = _count_values()
    for _ in range(3):
        _training_step(params)
    # everything the steps built is already gone, freed by reference counting alone
    assert _count_values() == before
    assert gc.collect() == 0


@pytest.mark.usefixtures("gc_disabled")
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_mlp_training_steps_leave_nothing_for_the_cycle_collector(optimizer: str):
    from microgradx import nn, optim

    model = nn.MLP(2, [6, 6, 1], seed=0)
    opt = getattr(optim, optimizer)(model.parameters(), lr=0.05)
    data = [([0.5, -1.0], 1.0), ([-0.3, 0.8], -1.0), ([1.2, 0.1], 1.0)]

    def step() -> float:
        loss = sum((1 + -y * model(x)).relu() for x, y in data) * (1 / len(data))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.data

    step()  # the optimizer creates its state on the first step
    before = _count_values()
    losses = [step() for _ in range(3)]
    assert _count_values() == before
    assert gc.collect() == 0
    assert losses[-1] != losses[0]


@pytest.mark.usefixtures("gc_disabled")
def test_grad_with_create_graph_leaves_no_cycles():
    def derivative_graph() -> float:
        x = Value(1.5)
        y = x * x * x + x.sin() * x + (x * 2).relu() + abs(x - 3) + (x * y0).relu()
        (g,) = grad(y, [x], create_graph=True)  # relu's derivative is linked to its output
        (h,) = grad(g, [x])
        return g.data + h.data

    y0 = Value(-1.0)
    before = _count_values()
    g = derivative_graph()
    expected = 3 * 1.5**2 + math.sin(1.5) + 1.5 * math.cos(1.5) + 2 - 1
    expected += 6 * 1.5 + 2 * math.cos(1.5) - 1.5 * math.sin(1.5)
    assert g == pytest.approx(expected, rel=1e-14)
    assert _count_values() == before
    assert gc.collect() == 0


# -- grad modes: context managers, decorators, nesting ---------------------------------------


def test_no_grad_builds_no_graph():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3.0 + x.exp()
    assert is_grad_enabled()
    assert y.inputs == () and y.op == "" and not y.requires_grad
    with pytest.raises(RuntimeError):
        y.backward()


def test_nested_modes_restore_on_exit():
    x = Value(1.0)
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
            a = x * 2.0
            with no_grad():
                b = x * 2.0
            c = x * 2.0
        d = x * 2.0
    e = x * 2.0
    assert [v.requires_grad for v in (a, b, c, d, e)] == [True, False, True, False, True]


def test_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()
    assert (Value(1.0) * 2.0).requires_grad


def test_decorators():
    @no_grad()
    def frozen(v: Value) -> Value:
        return v * v

    @enable_grad()
    def tracked(v: Value) -> Value:
        return v * v

    x = Value(3.0)
    assert not frozen(x).requires_grad
    assert is_grad_enabled()
    with no_grad():
        assert tracked(x).requires_grad
        assert not frozen(x).requires_grad
    assert frozen.__name__ == "frozen"  # functools.wraps


def test_decorators_without_parentheses():
    @no_grad
    def frozen(v: Value) -> Value:
        return v * v

    @enable_grad
    def tracked(v: Value) -> Value:
        return v * v

    x = Value(3.0)
    assert not frozen(x).requires_grad
    with no_grad():
        assert tracked(x).requires_grad
    assert frozen.__name__ == "frozen"


def test_decorated_generator_runs_in_the_mode_only_while_it_runs():
    @no_grad()
    def scaled(v: Value) -> Iterator[Value]:
        for k in (2.0, 3.0):
            received = yield v * k
            assert received is None or not (received * 1.0).requires_grad

    x = Value(1.5)
    items = []
    for item in scaled(x):
        items.append(item)
        assert is_grad_enabled()  # the caller, between items, records as usual
        assert (x * 2.0).requires_grad
    assert [(v.data, v.requires_grad) for v in items] == [(3.0, False), (4.5, False)]
    gen = scaled(x)
    next(gen)
    assert not gen.send(x).requires_grad  # send() reaches the generator, in the mode


def test_decorated_coroutine_runs_in_the_mode():
    @no_grad()
    async def frozen(v: Value) -> Value:
        await asyncio.sleep(0)
        return v * 2.0

    async def main() -> tuple[bool, bool]:
        y = await frozen(Value(1.0))
        return y.requires_grad, is_grad_enabled()

    assert asyncio.run(main()) == (False, True)


def test_one_context_manager_instance_can_be_reused_and_nested():
    mode = no_grad()
    with mode:
        with mode:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_one_instance_shared_by_two_threads_exiting_in_either_order():
    mode = no_grad()
    worker_inside, main_inside, worker_left = (threading.Event() for _ in range(3))
    seen: dict[str, object] = {}

    def worker() -> None:
        try:
            with mode:
                worker_inside.set()
                main_inside.wait(5)
            seen["worker after"] = is_grad_enabled()
        except Exception as e:  # pragma: no cover - reported through `seen`
            seen["worker error"] = e
        worker_left.set()

    t = threading.Thread(target=worker)
    t.start()
    assert worker_inside.wait(5)
    with mode:  # entered after the worker, left after it too
        main_inside.set()
        assert worker_left.wait(5)
        seen["main inside"] = is_grad_enabled()
    seen["main after"] = is_grad_enabled()
    t.join(5)
    assert seen == {"worker after": True, "main inside": False, "main after": True}
    assert (Value(1.0) * 2.0).requires_grad


def test_no_grad_is_per_thread():
    inside = threading.Event()
    done = threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with no_grad():
            inside.set()
            done.wait(5)
            seen["worker"] = (Value(1.0) * 2.0).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(5)
    # the worker thread is inside no_grad right now; this thread still records
    assert is_grad_enabled()
    seen["main"] = (Value(1.0) * 2.0).requires_grad
    done.set()
    t.join(5)
    assert seen == {"main": True, "worker": False}


def test_no_grad_is_per_asyncio_task():
    async def frozen_task(started: asyncio.Event, release: asyncio.Event) -> bool:
        with no_grad():
            started.set()
            await release.wait()
            return (Value(1.0) * 2.0).requires_grad

    async def tracking_task(started: asyncio.Event, release: asyncio.Event) -> bool:
        await started.wait()  # the other task is inside no_grad, suspended
        result = (Value(1.0) * 2.0).requires_grad
        release.set()
        return result

    async def main() -> list[bool]:
        started, release = asyncio.Event(), asyncio.Event()
        return list(
            await asyncio.gather(frozen_task(started, release), tracking_task(started, release))
        )

    assert asyncio.run(main()) == [False, True]


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_threads_backpropagating_through_shared_parameters():
    # each pass keeps its marks and adjoints on the nodes: passes in two threads over the
    # same parameters must not interleave
    params = [Value(0.01 * i) for i in range(40)]

    def loss() -> Value:
        total = Value(0.0)
        for _ in range(15):
            for p in params:
                total = total + p * p * 0.5
        return total

    expected = [g.data for g in grad(loss(), params)]
    wrong: list[tuple[int, int]] = []

    def work(thread: int) -> None:
        for k in range(12):
            if [g.data for g in grad(loss(), params)] != expected:
                wrong.append((thread, k))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert wrong == []


@pytest.mark.usefixtures("frequent_thread_switches")
def test_forward_mode_in_one_thread_and_backward_in_another_take_turns():
    # jvp keeps tangents in the same scratch slot as backward's adjoints
    from microgradx import jvp

    w = Value(0.5)
    xs = [Value(float(i % 7)) for i in range(300)]
    expected = float(sum(i % 7 for i in range(300)))
    wrong: list[object] = []

    def backward_passes() -> None:
        for _ in range(150):
            loss = xs[0] * w
            for x in xs[1:]:
                loss = loss + x * w
            w.grad = 0.0
            try:
                loss.backward()
            except Exception as e:  # report it; do not kill the thread
                wrong.append(e)
            if w.grad != expected:
                wrong.append(w.grad)

    def forward_passes() -> None:
        for _ in range(3000):
            try:
                if jvp(lambda x: (w * x + w) * w, 1.0, 1.0) != (0.5, 0.25):
                    wrong.append("jvp")
            except Exception as e:
                wrong.append(e)

    threads = [threading.Thread(target=backward_passes), threading.Thread(target=forward_passes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert wrong == []


# -- grad() and backward(gradient=...) ------------------------------------------------------


def test_backward_with_gradient_none_seeds_one_as_pytorch() -> None:
    x = Value(3.0)
    (x * x).backward(None)
    assert x.grad == 6.0


def test_grad_returns_values_and_writes_no_grad():
    a, b = Value(2.0), Value(5.0)
    y = a * b + a
    ga, gb = grad(y, [a, b])
    assert isinstance(ga, Value) and isinstance(gb, Value)
    assert (ga.data, gb.data) == (6.0, 2.0)
    assert (a.grad, b.grad, y.grad) == (0.0, 0.0, 0.0)
    (only,) = grad(y, a)  # a single Value is accepted too
    assert only.data == 6.0


def test_grad_allow_unused():
    a, unused = Value(2.0), Value(7.0)
    y = a * a
    with pytest.raises(ValueError, match="allow_unused"):
        grad(y, [a, unused])
    ga, gu = grad(y, [a, unused], allow_unused=True)
    assert (ga.data, gu.data) == (4.0, 0.0)


def test_grad_of_an_output_with_respect_to_itself():
    x = Value(2.0)
    y = x * 3.0
    (gy,) = grad(y, [y])
    assert gy.data == 1.0


def test_grad_bad_arguments():
    x = Value(1.0)
    y = x * 2.0
    with pytest.raises(TypeError, match="float"):
        grad(y, [1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="float"):
        grad(3.0, [x])  # type: ignore[arg-type]


def test_backward_with_a_gradient_seed():
    x = Value(3.0)
    y = x * x
    y.backward(gradient=0.5)
    assert (x.grad, y.grad) == (3.0, 0.5)
    y.backward(gradient=Value(2.0))
    assert x.grad == 15.0
    y.backward(np.float64(-1.0))
    assert x.grad == 9.0


def test_backward_bad_gradient_changes_nothing():
    x = Value(3.0)
    y = x * x
    with pytest.raises(TypeError, match="str"):
        y.backward(gradient="1")  # type: ignore[arg-type]
    assert (x.grad, y.grad) == (0.0, 0.0)
    y.backward()
    assert x.grad == 6.0


def test_backward_create_graph_gives_differentiable_grads():
    x = Value(2.0)
    y = x**3
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 12.0
    (h,) = grad(x.grad, [x])
    assert h.data == 12.0


# -- Values as keys; comparisons -----------------------------------------------------------


def test_equality_is_identity_and_values_are_hashable():
    a, b = Value(1.0), Value(1.0)
    assert a == a
    assert a != b
    assert a != 1.0
    assert len({a, b, a}) == 2
    assert {a: "a", b: "b"}[b] == "b"


def test_comparisons_look_at_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a
    assert a <= Value(1.0) and a >= Value(1.0)
    assert a < 1.5 and a <= 1 and a > 0 and a >= True
    assert 0.5 < a and 2 > a and 1 <= a and 1 >= a  # noqa: SIM300 - numbers on the left
    assert not (a < a)
    assert max([a, b]) is b and sorted([b, a]) == [a, b]
    with pytest.raises(TypeError, match="str"):
        _ = a < "b"  # type: ignore[operator]


# -- bad input and accepted input ----------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "type_name"),
    [("abc", "str"), (None, "NoneType"), (1j, "complex"), ([1.0], "list"), (b"1", "bytes")],
)
def test_value_refuses_non_real_data(bad: object, type_name: str):
    with pytest.raises(TypeError, match=type_name):
        Value(bad)  # type: ignore[arg-type]


def test_label_must_be_a_string():
    with pytest.raises(TypeError, match="int"):
        Value(1.0, label=3)  # type: ignore[arg-type]


@pytest.mark.usefixtures("gc_disabled")
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
def test_operator_with_a_string_names_str_and_changes_nothing(op: str):
    x = Value(2.0)
    y = x * 3.0
    before = _count_values()
    with pytest.raises(TypeError, match=r"\bstr\b"):
        eval(f"y {op} 'x'")
    with pytest.raises(TypeError, match=r"\bstr\b"):
        eval(f"'x' {op} y")
    with pytest.raises(TypeError, match="NoneType"):
        eval(f"y {op} None")
    assert _count_values() == before
    assert (x.data, x.grad, y.data, y.grad) == (2.0, 0.0, 6.0, 0.0)
    y.backward()  # the graph is intact
    assert x.grad == 3.0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (True, 1.0),
        (False, 0.0),
        (3, 3.0),
        (-7, -7.0),
        (2.5, 2.5),
        (np.float64(1.25), 1.25),
        (np.float32(0.5), 0.5),
        (np.float16(-2.0), -2.0),
        (np.int64(4), 4.0),
    ],
)
def test_real_numbers_are_stored_as_python_float(given: object, expected: float):
    v = Value(given)  # type: ignore[arg-type]
    assert type(v.data) is float
    assert v.data == expected
    w = Value(1.0) + given  # type: ignore[operator]
    assert type(w.data) is float and w.data == 1.0 + expected
    w = given * Value(1.0)  # type: ignore[operator]
    assert type(w.data) is float and w.data == expected


def test_topological_lists_each_node_once_after_its_inputs_and_touches_nothing() -> None:
    from microgradx.engine import topological

    x, y = Value(2.0), Value(3.0)
    s = x * y
    z = (s + s) * x + 1.0
    marks = [v._mark for v in (x, y, s, z)]
    order = topological([z])
    assert len(order) == len({id(v) for v in order}) == 7  # x, y, s, s+s, 1.0, *, +
    position = {id(v): i for i, v in enumerate(order)}
    assert all(position[id(u)] < position[id(v)] for v in order for u in v.inputs)
    assert order[0] is x and order[-1] is z
    assert [v._mark for v in (x, y, s, z)] == marks
    stopped = topological([z], stop=[s])
    assert s in stopped and x in stopped and y not in stopped


def test_a_task_made_inside_no_grad_records_nothing_after_the_block_closed() -> None:
    import asyncio
    import contextvars

    from microgradx import is_grad_enabled

    x = Value(1.0)

    async def work() -> tuple[bool, bool]:
        await asyncio.sleep(0.01)
        return is_grad_enabled(), (x * 2).requires_grad

    async def main() -> tuple[bool, bool]:
        with no_grad():
            task = asyncio.create_task(work())
        return await task

    assert asyncio.run(main()) == (False, False)
    with no_grad():
        ctx = contextvars.copy_context()
    assert ctx.run(lambda: (x * 2).requires_grad) is False
    assert (x * 2).requires_grad  # and here, outside, grad is on again


def test_a_failed_backward_changes_no_grad() -> None:
    from microgradx import defprim

    def boom(x: float) -> float:
        raise RuntimeError("boom")

    explode = defprim("_test_explode", boom, "g")  # its forward raises when a rule calls it
    twice = defprim("_test_calls_explode", "2 * x", "g * 2 + 0 * _test_explode(x)")
    a, b = Value(1.0), Value(2.0)
    y = twice(a * b) + a
    with pytest.raises(RuntimeError, match="boom"):
        y.backward()
    assert (a.grad, b.grad, y.grad) == (0.0, 0.0, 0.0)
    del explode


def test_a_grad_set_to_none_counts_as_no_gradient_yet() -> None:
    a, b = Value(1.0), Value(2.0)
    a.grad = None  # PyTorch's zero_grad(set_to_none=True) habit
    (a * b).backward()
    assert (a.grad, b.grad) == (2.0, 1.0)


def test_a_grad_of_none_in_a_fresh_process() -> None:
    # the kernel adds to .grad as it goes; a bad .grad stops it and changes nothing
    import subprocess

    code = (
        "from microgradx import Value\n"
        "a, b = Value(1.0), Value(2.0)\n"
        "a.grad = None\n"
        "(a * b).backward()\n"
        "print(a.grad, b.grad)\n"
        "a.grad = 'x'\n"
        "try:\n"
        "    (a * b).backward()\n"
        "except TypeError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "2.0 1.0",
        "a Value's .grad must be a number or None, got str",
    ]


def test_to_flag_takes_only_bools() -> None:
    from microgradx.engine import to_flag

    assert to_flag(True, "nesterov") is True and to_flag(False, "nesterov") is False
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError, match="nesterov must be True or False"):
            to_flag(bad, "nesterov")
