"""Other autodiff engines as oracles for generated expressions.

An `microgradx.testing.strategies.Expression` is data, so any engine can build
it: `evaluate` runs it in microgradx, HIPS autograd (`"autograd"`, float64 numpy)
or PyTorch (`"torch"`, float64 tensors, when importable) and returns the output's value
and gradient; `compare` checks microgradx against an oracle, value and every partial.

The built-in primitives map to each engine's own functions (written out below, not
derived from microgradx). A user-defined primitive whose forward is an expression string
is translated into the engine's functions, so the oracle differentiates the forward
itself and never sees the primitive's derivative rules; for one defined by a Python
function, pass `functions={"name": engine_function}`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import Value, grad
from ..ieee import LIBRARY
from ..primitive import REGISTRY
from .strategies import Expression

ENGINES = ("microgradx", "autograd", "torch")

# math-module names whose numpy / torch function is spelled differently
_NUMPY_NAMES = {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "fabs": "abs", "pow": "power",
}  # fmt: skip
_TORCH_NAMES = {"fabs": "abs", "lgamma": "lgamma"}


class OracleUnavailableError(ImportError):
    """The requested engine is not installed."""


@dataclass(frozen=True)
class Evaluation:
    """An expression's output value and its gradient with respect to each input."""

    value: float
    gradient: tuple[float, ...]


class OracleMismatchError(AssertionError):
    """microgradx and an oracle disagree; the message is a table of both results."""


def same(a: float, b: float, rtol: float, atol: float = 0.0) -> bool:
    """`|a - b| <= atol + rtol * max(|a|, |b|)`; nan equals nan, inf the same inf."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def _point(expr: Expression, point: Sequence[float] | None) -> list[float]:
    if not isinstance(expr, Expression):
        raise TypeError(f"expected an Expression, got {type(expr).__name__}")
    xs = list(expr.inputs if point is None else point)
    if len(xs) != expr.n_inputs:
        raise ValueError(f"the expression takes {expr.n_inputs} inputs, got {len(xs)}")
    return [float(x) for x in xs]


def _microgradx(expr: Expression, point: list[float]) -> Evaluation:
    xs = [Value(x) for x in point]
    out = expr(*xs)
    grads = grad(out, xs, allow_unused=True) if out.requires_grad else []
    return Evaluation(out.data, tuple(g.data for g in grads) or (0.0,) * len(xs))


# -- HIPS autograd --------------------------------------------------------------------------


def _autograd_table(anp: Any) -> dict[str, Callable[..., Any]]:
    return {
        "add": lambda x, y: x + y,
        "mul": lambda x, y: x * y,
        "relu": lambda x: anp.maximum(x, 0.0),
        "sub": lambda x, y: x - y,
        "neg": lambda x: -x,
        "div": lambda x, y: x / y,
        "pow": lambda x, y: anp.power(x, y),
        "exp": anp.exp,
        "log": anp.log,
        "sqrt": anp.sqrt,
        "tanh": anp.tanh,
        "sigmoid": lambda x: anp.exp(-anp.logaddexp(0.0, -x)),  # no cancellation or overflow
        "sin": anp.sin,
        "cos": anp.cos,
        "sign": lambda x: anp.where(anp.isnan(x), 0.0, anp.sign(x)),  # torch: sign(nan) = 0
        "abs": anp.abs,
    }


def _translated(
    name: str, table: Mapping[str, Callable[..., Any]], lookup: Callable[[str], Any]
) -> Callable[..., Any]:
    """A user primitive's forward expression, with the engine's functions substituted."""
    prim = REGISTRY.by_name[name]
    if not isinstance(prim.forward, str) or prim.forward_tree is None:
        raise ValueError(
            f"primitive {name!r} is defined by a Python function: pass "
            f"functions={{{name!r}: ...}} with its version for this engine"
        )
    namespace: dict[str, Any] = {}
    for node in ast.walk(prim.forward_tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            f = node.func.id
            namespace[f] = table[f] if f in table else lookup(f)
    params = ", ".join(["x", "y"][: prim.arity])
    fn: Callable[..., Any] = eval(f"lambda {params}: {prim.forward}", namespace)
    return fn


def _functions(
    expr: Expression,
    builtins: dict[str, Callable[..., Any]],
    library: dict[str, Callable[..., Any]],
    lookup: Callable[[str], Any],
    extra: Mapping[str, Callable[..., Any]] | None,
) -> dict[str, Callable[..., Any]]:
    table = {**builtins, **(extra or {})}
    for name in set(expr.ops) - set(table):
        table[name] = _translated(name, library, lookup)
    return table


def _autograd(
    expr: Expression, point: list[float], extra: Mapping[str, Callable[..., Any]] | None
) -> Evaluation:
    try:
        anp = importlib.import_module("autograd.numpy")
        np = importlib.import_module("numpy")
        value_and_grad = importlib.import_module("autograd").value_and_grad
    except ImportError as e:
        raise OracleUnavailableError("HIPS autograd is not installed: pip install autograd") from e
    builtins = _autograd_table(anp)
    library = {
        "sigmoid": builtins["sigmoid"],
        "relu": builtins["relu"],
        "abs": anp.abs,
        "sign": builtins["sign"],
    }

    def lookup(f: str) -> Any:
        if f not in LIBRARY:
            raise ValueError(f"unknown function {f!r}")
        return getattr(anp, _NUMPY_NAMES.get(f, f))

    functions = _functions(expr, builtins, library, lookup, extra)

    def f(xs: Any) -> Any:
        return expr.evaluate(functions, [xs[i] for i in range(len(point))], np.float64)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "output seems independent of input" and such
        value, gradient = value_and_grad(f)(np.array(point, dtype=np.float64))
    return Evaluation(float(value), tuple(float(g) for g in gradient))


# -- PyTorch ----------------------------------------------------------------------------------


def _torch(
    expr: Expression, point: list[float], extra: Mapping[str, Callable[..., Any]] | None
) -> Evaluation:
    try:
        torch = importlib.import_module("torch")
    except ImportError as e:
        raise OracleUnavailableError("PyTorch is not installed: pip install torch") from e
    # Python operators, and constants as Python floats, as PyTorch code is written: PyTorch
    # computes `x ** 0.5` (a number) with sqrt but `x ** t` (a tensor) with C's pow
    builtins: dict[str, Callable[..., Any]] = {
        "add": lambda x, y: x + y,
        "mul": lambda x, y: x * y,
        "relu": torch.relu,
        "sub": lambda x, y: x - y,
        "neg": torch.neg,
        "div": lambda x, y: x / y,
        "pow": lambda x, y: x**y,
        "exp": torch.exp,
        "log": torch.log,
        "sqrt": torch.sqrt,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "sin": torch.sin,
        "cos": torch.cos,
        "sign": torch.sign,
        "abs": torch.abs,
    }
    library = {"sigmoid": torch.sigmoid, "relu": torch.relu, "abs": torch.abs}

    def lookup(f: str) -> Any:
        if f not in LIBRARY:
            raise ValueError(f"unknown function {f!r}")
        return getattr(torch, _TORCH_NAMES.get(f, f))

    functions = _functions(expr, builtins, library, lookup, extra)
    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]

    out = expr.evaluate(functions, xs)
    if not torch.is_tensor(out):  # e.g. a user op's "0.0 if x < 0 else x" gave 0.0
        return Evaluation(float(out), (0.0,) * len(xs))
    if not out.requires_grad:
        return Evaluation(float(out.detach()), (0.0,) * len(xs))
    grads = torch.autograd.grad(out, xs, allow_unused=True)
    return Evaluation(float(out.detach()), tuple(0.0 if g is None else float(g) for g in grads))


# -- the public entry points --------------------------------------------------------------


def evaluate(
    expr: Expression,
    engine: str = "autograd",
    point: Sequence[float] | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Evaluation:
    """The value and gradient of `expr` at `point` (default: its own inputs) in `engine`.

    `engine` is `"microgradx"`, `"autograd"` or `"torch"`; `functions` maps
    op names to that engine's functions for primitives it cannot translate. Raises
    `OracleUnavailableError` when the engine is not installed.
    """
    xs = _point(expr, point)
    if engine == "microgradx":
        return _microgradx(expr, xs)
    if engine == "autograd":
        return _autograd(expr, xs, functions)
    if engine == "torch":
        return _torch(expr, xs, functions)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def available(engine: str) -> bool:
    """Whether `engine` can be imported here."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine == "microgradx" or importlib.util.find_spec(engine) is not None


def gradient_scale(expr: Expression, point: Sequence[float] | None = None) -> tuple[float, ...]:
    """Per input, the sum over all paths to the output of `|product of local partials|`.

    The gradient is the same sum without the absolute values, so this bounds it; when
    terms cancel (`x / x`, `t - t`), rounding leaves a remainder of about machine
    epsilon times this scale, not times the (near-zero) gradient. `compare` measures
    gradient errors relative to it.
    """
    xs = _point(expr, point)
    values = expr.values(xs)
    adjoint = [0.0] * len(expr.nodes)
    adjoint[-1] = 1.0
    for k in range(len(expr.nodes) - 1, -1, -1):
        node = expr.nodes[k]
        if not node.args or adjoint[k] == 0.0:
            continue
        args = [Value(values[a]) for a in node.args]
        partials = grad(REGISTRY.by_name[node.op](*args), args, allow_unused=True)
        for a, p in zip(node.args, partials, strict=True):
            adjoint[a] += adjoint[k] * abs(p.data)
    scale = [0.0] * expr.n_inputs
    for k, node in enumerate(expr.nodes):
        if node.op == "input":
            scale[node.index] = adjoint[k]
    return tuple(scale)


def compare(
    expr: Expression,
    oracle: str = "autograd",
    point: Sequence[float] | None = None,
    rtol: float = 1e-9,
    atol: float = 0.0,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Evaluation:
    """Check microgradx's value and gradient of `expr` against `oracle`'s.

    Each number must satisfy `same` (relative tolerance `rtol`; nan matches nan,
    inf the same inf). A partial derivative's error is measured relative to the larger of
    the two results and its `gradient_scale`, so that terms cancelling to zero up
    to rounding compare fairly. Returns microgradx's `Evaluation`; raises
    `OracleMismatchError` with a table of both results otherwise.
    """
    mine = evaluate(expr, "microgradx", point)
    theirs = evaluate(expr, oracle, point, functions)
    scale = gradient_scale(expr, point)
    rows = [("value", mine.value, theirs.value, 0.0)]
    rows += [
        (f"d/dx{i}", a, b, scale[i])
        for i, (a, b) in enumerate(zip(mine.gradient, theirs.gradient, strict=True))
    ]
    bad = {
        k
        for k, (_, a, b, c) in enumerate(rows)
        if not same(a, b, rtol, atol + (rtol * c if math.isfinite(c) else 0.0))
    }
    if bad:
        lines = [
            f"microgradx and {oracle} disagree on {expr!r}",
            f"(rtol={rtol:g}, atol={atol:g})",
            f"{'':>8}  {'microgradx':>24}  {oracle:>24}",
        ]
        for k, (what, a, b, _) in enumerate(rows):
            mark = "  <- mismatch" if k in bad else ""
            lines.append(f"{what:>8}  {a!r:>24}  {b!r:>24}{mark}")
        raise OracleMismatchError("\n".join(lines))
    return mine
