"""`compile`'s array code: the tape written once for a whole batch of examples.

`microgradx.codegen.straight` writes the traced computation for one example on floats;
this writes the same tape for all examples at once: every variable of the trace becomes
an array over the examples (a parameter, or a value computed from parameters and numbers
alone, stays one number, which the arrays broadcast), and every line is a rule of the table
written by the same `emit`, in its `array` mode (`microgradx.codegen.expressions`). The
array library is not named here: the generated code calls the helpers of
`microgradx.codegen.arrays`, bound to NumPy or torch.

The generated function `batch(p, a, n, weight)` takes the parameters' numbers, one array
per argument leaf, the number of examples and the weight of each example (1/n for a
mean), and returns `(total, gradients)`: the sum of the function over the examples and
`weight` times the sum of its gradients, one float per parameter. The comparisons made
while tracing are checked for every example first; when some come out otherwise it returns
`(None, positions)` instead, and the caller runs those examples another way.

*Matrix products.* With `matmul`, a pass over the tape finds the sums of products of
parameters and per-example values that read the same values in the same order (the
neurons of a layer of `microgradx.nn.MLP`, each `b + w[0]*x[0] + w[1]*x[1] + ...`) and
writes each such group as one matrix product: forward `Z = W @ X + b` (one row per neuron,
one column per example), backward `dX = W.T @ dZ`, `dW = dZ @ X.T`, `db = dZ.sum(1)`. The
weights are gathered from the parameters at every call and their gradients scattered
back. The sums are added in another order than the engine's left-to-right chain, so the
numbers agree to rounding, not to the bit.

*Layers.* When every row of one product goes through the same element-wise op (a relu)
and the results, in the same order, are the inputs of the next product, the op is applied
once to the whole matrix (`H0 = relu(Z0)`, `X1 = H0`), and its rule once in the backward
pass (`dZ0 = rule(dX1)`): the same numbers, element by element, in one array call instead
of one per neuron.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from .arrays import _NATIVE
from .eager import library_name
from .straight import Tape, _adjoint, _emit, _is_node, _tidy

#: the fewest products in one neuron's sum worth a matrix product
_MIN_TERMS = 2


@dataclass
class Group:
    """Sums of products that read the same inputs: the rows of one matrix product.

    `ends` are the nodes holding each sum (one per row), `weights[i][j]` the parameter
    multiplying `inputs[j]` in row `i`, `biases[i]` the parameter the row starts from (None
    for none), `offsets[i]` a node the row starts from instead (added after the product).
    """

    inputs: list[Any]
    ends: list[Any] = field(default_factory=list)
    weights: list[list[Any]] = field(default_factory=list)
    biases: list[Any] = field(default_factory=list)
    offsets: list[Any] = field(default_factory=list)


@dataclass
class BatchCode:
    """The source of the batch function and the parameter positions it reads by name."""

    source: str
    positions: dict[str, list[int]]
    groups: list[Group]


def _uses(tape: Tape) -> dict[int, int]:
    """How many times each node is read (by ops, guards and as the output)."""
    uses: dict[int, int] = {}
    for v in tape.ops:
        for _, child in tape.children(v):
            if _is_node(child):
                uses[id(child)] = uses.get(id(child), 0) + 1
    return uses


def _is_op(tape: Tape, v: Any, name: str) -> bool:
    """Whether `v` is an op node of primitive `name` with every input a node."""
    form = tape.forms.get(id(v)) if _is_node(v) else None
    return form is not None and form[0].name == name and not form[1]


def _special(tape: Tape) -> set[int]:
    """The nodes read by name, which no product or lane may absorb: the output and the
    nodes the guards compare."""
    special = {id(tape.output)}
    special.update(id(x) for _, a, b, _ in tape.guards for x in (a, b) if _is_node(x))
    return special


def _product(tape: Tape, v: Any, uses: dict[int, int], special: set[int]) -> Any:
    """`(parameter, input)` if `v` is a product of a parameter and a value read only once."""
    if not _is_op(tape, v, "mul") or uses.get(id(v)) != 1 or id(v) in special:
        return None
    for w, x in ((v._a, v._b), (v._b, v._a)):
        if tape.kind[id(w)] == "param":
            return w, x
    return None


def groups(tape: Tape) -> tuple[list[Group], set[int]]:
    """The matrix products of the tape, and the nodes they replace (the partial sums and
    the products; a row's last sum stays, as the product's output)."""
    uses = _uses(tape)
    special = _special(tape)
    absorbed: set[int] = set()
    rows: list[tuple[Any, list[tuple[Any, Any]], Any]] = []  # (end, terms, start)
    for end in reversed(tape.ops):
        if id(end) in absorbed or not _is_op(tape, end, "add"):
            continue
        terms: list[tuple[Any, Any]] = []
        inside: list[int] = []
        node = end
        while _is_op(tape, node, "add"):
            split = [
                (product, term, rest)
                for term, rest in ((node._b, node._a), (node._a, node._b))
                if (product := _product(tape, term, uses, special)) is not None
            ]
            if not split:
                break
            product, term, rest = split[0]
            terms.append(product)
            inside += [id(node), id(term)]
            node = rest
            if uses.get(id(node)) != 1 or id(node) in special:
                break
        start = node
        first = _product(tape, start, uses, special)
        if first is not None and start is not end:
            terms.append(first)
            inside.append(id(start))
            start = None
        if len(terms) < _MIN_TERMS:
            continue
        absorbed.update(inside[1:])  # all but the end itself
        rows.append((end, terms[::-1], start))
    by_inputs: dict[tuple[Any, ...], Group] = {}
    position = {id(v): i for i, v in enumerate(tape.ops)}
    for end, terms, start in sorted(rows, key=lambda r: position[id(r[0])]):
        bias = start if start is not None and tape.kind[id(start)] == "param" else None
        key = (*(id(x) for _, x in terms), bias is None)
        group = by_inputs.setdefault(key, Group([x for _, x in terms]))
        group.ends.append(end)
        group.weights.append([w for w, _ in terms])
        group.biases.append(bias)
        group.offsets.append(start if bias is None else None)
    return list(by_inputs.values()), absorbed


@dataclass
class Lane:
    """One element-wise op applied to every row of product `source`, giving in order the
    inputs of product `target`: computed once on the matrix. `nodes` are the op's nodes
    (one per row); `forward` (`H = op(Z)`) and `rule` (`dZ = rule(dX)`) its code."""

    source: int
    target: int
    nodes: list[Any]
    forward: str
    rule: str


#: the array helpers that work element by element on a matrix as on a vector (a library
#: function run example by example, or a Python forward, does not)
_ELEMENTWISE = {"_where", "_not", "_div", "_pow", "_spow"} | {
    library_name("array")(f) for f in (*_NATIVE, "sign", "sigmoid", "relu")
}


def _elementwise(*sources: str) -> bool:
    """Whether every function the expressions call works on a matrix of examples."""
    calls = [n.func for s in sources for n in ast.walk(ast.parse(s)) if isinstance(n, ast.Call)]
    return all(isinstance(f, ast.Name) and f.id in _ELEMENTWISE for f in calls)


def _names(source: str) -> set[str]:
    """The variables an expression reads."""
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def lanes(
    tape: Tape, found: list[Group], absorbed: set[int], row_of: dict[int, tuple[int, int]]
) -> dict[int, Lane]:
    """The element-wise ops between two products that can run on the whole matrix, by
    the product they feed (`row_of`: each product row's end node, as (product, row))."""
    uses = _uses(tape)
    special = _special(tape)
    out: dict[int, Lane] = {}
    for h, group in enumerate(found):
        shape: set[tuple[Any, ...]] = set()  # (source, position of the row, op, form)
        for i, u in enumerate(group.inputs):
            if not _is_node(u) or id(u) not in tape.forms or id(u) in absorbed:
                break
            inputs = [(k, c) for k, (_, c) in enumerate(tape.children(u)) if _is_node(c)]
            if len(inputs) != 1 or id(inputs[0][1]) not in row_of:
                break
            (k, end), (g, row) = inputs[0], row_of[id(inputs[0][1])]
            # u is read by the products of this group's rows alone, the row by u alone
            alone = uses.get(id(u)) == len(group.ends) and uses.get(id(end)) == 1
            if not alone or row != i or {id(u), id(end)} & special:
                break
            if found[g].offsets[i] is not None or id(end) not in tape.in_backward:
                break
            op, numbers = tape.forms[id(u)]
            shape.add((g, k, id(op), numbers))
        else:
            if len(shape) != 1:
                continue
            g, k, _, _ = shape.pop()
            forward, rule = _lane_code(tape, group.inputs[0], k, g, h)
            # a rule that ignores its gradient (sign's 0) would give no matrix: row by row
            reads_g = f"dX{h}" in _names(rule)
            if len(found[g].ends) == len(group.inputs) and reads_g and _elementwise(forward, rule):
                out[h] = Lane(g, h, list(group.inputs), forward, rule)
    return out


def _lane_code(tape: Tape, u: Any, which: int, g: int, h: int) -> tuple[str, str]:
    """The forward (`H{g} = op(Z{g})`) and the rule for input `which` (`dZ{g}` from
    `dX{h}`) of the op node `u`, on the matrices of products `g` and `h`."""
    op, numbers = tape.forms[id(u)]
    env = {"g": f"dX{h}", "out": f"H{g}"}
    env.update((var, f"Z{g}" if _is_node(c) else tape.name(c)) for var, c in tape.children(u))
    forward = _tidy(_emit(op, -1, "array", numbers, env))
    return forward, _tidy(_emit(op, which, "array", numbers, env))


def batch_source(tape: Tape, title: str, matmul: bool) -> BatchCode:
    """The batch function's source for `tape` (see the module)."""
    found, absorbed = groups(tape) if matmul else ([], set())
    positions: dict[str, list[int]] = {}
    index = {id(q): i for i, q in enumerate(tape.params)}
    head = []
    if tape.params:
        head.append(f"{', '.join(f'p{i}' for i in range(len(tape.params)))}, = p")
    if tape.n_args:
        head.append(f"{', '.join(f'a{i}' for i in range(tape.n_args))}, = a")
    if found:
        head.append("_P = _vector(p)  # the weights are gathered at every call")
    first_end: dict[int, int] = {}
    row_of: dict[int, tuple[int, int]] = {}
    for g, group in enumerate(found):
        m, k = len(group.ends), len(group.inputs)
        positions[f"_iW{g}"] = [index[id(w)] for row in group.weights for w in row]
        head.append(f"W{g} = _P[_iW{g}].reshape({m}, {k})")
        if group.biases[0] is not None:
            positions[f"_ib{g}"] = [index[id(b)] for b in group.biases]
            head.append(f"b{g} = _P[_ib{g}].reshape({m}, 1)")
        first_end[id(group.ends[0])] = g
        for i, end in enumerate(group.ends):
            row_of[id(end)] = (g, i)
    fused = lanes(tape, found, absorbed, row_of)
    lane_from = {lane.source: lane for lane in fused.values()}
    in_lanes = {id(u) for lane in fused.values() for u in lane.nodes}

    forward: list[str] = []
    for v in tape.ops:
        key = id(v)
        if key in absorbed or key in in_lanes:
            continue
        if key in row_of:
            g, i = row_of[key]
            group = found[g]
            if key in first_end:
                if g in fused:
                    forward.append(f"X{g} = H{fused[g].source}")
                else:
                    inputs = ", ".join(tape.name(x) for x in group.inputs)
                    forward.append(f"X{g} = _stack([{inputs}], n)")
                bias = f" + b{g}" if group.biases[0] is not None else ""
                forward.append(f"Z{g} = W{g} @ X{g}{bias}")
                if g in lane_from:  # the rows are read by the lane's op alone
                    forward.append(f"H{g} = {lane_from[g].forward}")
                    continue
                targets = [
                    f"_z{g}_{j}" if group.offsets[j] is not None else tape.names[id(e)]
                    for j, e in enumerate(group.ends)
                ]
                forward.append(f"{', '.join(targets)}, = Z{g}")
            if group.offsets[i] is not None:
                forward.append(f"{tape.names[key]} = _z{g}_{i} + {tape.name(group.offsets[i])}")
            continue
        op, numbers = tape.forms[key]
        env = {var: tape.name(child) for var, child in tape.children(v)}
        forward.append(f"{tape.names[key]} = {_tidy(_emit(op, -1, 'array', numbers, env))}")

    guards = []
    if tape.guards:
        guards.append("# comparisons made while tracing, for every example")
        guards.append("ok = True")
        for symbol, a, b, result in tape.guards:
            test = f"{tape.name(a)} {symbol} {tape.name(b)}"
            guards.append(f"ok = ok & ({test})" if result else f"ok = ok & _not({test})")
        guards += ["if ok is not True:", "    failed = _failed(ok, n)", "    if failed:"]
        guards.append("        return None, failed")

    backward, parts = _backward(tape, found, absorbed | in_lanes, row_of, positions, index, fused)
    out = tape.name(tape.output)
    body = [*head, *forward, *guards, f"total = _total({out}, n)", *backward]
    if parts:
        unique = sorted(positions["_iG"]) == sorted(set(positions["_iG"]))
        count = len(tape.params)
        body.append(f"return total, _gradient([{', '.join(parts)}], _iG, {count}, {unique})")
    else:
        body.append(f"return total, [0.0] * {len(tape.params)}")
    lines = [
        "def batch(p, a, n, weight):",
        f'    """{title}: the sum over a batch, and weight * its gradient."""',
        *(f"    {line}" for line in body),
    ]
    return BatchCode("\n".join(lines) + "\n", positions, found)


def _backward(
    tape: Tape,
    found: list[Group],
    absorbed: set[int],
    row_of: dict[int, tuple[int, int]],
    positions: dict[str, list[int]],
    index: dict[int, int],
    fused: dict[int, Lane],
) -> tuple[list[str], list[str]]:
    """The adjoint code (last op first) and the gradient pieces it leaves, whose
    parameters `positions["_iG"]` lists."""
    needed = tape.needs_grad(("param",))
    lines: list[str] = []
    if id(tape.output) not in needed:
        return lines, []
    pending: dict[int, list[str]] = {id(tape.output): ["weight"]}
    varying = _varying(tape) | {tape.names[id(e)] for g in found for e in g.ends}
    # per group: the adjoint of each row, filled in as the rows' ends are reached
    adjoints: list[list[str | None]] = [[None] * len(g.ends) for g in found]
    from_lane: set[int] = set()  # the products whose dZ a lane's rule wrote as a matrix
    waiting = [sum(id(e) in tape.in_backward for e in g.ends) for g in found]
    for v in reversed(tape.backward_ops):
        key = id(v)
        if key in absorbed:
            continue
        terms = pending.pop(key, None)
        if key in row_of:
            g, i = row_of[key]
            group = found[g]
            if terms is not None:
                adjoints[g][i] = _adjoint("d" + tape.names[key], terms, lines)
                if any(_reads(t, varying) for t in terms):
                    varying.add(adjoints[g][i])  # type: ignore[arg-type]
                offset = group.offsets[i]
                if offset is not None and id(offset) in needed:
                    pending.setdefault(id(offset), []).append(adjoints[g][i])  # type: ignore[arg-type]
            waiting[g] -= 1
            if waiting[g] == 0 and (g in from_lane or any(a is not None for a in adjoints[g])):
                lane = fused.get(g)
                _product_backward(g, group, adjoints[g], g in from_lane, lane is not None, lines)
                if lane is not None:  # the lane's rule on the matrix: dZ of its source
                    lines.append(f"dZ{lane.source} = {lane.rule}")
                    from_lane.add(lane.source)
                else:
                    _pass_down(g, group, needed, pending, lines)
                    varying.update(f"dX{g}_{j}" for j in range(len(group.inputs)))
            continue
        if terms is None:
            continue
        op, numbers = tape.forms[key]
        g_name = _adjoint("d" + tape.names[key], terms, lines)
        if any(_reads(t, varying) for t in terms):
            varying.add(g_name)
        env = {"g": g_name, "out": tape.names[key]}
        env.update((var, tape.name(child)) for var, child in tape.children(v))
        for which, (_, child) in enumerate(tape.children(v)):
            if _is_node(child) and id(child) in needed:
                term = _tidy(_emit(op, which, "array", numbers, env))
                pending.setdefault(id(child), []).append(term)
    parts: list[str] = []
    where: list[int] = []
    sums = []
    for q in tape.params:
        terms = pending.get(id(q))
        if terms:
            summed = [_summed(t, varying) for t in terms]
            sums.append(_adjoint(f"d{tape.names[id(q)]}", summed, lines))
            where.append(index[id(q)])
    if sums:
        parts.append(f"_sums([{', '.join(sums)}])")
    for g, group in enumerate(found):
        if waiting[g] == 0 and (g in from_lane or any(a is not None for a in adjoints[g])):
            parts.append(f"dW{g}")
            where += positions[f"_iW{g}"]
            if group.biases[0] is not None:
                parts.append(f"db{g}")
                where += positions[f"_ib{g}"]
    positions["_iG"] = where
    return lines, parts


def _varying(tape: Tape) -> set[str]:
    """The variables of the forward code that differ between examples (arrays); the others
    (parameters, and values of parameters and numbers alone) are numbers."""
    names = {f"a{i}" for i in range(tape.n_args)}
    for v in tape.ops:
        if any(tape.name(c) in names for _, c in tape.children(v) if _is_node(c)):
            names.add(tape.names[id(v)])
    return names


def _reads(term: str, varying: set[str]) -> bool:
    """Whether the expression reads a variable that differs between examples."""
    return not _names(term).isdisjoint(varying)


def _summed(term: str, varying: set[str]) -> str:
    """The sum over the examples of a parameter's gradient term: a product of two arrays
    (`g * x`, the rule of mul) as one dot product, anything else summed. (A variable that
    varies can still be a number at run time, a rule's `0.0 if y == 0 else ...` with `y`
    a parameter: `_dot` takes both.)"""
    body = ast.parse(term, mode="eval").body
    if (
        isinstance(body, ast.BinOp)
        and isinstance(body.op, ast.Mult)
        and isinstance(body.left, ast.Name)
        and isinstance(body.right, ast.Name)
        and {body.left.id, body.right.id} <= varying
    ):
        return f"_dot({body.left.id}, {body.right.id}, n)"  # either may be a number after all
    return f"_sum({term}, n)"


def _product_backward(
    g: int, group: Group, adjoints: list[str | None], stacked: bool, lane: bool, lines: list[str]
) -> None:
    """The backward of matrix product `g`, once the adjoints of all its rows are known
    (`stacked`: already the matrix `dZ{g}`, written by a lane; `lane`: its inputs feed a
    lane, which reads `dX{g}` whole)."""
    if not stacked:
        rows = ", ".join(a if a is not None else "0.0" for a in adjoints)
        lines.append(f"dZ{g} = _stack([{rows}], n)")
    lines.append(f"dW{g} = dZ{g} @ X{g}.T")
    if group.biases[0] is not None:
        lines.append(f"db{g} = dZ{g}.sum(1)")
    if lane:
        lines.append(f"dX{g} = W{g}.T @ dZ{g}")


def _pass_down(
    g: int, group: Group, needed: set[int], pending: dict[int, list[str]], lines: list[str]
) -> None:
    """Each input of product `g` that needs a gradient gets its row of `dX{g}`."""
    receiving = [j for j, x in enumerate(group.inputs) if _is_node(x) and id(x) in needed]
    if receiving:
        lines.append(f"dX{g} = W{g}.T @ dZ{g}")
        for j in receiving:
            pending.setdefault(id(group.inputs[j]), []).append(f"dX{g}_{j}")
        lines.append(f"{', '.join(f'dX{g}_{j}' for j in range(len(group.inputs)))}, = dX{g}")
