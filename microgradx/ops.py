"""The table of built-in primitive ops: each op defined once, as data.

A row is an op's name, its forward expression, and one derivative rule per input, written
in the rule language of `microgradx.rules` (names `x`, `y`, `out`, `g`). A rule is the
vector-Jacobian product: what the input receives when `g` arrives at the output. For
`mul`, `x` receives `g * y` and `y` receives `g * x`.

Every other part of the engine is written from this table: `python -m microgradx.codegen`
turns it into `microgradx/_builtins.py` (the `Value` operators, the backward pass on
floats, the rules on Values for higher derivatives), and forward mode and `compile` read
the same rows. A user-defined op (`microgradx.defprim`) becomes a row of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One primitive op: forward expression, one rule per input, and how it shows on Value.

    `symbol` is micrograd's `_op` text (`"*"`); `methods` are the `Value` methods that
    apply it (for a two-input op the second is the reflected operator, such as
    `__radd__`, used when a plain number is on the left).
    """

    name: str
    forward: str
    rules: tuple[str, ...]
    symbol: str
    methods: tuple[str, ...]


def row(
    name: str, forward: str, *rules: str, symbol: str = "", methods: tuple[str, ...] = ()
) -> Row:
    """A row of the table; the symbol and the method default to the op's name."""
    return Row(name, forward, rules, symbol or name, methods or (name,))


# The most used first: the backward pass tests the ops in this order.
# fmt: off
TABLE: tuple[Row, ...] = (
    #   name       forward                 rule for x                        rule for y
    row("add",     "x + y",                "g",                              "g",
        symbol="+", methods=("__add__", "__radd__")),
    row("mul",     "x * y",                "g * y",                          "g * x",
        symbol="*", methods=("__mul__", "__rmul__")),
    row("relu",    "0.0 if x < 0 else x",  "0.0 if out <= 0 else g",
        symbol="ReLU"),
    row("sub",     "x - y",                "g",                              "-g",
        symbol="-", methods=("__sub__", "__rsub__")),
    row("neg",     "-x",                   "-g",
        methods=("__neg__",)),
    row("div",     "x / y",                "g / y",                          "-g * (out / y)",
        symbol="/", methods=("__truediv__", "__rtruediv__")),
    row("pow",     "x ** y",               "0.0 if y == 0 else g * (y * x ** (y - 1))",
                                           "g * (0.0 if x == 0 and y >= 0 else out * log(x))",
        symbol="**", methods=("__pow__", "__rpow__")),
    row("exp",     "exp(x)",               "g * out"),
    row("log",     "log(x)",               "g / x"),
    row("sqrt",    "sqrt(x)",              "g / (2 * out)"),
    row("tanh",    "tanh(x)",              "g * (1 - out * out)"),
    row("sigmoid", "sigmoid(x)",           "g * (1 - out) * out"),
    row("sin",     "sin(x)",               "g * cos(x)"),
    row("cos",     "cos(x)",               "g * -sin(x)"),
    row("sign",    "sign(x)",              "0.0"),
    row("abs",     "abs(x)",               "g * sign(x)",
        methods=("__abs__",)),
)
# fmt: on

BY_NAME: dict[str, Row] = {r.name: r for r in TABLE}
