"""microgradx.ieee: IEEE 754 results where Python raises, and PyTorch's pow."""

from __future__ import annotations

import math

import pytest

from microgradx import ieee

inf, nan = math.inf, math.nan


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [(1.0, 0.0, inf), (-1.0, 0.0, -inf), (1.0, -0.0, -inf), (0.0, 0.0, nan), (nan, 0.0, nan),
     (6.0, 3.0, 2.0)],
)  # fmt: skip
def test_div(x: float, y: float, expected: float) -> None:
    assert same(ieee.div(x, y), expected)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [(0.0, -1.0, inf), (-0.0, -1.0, -inf), (-0.0, -0.5, inf), (-8.0, 1 / 3, nan),
     (10.0, 400.0, inf), (-10.0, 401.0, -inf), (-inf, 0.5, inf), (0.3, 3.0, math.pow(0.3, 3.0))],
)  # fmt: skip
def test_pow_is_c_pow_with_ieee_results(x: float, y: float, expected: float) -> None:
    assert same(ieee.pow(x, y), expected)


def test_scalar_pow_takes_pytorchs_shortcuts() -> None:
    assert ieee.scalar_pow(0.3, 3.0) == 0.3 * 0.3 * 0.3 != ieee.pow(0.3, 3.0)
    assert ieee.scalar_pow(2.0, 0.5) == math.sqrt(2.0)
    assert same(ieee.scalar_pow(-0.0, -0.5), -inf)  # 1 / sqrt(-0.0), as PyTorch's rsqrt
    assert same(ieee.pow(-0.0, -0.5), inf)
    assert same(ieee.scalar_pow(-inf, 0.5), nan) and same(ieee.pow(-inf, 0.5), inf)
    assert ieee.scalar_pow(1.5, 1.7) == ieee.pow(1.5, 1.7)


@pytest.mark.parametrize(
    ("f", "x", "expected"),
    [(ieee.log, 0.0, -inf), (ieee.log, -1.0, nan), (ieee.exp, 1000.0, inf), (ieee.sqrt, -1.0, nan),
     (ieee.sin, inf, nan), (ieee.cos, -inf, nan), (ieee.sigmoid, -1000.0, 0.0),
     (ieee.sign, -0.0, 0.0), (ieee.sign, nan, 0.0), (ieee.relu, nan, nan), (ieee.relu, -0.0, 0.0)],
)  # fmt: skip
def test_unary_functions_give_results_not_exceptions(f: object, x: float, expected: float) -> None:
    assert callable(f)
    assert same(f(x), expected)


def test_the_library_has_a_safe_form_of_every_math_function() -> None:
    for name, (fast, safe, _) in ieee.LIBRARY.items():
        assert callable(fast) and callable(safe), name
    assert ieee.LIBRARY["log2"][1](0.0) == -inf and math.isnan(ieee.LIBRARY["acos"][1](2.0))
    assert not ieee.LIBRARY["tanh"][2] and ieee.LIBRARY["exp"][2]
