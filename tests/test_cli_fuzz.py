"""Fuzzing the expression parser and the command line: a result or a clean refusal, always.

Random strings (any Unicode, lone surrogates included, as a command line that is not UTF-8
gives them to Python) and random Python syntax trees (every kind of expression node, numbers
of any size) go through `parse`, `evaluate` and `microgradx diff` / `draw`. Whatever comes
in, the outcome is a parsed expression or an `ExpressionError`, and exit code 0 with the
numbers or exit code 2 with one line on stderr; never another exception or a traceback.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from microgradx import Value
from microgradx.cli import main
from microgradx.expr import ExpressionError, functions, parse

FUNCTIONS = sorted(functions())
NAMES = ["x", "y", "z2", "π", "ﬁ", "_x", "__class__", "True", "None", "eval", "open", "math"]

# -- random syntax trees ---------------------------------------------------------------------

_numbers: st.SearchStrategy[Any] = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**420),  # past the largest float
    st.floats(),  # inf and nan unparse as 1e309 and (1e309-1e309)
    st.complex_numbers(max_magnitude=10),
)
_constants = st.one_of(
    _numbers, st.sampled_from([True, None, "s", b"b", ...]), st.text(max_size=3)
).map(ast.Constant)
_names = st.sampled_from(NAMES + FUNCTIONS).map(lambda n: ast.Name(n, ast.Load()))
_binops = st.sampled_from(
    [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod, ast.MatMult, ast.BitOr]
)
_unaryops = st.sampled_from([ast.USub, ast.UAdd, ast.Not, ast.Invert])


def _calls(inner: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    func = st.one_of(
        st.sampled_from([*FUNCTIONS, "open", "x"]).map(lambda n: ast.Name(n, ast.Load())),
        st.builds(ast.Attribute, value=_names, attr=st.sampled_from(["exp", "real"])),
    )
    args = st.lists(st.one_of(inner, inner.map(lambda e: ast.Starred(e, ast.Load()))), max_size=2)
    keywords = st.lists(st.builds(ast.keyword, arg=st.just("x"), value=inner), max_size=1)
    return st.builds(ast.Call, func=func, args=args, keywords=keywords)


def _nodes(inner: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    return st.one_of(
        st.builds(ast.BinOp, left=inner, op=_binops.map(lambda op: op()), right=inner),
        st.builds(ast.UnaryOp, op=_unaryops.map(lambda op: op()), operand=inner),
        _calls(inner),
        st.builds(
            ast.Compare,
            left=inner,
            ops=st.just([ast.Lt()]),
            comparators=st.lists(inner, min_size=1, max_size=1),
        ),
        st.builds(ast.IfExp, test=inner, body=inner, orelse=inner),
        st.builds(ast.Subscript, value=inner, slice=inner),
        st.builds(ast.Tuple, elts=st.lists(inner, max_size=2), ctx=st.just(ast.Load())),
    )


_any_trees = st.recursive(st.one_of(_constants, _names), _nodes, max_leaves=10)

# trees of allowed parts only, so that most of them reach evaluation and derivatives
_allowed_leaves = st.one_of(
    st.one_of(
        st.integers(-5, 5), st.floats(), _numbers.filter(lambda n: not isinstance(n, complex))
    ).map(ast.Constant),
    st.sampled_from(["x", "y", "π"]).map(lambda n: ast.Name(n, ast.Load())),
)


def _allowed_nodes(inner: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
    ops = st.sampled_from([ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow]).map(lambda op: op())
    call = st.builds(
        lambda name, arg: ast.Call(ast.Name(name, ast.Load()), [arg], []),
        st.sampled_from(FUNCTIONS),
        inner,
    )
    return st.one_of(
        st.builds(ast.BinOp, left=inner, op=ops, right=inner),
        st.builds(ast.UnaryOp, op=st.sampled_from([ast.USub(), ast.UAdd()]), operand=inner),
        call,
    )


_allowed_trees = st.recursive(_allowed_leaves, _allowed_nodes, max_leaves=10)
_trees = _allowed_trees | _any_trees


def _source(tree: ast.expr) -> str:
    return ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))


# -- how the tool is run ---------------------------------------------------------------------


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own refusals (an option it does not know)
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _assert_clean(code: int, out: str, err: str) -> None:
    if code == 0:
        assert err == "" and out.endswith("\n")
        for line in out.splitlines()[1:]:
            if " = " in line and not line.startswith(" "):
                float(line.rsplit(" = ", 1)[1])  # each value printed is a number
        return
    assert code == 2, (code, out, err)
    assert out == ""
    if err.startswith("usage: "):  # argparse: its usage lines, then one error line
        assert err.splitlines()[-1].startswith("microgradx ") and "error: " in err
    else:
        assert err.count("\n") == 1 and err.startswith("microgradx: error: "), err
    assert "Traceback" not in err


_values = st.one_of(st.floats().map(repr), st.integers().map(str), st.text(max_size=4))


@st.composite
def _command(draw: st.DrawFn, sources: st.SearchStrategy[str]) -> list[str]:
    source = draw(sources)
    names = sorted(
        {n for n in NAMES + FUNCTIONS if n in source and n.isidentifier()} - set(FUNCTIONS)
    )
    if draw(st.integers(0, 4)) == 0:  # now and then leave some out, or give another
        given = draw(st.lists(st.sampled_from([*names, "w"]), unique=True))
    else:
        given = names
    at = ",".join(f"{n}={draw(_values)}" for n in given)
    argv = ["diff", source]
    if draw(st.booleans()):  # past "--", a leading "-" is no option
        argv = ["diff", "--", source]
    if at:
        argv[1:1] = ["--at", at]
    argv[1:1] = ["--order", str(draw(st.integers(-1, 3)))]
    return argv


_text = st.text(
    st.characters(exclude_categories=()) | st.sampled_from("xy0123456789.e+-*/() "),
    max_size=40,
)


# texts at the limits: long runs of one fragment around a core (deep nesting, long numbers,
# many nodes, unbalanced brackets)
_FRAGMENTS = ["-", "+", "(", ")", "exp(", "x**", "x*", "*x", "+x", "**2", " ", "9", "0.", "e9"]
_stress = st.builds(
    lambda head, n, core, tail, m: head * n + core + tail * m,
    st.sampled_from(_FRAGMENTS),
    st.integers(0, 500),
    st.sampled_from(["x", "1", "", "9" * 310, "1e308", "x ** 1024.5"]),
    st.sampled_from(_FRAGMENTS),
    st.integers(0, 500),
)
_texts = _text | _stress

# -- the parser ------------------------------------------------------------------------------


def _parse_and_evaluate(source: str) -> None:
    try:
        expression = parse(source)
    except ExpressionError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert all(v.isidentifier() and not v.startswith("_") for v in expression.variables)
    out = expression.evaluate({v: 1.5 for v in expression.variables})
    assert isinstance(out, Value) and isinstance(out.data, float)


@settings(max_examples=400, deadline=None)
@given(_texts)
@example("9" * 401 + " * x")
@example("x # \udcff")
def test_parse_any_text(source: str) -> None:
    _parse_and_evaluate(source)


@settings(max_examples=400, deadline=None)
@given(_trees)
def test_parse_any_syntax_tree(tree: ast.expr) -> None:
    _parse_and_evaluate(_source(tree))


# -- the command line ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(_command(_texts))
@example(["diff", "9" * 401 + " * x", "--at", "x=1"])
@example(["diff", "\udcff", "--at", "x=1"])
def test_diff_any_text(argv: list[str]) -> None:
    _assert_clean(*_run(argv))


@settings(max_examples=200, deadline=None)
@given(_command(_trees.map(_source)))
def test_diff_any_syntax_tree(argv: list[str]) -> None:
    _assert_clean(*_run(argv))


@settings(max_examples=25, deadline=None)
@given(_command(_trees.map(_source)))
def test_draw_any_syntax_tree(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "g.svg"
        argv = ["draw", "-o", str(target), *[a for a in argv[1:] if a]]
        # draw has no --order: drop it and its value
        i = argv.index("--order")
        del argv[i : i + 2]
        code, out, err = _run(argv)
        _assert_clean(code, out, err)
        assert target.exists() == (code == 0)


def test_the_fuzzers_reach_results_and_refusals() -> None:
    # the strategies are not all refusals: a sample of trees parses, and runs
    results = refusals = 0
    for source in ["x ** 2 + tanh(y)", "π * 2", "exp(x) / (1 - x)", "9" * 401 + " * x"]:
        try:
            parse(source)
            results += 1
        except ExpressionError:
            refusals += 1
    assert (results, refusals) == (3, 1)
    assert math.isfinite(parse("π * 2").evaluate({"π": 1.0}).data)
