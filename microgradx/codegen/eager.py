"""The eager engine's code, written from the table of primitives.

From each op's row this writes, as Python source:

* its `Value` methods (`__mul__`, `__rmul__`, `exp`, ...), the forward expression
  inlined, recording the node;
* its branch of the backward pass on floats, each rule inlined;
* its rules as functions on floats (one per input, for the plain backward pass and
  forward mode) and on Values (`create_graph=True`: the derivative's own graph).

A two-input op is recorded in one of three *forms*: both inputs Values, or `y` (or `x`)
a plain number, which the node reads from a shared constant node (one per number) and
whose rule the backward pass skips. The form also decides how `x ** y` is computed:
PyTorch's shortcuts for a number exponent (`x * x` for 2), C's `pow` for a Value. For
the built-in ops the source is the committed module `microgradx/_builtins.py` (`python -m
microgradx.codegen` writes it); for a user op it is generated when the op is registered.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .. import ieee, rules
from .expressions import Mode, emit

#: the fields of a node, as the generated code reads and writes them (engine.Value's slots)
FIELDS = (
    ("data", "float"),
    ("grad", "Any"),
    ("label", "str"),
    ("_code", "int"),
    ("_a", "Any"),
    ("_b", "Any"),
    ("_mark", "int"),
    ("_adj", "Any"),
)

INPUTS = ("x", "y")
_FIELD = {"x": "_a", "y": "_b"}  # where a node keeps each input


class Op(Protocol):
    """What the generator reads of a primitive."""

    @property
    def name(self) -> str: ...
    @property
    def arity(self) -> int: ...
    @property
    def forward_text(self) -> str: ...
    @property
    def rule_texts(self) -> tuple[str, ...]: ...
    @property
    def forward_tree(self) -> ast.expr | None: ...
    @property
    def rule_trees(self) -> tuple[ast.expr, ...]: ...
    @property
    def symbol(self) -> str: ...
    @property
    def methods(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Form:
    """One way an op is recorded in a node: its code and which inputs are plain numbers."""

    code: int
    op: str
    arity: int
    numbers: tuple[str, ...] = ()

    @property
    def nodes(self) -> tuple[str, ...]:
        """The inputs that are nodes of the graph (they receive gradients)."""
        return tuple(i for i in INPUTS[: self.arity] if i not in self.numbers)

    @property
    def suffix(self) -> str:
        """`""`, `"_number_y"` or `"_number_x"`: part of the generated names."""
        return "".join(f"_number_{n}" for n in self.numbers)


NUMBER_FORMS = ((), ("y",), ("x",))  # which inputs are plain numbers, in each form


def forms_of(op: Op, first_code: int) -> list[Form]:
    """The forms of `op`, numbered from `first_code`: unary ops have one, binary three."""
    if op.arity == 1:
        return [Form(first_code, op.name, 1)]
    return [Form(first_code + i, op.name, 2, n) for i, n in enumerate(NUMBER_FORMS)]


#: how many of the table's first ops (add, mul) make most nodes of most graphs, numbers
#: on either side included (`y * 1.5`, `1 + x`)
COMMON_OPS = 2


def forms_in_order(ops: Sequence[Op], first_code: int = 1) -> list[Form]:
    """Every form of `ops`, numbered in the order the backward pass tests them: the forms
    of the first `COMMON_OPS` ops (without a number operand, then `y` a number, then `x`),
    then those of the others in the same order; within each, the table's order (the most
    used first)."""
    forms: list[Form] = []
    for group in (ops[:COMMON_OPS], ops[COMMON_OPS:]):
        for numbers in NUMBER_FORMS:
            for op in group:
                if op.arity == 2 or not numbers:
                    forms.append(Form(first_code + len(forms), op.name, op.arity, numbers))
    return forms


# -- names --------------------------------------------------------------------------------


def library_name(mode: Mode) -> Callable[[str], str]:
    """How generated code names a library function (`exp`, `log1p`, ...) in `mode`."""
    return lambda f: f"_l{mode[0]}_{f}"


def primitive_name(mode: Mode) -> Callable[[str], str]:
    """How generated code names a primitive called inside a rule, in `mode`."""
    return lambda f: f"_p{mode[0]}_{f}"


def rule_function(form: Form, node: str, mode: Mode) -> str:
    """The name of the function computing `form`'s rule for input `node` in `mode`."""
    if mode == "value":  # a rule on Values works for every form (numbers are numbers)
        return f"d{node}_{form.op}_value"
    return f"d{node}_{form.op}{form.suffix}"


# -- the pieces ---------------------------------------------------------------------------


def _guarded(target: str, fast: str, safe: str | None, indent: str, op: str = "=") -> list[str]:
    """`target = fast` (or `target += fast`), computed again as `safe` if it raised."""
    return _retried(lambda e: f"{target} {op} {e}", fast, safe, indent)


def _retried(
    statement: Callable[[str], str], fast: str, safe: str | None, indent: str
) -> list[str]:
    """The statement made of the expression `fast`, run again with `safe` if it raised."""
    if safe is None:
        return [f"{indent}{statement(fast)}"]
    return [
        f"{indent}try:",
        f"{indent}    {statement(fast)}",
        f"{indent}except ERRORS:",
        f"{indent}    {statement(safe)}",
    ]


def library_raises(name: str) -> bool:
    """Whether the plain form of the library function `name` may raise."""
    return ieee.LIBRARY[name][2]


def forward_code(
    op: Op, variables: dict[str, str], numbers: Sequence[str], to_float: bool
) -> tuple[str, str | None]:
    """The forward expression on floats: its fast form, and its safe form if that may raise.

    With `to_float` the result is made a float (`floor(x)` gives an int, `x > 0` a bool):
    every user op's forward; the built-ins give floats by construction. A forward given
    as a Python function (`_fn_NAME`) is called, its result made a float.
    """
    tree = op.forward_tree
    if tree is None:
        args = ", ".join(variables[i] for i in INPUTS[: op.arity])
        return f"float(_fn_{op.name}({args}))", None
    fast = emit(tree, "fast", variables, library_name("fast"), numbers)
    safe = None
    if rules.may_raise(tree, library_raises):
        safe = emit(tree, "safe", variables, library_name("safe"), numbers)
    if to_float:
        return f"float({fast})", None if safe is None else f"float({safe})"
    return fast, safe


def rule_code(
    tree: ast.expr,
    variables: dict[str, str],
    numbers: Sequence[str],
    raises: Callable[[str], bool],
) -> tuple[str, str | None]:
    """A rule on floats: its fast form, and its IEEE-safe form when the fast one may raise."""
    fast = emit(tree, "fast", variables, primitive_name("fast"), numbers)
    if not rules.may_raise(tree, raises):
        return fast, None
    return fast, emit(tree, "safe", variables, primitive_name("safe"), numbers)


def docstring(op: Op, form: Form | None = None, reflected: bool = False) -> str:
    """`help(Value.exp)`: the op's row of the table."""
    names = INPUTS[: op.arity]
    rules_text = "; ".join(f"d/d{n}: {r}" for n, r in zip(names, op.rule_texts, strict=True))
    who = " (self is y)" if reflected else ""
    return (
        f"The primitive {op.name!r}{who}: {op.forward_text}, recorded in the graph ({rules_text})."
    )


def _new_node(out: str, indent: str, annotate: bool = False) -> list[str]:
    """The lines that make a new node `out` holding `d`, its op not yet set."""
    return [
        f"{indent}{out}{': Self' if annotate else ''} = _new(Value)",
        f"{indent}{out}.data = d",
        f"{indent}{out}.grad = 0.0",
        f'{indent}{out}.label = ""',
        f"{indent}{out}._mark = 0",
    ]


def _link(out: str, code: int, a: str, b: str, indent: str) -> list[str]:
    """The lines that record the op of form `code` on inputs `a`, `b` in the node `out`."""
    return [f"{indent}{out}._code = {code}", f"{indent}{out}._a = {a}", f"{indent}{out}._b = {b}"]


def _record(code: int, a: str, b: str, indent: str, annotate: bool) -> list[str]:
    """The lines that make a new node `out` from inputs `a`, `b` (its data in `d`)."""
    return [
        *_new_node("out", indent, annotate),
        f"{indent}if no_grad_seen.yes and not grad_enabled.get():  # no_grad(): a constant",
        f"{indent}    out._code = CONSTANT",
        f"{indent}    out._a = out._b = None",
        f"{indent}else:",
        *_link("out", code, a, b, indent + "    "),
        f"{indent}return out",
    ]


def weighted_sum_source(add: Op, add_form: Form, mul: Op, mul_form: Form) -> str:
    """The source of `weighted_sum(b, w, x)`: a neuron's `b + w[0]*x[0] + w[1]*x[1] + ...`,
    left to right.

    The function makes the nodes the operators make (per term a mul node, then an add
    node, each from its op's forward expression, both-Values form) without a method call
    per op. A term goes through the operators unless the running sum, `w[i]` and `x[i]`
    are all of type `Value` exactly (not a number, an ExactValue or a subclass) and grad
    is enabled.
    """
    lines = [
        "def weighted_sum(b: Any, w: Sequence[Any], x: Sequence[Any]) -> Any:",
        *doc_lines(
            "b + w[0] * x[0] + w[1] * x[1] + ..., left to right: the nodes the operators "
            "make (a mul node, then an add node, per term), made without a method call "
            "per op. A term goes through the operators unless the sum so far, w[i] and "
            "x[i] are all exactly Values (not numbers, exact Values or subclasses) and "
            "grad is enabled.",
            "    ",
        ),
        "    act = b",
        "    recording = not no_grad_seen.yes or grad_enabled.get()",
        "    for wi, xi in zip(w, x, strict=True):",
        "        if not recording or type(act) is not Value"
        " or type(wi) is not Value or type(xi) is not Value:",
        "            act = act + wi * xi",
        "            continue",
    ]  # fmt: skip
    indent = "        "
    for op, form, out, (a, b), sources in (
        (mul, mul_form, "m", ("wi", "xi"), {"x": "wi.data", "y": "xi.data"}),
        (add, add_form, "s", ("act", "m"), {"x": "act.data", "y": "d"}),
    ):
        loads, variables = _loads(op, sources, indent)
        fast, safe = forward_code(op, variables, (), False)
        lines += [f"{indent}# {op.name}: {op.forward_text}", *loads]
        lines += _guarded("d", fast, safe, indent)
        lines += _new_node(out, indent) + _link(out, form.code, a, b, indent)
    lines += [f"{indent}act = s", "    return act"]
    return "\n".join(lines)


def method_source(
    op: Op,
    fname: str,
    forms: list[Form],
    reflected: bool = False,
    typed: bool = True,
) -> str:
    """A function `fname(self[, other])` applying `op`, recording the node: a `Value`
    method (for a reflected one, `other` is `x`). `typed` writes the annotations of a
    built-in's method; a user op's (not typed) makes its result a float.

    The node's inputs decide its form: two Values, or a Value and a plain number.
    """
    doc = docstring(op, reflected=reflected)
    width = 96 if typed else 100  # a built-in's method is indented once more, in its class
    where = _string(f"Value {op.symbol}")
    if op.arity == 1:
        (form,) = forms
        loads, variables = _loads(op, {"x": "self.data"}, "    ")
        fast, safe = forward_code(op, variables, (), not typed)
        sig = f"def {fname}(self) -> Self:" if typed else f"def {fname}(self):"
        lines = [sig, *doc_lines(doc, "    ", width), *loads]
        lines += _guarded("d", fast, safe, "    ")
        lines += _record(form.code, "self", "None", "    ", typed)
        return "\n".join(lines)
    by_numbers = {f.numbers: f for f in forms}
    both, number_y, number_x = by_numbers[()], by_numbers[("y",)], by_numbers[("x",)]
    if typed:
        other_type = "float" if reflected else "Self | float"
        sig = f"def {fname}(self, other: {other_type}) -> Self:"
    else:
        sig = f"def {fname}(self, other):"
    lines = [sig, *doc_lines(doc, "    ", width)]
    if not reflected:
        other = "other"
        lines.append("    if type(other) is Value:")
        if typed:  # type checkers cannot tell that `other` is a Value from that test
            lines.append("        node: Any = other")
            other = "node"
        loads, variables = _loads(op, {"x": "self.data", "y": f"{other}.data"}, "        ")
        fast, safe = forward_code(op, variables, (), not typed)
        lines += loads
        lines += _guarded("d", fast, safe, "        ")
        lines += _record(both.code, "self", other, "        ", typed)
        number, node, form = "y", "x", number_y
    else:  # Python calls it when `other` is a number (or refused a Value of its own)
        number, node, form = "x", "y", number_x
    lines.append(f"    {number} = other if type(other) is float else to_float(other, {where})")
    loads, variables = _loads(op, {node: "self.data", number: number}, "    ")
    lines += loads
    fast, safe = forward_code(op, variables, (number,), not typed)
    lines += _guarded("d", fast, safe, "    ")
    # the number's node: a constant shared by every op given the same number
    lines += [
        f"    {number}_node = SHARED.get({number})",
        f"    if {number}_node is None:",
        f"        {number}_node = shared_constant(Value, {number})",
    ]
    a, b = ("self", "y_node") if number == "y" else ("x_node", "self")
    lines += _record(form.code, a, b, "    ", typed and reflected)
    return "\n".join(lines)


def kernel_branch(
    form: Form, op: Op, raises: Callable[[str], bool], first: bool, node: str = "v"
) -> list[str]:
    """The backward pass's branch for `form`: each node input receives its rule's value.

    The branch reads the node `v` and its adjoint `g`; rules that may raise are computed
    again with IEEE results when they did.
    """
    numbers = "".join(f", {n} a number" for n in form.numbers)
    lines = [f"        {'if' if first else 'elif'} code == {form.code}:  # {op.name}{numbers}"]
    used = set().union(*(rules.names_used(op.rule_trees[INPUTS.index(i)]) for i in form.nodes))
    for i in form.nodes:
        lines.append(f"            {_FIELD[i][1:]} = {node}.{_FIELD[i]}")
    for i in INPUTS[: op.arity]:
        if i not in used:
            continue
        if i in form.numbers:  # the number's constant node gets nothing: only read it
            lines.append(f"            {i} = {node}.{_FIELD[i]}.data")
        else:
            lines.append(f"            {i} = {_FIELD[i][1:]}.data")
    if "out" in used:
        lines.append(f"            out = {node}.data")
    for i in form.nodes:
        tree = op.rule_trees[INPUTS.index(i)]
        fast, safe = rule_code(tree, {}, form.numbers, raises)
        lines += _guarded(f"{_FIELD[i][1:]}._adj", fast, safe, " " * 12, "+=")
    return lines


def kernel_source(branches: list[list[str]]) -> str:
    """The first-order backward pass on floats over `order` (each node after its users).

    With `accumulate`, each node's adjoint is added to its `.grad` when the pass reaches
    it, and the previous `.grad` is kept in `_adj`: if a rule raises, every `.grad` the
    pass changed is put back before the error goes on. Codes of no branch here are user
    ops: `steps[code](v, g)` runs their rules.
    """
    lines = [
        "def backward_kernel(",
        "    order: Sequence[Operators],",
        "    accumulate: bool,",
        "    steps: Mapping[int, Callable[[Operators, float], None]],",
        ") -> None:",
        '    """The backward pass on floats (written from the table in microgradx/ops.py)."""',
        "    v = order[0]",
        "    try:",
        "        for v in order:",
        "            g = v._adj",
        "            if accumulate:",
        "                old = v.grad",
        "                try:",
        "                    v.grad = old + g",
        "                except TypeError:",
        "                    v.grad = first_grad(old, g)",
        "                v._adj = old  # kept, so that a failure can put it back",
        "            code = v._code",
    ]
    for branch in branches:
        lines += ["    " + line for line in branch]
    lines += [
        "            elif code > 0:",
        "                steps[code](v, g)",
        "    except BaseException:",
        "        if accumulate:",
        "            restore_grads(order, v)",
        "        raise",
    ]
    return "\n".join(lines)


def float_rule_source(form: Form, op: Op, node: str, raises: Callable[[str], bool]) -> str:
    """`dx_mul(g, x, y, out)`: one rule of one form on floats, as a function."""
    tree = op.rule_trees[INPUTS.index(node)]
    fast, safe = rule_code(tree, {}, form.numbers, raises)
    name = rule_function(form, node, "fast")
    params = ", ".join(f"{p}: float" for p in ("g", "x", "y", "out"))
    lines = [f"def {name}({params}) -> float:"]
    rule = op.rule_texts[INPUTS.index(node)]
    lines += doc_lines(f"d/d{node} of {op.name}{_described(form)}: {rule}.", "    ")
    lines += _retried(lambda e: f"return {e}", fast, safe, "    ")
    return "\n".join(lines)


def _described(form: Form) -> str:
    return "".join(f" ({n} a number)" for n in form.numbers)


def value_rule_source(op: Op, node: str) -> str:
    """`dx_mul_value(g, x, y, out)`: one rule on Values (records the derivative's graph)."""
    tree = op.rule_trees[INPUTS.index(node)]
    rule = op.rule_texts[INPUTS.index(node)]
    body = emit(tree, "value", {}, primitive_name("value"))
    name = f"d{node}_{op.name}_value"
    return "\n".join([
        f"def {name}(g: Any, x: Any, y: Any, out: Any) -> Any:",
        *doc_lines(f"d/d{node} of {op.name} on Values: {rule}.", "    "),
        f"    return {body}",
    ])  # fmt: skip


def float_forward_source(op: Op, to_float: bool) -> str:
    """`mul_float(x, y)`: the op on plain numbers (IEEE results), as a function."""
    inputs = INPUTS[: op.arity]
    fast, safe = forward_code(op, {i: i for i in inputs}, inputs, to_float)
    params = ", ".join(f"{i}: float" for i in inputs)
    lines = [
        f"def {op.name}_float({params}) -> float:",
        *doc_lines(f"{op.name} on plain numbers: {op.forward_text}.", "    "),
        *_retried(lambda e: f"return {e}", fast, safe, "    "),
    ]
    return "\n".join(lines)


def step_source(form: Form, op: Op, raises: Callable[[str], bool]) -> str:
    """`step(v, g)`: a user op's branch of the backward pass, as a function of its own."""
    branch = kernel_branch(form, op, raises, first=True)
    body = ["    " + line[12:] if line.startswith(" " * 12) else line for line in branch[1:]]
    name = f"step_{op.name}{form.suffix}"
    doc = doc_lines(f"The backward step of {op.name}{_described(form)}.", "    ")
    return "\n".join([f"def {name}(v, g):", *doc, *body])


def _loads(op: Op, sources: dict[str, str], indent: str) -> tuple[list[str], dict[str, str]]:
    """How the forward expression reads each input: an input it reads once is written in
    place (`self.data * other.data`), one it reads more often is loaded into a local
    first (`x = self.data`). Returns the loading lines and the names to use."""
    tree = op.forward_tree
    reads = {
        name: 2
        if tree is None
        else sum(1 for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name)
        for name in sources
    }
    lines, variables = [], {}
    for name, source in sources.items():
        if reads[name] > 1 and source != name:
            lines.append(f"{indent}{name} = {source}")
            variables[name] = name
        else:
            variables[name] = source
    return lines, variables


def doc_lines(text: str, indent: str, width: int = 100) -> list[str]:
    """A docstring's lines: one line if it fits in `width`, else wrapped."""
    one = f'{indent}"""{text}"""'
    if len(one) <= width:
        return [one]
    room = width - len(indent) - 3
    lines = textwrap.wrap(text, room, break_on_hyphens=False)
    while len(lines) < 2:  # a docstring of one line keeps its quotes on that line
        room -= 10
        lines = textwrap.wrap(text, room, break_on_hyphens=False)
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def _string(text: str) -> str:
    """`text` as a string literal in double quotes (the project's style)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
