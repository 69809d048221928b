"""`compile`'s code: a traced computation written out as straight-line float code.

The tape is the traced graph with every node numbered: arguments `a0, a1, ...`,
parameters `p0, p1, ...` (Values read from outside), operations `v0, v1, ...`. From it
this writes three functions, each in a fast form and an IEEE-safe form: the value at one
example, the value and the gradients at one example, and the batch loop that sums the
values and the parameters' gradients over many examples. Every line comes from the table
of primitives, exactly as the eager engine's code does (`microgradx.codegen.eager`).

How the backward code is written (each choice keeps the eager engine's numbers):

* *Pulled adjoints.* Going from the last operation to the first, an intermediate's adjoint
  is complete once all of its users are done, so it is written as one sum of their
  contributions (`dv5 = dv9 * p3 + dv12 * p7`) instead of one `+=` per contribution. An
  adjoint read once is written straight into the rule that reads it (`dv4 = 0.0 if
  v5 <= 0.0 else dv9 * p3 + ...`: the sum is evaluated only when the relu is on).
* *Gradient groups.* The `+=` statements into the parameters' gradients that multiply the
  same adjoint stand together under `if dv9 != 0.0 or not finite:`. With a zero adjoint
  and finite values they would only add zeros, which changes nothing; with inf or nan
  about they run, so `0 * inf = nan` arrives as in the eager engine.
* *Early exit.* In the batch loop, an example whose adjoints into the output's inputs are
  exactly 0 (a hinge loss `relu(1 - y * f(x))` on a well-classified example) skips the
  rest of its backward pass when every value the remaining rules multiply by is finite:
  those rules then give zeros, which add nothing. The exit is written only when every
  rule past the output's is of a form that maps a zero adjoint and finite values to zero
  (`g`, `g * y`, `0.0 if out <= 0 else g`, `g * cos(x)`; not `g / y` or `g / (2 * out)`,
  which are infinite at 0).
* Whole numbers of the rules are written as floats (`v5 <= 0.0`): CPython compares and
  adds two floats on a fast path.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Collection, Iterator
from typing import Any

from .. import rules
from .eager import INPUTS, Op, library_name, primitive_name
from .expressions import Mode, emit
from .runtime import CONSTANT, LEAF

#: what `describe(node)` tells the tape of an op node: the primitive and which of its
#: inputs are plain numbers
Describe = Callable[[Any], tuple[Op, tuple[str, ...]]]


def _literal(x: float) -> str:
    """A float as an atom of source code (negative numbers in parentheses)."""
    x = float(x)
    if math.isnan(x):
        return "_NAN"
    if math.isinf(x):
        return "_INF" if x > 0 else "(-_INF)"
    return repr(x) if math.copysign(1.0, x) > 0 else f"({x!r})"


_HOLE = re.compile(r"\b_t(x|y|g|out)_\b")
_templates: dict[tuple[int, int, str, tuple[str, ...]], tuple[Op, str]] = {}


def _template(op: Op, which: int, mode: Mode, numbers: tuple[str, ...]) -> str:
    """Rule `which` of `op` (-1: the forward expression) with holes `_tx_`, `_tg_`, ...

    `emit` runs once per rule, mode and form; `_emit` fills in the names.
    """
    key = (id(op), which, mode, numbers)
    cached = _templates.get(key)  # holds op itself, so its id cannot be reused
    if cached is None:
        holes = {name: f"_t{name}_" for name in ("x", "y", "g", "out")}
        if which < 0 and op.forward_tree is None:  # a Python function
            args = ", ".join(holes[i] for i in INPUTS[: op.arity])
            # on arrays: the function applied to each example (`microgradx.codegen.arrays`)
            text = f"_fa_{op.name}({args})" if mode == "array" else f"float(_fn_{op.name}({args}))"
        else:
            tree = op.forward_tree if which < 0 else op.rule_trees[which]
            assert tree is not None
            namer = library_name(mode) if which < 0 else primitive_name(mode)
            text = emit(tree, mode, holes, namer, numbers)
        cached = _templates[key] = (op, text)
    return cached[1]


def _emit(op: Op, which: int, mode: Mode, numbers: tuple[str, ...], env: dict[str, str]) -> str:
    """Rule `which` of `op` (-1: the forward expression) as source, inputs from `env`.

    Every value in `env` is an atom (a name, a parenthesised literal or expression), so
    filling it in cannot change the meaning.
    """
    template = _template(op, which, mode, numbers)
    return _HOLE.sub(lambda m: env[m.group(1)], template)


def _is_node(x: Any) -> bool:
    return hasattr(x, "_code")


class Tape:
    """The traced graph as numbered variables, ready to be written out as code.

    `order` lists every node the output (and the guards) depend on, each after its
    inputs, and `backward_order` those the output depends on, in the order of the eager
    backward pass's walk, reversed (so that the code adds up each adjoint's contributions
    in the eager engine's order); `describe` tells the
    primitive and form of an op node. Nodes are read through the fields the generated
    operators write (`_code`, `_a`, `_b`, `data`).
    """

    def __init__(
        self,
        output: Any,
        args: list[Any],
        guards: list[tuple[str, Any, Any, bool]],
        order: list[Any],
        backward_order: list[Any],
        describe: Describe,
    ) -> None:
        arg_index = {id(a): i for i, a in enumerate(args)}
        self.order = order
        self.output = output
        self.params: list[Any] = []
        self.names: dict[int, str] = {}
        self.kind: dict[int, str] = {}  # "arg", "param", "const" or "op"
        self.forms: dict[int, tuple[Op, tuple[str, ...]]] = {}
        for v in self.order:
            key = id(v)
            if key in arg_index:
                self.names[key], self.kind[key] = f"a{arg_index[key]}", "arg"
            elif v._code == CONSTANT:
                self.names[key], self.kind[key] = _literal(v.data), "const"
            elif v._code == LEAF:
                self.kind[key] = "param"
            else:
                self.kind[key] = "op"
                self.forms[key] = describe(v)
        # parameters are numbered in the order the generated code first reads them
        for v in self.order:
            for leaf in (v._a, v._b) if self.kind[id(v)] == "op" else (v,):
                if _is_node(leaf) and self.kind[id(leaf)] == "param" and id(leaf) not in self.names:
                    self.names[id(leaf)] = f"p{len(self.params)}"
                    self.params.append(leaf)
        self.n_args = len(args)
        self.ops = [v for v in self.order if self.kind[id(v)] == "op"]
        for i, v in enumerate(self.ops):
            self.names[id(v)] = f"v{i}"
        self.guards = guards
        # which nodes the output's gradient flows back to, and in which order
        self.in_backward = {id(v) for v in backward_order}
        self.backward_ops = [v for v in backward_order if self.kind[id(v)] == "op"]

    def name(self, v: Any) -> str:
        """The variable (or literal) standing for a node or a number in the code."""
        return self.names[id(v)] if _is_node(v) else _literal(float(v))

    def children(self, v: Any) -> list[tuple[str, Any]]:
        """An op node's inputs as (rule name, node or number)."""
        op, _ = self.forms[id(v)]
        return list(zip(INPUTS[: op.arity], (v._a, v._b)[: op.arity], strict=True))

    def keep(self, needed: set[int]) -> set[int]:
        """Ops whose value gets a variable of its own.

        The others are written into the expression of their one user (`v3 = p0 * a0 + p1`
        rather than two lines): an op used once, whose value no derivative rule reads.
        """
        keep = {id(self.output)}
        keep.update(id(x) for _, a, b, _ in self.guards for x in (a, b) if _is_node(x))
        uses: dict[int, int] = {}
        for v in self.ops:
            op, numbers = self.forms[id(v)]
            template = _template(op, -1, "fast", numbers)
            for var, child in self.children(v):
                if _is_node(child):
                    uses[id(child)] = uses.get(id(child), 0) + template.count(f"_t{var}_")
            if id(v) not in needed:
                continue
            for which, (_, child) in enumerate(self.children(v)):
                if id(child) in needed:
                    read = rules.names_used(op.rule_trees[which])
                    keep.update(id(c) for var, c in (("x", v._a), ("y", v._b), ("out", v))
                                if var in read and _is_node(c))  # fmt: skip
        keep.update(key for key, n in uses.items() if n != 1)
        return keep

    def forward_lines(self, mode: Mode, keep: set[int]) -> list[str]:
        """The forward pass: one line per kept op, the others written into their user."""
        lines = []
        inline: dict[int, tuple[str, int]] = {}  # expression of an op not yet written, its size
        for v in self.ops:
            op, numbers = self.forms[id(v)]
            env, size = {}, 1
            for var, child in self.children(v):
                if id(child) in inline:
                    text, n = inline.pop(id(child))
                    env[var], size = f"({text})", size + n
                else:
                    env[var] = self.name(child)
            text = _emit(op, -1, mode, numbers, env)
            if id(v) in keep or size >= _MAX_OPS:
                lines.append(f"{self.names[id(v)]} = {_tidy(text)}")
            else:
                inline[id(v)] = (text, size)
        return lines

    def guard_lines(self, on_failure: list[str]) -> list[str]:
        """Re-check every comparison made while tracing; run `on_failure` if one differs."""
        lines = []
        if self.guards:
            lines.append("# comparisons made while tracing must come out the same")
        for symbol, a, b, result in self.guards:
            test = f"{self.name(a)} {symbol} {self.name(b)}"
            lines.append(f"if {'not ' if result else ''}({test}):")
            lines += [f"    {line}" for line in on_failure]
        return lines

    def needs_grad(self, kinds: Collection[str]) -> set[int]:
        """Nodes whose adjoint is needed to reach a leaf of one of `kinds`."""
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
        self,
        mode: Mode,
        seed: str,
        needed: set[int],
        accumulators: set[str],
        skip: bool,
        exit_test: list[str] | None = None,
    ) -> tuple[list[str], set[str]]:
        """Adjoint code, last op first, and the accumulators it adds to.

        `accumulators` are variables summed into (`+=`); with `skip`, additions of a zero
        adjoint that change nothing are skipped (see `_accumulate`). With `exit_test`
        (the finiteness tests of `early_exit`), the adjoints of the output's inputs get
        names, followed by `continue` when they are all zero and the tests hold.

        The adjoint is *pulled*: the contributions to an op's adjoint are collected and
        written as one sum when the op is reached (all of its users come before it), in the
        order the eager engine adds them. An adjoint that its op's rules read only once is
        not given a line of its own but written into that rule (`dv3 = 0.0 if v4 <= 0.0
        else dv9 * p2 + dv12 * p5`: relu's rule, with the sum evaluated only when used).
        """
        lines: list[str] = []
        out_key = id(self.output)
        if out_key not in needed:
            return lines, set()
        if self.kind[out_key] != "op":  # the function returns one of its inputs
            own = f"d{self.names[out_key]}"
            return [f"{own} += {seed}"], {own}
        pending: dict[int, list[tuple[str, int]]] = {out_key: [(seed, 0)]}  # (term, its size)
        additions: list[tuple[str, str, str]] = []  # (accumulator, term, adjoint in the term)
        for v in reversed(self.backward_ops):
            terms = pending.pop(id(v), None)
            if terms is None:
                continue
            op, numbers = self.forms[id(v)]
            receiving = [
                (which, child)
                for which, (_, child) in enumerate(self.children(v))
                if _is_node(child) and id(child) in needed
            ]
            reads = sum(_template(op, which, mode, numbers).count("_tg_") for which, _ in receiving)
            size = sum(n for _, n in terms) + len(terms) - 1
            if reads == 0:  # its rules are constants (sign's 0.0): the adjoint is not needed,
                g = "0.0"  # but the inputs still receive them, and pass on inf and nan
            elif reads == 1 and size < _MAX_OPS and not (len(terms) == 1 and _is_atom(terms[0][0])):
                g = f"({' + '.join(f'({t})' for t, _ in terms)})"
            else:
                g, size = _adjoint("d" + self.names[id(v)], [t for t, _ in terms], lines), 0
            env = {"g": g, "out": self.names[id(v)]}
            env.update((var, self.name(child)) for var, child in self.children(v))
            for which, child in receiving:
                key = id(child)
                term = _emit(op, which, mode, numbers, env)
                own = "d" + self.names[key]
                if own in accumulators:
                    additions.append((own, _tidy(term), g))
                else:
                    pending.setdefault(key, []).append((term, size + 1))
            if exit_test is not None and v is self.output:
                lines += self._exit(pending, exit_test)
        return lines + _accumulate(additions, skip), {own for own, _, _ in additions}

    def _exit(self, pending: dict[int, list[tuple[str, int]]], tests: list[str]) -> list[str]:
        """Name the adjoints of the output's inputs; `continue` if all are 0 (see
        `early_exit`)."""
        lines: list[str] = []
        zeros: list[str] = []
        for key, terms in pending.items():
            own = _adjoint("d" + self.names[key], [t for t, _ in terms], lines)
            pending[key] = [(own, 0)]
            zeros.append(f"{own} == 0.0")
        lines.append("# a zero adjoint past the output, with finite values, adds only zeros")
        lines.append(f"if {' and '.join(zeros + tests)}:")
        lines.append("    continue")
        return lines

    def early_exit(self, needed: set[int]) -> tuple[list[str], list[str]] | None:
        """Whether the batch loop can skip an example whose adjoints into the output's
        inputs are zero: the lines to run once before the loop and the tests per example.

        It can when every rule past the output's maps a zero adjoint and finite values
        to zero (`_zero_keeping`); the tests are then that the values those rules
        multiply by are finite (the parameters once, the example's values each time).
        None if a rule may not keep zero, or a number in a rule is infinite or nan.
        """
        out_key = id(self.output)
        if self.kind[out_key] != "op":
            return None
        receiving = [c for _, c in self.children(self.output) if _is_node(c) and id(c) in needed]
        if not receiving or any(self.kind[id(c)] != "op" for c in receiving):
            return None  # an input of the output is a parameter: nothing to skip
        read: dict[int, Any] = {}
        for v in self.backward_ops:
            if v is self.output or id(v) not in needed:
                continue
            op, _ = self.forms[id(v)]
            nodes = dict(zip(("x", "y", "out"), (v._a, v._b, v), strict=True))
            for which, (_, child) in enumerate(self.children(v)):
                if not (_is_node(child) and id(child) in needed):
                    continue
                names = _zero_keeping(op.rule_trees[which])
                if names is None:
                    return None
                for name in names:
                    x = nodes[name]
                    if not _is_node(x) or self.kind[id(x)] == "const":
                        if not math.isfinite(float(x.data if _is_node(x) else x)):
                            return None
                    else:
                        read.setdefault(id(x), x)
        params = [self.names[k] for k, x in read.items() if self.kind[k] == "param"]
        values = [self.names[k] for k, x in read.items() if self.kind[k] != "param"]
        before = [f"params_finite = {_all_finite(params)}"] if params else []
        tests = ["params_finite"] if params else []
        if values:
            tests.append(_all_finite(values))
        return before, tests


_MAX_OPS = 40  # operations per generated statement: deeper expressions strain the compiler
_MIN_GROUP = 3  # additions sharing one adjoint that are worth a test for zero


#: functions finite at every finite argument
_BOUNDED = frozenset({"cos", "sin", "sign"})


def _zero_keeping(tree: ast.expr) -> set[str] | None:
    """The names a rule multiplies `g` by, if the rule is 0 (or -0.0) whenever `g` is
    and those names are finite; None if it may not be (`g / y`, `g * (1 - out * out)`).

    Kept forms: `g`, `-g`, `0.0`, `a if test else b` of kept forms (the test only picks
    one), and `g` times a name, a finite number or `cos`, `sin` or `sign` of a name.
    """
    if isinstance(tree, ast.Name) and tree.id == "g":
        return set()
    if isinstance(tree, ast.Constant):
        return set() if tree.value == 0 else None
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.USub, ast.UAdd)):
        return _zero_keeping(tree.operand)
    if isinstance(tree, ast.IfExp):
        body, orelse = _zero_keeping(tree.body), _zero_keeping(tree.orelse)
        return None if body is None or orelse is None else body | orelse
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult):
        for a, b in ((tree.left, tree.right), (tree.right, tree.left)):
            rest = _zero_keeping(a)
            factor = _finite_factor(b)
            if rest is not None and factor is not None:
                return rest | factor
    return None


def _finite_factor(tree: ast.expr) -> set[str] | None:
    """The names an expression reads, if it is finite whenever they are; else None."""
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.USub, ast.UAdd)):
        return _finite_factor(tree.operand)
    if isinstance(tree, ast.Name) and tree.id in ("x", "y", "out"):
        return {tree.id}
    if isinstance(tree, ast.Constant) and isinstance(tree.value, (int, float)):
        return set() if math.isfinite(tree.value) else None
    if (
        isinstance(tree, ast.Call)
        and rules.callee(tree) in _BOUNDED
        and len(tree.args) == 1
        and not tree.keywords
    ):
        return _finite_factor(tree.args[0])
    return None


def _all_finite(names: list[str]) -> str:
    """A test that the variables are all finite: their sum is (inf - inf is nan)."""
    names = sorted(names, key=_number)
    chunks = [names[i : i + _MAX_OPS] for i in range(0, len(names), _MAX_OPS)]
    return " and ".join(f"_isfinite({' + '.join(chunk)})" for chunk in chunks)


def _number(name: str) -> tuple[str, int]:
    """Sort key of a variable name: `a1` before `a10`."""
    head = name.rstrip("0123456789")
    return head, int(name[len(head) :] or 0)


def _factor(term: str, g: str) -> str | None:
    """`X` for a term `g * X` (`X` a name or number), `""` for `g`, else None."""
    body = ast.parse(term, mode="eval").body
    if isinstance(body, ast.Name) and body.id == g:
        return ""
    if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Mult):
        for a, b in ((body.left, body.right), (body.right, body.left)):
            if isinstance(a, ast.Name) and a.id == g and isinstance(b, (ast.Name, ast.Constant)):
                return ast.unparse(b)
    return None


def _accumulate(additions: list[tuple[str, str, str]], skip: bool) -> list[str]:
    """The `+=` statements into the accumulators; with `skip`, those sharing an adjoint
    together, skipped when they would change nothing.

    A group `dp3 += dv7 * v1`, `dp4 += dv7 * v2`, ... adds 0.0 or -0.0 to every
    accumulator when `dv7` is zero (a relu that is off) and `v1, v2, ...` are finite,
    which changes nothing when the accumulator starts at `0.0` (it is then never
    `-0.0`), so the group runs only when `dv7 != 0.0 or not finite`. An accumulator
    written more than once keeps the order of its additions (it stays out of the groups).
    Without `skip` (accumulators that start at `-0.0`, as the eager engine's adjoints, and
    end with the sign of zero of its sum) every addition is written in order.
    """
    if not skip:
        return [f"{own} += {term}" for own, term, _ in additions]
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
    """Write `name = t1 + t2 + ...` (unless one plain name or number suffices); return it."""
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
    """The unpacking target for one example, e.g. `((a0, a1), a2)`."""
    if structure is None:
        return next(names)
    parts = [_target(s, names) for s in structure]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def functions_source(
    tape: Tape, structure: Any, title: str, mode: Mode, early_exit: bool = True
) -> str:
    """Source of the three generated functions for one mode (`fast` or `safe`).

    `early_exit=False` leaves the batch loop's early exit out (`Tape.early_exit`).
    """
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
    backward, added = tape.backward_lines(mode, "1.0", needed, set(dp + da), skip=False)
    # as the eager engine's adjoints: -0.0 (IEEE's 0 for sums) where the output depends on
    # the variable, and grad(..., allow_unused=True)'s 0.0 where it does not
    grads = [f"{d} = {'-0.0' if d in added else '0.0'}" for d in dp + da]
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
    exit_lines = tape.early_exit(needed) if early_exit else None
    before, exit_test = exit_lines if exit_lines is not None else ([], None)
    backward, _ = tape.backward_lines(mode, "weight", needed, set(dp), True, exit_test)
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
        _indent([f"{d} = 0.0" for d in dp] + before + ["total = 0.0", "failed = []"], 1),
        _indent([loop_head], 1),
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
