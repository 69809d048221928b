"""Running a generator (or a coroutine) one step at a time inside a context manager.

`no_grad` and `gc_paused` decorate generator functions this way: the body runs in the
mode each time it is resumed, never while the caller works between items.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["drive"]


Context = Callable[[], AbstractContextManager[Any]]


def drive(inner: Any, context: Context) -> Generator[Any, Any, Any]:
    """Run the generator or coroutine `inner` step by step, each step inside `context()`,
    passing on what it yields and what the caller sends or throws in; its return value is
    this generator's."""
    with context():
        try:
            item = inner.send(None)
        except StopIteration as stop:
            return stop.value
    while True:
        resume: Callable[[Any], Any]
        try:
            sent = yield item
        except GeneratorExit:
            with context():
                inner.close()
            raise
        except BaseException as error:  # thrown in by the caller: pass it on
            resume, sent = inner.throw, error
        else:
            resume = inner.send
        with context():
            try:
                item = resume(sent)
            except StopIteration as stop:
                return stop.value
