"""Hypothesis strategies for gradient checks.

* `floats_away_from`: points that keep a margin from kinks (and stay in a range);
* `values`: `Value` leaves;
* `expressions`: random computation graphs built from the table of primitives, with
  shared subexpressions and reused inputs, that respect each op's domain.

A generated graph is an `Expression`: a callable (one `Value` per input in, a
`Value` out) that carries its own inputs and prints as text, so a shrunk counterexample
reads like `log(x0 * x0 + x1)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import reject
from hypothesis import strategies as st

from ..engine import Value
from ..ops import TABLE
from ..primitive import REGISTRY, Primitive

T = TypeVar("T")


@dataclass(frozen=True)
class Domain:
    """Where one argument of an op is smooth: the open interval `(low, high)` minus kinks.

    A kink is any point to keep away from: where the derivative jumps (`relu` at 0), a
    pole (a denominator at 0) or an edge.
    """

    low: float = -math.inf
    high: float = math.inf
    kinks: tuple[float, ...] = ()

    def contains(self, x: float, margin: float = 0.0) -> bool:
        """Whether `x` is inside, at least `margin` from the ends and from every kink."""
        if not self.low + margin < x < self.high - margin:  # nan is never inside
            return False
        return all(abs(x - k) > margin for k in self.kinks)


ANYWHERE = Domain()
POSITIVE = Domain(low=0.0)
KINK_AT_ZERO = Domain(kinks=(0.0,))

#: op name -> the domain of each argument; ops not listed are smooth everywhere
DOMAINS: dict[str, tuple[Domain, ...]] = {
    "relu": (KINK_AT_ZERO,),
    "abs": (KINK_AT_ZERO,),
    "sign": (KINK_AT_ZERO,),
    "div": (ANYWHERE, KINK_AT_ZERO),
    # an integer constant exponent allows any base (see _slot_domains); the rule for the
    # base special-cases y == 0 (as PyTorch does), so its derivative in y is 0 there
    "pow": (POSITIVE, KINK_AT_ZERO),
    "log": (POSITIVE,),
    "sqrt": (POSITIVE,),
}

#: how ops print: name -> (symbol, precedence); the rest print as calls, `name(a, b)`
INFIX: dict[str, tuple[str, int]] = {
    "add": ("+", 1),
    "sub": ("-", 1),
    "mul": ("*", 2),
    "div": ("/", 2),
    "neg": ("-", 3),
    "pow": ("**", 4),
}
_ATOM = 5

#: constants a generated graph may use as one operand of a two-input op
CONSTANTS: tuple[float, ...] = (2.0, 3.0, 0.5, -1.0, 1.5, -2.0)


def register_domain(op: str | Primitive, *domains: Domain) -> None:
    """Tell the strategies where `op` is smooth: one `Domain` per argument."""
    prim = _primitive(op)
    if len(domains) != prim.arity or not all(isinstance(d, Domain) for d in domains):
        raise ValueError(f"{prim.name} takes {prim.arity} argument(s): give that many Domains")
    DOMAINS[prim.name] = tuple(domains)


def domains_of(op: str | Primitive) -> tuple[Domain, ...]:
    """The registered domain of each argument of `op` (smooth everywhere if none was)."""
    prim = _primitive(op)
    return DOMAINS.get(prim.name, (ANYWHERE,) * prim.arity)


def _primitive(op: object) -> Primitive:
    if isinstance(op, Primitive):
        return op
    if isinstance(op, str):
        if op not in REGISTRY.by_name:
            raise ValueError(f"unknown primitive {op!r}; known: {', '.join(REGISTRY.by_name)}")
        return REGISTRY.by_name[op]
    raise TypeError(f"expected a primitive or its name, got {type(op).__name__}")


def _finite(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    return float(v)


def floats_away_from(
    kinks: Iterable[float] = (),
    min_value: float = -10.0,
    max_value: float = 10.0,
    margin: float = 1e-3,
) -> st.SearchStrategy[float]:
    """Finite floats in `[min_value, max_value]` at least `margin` away from every kink.

    Examples:
        >>> floats_away_from([0.0], -1.0, 1.0).example() != 0.0
        True
    """
    lo, hi, m = _finite("min_value", min_value), _finite("max_value", max_value), margin
    points = tuple(_finite("kink", k) for k in kinks)
    if _finite("margin", m) < 0:
        raise ValueError(f"margin must be non-negative, got {m!r}")
    if lo > hi:
        raise ValueError(f"min_value {lo} is greater than max_value {hi}")
    cuts = sorted(k for k in points if lo - m < k < hi + m)
    # the allowed set is a union of intervals; refuse an empty one at once
    edges = [lo, *[e for k in cuts for e in (k - m, k + m)], hi]
    pieces = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if a < b]
    if not pieces and not (lo == hi and all(abs(lo - k) > m for k in cuts)):
        raise ValueError(
            f"no float in [{lo}, {hi}] is more than {m} away from the kinks {list(points)}"
        )
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).filter(
        lambda x: all(abs(x - k) > m for k in points)
    )


def values(
    elements: st.SearchStrategy[float] | None = None, label: str = ""
) -> st.SearchStrategy[Value]:
    """Leaf `Value` objects whose data is drawn from `elements` (default: `[-10, 10]`)."""
    if elements is None:
        elements = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
    return elements.map(lambda x: Value(x, label))


@dataclass(frozen=True)
class Node:
    """One node of an `Expression`: an input, a constant or an op on earlier nodes."""

    op: str  # "input", "const" or a primitive's name
    args: tuple[int, ...] = ()  # indices of earlier nodes (ops only)
    value: float = 0.0  # the constant (consts only)
    index: int = 0  # which input (inputs only)


@dataclass(frozen=True, eq=False)
class Expression:
    """A computation graph as data: call it with one `Value` per input to build it.

    `nodes` are in topological order and the last is the output; a node used more than
    once is a shared subexpression (it becomes one node of the built graph). `inputs`
    holds the point the graph was generated at.

    Examples:
        >>> e = Expression((Node("input", index=0), Node("mul", (0, 0)), Node("sin", (1,))), (0.5,))
        >>> e
        Expression('sin(x0 * x0)', inputs=(0.5,))
        >>> round(e(Value(0.5)).data, 6)
        0.247404
    """

    nodes: tuple[Node, ...]
    inputs: tuple[float, ...]

    @property
    def n_inputs(self) -> int:
        """How many inputs the callable takes."""
        return len(self.inputs)

    @property
    def ops(self) -> list[str]:
        """The primitive of each op node, in order."""
        return [n.op for n in self.nodes if n.op not in ("input", "const")]

    @property
    def depth(self) -> int:
        """The number of ops on the longest path from an input to the output."""
        depth: list[int] = []
        for n in self.nodes:
            depth.append(1 + max(depth[a] for a in n.args) if n.args else 0)
        return depth[-1]

    def uses(self) -> list[int]:
        """How many times each node is an argument of a later node."""
        count = [0] * len(self.nodes)
        for n in self.nodes:
            for a in n.args:
                count[a] += 1
        return count

    def evaluate(
        self,
        functions: Mapping[str, Callable[..., T]],
        args: Sequence[T],
        constant: Callable[[float], Any] = float,
    ) -> T:
        """Evaluate with `functions[op](*operands)` per op node: the hook for oracles."""
        if len(args) != self.n_inputs:
            raise TypeError(f"this expression takes {self.n_inputs} inputs, got {len(args)}")
        results: list[Any] = []
        for n in self.nodes:
            if n.op == "input":
                results.append(args[n.index])
            elif n.op == "const":
                results.append(constant(n.value))
            else:
                results.append(functions[n.op](*(results[a] for a in n.args)))
        return results[-1]  # type: ignore[no-any-return]

    def __call__(self, *args: Value | float) -> Value:
        """Build the graph on `args` (one per input) with microgradx's primitives."""
        out = self.evaluate({name: REGISTRY.by_name[name] for name in self.ops}, args)
        if not isinstance(out, Value):
            raise TypeError("the expression's inputs must include at least one Value")
        return out

    def values(self, point: Sequence[float] | None = None) -> list[float]:
        """Every node's float value at `point` (default `inputs`), in microgradx floats."""
        xs = self.inputs if point is None else tuple(point)
        results: list[float] = []
        for n in self.nodes:
            if n.op == "input":
                results.append(xs[n.index])
            elif n.op == "const":
                results.append(n.value)
            else:
                results.append(REGISTRY.by_name[n.op].float_forward(*(results[a] for a in n.args)))
        return results

    @property
    def text(self) -> str:
        """The expression as text; shared subexpressions are named `t0 = ...; ...`."""
        uses = self.uses()
        shown: list[tuple[str, int]] = []
        lets: list[str] = []
        for k, n in enumerate(self.nodes):
            shown.append(_render(n, shown))
            if n.args and uses[k] > 1:
                name = f"t{len(lets)}"
                lets.append(f"{name} = {shown[k][0]}")
                shown[k] = (name, _ATOM)
        return "; ".join([*lets, shown[-1][0]])

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, inputs={self.inputs!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a failing example through this hook: show the text form
        printer.text(repr(self))


def _number(c: float) -> str:
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


def _render(n: Node, shown: Sequence[tuple[str, int]]) -> tuple[str, int]:
    if n.op == "input":
        return f"x{n.index}", _ATOM
    if n.op == "const":
        return _number(n.value), (3 if n.value < 0 else _ATOM)
    if n.op not in INFIX:
        return f"{n.op}({', '.join(shown[a][0] for a in n.args)})", _ATOM
    symbol, prec = INFIX[n.op]
    if len(n.args) == 1:
        text, p = shown[n.args[0]]
        if p < prec or text.startswith("-"):  # -(x + y), and -(-x) rather than --x
            text = f"({text})"
        return f"{symbol}{text}", prec
    (left, lp), (right, rp) = shown[n.args[0]], shown[n.args[1]]
    right_assoc = n.op == "pow"
    if lp < prec or (lp == prec and right_assoc):
        left = f"({left})"
    if rp < prec or (rp == prec and not right_assoc):  # keep the order of evaluation
        right = f"({right})"
    return f"{left} {symbol} {right}", prec


def _slot_domains(
    name: str, domains: Mapping[str, tuple[Domain, ...]], arity: int, exponent: float | None
) -> tuple[Domain, ...]:
    if name == "pow" and exponent is not None and exponent.is_integer():
        base = ANYWHERE if exponent >= 0 else KINK_AT_ZERO  # x ** n is smooth for every x
        return (base, ANYWHERE)
    return domains.get(name, DOMAINS.get(name, (ANYWHERE,) * arity))


@st.composite
def _graphs(
    draw: st.DrawFn,
    names: tuple[str, ...],
    n_inputs: int,
    max_depth: int,
    max_ops: int,
    inputs: st.SearchStrategy[float],
    constants: tuple[float, ...],
    respect_domains: bool,
    domains: Mapping[str, tuple[Domain, ...]],
    margin: float,
    bound: float,
) -> Expression:
    point = tuple(draw(inputs) for _ in range(n_inputs))
    nodes: list[Node] = [Node("input", index=i) for i in range(n_inputs)]
    data: list[float] = list(point)
    depth: list[int] = [0] * n_inputs
    used: list[int] = [0] * n_inputs  # how many ops use each node so far
    for _ in range(draw(st.integers(1, max_ops))):
        # Usually the op continues from the newest node, which makes graphs deep; then it
        # is one of the ops whose first argument may be that node's value.
        newest = len(nodes) - 1
        chain = draw(st.integers(0, 9)) < 9 and depth[newest] < max_depth
        fitting = names
        if chain and respect_domains:
            fitting = tuple(
                n for n in names if _first_domain(n, domains).contains(data[newest], margin)
            )
        name = draw(st.sampled_from(fitting or names))
        prim = REGISTRY.by_name[name]
        # which operand, if any, is a constant (two-input ops only); None: both are nodes
        const_at = None
        if prim.arity == 2 and constants:
            const_at = (None, None, 1, 0)[draw(st.integers(0, 3))]
        const = draw(st.sampled_from(constants)) if const_at is not None else None
        slots = _slot_domains(name, domains, prim.arity, const if const_at == 1 else None)
        args: list[int] = []
        operands: list[float] = []
        for slot in range(prim.arity):
            allowed = slots[slot] if respect_domains else ANYWHERE
            if slot == const_at:
                assert const is not None
                if respect_domains and not allowed.contains(const, margin):
                    break
                args.append(-1)
                operands.append(const)
                continue
            # candidates: nodes shallow enough, inside the domain; the newest first
            candidates = [
                k
                for k in range(len(nodes) - 1, -1, -1)
                if depth[k] < max_depth
                and nodes[k].op != "const"
                and (not respect_domains or allowed.contains(data[k], margin))
            ]
            if not candidates:
                break
            first = all(a == -1 for a in args)  # the first operand that is a node
            if first and chain and candidates[0] == newest:
                k = newest
            else:
                k = _pick(draw, first, candidates, used, args)
            args.append(k)
            operands.append(data[k])
        else:
            result = prim.float_forward(*operands)
            if respect_domains and not math.isfinite(result):
                continue
            if math.isfinite(result) and abs(result) > bound:
                continue  # e.g. sin(1e60) is noise: each engine's range reduction differs
            if -1 in args:
                nodes.append(Node("const", value=operands[args.index(-1)]))
                depth.append(0)
                used.append(0)
                data.append(operands[args.index(-1)])
                args[args.index(-1)] = len(nodes) - 1
            nodes.append(Node(name, tuple(args)))
            used.append(0)
            for a in args:
                used[a] += 1
            data.append(result)
            depth.append(1 + max(depth[a] for a in args))
    if len(nodes) == n_inputs:
        reject()  # no op fitted the inputs' domain: try other inputs
    return _pruned(nodes, point)


def _first_domain(name: str, domains: Mapping[str, tuple[Domain, ...]]) -> Domain:
    return _slot_domains(name, domains, REGISTRY.by_name[name].arity, None)[0]


def _pick(
    draw: st.DrawFn, first: bool, candidates: list[int], used: list[int], taken: list[int]
) -> int:
    # Any candidate; one no op uses yet (it joins a dangling branch back in, so less is
    # pruned); the most used one (preferential attachment: some nodes get reused many
    # times); or the newest.
    how = (
        ("any", "busiest")
        if first
        else ("unused", "unused", "any", "busiest", "busiest", "busiest", "newest")
    )
    choice = how[draw(st.integers(0, len(how) - 1))]
    if choice == "newest":
        return candidates[0]
    if choice == "unused":
        unused = [k for k in candidates if used[k] == 0 and k not in taken]
        if unused:
            return unused[draw(st.integers(0, len(unused) - 1))]
    if choice == "busiest":
        return max(candidates, key=lambda k: used[k])  # the newest of the busiest
    return candidates[draw(st.integers(0, len(candidates) - 1))]


def _pruned(nodes: Sequence[Node], point: tuple[float, ...]) -> Expression:
    # keep what the output depends on (and every input, so the callable's arity is fixed)
    needed = {len(nodes) - 1}
    for k in range(len(nodes) - 1, -1, -1):
        if k in needed:
            needed.update(nodes[k].args)
    needed.update(k for k, n in enumerate(nodes) if n.op == "input")
    new_index: dict[int, int] = {}
    kept: list[Node] = []
    for k, n in enumerate(nodes):
        if k in needed:
            new_index[k] = len(kept)
            kept.append(Node(n.op, tuple(new_index[a] for a in n.args), n.value, n.index))
    return Expression(tuple(kept), point)


def expressions(
    ops: Sequence[str | Primitive] | None = None,
    max_depth: int = 6,
    n_inputs: int = 2,
    *,
    max_ops: int | None = None,
    inputs: st.SearchStrategy[float] | None = None,
    constants: Sequence[float] = CONSTANTS,
    respect_domains: bool = True,
    domains: Mapping[str, Sequence[Domain]] | None = None,
    margin: float = 1e-2,
    bound: float = 1e4,
) -> st.SearchStrategy[Expression]:
    """Random computation graphs over `ops` (default: every built-in primitive).

    A graph is grown one op at a time; each operand is an input or an earlier node (the
    newest is favoured, so graphs get deep, and earlier nodes and inputs are reused, so
    they share subexpressions), or sometimes a constant from `constants`. With
    `respect_domains` (the default) an operand must lie inside the op's domain (see
    `DOMAINS`, `register_domain`, `domains=`) by more than `margin`, off its
    kinks, and every node's value is finite and at most `bound` in size: the graph is
    smooth at its inputs, so finite differences apply. With `respect_domains=False`
    anything goes (`log` of negatives, `0/0`) and values may be nan or inf (finite
    values still stay within `bound`).

    `max_depth` caps the longest input-to-output path, `max_ops` the number of ops
    tried (default `2 * max_depth`); `inputs` draws each input (default: a point of
    `[-4, 4]` inside the domain of one of the ops, at least `margin` away from 0).
    """
    names = tuple(_primitive(op).name for op in (ops if ops is not None else _builtin_names()))
    if not names:
        raise ValueError("ops is empty: give at least one primitive")
    for what, v, least in (("max_depth", max_depth, 1), ("n_inputs", n_inputs, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise ValueError(f"{what} must be an int >= {least}, got {v!r}")
    if max_ops is None:
        max_ops = 2 * max_depth
    if isinstance(max_ops, bool) or not isinstance(max_ops, int) or max_ops < 1:
        raise ValueError(f"max_ops must be an int >= 1, got {max_ops!r}")
    overrides = {_primitive(k).name: tuple(v) for k, v in (domains or {}).items()}
    if inputs is None:
        inputs = _default_inputs(names, overrides, _finite("margin", margin))
    return _graphs(
        names,
        n_inputs,
        max_depth,
        max_ops,
        inputs,
        tuple(_finite("constant", c) for c in constants),
        respect_domains,
        overrides,
        _finite("margin", margin),
        _finite("bound", bound),
    )


def _default_inputs(
    names: Sequence[str], domains: Mapping[str, tuple[Domain, ...]], margin: float
) -> st.SearchStrategy[float]:
    # Points in [-4, 4] inside the first argument's domain of one of the ops, so that some
    # op always applies (an op defined on (0, 1) only still gets inputs), and off 0, a kink
    # of many ops, so that graphs shrink to e.g. log(x0) at x0 = 1.0.
    choices: list[st.SearchStrategy[float]] = []
    seen: set[Domain] = set()
    for name in names:
        d = _first_domain(name, domains)
        lo, hi = max(-4.0, d.low + margin), min(4.0, d.high - margin)
        if d in seen or not lo < hi:
            continue
        seen.add(d)
        try:
            choices.append(floats_away_from([0.0, *d.kinks], lo, hi, margin))
        except ValueError:  # nothing left of it once 0 and its kinks are cut out
            continue
    if not choices:
        raise ValueError(
            f"no point in [-4, 4] lies inside the domain of any of {list(names)}; "
            "pass inputs= (a strategy for the inputs)"
        )
    return st.one_of(choices)


def _builtin_names() -> list[str]:
    return [row.name for row in TABLE]
