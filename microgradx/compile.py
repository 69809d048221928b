"""`compile`: trace a function of Values once, then run it as straight-line float code.

The eager engine builds a graph node for every operation and walks it backwards. When the
*same* computation runs again and again (the loss of one example, for every example of
every training step), that work can be done once: `compile` calls the function on
example arguments, records the graph it builds (the *tape*), and writes Python source that
computes the forward value and every gradient on plain floats, in straight lines.

Every line comes from the table of primitives (`microgradx.ops`): the forward
expression and the derivative rules are inlined by the same code generator as the eager
engine's (`microgradx.codegen`), so both give the same numbers. The kinks of the ops
themselves (`relu`, `abs`, `pow` at zero) are expressions such as
`0.0 if out <= 0 else g` and stay exact for every input.

How the code is written: see `microgradx.codegen.straight`.

Examples:
    >>> from microgradx import Value, compile
    >>> w = Value(0.5, label="w")
    >>> f = compile(lambda x: (w * x).relu(), 3.0)
    >>> f(4.0)
    2.0
    >>> f.backward(4.0)  # adds d f / d w to w.grad, like loss.backward()
    2.0
    >>> w.grad
    4.0

## Eager's numbers, or refused

A compiled function gives the eager engine's numbers on every input, or `compile`
refuses it while tracing: there is no third outcome. What decides is what the function
does with the numbers of its *traced* Values, those that can change from call to call
(every Value computed from the arguments or the parameters; not the constants).

**Recorded** in the generated code: every operation on Values (`x * w`, `abs(x)`, `-x`,
`x ** 2`, numbers on either side), with the ops' own kinks (`relu`, `abs`, `pow` at
zero), and the rules that `grad(..., create_graph=True)` runs inside the function.

**Guarded**, that is checked again at every call (see *Fallback* below):

* comparisons of Values with Values or numbers: `x > y`, `x <= 0`, and so `max`, `min`
  and `sorted` of Values and loops whose count depends on a value (`while x > 1:`);
* `bool(x)` (`if x:`; the truth of `x.data`, as PyTorch's);
* comparisons of `x.data` (`if x.data > 0:`, `x.data == y.data`, `0 <= t.data <= 1`):
  while tracing, `.data` of a traced Value is a `TracedNumber`
  (`microgradx.tracing`), which records its comparisons;
* the branches the rules of relu and pow take on Values (`0.0 if out <= 0 else g`,
  `y == 0`, `x == 0 and y >= 0`) when the function calls `grad(...,
  create_graph=True)`, and the conditions in a user op's rules.

**Refused**: `compile` raises `TraceError` with the file and line of the user's code (and
the library line, if the use is inside a library function) and what to write instead:

* any other use of `x.data`: arithmetic (`x.data * 2`, `abs(x.data)`), `float()`,
  `math.*`, `int()`, `round()`, hashing, `Value(x.data)`;
* `float(x)` and whatever needs a plain float (`math.exp(x)`, `math.floor(x)`);
  `int(x)` and `round(x)` raise `TypeError` as in eager code (`Value` defines neither),
  and would be refused if it did;
* an operation on a traced Value inside `no_grad()` (its result would be a frozen
  constant);
* setting `.data` of a Value, and `backward()` inside the function (changes the
  generated code would not make again); a gradient taken without `create_graph=True`
  inside it, as soon as it computes with a traced number.

Printing or formatting `x.data` inside the function is allowed: it shows the traced number,
at trace time only (text read back as a number is not watched). Python state that is not
the number of a Value (globals, attributes, random numbers, a Value's `.grad`) is read
once, while tracing, as by any tracer, and so is what a thread the function starts does
(the trace watches the thread or asyncio task that traces); and constants (plain
numbers, Values made under `no_grad()` outside the function) are written into the code as
numbers.

## Fallback

The guards are checked after the forward lines of the generated code. A call where one
comes out otherwise than while tracing runs eagerly instead (the function on fresh Values,
and `grad()` for its gradients), which gives eager's numbers by construction, and counts
one in `Compiled.fallbacks`; in `backward_batch` only the examples whose guards fail run
eagerly. There is no retrace: the generated code keeps the traced branch. So an example
that falls back costs its generated forward pass plus an eager forward and backward pass:
it runs at the eager engine's speed, not the compiled one. A function without
comparisons has no guards and checks nothing.

## Batch backends

`compile(fn, *example_args, backend="numpy")` (or `"torch"`) gives the same `Compiled`,
whose `backward_batch` computes all examples of the batch at once on float64 arrays: the
tape is written once more (`microgradx.codegen.batch`), every variable of the trace an
array over the examples (the parameters stay numbers), every line a rule of the same
table, in the array form of the same code generator (`a if c else b` becomes
`where(c, a, b)`, with both sides computed and NumPy's floating-point warnings silenced,
so inf and nan come out as in eager code). `batch_source` shows the code.

* **Matrix products** (`matmul=True`, the default for these backends): sums of products of
  parameters and per-example values that read the same values, as the neurons of a layer
  of `microgradx.nn.MLP` do (`b + w[0]*x[0] + w[1]*x[1] + ...`), become one matrix
  product per layer, forward (`Z = W @ X + b`) and backward (`dX = W.T @ dZ`,
  `dW = dZ @ X.T`, `db = dZ.sum(1)`). The weights are gathered from the parameters at
  every call and their gradients scattered back. When every neuron of a layer goes
  through the same element-wise op (relu, tanh, sigmoid, exp, ...) and the next layer
  reads the results in order, the op and its rule run once on the whole matrix
  (`H0 = relu(Z0)`, `dZ0 = relu's rule(dX1)`): the same numbers, one array call per
  layer. `matmul=False` keeps one array operation per op of the trace.
* **Guards** are checked for every example at once; the examples whose comparisons come
  out otherwise than while tracing run eagerly, one by one, and count in `fallbacks`,
  as in the per-example code.
* **What runs per example**: `f(x)`, `f.value_and_grad` and `f.backward` use the
  per-example code of the python backend; so does the whole batch when a function applied
  example by example (a `defprim` op whose forward is a Python function) raises. Library
  functions without an array version of the same IEEE behaviour (`lgamma`, `erf`, ...) are
  computed example by example with the engine's own float function.
* **Summation order**: the sums over the batch (the total and every gradient) are added in
  another order than the per-example loop, and a matrix product adds each neuron's
  products in another order than `b + w[0]*x[0] + ...`; so the numbers agree with eager's
  to rounding (the tests check 1e-12 relative to the magnitudes added), not to the bit. A
  comparison of a value within rounding of its threshold can therefore decide otherwise
  than in eager code, as it can between any two orders of addition; a transcendental
  function (`exp`, `sin`, ...) of NumPy or torch may differ from `math`'s in the last bit
  (`tanh`, whose rule would double such a difference near 1, runs example by example with
  `math.tanh`). Where a sum of finite terms overflows part-way, the order decides what
  comes out: `1e308 + 1e308 - 1e308` is inf from the left and 1e308 in another order, so
  a matrix product can give a finite number, inf or nan where eager gives another. Inputs
  and values that are inf or nan themselves travel as in eager.
* `backend="torch"` runs the same code on torch tensors (`device=`, default `"cpu"`), with
  torch's own thread settings (`torch.set_num_threads`); it reads the batch through
  NumPy, so it needs NumPy too. NumPy (`pip install
  "microgradx[numpy]"`) or torch (`pip install "microgradx[torch]"`) is imported only when
  such a backend is asked for; without it `compile` raises `ImportError` saying what to
  install.

## Signed zeros

`value_and_grad` and `backward` add each gradient's contributions in the eager engine's
order, from -0.0 as its adjoints do, so they give eager's numbers to the last bit and the
sign of zero (0.0 for an input the output does not depend on, as `grad(...,
allow_unused=True)`). `backward_batch` adds up the examples in one loop from 0.0 and skips
the additions of a zero adjoint, which then change nothing: its sums agree with eager's to
rounding, and a zero sum is 0.0 where eager's, added to a `.grad` of `None`, may be -0.0.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .checks import to_float
from .codegen import arrays, batch, modules, straight
from .engine import Value, grad, topological
from .primitive import REGISTRY
from .tracing import Guard, Trace, TracedNumber, TraceError, guard_nodes, refuse

__all__ = ["Compiled", "TraceError", "compile"]

_ERRORS = (ArithmeticError, ValueError)


#: one example by the eager engine: value, gradients of the traced parameters and of the
#: inputs, and (parameter, gradient) for parameters the trace never saw
_Eager = tuple[float, list[float], list[float], list[tuple[Value, float]]]


class _BranchChangedError(Exception):
    """Raised inside generated code when an example takes another branch than the trace."""


#: the code `compile` can write: floats in Python, or arrays over a batch
BACKENDS = ("python", "numpy", "torch")


def compile(
    fn: Callable[..., Value],
    *example_args: Any,
    backend: str = "python",
    matmul: bool | None = None,
    device: Any = None,
) -> Compiled:
    """Trace `fn` on `example_args` and return it as generated float code.

    `fn` computes one Value from its arguments (numbers, Values, or nested lists and
    tuples of them; each becomes a leaf Value while tracing). Values it reads from outside,
    such as a model's weights, are the *parameters*: their current `.data` is read at
    every call and their gradients are what `Compiled.backward` and
    `Compiled.backward_batch` add to `.grad`.

    Without example arguments, tracing waits for the first call, so `@compile` works as
    a decorator. A function of no arguments is traced at once.

    `backend="numpy"` or `"torch"` makes `backward_batch` compute all examples at once on
    float64 arrays (see *Batch backends* in the module); `matmul` (on by default there)
    writes the neurons of a layer as one matrix product, and `device` places torch's
    tensors (default `"cpu"`).
    """
    if not callable(fn):
        raise TypeError(f"compile() expects a function, got {type(fn).__name__}")
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if matmul is not None and not isinstance(matmul, bool):
        raise TypeError(f"compile: matmul must be True, False or None, got {matmul!r}")
    if backend == "python" and matmul:
        raise ValueError('compile: matmul=True needs backend="numpy" or "torch"')
    if device is not None and backend != "torch":
        raise ValueError(f'compile: device= is for backend="torch", not {backend!r}')
    lib = None if backend == "python" else arrays.Arrays(backend, device)
    return Compiled(fn, example_args, lib, matmul is not False and lib is not None)


# -- tracing ------------------------------------------------------------------------------


def _flatten(x: Any, out: list[Any], where: str) -> Any:
    """Append the leaves of `x` to `out`; return its structure (None marks a leaf)."""
    if isinstance(x, (list, tuple)):
        return tuple(_flatten(e, out, f"{where}[{i}]") for i, e in enumerate(x))
    if isinstance(x, Value):
        data: Any = x.data
        if isinstance(data, TracedNumber):  # called inside a function being traced
            raise refuse(
                "calls a compiled function on a traced Value; its generated code computes on "
                "plain numbers, which the outer trace cannot record",
                "call the plain function there (the outer compile traces through it)",
            )
        _refuse_exact(data, where)
        out.append(data)
    else:
        _refuse_exact(x, where)
        out.append(to_float(x, f"compile: {where}"))
    return None


def _unflatten(structure: Any, leaves: Iterable[Any]) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        return next(it) if s is None else [build(e) for e in s]

    return build(structure)


# -- the compiled function ----------------------------------------------------------------


def _refuse_exact(number: object, where: str) -> None:
    if type(number).__name__ in ("Fraction", "mpf"):
        raise TypeError(
            f"compile: {where} is a {type(number).__name__}; compiled code computes on floats "
            "(use the eager engine for exact or high-precision numbers)"
        )


def _describe(v: Value) -> tuple[Any, tuple[str, ...]]:
    entry = REGISTRY.entry(v._code)
    return entry.primitive, entry.form.numbers


def _tape(output: Value, args: list[Value], guards: list[Guard]) -> straight.Tape:
    order = topological([output, *guard_nodes(guards)])
    # the backward pass's walk (second inputs first): read backwards, the code adds each
    # adjoint's contributions in the order the eager engine adds them, to the last bit
    backward = topological([output], inputs=_second_first)
    return straight.Tape(output, args, guards, order, backward, _describe)


def _second_first(v: Value) -> tuple[Any, Any]:
    return v._b, v._a


def _namespace() -> dict[str, Any]:
    floats = {p.name: p.float_forward for p in REGISTRY}
    functions = {p.name: p.forward for p in REGISTRY if callable(p.forward)}
    ns = modules.float_namespace(floats, functions)
    ns.update(_BranchChanged=_BranchChangedError, _INF=math.inf, _NAN=math.nan)
    ns.update(_isfinite=math.isfinite, ERRORS=_ERRORS)
    return ns


def _add_to_grads(params: Sequence[Value], gradients: Sequence[float]) -> None:
    for q, d in zip(params, gradients, strict=True):
        q.grad = d if q.grad is None else q.grad + d  # None: no gradient yet (PyTorch)


class Compiled:
    """A function of Values traced once and turned into float code (see `compile`).

    Attributes: `params` (the Values read from outside, in order), `source` (the
    generated Python), `backend` and `matmul` (as given to `compile`), `guards` (the
    comparisons checked at every call, as `(symbol, left, right, result while tracing)`),
    `fallbacks` (how many examples ran eagerly because a guard came out the other way).
    """

    def __init__(
        self,
        fn: Callable[..., Value],
        example_args: tuple[Any, ...],
        lib: arrays.Arrays | None = None,
        matmul: bool = False,
    ) -> None:
        self.fn = fn
        self.backend = "python" if lib is None else lib.backend
        self.matmul = matmul
        self._arrays = lib
        self._batch: dict[str, Any] | None = None
        self.__name__ = getattr(fn, "__name__", "f")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.fallbacks = 0
        self._code: dict[str, Any] = {}
        self._tape: straight.Tape | None = None
        self.params: tuple[Value, ...] = ()  # known once traced
        self.guards: tuple[Guard, ...] = ()
        if example_args or _takes_no_arguments(fn):
            self._trace(example_args)

    # tracing -----------------------------------------------------------------------------

    def _trace(self, example_args: tuple[Any, ...]) -> None:
        leaves: list[float] = []
        self._structure = _flatten(list(example_args), leaves, "argument")
        self._n_leaves = len(leaves)
        args = [Value(x) for x in leaves]
        values = _unflatten(self._structure, args)
        with Trace() as trace:
            out = self.fn(*values)
        guards = trace.guards
        self._check_output(out)
        tape = _tape(out, args, guards)
        exact = [v for v in tape.order if type(v.data) is not float]
        if exact:
            raise TypeError(
                f"compile: {self.__name__} computes with {type(exact[0].data).__name__} "
                "numbers; compile writes float code, so it takes float Values only"
            )
        self._tape = tape
        self.params = tuple(self._tape.params)
        self.guards = tuple(guards)
        n_ops = len(self._tape.ops)
        self._title = f"{self.__name__} ({n_ops} operations, {len(self.params)} parameters)"

    def _check_output(self, out: object) -> None:
        if not isinstance(out, Value):
            raise TypeError(
                f"compile: {self.__name__} must return a Value, got {type(out).__name__}"
            )

    @property
    def _traced(self) -> straight.Tape:
        if self._tape is None:
            raise RuntimeError(
                f"{self.__name__} has not been traced yet: call it once, or pass example "
                "arguments to compile()"
            )
        return self._tape

    def _generated(self, mode: str) -> dict[str, Any]:
        ns = self._code.get(mode)
        if ns is None:
            source = straight.functions_source(self._traced, self._structure, self._title, mode)  # type: ignore[arg-type]
            filename = f"<compiled {self.__name__} {id(self):x} {mode}>"
            ns = modules.load(source, filename, _namespace())
            ns["__source__"] = source
            self._code[mode] = ns
        return ns

    @property
    def source(self) -> str:
        """The generated Python (fast version) for reading."""
        return str(self._generated("fast")["__source__"])

    @property
    def safe_source(self) -> str:
        """The IEEE version: used for a call whose fast version raised."""
        return str(self._generated("safe")["__source__"])

    def _batch_code(self) -> dict[str, Any]:
        """The array code of `backward_batch` (numpy and torch backends), made once."""
        if self._batch is None:
            assert self._arrays is not None
            code = batch.batch_source(self._traced, self._title, self.matmul)
            ns = arrays.namespace(self._arrays, list(REGISTRY))
            ns.update((k, self._arrays.index(v)) for k, v in code.positions.items())
            filename = f"<compiled {self.__name__} {id(self):x} {self.backend}>"
            self._batch = modules.load(code.source, filename, ns)
            self._batch["__source__"] = code.source
        return self._batch

    @property
    def batch_source(self) -> str:
        """The generated array code of `backward_batch` (numpy and torch backends)."""
        if self._arrays is None:
            raise ValueError(
                f"{self.__name__} was compiled for the python backend: its batch code is in "
                "`source` (backward_batch_fast)"
            )
        return str(self._batch_code()["__source__"])

    # calling -----------------------------------------------------------------------------

    def _leaves(self, args: tuple[Any, ...]) -> list[float]:
        if self._tape is None:
            self._trace(args)
        leaves: list[float] = []
        structure = _flatten(list(args), leaves, "argument")
        if structure != self._structure:
            raise ValueError(
                f"{self.__name__}: arguments shaped {_shape(structure)} do not match the "
                f"traced example {_shape(self._structure)}"
            )
        return leaves

    def _run(self, name: str, *call: Any) -> Any:
        try:
            return self._generated("fast")[name + "_fast"](*call)
        except _ERRORS:
            return self._generated("safe")[name + "_safe"](*call)

    def __call__(self, *args: Any) -> float:
        """The value of the function at `args` (a float)."""
        leaves = self._leaves(args)
        p = [q.data for q in self.params]
        try:
            return float(self._run("value", p, leaves))
        except _BranchChangedError:
            self.fallbacks += 1
            return self._eager(leaves, gradients=False)[0]

    def value_and_grad(self, *args: Any) -> tuple[float, list[float], list[float]]:
        """`(value, parameter gradients, input gradients)` at `args`; writes no `.grad`.

        The input gradients follow the flattened order of the arguments; the parameter
        gradients those of `params` (a parameter that only another branch than the
        traced one reads is not among them: `backward` adds its gradient too).
        """
        value, dp, da, _ = self._value_and_grad(args)
        return value, dp, da

    def _value_and_grad(self, args: tuple[Any, ...]) -> _Eager:
        leaves = self._leaves(args)
        p = [q.data for q in self.params]
        try:
            value, dp, da = self._run("value_and_grad", p, leaves)
        except _BranchChangedError:
            self.fallbacks += 1
            return self._eager(leaves)
        return float(value), dp, da, []

    def backward(self, *args: Any) -> float:
        """Add the gradient at `args` to each parameter's `.grad` and return the value."""
        value, dp, _, others = self._value_and_grad(args)
        _add_to_grads(self.params, dp)
        _add_to_grads([v for v, _ in others], [d for _, d in others])
        return value

    def backward_batch(self, *columns: Sequence[Any], reduction: str = "mean") -> float:
        """The mean (or sum) of the function over a batch; adds its gradient to `.grad`.

        `columns` hold one sequence per argument (lists, tuples, NumPy arrays or torch
        tensors), each as long as the batch: `f.backward_batch(xs, ys)` evaluates
        `f(xs[i], ys[i])` for every `i` in one generated loop. This is the compiled form
        of `sum(losses) / n; loss.backward()`.
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if not columns and self._tape is None:
            self._trace(())
        lengths = {len(c) for c in columns}
        if not columns:
            raise ValueError(f"{self.__name__}: backward_batch() needs one column per argument")
        if len(lengths) > 1:
            raise ValueError(f"{self.__name__}: batch columns differ in length: {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            raise ValueError(f"{self.__name__}: the batch is empty")
        # NumPy arrays and torch tensors are read as the lists they hold
        first = tuple(_listed(c[0]) for c in columns)
        self._leaves(first)  # checks the shape (and traces if need be)
        weight = 1.0 / n if reduction == "mean" else 1.0
        if self._arrays is None:
            total, dp, failed = self._batch_python(tuple(map(_listed, columns)), weight)
        else:
            total, dp, failed = self._batch_arrays(columns, n, weight)
        others: list[tuple[Value, float]] = []  # parameters only other branches read
        for leaves in failed:
            self.fallbacks += 1
            value, gp, _, seen = self._eager(leaves)
            total += value
            for k, d in enumerate(gp):
                dp[k] += weight * d
            others += [(v, weight * d) for v, d in seen]
        _add_to_grads(self.params, dp)
        _add_to_grads([v for v, _ in others], [d for _, d in others])  # repeats add up
        return float(total * weight) if reduction == "mean" else float(total)

    def _batch_python(
        self, columns: tuple[Sequence[Any], ...], weight: float
    ) -> tuple[float, list[float], list[list[float]]]:
        """The batch by the generated float loop: total, gradients, examples left over."""
        p = [q.data for q in self.params]
        try:
            total, dp, failed = self._run("backward_batch", p, columns, weight)
            plain = total.__class__ is float
        except (TypeError, OverflowError):
            plain = False
        if not plain:  # other numbers (NumPy scalars, huge ints) or no numbers: as floats
            n = len(columns[0])
            examples = [_unflatten(self._structure, e) for e in self._examples(columns, n)]
            columns = tuple(list(c) for c in zip(*examples, strict=True))
            total, dp, failed = self._run("backward_batch", p, columns, weight)
        return total, dp, [self._leaves(tuple(c[i] for c in columns)) for i in failed]

    def _batch_arrays(
        self, columns: tuple[Sequence[Any], ...], n: int, weight: float
    ) -> tuple[float, list[float], list[list[float]]]:
        """The batch by the array code: total, gradients, examples left over (those whose
        comparisons come out otherwise than while tracing)."""
        lib = self._arrays
        assert lib is not None
        matrix = self._matrix(columns, n)
        run = self._batch_code()["batch"]
        p = [q.data for q in self.params]
        keep = list(range(n))
        failed: list[int] = []
        with lib.quiet():
            try:
                while True:  # the examples left agree with the trace (checked again)
                    rows = lib.rows(matrix if len(keep) == n else matrix[:, keep])
                    total, result = run(p, rows, len(keep), weight)
                    if total is not None:
                        break
                    out = set(result)
                    failed += [i for j, i in enumerate(keep) if j in out]
                    keep = [i for j, i in enumerate(keep) if j not in out]
                    if not keep:
                        total, result = 0.0, [0.0] * len(p)
                        break
            except _ERRORS:  # a function applied to each example raised: as the float code
                return self._batch_python(tuple(map(_listed, columns)), weight)
        return total, result, [matrix[:, i].tolist() for i in sorted(failed)]

    def _matrix(self, columns: tuple[Sequence[Any], ...], n: int) -> Any:
        """The batch as a float64 NumPy matrix, one row per argument leaf.

        Columns that NumPy reads as numbers of the traced shape are converted at once; any
        other column is read example by example, with the checks of a call.
        """
        np = arrays.require("numpy")
        blocks = []
        for column, structure in zip(columns, self._structure, strict=True):
            shape = _regular(structure)
            try:
                block = np.asarray(column) if shape is not None else None
            except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor needing grad
                block = None
            wanted = (n, *(shape or ()))
            if block is None or block.dtype.kind not in "biuf" or block.shape != wanted:
                return self._matrix_checked(columns, n)
            blocks.append(block.reshape(n, -1).astype(np.float64))
        return np.ascontiguousarray(np.concatenate(blocks, axis=1).T)

    def _matrix_checked(self, columns: tuple[Sequence[Any], ...], n: int) -> Any:
        np = arrays.require("numpy")
        examples = self._examples(columns, n)
        return np.ascontiguousarray(np.asarray(examples, dtype=np.float64).reshape(n, -1).T)

    def _examples(self, columns: tuple[Sequence[Any], ...], n: int) -> list[list[float]]:
        """The batch read example by example, with the checks of a call: each example's
        leaves as floats (`TypeError` naming what the columns must hold)."""
        examples = []
        for i in range(n):
            example = tuple(_listed(c[i]) for c in columns)
            if _has_value(example):
                raise TypeError(f"{self.__name__}: backward_batch() expects numbers, not Values")
            try:
                examples.append(self._leaves(example))
            except TypeError as e:
                raise TypeError(
                    f"{self.__name__}: backward_batch() expects numbers in the columns ({e})"
                ) from None
        return examples

    def _eager(self, leaves: list[float], gradients: bool = True) -> _Eager:
        """One example by the eager engine (a guard came out the other way): the value,
        the gradients of the traced parameters and of the inputs, and those of parameters
        that only this branch reads (the trace never saw them)."""
        args = [Value(x) for x in leaves]
        out = self.fn(*_unflatten(self._structure, args))
        self._check_output(out)
        if not gradients or not out.requires_grad:
            return float(out), [0.0] * len(self.params), [0.0] * len(args), []
        known = [*self.params, *args]
        seen = {id(v) for v in known}
        others = [  # the walk stops at the traced parameters, read as leaves there too
            v
            for v in topological([out], stop=known)
            if v._a is None and v.requires_grad and id(v) not in seen
        ]
        gs = grad(out, [*self.params, *args, *others], allow_unused=True)
        d = [g.data for g in gs]
        k, m = len(self.params), len(self.params) + len(args)
        return out.data, d[:k], d[k:m], list(zip(others, d[m:], strict=True))

    def __repr__(self) -> str:
        if self._tape is None:
            return f"<compiled {self.__name__} (not traced yet)>"
        return f"<compiled {self._title}>"


def _listed(x: Any) -> Any:
    """An array's numbers as (nested) Python lists (`tolist()`); anything else as it is."""
    tolist = getattr(x, "tolist", None)
    return tolist() if callable(tolist) else x


def _takes_no_arguments(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in sig.parameters.values()
    )


def _regular(structure: Any) -> tuple[int, ...] | None:
    """The array shape of one example of an argument (None: not rectangular)."""
    if structure is None:
        return ()
    shapes = {_regular(s) for s in structure}
    if len(shapes) > 1 or None in shapes:
        return None
    inner = shapes.pop() if shapes else ()
    return None if inner is None else (len(structure), *inner)


def _has_value(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return any(_has_value(e) for e in x)
    return isinstance(x, Value)


def _shape(structure: Any) -> str:
    if structure is None:
        return "x"
    return "(" + ", ".join(_shape(s) for s in structure) + ")"
