"""IEEE 754 float functions: results instead of Python's exceptions.

Python's ``math`` module raises ``ValueError`` or ``OverflowError`` where IEEE 754 (and
PyTorch) return ``nan`` or ``inf``. The engine first tries the plain operation and only
calls these when it raised, so the common case pays nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

inf = math.inf
nan = math.nan


def div(x: float, y: float) -> float:
    """``x / y`` with ``1/0 = inf``, ``-1/0 = -inf`` and ``0/0 = nan``."""
    try:
        return x / y
    except ZeroDivisionError:
        if x != x or x == 0.0:
            return nan
        return math.copysign(inf, x) * math.copysign(1.0, y)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def pow(x: float, y: float) -> float:
    """``x ** y`` as PyTorch computes it, with IEEE results (``(-8) ** (1/3) = nan``).

    Like PyTorch, ``y = 2`` and ``3`` multiply, ``0.5``, ``-0.5``, ``-1`` and ``-2`` use
    ``sqrt`` and division (each can differ from C's ``pow`` in the last bit); other
    exponents use C's ``pow``, with ``0 ** -1 = inf`` and never a complex number.
    """
    if y == 2.0:
        return x * x
    if y == 3.0:
        return x * x * x
    if y == -1.0:
        return div(1.0, x)
    if y == 0.5:
        return sqrt(x)
    if y == -0.5:
        return div(1.0, sqrt(x))
    if y == -2.0:
        return div(1.0, x * x)
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0.0:  # zero to a negative power
            return math.copysign(inf, x) if _is_odd_integer(y) else inf
        return nan  # negative base, non-integer exponent
    except OverflowError:
        return -inf if x < 0.0 and _is_odd_integer(y) else inf


def exp(x: float) -> float:
    """``e ** x``; ``inf`` on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x: float) -> float:
    """Natural logarithm: ``log(0) = -inf``, ``log(x < 0) = nan``."""
    try:
        return math.log(x)
    except ValueError:
        return -inf if x == 0.0 else nan


def sqrt(x: float) -> float:
    """Square root: ``sqrt(x < 0) = nan``."""
    try:
        return math.sqrt(x)
    except ValueError:
        return nan


def sin(x: float) -> float:
    """Sine: ``sin(±inf) = nan``."""
    try:
        return math.sin(x)
    except ValueError:
        return nan


def cos(x: float) -> float:
    """Cosine: ``cos(±inf) = nan``."""
    try:
        return math.cos(x)
    except ValueError:
        return nan


def sigmoid(x: float) -> float:
    """``1 / (1 + e**-x)``, the logistic function as PyTorch computes it; 0.0 on overflow."""
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # x < -709.78: PyTorch's 1 / inf
        return 0.0


def sign(x: float) -> float:
    """-1.0, 0.0 or 1.0 by the sign of ``x``; 0.0 for ``nan``, as ``torch.sign``.

    So ``abs``'s derivative ``g * sign(x)`` is 0 at nan, as in PyTorch.
    """
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x * 0.0 if x == x else 0.0  # ±0 stays ±0


def relu(x: float) -> float:
    """``max(x, 0)``, keeping ``nan``."""
    return 0.0 if x <= 0.0 else x


def guarded(f: Callable[..., float]) -> Callable[..., float]:
    """Wrap a ``math`` function so that a domain error gives ``nan`` and overflow ``inf``."""

    def safe(*args: float) -> float:
        try:
            return f(*args)
        except ValueError:
            return nan
        except OverflowError:
            return inf

    safe.__name__ = getattr(f, "__name__", "safe")
    safe.__doc__ = f"IEEE version of {safe.__name__}: nan on a domain error, inf on overflow."
    return safe
