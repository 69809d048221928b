"""microgradx.rules: the rule language the table is written in."""

from __future__ import annotations

import ast

import pytest

from microgradx import rules
from microgradx.ieee import LIBRARY

NAMES = ["x", "y", "out", "g"]


def test_a_rule_parses_into_a_tree() -> None:
    tree = rules.parse("g * (1 - out * out)", NAMES, [])
    assert isinstance(tree, ast.BinOp)
    assert rules.names_used(tree) == {"g", "out"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x +", "cannot parse"),
        ("g\0", "null character"),
        ("g * z", "unknown name 'z'"),
        ("g * cosh(x)", "unknown function 'cosh'"),
        ("g * exp", "unknown name 'exp'"),
        ("g.data", "Attribute"),
        ("g if x else 0.0", "condition"),
        ("g * (x or 1)", "comparisons"),
        ("'g'", "constants"),
        ("g * True", "constants"),
        ("exp(x=g)", "plain calls"),
        ("(z := g)", "NamedExpr"),
        ("g @ x", "MatMult"),
        ("g if x is 0 else g", "comparisons"),
    ],
)
def test_what_the_language_refuses(source: str, message: str) -> None:
    with pytest.raises(rules.RuleError, match=message):
        rules.parse(source, NAMES, ["exp"])


def test_a_rule_is_a_value_error_and_must_be_a_string() -> None:
    assert issubclass(rules.RuleError, ValueError)
    with pytest.raises(rules.RuleError, match="expected an expression string, got int"):
        rules.parse(3, NAMES, [])  # type: ignore[arg-type]


def test_parse_expression_is_the_one_parsing_step() -> None:
    class RefusedError(ValueError):
        pass

    assert isinstance(rules.parse_expression(" x + 1 ", RefusedError, "it"), ast.BinOp)
    for bad, message in [("x\0", "null character"), ("(", "cannot parse it"), ("(" * 300, "it")]:
        with pytest.raises(RefusedError, match=message):
            rules.parse_expression(bad, RefusedError, "it")


def test_conditions_and_calls() -> None:
    assert rules.is_condition(ast.parse("x > 0 and not y < 1", mode="eval").body)
    assert not rules.is_condition(ast.parse("x", mode="eval").body)
    tree = rules.parse("g * sin(x) + cos(y)", NAMES, ["sin", "cos"])
    assert sorted(rules.callee(c) for c in rules.calls(tree)) == ["cos", "sin"]
    assert rules.is_library_call(rules.parse("exp(x)", ["x"], LIBRARY), ["x"]) == "exp"
    assert rules.is_library_call(rules.parse("exp(2 * x)", ["x"], LIBRARY), ["x"]) is None


def test_which_rules_may_raise_on_plain_floats() -> None:
    def raising(f: str) -> bool:
        return f == "log"

    assert rules.may_raise(rules.parse("g / x", NAMES, []), raising)
    assert rules.may_raise(rules.parse("g * log(x)", NAMES, ["log"]), raising)
    assert not rules.may_raise(rules.parse("g * x ** 2", NAMES, []), raising)  # IEEE pow
    assert not rules.may_raise(rules.parse("g * sin(x)", NAMES, ["sin"]), raising)
