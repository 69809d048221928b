"""Forward mode: `jvp` (one directional derivative) and `hvp` (forward over reverse).

A rule of the table is a vector-Jacobian product, linear in `g`, so evaluating it with
`g` set to an input's tangent gives that input's share of the output's tangent (for a
scalar op the VJP and the JVP are the same number). `jvp` runs the same rules the
backward pass runs, forward, node by node: on floats for numbers, on Values (recording
the tangent's own graph) when any primal or tangent is a Value.
"""

from __future__ import annotations

from typing import Any

from . import exact
from .checks import to_float
from .engine import Value, constant, share, topological
from .primitive import REGISTRY
from .transforms import Fn, as_list, check_function, grads, inputs_of, output_of, plain, recording

__all__ = ["hvp", "jvp"]


def _forward_order(outputs: list[Value], primals: list[Value]) -> list[Value]:
    """The op nodes the outputs depend on, each after its inputs; the primals count as
    leaves."""
    stop = {id(p) for p in primals}
    roots = [y for y in outputs if y.requires_grad]
    return [v for v in topological(roots, primals) if v._code > 0 and id(v) not in stop]


def _tangents(
    outputs: list[Value], primals: list[Value], tangents: list[Any], on_values: bool
) -> list[Any]:
    """Each output's tangent: the inputs' tangents pushed forward through every node.

    A node with no tangent (it does not depend on the primals) is a structural zero: its
    rule is not evaluated, as a constant input is skipped by the backward pass.
    """
    tangent: dict[int, Any] = {id(x): t for x, t in zip(primals, tangents, strict=True)}
    for v in _forward_order(outputs, primals):
        t = None
        for which in REGISTRY.entry(v._code).form.nodes:
            node = v._a if which == "x" else v._b
            if id(node) in tangent:
                c = share(v, which, tangent[id(node)], on_values)
                t = c if t is None else t + c
        if t is not None:
            tangent[id(v)] = t
    result: list[Any] = []
    for y in outputs:
        t = tangent.get(id(y)) if y.requires_grad else None
        if on_values:
            result.append(t if isinstance(t, Value) else constant(0.0 if t is None else t))
        else:
            result.append(0.0 if t is None else t if exact.kind_of(t) else float(t))
    return result


@recording
def jvp(f: Fn, primals: Any, tangents: Any) -> tuple[Any, Any]:
    """Forward mode: `(f(*primals), J @ tangents)`, one directional derivative.

    The derivative is computed by one forward sweep over the graph `f` records, each
    node's tangent from its inputs' tangents by the same rules the backward pass uses.
    `f` returns a Value or a sequence of Values (the result then has the same shape).
    With numbers everywhere the tangents are floats; if any primal or tangent is a Value,
    they are Values connected to the graph (so `grad` of a `jvp` works, and tangents may
    themselves depend on Values). Each primal is its own input, even when the same Value
    is passed twice.

    Examples:
        >>> jvp(lambda x, y: x * y, [3.0, 4.0], [1.0, 0.0])
        (12.0, 4.0)
    """
    check_function(f, "jvp()")
    items, single = as_list(primals, "jvp()", "primals")
    direction, single_t = as_list(tangents, "jvp()", "tangents")
    if len(direction) != len(items) or single != single_t:
        raise ValueError(
            f"jvp(): tangents must match primals: {len(items)} entries, got {len(direction)}"
        )
    values, keep = inputs_of(items)
    keep = keep or any(isinstance(t, Value) for t in direction)
    result = f(*values)
    many = not isinstance(result, (Value, int, float))
    outs = [output_of(y, "jvp()") for y in (result if many else [result])]
    if not keep:  # numbers: floats, or (with exact primals) Fractions, mpmath numbers, ints
        exact_primals = any(exact.kind_of(x) for x in items)
        direction = [
            t if exact.kind_of(t) or (exact_primals and type(t) is int) else to_float(t, "jvp()")
            for t in direction
        ]
    ts = _tangents(outs, values, direction, on_values=keep)
    ys = [plain(y, keep) for y in outs]
    return (ys, ts) if many else (ys[0], ts[0])


@recording
def hvp(f: Fn, xs: Any, v: Any) -> Any:
    """The Hessian of `f(*xs)` times the vector `v`, without forming the Hessian.

    Forward mode over reverse mode: the `jvp` of the gradient function in the direction
    `v`, one backward pass and one forward sweep.

    Examples:
        >>> hvp(lambda x, y: x * x * y, [3.0, 2.0], [1.0, 0.0])
        [4.0, 6.0]
    """
    check_function(f, "hvp()")
    items, single = as_list(xs, "hvp()", "xs")
    direction, single_v = as_list(v, "hvp()", "v")
    if len(direction) != len(items) or single != single_v:
        raise ValueError(f"hvp(): v must match xs: {len(items)} entries, got {len(direction)}")

    def gradient(*args: Value) -> list[Value]:
        return grads(output_of(f(*args), "hvp()"), list(args), create_graph=True)

    _, tangents = jvp(gradient, items, direction)
    return tangents[0] if single else tangents
