"""``compile``: trace a function of Values once, then run it as straight-line float code.

The eager engine builds a graph node for every operation and walks it backwards. When the
*same* computation runs again and again (the loss of one example, for every example of
every training step), that work can be done once: :func:`compile` calls the function on
example arguments, records the graph it builds (the *tape*), and writes Python source that
computes the forward value and every gradient on plain floats, in straight lines.

Every line comes from the table of primitives (:mod:`microgradx.ops`): the forward
expression and the derivative rules are inlined by :func:`microgradx.lang.emit`, exactly as
the eager engine inlines them, so both give the same numbers. The kinks of the ops
themselves (``relu``, ``abs``, ``pow`` at zero) are expressions such as
``0.0 if out <= 0 else g`` and stay exact for every input.

How the backward code is written (each choice keeps the eager engine's numbers):

* *Pulled adjoints.* Going from the last operation to the first, an intermediate's adjoint
  is complete once all of its users are done, so it is written as one sum of their
  contributions (``dv5 = dv9 * p3 + dv12 * p7``) instead of one ``+=`` per contribution.
  An adjoint read once is written straight into the rule that reads it
  (``dv4 = 0.0 if v5 <= 0.0 else dv9 * p3 + ...``: the sum is evaluated only when the
  relu is on).
* *Gradient groups.* The ``+=`` statements into the parameters' gradients that multiply
  the same adjoint stand together under ``if dv9 != 0.0 or not finite:``. With a zero
  adjoint and finite values they would only add zeros, which changes nothing; with inf or
  nan about they run, so ``0 * inf = nan`` arrives as in the eager engine.
* Whole numbers of the rules are written as floats (``v5 <= 0.0``): CPython compares and
  adds two floats on a fast path.

>>> from microgradx import Value, compile
>>> w = Value(0.5, label="w")
>>> f = compile(lambda x: (w * x).relu(), 3.0)
>>> f(4.0)
2.0
>>> f.backward(4.0)  # adds d f / d w to w.grad, like loss.backward()
2.0
>>> w.grad
4.0

What the trace cannot see:

* Python-level control flow on ``.data`` or ``float(v)`` inside the function: those values
  are frozen at trace time. Comparisons of Values (``x > 0``, ``max(a, b)``) *are* seen:
  they are recorded as guards and checked at every call; an example that takes a different
  branch is computed by the eager engine instead (see :attr:`Compiled.fallbacks`).
* Results made under ``no_grad()`` inside the function are constants of the trace.
"""

from __future__ import annotations

import ast
import builtins
import contextvars
import inspect
import math
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

from . import _generate, engine, lang, ops
from .engine import NO_GRAD, Value, grad, to_float, topological

__all__ = ["Compiled", "compile"]

_ERRORS = (ArithmeticError, ValueError)


class _BranchChangedError(Exception):
    """Raised inside generated code when an example takes another branch than the trace."""


def compile(fn: Callable[..., Value], *example_args: Any) -> Compiled:
    """Trace ``fn`` on ``example_args`` and return it as generated float code.

    ``fn`` computes one Value from its arguments (numbers, Values, or nested lists and
    tuples of them; each becomes a leaf Value while tracing). Values it reads from outside,
    such as a model's weights, are the *parameters*: their current ``.data`` is read at
    every call and their gradients are what :meth:`Compiled.backward` and
    :meth:`Compiled.backward_batch` add to ``.grad``.

    Without example arguments, tracing waits for the first call, so ``@compile`` works as
    a decorator. A function of no arguments is traced at once.
    """
    if not callable(fn):
        raise TypeError(f"compile() expects a function, got {type(fn).__name__}")
    return Compiled(fn, example_args)


# -- tracing ------------------------------------------------------------------------------

_recording: contextvars.ContextVar[list[tuple[str, Any, Any, bool]] | None] = (
    contextvars.ContextVar("compile_guards", default=None)
)
_patch_lock = threading.Lock()
_COMPARISONS = {"__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">="}


def _recorder(name: str, symbol: str) -> Callable[[Value, Any], bool]:
    original = getattr(Value, name)

    def compare(self: Value, other: Any) -> bool:
        result: bool = original(self, other)
        guards = _recording.get()
        if guards is not None:
            guards.append((symbol, self, other, result))
        return result

    compare.__wrapped__ = original  # type: ignore[attr-defined]
    return compare


class _RecordComparisons:
    """While active, comparisons of Values in this thread/task are appended to a list."""

    depth = 0

    def __init__(self) -> None:
        self.guards: list[tuple[str, Any, Any, bool]] = []

    def __enter__(self) -> list[tuple[str, Any, Any, bool]]:
        with _patch_lock:
            if _RecordComparisons.depth == 0:
                for name, symbol in _COMPARISONS.items():
                    setattr(Value, name, _recorder(name, symbol))
            _RecordComparisons.depth += 1
        self.token = _recording.set(self.guards)
        return self.guards

    def __exit__(self, *exc: object) -> None:
        _recording.reset(self.token)
        with _patch_lock:
            _RecordComparisons.depth -= 1
            if _RecordComparisons.depth == 0:
                for name in _COMPARISONS:
                    setattr(Value, name, getattr(Value, name).__wrapped__)


def _flatten(x: Any, out: list[Any], where: str) -> Any:
    """Append the leaves of ``x`` to ``out``; return its structure (None marks a leaf)."""
    if isinstance(x, (list, tuple)):
        return tuple(_flatten(e, out, f"{where}[{i}]") for i, e in enumerate(x))
    if isinstance(x, Value):
        out.append(x.data)
    else:
        out.append(to_float(x, f"compile: {where}"))
    return None


def _unflatten(structure: Any, leaves: Iterable[Any]) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        return next(it) if s is None else [build(e) for e in s]

    return build(structure)


# -- code generation ----------------------------------------------------------------------


def _literal(x: float) -> str:
    """A float as an atom of source code (negative numbers in parentheses)."""
    if math.isnan(x):
        return "_NAN"
    if math.isinf(x):
        return "_INF" if x > 0 else "(-_INF)"
    return repr(x) if math.copysign(1.0, x) > 0 else f"({x!r})"


_HOLE = re.compile(r"\b_t(x|y|g|out)_\b")
_templates: dict[tuple[int, int, str], tuple[ops.Primitive, str]] = {}


def _template(p: ops.Primitive, which: int, mode: lang.Mode) -> str:
    """Rule ``which`` of ``p`` (-1: the forward expression) with holes ``_tx_``, ``_tg_``, ...

    :func:`lang.emit` runs once per rule and mode; :func:`_emit` fills in the names.
    """
    key = (id(p), which, mode)
    cached = _templates.get(key)  # holds p itself, so its id cannot be reused
    if cached is None:
        tree = p.forward_tree if which < 0 else p.vjp_trees[which]
        assert tree is not None
        holes = {name: f"_t{name}_" for name in ("x", "y", "g", "out")}
        namer = _generate._library(mode) if which < 0 else _generate._function_names(mode)
        text = lang.emit(tree, mode, holes, namer)
        cached = _templates[key] = (p, text)
    return cached[1]


def _emit(p: ops.Primitive, which: int, mode: lang.Mode, env: dict[str, str]) -> str:
    """Rule ``which`` of ``p`` (-1: the forward expression) as source, inputs from ``env``.

    Every value in ``env`` is an atom (a name, a parenthesised literal or expression), so
    filling it in cannot change the meaning.
    """
    template = _template(p, which, mode)
    return _HOLE.sub(lambda m: env[m.group(1)], template)


class _Tape:
    """The traced graph as numbered variables, ready to be written out as code."""

    def __init__(
        self,
        output: Value,
        args: list[Value],
        guards: list[tuple[str, Any, Any, bool]],
    ) -> None:
        arg_index = {id(a): i for i, a in enumerate(args)}
        guard_roots = [x for _, a, b, _ in guards for x in (a, b) if isinstance(x, Value)]
        self.order = topological([output, *guard_roots])
        self.output = output
        self.params: list[Value] = []
        self.names: dict[int, str] = {}
        self.kind: dict[int, str] = {}  # "arg", "param", "const" or "op"
        for v in self.order:
            key = id(v)
            if key in arg_index:
                self.names[key], self.kind[key] = f"a{arg_index[key]}", "arg"
            elif v._code == 0 and v._mark == NO_GRAD:
                self.names[key], self.kind[key] = _literal(v.data), "const"
            elif v._code == 0:
                self.kind[key] = "param"
            else:
                self.kind[key] = "op"
        # parameters are numbered in the order the generated code first reads them
        for v in self.order:
            for leaf in (v._a, v._b) if self.kind[id(v)] == "op" else (v,):
                if (
                    leaf is not None
                    and self.kind[id(leaf)] == "param"
                    and id(leaf) not in self.names
                ):
                    self.names[id(leaf)] = f"p{len(self.params)}"
                    self.params.append(leaf)
        self.n_args = len(args)
        self.ops = [v for v in self.order if self.kind[id(v)] == "op"]
        for i, v in enumerate(self.ops):
            self.names[id(v)] = f"v{i}"
        self.guards = guards
        # which nodes the output's gradient flows back to
        self.in_backward = {id(v) for v in topological([output])}

    def name(self, v: Any) -> str:
        return self.names[id(v)] if isinstance(v, Value) else _literal(float(v))

    def keep(self, needed: set[int]) -> set[int]:
        """Ops whose value gets a variable of its own.

        The others are written into the expression of their one user (``v3 = p0 * a0 + p1``
        rather than two lines): an op used once, whose value no derivative rule reads.
        """
        keep = {id(self.output)}
        keep.update(id(x) for _, a, b, _ in self.guards for x in (a, b) if isinstance(x, Value))
        uses: dict[int, int] = {}
        for v in self.ops:
            p = ops.REGISTRY[v._code - 1]
            template = _template(p, -1, "fast") if p.forward_tree is not None else "_tx_ _ty_"
            for var, child in zip(("x", "y")[: p.arity], (v._a, v._b)[: p.arity], strict=True):
                uses[id(child)] = uses.get(id(child), 0) + template.count(f"_t{var}_")
            if id(v) not in needed:
                continue
            for which, child in enumerate((v._a, v._b)[: p.arity]):
                if id(child) in needed:
                    read = lang.names_used(p.vjp_trees[which])
                    keep.update(id(c) for var, c in (("x", v._a), ("y", v._b), ("out", v))
                                if var in read)  # fmt: skip
        keep.update(key for key, n in uses.items() if n != 1)
        return keep

    def forward_lines(self, mode: lang.Mode, keep: set[int]) -> list[str]:
        lines = []
        inline: dict[int, tuple[str, int]] = {}  # expression of an op not yet written, its size
        for v in self.ops:
            p = ops.REGISTRY[v._code - 1]
            env, size = {}, 1
            for var, child in zip(("x", "y")[: p.arity], (v._a, v._b)[: p.arity], strict=True):
                if id(child) in inline:
                    text, n = inline.pop(id(child))
                    env[var], size = f"({text})", size + n
                else:
                    env[var] = self.name(child)
            if p.forward_tree is None:
                text = f"float(_p{mode[0]}_{p.name}({', '.join(env.values())}))"
            else:
                text = _emit(p, -1, mode, env)
            if id(v) in keep or size >= _MAX_OPS:
                lines.append(f"{self.names[id(v)]} = {_tidy(text)}")
            else:
                inline[id(v)] = (text, size)
        return lines

    def guard_lines(self, on_failure: list[str]) -> list[str]:
        """Re-check every comparison made while tracing; run ``on_failure`` if one differs."""
        lines = []
        if self.guards:
            lines.append("# comparisons made while tracing must come out the same")
        for symbol, a, b, result in self.guards:
            test = f"{self.name(a)} {symbol} {self.name(b)}"
            lines.append(f"if {'not ' if result else ''}({test}):")
            lines += [f"    {line}" for line in on_failure]
        return lines

    def needs_grad(self, kinds: Collection[str]) -> set[int]:
        """Nodes whose adjoint is needed to reach a leaf of one of ``kinds``."""
        needed: set[int] = set()
        for v in self.order:
            key = id(v)
            kind = self.kind[key]
            if key not in self.in_backward:
                continue
            if kind in kinds or (kind == "op" and (id(v._a) in needed or id(v._b) in needed)):
                needed.add(key)
        return needed

    def backward_lines(
        self, mode: lang.Mode, seed: str, needed: set[int], accumulators: set[str]
    ) -> list[str]:
        """Adjoint code, last op first. ``accumulators`` are variables summed into (``+=``).

        The adjoint is *pulled*: the contributions to an op's adjoint are collected and
        written as one sum when the op is reached (all of its users come before it), in the
        order the eager engine adds them. An adjoint that its op's rules read only once is
        not given a line of its own but written into that rule (``dv3 = 0.0 if v4 <= 0.0
        else dv9 * p2 + dv12 * p5``: relu's rule, with the sum evaluated only when used).
        """
        lines: list[str] = []
        out_key = id(self.output)
        if out_key not in needed:
            return lines
        if self.kind[out_key] != "op":  # the function returns one of its inputs
            return [f"d{self.names[out_key]} += {seed}"]
        pending: dict[int, list[tuple[str, int]]] = {out_key: [(seed, 0)]}  # (term, its size)
        additions: list[tuple[str, str, str]] = []  # (accumulator, term, adjoint in the term)
        for v in reversed(self.ops):
            terms = pending.pop(id(v), None)
            if terms is None:
                continue
            p = ops.REGISTRY[v._code - 1]
            rules = [
                (which, child)
                for which, child in enumerate((v._a, v._b)[: p.arity])
                if id(child) in needed
            ]
            reads = sum(_template(p, which, mode).count("_tg_") for which, _ in rules)
            size = sum(n for _, n in terms) + len(terms) - 1
            if reads == 0:
                continue  # no rule reads this adjoint (a derivative that is a constant)
            if reads == 1 and size < _MAX_OPS and not (len(terms) == 1 and _is_atom(terms[0][0])):
                g = f"({' + '.join(f'({t})' for t, _ in terms)})"
            else:
                g, size = _adjoint("d" + self.names[id(v)], [t for t, _ in terms], lines), 0
            env = {"g": g, "x": self.name(v._a), "out": self.names[id(v)]}
            if v._b is not None:
                env["y"] = self.name(v._b)
            for which, child in rules:
                key = id(child)
                term = _emit(p, which, mode, env)
                own = "d" + self.names[key]
                if own in accumulators:
                    additions.append((own, _tidy(term), g))
                else:
                    pending.setdefault(key, []).append((term, size + 1))
        return lines + _accumulate(additions)


_MAX_OPS = 40  # operations per generated statement: deeper expressions strain the compiler
_MIN_GROUP = 3  # additions sharing one adjoint that are worth a test for zero


def _factor(term: str, g: str) -> str | None:
    """``X`` for a term ``g * X`` (``X`` a name or number), ``""`` for ``g``, else None."""
    body = ast.parse(term, mode="eval").body
    if isinstance(body, ast.Name) and body.id == g:
        return ""
    if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Mult):
        for a, b in ((body.left, body.right), (body.right, body.left)):
            if isinstance(a, ast.Name) and a.id == g and isinstance(b, (ast.Name, ast.Constant)):
                return ast.unparse(b)
    return None


def _accumulate(additions: list[tuple[str, str, str]]) -> list[str]:
    """The ``+=`` statements into the accumulators, those sharing an adjoint together.

    A group ``dp3 += dv7 * v1``, ``dp4 += dv7 * v2``, ... adds 0.0 or -0.0 to every
    accumulator when ``dv7`` is zero (a relu that is off) and ``v1, v2, ...`` are finite,
    which changes nothing (an accumulator starts at ``0.0`` and is never ``-0.0``), so the
    group runs only when ``dv7 != 0.0 or not finite``. An accumulator written more than
    once keeps the order of its additions (it stays out of the groups).
    """
    writes: dict[str, int] = {}
    for own, _, _ in additions:
        writes[own] = writes.get(own, 0) + 1
    groups: dict[str, list[tuple[str, str, str]]] = {}
    order: list[tuple[str | None, list[tuple[str, str, str]]]] = []
    for own, term, g in additions:
        factor = _factor(term, g) if writes[own] == 1 and g.isidentifier() else None
        if factor is None:
            order.append((None, [(own, term, "")]))
            continue
        if g not in groups:
            groups[g] = []
            order.append((g, groups[g]))
        groups[g].append((own, term, factor))
    guarded = [a for a, group in order if a is not None and len(group) >= _MIN_GROUP]
    factors = dict.fromkeys(f for a in guarded for *_, f in groups[a])
    atoms = [f for f in factors if f.isidentifier()]
    lines = []
    if atoms:
        lines.append("# a zero adjoint adds zeros (nothing) to the gradients below unless they")
        lines.append("# meet inf or nan: such additions are skipped when all values are finite")
        lines.append(f"finite = _isfinite({' + '.join(atoms)})")
    for adjoint, group in order:
        indent = ""
        if adjoint in guarded:
            lines.append(
                f"if {adjoint} != 0.0 or not finite:" if atoms else f"if {adjoint} != 0.0:"
            )
            indent = "    "
        lines += [f"{indent}{own} += {term}" for own, term, _ in group]
    return lines


def _tidy(expression: str) -> str:
    """The expression with only the parentheses it needs."""
    return ast.unparse(ast.parse(expression, mode="eval"))


def _is_atom(expression: str) -> bool:
    return isinstance(ast.parse(expression, mode="eval").body, (ast.Name, ast.Constant))


def _adjoint(name: str, terms: list[str], lines: list[str]) -> str:
    """Write ``name = t1 + t2 + ...`` (unless one plain name or number suffices); return it."""
    if len(terms) == 1 and _is_atom(terms[0]):
        return terms[0]  # e.g. the rule of add is just `g`: share the name, write nothing
    for i in range(0, len(terms), _MAX_OPS):
        chunk = [f"({t})" for t in terms[i : i + _MAX_OPS]]
        if i:
            chunk.insert(0, name)
        lines.append(f"{name} = {_tidy(' + '.join(chunk))}")
    return name


def _indent(lines: list[str], depth: int) -> str:
    pad = "    " * depth
    return "\n".join(pad + line for line in lines)


def _unpack(names: list[str], source: str) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]}, = {source}"
    return f"{', '.join(names)} = {source}"


def _target(structure: Any, names: Iterator[str]) -> str:
    """The unpacking target for one example, e.g. ``((a0, a1), a2)``."""
    if structure is None:
        return next(names)
    parts = [_target(s, names) for s in structure]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def _functions(tape: _Tape, structure: Any, title: str, mode: lang.Mode) -> str:
    """Source of the three generated functions for one mode (``fast`` or ``safe``)."""
    suffix = f"_{mode}"
    params = [f"p{i}" for i in range(len(tape.params))]
    args = [f"a{i}" for i in range(tape.n_args)]
    out = tape.name(tape.output)
    head = [s for s in (_unpack(params, "p"), _unpack(args, "a")) if s]

    forward = tape.forward_lines(mode, tape.keep(set()))
    value = [
        f"def value{suffix}(p, a):",
        f'    """{title}: the value at one example."""',
        _indent(head + forward + tape.guard_lines(["raise _BranchChanged"]), 1),
        f"    return {out}",
    ]

    dp = [f"dp{i}" for i in range(len(params))]
    da = [f"da{i}" for i in range(len(args))]
    needed = tape.needs_grad(("param", "arg"))
    grads = [f"{d} = 0.0" for d in dp + da]
    backward = tape.backward_lines(mode, "1.0", needed, set(dp + da))
    forward = tape.forward_lines(mode, tape.keep(needed))
    one = [
        f"def value_and_grad{suffix}(p, a):",
        f'    """{title}: the value and the gradients at one example."""',
        _indent(head + forward + tape.guard_lines(["raise _BranchChanged"]), 1),
        "    # backward: d(output)/d(each variable), last operation first",
        _indent(grads + backward, 1),
        f"    return {out}, [{', '.join(dp)}], [{', '.join(da)}]",
    ]

    needed = tape.needs_grad(("param",))
    backward = tape.backward_lines(mode, "weight", needed, set(dp))
    forward = tape.forward_lines(mode, tape.keep(needed))
    example = _target(structure, iter(args))
    if tape.guards:  # the numbers of the examples that branch differently are kept
        loop_head = f"for i, {example} in enumerate(zip(*columns)):"
    else:
        loop_head = f"for {example} in zip(*columns):"
    batch = [
        f"def backward_batch{suffix}(p, columns, weight):",
        f'    """{title}: the sum over a batch, and weight * its gradient."""',
        _indent([_unpack(params, "p")] if params else [], 1),
        _indent([f"{d} = 0.0" for d in dp] + ["total = 0.0", "failed = []", loop_head], 1),
        _indent(forward + tape.guard_lines(["failed.append(i)", "continue"]), 2),
        f"        total += {out}",
        _indent(backward, 2),
        f"    return total, [{', '.join(dp)}], failed",
    ]
    return "\n\n\n".join(_busiest_first(f) for f in (value, one, batch))


_VARIABLE = re.compile(r"\b(?:(?:[pav]|d[pav])\d+|total|finite)\b")
_FAST_SLOTS = 250  # CPython reaches its first 256 local variables with one-byte indices


def _busiest_first(function: list[str]) -> str:
    """The function's source; with many variables, the busiest are named first.

    CPython numbers a function's local variables in order of first appearance, and those
    past the 256th take an extra instruction on every use. In a long generated function
    (an MLP has a few hundred parameters) a first line naming the variables used most
    gives them the small numbers.
    """
    lines = [line for line in function if line]
    counts: dict[str, int] = {}
    weight = 1
    for line in "\n".join(lines[2:]).splitlines():
        if line.startswith("    for "):
            weight = 100  # the batch loop runs once per example
        elif not line.startswith(" " * 8):
            weight = 1
        # `x += ...` reads and writes x
        for name in _VARIABLE.findall(line.replace("+=", f"+= {line.split()[0]} +")):
            counts[name] = counts.get(name, 0) + weight
    if len(counts) > _FAST_SLOTS:
        busiest = sorted(counts, key=lambda n: -counts[n])[:_FAST_SLOTS]
        lines.insert(2, "    # the most used variables first: Python gives them the fastest slots")
        lines.insert(3, f"    {' = '.join(busiest)} = 0.0")
    return "\n".join(lines)


# -- the compiled function ----------------------------------------------------------------


def _add_to_grads(params: Sequence[Value], gradients: Sequence[float]) -> None:
    for q, d in zip(params, gradients, strict=True):
        q.grad = d if q.grad is None else q.grad + d  # None: no gradient yet (PyTorch)


class Compiled:
    """A function of Values traced once and turned into float code (see :func:`compile`).

    Attributes: ``params`` (the Values read from outside, in order), ``source`` (the
    generated Python), ``fallbacks`` (how many examples ran eagerly because a recorded
    comparison came out the other way).
    """

    def __init__(self, fn: Callable[..., Value], example_args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "f")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.fallbacks = 0
        self._code: dict[str, Any] = {}
        self._tape: _Tape | None = None
        self.params: tuple[Value, ...] = ()  # known once traced
        if example_args or _takes_no_arguments(fn):
            self._trace(example_args)

    # tracing -----------------------------------------------------------------------------

    def _trace(self, example_args: tuple[Any, ...]) -> None:
        leaves: list[float] = []
        self._structure = _flatten(list(example_args), leaves, "argument")
        self._n_leaves = len(leaves)
        args = [Value(x) for x in leaves]
        values = _unflatten(self._structure, args)
        with _RecordComparisons() as guards:
            out = self.fn(*values)
        if not isinstance(out, Value):
            raise TypeError(
                f"compile: {self.__name__} must return a Value, got {type(out).__name__}"
            )
        self._tape = _Tape(out, args, guards)
        self.params = tuple(self._tape.params)
        n_ops = len(self._tape.ops)
        self._title = f"{self.__name__} ({n_ops} operations, {len(self.params)} parameters)"

    @property
    def _traced(self) -> _Tape:
        if self._tape is None:
            raise RuntimeError(
                f"{self.__name__} has not been traced yet: call it once, or pass example "
                "arguments to compile()"
            )
        return self._tape

    def _generated(self, mode: str) -> dict[str, Any]:
        ns = self._code.get(mode)
        if ns is None:
            source = _functions(self._traced, self._structure, self._title, mode)  # type: ignore[arg-type]
            ns = engine._generated.namespace()
            ns.update(_BranchChanged=_BranchChangedError, _INF=math.inf, _NAN=math.nan)
            ns.update(_isfinite=math.isfinite)
            exec(builtins.compile(source, f"<compiled {self.__name__}>", "exec"), ns)
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
        """The value of the function at ``args`` (a float)."""
        leaves = self._leaves(args)
        p = [q.data for q in self.params]
        try:
            return float(self._run("value", p, leaves))
        except _BranchChangedError:
            self.fallbacks += 1
            return self._eager(leaves)[0]

    def value_and_grad(self, *args: Any) -> tuple[float, list[float], list[float]]:
        """``(value, parameter gradients, input gradients)`` at ``args``; writes no ``.grad``.

        The input gradients follow the flattened order of the arguments.
        """
        leaves = self._leaves(args)
        p = [q.data for q in self.params]
        try:
            value, dp, da = self._run("value_and_grad", p, leaves)
        except _BranchChangedError:
            self.fallbacks += 1
            return self._eager(leaves)
        return float(value), dp, da

    def backward(self, *args: Any) -> float:
        """Add the gradient at ``args`` to each parameter's ``.grad`` and return the value."""
        value, dp, _ = self.value_and_grad(*args)
        _add_to_grads(self.params, dp)
        return value

    def backward_batch(self, *columns: Sequence[Any], reduction: str = "mean") -> float:
        """The mean (or sum) of the function over a batch; adds its gradient to ``.grad``.

        ``columns`` hold one sequence per argument, each as long as the batch:
        ``f.backward_batch(xs, ys)`` evaluates ``f(xs[i], ys[i])`` for every ``i`` in one
        generated loop. This is the compiled form of ``sum(losses) / n; loss.backward()``.
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
        self._leaves(tuple(c[0] for c in columns))  # checks the shape (and traces if need be)
        weight = 1.0 / n if reduction == "mean" else 1.0
        p = [q.data for q in self.params]
        try:
            total, dp, failed = self._run("backward_batch", p, columns, weight)
        except TypeError as e:
            raise TypeError(
                f"{self.__name__}: backward_batch() expects numbers in the columns ({e})"
            ) from None
        if total.__class__ is not float:
            raise TypeError(f"{self.__name__}: backward_batch() expects numbers, not Values")
        for i in failed:
            self.fallbacks += 1
            value, gp, _ = self._eager(self._leaves(tuple(c[i] for c in columns)))
            total += value
            for k, d in enumerate(gp):
                dp[k] += weight * d
        _add_to_grads(self.params, dp)
        return float(total * weight) if reduction == "mean" else float(total)

    def _eager(self, leaves: list[float]) -> tuple[float, list[float], list[float]]:
        """One example by the eager engine (when it branches differently from the trace)."""
        args = [Value(x) for x in leaves]
        out = self.fn(*_unflatten(self._structure, args))
        if not isinstance(out, Value) or not out.requires_grad:
            return float(out), [0.0] * len(self.params), [0.0] * len(args)
        gs = grad(out, [*self.params, *args], allow_unused=True)
        d = [g.data for g in gs]
        return out.data, d[: len(self.params)], d[len(self.params) :]

    def __repr__(self) -> str:
        if self._tape is None:
            return f"<compiled {self.__name__} (not traced yet)>"
        return f"<compiled {self._title}>"


def _takes_no_arguments(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in sig.parameters.values()
    )


def _shape(structure: Any) -> str:
    if structure is None:
        return "x"
    return "(" + ", ".join(_shape(s) for s in structure) + ")"
