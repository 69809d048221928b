"""The table of primitive operations: each op defined once, as data.

A primitive is a forward expression and one derivative rule per input, written in the
small language of :mod:`microgradx.lang` (names ``x``, ``y``, ``out``, ``g``). A rule is
the vector-Jacobian product: what the input receives when ``g`` arrives at the output.
The engine turns this one table into the ``Value`` operators, the first-order backward
pass on floats, the graph-building backward pass (``create_graph=True``), forward mode
and ``compile``. A user-defined op is registered with :func:`defprim`, exactly as the
built-ins below, and gets all of that.
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import ieee, lang

if TYPE_CHECKING:
    from .engine import Value

FloatFn = Callable[..., float]

# functions a forward expression may call: name -> (fast, IEEE-safe, fast may raise)
LIBRARY: dict[str, tuple[FloatFn, FloatFn, bool]] = {
    name: (fn, ieee.guarded(fn), True)
    for name, fn in vars(math).items()
    if callable(fn) and not name.startswith("_")
}
LIBRARY.update({name: (getattr(math, name), safe, True) for name, safe in ieee.SPECIAL.items()})
LIBRARY.update(
    exp=(math.exp, ieee.exp, True),
    log=(math.log, ieee.log, True),
    sqrt=(math.sqrt, ieee.sqrt, True),
    sin=(math.sin, ieee.sin, True),
    cos=(math.cos, ieee.cos, True),
    tanh=(math.tanh, math.tanh, False),
    sigmoid=(ieee.sigmoid, ieee.sigmoid, False),
    sign=(ieee.sign, ieee.sign, False),
    relu=(ieee.relu, ieee.relu, False),
    abs=(abs, abs, False),
)


@dataclass(eq=False)
class Primitive:
    """One primitive op: its forward expression and one derivative rule per input."""

    name: str
    forward: str | FloatFn
    vjps: tuple[str, ...]
    symbol: str
    methods: tuple[str, ...]
    code: int
    forward_tree: ast.expr | None = field(repr=False)
    vjp_trees: tuple[ast.expr, ...] = field(repr=False)
    fast: FloatFn = field(repr=False)
    safe: FloatFn = field(repr=False)
    raises: bool = field(repr=False)
    apply: Callable[..., Value] = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def arity(self) -> int:
        """Number of inputs (1 or 2)."""
        return len(self.vjps)

    def __call__(self, *args: Value | float) -> Value:
        """Apply the op to Values or numbers, recording it in the graph."""
        if len(args) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} argument(s), got {len(args)}")
        return self.apply(*args)


REGISTRY: list[Primitive] = []
BY_NAME: dict[str, Primitive] = {}
# called after each registration (the engine regenerates its code); may raise to refuse it
LISTENERS: list[Callable[[], None]] = []


def _float_function(tree: ast.expr, arity: int, mode: lang.Mode) -> FloatFn:
    if (  # a plain library call such as exp(x): use the library function itself
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and [a.id for a in tree.args if isinstance(a, ast.Name)] == ["x", "y"][:arity]
        and len(tree.args) == arity
    ):
        fast, safe, _ = LIBRARY[tree.func.id]
        return fast if mode == "fast" else safe
    params = ", ".join(["x", "y"][:arity])
    body = lang.emit(tree, mode, {}, lambda f: f"_l{mode[0]}_{f}")
    fn: FloatFn = eval(f"lambda {params}: {body}", library_namespace())
    return fn


def _gives_float(f: FloatFn, arity: int) -> bool:
    try:
        return type(f(*[0.5] * arity)) is float
    except Exception:  # undefined at 0.5: no sign of a non-float result
        return True


def _as_float(f: FloatFn) -> FloatFn:
    """``f`` with its result converted to float (a forward must give floats)."""
    return lambda *args: float(f(*args))


def library_namespace() -> dict[str, Any]:
    """Globals that generated float code needs: ``_lf_NAME`` (fast), ``_ls_NAME`` (safe)."""
    ns: dict[str, Any] = {"_pow": ieee.pow, "_div": ieee.div}
    for name, (fast, safe, _) in LIBRARY.items():
        ns[f"_lf_{name}"] = fast
        ns[f"_ls_{name}"] = safe
    return ns


def defprim(
    name: str,
    forward: str | FloatFn,
    *vjps: str,
    symbol: str | None = None,
    methods: tuple[str, ...] = (),
) -> Primitive:
    """Register a primitive op and return it (call it on Values to apply it).

    ``forward`` is an expression in ``x`` (and ``y`` for two inputs) using ``math``
    functions, or a plain float function. Each rule in ``vjps`` is an expression in
    ``g, x, y, out`` giving the gradient for that input; it may call other primitives
    (so that it can itself be differentiated). ``methods`` names ``Value`` methods to
    add (for two inputs a second name is the reflected operator, e.g. ``"__radd__"``).

    >>> softplus = defprim("softplus", "log1p(exp(x))", "g * sigmoid(x)")
    """
    return _register(name, forward, vjps, symbol, methods, set(BY_NAME))


def _register(
    name: str,
    forward: str | FloatFn,
    vjps: tuple[str, ...],
    symbol: str | None,
    methods: tuple[str, ...],
    known: set[str],
) -> Primitive:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"primitive name must be an identifier (not a keyword), got {name!r}")
    if name in ("x", "y", "out", "g"):
        raise ValueError(f"{name!r} already means something in the rules; choose another name")
    if symbol is not None and not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, got {type(symbol).__name__}")
    if name in BY_NAME:
        raise ValueError(f"a primitive named {name!r} is already registered")
    if len(vjps) not in (1, 2):
        raise ValueError(f"give one derivative rule per input (1 or 2), got {len(vjps)}")
    if not isinstance(methods, tuple) or not all(
        isinstance(m, str) and m.isidentifier() and not keyword.iskeyword(m) for m in methods
    ):
        raise ValueError(f"methods must be a tuple of identifiers (not keywords), got {methods!r}")
    arity = len(vjps)
    if len(methods) > arity:  # a second name is the reflected form of a two-input op
        raise ValueError(
            f"an op with {arity} input(s) takes at most {arity} method name(s), got {methods!r}"
        )
    inputs = ["x", "y"][:arity]
    if isinstance(forward, str):
        tree: ast.expr | None = lang.parse(forward, inputs, LIBRARY)
        assert tree is not None
        fast = _float_function(tree, arity, "fast")
        safe = _float_function(tree, arity, "safe")
        raises = lang.may_raise(tree, lambda f: LIBRARY[f][2])
        if not _gives_float(safe, arity):  # floor(x) gives an int, x > 0 a bool
            tree, fast, safe, raises = None, _as_float(safe), _as_float(safe), False
    elif callable(forward):
        tree, fast, safe, raises = None, _as_float(forward), _as_float(forward), False
    else:
        raise TypeError(
            f"forward must be an expression string or a function, got {type(forward).__name__}"
        )
    functions = known | {name}
    trees = tuple(lang.parse(r, [*inputs, "out", "g"], functions) for r in vjps)
    arities = {f: BY_NAME[f].arity for f in known if f in BY_NAME}
    for r, t in zip(vjps, trees, strict=True):
        for call in (n for n in ast.walk(t) if isinstance(n, ast.Call)):
            assert isinstance(call.func, ast.Name)
            wanted = arity if call.func.id == name else arities.get(call.func.id)
            if wanted is not None and len(call.args) != wanted:
                raise lang.RuleError(
                    f"{call.func.id}() takes {wanted} argument(s), got {len(call.args)} in {r!r}"
                )
    prim = Primitive(
        name, forward, tuple(vjps), symbol or name, methods, len(REGISTRY) + 1,
        tree, trees, fast, safe, raises,
    )  # fmt: skip
    REGISTRY.append(prim)
    BY_NAME[name] = prim
    try:
        for listener in LISTENERS:
            listener()
    except BaseException:
        REGISTRY.pop()
        del BY_NAME[name]
        for listener in LISTENERS:
            listener()
        raise
    return prim


# the built-in primitives, the most used first (the backward pass tests them in this order)
# fmt: off
BUILTINS: list[tuple[str, ...]] = [
    # name     forward                 d/dx                                d/dy
    ("add",     "x + y",                "g",                                "g"),
    ("mul",     "x * y",                "g * y",                            "g * x"),
    ("relu",    "0.0 if x < 0 else x",  "0.0 if out <= 0 else g"),
    ("sub",     "x - y",                "g",                                "-g"),
    ("neg",     "-x",                   "-g"),
    ("div",     "x / y",                "g / y",                            "-g * (out / y)"),
    ("pow",     "x ** y",               "0.0 if y == 0 else g * (y * x ** (y - 1))",
                                        "g * (0.0 if x == 0 and y >= 0 else out * log(x))"),
    ("exp",     "exp(x)",               "g * out"),
    ("log",     "log(x)",               "g / x"),
    ("sqrt",    "sqrt(x)",              "g / (2 * out)"),
    ("tanh",    "tanh(x)",              "g * (1 - out * out)"),
    ("sigmoid", "sigmoid(x)",           "g * (1 - out) * out"),
    ("sin",     "sin(x)",               "g * cos(x)"),
    ("cos",     "cos(x)",               "g * -sin(x)"),
    ("sign",    "sign(x)",              "0.0"),
    ("abs",     "abs(x)",               "g * sign(x)"),
]
# how built-ins show on Value: the symbol (micrograd's `_op`) and the methods; others use
# their name for both
SPELLING: dict[str, tuple[str, tuple[str, ...]]] = {
    "add":  ("+",    ("__add__", "__radd__")),
    "mul":  ("*",    ("__mul__", "__rmul__")),
    "relu": ("ReLU", ("relu",)),
    "sub":  ("-",    ("__sub__", "__rsub__")),
    "neg":  ("neg",  ("__neg__",)),
    "div":  ("/",    ("__truediv__", "__rtruediv__")),
    "pow":  ("**",   ("__pow__", "__rpow__")),
    "abs":  ("abs",  ("__abs__",)),
}
# fmt: on

for _name, _forward, *_vjps in BUILTINS:
    _symbol, _methods = SPELLING.get(_name, (_name, (_name,)))
    _register(_name, _forward, tuple(_vjps), _symbol, _methods, {b[0] for b in BUILTINS})
