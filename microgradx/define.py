"""`defprim`: register a user-defined primitive op, exactly as a built-in.

The op's forward expression and rules are checked, its code is generated (the same
generator as the built-ins': `microgradx.codegen`), its lines are registered with
`linecache` (so `inspect.getsource` and tracebacks show them), and it is added to the
registry. It then takes part in backward, higher derivatives, forward mode and `compile`
like any built-in, and only graphs that use it run its code.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any

from . import codegen, ieee, rules
from .checks import to_float
from .codegen import modules
from .codegen.eager import INPUTS, forms_of, primitive_name
from .codegen.runtime import (
    CONSTANT,
    ERRORS,
    SHARED,
    data_of,
    first_grad,
    linked,
    shared_constant,
)
from .engine import ExactValue, Value, exact_method
from .grad_mode import grad_enabled, no_grad_seen
from .primitive import REGISTRY, Primitive

FloatFn = Callable[..., float]

# the dunder methods a user op may take: Python's numeric operators
_OPERATORS = {
    f"__{p}{name}__"
    for name in (
        [
            "add",
            "sub",
            "mul",
            "matmul",
            "truediv",
            "floordiv",
            "mod",
            "divmod",
            "pow",
            "lshift",
            "rshift",
            "and",
            "xor",
            "or",
        ]
    )
    for p in ("", "r")
} | {"__neg__", "__pos__", "__abs__", "__invert__"}


def defprim(
    name: str,
    forward: str | FloatFn,
    *vjps: str,
    symbol: str | None = None,
    methods: tuple[str, ...] = (),
) -> Primitive:
    """Register a primitive op and return it (call it on Values to apply it).

    `forward` is an expression in `x` (and `y` for two inputs) using `math` functions,
    or a plain function of floats (its result is made a float). Each rule in `vjps` is
    an expression in `g, x, y, out` giving the gradient for that input; it may call other
    primitives (so that it can itself be differentiated). `methods` names `Value`
    methods to add (for two inputs a second name is the reflected operator, such as
    `"__radd__"`); Python's numeric operator methods are allowed, other dunders are not.

    Examples:
        >>> from microgradx import Value
        >>> softplus = defprim("softplus", "log1p(exp(x))", "g * sigmoid(x)")
        >>> y = softplus(Value(0.0))
        >>> round(y.data, 6)
        0.693147
        >>> REGISTRY.remove("softplus")
    """
    _check_signature(name, vjps, symbol, methods)
    arity = len(vjps)
    inputs = list(INPUTS[:arity])
    if isinstance(forward, str):
        forward_tree = rules.parse(forward, inputs, ieee.LIBRARY)
        forward_text = forward
    elif callable(forward):
        forward_tree, forward_text = None, f"{name}({', '.join(inputs)})"
    else:
        raise TypeError(
            f"forward must be an expression string or a function, got {type(forward).__name__}"
        )
    known = {*REGISTRY.by_name, name}
    trees = tuple(rules.parse(r, [*inputs, *rules.RULE_NAMES], known) for r in vjps)
    for r, tree in zip(vjps, trees, strict=True):
        for call in rules.calls(tree):
            f = rules.callee(call)
            wanted = arity if f == name else REGISTRY.by_name[f].arity
            if len(call.args) != wanted:
                raise rules.RuleError(
                    f"{f}() takes {wanted} argument(s), got {len(call.args)} in {r!r}"
                )
    spec = codegen.Spec(
        name, forward_text, tuple(vjps), symbol or name, methods, forward_tree, trees
    )
    forms = forms_of(spec, REGISTRY.reserve(3 if arity == 2 else 1))
    source = modules.user_op_source(spec, forms, lambda f: False)
    ns = modules.load(source, f"<microgradx op {name}>", _namespace(name, forward))
    # the op's own rules may call it: on floats, the function generated with it
    ns[primitive_name("fast")(name)] = ns[primitive_name("safe")(name)] = ns[f"{name}_float"]
    functions = tuple(ns[f] for f in (f"apply_{name}", f"rapply_{name}")[:arity])
    prim = Primitive(
        name, forward, tuple(vjps), symbol or name, methods, tuple(forms), functions,
        float_forward=ns[f"{name}_float"],
        value_rules=tuple(ns[f"d{i}_{name}_value"] for i in inputs),
        float_rules={
            f.code: tuple((i, ns[f"d{i}_{name}{f.suffix}"]) for i in f.nodes) for f in forms
        },
        opaque=forward_tree is None,
    )  # fmt: skip
    prim.forward_tree, prim.rule_trees = forward_tree, trees  # already parsed
    ns[f"_pv_{name}"] = prim
    installed = [(Value, m, functions[i]) for i, m in enumerate(methods)]
    # on Values holding Fractions or mpmath numbers, through the primitive
    installed += [(ExactValue, m, exact_method(name, i == 1)) for i, m in enumerate(methods)]
    for cls, m, fn in installed:
        setattr(cls, m, fn)
    steps = {f.code: ns[f"step_{name}{f.suffix}"] for f in forms}
    REGISTRY.add(prim, steps, [(cls, m) for cls, m, _ in installed])
    return prim


def _check_signature(
    name: object, vjps: tuple[object, ...], symbol: object, methods: object
) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"primitive name must be an identifier (not a keyword), got {name!r}")
    if name in INPUTS or name in rules.RULE_NAMES:
        raise ValueError(f"{name!r} already means something in the rules; choose another name")
    if symbol is not None and not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, got {type(symbol).__name__}")
    if name in REGISTRY.by_name:
        raise ValueError(f"a primitive named {name!r} is already registered")
    if len(vjps) not in (1, 2):
        raise ValueError(f"give one derivative rule per input (1 or 2), got {len(vjps)}")
    if not isinstance(methods, tuple) or not all(
        isinstance(m, str) and m.isidentifier() and not keyword.iskeyword(m) for m in methods
    ):
        raise ValueError(f"methods must be a tuple of identifiers (not keywords), got {methods!r}")
    if len(methods) > len(vjps):  # a second name is the reflected form of a two-input op
        raise ValueError(
            f"an op with {len(vjps)} input(s) takes at most {len(vjps)} method name(s), "
            f"got {methods!r}"
        )
    for m in methods:
        if m.startswith("__") and m.endswith("__") and m not in _OPERATORS:
            raise ValueError(
                f"method {m!r} would change how Python treats every Value; a user op may "
                "take a plain name or a numeric operator such as '__mod__'"
            )
        if hasattr(Value, m):
            raise ValueError(f"Value already has an attribute {m!r}; choose another method name")


def _namespace(name: str, forward: str | FloatFn) -> dict[str, Any]:
    """The globals of a user op's generated code."""
    floats = {p.name: p.float_forward for p in REGISTRY}
    functions = {} if isinstance(forward, str) else {name: forward}
    ns = modules.float_namespace(floats, functions)
    ns.update(
        Value=Value, _new=object.__new__, CONSTANT=CONSTANT, ERRORS=ERRORS, SHARED=SHARED,
        shared_constant=shared_constant,
        to_float=to_float, grad_enabled=grad_enabled, no_grad_seen=no_grad_seen,
        first_grad=first_grad,
        _data=data_of, _linked=linked,
    )  # fmt: skip
    for p in REGISTRY:
        ns[primitive_name("value")(p.name)] = p
    return ns
