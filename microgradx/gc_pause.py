"""`gc_paused()`: the cyclic garbage collector paused around a training step.

A microgradx graph holds no reference cycles, so reference counting frees it the moment
the last reference to its output goes; Python's cyclic collector has nothing to find in
it. It still walks the live nodes each time it runs, and while a step builds a graph of
tens of thousands of nodes it runs many times. `gc_paused()` turns automatic collection
off for the duration of a block (or of a decorated function) and then puts it back as it
was. Explicit `gc.collect()` calls still collect.

Nesting works: only the outermost pause restores the collector, to the state it found.
The collector's switch belongs to the whole process (CPython has one per interpreter, not
one per thread), so a pause in one thread also pauses collection for every other thread.
`gc_paused()` counts the blocks open in all threads together: the collector stays paused
while any thread is inside one and comes back on when the last of them ends, whatever
order the threads leave in.

As a decorator it pauses each call. A decorated generator function is paused while its
body runs (each time it is resumed), not while it waits at a `yield`; a decorated
coroutine function (`async def`) likewise while it runs, not while it waits at an
`await`, so other tasks of the event loop are not affected while it sleeps.

Examples:
    >>> import gc
    >>> from microgradx import gc_paused
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    >>> @gc_paused
    ... def step():
    ...     return gc.isenabled()
    >>> step(), gc.isenabled()
    (False, True)
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import threading
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, TypeVar, overload

from .contexts import drive

__all__ = ["gc_paused", "pause_depth"]

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
# how many gc_paused blocks are open, in all threads together
_depth = 0
# whether the collector was enabled when the outermost block opened
_was_enabled = True


def _reset_after_fork() -> None:
    # a child process has only the thread that forked: a lock held by another thread at
    # that moment would never be released
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _enter() -> None:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
        _depth += 1
        gc.disable()


def _exit() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth == 0:
            if _was_enabled:
                gc.enable()
            else:
                gc.disable()


def pause_depth() -> int:
    """How many `gc_paused()` blocks are open right now, in all threads together.

    Examples:
        >>> from microgradx.gc_pause import gc_paused, pause_depth
        >>> with gc_paused(), gc_paused():
        ...     pause_depth()
        2
        >>> pause_depth()
        0
    """
    return _depth


class gc_paused:  # noqa: N801 - a context manager named like no_grad and contextlib's
    """Pause Python's cyclic garbage collector; a context manager and a decorator.

    Inside, automatic collection is off (`gc.isenabled()` is False); at the end the
    collector is put back as it was when the outermost pause began, also when the block
    raises. `with gc_paused():`, `@gc_paused` and `@gc_paused()` all work, and one
    instance may be entered again, nested or from several threads at once.

    Use it around one training step whose graph is large (a forward pass, `backward()`
    and the update): the graph is freed by reference counting when the loss goes, with no
    work for the collector. It only pays while the graph is being built and walked, so
    pause each step, not a whole program: objects of your own that do form cycles are
    collected between steps as usual. Avoid it around `backward(create_graph=True)`,
    which stores a graph in each `.grad` that refers back to its node (a cycle), unless
    you set `.grad = None` when done.

    Examples:
        >>> import gc
        >>> from microgradx import Value, gc_paused
        >>> w = Value(0.0)
        >>> for _ in range(50):
        ...     with gc_paused():  # one step: build the graph, backward, update
        ...         loss = (w - 3) ** 2
        ...         w.grad = 0.0
        ...         loss.backward()
        ...         w.data -= 0.1 * w.grad
        >>> round(w.data, 4), gc.isenabled()
        (3.0, True)
    """

    @overload
    def __new__(cls, fn: None = None) -> gc_paused: ...
    @overload
    def __new__(cls, fn: F) -> F: ...  # type: ignore[misc]  # a decorated function

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        # `@gc_paused` without parentheses decorates `fn` at once
        pause = super().__new__(cls)
        if fn is None:
            return pause
        if not callable(fn):
            raise TypeError(
                f"gc_paused() takes no arguments (or decorates a function), got {type(fn).__name__}"
            )
        return pause(fn)

    def __enter__(self) -> gc_paused:
        """Pause the collector (it may already be paused by an outer block)."""
        _enter()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        """End this pause; the outermost one puts the collector back as it found it."""
        _exit()

    def __call__(self, fn: F) -> F:
        """Use as a decorator: each call of `fn` runs with the collector paused.

        A generator function or coroutine function is paused while its body runs, not
        while it waits at a `yield` or an `await`. Async generator functions are refused
        (put a `with gc_paused():` block inside, around code without `yield`).
        """
        if inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"gc_paused cannot decorate the async generator function "
                f"{getattr(fn, '__qualname__', fn)!r}: put `with gc_paused():` inside it, "
                f"around code that does not yield or await"
            )
        if not callable(fn):
            raise TypeError(f"gc_paused decorates a function, got {type(fn).__name__}")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
                return await _Paused(fn(*args, **kwargs))

            return run_coroutine  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def run_generator(*args: Any, **kwargs: Any) -> Any:
                return (yield from drive(fn(*args, **kwargs), gc_paused))

            return run_generator  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with gc_paused():
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "gc_paused()"


class _Paused:
    """An awaitable that runs a coroutine with the collector paused between its awaits."""

    def __init__(self, coroutine: Any) -> None:
        self.coroutine = coroutine

    def __await__(self) -> Generator[Any, Any, Any]:
        return drive(self.coroutine, gc_paused)
