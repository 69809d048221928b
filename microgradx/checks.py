"""Input validators shared by the whole package: a wrong argument is refused at once, with
a `TypeError` or `ValueError` that names what was expected and what was received."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from typing import Any


def to_flag(x: object, name: str) -> bool:
    """`x` if it is a bool, or `TypeError` naming what was received."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__}")
    return x


def to_float(x: object, where: str) -> float:
    """`x` as a Python float, or `TypeError` naming what was received.

    An int too large for a float becomes an infinity of its sign.
    """
    if isinstance(x, float):
        return float(x)
    if isinstance(x, numbers.Real):  # bool, int, Fraction, numpy integer and floating
        try:
            return float(x)
        except OverflowError:  # an int too large for a float
            return float("inf") if x > 0 else float("-inf")  # type: ignore[operator]
    raise TypeError(f"{where}: expected a real number (int, float or bool), got {type(x).__name__}")


def to_real(x: object, name: str, finite: bool = False) -> float:
    """`x` as a float if it is a real number (not a bool), else `TypeError`; with `finite`,
    `ValueError` for inf and nan."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number (int or float), got {type(x).__name__}")
    value = float(x)
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return value


def to_count(n: object, name: str, minimum: int = 1) -> int:
    """`n` if it is an int (not a bool) of at least `minimum`, else `TypeError`/`ValueError`."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n}")
    return n


def to_rng(seed: object) -> random.Random | Any:
    """The source of random numbers for `seed`: an int seeds a new `random.Random`, a
    `random.Random` is used as it is, and None means the `random` module itself."""
    if seed is None:
        return random
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, int) and not isinstance(seed, bool):
        return random.Random(seed)
    raise TypeError(f"seed must be an int, a random.Random or None, got {type(seed).__name__}")


def one_of(value: object, name: str, choices: Sequence[str]) -> str:
    """`value` if it is one of the strings `choices`, else `ValueError` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return value
