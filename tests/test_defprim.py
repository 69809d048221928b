"""User-defined primitives: ``microgradx.defprim`` registers an op exactly like a built-in.

Registration is process-global, so every op here gets a unique name.
"""

from __future__ import annotations

import inspect
import itertools
import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import microgradx
from microgradx import Value, define, defprim, grad, no_grad
from microgradx.primitive import REGISTRY
from microgradx.rules import RuleError

_counter = itertools.count()
_RUN = uuid.uuid4().hex[:6]


def unique(base: str) -> str:
    """A name no other test (or earlier run in this process) has registered."""
    return f"{base}_{_RUN}_{next(_counter)}"


def _sig(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


# -- a user op takes part in backward like a built-in ---------------------------------------


def test_defprim_is_public():
    assert microgradx.defprim is define.defprim
    assert "defprim" in microgradx.__all__


def test_unary_op_value_gradient_and_method():
    name = unique("softplus")
    softplus = defprim(name, "log1p(exp(x))", "g * sigmoid(x)", methods=(name,))
    x = Value(0.5)
    y = getattr(x, name)()  # the method installed on Value
    z = softplus(x) * 2.0 + y  # and the primitive called directly, mixed with built-ins
    z.backward()
    assert y.data == pytest.approx(math.log1p(math.exp(0.5)), rel=1e-15)
    assert x.grad == pytest.approx(3.0 * _sig(0.5), rel=1e-15)
    assert y.op == name and y._op == name and y.inputs == (x,)
    assert REGISTRY.entry(y._code).primitive is softplus


def test_unary_op_second_derivative_through_create_graph():
    softplus = defprim(unique("softplus"), "log1p(exp(x))", "g * sigmoid(x)")
    x = Value(-0.7)
    (g,) = grad(softplus(x), [x], create_graph=True)
    (h,) = grad(g, [x])
    s = _sig(-0.7)
    assert g.data == pytest.approx(s, rel=1e-15)
    assert h.data == pytest.approx(s * (1 - s), rel=1e-14)
    x = Value(-0.7)  # backward(create_graph=True) too
    softplus(x).backward(create_graph=True)
    first = x.grad
    assert first.data == pytest.approx(s, rel=1e-15)
    first.backward()  # adds the second derivative to x.grad, as PyTorch does
    assert x.grad.data == pytest.approx(s + s * (1 - s), rel=1e-14)


def test_rule_calling_the_op_itself_gives_every_order():
    name = unique("myexp")
    myexp = defprim(name, "exp(x)", f"g * {name}(x)")
    x = Value(0.3)
    d = myexp(x)
    for _ in range(4):  # the fourth derivative of exp is exp
        (d,) = grad(d, [x], create_graph=True)
        assert d.data == pytest.approx(math.exp(0.3), rel=1e-15)


def test_binary_op_with_method_and_reflected_method():
    name = unique("hypot")
    hypot = defprim(
        name, "sqrt(x * x + y * y)", "g * x / out", "g * y / out", methods=(name, "r" + name)
    )
    a, b = Value(3.0), Value(4.0)
    c = getattr(a, name)(b)
    c.backward()
    assert (c.data, a.grad, b.grad) == (5.0, 0.6, 0.8)
    assert c.inputs == (a, b)
    # a number on either side
    b = Value(4.0)
    c = hypot(3.0, b)
    c.backward()
    assert (c.data, b.grad) == (5.0, 0.8)
    r = getattr(Value(4.0), "r" + name)(3.0)  # reflected: 3.0 is the first input
    assert r.data == 5.0 and r.inputs[0].data == 3.0
    # second derivative: d2/da2 hypot = b**2 / r**3
    a, b = Value(3.0), Value(4.0)
    (ga, _) = grad(hypot(a, b), [a, b], create_graph=True)
    (haa, hab) = grad(ga, [a, b])
    assert haa.data == pytest.approx(16.0 / 125.0, rel=1e-14)
    assert hab.data == pytest.approx(-12.0 / 125.0, rel=1e-14)


def test_forward_as_a_python_function():
    cube = defprim(unique("cube"), lambda x: x**3, "g * 3 * x * x")
    x = Value(2.0)
    (g,) = grad(cube(x), [x], create_graph=True)
    (h,) = grad(g, [x])
    assert (cube(x).data, g.data, h.data) == (8.0, 12.0, 12.0)
    assert type(cube(Value(2)).data) is float


def test_user_op_gets_ieee_results_instead_of_exceptions():
    twolog = defprim(unique("twolog"), "2 * log(x)", "2 * g / x")
    for x0, value, deriv in [(0.0, -math.inf, math.inf), (1.0, 0.0, 2.0)]:
        x = Value(x0)
        y = twolog(x)
        y.backward()
        assert (y.data, x.grad) == (value, deriv)
    x = Value(-1.0)
    y = twolog(x)
    y.backward()
    assert math.isnan(y.data) and x.grad == -2.0


def test_conditional_rule():
    leaky = defprim(unique("leaky"), "x if x > 0 else 0.1 * x", "g if x > 0 else 0.1 * g")
    for x0, value, deriv in [(2.0, 2.0, 1.0), (-2.0, -0.2, 0.1), (0.0, 0.0, 0.1)]:
        x = Value(x0)
        y = leaky(x)
        y.backward()
        assert y.data == pytest.approx(value) and x.grad == pytest.approx(deriv)
        x = Value(x0)
        (g,) = grad(leaky(x), [x], create_graph=True)  # the Value form agrees
        assert g.data == pytest.approx(deriv)


def test_user_op_respects_no_grad_and_shows_in_the_generated_source():
    name = unique("twice")
    twice = defprim(name, "2 * x", "2 * g")
    with no_grad():
        y = twice(Value(1.0))
    assert not y.requires_grad and y.data == 2.0
    # its code, generated at registration, can be read like any source
    assert inspect.getsource(twice.functions[0]).startswith(f"def apply_{name}(self):")
    step = inspect.getsource(REGISTRY.steps[twice.code])
    assert f"def step_{name}(v, g):" in step and "2.0 * g" in step


def test_wrong_number_of_arguments():
    twice = defprim(unique("twice"), "2 * x", "2 * g")
    with pytest.raises(TypeError, match="1 argument"):
        twice(Value(1.0), Value(2.0))


# -- invalid definitions: refused with a clear message, registry unchanged -----------------


def _snapshot() -> tuple[Any, ...]:
    return (
        list(REGISTRY),
        dict(REGISTRY.by_code),
        dict(REGISTRY.steps),
        sorted(dir(Value)),
    )


@pytest.fixture
def unchanged() -> Iterator[None]:
    before = _snapshot()
    yield
    assert _snapshot() == before
    x = Value(2.0)  # and the engine still works
    (x.exp() * x).backward()
    assert x.grad == pytest.approx(3.0 * math.exp(2.0))


INVALID: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("syntax", lambda: defprim(unique("p"), "x +", "g"), RuleError, "cannot parse"),
    ("null character", lambda: defprim(unique("p"), "x", "g\0"), RuleError, "null character"),
    ("unknown name", lambda: defprim(unique("p"), "x", "g * z"), RuleError, "unknown name 'z'"),
    ("y in a unary op", lambda: defprim(unique("p"), "x * y", "g"), RuleError, "'y'"),
    ("out in forward", lambda: defprim(unique("p"), "out", "g"), RuleError, "'out'"),
    (
        "function that is not a primitive",
        lambda: defprim(unique("p"), "x", "g * cosh(x)"),
        RuleError,
        "unknown function 'cosh'",
    ),
    ("bare function name", lambda: defprim(unique("p"), "x", "g * exp"), RuleError, "'exp'"),
    ("bare library name", lambda: defprim(unique("p"), "x * exp", "g"), RuleError, "'exp'"),
    ("attribute", lambda: defprim(unique("p"), "x", "g.data"), RuleError, "Attribute"),
    ("subscript", lambda: defprim(unique("p"), "x", "g[0]"), RuleError, "Subscript"),
    ("lambda", lambda: defprim(unique("p"), "x", "lambda: g"), RuleError, "Lambda"),
    ("string constant", lambda: defprim(unique("p"), "x", "'g'"), RuleError, "constants"),
    ("bool constant", lambda: defprim(unique("p"), "x", "g * True"), RuleError, "constants"),
    ("keyword call", lambda: defprim(unique("p"), "x", "exp(x=g)"), RuleError, "plain calls"),
    ("import", lambda: defprim(unique("p"), "__import__('os')", "g"), RuleError, "__import__"),
    ("walrus", lambda: defprim(unique("p"), "x", "(z := g)"), RuleError, "NamedExpr"),
    ("matmul", lambda: defprim(unique("p"), "x", "g @ x"), RuleError, "MatMult"),
    ("bitwise", lambda: defprim(unique("p"), "x", "g ^ x"), RuleError, "BitXor"),
    ("is", lambda: defprim(unique("p"), "x", "g if x is 0 else g"), RuleError, "comparisons"),
    (
        "bare Value as condition",
        lambda: defprim(unique("p"), "x", "g if x else 0.0"),
        RuleError,
        "condition",
    ),
    ("or of numbers", lambda: defprim(unique("p"), "x", "g * (x or 1)"), RuleError, "comparisons"),
    ("not of a number", lambda: defprim(unique("p"), "x", "g * (not x)"), RuleError, "comparisons"),
    ("no rule", lambda: defprim(unique("p"), "x"), ValueError, "one derivative rule per input"),
    (
        "three rules",
        lambda: defprim(unique("p"), "x", "g", "g", "g"),
        ValueError,
        "one derivative rule per input",
    ),
    ("rule not a string", lambda: defprim(unique("p"), "x", 3), RuleError, "int"),  # type: ignore[arg-type]
    ("forward not valid", lambda: defprim(unique("p"), 3, "g"), TypeError, "int"),  # type: ignore[arg-type]
    ("duplicate of a built-in", lambda: defprim("exp", "x", "g"), ValueError, "already registered"),
    ("name with a space", lambda: defprim("my op", "x", "g"), ValueError, "identifier"),
    ("keyword as name", lambda: defprim("class", "x", "g"), ValueError, "keyword"),
    ("rule variable as name", lambda: defprim("out", "x", "g"), ValueError, "'out'"),
    ("helper as name", lambda: defprim("sign", "x", "g"), ValueError, "'sign'"),
    (
        "symbol not a string",
        lambda: defprim(unique("p"), "x", "g", symbol=3),  # type: ignore[arg-type]
        TypeError,
        "symbol",
    ),
    (
        "method clashes with a built-in method",
        lambda: defprim(unique("p"), "x", "g", methods=("exp",)),
        ValueError,
        "'exp'",
    ),
    (
        "method clashes with an operator",
        lambda: defprim(unique("p"), "x", "g", methods=("__add__",)),
        ValueError,
        "'__add__'",
    ),
    (
        "method clashes with an attribute",
        lambda: defprim(unique("p"), "x", "g", methods=("data",)),
        ValueError,
        "'data'",
    ),
    (
        "keyword as method",
        lambda: defprim(unique("p"), "x", "g", methods=("for",)),
        ValueError,
        "keyword",
    ),
    (
        "two method names for a unary op",
        lambda: defprim(unique("p"), "x", "g", methods=(unique("m"), unique("m"))),
        ValueError,
        "at most 1 method",
    ),
    (
        "three method names for a binary op",
        lambda: defprim(unique("p"), "x + y", "g", "g", methods=("a1", "a2", "a3")),
        ValueError,
        "at most 2 method",
    ),
    (
        "methods not a tuple",
        lambda: defprim(unique("p"), "x", "g", methods="abc"),  # type: ignore[arg-type]
        ValueError,
        "tuple",
    ),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("make", "error", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_definition_is_refused(make: Callable[[], object], error: type, message: str):
    with pytest.raises(error, match=message):
        make()


def test_rule_errors_are_value_errors():
    assert issubclass(RuleError, ValueError)


def test_method_name_taken_by_an_earlier_user_op_is_refused():
    name = unique("first")
    defprim(name, "x", "g", methods=(name,))
    before = _snapshot()
    with pytest.raises(ValueError, match=repr(name)):
        defprim(unique("second"), "x", "g", methods=(name,))
    assert _snapshot() == before
    assert getattr(Value(1.5), name)().data == 1.5  # the first op's method still works


def test_failed_registration_keeps_earlier_user_ops_working():
    name = unique("square")
    square = defprim(name, "x * x", "2 * g * x", methods=(name,))
    with pytest.raises(RuleError):
        defprim(unique("broken"), "x", "g *")
    x = Value(3.0)
    y = getattr(x, name)() + square(x)
    y.backward()
    assert (y.data, x.grad) == (18.0, 12.0)


def test_a_method_name_cannot_replace_what_the_generated_code_uses() -> None:
    # the generated code calls globals such as _pow, _div, _lift and _data
    defprim("_test_method_pow", "x * 2", "g * 2", methods=("_pow",))
    defprim("_test_method_div", "x * 3", "g * 3", methods=("_div",))
    defprim("_test_method_lift", "x * 4", "g * 4", methods=("_lift",))
    assert (Value(3.0) ** 2).data == 9.0
    assert (Value(1.0) / 0).data == math.inf
    assert (Value(1.0) + 2).data == 3.0
    assert Value(3.0)._pow().data == 6.0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("forward", "x0", "expected"),
    [
        ("log2(x)", 0.0, -math.inf),
        ("log10(x)", 0.0, -math.inf),
        ("log(x, 2)", 0.0, -math.inf),
        ("log1p(x)", -1.0, -math.inf),
        ("log1p(x)", -2.0, math.nan),
        ("atanh(x)", 1.0, math.inf),
        ("atanh(x)", -1.0, -math.inf),
        ("lgamma(x)", -2.0, math.inf),
        ("sinh(x)", -1000.0, -math.inf),
        ("cosh(x)", -1000.0, math.inf),
        ("acos(x)", 2.0, math.nan),
    ],
)
def test_user_ops_on_math_functions_give_ieee_results(
    forward: str, x0: float, expected: float
) -> None:
    op = defprim(f"_test_ieee_{uuid.uuid4().hex[:8]}", forward, "g")
    for got in (op(x0), op(Value(x0)).data):  # numbers in, a number out; a Value in, a Value
        assert math.isnan(got) if math.isnan(expected) else got == expected


def test_a_forward_that_gives_ints_or_bools_stores_floats() -> None:
    floor = defprim("_test_floor", "floor(x)", "0.0 * g")
    positive = defprim("_test_positive", "x > 0", "0.0 * g")
    assert type(floor(Value(2.7)).data) is float and floor(Value(2.7)).data == 2.0
    assert type(positive(Value(2.0)).data) is float and positive(Value(2.0)).data == 1.0
    assert type(floor(2.7)) is float and floor(2.7) == 2.0  # numbers in, a float out
    assert (floor(Value(2.5)) / 2).data == 1.0


def test_a_rule_calling_an_op_with_the_wrong_number_of_arguments_is_refused() -> None:
    before = list(REGISTRY)
    with pytest.raises(RuleError, match=r"exp\(\) takes 1 argument\(s\), got 2"):
        defprim("_test_bad_arity", "x", "g * exp(x, x)")
    assert before == list(REGISTRY)


def test_every_generated_method_says_what_it_computes() -> None:
    # help(Value.exp) shows the op's row of the table
    assert (
        Value.exp.__doc__ == "The primitive 'exp': exp(x), recorded in the graph (d/dx: g * out)."
    )
    assert Value.__rtruediv__.__doc__ is not None and "(self is y)" in Value.__rtruediv__.__doc__
    for name in ("__add__", "__mul__", "__pow__", "relu", "tanh", "sign", "__abs__"):
        doc = getattr(Value, name).__doc__
        assert doc is not None and doc.startswith("The primitive '"), name


def test_a_conditional_rule_that_may_raise_adds_to_what_came_before() -> None:
    # the kernel's `adj = adj + rule` once read `(adj + A) if c else B` for such a rule,
    # dropping the gradient already accumulated from x * 3
    recip = defprim(unique("recip"), "1 / x if x > 0 else 0.0", "-g / (x * x) if x > 0 else 0.0")
    steep = defprim(unique("steep"), "x * x", "g if exp(x) > 2 else 0.5 * g")
    for op, x0, expected in [(recip, -1.0, 3.0), (recip, 2.0, 3.0 - 0.25), (steep, 0.1, 3.5)]:
        x = Value(x0)
        (x * 3.0 + op(x)).backward()
        assert x.grad == expected, (op.name, x0)
        (g,) = grad(x * 3.0 + op(x), [x], create_graph=True)
        assert g.data == expected


@pytest.mark.parametrize(
    "method", ["__bool__", "__hash__", "__eq__", "__init__", "__getattribute__", "__repr__"]
)
def test_defprim_refuses_protocol_method_names(method: str) -> None:
    name = f"proto_{uuid.uuid4().hex[:8]}"
    before = getattr(Value, method)
    with pytest.raises(ValueError, match=rf"method '{method}' would change how Python treats"):
        defprim(name, "x * 2", "g * 2", methods=(method,))
    assert name not in REGISTRY.by_name and getattr(Value, method) is before
    v = Value(0.0)
    assert (bool(v), v == Value(0.0), v == v) == (False, False, True)


def test_defprim_allows_an_arithmetic_dunder_and_its_reflected_form() -> None:
    # a scalar "matrix product" is the product: @ on Values, numbers on either side
    name = f"matmul_{uuid.uuid4().hex[:8]}"
    defprim(name, "x * y", "g * y", "g * x", methods=("__matmul__", "__rmatmul__"))
    x = Value(7.0)
    y = (x @ 3.0) + (2.0 @ x)  # type: ignore[operator]
    y.backward()
    assert (y.data, x.grad) == (35.0, 5.0)
