"""The command-line tool and its safe expression parser."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradx import Value
from microgradx.cli import main
from microgradx.expr import ExpressionError, parse


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_one_variable_second_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", "x**3 - 5*x**2 + 7*x - 1", "--at", "x=1", "--order", "2")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "f(x) = x**3 - 5*x**2 + 7*x - 1   at x = 1",
        "f = 2",
        "f' = 0",
        "f'' = -4",
    ]


def test_diff_at_the_other_stationary_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "x**3 - 5*x**2 + 7*x - 1", "--at", "x=2.5", "--order", "3")
    lines = out.splitlines()
    # f'(2.5) = 3*6.25 - 25 + 7 = 0.75, f''(2.5) = 15 - 10 = 5, f''' = 6
    assert code == 0 and lines[2:] == ["f' = 0.75", "f'' = 5", "f''' = 6"]


def test_diff_high_orders_are_named_by_number(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "exp(2*x)", "--at", "x=0", "--order", "5")
    assert code == 0
    assert out.splitlines()[-2:] == ["f(4) = 16", "f(5) = 32"]


def test_diff_several_variables_gradient_and_hessian(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "x*y + exp(x)", "--at", "x=0,y=2", "--order", "2")
    lines = out.splitlines()
    assert code == 0
    assert lines[1] == "f = 1"
    assert lines[2:5] == ["gradient:", "  df/dx = 3", "  df/dy = 0"]
    assert lines[5] == "Hessian:"
    assert lines[7].split() == ["x", "1", "1"] and lines[8].split() == ["y", "1", "0"]


def test_diff_repeated_at_and_default_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "a / b", "--at", "a=1", "--at", "b=4")
    assert code == 0
    assert out.splitlines()[2:] == ["gradient:", "  df/da = 0.25", "  df/db = -0.0625"]


def test_diff_follows_the_ieee_edges(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", "sqrt(x)", "--at", "x=0")
    assert code == 0 and out.splitlines()[1:] == ["f = 0", "f' = inf"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("x.real", "not allowed"),
        ("__import__('os')", "unknown function"),
        ("import os", "cannot parse"),
        ("lambda: 1", "not allowed"),
        ("10**10**10", "exponent too large"),
        ("2 ** 5000", "exponent too large"),
        ("x[0]", "not allowed"),
        ("x if x else 1", "not allowed"),
        ("'text'", "only numbers"),
        ("x < 1", "not allowed"),
        ("x // 2", "operator not allowed"),
        ("not x", "operator not allowed"),
        ("exp", "is a function"),
        ("exp(x, x)", "exactly one argument"),
        ("open('f')", "unknown function"),
        ("x" + " + x" * 600, "too long"),
        ("x" + " * x" * 150, "nested too deeply"),
        ("", "empty expression"),
        ("1e999 * x", "out of range"),
        ("_x", "may not start with '_'"),
    ],
)
def test_refused_expressions_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], expression: str, message: str
) -> None:
    code, out, err = run(capsys, "diff", expression, "--at", "x=1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("microgradx: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff", "x*y", "--at", "x=1"], "no value for y"),
        (["diff", "x", "--at", "x=1,z=2"], "does not use"),
        (["diff", "x", "--at", "x=abc"], "expected a number"),
        (["diff", "x", "--at", "x"], "name=number"),
        (["diff", "x*y", "--at", "x=1,y=1", "--order", "3"], "--order is 0, 1"),
        (["diff", "x", "--at", "x=1", "--order", "11"], "--order must be between"),
    ],
)
def test_bad_values_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_draw_writes_the_diagram_with_data_and_grads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "graph.svg"
    code, out, _ = run(
        capsys, "draw", "(a*b + c) * f", "--at", "a=2,b=-3,c=10,f=-2", "-o", str(target)
    )
    assert code == 0 and out.startswith("out = -8; wrote ")
    svg = target.read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg"))
    # d out/d a = b * f = 6, d out/d f = a*b + c = 4
    for text in ("data 2.0000", "grad 6.0000", "grad 4.0000", "data &#45;8.0000"):
        assert text in svg


def test_draw_png_and_a_refused_expression(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, _ = run(capsys, "draw", "tanh(x)", "--at", "x=0.5", "-o", str(tmp_path / "g.png"))
    assert code == 0 and (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run(capsys, "draw", "x.__class__", "--at", "x=1", "-o", str(tmp_path / "h.svg"))
    assert code == 2 and "not allowed" in err and not (tmp_path / "h.svg").exists()


@pytest.mark.parametrize("name", ["graph.pdf", "graph.final", "lesson.v2"])
def test_draw_refuses_a_file_name_it_cannot_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    code, out, err = run(capsys, "draw", "x*2", "--at", "x=1", "-o", str(tmp_path / name))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"cannot draw '{name}': name a .svg or .png file, or pass --format" in err
    assert list(tmp_path.iterdir()) == []
    code, out, _ = run(capsys, "draw", "x*2", "--at", "x=1", "-o", str(tmp_path / "lesson.v2"),
                       "--format", "png")  # fmt: skip
    assert code == 0 and (tmp_path / "lesson.v2.png").read_bytes()[:4] == b"\x89PNG"


def test_draw_without_graphviz_names_the_extra_to_install(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "microgradx.viz.digraph", raising=False)
    code, out, err = run(capsys, "draw", "x*2", "--at", "x=1", "-o", str(tmp_path / "g.svg"))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("microgradx: error: ") and 'pip install "microgradx[viz]"' in err
    assert list(tmp_path.iterdir()) == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from microgradx import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"microgradx {__version__}\n"


def test_python_dash_m_and_the_console_script(tmp_path: Path) -> None:
    argv = ["diff", "x**2", "--at", "x=3"]
    via_module = subprocess.run(
        [sys.executable, "-m", "microgradx", *argv], capture_output=True, text=True, check=False
    )
    assert via_module.returncode == 0 and via_module.stdout.splitlines()[1:] == ["f = 9", "f' = 6"]
    refused = subprocess.run(
        [sys.executable, "-m", "microgradx", "diff", "__import__('os').system('true')"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    script = Path(sys.executable).parent / "microgradx"
    assert script.exists(), "the console script microgradx should be installed next to python"
    via_script = subprocess.run([str(script), *argv], capture_output=True, text=True, check=False)
    assert via_script.stdout == via_module.stdout


def test_parser_evaluates_like_python_on_values() -> None:
    e = parse("-x**2 + 3*x/y - sigmoid(y) + abs(x - 5) ** 0.5")
    assert e.variables == ("x", "y")
    out = e.evaluate({"x": 2.0, "y": 4.0})
    expected = -(2.0**2) + 3 * 2.0 / 4.0 - 1 / (1 + math.exp(-4.0)) + abs(2.0 - 5) ** 0.5
    assert out.data == pytest.approx(expected, rel=1e-15)
    x, y = Value(2.0), Value(4.0)
    parse("x*y + x").evaluate({"x": x, "y": y}).backward()
    assert (x.grad, y.grad) == (5.0, 2.0)


def test_constants_in_an_expression_get_no_gradient_nodes() -> None:
    out = parse("2 * 3 + x").evaluate({"x": 1.0})
    assert out.data == 7.0
    assert [v.requires_grad for v in out.inputs] == [False, True]


def test_parse_refuses_a_non_string() -> None:
    with pytest.raises(ExpressionError, match="expected the expression as a str"):
        parse(42)  # type: ignore[arg-type]


def test_evaluate_names_a_missing_variable() -> None:
    with pytest.raises(ExpressionError, match="no value given for y"):
        parse("x + y").evaluate({"x": 1.0})


def test_a_derivative_graph_too_large_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import microgradx.cli

    monkeypatch.setattr(microgradx.cli, "MAX_NODES", 60)
    code, out, err = run(capsys, "diff", "tanh(exp(x) * sin(x))", "--at", "x=1", "--order", "6")
    assert code == 2 and out == ""
    assert "ask for a lower --order" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "diff", "tanh(exp(x) * sin(x))", "--at", "x=1", "--order", "1")
    assert code == 0


def test_draw_a_lone_variable_keeps_its_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "draw", "x", "--at", "x=3", "-o", str(tmp_path / "x.svg"))
    assert code == 0 and out.startswith("x = 3; wrote ")
    assert ">x<" in (tmp_path / "x.svg").read_text()


def test_an_expression_starting_with_minus(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "diff", " -x**2", "--at", "x=2")
    assert code == 0 and out.splitlines()[1:] == ["f = -4", "f' = -4"]
    code, out, _ = run(capsys, "diff", "-x**2 + 1", "--at", "x=-2")
    assert code == 0 and out.splitlines()[1:] == ["f = -3", "f' = 4"]


# -- properties of the parser -------------------------------------------------------------

_leaf = st.one_of(
    st.sampled_from(["x", "y"]),
    st.integers(min_value=-9, max_value=9).map(lambda n: f"({n})"),
    st.floats(min_value=0.5, max_value=4.0).map(lambda f: repr(round(f, 3))),
)
_expr = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({' '.join(t)})"),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"tanh({e})"),
    ),
    max_leaves=12,
)


@given(_expr, st.floats(-2, 2), st.floats(-2, 2))
def test_parser_agrees_with_python_arithmetic(source: str, x: float, y: float) -> None:
    expression = parse(source)
    out = expression.evaluate({"x": x, "y": y} if expression.variables else {})
    # the oracle: the same text as Python arithmetic on floats (test code, trusted input)
    expected = eval(source, {"tanh": math.tanh}, {"x": x, "y": y})
    assert out.data == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_a_null_character_is_refused_on_every_python() -> None:
    # Python 3.10's parser raises ValueError for it, later versions SyntaxError
    with pytest.raises(ExpressionError, match="null character"):
        parse("x\0 + 1")


@given(st.text(max_size=60))
def test_any_text_is_parsed_or_refused_cleanly(source: str) -> None:
    try:
        expression = parse(source)
    except ExpressionError as e:
        assert "\n" not in str(e)
    else:
        assert all(v.isidentifier() for v in expression.variables)


def test_evaluate_refuses_a_value_that_is_not_a_number() -> None:
    with pytest.raises(TypeError, match="got str"):
        parse("x + 1").evaluate({"x": "2"})  # type: ignore[dict-item]


# -- numbers too large, text that is not text, names as Python reads them ------------------


def test_a_huge_integer_literal_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", "1" * 401 + " * x", "--at", "x=1")
    assert (code, out) == (2, "")
    assert err == (
        "microgradx: error: number out of range: an integer of 401 digits "
        "(floats reach about 1.8e308)\n"
    )
    for source in ("x ** " + "9" * 400, "exp(" + "9" * 309 + ")", "0x" + "f" * 300):
        code, out, err = run(capsys, "diff", source, "--at", "x=1")
        assert code == 2 and out == "" and "number out of range" in err and err.count("\n") == 1
    # the largest integers that are floats still work
    code, out, _ = run(capsys, "diff", str(2**1023) + " * x", "--at", "x=1")
    assert code == 0 and out.splitlines()[1] == "f = 8.98846567431e+307"


def test_the_console_refuses_a_huge_integer_and_bytes_that_are_not_utf8() -> None:
    for source in [("1" * 401 + " * x").encode(), b"x + \xff", b"x # \xfe"]:
        refused = subprocess.run(
            [sys.executable, "-m", "microgradx", "diff", source, "--at", "x=1"],
            capture_output=True,
            check=False,
        )
        assert refused.returncode == 2 and refused.stdout == b""
        assert refused.stderr.startswith(b"microgradx: error: ")
        assert refused.stderr.count(b"\n") == 1 and b"Traceback" not in refused.stderr


def test_a_lone_surrogate_is_refused_with_its_position() -> None:
    with pytest.raises(ExpressionError, match=r"not valid text \(U\+DCFF at position 4"):
        parse("x + \udcff")


def test_at_names_are_read_as_python_reads_identifiers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Python's parser folds "ﬁ" (a ligature) to "fi" (NFKC); so does --at
    code, out, _ = run(capsys, "diff", "ﬁ * 2", "--at", "ﬁ=3")
    assert code == 0 and out.splitlines()[1:] == ["f = 6", "f' = 2"]


def test_a_variable_given_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", "x", "--at", "x=1", "--at", "x=2")
    assert (code, out) == (2, "")
    assert err == "microgradx: error: --at gives x twice (x=1 and x=2)\n"
