"""Grad modes: `no_grad()` and `enable_grad()`, per thread and per asyncio task.

Whether ops record the graph is one context variable, `grad_enabled`, which every op
reads (`grad_enabled.get()`). A context variable belongs to the thread, or to the
asyncio task, that set it, so `no_grad()` in one thread or task changes nothing in
another.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from .contexts import drive

F = TypeVar("F", bound=Callable[..., Any])
_Mode = TypeVar("_Mode", bound="_GradMode")

#: whether ops record the graph in this thread / task
grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)


class _Seen:
    """Whether `no_grad()` was ever entered in this process (`no_grad_seen.yes`).

    Until it was, every context reads `grad_enabled` as True, and ops skip reading it: a
    context-variable read costs each op about a quarter of its instructions (callgrind).
    It never changes a result, only whether an op needs to look. It stays set: a task or
    a copied context made inside `no_grad()` keeps grad off after the block has closed.
    An instance, not a class: CPython 3.11 caches attribute reads on instances.
    """

    def __init__(self) -> None:
        self.yes = False


no_grad_seen = _Seen()
# the tokens of the grad-mode blocks open in this context, innermost last
_tokens: contextvars.ContextVar[tuple[contextvars.Token[bool], ...]] = contextvars.ContextVar(
    "grad_mode_tokens", default=()
)


class _GradMode:
    """Base of `no_grad` and `enable_grad`."""

    enabled = True

    def __enter__(self) -> None:
        # the tokens live in the context, not on the instance, so that one instance can be
        # entered by several threads or tasks at once
        _tokens.set((*_tokens.get(), grad_enabled.set(self.enabled)))
        if not self.enabled:
            no_grad_seen.yes = True

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        *outer, token = _tokens.get()
        _tokens.set(tuple(outer))
        grad_enabled.reset(token)

    @overload
    def __new__(cls: type[_Mode], fn: None = None) -> _Mode: ...
    @overload
    def __new__(cls, fn: F) -> F: ...  # type: ignore[misc]  # a decorated function

    def __new__(cls, fn: Callable[..., Any] | None = None) -> Any:
        # `@no_grad` without parentheses decorates `fn` at once, as in PyTorch
        mode = super().__new__(cls)
        return mode if fn is None else mode(fn)

    def __call__(self, fn: F) -> F:
        """Use as a decorator: the function runs inside this mode.

        A generator function runs in the mode each time it is resumed (not while its
        caller works between items); a coroutine function, for as long as it runs.
        """
        mode = type(self)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
                with mode():
                    return await fn(*args, **kwargs)

            return run_coroutine  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def run_generator(*args: Any, **kwargs: Any) -> Any:
                return (yield from drive(fn(*args, **kwargs), lambda: mode()))

            return run_generator  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) in which ops record no graph; per thread and task."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (or decorator) that turns recording back on inside `no_grad`."""

    enabled = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph in the current thread / task."""
    return grad_enabled.get()
