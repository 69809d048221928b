"""IEEE 754 float functions: results instead of Python's exceptions.

Python's `math` module raises `ValueError` or `OverflowError` where IEEE 754 (and
PyTorch) return `nan` or `inf`. The engine first tries the plain operation and only
calls these when it raised, so the common case pays nothing. `LIBRARY` lists every
function a forward expression may call.
"""

from __future__ import annotations

import math
from collections.abc import Callable

inf = math.inf
nan = math.nan


def div(x: float, y: float) -> float:
    """`x / y` with `1/0 = inf`, `-1/0 = -inf` and `0/0 = nan`."""
    try:
        return x / y
    except ZeroDivisionError:
        if x != x or x == 0.0:
            return nan
        return math.copysign(inf, x) * math.copysign(1.0, y)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def pow(x: float, y: float) -> float:
    """`x ** y` by C's `pow` with IEEE results: `0 ** -1 = inf`, `(-8) ** (1/3) = nan`.

    What PyTorch computes for a tensor exponent (`torch.pow(Tensor, Tensor)`); never a
    complex number, never an exception.
    """
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0.0:  # zero to a negative power
            return math.copysign(inf, x) if _is_odd_integer(y) else inf
        return nan  # negative base, non-integer exponent
    except OverflowError:
        return -inf if x < 0.0 and _is_odd_integer(y) else inf


def scalar_pow(x: float, y: float) -> float:
    """`x ** y` for a plain-number exponent `y`, as PyTorch computes it.

    PyTorch (`torch.pow(Tensor, Scalar)`) multiplies for `y = 2` and `3`, and uses
    `sqrt` and division for `0.5`, `-0.5`, `-1` and `-2` (each can differ from C's `pow`
    in the last bit, and at `-0.0`); other exponents go to `pow`.
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
    return pow(x, y)


def exp(x: float) -> float:
    """`e ** x`; `inf` on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x: float, base: float | None = None) -> float:
    """Natural logarithm (or to `base`): `log(0) = -inf`, `log(x < 0) = nan`."""
    if base is not None:
        return div(log(x), log(base))
    try:
        return math.log(x)
    except ValueError:
        return -inf if x == 0.0 else nan


def sqrt(x: float) -> float:
    """Square root: `sqrt(x < 0) = nan`."""
    try:
        return math.sqrt(x)
    except ValueError:
        return nan


def sin(x: float) -> float:
    """Sine: `sin(±inf) = nan`."""
    try:
        return math.sin(x)
    except ValueError:
        return nan


def cos(x: float) -> float:
    """Cosine: `cos(±inf) = nan`."""
    try:
        return math.cos(x)
    except ValueError:
        return nan


def sigmoid(x: float) -> float:
    """`1 / (1 + e**-x)`, the logistic function as PyTorch computes it; 0.0 on overflow."""
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # x < -709.78: PyTorch's 1 / inf
        return 0.0


def sign(x: float) -> float:
    """-1.0, 0.0 or 1.0 by the sign of `x`; 0.0 for `nan` and for `-0.0`, as
    `torch.sign`.

    So `abs`'s derivative `g * sign(x)` is 0 at nan, as in PyTorch.
    """
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


def relu(x: float) -> float:
    """`max(x, 0)`, keeping `nan`."""
    return 0.0 if x <= 0.0 else x


def _nan(*args: float) -> float:
    return nan


def _inf(*args: float) -> float:
    return inf


def guarded(
    f: Callable[..., float],
    domain: Callable[..., float] = _nan,
    overflow: Callable[..., float] = _inf,
) -> Callable[..., float]:
    """Wrap a `math` function: on a domain error return `domain(*args)` (default nan),
    on overflow `overflow(*args)` (default inf)."""

    def safe(*args: float) -> float:
        try:
            return f(*args)
        except ValueError:
            return domain(*args)
        except OverflowError:
            return overflow(*args)

    safe.__name__ = getattr(f, "__name__", "safe")
    safe.__doc__ = f"IEEE version of {safe.__name__}: no ValueError or OverflowError."
    return safe


def _pole_at_zero(x: float, *base: float) -> float:
    return -inf if x == 0.0 else nan


# the math functions whose poles or overflows have an answer other than nan / +inf
SPECIAL: dict[str, Callable[..., float]] = {
    "log2": guarded(math.log2, _pole_at_zero),
    "log10": guarded(math.log10, _pole_at_zero),
    "log1p": guarded(math.log1p, lambda x: -inf if x == -1.0 else nan),
    "atanh": guarded(math.atanh, lambda x: math.copysign(inf, x) if abs(x) == 1.0 else nan),
    "lgamma": guarded(math.lgamma, _inf),  # its poles: 0, -1, -2, ...
    "gamma": guarded(math.gamma, lambda x: math.copysign(inf, x) if x == 0.0 else nan),
    "sinh": guarded(math.sinh, overflow=lambda x: math.copysign(inf, x)),
    "ldexp": guarded(math.ldexp, overflow=lambda x, i: math.copysign(inf, x)),
}


# -- the functions a forward expression may call ----------------------------------------

FloatFn = Callable[..., float]

#: name -> (fast, IEEE-safe, whether the fast one may raise): every public function of
#: `math`, with IEEE versions, and the primitives' own float functions
LIBRARY: dict[str, tuple[FloatFn, FloatFn, bool]] = {
    name: (fn, guarded(fn), True)
    for name, fn in vars(math).items()
    if callable(fn) and not name.startswith("_")
}
LIBRARY.update({name: (getattr(math, name), safe, True) for name, safe in SPECIAL.items()})
LIBRARY.update(
    exp=(math.exp, exp, True),
    log=(math.log, log, True),
    sqrt=(math.sqrt, sqrt, True),
    sin=(math.sin, sin, True),
    cos=(math.cos, cos, True),
    tanh=(math.tanh, math.tanh, False),
    sigmoid=(sigmoid, sigmoid, False),
    sign=(sign, sign, False),
    relu=(relu, relu, False),
    abs=(abs, abs, False),
)
