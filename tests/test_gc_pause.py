"""`microgradx.gc_paused()`: the collector off inside, put back as it was after.

Every test checks the collector's switch (`gc.isenabled()`) and the count of open pauses,
never time: nesting, exceptions, the decorator forms, generators and coroutines (paused
while they run, not while they wait), threads (one switch for the whole process), and
`train.fit`, which pauses each step.
"""

from __future__ import annotations

import asyncio
import doctest
import gc
import json
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

import microgradx
from microgradx import Value, gc_paused
from microgradx import gc_pause as gc_pause_module
from microgradx.gc_pause import pause_depth
from microgradx.nn import MLP
from microgradx.optim import SGD
from microgradx.train import fit


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Each test starts with the collector on and no pause open, and leaves it so."""
    gc.enable()
    assert pause_depth() == 0
    yield
    depth, enabled = pause_depth(), gc.isenabled()
    gc.enable()
    assert depth == 0, f"{depth} pauses left open"
    assert enabled, "the test left the collector off"


def test_the_top_level_name_is_the_module_s() -> None:
    assert microgradx.gc_paused is gc_pause_module.gc_paused
    assert "gc_paused" in microgradx.__all__


def test_off_inside_and_back_on_after() -> None:
    with gc_paused() as pause:
        assert not gc.isenabled()
        assert pause_depth() == 1
    assert isinstance(pause, gc_paused)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # put back as it was: off
    finally:
        gc.enable()


def test_nested_pauses_restore_only_at_the_outermost_end() -> None:
    with gc_paused():
        with gc_paused():
            assert pause_depth() == 2
        assert not gc.isenabled()  # the inner end leaves the outer pause in force
        assert pause_depth() == 1
    assert gc.isenabled()


def test_one_instance_can_be_entered_again_while_open() -> None:
    pause = gc_paused()
    with pause:
        with pause:
            assert pause_depth() == 2 and not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_exception_passes_through_and_the_collector_comes_back() -> None:
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    with gc_paused():
        with pytest.raises(KeyError), gc_paused():
            raise KeyError("inner")
        assert not gc.isenabled()  # the outer block still pauses
    assert gc.isenabled()


def test_the_state_found_by_the_outermost_pause_wins_over_changes_inside() -> None:
    with gc_paused():
        gc.enable()  # the user's own call inside: a nested pause turns it off again
        with gc_paused():
            assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            gc.enable()
        assert not gc.isenabled()  # back to what the pause found: off
    finally:
        gc.enable()


def test_explicit_collections_still_collect_inside() -> None:
    class Node:
        other: object = None

    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        del a, b
        assert gc.collect() >= 2


def test_a_step_s_graph_is_freed_inside_the_pause_with_nothing_left_to_collect() -> None:
    model = MLP(2, [8, 8, 1], seed=0)
    gc.collect()
    with gc_paused():
        out = model([0.5, -1.0])
        out.backward()
        del out
        assert gc.collect() == 0  # no cycles: reference counting freed the graph


# -- the decorator ----------------------------------------------------------------------


def test_decorator_with_and_without_parentheses() -> None:
    @gc_paused
    def bare(x: int) -> tuple[int, bool]:
        """Doc."""
        return x + 1, gc.isenabled()

    @gc_paused()
    def called(x: int) -> tuple[int, bool]:
        return x * 2, gc.isenabled()

    assert bare(1) == (2, False) and called(3) == (6, False)
    assert gc.isenabled()
    assert bare.__name__ == "bare" and bare.__doc__ == "Doc."


def test_decorated_function_that_raises_puts_the_collector_back() -> None:
    @gc_paused
    def fails() -> None:
        assert not gc.isenabled()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert gc.isenabled()


def test_decorated_recursion_nests() -> None:
    depths: list[int] = []

    @gc_paused
    def down(n: int) -> int:
        depths.append(pause_depth())
        return 0 if n == 0 else 1 + down(n - 1)

    assert down(3) == 3
    assert depths == [1, 2, 3, 4]


def test_decorated_generator_is_paused_while_it_runs_not_while_it_waits() -> None:
    inside: list[bool] = []
    cleaned: list[bool] = []

    @gc_paused
    def items(n: int) -> Generator[int, None, None]:
        try:
            for i in range(n):
                inside.append(gc.isenabled())
                yield i
        finally:
            cleaned.append(gc.isenabled())

    gen = items(3)
    assert gc.isenabled()  # creating it pauses nothing
    assert next(gen) == 0
    assert gc.isenabled()  # the caller runs between items with the collector on
    assert next(gen) == 1
    assert gc.isenabled()
    gen.close()  # its finally runs paused, and the collector comes back
    assert inside == [False, False] and cleaned == [False]
    assert gc.isenabled()
    assert list(items(2)) == [0, 1]


def test_decorated_generator_passes_sends_throws_and_its_return_value() -> None:
    @gc_paused
    def echo() -> Generator[object, object, str]:
        received = yield "ready"
        while received != "stop":
            try:
                received = yield (received, gc.isenabled())
            except KeyError as error:
                received = yield ("caught", str(error))
        return "done"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send(5) == (5, False)
    assert gen.throw(KeyError("k")) == ("caught", "'k'")
    with pytest.raises(StopIteration) as stop:
        gen.send("stop")
    assert stop.value.value == "done"
    assert gc.isenabled()


def test_an_exception_inside_a_decorated_generator_reaches_the_caller() -> None:
    @gc_paused
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("in the generator")

    gen = broken()
    assert next(gen) == 1
    with pytest.raises(RuntimeError, match="in the generator"):
        next(gen)
    assert gc.isenabled()


def test_decorated_coroutine_does_not_pause_other_tasks_while_it_awaits() -> None:
    seen: dict[str, bool] = {}

    @gc_paused
    async def step(name: str) -> str:
        seen[f"{name} before await"] = gc.isenabled()
        await asyncio.sleep(0)
        seen[f"{name} after await"] = gc.isenabled()
        return name.upper()

    async def other() -> None:
        seen["other task"] = gc.isenabled()

    async def main() -> list[str]:
        first = asyncio.ensure_future(step("a"))
        await asyncio.sleep(0)  # `a` runs up to its await, then `other` runs
        await other()
        return [await first, await step("b")]

    assert asyncio.iscoroutinefunction(step)
    assert asyncio.run(main()) == ["A", "B"]
    assert seen == {
        "a before await": False,
        "other task": True,
        "a after await": False,
        "b before await": False,
        "b after await": False,
    }
    assert gc.isenabled()


def test_decorated_coroutine_that_raises_and_one_that_is_cancelled() -> None:
    @gc_paused
    async def fails() -> None:
        await asyncio.sleep(0)
        raise LookupError("async")

    @gc_paused
    async def sleeps() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        with pytest.raises(LookupError, match="async"):
            await fails()
        task = asyncio.ensure_future(sleeps())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert gc.isenabled()


def test_bad_uses_are_refused_with_what_was_expected() -> None:
    async def agen() -> object:  # an async generator function
        yield 1

    with pytest.raises(TypeError, match="cannot decorate the async generator function"):
        gc_paused(agen)
    with pytest.raises(TypeError, match=r"takes no arguments \(or decorates a function\), got int"):
        gc_paused(5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="decorates a function, got str"):
        gc_paused()("not a function")  # type: ignore[type-var]
    assert pause_depth() == 0


# -- threads: one switch for the whole process -------------------------------------------


def _run_in_threads(order: list[str]) -> list[tuple[str, bool, int]]:
    """Threads A and B each enter a pause, then leave in `order`; what each step saw."""
    log: list[tuple[str, bool, int]] = []
    entered = {name: threading.Event() for name in "AB"}
    leave = {name: threading.Event() for name in "AB"}
    left = {name: threading.Event() for name in "AB"}

    def worker(name: str) -> None:
        with gc_paused():
            entered[name].set()
            leave[name].wait(10)
        left[name].set()

    threads = [threading.Thread(target=worker, args=(name,)) for name in "AB"]
    for t, name in zip(threads, "AB", strict=True):
        t.start()
        assert entered[name].wait(10)
        log.append((f"{name} in", gc.isenabled(), pause_depth()))
    for name in order:
        leave[name].set()
        assert left[name].wait(10)
        log.append((f"{name} out", gc.isenabled(), pause_depth()))
    for t in threads:
        t.join(10)
    return log


@pytest.mark.parametrize("order", [["A", "B"], ["B", "A"]])
def test_threads_share_the_pause_and_the_last_to_leave_restores(order: list[str]) -> None:
    first, last = order
    assert _run_in_threads(order) == [
        ("A in", False, 1),
        ("B in", False, 2),
        (f"{first} out", False, 1),  # the other thread is still inside: still paused
        (f"{last} out", True, 0),
    ]


def test_a_pause_in_one_thread_pauses_collection_for_the_others() -> None:
    seen: list[bool] = []
    with gc_paused():
        t = threading.Thread(target=lambda: seen.append(gc.isenabled()))
        t.start()
        t.join(10)
    assert seen == [False]


# -- fit pauses each step -----------------------------------------------------------------


def test_fit_pauses_each_step_and_runs_the_callback_with_the_collector_on() -> None:
    w = Value(0.0)
    in_loss: list[bool] = []
    in_callback: list[bool] = []

    def loss_fn() -> Value:
        in_loss.append(gc.isenabled())
        return (w - 2) ** 2

    history = fit(
        SGD([w], lr=0.25), loss_fn, 3, callback=lambda *a: in_callback.append(gc.isenabled())
    )
    assert in_loss == [False] * 3 and in_callback == [True] * 3
    assert history.loss == [4.0, 1.0, 0.25] and w.data == 1.75
    assert gc.isenabled()


def test_fit_with_pause_gc_false_leaves_the_collector_alone() -> None:
    w = Value(0.0)
    seen: list[bool] = []

    def loss_fn() -> Value:
        seen.append(gc.isenabled())
        return (w - 2) ** 2

    fit(SGD([w], lr=0.25), loss_fn, 2, pause_gc=False)
    assert seen == [True, True]
    with pytest.raises(TypeError, match="pause_gc must be True or False, got str"):
        fit(SGD([w], lr=0.25), loss_fn, 1, pause_gc="no")  # type: ignore[arg-type]


def test_fit_puts_the_collector_back_when_a_step_fails() -> None:
    w = Value(0.0)

    def loss_fn() -> Value:
        raise ArithmeticError("in the loss")

    with pytest.raises(ArithmeticError):
        fit(SGD([w], lr=0.1), loss_fn, 3)
    with pytest.raises(TypeError, match="must return a Value"):
        fit(SGD([w], lr=0.1), lambda: 1.0, 1)  # type: ignore[arg-type, return-value]
    assert gc.isenabled()


def test_fit_frees_each_step_s_graph_inside_the_pause() -> None:
    # the graph is dropped before the pause ends: nothing is left for the collector
    model = MLP(2, [4, 1], seed=0)
    counts: list[int] = []
    gc.collect()  # what earlier tests left
    fit(
        SGD(model.parameters(), lr=0.1),
        lambda: (model([0.5, -1.0]) - 1) ** 2,
        3,
        callback=lambda *a: counts.append(gc.collect()),
    )
    assert counts == [0, 0, 0]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(gc_pause_module)
    assert result.attempted >= 10 and result.failed == 0


# -- the benchmark's worker has a paused mode ----------------------------------------------


def test_the_benchmark_worker_runs_the_eager_step_paused_with_the_same_losses() -> None:
    run = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"

    def worker(gc_mode: str) -> subprocess.CompletedProcess[str]:
        task = {"kind": "step", "engine": "eager", "gc_mode": gc_mode, "points": 6,
                "steps": 2, "warmup": 1}  # fmt: skip
        return subprocess.run(
            [sys.executable, str(run), "--worker", json.dumps(task)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    answers = {}
    for mode in ("on", "paused"):
        done = worker(mode)
        assert done.returncode == 0, done.stderr
        answers[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["paused"]["losses"] == answers["on"]["losses"]
    assert len(answers["paused"]["times"]) == 2
    refused = worker("sometimes")
    assert refused.returncode != 0
    assert "gc_mode must be on, off or paused, got 'sometimes'" in refused.stderr
