"""microgradx.codegen: the one code generator, and the committed module it writes."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from microgradx import Value, _builtins, codegen, defprim, grad, ops
from microgradx.codegen import eager, expressions, modules
from microgradx.primitive import REGISTRY
from microgradx.rules import parse

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_builtins_module_is_what_the_table_generates() -> None:
    assert codegen.is_current(), "run: python -m microgradx.codegen"


def test_staleness_is_noticed() -> None:
    source = codegen.builtins_source()
    assert codegen.same_code(source, source)
    assert not codegen.same_code(source, source.replace("g * y", "g * x", 1))
    assert not codegen.same_code(source, source.replace("# ", "#  changed ", 1))
    # layout alone (ruff formats the committed file) is not a change
    assert codegen.same_code("f(a,\n  b)\n", "f(a, b)\n")


def test_the_generator_runs_without_importing_microgradx() -> None:
    # so that a broken generated file can always be rewritten
    out = subprocess.run(
        [sys.executable, str(ROOT / "microgradx" / "codegen" / "__main__.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "is current" in out.stdout


def test_every_method_and_the_backward_pass_have_readable_source() -> None:
    source = inspect.getsource(Value.__mul__)
    assert source.lstrip().startswith("def __mul__(self, other: Self | float) -> Self:")
    assert "self.data * node.data" in source
    assert inspect.getsourcefile(Value.__mul__) == _builtins.__file__
    kernel = inspect.getsource(_builtins.backward_kernel)
    assert "elif code == 2:  # mul" in kernel and "a._adj += g * y" in kernel
    assert inspect.getsource(_builtins.dx_tanh).endswith("return g * (1.0 - out * out)\n")


def test_a_user_ops_code_is_registered_with_linecache() -> None:
    softplus = defprim("softplus_src", "log1p(exp(x))", "g * sigmoid(x)")
    apply = inspect.getsource(softplus.functions[0])
    assert apply.startswith("def apply_softplus_src(self):")
    assert "float(_lf_log1p(_lf_exp(self.data)))" in apply
    step = inspect.getsource(REGISTRY.steps[softplus.code])
    assert "a._adj += g * _pf_sigmoid(x)" in step
    assert inspect.getsourcefile(softplus.functions[0]) == "<microgradx op softplus_src>"


def test_a_traceback_through_a_user_rule_shows_its_text() -> None:
    defprim("explodes", lambda x: 1.0 / x, "g")
    bad = defprim("bad_rule", "x", "g * explodes(x - x)")
    x = Value(1.0)
    with pytest.raises(ZeroDivisionError) as error:
        bad(x).backward()
    text = "".join(traceback.format_exception(error.value))
    assert 'File "<microgradx op bad_rule>"' in text
    assert "a._adj += g * _pf_explodes(x - x)" in text


def test_the_forms_of_a_two_input_op_and_their_codes() -> None:
    mul = REGISTRY.by_name["mul"]
    assert [f.numbers for f in mul.forms] == [(), ("y",), ("x",)]
    assert [f.nodes for f in mul.forms] == [("x", "y"), ("x",), ("y",)]
    codes = [c for c, _, _ in _builtins.FORMS]
    assert codes == list(range(1, len(codes) + 1))
    x = Value(2.0)
    assert {(x * x)._code, (x * 3.0)._code, (3.0 * x)._code} == {f.code for f in mul.forms}


def test_a_number_exponent_takes_pytorchs_shortcuts_and_a_value_exponent_pow() -> None:
    tree = parse("x ** y", ["x", "y"], [])
    assert expressions.emit(tree, "fast", {}, str, numbers=("y",)) == "_spow(x, y)"
    assert expressions.emit(tree, "fast", {}, str) == "_pow(x, y)"
    rule = parse("g * x ** (y - 1)", ["x", "y", "g"], [])
    assert "_spow(x, y - 1.0)" in expressions.emit(rule, "fast", {}, str, numbers=("y",))
    assert "_pow(x, y - 1.0)" in expressions.emit(rule, "fast", {}, str)


def test_the_modes_of_one_rule() -> None:
    tree = parse("0.0 if out <= 0 else g / x", ["x", "out", "g"], [])
    assert expressions.emit(tree, "fast", {}, str) == "0.0 if out <= 0.0 else g / x"
    assert expressions.emit(tree, "safe", {}, str) == "0.0 if out <= 0.0 else _div(g, x)"
    value = expressions.emit(tree, "value", {}, str)
    assert value == "_linked(0.0, (out,), (out, x)) if _data(out) <= _data(0) else g / x"


def test_generated_source_compiles_and_every_docstring_fits_the_line() -> None:
    source = codegen.builtins_source()
    ast.parse(source)
    for line in Path(_builtins.__file__).read_text().splitlines():
        assert len(line) <= 100, line
    lines = eager.doc_lines("a " * 60, "    ")
    assert len(lines) >= 3 and all(len(line) <= 100 for line in lines)


def test_float_rules_and_value_rules_agree() -> None:
    for prim in (REGISTRY.by_name[row.name] for row in ops.TABLE):
        for form in prim.forms:
            x = Value(0.7)
            y = Value(1.3)
            args = (x, y)[: prim.arity]
            for which, rule in prim.float_rules[form.code]:
                i = "xy".index(which)
                v = prim(*args)
                want = rule(1.5, 0.7, 1.3 if prim.arity == 2 else None, v.data)
                got = prim.value_rules[i](1.5, x, y if prim.arity == 2 else None, v)
                assert abs(want - (got.data if isinstance(got, Value) else got)) <= 1e-15


def test_user_op_source_is_written_by_the_same_generator() -> None:
    spec = codegen.Spec(
        "twice_spec", "2 * x", ("2 * g",), "twice_spec", (),
        parse("2 * x", ["x"], []), (parse("2 * g", ["x", "out", "g"], []),),
    )  # fmt: skip
    source = modules.user_op_source(spec, eager.forms_of(spec, 1000), lambda f: False)
    assert "def apply_twice_spec(self):" in source and "def step_twice_spec(v, g):" in source
    assert "def dx_twice_spec(g: float, x: float, y: float, out: float) -> float:" in source
    ast.parse(source)


def test_grad_of_generated_rules_on_values() -> None:
    x = Value(0.3)
    (d1,) = grad(x.tanh(), [x], create_graph=True)
    (d2,) = grad(d1, [x])
    t = (0.3).__class__(__import__("math").tanh(0.3))
    assert abs(d2.data - (-2 * t * (1 - t * t))) < 1e-15
