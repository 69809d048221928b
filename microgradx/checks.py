"""Input validators shared by the whole package: a wrong argument is refused at once, with
a `TypeError` or `ValueError` that names what was expected and what was received."""

from __future__ import annotations

import numbers


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
